/*
 * cache: the Lua that writes a group's cached view, shared by the worker
 * (after each applied batch) and the api (filling a miss, or marking a
 * membership change).
 *
 * splitter:view:<gid> is a hash {version, balances, settlements, currency,
 * members, volume, u:<uid> -> member id ...} written whole by one script, so a reader's
 * HMGET never mixes versions. A write wins only if its version is newer (or
 * equal to a tombstone's), so a slow writer can never put an older view back.
 * Besides the two read bodies, the view answers the write path's access check
 * (is the caller a member, the group's currency, its member ids) without
 * PostgreSQL.
 *
 * KEYS[1] the view key. ARGV[1] version, ARGV[2] the view's lifetime in
 * seconds (CACHE_VIEW_TTL_S). Then either nothing (a tombstone: the version
 * moved on and the view must be rebuilt from PostgreSQL), or ARGV[3]
 * balances body, ARGV[4] settlements body, ARGV[5] currency, ARGV[6] member
 * ids (comma-separated, display order), ARGV[7] the group's volume
 * (shared/ledger.h: the write path's range check), then pairs of user id and
 * member id for members with an account. Returns 1 if written, 0 if a
 * newer view was already there. Build the command with view_cache_command().
 */
#ifndef SPLITTER_CACHE_H
#define SPLITTER_CACHE_H

#include "keys.h"

/* A view unread this long leaves Redis (seconds; ARGV[2] of the script). */
#define CACHE_VIEW_TTL_S 604800
#define CACHE_VIEW_TTL_TEXT KEYS_STR(CACHE_VIEW_TTL_S)

#define CACHE_VIEW_LUA                                                                             \
    "local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')\n"                       \
    "local new = tonumber(ARGV[1])\n"                                                              \
    "if cur > new then return 0 end\n"                                                             \
    "if cur == new and (#ARGV == 2 or redis.call('HEXISTS', KEYS[1], 'balances') == 1) then\n"     \
    "  return 0\n"                                                                                 \
    "end\n"                                                                                        \
    "redis.call('DEL', KEYS[1])\n"                                                                 \
    "local args = {'version', ARGV[1]}\n"                                                          \
    "if #ARGV >= 7 then\n"                                                                         \
    "  table.insert(args, 'balances'); table.insert(args, ARGV[3])\n"                              \
    "  table.insert(args, 'settlements'); table.insert(args, ARGV[4])\n"                           \
    "  table.insert(args, 'currency'); table.insert(args, ARGV[5])\n"                              \
    "  table.insert(args, 'members'); table.insert(args, ARGV[6])\n"                               \
    "  table.insert(args, 'volume'); table.insert(args, ARGV[7])\n"                                \
    "  for i = 8, #ARGV - 1, 2 do\n"                                                               \
    "    table.insert(args, 'u:' .. ARGV[i]); table.insert(args, ARGV[i + 1])\n"                   \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "redis.call('HSET', KEYS[1], unpack(args))\n"                                                  \
    "redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))\n"                                           \
    "return 1\n"

#endif

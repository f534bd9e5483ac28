/*
 * cache: the Lua that writes a group's cached view, shared by the worker
 * (after each applied batch) and the api (filling a miss, or marking a
 * membership change).
 *
 * splitter:view:<gid> is a hash {version, balances, settlements, u:<uid>...}
 * written whole by one script, so a reader's HMGET never mixes versions. A
 * write wins only if its version is newer (or equal to a tombstone's), so a
 * slow writer can never put an older view back.
 *
 * KEYS[1] the view key. ARGV[1] version. Then either nothing (a tombstone:
 * the version moved on and the bodies must be rebuilt from PostgreSQL), or
 * ARGV[2] balances body, ARGV[3] settlements body, ARGV[4..] user ids of
 * members. Returns 1 if written, 0 if a newer view was already there.
 */
#ifndef SPLITTER_CACHE_H
#define SPLITTER_CACHE_H

#define CACHE_VIEW_TTL_S 604800

#define CACHE_VIEW_LUA                                                                        \
    "local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')\n"                 \
    "local new = tonumber(ARGV[1])\n"                                                         \
    "if cur > new then return 0 end\n"                                                        \
    "if cur == new and (#ARGV == 1 or redis.call('HEXISTS', KEYS[1], 'balances') == 1) then\n" \
    "  return 0\n"                                                                            \
    "end\n"                                                                                   \
    "redis.call('DEL', KEYS[1])\n"                                                            \
    "local args = {'version', ARGV[1]}\n"                                                     \
    "if #ARGV >= 3 then\n"                                                                    \
    "  table.insert(args, 'balances'); table.insert(args, ARGV[2])\n"                         \
    "  table.insert(args, 'settlements'); table.insert(args, ARGV[3])\n"                      \
    "  for i = 4, #ARGV do table.insert(args, 'u:' .. ARGV[i]); table.insert(args, '1') end\n" \
    "end\n"                                                                                   \
    "redis.call('HSET', KEYS[1], unpack(args))\n"                                             \
    "redis.call('EXPIRE', KEYS[1], 604800)\n"                                                 \
    "return 1\n"

#endif

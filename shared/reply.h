/*
 * reply: reading hiredis replies, for the api (async) and splitterctl
 * (blocking) alike.
 */
#ifndef SPLITTER_REPLY_H
#define SPLITTER_REPLY_H

#include <hiredis/hiredis.h>

/* Field k of a flat [k1, v1, k2, v2...] reply (HGETALL, XINFO), or NULL.
   Borrowed from r. */
const redisReply *reply_kv_get(const redisReply *r, const char *k);

/* An integer reply's value, or a string reply's as a decimal; def for
   anything else (NULL too). */
long long reply_int_of(const redisReply *r, long long def);

#endif

#include "reply.h"

#include <stdlib.h>
#include <string.h>

const redisReply *reply_kv_get(const redisReply *r, const char *k)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, k) == 0)
            return r->element[i + 1];
    return NULL;
}

long long reply_int_of(const redisReply *r, long long def)
{
    if (r && r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r && r->type == REDIS_REPLY_STRING)
        return atoll(r->str);
    return def;
}

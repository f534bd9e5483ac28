#include "worker.h"

#include "keys.h"
#include "log.h"
#include "script.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS[1] lease, KEYS[2] token counter; ARGV[1] worker, ARGV[2] ttl ms,
   ARGV[3] the floor: the highest token PostgreSQL saw from another holder.
   Returns the token the worker holds after the call, or 0 if another worker
   holds the lease. A new holder gets a fresh, larger token (the fence), above
   the floor whatever the counter remembers (Redis may have lost it); a lease
   of ours whose token is not above the floor is stale and replaced, never
   renewed. */
static const char acquire_lua[] =
    "local floor = tonumber(ARGV[3])\n"
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur then\n"
    "  local owner, tok = string.match(cur, '^(.*):(%d+)$')\n"
    "  if owner ~= ARGV[1] then\n"
    "    return 0\n"
    "  end\n"
    "  if tonumber(tok) > floor then\n"
    "    redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "    return tonumber(tok)\n"
    "  end\n"
    "end\n"
    "local tok = redis.call('INCR', KEYS[2])\n"
    "if tok <= floor then\n"
    "  tok = floor + 1\n"
    "  redis.call('SET', KEYS[2], tok)\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1] .. ':' .. tok, 'PX', ARGV[2])\n"
    "return tok\n";

/* KEYS[1] lease; ARGV[1] "<worker>:<token>". Deletes the lease if still ours. */
static const char release_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                  "  return redis.call('DEL', KEYS[1])\n"
                                  "end\n"
                                  "return 0\n";

static struct script acquire_script = SCRIPT_INIT(acquire_lua);
static struct script release_script = SCRIPT_INIT(release_lua);

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void lease_claim(struct worker *w, unsigned p)
{
    w->claim[p] = 1;
    w->part[p].cursor[0] = '\0';
    w->part[p].pass.n = 0;
}

void lease_drop(struct worker *w, unsigned p)
{
    if (w->token[p])
        log_info("lease: lost partition %u", p);
    w->token[p] = 0;
    w->claim[p] = 0;
    w->part[p].blocked.n = 0;
}

static void release_one(struct worker *w, unsigned p)
{
    char key[64], val[192], tok[32];
    redisReply *r;

    keys_lease(key, sizeof(key), p);
    snprintf(tok, sizeof(tok), "%lld", (long long)w->token[p]);
    snprintf(val, sizeof(val), "%s:%s", w->name, tok);
    const char *argv[3] = {"1", key, val};
    r = worker_script(w, &release_script, 3, argv);
    if (r)
        freeReplyObject(r);
    log_info("lease: released partition %u", p);
    w->token[p] = 0;
    w->claim[p] = 0;
    w->part[p].blocked.n = 0;
}

void lease_fenced(struct worker *w, unsigned p, int64_t floor)
{
    if (floor > w->part[p].floor)
        w->part[p].floor = floor;
    if (w->token[p])
        release_one(w, p);
    w->next_heartbeat_ms = 0;
}

void lease_rebalance(struct worker *w)
{
    int64_t now = worker_now_ms(), ttl = w->cfg.lease_ttl_ms;
    redisReply *r;
    char **live = NULL;
    size_t n_live = 0, me = 0;
    char ttl_s[32];

    /* Heartbeat with wall-clock ms so all workers agree on who is live. */
    r = worker_redis(w, "TIME");
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        if (r)
            freeReplyObject(r);
        return;
    }
    long long wall = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    freeReplyObject(r);
    r = worker_redis(w, "ZADD " KEYS_WORKERS " %lld %s", wall, w->name);
    if (r)
        freeReplyObject(r);
    r = worker_redis(w, "ZREMRANGEBYSCORE " KEYS_WORKERS " -inf %lld", wall - ttl);
    if (r)
        freeReplyObject(r);
    r = worker_redis(w, "ZRANGE " KEYS_WORKERS " 0 -1");
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return;
    }
    /* Before any lease is taken: the floors, and a Redis that lost state. */
    recover_check(w);
    live = xcalloc(r->elements + 2, sizeof(*live));
    for (size_t i = 0; i < r->elements; i++) {
        live[n_live++] = xstrdup(r->element[i]->str);
        me |= strcmp(live[n_live - 1], w->name) == 0;
    }
    freeReplyObject(r);
    /* We are alive even when our heartbeat was refused (Redis out of memory
       refuses ZADD): keep our partitions, whose leases renew without new
       memory, and go on applying, which frees memory (acks, trims). */
    if (!me)
        live[n_live++] = xstrdup(w->name);
    qsort(live, n_live, sizeof(*live), cmp_str);
    for (me = 0; me < n_live && strcmp(live[me], w->name) != 0; me++)
        ;

    snprintf(ttl_s, sizeof(ttl_s), "%lld", (long long)ttl);
    for (unsigned p = 0; p < w->cfg.partitions; p++) {
        /* Partition p belongs to live worker p mod n (sorted by name). */
        int mine = n_live > 0 && me < n_live && p % n_live == me;
        char key[64], tkey[64], floor[24];
        if (!mine) {
            if (w->token[p])
                release_one(w, p);
            continue;
        }
        keys_lease(key, sizeof(key), p);
        keys_lease_token(tkey, sizeof(tkey), p);
        snprintf(floor, sizeof(floor), "%lld",
                 (long long)(w->part[p].floor > 0 ? w->part[p].floor : 0));
        const char *argv[6] = {"2", key, tkey, w->name, ttl_s, floor};
        r = worker_script(w, &acquire_script, 6, argv);
        if (!r)
            break;
        if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
            if (w->token[p] != r->integer) {
                if (w->token[p])
                    log_warn("lease: partition %u token changed", p);
                log_info("lease: acquired partition %u (token %lld)", p, r->integer);
                w->token[p] = r->integer;
                w->part[p].blocked.n = 0;
                lease_claim(w, p);
            }
        } else {
            if (w->token[p])
                lease_drop(w, p);
        }
        freeReplyObject(r);
    }
    for (size_t i = 0; i < n_live; i++)
        free(live[i]);
    free(live);
    /* Renew well inside the ttl, and notice joining workers within a second. */
    w->next_heartbeat_ms = now + (ttl / 3 < 1000 ? ttl / 3 : 1000);
}

void lease_release_all(struct worker *w)
{
    redisReply *r;
    for (unsigned p = 0; p < w->cfg.partitions; p++)
        if (w->token[p])
            release_one(w, p);
    r = worker_redis(w, "ZREM " KEYS_WORKERS " %s", w->name);
    if (r)
        freeReplyObject(r);
}

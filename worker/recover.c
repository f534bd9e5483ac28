/*
 * recover: notice that Redis lost state, and repair what the workers own.
 *
 * PostgreSQL is the ledger; Redis is the queue and a cache. Redis loses state
 * on a FLUSHALL, a restart without its AOF, a failover to a replica that
 * lagged, a restore from an older snapshot. The signs, checked at every
 * rebalance (about once a second) and whenever a command answers NOGROUP:
 *
 *   - a partition's token counter below the token PostgreSQL recorded for it
 *     (tokens are drawn from the counter, so it can only be behind when Redis
 *     went back or forgot it);
 *   - a stream or consumer group gone (NOGROUP);
 *   - a stream whose last generated id is below the newest entry PostgreSQL
 *     recorded as applied in that partition (checked every few seconds).
 *
 * KEYS_SENTINEL tells the two kinds apart: gone, Redis forgot everything
 * (a flush, a restart without persistence); present, Redis went back to an
 * older state it had (a snapshot, a lagging replica).
 *
 * The repair: streams and consumer groups are created where missing, reading
 * from the start (XGROUP CREATE ... 0 MKSTREAM: nothing written after the loss
 * is skipped; entries applied before it are recognised by their event id); a
 * stream behind PostgreSQL is moved past what was applied (XSETID), so new
 * entry ids stay above it; the token counters are raised to PostgreSQL's
 * tokens (leases are then taken with tokens above every one PostgreSQL saw,
 * see lease.c); every cached group view is deleted (the api reads PostgreSQL
 * on a miss and the next batch writes it again); KEYS_IDEM_HORIZON says from
 * when on Redis's idempotency records are complete. The worker registry
 * rebuilds itself from the heartbeats. A warning in the log and
 * splitter_worker_redis_state_loss_total in /metrics say it happened.
 */
#include "worker.h"

#include "keys.h"
#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAM_CHECK_MS 5000

/* What PostgreSQL recorded for each partition. */
struct recorded {
    int64_t token[WORKER_MAX_PARTITIONS];
    unsigned long long last_ms[WORKER_MAX_PARTITIONS], last_seq[WORKER_MAX_PARTITIONS];
    int any;
};

static int64_t stream_check_ms;

int recover_groups(struct worker *w)
{
    char stream[64];
    for (unsigned p = 0; p < w->cfg.partitions; p++) {
        keys_stream(stream, sizeof(stream), p);
        redisReply *r =
            worker_redis(w, "XGROUP CREATE %s " KEYS_CONSUMER_GROUP " 0 MKSTREAM", stream);
        if (!r)
            return -1;
        int ok = r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0;
        if (!ok)
            log_error("redis: XGROUP CREATE %s: %s", stream, r->str);
        freeReplyObject(r);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Tokens and newest entries from PostgreSQL; each partition's floor (the
   highest token another holder fenced with) on the way. 0, or -1. */
static int read_recorded(struct worker *w, struct recorded *rec)
{
    const char *params[1] = {w->name};
    memset(rec, 0, sizeof(*rec));
    if (!w->pg || PQstatus(w->pg) != CONNECTION_OK)
        return -1;
    PGresult *res = PQexecParams(w->pg,
                                 "SELECT p, token, holder IS NOT DISTINCT FROM $1,"
                                 " coalesce(last_ms, 0), coalesce(last_seq, 0) FROM partitions",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    for (unsigned p = 0; p < w->cfg.partitions; p++)
        w->part[p].floor = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        long p = atol(PQgetvalue(res, r, 0));
        if (p < 0 || p >= (long)w->cfg.partitions)
            continue;
        rec->token[p] = atoll(PQgetvalue(res, r, 1));
        rec->last_ms[p] = strtoull(PQgetvalue(res, r, 3), NULL, 10);
        rec->last_seq[p] = strtoull(PQgetvalue(res, r, 4), NULL, 10);
        rec->any |= rec->token[p] > 0;
        /* Our own token is not a floor for us: we may keep it. */
        w->part[p].floor = rec->token[p] - (strcmp(PQgetvalue(res, r, 2), "t") == 0);
    }
    PQclear(res);
    return 0;
}

/* Partitions whose token counter is below PostgreSQL's token: set in behind.
   Returns how many, or -1 when Redis did not answer. */
static int counters_behind(struct worker *w, const struct recorded *rec, int *behind)
{
    const char **argv = xcalloc((size_t)w->cfg.partitions + 1, sizeof(*argv));
    char(*keys)[64] = xcalloc(w->cfg.partitions, sizeof(*keys));
    int n = 0;
    argv[0] = "MGET";
    for (unsigned p = 0; p < w->cfg.partitions; p++) {
        keys_lease_token(keys[p], sizeof(keys[p]), p);
        argv[p + 1] = keys[p];
    }
    redisReply *r = worker_redis_argv(w, (int)w->cfg.partitions + 1, argv, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != w->cfg.partitions) {
        n = -1;
    } else {
        for (unsigned p = 0; p < w->cfg.partitions; p++) {
            const redisReply *e = r->element[p];
            long long have = e->type == REDIS_REPLY_STRING ? atoll(e->str) : 0;
            behind[p] = have < rec->token[p];
            n += behind[p];
        }
    }
    if (r)
        freeReplyObject(r);
    free(keys);
    free(argv);
    return n;
}

/* Partitions whose stream is gone or its last generated id below the newest
   entry PostgreSQL applied: set in behind. Returns how many, or -1. */
static int streams_behind(struct worker *w, const struct recorded *rec, int *behind)
{
    char stream[64];
    int n = 0;
    for (unsigned p = 0; p < w->cfg.partitions; p++) {
        if (rec->last_ms[p] == 0 && rec->last_seq[p] == 0)
            continue;
        keys_stream(stream, sizeof(stream), p);
        redisReply *r = worker_redis(w, "XINFO STREAM %s", stream);
        if (!r)
            return -1;
        unsigned long long ms = 0, seq = 0;
        if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k + 1 < r->elements; k += 2)
                if (r->element[k]->type == REDIS_REPLY_STRING &&
                    strcmp(r->element[k]->str, "last-generated-id") == 0 &&
                    r->element[k + 1]->type == REDIS_REPLY_STRING)
                    sscanf(r->element[k + 1]->str, "%llu-%llu", &ms, &seq);
        }
        /* An error: no such stream. */
        if (ms < rec->last_ms[p] || (ms == rec->last_ms[p] && seq < rec->last_seq[p])) {
            behind[p] = 1;
            n++;
        }
        freeReplyObject(r);
    }
    return n;
}

static void command(struct worker *w, const char *fmt, const char *a, const char *b)
{
    redisReply *r = worker_redis(w, fmt, a, b);
    if (r)
        freeReplyObject(r);
}

/* Delete every cached group view (UNLINK: freed in the background). */
static void drop_views(struct worker *w)
{
    char cursor[32] = "0";
    do {
        redisReply *r = worker_redis(w, "SCAN %s MATCH " KEYS_VIEW_PATTERN " COUNT 1000", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            if (r)
                freeReplyObject(r);
            return;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        if (keys->elements > 0) {
            const char **argv = xcalloc(keys->elements + 1, sizeof(*argv));
            argv[0] = "UNLINK";
            for (size_t i = 0; i < keys->elements; i++)
                argv[i + 1] = keys->element[i]->str;
            redisReply *d = worker_redis_argv(w, (int)keys->elements + 1, argv, NULL);
            if (d)
                freeReplyObject(d);
            free(argv);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
}

static void repair(struct worker *w, const struct recorded *rec, const char *sign, int forgot)
{
    struct timespec ts;
    char now[32], id[48], tok[24], key[64], stream[64];

    w->state_loss++;
    log_warn("redis: state loss detected (%s; Redis %s): recreating streams and consumer groups,"
             " raising fencing tokens, dropping cached views",
             sign,
             forgot ? "forgot everything" : "lost part of its state or went back to an older one");
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(now, sizeof(now), "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    /* Idempotency records older than now may be missing from Redis. After a
       flush the key is gone too (NX: whoever sets it first is right); after
       going back, the old value would claim records Redis no longer has. */
    command(w, forgot ? "SET %s %s NX" : "SET %s %s", KEYS_IDEM_HORIZON, now);
    recover_groups(w);
    for (unsigned p = 0; p < w->cfg.partitions; p++) {
        if (rec->last_ms[p] || rec->last_seq[p]) {
            /* Fails, harmlessly, once the stream is past it already. */
            keys_stream(stream, sizeof(stream), p);
            snprintf(id, sizeof(id), "%llu-%llu", rec->last_ms[p], rec->last_seq[p]);
            command(w, "XSETID %s %s", stream, id);
        }
        if (rec->token[p] > 0) {
            keys_lease_token(key, sizeof(key), p);
            snprintf(tok, sizeof(tok), "%lld", (long long)rec->token[p]);
            /* Raised, never lowered: another worker may have drawn already. */
            redisReply *r = worker_redis(w, "EVAL %s 1 %s %s",
                                         "if tonumber(redis.call('GET', KEYS[1]) or '0') <"
                                         " tonumber(ARGV[1]) then redis.call('SET', KEYS[1],"
                                         " ARGV[1]) end return 0",
                                         key, tok);
            if (r)
                freeReplyObject(r);
        }
    }
    drop_views(w);
    command(w, "SET %s %s", KEYS_SENTINEL, w->name);
    w->next_heartbeat_ms = 0;
}

static void check(struct worker *w, int nogroup)
{
    struct recorded rec;
    int *behind = NULL;
    int n = 0, sentinel = 0;

    if (read_recorded(w, &rec) != 0)
        return;
    behind = xcalloc(w->cfg.partitions, sizeof(*behind));
    n = counters_behind(w, &rec, behind);
    if (n < 0)
        goto out;
    if (n == 0 && !nogroup && rec.any && worker_now_ms() >= stream_check_ms) {
        stream_check_ms = worker_now_ms() + STREAM_CHECK_MS;
        n = streams_behind(w, &rec, behind);
        if (n < 0)
            goto out;
    }
    redisReply *r = worker_redis(w, "EXISTS %s", KEYS_SENTINEL);
    if (!r)
        goto out;
    sentinel = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (n > 0 || nogroup) {
        char sign[96];
        if (nogroup)
            snprintf(sign, sizeof(sign), "a consumer group is missing");
        else
            snprintf(sign, sizeof(sign), "%d partitions behind PostgreSQL", n);
        repair(w, &rec, sign, !sentinel);
    } else if (!sentinel) {
        /* A new Redis with nothing to lose yet, or one from before the marker. */
        command(w, "SET %s %s NX", KEYS_SENTINEL, w->name);
    }
out:
    free(behind);
}

void recover_check(struct worker *w)
{
    check(w, 0);
}

void recover_nogroup(struct worker *w)
{
    check(w, 1);
}

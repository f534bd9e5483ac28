/*
 * The worker's main loop: lease partitions, finish what a previous owner
 * left pending, read new entries, apply them in batches.
 */
#include "worker.h"

#include "config.h"
#include "keys.h"
#include "log.h"
#include "pgutil.h"
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

int64_t worker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int load_config(struct worker_config *c)
{
    int64_t v;
    int rc = 0;

    rc |= config_secret_files(config_secrets);
    rc |= config_int("SPLITTER_PARTITIONS", 16, 1, WORKER_MAX_PARTITIONS, &v);
    c->partitions = (unsigned)v;
    rc |= config_int("WORKER_BATCH", 500, 1, 10000, &v);
    c->batch = (unsigned)v;
    rc |= config_int("LEASE_TTL_MS", 10000, 1000, 600000, &c->lease_ttl_ms);
    rc |= config_int("WORKER_MAX_DELIVERIES", 10, 2, 1000, &c->max_deliveries);
    rc |= config_port("REDIS_PORT", 6380, &c->redis_port);
    c->redis_host = config_str("REDIS_HOST", "127.0.0.1");
    c->redis_password = config_str("REDIS_PASSWORD", "");
    c->migrations_dir = config_str("SPLITTER_MIGRATIONS_DIR", "postgres/migrations");
    return rc ? -1 : 0;
}

/* Create each partition's consumer group (idempotent). */
static int ensure_groups(struct worker *w)
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

/* Copy a reply's entries ([id, [field, value...]]...) into out. */
static size_t collect(const redisReply *arr, struct stream_entry *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < arr->elements && n < max; i++) {
        const redisReply *e = arr->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const redisReply *kv = e->element[1];
        snprintf(out[n].id, sizeof(out[n].id), "%s", e->element[0]->str);
        out[n].event = "";
        out[n].event_len = 0;
        out[n].wait = 0;
        if (kv->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k + 1 < kv->elements; k += 2) {
                if (strcmp(kv->element[k]->str, "event") == 0) {
                    out[n].event = kv->element[k + 1]->str;
                    out[n].event_len = kv->element[k + 1]->len;
                } else if (strcmp(kv->element[k]->str, "wait") == 0) {
                    out[n].wait = strcmp(kv->element[k + 1]->str, "1") == 0;
                }
            }
        }
        n++;
    }
    return n;
}

/* Entries at the head of buf delivered more than max_deliveries times (they
   crashed or stalled every worker that took them) go to the dead-letter
   stream. Returns how many entries remain, moved to the front of buf. */
static size_t drop_poison(struct worker *w, unsigned p, struct stream_entry *buf, size_t n)
{
    char stream[64], count[24];
    size_t kept = 0;
    keys_stream(stream, sizeof(stream), p);
    snprintf(count, sizeof(count), "%zu", n);
    redisReply *r = worker_redis(w, "XPENDING %s " KEYS_CONSUMER_GROUP " %s %s %s", stream,
                                 buf[0].id, buf[n - 1].id, count);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        long long deliveries = 0;
        for (size_t k = 0; k < r->elements; k++) {
            const redisReply *e = r->element[k];
            if (e->type == REDIS_REPLY_ARRAY && e->elements == 4 &&
                strcmp(e->element[0]->str, buf[i].id) == 0)
                deliveries = e->element[3]->integer;
        }
        if (deliveries > w->cfg.max_deliveries) {
            char why[96];
            snprintf(why, sizeof(why), "delivered %lld times without being applied", deliveries);
            if (apply_dead_letter(w, p, &buf[i], why) == 0)
                continue;
        }
        buf[kept++] = buf[i];
    }
    freeReplyObject(r);
    return kept;
}

/* apply_batch, timed for /metrics. */
static int apply_observed(struct worker *w, unsigned p, const struct stream_entry *buf, size_t n)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = apply_batch(w, p, buf, n);
    clock_gettime(CLOCK_MONOTONIC, &b);
    metrics_batch(n, (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000, rc);
    return rc;
}

/* Apply what the previous owner of p left pending, oldest first. Returns 1
   while more may remain, 0 when done, -1 on failure. */
static int claim_pending(struct worker *w, unsigned p, struct stream_entry *buf)
{
    char stream[64], count[16];
    keys_stream(stream, sizeof(stream), p);
    snprintf(count, sizeof(count), "%u", w->cfg.batch);
    redisReply *r = worker_redis(w, "XAUTOCLAIM %s " KEYS_CONSUMER_GROUP " %s 0 0-0 COUNT %s",
                                 stream, w->name, count);
    int rc = -1;
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY) {
        size_t n = collect(r->element[1], buf, w->cfg.batch);
        if (n == 0) {
            rc = 0;
        } else {
            log_info("claim: %zu pending entries in partition %u", n, p);
            n = drop_poison(w, p, buf, n);
            rc = n == 0 || apply_observed(w, p, buf, n) == 0 ? 1 : -1;
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_error("redis: XAUTOCLAIM: %s", r->str);
    }
    freeReplyObject(r);
    return rc;
}

/* One XREADGROUP over every owned partition; apply per partition. */
static void read_new(struct worker *w, struct stream_entry *buf)
{
    const char **argv = xcalloc(9 + 2 * (size_t)w->cfg.partitions, sizeof(*argv));
    char(*names)[32] = xcalloc(w->cfg.partitions, sizeof(*names));
    char count[16];
    int argc = 0, owned = 0;
    redisReply *r;

    snprintf(count, sizeof(count), "%u", w->cfg.batch);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = KEYS_CONSUMER_GROUP;
    argv[argc++] = w->name;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    argv[argc++] = "BLOCK";
    argv[argc++] = "500";
    argv[argc++] = "STREAMS";
    for (unsigned p = 0; p < w->cfg.partitions; p++) {
        if (w->token[p] && !w->claim[p]) {
            keys_stream(names[owned], sizeof(names[0]), p);
            argv[argc++] = names[owned++];
        }
    }
    for (int i = 0; i < owned; i++)
        argv[argc++] = ">";
    if (owned == 0) {
        sleep_ms(200);
        goto out;
    }
    r = worker_redis_argv(w, argc, argv, NULL);
    if (!r)
        goto out;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t s = 0; s < r->elements; s++) {
            const redisReply *sr = r->element[s];
            unsigned p;
            if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
                sscanf(sr->element[0]->str, KEYS_PREFIX "stream:%u", &p) != 1 ||
                p >= w->cfg.partitions)
                continue;
            size_t n = collect(sr->element[1], buf, w->cfg.batch);
            if (n && w->token[p] && apply_observed(w, p, buf, n) != 0) {
                /* Left pending: claim them again, in order, before new ones. */
                w->claim[p] = 1;
            }
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_error("redis: XREADGROUP: %s", r->str);
        if (strncmp(r->str, "NOGROUP", 7) == 0)
            ensure_groups(w);
        sleep_ms(200);
    }
    freeReplyObject(r);
out:
    free(names);
    free(argv);
}

static int ensure_pg(struct worker *w, int64_t *next_try_ms, int64_t *backoff_ms)
{
    if (w->pg && PQstatus(w->pg) == CONNECTION_OK)
        return 0;
    if (worker_now_ms() < *next_try_ms)
        return -1;
    if (w->pg) {
        PQfinish(w->pg);
        w->pg = NULL;
    }
    w->pg = pg_connect("splitter-worker");
    if (!w->pg) {
        *next_try_ms = worker_now_ms() + *backoff_ms;
        *backoff_ms = *backoff_ms * 2 > 5000 ? 5000 : *backoff_ms * 2;
        return -1;
    }
    *backoff_ms = 100;
    return 0;
}

int main(void)
{
    struct worker w;
    struct sigaction sa;
    struct stream_entry *buf;
    char host[64] = "worker";
    uuid_t u;
    char us[37];
    int64_t pg_next = 0, pg_backoff = 100;

    memset(&w, 0, sizeof(w));
    if (log_init("worker", config_str("LOG_LEVEL", "info")) != 0) {
        log_error("config: 'LOG_LEVEL' must be debug, info, warn or error");
        return 1;
    }
    if (load_config(&w.cfg) != 0)
        return 1;
    gethostname(host, sizeof(host) - 1);
    uuid_generate_random(u);
    uuid_unparse_lower(u, us);
    /* Unique per process, so replicas never share a consumer. */
    snprintf(w.name, sizeof(w.name), "%s-%d-%.8s", host, (int)getpid(), us);

    if (metrics_start(&w) != 0)
        return 1;
    arena_install();

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Start-up: wait for both dependencies, then migrate and create groups. */
    while (!stopping && (ensure_pg(&w, &pg_next, &pg_backoff) != 0))
        sleep_ms(200);
    if (stopping)
        return 0;
    if (pg_migrate(w.pg, w.cfg.migrations_dir) != 0)
        return 1;
    while (!stopping && ensure_groups(&w) != 0)
        sleep_ms(500);
    log_info("worker '%s' started: %u partitions, batch %u", w.name, w.cfg.partitions, w.cfg.batch);

    buf = xcalloc(w.cfg.batch, sizeof(*buf));
    while (!stopping) {
        if (worker_now_ms() >= w.next_heartbeat_ms)
            lease_rebalance(&w);
        metrics_sync(&w);
        if (!w.rd) {
            sleep_ms(200);
            w.next_heartbeat_ms = 0;
            continue;
        }
        if (ensure_pg(&w, &pg_next, &pg_backoff) != 0) {
            sleep_ms(100);
            continue;
        }
        int claimed = 0;
        for (unsigned p = 0; p < w.cfg.partitions && !stopping; p++) {
            if (!w.token[p] || !w.claim[p])
                continue;
            int c = claim_pending(&w, p, buf);
            if (c == 0)
                w.claim[p] = 0;
            claimed |= c != 0;
            if (c < 0)
                sleep_ms(100);
        }
        if (claimed)
            continue;
        read_new(&w, buf);
    }
    log_info("worker '%s' stopping: applied %llu, rejected %llu, duplicates %llu", w.name,
             (unsigned long long)w.applied, (unsigned long long)w.rejected,
             (unsigned long long)w.duplicates);
    lease_release_all(&w);
    metrics_stop();
    arena_release();
    free(buf);
    if (w.rd)
        redisFree(w.rd);
    if (w.pg)
        PQfinish(w.pg);
    return 0;
}

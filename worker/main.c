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

int gset_has(const struct gset *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0)
            return 1;
    return 0;
}

void gset_add(struct gset *s, const char *id)
{
    if (gset_has(s, id))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->ids = xreallocarray(s->ids, s->cap, sizeof(*s->ids));
    }
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
}

static int load_config(struct worker_config *c)
{
    int64_t v;
    int rc = 0;

    rc |= config_secret_files(config_secrets);
    rc |= config_partitions(&c->partitions);
    rc |= config_int("WORKER_BATCH", 500, 1, 10000, &v);
    c->batch = (unsigned)v;
    rc |= config_int("LEASE_TTL_MS", 10000, 1000, 600000, &c->lease_ttl_ms);
    rc |= config_int("WORKER_MAX_DELIVERIES", 10, 1, 1000, &c->max_deliveries);
    rc |= config_int("WORKER_LOCK_TIMEOUT_MS", 2000, 1, 600000, &c->lock_timeout_ms);
    rc |= config_int("WORKER_STATEMENT_TIMEOUT_MS", 30000, 100, 3600000, &c->statement_timeout_ms);
    rc |= config_port("REDIS_PORT", 6380, &c->redis_port);
    c->redis_host = config_str("REDIS_HOST", "127.0.0.1");
    c->redis_password = config_str("REDIS_PASSWORD", "");
    rc |= sentinel_config_load(&c->sentinel);
    c->migrations_dir = config_str("SPLITTER_MIGRATIONS_DIR", "postgres/migrations");
    rc |= config_int("WORKER_SCHEDULE_MS", 2000, 100, 3600000, &c->schedule_ms);
    rc |= config_int("WORKER_SCHEDULE_BATCH", 100, 1, 100000, &c->schedule_batch);
    return rc ? -1 : 0;
}

/* Copy a reply's entries ([id, [field, value...]]...) into out. */
static size_t collect(const redisReply *arr, struct stream_entry *out, size_t max, unsigned p,
                      struct gset *defer)
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
        out[n].p = p;
        out[n].defer = defer;
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

/* apply_batch, timed for /metrics. */
static int apply_observed(struct worker *w, const struct stream_entry *buf, size_t n)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = apply_batch(w, buf, n);
    clock_gettime(CLOCK_MONOTONIC, &b);
    metrics_batch(n, (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000, rc);
    return rc;
}

/* When p has entries of locked groups pending, claim them again soon. */
static void schedule_retry(struct worker *w, unsigned p)
{
    if (w->part[p].blocked.n > 0)
        w->part[p].retry_ms = worker_now_ms() + 200;
}

/* One step of a claim pass: apply what is pending in p (left by a previous
   owner, or by us: entries of locked groups, or of a failed batch), oldest
   first, from the pass's cursor. Groups locked during the pass keep their
   later entries pending too. Returns 1 while more may remain, 0 when the pass
   is done, -1 on failure (the same step is tried again). */
static int claim_pending(struct worker *w, unsigned p, struct stream_entry *buf)
{
    struct part *pt = &w->part[p];
    char stream[64], count[16];
    keys_stream(stream, sizeof(stream), p);
    snprintf(count, sizeof(count), "%u", w->cfg.batch);
    redisReply *r = worker_redis(w, "XAUTOCLAIM %s " KEYS_CONSUMER_GROUP " %s 0 %s COUNT %s",
                                 stream, w->name, pt->cursor[0] ? pt->cursor : "0-0", count);
    int rc = -1;
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_ARRAY) {
        size_t n = collect(r->element[1], buf, w->cfg.batch, p, &pt->pass);
        if (n > 0 && !pt->pass.n)
            log_info("claim: %zu pending entries in partition %u", n, p);
        if (n == 0 || apply_observed(w, buf, n) == 0) {
            snprintf(pt->cursor, sizeof(pt->cursor), "%s", r->element[0]->str);
            rc = strcmp(pt->cursor, "0-0") != 0 && n > 0;
            if (!rc) {
                /* The pass is over: what it left pending waits for the next. */
                struct gset t = pt->blocked;
                pt->blocked = pt->pass;
                pt->pass = t;
                pt->pass.n = 0;
                schedule_retry(w, p);
            }
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_error("redis: XAUTOCLAIM: %s", r->str);
        if (strncmp(r->str, "NOGROUP", 7) == 0)
            recover_nogroup(w);
    }
    freeReplyObject(r);
    return rc;
}

/* Apply the n entries in buf (of the partitions in parts, each blocked.n
   before in blocked) as one batch, and follow up per partition. */
static void apply_read(struct worker *w, const struct stream_entry *buf, size_t n,
                       const unsigned *parts, const size_t *blocked, size_t n_parts)
{
    if (n == 0)
        return;
    int rc = apply_observed(w, buf, n);
    for (size_t k = 0; k < n_parts; k++) {
        unsigned p = parts[k];
        if (rc != 0) {
            /* Left pending: claim them again, in order, before new ones. */
            if (w->token[p])
                lease_claim(w, p);
        } else if (blocked[k] == 0) {
            schedule_retry(w, p);
        }
    }
}

/* One XREADGROUP over every owned partition. What it returns is applied in
   as few transactions as hold it with at most WORKER_BATCH entries each (a
   partition's entries are never split): at a low rate, one transaction for
   whatever every partition had, instead of one per partition. */
static void read_new(struct worker *w, struct stream_entry *buf)
{
    const char **argv = xcalloc(9 + 2 * (size_t)w->cfg.partitions, sizeof(*argv));
    char(*names)[32] = xcalloc(w->cfg.partitions, sizeof(*names));
    unsigned *parts = xcalloc(w->cfg.partitions, sizeof(*parts));
    size_t *blocked = xcalloc(w->cfg.partitions, sizeof(*blocked));
    char count[16];
    int argc = 0, owned = 0;
    size_t used = 0, n_parts = 0;
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
                sr->element[1]->type != REDIS_REPLY_ARRAY ||
                keys_stream_partition(sr->element[0]->str, &p) != 0 || p >= w->cfg.partitions ||
                !w->token[p])
                continue;
            size_t want = sr->element[1]->elements;
            if (used > 0 && used + want > w->cfg.batch) {
                apply_read(w, buf, used, parts, blocked, n_parts);
                used = n_parts = 0;
            }
            /* A lease lost while applying the entries before: these stay pending. */
            if (!w->token[p])
                continue;
            size_t n =
                collect(sr->element[1], buf + used, w->cfg.batch - used, p, &w->part[p].blocked);
            if (n == 0)
                continue;
            parts[n_parts] = p;
            blocked[n_parts++] = w->part[p].blocked.n;
            used += n;
        }
        apply_read(w, buf, used, parts, blocked, n_parts);
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_error("redis: XREADGROUP: %s", r->str);
        if (strncmp(r->str, "NOGROUP", 7) == 0)
            recover_nogroup(w);
        sleep_ms(200);
    }
    freeReplyObject(r);
out:
    free(names);
    free(parts);
    free(blocked);
    free(argv);
}

static int ensure_pg(struct worker *w, int64_t *next_try_ms, int64_t *backoff_ms)
{
    /* With POSTGRES_HOSTS, a server that stopped taking writes is left too. */
    if (w->pg && PQstatus(w->pg) == CONNECTION_OK && !w->pg_reconnect &&
        !(config_str("POSTGRES_HOSTS", NULL) && pg_read_only(w->pg)))
        return 0;
    if (worker_now_ms() < *next_try_ms)
        return -1;
    if (w->pg) {
        PQfinish(w->pg);
        w->pg = NULL;
    }
    w->pg_reconnect = 0;
    memset(w->prepared, 0, sizeof(w->prepared)); /* a new session prepared nothing */
    w->pg = pg_connect("splitter-worker");
    if (w->pg) {
        /* No statement of the worker waits on a lock, or runs, without bound. A
           transaction left idle for a lease's length belongs to a worker that
           stalled (stopped, swapped out): its lease is gone, and PostgreSQL ends
           it so that the group rows it locked do not hold up the new owner. */
        char sql[192];
        snprintf(sql, sizeof(sql),
                 "SET lock_timeout = %lld; SET statement_timeout = %lld;"
                 " SET idle_in_transaction_session_timeout = %lld",
                 (long long)w->cfg.lock_timeout_ms, (long long)w->cfg.statement_timeout_ms,
                 (long long)w->cfg.lease_ttl_ms);
        PGresult *res = PQexec(w->pg, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            log_warn("postgres: %s", PQerrorMessage(w->pg));
            PQfinish(w->pg);
            w->pg = NULL;
        }
        PQclear(res);
    }
    if (!w->pg) {
        /* Capped at a second: writes apply again soon after PostgreSQL is back. */
        *next_try_ms = worker_now_ms() + *backoff_ms;
        *backoff_ms = *backoff_ms * 2 > 1000 ? 1000 : *backoff_ms * 2;
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
    char us[UUID_STR_SIZE];
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
    for (unsigned p = 0; p < w.cfg.partitions; p++)
        w.part[p].floor = -1;
    while (!stopping && recover_groups(&w) != 0)
        sleep_ms(500);
    /* After the migrations: the threads read the webhook tables. */
    if (webhooks_start() != 0)
        return 1;
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
        int claimed = 0, failed = 0;
        int64_t now = worker_now_ms();
        if (now >= w.next_schedule_ms) {
            schedule_tick(&w);
            w.next_schedule_ms = worker_now_ms() + w.cfg.schedule_ms;
        }
        for (unsigned p = 0; p < w.cfg.partitions && !stopping; p++) {
            struct part *pt = &w.part[p];
            if (w.token[p] && !w.claim[p] && pt->blocked.n > 0 && now >= pt->retry_ms)
                lease_claim(&w, p);
            if (!w.token[p] || !w.claim[p] || now < pt->retry_ms)
                continue;
            int c = claim_pending(&w, p, buf);
            if (c == 0)
                w.claim[p] = 0;
            claimed |= c > 0;
            if (c < 0) {
                /* This partition waits a moment; the others go on. */
                pt->retry_ms = worker_now_ms() + 100;
                failed = 1;
            }
        }
        if (claimed)
            continue;
        if (failed && (!w.pg || !w.rd)) {
            sleep_ms(100);
            continue;
        }
        read_new(&w, buf);
    }
    log_info("worker '%s' stopping: applied %llu, rejected %llu, duplicates %llu", w.name,
             (unsigned long long)w.applied, (unsigned long long)w.rejected,
             (unsigned long long)w.duplicates);
    lease_release_all(&w);
    webhooks_stop();
    metrics_stop();
    arena_release();
    free(buf);
    for (unsigned p = 0; p < WORKER_MAX_PARTITIONS; p++) {
        free(w.part[p].blocked.ids);
        free(w.part[p].pass.ids);
    }
    if (w.rd)
        redisFree(w.rd);
    if (w.pg)
        PQfinish(w.pg);
    return 0;
}

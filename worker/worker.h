/*
 * worker: applies ledger events from Redis Streams to PostgreSQL.
 *
 * One process, one thread, blocking calls: the worker owns its connections
 * and nothing else waits on it. Partitions (one stream each) are leased so
 * that exactly one worker applies a partition at a time; each lease carries a
 * fencing token that PostgreSQL checks on every commit.
 */
#ifndef SPLITTER_WORKER_H
#define SPLITTER_WORKER_H

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define WORKER_MAX_PARTITIONS 256

struct worker_config {
    unsigned partitions; /* SPLITTER_PARTITIONS */
    unsigned batch;      /* WORKER_BATCH: entries per read and per transaction */
    int64_t lease_ttl_ms;
    int64_t max_deliveries; /* WORKER_MAX_DELIVERIES: then dead-lettered */
    const char *redis_host, *redis_password;
    int redis_port;
    const char *migrations_dir;
};

struct worker {
    struct worker_config cfg;
    char name[128];                       /* consumer name: unique per process */
    PGconn *pg;                           /* NULL while disconnected */
    redisContext *rd;                     /* NULL while disconnected */
    int64_t token[WORKER_MAX_PARTITIONS]; /* lease token held, 0 = not owned */
    int claim[WORKER_MAX_PARTITIONS];     /* 1: inherited pending entries to claim first */
    int64_t next_heartbeat_ms;
    uint64_t applied, rejected, duplicates, dead;
};

/* Monotonic milliseconds. */
int64_t worker_now_ms(void);

/* --- arena.c ---------------------------------------------------------------- */

/* Give jansson the batch region allocator (not under AddressSanitizer). */
void arena_install(void);
/* Recycle the region once no JSON value from it is alive (the end of a batch). */
void arena_reset(void);
/* Free the region's memory (at exit). */
void arena_release(void);

/* --- redis.c ---------------------------------------------------------------- */

/* (Re)connect if needed. 0, or -1 (logged; w->rd stays NULL). */
int worker_redis_ensure(struct worker *w);
/* Run a command (redisCommandArgv); on a connection error drop the context.
   Returns the reply (caller frees) or NULL. Error replies are returned. */
redisReply *worker_redis(struct worker *w, const char *fmt, ...);
redisReply *worker_redis_argv(struct worker *w, int argc, const char **argv, const size_t *lens);

/* --- lease.c ---------------------------------------------------------------- */

/* Heartbeat, then acquire the partitions this worker should own, renew the
   ones it holds and let go of those another live worker should own. */
void lease_rebalance(struct worker *w);
/* Give back every lease (at shutdown). */
void lease_release_all(struct worker *w);
/* Forget partition p after a failed fence check or lost renewal. */
void lease_drop(struct worker *w, unsigned p);

/* --- apply.c ---------------------------------------------------------------- */

struct stream_entry {
    char id[48];       /* stream entry id */
    const char *event; /* borrowed: the event JSON */
    size_t event_len;
    int wait; /* a request waits for the outcome (field "wait" is "1") */
};

/* Apply entries of partition p in one transaction fenced by the lease token,
   publish the results and ack them. An entry PostgreSQL refuses is isolated
   and dead-lettered alone. Returns 0; -1 when entries were left pending
   (PostgreSQL down or the lease fenced off) to be claimed again in order. */
int apply_batch(struct worker *w, unsigned p, const struct stream_entry *entries, size_t n);

/* Record entry as rejected (when it is an event), copy it to the dead-letter
   stream with why, announce it and acknowledge it. 0, or -1 (left pending). */
int apply_dead_letter(struct worker *w, unsigned p, const struct stream_entry *entry,
                      const char *why);

/* --- metrics.c: /metrics and /health on WORKER_METRICS_PORT (docs/OPERATIONS.md) ----- */

/* Start the metrics thread (reads WORKER_METRICS_HOST/PORT; port 0 disables).
   0, or -1 (logged) on bad settings or a port that cannot be bound. */
int metrics_start(const struct worker *w);
/* Main thread, once per loop turn: publish w's counters, leases, heartbeat. */
void metrics_sync(const struct worker *w);
/* Main thread, after each batch of n entries that took usec; rc apply_batch's. */
void metrics_batch(size_t n, int64_t usec, int rc);
/* Stop and join the thread (no-op when disabled). */
void metrics_stop(void);

#endif

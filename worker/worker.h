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

#include "config.h"
#include "uuid.h"
#include "webhook.h"
#include "sentinel.h"

#include <hiredis/hiredis.h>
#include <openssl/ssl.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define WORKER_MAX_PARTITIONS CONFIG_PARTITIONS_MAX

struct worker_config {
    unsigned partitions; /* SPLITTER_PARTITIONS */
    unsigned batch;      /* WORKER_BATCH: entries per read and per transaction */
    int64_t lease_ttl_ms;
    int64_t max_deliveries; /* WORKER_MAX_DELIVERIES: refusals alone, then dead-lettered */
    int64_t lock_timeout_ms, statement_timeout_ms; /* WORKER_LOCK_TIMEOUT_MS, ..._STATEMENT_... */
    const char *redis_host, *redis_password;
    int redis_port;
    struct sentinel_config sentinel; /* REDIS_SENTINELS: n = 0 when not used */
    const char *migrations_dir;
    int64_t schedule_ms;    /* WORKER_SCHEDULE_MS: between two ticks of the scheduler */
    int64_t schedule_batch; /* WORKER_SCHEDULE_BATCH: occurrences per rule and tick */
};

/* A set of group ids (a handful: the groups locked by someone else). */
struct gset {
    char (*ids)[UUID_STR_SIZE]; /* owned */
    size_t n, cap;
};

/* 1 when id is in s. */
int gset_has(const struct gset *s, const char *id);
/* Add id (no-op when present). */
void gset_add(struct gset *s, const char *id);

/* A partition's progress beyond its lease token. */
struct part {
    /* Claim pass in progress (claim = 1): where XAUTOCLAIM goes on, "" = from the start. */
    char cursor[48];
    /* Groups whose row was locked by someone else: their entries stay pending, and so do
       the later entries of those groups, until a claim pass applies them in order. */
    struct gset blocked, pass;
    int64_t retry_ms; /* monotonic ms of the next claim pass while blocked is not empty */
    /* The entry PostgreSQL last refused alone, for its own content, and how often. */
    char refused_id[48];
    int64_t refusals;
    /* Highest token PostgreSQL saw for the partition from another holder (-1: unknown).
       A lease is only taken or kept with a token above it. */
    int64_t floor;
};

/* Batch statements a connection keeps prepared (a batch uses about twenty). */
#define WORKER_PREPARED_MAX 64

struct worker {
    struct worker_config cfg;
    char name[128];   /* consumer name: unique per process */
    PGconn *pg;       /* NULL while disconnected */
    int pg_reconnect; /* 1: pg's server stopped being the primary */
    /* The batch statements prepared on pg (apply.c), by the address of their text (static):
       slot i is the statement named "splitter_<i>"; NULL slots are free. */
    const char *prepared[WORKER_PREPARED_MAX];
    redisContext *rd;              /* NULL while disconnected */
    char rd_host[CONFIG_HOST_MAX]; /* where rd is connected */
    int rd_port;
    int64_t rd_check_ms; /* with Sentinel: when to ask the sentinels again whether it moved */
    int64_t token[WORKER_MAX_PARTITIONS]; /* lease token held, 0 = not owned */
    int claim[WORKER_MAX_PARTITIONS];     /* 1: inherited pending entries to claim first */
    struct part part[WORKER_MAX_PARTITIONS];
    int64_t next_heartbeat_ms, next_check_ms, next_schedule_ms;
    uint64_t applied, rejected, duplicates, dead, state_loss;
    uint64_t scheduled; /* occurrences of recurring expenses queued */
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

/* (Re)connect if needed; with Sentinel, also every WORKER_SENTINEL_CHECK_MS
   ask the sentinels and reconnect if they name another primary (a demoted one
   may keep its clients for seconds). 0, or -1 (logged; w->rd stays NULL). */
int worker_redis_ensure(struct worker *w);
/* Run a command (redisCommandArgv); on a connection error, or an error reply
   saying the server is no longer the primary (sentinel_moved), drop the context.
   Returns the reply (caller frees) or NULL. Error replies are returned. */
redisReply *worker_redis(struct worker *w, const char *fmt, ...);
redisReply *worker_redis_argv(struct worker *w, int argc, const char **argv, const size_t *lens);
struct script;
/* Run script s by its digest (EVALSHA, then argc arguments: numkeys, keys,
   args) like worker_redis_argv; when Redis answers NOSCRIPT (it lost its
   scripts, and the call did not run), once more with its text (EVAL). */
redisReply *worker_script(struct worker *w, struct script *s, int argc, const char **argv);

/* --- lease.c ---------------------------------------------------------------- */

/* Heartbeat, then acquire the partitions this worker should own, renew the
   ones it holds and let go of those another live worker should own. */
void lease_rebalance(struct worker *w);
/* Give back every lease (at shutdown). */
void lease_release_all(struct worker *w);
/* Forget partition p after a lost renewal. */
void lease_drop(struct worker *w, unsigned p);
/* Partition p was fenced off: PostgreSQL holds floor, a newer token than ours. Delete our
   lease so that the next rebalance (at once) takes it again with a token above floor. */
void lease_fenced(struct worker *w, unsigned p, int64_t floor);
/* Start a claim pass over p's pending entries, in order, from the first. */
void lease_claim(struct worker *w, unsigned p);

/* --- recover.c: Redis state loss ------------------------------------------------------- */

/* Create each partition's stream and consumer group where missing (XGROUP CREATE ... 0
   MKSTREAM: nothing written after a loss is skipped). 0, or -1. */
int recover_groups(struct worker *w);
/* Look for signs that Redis lost state (once in a while; needs both connections) and
   repair what was lost. */
void recover_check(struct worker *w);
/* A reply said NOGROUP: Redis lost a stream or its consumer group. Repair. */
void recover_nogroup(struct worker *w);

/* --- schedule.c: recurring expenses --------------------------------------------------- */

/* Queue the occurrences of recurring expenses that are due (today in UTC,
   catching up on missed dates), sharing the rules with the other workers.
   Needs both connections; a failure is logged and the next tick tries again. */
void schedule_tick(struct worker *w);

/* --- apply.c ---------------------------------------------------------------- */

struct stream_entry {
    char id[48];       /* stream entry id */
    const char *event; /* borrowed: the event JSON */
    size_t event_len;
    int wait;           /* a request waits for the outcome (field "wait" is "1") */
    unsigned p;         /* the partition whose stream holds it */
    struct gset *defer; /* borrowed: the groups of p whose events stay pending */
};

/* Apply entries (those of one partition contiguous, in stream order; one or
   several partitions) in one transaction fenced by the lease tokens of their
   partitions, publish the results and ack them. Events of the groups in an
   entry's defer set, and of groups whose row someone else holds locked
   (added to that set), are left pending, in order. An entry PostgreSQL
   refuses for its own content is isolated, and dead-lettered once refused
   alone WORKER_MAX_DELIVERIES times. Returns 0; -1 when entries were left
   pending for another reason (PostgreSQL or Redis unavailable, a timeout, a
   lease fenced off) to be claimed again in order. */
int apply_batch(struct worker *w, const struct stream_entry *entries, size_t n);

/* 1 when SQLSTATE state (NULL: none, the connection failed) says the statement
   was refused for what it wrote (data or integrity), not for a passing
   condition of the server (connection, timeouts, locks, resources, shutdown). */
int apply_refused_for_content(const char *state);

/* Record entry as rejected (when it is an event), copy it to the dead-letter
   stream with why, announce it and acknowledge it. 0, or -1 (left pending). */
int apply_dead_letter(struct worker *w, const struct stream_entry *entry, const char *why);

/* --- webhooks.c: delivering the webhook outbox (docs/OPERATIONS.md) ------------------- */

/* Read the WEBHOOKS_* settings and start the delivery threads (none when
   WEBHOOKS_THREADS is 0). 0, or -1 (logged) on bad settings. */
int webhooks_start(void);
/* Stop and join the threads (each finishes its attempt: at most
   WEBHOOKS_TIMEOUT_MS). */
void webhooks_stop(void);
/* For /metrics. Totals since start: deliveries made, attempts that failed,
   deliveries given up after the retry window; and the outbox shared by every
   worker as this one last read it (every 5 s): deliveries pending, and how
   long the oldest due one has waited (0: none due). */
struct webhooks_counts {
    uint64_t delivered, failed_attempts, gave_up;
    int64_t pending, oldest_due_ms;
};
/* Fill c. Any thread. */
void webhooks_counts(struct webhooks_counts *c);

/* --- httpc.c: the HTTP/1.1 client of deliveries ------------------------------------------ */

struct httpc_result {
    int status;      /* the response's status code; 0 when none was read */
    char error[160]; /* why the exchange failed; "" when a status line was read */
};

/* POST body (body_len bytes, application/json) to u on a new connection to
   addr (already checked), TLS with certificate and host name verification
   against tls when u->tls; headers: extra header lines, each ending in CRLF.
   The whole exchange, to the response's status line, within timeout_ms.
   0 with r->status set, or -1 with r->error set. Thread-safe (tls is shared
   read-only). */
int httpc_post(SSL_CTX *tls, const struct webhook_url *u, const struct sockaddr *addr,
               socklen_t addr_len, const char *headers, const char *body, size_t body_len,
               int64_t timeout_ms, struct httpc_result *r);

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

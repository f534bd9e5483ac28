/*
 * pgpool: non-blocking PostgreSQL connections on the event loop.
 *
 * PG_POOL_SIZE connections, each an explicit state machine driven by
 * uv_poll on libpq's socket (connect with PQconnectPoll, then one query at a
 * time with PQsendQueryParams / PQconsumeInput). Queries wait in one FIFO
 * queue for the next idle connection. A broken connection fails its query
 * (the callback gets NULL) and reconnects with a back-off; while every
 * connection is down new queries fail at once instead of queueing.
 *
 * Every connection carries statement_timeout and lock_timeout
 * (PG_STATEMENT_TIMEOUT_MS, PG_LOCK_TIMEOUT_MS), so a locked row fails its
 * query with an error (503) instead of holding the connection. A request
 * whose deadline answered first is abandoned: its queued queries never reach
 * a connection, and one in flight is cancelled with PQcancel (a blocking
 * call, run on libuv's thread pool). That connection stays busy until both
 * the query's result and the cancel request are done, so a late cancel can
 * never hit the next query on it.
 *
 * Failover: with POSTGRES_HOSTS libpq connects to whichever server is the
 * writable primary. A query refused because its server stopped being one
 * (pg_failover_error: read-only, shutting down) did not take effect: its
 * connection is dropped and reconnects, and the query goes once more, on
 * the next connection free. With POSTGRES_HOSTS, a connection whose server
 * reports that it no longer takes writes (pg_read_only: fenced, or a
 * standby) is dropped after its query, so that reads do not stay on a
 * server left behind. A connection lost with a query in flight fails that
 * query instead (it may have committed; the client's retry with its
 * Idempotency-Key is the safe way to repeat it).
 */
#include "api.h"

#include "config.h"
#include "log.h"
#include "pgutil.h"
#include "xalloc.h"

#include <stdio.h>
#include <string.h>

#define PG_MAX_POOL 64
#define PG_MAX_QUEUE 10000

enum conn_state { PGC_DOWN, PGC_CONNECTING, PGC_IDLE, PGC_BUSY };

struct query {
    struct query *next;
    struct rctx *c;
    pg_cb cb;
    char *sql;
    int n;
    char **params;
    int retried; /* sent again once already after a failover error */
};

struct pgc {
    PGconn *conn;
    enum conn_state state;
    uv_poll_t *poll; /* for the current socket; NULL when none */
    int fd;
    uv_timer_t retry;
    uint64_t backoff_ms;
    struct query *q; /* in flight */
    PGresult *last;  /* the last result of the query in flight */
    int cancelling;  /* a cancel request is on the thread pool */
};

/* A cancel request on the thread pool. */
struct cancel_work {
    uv_work_t req;
    struct pgc *k;
    PGcancel *cancel; /* owned */
    int ok;
    char err[256];
};

static struct pgc pool[PG_MAX_POOL];
static int pool_size;
static struct query *queue_head, *queue_tail;
static size_t queue_len;
static int closing;
static char conninfo[1024];
static int follow_primary; /* POSTGRES_HOSTS set: leave servers that stop taking writes */

static void start_connect(struct pgc *k);
static void on_poll(uv_poll_t *h, int status, int events);
static void dispatch(void);
static void requeue(struct query *q);

static void free_query(struct query *q)
{
    for (int i = 0; i < q->n; i++)
        free(q->params[i]);
    free(q->params);
    free(q->sql);
    free(q);
}

static void deliver(struct query *q, PGresult *res)
{
    q->cb(res, q->c);
    free_query(q);
}

static void close_poll(struct pgc *k)
{
    if (k->poll) {
        uv_poll_stop(k->poll);
        uv_close((uv_handle_t *)k->poll, (uv_close_cb)free);
        k->poll = NULL;
    }
    k->fd = -1;
}

static void watch(struct pgc *k, int events)
{
    int fd = PQsocket(k->conn);
    if (fd != k->fd)
        close_poll(k);
    if (!k->poll) {
        k->poll = xcalloc(1, sizeof(*k->poll));
        uv_poll_init(api.loop, k->poll, fd);
        k->poll->data = k;
        k->fd = fd;
    }
    uv_poll_start(k->poll, events, on_poll);
}

static void on_retry(uv_timer_t *t)
{
    start_connect(t->data);
}

static void conn_failed(struct pgc *k, const char *why)
{
    if (k->state != PGC_CONNECTING || k->backoff_ms >= 1000)
        log_warn("postgres: connection lost: %s", why);
    close_poll(k);
    if (k->conn)
        PQfinish(k->conn);
    k->conn = NULL;
    k->state = PGC_DOWN;
    if (k->last) {
        PQclear(k->last);
        k->last = NULL;
    }
    if (k->q) {
        struct query *q = k->q;
        k->q = NULL;
        deliver(q, NULL);
    }
    if (closing)
        return;
    k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : 100;
    if (k->backoff_ms > 2000)
        k->backoff_ms = 2000;
    uv_timer_start(&k->retry, on_retry, k->backoff_ms, 0);
}

static void continue_connect(struct pgc *k)
{
    switch (PQconnectPoll(k->conn)) {
    case PGRES_POLLING_READING:
        watch(k, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        watch(k, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        k->state = PGC_IDLE;
        k->backoff_ms = 0;
        watch(k, UV_READABLE);
        log_info("postgres: connection up");
        dispatch();
        break;
    default:
        conn_failed(k, PQerrorMessage(k->conn));
    }
}

static void start_connect(struct pgc *k)
{
    if (closing)
        return;
    k->conn = PQconnectStart(conninfo);
    if (!k->conn || PQstatus(k->conn) == CONNECTION_BAD) {
        conn_failed(k, k->conn ? PQerrorMessage(k->conn) : "out of memory");
        return;
    }
    PQsetnonblocking(k->conn, 1);
    k->state = PGC_CONNECTING;
    continue_connect(k);
}

/* Read what arrived; deliver the query's result once complete. */
static void read_results(struct pgc *k)
{
    if (!PQconsumeInput(k->conn)) {
        conn_failed(k, PQerrorMessage(k->conn));
        return;
    }
    if (k->state != PGC_BUSY || !k->q) {
        /* Notices or a server-side close while idle (or waiting for a cancel). */
        if (PQstatus(k->conn) != CONNECTION_OK)
            conn_failed(k, "server closed the connection");
        return;
    }
    while (!PQisBusy(k->conn)) {
        PGresult *r = PQgetResult(k->conn);
        if (!r) {
            struct query *q = k->q;
            PGresult *last = k->last;
            int moved = follow_primary && pg_read_only(k->conn);
            k->q = NULL;
            k->last = NULL;
            if (pg_failover_error(last) && !q->retried && !q->c->abandoned && !k->cancelling) {
                log_warn("postgres: %s", PQresultErrorMessage(last));
                PQclear(last);
                q->retried = 1;
                requeue(q);
                conn_failed(k, "the server is no longer the primary");
                dispatch();
                return;
            }
            /* With a cancel still on its way the connection waits for it; one
               to a server that stopped taking writes takes no more queries. */
            if (!k->cancelling && !moved)
                k->state = PGC_IDLE;
            watch(k, UV_READABLE);
            deliver(q, last);
            if (last)
                PQclear(last);
            if (moved)
                conn_failed(k, "the server no longer takes writes");
            dispatch();
            return;
        }
        if (k->last)
            PQclear(k->last);
        k->last = r;
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct pgc *k = h->data;
    if (status < 0) {
        conn_failed(k, uv_strerror(status));
        return;
    }
    if (k->state == PGC_CONNECTING) {
        continue_connect(k);
        return;
    }
    if (events & UV_WRITABLE) {
        int f = PQflush(k->conn);
        if (f < 0) {
            conn_failed(k, PQerrorMessage(k->conn));
            return;
        }
        if (f == 0)
            watch(k, UV_READABLE);
    }
    if (events & UV_READABLE)
        read_results(k);
}

static void send_query(struct pgc *k, struct query *q)
{
    k->q = q;
    k->state = PGC_BUSY;
    if (!PQsendQueryParams(k->conn, q->sql, q->n, NULL, (const char *const *)q->params, NULL, NULL,
                           0)) {
        conn_failed(k, PQerrorMessage(k->conn));
        return;
    }
    int f = PQflush(k->conn);
    if (f < 0) {
        conn_failed(k, PQerrorMessage(k->conn));
        return;
    }
    watch(k, f == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

/* The queue's head, unlinked. */
static struct query *dequeue(void)
{
    struct query *q = queue_head;
    queue_head = q->next;
    if (!queue_head)
        queue_tail = NULL;
    queue_len--;
    q->next = NULL;
    return q;
}

/* Put q back at the head of the queue. */
static void requeue(struct query *q)
{
    q->next = queue_head;
    queue_head = q;
    if (!queue_tail)
        queue_tail = q;
    queue_len++;
}

static void dispatch(void)
{
    for (int i = 0; i < pool_size && queue_head; i++) {
        struct pgc *k = &pool[i];
        if (k->state != PGC_IDLE)
            continue;
        struct query *q = dequeue();
        if (q->c->abandoned) {
            /* Its request was answered meanwhile: not worth a connection. */
            deliver(q, NULL);
            i--;
            continue;
        }
        send_query(k, q);
    }
}

static void cancel_run(uv_work_t *req)
{
    struct cancel_work *w = req->data;
    w->ok = PQcancel(w->cancel, w->err, (int)sizeof(w->err));
}

static void cancel_done(uv_work_t *req, int status)
{
    struct cancel_work *w = req->data;
    struct pgc *k = w->k;
    (void)status;
    if (!w->ok)
        log_warn("postgres: cancelling a query failed: %s", w->err);
    PQfreeCancel(w->cancel);
    free(w);
    k->cancelling = 0;
    /* The query ended first: the connection is free now. */
    if (k->state == PGC_BUSY && !k->q) {
        k->state = PGC_IDLE;
        dispatch();
    }
}

void pgpool_abandon(struct rctx *c)
{
    struct query *mine = NULL, **tail = &mine, **pp = &queue_head;

    for (int i = 0; i < pool_size; i++) {
        struct pgc *k = &pool[i];
        if (k->state != PGC_BUSY || !k->q || k->q->c != c || k->cancelling || closing)
            continue;
        struct cancel_work *w = xcalloc(1, sizeof(*w));
        w->cancel = PQgetCancel(k->conn);
        if (!w->cancel) {
            free(w);
            continue;
        }
        w->k = k;
        w->req.data = w;
        k->cancelling = 1;
        uv_queue_work(api.loop, &w->req, cancel_run, cancel_done);
    }
    /* Unlink the queued ones first: their callbacks may free c. */
    queue_tail = NULL;
    while (*pp) {
        struct query *q = *pp;
        if (q->c == c) {
            *pp = q->next;
            q->next = NULL;
            *tail = q;
            tail = &q->next;
            queue_len--;
        } else {
            queue_tail = q;
            pp = &q->next;
        }
    }
    while (mine) {
        struct query *q = mine;
        mine = q->next;
        deliver(q, NULL);
    }
}

int pgpool_up(void)
{
    for (int i = 0; i < pool_size; i++)
        if (pool[i].state == PGC_IDLE || pool[i].state == PGC_BUSY)
            return 1;
    return 0;
}

void pg_query(struct rctx *c, pg_cb cb, const char *sql, int n, const char *const *params)
{
    rctx_ref(c);
    if (c->abandoned || !pgpool_up() || queue_len >= PG_MAX_QUEUE) {
        cb(NULL, c);
        return;
    }
    struct query *q = xcalloc(1, sizeof(*q));
    q->c = c;
    q->cb = cb;
    q->sql = xstrdup(sql);
    q->n = n;
    q->params = xcalloc((size_t)(n ? n : 1), sizeof(*q->params));
    for (int i = 0; i < n; i++)
        q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    if (queue_tail)
        queue_tail->next = q;
    else
        queue_head = q;
    queue_tail = q;
    queue_len++;
    dispatch();
}

int pgpool_init(void)
{
    size_t len;
    if (pg_conninfo(conninfo, sizeof(conninfo), "splitter-api") != 0)
        return -1;
    len = strlen(conninfo);
    if ((size_t)snprintf(conninfo + len, sizeof(conninfo) - len,
                         " options='-c statement_timeout=%d -c lock_timeout=%d'",
                         api.cfg.pg_statement_timeout_ms,
                         api.cfg.pg_lock_timeout_ms) >= sizeof(conninfo) - len)
        return -1;
    pool_size = api.cfg.pg_pool_size;
    follow_primary = config_str("POSTGRES_HOSTS", NULL) != NULL;
    for (int i = 0; i < pool_size; i++) {
        pool[i].fd = -1;
        uv_timer_init(api.loop, &pool[i].retry);
        pool[i].retry.data = &pool[i];
        start_connect(&pool[i]);
    }
    return 0;
}

void pgpool_close(void)
{
    closing = 1;
    for (int i = 0; i < pool_size; i++) {
        struct pgc *k = &pool[i];
        uv_timer_stop(&k->retry);
        uv_close((uv_handle_t *)&k->retry, NULL);
        close_poll(k);
        if (k->q) {
            struct query *q = k->q;
            k->q = NULL;
            deliver(q, NULL);
        }
        if (k->last)
            PQclear(k->last);
        k->last = NULL;
        if (k->conn)
            PQfinish(k->conn);
        k->conn = NULL;
        k->state = PGC_DOWN;
    }
    while (queue_head) {
        struct query *q = queue_head;
        queue_head = q->next;
        deliver(q, NULL);
    }
    queue_tail = NULL;
    queue_len = 0;
}

/*
 * rcli: the api's Redis connections on the event loop.
 *
 * Two connections: one for commands (pipelined by hiredis), one subscribed
 * to the channel on which workers announce finished events (a subscribed
 * connection can run nothing else). hiredis 0.14 neither reconnects nor
 * times out, so both reconnect themselves with a back-off, and every request
 * carries its own deadline.
 *
 * With REDIS_WAIT_REPLICAS > 0 a third connection confirms accepted writes
 * on replicas, in rounds (group commit): a round sends one small write of its
 * own (INCR of splitter:replication:fence), whose replication offset is past
 * every write already answered on any connection, then WAIT on it. Every
 * request that asked before the round began is released by that one WAIT;
 * requests asking meanwhile wait for the next round, started as soon as this
 * one ends. WAIT blocks only this connection, never the command connection.
 *
 * With REDIS_SENTINELS each connection attempt first asks the sentinels for
 * the primary (sentinel.h). That lookup blocks, so it runs on libuv's thread
 * pool, never on the event loop; it ends within (5 * sentinels + 5) *
 * REDIS_SENTINEL_TIMEOUT_MS. A lost connection, or an error reply saying the
 * server is no longer the primary (READONLY, LOADING, MASTERDOWN), makes
 * every connection look the primary up again: that is how a failover is
 * followed. A demoted primary may keep its clients and take writes for
 * seconds until the sentinels reconfigure it, so every RCLI_SENTINEL_CHECK_MS
 * the sentinels are also asked (on the thread pool) and the connections move
 * as soon as they name another server.
 */
#include "api.h"

#include "cache.h"
#include "keys.h"
#include "log.h"
#include "script.h"
#include "view.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the event-loop adapter ------------------------------------------------------------------
 *
 * Our own copy of hiredis's libuv adapter, with the fix later hiredis
 * releases carry: 0.14.1's adapter drops a poll error (a reset, a refused
 * connect) on the floor, so the connection neither fails nor completes and
 * every command on it waits forever. Here an error wakes the handlers that
 * were armed, and hiredis sees the error and disconnects.
 *
 * Unlike that adapter, commands on a connected context are not written when
 * the socket turns writable (a poll change and two epoll_ctl calls per
 * command) but at the start of the loop's next turn (an idle handle, which
 * also keeps that turn's poll from blocking): every command the callbacks of
 * one turn issued goes out in one write. Only when the socket cannot take it
 * all does the writer wait for it to turn writable. While connecting,
 * hiredis learns that the connect completed from writability, so that stays
 * a poll.
 */

struct uv_events {
    redisAsyncContext *context;
    uv_poll_t handle;
    uv_idle_t flush; /* armed: commands wait for the next turn */
    int events;
    int flush_armed;
    int open_handles; /* after cleanup: handles not closed yet */
    int in_flush;     /* inside the flush: hiredis asking to write again = socket full */
    int again;
};

static void ev_poll(uv_poll_t *handle, int status, int events)
{
    struct uv_events *p = handle->data;
    int ev = status ? p->events : events;
    if (p->context && (ev & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
}

static void ev_update(struct uv_events *p)
{
    if (p->events)
        uv_poll_start(&p->handle, p->events, ev_poll);
    else
        uv_poll_stop(&p->handle);
}

static void ev_add_read(void *data)
{
    struct uv_events *p = data;
    p->events |= UV_READABLE;
    ev_update(p);
}

static void ev_del_read(void *data)
{
    struct uv_events *p = data;
    p->events &= ~UV_READABLE;
    ev_update(p);
}

static void ev_flush(uv_idle_t *idle)
{
    struct uv_events *p = idle->data;
    uv_idle_stop(&p->flush);
    p->flush_armed = 0;
    if (!p->context)
        return;
    p->in_flush = 1;
    p->again = 0;
    redisAsyncHandleWrite(p->context); /* may disconnect: p stays until its handles close */
    p->in_flush = 0;
    if (p->context && p->again && !(p->events & UV_WRITABLE)) {
        p->events |= UV_WRITABLE;
        ev_update(p);
    }
}

static void ev_add_write(void *data)
{
    struct uv_events *p = data;
    if (p->in_flush) {
        p->again = 1;
        return;
    }
    if (!(p->context->c.flags & REDIS_CONNECTED) || (p->events & UV_WRITABLE)) {
        p->events |= UV_WRITABLE;
        ev_update(p);
        return;
    }
    if (!p->flush_armed) {
        uv_idle_start(&p->flush, ev_flush);
        p->flush_armed = 1;
    }
}

static void ev_del_write(void *data)
{
    struct uv_events *p = data;
    p->again = 0;
    if (p->flush_armed) {
        uv_idle_stop(&p->flush);
        p->flush_armed = 0;
    }
    if (p->events & UV_WRITABLE) {
        p->events &= ~UV_WRITABLE;
        ev_update(p);
    }
}

/* Each of p's two handles closed: free p after the second. */
static void ev_closed(uv_handle_t *handle)
{
    struct uv_events *p = handle->data;
    if (--p->open_handles == 0)
        free(p);
}

static void ev_cleanup(void *data)
{
    struct uv_events *p = data;
    p->context = NULL;
    uv_idle_stop(&p->flush);
    p->flush_armed = 0;
    p->open_handles = 2;
    uv_close((uv_handle_t *)&p->handle, ev_closed);
    uv_close((uv_handle_t *)&p->flush, ev_closed);
}

static int ev_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct uv_events *p;
    if (ac->ev.data)
        return REDIS_ERR;
    p = xcalloc(1, sizeof(*p));
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    uv_idle_init(loop, &p->flush);
    p->flush.data = p;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    ac->ev.data = p;
    p->handle.data = p;
    p->context = ac;
    return REDIS_OK;
}

struct conn {
    redisAsyncContext *ac; /* NULL while down */
    int subscriber;
    int up;
    uv_timer_t retry;
    uint64_t backoff_ms;
    const char *name;
    /* Sentinel lookup: on the thread pool while discovering; found once
       host:port name a confirmed primary, used by the next attempt only. */
    uv_work_t lookup;
    int discovering, found;
    char host[CONFIG_HOST_MAX];
    int port;
};

/* Commands waiting for a reply on the command connection, and when one last
   came back: a server that stops answering (stopped, or a half-open socket)
   sends no error at all, so the watchdog below gives up on it. */
static size_t cmd_waiting;
static uint64_t cmd_progress_ms;
static uv_timer_t watchdog;
#define RCLI_STALL_MS 3000

/* Asking the sentinels whether the primary moved while connected. */
#define RCLI_SENTINEL_CHECK_MS 1000
static uv_timer_t check_timer;
static uv_work_t check_work;
static int checking, check_found, check_port;
static char check_host[CONFIG_HOST_MAX];

static struct conn cmd_conn = {.name = "commands"};
static struct conn sub_conn = {.subscriber = 1, .name = "events"};
static struct conn wait_conn = {.name = "replication"};

/* Requests waiting for replicas: those of the round in flight, and those of
   the next one. */
struct replica_waiter {
    struct replica_waiter *next;
    struct rctx *c;
    rcli_acked_fn done;
};
static struct replica_waiter *round_next, **round_next_tail = &round_next;
static int round_in_flight;
static uint64_t round_started_ms;
static int closing;

static void connect_conn(struct conn *k);

static void on_retry(uv_timer_t *t)
{
    connect_conn(t->data);
}

static void retry_later(struct conn *k)
{
    k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : 100;
    if (k->backoff_ms > 2000)
        k->backoff_ms = 2000;
    if (!closing)
        uv_timer_start(&k->retry, on_retry, k->backoff_ms, 0);
}

/* hiredis 0.14's libuv adapter ignores a poll error, so a refused or silent
   connect never calls back: give each attempt a deadline of our own. */
static void on_connect_timeout(uv_timer_t *t)
{
    struct conn *k = t->data;
    if (k->up || !k->ac)
        return;
    log_warn("redis: %s connection attempt timed out", k->name);
    redisAsyncContext *ac = k->ac;
    k->ac = NULL;
    redisAsyncFree(ac);
    retry_later(k);
}

/* The receiver of the channel's messages, registered by rcli_init. */
static rcli_message_fn on_done_message;

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    (void)ac;
    (void)priv;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return;
    if (r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "message") == 0 &&
        r->element[2]->type == REDIS_REPLY_STRING) {
        on_done_message(r->element[2]->str, r->element[2]->len);
    }
}

static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    struct conn *k = priv;
    (void)ac;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_error("redis: AUTH failed on the %s connection", k->name);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct conn *k = ac->data;
    if (status != REDIS_OK) {
        log_warn("redis: %s connection failed: %s", k->name, ac->errstr);
        k->ac = NULL; /* hiredis frees it */
        k->up = 0;
        retry_later(k);
        return;
    }
    uv_timer_stop(&k->retry);
    k->up = 1;
    k->backoff_ms = 0;
    log_info("redis: %s connection up", k->name);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct conn *k = ac->data;
    k->ac = NULL;
    k->up = 0;
    if (closing)
        return;
    log_warn("redis: %s connection lost (%d)", k->name, status);
    k->backoff_ms = 0;
    retry_later(k);
}

/* On the thread pool: ask the sentinels for the primary. */
static void lookup_run(uv_work_t *req)
{
    struct conn *k = req->data;
    redisContext *rd = sentinel_connect(&api.cfg.sentinel, k->host, sizeof(k->host), &k->port);
    k->found = rd != NULL;
    if (rd)
        redisFree(rd);
}

static void lookup_done(uv_work_t *req, int status)
{
    struct conn *k = req->data;
    k->discovering = 0;
    if (closing)
        return;
    if (status != 0 || !k->found) {
        retry_later(k);
        return;
    }
    connect_conn(k);
}

static void connect_conn(struct conn *k)
{
    redisAsyncContext *ac;
    const char *pw = api.cfg.redis_password;
    const char *host = api.cfg.redis_host;
    int port = api.cfg.redis_port;

    if (closing || k->ac || k->discovering)
        return;
    if (api.cfg.sentinel.n) {
        if (!k->found) {
            k->discovering = 1;
            k->lookup.data = k;
            if (uv_queue_work(api.loop, &k->lookup, lookup_run, lookup_done) != 0) {
                k->discovering = 0;
                retry_later(k);
            }
            return;
        }
        k->found = 0; /* the next attempt asks again */
        host = k->host;
        port = k->port;
    }
    log_debug("redis: connecting the %s connection to %s:%d", k->name, host, port);
    ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        log_warn("redis: cannot start the %s connection: %s", k->name,
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        retry_later(k);
        return;
    }
    ac->data = k;
    k->ac = ac;
    if (ev_attach(ac, api.loop) != REDIS_OK) {
        log_error("redis: cannot watch the %s connection", k->name);
        k->ac = NULL;
        redisAsyncFree(ac);
        retry_later(k);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Commands queue until the connection is up. */
    if (pw && *pw)
        redisAsyncCommand(ac, on_auth, k, "AUTH %s", pw);
    if (k->subscriber)
        redisAsyncCommand(ac, on_message, NULL, "SUBSCRIBE " KEYS_DONE_CHANNEL);
    else
        redisAsyncCommand(ac, NULL, NULL, "PING"); /* the first write completes the connect */
    uv_timer_start(&k->retry, on_connect_timeout, 1000, 0);
}

/* Close k so that it reconnects (to the primary found anew), after the
   replies already on their way. */
static void drop_conn(struct conn *k)
{
    if (k->ac && k->up && !(k->ac->c.flags & REDIS_DISCONNECTING))
        redisAsyncDisconnect(k->ac);
}

/* When r says its server is no longer the primary, every connection goes
   to find the new one: commands, events and replication alike. */
static void check_moved(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR || !sentinel_moved(r->str, r->len) || closing)
        return;
    if (cmd_conn.ac && cmd_conn.up && !(cmd_conn.ac->c.flags & REDIS_DISCONNECTING))
        log_warn("redis: %s: reconnecting to the primary", r->str);
    drop_conn(&cmd_conn);
    drop_conn(&sub_conn);
    drop_conn(&wait_conn);
}

static void check_run(uv_work_t *req)
{
    (void)req;
    check_found =
        sentinel_lookup(&api.cfg.sentinel, check_host, sizeof(check_host), &check_port) == 0;
}

static void check_done(uv_work_t *req, int status)
{
    (void)req;
    checking = 0;
    if (closing || status != 0 || !check_found || !cmd_conn.up || !cmd_conn.ac)
        return;
    if (check_port == cmd_conn.port && strcmp(check_host, cmd_conn.host) == 0)
        return;
    log_warn("redis: the sentinels name %s:%d as the primary, not %s:%d: reconnecting", check_host,
             check_port, cmd_conn.host, cmd_conn.port);
    drop_conn(&cmd_conn);
    drop_conn(&sub_conn);
    drop_conn(&wait_conn);
}

static void on_check(uv_timer_t *t)
{
    (void)t;
    if (checking || closing || !cmd_conn.up)
        return;
    checking = 1;
    if (uv_queue_work(api.loop, &check_work, check_run, check_done) != 0)
        checking = 0;
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_now(api.loop);
    if (round_in_flight && wait_conn.ac &&
        now - round_started_ms >= (uint64_t)api.cfg.redis_wait_timeout_ms + RCLI_STALL_MS) {
        /* WAIT has a timeout of its own: a silent server fails the round. */
        log_warn("redis: WAIT unanswered for %llu ms: reconnecting the replication connection",
                 (unsigned long long)(now - round_started_ms));
        redisAsyncFree(wait_conn.ac);
    }
    if (!cmd_conn.ac || !cmd_conn.up || cmd_waiting == 0 || now - cmd_progress_ms < RCLI_STALL_MS)
        return;
    log_warn("redis: no reply for %llu ms with %zu commands waiting: reconnecting",
             (unsigned long long)(now - cmd_progress_ms), cmd_waiting);
    /* Fails every waiting command (NULL reply) and runs on_disconnect. */
    redisAsyncFree(cmd_conn.ac);
}

/* --- replica acknowledgement ------------------------------------------------------------- */

static void round_start(void);

/* Call every waiter of list with ok, freeing the list. */
static void release_waiters(struct replica_waiter *list, int ok)
{
    while (list) {
        struct replica_waiter *w = list;
        list = w->next;
        w->done(w->c, ok);
        free(w);
    }
}

static void on_round(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    struct replica_waiter *list = priv;
    (void)ac;
    check_moved(r);
    int ok = r && r->type == REDIS_REPLY_INTEGER && r->integer >= api.cfg.redis_wait_replicas;
    if (!ok && r)
        log_warn("redis: %s replicas acknowledged in time, %d wanted",
                 r->type == REDIS_REPLY_INTEGER ? "only some" : "no", api.cfg.redis_wait_replicas);
    round_in_flight = 0;
    release_waiters(list, ok);
    if (round_next && !closing)
        round_start();
}

static void on_fence(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)priv;
    check_moved(reply);
}

static void round_start(void)
{
    struct replica_waiter *list = round_next;
    char timeout[24], replicas[24];

    round_next = NULL;
    round_next_tail = &round_next;
    if (!wait_conn.up || !wait_conn.ac) {
        release_waiters(list, 0);
        return;
    }
    snprintf(replicas, sizeof(replicas), "%d", api.cfg.redis_wait_replicas);
    snprintf(timeout, sizeof(timeout), "%d", api.cfg.redis_wait_timeout_ms);
    if (redisAsyncCommand(wait_conn.ac, on_fence, NULL, "INCR " KEYS_REPLICATION_FENCE) !=
            REDIS_OK ||
        redisAsyncCommand(wait_conn.ac, on_round, list, "WAIT %s %s", replicas, timeout) !=
            REDIS_OK) {
        release_waiters(list, 0);
        return;
    }
    round_in_flight = 1;
    round_started_ms = uv_now(api.loop);
}

void rcli_replicated(struct rctx *c, rcli_acked_fn done)
{
    rctx_ref(c);
    if (!wait_conn.up || !wait_conn.ac) {
        done(c, 0);
        return;
    }
    struct replica_waiter *w = xcalloc(1, sizeof(*w));
    w->c = c;
    w->done = done;
    *round_next_tail = w;
    round_next_tail = &w->next;
    if (!round_in_flight)
        round_start();
}

int rcli_init(rcli_message_fn on_message_cb)
{
    on_done_message = on_message_cb;
    uv_timer_init(api.loop, &watchdog);
    uv_timer_start(&watchdog, on_watchdog, 500, 500);
    uv_timer_init(api.loop, &cmd_conn.retry);
    uv_timer_init(api.loop, &sub_conn.retry);
    cmd_conn.retry.data = &cmd_conn;
    sub_conn.retry.data = &sub_conn;
    connect_conn(&cmd_conn);
    connect_conn(&sub_conn);
    uv_timer_init(api.loop, &wait_conn.retry);
    wait_conn.retry.data = &wait_conn;
    if (api.cfg.redis_wait_replicas > 0)
        connect_conn(&wait_conn);
    uv_timer_init(api.loop, &check_timer);
    if (api.cfg.sentinel.n)
        uv_timer_start(&check_timer, on_check, RCLI_SENTINEL_CHECK_MS, RCLI_SENTINEL_CHECK_MS);
    return 0;
}

void rcli_close(void)
{
    closing = 1;
    uv_timer_stop(&watchdog);
    uv_close((uv_handle_t *)&watchdog, NULL);
    uv_timer_stop(&check_timer);
    uv_close((uv_handle_t *)&check_timer, NULL);
    uv_timer_stop(&cmd_conn.retry);
    uv_timer_stop(&sub_conn.retry);
    uv_timer_stop(&wait_conn.retry);
    uv_close((uv_handle_t *)&cmd_conn.retry, NULL);
    uv_close((uv_handle_t *)&sub_conn.retry, NULL);
    uv_close((uv_handle_t *)&wait_conn.retry, NULL);
    if (cmd_conn.ac)
        redisAsyncDisconnect(cmd_conn.ac);
    if (sub_conn.ac)
        redisAsyncDisconnect(sub_conn.ac);
    if (wait_conn.ac)
        redisAsyncDisconnect(wait_conn.ac);
    release_waiters(round_next, 0);
    round_next = NULL;
    round_next_tail = &round_next;
}

int rcli_up(void)
{
    return cmd_conn.up && cmd_conn.ac != NULL;
}

struct pending {
    struct rctx *c; /* NULL for a script sent without a callback */
    rcli_cb cb;     /* NULL likewise */
    /* Script calls only: the script, and the EVALSHA as sent (owned), sent
       once more after a SCRIPT LOAD when Redis answers NOSCRIPT. */
    struct script *script;
    char *cmd;
    size_t cmd_len;
    int retried;
};

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct pending *p = priv;
    redisReply *r = reply;
    cmd_progress_ms = uv_now(api.loop);
    if (p->script && !p->retried && r && r->type == REDIS_REPLY_ERROR &&
        script_missing(r->str, r->len)) {
        /* Redis lost its scripts (restarted, or SCRIPT FLUSH): this call did
           not run. Load the script and send the same call once more, behind
           it on the same connection. */
        p->retried = 1;
        log_info("redis: script %.12s not loaded: loading it", p->script->sha);
        const char *load[3] = {"SCRIPT", "LOAD", p->script->text};
        if (redisAsyncCommandArgv(ac, NULL, NULL, 3, load, NULL) == REDIS_OK &&
            redisAsyncFormattedCommand(ac, on_reply, p, p->cmd, p->cmd_len) == REDIS_OK)
            return; /* still waiting: cmd_waiting unchanged */
    }
    check_moved(reply);
    cmd_waiting--;
    if (p->cb)
        p->cb(reply, p->c);
    free(p->cmd);
    free(p);
}

/* Count a command sent on the command connection. */
static void sent(void)
{
    if (cmd_waiting++ == 0)
        cmd_progress_ms = uv_now(api.loop);
}

void rcli_cmd(struct rctx *c, rcli_cb cb, const char *fmt, ...)
{
    va_list ap;
    rctx_ref(c);
    if (!rcli_up()) {
        cb(NULL, c);
        return;
    }
    struct pending *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->cb = cb;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(cmd_conn.ac, on_reply, p, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(p);
        cb(NULL, c);
        return;
    }
    sent();
}

void rcli_cmd_argv(struct rctx *c, rcli_cb cb, int argc, const char **argv, const size_t *lens)
{
    rctx_ref(c);
    if (!rcli_up()) {
        cb(NULL, c);
        return;
    }
    struct pending *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->cb = cb;
    if (redisAsyncCommandArgv(cmd_conn.ac, on_reply, p, argc, argv, lens) != REDIS_OK) {
        free(p);
        cb(NULL, c);
        return;
    }
    sent();
}

void rcli_script(struct rctx *c, rcli_cb cb, struct script *s, int argc, const char **argv,
                 const size_t *lens)
{
    const char *small[24], **full = small;
    size_t small_lens[24], *full_lens = NULL;
    struct pending *p;
    char *cmd = NULL;
    int len;

    if (c)
        rctx_ref(c);
    if (!rcli_up()) {
        if (cb)
            cb(NULL, c);
        return;
    }
    if (argc + 2 > 24)
        full = xcalloc((size_t)argc + 2, sizeof(*full));
    full[0] = "EVALSHA";
    full[1] = script_sha(s);
    memcpy(full + 2, argv, (size_t)argc * sizeof(*argv));
    if (lens) {
        full_lens = argc + 2 > 24 ? xcalloc((size_t)argc + 2, sizeof(*full_lens)) : small_lens;
        full_lens[0] = 7;
        full_lens[1] = 40;
        memcpy(full_lens + 2, lens, (size_t)argc * sizeof(*lens));
    }
    len = redisFormatCommandArgv(&cmd, argc + 2, full, full_lens);
    if (full != small)
        free(full);
    if (full_lens && full_lens != small_lens)
        free(full_lens);
    if (len < 0)
        abort(); /* hiredis's allocation failed */
    p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->cb = cb;
    p->script = s;
    p->cmd = cmd;
    p->cmd_len = (size_t)len;
    if (redisAsyncFormattedCommand(cmd_conn.ac, on_reply, p, cmd, (size_t)len) != REDIS_OK) {
        free(cmd);
        free(p);
        if (cb)
            cb(NULL, c);
        return;
    }
    sent();
}

void rcli_send(const char *fmt, ...)
{
    va_list ap;
    if (!rcli_up())
        return;
    va_start(ap, fmt);
    redisvAsyncCommand(cmd_conn.ac, NULL, NULL, fmt, ap);
    va_end(ap);
}

void rcli_send_argv(int argc, const char **argv, const size_t *lens)
{
    if (rcli_up())
        redisAsyncCommandArgv(cmd_conn.ac, NULL, NULL, argc, argv, lens);
}

void rcli_view_tombstone(const char *group_id, const char *version)
{
    char key[96];
    keys_fmt(key, sizeof(key), "view", group_id);
    /* a tombstone: the version alone */
    const char *argv[4] = {"1", key, version, CACHE_VIEW_TTL_TEXT};
    rcli_script(NULL, NULL, &view_cache_script, 4, argv, NULL);
}

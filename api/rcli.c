/*
 * rcli: the api's Redis connections on the event loop.
 *
 * Two connections: one for commands (pipelined by hiredis), one subscribed
 * to the channel on which workers announce finished events (a subscribed
 * connection can run nothing else). hiredis 0.14 neither reconnects nor
 * times out, so both reconnect themselves with a back-off, and every request
 * carries its own deadline.
 */
#include "api.h"

#include "keys.h"
#include "log.h"
#include "xalloc.h"

#include <hiredis/adapters/libuv.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    redisAsyncContext *ac; /* NULL while down */
    int subscriber;
    int up;
    uv_timer_t retry;
    uint64_t backoff_ms;
    const char *name;
};

static struct conn cmd_conn = {.name = "commands"};
static struct conn sub_conn = {.subscriber = 1, .name = "events"};
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

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    (void)ac;
    (void)priv;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return;
    if (r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "message") == 0 &&
        r->element[2]->type == REDIS_REPLY_STRING)
        waiter_notify(r->element[2]->str, r->element[2]->len);
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

static void connect_conn(struct conn *k)
{
    redisAsyncContext *ac;
    const char *pw = api.cfg.redis_password;

    if (closing || k->ac)
        return;
    log_debug("redis: connecting the %s connection", k->name);
    ac = redisAsyncConnect(api.cfg.redis_host, api.cfg.redis_port);
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
    redisLibuvAttach(ac, api.loop);
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

int rcli_init(void)
{
    uv_timer_init(api.loop, &cmd_conn.retry);
    uv_timer_init(api.loop, &sub_conn.retry);
    cmd_conn.retry.data = &cmd_conn;
    sub_conn.retry.data = &sub_conn;
    connect_conn(&cmd_conn);
    connect_conn(&sub_conn);
    return 0;
}

void rcli_close(void)
{
    closing = 1;
    uv_timer_stop(&cmd_conn.retry);
    uv_timer_stop(&sub_conn.retry);
    uv_close((uv_handle_t *)&cmd_conn.retry, NULL);
    uv_close((uv_handle_t *)&sub_conn.retry, NULL);
    if (cmd_conn.ac)
        redisAsyncDisconnect(cmd_conn.ac);
    if (sub_conn.ac)
        redisAsyncDisconnect(sub_conn.ac);
}

int rcli_up(void)
{
    return cmd_conn.up && cmd_conn.ac != NULL;
}

struct pending {
    struct rctx *c;
    rcli_cb cb;
};

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct pending *p = priv;
    (void)ac;
    p->cb(reply, p->c);
    free(p);
}

void rcli_cmd(struct rctx *c, rcli_cb cb, const char *fmt, ...)
{
    va_list ap;
    rctx_ref(c);
    if (!rcli_up()) {
        cb(NULL, c);
        return;
    }
    struct pending *p = xmalloc(sizeof(*p));
    p->c = c;
    p->cb = cb;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(cmd_conn.ac, on_reply, p, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(p);
        cb(NULL, c);
    }
}

void rcli_cmd_argv(struct rctx *c, rcli_cb cb, int argc, const char **argv, const size_t *lens)
{
    rctx_ref(c);
    if (!rcli_up()) {
        cb(NULL, c);
        return;
    }
    struct pending *p = xmalloc(sizeof(*p));
    p->c = c;
    p->cb = cb;
    if (redisAsyncCommandArgv(cmd_conn.ac, on_reply, p, argc, argv, lens) != REDIS_OK) {
        free(p);
        cb(NULL, c);
    }
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

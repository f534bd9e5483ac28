#include "worker.h"

#include "log.h"
#include "script.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WORKER_SENTINEL_CHECK_MS 1000

/* With Sentinel: drop rd when the sentinels name another primary. */
static void check_primary(struct worker *w)
{
    char host[CONFIG_HOST_MAX];
    int port;
    int64_t now = worker_now_ms();

    if (!w->cfg.sentinel.n || !w->rd || now < w->rd_check_ms)
        return;
    w->rd_check_ms = now + WORKER_SENTINEL_CHECK_MS;
    if (sentinel_lookup(&w->cfg.sentinel, host, sizeof(host), &port) != 0)
        return;
    if (port == w->rd_port && strcmp(host, w->rd_host) == 0)
        return;
    log_warn("redis: the sentinels name %s:%d as the primary, not %s:%d: reconnecting", host, port,
             w->rd_host, w->rd_port);
    redisFree(w->rd);
    w->rd = NULL;
}

int worker_redis_ensure(struct worker *w)
{
    /* Longer than any BLOCK we issue, so a silent server is noticed. */
    struct timeval tv = {5, 0};

    check_primary(w);
    if (w->rd)
        return 0;
    if (w->cfg.sentinel.n) {
        w->rd = sentinel_connect(&w->cfg.sentinel, w->rd_host, sizeof(w->rd_host), &w->rd_port);
    } else {
        snprintf(w->rd_host, sizeof(w->rd_host), "%s", w->cfg.redis_host);
        w->rd_port = w->cfg.redis_port;
        w->rd = sentinel_dial(w->rd_host, w->rd_port, w->cfg.redis_password, 2000);
    }
    if (!w->rd)
        return -1;
    redisSetTimeout(w->rd, tv);
    w->rd_check_ms = worker_now_ms() + WORKER_SENTINEL_CHECK_MS;
    log_info("redis: connected to %s:%d", w->rd_host, w->rd_port);
    return 0;
}

static redisReply *checked(struct worker *w, redisReply *r)
{
    if (!r) {
        log_warn("redis: %s", w->rd->errstr);
        redisFree(w->rd);
        w->rd = NULL;
    } else if (r->type == REDIS_REPLY_ERROR && sentinel_moved(r->str, r->len)) {
        log_warn("redis: %s: finding the primary again", r->str);
        redisFree(w->rd);
        w->rd = NULL;
    }
    return r;
}

redisReply *worker_redis(struct worker *w, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    if (worker_redis_ensure(w) != 0)
        return NULL;
    va_start(ap, fmt);
    r = redisvCommand(w->rd, fmt, ap);
    va_end(ap);
    return checked(w, r);
}

redisReply *worker_redis_argv(struct worker *w, int argc, const char **argv, const size_t *lens)
{
    if (worker_redis_ensure(w) != 0)
        return NULL;
    return checked(w, redisCommandArgv(w->rd, argc, argv, lens));
}

redisReply *worker_script(struct worker *w, struct script *s, int argc, const char **argv)
{
    const char **full = xcalloc((size_t)argc + 2, sizeof(*full));
    redisReply *r;

    full[0] = "EVALSHA";
    full[1] = script_sha(s);
    memcpy(full + 2, argv, (size_t)argc * sizeof(*argv));
    r = worker_redis_argv(w, argc + 2, full, NULL);
    if (r && r->type == REDIS_REPLY_ERROR && script_missing(r->str, r->len)) {
        /* Redis lost its scripts: the call did not run. EVAL loads it. */
        log_info("redis: script %.12s not loaded: sending it", s->sha);
        freeReplyObject(r);
        full[0] = "EVAL";
        full[1] = s->text;
        r = worker_redis_argv(w, argc + 2, full, NULL);
    }
    free(full);
    return r;
}

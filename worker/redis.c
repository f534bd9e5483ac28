#include "worker.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int worker_redis_ensure(struct worker *w)
{
    /* Longer than any BLOCK we issue, so a silent server is noticed. */
    struct timeval tv = {5, 0};
    char host[CONFIG_HOST_MAX];
    int port;

    if (w->rd)
        return 0;
    if (w->cfg.sentinel.n) {
        w->rd = sentinel_connect(&w->cfg.sentinel, host, sizeof(host), &port);
    } else {
        snprintf(host, sizeof(host), "%s", w->cfg.redis_host);
        port = w->cfg.redis_port;
        w->rd = sentinel_dial(host, port, w->cfg.redis_password, 2000);
    }
    if (!w->rd)
        return -1;
    redisSetTimeout(w->rd, tv);
    log_info("redis: connected to %s:%d", host, port);
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

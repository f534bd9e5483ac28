#include "worker.h"

#include "log.h"
#include "script.h"
#include "xalloc.h"

#include <stdarg.h>
#include <string.h>

int worker_redis_ensure(struct worker *w)
{
    struct timeval tv = {2, 0};
    redisReply *r;

    if (w->rd)
        return 0;
    w->rd = redisConnectWithTimeout(w->cfg.redis_host, w->cfg.redis_port, tv);
    if (!w->rd || w->rd->err) {
        log_warn("redis: cannot connect: %s", w->rd ? w->rd->errstr : "out of memory");
        goto fail;
    }
    /* Longer than any BLOCK we issue, so a silent server is noticed. */
    tv.tv_sec = 5;
    redisSetTimeout(w->rd, tv);
    if (w->cfg.redis_password && *w->cfg.redis_password) {
        r = redisCommand(w->rd, "AUTH %s", w->cfg.redis_password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            log_error("redis: AUTH failed");
            if (r)
                freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    log_info("redis: connected");
    return 0;
fail:
    if (w->rd)
        redisFree(w->rd);
    w->rd = NULL;
    return -1;
}

static redisReply *checked(struct worker *w, redisReply *r)
{
    if (!r) {
        log_warn("redis: %s", w->rd->errstr);
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

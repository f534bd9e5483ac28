#include "sentinel.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sentinel_config_load(struct sentinel_config *c)
{
    const char *list = config_str("REDIS_SENTINELS", NULL);
    const char *name = config_str("REDIS_MASTER_NAME", NULL);
    char err[160];
    int64_t v;

    memset(c, 0, sizeof(*c));
    c->password = config_str("REDIS_PASSWORD", "");
    c->sentinel_auth = config_str("REDIS_SENTINEL_PASSWORD", c->password);
    if (config_int("REDIS_SENTINEL_TIMEOUT_MS", 500, 10, 10000, &v) != 0)
        return -1;
    c->timeout_ms = (int)v;
    if (!list)
        return 0;
    if (config_hostports(list, c->sentinels, SENTINEL_MAX, &c->n, err, sizeof(err)) != 0) {
        log_error("config: 'REDIS_SENTINELS': %s", err);
        c->n = 0;
        return -1;
    }
    if (!name || strlen(name) >= sizeof(c->master_name)) {
        log_error("config: 'REDIS_MASTER_NAME' must be set (1 to %zu bytes) with REDIS_SENTINELS",
                  sizeof(c->master_name) - 1);
        c->n = 0;
        return -1;
    }
    snprintf(c->master_name, sizeof(c->master_name), "%s", name);
    return 0;
}

redisContext *sentinel_dial(const char *host, int port, const char *password, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *rd = redisConnectWithTimeout(host, port, tv);
    redisReply *r;

    if (!rd || rd->err) {
        log_warn("redis %s:%d: %s", host, port, rd ? rd->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(rd, tv);
    if (!password || !*password)
        return rd;
    r = redisCommand(rd, "AUTH %s", password);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        log_error("redis %s:%d: AUTH failed: %s", host, port, r ? r->str : rd->errstr);
        if (r)
            freeReplyObject(r);
        goto fail;
    }
    freeReplyObject(r);
    return rd;
fail:
    if (rd)
        redisFree(rd);
    return NULL;
}

/* Ask the sentinel at s for the primary's address. 0, or -1 (logged). */
static int ask(const struct sentinel_config *c, const struct config_hostport *s, char *host,
               size_t host_size, int *port)
{
    struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    redisContext *rd = redisConnectWithTimeout(s->host, s->port, tv);
    redisReply *r = NULL;
    int rc = -1;

    if (!rd || rd->err) {
        log_warn("sentinel %s:%d: %s", s->host, s->port, rd ? rd->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(rd, tv);
    if (*c->sentinel_auth) {
        /* Refused by a sentinel without a password; the next command tells. */
        r = redisCommand(rd, "AUTH %s", c->sentinel_auth);
        if (!r)
            goto broken;
        freeReplyObject(r);
    }
    r = redisCommand(rd, "SENTINEL get-master-addr-by-name %s", c->master_name);
    if (!r)
        goto broken;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[0]->len < host_size) {
        long p = strtol(r->element[1]->str, NULL, 10);
        if (p >= 1 && p <= 65535) {
            memcpy(host, r->element[0]->str, r->element[0]->len);
            host[r->element[0]->len] = '\0';
            *port = (int)p;
            rc = 0;
            goto out;
        }
    }
    log_warn("sentinel %s:%d: no address for '%s'%s%s", s->host, s->port, c->master_name,
             r->type == REDIS_REPLY_ERROR ? ": " : "", r->type == REDIS_REPLY_ERROR ? r->str : "");
    goto out;
broken:
    log_warn("sentinel %s:%d: %s", s->host, s->port, rd->errstr);
out:
    if (r)
        freeReplyObject(r);
    if (rd)
        redisFree(rd);
    return rc;
}

/* 1 when the server behind rd says ROLE master. */
static int is_primary(redisContext *rd, const char *host, int port)
{
    redisReply *r = redisCommand(rd, "ROLE");
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;
    if (!ok)
        log_warn("redis %s:%d: named primary by the sentinels, but ROLE says %s", host, port,
                 !r                             ? rd->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                 : r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                         r->element[0]->type == REDIS_REPLY_STRING
                     ? r->element[0]->str
                     : "something else");
    if (r)
        freeReplyObject(r);
    return ok;
}

int sentinel_lookup(const struct sentinel_config *c, char *host, size_t host_size, int *port)
{
    for (size_t i = 0; i < c->n; i++)
        if (ask(c, &c->sentinels[i], host, host_size, port) == 0)
            return 0;
    log_warn("sentinel: no sentinel of %zu named a primary for '%s'", c->n, c->master_name);
    return -1;
}

redisContext *sentinel_connect(const struct sentinel_config *c, char *host, size_t host_size,
                               int *port)
{
    redisContext *rd;

    /* The first sentinel that answers names the primary; if that one is not
       (yet) a primary, the others were told the same or less. */
    if (sentinel_lookup(c, host, host_size, port) != 0)
        return NULL;
    rd = sentinel_dial(host, *port, c->password, c->timeout_ms);
    if (rd && !is_primary(rd, host, *port)) {
        redisFree(rd);
        rd = NULL;
    }
    return rd;
}

int sentinel_moved(const char *err, size_t len)
{
    static const char *const codes[] = {"READONLY", "LOADING", "MASTERDOWN"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        size_t n = strlen(codes[i]);
        if (len >= n && memcmp(err, codes[i], n) == 0 && (len == n || err[n] == ' '))
            return 1;
    }
    return 0;
}

/* splitterctl's connections: Redis and PostgreSQL, blocking, one each. */
#include "splitterctl.h"

#include "config.h"

#include <string.h>

/* A new connection, authenticated; NULL after printing why. */
redisContext *redis_open(void)
{
    int port;
    const char *host = config_str("REDIS_HOST", "127.0.0.1");
    const char *pw = config_str("REDIS_PASSWORD", "");
    struct timeval tv = {5, 0};
    if (config_port("REDIS_PORT", 6380, &port) != 0)
        return NULL;
    redisContext *rd = redisConnectWithTimeout(host, port, tv);
    if (!rd || rd->err) {
        error("redis %s:%d: %s", host, port, rd ? rd->errstr : "out of memory");
        if (rd)
            redisFree(rd);
        return NULL;
    }
    redisSetTimeout(rd, tv);
    if (*pw) {
        redisReply *r = redisCommand(rd, "AUTH %s", pw);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok)
            error("redis: AUTH: %s", r ? r->str : rd->errstr);
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(rd);
            return NULL;
        }
    }
    return rd;
}

/* The next pipelined reply (caller frees), or NULL after printing why. */
redisReply *next_reply(redisContext *rd)
{
    void *r = NULL;
    if (redisGetReply(rd, &r) != REDIS_OK) {
        error("redis: %s", rd->errstr);
        return NULL;
    }
    return r;
}

redisReply *cmd(redisContext *rd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rd, fmt, ap);
    va_end(ap);
    if (!r)
        error("redis: %s", rd->errstr);
    return r;
}

PGresult *pq(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    error("postgres: %s", PQresultErrorMessage(res));
    PQclear(res);
    return NULL;
}

int pexec(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *r = pq(pg, sql, n, params);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

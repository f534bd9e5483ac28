/* splitterctl's connections: Redis and PostgreSQL, blocking, one each. */
#include "splitterctl.h"

#include "config.h"
#include "sentinel.h"

#include <string.h>

/* A new connection to the primary (through the sentinels when REDIS_SENTINELS
   is set), authenticated; NULL after printing why. */
redisContext *redis_open(void)
{
    struct sentinel_config sc;
    char host[CONFIG_HOST_MAX];
    int port;
    redisContext *rd;

    if (sentinel_config_load(&sc) != 0)
        return NULL;
    if (sc.n) {
        rd = sentinel_connect(&sc, host, sizeof(host), &port);
    } else {
        if (config_port("REDIS_PORT", 6380, &port) != 0)
            return NULL;
        snprintf(host, sizeof(host), "%s", config_str("REDIS_HOST", "127.0.0.1"));
        rd = sentinel_dial(host, port, sc.password, 5000);
    }
    if (!rd) {
        error("redis: cannot connect (above)");
        return NULL;
    }
    struct timeval tv = {5, 0};
    redisSetTimeout(rd, tv);
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

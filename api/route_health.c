/*
 * GET /api/health: PostgreSQL and Redis, each asked once.
 * GET /api/ping: no I/O at all (the benchmarks' trivial baseline).
 */
#include "api.h"

/* Redis answered first: c->answer_status is 200 when it did, 503 when it is down. */
static void health_answer(struct rctx *c, int pg_ok)
{
    int redis_ok = c->answer_status == 200;
    int ok = pg_ok && redis_ok;
    json_t *body = json_pack("{s:s, s:{s:s, s:s}}", "status", ok ? "ok" : "degraded", "checks",
                             "postgres", pg_ok ? "ok" : "down", "redis", redis_ok ? "ok" : "down");
    respond_json(c, ok ? 200 : 503, body);
}

static void on_pg(PGresult *res, struct rctx *c)
{
    if (rctx_unref_live(c))
        health_answer(c, res && PQresultStatus(res) == PGRES_TUPLES_OK);
}

static void on_redis(redisReply *r, struct rctx *c)
{
    if (!rctx_unref_live(c))
        return;
    c->answer_status = r && r->type == REDIS_REPLY_STATUS ? 200 : 503;
    pg_query(c, on_pg, "SELECT 1", 0, NULL);
}

void route_health(struct rctx *c)
{
    rcli_cmd(c, on_redis, "PING");
}

void route_ping(struct rctx *c)
{
    static const char body[] = "{\"pong\":true}";
    respond_raw(c, 200, body, sizeof(body) - 1);
}

/*
 * Balances and settlements, served from the cached view.
 *
 * One HMGET returns the view's version, the wanted body and whether the
 * caller is a member, all from one version. A miss (or a tombstone left by a
 * membership change, or Redis down) falls back to one PostgreSQL statement,
 * rebuilds both bodies with the worker's code, refills the cache through the
 * same compare-and-set, and answers.
 */
#include "api.h"

#include "cache.h"
#include "keys.h"
#include "view.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* c->type holds "balances" or "settlements". */

static void answer_body(struct rctx *c, int64_t version, const char *body, size_t len)
{
    add_etag(c, version);
    if (req_not_modified(c, version)) {
        respond_empty(c, 304);
        return;
    }
    respond_raw(c, 200, body, len);
}

static void on_view_db(PGresult *res, struct rctx *c)
{
    struct view v;
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    int n = PQntuples(res);
    if (n == 0) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    struct view_member *m = xcalloc((size_t)n, sizeof(*m));
    struct view_cmd cmd;
    for (int i = 0; i < n; i++) {
        m[i].id = PQgetvalue(res, i, 2);
        m[i].name = PQgetvalue(res, i, 3);
        m[i].user_id = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
        m[i].paid = atoll(PQgetvalue(res, i, 5));
        m[i].owed = atoll(PQgetvalue(res, i, 6));
        m[i].sent = atoll(PQgetvalue(res, i, 7));
        m[i].received = atoll(PQgetvalue(res, i, 8));
    }
    int64_t version = atoll(PQgetvalue(res, 0, 0));
    if (view_build(c->group_id, PQgetvalue(res, 0, 1), version, m, (size_t)n, &v) != 0) {
        respond_problem(c, PROBLEM_INTERNAL, "the group's balances are inconsistent", NULL);
        goto out;
    }
    /* Refill the cache; a newer view already there wins. An archived group is never cached:
       the access check must read it from PostgreSQL to refuse its writes. */
    if (PQgetvalue(res, 0, 9)[0] != 't') {
        view_cache_command(&cmd, c->group_id, PQgetvalue(res, 0, 1), version, &v, m, (size_t)n);
        rcli_script(NULL, NULL, &view_cache_script, cmd.argc - VIEW_CMD_ARGS,
                    cmd.argv + VIEW_CMD_ARGS, NULL);
        view_cmd_release(&cmd);
    }
    const char *body = strcmp(c->type, "balances") == 0 ? v.balances : v.settlements;
    answer_body(c, version, body, strlen(body));
    view_release(&v);
out:
    free(m);
}

static void view_from_db(struct rctx *c)
{
    const char *p[2] = {c->group_id, c->user_id};
    /* One statement: one snapshot, so version and balances agree. */
    pg_query(c, on_view_db,
             "SELECT g.version, g.currency, m.id, m.name, m.user_id,"
             " coalesce(b.paid, 0), coalesce(b.owed, 0), coalesce(b.sent, 0),"
             " coalesce(b.received, 0), g.archived_at IS NOT NULL FROM groups g"
             " JOIN members m ON m.group_id = g.id AND m.removed_at IS NULL LEFT JOIN balances b "
             "ON b.group_id = g.id AND b.member_id = m.id"
             " WHERE g.id = $1 AND EXISTS (SELECT 1 FROM members x WHERE x.group_id = g.id"
             " AND x.user_id = $2) ORDER BY m.position",
             2, p);
}

static void on_view(redisReply *r, struct rctx *c)
{
    if (!rctx_unref_live(c))
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        view_from_db(c);
        return;
    }
    int64_t version = atoll(r->element[0]->str);
    int has_body = r->element[1]->type == REDIS_REPLY_STRING;
    int member = r->element[2]->type == REDIS_REPLY_STRING;
    if (!has_body) {
        view_from_db(c); /* a tombstone: rebuild */
        return;
    }
    if (!member) {
        /* A full view lists every member with an account. */
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    answer_body(c, version, r->element[1]->str, r->element[1]->len);
}

static void view_authed(struct rctx *c)
{
    char key[96], field[48];
    if (take_group_id(c) != 0)
        return;
    keys_fmt(key, sizeof(key), "view", c->group_id);
    snprintf(field, sizeof(field), "u:%s", c->user_id);
    rcli_cmd(c, on_view, "HMGET %s version %s %s", key, c->type, field);
}

void route_balances(struct rctx *c)
{
    strcpy(c->type, "balances");
    auth_then(c, view_authed);
}

void route_settlements(struct rctx *c)
{
    strcpy(c->type, "settlements");
    auth_then(c, view_authed);
}

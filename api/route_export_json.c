/*
 * GET /api/v1/groups/{gid}/export.json: the group as one JSON document that
 * POST /groups/import takes back (format "splitter"):
 *
 *   {"format": "splitter", "version": 1, "group": {"name", "currency"},
 *    "members": [{"id", "name"}], "expenses": [...], "payments": [...]}
 *
 * A member removed from the group is there too (old entries name it), with
 * "removed": true; an import makes it an ordinary member again.
 * An expense or payment is its resource's request fields (shared/rows.h,
 * as the worker stores them) plus "id" and "created_at", oldest first
 * (expenses created in one second in the order they were applied).
 * Deleted ones are left out. PostgreSQL builds the document in one
 * statement (one snapshot); it answers with the group's version as ETag.
 */
#include "api.h"

#include "rows.h"

#include <stdlib.h>
#include <string.h>

/* $1 group, $2 caller. One row: version, document; none for a non-member. */
static const char export_json_sql[] =
    "SELECT g.version, json_build_object('format', 'splitter', 'version', 1,"
    " 'group', json_build_object('name', g.name, 'currency', g.currency),"
    " 'members', (SELECT coalesce(json_agg(json_strip_nulls(json_build_object('id', m.id,"
    "  'name', m.name, 'removed', CASE WHEN m.removed_at IS NOT NULL THEN true END))"
    "  ORDER BY m.position), '[]') FROM members m WHERE m.group_id = g.id),"
    " 'expenses', (SELECT coalesce(json_agg((" ROWS_EXPENSE_CONTENT(
        "x") ")::jsonb"
             "  || jsonb_build_object('id', x.id, 'created_at', rfc3339(x.created_at))"
             "  ORDER BY x.created_at, x.created_seq, x.id), '[]') FROM expenses x"
             "  WHERE x.group_id = g.id AND NOT x.deleted),"
             " 'payments', (SELECT coalesce(json_agg((" ROWS_PAYMENT_CONTENT(
                 "y") ")::jsonb"
                      "  || jsonb_build_object('id', y.id, 'created_at', rfc3339(y.created_at))"
                      "  ORDER BY y.created_at, y.id), '[]') FROM payments y"
                      "  WHERE y.group_id = g.id AND NOT y.deleted))::text"
                      " FROM groups g WHERE g.id = $1 AND EXISTS (SELECT 1 FROM members w"
                      " WHERE w.group_id = g.id AND w.user_id = $2)";

static void on_export(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    int64_t version = atoll(PQgetvalue(res, 0, 0));
    add_etag(c, version);
    if (req_not_modified(c, version)) {
        respond_empty(c, 304);
        return;
    }
    respond_raw(c, 200, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

static void export_json_authed(struct rctx *c)
{
    if (take_group_id(c) != 0)
        return;
    const char *p[2] = {c->group_id, c->user_id};
    pg_query(c, on_export, export_json_sql, 2, p);
}

/* Authentication first: no or a bad token is 401 whatever the path holds. */
void route_export_json(struct rctx *c)
{
    auth_then(c, export_json_authed);
}

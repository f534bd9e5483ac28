/*
 * Reading expenses: the group's list (newest first, keyset-paginated) and one
 * expense. Straight from PostgreSQL, which the worker has committed before it
 * announces an event, so a client that saw its write confirmed reads it here.
 *
 * Both build the resource with ledger_expense_resource (shared/ledger.c), the
 * function the worker uses for the audit log; Prefer: wait answers with the
 * same read (expense_answer_applied), so every route returns the same shape.
 *
 * ETags: the list is a group read and carries the group's version; one
 * expense carries its own version, the one PUT's If-Match expects.
 */
#include "api.h"

#include "ledger.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define TS_US(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Ten columns from an expenses row x; expense_from_row reads them. The
   request fields are built in the worker's order (worker/apply.c). */
#define EXPENSE_COLS                                                                               \
    "json_build_object('description', x.description, 'amount', x.amount, 'currency',"              \
    " x.currency, 'exchange_rate', x.exchange_rate, 'date', to_char(x.date, 'YYYY-MM-DD'),"        \
    " 'category', x.category, 'paid_by', x.paid_by, 'split', x.split)::text, x.id, x.group_id,"    \
    " x.amount_in_group_currency, x.shares::text, x.created_by, " TS("x.created_at") ", " TS(      \
        "x.updated_at") ", x.version, " TS_US("x.created_at")

enum {
    COL_CONTENT,
    COL_ID,
    COL_GROUP,
    COL_AMOUNT_GROUP,
    COL_SHARES,
    COL_CREATED_BY,
    COL_CREATED_AT,
    COL_UPDATED_AT,
    COL_VERSION,
    COL_KEY,
    N_COLS
};

static int db_failed(struct rctx *c, PGresult *res)
{
    if (respond_db_failed(c, res))
        return 1;
    if (PQnfields(res) < N_COLS) {
        respond_problem(c, PROBLEM_INTERNAL, "the database answered an unexpected shape", NULL);
        return 1;
    }
    return 0;
}

/* The resource of the expense in row (columns from o on). New reference, or
   NULL when the stored JSON is malformed. */
static json_t *expense_from_row(const PGresult *res, int row, int o)
{
    json_t *content = json_loads(PQgetvalue(res, row, o + COL_CONTENT), 0, NULL);
    json_t *shares = json_loads(PQgetvalue(res, row, o + COL_SHARES), 0, NULL);
    struct ledger_owed *owed = NULL;
    size_t n = 0, i;
    json_t *sh, *r = NULL;

    if (!json_is_object(content) || !json_is_array(shares))
        goto out;
    owed = xcalloc(json_array_size(shares) + 1, sizeof(*owed));
    json_array_foreach(shares, i, sh)
    {
        const json_t *mid = json_object_get(sh, "member_id");
        if (!json_is_string(mid))
            continue;
        owed[n].member_id = json_string_value(mid);
        owed[n].owed = json_integer_value(json_object_get(sh, "owed"));
        n++;
    }
    struct ledger_expense_meta m = {
        .id = PQgetvalue(res, row, o + COL_ID),
        .group_id = PQgetvalue(res, row, o + COL_GROUP),
        .created_by = PQgetvalue(res, row, o + COL_CREATED_BY),
        .created_at = PQgetvalue(res, row, o + COL_CREATED_AT),
        .updated_at = PQgetvalue(res, row, o + COL_UPDATED_AT),
        .amount_group = atoll(PQgetvalue(res, row, o + COL_AMOUNT_GROUP)),
        .version = atoll(PQgetvalue(res, row, o + COL_VERSION)),
    };
    r = ledger_expense_resource(content, &m, owed, n);
out:
    free(owed);
    json_decref(shares);
    json_decref(content);
    return r;
}

/* --- GET /api/v1/groups/{gid}/expenses ---------------------------------------------------- */

/* Rows: the group's version (column 0), then EXPENSE_COLS, NULL when the page
   is empty; no row at all when the caller is not a member. */
static void on_expenses(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_page_head(c, res) != 0)
        return;
    int n = PQntuples(res), limit = (int)c->version;
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        if (PQgetisnull(res, i, 1 + COL_ID))
            continue;
        json_t *x = expense_from_row(res, i, 1);
        if (!x) {
            json_decref(items);
            respond_problem(c, PROBLEM_INTERNAL, "a stored expense is malformed", NULL);
            return;
        }
        json_array_append_new(items, x);
    }
    json_t *body = json_pack("{s:o}", "items", items);
    if (n > limit) {
        char cursor[256];
        cursor_encode(PQgetvalue(res, limit - 1, 1 + COL_KEY),
                      PQgetvalue(res, limit - 1, 1 + COL_ID), cursor, sizeof(cursor));
        json_object_set_new(body, "next_cursor", json_string(cursor));
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    respond_json(c, 200, body);
}

static void expenses_list_authed(struct rctx *c)
{
    int limit;
    char key[PAGE_KEY_SIZE], id[37], lim[16];
    if (take_group_id(c) != 0 || page_params(c, &limit, key, id) != 0)
        return;
    c->version = limit;
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[5] = {c->group_id, c->user_id, key[0] ? key : NULL, id[0] ? id : NULL, lim};
    /* One statement: membership and the page in one snapshot. The page walks
       expenses_group_list (group_id, created_at DESC, id DESC) WHERE NOT
       deleted from the cursor on: no OFFSET, cost independent of depth. */
    pg_query(c, on_expenses,
             "SELECT g.version, e.* FROM groups g"
             " JOIN members me ON me.group_id = g.id AND me.user_id = $2"
             " LEFT JOIN LATERAL (SELECT " EXPENSE_COLS " FROM expenses x"
             "  WHERE x.group_id = g.id AND NOT x.deleted AND ($3::timestamptz IS NULL"
             "   OR (x.created_at, x.id) < ($3::timestamptz, $4::uuid))"
             "  ORDER BY x.created_at DESC, x.id DESC LIMIT $5::int) e ON true"
             " WHERE g.id = $1",
             5, p);
}

/* Authentication first: no or a bad token is 401 whatever the path holds. */
void route_expenses_list(struct rctx *c)
{
    auth_then(c, expenses_list_authed);
}

/* --- the answer to Prefer: wait ---------------------------------------------------------- */

static void on_applied_expense(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || db_failed(c, res))
        return;
    json_t *x = PQntuples(res) == 1 ? expense_from_row(res, 0, 0) : NULL;
    if (!x) {
        respond_problem(c, PROBLEM_INTERNAL, "the applied expense cannot be read", NULL);
        return;
    }
    add_etag(c, atoll(PQgetvalue(res, 0, COL_VERSION)));
    respond_json(c, c->result_status, x);
}

void expense_answer_applied(struct rctx *c, int status)
{
    /* A deleted expense answers too: the DELETE's result is its last state. */
    const char *p[2] = {c->target_id, c->group_id};
    c->result_status = status;
    pg_query(c, on_applied_expense,
             "SELECT " EXPENSE_COLS " FROM expenses x WHERE x.id = $1 AND x.group_id = $2", 2, p);
}

/* --- GET /api/v1/groups/{gid}/expenses/{eid} ---------------------------------------------- */

static void on_expense(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    if (PQgetisnull(res, 0, COL_ID)) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such expense", NULL);
        return;
    }
    int64_t version = atoll(PQgetvalue(res, 0, COL_VERSION));
    add_etag(c, version);
    if (req_not_modified(c, version)) {
        respond_empty(c, 304);
        return;
    }
    json_t *x = expense_from_row(res, 0, 0);
    if (!x) {
        respond_problem(c, PROBLEM_INTERNAL, "the stored expense is malformed", NULL);
        return;
    }
    respond_json(c, 200, x);
}

static void expense_get_authed(struct rctx *c)
{
    if (take_group_id(c) != 0)
        return;
    /* An id that is not a UUID matches no expense (NULL), after the
       membership check, like any unknown id. */
    if (ledger_is_uuid(c->seg[5]))
        memcpy(c->target_id, c->seg[5], 37);
    const char *p[3] = {c->group_id, c->target_id[0] ? c->target_id : NULL, c->user_id};
    pg_query(c, on_expense,
             "SELECT " EXPENSE_COLS " FROM groups g"
             " JOIN members me ON me.group_id = g.id AND me.user_id = $3"
             " LEFT JOIN expenses x ON x.id = $2::uuid AND x.group_id = g.id AND NOT x.deleted"
             " WHERE g.id = $1",
             3, p);
}

void route_expense_get(struct rctx *c)
{
    auth_then(c, expense_get_authed);
}

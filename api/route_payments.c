/*
 * Reading payments: one payment, and the answer to a payment write that
 * waited (Prefer: wait). Straight from PostgreSQL, which the worker has
 * committed before it announces an event.
 *
 * Both build the resource with ledger_payment_resource (shared/ledger.c), the
 * function the worker uses for waiting requests and the audit log, so every
 * route returns the same shape. One payment carries its own version as ETag,
 * the one PUT's and DELETE's If-Match expect.
 */
#include "api.h"

#include "ledger.h"

#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Seven columns from a payments row y; payment_from_row reads them. The
   request fields are built in ledger_payment_to_json's order. */
#define PAYMENT_COLS                                                                               \
    "json_build_object('from_member', y.from_member, 'to_member', y.to_member, 'amount',"          \
    " y.amount, 'date', to_char(y.date, 'YYYY-MM-DD'), 'note', y.note)::text, y.id, y.group_id,"   \
    " y.created_by, " TS("y.created_at") ", " TS("y.updated_at") ", y.version"

enum {
    COL_CONTENT,
    COL_ID,
    COL_GROUP,
    COL_CREATED_BY,
    COL_CREATED_AT,
    COL_UPDATED_AT,
    COL_VERSION
};

/* The resource of the payment in row. New reference, or NULL when the stored
   row cannot be read. */
static json_t *payment_from_row(const PGresult *res, int row)
{
    json_t *content = json_loads(PQgetvalue(res, row, COL_CONTENT), 0, NULL);
    if (!json_is_object(content)) {
        json_decref(content);
        return NULL;
    }
    struct ledger_expense_meta m = {
        .id = PQgetvalue(res, row, COL_ID),
        .group_id = PQgetvalue(res, row, COL_GROUP),
        .created_by = PQgetvalue(res, row, COL_CREATED_BY),
        .created_at = PQgetvalue(res, row, COL_CREATED_AT),
        .updated_at = PQgetvalue(res, row, COL_UPDATED_AT),
        .version = atoll(PQgetvalue(res, row, COL_VERSION)),
    };
    json_t *r = ledger_payment_resource(content, &m);
    json_decref(content);
    return r;
}

/* --- the answer to Prefer: wait ------------------------------------------------------------ */

static void on_applied_payment(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    json_t *p = PQntuples(res) == 1 ? payment_from_row(res, 0) : NULL;
    if (!p) {
        respond_problem(c, PROBLEM_INTERNAL, "the applied payment cannot be read", NULL);
        return;
    }
    add_etag(c, atoll(PQgetvalue(res, 0, COL_VERSION)));
    respond_json(c, c->result_status, p);
}

void payment_answer_applied(struct rctx *c, int status)
{
    /* A deleted payment answers too: the DELETE's result is its last state. */
    const char *p[2] = {c->target_id, c->group_id};
    c->result_status = status;
    pg_query(c, on_applied_payment,
             "SELECT " PAYMENT_COLS " FROM payments y WHERE y.id = $1 AND y.group_id = $2", 2, p);
}

/* --- GET /api/v1/groups/{gid}/payments/{pid} ------------------------------------------------ */

static void on_payment(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    if (PQgetisnull(res, 0, COL_ID)) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such payment", NULL);
        return;
    }
    int64_t version = atoll(PQgetvalue(res, 0, COL_VERSION));
    add_etag(c, version);
    if (req_not_modified(c, version)) {
        respond_empty(c, 304);
        return;
    }
    json_t *p = payment_from_row(res, 0);
    if (!p) {
        respond_problem(c, PROBLEM_INTERNAL, "the stored payment is malformed", NULL);
        return;
    }
    respond_json(c, 200, p);
}

static void payment_get_authed(struct rctx *c)
{
    if (take_group_id(c) != 0)
        return;
    /* An id that is not a UUID matches no payment (NULL), after the
       membership check, like any unknown id. */
    if (ledger_is_uuid(c->seg[5]))
        memcpy(c->target_id, c->seg[5], 37);
    const char *p[3] = {c->group_id, c->target_id[0] ? c->target_id : NULL, c->user_id};
    pg_query(c, on_payment,
             "SELECT " PAYMENT_COLS " FROM groups g"
             " JOIN members me ON me.group_id = g.id AND me.user_id = $3"
             " LEFT JOIN payments y ON y.id = $2::uuid AND y.group_id = g.id AND NOT y.deleted"
             " WHERE g.id = $1",
             3, p);
}

void route_payment_get(struct rctx *c)
{
    auth_then(c, payment_get_authed);
}

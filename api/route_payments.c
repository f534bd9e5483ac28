/*
 * Payments. Writing one (POST, PUT, DELETE): after the access check, the
 * payment is validated in full with the shared code the worker runs and
 * handed to event_accept (route_ledger.c) as an event; a PUT or DELETE whose
 * If-Match the stored payment already passed is refused first.
 *
 * Reading payments: the group's list (newest first by date, then by creation;
 * keyset-paginated; deleted ones left out), one payment, and the answer to a
 * payment write that waited (Prefer: wait). Straight from PostgreSQL, which the worker has
 * committed before it announces an event.
 *
 * Both build the resource with ledger_payment_resource (shared/ledger.c), the
 * function the worker uses for waiting requests and the audit log, so every
 * route returns the same shape. One payment carries its own version as ETag,
 * the one PUT's and DELETE's If-Match expect.
 */
#include "api.h"

#include "ledger.h"
#include "rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seven columns from a payments row y; payment_from_row reads them. The
   request fields are built in ledger_payment_to_json's order. */
#define PAYMENT_COLS                                                                               \
    ROWS_PAYMENT_CONTENT("y")                                                                      \
    ", y.id, y.group_id,"                                                                          \
    " y.created_by, rfc3339(y.created_at), rfc3339(y.updated_at), y.version"

enum {
    COL_CONTENT,
    COL_ID,
    COL_GROUP,
    COL_CREATED_BY,
    COL_CREATED_AT,
    COL_UPDATED_AT,
    COL_VERSION,
    N_COLS
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

/* --- GET /api/v1/groups/{gid}/payments ----------------------------------------------------- */

/* Rows: the group's version (column 0), then PAYMENT_COLS and the cursor key,
   NULL when the page is empty; no row at all when the caller is not a member. */
static void on_payments(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_page_head(c, res) != 0)
        return;
    int n = PQntuples(res), limit = c->page_limit;
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        if (PQgetisnull(res, i, 1 + COL_ID))
            continue;
        /* The row's payment columns start at 1. */
        json_t *content = json_loads(PQgetvalue(res, i, 1 + COL_CONTENT), 0, NULL);
        struct ledger_expense_meta m = {
            .id = PQgetvalue(res, i, 1 + COL_ID),
            .group_id = PQgetvalue(res, i, 1 + COL_GROUP),
            .created_by = PQgetvalue(res, i, 1 + COL_CREATED_BY),
            .created_at = PQgetvalue(res, i, 1 + COL_CREATED_AT),
            .updated_at = PQgetvalue(res, i, 1 + COL_UPDATED_AT),
            .version = atoll(PQgetvalue(res, i, 1 + COL_VERSION)),
        };
        if (!json_is_object(content)) {
            json_decref(content);
            json_decref(items);
            respond_problem(c, PROBLEM_INTERNAL, "a stored payment is malformed", NULL);
            return;
        }
        json_array_append_new(items, ledger_payment_resource(content, &m));
        json_decref(content);
    }
    json_t *body = json_pack("{s:o}", "items", items);
    if (n > limit) {
        char cursor[256];
        cursor_encode(PQgetvalue(res, limit - 1, 1 + COL_VERSION + 1),
                      PQgetvalue(res, limit - 1, 1 + COL_ID), cursor, sizeof(cursor));
        json_object_set_new(body, "next_cursor", json_string(cursor));
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    respond_json(c, 200, body);
}

static void payments_list_authed(struct rctx *c)
{
    int limit;
    char key[PAGE_KEY_SIZE], id[UUID_STR_SIZE], lim[16], date[11] = "", secs[24] = "";
    if (take_group_id(c) != 0 || page_params(c, &limit, key, id) != 0)
        return;
    if (key[0]) {
        long long s;
        int end = 0;
        if (sscanf(key, "%10[0-9-]:%lld%n", date, &s, &end) != 2 || key[end] ||
            !ledger_is_date(date) || s < 0) {
            struct fields f = {0};
            fields_add(&f, "cursor", "is not a cursor of this list");
            respond_problem(c, PROBLEM_VALIDATION, "invalid pagination parameters", &f);
            return;
        }
        snprintf(secs, sizeof(secs), "%lld", s);
    }
    c->page_limit = limit;
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[6] = {c->group_id,          c->user_id,         key[0] ? date : NULL,
                        key[0] ? secs : NULL, key[0] ? id : NULL, lim};
    /* One statement: membership and the page in one snapshot, walking
       payments_group_date (group_id, date DESC, created_at DESC, id DESC)
       WHERE NOT deleted from the cursor on. */
    pg_query(c, on_payments,
             "SELECT g.version, y.* FROM groups g"
             " JOIN members me ON me.group_id = g.id AND me.user_id = $2"
             " LEFT JOIN LATERAL (SELECT " PAYMENT_COLS ", to_char(y.date, 'YYYY-MM-DD') || ':'"
             "  || extract(epoch FROM y.created_at)::bigint FROM payments y"
             "  WHERE y.group_id = g.id AND NOT y.deleted AND ($3::date IS NULL"
             "   OR (y.date, y.created_at, y.id) < ($3::date, to_timestamp($4::bigint), $5::uuid))"
             "  ORDER BY y.date DESC, y.created_at DESC, y.id DESC LIMIT $6::int) y ON true"
             " WHERE g.id = $1",
             6, p);
}

/* Authentication first: no or a bad token is 401 whatever the path holds. */
void route_payments_list(struct rctx *c)
{
    auth_then(c, payments_list_authed);
}

/* --- GET /api/v1/groups/{gid}/payments/{pid} ------------------------------------------------ */

const struct resource_kind payment_resource = {
    .what = "payment",
    .get_sql = "SELECT " PAYMENT_COLS " FROM groups g"
               " JOIN members me ON me.group_id = g.id AND me.user_id = $3"
               " LEFT JOIN payments y ON y.id = $2::uuid AND y.group_id = g.id"
               " AND NOT y.deleted WHERE g.id = $1",
    .applied_sql = "SELECT " PAYMENT_COLS " FROM payments y WHERE y.id = $1 AND y.group_id = $2",
    .n_cols = N_COLS,
    .id_col = COL_ID,
    .version_col = COL_VERSION,
    .from_row = payment_from_row,
};

static void payment_get_authed(struct rctx *c)
{
    resource_get(c, &payment_resource);
}

void route_payment_get(struct rctx *c)
{
    auth_then(c, payment_get_authed);
}

/* --- POST /groups/{gid}/payments, PUT and DELETE /groups/{gid}/payments/{pid} ------------- */

static void on_payment_version(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    /* Versions only grow: one already past If-Match can never match again.
       A payment not (yet) in the table may still be queued: the worker
       decides then. A request with an Idempotency-Key is left to the worker
       (event_accept). */
    if (PQntuples(res) == 1) {
        int64_t version = atoll(PQgetvalue(res, 0, 0));
        if (version > c->if_match) {
            c->refuse_code = PROBLEM_VERSION_CONFLICT;
            snprintf(c->refuse_detail, sizeof(c->refuse_detail),
                     "the payment is at version %lld, not %lld", (long long)version,
                     (long long)c->if_match);
        } else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0 && version == c->if_match) {
            c->refuse_code = PROBLEM_NOT_FOUND;
            snprintf(c->refuse_detail, sizeof(c->refuse_detail), "the payment was deleted");
        }
    }
    event_accept(c);
}

void route_payment_write(struct rctx *c)
{
    struct ledger_payment p;
    struct fields f = {0};
    char today[11];

    /* After access: a non-member gets 404 whatever it sends. */
    if (c->n_seg == 6) {
        if (!ledger_is_uuid(c->seg[5])) {
            respond_problem(c, PROBLEM_NOT_FOUND, "no such payment", NULL);
            return;
        }
        if (req_if_match_checked(c, 1, "payment") != 0)
            return;
        memcpy(c->target_id, c->seg[5], UUID_STR_SIZE);
    }
    if (strcmp(c->method, "DELETE") != 0) {
        if (req_parse_body(c, 0) != 0)
            return;
        ledger_today(today);
        if (ledger_payment_parse(c->doc.root, today, &p, &f) != 0) {
            respond_problem(c, PROBLEM_VALIDATION, "the payment is not valid", &f);
            return;
        }
        if (!access_is_member(c, p.from_member))
            fields_add(&f, "from_member", "is not a member of this group");
        if (!access_is_member(c, p.to_member))
            fields_add(&f, "to_member", "is not a member of this group");
        if (f.n) {
            ledger_payment_release(&p);
            respond_problem(c, PROBLEM_VALIDATION, "the payment names non-members", &f);
            return;
        }
        /* Sums stay in range (checked again when applied). */
        struct ledger_volume v = c->volume;
        if (ledger_volume_add(&v, 0, 0, p.amount, p.amount) != 0) {
            ledger_payment_release(&p);
            fields_add(&f, "amount", "is too large for this group's totals");
            respond_problem(c, PROBLEM_VALIDATION, LEDGER_RANGE_DETAIL, &f);
            return;
        }
        c->data = ledger_payment_to_json(&p);
        ledger_payment_release(&p);
    }
    if (strcmp(c->method, "POST") == 0) {
        new_uuid(c->target_id);
        event_set_type(c, EVENT_PAYMENT_CREATED);
        event_accept(c);
        return;
    }
    event_set_type(c,
                   strcmp(c->method, "PUT") == 0 ? EVENT_PAYMENT_REPLACED : EVENT_PAYMENT_DELETED);
    const char *p2[2] = {c->target_id, c->group_id};
    pg_query(c, on_payment_version,
             "SELECT version, deleted FROM payments WHERE id = $1 AND group_id = $2", 2, p2);
}

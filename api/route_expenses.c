/*
 * Expenses. Writing one (POST, PUT, DELETE): after the access check, the
 * expense is validated in full with the shared code the worker runs
 * (ledger_expense_parse, the members, the group's totals) and handed to
 * event_accept (route_ledger.c) as an event.
 *
 * Reading expenses: the group's list (newest first by the expense's date, then
 * by creation, latest first; keyset-paginated; filtered on request) and one
 * expense. Straight from PostgreSQL, which the worker has committed before it
 * announces an event, so a client that saw its write confirmed reads it here.
 *
 * Both build the resource with ledger_expense_resource (shared/ledger.c), the
 * function the worker uses for the audit log; Prefer: wait answers with the
 * same read (expense_resource), so every route returns the same shape.
 *
 * ETags: the list is a group read and carries the group's version; one
 * expense carries its own version, the one PUT's If-Match expects.
 */
#include "api.h"

#include "ledger.h"
#include "rows.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An expense's place in the list: its date, then its creation (the seq of the
   event that created it): "2026-11-20:42", the cursor's key. */
#define LIST_KEY "to_char(x.date, 'YYYY-MM-DD') || ':' || x.created_seq"

/* Ten columns from an expenses row x; expense_from_row reads them. The
   request fields are built in the worker's order (worker/load.c). */
#define EXPENSE_COLS                                                                               \
    ROWS_EXPENSE_CONTENT("x")                                                                      \
    ", x.id, x.group_id,"                                                                          \
    " x.amount_in_group_currency, x.shares::text, x.created_by, rfc3339(x.created_at),"            \
    " rfc3339(x.updated_at), x.version, " LIST_KEY

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
    int n = PQntuples(res), limit = c->page_limit;
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
        char cursor[256], key[PAGE_KEY_SIZE];
        snprintf(key, sizeof(key), "%s:%lu", PQgetvalue(res, limit - 1, 1 + COL_KEY),
                 (unsigned long)c->if_match);
        cursor_encode(key, PQgetvalue(res, limit - 1, 1 + COL_ID), cursor, sizeof(cursor));
        json_object_set_new(body, "next_cursor", json_string(cursor));
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    respond_json(c, 200, body);
}

/* The list's filters, as the query string gave them (NULL when absent). */
struct list_filters {
    char q[8 * LEDGER_DESCRIPTION_MAX + 3]; /* the LIKE pattern: %q%, metacharacters escaped */
    char payer[UUID_STR_SIZE], member[UUID_STR_SIZE], category[4 * LEDGER_CATEGORY_MAX + 1],
        from[11], to[11];
    int has_q, has_payer, has_member, has_category, has_from, has_to;
    uint32_t hash; /* of all of them: a cursor is only valid with the filters it was made for */
};

static void hash_add(uint32_t *h, const char *s, int present)
{
    for (; present && *s; s++)
        *h = (*h ^ (unsigned char)*s) * 16777619u;
    *h = (*h ^ (present ? 1u : 2u)) * 16777619u;
}

/* A text parameter of at most max_chars characters of valid UTF-8 into buf.
   1 present, 0 absent (or empty), -1 invalid (noted in f). */
static int text_param(struct rctx *c, const char *name, char *buf, size_t size, size_t max_chars,
                      struct fields *f)
{
    char raw[1024];
    if (!req_query(c, name, raw, sizeof(raw)) || raw[0] == '\0')
        return 0;
    json_t *valid = json_string(raw);
    size_t len = strlen(raw);
    json_decref(valid);
    if (!valid || len + 1 >= sizeof(raw) || json_utf8_length(raw) > max_chars || len >= size) {
        fields_add(f, name, "must be valid UTF-8 of at most %zu characters", max_chars);
        return -1;
    }
    memcpy(buf, raw, len + 1);
    return 1;
}

static int id_param(struct rctx *c, const char *name, char *buf, struct fields *f)
{
    char raw[64];
    if (!req_query(c, name, raw, sizeof(raw)))
        return 0;
    if (!ledger_is_uuid(raw)) {
        fields_add(f, name, "must be a member id (a lowercase UUID)");
        return -1;
    }
    memcpy(buf, raw, UUID_STR_SIZE);
    return 1;
}

static int date_param(struct rctx *c, const char *name, char *buf, struct fields *f)
{
    char raw[16];
    if (!req_query(c, name, raw, sizeof(raw)))
        return 0;
    if (!ledger_is_date(raw)) {
        fields_add(f, name, "must be a date YYYY-MM-DD");
        return -1;
    }
    memcpy(buf, raw, 11);
    return 1;
}

/* Read and check the filters; answers 422 naming the parameter and returns
   -1 when one is malformed. */
static int list_filters(struct rctx *c, struct list_filters *lf)
{
    struct fields f = {0};
    char q[4 * LEDGER_DESCRIPTION_MAX + 1];

    memset(lf, 0, sizeof(*lf));
    lf->has_q = text_param(c, "q", q, sizeof(q), LEDGER_DESCRIPTION_MAX, &f) == 1;
    lf->has_payer = id_param(c, "payer", lf->payer, &f) == 1;
    lf->has_member = id_param(c, "member", lf->member, &f) == 1;
    lf->has_category =
        text_param(c, "category", lf->category, sizeof(lf->category), LEDGER_CATEGORY_MAX, &f) == 1;
    lf->has_from = date_param(c, "from", lf->from, &f) == 1;
    lf->has_to = date_param(c, "to", lf->to, &f) == 1;
    if (lf->has_from && lf->has_to && strcmp(lf->from, lf->to) > 0)
        fields_add(&f, "to", "must not be before from");
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "invalid list filters", &f);
        return -1;
    }
    if (lf->has_q) {
        /* Contains, case-insensitive: the text between %...%, with LIKE's own
           metacharacters taken literally (ESCAPE '\'). */
        size_t o = 0;
        lf->q[o++] = '%';
        for (const char *s = q; *s; s++) {
            if (*s == '%' || *s == '_' || *s == '\\')
                lf->q[o++] = '\\';
            lf->q[o++] = *s;
        }
        lf->q[o++] = '%';
        lf->q[o] = '\0';
    }
    lf->hash = 2166136261u;
    hash_add(&lf->hash, q, lf->has_q);
    hash_add(&lf->hash, lf->payer, lf->has_payer);
    hash_add(&lf->hash, lf->member, lf->has_member);
    hash_add(&lf->hash, lf->category, lf->has_category);
    hash_add(&lf->hash, lf->from, lf->has_from);
    hash_add(&lf->hash, lf->to, lf->has_to);
    return 0;
}

/* The cursor's key "<date>:<created_seq>:<filters hash>" into date and seq;
   -1 when malformed or made for other filters (422 answered). */
static int list_cursor(struct rctx *c, const char *key, uint32_t hash, char *date, char *seq)
{
    char d[16];
    long long created;
    unsigned long h;
    int end = 0;
    struct fields f = {0};

    if (sscanf(key, "%10[0-9-]:%lld:%lu%n", d, &created, &h, &end) != 3 || key[end] ||
        !ledger_is_date(d) || created < 0) {
        fields_add(&f, "cursor", "is not a cursor of this list");
    } else if (h != hash) {
        fields_add(&f, "cursor", "was made for other filters: use the same filters, or none");
    } else {
        memcpy(date, d, 11);
        snprintf(seq, 24, "%lld", created);
        return 0;
    }
    respond_problem(c, PROBLEM_VALIDATION, "invalid pagination parameters", &f);
    return -1;
}

void route_expenses_list(struct rctx *c)
{
    int limit;
    char key[PAGE_KEY_SIZE], id[UUID_STR_SIZE], lim[16], date[11] = "", seq[24] = "";
    struct list_filters lf;
    if (page_params(c, &limit, key, id) != 0 || list_filters(c, &lf) != 0)
        return;
    if (key[0] && list_cursor(c, key, lf.hash, date, seq) != 0)
        return;
    c->page_limit = limit;
    c->if_match = lf.hash; /* for the next cursor */
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[12] = {c->group_id,
                         c->user_id,
                         key[0] ? date : NULL,
                         key[0] ? seq : NULL,
                         key[0] ? id : NULL,
                         lf.has_q ? lf.q : NULL,
                         lf.has_payer ? lf.payer : NULL,
                         lf.has_member ? lf.member : NULL,
                         lf.has_category ? lf.category : NULL,
                         lf.has_from ? lf.from : NULL,
                         lf.has_to ? lf.to : NULL,
                         lim};
    /* One statement: membership and the page in one snapshot. The page walks
       expenses_group_date (group_id, date DESC, created_seq DESC, id DESC)
       WHERE NOT deleted from the cursor on: no OFFSET, cost independent of
       depth; the filters only skip rows. */
    pg_query(c, on_expenses,
             "SELECT g.version, e.* FROM groups g"
             " JOIN members me ON me.group_id = g.id AND me.user_id = $2"
             " LEFT JOIN LATERAL (SELECT " EXPENSE_COLS " FROM expenses x"
             "  WHERE x.group_id = g.id AND NOT x.deleted AND ($3::date IS NULL"
             "   OR (x.date, x.created_seq, x.id) < ($3::date, $4::bigint, $5::uuid))"
             "  AND ($6::text IS NULL OR x.description ILIKE $6 ESCAPE '\\'"
             "   OR x.category ILIKE $6 ESCAPE '\\')"
             "  AND ($7::text IS NULL OR EXISTS (SELECT 1 FROM json_array_elements(x.paid_by) p"
             "   WHERE p->>'member_id' = $7))"
             "  AND ($8::text IS NULL OR EXISTS (SELECT 1 FROM"
             "   json_array_elements(x.split->'members') s WHERE s->>'member_id' = $8)"
             "   OR EXISTS (SELECT 1 FROM json_array_elements(x.split->'items') i,"
             "   json_array_elements(i->'split'->'members') s WHERE s->>'member_id' = $8))"
             "  AND ($9::text IS NULL OR lower(x.category) = lower($9))"
             "  AND ($10::date IS NULL OR x.date >= $10::date)"
             "  AND ($11::date IS NULL OR x.date <= $11::date)"
             "  ORDER BY x.date DESC, x.created_seq DESC, x.id DESC LIMIT $12::int) e ON true"
             " WHERE g.id = $1",
             12, p);
}

/* --- GET /api/v1/groups/{gid}/expenses/{eid} ---------------------------------------------- */

static json_t *expense_row(const PGresult *res, int row)
{
    return expense_from_row(res, row, 0);
}

const struct resource_kind expense_resource = {
    .what = "expense",
    .get_sql = "SELECT " EXPENSE_COLS " FROM groups g"
               " JOIN members me ON me.group_id = g.id AND me.user_id = $3"
               " LEFT JOIN expenses x ON x.id = $2::uuid AND x.group_id = g.id"
               " AND NOT x.deleted WHERE g.id = $1",
    .applied_sql = "SELECT " EXPENSE_COLS " FROM expenses x WHERE x.id = $1 AND x.group_id = $2",
    .n_cols = N_COLS,
    .id_col = COL_ID,
    .version_col = COL_VERSION,
    .from_row = expense_row,
};

static void expense_get_authed(struct rctx *c)
{
    resource_get(c, &expense_resource);
}

void route_expense_get(struct rctx *c)
{
    auth_then(c, expense_get_authed);
}

/* --- POST /groups/{gid}/expenses, PUT and DELETE /groups/{gid}/expenses/{eid} ------------- */

void route_expense_write(struct rctx *c)
{
    struct ledger_expense e;
    struct fields f = {0};
    char today[11];

    /* After access: a non-member gets 404 whatever it sends. */
    if (c->n_seg == 6) {
        if (!ledger_is_uuid(c->seg[5])) {
            respond_problem(c, PROBLEM_NOT_FOUND, "no such expense", NULL);
            return;
        }
        if (req_if_match_checked(c, strcmp(c->method, "PUT") == 0, "expense") != 0)
            return;
    }
    if (strcmp(c->method, "DELETE") == 0) {
        memcpy(c->target_id, c->seg[5], UUID_STR_SIZE);
        event_set_type(c, EVENT_EXPENSE_DELETED);
        event_accept(c);
        return;
    }
    if (req_parse_body(c, 0) != 0)
        return;
    ledger_today(today);
    if (ledger_expense_parse(&c->doc, c->doc.root, c->group_currency, today, &e, &f) != 0) {
        respond_problem(c, PROBLEM_VALIDATION, "the expense is not valid", &f);
        return;
    }
    /* Occurrences are the schedule's: a client may keep an occurrence's
       "recurrence_of" when it replaces one (the worker checks it), never
       make one. */
    if (e.recurrence_of[0] && strcmp(c->method, "POST") == 0) {
        ledger_expense_release(&e);
        fields_add(&f, "recurrence_of", "is set by the schedule of a repeating expense only");
        respond_problem(c, PROBLEM_VALIDATION, "the expense is not valid", &f);
        return;
    }
    for (size_t i = 0; i < e.n_paid; i++) {
        if (!access_is_member(c, e.paid[i].member_id)) {
            char path[64];
            snprintf(path, sizeof(path), "paid_by[%zu].member_id", i);
            fields_add(&f, path, "is not a member of this group");
        }
    }
    for (size_t i = 0; i < e.n_split; i++) {
        if (!access_is_member(c, e.split[i].member_id)) {
            char sp[64], path[96];
            ledger_split_path(&e, i, sp, sizeof(sp));
            snprintf(path, sizeof(path), "%s.member_id", sp);
            fields_add(&f, path, "is not a member of this group");
        }
    }
    if (f.n) {
        ledger_expense_release(&e);
        respond_problem(c, PROBLEM_VALIDATION, "the expense names non-members", &f);
        return;
    }
    /* Sums stay in range (checked again when applied). A replacement counts
       as added, the expense it replaces still in the group's state. */
    struct ledger_volume v = c->volume;
    if (ledger_volume_add_expense(&v, &e) != 0) {
        ledger_expense_release(&e);
        fields_add(&f, "amount", "is too large for this group's totals");
        respond_problem(c, PROBLEM_VALIDATION, LEDGER_RANGE_DETAIL, &f);
        return;
    }
    c->data = ledger_expense_to_json(&e);
    ledger_expense_release(&e);
    if (strcmp(c->method, "POST") == 0) {
        new_uuid(c->target_id);
        event_set_type(c, EVENT_EXPENSE_CREATED);
    } else {
        memcpy(c->target_id, c->seg[5], UUID_STR_SIZE);
        event_set_type(c, EVENT_EXPENSE_REPLACED);
    }
    event_accept(c);
}

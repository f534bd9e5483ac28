/*
 * GET /api/v1/groups/{gid}/export.csv: the group's expenses and payments as
 * CSV (RFC 4180: CRLF line ends, fields with a comma, quote, CR or LF quoted,
 * quotes doubled), oldest first.
 *
 * Columns: type ("expense" or "payment"), id, date, created_at, description
 * (a payment's note), category, currency, amount (in that currency),
 * exchange_rate, amount_in_group_currency, then two per member in the
 * group's order: "<name> paid" and "<name> owed", in the group currency.
 * A member an expense does not involve has both cells empty. A payment from A
 * to B shows its amount as paid by A and owed by B, so over the whole file a
 * member's paid minus owed is their balance. Amounts are decimal strings
 * (money_format) in the currency's minor-unit exponent.
 *
 * Spreadsheet formula injection (OWASP): a cell that starts with = + - @, a
 * tab or a CR gets a leading apostrophe, so no spreadsheet evaluates it
 * (csv_cell, shared/csv.h).
 *
 * The body is streamed: keyset-batched queries over both tables (the indexes
 * on (group_id, created_at DESC, id DESC)), each batch formatted into one
 * reusable buffer and handed to h2o, the next query sent only when h2o asks
 * for more (proceed). Memory stays at one batch whatever the ledger's size.
 * Each batch is its own snapshot: a write applied during a long export shows
 * in the batches read after it (rows are never repeated or skipped, as the
 * cursor only moves forward).
 */
#include "api.h"

#include "csv.h"
#include "ledger.h"
#include "strbuf.h"
#include "money.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per query: about 20,000 member cells a batch, within 50..1000 rows. */
#define EXPORT_CELLS_PER_BATCH 20000

struct column {
    char id[UUID_STR_SIZE]; /* member id */
    size_t index;           /* its position in the group */
};

struct export
{
    h2o_generator_t gen; /* h2o hands it back to proceed */
    struct rctx *c;
    const struct currency *cur; /* the group's (static table) */
    size_t n_members;
    struct column *cols;                        /* owned, sorted by id */
    int64_t *paid, *owed;                       /* owned, per member, for the row being written */
    unsigned char *has;                         /* owned, per member: the row involves it */
    int batch;                                  /* rows per query */
    int started;                                /* the response's head went out */
    char key[PAGE_KEY_SIZE], id[UUID_STR_SIZE]; /* the last row written ("" before the first) */
    struct strbuf out;                          /* owned: the chunk h2o is sending */
};

static void buf_add(struct export *x, const char *s, size_t n)
{
    strbuf_addn(&x->out, s, n);
}

/* One cell (shared/csv: quoting and formula neutralising); first says whether
   it starts the line. */
static void cell(struct export *x, const char *s, int first)
{
    csv_cell(&x->out, s, first);
}

static void money_cell(struct export *x, int64_t amount, int exponent)
{
    char s[48];
    if (money_format(amount, exponent, s, sizeof(s)) < 0)
        snprintf(s, sizeof(s), "%lld", (long long)amount);
    cell(x, s, 0);
}

static int column_cmp(const void *a, const void *b)
{
    return strcmp(((const struct column *)a)->id, ((const struct column *)b)->id);
}

/* The member's position, or SIZE_MAX if not (or no longer) in the group. */
static size_t column_of(const struct export *x, const char *id)
{
    struct column k = {0};
    snprintf(k.id, sizeof(k.id), "%s", id);
    const struct column *c = bsearch(&k, x->cols, x->n_members, sizeof(k), column_cmp);
    return c ? c->index : SIZE_MAX;
}

static void export_release(struct rctx *c)
{
    struct export *x = c->work;
    if (!x)
        return;
    free(x->out.buf);
    free(x->cols);
    free(x->paid);
    free(x->owed);
    free(x->has);
}

/* Batch columns. */
enum {
    B_TYPE,
    B_ID,
    B_KEY,
    B_CREATED,
    B_DATE,
    B_DESC,
    B_CATEGORY,
    B_AMOUNT,
    B_CURRENCY,
    B_RATE,
    B_AMOUNT_GROUP,
    B_SHARES,
    B_FROM,
    B_TO,
    B_N
};

static void write_row(struct export *x, const PGresult *res, int r)
{
    int payment = strcmp(PQgetvalue(res, r, B_TYPE), "payment") == 0;
    const char *currency = payment ? x->cur->code : PQgetvalue(res, r, B_CURRENCY);
    const struct currency *cur = money_currency_find(currency);
    int64_t amount = atoll(PQgetvalue(res, r, B_AMOUNT));

    memset(x->has, 0, x->n_members);
    if (payment) {
        size_t from = column_of(x, PQgetvalue(res, r, B_FROM));
        size_t to = column_of(x, PQgetvalue(res, r, B_TO));
        if (from != SIZE_MAX) {
            x->has[from] = 1;
            x->paid[from] = amount;
            x->owed[from] = 0;
        }
        if (to != SIZE_MAX) {
            if (!x->has[to])
                x->paid[to] = 0;
            x->has[to] = 1;
            x->owed[to] = amount;
        }
    } else {
        json_t *shares = json_loads(PQgetvalue(res, r, B_SHARES), 0, NULL);
        size_t i;
        json_t *sh;
        json_array_foreach(shares, i, sh)
        {
            const char *mid = json_string_value(json_object_get(sh, "member_id"));
            size_t m = mid ? column_of(x, mid) : SIZE_MAX;
            if (m == SIZE_MAX)
                continue;
            x->has[m] = 1;
            x->paid[m] = json_integer_value(json_object_get(sh, "paid"));
            x->owed[m] = json_integer_value(json_object_get(sh, "owed"));
        }
        json_decref(shares);
    }
    cell(x, payment ? "payment" : "expense", 1);
    cell(x, PQgetvalue(res, r, B_ID), 0);
    cell(x, PQgetvalue(res, r, B_DATE), 0);
    cell(x, PQgetvalue(res, r, B_CREATED), 0);
    cell(x, PQgetvalue(res, r, B_DESC), 0);
    cell(x, PQgetvalue(res, r, B_CATEGORY), 0);
    cell(x, currency, 0);
    money_cell(x, amount, cur ? cur->exponent : 0);
    cell(x, payment ? "1" : PQgetvalue(res, r, B_RATE), 0);
    money_cell(x, atoll(PQgetvalue(res, r, B_AMOUNT_GROUP)), x->cur->exponent);
    for (size_t m = 0; m < x->n_members; m++) {
        if (!x->has[m]) {
            buf_add(x, ",,", 2);
            continue;
        }
        money_cell(x, x->paid[m], x->cur->exponent);
        money_cell(x, x->owed[m], x->cur->exponent);
    }
    buf_add(x, "\r\n", 2);
}

static void fetch_batch(struct rctx *c);

static void on_batch(PGresult *res, struct rctx *c)
{
    struct export *x = c->work;
    if (!x->started) {
        if (!rctx_unref_live(c))
            return;
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != B_N) {
            respond_problem(c, PROBLEM_UNAVAILABLE, "the database is unavailable", NULL);
            return;
        }
    } else {
        if (!rctx_unref_req(c))
            return;
        /* Too late for a status: cut the stream so the client sees it fail. */
        if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != B_N) {
            h2o_send(c->req, NULL, 0, H2O_SEND_STATE_ERROR);
            return;
        }
        x->out.len = 0; /* h2o asked for more: the previous chunk is sent */
    }
    int n = PQntuples(res);
    for (int r = 0; r < n; r++)
        write_row(x, res, r);
    if (n > 0) {
        snprintf(x->key, sizeof(x->key), "%s", PQgetvalue(res, n - 1, B_KEY));
        snprintf(x->id, sizeof(x->id), "%s", PQgetvalue(res, n - 1, B_ID));
    }
    if (!x->started) {
        x->started = 1;
        respond_stream_start(c, 200, "text/csv; charset=utf-8", &x->gen);
    }
    h2o_iovec_t chunk = h2o_iovec_init(x->out.buf, x->out.len);
    h2o_send(c->req, &chunk, 1, n < x->batch ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void fetch_batch(struct rctx *c)
{
    struct export *x = c->work;
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", x->batch);
    const char *p[4] = {c->group_id, x->key[0] ? x->key : NULL, x->id[0] ? x->id : NULL, lim};
    /* Each branch walks its index from the cursor on; the merge keeps the
       first $4 of both, in (created_at, id) order. */
    pg_query(c, on_batch,
             "SELECT type, id, k, created, date, description, category, amount, currency, rate,"
             " amount_group, shares, from_member, to_member FROM ("
             " (SELECT 'expense' AS type, x.id, x.created_at AS at, rfc3339_us(x.created_at) AS k,"
             "  rfc3339(x.created_at) AS created, to_char(x.date, 'YYYY-MM-DD') AS "
             "date,"
             "  x.description, x.category, x.amount, "
             "x.currency::text AS currency,"
             "  x.exchange_rate AS rate, "
             "x.amount_in_group_currency AS amount_group,"
             "  x.shares::text AS shares, NULL::uuid AS "
             "from_member, NULL::uuid AS to_member"
             "  FROM expenses x WHERE x.group_id = $1 AND "
             "NOT x.deleted"
             "  AND ($2::timestamptz IS NULL OR "
             "(x.created_at, x.id) > ($2::timestamptz, "
             "$3::uuid))"
             "  ORDER BY x.created_at, x.id LIMIT $4::int)"
             " UNION ALL"
             " (SELECT 'payment', p.id, "
             "p.created_at, rfc3339_us(p.created_at), rfc3339(p.created_at), to_char(p.date, "
             "'YYYY-MM-DD'), "
             "coalesce(p.note, ''), "
             "NULL,"
             "  p.amount, NULL, NULL, "
             "p.amount, NULL, "
             "p.from_member, p.to_member"
             "  FROM payments p WHERE "
             "p.group_id = $1 AND NOT "
             "p.deleted"
             "  AND ($2::timestamptz IS "
             "NULL OR (p.created_at, "
             "p.id) > ($2::timestamptz, "
             "$3::uuid))"
             "  ORDER BY p.created_at, "
             "p.id LIMIT $4::int)"
             ") u ORDER BY at, id LIMIT "
             "$4::int",
             4, p);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    struct export *x = H2O_STRUCT_FROM_MEMBER(struct export, gen, gen);
    fetch_batch(x->c);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    /* The client left; the pending query's callback sees c->req gone. */
    (void)gen;
    (void)req;
}

/* Percent-encoding of s for RFC 5987's ext-value, and a plain-ASCII
   fallback for filename="..." (quotes, backslashes, controls and non-ASCII
   replaced), so a group name can never break out of the header. */
static void content_disposition(struct rctx *c, const char *name)
{
    char plain[128], enc[1024], value[1280];
    size_t np = 0, ne = 0;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        int safe = *s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\' && *s != '/';
        if (np + 1 < sizeof(plain) - 8)
            plain[np++] = safe ? (char)*s : '_';
        int attr = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                   (*s >= '0' && *s <= '9') || strchr("!#$&+-.^_`|~", *s);
        if (ne + 4 >= sizeof(enc) - 8)
            continue;
        if (attr) {
            enc[ne++] = (char)*s;
        } else {
            enc[ne++] = '%';
            enc[ne++] = hex[*s >> 4];
            enc[ne++] = hex[*s & 15];
        }
    }
    plain[np] = enc[ne] = '\0';
    snprintf(value, sizeof(value), "attachment; filename=\"%s.csv\"; filename*=UTF-8''%s.csv",
             np ? plain : "export", ne ? enc : "export");
    add_header_name(c, "content-disposition", value);
}

/* Row: name, currency, version, members as [[id, name], ...] in order. */
static void on_group(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    int64_t version = atoll(PQgetvalue(res, 0, 2));
    add_etag(c, version);
    if (req_not_modified(c, version)) {
        respond_empty(c, 304);
        return;
    }
    json_t *members = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    struct export *x = xcalloc(1, sizeof(*x));
    c->work = x;
    c->release = export_release;
    x->c = c;
    x->gen.proceed = on_proceed;
    x->gen.stop = on_stop;
    x->cur = money_currency_find(PQgetvalue(res, 0, 1));
    x->n_members = json_array_size(members);
    if (!x->cur || !x->n_members) {
        json_decref(members);
        respond_problem(c, PROBLEM_INTERNAL, "the group is malformed", NULL);
        return;
    }
    x->cols = xcalloc(x->n_members, sizeof(*x->cols));
    x->paid = xcalloc(x->n_members, sizeof(*x->paid));
    x->owed = xcalloc(x->n_members, sizeof(*x->owed));
    x->has = xcalloc(x->n_members, 1);
    size_t per = EXPORT_CELLS_PER_BATCH / x->n_members;
    x->batch = per < 50 ? 50 : per > 1000 ? 1000 : (int)per;

    static const char *const head[] = {
        "type",     "id",       "date",   "created_at",    "description",
        "category", "currency", "amount", "exchange_rate", "amount_in_group_currency"};
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        cell(x, head[i], i == 0);
    for (size_t i = 0; i < x->n_members; i++) {
        const json_t *m = json_array_get(members, i);
        const char *id = json_string_value(json_array_get(m, 0));
        const char *name = json_string_value(json_array_get(m, 1));
        size_t len = strlen(name ? name : "") + 8;
        char *h = xmalloc(len);
        snprintf(x->cols[i].id, sizeof(x->cols[i].id), "%s", id ? id : "");
        x->cols[i].index = i;
        snprintf(h, len, "%s paid", name ? name : "");
        cell(x, h, 0);
        snprintf(h, len, "%s owed", name ? name : "");
        cell(x, h, 0);
        free(h);
    }
    buf_add(x, "\r\n", 2);
    qsort(x->cols, x->n_members, sizeof(*x->cols), column_cmp);
    json_decref(members);
    content_disposition(c, PQgetvalue(res, 0, 0));
    fetch_batch(c);
}

static void export_authed(struct rctx *c)
{
    if (take_group_id(c) != 0)
        return;
    const char *p[2] = {c->group_id, c->user_id};
    pg_query(c, on_group,
             "SELECT g.name, g.currency, g.version, (SELECT json_agg(json_build_array(m.id,"
             " m.name) ORDER BY m.position) FROM members m WHERE m.group_id = g.id)::text"
             " FROM groups g WHERE g.id = $1 AND EXISTS (SELECT 1 FROM members x"
             " WHERE x.group_id = g.id AND x.user_id = $2)",
             2, p);
}

/* Authentication first: no or a bad token is 401 whatever the path holds. */
void route_export(struct rctx *c)
{
    auth_then(c, export_authed);
}

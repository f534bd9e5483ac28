/*
 * write: step 4 of a batch (see apply.c): what the batch decided goes into
 * PostgreSQL in a fixed number of statements, each over column arrays
 * (PostgreSQL array literals built by the pgarr helpers): new rows are
 * inserted from unnest of the arrays, rows that change are updated from it.
 * The statements are queued (batch_queue) and go out in one pipeline with the
 * fence and the COMMIT: a small batch's whole write costs one round trip.
 *
 * Many new rows of one table (WRITE_COPY_ROWS or more) go in with COPY
 * instead: two round trips of its own (a COPY cannot be part of a pipeline),
 * but one pass over the rows with no array literal to parse, for a big batch,
 * where two round trips more do not count.
 */
#include "batch.h"

#include "json.h"
#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* New rows of a table from which on the batch writes them with COPY. */
#define WRITE_COPY_ROWS 32

/* --- PostgreSQL array literals ---------------------------------------------------------- */

void arr_text(struct pgarr *a, const char *s)
{
    strbuf_add(&a->sb, a->n++ ? "," : "{");
    if (!s) {
        strbuf_add(&a->sb, "NULL");
        return;
    }
    strbuf_add(&a->sb, "\"");
    /* Copy runs without a quote or backslash whole; escape those. */
    for (const char *p = s; *p;) {
        size_t run = strcspn(p, "\"\\");
        strbuf_addn(&a->sb, p, run);
        p += run;
        if (*p) {
            char esc[2] = {'\\', *p++};
            strbuf_addn(&a->sb, esc, 2);
        }
    }
    strbuf_add(&a->sb, "\"");
}

void arr_int(struct pgarr *a, int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%lld", (long long)v);
    arr_text(a, b);
}

const char *arr_done(struct pgarr *a)
{
    if (!a->done) {
        if (a->n == 0)
            strbuf_add(&a->sb, "{");
        strbuf_add(&a->sb, "}");
        a->done = 1;
    }
    return a->sb.buf;
}

void arr_free(struct pgarr *a)
{
    free(a->sb.buf);
    memset(a, 0, sizeof(*a));
}

/* --- COPY ------------------------------------------------------------------------------- */

/* Rows for COPY ... FROM STDIN in text format, built field by field. COPY
   inserts a batch of rows in one pass, with no per-row statement, parameter
   array or trigger: the cheapest way into PostgreSQL for rows that are new. */
struct copy {
    struct strbuf sb;
    size_t rows;
    int col;
};

static void copy_field(struct copy *c, const char *s)
{
    if (c->col++)
        strbuf_addn(&c->sb, "\t", 1);
    if (!s) {
        strbuf_addn(&c->sb, "\\N", 2);
        return;
    }
    /* Copy runs of ordinary bytes whole; escape the four COPY cares about. */
    for (const char *p = s; *p;) {
        size_t run = strcspn(p, "\\\t\n\r");
        strbuf_addn(&c->sb, p, run);
        p += run;
        if (*p) {
            char esc[2] = {'\\', *p == '\t' ? 't' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : '\\'};
            strbuf_addn(&c->sb, esc, 2);
            p++;
        }
    }
}

static void copy_int(struct copy *c, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    copy_field(c, buf);
}

static void copy_row_end(struct copy *c)
{
    strbuf_addn(&c->sb, "\n", 1);
    c->col = 0;
    c->rows++;
}

#define COPY_CHUNK ((size_t)1 << 20)

/* Send the rows with sql ("COPY t (cols) FROM STDIN"), after what is queued
   (COPY cannot be part of a pipeline); 0, or -1 (see batch_query). */
static int copy_run(struct batch *b, const char *sql, struct copy *c)
{
    PGconn *pg = b->w->pg;
    PGresult *res;
    int rc = 0;

    if (c->rows == 0)
        return 0;
    if (batch_flush(b) != 0)
        return -1;
    res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        batch_failed(b, res);
        return -1;
    }
    PQclear(res);
    /* In pieces of at most 1 MiB (libpq counts bytes in an int). A failure
       here means the connection is gone: the batch is left pending. */
    for (size_t off = 0; off < c->sb.len;) {
        size_t n = c->sb.len - off < COPY_CHUNK ? c->sb.len - off : COPY_CHUNK;
        if (PQputCopyData(pg, c->sb.buf + off, (int)n) != 1) {
            batch_failed(b, NULL);
            return -1;
        }
        off += n;
    }
    if (PQputCopyEnd(pg, NULL) != 1) {
        batch_failed(b, NULL);
        return -1;
    }
    /* The COPY's result, then NULL. */
    while ((res = PQgetResult(pg)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            if (rc == 0)
                batch_failed(b, res);
            else
                PQclear(res);
            rc = -1;
        } else {
            PQclear(res);
        }
    }
    return rc;
}

/* --- the rows ----------------------------------------------------------------------------- */

/* The columns of an applied event's row, in the order of the insert. */
enum {
    EV_ID,
    EV_GROUP,
    EV_SEQ,
    EV_TYPE,
    EV_ACTOR,
    EV_AT,
    EV_KEY,
    EV_PAYLOAD,
    EV_HASH,
    EV_BEFORE,
    EV_AFTER,
    EV_COLUMNS
};

/* One applied event's row, into COPY rows or the insert's column arrays. */
struct ev_sink {
    struct copy *copy;
    struct pgarr *cols;
    size_t col;
};

static void ev_text(struct ev_sink *s, const char *v)
{
    if (s->copy)
        copy_field(s->copy, v);
    else
        arr_text(&s->cols[s->col++], v);
}

static void ev_row(struct ev_sink *s, const struct entry *ev)
{
    char seq[24];
    snprintf(seq, sizeof(seq), "%lld", (long long)ev->seq);
    ev_text(s, ev->e.id);
    ev_text(s, ev->e.group_id);
    ev_text(s, seq);
    ev_text(s, event_type_name(ev->e.type));
    ev_text(s, ev->e.actor);
    ev_text(s, ev->e.accepted_at);
    ev_text(s, ev->e.idem);
    char *text = xstrndup(ev->text, ev->text_len);
    ev_text(s, text);
    free(text);
    char hex[2 + CHAIN_HEX_SIZE] = "\\x";
    chain_hex(ev->hash, hex + 2);
    ev_text(s, hex);
    /* The audit columns: what a replacement or deletion changed. A creation's
       payload already says all it did. */
    text = ev->before ? json_dump_compact(ev->before) : NULL;
    ev_text(s, text);
    free(text);
    text = ev->after ? json_dump_compact(ev->after) : NULL;
    ev_text(s, text);
    free(text);
    if (s->copy)
        copy_row_end(s->copy);
}

static int write_events(struct batch *b)
{
    struct copy rows = {0};
    struct pgarr ev_cols[EV_COLUMNS] = {0};
    struct pgarr rid = {0}, rgid = {0}, rtype = {0}, ractor = {0}, rat = {0}, rproblem = {0};
    struct pgarr aid = {0}, agid = {0}, atype = {0};
    const char *p[EV_COLUMNS];
    size_t n_applied = 0;
    int rc = -1;

    for (size_t i = 0; i < b->n_ev; i++)
        n_applied += b->ev[i].outcome == OUT_APPLIED;
    for (size_t i = 0; i < b->n_ev; i++) {
        struct entry *ev = &b->ev[i];
        if (ev->outcome == OUT_APPLIED) {
            size_t gi = idx_get(&b->gidx, ev->e.group_id);
            if (gi != SIZE_MAX && b->groups[gi].webhooks) {
                arr_text(&aid, ev->e.id);
                arr_text(&agid, ev->e.group_id);
                arr_text(&atype, event_type_name(ev->e.type));
            }
            struct ev_sink sink = {n_applied >= WRITE_COPY_ROWS ? &rows : NULL, ev_cols, 0};
            ev_row(&sink, ev);
        } else if (ev->outcome == OUT_REJECTED) {
            char *problem = json_dump_compact(ev->problem);
            arr_text(&rid, ev->e.id);
            arr_text(&rgid, ev->e.group_id);
            arr_text(&rtype, event_type_name(ev->e.type));
            arr_text(&ractor, ev->e.actor);
            arr_text(&rat, ev->e.accepted_at);
            arr_text(&rproblem, problem);
            free(problem);
        }
    }
    if (copy_run(b,
                 "COPY events (event_id, group_id, seq, type, actor, accepted_at, idempotency_key,"
                 " payload, hash, before, after) FROM STDIN",
                 &rows) != 0)
        goto out;
    if (ev_cols[EV_ID].n) {
        for (size_t c = 0; c < EV_COLUMNS; c++)
            p[c] = arr_done(&ev_cols[c]);
        batch_queue(b,
                    "INSERT INTO events (event_id, group_id, seq, type, actor, accepted_at,"
                    " idempotency_key, payload, hash, before, after) SELECT * FROM"
                    " unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::uuid[],"
                    " $6::timestamptz[], $7::text[], $8::json[], $9::bytea[], $10::json[],"
                    " $11::json[])",
                    EV_COLUMNS, p, NULL);
    }
    /* The webhook outbox: a delivery per applied event and webhook of its
       group that wants its type, in the same transaction (worker/webhooks.c
       sends them). Not sent at all when no group of the batch had a webhook
       as load_groups locked it (the common case). */
    if (aid.n) {
        const char *wp[3] = {arr_done(&aid), arr_done(&agid), arr_done(&atype)};
        batch_queue(b,
                    "INSERT INTO webhook_deliveries (webhook_id, event_id, type)"
                    " SELECT w.id, v.id, v.type FROM unnest($1::uuid[], $2::uuid[],"
                    " $3::text[]) AS v(id, group_id, type) JOIN webhooks w"
                    " ON w.group_id = v.group_id AND (w.events IS NULL OR v.type = ANY"
                    " (w.events))",
                    3, wp, NULL);
    }
    if (rid.n) {
        const char *rp[6] = {arr_done(&rid),    arr_done(&rgid), arr_done(&rtype),
                             arr_done(&ractor), arr_done(&rat),  arr_done(&rproblem)};
        batch_queue(b,
                    "INSERT INTO rejected_events (event_id, group_id, type, actor, accepted_at,"
                    " problem) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[],"
                    " $4::uuid[], $5::timestamptz[], $6::json[])",
                    6, rp, NULL);
    }
    rc = 0;
out:
    free(rows.sb.buf);
    for (size_t c = 0; c < EV_COLUMNS; c++)
        arr_free(&ev_cols[c]);
    arr_free(&rid), arr_free(&rgid), arr_free(&rtype), arr_free(&ractor), arr_free(&rat);
    arr_free(&rproblem), arr_free(&aid), arr_free(&agid), arr_free(&atype);
    return rc;
}

/* The shares column of x: [{"member_id", "paid", "owed"}], written directly
   (ids are UUIDs, amounts integers: nothing to escape). Caller frees. */
static char *shares_text(const struct projection *p, const struct projection_expense *x)
{
    struct strbuf sb = {0};
    char item[128];
    strbuf_add(&sb, "[");
    for (size_t k = 0; k < x->n_shares; k++) {
        snprintf(item, sizeof(item), "%s{\"member_id\":\"%s\",\"paid\":%lld,\"owed\":%lld}",
                 k ? "," : "", p->members[x->shares[k].member].id, (long long)x->shares[k].paid,
                 (long long)x->shares[k].owed);
        strbuf_add(&sb, item);
    }
    strbuf_add(&sb, "]");
    return sb.buf;
}

/* Where an expense row goes: one element of each column array of the insert
   (new) or of the update (the same columns in the same order, without the
   insert's last), or one COPY row (new, in a big batch). */
#define EXPENSE_COLUMNS 20

struct row_sink {
    struct copy *copy;
    struct pgarr *cols;
    size_t col;
    int insert; /* a new row: the columns that never change too */
};

static void sink_text(struct row_sink *s, const char *v)
{
    if (s->copy)
        copy_field(s->copy, v);
    else
        arr_text(&s->cols[s->col++], v);
}

static void sink_int(struct row_sink *s, int64_t v)
{
    if (s->copy)
        copy_int(s->copy, v);
    else
        arr_int(&s->cols[s->col++], v);
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void expense_row(const struct row_ref *r, struct row_sink *s)
{
    const struct projection *p = &r->g->proj;
    const struct projection_expense *x = &p->expenses[r->k];
    const json_t *c = x->content;
    char *pj = json_dump_compact(json_object_get(c, "paid_by"));
    char *sj = json_dump_compact(json_object_get(c, "split"));
    char *shj = shares_text(p, x);
    const json_t *rec = json_object_get(c, "recurrence");
    char *rj = json_is_object(rec) ? json_dump_compact(rec) : NULL;
    sink_text(s, x->id);
    sink_text(s, p->group_id);
    sink_text(s, jstr(c, "description"));
    sink_int(s, json_integer_value(json_object_get(c, "amount")));
    sink_text(s, jstr(c, "currency"));
    sink_text(s, jstr(c, "exchange_rate"));
    sink_int(s, x->amount_group);
    sink_text(s, jstr(c, "date"));
    sink_text(s, jstr(c, "category"));
    sink_text(s, pj);
    sink_text(s, sj);
    sink_text(s, x->created_by);
    sink_text(s, x->created_at);
    sink_text(s, x->updated_at);
    sink_int(s, x->version);
    sink_text(s, x->deleted ? "t" : "f");
    sink_int(s, x->seq);
    sink_text(s, shj);
    sink_text(s, rj);
    sink_text(s, jstr(c, "recurrence_of"));
    if (s->insert) /* never changes: not part of the update */
        sink_int(s, x->created_seq);
    free(pj);
    free(sj);
    free(shj);
    free(rj);
}

/* How one kind of row is written by write_rows: the groups' expenses or
   payments (payments 1), n_cols columns through a row_sink (n_insert_cols
   for a new row); state(r) says whether the item is unchanged (0), new
   (ROW_NEW: inserted) or held by the table when the batch began (ROW_STORED:
   updated). */
enum { ROW_NEW = 1, ROW_STORED = 2 };

#define ROW_MAX_COLUMNS 21

struct row_kind {
    int payments;
    size_t n_cols, n_insert_cols;
    const char *copy_sql;   /* COPY t (the insert's columns) FROM STDIN */
    const char *insert_sql; /* INSERT INTO t ... SELECT * FROM unnest($1 .. $n_insert_cols) */
    const char *update_sql; /* UPDATE t ... FROM unnest($1 .. $n_cols) */
    int (*state)(const struct row_ref *r);
    void (*row)(const struct row_ref *r, struct row_sink *s);
};

/* The items of kind k: new ones inserted by one statement (or COPY), the
   others updated in place by another, each over column arrays. 0, or -1
   (see batch_query). */
static int write_rows(struct batch *b, const struct row_kind *k)
{
    struct copy rows = {0};
    struct pgarr ins[ROW_MAX_COLUMNS] = {0}, upd[ROW_MAX_COLUMNS] = {0};
    const char *p[ROW_MAX_COLUMNS];
    size_t inserts = 0, updates = 0;
    int rc = -1;

    for (size_t i = 0; i < b->n_groups; i++) {
        const struct projection *pj = &b->groups[i].proj;
        size_t n = k->payments ? pj->n_payments : pj->n_expenses;
        for (size_t j = 0; j < n; j++) {
            struct row_ref r = {&b->groups[i], j};
            inserts += k->state(&r) == ROW_NEW;
        }
    }
    struct copy *copy = inserts >= WRITE_COPY_ROWS ? &rows : NULL;
    inserts = 0;
    for (size_t i = 0; i < b->n_groups; i++) {
        const struct projection *pj = &b->groups[i].proj;
        size_t n = k->payments ? pj->n_payments : pj->n_expenses;
        for (size_t j = 0; j < n; j++) {
            struct row_ref r = {&b->groups[i], j};
            int st = k->state(&r);
            if (!st)
                continue;
            struct row_sink sink = {st == ROW_STORED ? NULL : copy, st == ROW_STORED ? upd : ins, 0,
                                    st != ROW_STORED};
            k->row(&r, &sink);
            if (st == ROW_STORED)
                updates++;
            else if (copy)
                copy_row_end(copy);
            else
                inserts++;
        }
    }
    if (copy_run(b, k->copy_sql, &rows) != 0)
        goto out;
    if (inserts) {
        for (size_t c = 0; c < k->n_insert_cols; c++)
            p[c] = arr_done(&ins[c]);
        batch_queue(b, k->insert_sql, (int)k->n_insert_cols, p, NULL);
    }
    if (updates) {
        for (size_t c = 0; c < k->n_cols; c++)
            p[c] = arr_done(&upd[c]);
        batch_queue(b, k->update_sql, (int)k->n_cols, p, NULL);
    }
    rc = 0;
out:
    free(rows.sb.buf);
    for (size_t c = 0; c < ROW_MAX_COLUMNS; c++) {
        arr_free(&ins[c]);
        arr_free(&upd[c]);
    }
    return rc;
}

static int expense_state(const struct row_ref *r)
{
    const struct projection_expense *x = &r->g->proj.expenses[r->k];
    return !x->dirty ? 0 : x->stored ? ROW_STORED : ROW_NEW;
}

/* New expenses are inserted; those the table held are updated in place
   (who created them and when never change). */
static int write_expenses(struct batch *b)
{
    static const struct row_kind kind = {
        0,
        EXPENSE_COLUMNS,
        EXPENSE_COLUMNS + 1,
        "COPY expenses (id, group_id, description, amount, currency, exchange_rate,"
        " amount_in_group_currency, date, category, paid_by, split, created_by,"
        " created_at, updated_at, version, deleted, seq, shares, recurrence, recurrence_of,"
        " created_seq) FROM STDIN",
        "INSERT INTO expenses (id, group_id, description, amount, currency, exchange_rate,"
        " amount_in_group_currency, date, category, paid_by, split, created_by,"
        " created_at, updated_at, version, deleted, seq, shares, recurrence, recurrence_of,"
        " created_seq) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[],"
        " $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::date[], $9::text[],"
        " $10::json[], $11::json[], $12::uuid[], $13::timestamptz[], $14::timestamptz[],"
        " $15::bigint[], $16::boolean[], $17::bigint[], $18::json[], $19::json[],"
        " $20::uuid[], $21::bigint[])",
        "UPDATE expenses SET description = v.description, amount = v.amount,"
        " currency = v.currency, exchange_rate = v.exchange_rate,"
        " amount_in_group_currency = v.amg, date = v.date, category = v.category,"
        " paid_by = v.paid_by, split = v.split, updated_at = v.updated_at,"
        " version = v.version, deleted = v.deleted, seq = v.seq, shares = v.shares,"
        " recurrence = v.recurrence, recurrence_of = v.recurrence_of"
        " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[],"
        " $6::text[], $7::bigint[], $8::date[], $9::text[], $10::json[], $11::json[],"
        " $12::uuid[], $13::timestamptz[], $14::timestamptz[], $15::bigint[],"
        " $16::boolean[], $17::bigint[], $18::json[], $19::json[], $20::uuid[])"
        " AS v(id, group_id, description, amount, currency, exchange_rate, amg, date,"
        " category, paid_by, split, created_by, created_at, updated_at, version, deleted,"
        " seq, shares, recurrence, recurrence_of) WHERE expenses.id = v.id",
        expense_state,
        expense_row,
    };
    return write_rows(b, &kind);
}

/* Where a payment row goes, as for expenses: one element of each column
   array of the insert (new) or of the update (the same columns, in order). */
#define PAYMENT_COLUMNS 13

static void payment_row(const struct row_ref *r, struct row_sink *s)
{
    const struct projection_payment *py = &r->g->proj.payments[r->k];
    sink_text(s, py->id);
    sink_text(s, r->g->proj.group_id);
    sink_text(s, py->from);
    sink_text(s, py->to);
    sink_int(s, py->amount);
    sink_text(s, py->date);
    sink_text(s, py->note);
    sink_text(s, py->created_by);
    sink_text(s, py->created_at);
    sink_text(s, py->updated_at);
    sink_int(s, py->version);
    sink_text(s, py->deleted ? "t" : "f");
    sink_int(s, py->seq);
}

static int payment_state(const struct row_ref *r)
{
    const struct projection_payment *py = &r->g->proj.payments[r->k];
    return !py->dirty ? 0 : py->stored ? ROW_STORED : ROW_NEW;
}

static int write_payments(struct batch *b)
{
    static const struct row_kind kind = {
        1,
        PAYMENT_COLUMNS,
        PAYMENT_COLUMNS,
        "COPY payments (id, group_id, from_member, to_member, amount, date, note,"
        " created_by, created_at, updated_at, version, deleted, seq) FROM STDIN",
        "INSERT INTO payments (id, group_id, from_member, to_member, amount, date, note,"
        " created_by, created_at, updated_at, version, deleted, seq) SELECT * FROM"
        " unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::date[],"
        " $7::text[], $8::uuid[], $9::timestamptz[], $10::timestamptz[], $11::bigint[],"
        " $12::boolean[], $13::bigint[])",
        "UPDATE payments SET from_member = v.from_member, to_member = v.to_member,"
        " amount = v.amount, date = v.date, note = v.note, updated_at = v.updated_at,"
        " version = v.version, deleted = v.deleted, seq = v.seq"
        " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[],"
        " $6::date[], $7::text[], $8::uuid[], $9::timestamptz[], $10::timestamptz[],"
        " $11::bigint[], $12::boolean[], $13::bigint[])"
        " AS v(id, group_id, from_member, to_member, amount, date, note, created_by,"
        " created_at, updated_at, version, deleted, seq) WHERE payments.id = v.id",
        payment_state,
        payment_row,
    };
    return write_rows(b, &kind);
}

static void write_balances_and_groups(struct batch *b)
{
    struct pgarr gid = {0}, mid = {0}, paid = {0}, owed = {0}, sent = {0}, recv = {0};
    struct pgarr g = {0}, ver = {0}, seq = {0}, head = {0};

    for (size_t i = 0; i < b->n_groups; i++) {
        const struct projection *pj = &b->groups[i].proj;
        for (size_t k = 0; k < pj->n_members; k++) {
            const struct projection_member *m = &pj->members[k];
            if (!m->dirty)
                continue;
            arr_text(&gid, pj->group_id);
            arr_text(&mid, m->id);
            arr_int(&paid, m->paid);
            arr_int(&owed, m->owed);
            arr_int(&sent, m->sent);
            arr_int(&recv, m->received);
        }
    }
    for (size_t i = 0; i < b->n_groups; i++) {
        if (!b->groups[i].touched)
            continue;
        arr_text(&g, b->groups[i].proj.group_id);
        arr_int(&ver, b->groups[i].version);
        arr_int(&seq, b->groups[i].proj.last_seq);
        char hex[CHAIN_HEX_SIZE];
        chain_hex(b->groups[i].head, hex);
        arr_text(&head, hex);
    }
    if (mid.n) {
        const char *p[6] = {arr_done(&gid),  arr_done(&mid),  arr_done(&paid),
                            arr_done(&owed), arr_done(&sent), arr_done(&recv)};
        batch_queue(b,
                    "INSERT INTO balances (group_id, member_id, paid, owed, sent, received)"
                    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[],"
                    " $5::bigint[], $6::bigint[]) ON CONFLICT (group_id, member_id) DO UPDATE"
                    " SET paid = EXCLUDED.paid, owed = EXCLUDED.owed, sent = EXCLUDED.sent,"
                    " received = EXCLUDED.received",
                    6, p, NULL);
    }
    if (g.n) {
        const char *p[4] = {arr_done(&g), arr_done(&ver), arr_done(&seq), arr_done(&head)};
        batch_queue(b,
                    "UPDATE groups SET version = v.version, last_seq = v.last_seq,"
                    " head_hash = decode(v.head, 'hex') FROM unnest($1::uuid[], $2::bigint[],"
                    " $3::bigint[], $4::text[]) AS v(id, version, last_seq, head)"
                    " WHERE groups.id = v.id",
                    4, p, NULL);
    }
    arr_free(&gid), arr_free(&mid), arr_free(&paid), arr_free(&owed), arr_free(&sent);
    arr_free(&recv), arr_free(&g), arr_free(&ver), arr_free(&seq), arr_free(&head);
}

int write_batch(struct batch *b)
{
    if (write_events(b) != 0 || write_expenses(b) != 0 || write_payments(b) != 0)
        return -1;
    write_balances_and_groups(b);
    return 0;
}

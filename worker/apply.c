/*
 * apply: one batch of one partition's events in one PostgreSQL transaction.
 *
 * Each event runs inside a savepoint: a rejected event (stale If-Match, a
 * member that vanished, an overflow) is rolled back alone and recorded in
 * rejected_events, so it never takes its neighbours down. An event already
 * recorded (applied or rejected) is skipped: redelivery changes nothing.
 * Only after COMMIT are the cache, the event statuses and the acks written.
 */
#include "worker.h"

#include "cache.h"
#include "json.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "problem.h"
#include "view.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

enum outcome { OUT_APPLIED, OUT_DUPLICATE, OUT_REJECTED, OUT_RETRY };

/* What happened to one entry, published after commit. */
struct result {
    enum outcome outcome;
    char event_id[37], group_id[37], type[32];
    json_t *resource; /* owned; applied events */
    json_t *problem;  /* owned; rejected events */
};

/* An event's fields, borrowed from its parsed JSON. */
struct event {
    const char *id, *type, *group_id, *actor, *accepted_at, *idem, *target;
    int64_t if_match; /* 0 when absent */
    const json_t *data;
    const json_t *root;
};

/* A failed statement: the connection is gone (retry the batch later) or the
   statement was refused (reject this event). */
struct sqlerr {
    int broken;
    char sqlstate[6];
    char message[256];
};

static PGresult *q(struct worker *w, struct sqlerr *err, const char *sql, int n,
                   const char *const *params)
{
    PGresult *res = PQexecParams(w->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state ? state : "");
    snprintf(err->message, sizeof(err->message), "%s", PQresultErrorMessage(res));
    err->broken = PQstatus(w->pg) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
                  strncmp(state, "57", 2) == 0 || strcmp(state, "40001") == 0 ||
                  strcmp(state, "40P01") == 0;
    PQclear(res);
    return NULL;
}

static int exec0(struct worker *w, struct sqlerr *err, const char *sql)
{
    PGresult *r = q(w, err, sql, 0, NULL);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/* A PostgreSQL array literal of strings or numbers: {a,b,c}. Caller frees. */
struct strbuf {
    char *buf;
    size_t len, alloc;
};

static void sb_add(struct strbuf *sb, const char *s)
{
    size_t n = strlen(s);
    if (sb->len + n + 1 > sb->alloc) {
        sb->alloc = (sb->len + n + 1) * 2;
        sb->buf = xrealloc(sb->buf, sb->alloc);
    }
    memcpy(sb->buf + sb->len, s, n + 1);
    sb->len += n;
}

static void sb_addi(struct strbuf *sb, int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%lld", (long long)v);
    sb_add(sb, b);
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_event(const json_t *root, struct event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->root = root;
    ev->id = jstr(root, "event_id");
    ev->type = jstr(root, "type");
    ev->group_id = jstr(root, "group_id");
    ev->actor = jstr(root, "actor");
    ev->accepted_at = jstr(root, "accepted_at");
    ev->idem = jstr(root, "idempotency_key");
    ev->target = jstr(root, "expense_id");
    if (!ev->target)
        ev->target = jstr(root, "payment_id");
    ev->data = json_object_get(root, "data");
    if (json_is_integer(json_object_get(root, "if_match")))
        ev->if_match = json_integer_value(json_object_get(root, "if_match"));
    if (!ev->id || !ev->type || !ev->group_id || !ev->actor || !ev->accepted_at || !ev->target ||
        !ledger_is_uuid(ev->id) || !ledger_is_uuid(ev->group_id) || !ledger_is_uuid(ev->actor) ||
        !ledger_is_uuid(ev->target))
        return -1;
    return 0;
}

static void reject(struct result *r, enum problem_code code, const char *detail,
                   const struct fields *f)
{
    r->outcome = OUT_REJECTED;
    r->problem = problem_new(code, detail, f);
}

/* Fail unless every id in ids[0..n) is a member of the group. */
static int check_members(struct worker *w, struct sqlerr *err, const char *gid,
                         const char *const *ids, size_t n, struct result *r)
{
    struct strbuf arr = {0};
    PGresult *res;
    size_t distinct = 0;
    int rc = -1;

    sb_add(&arr, "{");
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(ids[i], ids[j]) == 0;
        if (seen)
            continue;
        if (distinct++)
            sb_add(&arr, ",");
        sb_add(&arr, ids[i]);
    }
    sb_add(&arr, "}");
    const char *p[2] = {gid, arr.buf};
    res = q(w, err, "SELECT count(*) FROM members WHERE group_id = $1 AND id = ANY($2::uuid[])", 2,
            p);
    if (!res)
        goto out;
    if ((size_t)atoll(PQgetvalue(res, 0, 0)) != distinct) {
        reject(r, PROBLEM_VALIDATION, "a member_id is not a member of this group", NULL);
        rc = 1;
    } else {
        rc = 0;
    }
    PQclear(res);
out:
    free(arr.buf);
    return rc;
}

/* Per-member paid/owed of an expense, payers and split members merged. */
struct delta {
    size_t n;
    const char *member[2 * LEDGER_MAX_MEMBERS];
    int64_t paid[2 * LEDGER_MAX_MEMBERS], owed[2 * LEDGER_MAX_MEMBERS];
};

static void delta_add(struct delta *d, const char *m, int64_t paid, int64_t owed)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->member[i], m) == 0) {
            d->paid[i] += paid; /* both bounded by amount_group: no overflow */
            d->owed[i] += owed;
            return;
        }
    }
    d->member[d->n] = m;
    d->paid[d->n] = paid;
    d->owed[d->n] = owed;
    d->n++;
}

/* Insert e's shares and add them to the balances. */
static int add_shares(struct worker *w, struct sqlerr *err, const char *gid, const char *eid,
                      const struct ledger_expense *e)
{
    struct delta *d = xcalloc(1, sizeof(*d));
    struct strbuf m = {0}, pos = {0}, paid = {0}, owed = {0};
    PGresult *res = NULL;
    int rc = -1;

    for (size_t i = 0; i < e->n_paid; i++)
        delta_add(d, e->paid[i].member_id, e->paid[i].computed, 0);
    for (size_t i = 0; i < e->n_split; i++)
        delta_add(d, e->split[i].member_id, 0, e->split[i].computed);
    sb_add(&m, "{");
    sb_add(&pos, "{");
    sb_add(&paid, "{");
    sb_add(&owed, "{");
    for (size_t i = 0; i < d->n; i++) {
        const char *sep = i ? "," : "";
        sb_add(&m, sep);
        sb_add(&m, d->member[i]);
        sb_add(&pos, sep);
        sb_addi(&pos, (int64_t)i);
        sb_add(&paid, sep);
        sb_addi(&paid, d->paid[i]);
        sb_add(&owed, sep);
        sb_addi(&owed, d->owed[i]);
    }
    sb_add(&m, "}");
    sb_add(&pos, "}");
    sb_add(&paid, "}");
    sb_add(&owed, "}");
    const char *p1[5] = {eid, m.buf, pos.buf, paid.buf, owed.buf};
    res = q(w, err,
            "INSERT INTO expense_shares (expense_id, member_id, position, paid, owed)"
            " SELECT $1, t.m, t.pos, t.pd, t.ow FROM unnest($2::uuid[], $3::int[], $4::bigint[],"
            " $5::bigint[]) AS t(m, pos, pd, ow)",
            5, p1);
    if (!res)
        goto out;
    PQclear(res);
    const char *p2[4] = {gid, m.buf, paid.buf, owed.buf};
    res = q(w, err,
            "INSERT INTO balances (group_id, member_id, paid, owed)"
            " SELECT $1, t.m, t.pd, t.ow FROM unnest($2::uuid[], $3::bigint[], $4::bigint[])"
            " AS t(m, pd, ow)"
            " ON CONFLICT (group_id, member_id) DO UPDATE SET paid = balances.paid + EXCLUDED.paid,"
            " owed = balances.owed + EXCLUDED.owed",
            4, p2);
    if (!res)
        goto out;
    PQclear(res);
    rc = 0;
out:
    free(m.buf);
    free(pos.buf);
    free(paid.buf);
    free(owed.buf);
    free(d);
    return rc;
}

/* Take an expense's current shares back out of the balances. */
static int remove_shares(struct worker *w, struct sqlerr *err, const char *gid, const char *eid,
                         int drop_rows)
{
    const char *p[2] = {eid, gid};
    PGresult *res = q(w, err,
                      "UPDATE balances b SET paid = b.paid - s.paid, owed = b.owed - s.owed"
                      " FROM expense_shares s WHERE s.expense_id = $1 AND b.group_id = $2"
                      " AND b.member_id = s.member_id",
                      2, p);
    if (!res)
        return -1;
    PQclear(res);
    if (!drop_rows)
        return 0;
    res = q(w, err, "DELETE FROM expense_shares WHERE expense_id = $1", 1, p);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* The expense resource from its stored row (after the event's changes). */
static json_t *load_expense(struct worker *w, struct sqlerr *err, const char *eid)
{
    const char *p[1] = {eid};
    PGresult *res = q(
        w, err,
        "SELECT json_build_object('id', e.id, 'group_id', e.group_id, 'description',"
        " e.description, 'amount', e.amount, 'currency', e.currency, 'exchange_rate',"
        " e.exchange_rate, 'amount_in_group_currency', e.amount_in_group_currency, 'date',"
        " to_char(e.date, 'YYYY-MM-DD'), 'category', e.category, 'paid_by', e.paid_by, 'split',"
        " e.split, 'shares', (SELECT coalesce(json_agg(json_build_object('member_id',"
        " x->>'member_id', 'amount', coalesce(s.owed, 0)) ORDER BY x.ord), '[]')"
        " FROM jsonb_array_elements(e.split->'members') WITH ORDINALITY AS x(x, ord)"
        " LEFT JOIN expense_shares s ON s.expense_id = e.id AND s.member_id = (x->>'member_id')::uuid),"
        " 'created_by', e.created_by, 'created_at', " TS_SQL("e.created_at") ", 'updated_at', "
        TS_SQL("e.updated_at") ", 'version', e.version)::text"
        " FROM expenses e WHERE e.id = $1",
        1, p);
    json_t *out = NULL;
    if (!res)
        return NULL;
    if (PQntuples(res) == 1)
        out = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (!out) {
        err->broken = 0;
        snprintf(err->message, sizeof(err->message), "expense %s not readable", eid);
    }
    return out;
}

/* Apply one expense create/replace/delete. 0 applied, 1 rejected, -1 error. */
static int apply_expense(struct worker *w, struct sqlerr *err, const struct event *ev,
                         const char *currency, const char *seq, struct result *r)
{
    struct ledger_expense e;
    struct fields f = {0};
    struct json_doc doc = {0};
    int creating = strcmp(ev->type, "expense.created") == 0;
    int deleting = strcmp(ev->type, "expense.deleted") == 0;
    PGresult *res;
    int rc = -1;
    char today[11];

    memset(&e, 0, sizeof(e));
    ledger_today(today);
    if (!deleting) {
        if (ledger_expense_parse(&doc, ev->data, currency, today, &e, &f) != 0) {
            reject(r, PROBLEM_VALIDATION, "the expense is not valid for this group", &f);
            return 1;
        }
        const char **ids = xcalloc(e.n_paid + e.n_split, sizeof(*ids));
        for (size_t i = 0; i < e.n_paid; i++)
            ids[i] = e.paid[i].member_id;
        for (size_t i = 0; i < e.n_split; i++)
            ids[e.n_paid + i] = e.split[i].member_id;
        int mc = check_members(w, err, ev->group_id, ids, e.n_paid + e.n_split, r);
        free(ids);
        if (mc != 0) {
            rc = mc;
            goto out;
        }
    }
    if (!creating) {
        const char *p[2] = {ev->target, ev->group_id};
        res = q(w, err,
                "SELECT version, deleted FROM expenses WHERE id = $1 AND group_id = $2 FOR UPDATE",
                2, p);
        if (!res)
            goto out;
        if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
            PQclear(res);
            reject(r, PROBLEM_NOT_FOUND, "the expense does not exist or was deleted", NULL);
            rc = 1;
            goto out;
        }
        int64_t version = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (ev->if_match && ev->if_match != version) {
            char detail[128];
            snprintf(detail, sizeof(detail), "the expense is at version %lld, not %lld",
                     (long long)version, (long long)ev->if_match);
            reject(r, PROBLEM_VERSION_CONFLICT, detail, NULL);
            rc = 1;
            goto out;
        }
        if (remove_shares(w, err, ev->group_id, ev->target, !deleting) != 0)
            goto out;
    }
    if (deleting) {
        const char *p[3] = {ev->target, ev->accepted_at, seq};
        res = q(w, err,
                "UPDATE expenses SET deleted = true, version = version + 1, updated_at = $2,"
                " seq = $3 WHERE id = $1",
                3, p);
        if (!res)
            goto out;
        PQclear(res);
    } else {
        json_t *norm = ledger_expense_to_json(&e);
        char *paid = json_dump_compact(json_object_get(norm, "paid_by"));
        char *split = json_dump_compact(json_object_get(norm, "split"));
        char amount[24], amount_group[24];
        snprintf(amount, sizeof(amount), "%lld", (long long)e.amount);
        snprintf(amount_group, sizeof(amount_group), "%lld", (long long)e.amount_group);
        const char *p[13] = {ev->target,
                             ev->group_id,
                             e.description,
                             amount,
                             e.currency,
                             json_string_value(json_object_get(norm, "exchange_rate")),
                             amount_group,
                             e.date,
                             e.category,
                             paid,
                             split,
                             ev->actor,
                             ev->accepted_at};
        const char *p14[14];
        memcpy(p14, p, sizeof(p));
        p14[13] = seq;
        res = q(w, err,
                creating ? "INSERT INTO expenses (id, group_id, description, amount, currency,"
                           " exchange_rate, amount_in_group_currency, date, category, paid_by,"
                           " split, created_by, created_at, updated_at, seq) VALUES ($1, $2, $3,"
                           " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)"
                           " ON CONFLICT (id) DO NOTHING"
                         : "UPDATE expenses SET description = $3, amount = $4, currency = $5,"
                           " exchange_rate = $6, amount_in_group_currency = $7, date = $8,"
                           " category = $9, paid_by = $10, split = $11, updated_at = $13,"
                           " version = version + 1, seq = $14 WHERE id = $1 AND group_id = $2"
                           " AND $12::uuid IS NOT NULL",
                14, p14);
        free(paid);
        free(split);
        json_decref(norm);
        if (!res)
            goto out;
        int affected = atoi(PQcmdTuples(res));
        PQclear(res);
        if (affected != 1) {
            reject(r, PROBLEM_VERSION_CONFLICT, "an expense with this id already exists", NULL);
            rc = 1;
            goto out;
        }
        if (add_shares(w, err, ev->group_id, ev->target, &e) != 0)
            goto out;
    }
    r->resource = load_expense(w, err, ev->target);
    rc = r->resource ? 0 : -1;
out:
    ledger_expense_release(&e);
    json_doc_release(&doc);
    return rc;
}

static int apply_payment(struct worker *w, struct sqlerr *err, const struct event *ev,
                         const char *seq, struct result *r)
{
    struct ledger_payment pay;
    struct fields f = {0};
    PGresult *res;
    char today[11], amount[24];
    int rc = -1;

    ledger_today(today);
    if (ledger_payment_parse(ev->data, today, &pay, &f) != 0) {
        reject(r, PROBLEM_VALIDATION, "the payment is not valid", &f);
        return 1;
    }
    const char *ids[2] = {pay.from_member, pay.to_member};
    int mc = check_members(w, err, ev->group_id, ids, 2, r);
    if (mc != 0) {
        rc = mc;
        goto out;
    }
    snprintf(amount, sizeof(amount), "%lld", (long long)pay.amount);
    const char *p[10] = {ev->target, ev->group_id, pay.from_member, pay.to_member,   amount,
                         pay.date,   pay.note,     ev->actor,       ev->accepted_at, seq};
    res = q(w, err,
            "INSERT INTO payments (id, group_id, from_member, to_member, amount, date, note,"
            " created_by, created_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (id) DO NOTHING",
            10, p);
    if (!res)
        goto out;
    int affected = atoi(PQcmdTuples(res));
    PQclear(res);
    if (affected != 1) {
        reject(r, PROBLEM_VERSION_CONFLICT, "a payment with this id already exists", NULL);
        rc = 1;
        goto out;
    }
    const char *pb[4] = {ev->group_id, pay.from_member, pay.to_member, amount};
    res = q(w, err,
            "INSERT INTO balances (group_id, member_id, sent, received)"
            " VALUES ($1, $2, $4, 0), ($1, $3, 0, $4)"
            " ON CONFLICT (group_id, member_id) DO UPDATE SET sent = balances.sent + EXCLUDED.sent,"
            " received = balances.received + EXCLUDED.received",
            4, pb);
    if (!res)
        goto out;
    PQclear(res);
    r->resource = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:s, s:s}", "id", ev->target,
                            "group_id", ev->group_id, "from_member", pay.from_member, "to_member",
                            pay.to_member, "amount", (json_int_t)pay.amount, "date", pay.date,
                            "note", pay.note ? json_string(pay.note) : json_null(), "created_by",
                            ev->actor, "created_at", ev->accepted_at);
    rc = 0;
out:
    ledger_payment_release(&pay);
    return rc;
}

/* Apply one event inside the open transaction. Returns 0 (r filled), or -1
   when the whole batch must be retried (connection lost). */
static int apply_one(struct worker *w, const struct event *ev, const char *entry_text,
                     struct result *r)
{
    struct sqlerr err = {0};
    PGresult *res;
    const char *p1[1] = {ev->id};
    int rc;

    res = q(w, &err,
            "SELECT 'applied' FROM events WHERE event_id = $1"
            " UNION ALL SELECT 'rejected' FROM rejected_events WHERE event_id = $1",
            1, p1);
    if (!res)
        return -1;
    if (PQntuples(res) > 0) {
        PQclear(res);
        r->outcome = OUT_DUPLICATE;
        return 0;
    }
    PQclear(res);
    if (exec0(w, &err, "SAVEPOINT ev") != 0)
        return -1;

    const char *p2[1] = {ev->group_id};
    res = q(w, &err,
            "UPDATE groups SET version = version + 1, last_seq = last_seq + 1 WHERE id = $1"
            " RETURNING version, last_seq, currency",
            1, p2);
    if (!res)
        goto sql_failed;
    if (PQntuples(res) != 1) {
        PQclear(res);
        reject(r, PROBLEM_NOT_FOUND, "the group does not exist", NULL);
        goto rejected;
    }
    char seq[24], currency[4];
    snprintf(seq, sizeof(seq), "%s", PQgetvalue(res, 0, 1));
    snprintf(currency, sizeof(currency), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);

    if (strncmp(ev->type, "expense.", 8) == 0)
        rc = apply_expense(w, &err, ev, currency, seq, r);
    else if (strcmp(ev->type, "payment.created") == 0)
        rc = apply_payment(w, &err, ev, seq, r);
    else {
        reject(r, PROBLEM_VALIDATION, "unknown event type", NULL);
        rc = 1;
    }
    if (rc < 0)
        goto sql_failed;
    if (rc > 0)
        goto rejected;

    const char *p3[7] = {ev->id, ev->group_id, seq, ev->type, ev->actor, ev->accepted_at, ev->idem};
    const char *p4[8];
    memcpy(p4, p3, sizeof(p3));
    p4[7] = entry_text;
    res = q(w, &err,
            "INSERT INTO events (event_id, group_id, seq, type, actor, accepted_at,"
            " idempotency_key, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            8, p4);
    if (!res)
        goto sql_failed;
    PQclear(res);
    if (exec0(w, &err, "RELEASE SAVEPOINT ev") != 0)
        return -1;
    r->outcome = OUT_APPLIED;
    return 0;

sql_failed:
    if (err.broken)
        return -1;
    /* Refused by PostgreSQL (an overflow, a constraint): reject this one. */
    log_warn("apply: event '%s' refused: %s", ev->id, err.message);
    json_decref(r->resource);
    r->resource = NULL;
    json_decref(r->problem);
    reject(r,
           strcmp(err.sqlstate, "22003") == 0 ? PROBLEM_VALIDATION : PROBLEM_INTERNAL,
           strcmp(err.sqlstate, "22003") == 0 ? "a balance would overflow 64 bits"
                                               : "the event could not be applied",
           NULL);
rejected:
    if (exec0(w, &err, "ROLLBACK TO SAVEPOINT ev") != 0)
        return -1;
    char *problem = json_dump_compact(r->problem);
    const char *p5[6] = {ev->id, ev->group_id, ev->type, ev->actor, ev->accepted_at, problem};
    res = q(w, &err,
            "INSERT INTO rejected_events (event_id, group_id, type, actor, accepted_at, problem)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            6, p5);
    free(problem);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* The group's view, read inside the transaction that changed it. */
static int build_view(struct worker *w, const char *gid, struct view *v, char ***users,
                      size_t *n_users, int64_t *version)
{
    struct sqlerr err = {0};
    const char *p[1] = {gid};
    PGresult *res = q(w, &err,
                      "SELECT g.version, g.currency, m.id, m.name, m.user_id,"
                      " coalesce(b.paid, 0), coalesce(b.owed, 0), coalesce(b.sent, 0),"
                      " coalesce(b.received, 0) FROM groups g JOIN members m ON m.group_id = g.id"
                      " LEFT JOIN balances b ON b.group_id = g.id AND b.member_id = m.id"
                      " WHERE g.id = $1 ORDER BY m.position",
                      1, p);
    int n, rc = -1;
    if (!res)
        return -1;
    n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        return 1;
    }
    struct view_member *m = xcalloc((size_t)n, sizeof(*m));
    *users = xcalloc((size_t)n, sizeof(**users));
    *n_users = 0;
    for (int i = 0; i < n; i++) {
        m[i].id = PQgetvalue(res, i, 2);
        m[i].name = PQgetvalue(res, i, 3);
        m[i].paid = atoll(PQgetvalue(res, i, 5));
        m[i].owed = atoll(PQgetvalue(res, i, 6));
        m[i].sent = atoll(PQgetvalue(res, i, 7));
        m[i].received = atoll(PQgetvalue(res, i, 8));
        if (!PQgetisnull(res, i, 4))
            (*users)[(*n_users)++] = xstrdup(PQgetvalue(res, i, 4));
    }
    *version = atoll(PQgetvalue(res, 0, 0));
    rc = view_build(gid, PQgetvalue(res, 0, 1), *version, m, (size_t)n, v);
    free(m);
    PQclear(res);
    return rc;
}

struct touched {
    char gid[37];
    struct view view;
    char **users;
    size_t n_users;
    int64_t version;
};

static void publish(struct worker *w, unsigned p, const struct stream_entry *entries, size_t n,
                    struct result *res, struct touched *t, size_t n_t, const char *applied_at)
{
    char stream[64], key[96], version[24];
    size_t pending = 0;

    if (worker_redis_ensure(w) != 0)
        return; /* statuses and acks follow on redelivery (duplicates) */
    for (size_t i = 0; i < n_t; i++) {
        size_t argc = 7 + t[i].n_users;
        const char **argv = xcalloc(argc, sizeof(*argv));
        snprintf(version, sizeof(version), "%lld", (long long)t[i].version);
        keys_fmt(key, sizeof(key), "view", t[i].gid);
        argv[0] = "EVAL";
        argv[1] = CACHE_VIEW_LUA;
        argv[2] = "1";
        argv[3] = key;
        argv[4] = version;
        argv[5] = t[i].view.balances;
        argv[6] = t[i].view.settlements;
        for (size_t u = 0; u < t[i].n_users; u++)
            argv[7 + u] = t[i].users[u];
        redisAppendCommandArgv(w->rd, (int)argc, argv, NULL);
        free(argv);
        pending++;
    }
    for (size_t i = 0; i < n; i++) {
        struct result *r = &res[i];
        if (r->outcome == OUT_RETRY)
            continue;
        if (!r->event_id[0]) {
            redisAppendCommand(w->rd, "XADD " KEYS_DEAD_STREAM " * partition %u entry %s event %b error %s",
                               p, entries[i].id, entries[i].event, entries[i].event_len,
                               "malformed event");
            pending++;
            continue;
        }
        keys_fmt(key, sizeof(key), "event", r->event_id);
        if (r->outcome == OUT_APPLIED) {
            char *body = json_dump_compact(r->resource);
            redisAppendCommand(w->rd, "HSET %s status applied applied_at %s resource %s", key,
                               applied_at, body);
            free(body);
        } else if (r->outcome == OUT_REJECTED) {
            char *body = json_dump_compact(r->problem);
            redisAppendCommand(w->rd, "HSET %s status rejected problem %s", key, body);
            free(body);
        } else {
            /* Duplicate: the first apply published; make sure a lost status is set. */
            redisAppendCommand(w->rd, "HSETNX %s status applied", key);
        }
        redisAppendCommand(w->rd, "EXPIRE %s %d", key, KEYS_EVENT_TTL_S);
        redisAppendCommand(w->rd, "PUBLISH " KEYS_DONE_CHANNEL " %s", r->event_id);
        pending += 3;
    }
    keys_stream(stream, sizeof(stream), p);
    for (size_t i = 0; i < n; i++) {
        if (res[i].outcome == OUT_RETRY)
            continue;
        redisAppendCommand(w->rd, "XACK %s " KEYS_CONSUMER_GROUP " %s", stream, entries[i].id);
        pending++;
    }
    for (size_t i = 0; i < pending; i++) {
        void *reply = NULL;
        if (redisGetReply(w->rd, &reply) != REDIS_OK) {
            log_warn("redis: %s", w->rd->errstr);
            redisFree(w->rd);
            w->rd = NULL;
            return;
        }
        redisReply *rr = reply;
        if (rr->type == REDIS_REPLY_ERROR)
            log_warn("redis: %s", rr->str);
        freeReplyObject(reply);
    }
}

int apply_batch(struct worker *w, unsigned p, const struct stream_entry *entries, size_t n)
{
    struct result *res = xcalloc(n, sizeof(*res));
    json_t **roots = xcalloc(n, sizeof(*roots));
    struct touched *t = xcalloc(n, sizeof(*t));
    size_t n_t = 0;
    struct sqlerr err = {0};
    char pbuf[16], tbuf[24], applied_at[32] = "";
    PGresult *pr;
    int rc = -1;

    if (!w->pg || PQstatus(w->pg) != CONNECTION_OK)
        goto out;
    if (exec0(w, &err, "BEGIN") != 0)
        goto out;
    snprintf(pbuf, sizeof(pbuf), "%u", p);
    snprintf(tbuf, sizeof(tbuf), "%lld", (long long)w->token[p]);
    const char *fp[2] = {pbuf, tbuf};
    pr = q(w, &err,
           "INSERT INTO partitions (p, token) VALUES ($1, $2) ON CONFLICT (p) DO UPDATE"
           " SET token = EXCLUDED.token WHERE partitions.token <= EXCLUDED.token",
           2, fp);
    if (!pr)
        goto rollback;
    if (atoi(PQcmdTuples(pr)) != 1) {
        PQclear(pr);
        log_warn("apply: partition %u fenced off (token %s is stale)", p, tbuf);
        lease_drop(w, p);
        goto rollback;
    }
    PQclear(pr);

    for (size_t i = 0; i < n; i++) {
        struct event ev;
        json_error_t jerr;
        roots[i] = json_loadb(entries[i].event, entries[i].event_len, 0, &jerr);
        if (!roots[i] || parse_event(roots[i], &ev) != 0) {
            /* Malformed entries cannot come from the api; acked and logged. */
            log_error("apply: malformed entry %s in partition %u dropped", entries[i].id, p);
            res[i].outcome = OUT_REJECTED;
            continue;
        }
        snprintf(res[i].event_id, sizeof(res[i].event_id), "%s", ev.id);
        snprintf(res[i].group_id, sizeof(res[i].group_id), "%s", ev.group_id);
        snprintf(res[i].type, sizeof(res[i].type), "%s", ev.type);
        char *text = xstrndup(entries[i].event, entries[i].event_len);
        int a = apply_one(w, &ev, text, &res[i]);
        free(text);
        if (a != 0)
            goto rollback;
        size_t k;
        for (k = 0; k < n_t && strcmp(t[k].gid, ev.group_id) != 0; k++)
            ;
        if (k == n_t)
            snprintf(t[n_t++].gid, sizeof(t[0].gid), "%s", ev.group_id);
    }
    for (size_t k = 0; k < n_t; k++) {
        if (build_view(w, t[k].gid, &t[k].view, &t[k].users, &t[k].n_users, &t[k].version) < 0)
            goto rollback;
    }
    pr = q(w, &err, "SELECT " TS_SQL("now()"), 0, NULL);
    if (!pr)
        goto rollback;
    snprintf(applied_at, sizeof(applied_at), "%s", PQgetvalue(pr, 0, 0));
    PQclear(pr);
    if (exec0(w, &err, "COMMIT") != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (res[i].outcome == OUT_APPLIED)
            w->applied++;
        else if (res[i].outcome == OUT_REJECTED)
            w->rejected++;
        else if (res[i].outcome == OUT_DUPLICATE)
            w->duplicates++;
    }
    publish(w, p, entries, n, res, t, n_t, applied_at);
    rc = 0;
    goto out;
rollback:
    if (err.broken)
        log_warn("apply: postgres: %s", err.message);
    else if (err.message[0])
        log_error("apply: %s", err.message);
    exec0(w, &err, "ROLLBACK");
out:
    for (size_t i = 0; i < n; i++) {
        json_decref(res[i].resource);
        json_decref(res[i].problem);
        json_decref(roots[i]);
    }
    for (size_t k = 0; k < n_t; k++) {
        view_release(&t[k].view);
        for (size_t u = 0; u < t[k].n_users; u++)
            free(t[k].users[u]);
        free(t[k].users);
    }
    free(t);
    free(roots);
    free(res);
    if (rc != 0 && w->pg && PQstatus(w->pg) != CONNECTION_OK) {
        PQfinish(w->pg);
        w->pg = NULL;
    }
    return rc;
}

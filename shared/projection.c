/*
 * projection: replaying a group's applied events (see projection.h).
 */
#include "projection.h"

#include "fields.h"
#include "json.h"
#include "ledger.h"
#include "money.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -1;
}

void projection_init(struct projection *p, const char *group_id, const char *currency)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->group_id, sizeof(p->group_id), "%s", group_id);
    snprintf(p->currency, sizeof(p->currency), "%s", currency);
}

void projection_add_member(struct projection *p, const char *id)
{
    if (p->n_members == p->alloc_members) {
        p->alloc_members = p->alloc_members ? p->alloc_members * 2 : 8;
        p->members = xreallocarray(p->members, p->alloc_members, sizeof(*p->members));
    }
    struct projection_member *m = &p->members[p->n_members++];
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", id);
}

size_t projection_member(const struct projection *p, const char *id)
{
    for (size_t i = 0; i < p->n_members; i++)
        if (strcmp(p->members[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

const struct projection_expense *projection_expense(const struct projection *p, const char *id)
{
    for (size_t i = 0; i < p->n_expenses; i++)
        if (strcmp(p->expenses[i].id, id) == 0)
            return &p->expenses[i];
    return NULL;
}

json_t *projection_shares_json(const struct projection *p, const struct projection_expense *x)
{
    json_t *a = json_array();
    for (size_t k = 0; k < x->n_shares; k++)
        json_array_append_new(
            a, json_pack("{s:s, s:I, s:I}", "member_id", p->members[x->shares[k].member].id, "paid",
                         (json_int_t)x->shares[k].paid, "owed", (json_int_t)x->shares[k].owed));
    return a;
}

static int64_t *member_balance(size_t member, int owed, void *ctx)
{
    struct projection_member *m = &((struct projection *)ctx)->members[member];
    return owed ? &m->owed : &m->paid;
}

static size_t member_index(const char *id, void *ctx)
{
    return projection_member(ctx, id);
}

static struct projection_expense *expense_slot(struct projection *p, const char *id)
{
    for (size_t i = 0; i < p->n_expenses; i++)
        if (strcmp(p->expenses[i].id, id) == 0)
            return &p->expenses[i];
    return NULL;
}

static struct projection_payment *payment_slot(struct projection *p, const char *id)
{
    for (size_t i = 0; i < p->n_payments; i++)
        if (strcmp(p->payments[i].id, id) == 0)
            return &p->payments[i];
    return NULL;
}

const struct projection_payment *projection_payment(const struct projection *p, const char *id)
{
    return payment_slot((struct projection *)p, id);
}

/* Whether ch may apply (ledger_change_check, the worker's rule). */
static int check_change(const struct ledger_change *ch, const char *kind, const char *id,
                        int exists, int deleted, int64_t version, json_int_t if_match, char *err,
                        size_t err_size)
{
    enum problem_code code;
    char detail[160];
    if (ledger_change_check(ch, kind, exists, deleted, version, if_match, &code, detail,
                            sizeof(detail)) == 0)
        return 0;
    return fail(err, err_size, "%s '%s': %s", kind, id, detail);
}

static int apply_expense(struct projection *p, const json_t *ev, const char *type, int64_t seq,
                         char *err, size_t err_size)
{
    const char *id = jstr(ev, "expense_id"), *actor = jstr(ev, "actor");
    const char *at = jstr(ev, "accepted_at");
    json_int_t if_match = json_integer_value(json_object_get(ev, "if_match"));
    struct ledger_change ch;
    struct projection_expense *x;
    struct ledger_expense e;
    struct json_doc doc = {0};
    struct fields f = {0};
    struct ledger_share *sh = NULL;
    size_t n_sh = 0;
    char today[11];
    int rc = -1;

    memset(&e, 0, sizeof(e));
    if (!id || !ledger_is_uuid(id) || !actor || !at || strlen(at) >= 24)
        return fail(err, err_size, "the event lacks expense_id, actor or accepted_at");
    if (ledger_change_of("expense", type, json_object_get(ev, "data"), &ch) != 0)
        return fail(err, err_size, "unknown event type '%s' or malformed data", type);
    int creating = ch.op == LEDGER_OP_CREATE, deleting = ch.op == LEDGER_OP_DELETE;
    x = expense_slot(p, id);
    if (check_change(&ch, "expense", id, x != NULL, x && x->deleted, x ? x->version : 0, if_match,
                     err, err_size) != 0)
        return -1;
    int live = x && !x->deleted;
    if (!deleting) {
        /* The api always puts the date in the payload; the default is moot. */
        snprintf(today, sizeof(today), "%.10s", at);
        if (ledger_expense_parse(&doc, ch.content, p->currency, today, &e, &f) != 0) {
            fail(err, err_size, "expense '%s' is not valid: %s %s", id, f.n ? f.e[0].field : "",
                 f.n ? f.e[0].message : "");
            goto out;
        }
        /* The worker's rule (ledger_merge_shares). */
        sh = ledger_merge_shares(&e, member_index, p, &n_sh, &f);
        if (!sh) {
            fail(err, err_size, "expense '%s': %s %s", id, f.e[0].field, f.e[0].message);
            goto out;
        }
    }
    /* Old shares out, new ones in, as one step: on overflow nothing changes. */
    struct projection_member *saved = xcalloc(p->n_members + 1, sizeof(*saved));
    memcpy(saved, p->members, p->n_members * sizeof(*saved));
    if ((live && ledger_move_shares(x->shares, x->n_shares, -1, member_balance, p) != 0) ||
        (!deleting && ledger_move_shares(sh, n_sh, 1, member_balance, p) != 0)) {
        memcpy(p->members, saved, p->n_members * sizeof(*saved));
        free(saved);
        fail(err, err_size, "expense '%s': a balance would overflow 64 bits", id);
        goto out;
    }
    free(saved);
    if (creating) {
        if (p->n_expenses == p->alloc_expenses) {
            p->alloc_expenses = p->alloc_expenses ? p->alloc_expenses * 2 : 16;
            p->expenses = xreallocarray(p->expenses, p->alloc_expenses, sizeof(*p->expenses));
        }
        x = &p->expenses[p->n_expenses++];
        memset(x, 0, sizeof(*x));
        snprintf(x->id, sizeof(x->id), "%s", id);
        snprintf(x->created_by, sizeof(x->created_by), "%s", actor);
        snprintf(x->created_at, sizeof(x->created_at), "%s", at);
        x->version = 1;
        x->created_seq = seq;
    } else {
        x->version++;
    }
    snprintf(x->updated_at, sizeof(x->updated_at), "%s", at);
    x->seq = seq;
    if (deleting) {
        x->deleted = 1;
    } else {
        x->deleted = 0;
        json_decref(x->content);
        x->content = ledger_expense_to_json(&e);
        x->amount_group = e.amount_group;
        free(x->shares);
        x->shares = sh;
        x->n_shares = n_sh;
        sh = NULL;
    }
    rc = 0;
out:
    free(sh);
    ledger_expense_release(&e);
    json_doc_release(&doc);
    return rc;
}

static int apply_payment(struct projection *p, const json_t *ev, const char *type, int64_t seq,
                         char *err, size_t err_size)
{
    const char *id = jstr(ev, "payment_id"), *actor = jstr(ev, "actor");
    const char *at = jstr(ev, "accepted_at");
    json_int_t if_match = json_integer_value(json_object_get(ev, "if_match"));
    struct ledger_change ch;
    struct ledger_payment pay;
    struct fields f = {0};
    char today[11];
    size_t from = SIZE_MAX, to = SIZE_MAX;
    int rc = -1;

    memset(&pay, 0, sizeof(pay));
    if (!id || !ledger_is_uuid(id) || !actor || !at || strlen(at) >= 24)
        return fail(err, err_size, "the event lacks payment_id, actor or accepted_at");
    if (ledger_change_of("payment", type, json_object_get(ev, "data"), &ch) != 0)
        return fail(err, err_size, "unknown event type '%s' or malformed data", type);
    int creating = ch.op == LEDGER_OP_CREATE, deleting = ch.op == LEDGER_OP_DELETE;
    struct projection_payment *py = payment_slot(p, id);
    if (check_change(&ch, "payment", id, py != NULL, py && py->deleted, py ? py->version : 0,
                     if_match, err, err_size) != 0)
        return -1;
    if (!deleting) {
        snprintf(today, sizeof(today), "%.10s", at);
        if (ledger_payment_parse(ch.content, today, &pay, &f) != 0)
            return fail(err, err_size, "payment '%s' is not valid: %s %s", id,
                        f.n ? f.e[0].field : "", f.n ? f.e[0].message : "");
        from = projection_member(p, pay.from_member);
        to = projection_member(p, pay.to_member);
        if (from == SIZE_MAX || to == SIZE_MAX) {
            fail(err, err_size, "payment '%s' names a non-member", id);
            goto out;
        }
    }
    /* Old payment out, new one in, as one step: on overflow nothing changes. */
    struct projection_member *saved = xcalloc(p->n_members + 1, sizeof(*saved));
    memcpy(saved, p->members, p->n_members * sizeof(*saved));
    if ((py && !py->deleted &&
         ledger_move_payment(&p->members[projection_member(p, py->from)].sent,
                             &p->members[projection_member(p, py->to)].received, py->amount,
                             -1) != 0) ||
        (!deleting && ledger_move_payment(&p->members[from].sent, &p->members[to].received,
                                          pay.amount, 1) != 0)) {
        memcpy(p->members, saved, p->n_members * sizeof(*saved));
        free(saved);
        fail(err, err_size, "payment '%s': a balance would overflow 64 bits", id);
        goto out;
    }
    free(saved);
    if (creating) {
        if (p->n_payments == p->alloc_payments) {
            p->alloc_payments = p->alloc_payments ? p->alloc_payments * 2 : 16;
            p->payments = xreallocarray(p->payments, p->alloc_payments, sizeof(*p->payments));
        }
        py = &p->payments[p->n_payments++];
        memset(py, 0, sizeof(*py));
        snprintf(py->id, sizeof(py->id), "%s", id);
        snprintf(py->created_by, sizeof(py->created_by), "%s", actor);
        snprintf(py->created_at, sizeof(py->created_at), "%s", at);
        py->version = 1;
    } else {
        py->version++;
    }
    snprintf(py->updated_at, sizeof(py->updated_at), "%s", at);
    py->seq = seq;
    if (deleting) {
        py->deleted = 1;
    } else {
        py->deleted = 0;
        snprintf(py->from, sizeof(py->from), "%s", pay.from_member);
        snprintf(py->to, sizeof(py->to), "%s", pay.to_member);
        snprintf(py->date, sizeof(py->date), "%s", pay.date);
        py->amount = pay.amount;
        free(py->note);
        py->note = pay.note;
        pay.note = NULL;
    }
    rc = 0;
out:
    ledger_payment_release(&pay);
    return rc;
}

int projection_apply(struct projection *p, const json_t *event, int64_t seq, char *err,
                     size_t err_size)
{
    const char *type = jstr(event, "type"), *gid = jstr(event, "group_id");
    int rc;

    if (!json_is_object(event) || !type || !gid)
        return fail(err, err_size, "the event is not an object with type and group_id");
    if (strcmp(gid, p->group_id) != 0)
        return fail(err, err_size, "the event belongs to group '%s'", gid);
    if (seq != p->last_seq + 1)
        return fail(err, err_size, "seq %lld follows %lld: the group's log has a gap",
                    (long long)seq, (long long)p->last_seq);
    if (strncmp(type, "expense.", 8) == 0)
        rc = apply_expense(p, event, type, seq, err, err_size);
    else if (strncmp(type, "payment.", 8) == 0)
        rc = apply_payment(p, event, type, seq, err, err_size);
    else
        rc = fail(err, err_size, "unknown event type '%s'", type);
    if (rc == 0)
        p->last_seq = seq;
    return rc;
}

void projection_release(struct projection *p)
{
    for (size_t i = 0; i < p->n_expenses; i++) {
        json_decref(p->expenses[i].content);
        free(p->expenses[i].shares);
    }
    for (size_t i = 0; i < p->n_payments; i++)
        free(p->payments[i].note);
    free(p->expenses);
    free(p->members);
    free(p->payments);
    memset(p, 0, sizeof(*p));
}

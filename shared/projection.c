/*
 * projection: a group's state and the ledger's rules (see projection.h).
 */
#include "projection.h"

#include "fields.h"
#include "json.h"
#include "ledger.h"
#include "money.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the indexes: every indexed struct starts with its id --------------------------------- */

_Static_assert(offsetof(struct projection_member, id) == 0, "a member starts with its id");
_Static_assert(offsetof(struct projection_expense, id) == 0, "an expense starts with its id");
_Static_assert(offsetof(struct projection_payment, id) == 0, "a payment starts with its id");

static size_t id_hash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return (size_t)h;
}

/* The position of id among the n items of size stride at base, or SIZE_MAX. */
static size_t index_find(const struct projection_index *x, const void *base, size_t stride,
                         const char *id)
{
    if (x->cap == 0)
        return SIZE_MAX;
    for (size_t i = id_hash(id) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
        if (x->slot[i] == 0)
            return SIZE_MAX;
        size_t pos = x->slot[i] - 1;
        if (strcmp((const char *)base + pos * stride, id) == 0)
            return pos;
    }
}

static void index_insert(struct projection_index *x, const void *base, size_t stride, size_t pos)
{
    size_t i = id_hash((const char *)base + pos * stride) & (x->cap - 1);
    while (x->slot[i] != 0)
        i = (i + 1) & (x->cap - 1);
    x->slot[i] = pos + 1;
}

/* Index item pos, the last of n; the table never fills past half. */
static void index_add(struct projection_index *x, const void *base, size_t stride, size_t n,
                      size_t pos)
{
    if (n * 2 > x->cap) {
        size_t cap = x->cap ? x->cap : 16;
        while (n * 2 > cap)
            cap *= 2;
        free(x->slot);
        x->cap = cap;
        x->slot = xcalloc(cap, sizeof(*x->slot));
        for (size_t k = 0; k < n; k++)
            index_insert(x, base, stride, k);
        return;
    }
    index_insert(x, base, stride, pos);
}

/* --- building ------------------------------------------------------------------------------ */

static int refuse(struct projection_refusal *why, enum problem_code code, const struct fields *f,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct projection_refusal *why, enum problem_code code, const struct fields *f,
                  const char *fmt, ...)
{
    va_list ap;
    why->code = code;
    va_start(ap, fmt);
    vsnprintf(why->detail, sizeof(why->detail), fmt, ap);
    va_end(ap);
    if (f)
        why->f = *f;
    else
        why->f.n = 0;
    return -1;
}

void projection_refusal_text(const struct projection_refusal *why, char *out, size_t size)
{
    if (why->f.n)
        snprintf(out, size, "%s: %s %s", why->detail, why->f.e[0].field, why->f.e[0].message);
    else
        snprintf(out, size, "%s", why->detail);
}

void projection_init(struct projection *p, const char *group_id, const char *currency)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->group_id, sizeof(p->group_id), "%s", group_id);
    snprintf(p->currency, sizeof(p->currency), "%s", currency);
}

/* A new zeroed item with id at the end of the array *items (n items, room
   for *alloc, each of size bytes, the first `first` when empty), indexed by
   x. Returns its position. */
static size_t item_new(void **items, size_t *n, size_t *alloc, size_t size, size_t first,
                       struct projection_index *x, const char *id)
{
    if (*n == *alloc) {
        *alloc = *alloc ? *alloc * 2 : first;
        *items = xreallocarray(*items, *alloc, size);
    }
    size_t i = (*n)++;
    char *item = (char *)*items + i * size;
    memset(item, 0, size);
    snprintf(item, UUID_STR_SIZE, "%s", id); /* every item starts with its id */
    index_add(x, *items, size, *n, i);
    return i;
}

size_t projection_add_member(struct projection *p, const char *id)
{
    return item_new((void **)&p->members, &p->n_members, &p->alloc_members, sizeof(*p->members), 8,
                    &p->member_index, id);
}

static struct projection_expense *expense_new(struct projection *p, const char *id)
{
    size_t i = item_new((void **)&p->expenses, &p->n_expenses, &p->alloc_expenses,
                        sizeof(*p->expenses), 16, &p->expense_index, id);
    return &p->expenses[i]; /* after item_new: it may move the array */
}

static struct projection_payment *payment_new(struct projection *p, const char *id)
{
    size_t i = item_new((void **)&p->payments, &p->n_payments, &p->alloc_payments,
                        sizeof(*p->payments), 16, &p->payment_index, id);
    return &p->payments[i];
}

struct projection_expense *projection_put_expense(struct projection *p, const char *id)
{
    struct projection_expense *x = expense_new(p, id);
    x->stored = 1;
    return x;
}

struct projection_payment *projection_put_payment(struct projection *p, const char *id)
{
    struct projection_payment *py = payment_new(p, id);
    py->stored = 1;
    return py;
}

/* --- looking up ----------------------------------------------------------------------------- */

size_t projection_member(const struct projection *p, const char *id)
{
    size_t i = index_find(&p->member_index, p->members, sizeof(*p->members), id);
    return i != SIZE_MAX && p->members[i].removed ? SIZE_MAX : i;
}

static struct projection_expense *expense_slot(struct projection *p, const char *id)
{
    size_t i = index_find(&p->expense_index, p->expenses, sizeof(*p->expenses), id);
    return i == SIZE_MAX ? NULL : &p->expenses[i];
}

static struct projection_payment *payment_slot(struct projection *p, const char *id)
{
    size_t i = index_find(&p->payment_index, p->payments, sizeof(*p->payments), id);
    return i == SIZE_MAX ? NULL : &p->payments[i];
}

const struct projection_expense *projection_expense(const struct projection *p, const char *id)
{
    return expense_slot((struct projection *)p, id);
}

const struct projection_payment *projection_payment(const struct projection *p, const char *id)
{
    return payment_slot((struct projection *)p, id);
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

json_t *projection_expense_resource(const struct projection *p, const struct projection_expense *x)
{
    struct ledger_owed *owed = xcalloc(x->n_shares + 1, sizeof(*owed));
    struct ledger_expense_meta m = {
        .id = x->id,
        .group_id = p->group_id,
        .created_by = x->created_by,
        .created_at = x->created_at,
        .updated_at = x->updated_at,
        .amount_group = x->amount_group,
        .version = x->version,
    };
    for (size_t k = 0; k < x->n_shares; k++) {
        owed[k].member_id = p->members[x->shares[k].member].id;
        owed[k].owed = x->shares[k].owed;
    }
    json_t *r = ledger_expense_resource(x->content, &m, owed, x->n_shares);
    free(owed);
    return r;
}

json_t *projection_payment_resource(const struct projection *p, const struct projection_payment *py)
{
    struct ledger_payment pay;
    struct ledger_expense_meta m = {
        .id = py->id,
        .group_id = p->group_id,
        .created_by = py->created_by,
        .created_at = py->created_at,
        .updated_at = py->updated_at,
        .version = py->version,
    };
    memset(&pay, 0, sizeof(pay));
    snprintf(pay.from_member, sizeof(pay.from_member), "%s", py->from);
    snprintf(pay.to_member, sizeof(pay.to_member), "%s", py->to);
    snprintf(pay.date, sizeof(pay.date), "%s", py->date);
    pay.amount = py->amount;
    pay.note = py->note; /* borrowed: not released here */
    json_t *content = ledger_payment_to_json(&pay);
    json_t *r = ledger_payment_resource(content, &m);
    json_decref(content);
    return r;
}

/* --- the rules ------------------------------------------------------------------------------ */

/* What a live resource puts into the balances: an expense's shares, or a
   payment from one member to another. */
struct effect {
    int payment;
    const struct ledger_share *shares; /* expense */
    size_t n_shares;
    size_t from, to; /* payment: member indexes */
    int64_t amount;
};

static size_t member_of(const char *id, void *ctx)
{
    return projection_member(ctx, id);
}

static int64_t *member_balance(size_t member, int owed, void *ctx)
{
    struct projection_member *m = &((struct projection *)ctx)->members[member];
    return owed ? &m->owed : &m->paid;
}

/* Put e into (sign 1) or take it out of (sign -1) the balances, all or
   nothing. 0, or -1 on overflow. */
static int effect_move(struct projection *p, const struct effect *e, int sign)
{
    if (e->payment)
        return ledger_move_payment(&p->members[e->from].sent, &p->members[e->to].received,
                                   e->amount, sign);
    return ledger_move_shares(e->shares, e->n_shares, sign, member_balance, p);
}

static void effect_mark(struct projection *p, const struct effect *e)
{
    if (e->payment) {
        p->members[e->from].dirty = p->members[e->to].dirty = 1;
        return;
    }
    for (size_t i = 0; i < e->n_shares; i++)
        p->members[e->shares[i].member].dirty = 1;
}

/* 0 while the group's sums stay in range (ledger_volume_add: the rule the
   api checks at acceptance), else -1. */
static int in_range(const struct projection *p)
{
    struct ledger_volume v = {0, 0};
    for (size_t i = 0; i < p->n_members; i++) {
        const struct projection_member *m = &p->members[i];
        if (ledger_volume_add(&v, m->paid, m->owed, m->sent, m->received) != 0)
            return -1;
    }
    return 0;
}

/* Take out what the resource put in (old, NULL when it is not live) and put
   in what it puts in now (next, NULL for a deletion), as one step: on
   overflow, or when the sums would leave their range, nothing changes and
   why says so. 0, or -1. */
static int swap_effects(struct projection *p, const struct effect *old, const struct effect *next,
                        struct projection_refusal *why)
{
    if (old && effect_move(p, old, -1) != 0)
        return refuse(why, PROBLEM_VALIDATION, NULL, "a balance would overflow 64 bits");
    if (next && effect_move(p, next, 1) != 0) {
        if (old)
            effect_move(p, old, 1);
        return refuse(why, PROBLEM_VALIDATION, NULL, "a balance would overflow 64 bits");
    }
    if (next && in_range(p) != 0) {
        effect_move(p, next, -1);
        if (old)
            effect_move(p, old, 1);
        return refuse(why, PROBLEM_VALIDATION, NULL, LEDGER_RANGE_DETAIL);
    }
    if (old)
        effect_mark(p, old);
    if (next)
        effect_mark(p, next);
    return 0;
}

/* What every applied event records on its resource: who made it and when
   (a creation), its version, seq and deleted flag. */
struct record {
    int64_t *version, *seq;
    int *deleted, *dirty;
    char *created_by, *created_at, *updated_at; /* UUID_STR_SIZE, 24 and 24 bytes */
};

static void stamp(const struct record *r, const struct event *ev, int64_t seq, enum ledger_op op)
{
    if (op == LEDGER_OP_CREATE) {
        snprintf(r->created_by, UUID_STR_SIZE, "%s", ev->actor);
        snprintf(r->created_at, 24, "%s", ev->accepted_at);
        *r->version = 1;
    } else {
        (*r->version)++;
    }
    snprintf(r->updated_at, 24, "%s", ev->accepted_at);
    *r->seq = seq;
    *r->deleted = op == LEDGER_OP_DELETE;
    *r->dirty = 1;
}

/* Which change ev makes and whether it may, on a resource that exists or
   not: 0, or -1 with why. */
static int change_of(const struct event *ev, int exists, int deleted, int64_t version,
                     struct ledger_change *ch, struct projection_refusal *why)
{
    enum problem_code code;
    char detail[128];
    if (ledger_change_of(ev->type, ev->data, ch) != 0)
        return refuse(why, PROBLEM_VALIDATION, NULL, "unknown event type");
    if (ledger_change_check(ch, event_kind_name(event_kind_of(ev->type)), exists, deleted, version,
                            ev->if_match, &code, detail, sizeof(detail)) != 0)
        return refuse(why, code, NULL, "%s", detail);
    return 0;
}

/* An occurrence stays one: a change of x that leaves out "recurrence_of"
   keeps x's, and none may name another rule or give it a recurrence. 0, or
   -1 with the fault in f. */
static int keep_occurrence(const struct projection_expense *x, struct ledger_expense *e,
                           struct fields *f)
{
    const json_t *was = json_object_get(x->content, "recurrence_of");
    const char *of = json_is_string(was) ? json_string_value(was) : "";

    if (e->recurrence_of[0] && strcmp(e->recurrence_of, of) != 0) {
        fields_add(f, "recurrence_of", "cannot be changed");
        return -1;
    }
    snprintf(e->recurrence_of, sizeof(e->recurrence_of), "%s", of);
    if (e->recurrence_of[0] && e->has_recurrence) {
        fields_add(f, "recurrence", "must be null on an occurrence of a repeating expense");
        return -1;
    }
    return 0;
}

static int apply_expense(struct projection *p, const struct event *ev, int64_t seq,
                         struct projection_refusal *why)
{
    struct projection_expense *x = expense_slot(p, ev->target);
    struct ledger_change ch;
    struct ledger_expense e;
    struct json_doc doc = {0};
    struct fields f = {0};
    struct ledger_share *sh = NULL;
    size_t n_sh = 0;
    char today[11];
    int rc = -1;

    memset(&e, 0, sizeof(e));
    if (change_of(ev, x != NULL, x && x->deleted, x ? x->version : 0, &ch, why) != 0)
        return -1;
    int deleting = ch.op == LEDGER_OP_DELETE;
    if (!deleting) {
        snprintf(today, sizeof(today), "%.10s", ev->accepted_at);
        if (ledger_expense_parse(&doc, ch.content, p->currency, today, &e, &f) != 0)
            return refuse(why, PROBLEM_VALIDATION, &f, "the expense is not valid for this group");
        if (x && keep_occurrence(x, &e, &f) != 0) {
            refuse(why, PROBLEM_VALIDATION, &f, "the expense is not valid for this group");
            goto out;
        }
        sh = ledger_merge_shares(&e, member_of, p, &n_sh, &f);
        if (!sh) {
            refuse(why, PROBLEM_VALIDATION, &f, "the expense names non-members");
            goto out;
        }
    }
    struct effect old = {0, x ? x->shares : NULL, x ? x->n_shares : 0, 0, 0, 0};
    struct effect next = {0, sh, n_sh, 0, 0, 0};
    if (swap_effects(p, x && !x->deleted ? &old : NULL, deleting ? NULL : &next, why) != 0)
        goto out;
    if (ch.op == LEDGER_OP_CREATE) {
        x = expense_new(p, ev->target);
        x->created_seq = seq;
    }
    struct record r = {&x->version,   &x->seq,       &x->deleted,  &x->dirty,
                       x->created_by, x->created_at, x->updated_at};
    stamp(&r, ev, seq, ch.op);
    if (!deleting) {
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

static int apply_payment(struct projection *p, const struct event *ev, int64_t seq,
                         struct projection_refusal *why)
{
    struct projection_payment *py = payment_slot(p, ev->target);
    struct ledger_change ch;
    struct ledger_payment pay;
    struct fields f = {0};
    char today[11];
    size_t from = SIZE_MAX, to = SIZE_MAX;
    int rc = -1;

    memset(&pay, 0, sizeof(pay));
    if (change_of(ev, py != NULL, py && py->deleted, py ? py->version : 0, &ch, why) != 0)
        return -1;
    int deleting = ch.op == LEDGER_OP_DELETE;
    if (!deleting) {
        snprintf(today, sizeof(today), "%.10s", ev->accepted_at);
        if (ledger_payment_parse(ch.content, today, &pay, &f) != 0)
            return refuse(why, PROBLEM_VALIDATION, &f, "the payment is not valid");
        from = projection_member(p, pay.from_member);
        to = projection_member(p, pay.to_member);
        if (from == SIZE_MAX)
            fields_add(&f, "from_member", "is not a member of this group");
        if (to == SIZE_MAX)
            fields_add(&f, "to_member", "is not a member of this group");
        if (f.n) {
            refuse(why, PROBLEM_VALIDATION, &f, "the payment names non-members");
            goto out;
        }
    }
    struct effect old = {1,
                         NULL,
                         0,
                         py ? projection_member(p, py->from) : 0,
                         py ? projection_member(p, py->to) : 0,
                         py ? py->amount : 0};
    struct effect next = {1, NULL, 0, from, to, pay.amount};
    if (py && !py->deleted && (old.from == SIZE_MAX || old.to == SIZE_MAX)) {
        refuse(why, PROBLEM_VALIDATION, NULL, "the payment names non-members");
        goto out;
    }
    if (swap_effects(p, py && !py->deleted ? &old : NULL, deleting ? NULL : &next, why) != 0)
        goto out;
    if (ch.op == LEDGER_OP_CREATE)
        py = payment_new(p, ev->target);
    struct record r = {&py->version,   &py->seq,       &py->deleted,  &py->dirty,
                       py->created_by, py->created_at, py->updated_at};
    stamp(&r, ev, seq, ch.op);
    if (!deleting) {
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

int projection_apply(struct projection *p, const struct event *ev, int64_t seq,
                     struct projection_refusal *why)
{
    int rc;

    if (strcmp(ev->group_id, p->group_id) != 0)
        return refuse(why, PROBLEM_VALIDATION, NULL, "the event belongs to group '%s'",
                      ev->group_id);
    if (seq != p->last_seq + 1)
        return refuse(why, PROBLEM_VALIDATION, NULL,
                      "seq %lld follows %lld: the group's log has a gap", (long long)seq,
                      (long long)p->last_seq);
    if (p->archived)
        return refuse(why, PROBLEM_GROUP_ARCHIVED, NULL,
                      "the group is archived: unarchive it to change its ledger");
    if (event_kind_of(ev->type) == EVENT_EXPENSE)
        rc = apply_expense(p, ev, seq, why);
    else
        rc = apply_payment(p, ev, seq, why);
    if (rc == 0)
        p->last_seq = seq;
    return rc;
}

int projection_apply_admin(struct projection *p, const struct event_admin *ev, int64_t seq,
                           struct projection_refusal *why)
{
    if (strcmp(ev->group_id, p->group_id) != 0)
        return refuse(why, PROBLEM_VALIDATION, NULL, "the event belongs to group '%s'",
                      ev->group_id);
    if (seq != p->last_seq + 1)
        return refuse(why, PROBLEM_VALIDATION, NULL,
                      "seq %lld follows %lld: the group's log has a gap", (long long)seq,
                      (long long)p->last_seq);
    size_t m = ev->member_id ? projection_member(p, ev->member_id) : SIZE_MAX;
    if (ev->member_id && m == SIZE_MAX)
        return refuse(why, PROBLEM_NOT_FOUND, NULL, "member '%s' is not in the group",
                      ev->member_id);
    switch (ev->type) {
    case EVENT_GROUP_ARCHIVED:
        p->archived = 1;
        break;
    case EVENT_GROUP_UNARCHIVED:
        p->archived = 0;
        break;
    case EVENT_MEMBER_REMOVED: {
        const struct projection_member *mb = &p->members[m];
        if (mb->paid || mb->owed || mb->sent || mb->received)
            return refuse(why, PROBLEM_CONFLICT, NULL, "member '%s' still has a balance",
                          ev->member_id);
        p->members[m].removed = 1;
        break;
    }
    default:
        break;
    }
    p->last_seq = seq;
    return 0;
}

/* A management event as JSON: 1 applied (0 returned in *rc) or refused (-1 in *rc, err
   filled); 0 when event is no management event. */
static int apply_admin_json(struct projection *p, const json_t *event, int64_t seq, char *err,
                            size_t err_size, int *rc)
{
    struct event_admin ev;
    struct projection_refusal why;
    char detail[512];
    const json_t *type = json_object_get(event, "type");
    enum event_admin_type t;
    if (!json_is_string(type) || event_admin_parse(json_string_value(type), &t) != 0)
        return 0;
    if (event_admin_decode_json(event, &ev, detail, sizeof(detail)) != 0) {
        snprintf(err, err_size, "not a management event: %s", detail);
        *rc = -1;
        return 1;
    }
    *rc = projection_apply_admin(p, &ev, seq, &why);
    if (*rc != 0) {
        projection_refusal_text(&why, detail, sizeof(detail));
        snprintf(err, err_size, "%s: %s", event_admin_name(ev.type), detail);
    }
    event_admin_release(&ev);
    return 1;
}

int projection_apply_json(struct projection *p, const json_t *event, int64_t seq, char *err,
                          size_t err_size)
{
    struct event ev;
    struct projection_refusal why;
    char detail[512];
    int admin_rc;
    if (apply_admin_json(p, event, seq, err, err_size, &admin_rc))
        return admin_rc;
    if (event_decode_json(event, &ev, detail, sizeof(detail)) != 0) {
        snprintf(err, err_size, "not a ledger event: %s", detail);
        return -1;
    }
    int rc = projection_apply(p, &ev, seq, &why);
    if (rc != 0) {
        projection_refusal_text(&why, detail, sizeof(detail));
        snprintf(err, err_size, "%s '%s': %s", event_kind_name(event_kind_of(ev.type)), ev.target,
                 detail);
    }
    event_release(&ev);
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
    free(p->member_index.slot);
    free(p->expense_index.slot);
    free(p->payment_index.slot);
    memset(p, 0, sizeof(*p));
}

/*
 * GET /api/v1/me/balances: where the caller stands with each other person,
 * across all the caller's groups.
 *
 * A person is a user (by user id, whatever member they are in each group) or
 * a member without an account (by member id: such a member belongs to one
 * group). Per group, the amount is what the group's minimal settlement has
 * that person and the caller pay each other (view_settle, the same transfers
 * GET .../settlements answers): positive when the person pays the caller,
 * negative when the caller pays them, 0 when the settlement has no transfer
 * between them. Per currency the groups' amounts are summed, overflow-checked
 * (422 beyond 64 bits). People are sorted by name, then id; their groups by
 * the groups' creation; totals by currency code.
 *
 * One statement reads every group of the caller with its members and
 * balances from PostgreSQL, in one snapshot.
 */
#include "api.h"

#include "money.h"
#include "settle.h"
#include "view.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    COL_GROUP,
    COL_GROUP_NAME,
    COL_CURRENCY,
    COL_MEMBER,
    COL_NAME,
    COL_USER,
    COL_PAID,
    COL_OWED,
    COL_SENT,
    COL_RECEIVED
};

struct total {
    char currency[4];
    int64_t amount;
};

struct person {
    const char *key;  /* borrowed: user id, or member id without an account */
    const char *name; /* borrowed */
    int has_account;
    json_t *groups;       /* owned: [{"group_id", "name", "currency", "amount"}] */
    struct total *totals; /* owned */
    size_t n_totals;
};

struct people {
    struct person *p;
    size_t n, alloc;
};

static struct person *person_get(struct people *ps, const char *key, const char *name,
                                 int has_account)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].key, key) == 0)
            return &ps->p[i];
    if (ps->n == ps->alloc) {
        ps->alloc = ps->alloc ? ps->alloc * 2 : 16;
        ps->p = xreallocarray(ps->p, ps->alloc, sizeof(*ps->p));
    }
    struct person *p = &ps->p[ps->n++];
    memset(p, 0, sizeof(*p));
    p->key = key;
    p->name = name;
    p->has_account = has_account;
    p->groups = json_array();
    return p;
}

/* Add amount to the person's total in currency: 0, or -1 on overflow. */
static int person_add(struct person *p, const char *currency, int64_t amount)
{
    size_t i;
    for (i = 0; i < p->n_totals && strcmp(p->totals[i].currency, currency) != 0; i++)
        ;
    if (i == p->n_totals) {
        p->totals = xreallocarray(p->totals, p->n_totals + 1, sizeof(*p->totals));
        memset(&p->totals[i], 0, sizeof(p->totals[i]));
        snprintf(p->totals[i].currency, sizeof(p->totals[i].currency), "%s", currency);
        p->n_totals++;
    }
    return money_add(p->totals[i].amount, amount, &p->totals[i].amount);
}

static void people_release(struct people *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        json_decref(ps->p[i].groups);
        free(ps->p[i].totals);
    }
    free(ps->p);
}

static int by_name(const void *a, const void *b)
{
    const struct person *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->key, y->key);
}

static int by_currency(const void *a, const void *b)
{
    return strcmp(((const struct total *)a)->currency, ((const struct total *)b)->currency);
}

/* The group in rows [first, end): every other person's amount with the caller.
   0; -1 on overflow (422 answered), -2 on an inconsistent group (500). */
static int add_group(struct rctx *c, PGresult *res, int first, int end, struct people *ps)
{
    size_t n = (size_t)(end - first), me = SIZE_MAX;
    struct view_member *vm = xcalloc(n + 1, sizeof(*vm));
    int64_t *amount = xcalloc(n + 1, sizeof(*amount));
    struct settle_transfer *tr = NULL;
    size_t n_tr = 0;
    int rc = -2;

    for (size_t i = 0; i < n; i++) {
        int r = first + (int)i;
        vm[i].id = PQgetvalue(res, r, COL_MEMBER);
        vm[i].name = PQgetvalue(res, r, COL_NAME);
        vm[i].user_id = PQgetisnull(res, r, COL_USER) ? NULL : PQgetvalue(res, r, COL_USER);
        vm[i].paid = atoll(PQgetvalue(res, r, COL_PAID));
        vm[i].owed = atoll(PQgetvalue(res, r, COL_OWED));
        vm[i].sent = atoll(PQgetvalue(res, r, COL_SENT));
        vm[i].received = atoll(PQgetvalue(res, r, COL_RECEIVED));
        if (vm[i].user_id && strcmp(vm[i].user_id, c->user_id) == 0)
            me = i;
    }
    if (me == SIZE_MAX || view_settle(PQgetvalue(res, first, COL_GROUP), vm, n, &tr, &n_tr) != 0)
        goto out;
    /* Who pays whom, seen from the caller: a transfer to the caller is owed
       to the caller (positive), one from the caller is owed by the caller. */
    for (size_t k = 0; k < n_tr; k++) {
        if (tr[k].to == me && money_add(amount[tr[k].from], tr[k].amount, &amount[tr[k].from]))
            goto overflow;
        if (tr[k].from == me && money_sub(amount[tr[k].to], tr[k].amount, &amount[tr[k].to]))
            goto overflow;
    }
    const char *currency = PQgetvalue(res, first, COL_CURRENCY);
    for (size_t i = 0; i < n; i++) {
        if (i == me)
            continue;
        struct person *p = person_get(ps, vm[i].user_id ? vm[i].user_id : vm[i].id, vm[i].name,
                                      vm[i].user_id != NULL);
        json_array_append_new(p->groups,
                              json_pack("{s:s, s:s, s:s, s:I}", "group_id",
                                        PQgetvalue(res, first, COL_GROUP), "name",
                                        PQgetvalue(res, first, COL_GROUP_NAME), "currency",
                                        currency, "amount", (json_int_t)amount[i]));
        if (person_add(p, currency, amount[i]) != 0)
            goto overflow;
    }
    rc = 0;
    goto out;
overflow:
    rc = -1;
out:
    free(tr);
    free(amount);
    free(vm);
    return rc;
}

static void on_rows(PGresult *res, struct rctx *c)
{
    struct people ps = {0};
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    int n = PQntuples(res);
    for (int first = 0, end; first < n; first = end) {
        for (end = first + 1; end < n && strcmp(PQgetvalue(res, end, COL_GROUP),
                                                PQgetvalue(res, first, COL_GROUP)) == 0;
             end++)
            ;
        int rc = add_group(c, res, first, end, &ps);
        if (rc == -1) {
            respond_problem(c, PROBLEM_VALIDATION,
                            "a total of these balances does not fit in 64 bits", NULL);
            goto out;
        }
        if (rc != 0) {
            respond_problem(c, PROBLEM_INTERNAL, "a group's balances are inconsistent", NULL);
            goto out;
        }
    }
    if (ps.n)
        qsort(ps.p, ps.n, sizeof(*ps.p), by_name);
    json_t *people = json_array();
    for (size_t i = 0; i < ps.n; i++) {
        struct person *p = &ps.p[i];
        json_t *totals = json_array();
        if (p->n_totals)
            qsort(p->totals, p->n_totals, sizeof(*p->totals), by_currency);
        for (size_t k = 0; k < p->n_totals; k++)
            json_array_append_new(totals, json_pack("{s:s, s:I}", "currency", p->totals[k].currency,
                                                    "amount", (json_int_t)p->totals[k].amount));
        json_t *o = json_pack("{s:s?}", "user_id", p->has_account ? p->key : NULL);
        if (!p->has_account)
            json_object_set_new(o, "member_id", json_string(p->key));
        json_object_set_new(o, "name", json_string(p->name));
        json_object_set_new(o, "totals", totals);
        json_object_set(o, "groups", p->groups);
        json_array_append_new(people, o);
    }
    respond_json(c, 200, json_pack("{s:o}", "people", people));
out:
    people_release(&ps);
}

static void me_balances_authed(struct rctx *c)
{
    const char *p[1] = {c->user_id};
    /* A user's name is the account's; a member without one has its own. */
    pg_query(c, on_rows,
             "SELECT g.id, g.name, g.currency, m.id, coalesce(u.name, m.name), m.user_id,"
             " coalesce(b.paid, 0), coalesce(b.owed, 0), coalesce(b.sent, 0),"
             " coalesce(b.received, 0) FROM members mine JOIN groups g ON g.id = mine.group_id"
             " JOIN members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id"
             " LEFT JOIN balances b ON b.group_id = g.id AND b.member_id = m.id"
             " WHERE mine.user_id = $1 ORDER BY g.created_at, g.id, m.position",
             1, p);
}

void route_me_balances(struct rctx *c)
{
    auth_then(c, me_balances_authed);
}

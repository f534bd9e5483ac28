/*
 * Unit tests for shared/projection: replaying applied events reproduces the
 * worker's balances, shares, versions and payments, and refuses what the
 * worker could never have applied.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projection.h"
#include "unit.h"

#define G "00000000-0000-4000-8000-000000000001"
#define A "00000000-0000-4000-8000-00000000000a"
#define B "00000000-0000-4000-8000-00000000000b"
#define C "00000000-0000-4000-8000-00000000000c"
#define X "00000000-0000-4000-8000-0000000000e1"
#define U "00000000-0000-4000-8000-0000000000f1"

static struct projection p;
static char err[256];

static void setup(void)
{
    projection_init(&p, G, "EUR");
    projection_add_member(&p, A);
    projection_add_member(&p, B);
    projection_add_member(&p, C);
    err[0] = '\0';
}

static void teardown(void)
{
    projection_release(&p);
}

/* Apply the event built from fmt (JSON with single quotes for double ones). */
static int apply(int64_t seq, const char *json)
{
    char buf[2048];
    size_t i;
    for (i = 0; json[i] && i < sizeof(buf) - 1; i++)
        buf[i] = json[i] == '\'' ? '"' : json[i];
    buf[i] = '\0';
    json_error_t e;
    json_t *ev = json_loads(buf, 0, &e);
    ck_assert_msg(ev != NULL, "bad test JSON: %s", e.text);
    int rc = projection_apply_json(&p, ev, seq, err, sizeof(err));
    json_decref(ev);
    return rc;
}

#define EXPENSE(type, extra, data)                                                                 \
    "{'event_id':'00000000-0000-4000-8000-0000000000d1','type':'" type "','group_id':'" G          \
    "','actor':'" U "','accepted_at':'2026-11-20T10:00:00Z','expense_id':'" X "'" extra            \
    ",'data':" data "}"

#define EQUAL_100                                                                                  \
    "{'description':'Dinner','amount':100,'currency':'EUR','exchange_rate':'1','date':"            \
    "'2026-11-20','category':null,'paid_by':[{'member_id':'" A "','amount':100}],"                 \
    "'split':{'mode':'equal','members':[{'member_id':'" A "'},{'member_id':'" B                    \
    "'},{'member_id':'" C "'}]}}"

#define EXACT_60_B_PAYS                                                                            \
    "{'description':'Taxi','amount':60,'currency':'EUR','exchange_rate':'1','date':"               \
    "'2026-11-21','category':null,'paid_by':[{'member_id':'" B "','amount':60}],"                  \
    "'split':{'mode':'exact','members':[{'member_id':'" C "','value':60}]}}"

static void assert_member(size_t i, int64_t paid, int64_t owed, int64_t sent, int64_t received)
{
    const struct projection_member *m = &p.members[i];
    ck_assert_int_eq(m->paid, paid);
    ck_assert_int_eq(m->owed, owed);
    ck_assert_int_eq(m->sent, sent);
    ck_assert_int_eq(m->received, received);
}

START_TEST(test_projection_create_equal_split)
{
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "", EQUAL_100)), 0);
    assert_member(0, 100, 34, 0, 0);
    assert_member(1, 0, 33, 0, 0);
    assert_member(2, 0, 33, 0, 0);
    const struct projection_expense *x = projection_expense(&p, X);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(x->version, 1);
    ck_assert_int_eq(x->amount_group, 100);
    ck_assert_int_eq(x->seq, 1);
    ck_assert_str_eq(x->created_by, U);
    ck_assert_int_eq(p.last_seq, 1);
    /* Payers first, then split members, merged per member. */
    json_t *sh = projection_shares_json(&p, x);
    char *s = json_dumps(sh, JSON_COMPACT);
    ck_assert_str_eq(s, "[{\"member_id\":\"" A "\",\"paid\":100,\"owed\":34},{\"member_id\":\"" B
                        "\",\"paid\":0,\"owed\":33},{\"member_id\":\"" C
                        "\",\"paid\":0,\"owed\":33}]");
    free(s);
    json_decref(sh);
}
END_TEST

START_TEST(test_projection_replace_moves_shares)
{
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "", EQUAL_100)), 0);
    ck_assert_int_eq(apply(2, EXPENSE("expense.replaced", ",'if_match':1", EXACT_60_B_PAYS)), 0);
    assert_member(0, 0, 0, 0, 0);
    assert_member(1, 60, 0, 0, 0);
    assert_member(2, 0, 60, 0, 0);
    const struct projection_expense *x = projection_expense(&p, X);
    ck_assert_int_eq(x->version, 2);
    ck_assert_int_eq(x->seq, 2);
    ck_assert_str_eq(x->updated_at, "2026-11-20T10:00:00Z");
}
END_TEST

START_TEST(test_projection_occurrences_stay_occurrences)
{
#define R "00000000-0000-4000-8000-0000000000e2"
#define TAXI(extra)                                                                                \
    "{'description':'Taxi','amount':60,'currency':'EUR','exchange_rate':'1','date':'2026-11-21',"  \
    "'category':null,'paid_by':[{'member_id':'" B "','amount':60}],'split':{'mode':'exact',"       \
    "'members':[{'member_id':'" C "','value':60}]}" extra "}"
    /* A template is one expense: the projection never makes its occurrences. */
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "",
                                      TAXI(",'recurrence':{'every':1,'unit':'day','until':null}"))),
                     0);
    ck_assert_int_eq(p.n_expenses, 1);
    projection_release(&p);
    setup();
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "",
                                      TAXI(",'recurrence':null,'recurrence_of':'" R "'"))),
                     0);
    /* Replaced without naming its rule: it keeps it. */
    ck_assert_int_eq(apply(2, EXPENSE("expense.replaced", ",'if_match':1", EQUAL_100)), 0);
    const struct projection_expense *x = projection_expense(&p, X);
    ck_assert_str_eq(json_string_value(json_object_get(x->content, "recurrence_of")), R);
    ck_assert_int_eq(x->version, 2);
    /* Never another rule, never a rule of its own: refused, nothing changed. */
    ck_assert_int_eq(
        apply(3, EXPENSE("expense.replaced", ",'if_match':2", TAXI(",'recurrence_of':'" X "'"))),
        -1);
    ck_assert_ptr_nonnull(strstr(err, "recurrence_of"));
    ck_assert_int_eq(apply(3, EXPENSE("expense.replaced", ",'if_match':2",
                                      TAXI(",'recurrence':{'every':1,'unit':'day'}"))),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "recurrence"));
    x = projection_expense(&p, X);
    ck_assert_int_eq(x->version, 2);
    assert_member(0, 100, 34, 0, 0);
#undef TAXI
#undef R
}
END_TEST

START_TEST(test_projection_delete_takes_shares_out)
{
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "", EQUAL_100)), 0);
    ck_assert_int_eq(apply(2, EXPENSE("expense.deleted", "", "null")), 0);
    for (size_t i = 0; i < 3; i++)
        assert_member(i, 0, 0, 0, 0);
    const struct projection_expense *x = projection_expense(&p, X);
    ck_assert_int_eq(x->deleted, 1);
    ck_assert_int_eq(x->version, 2);
    /* A deleted expense cannot be replaced or deleted again. */
    ck_assert_int_eq(apply(3, EXPENSE("expense.deleted", "", "null")), -1);
    ck_assert_int_eq(p.last_seq, 2);
}
END_TEST

START_TEST(test_projection_payment_sent_received)
{
    ck_assert_int_eq(apply(1, "{'event_id':'00000000-0000-4000-8000-0000000000d2','type':"
                              "'payment.created','group_id':'" G "','actor':'" U
                              "','accepted_at':'2026-11-20T10:00:00Z','payment_id':'" X
                              "','data':{'from_member':'" B "','to_member':'" A
                              "','amount':33,'date':'2026-11-20','note':null}}"),
                     0);
    assert_member(0, 0, 0, 0, 33);
    assert_member(1, 0, 0, 33, 0);
    ck_assert_int_eq(p.n_payments, 1);
    ck_assert_int_eq(p.payments[0].amount, 33);
}
END_TEST

START_TEST(test_projection_refuses_what_was_never_applicable)
{
    /* A gap in the group's sequence. */
    ck_assert_int_eq(apply(2, EXPENSE("expense.created", "", EQUAL_100)), -1);
    ck_assert_ptr_nonnull(strstr(err, "gap"));
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "", EQUAL_100)), 0);
    /* A stale If-Match: the worker would have answered 409. */
    ck_assert_int_eq(apply(2, EXPENSE("expense.replaced", ",'if_match':5", EXACT_60_B_PAYS)), -1);
    ck_assert_ptr_nonnull(strstr(err, "version 1"));
    /* Created twice. */
    ck_assert_int_eq(apply(2, EXPENSE("expense.created", "", EQUAL_100)), -1);
    /* Another group's event. */
    projection_release(&p);
    projection_init(&p, "00000000-0000-4000-8000-000000000002", "EUR");
    projection_add_member(&p, A);
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "", EQUAL_100)), -1);
    /* A non-member. */
    projection_release(&p);
    projection_init(&p, G, "EUR");
    projection_add_member(&p, A);
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "", EQUAL_100)), -1);
    ck_assert_ptr_nonnull(strstr(err, "member_id is not a member of this group"));
    ck_assert_int_eq(p.members[0].paid, 0);
    ck_assert_int_eq(p.last_seq, 0);
}
END_TEST

#define PAYMENT(type, extra, data)                                                                 \
    "{'event_id':'00000000-0000-4000-8000-0000000000d2','type':'" type "','group_id':'" G          \
    "','actor':'" U "','accepted_at':'2026-11-20T10:00:00Z','payment_id':'" X "'" extra            \
    ",'data':" data "}"

#define PAY(from, to, amount)                                                                      \
    "{'from_member':'" from "','to_member':'" to "','amount':" #amount                             \
    ",'date':'2026-11-20','note':null}"

#define REVERT(event, restore) "{'reverts':'" event "','restore':" restore "}"
#define SOME_EVENT "00000000-0000-4000-8000-0000000000d9"

START_TEST(test_projection_payment_replace_and_delete)
{
    ck_assert_int_eq(apply(1, PAYMENT("payment.created", "", PAY(B, A, 33))), 0);
    ck_assert_int_eq(apply(2, PAYMENT("payment.replaced", ",'if_match':1", PAY(C, A, 40))), 0);
    assert_member(0, 0, 0, 0, 40);
    assert_member(1, 0, 0, 0, 0);
    assert_member(2, 0, 0, 40, 0);
    const struct projection_payment *py = projection_payment(&p, X);
    ck_assert_int_eq(py->version, 2);
    ck_assert_int_eq(py->seq, 2);
    /* Stale: the worker would have answered 409. */
    ck_assert_int_eq(apply(3, PAYMENT("payment.deleted", ",'if_match':1", "null")), -1);
    ck_assert_ptr_nonnull(strstr(err, "version 2"));
    ck_assert_int_eq(apply(3, PAYMENT("payment.deleted", ",'if_match':2", "null")), 0);
    for (size_t i = 0; i < 3; i++)
        assert_member(i, 0, 0, 0, 0);
    ck_assert_int_eq(py->deleted, 1);
    ck_assert_int_eq(py->version, 3);
    /* Deleted: no replacement, no second deletion. */
    ck_assert_int_eq(apply(4, PAYMENT("payment.replaced", "", PAY(B, A, 1))), -1);
    ck_assert_int_eq(apply(4, PAYMENT("payment.deleted", "", "null")), -1);
    ck_assert_int_eq(p.last_seq, 3);
}
END_TEST

START_TEST(test_projection_revert_restores_and_deletes)
{
    ck_assert_int_eq(apply(1, EXPENSE("expense.created", "", EQUAL_100)), 0);
    ck_assert_int_eq(apply(2, EXPENSE("expense.deleted", "", "null")), 0);
    /* A revert without If-Match was never accepted. */
    ck_assert_int_eq(apply(3, EXPENSE("expense.reverted", "", REVERT(SOME_EVENT, EQUAL_100))), -1);
    /* Bringing the deleted expense back puts its shares in again. */
    ck_assert_int_eq(
        apply(3, EXPENSE("expense.reverted", ",'if_match':2", REVERT(SOME_EVENT, EQUAL_100))), 0);
    assert_member(0, 100, 34, 0, 0);
    assert_member(1, 0, 33, 0, 0);
    const struct projection_expense *x = projection_expense(&p, X);
    ck_assert_int_eq(x->deleted, 0);
    ck_assert_int_eq(x->version, 3);
    ck_assert_int_eq(x->created_seq, 1);
    /* Rolling back to other content moves the shares like a replacement. */
    ck_assert_int_eq(
        apply(4, EXPENSE("expense.reverted", ",'if_match':3", REVERT(SOME_EVENT, EXACT_60_B_PAYS))),
        0);
    assert_member(0, 0, 0, 0, 0);
    assert_member(1, 60, 0, 0, 0);
    assert_member(2, 0, 60, 0, 0);
    /* A revert to "deleted" takes them out. */
    ck_assert_int_eq(
        apply(5, EXPENSE("expense.reverted", ",'if_match':4", REVERT(SOME_EVENT, "null"))), 0);
    for (size_t i = 0; i < 3; i++)
        assert_member(i, 0, 0, 0, 0);
    ck_assert_int_eq(x->deleted, 1);
    /* ... and cannot delete what is deleted. */
    ck_assert_int_eq(
        apply(6, EXPENSE("expense.reverted", ",'if_match':5", REVERT(SOME_EVENT, "null"))), -1);
    /* Malformed revert data. */
    ck_assert_int_eq(apply(6, EXPENSE("expense.reverted", ",'if_match':5", "{'restore':null}")),
                     -1);
    /* Payments revert the same way. */
    ck_assert_int_eq(apply(6, PAYMENT("payment.created", "", PAY(B, A, 33))), 0);
    ck_assert_int_eq(
        apply(7, PAYMENT("payment.reverted", ",'if_match':1", REVERT(SOME_EVENT, "null"))), 0);
    assert_member(1, 0, 0, 0, 0);
    ck_assert_int_eq(
        apply(8, PAYMENT("payment.reverted", ",'if_match':2", REVERT(SOME_EVENT, PAY(B, A, 33)))),
        0);
    assert_member(0, 0, 0, 0, 33);
    assert_member(1, 0, 0, 33, 0);
    ck_assert_int_eq(projection_payment(&p, X)->version, 3);
}
END_TEST

/* Apply through the decoded event and keep the refusal, as the worker does. */
static struct projection_refusal why;

static int apply_why(int64_t seq, const char *json)
{
    char buf[2048];
    size_t i;
    for (i = 0; json[i] && i < sizeof(buf) - 1; i++)
        buf[i] = json[i] == '\'' ? '"' : json[i];
    buf[i] = '\0';
    struct event ev;
    ck_assert_msg(event_decode(buf, i, &ev, err, sizeof(err)) == 0, "bad test event: %s", err);
    memset(&why, 0, sizeof(why));
    int rc = projection_apply(&p, &ev, seq, &why);
    event_release(&ev);
    return rc;
}

/* The problem of each refusal is the one the worker records: type, detail
   and fields, exactly. */
START_TEST(test_projection_refusals_carry_the_problem)
{
    ck_assert_int_eq(apply_why(1, EXPENSE("expense.created", "", EQUAL_100)), 0);
    ck_assert_int_eq(apply_why(2, EXPENSE("expense.replaced", ",'if_match':5", EXACT_60_B_PAYS)),
                     -1);
    ck_assert_int_eq(why.code, PROBLEM_VERSION_CONFLICT);
    ck_assert_str_eq(why.detail, "the expense is at version 1, not 5");
    ck_assert_int_eq(apply_why(2, EXPENSE("expense.created", "", EQUAL_100)), -1);
    ck_assert_int_eq(why.code, PROBLEM_VERSION_CONFLICT);
    ck_assert_str_eq(why.detail, "a expense with this id already exists");
    ck_assert_int_eq(apply_why(2, EXPENSE("expense.reverted", "", REVERT(SOME_EVENT, "null"))), -1);
    ck_assert_int_eq(why.code, PROBLEM_PRECONDITION_REQUIRED);
    ck_assert_int_eq(apply_why(2, EXPENSE("expense.reverted", ",'if_match':1", "{'x':1}")), -1);
    ck_assert_int_eq(why.code, PROBLEM_VALIDATION);
    ck_assert_str_eq(why.detail, "unknown event type");
    ck_assert_int_eq(apply_why(2, EXPENSE("expense.replaced", "", "{'amount':-1}")), -1);
    ck_assert_int_eq(why.code, PROBLEM_VALIDATION);
    ck_assert_str_eq(why.detail, "the expense is not valid for this group");
    ck_assert_uint_gt(why.f.n, 0);
    ck_assert_int_eq(
        apply_why(2, EXPENSE("expense.replaced", "",
                             "{'description':'x','amount':5,'paid_by':[{'member_id':'"
                             "00000000-0000-4000-8000-0000000000ff','amount':5}],"
                             "'split':{'mode':'equal','members':[{'member_id':'" A "'}]}}")),
        -1);
    ck_assert_str_eq(why.detail, "the expense names non-members");
    ck_assert_uint_eq(why.f.n, 1);
    ck_assert_str_eq(why.f.e[0].field, "paid_by[0].member_id");
    ck_assert_str_eq(why.f.e[0].message, "is not a member of this group");
    ck_assert_int_eq(apply_why(2, EXPENSE("expense.deleted", "", "null")), 0);
    ck_assert_int_eq(apply_why(3, EXPENSE("expense.deleted", "", "null")), -1);
    ck_assert_int_eq(why.code, PROBLEM_NOT_FOUND);
    ck_assert_str_eq(why.detail, "the expense does not exist or was deleted");
    /* Payments. */
    ck_assert_int_eq(apply_why(3, PAYMENT("payment.created", "",
                                          PAY(B, "00000000-0000-4000-8000-0000000000ff", 5))),
                     -1);
    ck_assert_str_eq(why.detail, "the payment names non-members");
    ck_assert_uint_eq(why.f.n, 1);
    ck_assert_str_eq(why.f.e[0].field, "to_member");
    ck_assert_int_eq(apply_why(3, PAYMENT("payment.created", "", PAY(B, B, 5))), -1);
    ck_assert_str_eq(why.detail, "the payment is not valid");
    ck_assert_str_eq(why.f.e[0].field, "to_member");
    ck_assert_int_eq(apply_why(3, PAYMENT("payment.replaced", "", PAY(B, A, 5))), -1);
    ck_assert_int_eq(why.code, PROBLEM_NOT_FOUND);
    ck_assert_str_eq(why.detail, "the payment does not exist or was deleted");
    ck_assert_int_eq(p.last_seq, 2);
}
END_TEST

/* Overflow and range: refused whole, every balance as it was. */
START_TEST(test_projection_overflow_limits)
{
    p.members[0].paid = INT64_MAX - 10;
    p.members[1].owed = INT64_MAX - 10;
    ck_assert_int_eq(apply_why(1, EXPENSE("expense.created", "", EQUAL_100)), -1);
    ck_assert_str_eq(why.detail, "a balance would overflow 64 bits");
    assert_member(0, INT64_MAX - 10, 0, 0, 0);
    assert_member(1, 0, INT64_MAX - 10, 0, 0);
    assert_member(2, 0, 0, 0, 0);
    ck_assert_int_eq(p.n_expenses, 0);
    /* No balance overflows, but the group's sums would leave the range. */
    p.members[0].paid = INT64_MAX / 2;
    p.members[1].paid = INT64_MAX / 2 - 10;
    p.members[1].owed = 0;
    p.members[2].owed = 10;
    ck_assert_int_eq(apply_why(1, EXPENSE("expense.created", "", EQUAL_100)), -1);
    ck_assert_str_eq(why.detail, LEDGER_RANGE_DETAIL);
    assert_member(0, INT64_MAX / 2, 0, 0, 0);
    assert_member(2, 0, 10, 0, 0);
    ck_assert_int_eq(apply_why(1, PAYMENT("payment.created", "", PAY(B, A, 100))), -1);
    ck_assert_str_eq(why.detail, LEDGER_RANGE_DETAIL);
    assert_member(1, INT64_MAX / 2 - 10, 0, 0, 0);
    ck_assert_int_eq(p.last_seq, 0);
}
END_TEST

/* A revert that would bring a deleted expense back out of range is refused
   with the balances untouched (its old shares were never in them). */
START_TEST(test_projection_restore_out_of_range_changes_nothing)
{
    ck_assert_int_eq(apply_why(1, EXPENSE("expense.created", "", EQUAL_100)), 0);
    ck_assert_int_eq(apply_why(2, EXPENSE("expense.deleted", "", "null")), 0);
    p.members[0].paid = INT64_MAX - 50;
    p.members[1].owed = INT64_MAX - 50;
    ck_assert_int_eq(
        apply_why(3, EXPENSE("expense.reverted", ",'if_match':2", REVERT(SOME_EVENT, EQUAL_100))),
        -1);
    assert_member(0, INT64_MAX - 50, 0, 0, 0);
    assert_member(1, 0, INT64_MAX - 50, 0, 0);
    assert_member(2, 0, 0, 0, 0);
    ck_assert_int_eq(projection_expense(&p, X)->deleted, 1);
}
END_TEST

/* What the worker writes: the resources and members an event changed. */
START_TEST(test_projection_marks_what_changed)
{
    struct projection_expense *x = projection_put_expense(&p, X);
    ck_assert_int_eq(x->stored, 1);
    ck_assert_int_eq(x->dirty, 0);
    x->version = 4;
    x->content = json_pack("{s:s}", "description", "kept");
    x->shares = calloc(1, sizeof(*x->shares));
    x->shares[0].member = 1;
    x->shares[0].paid = 0;
    x->shares[0].owed = 7;
    x->n_shares = 1;
    p.members[1].owed = 7;
    p.members[0].paid = 7;
    ck_assert_int_eq(apply_why(1, EXPENSE("expense.replaced", ",'if_match':4", EXACT_60_B_PAYS)),
                     0);
    ck_assert_int_eq(x->dirty, 1);
    ck_assert_int_eq(x->stored, 1);
    ck_assert_int_eq(x->version, 5);
    ck_assert_int_eq(p.members[0].dirty, 0); /* neither in the old shares nor the new */
    ck_assert_int_eq(p.members[1].dirty, 1);
    ck_assert_int_eq(p.members[2].dirty, 1);
    assert_member(1, 60, 0, 0, 0);
    /* A new one is not stored. */
    ck_assert_int_eq(apply_why(2, PAYMENT("payment.created", "", PAY(B, A, 5))), 0);
    ck_assert_int_eq(projection_payment(&p, X)->stored, 0);
    ck_assert_int_eq(projection_payment(&p, X)->dirty, 1);
    ck_assert_int_eq(p.members[0].dirty, 1);
    /* The resources as the api shows them. */
    json_t *r = projection_expense_resource(&p, x);
    ck_assert_str_eq(json_string_value(json_object_get(r, "group_id")), G);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "version")), 5);
    json_decref(r);
    r = projection_payment_resource(&p, projection_payment(&p, X));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "amount")), 5);
    ck_assert(json_is_null(json_object_get(r, "note")));
    json_decref(r);
}
END_TEST

/* Members are found by a hash index, however many. */
START_TEST(test_projection_member_index)
{
    char id[37];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", 100000 + i);
        ck_assert_uint_eq(projection_add_member(&p, id), (size_t)i + 3);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", 100000 + i);
        ck_assert_uint_eq(projection_member(&p, id), (size_t)i + 3);
    }
    ck_assert_uint_eq(projection_member(&p, A), 0);
    ck_assert_uint_eq(projection_member(&p, C), 2);
    ck_assert_uint_eq(projection_member(&p, "00000000-0000-4000-8000-000000099999"), SIZE_MAX);
    ck_assert_ptr_null(projection_expense(&p, X));
    ck_assert_ptr_null(projection_payment(&p, X));
}
END_TEST

#define ADMIN(type, data)                                                                          \
    "{'event_id':'00000000-0000-4000-8000-0000000000d2','type':'" type "','group_id':'" G          \
    "','actor':'" U "','accepted_at':'2026-11-20T10:00:00Z','data':" data "}"

static int admin_why(int64_t seq, const char *json)
{
    char buf[2048];
    size_t i;
    for (i = 0; json[i] && i < sizeof(buf) - 1; i++)
        buf[i] = json[i] == '\'' ? '"' : json[i];
    buf[i] = '\0';
    json_t *root = json_loads(buf, 0, NULL);
    struct event_admin ev;
    ck_assert_msg(event_admin_decode_json(root, &ev, err, sizeof(err)) == 0, "bad test event: %s",
                  err);
    memset(&why, 0, sizeof(why));
    int rc = projection_apply_admin(&p, &ev, seq, &why);
    event_admin_release(&ev);
    json_decref(root);
    return rc;
}

/* Management events take their seq; archiving refuses ledger events until unarchived;
   a removed member can no longer be named, and only one without a balance is removed. */
START_TEST(test_projection_admin_events)
{
    ck_assert_int_eq(apply(1, ADMIN("group.renamed", "{'name':'Trip'}")), 0);
    ck_assert_int_eq(apply(2, ADMIN("member.renamed", "{'member_id':'" C "','name':'Cy'}")), 0);
    ck_assert_int_eq(apply(3, ADMIN("invite.revoked", "{'invite_id':'" X "'}")), 0);
    ck_assert_int_eq(apply(4, ADMIN("member.left", "{'member_id':'" A "'}")), 0);
    ck_assert_int_eq(p.last_seq, 4);
    /* a gap, a member that is not the group's, a malformed data: refused */
    ck_assert_int_eq(apply(6, ADMIN("group.archived", "{}")), -1);
    ck_assert_int_eq(apply(5, ADMIN("member.removed", "{'member_id':'" X "','name':'X'}")), -1);
    ck_assert_int_eq(apply(5, ADMIN("group.renamed", "{'name':''}")), -1);
    ck_assert_int_eq(apply(5, ADMIN("group.archived", "{'why':1}")), -1);
    ck_assert_int_eq(p.last_seq, 4);

    ck_assert_int_eq(apply(5, ADMIN("group.archived", "{}")), 0);
    ck_assert_int_eq(p.archived, 1);
    ck_assert_int_eq(apply_why(6, EXPENSE("expense.created", "", EQUAL_100)), -1);
    ck_assert_int_eq(why.code, PROBLEM_GROUP_ARCHIVED);
    ck_assert_int_eq(apply(6, ADMIN("group.unarchived", "{}")), 0);
    ck_assert_int_eq(p.archived, 0);
    ck_assert_int_eq(apply(7, EXPENSE("expense.created", "", EQUAL_100)), 0);

    /* C owes 33: not removable; after a payment from C to A of 33 it is. */
    ck_assert_int_eq(admin_why(8, ADMIN("member.removed", "{'member_id':'" C "','name':'C'}")), -1);
    ck_assert_int_eq(why.code, PROBLEM_CONFLICT);
    ck_assert_int_eq(admin_why(8, ADMIN("member.removed", "{'member_id':'" X "','name':'X'}")), -1);
    ck_assert_int_eq(why.code, PROBLEM_NOT_FOUND);
    ck_assert_int_eq(p.last_seq, 7);
}
END_TEST

START_TEST(test_projection_removed_member_is_gone)
{
    ck_assert_int_eq(apply(1, ADMIN("member.removed", "{'member_id':'" C "','name':'C'}")), 0);
    ck_assert_uint_eq(projection_member(&p, C), SIZE_MAX);
    ck_assert_uint_eq(projection_member(&p, B), 1);
    ck_assert_int_eq(apply_why(2, EXPENSE("expense.created", "", EQUAL_100)), -1);
    ck_assert_int_eq(why.code, PROBLEM_VALIDATION);
    ck_assert_str_eq(why.detail, "the expense names non-members");
    ck_assert_int_eq(apply(2, ADMIN("member.removed", "{'member_id':'" C "','name':'C'}")), -1);
    ck_assert_int_eq(apply(2, ADMIN("member.renamed", "{'member_id':'" C "','name':'x'}")), -1);
}
END_TEST

static Suite *projection_suite(void)
{
    Suite *s = suite_create("projection");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_projection_create_equal_split);
    tcase_add_test(tc, test_projection_replace_moves_shares);
    tcase_add_test(tc, test_projection_delete_takes_shares_out);
    tcase_add_test(tc, test_projection_payment_sent_received);
    tcase_add_test(tc, test_projection_refuses_what_was_never_applicable);
    tcase_add_test(tc, test_projection_payment_replace_and_delete);
    tcase_add_test(tc, test_projection_revert_restores_and_deletes);
    tcase_add_test(tc, test_projection_refusals_carry_the_problem);
    tcase_add_test(tc, test_projection_overflow_limits);
    tcase_add_test(tc, test_projection_restore_out_of_range_changes_nothing);
    tcase_add_test(tc, test_projection_marks_what_changed);
    tcase_add_test(tc, test_projection_member_index);
    tcase_add_test(tc, test_projection_admin_events);
    tcase_add_test(tc, test_projection_removed_member_is_gone);
    tcase_add_test(tc, test_projection_occurrences_stay_occurrences);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(projection_suite)

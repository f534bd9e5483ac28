/*
 * Unit tests for shared/ledger: the validator the api runs before it queues
 * a write and the worker runs again when it applies it. Every refusal names
 * the field at fault; what is accepted is computed exactly (shares sum to the
 * amount, conversion rounds half-even once), and the rules on balances are
 * all or nothing. (The range rule has its own suite: test_ledger_range.)
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "ledger.h"
#include "unit.h"

#define A "00000000-0000-4000-8000-00000000000a"
#define B "00000000-0000-4000-8000-00000000000b"
#define C "00000000-0000-4000-8000-00000000000c"
#define EID "00000000-0000-4000-8000-0000000000d1"

static struct json_doc doc;
static struct ledger_expense e;
static struct fields f;

/* Parse body (single quotes for double ones) as an expense of an EUR group.
   0 or -1 as ledger_expense_parse. */
static int expense(const char *body)
{
    char buf[4096];
    size_t i;
    struct json_doc_error err;
    for (i = 0; body[i] && i < sizeof(buf) - 1; i++)
        buf[i] = body[i] == '\'' ? '"' : body[i];
    buf[i] = '\0';
    json_doc_release(&doc);
    ledger_expense_release(&e);
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(json_doc_parse(&doc, buf, i, 32, &err), 0);
    return ledger_expense_parse(&doc, doc.root, "EUR", "2026-11-20", &e, &f);
}

static int payment(const char *body, struct ledger_payment *p)
{
    char buf[2048];
    size_t i;
    for (i = 0; body[i] && i < sizeof(buf) - 1; i++)
        buf[i] = body[i] == '\'' ? '"' : body[i];
    buf[i] = '\0';
    memset(&f, 0, sizeof(f));
    json_t *v = json_loads(buf, 0, NULL);
    ck_assert_ptr_nonnull(v);
    int rc = ledger_payment_parse(v, "2026-11-20", p, &f);
    json_decref(v);
    return rc;
}

static int has_field(const char *field, const char *message)
{
    for (size_t i = 0; i < f.n; i++)
        if (strcmp(f.e[i].field, field) == 0 && strstr(f.e[i].message, message))
            return 1;
    return 0;
}

static void teardown(void)
{
    json_doc_release(&doc);
    ledger_expense_release(&e);
}

#define PAID_A(amount) "'paid_by':[{'member_id':'" A "','amount':" amount "}]"
#define EQUAL_AB "'split':{'mode':'equal','members':[{'member_id':'" A "'},{'member_id':'" B "'}]}"

START_TEST(test_ledger_expense_equal_split_is_exact)
{
    ck_assert_int_eq(expense("{'description':'Taxi','amount':1001," PAID_A(
                         "1001") ",'split':{"
                                 "'mode':'equal','members':[{'member_id':'" A "'},{'member_id':'" B
                                 "'},{'member_id':'" C "'}]}}"),
                     0);
    ck_assert_str_eq(e.description, "Taxi");
    ck_assert_str_eq(e.date, "2026-11-20"); /* today, when absent */
    ck_assert_str_eq(e.currency, "EUR");
    ck_assert_int_eq(e.amount_group, 1001);
    int64_t sum = 0;
    for (size_t i = 0; i < e.n_split; i++) {
        ck_assert(e.split[i].computed == 333 || e.split[i].computed == 334);
        sum += e.split[i].computed;
    }
    ck_assert_int_eq(sum, 1001);
    ck_assert_int_eq(e.paid[0].computed, 1001);
}
END_TEST

START_TEST(test_ledger_expense_modes)
{
    ck_assert_int_eq(expense("{'description':'x','amount':1000," PAID_A(
                         "1000") ",'split':{"
                                 "'mode':'exact','members':[{'member_id':'" A "','value':250},"
                                 "{'member_id':'" B "','value':750}]}}"),
                     0);
    ck_assert_int_eq(e.split[1].computed, 750);
    ck_assert_int_eq(expense("{'description':'x','amount':1000," PAID_A(
                         "1000") ",'split':{"
                                 "'mode':'percent','members':[{'member_id':'" A "','value':12.5},"
                                 "{'member_id':'" B "','value':87.5}]}}"),
                     0);
    ck_assert_int_eq(e.split[0].computed, 125);
    ck_assert_int_eq(e.split[1].computed, 875);
    ck_assert_int_eq(expense("{'description':'x','amount':900," PAID_A(
                         "900") ",'split':{"
                                "'mode':'shares','members':[{'member_id':'" A "','value':1},"
                                "{'member_id':'" B "','value':2}]}}"),
                     0);
    ck_assert_int_eq(e.split[0].computed, 300);
    ck_assert_int_eq(e.split[1].computed, 600);
}
END_TEST

START_TEST(test_ledger_expense_converts_once)
{
    /* 10.00 USD at 0.925 EUR: 9.25 EUR, and the shares sum to it. */
    ck_assert_int_eq(expense("{'description':'x','amount':1000,'currency':'USD','exchange_rate':"
                             "'0.925'," PAID_A("1000") "," EQUAL_AB "}"),
                     0);
    ck_assert_int_eq(e.amount_group, 925);
    ck_assert_int_eq(e.split[0].computed + e.split[1].computed, 925);
    ck_assert_int_eq(e.paid[0].computed, 925);
    ck_assert_str_eq(e.rate_text, "0.925");
}
END_TEST

/* Each refusal names its field: a table of bodies and what they lack. */
START_TEST(test_ledger_expense_refusals_name_the_field)
{
    static const struct {
        const char *body, *field, *message;
    } cases[] = {
        {"[]", "", "must be a JSON object"},
        {"{'amount':1," PAID_A("1") "," EQUAL_AB "}", "description", "is required"},
        {"{'description':'',"
         "'amount':1," PAID_A("1") "," EQUAL_AB "}",
         "description", "characters long"},
        {"{'description':'x','amount':0," PAID_A("0") "," EQUAL_AB "}", "amount",
         "must be positive"},
        {"{'description':'x','amount':1.5," PAID_A("1") "," EQUAL_AB "}", "amount", "integer"},
        {"{'description':'x','amount':1,'currency':'XXY'," PAID_A("1") "," EQUAL_AB "}", "currency",
         "ISO 4217"},
        {"{'description':'x','amount':1,'currency':'USD'," PAID_A("1") "," EQUAL_AB "}",
         "exchange_rate", "is required"},
        {"{'description':'x','amount':1,'exchange_rate':'2'," PAID_A("1") "," EQUAL_AB "}",
         "exchange_rate", "must be 1"},
        {"{'description':'x','amount':1,'date':'2026-02-30'," PAID_A("1") "," EQUAL_AB "}", "date",
         "YYYY-MM-DD"},
        {"{'description':'x','amount':1,'colour':'red'," PAID_A("1") "," EQUAL_AB "}", "colour",
         "not a known field"},
        {"{'description':'x','amount':1," EQUAL_AB "}", "paid_by", "is required"},
        {"{'description':'x','amount':2," PAID_A("1") "," EQUAL_AB "}", "paid_by",
         "sum to the expense amount"},
        {"{'description':'x','amount':2,'paid_by':[{'member_id':'" A "','amount':1},"
         "{'member_id':'" A "','amount':1}]," EQUAL_AB "}",
         "paid_by[1]", "twice"},
        {"{'description':'x','amount':1,'paid_by':[{'member_id':'A','amount':1}]," EQUAL_AB "}",
         "paid_by[0].member_id", "lowercase UUID"},
        {"{'description':'x','amount':1," PAID_A("1") "}", "split", "is required"},
        {"{'description':'x','amount':1," PAID_A("1") ",'split':{'mode':'thirds','members':[]}}",
         "split.mode", "must be one of"},
        {"{'description':'x','amount':1," PAID_A("1") ",'split':{'mode':'equal','members':[]}}",
         "split.members", "1 to"},
        {"{'description':'x','amount':1," PAID_A("1") ",'split':{'mode':'equal','members':["
                                                      "{'member_id':'" A "','value':1}]}}",
         "split.members[0].value", "absent in equal mode"},
        {"{'description':'x','amount':10," PAID_A("10") ",'split':{'mode':'exact','members':["
                                                        "{'member_id':'" A "','value':4}]}}",
         "split.members", "sum to the expense amount"},
        {"{'description':'x','amount':10," PAID_A("10") ",'split':{'mode':'percent','members':["
                                                        "{'member_id':'" A "','value':99}]}}",
         "split.members", "exactly 100"},
        {"{'description':'x','amount':10," PAID_A("10") ",'split':{'mode':'shares','members':["
                                                        "{'member_id':'" A "','value':0}]}}",
         "split.members[0].value", "must be positive"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(expense(cases[i].body) == -1, "case %zu accepted", i);
        ck_assert_msg(has_field(cases[i].field, cases[i].message),
                      "case %zu: no '%s' %s (first: '%s' %s)", i, cases[i].field, cases[i].message,
                      f.n ? f.e[0].field : "", f.n ? f.e[0].message : "");
    }
}
END_TEST

/* The normal form round-trips: what the api queues parses to the same
   expense when the worker reads it. */
START_TEST(test_ledger_expense_normal_form_round_trips)
{
    ck_assert_int_eq(expense("{'description':'Hotel','amount':12345,'currency':'USD',"
                             "'exchange_rate':'1.0825','date':'2026-11-01','category':'stay',"
                             "'paid_by':[{'member_id':'" B "','amount':12345}],'split':{'mode':"
                             "'percent','members':[{'member_id':'" A "','value':33.33},"
                             "{'member_id':'" B "','value':66.67}]}}"),
                     0);
    json_t *n1 = ledger_expense_to_json(&e);
    char *t1 = json_dump_compact(n1);
    int64_t amount_group = e.amount_group, owed0 = e.split[0].computed;
    ck_assert_int_eq(expense(t1), 0);
    json_t *n2 = ledger_expense_to_json(&e);
    char *t2 = json_dump_compact(n2);
    ck_assert_str_eq(t1, t2);
    ck_assert_int_eq(e.amount_group, amount_group);
    ck_assert_int_eq(e.split[0].computed, owed0);
    free(t1);
    free(t2);
    json_decref(n1);
    json_decref(n2);
}
END_TEST

/* An itemised bill: members in the order they first appear (B, A, C), the shares from
   shared/items, the normal form round-trips, and every refusal names its field. */
#define ITEMS_BILL(amount, charges)                                                                \
    "{'description':'Dinner','amount':" amount ",'paid_by':[{'member_id':'" A "','amount':" amount \
    "}],'split':{'mode':'items','items':["                                                         \
    "{'name':'Wine','price':1200,'quantity':2,'split':{'mode':'shares','members':["                \
    "{'member_id':'" B "','value':1.5},{'member_id':'" A "','value':'0.5'}]}},"                    \
    "{'name':'Bread','price':300,'split':{'mode':'equal','members':[{'member_id':'" C              \
    "'},{'member_id':'" A "'}]}}],'charges':" charges "}}"

START_TEST(test_ledger_expense_items)
{
    /* Subtotal 2700; tax 10 % = 270; tip 30: 3000. B: 2400 x 3/4 x 3000/2700 = 2000;
       A: (600 + 150) x 3000/2700 = 833.33; C: 150 x 3000/2700 = 166.67. */
    ck_assert_int_eq(
        expense(ITEMS_BILL("3000", "[{'kind':'tax','percent':'10'},{'kind':'tip','amount':30}]")),
        0);
    ck_assert_int_eq(e.n_split, 3);
    ck_assert_str_eq(e.split[0].member_id, B);
    ck_assert_str_eq(e.split[1].member_id, A);
    ck_assert_str_eq(e.split[2].member_id, C);
    ck_assert_int_eq(e.split[0].computed, 2000);
    ck_assert_int_eq(e.split[1].computed, 833);
    ck_assert_int_eq(e.split[2].computed, 167);
    json_t *n1 = ledger_expense_to_json(&e);
    char *t1 = json_dump_compact(n1);
    ck_assert_int_eq(expense(t1), 0);
    json_t *n2 = ledger_expense_to_json(&e);
    char *t2 = json_dump_compact(n2);
    ck_assert_str_eq(t1, t2);
    ck_assert_ptr_nonnull(strstr(t1, "\"percent\":\"10.00\""));
    ck_assert_ptr_nonnull(strstr(t1, "\"quantity\":1,"));
    free(t1);
    free(t2);
    json_decref(n1);
    json_decref(n2);

    ck_assert_int_eq(expense(ITEMS_BILL("3001", "[{'kind':'tax','percent':'10'},{'kind':'tip',"
                                                "'amount':30}]")),
                     -1);
    ck_assert(has_field("amount", "subtotal 2700 plus the charges 300"));
    ck_assert_int_eq(expense(ITEMS_BILL("2700", "[{'kind':'vat','amount':1}]")), -1);
    ck_assert(has_field("split.charges[0].kind", "tax, tip, service"));
    ck_assert_int_eq(expense(ITEMS_BILL("2700", "[{'kind':'tip','percent':1.234}]")), -1);
    ck_assert(has_field("split.charges[0].percent", "2 decimals"));
    ck_assert_int_eq(expense(ITEMS_BILL("2700", "[]")), 0);
    ck_assert_int_eq(expense("{'description':'x','amount':5," PAID_A(
                         "5") ",'split':{'mode':'items',"
                              "'items':[{'name':'x','price':5,'split':{'mode':'equal','members':[{"
                              "'member_id':'" A "','value':1}]}}]}}"),
                     -1);
    ck_assert(has_field("split.items[0].split.members[0].value", "absent"));
    ck_assert_int_eq(expense("{'description':'x','amount':5," PAID_A("5") "," EQUAL_AB "}"), 0);
    char sp[64];
    ledger_split_path(&e, 1, sp, sizeof(sp));
    ck_assert_str_eq(sp, "split.members[1]");
}
END_TEST

static size_t member_of(const char *id, void *ctx)
{
    (void)ctx;
    return strcmp(id, A) == 0 ? 0 : strcmp(id, B) == 0 ? 1 : SIZE_MAX;
}

static int64_t totals[2][2]; /* [member][owed] */

static int64_t *balance(size_t member, int owed, void *ctx)
{
    (void)ctx;
    return &totals[member][owed];
}

START_TEST(test_ledger_shares_merge_and_move)
{
    /* B pays, A and B owe: B's share merges its payment and its debt. */
    ck_assert_int_eq(expense("{'description':'x','amount':100,'paid_by':[{'member_id':'" B
                             "','amount':100}]," EQUAL_AB "}"),
                     0);
    size_t n;
    struct ledger_share *sh = ledger_merge_shares(&e, member_of, NULL, &n, &f);
    ck_assert_ptr_nonnull(sh);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(sh[0].member, 1); /* payers first */
    ck_assert_int_eq(sh[0].paid, 100);
    ck_assert_int_eq(sh[0].owed, 50);
    ck_assert_uint_eq(sh[1].member, 0);
    ck_assert_int_eq(sh[1].paid, 0);
    ck_assert_int_eq(sh[1].owed, 50);

    memset(totals, 0, sizeof(totals));
    ck_assert_int_eq(ledger_move_shares(sh, n, 1, balance, NULL), 0);
    ck_assert_int_eq(totals[1][0], 100);
    ck_assert_int_eq(totals[0][1], 50);
    /* All or nothing: one total at the edge refuses the whole move. */
    totals[0][1] = INT64_MAX - 10;
    ck_assert_int_eq(ledger_move_shares(sh, n, 1, balance, NULL), -1);
    ck_assert_int_eq(totals[1][0], 100);
    ck_assert_int_eq(totals[0][1], INT64_MAX - 10);
    free(sh);

    /* A non-member is named by its path. */
    ck_assert_int_eq(expense("{'description':'x','amount':100," PAID_A(
                         "100") ",'split':{'mode':"
                                "'equal','members':[{'member_id':'" C "'}]}}"),
                     0);
    sh = ledger_merge_shares(&e, member_of, NULL, &n, &f);
    ck_assert_ptr_null(sh);
    ck_assert(has_field("split.members[0].member_id", "is not a member of this group"));
}
END_TEST

START_TEST(test_ledger_payment)
{
    struct ledger_payment p;
    ck_assert_int_eq(payment("{'from_member':'" A "','to_member':'" B "','amount':500,'note':"
                             "'rent'}",
                             &p),
                     0);
    ck_assert_int_eq(p.amount, 500);
    ck_assert_str_eq(p.date, "2026-11-20");
    ck_assert_str_eq(p.note, "rent");
    json_t *j = ledger_payment_to_json(&p);
    char *t = json_dump_compact(j);
    ck_assert_str_eq(t, "{\"from_member\":\"" A "\",\"to_member\":\"" B
                        "\",\"amount\":500,\"date\":\"2026-11-20\",\"note\":\"rent\"}");
    free(t);
    json_decref(j);
    ledger_payment_release(&p);
    ck_assert_ptr_null(p.note);

    ck_assert_int_eq(payment("{'from_member':'" A "','to_member':'" A "','amount':5}", &p), -1);
    ck_assert(has_field("to_member", "must differ"));
    ck_assert_int_eq(payment("{'to_member':'" A "','amount':-5,'tip':1}", &p), -1);
    ck_assert(has_field("tip", "not a known field"));
    ck_assert_int_eq(payment("{'to_member':'" A "','amount':-5}", &p), -1);
    ck_assert(has_field("from_member", "is required"));
    ck_assert(has_field("amount", "must be positive"));
    ck_assert_int_eq(payment("[7]", &p), -1);
    ck_assert(has_field("", "JSON object"));
}
END_TEST

START_TEST(test_ledger_change_of_and_check)
{
    struct ledger_change ch;
    enum problem_code code;
    char detail[128];
    json_t *content = json_pack("{s:s}", "description", "x");
    ck_assert_int_eq(ledger_change_of(EVENT_PAYMENT_CREATED, content, &ch), 0);
    ck_assert_int_eq(ch.op, LEDGER_OP_CREATE);
    ck_assert_ptr_eq(ch.content, content);
    ck_assert_int_eq(ledger_change_of(EVENT_EXPENSE_REPLACED, content, &ch), 0);
    ck_assert_int_eq(ch.op, LEDGER_OP_REPLACE);
    ck_assert_int_eq(ledger_change_of(EVENT_EXPENSE_DELETED, json_null(), &ch), 0);
    ck_assert_int_eq(ch.op, LEDGER_OP_DELETE);
    ck_assert_ptr_null(ch.content);
    ck_assert_int_eq(ledger_change_of(EVENT_EXPENSE_REPLACED, json_null(), &ch), -1);
    /* A revert: restore an object (back to life) or null (deleted). */
    json_t *r = event_revert_data(EID, json_incref(content));
    ck_assert_int_eq(ledger_change_of(EVENT_PAYMENT_REVERTED, r, &ch), 0);
    ck_assert_int_eq(ch.op, LEDGER_OP_RESTORE);
    ck_assert_str_eq(ch.reverts, EID);
    json_decref(r);
    r = json_pack("{s:s, s:i}", "reverts", EID, "restore", 1);
    ck_assert_int_eq(ledger_change_of(EVENT_PAYMENT_REVERTED, r, &ch), -1);
    json_decref(r);
    r = json_pack("{s:s, s:n}", "reverts", "not-a-uuid", "restore");
    ck_assert_int_eq(ledger_change_of(EVENT_EXPENSE_REVERTED, r, &ch), -1);
    json_decref(r);

    /* Creation: only of a new id. */
    ck_assert_int_eq(ledger_change_of(EVENT_EXPENSE_CREATED, content, &ch), 0);
    ck_assert_int_eq(ledger_change_check(&ch, "expense", 0, 0, 0, 0, &code, detail, 128), 0);
    ck_assert_int_eq(ledger_change_check(&ch, "expense", 1, 0, 1, 0, &code, detail, 128), -1);
    ck_assert_int_eq(code, PROBLEM_VERSION_CONFLICT);
    ck_assert_str_eq(detail, "a expense with this id already exists");
    /* Replacement: a live resource, at the If-Match version when given. */
    ck_assert_int_eq(ledger_change_of(EVENT_PAYMENT_REPLACED, content, &ch), 0);
    ck_assert_int_eq(ledger_change_check(&ch, "payment", 1, 0, 2, 0, &code, detail, 128), 0);
    ck_assert_int_eq(ledger_change_check(&ch, "payment", 1, 0, 2, 2, &code, detail, 128), 0);
    ck_assert_int_eq(ledger_change_check(&ch, "payment", 1, 0, 2, 1, &code, detail, 128), -1);
    ck_assert_int_eq(code, PROBLEM_VERSION_CONFLICT);
    ck_assert_str_eq(detail, "the payment is at version 2, not 1");
    ck_assert_int_eq(ledger_change_check(&ch, "payment", 1, 1, 2, 2, &code, detail, 128), -1);
    ck_assert_int_eq(code, PROBLEM_NOT_FOUND);
    ck_assert_int_eq(ledger_change_check(&ch, "payment", 0, 0, 0, 0, &code, detail, 128), -1);
    ck_assert_int_eq(code, PROBLEM_NOT_FOUND);
    ck_assert_str_eq(detail, "the payment does not exist or was deleted");
    json_decref(content);
}
END_TEST

#define SOME_EVENT "00000000-0000-4000-8000-0000000000d9"

/* Reverts: If-Match required; a restore may bring a deleted resource back. */
START_TEST(test_ledger_revert_rules)
{
    struct ledger_change ch;
    enum problem_code code;
    char detail[128];
    json_t *data = json_loads("{\"reverts\":\"" SOME_EVENT "\",\"restore\":null}", 0, NULL);
    ck_assert_int_eq(ledger_change_of(EVENT_EXPENSE_CREATED, json_null(), &ch), -1);
    ck_assert_int_eq(ledger_change_of(EVENT_TYPE_COUNT, data, &ch), -1);
    ck_assert_int_eq(ledger_change_of(EVENT_EXPENSE_REVERTED, data, &ch), 0);
    ck_assert_int_eq(ch.op, LEDGER_OP_DELETE);
    ck_assert_str_eq(ch.reverts, SOME_EVENT);
    /* A revert needs If-Match; a restore may bring a deleted resource back, a delete not. */
    ck_assert_int_eq(ledger_change_check(&ch, "expense", 1, 0, 4, 0, &code, detail, 128), -1);
    ck_assert_int_eq(code, PROBLEM_PRECONDITION_REQUIRED);
    ck_assert_int_eq(ledger_change_check(&ch, "expense", 1, 1, 4, 4, &code, detail, 128), -1);
    ck_assert_int_eq(code, PROBLEM_NOT_FOUND);
    ck_assert_int_eq(ledger_change_check(&ch, "expense", 1, 0, 4, 3, &code, detail, 128), -1);
    ck_assert_int_eq(code, PROBLEM_VERSION_CONFLICT);
    ck_assert_int_eq(ledger_change_check(&ch, "expense", 1, 0, 4, 4, &code, detail, 128), 0);
    ch.op = LEDGER_OP_RESTORE;
    ck_assert_int_eq(ledger_change_check(&ch, "expense", 1, 1, 4, 4, &code, detail, 128), 0);
    ck_assert_int_eq(ledger_change_check(&ch, "expense", 0, 0, 0, 4, &code, detail, 128), -1);
    ck_assert_int_eq(code, PROBLEM_NOT_FOUND);
    json_decref(data);
    /* Balance arithmetic of a payment: all or nothing. */
    int64_t sent = INT64_MAX - 1, received = 0;
    ck_assert_int_eq(ledger_move_payment(&sent, &received, 5, 1), -1);
    ck_assert_int_eq(sent, INT64_MAX - 1);
    ck_assert_int_eq(received, 0);
    ck_assert_int_eq(ledger_move_payment(&sent, &received, 1, 1), 0);
    ck_assert_int_eq(received, 1);
}
END_TEST

START_TEST(test_ledger_recurrence)
{
#define BASE "{'description':'Rent','amount':10,'date':'2026-01-31'," PAID_A("10") "," EQUAL_AB
    ck_assert_int_eq(expense(BASE ",'recurrence':{'every':1,'unit':'month'}}"), 0);
    ck_assert_int_eq(e.has_recurrence, 1);
    ck_assert_int_eq(e.recurrence.every, 1);
    ck_assert_int_eq(e.recurrence.unit, RECUR_MONTH);
    ck_assert_str_eq(e.recurrence.until, "");
    json_t *n = ledger_expense_to_json(&e);
    char *text = json_dumps(json_object_get(n, "recurrence"), JSON_COMPACT);
    ck_assert_str_eq(text, "{\"every\":1,\"unit\":\"month\",\"until\":null}");
    ck_assert(json_is_null(json_object_get(n, "recurrence_of")));
    free(text);
    json_decref(n);
    /* Without either, the normal form has neither key. */
    ck_assert_int_eq(expense(BASE ",'recurrence':null}"), 0);
    n = ledger_expense_to_json(&e);
    ck_assert_ptr_null(json_object_get(n, "recurrence"));
    ck_assert_ptr_null(json_object_get(n, "recurrence_of"));
    json_decref(n);
    ck_assert_int_eq(expense(BASE ",'recurrence':{'every':2,'unit':'week','until':'2026-01-31'}}"),
                     0);
    ck_assert_str_eq(e.recurrence.until, "2026-01-31");
    ck_assert_int_eq(expense(BASE ",'recurrence_of':'" EID "'}"), 0);
    ck_assert_str_eq(e.recurrence_of, EID);
    ck_assert_int_eq(e.has_recurrence, 0);

    ck_assert_int_eq(expense(BASE ",'recurrence':{'every':0,'unit':'day'}}"), -1);
    ck_assert(has_field("recurrence.every", "from 1 to 366"));
    ck_assert_int_eq(expense(BASE ",'recurrence':{'every':367,'unit':'day'}}"), -1);
    ck_assert(has_field("recurrence.every", "from 1 to 366"));
    ck_assert_int_eq(expense(BASE ",'recurrence':{'every':1,'unit':'days'}}"), -1);
    ck_assert(has_field("recurrence.unit", "day, week, month, year"));
    ck_assert_int_eq(expense(BASE ",'recurrence':{'every':1,'unit':'day','until':'2026-01-30'}}"),
                     -1);
    ck_assert(has_field("recurrence.until", "not be before"));
    ck_assert_int_eq(expense(BASE ",'recurrence':{'every':1,'unit':'day','until':'2026-02-30'}}"),
                     -1);
    ck_assert(has_field("recurrence.until", "a date"));
    ck_assert_int_eq(expense(BASE ",'recurrence':{'every':1,'unit':'day','count':3}}"), -1);
    ck_assert(has_field("recurrence.count", "not a known field"));
    ck_assert_int_eq(expense(BASE ",'recurrence':'monthly'}"), -1);
    ck_assert(has_field("recurrence", "must be an object"));
    ck_assert_int_eq(expense(BASE ",'recurrence_of':'nope'}"), -1);
    ck_assert(has_field("recurrence_of", "lowercase UUID"));
    ck_assert_int_eq(
        expense(BASE ",'recurrence_of':'" EID "','recurrence':{'every':1,'unit':'day'}}"), -1);
    ck_assert(has_field("recurrence", "must be null on an occurrence"));
#undef BASE
}
END_TEST

START_TEST(test_ledger_ids_and_dates)
{
    ck_assert(ledger_is_uuid(A));
    ck_assert(!ledger_is_uuid("00000000-0000-4000-8000-00000000000A"));
    ck_assert(!ledger_is_uuid("00000000-0000-4000-8000-00000000000"));
    ck_assert(!ledger_is_uuid("00000000000040008000000000000000000a"));
    ck_assert(!ledger_is_uuid(""));
    ck_assert(ledger_is_date("2024-02-29"));
    ck_assert(!ledger_is_date("2026-02-29"));
    ck_assert(!ledger_is_date("2026-13-01"));
    ck_assert(!ledger_is_date("2026-1-01"));
    char today[11];
    ledger_today(today);
    ck_assert(ledger_is_date(today));
}
END_TEST

static Suite *ledger_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_ledger_expense_equal_split_is_exact);
    tcase_add_test(tc, test_ledger_expense_modes);
    tcase_add_test(tc, test_ledger_expense_converts_once);
    tcase_add_test(tc, test_ledger_expense_refusals_name_the_field);
    tcase_add_test(tc, test_ledger_expense_normal_form_round_trips);
    tcase_add_test(tc, test_ledger_expense_items);
    tcase_add_test(tc, test_ledger_shares_merge_and_move);
    tcase_add_test(tc, test_ledger_payment);
    tcase_add_test(tc, test_ledger_change_of_and_check);
    tcase_add_test(tc, test_ledger_revert_rules);
    tcase_add_test(tc, test_ledger_ids_and_dates);
    tcase_add_test(tc, test_ledger_recurrence);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(ledger_suite)

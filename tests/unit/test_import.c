/*
 * Unit tests for shared/import: each converter's entries and report, byte for
 * byte where it matters (the exact splits it computes, decimals read from
 * their text), member matching by name, binding member references, and the
 * derived ids.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "unit.h"

/* Convert text (JSON) in format fmt; returns the status, g filled on 0. */
static int convert(enum import_format fmt, const char *text, const char *currency,
                   struct import_group *g, struct fields *f)
{
    struct json_doc doc;
    struct json_doc_error err;
    ck_assert_int_eq(json_doc_parse(&doc, text, strlen(text), 32, &err), 0);
    memset(f, 0, sizeof(*f));
    int rc = import_convert(fmt, &doc, doc.root, currency, g, f);
    json_doc_release(&doc);
    return rc;
}

static char *entry_text(const struct import_group *g, size_t i)
{
    return json_dumps(json_array_get(g->entries, i), JSON_COMPACT | JSON_SORT_KEYS);
}

static void assert_entry(const struct import_group *g, size_t i, const char *want)
{
    char *s = entry_text(g, i);
    ck_assert_str_eq(s, want);
    free(s);
}

START_TEST(test_import_formats)
{
    enum import_format f;
    ck_assert_int_eq(import_format_parse("splitter", &f), 0);
    ck_assert_int_eq(f, IMPORT_SPLITTER);
    ck_assert_int_eq(import_format_parse("splitwise", &f), 0);
    ck_assert_int_eq(f, IMPORT_SPLITWISE);
    ck_assert_int_eq(import_format_parse("Splitwise", &f), -1);
    ck_assert_int_eq(import_format_parse(NULL, &f), -1);
}
END_TEST

START_TEST(test_import_derived_ids)
{
    char a[UUID_STR_SIZE], b[UUID_STR_SIZE], c[UUID_STR_SIZE];
    import_derive_id("g1", "event", 0, a);
    import_derive_id("g1", "event", 0, b);
    import_derive_id("g1", "event", 1, c);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_uint_eq(strlen(a), 36);
    ck_assert_int_eq(a[14], '4');
    ck_assert(strchr("89ab", a[19]) != NULL);
}
END_TEST

START_TEST(test_import_bind)
{
    const char ids[2][UUID_STR_SIZE] = {"11111111-1111-4111-8111-111111111111",
                                        "22222222-2222-4222-8222-222222222222"};
    json_t *d = json_loads("{\"from_member\":\"#1\",\"to_member\":\"#0\",\"note\":\"#1\","
                           "\"x\":[{\"member_id\":\"#7\"}]}",
                           0, NULL);
    json_t *b = import_bind(d, ids, 2);
    char *s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    /* Only member references change, and only those naming a member. */
    ck_assert_str_eq(s, "{\"from_member\":\"22222222-2222-4222-8222-222222222222\",\"note\":\"#1\","
                        "\"to_member\":\"11111111-1111-4111-8111-111111111111\","
                        "\"x\":[{\"member_id\":\"#7\"}]}");
    free(s);
    json_decref(b);
    json_decref(d);
}
END_TEST

START_TEST(test_import_splitter)
{
    struct import_group g;
    struct fields f;
    const char *text =
        "{\"format\":\"splitter\",\"version\":1,\"group\":{\"name\":\"Porto\",\"currency\":\"EUR\"}"
        ","
        "\"members\":[{\"id\":\"a\",\"name\":\"Ana\"},{\"id\":\"b\",\"name\":\"Ben\"},"
        "{\"id\":\"c\",\"name\":\"ana\"}],"
        "\"expenses\":[{\"id\":\"x\",\"created_at\":\"2026-01-02T00:00:00Z\",\"amount\":100,"
        "\"split\":{\"mode\":\"percent\",\"members\":[{\"member_id\":\"b\",\"value\":33.333}]}}],"
        "\"payments\":[{\"id\":\"y\",\"created_at\":\"2026-01-01T00:00:00Z\","
        "\"from_member\":\"c\",\"to_member\":\"b\",\"amount\":5}]}";
    ck_assert_int_eq(convert(IMPORT_SPLITTER, text, NULL, &g, &f), 0);
    ck_assert_str_eq(g.name, "Porto");
    ck_assert_str_eq(g.currency, "EUR");
    /* "ana" is Ana: names match case-insensitively. */
    ck_assert_uint_eq(g.n_members, 2);
    ck_assert_uint_eq(json_array_size(g.entries), 2);
    /* Oldest first; ids and created_at dropped; a real kept as its text. */
    assert_entry(&g, 0,
                 "{\"data\":{\"amount\":5,\"from_member\":\"#0\",\"to_member\":\"#1\"},"
                 "\"kind\":\"payment\"}");
    assert_entry(&g, 1,
                 "{\"data\":{\"amount\":100,\"split\":{\"members\":[{\"member_id\":\"#1\","
                 "\"value\":\"33.333\"}],\"mode\":\"percent\"}},\"kind\":\"expense\"}");
    import_release(&g);

    const char *bad = "{\"members\":[{\"id\":\"a\",\"name\":\"Ana\"}],"
                      "\"payments\":[{\"from_member\":\"a\",\"to_member\":\"zz\",\"amount\":5}]}";
    ck_assert_int_eq(convert(IMPORT_SPLITTER, bad, NULL, &g, &f), -1);
    ck_assert_uint_eq(f.n, 1);
    ck_assert_str_eq(f.e[0].field, "data.payments[0].to_member");
}
END_TEST

START_TEST(test_import_spliit)
{
    struct import_group g;
    struct fields f;
    const char *text =
        "{\"name\":\"Ski\",\"currencyCode\":\"EUR\","
        "\"participants\":[{\"id\":\"p1\",\"name\":\"Ana\"},{\"id\":\"p2\",\"name\":\"Ben\"},"
        "{\"id\":\"p3\",\"name\":\"Caro\"}],"
        "\"expenses\":[{\"expenseDate\":\"2024-02-01T00:00:00.000Z\",\"title\":\"Food\","
        "\"amount\":1000,\"paidById\":\"p2\",\"splitMode\":\"EVENLY\",\"isReimbursement\":false,"
        "\"paidFor\":[{\"participantId\":\"p1\",\"shares\":1},{\"participantId\":\"p2\","
        "\"shares\":1},{\"participantId\":\"p3\",\"shares\":1}]},"
        "{\"expenseDate\":\"2024-02-02T00:00:00.000Z\",\"title\":\"Back\",\"amount\":250,"
        "\"paidById\":\"p3\",\"splitMode\":\"EVENLY\",\"isReimbursement\":true,"
        "\"paidFor\":[{\"participantId\":\"p1\",\"shares\":1}]}]}";
    ck_assert_int_eq(convert(IMPORT_SPLIIT, text, NULL, &g, &f), 0);
    ck_assert_str_eq(g.currency, "EUR");
    assert_entry(&g, 0,
                 "{\"data\":{\"amount\":1000,\"currency\":\"EUR\",\"date\":\"2024-02-01\","
                 "\"description\":\"Food\",\"paid_by\":[{\"amount\":1000,\"member_id\":\"#1\"}],"
                 "\"split\":{\"members\":[{\"member_id\":\"#0\",\"value\":334},{\"member_id\":"
                 "\"#1\",\"value\":333},{\"member_id\":\"#2\",\"value\":333}],\"mode\":\"exact\"}},"
                 "\"kind\":\"expense\"}");
    assert_entry(&g, 1,
                 "{\"data\":{\"amount\":250,\"date\":\"2024-02-02\",\"from_member\":\"#2\","
                 "\"note\":\"Back\",\"to_member\":\"#0\"},\"kind\":\"payment\"}");
    ck_assert_uint_eq(json_array_size(g.report), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(g.report, 0), "entry")), 0);
    import_release(&g);

    /* In a currency without cents, 10.50 of Spliit's hundredths cannot be kept. */
    const char *jpy = "{\"currencyCode\":\"JPY\",\"participants\":[{\"id\":\"p\",\"name\":\"A\"}],"
                      "\"expenses\":[{\"amount\":1050,\"paidById\":\"p\",\"splitMode\":\"EVENLY\","
                      "\"paidFor\":[{\"participantId\":\"p\",\"shares\":1}]}]}";
    ck_assert_int_eq(convert(IMPORT_SPLIIT, jpy, NULL, &g, &f), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_array_get(g.entries, 0), "data"), "amount")),
                     11);
    ck_assert_uint_eq(json_array_size(g.report), 1);
    import_release(&g);
}
END_TEST

START_TEST(test_import_ihatemoney)
{
    struct import_group g;
    struct fields f;
    /* 0.1 read as its text (never a double), weights 1.5 and 1, owers as one string. */
    const char *text = "[{\"date\":\"2020-05-01\",\"what\":\"tea\",\"amount\":0.1,"
                       "\"payer_name\":\"Zoe\",\"payer_weight\":1.5,\"owers\":\"Zoe, Max\"},"
                       "{\"date\":\"2020-05-02\",\"what\":\"x\",\"amount\":10.005,"
                       "\"payer_name\":\"Max\",\"payer_weight\":1,\"owers\":[\"Zoe\"]}]";
    ck_assert_int_eq(convert(IMPORT_IHATEMONEY, text, "EUR", &g, &f), 0);
    ck_assert_uint_eq(g.n_members, 2);
    /* 10 cents: Zoe 1.5/2.5 = 6, Max 4. */
    assert_entry(&g, 0,
                 "{\"data\":{\"amount\":10,\"currency\":\"EUR\",\"date\":\"2020-05-01\","
                 "\"description\":\"tea\",\"paid_by\":[{\"amount\":10,\"member_id\":\"#0\"}],"
                 "\"split\":{\"members\":[{\"member_id\":\"#0\",\"value\":6},{\"member_id\":"
                 "\"#1\",\"value\":4}],\"mode\":\"exact\"}},\"kind\":\"expense\"}");
    /* 10.005 has a third decimal: rounded to 10.01 and reported. */
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_array_get(g.entries, 1), "data"), "amount")),
                     1001);
    ck_assert_uint_eq(json_array_size(g.report), 1);
    import_release(&g);

    ck_assert_int_eq(convert(IMPORT_IHATEMONEY, text, NULL, &g, &f), -1);
    ck_assert_str_eq(f.e[0].field, "currency");
}
END_TEST

START_TEST(test_import_splitwise)
{
    struct import_group g;
    struct fields f;
    json_t *csv = json_string("Date,Description,Category,Cost,Currency,Ana,Ben,Caro\r\n"
                              "\r\n"
                              "2024-01-01,\"Hotel, two nights\",Lodging,100.00,EUR,40.00,20.00,"
                              "-60.00\r\n"
                              "2024-01-02,Lunch,Food,12.00,USD,6.00,-6.00,0.00\r\n"
                              ",Total balance,,,EUR,40.00,20.00,-61.00\r\n");
    memset(&f, 0, sizeof(f));
    struct json_doc none = {0};
    ck_assert_int_eq(import_convert(IMPORT_SPLITWISE, &none, csv, "EUR", &g, &f), 0);
    json_decref(csv);
    ck_assert_uint_eq(g.n_members, 3);
    ck_assert_uint_eq(json_array_size(g.entries), 1);
    /* Ana (+40) pays what Ben is not owed of the cost and owes the rest beyond her net: paid 80,
       owes 40; Ben (+20) pays 20; Caro owes 60. */
    assert_entry(&g, 0,
                 "{\"data\":{\"amount\":10000,\"category\":\"Lodging\",\"currency\":\"EUR\","
                 "\"date\":\"2024-01-01\",\"description\":\"Hotel, two nights\",\"paid_by\":["
                 "{\"amount\":8000,\"member_id\":\"#0\"},{\"amount\":2000,\"member_id\":\"#1\"}],"
                 "\"split\":{\"members\":[{\"member_id\":\"#0\",\"value\":4000},{\"member_id\":"
                 "\"#2\",\"value\":6000}],\"mode\":\"exact\"}},\"kind\":\"expense\"}");
    /* The USD row is left out, and Caro's total does not match: both reported. */
    ck_assert_uint_eq(json_array_size(g.report), 2);
    import_release(&g);

    /* Nets that do not add up to 0 (not from a real export): the split still shares out the
       cost, the first person owed money takes the difference, and the report says so. */
    csv = json_string("Date,Description,Category,Cost,Currency,Ana,Ben,Caro\n"
                      "2024-01-03,X,General,90.00,EUR,60.20,-30.00,-30.00\n");
    ck_assert_int_eq(import_convert(IMPORT_SPLITWISE, &none, csv, "EUR", &g, &f), 0);
    json_decref(csv);
    assert_entry(
        &g, 0,
        "{\"data\":{\"amount\":9000,\"category\":\"General\",\"currency\":\"EUR\","
        "\"date\":\"2024-01-03\",\"description\":\"X\",\"paid_by\":["
        "{\"amount\":9000,\"member_id\":\"#0\"}],"
        "\"split\":{\"members\":[{\"member_id\":\"#0\",\"value\":3000},{\"member_id\":"
        "\"#1\",\"value\":3000},{\"member_id\":\"#2\",\"value\":3000}],\"mode\":\"exact\"}},"
        "\"kind\":\"expense\"}");
    ck_assert_uint_eq(json_array_size(g.report), 1);
    import_release(&g);

    csv = json_string("Date,Cost\n1,2\n");
    ck_assert_int_eq(import_convert(IMPORT_SPLITWISE, &none, csv, "EUR", &g, &f), -1);
    json_decref(csv);
}
END_TEST

static Suite *import_suite(void)
{
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("convert");

    tcase_add_test(tc, test_import_formats);
    tcase_add_test(tc, test_import_derived_ids);
    tcase_add_test(tc, test_import_bind);
    tcase_add_test(tc, test_import_splitter);
    tcase_add_test(tc, test_import_spliit);
    tcase_add_test(tc, test_import_ihatemoney);
    tcase_add_test(tc, test_import_splitwise);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(import_suite)

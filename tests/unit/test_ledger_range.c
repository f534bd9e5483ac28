/*
 * The range rule (shared/ledger.h, ledger_volume_*): what it admits, what it
 * refuses, and the property it exists for: in a group whose volume fits,
 * every balance, every partial sum of one in any order, and the sum of the
 * positive balances fit in int64.
 */
#include "ledger.h"
#include "unit.h"

#include <check.h>
#include <stdint.h>

START_TEST(test_volume_add_edges)
{
    struct ledger_volume v = {0, 0};
    ck_assert_int_eq(ledger_volume_add(&v, 0, 0, INT64_MAX, INT64_MAX), 0);
    ck_assert_int_eq(v.credit, INT64_MAX);
    ck_assert_int_eq(v.debit, INT64_MAX);
    /* The sequence: a payment of 2^63-1, then a 1-unit expense. */
    ck_assert_int_eq(ledger_volume_add(&v, 1, 0, 0, 0), -1);
    ck_assert_int_eq(ledger_volume_add(&v, 0, 1, 0, 0), -1);
    ck_assert_int_eq(v.credit, INT64_MAX); /* unchanged on refusal */
    ck_assert_int_eq(v.debit, INT64_MAX);
    ck_assert_int_eq(ledger_volume_add(&v, 0, 0, 0, 0), 0);
    struct ledger_volume w = {0, 0};
    ck_assert_int_eq(ledger_volume_add(&w, -1, 0, 0, 0), -1);
    ck_assert_int_eq(ledger_volume_add(&w, INT64_MAX, 0, 1, 0), -1);
    ck_assert_int_eq(ledger_volume_add(&w, 0, INT64_MAX, 0, 1), -1);
    ck_assert_int_eq(w.credit, 0);
    ck_assert_int_eq(w.debit, 0);
}
END_TEST

START_TEST(test_volume_parse)
{
    struct ledger_volume v;
    ck_assert_int_eq(ledger_volume_parse("12:34", &v), 0);
    ck_assert_int_eq(v.credit, 12);
    ck_assert_int_eq(v.debit, 34);
    ck_assert_int_eq(ledger_volume_parse("9223372036854775807:0", &v), 0);
    ck_assert_int_eq(v.credit, INT64_MAX);
    /* Past int64 (a group already out of range): nothing more fits. */
    ck_assert_int_eq(ledger_volume_parse("9223372036854775808:99999999999999999999999", &v), 0);
    ck_assert_int_eq(v.credit, INT64_MAX);
    ck_assert_int_eq(v.debit, INT64_MAX);
    ck_assert_int_eq(ledger_volume_parse("", &v), -1);
    ck_assert_int_eq(ledger_volume_parse("1", &v), -1);
    ck_assert_int_eq(ledger_volume_parse(":1", &v), -1);
    ck_assert_int_eq(ledger_volume_parse("1:", &v), -1);
    ck_assert_int_eq(ledger_volume_parse("-1:1", &v), -1);
    ck_assert_int_eq(ledger_volume_parse("1:1x", &v), -1);
}
END_TEST

/* A value in [0, limit], skewed towards the edges. */
static int64_t draw(int64_t limit)
{
    switch (rng_next() % 4) {
    case 0:
        return limit;
    case 1:
        return 0;
    default:
        return (int64_t)(rng_next() % ((uint64_t)limit + 1));
    }
}

/* Property: members whose volume the rule admitted have balances that fit,
   computed left to right as SQL does, and positive balances whose sum fits. */
START_TEST(test_volume_bounds_every_sum)
{
    rng_state = 0x5eed0013;
    for (int round = 0; round < 20000; round++) {
        struct ledger_volume v = {0, 0};
        int64_t m[6][4];
        size_t n = 0;
        for (size_t i = 0; i < 6; i++) {
            int64_t p = draw(INT64_MAX), o = draw(INT64_MAX), s = draw(INT64_MAX),
                    r = draw(INT64_MAX);
            if (ledger_volume_add(&v, p, o, s, r) != 0)
                continue;
            m[n][0] = p, m[n][1] = o, m[n][2] = s, m[n][3] = r;
            n++;
        }
        int64_t positive = 0, negative = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t b;
            ck_assert(!__builtin_sub_overflow(m[i][0], m[i][1], &b));
            ck_assert(!__builtin_add_overflow(b, m[i][2], &b));
            ck_assert(!__builtin_sub_overflow(b, m[i][3], &b));
            if (b > 0)
                ck_assert(!__builtin_add_overflow(positive, b, &positive));
            else
                ck_assert(!__builtin_sub_overflow(negative, b, &negative));
        }
    }
}
END_TEST

static Suite *ledger_range_suite(void)
{
    Suite *s = suite_create("ledger_range");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_volume_add_edges);
    tcase_add_test(tc, test_volume_parse);
    tcase_add_test(tc, test_volume_bounds_every_sum);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(ledger_range_suite)

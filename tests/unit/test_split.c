/*
 * Unit tests for shared/split: the apportioning rule, the four modes, payers
 * and conversion, and conservation of money on random inputs.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "split.h"
#include "unit.h"

static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static struct decimal dec(const char *s)
{
    struct decimal d;
    ck_assert_int_eq(decimal_parse(s, strlen(s), 6, &d), 0);
    return d;
}

static void assert_shares(const int64_t *got, const int64_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "share %zu: got %lld, want %lld", i, (long long)got[i],
                      (long long)want[i]);
}

START_TEST(test_split_equal_100_over_3)
{
    int64_t w[3] = {1, 1, 1}, out[3];
    int64_t want[3] = {34, 33, 33};

    ck_assert_int_eq(split_apportion(100, w, 3, out), 0);
    assert_shares(out, want, 3);
}
END_TEST

START_TEST(test_split_ties_to_earlier_member)
{
    int64_t w[3] = {1, 1, 1}, out[3];
    int64_t two[3] = {1, 1, 0}, five[3] = {2, 2, 1};

    ck_assert_int_eq(split_apportion(2, w, 3, out), 0);
    assert_shares(out, two, 3);
    ck_assert_int_eq(split_apportion(5, w, 3, out), 0);
    assert_shares(out, five, 3);
}
END_TEST

START_TEST(test_split_largest_remainder_wins)
{
    /* 10 by 1:2:3 = 1.67, 3.33, 5: floors 1, 3, 5, the unit to the 0.67. */
    int64_t w[3] = {1, 2, 3}, out[3];
    int64_t want[3] = {2, 3, 5};

    ck_assert_int_eq(split_apportion(10, w, 3, out), 0);
    assert_shares(out, want, 3);

    /* A later member with a larger remainder beats an earlier one. */
    int64_t w2[3] = {2, 3, 5}, want2[3] = {0, 1, 1};
    ck_assert_int_eq(split_apportion(2, w2, 3, out), 0);
    assert_shares(out, want2, 3);
}
END_TEST

START_TEST(test_split_percent_33_33_34)
{
    struct decimal v[3] = {dec("33.33"), dec("33.33"), dec("33.34")};
    int64_t w[3], out[3];
    int64_t want100[3] = {33, 33, 34}, want10000[3] = {3333, 3333, 3334};

    ck_assert_int_eq(split_weights_from_decimals(SPLIT_PERCENT, v, 3, w, NULL), 0);
    ck_assert_int_eq(w[0], 3333);
    ck_assert_int_eq(w[2], 3334);
    ck_assert_int_eq(split_apportion(100, w, 3, out), 0);
    assert_shares(out, want100, 3);
    ck_assert_int_eq(split_apportion(10000, w, 3, out), 0);
    assert_shares(out, want10000, 3);
}
END_TEST

START_TEST(test_split_zero_total_and_zero_weights)
{
    int64_t w[4] = {0, 5, 0, 5}, out[4];
    int64_t want0[4] = {0, 0, 0, 0}, want3[4] = {0, 2, 0, 1};

    ck_assert_int_eq(split_apportion(0, w, 4, out), 0);
    assert_shares(out, want0, 4);
    ck_assert_int_eq(split_apportion(3, w, 4, out), 0);
    assert_shares(out, want3, 4);
}
END_TEST

START_TEST(test_split_rejects_invalid)
{
    int64_t out[3];
    int64_t neg[2] = {1, -1}, zero[2] = {0, 0}, over[2] = {INT64_MAX, 1}, ok[2] = {1, 1};

    ck_assert_int_eq(split_apportion(10, ok, 0, out), -1);
    ck_assert_int_eq(split_apportion(10, neg, 2, out), -1);
    ck_assert_int_eq(split_apportion(10, zero, 2, out), -1);
    ck_assert_int_eq(split_apportion(10, over, 2, out), -1);
    ck_assert_int_eq(split_apportion(-1, ok, 2, out), -1);
}
END_TEST

START_TEST(test_split_int64_edges)
{
    int64_t w[3] = {INT64_MAX / 3, INT64_MAX / 3, INT64_MAX / 3}, out[3];
    int64_t one[2] = {1, INT64_MAX - 1};

    ck_assert_int_eq(split_apportion(INT64_MAX, w, 3, out), 0);
    ck_assert_int_eq(out[0], INT64_MAX / 3 + 1);
    ck_assert_int_eq(out[1], INT64_MAX / 3);
    ck_assert_int_eq(out[0] + out[1] + out[2], INT64_MAX);
    ck_assert_int_eq(split_apportion(INT64_MAX, one, 2, out), 0);
    ck_assert_int_eq(out[0], 1);
    ck_assert_int_eq(out[1], INT64_MAX - 1);
}
END_TEST

START_TEST(test_split_modes_and_names)
{
    enum split_mode m;

    ck_assert_int_eq(split_mode_parse("equal", &m), 0);
    ck_assert_int_eq(m, SPLIT_EQUAL);
    ck_assert_int_eq(split_mode_parse("shares", &m), 0);
    ck_assert_int_eq(m, SPLIT_SHARES);
    ck_assert_int_eq(split_mode_parse("Equal", &m), -1);
    ck_assert_int_eq(split_mode_parse(NULL, &m), -1);
    ck_assert_str_eq(split_mode_name(SPLIT_PERCENT), "percent");
    ck_assert_str_eq(split_mode_name(SPLIT_EXACT), "exact");
    ck_assert_ptr_null(split_mode_name((enum split_mode)42));
}
END_TEST

START_TEST(test_split_weights_validation)
{
    struct split_error err;
    int64_t w[3];
    struct decimal pct_bad[2] = {dec("50"), dec("49.99")};
    struct decimal shares_zero[2] = {dec("1.5"), dec("0")};
    struct decimal shares_3dp[2] = {dec("1.5"), dec("1.125")};
    struct decimal exact_frac[2] = {dec("100"), dec("0.5")};
    struct decimal shares_ok[3] = {dec("1"), dec("2.5"), dec("0.25")};

    ck_assert_int_eq(split_weights_from_decimals(SPLIT_PERCENT, pct_bad, 2, w, &err), -1);
    ck_assert_str_eq(err.field, "split.members");
    ck_assert_int_eq(err.index, -1);
    ck_assert_int_eq(split_weights_from_decimals(SPLIT_SHARES, shares_zero, 2, w, &err), -1);
    ck_assert_int_eq(err.index, 1);
    ck_assert_int_eq(split_weights_from_decimals(SPLIT_SHARES, shares_3dp, 2, w, &err), -1);
    ck_assert_int_eq(err.index, 1);
    ck_assert_int_eq(split_weights_from_decimals(SPLIT_EXACT, exact_frac, 2, w, &err), -1);
    ck_assert_int_eq(err.index, 1);
    ck_assert_int_eq(split_weights_from_decimals(SPLIT_EXACT, NULL, 2, w, &err), -1);
    ck_assert_int_eq(split_weights_from_decimals(SPLIT_EQUAL, NULL, 0, w, &err), -1);
    ck_assert_int_eq(split_weights_from_decimals(SPLIT_SHARES, shares_ok, 3, w, NULL), 0);
    ck_assert_int_eq(w[0], 100);
    ck_assert_int_eq(w[1], 250);
    ck_assert_int_eq(w[2], 25);
    ck_assert_int_eq(split_weights_from_decimals(SPLIT_EQUAL, NULL, 3, w, NULL), 0);
    ck_assert_int_eq(w[2], 1);
}
END_TEST

START_TEST(test_split_expense_equal_same_currency)
{
    int64_t paid[1] = {9000}, paid_out[1], owed[2], total = 0;
    struct split_input in = {.amount = 9000,
                             .amount_exp = 2,
                             .group_exp = 2,
                             .mode = SPLIT_EQUAL,
                             .n_members = 2,
                             .paid = paid,
                             .n_payers = 1};

    ck_assert_int_eq(split_expense(&in, &total, owed, paid_out, NULL), 0);
    ck_assert_int_eq(total, 9000);
    ck_assert_int_eq(owed[0], 4500);
    ck_assert_int_eq(owed[1], 4500);
    ck_assert_int_eq(paid_out[0], 9000);
}
END_TEST

START_TEST(test_split_expense_converted_with_payers)
{
    /* 1000 JPY at 0.0061 EUR: 610 cents; payers 333 and 667 yen get 203.13 and 406.87. */
    struct decimal rate = dec("0.0061");
    struct decimal values[3] = {dec("1"), dec("1"), dec("2")};
    int64_t paid[2] = {333, 667}, paid_out[2], owed[3], total = 0;
    struct split_input in = {.amount = 1000,
                             .amount_exp = 0,
                             .group_exp = 2,
                             .rate = &rate,
                             .mode = SPLIT_SHARES,
                             .values = values,
                             .n_members = 3,
                             .paid = paid,
                             .n_payers = 2};

    ck_assert_int_eq(split_expense(&in, &total, owed, paid_out, NULL), 0);
    ck_assert_int_eq(total, 610);
    ck_assert_int_eq(paid_out[0], 203);
    ck_assert_int_eq(paid_out[1], 407);
    ck_assert_int_eq(owed[0], 153); /* 152.5, ties to the earlier member */
    ck_assert_int_eq(owed[1], 152);
    ck_assert_int_eq(owed[2], 305);
}
END_TEST

START_TEST(test_split_expense_exact_mode)
{
    struct decimal values[3] = {dec("5000"), dec("0"), dec("4000")};
    int64_t paid[1] = {9000}, paid_out[1], owed[3], total = 0;
    struct split_error err;
    struct split_input in = {.amount = 9000,
                             .amount_exp = 2,
                             .group_exp = 2,
                             .mode = SPLIT_EXACT,
                             .values = values,
                             .n_members = 3,
                             .paid = paid,
                             .n_payers = 1};

    ck_assert_int_eq(split_expense(&in, &total, owed, paid_out, &err), 0);
    ck_assert_int_eq(owed[0], 5000);
    ck_assert_int_eq(owed[1], 0);
    ck_assert_int_eq(owed[2], 4000);
    values[2] = dec("3999");
    ck_assert_int_eq(split_expense(&in, &total, owed, paid_out, &err), -1);
    ck_assert_str_eq(err.field, "split.members");
}
END_TEST

START_TEST(test_split_expense_rejects_bad_payers_and_overflow)
{
    struct split_error err;
    int64_t paid[2] = {5000, 3000}, paid_out[2], owed[2], total = 0;
    struct decimal huge = dec("1000");
    struct split_input in = {.amount = 9000,
                             .amount_exp = 2,
                             .group_exp = 2,
                             .mode = SPLIT_EQUAL,
                             .n_members = 2,
                             .paid = paid,
                             .n_payers = 2};

    ck_assert_int_eq(split_expense(&in, &total, owed, paid_out, &err), -1);
    ck_assert_str_eq(err.field, "paid_by");
    ck_assert_int_eq(err.index, -1);
    paid[1] = -1;
    ck_assert_int_eq(split_expense(&in, &total, owed, paid_out, &err), -1);
    ck_assert_int_eq(err.index, 1);
    in.amount = 0;
    ck_assert_int_eq(split_expense(&in, &total, owed, paid_out, &err), -1);
    ck_assert_str_eq(err.field, "amount");

    int64_t big[1] = {INT64_MAX / 10};
    in.amount = INT64_MAX / 10;
    in.paid = big;
    in.n_payers = 1;
    in.rate = &huge;
    ck_assert_int_eq(split_expense(&in, &total, owed, paid_out, &err), -1);
    ck_assert_str_eq(err.field, "exchange_rate");
}
END_TEST

/* Property: shares always sum to the total and each is within one unit of exact. */
START_TEST(test_split_property_conserves_total)
{
    __extension__ typedef __int128 i128;
    int64_t w[40], out[40];

    rng_state = 31337;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)rng_range(1, 40);
        int64_t total = iter % 10 == 0 ? rng_range(0, INT64_MAX / 2) : rng_range(0, 1000000);
        int64_t wsum = 0;
        for (size_t i = 0; i < n; i++) {
            w[i] = rng_range(0, iter % 3 ? 10000 : 3);
            wsum += w[i];
        }
        if (wsum == 0)
            w[0] = wsum = 1;
        if (split_apportion(total, w, n, out) != 0)
            ck_abort_msg("iteration %d: split_apportion failed", iter);
        i128 sum = 0;
        for (size_t i = 0; i < n; i++) {
            sum += out[i];
            /* floor(exact) <= out <= floor(exact) + 1, and zero weight gets 0 */
            i128 scaled = (i128)out[i] * wsum, exact = (i128)total * w[i];
            /* Plain checks: a passing ck_assert costs a write, too slow here. */
            if (!(scaled > exact - wsum && scaled < exact + wsum) || (w[i] == 0 && out[i] != 0))
                ck_abort_msg("iteration %d: share %zu is %lld", iter, i, (long long)out[i]);
        }
        if (sum != total)
            ck_abort_msg("iteration %d: shares do not sum to the total", iter);
    }
}
END_TEST

static Suite *split_suite(void)
{
    Suite *s = suite_create("split");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_split_equal_100_over_3);
    tcase_add_test(tc, test_split_ties_to_earlier_member);
    tcase_add_test(tc, test_split_largest_remainder_wins);
    tcase_add_test(tc, test_split_percent_33_33_34);
    tcase_add_test(tc, test_split_zero_total_and_zero_weights);
    tcase_add_test(tc, test_split_rejects_invalid);
    tcase_add_test(tc, test_split_int64_edges);
    tcase_add_test(tc, test_split_modes_and_names);
    tcase_add_test(tc, test_split_weights_validation);
    tcase_add_test(tc, test_split_expense_equal_same_currency);
    tcase_add_test(tc, test_split_expense_converted_with_payers);
    tcase_add_test(tc, test_split_expense_exact_mode);
    tcase_add_test(tc, test_split_expense_rejects_bad_payers_and_overflow);
    tcase_add_test(tc, test_split_property_conserves_total);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(split_suite)

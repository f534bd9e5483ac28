/*
 * Unit tests for shared/items: the bill's total with percent charges rounded
 * half to even, the exact shares by item, and, on random bills, agreement with
 * an independent brute-force computation (each member's exact share summed as
 * reduced fractions) and conservation of money.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "items.h"
#include "unit.h"

__extension__ typedef __int128 i128;

static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

START_TEST(test_items_total_rounds_percent_half_even)
{
    size_t m[1] = {0};
    int64_t w[1] = {1}, sub, tot, amounts[2];
    struct items_line l = {125, 1, 1, m, w};
    struct items_charge ten = {1, 1000}, tip = {0, 7};
    struct items_charge both[2] = {ten, tip};

    /* 10 % of 125 is 12.5: to the even 12. */
    ck_assert_int_eq(items_total(&l, 1, both, 2, &sub, amounts, &tot, NULL), 0);
    ck_assert_int_eq(sub, 125);
    ck_assert_int_eq(amounts[0], 12);
    ck_assert_int_eq(amounts[1], 7);
    ck_assert_int_eq(tot, 144);
    /* 10 % of 135 is 13.5: to the even 14; 12.5 % of 3 x 45 = 16.875: 17. */
    l.price = 45;
    l.quantity = 3;
    ck_assert_int_eq(items_total(&l, 1, &ten, 1, &sub, amounts, &tot, NULL), 0);
    ck_assert_int_eq(amounts[0], 14);
    ck_assert_int_eq(tot, 149);
    struct items_charge tax = {1, 1250};
    ck_assert_int_eq(items_total(&l, 1, &tax, 1, &sub, amounts, &tot, NULL), 0);
    ck_assert_int_eq(amounts[0], 17);
}
END_TEST

START_TEST(test_items_total_refuses_bad_lines)
{
    size_t m[1] = {0};
    int64_t w[1] = {1}, sub, tot;
    struct items_line l = {0, 1, 1, m, w};
    struct split_error err = {0};
    struct items_charge zero = {0, 0};

    ck_assert_int_eq(items_total(&l, 1, NULL, 0, &sub, NULL, &tot, &err), -1);
    ck_assert_str_eq(err.field, "split.items");
    ck_assert_int_eq(err.index, 0);
    l.price = INT64_MAX / 2;
    l.quantity = 3;
    ck_assert_int_eq(items_total(&l, 1, NULL, 0, &sub, NULL, &tot, &err), -1);
    l.quantity = 1;
    ck_assert_int_eq(items_total(&l, 1, &zero, 1, &sub, NULL, &tot, &err), -1);
    ck_assert_str_eq(err.field, "split.charges");
    ck_assert_int_eq(items_total(&l, 0, NULL, 0, &sub, NULL, &tot, &err), -1);
}
END_TEST

START_TEST(test_items_apportion_by_items)
{
    /* 1000 shared by 0 and 1, 500 by 1 alone; 1650 with the charges: 550, 1100. */
    size_t m01[2] = {0, 1}, m1[1] = {1};
    int64_t w11[2] = {1, 1}, w1[1] = {1}, owed[3];
    struct items_line l[2] = {{1000, 1, 2, m01, w11}, {250, 2, 1, m1, w1}};

    ck_assert_int_eq(items_apportion(1650, l, 2, 3, owed, NULL), 0);
    ck_assert_int_eq(owed[0], 550);
    ck_assert_int_eq(owed[1], 1100);
    ck_assert_int_eq(owed[2], 0);
}
END_TEST

START_TEST(test_items_apportion_ties_to_the_first_member)
{
    /* One item shared by three: 100 gives 34, 33, 33; shares 1.5 and 1.5 of 101: 51, 50. */
    size_t m[3] = {0, 1, 2};
    int64_t w[3] = {1, 1, 1}, s[2] = {150, 150}, owed[3];
    struct items_line l = {7, 1, 3, m, w};

    ck_assert_int_eq(items_apportion(100, &l, 1, 3, owed, NULL), 0);
    ck_assert_int_eq(owed[0], 34);
    ck_assert_int_eq(owed[1], 33);
    ck_assert_int_eq(owed[2], 33);
    struct items_line ls = {7, 1, 2, m, s};
    ck_assert_int_eq(items_apportion(101, &ls, 1, 2, owed, NULL), 0);
    ck_assert_int_eq(owed[0], 51);
    ck_assert_int_eq(owed[1], 50);
}
END_TEST

START_TEST(test_items_apportion_refuses_bad_input)
{
    size_t m[2] = {0, 5};
    int64_t w[2] = {1, 1}, owed[2];
    struct split_error err = {0};
    struct items_line l = {100, 1, 2, m, w};

    ck_assert_int_eq(items_apportion(100, &l, 1, 2, owed, &err), -1); /* member 5 of 2 */
    m[1] = 1;
    w[1] = 0;
    ck_assert_int_eq(items_apportion(100, &l, 1, 2, owed, &err), -1); /* a zero weight */
    ck_assert_str_eq(err.field, "split.items");
    w[1] = 1;
    ck_assert_int_eq(items_apportion(-1, &l, 1, 2, owed, &err), -1);
    /* Weight sums whose least common multiple leaves int64: refused, not wrong. */
    static const int64_t primes[] = {1000003, 1000033, 1000037, 1000039};
    int64_t pw[4][2];
    size_t pm[2] = {0, 1};
    struct items_line many[4];
    for (int i = 0; i < 4; i++) {
        pw[i][0] = 1;
        pw[i][1] = primes[i] - 1;
        many[i] = (struct items_line){100, 1, 2, pm, pw[i]};
    }
    ck_assert_int_eq(items_apportion(400, many, 4, 2, owed, &err), -1);
    ck_assert_int_eq(items_apportion(400, many, 2, 2, owed, &err), 0);
}
END_TEST

/* --- the independent computation ------------------------------------------------------------ */

static i128 gcd(i128 a, i128 b)
{
    while (b) {
        i128 t = a % b;
        a = b;
        b = t;
    }
    return a < 0 ? -a : a;
}

/* total x sum_i (L_i / S) (w_im / W_i), one reduced fraction per member, by brute force; then
   floors and the largest remainders, ties to the lower index (compared by cross-multiplying). */
static void brute(int64_t total, const struct items_line *l, size_t n_lines, size_t n_members,
                  int64_t *owed)
{
    i128 num[8] = {0}, den[8], S = 0, given = 0;
    int used[8] = {0};
    for (size_t m = 0; m < n_members; m++)
        den[m] = 1;
    for (size_t i = 0; i < n_lines; i++)
        S += (i128)l[i].price * l[i].quantity;
    for (size_t i = 0; i < n_lines; i++) {
        i128 W = 0;
        for (size_t k = 0; k < l[i].n; k++)
            W += l[i].weight[k];
        for (size_t k = 0; k < l[i].n; k++) {
            size_t m = l[i].member[k];
            i128 a = (i128)total * l[i].price * l[i].quantity * l[i].weight[k], b = S * W;
            i128 g = gcd(a, b);
            a /= g;
            b /= g;
            i128 n2 = num[m] * b + a * den[m], d2 = den[m] * b;
            g = gcd(n2, d2);
            num[m] = n2 / g;
            den[m] = d2 / g;
        }
    }
    for (size_t m = 0; m < n_members; m++) {
        owed[m] = (int64_t)(num[m] / den[m]);
        num[m] %= den[m];
        given += owed[m];
    }
    for (i128 left = total - given; left > 0; left--) {
        size_t best = SIZE_MAX;
        for (size_t m = 0; m < n_members; m++) {
            if (used[m])
                continue;
            if (best == SIZE_MAX || num[m] * den[best] > num[best] * den[m])
                best = m;
        }
        used[best] = 1;
        owed[best]++;
    }
}

START_TEST(test_items_random_bills_match_brute_force_and_sum_to_total)
{
    rng_state = 0x17;
    for (int round = 0; round < 3000; round++) {
        size_t n_lines = (size_t)rng_range(1, 6), n_members = (size_t)rng_range(1, 6);
        struct items_line l[6];
        size_t mem[6][6];
        int64_t w[6][6], owed[6], want[6], sum = 0;
        for (size_t i = 0; i < n_lines; i++) {
            size_t n = 0;
            int shares = (int)rng_range(0, 1);
            for (size_t m = 0; m < n_members; m++)
                if (rng_range(0, 2) != 0 || (m == n_members - 1 && n == 0)) {
                    mem[i][n] = m;
                    w[i][n] = shares ? rng_range(1, 400) : 1;
                    n++;
                }
            l[i] = (struct items_line){rng_range(1, 10000), rng_range(1, 5), n, mem[i], w[i]};
        }
        int64_t total = rng_range(0, 1000000);
        ck_assert_int_eq(items_apportion(total, l, n_lines, n_members, owed, NULL), 0);
        brute(total, l, n_lines, n_members, want);
        for (size_t m = 0; m < n_members; m++) {
            ck_assert_msg(owed[m] == want[m], "round %d member %zu: got %lld, want %lld", round, m,
                          (long long)owed[m], (long long)want[m]);
            sum += owed[m];
        }
        ck_assert_int_eq(sum, total);
    }
}
END_TEST

static Suite *items_suite(void)
{
    Suite *s = suite_create("items");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_items_total_rounds_percent_half_even);
    tcase_add_test(tc, test_items_total_refuses_bad_lines);
    tcase_add_test(tc, test_items_apportion_by_items);
    tcase_add_test(tc, test_items_apportion_ties_to_the_first_member);
    tcase_add_test(tc, test_items_apportion_refuses_bad_input);
    tcase_add_test(tc, test_items_random_bills_match_brute_force_and_sum_to_total);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(items_suite)

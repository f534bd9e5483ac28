/*
 * Unit tests for shared/settle: validity, optimality against an independent
 * brute force, determinism, the exact range, and the heuristic beyond it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settle.h"
#include "unit.h"

/* splitmix64: a small seeded generator, so every run sees the same cases. */

/* Uniform in [lo, hi]. */
static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* Member ids "m0", "m1", ... (static storage, up to MAX_IDS). */
#define MAX_IDS 10000
static char id_buf[MAX_IDS][16];
static const char *ids[MAX_IDS];

static void make_ids(void)
{
    for (int i = 0; i < MAX_IDS; i++) {
        snprintf(id_buf[i], sizeof(id_buf[i]), "m%u", (unsigned)i);
        ids[i] = id_buf[i];
    }
}

/*
 * Check that t[0..n_t) is a valid settlement of bal[0..n): positive amounts,
 * no self transfers, debtors pay creditors, every balance ends at zero, and
 * the list is sorted by (from id, to id).
 */
static void assert_settles(const char *const *id, const int64_t *bal, size_t n,
                           const struct settle_transfer *t, size_t n_t)
{
    int64_t *left = malloc((n ? n : 1) * sizeof(*left));

    /*
     * Plain checks in the loops and one ck_abort_msg on failure: every
     * passing ck_assert costs Check a write, too slow for 10,000 members.
     */
    if (n > 0)
        memcpy(left, bal, n * sizeof(*left));
    for (size_t i = 0; i < n_t; i++) {
        if (t[i].from >= n || t[i].to >= n || t[i].from == t[i].to || t[i].amount <= 0 ||
            bal[t[i].from] >= 0 || bal[t[i].to] <= 0)
            ck_abort_msg("transfer %zu (%zu -> %zu, %lld) is invalid", i, t[i].from, t[i].to,
                         (long long)t[i].amount);
        left[t[i].from] += t[i].amount;
        left[t[i].to] -= t[i].amount;
        if (i > 0 && id) {
            int c = strcmp(id[t[i - 1].from], id[t[i].from]);
            if (!(c < 0 || (c == 0 && strcmp(id[t[i - 1].to], id[t[i].to]) < 0)))
                ck_abort_msg("transfers %zu and %zu are out of order", i - 1, i);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (left[i] != 0)
            ck_abort_msg("member %zu is left with %lld", i, (long long)left[i]);
    free(left);
}

/* settle_compute, checked for validity; returns the number of transfers. */
static size_t settle_checked(const int64_t *bal, size_t n)
{
    struct settle_transfer *t = NULL;
    size_t n_t = 0;

    ck_assert_int_eq(settle_compute(ids, bal, n, &t, &n_t), 0);
    assert_settles(ids, bal, n, t, n_t);
    if (n_t == 0)
        ck_assert_ptr_null(t);
    free(t);
    return n_t;
}

static size_t greedy_checked(const int64_t *bal, size_t n)
{
    struct settle_transfer *t = NULL;
    size_t n_t = 0;

    ck_assert_int_eq(settle_greedy(ids, bal, n, &t, &n_t), 0);
    assert_settles(ids, bal, n, t, n_t);
    free(t);
    return n_t;
}

/*
 * Independent brute force: the most disjoint zero-sum blocks a set of
 * members can be partitioned into. The block holding the lowest member is
 * tried in every possible way, the rest recursively. Exponential, for n <= 10.
 */
static int brute_blocks(const int64_t *v, unsigned mask)
{
    if (mask == 0)
        return 0;
    unsigned low = mask & -mask, rest = mask ^ low;
    int best = -1;
    /* Every subset of rest, joined with low, as the first block. */
    for (unsigned sub = rest;; sub = (sub - 1) & rest) {
        unsigned block = sub | low;
        int64_t sum = 0;
        for (int i = 0; i < 32; i++)
            if (block >> i & 1)
                sum += v[i];
        if (sum == 0) {
            int r = brute_blocks(v, mask ^ block);
            if (r >= 0 && r + 1 > best)
                best = r + 1;
        }
        if (sub == 0)
            break;
    }
    return best;
}

/* Fewest transfers for bal[0..n), n <= 10, by brute force. */
static size_t brute_min_transfers(const int64_t *bal, size_t n)
{
    int64_t v[16];
    unsigned k = 0;
    for (size_t i = 0; i < n; i++)
        if (bal[i] != 0)
            v[k++] = bal[i];
    if (k == 0)
        return 0;
    return k - (size_t)brute_blocks(v, (1u << k) - 1);
}

/* Fill bal[0..n) with values summing to 0: a mix of zero-sum cliques and noise. */
static void random_group(int64_t *bal, size_t n, int64_t range)
{
    size_t i = 0;
    while (i < n) {
        size_t size = (size_t)rng_range(1, 5);
        if (size > n - i)
            size = n - i;
        int64_t sum = 0;
        for (size_t j = 0; j + 1 < size; j++) {
            bal[i + j] = rng_range(-range, range);
            sum += bal[i + j];
        }
        bal[i + size - 1] = -sum;
        i += size;
    }
    /* Shuffle so the cliques are not adjacent. */
    for (size_t j = n; j > 1; j--) {
        size_t r = (size_t)rng_range(0, (int64_t)j - 1);
        int64_t tmp = bal[j - 1];
        bal[j - 1] = bal[r];
        bal[r] = tmp;
    }
}

START_TEST(test_settle_empty_and_zero)
{
    struct settle_transfer *t = (struct settle_transfer *)&t;
    size_t n_t = 99;
    int64_t zeros[3] = {0, 0, 0};

    ck_assert_int_eq(settle_compute(ids, NULL, 0, &t, &n_t), 0);
    ck_assert_uint_eq(n_t, 0);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(settle_checked(zeros, 3), 0);
    ck_assert_uint_eq(greedy_checked(zeros, 3), 0);
}
END_TEST

START_TEST(test_settle_rejects_invalid)
{
    struct settle_transfer *t = NULL;
    size_t n_t = 7;
    int64_t unbalanced[3] = {-100, 50, 49};
    int64_t overflow[3] = {INT64_MAX, INT64_MAX, -2};
    int64_t min[2] = {INT64_MIN, 0};
    int64_t owing_overflow[3] = {-INT64_MAX, -INT64_MAX, 2};

    ck_assert_int_eq(settle_compute(ids, unbalanced, 3, &t, &n_t), -1);
    ck_assert_int_eq(settle_compute(ids, overflow, 3, &t, &n_t), -1);
    ck_assert_int_eq(settle_compute(ids, min, 2, &t, &n_t), -1);
    ck_assert_int_eq(settle_compute(ids, owing_overflow, 3, &t, &n_t), -1);
    ck_assert_int_eq(settle_greedy(ids, unbalanced, 3, &t, &n_t), -1);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(n_t, 7);
}
END_TEST

START_TEST(test_settle_simple_cases)
{
    int64_t one_pays_two[3] = {-100, 50, 50};
    int64_t pairs[6] = {-30, 30, -20, 20, -10, 10};
    int64_t triangle[4] = {-30, 10, 20, 0};
    struct settle_transfer *t = NULL;
    size_t n_t = 0;

    ck_assert_uint_eq(settle_checked(one_pays_two, 3), 2);
    ck_assert_uint_eq(settle_checked(pairs, 6), 3);
    ck_assert_uint_eq(settle_checked(triangle, 4), 2);

    /* Sorted by (from id, to id): m0 pays m1 then m2. */
    ck_assert_int_eq(settle_compute(ids, one_pays_two, 3, &t, &n_t), 0);
    ck_assert_uint_eq(t[0].from, 0);
    ck_assert_uint_eq(t[0].to, 1);
    ck_assert_int_eq(t[0].amount, 50);
    ck_assert_uint_eq(t[1].to, 2);
    free(t);
}
END_TEST

START_TEST(test_settle_beats_greedy)
{
    /*
     * {-7, 3, 4} and {-6, 5, 1} settle in 4 transfers; greedy pays 7 to 5
     * first and needs 5.
     */
    int64_t bal[6] = {-7, 3, 4, -6, 5, 1};

    ck_assert_uint_eq(settle_checked(bal, 6), 4);
    ck_assert_uint_eq(greedy_checked(bal, 6), 5);
}
END_TEST

START_TEST(test_settle_int64_edges)
{
    int64_t big[2] = {INT64_MAX, -INT64_MAX};
    int64_t split[3] = {INT64_MAX - 1, 1, -INT64_MAX};
    struct settle_transfer *t = NULL;
    size_t n_t = 0;

    ck_assert_int_eq(settle_compute(ids, big, 2, &t, &n_t), 0);
    ck_assert_uint_eq(n_t, 1);
    ck_assert_uint_eq(t[0].from, 1);
    ck_assert_int_eq(t[0].amount, INT64_MAX);
    free(t);
    ck_assert_uint_eq(settle_checked(split, 3), 2);
}
END_TEST

START_TEST(test_settle_matches_brute_force)
{
    int64_t bal[10];

    rng_state = 20261125;
    for (int iter = 0; iter < 1500; iter++) {
        size_t n = (size_t)rng_range(1, 10);
        /* Tiny ranges make many coincidental zero-sum groups. */
        int64_t range = iter % 3 == 0 ? 4 : iter % 3 == 1 ? 30 : 100000;
        random_group(bal, n, range);
        size_t got = settle_checked(bal, n);
        size_t want = brute_min_transfers(bal, n);
        ck_assert_msg(got == want, "iteration %d: %zu transfers, optimum %zu", iter, got, want);
        ck_assert_uint_le(got, greedy_checked(bal, n));
    }
}
END_TEST

START_TEST(test_settle_matches_brute_force_dense)
{
    /* 8-13 members with tiny values: many zero-sum subsets, the bitset path. */
    int64_t bal[13];

    rng_state = 1312;
    for (int iter = 0; iter < 60; iter++) {
        size_t n = (size_t)rng_range(8, 13);
        random_group(bal, n, iter % 2 ? 2 : 3);
        size_t got = settle_checked(bal, n);
        size_t want = brute_min_transfers(bal, n);
        ck_assert_msg(got == want, "iteration %d: %zu transfers, optimum %zu", iter, got, want);
    }
}
END_TEST

/*
 * n / 3 zero-sum triples (a, b, -(a + b)), shuffled, with no two values
 * opposite: every zero-sum group has at least three members, so n / 3 groups
 * is the most and 2n / 3 transfers the fewest.
 */
static void planted_triples(int64_t *bal, size_t n, int64_t lo, int64_t hi)
{
    for (size_t g = 0; g < n / 3; g++) {
        int64_t a = rng_range(lo, hi), b = rng_range(lo, hi);
        bal[3 * g] = a;
        bal[3 * g + 1] = b;
        bal[3 * g + 2] = -(a + b);
    }
    for (size_t j = n; j > 1; j--) {
        size_t r = (size_t)rng_range(0, (int64_t)j - 1);
        int64_t tmp = bal[j - 1];
        bal[j - 1] = bal[r];
        bal[r] = tmp;
    }
}

START_TEST(test_settle_exact_dense_24)
{
    /* Values 4..6 against -8..-12: a great many zero-sum subsets. */
    int64_t bal[24];

    rng_state = 4;
    for (int rep = 0; rep < 4; rep++) {
        planted_triples(bal, 24, 4, 6);
        ck_assert_uint_eq(settle_checked(bal, 24), 16);
    }
}
END_TEST

START_TEST(test_settle_exact_sparse_30)
{
    /* Beyond 24 members, exact while the zero-sum subsets are few. */
    int64_t bal[30];

    rng_state = 30;
    for (int rep = 0; rep < 10; rep++) {
        planted_triples(bal, 30, 1, 1000000);
        ck_assert_uint_eq(settle_checked(bal, 30), 20);
    }
}
END_TEST

START_TEST(test_settle_exact_at_24)
{
    /* Eight triples of arbitrary amounts: 16 transfers (opposite pairs are unlikely). */
    int64_t bal[24];

    rng_state = 24;
    for (int rep = 0; rep < 20; rep++) {
        planted_triples(bal, 24, 1, 50000);
        ck_assert_uint_eq(settle_checked(bal, 24), 16);
    }
}
END_TEST

START_TEST(test_settle_exact_with_pairs_beyond_24)
{
    /* 10 opposite pairs plus 8 triples: 44 members, still exact: 10 + 16. */
    int64_t bal[44];
    for (int g = 0; g < 8; g++) {
        bal[3 * g] = 1000 + g;
        bal[3 * g + 1] = 3000 + 7 * g;
        bal[3 * g + 2] = -(4000 + 8 * g);
    }
    for (int p = 0; p < 10; p++) {
        bal[24 + 2 * p] = 100 + p;
        bal[24 + 2 * p + 1] = -(100 + p);
    }
    ck_assert_uint_eq(settle_checked(bal, 44), 26);
}
END_TEST

START_TEST(test_settle_order_independent)
{
    enum { N = 40 };
    int64_t bal[N], perm_bal[N];
    const char *perm_ids[N];
    size_t perm[N];
    struct settle_transfer *base = NULL, *t = NULL;
    size_t n_base = 0, n_t = 0;

    rng_state = 7;
    for (int rep = 0; rep < 30; rep++) {
        size_t n = rep % 2 ? 12 : N;
        random_group(bal, n, rep % 3 ? 5 : 1000);
        ck_assert_int_eq(settle_compute(ids, bal, n, &base, &n_base), 0);
        for (int shuffle = 0; shuffle < 5; shuffle++) {
            for (size_t i = 0; i < n; i++)
                perm[i] = i;
            for (size_t j = n; j > 1; j--) {
                size_t r = (size_t)rng_range(0, (int64_t)j - 1);
                size_t tmp = perm[j - 1];
                perm[j - 1] = perm[r];
                perm[r] = tmp;
            }
            for (size_t i = 0; i < n; i++) {
                perm_bal[i] = bal[perm[i]];
                perm_ids[i] = ids[perm[i]];
            }
            ck_assert_int_eq(settle_compute(perm_ids, perm_bal, n, &t, &n_t), 0);
            ck_assert_uint_eq(n_t, n_base);
            for (size_t i = 0; i < n_t; i++) {
                ck_assert_str_eq(perm_ids[t[i].from], ids[base[i].from]);
                ck_assert_str_eq(perm_ids[t[i].to], ids[base[i].to]);
                ck_assert_int_eq(t[i].amount, base[i].amount);
            }
            free(t);
        }
        free(base);
    }
}
END_TEST

START_TEST(test_settle_random_valid)
{
    static int64_t bal[2000];

    rng_state = 99;
    for (int iter = 0; iter < 40; iter++) {
        size_t n = (size_t)rng_range(2, iter < 34 ? 60 : 2000);
        random_group(bal, n, iter % 2 ? 9 : 250000);
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += bal[i];
        ck_assert_int_eq(sum, 0);
        size_t got = settle_checked(bal, n);
        ck_assert_uint_le(got, greedy_checked(bal, n));
    }
}
END_TEST

START_TEST(test_settle_ten_thousand)
{
    static int64_t bal[MAX_IDS];

    rng_state = 10000;
    random_group(bal, MAX_IDS, 100000);
    size_t got = settle_checked(bal, MAX_IDS);
    size_t greedy = greedy_checked(bal, MAX_IDS);
    ck_assert_uint_le(got, greedy);
}
END_TEST

START_TEST(test_settle_without_ids)
{
    int64_t bal[5] = {-5, -5, 5, 5, 0};
    struct settle_transfer *t = NULL;
    size_t n_t = 0;

    ck_assert_int_eq(settle_compute(NULL, bal, 5, &t, &n_t), 0);
    assert_settles(NULL, bal, 5, t, n_t);
    ck_assert_uint_eq(n_t, 2);
    ck_assert_uint_lt(t[0].from, t[1].from);
    free(t);
}
END_TEST

static Suite *settle_suite(void)
{
    Suite *s = suite_create("settle");
    TCase *tc = tcase_create("core");

    tcase_add_unchecked_fixture(tc, make_ids, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_settle_empty_and_zero);
    tcase_add_test(tc, test_settle_rejects_invalid);
    tcase_add_test(tc, test_settle_simple_cases);
    tcase_add_test(tc, test_settle_beats_greedy);
    tcase_add_test(tc, test_settle_int64_edges);
    tcase_add_test(tc, test_settle_matches_brute_force);
    tcase_add_test(tc, test_settle_matches_brute_force_dense);
    tcase_add_test(tc, test_settle_exact_at_24);
    tcase_add_test(tc, test_settle_exact_dense_24);
    tcase_add_test(tc, test_settle_exact_sparse_30);
    tcase_add_test(tc, test_settle_exact_with_pairs_beyond_24);
    tcase_add_test(tc, test_settle_order_independent);
    tcase_add_test(tc, test_settle_random_valid);
    tcase_add_test(tc, test_settle_ten_thousand);
    tcase_add_test(tc, test_settle_without_ids);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(settle_suite)

/*
 * bench_settle: settlement time and transfer counts per group size.
 *
 * For each size, a seeded trip-like ledger: members fall into circles of
 * 2-7 people (rooms, cars, families) who share expenses among themselves,
 * each paid by one member and split equally over some of the circle with
 * split_apportion; now and then an expense spans two circles, merging them.
 * Balances are what that ledger leaves. Each circle is a zero-sum group that
 * greedy settle-up ignores. Prints a markdown table: median settle_compute
 * time, its transfers, the greedy baseline's transfers on the same input,
 * their ratio, the share of trips where it beats greedy, and "planted": the
 * transfers needed when every circle settles on its own (an upper bound on
 * the optimum).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "settle.h"
#include "split.h"
#include "xalloc.h"

static uint64_t rng_state = 42;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

/* An expense amount in cents: mostly arbitrary, sometimes round. */
static int64_t rng_amount(void)
{
    int64_t a = 300 + (int64_t)rng_below(25000);
    return rng_below(4) == 0 ? (a / 500 + 1) * 500 : a;
}

/* Find with path halving: circles merged by cross-circle expenses. */
static size_t find(size_t *parent, size_t x)
{
    while (parent[x] != x)
        x = parent[x] = parent[parent[x]];
    return x;
}

/*
 * Fill bal[0..n) with a trip ledger's balances; returns the number of
 * zero-sum components (merged circles) with a non-zero member.
 */
static size_t trip_balances(int64_t *bal, size_t n)
{
    size_t *circle = xmalloc(n * sizeof(*circle)); /* first member of i's circle */
    size_t *size = xmalloc(n * sizeof(*size));     /* circle size, at its first member */
    size_t *parent = xmalloc(n * sizeof(*parent)); /* union-find over circles */
    int64_t owed[8], weights[8];
    size_t members[8];
    size_t components = 0;

    memset(bal, 0, n * sizeof(*bal));
    for (size_t i = 0; i < n;) {
        size_t s = 2 + rng_below(6);
        if (s > n - i)
            s = n - i;
        for (size_t j = 0; j < s; j++)
            circle[i + j] = i;
        size[i] = s;
        parent[i] = i;
        i += s;
    }
    for (size_t base = 0; base < n; base += size[base]) {
        size_t s = size[base];
        size_t n_exp = 2 + rng_below(2 * s);
        for (size_t e = 0; e < n_exp; e++) {
            size_t k = 0;
            for (size_t j = 0; j < s; j++)
                if (rng_below(4) != 0)
                    members[k++] = base + j;
            if (k < 2)
                continue;
            size_t other = base;
            /* One expense in 12 takes one member of another circle along. */
            if (n > s && rng_below(12) == 0) {
                size_t x = rng_below(n);
                if (circle[x] != base && k < 8) {
                    members[k++] = x;
                    other = circle[x];
                }
            }
            int64_t amount = rng_amount();
            size_t payer = members[rng_below(k)];
            for (size_t j = 0; j < k; j++)
                weights[j] = 1;
            split_apportion(amount, weights, k, owed);
            bal[payer] += amount;
            for (size_t j = 0; j < k; j++)
                bal[members[j]] -= owed[j];
            parent[find(parent, base)] = find(parent, other);
        }
    }
    /* Count components that have a non-zero member. */
    unsigned char *seen = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        size_t r = find(parent, circle[i]);
        if (bal[i] != 0 && !seen[r]) {
            seen[r] = 1;
            components++;
        }
    }
    free(seen);
    free(parent);
    free(size);
    free(circle);
    return components;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void format_time(double us, char *buf, size_t size)
{
    if (us < 1000)
        snprintf(buf, size, "%.0f µs", us);
    else if (us < 1e6)
        snprintf(buf, size, "%.1f ms", us / 1000);
    else
        snprintf(buf, size, "%.2f s", us / 1e6);
}

int main(void)
{
    static const size_t sizes[] = {5, 10, 15, 20, 24, 30, 100, 1000, 10000};
    /* Several trips per size: timings are the median over all runs. */
    static const int trips[] = {200, 200, 200, 200, 200, 100, 50, 10, 5};

    printf("| members | non-zero | median time | max time | transfers | greedy | ratio | "
           "beats greedy | planted |\n");
    printf("|--------:|---------:|------------:|---------:|----------:|-------:|------:|"
           "-------------:|--------:|\n");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        int64_t *bal = xmalloc(n * sizeof(*bal));
        char **id = xmalloc(n * sizeof(*id));
        double *times = xmalloc((size_t)trips[s] * sizeof(*times));
        size_t sum_nz = 0, sum_ours = 0, sum_greedy = 0, sum_planted = 0, fewer = 0;

        for (size_t i = 0; i < n; i++) {
            char buf[32];
            snprintf(buf, sizeof(buf), "member-%05zu", i);
            id[i] = xstrdup(buf);
        }
        for (int r = 0; r < trips[s]; r++) {
            struct settle_transfer *t = NULL;
            size_t n_t = 0, n_g = 0, nz = 0;
            size_t components = trip_balances(bal, n);

            for (size_t i = 0; i < n; i++)
                nz += bal[i] != 0;
            double t0 = now_us();
            if (settle_compute((const char *const *)id, bal, n, &t, &n_t) < 0) {
                fprintf(stderr, "bench_settle: settle_compute failed\n");
                return 1;
            }
            times[r] = now_us() - t0;
            free(t);
            settle_greedy((const char *const *)id, bal, n, &t, &n_g);
            free(t);
            sum_nz += nz;
            sum_ours += n_t;
            sum_greedy += n_g;
            sum_planted += nz - components;
            fewer += n_t < n_g;
        }
        qsort(times, (size_t)trips[s], sizeof(*times), double_cmp);
        char med[32], max[32];
        format_time(times[trips[s] / 2], med, sizeof(med));
        format_time(times[trips[s] - 1], max, sizeof(max));
        double k = trips[s];
        printf("| %7zu | %8.1f | %11s | %8s | %9.1f | %6.1f | %5.3f | %11.0f%% | %7.1f |\n", n,
               (double)sum_nz / k, med, max, (double)sum_ours / k, (double)sum_greedy / k,
               sum_greedy ? (double)sum_ours / (double)sum_greedy : 1.0, 100.0 * (double)fewer / k,
               (double)sum_planted / k);
        fflush(stdout);
        for (size_t i = 0; i < n; i++)
            free(id[i]);
        free(id);
        free(times);
        free(bal);
    }
    printf("\ntransfers, greedy, planted: means over the trips of each size; ratio = transfers /"
           " greedy;\nbeats greedy: share of trips where settle_compute needs fewer transfers.\n");
    return 0;
}

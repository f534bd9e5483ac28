/*
 * bench.h: what the micro-benchmarks share: a monotonic clock in nanoseconds
 * and the median time of an operation over BENCH_ROUNDS rounds.
 */
#ifndef SPLITTER_BENCH_H
#define SPLITTER_BENCH_H

#include <stdlib.h>
#include <time.h>

#define BENCH_ROUNDS 7

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median over BENCH_ROUNDS rounds of the nanoseconds one op(arg, i)
   takes, each round calling it reps times (i = 0 .. reps-1). op returns a
   number the caller's sink adds up, so that the work cannot be optimised
   away. */
static inline double bench_median_ns(size_t (*op)(void *arg, int i), void *arg, int reps)
{
    double t[BENCH_ROUNDS];
    size_t sink = 0;
    for (int r = 0; r < BENCH_ROUNDS; r++) {
        double a = bench_now_ns();
        for (int i = 0; i < reps; i++)
            sink += op(arg, i);
        t[r] = (bench_now_ns() - a) / reps;
    }
    if (sink == (size_t)-1)
        abort();
    qsort(t, BENCH_ROUNDS, sizeof(t[0]), bench_cmp_double);
    return t[BENCH_ROUNDS / 2];
}

#endif

/*
 * unit: what every unit test shares: the seeded generator (splitmix64; each
 * test sets rng_state before drawing, so a failure reproduces exactly) and
 * the main() that runs one suite.
 */
#ifndef SPLITTER_TESTS_UNIT_H
#define SPLITTER_TESTS_UNIT_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state;

static inline uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* main(): run suite_fn()'s suite; exit status 1 when a check failed. */
#define UNIT_MAIN(suite_fn)                                                                        \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        int failed = srunner_ntests_failed(sr);                                                    \
        srunner_free(sr);                                                                          \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                               \
    }

#endif

/*
 * split: who owes what for one expense, with the one rounding rule.
 *
 * The rule (the REST contract, docs/openapi.yaml, "Rounding"): convert the amount to the group
 * currency rounding half to even; each member's share is the floor of its exact share of that
 * converted total; the units left over go one each to the members with the largest fractional
 * remainder, ties to the earlier member. Payers are fitted to the converted total the same way,
 * weighted by what they paid. Every result conserves money exactly: shares sum to the total.
 *
 * This is the only implementation: the api, the worker, the export and the
 * tests all call it. All arithmetic is integer (__int128 inside), no
 * floating point. Functions return 0, or -1 with the out arrays left in an
 * unspecified state. Nothing allocates except split_apportion's scratch,
 * which it frees; everything is thread-safe.
 */
#ifndef SPLITTER_SPLIT_H
#define SPLITTER_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

/*
 * Apportion total (>= 0) over n >= 1 non-negative weights (sum > 0):
 * out[i] = floor(total * w[i] / W), then the leftover units one each to the
 * largest fractional remainders, ties to the lower index. sum(out) == total.
 * out has n elements, owned by the caller. 0, or -1 if n == 0, total < 0, a
 * weight < 0, or the weight sum is 0 or overflows int64.
 */
int split_apportion(int64_t total, const int64_t *weights, size_t n, int64_t *out);

/*
 * split_apportion over 128-bit weights (an itemised bill's, items.h), the same rule in the same
 * code. -1 also when the weight sum or a product total x weight overflows 128 bits.
 */
__extension__ int split_apportion_wide(int64_t total, const __int128 *weights, size_t n,
                                       int64_t *out);

/* The four ways an expense is split (`split.mode` in the REST contract). */
enum split_mode {
    SPLIT_EQUAL,   /* no values; weight 1 each */
    SPLIT_EXACT,   /* values in minor units of the expense currency, summing to the amount */
    SPLIT_PERCENT, /* values with at most 2 decimals, summing to exactly 100 */
    SPLIT_SHARES,  /* positive values with at most 2 decimals */
};

/* Largest number of fraction digits a percent or shares value may have. */
#define SPLIT_VALUE_SCALE 2

/* "equal", "exact", "percent", "shares" -> *out; 0, or -1 if unknown. */
int split_mode_parse(const char *name, enum split_mode *out);
/* The name of mode (static string), or NULL for a value outside the enum. */
const char *split_mode_name(enum split_mode mode);

/*
 * Details of a failed call: which request field, which element of it, and a
 * lowercase message. field points to a static string ("amount",
 * "exchange_rate", "paid_by", "split.members", "split.mode"); index is the
 * element (paid_by[index], split.members[index]) or -1 for the whole field.
 */
struct split_error {
    const char *field;
    long index;
    char message[160];
};

/* Fill err (when not NULL) with field, index and the formatted message; returns -1, so a
   caller can `return split_fail(...)`. */
__attribute__((format(printf, 4, 5))) int split_fail(struct split_error *err, const char *field,
                                                     long index, const char *fmt, ...);

/*
 * The weights split_apportion takes for mode, from the n decoded values
 * (values may be NULL for SPLIT_EQUAL, where every weight is 1):
 *   SPLIT_EXACT   the value itself, which must have scale 0 (minor units);
 *   SPLIT_PERCENT hundredths of a percent; the values must sum to exactly 100;
 *   SPLIT_SHARES  hundredths of a share; every value must be > 0.
 * Percent and shares values may have at most SPLIT_VALUE_SCALE decimals.
 * weights has n elements, owned by the caller. 0, or -1 with err filled in
 * (err may be NULL) if n == 0 or a value breaks these rules.
 */
int split_weights_from_decimals(enum split_mode mode, const struct decimal *values, size_t n,
                                int64_t *weights, struct split_error *err);

/*
 * One expense, as the API receives it. Borrowed pointers: the caller keeps
 * ownership, they need to live only for the call.
 */
struct split_input {
    int64_t amount;               /* > 0, minor units of the expense currency */
    int amount_exp;               /* exponent of the expense currency */
    int group_exp;                /* exponent of the group currency */
    const struct decimal *rate;   /* group-currency units per one expense-currency unit;
                                     NULL means 1 (same currency) */
    enum split_mode mode;         /* how the expense is split */
    const struct decimal *values; /* n_members values; NULL for SPLIT_EQUAL */
    size_t n_members;             /* >= 1 */
    const int64_t *paid;          /* n_payers amounts, > 0, minor units of the expense currency,
                                     summing to amount */
    size_t n_payers;              /* >= 1 */
};

/*
 * Validate and split one expense. On success, *total is the amount converted
 * to the group currency (half to even), owed[i] (n_members elements) is what
 * split.members[i] owes and paid_out[j] (n_payers elements) what paid_by[j]
 * is credited, both in group minor units and each summing exactly to *total.
 * Output arrays are owned by the caller. 0, or -1 with err filled in (err may
 * be NULL) if the input breaks the API rules or a sum overflows int64.
 */
int split_expense(const struct split_input *in, int64_t *total, int64_t *owed, int64_t *paid_out,
                  struct split_error *err);

#endif

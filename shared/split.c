#include "split.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

__extension__ typedef __int128 i128;

struct remainder {
    i128 rem; /* total * w[i] mod W, in [0, W) */
    size_t index;
};

/* Largest remainder first; equal remainders keep the lower index first. */
static int remainder_cmp(const void *a, const void *b)
{
    const struct remainder *x = a, *y = b;
    if (x->rem != y->rem)
        return x->rem > y->rem ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The rule itself, over weights given either as w64 or as w128 (the other NULL). */
static int apportion(int64_t total, const int64_t *w64, const i128 *w128, size_t n, int64_t *out)
{
    i128 wsum = 0;
    int64_t given = 0;
    struct remainder *rems;

    if (n == 0 || total < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        i128 w = w64 ? w64[i] : w128[i];
        if (w < 0 || __builtin_add_overflow(wsum, w, &wsum))
            return -1;
    }
    if (wsum == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        i128 p;
        if (__builtin_mul_overflow((i128)total, w64 ? (i128)w64[i] : w128[i], &p))
            return -1;
    }

    rems = xmalloc(n * sizeof(*rems));
    for (size_t i = 0; i < n; i++) {
        i128 p = (i128)total * (w64 ? (i128)w64[i] : w128[i]);
        /* Each floor is at most total and their sum at most total: no overflow. */
        out[i] = (int64_t)(p / wsum);
        rems[i].rem = p % wsum;
        rems[i].index = i;
        given += out[i];
    }
    /*
     * The leftover is sum(rem) / W: an integer below the number of non-zero
     * remainders, so a zero weight never receives a unit.
     */
    int64_t left = total - given;
    if (left > 0) {
        qsort(rems, n, sizeof(*rems), remainder_cmp);
        for (int64_t k = 0; k < left; k++)
            out[rems[k].index]++;
    }
    free(rems);
    return 0;
}

int split_apportion(int64_t total, const int64_t *weights, size_t n, int64_t *out)
{
    int64_t wsum = 0;
    /* The contract keeps int64 weight sums for the four modes. */
    for (size_t i = 0; i < n; i++)
        if (weights[i] < 0 || __builtin_add_overflow(wsum, weights[i], &wsum))
            return -1;
    return apportion(total, weights, NULL, n, out);
}

int split_apportion_wide(int64_t total, const i128 *weights, size_t n, int64_t *out)
{
    return apportion(total, NULL, weights, n, out);
}

int split_fail(struct split_error *err, const char *field, long index, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    err->field = field;
    err->index = index;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

static const char *const mode_names[] = {
    [SPLIT_EQUAL] = "equal",
    [SPLIT_EXACT] = "exact",
    [SPLIT_PERCENT] = "percent",
    [SPLIT_SHARES] = "shares",
};

int split_mode_parse(const char *name, enum split_mode *out)
{
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
        if (name && strcmp(name, mode_names[i]) == 0) {
            *out = (enum split_mode)i;
            return 0;
        }
    return -1;
}

const char *split_mode_name(enum split_mode mode)
{
    if ((unsigned)mode >= sizeof(mode_names) / sizeof(mode_names[0]))
        return NULL;
    return mode_names[mode];
}

#define fail split_fail

int split_weights_from_decimals(enum split_mode mode, const struct decimal *values, size_t n,
                                int64_t *weights, struct split_error *err)
{
    int64_t sum = 0;

    if (n == 0)
        return fail(err, "split.members", -1, "at least one member is required");
    if (mode == SPLIT_EQUAL) {
        for (size_t i = 0; i < n; i++)
            weights[i] = 1;
        return 0;
    }
    if (mode != SPLIT_EXACT && mode != SPLIT_PERCENT && mode != SPLIT_SHARES)
        return fail(err, "split.mode", -1, "unknown split mode");
    if (!values)
        return fail(err, "split.members", -1, "mode '%s' needs a value for every member",
                    split_mode_name(mode));

    for (size_t i = 0; i < n; i++) {
        const struct decimal *v = &values[i];
        int scale = mode == SPLIT_EXACT ? 0 : SPLIT_VALUE_SCALE;

        if (v->units < 0 || v->scale < 0)
            return fail(err, "split.members", (long)i, "value must not be negative");
        if (decimal_rescale(v, scale, &weights[i]) < 0) {
            if (mode == SPLIT_EXACT)
                return fail(err, "split.members", (long)i,
                            "exact value must be an integer amount in minor units");
            return fail(err, "split.members", (long)i,
                        "value must have at most %d decimals and fit in 64 bits",
                        SPLIT_VALUE_SCALE);
        }
        if (mode == SPLIT_SHARES && weights[i] == 0)
            return fail(err, "split.members", (long)i, "shares must be positive");
        if (__builtin_add_overflow(sum, weights[i], &sum))
            return fail(err, "split.members", (long)i, "values overflow when summed");
    }
    if (mode == SPLIT_PERCENT && sum != 100 * 100)
        return fail(err, "split.members", -1, "percentages must sum to exactly 100");
    return 0;
}

int split_expense(const struct split_input *in, int64_t *total, int64_t *owed, int64_t *paid_out,
                  struct split_error *err)
{
    static const struct decimal one = {1, 0};
    int64_t *weights = NULL;
    int64_t converted;
    int64_t sum = 0;
    int ret = -1;

    if (in->amount <= 0)
        return fail(err, "amount", -1, "amount must be a positive integer in minor units");
    if (in->n_payers == 0)
        return fail(err, "paid_by", -1, "at least one payer is required");
    for (size_t j = 0; j < in->n_payers; j++) {
        if (in->paid[j] <= 0)
            return fail(err, "paid_by", (long)j, "amount must be a positive integer");
        if (__builtin_add_overflow(sum, in->paid[j], &sum))
            return fail(err, "paid_by", (long)j, "payer amounts overflow when summed");
    }
    if (sum != in->amount)
        return fail(err, "paid_by", -1, "payer amounts sum to %lld, not the amount %lld",
                    (long long)sum, (long long)in->amount);
    if (money_convert(in->amount, in->amount_exp, in->rate ? in->rate : &one, in->group_exp,
                      &converted) < 0)
        return fail(err, in->rate ? "exchange_rate" : "amount", -1,
                    "amount in the group currency does not fit in 64 bits");

    weights = xmalloc((in->n_members ? in->n_members : 1) * sizeof(*weights));
    if (split_weights_from_decimals(in->mode, in->values, in->n_members, weights, err) < 0)
        goto out;
    if (in->mode == SPLIT_EXACT) {
        /* Cannot overflow: split_weights_from_decimals checked the sum. */
        money_sum(weights, in->n_members, &sum);
        if (sum != in->amount) {
            fail(err, "split.members", -1, "exact values sum to %lld, not the amount %lld",
                 (long long)sum, (long long)in->amount);
            goto out;
        }
    }
    /*
     * A converted total of 0 (a tiny amount at a tiny rate) still splits: every
     * share is 0. Weights can all be 0 only in exact mode with amount 0, which
     * is rejected above, or percent summing to 0, rejected too.
     */
    if (split_apportion(converted, weights, in->n_members, owed) < 0) {
        fail(err, "split.members", -1, "values must not all be zero");
        goto out;
    }
    if (split_apportion(converted, in->paid, in->n_payers, paid_out) < 0) {
        fail(err, "paid_by", -1, "payer amounts are invalid");
        goto out;
    }
    *total = converted;
    ret = 0;
out:
    free(weights);
    return ret;
}

#include "items.h"

#include <stdlib.h>

#include "xalloc.h"

__extension__ typedef __int128 i128;

#define fail split_fail

/* A line's total (price x quantity) and weight sum. 0, or -1 with err. */
static int line_sums(const struct items_line *l, long index, int64_t *line_total, int64_t *wsum,
                     struct split_error *err)
{
    int64_t w = 0;

    if (l->price <= 0)
        return fail(err, "split.items", index, "price must be a positive integer");
    if (l->quantity <= 0)
        return fail(err, "split.items", index, "quantity must be a positive integer");
    if (__builtin_mul_overflow(l->price, l->quantity, line_total))
        return fail(err, "split.items", index, "price times quantity does not fit in 64 bits");
    if (l->n == 0)
        return fail(err, "split.items", index, "at least one member must share the item");
    for (size_t k = 0; k < l->n; k++)
        if (l->weight[k] <= 0 || __builtin_add_overflow(w, l->weight[k], &w))
            return fail(err, "split.items", index, "shares must be positive and fit in 64 bits");
    *wsum = w;
    return 0;
}

/* Round n / d half to even; d > 0, n >= 0. */
static int64_t div_half_even(i128 n, i128 d)
{
    i128 q = n / d, r = n % d;
    if (2 * r > d || (2 * r == d && (q & 1)))
        q++;
    return (int64_t)q;
}

int items_total(const struct items_line *lines, size_t n_lines, const struct items_charge *charges,
                size_t n_charges, int64_t *subtotal, int64_t *charge_amounts, int64_t *total,
                struct split_error *err)
{
    int64_t s = 0, t, lt, w;

    if (n_lines == 0)
        return fail(err, "split.items", -1, "at least one item is required");
    for (size_t i = 0; i < n_lines; i++) {
        if (line_sums(&lines[i], (long)i, &lt, &w, err) < 0)
            return -1;
        if (__builtin_add_overflow(s, lt, &s))
            return fail(err, "split.items", (long)i, "the items' subtotal overflows 64 bits");
    }
    t = s;
    for (size_t j = 0; j < n_charges; j++) {
        int64_t a = charges[j].value;
        if (a <= 0)
            return fail(err, "split.charges", (long)j, "a charge must be positive");
        if (charges[j].is_percent) {
            i128 q = (i128)s * a;
            i128 r = div_half_even(q, 100 * ITEMS_SCALE);
            if (r > INT64_MAX)
                return fail(err, "split.charges", (long)j, "the charge does not fit in 64 bits");
            a = (int64_t)r;
        }
        if (charge_amounts)
            charge_amounts[j] = a;
        if (__builtin_add_overflow(t, a, &t))
            return fail(err, "split.charges", (long)j, "the bill's total overflows 64 bits");
    }
    *subtotal = s;
    *total = t;
    return 0;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static i128 gcd128(i128 a, i128 b)
{
    while (b) {
        i128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int items_apportion(int64_t total, const struct items_line *lines, size_t n_lines, size_t n_members,
                    int64_t *owed, struct split_error *err)
{
    i128 *weight = NULL, g = 0;
    int64_t lcm = 1;
    int ret = -1;

    if (total < 0 || n_lines == 0 || n_members == 0)
        return fail(err, "split.items", -1, "at least one item is required");
    /* Every line's weights over one common denominator, lcm(W_i). */
    for (size_t i = 0; i < n_lines; i++) {
        int64_t lt, w, l;
        if (line_sums(&lines[i], (long)i, &lt, &w, err) < 0)
            return -1;
        l = lcm / gcd64(lcm, w);
        if (__builtin_mul_overflow(l, w, &lcm))
            return fail(err, "split.items", (long)i,
                        "the items' shares are too diverse to split exactly");
    }
    weight = xcalloc(n_members, sizeof(*weight));
    /* Member m's weight: sum_i L_i x w_im x (lcm / W_i), proportional to x_m. */
    for (size_t i = 0; i < n_lines; i++) {
        const struct items_line *l = &lines[i];
        int64_t lt = l->price * l->quantity, w = 0;
        for (size_t k = 0; k < l->n; k++)
            w += l->weight[k];
        for (size_t k = 0; k < l->n; k++) {
            i128 part;
            if (l->member[k] >= n_members) {
                fail(err, "split.items", (long)i, "names a member out of range");
                goto out;
            }
            if (__builtin_mul_overflow((i128)lt, (i128)l->weight[k] * (lcm / w), &part) ||
                __builtin_add_overflow(weight[l->member[k]], part, &weight[l->member[k]])) {
                fail(err, "split.items", (long)i,
                     "the items' shares are too diverse to split exactly");
                goto out;
            }
        }
    }
    /* Smaller numbers, same ratios: divide out the weights' common factor (g > 0,
       as every line has a positive total and positive weights). */
    for (size_t m = 0; m < n_members; m++)
        g = gcd128(g, weight[m]);
    for (size_t m = 0; m < n_members; m++)
        weight[m] /= g;
    /* The contract's rule, in its one implementation; -1 only on a 128-bit overflow. */
    if (split_apportion_wide(total, weight, n_members, owed) != 0) {
        fail(err, "split.items", -1, "the items' shares are too diverse to split exactly");
        goto out;
    }
    ret = 0;
out:
    free(weight);
    return ret;
}

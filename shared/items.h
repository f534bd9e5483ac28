/*
 * items: an itemised bill (split mode "items"): lines with a price and a
 * quantity, each shared by some members equally or by shares, and charges
 * (tax, tip, service) as amounts or percentages of the items' subtotal.
 *
 * The rule (docs/openapi.yaml, "Itemised bills"):
 *   - a line's total is price x quantity; the subtotal S is their sum;
 *   - a percent charge is S x percent / 100 rounded half to even to a minor
 *     unit; the bill's total is S plus every charge, and must equal the
 *     expense's amount;
 *   - charges are spread over the lines in proportion to their totals, so
 *     line i carries L_i x amount / S of the bill, and member m's exact share
 *     of it is that times w_im / W_i (w_im the member's weight on the line,
 *     W_i the line's weight sum);
 *   - the amount converted to the group currency is then apportioned by the
 *     contract's rule over those exact shares: floors, then the leftover
 *     units to the largest fractional remainders, ties to the member that
 *     appears first across the lines.
 * Member m's part of the converted total is x_m = sum_i (L_i / S) (w_im /
 * W_i), which does not depend on the charges: they only change the total.
 *
 * All integer (__int128 inside, every step overflow-checked), no floating
 * point. Nothing is allocated beyond scratch freed before returning;
 * everything is thread-safe.
 */
#ifndef SPLITTER_ITEMS_H
#define SPLITTER_ITEMS_H

#include <stddef.h>
#include <stdint.h>

#include "split.h"

/* Percent charges and shares weights are hundredths (two decimals). */
#define ITEMS_SCALE 100

/* One line of the bill. Borrowed arrays: they need to live only for a call. */
struct items_line {
    int64_t price;         /* > 0, minor units of the expense currency */
    int64_t quantity;      /* > 0 */
    size_t n;              /* members sharing the line, >= 1 */
    const size_t *member;  /* n indexes into the bill's members, distinct */
    const int64_t *weight; /* n weights > 0: 1 each for equal, hundredths of shares */
};

/* One charge: an amount in minor units, or hundredths of a percent. */
struct items_charge {
    int is_percent;
    int64_t value; /* > 0: minor units, or hundredths of a percent (1250 = 12.5 %) */
};

/*
 * The subtotal of the lines into *subtotal and the bill's total (subtotal
 * plus every charge, each percent charge rounded half to even) into *total;
 * charge_amounts (n_charges elements, may be NULL) gets each charge in minor
 * units. 0, or -1 with err filled in (field "split.items" or "split.charges"
 * and the element) when a value is out of range or a sum overflows int64.
 */
int items_total(const struct items_line *lines, size_t n_lines, const struct items_charge *charges,
                size_t n_charges, int64_t *subtotal, int64_t *charge_amounts, int64_t *total,
                struct split_error *err);

/*
 * Apportion total (>= 0, group-currency minor units) over n_members members
 * by the lines' exact shares (above): owed[m] for member m, summing exactly
 * to total; a member on no line gets 0. owed has n_members elements, owned by
 * the caller. 0, or -1 with err filled in when a line is invalid, names a
 * member out of range, or the exact shares do not fit in 128 bits (bills
 * whose share weights have a least common multiple past int64).
 */
int items_apportion(int64_t total, const struct items_line *lines, size_t n_lines, size_t n_members,
                    int64_t *owed, struct split_error *err);

#endif

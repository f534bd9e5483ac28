/*
 * money: exact amounts, currencies, decimals and conversion.
 *
 * An amount is an int64_t count of minor units of one currency (9000 EUR
 * minor units are 90.00 EUR; 9000 JPY are 9000 yen). Every operation here is
 * integer arithmetic, overflow-checked; there is no floating point anywhere.
 * Functions that can fail return 0, or -1 and leave their out-parameters
 * untouched. Nothing allocates; everything is thread-safe.
 */
#ifndef SPLITTER_MONEY_H
#define SPLITTER_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Largest exponent and decimal scale this module handles (10^18 < 2^63). */
#define MONEY_MAX_EXPONENT 18

/*
 * One row of the ISO 4217 table: code is three uppercase letters, exponent
 * the number of minor-unit digits (EUR 2, JPY 0, KWD 3, CLF 4). Rows are
 * static and live for the whole program.
 */
struct currency {
    const char *code;
    int exponent;
};

/*
 * The currency with this code, which must be exactly three uppercase letters
 * (NUL-terminated). Only currencies with a defined minor unit are listed:
 * precious metals, SDR and testing codes (XAU, XDR, XTS, XXX...) are not.
 * Returns a pointer into the static table (never freed), or NULL if unknown.
 */
const struct currency *money_currency_find(const char *code);

/* The whole table, sorted by code; *n receives its length. Static memory. */
const struct currency *money_currencies(size_t *n);

/* *out = a + b, a - b, a * b; 0, or -1 on int64 overflow (*out untouched). */
int money_add(int64_t a, int64_t b, int64_t *out);
int money_sub(int64_t a, int64_t b, int64_t *out);
int money_mul(int64_t a, int64_t b, int64_t *out);

/* *out = the sum of the n amounts (0 when n == 0); 0, or -1 on overflow. */
int money_sum(const int64_t *amounts, size_t n, int64_t *out);

/*
 * Format amount (minor units of a currency with this exponent) as a plain
 * decimal string: 9000, 2 -> "90.00"; -5, 2 -> "-0.05"; 9000, 0 -> "9000".
 * Returns the length written (NUL not counted), or -1 if buf (size bytes,
 * NUL included) is too small or exponent is outside 0..MONEY_MAX_EXPONENT.
 */
int money_format(int64_t amount, int exponent, char *buf, size_t size);

/*
 * An exact non-negative decimal: value = units / 10^scale, with
 * units >= 0 and 0 <= scale <= MONEY_MAX_EXPONENT. "1.50" is {150, 2}: the
 * scale is the number of fraction digits as written.
 */
struct decimal {
    int64_t units;
    int scale;
};

/*
 * Parse the len bytes at s (no NUL needed): digits, optionally followed by
 * '.' and at least one digit ("12", "1.0825", "0.5"). No sign, no exponent,
 * no empty part ("1.", ".5"), no spaces. At most max_scale fraction digits
 * (max_scale is clamped to MONEY_MAX_EXPONENT). 0, or -1 if malformed, too
 * many fraction digits or too large for int64 (*out untouched).
 */
int decimal_parse(const char *s, size_t len, int max_scale, struct decimal *out);

/*
 * Format d into buf ("1.0825"; scale 0 gives no point). Returns the length
 * written (NUL not counted), or -1 if it doesn't fit in size bytes with the
 * NUL, or d is invalid (negative units, scale out of range).
 */
int decimal_format(const struct decimal *d, char *buf, size_t size);

/*
 * The value of d as a count of 10^-scale units: {1234, 2} at scale 4 is
 * 123400. 0, or -1 if that would drop non-zero digits ({1234, 2} at scale 1)
 * or overflow, or either scale is out of range.
 */
int decimal_rescale(const struct decimal *d, int scale, int64_t *out);

/*
 * Convert amount (minor units of a currency with exponent from_exp) at rate
 * (units of the target currency per ONE unit of the source currency) into
 * minor units of a currency with exponent to_exp, rounding half to even:
 * exact value = amount * rate * 10^(to_exp - from_exp). amount may be
 * negative (rounding is symmetric). 0, or -1 if the result overflows int64 or
 * an exponent or the rate is invalid (*out untouched).
 */
int money_convert(int64_t amount, int from_exp, const struct decimal *rate, int to_exp,
                  int64_t *out);

#endif

#include "money.h"

#include <stdlib.h>
#include <string.h>

/* __int128 is a GCC/Clang extension; __extension__ keeps -Wpedantic quiet. */
__extension__ typedef unsigned __int128 u128;

/*
 * ISO 4217 List One: every active currency with a defined minor unit, as of
 * the 2025 amendments (ZWG and XCG added; HRK and ZWL withdrawn). Codes with
 * minor unit "N.A." (metals, SDR, bond units, XSU, XUA, XTS, XXX) are left
 * out: they are never amounts a group can be kept in. Sorted by code for
 * bsearch.
 */
static const struct currency currencies[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2},
    {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0},
    {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2},
    {"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4},
    {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2}, {"CRC", 2}, {"CUC", 2}, {"CUP", 2}, {"CVE", 2},
    {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2},
    {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2},
    {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2},
    {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0},
    {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2},
    {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2},
    {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2},
    {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2},
    {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2},
    {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2}, {"RUB", 2},
    {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2}, {"SHP", 2},
    {"SLE", 2}, {"SLL", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2},
    {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2},
    {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2},
    {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0},
    {"XCD", 2}, {"XCG", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
};

#define N_CURRENCIES (sizeof(currencies) / sizeof(currencies[0]))

static const uint64_t pow10_u64[MONEY_MAX_EXPONENT + 1] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
};

static int currency_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct currency *)elem)->code);
}

const struct currency *money_currency_find(const char *code)
{
    if (!code || strlen(code) != 3)
        return NULL;
    for (int i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return NULL;
    return bsearch(code, currencies, N_CURRENCIES, sizeof(currencies[0]), currency_cmp);
}

const struct currency *money_currencies(size_t *n)
{
    *n = N_CURRENCIES;
    return currencies;
}

int money_add(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int money_sub(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int money_mul(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int money_sum(const int64_t *amounts, size_t n, int64_t *out)
{
    int64_t s = 0;
    for (size_t i = 0; i < n; i++)
        if (__builtin_add_overflow(s, amounts[i], &s))
            return -1;
    *out = s;
    return 0;
}

/*
 * Write magnitude as a decimal with `point` fraction digits (at least one
 * integer digit) into buf, with a leading '-' if negative. Shared by
 * money_format and decimal_format.
 */
static int format_fixed(uint64_t magnitude, int negative, int point, char *buf, size_t size)
{
    char tmp[48];
    size_t n = 0;
    int digits = 0;

    do {
        if (digits == point && point > 0)
            tmp[n++] = '.';
        tmp[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
        digits++;
    } while (magnitude > 0 || digits <= point);
    if (negative)
        tmp[n++] = '-';
    if (n + 1 > size)
        return -1;
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return (int)n;
}

int money_format(int64_t amount, int exponent, char *buf, size_t size)
{
    if (exponent < 0 || exponent > MONEY_MAX_EXPONENT)
        return -1;
    /* Negate in unsigned arithmetic so INT64_MIN works too. */
    uint64_t magnitude = amount < 0 ? 0 - (uint64_t)amount : (uint64_t)amount;
    return format_fixed(magnitude, amount < 0, exponent, buf, size);
}

int decimal_parse(const char *s, size_t len, int max_scale, struct decimal *out)
{
    int64_t units = 0;
    int scale = 0;
    size_t i = 0;
    size_t int_digits = 0;

    if (max_scale > MONEY_MAX_EXPONENT)
        max_scale = MONEY_MAX_EXPONENT;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, int_digits++)
        if (__builtin_mul_overflow(units, 10, &units) ||
            __builtin_add_overflow(units, s[i] - '0', &units))
            return -1;
    if (int_digits == 0)
        return -1;
    if (i < len) {
        if (s[i] != '.' || ++i == len)
            return -1;
        for (; i < len; i++) {
            if (s[i] < '0' || s[i] > '9' || ++scale > max_scale)
                return -1;
            if (__builtin_mul_overflow(units, 10, &units) ||
                __builtin_add_overflow(units, s[i] - '0', &units))
                return -1;
        }
    }
    out->units = units;
    out->scale = scale;
    return 0;
}

int decimal_format(const struct decimal *d, char *buf, size_t size)
{
    if (d->units < 0 || d->scale < 0 || d->scale > MONEY_MAX_EXPONENT)
        return -1;
    return format_fixed((uint64_t)d->units, 0, d->scale, buf, size);
}

int decimal_rescale(const struct decimal *d, int scale, int64_t *out)
{
    if (d->units < 0 || d->scale < 0 || d->scale > MONEY_MAX_EXPONENT || scale < 0 ||
        scale > MONEY_MAX_EXPONENT)
        return -1;
    if (scale >= d->scale) {
        int64_t r;
        if (__builtin_mul_overflow(d->units, (int64_t)pow10_u64[scale - d->scale], &r))
            return -1;
        *out = r;
        return 0;
    }
    int64_t div = (int64_t)pow10_u64[d->scale - scale];
    if (d->units % div != 0)
        return -1;
    *out = d->units / div;
    return 0;
}

int money_convert(int64_t amount, int from_exp, const struct decimal *rate, int to_exp,
                  int64_t *out)
{
    if (from_exp < 0 || from_exp > MONEY_MAX_EXPONENT || to_exp < 0 ||
        to_exp > MONEY_MAX_EXPONENT || rate->units < 0 || rate->scale < 0 ||
        rate->scale > MONEY_MAX_EXPONENT)
        return -1;

    /*
     * value = |amount| * rate.units * 10^to_exp / 10^(rate.scale + from_exp).
     * The product of two int64 magnitudes fits in 126 bits; the net power of
     * ten is either a divisor of at most 10^36 (fits in u128) or a
     * multiplier, whose overflow means the result overflows anyway.
     */
    uint64_t magnitude = amount < 0 ? 0 - (uint64_t)amount : (uint64_t)amount;
    u128 num = (u128)magnitude * (u128)(uint64_t)rate->units;
    int net = rate->scale + from_exp - to_exp;
    u128 q;

    if (net <= 0) {
        if (__builtin_mul_overflow(num, (u128)pow10_u64[-net], &q))
            return -1;
    } else {
        u128 den = net > MONEY_MAX_EXPONENT
                       ? (u128)pow10_u64[MONEY_MAX_EXPONENT] * pow10_u64[net - MONEY_MAX_EXPONENT]
                       : (u128)pow10_u64[net];
        q = num / den;
        u128 r = num % den;
        /* Half to even: up when above half, or exactly half and q is odd. */
        if (2 * r > den || (2 * r == den && (q & 1)))
            q++;
    }

    if (amount < 0) {
        if (q > (u128)INT64_MAX + 1)
            return -1;
        *out = q == (u128)INT64_MAX + 1 ? INT64_MIN : -(int64_t)q;
    } else {
        if (q > (u128)INT64_MAX)
            return -1;
        *out = (int64_t)q;
    }
    return 0;
}

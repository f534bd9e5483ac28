/*
 * Unit tests for shared/money: currencies, checked arithmetic, decimals and
 * half-even conversion.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"
#include "unit.h"

static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static struct decimal dec(const char *s, int max_scale)
{
    struct decimal d = {-1, -1};
    ck_assert_msg(decimal_parse(s, strlen(s), max_scale, &d) == 0, "cannot parse '%s'", s);
    return d;
}

START_TEST(test_money_currency_exponents)
{
    ck_assert_int_eq(money_currency_find("EUR")->exponent, 2);
    ck_assert_int_eq(money_currency_find("USD")->exponent, 2);
    ck_assert_int_eq(money_currency_find("JPY")->exponent, 0);
    ck_assert_int_eq(money_currency_find("KRW")->exponent, 0);
    ck_assert_int_eq(money_currency_find("KWD")->exponent, 3);
    ck_assert_int_eq(money_currency_find("BHD")->exponent, 3);
    ck_assert_int_eq(money_currency_find("CLF")->exponent, 4);
    ck_assert_str_eq(money_currency_find("CHF")->code, "CHF");
    ck_assert_ptr_nonnull(money_currency_find("ZWG"));
    ck_assert_ptr_nonnull(money_currency_find("XCG"));
}
END_TEST

START_TEST(test_money_currency_rejects_unknown)
{
    ck_assert_ptr_null(money_currency_find("eur"));
    ck_assert_ptr_null(money_currency_find("EU"));
    ck_assert_ptr_null(money_currency_find("EURO"));
    ck_assert_ptr_null(money_currency_find(""));
    ck_assert_ptr_null(money_currency_find(NULL));
    ck_assert_ptr_null(money_currency_find("ABC"));
    ck_assert_ptr_null(money_currency_find("XXX")); /* no currency */
    ck_assert_ptr_null(money_currency_find("XAU")); /* gold: no minor unit */
    ck_assert_ptr_null(money_currency_find("HRK")); /* withdrawn 2023 */
}
END_TEST

START_TEST(test_money_currency_table_sorted)
{
    size_t n;
    const struct currency *c = money_currencies(&n);

    ck_assert_uint_gt(n, 150);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(strlen(c[i].code), 3);
        ck_assert_int_ge(c[i].exponent, 0);
        ck_assert_int_le(c[i].exponent, 4);
        ck_assert_ptr_eq(money_currency_find(c[i].code), &c[i]);
        if (i > 0)
            ck_assert_int_lt(strcmp(c[i - 1].code, c[i].code), 0);
    }
}
END_TEST

START_TEST(test_money_arithmetic_int64_edges)
{
    int64_t r = 12345;

    ck_assert_int_eq(money_add(INT64_MAX - 1, 1, &r), 0);
    ck_assert_int_eq(r, INT64_MAX);
    ck_assert_int_eq(money_add(INT64_MAX, 1, &r), -1);
    ck_assert_int_eq(r, INT64_MAX); /* untouched */
    ck_assert_int_eq(money_add(INT64_MIN, -1, &r), -1);
    ck_assert_int_eq(money_sub(INT64_MIN, 1, &r), -1);
    ck_assert_int_eq(money_sub(0, INT64_MIN, &r), -1);
    ck_assert_int_eq(money_sub(-1, INT64_MAX, &r), 0);
    ck_assert_int_eq(r, INT64_MIN);
    ck_assert_int_eq(money_mul(INT64_MIN, -1, &r), -1);
    ck_assert_int_eq(money_mul(INT64_MAX / 2 + 1, 2, &r), -1);
    ck_assert_int_eq(money_mul(-4611686018427387904LL, 2, &r), 0);
    ck_assert_int_eq(r, INT64_MIN);
    ck_assert_int_eq(money_mul(3037000499LL, 3037000499LL, &r), 0);
    ck_assert_int_eq(money_mul(3037000500LL, 3037000500LL, &r), -1);

    int64_t many[3] = {INT64_MAX, -1, 1};
    ck_assert_int_eq(money_sum(many, 3, &r), 0);
    ck_assert_int_eq(r, INT64_MAX);
    int64_t over[2] = {INT64_MAX, 1};
    ck_assert_int_eq(money_sum(over, 2, &r), -1);
    ck_assert_int_eq(money_sum(NULL, 0, &r), 0);
    ck_assert_int_eq(r, 0);
}
END_TEST

START_TEST(test_money_format_amounts)
{
    char buf[32];

    ck_assert_int_eq(money_format(9000, 2, buf, sizeof(buf)), 5);
    ck_assert_str_eq(buf, "90.00");
    money_format(-5, 2, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-0.05");
    money_format(9000, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "9000");
    money_format(1, 3, buf, sizeof(buf));
    ck_assert_str_eq(buf, "0.001");
    money_format(INT64_MIN, 2, buf, sizeof(buf));
    ck_assert_str_eq(buf, "-92233720368547758.08");
    ck_assert_int_eq(money_format(12345, 2, buf, 6), -1);
    ck_assert_int_eq(money_format(12345, 2, buf, 7), 6);
    ck_assert_int_eq(money_format(1, -1, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(test_money_decimal_parse)
{
    struct decimal d = dec("1.0825", 6);
    ck_assert_int_eq(d.units, 10825);
    ck_assert_int_eq(d.scale, 4);
    d = dec("12", 2);
    ck_assert_int_eq(d.units, 12);
    ck_assert_int_eq(d.scale, 0);
    d = dec("0.5", 2);
    ck_assert_int_eq(d.units, 5);
    ck_assert_int_eq(d.scale, 1);
    d = dec("1.50", 2);
    ck_assert_int_eq(d.units, 150);
    ck_assert_int_eq(d.scale, 2);
    d = dec("9223372036854775807", 0);
    ck_assert_int_eq(d.units, INT64_MAX);
    d = dec("9.223372036854775807", 18);
    ck_assert_int_eq(d.units, INT64_MAX);
    ck_assert_int_eq(d.scale, 18);

    static const char *const bad[] = {
        "",
        ".5",
        "1.",
        "-1",
        "+1",
        "1e3",
        " 1",
        "1 ",
        "1.2.3",
        "0x10",
        "1,5",
        "12a",
        "9223372036854775808",
        "1.234",
        "NaN",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct decimal u = {7, 7};
        ck_assert_msg(decimal_parse(bad[i], strlen(bad[i]), 2, &u) == -1, "accepted '%s'", bad[i]);
        ck_assert_int_eq(u.units, 7);
    }
    /* The length bounds the parse: no NUL needed. */
    ck_assert_int_eq(decimal_parse("12.345", 4, 2, &d), 0);
    ck_assert_int_eq(d.units, 123);
    ck_assert_int_eq(decimal_parse("33.33", 5, 1, &d), -1);
}
END_TEST

START_TEST(test_money_decimal_format_roundtrip)
{
    char buf[32];
    static const char *const ok[] = {"0",
                                     "0.5",
                                     "1.0825",
                                     "33.33",
                                     "100.00",
                                     "0.000001",
                                     "9223372036854775807",
                                     "9.223372036854775807"};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct decimal d = dec(ok[i], 18);
        ck_assert_int_eq(decimal_format(&d, buf, sizeof(buf)), (int)strlen(ok[i]));
        ck_assert_str_eq(buf, ok[i]);
    }
    struct decimal d = dec("1.0825", 4);
    ck_assert_int_eq(decimal_format(&d, buf, 6), -1);
    ck_assert_int_eq(decimal_format(&d, buf, 7), 6);
    struct decimal neg = {-1, 0};
    ck_assert_int_eq(decimal_format(&neg, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(test_money_decimal_rescale)
{
    int64_t v = 0;
    struct decimal d = dec("33.3", 2);

    ck_assert_int_eq(decimal_rescale(&d, 2, &v), 0);
    ck_assert_int_eq(v, 3330);
    d = dec("12.30", 2);
    ck_assert_int_eq(decimal_rescale(&d, 1, &v), 0);
    ck_assert_int_eq(v, 123);
    d = dec("12.34", 2);
    ck_assert_int_eq(decimal_rescale(&d, 1, &v), -1);
    d = dec("9223372036854775807", 0);
    ck_assert_int_eq(decimal_rescale(&d, 1, &v), -1);
}
END_TEST

START_TEST(test_money_convert_half_even)
{
    int64_t r = 0;
    struct decimal half = dec("0.5", 4);

    /* 12.5 -> 12, 13.5 -> 14, 17.5 -> 18: ties go to the even neighbour. */
    ck_assert_int_eq(money_convert(25, 2, &half, 2, &r), 0);
    ck_assert_int_eq(r, 12);
    ck_assert_int_eq(money_convert(27, 2, &half, 2, &r), 0);
    ck_assert_int_eq(r, 14);
    ck_assert_int_eq(money_convert(35, 2, &half, 2, &r), 0);
    ck_assert_int_eq(r, 18);
    ck_assert_int_eq(money_convert(-25, 2, &half, 2, &r), 0);
    ck_assert_int_eq(r, -12);
    ck_assert_int_eq(money_convert(-27, 2, &half, 2, &r), 0);
    ck_assert_int_eq(r, -14);
    /* Not ties: plain rounding. */
    struct decimal third = dec("0.3333", 4);
    ck_assert_int_eq(money_convert(100, 2, &third, 2, &r), 0);
    ck_assert_int_eq(r, 33);
    struct decimal r0_6 = dec("0.6", 1);
    ck_assert_int_eq(money_convert(1, 2, &r0_6, 2, &r), 0);
    ck_assert_int_eq(r, 1);
}
END_TEST

START_TEST(test_money_convert_exponents)
{
    int64_t r = 0;
    struct decimal one = dec("1", 0);

    /* 1000 JPY at 0.0061 EUR per yen: 6.10 EUR. */
    struct decimal jpy_eur = dec("0.0061", 6);
    ck_assert_int_eq(money_convert(1000, 0, &jpy_eur, 2, &r), 0);
    ck_assert_int_eq(r, 610);
    /* 12.34 EUR at 163.5 JPY per euro: 2017.59 -> 2018 JPY. */
    struct decimal eur_jpy = dec("163.5", 6);
    ck_assert_int_eq(money_convert(1234, 2, &eur_jpy, 0, &r), 0);
    ck_assert_int_eq(r, 2018);
    /* 1.000 KWD at 3.25 USD: 325 cents; 1.00 EUR at 0.33 KWD: 330 fils. */
    struct decimal kwd_usd = dec("3.25", 6);
    ck_assert_int_eq(money_convert(1000, 3, &kwd_usd, 2, &r), 0);
    ck_assert_int_eq(r, 325);
    struct decimal eur_kwd = dec("0.33", 6);
    ck_assert_int_eq(money_convert(100, 2, &eur_kwd, 3, &r), 0);
    ck_assert_int_eq(r, 330);
    /* 1.235 KWD to a 2-exponent currency at rate 1: 123.5 -> 124; 1.225 -> 122. */
    ck_assert_int_eq(money_convert(1235, 3, &one, 2, &r), 0);
    ck_assert_int_eq(r, 124);
    ck_assert_int_eq(money_convert(1225, 3, &one, 2, &r), 0);
    ck_assert_int_eq(r, 122);
    /* Same currency: identity. */
    ck_assert_int_eq(money_convert(9000, 2, &one, 2, &r), 0);
    ck_assert_int_eq(r, 9000);
}
END_TEST

START_TEST(test_money_convert_int64_edges)
{
    int64_t r = 77;
    struct decimal one = dec("1.000000", 6), two = dec("2", 0);
    struct decimal tiny = dec("0.000000000000000001", 18);

    ck_assert_int_eq(money_convert(INT64_MAX, 2, &one, 2, &r), 0);
    ck_assert_int_eq(r, INT64_MAX);
    ck_assert_int_eq(money_convert(INT64_MIN, 2, &one, 2, &r), 0);
    ck_assert_int_eq(r, INT64_MIN);
    r = 77;
    ck_assert_int_eq(money_convert(INT64_MAX, 2, &two, 2, &r), -1);
    ck_assert_int_eq(money_convert(INT64_MAX, 0, &one, 3, &r), -1);
    ck_assert_int_eq(r, 77);
    /* Huge intermediate product, small result: exact through 128 bits. */
    struct decimal big = dec("9.223372036854775807", 18);
    ck_assert_int_eq(money_convert(INT64_MAX, 3, &big, 0, &r), 0);
    ck_assert_int_eq(r, 85070591730234616LL);
    ck_assert_int_eq(money_convert(INT64_MAX, 3, &big, 3, &r), -1);
    ck_assert_int_eq(money_convert(1000000000000LL, 0, &big, 0, &r), 0);
    ck_assert_int_eq(r, 9223372036855LL);
    ck_assert_int_eq(money_convert(INT64_MAX, 4, &tiny, 0, &r), 0);
    ck_assert_int_eq(r, 0);
    struct decimal bad = {1, 19};
    ck_assert_int_eq(money_convert(1, 2, &bad, 2, &r), -1);
    ck_assert_int_eq(money_convert(1, -1, &one, 2, &r), -1);
}
END_TEST

/*
 * Property: the result r is the nearest integer to the exact value
 * N / D = amount * units * 10^to / 10^(scale + from), ties to even:
 * |N - r D| <= D / 2, and when 2|N - r D| == D, r is even.
 */
START_TEST(test_money_convert_property_nearest_even)
{
    __extension__ typedef __int128 i128;
    rng_state = 4217;
    for (int i = 0; i < 100000; i++) {
        int64_t amount = rng_range(-10000000, 10000000);
        int from = (int)rng_range(0, 4), to = (int)rng_range(0, 4);
        struct decimal rate = {rng_range(0, 1000000), (int)rng_range(0, 8)};
        int64_t r;

        /* Plain checks: a passing ck_assert costs a write, too slow here. */
        if (money_convert(amount, from, &rate, to, &r) != 0)
            ck_abort_msg("iteration %d: money_convert failed", i);
        i128 num = (i128)amount * rate.units, den = 1;
        for (int k = 0; k < to; k++)
            num *= 10;
        for (int k = 0; k < rate.scale + from; k++)
            den *= 10;
        i128 diff = num - (i128)r * den;
        if (diff < 0)
            diff = -diff;
        if (2 * diff > den || (2 * diff == den && r % 2 != 0))
            ck_abort_msg("iteration %d: %lld is not the nearest even", i, (long long)r);
    }
}
END_TEST

static Suite *money_suite(void)
{
    Suite *s = suite_create("money");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_money_currency_exponents);
    tcase_add_test(tc, test_money_currency_rejects_unknown);
    tcase_add_test(tc, test_money_currency_table_sorted);
    tcase_add_test(tc, test_money_arithmetic_int64_edges);
    tcase_add_test(tc, test_money_format_amounts);
    tcase_add_test(tc, test_money_decimal_parse);
    tcase_add_test(tc, test_money_decimal_format_roundtrip);
    tcase_add_test(tc, test_money_decimal_rescale);
    tcase_add_test(tc, test_money_convert_half_even);
    tcase_add_test(tc, test_money_convert_exponents);
    tcase_add_test(tc, test_money_convert_int64_edges);
    tcase_add_test(tc, test_money_convert_property_nearest_even);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(money_suite)

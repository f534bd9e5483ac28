/*
 * Unit tests for shared/etag: which If-Match values hold a write to a
 * version, which mean any version, and which can never match (412).
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "etag.h"
#include "unit.h"

static enum etag_match classify(const char *v, int64_t *version)
{
    return etag_if_match(v, strlen(v), version);
}

START_TEST(test_etag_versions)
{
    int64_t v = 0;
    ck_assert_int_eq(classify("\"3\"", &v), ETAG_MATCH_VERSION);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(classify(" \"42\"\t", &v), ETAG_MATCH_VERSION);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(classify("\"9223372036854775807\"", &v), ETAG_MATCH_VERSION);
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_int_eq(classify("*", &v), ETAG_MATCH_ANY);
    ck_assert_int_eq(classify(" * ", &v), ETAG_MATCH_ANY);
}
END_TEST

START_TEST(test_etag_never_matches)
{
    static const char *const never[] = {
        "\" 3\"", /* space inside the tag: strtoll took it */
        "\"+3\"", /* sign: strtoll took it */
        "\"-3\"",
        "\"3 \"",
        "\"03\"",                  /* a different tag from "3" */
        "\"0\"",                   /* versions start at 1 */
        "\"9223372036854775808\"", /* beyond int64: answered 409 before */
        "\"99999999999999999999999\"",
        "W/\"3\"", /* weak: strong comparison never matches it */
        "\"1\", \"2\"",
        "3",
        "\"3",
        "\"\"",
        "\"",
        "",
        "**",
        "\"3\"x",
        "\"0x3\"",
    };
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        int64_t v = -7;
        ck_assert_msg(classify(never[i], &v) == ETAG_MATCH_NEVER, "'%s' accepted", never[i]);
        ck_assert_int_eq(v, -7);
    }
    int64_t v = 0;
    ck_assert_int_eq(etag_if_match("\"3\"\0", 4, &v), ETAG_MATCH_NEVER);
}
END_TEST

static Suite *etag_suite(void)
{
    Suite *s = suite_create("etag");
    TCase *tc = tcase_create("if_match");

    tcase_add_test(tc, test_etag_versions);
    tcase_add_test(tc, test_etag_never_matches);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(etag_suite)

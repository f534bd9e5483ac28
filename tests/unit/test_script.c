/*
 * Unit tests for shared/script: the digest a script is called by (the SHA-1
 * Redis gives a loaded script) and the error that asks for the script again.
 */
#include <check.h>
#include <string.h>

#include "script.h"
#include "unit.h"

START_TEST(test_script_sha1_vectors)
{
    char out[41];
    script_sha1_hex("", 0, out);
    ck_assert_str_eq(out, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    script_sha1_hex("abc", 3, out);
    ck_assert_str_eq(out, "a9993e364706816aba3e25717850c26c9cd0d89d");
    /* What redis-cli SCRIPT LOAD "return 1" answers. */
    script_sha1_hex("return 1", 8, out);
    ck_assert_str_eq(out, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}
END_TEST

START_TEST(test_script_sha_kept)
{
    static struct script s = SCRIPT_INIT("return 1");
    ck_assert_str_eq(s.sha, "");
    const char *a = script_sha(&s);
    ck_assert_str_eq(a, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    ck_assert_ptr_eq(script_sha(&s), a);
}
END_TEST

START_TEST(test_script_missing)
{
    static const char noscript[] = "NOSCRIPT No matching script. Please use EVAL.";
    ck_assert_int_eq(script_missing(noscript, strlen(noscript)), 1);
    ck_assert_int_eq(script_missing("NOSCRIPT", 8), 1);
    ck_assert_int_eq(script_missing("NOSCRIP", 7), 0);
    ck_assert_int_eq(script_missing("ERR unknown command", 19), 0);
    ck_assert_int_eq(script_missing("OOM command not allowed", 23), 0);
    ck_assert_int_eq(script_missing(NULL, 0), 0);
}
END_TEST

static Suite *script_suite(void)
{
    Suite *s = suite_create("script");
    TCase *tc = tcase_create("script");

    tcase_add_test(tc, test_script_sha1_vectors);
    tcase_add_test(tc, test_script_sha_kept);
    tcase_add_test(tc, test_script_missing);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(script_suite)

/*
 * Unit tests for shared/nfc: the spellings of one text become the same bytes
 * (results checked against the Unicode normalisation of the generator's data),
 * and what could make two strings look alike, or that the tables cannot
 * normalise, is refused.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nfc.h"
#include "unit.h"

static void assert_nfc(const char *in, const char *want)
{
    char out[256];
    ck_assert_int_eq(nfc_normalise(in, strlen(in), out, sizeof(out)), NFC_OK);
    ck_assert_str_eq(out, want);
}

static void assert_refused(const char *in, enum nfc_status want)
{
    char out[256];
    ck_assert_msg(nfc_normalise(in, strlen(in), out, sizeof(out)) == want, "'%s' not refused", in);
}

START_TEST(test_nfc_composes)
{
    assert_nfc("plain@example.test", "plain@example.test");
    assert_nfc("", "");
    assert_nfc("jose\xcc\x81@example.test", "jos\xc3\xa9@example.test"); /* e U+0301 */
    assert_nfc("jos\xc3\xa9@example.test", "jos\xc3\xa9@example.test");  /* already */
    assert_nfc("A\xcc\x8a", "\xc3\x85");                                 /* A U+030A */
    assert_nfc("\xe1\xbb\x87", "\xe1\xbb\x87");                          /* U+1EC7 */
    assert_nfc("e\xcc\xa3\xcc\x82", "\xe1\xbb\x87");                     /* e below, circumflex */
    assert_nfc("e\xcc\x82\xcc\xa3", "\xe1\xbb\x87");                     /* marks reordered */
    assert_nfc("\xc3\xaa\xcc\xa3", "\xe1\xbb\x87");                      /* composed first */
    assert_nfc("\xce\xb1\xcc\x93\xcc\x81\xcd\x85", "\xe1\xbe\x84");      /* Greek, 3 marks */
    assert_nfc("\xd0\xb5\xcc\x88", "\xd1\x91");                          /* Cyrillic yo */
    assert_nfc("\xcd\x84", "\xcc\x88\xcc\x81");                          /* U+0344 decomposes */
    assert_nfc("a\xcc\x81\xcc\x81", "\xc3\xa1\xcc\x81");                 /* blocked second */
    assert_nfc("\xcc\x81"
               "a",
               "\xcc\x81"
               "a");                                                    /* leading mark */
    assert_nfc("=\xcc\xb8", "\xe2\x89\xa0");                            /* U+2260 */
    assert_nfc("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"); /* inert CJK */
    assert_nfc("\xf0\x9f\x92\xb8", "\xf0\x9f\x92\xb8");                 /* inert emoji */
}
END_TEST

START_TEST(test_nfc_refuses)
{
    assert_refused("a\x01"
                   "b",
                   NFC_INVISIBLE); /* C0 */
    assert_refused("a\x7f"
                   "b",
                   NFC_INVISIBLE); /* DEL */
    assert_refused("a\xc2\x85"
                   "b@example.test",
                   NFC_INVISIBLE); /* C1 NEL */
    assert_refused("a\xc2\x9f"
                   "b",
                   NFC_INVISIBLE); /* C1 APC */
    assert_refused("a\xc2\xad"
                   "b",
                   NFC_INVISIBLE); /* soft hyphen */
    assert_refused("a\xe2\x80\x8b"
                   "b",
                   NFC_INVISIBLE); /* zero-width space */
    assert_refused("a\xe2\x80\xae"
                   "b",
                   NFC_INVISIBLE); /* right-to-left override */
    assert_refused("a\xc2\xa0"
                   "b",
                   NFC_INVISIBLE); /* no-break space */
    assert_refused("a b", NFC_INVISIBLE);
    assert_refused("\xef\xbb\xbf"
                   "a",
                   NFC_INVISIBLE);                       /* BOM */
    assert_refused("\xe2\x84\xab", NFC_UNSUPPORTED);     /* ANGSTROM SIGN */
    assert_refused("\xea\xb0\x80", NFC_UNSUPPORTED);     /* Hangul syllable */
    assert_refused("\xd7\x90\xd6\xb7", NFC_UNSUPPORTED); /* Hebrew point */
    assert_refused("\xc3\x28", NFC_INVALID_UTF8);
    assert_refused("\xed\xa0\x80", NFC_INVALID_UTF8); /* encoded surrogate */
    assert_refused("\xc0\xaf", NFC_INVALID_UTF8);     /* overlong */
}
END_TEST

START_TEST(test_nfc_bounds)
{
    char out[8], big[NFC_MAX_CODE_POINTS + 2];
    ck_assert_int_eq(nfc_normalise("abcdefg", 7, out, sizeof(out)), NFC_OK);
    ck_assert_int_eq(nfc_normalise("abcdefgh", 8, out, sizeof(out)), NFC_TOO_LONG);
    ck_assert_int_eq(nfc_normalise("a", 1, out, 0), NFC_TOO_LONG);
    memset(big, 'a', sizeof(big));
    char *wide = malloc(2048);
    ck_assert_int_eq(nfc_normalise(big, NFC_MAX_CODE_POINTS, wide, 2048), NFC_OK);
    ck_assert_int_eq(nfc_normalise(big, NFC_MAX_CODE_POINTS + 1, wide, 2048), NFC_TOO_LONG);
    free(wide);
}
END_TEST

static Suite *nfc_suite(void)
{
    Suite *s = suite_create("nfc");
    TCase *tc = tcase_create("normalise");

    tcase_add_test(tc, test_nfc_composes);
    tcase_add_test(tc, test_nfc_refuses);
    tcase_add_test(tc, test_nfc_bounds);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(nfc_suite)

/*
 * Unit tests for shared/cursor: cursors round-trip, and anything a client
 * could make up instead is refused.
 */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cursor.h"
#include "unit.h"

#define ID "0b5e8d0e-5f6a-4c1e-9d3b-2a7f1c9e4d10"

/* base64url (no padding) of raw, the way a client would forge a cursor. */
static void forge(const char *raw, char *out, size_t size)
{
    sodium_bin2base64(out, size, (const unsigned char *)raw, strlen(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

START_TEST(test_cursor_round_trip)
{
    static const char *const keys[] = {"2026-11-20T19:07:33.123456Z", "42", "2026-11-20", "0"};
    char c[128], key[CURSOR_KEY_MAX + 1], id[UUID_STR_SIZE];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cursor_encode(keys[i], ID, c, sizeof(c));
        ck_assert_int_eq(cursor_decode(c, key, id), 0);
        ck_assert_str_eq(key, keys[i]);
        ck_assert_str_eq(id, ID);
    }
    /* The encoding itself is fixed: cursors already handed out stay valid. */
    cursor_encode("42", ID, c, sizeof(c));
    ck_assert_str_eq(c, "NDJ8MGI1ZThkMGUtNWY2YS00YzFlLTlkM2ItMmE3ZjFjOWU0ZDEw");
}
END_TEST

START_TEST(test_cursor_refuses_forgeries)
{
    static const char *const raws[] = {
        "42",                                            /* no id */
        "|" ID,                                          /* empty key */
        "42|" ID "x",                                    /* id too long */
        "42|0B5E8D0E-5F6A-4C1E-9D3B-2A7F1C9E4D10",       /* uppercase id */
        "42;drop|" ID,                                   /* key outside its alphabet */
        "12345678901234567890123456789012345678901|" ID, /* key of 41 bytes */
    };
    char c[256], key[CURSOR_KEY_MAX + 1], id[UUID_STR_SIZE];
    for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        forge(raws[i], c, sizeof(c));
        ck_assert_msg(cursor_decode(c, key, id) == -1, "accepted '%s'", raws[i]);
    }
    forge("1234567890123456789012345678901234567890|" ID, c, sizeof(c));
    ck_assert_int_eq(cursor_decode(c, key, id), 0);
    ck_assert_int_eq(cursor_decode("", key, id), -1);
    ck_assert_int_eq(cursor_decode("not base64!", key, id), -1);
    cursor_encode("42", ID, c, sizeof(c));
    strcat(c, "=");
    ck_assert_int_eq(cursor_decode(c, key, id), -1); /* padding is not ours */
}
END_TEST

static Suite *cursor_suite(void)
{
    Suite *s = suite_create("cursor");
    TCase *tc = tcase_create("decode");

    tcase_add_test(tc, test_cursor_round_trip);
    tcase_add_test(tc, test_cursor_refuses_forgeries);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(cursor_suite)

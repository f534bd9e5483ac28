/*
 * Unit tests for shared/keys (the Redis key names every program formats
 * and parses) and shared/reply (reading hiredis replies).
 */
#include <check.h>
#include <string.h>

#include "keys.h"
#include "reply.h"
#include "unit.h"

START_TEST(test_keys_formats)
{
    char buf[160];
    ck_assert_str_eq(keys_fmt(buf, sizeof buf, "view", "g1"), "splitter:view:g1");
    ck_assert_str_eq(keys_stream(buf, sizeof buf, 7), "splitter:stream:7");
    ck_assert_str_eq(keys_lease(buf, sizeof buf, 12), "splitter:lease:12");
    ck_assert_str_eq(keys_lease_token(buf, sizeof buf, 255), "splitter:lease_token:255");
    ck_assert_str_eq(keys_idem(buf, sizeof buf, "u", "ab"), "splitter:idem:u:ab");
    ck_assert_str_eq(KEYS_REPLICATION_FENCE, "splitter:replication:fence");
    ck_assert_str_eq(KEYS_VIEW_PATTERN, "splitter:view:*");
    /* Bounded: a short buffer is cut, never overrun. */
    char small[10];
    memset(small, 'x', sizeof small);
    keys_lease_token(small, 8, 3);
    ck_assert_str_eq(small, "splitte");
    ck_assert_int_eq(small[8], 'x');
}
END_TEST

START_TEST(test_keys_stream_partition_round_trip)
{
    char buf[64];
    unsigned p = 99;
    for (unsigned i = 0; i < 256; i += 17) {
        ck_assert_int_eq(keys_stream_partition(keys_stream(buf, sizeof buf, i), &p), 0);
        ck_assert_uint_eq(p, i);
    }
    p = 99;
    ck_assert_int_eq(keys_stream_partition("splitter:dead", &p), -1);
    ck_assert_int_eq(keys_stream_partition("splitter:stream:", &p), -1);
    ck_assert_int_eq(keys_stream_partition("other:stream:3", &p), -1);
    ck_assert_uint_eq(p, 99);
}
END_TEST

START_TEST(test_keys_partition_in_range)
{
    char gid[40];
    rng_state = 11;
    for (int i = 0; i < 1000; i++) {
        snprintf(gid, sizeof gid, "%016llx", (unsigned long long)rng_next());
        unsigned p = keys_partition(gid, 16);
        ck_assert_uint_lt(p, 16);
        ck_assert_uint_eq(keys_partition(gid, 16), p); /* stable */
        ck_assert_uint_eq(keys_partition(gid, 1), 0);
    }
}
END_TEST

static redisReply str_reply(const char *s)
{
    redisReply r = {.type = REDIS_REPLY_STRING, .str = (char *)(uintptr_t)s, .len = strlen(s)};
    return r;
}

START_TEST(test_reply_readers)
{
    redisReply k1 = str_reply("status"), v1 = str_reply("queued");
    redisReply k2 = str_reply("n"), v2 = str_reply("42");
    redisReply *el[4] = {&k1, &v1, &k2, &v2};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 4, .element = el};
    redisReply num = {.type = REDIS_REPLY_INTEGER, .integer = -5};
    redisReply nil = {.type = REDIS_REPLY_NIL};

    ck_assert_ptr_eq(reply_kv_get(&arr, "status"), &v1);
    ck_assert_ptr_eq(reply_kv_get(&arr, "n"), &v2);
    ck_assert_ptr_null(reply_kv_get(&arr, "queued")); /* values are not keys */
    ck_assert_ptr_null(reply_kv_get(&arr, "missing"));
    ck_assert_ptr_null(reply_kv_get(&num, "n"));
    ck_assert_ptr_null(reply_kv_get(NULL, "n"));
    /* An odd trailing key has no value. */
    arr.elements = 3;
    ck_assert_ptr_null(reply_kv_get(&arr, "n"));

    ck_assert_int_eq(reply_int_of(&num, 7), -5);
    ck_assert_int_eq(reply_int_of(&v2, 7), 42);
    ck_assert_int_eq(reply_int_of(&nil, 7), 7);
    ck_assert_int_eq(reply_int_of(NULL, 7), 7);
}
END_TEST

static Suite *keys_suite(void)
{
    Suite *s = suite_create("keys");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, test_keys_formats);
    tcase_add_test(tc, test_keys_stream_partition_round_trip);
    tcase_add_test(tc, test_keys_partition_in_range);
    suite_add_tcase(s, tc);
    tc = tcase_create("reply");
    tcase_add_test(tc, test_reply_readers);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(keys_suite)

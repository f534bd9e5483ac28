/*
 * Unit tests for shared/json's compact serialiser: byte for byte the text
 * jansson's json_dumps() writes with the same flags, for chosen edge cases
 * and for random trees; and for where the strict reader says it stopped.
 */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "unit.h"

#define FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))

static void assert_same(const json_t *v)
{
    char *want = json_dumps(v, FLAGS);
    char *got = json_dump_compact(v);
    ck_assert_ptr_nonnull(want);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}

START_TEST(test_json_dump_scalars)
{
    static const json_int_t ints[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN};
    static const double reals[] = {0.5,  -0.5, 33.33,     0.01, 12.5,  1e6 + 0.25,  0.1 + 0.2,
                                   1e20, 1e-7, -2.5e-300, 1.0,  100.0, 123456789.0, 3.14159};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        json_t *v = json_integer(ints[i]);
        assert_same(v);
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        json_t *v = json_real(reals[i]);
        assert_same(v);
        json_decref(v);
    }
    json_t *t = json_true(), *f = json_false(), *n = json_null();
    assert_same(t);
    assert_same(f);
    assert_same(n);
}
END_TEST

START_TEST(test_json_dump_strings)
{
    char all[0x80];
    static const char *const cases[] = {
        "",
        "plain",
        "quote \" and backslash \\ and slash /",
        "tab\tnewline\ncr\rbackspace\bformfeed\f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb8",
        "=HYPERLINK(\"x\")",
        "\x7f del stays",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_string(cases[i]);
        assert_same(v);
        json_decref(v);
    }
    /* Every ASCII byte, control characters included. */
    for (int c = 1; c < 0x80; c++)
        all[c - 1] = (char)c;
    all[0x7f] = '\0';
    json_t *v = json_string(all);
    assert_same(v);
    json_decref(v);
    /* An embedded NUL. */
    v = json_stringn("a\0b", 3);
    assert_same(v);
    json_decref(v);
}
END_TEST

START_TEST(test_json_dump_containers)
{
    json_t *v = json_pack("{s:{}, s:[], s:[{}, [], [[]]], s:{s:{s:{s:i}}}, s:o}", "empty", "list",
                          "nested", "deep", "a", "b", "c", 1, "null", json_null());
    assert_same(v);
    json_decref(v);
    /* Keys keep insertion order, escapes apply to keys too. */
    v = json_object();
    json_object_set_new(v, "z", json_integer(1));
    json_object_set_new(v, "a\"\n", json_integer(2));
    json_object_set_new(v, "m", json_real(33.33));
    assert_same(v);
    json_decref(v);
}
END_TEST

static json_t *random_value(int depth)
{
    int kind = (int)(rng_next() % (depth > 4 ? 6 : 8));
    switch (kind) {
    case 0:
        return json_integer((json_int_t)rng_next());
    case 1:
        return json_real((double)(int64_t)(rng_next() % 200000001) / 100.0 - 1000000.0);
    case 2: {
        char s[24];
        size_t n = rng_next() % sizeof(s);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(1 + rng_next() % 127);
        return json_stringn(s, n);
    }
    case 3:
        return json_true();
    case 4:
        return json_false();
    case 5:
        return json_null();
    case 6: {
        json_t *a = json_array();
        for (size_t i = rng_next() % 5; i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (size_t i = rng_next() % 5; i > 0; i--) {
            char key[8];
            snprintf(key, sizeof(key), "k%u", (unsigned)(rng_next() % 1000));
            json_object_set_new(o, key, random_value(depth + 1));
        }
        return o;
    }
    }
}

START_TEST(test_json_dump_random_trees)
{
    rng_state = 42;
    for (int i = 0; i < 2000; i++) {
        json_t *v = random_value(0);
        assert_same(v);
        json_decref(v);
    }
}
END_TEST

/* The path of the key or element where reading failed, and the status. */
START_TEST(test_json_doc_error_paths)
{
    char long_key[300], text[800];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    static const struct {
        const char *text;
        enum json_doc_status status;
        const char *field;
    } cases[] = {
        {"{\"a\":{\"b\":[1,2,{\"c\":1,\"c\":2}]}}", JSON_DOC_DUPLICATE, "a.b[2].c"},
        {"{\"x\":[0,1,2,3,4,5,6,7,8,9,10,11,tru]}", JSON_DOC_SYNTAX, "x[12]"},
        {"[[1],[2,{\"y\":-}]]", JSON_DOC_SYNTAX, "[1][1].y"},
        {"{\"ok\":1,\"bad\":\"\\q\"}", JSON_DOC_SYNTAX, "bad"},
        {"[1,2", JSON_DOC_SYNTAX, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_doc doc;
        struct json_doc_error err;
        ck_assert_int_eq(json_doc_parse(&doc, cases[i].text, strlen(cases[i].text), 16, &err), -1);
        ck_assert_int_eq(err.status, cases[i].status);
        ck_assert_msg(strcmp(err.field, cases[i].field) == 0, "case %zu: field '%s', not '%s'", i,
                      err.field, cases[i].field);
        ck_assert_ptr_null(doc.root);
    }
    /* A path longer than the field keeps its first 127 bytes. */
    snprintf(text, sizeof(text), "{\"%s\":{\"d\":1,\"d\":1}}", long_key);
    struct json_doc doc;
    struct json_doc_error err;
    ck_assert_int_eq(json_doc_parse(&doc, text, strlen(text), 16, &err), -1);
    ck_assert_int_eq(err.status, JSON_DOC_DUPLICATE);
    ck_assert_uint_eq(strlen(err.field), sizeof(err.field) - 1);
    ck_assert(strspn(err.field, "k") == sizeof(err.field) - 1);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("dump");

    tcase_add_test(tc, test_json_dump_scalars);
    tcase_add_test(tc, test_json_dump_strings);
    tcase_add_test(tc, test_json_dump_containers);
    tcase_add_test(tc, test_json_dump_random_trees);
    tcase_add_test(tc, test_json_doc_error_paths);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(json_suite)

/*
 * Unit tests for shared/config: secrets read from NAME_FILE (Docker secrets),
 * and the partition count.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static const char *const names[] = {"SPLITTER_TEST_SECRET", NULL};
static char path[64];

/* A temporary file holding len bytes of content; its name in path. */
static void secret_file(const char *content, size_t len)
{
    int fd;
    snprintf(path, sizeof path, "/tmp/splitter-secret-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, content, len), (int)len);
    close(fd);
    unsetenv("SPLITTER_TEST_SECRET");
    setenv("SPLITTER_TEST_SECRET_FILE", path, 1);
}

static void teardown(void)
{
    unlink(path);
    unsetenv("SPLITTER_TEST_SECRET");
    unsetenv("SPLITTER_TEST_SECRET_FILE");
}

START_TEST(test_config_secret_from_file_drops_one_newline)
{
    secret_file("s3cret \"x\"\n", 11);
    ck_assert_int_eq(config_secret_files(names), 0);
    ck_assert_str_eq(config_str("SPLITTER_TEST_SECRET", ""), "s3cret \"x\"");
    teardown();
    secret_file("crlf\r\n", 6);
    ck_assert_int_eq(config_secret_files(names), 0);
    ck_assert_str_eq(config_str("SPLITTER_TEST_SECRET", ""), "crlf");
    teardown();
    secret_file("two\n\n", 5);
    ck_assert_int_eq(config_secret_files(names), 0);
    ck_assert_str_eq(config_str("SPLITTER_TEST_SECRET", ""), "two\n");
    teardown();
}
END_TEST

START_TEST(test_config_secret_env_alone_is_kept)
{
    unsetenv("SPLITTER_TEST_SECRET_FILE");
    setenv("SPLITTER_TEST_SECRET", "from-env", 1);
    ck_assert_int_eq(config_secret_files(names), 0);
    ck_assert_str_eq(config_str("SPLITTER_TEST_SECRET", ""), "from-env");
    teardown();
}
END_TEST

START_TEST(test_config_secret_rejects_bad_files)
{
    static char big[CONFIG_SECRET_MAX + 2];

    secret_file("", 0);
    ck_assert_int_eq(config_secret_files(names), -1);
    ck_assert_ptr_null(getenv("SPLITTER_TEST_SECRET"));
    teardown();
    secret_file("a\0b", 3);
    ck_assert_int_eq(config_secret_files(names), -1);
    teardown();
    memset(big, 'k', sizeof big);
    secret_file(big, CONFIG_SECRET_MAX + 1);
    ck_assert_int_eq(config_secret_files(names), -1);
    teardown();
    secret_file(big, CONFIG_SECRET_MAX);
    ck_assert_int_eq(config_secret_files(names), 0);
    ck_assert_uint_eq(strlen(getenv("SPLITTER_TEST_SECRET")), CONFIG_SECRET_MAX);
    teardown();
    setenv("SPLITTER_TEST_SECRET_FILE", "/nonexistent/secret", 1);
    ck_assert_int_eq(config_secret_files(names), -1);
    teardown();
    /* Both set: ambiguous, refused. */
    secret_file("file", 4);
    setenv("SPLITTER_TEST_SECRET", "env", 1);
    ck_assert_int_eq(config_secret_files(names), -1);
    ck_assert_str_eq(getenv("SPLITTER_TEST_SECRET"), "env");
    teardown();
}
END_TEST

/* SPLITTER_PARTITIONS, read by config_partitions for the api, the worker and
   splitterctl alike. */
START_TEST(test_config_partitions_default_and_bounds)
{
    unsigned p = 0;
    unsetenv("SPLITTER_PARTITIONS");
    ck_assert_int_eq(config_partitions(&p), 0);
    ck_assert_uint_eq(p, CONFIG_PARTITIONS_DEFAULT);
    setenv("SPLITTER_PARTITIONS", "1", 1);
    ck_assert_int_eq(config_partitions(&p), 0);
    ck_assert_uint_eq(p, 1);
    setenv("SPLITTER_PARTITIONS", "256", 1);
    ck_assert_int_eq(config_partitions(&p), 0);
    ck_assert_uint_eq(p, CONFIG_PARTITIONS_MAX);
    p = 7;
    setenv("SPLITTER_PARTITIONS", "0", 1);
    ck_assert_int_eq(config_partitions(&p), -1);
    setenv("SPLITTER_PARTITIONS", "257", 1);
    ck_assert_int_eq(config_partitions(&p), -1);
    setenv("SPLITTER_PARTITIONS", "16x", 1);
    ck_assert_int_eq(config_partitions(&p), -1);
    ck_assert_uint_eq(p, 7); /* untouched on a refusal */
    unsetenv("SPLITTER_PARTITIONS");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("secrets");
    tcase_add_test(tc, test_config_secret_from_file_drops_one_newline);
    tcase_add_test(tc, test_config_secret_env_alone_is_kept);
    tcase_add_test(tc, test_config_secret_rejects_bad_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("partitions");
    tcase_add_test(tc, test_config_partitions_default_and_bounds);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(config_suite)

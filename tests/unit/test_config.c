/*
 * Unit tests for shared/config: secrets read from NAME_FILE (Docker secrets),
 * and the partition count, and host lists (REDIS_SENTINELS, POSTGRES_HOSTS).
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

START_TEST(test_config_hostports_parses_lists)
{
    struct config_hostport hp[4];
    size_t n = 0;
    char err[128];

    ck_assert_int_eq(config_hostports("127.0.0.1:26379", hp, 4, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(hp[0].host, "127.0.0.1");
    ck_assert_int_eq(hp[0].port, 26379);
    ck_assert_int_eq(config_hostports(" redis-a:1 , redis-b.example:65535,[::1]:6380 ", hp, 4, &n,
                                      err, sizeof err),
                     0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(hp[0].host, "redis-a");
    ck_assert_int_eq(hp[0].port, 1);
    ck_assert_str_eq(hp[1].host, "redis-b.example");
    ck_assert_int_eq(hp[1].port, 65535);
    ck_assert_str_eq(hp[2].host, "::1");
    ck_assert_int_eq(hp[2].port, 6380);
    /* An IPv6 address without brackets: the port follows the last colon. */
    ck_assert_int_eq(config_hostports("fe80::1:5432", hp, 4, &n, err, sizeof err), 0);
    ck_assert_str_eq(hp[0].host, "fe80::1");
    ck_assert_int_eq(hp[0].port, 5432);
}
END_TEST

START_TEST(test_config_hostports_rejects_bad_lists)
{
    static const char *const bad[] = {
        "",          " ",       "a:1,",  ",a:1",    "a:1,,b:2", "host", "host:",         ":80",
        "h:0",       "h:65536", "h:-1",  "h:+1",    "h:1x",     "h: 1", "h:99999999999", "[::1]",
        "[::1]6380", "[]:1",    "a:1,b", "[::1:80",
    };
    struct config_hostport hp[4];
    char host[CONFIG_HOST_MAX + 8];
    size_t n = 99;
    char err[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(config_hostports(bad[i], hp, 4, &n, err, sizeof err) == -1, "accepted '%s'",
                      bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for '%s'", bad[i]);
    }
    ck_assert_uint_eq(n, 99);
    ck_assert_int_eq(config_hostports("a:1,b:2,c:3,d:4,e:5", hp, 4, &n, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "more than 4"));
    /* The longest host fits; one byte more does not. */
    memset(host, 'h', CONFIG_HOST_MAX - 1);
    memcpy(host + CONFIG_HOST_MAX - 1, ":1", 3);
    ck_assert_int_eq(config_hostports(host, hp, 4, &n, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(hp[0].host), CONFIG_HOST_MAX - 1);
    memset(host, 'h', CONFIG_HOST_MAX);
    memcpy(host + CONFIG_HOST_MAX, ":1", 3);
    ck_assert_int_eq(config_hostports(host, hp, 4, &n, err, sizeof err), -1);
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
    tc = tcase_create("hostports");
    tcase_add_test(tc, test_config_hostports_parses_lists);
    tcase_add_test(tc, test_config_hostports_rejects_bad_lists);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(config_suite)

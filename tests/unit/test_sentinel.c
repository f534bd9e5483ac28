/*
 * Unit tests for shared/sentinel: settings, and the errors that mean the
 * primary moved. Discovery itself runs against real sentinels in
 * tests/failover/.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sentinel.h"
#include "unit.h"

static const char *const vars[] = {"REDIS_SENTINELS", "REDIS_MASTER_NAME",
                                   "REDIS_SENTINEL_PASSWORD", "REDIS_SENTINEL_TIMEOUT_MS",
                                   "REDIS_PASSWORD"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

START_TEST(test_sentinel_config_unset_means_direct)
{
    struct sentinel_config c;
    clear_env();
    ck_assert_int_eq(sentinel_config_load(&c), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_int_eq(c.timeout_ms, 500);
    ck_assert_str_eq(c.password, "");
    ck_assert_str_eq(c.sentinel_auth, "");
}
END_TEST

START_TEST(test_sentinel_config_reads_list_and_passwords)
{
    struct sentinel_config c;
    clear_env();
    setenv("REDIS_SENTINELS", "s1:26379, s2:26380,[::1]:26381", 1);
    setenv("REDIS_MASTER_NAME", "splitter", 1);
    setenv("REDIS_PASSWORD", "primary-pw", 1);
    setenv("REDIS_SENTINEL_TIMEOUT_MS", "250", 1);
    ck_assert_int_eq(sentinel_config_load(&c), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_str_eq(c.sentinels[0].host, "s1");
    ck_assert_int_eq(c.sentinels[1].port, 26380);
    ck_assert_str_eq(c.sentinels[2].host, "::1");
    ck_assert_str_eq(c.master_name, "splitter");
    ck_assert_int_eq(c.timeout_ms, 250);
    /* Sentinels share the primary's password unless they have their own. */
    ck_assert_str_eq(c.sentinel_auth, "primary-pw");
    setenv("REDIS_SENTINEL_PASSWORD", "sentinel-pw", 1);
    ck_assert_int_eq(sentinel_config_load(&c), 0);
    ck_assert_str_eq(c.sentinel_auth, "sentinel-pw");
    ck_assert_str_eq(c.password, "primary-pw");
    clear_env();
}
END_TEST

START_TEST(test_sentinel_config_rejects_bad_settings)
{
    struct sentinel_config c;
    char name[200];
    clear_env();
    setenv("REDIS_SENTINELS", "s1:26379", 1);
    ck_assert_int_eq(sentinel_config_load(&c), -1); /* no REDIS_MASTER_NAME */
    ck_assert_uint_eq(c.n, 0);
    memset(name, 'm', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    setenv("REDIS_MASTER_NAME", name, 1);
    ck_assert_int_eq(sentinel_config_load(&c), -1);
    setenv("REDIS_MASTER_NAME", "splitter", 1);
    setenv("REDIS_SENTINELS", "s1", 1);
    ck_assert_int_eq(sentinel_config_load(&c), -1);
    setenv("REDIS_SENTINELS", "s1:26379", 1);
    setenv("REDIS_SENTINEL_TIMEOUT_MS", "0", 1);
    ck_assert_int_eq(sentinel_config_load(&c), -1);
    clear_env();
}
END_TEST

START_TEST(test_sentinel_moved_errors)
{
    static const char *const moved[] = {
        "READONLY You can't write against a read only replica.",
        "LOADING Redis is loading the dataset in memory",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        "READONLY",
    };
    static const char *const other[] = {
        "ERR unknown command",
        "NOAUTH Authentication required.",
        "OOM command not allowed",
        "READONLYX",
        "NOSCRIPT",
        "",
        "LOAD",
    };
    for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++)
        ck_assert_msg(sentinel_moved(moved[i], strlen(moved[i])), "'%s'", moved[i]);
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        ck_assert_msg(!sentinel_moved(other[i], strlen(other[i])), "'%s'", other[i]);
}
END_TEST

static Suite *sentinel_suite(void)
{
    Suite *s = suite_create("sentinel");
    TCase *tc = tcase_create("sentinel");
    tcase_add_test(tc, test_sentinel_config_unset_means_direct);
    tcase_add_test(tc, test_sentinel_config_reads_list_and_passwords);
    tcase_add_test(tc, test_sentinel_config_rejects_bad_settings);
    tcase_add_test(tc, test_sentinel_moved_errors);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(sentinel_suite)

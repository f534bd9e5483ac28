/*
 * Unit tests for shared/pgutil's connection settings: one server, or a list
 * (POSTGRES_HOSTS) that libpq walks to find the writable primary, and the
 * errors that mean the primary moved.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgutil.h"
#include "unit.h"

static const char *const vars[] = {"POSTGRES_HOSTS",
                                   "POSTGRES_HOST",
                                   "POSTGRES_PORT",
                                   "POSTGRES_DB",
                                   "POSTGRES_USER",
                                   "POSTGRES_PASSWORD",
                                   "POSTGRES_TARGET_SESSION_ATTRS"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

START_TEST(test_pgutil_conninfo_single_host)
{
    char info[1024];
    clear_env();
    setenv("POSTGRES_HOST", "db", 1);
    setenv("POSTGRES_PORT", "5432", 1);
    setenv("POSTGRES_PASSWORD", "it's", 1);
    ck_assert_int_eq(pg_conninfo(info, sizeof(info), "app"), 0);
    ck_assert_str_eq(info, "host='db' port='5432' dbname='splitter' user='splitter' "
                           "password='it\\'s' application_name='app' connect_timeout='5'");
    clear_env();
}
END_TEST

START_TEST(test_pgutil_conninfo_host_list)
{
    char info[1024];
    clear_env();
    setenv("POSTGRES_HOST", "ignored", 1);
    setenv("POSTGRES_HOSTS", "pg-a:5432, pg-b:5433,[::1]:5434", 1);
    ck_assert_int_eq(pg_conninfo(info, sizeof(info), "app"), 0);
    ck_assert_str_eq(info, "host='pg-a,pg-b,::1' port='5432,5433,5434' dbname='splitter' "
                           "user='splitter' password='' application_name='app' "
                           "connect_timeout='5' target_session_attrs='read-write'");
    setenv("POSTGRES_TARGET_SESSION_ATTRS", "primary", 1);
    ck_assert_int_eq(pg_conninfo(info, sizeof(info), "app"), 0);
    ck_assert_ptr_nonnull(strstr(info, " target_session_attrs='primary'"));
    /* libpq parses what we built. */
    PQconninfoOption *opts = PQconninfoParse(info, NULL);
    ck_assert_ptr_nonnull(opts);
    PQconninfoFree(opts);
    clear_env();
}
END_TEST

START_TEST(test_pgutil_conninfo_rejects_bad_host_list)
{
    char info[1024], small[64];
    clear_env();
    setenv("POSTGRES_HOSTS", "pg-a:5432,pg-b", 1);
    ck_assert_int_eq(pg_conninfo(info, sizeof(info), "app"), -1);
    setenv("POSTGRES_HOSTS", "a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9", 1);
    ck_assert_int_eq(pg_conninfo(info, sizeof(info), "app"), -1);
    setenv("POSTGRES_HOSTS", "a:1,b:2", 1);
    ck_assert_int_eq(pg_conninfo(small, sizeof(small), "app"), -1);
    clear_env();
}
END_TEST

START_TEST(test_pgutil_failover_errors)
{
    static const char *const moved[] = {"25006", "57P01", "57P02", "57P03",
                                        "08000", "08006", "08P01"};
    static const char *const other[] = {"23505", "40001", "40P01", "55P03", "57014",
                                        "25P02", "XX000", "0800",  "",      "25006x"};
    for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++)
        ck_assert_msg(pg_sqlstate_failover(moved[i]), "'%s'", moved[i]);
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        ck_assert_msg(!pg_sqlstate_failover(other[i]), "'%s'", other[i]);
    ck_assert_int_eq(pg_sqlstate_failover(NULL), 0);
    ck_assert_int_eq(pg_failover_error(NULL), 0);
    ck_assert_int_eq(pg_read_only(NULL), 0);
    /* A result made without a server carries no SQLSTATE. */
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    ck_assert_int_eq(pg_failover_error(res), 0);
    PQclear(res);
}
END_TEST

static Suite *pgutil_suite(void)
{
    Suite *s = suite_create("pgutil");
    TCase *tc = tcase_create("conninfo");
    tcase_add_test(tc, test_pgutil_conninfo_single_host);
    tcase_add_test(tc, test_pgutil_conninfo_host_list);
    tcase_add_test(tc, test_pgutil_conninfo_rejects_bad_host_list);
    tcase_add_test(tc, test_pgutil_failover_errors);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(pgutil_suite)

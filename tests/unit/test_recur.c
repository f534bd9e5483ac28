/*
 * Unit tests for shared/recur: the dates of a recurring expense (day, week,
 * month and year steps, month ends, leap years, until) and the
 * deterministic ids of its occurrences.
 */
#include <check.h>
#include <string.h>

#include "ledger.h"
#include "recur.h"
#include "unit.h"

static struct recur_rule rule(int every, enum recur_unit unit, const char *until)
{
    struct recur_rule r = {every, unit, ""};
    snprintf(r.until, sizeof r.until, "%s", until);
    return r;
}

START_TEST(test_recur_units)
{
    enum recur_unit u;
    ck_assert_int_eq(recur_unit_parse("month", &u), 0);
    ck_assert_int_eq(u, RECUR_MONTH);
    ck_assert_str_eq(recur_unit_name(RECUR_WEEK), "week");
    ck_assert_int_eq(recur_unit_parse("months", &u), -1);
    ck_assert_int_eq(recur_unit_parse("", &u), -1);
}
END_TEST

START_TEST(test_recur_days_and_weeks)
{
    struct recur_rule d = rule(1, RECUR_DAY, ""), w = rule(2, RECUR_WEEK, "");
    char out[11];
    ck_assert_int_eq(recur_nth(&d, "2024-02-28", 1, out), 0);
    ck_assert_str_eq(out, "2024-02-29");
    ck_assert_int_eq(recur_nth(&d, "2023-02-28", 1, out), 0);
    ck_assert_str_eq(out, "2023-03-01");
    ck_assert_int_eq(recur_nth(&d, "2026-12-31", 1, out), 0);
    ck_assert_str_eq(out, "2027-01-01");
    ck_assert_int_eq(recur_nth(&d, "2026-01-01", 365, out), 0);
    ck_assert_str_eq(out, "2027-01-01");
    ck_assert_int_eq(recur_nth(&w, "2026-12-24", 1, out), 0);
    ck_assert_str_eq(out, "2027-01-07");
    ck_assert_int_eq(recur_nth(&w, "2026-12-24", 0, out), 0);
    ck_assert_str_eq(out, "2026-12-24");
}
END_TEST

START_TEST(test_recur_month_end_keeps_anchor_day)
{
    static const char *const want[] = {"2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30",
                                       "2025-05-31", "2025-06-30", "2025-07-31", "2025-08-31",
                                       "2025-09-30", "2025-10-31", "2025-11-30", "2025-12-31",
                                       "2026-01-31"};
    struct recur_rule m = rule(1, RECUR_MONTH, "");
    char out[11], after[11] = "2025-01-31";
    for (int k = 0; k < 13; k++) {
        ck_assert_int_eq(recur_nth(&m, "2025-01-31", k, out), 0);
        ck_assert_str_eq(out, want[k]);
    }
    /* recur_next walks the same dates, one after the other. */
    for (int k = 1; k < 13; k++) {
        ck_assert_int_eq(recur_next(&m, "2025-01-31", after, out), 1);
        ck_assert_str_eq(out, want[k]);
        memcpy(after, out, 11);
    }
    ck_assert_int_eq(recur_nth(&m, "2024-01-31", 1, out), 0);
    ck_assert_str_eq(out, "2024-02-29"); /* leap year */
    struct recur_rule q = rule(3, RECUR_MONTH, "");
    ck_assert_int_eq(recur_nth(&q, "2025-11-30", 1, out), 0);
    ck_assert_str_eq(out, "2026-02-28");
    ck_assert_int_eq(recur_nth(&q, "2025-11-30", 2, out), 0);
    ck_assert_str_eq(out, "2026-05-30");
}
END_TEST

START_TEST(test_recur_years_and_leap_days)
{
    struct recur_rule y = rule(1, RECUR_YEAR, "");
    char out[11];
    ck_assert_int_eq(recur_nth(&y, "2024-02-29", 1, out), 0);
    ck_assert_str_eq(out, "2025-02-28");
    ck_assert_int_eq(recur_nth(&y, "2024-02-29", 4, out), 0);
    ck_assert_str_eq(out, "2028-02-29");
    ck_assert_int_eq(recur_nth(&y, "1996-02-29", 4, out), 0);
    ck_assert_str_eq(out, "2000-02-29"); /* divisible by 400 */
    ck_assert_int_eq(recur_nth(&y, "2096-02-29", 4, out), 0);
    ck_assert_str_eq(out, "2100-02-28"); /* divisible by 100 only */
    ck_assert_int_eq(recur_next(&y, "2024-02-29", "2025-02-28", out), 1);
    ck_assert_str_eq(out, "2026-02-28");
    /* Nothing past 9999. */
    ck_assert_int_eq(recur_nth(&y, "9999-06-01", 1, out), -1);
    ck_assert_int_eq(recur_next(&y, "9999-06-01", "9999-06-01", out), 0);
    struct recur_rule big = rule(RECUR_EVERY_MAX, RECUR_YEAR, "");
    ck_assert_int_eq(recur_nth(&big, "2026-01-01", 1000000000, out), -1);
}
END_TEST

START_TEST(test_recur_next_after_and_until)
{
    struct recur_rule d = rule(1, RECUR_DAY, "2026-03-05");
    char out[11];
    /* After a date before the anchor: the first occurrence after the anchor. */
    ck_assert_int_eq(recur_next(&d, "2026-03-01", "2026-01-01", out), 1);
    ck_assert_str_eq(out, "2026-03-02");
    ck_assert_int_eq(recur_next(&d, "2026-03-01", "2026-03-04", out), 1);
    ck_assert_str_eq(out, "2026-03-05"); /* until is the last day, included */
    ck_assert_int_eq(recur_next(&d, "2026-03-01", "2026-03-05", out), 0);
    struct recur_rule w = rule(1, RECUR_WEEK, "2026-03-14");
    ck_assert_int_eq(recur_next(&w, "2026-03-01", "2026-03-03", out), 1);
    ck_assert_str_eq(out, "2026-03-08");
    ck_assert_int_eq(recur_next(&w, "2026-03-01", "2026-03-08", out), 0);
    /* An after between two dates of a 10-day rule. */
    struct recur_rule t = rule(10, RECUR_DAY, "");
    ck_assert_int_eq(recur_next(&t, "2026-01-01", "2026-01-25", out), 1);
    ck_assert_str_eq(out, "2026-01-31");
    /* Every date the rules give is a valid date. */
    rng_state = 7;
    for (int i = 0; i < 2000; i++) {
        struct recur_rule r =
            rule(1 + (int)(rng_next() % 40), (enum recur_unit)(rng_next() % 4), "");
        char anchor[11];
        snprintf(anchor, sizeof anchor, "%04d-%02d-%02d", 1990 + (int)(rng_next() % 60),
                 1 + (int)(rng_next() % 12), 1 + (int)(rng_next() % 28));
        ck_assert_int_eq(recur_nth(&r, anchor, (int64_t)(rng_next() % 50), out), 0);
        ck_assert(ledger_is_date(out));
        char next[11];
        ck_assert_int_eq(recur_next(&r, anchor, out, next), 1);
        ck_assert(strcmp(next, out) > 0);
        ck_assert(ledger_is_date(next));
    }
}
END_TEST

START_TEST(test_recur_occurrence_ids)
{
    char a[UUID_STR_SIZE], b[UUID_STR_SIZE], c[UUID_STR_SIZE], e[UUID_STR_SIZE];
    const char *rule_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    recur_occurrence_id("event", rule_id, "2026-03-01", a);
    recur_occurrence_id("event", rule_id, "2026-03-01", b);
    recur_occurrence_id("event", rule_id, "2026-03-02", c);
    recur_occurrence_id("expense", rule_id, "2026-03-01", e);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_str_ne(a, e);
    ck_assert(ledger_is_uuid(a));
    ck_assert_int_eq(a[14], '8');
    ck_assert(strchr("89ab", a[19]) != NULL);
}
END_TEST

static Suite *recur_suite(void)
{
    Suite *s = suite_create("recur");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_recur_units);
    tcase_add_test(tc, test_recur_days_and_weeks);
    tcase_add_test(tc, test_recur_month_end_keeps_anchor_day);
    tcase_add_test(tc, test_recur_years_and_leap_days);
    tcase_add_test(tc, test_recur_next_after_and_until);
    tcase_add_test(tc, test_recur_occurrence_ids);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(recur_suite)

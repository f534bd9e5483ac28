/*
 * Unit tests for shared/csv: the export's cells, byte for byte (RFC 4180
 * quoting, formula characters neutralised with an apostrophe).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "unit.h"

static void assert_cell(const char *in, int first, const char *want)
{
    struct strbuf out = {0};
    csv_cell(&out, in, first);
    ck_assert_str_eq(out.buf ? out.buf : "", want);
    free(out.buf);
}

START_TEST(test_csv_plain_and_quoted)
{
    assert_cell("Dinner", 1, "Dinner");
    assert_cell("Dinner", 0, ",Dinner");
    assert_cell("", 1, "");
    assert_cell("", 0, ",");
    assert_cell("a,b", 0, ",\"a,b\"");
    assert_cell("say \"hi\"", 1, "\"say \"\"hi\"\"\"");
    assert_cell("\"", 1, "\"\"\"\"");
    assert_cell("two\nlines", 1, "\"two\nlines\"");
    assert_cell("caf\xc3\xa9", 1, "caf\xc3\xa9");
}
END_TEST

START_TEST(test_csv_formula_neutralised)
{
    assert_cell("=1+1", 1, "'=1+1");
    assert_cell("+33 6", 0, ",'+33 6");
    assert_cell("-12.50", 0, ",'-12.50");
    assert_cell("@SUM(A1)", 1, "'@SUM(A1)");
    assert_cell("\tx", 1, "'\tx");
    assert_cell("\rx", 1, "\"'\rx\"");
    assert_cell("=HYPERLINK(\"http://x\",\"y\")", 1, "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    assert_cell("a=b", 1, "a=b");
}
END_TEST

START_TEST(test_csv_cells_append)
{
    struct strbuf out = {0};
    csv_cell(&out, "expense", 1);
    csv_cell(&out, "a,b", 0);
    csv_cell(&out, "", 0);
    ck_assert_str_eq(out.buf, "expense,\"a,b\",");
    ck_assert_uint_eq(out.len, strlen(out.buf));
    free(out.buf);
}
END_TEST

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("cell");

    tcase_add_test(tc, test_csv_plain_and_quoted);
    tcase_add_test(tc, test_csv_formula_neutralised);
    tcase_add_test(tc, test_csv_cells_append);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(csv_suite)

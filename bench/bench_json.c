/*
 * bench_json: json_dump_compact (shared/json.c) beside jansson's json_dumps
 * with the same flags, on what the worker serialises for every event: an
 * expense resource (the Prefer: wait answer and the audit image) for groups
 * of 4 and 20 members. Prints a markdown table: median nanoseconds a dump
 * over 7 rounds, and the ratio.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

#define ROUNDS 7
#define DUMPS 20000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* An expense resource as ledger_expense_resource() builds it. */
static json_t *resource(int members)
{
    json_t *paid = json_array(), *split = json_array(), *shares = json_array();
    char id[40];
    for (int i = 0; i < members; i++) {
        snprintf(id, sizeof(id), "0b9e6a4c-2f7d-4c1e-9a35-%012d", i);
        if (i == 0)
            json_array_append_new(
                paid, json_pack("{s:s, s:I}", "member_id", id, "amount", (json_int_t)123456));
        json_array_append_new(split, json_pack("{s:s, s:f}", "member_id", id, "value", 33.33));
        json_array_append_new(shares, json_pack("{s:s, s:I}", "member_id", id, "amount",
                                                (json_int_t)(123456 / members)));
    }
    return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:o}, s:s, s:s, s:I, s:o,"
                     " s:s, s:s, s:s, s:I}",
                     "description", "Dinner at \"Le Petit\" \xe2\x80\x94 caf\xc3\xa9", "amount",
                     (json_int_t)123456, "currency", "EUR", "exchange_rate", "1", "date",
                     "2026-11-20", "category", "food", "paid_by", paid, "split", "mode", "percent",
                     "members", split, "id", "7c0e5d1e-8f4b-4d4a-b6d8-1f2a3b4c5d6e", "group_id",
                     "3f1d2c4b-5a69-4788-9a0b-c1d2e3f4a5b6", "amount_in_group_currency",
                     (json_int_t)123456, "shares", shares, "created_by",
                     "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "created_at", "2026-11-20T12:34:56Z",
                     "updated_at", "2026-11-20T12:34:56Z", "version", (json_int_t)1);
}

static double median_ns(const json_t *v, int ours)
{
    double t[ROUNDS];
    size_t sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double a = now_ns();
        for (int i = 0; i < DUMPS; i++) {
            char *s = ours
                          ? json_dump_compact(v)
                          : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
            sink += strlen(s);
            free(s);
        }
        t[r] = (now_ns() - a) / DUMPS;
    }
    if (sink == 0)
        abort();
    qsort(t, ROUNDS, sizeof(t[0]), cmp_double);
    return t[ROUNDS / 2];
}

int main(void)
{
    static const int sizes[] = {4, 20};
    printf("| expense resource, members | bytes | json_dump_compact | json_dumps | ratio |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        json_t *v = resource(sizes[i]);
        char *text = json_dump_compact(v);
        double ours = median_ns(v, 1), theirs = median_ns(v, 0);
        printf("| %d | %zu | %.0f ns | %.0f ns | %.2f |\n", sizes[i], strlen(text), ours, theirs,
               ours / theirs);
        free(text);
        json_decref(v);
    }
    return 0;
}

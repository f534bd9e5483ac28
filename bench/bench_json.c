/*
 * bench_json: json_dump_compact (shared/json.c) beside jansson's json_dumps
 * with the same flags, on what the worker serialises for every event: an
 * expense resource (the Prefer: wait answer and the audit image) for groups
 * of 4 and 20 members; then json_doc_parse (shared/json.c, the reader
 * event_decode uses) beside jansson's json_loadb, on what the worker reads
 * for every event: the event itself, an expense split between 4 and 20
 * members. Prints two markdown tables: median nanoseconds an operation over
 * 7 rounds, and the ratio.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "json.h"

#define REPS 20000

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

static size_t dump_ours(void *v, int i)
{
    (void)i;
    char *s = json_dump_compact(v);
    size_t n = strlen(s);
    free(s);
    return n;
}

static size_t dump_jansson(void *v, int i)
{
    (void)i;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    size_t n = strlen(s);
    free(s);
    return n;
}

/* An expense.created event as the api queues it (shared/event.h), split equally between
   members: the resource's payer and members. Caller frees. */
static char *event_text(int members)
{
    json_t *r = resource(members), *split = json_array(), *m;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(r, "split"), "members"), i, m)
        json_array_append_new(split,
                              json_pack("{s:O}", "member_id", json_object_get(m, "member_id")));
    json_t *paid = json_incref(json_object_get(r, "paid_by"));
    json_decref(r);
    json_t *data = json_pack("{s:s, s:I, s:o, s:{s:s, s:o}, s:s, s:s, s:s, s:n}", "description",
                             "Dinner", "amount", (json_int_t)123456, "paid_by", paid, "split",
                             "mode", "equal", "members", split, "currency", "EUR", "exchange_rate",
                             "1", "date", "2026-11-20", "category");
    json_t *ev = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "event_id", "5d3c1b2a-0f9e-4d8c-8b7a-6f5e4d3c2b1a",
        "type", "expense.created", "group_id", "3f1d2c4b-5a69-4788-9a0b-c1d2e3f4a5b6", "actor",
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "accepted_at", "2026-11-20T12:34:56Z", "expense_id",
        "7c0e5d1e-8f4b-4d4a-b6d8-1f2a3b4c5d6e", "data", data);
    char *text = json_dump_compact(ev);
    json_decref(ev);
    return text;
}

static size_t parse_ours(void *text, int i)
{
    struct json_doc doc;
    struct json_doc_error err;
    (void)i;
    if (json_doc_parse(&doc, text, strlen(text), 32, &err) != 0)
        abort();
    size_t n = json_object_size(doc.root);
    json_doc_release(&doc);
    return n;
}

static size_t parse_jansson(void *text, int i)
{
    (void)i;
    json_t *v = json_loadb(text, strlen(text), 0, NULL);
    if (!v)
        abort();
    size_t n = json_object_size(v);
    json_decref(v);
    return n;
}

int main(void)
{
    static const int sizes[] = {4, 20};
    printf("| expense resource, members | bytes | json_dump_compact | json_dumps | ratio |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        json_t *v = resource(sizes[i]);
        char *text = json_dump_compact(v);
        double ours = bench_median_ns(dump_ours, v, REPS),
               theirs = bench_median_ns(dump_jansson, v, REPS);
        printf("| %d | %zu | %.0f ns | %.0f ns | %.2f |\n", sizes[i], strlen(text), ours, theirs,
               ours / theirs);
        free(text);
        json_decref(v);
    }
    printf("\n| expense.created event, members | bytes | json_doc_parse | json_loadb | ratio |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *text = event_text(sizes[i]);
        double ours = bench_median_ns(parse_ours, text, REPS),
               theirs = bench_median_ns(parse_jansson, text, REPS);
        printf("| %d | %zu | %.0f ns | %.0f ns | %.2f |\n", sizes[i], strlen(text), ours, theirs,
               ours / theirs);
        free(text);
    }
    return 0;
}

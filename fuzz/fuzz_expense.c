/*
 * Expense validation (ledger_expense_parse, shared/ledger.c) on request
 * bodies as the api reads them (the strict JSON reader first). A valid
 * expense's payers and owed shares each sum to the converted amount, and its
 * normal form (ledger_expense_to_json, what the event carries) is itself a
 * valid expense with the same normal form and the same shares: the api and
 * the worker, which re-reads the event, cannot disagree. A refusal names at
 * least one field.
 */
#include "fuzz.h"

#include "json.h"
#include "ledger.h"

static void check_normal_form(const struct ledger_expense *e, const char *currency)
{
    struct ledger_expense again;
    struct fields f = {0};
    struct json_doc doc = {0};
    struct json_doc_error err;
    json_t *norm = ledger_expense_to_json(e);
    char *text = json_dump_compact(norm);

    FUZZ_CHECK(json_doc_parse(&doc, text, strlen(text), 16, &err) == 0);
    FUZZ_CHECK(ledger_expense_parse(&doc, doc.root, currency, "2026-01-01", &again, &f) == 0);
    json_t *norm2 = ledger_expense_to_json(&again);
    FUZZ_CHECK(json_equal(norm, norm2));
    FUZZ_CHECK(again.amount_group == e->amount_group);
    FUZZ_CHECK(again.n_split == e->n_split && again.n_paid == e->n_paid);
    for (size_t i = 0; i < e->n_split; i++)
        FUZZ_CHECK(again.split[i].computed == e->split[i].computed);
    for (size_t i = 0; i < e->n_paid; i++)
        FUZZ_CHECK(again.paid[i].computed == e->paid[i].computed);
    json_decref(norm2);
    ledger_expense_release(&again);
    json_doc_release(&doc);
    free(text);
    json_decref(norm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const currencies[] = {"EUR", "JPY", "KWD", "USD"};
    struct json_doc doc = {0};
    struct json_doc_error err;
    struct ledger_expense e;
    struct fields f = {0};

    if (size == 0)
        return 0;
    /* The first byte picks the group's currency (exponents 2, 0, 3, 2). */
    const char *currency = currencies[data[0] % 4];
    if (json_doc_parse(&doc, (const char *)data + 1, size - 1, 16, &err) != 0)
        return 0;
    if (ledger_expense_parse(&doc, doc.root, currency, "2026-01-01", &e, &f) != 0) {
        FUZZ_CHECK(f.n > 0);
        json_doc_release(&doc);
        return 0;
    }
    __int128 owed = 0, paid = 0;
    for (size_t i = 0; i < e.n_split; i++) {
        FUZZ_CHECK(e.split[i].computed >= 0);
        owed += e.split[i].computed;
    }
    for (size_t i = 0; i < e.n_paid; i++) {
        FUZZ_CHECK(e.paid[i].computed >= 0);
        paid += e.paid[i].computed;
    }
    FUZZ_CHECK(owed == e.amount_group && paid == e.amount_group);
    check_normal_form(&e, currency);
    ledger_expense_release(&e);
    json_doc_release(&doc);
    return 0;
}

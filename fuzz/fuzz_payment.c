/*
 * Payment validation (ledger_payment_parse, shared/ledger.c) on request bodies
 * as the api reads them. A valid payment has two different members and a
 * positive amount, and its normal form (ledger_payment_to_json, what the event
 * carries) validates to the same payment. A refusal names at least one field.
 */
#include "fuzz.h"

#include "json.h"
#include "ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_doc doc = {0};
    struct json_doc_error err;
    struct ledger_payment p, again;
    struct fields f = {0};

    if (json_doc_parse(&doc, (const char *)data, size, 16, &err) != 0)
        return 0;
    if (ledger_payment_parse(doc.root, "2026-01-01", &p, &f) != 0) {
        FUZZ_CHECK(f.n > 0);
        json_doc_release(&doc);
        return 0;
    }
    FUZZ_CHECK(p.amount > 0);
    FUZZ_CHECK(ledger_is_uuid(p.from_member) && ledger_is_uuid(p.to_member));
    FUZZ_CHECK(strcmp(p.from_member, p.to_member) != 0);
    FUZZ_CHECK(ledger_is_date(p.date));
    json_t *norm = ledger_payment_to_json(&p);
    FUZZ_CHECK(ledger_payment_parse(norm, "1999-12-31", &again, &f) == 0);
    json_t *norm2 = ledger_payment_to_json(&again);
    FUZZ_CHECK(json_equal(norm, norm2));
    json_decref(norm2);
    json_decref(norm);
    ledger_payment_release(&again);
    ledger_payment_release(&p);
    json_doc_release(&doc);
    return 0;
}

/*
 * The strict JSON reader (shared/json.c) on arbitrary bytes. Besides the
 * sanitizers' checks: an accepted document serialises (json_dump_compact) to
 * text that the reader and jansson both accept again, and a refusal always
 * says why and where (the offset lies within the input).
 */
#include "fuzz.h"

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_doc doc = {0}, again = {0};
    struct json_doc_error err;

    if (json_doc_parse(&doc, (const char *)data, size, 16, &err) != 0) {
        FUZZ_CHECK(err.status != JSON_DOC_OK);
        FUZZ_CHECK(err.offset <= size);
        FUZZ_CHECK(err.message[0] != '\0');
        FUZZ_CHECK(doc.root == NULL);
        return 0;
    }
    FUZZ_CHECK(doc.root != NULL);
    for (size_t i = 0; i < doc.n_numbers; i++)
        FUZZ_CHECK(json_doc_number_text(&doc, doc.numbers[i].value) == doc.numbers[i].text);
    char *text = json_dump_compact(doc.root);
    FUZZ_CHECK(json_doc_parse(&again, text, strlen(text), 16, &err) == 0);
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(j != NULL);
    FUZZ_CHECK(json_equal(j, again.root));
    json_decref(j);
    json_doc_release(&again);
    free(text);
    json_doc_release(&doc);
    return 0;
}

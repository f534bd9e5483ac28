/*
 * Import converters (import_convert, shared/import.c) on untrusted exports: the
 * first byte picks the format, the rest is the export (JSON; for Splitwise the
 * CSV text). A refusal names at least one field. An accepted export has 1 to
 * IMPORT_MAX_MEMBERS members, every member reference names one of them, and
 * every split the converter computed itself (an "exact" split of another
 * product's export) shares out exactly what was paid.
 */
#include "fuzz.h"

#include "import.h"
#include "json.h"

#include <stdlib.h>

static void check_refs(const json_t *v, size_t n)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            const char *s = json_string_value(x);
            if (s &&
                (!strcmp(k, "member_id") || !strcmp(k, "from_member") || !strcmp(k, "to_member"))) {
                FUZZ_CHECK(s[0] == '#');
                FUZZ_CHECK(strtoul(s + 1, NULL, 10) < n);
            } else {
                check_refs(x, n);
            }
        }
    } else if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            check_refs(json_array_get(v, i), n);
    }
}

static json_int_t sum_of(const json_t *list, const char *key)
{
    json_int_t s = 0;
    size_t i;
    for (i = 0; i < json_array_size(list); i++)
        s += json_integer_value(json_object_get(json_array_get(list, i), key));
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_doc doc = {0};
    struct json_doc_error err;
    struct import_group g;
    struct fields f = {0};
    if (size < 1)
        return 0;
    enum import_format fmt = (enum import_format)(data[0] % 4);
    json_t *csv = NULL;
    const json_t *in;
    if (fmt == IMPORT_SPLITWISE) {
        csv = json_stringn_nocheck((const char *)data + 1, size - 1);
        if (!csv || memchr(data + 1, '\0', size - 1)) {
            json_decref(csv);
            return 0;
        }
        in = csv;
    } else {
        if (json_doc_parse(&doc, (const char *)data + 1, size - 1, 16, &err) != 0)
            return 0;
        in = doc.root;
    }
    if (import_convert(fmt, &doc, in, fmt == IMPORT_SPLITTER ? NULL : "EUR", &g, &f) != 0) {
        FUZZ_CHECK(f.n > 0);
    } else {
        FUZZ_CHECK(g.n_members >= 1 && g.n_members <= IMPORT_MAX_MEMBERS);
        check_refs(g.entries, g.n_members);
        size_t i;
        json_t *e;
        json_array_foreach(g.entries, i, e)
        {
            const json_t *d = json_object_get(e, "data");
            const json_t *split = json_object_get(d, "split");
            if (fmt == IMPORT_SPLITTER || !split)
                continue;
            json_int_t amount = json_integer_value(json_object_get(d, "amount"));
            FUZZ_CHECK(sum_of(json_object_get(d, "paid_by"), "amount") == amount);
            FUZZ_CHECK(sum_of(json_object_get(split, "members"), "value") == amount);
        }
        import_release(&g);
    }
    json_decref(csv);
    json_doc_release(&doc);
    return 0;
}

/*
 * json: the strict JSON reader's verdict on one document, for golden tests.
 *
 *   json < document
 *   -> valid <the document, compact, numbers exactly as written>     (exit 0)
 *   -> syntax at <offset>: <message>                                  (exit 1)
 *   -> duplicate '<field>' at <offset>: <message>                     (exit 1)
 *
 * The same json_doc_parse the api runs on every body, with the api's depth
 * bound (16). Keys keep their order. Exit status 2 when stdin cannot be read.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "strbuf.h"

#define MAX_DEPTH 16 /* the api's API_MAX_DEPTH */

static void print_value(const struct json_doc *doc, const json_t *v, struct strbuf *out)
{
    const char *text = json_doc_number_text(doc, v);
    if (text) {
        strbuf_add(out, text);
    } else if (json_is_object(v)) {
        const char *key;
        json_t *member;
        int first = 1;
        strbuf_addc(out, '{');
        json_object_foreach((json_t *)v, key, member)
        {
            json_t *k = json_string(key);
            char *ks = json_dump_compact(k);
            if (!first)
                strbuf_addc(out, ',');
            strbuf_add(out, ks);
            strbuf_addc(out, ':');
            print_value(doc, member, out);
            free(ks);
            json_decref(k);
            first = 0;
        }
        strbuf_addc(out, '}');
    } else if (json_is_array(v)) {
        strbuf_addc(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                strbuf_addc(out, ',');
            print_value(doc, json_array_get(v, i), out);
        }
        strbuf_addc(out, ']');
    } else {
        char *s = json_dump_compact(v);
        strbuf_add(out, s);
        free(s);
    }
}

int main(void)
{
    struct strbuf in = {0}, out = {0};
    struct json_doc doc = {0};
    struct json_doc_error err;
    char chunk[4096];
    size_t n;

    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        strbuf_addn(&in, chunk, n);
    if (ferror(stdin)) {
        fprintf(stderr, "json: cannot read stdin\n");
        return 2;
    }
    if (json_doc_parse(&doc, in.buf ? in.buf : "", in.len, MAX_DEPTH, &err) != 0) {
        if (err.status == JSON_DOC_DUPLICATE)
            printf("duplicate '%s' at %zu: %s\n", err.field, err.offset, err.message);
        else
            printf("syntax at %zu: %s\n", err.offset, err.message);
        free(in.buf);
        return 1;
    }
    print_value(&doc, doc.root, &out);
    printf("valid %s\n", out.buf);
    json_doc_release(&doc);
    free(out.buf);
    free(in.buf);
    return 0;
}

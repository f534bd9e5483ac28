/*
 * json: a strict JSON reader on top of jansson values, and field checks.
 *
 * jansson's own reader turns every non-integer number into a double, which
 * has no place near money. json_doc_parse() builds the same jansson tree but
 * keeps the exact text of every number that is not an int64 (fractions,
 * exponents, out-of-range integers), so amounts, percentages and shares are
 * read exactly with json_doc_number_text(). It also refuses what a careful API
 * refuses: invalid UTF-8 (including in keys and escaped surrogates), duplicate
 * keys, nesting deeper than a bound, and trailing garbage.
 */
#ifndef SPLITTER_JSON_H
#define SPLITTER_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum json_doc_status {
    JSON_DOC_OK = 0,
    JSON_DOC_SYNTAX,    /* not JSON, invalid UTF-8, too deep: HTTP 400 */
    JSON_DOC_DUPLICATE, /* a key repeated in one object: HTTP 422 naming it */
};

struct json_doc_error {
    enum json_doc_status status;
    char field[128];   /* path of the offending key ("split.members[2].value"), or "" */
    char message[160]; /* lowercase, human readable */
    size_t offset;     /* byte offset in the input */
};

struct json_doc_number {
    const json_t *value; /* borrowed from root */
    char *text;          /* owned: the number exactly as written */
};

/* A parsed document. Owns root (one reference) and the number texts. */
struct json_doc {
    json_t *root;
    struct json_doc_number *numbers;
    size_t n_numbers, alloc_numbers;
};

/* Parse len bytes (no NUL needed). On success fills doc (release with
   json_doc_release) and returns 0; on failure returns -1, fills err, and
   leaves doc empty. max_depth bounds arrays/objects nesting (>= 1). */
int json_doc_parse(struct json_doc *doc, const char *buf, size_t len, int max_depth,
                   struct json_doc_error *err);

/* Drop the tree and the number texts; doc may be reused afterwards. */
void json_doc_release(struct json_doc *doc);

/* The exact text of a real value parsed from doc (borrowed), or NULL when v
   is not a number from doc that fell outside int64 integers. */
const char *json_doc_number_text(const struct json_doc *doc, const json_t *v);

/* Validate that every key of obj is in allowed (NULL-terminated). Returns
   NULL, or the first unknown key (borrowed from obj). */
const char *json_unknown_key(const json_t *obj, const char *const *allowed);

/* Number of Unicode code points in a valid UTF-8 string. */
size_t json_utf8_length(const char *s);

/* Compact serialisation with a trailing NUL; the caller frees the result. */
char *json_dump_compact(const json_t *v);

#endif

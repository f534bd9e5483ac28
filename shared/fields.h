/*
 * fields: the per-field errors of one invalid request, as RFC 9457's
 * "errors" member lists them: [{"field": "split.members[2].value",
 * "message": "..."}]. Bounded: past FIELDS_MAX the rest are dropped.
 */
#ifndef SPLITTER_FIELDS_H
#define SPLITTER_FIELDS_H

#include <jansson.h>
#include <stddef.h>

#define FIELDS_MAX 16

struct fields {
    size_t n;
    struct {
        char field[128];   /* path in the request body, "" for the whole body */
        char message[160]; /* lowercase sentence fragment */
    } e[FIELDS_MAX];
};

/* Record an error on field (printf-style message). Never fails. */
void fields_add(struct fields *f, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The errors as a new JSON array (caller owns the reference). */
json_t *fields_to_json(const struct fields *f);

#endif

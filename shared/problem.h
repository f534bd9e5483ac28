/*
 * problem: the one table from error codes to HTTP status and RFC 9457
 * problem bodies. Handlers and the worker never invent their own.
 *
 *   {"type": "/problems/validation", "title": "Invalid request", "status": 422,
 *    "detail": "...", "errors": [{"field": "...", "message": "..."}]}
 */
#ifndef SPLITTER_PROBLEM_H
#define SPLITTER_PROBLEM_H

#include "fields.h"

#include <jansson.h>

enum problem_code {
    PROBLEM_MALFORMED,             /* 400 */
    PROBLEM_UNAUTHORIZED,          /* 401 */
    PROBLEM_FORBIDDEN,             /* 403 */
    PROBLEM_NOT_FOUND,             /* 404 */
    PROBLEM_METHOD_NOT_ALLOWED,    /* 405 */
    PROBLEM_VERSION_CONFLICT,      /* 409 */
    PROBLEM_EMAIL_TAKEN,           /* 409 */
    PROBLEM_CONFLICT,              /* 409: the resource's state forbids it */
    PROBLEM_DUPLICATE_REQUEST,     /* 409: an Idempotency-Key another event holds */
    PROBLEM_GROUP_ARCHIVED,        /* 409: the group is archived (read-only) */
    PROBLEM_PRECONDITION_FAILED,   /* 412 */
    PROBLEM_TOO_LARGE,             /* 413 */
    PROBLEM_UNSUPPORTED_MEDIA,     /* 415 */
    PROBLEM_VALIDATION,            /* 422 */
    PROBLEM_PRECONDITION_REQUIRED, /* 428 */
    PROBLEM_RATE_LIMITED,          /* 429 */
    PROBLEM_INTERNAL,              /* 500 */
    PROBLEM_UNAVAILABLE,           /* 503 */
    PROBLEM_TIMEOUT,               /* 504 */
    PROBLEM_COUNT
};

/* HTTP status of code. */
int problem_status(enum problem_code code);

/* The reason phrase / title of code (static string). */
const char *problem_title(enum problem_code code);

/* A new problem object. detail may be NULL; f may be NULL or empty. Caller
   owns the reference. */
json_t *problem_new(enum problem_code code, const char *detail, const struct fields *f);

#endif

/*
 * etag: the If-Match field of a ledger write, against the entity tags the api
 * sends (RFC 9110 section 8.8.3): a resource's version as a strong tag of
 * decimal digits, "3". If-Match compares strongly (section 13.1.1), so:
 *
 *   "3"        the version 3 (1 .. INT64_MAX, no leading zero, no sign, no
 *              space inside the quotes: exactly the tag the api sends);
 *   *          any current version: the write is not tied to one;
 *   anything else can never match one of our tags: a weak tag (W/"3", which
 *              strong comparison never matches), "03", "+3", " 3", "0", a
 *              version beyond int64, a list of several tags, or text that is
 *              not an entity tag at all. The api answers those 412.
 *
 * Spaces and tabs around the whole value are ignored (the field's optional
 * whitespace). Thread-safe; nothing allocates.
 */
#ifndef SPLITTER_ETAG_H
#define SPLITTER_ETAG_H

#include <stddef.h>
#include <stdint.h>

enum etag_match {
    ETAG_MATCH_VERSION, /* one of our tags: *version set */
    ETAG_MATCH_ANY,     /* "*" */
    ETAG_MATCH_NEVER,   /* anything else (412) */
};

/* Classify the If-Match value v of len bytes (no NUL needed; borrowed). */
enum etag_match etag_if_match(const char *v, size_t len, int64_t *version);

#endif

/*
 * import: a group exported by splitter or another product, as the requests
 * splitter's own api takes.
 *
 * A converter reads one export (its JSON, or for Splitwise its CSV text) and
 * yields the group's member names (matched case-insensitively, file order)
 * and its entries in order: each an expense's or a payment's request fields
 * in the contract's form, its member references written "#<index>" (an index
 * into the names) until import_bind puts the members' ids in. Amounts are
 * minor units of the group's currency; decimals of the source are read from
 * their text (json_doc_number_text), never through a double. What cannot be
 * kept exactly goes in the report: {"entry": <index in the source>,
 * "message"}.
 */
#ifndef SPLITTER_IMPORT_H
#define SPLITTER_IMPORT_H

#include "fields.h"
#include "json.h"
#include "uuid.h"

#include <jansson.h>
#include <stddef.h>

#define IMPORT_MAX_MEMBERS 200
#define IMPORT_MAX_ENTRIES 5000
#define IMPORT_MAX_BODY (1024 * 1024) /* the one route taking more than 64 KiB */

enum import_format { IMPORT_SPLITTER, IMPORT_SPLIIT, IMPORT_IHATEMONEY, IMPORT_SPLITWISE };

struct import_group {
    char *name;       /* owned; NULL when the export has none */
    char currency[4]; /* "" when the export has none */
    size_t n_members;
    char **members;  /* owned names */
    json_t *entries; /* owned: [{"kind": "expense" | "payment", "data": {...}}] */
    json_t *report;  /* owned: [{"entry", "message"}] */
};

/* The format named name. 0, or -1 when unknown. */
int import_format_parse(const char *name, enum import_format *fmt);

/* Convert data (from doc; for IMPORT_SPLITWISE a string holding the CSV) into
   g. currency: the group's currency when the request names one, else NULL
   (the export's is used). Returns 0; or -1 with the reasons in f (paths
   under "data") and g released. */
int import_convert(enum import_format fmt, const struct json_doc *doc, const json_t *data,
                   const char *currency, struct import_group *g, struct fields *f);

void import_release(struct import_group *g);

/* A deep copy of data with every "#<i>" member reference (member_id,
   from_member, to_member) replaced by ids[i]. New reference. */
json_t *import_bind(const json_t *data, const char (*ids)[UUID_STR_SIZE], size_t n);

/* A UUID (version 4 form) derived from seed and index: the same inputs give
   the same id. out: UUID_STR_SIZE bytes. */
void import_derive_id(const char *seed, const char *what, size_t index, char *out);

#endif

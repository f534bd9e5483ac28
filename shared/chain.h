/*
 * chain: the hash chain over a group's applied events.
 *
 * Every applied event carries hash = SHA-256(previous hash || canonical
 * bytes), the previous hash of a group's first event being 32 zero bytes.
 * The canonical bytes of an event are this compact JSON object, its keys in
 * byte order, nothing added or left out:
 *
 *   {"accepted_at":"A","actor":"U","event_id":"E","group_id":"G",
 *    "payload_sha256":"P","seq":N,"type":"T"}
 *
 * A: the acceptance time in UTC to the second, YYYY-MM-DDTHH:MM:SSZ; U, E, G:
 * UUIDs in lowercase with hyphens; P: SHA-256 in lowercase hex of the payload
 * exactly as stored, byte for byte (the events.payload column is `json`, which
 * keeps the text as written); N: the event's number in its group in decimal;
 * T: the event type (lowercase letters, dots and underscores). Nothing needs
 * escaping, so the object can be produced byte-identically by anything that
 * concatenates strings: the worker (here), the migration that added the chain
 * (postgres/migrations/009_hash_chain.sql, in SQL) and any verifier. The
 * payload enters by its digest so that the chain can be checked from the audit
 * log, which shows the digest but leaves out parts of the payload (a request's
 * Idempotency-Key is its user's alone); an export carries the payload itself.
 *
 * docs/ARCHITECTURE.md ("The hash chain") states the same for third parties.
 */
#ifndef SPLITTER_CHAIN_H
#define SPLITTER_CHAIN_H

#include "strbuf.h"

#include <stddef.h>
#include <stdint.h>

#define CHAIN_HASH_SIZE 32
#define CHAIN_HEX_SIZE (2 * CHAIN_HASH_SIZE + 1)

/* The fields of one applied event, borrowed. payload need not be
   NUL-terminated. */
struct chain_event {
    const char *group_id, *event_id, *type, *actor, *accepted_at;
    int64_t seq;
    const char *payload;
    size_t payload_len;
};

/* 0 when e's fields are in their canonical form; -1 with a lowercase reason
   in err otherwise. */
int chain_check(const struct chain_event *e, char *err, size_t err_size);

/* Append e's canonical bytes to out. Returns 0; or -1 with a lowercase reason
   in err when a field is not in its canonical form (out is then unchanged). */
int chain_canonical(const struct chain_event *e, struct strbuf *out, char *err, size_t err_size);

/* out = SHA-256(prev || e's canonical bytes). 0; or -1 as chain_canonical. */
int chain_link(const unsigned char prev[CHAIN_HASH_SIZE], const struct chain_event *e,
               unsigned char out[CHAIN_HASH_SIZE], char *err, size_t err_size);

/* Lowercase hex of h into hex (CHAIN_HEX_SIZE bytes). */
void chain_hex(const unsigned char h[CHAIN_HASH_SIZE], char hex[CHAIN_HEX_SIZE]);

/* Parse 64 hex digits (either case, nothing else) into h. 0; -1 otherwise. */
int chain_unhex(const char *hex, unsigned char h[CHAIN_HASH_SIZE]);

#endif

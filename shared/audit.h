/*
 * audit: a group's ledger as an auditor receives it (splitterctl audit export), checked
 * offline (splitterctl audit verify): no database, no Redis.
 *
 * The ledger is JSON Lines. The first line is the header:
 *
 *   {"ledger":"splitter","version":1,"group_id":G,"currency":C,
 *    "members":[{"id":M,"name":N},...],"head_hash":H|null}
 *
 * members in display order (replay needs them: every member starts at zero); head_hash is
 * the group's head as the database recorded it. Then one line per applied event, oldest
 * first:
 *
 *   {"seq":N,"event_id":E,"group_id":G,"type":T,"actor":U,"accepted_at":A,
 *    "payload":"<the stored payload text, as a JSON string>","hash":H}
 *
 * The payload is a string holding the stored text byte for byte, since the chain covers
 * those bytes (chain.h); replay parses it.
 */
#ifndef SPLITTER_AUDIT_H
#define SPLITTER_AUDIT_H

#include "chain.h"
#include "projection.h"
#include "uuid.h"

#include <stdint.h>
#include <stdio.h>

/* A ledger line longer than this is refused (the api accepts no body over 64 KiB). */
#define AUDIT_LINE_MAX (4u << 20)

struct audit_result {
    struct projection proj; /* the replayed group; release with projection_release */
    unsigned char head[CHAIN_HASH_SIZE];
    int64_t events;
    int64_t recorded_seq; /* the seq whose hash is the recorded head asked for, if any */
    /* on failure: the first event where the ledger breaks (empty when the header or
       the file itself is at fault) and why */
    char event_id[UUID_STR_SIZE];
    int64_t seq;
    char why[320];
};

/*
 * Read a ledger from in: check every event's seq follows the previous one, its hash links
 * it to the previous hash (32 zero bytes before the first), its columns agree with its
 * payload, and replay it into r->proj with the worker's rules (projection.h); at the end
 * the computed head must be the header's head_hash, and recorded (a head an auditor noted
 * earlier; NULL for none) one of the chain's links. 0 when all holds; -1 at the first
 * break, described in r. r->proj is initialised (release it) in both cases.
 */
int audit_verify(FILE *in, const unsigned char *recorded, struct audit_result *r);

#endif

/*
 * batch: the state of one batch of events while apply.c
 * runs its steps (see the numbered steps atop apply.c), and the steps the
 * other files run: load.c (step 2), write.c (step 4, with the COPY and array
 * helpers), publish.c (step 6). Private to the worker.
 *
 * A batch owns everything it points to; apply.c creates and releases it.
 * Not thread-safe: one batch at a time per worker thread.
 */
#ifndef SPLITTER_WORKER_BATCH_H
#define SPLITTER_WORKER_BATCH_H

#include "worker.h"

#include "chain.h"
#include "event.h"
#include "problem.h"
#include "projection.h"
#include "strbuf.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

enum outcome { OUT_APPLIED, OUT_DUPLICATE, OUT_REJECTED, OUT_MALFORMED, OUT_DEFERRED };

/* --- small containers ------------------------------------------------------------------- */

/* A PostgreSQL array literal, built element by element: {"a","b",NULL}.
   Zero-initialised is empty; arr_free releases it. */
struct pgarr {
    struct strbuf sb;
    size_t n;
    int done;
};

void arr_text(struct pgarr *a, const char *s); /* s NULL: a NULL element */
void arr_int(struct pgarr *a, int64_t v);
/* The finished literal (idempotent). Borrowed from a. */
const char *arr_done(struct pgarr *a);
void arr_free(struct pgarr *a);

/* An open-addressing index from a string to a position. Keys are borrowed:
   each must stay valid while the index lives. */
struct idx {
    size_t cap;
    const char **keys;
    size_t *vals;
};

/* Room for n keys (the table never fills past half). */
void idx_init(struct idx *x, size_t n);
/* Position of k, or SIZE_MAX. */
size_t idx_get(const struct idx *x, const char *k);
void idx_put(struct idx *x, const char *k, size_t v);
void idx_free(struct idx *x);

/* --- the batch ---------------------------------------------------------------------------- */

/* One stream entry of the batch. */
struct entry {
    struct event e;   /* decoded (owns its JSON); empty when malformed */
    const char *text; /* the entry's event text, borrowed from the stream entry */
    size_t text_len;
    struct gset *defer; /* borrowed: its partition's groups whose events stay pending */
    enum outcome outcome;
    json_t *problem;     /* owned: why the event was rejected */
    json_t *before;      /* owned: the resource before a replacement or deletion (audit log) */
    json_t *after;       /* owned: the resource a replacement made (audit log) */
    int wait;            /* a request waits: its outcome stays in Redis for a minute */
    json_t *result;      /* owned, when wait: the resource the request answers with */
    json_t *idem_record; /* owned: rejected for a taken key, the api's record of the original */
    int64_t seq;
    unsigned char hash[CHAIN_HASH_SIZE]; /* applied: its link of the group's hash chain */
};

/* A member's name and account, for the cached view. Owned. */
struct member_info {
    char *name, *user_id; /* user_id NULL without an account */
};

/* A group the batch touches, locked for the transaction. */
struct group {
    struct projection proj;   /* members with balances; the expenses and payments the batch names */
    struct member_info *info; /* per member of proj, in the same order */
    int64_t version;
    unsigned char head[CHAIN_HASH_SIZE]; /* the hash of its newest event (zeros: none) */
    int touched;
    int webhooks; /* the group has webhooks: its applied events go to the outbox */
};

/* A resource the write step writes: item k of group g's expenses or
   payments. */
struct row_ref {
    const struct group *g;
    size_t k;
};

/* A partition the batch has entries of (its entries keep their stream
   order). */
struct bpart {
    unsigned p;
    struct gset *defer; /* borrowed: groups whose events stay pending (see apply_batch) */
    const char *last;   /* borrowed: its newest entry id in the batch */
    const char *done;   /* borrowed: its newest entry id not left pending, recorded by the
                           fence; NULL when every one is */
};

struct batch {
    struct worker *w;
    struct entry *ev;
    size_t n_ev;
    struct bpart *parts; /* the partitions of the entries, each once */
    size_t n_parts;
    struct group *groups;
    size_t n_groups;
    struct idx gidx; /* groups by id */
    char applied_at[24];
    char error[256];
    int broken;           /* not a refusal of what the batch wrote: retry the batch later */
    int fenced;           /* the fence refused a lease: see fence_settle (apply.c) */
    int lost;             /* the connection is in no state to be used again */
    struct queued *queue; /* statements batch_queue holds for the next batch_query */
    size_t n_queue, cap_queue;
    PGresult *fence_res; /* the fence's answer (the commit's time) */
};

/* Run a statement in b's transaction, after what batch_queue holds (all in
   one round trip; sql as for batch_queue): the result (caller clears), or
   NULL with the reason in b->error and b->broken set unless PostgreSQL
   refused what the batch wrote. */
PGresult *batch_query(struct batch *b, const char *sql, int n, const char *const *params);

/* Queue a statement of b's transaction whose result is of no interest (or,
   keep not NULL, is kept there for the caller to clear): it is sent with the
   next batch_query, in one pipeline with it, and its failure fails that
   call. The parameters are copied; sql must have static storage (a string
   literal): the connection keeps it prepared by its address. */
void batch_queue(struct batch *b, const char *sql, int n, const char *const *params,
                 PGresult **keep);

/* Run what batch_queue holds now (one round trip). 0, or -1 (see
   batch_query). */
int batch_flush(struct batch *b);

/* Note why res failed (res NULL: the connection's error), telling a refusal
   of what the batch wrote from anything else (b->broken: retry later); clears
   res. */
void batch_failed(struct batch *b, PGresult *res);

/* Mark ev rejected with the problem (code, detail, f; f may be NULL). */
void entry_reject(struct entry *ev, enum problem_code code, const char *detail,
                  const struct fields *f);

/* Step 2 (load.c). 0, or -1 (see batch_query). load_groups locks the groups
   and loads them with their members; load_recorded marks the events already
   recorded; claim_keys claims the Idempotency-Keys; load_resources locks and
   loads the expenses and payments the events replace or delete into their
   groups' projections. Events of groups locked elsewhere become deferred. */
int load_groups(struct batch *b);
int load_recorded(struct batch *b);
int claim_keys(struct batch *b);
int load_resources(struct batch *b);

/* Step 4 (write.c): the events (applied and rejected), the expenses and
   payments the batch changed, the balances, and the groups' versions and
   heads, queued (batch_queue) to go out with the fence and the COMMIT; many
   new rows of a table go in with COPY at once. 0, or -1 (see batch_query). */
int write_batch(struct batch *b);

/* Step 6 (publish.c), after the commit: the views, the waited outcomes,
   statuses, notification, ack and trim, in one pipeline. */
void publish(struct batch *b, const struct stream_entry *entries);

#endif

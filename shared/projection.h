/*
 * projection: one group's ledger state, and the ledger's rules: the one
 * implementation of what an event does.
 *
 * The worker's decide step loads the groups a batch touches into projections
 * (members with their balances, the expenses and payments the batch names),
 * applies each event with projection_apply, and writes what it marked dirty.
 * splitterctl replay builds a projection from a group's applied events, one
 * by one in per-group seq order, and compares it with the tables. Both run
 * this code, so they cannot disagree; tests/unit/test_projection.c pins the
 * rules.
 *
 * The rules: an expense's shares merge its payers and its split members per
 * member, in first-seen order (payers first: ledger_merge_shares); a
 * replacement takes the old shares out of the balances and puts the new ones
 * in, a deletion takes them out (ledger_move_shares); a payment adds to the
 * sender's "sent" and the receiver's "received" (ledger_move_payment), and is
 * replaced or deleted the same way. Which change an event makes and whether
 * it may (version, deleted, a revert bringing a deleted resource back) is
 * ledger_change_of and ledger_change_check. After a change that adds to the
 * balances, the group's sums must stay in range (ledger_volume_add). The
 * request fields are validated again with the api's own code
 * (ledger_expense_parse, ledger_payment_parse); a missing date defaults to the
 * day of accepted_at. An event is applied whole or refused with nothing
 * changed.
 *
 * Not thread-safe per projection; projections are independent.
 */
#ifndef SPLITTER_PROJECTION_H
#define SPLITTER_PROJECTION_H

#include "event.h"
#include "fields.h"
#include "ledger.h"
#include "problem.h"
#include "uuid.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct projection_member {
    char id[UUID_STR_SIZE];
    int64_t paid, owed, sent, received; /* group-currency minor units */
    int dirty;                          /* an applied event moved its balance */
    int removed;                        /* member.removed: no event may name it again */
};

struct projection_expense {
    char id[UUID_STR_SIZE];
    int64_t version, seq, amount_group;
    int64_t created_seq; /* seq of the event that created it */
    int deleted;
    int stored; /* put by projection_put_expense: the caller's store holds it */
    int dirty;  /* an applied event changed it */
    char created_by[UUID_STR_SIZE], created_at[24], updated_at[24];
    json_t *content;             /* owned: the normalised request fields (ledger_expense_to_json) */
    struct ledger_share *shares; /* owned (xmalloc); member: index into projection.members */
    size_t n_shares;
};

struct projection_payment {
    char id[UUID_STR_SIZE], from[UUID_STR_SIZE], to[UUID_STR_SIZE];
    int64_t amount, seq, version;
    int deleted;
    int stored, dirty; /* as for expenses */
    char created_by[UUID_STR_SIZE], created_at[24], updated_at[24], date[11];
    char *note; /* owned (xmalloc); NULL when absent */
};

/* An open-addressing index of one array by id (private to projection.c). */
struct projection_index {
    size_t cap;   /* a power of two, or 0 */
    size_t *slot; /* position + 1; 0: empty */
};

/* A group's state. Owns everything it points to; release with
   projection_release. */
struct projection {
    char group_id[UUID_STR_SIZE], currency[4];
    struct projection_member *members; /* in display order */
    size_t n_members, alloc_members;
    struct projection_expense *expenses; /* in creation (or put) order */
    size_t n_expenses, alloc_expenses;
    struct projection_payment *payments; /* likewise */
    size_t n_payments, alloc_payments;
    int64_t last_seq;
    int archived; /* group.archived: ledger events are refused (PROBLEM_GROUP_ARCHIVED) */
    struct projection_index member_index, expense_index, payment_index;
};

/* Why projection_apply refused an event: the problem the worker records for
   it (code, detail, and the request fields at fault in f). */
struct projection_refusal {
    enum problem_code code;
    char detail[160];
    struct fields f;
};

/* An empty projection of group group_id (currency: ISO code). */
void projection_init(struct projection *p, const char *group_id, const char *currency);

/* Add member id, its balances zero (the caller may set them from its store),
   and return its index. Members must be added in display order before events
   that name them are applied. */
size_t projection_add_member(struct projection *p, const char *id);

/* A new expense id (not yet in p), marked stored, for the caller to fill
   from its store: content and shares become p's. Borrowed from p, valid
   until the next change of p's expenses. */
struct projection_expense *projection_put_expense(struct projection *p, const char *id);

/* The same for a payment (note becomes p's). */
struct projection_payment *projection_put_payment(struct projection *p, const char *id);

/*
 * Apply one event (decoded: event_decode), borrowed, as number seq of the
 * group (last_seq + 1). Returns 0, marking dirty the resource and every
 * member whose balance moved; or -1 with why filled and p unchanged.
 */
int projection_apply(struct projection *p, const struct event *ev, int64_t seq,
                     struct projection_refusal *why);

/*
 * Apply one management event (event.h), borrowed, as number seq: group.archived and
 * group.unarchived set and clear archived, member.removed marks its member removed (it must
 * be a member with every balance component zero; lookups no longer find it), and the others
 * only take their seq (names and accounts are not the ledger's state). Returns 0; or -1 with
 * why filled and p unchanged.
 */
int projection_apply_admin(struct projection *p, const struct event_admin *ev, int64_t seq,
                           struct projection_refusal *why);

/* The same for an event as JSON (borrowed), a ledger event (event_decode_json) or a
   management event (event_admin_decode_json):
   0, or -1 with a lowercase reason in err (p then unchanged). What replay
   runs on each stored payload. */
int projection_apply_json(struct projection *p, const json_t *event, int64_t seq, char *err,
                          size_t err_size);

/* why as one line ("detail: field message"). */
void projection_refusal_text(const struct projection_refusal *why, char *out, size_t size);

/* The payment, expense or member with id: a pointer borrowed from p (valid
   until p's next change) or NULL; an index or SIZE_MAX (also for a removed member). */
const struct projection_payment *projection_payment(const struct projection *p, const char *id);
const struct projection_expense *projection_expense(const struct projection *p, const char *id);
size_t projection_member(const struct projection *p, const char *id);

/* The shares of x as stored in expenses.shares: [{"member_id", "paid", "owed"}].
   New reference. */
json_t *projection_shares_json(const struct projection *p, const struct projection_expense *x);

/* The expense and payment resources of the contract as they stand
   (ledger_expense_resource, ledger_payment_resource). New references. */
json_t *projection_expense_resource(const struct projection *p, const struct projection_expense *x);
json_t *projection_payment_resource(const struct projection *p,
                                    const struct projection_payment *py);

void projection_release(struct projection *p);

#endif

/*
 * projection: one group's ledger state rebuilt from its applied events.
 *
 * The events table holds only the events the worker applied, in per-group
 * seq order. Replaying them one by one through projection_apply, with the
 * same shared validation and rounding the worker ran (ledger_expense_parse,
 * ledger_payment_parse, split), must reproduce the live projection exactly:
 * every balance, every expense's amount, shares, version and deleted flag,
 * every payment, and the group's last seq. splitterctl replay uses it to
 * verify and to rebuild the projection; tests/unit/test_projection.c pins
 * the rules.
 *
 * The rules are worker/apply.c's decide step: an expense's shares merge its
 * payers and its split members per member, in first-seen order (payers
 * first: ledger_merge_shares, the one implementation both call); a
 * replacement takes the old shares out of the balances and puts the new ones
 * in, a deletion takes them out (ledger_move_shares, likewise shared); a
 * payment adds to the sender's "sent" and the receiver's "received"
 * (ledger_move_payment), and is replaced or deleted the same way. Which
 * change an event makes and whether it may (version, deleted, a revert
 * bringing a deleted resource back) is ledger_change_of and
 * ledger_change_check, again the worker's own. Since these events were
 * applied, any refusal here (unknown member, stale If-Match, overflow, invalid payload) means the
 * events and the projection disagree.
 *
 * Not thread-safe per projection; projections are independent.
 */
#ifndef SPLITTER_PROJECTION_H
#define SPLITTER_PROJECTION_H

#include "ledger.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct projection_member {
    char id[37];
    int64_t paid, owed, sent, received; /* group-currency minor units */
};

struct projection_expense {
    char id[37];
    int64_t version, seq, amount_group;
    int64_t created_seq; /* seq of the event that created it */
    int deleted;
    char created_by[37], created_at[24], updated_at[24];
    json_t *content;             /* owned: the normalised request fields (ledger_expense_to_json) */
    struct ledger_share *shares; /* owned; member: index into projection.members */
    size_t n_shares;
};

struct projection_payment {
    char id[37], from[37], to[37];
    int64_t amount, seq, version;
    int deleted;
    char created_by[37], created_at[24], updated_at[24], date[11];
    char *note; /* owned; NULL when absent */
};

/* A group's state. Owns everything it points to; release with
   projection_release. */
struct projection {
    char group_id[37], currency[4];
    struct projection_member *members; /* in display order */
    size_t n_members, alloc_members;
    struct projection_expense *expenses; /* in creation order */
    size_t n_expenses, alloc_expenses;
    struct projection_payment *payments; /* in creation order */
    size_t n_payments, alloc_payments;
    int64_t last_seq;
};

/* An empty projection of group group_id (currency: ISO code). */
void projection_init(struct projection *p, const char *group_id, const char *currency);

/* Add member id (every member starts at zero). Members must be added in
   display order before events that name them are applied. */
void projection_add_member(struct projection *p, const char *id);

/*
 * Apply one applied event: event is the event object as the api queued it
 * ({"event_id", "type", "group_id", "actor", "accepted_at", "expense_id" |
 * "payment_id", "data", "if_match"?}), borrowed; seq its number in the group.
 * Returns 0; or -1 with a lowercase reason in err (the projection is then
 * unchanged).
 */
int projection_apply(struct projection *p, const json_t *event, int64_t seq, char *err,
                     size_t err_size);

/* The payment with id, or NULL. Borrowed from p. */
const struct projection_payment *projection_payment(const struct projection *p, const char *id);

/* The expense with id, or NULL. Borrowed from p. */
const struct projection_expense *projection_expense(const struct projection *p, const char *id);

/* The member index of id, or SIZE_MAX. */
size_t projection_member(const struct projection *p, const char *id);

/* The shares of x as stored in expenses.shares: [{"member_id", "paid", "owed"}].
   New reference. */
json_t *projection_shares_json(const struct projection *p, const struct projection_expense *x);

void projection_release(struct projection *p);

#endif

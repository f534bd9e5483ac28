/*
 * ledger: expense and payment requests, validated and computed once.
 *
 * The api validates a request with these functions before it enqueues the
 * event; the worker runs the very same functions on the event's payload at
 * apply time, so both agree to the unit on every share. Membership of the
 * member ids is checked by the caller (it knows the group's members).
 */
#ifndef SPLITTER_LEDGER_H
#define SPLITTER_LEDGER_H

#include "event.h"
#include "fields.h"
#include "json.h"
#include "money.h"
#include "uuid.h"
#include "problem.h"
#include "recur.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_MAX_MEMBERS 200 /* payers or split members in one expense */
#define LEDGER_DESCRIPTION_MAX 200
#define LEDGER_CATEGORY_MAX 50
#define LEDGER_NOTE_MAX 500
#define LEDGER_RATE_MAX_SCALE 12 /* fraction digits of an exchange rate */
#define LEDGER_VALUE_MAX 1000000 /* largest percent or shares value */
#define LEDGER_MAX_ITEMS 200     /* lines of an itemised bill */
#define LEDGER_MAX_CHARGES 10    /* tax, tip and service charges of an itemised bill */
#define LEDGER_ITEM_NAME_MAX 100
#define LEDGER_QUANTITY_MAX 1000000

enum ledger_split_mode { LEDGER_EQUAL, LEDGER_EXACT, LEDGER_PERCENT, LEDGER_SHARES, LEDGER_ITEMS };

struct ledger_part {
    char member_id[UUID_STR_SIZE];
    int64_t value;    /* payer: amount; exact: minor units; percent/shares: hundredths;
                         items: 0 */
    int64_t computed; /* payer: paid in group currency; split: owed in group currency */
    int item, pos;    /* items mode: where the member first appears,
                         split.items[item].split.members[pos] */
};

/* One line of an itemised bill (split mode "items"). Owns name, member and
   weight. */
struct ledger_item {
    char *name;
    int64_t price, quantity; /* minor units of the expense currency; >= 1 */
    int shares;              /* 0: split equally, 1: by shares */
    size_t n;                /* members sharing it */
    size_t *member;          /* n indexes into the expense's split (its members) */
    int64_t *weight;         /* n weights: 1 each (equal) or hundredths of shares */
};

enum ledger_charge_kind { LEDGER_TAX, LEDGER_TIP, LEDGER_SERVICE };

/* One charge of an itemised bill: an amount, or a percentage of the subtotal. */
struct ledger_charge {
    enum ledger_charge_kind kind;
    int is_percent;
    int64_t value;  /* minor units, or hundredths of a percent */
    int64_t amount; /* the charge in minor units of the expense currency */
};

/* A valid expense. Owns description, category, paid and split. */
struct ledger_expense {
    char *description;
    int64_t amount; /* minor units of currency */
    char currency[4];
    struct decimal rate; /* group-currency units per one unit of currency */
    char rate_text[48];  /* the rate as the client wrote it ("1" when absent) */
    char date[11];       /* YYYY-MM-DD */
    char *category;      /* NULL when absent */
    enum ledger_split_mode mode;
    size_t n_paid, n_split;
    struct ledger_part *paid, *split; /* items mode: split lists the members in the
                                         order they first appear across the items */
    size_t n_items, n_charges;        /* items mode only, else 0 */
    struct ledger_item *items;
    struct ledger_charge *charges;
    int64_t amount_group; /* amount converted to the group currency */
    int has_recurrence;   /* the expense repeats: recurrence holds the rule */
    struct recur_rule recurrence;
    char recurrence_of[UUID_STR_SIZE]; /* an occurrence: its rule's (template's) id; else "" */
};

/* The request field that names e's split member i into buf ("split.members[2]", or
   "split.items[3].split.members[1]" for an itemised bill: where it first appears). */
void ledger_split_path(const struct ledger_expense *e, size_t i, char *buf, size_t size);

/* One member's part in an expense, in group-currency minor units: what the
   member paid and what the member owes (the rows of expenses.shares). */
struct ledger_share {
    size_t member; /* the caller's index of the member */
    int64_t paid, owed;
};

/* e's payers, then its split members, merged per member in first-seen order:
   the one rule for an expense's shares (the worker's decide step and the
   replay projection both use it). member_of(id, ctx) gives a member's index,
   or SIZE_MAX when id is not a member of the group; each such id is noted in
   f with its field path ("paid_by[0].member_id"). Returns the shares (caller
   frees) and their number in *n, or NULL when an id is not a member. */
struct ledger_share *ledger_merge_shares(const struct ledger_expense *e,
                                         size_t (*member_of)(const char *id, void *ctx), void *ctx,
                                         size_t *n, struct fields *f);

/* Add (sign 1) or take out (sign -1) shares from balances, all or nothing:
   balance(member, owed, ctx) gives the member's paid (owed 0) or owed
   (owed 1) total to change. 0, or -1 when a total would overflow (then none
   changed). The members of sh are distinct (as ledger_merge_shares makes
   them). */
int ledger_move_shares(const struct ledger_share *sh, size_t n, int sign,
                       int64_t *(*balance)(size_t member, int owed, void *ctx), void *ctx);

/*
 * Sums stay in range: the one rule the api (at acceptance) and the worker (at
 * apply time) both run. A group's volume is the sum over its members of paid
 * and sent (credit) and of owed and received (debit). While both fit in
 * int64, so do every member's paid, owed, sent and received, every balance
 * (paid - owed + sent - received, and each partial sum of it in any order),
 * the sum of the positive balances (all that settlement moves) and so every
 * transfer, and every total over the group. A write is accepted, and applied,
 * only when the group's volume after it still fits.
 */
struct ledger_volume {
    int64_t credit, debit;
};

#define LEDGER_RANGE_DETAIL "the group's balances or totals would leave the 64-bit range"

/* Add one member's (or one write's) paid, owed, sent and received, each
   >= 0, to v. 0; or -1 when a value is negative or a sum would not fit (v
   unchanged). */
int ledger_volume_add(struct ledger_volume *v, int64_t paid, int64_t owed, int64_t sent,
                      int64_t received);

/* Add what expense e puts into its group: its payers' and its split
   members' shares in the group currency. 0, or -1 as ledger_volume_add. */
int ledger_volume_add_expense(struct ledger_volume *v, const struct ledger_expense *e);

/* v from its text form "credit:debit" (decimal; what the cached view and
   the api's PostgreSQL fallback give). A sum past int64 (a group already
   out of range) reads as INT64_MAX, so nothing more fits. 0, or -1 when s is
   not of that form. */
int ledger_volume_parse(const char *s, struct ledger_volume *v);

/* A valid payment: from_member paid to_member amount (group currency). */
struct ledger_payment {
    char from_member[UUID_STR_SIZE], to_member[UUID_STR_SIZE];
    int64_t amount;
    char date[11];
    char *note; /* owned, NULL when absent */
};

/* Validate body (an object from doc) as an expense of a group whose currency
   is group_currency, compute the conversion and every share, and fill e.
   today ("YYYY-MM-DD") is the default date. Besides the fields of every
   expense, "recurrence" (null, or {"every": 1..366, "unit": "day" | "week" |
   "month" | "year", "until": a date not before "date", or null}) and
   "recurrence_of" (null, or the template's id: set on the occurrences a rule
   creates, never together with a recurrence). Returns 0; or -1 with the
   reasons in f and e released. */
int ledger_expense_parse(const struct json_doc *doc, const json_t *body, const char *group_currency,
                         const char *today, struct ledger_expense *e, struct fields *f);

/* Free what e owns; e may be reused. */
void ledger_expense_release(struct ledger_expense *e);

/* The request's fields in normal form (decimals as exact strings): what the
   event carries and the expense resource starts from. New reference. */
json_t *ledger_expense_to_json(const struct ledger_expense *e);

/* One member's owed share of an expense, in group-currency minor units. */
struct ledger_owed {
    const char *member_id; /* borrowed */
    int64_t owed;
};

/* What an expense carries beside its request fields. Strings borrowed. */
struct ledger_expense_meta {
    const char *id, *group_id, *created_by;
    const char *created_at, *updated_at; /* RFC 3339 UTC, seconds */
    int64_t amount_group, version;
};

/* The expense resource of the contract: content (the request fields in normal
   form, as ledger_expense_to_json makes them; borrowed, deep-copied) plus m,
   and "shares": one {member_id, amount} per entry of split.members in its
   order, amount the owed share of that member in owed[0..n_owed) (0 when it
   has none). The worker (event statuses) and the api (GET) both build it here,
   so both answer the same shape. New reference. */
json_t *ledger_expense_resource(const json_t *content, const struct ledger_expense_meta *m,
                                const struct ledger_owed *owed, size_t n_owed);

/* The same as ledger_expense_parse for a payment. */
int ledger_payment_parse(const json_t *body, const char *today, struct ledger_payment *p,
                         struct fields *f);
void ledger_payment_release(struct ledger_payment *p);
json_t *ledger_payment_to_json(const struct ledger_payment *p);

/* The payment resource of the contract: content (the request fields in normal
   form, as ledger_payment_to_json makes them; borrowed, deep-copied) plus
   "id", "group_id", "created_by", "created_at", "updated_at", "version" from
   m (its amount_group is not used). The worker (event results, the audit log)
   and the api (GET) both build it here. New reference. */
json_t *ledger_payment_resource(const json_t *content, const struct ledger_expense_meta *m);

/* Add (sign 1) or take out (sign -1) a payment of amount from the sender's
   "sent" and the receiver's "received" totals, both or neither: 0, or -1 when
   either would overflow (then neither changed). The one rule for a payment's
   effect on balances (worker and replay). */
int ledger_move_payment(int64_t *sent, int64_t *received, int64_t amount, int sign);

/* --- what a ledger event does to its resource (an expense or a payment) --------------------- */

enum ledger_op {
    LEDGER_OP_CREATE,  /* "<kind>.created": a new resource with content */
    LEDGER_OP_REPLACE, /* "<kind>.replaced": content replaces a live resource's */
    LEDGER_OP_DELETE,  /* "<kind>.deleted", or a revert to "deleted": out of the balances */
    LEDGER_OP_RESTORE, /* a revert to content: a live resource takes it, a deleted one comes
                          back with it */
};

/* One event's change. content and reverts are borrowed from the event. */
struct ledger_change {
    enum ledger_op op;
    const json_t *content; /* the request fields the resource takes; NULL for a deletion */
    const char *reverts;   /* "<kind>.reverted": the event it undoes; else NULL */
};

/* Read an event of type with its data: "<kind>.created" / ".replaced" carry
   the content as data, ".deleted" none, ".reverted" {"reverts": event id,
   "restore": the content or null (the resource is deleted)}. 0, or -1 when
   type is no event type or the data is malformed for it. */
int ledger_change_of(enum event_type type, const json_t *data, struct ledger_change *ch);

/* Whether ch may apply to a resource of kind that exists in the group (exists
   1) with deleted and version; if_match 0 when the event has none (a revert
   must have one). 0; or -1 with *code (PROBLEM_NOT_FOUND,
   PROBLEM_VERSION_CONFLICT, PROBLEM_PRECONDITION_REQUIRED) and a lowercase
   detail. The one rule the worker's decide step and replay both apply. */
int ledger_change_check(const struct ledger_change *ch, const char *kind, int exists, int deleted,
                        int64_t version, int64_t if_match, enum problem_code *code, char *detail,
                        size_t detail_size);

/* 1 if s is a lowercase canonical UUID string, else 0. */
int ledger_is_uuid(const char *s);

/* 1 if s is a valid calendar date YYYY-MM-DD, else 0. */
int ledger_is_date(const char *s);

/* Today's date in UTC as YYYY-MM-DD into buf (>= 11 bytes). */
void ledger_today(char *buf);

#endif

/*
 * event: the ledger event, the one format the api queues and the worker,
 * the replay projection and the tools read.
 *
 * An event is one compact JSON object, its keys in this order:
 *
 *   {"event_id", "type", "group_id", "actor", "accepted_at",
 *    "expense_id" | "payment_id", "data", "if_match"?,
 *    "idempotency_key"?, "idempotency_key_sha256"?, "request_sha256"?}
 *
 * event_id, group_id, actor and the target id are lowercase UUIDs; type one
 * of enum event_type's names; accepted_at the acceptance time in UTC to the
 * second (YYYY-MM-DDTHH:MM:SSZ); the target key is "expense_id" for an
 * expense's events and "payment_id" for a payment's; data the request fields
 * in normal form ("<kind>.created" / ".replaced"), null (".deleted"), or
 * {"reverts", "restore"} (".reverted", see ledger_change_of); if_match the
 * If-Match version when the request had one; when the request had an
 * Idempotency-Key, the key itself and (but for events accepted before they
 * were carried) its SHA-256 and that of the request, lowercase hex.
 *
 * Encoding and decoding live here only: nothing else builds or takes apart
 * an event's JSON, and nothing compares event types as strings.
 */
#ifndef SPLITTER_EVENT_H
#define SPLITTER_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum event_type {
    EVENT_EXPENSE_CREATED,
    EVENT_EXPENSE_REPLACED,
    EVENT_EXPENSE_DELETED,
    EVENT_EXPENSE_REVERTED,
    EVENT_PAYMENT_CREATED,
    EVENT_PAYMENT_REPLACED,
    EVENT_PAYMENT_DELETED,
    EVENT_PAYMENT_REVERTED,
    EVENT_TYPE_COUNT
};

/* What an event changes: an expense or a payment. */
enum event_kind { EVENT_EXPENSE, EVENT_PAYMENT };

/* What an event does to its resource, whatever its kind. */
enum event_action { EVENT_CREATED, EVENT_REPLACED, EVENT_DELETED, EVENT_REVERTED };

/* The type's name ("expense.created"). Static storage. */
const char *event_type_name(enum event_type type);

/* The type named name. 0, or -1 when name is no event type. */
int event_type_parse(const char *name, enum event_type *type);

enum event_kind event_kind_of(enum event_type type);
enum event_action event_action_of(enum event_type type);

/* The type of action on a resource of kind. */
enum event_type event_type_of(enum event_kind kind, enum event_action action);

/* "expense" or "payment". Static storage. */
const char *event_kind_name(enum event_kind kind);

/* The key of the target id: "expense_id" or "payment_id". Static storage. */
const char *event_target_key(enum event_kind kind);

/* How deep an event's JSON may nest: above the api's bound on a request body
   (16) and the levels an event wraps around the request's fields (data, and
   a revert's restore). */
#define EVENT_MAX_DEPTH 32

/* One event. Every string is borrowed: from root when event_decode filled it,
   from the caller when it is given to event_encode. */
struct event {
    enum event_type type;
    const char *id, *group_id, *actor, *accepted_at;
    const char *target;                 /* the expense's or payment's id */
    const json_t *data;                 /* NULL when the event has none (json null is a value) */
    int64_t if_match;                   /* 0 when absent */
    const char *idem;                   /* the Idempotency-Key, NULL when absent; idem_len bytes */
    size_t idem_len;                    /* (need not be NUL-terminated when encoding) */
    const char *idem_sha, *request_sha; /* NULL when absent */
    json_t *root;                       /* owned by a decoded event; NULL otherwise */
};

/* The data of a "<kind>.reverted" event: {"reverts": reverts (the event it
   undoes), "restore": restore (the resource's request fields as they stood
   before it, or json null: the resource is deleted)}. Steals restore. New
   reference. */
json_t *event_revert_data(const char *reverts, json_t *restore);

/* The event's text (the format above). Caller frees. */
char *event_encode(const struct event *ev);

/*
 * Read text[0 .. len) as an event into ev and check its form: strict JSON
 * (json_doc_parse: valid UTF-8, no duplicate key, at most EVENT_MAX_DEPTH
 * deep) holding an object, no NUL in the fields read here, the UUIDs
 * lowercase and canonical, a known type, the target key of the
 * type's kind, accepted_at in its canonical form, if_match a positive
 * integer when present, the key a string, and the two digests both or
 * neither, with the key, 64 lowercase hex digits each. Whether the data is right for the
 * type is the ledger's to say (ledger_change_of), when the event is applied.
 * Returns 0, ev owning its parsed JSON (release with event_release); or -1
 * with a lowercase reason in err and ev holding nothing.
 */
int event_decode(const char *text, size_t len, struct event *ev, char *err, size_t err_size);

/* The same for an already parsed object (borrowed: ev->root takes a new
   reference). */
int event_decode_json(const json_t *root, struct event *ev, char *err, size_t err_size);

/* Free what a decoded ev owns; ev is then empty. */
void event_release(struct event *ev);

/*
 * Management events: a change to the group itself, its members or its invites, made by a
 * synchronous api route and recorded in the group's ledger in the same transaction
 * (postgres/migrations/011_manage.sql builds their payloads). They never travel a stream and
 * move no balance; replay applies them (projection_apply_admin). Their payload is
 *
 *   {"event_id", "type", "group_id", "actor", "accepted_at", "data"}
 *
 * with data, by type: group.renamed {"name"}; group.archived, group.unarchived {};
 * member.renamed {"member_id", "name"} (the new name); member.removed {"member_id", "name"}
 * (the name it had, since it leaves every list); member.left {"member_id"};
 * invite.revoked {"invite_id"}.
 */
enum event_admin_type {
    EVENT_GROUP_RENAMED,
    EVENT_GROUP_ARCHIVED,
    EVENT_GROUP_UNARCHIVED,
    EVENT_MEMBER_RENAMED,
    EVENT_MEMBER_REMOVED,
    EVENT_MEMBER_LEFT,
    EVENT_INVITE_REVOKED,
    EVENT_ADMIN_COUNT
};

/* The type's name ("group.renamed"). Static storage. */
const char *event_admin_name(enum event_admin_type type);

/* The management type named name. 0, or -1 when name is none. */
int event_admin_parse(const char *name, enum event_admin_type *type);

/* One management event; strings borrowed from root. */
struct event_admin {
    enum event_admin_type type;
    const char *id, *group_id, *actor, *accepted_at;
    const char *member_id; /* member.*: the member; NULL otherwise */
    const char *name;      /* group.renamed, member.renamed, member.removed; NULL otherwise */
    json_t *root;          /* owned */
};

/* Read root (borrowed: ev->root takes a new reference) as a management event and check its
   form and its data's. 0; or -1 with a lowercase reason in err and ev holding nothing. */
int event_admin_decode_json(const json_t *root, struct event_admin *ev, char *err, size_t err_size);

/* Free what a decoded ev owns. */
void event_admin_release(struct event_admin *ev);

#endif

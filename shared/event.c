/*
 * event: encoding and decoding the ledger event (see event.h).
 */
#include "event.h"

#include "json.h"
#include "ledger.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[EVENT_TYPE_COUNT] = {
    [EVENT_EXPENSE_CREATED] = "expense.created", [EVENT_EXPENSE_REPLACED] = "expense.replaced",
    [EVENT_EXPENSE_DELETED] = "expense.deleted", [EVENT_EXPENSE_REVERTED] = "expense.reverted",
    [EVENT_PAYMENT_CREATED] = "payment.created", [EVENT_PAYMENT_REPLACED] = "payment.replaced",
    [EVENT_PAYMENT_DELETED] = "payment.deleted", [EVENT_PAYMENT_REVERTED] = "payment.reverted",
};

/* The types are laid out kind by kind, action by action. */
#define EVENT_ACTIONS 4

const char *event_type_name(enum event_type type)
{
    return (unsigned)type < EVENT_TYPE_COUNT ? type_names[type] : "unknown";
}

int event_type_parse(const char *name, enum event_type *type)
{
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        if (strcmp(name, type_names[t]) == 0) {
            *type = (enum event_type)t;
            return 0;
        }
    }
    return -1;
}

enum event_kind event_kind_of(enum event_type type)
{
    return (unsigned)type / EVENT_ACTIONS == 0 ? EVENT_EXPENSE : EVENT_PAYMENT;
}

enum event_action event_action_of(enum event_type type)
{
    return (enum event_action)((unsigned)type % EVENT_ACTIONS);
}

enum event_type event_type_of(enum event_kind kind, enum event_action action)
{
    return (enum event_type)((kind == EVENT_PAYMENT ? EVENT_ACTIONS : 0) + (int)action);
}

const char *event_kind_name(enum event_kind kind)
{
    return kind == EVENT_PAYMENT ? "payment" : "expense";
}

const char *event_target_key(enum event_kind kind)
{
    return kind == EVENT_PAYMENT ? "payment_id" : "expense_id";
}

json_t *event_revert_data(const char *reverts, json_t *restore)
{
    return json_pack("{s:s, s:o}", "reverts", reverts, "restore", restore);
}

char *event_encode(const struct event *ev)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "event_id", ev->id, "type",
                          event_type_name(ev->type), "group_id", ev->group_id, "actor", ev->actor,
                          "accepted_at", ev->accepted_at, event_target_key(event_kind_of(ev->type)),
                          ev->target, "data", ev->data ? ev->data : json_null());
    if (ev->if_match)
        json_object_set_new(o, "if_match", json_integer(ev->if_match));
    if (ev->idem)
        json_object_set_new(o, "idempotency_key", json_stringn(ev->idem, ev->idem_len));
    if (ev->idem && ev->idem_sha && ev->request_sha) {
        json_object_set_new(o, "idempotency_key_sha256", json_string(ev->idem_sha));
        json_object_set_new(o, "request_sha256", json_string(ev->request_sha));
    }
    char *text = json_dump_compact(o);
    json_decref(o);
    return text;
}

static int fail(struct event *ev, char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct event *ev, char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    event_release(ev);
    return -1;
}

/* The string under k, or NULL when there is none or it holds a NUL. */
static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

/* YYYY-MM-DDTHH:MM:SSZ, a real date and time of day. */
static int is_time(const char *s)
{
    static const char form[] = "dddd-dd-ddTdd:dd:ddZ";
    char date[11];
    if (strlen(s) != sizeof(form) - 1)
        return 0;
    for (size_t i = 0; form[i]; i++)
        if (form[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != form[i])
            return 0;
    memcpy(date, s, 10);
    date[10] = '\0';
    int hh = (s[11] - '0') * 10 + s[12] - '0', mm = (s[14] - '0') * 10 + s[15] - '0',
        ss = (s[17] - '0') * 10 + s[18] - '0';
    return ledger_is_date(date) && hh < 24 && mm < 60 && ss < 60;
}

static int is_sha(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

int event_decode_json(const json_t *root, struct event *ev, char *err, size_t err_size)
{
    static const char *const uuid_keys[] = {"event_id", "group_id", "actor"};
    const char *type;

    memset(ev, 0, sizeof(*ev));
    if (!json_is_object(root))
        return fail(ev, err, err_size, "the event is not a JSON object");
    ev->root = json_incref((json_t *)root);
    for (size_t i = 0; i < sizeof(uuid_keys) / sizeof(uuid_keys[0]); i++) {
        const char *v = jstr(root, uuid_keys[i]);
        if (!v || !ledger_is_uuid(v))
            return fail(ev, err, err_size, "%s is not a lowercase uuid", uuid_keys[i]);
    }
    ev->id = jstr(root, "event_id");
    ev->group_id = jstr(root, "group_id");
    ev->actor = jstr(root, "actor");
    type = jstr(root, "type");
    if (!type || event_type_parse(type, &ev->type) != 0)
        return fail(ev, err, err_size, "type is not an event type");
    const char *key = event_target_key(event_kind_of(ev->type));
    ev->target = jstr(root, key);
    if (!ev->target || !ledger_is_uuid(ev->target))
        return fail(ev, err, err_size, "%s is not a lowercase uuid", key);
    ev->accepted_at = jstr(root, "accepted_at");
    if (!ev->accepted_at || !is_time(ev->accepted_at))
        return fail(ev, err, err_size, "accepted_at is not YYYY-MM-DDTHH:MM:SSZ");
    ev->data = json_object_get(root, "data");
    const json_t *m = json_object_get(root, "if_match");
    if (m) {
        if (!json_is_integer(m) || json_integer_value(m) < 1)
            return fail(ev, err, err_size, "if_match is not a positive integer");
        ev->if_match = json_integer_value(m);
    }
    /* Events accepted before the digests were carried have the key alone. */
    const json_t *idem = json_object_get(root, "idempotency_key");
    if (idem) {
        if (!json_is_string(idem))
            return fail(ev, err, err_size, "idempotency_key is not a string");
        ev->idem = json_string_value(idem);
        ev->idem_len = json_string_length(idem);
    }
    ev->idem_sha = jstr(root, "idempotency_key_sha256");
    ev->request_sha = jstr(root, "request_sha256");
    if (ev->idem_sha || ev->request_sha) {
        if (!ev->idem || !ev->idem_sha || !ev->request_sha)
            return fail(ev, err, err_size, "the idempotency fields are incomplete");
        if (!is_sha(ev->idem_sha) || !is_sha(ev->request_sha))
            return fail(ev, err, err_size, "an idempotency digest is not lowercase sha-256 hex");
    }
    return 0;
}

int event_decode(const char *text, size_t len, struct event *ev, char *err, size_t err_size)
{
    struct json_doc doc;
    struct json_doc_error je;
    /* The strict reader, not jansson's: it reads an event in 0.4 of the time
       (bench/bench_json.c), and it refuses a repeated key, where jansson
       would keep the last copy. */
    if (json_doc_parse(&doc, text, len, EVENT_MAX_DEPTH, &je) != 0) {
        memset(ev, 0, sizeof(*ev));
        snprintf(err, err_size, "the event is not JSON: %s%s%s", je.message,
                 je.field[0] ? " at " : "", je.field);
        return -1;
    }
    int rc = event_decode_json(doc.root, ev, err, err_size);
    json_doc_release(&doc);
    return rc;
}

void event_release(struct event *ev)
{
    json_decref(ev->root);
    memset(ev, 0, sizeof(*ev));
}

/* --- management events ------------------------------------------------------------------ */

static const char *const admin_names[EVENT_ADMIN_COUNT] = {
    [EVENT_GROUP_RENAMED] = "group.renamed",       [EVENT_GROUP_ARCHIVED] = "group.archived",
    [EVENT_GROUP_UNARCHIVED] = "group.unarchived", [EVENT_MEMBER_RENAMED] = "member.renamed",
    [EVENT_MEMBER_REMOVED] = "member.removed",     [EVENT_MEMBER_LEFT] = "member.left",
    [EVENT_INVITE_REVOKED] = "invite.revoked",
};

const char *event_admin_name(enum event_admin_type type)
{
    return (unsigned)type < EVENT_ADMIN_COUNT ? admin_names[type] : "unknown";
}

int event_admin_parse(const char *name, enum event_admin_type *type)
{
    for (int t = 0; t < EVENT_ADMIN_COUNT; t++) {
        if (strcmp(name, admin_names[t]) == 0) {
            *type = (enum event_admin_type)t;
            return 0;
        }
    }
    return -1;
}

static int admin_fail(struct event_admin *ev, char *err, size_t size, const char *what)
{
    snprintf(err, size, "%s", what);
    event_admin_release(ev);
    return -1;
}

int event_admin_decode_json(const json_t *root, struct event_admin *ev, char *err, size_t err_size)
{
    static const char *const uuid_keys[] = {"event_id", "group_id", "actor"};
    const char *type;

    memset(ev, 0, sizeof(*ev));
    if (!json_is_object(root))
        return admin_fail(ev, err, err_size, "the event is not a JSON object");
    ev->root = json_incref((json_t *)root);
    for (size_t i = 0; i < sizeof(uuid_keys) / sizeof(uuid_keys[0]); i++) {
        const char *v = jstr(root, uuid_keys[i]);
        if (!v || !ledger_is_uuid(v))
            return admin_fail(ev, err, err_size, "an id is not a lowercase uuid");
    }
    ev->id = jstr(root, "event_id");
    ev->group_id = jstr(root, "group_id");
    ev->actor = jstr(root, "actor");
    type = jstr(root, "type");
    if (!type || event_admin_parse(type, &ev->type) != 0)
        return admin_fail(ev, err, err_size, "type is not a management event type");
    ev->accepted_at = jstr(root, "accepted_at");
    if (!ev->accepted_at || !is_time(ev->accepted_at))
        return admin_fail(ev, err, err_size, "accepted_at is not YYYY-MM-DDTHH:MM:SSZ");
    const json_t *data = json_object_get(root, "data");
    if (!json_is_object(data))
        return admin_fail(ev, err, err_size, "data is not an object");
    size_t want = 0;
    switch (ev->type) {
    case EVENT_GROUP_RENAMED:
        want = 1;
        ev->name = jstr(data, "name");
        if (!ev->name || !*ev->name)
            return admin_fail(ev, err, err_size, "data.name is not a name");
        break;
    case EVENT_MEMBER_RENAMED:
    case EVENT_MEMBER_REMOVED:
        want = 2;
        ev->name = jstr(data, "name");
        if (!ev->name || !*ev->name)
            return admin_fail(ev, err, err_size, "data.name is not a name");
        /* fall through */
    case EVENT_MEMBER_LEFT:
        want = want ? want : 1;
        ev->member_id = jstr(data, "member_id");
        if (!ev->member_id || !ledger_is_uuid(ev->member_id))
            return admin_fail(ev, err, err_size, "data.member_id is not a lowercase uuid");
        break;
    case EVENT_INVITE_REVOKED:
        want = 1;
        if (!jstr(data, "invite_id") || !ledger_is_uuid(jstr(data, "invite_id")))
            return admin_fail(ev, err, err_size, "data.invite_id is not a lowercase uuid");
        break;
    default:
        break;
    }
    if (json_object_size(data) != want)
        return admin_fail(ev, err, err_size, "data has fields its type does not carry");
    return 0;
}

void event_admin_release(struct event_admin *ev)
{
    json_decref(ev->root);
    memset(ev, 0, sizeof(*ev));
}

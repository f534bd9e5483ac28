/*
 * POST /api/v1/groups/import: a new group, owned by the caller, from an
 * export (splitter's own export.json, Spliit's JSON, IHateMoney's JSON or
 * Splitwise's CSV; shared/import.c converts them).
 *
 * Every entry is validated with the ledger's own parsers before anything is
 * written: one invalid entry is 422 and nothing is created. Then one
 * synchronous statement (pg_write, so the Idempotency-Key, which is
 * required, holds) creates the group and its members: the member named like
 * the caller's account (case-insensitively) becomes the caller's, else the
 * caller joins as one more member. Then every entry goes onto the group's
 * partition stream as an ordinary expense.created or payment.created event,
 * pipelined, the worker applying them as it applies any write. Each event's
 * id and its expense's or payment's id are derived from the group's id and
 * the entry's position, so a retry with the same key (which finds the same
 * group) queues the same events again, and the worker skips those it has
 * recorded: nothing is doubled. The answer is 202 with the group, the number
 * of events, the converter's report and the last event's id.
 */
#include "api.h"

#include "event.h"
#include "import.h"
#include "keys.h"
#include "ledger.h"
#include "money.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const import_keys[] = {"format", "name", "currency", "data", NULL};

struct import_state {
    struct import_group g;
    char (*ids)[UUID_STR_SIZE]; /* owned: the members' ids, g.members' order */
    char currency[4];
    json_t *group;  /* owned: the group resource, once created */
    size_t pending; /* XADDs not answered yet */
    int failed;     /* one of them failed */
    char last_event[UUID_STR_SIZE];
};

static void import_state_release(struct rctx *c)
{
    struct import_state *s = c->work;
    if (!s)
        return;
    import_release(&s->g);
    free(s->ids);
    json_decref(s->group);
    /* rctx_free frees s itself. */
}

/* Entry i bound to s->ids, validated and in normal form (a new reference), or
   NULL with its faults in f (paths prefixed "data entry <i>"). */
static json_t *entry_checked(struct import_state *s, size_t i, struct fields *f)
{
    const json_t *en = json_array_get(s->g.entries, i);
    int expense = strcmp(json_string_value(json_object_get(en, "kind")), "expense") == 0;
    json_t *bound = import_bind(json_object_get(en, "data"), (const char(*)[UUID_STR_SIZE])s->ids,
                                s->g.n_members);
    struct json_doc none = {0};
    struct fields ef = {0};
    json_t *out = NULL;
    char today[11];
    ledger_today(today);
    if (expense) {
        struct ledger_expense e;
        if (ledger_expense_parse(&none, bound, s->currency, today, &e, &ef) == 0) {
            out = ledger_expense_to_json(&e);
            ledger_expense_release(&e);
        }
    } else {
        struct ledger_payment p;
        if (ledger_payment_parse(bound, today, &p, &ef) == 0) {
            out = ledger_payment_to_json(&p);
            ledger_payment_release(&p);
        }
    }
    json_decref(bound);
    for (size_t k = 0; k < ef.n; k++) {
        char path[128];
        snprintf(path, sizeof(path), "data entry %zu (%s): %s", i, expense ? "expense" : "payment",
                 ef.e[k].field);
        fields_add(f, path, "%s", ef.e[k].message);
    }
    return out;
}

static void answer_import(struct rctx *c)
{
    struct import_state *s = c->work;
    if (s->failed) {
        respond_problem(c, PROBLEM_UNAVAILABLE,
                        "the group is created but its entries could not all be queued; retry with "
                        "the same Idempotency-Key",
                        NULL);
        return;
    }
    char loc[96];
    snprintf(loc, sizeof(loc), "/api/v1/groups/%s",
             json_string_value(json_object_get(s->group, "id")));
    add_header(c, H2O_TOKEN_LOCATION, loc);
    json_t *body = json_pack("{s:O, s:I, s:O, s:s}", "group", s->group, "events",
                             (json_int_t)json_array_size(s->g.entries), "report", s->g.report,
                             "status", "queued");
    if (s->last_event[0])
        json_object_set_new(body, "last_event_id", json_string(s->last_event));
    respond_json(c, 202, body);
}

static void on_queued(redisReply *r, struct rctx *c)
{
    struct import_state *s = c->work;
    if (!r || r->type == REDIS_REPLY_ERROR)
        s->failed = 1;
    s->pending--;
    if (!rctx_unref_live(c))
        return;
    if (s->pending == 0)
        answer_import(c);
}

/* Row: the group resource, the members' ids as a JSON array (as first created). */
static void on_created(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    struct import_state *s = c->work;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_UNAUTHORIZED, "the account no longer exists", NULL);
        return;
    }
    s->group = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    json_t *ids = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    const char *gid = json_string_value(json_object_get(s->group, "id"));
    if (!gid || json_array_size(ids) != s->g.n_members) {
        json_decref(ids);
        respond_problem(c, PROBLEM_INTERNAL, "the group was not created as expected", NULL);
        return;
    }
    /* A replayed key: the members are those the first request created. */
    for (size_t i = 0; i < s->g.n_members; i++)
        snprintf(s->ids[i], UUID_STR_SIZE, "%s", json_string_value(json_array_get(ids, i)));
    json_decref(ids);
    snprintf(c->group_id, sizeof(c->group_id), "%s", gid);

    size_t n = json_array_size(s->g.entries);
    if (n == 0) {
        answer_import(c);
        return;
    }
    char stream[64], accepted[32];
    keys_stream(stream, sizeof(stream), keys_partition(gid, api.cfg.partitions));
    now_rfc3339(accepted);
    s->pending = n;
    for (size_t i = 0; i < n; i++) {
        struct fields f = {0};
        json_t *data = entry_checked(s, i, &f);
        const json_t *en = json_array_get(s->g.entries, i);
        int expense = strcmp(json_string_value(json_object_get(en, "kind")), "expense") == 0;
        char eid[UUID_STR_SIZE], tid[UUID_STR_SIZE];
        import_derive_id(gid, "event", i, eid);
        import_derive_id(gid, expense ? "expense" : "payment", i, tid);
        struct event ev = {0};
        ev.type = expense ? EVENT_EXPENSE_CREATED : EVENT_PAYMENT_CREATED;
        ev.id = eid;
        ev.group_id = gid;
        ev.actor = c->user_id;
        ev.accepted_at = accepted;
        ev.target = tid;
        ev.data = data ? data : json_null(); /* validated before: never null */
        char *text = event_encode(&ev);
        json_decref(data);
        const char *argv[5] = {"XADD", stream, "*", "event", text};
        rcli_cmd_argv(c, on_queued, 5, argv, NULL);
        free(text);
        snprintf(s->last_event, sizeof(s->last_event), "%s", eid);
    }
}

static void import_authed(struct rctx *c)
{
    struct fields f = {0};
    const char *key;
    size_t key_len;
    enum import_format fmt = IMPORT_SPLITTER;

    if (req_idempotency_key(c, &key, &key_len) != 0)
        return;
    if (!key) {
        respond_problem(c, PROBLEM_PRECONDITION_REQUIRED,
                        "an import needs an Idempotency-Key, so that a retry never imports twice",
                        NULL);
        return;
    }
    if (req_parse_body_max(c, 0, IMPORT_MAX_BODY) != 0 || req_reject_unknown(c, import_keys) != 0)
        return;
    const json_t *body = c->doc.root;
    const json_t *vf = json_object_get(body, "format"), *vc = json_object_get(body, "currency");
    const json_t *data = json_object_get(body, "data");
    if (!json_is_string(vf) || import_format_parse(json_string_value(vf), &fmt) != 0)
        fields_add(&f, "format", "must be one of splitter, spliit, ihatemoney, splitwise");
    if (vc && (!json_is_string(vc) || !money_currency_find(json_string_value(vc))))
        fields_add(&f, "currency", "must be an ISO 4217 currency code");
    if (!data)
        fields_add(&f, "data", "is required");
    const char *name = NULL;
    if (json_object_get(body, "name"))
        name = body_name(body, &f);
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "the import is not valid", &f);
        return;
    }
    struct import_state *s = xcalloc(1, sizeof(*s));
    c->work = s;
    c->release = import_state_release;
    if (import_convert(fmt, &c->doc, data, vc ? json_string_value(vc) : NULL, &s->g, &f) != 0) {
        respond_problem(c, PROBLEM_VALIDATION, "the export cannot be imported", &f);
        return;
    }
    const struct currency *cur = money_currency_find(vc ? json_string_value(vc) : s->g.currency);
    if (!cur) {
        fields_add(&f, "currency", "is required: the export names no known currency");
        respond_problem(c, PROBLEM_VALIDATION, "the import is not valid", &f);
        return;
    }
    memcpy(s->currency, cur->code, 4);
    if (!name)
        name = s->g.name && s->g.name[0] && json_utf8_length(s->g.name) <= 100 ? s->g.name
                                                                               : "Imported group";

    /* Every entry valid, with fresh ids, before anything is written. */
    s->ids = xcalloc(s->g.n_members + 1, sizeof(*s->ids));
    for (size_t i = 0; i < s->g.n_members; i++)
        new_uuid(s->ids[i]);
    struct ledger_volume vol = {0};
    for (size_t i = 0; i < json_array_size(s->g.entries); i++) {
        json_t *d = entry_checked(s, i, &f);
        const json_t *en = json_array_get(s->g.entries, i);
        if (d && strcmp(json_string_value(json_object_get(en, "kind")), "expense") == 0) {
            struct ledger_expense e;
            struct fields ef = {0};
            struct json_doc none = {0};
            char today[11];
            ledger_today(today);
            if (ledger_expense_parse(&none, d, s->currency, today, &e, &ef) == 0) {
                if (ledger_volume_add_expense(&vol, &e) != 0)
                    fields_add(&f, "data", "entry %zu: too large for a group's totals", i);
                ledger_expense_release(&e);
            }
        }
        json_decref(d);
    }
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "the export has entries that are not valid", &f);
        return;
    }

    char gid[UUID_STR_SIZE], mid[UUID_STR_SIZE];
    new_uuid(gid);
    new_uuid(mid);
    json_t *names = json_array(), *ids = json_array();
    for (size_t i = 0; i < s->g.n_members; i++) {
        json_array_append_new(names, json_string(s->g.members[i]));
        json_array_append_new(ids, json_string(s->ids[i]));
    }
    char *names_text = json_dump_compact(names), *ids_text = json_dump_compact(ids);
    json_decref(names);
    json_decref(ids);
    const char *p[7] = {gid, name, s->currency, c->user_id, names_text, ids_text, mid};
    pg_write(
        c, on_created,
        "u AS (SELECT id, name FROM users WHERE id = $4),"
        " g AS (INSERT INTO groups (id, name, currency, created_by)"
        "  SELECT $1, $2, $3, u.id FROM u RETURNING *),"
        " src AS (SELECT n.name, i.id, n.ord FROM json_array_elements_text($5::json)"
        "  WITH ORDINALITY AS n(name, ord) JOIN json_array_elements_text($6::json)"
        "  WITH ORDINALITY AS i(id, ord) USING (ord)),"
        " mine AS (SELECT min(s.ord) AS ord FROM src s, u WHERE lower(s.name) = lower(u.name)),"
        " m AS (INSERT INTO members (id, group_id, name, user_id)"
        "  SELECT s.id::uuid, g.id, s.name, CASE WHEN s.ord = (SELECT ord FROM mine)"
        "  THEN u.id END FROM g, u, src s ORDER BY s.ord RETURNING *),"
        " me AS (INSERT INTO members (id, group_id, name, user_id)"
        "  SELECT $7, g.id, u.name, u.id FROM g, u WHERE (SELECT ord FROM mine) IS NULL"
        "  RETURNING *),"
        " b AS (INSERT INTO balances (group_id, member_id)"
        "  SELECT group_id, id FROM m UNION ALL SELECT group_id, id FROM me)",
        "SELECT json_build_object('id', g.id, 'name', g.name, 'currency', g.currency,"
        " 'created_at', rfc3339(g.created_at), 'version', g.version, 'archived', false,"
        " 'archived_at', NULL, 'members', (SELECT json_agg(json_build_object('id', a.id,"
        " 'name', a.name, 'user_id', a.user_id) ORDER BY a.k) FROM (SELECT m.id, m.name,"
        " m.user_id, s.ord AS k FROM m JOIN src s ON s.id::uuid = m.id UNION ALL"
        " SELECT me.id, me.name, me.user_id, 0 FROM me) a))::text,"
        " (SELECT json_agg(s.id ORDER BY s.ord) FROM src s)::text FROM g",
        NULL, 7, p);
    free(names_text);
    free(ids_text);
}

void route_groups_import(struct rctx *c)
{
    auth_then(c, import_authed);
}

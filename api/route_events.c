/*
 * Events: GET /api/v1/groups/{gid}/events, the group's audit log, and
 * GET /api/v1/events/{id}, one event's status (queued in Redis, then
 * applied or rejected in PostgreSQL).
 *
 * The audit log:
 *
 * Its applied ledger events, oldest first, by seq, with what each changed:
 * "before" (the expense before a replacement or deletion) and "after" (the
 * expense a replacement produced; a creation's payload says what it made), as the worker
 * recorded them with the event (postgres/migrations/003_audit.sql). Members
 * only: anyone else gets the same 404 as for an unknown group.
 */
#include "api.h"

#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A jsonb column's value as a new reference; NULL for SQL NULL or bad text. */
static json_t *col_json(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : json_loads(PQgetvalue(res, row, col), 0, NULL);
}

json_t *audit_item(PGresult *res, int row, int col)
{
    enum { ID, SEQ, TYPE, ACTOR, AT, PAYLOAD, BEFORE, AFTER, HASH, PAYLOAD_SHA256 };
    json_t *payload = col_json(res, row, col + PAYLOAD), *before = col_json(res, row, col + BEFORE);
    json_t *after = col_json(res, row, col + AFTER);
    /* Another member's retry key is theirs alone. */
    if (payload) {
        json_object_del(payload, "idempotency_key");
        json_object_del(payload, "idempotency_key_sha256");
        json_object_del(payload, "request_sha256");
    }
    json_t *item = json_pack(
        "{s:s, s:I, s:s, s:s, s:s, s:o}", "event_id", PQgetvalue(res, row, col + ID), "seq",
        (json_int_t)atoll(PQgetvalue(res, row, col + SEQ)), "type",
        PQgetvalue(res, row, col + TYPE), "actor", PQgetvalue(res, row, col + ACTOR), "accepted_at",
        PQgetvalue(res, row, col + AT), "payload", payload ? payload : json_null());
    if (before)
        json_object_set_new(item, "before", before);
    if (after)
        json_object_set_new(item, "after", after);
    /* The event's link of the group's hash chain and the digest of its whole stored payload,
       which the link covers (shared/chain.h): enough to check the chain from the log. */
    json_object_set_new(item, "payload_sha256",
                        json_string(PQgetvalue(res, row, col + PAYLOAD_SHA256)));
    json_object_set_new(item, "hash", json_string(PQgetvalue(res, row, col + HASH)));
    return item;
}

/* Columns after g.version: */
enum { COL_ID = 1, COL_SEQ };

static void on_events(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_page_head(c, res) != 0)
        return;
    int n = PQntuples(res), limit = c->page_limit;
    json_t *items = json_array();
    int shown = 0;
    for (int i = 0; i < n && shown < limit; i++) {
        if (PQgetisnull(res, i, COL_ID))
            continue; /* the group has no (more) events */
        json_t *item = audit_item(res, i, COL_ID);
        json_array_append_new(items, item);
        shown++;
    }
    json_t *body = json_pack("{s:o}", "items", items);
    if (n > limit && !PQgetisnull(res, limit - 1, COL_ID)) {
        char cursor[256];
        cursor_encode(PQgetvalue(res, limit - 1, COL_SEQ), PQgetvalue(res, limit - 1, COL_ID),
                      cursor, sizeof(cursor));
        json_object_set_new(body, "next_cursor", json_string(cursor));
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    respond_json(c, 200, body);
}

static void events_authed(struct rctx *c)
{
    int limit;
    char key[PAGE_KEY_SIZE], id[UUID_STR_SIZE], lim[16];
    if (take_group_id(c) != 0 || page_params(c, &limit, key, id) != 0)
        return;
    for (const char *k = key; *k; k++) {
        if (*k < '0' || *k > '9' || k - key > 18) {
            struct fields f = {0};
            fields_add(&f, "cursor", "is not a cursor of this list");
            respond_problem(c, PROBLEM_VALIDATION, "invalid pagination parameters", &f);
            return;
        }
    }
    c->page_limit = limit;
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[4] = {c->group_id, c->user_id, key[0] ? key : NULL, lim};
    /* One statement: membership and the page in one snapshot; the page walks
       UNIQUE (group_id, seq) from the cursor on. */
    pg_query(c, on_events,
             "SELECT g.version, e.* FROM groups g"
             " JOIN members me ON me.group_id = g.id AND me.user_id = $2"
             " LEFT JOIN LATERAL (SELECT " AUDIT_COLUMNS " FROM events x"
             "  WHERE x.group_id = g.id AND ($3::bigint IS NULL OR x.seq > $3::bigint)"
             "  ORDER BY x.seq LIMIT $4::int) e ON true"
             " WHERE g.id = $1",
             4, p);
}

/* Authentication first: no or a bad token is 401 whatever the path holds. */
void route_group_events(struct rctx *c)
{
    auth_then(c, events_authed);
}

/* --- GET /api/v1/events/{id} ------------------------------------------------------------------ */

static void on_event_db(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such event", NULL);
        return;
    }
    respond_json_text(c, 200, PQgetvalue(res, 0, 0));
}

/* As on_event_db, when Redis could not answer: an event PostgreSQL does not
   have may still be queued there, so not 404 (a client would submit it again)
   but 503. */
static void on_event_db_unsure(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_UNAVAILABLE,
                        "the event store is unavailable: the event may still be queued", NULL);
        return;
    }
    respond_json_text(c, 200, PQgetvalue(res, 0, 0));
}

/* A finished event (its status hash deleted by the worker), or one whose
   status expired: the ledger keeps them for good. cb answers from the row, if
   any. */
static void event_from_db(struct rctx *c, pg_cb cb)
{
    const char *p[2] = {c->event_id, c->user_id};
    pg_query(c, cb,
             "SELECT json_build_object('event_id', e.event_id, 'type', e.type, 'group_id',"
             " e.group_id, 'status', e.status, 'problem', e.problem, 'accepted_at',"
             " rfc3339(e.accepted_at),"
             " 'applied_at', rfc3339(e.applied_at))::text FROM ("
             " SELECT event_id, type, group_id, 'applied' AS status, NULL::json AS problem,"
             " accepted_at, applied_at FROM events WHERE event_id = $1"
             " UNION ALL SELECT event_id, type, group_id, 'rejected', problem, accepted_at,"
             " NULL FROM rejected_events WHERE event_id = $1) e"
             " WHERE EXISTS (SELECT 1 FROM members m WHERE m.group_id = e.group_id"
             " AND m.user_id = $2)",
             2, p);
}

static void on_event_member(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        json_decref(c->data);
        c->data = NULL;
        respond_problem(c, PROBLEM_NOT_FOUND, "no such event", NULL);
        return;
    }
    /* Redis says queued, PostgreSQL has recorded it (Redis refused or lost
       the worker's status write): the ledger answers. */
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        json_decref(c->data);
        c->data = NULL;
        event_from_db(c, on_event_db);
        return;
    }
    respond_json(c, 200, json_incref(c->data));
}

static void on_event_status(redisReply *r, struct rctx *c)
{
    json_t *o;
    if (!rctx_unref_live(c))
        return;
    /* No answer (Redis unreachable, or a failover under way) or an error. */
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        event_from_db(c, on_event_db_unsure);
        return;
    }
    if (r->elements == 0) {
        event_from_db(c, on_event_db);
        return;
    }
    o = json_pack("{s:s}", "event_id", c->event_id);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
        if (strcmp(k, "status") == 0 || strcmp(k, "type") == 0 || strcmp(k, "group_id") == 0 ||
            strcmp(k, "accepted_at") == 0 || strcmp(k, "applied_at") == 0)
            json_object_set_new(o, k, json_string(v));
        else if (strcmp(k, "problem") == 0)
            json_object_set_new(o, k, json_loads(v, 0, NULL));
    }
    if (!json_object_get(o, "applied_at"))
        json_object_set_new(o, "applied_at", json_null());
    const char *gid = json_string_value(json_object_get(o, "group_id"));
    if (!gid || !json_object_get(o, "status")) {
        json_decref(o);
        event_from_db(c, on_event_db);
        return;
    }
    /* Only members of the event's group may see it; whether it is recorded
       already, in the same query. */
    c->data = o;
    const char *p[3] = {gid, c->user_id, c->event_id};
    pg_query(c, on_event_member,
             "SELECT EXISTS (SELECT 1 FROM events WHERE event_id = $3)"
             " OR EXISTS (SELECT 1 FROM rejected_events WHERE event_id = $3)"
             " FROM members WHERE group_id = $1 AND user_id = $2",
             3, p);
}

static void event_get_authed(struct rctx *c)
{
    event_status_read(c, on_event_status);
}

void route_event_get(struct rctx *c)
{
    if (!ledger_is_uuid(c->seg[3])) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such event", NULL);
        return;
    }
    memcpy(c->event_id, c->seg[3], UUID_STR_SIZE);
    auth_then(c, event_get_authed);
}

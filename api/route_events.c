/*
 * GET /api/v1/groups/{gid}/events: the group's audit log.
 *
 * Its applied ledger events, oldest first, by seq, with what each changed:
 * "before" (the expense before a replacement or deletion) and "after" (the
 * expense a replacement produced; a creation's payload says what it made), as the worker
 * recorded them with the event (postgres/migrations/003_audit.sql). Members
 * only: anyone else gets the same 404 as for an unknown group.
 */
#include "api.h"

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
    int n = PQntuples(res), limit = (int)c->version;
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
    c->version = limit;
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

/*
 * Groups and members (synchronous writes, straight to PostgreSQL).
 *
 * Every statement checks membership itself, so a group the caller is not a
 * member of answers exactly like one that does not exist. Creating a group
 * or a member honours Idempotency-Key (pg_write).
 */
#include "api.h"

#include "cache.h"
#include "keys.h"
#include "ledger.h"
#include "money.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const group_keys[] = {"name", "currency", NULL};
static const char *const member_keys[] = {"name", NULL};

const char *body_name(const json_t *body, struct fields *f)
{
    const json_t *v = json_object_get(body, "name");
    if (!v) {
        fields_add(f, "name", "is required");
        return NULL;
    }
    if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v))) {
        fields_add(f, "name", "must be a string");
        return NULL;
    }
    size_t n = json_utf8_length(json_string_value(v));
    if (n < 1 || n > 100) {
        fields_add(f, "name", "must be 1 to 100 characters long");
        return NULL;
    }
    return json_string_value(v);
}

/* --- create ----------------------------------------------------------------------------- */

static void on_group_created(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_UNAUTHORIZED, "the account no longer exists", NULL);
        return;
    }
    char loc[96];
    json_t *g = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    snprintf(loc, sizeof(loc), "/api/v1/groups/%s", json_string_value(json_object_get(g, "id")));
    add_header(c, H2O_TOKEN_LOCATION, loc);
    add_etag(c, json_integer_value(json_object_get(g, "version")));
    respond_json(c, 201, g);
}

static void groups_create_authed(struct rctx *c)
{
    struct fields f = {0};
    const struct currency *cur = NULL;
    const char *name;
    const json_t *v;
    char gid[UUID_STR_SIZE], mid[UUID_STR_SIZE];

    if (req_parse_body(c, 0) != 0 || req_reject_unknown(c, group_keys) != 0)
        return;
    name = body_name(c->doc.root, &f);
    v = json_object_get(c->doc.root, "currency");
    if (!v)
        fields_add(&f, "currency", "is required");
    else if (!json_is_string(v) || !(cur = money_currency_find(json_string_value(v))))
        fields_add(&f, "currency", "must be an ISO 4217 currency code");
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "the group is not valid", &f);
        return;
    }
    new_uuid(gid);
    new_uuid(mid);
    const char *p[5] = {gid, name, cur->code, c->user_id, mid};
    pg_write(c, on_group_created,
             "u AS (SELECT id, name FROM users WHERE id = $4),"
             " g AS (INSERT INTO groups (id, name, currency, created_by)"
             "  SELECT $1, $2, $3, u.id FROM u RETURNING *),"
             " m AS (INSERT INTO members (id, group_id, name, user_id)"
             "  SELECT $5, g.id, u.name, u.id FROM g, u RETURNING *),"
             " b AS (INSERT INTO balances (group_id, member_id) SELECT group_id, id FROM m)",
             "SELECT json_build_object('id', g.id, 'name', g.name, 'currency', g.currency,"
             " 'created_at', rfc3339(g.created_at), 'version', g.version, 'archived', false,"
             " 'archived_at', NULL, 'members', json_build_array(json_build_object('id', m.id, "
             "'name', m.name, 'user_id',"
             " m.user_id)))::text FROM g, m",
             NULL, 5, p);
}

void route_groups_create(struct rctx *c)
{
    auth_then(c, groups_create_authed);
}

/* --- list ------------------------------------------------------------------------------- */

static void on_groups_listed(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    int n = PQntuples(res), limit = c->page_limit;
    json_t *items = json_array();
    char cursor[256];
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:I, s:b}", "id",
                                               PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
                                               "currency", PQgetvalue(res, i, 2), "my_balance",
                                               (json_int_t)atoll(PQgetvalue(res, i, 3)), "archived",
                                               PQgetvalue(res, i, 5)[0] == 't'));
    json_t *body = json_pack("{s:o}", "items", items);
    if (n > limit) {
        cursor_encode(PQgetvalue(res, limit - 1, 4), PQgetvalue(res, limit - 1, 0), cursor,
                      sizeof(cursor));
        json_object_set_new(body, "next_cursor", json_string(cursor));
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    respond_json(c, 200, body);
}

static void groups_list_authed(struct rctx *c)
{
    int limit;
    char ts[PAGE_KEY_SIZE], id[UUID_STR_SIZE], lim[16];
    if (page_params(c, &limit, ts, id) != 0)
        return;
    c->page_limit = limit;
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[4] = {c->user_id, ts[0] ? ts : NULL, id[0] ? id : NULL, lim};
    pg_query(c, on_groups_listed,
             "SELECT g.id, g.name, g.currency,"
             " coalesce(b.paid - b.owed + b.sent - b.received, 0),"
             " rfc3339_us(g.created_at), g.archived_at IS NOT NULL"
             " FROM members me JOIN groups g ON g.id = me.group_id"
             " LEFT JOIN balances b ON b.group_id = g.id AND b.member_id = me.id"
             " WHERE me.user_id = $1 AND ($2::timestamptz IS NULL"
             "  OR (g.created_at, g.id) < ($2::timestamptz, $3::uuid))"
             " ORDER BY g.created_at DESC, g.id DESC LIMIT $4::int",
             4, p);
}

void route_groups_list(struct rctx *c)
{
    auth_then(c, groups_list_authed);
}

/* --- read ------------------------------------------------------------------------------- */

void respond_group(struct rctx *c, const char *text, const char *head)
{
    json_t *group = head ? json_loads(text, 0, NULL) : NULL;
    if (!group) {
        respond_json_text(c, 200, text);
        return;
    }
    json_object_set_new(group, "head_hash", json_string(head));
    respond_json(c, 200, group);
}

static void on_group(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    int64_t version = atoll(PQgetvalue(res, 0, 1));
    add_etag(c, version);
    if (req_not_modified(c, version)) {
        respond_empty(c, 304);
        return;
    }
    respond_group(c, PQgetvalue(res, 0, 0), PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2));
}

static void group_get_authed(struct rctx *c)
{
    if (take_group_id(c) != 0)
        return;
    const char *p[2] = {c->group_id, c->user_id};
    pg_query(c, on_group,
             "SELECT group_resource(g.id)::text, g.version, encode(g.head_hash, 'hex')"
             " FROM groups g WHERE g.id = $1 AND "
             "EXISTS (SELECT 1 FROM members x"
             " WHERE x.group_id = g.id AND x.user_id = $2)",
             2, p);
}

/* Authentication first: no or a bad token is 401 whatever the path holds. */
void route_group_get(struct rctx *c)
{
    auth_then(c, group_get_authed);
}

/* --- members ---------------------------------------------------------------------------- */

static void on_member_created(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    /* The cached view is now stale: mark its version moved on. */
    rcli_view_tombstone(c->group_id, PQgetvalue(res, 0, 1));
    respond_json_text(c, 201, PQgetvalue(res, 0, 0));
}

void route_members_create(struct rctx *c)
{
    struct fields f = {0};
    const char *name;
    char mid[UUID_STR_SIZE];

    if (req_parse_body(c, 0) != 0 || req_reject_unknown(c, member_keys) != 0)
        return;
    name = body_name(c->doc.root, &f);
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "the member is not valid", &f);
        return;
    }
    if (!rcli_up()) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the cache is unavailable; try again", NULL);
        return;
    }
    new_uuid(mid);
    const char *p[4] = {c->group_id, c->user_id, mid, name};
    pg_write(c, on_member_created,
             "a AS (SELECT g.id FROM groups g WHERE g.id = $1 AND EXISTS (SELECT 1 FROM"
             "  members x WHERE x.group_id = g.id AND x.user_id = $2)),"
             " m AS (INSERT INTO members (id, group_id, name) SELECT $3, a.id, $4 FROM a"
             "  RETURNING *),"
             " b AS (INSERT INTO balances (group_id, member_id) SELECT group_id, id FROM m),"
             " v AS (UPDATE groups SET version = version + 1 WHERE id IN (SELECT group_id FROM m)"
             "  RETURNING version)",
             "SELECT json_build_object('id', m.id, 'name', m.name, 'user_id', m.user_id)::text,"
             " v.version FROM m, v",
             NULL, 4, p);
}

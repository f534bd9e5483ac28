/*
 * Guests: POST /api/v1/invites/{token}/accept without Authorization.
 *
 * Someone who opens an invite link joins without registering: the api
 * creates a guest account (a users row with neither email nor password,
 * postgres/migrations/012_guests.sql), claims the named member for it
 * ({"member_id"}) or adds a member of that name ({"name"}), and answers 201
 * {"user", "token", "group"}. The session token is the guest's only key; a
 * guest keeps it on other devices by adding credentials (POST
 * /me/credentials, route_auth.c). Logging out forgets the token, and with it
 * the account (docs/SECURITY.md).
 *
 * The invite is checked before the body, as for a member's accept: an
 * unknown, malformed or expired token is 404 whatever the body says. No
 * Idempotency-Key: a retry cannot be told from a second person joining (no
 * caller to key it by), so every successful call makes a new guest; the web
 * client sends it once. nginx limits this route per address like login.
 */
#include "api.h"

#include "cache.h"
#include "ledger.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const join_keys[] = {"member_id", "name", NULL};

/*
 * One statement: the invite (still valid), the member to claim, the claim
 * (only of a member without an account), the guest (only when there is a
 * group and, claiming, the claim happened: a lost race leaves no orphan
 * account), the new member with its balances row, the version bump, and the
 * group as GET answers it. The members' foreign key to users is checked at
 * the end of the statement, after the guest's row exists.
 *
 * $1 invite hash (hex), $2 new user id, $3 new member id, $4 member to claim
 * or NULL, $5 name or NULL. One row: found, target exists, made, version,
 * group JSON, chain head, user JSON.
 */
#define JOIN_SQL                                                                                   \
    "WITH i AS (SELECT group_id FROM invites WHERE token_hash = decode($1, 'hex')"                 \
    "  AND expires_at > now()),"                                                                   \
    " g AS (SELECT * FROM groups WHERE id = (SELECT group_id FROM i)),"                            \
    " t AS (SELECT m.id FROM members m WHERE m.id = $4::uuid AND m.removed_at IS NULL"             \
    "  AND m.group_id = (SELECT id FROM g)),"                                                      \
    " claimed AS (UPDATE members m SET user_id = $2::uuid WHERE m.id = $4::uuid"                   \
    "  AND m.group_id = (SELECT id FROM g) AND m.user_id IS NULL AND m.removed_at IS NULL"         \
    "  RETURNING m.id, m.name),"                                                                   \
    " u AS (INSERT INTO users (id, name)"                                                          \
    "  SELECT $2::uuid, coalesce($5::text, (SELECT name FROM claimed))"                            \
    "  WHERE EXISTS (SELECT 1 FROM g) AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM claimed))"    \
    "  RETURNING *),"                                                                              \
    " added AS (INSERT INTO members (id, group_id, name, user_id)"                                 \
    "  SELECT $3::uuid, g.id, u.name, u.id FROM g, u WHERE $4::uuid IS NULL"                       \
    "  RETURNING id, group_id, name, user_id, position),"                                          \
    " b AS (INSERT INTO balances (group_id, member_id) SELECT group_id, id FROM added),"           \
    " v AS (UPDATE groups SET version = version + 1 WHERE id = (SELECT id FROM g)"                 \
    "  AND EXISTS (SELECT 1 FROM u) RETURNING version)"                                            \
    " SELECT EXISTS (SELECT 1 FROM g), EXISTS (SELECT 1 FROM t), EXISTS (SELECT 1 FROM u),"        \
    " coalesce((SELECT version FROM v), (SELECT version FROM g)),"                                 \
    " " INVITE_ACCEPTED_GROUP_SQL ","                                                              \
    " (SELECT " USER_JSON_SQL " FROM u)"

static int is_true(PGresult *res, int col)
{
    return PQgetvalue(res, 0, col)[0] == 't';
}

static void on_joined(PGresult *res, struct rctx *c)
{
    struct fields f = {0};
    json_t *group, *user;

    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1 || !is_true(res, 0)) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such invite", NULL);
        return;
    }
    if (c->member_id[0] && !is_true(res, 1)) {
        fields_add(&f, "member_id", "is not a member of this group");
        respond_problem(c, PROBLEM_VALIDATION, "the member to claim is not in this group", &f);
        return;
    }
    if (!is_true(res, 2)) {
        respond_problem(c, PROBLEM_CONFLICT, "this member already belongs to an account", NULL);
        return;
    }
    rcli_view_tombstone(c->group_id, PQgetvalue(res, 0, 3));
    group = json_loads(PQgetvalue(res, 0, 4), 0, NULL);
    user = json_loads(PQgetvalue(res, 0, 6), 0, NULL);
    if (!group || !user) {
        json_decref(group);
        json_decref(user);
        respond_problem(c, PROBLEM_INTERNAL, "the new membership cannot be read", NULL);
        return;
    }
    if (!PQgetisnull(res, 0, 5))
        json_object_set_new(group, "head_hash", json_string(PQgetvalue(res, 0, 5)));
    session_issue(c, json_pack("{s:o, s:o}", "user", user, "group", group), 201);
}

/* The invite is valid: now the body, then the change. */
static void guest_join_found(struct rctx *c)
{
    struct fields f = {0};
    const json_t *mid, *name;
    char uid[UUID_STR_SIZE], new_mid[UUID_STR_SIZE];

    if (req_parse_body(c, 0) != 0 || req_reject_unknown(c, join_keys) != 0)
        return;
    mid = json_object_get(c->doc.root, "member_id");
    name = json_object_get(c->doc.root, "name");
    if (mid && json_is_null(mid))
        mid = NULL;
    if (name && json_is_null(name))
        name = NULL;
    if ((mid != NULL) == (name != NULL)) {
        fields_add(&f, mid ? "name" : "member_id",
                   mid ? "must not be given with member_id"
                       : "or name is required: the member to claim, or the name to join as");
        respond_problem(c, PROBLEM_VALIDATION, "give exactly one of member_id and name", &f);
        return;
    }
    if (mid) {
        if (!json_is_string(mid) || !ledger_is_uuid(json_string_value(mid))) {
            fields_add(&f, "member_id", "must be a lowercase UUID");
            respond_problem(c, PROBLEM_VALIDATION, "the acceptance is not valid", &f);
            return;
        }
        memcpy(c->member_id, json_string_value(mid), UUID_STR_SIZE);
    } else if (auth_get_name(c->doc.root, &f) != 0) {
        respond_problem(c, PROBLEM_VALIDATION, "the acceptance is not valid", &f);
        return;
    }
    new_uuid(uid);
    new_uuid(new_mid);
    const char *p[5] = {c->scratch, uid, new_mid, mid ? c->member_id : NULL,
                        name ? json_string_value(name) : NULL};
    pg_query(c, on_joined, JOIN_SQL, 5, p);
}

void route_guest_join(struct rctx *c)
{
    invite_lookup(c, guest_join_found);
}

/*
 * Invites: a member invites people into a group; a user accepts, joining as
 * a new member or claiming a member without an account (whose expenses,
 * payments and balance then belong to that user).
 *
 * An invite token is a bearer capability: 32 random bytes in base64url,
 * shown once in the 201 answer. PostgreSQL keeps only its SHA-256
 * (invites.token_hash). A token may be accepted by any number of users until
 * it expires, INVITE_TTL after its creation; an unknown, malformed or
 * expired token answers 404.
 *
 * Accepting is idempotent: a caller who is already a member gets the group
 * again (200), and nothing changes. Creating an invite and accepting one also
 * honour Idempotency-Key (pg_write): a retry of a creation gets the same
 * token back. A membership change bumps the group's
 * version and writes the cache tombstone before answering, so the next read
 * of the view (which lists members with accounts) is rebuilt from PostgreSQL.
 */
#include "api.h"

#include "cache.h"
#include "keys.h"
#include "ledger.h"
#include "xalloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVITE_TTL "7 days"
#define INVITE_TOKEN_LEN 43 /* base64url of 32 bytes, unpadded */

static const char *const create_keys[] = {NULL};
static const char *const accept_keys[] = {"member_id", NULL};

/* --- create ----------------------------------------------------------------------------- */

static void on_invite_created(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    /* The token, which exists nowhere else (but in the key's record when the
       request carried an Idempotency-Key: a retry gets the same token). */
    json_t *body = json_pack("{s:s, s:s}", "token", PQgetvalue(res, 0, 1), "expires_at",
                             PQgetvalue(res, 0, 0));
    /* the invite's id (GET and DELETE .../invites); a replay of an answer recorded before
       invites had ids lacks it */
    if (PQnfields(res) > 2)
        json_object_set_new(body, "id", json_string(PQgetvalue(res, 0, 2)));
    respond_json(c, 201, body);
    sodium_memzero(c->scratch, strlen(c->scratch));
}

void route_invites_create(struct rctx *c)
{
    unsigned char raw[32];
    char token[INVITE_TOKEN_LEN + 1], hash[65];

    if (req_parse_body(c, 1) != 0 || req_reject_unknown(c, create_keys) != 0)
        return;
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(token, sizeof(token), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sha256_hex(token, strlen(token), hash);
    free(c->scratch);
    c->scratch = xstrdup(token);
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(token, sizeof(token));
    const char *p[4] = {hash, c->group_id, c->user_id, c->scratch};
    pg_write(c, on_invite_created,
             "i AS (INSERT INTO invites (token_hash, group_id, created_by, expires_at)"
             " SELECT decode($1, 'hex'), g.id, $3, now() + interval '" INVITE_TTL "'"
             " FROM groups g WHERE g.id = $2 AND EXISTS (SELECT 1 FROM members x"
             " WHERE x.group_id = g.id AND x.user_id = $3) RETURNING expires_at, id)",
             "SELECT rfc3339(expires_at), $4::text, id FROM i", NULL, 4, p);
}

/* --- accept ----------------------------------------------------------------------------- */

/*
 * One statement: the invite (still valid), the caller's membership, the
 * claimed member, the change (claim, or insert with a balances row), the
 * version bump, and the group as GET answers it. The CTEs share one
 * snapshot, so the group is assembled from the members read plus the change.
 *
 * $1 invite hash (hex), $2 caller, $3 id for a new member, $4 member to
 * claim or NULL. One row: found, my member id, target exists, target's user,
 * claimed, added, version, group JSON.
 */
#define ACCEPT_CTES                                                                                \
    "i AS (SELECT group_id FROM invites WHERE token_hash = decode($1, 'hex')"                      \
    "  AND expires_at > now()),"                                                                   \
    " g AS (SELECT * FROM groups WHERE id = (SELECT group_id FROM i)),"                            \
    " me AS (SELECT m.id FROM members m WHERE m.group_id = (SELECT id FROM g)"                     \
    "  AND m.user_id = $2::uuid),"                                                                 \
    " t AS (SELECT m.id, m.user_id FROM members m WHERE m.id = $4::uuid"                           \
    "  AND m.group_id = (SELECT id FROM g) AND m.removed_at IS NULL),"                             \
    " claimed AS (UPDATE members m SET user_id = $2::uuid WHERE m.id = $4::uuid"                   \
    "  AND m.group_id = (SELECT id FROM g) AND m.user_id IS NULL AND m.removed_at IS NULL"         \
    "  AND NOT EXISTS (SELECT 1 FROM me) RETURNING m.id),"                                         \
    " added AS (INSERT INTO members (id, group_id, name, user_id)"                                 \
    "  SELECT $3::uuid, g.id, u.name, u.id FROM g, users u WHERE u.id = $2::uuid"                  \
    "  AND $4::uuid IS NULL AND NOT EXISTS (SELECT 1 FROM me)"                                     \
    "  ON CONFLICT (group_id, user_id) DO NOTHING"                                                 \
    "  RETURNING id, group_id, name, user_id, position),"                                          \
    " b AS (INSERT INTO balances (group_id, member_id) SELECT group_id, id FROM added),"           \
    " v AS (UPDATE groups SET version = version + 1 WHERE id = (SELECT id FROM g)"                 \
    "  AND (EXISTS (SELECT 1 FROM claimed) OR EXISTS (SELECT 1 FROM added)) RETURNING version)"
#define ACCEPT_FINAL                                                                               \
    "SELECT EXISTS (SELECT 1 FROM g) AS found, (SELECT id FROM me) AS mine,"                       \
    " EXISTS (SELECT 1 FROM t) AS target, (SELECT user_id FROM t) AS target_user,"                 \
    " EXISTS (SELECT 1 FROM claimed) AS claimed, EXISTS (SELECT 1 FROM added) AS added,"           \
    " coalesce((SELECT version FROM v), (SELECT version FROM g)),"                                 \
    " " INVITE_ACCEPTED_GROUP_SQL

static void run_accept(struct rctx *c);

static int is_true(PGresult *res, int col)
{
    return PQgetvalue(res, 0, col)[0] == 't';
}

static void on_accepted(PGresult *res, struct rctx *c)
{
    struct fields f = {0};
    const char *sqlstate;

    if (!rctx_unref_live(c))
        return;
    sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (sqlstate && strcmp(sqlstate, "23505") == 0) {
        /* The caller joined the group another way meanwhile. */
        respond_problem(c, PROBLEM_CONFLICT, "you are already a member of this group", NULL);
        return;
    }
    if (respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1 || !is_true(res, 0)) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such invite", NULL);
        return;
    }
    int claim = c->member_id[0] != '\0';
    int mine = !PQgetisnull(res, 0, 1);
    if (claim && !is_true(res, 2)) {
        fields_add(&f, "member_id", "is not a member of this group");
        respond_problem(c, PROBLEM_VALIDATION, "the member to claim is not in this group", &f);
        return;
    }
    if (mine && claim && strcmp(PQgetvalue(res, 0, 1), c->member_id) != 0) {
        respond_problem(c, PROBLEM_CONFLICT,
                        "you are already a member of this group and cannot claim another member",
                        NULL);
        return;
    }
    if (!mine && claim && !is_true(res, 4)) {
        respond_problem(c, PROBLEM_CONFLICT, "this member already belongs to an account", NULL);
        return;
    }
    if (!mine && !claim && !is_true(res, 5)) {
        /* A concurrent accept by the same user inserted first: read again. */
        if (c->attempts++ == 0) {
            run_accept(c);
            return;
        }
        respond_problem(c, PROBLEM_UNAVAILABLE, "the membership changed concurrently", NULL);
        return;
    }
    if (is_true(res, 4) || is_true(res, 5))
        rcli_view_tombstone(c->group_id, PQgetvalue(res, 0, 6));
    add_etag(c, atoll(PQgetvalue(res, 0, 6)));
    respond_group(c, PQgetvalue(res, 0, 7), PQgetisnull(res, 0, 8) ? NULL : PQgetvalue(res, 0, 8));
}

static void run_accept(struct rctx *c)
{
    char mid[UUID_STR_SIZE];
    new_uuid(mid);
    const char *p[4] = {c->scratch, c->user_id, mid, c->member_id[0] ? c->member_id : NULL};
    /* A concurrent accept by the same user is read again (on_accepted): that
       outcome is not recorded under the request's Idempotency-Key. */
    pg_write(c, on_accepted, ACCEPT_CTES, ACCEPT_FINAL,
             "NOT (o.found AND o.mine IS NULL AND $4::uuid IS NULL AND NOT o.added)", 4, p);
}

/* The invite is valid: now the body, then the change. */
static void invite_accept_found(struct rctx *c)
{
    struct fields f = {0};
    const json_t *v;

    if (req_parse_body(c, 1) != 0 || req_reject_unknown(c, accept_keys) != 0)
        return;
    v = json_object_get(c->doc.root, "member_id");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || !ledger_is_uuid(json_string_value(v))) {
            fields_add(&f, "member_id", "must be a lowercase UUID or null");
            respond_problem(c, PROBLEM_VALIDATION, "the acceptance is not valid", &f);
            return;
        }
        memcpy(c->member_id, json_string_value(v), UUID_STR_SIZE);
    }
    c->attempts = 0; /* retries of run_accept */
    run_accept(c);
}

static void invite_accept_authed(struct rctx *c)
{
    invite_lookup(c, invite_accept_found);
}

static void on_invite_found(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such invite", NULL);
        return;
    }
    if (PQgetvalue(res, 0, 1)[0] == 't') {
        respond_problem(c, PROBLEM_GROUP_ARCHIVED,
                        "the group is archived: it takes no new members until unarchived", NULL);
        return;
    }
    snprintf(c->group_id, sizeof(c->group_id), "%s", PQgetvalue(res, 0, 0));
    c->next(c);
}

/* 1 if s looks like a token this server issues. */
static int is_invite_token(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    return n == INVITE_TOKEN_LEN && s[n] == '\0';
}

void invite_lookup(struct rctx *c, rctx_fn next)
{
    char hash[65];
    /* /api/v1/invites/{token}/accept */
    if (!is_invite_token(c->seg[3])) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such invite", NULL);
        return;
    }
    if (!rcli_up()) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the session store is unavailable; try again",
                        NULL);
        return;
    }
    sha256_hex(c->seg[3], strlen(c->seg[3]), hash);
    free(c->scratch);
    c->scratch = xstrdup(hash);
    c->next = next;
    const char *p[1] = {hash};
    pg_query(c, on_invite_found,
             "SELECT i.group_id, g.archived_at IS NOT NULL FROM invites i"
             " JOIN groups g ON g.id = i.group_id"
             " WHERE i.token_hash = decode($1, 'hex') AND i.expires_at > now()",
             1, p);
}

void route_invite_accept(struct rctx *c)
{
    size_t len;
    /* No Authorization at all: someone without an account joins as a guest. */
    if (!req_header(c, H2O_TOKEN_AUTHORIZATION, &len)) {
        route_guest_join(c);
        return;
    }
    auth_then(c, invite_accept_authed);
}

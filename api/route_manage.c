/*
 * Managing a group: renaming and archiving it (PATCH /groups/{gid}), leaving it, renaming and
 * removing members (listing and revoking invites: route_invites_admin.c). Group routes (access.c):
 * a non-member gets 404 before the body is read, and an archived group refuses them all (409) but
 * its own PATCH, which unarchives it.
 *
 * Each change is one statement, a function of postgres/migrations/011_manage.sql: it locks the
 * group's row, checks the change against the group as it stands, makes it and appends its
 * event to the group's ledger (next seq, next link of the hash chain) in the same transaction,
 * and says what happened (outcome). After a change the api writes the cache tombstone (the
 * view carries names, members and accounts) and announces the new events on the channel of
 * finished events, so live streams send them at once.
 */
#include "api.h"

#include "keys.h"
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const group_patch_keys[] = {"name", "archived", NULL};
static const char *const member_patch_keys[] = {"name", NULL};
static const char *const leave_keys[] = {NULL};

enum { COL_OUTCOME, COL_BODY, COL_VERSION, COL_EVENTS }; /* MANAGE_SELECT's columns */

/* The problem of a refused change (outcome as 011_manage.sql names it); what_balance says
   whose balance is not zero. */
static void refuse(struct rctx *c, const char *outcome, const char *what_balance)
{
    char detail[160];
    if (strcmp(outcome, "stale") == 0) {
        snprintf(detail, sizeof(detail), "the group changed since version %lld",
                 (long long)c->if_match);
        respond_problem(c, PROBLEM_VERSION_CONFLICT, detail, NULL);
    } else if (strcmp(outcome, "archived") == 0) {
        respond_problem(c, PROBLEM_GROUP_ARCHIVED,
                        "the group is archived: unarchive it to change anything in it", NULL);
    } else if (strcmp(outcome, "no_member") == 0) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such member", NULL);
    } else if (strcmp(outcome, "no_invite") == 0) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such invite", NULL);
    } else if (strcmp(outcome, "has_account") == 0) {
        respond_problem(c, PROBLEM_CONFLICT,
                        "this member has an account: only they can leave the group", NULL);
    } else if (strcmp(outcome, "balance") == 0) {
        snprintf(detail, sizeof(detail), "%s balance in this group is not zero: settle up first",
                 what_balance);
        respond_problem(c, PROBLEM_CONFLICT, detail, NULL);
    } else if (strcmp(outcome, "in_use") == 0) {
        respond_problem(c, PROBLEM_CONFLICT,
                        "this member is named by expenses or payments and stays in the group",
                        NULL);
    } else if (strcmp(outcome, "last") == 0) {
        respond_problem(c, PROBLEM_CONFLICT,
                        "you are the last member with an account: nobody could reach the group "
                        "after you",
                        NULL);
    } else {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
    }
}

int manage_changed(struct rctx *c, PGresult *res, const char *what_balance)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return 0;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_INTERNAL, "the change answered nothing", NULL);
        return 0;
    }
    const char *outcome = PQgetvalue(res, 0, COL_OUTCOME);
    if (strcmp(outcome, "ok") != 0) {
        refuse(c, outcome, what_balance);
        return 0;
    }
    const char *events = PQgetvalue(res, 0, COL_EVENTS);
    if (*events) {
        rcli_view_tombstone(c->group_id, PQgetvalue(res, 0, COL_VERSION));
        rcli_send("PUBLISH %s %s", KEYS_DONE_CHANNEL, events);
    }
    return 1;
}

int manage_redis_needed(struct rctx *c)
{
    if (rcli_up())
        return 0;
    respond_problem(c, PROBLEM_UNAVAILABLE, "the cache is unavailable; try again", NULL);
    return -1;
}

/* --- PATCH /groups/{gid} ---------------------------------------------------------------- */

static void on_group_patched(PGresult *res, struct rctx *c)
{
    if (!manage_changed(c, res, ""))
        return;
    json_t *group = json_loads(PQgetvalue(res, 0, COL_BODY), 0, NULL);
    if (!group) {
        respond_problem(c, PROBLEM_INTERNAL, "the group could not be read", NULL);
        return;
    }
    if (json_is_null(json_object_get(group, "head_hash")))
        json_object_del(group, "head_hash");
    add_etag(c, atoll(PQgetvalue(res, 0, COL_VERSION)));
    respond_json(c, 200, group);
}

void route_group_patch(struct rctx *c)
{
    struct fields f = {0};
    const char *name = NULL, *archived = NULL;
    char if_match[24];

    if (req_if_match_checked(c, 0, "group") != 0)
        return;
    if (req_parse_body(c, 0) != 0 || req_reject_unknown(c, group_patch_keys) != 0)
        return;
    if (json_object_get(c->doc.root, "name"))
        name = body_name(c->doc.root, &f);
    const json_t *a = json_object_get(c->doc.root, "archived");
    if (a && !json_is_boolean(a))
        fields_add(&f, "archived", "must be true or false");
    else if (a)
        archived = json_is_true(a) ? "true" : "false";
    if (!f.n && !name && !archived)
        fields_add(&f, "name", "is required when archived is absent");
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "the change is not valid", &f);
        return;
    }
    if (manage_redis_needed(c) != 0)
        return;
    snprintf(if_match, sizeof(if_match), "%lld", (long long)c->if_match);
    const char *p[5] = {c->group_id, c->user_id, name, archived, c->if_match ? if_match : NULL};
    pg_query(c, on_group_patched,
             MANAGE_SELECT "manage_group_patch($1, $2, $3, $4::boolean, $5::bigint)", 5, p);
}

/* --- POST /groups/{gid}/leave ------------------------------------------------------------ */

static void on_left(PGresult *res, struct rctx *c)
{
    if (manage_changed(c, res, "your"))
        respond_empty(c, 204);
}

void route_group_leave(struct rctx *c)
{
    if (req_parse_body(c, 1) != 0 || req_reject_unknown(c, leave_keys) != 0 ||
        manage_redis_needed(c) != 0)
        return;
    const char *p[2] = {c->group_id, c->user_id};
    pg_query(c, on_left, MANAGE_SELECT "manage_leave($1, $2)", 2, p);
}

/* --- PATCH and DELETE /groups/{gid}/members/{mid} ----------------------------------------- */

const char *manage_path_id(struct rctx *c, const char *what)
{
    char detail[32];
    if (ledger_is_uuid(c->seg[5]))
        return c->seg[5];
    snprintf(detail, sizeof(detail), "no such %s", what);
    respond_problem(c, PROBLEM_NOT_FOUND, detail, NULL);
    return NULL;
}

static void on_member_patched(PGresult *res, struct rctx *c)
{
    if (manage_changed(c, res, ""))
        respond_json_text(c, 200, PQgetvalue(res, 0, COL_BODY));
}

void route_member_patch(struct rctx *c)
{
    struct fields f = {0};
    const char *mid = manage_path_id(c, "member"), *name;
    if (!mid || req_parse_body(c, 0) != 0 || req_reject_unknown(c, member_patch_keys) != 0)
        return;
    name = body_name(c->doc.root, &f);
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "the member is not valid", &f);
        return;
    }
    if (manage_redis_needed(c) != 0)
        return;
    const char *p[4] = {c->group_id, c->user_id, mid, name};
    pg_query(c, on_member_patched, MANAGE_SELECT "manage_member_rename($1, $2, $3, $4)", 4, p);
}

static void on_member_removed(PGresult *res, struct rctx *c)
{
    if (manage_changed(c, res, "this member's"))
        respond_empty(c, 204);
}

void route_member_delete(struct rctx *c)
{
    const char *mid = manage_path_id(c, "member");
    if (!mid || manage_redis_needed(c) != 0)
        return;
    const char *p[3] = {c->group_id, c->user_id, mid};
    pg_query(c, on_member_removed, MANAGE_SELECT "manage_member_remove($1, $2, $3)", 3, p);
}

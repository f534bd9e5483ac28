/*
 * The access check of the routes that act inside one group: the group id
 * from the path, and the caller's membership with what the ledger routes
 * validate against (the group's currency, version, volume and members),
 * from the cached view when it holds them, else from PostgreSQL.
 *
 * A group the caller is not a member of answers exactly like one that does
 * not exist (404 "no such group").
 */
#include "api.h"

#include "keys.h"
#include "ledger.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Path segment 3 (the group id) into c->group_id; 404 unless a UUID. */
int take_group_id(struct rctx *c)
{
    if (!ledger_is_uuid(c->seg[3])) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return -1;
    }
    memcpy(c->group_id, c->seg[3], UUID_STR_SIZE);
    return 0;
}

void group_resource_query(struct rctx *c, pg_cb cb, const char *sql)
{
    if (take_group_id(c) != 0)
        return;
    /* An id that is not a UUID matches no resource (NULL), after the
       membership check, like any unknown id. */
    if (ledger_is_uuid(c->seg[5]))
        memcpy(c->target_id, c->seg[5], UUID_STR_SIZE);
    const char *p[3] = {c->group_id, c->target_id[0] ? c->target_id : NULL, c->user_id};
    pg_query(c, cb, sql, 3, p);
}

/* An archived group is read-only: every write inside it is refused, before its body is
   read (the group's own PATCH, which unarchives it, is not a group route). */
static void group_route_checked(struct rctx *c)
{
    if (c->group_archived && strcmp(c->method, "GET") != 0 && c->handler != route_group_patch) {
        respond_problem(c, PROBLEM_GROUP_ARCHIVED,
                        "the group is archived: unarchive it to change anything in it", NULL);
        return;
    }
    c->handler(c);
}

static void group_route_authed(struct rctx *c)
{
    if (take_group_id(c) == 0)
        group_access_then(c, group_route_checked);
}

void group_route(struct rctx *c, rctx_fn handler)
{
    c->handler = handler;
    auth_then(c, group_route_authed);
}

static void on_resource(PGresult *res, struct rctx *c)
{
    if (rctx_unref_live(c))
        respond_resource(c, res, 0);
}

void resource_get(struct rctx *c, const struct resource_kind *kind)
{
    c->kind = kind;
    group_resource_query(c, on_resource, kind->get_sql);
}

/* The group's member ids, comma-separated (as PostgreSQL's string_agg and
   the cached view hold them), into c->members. */
static void take_members(struct rctx *c, const char *list)
{
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    free(c->members);
    c->members = xcalloc(n, sizeof(*c->members));
    c->n_members = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == UUID_STR_LEN) {
            memcpy(c->members[c->n_members], p, UUID_STR_LEN);
            c->members[c->n_members++][UUID_STR_LEN] = '\0';
        }
        p += len;
        if (*p == ',')
            p++;
    }
}

int access_is_member(const struct rctx *c, const char *member_id)
{
    for (size_t i = 0; i < c->n_members; i++)
        if (strcmp(c->members[i], member_id) == 0)
            return 1;
    return 0;
}

static void on_access(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    snprintf(c->group_currency, sizeof(c->group_currency), "%s", PQgetvalue(res, 0, 0));
    snprintf(c->member_id, sizeof(c->member_id), "%s", PQgetvalue(res, 0, 1));
    take_members(c, PQgetvalue(res, 0, 2));
    c->group_version = atoll(PQgetvalue(res, 0, 3));
    c->group_archived = PQgetvalue(res, 0, 5)[0] == 't';
    if (ledger_volume_parse(PQgetvalue(res, 0, 4), &c->volume) != 0) {
        respond_problem(c, PROBLEM_INTERNAL, "the group's totals could not be read", NULL);
        return;
    }
    c->next(c);
}

static void access_from_db(struct rctx *c)
{
    const char *p[2] = {c->group_id, c->user_id};
    pg_query(c, on_access,
             "SELECT g.currency, me.id, (SELECT string_agg(m.id::text, ',') FROM members m"
             " WHERE m.group_id = g.id AND m.removed_at IS NULL), g.version,"
             " (SELECT coalesce(sum(b.paid) + sum(b.sent), 0) || ':' ||"
             "  coalesce(sum(b.owed) + sum(b.received), 0) FROM balances b"
             "  WHERE b.group_id = g.id), g.archived_at IS NOT NULL FROM groups g JOIN members me"
             " ON me.group_id = g.id AND me.user_id = $2 WHERE g.id = $1",
             2, p);
}

/* The cached view answers the check alone: version, currency, member ids,
   volume and the caller's member id, all of one version. An archived group is
   never cached (the worker and the api's refill skip it, and archiving writes
   a tombstone), so a whole view is of a group that is not archived. A view without a
   volume (written before it had one) counts as a miss. */
static void on_access_cached(redisReply *r, struct rctx *c)
{
    if (!rctx_unref_live(c))
        return;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 5) {
        redisReply **e = r->element;
        int full = e[0]->type == REDIS_REPLY_STRING && e[1]->type == REDIS_REPLY_STRING &&
                   e[2]->type == REDIS_REPLY_STRING && e[1]->len == 3 &&
                   e[3]->type == REDIS_REPLY_STRING &&
                   ledger_volume_parse(e[3]->str, &c->volume) == 0;
        if (full && e[4]->type == REDIS_REPLY_STRING && e[4]->len == 36) {
            c->group_version = atoll(e[0]->str);
            memcpy(c->group_currency, e[1]->str, 4);
            memcpy(c->member_id, e[4]->str, UUID_STR_SIZE);
            take_members(c, e[2]->str);
            c->next(c);
            return;
        }
        if (full) {
            /* A whole view lists every member with an account. */
            respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
            return;
        }
    }
    /* A miss, a tombstone, or Redis down: ask PostgreSQL. */
    access_from_db(c);
}

void group_access_then(struct rctx *c, rctx_fn next)
{
    char key[96], field[48];
    c->next = next;
    keys_fmt(key, sizeof(key), "view", c->group_id);
    snprintf(field, sizeof(field), "u:%s", c->user_id);
    rcli_cmd(c, on_access_cached, "HMGET %s version currency members volume %s", key, field);
}

/*
 * A group's invites: the open ones listed (GET /groups/{gid}/invites) and one revoked
 * (DELETE /groups/{gid}/invites/{iid}, a change like those of route_manage.c). Group routes
 * (access.c). Tokens are stored hashed, so the list shows ids, never tokens. The list sends
 * no ETag: creating an invite does not move the group's version.
 */
#include "api.h"

/* --- GET and DELETE /groups/{gid}/invites -------------------------------------------------- */

static void on_invites(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    respond_json_text(c, 200, PQgetvalue(res, 0, 0));
}

void route_invites_list(struct rctx *c)
{
    const char *p[1] = {c->group_id};
    /* Open invites only: a group has few, so the list is not paginated. */
    pg_query(c, on_invites,
             "SELECT json_build_object('items', coalesce(json_agg(json_build_object("
             "'id', i.id, 'created_by', i.created_by, 'created_at', rfc3339(i.created_at),"
             " 'expires_at', rfc3339(i.expires_at)) ORDER BY i.created_at, i.id), '[]'))::text"
             " FROM invites i WHERE i.group_id = $1 AND i.expires_at > now()",
             1, p);
}

static void on_invite_revoked(PGresult *res, struct rctx *c)
{
    if (manage_changed(c, res, ""))
        respond_empty(c, 204);
}

void route_invite_revoke(struct rctx *c)
{
    const char *iid = manage_path_id(c, "invite");
    if (!iid || manage_redis_needed(c) != 0)
        return;
    const char *p[3] = {c->group_id, c->user_id, iid};
    pg_query(c, on_invite_revoked, MANAGE_SELECT "manage_invite_revoke($1, $2, $3)", 3, p);
}

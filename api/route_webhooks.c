/*
 * Webhooks: a group's members register URLs that receive the group's applied
 * ledger events. Synchronous, like members and invites; every route runs
 * after group_route (404 for a non-member).
 *
 * Registering checks the URL (shared/webhook.h: https only, a host that
 * resolves to public addresses only; WEBHOOKS_ALLOW_INSECURE=1 also takes
 * http:// and loopback, for tests) with the lookup on libuv's thread pool,
 * then stores the webhook with a new secret, answered in the 201 only (and to
 * a retry with the same Idempotency-Key). Deliveries are the worker's
 * (worker/webhooks.c): this file only lists them.
 */
#include "api.h"

#include "event.h"
#include "strbuf.h"
#include "webhook.h"
#include "xalloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEBHOOKS_MAX_PER_GROUP "20"
#define WEBHOOK_SECRET_PREFIX "whsec_"

static const char *const create_keys[] = {"url", "events", NULL};

/* One delivery row d as the JSON of the deliveries list (and of a webhook's
   last_delivery). */
#define DELIVERY_JSON                                                                              \
    "json_build_object('id', d.id, 'event_id', d.event_id, 'type', d.type,"                        \
    " 'status', d.status, 'attempts', d.attempts, 'last_status_code', d.last_status_code,"         \
    " 'last_error', d.last_error, 'created_at', rfc3339(d.created_at),"                            \
    " 'next_attempt_at', CASE WHEN d.status = 'pending' THEN rfc3339(d.next_attempt_at) END,"      \
    " 'delivered_at', rfc3339(d.delivered_at))"

/* --- POST /api/v1/groups/{gid}/webhooks ----------------------------------------------------- */

/* The registration between its checks: what the lookup checks and the
   insert writes. Owned by c->work until the lookup ends. */
struct webhook_new {
    uv_getaddrinfo_t req;
    struct rctx *c;
    struct webhook_url url;
    char *events; /* PostgreSQL array literal, or NULL for every type */
};

static void on_webhook_created(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_CONFLICT,
                        "a group has at most " WEBHOOKS_MAX_PER_GROUP " webhooks; delete one first",
                        NULL);
        return;
    }
    /* The secret, which no other answer shows. */
    respond_json_text(c, 201, PQgetvalue(res, 0, 0));
}

static void webhook_insert(struct rctx *c, const char *events)
{
    unsigned char raw[32];
    char id[UUID_STR_SIZE], secret[sizeof(WEBHOOK_SECRET_PREFIX) + 64];

    new_uuid(id);
    randombytes_buf(raw, sizeof(raw));
    memcpy(secret, WEBHOOK_SECRET_PREFIX, sizeof(WEBHOOK_SECRET_PREFIX) - 1);
    sodium_bin2hex(secret + sizeof(WEBHOOK_SECRET_PREFIX) - 1, 65, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    const char *url = json_string_value(json_object_get(c->doc.root, "url"));
    const char *p[6] = {c->group_id, c->user_id, id, url, events, secret};
    pg_write(
        c, on_webhook_created,
        "w AS (INSERT INTO webhooks (id, group_id, url, events, secret, created_by)"
        " SELECT $3, g.id, $4, $5::text[], $6, $2 FROM groups g WHERE g.id = $1"
        " AND EXISTS (SELECT 1 FROM members x WHERE x.group_id = g.id AND x.user_id = $2)"
        " AND (SELECT count(*) FROM webhooks o WHERE o.group_id = g.id) < " WEBHOOKS_MAX_PER_GROUP
        " RETURNING *)",
        "SELECT json_build_object('id', w.id, 'url', w.url, 'events', w.events,"
        " 'secret', w.secret, 'created_at', rfc3339(w.created_at))::text FROM w",
        NULL, 6, p);
    sodium_memzero(secret, sizeof(secret));
}

static void on_url_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct webhook_new *n = req->data;
    struct rctx *c = n->c;
    struct sockaddr_storage addr;
    socklen_t len;
    const char *why = "has a host that does not resolve";

    if (rctx_unref_live(c)) {
        if (status == 0 &&
            webhook_addrinfo_pick(ai, api.cfg.webhooks_allow_insecure, &addr, &len, &why) == 0) {
            webhook_insert(c, n->events);
        } else {
            struct fields f = {0};
            fields_add(&f, "url", "%s", why);
            respond_problem(c, PROBLEM_VALIDATION, "the webhook is not valid", &f);
        }
    }
    uv_freeaddrinfo(ai);
    free(n->events);
    free(n);
}

/* events: an array of distinct event type names, as a PostgreSQL array
   literal (names need no quoting) into *out (caller frees); absent or null:
   *out NULL. 0, or -1 with f told why. */
static int events_param(const json_t *v, char **out, struct fields *f)
{
    struct strbuf sb = {0};
    size_t i;
    const json_t *e;
    unsigned seen = 0;

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        fields_add(f, "events", "must be a non-empty array of event types");
        return -1;
    }
    strbuf_add(&sb, "{");
    json_array_foreach(v, i, e)
    {
        enum event_type t;
        if (!json_is_string(e) || event_type_parse(json_string_value(e), &t) != 0) {
            fields_add(f, "events", "item %zu is not an event type (expense.created, ...)", i);
            free(sb.buf);
            return -1;
        }
        if (seen & (1u << t)) {
            fields_add(f, "events", "item %zu repeats '%s'", i, json_string_value(e));
            free(sb.buf);
            return -1;
        }
        seen |= 1u << t;
        strbuf_add(&sb, i ? "," : "");
        strbuf_add(&sb, event_type_name(t));
    }
    strbuf_add(&sb, "}");
    *out = sb.buf;
    return 0;
}

void route_webhooks_create(struct rctx *c)
{
    struct fields f = {0};
    struct webhook_url u;
    const char *why = NULL;
    char *events = NULL;
    const json_t *url;

    if (req_parse_body(c, 0) != 0 || req_reject_unknown(c, create_keys) != 0)
        return;
    url = json_object_get(c->doc.root, "url");
    if (!json_is_string(url))
        fields_add(&f, "url", "is required: an https URL");
    else if (webhook_url_parse(json_string_value(url), api.cfg.webhooks_allow_insecure, &u, &why) !=
             0)
        fields_add(&f, "url", "%s", why);
    events_param(json_object_get(c->doc.root, "events"), &events, &f);
    if (f.n) {
        free(events);
        respond_problem(c, PROBLEM_VALIDATION, "the webhook is not valid", &f);
        return;
    }
    /* getaddrinfo blocks: libuv runs it on its thread pool. */
    struct webhook_new *n = xcalloc(1, sizeof(*n));
    char port[8];
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", u.port);
    n->c = c;
    n->url = u;
    n->events = events;
    n->req.data = n;
    rctx_ref(c);
    if (uv_getaddrinfo(api.loop, &n->req, on_url_resolved, n->url.host, port, &hints) != 0) {
        free(n->events);
        free(n);
        if (rctx_unref_live(c))
            respond_problem(c, PROBLEM_UNAVAILABLE, "the host lookup could not start", NULL);
    }
}

/* --- GET /api/v1/groups/{gid}/webhooks ---------------------------------------------------- */

static void on_webhooks(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    respond_json_text(c, 200, PQgetvalue(res, 0, 0));
}

void route_webhooks_list(struct rctx *c)
{
    const char *p[1] = {c->group_id};
    /* At most WEBHOOKS_MAX_PER_GROUP: one page, oldest first. */
    pg_query(c, on_webhooks,
             "SELECT json_build_object('items', coalesce(json_agg(json_build_object("
             " 'id', w.id, 'url', w.url, 'events', w.events, 'created_at', rfc3339(w.created_at),"
             " 'last_delivery', (SELECT " DELIVERY_JSON " FROM webhook_deliveries d"
             "  WHERE d.webhook_id = w.id ORDER BY d.seq DESC LIMIT 1))"
             " ORDER BY w.created_at, w.id), '[]'), 'next_cursor', NULL)::text"
             " FROM webhooks w WHERE w.group_id = $1",
             1, p);
}

/* --- DELETE /api/v1/groups/{gid}/webhooks/{wid} --------------------------------------------- */

static void on_webhook_deleted(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such webhook", NULL);
        return;
    }
    respond_empty(c, 204);
}

void route_webhook_delete(struct rctx *c)
{
    /* /api/v1/groups/{gid}/webhooks/{wid}; an id that is no UUID matches nothing. */
    const char *p[2] = {c->group_id, ledger_is_uuid(c->seg[5]) ? c->seg[5] : NULL};
    pg_query(c, on_webhook_deleted,
             "DELETE FROM webhooks WHERE id = $2::uuid AND group_id = $1 RETURNING id", 2, p);
}

/* --- GET /api/v1/groups/{gid}/webhooks/{wid}/deliveries --------------------------------------- */

/* Rows: the webhook's id, then each delivery's seq, id and JSON (NULL when
   the page is empty); no row when the group has no such webhook. */
static void on_deliveries(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    int n = PQntuples(res), limit = c->page_limit;
    if (n == 0) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such webhook", NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        if (PQgetisnull(res, i, 1))
            continue;
        json_t *d = json_loads(PQgetvalue(res, i, 3), 0, NULL);
        if (!d) {
            json_decref(items);
            respond_problem(c, PROBLEM_INTERNAL, "a stored delivery is malformed", NULL);
            return;
        }
        json_array_append_new(items, d);
    }
    json_t *body = json_pack("{s:o}", "items", items);
    if (n > limit) {
        char cursor[256];
        cursor_encode(PQgetvalue(res, limit - 1, 1), PQgetvalue(res, limit - 1, 2), cursor,
                      sizeof(cursor));
        json_object_set_new(body, "next_cursor", json_string(cursor));
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    respond_json(c, 200, body);
}

void route_webhook_deliveries(struct rctx *c)
{
    int limit;
    char key[PAGE_KEY_SIZE], id[UUID_STR_SIZE], lim[16];

    if (page_params(c, &limit, key, id) != 0)
        return;
    if (key[0] && strspn(key, "0123456789") != strlen(key)) {
        struct fields f = {0};
        fields_add(&f, "cursor", "is not a cursor of this list");
        respond_problem(c, PROBLEM_VALIDATION, "invalid pagination parameters", &f);
        return;
    }
    c->page_limit = limit;
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    const char *p[4] = {c->group_id, ledger_is_uuid(c->seg[5]) ? c->seg[5] : NULL,
                        key[0] ? key : NULL, lim};
    /* Newest first, walking webhook_deliveries_list (webhook_id, seq). */
    pg_query(c, on_deliveries,
             "SELECT w.id, d.seq, d.id, d.j FROM webhooks w LEFT JOIN LATERAL"
             " (SELECT d.seq, d.id, " DELIVERY_JSON "::text AS j FROM webhook_deliveries d"
             "  WHERE d.webhook_id = w.id AND ($3::bigint IS NULL OR d.seq < $3::bigint)"
             "  ORDER BY d.seq DESC LIMIT $4::int) d ON true"
             " WHERE w.id = $2::uuid AND w.group_id = $1 ORDER BY d.seq DESC",
             4, p);
}

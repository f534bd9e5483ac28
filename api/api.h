/*
 * api: the REST server. One libuv loop runs h2o, the Redis client and the
 * PostgreSQL pool; nothing on the request path blocks. CPU-heavy work
 * (password hashing) runs on libuv's thread pool.
 *
 * Request lifetime: the router allocates a struct rctx per request. Every
 * asynchronous step takes a reference and drops it in its callback; h2o's
 * request pool holds one more, dropped when h2o disposes the request (a
 * client that went away), after which rctx->req is NULL and callbacks only
 * clean up. A request answers exactly once (rctx_respond_*), and a deadline
 * answers 503 if its dependencies stay silent.
 */
#ifndef SPLITTER_API_H
#define SPLITTER_API_H

#include "cursor.h"
#include "fields.h"
#include "json.h"
#include "ledger.h"
#include "problem.h"
#include "uuid.h"
#include "sentinel.h"

#include <h2o.h>
#include <hiredis/async.h>
#include <libpq-fe.h>
#include <stdint.h>

#define API_MAX_BODY (64 * 1024)
#define API_MAX_DEPTH 16
#define API_DEADLINE_MS 5000
#define API_MAX_WAIT_S 10
#define API_MAX_SEGMENTS 7 /* /api/v1/groups/{gid}/events/{event_id}/revert */

struct api_config {
    const char *host;
    int port;
    int pg_pool_size;
    /* statement_timeout and lock_timeout of every api connection, ms (0: off) */
    int pg_statement_timeout_ms, pg_lock_timeout_ms;
    const char *redis_host, *redis_password;
    int redis_port;
    struct sentinel_config sentinel; /* REDIS_SENTINELS: n = 0 when not used */
    /* a 202 waits until this many Redis replicas hold the write (0: off),
       for at most redis_wait_timeout_ms, else 503 */
    int redis_wait_replicas, redis_wait_timeout_ms;
    unsigned partitions;
    const char *migrations_dir;
    /* failed logins per account: delayed from threshold, refused (429) above
       limit, counted in a fixed window of window_s seconds */
    int login_fail_threshold, login_fail_limit, login_fail_window_s;
    /* sessions cached in the api: re-checked against Redis after recheck_s,
       accepted while Redis is unreachable if checked within grace_s */
    int session_recheck_s, session_grace_s;
    /* live streams (stream.c): a comment every heartbeat_ms, at most
       max_streams open, at most max_buffer bytes queued for one client */
    int stream_heartbeat_ms, stream_max, stream_max_buffer;
    /* WEBHOOKS_ALLOW_INSECURE=1 (tests, development): webhook URLs may be
       http:// and point to loopback (shared/webhook.h) */
    int webhooks_allow_insecure;
};

struct rctx;
struct stream_sub;
struct stream_hub;
typedef void (*rctx_fn)(struct rctx *c);

/* One request in flight. Owned by its references (see above). */
struct rctx {
    h2o_req_t *req; /* NULL once h2o disposed the request */
    int refs;       /* the request's + one per pending callback */
    int responded;  /* 1 once an answer went out */
    int abandoned;  /* 1 once the deadline answered: its queries are dropped or cancelled */
    h2o_timeout_entry_t deadline;
    h2o_linklist_t waiting; /* in the waiters list while Prefer: wait */
    h2o_timeout_entry_t wait_timer;
    int wait_s;                       /* seconds still to wait; 0 = answer now */
    int waiting_ref;                  /* 1 while the wait holds a reference */
    int wait_requested;               /* N of Prefer: wait=N, for Preference-Applied */
    int checks_in_flight;             /* status reads not yet answered */
    int fetching_result;              /* the event is applied: its resource is being read */
    int result_status;                /* 201 or 200: the status that resource answers with */
    const struct resource_kind *kind; /* the resource being read (respond_resource) */
    /* A ledger write the api already knows to fail (a stale If-Match): event_accept answers
       with this problem, unless the request has an Idempotency-Key. "" = none. */
    enum problem_code refuse_code;
    char refuse_detail[96];

    /* routing */
    const char *method;  /* "GET", "POST", ... (static strings) */
    const char *route;   /* route pattern for /metrics (static string), NULL: unmatched */
    uint64_t started_ns; /* monotonic arrival time, for /metrics */
    char seg[API_MAX_SEGMENTS][64]; /* path segments, /api/v1 included */
    size_t n_seg;
    const char *query; /* borrowed from req, may be NULL */
    size_t query_len;

    /* authentication */
    char token_hash[65];
    char user_id[UUID_STR_SIZE];

    /* the parsed body, if any */
    struct json_doc doc;

    /* route state; released by rctx_free */
    char group_id[UUID_STR_SIZE], group_currency[4], member_id[UUID_STR_SIZE];
    char event_id[UUID_STR_SIZE], target_id[UUID_STR_SIZE], type[32];
    char accepted_at[24];      /* a ledger write's acceptance time */
    int64_t if_match;          /* If-Match of a write (0: none) */
    int page_limit;            /* a list's ?limit (page_params) */
    int answer_status;         /* the status an answer prepared across steps goes out with */
    int attempts;              /* retries of a step that lost a race */
    json_t *data;              /* owned */
    char *event_text;          /* owned */
    char *idem_key;            /* owned: redis key for Idempotency-Key, or NULL */
    char *idem_hash;           /* owned: request hash (route, target, If-Match, body) */
    char *scratch;             /* owned: route specific */
    void *work;                /* owned by the thread-pool step */
    rctx_fn release;           /* frees what route state owns beyond the fields above */
    struct stream_sub *stream; /* borrowed: the open stream of this request, NULL once gone */
    struct stream_hub *hub;    /* borrowed: the group a stream query reads for */
    rctx_fn next;
    rctx_fn handler; /* a group route's handler, after group_route's checks */

    /* what the access check (access.c) saw of the group: its version, the
       volume (the range rule) and every member id (owned; access_is_member) */
    int64_t group_version;
    int group_archived; /* the group is archived (read-only) */
    struct ledger_volume volume;
    char (*members)[UUID_STR_SIZE];
    size_t n_members;
    /* owned: a synchronous write with an Idempotency-Key (sync_write.c) */
    struct sync_write *sync;
};

/* --- main.c ----------------------------------------------------------------- */

struct api {
    struct api_config cfg;
    uv_loop_t *loop;
    h2o_globalconf_t h2o;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_timeout_t deadline;
    h2o_timeout_t wait_timeouts[API_MAX_WAIT_S + 1];
    h2o_linklist_t waiters;
    uint64_t in_flight;
    int stopping;
};

extern struct api api;

/* --- http.c ----------------------------------------------------------------- */

/* A context for req; the caller owns one reference (h2o's pool the other). */
struct rctx *rctx_new(h2o_req_t *req);
/* A context with no request, for work the server does on its own behalf
   (stream fan-out queries): one reference, the caller's; counted in flight
   until freed, so shutdown waits for it. */
struct rctx *rctx_new_detached(void);
void rctx_ref(struct rctx *c);
/* The deadline guards dependencies, not our own CPU work or delays: pause it
   around them, and restart it (a full API_DEADLINE_MS) when they end. */
void rctx_deadline_pause(struct rctx *c);
void rctx_deadline_restart(struct rctx *c);
/* Drop a reference; frees c at zero. Returns 1 if the request is still live
   and unanswered (the caller may go on), else 0. */
int rctx_unref_live(struct rctx *c);
void rctx_unref(struct rctx *c);
/* 1 if the request can still be answered. */
int rctx_live(const struct rctx *c);

/* Answer with a JSON body (stolen reference). */
void respond_json(struct rctx *c, int status, json_t *body);
/* Answer with JSON text from PostgreSQL, re-serialised compactly. */
void respond_json_text(struct rctx *c, int status, const char *text);
/* Answer with a ready JSON body of len bytes (copied). */
void respond_raw(struct rctx *c, int status, const char *body, size_t len);
/* Answer with a problem (RFC 9457). f may be NULL. */
void respond_problem(struct rctx *c, enum problem_code code, const char *detail,
                     const struct fields *f);
/* Answer with a prepared problem object (stolen). */
void respond_problem_json(struct rctx *c, json_t *problem);
/* 204 / 304 with no body. */
void respond_empty(struct rctx *c, int status);
/* Answer with a body of len bytes (copied) of content type ctype (static). */
void respond_text(struct rctx *c, int status, const char *ctype, const char *body, size_t len);
void add_header(struct rctx *c, const h2o_token_t *token, const char *value);
void add_header_name(struct rctx *c, const char *name, const char *value);
/* Start a streamed answer (status, Content-Type ctype, no Content-Length):
   the body follows through h2o_send() driven by gen, which must live as long
   as the request. The request then counts as answered (no deadline); later
   callbacks test rctx_unref_req() instead of rctx_unref_live(). */
void respond_stream_start(struct rctx *c, int status, const char *ctype, h2o_generator_t *gen);
/* Drop a reference; 1 if h2o still holds the request (a started stream may
   go on), else 0 (c may be gone). */
int rctx_unref_req(struct rctx *c);
/* Add ETag: "<version>". */
void add_etag(struct rctx *c, int64_t version);

/* The value of a request header, or NULL; len set. */
const char *req_header(struct rctx *c, const h2o_token_t *token, size_t *len);
/* The same by lowercase header name. */
const char *req_header_name(struct rctx *c, const char *name, size_t *len);
/* If-Match (shared/etag.h): 1 with *version set for one of our tags ("3"); 0
   when absent or "*" (no version to hold the write to); -1 for anything that
   can never match (answer 412). */
int req_if_match(struct rctx *c, int64_t *version);
/* If-None-Match equals the ETag of version. */
int req_not_modified(struct rctx *c, int64_t version);
/* A query parameter's value copied into buf; 1 if present, 0 if absent. */
int req_query(struct rctx *c, const char *name, char *buf, size_t size);

/* Keyset pagination: ?limit=1..PAGE_MAX_LIMIT (default PAGE_DEFAULT_LIMIT) and
   ?cursor=<opaque>. The cursor carries the last item's sort key (a timestamp
   or an integer: digits and "-:.TZ", at most 40 bytes) and its UUID. On the
   first page key and id are "". Answers 422 naming the parameter and returns
   -1 when either is malformed. key >= PAGE_KEY_SIZE bytes, id >= UUID_STR_SIZE. */
#define PAGE_DEFAULT_LIMIT 50
#define PAGE_MAX_LIMIT 200
#define PAGE_KEY_SIZE 48 /* > CURSOR_KEY_MAX; cursor_encode (shared/cursor.h) makes cursors */
int page_params(struct rctx *c, int *limit, char *key, char *id);

/* Answer 503 and return 1 unless res holds rows (a query that failed, or no
   connection); else 0. */
int respond_db_failed(struct rctx *c, PGresult *res);
/* For a group list page whose rows start with the group's version (column 0)
   and that has no row when the caller is not a member: answer 503, 404, or
   304 (If-None-Match) and return -1; else set the ETag and return 0. */
int respond_page_head(struct rctx *c, PGresult *res);
/* A resource's JSON from row of res (columns from 0). New reference, or NULL
   when the stored row is malformed. */
typedef json_t *(*row_fn)(const PGresult *res, int row);
/* A kind of versioned resource a ledger write produces (an expense, a
   payment): its one row definition and how it is read (static data). */
struct resource_kind {
    const char *what;        /* "expense", for "no such expense" */
    const char *get_sql;     /* $1 group, $2 id, $3 caller: no row for a non-member, NULL
                                columns for no such (or a deleted) resource */
    const char *applied_sql; /* $1 id, $2 group: the resource, deleted ones too */
    int n_cols, id_col, version_col;
    row_fn from_row;
};
extern const struct resource_kind expense_resource, payment_resource;
/* Answer a one-row read of one resource of kind c->kind: no row, 404 "no
   such group" (the caller is not a member); NULL at id_col, 404 "no such
   <what>"; else ETag: its version, 304 for a matching If-None-Match, and 200
   with from_row. applied: the answer to Prefer: wait instead: status
   c->result_status, no 304. 503 when the query failed, 500 when the row is
   malformed or of another shape. */
void respond_resource(struct rctx *c, PGresult *res, int applied);
/* If-Match of a write to a resource of kind what into c->if_match: answers
   412 when malformed, 428 when absent and required, and returns -1; else 0
   (c->if_match 0 when absent). */
int req_if_match_checked(struct rctx *c, int required, const char *what);
/* Answer 422 naming the first key of the parsed body not in allowed
   (NULL-terminated) and return -1; else 0. */
int req_reject_unknown(struct rctx *c, const char *const *allowed);

/* Parse the JSON body; answers 400/413/415/422 itself and returns -1. An
   empty body is accepted as {} when allow_empty. */
int req_parse_body(struct rctx *c, int allow_empty);
/* The same with a larger limit than API_MAX_BODY (max bytes; h2o's own limit still holds). */
int req_parse_body_max(struct rctx *c, int allow_empty, size_t max);

/* Authenticate, then call next (with c->user_id set); answers 401/503. A
   session seen within session_recheck_s skips Redis; while Redis is
   unreachable, one verified within session_grace_s is accepted. */
void auth_then(struct rctx *c, rctx_fn next);

/* --- sessions.c: the in-process session cache ---------------------------------- */

/* The user id (UUID_STR_SIZE bytes) cached for token_hash and the milliseconds since it
   was last verified in Redis: 1 found, 0 not. */
int sessions_lookup(const char *token_hash, char *user_id, uint64_t *age_ms);
/* Remember token_hash -> user_id as verified now (evicts the stalest entry of
   its set when full). */
void sessions_put(const char *token_hash, const char *user_id);
/* Forget token_hash (logout). */
void sessions_forget(const char *token_hash);

/* Current time RFC 3339 (seconds, UTC) into buf (>= 21 bytes). */
void now_rfc3339(char *buf);
/* A new random lowercase UUID into buf (UUID_STR_SIZE bytes). */
void new_uuid(char *buf);
/* Lowercase hex SHA-256 of data into hex (65 bytes). */
void sha256_hex(const void *data, size_t len, char *hex);

/* --- rcli.c: Redis ------------------------------------------------------------ */

typedef void (*rcli_cb)(redisReply *reply, struct rctx *c);
/* A message on the channel of finished events (KEYS_DONE_CHANNEL): the ids
   of the events one applied batch finished, separated by single spaces. */
typedef void (*rcli_message_fn)(const char *msg, size_t len);

/* Connect; every message on the channel of finished events goes to
   on_message (the caller's, registered for the life of the process). */
int rcli_init(rcli_message_fn on_message);
void rcli_close(void);
/* 1 when the command connection is up. */
int rcli_up(void);
/* Send a command for c; cb runs with the reply (NULL when Redis is down or
   the connection dropped). Takes a reference on c. */
void rcli_cmd(struct rctx *c, rcli_cb cb, const char *fmt, ...);
void rcli_cmd_argv(struct rctx *c, rcli_cb cb, int argc, const char **argv, const size_t *lens);
struct script;
/* Run script s by its digest: EVALSHA <sha> then the argc arguments of argv
   (numkeys, keys, args; lens NULL for C strings), copied before it returns.
   When Redis answers NOSCRIPT (it lost its scripts: the call did not run),
   the script is loaded and the same call sent once more; cb then sees the
   second reply. cb as for rcli_cmd_argv; c and cb may both be NULL (fire and
   forget, still sent again on NOSCRIPT). s must outlive the call (a static). */
void rcli_script(struct rctx *c, rcli_cb cb, struct script *s, int argc, const char **argv,
                 const size_t *lens);
/* Fire and forget. */
void rcli_send(const char *fmt, ...);
void rcli_send_argv(int argc, const char **argv, const size_t *lens);
/* Mark the cached view of group_id stale at version (decimal): the next read
   rebuilds it from PostgreSQL. Membership changes call it after their commit,
   and refuse to start (503) while Redis is down, so the mark cannot be lost
   to an outage that began earlier. */
void rcli_view_tombstone(const char *group_id, const char *version);
/* Replica acknowledgement (REDIS_WAIT_REPLICAS > 0): call done(c, ok) once
   every write answered before this call is on REDIS_WAIT_REPLICAS replicas
   (ok 1), or not within REDIS_WAIT_TIMEOUT_MS or with Redis unreachable
   (ok 0). Many requests share one WAIT (rcli.c). Takes a reference on c,
   which done drops. */
typedef void (*rcli_acked_fn)(struct rctx *c, int ok);
void rcli_replicated(struct rctx *c, rcli_acked_fn done);

/* --- pgpool.c: PostgreSQL ----------------------------------------------------- */

typedef void (*pg_cb)(PGresult *res, struct rctx *c);

int pgpool_init(void);
void pgpool_close(void);
/* 1 when at least one connection is up. */
int pgpool_up(void);
/* Queue a parameterised query for c (params are copied; NULL entries are SQL
   NULL). cb gets the result (NULL if the connection failed) and must not
   PQclear it. Takes a reference on c. */
void pg_query(struct rctx *c, pg_cb cb, const char *sql, int n, const char *const *params);
/* The request's deadline answered (c->abandoned is set): its queued queries
   fail at once (callbacks get NULL), and one in flight is cancelled on the
   server (PQcancel, off the loop). The connection goes back to the pool only
   once that query has ended and the cancel request is done. c may be freed
   by the callbacks: the caller must not touch it afterwards. */
void pgpool_abandon(struct rctx *c);

/* --- sync_write.c: synchronous writes and their Idempotency-Key --------------- */

/* Run the synchronous write "WITH <ctes> <final>" (one statement) for c, as
   pg_query would, honouring the request's Idempotency-Key: the key is
   recorded with the rows final returned, in the same statement, when keep
   (an SQL condition on one of those rows, alias o; NULL: always) holds; a
   retry with the same key and request gets those rows again (its answer
   then carries Idempotent-Replayed: true), one with another request 422.
   cb is called exactly as after pg_query; when the header is invalid the
   api answers 422 itself and cb is never called. */
void pg_write(struct rctx *c, pg_cb cb, const char *ctes, const char *final, const char *keep,
              int n, const char *const *params);
/* The Idempotency-Key header (borrowed, NULL when absent) and its length:
   0; or -1 after answering 422 when it is empty or longer than 255 bytes. */
int req_idempotency_key(struct rctx *c, const char **key, size_t *len);
/* Free a keyed write's state (NULL is fine). */
void sync_write_release(struct sync_write *w);

/* --- waiters.c: Prefer: wait ------------------------------------------------- */

/* Prefer: wait=N (RFC 7240), capped at API_MAX_WAIT_S; 0 when absent or
   malformed. */
int req_prefer_wait(struct rctx *c);
/* Wait up to c->wait_s seconds for c->event_id (just accepted, or replayed),
   then answer its outcome: the resource it produced (201 or 200 with
   Preference-Applied), its problem when rejected, or 202 while queued. */
void waiter_start(struct rctx *c);
/* A message arrived on the channel of finished events (rcli_message_fn):
   end the waits of the events it names. */
void waiter_notify(const char *msg, size_t len);
/* Answer every waiting request (at shutdown). */
void waiter_flush(void);

/* Prepare password hashing (start-up, blocking). 0, or -1. */
int auth_init(void);

/* --- access.c: the access check of the routes inside one group ----------------- */

/* Path segment 3 as c->group_id; answers 404 and returns -1 unless a UUID. */
int take_group_id(struct rctx *c);
/* Read one resource of a group, /groups/{gid}/<kind>/{id}: sql gets $1 the
   group id, $2 the id (NULL when not a UUID: it matches nothing) and $3 the
   caller, and must answer no row to a non-member; cb gets the result. */
void group_resource_query(struct rctx *c, pg_cb cb, const char *sql);
/* Answer GET /groups/{gid}/<kind>/{id} (authenticated) from PostgreSQL. */
void resource_get(struct rctx *c, const struct resource_kind *kind);
/* Load the group (c->group_id) as seen by c->user_id, then call next with
   c->group_currency, c->member_id, c->group_version, c->volume and
   c->members set; 404 if absent or not a member. */
void group_access_then(struct rctx *c, rctx_fn next);
/* A route inside one group (the router's ROUTE_GROUP): authenticate (401
   whatever the path holds), take the group id from the path and check
   access (404 for a non-member, before anything of the body or query is
   looked at), then call handler. */
void group_route(struct rctx *c, rctx_fn handler);
/* 1 if member_id is one of the group's members (after group_access_then). */
int access_is_member(const struct rctx *c, const char *member_id);

/* --- routes ------------------------------------------------------------------- */

/* Each route answers one path and method (main.c's table). A route of one
   group (members and invites created, expense and payment writes, a revert,
   the expense list) starts after group_route (access.c) has authenticated
   the caller and checked the group's access; every other route does its
   own checks. */

void route_health(struct rctx *c);
void route_metrics(struct rctx *c);
void route_ping(struct rctx *c);
void route_register(struct rctx *c);
void route_login(struct rctx *c);
void route_logout(struct rctx *c);
void route_me(struct rctx *c);
/* POST /me/credentials: a guest adds an email and password (route_auth.c). */
void route_me_credentials(struct rctx *c);
void route_groups_create(struct rctx *c);
/* Answer 200 with the group resource: text is its JSON from PostgreSQL, head the hex
   head of its hash chain (shared/chain.h), or NULL before its first event (then absent). */
void respond_group(struct rctx *c, const char *text, const char *head);
void route_groups_list(struct rctx *c);
void route_group_get(struct rctx *c);
void route_members_create(struct rctx *c);
/* A body's "name" of 1..100 characters: borrowed from body, or NULL with the fault
   recorded in f. */
const char *body_name(const json_t *body, struct fields *f);
/* route_manage.c: changing a group, its members and its invites */
void route_group_patch(struct rctx *c);
void route_group_leave(struct rctx *c);
void route_member_patch(struct rctx *c);
void route_member_delete(struct rctx *c);
/* The columns every change of route_manage.c answers: outcome, body, version, event ids
   (space-separated); append the function call. */
#define MANAGE_SELECT "SELECT outcome, body::text, version, array_to_string(event_ids, ' ') FROM "
/* A change's result (MANAGE_SELECT): 1 when it was made (the view marked stale and its events
   announced when there were any), else 0 after answering its problem (what_balance: whose
   balance is not zero, "your" or "this member's"). Drops the query's reference. */
int manage_changed(struct rctx *c, PGresult *res, const char *what_balance);
/* 0 when Redis is up (a change's tombstone cannot be lost); else -1 after answering 503. */
int manage_redis_needed(struct rctx *c);
/* Path segment 5 when it is a UUID; else NULL after answering 404 "no such <what>". */
const char *manage_path_id(struct rctx *c, const char *what);
/* route_invites_admin.c */
void route_invites_list(struct rctx *c);
void route_invite_revoke(struct rctx *c);
void route_invites_create(struct rctx *c);
void route_invite_accept(struct rctx *c);
/* Both ways of accepting (with an account, or as a guest): c->seg[3] must be a token this
   server issues and name a live invite, else 404; Redis must be up (503); an archived group
   takes no one (409). Then c->group_id is the invite's group, c->scratch (owned) the token's
   SHA-256 in hex, and next runs. */
void invite_lookup(struct rctx *c, rctx_fn next);
/* What both ways of accepting answer, two columns: the group as GET answers it after the
   change (JSON text) and its chain head (hex), from the statement's CTEs g (the group), v
   (its new version, if bumped), claimed (the member claimed for user $2) and added (the
   member inserted). */
#define INVITE_ACCEPTED_GROUP_SQL                                                                  \
    "(SELECT json_build_object('id', g.id, 'name', g.name, 'currency', g.currency,"                \
    "  'created_at', rfc3339(g.created_at),"                                                       \
    "  'version', coalesce((SELECT version FROM v), g.version),"                                   \
    "  'archived', g.archived_at IS NOT NULL, 'archived_at', rfc3339(g.archived_at), 'members',"   \
    "  (SELECT json_agg(json_build_object('id', x.id, 'name', x.name, 'user_id', x.user_id)"       \
    "   ORDER BY x.position) FROM (SELECT m.id, m.name, CASE WHEN m.id IN"                         \
    "   (SELECT id FROM claimed) THEN $2::uuid ELSE m.user_id END AS user_id, m.position"          \
    "   FROM members m WHERE m.group_id = g.id AND m.removed_at IS NULL"                           \
    "   UNION ALL SELECT id, name, user_id, position FROM added) x))::text FROM g),"               \
    " (SELECT encode(head_hash, 'hex') FROM g)"
/* POST /invites/{token}/accept without Authorization (route_guests.c): join as a guest. */
void route_guest_join(struct rctx *c);
void route_expense_write(struct rctx *c);
/* POST, PUT and DELETE of payments. */
void route_payment_write(struct rctx *c);
void route_payment_get(struct rctx *c);
void route_payments_list(struct rctx *c);
void route_event_revert(struct rctx *c);
void route_me_balances(struct rctx *c);
void route_expenses_list(struct rctx *c);
/* GET /groups/{gid}/recurrences (route_recurrences.c). */
void route_recurrences_list(struct rctx *c);
void route_expense_get(struct rctx *c);
void route_balances(struct rctx *c);
void route_settlements(struct rctx *c);
void route_group_events(struct rctx *c);
void route_group_stream(struct rctx *c);
void route_event_get(struct rctx *c);
void route_export(struct rctx *c);
/* GET /groups/{gid}/export.json (route_export_json.c). */
void route_export_json(struct rctx *c);
/* POST /groups/import (route_import.c). */
void route_groups_import(struct rctx *c);
/* route_webhooks.c: POST and GET /groups/{gid}/webhooks, DELETE .../{wid},
   GET .../{wid}/deliveries. */
void route_webhooks_create(struct rctx *c);
void route_webhooks_list(struct rctx *c);
void route_webhook_delete(struct rctx *c);
void route_webhook_deliveries(struct rctx *c);

/* --- route_auth.c: what the account routes share ------------------------------------- */

/* The user resource of a users row aliased u, as JSON text. A guest has no
   email (null) and "guest": true. */
#define USER_JSON_SQL                                                                              \
    "json_build_object('id', u.id, 'email', u.email, 'name', u.name, 'guest', u.email IS NULL,"    \
    " 'created_at', rfc3339(u.created_at))::text"
/* Start a session for body's "user" (body: an object, stolen): its token is
   added to body as "token", and body answers status once Redis holds the
   session (503 if it cannot). */
void session_issue(struct rctx *c, json_t *body, int status);
/* The "name" of body: a string of 1 to 100 characters without NUL. 0, or -1
   with the reason recorded in f. */
int auth_get_name(const json_t *body, struct fields *f);

/* The audit-log columns, in the order audit_item reads them, of an events
   row aliased x. */
#define AUDIT_COLUMNS                                                                              \
    "x.event_id, x.seq, x.type, x.actor,"                                                          \
    " rfc3339(x.accepted_at),"                                                                     \
    " x.payload::text, x.before::text, x.after::text, encode(x.hash, 'hex'),"                      \
    " encode(sha256(convert_to(x.payload::text, 'UTF8')), 'hex')"
/* The audit-log entry of row whose AUDIT_COLUMNS start at column col: a new
   reference (the item of GET /groups/{gid}/events and of its stream). */
json_t *audit_item(PGresult *res, int row, int col);

/* --- stream.c: GET /groups/{gid}/stream (server-sent events) ----------------------- */

/* Start the heartbeat timer. */
void stream_init(void);
/* A message arrived on the channel of finished events (rcli_message_fn):
   fetch the new audit-log entries of the groups with open streams. */
void stream_notify(const char *msg, size_t len);
/* Close every stream and stop the timer (at shutdown). */
void stream_shutdown(void);
/* Open streams, for /metrics. */
uint64_t stream_count(void);

/* --- route_ledger.c: accepting a ledger write as an event -------------------------- */

/* Accept the ledger event built in c (type, target_id, data, if_match):
   honour Idempotency-Key, append it to its group's partition stream, and
   answer 202 or, with Prefer: wait (read here), its outcome. Answers every
   error itself; refuses with c->refuse_code when refuse_detail is set and the
   request has no Idempotency-Key. */
void event_accept(struct rctx *c);

/* The 202 of an accepted event still queued (once Redis replicas hold it,
   with REDIS_WAIT_REPLICAS). */
void event_answer_accepted(struct rctx *c);
/* Read the status hash of c->event_id (HGETALL; the flat field/value reply,
   empty once the worker recorded the event) and call cb with it. */
void event_status_read(struct rctx *c, rcli_cb cb);
/* 1 if c's event creates its resource (answered 201 once applied). */
int event_is_create(const struct rctx *c);
/* The type of c's event, kept by name in c->type (see shared/event.h). */
enum event_type event_type_of_request(const struct rctx *c);
void event_set_type(struct rctx *c, enum event_type t);

/* --- metrics.c: GET /metrics (docs/OPERATIONS.md) ------------------------------ */

/* At a request's start (rctx_new) and at its answer (http.c, once). */
void metrics_request_begin(struct rctx *c);
void metrics_request_done(struct rctx *c, int status);

#endif

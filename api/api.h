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

#include "fields.h"
#include "json.h"
#include "problem.h"

#include <h2o.h>
#include <hiredis/async.h>
#include <libpq-fe.h>
#include <stdint.h>

#define API_MAX_BODY (64 * 1024)
#define API_MAX_DEPTH 16
#define API_DEADLINE_MS 5000
#define API_MAX_WAIT_S 10

struct api_config {
    const char *host;
    int port;
    int pg_pool_size;
    const char *redis_host, *redis_password;
    int redis_port;
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
    h2o_timeout_entry_t deadline;
    h2o_linklist_t waiting; /* in the waiters list while Prefer: wait */
    h2o_timeout_entry_t wait_timer;
    int wait_s;           /* seconds still to wait; 0 = answer now */
    int waiting_ref;      /* 1 while the wait holds a reference */
    int wait_requested;   /* N of Prefer: wait=N, for Preference-Applied */
    int checks_in_flight; /* status reads not yet answered */
    int fetching_result;  /* the event is applied: its resource is being read */
    int result_status;    /* 201 or 200: the status that resource answers with */

    /* routing */
    const char *method;  /* "GET", "POST", ... (static strings) */
    const char *route;   /* route pattern for /metrics (static string), NULL: unmatched */
    uint64_t started_ns; /* monotonic arrival time, for /metrics */
    char seg[6][64];     /* path segments after /api/v1 */
    size_t n_seg;
    const char *query; /* borrowed from req, may be NULL */
    size_t query_len;

    /* authentication */
    char token_hash[65];
    char user_id[37];

    /* the parsed body, if any */
    struct json_doc doc;

    /* route state; released by rctx_free */
    char group_id[37], group_currency[4], member_id[37];
    char event_id[37], target_id[37], type[32];
    int64_t if_match, version;
    json_t *data;              /* owned */
    char *event_text;          /* owned */
    char *idem_key;            /* owned: redis key for Idempotency-Key, or NULL */
    char *idem_hash;           /* owned: body hash */
    char *scratch;             /* owned: route specific */
    void *work;                /* owned by the thread-pool step */
    rctx_fn release;           /* frees what route state owns beyond the fields above */
    struct stream_sub *stream; /* borrowed: the open stream of this request, NULL once gone */
    struct stream_hub *hub;    /* borrowed: the group a stream query reads for */
    rctx_fn next;
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
/* If-None-Match equals the ETag of version. */
int req_not_modified(struct rctx *c, int64_t version);
/* A query parameter's value copied into buf; 1 if present, 0 if absent. */
int req_query(struct rctx *c, const char *name, char *buf, size_t size);

/* Keyset pagination: ?limit=1..PAGE_MAX_LIMIT (default PAGE_DEFAULT_LIMIT) and
   ?cursor=<opaque>. The cursor carries the last item's sort key (a timestamp
   or an integer: digits and "-:.TZ", at most 40 bytes) and its UUID. On the
   first page key and id are "". Answers 422 naming the parameter and returns
   -1 when either is malformed. key >= PAGE_KEY_SIZE bytes, id >= 37. */
#define PAGE_DEFAULT_LIMIT 50
#define PAGE_MAX_LIMIT 200
#define PAGE_KEY_SIZE 48
int page_params(struct rctx *c, int *limit, char *key, char *id);
/* The opaque cursor for (key, id) into out (>= 128 bytes). */
void cursor_encode(const char *key, const char *id, char *out, size_t size);

/* Answer 503 and return 1 unless res holds rows (a query that failed, or no
   connection); else 0. */
int respond_db_failed(struct rctx *c, PGresult *res);
/* For a group list page whose rows start with the group's version (column 0)
   and that has no row when the caller is not a member: answer 503, 404, or
   304 (If-None-Match) and return -1; else set the ETag and return 0. */
int respond_page_head(struct rctx *c, PGresult *res);
/* Answer 422 naming the first key of the parsed body not in allowed
   (NULL-terminated) and return -1; else 0. */
int req_reject_unknown(struct rctx *c, const char *const *allowed);

/* Parse the JSON body; answers 400/413/415/422 itself and returns -1. An
   empty body is accepted as {} when allow_empty. */
int req_parse_body(struct rctx *c, int allow_empty);

/* Authenticate, then call next (with c->user_id set); answers 401/503. A
   session seen within session_recheck_s skips Redis; while Redis is
   unreachable, one verified within session_grace_s is accepted. */
void auth_then(struct rctx *c, rctx_fn next);

/* --- sessions.c: the in-process session cache ---------------------------------- */

/* The user id (37 bytes) cached for token_hash and the milliseconds since it
   was last verified in Redis: 1 found, 0 not. */
int sessions_lookup(const char *token_hash, char *user_id, uint64_t *age_ms);
/* Remember token_hash -> user_id as verified now (evicts the stalest entry of
   its set when full). */
void sessions_put(const char *token_hash, const char *user_id);
/* Forget token_hash (logout). */
void sessions_forget(const char *token_hash);

/* Current time RFC 3339 (seconds, UTC) into buf (>= 21 bytes). */
void now_rfc3339(char *buf);
/* A new random lowercase UUID into buf (37 bytes). */
void new_uuid(char *buf);
/* Lowercase hex SHA-256 of data into hex (65 bytes). */
void sha256_hex(const void *data, size_t len, char *hex);

/* --- rcli.c: Redis ------------------------------------------------------------ */

typedef void (*rcli_cb)(redisReply *reply, struct rctx *c);

int rcli_init(void);
void rcli_close(void);
/* 1 when the command connection is up. */
int rcli_up(void);
/* Send a command for c; cb runs with the reply (NULL when Redis is down or
   the connection dropped). Takes a reference on c. */
void rcli_cmd(struct rctx *c, rcli_cb cb, const char *fmt, ...);
void rcli_cmd_argv(struct rctx *c, rcli_cb cb, int argc, const char **argv, const size_t *lens);
/* Fire and forget. */
void rcli_send(const char *fmt, ...);
void rcli_send_argv(int argc, const char **argv, const size_t *lens);
/* Mark the cached view of group_id stale at version (decimal): the next read
   rebuilds it from PostgreSQL. Membership changes call it after their commit,
   and refuse to start (503) while Redis is down, so the mark cannot be lost
   to an outage that began earlier. */
void rcli_view_tombstone(const char *group_id, const char *version);

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

/* --- waiters.c: Prefer: wait ------------------------------------------------- */

/* Start waiting up to c->wait_s seconds for c->event_id, then call
   event_answer_wait. */
void waiter_start(struct rctx *c);
/* A message arrived on the channel: the ids of finished events, separated by
   single spaces (one message per applied batch). */
void waiter_notify(const char *msg, size_t len);
/* Answer every waiting request (at shutdown). */
void waiter_flush(void);

/* Prepare password hashing (start-up, blocking). 0, or -1. */
int auth_init(void);

/* --- routes ------------------------------------------------------------------- */

void route_health(struct rctx *c);
void route_metrics(struct rctx *c);
void route_ping(struct rctx *c);
void route_register(struct rctx *c);
void route_login(struct rctx *c);
void route_logout(struct rctx *c);
void route_me(struct rctx *c);
void route_groups_create(struct rctx *c);
void route_groups_list(struct rctx *c);
void route_group_get(struct rctx *c);
void route_members_create(struct rctx *c);
void route_invites_create(struct rctx *c);
void route_invite_accept(struct rctx *c);
void route_expense_write(struct rctx *c);
void route_payment_create(struct rctx *c);
void route_expenses_list(struct rctx *c);
void route_expense_get(struct rctx *c);
/* Answer a waiting request whose expense event is applied: the expense as
   PostgreSQL holds it (deleted ones too), with its ETag, with status. */
void expense_answer_applied(struct rctx *c, int status);
void route_balances(struct rctx *c);
void route_settlements(struct rctx *c);
void route_group_events(struct rctx *c);
void route_group_stream(struct rctx *c);
void route_event_get(struct rctx *c);
void route_export(struct rctx *c);

/* Path segment 3 as c->group_id; answers 404 and returns -1 unless a UUID. */
int take_group_id(struct rctx *c);

/* Load the group (c->group_id) as seen by c->user_id, then call next with
   c->group_currency and c->member_id set; 404 if absent or not a member. */
void group_access_then(struct rctx *c, rctx_fn next);

/* The audit-log columns, in the order audit_item reads them, of an events
   row aliased x. */
#define AUDIT_COLUMNS                                                                              \
    "x.event_id, x.seq, x.type, x.actor,"                                                          \
    " to_char(x.accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                \
    " x.payload::text, x.before::text, x.after::text"
/* The audit-log entry of row whose AUDIT_COLUMNS start at column col: a new
   reference (the item of GET /groups/{gid}/events and of its stream). */
json_t *audit_item(PGresult *res, int row, int col);

/* --- stream.c: GET /groups/{gid}/stream (server-sent events) ----------------------- */

/* Start the heartbeat timer. */
void stream_init(void);
/* A message arrived on the channel (the same as waiter_notify's): fetch the
   new audit-log entries of the groups with open streams. */
void stream_notify(const char *msg, size_t len);
/* Close every stream and stop the timer (at shutdown). */
void stream_shutdown(void);
/* Open streams, for /metrics. */
uint64_t stream_count(void);

/* Answer a finished event's status (after Prefer: wait). */
void event_answer_wait(struct rctx *c);

/* --- metrics.c: GET /metrics (docs/OPERATIONS.md) ------------------------------ */

/* At a request's start (rctx_new) and at its answer (http.c, once). */
void metrics_request_begin(struct rctx *c);
void metrics_request_done(struct rctx *c, int status);

#endif

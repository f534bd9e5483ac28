/*
 * Accepting a ledger write (an expense, a payment, a revert) as an event.
 *
 * The route (route_expenses.c, route_payments.c, route_revert.c) has
 * authenticated the caller, checked access and validated the write in full
 * with the same shared code the worker runs; event_accept builds the event,
 * and one Lua script (atomically) honours the Idempotency-Key, appends the
 * event to its group's partition stream and records the status "queued".
 * The answer is 202, or with Prefer: wait the event's outcome once the
 * worker announces it (waiters.c).
 */
#include "api.h"

#include "event.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "script.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS[1] stream, KEYS[2] status key, KEYS[3] idempotency key or "", KEYS[4]
   the idempotency horizon (KEYS_IDEM_HORIZON: since when, in ms, Redis holds
   every idempotency record).
   ARGV[1] event JSON, ARGV[2] type, ARGV[3] group id, ARGV[4] accepted_at,
   ARGV[5] target id, ARGV[6] idempotency record (without the entry id),
   ARGV[7] "1" when the request waits for the outcome (the entry then says
   so, and the worker keeps the outcome in the status hash for a minute),
   ARGV[8] "1" when PostgreSQL was asked about the key and does not hold it,
   ARGV[9] the idempotency window in ms, ARGV[10] the status hash's lifetime
   (KEYS_EVENT_STATUS_TTL_S), ARGV[11] the idempotency record's
   (KEYS_IDEM_TTL_S), in seconds.
   Returns {0, record, horizon} for a replayed key, {1, entry id, horizon}
   when appended, {2, "", horizon} when the key is unknown to Redis but the
   horizon is missing or younger than the window (Redis may have forgotten
   it: ask PostgreSQL, then call again with ARGV[8] set); nothing is written
   then. horizon is "" when missing (and when the request has no key). */
static const char accept_lua[] =
    "local horizon = ''\n"
    "if KEYS[3] ~= '' then\n"
    "  local prev = redis.call('GET', KEYS[3])\n"
    "  horizon = redis.call('GET', KEYS[4]) or ''\n"
    "  if prev then return {0, prev, horizon} end\n"
    "  local t = redis.call('TIME')\n"
    "  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "  if ARGV[8] ~= '1' and now - (tonumber(horizon) or now) < tonumber(ARGV[9]) then\n"
    "    return {2, '', horizon}\n"
    "  end\n"
    "end\n"
    "local id\n"
    "if ARGV[7] == '1' then\n"
    "  id = redis.call('XADD', KEYS[1], '*', 'event', ARGV[1], 'wait', '1')\n"
    "else\n"
    "  id = redis.call('XADD', KEYS[1], '*', 'event', ARGV[1])\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'status', 'queued', 'type', ARGV[2], 'group_id', ARGV[3],\n"
    "  'accepted_at', ARGV[4], 'target', ARGV[5])\n"
    "redis.call('EXPIRE', KEYS[2], tonumber(ARGV[10]))\n"
    "if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[6], 'EX', tonumber(ARGV[11])) end\n"
    "return {1, id, horizon}\n";
static struct script accept_script = SCRIPT_INIT(accept_lua);

/* A key Redis may have forgotten, in the ledger. $1 actor, $2 SHA-256 of the
   key, $3 true when Redis has no horizon. One row: the key's request hash,
   event id, target id and seconds left in its window (NULLs when the ledger
   holds no such key of the window), and when $3, the horizon to set: now,
   or a window ago if the ledger holds no key of the window at all (a fresh
   Redis then forgot nothing that counts). */
#define IDEM_TTL_S_TEXT KEYS_STR(KEYS_IDEM_TTL_S)
static const char idem_lookup_sql[] =
    "SELECT k.request_sha256, k.event_id, k.target_id, greatest(1, " IDEM_TTL_S_TEXT
    " - floor(extract(epoch FROM now() - k.accepted_at)))::bigint,"
    " CASE WHEN $3::boolean THEN (floor(extract(epoch FROM now()) * 1000) - CASE WHEN EXISTS"
    " (SELECT 1 FROM idempotency_keys WHERE accepted_at > now() - " KEYS_IDEM_WINDOW_SQL ")"
    " THEN 0 ELSE " IDEM_TTL_S_TEXT "000 END)::bigint END"
    " FROM (VALUES (1)) AS one LEFT JOIN idempotency_keys k ON k.actor = $1"
    " AND k.key_sha256 = $2 AND k.accepted_at > now() - " KEYS_IDEM_WINDOW_SQL;

/* The type of c's event (c->type holds its name, set with event_set_type). */
enum event_type event_type_of_request(const struct rctx *c)
{
    enum event_type t = EVENT_EXPENSE_CREATED;
    event_type_parse(c->type, &t);
    return t;
}

void event_set_type(struct rctx *c, enum event_type t)
{
    snprintf(c->type, sizeof(c->type), "%s", event_type_name(t));
}

int event_is_create(const struct rctx *c)
{
    return event_action_of(event_type_of_request(c)) == EVENT_CREATED;
}

static const char *target_field(const struct rctx *c)
{
    return event_target_key(event_kind_of(event_type_of_request(c)));
}

static void answer_queued(struct rctx *c)
{
    char loc[96];
    snprintf(loc, sizeof(loc), "/api/v1/events/%s", c->event_id);
    add_header(c, H2O_TOKEN_LOCATION, loc);
    respond_json(c, 202,
                 json_pack("{s:s, s:s, s:s}", "event_id", c->event_id, "status", "queued",
                           target_field(c), c->target_id));
}

/* REDIS_WAIT_REPLICAS: the 202 once replicas hold the event too, else 503. */
static void on_replicated(struct rctx *c, int ok)
{
    if (!rctx_unref_live(c))
        return;
    if (!ok) {
        respond_problem(c, PROBLEM_UNAVAILABLE,
                        "the write is queued but no Redis replica confirmed it in time; retry with "
                        "the same Idempotency-Key",
                        NULL);
        return;
    }
    answer_queued(c);
}

/* Every 202 goes out here (at once, after an idempotent replay, or when
   Prefer: wait ran out), so with REDIS_WAIT_REPLICAS none goes out before
   replicas hold the event. */
void event_answer_accepted(struct rctx *c)
{
    if (api.cfg.redis_wait_replicas > 0) {
        rcli_replicated(c, on_replicated);
        return;
    }
    answer_queued(c);
}

/* --- accepting an event ---------------------------------------------------------------------- */

static void accept_send(struct rctx *c, int checked);

/* The first answer: this request replays the event (c->event_id, target)
   another request with its key created. */
static void answer_replayed(struct rctx *c)
{
    add_header_name(c, "idempotent-replayed", "true");
    if (c->wait_s > 0) {
        c->wait_requested = c->wait_s;
        waiter_start(c);
        return;
    }
    event_answer_accepted(c);
}

static void answer_key_reused(struct rctx *c)
{
    struct fields f = {0};
    fields_add(&f, "Idempotency-Key", "was used with a different request");
    respond_problem(c, PROBLEM_VALIDATION,
                    "this Idempotency-Key was already used with a different request", &f);
}

/* The idempotency record of c's event, for Redis: {"hash", "event_id",
   "target_id"}. Caller frees. */
static char *idem_record(const struct rctx *c)
{
    json_t *r = json_pack("{s:s, s:s, s:s}", "hash", c->idem_hash, "event_id", c->event_id,
                          "target_id", c->target_id);
    char *rec = json_dump_compact(r);
    json_decref(r);
    return rec;
}

/* What PostgreSQL holds for the key Redis did not know (see accept_send). */
static void on_idem_db(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (!PQgetisnull(res, 0, 4)) {
        /* Redis had no horizon: from now on it holds every record, and if
           the ledger holds no key of the window, every record that counts. */
        const char *argv[4] = {"SET", KEYS_IDEM_HORIZON, PQgetvalue(res, 0, 4), "NX"};
        rcli_send_argv(4, argv, NULL);
    }
    if (PQgetisnull(res, 0, 0)) {
        accept_send(c, 1);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 0), c->idem_hash) != 0) {
        answer_key_reused(c);
        return;
    }
    snprintf(c->event_id, sizeof(c->event_id), "%s", PQgetvalue(res, 0, 1));
    snprintf(c->target_id, sizeof(c->target_id), "%s", PQgetvalue(res, 0, 2));
    /* Redis remembers it again for the rest of the key's window. */
    char *rec = idem_record(c);
    const char *argv[6] = {"SET", c->idem_key, rec, "EX", PQgetvalue(res, 0, 3), "NX"};
    rcli_send_argv(6, argv, NULL);
    free(rec);
    answer_replayed(c);
}

static void on_accepted(redisReply *r, struct rctx *c)
{
    if (!rctx_unref_live(c))
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        if (r && r->type == REDIS_REPLY_ERROR)
            log_error("accept: %s", r->str);
        respond_problem(c, PROBLEM_UNAVAILABLE, "the event queue is unavailable", NULL);
        return;
    }
    if (r->element[0]->integer == 2) {
        /* Redis has not known every key of the window (it lost its data
           within it): PostgreSQL knows the keys of every recorded event. */
        char key_sha[65];
        snprintf(key_sha, sizeof(key_sha), "%s", strrchr(c->idem_key, ':') + 1);
        const char *p[3] = {c->user_id, key_sha, r->element[2]->len == 0 ? "t" : "f"};
        pg_query(c, on_idem_db, idem_lookup_sql, 3, p);
        return;
    }
    if (r->element[0]->integer == 0) {
        /* A replayed Idempotency-Key: the first answer, if the body matches. */
        json_t *rec = json_loads(r->element[1]->str, 0, NULL);
        const char *hash = json_string_value(json_object_get(rec, "hash"));
        const char *eid = json_string_value(json_object_get(rec, "event_id"));
        const char *tid = json_string_value(json_object_get(rec, "target_id"));
        if (!hash || !eid || !tid || strcmp(hash, c->idem_hash) != 0) {
            json_decref(rec);
            answer_key_reused(c);
            return;
        }
        snprintf(c->event_id, sizeof(c->event_id), "%s", eid);
        snprintf(c->target_id, sizeof(c->target_id), "%s", tid);
        json_decref(rec);
        answer_replayed(c);
        return;
    }
    if (c->wait_s > 0) {
        c->wait_requested = c->wait_s;
        waiter_start(c);
        return;
    }
    event_answer_accepted(c);
}

/* Run the accept script for the event built in c. checked: PostgreSQL was
   asked about its Idempotency-Key and does not hold it. */
static void accept_send(struct rctx *c, int checked)
{
    char stream[64], status_key[96];
    char *rec = c->idem_key ? idem_record(c) : NULL;

    keys_stream(stream, sizeof(stream), keys_partition(c->group_id, api.cfg.partitions));
    keys_fmt(status_key, sizeof(status_key), "event", c->event_id);
    const char *argv[16] = {"4",
                            stream,
                            status_key,
                            c->idem_key ? c->idem_key : "",
                            KEYS_IDEM_HORIZON,
                            c->event_text,
                            c->type,
                            c->group_id,
                            c->accepted_at,
                            c->target_id,
                            rec ? rec : "",
                            c->wait_s > 0 ? "1" : "",
                            checked ? "1" : "",
                            IDEM_TTL_S_TEXT "000",
                            KEYS_STR(KEYS_EVENT_STATUS_TTL_S),
                            IDEM_TTL_S_TEXT};
    rcli_script(c, on_accepted, &accept_script, 16, argv, NULL);
    free(rec);
}

/* Build the event of c (type, target, data) and append it to its stream. */
static void accept_event(struct rctx *c)
{
    size_t len;
    const char *idem = req_header_name(c, "idempotency-key", &len);
    char key_sha[65], body_hash[65];
    struct event ev = {0};

    if (idem && (len == 0 || len > 255)) {
        struct fields f = {0};
        fields_add(&f, "Idempotency-Key", "must be 1 to 255 bytes long");
        respond_problem(c, PROBLEM_VALIDATION, "invalid Idempotency-Key header", &f);
        return;
    }
    now_rfc3339(c->accepted_at);
    new_uuid(c->event_id);
    if (event_type_parse(c->type, &ev.type) != 0) {
        respond_problem(c, PROBLEM_INTERNAL, "the write has no event type", NULL);
        return;
    }
    ev.id = c->event_id;
    ev.group_id = c->group_id;
    ev.actor = c->user_id;
    ev.accepted_at = c->accepted_at;
    ev.target = c->target_id;
    ev.data = c->data;
    ev.if_match = c->if_match;
    if (idem) {
        char *canon = json_dump_compact(c->data ? c->data : json_null());
        size_t n = strlen(canon) + strlen(c->type) + strlen(c->target_id) + 64;
        char *material = xmalloc(n);
        /* Same key, same route and same normalised body = same request. */
        snprintf(material, n, "%s|%s|%lld|%s", c->type,
                 event_action_of(ev.type) != EVENT_CREATED ? c->target_id : "",
                 (long long)c->if_match, canon);
        sha256_hex(material, strlen(material), body_hash);
        free(material);
        free(canon);
        sha256_hex(idem, len, key_sha);
        c->idem_key = keys_idem(xmalloc(160), 160, c->user_id, key_sha);
        c->idem_hash = xstrdup(body_hash);
        /* The worker records both with the event, so the ledger knows the key
           whatever Redis forgets. */
        ev.idem = idem;
        ev.idem_len = len;
        ev.idem_sha = key_sha;
        ev.request_sha = body_hash;
    }
    free(c->event_text);
    c->event_text = event_encode(&ev);
    accept_send(c, 0);
}

void event_status_read(struct rctx *c, rcli_cb cb)
{
    char key[96];
    keys_fmt(key, sizeof(key), "event", c->event_id);
    rcli_cmd(c, cb, "HGETALL %s", key);
}

void event_accept(struct rctx *c)
{
    size_t len;
    /* A write the api already knows to fail is refused at once, unless it
       carries an Idempotency-Key: a retry must still find its first answer,
       so the worker refuses it when it applies instead. */
    if (c->refuse_detail[0] && !req_header_name(c, "idempotency-key", &len)) {
        respond_problem(c, c->refuse_code, c->refuse_detail, NULL);
        return;
    }
    c->wait_s = req_prefer_wait(c);
    accept_event(c);
}

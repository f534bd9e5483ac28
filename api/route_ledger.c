/*
 * Ledger writes (expenses, payments) and event statuses.
 *
 * A write is authenticated, checked for access, validated in full with the
 * same shared code the worker runs, then accepted by one Lua script that
 * (atomically) honours the Idempotency-Key, appends the event to its
 * group's partition stream and records the status "queued". The answer is
 * 202, or with Prefer: wait the event's outcome once the worker announces it.
 */
#include "api.h"

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
   ARGV[9] the idempotency window in ms.
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
    "redis.call('EXPIRE', KEYS[2], 604800)\n"
    "if KEYS[3] ~= '' then redis.call('SET', KEYS[3], ARGV[6], 'EX', 86400) end\n"
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

static int is_create(const struct rctx *c)
{
    return strcmp(c->type, "expense.created") == 0 || strcmp(c->type, "payment.created") == 0;
}

static const char *target_field(const struct rctx *c)
{
    return strncmp(c->type, "payment.", 8) == 0 ? "payment_id" : "expense_id";
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
static void answer_accepted(struct rctx *c)
{
    if (api.cfg.redis_wait_replicas > 0) {
        rcli_replicated(c, on_replicated);
        return;
    }
    answer_queued(c);
}

/* --- Prefer: wait -------------------------------------------------------------------------- */

/* The headers of an applied event's answer. */
static void applied_headers(struct rctx *c)
{
    char pref[32];
    snprintf(pref, sizeof(pref), "wait=%d", c->wait_requested);
    add_header_name(c, "preference-applied", pref);
    if (is_create(c)) {
        char loc[128];
        snprintf(loc, sizeof(loc), "/api/v1/groups/%s/%s/%s", c->group_id,
                 strncmp(c->type, "payment.", 8) == 0 ? "payments" : "expenses", c->target_id);
        add_header(c, H2O_TOKEN_LOCATION, loc);
    }
}

static void answer_applied(struct rctx *c);

/* The event is applied and the worker kept its resource (len bytes of
   compact JSON) for this request, with its version (decimal, NULL from a
   worker that did not write it): sent as it is. Unreadable: PostgreSQL
   answers instead. */
static void answer_with(struct rctx *c, const char *resource, size_t len, const char *version)
{
    char *end = NULL;
    long long v = version ? strtoll(version, &end, 10) : 0;
    c->fetching_result = 1;
    if (version && *version && end && *end == '\0' && v > 0) {
        applied_headers(c);
        add_etag(c, v);
        respond_raw(c, is_create(c) ? 201 : 200, resource, len);
        return;
    }
    json_t *res = json_loadb(resource, len, 0, NULL);
    if (!res) {
        answer_applied(c);
        return;
    }
    applied_headers(c);
    if (json_is_integer(json_object_get(res, "version")))
        add_etag(c, json_integer_value(json_object_get(res, "version")));
    respond_json(c, is_create(c) ? 201 : 200, res);
}

/* The event is applied: answer with what it produced, read from PostgreSQL
   (committed before the worker announced the event). */
static void answer_applied(struct rctx *c)
{
    applied_headers(c);
    if (strncmp(c->type, "expense.", 8) == 0)
        expense_answer_applied(c, is_create(c) ? 201 : 200);
    else
        payment_answer_applied(c, is_create(c) ? 201 : 200);
}

/* What a status check found: applied, rejected (with its problem), or
   neither yet. */
static void wait_decide(struct rctx *c, const char *status, const char *problem)
{
    char pref[32];

    if (status && strcmp(status, "applied") == 0) {
        c->fetching_result = 1;
        answer_applied(c);
        return;
    }
    if (status && strcmp(status, "rejected") == 0 && problem) {
        json_t *p = json_loads(problem, 0, NULL);
        if (p) {
            c->fetching_result = 1;
            snprintf(pref, sizeof(pref), "wait=%d", c->wait_requested);
            add_header_name(c, "preference-applied", pref);
            respond_problem_json(c, p);
            return;
        }
    }
    /* Still queued: keep waiting, or let a later check (replies come in
       order) decide once the wait is over. */
    if (c->wait_s > 0 || c->checks_in_flight > 0)
        return;
    answer_accepted(c);
}

static void on_status_db(PGresult *res, struct rctx *c)
{
    c->checks_in_flight--;
    if (!rctx_unref_live(c) || c->fetching_result)
        return;
    int found = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    wait_decide(c, found ? PQgetvalue(res, 0, 0) : NULL,
                found && !PQgetisnull(res, 0, 1) ? PQgetvalue(res, 0, 1) : NULL);
}

/* The status hash lives while the event is queued; the worker deletes it once
   the event is recorded (applied or rejected) in PostgreSQL, which then
   answers. */
static void on_status_for_wait(redisReply *r, struct rctx *c)
{
    const char *status = NULL, *resource = NULL, *problem = NULL, *version = NULL;
    size_t resource_len = 0;

    if (!rctx_unref_live(c))
        return; /* answered, and c may be gone with this reference */
    if (c->fetching_result) {
        c->checks_in_flight--;
        return;
    }
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
            if (strcmp(k, "status") == 0)
                status = v;
            else if (strcmp(k, "resource") == 0) {
                resource = v;
                resource_len = r->element[i + 1]->len;
            } else if (strcmp(k, "version") == 0)
                version = v;
            else if (strcmp(k, "problem") == 0)
                problem = v;
        }
    }
    if (status && strcmp(status, "queued") == 0) {
        c->checks_in_flight--;
        wait_decide(c, NULL, NULL);
        return;
    }
    /* The outcome the worker kept for this waiting request. */
    if (status && strcmp(status, "applied") == 0 && resource) {
        c->checks_in_flight--;
        answer_with(c, resource, resource_len, version);
        return;
    }
    if (status && strcmp(status, "rejected") == 0 && problem) {
        c->checks_in_flight--;
        wait_decide(c, status, problem);
        return;
    }
    /* Gone (finished), or Redis unreachable: PostgreSQL knows whether it is
       recorded. The check stays in flight until it answers. */
    const char *p[1] = {c->event_id};
    pg_query(c, on_status_db,
             "SELECT 'applied', NULL::text FROM events WHERE event_id = $1"
             " UNION ALL SELECT 'rejected', problem::text FROM rejected_events"
             " WHERE event_id = $1",
             1, p);
}

void event_answer_wait(struct rctx *c)
{
    char key[96];
    keys_fmt(key, sizeof(key), "event", c->event_id);
    c->checks_in_flight++;
    rcli_cmd(c, on_status_for_wait, "HGETALL %s", key);
}

/* Prefer: wait=N (RFC 7240); 0 when absent or malformed. */
static int prefer_wait(struct rctx *c)
{
    size_t len;
    const char *v = req_header_name(c, "prefer", &len);
    char buf[128];
    if (!v || len >= sizeof(buf))
        return 0;
    memcpy(buf, v, len);
    buf[len] = '\0';
    for (char *tok = strtok(buf, ",;"); tok; tok = strtok(NULL, ",;")) {
        while (*tok == ' ')
            tok++;
        if (strncasecmp(tok, "wait=", 5) == 0) {
            char *end;
            long s = strtol(tok + 5, &end, 10);
            if (end != tok + 5 && s > 0)
                return s > API_MAX_WAIT_S ? API_MAX_WAIT_S : (int)s;
        }
    }
    return 0;
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
    answer_accepted(c);
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
    answer_accepted(c);
}

/* Run the accept script for the event built in c. checked: PostgreSQL was
   asked about its Idempotency-Key and does not hold it. */
static void accept_send(struct rctx *c, int checked)
{
    char stream[64], status_key[96];
    char *rec = c->idem_key ? idem_record(c) : NULL;

    keys_stream(stream, sizeof(stream), keys_partition(c->group_id, api.cfg.partitions));
    keys_fmt(status_key, sizeof(status_key), "event", c->event_id);
    const char *argv[14] = {"4",
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
                            IDEM_TTL_S_TEXT "000"};
    rcli_script(c, on_accepted, &accept_script, 14, argv, NULL);
    free(rec);
}

/* Build the event of c (type, target, data) and append it to its stream. */
static void accept_event(struct rctx *c)
{
    size_t len;
    const char *idem = req_header_name(c, "idempotency-key", &len);
    json_t *ev;

    if (idem && (len == 0 || len > 255)) {
        struct fields f = {0};
        fields_add(&f, "Idempotency-Key", "must be 1 to 255 bytes long");
        respond_problem(c, PROBLEM_VALIDATION, "invalid Idempotency-Key header", &f);
        return;
    }
    now_rfc3339(c->accepted_at);
    new_uuid(c->event_id);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "event_id", c->event_id, "type", c->type,
                   "group_id", c->group_id, "actor", c->user_id, "accepted_at", c->accepted_at,
                   target_field(c), c->target_id, "data", c->data ? c->data : json_null());
    if (c->if_match)
        json_object_set_new(ev, "if_match", json_integer(c->if_match));
    if (idem) {
        char key_sha[65], body_hash[65];
        char *canon = json_dump_compact(c->data ? c->data : json_null());
        size_t n = strlen(canon) + strlen(c->type) + strlen(c->target_id) + 64;
        char *material = xmalloc(n);
        /* Same key, same route and same normalised body = same request. */
        snprintf(material, n, "%s|%s|%lld|%s", c->type,
                 strcmp(c->type, "expense.created") && strcmp(c->type, "payment.created")
                     ? c->target_id
                     : "",
                 (long long)c->if_match, canon);
        sha256_hex(material, strlen(material), body_hash);
        free(material);
        free(canon);
        sha256_hex(idem, len, key_sha);
        c->idem_key = keys_idem(xmalloc(160), 160, c->user_id, key_sha);
        c->idem_hash = xstrdup(body_hash);
        /* The worker records both with the event, so the ledger knows the key
           whatever Redis forgets. */
        json_object_set_new(ev, "idempotency_key", json_stringn(idem, len));
        json_object_set_new(ev, "idempotency_key_sha256", json_string(key_sha));
        json_object_set_new(ev, "request_sha256", json_string(body_hash));
    }
    free(c->event_text);
    c->event_text = json_dump_compact(ev);
    json_decref(ev);
    accept_send(c, 0);
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
    accept_event(c);
}

int req_prefer_wait(struct rctx *c)
{
    return prefer_wait(c);
}

/* --- expenses ------------------------------------------------------------------------------- */

static int member_known(const struct rctx *c, const char *id)
{
    return c->scratch && strstr(c->scratch, id) != NULL;
}

static void expense_allowed(struct rctx *c)
{
    struct ledger_expense e;
    struct fields f = {0};
    char today[11];

    /* After access: a non-member gets 404 whatever it sends. */
    if (c->n_seg == 6) {
        if (!ledger_is_uuid(c->seg[5])) {
            respond_problem(c, PROBLEM_NOT_FOUND, "no such expense", NULL);
            return;
        }
        if (req_if_match_checked(c, strcmp(c->method, "PUT") == 0, "expense") != 0)
            return;
    }
    c->wait_s = prefer_wait(c);
    if (strcmp(c->method, "DELETE") == 0) {
        memcpy(c->target_id, c->seg[5], 37);
        strcpy(c->type, "expense.deleted");
        accept_event(c);
        return;
    }
    if (req_parse_body(c, 0) != 0)
        return;
    ledger_today(today);
    if (ledger_expense_parse(&c->doc, c->doc.root, c->group_currency, today, &e, &f) != 0) {
        respond_problem(c, PROBLEM_VALIDATION, "the expense is not valid", &f);
        return;
    }
    for (size_t i = 0; i < e.n_paid; i++) {
        if (!member_known(c, e.paid[i].member_id)) {
            char path[64];
            snprintf(path, sizeof(path), "paid_by[%zu].member_id", i);
            fields_add(&f, path, "is not a member of this group");
        }
    }
    for (size_t i = 0; i < e.n_split; i++) {
        if (!member_known(c, e.split[i].member_id)) {
            char path[64];
            snprintf(path, sizeof(path), "split.members[%zu].member_id", i);
            fields_add(&f, path, "is not a member of this group");
        }
    }
    if (f.n) {
        ledger_expense_release(&e);
        respond_problem(c, PROBLEM_VALIDATION, "the expense names non-members", &f);
        return;
    }
    /* Sums stay in range (checked again when applied). A replacement counts
       as added, the expense it replaces still in the group's state. */
    struct ledger_volume v = c->volume;
    if (ledger_volume_add_expense(&v, &e) != 0) {
        ledger_expense_release(&e);
        fields_add(&f, "amount", "is too large for this group's totals");
        respond_problem(c, PROBLEM_VALIDATION, LEDGER_RANGE_DETAIL, &f);
        return;
    }
    c->data = ledger_expense_to_json(&e);
    ledger_expense_release(&e);
    if (strcmp(c->method, "POST") == 0) {
        new_uuid(c->target_id);
        strcpy(c->type, "expense.created");
    } else {
        memcpy(c->target_id, c->seg[5], 37);
        strcpy(c->type, "expense.replaced");
    }
    accept_event(c);
}

static void expense_authed(struct rctx *c)
{
    if (take_group_id(c) == 0)
        group_access_then(c, expense_allowed);
}

void route_expense_write(struct rctx *c)
{
    auth_then(c, expense_authed);
}

/* --- payments ------------------------------------------------------------------------------- */

static void on_payment_version(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    /* Versions only grow: one already past If-Match can never match again.
       A payment not (yet) in the table may still be queued: the worker
       decides then. A request with an Idempotency-Key is left to the worker
       (event_accept). */
    if (PQntuples(res) == 1) {
        int64_t version = atoll(PQgetvalue(res, 0, 0));
        if (version > c->if_match) {
            c->refuse_code = PROBLEM_VERSION_CONFLICT;
            snprintf(c->refuse_detail, sizeof(c->refuse_detail),
                     "the payment is at version %lld, not %lld", (long long)version,
                     (long long)c->if_match);
        } else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0 && version == c->if_match) {
            c->refuse_code = PROBLEM_NOT_FOUND;
            snprintf(c->refuse_detail, sizeof(c->refuse_detail), "the payment was deleted");
        }
    }
    event_accept(c);
}

static void payment_allowed(struct rctx *c)
{
    struct ledger_payment p;
    struct fields f = {0};
    char today[11];

    /* After access: a non-member gets 404 whatever it sends. */
    if (c->n_seg == 6) {
        if (!ledger_is_uuid(c->seg[5])) {
            respond_problem(c, PROBLEM_NOT_FOUND, "no such payment", NULL);
            return;
        }
        if (req_if_match_checked(c, 1, "payment") != 0)
            return;
        memcpy(c->target_id, c->seg[5], 37);
    }
    c->wait_s = prefer_wait(c);
    if (strcmp(c->method, "DELETE") != 0) {
        if (req_parse_body(c, 0) != 0)
            return;
        ledger_today(today);
        if (ledger_payment_parse(c->doc.root, today, &p, &f) != 0) {
            respond_problem(c, PROBLEM_VALIDATION, "the payment is not valid", &f);
            return;
        }
        if (!member_known(c, p.from_member))
            fields_add(&f, "from_member", "is not a member of this group");
        if (!member_known(c, p.to_member))
            fields_add(&f, "to_member", "is not a member of this group");
        if (f.n) {
            ledger_payment_release(&p);
            respond_problem(c, PROBLEM_VALIDATION, "the payment names non-members", &f);
            return;
        }
        /* Sums stay in range (checked again when applied). */
        struct ledger_volume v = c->volume;
        if (ledger_volume_add(&v, 0, 0, p.amount, p.amount) != 0) {
            ledger_payment_release(&p);
            fields_add(&f, "amount", "is too large for this group's totals");
            respond_problem(c, PROBLEM_VALIDATION, LEDGER_RANGE_DETAIL, &f);
            return;
        }
        c->data = ledger_payment_to_json(&p);
        ledger_payment_release(&p);
    }
    if (strcmp(c->method, "POST") == 0) {
        new_uuid(c->target_id);
        strcpy(c->type, "payment.created");
        accept_event(c);
        return;
    }
    strcpy(c->type, strcmp(c->method, "PUT") == 0 ? "payment.replaced" : "payment.deleted");
    const char *p2[2] = {c->target_id, c->group_id};
    pg_query(c, on_payment_version,
             "SELECT version, deleted FROM payments WHERE id = $1 AND group_id = $2", 2, p2);
}

static void payment_authed(struct rctx *c)
{
    if (take_group_id(c) == 0)
        group_access_then(c, payment_allowed);
}

void route_payment_write(struct rctx *c)
{
    auth_then(c, payment_authed);
}

/* --- GET /api/v1/events/{id} ------------------------------------------------------------------ */

static void on_event_db(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c))
        return;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the database is unavailable", NULL);
        return;
    }
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such event", NULL);
        return;
    }
    respond_json_text(c, 200, PQgetvalue(res, 0, 0));
}

/* A finished event (its status hash deleted by the worker), or one whose
   status expired: the ledger keeps them for good. */
static void event_from_db(struct rctx *c)
{
    const char *p[2] = {c->event_id, c->user_id};
    pg_query(c, on_event_db,
             "SELECT json_build_object('event_id', e.event_id, 'type', e.type, 'group_id',"
             " e.group_id, 'status', e.status, 'problem', e.problem, 'accepted_at',"
             " to_char(e.accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
             " 'applied_at', to_char(e.applied_at AT TIME ZONE 'UTC',"
             " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))::text FROM ("
             " SELECT event_id, type, group_id, 'applied' AS status, NULL::json AS problem,"
             " accepted_at, applied_at FROM events WHERE event_id = $1"
             " UNION ALL SELECT event_id, type, group_id, 'rejected', problem, accepted_at,"
             " NULL FROM rejected_events WHERE event_id = $1) e"
             " WHERE EXISTS (SELECT 1 FROM members m WHERE m.group_id = e.group_id"
             " AND m.user_id = $2)",
             2, p);
}

static void on_event_member(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c))
        return;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the database is unavailable", NULL);
        return;
    }
    if (PQntuples(res) != 1) {
        json_decref(c->data);
        c->data = NULL;
        respond_problem(c, PROBLEM_NOT_FOUND, "no such event", NULL);
        return;
    }
    /* Redis says queued, PostgreSQL has recorded it (Redis refused or lost
       the worker's status write): the ledger answers. */
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        json_decref(c->data);
        c->data = NULL;
        event_from_db(c);
        return;
    }
    respond_json(c, 200, json_incref(c->data));
}

static void on_event_status(redisReply *r, struct rctx *c)
{
    json_t *o;
    if (!rctx_unref_live(c))
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        event_from_db(c);
        return;
    }
    o = json_pack("{s:s}", "event_id", c->event_id);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
        if (strcmp(k, "status") == 0 || strcmp(k, "type") == 0 || strcmp(k, "group_id") == 0 ||
            strcmp(k, "accepted_at") == 0 || strcmp(k, "applied_at") == 0)
            json_object_set_new(o, k, json_string(v));
        else if (strcmp(k, "problem") == 0)
            json_object_set_new(o, k, json_loads(v, 0, NULL));
    }
    if (!json_object_get(o, "applied_at"))
        json_object_set_new(o, "applied_at", json_null());
    const char *gid = json_string_value(json_object_get(o, "group_id"));
    if (!gid || !json_object_get(o, "status")) {
        json_decref(o);
        event_from_db(c);
        return;
    }
    /* Only members of the event's group may see it; whether it is recorded
       already, in the same query. */
    c->data = o;
    const char *p[3] = {gid, c->user_id, c->event_id};
    pg_query(c, on_event_member,
             "SELECT EXISTS (SELECT 1 FROM events WHERE event_id = $3)"
             " OR EXISTS (SELECT 1 FROM rejected_events WHERE event_id = $3)"
             " FROM members WHERE group_id = $1 AND user_id = $2",
             3, p);
}

static void event_get_authed(struct rctx *c)
{
    char key[96];
    keys_fmt(key, sizeof(key), "event", c->event_id);
    rcli_cmd(c, on_event_status, "HGETALL %s", key);
}

void route_event_get(struct rctx *c)
{
    if (!ledger_is_uuid(c->seg[3])) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such event", NULL);
        return;
    }
    memcpy(c->event_id, c->seg[3], 37);
    auth_then(c, event_get_authed);
}

/*
 * waiters: Prefer: wait. The header's value, the requests holding a wait
 * until the worker announces their event on the pub/sub channel (rcli.c
 * delivers its messages to waiter_notify through the callback main.c
 * registers) or until their time is up, and the answer once the wait ends:
 * the applied resource (201/200), the rejection's problem, or the 202 of a
 * write still queued.
 *
 * A waiting request holds one reference (c->waiting_ref), dropped when the
 * wait ends: by notification, by its timer, or by answering. The race where
 * the worker finishes before the request starts waiting is closed by
 * reading the event's status once after registering.
 */
#include "api.h"

#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int req_prefer_wait(struct rctx *c)
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

/* --- the answer once the wait ends ------------------------------------------------------- */

/* The headers of an applied event's answer. */
static void applied_headers(struct rctx *c)
{
    char pref[32];
    snprintf(pref, sizeof(pref), "wait=%d", c->wait_requested);
    add_header_name(c, "preference-applied", pref);
    if (event_is_create(c)) {
        char loc[128];
        snprintf(loc, sizeof(loc), "/api/v1/groups/%s/%s/%s", c->group_id,
                 event_kind_of(event_type_of_request(c)) == EVENT_PAYMENT ? "payments" : "expenses",
                 c->target_id);
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
        respond_raw(c, event_is_create(c) ? 201 : 200, resource, len);
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
    respond_json(c, event_is_create(c) ? 201 : 200, res);
}

static void on_applied_resource(PGresult *res, struct rctx *c)
{
    if (rctx_unref_live(c))
        respond_resource(c, res, 1);
}

/* The event is applied: answer with what it produced, read from PostgreSQL
   (committed before the worker announced the event); a deleted resource
   answers too: a DELETE's result is its last state. */
static void answer_applied(struct rctx *c)
{
    const char *p[2] = {c->target_id, c->group_id};
    applied_headers(c);
    c->kind = event_kind_of(event_type_of_request(c)) == EVENT_EXPENSE ? &expense_resource
                                                                       : &payment_resource;
    c->result_status = event_is_create(c) ? 201 : 200;
    pg_query(c, on_applied_resource, c->kind->applied_sql, 2, p);
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
    event_answer_accepted(c);
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

static void event_answer_wait(struct rctx *c)
{
    c->checks_in_flight++;
    event_status_read(c, on_status_for_wait);
}

/* --- waiting --------------------------------------------------------------------------------- */

/* Stop waiting and answer with whatever the status is now. */
static void end_wait(struct rctx *c)
{
    if (h2o_linklist_is_linked(&c->waiting))
        h2o_linklist_unlink(&c->waiting);
    if (h2o_timeout_is_linked(&c->wait_timer))
        h2o_timeout_unlink(&c->wait_timer);
    c->wait_s = 0;
    if (rctx_live(c))
        event_answer_wait(c);
    if (c->waiting_ref) {
        c->waiting_ref = 0;
        rctx_unref(c);
    }
}

static void on_wait_timeout(h2o_timeout_entry_t *entry)
{
    end_wait(H2O_STRUCT_FROM_MEMBER(struct rctx, wait_timer, entry));
}

void waiter_start(struct rctx *c)
{
    int s = c->wait_s > API_MAX_WAIT_S ? API_MAX_WAIT_S : c->wait_s;
    rctx_ref(c);
    c->waiting_ref = 1;
    /* The wait replaces the generic deadline. */
    if (h2o_timeout_is_linked(&c->deadline))
        h2o_timeout_unlink(&c->deadline);
    h2o_linklist_insert(&api.waiters, &c->waiting);
    c->wait_timer.cb = on_wait_timeout;
    h2o_timeout_link(api.ctx.loop, &api.wait_timeouts[s], &c->wait_timer);
    /* Already finished before we started listening? */
    event_answer_wait(c);
}

static size_t id_hash(const char *id)
{
    /* Event ids are random UUIDs: their leading hex digits hash well. */
    size_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h * 31 + (unsigned char)id[i];
    return h;
}

void waiter_notify(const char *msg, size_t len)
{
    h2o_linklist_t *node, *next;
    const char **table;
    size_t n, cap = 16;

    /* The message names the finished events, separated by single spaces. */
    if (h2o_linklist_is_empty(&api.waiters) || len < UUID_STR_LEN ||
        (len + 1) % (UUID_STR_LEN + 1) != 0)
        return;
    n = (len + 1) / (UUID_STR_LEN + 1);
    while (cap < 2 * n)
        cap *= 2;
    table = xcalloc(cap, sizeof(*table));
    for (size_t k = 0; k < n; k++) {
        const char *id = msg + k * (UUID_STR_LEN + 1);
        size_t i = id_hash(id) & (cap - 1);
        while (table[i])
            i = (i + 1) & (cap - 1);
        table[i] = id;
    }
    for (node = api.waiters.next; node != &api.waiters; node = next) {
        next = node->next;
        struct rctx *c = H2O_STRUCT_FROM_MEMBER(struct rctx, waiting, node);
        for (size_t i = id_hash(c->event_id) & (cap - 1); table[i]; i = (i + 1) & (cap - 1)) {
            if (memcmp(table[i], c->event_id, UUID_STR_LEN) == 0) {
                end_wait(c);
                break;
            }
        }
    }
    free(table);
}

void waiter_flush(void)
{
    while (!h2o_linklist_is_empty(&api.waiters))
        end_wait(H2O_STRUCT_FROM_MEMBER(struct rctx, waiting, api.waiters.next));
}

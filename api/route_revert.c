/*
 * POST /api/v1/groups/{gid}/events/{event_id}/revert: a new ledger event that
 * undoes an applied one.
 *
 * The api reads the named event and its resource's history from the ledger
 * and sends the worker a self-contained "<kind>.reverted" event (kind:
 * expense or payment) whose data is {"reverts": event id, "restore": the
 * resource's request fields as they stood just before the named event, or
 * null when it did not exist or was deleted then}. So reverting a creation
 * deletes, reverting a deletion brings the resource back, reverting a
 * replacement (or a revert) rolls it back to the version before; the worker
 * and replay apply it from its payload alone (ledger_change_of).
 *
 * If-Match carries the resource's current version and is required. The
 * named event must be the last change of its resource: a resource changed
 * since is 409 here, and again at apply time through If-Match. An unknown
 * event, or one of another group, is 404; a rejected event changed nothing,
 * so there is nothing to undo: 422.
 */
#include "api.h"

#include "event.h"
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The target of an event (its expense or payment), as text. */
#define TARGET(t) "coalesce(" t ".payload->>'expense_id', " t ".payload->>'payment_id')"

enum { COL_STATUS, COL_TYPE, COL_TARGET, COL_AFTER, COL_CURRENT, COL_PRIOR_TYPE, COL_PRIOR_DATA };

/* What the resource's fields were just before the event: the data of the
   last change before it (a revert's "restore"), or null. New reference, or
   NULL when the stored payload is unreadable. */
static json_t *state_before(const PGresult *res)
{
    if (PQgetisnull(res, 0, COL_PRIOR_TYPE))
        return json_null(); /* the event created it */
    enum event_type type;
    if (event_type_parse(PQgetvalue(res, 0, COL_PRIOR_TYPE), &type) != 0)
        return NULL;
    if (event_action_of(type) == EVENT_DELETED)
        return json_null();
    json_t *data = json_loads(PQgetvalue(res, 0, COL_PRIOR_DATA), 0, NULL);
    if (event_action_of(type) == EVENT_REVERTED) {
        json_t *restore = json_incref(json_object_get(data, "restore"));
        json_decref(data);
        return restore;
    }
    if (!json_is_object(data)) {
        json_decref(data);
        return NULL;
    }
    return data;
}

static void on_event(PGresult *res, struct rctx *c)
{
    enum event_type type;

    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such event", NULL);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, COL_STATUS), "rejected") == 0) {
        respond_problem(c, PROBLEM_VALIDATION,
                        "the event was rejected: it changed nothing, so there is nothing to undo",
                        NULL);
        return;
    }
    if (event_type_parse(PQgetvalue(res, 0, COL_TYPE), &type) != 0 ||
        PQgetisnull(res, 0, COL_TARGET) || !ledger_is_uuid(PQgetvalue(res, 0, COL_TARGET))) {
        respond_problem(c, PROBLEM_VALIDATION, "this event cannot be reverted", NULL);
        return;
    }
    const char *kind = event_kind_name(event_kind_of(type));
    int64_t current = PQgetisnull(res, 0, COL_CURRENT) ? 0 : atoll(PQgetvalue(res, 0, COL_CURRENT));
    int64_t after = atoll(PQgetvalue(res, 0, COL_AFTER));
    /* Refused at once, unless the request has an Idempotency-Key (its retry
       must find its first answer: a revert that applied changed the version
       itself); the worker checks If-Match again. */
    if (current != c->if_match) {
        c->refuse_code = PROBLEM_VERSION_CONFLICT;
        snprintf(c->refuse_detail, sizeof(c->refuse_detail), "the %s is at version %lld, not %lld",
                 kind, (long long)current, (long long)c->if_match);
    } else if (current != after) {
        c->refuse_code = PROBLEM_VERSION_CONFLICT;
        snprintf(c->refuse_detail, sizeof(c->refuse_detail),
                 "the %s changed since this event (now version %lld, the event made %lld)", kind,
                 (long long)current, (long long)after);
    }
    json_t *restore = state_before(res);
    if (!restore) {
        respond_problem(c, PROBLEM_INTERNAL, "the ledger holds an unreadable event", NULL);
        return;
    }
    c->data = event_revert_data(c->seg[5], restore);
    event_set_type(c, event_type_of(event_kind_of(type), EVENT_REVERTED));
    memcpy(c->target_id, PQgetvalue(res, 0, COL_TARGET), UUID_STR_SIZE);
    event_accept(c);
}

void route_event_revert(struct rctx *c)
{
    static const char *const no_fields[] = {NULL};

    /* After access: a non-member gets 404 whatever it sends. */
    if (!ledger_is_uuid(c->seg[5])) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such event", NULL);
        return;
    }
    if (req_if_match_checked(c, 1, "expense or payment") != 0)
        return;
    /* No body, or an empty object. */
    if (req_parse_body(c, 1) != 0 || req_reject_unknown(c, no_fields) != 0)
        return;
    const char *p[2] = {c->group_id, c->seg[5]};
    /* One statement, one snapshot: the event, the version its resource had
       after it (every applied event on a resource adds one to its version),
       the version now, and the last change before it. */
    pg_query(
        c, on_event,
        "WITH e AS (SELECT seq, type, " TARGET(
            "x") " AS target FROM events x"
                 "  WHERE x.event_id = $2 AND x.group_id = $1),"
                 " prior AS (SELECT x.type, (x.payload->'data')::text AS data FROM events x, e"
                 "  WHERE x.group_id = $1 AND x.seq < e.seq AND " TARGET(
                     "x") " = e.target"
                          "  ORDER BY x.seq DESC LIMIT 1)"
                          " SELECT 'applied', e.type, e.target,"
                          "  (SELECT count(*) FROM events x WHERE x.group_id = $1 AND x.seq <= "
                          "e.seq"
                          "   AND " TARGET(
                              "x") " = e.target),"
                                   "  coalesce((SELECT version FROM expenses WHERE id = "
                                   "e.target::uuid AND group_id = $1),"
                                   "   (SELECT version FROM payments WHERE id = e.target::uuid AND "
                                   "group_id = $1)),"
                                   "  (SELECT type FROM prior), (SELECT data FROM prior) FROM e"
                                   " UNION ALL SELECT 'rejected', r.type, NULL, NULL, NULL, NULL, "
                                   "NULL"
                                   " FROM rejected_events r WHERE r.event_id = $2 AND r.group_id = "
                                   "$1",
        2, p);
}

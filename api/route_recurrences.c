/*
 * GET /api/v1/groups/{gid}/recurrences: the group's repeating expenses (an
 * expense with a recurrence, not deleted), oldest first, each with its next
 * dates: what the client's "Upcoming" list shows.
 *
 * The next dates are the rule's (shared/recur.c, the code the worker's
 * scheduler runs) after the last date the scheduler queued an occurrence for
 * (the recurrences row), or after the template's own date when it has not
 * seen the rule yet. A rule past its "until" has none and is not active.
 *
 * No ETag: the next dates move when the scheduler commits its progress,
 * which does not change the group's version (the occurrences it queued may
 * have been applied, bumping it, just before), so a version would let a
 * client keep a stale list.
 */
#include "api.h"

#include "ledger.h"
#include "recur.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEXT_DATES 3

enum { COL_ID, COL_DESCRIPTION, COL_AMOUNT, COL_CURRENCY, COL_RECURRENCE, COL_DATE, COL_LAST };

/* The rule of a stored recurrence (JSON text) into r. 0, or -1. */
static int rule_of(const json_t *rj, struct recur_rule *r)
{
    const json_t *every = json_object_get(rj, "every"), *unit = json_object_get(rj, "unit");
    const json_t *until = json_object_get(rj, "until");

    memset(r, 0, sizeof(*r));
    if (!json_is_integer(every) || !json_is_string(unit) ||
        recur_unit_parse(json_string_value(unit), &r->unit) != 0)
        return -1;
    r->every = (int)json_integer_value(every);
    if (r->every < 1 || r->every > RECUR_EVERY_MAX)
        return -1;
    if (json_is_string(until) && ledger_is_date(json_string_value(until)))
        snprintf(r->until, sizeof(r->until), "%s", json_string_value(until));
    return 0;
}

/* Rows: the group's version (column 0, unused), then the columns above (NULL when
   the group has none); no row when the caller is not a member. */
static void on_recurrences(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) == 0) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        if (PQgetisnull(res, i, 1 + COL_ID))
            continue;
        json_t *rj = json_loads(PQgetvalue(res, i, 1 + COL_RECURRENCE), 0, NULL);
        struct recur_rule rule;
        if (rule_of(rj, &rule) != 0) {
            json_decref(rj);
            json_decref(items);
            respond_problem(c, PROBLEM_INTERNAL, "a stored recurrence is malformed", NULL);
            return;
        }
        const char *anchor = PQgetvalue(res, i, 1 + COL_DATE);
        char after[11], next[11];
        snprintf(after, sizeof(after), "%s",
                 PQgetisnull(res, i, 1 + COL_LAST) ? anchor : PQgetvalue(res, i, 1 + COL_LAST));
        json_t *dates = json_array();
        for (int k = 0; k < NEXT_DATES && recur_next(&rule, anchor, after, next); k++) {
            json_array_append_new(dates, json_string(next));
            memcpy(after, next, sizeof(after));
        }
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:I, s:s, s:o, s:s, s:o, s:b}", "expense_id",
                             PQgetvalue(res, i, 1 + COL_ID), "description",
                             PQgetvalue(res, i, 1 + COL_DESCRIPTION), "amount",
                             (json_int_t)atoll(PQgetvalue(res, i, 1 + COL_AMOUNT)), "currency",
                             PQgetvalue(res, i, 1 + COL_CURRENCY), "recurrence", rj, "date", anchor,
                             "next_dates", dates, "active", json_array_size(dates) > 0));
    }
    respond_json(c, 200, json_pack("{s:o}", "items", items));
}

static void recurrences_authed(struct rctx *c)
{
    if (take_group_id(c) != 0)
        return;
    const char *p[2] = {c->group_id, c->user_id};
    /* One statement: membership and the list in one snapshot. */
    pg_query(c, on_recurrences,
             "SELECT g.version, t.* FROM groups g"
             " JOIN members me ON me.group_id = g.id AND me.user_id = $2"
             " LEFT JOIN LATERAL (SELECT x.id, x.description, x.amount, x.currency,"
             "  x.recurrence::text, to_char(x.date, 'YYYY-MM-DD'),"
             "  to_char(r.last_date, 'YYYY-MM-DD')"
             "  FROM expenses x LEFT JOIN recurrences r ON r.rule_id = x.id"
             "  WHERE x.group_id = g.id AND x.recurrence IS NOT NULL AND NOT x.deleted"
             "  ORDER BY x.created_seq, x.id) t ON true"
             " WHERE g.id = $1",
             2, p);
}

/* Authentication first: no or a bad token is 401 whatever the path holds. */
void route_recurrences_list(struct rctx *c)
{
    auth_then(c, recurrences_authed);
}

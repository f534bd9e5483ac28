/*
 * schedule: the occurrences of recurring expenses, queued on schedule.
 *
 * A tick of the main loop every WORKER_SCHEDULE_MS:
 *
 *   1. every repeating expense (expenses.recurrence set, not deleted) without
 *      a recurrences row gets one: last_date its own date, due at once;
 *   2. in one transaction, the rules that are due (next_date on or before
 *      today in UTC, in a group that is not archived), whose template changed since next_date was
 * computed (another version), or that were stopped (no recurrence any more, or the template
 * deleted) are locked, FOR UPDATE SKIP LOCKED: several workers share them, none waits on another;
 *   3. for each, every date the rule gives after last_date up to today (a
 *      catch-up after downtime, at most WORKER_SCHEDULE_BATCH per rule and
 *      tick) is queued as an ordinary "expense.created" event on the group's
 *      partition stream: a copy of the template (amount, payers, split,
 *      category, description) on that date, "recurrence_of" the template's
 *      id, the actor the template's creator. Its event id and expense id come
 *      from (rule, date) alone (recur_occurrence_id);
 *   4. the row advances (last_date, next_date, the template's version) and
 *      the transaction commits, only after every XADD succeeded.
 *
 * A crash between an XADD and the commit, or two workers, queue an
 * occurrence twice at worst: the second copy carries the same event id and
 * the apply step records it as a duplicate (worker/load.c), so the ledger
 * holds each occurrence once. A stopped rule's row keeps last_date at least
 * today, so that a rule started again does not catch up on the pause.
 */
#include "worker.h"

#include "event.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "recur.h"
#include "rows.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rules per transaction. */
#define SCHEDULE_RULES 50

/* Run sql; 0 when it returned want, else -1 (logged). */
static int run(struct worker *w, ExecStatusType want, PGresult **out, const char *sql, int n,
               const char *const *p)
{
    PGresult *r = PQexecParams(w->pg, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        log_warn("schedule: %s", PQerrorMessage(w->pg));
        PQclear(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* The occurrence of the template (content: its request fields, borrowed) on
   date, as an event's text. Caller frees. */
static char *occurrence_event(const char *rule_id, const char *group_id, const char *actor,
                              const json_t *content, const char *date, const char *now)
{
    char event_id[UUID_STR_SIZE], expense_id[UUID_STR_SIZE];
    json_t *data = json_deep_copy(content);

    recur_occurrence_id("event", rule_id, date, event_id);
    recur_occurrence_id("expense", rule_id, date, expense_id);
    json_object_set_new(data, "date", json_string(date));
    json_object_set_new(data, "recurrence", json_null());
    json_object_set_new(data, "recurrence_of", json_string(rule_id));
    struct event ev = {
        .type = EVENT_EXPENSE_CREATED,
        .id = event_id,
        .group_id = group_id,
        .actor = actor,
        .accepted_at = now,
        .target = expense_id,
        .data = data,
    };
    char *text = event_encode(&ev);
    json_decref(data);
    return text;
}

/* Row r of a due rule (columns of the SELECT below): queue its due dates and
   advance its row. 0, or -1 (nothing may be committed). */
static int schedule_rule(struct worker *w, PGresult *res, int row, const char *today,
                         const char *now)
{
    const char *rule_id = PQgetvalue(res, row, 0), *last = PQgetvalue(res, row, 1);
    const char *group_id = PQgetvalue(res, row, 2), *version = PQgetvalue(res, row, 3);
    const char *actor = PQgetvalue(res, row, 4), *anchor = PQgetvalue(res, row, 5);
    json_t *content = json_loads(PQgetvalue(res, row, 6), 0, NULL);
    const json_t *rj = json_object_get(content, "recurrence");
    struct recur_rule rule = {0, RECUR_DAY, ""};
    char stream[64], date[11], next[11] = "", done[11];
    int stopped = strcmp(PQgetvalue(res, row, 7), "t") == 0, n = 0, rc = -1;

    snprintf(done, sizeof(done), "%s", last);
    if (!stopped) {
        const json_t *until = json_object_get(rj, "until");
        rule.every = (int)json_integer_value(json_object_get(rj, "every"));
        if (rule.every < 1 || rule.every > RECUR_EVERY_MAX ||
            !json_is_string(json_object_get(rj, "unit")) ||
            recur_unit_parse(json_string_value(json_object_get(rj, "unit")), &rule.unit) != 0) {
            log_warn("schedule: rule %s: the stored recurrence is malformed", rule_id);
            stopped = 1;
        } else if (json_is_string(until)) {
            snprintf(rule.until, sizeof(rule.until), "%s", json_string_value(until));
        }
    }
    if (stopped) {
        /* Nothing more; a restart of the rule begins after today. */
        if (strcmp(done, today) < 0)
            memcpy(done, today, 11);
    } else {
        keys_stream(stream, sizeof(stream), keys_partition(group_id, w->cfg.partitions));
        while (recur_next(&rule, anchor, done, date) && strcmp(date, today) <= 0 &&
               n < w->cfg.schedule_batch) {
            char *text = occurrence_event(rule_id, group_id, actor, content, date, now);
            redisReply *r = worker_redis(w, "XADD %s * event %s", stream, text);
            free(text);
            int ok = r && r->type == REDIS_REPLY_STRING;
            if (r && !ok)
                log_warn("schedule: XADD: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
            if (r)
                freeReplyObject(r);
            if (!ok)
                goto out;
            memcpy(done, date, 11);
            n++;
        }
        if (!recur_next(&rule, anchor, done, next))
            next[0] = '\0';
    }
    const char *p[4] = {rule_id, done, next[0] ? next : NULL, version};
    if (run(w, PGRES_COMMAND_OK, NULL,
            "UPDATE recurrences SET last_date = $2::date, next_date = $3::date,"
            " rule_version = $4::bigint WHERE rule_id = $1::uuid",
            4, p) != 0)
        goto out;
    if (n)
        log_info("schedule: rule %s: %d occurrence%s queued, up to %s", rule_id, n,
                 n == 1 ? "" : "s", done);
    w->scheduled += (uint64_t)n;
    rc = 0;
out:
    json_decref(content);
    return rc;
}

void schedule_tick(struct worker *w)
{
    char today[11], now[24];
    time_t t = time(NULL);
    struct tm tm;
    PGresult *res = NULL;

    gmtime_r(&t, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (run(w, PGRES_COMMAND_OK, NULL,
            "INSERT INTO recurrences (rule_id, group_id, last_date, next_date, rule_version)"
            " SELECT x.id, x.group_id, x.date, x.date, 0 FROM expenses x"
            " WHERE x.recurrence IS NOT NULL AND NOT x.deleted AND NOT EXISTS"
            " (SELECT 1 FROM recurrences r WHERE r.rule_id = x.id)"
            " ON CONFLICT (rule_id) DO NOTHING",
            0, NULL) != 0)
        return;
    if (run(w, PGRES_COMMAND_OK, NULL, "BEGIN", 0, NULL) != 0)
        return;
    const char *p[1] = {today};
    if (run(w, PGRES_TUPLES_OK, &res,
            "SELECT r.rule_id, to_char(r.last_date, 'YYYY-MM-DD'), x.group_id, x.version,"
            " x.created_by, to_char(x.date, 'YYYY-MM-DD'), " ROWS_EXPENSE_CONTENT(
                "x") ", x.recurrence IS NULL OR x.deleted"
                     " FROM recurrences r JOIN expenses x ON x.id = r.rule_id"
                     " JOIN groups g ON g.id = r.group_id"
                     " WHERE r.rule_version <> x.version"
                     " OR (r.next_date <= $1::date AND x.recurrence IS NOT NULL AND NOT x.deleted"
                     "  AND g.archived_at IS NULL)"
                     " ORDER BY r.rule_id LIMIT " KEYS_STR(
                         SCHEDULE_RULES) " FOR UPDATE OF r SKIP LOCKED",
            1, p) != 0)
        goto rollback;
    for (int i = 0; i < PQntuples(res); i++)
        if (schedule_rule(w, res, i, today, now) != 0)
            goto rollback;
    PQclear(res);
    run(w, PGRES_COMMAND_OK, NULL, "COMMIT", 0, NULL);
    return;
rollback:
    PQclear(res);
    run(w, PGRES_COMMAND_OK, NULL, "ROLLBACK", 0, NULL);
}

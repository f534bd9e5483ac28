/*
 * load: step 2 of a batch (see apply.c): what the batch needs from
 * PostgreSQL, in a fixed number of statements, locked for the transaction.
 */
#include "batch.h"

#include "json.h"
#include "keys.h"
#include "log.h"
#include "rows.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int load_recorded(struct batch *b)
{
    struct pgarr ids = {0};
    for (size_t i = 0; i < b->n_ev; i++)
        if (b->ev[i].outcome == OUT_APPLIED)
            arr_text(&ids, b->ev[i].e.id);
    const char *p[1] = {arr_done(&ids)};
    PGresult *res = batch_query(b,
                                "SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])"
                                " UNION ALL SELECT event_id FROM rejected_events"
                                " WHERE event_id = ANY($1::uuid[])",
                                1, p);
    arr_free(&ids);
    if (!res)
        return -1;
    struct idx seen;
    idx_init(&seen, (size_t)PQntuples(res) + b->n_ev + 1);
    for (int r = 0; r < PQntuples(res); r++)
        idx_put(&seen, PQgetvalue(res, r, 0), 0);
    /* An event queued twice (a recurring expense's occurrence queued again
       after a crash) may also be twice in one batch: the first copy counts. */
    for (size_t i = 0; i < b->n_ev; i++) {
        if (b->ev[i].outcome != OUT_APPLIED)
            continue;
        if (idx_get(&seen, b->ev[i].e.id) != SIZE_MAX)
            b->ev[i].outcome = OUT_DUPLICATE;
        else
            idx_put(&seen, b->ev[i].e.id, 0);
    }
    idx_free(&seen);
    PQclear(res);
    return 0;
}

/* An event whose Idempotency-Key an earlier event (original, which made
   target from a request hashed request_sha) holds: rejected, never applied,
   with a problem naming the original, so the request that made it learns
   which event and resource were its first. A different request under the
   same key is refused as the api refuses it. ev->idem_record is then the
   api's record of the original, for publish() to put back in Redis. */
static void reject_key_taken(struct entry *ev, const char *original, const char *target,
                             const char *request_sha)
{
    char detail[160];
    int same = request_sha && strcmp(request_sha, ev->e.request_sha) == 0;
    if (same) {
        snprintf(detail, sizeof(detail), "this Idempotency-Key was already used by event %s",
                 original);
        entry_reject(ev, PROBLEM_DUPLICATE_REQUEST, detail, NULL);
    } else {
        struct fields f = {0};
        fields_add(&f, "Idempotency-Key", "was used with a different request");
        entry_reject(ev, PROBLEM_VALIDATION,
                     "this Idempotency-Key was already used with a different request", &f);
    }
    json_object_set_new(ev->problem, "original_event_id", json_string(original));
    json_decref(ev->idem_record);
    ev->idem_record = json_pack("{s:s, s:s, s:s}", "hash", request_sha, "event_id", original,
                                "target_id", target);
    json_object_set_new(ev->problem, event_target_key(event_kind_of(ev->e.type)),
                        json_string(target));
}

/* Claim each new event's Idempotency-Key for its actor in idempotency_keys
   (same transaction as the event). The first event with a key wins: a later
   one in this batch, or one whose key PostgreSQL already holds (from within
   the key's window), is rejected by reject_key_taken. Conflicts never fail
   the statement (ON CONFLICT), so a taken key costs its event, not the
   batch; keys are claimed in a fixed order, so two workers claiming the
   same keys wait on each other without a deadlock. */
int claim_keys(struct batch *b)
{
    struct pgarr actor = {0}, key = {0}, req = {0}, eid = {0}, tid = {0}, at = {0};
    char(*ck)[UUID_STR_SIZE + 65] = xcalloc(b->n_ev + 1, sizeof(*ck));
    struct idx mine, taken;
    PGresult *claimed = NULL, *res = NULL;
    int rc = -1;

    idx_init(&mine, b->n_ev + 1);
    idx_init(&taken, b->n_ev + 1);
    for (size_t i = 0; i < b->n_ev; i++) {
        struct entry *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED || !ev->e.idem_sha || !ev->e.request_sha)
            continue;
        snprintf(ck[i], sizeof(ck[i]), "%s:%.64s", ev->e.actor, ev->e.idem_sha);
        size_t k = idx_get(&mine, ck[i]);
        if (k != SIZE_MAX) {
            reject_key_taken(ev, b->ev[k].e.id, b->ev[k].e.target, b->ev[k].e.request_sha);
            continue;
        }
        idx_put(&mine, ck[i], i);
        arr_text(&actor, ev->e.actor);
        arr_text(&key, ev->e.idem_sha);
        arr_text(&req, ev->e.request_sha);
        arr_text(&eid, ev->e.id);
        arr_text(&tid, ev->e.target);
        arr_text(&at, ev->e.accepted_at);
    }
    if (key.n == 0) {
        rc = 0;
        goto out;
    }
    const char *p[6] = {arr_done(&actor), arr_done(&key), arr_done(&req),
                        arr_done(&eid),   arr_done(&tid), arr_done(&at)};
    claimed = batch_query(
        b,
        "INSERT INTO idempotency_keys (actor, key_sha256, request_sha256, event_id,"
        " target_id, accepted_at) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[],"
        " $4::uuid[], $5::uuid[], $6::timestamptz[]) ORDER BY 1, 2"
        " ON CONFLICT (actor, key_sha256) DO UPDATE SET request_sha256 ="
        " EXCLUDED.request_sha256, event_id = EXCLUDED.event_id, target_id ="
        " EXCLUDED.target_id, accepted_at = EXCLUDED.accepted_at"
        " WHERE idempotency_keys.accepted_at < EXCLUDED.accepted_at - " KEYS_IDEM_WINDOW_SQL
        " RETURNING event_id",
        6, p);
    if (!claimed)
        goto out;
    if ((size_t)PQntuples(claimed) == key.n) {
        rc = 0;
        goto out;
    }
    /* Keys point into claimed, kept until the end. */
    for (int r = 0; r < PQntuples(claimed); r++)
        idx_put(&taken, PQgetvalue(claimed, r, 0), 0);
    /* Some keys were taken already: by which events. */
    res =
        batch_query(b,
                    "SELECT k.actor, k.key_sha256, k.event_id, k.target_id, k.request_sha256"
                    " FROM idempotency_keys k JOIN unnest($1::uuid[], $2::text[]) AS c(actor, key)"
                    " ON k.actor = c.actor AND k.key_sha256 = c.key",
                    2, p);
    if (!res)
        goto out;
    for (int r = 0; r < PQntuples(res); r++) {
        char who[UUID_STR_SIZE + 65];
        snprintf(who, sizeof(who), "%s:%.64s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        size_t i = idx_get(&mine, who);
        if (i == SIZE_MAX || idx_get(&taken, b->ev[i].e.id) != SIZE_MAX)
            continue; /* claimed by this batch */
        if (strcmp(PQgetvalue(res, r, 2), b->ev[i].e.id) == 0) {
            b->ev[i].outcome = OUT_DUPLICATE;
            continue;
        }
        reject_key_taken(&b->ev[i], PQgetvalue(res, r, 2), PQgetvalue(res, r, 3),
                         PQgetvalue(res, r, 4));
    }
    rc = 0;
out:
    if (res)
        PQclear(res);
    if (claimed)
        PQclear(claimed);
    idx_free(&mine);
    idx_free(&taken);
    free(ck);
    arr_free(&actor), arr_free(&key), arr_free(&req), arr_free(&eid), arr_free(&tid);
    arr_free(&at);
    return rc;
}

/* Events of the groups in their partition's defer set stay pending. */
static void defer_events(struct batch *b)
{
    for (size_t i = 0; i < b->n_ev; i++)
        if (b->ev[i].outcome == OUT_APPLIED && gset_has(b->ev[i].defer, b->ev[i].e.group_id))
            b->ev[i].outcome = OUT_DEFERRED;
}

/* Group gid joins the defer set of its partition: its events stay pending. */
static void defer_group(struct batch *b, const char *gid)
{
    for (size_t i = 0; i < b->n_ev; i++)
        if (b->ev[i].outcome == OUT_APPLIED && strcmp(b->ev[i].e.group_id, gid) == 0)
            gset_add(b->ev[i].defer, gid);
}

/* The groups PostgreSQL has but did not lock for us (someone else holds their
   row) join their partition's defer set; their events stay pending. 0, or -1. */
static int defer_locked(struct batch *b, const char *ids, size_t asked)
{
    const char *p[1] = {ids};
    if (b->n_groups == asked)
        return 0;
    PGresult *res = batch_query(b, "SELECT id FROM groups WHERE id = ANY($1::uuid[])", 1, p);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        if (idx_get(&b->gidx, id) == SIZE_MAX) {
            log_info("apply: group %s is locked, its events wait", id);
            defer_group(b, id);
        }
    }
    PQclear(res);
    defer_events(b);
    return 0;
}

/* Lock the groups the events name (in id order: two batches never wait on
   each other in a cycle; a row someone else holds is skipped, not waited
   for) and load each into a projection with its members and balances. */
int load_groups(struct batch *b)
{
    struct pgarr ids = {0}, locked = {0};
    struct idx seen;
    defer_events(b);
    idx_init(&seen, b->n_ev);
    for (size_t i = 0; i < b->n_ev; i++) {
        struct entry *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED || idx_get(&seen, ev->e.group_id) != SIZE_MAX)
            continue;
        idx_put(&seen, ev->e.group_id, 0);
        arr_text(&ids, ev->e.group_id);
    }
    idx_free(&seen);
    const char *p[1] = {arr_done(&ids)};
    PGresult *g =
        batch_query(b,
                    "SELECT id, currency, version, last_seq, encode(head_hash, 'hex'),"
                    " archived_at IS NOT NULL, EXISTS (SELECT 1 FROM webhooks w"
                    " WHERE w.group_id = groups.id) FROM groups WHERE id = ANY($1::uuid[])"
                    " ORDER BY id FOR UPDATE SKIP LOCKED",
                    1, p);
    for (int r = 0; g && r < PQntuples(g); r++)
        arr_text(&locked, PQgetvalue(g, r, 0));
    p[0] = arr_done(&locked);
    PGresult *m = g ? batch_query(b,
                                  "SELECT m.group_id, m.id, m.name, m.user_id, coalesce(b.paid, 0),"
                                  " coalesce(b.owed, 0), coalesce(b.sent, 0),"
                                  " coalesce(b.received, 0), count(*) OVER (PARTITION BY"
                                  " m.group_id) FROM members m LEFT JOIN balances b"
                                  " ON b.group_id = m.group_id AND b.member_id = m.id"
                                  " WHERE m.group_id = ANY($1::uuid[]) AND m.removed_at IS NULL"
                                  " ORDER BY m.group_id, m.position",
                                  1, p)
                    : NULL;
    arr_free(&locked);
    if (!g || !m) {
        arr_free(&ids);
        if (g)
            PQclear(g);
        return -1;
    }
    b->n_groups = (size_t)PQntuples(g);
    b->groups = xcalloc(b->n_groups + 1, sizeof(*b->groups));
    idx_init(&b->gidx, b->n_groups + 1);
    for (size_t i = 0; i < b->n_groups; i++) {
        struct group *gr = &b->groups[i];
        projection_init(&gr->proj, PQgetvalue(g, (int)i, 0), PQgetvalue(g, (int)i, 1));
        gr->version = atoll(PQgetvalue(g, (int)i, 2));
        gr->proj.last_seq = atoll(PQgetvalue(g, (int)i, 3));
        gr->proj.archived = PQgetvalue(g, (int)i, 5)[0] == 't';
        gr->webhooks = PQgetvalue(g, (int)i, 6)[0] == 't';
        if (chain_unhex(PQgetvalue(g, (int)i, 4), gr->head) != 0)
            memset(gr->head, 0, sizeof(gr->head)); /* no event yet */
        idx_put(&b->gidx, gr->proj.group_id, i);
    }
    for (int r = 0; r < PQntuples(m); r++) {
        size_t gi = idx_get(&b->gidx, PQgetvalue(m, r, 0));
        if (gi == SIZE_MAX)
            continue;
        struct group *gr = &b->groups[gi];
        if (!gr->info)
            gr->info = xcalloc((size_t)atoll(PQgetvalue(m, r, 8)) + 1, sizeof(*gr->info));
        size_t k = projection_add_member(&gr->proj, PQgetvalue(m, r, 1));
        struct projection_member *mb = &gr->proj.members[k];
        gr->info[k].name = xstrdup(PQgetvalue(m, r, 2));
        gr->info[k].user_id = PQgetisnull(m, r, 3) ? NULL : xstrdup(PQgetvalue(m, r, 3));
        mb->paid = atoll(PQgetvalue(m, r, 4));
        mb->owed = atoll(PQgetvalue(m, r, 5));
        mb->sent = atoll(PQgetvalue(m, r, 6));
        mb->received = atoll(PQgetvalue(m, r, 7));
    }
    PQclear(g);
    PQclear(m);
    int rc = defer_locked(b, arr_done(&ids), ids.n);
    arr_free(&ids);
    return rc;
}

/* The ids of the kind's resources the applicable events replace, delete or
   revert, each once (a creation's id is new: the api drew it at random, and
   should one exist all the same, the insert is refused and the event
   dead-lettered alone). */
static void named_ids(const struct batch *b, enum event_kind kind, struct pgarr *ids)
{
    struct idx seen;
    idx_init(&seen, b->n_ev + 1);
    for (size_t i = 0; i < b->n_ev; i++) {
        const struct entry *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED || event_kind_of(ev->e.type) != kind ||
            event_action_of(ev->e.type) == EVENT_CREATED ||
            idx_get(&seen, ev->e.target) != SIZE_MAX)
            continue;
        idx_put(&seen, ev->e.target, 0);
        arr_text(ids, ev->e.target);
    }
    idx_free(&seen);
}

/* The loaded group of a resource's row (its group_id in column col), or
   NULL: a resource of a group this batch did not load is not this batch's
   to change, and is treated as absent (the event is refused). */
static struct group *group_of(struct batch *b, const PGresult *res, int row, int col)
{
    size_t gi = idx_get(&b->gidx, PQgetvalue(res, row, col));
    return gi == SIZE_MAX ? NULL : &b->groups[gi];
}

/* Expenses PostgreSQL has but did not lock for us (someone else holds their
   row; those it gave are in got): the groups of the events naming them join
   their partition's defer set. 0, or -1. */
static int defer_locked_expenses(struct batch *b, const char *ids, const struct idx *got)
{
    const char *p[1] = {ids};
    PGresult *res = batch_query(b, "SELECT id FROM expenses WHERE id = ANY($1::uuid[])", 1, p);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        if (idx_get(got, id) != SIZE_MAX)
            continue;
        for (size_t i = 0; i < b->n_ev; i++) {
            const struct entry *ev = &b->ev[i];
            if (ev->outcome == OUT_APPLIED && event_kind_of(ev->e.type) == EVENT_EXPENSE &&
                strcmp(ev->e.target, id) == 0) {
                log_info("apply: expense %s is locked, group %s waits", id, ev->e.group_id);
                gset_add(ev->defer, ev->e.group_id);
            }
        }
    }
    PQclear(res);
    defer_events(b);
    return 0;
}

/* The expenses the batch names, locked (skipping those someone else holds)
   and put into their groups' projections with their shares. */
static int load_expenses(struct batch *b)
{
    struct pgarr ids = {0};
    struct idx got;
    int rc = -1;

    named_ids(b, EVENT_EXPENSE, &ids);
    if (ids.n == 0) {
        arr_free(&ids);
        return 0;
    }
    const char *p[1] = {arr_done(&ids)};
    PGresult *e =
        batch_query(b,
                    "SELECT id, group_id, version, deleted, " ROWS_EXPENSE_CONTENT(
                        "expenses") ", amount_in_group_currency, created_by,"
                                    " rfc3339(created_at), rfc3339(updated_at), seq, shares::text,"
                                    " created_seq FROM expenses WHERE id = ANY($1::uuid[])"
                                    " ORDER BY id FOR UPDATE SKIP LOCKED",
                    1, p);
    if (!e) {
        arr_free(&ids);
        return -1;
    }
    idx_init(&got, (size_t)PQntuples(e) + 1);
    for (int r = 0; r < PQntuples(e); r++) {
        idx_put(&got, PQgetvalue(e, r, 0), 0);
        struct group *g = group_of(b, e, r, 1);
        json_t *content = json_loads(PQgetvalue(e, r, 4), 0, NULL);
        if (!g || !content) {
            json_decref(content);
            continue;
        }
        struct projection_expense *x = projection_put_expense(&g->proj, PQgetvalue(e, r, 0));
        x->version = atoll(PQgetvalue(e, r, 2));
        x->deleted = strcmp(PQgetvalue(e, r, 3), "t") == 0;
        x->content = content;
        x->amount_group = atoll(PQgetvalue(e, r, 5));
        snprintf(x->created_by, sizeof(x->created_by), "%s", PQgetvalue(e, r, 6));
        snprintf(x->created_at, sizeof(x->created_at), "%s", PQgetvalue(e, r, 7));
        snprintf(x->updated_at, sizeof(x->updated_at), "%s", PQgetvalue(e, r, 8));
        x->seq = atoll(PQgetvalue(e, r, 9));
        x->created_seq = atoll(PQgetvalue(e, r, 11));
        json_t *shares = json_loads(PQgetvalue(e, r, 10), 0, NULL);
        size_t k;
        json_t *sh;
        x->shares = xcalloc(json_array_size(shares) + 1, sizeof(*x->shares));
        json_array_foreach(shares, k, sh)
        {
            const json_t *mid = json_object_get(sh, "member_id");
            size_t mi = json_is_string(mid) ? projection_member(&g->proj, json_string_value(mid))
                                            : SIZE_MAX;
            if (mi == SIZE_MAX)
                continue; /* only members of the expense's group hold shares */
            x->shares[x->n_shares].member = mi;
            x->shares[x->n_shares].paid = json_integer_value(json_object_get(sh, "paid"));
            x->shares[x->n_shares].owed = json_integer_value(json_object_get(sh, "owed"));
            x->n_shares++;
        }
        json_decref(shares);
    }
    rc = PQntuples(e) < (int)ids.n ? defer_locked_expenses(b, p[0], &got) : 0;
    idx_free(&got);
    arr_free(&ids);
    PQclear(e);
    return rc;
}

/* The payments the batch names, locked and put into their groups'
   projections, like the expenses. */
static int load_payments(struct batch *b)
{
    struct pgarr ids = {0};

    named_ids(b, EVENT_PAYMENT, &ids);
    if (ids.n == 0) {
        arr_free(&ids);
        return 0;
    }
    const char *p[1] = {arr_done(&ids)};
    PGresult *r = batch_query(b,
                              "SELECT id, group_id, version, deleted, from_member, to_member,"
                              " amount, to_char(date, 'YYYY-MM-DD'), note, created_by,"
                              " rfc3339(created_at), rfc3339(updated_at), seq FROM payments"
                              " WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
                              1, p);
    arr_free(&ids);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        struct group *g = group_of(b, r, i, 1);
        if (!g || projection_member(&g->proj, PQgetvalue(r, i, 4)) == SIZE_MAX ||
            projection_member(&g->proj, PQgetvalue(r, i, 5)) == SIZE_MAX)
            continue;
        struct projection_payment *py = projection_put_payment(&g->proj, PQgetvalue(r, i, 0));
        py->version = atoll(PQgetvalue(r, i, 2));
        py->deleted = strcmp(PQgetvalue(r, i, 3), "t") == 0;
        snprintf(py->from, sizeof(py->from), "%s", PQgetvalue(r, i, 4));
        snprintf(py->to, sizeof(py->to), "%s", PQgetvalue(r, i, 5));
        py->amount = atoll(PQgetvalue(r, i, 6));
        snprintf(py->date, sizeof(py->date), "%s", PQgetvalue(r, i, 7));
        py->note = PQgetisnull(r, i, 8) ? NULL : xstrdup(PQgetvalue(r, i, 8));
        snprintf(py->created_by, sizeof(py->created_by), "%s", PQgetvalue(r, i, 9));
        snprintf(py->created_at, sizeof(py->created_at), "%s", PQgetvalue(r, i, 10));
        snprintf(py->updated_at, sizeof(py->updated_at), "%s", PQgetvalue(r, i, 11));
        py->seq = atoll(PQgetvalue(r, i, 12));
    }
    PQclear(r);
    return 0;
}

int load_resources(struct batch *b)
{
    return load_expenses(b) != 0 || load_payments(b) != 0 ? -1 : 0;
}

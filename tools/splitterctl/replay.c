/* splitterctl replay --verify|--rebuild: rebuild from the events, compare or rewrite. */
#include "splitterctl.h"

#include "projection.h"
#include "rows.h"
#include "view.h"
#include "xalloc.h"

#include <inttypes.h>
#include <string.h>

/* Replay group gid's events into p (members first). 0; -1 after printing
   why (the events cannot be replayed: itself a difference); -2 on a
   database failure. */
static int replay_group(PGconn *pg, const char *gid, const char *currency, struct projection *p,
                        PGresult **members)
{
    const char *params[1] = {gid};
    char err[512];
    projection_init(p, gid, currency);
    *members = pq(pg, "SELECT id, name, user_id FROM members WHERE group_id = $1 ORDER BY position",
                  1, params);
    if (!*members)
        return -2;
    for (int i = 0; i < PQntuples(*members); i++)
        projection_add_member(p, PQgetvalue(*members, i, 0));
    PGresult *ev = pq(pg,
                      "SELECT seq, event_id, payload::text FROM events WHERE group_id = $1"
                      " ORDER BY seq",
                      1, params);
    if (!ev)
        return -2;
    int rc = 0;
    for (int i = 0; i < PQntuples(ev) && rc == 0; i++) {
        json_t *e = json_loads(PQgetvalue(ev, i, 2), 0, NULL);
        if (!e || projection_apply_json(p, e, atoll(PQgetvalue(ev, i, 0)), err, sizeof(err)) != 0) {
            printf("group %s: event seq %s (%s) does not replay: %s\n", gid, PQgetvalue(ev, i, 0),
                   PQgetvalue(ev, i, 1), e ? err : "the payload is not JSON");
            rc = -1;
        }
        json_decref(e);
    }
    PQclear(ev);
    return rc;
}

static const char *const content_keys[] = {
    "description", "amount",  "currency", "exchange_rate", "date",
    "category",    "paid_by", "split",    "recurrence",    "recurrence_of"};

/* The first difference between the projection tables and p, printed; 1 if
   one was found, 0 if none, -1 on a database failure. */
static int compare_group(PGconn *pg, const struct projection *p, int64_t last_seq,
                         PGresult *members)
{
    const char *params[1] = {p->group_id};
    const char *gid = p->group_id;
    int diff = 0;
    PGresult *b = NULL, *x = NULL, *y = NULL;

#define DIFF(...)                                                                                  \
    do {                                                                                           \
        printf("group %s: ", gid);                                                                 \
        printf(__VA_ARGS__);                                                                       \
        putchar('\n');                                                                             \
        diff = 1;                                                                                  \
        goto out;                                                                                  \
    } while (0)

    if (last_seq != p->last_seq)
        DIFF("groups.last_seq is %lld, the events end at seq %lld", (long long)last_seq,
             (long long)p->last_seq);
    b = pq(pg,
           "SELECT m.id, b.paid, b.owed, b.sent, b.received FROM members m LEFT JOIN balances b"
           " ON b.group_id = m.group_id AND b.member_id = m.id WHERE m.group_id = $1"
           " ORDER BY m.position",
           1, params);
    if (!b)
        return -1;
    if ((size_t)PQntuples(b) != p->n_members)
        DIFF("the members changed during the replay");
    for (int i = 0; i < PQntuples(b); i++) {
        const struct projection_member *m = &p->members[i];
        static const char *const col[] = {"paid", "owed", "sent", "received"};
        int64_t want[4] = {m->paid, m->owed, m->sent, m->received};
        if (strcmp(PQgetvalue(b, i, 0), m->id) != 0)
            DIFF("the members changed during the replay");
        for (int k = 0; k < 4; k++) {
            if (PQgetisnull(b, i, k + 1))
                DIFF("balances of member %s: no row, the events give %s %lld", m->id, col[k],
                     (long long)want[k]);
            if (atoll(PQgetvalue(b, i, k + 1)) != want[k])
                DIFF("balances of member %s: %s is %s in the projection, %lld from the events",
                     m->id, col[k], PQgetvalue(b, i, k + 1), (long long)want[k]);
        }
    }
    x = pq(pg,
           "SELECT id, version, deleted, amount_in_group_currency, seq, shares::text, created_by,"
           " created_seq,"
           " rfc3339(x.created_at), rfc3339(x.updated_at), " ROWS_EXPENSE_CONTENT(
               "x") " FROM expenses x WHERE group_id = $1 ORDER BY id",
           1, params);
    if (!x)
        goto fail;
    for (int i = 0; i < PQntuples(x); i++) {
        const char *id = PQgetvalue(x, i, 0);
        const struct projection_expense *e = projection_expense(p, id);
        if (!e)
            DIFF("expense %s is in the projection but no event created it", id);
        if (atoll(PQgetvalue(x, i, 1)) != e->version)
            DIFF("expense %s: version is %s in the projection, %lld from the events", id,
                 PQgetvalue(x, i, 1), (long long)e->version);
        if ((strcmp(PQgetvalue(x, i, 2), "t") == 0) != e->deleted)
            DIFF("expense %s: deleted is %s in the projection, %s from the events", id,
                 PQgetvalue(x, i, 2), e->deleted ? "t" : "f");
        if (atoll(PQgetvalue(x, i, 3)) != e->amount_group)
            DIFF("expense %s: amount_in_group_currency is %s in the projection, %lld from the"
                 " events",
                 id, PQgetvalue(x, i, 3), (long long)e->amount_group);
        if (atoll(PQgetvalue(x, i, 7)) != e->created_seq)
            DIFF("expense %s: created_seq is %s in the projection, %lld from the events", id,
                 PQgetvalue(x, i, 7), (long long)e->created_seq);
        if (atoll(PQgetvalue(x, i, 4)) != e->seq)
            DIFF("expense %s: seq is %s in the projection, %lld from the events", id,
                 PQgetvalue(x, i, 4), (long long)e->seq);
        json_t *have = json_loads(PQgetvalue(x, i, 5), 0, NULL);
        json_t *want = projection_shares_json(p, e);
        int same = have && json_equal(have, want);
        char *ws = json_dump_compact(want);
        json_decref(have);
        json_decref(want);
        if (!same) {
            printf("group %s: expense %s: shares are %s in the projection, %s from the events\n",
                   gid, id, PQgetvalue(x, i, 5), ws);
            free(ws);
            diff = 1;
            goto out;
        }
        free(ws);
        if (strcmp(PQgetvalue(x, i, 6), e->created_by) != 0 ||
            strcmp(PQgetvalue(x, i, 8), e->created_at) != 0 ||
            strcmp(PQgetvalue(x, i, 9), e->updated_at) != 0)
            DIFF("expense %s: created_by/created_at/updated_at are %s/%s/%s in the projection,"
                 " %s/%s/%s from the events",
                 id, PQgetvalue(x, i, 6), PQgetvalue(x, i, 8), PQgetvalue(x, i, 9), e->created_by,
                 e->created_at, e->updated_at);
        json_t *content = json_loads(PQgetvalue(x, i, 10), 0, NULL);
        for (size_t k = 0; k < sizeof(content_keys) / sizeof(content_keys[0]); k++) {
            json_t *a = json_object_get(content, content_keys[k]);
            json_t *c = json_object_get(e->content, content_keys[k]);
            if (!json_equal(a ? a : json_null(), c ? c : json_null())) {
                json_decref(content);
                DIFF("expense %s: %s differs between the projection and the events", id,
                     content_keys[k]);
            }
        }
        json_decref(content);
    }
    for (size_t i = 0; i < p->n_expenses; i++) {
        int found = 0;
        for (int r = 0; r < PQntuples(x) && !found; r++)
            found = strcmp(PQgetvalue(x, r, 0), p->expenses[i].id) == 0;
        if (!found)
            DIFF("expense %s is missing from the projection", p->expenses[i].id);
    }
    y = pq(pg,
           "SELECT id, from_member, to_member, amount, seq, version, deleted, to_char(date,"
           " 'YYYY-MM-DD'), rfc3339(updated_at), coalesce(note, '') FROM payments"
           " WHERE group_id = $1 ORDER BY id",
           1, params);
    if (!y)
        goto fail;
    if ((size_t)PQntuples(y) != p->n_payments)
        DIFF("%d payments in the projection, %zu from the events", PQntuples(y), p->n_payments);
    for (int i = 0; i < PQntuples(y); i++) {
        const struct projection_payment *py = projection_payment(p, PQgetvalue(y, i, 0));
        if (!py)
            DIFF("payment %s is in the projection but no event created it", PQgetvalue(y, i, 0));
        if (strcmp(PQgetvalue(y, i, 1), py->from) || strcmp(PQgetvalue(y, i, 2), py->to) ||
            atoll(PQgetvalue(y, i, 3)) != py->amount || atoll(PQgetvalue(y, i, 4)) != py->seq)
            DIFF("payment %s: %s->%s %s at seq %s in the projection, %s->%s %lld at seq %lld from"
                 " the events",
                 py->id, PQgetvalue(y, i, 1), PQgetvalue(y, i, 2), PQgetvalue(y, i, 3),
                 PQgetvalue(y, i, 4), py->from, py->to, (long long)py->amount, (long long)py->seq);
        if (atoll(PQgetvalue(y, i, 5)) != py->version ||
            (strcmp(PQgetvalue(y, i, 6), "t") == 0) != py->deleted)
            DIFF("payment %s: version %s deleted %s in the projection, %lld %s from the events",
                 py->id, PQgetvalue(y, i, 5), PQgetvalue(y, i, 6), (long long)py->version,
                 py->deleted ? "t" : "f");
        if (strcmp(PQgetvalue(y, i, 7), py->date) || strcmp(PQgetvalue(y, i, 8), py->updated_at) ||
            strcmp(PQgetvalue(y, i, 9), py->note ? py->note : ""))
            DIFF("payment %s: date, updated_at or note differs between the projection and the"
                 " events",
                 py->id);
    }
    {
        /* Settlements: the same view builder on both sides' balances. */
        size_t nm = p->n_members;
        struct view_member *live = xcalloc(nm + 1, sizeof(*live));
        struct view_member *replayed = xcalloc(nm + 1, sizeof(*replayed));
        struct view va, vb;
        for (size_t i = 0; i < nm; i++) {
            live[i].id = replayed[i].id = p->members[i].id;
            live[i].name = replayed[i].name = PQgetvalue(members, (int)i, 1);
            live[i].paid = atoll(PQgetvalue(b, (int)i, 1));
            live[i].owed = atoll(PQgetvalue(b, (int)i, 2));
            live[i].sent = atoll(PQgetvalue(b, (int)i, 3));
            live[i].received = atoll(PQgetvalue(b, (int)i, 4));
            replayed[i].paid = p->members[i].paid;
            replayed[i].owed = p->members[i].owed;
            replayed[i].sent = p->members[i].sent;
            replayed[i].received = p->members[i].received;
        }
        int ra = view_build(gid, p->currency, 0, live, nm, &va);
        int rb = view_build(gid, p->currency, 0, replayed, nm, &vb);
        int same = ra == 0 && rb == 0 && strcmp(va.settlements, vb.settlements) == 0;
        if (!same)
            printf("group %s: settlements differ: %s in the projection, %s from the events\n", gid,
                   ra == 0 ? va.settlements : "(invalid balances)",
                   rb == 0 ? vb.settlements : "(invalid balances)");
        if (ra == 0)
            view_release(&va);
        if (rb == 0)
            view_release(&vb);
        free(live);
        free(replayed);
        if (!same) {
            diff = 1;
            goto out;
        }
    }
#undef DIFF
out:
    if (b)
        PQclear(b);
    if (x)
        PQclear(x);
    if (y)
        PQclear(y);
    return diff;
fail:
    diff = -1;
    goto out;
}

/* Rewrite group p's projection rows from the replay (inside the caller's
   transaction, the group row locked) and bump its version. The new version
   in *version. 0, or -1. */
static int rewrite_group(PGconn *pg, const struct projection *p, int64_t *version)
{
    char a[4][24], seq[24], cseq[24], ver[24], amg[24];
    const char *gid = p->group_id;
    json_t *ids = json_array(), *pids = json_array();
    int rc = -1;

    for (size_t i = 0; i < p->n_members; i++) {
        const struct projection_member *m = &p->members[i];
        snprintf(a[0], sizeof(a[0]), "%" PRId64, m->paid);
        snprintf(a[1], sizeof(a[1]), "%" PRId64, m->owed);
        snprintf(a[2], sizeof(a[2]), "%" PRId64, m->sent);
        snprintf(a[3], sizeof(a[3]), "%" PRId64, m->received);
        const char *pp[6] = {gid, m->id, a[0], a[1], a[2], a[3]};
        if (pexec(pg,
                  "INSERT INTO balances (group_id, member_id, paid, owed, sent, received)"
                  " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (group_id, member_id) DO UPDATE"
                  " SET paid = EXCLUDED.paid, owed = EXCLUDED.owed, sent = EXCLUDED.sent,"
                  " received = EXCLUDED.received",
                  6, pp) != 0)
            goto out;
    }
    for (size_t i = 0; i < p->n_expenses; i++) {
        const struct projection_expense *x = &p->expenses[i];
        const json_t *c = x->content;
        char *paid = json_dump_compact(json_object_get(c, "paid_by"));
        char *split = json_dump_compact(json_object_get(c, "split"));
        json_t *sh = projection_shares_json(p, x);
        char *shares = json_dump_compact(sh);
        char amount[24];
        json_decref(sh);
        snprintf(amount, sizeof(amount), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(c, "amount")));
        snprintf(amg, sizeof(amg), "%" PRId64, x->amount_group);
        snprintf(ver, sizeof(ver), "%" PRId64, x->version);
        snprintf(seq, sizeof(seq), "%" PRId64, x->seq);
        snprintf(cseq, sizeof(cseq), "%" PRId64, x->created_seq);
        const json_t *cat = json_object_get(c, "category");
        const json_t *rj = json_object_get(c, "recurrence"),
                     *rof = json_object_get(c, "recurrence_of");
        char *rec = json_is_object(rj) ? json_dump_compact(rj) : NULL;
        const char *rec_of = json_is_string(rof) ? json_string_value(rof) : NULL;
        const char *pp[21] = {x->id,
                              gid,
                              json_string_value(json_object_get(c, "description")),
                              amount,
                              json_string_value(json_object_get(c, "currency")),
                              json_string_value(json_object_get(c, "exchange_rate")),
                              amg,
                              json_string_value(json_object_get(c, "date")),
                              json_is_string(cat) ? json_string_value(cat) : NULL,
                              paid,
                              split,
                              shares,
                              x->created_by,
                              x->created_at,
                              x->updated_at,
                              ver,
                              x->deleted ? "t" : "f",
                              seq,
                              cseq,
                              rec,
                              rec_of};
        int r = pexec(pg,
                      "INSERT INTO expenses (" ROWS_EXPENSE_COLUMNS
                      ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                      " $13, $14, $15, $16, $17, $18, $19, $20, $21) ON CONFLICT (id) DO UPDATE SET"
                      " description ="
                      " EXCLUDED.description, amount = EXCLUDED.amount, currency ="
                      " EXCLUDED.currency, exchange_rate = EXCLUDED.exchange_rate,"
                      " amount_in_group_currency = EXCLUDED.amount_in_group_currency, date ="
                      " EXCLUDED.date, category = EXCLUDED.category, paid_by = EXCLUDED.paid_by,"
                      " split = EXCLUDED.split, shares = EXCLUDED.shares, created_by ="
                      " EXCLUDED.created_by, created_at = EXCLUDED.created_at, updated_at ="
                      " EXCLUDED.updated_at, version = EXCLUDED.version, deleted ="
                      " EXCLUDED.deleted, seq = EXCLUDED.seq, created_seq = EXCLUDED.created_seq,"
                      " recurrence = EXCLUDED.recurrence, recurrence_of = EXCLUDED.recurrence_of",
                      21, pp);
        free(rec);
        free(paid);
        free(split);
        free(shares);
        if (r != 0)
            goto out;
        json_array_append_new(ids, json_string(x->id));
    }
    for (size_t i = 0; i < p->n_payments; i++) {
        const struct projection_payment *py = &p->payments[i];
        char amount[24];
        snprintf(amount, sizeof(amount), "%" PRId64, py->amount);
        snprintf(seq, sizeof(seq), "%" PRId64, py->seq);
        snprintf(ver, sizeof(ver), "%" PRId64, py->version);
        const char *pp[13] = {py->id,
                              gid,
                              py->from,
                              py->to,
                              amount,
                              py->date,
                              py->note,
                              py->created_by,
                              py->created_at,
                              py->updated_at,
                              ver,
                              py->deleted ? "t" : "f",
                              seq};
        if (pexec(pg,
                  "INSERT INTO payments (" ROWS_PAYMENT_COLUMNS ") VALUES"
                  " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                  " ON CONFLICT (id) DO UPDATE SET from_member = EXCLUDED.from_member,"
                  " to_member = EXCLUDED.to_member, amount = EXCLUDED.amount, date ="
                  " EXCLUDED.date, note = EXCLUDED.note, created_by = EXCLUDED.created_by,"
                  " created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,"
                  " version = EXCLUDED.version, deleted = EXCLUDED.deleted, seq = EXCLUDED.seq",
                  13, pp) != 0)
            goto out;
        json_array_append_new(pids, json_string(py->id));
    }
    {
        /* Rows no event accounts for are not part of the ledger. */
        char *xs = json_dump_compact(ids), *ps = json_dump_compact(pids);
        const char *pp[2] = {gid, xs}, *qq[2] = {gid, ps};
        int r = pexec(pg,
                      "DELETE FROM expenses WHERE group_id = $1 AND id::text NOT IN"
                      " (SELECT jsonb_array_elements_text($2::jsonb))",
                      2, pp);
        if (r == 0)
            r = pexec(pg,
                      "DELETE FROM payments WHERE group_id = $1 AND id::text NOT IN"
                      " (SELECT jsonb_array_elements_text($2::jsonb))",
                      2, qq);
        free(xs);
        free(ps);
        if (r != 0)
            goto out;
    }
    snprintf(seq, sizeof(seq), "%" PRId64, p->last_seq);
    const char *gp[2] = {gid, seq};
    /* A new version: the ETag changes and the cache's compare-and-set takes the new view. */
    PGresult *g = pq(pg,
                     "UPDATE groups SET last_seq = $2, version = version + 1 WHERE id = $1"
                     " RETURNING version",
                     2, gp);
    if (!g)
        goto out;
    *version = atoll(PQgetvalue(g, 0, 0));
    PQclear(g);
    rc = 0;
out:
    json_decref(ids);
    json_decref(pids);
    return rc;
}

/* Write group p's view at version through the cache's compare-and-set. */
static int write_cache(redisContext *rd, const struct projection *p, PGresult *members,
                       int64_t version)
{
    struct view v;
    struct view_cmd cmd;
    size_t n = p->n_members;
    if (p->archived)
        return 0; /* an archived group is never cached: the api reads it from PostgreSQL */
    struct view_member *vm = xcalloc(n + 1, sizeof(*vm));
    int rc = -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p->members[i].removed)
            continue;
        vm[k].id = p->members[i].id;
        vm[k].name = PQgetvalue(members, (int)i, 1);
        vm[k].user_id = PQgetisnull(members, (int)i, 2) ? NULL : PQgetvalue(members, (int)i, 2);
        vm[k].paid = p->members[i].paid;
        vm[k].owed = p->members[i].owed;
        vm[k].sent = p->members[i].sent;
        vm[k].received = p->members[i].received;
        k++;
    }
    n = k;
    if (view_build(p->group_id, p->currency, version, vm, n, &v) == 0) {
        view_cache_command(&cmd, p->group_id, p->currency, version, &v, vm, n);
        redisReply *r = redisCommandArgv(rd, cmd.argc, cmd.argv, NULL);
        view_cmd_release(&cmd);
        rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
        if (rc != 0)
            error("redis: cache write of group %s: %s", p->group_id,
                  r ? (r->str ? r->str : "unexpected reply") : rd->errstr);
        if (r)
            freeReplyObject(r);
        view_release(&v);
    }
    free(vm);
    return rc;
}

int cmd_replay(int argc, char **argv)
{
    int verify = 0, rebuild = 0, rc = 1;
    const char *group = NULL;
    PGconn *pg = NULL;
    redisContext *rd = NULL;
    PGresult *groups = NULL;
    int checked = 0, differing = 0, failed = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--verify") == 0)
            verify = 1;
        else if (strcmp(argv[i], "--rebuild") == 0)
            rebuild = 1;
        else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc)
            group = argv[++i];
        else
            return usage();
    }
    if (verify == rebuild)
        return usage();
    if (group && !ledger_is_uuid(group)) {
        error("--group: '%s' is not a group id", group);
        return 2;
    }
    if (!(pg = pg_connect("splitterctl")))
        return 1;
    if (rebuild && !(rd = redis_open()))
        goto out;
    const char *gp[1] = {group};
    groups = pq(pg, "SELECT id, currency FROM groups WHERE $1::uuid IS NULL OR id = $1 ORDER BY id",
                1, gp);
    if (!groups)
        goto out;
    if (group && PQntuples(groups) == 0) {
        error("no group '%s'", group);
        goto out;
    }
    for (int i = 0; i < PQntuples(groups); i++) {
        const char *gid = PQgetvalue(groups, i, 0), *params[1] = {gid};
        struct projection p;
        PGresult *members = NULL, *g;
        int64_t last_seq, version = 0;
        int r;

        /* verify: one snapshot for events and projection alike; rebuild: the
           group row locked, so no worker applies to it meanwhile. */
        if (pexec(pg, verify ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", 0,
                  NULL) != 0)
            goto out;
        g = pq(pg,
               verify ? "SELECT last_seq FROM groups WHERE id = $1"
                      : "SELECT last_seq FROM groups WHERE id = $1 FOR UPDATE",
               1, params);
        if (!g) {
            pexec(pg, "ROLLBACK", 0, NULL);
            goto out;
        }
        last_seq = atoll(PQgetvalue(g, 0, 0));
        PQclear(g);
        r = replay_group(pg, gid, PQgetvalue(groups, i, 1), &p, &members);
        if (r == 0 && verify)
            r = compare_group(pg, &p, last_seq, members) == 1 ? -1 : 0;
        else if (r == 0)
            r = rewrite_group(pg, &p, &version) == 0 ? 0 : -2;
        if (r == 0 && rebuild) {
            r = pexec(pg, "COMMIT", 0, NULL) == 0 ? 0 : -2;
            if (r == 0 && write_cache(rd, &p, members, version) != 0)
                failed++;
            if (r == 0)
                printf("group %s: rebuilt from %lld events (version %lld)\n", gid,
                       (long long)p.last_seq, (long long)version);
        } else {
            pexec(pg, "ROLLBACK", 0, NULL);
        }
        checked++;
        if (r == -1)
            differing++;
        else if (r == -2)
            failed++;
        if (members)
            PQclear(members);
        projection_release(&p);
    }
    if (verify)
        printf("replay: %d groups verified, %d differ from their events\n", checked, differing);
    else
        printf("replay: %d groups rebuilt, %d could not be\n", checked - differing - failed,
               differing + failed);
    rc = differing || failed ? 1 : 0;
out:
    if (groups)
        PQclear(groups);
    if (rd)
        redisFree(rd);
    PQfinish(pg);
    return rc;
}

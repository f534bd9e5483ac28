/*
 * apply: one batch of one partition's events in one PostgreSQL transaction.
 *
 * A batch costs a fixed number of round trips, whatever its size:
 *
 *   1. lock       the touched groups, skipping rows someone else holds (those
 *                 groups' events stay pending, see below);
 *   2. load       which events are already recorded, each new event's
 *                 Idempotency-Key (claimed: a key an earlier event holds
 *                 rejects the later one), the groups (with the heads of
 *                 their hash chains) and their members with balances,
 *                 and the expenses the batch replaces or deletes with their
 *                 shares (locked the same way);
 *   3. decide     in memory, event by event in stream order: validate with the
 *                 same shared code the api ran, check If-Match and membership,
 *                 apply to the loaded state with overflow checks, number the
 *                 group's events and chain them (shared/chain.h); a refused
 *                 event is rejected alone;
 *   4. write      new rows with COPY (events with their hashes, new expenses,
 *                 payments), the rest with bulk statements (unnest of arrays):
 *                 rejections, replaced expenses, balances, group versions and
 *                 heads;
 *   5. fence      last, so that the partition's row is locked only for the
 *                 moment before COMMIT: the lease token must still be the
 *                 newest PostgreSQL has seen for the partition;
 *   6. commit, then the cache and, one command each for the batch, the
 *                 statuses' deletion, the notification, the ack and the trim.
 *
 * A group whose row another transaction holds locked (an operator's query, a
 * stale holder's batch) holds up only itself: its events in the batch, and its
 * later events until they are applied, stay pending and are claimed again in
 * order (struct part in worker.h). Nothing in a batch waits on a lock longer
 * than WORKER_LOCK_TIMEOUT_MS, and a failure that is not the event's own
 * (connection, timeout, lock, resources, shutdown, fencing) leaves the entries
 * pending instead of counting against them.
 *
 * Deciding in memory instead of per-event savepoints keeps the transaction
 * free of subtransactions, and makes the whole batch one consistent step: a
 * crash anywhere before COMMIT leaves nothing behind, and a redelivered event
 * is recognised in step 2 and changes nothing.
 */
#include "worker.h"

#include "cache.h"
#include "chain.h"
#include "json.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "problem.h"
#include "script.h"
#include "strbuf.h"
#include "view.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

enum outcome { OUT_APPLIED, OUT_DUPLICATE, OUT_REJECTED, OUT_MALFORMED, OUT_DEFERRED };

/* --- small containers ----------------------------------------------------------------- */

/* A PostgreSQL array literal, built element by element: {"a","b",NULL}. */
struct pgarr {
    struct strbuf sb;
    size_t n;
    int done;
};

static void arr_text(struct pgarr *a, const char *s)
{
    strbuf_add(&a->sb, a->n++ ? "," : "{");
    if (!s) {
        strbuf_add(&a->sb, "NULL");
        return;
    }
    strbuf_add(&a->sb, "\"");
    /* Copy runs without a quote or backslash whole; escape those. */
    for (const char *p = s; *p;) {
        size_t run = strcspn(p, "\"\\");
        strbuf_addn(&a->sb, p, run);
        p += run;
        if (*p) {
            char esc[2] = {'\\', *p++};
            strbuf_addn(&a->sb, esc, 2);
        }
    }
    strbuf_add(&a->sb, "\"");
}

static void arr_int(struct pgarr *a, int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%lld", (long long)v);
    arr_text(a, b);
}

/* The finished literal (idempotent). Borrowed from a. */
static const char *arr_done(struct pgarr *a)
{
    if (!a->done) {
        if (a->n == 0)
            strbuf_add(&a->sb, "{");
        strbuf_add(&a->sb, "}");
        a->done = 1;
    }
    return a->sb.buf;
}

static void arr_free(struct pgarr *a)
{
    free(a->sb.buf);
    memset(a, 0, sizeof(*a));
}

/* An open-addressing index from a 36-character id to a position. */
struct idx {
    size_t cap;
    const char **keys;
    size_t *vals;
};

static size_t idx_hash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return (size_t)h;
}

static void idx_init(struct idx *x, size_t n)
{
    x->cap = 16;
    while (x->cap < n * 2)
        x->cap *= 2;
    x->keys = xcalloc(x->cap, sizeof(*x->keys));
    x->vals = xcalloc(x->cap, sizeof(*x->vals));
}

/* Position of k, or SIZE_MAX. */
static size_t idx_get(const struct idx *x, const char *k)
{
    for (size_t i = idx_hash(k) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
        if (!x->keys[i])
            return SIZE_MAX;
        if (strcmp(x->keys[i], k) == 0)
            return x->vals[i];
    }
}

/* k must stay valid while x lives; the table never fills past half. */
static void idx_put(struct idx *x, const char *k, size_t v)
{
    size_t i = idx_hash(k) & (x->cap - 1);
    while (x->keys[i] && strcmp(x->keys[i], k) != 0)
        i = (i + 1) & (x->cap - 1);
    x->keys[i] = k;
    x->vals[i] = v;
}

static void idx_free(struct idx *x)
{
    free(x->keys);
    free(x->vals);
    memset(x, 0, sizeof(*x));
}

/* --- batch state ---------------------------------------------------------------------- */

struct event {
    const char *id, *type, *group_id, *actor, *accepted_at, *idem, *target;
    /* SHA-256 (hex) of the Idempotency-Key and of the request, when it had a key
       (events accepted before they were carried have neither) */
    const char *idem_sha, *request_sha;
    int64_t if_match; /* 0 when absent */
    const json_t *data;
    json_t *root; /* owned */
    const char *text;
    size_t text_len;
    enum outcome outcome;
    json_t *problem;     /* owned: why the event was rejected */
    json_t *before;      /* owned: the expense before a replacement or deletion (audit log) */
    json_t *after;       /* owned: the expense a replacement made (audit log) */
    int wait;            /* a request waits: its outcome stays in Redis for a minute */
    json_t *result;      /* owned, when wait: the resource the request answers with */
    json_t *idem_record; /* owned: rejected for a taken key, the api's record of the original */
    int64_t seq;
    unsigned char hash[CHAIN_HASH_SIZE]; /* applied: its link of the group's hash chain */
};

struct group {
    char id[37], currency[4];
    int64_t version, last_seq;
    unsigned char head[CHAIN_HASH_SIZE]; /* the hash of its newest event (zeros: none) */
    size_t first_member, n_members;      /* members[first .. first+n) in display order */
    int touched;
};

struct member {
    char id[37], group_id[37];
    char *name, *user_id; /* owned; user_id NULL without an account */
    int64_t paid, owed, sent, received;
    int touched;
};

struct expense {
    char id[37], group_id[37];
    int exists, deleted, touched;
    int stored; /* a row in the table when the batch began: updated, not inserted */
    int64_t version, seq;
    json_t *content; /* owned: the normalised request fields */
    int64_t amount_group;
    /* The seq of its creation, the order of the expense list: written once, by COPY. */
    int64_t created_seq;
    char created_by[37], created_at[24], updated_at[24];
    struct ledger_share *shares; /* owned: payers and split members merged (index into members) */
    size_t n_shares;
};

struct payment {
    char id[37], group_id[37];
    int exists, deleted, touched;
    int stored; /* a row in the table when the batch began: updated, not inserted */
    int64_t version, seq;
    json_t *content; /* owned: the normalised request fields (ledger_payment_to_json) */
    size_t from, to; /* index into members */
    int64_t amount;
    char created_by[37], created_at[24], updated_at[24];
};

struct batch {
    struct worker *w;
    unsigned p;
    struct event *ev;
    size_t n_ev;
    struct group *groups;
    size_t n_groups;
    struct member *members;
    size_t n_members;
    struct expense *expenses;
    size_t n_expenses, alloc_expenses;
    struct payment *payments; /* at most one per event: never moved */
    size_t n_payments;
    struct idx pidx; /* payments by id */
    struct idx gidx, midx, xidx;
    struct gset *defer;  /* groups whose events stay pending (see apply_batch) */
    char last_entry[48]; /* the batch's newest stream entry id, recorded by the fence */
    char applied_at[24];
    char error[256];
    int broken; /* not a refusal of what the batch wrote: retry the batch later */
};

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_event(struct event *ev)
{
    const json_t *root = ev->root;
    ev->id = jstr(root, "event_id");
    ev->type = jstr(root, "type");
    ev->group_id = jstr(root, "group_id");
    ev->actor = jstr(root, "actor");
    ev->accepted_at = jstr(root, "accepted_at");
    ev->idem = jstr(root, "idempotency_key");
    ev->idem_sha = jstr(root, "idempotency_key_sha256");
    ev->request_sha = jstr(root, "request_sha256");
    ev->target = jstr(root, "expense_id");
    if (!ev->target)
        ev->target = jstr(root, "payment_id");
    ev->data = json_object_get(root, "data");
    if (json_is_integer(json_object_get(root, "if_match")))
        ev->if_match = json_integer_value(json_object_get(root, "if_match"));
    if (!ev->id || !ev->type || !ev->group_id || !ev->actor || !ev->accepted_at || !ev->target ||
        !ledger_is_uuid(ev->id) || !ledger_is_uuid(ev->group_id) || !ledger_is_uuid(ev->actor) ||
        !ledger_is_uuid(ev->target))
        return -1;
    /* Its fields must have their canonical form to be chained (chain.h). */
    char err[128];
    struct chain_event ce = {ev->group_id,    ev->id, ev->type, ev->actor,
                             ev->accepted_at, 1,      ev->text, ev->text_len};
    return chain_check(&ce, err, sizeof(err));
}

int apply_refused_for_content(const char *state)
{
    /* 22 data exception, 23 integrity constraint violation, 54 program limit
       exceeded (a value too large), P0 raised by a PL/pgSQL check. Anything
       else (08 connection, 40 rollbacks, 53 insufficient resources, 55
       object not in prerequisite state such as 55P03 lock_not_available, 57
       operator intervention such as 57014 statement timeout or admin
       shutdown, 58 system errors, XX internal, a bug of ours) is retried. */
    static const char *const content[] = {"22", "23", "54", "P0"};
    if (!state || strlen(state) != 5)
        return 0;
    for (size_t i = 0; i < sizeof(content) / sizeof(content[0]); i++)
        if (strncmp(state, content[i], 2) == 0)
            return 1;
    return 0;
}

/* Note why res failed, telling a refusal of what the batch wrote from
   anything else (b->broken: retry later); clears res. */
static void failed(struct batch *b, PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(b->error, sizeof(b->error), "%s",
             res ? PQresultErrorMessage(res) : PQerrorMessage(b->w->pg));
    b->broken = PQstatus(b->w->pg) != CONNECTION_OK || !apply_refused_for_content(state);
    PQclear(res);
}

/* Run a statement. NULL on failure (see failed()). */
static PGresult *q(struct batch *b, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(b->w->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    failed(b, res);
    return NULL;
}

/* Rows for COPY ... FROM STDIN in text format, built field by field. COPY
   inserts a batch of rows in one pass, with no per-row statement, parameter
   array or trigger: the cheapest way into PostgreSQL for rows that are new. */
struct copy {
    struct strbuf sb;
    size_t rows;
    int col;
};

static void copy_field(struct copy *c, const char *s)
{
    if (c->col++)
        strbuf_addn(&c->sb, "\t", 1);
    if (!s) {
        strbuf_addn(&c->sb, "\\N", 2);
        return;
    }
    /* Copy runs of ordinary bytes whole; escape the four COPY cares about. */
    for (const char *p = s; *p;) {
        size_t run = strcspn(p, "\\\t\n\r");
        strbuf_addn(&c->sb, p, run);
        p += run;
        if (*p) {
            char esc[2] = {'\\', *p == '\t' ? 't' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : '\\'};
            strbuf_addn(&c->sb, esc, 2);
            p++;
        }
    }
}

static void copy_int(struct copy *c, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    copy_field(c, buf);
}

static void copy_row_end(struct copy *c)
{
    strbuf_addn(&c->sb, "\n", 1);
    c->col = 0;
    c->rows++;
}

#define COPY_CHUNK ((size_t)1 << 20)

/* Send the rows with sql ("COPY t (cols) FROM STDIN"); 0, or -1 (see failed()). */
static int copy_run(struct batch *b, const char *sql, struct copy *c)
{
    PGconn *pg = b->w->pg;
    PGresult *res;
    int rc = 0;

    if (c->rows == 0)
        return 0;
    res = PQexec(pg, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        failed(b, res);
        return -1;
    }
    PQclear(res);
    /* In pieces of at most 1 MiB (libpq counts bytes in an int). A failure
       here means the connection is gone: the batch is left pending. */
    for (size_t off = 0; off < c->sb.len;) {
        size_t n = c->sb.len - off < COPY_CHUNK ? c->sb.len - off : COPY_CHUNK;
        if (PQputCopyData(pg, c->sb.buf + off, (int)n) != 1) {
            failed(b, NULL);
            return -1;
        }
        off += n;
    }
    if (PQputCopyEnd(pg, NULL) != 1) {
        failed(b, NULL);
        return -1;
    }
    /* The COPY's result, then NULL. */
    while ((res = PQgetResult(pg)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            if (rc == 0)
                failed(b, res);
            else
                PQclear(res);
            rc = -1;
        } else {
            PQclear(res);
        }
    }
    return rc;
}

static int exec0(struct batch *b, const char *sql)
{
    PGresult *r = q(b, sql, 0, NULL);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

static void reject(struct event *ev, enum problem_code code, const char *detail,
                   const struct fields *f)
{
    ev->outcome = OUT_REJECTED;
    json_decref(ev->problem);
    ev->problem = problem_new(code, detail, f);
}

/* --- step 2: load --------------------------------------------------------------------- */

static int load_recorded(struct batch *b)
{
    struct pgarr ids = {0};
    for (size_t i = 0; i < b->n_ev; i++)
        if (b->ev[i].outcome == OUT_APPLIED)
            arr_text(&ids, b->ev[i].id);
    const char *p[1] = {arr_done(&ids)};
    PGresult *res = q(b,
                      "SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])"
                      " UNION ALL SELECT event_id FROM rejected_events"
                      " WHERE event_id = ANY($1::uuid[])",
                      1, p);
    arr_free(&ids);
    if (!res)
        return -1;
    struct idx seen;
    idx_init(&seen, (size_t)PQntuples(res) + 1);
    for (int r = 0; r < PQntuples(res); r++)
        idx_put(&seen, PQgetvalue(res, r, 0), 0);
    for (size_t i = 0; i < b->n_ev; i++)
        if (b->ev[i].outcome == OUT_APPLIED && idx_get(&seen, b->ev[i].id) != SIZE_MAX)
            b->ev[i].outcome = OUT_DUPLICATE;
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
static void reject_key_taken(struct event *ev, const char *original, const char *target,
                             const char *request_sha)
{
    char detail[160];
    int same = request_sha && strcmp(request_sha, ev->request_sha) == 0;
    if (same) {
        snprintf(detail, sizeof(detail), "this Idempotency-Key was already used by event %s",
                 original);
        reject(ev, PROBLEM_DUPLICATE_REQUEST, detail, NULL);
    } else {
        struct fields f = {0};
        fields_add(&f, "Idempotency-Key", "was used with a different request");
        reject(ev, PROBLEM_VALIDATION,
               "this Idempotency-Key was already used with a different request", &f);
    }
    json_object_set_new(ev->problem, "original_event_id", json_string(original));
    json_decref(ev->idem_record);
    ev->idem_record = json_pack("{s:s, s:s, s:s}", "hash", request_sha, "event_id", original,
                                "target_id", target);
    json_object_set_new(ev->problem,
                        strncmp(ev->type, "payment.", 8) == 0 ? "payment_id" : "expense_id",
                        json_string(target));
}

/* Claim each new event's Idempotency-Key for its actor in idempotency_keys
   (same transaction as the event). The first event with a key wins: a later
   one in this batch, or one whose key PostgreSQL already holds (from within
   the key's window), is rejected by reject_key_taken. Conflicts never fail
   the statement (ON CONFLICT), so a taken key costs its event, not the
   batch; keys are claimed in a fixed order, so two workers claiming the
   same keys wait on each other without a deadlock. */
static int claim_keys(struct batch *b)
{
    struct pgarr actor = {0}, key = {0}, req = {0}, eid = {0}, tid = {0}, at = {0};
    char(*ck)[37 + 65] = xcalloc(b->n_ev + 1, sizeof(*ck));
    struct idx mine, taken;
    PGresult *claimed = NULL, *res = NULL;
    int rc = -1;

    idx_init(&mine, b->n_ev + 1);
    idx_init(&taken, b->n_ev + 1);
    for (size_t i = 0; i < b->n_ev; i++) {
        struct event *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED || !ev->idem_sha || !ev->request_sha)
            continue;
        snprintf(ck[i], sizeof(ck[i]), "%s:%.64s", ev->actor, ev->idem_sha);
        size_t k = idx_get(&mine, ck[i]);
        if (k != SIZE_MAX) {
            reject_key_taken(ev, b->ev[k].id, b->ev[k].target, b->ev[k].request_sha);
            continue;
        }
        idx_put(&mine, ck[i], i);
        arr_text(&actor, ev->actor);
        arr_text(&key, ev->idem_sha);
        arr_text(&req, ev->request_sha);
        arr_text(&eid, ev->id);
        arr_text(&tid, ev->target);
        arr_text(&at, ev->accepted_at);
    }
    if (key.n == 0) {
        rc = 0;
        goto out;
    }
    const char *p[6] = {arr_done(&actor), arr_done(&key), arr_done(&req),
                        arr_done(&eid),   arr_done(&tid), arr_done(&at)};
    claimed = q(b,
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
    res = q(b,
            "SELECT k.actor, k.key_sha256, k.event_id, k.target_id, k.request_sha256"
            " FROM idempotency_keys k JOIN unnest($1::uuid[], $2::text[]) AS c(actor, key)"
            " ON k.actor = c.actor AND k.key_sha256 = c.key",
            2, p);
    if (!res)
        goto out;
    for (int r = 0; r < PQntuples(res); r++) {
        char who[37 + 65];
        snprintf(who, sizeof(who), "%s:%.64s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        size_t i = idx_get(&mine, who);
        if (i == SIZE_MAX || idx_get(&taken, b->ev[i].id) != SIZE_MAX)
            continue; /* claimed by this batch */
        if (strcmp(PQgetvalue(res, r, 2), b->ev[i].id) == 0) {
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

/* Events of the groups in b->defer stay pending. */
static void defer_events(struct batch *b)
{
    for (size_t i = 0; i < b->n_ev; i++)
        if (b->ev[i].outcome == OUT_APPLIED && gset_has(b->defer, b->ev[i].group_id))
            b->ev[i].outcome = OUT_DEFERRED;
}

/* The groups PostgreSQL has but did not lock for us (someone else holds their
   row) join b->defer; their events stay pending. 0, or -1. */
static int defer_locked(struct batch *b, const char *ids, size_t asked)
{
    const char *p[1] = {ids};
    if (b->n_groups == asked)
        return 0;
    PGresult *res = q(b, "SELECT id FROM groups WHERE id = ANY($1::uuid[])", 1, p);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *id = PQgetvalue(res, r, 0);
        if (idx_get(&b->gidx, id) == SIZE_MAX) {
            log_info("apply: partition %u: group %s is locked, its events wait", b->p, id);
            gset_add(b->defer, id);
        }
    }
    PQclear(res);
    defer_events(b);
    return 0;
}

static int load_groups(struct batch *b)
{
    struct pgarr ids = {0}, locked = {0};
    struct idx seen;
    defer_events(b);
    idx_init(&seen, b->n_ev);
    for (size_t i = 0; i < b->n_ev; i++) {
        struct event *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED || idx_get(&seen, ev->group_id) != SIZE_MAX)
            continue;
        idx_put(&seen, ev->group_id, 0);
        arr_text(&ids, ev->group_id);
    }
    idx_free(&seen);
    const char *p[1] = {arr_done(&ids)};
    /* Locked in id order: two batches never wait on each other in a cycle.
       A row someone else holds is skipped, not waited for. */
    PGresult *g = q(b,
                    "SELECT id, currency, version, last_seq, encode(head_hash, 'hex') FROM groups"
                    " WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE SKIP LOCKED",
                    1, p);
    for (int r = 0; g && r < PQntuples(g); r++)
        arr_text(&locked, PQgetvalue(g, r, 0));
    p[0] = arr_done(&locked);
    PGresult *m = g ? q(b,
                        "SELECT m.group_id, m.id, m.name, m.user_id, coalesce(b.paid, 0),"
                        " coalesce(b.owed, 0), coalesce(b.sent, 0), coalesce(b.received, 0)"
                        " FROM members m LEFT JOIN balances b ON b.group_id = m.group_id"
                        " AND b.member_id = m.id WHERE m.group_id = ANY($1::uuid[])"
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
        snprintf(gr->id, sizeof(gr->id), "%s", PQgetvalue(g, (int)i, 0));
        snprintf(gr->currency, sizeof(gr->currency), "%s", PQgetvalue(g, (int)i, 1));
        gr->version = atoll(PQgetvalue(g, (int)i, 2));
        gr->last_seq = atoll(PQgetvalue(g, (int)i, 3));
        if (chain_unhex(PQgetvalue(g, (int)i, 4), gr->head) != 0)
            memset(gr->head, 0, sizeof(gr->head)); /* no event yet */
        idx_put(&b->gidx, gr->id, i);
    }
    b->n_members = (size_t)PQntuples(m);
    b->members = xcalloc(b->n_members + 1, sizeof(*b->members));
    idx_init(&b->midx, b->n_members + 1);
    for (size_t i = 0; i < b->n_members; i++) {
        struct member *mb = &b->members[i];
        int r = (int)i;
        snprintf(mb->group_id, sizeof(mb->group_id), "%s", PQgetvalue(m, r, 0));
        snprintf(mb->id, sizeof(mb->id), "%s", PQgetvalue(m, r, 1));
        mb->name = xstrdup(PQgetvalue(m, r, 2));
        mb->user_id = PQgetisnull(m, r, 3) ? NULL : xstrdup(PQgetvalue(m, r, 3));
        mb->paid = atoll(PQgetvalue(m, r, 4));
        mb->owed = atoll(PQgetvalue(m, r, 5));
        mb->sent = atoll(PQgetvalue(m, r, 6));
        mb->received = atoll(PQgetvalue(m, r, 7));
        idx_put(&b->midx, mb->id, i);
        size_t gi = idx_get(&b->gidx, mb->group_id);
        if (gi != SIZE_MAX) {
            if (b->groups[gi].n_members++ == 0)
                b->groups[gi].first_member = i;
        }
    }
    PQclear(g);
    PQclear(m);
    int rc = defer_locked(b, arr_done(&ids), ids.n);
    arr_free(&ids);
    return rc;
}

/* Expenses PostgreSQL has but did not lock for us (someone else holds their
   row): the groups of the events naming them join b->defer. 0, or -1. */
static int defer_locked_expenses(struct batch *b, const char *ids)
{
    const char *p[1] = {ids};
    PGresult *res = q(b, "SELECT id FROM expenses WHERE id = ANY($1::uuid[])", 1, p);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        size_t k = idx_get(&b->xidx, PQgetvalue(res, r, 0));
        if (k == SIZE_MAX || b->expenses[k].exists)
            continue;
        for (size_t i = 0; i < b->n_ev; i++) {
            const struct event *ev = &b->ev[i];
            if (ev->outcome == OUT_APPLIED && strncmp(ev->type, "expense.", 8) == 0 &&
                strcmp(ev->target, b->expenses[k].id) == 0) {
                log_info("apply: partition %u: expense %s is locked, group %s waits", b->p,
                         ev->target, ev->group_id);
                gset_add(b->defer, ev->group_id);
            }
        }
    }
    PQclear(res);
    defer_events(b);
    return 0;
}

static struct expense *expense_add(struct batch *b, const char *id)
{
    if (b->n_expenses == b->alloc_expenses) {
        b->alloc_expenses = b->alloc_expenses ? b->alloc_expenses * 2 : 16;
        b->expenses = xreallocarray(b->expenses, b->alloc_expenses, sizeof(*b->expenses));
    }
    struct expense *x = &b->expenses[b->n_expenses];
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", id);
    /* Keys point into events, which outlive the index. */
    idx_put(&b->xidx, id, b->n_expenses);
    b->n_expenses++;
    return x;
}

/* The payments the batch touches, like load_expenses: those a replacement,
   deletion or revert names are locked and loaded; a creation's id gets an
   empty slot. */
static int load_payments(struct batch *b)
{
    struct pgarr ids = {0};
    char *probe = xcalloc(b->n_ev + 1, 1);
    b->payments = xcalloc(b->n_ev + 1, sizeof(*b->payments));
    idx_init(&b->pidx, b->n_ev + 1);
    for (size_t i = 0; i < b->n_ev; i++) {
        struct event *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED || strncmp(ev->type, "payment.", 8) != 0)
            continue;
        size_t k = idx_get(&b->pidx, ev->target);
        if (k == SIZE_MAX) {
            k = b->n_payments++;
            snprintf(b->payments[k].id, sizeof(b->payments[k].id), "%s", ev->target);
            idx_put(&b->pidx, ev->target, k);
        }
        if (strcmp(ev->type, "payment.created") != 0 && !probe[k]) {
            probe[k] = 1;
            arr_text(&ids, ev->target);
        }
    }
    free(probe);
    if (ids.n == 0) {
        arr_free(&ids);
        return 0;
    }
    const char *p[1] = {arr_done(&ids)};
    PGresult *r =
        q(b,
          "SELECT id, group_id, version, deleted, json_build_object('from_member',"
          " from_member, 'to_member', to_member, 'amount', amount, 'date',"
          " to_char(date, 'YYYY-MM-DD'), 'note', note)::text, from_member, to_member,"
          " amount, created_by, " TS_SQL("created_at") ", " TS_SQL(
              "updated_at") ","
                            " seq FROM payments WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
          1, p);
    arr_free(&ids);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        struct payment *py = &b->payments[idx_get(&b->pidx, PQgetvalue(r, i, 0))];
        py->exists = py->stored = 1;
        snprintf(py->group_id, sizeof(py->group_id), "%s", PQgetvalue(r, i, 1));
        py->version = atoll(PQgetvalue(r, i, 2));
        py->deleted = strcmp(PQgetvalue(r, i, 3), "t") == 0;
        py->content = json_loads(PQgetvalue(r, i, 4), 0, NULL);
        py->from = idx_get(&b->midx, PQgetvalue(r, i, 5));
        py->to = idx_get(&b->midx, PQgetvalue(r, i, 6));
        py->amount = atoll(PQgetvalue(r, i, 7));
        snprintf(py->created_by, sizeof(py->created_by), "%s", PQgetvalue(r, i, 8));
        snprintf(py->created_at, sizeof(py->created_at), "%s", PQgetvalue(r, i, 9));
        snprintf(py->updated_at, sizeof(py->updated_at), "%s", PQgetvalue(r, i, 10));
        py->seq = atoll(PQgetvalue(r, i, 11));
        /* Payments of a group whose members were not loaded are not this
           batch's to change: treated as absent (decide rejects). */
        if (py->from == SIZE_MAX || py->to == SIZE_MAX || !py->content)
            py->exists = 0;
    }
    PQclear(r);
    return 0;
}

/* The expenses the batch touches: existing ones locked and loaded with their
   shares; ids not in the table get an empty slot. Then the payments
   (load_payments). */
static int load_expenses(struct batch *b)
{
    struct pgarr ids = {0};
    char *probe = xcalloc(b->n_ev + 1, 1);
    idx_init(&b->xidx, b->n_ev + 1);
    /* Only ids a replacement or deletion names are looked up: a creation's id
       is new (the api drew it at random), and should one exist all the same,
       the insert is refused and the event dead-lettered alone. */
    for (size_t i = 0; i < b->n_ev; i++) {
        struct event *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED || strncmp(ev->type, "expense.", 8) != 0)
            continue;
        size_t k = idx_get(&b->xidx, ev->target);
        if (k == SIZE_MAX) {
            k = b->n_expenses;
            expense_add(b, ev->target);
        }
        if (strcmp(ev->type, "expense.created") != 0 && !probe[k]) {
            probe[k] = 1;
            arr_text(&ids, ev->target);
        }
    }
    free(probe);
    if (ids.n == 0) {
        arr_free(&ids);
        return load_payments(b);
    }
    const char *p[1] = {arr_done(&ids)};
    PGresult *e = q(b,
                    "SELECT id, group_id, version, deleted, json_build_object('description',"
                    " description, 'amount', amount, 'currency', currency, 'exchange_rate',"
                    " exchange_rate, 'date', to_char(date, 'YYYY-MM-DD'), 'category', category,"
                    " 'paid_by', paid_by, 'split', split)::text, amount_in_group_currency,"
                    " created_by, " TS_SQL("created_at") ", " TS_SQL(
                        "updated_at") ", seq,"
                                      " shares::text FROM expenses WHERE id = ANY($1::uuid[]) "
                                      "ORDER BY id FOR UPDATE SKIP LOCKED",
                    1, p);
    if (!e) {
        arr_free(&ids);
        return -1;
    }
    for (int r = 0; r < PQntuples(e); r++) {
        struct expense *x = &b->expenses[idx_get(&b->xidx, PQgetvalue(e, r, 0))];
        x->exists = x->stored = 1;
        snprintf(x->group_id, sizeof(x->group_id), "%s", PQgetvalue(e, r, 1));
        x->version = atoll(PQgetvalue(e, r, 2));
        x->deleted = strcmp(PQgetvalue(e, r, 3), "t") == 0;
        x->content = json_loads(PQgetvalue(e, r, 4), 0, NULL);
        x->amount_group = atoll(PQgetvalue(e, r, 5));
        snprintf(x->created_by, sizeof(x->created_by), "%s", PQgetvalue(e, r, 6));
        snprintf(x->created_at, sizeof(x->created_at), "%s", PQgetvalue(e, r, 7));
        snprintf(x->updated_at, sizeof(x->updated_at), "%s", PQgetvalue(e, r, 8));
        x->seq = atoll(PQgetvalue(e, r, 9));
        json_t *shares = json_loads(PQgetvalue(e, r, 10), 0, NULL);
        size_t k;
        json_t *sh;
        x->shares = xcalloc(json_array_size(shares) + 1, sizeof(*x->shares));
        json_array_foreach(shares, k, sh)
        {
            const char *mid = jstr(sh, "member_id");
            size_t mi = mid ? idx_get(&b->midx, mid) : SIZE_MAX;
            if (mi == SIZE_MAX)
                continue; /* only members of the expense's group hold shares */
            x->shares[x->n_shares].member = mi;
            x->shares[x->n_shares].paid = json_integer_value(json_object_get(sh, "paid"));
            x->shares[x->n_shares].owed = json_integer_value(json_object_get(sh, "owed"));
            x->n_shares++;
        }
        json_decref(shares);
    }
    int rc = PQntuples(e) < (int)ids.n ? defer_locked_expenses(b, p[0]) : 0;
    arr_free(&ids);
    PQclear(e);
    return rc ? rc : load_payments(b);
}

/* --- step 3: decide ------------------------------------------------------------------- */

static int64_t *member_balance(size_t member, int owed, void *ctx)
{
    struct member *m = &((struct batch *)ctx)->members[member];
    return owed ? &m->owed : &m->paid;
}

/* Add (sign = 1) or take out (sign = -1) shares from members' balances
   (ledger_move_shares). 0, or -1 when a balance would overflow (nothing
   changed then). */
static int apply_shares(struct batch *b, const struct ledger_share *sh, size_t n, int sign)
{
    if (ledger_move_shares(sh, n, sign, member_balance, b) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        b->members[sh[i].member].touched = 1;
    return 0;
}

struct member_of_group {
    const struct batch *b;
    const struct group *g;
};

static size_t member_of_group(const char *id, void *ctx)
{
    const struct member_of_group *mg = ctx;
    size_t mi = idx_get(&mg->b->midx, id);
    return mi != SIZE_MAX && strcmp(mg->b->members[mi].group_id, mg->g->id) == 0 ? mi : SIZE_MAX;
}

/* The expense's shares (ledger_merge_shares); NULL when a member is not in
   group g (the event is then rejected, the ids noted in f). */
static struct ledger_share *shares_of(struct batch *b, const struct group *g,
                                      const struct ledger_expense *e, size_t *n_out,
                                      struct fields *f)
{
    struct member_of_group mg = {b, g};
    return ledger_merge_shares(e, member_of_group, &mg, n_out, f);
}

/* The expense resource of x as it stands (shared/ledger.c builds it). New
   reference. */
static json_t *expense_resource(const struct batch *b, const struct expense *x)
{
    struct ledger_owed *owed = xcalloc(x->n_shares + 1, sizeof(*owed));
    struct ledger_expense_meta m = {
        .id = x->id,
        .group_id = x->group_id,
        .created_by = x->created_by,
        .created_at = x->created_at,
        .updated_at = x->updated_at,
        .amount_group = x->amount_group,
        .version = x->version,
    };
    for (size_t k = 0; k < x->n_shares; k++) {
        owed[k].member_id = b->members[x->shares[k].member].id;
        owed[k].owed = x->shares[k].owed;
    }
    json_t *r = ledger_expense_resource(x->content, &m, owed, x->n_shares);
    free(owed);
    return r;
}

/* 0 while group g's sums stay in range (ledger_volume_add: the rule the api
   checks at acceptance), else -1. */
static int group_in_range(const struct batch *b, const struct group *g)
{
    struct ledger_volume v = {0, 0};
    for (size_t i = g->first_member; i < g->first_member + g->n_members; i++) {
        const struct member *m = &b->members[i];
        if (ledger_volume_add(&v, m->paid, m->owed, m->sent, m->received) != 0)
            return -1;
    }
    return 0;
}

static void decide_expense(struct batch *b, struct event *ev, struct group *g)
{
    struct expense *x = &b->expenses[idx_get(&b->xidx, ev->target)];
    struct ledger_change ch;
    struct ledger_expense e;
    struct json_doc doc = {0};
    struct fields f = {0};
    struct ledger_share *sh = NULL;
    size_t n_sh = 0;
    char today[11], detail[128];
    enum problem_code code;

    memset(&e, 0, sizeof(e));
    if (ledger_change_of("expense", ev->type, ev->data, &ch) != 0) {
        reject(ev, PROBLEM_VALIDATION, "unknown event type", NULL);
        return;
    }
    int creating = ch.op == LEDGER_OP_CREATE, deleting = ch.op == LEDGER_OP_DELETE;
    /* A revert may bring a deleted expense back: its shares are not in the
       balances then. */
    int live = x->exists && !x->deleted;
    if (ledger_change_check(&ch, "expense",
                            x->exists && (creating || strcmp(x->group_id, g->id) == 0), x->deleted,
                            x->version, ev->if_match, &code, detail, sizeof(detail)) != 0) {
        reject(ev, code, detail, NULL);
        return;
    }
    if (!deleting) {
        ledger_today(today);
        if (ledger_expense_parse(&doc, ch.content, g->currency, today, &e, &f) != 0) {
            reject(ev, PROBLEM_VALIDATION, "the expense is not valid for this group", &f);
            return;
        }
        sh = shares_of(b, g, &e, &n_sh, &f);
        if (!sh) {
            reject(ev, PROBLEM_VALIDATION, "the expense names non-members", &f);
            goto out;
        }
    }
    /* Take the old shares out, put the new ones in; undo on overflow. */
    if (live && apply_shares(b, x->shares, x->n_shares, -1) != 0) {
        reject(ev, PROBLEM_VALIDATION, "a balance would overflow 64 bits", NULL);
        goto out;
    }
    if (!deleting && apply_shares(b, sh, n_sh, 1) != 0) {
        if (live)
            apply_shares(b, x->shares, x->n_shares, 1);
        reject(ev, PROBLEM_VALIDATION, "a balance would overflow 64 bits", NULL);
        goto out;
    }
    if (!deleting && group_in_range(b, g) != 0) {
        apply_shares(b, sh, n_sh, -1);
        if (!creating)
            apply_shares(b, x->shares, x->n_shares, 1);
        reject(ev, PROBLEM_VALIDATION, LEDGER_RANGE_DETAIL, NULL);
        goto out;
    }
    if (!creating)
        ev->before = expense_resource(b, x);
    if (creating) {
        x->exists = 1;
        x->version = 1;
        x->created_seq = g->last_seq + 1;
        snprintf(x->group_id, sizeof(x->group_id), "%s", g->id);
        snprintf(x->created_by, sizeof(x->created_by), "%s", ev->actor);
        snprintf(x->created_at, sizeof(x->created_at), "%s", ev->accepted_at);
    } else {
        x->version++;
    }
    snprintf(x->updated_at, sizeof(x->updated_at), "%s", ev->accepted_at);
    if (deleting) {
        x->deleted = 1;
    } else {
        x->deleted = 0;
        json_decref(x->content);
        x->content = ledger_expense_to_json(&e);
        x->amount_group = e.amount_group;
        free(x->shares);
        x->shares = sh;
        x->n_shares = n_sh;
        sh = NULL;
    }
    x->touched = 1;
    ev->outcome = OUT_APPLIED;
    ev->seq = ++g->last_seq;
    x->seq = ev->seq;
    g->version++;
    g->touched = 1;
    /* The audit log keeps what a replacement made (`after`); a creation's
       payload already says it, and a deletion made nothing. A waiting
       request answers with the expense as it now stands. */
    if (!creating && !deleting)
        ev->after = expense_resource(b, x);
    if (ev->wait)
        ev->result = ev->after ? json_incref(ev->after) : expense_resource(b, x);
out:
    free(sh);
    ledger_expense_release(&e);
    json_doc_release(&doc);
}

/* The payment resource of py as it stands (shared/ledger.c builds it). New
   reference. */
static json_t *payment_resource(const struct payment *py)
{
    struct ledger_expense_meta m = {
        .id = py->id,
        .group_id = py->group_id,
        .created_by = py->created_by,
        .created_at = py->created_at,
        .updated_at = py->updated_at,
        .version = py->version,
    };
    return ledger_payment_resource(py->content, &m);
}

/* Move a payment into (sign 1) or out of (sign -1) the balances. */
static int apply_payment(struct batch *b, size_t from, size_t to, int64_t amount, int sign)
{
    if (ledger_move_payment(&b->members[from].sent, &b->members[to].received, amount, sign) != 0)
        return -1;
    b->members[from].touched = b->members[to].touched = 1;
    return 0;
}

static void decide_payment(struct batch *b, struct event *ev, struct group *g)
{
    struct payment *py = &b->payments[idx_get(&b->pidx, ev->target)];
    struct member_of_group mg = {b, g};
    struct ledger_change ch;
    struct ledger_payment pay;
    struct fields f = {0};
    char today[11], detail[128];
    enum problem_code code;
    size_t from = SIZE_MAX, to = SIZE_MAX;

    memset(&pay, 0, sizeof(pay));
    if (ledger_change_of("payment", ev->type, ev->data, &ch) != 0) {
        reject(ev, PROBLEM_VALIDATION, "unknown event type", NULL);
        return;
    }
    int creating = ch.op == LEDGER_OP_CREATE, deleting = ch.op == LEDGER_OP_DELETE;
    int live = py->exists && !py->deleted;
    if (ledger_change_check(
            &ch, "payment", py->exists && (creating || strcmp(py->group_id, g->id) == 0),
            py->deleted, py->version, ev->if_match, &code, detail, sizeof(detail)) != 0) {
        reject(ev, code, detail, NULL);
        return;
    }
    if (!deleting) {
        ledger_today(today);
        if (ledger_payment_parse(ch.content, today, &pay, &f) != 0) {
            reject(ev, PROBLEM_VALIDATION, "the payment is not valid", &f);
            return;
        }
        from = member_of_group(pay.from_member, &mg);
        to = member_of_group(pay.to_member, &mg);
        if (from == SIZE_MAX)
            fields_add(&f, "from_member", "is not a member of this group");
        if (to == SIZE_MAX)
            fields_add(&f, "to_member", "is not a member of this group");
        if (f.n) {
            reject(ev, PROBLEM_VALIDATION, "the payment names non-members", &f);
            goto out;
        }
    }
    /* Take the old payment out, put the new one in; undo on overflow. */
    if (live && apply_payment(b, py->from, py->to, py->amount, -1) != 0) {
        reject(ev, PROBLEM_VALIDATION, "a balance would overflow 64 bits", NULL);
        goto out;
    }
    if (!deleting && apply_payment(b, from, to, pay.amount, 1) != 0) {
        if (live)
            apply_payment(b, py->from, py->to, py->amount, 1);
        reject(ev, PROBLEM_VALIDATION, "a balance would overflow 64 bits", NULL);
        goto out;
    }
    /* Sums stay in range: every total the server computes from the balances. */
    if (!deleting && group_in_range(b, g) != 0) {
        apply_payment(b, from, to, pay.amount, -1);
        if (live)
            apply_payment(b, py->from, py->to, py->amount, 1);
        reject(ev, PROBLEM_VALIDATION, LEDGER_RANGE_DETAIL, NULL);
        goto out;
    }
    if (!creating)
        ev->before = payment_resource(py);
    if (creating) {
        py->exists = 1;
        py->version = 1;
        snprintf(py->group_id, sizeof(py->group_id), "%s", g->id);
        snprintf(py->created_by, sizeof(py->created_by), "%s", ev->actor);
        snprintf(py->created_at, sizeof(py->created_at), "%s", ev->accepted_at);
    } else {
        py->version++;
    }
    snprintf(py->updated_at, sizeof(py->updated_at), "%s", ev->accepted_at);
    if (deleting) {
        py->deleted = 1;
    } else {
        py->deleted = 0;
        json_decref(py->content);
        py->content = ledger_payment_to_json(&pay);
        py->from = from;
        py->to = to;
        py->amount = pay.amount;
    }
    py->touched = 1;
    ev->outcome = OUT_APPLIED;
    ev->seq = ++g->last_seq;
    py->seq = ev->seq;
    g->version++;
    g->touched = 1;
    /* As for expenses: the audit log keeps what a change made (`after`), and
       a waiting request answers with the payment as it now stands. */
    if (!creating && !deleting)
        ev->after = payment_resource(py);
    if (ev->wait)
        ev->result = ev->after ? json_incref(ev->after) : payment_resource(py);
out:
    ledger_payment_release(&pay);
}

/* Chain applied event ev to its group's head (chain.h); parse_event checked
   that its fields can be. */
static void link_event(struct batch *b, struct event *ev, struct group *g)
{
    struct chain_event ce = {ev->group_id,    ev->id,  ev->type, ev->actor,
                             ev->accepted_at, ev->seq, ev->text, ev->text_len};
    char err[128];
    if (chain_link(g->head, &ce, ev->hash, err, sizeof(err)) != 0) {
        snprintf(b->error, sizeof(b->error), "event %s cannot be chained: %s", ev->id, err);
        b->broken = 1;
        return;
    }
    memcpy(g->head, ev->hash, sizeof(g->head));
}

static void decide(struct batch *b)
{
    for (size_t i = 0; i < b->n_ev; i++) {
        struct event *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED)
            continue;
        size_t gi = idx_get(&b->gidx, ev->group_id);
        if (gi == SIZE_MAX) {
            reject(ev, PROBLEM_NOT_FOUND, "the group does not exist", NULL);
            continue;
        }
        if (strncmp(ev->type, "expense.", 8) == 0)
            decide_expense(b, ev, &b->groups[gi]);
        else if (strncmp(ev->type, "payment.", 8) == 0)
            decide_payment(b, ev, &b->groups[gi]);
        else
            reject(ev, PROBLEM_VALIDATION, "unknown event type", NULL);
        if (ev->outcome == OUT_APPLIED)
            link_event(b, ev, &b->groups[gi]);
    }
}

/* --- step 4: write -------------------------------------------------------------------- */

static int write_events(struct batch *b)
{
    struct copy rows = {0};
    struct pgarr rid = {0}, rgid = {0}, rtype = {0}, ractor = {0}, rat = {0}, rproblem = {0};
    int rc = -1;
    PGresult *res;

    for (size_t i = 0; i < b->n_ev; i++) {
        struct event *ev = &b->ev[i];
        if (ev->outcome == OUT_APPLIED) {
            char *text = xstrndup(ev->text, ev->text_len);
            copy_field(&rows, ev->id);
            copy_field(&rows, ev->group_id);
            copy_int(&rows, ev->seq);
            copy_field(&rows, ev->type);
            copy_field(&rows, ev->actor);
            copy_field(&rows, ev->accepted_at);
            copy_field(&rows, ev->idem);
            copy_field(&rows, text);
            free(text);
            char hex[2 + CHAIN_HEX_SIZE] = "\\x";
            chain_hex(ev->hash, hex + 2);
            copy_field(&rows, hex);
            /* The audit columns: what a replacement or deletion changed. A
               creation's payload already says all it did. */
            text = ev->before ? json_dump_compact(ev->before) : NULL;
            copy_field(&rows, text);
            free(text);
            text = ev->after ? json_dump_compact(ev->after) : NULL;
            copy_field(&rows, text);
            free(text);
            copy_row_end(&rows);
        } else if (ev->outcome == OUT_REJECTED) {
            char *problem = json_dump_compact(ev->problem);
            arr_text(&rid, ev->id);
            arr_text(&rgid, ev->group_id);
            arr_text(&rtype, ev->type);
            arr_text(&ractor, ev->actor);
            arr_text(&rat, ev->accepted_at);
            arr_text(&rproblem, problem);
            free(problem);
        }
    }
    if (copy_run(b,
                 "COPY events (event_id, group_id, seq, type, actor, accepted_at, idempotency_key,"
                 " payload, hash, before, after) FROM STDIN",
                 &rows) != 0)
        goto out;
    if (rid.n) {
        const char *p[6] = {arr_done(&rid),    arr_done(&rgid), arr_done(&rtype),
                            arr_done(&ractor), arr_done(&rat),  arr_done(&rproblem)};
        res = q(b,
                "INSERT INTO rejected_events (event_id, group_id, type, actor, accepted_at,"
                " problem) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[],"
                " $4::uuid[], $5::timestamptz[], $6::json[])",
                6, p);
        if (!res)
            goto out;
        PQclear(res);
    }
    rc = 0;
out:
    free(rows.sb.buf);
    arr_free(&rid), arr_free(&rgid), arr_free(&rtype), arr_free(&ractor), arr_free(&rat);
    arr_free(&rproblem);
    return rc;
}

/* The shares column of x: [{"member_id", "paid", "owed"}], written directly
   (ids are UUIDs, amounts integers: nothing to escape). Caller frees. */
static char *shares_text(const struct batch *b, const struct expense *x)
{
    struct strbuf sb = {0};
    char item[128];
    strbuf_add(&sb, "[");
    for (size_t k = 0; k < x->n_shares; k++) {
        snprintf(item, sizeof(item), "%s{\"member_id\":\"%s\",\"paid\":%lld,\"owed\":%lld}",
                 k ? "," : "", b->members[x->shares[k].member].id, (long long)x->shares[k].paid,
                 (long long)x->shares[k].owed);
        strbuf_add(&sb, item);
    }
    strbuf_add(&sb, "]");
    return sb.buf;
}

/* Where an expense row goes: one COPY row, or one element of each column
   array of the update (the same columns in the same order). */
#define EXPENSE_COLUMNS 18

struct row_sink {
    struct copy *copy;
    struct pgarr *cols;
    size_t col;
};

static void sink_text(struct row_sink *s, const char *v)
{
    if (s->copy)
        copy_field(s->copy, v);
    else
        arr_text(&s->cols[s->col++], v);
}

static void sink_int(struct row_sink *s, int64_t v)
{
    if (s->copy)
        copy_int(s->copy, v);
    else
        arr_int(&s->cols[s->col++], v);
}

static void expense_row(const struct batch *b, const struct expense *x, struct row_sink *s)
{
    const json_t *c = x->content;
    char *pj = json_dump_compact(json_object_get(c, "paid_by"));
    char *sj = json_dump_compact(json_object_get(c, "split"));
    char *shj = shares_text(b, x);
    sink_text(s, x->id);
    sink_text(s, x->group_id);
    sink_text(s, jstr(c, "description"));
    sink_int(s, json_integer_value(json_object_get(c, "amount")));
    sink_text(s, jstr(c, "currency"));
    sink_text(s, jstr(c, "exchange_rate"));
    sink_int(s, x->amount_group);
    sink_text(s, jstr(c, "date"));
    sink_text(s, jstr(c, "category"));
    sink_text(s, pj);
    sink_text(s, sj);
    sink_text(s, x->created_by);
    sink_text(s, x->created_at);
    sink_text(s, x->updated_at);
    sink_int(s, x->version);
    sink_text(s, x->deleted ? "t" : "f");
    sink_int(s, x->seq);
    sink_text(s, shj);
    if (s->copy) /* never changes: not part of the update */
        copy_int(s->copy, x->created_seq);
    free(pj);
    free(sj);
    free(shj);
}

/* How one kind of row is written by write_rows: n_cols columns through a
   row_sink; state(b, i) says whether item i is untouched (0), new (ROW_NEW:
   COPY) or held by the table when the batch began (ROW_STORED: updated). */
enum { ROW_NEW = 1, ROW_STORED = 2 };

struct row_kind {
    size_t n_cols;
    const char *copy_sql;   /* COPY t (cols) FROM STDIN */
    const char *update_sql; /* UPDATE t ... FROM unnest($1 .. $n_cols) */
    int (*state)(const struct batch *b, size_t i);
    void (*row)(const struct batch *b, size_t i, struct row_sink *s);
};

/* Items [0, n) of kind k: new ones in with one COPY, the others updated in
   place by one statement over column arrays. 0, or -1 (see failed()). */
static int write_rows(struct batch *b, size_t n, const struct row_kind *k)
{
    struct copy rows = {0};
    struct pgarr *cols = xcalloc(k->n_cols, sizeof(*cols));
    const char **p = xcalloc(k->n_cols, sizeof(*p));
    size_t updates = 0;
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        int st = k->state(b, i);
        if (!st)
            continue;
        struct row_sink sink = {st == ROW_STORED ? NULL : &rows, cols, 0};
        k->row(b, i, &sink);
        if (st == ROW_STORED)
            updates++;
        else
            copy_row_end(&rows);
    }
    if (copy_run(b, k->copy_sql, &rows) != 0)
        goto out;
    if (updates) {
        for (size_t c = 0; c < k->n_cols; c++)
            p[c] = arr_done(&cols[c]);
        PGresult *res = q(b, k->update_sql, (int)k->n_cols, p);
        if (!res)
            goto out;
        PQclear(res);
    }
    rc = 0;
out:
    free(rows.sb.buf);
    for (size_t c = 0; c < k->n_cols; c++)
        arr_free(&cols[c]);
    free(cols);
    free(p);
    return rc;
}

static int expense_state(const struct batch *b, size_t i)
{
    const struct expense *x = &b->expenses[i];
    return !x->touched ? 0 : x->stored ? ROW_STORED : ROW_NEW;
}

static void expense_row_of(const struct batch *b, size_t i, struct row_sink *s)
{
    expense_row(b, &b->expenses[i], s);
}

/* New expenses go in with COPY; those the table held are updated in place
   (who created them and when never change). */
static int write_expenses(struct batch *b)
{
    static const struct row_kind kind = {
        EXPENSE_COLUMNS,
        "COPY expenses (id, group_id, description, amount, currency, exchange_rate,"
        " amount_in_group_currency, date, category, paid_by, split, created_by,"
        " created_at, updated_at, version, deleted, seq, shares, created_seq)"
        " FROM STDIN",
        "UPDATE expenses SET description = v.description, amount = v.amount,"
        " currency = v.currency, exchange_rate = v.exchange_rate,"
        " amount_in_group_currency = v.amg, date = v.date, category = v.category,"
        " paid_by = v.paid_by, split = v.split, updated_at = v.updated_at,"
        " version = v.version, deleted = v.deleted, seq = v.seq, shares = v.shares"
        " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[],"
        " $6::text[], $7::bigint[], $8::date[], $9::text[], $10::json[], $11::json[],"
        " $12::uuid[], $13::timestamptz[], $14::timestamptz[], $15::bigint[],"
        " $16::boolean[], $17::bigint[], $18::json[])"
        " AS v(id, group_id, description, amount, currency, exchange_rate, amg, date,"
        " category, paid_by, split, created_by, created_at, updated_at, version, deleted,"
        " seq, shares) WHERE expenses.id = v.id",
        expense_state,
        expense_row_of,
    };
    return write_rows(b, b->n_expenses, &kind);
}

/* Where a payment row goes, as for expenses: one COPY row (new), or one
   element of each column array of the update (the same columns, in order). */
#define PAYMENT_COLUMNS 13

static void payment_row(const struct batch *b, const struct payment *py, struct row_sink *s)
{
    const json_t *c = py->content;
    sink_text(s, py->id);
    sink_text(s, py->group_id);
    sink_text(s, b->members[py->from].id);
    sink_text(s, b->members[py->to].id);
    sink_int(s, py->amount);
    sink_text(s, jstr(c, "date"));
    sink_text(s, jstr(c, "note"));
    sink_text(s, py->created_by);
    sink_text(s, py->created_at);
    sink_text(s, py->updated_at);
    sink_int(s, py->version);
    sink_text(s, py->deleted ? "t" : "f");
    sink_int(s, py->seq);
}

static int payment_state(const struct batch *b, size_t i)
{
    const struct payment *py = &b->payments[i];
    return !py->touched ? 0 : py->stored ? ROW_STORED : ROW_NEW;
}

static void payment_row_of(const struct batch *b, size_t i, struct row_sink *s)
{
    payment_row(b, &b->payments[i], s);
}

static int write_payments(struct batch *b)
{
    static const struct row_kind kind = {
        PAYMENT_COLUMNS,
        "COPY payments (id, group_id, from_member, to_member, amount, date, note,"
        " created_by, created_at, updated_at, version, deleted, seq) FROM STDIN",
        "UPDATE payments SET from_member = v.from_member, to_member = v.to_member,"
        " amount = v.amount, date = v.date, note = v.note, updated_at = v.updated_at,"
        " version = v.version, deleted = v.deleted, seq = v.seq"
        " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[],"
        " $6::date[], $7::text[], $8::uuid[], $9::timestamptz[], $10::timestamptz[],"
        " $11::bigint[], $12::boolean[], $13::bigint[])"
        " AS v(id, group_id, from_member, to_member, amount, date, note, created_by,"
        " created_at, updated_at, version, deleted, seq) WHERE payments.id = v.id",
        payment_state,
        payment_row_of,
    };
    return write_rows(b, b->n_payments, &kind);
}

static int write_balances_and_groups(struct batch *b)
{
    struct pgarr gid = {0}, mid = {0}, paid = {0}, owed = {0}, sent = {0}, recv = {0};
    struct pgarr g = {0}, ver = {0}, seq = {0}, head = {0};
    int rc = -1;
    PGresult *res;

    for (size_t i = 0; i < b->n_members; i++) {
        const struct member *m = &b->members[i];
        if (!m->touched)
            continue;
        arr_text(&gid, m->group_id);
        arr_text(&mid, m->id);
        arr_int(&paid, m->paid);
        arr_int(&owed, m->owed);
        arr_int(&sent, m->sent);
        arr_int(&recv, m->received);
    }
    for (size_t i = 0; i < b->n_groups; i++) {
        if (!b->groups[i].touched)
            continue;
        arr_text(&g, b->groups[i].id);
        arr_int(&ver, b->groups[i].version);
        arr_int(&seq, b->groups[i].last_seq);
        char hex[CHAIN_HEX_SIZE];
        chain_hex(b->groups[i].head, hex);
        arr_text(&head, hex);
    }
    if (mid.n) {
        const char *p[6] = {arr_done(&gid),  arr_done(&mid),  arr_done(&paid),
                            arr_done(&owed), arr_done(&sent), arr_done(&recv)};
        res = q(b,
                "INSERT INTO balances (group_id, member_id, paid, owed, sent, received)"
                " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[],"
                " $5::bigint[], $6::bigint[]) ON CONFLICT (group_id, member_id) DO UPDATE"
                " SET paid = EXCLUDED.paid, owed = EXCLUDED.owed, sent = EXCLUDED.sent,"
                " received = EXCLUDED.received",
                6, p);
        if (!res)
            goto out;
        PQclear(res);
    }
    if (g.n) {
        const char *p[4] = {arr_done(&g), arr_done(&ver), arr_done(&seq), arr_done(&head)};
        res = q(b,
                "UPDATE groups SET version = v.version, last_seq = v.last_seq,"
                " head_hash = decode(v.head, 'hex') FROM unnest($1::uuid[], $2::bigint[],"
                " $3::bigint[], $4::text[]) AS v(id, version, last_seq, head)"
                " WHERE groups.id = v.id",
                4, p);
        if (!res)
            goto out;
        PQclear(res);
    }
    rc = 0;
out:
    arr_free(&gid), arr_free(&mid), arr_free(&paid), arr_free(&owed), arr_free(&sent);
    arr_free(&recv), arr_free(&g), arr_free(&ver), arr_free(&seq), arr_free(&head);
    return rc;
}

/* --- step 5: publish -------------------------------------------------------------------- */

/* Next stream id after id ("ms-seq" -> "ms-(seq+1)"), for XTRIM MINID. */
static void next_id(const char *id, char *out, size_t size)
{
    unsigned long long ms = 0, seq = 0;
    if (sscanf(id, "%llu-%llu", &ms, &seq) == 2)
        snprintf(out, size, "%llu-%llu", ms, seq + 1);
    else
        snprintf(out, size, "%s", id);
}

/* A pipeline of commands given as argument vectors (no format strings to
   parse), with what the replies are for. Script calls go by digest; each
   awaited reply has a slot in calls, in order, holding the call as sent when
   it was a script's (to send again after NOSCRIPT), else nothing. */
struct pipe_call {
    struct script *script; /* NULL: not a script call, or sent again already */
    char *cmd;             /* owned: the EVALSHA as formatted */
    size_t len;
};
struct pipe {
    redisContext *rd;
    size_t sent;
    struct pipe_call *calls; /* owned ring of cap slots: sent from head on */
    size_t head, cap;
};

static void pipe_push(struct pipe *pp, struct script *s, char *cmd, size_t len)
{
    if (pp->sent == pp->cap) {
        size_t cap = pp->cap ? 2 * pp->cap : 16;
        struct pipe_call *calls = xcalloc(cap, sizeof(*calls));
        for (size_t i = 0; i < pp->sent; i++)
            calls[i] = pp->calls[(pp->head + i) % pp->cap];
        free(pp->calls);
        pp->calls = calls;
        pp->cap = cap;
        pp->head = 0;
    }
    pp->calls[(pp->head + pp->sent) % pp->cap] = (struct pipe_call){s, cmd, len};
    pp->sent++;
}

static void pipe_cmd(struct pipe *pp, int argc, const char **argv, const size_t *lens)
{
    redisAppendCommandArgv(pp->rd, argc, argv, lens);
    pipe_push(pp, NULL, NULL, 0);
}

/* EVALSHA of s with argc arguments (numkeys, keys, args; C strings). */
static void pipe_script(struct pipe *pp, struct script *s, int argc, const char **argv)
{
    const char **full = xcalloc((size_t)argc + 2, sizeof(*full));
    char *cmd = NULL;
    full[0] = "EVALSHA";
    full[1] = script_sha(s);
    memcpy(full + 2, argv, (size_t)argc * sizeof(*argv));
    int len = redisFormatCommandArgv(&cmd, argc + 2, full, NULL);
    free(full);
    if (len < 0)
        abort(); /* hiredis's allocation failed */
    redisAppendFormattedCommand(pp->rd, cmd, (size_t)len);
    pipe_push(pp, s, cmd, (size_t)len);
}

/* The next reply (NULL when the connection failed: the caller drops it). A
   script call Redis no longer knew (NOSCRIPT: it did not run) is sent again
   behind a SCRIPT LOAD, at the end of the pipeline (read the replies before
   sending what must follow it); its first reply is returned all the same. */
static redisReply *pipe_reply(struct pipe *pp)
{
    void *reply = NULL;
    if (redisGetReply(pp->rd, &reply) != REDIS_OK) {
        log_warn("redis: %s", pp->rd->errstr);
        return NULL;
    }
    struct pipe_call call = pp->calls[pp->head];
    pp->head = (pp->head + 1) % pp->cap;
    pp->sent--;
    redisReply *r = reply;
    if (r->type == REDIS_REPLY_ERROR && call.script && script_missing(r->str, r->len)) {
        const char *load[3] = {"SCRIPT", "LOAD", call.script->text};
        log_info("redis: script %.12s not loaded: loading it", call.script->sha);
        pipe_cmd(pp, 3, load, NULL);
        redisAppendFormattedCommand(pp->rd, call.cmd, call.len);
        pipe_push(pp, NULL, NULL, 0);
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_warn("redis: %s", r->str);
    }
    free(call.cmd);
    return reply;
}

/* Free what the calls still awaited hold. */
static void pipe_release(struct pipe *pp)
{
    for (size_t i = 0; i < pp->sent; i++)
        free(pp->calls[(pp->head + i) % pp->cap].cmd);
    free(pp->calls);
    memset(pp, 0, sizeof(*pp));
}

/* KEYS[1] a waited event's status hash; ARGV[1] its ttl (s), then field,
   value... One step: the old status goes first, so that when Redis refuses
   the outcome (out of memory) it holds no stale "queued" either, and the
   waiter and GET /events ask PostgreSQL. */
static const char outcome_lua[] = "redis.call('DEL', KEYS[1])\n"
                                  "local r = redis.pcall('HSET', KEYS[1], unpack(ARGV, 2))\n"
                                  "if type(r) == 'table' and r.err then\n"
                                  "  return 0\n"
                                  "end\n"
                                  "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
                                  "return 1\n";
static struct script outcome_script = SCRIPT_INIT(outcome_lua);

/* After the commit, in one pipeline: each touched group's view (version
   compare-and-set); the outcome of each event a request waits on (its
   status hash, for a minute); then one command each for the whole batch:
   DEL of the other finished events' status hashes (PostgreSQL answers for
   them from now on: Redis keeps only what is in flight), PUBLISH naming
   every finished event, XACK, and the trim below the last entry. */
static void publish(struct batch *b, const struct stream_entry *entries)
{
    struct worker *w = b->w;
    char stream[64], minid[48];
    char(*keys)[96] = xcalloc(b->n_ev + 1, sizeof(*keys));
    char **bodies = xcalloc(b->n_ev + 1, sizeof(*bodies));
    const char **del = xcalloc(b->n_ev + 2, sizeof(*del));
    const char **ack = xcalloc(b->n_ev + 3, sizeof(*ack));
    struct strbuf done = {0};
    struct pipe pp = {0};
    size_t n_ack = 0, n_del = 0;
    int ok = 1;

    if (worker_redis_ensure(w) != 0)
        goto out; /* unacked: redelivered, recognised as recorded, published then */
    pp.rd = w->rd;
    for (size_t i = 0; i < b->n_groups; i++) {
        const struct group *g = &b->groups[i];
        struct view v;
        struct view_cmd cmd;
        struct view_member *vm = xcalloc(g->n_members + 1, sizeof(*vm));
        for (size_t k = 0; k < g->n_members; k++) {
            const struct member *m = &b->members[g->first_member + k];
            vm[k].id = m->id;
            vm[k].name = m->name;
            vm[k].user_id = m->user_id;
            vm[k].paid = m->paid;
            vm[k].owed = m->owed;
            vm[k].sent = m->sent;
            vm[k].received = m->received;
        }
        if (view_build(g->id, g->currency, g->version, vm, g->n_members, &v) == 0) {
            view_cache_command(&cmd, g->id, g->currency, g->version, &v, vm, g->n_members);
            pipe_script(&pp, &view_cache_script, cmd.argc - VIEW_CMD_ARGS,
                        cmd.argv + VIEW_CMD_ARGS);
            view_cmd_release(&cmd);
            view_release(&v);
        }
        free(vm);
    }
    keys_stream(stream, sizeof(stream), b->p);
    del[n_del++] = "DEL";
    for (size_t i = 0; i < b->n_ev; i++) {
        struct event *ev = &b->ev[i];
        if (ev->outcome == OUT_DEFERRED)
            continue; /* pending: nothing to say yet */
        if (ev->outcome == OUT_MALFORMED) {
            const char *argv[11] = {"XADD",
                                    KEYS_DEAD_STREAM,
                                    "*",
                                    "stream",
                                    stream,
                                    "entry",
                                    entries[i].id,
                                    "event",
                                    entries[i].event,
                                    "error",
                                    "not a ledger event"};
            size_t lens[11];
            for (int k = 0; k < 11; k++)
                lens[k] = strlen(argv[k]);
            lens[8] = entries[i].event_len;
            pipe_cmd(&pp, 11, argv, lens);
            continue;
        }
        /* Applied, rejected, or recorded by an earlier delivery whose publish
           was lost: PostgreSQL holds the outcome either way. A request that
           waits finds it here for a minute. */
        keys_fmt(keys[i], sizeof(keys[i]), "event", ev->id);
        strbuf_add(&done, done.len ? " " : "");
        strbuf_add(&done, ev->id);
        if (ev->idem_record) {
            /* Rejected for its key: the api's record of the key (made when it
               accepted this event) names the original again, so later
               retries answer like the first request. */
            char key[160];
            char *rec = json_dump_compact(ev->idem_record);
            const char *argv[5] = {"SET", keys_idem(key, sizeof(key), ev->actor, ev->idem_sha), rec,
                                   "XX", "KEEPTTL"};
            pipe_cmd(&pp, 5, argv, NULL);
            free(rec);
        }
        if (ev->wait && (ev->outcome == OUT_APPLIED || ev->outcome == OUT_REJECTED)) {
            int applied = ev->outcome == OUT_APPLIED;
            char version[24] = "";
            bodies[i] = json_dump_compact(applied ? ev->result : ev->problem);
            /* The resource's version beside it: the api sends the resource as
               it is, with its ETag, without parsing it. */
            json_t *jv = applied ? json_object_get(ev->result, "version") : NULL;
            if (json_is_integer(jv))
                snprintf(version, sizeof(version), "%lld", (long long)json_integer_value(jv));
            const char *argv[11] = {"1",
                                    keys[i],
                                    KEYS_STR(KEYS_EVENT_RESULT_TTL_S),
                                    "status",
                                    applied ? "applied" : "rejected",
                                    applied ? "applied_at" : "problem",
                                    applied ? b->applied_at : bodies[i],
                                    "resource",
                                    bodies[i],
                                    "version",
                                    version};
            pipe_script(&pp, &outcome_script, !applied ? 7 : version[0] ? 11 : 9, argv);
            continue;
        }
        del[n_del++] = keys[i];
    }
    /* The views and outcomes must be in Redis before the announcement: a
       waiter reads its outcome, and then the view, once it sees its event
       named. A script call Redis answers NOSCRIPT is sent again here, so
       their replies are read before the rest goes out (one round trip). */
    while (ok && pp.sent > 0) {
        redisReply *r = pipe_reply(&pp);
        ok = r != NULL;
        freeReplyObject(r);
    }
    if (!ok)
        goto fail;
    if (n_del > 1)
        pipe_cmd(&pp, (int)n_del, del, NULL);
    if (done.len) {
        const char *argv[3] = {"PUBLISH", KEYS_DONE_CHANNEL, done.buf};
        pipe_cmd(&pp, 3, argv, NULL);
    }
    ack[n_ack++] = "XACK";
    ack[n_ack++] = stream;
    ack[n_ack++] = KEYS_CONSUMER_GROUP;
    for (size_t i = 0; i < b->n_ev; i++)
        if (b->ev[i].outcome != OUT_DEFERRED)
            ack[n_ack++] = entries[i].id;
    if (n_ack > 3)
        pipe_cmd(&pp, (int)n_ack, ack, NULL);
    /* Everything up to the last entry is applied and acknowledged now (a
       partition is read in order by its one owner): trim below it. Not while
       entries of a locked group wait, pending, below it. */
    next_id(entries[b->n_ev - 1].id, minid, sizeof(minid));
    if (b->defer->n == 0) {
        const char *argv[4] = {"XTRIM", stream, "MINID", minid};
        pipe_cmd(&pp, 4, argv, NULL);
    }
    while (ok && pp.sent > 0) {
        redisReply *r = pipe_reply(&pp);
        ok = r != NULL;
        freeReplyObject(r);
    }
fail:
    if (!ok) {
        redisFree(w->rd);
        w->rd = NULL;
    }
    pipe_release(&pp);
out:
    for (size_t i = 0; i < b->n_ev; i++)
        free(bodies[i]);
    free(bodies);
    free(keys);
    free(del);
    free(ack);
    free(done.buf);
}

/* --- the batch ----------------------------------------------------------------------------- */

static void batch_release(struct batch *b)
{
    for (size_t i = 0; i < b->n_ev; i++) {
        json_decref(b->ev[i].root);
        json_decref(b->ev[i].after);
        json_decref(b->ev[i].result);
        json_decref(b->ev[i].problem);
        json_decref(b->ev[i].before);
        json_decref(b->ev[i].idem_record);
    }
    for (size_t i = 0; i < b->n_members; i++) {
        free(b->members[i].name);
        free(b->members[i].user_id);
    }
    for (size_t i = 0; i < b->n_expenses; i++) {
        json_decref(b->expenses[i].content);
        free(b->expenses[i].shares);
    }
    for (size_t i = 0; i < b->n_payments; i++)
        json_decref(b->payments[i].content);
    idx_free(&b->pidx);
    idx_free(&b->gidx);
    idx_free(&b->midx);
    idx_free(&b->xidx);
    free(b->ev);
    free(b->groups);
    free(b->members);
    free(b->expenses);
    free(b->payments);
}

/* The last step before COMMIT, so that the partition's row stays locked only
   for that moment: our token must be above every token PostgreSQL saw for the
   partition, or equal to one it saw from us. Records the newest entry id
   applied. 0, or -1 (fenced off: the lease is given back and taken again with
   a newer token). */
static int fence(struct batch *b)
{
    char pbuf[16], tbuf[24], ms[24] = "0", seq[24] = "0";
    unsigned long long ems, eseq;
    snprintf(pbuf, sizeof(pbuf), "%u", b->p);
    snprintf(tbuf, sizeof(tbuf), "%lld", (long long)b->w->token[b->p]);
    if (sscanf(b->last_entry, "%llu-%llu", &ems, &eseq) == 2) {
        snprintf(ms, sizeof(ms), "%llu", ems);
        snprintf(seq, sizeof(seq), "%llu", eseq);
    }
    const char *fp[5] = {pbuf, tbuf, b->w->name, ms, seq};
    PGresult *r = q(b,
                    "INSERT INTO partitions AS t (p, token, holder, last_ms, last_seq)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (p) DO UPDATE"
                    " SET token = EXCLUDED.token, holder = EXCLUDED.holder,"
                    " last_ms = CASE WHEN (t.last_ms, t.last_seq) >= (EXCLUDED.last_ms,"
                    " EXCLUDED.last_seq) THEN t.last_ms ELSE EXCLUDED.last_ms END,"
                    " last_seq = CASE WHEN (t.last_ms, t.last_seq) >= (EXCLUDED.last_ms,"
                    " EXCLUDED.last_seq) THEN t.last_seq ELSE EXCLUDED.last_seq END"
                    " WHERE t.token < EXCLUDED.token"
                    " OR (t.token = EXCLUDED.token AND t.holder = EXCLUDED.holder)",
                    5, fp);
    if (!r)
        return -1;
    int ok = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (!ok) {
        int64_t floor = 0;
        r = q(b, "SELECT token FROM partitions WHERE p = $1", 1, fp);
        if (r) {
            if (PQntuples(r) == 1)
                floor = atoll(PQgetvalue(r, 0, 0));
            PQclear(r);
        }
        log_warn("apply: partition %u fenced off (token %s is stale, PostgreSQL has %lld)", b->p,
                 tbuf, (long long)floor);
        lease_fenced(b->w, b->p, floor);
        return -1;
    }
    return 0;
}

/* Apply entries as one batch. 0 on commit; -1 otherwise, with *refused set
   when PostgreSQL refused a statement (as opposed to a lost connection or a
   lost lease) and the reason in why. */
static int apply_once(struct worker *w, unsigned p, const struct stream_entry *entries, size_t n,
                      struct gset *defer, int *refused, char *why, size_t why_size)
{
    struct batch b;
    int rc = -1;
    PGresult *r;

    memset(&b, 0, sizeof(b));
    b.w = w;
    b.p = p;
    b.defer = defer;
    b.n_ev = n;
    b.ev = xcalloc(n, sizeof(*b.ev));
    for (size_t i = 0; i < n; i++) {
        struct event *ev = &b.ev[i];
        ev->text = entries[i].event;
        ev->text_len = entries[i].event_len;
        ev->wait = entries[i].wait;
        ev->root = json_loadb(entries[i].event, entries[i].event_len, 0, NULL);
        ev->outcome = ev->root && parse_event(ev) == 0 ? OUT_APPLIED : OUT_MALFORMED;
        if (ev->outcome == OUT_MALFORMED)
            log_error("apply: entry %s of partition %u is not a ledger event", entries[i].id, p);
    }
    if (!w->pg || PQstatus(w->pg) != CONNECTION_OK)
        goto out;
    if (exec0(&b, "BEGIN") != 0)
        goto out;
    /* The groups first: once their rows are ours, no other transaction can be
       recording their events, and what load_recorded finds is final. */
    if (load_groups(&b) != 0 || load_recorded(&b) != 0 || claim_keys(&b) != 0 ||
        load_expenses(&b) != 0)
        goto rollback;
    decide(&b);
    if (b.broken)
        goto rollback;
    for (size_t i = 0; i < n; i++)
        if (b.ev[i].outcome != OUT_DEFERRED)
            snprintf(b.last_entry, sizeof(b.last_entry), "%s", entries[i].id);
    if (write_events(&b) != 0 || write_expenses(&b) != 0 || write_payments(&b) != 0 ||
        write_balances_and_groups(&b) != 0 || fence(&b) != 0)
        goto rollback;
    r = q(&b, "SELECT " TS_SQL("now()"), 0, NULL);
    if (!r)
        goto rollback;
    snprintf(b.applied_at, sizeof(b.applied_at), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (exec0(&b, "COMMIT") != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (b.ev[i].outcome == OUT_APPLIED)
            w->applied++;
        else if (b.ev[i].outcome == OUT_DUPLICATE)
            w->duplicates++;
        else if (b.ev[i].outcome != OUT_DEFERRED)
            w->rejected++;
    }
    publish(&b, entries);
    rc = 0;
    goto out;
rollback:
    if (b.error[0]) {
        log_warn("apply: partition %u batch of %zu not applied: %s", p, n, b.error);
        *refused = !b.broken;
        snprintf(why, why_size, "%s", b.error);
    }
    exec0(&b, "ROLLBACK");
out:
    batch_release(&b);
    arena_reset();
    if (rc != 0 && w->pg && PQstatus(w->pg) != CONNECTION_OK) {
        PQfinish(w->pg);
        w->pg = NULL;
    }
    return rc;
}

/* An entry PostgreSQL refuses even alone: record it as rejected, keep a copy
   in the dead-letter stream, tell its waiter, and acknowledge it, so it never
   holds up the partition. 0, or -1 if that could not be recorded. */
int apply_dead_letter(struct worker *w, unsigned p, const struct stream_entry *entry,
                      const char *why)
{
    struct batch b;
    struct event ev;
    char stream[64], key[96], detail[320];
    int rc = -1;

    memset(&b, 0, sizeof(b));
    memset(&ev, 0, sizeof(ev));
    b.w = w;
    ev.text = entry->event;
    ev.text_len = entry->event_len;
    ev.root = json_loadb(entry->event, entry->event_len, 0, NULL);
    snprintf(detail, sizeof(detail), "the event could not be applied: %s", why);
    for (char *c = detail; *c; c++)
        if (*c == '\n')
            *c = ' ';
    log_error("apply: partition %u entry %s dead-lettered: %s", p, entry->id, why);
    if (ev.root && parse_event(&ev) == 0) {
        json_t *problem = problem_new(PROBLEM_INTERNAL, detail, NULL);
        char *text = json_dump_compact(problem);
        const char *params[6] = {ev.id, ev.group_id, ev.type, ev.actor, ev.accepted_at, text};
        PGresult *r = q(&b,
                        "INSERT INTO rejected_events (event_id, group_id, type, actor,"
                        " accepted_at, problem) VALUES ($1, $2, $3, $4, $5, $6)"
                        " ON CONFLICT (event_id) DO NOTHING",
                        6, params);
        if (r)
            PQclear(r);
        if (!r || worker_redis_ensure(w) != 0) {
            free(text);
            json_decref(problem);
            goto out;
        }
        keys_fmt(key, sizeof(key), "event", ev.id);
        /* Recorded as rejected: PostgreSQL answers for it from now on. */
        redisReply *rr = worker_redis(w, "DEL %s", key);
        if (rr)
            freeReplyObject(rr);
        rr = worker_redis(w, "PUBLISH " KEYS_DONE_CHANNEL " %s", ev.id);
        if (rr)
            freeReplyObject(rr);
        free(text);
        json_decref(problem);
    }
    keys_stream(stream, sizeof(stream), p);
    redisReply *rr =
        worker_redis(w, "XADD " KEYS_DEAD_STREAM " * stream %s entry %s event %b error %s", stream,
                     entry->id, entry->event, entry->event_len, why);
    if (!rr)
        goto out;
    freeReplyObject(rr);
    rr = worker_redis(w, "XACK %s " KEYS_CONSUMER_GROUP " %s", stream, entry->id);
    if (!rr)
        goto out;
    freeReplyObject(rr);
    w->dead++;
    rc = 0;
out:
    json_decref(ev.root);
    arena_reset();
    return rc;
}

int apply_batch(struct worker *w, unsigned p, const struct stream_entry *entries, size_t n,
                struct gset *defer)
{
    struct part *pt = &w->part[p];
    int refused = 0;
    char why[256] = "";

    if (apply_once(w, p, entries, n, defer, &refused, why, sizeof(why)) == 0)
        return 0;
    if (!refused)
        return -1; /* not the entries' fault: they stay pending */
    if (n == 1) {
        /* Refused alone, for its own content. Only that counts against it. */
        if (strcmp(pt->refused_id, entries[0].id) != 0) {
            snprintf(pt->refused_id, sizeof(pt->refused_id), "%s", entries[0].id);
            pt->refusals = 0;
        }
        if (++pt->refusals < w->cfg.max_deliveries)
            return -1;
        pt->refused_id[0] = '\0';
        pt->refusals = 0;
        return apply_dead_letter(w, p, entries, why);
    }
    /* Isolate the refused entry: one at a time, in order. */
    for (size_t i = 0; i < n; i++)
        if (apply_batch(w, p, &entries[i], 1, defer) != 0)
            return -1;
    return 0;
}

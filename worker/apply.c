/*
 * apply: one batch of events (one read's, of one or several partitions) in one
 * PostgreSQL transaction.
 *
 * A batch costs a fixed number of round trips, whatever its size: BEGIN goes
 * out with the first load statement, and the writes, the fence and COMMIT
 * in one pipeline (batch_queue); every statement runs prepared, parsed once
 * per connection. The steps run here in order; load.c,
 * write.c and publish.c hold the bigger ones, batch.h the state they share:
 *
 *   1. lock       (load.c) the touched groups, skipping rows someone else
 *                 holds (those groups' events stay pending, see below);
 *   2. load       (load.c) which events are already recorded, each new
 *                 event's Idempotency-Key (claimed: a key an earlier event
 *                 holds rejects the later one), each group (with the head of
 *                 its hash chain) and its members with balances into a
 *                 projection (shared/projection.h), and there too the
 *                 expenses and payments the batch replaces, deletes or
 *                 reverts (locked the same way);
 *   3. decide     in memory, event by event in stream order, through
 *                 projection_apply on its group's projection: the ledger's
 *                 rules, the very code replay runs (validated with the same
 *                 shared code the api ran, If-Match and membership checked,
 *                 balances moved with overflow and range checks); then
 *                 numbered in its group and chained (shared/chain.h); a
 *                 refused event is rejected alone;
 *   4. write      (write.c) what the projections marked dirty, queued: bulk
 *                 statements over column arrays (events with their hashes,
 *                 rejections, new and changed expenses and payments,
 *                 balances, group versions and heads); many new rows of a
 *                 table go in with COPY at once instead;
 *   5. fence      last, so that the partitions' rows are locked only for the
 *                 moment before COMMIT: each lease token must still be the
 *                 newest PostgreSQL has seen for its partition; queued, and
 *                 failing by itself when it is not (the COMMIT is already
 *                 sent behind it);
 *   6. commit     sent with the queued writes and the fence; then
 *                 (publish.c) the cache and, one command each for the
 *                 batch, the statuses' deletion and the notification; one
 *                 ack and one trim for each partition of the batch.
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
#include "batch.h"

#include "json.h"
#include "keys.h"
#include "log.h"
#include "pgutil.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- small containers ----------------------------------------------------------------- */

static size_t idx_hash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return (size_t)h;
}

void idx_init(struct idx *x, size_t n)
{
    x->cap = 16;
    while (x->cap < n * 2)
        x->cap *= 2;
    x->keys = xcalloc(x->cap, sizeof(*x->keys));
    x->vals = xcalloc(x->cap, sizeof(*x->vals));
}

size_t idx_get(const struct idx *x, const char *k)
{
    for (size_t i = idx_hash(k) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
        if (!x->keys[i])
            return SIZE_MAX;
        if (strcmp(x->keys[i], k) == 0)
            return x->vals[i];
    }
}

void idx_put(struct idx *x, const char *k, size_t v)
{
    size_t i = idx_hash(k) & (x->cap - 1);
    while (x->keys[i] && strcmp(x->keys[i], k) != 0)
        i = (i + 1) & (x->cap - 1);
    x->keys[i] = k;
    x->vals[i] = v;
}

void idx_free(struct idx *x)
{
    free(x->keys);
    free(x->vals);
    memset(x, 0, sizeof(*x));
}

/* --- the batch's statements and entries ----------------------------------------------------- */

/* Decode entry ev's event (event_decode); its fields must also have their
   canonical form to be chained (chain.h). 0, or -1: not a ledger event, and
   why in err. */
static int entry_decode(struct entry *ev, char *err, size_t err_size)
{
    if (event_decode(ev->text, ev->text_len, &ev->e, err, err_size) != 0)
        return -1;
    struct chain_event ce = {ev->e.group_id, ev->e.id,          event_type_name(ev->e.type),
                             ev->e.actor,    ev->e.accepted_at, 1,
                             ev->text,       ev->text_len};
    return chain_check(&ce, err, err_size);
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

void batch_failed(struct batch *b, PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(b->error, sizeof(b->error), "%s",
             res ? PQresultErrorMessage(res) : PQerrorMessage(b->w->pg));
    b->broken = PQstatus(b->w->pg) != CONNECTION_OK || !apply_refused_for_content(state);
    if (pg_failover_error(res))
        b->w->pg_reconnect = 1; /* a standby now, or going away: find the primary again */
    PQclear(res);
}

/* A statement batch_queue holds: sent with the next batch_query. */
struct queued {
    const char *sql; /* static */
    int n;
    char **params;   /* owned copies (NULL elements: SQL NULL) */
    PGresult **keep; /* where its result goes; NULL: cleared */
};

void batch_queue(struct batch *b, const char *sql, int n, const char *const *params,
                 PGresult **keep)
{
    if (b->n_queue == b->cap_queue) {
        b->cap_queue = b->cap_queue ? 2 * b->cap_queue : 8;
        b->queue = xrealloc(b->queue, b->cap_queue * sizeof(*b->queue));
    }
    struct queued *q = &b->queue[b->n_queue++];
    q->sql = sql;
    q->n = n;
    q->params = n ? xcalloc((size_t)n, sizeof(*q->params)) : NULL;
    for (int i = 0; i < n; i++)
        q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    q->keep = keep;
}

static void queue_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n_queue; i++) {
        for (int k = 0; k < b->queue[i].n; k++)
            free(b->queue[i].params[k]);
        free(b->queue[i].params);
    }
    b->n_queue = 0;
}

/* A statement's result: kept, or cleared; the first failure recorded. The
   fence's own error (FENCE_SQLSTATE) is no refusal of what the batch wrote:
   the batch is retried once the lease is taken again. */
#define FENCE_SQLSTATE "55F01"

static void queued_result(struct batch *b, const struct queued *q, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (q->keep)
            *q->keep = r;
        else
            PQclear(r);
        return;
    }
    if (st == PGRES_FATAL_ERROR && !b->error[0]) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, FENCE_SQLSTATE) == 0) {
            snprintf(b->error, sizeof(b->error), "%s", PQresultErrorMessage(r));
            b->fenced = 1;
            b->broken = 1;
            PQclear(r);
            return;
        }
        /* A prepared statement the session lost, or whose cached plan a
           schema change (an upgrade's migration) invalidated: a new session
           prepares everything again. */
        if (state && (strcmp(state, "26000") == 0 || strcmp(state, "0A000") == 0))
            b->lost = 1;
        batch_failed(b, r);
        return;
    }
    if (!b->error[0]) /* aborted without a failure of its own: cannot happen */
        batch_failed(b, r);
    else
        PQclear(r);
}

/* The slot of sql among the statements prepared on the connection, or -1. */
static int prepared_slot(const struct worker *w, const char *sql)
{
    for (int i = 0; i < WORKER_PREPARED_MAX; i++)
        if (w->prepared[i] == sql)
            return i;
    return -1;
}

static int free_slot(const struct worker *w)
{
    return prepared_slot(w, NULL);
}

/* What one message of the pipeline answers: a queued statement, or the
   preparation of a slot. */
struct expect {
    const struct queued *q; /* NULL: a preparation */
    int slot;
};

/* Send every queued statement in one pipeline and read their results: one
   round trip. Each statement runs prepared (named by its slot; prepared in
   the same pipeline, before it, the first time this connection sees it):
   PostgreSQL parses and plans it once per connection instead of every batch.
   0, or -1 (the first failure in b->error; the statements after it were not
   run; the transaction is left failed, for ROLLBACK). */
static int queue_run(struct batch *b)
{
    struct worker *w = b->w;
    PGconn *pg = w->pg;
    struct expect *ex = xcalloc(2 * b->n_queue, sizeof(*ex));
    size_t sent = 0, k = 0;
    int after_result = 0;
    char name[32];

    b->error[0] = '\0';
    if (PQenterPipelineMode(pg) != 1)
        goto lost;
    for (size_t i = 0; i < b->n_queue; i++) {
        const struct queued *q = &b->queue[i];
        int slot = prepared_slot(w, q->sql);
        if (slot < 0 && (slot = free_slot(w)) >= 0) {
            snprintf(name, sizeof(name), "splitter_%d", slot);
            if (PQsendPrepare(pg, name, q->sql, q->n, NULL) != 1)
                goto lost;
            w->prepared[slot] = q->sql; /* given back if the preparation fails */
            ex[sent++] = (struct expect){NULL, slot};
        }
        int ok;
        if (slot >= 0) {
            snprintf(name, sizeof(name), "splitter_%d", slot);
            ok = PQsendQueryPrepared(pg, name, q->n, (const char *const *)q->params, NULL, NULL, 0);
        } else { /* every slot taken: parsed each time */
            ok = PQsendQueryParams(pg, q->sql, q->n, NULL, (const char *const *)q->params, NULL,
                                   NULL, 0);
        }
        if (ok != 1)
            goto lost;
        ex[sent++] = (struct expect){q, slot};
    }
    if (PQpipelineSync(pg) != 1)
        goto lost;
    /* Each message's result (followed by a NULL), then the sync's. */
    for (;;) {
        PGresult *r = PQgetResult(pg);
        if (!r) {
            if (!after_result)
                goto lost;
            after_result = 0;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (k == sent) {
            PQclear(r);
            goto lost;
        }
        const struct expect *e = &ex[k++];
        if (e->q) {
            queued_result(b, e->q, r);
        } else if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
        } else {
            w->prepared[e->slot] = NULL; /* not prepared after all */
            if (PQresultStatus(r) == PGRES_FATAL_ERROR && !b->error[0])
                batch_failed(b, r);
            else
                PQclear(r);
        }
        after_result = 1;
    }
    if (k != sent || PQexitPipelineMode(pg) != 1)
        goto lost;
    free(ex);
    queue_clear(b);
    return b->error[0] ? -1 : 0;
lost:
    /* The connection is out of step: it is dropped (apply_once). */
    if (!b->error[0])
        batch_failed(b, NULL);
    b->broken = 1;
    b->lost = 1;
    free(ex);
    queue_clear(b);
    return -1;
}

int batch_flush(struct batch *b)
{
    return b->n_queue ? queue_run(b) : 0;
}

PGresult *batch_query(struct batch *b, const char *sql, int n, const char *const *params)
{
    PGresult *res = NULL;
    batch_queue(b, sql, n, params, &res);
    if (queue_run(b) == 0)
        return res;
    PQclear(res);
    return NULL;
}

static int exec0(struct batch *b, const char *sql)
{
    PGresult *r = batch_query(b, sql, 0, NULL);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

void entry_reject(struct entry *ev, enum problem_code code, const char *detail,
                  const struct fields *f)
{
    ev->outcome = OUT_REJECTED;
    json_decref(ev->problem);
    ev->problem = problem_new(code, detail, f);
}

/* --- step 3: decide ------------------------------------------------------------------- */

/* Chain applied event ev to its group's head (chain.h); entry_decode checked
   that its fields can be. */
static void link_event(struct batch *b, struct entry *ev, struct group *g)
{
    struct chain_event ce = {ev->e.group_id, ev->e.id,          event_type_name(ev->e.type),
                             ev->e.actor,    ev->e.accepted_at, ev->seq,
                             ev->text,       ev->text_len};
    char err[128];
    if (chain_link(g->head, &ce, ev->hash, err, sizeof(err)) != 0) {
        snprintf(b->error, sizeof(b->error), "event %s cannot be chained: %s", ev->e.id, err);
        b->broken = 1;
        return;
    }
    memcpy(g->head, ev->hash, sizeof(g->head));
}

/* The resource ev names as it stands in p (the expense or payment
   resource), or NULL when p has none. New reference. */
static json_t *resource_of(const struct projection *p, const struct entry *ev)
{
    if (event_kind_of(ev->e.type) == EVENT_EXPENSE) {
        const struct projection_expense *x = projection_expense(p, ev->e.target);
        return x ? projection_expense_resource(p, x) : NULL;
    }
    const struct projection_payment *py = projection_payment(p, ev->e.target);
    return py ? projection_payment_resource(p, py) : NULL;
}

/* Whether ev's resource is deleted in p now. */
static int deleted_in(const struct projection *p, const struct entry *ev)
{
    if (event_kind_of(ev->e.type) == EVENT_EXPENSE)
        return projection_expense(p, ev->e.target)->deleted;
    return projection_payment(p, ev->e.target)->deleted;
}

/* Apply ev to its group's projection, or reject it with the rules' reason;
   an applied event keeps for the audit log what a replacement or deletion
   changed (`before`) and what a replacement made (`after`: a creation's
   payload already says it, and a deletion made nothing), and for a waiting
   request the resource as it now stands. */
static void decide_event(struct batch *b, struct entry *ev, struct group *g)
{
    struct projection *p = &g->proj;
    struct projection_refusal why;
    int creating = event_action_of(ev->e.type) == EVENT_CREATED;
    json_t *before = creating ? NULL : resource_of(p, ev);

    if (projection_apply(p, &ev->e, p->last_seq + 1, &why) != 0) {
        json_decref(before);
        entry_reject(ev, why.code, why.detail, &why.f);
        return;
    }
    ev->outcome = OUT_APPLIED;
    ev->seq = p->last_seq;
    ev->before = before;
    if (!creating && !deleted_in(p, ev))
        ev->after = resource_of(p, ev);
    if (ev->wait)
        ev->result = ev->after ? json_incref(ev->after) : resource_of(p, ev);
    g->version++;
    g->touched = 1;
    link_event(b, ev, g);
}

static void decide(struct batch *b)
{
    for (size_t i = 0; i < b->n_ev; i++) {
        struct entry *ev = &b->ev[i];
        if (ev->outcome != OUT_APPLIED)
            continue;
        size_t gi = idx_get(&b->gidx, ev->e.group_id);
        if (gi == SIZE_MAX) {
            entry_reject(ev, PROBLEM_NOT_FOUND, "the group does not exist", NULL);
            continue;
        }
        decide_event(b, ev, &b->groups[gi]);
    }
}

/* --- the batch ----------------------------------------------------------------------------- */

static void batch_release(struct batch *b)
{
    for (size_t i = 0; i < b->n_ev; i++) {
        event_release(&b->ev[i].e);
        json_decref(b->ev[i].after);
        json_decref(b->ev[i].result);
        json_decref(b->ev[i].problem);
        json_decref(b->ev[i].before);
        json_decref(b->ev[i].idem_record);
    }
    for (size_t i = 0; i < b->n_groups; i++) {
        struct group *g = &b->groups[i];
        for (size_t k = 0; g->info && k < g->proj.n_members; k++) {
            free(g->info[k].name);
            free(g->info[k].user_id);
        }
        free(g->info);
        projection_release(&g->proj);
    }
    idx_free(&b->gidx);
    free(b->ev);
    free(b->parts);
    free(b->groups);
    queue_clear(b);
    free(b->queue);
    PQclear(b->fence_res);
}

/* The fence's parameters: the batch's partitions, our token of each, our
   name, and the newest entry id applied of each (ms and seq parts). */
struct fence_args {
    struct pgarr ps, tokens, ms, seqs;
    const char *p[5];
};

static void fence_args(struct batch *b, struct fence_args *a)
{
    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < b->n_parts; i++) {
        const struct bpart *bp = &b->parts[i];
        unsigned long long ems = 0, eseq = 0;
        if (!bp->done || sscanf(bp->done, "%llu-%llu", &ems, &eseq) != 2)
            ems = eseq = 0;
        arr_int(&a->ps, bp->p);
        arr_int(&a->tokens, b->w->token[bp->p]);
        arr_int(&a->ms, (int64_t)ems);
        arr_int(&a->seqs, (int64_t)eseq);
    }
    a->p[0] = arr_done(&a->ps);
    a->p[1] = arr_done(&a->tokens);
    a->p[2] = b->w->name;
    a->p[3] = arr_done(&a->ms);
    a->p[4] = arr_done(&a->seqs);
}

static void fence_args_free(struct fence_args *a)
{
    arr_free(&a->ps), arr_free(&a->tokens), arr_free(&a->ms), arr_free(&a->seqs);
}

/* The last statement before COMMIT, queued to go out with it, so that the
   partitions' rows stay locked only for that moment; one statement for
   every partition of the batch: our token must be above every token
   PostgreSQL saw for the partition, or equal to one it saw from us. Records
   the newest entry id applied of each, and answers the commit's time
   (b->fence_res). A partition fenced off fails the statement itself
   (fence_check, SQLSTATE FENCE_SQLSTATE), so the COMMIT after it in the
   pipeline never applies the batch. */
static void fence(struct batch *b)
{
    struct fence_args a;
    fence_args(b, &a);
    batch_queue(b,
                "WITH f AS (INSERT INTO partitions AS t (p, token, holder, last_ms, last_seq)"
                " SELECT x.p, x.token, $3, x.ms, x.seq FROM unnest($1::int[], $2::bigint[],"
                " $4::bigint[], $5::bigint[]) AS x(p, token, ms, seq)"
                " ORDER BY x.p ON CONFLICT (p) DO UPDATE"
                " SET token = EXCLUDED.token, holder = EXCLUDED.holder,"
                " last_ms = CASE WHEN (t.last_ms, t.last_seq) >= (EXCLUDED.last_ms,"
                " EXCLUDED.last_seq) THEN t.last_ms ELSE EXCLUDED.last_ms END,"
                " last_seq = CASE WHEN (t.last_ms, t.last_seq) >= (EXCLUDED.last_ms,"
                " EXCLUDED.last_seq) THEN t.last_seq ELSE EXCLUDED.last_seq END"
                " WHERE t.token < EXCLUDED.token"
                " OR (t.token = EXCLUDED.token AND t.holder = EXCLUDED.holder)"
                " RETURNING t.p)"
                " SELECT rfc3339(now()), fence_check((SELECT count(*) FROM f),"
                " cardinality($1::int[]))",
                5, a.p, &b->fence_res);
    fence_args_free(&a);
}

/* After a batch the fence refused (rolled back): each partition whose lease
   another holder's token fenced off is given back and taken again with a
   newer token. */
static void fence_settle(struct batch *b)
{
    struct fence_args a;
    fence_args(b, &a);
    PGresult *r = PQexecParams(b->w->pg,
                               "SELECT t.p, t.token FROM partitions t JOIN unnest($1::int[],"
                               " $2::bigint[]) AS x(p, token) ON x.p = t.p"
                               " WHERE NOT (t.token < x.token"
                               " OR (t.token = x.token AND t.holder = $3))",
                               3, NULL, a.p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (int k = 0; k < PQntuples(r); k++) {
            unsigned p = (unsigned)atoi(PQgetvalue(r, k, 0));
            int64_t floor = atoll(PQgetvalue(r, k, 1));
            if (p >= WORKER_MAX_PARTITIONS)
                continue;
            log_warn("apply: partition %u fenced off (token %lld is stale, PostgreSQL has %lld)", p,
                     (long long)b->w->token[p], (long long)floor);
            lease_fenced(b->w, p, floor);
        }
    }
    PQclear(r);
    fence_args_free(&a);
}

/* The partitions of entries, each once, in order of first appearance. */
static void batch_parts(struct batch *b, const struct stream_entry *entries, size_t n)
{
    b->parts = xcalloc(n ? n : 1, sizeof(*b->parts));
    for (size_t i = 0; i < n; i++) {
        struct bpart *bp = NULL;
        for (size_t k = b->n_parts; k-- > 0;)
            if (b->parts[k].p == entries[i].p) {
                bp = &b->parts[k];
                break;
            }
        if (!bp) {
            bp = &b->parts[b->n_parts++];
            bp->p = entries[i].p;
            bp->defer = entries[i].defer;
        }
        bp->last = entries[i].id;
        if (b->ev[i].outcome != OUT_DEFERRED)
            bp->done = entries[i].id;
    }
}

/* Apply entries as one batch. 0 on commit; -1 otherwise, with *refused set
   when PostgreSQL refused a statement (as opposed to a lost connection or a
   lost lease) and the reason in why. */
static int apply_once(struct worker *w, const struct stream_entry *entries, size_t n, int *refused,
                      char *why, size_t why_size)
{
    struct batch b;
    int rc = -1, lost;

    memset(&b, 0, sizeof(b));
    b.w = w;
    b.n_ev = n;
    b.ev = xcalloc(n, sizeof(*b.ev));
    for (size_t i = 0; i < n; i++) {
        struct entry *ev = &b.ev[i];
        ev->text = entries[i].event;
        ev->text_len = entries[i].event_len;
        ev->wait = entries[i].wait;
        ev->defer = entries[i].defer;
        char bad[160];
        ev->outcome = entry_decode(ev, bad, sizeof(bad)) == 0 ? OUT_APPLIED : OUT_MALFORMED;
        if (ev->outcome == OUT_MALFORMED)
            log_error("apply: entry %s of partition %u is not a ledger event: %s", entries[i].id,
                      entries[i].p, bad);
    }
    if (!w->pg || PQstatus(w->pg) != CONNECTION_OK)
        goto out;
    /* BEGIN goes out with the first statement of load_groups. */
    batch_queue(&b, "BEGIN", 0, NULL, NULL);
    /* The groups first: once their rows are ours, no other transaction can be
       recording their events, and what load_recorded finds is final. */
    if (load_groups(&b) != 0 || load_recorded(&b) != 0 || claim_keys(&b) != 0 ||
        load_resources(&b) != 0)
        goto rollback;
    decide(&b);
    if (b.broken)
        goto rollback;
    batch_parts(&b, entries, n);
    /* The writes, the fence and the COMMIT: one round trip. */
    if (write_batch(&b) != 0)
        goto rollback;
    fence(&b);
    if (exec0(&b, "COMMIT") != 0)
        goto rollback;
    if (b.fence_res && PQntuples(b.fence_res) == 1)
        snprintf(b.applied_at, sizeof(b.applied_at), "%s", PQgetvalue(b.fence_res, 0, 0));
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
        log_warn("apply: batch of %zu not applied: %s", n, b.error);
        *refused = !b.broken;
        snprintf(why, why_size, "%s", b.error);
    }
    queue_clear(&b);
    if (!b.lost) {
        exec0(&b, "ROLLBACK");
        if (b.fenced)
            fence_settle(&b);
    }
out:
    lost = b.lost;
    batch_release(&b);
    arena_reset();
    if (rc != 0 && w->pg && (lost || PQstatus(w->pg) != CONNECTION_OK)) {
        PQfinish(w->pg);
        w->pg = NULL;
    }
    return rc;
}

/* An entry PostgreSQL refuses even alone: record it as rejected, keep a copy
   in the dead-letter stream, tell its waiter, and acknowledge it, so it never
   holds up the partition. 0, or -1 if that could not be recorded. */
int apply_dead_letter(struct worker *w, const struct stream_entry *entry, const char *why)
{
    unsigned p = entry->p;
    struct batch b;
    struct entry ev;
    char stream[64], key[96], detail[320];
    int rc = -1;

    memset(&b, 0, sizeof(b));
    memset(&ev, 0, sizeof(ev));
    b.w = w;
    ev.text = entry->event;
    ev.text_len = entry->event_len;

    snprintf(detail, sizeof(detail), "the event could not be applied: %s", why);
    for (char *c = detail; *c; c++)
        if (*c == '\n')
            *c = ' ';
    log_error("apply: partition %u entry %s dead-lettered: %s", p, entry->id, why);
    char bad[160];
    if (entry_decode(&ev, bad, sizeof(bad)) == 0) {
        json_t *problem = problem_new(PROBLEM_INTERNAL, detail, NULL);
        char *text = json_dump_compact(problem);
        const char *params[6] = {ev.e.id,    ev.e.group_id,    event_type_name(ev.e.type),
                                 ev.e.actor, ev.e.accepted_at, text};
        PGresult *r = batch_query(&b,
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
        keys_fmt(key, sizeof(key), "event", ev.e.id);
        /* Recorded as rejected: PostgreSQL answers for it from now on. */
        redisReply *rr = worker_redis(w, "DEL %s", key);
        if (rr)
            freeReplyObject(rr);
        rr = worker_redis(w, "PUBLISH " KEYS_DONE_CHANNEL " %s", ev.e.id);
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
    free(b.queue);
    if (b.lost && w->pg) {
        PQfinish(w->pg);
        w->pg = NULL;
    }
    event_release(&ev.e);
    arena_reset();
    return rc;
}

int apply_batch(struct worker *w, const struct stream_entry *entries, size_t n)
{
    int refused = 0;
    char why[256] = "";

    if (apply_once(w, entries, n, &refused, why, sizeof(why)) == 0)
        return 0;
    if (!refused)
        return -1; /* not the entries' fault: they stay pending */
    if (n == 1) {
        /* Refused alone, for its own content. Only that counts against it. */
        struct part *pt = &w->part[entries[0].p];
        if (strcmp(pt->refused_id, entries[0].id) != 0) {
            snprintf(pt->refused_id, sizeof(pt->refused_id), "%s", entries[0].id);
            pt->refusals = 0;
        }
        if (++pt->refusals < w->cfg.max_deliveries)
            return -1;
        pt->refused_id[0] = '\0';
        pt->refusals = 0;
        return apply_dead_letter(w, entries, why);
    }
    /* Isolate the refused entry: one at a time, in order. */
    for (size_t i = 0; i < n; i++)
        if (apply_batch(w, &entries[i], 1) != 0)
            return -1;
    return 0;
}

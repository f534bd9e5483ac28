/*
 * stream: GET /api/v1/groups/{gid}/stream, the group's audit log as
 * server-sent events (text/event-stream).
 *
 * Every open stream is a subscriber of its group's hub. A hub remembers the
 * last seq it handed to its live subscribers and reads the entries after it
 * from PostgreSQL once for all of them: when the pub/sub channel names an
 * event of the group (one query maps a message's event ids to groups), when
 * a subscriber saw a newer seq at connect, and when the heartbeat's one
 * query over every hub (members and last seq) finds it behind; that query
 * also ends the streams of callers who are no longer members. A
 * subscriber that resumes (Last-Event-ID) first pages through the entries
 * after its seq on its own, paced by what the client reads, and goes live
 * only once it is at or beyond its hub's seq; from then on the hub's reads
 * cover everything after it, and each subscriber skips what it already sent
 * (by seq), so the hand-over has neither gap nor duplicate.
 *
 * Memory per stream is bounded: the bytes queued for one client beyond
 * stream_max_buffer end its stream (it resumes with Last-Event-ID), and at
 * most stream_max streams are open (503 beyond).
 *
 * Lifetime: a subscriber lives in its request's pool (it is the response's
 * generator) and holds one reference on the request's rctx; the pool's
 * dispose unlinks it. Hub queries run on detached contexts (rctx->hub); a
 * hub is freed once it has no subscribers and no query in flight.
 */
#include "api.h"

#include "keys.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries per PostgreSQL read (a resume's page, a hub's read). */
#define STREAM_PAGE 200
#define STREAM_PAGE_STR "200"
/* Hub table buckets (a power of two). */
#define HUB_BUCKETS 4096

struct stream_hub {
    h2o_linklist_t link; /* in its bucket */
    char group_id[UUID_STR_SIZE];
    int64_t last_seq;    /* every entry up to it went to the live subscribers */
    h2o_linklist_t subs; /* struct stream_sub.link */
    int fetching;        /* a read is in flight */
    int again;           /* read once more when it returns */
    int pinned;          /* a loop walks subs: closing the last must not free it */
};

struct stream_sub {
    h2o_generator_t gen; /* first: h2o hands it back to proceed and stop */
    struct rctx *c;      /* one reference, dropped at dispose */
    struct stream_hub *hub;
    h2o_linklist_t link; /* in hub->subs */
    h2o_linklist_t all;  /* in streams */
    int64_t sent_seq;    /* the last entry queued for this client */
    int live;            /* 0 while catching up on its own */
    int paging;          /* a catch-up page is in flight */
    int sending;         /* h2o holds wire until proceed */
    int closing;         /* end the stream at the next chance */
    int done;            /* the final chunk went out, or the client left */
    struct strbuf out;   /* queued */
    struct strbuf wire;  /* handed to h2o */
    char token_hash[65], user_id[UUID_STR_SIZE];
};

static h2o_linklist_t buckets[HUB_BUCKETS];
static h2o_linklist_t streams; /* every attached subscriber */
static uint64_t n_streams;
static uv_timer_t heartbeat;
static int shutting_down;

static void hub_fetch(struct stream_hub *h);
static void sub_page(struct stream_sub *s);

uint64_t stream_count(void)
{
    return n_streams;
}

/* Group ids are random UUIDs: their first hex digits hash well. */
static h2o_linklist_t *bucket_of(const char *group_id)
{
    size_t hash = 0;
    for (int i = 0; i < 8; i++)
        hash = hash * 31 + (unsigned char)group_id[i];
    return &buckets[hash & (HUB_BUCKETS - 1)];
}

static struct stream_hub *hub_find(const char *group_id)
{
    h2o_linklist_t *b = bucket_of(group_id);
    for (h2o_linklist_t *n = b->next; n != b; n = n->next) {
        struct stream_hub *h = H2O_STRUCT_FROM_MEMBER(struct stream_hub, link, n);
        if (strcmp(h->group_id, group_id) == 0)
            return h;
    }
    return NULL;
}

static void hub_release_if_idle(struct stream_hub *h)
{
    if (!h2o_linklist_is_empty(&h->subs) || h->fetching || h->pinned)
        return;
    h2o_linklist_unlink(&h->link);
    free(h);
}

/* --- one subscriber's output -------------------------------------------------------------- */

/* Take s out of its hub and the stream count (once). */
static void sub_detach(struct stream_sub *s)
{
    if (!h2o_linklist_is_linked(&s->all))
        return;
    h2o_linklist_unlink(&s->all);
    h2o_linklist_unlink(&s->link);
    n_streams--;
    hub_release_if_idle(s->hub);
    s->hub = NULL;
}

/* Hand what is queued to h2o, or the final chunk once closing. h2o takes one
   send at a time: the next waits for proceed. */
static void sub_flush(struct stream_sub *s)
{
    h2o_iovec_t buf;
    struct strbuf t;

    if (s->sending || s->done || !s->c->req)
        return;
    if (!s->closing && s->out.len == 0)
        return;
    t = s->wire;
    s->wire = s->out;
    s->out = t;
    s->out.len = 0;
    buf = h2o_iovec_init(s->wire.buf, s->wire.len);
    if (s->closing) {
        /* wire stays allocated until the request's pool goes. */
        s->done = 1;
        sub_detach(s);
        h2o_send(s->c->req, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_FINAL);
        return;
    }
    s->sending = 1;
    h2o_send(s->c->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* End the stream once what h2o holds is written. */
static void sub_close(struct stream_sub *s)
{
    s->closing = 1;
    sub_flush(s);
}

/* Queue len bytes for s (flushed by the caller). A client that fell
   stream_max_buffer bytes behind loses the backlog and its stream. */
static void sub_queue(struct stream_sub *s, const char *text, size_t len)
{
    if (s->done || s->closing)
        return;
    if (s->out.len + s->wire.len + len > (size_t)api.cfg.stream_max_buffer) {
        log_info("stream: a client of group %s fell behind by over %d bytes: closing",
                 s->hub ? s->hub->group_id : "?", api.cfg.stream_max_buffer);
        s->out.len = 0;
        s->closing = 1;
        return;
    }
    strbuf_addn(&s->out, text, len);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct stream_sub *s = (struct stream_sub *)gen;
    (void)req;
    s->sending = 0;
    s->wire.len = 0;
    sub_flush(s);
    if (!s->done && !s->live && !s->paging && !s->sending)
        sub_page(s);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    struct stream_sub *s = (struct stream_sub *)gen;
    (void)req;
    s->done = 1;
    s->sending = 0;
    sub_detach(s);
}

static void on_sub_dispose(void *p)
{
    struct stream_sub *s = p;
    sub_detach(s);
    free(s->out.buf);
    free(s->wire.buf);
    s->c->stream = NULL;
    rctx_unref(s->c);
}

/* The SSE frame of the audit-log entry at row (AUDIT_COLUMNS from col) into sb. */
static int64_t frame_entry(struct strbuf *sb, PGresult *res, int row, int col)
{
    json_t *item = audit_item(res, row, col);
    char *data = json_dump_compact(item);
    json_decref(item);
    strbuf_add(sb, "id: ");
    strbuf_add(sb, PQgetvalue(res, row, col + 1));
    strbuf_add(sb, "\nevent: ");
    strbuf_add(sb, PQgetvalue(res, row, col + 2));
    strbuf_add(sb, "\ndata: ");
    strbuf_add(sb, data);
    strbuf_add(sb, "\n\n");
    free(data);
    return atoll(PQgetvalue(res, row, col + 1));
}

/* --- catching up (Last-Event-ID) ----------------------------------------------------------- */

static void on_page(PGresult *res, struct rctx *c)
{
    struct stream_sub *s = c->stream;
    struct strbuf frame = {0};
    int n;

    rctx_unref(c);
    if (!s)
        return;
    s->paging = 0;
    if (s->done)
        return;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* The client resumes from the last entry it got. */
        sub_close(s);
        return;
    }
    n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        int64_t seq = atoll(PQgetvalue(res, i, 1));
        if (seq <= s->sent_seq)
            continue;
        frame.len = 0;
        frame_entry(&frame, res, i, 0);
        sub_queue(s, frame.buf, frame.len);
        s->sent_seq = seq;
    }
    free(frame.buf);
    sub_flush(s);
    if (s->done || s->closing)
        return;
    if (n < STREAM_PAGE && s->sent_seq >= s->hub->last_seq) {
        s->live = 1;
        return;
    }
    /* More to read: once the client took this page (on_proceed), or now. */
    if (!s->sending)
        sub_page(s);
}

static void sub_page(struct stream_sub *s)
{
    char after[24];
    const char *p[2] = {s->c->group_id, after};
    snprintf(after, sizeof(after), "%lld", (long long)s->sent_seq);
    s->paging = 1;
    pg_query(s->c, on_page,
             "SELECT " AUDIT_COLUMNS " FROM events x WHERE x.group_id = $1 AND x.seq > $2"
             " ORDER BY x.seq LIMIT " STREAM_PAGE_STR,
             2, p);
}

/* --- a hub's reads ------------------------------------------------------------------------- */

static void on_hub_rows(PGresult *res, struct rctx *q)
{
    struct stream_hub *h = q->hub;
    h2o_linklist_t *n, *next;
    struct strbuf frame = {0};
    int rows = 0;

    rctx_unref(q);
    h->fetching = 0;
    h->pinned++;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        rows = PQntuples(res);
        for (int i = 0; i < rows; i++) {
            frame.len = 0;
            int64_t seq = frame_entry(&frame, res, i, 0);
            for (n = h->subs.next; n != &h->subs; n = n->next) {
                struct stream_sub *s = H2O_STRUCT_FROM_MEMBER(struct stream_sub, link, n);
                if (s->live && seq > s->sent_seq) {
                    sub_queue(s, frame.buf, frame.len);
                    s->sent_seq = seq;
                }
            }
            if (seq > h->last_seq)
                h->last_seq = seq;
        }
        free(frame.buf);
        for (n = h->subs.next; n != &h->subs; n = next) {
            next = n->next;
            sub_flush(H2O_STRUCT_FROM_MEMBER(struct stream_sub, link, n));
        }
        if (rows == STREAM_PAGE)
            h->again = 1;
    } else {
        log_warn("stream: cannot read the new entries of group %s", h->group_id);
    }
    h->pinned--;
    if (h2o_linklist_is_empty(&h->subs)) {
        hub_release_if_idle(h);
        return;
    }
    if (h->again) {
        h->again = 0;
        hub_fetch(h);
    }
}

/* Read the entries after h->last_seq for every subscriber at once; one read
   in flight per hub. */
static void hub_fetch(struct stream_hub *h)
{
    char after[24];
    const char *p[2] = {h->group_id, after};
    struct rctx *q;

    if (h->fetching) {
        h->again = 1;
        return;
    }
    if (shutting_down)
        return;
    h->fetching = 1;
    snprintf(after, sizeof(after), "%lld", (long long)h->last_seq);
    q = rctx_new_detached();
    q->hub = h;
    pg_query(q, on_hub_rows,
             "SELECT " AUDIT_COLUMNS " FROM events x WHERE x.group_id = $1 AND x.seq > $2"
             " ORDER BY x.seq LIMIT " STREAM_PAGE_STR,
             2, p);
    rctx_unref(q);
}

/* --- the channel --------------------------------------------------------------------------- */

static void on_groups(PGresult *res, struct rctx *q)
{
    rctx_unref(q);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return; /* the next heartbeat reads them */
    for (int i = 0; i < PQntuples(res); i++) {
        struct stream_hub *h = hub_find(PQgetvalue(res, i, 0));
        if (h)
            hub_fetch(h);
    }
}

#define ID_LEN 36

void stream_notify(const char *msg, size_t len)
{
    struct strbuf ids = {0};
    const char *p[1];
    struct rctx *q;

    if (n_streams == 0 || shutting_down || len < ID_LEN || (len + 1) % (ID_LEN + 1) != 0)
        return;
    /* "id id id" -> "{id,id,id}": the message's events, as a uuid[]. */
    strbuf_addc(&ids, '{');
    strbuf_addn(&ids, msg, len);
    strbuf_addc(&ids, '}');
    for (size_t i = 1; i + 1 < ids.len; i++)
        if (ids.buf[i] == ' ')
            ids.buf[i] = ',';
    p[0] = ids.buf;
    q = rctx_new_detached();
    pg_query(q, on_groups, "SELECT DISTINCT group_id::text FROM events WHERE event_id = ANY($1)", 1,
             p);
    rctx_unref(q);
    free(ids.buf);
}

/* --- heartbeats ---------------------------------------------------------------------------- */

static void on_session(redisReply *r, struct rctx *c)
{
    struct stream_sub *s = c->stream;
    int ended = r && r->type == REDIS_REPLY_INTEGER && r->integer == 0;
    rctx_unref(c);
    if (s && ended && !s->done) {
        log_info("stream: closing a stream: its session ended");
        sub_close(s);
    }
}

/* The heartbeat's check of every hub: rows of (group id, its members' user
   ids, its last seq). A caller no longer a member loses the stream; a hub
   behind PostgreSQL (a completion message lost, say) reads the rest. */
static void on_hubs_checked(PGresult *res, struct rctx *q)
{
    h2o_linklist_t *n, *next;

    rctx_unref(q);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        return; /* the next heartbeat checks again */
    for (int i = 0; i < PQntuples(res); i++) {
        struct stream_hub *h = hub_find(PQgetvalue(res, i, 0));
        const char *users = PQgetvalue(res, i, 1);
        if (!h)
            continue;
        h->pinned++;
        for (n = h->subs.next; n != &h->subs; n = next) {
            next = n->next;
            struct stream_sub *s = H2O_STRUCT_FROM_MEMBER(struct stream_sub, link, n);
            if (!strstr(users, s->user_id)) {
                log_info("stream: closing a stream of group %s: no longer a member", h->group_id);
                sub_close(s);
            }
        }
        h->pinned--;
        if (h2o_linklist_is_empty(&h->subs))
            hub_release_if_idle(h);
        else if (atoll(PQgetvalue(res, i, 2)) > h->last_seq)
            hub_fetch(h);
    }
}

/* A comment for every client, a session check for every stream (Redis
   unreachable: the stream goes on), and one query checking every hub. */
static void on_heartbeat(uv_timer_t *t)
{
    h2o_linklist_t *n, *next;
    struct strbuf ids = {0};
    char key[128];
    (void)t;

    for (n = streams.next; n != &streams; n = next) {
        next = n->next;
        struct stream_sub *s = H2O_STRUCT_FROM_MEMBER(struct stream_sub, all, n);
        sub_queue(s, ":\n\n", 3);
        sub_flush(s);
        keys_fmt(key, sizeof(key), "session", s->token_hash);
        rcli_cmd(s->c, on_session, "EXISTS %s", key);
    }
    for (size_t b = 0; b < HUB_BUCKETS; b++) {
        for (n = buckets[b].next; n != &buckets[b]; n = n->next) {
            strbuf_addc(&ids, ids.len ? ',' : '{');
            strbuf_add(&ids, H2O_STRUCT_FROM_MEMBER(struct stream_hub, link, n)->group_id);
        }
    }
    if (ids.len) {
        strbuf_addc(&ids, '}');
        const char *p[1] = {ids.buf};
        struct rctx *q = rctx_new_detached();
        pg_query(q, on_hubs_checked,
                 "SELECT h.id::text, (SELECT coalesce(string_agg(m.user_id::text, ','), '')"
                 "  FROM members m WHERE m.group_id = h.id AND m.user_id IS NOT NULL),"
                 " (SELECT coalesce(max(x.seq), 0) FROM events x WHERE x.group_id = h.id)"
                 " FROM unnest($1::uuid[]) AS h(id)",
                 1, p);
        rctx_unref(q);
    }
    free(ids.buf);
}

void stream_init(void)
{
    for (size_t b = 0; b < HUB_BUCKETS; b++)
        h2o_linklist_init_anchor(&buckets[b]);
    h2o_linklist_init_anchor(&streams);
    uv_timer_init(api.loop, &heartbeat);
    uv_timer_start(&heartbeat, on_heartbeat, (uint64_t)api.cfg.stream_heartbeat_ms,
                   (uint64_t)api.cfg.stream_heartbeat_ms);
}

void stream_shutdown(void)
{
    h2o_linklist_t *n, *next;
    shutting_down = 1;
    uv_timer_stop(&heartbeat);
    uv_close((uv_handle_t *)&heartbeat, NULL);
    for (n = streams.next; n != &streams; n = next) {
        next = n->next;
        sub_close(H2O_STRUCT_FROM_MEMBER(struct stream_sub, all, n));
    }
}

/* --- the route ----------------------------------------------------------------------------- */

/* Last-Event-ID, else ?last_event_id=, into *seq (-1 when neither is given);
   0, or -1 with the offending name in *field. */
static int resume_point(struct rctx *c, int64_t *seq, const char **field)
{
    char buf[32];
    size_t len = 0;
    const char *h = req_header_name(c, "last-event-id", &len);

    *seq = -1;
    if (h && len > 0) {
        *field = "Last-Event-ID";
        if (len >= sizeof(buf))
            return -1;
        memcpy(buf, h, len);
        buf[len] = '\0';
    } else if (req_query(c, "last_event_id", buf, sizeof(buf))) {
        *field = "last_event_id";
    } else {
        return 0;
    }
    if (buf[0] < '0' || buf[0] > '9' || strlen(buf) > 19)
        return -1;
    for (const char *d = buf; *d; d++)
        if (*d < '0' || *d > '9')
            return -1;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno)
        return -1;
    *seq = v;
    return 0;
}

static void start_stream(struct rctx *c, int64_t group_seq, int64_t from)
{
    struct stream_sub *s = h2o_mem_alloc_shared(&c->req->pool, sizeof(*s), on_sub_dispose);
    struct stream_hub *h = hub_find(c->group_id);
    int fresh = h == NULL;

    memset(s, 0, sizeof(*s));
    s->gen.proceed = on_proceed;
    s->gen.stop = on_stop;
    s->c = c;
    rctx_ref(c);
    c->stream = s;
    memcpy(s->token_hash, c->token_hash, sizeof(s->token_hash));
    memcpy(s->user_id, c->user_id, sizeof(s->user_id));
    /* A resume point beyond the group's last entry cannot be the client's. */
    s->sent_seq = from < 0 || from > group_seq ? group_seq : from;
    if (!h) {
        h = xcalloc(1, sizeof(*h));
        memcpy(h->group_id, c->group_id, sizeof(h->group_id));
        h->last_seq = group_seq;
        h2o_linklist_init_anchor(&h->subs);
        h2o_linklist_insert(bucket_of(h->group_id), &h->link);
    }
    s->hub = h;
    h2o_linklist_insert(&h->subs, &s->link);
    h2o_linklist_insert(&streams, &s->all);
    n_streams++;

    /* nginx must pass it through as it comes (its location says so too). */
    add_header_name(c, "x-accel-buffering", "no");
    respond_stream_start(c, 200, "text/event-stream", &s->gen);
    /* The headers go out with the first chunk. */
    strbuf_add(&s->out, ": splitter\n\n");
    sub_flush(s);
    s->live = s->sent_seq >= h->last_seq;
    /* A message may have named an entry before the hub listened: a new hub
       reads once, and so does one behind what this connect saw. */
    if (fresh || group_seq > h->last_seq)
        hub_fetch(h);
    /* Last: with PostgreSQL gone it ends the stream (and may free the hub). */
    if (!s->live)
        sub_page(s);
}

static void on_stream_access(PGresult *res, struct rctx *c)
{
    int64_t from;
    const char *field = NULL;

    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    if (resume_point(c, &from, &field) != 0) {
        struct fields f = {0};
        fields_add(&f, field, "must be the seq of an event: an integer from 0");
        respond_problem(c, PROBLEM_VALIDATION, "invalid resume point", &f);
        return;
    }
    if (api.stopping || shutting_down) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the server is shutting down", NULL);
        return;
    }
    if (n_streams >= (uint64_t)api.cfg.stream_max) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "too many open streams on this server", NULL);
        return;
    }
    start_stream(c, atoll(PQgetvalue(res, 0, 0)), from);
}

static void stream_authed(struct rctx *c)
{
    const char *p[2] = {c->group_id, c->user_id};
    if (take_group_id(c) != 0)
        return;
    pg_query(c, on_stream_access,
             "SELECT coalesce((SELECT max(seq) FROM events WHERE group_id = g.id), 0)"
             " FROM groups g JOIN members me ON me.group_id = g.id AND me.user_id = $2"
             " WHERE g.id = $1",
             2, p);
}

/* Authentication first: no or a bad token is 401 whatever the path holds. */
void route_group_stream(struct rctx *c)
{
    auth_then(c, stream_authed);
}

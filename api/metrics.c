/*
 * metrics: GET /metrics on the api's own port (nginx answers 404 for it).
 *
 * Requests: counted by method, route pattern (the route table's, e.g.
 * /api/v1/groups/{gid}/balances, never the raw path) and status, with a
 * latency histogram per method and route, from rctx_new to the one place an
 * answer is sent (http.c). The api runs one event loop, so plain counters do.
 *
 * Streams: gathered from Redis on each scrape, one pipeline of four commands
 * per partition (XLEN, XINFO GROUPS, XPENDING summary, XPENDING - + 1) plus
 * XLEN of the dead-letter stream. Every api replica reports the same stream
 * series (one Redis, one truth): aggregate them with max, never sum
 * (docs/OPERATIONS.md). They are not reported by the workers because a
 * partition nobody owns, or a stack with every worker down, is exactly when
 * the lag matters.
 */
#include "api.h"

#include "keys.h"
#include "reply.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROUTES 64
#define N_STATUS 500 /* 100..599 */

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct route_stats {
    const char *method, *route; /* static strings */
    uint64_t by_status[N_STATUS];
    uint64_t buckets[N_BOUNDS + 1], count;
    double sum;
};

static struct route_stats stats[MAX_ROUTES];
static size_t n_stats;

/* Ledger writes sent with Prefer: wait (c->wait_requested > 0), every route
   together: the latency a waiting client sees, for the p99 alert. */
static uint64_t waited_buckets[N_BOUNDS + 1], waited_count;
static double waited_sum;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_request_begin(struct rctx *c)
{
    c->started_ns = now_ns();
}

void metrics_request_done(struct rctx *c, int status)
{
    const char *route = c->route ? c->route : "other";
    struct route_stats *s = NULL;
    double secs = (double)(now_ns() - c->started_ns) / 1e9;
    size_t i;

    for (i = 0; i < n_stats; i++)
        if (stats[i].method == c->method && stats[i].route == route)
            break;
    if (i == n_stats) {
        if (n_stats == MAX_ROUTES)
            return; /* bounded by the route table; never reached */
        stats[n_stats].method = c->method;
        stats[n_stats].route = route;
        n_stats++;
    }
    s = &stats[i];
    if (status >= 100 && status < 600)
        s->by_status[status - 100]++;
    for (i = 0; i < N_BOUNDS && secs > bounds[i]; i++)
        ;
    s->buckets[i]++;
    s->count++;
    s->sum += secs;
    if (c->wait_requested > 0) {
        waited_buckets[i]++;
        waited_count++;
        waited_sum += secs;
    }
}

static void render_waited(FILE *f)
{
    const char *name = "splitter_api_waited_write_duration_seconds";
    uint64_t acc = 0;

    fprintf(f,
            "# HELP %s Ledger writes sent with Prefer: wait, from arrival to answer.\n"
            "# TYPE %s histogram\n",
            name, name);
    for (size_t k = 0; k < N_BOUNDS; k++) {
        acc += waited_buckets[k];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[k], (unsigned long long)acc);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
            (unsigned long long)waited_count, name, waited_sum, name,
            (unsigned long long)waited_count);
}

static void render_requests(FILE *f)
{
    fputs("# HELP splitter_api_requests_total HTTP requests answered, by method, route pattern"
          " and status.\n# TYPE splitter_api_requests_total counter\n",
          f);
    for (size_t i = 0; i < n_stats; i++)
        for (int k = 0; k < N_STATUS; k++)
            if (stats[i].by_status[k])
                fprintf(f,
                        "splitter_api_requests_total{method=\"%s\",route=\"%s\",code=\"%d\"} "
                        "%llu\n",
                        stats[i].method, stats[i].route, k + 100,
                        (unsigned long long)stats[i].by_status[k]);
    fputs("# HELP splitter_api_request_duration_seconds Time from the request's arrival to its"
          " answer.\n# TYPE splitter_api_request_duration_seconds histogram\n",
          f);
    for (size_t i = 0; i < n_stats; i++) {
        const struct route_stats *s = &stats[i];
        uint64_t acc = 0;
        for (size_t k = 0; k < N_BOUNDS; k++) {
            acc += s->buckets[k];
            fprintf(f,
                    "splitter_api_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                    "le=\"%g\"} %llu\n",
                    s->method, s->route, bounds[k], (unsigned long long)acc);
        }
        fprintf(f,
                "splitter_api_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                "le=\"+Inf\"} %llu\n"
                "splitter_api_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
                "splitter_api_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
                s->method, s->route, (unsigned long long)s->count, s->method, s->route, s->sum,
                s->method, s->route, (unsigned long long)s->count);
    }
    fprintf(f,
            "# HELP splitter_api_requests_in_flight Requests not yet answered or disposed.\n"
            "# TYPE splitter_api_requests_in_flight gauge\nsplitter_api_requests_in_flight %llu\n",
            (unsigned long long)api.in_flight);
    fprintf(f,
            "# HELP splitter_api_sse_streams Open live-update streams (server-sent events).\n"
            "# TYPE splitter_api_sse_streams gauge\nsplitter_api_sse_streams %llu\n",
            (unsigned long long)stream_count());
    render_waited(f);
    fprintf(f,
            "# HELP splitter_postgres_up 1 while at least one PostgreSQL pool connection is up.\n"
            "# TYPE splitter_postgres_up gauge\nsplitter_postgres_up %d\n",
            pgpool_up());
}

/* --- streams --------------------------------------------------------------------------- */

#define CMDS_PER_PARTITION 4

struct stream_row {
    long long length, lag, pending, oldest_ms; /* -1: unknown */
};

/* c->work while a scrape gathers. */
struct scrape {
    size_t sent, got;
    int redis_ok;
    long long dead;
    struct stream_row rows[]; /* one per partition */
};

static void gauge_head(FILE *f, const char *name, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void answer(struct rctx *c)
{
    struct scrape *s = c->work;
    char *buf = NULL, stream[48];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    unsigned np = api.cfg.partitions;

    render_requests(f);
    gauge_head(f, "splitter_redis_scrape_ok",
               "1 if the stream series below were read from Redis on this scrape.");
    fprintf(f, "splitter_redis_scrape_ok %d\n", s->redis_ok);
    if (s->redis_ok) {
        static const char *const names[] = {"splitter_stream_length", "splitter_stream_lag",
                                            "splitter_stream_pending",
                                            "splitter_stream_oldest_pending_seconds"};
        static const char *const helps[] = {
            "Entries in the partition stream (trimmed below the oldest unapplied entry).",
            "Entries the consumer group has not read yet (XINFO GROUPS lag).",
            "Entries read but not acknowledged (XPENDING).",
            "Idle time of the oldest pending entry, 0 when none is pending."};
        for (int k = 0; k < 4; k++) {
            gauge_head(f, names[k], helps[k]);
            for (unsigned p = 0; p < np; p++) {
                const struct stream_row *r = &s->rows[p];
                long long v = k == 0   ? r->length
                              : k == 1 ? r->lag
                              : k == 2 ? r->pending
                                       : r->oldest_ms;
                if (v < 0)
                    continue;
                keys_stream(stream, sizeof(stream), p);
                if (k == 3)
                    fprintf(f, "%s{stream=\"%s\"} %.3f\n", names[k], stream, (double)v / 1000);
                else
                    fprintf(f, "%s{stream=\"%s\"} %lld\n", names[k], stream, v);
            }
        }
        gauge_head(f, "splitter_dead_letters", "Entries in the dead-letter stream.");
        fprintf(f, "splitter_dead_letters %lld\n", s->dead);
    }
    fclose(f);
    respond_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
    free(buf);
}

static void on_reply(redisReply *r, struct rctx *c)
{
    struct scrape *s = c->work;
    size_t i = s->got++;
    unsigned p = (unsigned)(i / CMDS_PER_PARTITION);

    if (!r)
        s->redis_ok = 0;
    else if (p < api.cfg.partitions) {
        struct stream_row *row = &s->rows[p];
        switch (i % CMDS_PER_PARTITION) {
        case 0:
            row->length = reply_int_of(r, -1);
            break;
        case 1: /* an error: no stream or no group yet */
            row->lag = r->type == REDIS_REPLY_ERROR ? 0 : -1;
            for (size_t g = 0; r->type == REDIS_REPLY_ARRAY && g < r->elements; g++) {
                const redisReply *name = reply_kv_get(r->element[g], "name");
                if (name && name->type == REDIS_REPLY_STRING &&
                    strcmp(name->str, KEYS_CONSUMER_GROUP) == 0)
                    row->lag = reply_int_of(reply_kv_get(r->element[g], "lag"), -1);
            }
            break;
        case 2:
            row->pending = r->type == REDIS_REPLY_ARRAY && r->elements == 4
                               ? reply_int_of(r->element[0], 0)
                               : 0;
            break;
        default:
            row->oldest_ms = r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
                                     r->element[0]->type == REDIS_REPLY_ARRAY &&
                                     r->element[0]->elements == 4
                                 ? reply_int_of(r->element[0]->element[2], 0)
                                 : 0;
        }
    } else {
        s->dead = reply_int_of(r, 0);
    }
    if (!rctx_unref_live(c))
        return;
    if (s->got == s->sent)
        answer(c);
}

void route_metrics(struct rctx *c)
{
    unsigned np = api.cfg.partitions;
    struct scrape *s = xcalloc(1, sizeof(*s) + np * sizeof(s->rows[0]));
    char stream[48];

    c->work = s; /* freed with c */
    s->redis_ok = 1;
    s->sent = (size_t)np * CMDS_PER_PARTITION + 1;
    /* Replies arrive in order on the one command connection: the i-th reply
       answers the i-th command. */
    for (unsigned p = 0; p < np; p++) {
        keys_stream(stream, sizeof(stream), p);
        rcli_cmd(c, on_reply, "XLEN %s", stream);
        rcli_cmd(c, on_reply, "XINFO GROUPS %s", stream);
        rcli_cmd(c, on_reply, "XPENDING %s " KEYS_CONSUMER_GROUP, stream);
        rcli_cmd(c, on_reply, "XPENDING %s " KEYS_CONSUMER_GROUP " - + 1", stream);
    }
    rcli_cmd(c, on_reply, "XLEN " KEYS_DEAD_STREAM);
}

/*
 * splitterctl: the operator's command line (docs/OPERATIONS.md).
 *
 *   splitterctl queue [--json]                  depth, lag, pending and dead letters per stream
 *   splitterctl dead list [--json] [--count N]  the dead-letter stream, oldest first
 *   splitterctl dead retry ID...|--all          put entries back on their stream
 *   splitterctl dead drop ID...|--all           delete entries
 *   splitterctl workers [--json]                live consumers, heartbeat age, idle time
 *   splitterctl top [--once]                    live view of the partitions, refreshed each second
 *   splitterctl replay --verify [--group ID]    rebuild from events, compare with the projection
 *   splitterctl replay --rebuild [--group ID]   rewrite the projection and cache from events
 *   splitterctl audit export --group ID         the group's ledger with its hash chain (JSON Lines)
 *   splitterctl audit verify FILE [--head H]    check an exported ledger offline and replay it
 *   splitterctl migrate                         apply the pending schema migrations and exit
 *
 * Configuration from the same environment variables as the services (REDIS_HOST, REDIS_PORT,
 * REDIS_PASSWORD, POSTGRES_*, SPLITTER_PARTITIONS). Blocking hiredis and libpq: one operator,
 * one connection each. Exit status 0; 1 on a failure or (replay) a difference; 2 on bad usage.
 */
#include "audit.h"
#include "cache.h"
#include "chain.h"
#include "config.h"
#include "json.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "pgutil.h"
#include "projection.h"
#include "view.h"
#include "xalloc.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define TS_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static unsigned partitions = 16;

static int usage(void)
{
    fputs("usage: splitterctl queue [--json]\n"
          "       splitterctl dead list [--json] [--count N]\n"
          "       splitterctl dead retry ID...|--all\n"
          "       splitterctl dead drop ID...|--all\n"
          "       splitterctl workers [--json]\n"
          "       splitterctl top [--once]\n"
          "       splitterctl replay --verify|--rebuild [--group ID]\n"
          "       splitterctl audit export --group ID\n"
          "       splitterctl audit verify FILE|- [--head HASH]\n"
          "       splitterctl migrate\n",
          stderr);
    return 2;
}

static int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int error(const char *fmt, ...)
{
    va_list ap;
    fputs("splitterctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* --- Redis ----------------------------------------------------------------------------- */

/* A new connection, authenticated; NULL after printing why. */
static redisContext *redis_open(void)
{
    int port;
    const char *host = config_str("REDIS_HOST", "127.0.0.1");
    const char *pw = config_str("REDIS_PASSWORD", "");
    struct timeval tv = {5, 0};
    if (config_port("REDIS_PORT", 6380, &port) != 0)
        return NULL;
    redisContext *rd = redisConnectWithTimeout(host, port, tv);
    if (!rd || rd->err) {
        error("redis %s:%d: %s", host, port, rd ? rd->errstr : "out of memory");
        if (rd)
            redisFree(rd);
        return NULL;
    }
    redisSetTimeout(rd, tv);
    if (*pw) {
        redisReply *r = redisCommand(rd, "AUTH %s", pw);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok)
            error("redis: AUTH: %s", r ? r->str : rd->errstr);
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(rd);
            return NULL;
        }
    }
    return rd;
}

/* The next pipelined reply (caller frees), or NULL after printing why. */
static redisReply *next_reply(redisContext *rd)
{
    void *r = NULL;
    if (redisGetReply(rd, &r) != REDIS_OK) {
        error("redis: %s", rd->errstr);
        return NULL;
    }
    return r;
}

static redisReply *cmd(redisContext *rd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(rd, fmt, ap);
    va_end(ap);
    if (!r)
        error("redis: %s", rd->errstr);
    return r;
}

/* Field k of a flat [k1, v1, k2, v2...] reply, or NULL. Borrowed. */
static const redisReply *kv_get(const redisReply *r, const char *k)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, k) == 0)
            return r->element[i + 1];
    return NULL;
}

static long long int_of(const redisReply *r, long long def)
{
    if (!r)
        return def;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return atoll(r->str);
    return def;
}

/* --- queue --------------------------------------------------------------------------------- */

/* One stream's numbers; -1 where unknown. */
struct stream_stats {
    char name[48];
    long long length, lag, pending, oldest_pending_ms;
    long long entries_read; /* the group's entries-read counter (XINFO GROUPS), -1 unknown */
    json_t *consumers;      /* owned: {name: pending} */
};

/* Gather every partition's numbers with one pipeline. 0, or -1. */
static int queue_gather(redisContext *rd, struct stream_stats *st, long long *dead)
{
    for (unsigned p = 0; p < partitions; p++) {
        keys_stream(st[p].name, sizeof(st[p].name), p);
        redisAppendCommand(rd, "XLEN %s", st[p].name);
        redisAppendCommand(rd, "XINFO GROUPS %s", st[p].name);
        redisAppendCommand(rd, "XPENDING %s " KEYS_CONSUMER_GROUP, st[p].name);
        redisAppendCommand(rd, "XPENDING %s " KEYS_CONSUMER_GROUP " - + 1", st[p].name);
    }
    redisAppendCommand(rd, "XLEN " KEYS_DEAD_STREAM);
    for (unsigned p = 0; p < partitions; p++) {
        redisReply *r[4];
        for (int k = 0; k < 4; k++)
            if (!(r[k] = next_reply(rd)))
                return -1;
        st[p].length = int_of(r[0], 0);
        st[p].lag = st[p].pending = st[p].oldest_pending_ms = st[p].entries_read = -1;
        st[p].consumers = json_object();
        /* A missing stream or group answers an error: nothing there yet. */
        for (size_t g = 0; r[1]->type == REDIS_REPLY_ARRAY && g < r[1]->elements; g++) {
            const redisReply *name = kv_get(r[1]->element[g], "name");
            if (name && name->type == REDIS_REPLY_STRING &&
                strcmp(name->str, KEYS_CONSUMER_GROUP) == 0) {
                st[p].lag = int_of(kv_get(r[1]->element[g], "lag"), -1);
                st[p].pending = int_of(kv_get(r[1]->element[g], "pending"), -1);
                st[p].entries_read = int_of(kv_get(r[1]->element[g], "entries-read"), -1);
                /* nil until the group reads its first entry */
                const redisReply *last = kv_get(r[1]->element[g], "last-delivered-id");
                if (st[p].entries_read < 0 && last && last->type == REDIS_REPLY_STRING &&
                    strcmp(last->str, "0-0") == 0)
                    st[p].entries_read = 0;
            }
        }
        if (r[2]->type == REDIS_REPLY_ARRAY && r[2]->elements == 4) {
            st[p].pending = int_of(r[2]->element[0], st[p].pending);
            const redisReply *cs = r[2]->element[3];
            for (size_t i = 0; cs->type == REDIS_REPLY_ARRAY && i < cs->elements; i++)
                if (cs->element[i]->type == REDIS_REPLY_ARRAY && cs->element[i]->elements == 2)
                    json_object_set_new(st[p].consumers, cs->element[i]->element[0]->str,
                                        json_integer(int_of(cs->element[i]->element[1], 0)));
        } else if (st[p].pending < 0) {
            st[p].pending = 0;
        }
        if (st[p].lag < 0 && r[1]->type == REDIS_REPLY_ERROR)
            st[p].lag = 0;
        if (r[3]->type == REDIS_REPLY_ARRAY && r[3]->elements == 1 &&
            r[3]->element[0]->type == REDIS_REPLY_ARRAY && r[3]->element[0]->elements == 4)
            st[p].oldest_pending_ms = int_of(r[3]->element[0]->element[2], -1);
        for (int k = 0; k < 4; k++)
            freeReplyObject(r[k]);
    }
    redisReply *d = next_reply(rd);
    if (!d)
        return -1;
    *dead = int_of(d, 0);
    freeReplyObject(d);
    return 0;
}

static void print_num(long long v, int width)
{
    if (v < 0)
        printf("%*s", width, "-");
    else
        printf("%*lld", width, v);
}

static int cmd_queue(int argc, char **argv)
{
    int as_json = argc > 0 && strcmp(argv[0], "--json") == 0;
    struct stream_stats *st = xcalloc(partitions, sizeof(*st));
    long long dead = 0;
    int rc = 1;
    redisContext *rd = redis_open();

    if (argc > 1 || (argc == 1 && !as_json)) {
        free(st);
        if (rd)
            redisFree(rd);
        return usage();
    }
    if (!rd || queue_gather(rd, st, &dead) != 0)
        goto out;
    if (as_json) {
        json_t *arr = json_array();
        for (unsigned p = 0; p < partitions; p++) {
            json_t *o = json_pack("{s:s, s:i, s:I, s:O}", "stream", st[p].name, "partition", (int)p,
                                  "length", (json_int_t)st[p].length, "consumers", st[p].consumers);
            json_object_set_new(o, "lag", st[p].lag < 0 ? json_null() : json_integer(st[p].lag));
            json_object_set_new(o, "pending", json_integer(st[p].pending < 0 ? 0 : st[p].pending));
            json_object_set_new(
                o, "oldest_pending_ms",
                st[p].oldest_pending_ms < 0 ? json_null() : json_integer(st[p].oldest_pending_ms));
            json_array_append_new(arr, o);
        }
        json_t *doc = json_pack("{s:o, s:I}", "streams", arr, "dead_letters", (json_int_t)dead);
        char *s = json_dumps(doc, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(doc);
    } else {
        long long tl = 0, tp = 0, tlag = 0;
        printf("%-20s %8s %8s %8s %12s  %s\n", "STREAM", "LENGTH", "LAG", "PENDING", "OLDEST_MS",
               "PENDING BY CONSUMER");
        for (unsigned p = 0; p < partitions; p++) {
            const char *k;
            json_t *v;
            int first = 1;
            printf("%-20s ", st[p].name);
            print_num(st[p].length, 8);
            putchar(' ');
            print_num(st[p].lag, 8);
            putchar(' ');
            print_num(st[p].pending, 8);
            putchar(' ');
            print_num(st[p].oldest_pending_ms, 12);
            printf("  ");
            json_object_foreach(st[p].consumers, k, v)
            {
                printf("%s%s=%lld", first ? "" : ", ", k, (long long)json_integer_value(v));
                first = 0;
            }
            printf("%s\n", first ? "-" : "");
            tl += st[p].length;
            tp += st[p].pending > 0 ? st[p].pending : 0;
            tlag += st[p].lag > 0 ? st[p].lag : 0;
        }
        printf("%-20s %8lld %8lld %8lld\n", "total", tl, tlag, tp);
        printf("%-20s %8lld\n", KEYS_DEAD_STREAM, dead);
    }
    rc = 0;
out:
    for (unsigned p = 0; p < partitions; p++)
        json_decref(st[p].consumers);
    free(st);
    if (rd)
        redisFree(rd);
    return rc;
}

/* --- dead letters -------------------------------------------------------------------------- */

static int cmd_dead_list(redisContext *rd, int argc, char **argv)
{
    int as_json = 0;
    long count = 100;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc && atol(argv[i + 1]) > 0)
            count = atol(argv[++i]);
        else
            return usage();
    }
    redisReply *r = cmd(rd, "XRANGE " KEYS_DEAD_STREAM " - + COUNT %ld", count);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) {
            error("redis: XRANGE: %s", r->str ? r->str : "unexpected reply");
            freeReplyObject(r);
        }
        return 1;
    }
    json_t *arr = json_array();
    if (!as_json)
        printf("%-17s %-20s %-17s %s\n", "ID", "STREAM", "ENTRY", "ERROR / EVENT");
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        const redisReply *s = kv_get(e->element[1], "stream"), *en = kv_get(e->element[1], "entry");
        const redisReply *ev = kv_get(e->element[1], "event"), *er = kv_get(e->element[1], "error");
        const char *ss = s && s->str ? s->str : "", *ens = en && en->str ? en->str : "";
        const char *evs = ev && ev->str ? ev->str : "", *ers = er && er->str ? er->str : "";
        if (as_json) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id",
                                                 e->element[0]->str, "stream", ss, "entry", ens,
                                                 "error", ers, "event", evs));
        } else {
            printf("%-17s %-20s %-17s %s\n", e->element[0]->str, ss, ens, ers);
            printf("%-17s %-20s %-17s %.200s%s\n", "", "", "", evs, strlen(evs) > 200 ? "..." : "");
        }
    }
    if (as_json) {
        char *out = json_dumps(arr, JSON_INDENT(2));
        puts(out);
        free(out);
    }
    json_decref(arr);
    freeReplyObject(r);
    return 0;
}

static PGresult *pq(PGconn *pg, const char *sql, int n, const char *const *params);

/* A dead-lettered event is recorded as rejected, so that its request gets an
   answer. To apply it again, that record goes first (never one of an event
   the ledger applied): otherwise the worker would take the retried entry for
   one already recorded. 0, or -1. */
static int unreject(PGconn **pg, const char *event, size_t len)
{
    json_t *root = json_loadb(event, len, 0, NULL);
    const char *id = json_string_value(json_object_get(root, "event_id"));
    int rc = 0;
    if (id && ledger_is_uuid(id)) {
        const char *p[1] = {id};
        PGresult *r = NULL;
        if (!*pg)
            *pg = pg_connect("splitterctl");
        if (*pg)
            r = pq(*pg,
                   "DELETE FROM rejected_events WHERE event_id = $1"
                   " AND NOT EXISTS (SELECT 1 FROM events WHERE event_id = $1)",
                   1, p);
        rc = r ? 0 : -1;
        PQclear(r);
    }
    json_decref(root);
    return rc;
}

/* The dead-letter ids to act on: argv, or every entry with --all. Caller frees
   the array (its strings are in reply *hold, freed by the caller too). */
static const char **dead_ids(redisContext *rd, int argc, char **argv, size_t *n, redisReply **hold)
{
    const char **ids;
    *hold = NULL;
    *n = 0;
    if (argc == 1 && strcmp(argv[0], "--all") == 0) {
        redisReply *r = cmd(rd, "XRANGE " KEYS_DEAD_STREAM " - +");
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            if (r)
                freeReplyObject(r);
            return NULL;
        }
        ids = xcalloc(r->elements + 1, sizeof(*ids));
        for (size_t i = 0; i < r->elements; i++)
            ids[(*n)++] = r->element[i]->element[0]->str;
        *hold = r;
        return ids;
    }
    ids = xcalloc((size_t)argc + 1, sizeof(*ids));
    for (int i = 0; i < argc; i++)
        ids[(*n)++] = argv[i];
    return ids;
}

static int cmd_dead_act(redisContext *rd, int retry, int argc, char **argv)
{
    size_t n;
    redisReply *hold;
    PGconn *pg = NULL;
    int failures = 0;
    if (argc == 0)
        return usage();
    const char **ids = dead_ids(rd, argc, argv, &n, &hold);
    if (!ids)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (retry) {
            redisReply *r = cmd(rd, "XRANGE " KEYS_DEAD_STREAM " %s %s", ids[i], ids[i]);
            const redisReply *s = NULL, *ev = NULL;
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
                s = kv_get(r->element[0]->element[1], "stream");
                ev = kv_get(r->element[0]->element[1], "event");
            }
            unsigned p;
            if (!s || !ev || s->type != REDIS_REPLY_STRING || ev->type != REDIS_REPLY_STRING ||
                sscanf(s->str, KEYS_PREFIX "stream:%u", &p) != 1 || p >= partitions) {
                error("dead letter '%s': no such entry, or no stream and event to retry", ids[i]);
                failures++;
                if (r)
                    freeReplyObject(r);
                continue;
            }
            if (unreject(&pg, ev->str, ev->len) != 0) {
                error("dead letter '%s': its rejection could not be cleared", ids[i]);
                failures++;
                freeReplyObject(r);
                continue;
            }
            redisReply *a = cmd(rd, "XADD %s * event %b", s->str, ev->str, ev->len);
            int ok = a && a->type == REDIS_REPLY_STRING;
            if (ok)
                printf("retried %s -> %s %s\n", ids[i], s->str, a->str);
            else
                error("XADD %s: %s", s->str, a && a->str ? a->str : "failed");
            if (a)
                freeReplyObject(a);
            freeReplyObject(r);
            if (!ok) {
                failures++;
                continue;
            }
        }
        redisReply *d = cmd(rd, "XDEL " KEYS_DEAD_STREAM " %s", ids[i]);
        if (!d || d->type != REDIS_REPLY_INTEGER || d->integer != 1) {
            error("dead letter '%s': not deleted (no such entry?)", ids[i]);
            failures++;
        } else if (!retry) {
            printf("dropped %s\n", ids[i]);
        }
        if (d)
            freeReplyObject(d);
    }
    free(ids);
    if (hold)
        freeReplyObject(hold);
    if (pg)
        PQfinish(pg);
    return failures ? 1 : 0;
}

static int cmd_dead(int argc, char **argv)
{
    int rc;
    if (argc < 1)
        return usage();
    if (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "retry") != 0 &&
        strcmp(argv[0], "drop") != 0)
        return usage();
    redisContext *rd = redis_open();
    if (!rd)
        return 1;
    if (strcmp(argv[0], "list") == 0)
        rc = cmd_dead_list(rd, argc - 1, argv + 1);
    else
        rc = cmd_dead_act(rd, strcmp(argv[0], "retry") == 0, argc - 1, argv + 1);
    redisFree(rd);
    return rc;
}

/* --- workers ------------------------------------------------------------------------------- */

struct consumer {
    char name[128];
    int live;                /* in splitter:workers */
    long long heartbeat_age; /* ms, -1 unknown */
    long long pending, idle; /* idle: smallest over streams, -1 unknown */
    int partitions;          /* leases held */
};

static struct consumer *consumer_get(struct consumer **cs, size_t *n, size_t *alloc,
                                     const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*cs)[i].name, name) == 0)
            return &(*cs)[i];
    if (*n == *alloc) {
        *alloc = *alloc ? *alloc * 2 : 8;
        *cs = xreallocarray(*cs, *alloc, sizeof(**cs));
    }
    struct consumer *c = &(*cs)[(*n)++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->heartbeat_age = c->idle = -1;
    return c;
}

/* Every consumer seen in splitter:workers or a stream's group, and each
   partition's lease holder. Owns cs and owner; free with workers_free. */
struct workers {
    struct consumer *cs;
    size_t n, alloc;
    int *owner; /* per partition: index in cs of the lease holder, -1 for none */
};

static void workers_free(struct workers *w)
{
    free(w->cs);
    free(w->owner);
    memset(w, 0, sizeof(*w));
}

/* Gather w (zeroed by the caller) with one pipeline. 0, or -1. */
static int workers_gather(redisContext *rd, struct workers *w)
{
    int rc = -1;
    char stream[48], key[64];

    w->owner = xcalloc(partitions, sizeof(*w->owner));
    for (unsigned p = 0; p < partitions; p++)
        w->owner[p] = -1;
    redisAppendCommand(rd, "TIME");
    redisAppendCommand(rd, "ZRANGE " KEYS_WORKERS " 0 -1 WITHSCORES");
    for (unsigned p = 0; p < partitions; p++) {
        keys_stream(stream, sizeof(stream), p);
        snprintf(key, sizeof(key), KEYS_PREFIX "lease:%u", p);
        redisAppendCommand(rd, "XINFO CONSUMERS %s " KEYS_CONSUMER_GROUP, stream);
        redisAppendCommand(rd, "GET %s", key);
    }
    redisReply *t = next_reply(rd), *z = t ? next_reply(rd) : NULL;
    if (!t || !z || t->type != REDIS_REPLY_ARRAY || z->type != REDIS_REPLY_ARRAY)
        goto out;
    long long now = atoll(t->element[0]->str) * 1000 + atoll(t->element[1]->str) / 1000;
    for (size_t i = 0; i + 1 < z->elements; i += 2) {
        struct consumer *c = consumer_get(&w->cs, &w->n, &w->alloc, z->element[i]->str);
        c->live = 1;
        c->heartbeat_age = now - atoll(z->element[i + 1]->str);
    }
    for (unsigned p = 0; p < partitions; p++) {
        redisReply *ci = next_reply(rd), *lease = ci ? next_reply(rd) : NULL;
        if (!ci || !lease) {
            if (ci)
                freeReplyObject(ci);
            goto out;
        }
        for (size_t i = 0; ci->type == REDIS_REPLY_ARRAY && i < ci->elements; i++) {
            const redisReply *name = kv_get(ci->element[i], "name");
            if (!name || name->type != REDIS_REPLY_STRING)
                continue;
            struct consumer *c = consumer_get(&w->cs, &w->n, &w->alloc, name->str);
            long long idle = int_of(kv_get(ci->element[i], "idle"), -1);
            c->pending += int_of(kv_get(ci->element[i], "pending"), 0);
            if (idle >= 0 && (c->idle < 0 || idle < c->idle))
                c->idle = idle;
        }
        if (lease->type == REDIS_REPLY_STRING) {
            char *colon = strrchr(lease->str, ':');
            if (colon) {
                *colon = '\0';
                struct consumer *c = consumer_get(&w->cs, &w->n, &w->alloc, lease->str);
                c->partitions++;
                w->owner[p] = (int)(c - w->cs);
            }
        }
        freeReplyObject(ci);
        freeReplyObject(lease);
    }
    rc = 0;
out:
    if (t)
        freeReplyObject(t);
    if (z)
        freeReplyObject(z);
    return rc;
}

static int cmd_workers(int argc, char **argv)
{
    int as_json = argc == 1 && strcmp(argv[0], "--json") == 0;
    struct workers w = {0};
    int rc = 1;
    if (argc > 1 || (argc == 1 && !as_json))
        return usage();
    redisContext *rd = redis_open();
    if (!rd)
        return 1;
    if (workers_gather(rd, &w) != 0)
        goto out;
    const struct consumer *cs = w.cs;
    size_t n = w.n;
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o =
                json_pack("{s:s, s:b, s:i, s:I}", "name", cs[i].name, "live", cs[i].live,
                          "partitions", cs[i].partitions, "pending", (json_int_t)cs[i].pending);
            json_object_set_new(o, "heartbeat_age_ms",
                                cs[i].heartbeat_age < 0 ? json_null()
                                                        : json_integer(cs[i].heartbeat_age));
            json_object_set_new(o, "idle_ms",
                                cs[i].idle < 0 ? json_null() : json_integer(cs[i].idle));
            json_array_append_new(arr, o);
        }
        json_t *doc = json_pack("{s:o}", "workers", arr);
        char *s = json_dumps(doc, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(doc);
    } else {
        printf("%-48s %-5s %10s %12s %8s %10s\n", "CONSUMER", "LIVE", "PARTITIONS", "HEARTBEAT_MS",
               "PENDING", "IDLE_MS");
        for (size_t i = 0; i < n; i++) {
            printf("%-48s %-5s %10d ", cs[i].name, cs[i].live ? "yes" : "no", cs[i].partitions);
            print_num(cs[i].heartbeat_age, 12);
            printf(" %8lld ", cs[i].pending);
            print_num(cs[i].idle, 10);
            putchar('\n');
        }
    }
    rc = 0;
out:
    workers_free(&w);
    redisFree(rd);
    return rc;
}

/* --- top ----------------------------------------------------------------------------------- */

/* One frame's figures: queue_gather and workers_gather at one moment. */
struct top_sample {
    struct stream_stats *st; /* owned, partitions entries */
    long long dead;
    struct workers w;
    struct timeval at;
};

static void top_sample_free(struct top_sample *s)
{
    if (s->st)
        for (unsigned p = 0; p < partitions; p++)
            json_decref(s->st[p].consumers);
    free(s->st);
    workers_free(&s->w);
    memset(s, 0, sizeof(*s));
}

static int top_sample_take(redisContext *rd, struct top_sample *s)
{
    memset(s, 0, sizeof(*s));
    s->st = xcalloc(partitions, sizeof(*s->st));
    gettimeofday(&s->at, NULL);
    if (queue_gather(rd, s->st, &s->dead) != 0 || workers_gather(rd, &s->w) != 0) {
        top_sample_free(s);
        return -1;
    }
    return 0;
}

/* The group's counters behind the rates: entries added to the stream (read + lag) and
   entries acknowledged (read - pending); -1 when Redis does not know. */
static long long top_added(const struct stream_stats *s)
{
    return s->entries_read < 0 || s->lag < 0 ? -1 : s->entries_read + s->lag;
}

static long long top_acked(const struct stream_stats *s)
{
    return s->entries_read < 0 || s->pending < 0 ? -1 : s->entries_read - s->pending;
}

/* Per second between two samples of a counter; -1 when unknown (a counter that went
   back, after Redis lost its data, is unknown too). */
static double top_rate(long long before, long long now, double secs)
{
    if (before < 0 || now < before || secs <= 0)
        return -1;
    return (double)(now - before) / secs;
}

enum top_sort { TOP_BY_PARTITION, TOP_BY_LAG, TOP_BY_PENDING };

static const struct top_sample *top_cur; /* for the qsort comparator */
static enum top_sort top_by;

static int top_cmp(const void *a, const void *b)
{
    unsigned pa = *(const unsigned *)a, pb = *(const unsigned *)b;
    long long va = 0, vb = 0;
    if (top_by == TOP_BY_LAG) {
        va = top_cur->st[pa].lag;
        vb = top_cur->st[pb].lag;
    } else if (top_by == TOP_BY_PENDING) {
        va = top_cur->st[pa].pending;
        vb = top_cur->st[pb].pending;
    }
    if (va != vb)
        return va < vb ? 1 : -1; /* largest first */
    return pa < pb ? -1 : pa > pb;
}

static void top_fmt_rate(char *buf, size_t len, double r)
{
    if (r < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", r);
}

/* One frame into f: a header with the totals, then a line per partition (at most rows
   lines in all when rows > 0). eol ends each line ("\n", or clear-to-end-of-line then
   "\r\n" on the terminal). prev may be NULL (first frame: rates unknown). */
static void top_render(FILE *f, const struct top_sample *prev, const struct top_sample *cur,
                       int rows, const char *eol)
{
    static const char *const sort_names[] = {"partition", "lag", "pending"};
    double secs = prev ? (double)(cur->at.tv_sec - prev->at.tv_sec) +
                             (double)(cur->at.tv_usec - prev->at.tv_usec) / 1e6
                       : 0;
    double accepted = 0, applied = 0;
    int rates_known = prev != NULL;
    long long tlen = 0, tlag = 0, tpend = 0;
    int live = 0, lines = 0;
    unsigned *order = xcalloc(partitions, sizeof(*order));
    double *applied_p = xcalloc(partitions, sizeof(*applied_p));
    char when[32], acc[32], app[32];
    time_t now = cur->at.tv_sec;
    struct tm tm;

    for (unsigned p = 0; p < partitions; p++) {
        const struct stream_stats *s = &cur->st[p];
        order[p] = p;
        applied_p[p] = -1;
        if (prev) {
            double a = top_rate(top_added(&prev->st[p]), top_added(s), secs);
            applied_p[p] = top_rate(top_acked(&prev->st[p]), top_acked(s), secs);
            if (a < 0 || applied_p[p] < 0)
                rates_known = 0;
            else {
                accepted += a;
                applied += applied_p[p];
            }
        }
        tlen += s->length;
        tlag += s->lag > 0 ? s->lag : 0;
        tpend += s->pending > 0 ? s->pending : 0;
    }
    for (size_t i = 0; i < cur->w.n; i++)
        live += cur->w.cs[i].live;
    top_cur = cur;
    qsort(order, partitions, sizeof(*order), top_cmp);
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    top_fmt_rate(acc, sizeof(acc), rates_known ? accepted : -1);
    top_fmt_rate(app, sizeof(app), rates_known ? applied : -1);

    fprintf(f, "splitterctl top  %s UTC  partitions %u  sorted by %s%s", when, partitions,
            sort_names[top_by], eol);
    fprintf(f, "accepted/s %s  applied/s %s  length %lld  lag %lld  pending %lld%s", acc, app, tlen,
            tlag, tpend, eol);
    fprintf(f, "live workers %d  dead letters %lld%s", live, cur->dead, eol);
    fprintf(f, "%s", eol);
    fprintf(f, "%-20s %8s %8s %8s %10s  %s%s", "STREAM", "LENGTH", "LAG", "PENDING", "APPLIED/S",
            "OWNER", eol);
    lines = 5;
    for (unsigned i = 0; i < partitions && (rows <= 0 || lines < rows - 1); i++, lines++) {
        unsigned p = order[i];
        const struct stream_stats *s = &cur->st[p];
        int o = cur->w.owner[p];
        char rate[32], lag[24];
        top_fmt_rate(rate, sizeof(rate), applied_p[p]);
        if (s->lag < 0) /* Redis cannot tell */
            snprintf(lag, sizeof(lag), "-");
        else
            snprintf(lag, sizeof(lag), "%lld", s->lag);
        fprintf(f, "%-20s %8lld %8s %8lld %10s  %s%s", s->name, s->length, lag, s->pending, rate,
                o < 0 ? "-" : cur->w.cs[o].name, eol);
    }
    if (rows > 0)
        fputs("q quit  l sort by lag  p by pending  n by partition", f);
    free(order);
    free(applied_p);
}

static volatile sig_atomic_t top_stop;    /* a signal asked top to end */
static volatile sig_atomic_t top_resized; /* the terminal changed size: redraw */

static void top_on_signal(int sig)
{
    if (sig == SIGWINCH)
        top_resized = 1;
    else
        top_stop = 1;
}

/* Terminal rows (0 when unknown). */
static int top_rows(void)
{
    struct winsize ws;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_row : 0;
}

/* Draw one frame: full screen on the terminal, plain lines otherwise. */
static void top_draw(int tty, const struct top_sample *prev, const struct top_sample *cur)
{
    if (tty) {
        fputs("\033[H", stdout);
        top_render(stdout, prev, cur, top_rows(), "\033[K\r\n");
        fputs("\033[K\033[J", stdout);
    } else {
        top_render(stdout, prev, cur, 0, "\n");
    }
    fflush(stdout);
}

static int cmd_top(int argc, char **argv)
{
    int once = 0, tty, rc = 1, raw_on = 0, have_prev = 0;
    struct termios saved, raw;
    struct top_sample prev = {0}, cur = {0};
    struct sigaction sa;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            once = 1;
        else
            return usage();
    }
    redisContext *rd = redis_open();
    if (!rd)
        return 1;
    /* Full screen and keys only on a terminal; --once prints one plain frame. */
    tty = !once && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = top_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            raw_on = 1;
        /* alternate screen, cursor hidden, no wrapping: a narrow window cuts lines short */
        fputs("\033[?1049h\033[?25l\033[?7l", stdout);
    }
    if (top_sample_take(rd, &cur) != 0)
        goto out;
    for (;;) {
        struct timeval due, now;
        /* Rates need two samples a second apart: the terminal shows the first frame
           without them, plain output waits for the second. */
        if (tty || have_prev) {
            top_draw(tty, have_prev ? &prev : NULL, &cur);
            if (!tty && !once)
                putchar('\n');
        }
        if (once && have_prev)
            break;
        /* Wait a second for the next frame, answering keys meanwhile. */
        gettimeofday(&due, NULL);
        due.tv_sec += 1;
        for (;;) {
            fd_set in;
            struct timeval left;
            char key;
            enum top_sort was = top_by;
            if (top_stop)
                goto done;
            if (top_resized) {
                top_resized = 0;
                top_draw(tty, have_prev ? &prev : NULL, &cur);
            }
            gettimeofday(&now, NULL);
            long long us =
                (long long)(due.tv_sec - now.tv_sec) * 1000000 + (due.tv_usec - now.tv_usec);
            if (us <= 0)
                break;
            left.tv_sec = (time_t)(us / 1000000);
            left.tv_usec = (suseconds_t)(us % 1000000);
            FD_ZERO(&in);
            if (tty)
                FD_SET(STDIN_FILENO, &in);
            if (select(tty ? STDIN_FILENO + 1 : 0, &in, NULL, NULL, &left) <= 0 ||
                read(STDIN_FILENO, &key, 1) != 1)
                continue; /* the second is over (checked above), or a signal */
            if (key == 'q' || key == 'Q')
                goto done;
            if (key == 'l')
                top_by = TOP_BY_LAG;
            else if (key == 'p')
                top_by = TOP_BY_PENDING;
            else if (key == 'n')
                top_by = TOP_BY_PARTITION;
            if (top_by != was) /* redraw at once, same figures */
                top_draw(tty, have_prev ? &prev : NULL, &cur);
        }
        top_sample_free(&prev);
        prev = cur;
        have_prev = 1;
        if (top_sample_take(rd, &cur) != 0)
            goto out;
    }
done:
    rc = 0;
out:
    if (tty) {
        fputs("\033[?7h\033[?25h\033[?1049l", stdout);
        fflush(stdout);
        if (raw_on)
            tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    }
    if (rc != 0)
        error("top: cannot read the queue and the workers from Redis");
    top_sample_free(&prev);
    top_sample_free(&cur);
    redisFree(rd);
    return rc;
}

/* --- replay -------------------------------------------------------------------------------- */

static PGresult *pq(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    error("postgres: %s", PQresultErrorMessage(res));
    PQclear(res);
    return NULL;
}

static int pexec(PGconn *pg, const char *sql, int n, const char *const *params)
{
    PGresult *r = pq(pg, sql, n, params);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

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
        if (!e || projection_apply(p, e, atoll(PQgetvalue(ev, i, 0)), err, sizeof(err)) != 0) {
            printf("group %s: event seq %s (%s) does not replay: %s\n", gid, PQgetvalue(ev, i, 0),
                   PQgetvalue(ev, i, 1), e ? err : "the payload is not JSON");
            rc = -1;
        }
        json_decref(e);
    }
    PQclear(ev);
    return rc;
}

static const char *const content_keys[] = {"description", "amount",   "currency", "exchange_rate",
                                           "date",        "category", "paid_by",  "split"};

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
           " " TS_SQL("created_at") ", " TS_SQL(
               "updated_at") ", json_build_object('description',"
                             " description, 'amount', amount, 'currency', currency, "
                             "'exchange_rate', exchange_rate,"
                             " 'date', to_char(date, 'YYYY-MM-DD'), 'category', category, "
                             "'paid_by', paid_by,"
                             " 'split', split)::text FROM expenses WHERE group_id = $1 ORDER BY id",
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
           " 'YYYY-MM-DD'), " TS_SQL("updated_at") ", coalesce(note, '') FROM payments"
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
        const char *pp[19] = {x->id,
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
                              cseq};
        int r = pexec(pg,
                      "INSERT INTO expenses (id, group_id, description, amount, currency,"
                      " exchange_rate, amount_in_group_currency, date, category, paid_by, split,"
                      " shares, created_by, created_at, updated_at, version, deleted, seq,"
                      " created_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                      " $13, $14, $15, $16, $17, $18, $19) ON CONFLICT (id) DO UPDATE SET"
                      " description ="
                      " EXCLUDED.description, amount = EXCLUDED.amount, currency ="
                      " EXCLUDED.currency, exchange_rate = EXCLUDED.exchange_rate,"
                      " amount_in_group_currency = EXCLUDED.amount_in_group_currency, date ="
                      " EXCLUDED.date, category = EXCLUDED.category, paid_by = EXCLUDED.paid_by,"
                      " split = EXCLUDED.split, shares = EXCLUDED.shares, created_by ="
                      " EXCLUDED.created_by, created_at = EXCLUDED.created_at, updated_at ="
                      " EXCLUDED.updated_at, version = EXCLUDED.version, deleted ="
                      " EXCLUDED.deleted, seq = EXCLUDED.seq, created_seq = EXCLUDED.created_seq",
                      19, pp);
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
                  "INSERT INTO payments (id, group_id, from_member, to_member, amount, date,"
                  " note, created_by, created_at, updated_at, version, deleted, seq) VALUES"
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
    struct view_member *vm = xcalloc(n + 1, sizeof(*vm));
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        vm[i].id = p->members[i].id;
        vm[i].name = PQgetvalue(members, (int)i, 1);
        vm[i].user_id = PQgetisnull(members, (int)i, 2) ? NULL : PQgetvalue(members, (int)i, 2);
        vm[i].paid = p->members[i].paid;
        vm[i].owed = p->members[i].owed;
        vm[i].sent = p->members[i].sent;
        vm[i].received = p->members[i].received;
    }
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

static int cmd_replay(int argc, char **argv)
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

/* --- audit: the ledger's hash chain (shared/chain.h, shared/audit.h) ---------------------- */

/* One JSON line to stdout; consumes v. */
static void put_line(json_t *v)
{
    char *text = json_dump_compact(v);
    puts(text);
    free(text);
    json_decref(v);
}

static int audit_export(const char *group)
{
    const char *p[1] = {group};
    PGconn *pg = pg_connect("splitterctl");
    PGresult *g = NULL, *m = NULL, *ev = NULL;
    int rc = 1;
    if (!pg)
        return 1;
    /* One snapshot for the header and the events. */
    if (pexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) != 0 ||
        !(g = pq(pg, "SELECT currency, encode(head_hash, 'hex') FROM groups WHERE id = $1", 1,
                 p)) ||
        !(m = pq(pg, "SELECT id, name FROM members WHERE group_id = $1 ORDER BY position", 1, p)) ||
        !(ev = pq(pg,
                  "SELECT seq, event_id, group_id, type, actor, " TS_SQL(
                      "accepted_at") ", payload::text, encode(hash, 'hex') FROM events WHERE "
                                     "group_id = $1"
                                     " ORDER BY seq",
                  1, p)))
        goto out;
    if (PQntuples(g) != 1) {
        error("no group %s", group);
        goto out;
    }
    json_t *members = json_array();
    for (int i = 0; i < PQntuples(m); i++)
        json_array_append_new(members, json_pack("{s:s, s:s}", "id", PQgetvalue(m, i, 0), "name",
                                                 PQgetvalue(m, i, 1)));
    put_line(json_pack("{s:s, s:i, s:s, s:s, s:o, s:o}", "ledger", "splitter", "version", 1,
                       "group_id", group, "currency", PQgetvalue(g, 0, 0), "members", members,
                       "head_hash",
                       PQgetisnull(g, 0, 1) ? json_null() : json_string(PQgetvalue(g, 0, 1))));
    for (int i = 0; i < PQntuples(ev); i++)
        put_line(json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
                           (json_int_t)atoll(PQgetvalue(ev, i, 0)), "event_id",
                           PQgetvalue(ev, i, 1), "group_id", PQgetvalue(ev, i, 2), "type",
                           PQgetvalue(ev, i, 3), "actor", PQgetvalue(ev, i, 4), "accepted_at",
                           PQgetvalue(ev, i, 5), "payload", PQgetvalue(ev, i, 6), "hash",
                           PQgetvalue(ev, i, 7)));
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    PQclear(g), PQclear(m), PQclear(ev);
    PQfinish(pg);
    return rc;
}

static int audit_verify_file(const char *path, const char *head)
{
    unsigned char recorded[CHAIN_HASH_SIZE];
    if (head && chain_unhex(head, recorded) != 0) {
        error("--head: '%s' is not a hash (64 hex digits)", head);
        return 2;
    }
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    struct audit_result r;
    if (!in) {
        error("cannot open %s", path);
        return 1;
    }
    int rc = audit_verify(in, head ? recorded : NULL, &r);
    if (in != stdin)
        fclose(in);
    if (rc != 0) {
        if (r.event_id[0] || r.seq)
            printf("BROKEN at seq %lld, event %s: %s\n", (long long)r.seq,
                   r.event_id[0] ? r.event_id : "(unknown)", r.why);
        else
            printf("BROKEN: %s\n", r.why);
        projection_release(&r.proj);
        return 1;
    }
    char hex[CHAIN_HEX_SIZE];
    chain_hex(r.head, hex);
    printf("verified group %s: %lld events\nhead %s\n", r.proj.group_id, (long long)r.events,
           r.events ? hex : "(none)");
    if (head)
        printf("recorded head %s is the link of seq %lld\n", head, (long long)r.recorded_seq);
    for (size_t i = 0; i < r.proj.n_members; i++) {
        const struct projection_member *mb = &r.proj.members[i];
        /* balance = paid - owed + sent - received (in range: ledger.h, LEDGER_RANGE_DETAIL) */
        int64_t bal = 0;
        if (money_sub(mb->paid, mb->owed, &bal) != 0 || money_add(bal, mb->sent, &bal) != 0 ||
            money_sub(bal, mb->received, &bal) != 0) {
            printf("BROKEN: member %s: the balance leaves the 64-bit range\n", mb->id);
            projection_release(&r.proj);
            return 1;
        }
        printf("balance %s %s paid %" PRId64 " owed %" PRId64 " sent %" PRId64 " received %" PRId64
               " balance %" PRId64 "\n",
               mb->id, r.proj.currency, mb->paid, mb->owed, mb->sent, mb->received, bal);
    }
    projection_release(&r.proj);
    return 0;
}

/* --- migrate ------------------------------------------------------------------------------- */

/* The number of recorded migrations, 0 before the first; -1 on a failure. */
static long migrations_recorded(PGconn *pg)
{
    PGresult *r = pq(pg,
                     "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 "
                     "ELSE (SELECT count(*) FROM schema_migrations) END",
                     0, NULL);
    if (!r)
        return -1;
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* The api and the workers apply pending migrations at start-up too (under the same advisory
   lock); this applies them once, ahead of a rollout, and exits. Waits up to 60 s for
   PostgreSQL, as the api does. */
static int cmd_migrate(int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return usage();
    const char *dir = config_str("SPLITTER_MIGRATIONS_DIR", "postgres/migrations");
    PGconn *pg = NULL;
    for (int attempt = 0; attempt < 120 && !pg; attempt++) {
        pg = pg_connect("splitterctl-migrate");
        if (!pg)
            usleep(500 * 1000);
    }
    if (!pg)
        return error("migrate: PostgreSQL unreachable for 60 s");
    int rc = 1;
    long before = migrations_recorded(pg), after;
    if (before < 0)
        goto out;
    if (pg_migrate(pg, dir) != 0) {
        error("migrate: applying the migrations in '%s' failed", dir);
        goto out;
    }
    after = migrations_recorded(pg);
    if (after < 0)
        goto out;
    printf("migrate: %ld applied, %ld recorded (%s)\n", after - before, after, dir);
    rc = 0;
out:
    PQfinish(pg);
    return rc;
}

static int cmd_audit(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[0], "export") == 0 && strcmp(argv[1], "--group") == 0) {
        if (!ledger_is_uuid(argv[2])) {
            error("--group: '%s' is not a group id", argv[2]);
            return 2;
        }
        return audit_export(argv[2]);
    }
    if (argc == 2 && strcmp(argv[0], "verify") == 0)
        return audit_verify_file(argv[1], NULL);
    if (argc == 4 && strcmp(argv[0], "verify") == 0 && strcmp(argv[2], "--head") == 0)
        return audit_verify_file(argv[1], argv[3]);
    return usage();
}

int main(int argc, char **argv)
{
    int64_t v;
    if (log_init("splitterctl", config_str("LOG_LEVEL", "warn")) != 0)
        log_init("splitterctl", "warn");
    if (config_secret_files(config_secrets) != 0)
        return 2;
    if (config_int("SPLITTER_PARTITIONS", 16, 1, 256, &v) != 0)
        return 2;
    partitions = (unsigned)v;
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "queue") == 0)
        return cmd_queue(argc - 2, argv + 2);
    if (strcmp(argv[1], "dead") == 0)
        return cmd_dead(argc - 2, argv + 2);
    if (strcmp(argv[1], "workers") == 0)
        return cmd_workers(argc - 2, argv + 2);
    if (strcmp(argv[1], "top") == 0)
        return cmd_top(argc - 2, argv + 2);
    if (strcmp(argv[1], "replay") == 0)
        return cmd_replay(argc - 2, argv + 2);
    if (strcmp(argv[1], "audit") == 0)
        return cmd_audit(argc - 2, argv + 2);
    if (strcmp(argv[1], "migrate") == 0)
        return cmd_migrate(argc - 2, argv + 2);
    return usage();
}

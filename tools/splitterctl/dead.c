/* splitterctl dead list|retry|drop: the dead-letter stream. */
#include "splitterctl.h"

#include "keys.h"
#include "projection.h"
#include "xalloc.h"

#include <string.h>

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
        const redisReply *s = reply_kv_get(e->element[1], "stream"),
                         *en = reply_kv_get(e->element[1], "entry");
        const redisReply *ev = reply_kv_get(e->element[1], "event"),
                         *er = reply_kv_get(e->element[1], "error");
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
                s = reply_kv_get(r->element[0]->element[1], "stream");
                ev = reply_kv_get(r->element[0]->element[1], "event");
            }
            unsigned p;
            if (!s || !ev || s->type != REDIS_REPLY_STRING || ev->type != REDIS_REPLY_STRING ||
                keys_stream_partition(s->str, &p) != 0 || p >= partitions) {
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

int cmd_dead(int argc, char **argv)
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

/* splitterctl workers: live consumers, heartbeat age, idle time. */
#include "splitterctl.h"

#include "keys.h"
#include "xalloc.h"

#include <string.h>

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

void workers_free(struct workers *w)
{
    free(w->cs);
    free(w->owner);
    memset(w, 0, sizeof(*w));
}

/* Gather w (zeroed by the caller) with one pipeline. 0, or -1. */
int workers_gather(redisContext *rd, struct workers *w)
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
        keys_lease(key, sizeof(key), p);
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
            const redisReply *name = reply_kv_get(ci->element[i], "name");
            if (!name || name->type != REDIS_REPLY_STRING)
                continue;
            struct consumer *c = consumer_get(&w->cs, &w->n, &w->alloc, name->str);
            long long idle = reply_int_of(reply_kv_get(ci->element[i], "idle"), -1);
            c->pending += reply_int_of(reply_kv_get(ci->element[i], "pending"), 0);
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

int cmd_workers(int argc, char **argv)
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

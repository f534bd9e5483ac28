/* splitterctl queue: depth, lag, pending and dead letters per stream. */
#include "splitterctl.h"

#include "keys.h"
#include "xalloc.h"

#include <string.h>

/* Gather every partition's numbers with one pipeline. 0, or -1. */
int queue_gather(redisContext *rd, struct stream_stats *st, long long *dead)
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
        st[p].length = reply_int_of(r[0], 0);
        st[p].lag = st[p].pending = st[p].oldest_pending_ms = st[p].entries_read = -1;
        st[p].consumers = json_object();
        /* A missing stream or group answers an error: nothing there yet. */
        for (size_t g = 0; r[1]->type == REDIS_REPLY_ARRAY && g < r[1]->elements; g++) {
            const redisReply *name = reply_kv_get(r[1]->element[g], "name");
            if (name && name->type == REDIS_REPLY_STRING &&
                strcmp(name->str, KEYS_CONSUMER_GROUP) == 0) {
                st[p].lag = reply_int_of(reply_kv_get(r[1]->element[g], "lag"), -1);
                st[p].pending = reply_int_of(reply_kv_get(r[1]->element[g], "pending"), -1);
                st[p].entries_read =
                    reply_int_of(reply_kv_get(r[1]->element[g], "entries-read"), -1);
                /* nil until the group reads its first entry */
                const redisReply *last = reply_kv_get(r[1]->element[g], "last-delivered-id");
                if (st[p].entries_read < 0 && last && last->type == REDIS_REPLY_STRING &&
                    strcmp(last->str, "0-0") == 0)
                    st[p].entries_read = 0;
            }
        }
        if (r[2]->type == REDIS_REPLY_ARRAY && r[2]->elements == 4) {
            st[p].pending = reply_int_of(r[2]->element[0], st[p].pending);
            const redisReply *cs = r[2]->element[3];
            for (size_t i = 0; cs->type == REDIS_REPLY_ARRAY && i < cs->elements; i++)
                if (cs->element[i]->type == REDIS_REPLY_ARRAY && cs->element[i]->elements == 2)
                    json_object_set_new(st[p].consumers, cs->element[i]->element[0]->str,
                                        json_integer(reply_int_of(cs->element[i]->element[1], 0)));
        } else if (st[p].pending < 0) {
            st[p].pending = 0;
        }
        if (st[p].lag < 0 && r[1]->type == REDIS_REPLY_ERROR)
            st[p].lag = 0;
        if (r[3]->type == REDIS_REPLY_ARRAY && r[3]->elements == 1 &&
            r[3]->element[0]->type == REDIS_REPLY_ARRAY && r[3]->element[0]->elements == 4)
            st[p].oldest_pending_ms = reply_int_of(r[3]->element[0]->element[2], -1);
        for (int k = 0; k < 4; k++)
            freeReplyObject(r[k]);
    }
    redisReply *d = next_reply(rd);
    if (!d)
        return -1;
    *dead = reply_int_of(d, 0);
    freeReplyObject(d);
    return 0;
}

void print_num(long long v, int width)
{
    if (v < 0)
        printf("%*s", width, "-");
    else
        printf("%*lld", width, v);
}

int cmd_queue(int argc, char **argv)
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

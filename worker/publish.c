/*
 * publish: step 6 of a batch (see apply.c), after the commit: what Redis
 * learns of the batch, in one pipeline.
 */
#include "batch.h"

#include "cache.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "script.h"
#include "view.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
   them from now on: Redis keeps only what is in flight) and PUBLISH naming
   every finished event; then for each partition, XACK and the trim below
   its last entry. */
void publish(struct batch *b, const struct stream_entry *entries)
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
        const struct projection *pj = &g->proj;
        if (pj->archived)
            continue; /* never cached: the api's access check reads it from PostgreSQL */
        struct view v;
        struct view_cmd cmd;
        struct view_member *vm = xcalloc(pj->n_members + 1, sizeof(*vm));
        for (size_t k = 0; k < pj->n_members; k++) {
            const struct projection_member *m = &pj->members[k];
            vm[k].id = m->id;
            vm[k].name = g->info[k].name;
            vm[k].user_id = g->info[k].user_id;
            vm[k].paid = m->paid;
            vm[k].owed = m->owed;
            vm[k].sent = m->sent;
            vm[k].received = m->received;
        }
        if (view_build(pj->group_id, pj->currency, g->version, vm, pj->n_members, &v) == 0) {
            view_cache_command(&cmd, pj->group_id, pj->currency, g->version, &v, vm, pj->n_members);
            pipe_script(&pp, &view_cache_script, cmd.argc - VIEW_CMD_ARGS,
                        cmd.argv + VIEW_CMD_ARGS);
            view_cmd_release(&cmd);
            view_release(&v);
        }
        free(vm);
    }
    del[n_del++] = "DEL";
    for (size_t i = 0; i < b->n_ev; i++) {
        struct entry *ev = &b->ev[i];
        if (ev->outcome == OUT_DEFERRED)
            continue; /* pending: nothing to say yet */
        if (ev->outcome == OUT_MALFORMED) {
            char from[64];
            keys_stream(from, sizeof(from), entries[i].p);
            const char *argv[11] = {"XADD",
                                    KEYS_DEAD_STREAM,
                                    "*",
                                    "stream",
                                    from,
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
        keys_fmt(keys[i], sizeof(keys[i]), "event", ev->e.id);
        strbuf_add(&done, done.len ? " " : "");
        strbuf_add(&done, ev->e.id);
        if (ev->idem_record) {
            /* Rejected for its key: the api's record of the key (made when it
               accepted this event) names the original again, so later
               retries answer like the first request. */
            char key[160];
            char *rec = json_dump_compact(ev->idem_record);
            const char *argv[5] = {"SET", keys_idem(key, sizeof(key), ev->e.actor, ev->e.idem_sha),
                                   rec, "XX", "KEEPTTL"};
            pipe_cmd(&pp, 5, argv, NULL);
            free(rec);
        }
        if (ev->wait && (ev->outcome == OUT_APPLIED || ev->outcome == OUT_REJECTED)) {
            int applied = ev->outcome == OUT_APPLIED;
            bodies[i] = json_dump_compact(applied ? ev->result : ev->problem);
            char version[24] = "";
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
    /* Per partition: XACK, and the trim. Everything up to its last entry is
       applied and acknowledged now (a partition is read in order by its one
       owner): trim below it. Not while entries of a locked group wait,
       pending, below it. */
    for (size_t k = 0; k < b->n_parts; k++) {
        const struct bpart *bp = &b->parts[k];
        keys_stream(stream, sizeof(stream), bp->p);
        n_ack = 0;
        ack[n_ack++] = "XACK";
        ack[n_ack++] = stream;
        ack[n_ack++] = KEYS_CONSUMER_GROUP;
        for (size_t i = 0; i < b->n_ev; i++)
            if (entries[i].p == bp->p && b->ev[i].outcome != OUT_DEFERRED)
                ack[n_ack++] = entries[i].id;
        if (n_ack > 3)
            pipe_cmd(&pp, (int)n_ack, ack, NULL);
        if (bp->defer->n == 0) {
            next_id(bp->last, minid, sizeof(minid));
            const char *argv[4] = {"XTRIM", stream, "MINID", minid};
            pipe_cmd(&pp, 4, argv, NULL);
        }
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

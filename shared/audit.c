/*
 * audit: checking an exported ledger offline (audit.h).
 */
#include "audit.h"

#include "ledger.h"
#include "xalloc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* One line of in into *buf (grown as needed, never past AUDIT_LINE_MAX + 2 bytes): its length,
   -1 at the end of the file, -2 when it is longer than AUDIT_LINE_MAX. */
static long read_line(FILE *in, char **buf, size_t *cap)
{
    size_t len = 0;
    for (;;) {
        if (*cap - len < 2) {
            if (*cap >= AUDIT_LINE_MAX + 2)
                return -2;
            *cap = *cap ? (*cap * 2 < AUDIT_LINE_MAX + 2 ? *cap * 2 : AUDIT_LINE_MAX + 2) : 4096;
            *buf = xrealloc(*buf, *cap);
        }
        if (!fgets(*buf + len, (int)(*cap - len), in))
            return len ? (long)len : -1;
        len += strlen(*buf + len);
        if (len && (*buf)[len - 1] == '\n')
            return (long)len;
    }
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int broken(struct audit_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int broken(struct audit_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    return -1;
}

static int header(const char *line, struct audit_result *r, int *ready, char *head, size_t size)
{
    json_t *h = json_loads(line, 0, NULL);
    const char *gid = jstr(h, "group_id"), *cur = jstr(h, "currency");
    const json_t *members = json_object_get(h, "members");
    int rc = -1;
    if (!h || !jstr(h, "ledger") || strcmp(jstr(h, "ledger"), "splitter") != 0 ||
        json_integer_value(json_object_get(h, "version")) != 1 || !gid || !ledger_is_uuid(gid) ||
        !cur || strlen(cur) != 3 || !json_is_array(members)) {
        broken(r, "the first line is not a splitter ledger header (version 1)");
        goto out;
    }
    projection_init(&r->proj, gid, cur);
    *ready = 1;
    size_t i;
    const json_t *m;
    json_array_foreach(members, i, m)
    {
        const char *id = jstr(m, "id");
        if (!id || !ledger_is_uuid(id)) {
            broken(r, "the header's member %zu has no id", i);
            goto out;
        }
        projection_add_member(&r->proj, id);
    }
    snprintf(head, size, "%s", jstr(h, "head_hash") ? jstr(h, "head_hash") : "");
    rc = 0;
out:
    json_decref(h);
    return rc;
}

/* The columns an event's payload repeats must say the same. */
static const char *disagreeing(const json_t *line, const json_t *payload)
{
    static const char *const keys[] = {"event_id", "group_id", "type", "actor", "accepted_at"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *a = jstr(line, keys[i]), *b = jstr(payload, keys[i]);
        if (!a || !b || strcmp(a, b) != 0)
            return keys[i];
    }
    return NULL;
}

/* Where the header's head_hash was met: the event after it is the first one it does not
   cover. */
struct head_seen {
    unsigned char want[CHAIN_HASH_SIZE];
    int valid, met;
    char after_id[UUID_STR_SIZE];
    int64_t after_seq;
    const unsigned char *recorded; /* NULL, or a head noted earlier */
};

static int event(const char *line, struct audit_result *r, struct head_seen *hs)
{
    json_t *e = json_loads(line, 0, NULL), *payload = NULL;
    const json_t *seqv = json_object_get(e, "seq"), *pv = json_object_get(e, "payload");
    const char *id = jstr(e, "event_id"), *hash = jstr(e, "hash");
    unsigned char want[CHAIN_HASH_SIZE], got[CHAIN_HASH_SIZE];
    char err[256];
    int rc = -1;

    r->seq = json_is_integer(seqv) ? json_integer_value(seqv) : 0;
    snprintf(r->event_id, sizeof(r->event_id), "%s", id && ledger_is_uuid(id) ? id : "");
    if (!e || !json_is_integer(seqv) || !id || !json_is_string(pv)) {
        broken(r, "line %lld is not an event with seq, event_id and payload",
               (long long)r->events + 2);
        goto out;
    }
    if (r->seq != r->proj.last_seq + 1) {
        broken(r, "seq %lld follows seq %lld: an event is missing, added or moved",
               (long long)r->seq, (long long)r->proj.last_seq);
        goto out;
    }
    struct chain_event ce = {
        jstr(e, "group_id"),    id,     jstr(e, "type"),       jstr(e, "actor"),
        jstr(e, "accepted_at"), r->seq, json_string_value(pv), json_string_length(pv)};
    if (chain_unhex(hash, want) != 0) {
        broken(r, "the event has no hash");
        goto out;
    }
    if (chain_link(r->head, &ce, got, err, sizeof(err)) != 0) {
        broken(r, "the event cannot be chained: %s", err);
        goto out;
    }
    if (memcmp(got, want, sizeof(got)) != 0) {
        char hex[CHAIN_HEX_SIZE];
        chain_hex(got, hex);
        broken(r, "the hash does not match the event and the previous hash (computed %s)", hex);
        goto out;
    }
    payload = json_loadb(ce.payload, ce.payload_len, 0, NULL);
    const char *key = payload ? disagreeing(e, payload) : "payload";
    if (key) {
        broken(r, "the event's %s disagrees with its payload", key);
        goto out;
    }
    if (projection_apply_json(&r->proj, payload, r->seq, err, sizeof(err)) != 0) {
        broken(r, "the event does not replay: %s", err);
        goto out;
    }
    if (hs->met == 1) {
        snprintf(hs->after_id, sizeof(hs->after_id), "%s", id);
        hs->after_seq = r->seq;
        hs->met = 2;
    }
    if (hs->valid && !hs->met && memcmp(got, hs->want, sizeof(got)) == 0)
        hs->met = 1;
    if (hs->recorded && !r->recorded_seq && memcmp(got, hs->recorded, sizeof(got)) == 0)
        r->recorded_seq = r->seq;
    memcpy(r->head, got, sizeof(r->head));
    r->events++;
    rc = 0;
out:
    json_decref(payload);
    json_decref(e);
    return rc;
}

int audit_verify(FILE *in, const unsigned char *recorded, struct audit_result *r)
{
    char *line = NULL, head[CHAIN_HEX_SIZE + 8] = "";
    size_t cap = 0;
    long len;
    int ready = 0, rc = -1;
    struct head_seen hs = {.recorded = recorded};

    memset(r, 0, sizeof(*r));
    if ((len = read_line(in, &line, &cap)) < 0) {
        broken(r, len == -1 ? "the ledger is empty" : "the header line is too long");
        goto out;
    }
    if (header(line, r, &ready, head, sizeof(head)) != 0)
        goto out;
    hs.valid = chain_unhex(head, hs.want) == 0;
    while ((len = read_line(in, &line, &cap)) != -1) {
        if (len == -2) {
            broken(r, "line %lld is longer than %u bytes", (long long)r->events + 2,
                   AUDIT_LINE_MAX);
            goto out;
        }
        if (len == 1 && line[0] == '\n')
            continue;
        if (event(line, r, &hs) != 0)
            goto out;
    }
    r->event_id[0] = '\0';
    r->seq = 0;
    if ((head[0] || r->events > 0) &&
        (!hs.valid || memcmp(hs.want, r->head, sizeof(hs.want)) != 0)) {
        if (hs.met == 2) {
            snprintf(r->event_id, sizeof(r->event_id), "%s", hs.after_id);
            r->seq = hs.after_seq;
            broken(r, "the group's head_hash ends the chain before this event: it and the "
                      "events after it were added");
        } else {
            broken(r,
                   "the chain ends at a different hash than the group's head_hash %s: the "
                   "newest events are missing or were replaced",
                   head[0] ? head : "(none)");
        }
        goto out;
    }
    if (recorded && !r->recorded_seq) {
        char hex[CHAIN_HEX_SIZE];
        chain_hex(recorded, hex);
        broken(r,
               "the recorded head %s is not a link of this chain: the history up to it was "
               "rewritten",
               hex);
        goto out;
    }
    rc = 0;
out:
    if (!ready)
        projection_init(&r->proj, "", "");
    free(line);
    return rc;
}

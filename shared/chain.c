/*
 * chain: canonical bytes and links of the events' hash chain (chain.h).
 */
#include "chain.h"

#include "sha256.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* YYYY-MM-DDTHH:MM:SSZ */
static int is_time(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (!s || strlen(s) != sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return 0;
    }
    return 1;
}

static int is_type(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '.' || *s == '_'))
            return 0;
    return 1;
}

int chain_check(const struct chain_event *e, char *err, size_t err_size)
{
    const char *bad = NULL;
    if (!is_time(e->accepted_at))
        bad = "accepted_at is not YYYY-MM-DDTHH:MM:SSZ";
    else if (!is_uuid(e->actor))
        bad = "actor is not a lowercase uuid";
    else if (!is_uuid(e->event_id))
        bad = "event_id is not a lowercase uuid";
    else if (!is_uuid(e->group_id))
        bad = "group_id is not a lowercase uuid";
    else if (!e->payload || e->payload_len == 0)
        bad = "payload is empty";
    else if (e->seq < 1)
        bad = "seq is not positive";
    else if (!is_type(e->type))
        bad = "type is not an event type";
    if (bad) {
        snprintf(err, err_size, "%s", bad);
        return -1;
    }
    return 0;
}

int chain_canonical(const struct chain_event *e, struct strbuf *out, char *err, size_t err_size)
{
    if (chain_check(e, err, err_size) != 0)
        return -1;
    char seq[24], digest[CHAIN_HEX_SIZE];
    unsigned char h[CHAIN_HASH_SIZE];
    snprintf(seq, sizeof(seq), "%lld", (long long)e->seq);
    sha256_digest(h, e->payload, e->payload_len);
    chain_hex(h, digest);
    strbuf_add(out, "{\"accepted_at\":\"");
    strbuf_add(out, e->accepted_at);
    strbuf_add(out, "\",\"actor\":\"");
    strbuf_add(out, e->actor);
    strbuf_add(out, "\",\"event_id\":\"");
    strbuf_add(out, e->event_id);
    strbuf_add(out, "\",\"group_id\":\"");
    strbuf_add(out, e->group_id);
    strbuf_add(out, "\",\"payload_sha256\":\"");
    strbuf_add(out, digest);
    strbuf_add(out, "\",\"seq\":");
    strbuf_add(out, seq);
    strbuf_add(out, ",\"type\":\"");
    strbuf_add(out, e->type);
    strbuf_add(out, "\"}");
    return 0;
}

int chain_link(const unsigned char prev[CHAIN_HASH_SIZE], const struct chain_event *e,
               unsigned char out[CHAIN_HASH_SIZE], char *err, size_t err_size)
{
    struct strbuf sb = {0};
    if (chain_canonical(e, &sb, err, err_size) != 0)
        return -1;
    sha256_digest2(out, prev, CHAIN_HASH_SIZE, sb.buf, sb.len);
    free(sb.buf);
    return 0;
}

void chain_hex(const unsigned char h[CHAIN_HASH_SIZE], char hex[CHAIN_HEX_SIZE])
{
    sodium_bin2hex(hex, CHAIN_HEX_SIZE, h, CHAIN_HASH_SIZE);
}

int chain_unhex(const char *hex, unsigned char h[CHAIN_HASH_SIZE])
{
    size_t len = 0;
    const char *end = NULL;
    if (!hex || strlen(hex) != 2 * CHAIN_HASH_SIZE ||
        sodium_hex2bin(h, CHAIN_HASH_SIZE, hex, 2 * CHAIN_HASH_SIZE, NULL, &len, &end) != 0 ||
        len != CHAIN_HASH_SIZE || end != hex + 2 * CHAIN_HASH_SIZE)
        return -1;
    return 0;
}

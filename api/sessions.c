/*
 * sessions: the api's in-process cache of bearer sessions.
 *
 * Redis holds the sessions; this cache only spares it one GETEX per request
 * and keeps reads working while Redis is down. An entry maps a token's
 * SHA-256 to its user id and remembers when Redis last confirmed it (loop
 * time, milliseconds). auth_then (http.c) uses an entry younger than
 * SESSION_RECHECK_S without asking Redis, and, while Redis is unreachable,
 * one younger than SESSION_GRACE_S. So a logout reaches this process at
 * once, and other api processes within SESSION_RECHECK_S (docs/SECURITY.md).
 *
 * A fixed table, 4-way set associative, indexed by the hash's first bytes
 * (uniformly random): bounded memory, no allocation, and a full set evicts
 * its least recently verified entry. One event loop uses it: not
 * thread-safe.
 */
#include "api.h"

#include <string.h>

#define SESSIONS_SETS 2048 /* power of two */
#define SESSIONS_WAYS 4

struct session {
    char hash[64];               /* hex SHA-256 of the token, not NUL-terminated */
    char user_id[UUID_STR_SIZE]; /* "" when the slot is free */
    uint64_t verified_ms;
};

static struct session table[SESSIONS_SETS][SESSIONS_WAYS];

static struct session *set_of(const char *token_hash)
{
    unsigned v = 0;
    for (int i = 0; i < 6; i++) {
        char ch = token_hash[i];
        v = v * 16 + (unsigned)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    return table[v & (SESSIONS_SETS - 1)];
}

static struct session *find(const char *token_hash)
{
    struct session *set = set_of(token_hash);
    for (int i = 0; i < SESSIONS_WAYS; i++)
        if (set[i].user_id[0] && memcmp(set[i].hash, token_hash, 64) == 0)
            return &set[i];
    return NULL;
}

int sessions_lookup(const char *token_hash, char *user_id, uint64_t *age_ms)
{
    const struct session *s = find(token_hash);
    uint64_t now = uv_now(api.loop);
    if (!s)
        return 0;
    memcpy(user_id, s->user_id, UUID_STR_SIZE);
    *age_ms = now > s->verified_ms ? now - s->verified_ms : 0;
    return 1;
}

void sessions_put(const char *token_hash, const char *user_id)
{
    struct session *s = find(token_hash);
    if (!s) {
        struct session *set = set_of(token_hash);
        s = &set[0];
        for (int i = 0; i < SESSIONS_WAYS; i++) {
            if (!set[i].user_id[0]) {
                s = &set[i];
                break;
            }
            if (set[i].verified_ms < s->verified_ms)
                s = &set[i];
        }
        memcpy(s->hash, token_hash, 64);
    }
    memcpy(s->user_id, user_id, 36);
    s->user_id[36] = '\0';
    s->verified_ms = uv_now(api.loop);
}

void sessions_forget(const char *token_hash)
{
    struct session *s = find(token_hash);
    if (s)
        memset(s, 0, sizeof(*s));
}

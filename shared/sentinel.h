/*
 * sentinel: finding the Redis primary through Redis Sentinel, and telling
 * the errors that mean the primary moved.
 *
 * With REDIS_SENTINELS (comma-separated host:port) and REDIS_MASTER_NAME set,
 * api, worker and splitterctl ask each sentinel in turn for the primary's
 * address (SENTINEL get-master-addr-by-name), connect to it and confirm with
 * ROLE that it is a primary, so that a sentinel still naming a demoted
 * server sends nobody there. Unset, they connect to REDIS_HOST:REDIS_PORT as
 * before.
 *
 * Passwords: the primary is authenticated with REDIS_PASSWORD; sentinels
 * with REDIS_SENTINEL_PASSWORD when set, else REDIS_PASSWORD (a sentinel
 * without a password refuses AUTH: that refusal is ignored, and the next
 * command tells whether it needed one).
 *
 * Every call here blocks. Each connect, and each socket write or read of a
 * command, waits at most timeout_ms, so a discovery that finds nothing ends
 * within (5 * sentinels + 5) * timeout_ms (sentinels that refuse at once, as
 * a stopped process does, cost microseconds each). The worker and splitterctl call it on their
 * own thread; the api on libuv's thread pool, never on its event loop.
 * Thread-safe: it only reads the configuration.
 */
#ifndef SPLITTER_SENTINEL_H
#define SPLITTER_SENTINEL_H

#include "config.h"

#include <hiredis/hiredis.h>
#include <stddef.h>

/* Most sentinels REDIS_SENTINELS may list. */
#define SENTINEL_MAX 16

struct sentinel_config {
    struct config_hostport sentinels[SENTINEL_MAX];
    size_t n;                  /* 0: Sentinel not in use */
    char master_name[128];     /* REDIS_MASTER_NAME */
    const char *password;      /* REDIS_PASSWORD for the primary ("" none), borrowed */
    const char *sentinel_auth; /* REDIS_SENTINEL_PASSWORD, else REDIS_PASSWORD, borrowed */
    int timeout_ms;            /* REDIS_SENTINEL_TIMEOUT_MS: each connect and each command */
};

/*
 * Fill c from the environment (REDIS_SENTINELS, REDIS_MASTER_NAME,
 * REDIS_SENTINEL_PASSWORD, REDIS_SENTINEL_TIMEOUT_MS, REDIS_PASSWORD). c->n
 * is 0 when REDIS_SENTINELS is unset. 0, or -1 (logged) when the list is
 * malformed or REDIS_MASTER_NAME is missing or too long.
 */
int sentinel_config_load(struct sentinel_config *c);

/*
 * A new connection to the Redis server at host:port, with timeout_ms for the
 * connect and every command after it, authenticated with password unless it
 * is NULL or "". NULL after logging why. The caller redisFree()s it.
 */
redisContext *sentinel_dial(const char *host, int port, const char *password, int timeout_ms);

/*
 * The primary's address as the first sentinel of c that answers names it,
 * into host (host_size bytes) and *port; not confirmed with ROLE. 0, or -1
 * (logged) when no sentinel names one.
 */
int sentinel_lookup(const struct sentinel_config *c, char *host, size_t host_size, int *port);

/*
 * A new connection to the current primary, found through the sentinels of c
 * (c->n > 0) and confirmed by ROLE; its address in host (host_size bytes)
 * and *port. Commands on it time out after c->timeout_ms: set your own with
 * redisSetTimeout. NULL after logging why. The caller redisFree()s it.
 */
redisContext *sentinel_connect(const struct sentinel_config *c, char *host, size_t host_size,
                               int *port);

/*
 * 1 when an error reply (text err, len bytes) says the server is not, or not
 * yet, a writable primary: READONLY (a replica now), LOADING (loading its
 * data), MASTERDOWN (a replica that lost its primary). The connection should
 * then be dropped and the primary found again. 0 for anything else.
 */
int sentinel_moved(const char *err, size_t len);

#endif

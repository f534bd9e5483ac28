/*
 * webhook: what the api and the worker's delivery threads agree on about a
 * webhook: which URLs may receive deliveries, how a delivery is signed, and
 * when a failed one is tried again.
 *
 * URL rules (docs/SECURITY.md): https only, no user info or fragment, a host
 * name or an IP literal, printable ASCII, at most WEBHOOK_URL_MAX bytes; and
 * every address the host resolves to must be public (not private, loopback,
 * link-local, CGNAT, multicast, documentation, reserved or unspecified, IPv4
 * or IPv6, IPv4 embedded in IPv6 included). The check runs at registration
 * and again before each delivery, which connects to the very address it
 * checked (no second lookup a rebinding DNS server could answer otherwise).
 * allow_insecure (WEBHOOKS_ALLOW_INSECURE=1, for tests and development only)
 * also accepts http:// and loopback addresses; never other private ranges.
 *
 * Thread-safe; nothing allocates except webhook_resolve (getaddrinfo).
 */
#ifndef SPLITTER_WEBHOOK_H
#define SPLITTER_WEBHOOK_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_HOST_MAX 256
#define WEBHOOK_SIGNATURE_HEX 65 /* 64 hex digits and NUL */

/* A URL taken apart. host has no brackets (an IPv6 literal is bare). */
struct webhook_url {
    int tls; /* 1: https */
    char host[WEBHOOK_HOST_MAX];
    int port;
    char path[WEBHOOK_URL_MAX]; /* path and query, at least "/" */
};

/* Parse url into out. 0; or -1 with *why set to a static reason ("must use
   https", ...) naming no field. */
int webhook_url_parse(const char *url, int allow_insecure, struct webhook_url *out,
                      const char **why);

enum webhook_addr_class {
    WEBHOOK_ADDR_PUBLIC,
    WEBHOOK_ADDR_LOOPBACK,
    WEBHOOK_ADDR_PRIVATE, /* every other range deliveries never go to */
};

/* The class of an AF_INET or AF_INET6 address (any other family: private). */
enum webhook_addr_class webhook_addr_classify(const struct sockaddr *sa);

/* 1 if deliveries may go to sa: public, or loopback when allow_insecure. */
int webhook_addr_allowed(const struct sockaddr *sa, int allow_insecure);

/* Pick the address to connect to from a getaddrinfo answer: the first, if
   every address of the list is allowed (one refused address refuses the
   host: no mixing a public and a private record), copied into out. 0; or -1
   with *why set (static). */
int webhook_addrinfo_pick(const struct addrinfo *ai, int allow_insecure,
                          struct sockaddr_storage *out, socklen_t *out_len, const char **why);

/* Resolve u->host (blocking getaddrinfo: worker threads only) and pick as
   above, with u->port set in out. 0; or -1 with *why set (static). */
int webhook_resolve(const struct webhook_url *u, int allow_insecure, struct sockaddr_storage *out,
                    socklen_t *out_len, const char **why);

/* The signature of a delivery: lowercase hex HMAC-SHA256 keyed by secret
   (its bytes, as shown at creation) over timestamp "." body, into hex
   (WEBHOOK_SIGNATURE_HEX bytes). Sent as "Splitter-Signature: v1=<hex>". */
void webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                  char *hex);

/* Milliseconds to wait after failed attempt number attempts (1 = the first):
   base_ms doubled per earlier attempt, capped at cap_ms, then spread by
   +-20% with rnd (any value; the caller's random draw) so that failed
   deliveries of one burst do not come back in step. Never below 1. */
int64_t webhook_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempts, uint32_t rnd);

#endif

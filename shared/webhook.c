#include "webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- URLs ---------------------------------------------------------------------------------- */

static int is_host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.';
}

int webhook_url_parse(const char *url, int allow_insecure, struct webhook_url *out,
                      const char **why)
{
    const char *p;
    size_t len = strlen(url);

    memset(out, 0, sizeof(*out));
    if (len == 0 || len > WEBHOOK_URL_MAX) {
        *why = "must be 1 to 2048 bytes";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            *why = "must be printable ASCII without spaces";
            return -1;
        }
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        out->tls = 1;
        out->port = 443;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        if (!allow_insecure) {
            *why = "must use https";
            return -1;
        }
        out->port = 80;
        p = url + 7;
    } else {
        *why = "must be an https URL";
        return -1;
    }
    if (strchr(url, '#')) {
        *why = "must not have a fragment";
        return -1;
    }
    size_t auth = strcspn(p, "/?");
    if (memchr(p, '@', auth)) {
        *why = "must not carry user information";
        return -1;
    }
    const char *port = NULL;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', auth);
        size_t n = close ? (size_t)(close - p - 1) : 0;
        struct in6_addr a6;
        if (!close || n == 0 || n >= sizeof(out->host)) {
            *why = "has a malformed IPv6 host";
            return -1;
        }
        memcpy(out->host, p + 1, n);
        out->host[n] = '\0';
        if (inet_pton(AF_INET6, out->host, &a6) != 1) {
            *why = "has a malformed IPv6 host";
            return -1;
        }
        if (close + 1 < p + auth) {
            if (close[1] != ':') {
                *why = "has a malformed host";
                return -1;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', auth);
        size_t n = colon ? (size_t)(colon - p) : auth;
        if (n == 0 || n >= sizeof(out->host)) {
            *why = "must name a host";
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (!is_host_char(p[i])) {
                *why = "has a malformed host";
                return -1;
            }
        }
        memcpy(out->host, p, n);
        out->host[n] = '\0';
        if (colon)
            port = colon + 1;
    }
    if (port) {
        size_t digits = strspn(port, "0123456789");
        if (digits == 0 || digits > 5 || port + digits != p + auth || atoi(port) < 1 ||
            atoi(port) > 65535) {
            *why = "has a malformed port";
            return -1;
        }
        out->port = atoi(port);
    }
    if (p[auth] == '/')
        snprintf(out->path, sizeof(out->path), "%s", p + auth);
    else
        snprintf(out->path, sizeof(out->path), "/%s", p + auth);
    return 0;
}

/* --- addresses ----------------------------------------------------------------------------- */

/* An IPv4 address in host byte order. */
static enum webhook_addr_class classify4(uint32_t a)
{
    static const struct {
        uint32_t net, mask;
    } private4[] = {
        {0x00000000, 0xff000000}, /* 0.0.0.0/8 "this network", unspecified */
        {0x0a000000, 0xff000000}, /* 10.0.0.0/8 */
        {0x64400000, 0xffc00000}, /* 100.64.0.0/10 CGNAT */
        {0xa9fe0000, 0xffff0000}, /* 169.254.0.0/16 link-local (cloud metadata) */
        {0xac100000, 0xfff00000}, /* 172.16.0.0/12 */
        {0xc0000000, 0xffffff00}, /* 192.0.0.0/24 IETF protocol assignments */
        {0xc0000200, 0xffffff00}, /* 192.0.2.0/24 documentation */
        {0xc0586300, 0xffffff00}, /* 192.88.99.0/24 6to4 relay anycast */
        {0xc0a80000, 0xffff0000}, /* 192.168.0.0/16 */
        {0xc6120000, 0xfffe0000}, /* 198.18.0.0/15 benchmarking */
        {0xc6336400, 0xffffff00}, /* 198.51.100.0/24 documentation */
        {0xcb007100, 0xffffff00}, /* 203.0.113.0/24 documentation */
        {0xe0000000, 0xf0000000}, /* 224.0.0.0/4 multicast */
        {0xf0000000, 0xf0000000}, /* 240.0.0.0/4 reserved, broadcast */
    };
    if ((a & 0xff000000) == 0x7f000000)
        return WEBHOOK_ADDR_LOOPBACK;
    for (size_t i = 0; i < sizeof(private4) / sizeof(private4[0]); i++)
        if ((a & private4[i].mask) == private4[i].net)
            return WEBHOOK_ADDR_PRIVATE;
    return WEBHOOK_ADDR_PUBLIC;
}

static uint32_t v4_at(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static enum webhook_addr_class classify6(const unsigned char *b)
{
    static const unsigned char zero[16], loopback[16] = {[15] = 1};
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
    static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};

    if (memcmp(b, loopback, 16) == 0)
        return WEBHOOK_ADDR_LOOPBACK;
    if (memcmp(b, zero, 16) == 0)
        return WEBHOOK_ADDR_PRIVATE;
    /* IPv4 inside IPv6 goes where its IPv4 address goes: judge that. */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return classify4(v4_at(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) /* 2002::/16 6to4 */
        return classify4(v4_at(b + 2)) == WEBHOOK_ADDR_PUBLIC ? WEBHOOK_ADDR_PUBLIC
                                                              : WEBHOOK_ADDR_PRIVATE;
    if (memcmp(b, zero, 12) == 0) /* ::/96 IPv4-compatible (deprecated) */
        return WEBHOOK_ADDR_PRIVATE;
    if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return WEBHOOK_ADDR_PRIVATE;
    if (b[0] == 0xfe && (b[1] & 0x80) == 0x80) /* fe80::/10 link-local, fec0::/10 site-local */
        return WEBHOOK_ADDR_PRIVATE;
    if (b[0] == 0xff) /* ff00::/8 multicast */
        return WEBHOOK_ADDR_PRIVATE;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* 2001:db8::/32 */
        return WEBHOOK_ADDR_PRIVATE;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) /* 2001::/32 Teredo */
        return WEBHOOK_ADDR_PRIVATE;
    if (b[0] == 0x01 && b[1] == 0x00 && memcmp(b + 2, zero, 6) == 0) /* 100::/64 discard */
        return WEBHOOK_ADDR_PRIVATE;
    if ((b[0] & 0xe0) != 0x20) /* outside 2000::/3, the global unicast space */
        return WEBHOOK_ADDR_PRIVATE;
    return WEBHOOK_ADDR_PUBLIC;
}

enum webhook_addr_class webhook_addr_classify(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return classify4(ntohl(s4->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        return classify6(s6->sin6_addr.s6_addr);
    }
    return WEBHOOK_ADDR_PRIVATE;
}

int webhook_addr_allowed(const struct sockaddr *sa, int allow_insecure)
{
    enum webhook_addr_class c = webhook_addr_classify(sa);
    return c == WEBHOOK_ADDR_PUBLIC || (allow_insecure && c == WEBHOOK_ADDR_LOOPBACK);
}

int webhook_addrinfo_pick(const struct addrinfo *ai, int allow_insecure,
                          struct sockaddr_storage *out, socklen_t *out_len, const char **why)
{
    if (!ai) {
        *why = "has a host that does not resolve";
        return -1;
    }
    for (const struct addrinfo *a = ai; a; a = a->ai_next) {
        if (!webhook_addr_allowed(a->ai_addr, allow_insecure) || a->ai_addrlen > sizeof(*out)) {
            *why = "must not point to a private, loopback or reserved address";
            return -1;
        }
    }
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *out_len = ai->ai_addrlen;
    return 0;
}

int webhook_resolve(const struct webhook_url *u, int allow_insecure, struct sockaddr_storage *out,
                    socklen_t *out_len, const char **why)
{
    struct addrinfo hints, *ai = NULL;
    char port[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", u->port);
    if (getaddrinfo(u->host, port, &hints, &ai) != 0) {
        *why = "has a host that does not resolve";
        return -1;
    }
    rc = webhook_addrinfo_pick(ai, allow_insecure, out, out_len, why);
    freeaddrinfo(ai);
    return rc;
}

/* --- signing and retries ----------------------------------------------------------------- */

void webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                  char *hex)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)timestamp, strlen(timestamp));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, WEBHOOK_SIGNATURE_HEX, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
}

int64_t webhook_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempts, uint32_t rnd)
{
    int64_t d = base_ms < 1 ? 1 : base_ms;
    if (cap_ms < d)
        cap_ms = d;
    for (int i = 1; i < attempts && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    if (d > cap_ms)
        d = cap_ms;
    int64_t spread = d / 5;
    d = d - spread + (int64_t)(rnd % (uint64_t)(2 * spread + 1));
    return d < 1 ? 1 : d;
}

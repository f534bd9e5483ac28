/*
 * The webhook URL parser (shared/webhook.c) on arbitrary text (first byte:
 * whether http:// is allowed): an accepted URL has a host of the promised
 * alphabet (or an IPv6 literal), a port in 1..65535 and a path starting with
 * "/"; https only unless allowed; and the URL rebuilt from its parts parses
 * to the same parts.
 */
#include "fuzz.h"

#include "webhook.h"

#include <arpa/inet.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int insecure = data[0] & 1;
    char *in = fuzz_strndup(data + 1, size - 1);
    struct webhook_url u, v;
    const char *why = NULL;

    if (webhook_url_parse(in, insecure, &u, &why) == 0) {
        size_t n = strlen(u.host);
        struct in6_addr a6;
        int v6 = strchr(u.host, ':') != NULL;
        FUZZ_CHECK(n > 0);
        FUZZ_CHECK(v6 ? inet_pton(AF_INET6, u.host, &a6) == 1
                      : strspn(u.host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789.-") == n);
        FUZZ_CHECK(u.port >= 1 && u.port <= 65535);
        FUZZ_CHECK(u.path[0] == '/');
        FUZZ_CHECK(u.tls || insecure);
        FUZZ_CHECK(webhook_url_parse(in, 1, &v, &why) == 0);
        size_t cap = strlen(in) + 32;
        char *again = malloc(cap);
        int len = snprintf(again, cap, "%s://%s%s%s:%d%s", u.tls ? "https" : "http", v6 ? "[" : "",
                           u.host, v6 ? "]" : "", u.port, u.path);
        FUZZ_CHECK(len > 0 && (size_t)len < cap);
        if ((size_t)len <= WEBHOOK_URL_MAX) {
            FUZZ_CHECK(webhook_url_parse(again, insecure, &v, &why) == 0);
            FUZZ_CHECK(v.tls == u.tls && v.port == u.port && strcmp(v.host, u.host) == 0 &&
                       strcmp(v.path, u.path) == 0);
        }
        free(again);
    } else {
        FUZZ_CHECK(why != NULL && why[0] != '\0');
    }
    free(in);
    return 0;
}

/*
 * httpc: the smallest HTTP/1.1 client that delivers a webhook: one POST on a
 * fresh connection (Connection: close), over TLS when the URL is https, read
 * as far as the status line. Blocking calls on a non-blocking socket, each
 * wait a poll() bounded by one deadline for the whole exchange, so a
 * receiver that accepts and never answers costs its delivery thread at most
 * timeout_ms. Buffers are fixed: the request head is bounded by the URL's
 * size, the response read is HTTPC_READ_MAX bytes at most.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTPC_READ_MAX 1024

struct conn {
    int fd;
    SSL *ssl; /* NULL: plain TCP */
    int64_t deadline_ms;
    struct httpc_result *r;
};

static int fail(struct conn *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set r->error; -1. */
static int fail(struct conn *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->r->error, sizeof(k->r->error), fmt, ap);
    va_end(ap);
    return -1;
}

/* Wait until fd is ready for events or the deadline passes. 0, or -1 (r->error set). */
static int wait_fd(struct conn *k, short events)
{
    for (;;) {
        int64_t left = k->deadline_ms - worker_now_ms();
        if (left <= 0)
            return fail(k, "%s", "timed out");
        struct pollfd p = {k->fd, events, 0};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return fail(k, "poll: %s", strerror(errno));
    }
}

/* Wait as an SSL call that returned rc asks (WANT_READ / WANT_WRITE). 0 to
   call it again, or -1 (r->error set). */
static int tls_wait(struct conn *k, int rc, const char *what)
{
    int e = SSL_get_error(k->ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        return wait_fd(k, POLLIN);
    if (e == SSL_ERROR_WANT_WRITE)
        return wait_fd(k, POLLOUT);
    unsigned long err = ERR_get_error();
    long verify = SSL_get_verify_result(k->ssl);
    if (verify != X509_V_OK)
        snprintf(k->r->error, sizeof(k->r->error), "tls %s: %s", what,
                 X509_verify_cert_error_string(verify));
    else if (err)
        snprintf(k->r->error, sizeof(k->r->error), "tls %s: %s", what,
                 ERR_reason_error_string(err));
    else if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)
        snprintf(k->r->error, sizeof(k->r->error), "tls %s: connection closed", what);
    else
        snprintf(k->r->error, sizeof(k->r->error), "tls %s: error %d", what, e);
    ERR_clear_error();
    return -1;
}

static int send_all(struct conn *k, const char *buf, size_t len)
{
    while (len > 0) {
        if (k->ssl) {
            int n = SSL_write(k->ssl, buf, len > (1 << 30) ? (1 << 30) : (int)len);
            if (n > 0) {
                buf += n, len -= (size_t)n;
            } else if (tls_wait(k, n, "write") != 0) {
                return -1;
            }
            continue;
        }
        ssize_t n = send(k->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n, len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(k, POLLOUT) != 0)
                return -1;
        } else {
            return fail(k, "send: %s", strerror(errno));
        }
    }
    return 0;
}

/* Read into buf (size bytes at most) until it holds a line end; the bytes
   read, or -1 (r->error set). */
static ssize_t read_status_line(struct conn *k, char *buf, size_t size)
{
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n;
        if (k->ssl) {
            int rc = SSL_read(k->ssl, buf + len, (int)(size - 1 - len));
            if (rc <= 0) {
                int e = SSL_get_error(k->ssl, rc);
                if (e == SSL_ERROR_ZERO_RETURN)
                    break;
                if (tls_wait(k, rc, "read") != 0)
                    return -1;
                continue;
            }
            n = rc;
        } else {
            n = recv(k->fd, buf + len, size - 1 - len, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (wait_fd(k, POLLIN) != 0)
                    return -1;
                continue;
            }
            if (n < 0)
                return fail(k, "recv: %s", strerror(errno));
            if (n == 0)
                break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n"))
            return (ssize_t)len;
    }
    buf[len] = '\0';
    if (strstr(buf, "\r\n"))
        return (ssize_t)len;
    return fail(k, "%s", len ? "malformed response" : "connection closed without a response");
}

static int do_connect(struct conn *k, const struct sockaddr *addr, socklen_t addr_len)
{
    k->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (k->fd < 0)
        return fail(k, "socket: %s", strerror(errno));
    if (connect(k->fd, addr, addr_len) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return fail(k, "connect: %s", strerror(errno));
    if (wait_fd(k, POLLOUT) != 0)
        return -1;
    int err = 0;
    socklen_t el = sizeof(err);
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
        return fail(k, "connect: %s", strerror(err ? err : errno));
    return 0;
}

static int tls_start(struct conn *k, SSL_CTX *tls, const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;
    int literal = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;

    k->ssl = SSL_new(tls);
    if (!k->ssl)
        return fail(k, "%s", "tls: out of memory");
    SSL_set_fd(k->ssl, k->fd);
    SSL_set_verify(k->ssl, SSL_VERIFY_PEER, NULL);
    if (literal) {
        /* The certificate must name the address itself. */
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k->ssl), host) != 1)
            return fail(k, "%s", "tls: bad address");
    } else {
        SSL_set_tlsext_host_name(k->ssl, host);
        if (SSL_set1_host(k->ssl, host) != 1)
            return fail(k, "%s", "tls: bad host name");
    }
    for (;;) {
        int rc = SSL_connect(k->ssl);
        if (rc == 1)
            return 0;
        if (tls_wait(k, rc, "handshake") != 0)
            return -1;
    }
}

int httpc_post(SSL_CTX *tls, const struct webhook_url *u, const struct sockaddr *addr,
               socklen_t addr_len, const char *headers, const char *body, size_t body_len,
               int64_t timeout_ms, struct httpc_result *r)
{
    struct conn k = {-1, NULL, worker_now_ms() + timeout_ms, r};
    char head[WEBHOOK_URL_MAX + WEBHOOK_HOST_MAX + 1024], line[HTTPC_READ_MAX];
    int rc = -1, default_port = u->port == (u->tls ? 443 : 80);
    int v6 = strchr(u->host, ':') != NULL;

    r->status = 0;
    r->error[0] = '\0';
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: %s%s%s%s%.0d\r\n"
                     "User-Agent: splitter-webhooks/1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", default_port ? "" : ":",
                     default_port ? 0 : u->port, body_len, headers);
    if (n < 0 || (size_t)n >= sizeof(head)) {
        fail(&k, "%s", "request head too long");
        goto out;
    }
    if (do_connect(&k, addr, addr_len) != 0)
        goto out;
    if (u->tls && tls_start(&k, tls, u->host) != 0)
        goto out;
    if (send_all(&k, head, (size_t)n) != 0 || send_all(&k, body, body_len) != 0)
        goto out;
    if (read_status_line(&k, line, sizeof(line)) < 0)
        goto out;
    int status = 0;
    char sp = 0;
    if (sscanf(line, "HTTP/1.%*1[01] %3d%c", &status, &sp) != 2 || status < 100 || status > 599 ||
        (sp != ' ' && sp != '\r')) {
        fail(&k, "%s", "malformed status line");
        goto out;
    }
    r->status = status;
    rc = 0;
out:
    if (k.ssl)
        SSL_free(k.ssl);
    if (k.fd >= 0)
        close(k.fd);
    return rc;
}

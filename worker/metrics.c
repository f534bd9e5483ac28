/*
 * metrics: the worker's /metrics and /health, served by one small thread.
 *
 * The main loop stays single-threaded and blocking; it only stores numbers
 * into C11 atomics (metrics_sync once per loop turn, metrics_batch after each
 * batch). The thread blocks in accept() on WORKER_METRICS_HOST:
 * WORKER_METRICS_PORT (default 127.0.0.1:9091, 0 disables), answers
 * `GET /metrics` (Prometheus text format 0.0.4) and `GET /health`, one
 * connection at a time, and closes each. Nothing it does can stall the loop.
 *
 * /health is 200 while the last successful Redis heartbeat (lease_rebalance,
 * which runs at the top of every loop turn once per LEASE_TTL_MS / 3) is
 * younger than LEASE_TTL_MS, else 503: a worker stuck inside a batch, or cut
 * off from Redis, turns unhealthy before its leases lapse.
 */
#include "worker.h"

#include "config.h"
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const double size_bounds[] = {1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
static const double secs_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};
#define N_SIZE (sizeof(size_bounds) / sizeof(size_bounds[0]))
#define N_SECS (sizeof(secs_bounds) / sizeof(secs_bounds[0]))

/* Written by the main thread, read by the metrics thread. */
static struct {
    atomic_uint_fast64_t applied, rejected, duplicates, dead, retried, state_loss, scheduled;
    atomic_uint_fast64_t size_buckets[N_SIZE + 1], size_sum, size_count;
    atomic_uint_fast64_t secs_buckets[N_SECS + 1], usec_sum, secs_count;
    atomic_int partitions;
    atomic_int_fast64_t last_beat_ms; /* monotonic ms of the last heartbeat, 0 = none yet */
} m;

static pthread_t thread;
static int listen_fd = -1;
static atomic_int stopping;
static char consumer[128];
static int64_t lease_ttl_ms;

void metrics_sync(const struct worker *w)
{
    int owned = 0;
    for (unsigned p = 0; p < w->cfg.partitions; p++)
        owned += w->token[p] != 0;
    atomic_store(&m.partitions, owned);
    atomic_store(&m.applied, w->applied);
    atomic_store(&m.rejected, w->rejected);
    atomic_store(&m.duplicates, w->duplicates);
    atomic_store(&m.scheduled, w->scheduled);
    atomic_store(&m.dead, w->dead);
    atomic_store(&m.state_loss, w->state_loss);
    /* lease_rebalance sets the next heartbeat a third of the ttl after a
       successful one; a lost Redis connection resets it to 0. */
    if (w->next_heartbeat_ms > 0)
        atomic_store(&m.last_beat_ms, w->next_heartbeat_ms - w->cfg.lease_ttl_ms / 3);
}

void metrics_batch(size_t n, int64_t usec, int rc)
{
    size_t i;
    for (i = 0; i < N_SIZE && (double)n > size_bounds[i]; i++)
        ;
    atomic_fetch_add(&m.size_buckets[i], 1);
    atomic_fetch_add(&m.size_sum, n);
    atomic_fetch_add(&m.size_count, 1);
    for (i = 0; i < N_SECS && (double)usec / 1e6 > secs_bounds[i]; i++)
        ;
    atomic_fetch_add(&m.secs_buckets[i], 1);
    atomic_fetch_add(&m.usec_sum, (uint_fast64_t)(usec > 0 ? usec : 0));
    atomic_fetch_add(&m.secs_count, 1);
    if (rc != 0)
        atomic_fetch_add(&m.retried, 1);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
            (unsigned long long)v);
}

static void histogram(FILE *f, const char *name, const char *help, const double *bounds, size_t n,
                      atomic_uint_fast64_t *buckets, double sum, uint64_t count)
{
    uint64_t acc = 0;
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < n; i++) {
        acc += atomic_load(&buckets[i]);
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)acc);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
            (unsigned long long)count, name, sum, name, (unsigned long long)count);
}

static int64_t beat_age_ms(void)
{
    int64_t beat = atomic_load(&m.last_beat_ms);
    return beat ? worker_now_ms() - beat : -1;
}

/* The /metrics body; caller frees. Counts read first so buckets never exceed
   them by much; Prometheus tolerates the rest of the skew. */
static char *render(size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    uint64_t size_count = atomic_load(&m.size_count), secs_count = atomic_load(&m.secs_count);
    int64_t age = beat_age_ms();

    fprintf(f,
            "# HELP splitter_worker_info The worker's consumer name.\n"
            "# TYPE splitter_worker_info gauge\nsplitter_worker_info{consumer=\"%s\"} 1\n",
            consumer);
    counter(f, "splitter_worker_events_applied_total", "Events applied to PostgreSQL.",
            atomic_load(&m.applied));
    counter(f, "splitter_worker_events_rejected_total",
            "Events refused at apply time (recorded in rejected_events).",
            atomic_load(&m.rejected));
    counter(f, "splitter_worker_events_duplicates_total",
            "Redelivered events already recorded, skipped.", atomic_load(&m.duplicates));
    counter(f, "splitter_worker_occurrences_queued_total",
            "Occurrences of recurring expenses queued by this worker's scheduler.",
            atomic_load(&m.scheduled));
    counter(f, "splitter_worker_events_dead_lettered_total",
            "Entries moved to the dead-letter stream.", atomic_load(&m.dead));
    counter(f, "splitter_worker_redis_state_loss_total",
            "Times Redis was found to have lost state (flushed, restarted empty, gone back"
            " to an older snapshot), and repaired.",
            atomic_load(&m.state_loss));
    counter(f, "splitter_worker_batches_retried_total",
            "Batches left pending to be applied again (PostgreSQL down or lease lost).",
            atomic_load(&m.retried));
    struct webhooks_counts wh;
    webhooks_counts(&wh);
    counter(f, "splitter_worker_webhook_deliveries_total",
            "Webhook deliveries answered 2xx by their receiver.", wh.delivered);
    counter(f, "splitter_worker_webhook_attempts_failed_total",
            "Webhook delivery attempts that failed (error, timeout or a non-2xx answer).",
            wh.failed_attempts);
    counter(f, "splitter_worker_webhook_deliveries_failed_total",
            "Webhook deliveries given up after the retry window.", wh.gave_up);
    fprintf(f,
            "# HELP splitter_worker_webhook_deliveries_pending Webhook deliveries not yet"
            " delivered or given up, over all workers (read every 5 s).\n"
            "# TYPE splitter_worker_webhook_deliveries_pending gauge\n"
            "splitter_worker_webhook_deliveries_pending %lld\n"
            "# HELP splitter_worker_webhook_oldest_due_seconds How long the oldest due webhook"
            " delivery has waited for a thread (0: none due).\n"
            "# TYPE splitter_worker_webhook_oldest_due_seconds gauge\n"
            "splitter_worker_webhook_oldest_due_seconds %.3f\n",
            (long long)wh.pending, (double)wh.oldest_due_ms / 1000);
    histogram(f, "splitter_worker_batch_size", "Stream entries per applied batch.", size_bounds,
              N_SIZE, m.size_buckets, (double)atomic_load(&m.size_sum), size_count);
    histogram(f, "splitter_worker_apply_seconds",
              "Time to apply one batch: transaction, cache, statuses and acks.", secs_bounds,
              N_SECS, m.secs_buckets, (double)atomic_load(&m.usec_sum) / 1e6, secs_count);
    fprintf(f,
            "# HELP splitter_worker_partitions_owned Stream partitions this worker leases.\n"
            "# TYPE splitter_worker_partitions_owned gauge\n"
            "splitter_worker_partitions_owned %d\n",
            atomic_load(&m.partitions));
    fprintf(f,
            "# HELP splitter_worker_heartbeat_age_seconds Time since the last heartbeat"
            " (-1 before the first).\n# TYPE splitter_worker_heartbeat_age_seconds gauge\n"
            "splitter_worker_heartbeat_age_seconds %.3f\n",
            age < 0 ? -1.0 : (double)age / 1000);
    fclose(f);
    return buf;
}

static void answer(int fd, int status, const char *ctype, const char *body, size_t len)
{
    char head[256];
    const char *reason = status == 200   ? "OK"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                                         : "Service Unavailable";
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, ctype, len);
    if (write(fd, head, (size_t)n) == n) {
        while (len > 0) {
            ssize_t w = write(fd, body, len);
            if (w <= 0)
                break;
            body += w;
            len -= (size_t)w;
        }
    }
}

static void serve(int fd)
{
    char req[1024];
    size_t got = 0;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    /* The request line and headers; the body (none expected) is ignored. */
    while (got < sizeof(req) - 1) {
        ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[got] = '\0';
    char method[8] = "", path[64] = "";
    if (sscanf(req, "%7s %63s", method, path) != 2)
        return;
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    int is_metrics = strcmp(path, "/metrics") == 0, is_health = strcmp(path, "/health") == 0;
    if (!is_metrics && !is_health) {
        answer(fd, 404, "text/plain", "not found\n", 10);
    } else if (strcmp(method, "GET") != 0) {
        answer(fd, 405, "text/plain", "use GET\n", 8);
    } else if (is_metrics) {
        size_t len;
        char *body = render(&len);
        answer(fd, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
        free(body);
    } else {
        int64_t age = beat_age_ms();
        char body[128];
        int ok = age >= 0 && age <= lease_ttl_ms;
        int n = snprintf(body, sizeof(body), "%s: last heartbeat %lld ms ago\n",
                         ok ? "ok" : "unhealthy", (long long)age);
        answer(fd, ok ? 200 : 503, "text/plain", body, (size_t)n);
    }
}

static void *run(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        struct pollfd pfd = {listen_fd, POLLIN, 0};
        /* Wake now and then to notice metrics_stop. */
        if (poll(&pfd, 1, 250) <= 0)
            continue;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve(fd);
        close(fd);
    }
    return NULL;
}

int metrics_start(const struct worker *w)
{
    int64_t port;
    const char *host = config_str("WORKER_METRICS_HOST", "127.0.0.1");
    struct sockaddr_in addr;
    int one = 1;

    if (config_int("WORKER_METRICS_PORT", 9091, 0, 65535, &port) != 0)
        return -1;
    snprintf(consumer, sizeof(consumer), "%s", w->name);
    lease_ttl_ms = w->cfg.lease_ttl_ms;
    if (port == 0) {
        log_info("metrics: disabled (WORKER_METRICS_PORT=0)");
        return 0;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        log_error("config: 'WORKER_METRICS_HOST' must be an IPv4 address, got '%s'", host);
        return -1;
    }
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(listen_fd, 16) != 0) {
        log_error("metrics: cannot listen on %s:%lld: %s", host, (long long)port, strerror(errno));
        if (listen_fd >= 0)
            close(listen_fd);
        listen_fd = -1;
        return -1;
    }
    /* Signals stay with the main loop: the thread starts with them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int started = pthread_create(&thread, NULL, run, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started != 0) {
        log_error("metrics: cannot start the thread");
        close(listen_fd);
        listen_fd = -1;
        return -1;
    }
    log_info("metrics: serving /metrics and /health on %s:%lld", host, (long long)port);
    return 0;
}

void metrics_stop(void)
{
    if (listen_fd < 0)
        return;
    atomic_store(&stopping, 1);
    pthread_join(thread, NULL);
    close(listen_fd);
    listen_fd = -1;
}

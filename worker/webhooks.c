/*
 * webhooks: delivering the outbox (webhook_deliveries) the apply step fills
 * (write.c inserts one row per matching webhook in the transaction that
 * applies an event).
 *
 * WEBHOOKS_THREADS threads, each with its own PostgreSQL connection, none on
 * the apply loop. A thread claims one due delivery (FOR NO KEY UPDATE SKIP
 * LOCKED, in a statement of its own: no transaction stays open across the
 * network), marking its webhook busy for a while (a crashed worker's claim
 * lapses); it never claims a delivery of a busy webhook, so a slow receiver
 * holds at most one thread, and one webhook's deliveries go out one at a
 * time. It checks the URL and its addresses again (shared/webhook.h; DNS may
 * have changed since registration), POSTs the event's audit entry signed
 * with the webhook's secret, and records the outcome: 2xx delivered;
 * anything else tried again after webhook_backoff_ms, until
 * WEBHOOKS_RETRY_WINDOW_MS after the first attempt, then failed. Several
 * workers share the outbox the same way.
 */
#include "worker.h"

#include "config.h"
#include "log.h"
#include "pgutil.h"
#include "webhook.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WEBHOOKS_THREADS_MAX 64

static struct {
    int threads;
    int allow_insecure;
    int64_t retry_base_ms, retry_cap_ms, retry_window_ms, timeout_ms, poll_ms;
} cfg;

static SSL_CTX *tls;
static pthread_t threads[WEBHOOKS_THREADS_MAX];
static int started;
static atomic_int stopping;
static atomic_uint_fast64_t n_delivered, n_failed_attempts, n_gave_up;
/* The outbox as the first thread last saw it (every WEBHOOKS_GAUGE_MS). */
static atomic_int_fast64_t g_pending, g_oldest_due_ms;

#define WEBHOOKS_GAUGE_MS 5000

/*
 * Claim one due delivery for this thread: the row, its webhook and its event
 * as the body. $1: how long the claim holds, ms. Columns: delivery id,
 * webhook id, url, secret, attempts so far, body, event id.
 */
#define CLAIM_SQL                                                                                  \
    "WITH c AS (SELECT x.id, x.webhook_id FROM webhook_deliveries x"                               \
    "  JOIN webhooks w ON w.id = x.webhook_id WHERE x.status = 'pending'"                          \
    "  AND x.next_attempt_at <= now() AND (w.busy_until IS NULL OR w.busy_until < now())"          \
    "  ORDER BY x.next_attempt_at LIMIT 1 FOR NO KEY UPDATE OF x, w SKIP LOCKED),"                 \
    " b AS (UPDATE webhooks w SET busy_until = now() + make_interval(secs => $1::int / 1000.0)"    \
    "  FROM c WHERE w.id = c.webhook_id RETURNING w.id, w.url, w.secret)"                          \
    " UPDATE webhook_deliveries d SET first_attempt_at = coalesce(d.first_attempt_at, now())"      \
    " FROM c, b, events e WHERE d.id = c.id AND e.event_id = d.event_id"                           \
    " RETURNING d.id, b.id, b.url, b.secret, d.attempts,"                                          \
    " json_build_object('event_id', e.event_id, 'seq', e.seq, 'type', e.type,"                     \
    "  'group_id', e.group_id, 'actor', e.actor, 'accepted_at', rfc3339(e.accepted_at),"           \
    "  'payload', e.payload)::text, e.event_id"

/*
 * The outcome of one attempt, and the webhook free for its next. $1 delivery,
 * $2 status code (NULL: none), $3 error (NULL: delivered), $4 delay before
 * the next attempt (ms), $5 the retry window (ms), $6 the webhook.
 */
#define RESULT_SQL                                                                                 \
    "WITH webhooks_free AS (UPDATE webhooks SET busy_until = NULL WHERE id = $6 RETURNING id)"     \
    " UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $2::int,"          \
    " last_error = $3::text,"                                                                      \
    " delivered_at = CASE WHEN $3::text IS NULL THEN now() END,"                                   \
    " status = CASE WHEN $3::text IS NULL THEN 'delivered'"                                        \
    "  WHEN now() + make_interval(secs => $4::bigint / 1000.0)"                                    \
    "   > first_attempt_at + make_interval(secs => $5::bigint / 1000.0) THEN 'failed'"             \
    "  ELSE 'pending' END,"                                                                        \
    " next_attempt_at = now() + make_interval(secs => $4::bigint / 1000.0)"                        \
    " WHERE id = $1 RETURNING status"

/* Sleep ms, in slices, so that webhooks_stop never waits long for an idle thread. */
static void sleep_ms(int64_t ms)
{
    while (ms > 0 && !atomic_load(&stopping)) {
        int64_t slice = ms > 100 ? 100 : ms;
        struct timespec ts = {0, slice * 1000000};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* A connection for a delivery thread, its statements bounded like the apply
   path's (a lock held elsewhere never stalls a thread for long), or NULL. */
static PGconn *connect_pg(void)
{
    PGconn *pg = pg_connect("splitter-webhooks");
    if (!pg)
        return NULL;
    PGresult *res = PQexec(pg, "SET statement_timeout = 10000; SET lock_timeout = 2000");
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        log_warn("webhooks: postgres: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* One attempt at delivering row 0 of claim: the outcome into status/error
   (error "" when delivered). */
static void attempt(const PGresult *claim, struct httpc_result *r)
{
    const char *url = PQgetvalue(claim, 0, 2), *body = PQgetvalue(claim, 0, 5);
    struct webhook_url u;
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    const char *why = NULL;
    char ts[24], sig[WEBHOOK_SIGNATURE_HEX], headers[512];

    r->status = 0;
    r->error[0] = '\0';
    if (webhook_url_parse(url, cfg.allow_insecure, &u, &why) != 0 ||
        webhook_resolve(&u, cfg.allow_insecure, &addr, &addr_len, &why) != 0) {
        snprintf(r->error, sizeof(r->error), "url %s", why);
        return;
    }
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    webhook_sign(PQgetvalue(claim, 0, 3), ts, body, strlen(body), sig);
    snprintf(headers, sizeof(headers),
             "Splitter-Webhook-Id: %s\r\nSplitter-Delivery-Id: %s\r\n"
             "Splitter-Event-Id: %s\r\nSplitter-Timestamp: %s\r\n"
             "Splitter-Signature: v1=%s\r\n",
             PQgetvalue(claim, 0, 1), PQgetvalue(claim, 0, 0), PQgetvalue(claim, 0, 6), ts, sig);
    httpc_post(tls, &u, (const struct sockaddr *)&addr, addr_len, headers, body, strlen(body),
               cfg.timeout_ms, r);
    if (!r->error[0] && (r->status < 200 || r->status > 299))
        snprintf(r->error, sizeof(r->error), "answered %d", r->status);
}

/* Record r for the delivery claimed in row 0 of claim. */
static void record(PGconn *pg, const PGresult *claim, const struct httpc_result *r)
{
    char code[16], delay[24], window[24];
    int attempts = atoi(PQgetvalue(claim, 0, 4)) + 1;
    int64_t d = r->error[0] ? webhook_backoff_ms(cfg.retry_base_ms, cfg.retry_cap_ms, attempts,
                                                 randombytes_random())
                            : 0;
    snprintf(code, sizeof(code), "%d", r->status);
    snprintf(delay, sizeof(delay), "%lld", (long long)d);
    snprintf(window, sizeof(window), "%lld", (long long)cfg.retry_window_ms);
    const char *p[6] = {PQgetvalue(claim, 0, 0),
                        r->status ? code : NULL,
                        r->error[0] ? r->error : NULL,
                        delay,
                        window,
                        PQgetvalue(claim, 0, 1)};
    PGresult *res = PQexecParams(pg, RESULT_SQL, 6, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* The claim lapses and the delivery is tried again: at least once. */
        log_warn("webhooks: recording delivery %s: %s", PQgetvalue(claim, 0, 0),
                 PQerrorMessage(pg));
    } else if (PQntuples(res) == 1) {
        const char *st = PQgetvalue(res, 0, 0);
        if (strcmp(st, "delivered") == 0) {
            atomic_fetch_add(&n_delivered, 1);
        } else {
            atomic_fetch_add(&n_failed_attempts, 1);
            if (strcmp(st, "failed") == 0) {
                atomic_fetch_add(&n_gave_up, 1);
                log_warn("webhooks: delivery %s failed for good after %d attempts: %s",
                         PQgetvalue(claim, 0, 0), attempts, r->error);
            }
        }
    }
    PQclear(res);
}

/* Read the outbox's size for /metrics: pending deliveries (due or waiting to
   be retried) and how long the oldest due one has waited. One index scan of
   the pending rows. */
static void read_gauges(PGconn *pg)
{
    PGresult *res = PQexec(pg, "SELECT count(*), coalesce(extract(epoch FROM now() -"
                               " min(next_attempt_at) FILTER (WHERE next_attempt_at <= now()))"
                               " * 1000, 0)::bigint FROM webhook_deliveries"
                               " WHERE status = 'pending'");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        atomic_store(&g_pending, atoll(PQgetvalue(res, 0, 0)));
        atomic_store(&g_oldest_due_ms, atoll(PQgetvalue(res, 0, 1)));
    }
    PQclear(res);
}

static void *deliver_loop(void *arg)
{
    PGconn *pg = NULL;
    char claim_ms[24];
    int first = arg != NULL; /* this thread also reads the gauges */
    int64_t next_gauge_ms = 0, retry_ms = 500;

    /* A claim outlives the longest attempt, with room for recording it. */
    snprintf(claim_ms, sizeof(claim_ms), "%lld", (long long)(2 * cfg.timeout_ms + 30000));
    while (!atomic_load(&stopping)) {
        if (!pg || PQstatus(pg) != CONNECTION_OK) {
            if (pg)
                PQfinish(pg);
            pg = connect_pg();
            if (!pg) {
                /* PostgreSQL is away: try again less and less often, up to 10 s apart. */
                sleep_ms(retry_ms);
                retry_ms = retry_ms * 2 > 10000 ? 10000 : retry_ms * 2;
                continue;
            }
            retry_ms = 500;
        }
        if (first && worker_now_ms() >= next_gauge_ms) {
            read_gauges(pg);
            next_gauge_ms = worker_now_ms() + WEBHOOKS_GAUGE_MS;
        }
        const char *p[1] = {claim_ms};
        PGresult *claim = PQexecParams(pg, CLAIM_SQL, 1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(claim) != PGRES_TUPLES_OK) {
            log_warn("webhooks: claiming a delivery: %s", PQerrorMessage(pg));
            PQclear(claim);
            sleep_ms(1000);
            continue;
        }
        if (PQntuples(claim) == 0) {
            PQclear(claim);
            sleep_ms(cfg.poll_ms);
            continue;
        }
        struct httpc_result r;
        attempt(claim, &r);
        record(pg, claim, &r);
        PQclear(claim);
    }
    if (pg)
        PQfinish(pg);
    return NULL;
}

int webhooks_start(void)
{
    int64_t v;
    int rc = 0;

    rc |= config_int("WEBHOOKS_THREADS", 2, 0, WEBHOOKS_THREADS_MAX, &v);
    cfg.threads = (int)v;
    rc |= config_int("WEBHOOKS_ALLOW_INSECURE", 0, 0, 1, &v);
    cfg.allow_insecure = (int)v;
    rc |= config_int("WEBHOOKS_RETRY_BASE_MS", 10000, 1, 3600000, &cfg.retry_base_ms);
    rc |= config_int("WEBHOOKS_RETRY_MAX_MS", 3600000, 1, 86400000, &cfg.retry_cap_ms);
    rc |= config_int("WEBHOOKS_RETRY_WINDOW_MS", 86400000, 1, 7 * 86400000LL, &cfg.retry_window_ms);
    rc |= config_int("WEBHOOKS_TIMEOUT_MS", 5000, 100, 60000, &cfg.timeout_ms);
    rc |= config_int("WEBHOOKS_POLL_MS", 1000, 10, 60000, &cfg.poll_ms);
    if (rc)
        return -1;
    if (cfg.threads == 0)
        return 0;
    if (cfg.allow_insecure)
        log_warn("webhooks: WEBHOOKS_ALLOW_INSECURE=1: http:// and loopback receivers are"
                 " allowed (tests and development only)");
    tls = SSL_CTX_new(TLS_client_method());
    if (!tls) {
        log_error("webhooks: cannot create a TLS context");
        return -1;
    }
    SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
    SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, NULL);
    const char *ca = config_str("WEBHOOKS_CA_FILE", NULL);
    if (ca ? SSL_CTX_load_verify_locations(tls, ca, NULL) != 1
           : SSL_CTX_set_default_verify_paths(tls) != 1) {
        log_error("config: 'WEBHOOKS_CA_FILE': cannot load trusted certificates");
        SSL_CTX_free(tls);
        tls = NULL;
        return -1;
    }
    for (int i = 0; i < cfg.threads; i++) {
        static int first_thread;
        if (pthread_create(&threads[i], NULL, deliver_loop, i == 0 ? &first_thread : NULL) != 0) {
            log_error("webhooks: cannot start a delivery thread");
            webhooks_stop();
            return -1;
        }
        started++;
    }
    log_info("webhooks: %d delivery threads", cfg.threads);
    return 0;
}

void webhooks_stop(void)
{
    atomic_store(&stopping, 1);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    started = 0;
    if (tls)
        SSL_CTX_free(tls);
    tls = NULL;
}

void webhooks_counts(struct webhooks_counts *c)
{
    c->delivered = atomic_load(&n_delivered);
    c->failed_attempts = atomic_load(&n_failed_attempts);
    c->gave_up = atomic_load(&n_gave_up);
    c->pending = atomic_load(&g_pending);
    c->oldest_due_ms = atomic_load(&g_oldest_due_ms);
}

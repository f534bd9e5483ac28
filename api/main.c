/*
 * The api's start-up, listener, router and graceful shutdown.
 */
#include "api.h"

#include "config.h"
#include "log.h"
#include "pgutil.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct api api;

/* File scope: what the loop still holds at exit stays reachable, not leaked. */
static uv_loop_t loop;
static uv_tcp_t listener;
static uv_signal_t sig_term, sig_int;
static uv_timer_t drain_timer;
static int listening;

/* --- routing -------------------------------------------------------------------- */

static int is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* Split path (without query) into segments. -1 if too many or too long. */
static int split_path(struct rctx *c, const char *p, size_t len)
{
    size_t i = 0;
    c->n_seg = 0;
    while (i < len) {
        while (i < len && p[i] == '/')
            i++;
        if (i >= len)
            break;
        size_t j = i;
        while (j < len && p[j] != '/')
            j++;
        if (c->n_seg == API_MAX_SEGMENTS || j - i >= sizeof(c->seg[0]))
            return -1;
        memcpy(c->seg[c->n_seg], p + i, j - i);
        c->seg[c->n_seg][j - i] = '\0';
        c->n_seg++;
        i = j;
    }
    return 0;
}

static int seg_is(struct rctx *c, size_t i, const char *s)
{
    return i < c->n_seg && strcmp(c->seg[i], s) == 0;
}

/* ROUTE_GROUP: fn runs after group_route (access.c) authenticated the caller
   and checked the group's access; otherwise fn does its own checks. */
enum { ROUTE_OWN = 0, ROUTE_GROUP = 1 };

struct route {
    const char *method;
    const char *pattern[API_MAX_SEGMENTS - 2]; /* after /api/v1; "*" captures a segment */
    size_t n;
    rctx_fn fn;
    int gate; /* ROUTE_OWN or ROUTE_GROUP */
};

static const struct route routes[] = {
    {"POST", {"auth", "register"}, 2, route_register, ROUTE_OWN},
    {"POST", {"auth", "login"}, 2, route_login, ROUTE_OWN},
    {"POST", {"auth", "logout"}, 2, route_logout, ROUTE_OWN},
    {"GET", {"me"}, 1, route_me, ROUTE_OWN},
    {"POST", {"me", "credentials"}, 2, route_me_credentials, ROUTE_OWN},
    {"POST", {"groups"}, 1, route_groups_create, ROUTE_OWN},
    {"GET", {"groups"}, 1, route_groups_list, ROUTE_OWN},
    {"GET", {"groups", "*"}, 2, route_group_get, ROUTE_OWN},
    {"PATCH", {"groups", "*"}, 2, route_group_patch, ROUTE_GROUP},
    {"POST", {"groups", "*", "leave"}, 3, route_group_leave, ROUTE_GROUP},
    {"PATCH", {"groups", "*", "members", "*"}, 4, route_member_patch, ROUTE_GROUP},
    {"DELETE", {"groups", "*", "members", "*"}, 4, route_member_delete, ROUTE_GROUP},
    {"GET", {"groups", "*", "invites"}, 3, route_invites_list, ROUTE_GROUP},
    {"DELETE", {"groups", "*", "invites", "*"}, 4, route_invite_revoke, ROUTE_GROUP},
    {"POST", {"groups", "*", "members"}, 3, route_members_create, ROUTE_GROUP},
    {"POST", {"groups", "*", "invites"}, 3, route_invites_create, ROUTE_GROUP},
    {"POST", {"invites", "*", "accept"}, 3, route_invite_accept, ROUTE_OWN},
    {"POST", {"groups", "*", "expenses"}, 3, route_expense_write, ROUTE_GROUP},
    {"PUT", {"groups", "*", "expenses", "*"}, 4, route_expense_write, ROUTE_GROUP},
    {"DELETE", {"groups", "*", "expenses", "*"}, 4, route_expense_write, ROUTE_GROUP},
    {"POST", {"groups", "*", "payments"}, 3, route_payment_write, ROUTE_GROUP},
    {"GET", {"groups", "*", "payments"}, 3, route_payments_list, ROUTE_OWN},
    {"GET", {"groups", "*", "payments", "*"}, 4, route_payment_get, ROUTE_OWN},
    {"PUT", {"groups", "*", "payments", "*"}, 4, route_payment_write, ROUTE_GROUP},
    {"DELETE", {"groups", "*", "payments", "*"}, 4, route_payment_write, ROUTE_GROUP},
    {"POST", {"groups", "*", "events", "*", "revert"}, 5, route_event_revert, ROUTE_GROUP},
    {"GET", {"me", "balances"}, 2, route_me_balances, ROUTE_OWN},
    {"GET", {"groups", "*", "balances"}, 3, route_balances, ROUTE_OWN},
    {"GET", {"groups", "*", "settlements"}, 3, route_settlements, ROUTE_OWN},
    {"GET", {"groups", "*", "expenses"}, 3, route_expenses_list, ROUTE_GROUP},
    {"GET", {"groups", "*", "expenses", "*"}, 4, route_expense_get, ROUTE_OWN},
    {"POST", {"groups", "import"}, 2, route_groups_import, ROUTE_OWN},
    {"GET", {"groups", "*", "export.csv"}, 3, route_export, ROUTE_OWN},
    {"GET", {"groups", "*", "export.json"}, 3, route_export_json, ROUTE_OWN},
    {"GET", {"groups", "*", "recurrences"}, 3, route_recurrences_list, ROUTE_OWN},
    {"GET", {"events", "*"}, 2, route_event_get, ROUTE_OWN},
    {"GET", {"groups", "*", "events"}, 3, route_group_events, ROUTE_OWN},
    {"GET", {"groups", "*", "stream"}, 3, route_group_stream, ROUTE_OWN},
    {"POST", {"groups", "*", "webhooks"}, 3, route_webhooks_create, ROUTE_GROUP},
    {"GET", {"groups", "*", "webhooks"}, 3, route_webhooks_list, ROUTE_GROUP},
    {"DELETE", {"groups", "*", "webhooks", "*"}, 4, route_webhook_delete, ROUTE_GROUP},
    {"GET",
     {"groups", "*", "webhooks", "*", "deliveries"},
     5,
     route_webhook_deliveries,
     ROUTE_GROUP},
};

static int match(const struct route *r, struct rctx *c)
{
    if (c->n_seg != r->n + 2)
        return 0;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->pattern[i], "*") != 0 && strcmp(r->pattern[i], c->seg[i + 2]) != 0)
            return 0;
    return 1;
}

/* "/api/v1/groups/{gid}/balances" for routes[i], built once: the label of its
   requests in /metrics (a pattern, never a raw path). */
static const char *route_pattern(size_t i)
{
    static char names[sizeof(routes) / sizeof(routes[0])][96];
    if (!names[i][0]) {
        size_t o = (size_t)snprintf(names[i], sizeof(names[i]), "/api/v1");
        for (size_t k = 0; k < routes[i].n && o < sizeof(names[i]); k++) {
            const char *seg = routes[i].pattern[k], *prev = k ? routes[i].pattern[k - 1] : "";
            if (strcmp(seg, "*") == 0)
                seg = strcmp(prev, "groups") == 0     ? "{gid}"
                      : strcmp(prev, "expenses") == 0 ? "{eid}"
                      : strcmp(prev, "payments") == 0 ? "{pid}"
                      : strcmp(prev, "invites") == 0  ? "{token}"
                      : strcmp(prev, "events") == 0   ? "{event_id}"
                      : strcmp(prev, "webhooks") == 0 ? "{wid}"
                                                      : "{id}";
            o += (size_t)snprintf(names[i] + o, sizeof(names[i]) - o, "/%s", seg);
        }
    }
    return names[i];
}

/* 405 for a known path: Allow lists the methods it serves (RFC 9110 section 15.5.6). */
static void method_not_allowed(struct rctx *c, const char *allow, const char *detail)
{
    add_header(c, H2O_TOKEN_ALLOW, allow);
    respond_problem(c, PROBLEM_METHOD_NOT_ALLOWED, detail, NULL);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    struct rctx *c = rctx_new(req);
    const char *path = req->path_normalized.base;
    size_t len = req->path_normalized.len;
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"};

    c->method = "OTHER";
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (is_method(req, methods[i]))
            c->method = methods[i];
    if (req->query_at != SIZE_MAX) {
        c->query = req->path.base + req->query_at + 1;
        c->query_len = req->path.len - req->query_at - 1;
    }
    if (split_path(c, path, len) != 0) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such resource", NULL);
        goto out;
    }
    if (c->n_seg == 1 && seg_is(c, 0, "metrics")) {
        /* The api's own port only: nginx answers 404 for /metrics. */
        c->route = "/metrics";
        if (strcmp(c->method, "GET") == 0)
            route_metrics(c);
        else
            method_not_allowed(c, "GET", "use GET");
        goto out;
    }
    if (c->n_seg == 2 && seg_is(c, 0, "api") && seg_is(c, 1, "health")) {
        c->route = "/api/health";
        if (strcmp(c->method, "GET") == 0)
            route_health(c);
        else
            method_not_allowed(c, "GET", "use GET");
        goto out;
    }
    if (c->n_seg == 2 && seg_is(c, 0, "api") && seg_is(c, 1, "ping")) {
        c->route = "/api/ping";
        route_ping(c);
        goto out;
    }
    if (c->n_seg >= 2 && seg_is(c, 0, "api") && seg_is(c, 1, "v1")) {
        int path_known = 0;
        char allow[64] = "";
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
            if (!match(&routes[i], c))
                continue;
            if (!path_known)
                c->route = route_pattern(i);
            path_known = 1;
            if (strcmp(routes[i].method, c->method) == 0) {
                if (routes[i].gate == ROUTE_GROUP)
                    group_route(c, routes[i].fn);
                else
                    routes[i].fn(c);
                goto out;
            }
            size_t o = strlen(allow);
            snprintf(allow + o, sizeof(allow) - o, "%s%s", o ? ", " : "", routes[i].method);
        }
        if (path_known) {
            /* RFC 9110: a 405 lists the methods the resource has. */
            method_not_allowed(c, allow, "this method is not allowed on this resource");
            goto out;
        }
    }
    respond_problem(c, PROBLEM_NOT_FOUND, "no such resource", NULL);
out:
    rctx_unref(c);
    return 0;
}

/* --- the listener ----------------------------------------------------------------- */

static void on_accept(uv_stream_t *server, int status)
{
    uv_tcp_t *conn;
    h2o_socket_t *sock;

    if (status != 0)
        return;
    conn = h2o_mem_alloc(sizeof(*conn));
    uv_tcp_init(server->loop, conn);
    if (uv_accept(server, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&api.accept_ctx, sock);
}

static int listen_on(const char *host, int port)
{
    struct sockaddr_in addr;
    int fd, one = 1, r;

    if (uv_ip4_addr(host, port, &addr) != 0) {
        log_error("config: 'API_HOST' must be an IPv4 address, got '%s'", host);
        return -1;
    }
    /* Opened by hand for SO_REUSEPORT: libuv 1.44 cannot set it. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        log_error("api: cannot bind %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uv_tcp_init(api.loop, &listener);
    if ((r = uv_tcp_open(&listener, fd)) != 0 ||
        (r = uv_listen((uv_stream_t *)&listener, 1024, on_accept)) != 0) {
        log_error("api: cannot listen on %s:%d: %s", host, port, uv_strerror(r));
        return -1;
    }
    listening = 1;
    return 0;
}

/* --- shutdown ----------------------------------------------------------------------- */

static void on_drain(uv_timer_t *t)
{
    (void)t;
    /* The in-flight count includes requests still being written out. */
    if (api.in_flight == 0) {
        uv_timer_stop(&drain_timer);
        uv_stop(api.loop);
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    if (api.stopping)
        return;
    api.stopping = 1;
    log_info("api: signal %d: finishing %llu requests in flight", signum,
             (unsigned long long)api.in_flight);
    if (listening) {
        uv_close((uv_handle_t *)&listener, NULL);
        listening = 0;
    }
    h2o_context_request_shutdown(&api.ctx);
    waiter_flush();
    stream_shutdown();
    uv_timer_start(&drain_timer, on_drain, 0, 20);
}

static int load_config(struct api_config *c)
{
    int64_t v;
    int rc = 0;

    rc |= config_secret_files(config_secrets);
    c->host = config_str("API_HOST", "127.0.0.1");
    rc |= config_port("API_PORT", 8081, &c->port);
    rc |= config_int("PG_POOL_SIZE", 4, 1, 64, &v);
    c->pg_pool_size = (int)v;
    rc |= config_int("PG_STATEMENT_TIMEOUT_MS", 4000, 0, 3600000, &v);
    c->pg_statement_timeout_ms = (int)v;
    rc |= config_int("PG_LOCK_TIMEOUT_MS", 1000, 0, 3600000, &v);
    c->pg_lock_timeout_ms = (int)v;
    c->redis_host = config_str("REDIS_HOST", "127.0.0.1");
    rc |= config_port("REDIS_PORT", 6380, &c->redis_port);
    c->redis_password = config_str("REDIS_PASSWORD", "");
    rc |= sentinel_config_load(&c->sentinel);
    rc |= config_int("REDIS_WAIT_REPLICAS", 0, 0, 16, &v);
    c->redis_wait_replicas = (int)v;
    rc |= config_int("REDIS_WAIT_TIMEOUT_MS", 1000, 1, 4000, &v);
    c->redis_wait_timeout_ms = (int)v;
    rc |= config_partitions(&c->partitions);
    c->migrations_dir = config_str("SPLITTER_MIGRATIONS_DIR", "postgres/migrations");
    rc |= config_int("LOGIN_FAIL_THRESHOLD", 5, 1, 1000, &v);
    c->login_fail_threshold = (int)v;
    rc |= config_int("LOGIN_FAIL_LIMIT", 20, 2, 100000, &v);
    c->login_fail_limit = (int)v;
    rc |= config_int("LOGIN_FAIL_WINDOW_S", 900, 1, 86400, &v);
    c->login_fail_window_s = (int)v;
    rc |= config_int("SESSION_RECHECK_S", 5, 0, 3600, &v);
    c->session_recheck_s = (int)v;
    rc |= config_int("SESSION_GRACE_S", 300, 0, 86400, &v);
    c->session_grace_s = (int)v;
    rc |= config_int("STREAM_HEARTBEAT_MS", 10000, 50, 15000, &v);
    c->stream_heartbeat_ms = (int)v;
    rc |= config_int("STREAM_MAX", 10000, 0, 1000000, &v);
    c->stream_max = (int)v;
    rc |= config_int("STREAM_MAX_BUFFER", 256 * 1024, 4096, 64 * 1024 * 1024, &v);
    c->stream_max_buffer = (int)v;
    rc |= config_int("WEBHOOKS_ALLOW_INSECURE", 0, 0, 1, &v);
    c->webhooks_allow_insecure = (int)v;
    if (rc == 0 && c->login_fail_limit <= c->login_fail_threshold) {
        log_error("config: 'LOGIN_FAIL_LIMIT' must be above 'LOGIN_FAIL_THRESHOLD'");
        rc = -1;
    }
    return rc ? -1 : 0;
}

/* Every open stream is a descriptor: allow as many as the hard limit does. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("api: cannot raise the descriptor limit: %s", strerror(errno));
    }
}

/* Apply migrations before serving: wait up to 60 s for PostgreSQL. */
static int migrate(void)
{
    for (int attempt = 0; attempt < 120; attempt++) {
        PGconn *conn = pg_connect("splitter-api-migrate");
        if (conn) {
            int rc = pg_migrate(conn, api.cfg.migrations_dir);
            PQfinish(conn);
            return rc;
        }
        usleep(500 * 1000);
    }
    log_error("api: PostgreSQL unreachable for 60 s at start-up");
    return -1;
}

/* The workers announced finished events: end their waits, feed the streams. */
static void on_events_done(const char *msg, size_t len)
{
    waiter_notify(msg, len);
    stream_notify(msg, len);
}

int main(void)
{
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    h2o_handler_t *handler;

    if (log_init("api", config_str("LOG_LEVEL", "info")) != 0) {
        log_error("config: 'LOG_LEVEL' must be debug, info, warn or error");
        return 1;
    }
    if (load_config(&api.cfg) != 0)
        return 1;
    if (sodium_init() < 0) {
        log_error("api: libsodium failed to initialise");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (auth_init() != 0) {
        log_error("api: password hashing unavailable (out of memory?)");
        return 1;
    }
    if (migrate() != 0)
        return 1;

    uv_loop_init(&loop);
    api.loop = &loop;
    h2o_config_init(&api.h2o);
    /* Bodies over 64 KiB get our own 413 problem; h2o refuses beyond 1 MiB. */
    api.h2o.max_request_entity_size = 1024 * 1024;
    host = h2o_config_register_host(&api.h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    h2o_context_init(&api.ctx, api.loop, &api.h2o);
    api.accept_ctx.ctx = &api.ctx;
    api.accept_ctx.hosts = api.h2o.hosts;
    h2o_timeout_init(api.loop, &api.deadline, API_DEADLINE_MS);
    for (int i = 0; i <= API_MAX_WAIT_S; i++)
        h2o_timeout_init(api.loop, &api.wait_timeouts[i], (uint64_t)i * 1000);
    h2o_linklist_init_anchor(&api.waiters);

    if (pgpool_init() != 0 || rcli_init(on_events_done) != 0)
        return 1;
    stream_init();
    if (listen_on(api.cfg.host, api.cfg.port) != 0)
        return 1;
    uv_timer_init(api.loop, &drain_timer);
    uv_signal_init(api.loop, &sig_term);
    uv_signal_init(api.loop, &sig_int);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    log_info("api: listening on %s:%d", api.cfg.host, api.cfg.port);

    uv_run(api.loop, UV_RUN_DEFAULT);

    rcli_close();
    pgpool_close();
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&drain_timer, NULL);
    /* Let the closes and disconnect callbacks run. */
    uv_run(api.loop, UV_RUN_NOWAIT);
    uv_run(api.loop, UV_RUN_NOWAIT);
    log_info("api: stopped");
    return 0;
}

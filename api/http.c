/*
 * http: request contexts, answers, request parsing and authentication.
 */
#include "api.h"

#include "etag.h"
#include "keys.h"
#include "log.h"
#include "sha256.h"
#include "xalloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

struct guard {
    struct rctx *c;
};

static void on_guard_dispose(void *p)
{
    struct guard *g = p;
    g->c->req = NULL;
    rctx_unref(g->c);
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
    struct rctx *c = H2O_STRUCT_FROM_MEMBER(struct rctx, deadline, entry);
    if (rctx_live(c)) {
        log_warn("request deadline passed: %s", c->method);
        respond_problem(c, PROBLEM_UNAVAILABLE, "a dependency did not answer in time", NULL);
    }
    /* What the answer gave up on must not hold a connection: last, as it may free c. */
    c->abandoned = 1;
    pgpool_abandon(c);
}

struct rctx *rctx_new(h2o_req_t *req)
{
    struct rctx *c = xcalloc(1, sizeof(*c));
    struct guard *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), on_guard_dispose);
    g->c = c;
    c->req = req;
    c->refs = 2; /* the guard's and the caller's */
    c->deadline.cb = on_deadline;
    h2o_timeout_link(api.ctx.loop, &api.deadline, &c->deadline);
    api.in_flight++;
    metrics_request_begin(c);
    return c;
}

struct rctx *rctx_new_detached(void)
{
    struct rctx *c = xcalloc(1, sizeof(*c));
    c->refs = 1;
    c->responded = 1;
    api.in_flight++;
    return c;
}

void rctx_deadline_pause(struct rctx *c)
{
    if (h2o_timeout_is_linked(&c->deadline))
        h2o_timeout_unlink(&c->deadline);
}

void rctx_deadline_restart(struct rctx *c)
{
    rctx_deadline_pause(c);
    h2o_timeout_link(api.ctx.loop, &api.deadline, &c->deadline);
}

void rctx_ref(struct rctx *c)
{
    c->refs++;
}

int rctx_live(const struct rctx *c)
{
    return c->req && !c->responded;
}

static void rctx_free(struct rctx *c)
{
    if (h2o_timeout_is_linked(&c->deadline))
        h2o_timeout_unlink(&c->deadline);
    if (h2o_timeout_is_linked(&c->wait_timer))
        h2o_timeout_unlink(&c->wait_timer);
    if (h2o_linklist_is_linked(&c->waiting))
        h2o_linklist_unlink(&c->waiting);
    if (c->release)
        c->release(c);
    json_doc_release(&c->doc);
    json_decref(c->data);
    free(c->event_text);
    free(c->idem_key);
    free(c->idem_hash);
    free(c->scratch);
    free(c->members);
    free(c->work);
    sync_write_release(c->sync);
    free(c);
    api.in_flight--;
}

void rctx_unref(struct rctx *c)
{
    if (--c->refs == 0)
        rctx_free(c);
}

int rctx_unref_req(struct rctx *c)
{
    if (c->refs == 1) {
        rctx_unref(c);
        return 0;
    }
    c->refs--;
    return c->req != NULL;
}

int rctx_unref_live(struct rctx *c)
{
    if (c->refs == 1) {
        rctx_unref(c);
        return 0;
    }
    c->refs--;
    return rctx_live(c);
}

static void finish(struct rctx *c)
{
    c->responded = 1;
    if (h2o_timeout_is_linked(&c->deadline))
        h2o_timeout_unlink(&c->deadline);
    if (h2o_timeout_is_linked(&c->wait_timer))
        h2o_timeout_unlink(&c->wait_timer);
    if (h2o_linklist_is_linked(&c->waiting))
        h2o_linklist_unlink(&c->waiting);
    if (c->waiting_ref) {
        /* Never the last reference: a live request still has its guard's. */
        c->waiting_ref = 0;
        c->refs--;
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

/* Status and the common headers of an answer with a body; 0, or -1 when the
   request can no longer be answered. */
static int start_answer(struct rctx *c, int status, const char *ctype)
{
    h2o_req_t *req = c->req;
    if (!rctx_live(c))
        return -1;
    metrics_request_done(c, status);
    finish(c);
    req->res.status = status;
    req->res.reason = reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                   strlen(ctype));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    return 0;
}

static void send_body(struct rctx *c, int status, const char *ctype, const char *body, size_t len)
{
    if (start_answer(c, status, ctype) != 0)
        return;
    /* Without it h2o 2.2.5 closes the connection on every non-200. */
    c->req->res.content_length = len;
    h2o_send_inline(c->req, body, len);
}

void respond_raw(struct rctx *c, int status, const char *body, size_t len)
{
    send_body(c, status, "application/json", body, len);
}

void respond_json_text(struct rctx *c, int status, const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    if (!v) {
        respond_problem(c, PROBLEM_INTERNAL, "the database returned malformed JSON", NULL);
        return;
    }
    respond_json(c, status, v);
}

void respond_json(struct rctx *c, int status, json_t *body)
{
    char *s = json_dump_compact(body);
    json_decref(body);
    respond_raw(c, status, s, strlen(s));
    free(s);
}

void respond_problem_json(struct rctx *c, json_t *problem)
{
    int status = (int)json_integer_value(json_object_get(problem, "status"));
    char *s = json_dump_compact(problem);
    json_decref(problem);
    send_body(c, status ? status : 500, "application/problem+json", s, strlen(s));
    free(s);
}

void respond_problem(struct rctx *c, enum problem_code code, const char *detail,
                     const struct fields *f)
{
    if (code == PROBLEM_UNAUTHORIZED)
        add_header(c, H2O_TOKEN_WWW_AUTHENTICATE, "Bearer");
    if (code == PROBLEM_UNAVAILABLE)
        add_header(c, H2O_TOKEN_RETRY_AFTER, "1");
    respond_problem_json(c, problem_new(code, detail, f));
}

void respond_text(struct rctx *c, int status, const char *ctype, const char *body, size_t len)
{
    send_body(c, status, ctype, body, len);
}

void respond_empty(struct rctx *c, int status)
{
    h2o_req_t *req = c->req;
    if (!rctx_live(c))
        return;
    metrics_request_done(c, status);
    finish(c);
    req->res.status = status;
    req->res.reason = reason(status);
    req->res.content_length = 0;
    h2o_send_inline(req, "", 0);
}

void respond_stream_start(struct rctx *c, int status, const char *ctype, h2o_generator_t *gen)
{
    if (start_answer(c, status, ctype) == 0)
        h2o_start_response(c->req, gen);
}

void add_header(struct rctx *c, const h2o_token_t *token, const char *value)
{
    if (!rctx_live(c))
        return;
    h2o_iovec_t v = h2o_strdup(&c->req->pool, value, SIZE_MAX);
    h2o_add_header(&c->req->pool, &c->req->res.headers, token, NULL, v.base, v.len);
}

void add_header_name(struct rctx *c, const char *name, const char *value)
{
    if (!rctx_live(c))
        return;
    h2o_iovec_t v = h2o_strdup(&c->req->pool, value, SIZE_MAX);
    h2o_add_header_by_str(&c->req->pool, &c->req->res.headers, name, strlen(name), 0, NULL, v.base,
                          v.len);
}

void add_etag(struct rctx *c, int64_t version)
{
    char etag[32];
    snprintf(etag, sizeof(etag), "\"%lld\"", (long long)version);
    add_header(c, H2O_TOKEN_ETAG, etag);
}

const char *req_header(struct rctx *c, const h2o_token_t *token, size_t *len)
{
    ssize_t i = h2o_find_header(&c->req->headers, token, -1);
    if (i < 0)
        return NULL;
    *len = c->req->headers.entries[i].value.len;
    return c->req->headers.entries[i].value.base;
}

const char *req_header_name(struct rctx *c, const char *name, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&c->req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    *len = c->req->headers.entries[i].value.len;
    return c->req->headers.entries[i].value.base;
}

int req_if_match(struct rctx *c, int64_t *version)
{
    size_t len;
    const char *v = req_header(c, H2O_TOKEN_IF_MATCH, &len);
    if (!v)
        return 0;
    switch (etag_if_match(v, len, version)) {
    case ETAG_MATCH_VERSION:
        return 1;
    case ETAG_MATCH_ANY:
        return 0;
    default:
        return -1;
    }
}

int req_not_modified(struct rctx *c, int64_t version)
{
    size_t len;
    const char *v = req_header(c, H2O_TOKEN_IF_NONE_MATCH, &len);
    char etag[32];
    int n;

    if (!v)
        return 0;
    n = snprintf(etag, sizeof(etag), "\"%lld\"", (long long)version);
    /* A list of tags, weak or strong, or "*". */
    for (size_t i = 0; i < len;) {
        while (i < len && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        size_t k = j;
        while (k > i && v[k - 1] == ' ')
            k--;
        const char *t = v + i;
        size_t tl = k - i;
        if (tl >= 2 && t[0] == 'W' && t[1] == '/') {
            t += 2;
            tl -= 2;
        }
        if ((tl == 1 && t[0] == '*') || (tl == (size_t)n && memcmp(t, etag, tl) == 0))
            return 1;
        i = j;
    }
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int req_query(struct rctx *c, const char *name, char *buf, size_t size)
{
    size_t nlen = strlen(name);
    const char *q = c->query, *end = c->query ? c->query + c->query_len : NULL;

    if (!q)
        return 0;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        if ((size_t)(pe - q) > nlen && memcmp(q, name, nlen) == 0 && q[nlen] == '=') {
            size_t o = 0;
            for (const char *s = q + nlen + 1; s < pe && o + 1 < size; s++) {
                if (*s == '%' && pe - s >= 3 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                    buf[o++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
                    s += 2;
                } else {
                    buf[o++] = *s == '+' ? ' ' : *s;
                }
            }
            buf[o] = '\0';
            return 1;
        }
        q = pe + 1;
    }
    return 0;
}

/* --- keyset pagination ------------------------------------------------------------ */

int page_params(struct rctx *c, int *limit, char *key, char *id)
{
    char buf[256];
    struct fields f = {0};
    *limit = PAGE_DEFAULT_LIMIT;
    key[0] = id[0] = '\0';
    if (req_query(c, "limit", buf, sizeof(buf))) {
        char *end;
        long v = strtol(buf, &end, 10);
        if (buf[0] < '0' || buf[0] > '9' || *end || v < 1 || v > PAGE_MAX_LIMIT)
            fields_add(&f, "limit", "must be an integer from 1 to %d", PAGE_MAX_LIMIT);
        else
            *limit = (int)v;
    }
    if (req_query(c, "cursor", buf, sizeof(buf)) && cursor_decode(buf, key, id) != 0)
        fields_add(&f, "cursor", "is not a cursor this server issued");
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "invalid pagination parameters", &f);
        return -1;
    }
    return 0;
}

int respond_db_failed(struct rctx *c, PGresult *res)
{
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the database is unavailable", NULL);
        return 1;
    }
    return 0;
}

void respond_resource(struct rctx *c, PGresult *res, int applied)
{
    const struct resource_kind *k = c->kind;
    const char *what = k->what;
    int id_col = k->id_col;
    char detail[64];
    if (respond_db_failed(c, res))
        return;
    if (PQnfields(res) < k->n_cols) {
        respond_problem(c, PROBLEM_INTERNAL, "the database answered an unexpected shape", NULL);
        return;
    }
    if (PQntuples(res) != 1) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return;
    }
    if (PQgetisnull(res, 0, id_col)) {
        snprintf(detail, sizeof(detail), "no such %s", what);
        respond_problem(c, PROBLEM_NOT_FOUND, detail, NULL);
        return;
    }
    int64_t version = atoll(PQgetvalue(res, 0, k->version_col));
    add_etag(c, version);
    if (!applied && req_not_modified(c, version)) {
        respond_empty(c, 304);
        return;
    }
    json_t *r = k->from_row(res, 0);
    if (!r) {
        snprintf(detail, sizeof(detail), "the stored %s cannot be read", what);
        respond_problem(c, PROBLEM_INTERNAL, detail, NULL);
        return;
    }
    respond_json(c, applied ? c->result_status : 200, r);
}

int req_if_match_checked(struct rctx *c, int required, const char *what)
{
    char detail[96];
    int m = req_if_match(c, &c->if_match);
    if (m < 0) {
        respond_problem(c, PROBLEM_PRECONDITION_FAILED,
                        "If-Match must be one quoted version, like \"3\"", NULL);
        return -1;
    }
    if (m == 0 && required) {
        snprintf(detail, sizeof(detail), "this change needs If-Match with the %s's version", what);
        respond_problem(c, PROBLEM_PRECONDITION_REQUIRED, detail, NULL);
        return -1;
    }
    return 0;
}

int respond_page_head(struct rctx *c, PGresult *res)
{
    if (respond_db_failed(c, res))
        return -1;
    if (PQntuples(res) == 0) {
        respond_problem(c, PROBLEM_NOT_FOUND, "no such group", NULL);
        return -1;
    }
    int64_t version = atoll(PQgetvalue(res, 0, 0));
    add_etag(c, version);
    if (req_not_modified(c, version)) {
        respond_empty(c, 304);
        return -1;
    }
    return 0;
}

int req_reject_unknown(struct rctx *c, const char *const *allowed)
{
    struct fields f = {0};
    const char *k = json_unknown_key(c->doc.root, allowed);
    if (!k)
        return 0;
    fields_add(&f, k, "is not a known field");
    respond_problem(c, PROBLEM_VALIDATION, "the request has unknown fields", &f);
    return -1;
}

int req_parse_body(struct rctx *c, int allow_empty)
{
    return req_parse_body_max(c, allow_empty, API_MAX_BODY);
}

int req_parse_body_max(struct rctx *c, int allow_empty, size_t max)
{
    h2o_req_t *req = c->req;
    struct json_doc_error err;
    struct fields f = {0};
    size_t len;
    const char *ct = req_header(c, H2O_TOKEN_CONTENT_TYPE, &len);

    if (req->entity.len > max) {
        char detail[64];
        snprintf(detail, sizeof(detail), "request bodies are limited to %zu KiB", max / 1024);
        respond_problem(c, PROBLEM_TOO_LARGE, detail, NULL);
        return -1;
    }
    if (req->entity.len == 0 && allow_empty) {
        c->doc.root = json_object();
        return 0;
    }
    /* application/json, optionally with parameters (charset=utf-8). */
    if (!ct || len < 16 || strncasecmp(ct, "application/json", 16) != 0 ||
        (len > 16 && ct[16] != ';' && ct[16] != ' ')) {
        respond_problem(c, PROBLEM_UNSUPPORTED_MEDIA, "the body must be application/json", NULL);
        return -1;
    }
    if (json_doc_parse(&c->doc, req->entity.base, req->entity.len, API_MAX_DEPTH, &err) != 0) {
        char detail[256];
        if (err.status == JSON_DOC_DUPLICATE) {
            fields_add(&f, err.field, "appears more than once");
            respond_problem(c, PROBLEM_VALIDATION, "duplicate key in the JSON body", &f);
        } else {
            snprintf(detail, sizeof(detail), "the body is not valid JSON: %s at byte %zu",
                     err.message, err.offset);
            if (err.field[0])
                fields_add(&f, err.field, "%s", err.message);
            respond_problem(c, PROBLEM_MALFORMED, detail, &f);
        }
        return -1;
    }
    if (!json_is_object(c->doc.root)) {
        respond_problem(c, PROBLEM_VALIDATION, "the body must be a JSON object", NULL);
        return -1;
    }
    return 0;
}

/* --- authentication ------------------------------------------------------------ */

static void on_session(redisReply *r, struct rctx *c)
{
    uint64_t age_ms;
    if (!rctx_unref_live(c))
        return;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        /* Redis unreachable: trust a session it confirmed a short while ago,
           so reads go on from PostgreSQL (writes need Redis anyway). */
        if (sessions_lookup(c->token_hash, c->user_id, &age_ms) &&
            age_ms < (uint64_t)api.cfg.session_grace_s * 1000) {
            c->next(c);
            return;
        }
        respond_problem(c, PROBLEM_UNAVAILABLE, "the session store is unavailable", NULL);
        return;
    }
    if (r->type != REDIS_REPLY_STRING || r->len != 36) {
        sessions_forget(c->token_hash);
        respond_problem(c, PROBLEM_UNAUTHORIZED, "the token is missing, invalid or expired", NULL);
        return;
    }
    memcpy(c->user_id, r->str, 36);
    c->user_id[36] = '\0';
    sessions_put(c->token_hash, c->user_id);
    c->next(c);
}

void auth_then(struct rctx *c, rctx_fn next)
{
    size_t len;
    const char *h = req_header(c, H2O_TOKEN_AUTHORIZATION, &len);
    char key[128];
    uint64_t age_ms;

    if (!h || len < 8 || strncasecmp(h, "Bearer ", 7) != 0 || len - 7 > 256) {
        respond_problem(c, PROBLEM_UNAUTHORIZED, "a bearer token is required", NULL);
        return;
    }
    sha256_hex(h + 7, len - 7, c->token_hash);
    if (sessions_lookup(c->token_hash, c->user_id, &age_ms) &&
        age_ms < (uint64_t)api.cfg.session_recheck_s * 1000) {
        next(c);
        return;
    }
    keys_fmt(key, sizeof(key), "session", c->token_hash);
    c->next = next;
    /* GETEX slides the 30-day expiry on every use. */
    rcli_cmd(c, on_session, "GETEX %s EX %d", key, KEYS_SESSION_TTL_S);
}

/* --- small utilities ------------------------------------------------------------- */

void now_rfc3339(char *buf)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void new_uuid(char *buf)
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, buf);
}

void sha256_hex(const void *data, size_t len, char *hex)
{
    unsigned char h[SHA256_BYTES];
    sha256_digest(h, data, len);
    sodium_bin2hex(hex, 65, h, sizeof(h));
}

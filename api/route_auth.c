/*
 * Accounts: register, log in, log out, me, and a guest's credentials.
 *
 * A guest account (route_guests.c) has neither email nor password; its
 * session token is its only key. POST /me/credentials gives it both, in
 * place: the same user, its memberships and tokens, now a full account.
 * Login looks accounts up by email, so it never finds a guest.
 *
 * Passwords are hashed with argon2id (libsodium, interactive limits) on
 * libuv's thread pool, never on the loop. A token is 32 random bytes in
 * base64url; Redis keeps only its SHA-256, mapped to the user, with a
 * sliding 30-day expiry.
 *
 * Failed logins slow down per account (docs/SECURITY.md): every attempt
 * increments splitter:loginfail:<sha256(email)>, whose TTL is set when the
 * window opens and never extended; a success deletes it. Past
 * LOGIN_FAIL_THRESHOLD attempts each answer is held on a loop timer
 * (LOGIN_DELAY_BASE_MS doubling, at most LOGIN_DELAY_MAX_MS), past
 * LOGIN_FAIL_LIMIT the api answers 429 with Retry-After until the window
 * ends, without looking at the password.
 */
#include "api.h"

#include "keys.h"
#include "log.h"
#include "nfc.h"
#include "script.h"
#include "xalloc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_DELAY_BASE_MS 250
#define LOGIN_DELAY_MAX_MS 4000

/* Count one login attempt: INCR, and give the window its TTL if it has none
   (never extended, so the slowdown always ends). Returns {count, ttl}. */
#define LOGIN_COUNT_LUA                                                                            \
    "local n = redis.call('INCR', KEYS[1])\n"                                                      \
    "if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\n"          \
    "return {n, redis.call('TTL', KEYS[1])}\n"
static struct script login_count_script = SCRIPT_INIT(LOGIN_COUNT_LUA);

/* Work done off the loop. */
struct pw_work {
    uv_work_t req;
    struct rctx *c;
    char password[1025];
    char hash[crypto_pwhash_STRBYTES];
    int ok;
    int never;          /* login: the credential cannot match (checked all the same) */
    char email[256];    /* login: the normalised email */
    char fail_key[128]; /* login: splitter:loginfail:<sha256(email)> */
    uv_timer_t delay;   /* login: holds the answer of a slowed-down account */
};

static const char *const register_keys[] = {"email", "password", "name", NULL};
static const char *const login_keys[] = {"email", "password", NULL};
static const char *const credentials_keys[] = {"email", "password", NULL};

/* A well-formed dummy hash so unknown emails cost as much as wrong passwords. */
static char dummy_hash[crypto_pwhash_STRBYTES];

/* The email as accounts are keyed: trimmed, normalised to NFC (shared/nfc.h:
   visually identical spellings become one), ASCII lower-cased, into out
   (>= 255 bytes). Control, format and space characters inside, and characters
   outside the normalised scope that NFC could change, are refused. 0, or -1
   (recorded). */
static int get_email(const json_t *body, char *out, struct fields *f)
{
    const json_t *v = json_object_get(body, "email");
    const char *s, *e;
    char norm[1024];
    size_t n;

    if (!v) {
        fields_add(f, "email", "is required");
        return -1;
    }
    if (!json_is_string(v)) {
        fields_add(f, "email", "must be a string");
        return -1;
    }
    s = json_string_value(v);
    e = s + json_string_length(v);
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    switch (nfc_normalise(s, (size_t)(e - s), norm, sizeof(norm))) {
    case NFC_OK:
        break;
    case NFC_INVALID_UTF8:
    case NFC_INVISIBLE:
        fields_add(f, "email", "must not contain control, invisible or space characters");
        return -1;
    case NFC_UNSUPPORTED:
        fields_add(f, "email",
                   "contains a character that cannot be compared reliably (combining marks and "
                   "composed letters are accepted in Latin, Greek and Cyrillic only)");
        return -1;
    case NFC_TOO_LONG:
        fields_add(f, "email", "must be an email address of at most 254 characters");
        return -1;
    }
    n = strlen(norm);
    if (n < 3 || n > 254) {
        fields_add(f, "email", "must be an email address of at most 254 characters");
        return -1;
    }
    for (size_t i = 0; i <= n; i++)
        out[i] = norm[i] >= 'A' && norm[i] <= 'Z' ? (char)(norm[i] - 'A' + 'a') : norm[i];
    const char *at = strchr(out, '@');
    if (!at || at == out || !at[1] || strchr(at + 1, '@') || strpbrk(out, " \t\r\n<>()[]\\,;:\"")) {
        fields_add(f, "email", "must be an email address");
        return -1;
    }
    return 0;
}

/* The password into out (1025 bytes). A registration's must be 8 to 1024
   bytes without NUL. For a login (never set) any string is a credential to
   check: one no account can have (too long, or holding NUL) is checked as
   an empty one with *never = 1, so it answers 401 on the same path as every
   other wrong password. 0, or -1 with the reason recorded in f. */
static int get_password(const json_t *body, char *out, int *never, struct fields *f)
{
    const json_t *v = json_object_get(body, "password");
    size_t n;
    if (!v) {
        fields_add(f, "password", "is required");
        return -1;
    }
    if (!json_is_string(v)) {
        fields_add(f, "password", "must be a string");
        return -1;
    }
    n = json_string_length(v);
    if (never && (n > 1024 || memchr(json_string_value(v), '\0', n))) {
        *never = 1;
        out[0] = '\0';
        return 0;
    }
    if (!never && (n < 8 || n > 1024)) {
        fields_add(f, "password", "must be 8 to 1024 bytes long");
        return -1;
    }
    if (memchr(json_string_value(v), '\0', n)) {
        fields_add(f, "password", "must not contain NUL characters");
        return -1;
    }
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

/* --- issuing a token ------------------------------------------------------------------ */

static void on_session_set(redisReply *r, struct rctx *c)
{
    if (!rctx_unref_live(c))
        return;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the session store is unavailable", NULL);
        return;
    }
    /* c->data: {"user": ..., "token": ..., ...} */
    respond_json(c, c->answer_status, json_incref(c->data));
}

void session_issue(struct rctx *c, json_t *body, int status)
{
    unsigned char raw[32];
    char token[64], hash[65], key[128];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(token, sizeof(token), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sha256_hex(token, strlen(token), hash);
    keys_fmt(key, sizeof(key), "session", hash);
    json_object_set_new(body, "token", json_string(token));
    json_decref(c->data);
    c->data = body;
    c->answer_status = status;
    rcli_cmd(c, on_session_set, "SET %s %s EX %d", key,
             json_string_value(json_object_get(json_object_get(body, "user"), "id")),
             KEYS_SESSION_TTL_S);
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(token, sizeof(token));
}

/* Create a session for user (a JSON object, stolen) and answer status. */
static void issue_token(struct rctx *c, json_t *user, int status)
{
    session_issue(c, json_pack("{s:o}", "user", user), status);
}

/* --- register ------------------------------------------------------------------------- */

static void hash_work(uv_work_t *req)
{
    struct pw_work *w = req->data;
    w->ok = crypto_pwhash_str(w->hash, w->password, strlen(w->password),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
    sodium_memzero(w->password, sizeof(w->password));
}

static void on_user_inserted(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c))
        return;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (res && PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
            strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23505") == 0) {
            respond_problem(c, PROBLEM_EMAIL_TAKEN, "an account with this email already exists",
                            NULL);
            return;
        }
        respond_problem(c, PROBLEM_UNAVAILABLE, "the database is unavailable", NULL);
        return;
    }
    if (PQntuples(res) == 0) {
        respond_problem(c, PROBLEM_EMAIL_TAKEN, "an account with this email already exists", NULL);
        return;
    }
    json_t *user = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    issue_token(c, user, 201);
}

static void after_hash(uv_work_t *req, int status)
{
    struct pw_work *w = req->data;
    struct rctx *c = w->c;
    char id[UUID_STR_SIZE];
    (void)status;
    if (!rctx_unref_live(c))
        return;
    rctx_deadline_restart(c);
    if (!w->ok) {
        respond_problem(c, PROBLEM_INTERNAL, "the password could not be hashed", NULL);
        return;
    }
    new_uuid(id);
    const char *email = json_string_value(json_object_get(c->data, "email"));
    const char *name = json_string_value(json_object_get(c->data, "name"));
    const char *p[4] = {id, email, name, w->hash};
    pg_query(c, on_user_inserted,
             "INSERT INTO users AS u (id, email, name, password_hash) VALUES ($1, $2, $3, $4)"
             " ON CONFLICT (email) DO NOTHING RETURNING " USER_JSON_SQL,
             4, p);
}

int auth_get_name(const json_t *body, struct fields *f)
{
    const json_t *v = json_object_get(body, "name");
    size_t n;
    if (!v) {
        fields_add(f, "name", "is required");
        return -1;
    }
    if (!json_is_string(v)) {
        fields_add(f, "name", "must be a string");
        return -1;
    }
    if (memchr(json_string_value(v), '\0', json_string_length(v))) {
        fields_add(f, "name", "must not contain NUL characters");
        return -1;
    }
    n = json_utf8_length(json_string_value(v));
    if (n < 1 || n > 100) {
        fields_add(f, "name", "must be 1 to 100 characters long");
        return -1;
    }
    return 0;
}

void route_register(struct rctx *c)
{
    struct fields f = {0};
    char email[256];
    struct pw_work *w;

    if (req_parse_body(c, 0) != 0 || req_reject_unknown(c, register_keys) != 0)
        return;
    w = xcalloc(1, sizeof(*w));
    c->work = w;
    get_email(c->doc.root, email, &f);
    get_password(c->doc.root, w->password, NULL, &f);
    auth_get_name(c->doc.root, &f);
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "the registration is not valid", &f);
        return;
    }
    c->data = json_pack("{s:s, s:O}", "email", email, "name", json_object_get(c->doc.root, "name"));
    w->c = c;
    w->req.data = w;
    rctx_ref(c);
    rctx_deadline_pause(c); /* argon2id queues behind other hashes under load */
    uv_queue_work(api.loop, &w->req, hash_work, after_hash);
}

/* --- login ------------------------------------------------------------------------------ */

static void verify_work(uv_work_t *req)
{
    struct pw_work *w = req->data;
    w->ok = crypto_pwhash_str_verify(w->hash, w->password, strlen(w->password)) == 0 && !w->never;
    sodium_memzero(w->password, sizeof(w->password));
}

static void after_verify(uv_work_t *req, int status)
{
    struct pw_work *w = req->data;
    struct rctx *c = w->c;
    (void)status;
    if (!rctx_unref_live(c))
        return;
    rctx_deadline_restart(c);
    if (!w->ok || !c->data) {
        respond_problem(c, PROBLEM_UNAUTHORIZED, "wrong email or password", NULL);
        return;
    }
    /* Sent before the token's SET on the same connection: it lands first. */
    rcli_send("DEL %s", w->fail_key);
    issue_token(c, json_incref(c->data), 200);
}

static void on_user_found(PGresult *res, struct rctx *c)
{
    struct pw_work *w = c->work;
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) == 1) {
        snprintf(w->hash, sizeof(w->hash), "%s", PQgetvalue(res, 0, 0));
        c->data = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    } else {
        memcpy(w->hash, dummy_hash, sizeof(w->hash));
    }
    w->c = c;
    w->req.data = w;
    rctx_ref(c);
    rctx_deadline_pause(c);
    uv_queue_work(api.loop, &w->req, verify_work, after_verify);
}

int auth_init(void)
{
    return crypto_pwhash_str(dummy_hash, "not a password", 14, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

static void find_user(struct rctx *c)
{
    struct pw_work *w = c->work;
    const char *p[1] = {w->email};
    pg_query(c, on_user_found,
             "SELECT u.password_hash, " USER_JSON_SQL " FROM users u WHERE u.email = $1"
             " AND u.password_hash IS NOT NULL",
             1, p);
}

static void on_delay_closed(uv_handle_t *h)
{
    struct rctx *c = h->data;
    if (!rctx_unref_live(c))
        return;
    rctx_deadline_restart(c);
    find_user(c);
}

static void on_delay(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, on_delay_closed);
}

static void on_login_counted(redisReply *r, struct rctx *c)
{
    struct pw_work *w = c->work;
    long long n, ttl;
    char retry[24];

    if (!rctx_unref_live(c))
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the session store is unavailable", NULL);
        return;
    }
    n = r->element[0]->integer;
    ttl = r->element[1]->integer;
    if (n > api.cfg.login_fail_limit) {
        snprintf(retry, sizeof(retry), "%lld", ttl > 0 ? ttl : 1);
        add_header(c, H2O_TOKEN_RETRY_AFTER, retry);
        respond_problem(c, PROBLEM_RATE_LIMITED,
                        "too many failed logins for this account; retry after the time given in "
                        "Retry-After",
                        NULL);
        return;
    }
    if (n > api.cfg.login_fail_threshold) {
        long long shift = n - api.cfg.login_fail_threshold - 1;
        uint64_t ms = shift >= 5 ? LOGIN_DELAY_MAX_MS : (uint64_t)LOGIN_DELAY_BASE_MS << shift;
        if (ms > LOGIN_DELAY_MAX_MS)
            ms = LOGIN_DELAY_MAX_MS;
        if (h2o_timeout_is_linked(&c->deadline))
            h2o_timeout_unlink(&c->deadline);
        uv_timer_init(api.loop, &w->delay);
        w->delay.data = c;
        rctx_ref(c);
        uv_timer_start(&w->delay, on_delay, ms, 0);
        return;
    }
    find_user(c);
}

void route_login(struct rctx *c)
{
    struct fields f = {0}, ef = {0};
    char hash[65], window[16];
    struct pw_work *w;

    if (req_parse_body(c, 0) != 0 || req_reject_unknown(c, login_keys) != 0)
        return;
    w = xcalloc(1, sizeof(*w));
    c->work = w;
    if (get_email(c->doc.root, w->email, &ef) != 0) {
        if (json_is_string(json_object_get(c->doc.root, "email"))) {
            /* A string that is no address names no account: a wrong credential. */
            w->never = 1;
            w->email[0] = '\0';
        } else {
            f = ef;
        }
    }
    get_password(c->doc.root, w->password, &w->never, &f);
    if (f.n) {
        respond_problem(c, PROBLEM_VALIDATION, "the login is not valid", &f);
        return;
    }
    sha256_hex(w->email, strlen(w->email), hash);
    keys_fmt(w->fail_key, sizeof(w->fail_key), "loginfail", hash);
    snprintf(window, sizeof(window), "%d", api.cfg.login_fail_window_s);
    const char *argv[3] = {"1", w->fail_key, window};
    rcli_script(c, on_login_counted, &login_count_script, 3, argv, NULL);
}

/* --- logout and me ---------------------------------------------------------------------- */

static void on_session_deleted(redisReply *r, struct rctx *c)
{
    /* Again on the reply: a GETEX sent before the DEL may have cached it. */
    sessions_forget(c->token_hash);
    if (!rctx_unref_live(c))
        return;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        respond_problem(c, PROBLEM_UNAVAILABLE, "the session store is unavailable", NULL);
        return;
    }
    respond_empty(c, 204);
}

static void logout_authed(struct rctx *c)
{
    char key[128];
    keys_fmt(key, sizeof(key), "session", c->token_hash);
    sessions_forget(c->token_hash);
    rcli_cmd(c, on_session_deleted, "DEL %s", key);
}

void route_logout(struct rctx *c)
{
    auth_then(c, logout_authed);
}

static void on_me(PGresult *res, struct rctx *c)
{
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) == 0) {
        respond_problem(c, PROBLEM_UNAUTHORIZED, "the account no longer exists", NULL);
        return;
    }
    respond_json_text(c, 200, PQgetvalue(res, 0, 0));
}

static void me_authed(struct rctx *c)
{
    const char *p[1] = {c->user_id};
    pg_query(c, on_me, "SELECT " USER_JSON_SQL " FROM users u WHERE u.id = $1", 1, p);
}

void route_me(struct rctx *c)
{
    auth_then(c, me_authed);
}

/* --- a guest's credentials ----------------------------------------------------------------- */

static void on_credentials_set(PGresult *res, struct rctx *c)
{
    const char *state;
    if (!rctx_unref_live(c))
        return;
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0) {
        respond_problem(c, PROBLEM_EMAIL_TAKEN, "an account with this email already exists", NULL);
        return;
    }
    if (respond_db_failed(c, res))
        return;
    if (PQntuples(res) == 0) {
        /* Another request gave this guest credentials meanwhile. */
        respond_problem(c, PROBLEM_CONFLICT, "this account already has an email and password",
                        NULL);
        return;
    }
    respond_json_text(c, 200, PQgetvalue(res, 0, 0));
}

static void after_credentials_hash(uv_work_t *req, int status)
{
    struct pw_work *w = req->data;
    struct rctx *c = w->c;
    (void)status;
    if (!rctx_unref_live(c))
        return;
    rctx_deadline_restart(c);
    if (!w->ok) {
        respond_problem(c, PROBLEM_INTERNAL, "the password could not be hashed", NULL);
        return;
    }
    /* Still a guest: two requests racing set the credentials once. */
    const char *p[3] = {c->user_id, w->email, w->hash};
    pg_query(c, on_credentials_set,
             "UPDATE users AS u SET email = $2, password_hash = $3 WHERE u.id = $1"
             " AND u.email IS NULL AND u.password_hash IS NULL RETURNING " USER_JSON_SQL,
             3, p);
}

static void on_credentials_user(PGresult *res, struct rctx *c)
{
    struct pw_work *w = c->work;
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) == 0) {
        respond_problem(c, PROBLEM_UNAUTHORIZED, "the account no longer exists", NULL);
        return;
    }
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        respond_problem(c, PROBLEM_CONFLICT, "this account already has an email and password",
                        NULL);
        return;
    }
    w->c = c;
    w->req.data = w;
    rctx_ref(c);
    rctx_deadline_pause(c);
    uv_queue_work(api.loop, &w->req, hash_work, after_credentials_hash);
}

static void credentials_authed(struct rctx *c)
{
    struct fields f = {0};
    struct pw_work *w;

    if (req_parse_body(c, 0) != 0 || req_reject_unknown(c, credentials_keys) != 0)
        return;
    w = xcalloc(1, sizeof(*w));
    c->work = w;
    get_email(c->doc.root, w->email, &f);
    get_password(c->doc.root, w->password, NULL, &f);
    if (f.n) {
        sodium_memzero(w->password, sizeof(w->password));
        respond_problem(c, PROBLEM_VALIDATION, "the credentials are not valid", &f);
        return;
    }
    /* Only a guest may: checked before the costly hash, and again by the UPDATE. */
    const char *p[1] = {c->user_id};
    pg_query(c, on_credentials_user,
             "SELECT u.email IS NULL AND u.password_hash IS NULL FROM users u WHERE u.id = $1", 1,
             p);
}

void route_me_credentials(struct rctx *c)
{
    auth_then(c, credentials_authed);
}

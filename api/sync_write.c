/*
 * sync_write: the synchronous writes' Idempotency-Key (creating groups and
 * members, invites, accepting an invite), anchored in PostgreSQL.
 *
 * A write is one statement, "WITH <ctes> <final>". Without a key it runs as
 * it is. With one, the api first looks the key up in sync_request_keys
 * (postgres/migrations/007_sync_request_keys.sql), deleting the key's own
 * expired row and a few of the oldest on the way:
 *   - found with the same request hash: the rows the first write returned
 *     are handed to the route's callback again, with Idempotent-Replayed:
 *     true, so it answers exactly as it did the first time;
 *   - found with another hash: 422 naming Idempotency-Key;
 *   - absent: the write runs with its final SELECT as a CTE whose rows are
 *     also inserted, as text, under the key in the same statement. Either
 *     both commit or neither does. A concurrent request with the same key
 *     that committed first makes the INSERT fail (unique violation, the
 *     whole statement rolls back), and this request answers like that one.
 * The header is checked as for ledger writes: 1 to 255 bytes, else 422.
 */
#include "api.h"

#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_WINDOW "interval '24 hours'"
#define PURGE_BATCH "20"

/* The write with its final rows as a CTE, recorded as text column by column
   under the key when keep holds for one of them: ctes, final, the actor's,
   the key hash's and the request hash's parameter, keep. */
#define KEYED_SQL                                                                                  \
    "WITH %s, w_out AS (%s),"                                                                      \
    " w_key AS (INSERT INTO sync_request_keys (actor, key_sha256, request_sha256, result)"         \
    "  SELECT %s::uuid, %s, %s, coalesce((SELECT json_agg((SELECT json_agg(e.value ORDER BY"       \
    "   e.n) FROM json_each_text(row_to_json(o)) WITH ORDINALITY AS e(key, value, n)))"            \
    "   FROM w_out o), '[]')"                                                                      \
    "  WHERE EXISTS (SELECT 1 FROM w_out o WHERE %s))"                                             \
    " SELECT * FROM w_out"

struct sync_write {
    pg_cb cb;
    char *sql; /* the keyed statement */
    int n;     /* its parameters: the route's, then actor, key hash, request hash */
    char **params;
    int conflicted; /* the write lost the race for its key once */
};

void sync_write_release(struct sync_write *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++)
        free(w->params[i]);
    free(w->params);
    free(w->sql);
    free(w);
}

int req_idempotency_key(struct rctx *c, const char **key, size_t *len)
{
    *key = req_header_name(c, "idempotency-key", len);
    if (*key && (*len == 0 || *len > 255)) {
        struct fields f = {0};
        fields_add(&f, "Idempotency-Key", "must be 1 to 255 bytes long");
        respond_problem(c, PROBLEM_VALIDATION, "invalid Idempotency-Key header", &f);
        return -1;
    }
    return 0;
}

/* The request's hash: method, path and the body with its keys sorted. */
static void request_hash(struct rctx *c, char *hex)
{
    char *body = c->doc.root
                     ? json_dumps(c->doc.root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                     : NULL;
    size_t n = strlen(c->method) + (body ? strlen(body) : 0) + 16;
    for (size_t i = 0; i < c->n_seg; i++)
        n += strlen(c->seg[i]) + 1;
    char *m = xmalloc(n);
    size_t pos = (size_t)snprintf(m, n, "%s|", c->method);
    for (size_t i = 0; i < c->n_seg; i++)
        pos += (size_t)snprintf(m + pos, n - pos, "/%s", c->seg[i]);
    snprintf(m + pos, n - pos, "|%s", body ? body : "");
    sha256_hex(m, strlen(m), hex);
    free(m);
    free(body);
}

/* The stored rows (a JSON array of arrays of text or null) as a result the
   route's callback reads like the first one. NULL if malformed. */
static PGresult *stored_result(const char *text)
{
    json_t *rows = json_loads(text, 0, NULL);
    PGresult *res = NULL;
    size_t ncol = 0;

    if (!json_is_array(rows))
        goto out;
    if (json_array_size(rows) > 0) {
        if (!json_is_array(json_array_get(rows, 0)))
            goto out;
        ncol = json_array_size(json_array_get(rows, 0));
    }
    res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc *attrs = xcalloc(ncol + 1, sizeof(*attrs));
    for (size_t j = 0; j < ncol; j++) {
        attrs[j].name = (char *)"c";
        attrs[j].typid = 25; /* text */
        attrs[j].typlen = -1;
        attrs[j].atttypmod = -1;
    }
    int ok = PQsetResultAttrs(res, (int)ncol, attrs);
    free(attrs);
    for (size_t i = 0; ok && i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);
        if (!json_is_array(row) || json_array_size(row) != ncol) {
            ok = 0;
            break;
        }
        for (size_t j = 0; ok && j < ncol; j++) {
            const json_t *v = json_array_get(row, j);
            if (json_is_null(v))
                ok = PQsetvalue(res, (int)i, (int)j, NULL, -1);
            else if (json_is_string(v))
                ok = PQsetvalue(res, (int)i, (int)j, (char *)json_string_value(v),
                                (int)json_string_length(v));
            else
                ok = 0;
        }
    }
    if (!ok) {
        PQclear(res);
        res = NULL;
    }
out:
    json_decref(rows);
    return res;
}

static void lookup(struct rctx *c);

static void on_keyed_write(PGresult *res, struct rctx *c)
{
    struct sync_write *w = c->sync;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    if (state && strcmp(state, "23505") == 0 && constraint &&
        strcmp(constraint, "sync_request_keys_pkey") == 0 && !w->conflicted) {
        /* A request with the same key committed first: answer like it. */
        w->conflicted = 1;
        if (rctx_unref_live(c))
            lookup(c);
        return;
    }
    w->cb(res, c);
}

static void on_lookup(PGresult *res, struct rctx *c)
{
    struct sync_write *w = c->sync;
    if (!rctx_unref_live(c) || respond_db_failed(c, res))
        return;
    if (PQntuples(res) == 0) {
        if (w->conflicted) {
            respond_problem(c, PROBLEM_UNAVAILABLE,
                            "a request with this Idempotency-Key is in progress; try again", NULL);
            return;
        }
        pg_query(c, on_keyed_write, w->sql, w->n, (const char *const *)w->params);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 0), w->params[w->n - 1]) != 0) {
        struct fields f = {0};
        fields_add(&f, "Idempotency-Key", "was used with a different request");
        respond_problem(c, PROBLEM_VALIDATION,
                        "this Idempotency-Key was already used with a different request", &f);
        return;
    }
    PGresult *first = stored_result(PQgetvalue(res, 0, 1));
    if (!first) {
        respond_problem(c, PROBLEM_INTERNAL, "the first answer to this request cannot be read",
                        NULL);
        return;
    }
    add_header_name(c, "idempotent-replayed", "true");
    rctx_ref(c); /* the callback drops one, as after a query */
    w->cb(first, c);
    PQclear(first);
}

static void lookup(struct rctx *c)
{
    struct sync_write *w = c->sync;
    const char *p[2] = {w->params[w->n - 3], w->params[w->n - 2]};
    pg_query(c, on_lookup,
             "WITH purge AS (DELETE FROM sync_request_keys WHERE (actor = $1 AND key_sha256 = $2"
             "  AND created_at < now() - " KEY_WINDOW ") OR (actor, key_sha256) IN"
             "  (SELECT actor, key_sha256 FROM sync_request_keys"
             "   WHERE created_at < now() - " KEY_WINDOW " ORDER BY created_at LIMIT " PURGE_BATCH
             "))"
             " SELECT request_sha256, result::text FROM sync_request_keys"
             " WHERE actor = $1 AND key_sha256 = $2 AND created_at >= now() - " KEY_WINDOW,
             2, p);
}

void pg_write(struct rctx *c, pg_cb cb, const char *ctes, const char *final, const char *keep,
              int n, const char *const *params)
{
    const char *key;
    size_t len, size;
    char key_hash[65], req_hash[65], a[16], k[16], h[16];

    if (req_idempotency_key(c, &key, &len) != 0)
        return;
    if (!key) {
        size = strlen(ctes) + strlen(final) + 8;
        char *sql = xmalloc(size);
        snprintf(sql, size, "WITH %s %s", ctes, final);
        pg_query(c, cb, sql, n, params);
        free(sql);
        return;
    }
    struct sync_write *w = xcalloc(1, sizeof(*w));
    sync_write_release(c->sync);
    c->sync = w;
    w->cb = cb;
    sha256_hex(key, len, key_hash);
    request_hash(c, req_hash);
    w->n = n + 3;
    w->params = xcalloc((size_t)w->n, sizeof(*w->params));
    for (int i = 0; i < n; i++)
        w->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    w->params[n] = xstrdup(c->user_id);
    w->params[n + 1] = xstrdup(key_hash);
    w->params[n + 2] = xstrdup(req_hash);
    snprintf(a, sizeof(a), "$%d", n + 1);
    snprintf(k, sizeof(k), "$%d", n + 2);
    snprintf(h, sizeof(h), "$%d", n + 3);
    size = sizeof(KEYED_SQL) + strlen(ctes) + strlen(final) + (keep ? strlen(keep) : 4) + 64;
    w->sql = xmalloc(size);
    snprintf(w->sql, size, KEYED_SQL, ctes, final, a, k, h, keep ? keep : "true");
    lookup(c);
}

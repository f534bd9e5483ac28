#include "pgutil.h"

#include "config.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Advisory lock key for migrations: "splitter" in ASCII. */
#define MIGRATION_LOCK_KEY 0x73706c6974746572LL

/* Append key='value' with libpq quoting. Returns new pos, or size on overflow. */
static size_t put_param(char *buf, size_t pos, size_t size, const char *key, const char *value)
{
    int n = snprintf(buf + pos, size - pos, "%s%s='", pos ? " " : "", key);
    if (n < 0 || (size_t)n >= size - pos)
        return size;
    pos += (size_t)n;
    for (const char *s = value; *s; s++) {
        if (pos + 3 >= size)
            return size;
        if (*s == '\'' || *s == '\\')
            buf[pos++] = '\\';
        buf[pos++] = *s;
    }
    if (pos + 2 >= size)
        return size;
    buf[pos++] = '\'';
    buf[pos] = '\0';
    return pos;
}

/* POSTGRES_HOSTS as libpq's host and port lists into hosts (hsize bytes) and
   ports (psize bytes). 0, or -1 (logged). */
static int host_lists(const char *list, char *hosts, size_t hsize, char *ports, size_t psize)
{
    struct config_hostport hp[PG_MAX_HOSTS];
    size_t n, hpos = 0, ppos = 0;
    char err[160];

    if (config_hostports(list, hp, PG_MAX_HOSTS, &n, err, sizeof(err)) != 0) {
        log_error("config: 'POSTGRES_HOSTS': %s", err);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int a = snprintf(hosts + hpos, hsize - hpos, "%s%s", i ? "," : "", hp[i].host);
        int b = snprintf(ports + ppos, psize - ppos, "%s%d", i ? "," : "", hp[i].port);
        if (a < 0 || b < 0 || (size_t)a >= hsize - hpos || (size_t)b >= psize - ppos) {
            log_error("config: 'POSTGRES_HOSTS' is too long");
            return -1;
        }
        hpos += (size_t)a;
        ppos += (size_t)b;
    }
    return 0;
}

int pg_conninfo(char *buf, size_t size, const char *application_name)
{
    const char *list = config_str("POSTGRES_HOSTS", NULL);
    const char *attrs = config_str("POSTGRES_TARGET_SESSION_ATTRS", list ? "read-write" : NULL);
    char hosts[PG_MAX_HOSTS * (CONFIG_HOST_MAX + 1)], ports[PG_MAX_HOSTS * 6 + 1];
    size_t pos = 0;

    buf[0] = '\0';
    if (list && host_lists(list, hosts, sizeof(hosts), ports, sizeof(ports)) != 0)
        return -1;
    pos =
        put_param(buf, pos, size, "host", list ? hosts : config_str("POSTGRES_HOST", "127.0.0.1"));
    pos = put_param(buf, pos, size, "port", list ? ports : config_str("POSTGRES_PORT", "5433"));
    pos = put_param(buf, pos, size, "dbname", config_str("POSTGRES_DB", "splitter"));
    pos = put_param(buf, pos, size, "user", config_str("POSTGRES_USER", "splitter"));
    pos = put_param(buf, pos, size, "password", config_str("POSTGRES_PASSWORD", ""));
    pos = put_param(buf, pos, size, "application_name", application_name);
    pos = put_param(buf, pos, size, "connect_timeout", "5");
    if (attrs)
        pos = put_param(buf, pos, size, "target_session_attrs", attrs);
    if (pos >= size) {
        log_error("postgres: connection settings too long");
        return -1;
    }
    return 0;
}

int pg_sqlstate_failover(const char *state)
{
    if (!state || strlen(state) != 5)
        return 0;
    return strcmp(state, "25006") == 0 || strcmp(state, "57P01") == 0 ||
           strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 ||
           strncmp(state, "08", 2) == 0;
}

int pg_read_only(const PGconn *conn)
{
    const char *ro = conn ? PQparameterStatus(conn, "default_transaction_read_only") : NULL;
    const char *standby = conn ? PQparameterStatus(conn, "in_hot_standby") : NULL;
    return (ro && strcmp(ro, "on") == 0) || (standby && strcmp(standby, "on") == 0);
}

int pg_failover_error(const PGresult *res)
{
    return res ? pg_sqlstate_failover(PQresultErrorField(res, PG_DIAG_SQLSTATE)) : 0;
}

PGconn *pg_connect(const char *application_name)
{
    char info[1024];
    PGconn *conn;

    if (pg_conninfo(info, sizeof(info), application_name) != 0)
        return NULL;
    conn = PQconnectdb(info);
    if (PQstatus(conn) != CONNECTION_OK) {
        log_error("postgres: cannot connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int pg_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        log_error("postgres: %s", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Apply one migration file unless recorded; caller holds the lock. */
static int apply_one(PGconn *conn, const char *dir, const char *name)
{
    const char *params[1] = {name};
    char path[4096];
    char *sql = NULL;
    PGresult *res;
    int rc = -1;

    res = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error("postgres: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) > 0) {
        PQclear(res);
        return 0;
    }
    PQclear(res);

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    sql = read_file(path);
    if (!sql) {
        log_error("migrate: cannot read '%s'", path);
        return -1;
    }
    if (pg_exec(conn, "BEGIN") != 0)
        goto out;
    if (pg_exec(conn, sql) != 0) {
        log_error("migrate: '%s' failed", name);
        pg_exec(conn, "ROLLBACK");
        goto out;
    }
    res = PQexecParams(conn, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("postgres: %s", PQresultErrorMessage(res));
        PQclear(res);
        pg_exec(conn, "ROLLBACK");
        goto out;
    }
    PQclear(res);
    if (pg_exec(conn, "COMMIT") != 0)
        goto out;
    log_info("migrate: applied '%s'", name);
    rc = 0;
out:
    free(sql);
    return rc;
}

int pg_migrate(PGconn *conn, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, alloc = 0;
    int rc = -1;
    char lock[96];

    if (!d) {
        log_error("migrate: cannot open '%s'", dir);
        return -1;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || e->d_name[0] < '0' ||
            e->d_name[0] > '9')
            continue;
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            names = xreallocarray(names, alloc, sizeof(*names));
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);

    /* Another process applying the migrations is no lock to give up on: the
       wait for it ignores the session's lock_timeout (the worker's is 2 s,
       less than a fresh database's migrations take on a loaded machine). */
    char saved[64] = "";
    PGresult *r = PQexec(conn, "SELECT current_setting('lock_timeout')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(saved, sizeof(saved), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_lock(%lld)", MIGRATION_LOCK_KEY);
    if (pg_exec(conn, "SET lock_timeout = 0") != 0 || pg_exec(conn, lock) != 0)
        goto out;
    if (saved[0]) {
        const char *p[1] = {saved};
        r = PQexecParams(conn, "SELECT set_config('lock_timeout', $1, false)", 1, NULL, p, NULL,
                         NULL, 0);
        PQclear(r);
    }
    if (pg_exec(conn, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version text PRIMARY KEY,"
                      " applied_at timestamptz NOT NULL DEFAULT now())") != 0)
        goto unlock;
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = apply_one(conn, dir, names[i]);
unlock:
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_unlock(%lld)", MIGRATION_LOCK_KEY);
    pg_exec(conn, lock);
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/*
 * pgutil: PostgreSQL connection settings and schema migrations.
 *
 * Blocking calls, for start-up and for the worker (which owns its thread);
 * the api's request path uses its own non-blocking pool instead.
 */
#ifndef SPLITTER_PGUTIL_H
#define SPLITTER_PGUTIL_H

#include <libpq-fe.h>
#include <stddef.h>

/* Most servers POSTGRES_HOSTS may list. */
#define PG_MAX_HOSTS 8

/*
 * Build a libpq conninfo string from POSTGRES_HOST, POSTGRES_PORT,
 * POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD into buf (values quoted).
 * POSTGRES_HOSTS (comma-separated host:port), when set, replaces
 * POSTGRES_HOST and POSTGRES_PORT: libpq tries the servers in turn and keeps
 * the first that matches POSTGRES_TARGET_SESSION_ATTRS (default read-write
 * with POSTGRES_HOSTS, so a standby is passed over; unset otherwise).
 * Returns 0, or -1 (logged) if a setting is malformed or it does not fit.
 */
int pg_conninfo(char *buf, size_t size, const char *application_name);

/*
 * 1 when res failed because its server is not, or no longer, a writable
 * primary or is going away: SQLSTATE 25006 read_only_sql_transaction, 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, or class
 * 08 (connection exception). The statement did not take effect; the
 * connection should be dropped and opened again (POSTGRES_HOSTS then finds
 * the new primary). 0 otherwise, and for NULL.
 */
int pg_failover_error(const PGresult *res);

/* The same test on a SQLSTATE (NULL: 0). */
int pg_sqlstate_failover(const char *state);

/*
 * 1 when the server of conn, as it last reported (ParameterStatus, sent with
 * every query's answer once a setting changes), no longer takes writes:
 * default_transaction_read_only or in_hot_standby on. Reads on such a server
 * (a primary fenced read-only, a standby) may be stale: drop the connection
 * after the current query, and POSTGRES_HOSTS finds the new primary. 0 for
 * NULL.
 */
int pg_read_only(const PGconn *conn);

/* Connect (blocking). Returns a new connection the caller PQfinish()es, or
   NULL after logging why. */
PGconn *pg_connect(const char *application_name);

/* Apply every postgres/migrations/NNN_*.sql file in dir not yet recorded in
   schema_migrations, in name order, each in its own transaction. Several
   processes may call this at once: an advisory lock serialises them.
   Returns 0, or -1 after logging the failing file. */
int pg_migrate(PGconn *conn, const char *dir);

/* Run one statement with no result rows expected. 0, or -1 (logged). */
int pg_exec(PGconn *conn, const char *sql);

#endif

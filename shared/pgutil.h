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

/* Build a libpq conninfo string from POSTGRES_HOST, POSTGRES_PORT,
   POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD into buf (values quoted).
   Returns 0, or -1 if it does not fit. */
int pg_conninfo(char *buf, size_t size, const char *application_name);

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

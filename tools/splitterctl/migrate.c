/* splitterctl migrate: apply the pending schema migrations once, ahead of a rollout. */
#include "splitterctl.h"

#include "config.h"
#include "pgutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The number of recorded migrations, 0 before the first; -1 on a failure. */
static long migrations_recorded(PGconn *pg)
{
    PGresult *r = pq(pg,
                     "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 "
                     "ELSE (SELECT count(*) FROM schema_migrations) END",
                     0, NULL);
    if (!r)
        return -1;
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* The api and the workers apply pending migrations at start-up too (under the same advisory
   lock); this applies them once, ahead of a rollout, and exits. Waits up to 60 s for
   PostgreSQL, as the api does. */
int cmd_migrate(int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return usage();
    const char *dir = config_str("SPLITTER_MIGRATIONS_DIR", "postgres/migrations");
    PGconn *pg = NULL;
    for (int attempt = 0; attempt < 120 && !pg; attempt++) {
        pg = pg_connect("splitterctl-migrate");
        if (!pg)
            usleep(500 * 1000);
    }
    if (!pg) {
        error("migrate: PostgreSQL unreachable for 60 s");
        return 1;
    }
    int rc = 1;
    long before = migrations_recorded(pg), after;
    if (before < 0)
        goto out;
    if (pg_migrate(pg, dir) != 0) {
        error("migrate: applying the migrations in '%s' failed", dir);
        goto out;
    }
    after = migrations_recorded(pg);
    if (after < 0)
        goto out;
    printf("migrate: %ld applied, %ld recorded (%s)\n", after - before, after, dir);
    rc = 0;
out:
    PQfinish(pg);
    return rc;
}

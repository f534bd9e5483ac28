/*
 * splitterctl's parts: one file per subcommand (tools/splitterctl/<name>.c),
 * the connections (conn.c) and the command line (main.c).
 */
#ifndef SPLITTERCTL_H
#define SPLITTERCTL_H

#include "pgutil.h"
#include "reply.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

/* SPLITTER_PARTITIONS, read once at start (main.c). */
extern unsigned partitions;

/* Print the usage; returns 2, the exit status of bad usage. */
int usage(void);
/* Print "splitterctl: <message>" on stderr; returns -1. */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- conn.c: Redis and PostgreSQL ------------------------------------------------------- */

/* A new Redis connection, authenticated; NULL after printing why. */
redisContext *redis_open(void);
/* The next pipelined reply (caller frees), or NULL after printing why. */
redisReply *next_reply(redisContext *rd);
/* A command's reply (caller frees), or NULL after printing why. */
redisReply *cmd(redisContext *rd, const char *fmt, ...);
/* A statement's result (caller clears), or NULL after printing why. */
PGresult *pq(PGconn *pg, const char *sql, int n, const char *const *params);
/* Run a statement: 0, or -1 after printing why. */
int pexec(PGconn *pg, const char *sql, int n, const char *const *params);

/* --- queue.c ---------------------------------------------------------------------------- */

/* One stream's numbers; -1 where unknown. */
struct stream_stats {
    char name[48];
    long long length, lag, pending, oldest_pending_ms;
    long long entries_read; /* the group's entries-read counter (XINFO GROUPS), -1 unknown */
    json_t *consumers;      /* owned: {name: pending} */
};

/* The numbers of every partition stream into st (partitions entries) and
   the dead-letter count: 0, or -1 after printing why. */
int queue_gather(redisContext *rd, struct stream_stats *st, long long *dead);
/* A count right-aligned in width, "-" when unknown (< 0). */
void print_num(long long v, int width);

/* --- workers.c ------------------------------------------------------------------------- */

struct consumer {
    char name[128];
    int live;                /* in splitter:workers */
    long long heartbeat_age; /* ms, -1 unknown */
    long long pending, idle; /* idle: smallest over streams, -1 unknown */
    int partitions;          /* leases held */
};

/* Every consumer seen in splitter:workers or a stream's group, and each
   partition's lease holder. Owns cs and owner; free with workers_free. */
struct workers {
    struct consumer *cs;
    size_t n, alloc;
    int *owner; /* per partition: index in cs of the lease holder, -1 for none */
};

void workers_free(struct workers *w);
/* Gather w from Redis: 0, or -1 after printing why. */
int workers_gather(redisContext *rd, struct workers *w);

/* --- the subcommands: argc and argv after the subcommand's name; the exit status --------- */

int cmd_queue(int argc, char **argv);
int cmd_dead(int argc, char **argv);
int cmd_workers(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

#endif

/*
 * view: a group's balances and settlement at one version, as the two
 * response bodies the api serves and the cache stores side by side.
 *
 * Built by the worker after each applied batch and by the api on a cache
 * miss, from the same rows, so both always produce identical bytes.
 */
#ifndef SPLITTER_VIEW_H
#define SPLITTER_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "script.h"

struct view_member {
    const char *id;      /* borrowed */
    const char *name;    /* borrowed */
    const char *user_id; /* borrowed; NULL for a member without an account */
    int64_t paid, owed, sent, received;
};

struct view {
    char *balances;    /* owned: GET .../balances body */
    char *settlements; /* owned: GET .../settlements body */
};

/* Build both bodies for members (in display order). Returns 0, or -1 when a
   balance overflows or the balances do not sum to zero (a corrupted
   projection; logged). */
int view_build(const char *group_id, const char *currency, int64_t version,
               const struct view_member *members, size_t n, struct view *out);

void view_release(struct view *v);

struct settle_transfer;

/* The group's minimal settlement (settle_compute) over the balances of
   members, exactly as view_build computes it: transfers index members. On
   success *out (caller frees; NULL when none) and *n_out, and 0; -1 when a
   balance overflows or they do not sum to zero (logged). */
int view_settle(const char *group_id, const struct view_member *members, size_t n,
                struct settle_transfer **out, size_t *n_out);

/* The script (shared/cache.h) that writes a view into the cache, for callers
   that call it by its digest (shared/script.h). */
extern struct script view_cache_script;

/* The EVAL (shared/cache.h) that writes v, built by view_build from the same
   members, into the cache. argv[0] and argv[1] are "EVAL" and the script's
   text; argv + VIEW_CMD_ARGS are its arguments (numkeys, key, ...), to send
   after EVALSHA with view_cache_script instead. argv points into cmd, v and
   members, which must outlive its use. */
#define VIEW_CMD_ARGS 2
struct view_cmd {
    int argc;
    const char **argv; /* owned array */
    char key[96], version[24];
    char *members; /* owned: member ids, comma-separated */
    /* the group's volume, "credit:debit" (ledger_volume_parse) */
    char volume[48];
};

void view_cache_command(struct view_cmd *cmd, const char *group_id, const char *currency,
                        int64_t version, const struct view *v, const struct view_member *members,
                        size_t n);
void view_cmd_release(struct view_cmd *cmd);

#endif

#include "view.h"

#include "cache.h"
#include "json.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "money.h"
#include "settle.h"
#include "xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each member's balance (paid - owed + sent - received) into bal; 0, or -1
   when one overflows (logged). */
static int balances_of(const struct view_member *members, size_t n, int64_t *bal)
{
    for (size_t i = 0; i < n; i++) {
        const struct view_member *m = &members[i];
        int64_t b;
        if (money_sub(m->paid, m->owed, &b) != 0 || money_add(b, m->sent, &b) != 0 ||
            money_sub(b, m->received, &b) != 0) {
            log_error("view: balance of member '%s' overflows", m->id);
            return -1;
        }
        bal[i] = b;
    }
    return 0;
}

int view_settle(const char *group_id, const struct view_member *members, size_t n,
                struct settle_transfer **out, size_t *n_out)
{
    int64_t *bal = xcalloc(n + 1, sizeof(*bal));
    const char **ids = xcalloc(n + 1, sizeof(*ids));
    int rc = -1;

    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; i < n; i++)
        ids[i] = members[i].id;
    if (balances_of(members, n, bal) != 0)
        goto out;
    if (settle_compute(ids, bal, n, out, n_out) != 0) {
        log_error("view: balances of group '%s' do not sum to zero", group_id);
        goto out;
    }
    rc = 0;
out:
    free(ids);
    free(bal);
    return rc;
}

int view_build(const char *group_id, const char *currency, int64_t version,
               const struct view_member *members, size_t n, struct view *out)
{
    int64_t *bal = xcalloc(n + 1, sizeof(*bal));
    struct settle_transfer *tr = NULL;
    size_t n_tr = 0;
    json_t *list = json_array(), *transfers = json_array(), *doc;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (balances_of(members, n, bal) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct view_member *m = &members[i];
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "member_id", m->id, "name",
                            m->name, "paid", (json_int_t)m->paid, "owed", (json_int_t)m->owed,
                            "sent", (json_int_t)m->sent, "received", (json_int_t)m->received,
                            "balance", (json_int_t)bal[i]));
    }
    if (view_settle(group_id, members, n, &tr, &n_tr) != 0)
        goto out;
    for (size_t i = 0; i < n_tr; i++)
        json_array_append_new(transfers,
                              json_pack("{s:s, s:s, s:I}", "from", members[tr[i].from].id, "to",
                                        members[tr[i].to].id, "amount", (json_int_t)tr[i].amount));
    doc = json_pack("{s:s, s:s, s:I, s:O}", "group_id", group_id, "currency", currency, "version",
                    (json_int_t)version, "balances", list);
    out->balances = json_dump_compact(doc);
    json_decref(doc);
    doc = json_pack("{s:s, s:s, s:I, s:O}", "group_id", group_id, "currency", currency, "version",
                    (json_int_t)version, "transfers", transfers);
    out->settlements = json_dump_compact(doc);
    json_decref(doc);
    rc = 0;
out:
    json_decref(list);
    json_decref(transfers);
    free(tr);
    free(bal);
    return rc;
}

void view_release(struct view *v)
{
    free(v->balances);
    free(v->settlements);
    memset(v, 0, sizeof(*v));
}

/* The group's volume (shared/ledger.h, the range rule) as "credit:debit";
   past int64 (a group already out of range) it reads INT64_MAX. */
static void volume_text(const struct view_member *members, size_t n, char *buf, size_t size)
{
    struct ledger_volume v = {0, 0};
    for (size_t i = 0; i < n; i++)
        if (ledger_volume_add(&v, members[i].paid, members[i].owed, members[i].sent,
                              members[i].received) != 0)
            v.credit = v.debit = INT64_MAX;
    snprintf(buf, size, "%lld:%lld", (long long)v.credit, (long long)v.debit);
}

struct script view_cache_script = SCRIPT_INIT(CACHE_VIEW_LUA);

void view_cache_command(struct view_cmd *cmd, const char *group_id, const char *currency,
                        int64_t version, const struct view *v, const struct view_member *members,
                        size_t n)
{
    size_t len = 1, argc = 0;
    memset(cmd, 0, sizeof(*cmd));
    keys_fmt(cmd->key, sizeof(cmd->key), "view", group_id);
    snprintf(cmd->version, sizeof(cmd->version), "%lld", (long long)version);
    for (size_t i = 0; i < n; i++)
        len += strlen(members[i].id) + 1;
    cmd->members = xcalloc(len, 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(cmd->members, ",");
        strcat(cmd->members, members[i].id);
    }
    cmd->argv = xcalloc(11 + 2 * n, sizeof(*cmd->argv));
    cmd->argv[argc++] = "EVAL";
    cmd->argv[argc++] = CACHE_VIEW_LUA;
    cmd->argv[argc++] = "1";
    cmd->argv[argc++] = cmd->key;
    cmd->argv[argc++] = cmd->version;
    cmd->argv[argc++] = CACHE_VIEW_TTL_TEXT;
    cmd->argv[argc++] = v->balances;
    cmd->argv[argc++] = v->settlements;
    cmd->argv[argc++] = currency;
    cmd->argv[argc++] = cmd->members;
    volume_text(members, n, cmd->volume, sizeof(cmd->volume));
    cmd->argv[argc++] = cmd->volume;
    for (size_t i = 0; i < n; i++) {
        if (!members[i].user_id)
            continue;
        cmd->argv[argc++] = members[i].user_id;
        cmd->argv[argc++] = members[i].id;
    }
    cmd->argc = (int)argc;
}

void view_cmd_release(struct view_cmd *cmd)
{
    free(cmd->argv);
    free(cmd->members);
    memset(cmd, 0, sizeof(*cmd));
}

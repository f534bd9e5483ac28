/* splitterctl audit export|verify: the ledger's hash chain (shared/chain.h, shared/audit.h). */
#include "splitterctl.h"

#include "audit.h"

#include <inttypes.h>
#include <string.h>

/* One JSON line to stdout; consumes v. */
static void put_line(json_t *v)
{
    char *text = json_dump_compact(v);
    puts(text);
    free(text);
    json_decref(v);
}

static int audit_export(const char *group)
{
    const char *p[1] = {group};
    PGconn *pg = pg_connect("splitterctl");
    PGresult *g = NULL, *m = NULL, *ev = NULL;
    int rc = 1;
    if (!pg)
        return 1;
    /* One snapshot for the header and the events. */
    if (pexec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) != 0 ||
        !(g = pq(pg, "SELECT currency, encode(head_hash, 'hex') FROM groups WHERE id = $1", 1,
                 p)) ||
        !(m = pq(pg, "SELECT id, name FROM members WHERE group_id = $1 ORDER BY position", 1, p)) ||
        !(ev = pq(pg,
                  "SELECT seq, event_id, group_id, type, actor, rfc3339(accepted_at), "
                  "payload::text, encode(hash, 'hex') FROM events WHERE "
                  "group_id = $1"
                  " ORDER BY seq",
                  1, p)))
        goto out;
    if (PQntuples(g) != 1) {
        error("no group %s", group);
        goto out;
    }
    json_t *members = json_array();
    for (int i = 0; i < PQntuples(m); i++)
        json_array_append_new(members, json_pack("{s:s, s:s}", "id", PQgetvalue(m, i, 0), "name",
                                                 PQgetvalue(m, i, 1)));
    put_line(json_pack("{s:s, s:i, s:s, s:s, s:o, s:o}", "ledger", "splitter", "version", 1,
                       "group_id", group, "currency", PQgetvalue(g, 0, 0), "members", members,
                       "head_hash",
                       PQgetisnull(g, 0, 1) ? json_null() : json_string(PQgetvalue(g, 0, 1))));
    for (int i = 0; i < PQntuples(ev); i++)
        put_line(json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
                           (json_int_t)atoll(PQgetvalue(ev, i, 0)), "event_id",
                           PQgetvalue(ev, i, 1), "group_id", PQgetvalue(ev, i, 2), "type",
                           PQgetvalue(ev, i, 3), "actor", PQgetvalue(ev, i, 4), "accepted_at",
                           PQgetvalue(ev, i, 5), "payload", PQgetvalue(ev, i, 6), "hash",
                           PQgetvalue(ev, i, 7)));
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    PQclear(g), PQclear(m), PQclear(ev);
    PQfinish(pg);
    return rc;
}

static int audit_verify_file(const char *path, const char *head)
{
    unsigned char recorded[CHAIN_HASH_SIZE];
    if (head && chain_unhex(head, recorded) != 0) {
        error("--head: '%s' is not a hash (64 hex digits)", head);
        return 2;
    }
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    struct audit_result r;
    if (!in) {
        error("cannot open %s", path);
        return 1;
    }
    int rc = audit_verify(in, head ? recorded : NULL, &r);
    if (in != stdin)
        fclose(in);
    if (rc != 0) {
        if (r.event_id[0] || r.seq)
            printf("BROKEN at seq %lld, event %s: %s\n", (long long)r.seq,
                   r.event_id[0] ? r.event_id : "(unknown)", r.why);
        else
            printf("BROKEN: %s\n", r.why);
        projection_release(&r.proj);
        return 1;
    }
    char hex[CHAIN_HEX_SIZE];
    chain_hex(r.head, hex);
    printf("verified group %s: %lld events\nhead %s\n", r.proj.group_id, (long long)r.events,
           r.events ? hex : "(none)");
    if (head)
        printf("recorded head %s is the link of seq %lld\n", head, (long long)r.recorded_seq);
    for (size_t i = 0; i < r.proj.n_members; i++) {
        const struct projection_member *mb = &r.proj.members[i];
        /* balance = paid - owed + sent - received (in range: ledger.h, LEDGER_RANGE_DETAIL) */
        int64_t bal = 0;
        if (money_sub(mb->paid, mb->owed, &bal) != 0 || money_add(bal, mb->sent, &bal) != 0 ||
            money_sub(bal, mb->received, &bal) != 0) {
            printf("BROKEN: member %s: the balance leaves the 64-bit range\n", mb->id);
            projection_release(&r.proj);
            return 1;
        }
        printf("balance %s %s paid %" PRId64 " owed %" PRId64 " sent %" PRId64 " received %" PRId64
               " balance %" PRId64 "\n",
               mb->id, r.proj.currency, mb->paid, mb->owed, mb->sent, mb->received, bal);
    }
    projection_release(&r.proj);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[0], "export") == 0 && strcmp(argv[1], "--group") == 0) {
        if (!ledger_is_uuid(argv[2])) {
            error("--group: '%s' is not a group id", argv[2]);
            return 2;
        }
        return audit_export(argv[2]);
    }
    if (argc == 2 && strcmp(argv[0], "verify") == 0)
        return audit_verify_file(argv[1], NULL);
    if (argc == 4 && strcmp(argv[0], "verify") == 0 && strcmp(argv[2], "--head") == 0)
        return audit_verify_file(argv[1], argv[3]);
    return usage();
}

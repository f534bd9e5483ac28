/*
 * splitterctl: the operator's command line (docs/OPERATIONS.md).
 *
 *   splitterctl queue [--json]                  depth, lag, pending and dead letters per stream
 *   splitterctl dead list [--json] [--count N]  the dead-letter stream, oldest first
 *   splitterctl dead retry ID...|--all          put entries back on their stream
 *   splitterctl dead drop ID...|--all           delete entries
 *   splitterctl workers [--json]                live consumers, heartbeat age, idle time
 *   splitterctl top [--once]                    live view of the partitions, refreshed each second
 *   splitterctl replay --verify [--group ID]    rebuild from events, compare with the projection
 *   splitterctl replay --rebuild [--group ID]   rewrite the projection and cache from events
 *   splitterctl audit export --group ID         the group's ledger with its hash chain (JSON Lines)
 *   splitterctl audit verify FILE [--head H]    check an exported ledger offline and replay it
 *   splitterctl migrate                         apply the pending schema migrations and exit
 *
 * Configuration from the same environment variables as the services (REDIS_HOST, REDIS_PORT,
 * REDIS_PASSWORD, REDIS_SENTINELS and REDIS_MASTER_NAME, POSTGRES_*, SPLITTER_PARTITIONS).
 * Blocking hiredis and libpq: one operator, one connection each. Exit status 0; 1 on a failure
 * or (replay) a difference; 2 on bad usage.
 */
#include "splitterctl.h"

#include "config.h"
#include "log.h"

#include <stdarg.h>
#include <string.h>

unsigned partitions = CONFIG_PARTITIONS_DEFAULT;

int usage(void)
{
    fputs("usage: splitterctl queue [--json]\n"
          "       splitterctl dead list [--json] [--count N]\n"
          "       splitterctl dead retry ID...|--all\n"
          "       splitterctl dead drop ID...|--all\n"
          "       splitterctl workers [--json]\n"
          "       splitterctl top [--once]\n"
          "       splitterctl replay --verify|--rebuild [--group ID]\n"
          "       splitterctl audit export --group ID\n"
          "       splitterctl audit verify FILE|- [--head HASH]\n"
          "       splitterctl migrate\n",
          stderr);
    return 2;
}

int error(const char *fmt, ...)
{
    va_list ap;
    fputs("splitterctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

int main(int argc, char **argv)
{
    if (log_init("splitterctl", config_str("LOG_LEVEL", "warn")) != 0)
        log_init("splitterctl", "warn");
    if (config_secret_files(config_secrets) != 0)
        return 2;
    if (config_partitions(&partitions) != 0)
        return 2;
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "queue") == 0)
        return cmd_queue(argc - 2, argv + 2);
    if (strcmp(argv[1], "dead") == 0)
        return cmd_dead(argc - 2, argv + 2);
    if (strcmp(argv[1], "workers") == 0)
        return cmd_workers(argc - 2, argv + 2);
    if (strcmp(argv[1], "top") == 0)
        return cmd_top(argc - 2, argv + 2);
    if (strcmp(argv[1], "replay") == 0)
        return cmd_replay(argc - 2, argv + 2);
    if (strcmp(argv[1], "audit") == 0)
        return cmd_audit(argc - 2, argv + 2);
    if (strcmp(argv[1], "migrate") == 0)
        return cmd_migrate(argc - 2, argv + 2);
    return usage();
}

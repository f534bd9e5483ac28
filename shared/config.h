/*
 * config: settings from the environment, validated at start-up.
 *
 * Every getter logs a message naming the variable and returns -1 when the
 * value is malformed or out of range; callers exit non-zero at start-up.
 * Returned strings are borrowed from the environment (or are the default).
 */
#ifndef SPLITTER_CONFIG_H
#define SPLITTER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* The value of name, or def when unset or empty. */
const char *config_str(const char *name, const char *def);

/* An integer in [min, max]; def when unset or empty. 0, or -1 (logged). */
int config_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out);

/* A TCP port (1..65535); def when unset. 0, or -1 (logged). */
int config_port(const char *name, int def, int *out);

/* The stream partition count, SPLITTER_PARTITIONS (1..CONFIG_PARTITIONS_MAX,
   default CONFIG_PARTITIONS_DEFAULT), the one setting every program that
   reads or writes the partition streams (keys_partition) must agree on.
   0, or -1 (logged). */
#define CONFIG_PARTITIONS_DEFAULT 16
#define CONFIG_PARTITIONS_MAX 256
int config_partitions(unsigned *out);
/* Longest host name or address in a host list. */
#define CONFIG_HOST_MAX 256

/* One entry of a host list. */
struct config_hostport {
    char host[CONFIG_HOST_MAX]; /* name, IPv4 address, or IPv6 address without brackets */
    int port;                   /* 1..65535 */
};

/*
 * Parse list, comma-separated "host:port" entries ("[addr]:port" for an IPv6
 * address; blanks around entries ignored), into out[0..max). 0 with *n set
 * (at least 1), or -1 with a message naming the bad entry in err (err_size
 * bytes, always NUL-terminated): an empty list or entry, a missing or bad
 * port, a host too long, more than max entries. Logs nothing.
 */
int config_hostports(const char *list, struct config_hostport *out, size_t max, size_t *n,
                     char *err, size_t err_size);

/* Longest secret config_secret_files reads (bytes, before the trailing newline). */
#define CONFIG_SECRET_MAX 4096

/*
 * Secrets from files (Docker secrets): for each name of the NULL-terminated
 * list that is unset or empty while <name>_FILE names a file, set the
 * environment variable name to that file's content, one trailing newline
 * (LF or CRLF) dropped, so config_str(name) returns it from then on. Call once
 * at start-up, before any thread starts. 0, or -1 (logged) when a file cannot
 * be read, is empty or longer than CONFIG_SECRET_MAX, contains a NUL byte, or
 * both name and <name>_FILE are set.
 */
int config_secret_files(const char *const *names);

/* The passwords api, worker and splitterctl accept from files: POSTGRES_PASSWORD,
   REDIS_PASSWORD, REDIS_SENTINEL_PASSWORD (NULL-terminated). */
extern const char *const config_secrets[];

#endif

/*
 * config: settings from the environment, validated at start-up.
 *
 * Every getter logs a message naming the variable and returns -1 when the
 * value is malformed or out of range; callers exit non-zero at start-up.
 * Returned strings are borrowed from the environment (or are the default).
 */
#ifndef SPLITTER_CONFIG_H
#define SPLITTER_CONFIG_H

#include <stdint.h>

/* The value of name, or def when unset or empty. */
const char *config_str(const char *name, const char *def);

/* An integer in [min, max]; def when unset or empty. 0, or -1 (logged). */
int config_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out);

/* A TCP port (1..65535); def when unset. 0, or -1 (logged). */
int config_port(const char *name, int def, int *out);

#endif

#include "config.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *config_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

int config_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out)
{
    const char *v = getenv(name);
    char *end;
    long long n;

    if (!v || !*v) {
        *out = def;
        return 0;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || *end || end == v) {
        log_error("config: '%s' must be an integer, got '%s'", name, v);
        return -1;
    }
    if (n < min || n > max) {
        log_error("config: '%s' must be between %lld and %lld, got %lld", name, (long long)min,
                  (long long)max, n);
        return -1;
    }
    *out = n;
    return 0;
}

int config_port(const char *name, int def, int *out)
{
    int64_t v;
    if (config_int(name, def, 1, 65535, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

int config_partitions(unsigned *out)
{
    int64_t v;
    if (config_int("SPLITTER_PARTITIONS", CONFIG_PARTITIONS_DEFAULT, 1, CONFIG_PARTITIONS_MAX,
                   &v) != 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

const char *const config_secrets[] = {"POSTGRES_PASSWORD", "REDIS_PASSWORD", NULL};

/* Read path into buf (size CONFIG_SECRET_MAX + 3) without its trailing newline. */
static int read_secret(const char *var, const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f) {
        log_error("config: '%s': cannot open '%s': %s", var, path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, size - 1, f);
    if (ferror(f)) {
        log_error("config: '%s': cannot read '%s'", var, path);
        fclose(f);
        return -1;
    }
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (n == 0 || n > CONFIG_SECRET_MAX || memchr(buf, '\0', n)) {
        log_error("config: '%s': '%s' must hold 1 to %d bytes (no NUL)", var, path,
                  CONFIG_SECRET_MAX);
        return -1;
    }
    return 0;
}

int config_secret_files(const char *const *names)
{
    char var[128];
    char buf[CONFIG_SECRET_MAX + 3];
    int rc = 0;

    for (; *names; names++) {
        const char *path;
        int len = snprintf(var, sizeof var, "%s_FILE", *names);

        if (len < 0 || (size_t)len >= sizeof var) {
            log_error("config: '%s_FILE': name too long", *names);
            rc = -1;
            continue;
        }
        path = config_str(var, NULL);
        if (!path)
            continue;
        if (config_str(*names, NULL)) {
            log_error("config: set '%s' or '%s', not both", *names, var);
            rc = -1;
            continue;
        }
        if (read_secret(var, path, buf, sizeof buf) != 0 || setenv(*names, buf, 1) != 0)
            rc = -1;
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

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

/* Parse one entry [s, e) of a host list into hp. 0, or -1 with err set. */
static int parse_hostport(const char *s, const char *e, struct config_hostport *hp, char *err,
                          size_t err_size)
{
    const char *host = s, *host_end, *colon;
    char port[8];
    char *end;
    long v;

    while (s < e && (*s == ' ' || *s == '\t'))
        host = ++s;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (s == e) {
        snprintf(err, err_size, "empty entry");
        return -1;
    }
    if (*s == '[') {
        host = s + 1;
        host_end = memchr(host, ']', (size_t)(e - host));
        if (!host_end || host_end + 1 >= e || host_end[1] != ':') {
            snprintf(err, err_size, "'%.*s': want [address]:port", (int)(e - s), s);
            return -1;
        }
        colon = host_end + 1;
    } else {
        colon = NULL;
        for (const char *c = s; c < e; c++)
            if (*c == ':')
                colon = c;
        host_end = colon;
    }
    if (!colon || host_end == host) {
        snprintf(err, err_size, "'%.*s': want host:port", (int)(e - s), s);
        return -1;
    }
    if ((size_t)(host_end - host) >= sizeof(hp->host)) {
        snprintf(err, err_size, "'%.*s': host too long", (int)(e - s), s);
        return -1;
    }
    if ((size_t)(e - colon - 1) >= sizeof(port) || e - colon - 1 == 0) {
        snprintf(err, err_size, "'%.*s': bad port", (int)(e - s), s);
        return -1;
    }
    memcpy(port, colon + 1, (size_t)(e - colon - 1));
    port[e - colon - 1] = '\0';
    errno = 0;
    v = strtol(port, &end, 10);
    if (errno || *end || port[0] < '0' || port[0] > '9' || v < 1 || v > 65535) {
        snprintf(err, err_size, "'%.*s': bad port", (int)(e - s), s);
        return -1;
    }
    memcpy(hp->host, host, (size_t)(host_end - host));
    hp->host[host_end - host] = '\0';
    hp->port = (int)v;
    return 0;
}

int config_hostports(const char *list, struct config_hostport *out, size_t max, size_t *n,
                     char *err, size_t err_size)
{
    const char *s = list;
    size_t count = 0;

    for (;;) {
        const char *e = strchr(s, ',');
        if (!e)
            e = s + strlen(s);
        if (count == max) {
            snprintf(err, err_size, "more than %zu entries", max);
            return -1;
        }
        if (parse_hostport(s, e, &out[count], err, err_size) != 0)
            return -1;
        count++;
        if (!*e)
            break;
        s = e + 1;
    }
    *n = count;
    return 0;
}

const char *const config_secrets[] = {"POSTGRES_PASSWORD", "REDIS_PASSWORD",
                                      "REDIS_SENTINEL_PASSWORD", NULL};

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

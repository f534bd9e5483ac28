#include "config.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>

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

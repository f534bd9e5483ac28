#include "etag.h"

enum etag_match etag_if_match(const char *v, size_t len, int64_t *version)
{
    size_t i = 0, end = len;
    int64_t n = 0;

    while (i < end && (v[i] == ' ' || v[i] == '\t'))
        i++;
    while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t'))
        end--;
    if (end - i == 1 && v[i] == '*')
        return ETAG_MATCH_ANY;
    /* '"' 1*DIGIT '"', the first digit not 0 */
    if (end - i < 3 || v[i] != '"' || v[end - 1] != '"' || v[i + 1] < '1' || v[i + 1] > '9')
        return ETAG_MATCH_NEVER;
    for (size_t k = i + 1; k < end - 1; k++) {
        if (v[k] < '0' || v[k] > '9')
            return ETAG_MATCH_NEVER;
        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, v[k] - '0', &n))
            return ETAG_MATCH_NEVER; /* beyond int64: no version can be that large */
    }
    *version = n;
    return ETAG_MATCH_VERSION;
}

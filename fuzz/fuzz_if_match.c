/*
 * The If-Match parser (shared/etag.c) on arbitrary field values: a value it
 * takes for a version is exactly the tag the api sends for that version
 * ("<decimal>", give or take surrounding spaces), and "*" is the only other
 * value it accepts.
 */
#include "fuzz.h"

#include "etag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data;
    size_t i = 0, end = size;
    int64_t version = 0;
    char tag[32];

    enum etag_match m = etag_if_match(v, size, &version);
    while (i < end && (v[i] == ' ' || v[i] == '\t'))
        i++;
    while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t'))
        end--;
    if (m == ETAG_MATCH_VERSION) {
        FUZZ_CHECK(version >= 1);
        int n = snprintf(tag, sizeof(tag), "\"%lld\"", (long long)version);
        FUZZ_CHECK((size_t)n == end - i && memcmp(tag, v + i, end - i) == 0);
    } else if (m == ETAG_MATCH_ANY) {
        FUZZ_CHECK(end - i == 1 && v[i] == '*');
    } else {
        FUZZ_CHECK(m == ETAG_MATCH_NEVER);
    }
    return 0;
}

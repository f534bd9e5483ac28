/*
 * The CSV export's cell writer (shared/csv.c): read back per RFC 4180, the
 * cell gives the input exactly, after an apostrophe when and only when the
 * input starts with a formula character; the cell is quoted whenever it
 * holds a comma, quote, CR or LF, and a cell not starting the line starts
 * with the separating comma.
 */
#include "fuzz.h"

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int first = data[0] & 1;
    char *s = fuzz_strndup(data + 1, size - 1);
    size_t len = strlen(s); /* cells are C strings: the writer stops at a NUL */
    struct strbuf out = {0};
    struct strbuf back = {0};

    csv_cell(&out, s, first);
    const char *p = out.buf ? out.buf : "";
    const char *end = p + out.len;
    if (!first) {
        FUZZ_CHECK(p < end && *p == ',');
        p++;
    }
    if (p < end && *p == '"') {
        p++;
        for (;;) {
            FUZZ_CHECK(p < end);
            if (*p == '"') {
                if (p + 1 < end && p[1] == '"') {
                    strbuf_addc(&back, '"');
                    p += 2;
                    continue;
                }
                p++;
                break;
            }
            strbuf_addc(&back, *p++);
        }
        FUZZ_CHECK(p == end);
    } else {
        FUZZ_CHECK(strpbrk(s, ",\"\r\n") == NULL);
        strbuf_addn(&back, p, (size_t)(end - p));
    }
    const char *got = back.buf ? back.buf : "";
    size_t got_len = back.len;
    int formula = len && strchr("=+-@\t\r", s[0]) != NULL;
    if (formula) {
        FUZZ_CHECK(got_len >= 1 && got[0] == '\'');
        got++;
        got_len--;
    }
    FUZZ_CHECK(got_len == len && memcmp(got, s, len) == 0);
    free(back.buf);
    free(out.buf);
    free(s);
    return 0;
}

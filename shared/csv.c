#include "csv.h"

#include <string.h>

void csv_cell(struct strbuf *out, const char *s, int first)
{
    int neutralise = s[0] && strchr("=+-@\t\r", s[0]) != NULL;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (!first)
        strbuf_addc(out, ',');
    if (quote)
        strbuf_addc(out, '"');
    if (neutralise)
        strbuf_addc(out, '\'');
    for (const char *p = s; *p;) {
        const char *q = strchr(p, '"');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        strbuf_addn(out, p, n);
        if (!q)
            break;
        strbuf_addn(out, "\"\"", 2);
        p = q + 1;
    }
    if (quote)
        strbuf_addc(out, '"');
}

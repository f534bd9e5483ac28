#include "strbuf.h"

#include "xalloc.h"

#include <string.h>

void strbuf_reserve(struct strbuf *sb, size_t n)
{
    if (sb->len + n + 1 <= sb->alloc)
        return;
    size_t want = sb->alloc ? sb->alloc : 256;
    while (sb->len + n + 1 > want)
        want *= 2;
    sb->buf = xrealloc(sb->buf, want);
    sb->alloc = want;
}

void strbuf_addn(struct strbuf *sb, const char *s, size_t n)
{
    strbuf_reserve(sb, n);
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void strbuf_add(struct strbuf *sb, const char *s)
{
    strbuf_addn(sb, s, strlen(s));
}

void strbuf_addc(struct strbuf *sb, char c)
{
    strbuf_addn(sb, &c, 1);
}

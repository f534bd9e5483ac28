/*
 * strbuf: a growable byte buffer, always NUL-terminated once anything was
 * added. Zero-initialise it ({0}); free(sb.buf) releases it.
 */
#ifndef SPLITTER_STRBUF_H
#define SPLITTER_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *buf; /* owned; NULL until the first addition */
    size_t len, alloc;
};

/* Room for n more bytes and the terminating NUL. */
void strbuf_reserve(struct strbuf *sb, size_t n);
void strbuf_addn(struct strbuf *sb, const char *s, size_t n);
void strbuf_add(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);

#endif

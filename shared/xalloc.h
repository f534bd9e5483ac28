/*
 * xalloc: allocation that never returns NULL.
 *
 * Every function aborts the process with a message on stderr when the
 * allocator fails, so callers never check for NULL. The caller owns the
 * returned memory and releases it with free().
 */
#ifndef SPLITTER_XALLOC_H
#define SPLITTER_XALLOC_H

#include <stddef.h>

/* malloc(n); n == 0 still returns a unique pointer. */
void *xmalloc(size_t n);
/* calloc(count, size), aborting on overflow of count * size. */
void *xcalloc(size_t count, size_t size);
/* realloc(p, n); p may be NULL. */
void *xrealloc(void *p, size_t n);
/* reallocarray(p, count, size), aborting on overflow. */
void *xreallocarray(void *p, size_t count, size_t size);
/* strdup(s). */
char *xstrdup(const char *s);
/* A NUL-terminated copy of the first n bytes of s. */
char *xstrndup(const char *s, size_t n);

#endif

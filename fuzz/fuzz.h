/*
 * fuzz: what the libFuzzer harnesses share. Each fuzz/fuzz_<name>.c defines
 * LLVMFuzzerTestOneInput for one parser or computation; FUZZ_CHECK aborts on a
 * broken invariant, so libFuzzer records the input as a crash like any
 * sanitizer finding. The byte reader turns the input into numbers for the
 * harnesses whose target takes arrays rather than text.
 */
#ifndef SPLITTER_FUZZ_H
#define SPLITTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input consumed front to back; reads past the end give zeros. */
struct fuzz_bytes {
    const uint8_t *p;
    size_t n;
};

static inline uint64_t fuzz_u64(struct fuzz_bytes *b, size_t width)
{
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) {
        v = v << 8 | (b->n ? *b->p : 0);
        if (b->n) {
            b->p++;
            b->n--;
        }
    }
    return v;
}

/* A NUL-terminated copy of data (the caller frees it). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif

/*
 * arena: jansson's allocator in the worker, a region per batch.
 *
 * A batch builds and drops tens of thousands of small JSON values (each
 * event's tree, its expense, resource and audit images), all of them dead
 * when the batch is released. With malloc that churn was the worker's
 * largest cost (freeing a batch's values alone, mostly in glibc's
 * consolidation of small chunks, took a quarter of its time). Here an
 * allocation bumps a pointer in a chunk, a free only counts, and
 * arena_reset() recycles every chunk at once, once the batch is gone.
 *
 * Safety: arena_reset() reuses the memory only when every allocation made
 * since the last reset was freed, so no JSON value can outlive its memory; a
 * value that leaks past its batch is reported and its memory kept. Only the
 * main thread uses jansson in the worker. Under AddressSanitizer the arena
 * is not installed, so leaks and misuse of JSON values stay visible.
 */
#include "worker.h"

#include "log.h"
#include "xalloc.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#define CHUNK_SIZE (1u << 20) /* bytes a chunk holds */
#define CHUNKS_KEPT 16        /* chunks kept for the next batch: 16 MiB */
#define ALIGN 16

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(ALIGN) unsigned char data[];
};

static struct chunk *chunks; /* in use, newest first */
static struct chunk *spare;  /* standard chunks ready for reuse */
static size_t n_spare;
static unsigned long long live; /* allocations not yet freed */
static int leak_reported;

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = xmalloc(sizeof(*c) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

static void *arena_alloc(size_t n)
{
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0)
        n = ALIGN;
    live++;
    if (n > CHUNK_SIZE / 4) {
        /* Large: a chunk of its own behind the current one, freed at the reset. */
        struct chunk *c = chunk_new(n);
        c->used = n;
        if (chunks) {
            c->next = chunks->next;
            chunks->next = c;
        } else {
            chunks = c;
        }
        return c->data;
    }
    if (!chunks || chunks->size - chunks->used < n) {
        struct chunk *c = spare;
        if (c) {
            spare = c->next;
            n_spare--;
            c->used = 0;
        } else {
            c = chunk_new(CHUNK_SIZE);
        }
        c->next = chunks;
        chunks = c;
    }
    void *p = chunks->data + chunks->used;
    chunks->used += n;
    return p;
}

static void arena_free(void *p)
{
    if (p)
        live--;
}

void arena_install(void)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)arena_alloc;
    (void)arena_free;
#else
    json_set_alloc_funcs(arena_alloc, arena_free);
#endif
}

void arena_reset(void)
{
    if (live != 0) {
        if (!leak_reported)
            log_error("arena: %llu JSON allocations outlived their batch; their memory is kept",
                      live);
        leak_reported = 1;
        return;
    }
    while (chunks) {
        struct chunk *c = chunks;
        chunks = c->next;
        if (c->size == CHUNK_SIZE && n_spare < CHUNKS_KEPT) {
            c->next = spare;
            spare = c;
            n_spare++;
        } else {
            free(c);
        }
    }
}

void arena_release(void)
{
    arena_reset();
    while (spare) {
        struct chunk *c = spare;
        spare = c->next;
        free(c);
    }
    n_spare = 0;
}

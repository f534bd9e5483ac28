/*
 * sha256: SHA-256 digests through OpenSSL's libcrypto, which uses the CPU's
 * SHA extensions where it has them; libsodium's SHA-256 is portable C, three to
 * four times slower on such a CPU for an event's bytes (bench/bench_hash.c
 * prints both). The worker hashes every event twice for its hash chain
 * (shared/chain.h), the api every request's bearer token, and its
 * Idempotency-Key when it has one.
 *
 * Both functions are thread-safe and abort the process when libcrypto fails,
 * which it does only when memory runs out (as xalloc.h does).
 */
#ifndef SPLITTER_SHA256_H
#define SPLITTER_SHA256_H

#include <stddef.h>

#define SHA256_BYTES 32

/* out = SHA-256(data[0 .. len)). */
void sha256_digest(unsigned char out[SHA256_BYTES], const void *data, size_t len);

/* out = SHA-256(a[0 .. a_len) || b[0 .. b_len)). */
void sha256_digest2(unsigned char out[SHA256_BYTES], const void *a, size_t a_len, const void *b,
                    size_t b_len);

#endif

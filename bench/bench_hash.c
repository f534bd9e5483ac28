/*
 * bench_hash: SHA-256 through shared/sha256.c (OpenSSL's libcrypto) beside
 * libsodium's crypto_hash_sha256, on what the worker hashes for every event:
 * its payload (about 700 bytes for an expense split four ways) and the
 * chain's canonical bytes with the previous hash (about 300); and on what the
 * api hashes on every request, a bearer token (43 bytes). Prints a markdown
 * table: median nanoseconds a digest over 7 rounds, and the ratio.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "sha256.h"

#define REPS 50000

static void sodium_digest(unsigned char out[SHA256_BYTES], const void *data, size_t len)
{
    crypto_hash_sha256(out, data, len);
}

/* One digest's input and the implementation that takes it. */
struct input {
    void (*digest)(unsigned char out[SHA256_BYTES], const void *data, size_t len);
    unsigned char *data;
    size_t len;
};

static size_t digest_once(void *arg, int i)
{
    struct input *in = arg;
    unsigned char out[SHA256_BYTES];
    in->data[0] = (unsigned char)i;
    in->digest(out, in->data, in->len);
    return out[0];
}

int main(void)
{
    static const size_t sizes[] = {43, 300, 700};
    unsigned char data[1024], a[SHA256_BYTES], b[SHA256_BYTES];
    if (sodium_init() < 0)
        return 1;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)('a' + i % 26);
    /* The same digest, or the comparison means nothing. */
    sha256_digest(a, data, sizeof(data));
    crypto_hash_sha256(b, data, sizeof(data));
    if (memcmp(a, b, sizeof(a)) != 0) {
        fprintf(stderr, "bench_hash: the two SHA-256 differ\n");
        return 1;
    }
    printf("| SHA-256 of, bytes | sha256_digest (libcrypto) | crypto_hash_sha256 (libsodium) | "
           "ratio |\n");
    printf("|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct input ours_in = {sha256_digest, data, sizes[i]},
                     theirs_in = {sodium_digest, data, sizes[i]};
        double ours = bench_median_ns(digest_once, &ours_in, REPS),
               theirs = bench_median_ns(digest_once, &theirs_in, REPS);
        printf("| %zu | %.0f ns | %.0f ns | %.2f |\n", sizes[i], ours, theirs, ours / theirs);
    }
    return 0;
}

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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sha256.h"

#define ROUNDS 7
#define DIGESTS 50000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_ns(unsigned char *data, size_t len, int ours)
{
    double t[ROUNDS];
    unsigned char out[SHA256_BYTES];
    unsigned sink = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double a = now_ns();
        for (int i = 0; i < DIGESTS; i++) {
            data[0] = (unsigned char)i;
            if (ours)
                sha256_digest(out, data, len);
            else
                crypto_hash_sha256(out, data, len);
            sink += out[0];
        }
        t[r] = (now_ns() - a) / DIGESTS;
    }
    if (sink == 1)
        printf("(sink)\n");
    qsort(t, ROUNDS, sizeof(t[0]), cmp_double);
    return t[ROUNDS / 2];
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
        double ours = median_ns(data, sizes[i], 1), theirs = median_ns(data, sizes[i], 0);
        printf("| %zu | %.0f ns | %.0f ns | %.2f |\n", sizes[i], ours, theirs, ours / theirs);
    }
    return 0;
}

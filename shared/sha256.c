/*
 * sha256: SHA-256 through libcrypto's EVP interface (see sha256.h).
 */
#include "sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fail(const char *what)
{
    fprintf(stderr, "sha256: libcrypto failed in %s\n", what);
    abort();
}

/* The implementation is looked up once: EVP_Digest with a name, or with
   EVP_sha256(), would look it up on every call. */
static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_md)
        sha256_fail("EVP_MD_fetch");
}

static void digest(unsigned char out[SHA256_BYTES], const void *a, size_t a_len, const void *b,
                   size_t b_len)
{
    unsigned int n = 0;
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        sha256_fail("EVP_MD_CTX_new");
    if (EVP_DigestInit_ex(ctx, sha256_md, NULL) != 1 || EVP_DigestUpdate(ctx, a, a_len) != 1 ||
        (b_len && EVP_DigestUpdate(ctx, b, b_len) != 1) || EVP_DigestFinal_ex(ctx, out, &n) != 1 ||
        n != SHA256_BYTES)
        sha256_fail("the digest");
    EVP_MD_CTX_free(ctx);
}

void sha256_digest(unsigned char out[SHA256_BYTES], const void *data, size_t len)
{
    digest(out, data, len, NULL, 0);
}

void sha256_digest2(unsigned char out[SHA256_BYTES], const void *a, size_t a_len, const void *b,
                    size_t b_len)
{
    digest(out, a, a_len, b, b_len);
}

#include "script.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void script_sha1_hex(const char *data, size_t len, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    /* libcrypto is linked already (h2o's TLS); a failure here means the
       library itself is broken, like an allocation failure. */
    if (EVP_Digest(data, len, md, &n, EVP_sha1(), NULL) != 1 || n != 20)
        abort();
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

const char *script_sha(struct script *s)
{
    if (!s->sha[0])
        script_sha1_hex(s->text, strlen(s->text), s->sha);
    return s->sha;
}

int script_missing(const char *err, size_t len)
{
    return err && len >= 8 && memcmp(err, "NOSCRIPT", 8) == 0;
}

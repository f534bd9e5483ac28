/*
 * The keyset cursor decoder (shared/cursor.c) on arbitrary query values: a
 * cursor it accepts has a key of the promised alphabet and a UUID, and
 * encoding what it decoded gives a cursor that decodes to the same pair.
 */
#include "fuzz.h"

#include "cursor.h"
#include "ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_strndup(data, size);
    char key[CURSOR_KEY_MAX + 1], id[UUID_STR_SIZE], key2[CURSOR_KEY_MAX + 1], id2[UUID_STR_SIZE],
        out[256];

    if (cursor_decode(in, key, id) == 0) {
        size_t n = strlen(key);
        FUZZ_CHECK(n >= 1 && n <= CURSOR_KEY_MAX);
        FUZZ_CHECK(strspn(key, "0123456789-:.TZ") == n);
        FUZZ_CHECK(ledger_is_uuid(id));
        cursor_encode(key, id, out, sizeof(out));
        FUZZ_CHECK(cursor_decode(out, key2, id2) == 0);
        FUZZ_CHECK(strcmp(key, key2) == 0 && strcmp(id, id2) == 0);
    }
    free(in);
    return 0;
}

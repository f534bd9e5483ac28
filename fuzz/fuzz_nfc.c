/*
 * NFC (shared/nfc.c) on arbitrary bytes, as e-mail addresses reach it: an
 * accepted text normalises to itself again (NFC is idempotent), never grows
 * by more than NFC allows (three times the code points), and holds no byte
 * of a control character.
 */
#include "fuzz.h"

#include "nfc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[4 * NFC_MAX_CODE_POINTS * 3 + 1], again[sizeof(out)];

    if (nfc_normalise((const char *)data, size, out, sizeof(out)) != NFC_OK)
        return 0;
    size_t n = strlen(out);
    FUZZ_CHECK(n <= 3 * size);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    FUZZ_CHECK(nfc_normalise(out, n, again, sizeof(again)) == NFC_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
    return 0;
}

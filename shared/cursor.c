#include "cursor.h"

#include "ledger.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void cursor_encode(const char *key, const char *id, char *out, size_t size)
{
    char raw[128];
    int n = snprintf(raw, sizeof(raw), "%s|%s", key, id);
    sodium_bin2base64(out, size, (const unsigned char *)raw, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int cursor_decode(const char *in, char *key, char *id)
{
    unsigned char raw[128];
    size_t n;
    if (sodium_base642bin(raw, sizeof(raw) - 1, in, strlen(in), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    raw[n] = '\0';
    char *bar = strchr((char *)raw, '|');
    if (!bar || bar == (char *)raw || bar - (char *)raw > CURSOR_KEY_MAX ||
        !ledger_is_uuid(bar + 1))
        return -1;
    for (char *s = (char *)raw; s < bar; s++)
        if (!strchr("0123456789-:.TZ", *s))
            return -1;
    memcpy(key, raw, (size_t)(bar - (char *)raw));
    key[bar - (char *)raw] = '\0';
    memcpy(id, bar + 1, UUID_STR_SIZE);
    return 0;
}

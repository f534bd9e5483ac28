/*
 * cursor: the opaque keyset-pagination cursor, base64url (no padding) of
 * "<key>|<uuid>": the last item's sort key (a timestamp or an integer: digits
 * and "-:.TZ", 1 to CURSOR_KEY_MAX bytes) and its lowercase UUID. Clients
 * only hand back what a list answered; anything else decodes to -1.
 * Thread-safe; nothing allocates.
 */
#ifndef SPLITTER_CURSOR_H
#define SPLITTER_CURSOR_H

#include <stddef.h>

#include "uuid.h"

#define CURSOR_KEY_MAX 40

/* The cursor for (key, id), NUL-terminated, into out of size bytes (>= 128
   holds every cursor of a key within CURSOR_KEY_MAX and a UUID). */
void cursor_encode(const char *key, const char *id, char *out, size_t size);

/* Decode in (NUL-terminated): key (>= CURSOR_KEY_MAX + 1 bytes) and id (>= UUID_STR_SIZE
   bytes) filled, NUL-terminated. 0; or -1 when in is not a cursor of that
   shape (then key and id are unspecified). */
int cursor_decode(const char *in, char *key, char *id);

#endif

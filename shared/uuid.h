/*
 * The text form of a UUID as every part of splitter stores and passes it:
 * 36 lowercase characters (8-4-4-4-12 hex digits and hyphens).
 */
#ifndef SPLITTER_UUID_H
#define SPLITTER_UUID_H

/* Characters of a UUID's text form, without the terminating NUL. */
#define UUID_STR_LEN 36
/* Bytes of a buffer holding one UUID's text form and its NUL. */
#define UUID_STR_SIZE (UUID_STR_LEN + 1)

#endif

/*
 * script: a Lua script called by its SHA-1 (EVALSHA) instead of its text.
 *
 * EVAL sends a script's whole text with every call and Redis hashes it again
 * each time; EVALSHA sends the 40 hex digits of the text's SHA-1, which Redis
 * computes the same way when it loads the script. Redis forgets its scripts
 * on a restart or SCRIPT FLUSH and then answers EVALSHA with a NOSCRIPT
 * error: the script did not run, so the caller loads it (SCRIPT LOAD, or EVAL
 * with the text) and calls it once more, never applying anything twice.
 *
 *     static struct script accept = SCRIPT_INIT("return 1");
 *     argv[0] = "EVALSHA"; argv[1] = script_sha(&accept); ...
 *
 * A struct script is meant to be a static: the text is borrowed for the
 * process's life, the digest filled on the first script_sha() call. Not
 * thread-safe on that first call (the api and the worker are one loop each).
 */
#ifndef SPLITTER_SCRIPT_H
#define SPLITTER_SCRIPT_H

#include <stddef.h>

struct script {
    const char *text; /* the Lua source, borrowed */
    char sha[41];     /* lowercase hex SHA-1 of text; "" until script_sha() */
};

#define SCRIPT_INIT(lua)                                                                           \
    {                                                                                              \
        .text = (lua), .sha = ""                                                                   \
    }

/* The hex SHA-1 of s->text, as Redis names the loaded script (computed once,
   kept in s). Never fails; the string is owned by s. */
const char *script_sha(struct script *s);

/* Write the lowercase hex SHA-1 of len bytes at data to out (41 bytes). */
void script_sha1_hex(const char *data, size_t len, char out[41]);

/* 1 when a Redis error reply's text (len bytes at err) says the script is not
   loaded (NOSCRIPT): the call had no effect and may be sent again once the
   script is loaded. 0 for any other error. */
int script_missing(const char *err, size_t len);

#endif

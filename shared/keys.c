#include "keys.h"

#include <stdio.h>

unsigned keys_partition(const char *group_id, unsigned partitions)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)group_id; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return partitions ? h % partitions : 0;
}

char *keys_fmt(char *buf, size_t size, const char *kind, const char *id)
{
    snprintf(buf, size, KEYS_PREFIX "%s:%s", kind, id);
    return buf;
}

char *keys_idem(char *buf, size_t size, const char *user_id, const char *key_sha256)
{
    snprintf(buf, size, KEYS_PREFIX "idem:%s:%.64s", user_id, key_sha256);
    return buf;
}

char *keys_stream(char *buf, size_t size, unsigned partition)
{
    snprintf(buf, size, KEYS_PREFIX "stream:%u", partition);
    return buf;
}

int keys_stream_partition(const char *name, unsigned *p)
{
    return sscanf(name, KEYS_PREFIX "stream:%u", p) == 1 ? 0 : -1;
}

char *keys_lease(char *buf, size_t size, unsigned partition)
{
    snprintf(buf, size, KEYS_PREFIX "lease:%u", partition);
    return buf;
}

char *keys_lease_token(char *buf, size_t size, unsigned partition)
{
    snprintf(buf, size, KEYS_PREFIX "lease_token:%u", partition);
    return buf;
}

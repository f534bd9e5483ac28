/*
 * nfc: decompose (canonical, recursively), put marks in canonical order, then
 * compose (UAX #15, section 1.3), over the generated tables in
 * nfc_tables.inc. Code points outside the tables are either inert (they
 * never change and never combine: a starter that blocks nothing) or refused
 * before normalising starts.
 */
#include "nfc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Code points lo..hi have value (a combining class, or 1 for membership). */
struct nfc_range {
    uint32_t lo, hi;
    uint8_t value;
};

struct nfc_decomposition {
    uint16_t cp, a, b; /* cp -> a b (b 0: a singleton) */
    uint8_t primary;   /* a b composes back to cp */
};

#include "nfc_tables.inc"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The value of cp in the sorted ranges r[0..n), or 0 outside them. */
static unsigned range_value(const struct nfc_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return r[mid].value;
    }
    return 0;
}

static unsigned ccc(uint32_t cp)
{
    return range_value(nfc_classes, COUNT(nfc_classes), cp);
}

static int decomposition_cmp(const void *key, const void *elem)
{
    uint32_t cp = *(const uint32_t *)key;
    const struct nfc_decomposition *d = elem;
    return cp < d->cp ? -1 : cp > d->cp;
}

static const struct nfc_decomposition *decomposition(uint32_t cp)
{
    return bsearch(&cp, nfc_decompositions, COUNT(nfc_decompositions),
                   sizeof(nfc_decompositions[0]), decomposition_cmp);
}

/* The primary composite of a and b, or 0. Only marks compose (the generator
   checks it), so this runs for marks only. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    for (size_t i = 0; i < COUNT(nfc_decompositions); i++)
        if (nfc_decompositions[i].primary && nfc_decompositions[i].a == a &&
            nfc_decompositions[i].b == b)
            return nfc_decompositions[i].cp;
    return 0;
}

/* One code point from s (n bytes left) into *cp; its length, or 0 if not UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t v, min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, v = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, v = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, v = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Append cp's full canonical decomposition to buf. -1 when buf is full. */
static int decompose(uint32_t cp, uint32_t *buf, size_t *n)
{
    const struct nfc_decomposition *d = decomposition(cp);
    if (d) {
        if (decompose(d->a, buf, n) != 0)
            return -1;
        return d->b ? decompose(d->b, buf, n) : 0;
    }
    if (*n == NFC_MAX_CODE_POINTS)
        return -1;
    buf[(*n)++] = cp;
    return 0;
}

enum nfc_status nfc_normalise(const char *in, size_t len, char *out, size_t size)
{
    uint32_t buf[NFC_MAX_CODE_POINTS];
    size_t n = 0, o = 0;
    const unsigned char *s = (const unsigned char *)in;

    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, len - i, &cp);
        if (k == 0)
            return NFC_INVALID_UTF8;
        if (range_value(nfc_invisible, COUNT(nfc_invisible), cp))
            return NFC_INVISIBLE;
        if (range_value(nfc_unsupported, COUNT(nfc_unsupported), cp))
            return NFC_UNSUPPORTED;
        if (decompose(cp, buf, &n) != 0)
            return NFC_TOO_LONG;
        i += k;
    }
    /* Canonical order: a stable sort of each run of marks by class. */
    for (size_t i = 1; i < n; i++) {
        unsigned c = ccc(buf[i]);
        if (c == 0)
            continue;
        for (size_t j = i; j > 0 && ccc(buf[j - 1]) > c; j--) {
            uint32_t t = buf[j];
            buf[j] = buf[j - 1];
            buf[j - 1] = t;
        }
    }
    /* Compose each mark with the last starter unless a mark of the same or a
       higher class stands between them. */
    if (n) {
        size_t starter = 0, kept = 1;
        unsigned last = ccc(buf[0]) ? 256 : 0;
        for (size_t i = 1; i < n; i++) {
            uint32_t cp = buf[i], composite;
            unsigned c = ccc(cp);
            if (c && ccc(buf[starter]) == 0 && (last < c || last == 0) &&
                (composite = compose(buf[starter], cp)) != 0) {
                buf[starter] = composite;
                continue;
            }
            if (c == 0)
                starter = kept;
            last = c;
            buf[kept++] = cp;
        }
        n = kept;
    }
    for (size_t i = 0; i < n; i++) {
        char u[4];
        size_t k = utf8_encode(buf[i], u);
        if (o + k + 1 > size)
            return NFC_TOO_LONG;
        memcpy(out + o, u, k);
        o += k;
    }
    if (size == 0)
        return NFC_TOO_LONG;
    out[o] = '\0';
    return NFC_OK;
}

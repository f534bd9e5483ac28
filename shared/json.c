#include "json.h"

#include "strbuf.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const unsigned char *p, *end, *start;
    int depth, max_depth;
    struct json_doc *doc;
    struct json_doc_error *err;
    char path[128]; /* current key path, for duplicate-key messages */
};

static json_t *parse_value(struct parser *ps);

static int fail(struct parser *ps, enum json_doc_status status, const char *message)
{
    if (ps->err->status == JSON_DOC_OK) {
        ps->err->status = status;
        snprintf(ps->err->message, sizeof(ps->err->message), "%s", message);
        snprintf(ps->err->field, sizeof(ps->err->field), "%s", ps->path);
        ps->err->offset = (size_t)(ps->p - ps->start);
    }
    return -1;
}

/* path[at ..] = sep and the n bytes of s, cut to fit as snprintf would: this runs for
   every key and element, and snprintf cost more than the rest of reading them. */
static void path_put(struct parser *ps, size_t at, char sep, const char *s, size_t n)
{
    size_t room = sizeof(ps->path) - 1 - at; /* at < sizeof(ps->path): the path ends in NUL */
    char *o = ps->path + at;
    if (sep && room) {
        *o++ = sep;
        room--;
    }
    if (n > room)
        n = room;
    memcpy(o, s, n);
    o[n] = '\0';
}

/* path[at ..] = "[i]". */
static void path_index(struct parser *ps, size_t at, size_t i)
{
    char digits[24], *d = digits + sizeof(digits);
    *--d = ']';
    do
        *--d = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    path_put(ps, at, '[', d, (size_t)(digits + sizeof(digits) - d));
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void put_utf8(char **out, unsigned cp)
{
    char *o = *out;
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    *out = o;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Parse a string at ps->p (on the opening quote). Returns a new buffer the
   caller frees, with its length in *len (it may contain NUL from \u0000). */
static char *parse_string(struct parser *ps, size_t *len)
{
    const unsigned char *p = ps->p + 1;
    /* Escapes never expand: the decoded text fits in the raw length. */
    char *buf = NULL, *o;
    const unsigned char *q = p;

    while (q < ps->end && *q != '"') {
        if (*q == '\\')
            q++;
        q++;
    }
    if (q >= ps->end) {
        fail(ps, JSON_DOC_SYNTAX, "unterminated string");
        return NULL;
    }
    buf = xmalloc((size_t)(q - p) + 1);
    o = buf;
    while (*p != '"') {
        if (*p < 0x20) {
            ps->p = p;
            fail(ps, JSON_DOC_SYNTAX, "control character in string");
            goto bad;
        }
        if (*p == '\\') {
            unsigned cp;
            p++;
            switch (*p) {
            case '"':
                *o++ = '"';
                p++;
                break;
            case '\\':
                *o++ = '\\';
                p++;
                break;
            case '/':
                *o++ = '/';
                p++;
                break;
            case 'b':
                *o++ = '\b';
                p++;
                break;
            case 'f':
                *o++ = '\f';
                p++;
                break;
            case 'n':
                *o++ = '\n';
                p++;
                break;
            case 'r':
                *o++ = '\r';
                p++;
                break;
            case 't':
                *o++ = '\t';
                p++;
                break;
            case 'u':
                if (ps->end - p < 5 || hex4(p + 1, &cp) != 0)
                    goto bad_escape;
                p += 5;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (ps->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 ||
                        lo < 0xdc00 || lo > 0xdfff)
                        goto bad_escape;
                    p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    goto bad_escape;
                }
                put_utf8(&o, cp);
                break;
            default:
                goto bad_escape;
            }
        } else {
            size_t n = utf8_seq(p, ps->end);
            if (n == 0) {
                ps->p = p;
                fail(ps, JSON_DOC_SYNTAX, "invalid UTF-8");
                goto bad;
            }
            memcpy(o, p, n);
            o += n;
            p += n;
        }
    }
    *o = '\0';
    *len = (size_t)(o - buf);
    ps->p = p + 1;
    return buf;
bad_escape:
    ps->p = p;
    fail(ps, JSON_DOC_SYNTAX, "invalid escape in string");
bad:
    free(buf);
    return NULL;
}

static json_t *parse_number(struct parser *ps)
{
    const unsigned char *s = ps->p, *p = ps->p;
    int is_int = 1;

    if (p < ps->end && *p == '-')
        p++;
    if (p >= ps->end || *p < '0' || *p > '9')
        goto bad;
    if (*p == '0')
        p++;
    else
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    if (p < ps->end && *p == '.') {
        is_int = 0;
        p++;
        if (p >= ps->end || *p < '0' || *p > '9')
            goto bad;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        is_int = 0;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || *p < '0' || *p > '9')
            goto bad;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    ps->p = p;

    size_t len = (size_t)(p - s);
    char text[64];
    if (is_int && len < 21) {
        /* Exact int64 parse without strtoll's locale and errno dance. */
        int neg = *s == '-';
        const unsigned char *d = s + neg;
        int64_t v = 0;
        int ok = 1;
        for (; d < p; d++) {
            int digit = *d - '0';
            if (__builtin_mul_overflow(v, 10, &v) || (neg ? __builtin_sub_overflow(v, digit, &v)
                                                          : __builtin_add_overflow(v, digit, &v))) {
                ok = 0;
                break;
            }
        }
        if (ok)
            return json_integer(v);
    }
    /* Outside int64: keep the text; the real value only marks the type. */
    if (len >= sizeof(text)) {
        ps->p = s;
        fail(ps, JSON_DOC_SYNTAX, "number too long");
        return NULL;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    json_t *v = json_real(0.0);
    struct json_doc *doc = ps->doc;
    if (doc->n_numbers == doc->alloc_numbers) {
        doc->alloc_numbers = doc->alloc_numbers ? doc->alloc_numbers * 2 : 8;
        doc->numbers = xreallocarray(doc->numbers, doc->alloc_numbers, sizeof(*doc->numbers));
    }
    doc->numbers[doc->n_numbers].value = v;
    doc->numbers[doc->n_numbers].text = xstrdup(text);
    doc->n_numbers++;
    return v;
bad:
    ps->p = s;
    fail(ps, JSON_DOC_SYNTAX, "invalid number");
    return NULL;
}

static int match_word(struct parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return -1;
    ps->p += n;
    return 0;
}

static json_t *parse_object(struct parser *ps)
{
    json_t *obj = json_object();
    size_t path_len = strlen(ps->path);

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        size_t klen;
        char *key;
        json_t *v;

        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, JSON_DOC_SYNTAX, "expected a string key");
            goto bad;
        }
        key = parse_string(ps, &klen);
        if (!key)
            goto bad;
        if (strlen(key) != klen) {
            free(key);
            fail(ps, JSON_DOC_SYNTAX, "NUL character in key");
            goto bad;
        }
        path_put(ps, path_len, path_len ? '.' : '\0', key, klen);
        if (json_object_get(obj, key)) {
            free(key);
            fail(ps, JSON_DOC_DUPLICATE, "duplicate key");
            goto bad;
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            free(key);
            fail(ps, JSON_DOC_SYNTAX, "expected ':'");
            goto bad;
        }
        ps->p++;
        v = parse_value(ps);
        if (!v) {
            free(key);
            goto bad;
        }
        json_object_set_new(obj, key, v);
        free(key);
        ps->path[path_len] = '\0';
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return obj;
        }
        fail(ps, JSON_DOC_SYNTAX, "expected ',' or '}'");
        goto bad;
    }
bad:
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(struct parser *ps)
{
    json_t *arr = json_array();
    size_t path_len = strlen(ps->path);

    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (size_t i = 0;; i++) {
        path_index(ps, path_len, i);
        json_t *v = parse_value(ps);
        if (!v)
            goto bad;
        json_array_append_new(arr, v);
        ps->path[path_len] = '\0';
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return arr;
        }
        fail(ps, JSON_DOC_SYNTAX, "expected ',' or ']'");
        goto bad;
    }
bad:
    json_decref(arr);
    return NULL;
}

static json_t *parse_value(struct parser *ps)
{
    json_t *v = NULL;

    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, JSON_DOC_SYNTAX, "unexpected end of input");
        return NULL;
    }
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > ps->max_depth) {
            fail(ps, JSON_DOC_SYNTAX, "nesting too deep");
            return NULL;
        }
        v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
        ps->depth--;
        return v;
    case '"': {
        size_t len;
        char *s = parse_string(ps, &len);
        if (!s)
            return NULL;
        v = json_stringn_nocheck(s, len);
        free(s);
        return v;
    }
    case 't':
        if (match_word(ps, "true") == 0)
            return json_true();
        break;
    case 'f':
        if (match_word(ps, "false") == 0)
            return json_false();
        break;
    case 'n':
        if (match_word(ps, "null") == 0)
            return json_null();
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
    }
    fail(ps, JSON_DOC_SYNTAX, "unexpected character");
    return NULL;
}

int json_doc_parse(struct json_doc *doc, const char *buf, size_t len, int max_depth,
                   struct json_doc_error *err)
{
    struct parser ps = {
        .p = (const unsigned char *)buf,
        .end = (const unsigned char *)buf + len,
        .start = (const unsigned char *)buf,
        .max_depth = max_depth,
        .doc = doc,
        .err = err,
    };

    memset(doc, 0, sizeof(*doc));
    memset(err, 0, sizeof(*err));
    doc->root = parse_value(&ps);
    if (doc->root) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            fail(&ps, JSON_DOC_SYNTAX, "unexpected data after the JSON value");
            json_doc_release(doc);
            return -1;
        }
        return 0;
    }
    json_doc_release(doc);
    return -1;
}

void json_doc_release(struct json_doc *doc)
{
    for (size_t i = 0; i < doc->n_numbers; i++)
        free(doc->numbers[i].text);
    free(doc->numbers);
    json_decref(doc->root);
    memset(doc, 0, sizeof(*doc));
}

const char *json_doc_number_text(const struct json_doc *doc, const json_t *v)
{
    for (size_t i = 0; i < doc->n_numbers; i++)
        if (doc->numbers[i].value == v)
            return doc->numbers[i].text;
    return NULL;
}

const char *json_unknown_key(const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(*a, key) == 0) {
                ok = 1;
                break;
            }
        }
        if (!ok)
            return key;
    }
    return NULL;
}

size_t json_utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* --- compact serialisation ------------------------------------------------------------- */

/* A string as jansson writes it without flags: '"', '\\' and the control
   characters escaped, everything else (UTF-8 included) as is. */
static void dump_string(struct strbuf *d, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    strbuf_addc(d, '"');
    while (i < n) {
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
            run++;
        strbuf_addn(d, s + i, run - i);
        if (run == n)
            break;
        unsigned char c = (unsigned char)s[run];
        static const char named[] = "\"\\\b\f\n\r\t", letter[] = "\"\\bfnrt";
        const char *hit = memchr(named, c, sizeof(named) - 1);
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t len = 6;
        if (hit) {
            esc[1] = letter[hit - named];
            len = 2;
        }
        strbuf_addn(d, esc, len);
        i = run + 1;
    }
    strbuf_addc(d, '"');
}

static void dump_integer(struct strbuf *d, json_int_t v)
{
    char buf[24], *p = buf + sizeof(buf);
    /* Digits from the magnitude as unsigned, so the most negative value works. */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    strbuf_addn(d, p, (size_t)(buf + sizeof(buf) - p));
}

/* A real as jansson writes it with JSON_REAL_PRECISION(15): "%.15g", with
   ".0" when it would read as an integer, without '+' or leading zeros in
   the exponent. */
static void dump_real(struct strbuf *d, double v)
{
    char buf[48];
    int ret = snprintf(buf, sizeof(buf), "%.15g", v);
    size_t length = ret > 0 && (size_t)ret < sizeof(buf) - 3 ? (size_t)ret : 0;
    buf[length] = '\0';
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        buf[length++] = '.';
        buf[length++] = '0';
        buf[length] = '\0';
    }
    char *start = strchr(buf, 'e');
    if (start) {
        char *end;
        start++;
        end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, length - (size_t)(end - buf) + 1);
            length -= (size_t)(end - start);
        }
    }
    strbuf_addn(d, buf, length);
}

static void dump_value(struct strbuf *d, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *value;
        int first = 1;
        strbuf_addc(d, '{');
        json_object_foreach((json_t *)v, key, value)
        {
            if (!first)
                strbuf_addc(d, ',');
            first = 0;
            dump_string(d, key, strlen(key));
            strbuf_addc(d, ':');
            dump_value(d, value);
        }
        strbuf_addc(d, '}');
        break;
    }
    case JSON_ARRAY:
        strbuf_addc(d, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                strbuf_addc(d, ',');
            dump_value(d, json_array_get(v, i));
        }
        strbuf_addc(d, ']');
        break;
    case JSON_STRING:
        dump_string(d, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        dump_integer(d, json_integer_value(v));
        break;
    case JSON_REAL:
        dump_real(d, json_real_value(v));
        break;
    case JSON_TRUE:
        strbuf_addn(d, "true", 4);
        break;
    case JSON_FALSE:
        strbuf_addn(d, "false", 5);
        break;
    case JSON_NULL:
        strbuf_addn(d, "null", 4);
        break;
    }
}

char *json_dump_compact(const json_t *v)
{
    struct strbuf d = {0};
    /* Written here rather than by json_dumps(): the same text as
       JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15) (unit-tested
       against it), a third of the cost, and in a buffer of our own, so plain
       free() fits whatever allocator jansson was given. Reals are percent
       and shares values only, printed in their shortest exact form. Values
       nest only as deep as the parser allows. */
    if (!v) {
        fprintf(stderr, "json_dump_compact: no value\n");
        abort();
    }
    dump_value(&d, v);
    return d.buf; /* JSON is never empty: the buffer exists */
}

/*
 * import: other products' exports as splitter requests (import.h).
 *
 * Every converter computes each member's share itself, in minor units, and
 * writes it as an "exact" split, so the balances the group ends with are the
 * ones the converter computed, to the unit; where the source's own split
 * does not land on whole units, the remainder goes to the largest fractional
 * parts (ties: the earlier member) and the report says so.
 */
#include "import.h"

#include "money.h"
#include "sha256.h"
#include "strbuf.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

__extension__ typedef __int128 wide;

/* Any one amount or share of an export, in minor units: sums of a few
   thousand stay far within int64. */
#define IMPORT_MAX_AMOUNT 1000000000000000LL

int import_format_parse(const char *name, enum import_format *fmt)
{
    static const char *const names[] = {"splitter", "spliit", "ihatemoney", "splitwise"};
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *fmt = (enum import_format)i;
            return 0;
        }
    return -1;
}

void import_release(struct import_group *g)
{
    free(g->name);
    for (size_t i = 0; i < g->n_members; i++)
        free(g->members[i]);
    free(g->members);
    json_decref(g->entries);
    json_decref(g->report);
    memset(g, 0, sizeof(*g));
}

void import_derive_id(const char *seed, const char *what, size_t index, char *out)
{
    unsigned char h[SHA256_BYTES];
    char material[256];
    static const char hex[] = "0123456789abcdef";
    int n = snprintf(material, sizeof(material), "%s|%s|%zu", seed, what, index);
    sha256_digest(h, material, (size_t)n);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = '\0';
}

static int is_member_key(const char *k)
{
    return strcmp(k, "member_id") == 0 || strcmp(k, "from_member") == 0 ||
           strcmp(k, "to_member") == 0;
}

json_t *import_bind(const json_t *data, const char (*ids)[UUID_STR_SIZE], size_t n)
{
    if (json_is_object(data)) {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)data, k, v)
        {
            const char *s = json_string_value(v);
            if (s && s[0] == '#' && is_member_key(k)) {
                char *end;
                unsigned long i = strtoul(s + 1, &end, 10);
                if (*end == '\0' && i < n) {
                    json_object_set_new(o, k, json_string(ids[i]));
                    continue;
                }
            }
            json_object_set_new(o, k, import_bind(v, ids, n));
        }
        return o;
    }
    if (json_is_array(data)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(data); i++)
            json_array_append_new(a, import_bind(json_array_get(data, i), ids, n));
        return a;
    }
    return json_deep_copy(data);
}

/* --- what the converters share ------------------------------------------------------------ */

static void report(struct import_group *g, size_t entry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct import_group *g, size_t entry, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(g->report,
                          json_pack("{s:I, s:s}", "entry", (json_int_t)entry, "message", msg));
}

/* The member named name (case-insensitively), added when new; -1 when the
   group is full or the name is not 1..100 characters. */
static long member_of(struct import_group *g, const char *name)
{
    if (!name || !name[0] || json_utf8_length(name) > 100)
        return -1;
    for (size_t i = 0; i < g->n_members; i++)
        if (strcasecmp(g->members[i], name) == 0)
            return (long)i;
    if (g->n_members >= IMPORT_MAX_MEMBERS)
        return -1;
    g->members = xrealloc(g->members, (g->n_members + 1) * sizeof(*g->members));
    g->members[g->n_members] = xstrdup(name);
    return (long)g->n_members++;
}

static json_t *ref(long m)
{
    char s[24];
    snprintf(s, sizeof(s), "#%ld", m);
    return json_string(s);
}

/* Share amount among n members by weights w (all >= 0, sum > 0): each gets
   floor(amount * w / sum), and the units left over go one each to the
   largest remainders (ties: the earlier). Returns the number of units given
   out that way (0: the split landed on whole units), or -1 on overflow. */
static long share_out(int64_t amount, const int64_t *w, size_t n, int64_t *owed)
{
    wide sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    if (sum <= 0)
        return -1;
    wide *rem = xcalloc(n, sizeof(*rem));
    int64_t given = 0;
    for (size_t i = 0; i < n; i++) {
        wide p = (wide)amount * w[i];
        owed[i] = (int64_t)(p / sum);
        rem[i] = p % sum;
        given += owed[i];
    }
    long left = (long)(amount - given);
    for (long k = 0; k < left; k++) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (rem[i] > rem[best])
                best = i;
        owed[best]++;
        rem[best] = -1;
    }
    free(rem);
    return left;
}

static void add_entry(struct import_group *g, const char *kind, json_t *data)
{
    json_array_append_new(g->entries, json_pack("{s:s, s:o}", "kind", kind, "data", data));
}

/* An expense paid by payers[i] (amounts paid[i]) and owed by members[j] (owed[j]). */
static json_t *exact_expense(const char *description, int64_t amount, const char *currency,
                             const char *date, const char *category, const long *payers,
                             const int64_t *paid, size_t n_payers, const long *members,
                             const int64_t *owed, size_t n)
{
    json_t *pb = json_array(), *sm = json_array();
    for (size_t i = 0; i < n_payers; i++)
        json_array_append_new(pb, json_pack("{s:o, s:I}", "member_id", ref(payers[i]), "amount",
                                            (json_int_t)paid[i]));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(sm, json_pack("{s:o, s:I}", "member_id", ref(members[i]), "value",
                                            (json_int_t)owed[i]));
    json_t *e = json_pack("{s:s, s:I, s:s, s:o, s:{s:s, s:o}}", "description",
                          description && description[0] ? description : "(no description)",
                          "amount", (json_int_t)amount, "currency", currency, "paid_by", pb,
                          "split", "mode", "exact", "members", sm);
    if (date && strlen(date) >= 10)
        json_object_set_new(e, "date", json_stringn(date, 10));
    if (category && category[0])
        json_object_set_new(e, "category", json_string(category));
    return e;
}

static json_t *payment(long from, long to, int64_t amount, const char *date, const char *note)
{
    json_t *p = json_pack("{s:o, s:o, s:I}", "from_member", ref(from), "to_member", ref(to),
                          "amount", (json_int_t)amount);
    if (date && strlen(date) >= 10)
        json_object_set_new(p, "date", json_stringn(date, 10));
    if (note && note[0])
        json_object_set_new(p, "note", json_string(note));
    return p;
}

/* A decimal's text ("-12.5", "3") as minor units at exponent: 0, or -1 when
   malformed; *inexact set when it had more fraction digits (then rounded half
   away from zero). */
static int parse_amount(const char *s, size_t len, int exponent, int64_t *out, int *inexact)
{
    int neg = len > 0 && s[0] == '-';
    struct decimal d;
    if (neg) {
        s++;
        len--;
    }
    *inexact = 0;
    if (decimal_parse(s, len, MONEY_MAX_EXPONENT, &d) != 0)
        return -1;
    int64_t v;
    if (decimal_rescale(&d, exponent, &v) != 0) {
        int64_t p10 = 1;
        for (int i = exponent; i < d.scale; i++)
            p10 *= 10;
        if (d.scale <= exponent)
            return -1; /* overflow */
        v = d.units / p10 + (d.units % p10 * 2 >= p10);
        *inexact = 1;
    }
    if (v > IMPORT_MAX_AMOUNT)
        return -1;
    *out = neg ? -v : v;
    return 0;
}

/* A JSON number's exact text (doc) or a string's; NULL otherwise. */
static const char *number_text(const struct json_doc *doc, const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v))
        return json_doc_number_text(doc, v);
    return NULL;
}

/* --- splitter ------------------------------------------------------------------------------ */

struct sorted {
    const char *at; /* created_at, "" when absent */
    const char *kind;
    size_t index; /* in its list */
    size_t order; /* in the file, for ties */
    json_t *data; /* owned */
};

static int sorted_cmp(const void *a, const void *b)
{
    const struct sorted *x = a, *y = b;
    int c = strcmp(x->at, y->at);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* A copy of v whose reals are their exact text and whose member references
   name members: "#<index>"; member ids not in ids[0..n) recorded in f. */
static json_t *splitter_copy(const struct json_doc *doc, const json_t *v, char **ids, long *idx,
                             size_t n, const char *path, struct fields *f)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            char sub[128];
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            if (is_member_key(k) && json_is_string(x)) {
                size_t i;
                for (i = 0; i < n; i++)
                    if (strcmp(ids[i], json_string_value(x)) == 0)
                        break;
                if (i == n) {
                    fields_add(f, sub, "is not one of data.members");
                    json_object_set(o, k, x);
                } else {
                    json_object_set_new(o, k, ref(idx[i]));
                }
                continue;
            }
            json_object_set_new(o, k, splitter_copy(doc, x, ids, idx, n, sub, f));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            char sub[128];
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            json_array_append_new(a, splitter_copy(doc, x, ids, idx, n, sub, f));
        }
        return a;
    }
    if (json_is_real(v)) {
        const char *t = json_doc_number_text(doc, v);
        if (t)
            return json_string(t);
    }
    return json_deep_copy(v);
}

static int from_splitter(const struct json_doc *doc, const json_t *data, struct import_group *g,
                         struct fields *f)
{
    const json_t *members = json_object_get(data, "members");
    const json_t *group = json_object_get(data, "group");
    const char *fmt = json_string_value(json_object_get(data, "format"));
    if (fmt && strcmp(fmt, "splitter") != 0)
        fields_add(f, "data.format", "must be splitter");
    if (json_is_object(group)) {
        const char *name = json_string_value(json_object_get(group, "name"));
        const char *cur = json_string_value(json_object_get(group, "currency"));
        if (name)
            g->name = xstrdup(name);
        if (cur && strlen(cur) == 3)
            memcpy(g->currency, cur, 4);
    }
    size_t n = json_array_size(members);
    if (!json_is_array(members) || n == 0 || n > IMPORT_MAX_MEMBERS) {
        fields_add(f, "data.members", "must be an array of 1 to %d members", IMPORT_MAX_MEMBERS);
        return -1;
    }
    char **ids = xcalloc(n, sizeof(*ids));
    long *idx = xcalloc(n, sizeof(*idx));
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(members, i);
        const char *id = json_string_value(json_object_get(m, "id"));
        const char *name = json_string_value(json_object_get(m, "name"));
        ids[i] = (char *)(id ? id : "");
        idx[i] = member_of(g, name);
        if (!id || idx[i] < 0)
            fields_add(f, "data.members",
                       "member %zu needs an id and a name of 1 to 100 characters", i);
    }
    static const char *const lists[2] = {"expenses", "payments"};
    size_t total = 0, k = 0;
    for (int l = 0; l < 2; l++) {
        const json_t *a = json_object_get(data, lists[l]);
        if (a && !json_is_array(a))
            fields_add(f, lists[l][0] == 'e' ? "data.expenses" : "data.payments",
                       "must be an array");
        total += json_array_size(a);
    }
    if (total > IMPORT_MAX_ENTRIES)
        fields_add(f, "data", "holds more than %d expenses and payments", IMPORT_MAX_ENTRIES);
    if (f->n) {
        free(ids);
        free(idx);
        return -1;
    }
    struct sorted *s = xcalloc(total + 1, sizeof(*s));
    for (int l = 0; l < 2; l++) {
        const json_t *a = json_object_get(data, lists[l]);
        size_t i;
        json_t *x;
        json_array_foreach(a, i, x)
        {
            char path[64];
            snprintf(path, sizeof(path), "data.%s[%zu]", lists[l], i);
            if (!json_is_object(x)) {
                fields_add(f, path, "must be an object");
                continue;
            }
            const char *at = json_string_value(json_object_get(x, "created_at"));
            s[k].at = at ? at : "";
            s[k].kind = l == 0 ? "expense" : "payment";
            s[k].index = i;
            s[k].order = k;
            s[k].data = splitter_copy(doc, x, ids, idx, n, path, f);
            json_object_del(s[k].data, "id");
            json_object_del(s[k].data, "created_at");
            k++;
        }
    }
    qsort(s, k, sizeof(*s), sorted_cmp);
    for (size_t i = 0; i < k; i++)
        add_entry(g, s[i].kind, s[i].data);
    free(s);
    free(ids);
    free(idx);
    return f->n ? -1 : 0;
}

/* --- Spliit (JSON export of a group: amounts in cents) -------------------------------------- */

/* The member of the participant with this id, or -1. */
static long part_of(const json_t *parts, const long *pidx, size_t np, const char *id)
{
    for (size_t q = 0; q < np && id; q++) {
        const char *x = json_string_value(json_object_get(json_array_get(parts, q), "id"));
        if (x && strcmp(x, id) == 0)
            return pidx[q];
    }
    return -1;
}

static int from_spliit(const json_t *data, const struct currency *cur, struct import_group *g,
                       struct fields *f)
{
    const json_t *parts = json_object_get(data, "participants");
    const json_t *exps = json_object_get(data, "expenses");
    const char *name = json_string_value(json_object_get(data, "name"));
    const char *code = json_string_value(json_object_get(data, "currencyCode"));
    if (name)
        g->name = xstrdup(name);
    if (code && strlen(code) == 3)
        memcpy(g->currency, code, 4);
    size_t np = json_array_size(parts), ne = json_array_size(exps);
    if (!json_is_array(parts) || np == 0 || np > IMPORT_MAX_MEMBERS)
        fields_add(f, "data.participants", "must be an array of 1 to %d participants",
                   IMPORT_MAX_MEMBERS);
    if (!json_is_array(exps) || ne > IMPORT_MAX_ENTRIES)
        fields_add(f, "data.expenses", "must be an array of at most %d expenses",
                   IMPORT_MAX_ENTRIES);
    if (f->n)
        return -1;
    long *pidx = xcalloc(np, sizeof(*pidx));
    for (size_t i = 0; i < np; i++) {
        const json_t *p = json_array_get(parts, i);
        pidx[i] = member_of(g, json_string_value(json_object_get(p, "name")));
        if (pidx[i] < 0 || !json_string_value(json_object_get(p, "id")))
            fields_add(f, "data.participants", "participant %zu needs an id and a name", i);
    }
    for (size_t i = 0; i < ne && !f->n; i++) {
        const json_t *e = json_array_get(exps, i);
        const json_t *pf = json_object_get(e, "paidFor");
        const char *mode = json_string_value(json_object_get(e, "splitMode"));
        const char *title = json_string_value(json_object_get(e, "title"));
        const char *date = json_string_value(json_object_get(e, "expenseDate"));
        const json_t *cat = json_object_get(json_object_get(e, "category"), "name");
        json_int_t cents = json_integer_value(json_object_get(e, "amount"));
        long payer = part_of(parts, pidx, np, json_string_value(json_object_get(e, "paidById")));
        size_t n = json_array_size(pf);
        char path[64];
        snprintf(path, sizeof(path), "data.expenses[%zu]", i);
        if (!json_is_integer(json_object_get(e, "amount")) || cents <= 0 ||
            cents > IMPORT_MAX_AMOUNT || payer < 0 || n == 0 || n > IMPORT_MAX_MEMBERS || !mode) {
            fields_add(f, path,
                       "needs a positive integer amount, paidById and paidFor naming participants, "
                       "and a splitMode");
            break;
        }
        /* Spliit counts in hundredths of the currency's unit. */
        int64_t amount = cents;
        if (cur->exponent != 2) {
            int64_t scale = 1;
            for (int d = cur->exponent; d < 2; d++)
                scale *= 10;
            for (int d = 2; d < cur->exponent; d++)
                amount *= 10;
            if (cur->exponent < 2) {
                if (cents % scale)
                    report(g, i, "%lld hundredths do not land on units of %s: rounded",
                           (long long)cents, cur->code);
                amount = (cents + scale / 2) / scale;
            }
        }
        long *mem = xcalloc(n, sizeof(*mem));
        int64_t *w = xcalloc(n, sizeof(*w)), *owed = xcalloc(n, sizeof(*owed));
        int64_t wsum = 0;
        for (size_t j = 0; j < n; j++) {
            const json_t *x = json_array_get(pf, j);
            mem[j] =
                part_of(parts, pidx, np, json_string_value(json_object_get(x, "participantId")));
            w[j] =
                strcmp(mode, "EVENLY") == 0 ? 1 : json_integer_value(json_object_get(x, "shares"));
            if (mem[j] < 0 || w[j] < 0 || w[j] > IMPORT_MAX_AMOUNT)
                fields_add(f, path, "paidFor[%zu] must name a participant with shares >= 0", j);
            else
                wsum += w[j];
        }
        if (!f->n && wsum <= 0)
            fields_add(f, path, "paidFor shares add up to nothing");
        if (!f->n && strcmp(mode, "BY_PERCENTAGE") == 0 && wsum != 10000)
            report(g, i, "percentages add up to %lld.%02lld%%: shared out in proportion",
                   (long long)(wsum / 100), (long long)(wsum % 100));
        if (!f->n && strcmp(mode, "BY_AMOUNT") == 0 && wsum != cents)
            report(g, i, "amounts add up to %lld, not %lld: shared out in proportion",
                   (long long)wsum, (long long)cents);
        if (!f->n) {
            long left = share_out(amount, w, n, owed);
            if (left > 0)
                report(g, i,
                       "%lld does not split into whole units: %ld unit(s) given to the "
                       "largest remainders",
                       (long long)amount, left);
            const json_t *reimb = json_object_get(e, "isReimbursement");
            if (json_is_true(reimb) && n == 1)
                add_entry(g, "payment", payment(payer, mem[0], amount, date, title));
            else
                add_entry(g, "expense",
                          exact_expense(title, amount, cur->code, date, json_string_value(cat),
                                        &payer, &amount, 1, mem, owed, n));
        }
        free(mem);
        free(w);
        free(owed);
    }
    free(pidx);
    return f->n ? -1 : 0;
}

/* --- IHateMoney (JSON export: a list of bills, decimal amounts) ---------------------------- */

/* A weight's text as millionths; -1 when malformed. */
static int64_t weight_of(const struct json_doc *doc, const json_t *v)
{
    char buf[32];
    const char *t = number_text(doc, v, buf, sizeof(buf));
    struct decimal d;
    int64_t out;
    if (!t || decimal_parse(t, strlen(t), 6, &d) != 0 || decimal_rescale(&d, 6, &out) != 0)
        return -1;
    return out;
}

static int from_ihatemoney(const struct json_doc *doc, const json_t *data,
                           const struct currency *cur, struct import_group *g, struct fields *f)
{
    size_t nb = json_array_size(data);
    if (!json_is_array(data) || nb > IMPORT_MAX_ENTRIES) {
        fields_add(f, "data", "must be an array of at most %d bills", IMPORT_MAX_ENTRIES);
        return -1;
    }
    /* Members as IHateMoney reads them back: the payers with their weight,
       then every other ower with weight 1. */
    int64_t weight[IMPORT_MAX_MEMBERS] = {0};
    for (size_t i = 0; i < nb; i++) {
        const json_t *b = json_array_get(data, i);
        long m = member_of(g, json_string_value(json_object_get(b, "payer_name")));
        int64_t w = weight_of(doc, json_object_get(b, "payer_weight"));
        char path[64];
        snprintf(path, sizeof(path), "data[%zu]", i);
        if (m < 0 || w < 0) {
            fields_add(f, path, "needs payer_name and payer_weight");
            return -1;
        }
        if (weight[m] == 0)
            weight[m] = w;
    }
    for (size_t i = 0; i < nb; i++) {
        const json_t *b = json_array_get(data, i);
        const json_t *owers = json_object_get(b, "owers");
        const char *what = json_string_value(json_object_get(b, "what"));
        const char *date = json_string_value(json_object_get(b, "date"));
        const char *type = json_string_value(json_object_get(b, "bill_type"));
        const char *bc = json_string_value(json_object_get(b, "currency"));
        long payer = member_of(g, json_string_value(json_object_get(b, "payer_name")));
        char path[64], buf[32];
        snprintf(path, sizeof(path), "data[%zu]", i);
        /* Older exports join the owers with ", ". */
        json_t *list = json_is_string(owers) ? json_array() : json_incref((json_t *)owers);
        if (json_is_string(owers)) {
            char *s = xstrdup(json_string_value(owers)), *save = NULL;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                while (*t == ' ')
                    t++;
                json_array_append_new(list, json_string(t));
            }
            free(s);
        }
        size_t n = json_array_size(list);
        const char *at = number_text(doc, json_object_get(b, "amount"), buf, sizeof(buf));
        int64_t amount = 0;
        int inexact = 0;
        if (!json_is_array(list) || n == 0 || !at ||
            parse_amount(at, strlen(at), cur->exponent, &amount, &inexact) != 0) {
            json_decref(list);
            fields_add(f, path, "needs an amount and owers");
            return -1;
        }
        if (bc && bc[0] && strcmp(bc, "XXX") != 0 && strcmp(bc, cur->code) != 0) {
            report(g, i, "in %s, not %s: left out", bc, cur->code);
            json_decref(list);
            continue;
        }
        if (inexact)
            report(g, i, "%s has more decimals than %s: rounded to %lld minor units", at, cur->code,
                   (long long)amount);
        if (amount <= 0) {
            report(g, i, "amount %s is not positive: left out", at);
            json_decref(list);
            continue;
        }
        long mem[IMPORT_MAX_MEMBERS];
        int64_t w[IMPORT_MAX_MEMBERS], owed[IMPORT_MAX_MEMBERS];
        for (size_t j = 0; j < n && j < IMPORT_MAX_MEMBERS; j++) {
            mem[j] = member_of(g, json_string_value(json_array_get(list, j)));
            if (mem[j] < 0) {
                json_decref(list);
                fields_add(f, path, "owers[%zu] must be a name", j);
                return -1;
            }
            w[j] = weight[mem[j]] ? weight[mem[j]] : 1000000;
        }
        json_decref(list);
        if (n > IMPORT_MAX_MEMBERS)
            n = IMPORT_MAX_MEMBERS;
        if (type && strcmp(type, "REIMBURSEMENT") == 0 && n == 1) {
            add_entry(g, "payment", payment(payer, mem[0], amount, date, what));
            continue;
        }
        long left = share_out(amount, w, n, owed);
        if (left > 0)
            report(g, i,
                   "%s does not split into whole units: %ld unit(s) given to the largest "
                   "remainders",
                   at, left);
        add_entry(
            g, "expense",
            exact_expense(what, amount, cur->code, date, NULL, &payer, &amount, 1, mem, owed, n));
    }
    return 0;
}

/* --- Splitwise (CSV export: one column per person, that person's net) ----------------------- */

/* The next CSV record of *p (RFC 4180 quoting) into cells (owned strings);
   the number of cells, 0 at the end. */
static size_t csv_record(const char **p, char **cells, size_t max)
{
    const char *s = *p;
    size_t n = 0;
    if (!*s)
        return 0;
    for (;;) {
        struct strbuf b = {0};
        if (*s == '"') {
            s++;
            while (*s && !(*s == '"' && s[1] != '"')) {
                if (*s == '"')
                    s++;
                strbuf_addn(&b, s++, 1);
            }
            if (*s == '"')
                s++;
        }
        while (*s && *s != ',' && *s != '\n' && *s != '\r')
            strbuf_addn(&b, s++, 1);
        strbuf_addn(&b, "", 0);
        if (n < max)
            cells[n++] = b.buf ? b.buf : xstrdup("");
        else
            free(b.buf);
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '\r')
            s++;
        if (*s == '\n')
            s++;
        break;
    }
    *p = s;
    return n;
}

static void cells_free(char **cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
}

static int from_splitwise(const json_t *data, const struct currency *cur, struct import_group *g,
                          struct fields *f)
{
    enum { MAXC = IMPORT_MAX_MEMBERS + 5 };
    const char *p = json_string_value(data);
    char *head[MAXC], *row[MAXC];
    if (!p) {
        fields_add(f, "data", "must be the CSV text, a string");
        return -1;
    }
    if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    size_t nh = csv_record(&p, head, MAXC);
    if (nh < 6 || strcmp(head[0], "Date") != 0 || strcmp(head[3], "Cost") != 0 ||
        strcmp(head[4], "Currency") != 0) {
        cells_free(head, nh);
        fields_add(f, "data",
                   "must start with Date,Description,Category,Cost,Currency and one "
                   "column per person");
        return -1;
    }
    size_t np = nh - 5;
    long mem[MAXC];
    int64_t total[MAXC] = {0}, shown[MAXC] = {0};
    int has_total = 0;
    for (size_t j = 0; j < np; j++)
        if ((mem[j] = member_of(g, head[5 + j])) < 0)
            fields_add(f, "data", "person column %zu needs a name of 1 to 100 characters", j);
    size_t line = 0, nr;
    while (!f->n && (nr = csv_record(&p, row, MAXC)) > 0) {
        line++;
        int blank = 1;
        for (size_t j = 0; j < nr; j++)
            blank &= row[j][0] == '\0';
        if (blank) {
            cells_free(row, nr);
            continue;
        }
        if (line > IMPORT_MAX_ENTRIES) {
            cells_free(row, nr);
            fields_add(f, "data", "holds more than %d rows", IMPORT_MAX_ENTRIES);
            break;
        }
        int is_total = nr > 1 && strcmp(row[1], "Total balance") == 0;
        if (nr != nh) {
            cells_free(row, nr);
            fields_add(f, "data", "row %zu has %zu cells, not %zu", line, nr, nh);
            break;
        }
        if (!is_total && strcmp(row[4], cur->code) != 0) {
            report(g, line, "in %s, not %s: left out", row[4], cur->code);
            cells_free(row, nr);
            continue;
        }
        int64_t net[MAXC], cost = 0;
        int inexact = 0, bad = 0;
        for (size_t j = 0; j < np; j++) {
            int ix = 0;
            bad |= parse_amount(row[5 + j], strlen(row[5 + j]), cur->exponent, &net[j], &ix);
            inexact |= ix;
        }
        if (!is_total)
            bad |= parse_amount(row[3], strlen(row[3]), cur->exponent, &cost, &inexact);
        if (bad) {
            cells_free(row, nr);
            fields_add(f, "data", "row %zu has an amount that is not a decimal", line);
            break;
        }
        if (is_total) {
            has_total = 1;
            memcpy(shown, net, np * sizeof(*net));
            cells_free(row, nr);
            continue;
        }
        if (inexact)
            report(g, line, "has more decimals than %s: rounded", cur->code);
        int64_t sum = 0, pos = 0, neg = 0;
        size_t n_pos = 0, n_neg = 0;
        long payers[MAXC], members[MAXC];
        int64_t paid[MAXC], owed[MAXC];
        for (size_t j = 0; j < np; j++) {
            sum += net[j];
            total[j] += net[j];
            if (net[j] > 0) {
                pos += net[j];
                payers[n_pos] = mem[j];
                paid[n_pos++] = net[j];
            } else {
                neg -= net[j];
            }
        }
        if (n_pos == 0) {
            report(g, line, "moves no balance: left out");
            cells_free(row, nr);
            continue;
        }
        if (sum != 0)
            report(g, line,
                   "the nets add up to %lld minor units, not 0: %s's balance takes the "
                   "difference",
                   (long long)sum, g->members[payers[0]]);
        /* Payers: each person owed money pays what they are owed, the first
           of them the rest of the cost too, and owes the cost less what the
           others owe; the others owe what they lose. When the nets add up to
           0 (they do in an export), every net is kept exactly. */
        int64_t amount = cost > pos ? cost : pos;
        if (neg > amount)
            amount = neg;
        if (amount != cost)
            report(g, line,
                   "costs %s but its members are owed more: amount kept as what they "
                   "are owed",
                   row[3]);
        paid[0] += amount - pos;
        members[n_neg] = payers[0];
        owed[n_neg++] = amount - neg;
        for (size_t j = 0; j < np; j++)
            if (net[j] < 0) {
                members[n_neg] = mem[j];
                owed[n_neg++] = -net[j];
            }
        if (strcmp(row[2], "Payment") == 0 && n_pos == 1 && n_neg == 2 && amount == pos &&
            amount == neg)
            add_entry(g, "payment", payment(payers[0], members[1], amount, row[0], row[1]));
        else
            add_entry(g, "expense",
                      exact_expense(row[1], amount, cur->code, row[0], row[2], payers, paid, n_pos,
                                    members, owed, n_neg));
        cells_free(row, nr);
    }
    for (size_t j = 0; has_total && !f->n && j < np; j++)
        if (total[j] != shown[j])
            report(g, 0,
                   "%s: the rows add up to %lld minor units, the total balance row shows "
                   "%lld",
                   head[5 + j], (long long)total[j], (long long)shown[j]);
    cells_free(head, nh);
    return f->n ? -1 : 0;
}

int import_convert(enum import_format fmt, const struct json_doc *doc, const json_t *data,
                   const char *currency, struct import_group *g, struct fields *f)
{
    memset(g, 0, sizeof(*g));
    g->entries = json_array();
    g->report = json_array();
    int rc;
    if (fmt == IMPORT_SPLITTER) {
        rc = json_is_object(data) ? from_splitter(doc, data, g, f) : -1;
        if (!json_is_object(data))
            fields_add(f, "data", "must be the object GET /groups/{gid}/export.json answers");
    } else {
        /* The others need the currency first: their amounts depend on it. */
        const char *code = currency;
        if (!code && fmt == IMPORT_SPLIIT)
            code = json_string_value(json_object_get(data, "currencyCode"));
        const struct currency *cur = code ? money_currency_find(code) : NULL;
        if (!cur) {
            fields_add(f, "currency", "is required (an ISO 4217 code) for this format");
            rc = -1;
        } else if (fmt == IMPORT_SPLIIT) {
            rc = json_is_object(data) ? from_spliit(data, cur, g, f) : -1;
            if (!json_is_object(data))
                fields_add(f, "data", "must be Spliit's JSON export of a group");
        } else if (fmt == IMPORT_IHATEMONEY) {
            rc = from_ihatemoney(doc, data, cur, g, f);
        } else {
            rc = from_splitwise(data, cur, g, f);
        }
        if (cur)
            memcpy(g->currency, cur->code, 4);
    }
    if (rc == 0 && g->n_members == 0) {
        fields_add(f, "data", "names no members");
        rc = -1;
    }
    if (rc != 0)
        import_release(g);
    return rc;
}

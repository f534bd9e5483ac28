#include "ledger.h"

#include "event.h"

#include "items.h"
#include "split.h"
#include "xalloc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int ledger_is_uuid(const char *s)
{
    static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
        char c = s[i];
        if (pattern[i] == '-') {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return s[sizeof(pattern) - 1] == '\0';
}

int ledger_is_date(const char *s)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, leap;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

void ledger_today(char *buf)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, 11, "%Y-%m-%d", &tm);
}

/* A required or optional string field with a length bound in code points.
   Returns the borrowed string, or NULL (error recorded unless merely absent
   and optional). */
static const char *get_string(const json_t *obj, const char *key, const char *path, int required,
                              size_t min_len, size_t max_len, struct fields *f)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            fields_add(f, path, "is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        fields_add(f, path, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        fields_add(f, path, "must not contain NUL characters");
        return NULL;
    }
    size_t n = json_utf8_length(s);
    if (n < min_len || n > max_len) {
        fields_add(f, path, "must be %zu to %zu characters long", min_len, max_len);
        return NULL;
    }
    return s;
}

/* A positive int64 amount. 0, or -1 with the error recorded. */
static int get_amount(const json_t *obj, const char *key, const char *path, int64_t *out,
                      struct fields *f)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        fields_add(f, path, "is required");
        return -1;
    }
    if (json_is_real(v)) {
        fields_add(f, path, "must be an integer number of minor units within 64 bits");
        return -1;
    }
    if (!json_is_integer(v)) {
        fields_add(f, path, "must be an integer");
        return -1;
    }
    if (json_integer_value(v) <= 0) {
        fields_add(f, path, "must be positive");
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static int get_date(const json_t *obj, const char *today, char *out, struct fields *f)
{
    const json_t *v = json_object_get(obj, "date");
    if (!v || json_is_null(v)) {
        memcpy(out, today, 11);
        return 0;
    }
    if (!json_is_string(v) || !ledger_is_date(json_string_value(v))) {
        fields_add(f, "date", "must be a date YYYY-MM-DD");
        return -1;
    }
    memcpy(out, json_string_value(v), 11);
    return 0;
}

static int get_member_id(const json_t *obj, const char *path, char *out, struct fields *f)
{
    const json_t *v = json_object_get(obj, "member_id");
    char p[128];
    snprintf(p, sizeof(p), "%s.member_id", path);
    if (!v) {
        fields_add(f, p, "is required");
        return -1;
    }
    if (!json_is_string(v) || !ledger_is_uuid(json_string_value(v))) {
        fields_add(f, p, "must be a lowercase UUID");
        return -1;
    }
    memcpy(out, json_string_value(v), UUID_STR_SIZE);
    return 0;
}

/* Hundredths of a non-negative decimal text with at most 2 decimals, at most
   LEDGER_VALUE_MAX. 0, or -1. */
static int hundredths_of(const char *text, int64_t *out)
{
    struct decimal d;
    if (decimal_parse(text, strlen(text), 2, &d) != 0)
        return -1;
    int64_t v = d.units;
    for (int s = d.scale; s < 2; s++)
        if (__builtin_mul_overflow(v, 10, &v))
            return -1;
    if (v > (int64_t)LEDGER_VALUE_MAX * 100)
        return -1;
    *out = v;
    return 0;
}

/* A percent or shares value: a number (or decimal string) with at most two
   decimals, as hundredths. Exact: never through floating point. */
static int get_hundredths(const struct json_doc *doc, const json_t *v, const char *path,
                          int64_t *out, struct fields *f)
{
    struct decimal d;
    const char *text;
    char buf[32];

    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        text = buf;
    } else if (json_is_real(v)) {
        text = json_doc_number_text(doc, v);
    } else if (json_is_string(v)) {
        text = json_string_value(v);
    } else {
        text = NULL;
    }
    if (!text || text[0] == '-') {
        fields_add(f, path, "must be a non-negative number with at most 2 decimals");
        return -1;
    }
    if (decimal_parse(text, strlen(text), 2, &d) != 0) {
        fields_add(f, path, "must be a number with at most 2 decimals");
        return -1;
    }
    if (hundredths_of(text, out) != 0) {
        fields_add(f, path, "must be at most %d", LEDGER_VALUE_MAX);
        return -1;
    }
    return 0;
}

static const char *const expense_keys[] = {
    "description", "amount", "currency",   "exchange_rate", "date", "category",
    "paid_by",     "split",  "recurrence", "recurrence_of", NULL};
static const char *const recurrence_keys[] = {"every", "unit", "until", NULL};
static const char *const payer_keys[] = {"member_id", "amount", NULL};
static const char *const split_keys[] = {"mode", "members", NULL};
static const char *const items_split_keys[] = {"mode", "items", "charges", NULL};
static const char *const part_keys[] = {"member_id", "value", NULL};
static const char *const mode_names[] = {"equal", "exact", "percent", "shares", "items"};
static const char *const item_keys[] = {"name", "price", "quantity", "split", NULL};
static const char *const item_split_keys[] = {"mode", "members", NULL};
static const char *const charge_keys[] = {"kind", "amount", "percent", NULL};
static const char *const charge_kinds[] = {"tax", "tip", "service"};

static int check_unknown(const json_t *obj, const char *path, const char *const *allowed,
                         struct fields *f)
{
    const char *k = json_unknown_key(obj, allowed);
    char p[256];
    if (!k)
        return 0;
    snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", k);
    fields_add(f, p, "is not a known field");
    return -1;
}

static int parse_payers(const json_t *body, struct ledger_expense *e, struct fields *f)
{
    const json_t *arr = json_object_get(body, "paid_by");
    size_t n, i;
    int64_t sum = 0;
    int bad = 0;

    if (!arr) {
        fields_add(f, "paid_by", "is required");
        return -1;
    }
    if (!json_is_array(arr) || (n = json_array_size(arr)) == 0 || n > LEDGER_MAX_MEMBERS) {
        fields_add(f, "paid_by", "must be an array of 1 to %d payers", LEDGER_MAX_MEMBERS);
        return -1;
    }
    e->paid = xcalloc(n, sizeof(*e->paid));
    e->n_paid = n;
    for (i = 0; i < n; i++) {
        const json_t *p = json_array_get(arr, i);
        char path[64], apath[80];
        snprintf(path, sizeof(path), "paid_by[%zu]", i);
        snprintf(apath, sizeof(apath), "%s.amount", path);
        if (!json_is_object(p)) {
            fields_add(f, path, "must be an object");
            bad = 1;
            continue;
        }
        if (check_unknown(p, path, payer_keys, f) != 0 ||
            get_member_id(p, path, e->paid[i].member_id, f) != 0 ||
            get_amount(p, "amount", apath, &e->paid[i].value, f) != 0) {
            bad = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(e->paid[j].member_id, e->paid[i].member_id) == 0) {
                fields_add(f, path, "names a payer twice");
                bad = 1;
            }
        }
        if (!bad && money_add(sum, e->paid[i].value, &sum) != 0) {
            fields_add(f, "paid_by", "amounts overflow 64 bits");
            return -1;
        }
    }
    if (bad)
        return -1;
    if (sum != e->amount) {
        fields_add(f, "paid_by", "amounts must sum to the expense amount");
        return -1;
    }
    return 0;
}

/* The index of member id in e->split, appended (first seen at item, pos) when
   new; SIZE_MAX when the bill already has LEDGER_MAX_MEMBERS members. */
static size_t item_member(struct ledger_expense *e, const char *id, int item, int pos)
{
    for (size_t k = 0; k < e->n_split; k++)
        if (strcmp(e->split[k].member_id, id) == 0)
            return k;
    if (e->n_split == LEDGER_MAX_MEMBERS)
        return SIZE_MAX;
    struct ledger_part *p = &e->split[e->n_split];
    memcpy(p->member_id, id, UUID_STR_SIZE);
    p->item = item;
    p->pos = pos;
    return e->n_split++;
}

/* A positive integer quantity, 1 when absent. 0, or -1 with the error recorded. */
static int get_quantity(const json_t *item, const char *path, int64_t *out, struct fields *f)
{
    const json_t *v = json_object_get(item, "quantity");
    if (!v || json_is_null(v)) {
        *out = 1;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
        json_integer_value(v) > LEDGER_QUANTITY_MAX) {
        fields_add(f, path, "must be an integer from 1 to %d", LEDGER_QUANTITY_MAX);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* One item's "split": its mode and members into it, the members also into e's
   member list. 0, or -1 with the errors recorded. */
static int parse_item_split(const struct json_doc *doc, const json_t *isplit, const char *ipath,
                            int index, struct ledger_expense *e, struct ledger_item *it,
                            struct fields *f)
{
    const json_t *mode, *arr, *p;
    char path[96], sub[128];
    size_t n, k;
    int bad = 0;

    snprintf(path, sizeof(path), "%s.split", ipath);
    if (!json_is_object(isplit)) {
        fields_add(f, path, isplit ? "must be an object" : "is required");
        return -1;
    }
    if (check_unknown(isplit, path, item_split_keys, f) != 0)
        return -1;
    mode = json_object_get(isplit, "mode");
    snprintf(sub, sizeof(sub), "%s.mode", path);
    if (!json_is_string(mode) || (strcmp(json_string_value(mode), "equal") != 0 &&
                                  strcmp(json_string_value(mode), "shares") != 0)) {
        fields_add(f, sub, "must be equal or shares");
        return -1;
    }
    it->shares = strcmp(json_string_value(mode), "shares") == 0;
    arr = json_object_get(isplit, "members");
    snprintf(sub, sizeof(sub), "%s.members", path);
    if (!json_is_array(arr) || (n = json_array_size(arr)) == 0 || n > LEDGER_MAX_MEMBERS) {
        fields_add(f, sub, "must be an array of 1 to %d members", LEDGER_MAX_MEMBERS);
        return -1;
    }
    it->member = xcalloc(n, sizeof(*it->member));
    it->weight = xcalloc(n, sizeof(*it->weight));
    it->n = n;
    json_array_foreach(arr, k, p)
    {
        char mpath[128], vpath[144], id[UUID_STR_SIZE];
        const json_t *v;
        snprintf(mpath, sizeof(mpath), "%s.members[%zu]", path, k);
        snprintf(vpath, sizeof(vpath), "%s.value", mpath);
        it->member[k] = SIZE_MAX; /* matches no other member until it is read */
        if (!json_is_object(p)) {
            fields_add(f, mpath, "must be an object");
            bad = 1;
            continue;
        }
        if (check_unknown(p, mpath, part_keys, f) != 0 || get_member_id(p, mpath, id, f) != 0) {
            bad = 1;
            continue;
        }
        it->member[k] = item_member(e, id, index, (int)k);
        if (it->member[k] == SIZE_MAX) {
            fields_add(f, mpath, "the bill names more than %d members", LEDGER_MAX_MEMBERS);
            return -1;
        }
        for (size_t j = 0; j < k; j++) {
            if (it->member[j] == it->member[k]) {
                fields_add(f, mpath, "names a member twice");
                bad = 1;
            }
        }
        v = json_object_get(p, "value");
        if (!it->shares) {
            if (v) {
                fields_add(f, vpath, "must be absent in equal mode");
                bad = 1;
            }
            it->weight[k] = 1;
        } else if (!v) {
            fields_add(f, vpath, "is required");
            bad = 1;
        } else if (get_hundredths(doc, v, vpath, &it->weight[k], f) != 0) {
            bad = 1;
        } else if (it->weight[k] == 0) {
            fields_add(f, vpath, "must be positive");
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

static int parse_charges(const struct json_doc *doc, const json_t *split, struct ledger_expense *e,
                         struct fields *f)
{
    const json_t *arr = json_object_get(split, "charges"), *c;
    size_t n, j;
    int bad = 0;

    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr) || (n = json_array_size(arr)) > LEDGER_MAX_CHARGES) {
        fields_add(f, "split.charges", "must be an array of at most %d charges",
                   LEDGER_MAX_CHARGES);
        return -1;
    }
    e->charges = xcalloc(n + 1, sizeof(*e->charges));
    e->n_charges = n;
    json_array_foreach(arr, j, c)
    {
        struct ledger_charge *ch = &e->charges[j];
        char path[48], sub[64];
        const json_t *kind, *amount, *percent;
        size_t k;
        snprintf(path, sizeof(path), "split.charges[%zu]", j);
        if (!json_is_object(c)) {
            fields_add(f, path, "must be an object");
            bad = 1;
            continue;
        }
        if (check_unknown(c, path, charge_keys, f) != 0) {
            bad = 1;
            continue;
        }
        kind = json_object_get(c, "kind");
        for (k = 0; k < 3 && !(json_is_string(kind) &&
                               strcmp(json_string_value(kind), charge_kinds[k]) == 0);
             k++)
            ;
        if (k == 3) {
            snprintf(sub, sizeof(sub), "%s.kind", path);
            fields_add(f, sub, "must be one of tax, tip, service");
            bad = 1;
            continue;
        }
        ch->kind = (enum ledger_charge_kind)k;
        amount = json_object_get(c, "amount");
        percent = json_object_get(c, "percent");
        if (!amount == !percent) {
            fields_add(f, path, "needs exactly one of amount and percent");
            bad = 1;
            continue;
        }
        if (amount) {
            snprintf(sub, sizeof(sub), "%s.amount", path);
            if (get_amount(c, "amount", sub, &ch->value, f) != 0)
                bad = 1;
            continue;
        }
        ch->is_percent = 1;
        snprintf(sub, sizeof(sub), "%s.percent", path);
        if (get_hundredths(doc, percent, sub, &ch->value, f) != 0) {
            bad = 1;
        } else if (ch->value == 0) {
            fields_add(f, sub, "must be positive");
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* The lines of e in the form shared/items takes; caller frees. */
static struct items_line *item_lines(const struct ledger_expense *e)
{
    struct items_line *l = xcalloc(e->n_items + 1, sizeof(*l));
    for (size_t i = 0; i < e->n_items; i++)
        l[i] = (struct items_line){e->items[i].price, e->items[i].quantity, e->items[i].n,
                                   e->items[i].member, e->items[i].weight};
    return l;
}

/* split.items and split.charges of an itemised bill; e->split gets its members
   in the order they first appear. The bill's total must be the amount. 0, or
   -1 with the errors recorded. */
static int parse_items(const struct json_doc *doc, const json_t *split, struct ledger_expense *e,
                       struct fields *f)
{
    const json_t *arr = json_object_get(split, "items"), *it;
    struct items_line *lines = NULL;
    struct items_charge *charges = NULL;
    struct split_error err = {0};
    int64_t subtotal, total;
    size_t n, i;
    int bad = 0, rc = -1;

    if (!json_is_array(arr) || (n = json_array_size(arr)) == 0 || n > LEDGER_MAX_ITEMS) {
        fields_add(f, "split.items", "must be an array of 1 to %d items", LEDGER_MAX_ITEMS);
        return -1;
    }
    e->items = xcalloc(n, sizeof(*e->items));
    e->n_items = n;
    e->split = xcalloc(LEDGER_MAX_MEMBERS, sizeof(*e->split));
    json_array_foreach(arr, i, it)
    {
        struct ledger_item *x = &e->items[i];
        char path[48], sub[80];
        const char *name;
        snprintf(path, sizeof(path), "split.items[%zu]", i);
        if (!json_is_object(it)) {
            fields_add(f, path, "must be an object");
            bad = 1;
            continue;
        }
        if (check_unknown(it, path, item_keys, f) != 0) {
            bad = 1;
            continue;
        }
        snprintf(sub, sizeof(sub), "%s.name", path);
        name = get_string(it, "name", sub, 1, 1, LEDGER_ITEM_NAME_MAX, f);
        if (name)
            x->name = xstrdup(name);
        else
            bad = 1;
        snprintf(sub, sizeof(sub), "%s.price", path);
        if (get_amount(it, "price", sub, &x->price, f) != 0)
            bad = 1;
        snprintf(sub, sizeof(sub), "%s.quantity", path);
        if (get_quantity(it, sub, &x->quantity, f) != 0)
            bad = 1;
        if (parse_item_split(doc, json_object_get(it, "split"), path, (int)i, e, x, f) != 0)
            bad = 1;
    }
    if (parse_charges(doc, split, e, f) != 0 || bad)
        return -1;

    lines = item_lines(e);
    charges = xcalloc(e->n_charges + 1, sizeof(*charges));
    for (size_t j = 0; j < e->n_charges; j++)
        charges[j] = (struct items_charge){e->charges[j].is_percent, e->charges[j].value};
    int64_t *amounts = xcalloc(e->n_charges + 1, sizeof(*amounts));
    if (items_total(lines, e->n_items, charges, e->n_charges, &subtotal, amounts, &total, &err) !=
        0) {
        char path[64];
        snprintf(path, sizeof(path), "%s[%ld]", err.field, err.index);
        fields_add(f, err.index >= 0 ? path : err.field, "%s", err.message);
        goto out;
    }
    for (size_t j = 0; j < e->n_charges; j++)
        e->charges[j].amount = amounts[j];
    if (total != e->amount) {
        fields_add(f, "amount",
                   "must equal the items' subtotal %lld plus the charges %lld, that is %lld",
                   (long long)subtotal, (long long)(total - subtotal), (long long)total);
        goto out;
    }
    rc = 0;
out:
    free(amounts);
    free(charges);
    free(lines);
    return rc;
}

void ledger_split_path(const struct ledger_expense *e, size_t i, char *buf, size_t size)
{
    if (e->mode == LEDGER_ITEMS)
        snprintf(buf, size, "split.items[%d].split.members[%d]", e->split[i].item, e->split[i].pos);
    else
        snprintf(buf, size, "split.members[%zu]", i);
}

static int parse_split(const struct json_doc *doc, const json_t *body, struct ledger_expense *e,
                       struct fields *f)
{
    const json_t *split = json_object_get(body, "split"), *mode, *arr;
    size_t n, i;
    int64_t sum = 0;
    int bad = 0;

    if (!split) {
        fields_add(f, "split", "is required");
        return -1;
    }
    if (!json_is_object(split)) {
        fields_add(f, "split", "must be an object");
        return -1;
    }
    mode = json_object_get(split, "mode");
    if (!json_is_string(mode)) {
        fields_add(f, "split.mode", "must be one of equal, exact, percent, shares, items");
        return -1;
    }
    for (i = 0; i < 5; i++)
        if (strcmp(json_string_value(mode), mode_names[i]) == 0)
            break;
    if (i == 5) {
        fields_add(f, "split.mode", "must be one of equal, exact, percent, shares, items");
        return -1;
    }
    e->mode = (enum ledger_split_mode)i;
    if (check_unknown(split, "split", e->mode == LEDGER_ITEMS ? items_split_keys : split_keys, f) !=
        0)
        return -1;
    if (e->mode == LEDGER_ITEMS)
        return parse_items(doc, split, e, f);
    arr = json_object_get(split, "members");
    if (!json_is_array(arr) || (n = json_array_size(arr)) == 0 || n > LEDGER_MAX_MEMBERS) {
        fields_add(f, "split.members", "must be an array of 1 to %d members", LEDGER_MAX_MEMBERS);
        return -1;
    }
    e->split = xcalloc(n, sizeof(*e->split));
    e->n_split = n;
    for (i = 0; i < n; i++) {
        const json_t *p = json_array_get(arr, i), *v;
        char path[64], vpath[80];
        snprintf(path, sizeof(path), "split.members[%zu]", i);
        snprintf(vpath, sizeof(vpath), "%s.value", path);
        if (!json_is_object(p)) {
            fields_add(f, path, "must be an object");
            bad = 1;
            continue;
        }
        if (check_unknown(p, path, part_keys, f) != 0 ||
            get_member_id(p, path, e->split[i].member_id, f) != 0) {
            bad = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(e->split[j].member_id, e->split[i].member_id) == 0) {
                fields_add(f, path, "names a member twice");
                bad = 1;
            }
        }
        v = json_object_get(p, "value");
        switch (e->mode) {
        case LEDGER_EQUAL:
            if (v) {
                fields_add(f, vpath, "must be absent in equal mode");
                bad = 1;
            }
            e->split[i].value = 1;
            break;
        case LEDGER_EXACT:
            if (!v) {
                fields_add(f, vpath, "is required");
                bad = 1;
            } else if (!json_is_integer(v) || json_integer_value(v) < 0) {
                fields_add(f, vpath, "must be a non-negative integer of minor units");
                bad = 1;
            } else {
                e->split[i].value = json_integer_value(v);
            }
            break;
        case LEDGER_ITEMS:
            break;
        case LEDGER_PERCENT:
        case LEDGER_SHARES:
            if (!v) {
                fields_add(f, vpath, "is required");
                bad = 1;
            } else if (get_hundredths(doc, v, vpath, &e->split[i].value, f) != 0) {
                bad = 1;
            } else if (e->mode == LEDGER_SHARES && e->split[i].value == 0) {
                fields_add(f, vpath, "must be positive");
                bad = 1;
            }
            break;
        }
        if (!bad && money_add(sum, e->split[i].value, &sum) != 0) {
            fields_add(f, "split.members", "values overflow 64 bits");
            return -1;
        }
    }
    if (bad)
        return -1;
    if (e->mode == LEDGER_EXACT && sum != e->amount) {
        fields_add(f, "split.members", "exact values must sum to the expense amount");
        return -1;
    }
    if (e->mode == LEDGER_PERCENT && sum != 10000) {
        fields_add(f, "split.members", "percentages must sum to exactly 100");
        return -1;
    }
    return 0;
}

/* "recurrence" and "recurrence_of" of body into e (the date already read).
   0, or -1 with the errors recorded. */
static int parse_recurrence(const json_t *body, struct ledger_expense *e, struct fields *f)
{
    const json_t *r = json_object_get(body, "recurrence"),
                 *of = json_object_get(body, "recurrence_of");
    const json_t *every, *unit, *until;
    size_t before = f->n;

    if (of && !json_is_null(of)) {
        if (!json_is_string(of) || !ledger_is_uuid(json_string_value(of)))
            fields_add(f, "recurrence_of",
                       "must be the id of the repeating expense (a lowercase UUID)");
        else
            memcpy(e->recurrence_of, json_string_value(of), UUID_STR_SIZE);
    }
    if (!r || json_is_null(r))
        return f->n > before ? -1 : 0;
    if (!json_is_object(r)) {
        fields_add(f, "recurrence", "must be an object {every, unit, until} or null");
        return -1;
    }
    if (check_unknown(r, "recurrence", recurrence_keys, f) != 0)
        return -1;
    every = json_object_get(r, "every");
    if (!json_is_integer(every) || json_integer_value(every) < 1 ||
        json_integer_value(every) > RECUR_EVERY_MAX)
        fields_add(f, "recurrence.every", "must be an integer from 1 to %d", RECUR_EVERY_MAX);
    else
        e->recurrence.every = (int)json_integer_value(every);
    unit = json_object_get(r, "unit");
    if (!json_is_string(unit) ||
        recur_unit_parse(json_string_value(unit), &e->recurrence.unit) != 0)
        fields_add(f, "recurrence.unit", "must be one of day, week, month, year");
    until = json_object_get(r, "until");
    if (until && !json_is_null(until)) {
        if (!json_is_string(until) || !ledger_is_date(json_string_value(until)))
            fields_add(f, "recurrence.until", "must be a date YYYY-MM-DD or null");
        else if (strcmp(json_string_value(until), e->date) < 0)
            fields_add(f, "recurrence.until", "must not be before the expense's date");
        else
            memcpy(e->recurrence.until, json_string_value(until), 11);
    }
    if (e->recurrence_of[0])
        fields_add(f, "recurrence", "must be null on an occurrence of a repeating expense");
    if (f->n > before)
        return -1;
    e->has_recurrence = 1;
    return 0;
}

/* Convert and apportion with the one implementation, split_expense(). 0, or
   -1 with the error recorded. */
static int compute(struct ledger_expense *e, int group_exp, int own_exp, struct fields *f)
{
    struct decimal *values = xcalloc(e->n_split, sizeof(*values));
    int64_t *paid = xcalloc(e->n_paid, sizeof(*paid));
    int64_t *owed = xcalloc(e->n_split, sizeof(*owed));
    int64_t *paid_out = xcalloc(e->n_paid, sizeof(*paid_out));
    static const enum split_mode modes[] = {SPLIT_EQUAL, SPLIT_EXACT, SPLIT_PERCENT, SPLIT_SHARES,
                                            SPLIT_EQUAL};
    struct split_error err = {0};
    int rc = -1;

    for (size_t i = 0; i < e->n_split; i++) {
        values[i].units = e->split[i].value;
        values[i].scale = e->mode == LEDGER_EXACT ? 0 : SPLIT_VALUE_SCALE;
    }
    for (size_t i = 0; i < e->n_paid; i++)
        paid[i] = e->paid[i].value;
    struct split_input in = {
        .amount = e->amount,
        .amount_exp = own_exp,
        .group_exp = group_exp,
        .rate = &e->rate,
        .mode = modes[e->mode],
        .values = e->mode == LEDGER_EQUAL || e->mode == LEDGER_ITEMS ? NULL : values,
        .n_members = e->n_split,
        .paid = paid,
        .n_payers = e->n_paid,
    };
    if (split_expense(&in, &e->amount_group, owed, paid_out, &err) != 0) {
        char path[64];
        if (err.index >= 0)
            snprintf(path, sizeof(path), "%s[%ld]", err.field ? err.field : "", err.index);
        else
            snprintf(path, sizeof(path), "%s", err.field ? err.field : "");
        fields_add(f, path, "%s", err.message);
        goto out;
    }
    /* An itemised bill: the conversion and the payers as above, the owed
       shares by the items (shared/items). */
    if (e->mode == LEDGER_ITEMS) {
        struct items_line *lines = item_lines(e);
        int r = items_apportion(e->amount_group, lines, e->n_items, e->n_split, owed, &err);
        free(lines);
        if (r != 0) {
            fields_add(f, err.field ? err.field : "split.items", "%s", err.message);
            goto out;
        }
    }
    for (size_t i = 0; i < e->n_paid; i++)
        e->paid[i].computed = paid_out[i];
    for (size_t i = 0; i < e->n_split; i++)
        e->split[i].computed = owed[i];
    rc = 0;
out:
    free(paid_out);
    free(owed);
    free(paid);
    free(values);
    return rc;
}

int ledger_expense_parse(const struct json_doc *doc, const json_t *body, const char *group_currency,
                         const char *today, struct ledger_expense *e, struct fields *f)
{
    const struct currency *gc = money_currency_find(group_currency), *own = gc;
    const char *s;
    const json_t *v;
    size_t before = f->n;

    memset(e, 0, sizeof(*e));
    if (!json_is_object(body)) {
        fields_add(f, "", "the body must be a JSON object");
        return -1;
    }
    if (check_unknown(body, "", expense_keys, f) != 0)
        goto bad;

    s = get_string(body, "description", "description", 1, 1, LEDGER_DESCRIPTION_MAX, f);
    if (s)
        e->description = xstrdup(s);
    get_amount(body, "amount", "amount", &e->amount, f);

    v = json_object_get(body, "currency");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || !(own = money_currency_find(json_string_value(v))))
            fields_add(f, "currency", "must be an ISO 4217 currency code");
    }
    if (own)
        memcpy(e->currency, own->code, 4);

    v = json_object_get(body, "exchange_rate");
    snprintf(e->rate_text, sizeof(e->rate_text), "1");
    /* Echoed as written: "1.0" stays "1.0" (a valid rate is short). */
    if (json_is_string(v) && json_string_length(v) < sizeof(e->rate_text))
        snprintf(e->rate_text, sizeof(e->rate_text), "%s", json_string_value(v));
    if (own && gc && own != gc) {
        if (!v || json_is_null(v)) {
            fields_add(f, "exchange_rate", "is required when currency differs from the group's");
        } else if (!json_is_string(v) ||
                   decimal_parse(json_string_value(v), json_string_length(v), LEDGER_RATE_MAX_SCALE,
                                 &e->rate) != 0 ||
                   e->rate.units == 0) {
            fields_add(f, "exchange_rate", "must be a positive decimal string like \"1.0825\"");
        }
    } else {
        e->rate.units = 1;
        e->rate.scale = 0;
        if (v && !json_is_null(v)) {
            struct decimal d;
            if (!json_is_string(v) || decimal_parse(json_string_value(v), json_string_length(v),
                                                    LEDGER_RATE_MAX_SCALE, &d) != 0) {
                fields_add(f, "exchange_rate", "must be a positive decimal string like \"1.0\"");
            } else {
                /* Same currency: only a rate of exactly one makes sense. */
                int64_t one = 1;
                for (int i = 0; i < d.scale; i++)
                    one *= 10;
                if (d.units != one)
                    fields_add(f, "exchange_rate", "must be 1 when currency is the group's");
            }
        }
    }
    get_date(body, today, e->date, f);
    s = get_string(body, "category", "category", 0, 1, LEDGER_CATEGORY_MAX, f);
    if (s)
        e->category = xstrdup(s);
    if (f->n > before || parse_recurrence(body, e, f) != 0)
        goto bad;
    if (parse_payers(body, e, f) != 0 || parse_split(doc, body, e, f) != 0)
        goto bad;
    if (compute(e, gc ? gc->exponent : 2, own ? own->exponent : 2, f) != 0)
        goto bad;
    return 0;
bad:
    ledger_expense_release(e);
    return -1;
}

struct ledger_share *ledger_merge_shares(const struct ledger_expense *e,
                                         size_t (*member_of)(const char *id, void *ctx), void *ctx,
                                         size_t *n_out, struct fields *f)
{
    struct ledger_share *sh = xcalloc(e->n_paid + e->n_split + 1, sizeof(*sh));
    size_t n = 0;
    int unknown = 0;
    for (size_t k = 0; k < e->n_paid + e->n_split; k++) {
        int payer = k < e->n_paid;
        const struct ledger_part *part = payer ? &e->paid[k] : &e->split[k - e->n_paid];
        size_t mi = member_of(part->member_id, ctx);
        if (mi == SIZE_MAX) {
            char path[96];
            if (payer)
                snprintf(path, sizeof(path), "paid_by[%zu].member_id", k);
            else {
                char sp[64];
                ledger_split_path(e, k - e->n_paid, sp, sizeof(sp));
                snprintf(path, sizeof(path), "%s.member_id", sp);
            }
            fields_add(f, path, "is not a member of this group");
            unknown = 1;
            continue;
        }
        size_t j;
        for (j = 0; j < n && sh[j].member != mi; j++)
            ;
        if (j == n)
            sh[n++].member = mi;
        /* Each member pays at most once and owes at most once (the parser
           refuses repeats), and each part is bounded: no overflow. */
        if (payer)
            sh[j].paid += part->computed;
        else
            sh[j].owed += part->computed;
    }
    if (unknown) {
        free(sh);
        return NULL;
    }
    *n_out = n;
    return sh;
}

int ledger_move_shares(const struct ledger_share *sh, size_t n, int sign,
                       int64_t *(*balance)(size_t member, int owed, void *ctx), void *ctx)
{
    /* First check every change, then make them. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            int64_t *paid = balance(sh[i].member, 0, ctx), *owed = balance(sh[i].member, 1, ctx);
            int64_t dp, dowed, new_paid, new_owed;
            if (money_mul(sh[i].paid, sign, &dp) != 0 || money_mul(sh[i].owed, sign, &dowed) != 0 ||
                money_add(*paid, dp, &new_paid) != 0 || money_add(*owed, dowed, &new_owed) != 0)
                return -1;
            if (pass == 1) {
                *paid = new_paid;
                *owed = new_owed;
            }
        }
    }
    return 0;
}

int ledger_volume_add(struct ledger_volume *v, int64_t paid, int64_t owed, int64_t sent,
                      int64_t received)
{
    int64_t credit, debit;
    if (paid < 0 || owed < 0 || sent < 0 || received < 0 || money_add(v->credit, paid, &credit) ||
        money_add(credit, sent, &credit) || money_add(v->debit, owed, &debit) ||
        money_add(debit, received, &debit))
        return -1;
    v->credit = credit;
    v->debit = debit;
    return 0;
}

int ledger_volume_add_expense(struct ledger_volume *v, const struct ledger_expense *e)
{
    struct ledger_volume x = *v;
    for (size_t i = 0; i < e->n_paid; i++)
        if (ledger_volume_add(&x, e->paid[i].computed, 0, 0, 0) != 0)
            return -1;
    for (size_t i = 0; i < e->n_split; i++)
        if (ledger_volume_add(&x, 0, e->split[i].computed, 0, 0) != 0)
            return -1;
    *v = x;
    return 0;
}

/* A non-negative decimal; past int64 it reads as INT64_MAX. The end in *end. */
static int64_t volume_part(const char *s, const char **end)
{
    int64_t n = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9') {
        if (n >= 0 && (money_mul(n, 10, &n) != 0 || money_add(n, *p - '0', &n) != 0))
            n = -1;
        p++;
    }
    *end = p == s ? NULL : p;
    return n < 0 ? INT64_MAX : n;
}

int ledger_volume_parse(const char *s, struct ledger_volume *v)
{
    const char *end;
    int64_t credit = volume_part(s, &end);
    if (!end || *end != ':')
        return -1;
    int64_t debit = volume_part(end + 1, &end);
    if (!end || *end)
        return -1;
    v->credit = credit;
    v->debit = debit;
    return 0;
}

void ledger_expense_release(struct ledger_expense *e)
{
    free(e->description);
    free(e->category);
    free(e->paid);
    free(e->split);
    for (size_t i = 0; i < e->n_items; i++) {
        free(e->items[i].name);
        free(e->items[i].member);
        free(e->items[i].weight);
    }
    free(e->items);
    free(e->charges);
    memset(e, 0, sizeof(*e));
}

/* Hundredths as an exact decimal string ("12.50"). New reference. */
static json_t *hundredths_json(int64_t h)
{
    struct decimal d = {h, 2};
    char buf[32];
    decimal_format(&d, buf, sizeof(buf));
    return json_string(buf);
}

/* An itemised bill's split in normal form: every item with its quantity,
   every charge with its kind and amount or percent. New reference. */
static json_t *items_to_json(const struct ledger_expense *e)
{
    json_t *items = json_array(), *charges = json_array();
    for (size_t i = 0; i < e->n_items; i++) {
        const struct ledger_item *it = &e->items[i];
        json_t *members = json_array();
        for (size_t k = 0; k < it->n; k++) {
            json_t *m = json_pack("{s:s}", "member_id", e->split[it->member[k]].member_id);
            if (it->shares)
                json_object_set_new(m, "value", hundredths_json(it->weight[k]));
            json_array_append_new(members, m);
        }
        json_array_append_new(
            items, json_pack("{s:s, s:I, s:I, s:{s:s, s:o}}", "name", it->name, "price",
                             (json_int_t)it->price, "quantity", (json_int_t)it->quantity, "split",
                             "mode", it->shares ? "shares" : "equal", "members", members));
    }
    for (size_t j = 0; j < e->n_charges; j++) {
        const struct ledger_charge *c = &e->charges[j];
        json_array_append_new(
            charges, json_pack("{s:s, s:o}", "kind", charge_kinds[c->kind],
                               c->is_percent ? "percent" : "amount",
                               c->is_percent ? hundredths_json(c->value) : json_integer(c->value)));
    }
    return json_pack("{s:s, s:o, s:o}", "mode", "items", "items", items, "charges", charges);
}

json_t *ledger_expense_to_json(const struct ledger_expense *e)
{
    json_t *o = json_object(), *paid = json_array(), *members = json_array();
    const char *rate = e->rate_text[0] ? e->rate_text : "1";

    for (size_t i = 0; i < e->n_paid; i++)
        json_array_append_new(paid, json_pack("{s:s, s:I}", "member_id", e->paid[i].member_id,
                                              "amount", (json_int_t)e->paid[i].value));
    for (size_t i = 0; i < e->n_split; i++) {
        json_t *m = json_pack("{s:s}", "member_id", e->split[i].member_id);
        if (e->mode == LEDGER_EXACT) {
            json_object_set_new(m, "value", json_integer(e->split[i].value));
        } else if (e->mode != LEDGER_EQUAL) {
            struct decimal d = {e->split[i].value, 2};
            char buf[32];
            decimal_format(&d, buf, sizeof(buf));
            json_object_set_new(m, "value", json_string(buf));
        }
        json_array_append_new(members, m);
    }
    json_object_set_new(o, "description", json_string(e->description));
    json_object_set_new(o, "amount", json_integer(e->amount));
    json_object_set_new(o, "currency", json_string(e->currency));
    json_object_set_new(o, "exchange_rate", json_string(rate));
    json_object_set_new(o, "date", json_string(e->date));
    json_object_set_new(o, "category", e->category ? json_string(e->category) : json_null());
    json_object_set_new(o, "paid_by", paid);
    if (e->mode == LEDGER_ITEMS) {
        json_decref(members);
        json_object_set_new(o, "split", items_to_json(e));
    } else {
        json_object_set_new(
            o, "split", json_pack("{s:s, s:o}", "mode", mode_names[e->mode], "members", members));
    }
    /* Only a repeating expense or an occurrence has the two (rows.h builds
       the same). */
    if (e->has_recurrence || e->recurrence_of[0]) {
        json_t *r = json_null();
        if (e->has_recurrence)
            r = json_pack("{s:i, s:s, s:o}", "every", e->recurrence.every, "unit",
                          recur_unit_name(e->recurrence.unit), "until",
                          e->recurrence.until[0] ? json_string(e->recurrence.until) : json_null());
        json_object_set_new(o, "recurrence", r);
        json_object_set_new(o, "recurrence_of",
                            e->recurrence_of[0] ? json_string(e->recurrence_of) : json_null());
    }
    return o;
}

/* A JSON number for an exact decimal string of at most 2 decimals: an integer
   when whole, else a real whose shortest form (JSON_REAL_PRECISION(15) in
   json_dump_compact) is the same text; values are bounded well inside 15
   significant digits. NULL if s is not such a decimal. */
static json_t *decimal_string_to_json(const char *s)
{
    int64_t h, back_h;
    char back[48];
    if (hundredths_of(s, &h) != 0)
        return NULL;
    if (h % 100 == 0)
        return json_integer(h / 100);
    json_t *num = json_real((double)h / 100.0);
    /* Only hand back a real that prints as exactly the same decimal. */
    snprintf(back, sizeof(back), "%.15g", json_real_value(num));
    if (hundredths_of(back, &back_h) != 0 || back_h != h) {
        json_decref(num);
        return NULL;
    }
    return num;
}

/* obj's decimal string under key back to the number the client sent. */
static void number_back(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) {
        json_t *num = decimal_string_to_json(json_string_value(v));
        if (num)
            json_object_set_new(obj, key, num);
    }
}

/* The split members of content's split (borrowed) in their order: split.members, or for an
   itemised bill each member once, in the order of first appearance across the items. New
   reference (an array of the member objects, borrowed ones). */
static json_t *split_members(const json_t *split)
{
    const json_t *mode = json_object_get(split, "mode");
    json_t *out = json_array();
    const json_t *it, *m, *x;
    size_t i, k, j;

    if (!json_is_string(mode) || strcmp(json_string_value(mode), "items") != 0) {
        json_array_extend(out, json_object_get(split, "members"));
        return out;
    }
    json_array_foreach(json_object_get(split, "items"), i, it)
    {
        json_array_foreach(json_object_get(json_object_get(it, "split"), "members"), k, m)
        {
            const char *id = json_string_value(json_object_get(m, "member_id"));
            int seen = 0;
            json_array_foreach(out, j, x)
            {
                const char *xid = json_string_value(json_object_get(x, "member_id"));
                if (id && xid && strcmp(id, xid) == 0)
                    seen = 1;
            }
            if (!seen)
                json_array_append(out, (json_t *)m);
        }
    }
    return out;
}

json_t *ledger_expense_resource(const json_t *content, const struct ledger_expense_meta *m,
                                const struct ledger_owed *owed, size_t n_owed)
{
    json_t *r = json_deep_copy(content);
    json_t *shares = json_array();
    json_t *split = json_object_get(r, "split");
    json_t *members = split_members(json_object_get(content, "split"));
    size_t i, j;
    const json_t *sm;
    json_t *om, *it;

    /* Percent and shares values travel and rest as exact decimal strings
       ("33.33"); the resource gives them back as the numbers the client sent. */
    json_array_foreach(json_object_get(split, "members"), i, om)
    {
        number_back(om, "value");
    }
    json_array_foreach(json_object_get(split, "items"), i, it)
    {
        json_array_foreach(json_object_get(json_object_get(it, "split"), "members"), j, om)
        {
            number_back(om, "value");
        }
    }
    json_array_foreach(json_object_get(split, "charges"), i, om)
    {
        number_back(om, "percent");
    }

    json_array_foreach(members, i, sm)
    {
        const json_t *v = json_object_get(sm, "member_id");
        const char *mid = json_is_string(v) ? json_string_value(v) : NULL;
        int64_t amount = 0;
        for (size_t k = 0; k < n_owed; k++)
            if (mid && strcmp(owed[k].member_id, mid) == 0)
                amount = owed[k].owed;
        json_array_append_new(shares, json_pack("{s:s, s:I}", "member_id", mid ? mid : "", "amount",
                                                (json_int_t)amount));
    }
    json_decref(members);
    json_object_set_new(r, "id", json_string(m->id));
    json_object_set_new(r, "group_id", json_string(m->group_id));
    json_object_set_new(r, "amount_in_group_currency", json_integer(m->amount_group));
    json_object_set_new(r, "shares", shares);
    json_object_set_new(r, "created_by", json_string(m->created_by));
    json_object_set_new(r, "created_at", json_string(m->created_at));
    json_object_set_new(r, "updated_at", json_string(m->updated_at));
    json_object_set_new(r, "version", json_integer(m->version));
    return r;
}

static const char *const payment_keys[] = {"from_member", "to_member", "amount",
                                           "date",        "note",      NULL};

static int get_uuid_field(const json_t *obj, const char *key, char *out, struct fields *f)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        fields_add(f, key, "is required");
        return -1;
    }
    if (!json_is_string(v) || !ledger_is_uuid(json_string_value(v))) {
        fields_add(f, key, "must be a lowercase UUID");
        return -1;
    }
    memcpy(out, json_string_value(v), UUID_STR_SIZE);
    return 0;
}

int ledger_payment_parse(const json_t *body, const char *today, struct ledger_payment *p,
                         struct fields *f)
{
    size_t before = f->n;
    const char *s;

    memset(p, 0, sizeof(*p));
    if (!json_is_object(body)) {
        fields_add(f, "", "the body must be a JSON object");
        return -1;
    }
    if (check_unknown(body, "", payment_keys, f) != 0)
        return -1;
    get_uuid_field(body, "from_member", p->from_member, f);
    get_uuid_field(body, "to_member", p->to_member, f);
    get_amount(body, "amount", "amount", &p->amount, f);
    get_date(body, today, p->date, f);
    s = get_string(body, "note", "note", 0, 0, LEDGER_NOTE_MAX, f);
    if (s)
        p->note = xstrdup(s);
    if (f->n == before && strcmp(p->from_member, p->to_member) == 0)
        fields_add(f, "to_member", "must differ from from_member");
    if (f->n > before) {
        ledger_payment_release(p);
        return -1;
    }
    return 0;
}

void ledger_payment_release(struct ledger_payment *p)
{
    free(p->note);
    memset(p, 0, sizeof(*p));
}

json_t *ledger_payment_to_json(const struct ledger_payment *p)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:o}", "from_member", p->from_member, "to_member",
                     p->to_member, "amount", (json_int_t)p->amount, "date", p->date, "note",
                     p->note ? json_string(p->note) : json_null());
}

json_t *ledger_payment_resource(const json_t *content, const struct ledger_expense_meta *m)
{
    json_t *r = json_deep_copy(content);
    json_object_set_new(r, "id", json_string(m->id));
    json_object_set_new(r, "group_id", json_string(m->group_id));
    json_object_set_new(r, "created_by", json_string(m->created_by));
    json_object_set_new(r, "created_at", json_string(m->created_at));
    json_object_set_new(r, "updated_at", json_string(m->updated_at));
    json_object_set_new(r, "version", json_integer(m->version));
    return r;
}

int ledger_move_payment(int64_t *sent, int64_t *received, int64_t amount, int sign)
{
    int64_t d, s, r;
    if (money_mul(amount, sign, &d) != 0 || money_add(*sent, d, &s) != 0 ||
        money_add(*received, d, &r) != 0)
        return -1;
    *sent = s;
    *received = r;
    return 0;
}

int ledger_change_of(enum event_type type, const json_t *data, struct ledger_change *ch)
{
    enum event_action action = event_action_of(type);
    memset(ch, 0, sizeof(*ch));
    if ((unsigned)type >= EVENT_TYPE_COUNT)
        return -1;
    if (action == EVENT_CREATED || action == EVENT_REPLACED) {
        ch->op = action == EVENT_CREATED ? LEDGER_OP_CREATE : LEDGER_OP_REPLACE;
        ch->content = data;
        return json_is_object(data) ? 0 : -1;
    }
    if (action == EVENT_DELETED) {
        ch->op = LEDGER_OP_DELETE;
        return 0;
    }
    if (!json_is_object(data))
        return -1;
    const json_t *reverts = json_object_get(data, "reverts");
    const json_t *restore = json_object_get(data, "restore");
    if (!json_is_string(reverts) || !ledger_is_uuid(json_string_value(reverts)) || !restore ||
        (!json_is_null(restore) && !json_is_object(restore)))
        return -1;
    ch->reverts = json_string_value(reverts);
    ch->op = json_is_null(restore) ? LEDGER_OP_DELETE : LEDGER_OP_RESTORE;
    ch->content = json_is_null(restore) ? NULL : restore;
    return 0;
}

int ledger_change_check(const struct ledger_change *ch, const char *kind, int exists, int deleted,
                        int64_t version, int64_t if_match, enum problem_code *code, char *detail,
                        size_t detail_size)
{
    if (ch->op == LEDGER_OP_CREATE) {
        if (!exists)
            return 0;
        *code = PROBLEM_VERSION_CONFLICT;
        snprintf(detail, detail_size, "a %s with this id already exists", kind);
        return -1;
    }
    /* A revert may bring back a deleted resource; anything else needs it live. */
    if (!exists || (deleted && ch->op != LEDGER_OP_RESTORE)) {
        *code = PROBLEM_NOT_FOUND;
        snprintf(detail, detail_size, "the %s does not exist or was deleted", kind);
        return -1;
    }
    if (ch->reverts && !if_match) {
        *code = PROBLEM_PRECONDITION_REQUIRED;
        snprintf(detail, detail_size, "a revert needs the %s's version", kind);
        return -1;
    }
    if (if_match && if_match != version) {
        *code = PROBLEM_VERSION_CONFLICT;
        snprintf(detail, detail_size, "the %s is at version %lld, not %lld", kind,
                 (long long)version, (long long)if_match);
        return -1;
    }
    return 0;
}

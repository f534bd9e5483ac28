#include "recur.h"

#include "sha256.h"

#include <stdio.h>
#include <string.h>

static const char *const unit_names[] = {"day", "week", "month", "year"};

int recur_unit_parse(const char *s, enum recur_unit *unit)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, unit_names[i]) == 0) {
            *unit = (enum recur_unit)i;
            return 0;
        }
    }
    return -1;
}

const char *recur_unit_name(enum recur_unit unit)
{
    return unit_names[unit];
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return days[m - 1] + (m == 2 && is_leap(y));
}

static void split_date(const char *s, int64_t *y, int *m, int *d)
{
    int yy = 0, mm = 0, dd = 0;
    sscanf(s, "%4d-%2d-%2d", &yy, &mm, &dd);
    *y = yy;
    *m = mm;
    *d = dd;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int format_date(int64_t y, int m, int d, char out[11])
{
    char buf[32];
    if (y < 0 || y > 9999)
        return -1;
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d", (int)y, m, d);
    memcpy(out, buf, 11);
    return 0;
}

/* Units of r from the anchor: days for days and weeks, months otherwise. */
static int64_t step_of(const struct recur_rule *r)
{
    switch (r->unit) {
    case RECUR_DAY:
        return r->every;
    case RECUR_WEEK:
        return (int64_t)r->every * 7;
    case RECUR_MONTH:
        return r->every;
    case RECUR_YEAR:
        return (int64_t)r->every * 12;
    }
    return r->every;
}

int recur_nth(const struct recur_rule *r, const char *anchor, int64_t k, char out[11])
{
    int64_t y, ny;
    int m, d, nm, nd;
    int64_t step = step_of(r);

    split_date(anchor, &y, &m, &d);
    /* Past 9999 long before any product overflows: 8000 years of months. */
    if (k < 0 || k > 4000000 / step)
        return -1;
    if (r->unit == RECUR_DAY || r->unit == RECUR_WEEK) {
        civil_from_days(days_from_civil(y, m, d) + k * step, &ny, &nm, &nd);
        return format_date(ny, nm, nd, out);
    }
    int64_t months = y * 12 + (m - 1) + k * step;
    ny = months / 12;
    nm = (int)(months % 12) + 1;
    nd = d < month_days(ny, nm) ? d : month_days(ny, nm);
    return format_date(ny, nm, nd, out);
}

int recur_next(const struct recur_rule *r, const char *anchor, const char *after, char out[11])
{
    int64_t ay, by, k;
    int am, ad, bm, bd;
    int64_t step = step_of(r);
    char d[11];

    split_date(anchor, &ay, &am, &ad);
    split_date(after, &by, &bm, &bd);
    if (r->unit == RECUR_DAY || r->unit == RECUR_WEEK)
        k = (days_from_civil(by, bm, bd) - days_from_civil(ay, am, ad)) / step;
    else
        k = ((by * 12 + bm) - (ay * 12 + am)) / step;
    if (k < 1)
        k = 1;
    /* k's occurrence is on or before after's day or month, give or take the
       fall-back to a month's end: a step or two more passes it. */
    for (;;) {
        if (recur_nth(r, anchor, k, d) != 0)
            return 0;
        if (strcmp(d, after) > 0)
            break;
        k++;
    }
    if (r->until[0] && strcmp(d, r->until) > 0)
        return 0;
    memcpy(out, d, 11);
    return 1;
}

void recur_occurrence_id(const char *what, const char *rule_id, const char *date,
                         char out[UUID_STR_SIZE])
{
    unsigned char md[SHA256_BYTES];
    char in[128];
    int n = snprintf(in, sizeof(in), "splitter:recurrence:%s:%s:%s", what, rule_id, date);

    sha256_digest(md, in, (size_t)n);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x80); /* version 8 */
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* variant 10 */
    snprintf(out, UUID_STR_SIZE,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1],
             md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13],
             md[14], md[15]);
}

/*
 * recur: the dates of a recurring expense, and the ids of its occurrences.
 *
 * A rule repeats an expense every `every` days, weeks, months or years from
 * its anchor (the template expense's date), up to an optional last day
 * `until`. Occurrence k (k >= 0; 0 is the template itself) falls on
 * anchor + k * every units. Months and years keep the anchor's day and fall
 * back to the month's last day when it has no such day: monthly from Jan 31
 * gives Feb 28 (Feb 29 in a leap year), Mar 31, Apr 30, ...; yearly from
 * Feb 29 gives Feb 28 in the years between leap years.
 *
 * All dates are "YYYY-MM-DD" in the proleptic Gregorian calendar, years 1900
 * to 9999 (what ledger_is_date accepts). The one implementation of these
 * rules: the worker's scheduler, the api's list of upcoming dates and the
 * tests all call it. Pure functions, thread-safe.
 */
#ifndef SPLITTER_RECUR_H
#define SPLITTER_RECUR_H

#include "uuid.h"

#include <stdint.h>

#define RECUR_EVERY_MAX 366

enum recur_unit { RECUR_DAY, RECUR_WEEK, RECUR_MONTH, RECUR_YEAR };

struct recur_rule {
    int every; /* 1 .. RECUR_EVERY_MAX */
    enum recur_unit unit;
    char until[11]; /* the last day an occurrence may fall on; "" when open-ended */
};

/* The unit named s ("day", "week", "month", "year"): 0, or -1. */
int recur_unit_parse(const char *s, enum recur_unit *unit);

/* "day", "week", "month" or "year". Static storage. */
const char *recur_unit_name(enum recur_unit unit);

/* Occurrence k (>= 0) of r from anchor (a valid date) into out, whatever
   until says. 0, or -1 when it would fall past 9999-12-31 (out untouched). */
int recur_nth(const struct recur_rule *r, const char *anchor, int64_t k, char out[11]);

/* The first occurrence after both anchor and after (valid dates), strictly,
   that does not pass r->until: 1 with it in out, or 0 when there is none
   (the rule ended, or the date would pass 9999). */
int recur_next(const struct recur_rule *r, const char *anchor, const char *after, char out[11]);

/* The id of what the occurrence of rule rule_id on date is made of, derived
   from those alone so that whoever creates it (two workers, a restart, a
   retry) names it the same: what is "event" (the event's id) or "expense"
   (the expense's). A UUID of version 8 (RFC 9562: custom) from the first 16
   bytes of SHA-256("splitter:recurrence:<what>:<rule_id>:<date>"),
   lowercase, into out. */
void recur_occurrence_id(const char *what, const char *rule_id, const char *date,
                         char out[UUID_STR_SIZE]);

#endif

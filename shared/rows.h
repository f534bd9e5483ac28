/*
 * The SQL of the ledger's rows that more than one program reads: one
 * definition each, spliced into statements (string literals). The tables are
 * postgres/migrations' expenses and payments; timestamps go through the
 * rfc3339() SQL function (postgres/migrations/010_rfc3339.sql).
 */
#ifndef SPLITTER_ROWS_H
#define SPLITTER_ROWS_H

/* The request fields of the expense in an expenses row aliased x (a string
   literal: "x"), as JSON text in the order the worker stores them: the
   content ledger_expense_resource (ledger.h) builds the resource from. As
   ledger_expense_to_json makes it, "recurrence" and "recurrence_of" are
   there only for a repeating expense and an occurrence. */
#define ROWS_EXPENSE_BASE_(x)                                                                      \
    "'description', " x ".description, 'amount', " x ".amount, 'currency', " x                     \
    ".currency, 'exchange_rate', " x ".exchange_rate, 'date', to_char(" x                          \
    ".date, 'YYYY-MM-DD'), 'category', " x ".category, 'paid_by', " x ".paid_by, 'split', " x      \
    ".split"
#define ROWS_EXPENSE_CONTENT(x)                                                                    \
    "(CASE WHEN " x ".recurrence IS NULL AND " x ".recurrence_of IS NULL THEN"                     \
    " json_build_object(" ROWS_EXPENSE_BASE_(x) ") ELSE json_build_object(" ROWS_EXPENSE_BASE_(    \
        x) ", 'recurrence', " x ".recurrence, 'recurrence_of', " x ".recurrence_of) END)::text"

/* The request fields of the payment in a payments row aliased y, as JSON
   text in ledger_payment_to_json's order: the content of
   ledger_payment_resource (ledger.h). */
#define ROWS_PAYMENT_CONTENT(y)                                                                    \
    "json_build_object('from_member', " y ".from_member, 'to_member', " y                          \
    ".to_member, 'amount', " y ".amount, 'date', to_char(" y ".date, 'YYYY-MM-DD'), 'note', " y    \
    ".note)::text"

/* Every column of an expenses row, in the order a full row is written. */
#define ROWS_EXPENSE_COLUMNS                                                                       \
    "id, group_id, description, amount, currency, exchange_rate, amount_in_group_currency, date,"  \
    " category, paid_by, split, shares, created_by, created_at, updated_at, version, deleted,"     \
    " seq, created_seq, recurrence, recurrence_of"

/* Every column of a payments row, in the order a full row is written. */
#define ROWS_PAYMENT_COLUMNS                                                                       \
    "id, group_id, from_member, to_member, amount, date, note, created_by, created_at,"            \
    " updated_at, version, deleted, seq"

#endif

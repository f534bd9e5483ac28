/*
 * csv: one cell of an RFC 4180 file, safe to open in a spreadsheet.
 *
 * A cell holding a comma, a quote, a CR or an LF is quoted, its quotes
 * doubled. A cell that starts with = + - @, a tab or a CR gets a leading
 * apostrophe (inside the quotes when quoted), so no spreadsheet evaluates it
 * as a formula (OWASP's CSV injection advice). Every other byte goes out as
 * it is: reading the cell back per RFC 4180 gives the input, after the
 * apostrophe when one was added. Thread-safe; nothing but out allocates.
 */
#ifndef SPLITTER_CSV_H
#define SPLITTER_CSV_H

#include "strbuf.h"

/* Append s (NUL-terminated, borrowed) to out as one cell, preceded by a comma
   unless first (the cell starts its line). Never fails (out grows, aborting
   on out of memory). */
void csv_cell(struct strbuf *out, const char *s, int first);

#endif

/*
 * settle: settle a group's balances from the command line.
 *
 *   settle < {"balances": {"<member>": <minor units>, ...}}
 *   -> {"transfers": [{"from": "<member>", "to": "<member>", "amount": <int>}, ...]}
 *
 * The same settle_compute the worker runs: the fewest transfers, sorted by
 * (from, to). Bad input (not JSON, a duplicate member, an amount that is not
 * an integer, balances not summing to 0, a total that overflows int64, any
 * field other than "balances") gets one line on stderr and exit status 2.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settle.h"
#include "xalloc.h"

#define EXIT_BAD_INPUT 2

/* Read the members of root into ids/balances (borrowed from root); 0 or -1 with a message. */
static int read_balances(json_t *root, const char ***ids, int64_t **balances, size_t *n)
{
    json_t *obj, *value;
    const char *key;
    size_t i = 0;

    if (!json_is_object(root)) {
        fprintf(stderr, "settle: input must be a JSON object\n");
        return -1;
    }
    json_object_foreach(root, key, value)
    {
        if (strcmp(key, "balances") != 0) {
            fprintf(stderr, "settle: unknown field '%s'\n", key);
            return -1;
        }
    }
    obj = json_object_get(root, "balances");
    if (!json_is_object(obj)) {
        fprintf(stderr, "settle: 'balances' must be an object of member to integer amount\n");
        return -1;
    }
    *n = json_object_size(obj);
    *ids = xmalloc((*n ? *n : 1) * sizeof(**ids));
    *balances = xmalloc((*n ? *n : 1) * sizeof(**balances));
    json_object_foreach(obj, key, value)
    {
        if (key[0] == '\0') {
            fprintf(stderr, "settle: a member name must not be empty\n");
            return -1;
        }
        if (!json_is_integer(value)) {
            fprintf(stderr, "settle: balance of '%s' must be an integer in minor units\n", key);
            return -1;
        }
        (*ids)[i] = key;
        (*balances)[i] = json_integer_value(value);
        i++;
    }
    return 0;
}

/* Say why settle_compute refused the balances: their sum, or an overflow. */
static void report_invalid(const int64_t *balances, size_t n)
{
    __extension__ __int128 sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += balances[i];
    if (sum > INT64_MAX || sum < INT64_MIN)
        fprintf(stderr, "settle: balances must sum to 0, and their sum overflows 64 bits\n");
    else if (sum != 0)
        fprintf(stderr, "settle: balances must sum to 0, not %lld\n", (long long)sum);
    else
        fprintf(stderr, "settle: the total owed overflows 64 bits\n");
}

/* The transfers as a new JSON value (caller decrefs). */
static json_t *transfers_json(const char *const *ids, const struct settle_transfer *t, size_t n)
{
    json_t *list = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "from", ids[t[i].from], "to",
                                              ids[t[i].to], "amount", (json_int_t)t[i].amount));
    return json_pack("{s:o}", "transfers", list);
}

int main(void)
{
    json_error_t jerr;
    json_t *root = NULL, *result = NULL;
    const char **ids = NULL;
    int64_t *balances = NULL;
    struct settle_transfer *t = NULL;
    size_t n = 0, n_t = 0;
    int status = EXIT_BAD_INPUT;

    root = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fprintf(stderr, "settle: invalid JSON at line %d column %d: %s\n", jerr.line, jerr.column,
                jerr.text);
        goto out;
    }
    if (read_balances(root, &ids, &balances, &n) < 0)
        goto out;
    if (settle_compute(ids, balances, n, &t, &n_t) < 0) {
        report_invalid(balances, n);
        goto out;
    }
    result = transfers_json(ids, t, n_t);
    if (json_dumpf(result, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0 ||
        fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
        fprintf(stderr, "settle: cannot write the result\n");
        status = EXIT_FAILURE;
        goto out;
    }
    status = EXIT_SUCCESS;
out:
    json_decref(result);
    free(t);
    free(balances);
    free(ids);
    json_decref(root);
    return status;
}

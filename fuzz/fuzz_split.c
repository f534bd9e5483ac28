/*
 * split (shared/split.c) on numbers drawn from the input. split_apportion:
 * the parts sum to the total and each lies within one unit above the floor of
 * its exact share. split_expense: on success owed and paid each sum to the
 * converted total, every part is >= 0, and equal splits differ by at most one
 * unit; a refusal names a field. items_apportion (shared/items.c): on success
 * the parts are >= 0 and sum to the total, and a member on no line gets 0.
 */
#include "fuzz.h"

#include "items.h"
#include "split.h"

#define MAX_N 24

static void check_apportion(struct fuzz_bytes *b)
{
    size_t n = (size_t)fuzz_u64(b, 1) % MAX_N + 1;
    int64_t total = (int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64));
    int64_t w[MAX_N], out[MAX_N];
    for (size_t i = 0; i < n; i++)
        w[i] = (int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64));
    if (split_apportion(total, w, n, out) != 0)
        return;
    __int128 sum = 0, wsum = 0;
    for (size_t i = 0; i < n; i++)
        wsum += w[i];
    for (size_t i = 0; i < n; i++) {
        __int128 floor_share = (__int128)total * w[i] / wsum;
        FUZZ_CHECK(out[i] >= floor_share && out[i] <= floor_share + 1);
        sum += out[i];
    }
    FUZZ_CHECK(sum == total);
}

static void check_expense(struct fuzz_bytes *b)
{
    struct decimal values[MAX_N], rate;
    int64_t paid[MAX_N], owed[MAX_N], paid_out[MAX_N], total;
    struct split_input in = {0};
    struct split_error err;

    in.amount = (int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64));
    in.amount_exp = (int)(fuzz_u64(b, 1) % 4);
    in.group_exp = (int)(fuzz_u64(b, 1) % 4);
    if (fuzz_u64(b, 1) & 1) {
        rate.units = (int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64));
        rate.scale = (int)(fuzz_u64(b, 1) % 16);
        in.rate = &rate;
    }
    in.mode = (enum split_mode)(fuzz_u64(b, 1) % 4);
    in.n_members = (size_t)fuzz_u64(b, 1) % MAX_N + 1;
    in.n_payers = (size_t)fuzz_u64(b, 1) % MAX_N + 1;
    for (size_t i = 0; i < in.n_members; i++) {
        values[i].units = (int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64));
        values[i].scale = (int)(fuzz_u64(b, 1) % 4);
    }
    in.values = in.mode == SPLIT_EQUAL ? NULL : values;
    in.paid = paid;
    int64_t left = in.amount;
    for (size_t j = 0; j < in.n_payers; j++) {
        /* Mostly payers that add up; sometimes not, to reach the refusal. */
        if (j + 1 == in.n_payers && (fuzz_u64(b, 1) & 7) != 0)
            paid[j] = left;
        else
            paid[j] = (int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64));
        if (paid[j] >= 0 && paid[j] <= left)
            left -= paid[j];
    }
    if (split_expense(&in, &total, owed, paid_out, &err) != 0) {
        FUZZ_CHECK(err.field != NULL);
        return;
    }
    __int128 so = 0, sp = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < in.n_members; i++) {
        FUZZ_CHECK(owed[i] >= 0);
        so += owed[i];
        lo = owed[i] < lo ? owed[i] : lo;
        hi = owed[i] > hi ? owed[i] : hi;
    }
    for (size_t j = 0; j < in.n_payers; j++) {
        FUZZ_CHECK(paid_out[j] >= 0);
        sp += paid_out[j];
    }
    FUZZ_CHECK(total >= 0 && so == total && sp == total);
    if (in.mode == SPLIT_EQUAL)
        FUZZ_CHECK(hi - lo <= 1);
}

#define MAX_LINES 8

static void check_items(struct fuzz_bytes *b)
{
    struct items_line lines[MAX_LINES];
    size_t member[MAX_LINES][MAX_N];
    int64_t weight[MAX_LINES][MAX_N], owed[MAX_N];
    int on_a_line[MAX_N] = {0};
    struct split_error err;
    size_t n_lines = (size_t)fuzz_u64(b, 1) % MAX_LINES + 1;
    size_t n_members = (size_t)fuzz_u64(b, 1) % MAX_N + 1;
    int64_t total = (int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64));

    for (size_t i = 0; i < n_lines; i++) {
        size_t n = (size_t)fuzz_u64(b, 1) % MAX_N + 1;
        for (size_t k = 0; k < n; k++) {
            member[i][k] = (size_t)fuzz_u64(b, 1) % n_members;
            weight[i][k] = (int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64));
            on_a_line[member[i][k]] = 1;
        }
        lines[i] = (struct items_line){(int64_t)(fuzz_u64(b, 8) >> (fuzz_u64(b, 1) % 64)),
                                       (int64_t)(fuzz_u64(b, 4) >> (fuzz_u64(b, 1) % 32)), n,
                                       member[i], weight[i]};
    }
    if (items_apportion(total, lines, n_lines, n_members, owed, &err) != 0) {
        FUZZ_CHECK(err.field != NULL);
        return;
    }
    __int128 sum = 0;
    for (size_t m = 0; m < n_members; m++) {
        FUZZ_CHECK(owed[m] >= 0);
        FUZZ_CHECK(on_a_line[m] || owed[m] == 0);
        sum += owed[m];
    }
    FUZZ_CHECK(sum == total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_bytes b = {data, size};
    switch (fuzz_u64(&b, 1) % 3) {
    case 0:
        check_apportion(&b);
        break;
    case 1:
        check_expense(&b);
        break;
    default:
        check_items(&b);
        break;
    }
    return 0;
}

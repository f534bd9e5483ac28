/*
 * settle (shared/settle.c) on balances drawn from the input, made to sum to
 * zero. On success the transfers bring every balance to exactly zero, each
 * goes from a debtor to a creditor with an amount > 0, there are never more
 * than settle_greedy's, and the same balances in reverse order give the same
 * number of transfers. Refusals only for sums that overflow.
 */
#include "fuzz.h"

#include "settle.h"

#define MAX_N 22

static char ids[MAX_N][8];

static int settle_ok(const int64_t *bal, size_t n, const struct settle_transfer *t, size_t nt)
{
    int64_t left[MAX_N];
    memcpy(left, bal, n * sizeof(*bal));
    for (size_t k = 0; k < nt; k++) {
        if (t[k].from >= n || t[k].to >= n || t[k].from == t[k].to || t[k].amount <= 0)
            return 0;
        if (bal[t[k].from] >= 0 || bal[t[k].to] <= 0)
            return 0;
        left[t[k].from] += t[k].amount;
        left[t[k].to] -= t[k].amount;
    }
    for (size_t i = 0; i < n; i++)
        if (left[i] != 0)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_bytes b = {data, size};
    int64_t bal[MAX_N], rev[MAX_N];
    const char *id[MAX_N], *rid[MAX_N];
    struct settle_transfer *t = NULL, *g = NULL, *r = NULL;
    size_t nt = 0, ng = 0, nr = 0;

    size_t n = (size_t)fuzz_u64(&b, 1) % MAX_N + 1;
    int shift = (int)(fuzz_u64(&b, 1) % 64);
    __int128 sum = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        bal[i] = (int64_t)fuzz_u64(&b, 8) >> shift;
        sum += bal[i];
    }
    if (sum < -(__int128)INT64_MAX || sum > (__int128)INT64_MAX)
        return 0;
    bal[n - 1] = (int64_t)-sum;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i][0])
            snprintf(ids[i], sizeof(ids[i]), "m%02zu", i);
        id[i] = ids[i];
        rid[n - 1 - i] = ids[i];
        rev[n - 1 - i] = bal[i];
    }
    int rc = settle_compute(id, bal, n, &t, &nt);
    int rg = settle_greedy(id, bal, n, &g, &ng);
    FUZZ_CHECK(rc == rg);
    if (rc == 0) {
        FUZZ_CHECK(settle_ok(bal, n, t, nt));
        FUZZ_CHECK(settle_ok(bal, n, g, ng));
        FUZZ_CHECK(nt <= ng);
        FUZZ_CHECK(settle_compute(rid, rev, n, &r, &nr) == 0);
        FUZZ_CHECK(nr == nt);
    }
    free(r);
    free(g);
    free(t);
    return 0;
}

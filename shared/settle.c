#include "settle.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/*
 * Internally every member is known by its rank in the canonical order
 * (balance ascending, then id), so that no decision depends on input order.
 * Ranks are mapped back to the caller's indexes at the very end.
 */

/* ------------------------------------------------------------------------ */
/* Canonical order                                                          */

struct member {
    int64_t balance;
    const char *id; /* borrowed from the caller; NULL: ties by index */
    size_t index;   /* into the caller's arrays */
};

static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    if (x->balance != y->balance)
        return x->balance < y->balance ? -1 : 1;
    if (x->id && y->id) {
        int c = strcmp(x->id, y->id);
        if (c)
            return c;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * 0 if the balances sum to zero and the total owed (the sum of the positive
 * balances) fits in int64, which bounds every subset sum used below.
 */
static int check_balances(const int64_t *balances, size_t n)
{
    int64_t owed = 0, owing = 0;

    for (size_t i = 0; i < n; i++) {
        if (balances[i] > 0 && __builtin_add_overflow(owed, balances[i], &owed))
            return -1;
        if (balances[i] < 0 &&
            (balances[i] == INT64_MIN || __builtin_add_overflow(owing, -balances[i], &owing)))
            return -1;
    }
    return owed == owing ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Transfer lists                                                           */

struct plan {
    struct settle_transfer *t; /* from/to are ranks until plan_finish */
    size_t n, cap;
};

static void plan_push(struct plan *p, size_t from, size_t to, int64_t amount)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->t = xreallocarray(p->t, p->cap, sizeof(*p->t));
    }
    p->t[p->n++] = (struct settle_transfer){from, to, amount};
}

static void plan_release(struct plan *p)
{
    free(p->t);
    p->t = NULL;
    p->n = p->cap = 0;
}

/* By (from id, to id); by index when there are no ids. arg: the ids or NULL. */
static int transfer_cmp(const void *a, const void *b, void *arg)
{
    const struct settle_transfer *x = a, *y = b;
    const char *const *sort_ids = arg;

    if (sort_ids) {
        int c = strcmp(sort_ids[x->from], sort_ids[y->from]);
        if (!c)
            c = strcmp(sort_ids[x->to], sort_ids[y->to]);
        if (c)
            return c;
    }
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    return x->to < y->to ? -1 : x->to > y->to;
}

/* Map ranks to caller indexes, sort by (from id, to id), hand the array over. */
static void plan_finish(struct plan *p, const struct member *mem, const char *const *ids,
                        struct settle_transfer **out, size_t *n_out)
{
    for (size_t i = 0; i < p->n; i++) {
        p->t[i].from = mem[p->t[i].from].index;
        p->t[i].to = mem[p->t[i].to].index;
    }
    if (p->n > 0)
        qsort_r(p->t, p->n, sizeof(*p->t), transfer_cmp, (void *)ids);
    else
        plan_release(p);
    *out = p->t;
    *n_out = p->n;
    p->t = NULL;
    p->n = p->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Greedy: largest debtor pays largest creditor                             */

struct heap_item {
    int64_t amount; /* > 0: owed to a creditor, or owed by a debtor */
    size_t rank;
};

struct heap {
    struct heap_item *a;
    size_t n;
};

/* Larger amounts first; equal amounts in canonical order. */
static int item_before(const struct heap_item *x, const struct heap_item *y)
{
    return x->amount > y->amount || (x->amount == y->amount && x->rank < y->rank);
}

static void heap_push(struct heap *h, struct heap_item it)
{
    size_t i = h->n++;
    while (i > 0 && item_before(&it, &h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = it;
}

static struct heap_item heap_pop(struct heap *h)
{
    struct heap_item top = h->a[0], last = h->a[--h->n];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && item_before(&h->a[c + 1], &h->a[c]))
            c++;
        if (!item_before(&h->a[c], &last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0)
        h->a[i] = last;
    return top;
}

/*
 * Settle the k members ranks[] (balances bal[rank], summing to 0) greedily.
 * Every transfer zeroes at least one member, so at most k - 1 transfers.
 */
static void greedy_settle(const size_t *ranks, size_t k, const int64_t *bal, struct plan *p)
{
    struct heap cred = {xmalloc((k ? k : 1) * sizeof(struct heap_item)), 0};
    struct heap debt = {xmalloc((k ? k : 1) * sizeof(struct heap_item)), 0};

    for (size_t i = 0; i < k; i++) {
        int64_t b = bal[ranks[i]];
        if (b > 0)
            heap_push(&cred, (struct heap_item){b, ranks[i]});
        else if (b < 0)
            heap_push(&debt, (struct heap_item){-b, ranks[i]});
    }
    while (cred.n > 0 && debt.n > 0) {
        struct heap_item c = heap_pop(&cred), d = heap_pop(&debt);
        int64_t x = c.amount < d.amount ? c.amount : d.amount;

        plan_push(p, d.rank, c.rank, x);
        if (c.amount > x)
            heap_push(&cred, (struct heap_item){c.amount - x, c.rank});
        if (d.amount > x)
            heap_push(&debt, (struct heap_item){d.amount - x, d.rank});
    }
    free(cred.a);
    free(debt.a);
}

/* ------------------------------------------------------------------------ */
/* Exact: the most disjoint zero-sum groups among m <= SETTLE_SPARSE_MAX     */

/*
 * The chain view: a set splits into k disjoint zero-sum groups exactly when
 * there is a chain of zero-sum subsets {} < Z1 < Z2 < ... < Zk = set (the
 * differences are the groups). So the "level" of a zero-sum subset, the
 * longest such chain ending at it, is the most groups it splits into.
 *
 * The zero-sum subsets come from a meet in the middle on the subset sums of
 * the two halves. When they are few (the usual case with real money) levels
 * are computed pairwise on the list; when they are many, level by level as
 * bitsets over all 2^m subsets, with a byte per zero-sum subset recording
 * the highest level it reaches.
 */

struct sum_index {
    int64_t sum;
    uint32_t subset;
};

static int sum_index_cmp(const void *a, const void *b)
{
    const struct sum_index *x = a, *y = b;
    if (x->sum != y->sum)
        return x->sum < y->sum ? -1 : 1;
    return x->subset < y->subset ? -1 : x->subset > y->subset;
}

/* The sums of all 2^k subsets of v[0..k); they fit (see check_balances). */
static int64_t *subset_sums(const int64_t *v, int k)
{
    size_t n = (size_t)1 << k;
    int64_t *s = xmalloc(n * sizeof(*s));

    s[0] = 0;
    for (size_t x = 1; x < n; x++)
        s[x] = s[x & (x - 1)] + v[__builtin_ctzll(x)];
    return s;
}

/*
 * The non-empty zero-sum subsets of v[0..m), by meet in the middle: listed
 * in a fixed order (high half ascending, then low half by (sum, subset)).
 */
struct zero_sets {
    int h;                /* members in the low half */
    size_t n_lo, n_hi;    /* 2^h, 2^(m-h) */
    struct sum_index *lo; /* low-half subsets by (sum, subset) */
    int64_t *hi_sum;      /* high-half subset sums */
};

static void zero_sets_init(struct zero_sets *z, const int64_t *v, int m)
{
    int64_t *lo_sum;

    z->h = m / 2;
    z->n_lo = (size_t)1 << z->h;
    z->n_hi = (size_t)1 << (m - z->h);
    lo_sum = subset_sums(v, z->h);
    z->hi_sum = subset_sums(v + z->h, m - z->h);
    z->lo = xmalloc(z->n_lo * sizeof(*z->lo));
    for (size_t x = 0; x < z->n_lo; x++)
        z->lo[x] = (struct sum_index){lo_sum[x], (uint32_t)x};
    qsort(z->lo, z->n_lo, sizeof(*z->lo), sum_index_cmp);
    free(lo_sum);
}

static void zero_sets_release(struct zero_sets *z)
{
    free(z->lo);
    free(z->hi_sum);
}

/*
 * Call visit(subset, arg) on each non-empty zero-sum subset, or only count
 * them when visit is NULL; returns the count. Counting stops early once it
 * passes limit.
 */
static size_t zero_sets_each(const struct zero_sets *z, void (*visit)(uint32_t, void *), void *arg,
                             size_t limit)
{
    size_t count = 0;

    for (size_t y = 0; y < z->n_hi && count <= limit; y++) {
        int64_t want = -z->hi_sum[y];
        size_t a = 0, b = z->n_lo;
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            if (z->lo[mid].sum < want)
                a = mid + 1;
            else
                b = mid;
        }
        for (; a < z->n_lo && z->lo[a].sum == want; a++) {
            uint32_t s = (uint32_t)(y << z->h) | z->lo[a].subset;
            if (s == 0)
                continue;
            count++;
            if (visit)
                visit(s, arg);
        }
    }
    return count;
}

/* --- few zero-sum subsets: levels pairwise --- */

struct zero_list {
    uint32_t *set;
    size_t n;
};

static void zero_list_add(uint32_t s, void *arg)
{
    struct zero_list *l = arg;
    l->set[l->n++] = s;
}

static int popcount_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int px = __builtin_popcount(x), py = __builtin_popcount(y);
    if (px != py)
        return px - py;
    return x < y ? -1 : x > y;
}

static size_t pack_sparse(const struct zero_sets *z, size_t n_z, uint32_t *groups)
{
    struct zero_list l = {xmalloc(n_z * sizeof(uint32_t)), 0};
    unsigned char *level = xmalloc(n_z);
    size_t *pred = xmalloc(n_z * sizeof(size_t));
    size_t best = 0, n_groups = 0;

    zero_sets_each(z, zero_list_add, &l, SIZE_MAX);
    /* Smaller subsets first, so every strict subset comes before its supersets. */
    qsort(l.set, n_z, sizeof(uint32_t), popcount_cmp);
    for (size_t i = 0; i < n_z; i++) {
        level[i] = 1;
        pred[i] = SIZE_MAX;
        for (size_t j = 0; j < i; j++)
            if ((l.set[j] & ~l.set[i]) == 0 && l.set[j] != l.set[i] && level[j] >= level[i]) {
                level[i] = level[j] + 1;
                pred[i] = j;
            }
        if (level[i] > level[best])
            best = i;
    }
    for (size_t i = best; i != SIZE_MAX; i = pred[i])
        groups[n_groups++] = pred[i] == SIZE_MAX ? l.set[i] : l.set[i] & ~l.set[pred[i]];
    free(pred);
    free(level);
    free(l.set);
    return n_groups;
}

/* --- many zero-sum subsets: each level a bitset over all 2^m subsets --- */

/* Masks of the bit positions (subsets within one word) whose bit i is clear. */
#define LOW0 0x5555555555555555ULL
#define LOW1 0x3333333333333333ULL
#define LOW2 0x0F0F0F0F0F0F0F0FULL
#define LOW3 0x00FF00FF00FF00FFULL
#define LOW4 0x0000FFFF0000FFFFULL
#define LOW5 0x00000000FFFFFFFFULL

/* Within a word: each subset with one of members 0..5 added / closed upwards. */
static inline uint64_t word_add_one(uint64_t x)
{
    return (x & LOW0) << 1 | (x & LOW1) << 2 | (x & LOW2) << 4 | (x & LOW3) << 8 |
           (x & LOW4) << 16 | (x & LOW5) << 32;
}

static inline uint64_t word_up(uint64_t x)
{
    x |= (x & LOW0) << 1;
    x |= (x & LOW1) << 2;
    x |= (x & LOW2) << 4;
    x |= (x & LOW3) << 8;
    x |= (x & LOW4) << 16;
    return x | (x & LOW5) << 32;
}

/*
 * t = every strict superset of a member of a, for m >= 9 (words >= 8).
 * Member by member: a set with member j is a strict superset if it already
 * was one, or if without j it is in a or was one (the supersets of a seen
 * so far are a | t). Members 0-5 are bits within a word, 6-8 words within a
 * block of eight, the rest whole blocks.
 */
static void strict_up_steps(const uint64_t *restrict a, uint64_t *restrict t, size_t from,
                            size_t to, size_t step_min, size_t step_max)
{
    /* Eight words at a time, loads before stores, so the compiler vectorises. */
    for (size_t step = step_min; step < step_max; step <<= 1)
        for (size_t base = from; base < to; base += 2 * step)
            for (size_t i = base; i < base + step; i += 8) {
                uint64_t x[8];
                for (int k = 0; k < 8; k++)
                    x[k] = t[i + step + k] | t[i + k] | a[i + k];
                for (int k = 0; k < 8; k++)
                    t[i + step + k] = x[k];
            }
}

/* Words per cache-sized chunk: members up to log2 of it are done chunk by chunk. */
#define STRICT_UP_CHUNK 2048

static void strict_up(const uint64_t *restrict a, uint64_t *restrict t, size_t words)
{
    size_t chunk = words < STRICT_UP_CHUNK ? words : STRICT_UP_CHUNK;

    for (size_t c = 0; c < words; c += chunk) {
        for (size_t b = c; b < c + chunk; b += 8) {
            uint64_t aa[8], tt[8];
            for (int i = 0; i < 8; i++) {
                aa[i] = a[b + i];
                tt[i] = word_up(word_add_one(aa[i]));
            }
            for (int s = 1; s < 8; s <<= 1)
                for (int i = 0; i < 8; i++)
                    if (i & s)
                        tt[i] |= tt[i ^ s] | aa[i ^ s];
            for (int i = 0; i < 8; i++)
                t[b + i] = tt[i];
        }
        strict_up_steps(a, t, c, c + chunk, 8, chunk);
    }
    strict_up_steps(a, t, 0, words, chunk, words);
}

static void zero_bit_set(uint32_t s, void *arg)
{
    uint64_t *bits = arg;
    bits[s / 64] |= 1ULL << (s % 64);
}

/*
 * Levels kept as one byte per zero-sum subset, found by its rank among the
 * set bits of the zero bitset: rank[w] counts the bits before word w.
 */
static size_t zero_rank(const uint64_t *zero, const uint32_t *rank, uint32_t s)
{
    uint64_t below = zero[s / 64] & ((1ULL << (s % 64)) - 1);
    return rank[s / 64] + (size_t)__builtin_popcountll(below);
}

static size_t pack_dense(const struct zero_sets *z, size_t n_z, int m, uint32_t *groups)
{
    size_t words = ((size_t)1 << m) / 64; /* m >= 9 */
    uint64_t *zero = xcalloc(words, sizeof(uint64_t));
    uint64_t *cur = xmalloc(words * sizeof(uint64_t));
    uint64_t *t = xmalloc(words * sizeof(uint64_t));
    uint32_t *rank = xmalloc(words * sizeof(uint32_t));
    unsigned char *level = xmalloc(n_z);
    unsigned char top = 1;
    size_t n_groups = 0;

    zero_sets_each(z, zero_bit_set, zero, SIZE_MAX);
    for (size_t w = 0, r = 0; w < words; w++) {
        rank[w] = (uint32_t)r;
        r += (size_t)__builtin_popcountll(zero[w]);
    }
    memset(level, 1, n_z);
    for (const uint64_t *prev = zero;; prev = cur) {
        uint64_t any = 0;
        strict_up(prev, t, words);
        for (size_t w = 0; w < words; w++) {
            cur[w] = t[w] & zero[w];
            any |= cur[w];
        }
        if (!any)
            break;
        top++;
        for (size_t w = 0; w < words; w++)
            if (cur[w]) {
                size_t r = rank[w];
                for (uint64_t bits = zero[w]; bits; bits &= bits - 1, r++)
                    if (cur[w] & bits & -bits)
                        level[r] = top;
            }
    }

    /* The first subset (in bit order) at the top level, then down the chain. */
    uint32_t s = 0;
    for (size_t w = 0, r = 0; w < words && !s; w++)
        for (uint64_t bits = zero[w]; bits; bits &= bits - 1, r++)
            if (level[r] == top) {
                s = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
                break;
            }
    for (unsigned k = top; k > 1; k--) {
        /* The largest zero-sum strict subset of s one level down. */
        uint32_t below = 0;
        for (uint32_t sub = (s - 1) & s; sub; sub = (sub - 1) & s)
            if ((zero[sub / 64] >> (sub % 64) & 1) && level[zero_rank(zero, rank, sub)] == k - 1) {
                below = sub;
                break;
            }
        groups[n_groups++] = s & ~below;
        s = below;
    }
    groups[n_groups++] = s;

    free(level);
    free(rank);
    free(t);
    free(cur);
    free(zero);
    return n_groups;
}

/* Beyond SETTLE_EXACT_MAX members, exact only with at most this many zero-sum subsets. */
#define SPARSE_ZERO_MAX 4096

/*
 * The largest number of disjoint non-empty zero-sum subsets of v[0..m)
 * (1 <= m < SETTLE_SPARSE_MAX), written as bitmasks to groups (room for
 * m / 2 + 1); the members left out contain no zero-sum subset. Returns the
 * number of groups, or SIZE_MAX if m >= SETTLE_EXACT_MAX and the zero-sum
 * subsets are too many for the pairwise method.
 */
static size_t exact_pack(const int64_t *v, int m, uint32_t *groups)
{
    struct zero_sets z;
    size_t n_groups = 0;

    zero_sets_init(&z, v, m);
    size_t n_z = zero_sets_each(&z, NULL, NULL, m < SETTLE_EXACT_MAX ? SIZE_MAX : SPARSE_ZERO_MAX);
    /*
     * Pairwise costs n_z^2 / 2 steps, the bitsets about 2^m / 8 per level;
     * below 9 members (255 subsets) pairwise always wins.
     */
    if (n_z > 0 && (m < 9 || (double)n_z * (double)n_z <= (double)((size_t)1 << m)) &&
        n_z <= SPARSE_ZERO_MAX)
        n_groups = pack_sparse(&z, n_z, groups);
    else if (n_z > 0 && m < SETTLE_EXACT_MAX)
        n_groups = pack_dense(&z, n_z, m, groups);
    else if (n_z > 0)
        n_groups = SIZE_MAX;
    zero_sets_release(&z);
    return n_groups;
}

/*
 * The partition of v[0..m) (summing to zero, 2 <= m <= SETTLE_SPARSE_MAX)
 * into the most zero-sum groups. The group holding the last member is what
 * the others leave, so it is the most disjoint zero-sum subsets of the first
 * m - 1 members, plus the rest: half the subsets to look at. Returns the
 * number of groups, or SIZE_MAX as exact_pack (never for m <= SETTLE_EXACT_MAX).
 */
static size_t exact_partition(const int64_t *v, int m, uint32_t *groups)
{
    uint32_t all = m == 32 ? UINT32_MAX : ((uint32_t)1 << m) - 1, used = 0;
    size_t n = exact_pack(v, m - 1, groups);

    if (n == SIZE_MAX)
        return n;
    for (size_t i = 0; i < n; i++)
        used |= groups[i];
    groups[n++] = all & ~used;
    return n;
}

/* ------------------------------------------------------------------------ */
/* The solver                                                               */

/*
 * Zero-sum groups found so far, as lists of ranks: group g is
 * rank[start[g] .. start[g + 1]).
 */
struct groups {
    size_t *rank;
    size_t n_rank, cap_rank;
    size_t *start;
    size_t n, cap;
};

static void groups_add_member(struct groups *g, size_t rank)
{
    if (g->n_rank == g->cap_rank) {
        g->cap_rank = g->cap_rank ? 2 * g->cap_rank : 64;
        g->rank = xreallocarray(g->rank, g->cap_rank, sizeof(*g->rank));
    }
    g->rank[g->n_rank++] = rank;
}

/* Close the group being built (its members added since the last close). */
static void groups_close(struct groups *g)
{
    if (g->n + 1 >= g->cap) {
        g->cap = g->cap ? 2 * g->cap : 16;
        g->start = xreallocarray(g->start, g->cap, sizeof(*g->start));
    }
    if (g->n == 0)
        g->start[0] = 0;
    g->start[++g->n] = g->n_rank;
}

static void groups_release(struct groups *g)
{
    free(g->rank);
    free(g->start);
}

/*
 * The members live[0..k) (ranks, ascending; 2 <= k <= SETTLE_SPARSE_MAX):
 * when cover, they sum to zero and are split into the most zero-sum groups;
 * otherwise (a window, k < SETTLE_EXACT_MAX) the most disjoint zero-sum
 * groups among them are taken out. Members put in a group are marked in
 * used[]. 0, or -1 (nothing done) if k > SETTLE_EXACT_MAX and they have too
 * many zero-sum subsets to solve quickly.
 */
static int pack_exact(const size_t *live, size_t k, int cover, const int64_t *bal,
                      unsigned char *used, struct groups *g)
{
    int64_t v[SETTLE_SPARSE_MAX];
    uint32_t masks[SETTLE_SPARSE_MAX / 2 + 1];

    for (size_t i = 0; i < k; i++)
        v[i] = bal[live[i]];
    size_t n = cover ? exact_partition(v, (int)k, masks) : exact_pack(v, (int)k, masks);
    if (n == SIZE_MAX)
        return -1;
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < k; i++)
            if (masks[j] >> i & 1) {
                groups_add_member(g, live[i]);
                used[live[i]] = 1;
            }
        groups_close(g);
    }
    return 0;
}

/* Split live[0..k) (summing to zero) exactly if it is small enough: 0, else -1. */
static int try_exact(const size_t *live, size_t k, const int64_t *bal, unsigned char *used,
                     struct groups *g)
{
    if (k == 0)
        return 0;
    if (k > SETTLE_SPARSE_MAX)
        return -1;
    return pack_exact(live, k, 1, bal, used, g);
}

/* |b|; callers have checked b != INT64_MIN. */
static int64_t magnitude(int64_t b)
{
    return b < 0 ? -b : b;
}

/* Keep only the members not yet used; returns the new count. */
static size_t compact(size_t *r, size_t k, const unsigned char *used)
{
    size_t j = 0;
    for (size_t i = 0; i < k; i++)
        if (!used[r[i]])
            r[j++] = r[i];
    return j;
}

/*
 * Zero-sum triples: for each member x of `single` (ranks, by magnitude
 * ascending), two unused members of `pair` (by magnitude ascending) whose
 * magnitudes add up to |x|, found by a two-pointer scan. Each scan step costs
 * one unit of *budget.
 */
static void find_triples(const size_t *single, size_t n_single, size_t *pair, size_t n_pair,
                         const int64_t *bal, unsigned char *used, struct groups *g, int64_t *budget)
{
    for (size_t s = 0; s < n_single; s++) {
        size_t x = single[s];
        if (*budget <= 0)
            return;
        if (used[x])
            continue;
        int64_t want = magnitude(bal[x]);
        /* Only members smaller than |x| can take part: b = how many those are. */
        size_t a = 0, b = n_pair;
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            if (magnitude(bal[pair[mid]]) < want)
                a = mid + 1;
            else
                b = mid;
        }
        (*budget)--;
        if (a < 2)
            continue;
        b = a - 1;
        a = 0;
        while (a < b) {
            if (--*budget < 0)
                return;
            if (used[pair[a]]) {
                a++;
                continue;
            }
            if (used[pair[b]]) {
                b--;
                continue;
            }
            /* Same side: bounded by the total owed, which fits. */
            int64_t sum = magnitude(bal[pair[a]]) + magnitude(bal[pair[b]]);
            if (sum < want) {
                a++;
            } else if (sum > want) {
                b--;
            } else {
                groups_add_member(g, x);
                groups_add_member(g, pair[a]);
                groups_add_member(g, pair[b]);
                groups_close(g);
                used[x] = used[pair[a]] = used[pair[b]] = 1;
                break;
            }
        }
    }
}

/* Members per window in the windowed search, and its cost in budget steps. */
#define WINDOW 16
#define WINDOW_COST (1LL << WINDOW)

/*
 * Windows of WINDOW members, half creditors and half debtors taken in
 * magnitude order (aligned, or creditors against debtors reversed), each
 * solved exactly for its disjoint zero-sum groups.
 */
static void find_windows(size_t *pos, size_t n_pos, size_t *neg, size_t n_neg, const int64_t *bal,
                         unsigned char *used, struct groups *g, int64_t *budget)
{
    size_t half = WINDOW / 2;

    for (int pass = 0; pass < 3 && *budget > 0; pass++) {
        size_t offset = pass == 2 ? half / 2 : 0;
        for (size_t w = 0; *budget > 0; w++) {
            size_t live[WINDOW], k = 0;
            size_t p0 = w * half + offset, q0 = w * half;
            if (p0 >= n_pos && q0 >= n_neg)
                break;
            for (size_t i = p0; i < p0 + half && i < n_pos; i++)
                if (!used[pos[i]])
                    live[k++] = pos[i];
            for (size_t i = q0; i < q0 + half && i < n_neg; i++) {
                size_t j = pass == 1 ? n_neg - 1 - i : i;
                if (!used[neg[j]])
                    live[k++] = neg[j];
            }
            if (k < 3)
                continue;
            *budget -= WINDOW_COST >> (WINDOW - k);
            pack_exact(live, k, 0, bal, used, g);
        }
        n_pos = compact(pos, n_pos, used);
        n_neg = compact(neg, n_neg, used);
    }
}

/*
 * Find zero-sum groups among the canonical balances bal[0..m) (all non-zero,
 * summing to 0) so that the groups cover every member; members in no group
 * found by the search end up in one last group settled greedily. Returns 1
 * if the groups are provably the most there can be, 0 if the search was
 * heuristic.
 */
static int find_groups(const int64_t *bal, size_t m, struct groups *g)
{
    unsigned char *used = xcalloc(m ? m : 1, 1);
    size_t *live = xmalloc((m ? m : 1) * sizeof(size_t));
    size_t *pos = xmalloc((m ? m : 1) * sizeof(size_t));
    size_t *neg = xmalloc((m ? m : 1) * sizeof(size_t));
    size_t k = 0, n_pos = 0, n_neg = 0;
    int64_t budget = SETTLE_SEARCH_BUDGET;
    int exact;

    /*
     * Opposite pairs first. Canonical order puts debtors first, largest debt
     * first, and creditors after, smallest first: walk the debtors forwards
     * and the creditors backwards, and within a run of equal magnitude pair
     * them in id order.
     */
    size_t first_pos = 0;
    while (first_pos < m && bal[first_pos] < 0)
        first_pos++;
    size_t i = 0, j = m; /* debtors [i, first_pos), creditors [first_pos, j) */
    while (i < first_pos && j > first_pos) {
        int64_t d = -bal[i], c = bal[j - 1];
        if (d > c) {
            while (i < first_pos && -bal[i] == d)
                i++;
        } else if (d < c) {
            while (j > first_pos && bal[j - 1] == c)
                j--;
        } else {
            size_t i_end = i, j_start = j;
            while (i_end < first_pos && -bal[i_end] == d)
                i_end++;
            while (j_start > first_pos && bal[j_start - 1] == c)
                j_start--;
            for (size_t t = 0; i + t < i_end && j_start + t < j; t++) {
                groups_add_member(g, i + t);
                groups_add_member(g, j_start + t);
                groups_close(g);
                used[i + t] = used[j_start + t] = 1;
            }
            i = i_end;
            j = j_start;
        }
    }
    for (size_t r = 0; r < m; r++)
        if (!used[r])
            live[k++] = r;

    exact = try_exact(live, k, bal, used, g) == 0;
    if (!exact) {
        /* Magnitude ascending: creditors in rank order, debtors reversed. */
        for (size_t r = 0; r < k; r++)
            if (bal[live[r]] > 0)
                pos[n_pos++] = live[r];
        for (size_t r = k; r-- > 0;)
            if (bal[live[r]] < 0)
                neg[n_neg++] = live[r];
        find_triples(neg, n_neg, pos, n_pos, bal, used, g, &budget);
        n_pos = compact(pos, n_pos, used);
        n_neg = compact(neg, n_neg, used);
        find_triples(pos, n_pos, neg, n_neg, bal, used, g, &budget);
        n_pos = compact(pos, n_pos, used);
        n_neg = compact(neg, n_neg, used);
        if (n_pos + n_neg > SETTLE_EXACT_MAX)
            find_windows(pos, n_pos, neg, n_neg, bal, used, g, &budget);
        k = compact(live, k, used);
        if (try_exact(live, k, bal, used, g) < 0) {
            for (size_t r = 0; r < k; r++)
                groups_add_member(g, live[r]);
            groups_close(g);
        }
    }
    free(neg);
    free(pos);
    free(live);
    free(used);
    return exact;
}

/*
 * Put the non-zero balances in canonical order: *mem gets them (xmalloc'd,
 * caller frees) and *bal their balances in that order. Returns the count.
 */
static size_t canonical(const char *const *ids, const int64_t *balances, size_t n,
                        struct member **mem, int64_t **bal)
{
    size_t m = 0;

    *mem = xmalloc((n ? n : 1) * sizeof(**mem));
    for (size_t i = 0; i < n; i++)
        if (balances[i] != 0)
            (*mem)[m++] = (struct member){balances[i], ids ? ids[i] : NULL, i};
    qsort(*mem, m, sizeof(**mem), member_cmp);
    *bal = xmalloc((m ? m : 1) * sizeof(**bal));
    for (size_t r = 0; r < m; r++)
        (*bal)[r] = (*mem)[r].balance;
    return m;
}

int settle_greedy(const char *const *ids, const int64_t *balances, size_t n,
                  struct settle_transfer **out, size_t *n_out)
{
    struct member *mem = NULL;
    int64_t *bal = NULL;
    size_t *all = NULL;
    struct plan p = {0};

    if (check_balances(balances, n) < 0)
        return -1;
    size_t m = canonical(ids, balances, n, &mem, &bal);
    all = xmalloc((m ? m : 1) * sizeof(*all));
    for (size_t r = 0; r < m; r++)
        all[r] = r;
    greedy_settle(all, m, bal, &p);
    plan_finish(&p, mem, ids, out, n_out);
    free(all);
    free(bal);
    free(mem);
    return 0;
}

int settle_compute(const char *const *ids, const int64_t *balances, size_t n,
                   struct settle_transfer **out, size_t *n_out)
{
    struct member *mem = NULL;
    int64_t *bal = NULL;
    struct groups g = {0};
    struct plan p = {0};

    if (check_balances(balances, n) < 0)
        return -1;
    size_t m = canonical(ids, balances, n, &mem, &bal);
    int exact = find_groups(bal, m, &g);
    for (size_t i = 0; i < g.n; i++)
        greedy_settle(g.rank + g.start[i], g.start[i + 1] - g.start[i], bal, &p);

    /* Beyond the exact range, never worse than the greedy baseline. */
    if (!exact) {
        struct plan greedy = {0};
        size_t *all = xmalloc(m * sizeof(*all));
        for (size_t r = 0; r < m; r++)
            all[r] = r;
        greedy_settle(all, m, bal, &greedy);
        free(all);
        if (greedy.n < p.n) {
            plan_release(&p);
            p = greedy;
        } else {
            plan_release(&greedy);
        }
    }
    plan_finish(&p, mem, ids, out, n_out);
    groups_release(&g);
    free(bal);
    free(mem);
    return 0;
}

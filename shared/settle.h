/*
 * settle: the fewest transfers that bring a group's balances to zero.
 *
 * Balances follow the REST contract (docs/openapi.yaml): positive means the group owes the member,
 * negative that the member owes the group; they sum to exactly 0. A transfer goes from a member
 * with a negative balance to one with a positive balance; there is never a zero, negative or self
 * transfer, and amounts are exact.
 *
 * The minimum number of transfers is n_nonzero - P, where P is the largest
 * number of disjoint zero-sum groups the non-zero members split into.
 * Finding P is NP-hard, so settle_compute:
 *   1. takes out exact opposite pairs (always part of some optimum);
 *   2. if at most SETTLE_EXACT_MAX members remain (or SETTLE_SPARSE_MAX
 *      with few zero-sum subsets), finds P exactly: the zero-sum subsets by
 *      meet in the middle, then the longest chain of them, pairwise or as
 *      bitsets over all subsets;
 *   3. otherwise searches for small zero-sum groups (triples, then windows
 *      solved exactly) within SETTLE_SEARCH_BUDGET steps, solves the rest
 *      exactly if it became small enough, else settles it greedily; and it
 *      never returns more transfers than settle_greedy.
 * Each zero-sum group of g members is settled with g - 1 transfers.
 *
 * Determinism: members are put in a canonical order, by (balance, id), before
 * anything else, and every choice is made in that order; the search budget
 * counts steps, not wall-clock time. The same balances therefore give the
 * same transfers whatever the input order and whatever the machine.
 *
 * Thread-safe: no global state. Memory: with many zero-sum subsets the exact
 * step uses three bitsets of 2^(m-1) bits (1 MiB each at m = 24) and a byte
 * per zero-sum subset; otherwise a few KiB.
 */
#ifndef SPLITTER_SETTLE_H
#define SPLITTER_SETTLE_H

#include <stddef.h>
#include <stdint.h>

/* Largest number of members (after opposite pairs are taken out) always solved exactly. */
#define SETTLE_EXACT_MAX 24
/*
 * Up to this many members are solved exactly too when they have few zero-sum
 * subsets (at most 4096, the usual case with real amounts).
 */
#define SETTLE_SPARSE_MAX 32

/*
 * Work allowed to the heuristic search beyond the exact range, in search
 * steps: one step is one probe of the triple scan, and a window of k members
 * solved exactly costs 2^k steps. Counted, not timed, so that results are
 * reproducible on any machine; the whole budget takes about 0.2 s on a 2-core
 * VM. Whatever the search has not grouped by then is settled greedily.
 */
#define SETTLE_SEARCH_BUDGET 50000000LL

/* One payment: from pays to amount (> 0). from and to index the input arrays. */
struct settle_transfer {
    size_t from;
    size_t to;
    int64_t amount;
};

/*
 * Transfers that bring every balance to zero with the fewest transfers:
 * exactly the fewest when at most SETTLE_EXACT_MAX non-zero balances remain
 * once exact opposite pairs are taken out; otherwise never more than
 * settle_greedy. ids (n unique NUL-terminated strings, borrowed) fix the
 * canonical order, so the result does not depend on input order; ids may be
 * NULL, and then the input index breaks ties instead. Zero balances are
 * ignored. The transfers are sorted by (from id, to id).
 *
 * On success *out is a new xmalloc'd array of *n_out transfers that the
 * caller frees (NULL when *n_out == 0), and 0 is returned. -1 on invalid
 * input: balances not summing to 0, or the sum of the positive balances (the
 * total owed) overflowing int64 (then *out and *n_out are untouched).
 */
int settle_compute(const char *const *ids, const int64_t *balances, size_t n,
                   struct settle_transfer **out, size_t *n_out);

/*
 * The greedy baseline: repeatedly the largest debtor pays the largest
 * creditor the smaller of the two amounts (ties in canonical order). Same
 * contract, ordering and ownership as settle_compute; for benchmarks and
 * tests, and the fallback that bounds settle_compute beyond the exact range.
 */
int settle_greedy(const char *const *ids, const int64_t *balances, size_t n,
                  struct settle_transfer **out, size_t *n_out);

#endif

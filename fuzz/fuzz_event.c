/*
 * The event decoder: each line decoded by event_decode (shared/event.c), as
 * the worker decodes a stream entry, and, when it decodes, applied through
 * projection_apply (shared/projection.c), the ledger's rules the worker and
 * replay share. The input is a series of events separated by newlines,
 * applied in order to one group of four members. A decoded event encodes
 * (event_encode) to text that decodes to the same fields; whatever is
 * accepted or refused, the balances stay in sum zero, a refused event leaves
 * the projection unchanged, and a refusal says why.
 */
#include "fuzz.h"

#include "projection.h"

static const char *const members[] = {
    "00000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000002",
    "00000000-0000-4000-8000-000000000003",
    "00000000-0000-4000-8000-000000000004",
};

static __int128 balance_sum(const struct projection *p)
{
    __int128 s = 0;
    for (size_t i = 0; i < p->n_members; i++)
        s += (__int128)p->members[i].paid - p->members[i].owed + p->members[i].sent -
             p->members[i].received;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct projection p;
    const char *s = (const char *)data, *end = s + size;

    projection_init(&p, "00000000-0000-4000-8000-0000000000aa", "EUR");
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
        projection_add_member(&p, members[i]);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        struct event ev;
        char err[256] = "";
        if (event_decode(s, (size_t)(e - s), &ev, err, sizeof(err)) != 0) {
            FUZZ_CHECK(err[0] != '\0' && ev.root == NULL);
        } else {
            /* The codec round-trips what it accepts. */
            char *text = event_encode(&ev);
            struct event back;
            FUZZ_CHECK(event_decode(text, strlen(text), &back, err, sizeof(err)) == 0);
            FUZZ_CHECK(back.type == ev.type && strcmp(back.id, ev.id) == 0 &&
                       strcmp(back.target, ev.target) == 0 && back.if_match == ev.if_match &&
                       back.idem_len == ev.idem_len);
            event_release(&back);
            free(text);

            struct projection_refusal why;
            size_t n_exp = p.n_expenses, n_pay = p.n_payments;
            int64_t last = p.last_seq;
            if (projection_apply(&p, &ev, last + 1, &why) != 0) {
                FUZZ_CHECK(why.detail[0] != '\0');
                FUZZ_CHECK(p.n_expenses == n_exp && p.n_payments == n_pay);
                FUZZ_CHECK(p.last_seq == last);
            }
            FUZZ_CHECK(balance_sum(&p) == 0);
            event_release(&ev);
        }
        s = e + (nl ? 1 : 0);
    }
    projection_release(&p);
    return 0;
}

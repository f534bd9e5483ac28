/*
 * The ledger's hash chain: canonical bytes to the byte, links against vectors computed with
 * another SHA-256 implementation, refusals of fields not in canonical form, and the offline
 * verifier (audit_verify) on a small ledger, untouched and tampered with.
 */
#include "audit.h"
#include "chain.h"
#include "unit.h"
#include "xalloc.h"

#include <stdio.h>
#include <string.h>

#define G "11111111-1111-4111-8111-111111111111"
#define A "22222222-2222-4222-8222-222222222222"
#define E1 "33333333-3333-4333-8333-333333333333"
#define E2 "44444444-4444-4444-8444-444444444444"
#define M1 "55555555-5555-4555-8555-555555555555"
#define M2 "66666666-6666-4666-8666-666666666666"
#define P "77777777-7777-4777-8777-777777777777"
#define AT "2026-12-02T10:00:00Z"

#define PAYLOAD(e, type, amount, tail)                                                             \
    "{\"event_id\":\"" e "\",\"type\":\"" type "\",\"group_id\":\"" G "\",\"actor\":\"" A          \
    "\",\"accepted_at\":\"" AT "\",\"payment_id\":\"" P "\",\"data\":{\"from_member\":\"" M1       \
    "\",\"to_member\":\"" M2 "\",\"amount\":" amount                                               \
    ",\"date\":\"2026-12-02\",\"note\":\"caf\xc3\xa9\"}" tail "}"

static const char p1[] = PAYLOAD(E1, "payment.created", "250", "");
static const char p2[] = PAYLOAD(E2, "payment.replaced", "400", ",\"if_match\":1");

/* SHA-256 vectors from an independent implementation (Python's hashlib). */
static const char h1[] = "aed6e78751c188462d8f0d72fb8c238f8c798d4f0d885559d8e0bdc49417af24";
static const char h2[] = "be361aa6c76ed1b1ee5f6a01ee5dbd55312763c8470b2efcc0996f505fc5c537";

static struct chain_event ev(const char *id, int64_t seq, const char *type, const char *payload)
{
    struct chain_event e = {G, id, type, A, AT, seq, payload, strlen(payload)};
    return e;
}

START_TEST(test_chain_canonical_bytes)
{
    struct chain_event e = ev(E1, 1, "payment.created", p1);
    struct strbuf sb = {0};
    char err[128];
    ck_assert_int_eq(chain_canonical(&e, &sb, err, sizeof(err)), 0);
    /* The payload's digest from Python's hashlib as well. */
    ck_assert_str_eq(sb.buf, "{\"accepted_at\":\"" AT "\",\"actor\":\"" A "\",\"event_id\":\"" E1
                             "\",\"group_id\":\"" G "\",\"payload_sha256\":\""
                             "f5bb777ce09f0b94cf58a990ecd9bb46d8b25744f84acc4cd920c04e5e57a76f"
                             "\",\"seq\":1,\"type\":\"payment.created\"}");
    free(sb.buf);
}
END_TEST

START_TEST(test_chain_links_known_vectors)
{
    unsigned char zero[CHAIN_HASH_SIZE] = {0}, a[CHAIN_HASH_SIZE], b[CHAIN_HASH_SIZE];
    char hex[CHAIN_HEX_SIZE], err[128];
    struct chain_event e1 = ev(E1, 1, "payment.created", p1),
                       e2 = ev(E2, 2, "payment.replaced", p2);
    ck_assert_int_eq(chain_link(zero, &e1, a, err, sizeof(err)), 0);
    chain_hex(a, hex);
    ck_assert_str_eq(hex, h1);
    ck_assert_int_eq(chain_link(a, &e2, b, err, sizeof(err)), 0);
    chain_hex(b, hex);
    ck_assert_str_eq(hex, h2);
    /* Every input counts: the previous hash, the seq, one payload byte. */
    unsigned char c[CHAIN_HASH_SIZE];
    ck_assert_int_eq(chain_link(zero, &e2, c, err, sizeof(err)), 0);
    ck_assert(memcmp(b, c, sizeof(c)) != 0);
    e2.seq = 3;
    ck_assert_int_eq(chain_link(a, &e2, c, err, sizeof(err)), 0);
    ck_assert(memcmp(b, c, sizeof(c)) != 0);
    e2.seq = 2;
    e2.payload_len--; /* "...}" cut: not the same bytes */
    ck_assert_int_eq(chain_link(a, &e2, c, err, sizeof(err)), 0);
    ck_assert(memcmp(b, c, sizeof(c)) != 0);
}
END_TEST

START_TEST(test_chain_refuses_non_canonical_fields)
{
    struct {
        const char *field, *value;
    } bad[] = {
        {"accepted_at", "2026-12-02T10:00:00.123Z"},
        {"accepted_at", "2026-12-02T10:00:00+00:00"},
        {"accepted_at", NULL},
        {"actor", "22222222-2222-4222-8222-22222222222A"},
        {"event_id", "3333"},
        {"group_id", "{" G "}"},
        {"type", "payment.\"x"},
        {"type", ""},
    };
    char err[128];
    struct strbuf sb = {0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct chain_event e = ev(E1, 1, "payment.created", p1);
        const char **f = strcmp(bad[i].field, "accepted_at") == 0 ? &e.accepted_at
                         : strcmp(bad[i].field, "actor") == 0     ? &e.actor
                         : strcmp(bad[i].field, "event_id") == 0  ? &e.event_id
                         : strcmp(bad[i].field, "group_id") == 0  ? &e.group_id
                                                                  : &e.type;
        *f = bad[i].value;
        ck_assert_msg(chain_canonical(&e, &sb, err, sizeof(err)) == -1, "%s '%s' accepted",
                      bad[i].field, bad[i].value ? bad[i].value : "(null)");
        ck_assert_msg(strstr(err, bad[i].field) != NULL, "%s", err);
        ck_assert_ptr_null(sb.buf);
    }
    struct chain_event e = ev(E1, 0, "payment.created", p1);
    ck_assert_int_eq(chain_check(&e, err, sizeof(err)), -1);
    e = ev(E1, 1, "payment.created", "");
    ck_assert_int_eq(chain_check(&e, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_chain_hex_round_trip)
{
    unsigned char h[CHAIN_HASH_SIZE], back[CHAIN_HASH_SIZE];
    char hex[CHAIN_HEX_SIZE];
    for (int i = 0; i < CHAIN_HASH_SIZE; i++)
        h[i] = (unsigned char)(i * 37 + 11);
    chain_hex(h, hex);
    ck_assert_int_eq(chain_unhex(hex, back), 0);
    ck_assert_mem_eq(h, back, sizeof(h));
    ck_assert_int_eq(chain_unhex(h1, back), 0);
    ck_assert_int_eq(chain_unhex("00", back), -1);
    ck_assert_int_eq(chain_unhex(NULL, back), -1);
    char upper[CHAIN_HEX_SIZE];
    snprintf(upper, sizeof(upper), "%s", h1);
    upper[0] = 'G';
    ck_assert_int_eq(chain_unhex(upper, back), -1);
}
END_TEST

/* A two-event ledger as splitterctl audit export writes it, with lines swapped in. */
static int verify_text(const char *text, const unsigned char *recorded, struct audit_result *r)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    int rc = audit_verify(f, recorded, r);
    fclose(f);
    return rc;
}

static char *ledger(const char *head, const char *hash1, const char *payload2)
{
    json_t *h = json_pack("{s:s, s:i, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}], s:s}", "ledger",
                          "splitter", "version", 1, "group_id", G, "currency", "EUR", "members",
                          "id", M1, "name", "Bea", "id", M2, "name", "Al", "head_hash", head);
    json_t *a = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq", 1, "event_id", E1,
                          "group_id", G, "type", "payment.created", "actor", A, "accepted_at", AT,
                          "payload", p1, "hash", hash1);
    json_t *b = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq", 2, "event_id", E2,
                          "group_id", G, "type", "payment.replaced", "actor", A, "accepted_at", AT,
                          "payload", payload2, "hash", h2);
    char *x = json_dumps(h, JSON_COMPACT), *y = json_dumps(a, JSON_COMPACT);
    char *z = json_dumps(b, JSON_COMPACT), *out = NULL;
    ck_assert_int_ge(asprintf(&out, "%s\n%s\n%s\n", x, y, z), 0);
    free(x), free(y), free(z);
    json_decref(h), json_decref(a), json_decref(b);
    return out;
}

/* The ledger (consumed) breaks at seq, event id, for a reason containing why. */
static void expect_break(char *text, int64_t seq, const char *id, const char *why)
{
    struct audit_result r;
    ck_assert_int_eq(verify_text(text, NULL, &r), -1);
    ck_assert_int_eq(r.seq, seq);
    ck_assert_str_eq(r.event_id, id);
    ck_assert_msg(strstr(r.why, why) != NULL, "%s", r.why);
    projection_release(&r.proj);
    free(text);
}

START_TEST(test_audit_verify_replays_and_names_breaks)
{
    struct audit_result r;
    char *good = ledger(h2, h1, p2);
    ck_assert_int_eq(verify_text(good, NULL, &r), 0);
    ck_assert_int_eq(r.events, 2);
    char hex[CHAIN_HEX_SIZE];
    chain_hex(r.head, hex);
    ck_assert_str_eq(hex, h2);
    ck_assert_int_eq(r.proj.members[0].sent, 400);
    ck_assert_int_eq(r.proj.members[1].received, 400);
    projection_release(&r.proj);
    /* A head noted after the first event is a link of it; one never made is not. */
    unsigned char noted[CHAIN_HASH_SIZE];
    ck_assert_int_eq(chain_unhex(h1, noted), 0);
    ck_assert_int_eq(verify_text(good, noted, &r), 0);
    ck_assert_int_eq(r.recorded_seq, 1);
    projection_release(&r.proj);
    noted[0] ^= 1;
    ck_assert_int_eq(verify_text(good, noted, &r), -1);
    ck_assert_msg(strstr(r.why, "not a link of this chain") != NULL, "%s", r.why);
    projection_release(&r.proj);
    free(good);

    /* The second payload changed by one digit: named at seq 2. */
    char changed[sizeof(p2)];
    memcpy(changed, p2, sizeof(p2));
    *strstr(changed, "400") = '5';
    expect_break(ledger(h2, h1, changed), 2, E2, "hash does not match");
    /* The first hash wrong: named at seq 1. */
    expect_break(ledger(h2, h2, p2), 1, E1, "hash does not match");
    /* The head recorded after the first event: the second was added. */
    expect_break(ledger(h1, h1, p2), 2, E2, "were added");

    /* A line past AUDIT_LINE_MAX is refused without reading it whole. */
    static const char head[] = "{\"ledger\":\"splitter\",\"version\":1,\"group_id\":\"" G
                               "\",\"currency\":\"EUR\",\"members\":[],\"head_hash\":null}\n";
    size_t n = sizeof(head) - 1;
    char *huge = xmalloc(n + AUDIT_LINE_MAX + 16);
    memcpy(huge, head, n);
    memset(huge + n, ' ', AUDIT_LINE_MAX + 8);
    huge[n + AUDIT_LINE_MAX + 8] = '\0';
    ck_assert_int_eq(verify_text(huge, NULL, &r), -1);
    ck_assert_msg(strstr(r.why, "line 2 is longer") != NULL, "%s", r.why);
    projection_release(&r.proj);
    ck_assert_int_eq(verify_text(huge + n, NULL, &r), -1);
    ck_assert_msg(strstr(r.why, "header line is too long") != NULL, "%s", r.why);
    projection_release(&r.proj);
    free(huge);

    /* Not a ledger. */
    ck_assert_int_eq(verify_text("", NULL, &r), -1);
    projection_release(&r.proj);
    ck_assert_int_eq(verify_text("{\"ledger\":\"other\"}\n", NULL, &r), -1);
    ck_assert_str_eq(r.event_id, "");
    projection_release(&r.proj);
}
END_TEST

static Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("chain");

    tcase_add_test(tc, test_chain_canonical_bytes);
    tcase_add_test(tc, test_chain_links_known_vectors);
    tcase_add_test(tc, test_chain_refuses_non_canonical_fields);
    tcase_add_test(tc, test_chain_hex_round_trip);
    tcase_add_test(tc, test_audit_verify_replays_and_names_breaks);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(chain_suite)

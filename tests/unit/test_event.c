/*
 * Unit tests for shared/event: the ledger event's codec. What the api
 * encodes the worker decodes to the same fields, byte for byte where the
 * chain depends on it; every malformed input class is refused with a reason
 * and leaves nothing owned.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "unit.h"

#define EID "00000000-0000-4000-8000-0000000000d1"
#define G "00000000-0000-4000-8000-000000000001"
#define U "00000000-0000-4000-8000-0000000000f1"
#define X "00000000-0000-4000-8000-0000000000e1"
#define AT "2026-11-20T10:00:00Z"
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A valid event's text, with single quotes for double ones, into buf. */
static const char *dq(char *buf, size_t size, const char *s)
{
    size_t i;
    for (i = 0; s[i] && i < size - 1; i++)
        buf[i] = s[i] == '\'' ? '"' : s[i];
    buf[i] = '\0';
    return buf;
}

static int decode(const char *single_quoted, struct event *ev, char *err, size_t err_size)
{
    char buf[2048];
    dq(buf, sizeof(buf), single_quoted);
    return event_decode(buf, strlen(buf), ev, err, err_size);
}

START_TEST(test_event_types_round_trip)
{
    for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
        enum event_type back;
        ck_assert_int_eq(event_type_parse(event_type_name((enum event_type)t), &back), 0);
        ck_assert_int_eq(back, t);
        ck_assert_int_eq(
            event_type_of(event_kind_of((enum event_type)t), event_action_of((enum event_type)t)),
            t);
    }
    ck_assert_str_eq(event_type_name(EVENT_PAYMENT_REVERTED), "payment.reverted");
    ck_assert_int_eq(event_kind_of(EVENT_EXPENSE_DELETED), EVENT_EXPENSE);
    ck_assert_int_eq(event_kind_of(EVENT_PAYMENT_CREATED), EVENT_PAYMENT);
    ck_assert_int_eq(event_action_of(EVENT_PAYMENT_REPLACED), EVENT_REPLACED);
    ck_assert_str_eq(event_target_key(EVENT_PAYMENT), "payment_id");
    ck_assert_str_eq(event_kind_name(EVENT_EXPENSE), "expense");
    enum event_type t;
    ck_assert_int_eq(event_type_parse("expense.renamed", &t), -1);
    ck_assert_int_eq(event_type_parse("expense", &t), -1);
    ck_assert_int_eq(event_type_parse("", &t), -1);
}
END_TEST

/* The api's encoding is the one the worker reads and the chain digests: its
   keys in the documented order, nothing else. */
START_TEST(test_event_encode_is_the_documented_text)
{
    json_t *data = json_pack("{s:s, s:I}", "description", "Dinner", "amount", (json_int_t)100);
    struct event ev = {
        .type = EVENT_EXPENSE_REPLACED,
        .id = EID,
        .group_id = G,
        .actor = U,
        .accepted_at = AT,
        .target = X,
        .data = data,
        .if_match = 3,
        .idem = "key-1\"x",
        .idem_len = 7,
        .idem_sha = SHA_A,
        .request_sha = SHA_B,
    };
    char *text = event_encode(&ev);
    char want[1024];
    dq(want, sizeof(want),
       "{'event_id':'" EID "','type':'expense.replaced','group_id':'" G "','actor':'" U
       "','accepted_at':'" AT "','expense_id':'" X "','data':{'description':'Dinner',"
       "'amount':100},'if_match':3,'idempotency_key':'key-1\\'x','idempotency_key_sha256':'" SHA_A
       "','request_sha256':'" SHA_B "'}");
    ck_assert_str_eq(text, want);

    /* And back: the same fields. */
    struct event back;
    char err[160];
    ck_assert_int_eq(event_decode(text, strlen(text), &back, err, sizeof(err)), 0);
    ck_assert_int_eq(back.type, EVENT_EXPENSE_REPLACED);
    ck_assert_str_eq(back.id, EID);
    ck_assert_str_eq(back.group_id, G);
    ck_assert_str_eq(back.actor, U);
    ck_assert_str_eq(back.accepted_at, AT);
    ck_assert_str_eq(back.target, X);
    ck_assert(json_equal((json_t *)back.data, data));
    ck_assert_int_eq(back.if_match, 3);
    ck_assert_uint_eq(back.idem_len, 7);
    ck_assert_int_eq(memcmp(back.idem, "key-1\"x", 7), 0);
    ck_assert_str_eq(back.idem_sha, SHA_A);
    ck_assert_str_eq(back.request_sha, SHA_B);
    /* Encoding the decoded event gives the text again. */
    char *again = event_encode(&back);
    ck_assert_str_eq(again, text);
    free(again);
    event_release(&back);
    ck_assert_ptr_null(back.root);
    free(text);
    json_decref(data);
}
END_TEST

/* A payment deletion without If-Match or key: data null, the payment's key,
   no optional field. */
START_TEST(test_event_encode_minimal_payment)
{
    struct event ev = {
        .type = EVENT_PAYMENT_DELETED,
        .id = EID,
        .group_id = G,
        .actor = U,
        .accepted_at = AT,
        .target = X,
    };
    char *text = event_encode(&ev);
    char want[512];
    dq(want, sizeof(want),
       "{'event_id':'" EID "','type':'payment.deleted','group_id':'" G "','actor':'" U
       "','accepted_at':'" AT "','payment_id':'" X "','data':null}");
    ck_assert_str_eq(text, want);
    struct event back;
    char err[160];
    ck_assert_int_eq(event_decode(text, strlen(text), &back, err, sizeof(err)), 0);
    ck_assert(json_is_null(back.data));
    ck_assert_int_eq(back.if_match, 0);
    ck_assert_ptr_null(back.idem);
    ck_assert_ptr_null(back.idem_sha);
    event_release(&back);
    free(text);
}
END_TEST

START_TEST(test_event_revert_data)
{
    json_t *d = event_revert_data(EID, json_null());
    char *t = json_dump_compact(d);
    ck_assert_str_eq(t, "{\"reverts\":\"" EID "\",\"restore\":null}");
    free(t);
    json_decref(d);
}
END_TEST

#define BASE "'event_id':'" EID "','group_id':'" G "','actor':'" U "','accepted_at':'" AT "'"

/* Every class of malformed input: refused with a reason naming what is wrong,
   nothing left owned. */
START_TEST(test_event_decode_refuses_malformed)
{
    static const struct {
        const char *text, *reason;
    } cases[] = {
        {"", "not JSON"},
        {"{'event_id'", "not JSON"},
        {"[1,2]", "JSON"},
        {"'expense.created'", "JSON"},
        {"{'type':'expense.created','group_id':'" G "','actor':'" U "','accepted_at':'" AT
         "','expense_id':'" X "'}",
         "event_id"},
        {"{'event_id':'" EID "',"
         "'type':'expense.created','group_id':'" G "','actor':'" U "','accepted_at':'" AT
         "','expense_id':'00000000-0000-4000-8000-0000000000E1'}",
         "expense_id"},
        {"{'event_id':'not-a-uuid','type':'expense.created','group_id':'" G "','actor':'" U
         "','accepted_at':'" AT "','expense_id':'" X "'}",
         "event_id"},
        {"{" BASE ",'type':'expense.created','group_id':7,'expense_id':'" X "'}", "group_id"},
        {"{'event_id':'" EID "','group_id':'" G "','accepted_at':'" AT
         "','type':'expense.created','expense_id':'" X "'}",
         "actor"},
        {"{" BASE ",'expense_id':'" X "'}", "type"},
        {"{" BASE ",'type':'expense.renamed','expense_id':'" X "'}", "type"},
        {"{" BASE ",'type':7,'expense_id':'" X "'}", "type"},
        {"{" BASE ",'type':'payment.created','expense_id':'" X "'}", "payment_id"},
        {"{" BASE ",'type':'expense.created','payment_id':'" X "'}", "expense_id"},
        {"{'event_id':'" EID "','group_id':'" G "','actor':'" U
         "','accepted_at':'2026-11-20 10:00:00','type':'expense.created','expense_id':'" X "'}",
         "accepted_at"},
        {"{'event_id':'" EID "','group_id':'" G "','actor':'" U
         "','accepted_at':'2026-02-30T10:00:00Z','type':'expense.created','expense_id':'" X "'}",
         "accepted_at"},
        {"{'event_id':'" EID "','group_id':'" G "','actor':'" U
         "','accepted_at':'2026-11-20T24:00:00Z','type':'expense.created','expense_id':'" X "'}",
         "accepted_at"},
        {"{" BASE ",'type':'expense.deleted','expense_id':'" X "','if_match':0}", "if_match"},
        {"{" BASE ",'type':'expense.deleted','expense_id':'" X "','if_match':'2'}", "if_match"},
        {"{" BASE ",'type':'expense.deleted','expense_id':'" X "','idempotency_key':5}",
         "idempotency_key"},
        {"{" BASE ",'type':'expense.deleted','expense_id':'" X "','idempotency_key':'k',"
         "'idempotency_key_sha256':'" SHA_A "'}",
         "incomplete"},
        {"{" BASE ",'type':'expense.deleted','expense_id':'" X "','idempotency_key_sha256':'" SHA_A
         "','request_sha256':'" SHA_B "'}",
         "incomplete"},
        {"{" BASE ",'type':'expense.deleted','expense_id':'" X "','idempotency_key':'k',"
         "'idempotency_key_sha256':'" SHA_A "','request_sha256':'ABC'}",
         "sha-256"},
        /* Strict JSON: a repeated key is no event, whichever copy would win. */
        {"{" BASE ",'type':'expense.created','expense_id':'" X "','type':'expense.deleted'}",
         "duplicate key at type"},
        {"{" BASE ",'type':'expense.created','expense_id':'" X "','data':{'description':'\xff'}}",
         "UTF-8"},
        {"{'event_id':'" EID "\\u0000','group_id':'" G "','actor':'" U "','accepted_at':'" AT
         "','type':'expense.created','expense_id':'" X "'}",
         "event_id"},
        {"{" BASE ",'type':'expense.created','expense_id':'" X "\\u0000'}", "expense_id"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct event ev;
        char err[160] = "";
        ck_assert_msg(decode(cases[i].text, &ev, err, sizeof(err)) == -1, "case %zu accepted", i);
        ck_assert_msg(strstr(err, cases[i].reason) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      cases[i].reason);
        ck_assert_ptr_null(ev.root);
    }
}
END_TEST

/* What decoding leaves to the ledger: data of any shape, an old event's key
   without its digests. */
START_TEST(test_event_decode_leaves_data_to_the_ledger)
{
    struct event ev;
    char err[160];
    ck_assert_int_eq(
        decode("{" BASE ",'type':'expense.created','expense_id':'" X "'}", &ev, err, sizeof(err)),
        0);
    ck_assert_ptr_null(ev.data);
    event_release(&ev);
    ck_assert_int_eq(decode("{" BASE ",'type':'payment.replaced','payment_id':'" X
                            "','data':[1],'idempotency_key':'old'}",
                            &ev, err, sizeof(err)),
                     0);
    ck_assert(json_is_array(ev.data));
    ck_assert_str_eq(ev.idem, "old");
    ck_assert_ptr_null(ev.idem_sha);
    event_release(&ev);

    /* Data nested as deep as EVENT_MAX_DEPTH allows (the object around it is one level), and one
       level deeper. */
    for (int depth = EVENT_MAX_DEPTH - 1; depth <= EVENT_MAX_DEPTH; depth++) {
        char text[1024];
        int n = snprintf(text, sizeof(text),
                         "{" BASE ",'type':'expense.created','expense_id':'" X "','data':");
        for (int i = 0; i < depth; i++)
            text[n++] = '[';
        for (int i = 0; i < depth; i++)
            text[n++] = ']';
        snprintf(text + n, sizeof(text) - (size_t)n, "}");
        int rc = decode(text, &ev, err, sizeof(err));
        if (depth < EVENT_MAX_DEPTH) {
            ck_assert_msg(rc == 0, "depth %d: %s", depth, err);
            event_release(&ev);
        } else {
            ck_assert_int_eq(rc, -1);
            ck_assert_msg(strstr(err, "too deep") != NULL, "%s", err);
        }
    }
}
END_TEST

/* Management events: their names, the data each type carries, and that a ledger event is
   none of them (and the other way round). */
START_TEST(test_event_admin_decode)
{
    static const char *const names[] = {"group.renamed",  "group.archived", "group.unarchived",
                                        "member.renamed", "member.removed", "member.left",
                                        "invite.revoked"};
    enum event_admin_type t;
    for (int k = 0; k < EVENT_ADMIN_COUNT; k++) {
        ck_assert_str_eq(event_admin_name((enum event_admin_type)k), names[k]);
        ck_assert_int_eq(event_admin_parse(names[k], &t), 0);
        ck_assert_int_eq(t, k);
    }
    ck_assert_int_eq(event_admin_parse("expense.created", &t), -1);

#define HEAD                                                                                       \
    "{\"event_id\":\"00000000-0000-4000-8000-0000000000d2\",\"group_id\":"                         \
    "\"00000000-0000-4000-8000-000000000001\",\"actor\":\"00000000-0000-4000-8000-0000000000f1\"," \
    "\"accepted_at\":\"2026-11-20T10:00:00Z\","
#define MID "\"member_id\":\"00000000-0000-4000-8000-00000000000a\""
    static const struct {
        const char *text;
        int ok;
    } cases[] = {
        {HEAD "\"type\":\"group.renamed\",\"data\":{\"name\":\"Trip\"}}", 1},
        {HEAD "\"type\":\"group.renamed\",\"data\":{}}", 0},
        {HEAD "\"type\":\"group.archived\",\"data\":{}}", 1},
        {HEAD "\"type\":\"group.archived\",\"data\":null}", 0},
        {HEAD "\"type\":\"member.renamed\",\"data\":{" MID ",\"name\":\"A\"}}", 1},
        {HEAD "\"type\":\"member.renamed\",\"data\":{" MID "}}", 0},
        {HEAD "\"type\":\"member.removed\",\"data\":{" MID ",\"name\":\"A\"}}", 1},
        {HEAD "\"type\":\"member.removed\",\"data\":{" MID "}}", 0},
        {HEAD "\"type\":\"member.left\",\"data\":{\"member_id\":\"A\"}}", 0},
        {HEAD "\"type\":\"invite.revoked\",\"data\":{\"invite_id\":"
              "\"00000000-0000-4000-8000-0000000000e1\"}}",
         1},
        {HEAD "\"type\":\"expense.deleted\",\"data\":{}}", 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct event_admin ev;
        char err[128];
        json_t *root = json_loads(cases[k].text, 0, NULL);
        ck_assert_ptr_nonnull(root);
        int rc = event_admin_decode_json(root, &ev, err, sizeof(err));
        ck_assert_msg((rc == 0) == cases[k].ok, "case %zu: %s", k, rc ? err : "accepted");
        if (rc == 0 && (ev.type == EVENT_MEMBER_RENAMED || ev.type == EVENT_MEMBER_REMOVED)) {
            ck_assert_str_eq(ev.name, "A");
            ck_assert_str_eq(ev.member_id, "00000000-0000-4000-8000-00000000000a");
        }
        event_admin_release(&ev);
        json_decref(root);
    }
    /* A management event is no ledger event. */
    struct event lev;
    char err[128];
    const char *text = HEAD "\"type\":\"group.archived\",\"data\":{}}";
    ck_assert_int_eq(event_decode(text, strlen(text), &lev, err, sizeof(err)), -1);
#undef HEAD
#undef MID
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_event_types_round_trip);
    tcase_add_test(tc, test_event_encode_is_the_documented_text);
    tcase_add_test(tc, test_event_encode_minimal_payment);
    tcase_add_test(tc, test_event_revert_data);
    tcase_add_test(tc, test_event_decode_refuses_malformed);
    tcase_add_test(tc, test_event_decode_leaves_data_to_the_ledger);
    tcase_add_test(tc, test_event_admin_decode);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(event_suite)

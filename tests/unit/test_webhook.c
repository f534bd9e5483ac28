/*
 * Unit tests for shared/webhook: which URLs and addresses deliveries may go
 * to, the signature's exact bytes, and the retry schedule.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "unit.h"
#include "webhook.h"

/* The class of a literal address (IPv4 or IPv6). */
static enum webhook_addr_class classify(const char *lit)
{
    struct sockaddr_in s4;
    struct sockaddr_in6 s6;
    memset(&s4, 0, sizeof(s4));
    memset(&s6, 0, sizeof(s6));
    if (inet_pton(AF_INET, lit, &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        return webhook_addr_classify((const struct sockaddr *)&s4);
    }
    ck_assert_int_eq(inet_pton(AF_INET6, lit, &s6.sin6_addr), 1);
    s6.sin6_family = AF_INET6;
    return webhook_addr_classify((const struct sockaddr *)&s6);
}

START_TEST(test_webhook_addresses_classified)
{
    static const char *const public[] = {
        "1.1.1.1",          "8.8.8.8",         "93.184.216.34", "100.63.255.255",
        "100.128.0.0",      "172.15.255.255",  "172.32.0.0",    "192.167.1.1",
        "223.255.255.255",  "2606:4700::1111", "2a00:1450::1",  "::ffff:8.8.8.8",
        "64:ff9b::808:808", "2002:808:808::1",
    };
    static const char *const loopback[] = {"127.0.0.1", "127.255.255.254", "::1",
                                           "::ffff:127.0.0.1"};
    static const char *const private[] = {
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.255",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "::10.0.0.1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "2001::1",
        "100::1",
        "2002:a00:1::1",
        "4000::1",
        "::2",
    };
    for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++)
        ck_assert_msg(classify(public[i]) == WEBHOOK_ADDR_PUBLIC, "%s is public", public[i]);
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        ck_assert_msg(classify(loopback[i]) == WEBHOOK_ADDR_LOOPBACK, "%s is loopback",
                      loopback[i]);
    for (size_t i = 0; i < sizeof(private) / sizeof(private[0]); i++)
        ck_assert_msg(classify(private[i]) == WEBHOOK_ADDR_PRIVATE, "%s is private", private[i]);
}
END_TEST

START_TEST(test_webhook_loopback_only_when_insecure)
{
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
    ck_assert_int_eq(webhook_addr_allowed((const struct sockaddr *)&s4, 0), 0);
    ck_assert_int_eq(webhook_addr_allowed((const struct sockaddr *)&s4, 1), 1);
    inet_pton(AF_INET, "10.1.2.3", &s4.sin_addr);
    ck_assert_int_eq(webhook_addr_allowed((const struct sockaddr *)&s4, 1), 0);
    inet_pton(AF_INET, "9.9.9.9", &s4.sin_addr);
    ck_assert_int_eq(webhook_addr_allowed((const struct sockaddr *)&s4, 0), 1);
}
END_TEST

START_TEST(test_webhook_addrinfo_one_bad_refuses)
{
    struct sockaddr_in a, b;
    struct addrinfo ia, ib;
    struct sockaddr_storage out;
    socklen_t len = 0;
    const char *why = NULL;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.sin_family = b.sin_family = AF_INET;
    inet_pton(AF_INET, "8.8.8.8", &a.sin_addr);
    inet_pton(AF_INET, "192.168.0.1", &b.sin_addr);
    memset(&ia, 0, sizeof(ia));
    memset(&ib, 0, sizeof(ib));
    ia.ai_addr = (struct sockaddr *)&a;
    ia.ai_addrlen = sizeof(a);
    ib.ai_addr = (struct sockaddr *)&b;
    ib.ai_addrlen = sizeof(b);
    ck_assert_int_eq(webhook_addrinfo_pick(&ia, 0, &out, &len, &why), 0);
    ck_assert_int_eq(len, sizeof(a));
    ia.ai_next = &ib; /* a public record next to a private one */
    ck_assert_int_eq(webhook_addrinfo_pick(&ia, 0, &out, &len, &why), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(webhook_addrinfo_pick(NULL, 1, &out, &len, &why), -1);
}
END_TEST

START_TEST(test_webhook_url_parse)
{
    struct webhook_url u;
    const char *why;

    ck_assert_int_eq(webhook_url_parse("https://hooks.example.com/in?x=1", 0, &u, &why), 0);
    ck_assert_int_eq(u.tls, 1);
    ck_assert_str_eq(u.host, "hooks.example.com");
    ck_assert_int_eq(u.port, 443);
    ck_assert_str_eq(u.path, "/in?x=1");
    ck_assert_int_eq(webhook_url_parse("HTTPS://h.example:8443", 0, &u, &why), 0);
    ck_assert_int_eq(u.port, 8443);
    ck_assert_str_eq(u.path, "/");
    ck_assert_int_eq(webhook_url_parse("https://[2606:4700::1]:444/x", 0, &u, &why), 0);
    ck_assert_str_eq(u.host, "2606:4700::1");
    ck_assert_int_eq(u.port, 444);
    ck_assert_int_eq(webhook_url_parse("https://h.example?q", 0, &u, &why), 0);
    ck_assert_str_eq(u.path, "/?q");

    /* http:// only when relaxed */
    ck_assert_int_eq(webhook_url_parse("http://127.0.0.1:8080/h", 0, &u, &why), -1);
    ck_assert_str_eq(why, "must use https");
    ck_assert_int_eq(webhook_url_parse("http://127.0.0.1:8080/h", 1, &u, &why), 0);
    ck_assert_int_eq(u.tls, 0);
    ck_assert_int_eq(u.port, 8080);

    static const char *const bad[] = {
        "",
        "ftp://h.example/",
        "https://",
        "https:///x",
        "https://user:pw@h.example/",
        "https://h.example/#frag",
        "https://h.example:0/",
        "https://h.example:65536/",
        "https://h.example:/",
        "https://h.example:80x/",
        "https://h ex.example/",
        "https://h_x.example/",
        "https://[::1/",
        "https://[zz::1]/",
        "https://[::1]x/",
        "https://h.example/\xc3\xa9",
        "javascript:alert(1)",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(webhook_url_parse(bad[i], 1, &u, &why) == -1, "'%s' refused", bad[i]);
    char longurl[WEBHOOK_URL_MAX + 2];
    memset(longurl, 'a', sizeof(longurl) - 1);
    memcpy(longurl, "https://h/", 10);
    longurl[sizeof(longurl) - 1] = '\0';
    ck_assert_int_eq(webhook_url_parse(longurl, 0, &u, &why), -1);
}
END_TEST

START_TEST(test_webhook_sign_known_value)
{
    char hex[WEBHOOK_SIGNATURE_HEX];
    const char *body = "{\"a\":1}";
    /* openssl dgst -sha256 -hmac whsec_test over "1700000000.{\"a\":1}" */
    webhook_sign("whsec_test", "1700000000", body, strlen(body), hex);
    ck_assert_str_eq(hex, "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
}
END_TEST

START_TEST(test_webhook_backoff_doubles_capped_jittered)
{
    /* With rnd at the middle of the spread the delay is exact. */
    ck_assert_int_eq(webhook_backoff_ms(10000, 3600000, 1, 2000), 10000);
    ck_assert_int_eq(webhook_backoff_ms(10000, 3600000, 2, 4000), 20000);
    ck_assert_int_eq(webhook_backoff_ms(10000, 3600000, 3, 8000), 40000);
    ck_assert_int_eq(webhook_backoff_ms(10000, 3600000, 30, 720000), 3600000);
    ck_assert_int_eq(webhook_backoff_ms(10000, 3600000, 1000000, 720000), 3600000);
    rng_state = 17;
    for (int attempt = 1; attempt < 40; attempt++) {
        int64_t d = webhook_backoff_ms(200, 60000, attempt, (uint32_t)rng_next());
        int64_t mid = 200;
        for (int i = 1; i < attempt && mid < 60000; i++)
            mid = mid * 2 > 60000 ? 60000 : mid * 2;
        ck_assert_int_ge(d, mid - mid / 5);
        ck_assert_int_le(d, mid + mid / 5);
    }
    ck_assert_int_ge(webhook_backoff_ms(0, 0, 1, 0), 1);
}
END_TEST

static Suite *webhook_suite(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("webhook");

    tcase_add_test(tc, test_webhook_addresses_classified);
    tcase_add_test(tc, test_webhook_loopback_only_when_insecure);
    tcase_add_test(tc, test_webhook_addrinfo_one_bad_refuses);
    tcase_add_test(tc, test_webhook_url_parse);
    tcase_add_test(tc, test_webhook_sign_known_value);
    tcase_add_test(tc, test_webhook_backoff_doubles_capped_jittered);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(webhook_suite)

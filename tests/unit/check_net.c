/*
 * check_net.c - the host:port parser: names, IPv4, bracketed IPv6, an empty
 * host, and every way an address can be refused.
 */
#include "common/gmq.h"
#include "common/net.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_split_ok)
{
    static const struct { const char *addr, *host, *port; } v[] = {
        { "127.0.0.1:9503", "127.0.0.1", "9503" },
        { "localhost:1", "localhost", "1" },
        { "etcd.example.com:2379", "etcd.example.com", "2379" },
        { ":9503", "", "9503" },
        { "[::]:9503", "::", "9503" },
        { "[::1]:1", "::1", "1" },
        { "[fe80::1%eth0]:80", "fe80::1%eth0", "80" },
        { "[]:5", "", "5" },
        { "h:http", "h", "http" },     /* a service name: getaddrinfo's business */
    };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(v); i++) {
        char host[64] = "junk", port[16] = "junk";
        ck_assert_msg(gmq_hostport_split(v[i].addr, host, sizeof(host), port, sizeof(port)) == GMQ_OK,
                      "%s", v[i].addr);
        ck_assert_str_eq(host, v[i].host);
        ck_assert_str_eq(port, v[i].port);
    }
}
END_TEST

START_TEST(test_split_refused)
{
    static const char *bad[] = {
        "", "nohost", "host:", ":", "::1:5", "::", "[::1]", "[::1]:", "[::1:5", "::1]:5",
        "a[b]:5", "[a]b:5", "[a:5", "a]:5", "[v6]x:5",
    };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(bad); i++) {
        char host[64] = "keep", port[16] = "keep";
        ck_assert_msg(gmq_hostport_split(bad[i], host, sizeof(host), port, sizeof(port)) == GMQ_ERR,
                      "%s accepted", bad[i]);
        ck_assert_str_eq(host, "keep");
        ck_assert_str_eq(port, "keep");
    }
    char host[8], port[8];
    ck_assert_int_eq(gmq_hostport_split(NULL, host, sizeof(host), port, sizeof(port)), GMQ_ERR);
}
END_TEST

START_TEST(test_split_sizes)
{
    char host[5], port[3];
    /* host and port fill their buffers exactly (NUL included) */
    ck_assert_int_eq(gmq_hostport_split("abcd:12", host, sizeof(host), port, sizeof(port)), GMQ_OK);
    ck_assert_str_eq(host, "abcd");
    ck_assert_str_eq(port, "12");
    ck_assert_int_eq(gmq_hostport_split("[abcd]:12", host, sizeof(host), port, sizeof(port)), GMQ_OK);
    ck_assert_str_eq(host, "abcd");
    /* one byte more does not fit */
    ck_assert_int_eq(gmq_hostport_split("abcde:12", host, sizeof(host), port, sizeof(port)), GMQ_ERR);
    ck_assert_int_eq(gmq_hostport_split("abcd:123", host, sizeof(host), port, sizeof(port)), GMQ_ERR);
    ck_assert_int_eq(gmq_hostport_split("[abcde]:1", host, sizeof(host), port, sizeof(port)), GMQ_ERR);
    ck_assert_int_eq(gmq_hostport_split(":1", host, 1, port, sizeof(port)), GMQ_OK);
    ck_assert_str_eq(host, "");
}
END_TEST

static Suite *
net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("hostport");
    tcase_add_test(tc, test_split_ok);
    tcase_add_test(tc, test_split_refused);
    tcase_add_test(tc, test_split_sizes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(net_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

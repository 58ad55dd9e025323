/*
 * check_etcdapi.c - unit tests of common/etcdapi.c: base64, endpoint lists,
 * request bodies and parsers, fed with the exact answers of Debian's etcd 3.4
 * gateway (shared/reference/etcd-v3-gateway.md).
 */
#include "common/etcdapi.h"
#include "common/buf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define H "\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\"," \
          "\"revision\":\"7\",\"raft_term\":\"2\"}"

START_TEST(test_b64_roundtrip)
{
    static const struct { const char *plain, *enc; } v[] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
        { "/gmq/brokers/node1", "L2dtcS9icm9rZXJzL25vZGUx" },
        { "/gmq/brokers/", "L2dtcS9icm9rZXJzLw==" },
    };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(v); i++) {
        char *e = gmq_etcdapi_b64_encode(v[i].plain, strlen(v[i].plain));
        ck_assert_str_eq(e, v[i].enc);
        size_t n = 99;
        char *d = gmq_etcdapi_b64_decode(e, strlen(e), &n);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(n, strlen(v[i].plain));
        ck_assert_str_eq(d, v[i].plain);
        free(e);
        free(d);
    }
    /* binary bytes, every value */
    unsigned char bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (unsigned char) i;
    char *e = gmq_etcdapi_b64_encode(bin, sizeof(bin));
    size_t n;
    char *d = gmq_etcdapi_b64_decode(e, strlen(e), &n);
    ck_assert_uint_eq(n, 256);
    ck_assert(memcmp(d, bin, 256) == 0);
    free(e);
    free(d);
}
END_TEST

START_TEST(test_b64_invalid)
{
    ck_assert_ptr_null(gmq_etcdapi_b64_decode("abc", 3, NULL));
    ck_assert_ptr_null(gmq_etcdapi_b64_decode("ab!d", 4, NULL));
    ck_assert_ptr_null(gmq_etcdapi_b64_decode("a=bc", 4, NULL));
    ck_assert_ptr_null(gmq_etcdapi_b64_decode("ab==Zm9v", 8, NULL));
}
END_TEST

/* past the size of one EVP call (the codec works in chunks) */
START_TEST(test_b64_large)
{
    size_t n = 7u << 20;        /* n % 3 == 1: two padding bytes */
    unsigned char *bin = gmq_xmalloc(n);
    for (size_t i = 0; i < n; i++)
        bin[i] = (unsigned char) (i * 2654435761u >> 13);
    char *e = gmq_etcdapi_b64_encode(bin, n);
    ck_assert_uint_eq(strlen(e), 4 * ((n + 2) / 3));
    ck_assert_str_eq(e + strlen(e) - 2, "==");
    /* each 3-byte group encodes on its own: compare one across the first chunk boundary */
    size_t at = (3u << 20) - 3;
    char *part = gmq_etcdapi_b64_encode(bin + at, 6);
    ck_assert(memcmp(e + at / 3 * 4, part, 8) == 0);
    size_t m = 0;
    char *d = gmq_etcdapi_b64_decode(e, strlen(e), &m);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(m, n);
    ck_assert(memcmp(d, bin, n) == 0);
    free(part);
    free(d);
    free(e);
    free(bin);
}
END_TEST

/* what OpenSSL's EVP_DecodeBlock alone would let through (or count as data) */
START_TEST(test_b64_strict)
{
    static const char *bad[] = {
        "====", "Zg===", "Z===", "Zm9v====", "Zg=a", "Zm=v", "Zm9v\n\n\n\n", " Zm9", "Zm9 ",
        "Zm9-", "Zm9_", "Zm9v\r\n  ", "Zm\x80v",
    };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(bad); i++)
        ck_assert_msg(gmq_etcdapi_b64_decode(bad[i], strlen(bad[i]), NULL) == NULL, "%s", bad[i]);
    ck_assert_ptr_null(gmq_etcdapi_b64_decode("Zm\0v", 4, NULL));
    /* the padding is not part of the decoded length */
    size_t n = 99;
    char *d = gmq_etcdapi_b64_decode("AA==", 4, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(d[0], 0);
    free(d);
    d = gmq_etcdapi_b64_decode("AAA=", 4, &n);
    ck_assert_uint_eq(n, 2);
    free(d);
    d = gmq_etcdapi_b64_decode("", 0, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(d, "");
    free(d);
}
END_TEST

START_TEST(test_endpoints)
{
    gmq_etcdapi_endpoints_t ep;
    char err[128];
    ck_assert_int_eq(gmq_etcdapi_endpoints_parse("127.0.0.1:2379,127.0.0.1:2479", &ep, err,
                                                 sizeof(err)), GMQ_OK);
    ck_assert_uint_eq(ep.n, 2);
    ck_assert_str_eq(ep.urls[0], "http://127.0.0.1:2379");
    ck_assert_str_eq(ep.urls[1], "http://127.0.0.1:2479");
    gmq_etcdapi_endpoints_free(&ep);

    ck_assert_int_eq(gmq_etcdapi_endpoints_parse(" https://etcd.example:2379/ , ,HTTP://h:1",
                                                 &ep, err, sizeof(err)), GMQ_OK);
    ck_assert_uint_eq(ep.n, 2);
    ck_assert_str_eq(ep.urls[0], "https://etcd.example:2379");
    ck_assert_str_eq(ep.urls[1], "http://h:1");
    gmq_etcdapi_endpoints_free(&ep);

    ck_assert_int_eq(gmq_etcdapi_endpoints_parse("", &ep, err, sizeof(err)), GMQ_ERR);
    gmq_etcdapi_endpoints_free(&ep);
    ck_assert_int_eq(gmq_etcdapi_endpoints_parse(" , ", &ep, err, sizeof(err)), GMQ_ERR);
    gmq_etcdapi_endpoints_free(&ep);
    ck_assert_int_eq(gmq_etcdapi_endpoints_parse("ftp://h:1", &ep, err, sizeof(err)), GMQ_ERR);
    ck_assert(strstr(err, "scheme") != NULL);
    gmq_etcdapi_endpoints_free(&ep);
    ck_assert_int_eq(gmq_etcdapi_endpoints_parse("http://", &ep, err, sizeof(err)), GMQ_ERR);
    gmq_etcdapi_endpoints_free(&ep);
}
END_TEST

START_TEST(test_prefix_end_and_bodies)
{
    char *e = gmq_etcdapi_prefix_end("/gmq/brokers/");
    ck_assert_str_eq(e, "/gmq/brokers0");
    free(e);
    e = gmq_etcdapi_prefix_end("/gmq/node-");
    ck_assert_str_eq(e, "/gmq/node.");
    free(e);

    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_etcdapi_body_range(&b, "/gmq/brokers/", "/gmq/brokers0");
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"key\":\"L2dtcS9icm9rZXJzLw==\",\"range_end\":\"L2dtcS9icm9rZXJzMA==\"}");
    gmq_buf_reset(&b);
    gmq_etcdapi_body_range(&b, "/", "");
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"key\":\"Lw==\",\"range_end\":\"AA==\"}");
    gmq_buf_reset(&b);
    gmq_etcdapi_body_put(&b, "/gmq/brokers/node1", "{\"addr\":\"127.0.0.1:7000\"}", 25,
                         2324035583286610951LL);
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"key\":\"L2dtcS9icm9rZXJzL25vZGUx\",\"value\":"
                     "\"eyJhZGRyIjoiMTI3LjAuMC4xOjcwMDAifQ==\",\"lease\":\"2324035583286610951\"}");
    gmq_buf_reset(&b);
    gmq_etcdapi_body_grant(&b, 30);
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"TTL\":\"30\"}");
    gmq_buf_reset(&b);
    gmq_etcdapi_body_lease(&b, 2324035583286610951LL);
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"ID\":\"2324035583286610951\"}");
    gmq_buf_reset(&b);
    gmq_etcdapi_body_watch(&b, "/gmq/", "/gmq0", 5);
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"create_request\":{\"key\":\"L2dtcS8=\",\"range_end\":\"L2dtcTA=\","
                     "\"start_revision\":\"5\"}}");
    gmq_buf_reset(&b);
    gmq_etcdapi_node_value(&b, 1, "127.0.0.1:9503", "127.0.0.1:9504", 1, "2019-11-27 16:36:37",
                           "2019-11-27T16:36:37+08:00", "0.1.0");
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"http_addr\":\"127.0.0.1:9504\",\"join_time\":\"2019-11-27 16:36:37\","
                     "\"node_id\":\"1\",\"started_at\":\"2019-11-27T16:36:37+08:00\","
                     "\"tcp_addr\":\"127.0.0.1:9503\",\"version\":\"0.1.0\",\"weight\":\"1\"}");
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_parse_range)
{
    const char *j = "{" H ",\"kvs\":[{\"key\":\"L2dtcS9icm9rZXJzL25vZGUx\",\"create_revision\":\"2\","
        "\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"eyJhZGRyIjoiMTI3LjAuMC4xOjcwMDAifQ==\","
        "\"lease\":\"2324035583286610951\"},{\"key\":\"L2dtcS9icm9rZXJzL25vZGUy\",\"create_revision\":\"3\","
        "\"mod_revision\":\"4\",\"version\":\"2\",\"value\":\"eyJhZGRyIjoiMTI3LjAuMC4xOjcwMDEifQ==\","
        "\"lease\":\"2324035583286610951\"}],\"count\":\"2\"}";
    gmq_etcdapi_kv_t *kvs;
    size_t n;
    int64_t rev;
    char err[128];
    ck_assert_int_eq(gmq_etcdapi_parse_range(j, strlen(j), &kvs, &n, &rev, err, sizeof(err)), GMQ_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(rev, 7);
    ck_assert_str_eq(kvs[0].key, "/gmq/brokers/node1");
    ck_assert_str_eq(kvs[0].value, "{\"addr\":\"127.0.0.1:7000\"}");
    ck_assert_uint_eq(kvs[0].value_len, 25);
    ck_assert(kvs[0].lease == 2324035583286610951LL);
    ck_assert_str_eq(kvs[1].key, "/gmq/brokers/node2");
    ck_assert_int_eq(kvs[1].mod_revision, 4);
    gmq_etcdapi_kvs_free(kvs, n);

    /* empty range: no kvs, no count */
    j = "{" H "}";
    ck_assert_int_eq(gmq_etcdapi_parse_range(j, strlen(j), &kvs, &n, &rev, err, sizeof(err)), GMQ_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(kvs);

    /* keys_only: no value */
    j = "{" H ",\"kvs\":[{\"key\":\"L2dtcS9icm9rZXJzL25vZGUx\",\"mod_revision\":\"2\"}],\"count\":\"1\"}";
    ck_assert_int_eq(gmq_etcdapi_parse_range(j, strlen(j), &kvs, &n, NULL, err, sizeof(err)), GMQ_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_null(kvs[0].value);
    ck_assert(kvs[0].lease == 0);
    gmq_etcdapi_kvs_free(kvs, n);

    /* errors */
    j = "{\"error\":\"unexpected EOF\",\"message\":\"unexpected EOF\",\"code\":3}";
    ck_assert_int_eq(gmq_etcdapi_parse_range(j, strlen(j), &kvs, &n, NULL, err, sizeof(err)), GMQ_ERR);
    ck_assert_str_eq(err, "unexpected EOF");
    j = "{\"kvs\":";
    ck_assert_int_eq(gmq_etcdapi_parse_range(j, strlen(j), &kvs, &n, NULL, err, sizeof(err)), GMQ_ERR);
    ck_assert(strncmp(err, "bad JSON", 8) == 0);
    j = "[1]";
    ck_assert_int_eq(gmq_etcdapi_parse_range(j, strlen(j), &kvs, &n, NULL, err, sizeof(err)), GMQ_ERR);
}
END_TEST

START_TEST(test_parse_lease)
{
    char err[128];
    int64_t id = 0, ttl = -5;
    const char *j = "{" H ",\"ID\":\"2324035583286610951\",\"TTL\":\"10\"}";
    ck_assert_int_eq(gmq_etcdapi_parse_grant(j, strlen(j), &id, &ttl, err, sizeof(err)), GMQ_OK);
    ck_assert(id == 2324035583286610951LL);
    ck_assert_int_eq(ttl, 10);

    j = "{\"result\":{" H ",\"ID\":\"2324035583286610951\",\"TTL\":\"10\"}}";
    ck_assert_int_eq(gmq_etcdapi_parse_ttl(j, strlen(j), &ttl, err, sizeof(err)), GMQ_OK);
    ck_assert_int_eq(ttl, 10);
    /* revoked or expired: no TTL = 0 */
    j = "{\"result\":{" H ",\"ID\":\"2324035583286610951\"}}";
    ck_assert_int_eq(gmq_etcdapi_parse_ttl(j, strlen(j), &ttl, err, sizeof(err)), GMQ_OK);
    ck_assert_int_eq(ttl, 0);
    /* timetolive after revoke */
    j = "{" H ",\"ID\":\"1\",\"TTL\":\"-1\"}";
    ck_assert_int_eq(gmq_etcdapi_parse_ttl(j, strlen(j), &ttl, err, sizeof(err)), GMQ_OK);
    ck_assert_int_eq(ttl, -1);

    int64_t granted = -5;
    j = "{" H ",\"ID\":\"7\",\"TTL\":\"9\",\"grantedTTL\":\"10\"}";
    ck_assert_int_eq(gmq_etcdapi_parse_timetolive(j, strlen(j), &ttl, &granted, err, sizeof(err)),
                     GMQ_OK);
    ck_assert_int_eq(ttl, 9);
    ck_assert_int_eq(granted, 10);
    j = "{" H ",\"ID\":\"7\",\"TTL\":\"-1\"}";
    ck_assert_int_eq(gmq_etcdapi_parse_timetolive(j, strlen(j), &ttl, &granted, err, sizeof(err)),
                     GMQ_OK);
    ck_assert_int_eq(ttl, -1);
    ck_assert_int_eq(granted, 0);
    j = "{\"error\":\"boom\",\"code\":2}";
    ck_assert_int_eq(gmq_etcdapi_parse_timetolive(j, strlen(j), &ttl, &granted, err, sizeof(err)),
                     GMQ_ERR);
    ck_assert_str_eq(err, "boom");

    j = "{" H "}";
    ck_assert_int_eq(gmq_etcdapi_parse_ok(j, strlen(j), err, sizeof(err)), GMQ_OK);
    j = "{\"error\":\"etcdserver: requested lease not found\",\"message\":"
        "\"etcdserver: requested lease not found\",\"code\":5}";
    ck_assert_int_eq(gmq_etcdapi_parse_ok(j, strlen(j), err, sizeof(err)), GMQ_ERR);
    ck_assert_str_eq(err, "etcdserver: requested lease not found");
    ck_assert_int_eq(gmq_etcdapi_parse_grant(j, strlen(j), &id, &ttl, err, sizeof(err)), GMQ_ERR);
}
END_TEST

START_TEST(test_parse_watch)
{
    char err[128];
    int created;
    gmq_etcdapi_kv_t *kvs;
    size_t n;
    int64_t rev;
    const char *j = "{\"result\":{" H ",\"created\":true}}";
    ck_assert_int_eq(gmq_etcdapi_parse_watch(j, strlen(j), &created, &kvs, &n, &rev, err,
                                             sizeof(err)), GMQ_OK);
    ck_assert_int_eq(created, 1);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(rev, 7);

    j = "{\"result\":{" H ",\"events\":[{\"kv\":{\"key\":\"L2dtcS90b3BpY3Mvb3JkZXJz\","
        "\"create_revision\":\"5\",\"mod_revision\":\"5\",\"version\":\"1\","
        "\"value\":\"eyJwYXJ0aXRpb25zIjoxfQ==\"}}]}}";
    ck_assert_int_eq(gmq_etcdapi_parse_watch(j, strlen(j), &created, &kvs, &n, &rev, err,
                                             sizeof(err)), GMQ_OK);
    ck_assert_int_eq(created, 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(kvs[0].key, "/gmq/topics/orders");
    ck_assert_str_eq(kvs[0].value, "{\"partitions\":1}");
    ck_assert_int_eq(kvs[0].deleted, 0);
    gmq_etcdapi_kvs_free(kvs, n);

    j = "{\"result\":{" H ",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2dtcS9icm9rZXJzL25vZGUx\","
        "\"mod_revision\":\"6\"},\"prev_kv\":{\"key\":\"L2dtcS9icm9rZXJzL25vZGUx\",\"value\":\"eA==\"}},"
        "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2dtcS9icm9rZXJzL25vZGUy\",\"mod_revision\":\"6\"}}]}}";
    ck_assert_int_eq(gmq_etcdapi_parse_watch(j, strlen(j), &created, &kvs, &n, &rev, err,
                                             sizeof(err)), GMQ_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(kvs[0].deleted, 1);
    ck_assert_int_eq(kvs[1].deleted, 1);
    ck_assert_str_eq(kvs[1].key, "/gmq/brokers/node2");
    gmq_etcdapi_kvs_free(kvs, n);

    j = "{\"result\":{" H ",\"canceled\":true,\"cancel_reason\":\"mvcc: required revision has been compacted\"}}";
    ck_assert_int_eq(gmq_etcdapi_parse_watch(j, strlen(j), &created, &kvs, &n, &rev, err,
                                             sizeof(err)), GMQ_ERR);
    ck_assert(strstr(err, "compacted") != NULL);
}
END_TEST

START_TEST(test_addr)
{
    char h[64], p[16];
    ck_assert_int_eq(gmq_etcdapi_addr_split("127.0.0.1:9503", h, sizeof(h), p, sizeof(p)), GMQ_OK);
    ck_assert_str_eq(h, "127.0.0.1");
    ck_assert_str_eq(p, "9503");
    ck_assert_int_eq(gmq_etcdapi_addr_split(":9503", h, sizeof(h), p, sizeof(p)), GMQ_OK);
    ck_assert_str_eq(h, "");
    ck_assert(gmq_etcdapi_host_is_wildcard(h));
    ck_assert_int_eq(gmq_etcdapi_addr_split("[::]:9503", h, sizeof(h), p, sizeof(p)), GMQ_OK);
    ck_assert_str_eq(h, "::");
    ck_assert(gmq_etcdapi_host_is_wildcard(h));
    ck_assert(gmq_etcdapi_host_is_wildcard("0.0.0.0"));
    ck_assert(!gmq_etcdapi_host_is_wildcard("10.0.0.1"));
    ck_assert_int_eq(gmq_etcdapi_addr_split("[::1]:1", h, sizeof(h), p, sizeof(p)), GMQ_OK);
    ck_assert_str_eq(h, "::1");
    ck_assert_int_eq(gmq_etcdapi_addr_split("nohost", h, sizeof(h), p, sizeof(p)), GMQ_ERR);
    ck_assert_int_eq(gmq_etcdapi_addr_split("::1:5", h, sizeof(h), p, sizeof(p)), GMQ_ERR);
}
END_TEST

static Suite *
etcdapi_suite(void)
{
    Suite *s = suite_create("etcdapi");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_b64_roundtrip);
    tcase_add_test(tc, test_b64_invalid);
    tcase_add_test(tc, test_b64_strict);
    tcase_add_test(tc, test_b64_large);
    tcase_add_test(tc, test_endpoints);
    tcase_add_test(tc, test_prefix_end_and_bodies);
    tcase_add_test(tc, test_parse_range);
    tcase_add_test(tc, test_parse_lease);
    tcase_add_test(tc, test_parse_watch);
    tcase_add_test(tc, test_addr);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(etcdapi_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

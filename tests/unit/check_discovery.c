/*
 * check_discovery.c - unit tests of client/discovery.c's pure parts: node
 * value parsing (the original's all-string JSON), applying listings and watch
 * events, and nginx's smooth weighted round-robin (shares and smoothness).
 */
#include "client/discovery.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *node1 = "{\"http_addr\":\"127.0.0.1:9504\",\"join_time\":\"2019-11-27 16:36:37\","
                           "\"node_id\":\"1\",\"tcp_addr\":\"127.0.0.1:9503\",\"weight\":\"1\"}";

static void
nodes_with_weights(gmq_discovery_node_t *nodes, const int *w, size_t n)
{
    memset(nodes, 0, n * sizeof(*nodes));
    for (size_t i = 0; i < n; i++) {
        snprintf(nodes[i].node_id, sizeof(nodes[i].node_id), "%d", (int) (i + 1) % 1000);
        nodes[i].weight = w[i];
    }
}

START_TEST(test_node_parse)
{
    gmq_discovery_node_t n;
    ck_assert_int_eq(gmq_discovery_node_parse("/gmq/node-1", node1, strlen(node1), &n), GMQ_OK);
    ck_assert_str_eq(n.node_id, "1");
    ck_assert_str_eq(n.tcp_addr, "127.0.0.1:9503");
    ck_assert_str_eq(n.http_addr, "127.0.0.1:9504");
    ck_assert_str_eq(n.join_time, "2019-11-27 16:36:37");
    ck_assert_int_eq(n.weight, 1);
    ck_assert_str_eq(n.key, "/gmq/node-1");

    /* ours: started_at and version too; numbers accepted */
    const char *j = "{\"node_id\":7,\"tcp_addr\":\"10.0.0.7:9503\",\"http_addr\":\"10.0.0.7:9504\","
                    "\"weight\":5,\"started_at\":\"2026-01-01T00:00:00+00:00\",\"version\":\"0.1.0\"}";
    ck_assert_int_eq(gmq_discovery_node_parse("/gmq/node-7", j, strlen(j), &n), GMQ_OK);
    ck_assert_str_eq(n.node_id, "7");
    ck_assert_int_eq(n.weight, 5);
    ck_assert_str_eq(n.version, "0.1.0");

    /* weight missing or bad counts as 1; node_id from the key */
    j = "{\"tcp_addr\":\"h:1\",\"weight\":\"x\"}";
    ck_assert_int_eq(gmq_discovery_node_parse("/gmq/node-9", j, strlen(j), &n), GMQ_OK);
    ck_assert_str_eq(n.node_id, "9");
    ck_assert_int_eq(n.weight, 1);

    ck_assert_int_eq(gmq_discovery_node_parse("/gmq/node-1", "nope", 4, &n), GMQ_ERR);
    ck_assert_int_eq(gmq_discovery_node_parse("/gmq/node-1", "[]", 2, &n), GMQ_ERR);
    ck_assert_int_eq(gmq_discovery_node_parse("/gmq/node-1", "{\"node_id\":\"1\"}", 15, &n), GMQ_ERR);
}
END_TEST

START_TEST(test_swrr_shares)
{
    static const int w[] = { 1, 2, 5 };
    gmq_discovery_node_t nodes[3];
    nodes_with_weights(nodes, w, 3);
    int count[3] = { 0 };
    const int picks = 10000;
    for (int i = 0; i < picks; i++) {
        int k = gmq_discovery_swrr(nodes, 3);
        ck_assert(k >= 0 && k < 3);
        count[k]++;
    }
    for (int k = 0; k < 3; k++) {
        double share = 100.0 * count[k] / picks, want = 100.0 * w[k] / 8;
        ck_assert_msg(share > want - 2 && share < want + 2, "node %d: %.2f%% want %.2f%%",
                      k, share, want);
    }
}
END_TEST

START_TEST(test_swrr_smooth)
{
    static const int w[] = { 1, 1, 3 };
    gmq_discovery_node_t nodes[3];
    nodes_with_weights(nodes, w, 3);
    int prev = -1, run = 0;
    for (int i = 0; i < 10000; i++) {
        int k = gmq_discovery_swrr(nodes, 3);
        run = k == prev ? run + 1 : 1;
        prev = k;
        ck_assert_msg(run <= w[k], "node %d picked %d times in a row (weight %d)", k, run, w[k]);
    }
    /* nginx's sequence for {a:5, b:1, c:1}: a a b a c a a */
    static const int w2[] = { 5, 1, 1 };
    static const int seq[] = { 0, 0, 1, 0, 2, 0, 0 };
    nodes_with_weights(nodes, w2, 3);
    for (size_t i = 0; i < GMQ_ARRAY_LEN(seq); i++)
        ck_assert_int_eq(gmq_discovery_swrr(nodes, 3), seq[i]);
    ck_assert_int_eq(gmq_discovery_swrr(nodes, 0), -1);
}
END_TEST

/* only eligible nodes are picked, with their weights; the others keep their state */
START_TEST(test_swrr_among)
{
    static const int w[] = { 1, 2, 5 };
    gmq_discovery_node_t nodes[3];
    nodes_with_weights(nodes, w, 3);
    unsigned char el[3] = { 1, 1, 0 };
    int count[3] = { 0 };
    for (int i = 0; i < 300; i++)
        count[gmq_discovery_swrr_among(nodes, 3, el)]++;
    ck_assert_int_eq(count[0], 100);
    ck_assert_int_eq(count[1], 200);
    ck_assert_int_eq(count[2], 0);
    ck_assert_int_eq(nodes[2].current, 0);
    el[0] = el[1] = 0;
    ck_assert_int_eq(gmq_discovery_swrr_among(nodes, 3, el), -1);
    el[2] = 1;
    ck_assert_int_eq(gmq_discovery_swrr_among(nodes, 3, el), 2);
}
END_TEST

START_TEST(test_apply)
{
    gmq_discovery_node_t *nodes = NULL;
    size_t n = 0;
    char v2[256], v10[256];
    snprintf(v2, sizeof(v2), "{\"node_id\":\"2\",\"tcp_addr\":\"h:2\",\"http_addr\":\"h:20\",\"weight\":\"3\"}");
    snprintf(v10, sizeof(v10), "{\"node_id\":\"10\",\"tcp_addr\":\"h:10\",\"http_addr\":\"h:100\",\"weight\":\"1\"}");
    gmq_etcdapi_kv_t kvs[3] = {
        { .key = "/gmq/node-10", .value = v10, .value_len = strlen(v10) },
        { .key = "/gmq/node-2", .value = v2, .value_len = strlen(v2) },
        { .key = "/gmq/node-1", .value = (char *) node1, .value_len = strlen(node1) },
    };
    ck_assert_int_eq(gmq_discovery_apply(&nodes, &n, kvs, 3, 1), 1);
    ck_assert_uint_eq(n, 3);
    /* sorted by numeric id */
    ck_assert_str_eq(nodes[0].node_id, "1");
    ck_assert_str_eq(nodes[1].node_id, "2");
    ck_assert_str_eq(nodes[2].node_id, "10");
    ck_assert_int_eq(nodes[1].weight, 3);

    /* same listing again: no change */
    ck_assert_int_eq(gmq_discovery_apply(&nodes, &n, kvs, 3, 1), 0);

    /* watch: DELETE of node 2 */
    gmq_etcdapi_kv_t del = { .key = "/gmq/node-2", .deleted = 1 };
    ck_assert_int_eq(gmq_discovery_apply(&nodes, &n, &del, 1, 0), 1);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(nodes[1].node_id, "10");

    /* a listing without node 10 drops it */
    ck_assert_int_eq(gmq_discovery_apply(&nodes, &n, &kvs[2], 1, 1), 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(nodes[0].node_id, "1");

    /* an empty listing empties it */
    ck_assert_int_eq(gmq_discovery_apply(&nodes, &n, NULL, 0, 1), 1);
    ck_assert_uint_eq(n, 0);
    free(nodes);
}
END_TEST

/* A key longer than a node's key field (no gmq node's: /gmq/node-<id>) is
 * no node. It was kept cut to the field: a full listing then never matched
 * it (every listing dropped it and added it again, a change each time),
 * a watch update of it added a second node, and a DELETE of it removed
 * nothing. Found by fuzz_etcd (etcd-bb5385a89fa8: the listing idempotence
 * check). */
START_TEST(test_apply_long_key)
{
    gmq_discovery_node_t *nodes = NULL, one;
    size_t n = 0;
    char key[160];
    snprintf(key, sizeof(key), "/gmq/node-%0140d", 7);
    ck_assert_int_eq(gmq_discovery_node_parse(key, node1, strlen(node1), &one), GMQ_ERR);
    gmq_etcdapi_kv_t kvs[2] = {
        { .key = key, .value = (char *) node1, .value_len = strlen(node1) },
        { .key = "/gmq/node-1", .value = (char *) node1, .value_len = strlen(node1) },
    };
    ck_assert_int_eq(gmq_discovery_apply(&nodes, &n, kvs, 2, 1), 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(nodes[0].key, "/gmq/node-1");
    ck_assert_int_eq(gmq_discovery_apply(&nodes, &n, kvs, 2, 1), 0);   /* the same listing */
    ck_assert_int_eq(gmq_discovery_apply(&nodes, &n, kvs, 1, 0), 0);   /* a watch update */
    ck_assert_uint_eq(n, 1);
    free(nodes);
}
END_TEST

static Suite *
discovery_suite(void)
{
    Suite *s = suite_create("discovery");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_node_parse);
    tcase_add_test(tc, test_swrr_shares);
    tcase_add_test(tc, test_swrr_smooth);
    tcase_add_test(tc, test_swrr_among);
    tcase_add_test(tc, test_apply);
    tcase_add_test(tc, test_apply_long_key);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(discovery_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

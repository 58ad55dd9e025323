/*
 * check_heap.c - the min-heap with back-index used as delay heap and TTR
 * heap: order, ties by the owner's tie-break then in insertion order,
 * removal from the middle, and a
 * randomized comparison against sorting.
 */
#include "worker/heap.h"

#include <check.h>
#include <stdlib.h>

typedef struct {
    int             tag;
    gmq_heap_node_t node;
} item_t;

START_TEST(test_order)
{
    gmq_heap_t h;
    gmq_heap_init(&h);
    uint64_t keys[] = { 50, 10, 40, 20, 30 };
    item_t it[5];
    for (int i = 0; i < 5; i++) {
        it[i].tag = i;
        gmq_heap_node_init(&it[i].node);
        it[i].node.key = keys[i];
        gmq_heap_push(&h, &it[i].node);
    }
    ck_assert_uint_eq(gmq_heap_len(&h), 5);
    uint64_t prev = 0;
    for (int i = 0; i < 5; i++) {
        gmq_heap_node_t *n = gmq_heap_pop(&h);
        ck_assert_ptr_nonnull(n);
        ck_assert_uint_ge(n->key, prev);
        ck_assert(!gmq_heap_contains(n));
        prev = n->key;
    }
    ck_assert_ptr_null(gmq_heap_pop(&h));
    gmq_heap_free(&h);
}
END_TEST

START_TEST(test_ties_fifo)
{
    gmq_heap_t h;
    gmq_heap_init(&h);
    item_t it[100];
    for (int i = 0; i < 100; i++) {
        it[i].tag = i;
        gmq_heap_node_init(&it[i].node);
        it[i].node.key = 7;
        gmq_heap_push(&h, &it[i].node);
    }
    for (int i = 0; i < 100; i++) {
        item_t *x = container_of(gmq_heap_pop(&h), item_t, node);
        ck_assert_int_eq(x->tag, i);
    }
    gmq_heap_free(&h);
}
END_TEST

START_TEST(test_remove_middle_random)
{
    enum { N = 2000 };
    gmq_heap_t h;
    gmq_heap_init(&h);
    item_t *it = calloc(N, sizeof(*it));
    srand(12345);
    for (int i = 0; i < N; i++) {
        gmq_heap_node_init(&it[i].node);
        it[i].node.key = (uint64_t) (rand() % 500);
        gmq_heap_push(&h, &it[i].node);
    }
    /* remove every third, through the back-index */
    for (int i = 0; i < N; i += 3) {
        ck_assert(gmq_heap_contains(&it[i].node));
        gmq_heap_remove(&h, &it[i].node);
        ck_assert(!gmq_heap_contains(&it[i].node));
    }
    /* back-index consistent */
    for (size_t i = 0; i < h.len; i++)
        ck_assert_uint_eq(h.a[i]->idx, i);
    uint64_t prev = 0;
    size_t n = 0;
    gmq_heap_node_t *x;
    while ((x = gmq_heap_pop(&h)) != NULL) {
        ck_assert_uint_ge(x->key, prev);
        prev = x->key;
        n++;
    }
    ck_assert_uint_eq(n, N - (N + 2) / 3);
    free(it);
    gmq_heap_free(&h);
}
END_TEST
/* equal keys: by the tie-break first (the queue's: the id), then FIFO */
START_TEST(test_ties_by_tie)
{
    gmq_heap_t h;
    gmq_heap_init(&h);
    item_t it[6];
    static const uint64_t tie[] = { 3, 1, 2, 1, 0, 3 };
    static const int want[] = { 4, 1, 3, 2, 0, 5 };
    for (int i = 0; i < 6; i++) {
        it[i].tag = i;
        gmq_heap_node_init(&it[i].node);
        it[i].node.key = 7;
        it[i].node.tie = tie[i];
        gmq_heap_push(&h, &it[i].node);
    }
    for (int i = 0; i < 6; i++) {
        item_t *x = container_of(gmq_heap_pop(&h), item_t, node);
        ck_assert_int_eq(x->tag, want[i]);
    }
    gmq_heap_free(&h);
}
END_TEST

START_TEST(test_reinsert_new_key)
{
    gmq_heap_t h;
    gmq_heap_init(&h);
    item_t a = { .tag = 1 }, b = { .tag = 2 };
    gmq_heap_node_init(&a.node);
    gmq_heap_node_init(&b.node);
    a.node.key = 10;
    b.node.key = 20;
    gmq_heap_push(&h, &a.node);
    gmq_heap_push(&h, &b.node);
    ck_assert_ptr_eq(gmq_heap_top(&h), &a.node);
    gmq_heap_remove(&h, &a.node);
    a.node.key = 30;          /* e.g. a TTR deadline pushed back */
    gmq_heap_push(&h, &a.node);
    ck_assert_ptr_eq(gmq_heap_top(&h), &b.node);
    gmq_heap_free(&h);
}
END_TEST

static Suite *
heap_suite(void)
{
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_ties_fifo);
    tcase_add_test(tc, test_ties_by_tie);
    tcase_add_test(tc, test_remove_middle_random);
    tcase_add_test(tc, test_reinsert_new_key);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(heap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

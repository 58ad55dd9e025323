/*
 * check_route.c - routing: exact match, AMQP topic wildcards, PCRE2 search
 * with the pattern cache, invalid patterns, a hostile pattern that must
 * return quickly with an error, and the step budget of one push.
 */
#include "worker/route.h"
#include "common/gmq.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_exact)
{
    ck_assert(gmq_route_exact("a.b", "a.b"));
    ck_assert(!gmq_route_exact("a.b", "a.bc"));
    ck_assert(!gmq_route_exact("", "a"));
}
END_TEST

START_TEST(test_topic_wildcards)
{
    ck_assert(gmq_route_topic_match("a.b.c", "a.b.c"));
    ck_assert(!gmq_route_topic_match("a.b.c", "a.b"));
    ck_assert(gmq_route_topic_match("a.*.c", "a.b.c"));
    ck_assert(!gmq_route_topic_match("a.*.c", "a.c"));
    ck_assert(!gmq_route_topic_match("a.*.c", "a.b.b.c"));
    ck_assert(gmq_route_topic_match("a.#", "a"));
    ck_assert(gmq_route_topic_match("a.#", "a.b.c.d"));
    ck_assert(gmq_route_topic_match("#", "anything.at.all"));
    ck_assert(gmq_route_topic_match("#.c", "c"));
    ck_assert(gmq_route_topic_match("a.#.c", "a.c"));
    ck_assert(gmq_route_topic_match("a.#.c", "a.x.y.c"));
    ck_assert(!gmq_route_topic_match("a.#.c", "a.x.y.d"));
    ck_assert(gmq_route_topic_match("*.*", "x.y"));
    ck_assert(!gmq_route_topic_match("*", "x.y"));
    ck_assert(gmq_route_topic_match("#.#.#.x", "x"));
    ck_assert(!gmq_route_topic_match("ab", "a"));
    ck_assert(!gmq_route_topic_match("a*", "ab"));   /* '*' is only a whole word */
}
END_TEST

START_TEST(test_topic_many_hashes_fast)
{
    char pat[600], key[130];
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        pat[n++] = '#';
        pat[n++] = '.';
    }
    strcpy(pat + n, "z");
    for (int i = 0; i < 64; i++) {
        key[2 * i] = 'a';
        key[2 * i + 1] = '.';
    }
    key[127] = '\0';
    key[126] = 'b';
    ck_assert(!gmq_route_topic_match(pat, key));
}
END_TEST

START_TEST(test_regex_search)
{
    gmq_route_cache_t *c = gmq_route_cache_new(2);
    gmq_error_t err;
    uint64_t budget = GMQ_ROUTE_PUSH_BUDGET;
    gmq_route_regex_t *re = gmq_route_regex(c, "home", &err);
    ck_assert_ptr_nonnull(re);
    ck_assert_int_eq(gmq_route_regex_search(c, re, "homework", &budget, &err), 1);
    ck_assert_int_eq(gmq_route_regex_search(c, re, "hom", &budget, &err), 0);
    re = gmq_route_regex(c, "^a$", &err);
    ck_assert_int_eq(gmq_route_regex_search(c, re, "a", &budget, &err), 1);
    ck_assert_int_eq(gmq_route_regex_search(c, re, "ab", &budget, &err), 0);
    /* cached: the same slot comes back */
    gmq_route_regex_t *again = gmq_route_regex(c, "^a$", &err);
    ck_assert_ptr_eq(again, re);
    /* eviction with 2 slots */
    ck_assert_ptr_nonnull(gmq_route_regex(c, "x", &err));
    ck_assert_ptr_nonnull(gmq_route_regex(c, "y", &err));
    re = gmq_route_regex(c, "home", &err);
    ck_assert_int_eq(gmq_route_regex_search(c, re, "homework", &budget, &err), 1);
    gmq_route_cache_free(c);
}
END_TEST

START_TEST(test_regex_invalid)
{
    gmq_route_cache_t *c = gmq_route_cache_new(0);
    gmq_error_t err;
    ck_assert_ptr_null(gmq_route_regex(c, "a(b", &err));
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ROUTE);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing closing parenthesis"));
    gmq_route_cache_free(c);
}
END_TEST

/* a search that hits PCRE2's match limit is an error naming the limit, not
 * "no match"; patterns that fail fast by PCRE2's own analysis are no match */
START_TEST(test_regex_hostile)
{
    gmq_route_cache_t *c = gmq_route_cache_new(0);
    gmq_error_t err;
    char subject[129];
    memset(subject, 'a', 127);
    subject[127] = '!';
    subject[128] = '\0';
    const char *pats[] = { "(a+)+$", "(a|aa)+$", "(a*)*b", "((a+)*)+c" };
    uint64_t t0 = gmq_mono_ms();
    for (size_t i = 0; i < GMQ_ARRAY_LEN(pats); i++) {
        gmq_route_regex_t *re = gmq_route_regex(c, pats[i], &err);
        ck_assert_ptr_nonnull(re);
        uint64_t budget = GMQ_ROUTE_PUSH_BUDGET;
        int rc = gmq_route_regex_search(c, re, subject, &budget, &err);
        ck_assert_msg(rc == 0 || rc == GMQ_ERR, "%s: %d", pats[i], rc);
        if (i < 2) {
            ck_assert_int_eq(rc, GMQ_ERR);
            ck_assert_int_eq(err.code, GMQ_E_INVALID_ROUTE);
            ck_assert_msg(strstr(err.msg, "match limit (100000)") != NULL, "%s", err.msg);
            ck_assert_ptr_nonnull(strstr(err.msg, subject));
        }
    }
    ck_assert_uint_lt(gmq_mono_ms() - t0, 2000);   /* a stall would be minutes */
    gmq_route_cache_free(c);
}
END_TEST

/* one budget for all the bind keys of a push: a pattern that stays under
 * the per-key limit on each of 1,000 keys still stops, with an error */
START_TEST(test_regex_push_budget)
{
    gmq_route_cache_t *c = gmq_route_cache_new(0);
    gmq_error_t err;
    gmq_route_regex_t *re = gmq_route_regex(c, "(a+)+$", &err);
    ck_assert_ptr_nonnull(re);
    const char *key = "aaaaaaaaaaaaaa!";         /* ~100,000 steps, under the match limit */
    uint64_t budget = GMQ_ROUTE_PUSH_BUDGET;
    ck_assert_int_eq(gmq_route_regex_search(c, re, key, &budget, &err), 0);
    ck_assert_uint_lt(budget, GMQ_ROUTE_PUSH_BUDGET - 50000);
    int i, rc = 0;
    for (i = 1; i < 1000 && (rc = gmq_route_regex_search(c, re, key, &budget, &err)) == 0; i++) {}
    ck_assert_int_eq(rc, GMQ_ERR);
    ck_assert_int_lt(i, 100);
    ck_assert_uint_eq(budget, 0);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ROUTE);
    ck_assert_msg(strstr(err.msg, "budget of a push (2000000 steps") != NULL, "%s", err.msg);
    /* nothing left: the next search fails at once */
    ck_assert_int_eq(gmq_route_regex_search(c, re, "a", &budget, &err), GMQ_ERR);

    /* a plain pattern over 1,000 keys stays well inside it */
    re = gmq_route_regex(c, "^orders\\.region-1[0-9]\\.", &err);
    ck_assert_ptr_nonnull(re);
    budget = GMQ_ROUTE_PUSH_BUDGET;
    int hits = 0;
    for (i = 0; i < 1000; i++) {
        char k[64];
        snprintf(k, sizeof(k), "orders.region-%d.item.created", i);
        rc = gmq_route_regex_search(c, re, k, &budget, &err);
        ck_assert_int_ge(rc, 0);
        hits += rc;
    }
    ck_assert_int_eq(hits, 10);
    ck_assert_uint_gt(budget, GMQ_ROUTE_PUSH_BUDGET / 2);
    gmq_route_cache_free(c);
}
END_TEST

static Suite *
route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_exact);
    tcase_add_test(tc, test_topic_wildcards);
    tcase_add_test(tc, test_topic_many_hashes_fast);
    tcase_add_test(tc, test_regex_search);
    tcase_add_test(tc, test_regex_invalid);
    tcase_add_test(tc, test_regex_hostile);
    tcase_add_test(tc, test_regex_push_budget);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(route_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

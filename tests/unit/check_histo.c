/*
 * check_histo.c - the latency histogram (common/histo.c): bucket edges
 * (le is "less than or equal"), adding, the JSON round trip a STAT reply
 * carries, and what /proc says about this process (common/procstat.c).
 */
#include "common/histo.h"
#include "common/procstat.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

START_TEST(test_edges)
{
    gmq_histo_t h;
    memset(&h, 0, sizeof(h));
    gmq_histo_observe(&h, 0);          /* first bucket */
    gmq_histo_observe(&h, .0001);      /* on the bound: still the first */
    gmq_histo_observe(&h, .00011);     /* the second */
    gmq_histo_observe(&h, 10);         /* the last finite one */
    gmq_histo_observe(&h, 10.5);       /* +Inf */
    gmq_histo_observe(&h, -1);         /* a clock step back counts as 0 */
    ck_assert_uint_eq(h.buckets[0], 3);
    ck_assert_uint_eq(h.buckets[1], 1);
    ck_assert_uint_eq(h.buckets[GMQ_HISTO_NBOUNDS - 1], 1);
    ck_assert_uint_eq(h.buckets[GMQ_HISTO_NBOUNDS], 1);
    ck_assert_uint_eq(h.count, 6);
    ck_assert(h.sum > 20.5002 && h.sum < 20.5003);
    for (int i = 1; i < GMQ_HISTO_NBOUNDS; i++)
        ck_assert(gmq_histo_bound(i) > gmq_histo_bound(i - 1));
    ck_assert_str_eq(gmq_histo_le(1), "0.00025");
    ck_assert_str_eq(gmq_histo_le(GMQ_HISTO_NBOUNDS - 1), "10");
}
END_TEST

START_TEST(test_json_round_trip)
{
    gmq_histo_t h, back, sum;
    memset(&h, 0, sizeof(h));
    memset(&sum, 0, sizeof(sum));
    gmq_histo_observe(&h, .003);
    gmq_histo_observe(&h, .2);
    gmq_histo_observe(&h, 60);
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_append_str(&b, "{\"name\":\"t\"");
    gmq_histo_json(&h, "fsync", &b);
    gmq_buf_append(&b, "}", 2);
    char err[128];
    yajl_val root = yajl_tree_parse(b.data, err, sizeof(err));
    ck_assert_msg(root != NULL, "%s: %s", err, b.data);
    ck_assert_int_eq(gmq_histo_from_json(&back, root, "fsync"), GMQ_OK);
    ck_assert_mem_eq(back.buckets, h.buckets, sizeof(h.buckets));
    ck_assert_uint_eq(back.count, 3);
    ck_assert(back.sum > 60.2029 && back.sum < 60.2031);
    ck_assert_int_eq(gmq_histo_from_json(&back, root, "other"), GMQ_ERR);
    ck_assert_uint_eq(back.count, 0);
    gmq_histo_add(&sum, &h);
    gmq_histo_add(&sum, &h);
    ck_assert_uint_eq(sum.count, 6);
    ck_assert_uint_eq(sum.buckets[GMQ_HISTO_NBOUNDS], 2);
    yajl_tree_free(root);
    gmq_buf_free(&b);

    /* a wrong number of buckets is refused */
    root = yajl_tree_parse("{\"x_buckets\":[1,2],\"x_sum\":1.0,\"x_count\":3}", err, sizeof(err));
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(gmq_histo_from_json(&back, root, "x"), GMQ_ERR);
    yajl_tree_free(root);
}
END_TEST

START_TEST(test_procstat_self)
{
    gmq_procstat_t ps;
    struct rlimit rl;
    ck_assert_int_eq(gmq_procstat_read(getpid(), &ps), GMQ_OK);
    ck_assert(ps.rss_bytes > 0);
    ck_assert(ps.vsize_bytes >= ps.rss_bytes);
    ck_assert(ps.fds >= 3);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY)
        ck_assert_int_eq(ps.max_fds, (long long) rl.rlim_cur);
    double now = (double) time(NULL);
    ck_assert_msg(ps.start_time > now - 3600 && ps.start_time <= now + 2, "start %f now %f",
                  ps.start_time, now);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("histo");
    TCase *tc = tcase_create("histo");
    tcase_add_test(tc, test_edges);
    tcase_add_test(tc, test_json_round_trip);
    tcase_add_test(tc, test_procstat_self);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

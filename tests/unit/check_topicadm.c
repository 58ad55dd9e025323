/*
 * check_topicadm.c - queue management through the storage API with
 * simulated time: purge (and its PURGE record replayed after a reopen),
 * delete of a queue (orphaned directories removed at open) and of the
 * topic, peek, dead-letter list and kick, touch, release with a delay.
 */
#include "worker/topic.h"
#include "common/config.h"
#include "common/log.h"
#include "common/seam.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000000ull   /* simulated wall clock, ms */

static char dir[64];
static gmq_store_opts_t opts;

static void
setup(void)
{
    strcpy(dir, "/tmp/gmq-topicadm-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    gmq_log_open(GMQ_LOG_ERROR, NULL);
    gmq_seam_reset();
    opts = (gmq_store_opts_t) { .data_dir = dir, .fsync = GMQ_FSYNC_ALWAYS,
                                .segment_size = 1 << 20, .max_delay_ms = 259200000ull,
                                .default_ttr = 30, .default_retry = 0, .max_queues = 100 };
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        perror("rm");
}

static gmq_topic_t *
open_topic(void)
{
    gmq_error_t err;
    gmq_topic_t *t = gmq_topic_open("jobs", &opts, &err);
    ck_assert_msg(t != NULL, "open: %s", err.msg);
    return t;
}

static void
declare_ok(gmq_topic_t *t, const char *bk)
{
    gmq_error_t err;
    ck_assert_msg(gmq_topic_declare(t, bk, &err) == GMQ_OK, "declare: %s", err.msg);
}

static void
push_ok(gmq_topic_t *t, uint64_t id, const char *rk, uint64_t delay, uint64_t now)
{
    gmq_error_t err;
    char body[32];
    snprintf(body, sizeof(body), "m%llu", (unsigned long long) id);
    ck_assert_msg(gmq_topic_push(t, id, rk, body, strlen(body), delay, now, &err) == GMQ_OK,
                  "push: %s", err.msg);
}

static uint64_t
pop_id(gmq_topic_t *t, const char *bk, uint64_t now)
{
    gmq_error_t err;
    gmq_msg_t m;
    int rc = gmq_topic_pop(t, bk, now, &m, &err);
    return rc == GMQ_OK ? m.id : 0;
}

/* a number field of the stats JSON of queue bk (first queue in the list) */
static long
stat_of(gmq_topic_t *t, const char *field)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_topic_stats_json(t, &b);
    gmq_buf_append(&b, "", 1);
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":", field);
    const char *p = strstr(b.data, "\"queues\":[");
    p = p ? strstr(p, key) : NULL;
    long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
    gmq_buf_free(&b);
    return v;
}

START_TEST(test_purge_drops_ready_and_delayed_and_survives_reopen)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    uint64_t n;
    declare_ok(t, "q");
    for (uint64_t i = 1; i <= 5; i++)
        push_ok(t, i, "q", 0, T0);
    push_ok(t, 6, "q", 60000, T0);
    ck_assert_uint_eq(pop_id(t, "q", T0), 1);
    /* in flight: refused without force, nothing changed */
    ck_assert_int_eq(gmq_topic_purge(t, "q", 0, &n, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_IN_FLIGHT);
    ck_assert_str_eq(err.msg, "queue q has 1 messages in flight; use force");
    ck_assert_int_eq(stat_of(t, "ready"), 4);
    gmq_error_t e2;
    ck_assert_int_eq(gmq_topic_ack(t, "q", 1, &e2), GMQ_OK);
    ck_assert_int_eq(gmq_topic_purge(t, "q", 0, &n, &err), GMQ_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(stat_of(t, "ready"), 0);
    ck_assert_int_eq(stat_of(t, "delayed"), 0);
    /* the binding stays: new pushes go in, and survive with the purge */
    push_ok(t, 7, "q", 0, T0 + 1);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_of(t, "ready"), 1);
    ck_assert_int_eq(stat_of(t, "delayed"), 0);
    ck_assert_uint_eq(pop_id(t, "q", T0 + 2), 7);
    ck_assert_uint_eq(pop_id(t, "q", T0 + 2), 0);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 120000), 1);   /* only 7's TTR, not 6's delay */
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_purge_force_drops_in_flight)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    uint64_t n;
    declare_ok(t, "q");
    push_ok(t, 1, "q", 0, T0);
    push_ok(t, 2, "q", 0, T0);
    ck_assert_uint_eq(pop_id(t, "q", T0), 1);
    ck_assert_int_eq(gmq_topic_purge(t, "q", 1, &n, &err), GMQ_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(gmq_topic_ack(t, "q", 1, &err), GMQ_ERR);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 3600000), 0);   /* no TTR left behind */
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_of(t, "ready"), 0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_delete_queue_and_orphans)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    uint64_t n;
    declare_ok(t, "a");
    declare_ok(t, "b");
    push_ok(t, 1, "a", 0, T0);
    push_ok(t, 2, "b", 0, T0);
    ck_assert_int_eq(gmq_topic_delete_queue(t, "zz", 0, &n, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_NOT_FOUND);
    ck_assert_int_eq(gmq_topic_delete_queue(t, "a", 0, &n, &err), GMQ_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(pop_id(t, "a", T0), 0);
    ck_assert_uint_eq(pop_id(t, "b", T0), 2);
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/jobs/q/a", dir);
    ck_assert_int_ne(stat(path, &st), 0);
    /* re-declared: empty */
    declare_ok(t, "a");
    ck_assert_uint_eq(pop_id(t, "a", T0), 0);
    ck_assert_int_eq(gmq_topic_delete_queue(t, "a", 0, &n, &err), GMQ_OK);
    gmq_topic_close(t);
    /* a delete that crashed after its commit point left a directory */
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/jobs/q/ghost %s/jobs/dlq/ghost && touch "
             "%s/jobs/q/ghost/seg-0000000000000001.log", dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    t = open_topic();
    snprintf(path, sizeof(path), "%s/jobs/q/ghost", dir);
    ck_assert_int_ne(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/jobs/dlq/ghost", dir);
    ck_assert_int_ne(stat(path, &st), 0);
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_topic_queues_json(t, &b);
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"b\":\"jobs_b\"}");
    gmq_buf_free(&b);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_delete_topic)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    declare_ok(t, "q");
    push_ok(t, 1, "q", 0, T0);
    ck_assert_uint_eq(pop_id(t, "q", T0), 1);
    ck_assert_int_eq(gmq_topic_delete(t, 0, &err), GMQ_ERR);
    ck_assert_str_eq(err.msg, "topic jobs has 1 messages in flight; use force");
    ck_assert_int_eq(gmq_topic_deleted(t), 0);
    ck_assert_int_eq(gmq_topic_delete(t, 1, &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_deleted(t), 1);
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/jobs", dir);
    ck_assert_int_ne(stat(path, &st), 0);     /* renamed away at once */
    gmq_topic_close(t);
    char cmd[256];
    /* removed at close (the data directory's storage id stays) */
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s | grep -vx '.gmq.incarnation')\"", dir);
    ck_assert_int_eq(system(cmd), 0);
    t = open_topic();                           /* a fresh, empty topic */
    ck_assert_uint_eq(pop_id(t, "q", T0), 0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_peek_list_kick)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    gmq_buf_t b;
    declare_ok(t, "q");
    gmq_buf_init(&b);
    ck_assert_int_eq(gmq_topic_peek(t, "q", GMQ_TOPIC_PEEK_READY, &b, &err), GMQ_AGAIN);
    ck_assert_int_eq(gmq_topic_peek(t, "nope", GMQ_TOPIC_PEEK_READY, &b, &err), GMQ_ERR);
    push_ok(t, 1, "q", 0, T0);
    push_ok(t, 2, "q", 0, T0);
    push_ok(t, 3, "q", 50000, T0);
    push_ok(t, 4, "q", 20000, T0);
    ck_assert_int_eq(gmq_topic_peek(t, "q", GMQ_TOPIC_PEEK_READY, &b, &err), GMQ_OK);
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "{\"id\":\"1\",\"body\":\"m1\",\"retry_count\":0,\"state\":\"ready\","
                             "\"pushed_at\":1700000000000}");
    gmq_buf_reset(&b);
    ck_assert_int_eq(gmq_topic_peek(t, "q", GMQ_TOPIC_PEEK_DELAYED, &b, &err), GMQ_OK);
    gmq_buf_append(&b, "", 1);
    ck_assert_ptr_nonnull(strstr(b.data, "\"id\":\"4\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"due_at\":1700000020000"));
    gmq_buf_reset(&b);
    /* peeking delivers nothing */
    ck_assert_uint_eq(pop_id(t, "q", T0), 1);
    ck_assert_uint_eq(pop_id(t, "q", T0), 2);
    /* retry 0: both dead-letter at their TTR (and 4 becomes ready) */
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 31000), 3);
    ck_assert_int_eq(gmq_topic_peek(t, "q", GMQ_TOPIC_PEEK_DEAD, &b, &err), GMQ_OK);
    gmq_buf_append(&b, "", 1);
    ck_assert_ptr_nonnull(strstr(b.data, "\"id\":\"1\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"state\":\"dead\""));
    gmq_buf_reset(&b);
    ck_assert_int_eq(gmq_topic_list_dead(t, "q", 1, &b, &err), GMQ_OK);
    gmq_buf_append(&b, "", 1);
    ck_assert_ptr_nonnull(strstr(b.data, "\"id\":\"1\""));
    ck_assert_ptr_null(strstr(b.data, "\"id\":\"2\""));
    gmq_buf_reset(&b);
    uint64_t moved;
    ck_assert_int_eq(gmq_topic_kick(t, "q", 1, &moved, &err), GMQ_OK);
    ck_assert_uint_eq(moved, 1);
    ck_assert_int_eq(stat_of(t, "dead"), 1);
    ck_assert_uint_eq(pop_id(t, "q", T0 + 32000), 4);    /* kicked to the tail */
    ck_assert_uint_eq(pop_id(t, "q", T0 + 32000), 1);
    ck_assert_int_eq(gmq_topic_kick(t, "q", 10, &moved, &err), GMQ_OK);
    ck_assert_uint_eq(moved, 1);
    ck_assert_int_eq(gmq_topic_list_dead(t, "q", 10, &b, &err), GMQ_OK);
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(b.data, "[]");
    gmq_buf_free(&b);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_touch_and_release)
{
    opts.default_retry = 5;
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    uint64_t deadline;
    declare_ok(t, "q");
    push_ok(t, 1, "q", 0, T0);
    push_ok(t, 2, "q", 0, T0);
    ck_assert_int_eq(gmq_topic_touch(t, "q", 1, T0, &deadline, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_NOT_FOUND);
    ck_assert_uint_eq(pop_id(t, "q", T0), 1);
    /* touched at +20 s: its TTR (30 s) runs from then */
    ck_assert_int_eq(gmq_topic_touch(t, "q", 1, T0 + 20000, &deadline, &err), GMQ_OK);
    ck_assert_uint_eq(deadline, T0 + 50000);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 31000), 0);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 50000), 1);
    /* released with a delay: back after it, retry + 1, also after a reopen */
    ck_assert_uint_eq(pop_id(t, "q", T0 + 50001), 2);
    ck_assert_int_eq(gmq_topic_nack(t, "q", 2, 10000, T0 + 50001, &err), GMQ_OK);
    ck_assert_int_eq(stat_of(t, "delayed"), 1);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_of(t, "delayed"), 1);
    ck_assert_uint_eq(pop_id(t, "q", T0 + 50002), 1);     /* 1 came back from its TTR */
    ck_assert_uint_eq(pop_id(t, "q", T0 + 50002), 0);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 60001), 1);
    gmq_msg_t m;
    ck_assert_int_eq(gmq_topic_pop(t, "q", T0 + 60002, &m, &err), GMQ_OK);
    ck_assert_uint_eq(m.id, 2);
    ck_assert_uint_eq(m.retry, 1);
    /* released at once: ready again */
    ck_assert_int_eq(gmq_topic_nack(t, "q", 2, 0, T0 + 60003, &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_pop(t, "q", T0 + 60004, &m, &err), GMQ_OK);
    ck_assert_uint_eq(m.id, 2);
    ck_assert_uint_eq(m.retry, 2);
    ck_assert_int_eq(gmq_topic_nack(t, "q", 2, 259200001ull, T0, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_DELAY);
    gmq_topic_close(t);
}
END_TEST

static Suite *
topicadm_suite(void)
{
    Suite *s = suite_create("topicadm");
    TCase *tc = tcase_create("manage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_purge_drops_ready_and_delayed_and_survives_reopen);
    tcase_add_test(tc, test_purge_force_drops_in_flight);
    tcase_add_test(tc, test_delete_queue_and_orphans);
    tcase_add_test(tc, test_delete_topic);
    tcase_add_test(tc, test_peek_list_kick);
    tcase_add_test(tc, test_touch_and_release);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(topicadm_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * check_counters.c - the counters file (worker/counters.c) through the
 * topic API: the counters survive a kill -9 of the process exactly, and a
 * missing, damaged or unallocatable file means counters from 0 and a
 * topic that still opens and works.
 */
#include "worker/topic.h"
#include "common/config.h"
#include "common/log.h"
#include "common/seam.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define T0 1700000000000ull   /* simulated wall clock, ms */

static char dir[64];
static gmq_store_opts_t opts;

static void
setup(void)
{
    strcpy(dir, "/tmp/gmq-ctr-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    gmq_log_open(GMQ_LOG_ERROR, NULL);
    gmq_seam_reset();
    opts = (gmq_store_opts_t) { .data_dir = dir, .fsync = GMQ_FSYNC_ALWAYS,
                                .segment_size = 1 << 20, .max_delay_ms = 259200000ull,
                                .default_ttr = 30, .default_retry = 2, .max_queues = 100 };
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
    gmq_topic_t *t = gmq_topic_open("orders", &opts, &err);
    ck_assert_msg(t != NULL, "open: %s", err.msg);
    return t;
}

static void
push_ok(gmq_topic_t *t, uint64_t id, const char *rk, const char *body, uint64_t delay, uint64_t now)
{
    gmq_error_t err;
    int rc = gmq_topic_push(t, id, rk, body, strlen(body), delay, now, &err);
    ck_assert_msg(rc == GMQ_OK, "push %llu: %s", (unsigned long long) id, err.msg);
}

static long
stat_field(gmq_topic_t *t, const char *name)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_topic_stats_json(t, &b);
    gmq_buf_append(&b, "", 1);
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":", name);
    char *p = strstr(b.data, key);
    ck_assert_msg(p != NULL, "no %s in %s", name, b.data);
    long v = strtol(p + strlen(key), NULL, 10);
    gmq_buf_free(&b);
    return v;
}

/* the counters of a stats JSON as "name=value;..." in the order they appear */
static void
counters_of(const char *json, char *out, size_t n)
{
    static const char *const names[] = { "push_num", "pop_num", "dead_num", "acked_num",
                                         "timeout_num", "pushed", "popped", "acked", "timed_out",
                                         "dead_lettered" };
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = json; (p = strchr(p, '"')) != NULL;) {
        const char *e = strchr(p + 1, '"');
        if (e == NULL)
            break;
        for (size_t i = 0; e[1] == ':' && i < GMQ_ARRAY_LEN(names); i++)
            if (strlen(names[i]) == (size_t) (e - p - 1) && memcmp(names[i], p + 1, e - p - 1) == 0)
                o += (size_t) snprintf(out + o, n - o, "%s=%ld;", names[i], strtol(e + 2, NULL, 10));
        ck_assert_uint_lt(o, n);
        p = e + 1;
    }
}

static void
stats_counters(gmq_topic_t *t, char *out, size_t n)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_topic_stats_json(t, &b);
    gmq_buf_append(&b, "", 1);
    counters_of(b.data, out, n);
    gmq_buf_free(&b);
}

/* push, pop, ack, TTR expiry and dead letters in a child that dies by
 * SIGKILL without closing; the counters come back identical */
START_TEST(test_counters_survive_kill)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gmq_error_t err;
        gmq_topic_t *t = gmq_topic_open("orders", &opts, &err);
        char bk[16];
        gmq_msg_t m;
        if (t == NULL)
            _exit(2);
        for (int i = 0; i < 40; i++) {               /* past the file's first 15 slots */
            snprintf(bk, sizeof(bk), "q%d", i);
            if (gmq_topic_declare(t, bk, &err) != GMQ_OK)
                _exit(3);
            for (uint64_t k = 1; k <= 3; k++)
                if (gmq_topic_push(t, (uint64_t) i * 10 + k, bk, "x", 1, 0, T0, &err) != GMQ_OK)
                    _exit(4);
            if (i % 2 == 0) {
                if (gmq_topic_pop(t, bk, T0, &m, &err) != GMQ_OK ||
                    gmq_topic_ack(t, bk, m.id, &err) != GMQ_OK)
                    _exit(5);
                if (gmq_topic_pop(t, bk, T0, &m, &err) != GMQ_OK)
                    _exit(6);                        /* left to time out */
            }
        }
        uint64_t now = T0;
        if (gmq_topic_declare(t, "d", &err) != GMQ_OK)
            _exit(7);
        push_ok(t, 5000, "d", "dies", 0, now);
        for (int r = 0; r < 3; r++) {                /* retry limit 2: dead on the 3rd expiry */
            if (gmq_topic_pop(t, "d", now, &m, &err) != GMQ_OK)
                _exit(8);
            now += 30000;
            gmq_topic_tick(t, now);
        }
        if (gmq_topic_dead(t, "d", now, &m, &err) != GMQ_OK ||
            gmq_topic_ack(t, "d", m.id, &err) != GMQ_OK)
            _exit(9);
        push_ok(t, 999, "", "to default", 0, now);
        gmq_topic_conf_t c = { .auto_ack = 1, .mode = -1, .ttr = -1, .retry = -1 };
        if (gmq_topic_set_config(t, &c, &err) != GMQ_OK || gmq_topic_pop(t, "", now, &m, &err))
            _exit(10);
        gmq_buf_t b;
        gmq_buf_init(&b);
        gmq_topic_stats_json(t, &b);
        if (write(fds[1], b.data, b.len) != (ssize_t) b.len)
            _exit(12);
        kill(getpid(), SIGKILL);
        _exit(11);
    }
    close(fds[1]);
    static char json[64 * 1024];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], json + n, sizeof(json) - 1 - n)) > 0)
        n += (size_t) r;
    close(fds[0]);
    json[n] = '\0';
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);

    static char before[16 * 1024], after[16 * 1024];
    counters_of(json, before, sizeof(before));
    ck_assert_msg(strncmp(before, "pop_num=45;push_num=122;dead_num=0;acked_num=22;timeout_num=23;"
                          "pushed=3;popped=2;acked=1;timed_out=1;dead_lettered=0;", 117) == 0,
                  "%s", before);
    ck_assert_ptr_nonnull(strstr(before, "pushed=1;popped=3;acked=0;timed_out=3;dead_lettered=1;"));
    gmq_topic_t *t = open_topic();
    stats_counters(t, after, sizeof(after));
    size_t d = 0;
    while (before[d] != '\0' && before[d] == after[d])
        d++;
    ck_assert_msg(before[d] == after[d], "counters differ at %zu: %.80s | %.80s", d, before + d,
                  after + d);
    push_ok(t, 1000, "q1", "more", 0, T0);              /* and they go on counting */
    ck_assert_int_eq(stat_field(t, "push_num"), 123);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "push_num"), 123);
    gmq_topic_close(t);
}
END_TEST

static int
enospc_fallocate(int fd, off_t off, off_t len)
{
    (void) fd;
    (void) off;
    (void) len;
    return ENOSPC;
}

static void
write_counters_file(off_t off, const char *bytes, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/orders/counters", dir);
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, n, off), (ssize_t) n);
    close(fd);
}

/* a missing, damaged or unwritable counters file: counters from 0, the
 * topic opens and works */
START_TEST(test_counters_file_damage)
{
    gmq_error_t err;
    gmq_topic_t *t = open_topic();
    ck_assert_int_eq(gmq_topic_declare(t, "a", &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_declare(t, "b", &err), GMQ_OK);
    push_ok(t, 1, "a", "x", 0, T0);
    push_ok(t, 2, "b", "x", 0, T0);
    push_ok(t, 3, "b", "x", 0, T0);
    gmq_topic_close(t);
    t = open_topic();                                  /* a clean close keeps them too */
    ck_assert_int_eq(stat_field(t, "push_num"), 3);
    gmq_topic_close(t);

    write_counters_file(256 + 8, "Z", 1);              /* first slot's name ("a") damaged */
    t = open_topic();
    char c[4096];
    stats_counters(t, c, sizeof(c));
    ck_assert_str_eq(c, "pop_num=0;push_num=3;dead_num=0;acked_num=0;timeout_num=0;"
                        "pushed=0;popped=0;acked=0;timed_out=0;dead_lettered=0;"
                        "pushed=2;popped=0;acked=0;timed_out=0;dead_lettered=0;");
    push_ok(t, 4, "a", "x", 0, T0);                    /* "a" has a new slot */
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "push_num"), 4);
    ck_assert_int_eq(stat_field(t, "pushed"), 1);      /* the first queue's */
    gmq_topic_close(t);

    write_counters_file(0, "junk", 4);                 /* bad magic */
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "push_num"), 0);
    push_ok(t, 5, "a", "x", 0, T0);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "push_num"), 1);
    gmq_topic_close(t);

    char path[256];
    snprintf(path, sizeof(path), "%s/orders/counters", dir);
    ck_assert_int_eq(truncate(path, 100), 0);          /* too short */
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "push_num"), 0);
    gmq_topic_close(t);
    ck_assert_int_eq(unlink(path), 0);                 /* missing */
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "push_num"), 0);
    gmq_topic_close(t);

    ck_assert_int_eq(unlink(path), 0);                 /* cannot be allocated: in memory */
    gmq_seam.fallocate = enospc_fallocate;
    t = open_topic();
    gmq_seam_reset();
    push_ok(t, 6, "a", "x", 0, T0);
    ck_assert_int_eq(stat_field(t, "push_num"), 1);
    gmq_topic_close(t);
}
END_TEST

static Suite *
counters_suite(void)
{
    Suite *s = suite_create("counters");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_counters_survive_kill);
    tcase_add_test(tc, test_counters_file_damage);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(counters_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

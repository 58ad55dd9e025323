/*
 * topic_fixture.h - what the topic suites share (check_topic.c,
 * check_topicstore.c): a fresh temporary data directory and the store
 * options of a test, and helpers to open the topic "orders", push, pop,
 * read a stats field and count segment files. Included once per suite; its
 * definitions are the suite's own.
 */
#ifndef GMQ_TEST_TOPIC_FIXTURE_H
#define GMQ_TEST_TOPIC_FIXTURE_H

#include "worker/topic.h"
#include "worker/checkpoint.h"
#include "worker/record.h"
#include "common/config.h"
#include "common/log.h"
#include "common/seam.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#define T0 1700000000000ull   /* simulated wall clock, ms */

static char dir[64];
static gmq_store_opts_t opts;

static inline void
setup(void)
{
    strcpy(dir, "/tmp/gmq-topic-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    gmq_log_open(GMQ_LOG_ERROR, NULL);
    gmq_seam_reset();
    opts = (gmq_store_opts_t) { .data_dir = dir, .fsync = GMQ_FSYNC_ALWAYS,
                                .segment_size = 1 << 20, .max_delay_ms = 259200000ull,
                                .default_ttr = 30, .default_retry = 2, .max_queues = 100 };
}

static inline void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        perror("rm");
}

static inline gmq_topic_t *
open_topic(void)
{
    gmq_error_t err;
    gmq_topic_t *t = gmq_topic_open("orders", &opts, &err);
    ck_assert_msg(t != NULL, "open: %s", err.msg);
    return t;
}

static inline void
push_ok(gmq_topic_t *t, uint64_t id, const char *rk, const char *body, uint64_t delay, uint64_t now)
{
    gmq_error_t err;
    int rc = gmq_topic_push(t, id, rk, body, strlen(body), delay, now, &err);
    ck_assert_msg(rc == GMQ_OK, "push %llu: %s", (unsigned long long) id, err.msg);
}

static inline gmq_msg_t
pop_ok(gmq_topic_t *t, const char *bk, uint64_t now)
{
    gmq_error_t err;
    gmq_msg_t m;
    int rc = gmq_topic_pop(t, bk, now, &m, &err);
    ck_assert_msg(rc == GMQ_OK, "pop %s: rc %d", bk, rc);
    return m;
}

static inline void
expect_empty(gmq_topic_t *t, const char *bk, uint64_t now)
{
    gmq_error_t err;
    gmq_msg_t m;
    ck_assert_int_eq(gmq_topic_pop(t, bk, now, &m, &err), GMQ_AGAIN);
}

static inline long
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

static inline int
count_segments(const char *sub)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/orders/%s", dir, sub);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "seg-", 4) == 0;
    closedir(d);
    return n;
}

#endif

/*
 * queue_util.h - what the suites of one queue share (check_queue.c,
 * check_queuelog.c) beside queue_fixture.h: the Check fixture, a shell
 * command that must succeed, opening a queue, its state as text
 * (gmq_queue_describe), a put that must succeed. Included once per suite.
 */
#ifndef GMQ_TEST_QUEUE_UTIL_H
#define GMQ_TEST_QUEUE_UTIL_H

#include "queue_fixture.h"
#include "common/buf.h"


static inline void
setup(void)
{
    fixture_setup("/tmp/gmq-queue-XXXXXX");
}

static inline void
teardown(void)
{
    fixture_teardown();
}

static inline void
sh_cmd(const char *fmt, const char *a, const char *b)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), fmt, a, b);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static inline gmq_queue_t *
open_q(const char *path, int dead, int use_checkpoint)
{
    gmq_error_t err;
    gmq_queue_t *q = gmq_queue_open(path, "q", dead, &sh, use_checkpoint, &err);
    ck_assert_msg(q != NULL, "open %s: %s", path, err.msg);
    return q;
}

static inline char *
describe(gmq_queue_t *q)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_queue_describe(q, &b);
    gmq_buf_append(&b, "", 1);
    return b.data;
}

/* the state recovered from a copy of qdir: from its checkpoint (or not) */
static inline char *
recovered(int use_checkpoint, const char *damage, int *loaded)
{
    char copy[160];
    snprintf(copy, sizeof(copy), "%s/copy%d", dir, use_checkpoint);
    sh_cmd("rm -rf %s%s", copy, "");
    sh_cmd("cp -a %s %s", qdir, copy);
    if (damage != NULL)
        sh_cmd(damage, copy, copy);
    gmq_queue_t *q = open_q(copy, 0, use_checkpoint);
    if (loaded != NULL)
        *loaded = q->ck_loaded;
    char *d = describe(q);
    gmq_queue_discard(q);
    return d;
}

static inline void
put_ok(gmq_queue_t *q, uint64_t id, const char *body, size_t len, uint64_t due)
{
    gmq_error_t err;
    ck_assert_msg(gmq_queue_put(q, id, body, len, 0, T0, due, &err) == GMQ_OK, "put: %s", err.msg);
}

#endif

/*
 * queue_fixture.h - the fixture the queue suites share (check_queue.c,
 * check_checkpoint.c): a fresh temporary directory with a queue directory
 * in it, the heaps and the shared state a queue needs, the seam reset.
 * Included once per suite; its definitions are the suite's own.
 */
#ifndef GMQ_TEST_QUEUE_FIXTURE_H
#define GMQ_TEST_QUEUE_FIXTURE_H

#include "worker/heap.h"
#include "worker/queue.h"
#include "common/config.h"
#include "common/log.h"
#include "common/seam.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000000ull

static char dir[64], qdir[128];
static gmq_heap_t delay, ttr;
static gmq_qshared_t sh;

/* tmpl: a mkdtemp template, "/tmp/gmq-<suite>-XXXXXX" */
static inline void
fixture_setup(const char *tmpl)
{
    snprintf(dir, sizeof(dir), "%s", tmpl);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(qdir, sizeof(qdir), "%s/q", dir);
    gmq_log_open(GMQ_LOG_ERROR, NULL);
    gmq_seam_reset();
    gmq_heap_init(&delay);
    gmq_heap_init(&ttr);
    sh = (gmq_qshared_t) { .delay = &delay, .ttr = &ttr, .epoch = 1, .incarnation = 0x1234,
                           .seg_size = 64 * 1024, .fsync = GMQ_FSYNC_NO };
}

static inline void
fixture_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        perror("rm");
    gmq_heap_free(&delay);
    gmq_heap_free(&ttr);
}

#endif

/*
 * check_topicstore.c - the storage engine through its API (worker/topic.h)
 * with simulated time, the part about what is on disk: recovery after damage
 * (a corrupt middle, a torn tail, damage after a checkpoint), disk use
 * following the backlog and growing segments, many queues, a crash without
 * close, the sync policy, node settings on an open topic, format 1
 * upgrades. The rest: check_topic.c.
 */

#include "topic_fixture.h"

static void
damage_first_segment(off_t off, size_t n, int zero)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/orders/q/default/seg-0000000000000001.log", dir);
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    char junk[256];
    memset(junk, zero ? 0 : 0x5a, sizeof(junk));
    ck_assert_int_eq(pwrite(fd, junk, n, off), (ssize_t) n);
    close(fd);
}

/* a recovery that has to read the whole log (no checkpoint) */
static void
drop_checkpoint(const char *sub)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/orders/%s", dir, sub);
    gmq_checkpoint_remove(path);
}

#define MSG16 (GMQ_RECORD_HDR + 16)     /* a record with a 16-byte body */
#define STATE GMQ_RECORD_HDR            /* a state record */

START_TEST(test_recover_corrupt_middle)
{
    gmq_topic_t *t = open_topic();
    for (uint64_t i = 1; i <= 10; i++)
        push_ok(t, i, "", "0123456789abcdef", 0, T0);
    gmq_topic_close(t);
    damage_first_segment(4 * MSG16 + 20, 30, 0);       /* inside message 5 */
    drop_checkpoint("q/default");
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 1);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 9);
    uint64_t want[] = { 1, 2, 3, 4, 6, 7, 8, 9, 10 };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(want); i++)
        ck_assert_uint_eq(pop_ok(t, "", T0).id, want[i]);
    gmq_topic_close(t);
}
END_TEST

/* the ACK right after a damaged DELIVER still counts: the message stays done */
START_TEST(test_recover_ack_after_corrupt_deliver)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    push_ok(t, 1, "", "0123456789abcdef", 0, T0);        /* MSG at 0 */
    push_ok(t, 2, "", "", 0, T0);                        /* MSG at MSG16, an empty body */
    pop_ok(t, "", T0);                                   /* DELIVER at MSG16 + STATE */
    ck_assert_int_eq(gmq_topic_ack(t, "", 1, &err), GMQ_OK);   /* ACK after it */
    gmq_topic_close(t);
    damage_first_segment(MSG16 + STATE + 20, 4, 0);
    drop_checkpoint("q/default");
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 1);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 1);
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 2);
    ck_assert_uint_eq(m.len, 0);
    expect_empty(t, "", T0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_recover_torn_tail)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    for (uint64_t i = 1; i <= 5; i++)
        push_ok(t, i, "", "0123456789abcdef", 0, T0);
    pop_ok(t, "", T0);
    gmq_topic_ack(t, "", 1, &err);                       /* ACK record at 5 * MSG16 + STATE */
    push_ok(t, 6, "", "0123456789abcdef", 0, T0);         /* at 5 * MSG16 + 2 * STATE */
    gmq_topic_close(t);
    /* the end of message 6 never landed: the checkpoint written after it
     * does not match the log any more, so the whole log is read */
    damage_first_segment(5 * MSG16 + 2 * STATE + MSG16 - 24, 24, 1);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 0);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 4);
    push_ok(t, 7, "", "after the tear", 0, T0);
    gmq_topic_close(t);
    t = open_topic();
    for (uint64_t i = 2; i <= 5; i++)
        ck_assert_uint_eq(pop_ok(t, "", T0).id, i);
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 7);
    ck_assert(memcmp(m.body, "after the tear", 14) == 0);
    expect_empty(t, "", T0);
    gmq_topic_close(t);
}
END_TEST

/* damage inside the part of the log a checkpoint covers is found when the
 * cursor reads it: the message is skipped and counted, the counts heal */
START_TEST(test_corrupt_after_checkpoint)
{
    gmq_topic_t *t = open_topic();
    for (uint64_t i = 1; i <= 10; i++)
        push_ok(t, i, "", "0123456789abcdef", 0, T0);
    gmq_topic_close(t);
    damage_first_segment(4 * MSG16 + 20, 30, 0);       /* inside message 5 */
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 0);   /* not read yet */
    uint64_t want[] = { 1, 2, 3, 4, 6, 7, 8, 9, 10 };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(want); i++)
        ck_assert_uint_eq(pop_ok(t, "", T0).id, want[i]);
    expect_empty(t, "", T0);
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 1);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 0);
    gmq_topic_close(t);
}
END_TEST

/* what the cursor finds damaged changes the counts with no record written:
 * the next checkpoint keeps that, so a restart does not count the damaged
 * message again (it did: no record, no checkpoint). Found by fuzz_segment. */
START_TEST(test_corrupt_after_checkpoint_kept)
{
    gmq_topic_t *t = open_topic();
    push_ok(t, 1, "", "0123456789abcdef", 0, T0);
    push_ok(t, 2, "", "0123456789abcdef", 100000000, T0);     /* delayed: not read */
    gmq_topic_close(t);
    damage_first_segment(20, 4, 0);                    /* message 1's header */
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 1);     /* not read yet */
    expect_empty(t, "", T0);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 0);
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 1);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 0);
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 1);
    expect_empty(t, "", T0);
    gmq_topic_close(t);
}
END_TEST

/* a message whose record was damaged while it was in flight, past its
 * last retry: it cannot be copied to the dead-letter queue (its CRC fails),
 * so it goes back to ready, where the next pop drops it and counts it; the
 * TTR does not fail again every second */
START_TEST(test_expire_damaged_record)
{
    gmq_topic_t *t = open_topic();          /* retry limit 2, TTR 30 s */
    uint64_t now = T0;
    push_ok(t, 1, "", "0123456789abcdef", 0, now);
    for (int r = 0; r <= 2; r++) {
        ck_assert_uint_eq(pop_ok(t, "", now).id, 1);
        if (r == 2)
            damage_first_segment(GMQ_RECORD_HDR + 3, 4, 0);   /* message 1's body */
        now += 30000;
        ck_assert_int_eq(gmq_topic_tick(t, now), 1);
    }
    ck_assert_int_eq(stat_field(t, "wait_ack_num"), 0);
    ck_assert_int_eq(stat_field(t, "dead_num"), 0);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), 0);
    push_ok(t, 2, "", "0123456789abcdef", 0, now);
    ck_assert_uint_eq(pop_ok(t, "", now).id, 2);
    expect_empty(t, "", now);
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 1);
    gmq_topic_close(t);
}
END_TEST

/* a long-delayed message must not pin every later segment */
START_TEST(test_space_pinned_by_delay)
{
    opts.segment_size = 64 * 1024;
    opts.fsync = GMQ_FSYNC_NO;
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    char body[1024];
    memset(body, 'q', sizeof(body));
    push_ok(t, 1, "", "far future", 3600000, T0);
    for (uint64_t i = 2; i < 2000; i++) {
        ck_assert_int_eq(gmq_topic_push(t, i, "", body, sizeof(body), 0, T0, &err), GMQ_OK);
        gmq_msg_t m = pop_ok(t, "", T0);
        ck_assert_uint_eq(m.id, i);
        ck_assert_int_eq(gmq_topic_ack(t, "", i, &err), GMQ_OK);
    }
    ck_assert_int_le(count_segments("q/default"), 3);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "delay_num"), 1);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 0);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 3600000), 1);
    gmq_msg_t m = pop_ok(t, "", T0 + 3600000);
    ck_assert_uint_eq(m.id, 1);
    ck_assert(memcmp(m.body, "far future", 10) == 0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_million_disk_follows_backlog)
{
    opts.segment_size = 8 << 20;
    opts.fsync = GMQ_FSYNC_NO;
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    char body[1024];
    memset(body, 'm', sizeof(body));
    uint64_t id = 1;
    for (int batch = 0; batch < 1000; batch++) {
        for (int i = 0; i < 1000; i++) {
            body[0] = (char) ('a' + i % 26);
            if (gmq_topic_push(t, id + (uint64_t) i, "", body, sizeof(body), 0, T0, &err) != GMQ_OK)
                ck_abort_msg("push: %s", err.msg);
        }
        for (int i = 0; i < 1000; i++) {
            gmq_msg_t m;
            /* plain checks: every ck_assert costs Check a write() */
            if (gmq_topic_pop(t, "", T0, &m, &err) != GMQ_OK || m.id != id + (uint64_t) i ||
                m.len != sizeof(body) || m.body[0] != 'a' + i % 26)
                ck_abort_msg("pop %llu went wrong", (unsigned long long) (id + (uint64_t) i));
            if (gmq_topic_ack(t, "", m.id, &err) != GMQ_OK)
                ck_abort_msg("ack: %s", err.msg);
        }
        gmq_topic_sync(t, T0);
        id += 1000;
    }
    ck_assert_int_le(count_segments("q/default"), 2);
    ck_assert_int_eq(stat_field(t, "acked_num"), 1000000);
    gmq_topic_close(t);
    ck_assert_int_le(count_segments("q/default"), 2);
}
END_TEST

/* the same with a consumer that lags behind: old segments still get freed */
START_TEST(test_space_lagging_consumer)
{
    opts.segment_size = 64 * 1024;
    opts.fsync = GMQ_FSYNC_NO;
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    char body[1024];
    memset(body, 'q', sizeof(body));
    push_ok(t, 1, "", "pinned in flight", 0, T0);
    pop_ok(t, "", T0);                               /* in flight, never acked */
    uint64_t next = 2;
    for (uint64_t i = 2; i < 3000; i++) {
        ck_assert_int_eq(gmq_topic_push(t, i, "", body, sizeof(body), 0, T0, &err), GMQ_OK);
        if (i > 300) {
            gmq_msg_t m = pop_ok(t, "", T0);
            ck_assert_uint_eq(m.id, next);
            ck_assert_int_eq(gmq_topic_ack(t, "", next++, &err), GMQ_OK);
        }
    }
    /* backlog of ~300 KiB in 64 KiB segments: about 5 segments, plus slack */
    ck_assert_int_le(count_segments("q/default"), 8);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), (long) (3000 - next + 1));
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 1);                      /* in flight before: first again */
    ck_assert(memcmp(m.body, "pinned in flight", 16) == 0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_many_queues)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    char bk[32];
    for (int i = 0; i < 90; i++) {
        snprintf(bk, sizeof(bk), "q%d", i);
        ck_assert_int_eq(gmq_topic_declare(t, bk, &err), GMQ_OK);
        push_ok(t, (uint64_t) i + 1, bk, bk, 0, T0);
    }
    gmq_topic_close(t);
    t = open_topic();
    for (int i = 89; i >= 0; i--) {
        snprintf(bk, sizeof(bk), "q%d", i);
        gmq_msg_t m = pop_ok(t, bk, T0);
        ck_assert_uint_eq(m.id, (uint64_t) i + 1);
        ck_assert(memcmp(m.body, bk, strlen(bk)) == 0);
    }
    ck_assert_int_eq(stat_field(t, "queue_num"), 90);
    gmq_topic_close(t);
}
END_TEST

/* a process that dies without closing (kill -9): nothing acknowledged is lost */
START_TEST(test_crash_without_close)
{
    opts.segment_size = 64 * 1024;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gmq_error_t err;
        gmq_topic_t *t = gmq_topic_open("orders", &opts, &err);
        if (t == NULL)
            _exit(2);
        char body[700];
        memset(body, 'c', sizeof(body));
        for (uint64_t i = 1; i <= 500; i++)
            if (gmq_topic_push(t, i, "", body, sizeof(body), i % 10 == 0 ? 5000 : 0, T0, &err))
                _exit(3);
        gmq_msg_t m;
        for (int i = 0; i < 200; i++) {
            if (gmq_topic_pop(t, "", T0, &m, &err) != GMQ_OK)
                _exit(4);
            if (m.id % 2 == 0 && gmq_topic_ack(t, "", m.id, &err) != GMQ_OK)
                _exit(5);
        }
        gmq_topic_sync(t, T0);
        kill(getpid(), SIGKILL);
        _exit(6);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    gmq_topic_t *t = open_topic();             /* the lock died with the process */
    /* 450 immediate + 50 delayed; 200 popped, the even ones acked */
    long acked = 0;
    for (uint64_t i = 1, popped = 0; popped < 200; i++) {
        if (i % 10 == 0)
            continue;
        popped++;
        acked += i % 2 == 0;
    }
    ck_assert_int_eq(stat_field(t, "delay_num"), 50);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 450 - acked);
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 0);
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 1);                 /* delivered, unacked: first again */
    ck_assert_uint_eq(m.len, 700);
    gmq_topic_close(t);
}
END_TEST

static int n_msync, fail_msync;

static int
count_msync(void *addr, size_t len, int flags)
{
    n_msync++;
    if (fail_msync) {
        errno = EIO;
        return -1;
    }
    return msync(addr, len, flags);
}

static int n_fdatasync, fail_fdatasync;

/* runs on the background sync thread */
static int
count_fdatasync(int fd)
{
    __atomic_add_fetch(&n_fdatasync, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&fail_fdatasync, __ATOMIC_SEQ_CST)) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static int
fdatasyncs(void)
{
    return __atomic_load_n(&n_fdatasync, __ATOMIC_SEQ_CST);
}

START_TEST(test_sync_policy)
{
    gmq_error_t err;
    gmq_seam.msync = count_msync;
    gmq_topic_t *t = open_topic();                 /* fsync = always */
    for (uint64_t i = 1; i <= 10; i++)
        push_ok(t, i, "", "x", 0, T0);
    long synced = stat_field(t, "fsync_count");    /* the new segment's fsyncs */
    ck_assert_int_eq(n_msync, 0);                  /* push never syncs by itself */
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_OK);
    ck_assert_int_eq(n_msync, 1);                  /* one barrier for the batch */
    ck_assert_int_eq(stat_field(t, "fsync_count"), synced + 1);   /* and it was timed */
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_OK);
    ck_assert_int_eq(n_msync, 1);                  /* nothing new */
    ck_assert_int_eq(stat_field(t, "fsync_count"), synced + 1);
    pop_ok(t, "", T0);
    fail_msync = 1;
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_ERR);
    fail_msync = 0;
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_OK);
    ck_assert_uint_eq(gmq_topic_next_sync(t), 0);
    gmq_topic_close(t);

    /* everysec: the flush runs on the background thread, never on the loop */
    opts.fsync = GMQ_FSYNC_EVERYSEC;
    gmq_seam.fdatasync = count_fdatasync;
    t = open_topic();
    n_msync = 0;
    push_ok(t, 100, "", "x", 0, T0);
    synced = stat_field(t, "fsync_count");
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_OK);
    ck_assert_int_eq(n_msync, 0);
    for (int i = 0; i < 500 && fdatasyncs() < 1; i++)
        usleep(2000);
    int after_first = fdatasyncs();
    ck_assert_int_ge(after_first, 1);
    for (int i = 0; i < 500 && stat_field(t, "fsync_count") < synced + after_first; i++)
        usleep(2000);                              /* timed on the sync thread too */
    ck_assert_int_ge(stat_field(t, "fsync_count"), synced + after_first);
    push_ok(t, 101, "", "x", 0, T0 + 10);
    ck_assert_uint_eq(gmq_topic_next_sync(t), T0 + 1000);
    ck_assert_int_eq(gmq_topic_sync(t, T0 + 500), GMQ_OK);
    usleep(20000);
    ck_assert_int_eq(fdatasyncs(), after_first);       /* not yet a second */
    ck_assert_int_eq(gmq_topic_sync(t, T0 + 1000), GMQ_OK);
    for (int i = 0; i < 500 && fdatasyncs() <= after_first; i++)
        usleep(2000);
    ck_assert_int_gt(fdatasyncs(), after_first);
    ck_assert_uint_eq(gmq_topic_next_sync(t), 0);
    /* a failed background sync is reported by the next sync call */
    __atomic_store_n(&fail_fdatasync, 1, __ATOMIC_SEQ_CST);
    push_ok(t, 102, "", "x", 0, T0 + 1100);
    ck_assert_int_eq(gmq_topic_sync(t, T0 + 2100), GMQ_OK);
    int before = fdatasyncs();
    for (int i = 0; i < 500 && fdatasyncs() <= before; i++)
        usleep(2000);
    usleep(10000);
    push_ok(t, 103, "", "x", 0, T0 + 2200);
    ck_assert_int_eq(gmq_topic_sync(t, T0 + 3200), GMQ_ERR);
    __atomic_store_n(&fail_fdatasync, 0, __ATOMIC_SEQ_CST);
    gmq_topic_close(t);
    gmq_seam_reset();
    gmq_seam.msync = count_msync;

    opts.fsync = GMQ_FSYNC_NO;
    t = open_topic();
    n_msync = 0;
    push_ok(t, 200, "", "x", 0, T0);
    ck_assert_int_eq(gmq_topic_sync(t, T0 + 5000), GMQ_OK);
    ck_assert_int_eq(n_msync, 0);
    ck_assert_int_eq(gmq_topic_declare(t, "q1", &err), GMQ_OK);
    gmq_topic_close(t);
    gmq_seam_reset();
}
END_TEST

/* node settings changed on an open topic (SIGHUP) */
START_TEST(test_set_opts)
{
    gmq_error_t err;
    gmq_seam.msync = count_msync;
    gmq_topic_t *t = open_topic();                 /* default TTR 30 s, retry 2 */
    push_ok(t, 1, "", "a", 0, T0);
    push_ok(t, 2, "", "b", 0, T0);
    pop_ok(t, "", T0);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), T0 + 30000);
    ck_assert_int_eq(gmq_topic_push(t, 3, "", "x", 1, opts.max_delay_ms + 1, T0, &err), GMQ_ERR);

    gmq_store_opts_t o = opts;
    o.default_ttr = 10;
    o.default_retry = 7;
    o.max_delay_ms = opts.max_delay_ms * 2;
    o.max_queues = 3;
    o.fsync = GMQ_FSYNC_NO;
    gmq_topic_set_opts(t, &o);
    ck_assert_int_eq(stat_field(t, "msg_ttr"), 10);
    ck_assert_int_eq(stat_field(t, "msg_retry"), 7);
    gmq_topic_conf_t c;
    gmq_topic_get_config(t, &c);
    ck_assert_int_eq(c.ttr, 10);
    /* the next delivery gets the new TTR; the one in flight keeps its deadline */
    ck_assert_uint_eq(pop_ok(t, "", T0 + 1000).id, 2);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), T0 + 11000);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 11000), 1);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), T0 + 30000);
    push_ok(t, 3, "", "later", opts.max_delay_ms + 1, T0);     /* a larger max_delay */
    n_msync = 0;
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_OK);
    ck_assert_int_eq(n_msync, 0);                              /* fsync=no */
    ck_assert_int_eq(gmq_topic_declare(t, "a", &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_declare(t, "b", &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_declare(t, "c", &err), GMQ_ERR);  /* max_queues 3 */
    ck_assert_int_eq(err.code, GMQ_E_LIMIT);
    o.fsync = GMQ_FSYNC_ALWAYS;
    gmq_topic_set_opts(t, &o);
    push_ok(t, 4, "a", "x", 0, T0);
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_OK);
    ck_assert_int_gt(n_msync, 0);

    /* an explicit TTR stays; retry, never set, still follows */
    c = (gmq_topic_conf_t) { .auto_ack = -1, .mode = -1, .ttr = 5, .retry = -1 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_OK);
    o.default_ttr = 60;
    o.default_retry = 1;
    gmq_topic_set_opts(t, &o);
    ck_assert_int_eq(stat_field(t, "msg_ttr"), 5);
    ck_assert_int_eq(stat_field(t, "msg_retry"), 1);
    push_ok(t, 5, "b", "x", 0, T0);
    pop_ok(t, "b", T0);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), T0 + 5000);
    gmq_topic_close(t);
    t = open_topic();                               /* opts: TTR 30, retry 2 */
    ck_assert_int_eq(stat_field(t, "msg_ttr"), 5);
    ck_assert_int_eq(stat_field(t, "msg_retry"), 2);
    gmq_topic_close(t);
    gmq_seam_reset();
}
END_TEST

/* topic.conf of the previous format: a value equal to the node default
 * follows it from now on, a different one counts as set */
START_TEST(test_config_format_1)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/orders", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/orders/topic.conf", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("gmq-topic 1\nauto_ack 1\nmode 3\nttr 30\nretry 9\nqueue a.b\n", f);
    fclose(f);
    gmq_topic_t *t = open_topic();                  /* opts: TTR 30, retry 2 */
    gmq_topic_conf_t c;
    gmq_topic_get_config(t, &c);
    ck_assert_int_eq(c.auto_ack, 1);
    ck_assert_int_eq(c.mode, 3);
    ck_assert_int_eq(c.ttr, 30);
    ck_assert_int_eq(c.retry, 9);
    ck_assert_int_eq(stat_field(t, "queue_num"), 1);
    gmq_store_opts_t o = opts;
    o.default_ttr = 12;
    o.default_retry = 3;
    gmq_topic_set_opts(t, &o);
    gmq_topic_get_config(t, &c);
    ck_assert_int_eq(c.ttr, 12);
    ck_assert_int_eq(c.retry, 9);
    gmq_topic_close(t);
    f = fopen(path, "r");                            /* rewritten in the new format */
    char line[64];
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    fclose(f);
    ck_assert_str_eq(line, "gmq-topic 2\n");
    opts.default_ttr = 45;
    t = open_topic();
    gmq_topic_get_config(t, &c);
    ck_assert_int_eq(c.ttr, 45);
    ck_assert_int_eq(c.retry, 9);
    gmq_topic_close(t);
}
END_TEST

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* sizes of the segment files under <topic>/<sub>, oldest first; bytes
 * allocated on disk in *blocks */
static int
seg_sizes(const char *sub, off_t *sizes, int max, long long *blocks)
{
    char path[256], *names[256];
    int n = 0;
    snprintf(path, sizeof(path), "%s/orders/%s", dir, sub);
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "seg-", 4) == 0 && n < 256)
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t) n, sizeof(*names), cmp_str);
    *blocks = 0;
    for (int i = 0; i < n; i++) {
        char f[512];
        struct stat st;
        snprintf(f, sizeof(f), "%s/%s", path, names[i]);
        ck_assert_int_eq(stat(f, &st), 0);
        if (i < max)
            sizes[i] = st.st_size;
        *blocks += (long long) st.st_blocks * 512;
        free(names[i]);
    }
    return n;
}

/* a queue's first segment is small and each next one doubles up to
 * segment_size: one small message takes <= 1 MiB, a fan-out to 100 queues
 * takes 100 small segments, not 100 * 64 MiB */
START_TEST(test_segments_follow_data)
{
    opts.segment_size = 64 << 20;
    opts.fsync = GMQ_FSYNC_NO;
    opts.max_queues = 200;
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    off_t sz[64];
    long long blocks;
    ck_assert_int_eq(gmq_topic_declare(t, "a", &err), GMQ_OK);
    push_ok(t, 1, "a", "small", 0, T0);
    ck_assert_int_eq(seg_sizes("q/a", sz, 64, &blocks), 1);
    ck_assert_int_le(sz[0], 1 << 20);
    ck_assert_int_le(blocks, 1 << 20);

    char body[1000];
    memset(body, 'g', sizeof(body));
    for (uint64_t id = 2; id <= 5000; id++) {
        body[0] = (char) ('a' + id % 26);
        ck_assert_int_eq(gmq_topic_push(t, id, "a", body, sizeof(body), 0, T0, &err), GMQ_OK);
    }
    int n = seg_sizes("q/a", sz, 64, &blocks);
    ck_assert_int_eq(n, 5);                          /* 256K 512K 1M 2M 4M for ~5 MB */
    for (int i = 1; i < n; i++)
        ck_assert_int_eq(sz[i], 2 * sz[i - 1]);
    gmq_topic_close(t);

    t = open_topic();                                /* sizes come from the files */
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 5000);
    for (uint64_t id = 5001; id <= 8000; id++)
        ck_assert_int_eq(gmq_topic_push(t, id, "a", body, sizeof(body), 0, T0, &err), GMQ_OK);
    n = seg_sizes("q/a", sz, 64, &blocks);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(sz[5], 2 * sz[4]);
    gmq_msg_t m = pop_ok(t, "a", T0);
    ck_assert_uint_eq(m.id, 1);
    ck_assert(memcmp(m.body, "small", 5) == 0);
    for (uint64_t id = 2; id <= 8000; id++) {
        if (gmq_topic_pop(t, "a", T0, &m, &err) != GMQ_OK || m.id != id || m.len != 1000 ||
            (id <= 5000 && m.body[0] != 'a' + (char) (id % 26)))
            ck_abort_msg("pop %llu went wrong", (unsigned long long) id);
        ck_assert_int_eq(gmq_topic_ack(t, "a", id, &err), GMQ_OK);
    }
    ck_assert_int_eq(gmq_topic_ack(t, "a", 1, &err), GMQ_OK);
    push_ok(t, 9000, "a", "after", 0, T0);
    n = seg_sizes("q/a", sz, 64, &blocks);
    ck_assert_int_le(n, 2);                          /* the drained ones are gone */

    gmq_topic_conf_t c = { .auto_ack = -1, .mode = GMQ_MODE_TOPIC, .ttr = -1, .retry = -1 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_OK);
    char bk[16];
    for (int i = 0; i < 100; i++) {
        snprintf(bk, sizeof(bk), "f.%d", i);
        ck_assert_int_eq(gmq_topic_declare(t, bk, &err), GMQ_OK);
    }
    push_ok(t, 9001, "f.*", "fan-out", 0, T0);
    long long total = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(bk, sizeof(bk), "q/f.%d", i);
        ck_assert_int_eq(seg_sizes(bk, sz, 64, &blocks), 1);
        total += blocks;
    }
    ck_assert_int_le(total, 100LL << 20);
    gmq_topic_close(t);
}
END_TEST

/* mode 2: one matching budget per push over all bind keys; running out of
 * it refuses the push (nothing stored) instead of routing to fewer queues */
/* A data directory written by the previous version (storage format 1; see
 * tests/unit/fixtures/make-v1-data.py), left by a kill -9: it opens, every
 * message is there in the order and state that version recovered them in
 * (checked against it), and its queues are converted to format 2, once. */
#define FIXTURE_V1 "tests/unit/fixtures/v1-data.tar.gz"

static void
expect_msg(gmq_topic_t *t, const char *bk, int dead, uint64_t id, uint32_t retry, const char *body)
{
    gmq_error_t err;
    gmq_msg_t m;
    int rc = dead ? gmq_topic_dead(t, bk, T0, &m, &err) : gmq_topic_pop(t, bk, T0, &m, &err);
    ck_assert_msg(rc == GMQ_OK, "%s: no message %llu", bk, (unsigned long long) id);
    ck_assert_uint_eq(m.id, id);
    ck_assert_uint_eq(m.retry, retry);
    ck_assert_uint_eq(m.len, strlen(body));
    ck_assert(memcmp(m.body, body, m.len) == 0);
}

START_TEST(test_upgrade_fixture)
{
    char cmd[512], path[256];
    const char *src = getenv("GMQ_SRC") ? getenv("GMQ_SRC") : ".";
    snprintf(cmd, sizeof(cmd), "tar -xzf %s/" FIXTURE_V1 " -C %s", src, dir);
    ck_assert_int_eq(system(cmd), 0);
    for (int round = 0; round < 2; round++) {
        gmq_error_t err;
        gmq_topic_t *t = gmq_topic_open("legacy", &opts, &err);
        ck_assert_msg(t != NULL, "open: %s", err.msg);
        ck_assert_int_eq(stat_field(t, "queue_msg_num"), 6);
        ck_assert_int_eq(stat_field(t, "delay_num"), 1);
        gmq_buf_t b;
        gmq_buf_init(&b);
        ck_assert_int_eq(gmq_topic_peek(t, "work", GMQ_TOPIC_PEEK_DELAYED, &b, &err), GMQ_OK);
        gmq_buf_append(&b, "", 1);
        ck_assert_ptr_nonnull(strstr(b.data, "\"id\":\"1312656066533658624\",\"body\":\"body E\""));
        ck_assert_ptr_nonnull(strstr(b.data, "\"due_at\":1827726394232"));
        gmq_buf_free(&b);
        if (round == 1) {
            /* in flight before (B), then the ready ones, then the released ones */
            expect_msg(t, "work", 0, 1312656066525270016ull, 0, "body B");
            expect_msg(t, "work", 0, 1312656066533658625ull, 0, "body F");
            expect_msg(t, "work", 0, 1312656066537852928ull, 0, "body G");
            expect_msg(t, "work", 0, 1312656066525270017ull, 1, "body C");
            expect_msg(t, "work", 0, 1312656066529464320ull, 1, "body D");
            expect_msg(t, "gone", 0, 1312656066567213056ull, 0, "after the purge");
            expect_empty(t, "work", T0);
            expect_empty(t, "gone", T0);
        }
        gmq_topic_close(t);
        t = gmq_topic_open("dead", &opts, &err);
        ck_assert_msg(t != NULL, "open: %s", err.msg);
        ck_assert_int_eq(stat_field(t, "dead_num"), 2);
        if (round == 1) {
            expect_msg(t, "q", 0, 1312656077245911040ull, 0, "body Z");
            expect_msg(t, "q", 1, 1312656066592378880ull, 1, "body X");
            expect_msg(t, "q", 1, 1312656066600767488ull, 1, "body Y");
        }
        gmq_topic_close(t);
        /* converted: format 2 records, a checkpoint, nothing left of the old log */
        static const char *const qs[] = { "legacy/q/work", "legacy/q/gone", "dead/q/q", "dead/dlq/q" };
        for (size_t i = 0; i < GMQ_ARRAY_LEN(qs); i++) {
            snprintf(path, sizeof(path), "%s/%s/seg-0000000000000001.log", dir, qs[i]);
            int fd = open(path, O_RDONLY);
            unsigned char h[16];
            ck_assert_int_ge(fd, 0);
            ck_assert_int_eq(pread(fd, h, sizeof(h), 0), (ssize_t) sizeof(h));
            close(fd);
            ck_assert_uint_eq(h[8], GMQ_RECORD_VERSION);
            snprintf(path, sizeof(path), "%s/%s/" GMQ_CHECKPOINT_FILE, dir, qs[i]);
            struct stat st;
            ck_assert_int_eq(stat(path, &st), 0);
            snprintf(path, sizeof(path), "%s/%s~v1", dir, qs[i]);
            ck_assert_int_ne(stat(path, &st), 0);
        }
    }
}
END_TEST

static Suite *
topicstore_suite(void)
{
    Suite *s = suite_create("topicstore");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_recover_corrupt_middle);
    tcase_add_test(tc, test_recover_ack_after_corrupt_deliver);
    tcase_add_test(tc, test_recover_torn_tail);
    tcase_add_test(tc, test_corrupt_after_checkpoint);
    tcase_add_test(tc, test_expire_damaged_record);
    tcase_add_test(tc, test_corrupt_after_checkpoint_kept);
    tcase_add_test(tc, test_upgrade_fixture);
    tcase_add_test(tc, test_space_pinned_by_delay);
    tcase_add_test(tc, test_space_lagging_consumer);
    tcase_add_test(tc, test_many_queues);
    tcase_add_test(tc, test_crash_without_close);
    tcase_add_test(tc, test_sync_policy);
    tcase_add_test(tc, test_set_opts);
    tcase_add_test(tc, test_config_format_1);
    tcase_add_test(tc, test_segments_follow_data);
    suite_add_tcase(s, tc);
    TCase *bulk = tcase_create("bulk");
    tcase_add_checked_fixture(bulk, setup, teardown);
    tcase_set_timeout(bulk, 600);
    tcase_add_test(bulk, test_million_disk_follows_backlog);
    suite_add_tcase(s, bulk);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(topicstore_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

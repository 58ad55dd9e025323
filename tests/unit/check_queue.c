/*
 * check_queue.c - one queue through worker/queue.h with simulated time:
 * recovery from a checkpoint gives the same state as a scan of the whole
 * log (after a random workload with relocations, freed segments, gone
 * dead letters and a crash), and a torn, damaged, foreign, stale or
 * missing checkpoint falls back to that scan with the same result; lookup
 * by id of messages that wait in the log; the conversion of a queue
 * written in the previous format (version 1 records), also when a crash
 * interrupted it. Logs written by hand (what fuzzing found):
 * check_queuelog.c.
 */
#include "queue_util.h"
#include "worker/queue.h"
#include "worker/checkpoint.h"
#include "worker/record.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/seam.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static uint64_t rnd_state = 42;

static uint64_t
rnd(uint64_t n)
{
    rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
    return (rnd_state >> 33) % n;
}

/* Random pushes, deliveries, acks, requeues (tail and head), delays, due
 * times, a purge, gc (relocations, freed segments) and checkpoints now and
 * then, on small segments. Leaves the queue as a kill -9 would: no final
 * checkpoint. */
static void
workload(gmq_queue_t *q, int steps, uint64_t *next_id, uint64_t *now, int purge)
{
    gmq_error_t err;
    char body[600];
    for (int step = 0; step < steps; step++) {
        uint64_t r = rnd(1000);
        gmq_qmsg_t m;
        size_t n;
        gmq_qent_t **fl;
        *now += 10;
        if (r < 380) {
            size_t len = (size_t) rnd(sizeof(body));
            memset(body, 'a' + (int) (*next_id % 26), len);
            put_ok(q, (*next_id)++, body, len, 0);
        } else if (r < 420) {
            put_ok(q, (*next_id)++, "later", 5, *now + 500 + rnd(20000));
        } else if (r < 650) {
            if (gmq_queue_head(q, &m) == GMQ_OK)
                ck_assert_int_eq(gmq_queue_deliver(q, &m, *now, *now + 30000, &err), GMQ_OK);
        } else if (r < 850) {
            fl = gmq_queue_entries(q, GMQ_QENT_INFLIGHT, &n);
            if (n > 0) {
                gmq_qent_t *e = fl[rnd(n)];
                int what = (int) rnd(10);
                if (what < 6) {
                    ck_assert_int_eq(gmq_queue_view(q, e, &m), GMQ_OK);
                    ck_assert_int_eq(gmq_queue_finish(q, &m, GMQ_REC_ACK, &err), GMQ_OK);
                } else if (what < 8) {
                    ck_assert_int_eq(gmq_queue_requeue(q, e, e->retry + 1, 0, &err), GMQ_OK);
                } else if (what < 9) {
                    ck_assert_int_eq(gmq_queue_requeue(q, e, e->retry, 1, &err), GMQ_OK);
                } else {
                    ck_assert_int_eq(gmq_queue_delay(q, e, e->retry + 1, *now + rnd(5000) + 1,
                                                     &err), GMQ_OK);
                }
            }
            free(fl);
        } else if (r < 950) {
            gmq_heap_node_t *h;
            while ((h = gmq_heap_top(&delay)) != NULL && h->key <= *now)
                ck_assert_int_eq(gmq_queue_due(q, container_of(h, gmq_qent_t, hnode), &err),
                                 GMQ_OK);
        } else if (r < 990) {
            gmq_queue_checkpoint(q, *now, 1);
        } else if (r < 991 && purge && step > steps / 2) {
            ck_assert_int_ge(gmq_queue_purge(q, &err), 0);
        } else {
            *now += 30000;        /* time passes: long delays become due */
        }
        gmq_queue_gc(q);
    }
}

static void
count_reloc(void *arg, gmq_segment_t *s, const gmq_record_t *r, size_t off)
{
    (void) s;
    (void) off;
    *(int *) arg += r->type == GMQ_REC_MSG && (r->flags & GMQ_REC_F_RELOC);
}

/* relocated copies in the queue's log now */
static int
relocations(gmq_queue_t *q)
{
    int n = 0;
    unsigned corrupt = 0;
    for (size_t i = 0; i < q->nsegs; i++) {
        gmq_error_t err;
        gmq_segment_t *s = gmq_segment_open(q->dir, q->segv[i]->no, &err);
        ck_assert_ptr_nonnull(s);
        gmq_segment_scan(s, 0, count_reloc, &n, &corrupt);
        gmq_segment_close(s, 0);
    }
    return n;
}

START_TEST(test_checkpoint_equals_full_scan)
{
    rnd_state = 42 + (uint64_t) _i;            /* one workload per loop */
    gmq_queue_t *q = open_q(qdir, 0, 1);
    uint64_t id = 1, now = T0;
    workload(q, 20000, &id, &now, 1);
    for (int i = 0; i < 3; i++)                 /* delayed far: relocated again and again */
        put_ok(q, id++, "far", 3, T0 + 1000000000ull + (uint64_t) i);
    workload(q, 20000, &id, &now, 0);
    /* a checkpoint, then more work it does not cover, then a kill -9 */
    gmq_queue_checkpoint(q, now, 1);
    workload(q, 3000, &id, &now, 0);
    /* some released to the head, some requeued to the tail, last */
    gmq_error_t err;
    size_t n;
    gmq_qent_t **fl = gmq_queue_entries(q, GMQ_QENT_INFLIGHT, &n);
    for (size_t i = 0; i < n && i < 6; i++)
        ck_assert_int_eq(gmq_queue_requeue(q, fl[i], fl[i]->retry + 1, i % 2, &err), GMQ_OK);
    free(fl);
    ck_assert_uint_gt(q->segv[0]->no, 5);       /* segments were freed on the way */
    /* every kind of entry is there, and copies of relocated ones */
    ck_assert_uint_gt(q->n_inflight, 0);
    ck_assert_uint_gt(q->n_head, 0);
    ck_assert_uint_gt(q->n_tail, 0);
    ck_assert_uint_gt(q->n_delayed, 0);
    ck_assert_uint_gt(q->n_log, 0);
    ck_assert_int_gt(relocations(q), 0);
    gmq_queue_discard(q);
    int loaded = 0;
    char *a = recovered(1, NULL, &loaded);
    char *b = recovered(0, NULL, NULL);
    ck_assert_int_eq(loaded, 1);
    ck_assert_str_eq(a, b);
    /* the messages in flight are ready again */
    ck_assert_ptr_nonnull(strstr(b, "\nready "));
    ck_assert_ptr_null(strstr(a, "\nin_flight "));
    free(a);
    free(b);
}
END_TEST

/* a recovery leaves nothing out: after a clean close the state is the
 * live one (in-flight messages first in line, in delivery order) */
START_TEST(test_close_and_reopen_keeps_state)
{
    gmq_queue_t *q = open_q(qdir, 0, 1);
    uint64_t id = 1, now = T0;
    gmq_error_t err;
    workload(q, 8000, &id, &now, 1);
    /* deliver everything ready, in order: those become the head after a restart */
    gmq_qmsg_t m;
    gmq_buf_t want;
    gmq_buf_init(&want);
    size_t n;
    gmq_qent_t **fl = gmq_queue_entries(q, GMQ_QENT_INFLIGHT, &n);
    for (size_t i = 0; i < n; i++) {     /* (the earlier in-flight ones: acked) */
        ck_assert_int_eq(gmq_queue_view(q, fl[i], &m), GMQ_OK);
        ck_assert_int_eq(gmq_queue_finish(q, &m, GMQ_REC_ACK, &err), GMQ_OK);
    }
    free(fl);
    while (gmq_queue_head(q, &m) == GMQ_OK) {
        gmq_buf_printf(&want, "%llu,", (unsigned long long) m.id);
        ck_assert_int_eq(gmq_queue_deliver(q, &m, now, now + 30000, &err), GMQ_OK);
    }
    gmq_buf_append(&want, "", 1);
    gmq_queue_close(q);
    q = open_q(qdir, 0, 1);
    ck_assert_int_eq(q->ck_loaded, 1);
    gmq_buf_t got;
    gmq_buf_init(&got);
    while (gmq_queue_head(q, &m) == GMQ_OK) {
        gmq_buf_printf(&got, "%llu,", (unsigned long long) m.id);
        ck_assert_int_eq(gmq_queue_finish(q, &m, GMQ_REC_ACK, &err), GMQ_OK);
    }
    gmq_buf_append(&got, "", 1);
    ck_assert_str_eq(got.data, want.data);
    gmq_queue_discard(q);
    gmq_buf_free(&want);
    gmq_buf_free(&got);
}
END_TEST

/* every way a checkpoint can be unusable: the full scan, same result */
START_TEST(test_damaged_checkpoint_falls_back)
{
    gmq_queue_t *q = open_q(qdir, 0, 1);
    uint64_t id = 1, now = T0;
    workload(q, 6000, &id, &now, 1);
    gmq_queue_checkpoint(q, now, 1);
    char stale[200];
    snprintf(stale, sizeof(stale), "%s/stale", dir);
    sh_cmd("cp %s/checkpoint %s", qdir, stale);
    workload(q, 6000, &id, &now, 1);
    gmq_queue_checkpoint(q, now, 1);
    workload(q, 500, &id, &now, 0);
    gmq_queue_discard(q);

    char *want = recovered(0, NULL, NULL);
    int loaded = 0;
    char *good = recovered(1, NULL, &loaded);
    ck_assert_int_eq(loaded, 1);
    ck_assert_str_eq(good, want);
    free(good);
    static const char *const damage[] = {
        "truncate -s 100 %s/checkpoint #%s",                          /* torn */
        "truncate -s 0 %s/checkpoint #%s",                            /* empty */
        "printf 'X' | dd of=%s/checkpoint bs=1 seek=200 conv=notrunc status=none #%s",
        "printf 'Z' | dd of=%s/checkpoint bs=1 seek=1 conv=notrunc status=none #%s", /* magic */
        "printf '\\002' | dd of=%s/checkpoint bs=1 seek=7 conv=notrunc status=none #%s",
        "head -c 4096 /dev/urandom > %s/checkpoint #%s",              /* garbage */
        "rm %s/checkpoint #%s",                                       /* missing */
    };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(damage); i++) {
        char *got = recovered(1, damage[i], &loaded);
        ck_assert_msg(strcmp(got, want) == 0, "damage %zu (%s) gives another state", i,
                      damage[i]);
        ck_assert_msg(loaded == 0, "damage %zu (%s) was not noticed", i, damage[i]);
        free(got);
    }
    /* an older checkpoint (valid, but stale): what it lacks is replayed, or
     * it does not fit the files any more and the log is scanned */
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "cp %s %%s/checkpoint #%%s", stale);
    char *got = recovered(1, cmd, &loaded);
    ck_assert_str_eq(got, want);
    free(got);
    /* a checkpoint of another data directory */
    sh.incarnation = 0x9999;
    got = recovered(1, NULL, &loaded);
    ck_assert_int_eq(loaded, 0);
    sh.incarnation = 0x1234;
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}
END_TEST

/* the records a checkpoint covers were changed behind its back (a log
 * restored from elsewhere): its check of the last one notices */
START_TEST(test_checkpoint_of_another_log)
{
    gmq_queue_t *q = open_q(qdir, 0, 1);
    for (uint64_t i = 1; i <= 100; i++)
        put_ok(q, i, "0123456789abcdef", 16, 0);
    gmq_queue_close(q);
    /* the same bytes for the last record, another id: a log it never saw */
    char path[256];
    snprintf(path, sizeof(path), "%s/seg-0000000000000001.log", qdir);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char rec[GMQ_RECORD_HDR + 16];
    off_t off = 99 * (GMQ_RECORD_HDR + 16);
    ck_assert_int_eq(pread(fd, rec, sizeof(rec), off), (ssize_t) sizeof(rec));
    gmq_record_t r;
    size_t sz;
    ck_assert_int_eq(gmq_record_decode(rec, sizeof(rec), &r, &sz), GMQ_OK);
    r.id = 5000;
    r.body = "fedcba9876543210";
    gmq_record_encode(rec, &r);
    ck_assert_int_eq(pwrite(fd, rec, sizeof(rec), off), (ssize_t) sizeof(rec));
    close(fd);
    q = open_q(qdir, 0, 1);
    ck_assert_int_eq(q->ck_loaded, 0);
    gmq_qmsg_t m;
    ck_assert_int_eq(gmq_queue_find(q, 5000, &m), GMQ_OK);
    ck_assert(memcmp(m.body, "fedcba9876543210", 16) == 0);
    ck_assert_int_eq(gmq_queue_find(q, 100, &m), GMQ_AGAIN);
    gmq_queue_discard(q);
}
END_TEST

/* by id, without an entry per message: found in the log by its segment's
 * id range and index, not once consumed; dead letters moved out of order */
START_TEST(test_find_in_log)
{
    gmq_queue_t *q = open_q(qdir, 1, 1);
    gmq_error_t err;
    char body[100];
    for (uint64_t i = 1; i <= 20000; i++) {
        int len = snprintf(body, sizeof(body), "body of %llu", (unsigned long long) i);
        put_ok(q, i * 3, body, (size_t) len, 0);
    }
    ck_assert_int_gt((long) q->nsegs, 10);
    gmq_qmsg_t m;
    for (uint64_t i = 1; i <= 20000; i += 997) {
        ck_assert_int_eq(gmq_queue_find(q, i * 3, &m), GMQ_OK);
        snprintf(body, sizeof(body), "body of %llu", (unsigned long long) i);
        ck_assert_uint_eq(m.len, strlen(body));
        ck_assert(memcmp(m.body, body, m.len) == 0);
        ck_assert_ptr_null(m.e);
        ck_assert_int_eq(gmq_queue_find(q, i * 3 + 1, &m), GMQ_AGAIN);
    }
    /* dead letters moved back out of order: gone, skipped when read */
    for (uint64_t i = 5000; i < 5010; i++) {
        ck_assert_int_eq(gmq_queue_find(q, i * 3, &m), GMQ_OK);
        ck_assert_int_eq(gmq_queue_finish(q, &m, GMQ_REC_MOVED, &err), GMQ_OK);
        ck_assert_int_eq(gmq_queue_find(q, i * 3, &m), GMQ_AGAIN);
    }
    ck_assert_uint_eq(gmq_queue_n_ready(q), 19990);
    /* consumed from the head: not found any more */
    for (uint64_t i = 1; i <= 100; i++) {
        ck_assert_int_eq(gmq_queue_head(q, &m), GMQ_OK);
        ck_assert_uint_eq(m.id, i * 3);
        ck_assert_int_eq(gmq_queue_finish(q, &m, GMQ_REC_MOVED, &err), GMQ_OK);
    }
    ck_assert_int_eq(gmq_queue_find(q, 50 * 3, &m), GMQ_AGAIN);
    ck_assert_int_eq(gmq_queue_find(q, 101 * 3, &m), GMQ_OK);
    gmq_queue_close(q);
    /* the same after a restart, from the checkpoint and from a scan (each
     * on a copy: draining it writes to the log) */
    for (int ck = 1; ck >= 0; ck--) {
        char copy[160];
        snprintf(copy, sizeof(copy), "%s/round%d", dir, ck);
        sh_cmd("cp -a %s %s", qdir, copy);
        q = open_q(copy, 1, ck);
        ck_assert_int_eq(q->ck_loaded, ck);
        ck_assert_uint_eq(gmq_queue_n_ready(q), 19890);
        ck_assert_int_eq(gmq_queue_find(q, 5005 * 3, &m), GMQ_AGAIN);
        ck_assert_int_eq(gmq_queue_find(q, 5010 * 3, &m), GMQ_OK);
        ck_assert_int_eq(gmq_queue_find(q, 20000 * 3, &m), GMQ_OK);
        uint64_t n = 0, prev = 0;
        while (gmq_queue_head(q, &m) == GMQ_OK) {
            ck_assert_uint_gt(m.id, prev);
            ck_assert(m.id / 3 < 5000 || m.id / 3 >= 5010);
            prev = m.id;
            ck_assert_int_eq(gmq_queue_finish(q, &m, GMQ_REC_MOVED, &err), GMQ_OK);
            n++;
        }
        ck_assert_uint_eq(n, 19890);
        gmq_queue_discard(q);
    }
}
END_TEST

/* one message: one small segment and a small checkpoint */
START_TEST(test_one_message_disk)
{
    sh.seg_size = 64 << 20;                 /* the default segment_size */
    gmq_queue_t *q = open_q(qdir, 0, 1);
    put_ok(q, 1, "x", 1, 0);
    gmq_queue_close(q);
    DIR *d = opendir(qdir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    long long blocks = 0;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
            blocks += st.st_blocks;
    }
    closedir(d);
    ck_assert_int_le(blocks * 512, 1 << 20);
    ck_assert_int_ge(blocks * 512, GMQ_QUEUE_FIRST_SEGMENT);   /* reserved, not sparse */
}
END_TEST

/* a checkpoint waits for GMQ_QUEUE_CHECKPOINT_BYTES of log after the last:
 * a few messages pay none (a restart replays them), a close writes one */
START_TEST(test_checkpoint_by_volume)
{
    sh.seg_size = 64 << 20;
    char ck[192];
    snprintf(ck, sizeof(ck), "%s/checkpoint", qdir);
    gmq_queue_t *q = open_q(qdir, 0, 1);
    uint64_t id = 1;
    put_ok(q, id++, "small", 5, 0);
    ck_assert_uint_eq(gmq_queue_next_checkpoint(q), 0);
    gmq_queue_checkpoint(q, T0 + 60000, 0);
    ck_assert_int_ne(access(ck, F_OK), 0);
    static char body[4096];
    memset(body, 'b', sizeof(body));
    while (q->ck_bytes < GMQ_QUEUE_CHECKPOINT_BYTES)
        put_ok(q, id++, body, sizeof(body), 0);
    ck_assert_uint_gt(gmq_queue_next_checkpoint(q), 0);
    gmq_queue_checkpoint(q, T0 + 120000, 0);
    ck_assert_int_eq(access(ck, F_OK), 0);
    ck_assert_uint_eq(q->ck_bytes, 0);
    ck_assert_uint_eq(gmq_queue_next_checkpoint(q), 0);
    /* a restart reads the checkpoint and replays only what follows it */
    put_ok(q, id++, "after", 5, 0);
    gmq_queue_discard(q);                       /* as kill -9: no checkpoint at close */
    q = open_q(qdir, 0, 1);
    ck_assert_int_eq(q->ck_loaded, 1);
    ck_assert_uint_eq(q->replayed, 1);
    ck_assert_uint_eq(gmq_queue_count(q), id - 1);
    ck_assert_uint_gt(q->ck_bytes, 0);          /* replayed: counted for the next one */
    gmq_queue_close(q);                         /* a close writes one whatever the size */
    q = open_q(qdir, 0, 1);
    ck_assert_uint_eq(q->replayed, 0);
    gmq_queue_discard(q);
}
END_TEST

/* ---- the previous format ---- */

typedef struct {
    int  fd;
    long off;
} v1_seg_t;

static void
v1_open(v1_seg_t *w, const char *path)
{
    w->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(w->fd, 0);
    ck_assert_int_eq(ftruncate(w->fd, 256 * 1024), 0);
    w->off = 0;
}

/* a record exactly as the previous format (version 1) wrote it */
static void
v1_rec(v1_seg_t *w, int type, uint16_t flags, uint64_t id, uint64_t ts, uint64_t due,
       uint32_t retry, const char *body)
{
    unsigned char p[512];
    uint32_t len = (uint32_t) strlen(body);
    size_t size = (48 + len + 7) & ~(size_t) 7;
    memset(p, 0, size);
    gmq_put_u32(p, GMQ_RECORD_MAGIC);
    p[8] = 1;
    p[9] = (unsigned char) type;
    p[10] = (unsigned char) (flags >> 8);
    p[11] = (unsigned char) flags;
    gmq_put_u32(p + 12, len);
    gmq_put_u64(p + 16, id);
    gmq_put_u64(p + 24, ts);
    gmq_put_u64(p + 32, due);
    gmq_put_u32(p + 40, retry);
    memcpy(p + 48, body, len);
    gmq_put_u32(p + 4, (uint32_t) crc32(crc32(0L, Z_NULL, 0), p + 8, (uInt) (size - 8)));
    ck_assert_int_eq(pwrite(w->fd, p, size, w->off), (ssize_t) size);
    w->off += (long) size;
}

/* a queue as the previous version left it after a kill -9: acked, in
 * flight, requeued to the tail and to the head, delayed, due, relocated */
static void
v1_queue(const char *path)
{
    char seg[256];
    mkdir(path, 0700);
    v1_seg_t w;
    snprintf(seg, sizeof(seg), "%s/seg-0000000000000001.log", path);
    v1_open(&w, seg);
    v1_rec(&w, GMQ_REC_MSG, 0, 1, T0, 0, 0, "a");
    v1_rec(&w, GMQ_REC_MSG, 0, 2, T0, 0, 0, "b");
    v1_rec(&w, GMQ_REC_MSG, 0, 3, T0, 0, 0, "c");
    v1_rec(&w, GMQ_REC_MSG, 0, 4, T0, T0 + 60000, 0, "d");
    v1_rec(&w, GMQ_REC_MSG, 0, 5, T0, 0, 0, "e");
    v1_rec(&w, GMQ_REC_MSG, 0, 6, T0, 0, 0, "f");
    v1_rec(&w, GMQ_REC_DELIVER, 0, 1, T0, T0 + 30000, 0, "");
    v1_rec(&w, GMQ_REC_ACK, 0, 1, 0, 0, 0, "");
    v1_rec(&w, GMQ_REC_DELIVER, 0, 2, T0, T0 + 30000, 0, "");
    v1_rec(&w, GMQ_REC_DELIVER, 0, 3, T0, T0 + 30000, 0, "");
    close(w.fd);
    snprintf(seg, sizeof(seg), "%s/seg-0000000000000002.log", path);
    v1_open(&w, seg);
    v1_rec(&w, GMQ_REC_REQUEUE, 0, 3, 0, 0, 1, "");
    v1_rec(&w, GMQ_REC_DELIVER, 0, 5, T0, T0 + 30000, 0, "");
    v1_rec(&w, GMQ_REC_REQUEUE, GMQ_REC_F_HEAD, 5, 0, 0, 0, "");
    v1_rec(&w, GMQ_REC_MSG, 0, 7, T0, T0 + 1000, 0, "g");
    v1_rec(&w, GMQ_REC_DUE, 0, 7, T0 + 1000, 0, 0, "");
    v1_rec(&w, GMQ_REC_MSG, GMQ_REC_F_RELOC, 6, T0, 0, 0, "f");
    v1_rec(&w, GMQ_REC_MSG, 0, 8, T0, 0, 0, "h");
    v1_rec(&w, GMQ_REC_DELIVER, 0, 8, T0, T0 + 30000, 2, "");
    v1_rec(&w, GMQ_REC_DEAD, 0, 8, 0, 0, 3, "");
    close(w.fd);
}

/* what the previous version recovered from it, and so must this one */
static void
v1_expect(gmq_queue_t *q)
{
    static const struct { uint64_t id; uint32_t retry; const char *body; } want[] = {
        { 2, 0, "b" }, { 5, 0, "e" }, { 3, 1, "c" }, { 7, 0, "g" }, { 6, 0, "f" },
    };
    gmq_error_t err;
    gmq_qmsg_t m;
    ck_assert_uint_eq(gmq_queue_count(q), 6);
    ck_assert_uint_eq(q->n_delayed, 1);
    ck_assert_int_eq(gmq_queue_next_delayed(q, &m), GMQ_OK);
    ck_assert_uint_eq(m.id, 4);
    ck_assert_uint_eq(m.due_at, T0 + 60000);
    for (size_t i = 0; i < GMQ_ARRAY_LEN(want); i++) {
        ck_assert_int_eq(gmq_queue_head(q, &m), GMQ_OK);
        ck_assert_uint_eq(m.id, want[i].id);
        ck_assert_uint_eq(m.retry, want[i].retry);
        ck_assert_uint_eq(m.len, 1);
        ck_assert(memcmp(m.body, want[i].body, 1) == 0);
        ck_assert_uint_eq(m.pushed_at, T0);
        ck_assert_int_eq(gmq_queue_deliver(q, &m, T0, T0 + 30000, &err), GMQ_OK);
    }
    ck_assert_int_eq(gmq_queue_head(q, &m), GMQ_AGAIN);
}

static int
log_version(const char *path)
{
    char seg[256];
    snprintf(seg, sizeof(seg), "%s/seg-0000000000000001.log", path);
    unsigned char h[16];
    int fd = open(seg, O_RDONLY);
    if (fd < 0)
        return -1;
    int v = pread(fd, h, sizeof(h), 0) == (ssize_t) sizeof(h) ? h[8] : -1;
    close(fd);
    return v;
}

static int
exists(const char *fmt, const char *a)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof(p), fmt, a);
    return stat(p, &st) == 0;
}

START_TEST(test_upgrade_v1)
{
    v1_queue(qdir);
    ck_assert_int_eq(log_version(qdir), 1);
    gmq_queue_t *q = open_q(qdir, 0, 1);
    ck_assert_int_eq(log_version(qdir), GMQ_RECORD_VERSION);
    ck_assert(!exists("%s~v1", qdir) && !exists("%s~v2", qdir));
    ck_assert(exists("%s/checkpoint", qdir));
    /* nothing lost, converted once: the same after a restart, either way */
    char *first = describe(q);
    gmq_queue_discard(q);
    q = open_q(qdir, 0, 1);
    char *again = describe(q);
    ck_assert_str_eq(first, again);
    v1_expect(q);
    gmq_queue_discard(q);
    q = open_q(qdir, 0, 0);
    v1_expect(q);
    gmq_queue_discard(q);
    free(first);
    free(again);
}
END_TEST

/* dead letters: ready and in flight ones, all ready after it */
START_TEST(test_upgrade_v1_dead_letters)
{
    char seg[256];
    mkdir(qdir, 0700);
    v1_seg_t w;
    snprintf(seg, sizeof(seg), "%s/seg-0000000000000001.log", qdir);
    v1_open(&w, seg);
    v1_rec(&w, GMQ_REC_MSG, 0, 10, T0, 0, 3, "dead one");
    v1_rec(&w, GMQ_REC_MSG, 0, 11, T0, 0, 3, "dead two");
    v1_rec(&w, GMQ_REC_MSG, 0, 12, T0, 0, 3, "dead three");
    v1_rec(&w, GMQ_REC_DELIVER, 0, 11, T0, T0 + 30000, 3, "");
    v1_rec(&w, GMQ_REC_MSG, 0, 13, T0, 0, 3, "moved back");
    v1_rec(&w, GMQ_REC_MOVED, 0, 13, 0, 0, 0, "");
    close(w.fd);
    gmq_queue_t *q = open_q(qdir, 1, 1);
    uint64_t want[] = { 11, 10, 12 };
    gmq_qmsg_t m;
    gmq_error_t err;
    for (size_t i = 0; i < GMQ_ARRAY_LEN(want); i++) {
        ck_assert_int_eq(gmq_queue_head(q, &m), GMQ_OK);
        ck_assert_uint_eq(m.id, want[i]);
        ck_assert_uint_eq(m.retry, 3);
        ck_assert_int_eq(gmq_queue_finish(q, &m, GMQ_REC_MOVED, &err), GMQ_OK);
    }
    ck_assert_int_eq(gmq_queue_head(q, &m), GMQ_AGAIN);
    gmq_queue_discard(q);
}
END_TEST

/* a crash at each step of the conversion: the next open finishes or redoes it */
START_TEST(test_upgrade_interrupted)
{
    char conv[160], cmd[600];
    snprintf(conv, sizeof(conv), "%s/conv", dir);
    v1_queue(conv);
    gmq_queue_discard(open_q(conv, 0, 1));          /* a converted copy */

    /* 1: the new log half written beside the old one */
    v1_queue(qdir);
    snprintf(cmd, sizeof(cmd), "mkdir %s~v2 && cp %s/seg-0000000000000001.log %s~v2/", qdir, conv,
             qdir);
    ck_assert_int_eq(system(cmd), 0);
    gmq_queue_t *q = open_q(qdir, 0, 1);
    v1_expect(q);
    gmq_queue_discard(q);
    ck_assert(!exists("%s~v2", qdir) && !exists("%s~v1", qdir));

    /* 2: the old log renamed away, the new one complete beside it */
    sh_cmd("rm -rf %s %s~v1", qdir, qdir);
    v1_queue(qdir);
    snprintf(cmd, sizeof(cmd), "mv %s %s~v1 && cp -a %s %s~v2", qdir, qdir, conv, qdir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert(gmq_queue_exists(qdir));
    q = open_q(qdir, 0, 1);
    ck_assert_int_eq(log_version(qdir), GMQ_RECORD_VERSION);
    v1_expect(q);
    gmq_queue_discard(q);
    ck_assert(!exists("%s~v2", qdir) && !exists("%s~v1", qdir));

    /* 3: swapped, the old one not yet removed */
    sh_cmd("rm -rf %s%s", qdir, "");
    sh_cmd("cp -a %s %s", conv, qdir);
    char old[200];
    snprintf(old, sizeof(old), "%s~v1", qdir);
    v1_queue(old);
    q = open_q(qdir, 0, 1);
    v1_expect(q);
    gmq_queue_discard(q);
    ck_assert(!exists("%s~v1", qdir));
}
END_TEST

static Suite *
queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_checkpoint_equals_full_scan, 0, 4);
    tcase_add_test(tc, test_close_and_reopen_keeps_state);
    tcase_add_test(tc, test_damaged_checkpoint_falls_back);
    tcase_add_test(tc, test_checkpoint_of_another_log);
    tcase_add_test(tc, test_find_in_log);
    tcase_add_test(tc, test_one_message_disk);
    tcase_add_test(tc, test_checkpoint_by_volume);
    tcase_add_test(tc, test_upgrade_v1);
    tcase_add_test(tc, test_upgrade_v1_dead_letters);
    tcase_add_test(tc, test_upgrade_interrupted);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(queue_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

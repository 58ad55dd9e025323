/*
 * fuzz_segment.c - recovery of a queue from arbitrary segment bytes
 * (worker/segment.c scan, worker/queue.c replay, worker/topic.c open). The
 * input becomes the segment files of queue "q" (and its dead-letter queue)
 * of a topic in a temporary data directory: raw bytes, or (first byte odd)
 * a program of well-formed records of every type about a few ids, mixed
 * with garbage, holes, flipped bytes, torn tails and segment breaks. Then:
 *   - the topic opens, whatever the bytes (recovery never refuses);
 *   - a second open sees the same messages as the first;
 *   - everything recovered is delivered once (no id twice in one pass)
 *     and acked; a new push appends after the recovered records;
 *   - a third open holds exactly the new message and the delayed ones
 *     not yet due: nothing acked comes back, nothing is lost.
 * The directory is on /dev/shm when it is writable (tmpfs: fast), else
 * TMPDIR; fsync=no (syncing is not what is tested here).
 */
#include "fuzz.h"
#include "common/buf.h"
#include "common/gmq.h"
#include "common/log.h"
#include "worker/record.h"
#include "worker/topic.h"

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_NOW       200000000ULL      /* "now" for every call: later than every small due */
#define SEG_FAR       (UINT64_MAX / 4)  /* a due time never reached */
#define SEG_MAX_FILES 4
#define SEG_NEW_ID    1000000ULL        /* the id of the push after recovery */

typedef struct {
    gmq_buf_t data[SEG_MAX_FILES];      /* files 0..nq-1 in q/q/, the rest in dlq/q/ */
    int       dlq[SEG_MAX_FILES];
    size_t    pad[SEG_MAX_FILES];       /* zero bytes after the data (preallocation) */
    int       n;
} seg_files_t;

typedef struct {
    uint64_t ready, delayed, inflight, dead, corrupt;
} seg_counts_t;

static char seg_root[PATH_MAX];
static volatile char seg_sink;

static void seg_setup(void);
static void seg_program(fuzz_in_t *in, seg_files_t *f);
static void seg_write(const seg_files_t *f, int auto_ack);
static gmq_topic_t *seg_open(void);
static void seg_counts(gmq_topic_t *t, seg_counts_t *c);
static size_t seg_drain(gmq_topic_t *t, int dead);
static void seg_rm(const char *path);
static void seg_cleanup(void);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (seg_root[0] == '\0')
        seg_setup();
    fuzz_in_t in = { data, size };
    uint8_t mode = fuzz_u8(&in);
    seg_files_t f;
    memset(&f, 0, sizeof(f));
    for (int i = 0; i < SEG_MAX_FILES; i++)
        gmq_buf_init(&f.data[i]);
    if (mode & 1) {
        seg_program(&in, &f);
    } else {
        /* raw: the rest is one segment of q, or of the dead-letter queue */
        f.n = 1;
        f.dlq[0] = (mode & 2) != 0;
        f.pad[0] = (mode & 4) ? 4096 : 0;
        gmq_buf_append(&f.data[0], in.p, in.n);
    }
    seg_write(&f, (mode & 8) != 0);

    seg_counts_t c1, c2, c3;
    gmq_topic_t *t = seg_open();
    seg_counts(t, &c1);
    gmq_topic_close(t);
    t = seg_open();
    seg_counts(t, &c2);
    /* recovery is repeatable: the first open only zeroed what it could not
     * read (and may have freed segments with nothing live, corrupt records
     * in them included) */
    if (!(c1.ready + c1.inflight == c2.ready + c2.inflight && c1.delayed == c2.delayed &&
          c1.dead == c2.dead && c2.corrupt <= c1.corrupt))
        fprintf(stderr, "open 1: ready %" PRIu64 " in flight %" PRIu64 " delayed %" PRIu64
                " dead %" PRIu64 " corrupt %" PRIu64 "\nopen 2: ready %" PRIu64 " in flight %"
                PRIu64 " delayed %" PRIu64 " dead %" PRIu64 " corrupt %" PRIu64 "\n", c1.ready,
                c1.inflight, c1.delayed, c1.dead, c1.corrupt, c2.ready, c2.inflight, c2.delayed,
                c2.dead, c2.corrupt);
    FUZZ_CHECK(c1.ready + c1.inflight == c2.ready + c2.inflight && c1.delayed == c2.delayed &&
               c1.dead == c2.dead && c2.corrupt <= c1.corrupt);
    FUZZ_CHECK(c2.inflight == 0);    /* in flight at a crash = ready again */

    /* deliver and ack everything, due or not; what is due far away stays */
    gmq_topic_tick(t, SEG_NOW);
    seg_counts(t, &c2);
    size_t got = seg_drain(t, 0);
    FUZZ_CHECK(got == c2.ready);
    size_t dead = seg_drain(t, 1);
    FUZZ_CHECK(dead == c2.dead);
    seg_counts(t, &c2);
    FUZZ_CHECK(c2.ready == 0 && c2.inflight == 0 && c2.dead == 0);
    gmq_error_t err;
    int pushed = gmq_topic_push(t, SEG_NEW_ID, "q", "after", 5, 0, SEG_NOW, &err) == GMQ_OK;
    FUZZ_CHECK(pushed || err.code == GMQ_E_STORAGE);
    FUZZ_CHECK(gmq_topic_sync(t, SEG_NOW) == GMQ_OK);
    gmq_topic_close(t);

    t = seg_open();
    seg_counts(t, &c3);
    FUZZ_CHECK(c3.ready == (uint64_t) pushed && c3.inflight == 0 && c3.dead == 0);
    FUZZ_CHECK(c3.delayed == c2.delayed);
    if (pushed) {
        gmq_msg_t m;
        FUZZ_CHECK(gmq_topic_pop(t, "q", SEG_NOW, &m, &err) == GMQ_OK);
        FUZZ_CHECK(m.id == SEG_NEW_ID && m.len == 5 && memcmp(m.body, "after", 5) == 0);
    }
    gmq_topic_close(t);
    for (int i = 0; i < SEG_MAX_FILES; i++)
        gmq_buf_free(&f.data[i]);
    return 0;
}

static void
seg_setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(seg_root, sizeof(seg_root), "%s/gmq-fuzz-segment-%d", base ? base : "/tmp",
             (int) getpid());
    gmq_log_open(0, "/dev/null");    /* recovery warns about every damaged record */
    atexit(seg_cleanup);
}

static void
seg_cleanup(void)
{
    seg_rm(seg_root);
}

/*
 * The program: each step is one byte (kind in the low 3 bits) and its
 * arguments. Records are well formed (right CRC) so the replay of every
 * type is reached; ids come from a set of 12 so state records find their
 * message.
 */
static void
seg_program(fuzz_in_t *in, seg_files_t *f)
{
    f->n = 1;
    int cur = 0;
    while (in->n > 0) {
        uint8_t op = fuzz_u8(in);
        gmq_buf_t *b = &f->data[cur];
        switch (op & 7) {
        case 0: case 1: case 2: {            /* a record */
            char body[256];
            size_t blen = 0;
            gmq_record_t r = { 0 };
            r.type = (uint8_t) (GMQ_REC_MSG + (op >> 3) % GMQ_REC_TYPE_MAX);
            r.id = 1 + fuzz_u8(in) % 12;
            r.flags = fuzz_u8(in) & 3;
            r.ts = fuzz_u8(in);
            uint8_t due = fuzz_u8(in);
            r.due = due == 0x7f ? SEG_FAR : (due & 0x80) ? 0 : (uint64_t) due * 1000;
            r.retry = fuzz_u8(in) & 7;
            const uint8_t *p = fuzz_bytes(in, r.type == GMQ_REC_MSG ? fuzz_u8(in) % 64 : 0, &blen);
            memcpy(body, p, blen);
            r.len = (uint32_t) blen;
            r.body = body;
            gmq_record_encode(gmq_buf_reserve(b, gmq_record_size(blen)), &r);
            b->len += gmq_record_size(blen);
            break;
        }
        case 3: {                            /* garbage, not always 8-aligned */
            size_t n;
            const uint8_t *p = fuzz_bytes(in, 1 + fuzz_u8(in) % 32, &n);
            gmq_buf_append(b, p, n);
            break;
        }
        case 4: {                            /* a hole of zeros */
            size_t n = 8 * (1 + fuzz_u8(in) % 16);
            memset(gmq_buf_reserve(b, n), 0, n);
            b->len += n;
            break;
        }
        case 5:                              /* a flipped byte somewhere */
            if (b->len > 0) {
                uint16_t at = fuzz_u16(in);
                b->data[at % b->len] ^= (char) (1 + fuzz_u8(in) % 255);
            }
            break;
        case 6:                              /* a torn tail */
            b->len -= b->len < (size_t) (op >> 3) ? b->len : (size_t) (op >> 3);
            break;
        default:                             /* the next file: q's next segment, or the DLQ */
            if (f->n < SEG_MAX_FILES) {
                f->pad[cur] = (op & 0x8) ? 4096 : 0;
                cur = f->n++;
                f->dlq[cur] = (op & 0x10) || f->dlq[cur - 1];
            }
            break;
        }
    }
}

static void
seg_path(char *out, size_t n, const char *sub)
{
    snprintf(out, n, "%s/t/%s", seg_root, sub);
}

static void
seg_write(const seg_files_t *f, int auto_ack)
{
    char path[PATH_MAX + 64];
    seg_rm(seg_root);
    seg_path(path, sizeof(path), "q/q");
    FUZZ_CHECK(gmq_mkdir_p(path, 0700) == 0);
    seg_path(path, sizeof(path), "dlq/q");
    FUZZ_CHECK(gmq_mkdir_p(path, 0700) == 0);
    seg_path(path, sizeof(path), "topic.conf");
    FILE *c = fopen(path, "w");
    FUZZ_CHECK(c != NULL);
    fprintf(c, "gmq-topic 2\nauto_ack %d\nmode 1\nttr 30\nretry 3\nttr_set 1\nretry_set 1\n"
            "queue q\n", auto_ack);
    fclose(c);
    unsigned no[2] = { 1, 1 };
    for (int i = 0; i < f->n; i++) {
        char sub[64];
        snprintf(sub, sizeof(sub), "%s/q/seg-%016x.log", f->dlq[i] ? "dlq" : "q", no[f->dlq[i]]++);
        seg_path(path, sizeof(path), sub);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(write(fd, f->data[i].data ? f->data[i].data : "", f->data[i].len) ==
                   (ssize_t) f->data[i].len);
        if (f->pad[i] > 0)
            FUZZ_CHECK(ftruncate(fd, (off_t) (f->data[i].len + f->pad[i])) == 0);
        close(fd);
    }
}

static gmq_topic_t *
seg_open(void)
{
    gmq_store_opts_t o = {
        .data_dir = seg_root, .fsync = 2 /* GMQ_FSYNC_NO */, .segment_size = 1 << 20,
        .max_delay_ms = SEG_FAR, .default_ttr = 30, .default_retry = 3, .max_queues = 16,
        .confirm_delivery = 1, .lock_wait_ms = 0,
    };
    gmq_error_t err;
    gmq_topic_t *t = gmq_topic_open("t", &o, &err);
    if (t == NULL)
        fprintf(stderr, "open: %s\n", err.msg);
    FUZZ_CHECK(t != NULL);
    return t;
}

static uint64_t
seg_field(const char *js, const char *key)
{
    char k[64];
    snprintf(k, sizeof(k), "\"%s\":", key);
    const char *p = strstr(js, k);
    FUZZ_CHECK(p != NULL);
    return strtoull(p + strlen(k), NULL, 10);
}

static void
seg_counts(gmq_topic_t *t, seg_counts_t *c)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_topic_stats_json(t, &b);
    gmq_buf_append(&b, "", 1);
    c->ready = seg_field(b.data, "queue_msg_num");
    c->delayed = seg_field(b.data, "delay_num");
    c->inflight = seg_field(b.data, "wait_ack_num");
    c->dead = seg_field(b.data, "dead_num");
    c->corrupt = seg_field(b.data, "corrupt_records");
    gmq_buf_free(&b);
}

/* pop (or take dead letters) until empty, acking each; no id twice */
static size_t
seg_drain(gmq_topic_t *t, int dead)
{
    uint64_t seen[4096];
    size_t n = 0;
    gmq_msg_t m;
    gmq_error_t err;
    for (;;) {
        int rc = dead ? gmq_topic_dead(t, "q", SEG_NOW, &m, &err)
                      : gmq_topic_pop(t, "q", SEG_NOW, &m, &err);
        if (rc == GMQ_AGAIN || (rc == GMQ_ERR && dead && err.code == GMQ_E_INVALID_DEAD))
            break;
        FUZZ_CHECK(rc == GMQ_OK);
        char sum = 0;
        for (size_t i = 0; i < m.len; i++)
            sum ^= m.body[i];            /* the body is readable */
        seg_sink = sum;
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(seen[i] != m.id);
        FUZZ_CHECK(n < GMQ_ARRAY_LEN(seen));
        seen[n++] = m.id;
        rc = gmq_topic_ack(t, "q", m.id, &err);
        /* auto-ack topics finish a message on delivery unless it waits for a confirm */
        FUZZ_CHECK(rc == GMQ_OK);
    }
    return n;
}

static int
seg_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

static void
seg_rm(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        FUZZ_CHECK(nftw(path, seg_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

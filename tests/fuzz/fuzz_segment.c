/*
 * fuzz_segment.c - recovery of a queue from arbitrary segment and
 * checkpoint bytes (worker/segment.c scan, worker/queue_replay.c replay and
 * checkpoint load, worker/checkpoint.c, worker/upgrade.c, worker/topic.c
 * open). The input becomes the segment files of queue "q" (and of its
 * dead-letter queue) of a topic in a temporary data directory: raw bytes,
 * or (mode bit 0) a program of well-formed format 2 records of every type
 * about a few ids (state records point at their message's position), mixed
 * with garbage, holes, flipped bytes, torn tails and segment breaks. An
 * input section may add a checkpoint file (raw, or given the magic,
 * version, length, storage id and CRC so its fields are reached), and
 * another damages, between the first and the second open, the checkpoint
 * the first close wrote or a segment file. Then:
 *   - the topic opens, whatever the bytes (recovery never refuses), and a
 *     checkpoint that does not decode is not used;
 *   - the second open holds the same state as the first, message by
 *     message (gmq_queue_describe): from the checkpoint the first close
 *     wrote, or, if damage made it unusable, by a scan;
 *   - everything recovered is delivered once (no id twice in one pass),
 *     each body that of a valid MSG record of the input, and acked; a new
 *     push appends after the recovered records;
 *   - a third open holds exactly the new message and the delayed ones not
 *     yet due: nothing acked comes back, nothing is lost; and a scan of
 *     the whole log (checkpoints removed) gives the same state (unless the
 *     log was damaged between the opens: damage in the part a checkpoint
 *     spared the recovery from reading is found when that part is read).
 * A checkpoint with a CRC that fits (made so by this target) that gmq did
 * not write is trusted as any checkpoint with a good CRC is: it may say a
 * message acked in the log is ready, count messages the log does not hold,
 * leave out a skipped duplicate. Then only what needs no scan to know is
 * checked: no crash, only bodies of valid records, a repeatable recovery,
 * the queue empty once drained, the third open exact.
 * The directory is on /dev/shm when it is writable (tmpfs: fast), else
 * TMPDIR; fsync=no (syncing is not what is tested here). To look at a
 * crash: FUZZ_SEGMENT_LOG=1 shows the recovery's log, FUZZ_SEGMENT_KEEP=dir
 * keeps a copy of the topic's files before each open (dir/1 .. dir/4).
 */
#include "fuzz.h"
#include "common/buf.h"
#include "common/gmq.h"
#include "common/log.h"
#include "worker/checkpoint.h"
#include "worker/queue.h"
#include "worker/record.h"
#include "worker/topic.h"
#include "worker/topic_impl.h"
#include "worker/upgrade.h"

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SEG_NOW       200000000ULL      /* "now" for every call: later than every small due */
#define SEG_FAR       (UINT64_MAX / 4)  /* a due time never reached */
#define SEG_MAX_FILES 4
#define SEG_IDS       12                /* the program's ids: 1..12 */
#define SEG_NEW_ID    1000000ULL        /* the id of the push after recovery */
#define SEG_INCARNATION 0xf00d5ULL      /* the data directory's storage id */
#define SEG_MAX_VALID 8192

/* mode byte */
#define SEG_M_PROGRAM  0x01
#define SEG_M_RAW_DLQ  0x02
#define SEG_M_RAW_PAD  0x04
#define SEG_M_AUTO_ACK 0x08
#define SEG_M_CKPT     0x10             /* a checkpoint section follows */
#define SEG_M_DAMAGE   0x20             /* a damage section follows */
/* checkpoint section flags */
#define SEG_C_DLQ      0x01             /* the dead-letter queue's */
#define SEG_C_FIX      0x02             /* magic, version, length, storage id, CRC made right */
#define SEG_C_NOCHECK  0x04             /* with FIX: no record to check (position none) */
/* damage section: target and kind */
#define SEG_D_DLQ      0x01             /* the dead-letter queue's checkpoint */
#define SEG_D_SEGMENT  0x02             /* a segment file instead (byte 1 % files) */
#define SEG_D_TRUNCATE 0x04             /* cut at the offset, else XOR the byte there */
#define SEG_D_FIXCRC   0x08             /* the checkpoint's CRC made right after */

typedef struct {
    gmq_buf_t data[SEG_MAX_FILES];      /* the files of q/q/ and dlq/q/ */
    int       dlq[SEG_MAX_FILES];
    unsigned  no[SEG_MAX_FILES];        /* segment numbers (gaps: freed segments) */
    size_t    pad[SEG_MAX_FILES];       /* zero bytes after the data (preallocation) */
    int       n;
    uint64_t  msgpos[2][SEG_IDS + 1];   /* program: the last MSG record of each id, per queue */
} seg_files_t;

typedef struct {
    uint64_t ready, delayed, inflight, dead, corrupt;
} seg_counts_t;

/* the MSG records of the input (and the new push): what a delivery may be */
typedef struct {
    uint64_t id;
    uint32_t len, crc;
} seg_valid_t;

static char seg_root[PATH_MAX];
static seg_valid_t seg_valid[SEG_MAX_VALID];
static size_t seg_nvalid;
static volatile char seg_sink;

static void seg_setup(void);
static void seg_program(fuzz_in_t *in, seg_files_t *f);
static void seg_write(const seg_files_t *f, int auto_ack);
static int  seg_write_ckpt(fuzz_in_t *in, int *which);
static int  seg_damage(fuzz_in_t *in, const seg_files_t *f, int *forged, int *unusable,
                       int *logdmg);
static void seg_collect(const seg_files_t *f);
static int  seg_is_valid(uint64_t id, const char *body, size_t len);
static gmq_topic_t *seg_open(int n);
static void seg_counts(gmq_topic_t *t, seg_counts_t *c);
static char *seg_describe(gmq_topic_t *t);
static int  seg_loaded(gmq_topic_t *t, int which);
static size_t seg_drain(gmq_topic_t *t, int dead, int once);
static void seg_path(char *out, size_t n, const char *sub);
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
    /* the sections come first, their bytes are read now and used later */
    fuzz_in_t ck = { NULL, 0 }, dmg = { NULL, 0 };
    if (mode & SEG_M_CKPT) {
        ck.p = in.p;
        size_t n = 3 + (((size_t) (in.n > 1 ? in.p[1] : 0) << 8) | (in.n > 2 ? in.p[2] : 0));
        fuzz_bytes(&in, n, &ck.n);
    }
    if (mode & SEG_M_DAMAGE)
        dmg.p = fuzz_bytes(&in, 4, &dmg.n);
    if (mode & SEG_M_PROGRAM) {
        seg_program(&in, &f);
    } else {
        /* raw: the rest is one segment of q, or of the dead-letter queue */
        f.n = 1;
        f.no[0] = 1;
        f.dlq[0] = (mode & SEG_M_RAW_DLQ) != 0;
        f.pad[0] = (mode & SEG_M_RAW_PAD) ? 4096 : 0;
        gmq_buf_append(&f.data[0], in.p, in.n);
    }
    seg_write(&f, (mode & SEG_M_AUTO_ACK) != 0);
    seg_collect(&f);

    /* forged: a checkpoint with a CRC that fits, not written by gmq */
    int forged = 0, ckq = 0, conv = 0;
    char path[PATH_MAX + 64];
    seg_path(path, sizeof(path), "q/q");
    conv |= gmq_upgrade_needed(path) == 1;
    seg_path(path, sizeof(path), "dlq/q");
    conv |= (gmq_upgrade_needed(path) == 1) << 1;
    if (mode & SEG_M_CKPT)
        forged = seg_write_ckpt(&ck, &ckq);

    seg_counts_t c1, c2, c3;
    gmq_topic_t *t = seg_open(1);
    /* (a conversion of a version 1 log writes the checkpoint it opens from) */
    FUZZ_CHECK(forged || seg_loaded(t, ckq & ~conv) == 0);
    seg_counts(t, &c1);
    char *d1 = seg_describe(t);
    gmq_topic_close(t);

    /* damage between the opens: to the checkpoint the close wrote (it must
     * then be used, or not at all), or to the log (then it differs) */
    int same = 1, unusable = 0, logdmg = 0;
    if (mode & SEG_M_DAMAGE)
        same = seg_damage(&dmg, &f, &forged, &unusable, &logdmg);
    t = seg_open(2);
    FUZZ_CHECK(seg_loaded(t, unusable) == 0);
    seg_counts(t, &c2);
    char *d2 = seg_describe(t);
    /* recovery is repeatable: the first open only zeroed what it could not
     * read (and may have freed segments with nothing live, corrupt records
     * in them included) */
    if (same && strcmp(d1, d2) != 0)
        fprintf(stderr, "open 1:\n%s\nopen 2:\n%s\n", d1, d2);
    FUZZ_CHECK(!same || strcmp(d1, d2) == 0);
    FUZZ_CHECK(!same || c2.corrupt <= c1.corrupt);
    FUZZ_CHECK(c2.inflight == 0);    /* in flight at a crash = ready again */
    free(d1);
    free(d2);

    /* deliver and ack everything, due or not; what is due far away stays */
    gmq_topic_tick(t, SEG_NOW);
    seg_counts(t, &c2);
    /* (a forged checkpoint may count messages the log does not hold, or
     * miss some: only a scan could tell; damage to the log in the part the
     * checkpoint spared the recovery from reading is found when it is
     * read; the counts are right once it is read) */
    size_t got = seg_drain(t, 0, !forged);
    FUZZ_CHECK(forged || got == c2.ready || (logdmg && got < c2.ready));
    size_t dead = seg_drain(t, 1, !forged);
    FUZZ_CHECK(forged || dead == c2.dead || (logdmg && dead < c2.dead));
    seg_counts(t, &c2);
    FUZZ_CHECK(c2.ready == 0 && c2.inflight == 0 && c2.dead == 0);
    gmq_error_t err;
    int pushed = gmq_topic_push(t, SEG_NEW_ID, "q", "after", 5, 0, SEG_NOW, &err) == GMQ_OK;
    /* (the input may hold a delayed message of that id) */
    FUZZ_CHECK(pushed || err.code == GMQ_E_STORAGE ||
               (err.code == GMQ_E_INVALID_PUSH && c2.delayed > 0));
    FUZZ_CHECK(gmq_topic_sync(t, SEG_NOW) == GMQ_OK);
    gmq_topic_close(t);

    t = seg_open(3);
    seg_counts(t, &c3);
    FUZZ_CHECK(c3.ready == (uint64_t) pushed && c3.inflight == 0 && c3.dead == 0);
    FUZZ_CHECK(c3.delayed == c2.delayed);
    char *d3 = seg_describe(t);
    gmq_topic_close(t);
    /* the same by a scan of all, unless a forged checkpoint made the state
     * or the log was damaged where the checkpoint spared the recovery from
     * reading (found only when read: an entry's damaged record when it is
     * delivered, and a delayed one may not be due yet) */
    seg_path(path, sizeof(path), "q/q/checkpoint");
    unlink(path);
    seg_path(path, sizeof(path), "dlq/q/checkpoint");
    unlink(path);
    t = seg_open(4);
    char *d4 = seg_describe(t);
    if (!forged && !logdmg && strcmp(d3, d4) != 0)
        fprintf(stderr, "from the checkpoint:\n%s\nby a scan:\n%s\n", d3, d4);
    FUZZ_CHECK(forged || logdmg || strcmp(d3, d4) == 0);
    free(d3);
    free(d4);
    if (pushed && !forged && !logdmg) {
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
    /* recovery warns about every damaged record (FUZZ_SEGMENT_LOG=1: shown) */
    if (getenv("FUZZ_SEGMENT_LOG") != NULL)
        gmq_log_open(GMQ_LOG_INFO, NULL);
    else
        gmq_log_open(GMQ_LOG_ERROR, "/dev/null");
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
 * type is reached; ids come from a set of 12 and a state record's pos is
 * (pos byte 0) the position of the last MSG record of its id in its queue,
 * or of another id's, or a small offset, so state records find their
 * message, or do not.
 *   0..2  a record: type (op >> 3) % 8 + 1, then id, flags, ts, due, retry,
 *         pos, epoch bytes, and for a MSG a length byte and the body
 *   3     garbage, not always 8-aligned    4  a hole of zeros
 *   5     a flipped byte                   6  a torn tail of op >> 3 bytes
 *   7     the next file: q's next segment or (0x10) the dead-letter queue's,
 *         0x08 preallocated, 0x20 a segment number skipped (one was freed)
 */
static void
seg_program(fuzz_in_t *in, seg_files_t *f)
{
    uint64_t seq = 0;
    unsigned next_no[2] = { 2, 2 };
    f->n = 1;
    f->no[0] = 1;
    int cur = 0;
    while (in->n > 0) {
        uint8_t op = fuzz_u8(in);
        gmq_buf_t *b = &f->data[cur];
        int d = f->dlq[cur];
        switch (op & 7) {
        case 0: case 1: case 2: {            /* a record */
            char body[256];
            size_t blen = 0;
            gmq_record_t r = { 0 };
            r.type = (uint8_t) (GMQ_REC_MSG + (op >> 3) % GMQ_REC_TYPE_MAX);
            unsigned id = 1 + fuzz_u8(in) % SEG_IDS;
            r.id = r.type == GMQ_REC_PURGE ? 0 : id;
            r.flags = fuzz_u8(in) & 0x3f;
            r.ts = fuzz_u8(in);
            uint8_t due = fuzz_u8(in);
            r.due = due == 0x7f ? SEG_FAR : (due & 0x80) ? 0 : (uint64_t) due * 1000;
            r.retry = fuzz_u8(in) & 7;
            uint8_t pb = fuzz_u8(in);
            r.pos = pb == 0 ? f->msgpos[d][id]
                  : (pb & 0x80) ? GMQ_QPOS(f->no[cur], (uint64_t) (pb & 0x7f) * 8)
                  : f->msgpos[d][1 + pb % SEG_IDS];
            if (r.type == GMQ_REC_MSG && !(r.flags & GMQ_REC_F_RELOC))
                r.pos = 0;
            uint8_t ep = fuzz_u8(in);
            r.epoch = 1 + (ep >= 0xf0 ? ep - 0xf0u : 0);
            r.seq = (ep & 0x0f) == 0x0f ? seq : ++seq;   /* now and then a repeated one */
            if (r.type == GMQ_REC_MSG) {
                const uint8_t *p = fuzz_bytes(in, fuzz_u8(in) % 64, &blen);
                memcpy(body, p, blen);
                if (!(r.flags & GMQ_REC_F_RELOC))
                    f->msgpos[d][id] = GMQ_QPOS(f->no[cur], b->len);
            }
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
        default:                             /* the next file */
            if (f->n < SEG_MAX_FILES) {
                f->pad[cur] = (op & 0x08) ? 4096 : 0;
                cur = f->n++;
                f->dlq[cur] = (op & 0x10) || f->dlq[cur - 1];
                if (f->dlq[cur] != f->dlq[cur - 1])
                    next_no[1] = 1;          /* the dead-letter queue's first */
                if (op & 0x20)
                    next_no[f->dlq[cur]]++;
                f->no[cur] = next_no[f->dlq[cur]]++;
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
    snprintf(path, sizeof(path), "%s/%s", seg_root, GMQ_TOPIC_INCARNATION);
    c = fopen(path, "w");
    FUZZ_CHECK(c != NULL);
    fprintf(c, "%016llx\n", (unsigned long long) SEG_INCARNATION);
    fclose(c);
    for (int i = 0; i < f->n; i++) {
        char sub[64];
        snprintf(sub, sizeof(sub), "%s/q/seg-%016x.log", f->dlq[i] ? "dlq" : "q", f->no[i]);
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

/* a checkpoint's length and CRC made right (after a change) */
static void
seg_ckpt_seal(unsigned char *p, size_t n)
{
    gmq_put_u64(p + 16, n);
    gmq_put_u32(p + 8, (uint32_t) crc32(crc32(0L, Z_NULL, 0), p + 16, (uInt) (n - 16)));
}

/* The checkpoint section: [flags][u16 length][bytes], written as q's or
 * the dead-letter queue's checkpoint. FIX: the magic, version and storage
 * id, a segment and entry count that fit the length (cut to fit), the
 * length and the CRC are made right. Returns 1 if the file decodes; *which
 * is the queue: 1 q, 2 the dead-letter queue. */
static int
seg_write_ckpt(fuzz_in_t *in, int *which)
{
    uint8_t fl = fuzz_u8(in);
    *which = (fl & SEG_C_DLQ) ? 2 : 1;
    fuzz_u16(in);
    size_t n = in->n;
    unsigned char *p = malloc(n + 1);
    if (n > 0)
        memcpy(p, in->p, n);
    if ((fl & SEG_C_FIX) && n >= 96) {
        gmq_put_u32(p, GMQ_CHECKPOINT_MAGIC);
        gmq_put_u32(p + 4, GMQ_CHECKPOINT_VERSION);
        gmq_put_u64(p + 24, SEG_INCARNATION);
        if (fl & SEG_C_NOCHECK)
            gmq_put_u64(p + 40, GMQ_QPOS_NONE);
        size_t nsegs = gmq_get_u32(p + 84) % 5;
        if (96 + nsegs * 40 > n)
            nsegs = (n - 96) / 40;
        size_t nents = (n - 96 - nsegs * 40) / 56;
        gmq_put_u32(p + 84, (uint32_t) nsegs);
        gmq_put_u64(p + 88, nents);
        n = 96 + nsegs * 40 + nents * 56;
        seg_ckpt_seal(p, n);
    }
    char path[PATH_MAX + 64];
    seg_path(path, sizeof(path), (fl & SEG_C_DLQ) ? "dlq/q/checkpoint" : "q/q/checkpoint");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, p, n) == (ssize_t) n);
    close(fd);
    gmq_checkpoint_t c;
    int ok = gmq_checkpoint_decode(p, n, &c) == GMQ_OK;
    gmq_checkpoint_free(&c);
    free(p);
    return ok;
}

/* The damage section: [what][u16 offset][value]. Returns 1 if the second
 * open must hold what the first held: the log is as it was and the
 * checkpoint is the one the close wrote, or it no longer decodes (then
 * *unusable says whose: 1 q's, 2 the dead-letter queue's, and it must not
 * be used); *forged is set if a changed checkpoint decodes, *logdmg if a
 * segment changed. */
static int
seg_damage(fuzz_in_t *in, const seg_files_t *f, int *forged, int *unusable, int *logdmg)
{
    uint8_t what = fuzz_u8(in), which = (uint8_t) (in->n > 0 ? in->p[0] : 0);
    uint16_t at = fuzz_u16(in);
    uint8_t v = fuzz_u8(in);
    int seg = (what & SEG_D_SEGMENT) != 0;
    char path[PATH_MAX + 64];
    if (seg) {
        int i = which % f->n;
        char sub[64];
        snprintf(sub, sizeof(sub), "%s/q/seg-%016x.log", f->dlq[i] ? "dlq" : "q", f->no[i]);
        seg_path(path, sizeof(path), sub);
    } else {
        seg_path(path, sizeof(path), (what & SEG_D_DLQ) ? "dlq/q/checkpoint" : "q/q/checkpoint");
    }
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return 1;                            /* (freed, or no checkpoint written) */
    struct stat st;
    FUZZ_CHECK(fstat(fd, &st) == 0);
    size_t n = (size_t) st.st_size;
    if (n == 0 || n > (1u << 20)) {
        close(fd);
        return 1;
    }
    unsigned char *p = malloc(n);
    FUZZ_CHECK(pread(fd, p, n, 0) == (ssize_t) n);
    size_t len = n;
    if (what & SEG_D_TRUNCATE)
        len = at % n;
    else
        p[at % n] ^= v;
    int changed = len != n || v != 0;
    if (!seg && (what & SEG_D_FIXCRC) && len >= 96)
        seg_ckpt_seal(p, len);
    FUZZ_CHECK((len == 0 || pwrite(fd, p, len, 0) == (ssize_t) len) &&
               ftruncate(fd, (off_t) len) == 0);
    close(fd);
    int same = !changed;
    *logdmg = seg && changed;
    if (!seg && changed) {
        gmq_checkpoint_t c;
        if (gmq_checkpoint_decode(p, len, &c) == GMQ_OK) {
            *forged = 1;
        } else {
            *unusable = (what & SEG_D_DLQ) ? 2 : 1;
            same = 1;
        }
        gmq_checkpoint_free(&c);
    }
    free(p);
    return same;
}

/* every MSG record at an 8-aligned offset of the input files (their zero
 * tails too: a record may end in them), of either version */
static void
seg_collect(const seg_files_t *f)
{
    seg_nvalid = 0;
    for (int i = 0; i < f->n; i++) {
        size_t n = f->data[i].len + f->pad[i];
        char *b = calloc(1, n + 1);
        if (f->data[i].len > 0)
            memcpy(b, f->data[i].data, f->data[i].len);
        for (size_t off = 0; off + GMQ_RECORD_V1_HDR <= n; off += GMQ_RECORD_ALIGN) {
            gmq_record_t r;
            size_t sz;
            if ((gmq_record_decode(b + off, n - off, &r, &sz) != GMQ_OK &&
                 gmq_record_decode_v1(b + off, n - off, &r, &sz) != GMQ_OK) ||
                r.type != GMQ_REC_MSG || seg_nvalid == SEG_MAX_VALID)
                continue;
            seg_valid[seg_nvalid++] = (seg_valid_t) {
                .id = r.id, .len = r.len,
                .crc = (uint32_t) crc32(0L, (const Bytef *) r.body, r.len) };
        }
        free(b);
    }
}

/* a delivery is a message of the input, or the push */
static int
seg_is_valid(uint64_t id, const char *body, size_t len)
{
    uint32_t crc = (uint32_t) crc32(0L, (const Bytef *) body, (uInt) len);
    if (id == SEG_NEW_ID && len == 5 && memcmp(body, "after", 5) == 0)
        return 1;
    for (size_t i = 0; i < seg_nvalid; i++)
        if (seg_valid[i].id == id && seg_valid[i].len == len && seg_valid[i].crc == crc)
            return 1;
    return 0;
}

/* open n (1..4); FUZZ_SEGMENT_KEEP=dir: the files before it, in dir/<n> */
static gmq_topic_t *
seg_open(int n)
{
    const char *keep = getenv("FUZZ_SEGMENT_KEEP");
    if (keep != NULL) {
        char cmd[2 * PATH_MAX + 64];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && rm -rf '%s/%d' && cp -a '%s/t' '%s/%d'", keep,
                 keep, n, seg_root, keep, n);
        FUZZ_CHECK(system(cmd) == 0);
    }
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

/* the state of q and of its dead-letter queue, message by message (not
 * the corrupt count: a freed segment takes its corrupt records along) */
static char *
seg_describe(gmq_topic_t *t)
{
    topic_slot_t *sl = topic_slot(t, "q");
    FUZZ_CHECK(sl != NULL);
    gmq_buf_t b, one;
    gmq_buf_init(&b);
    gmq_queue_t *qs[2] = { sl->q, sl->dlq };
    for (int k = 0; k < 2; k++) {
        if (qs[k] == NULL)
            continue;
        gmq_buf_init(&one);
        gmq_queue_describe(qs[k], &one);
        gmq_buf_append(&one, "", 1);
        const char *nl = strchr(one.data, '\n'), *c = strstr(one.data, " corrupt ");
        if (nl == NULL || c == NULL || c > nl)
            c = nl = one.data;
        gmq_buf_append(&b, one.data, (size_t) (c - one.data));
        gmq_buf_append(&b, nl, strlen(nl));
        gmq_buf_free(&one);
    }
    gmq_buf_append(&b, "", 1);
    return b.data;
}

/* whether the queues were recovered from a checkpoint: which 1 = q,
 * 2 = its dead-letter queue, 3 = either, 0 = none asked */
static int
seg_loaded(gmq_topic_t *t, int which)
{
    topic_slot_t *sl = topic_slot(t, "q");
    FUZZ_CHECK(sl != NULL);
    return ((which & 1) && sl->q->ck_loaded) || ((which & 2) && sl->dlq && sl->dlq->ck_loaded);
}

/* pop (or take dead letters) until empty, acking each: a body of the
 * input; once: no id twice */
static size_t
seg_drain(gmq_topic_t *t, int dead, int once)
{
    static uint64_t seen[SEG_MAX_VALID + 16];
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
        if (!seg_is_valid(m.id, m.body, m.len))
            fprintf(stderr, "delivered %" PRIu64 " (%zu bytes): no such message\n", m.id, m.len);
        FUZZ_CHECK(seg_is_valid(m.id, m.body, m.len));
        for (size_t i = 0; once && i < n; i++)
            FUZZ_CHECK(seen[i] != m.id);
        FUZZ_CHECK(n < GMQ_ARRAY_LEN(seen));
        seen[n++] = m.id;
        rc = gmq_topic_ack(t, "q", m.id, &err);
        /* auto-ack topics finish a message on delivery unless it waits for a confirm */
        if (rc != GMQ_OK)
            fprintf(stderr, "ack %" PRIu64 " (%s): rc %d: %s\n", m.id, dead ? "dead" : "ready", rc,
                    err.msg);
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

/*
 * checkpoint.c - owns the byte layout of a queue's checkpoint file and its
 * durable replacement. What the state means is the queue's (queue.c); this
 * module only checks that a file is whole, undamaged and of its version.
 */
#include "checkpoint.h"
#include "common/log.h"
#include "common/seam.h"
#include "worker/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CKPT_HDR      96      /* header and the fixed fields */
#define CKPT_SEG_SIZE 40
#define CKPT_ENT_SIZE 56
#define CKPT_TMP      "checkpoint.tmp"
#define CKPT_MAX      (1ull << 36)   /* a larger length field is damage */
/* a log position gmq writes is a record boundary: 8-aligned */
#define CKPT_BOUNDARY(pos) ((pos) % GMQ_RECORD_ALIGN == 0)

static char    *ckpt_path(const char *dir, const char *name);
static uint32_t ckpt_crc(const unsigned char *p, size_t len);

void
gmq_checkpoint_encode(const gmq_checkpoint_t *c, gmq_buf_t *out)
{
    size_t start = out->len;
    gmq_buf_put_u32(out, GMQ_CHECKPOINT_MAGIC);
    gmq_buf_put_u32(out, GMQ_CHECKPOINT_VERSION);
    gmq_buf_put_u32(out, 0);                 /* crc, below */
    gmq_buf_put_u32(out, 0);
    gmq_buf_put_u64(out, 0);                 /* length, below */
    gmq_buf_put_u64(out, c->incarnation);
    gmq_buf_put_u64(out, c->applied);
    gmq_buf_put_u64(out, c->check_pos);
    gmq_buf_put_u32(out, c->check_crc);
    gmq_buf_put_u32(out, c->epoch);
    gmq_buf_put_u64(out, c->cursor);
    gmq_buf_put_u64(out, c->max_seq);
    gmq_buf_put_u64(out, c->max_id);
    gmq_buf_put_u32(out, c->corrupt);
    gmq_buf_put_u32(out, (uint32_t) c->nsegs);
    gmq_buf_put_u64(out, (uint64_t) c->nents);
    for (size_t i = 0; i < c->nsegs; i++) {
        const gmq_checkpoint_seg_t *s = &c->segs[i];
        gmq_buf_put_u64(out, s->no);
        gmq_buf_put_u64(out, s->wpos);
        gmq_buf_put_u64(out, s->nready);
        gmq_buf_put_u64(out, s->min_id);
        gmq_buf_put_u64(out, s->max_id);
    }
    for (size_t i = 0; i < c->nents; i++) {
        const gmq_checkpoint_ent_t *e = &c->ents[i];
        gmq_buf_put_u64(out, e->id);
        gmq_buf_put_u64(out, e->pos);
        gmq_buf_put_u64(out, e->key);
        gmq_buf_put_u64(out, e->hkey);
        gmq_buf_put_u64(out, e->delivered_at);
        gmq_buf_put_u32(out, e->retry);
        gmq_buf_put_u32(out, e->len);
        gmq_buf_put_u32(out, (uint32_t) e->state << 24 | (uint32_t) e->kind << 16);
        gmq_buf_put_u32(out, 0);
    }
    unsigned char *p = (unsigned char *) out->data + start;
    size_t len = out->len - start;
    gmq_put_u64(p + 16, (uint64_t) len);
    gmq_put_u32(p + 8, ckpt_crc(p + 16, len - 16));
}

int
gmq_checkpoint_decode(const void *src, size_t len, gmq_checkpoint_t *c)
{
    const unsigned char *p = src;
    memset(c, 0, sizeof(*c));
    if (len < CKPT_HDR || gmq_get_u32(p) != GMQ_CHECKPOINT_MAGIC ||
        gmq_get_u32(p + 4) != GMQ_CHECKPOINT_VERSION || gmq_get_u64(p + 16) != len ||
        gmq_get_u32(p + 8) != ckpt_crc(p + 16, len - 16))
        return GMQ_ERR;
    c->incarnation = gmq_get_u64(p + 24);
    c->applied = gmq_get_u64(p + 32);
    c->check_pos = gmq_get_u64(p + 40);
    c->check_crc = gmq_get_u32(p + 48);
    c->epoch = gmq_get_u32(p + 52);
    c->cursor = gmq_get_u64(p + 56);
    c->max_seq = gmq_get_u64(p + 64);
    c->max_id = gmq_get_u64(p + 72);
    c->corrupt = gmq_get_u32(p + 80);
    uint64_t nsegs = gmq_get_u32(p + 84), nents = gmq_get_u64(p + 88);
    if (nents > CKPT_MAX || CKPT_HDR + nsegs * CKPT_SEG_SIZE + nents * CKPT_ENT_SIZE != len)
        return GMQ_ERR;
    /* records are 8-aligned: a position between two boundaries was never
     * written, and reading there would take bytes inside a record (or in
     * no record) for one */
    if (!CKPT_BOUNDARY(c->applied) || !CKPT_BOUNDARY(c->cursor) ||
        (c->check_pos != UINT64_MAX /* none */ && !CKPT_BOUNDARY(c->check_pos)))
        return GMQ_ERR;
    c->nsegs = (size_t) nsegs;
    c->nents = (size_t) nents;
    c->segs = gmq_xmalloc((c->nsegs ? c->nsegs : 1) * sizeof(*c->segs));
    c->ents = gmq_xmalloc((c->nents ? c->nents : 1) * sizeof(*c->ents));
    const unsigned char *q = p + CKPT_HDR;
    for (size_t i = 0; i < c->nsegs; i++, q += CKPT_SEG_SIZE) {
        gmq_checkpoint_seg_t *s = &c->segs[i];
        s->no = gmq_get_u64(q);
        s->wpos = gmq_get_u64(q + 8);
        s->nready = gmq_get_u64(q + 16);
        s->min_id = gmq_get_u64(q + 24);
        s->max_id = gmq_get_u64(q + 32);
        if ((i > 0 && s->no <= c->segs[i - 1].no) || !CKPT_BOUNDARY(s->wpos)) {
            gmq_checkpoint_free(c);
            return GMQ_ERR;
        }
    }
    for (size_t i = 0; i < c->nents; i++, q += CKPT_ENT_SIZE) {
        gmq_checkpoint_ent_t *e = &c->ents[i];
        e->id = gmq_get_u64(q);
        e->pos = gmq_get_u64(q + 8);
        e->key = gmq_get_u64(q + 16);
        e->hkey = gmq_get_u64(q + 24);
        e->delivered_at = gmq_get_u64(q + 32);
        e->retry = gmq_get_u32(q + 40);
        e->len = gmq_get_u32(q + 44);
        uint32_t sk = gmq_get_u32(q + 48);
        e->state = (uint8_t) (sk >> 24);
        e->kind = (uint8_t) (sk >> 16);
        if (!CKPT_BOUNDARY(e->pos)) {
            gmq_checkpoint_free(c);
            return GMQ_ERR;
        }
    }
    return GMQ_OK;
}

void
gmq_checkpoint_free(gmq_checkpoint_t *c)
{
    if (c == NULL)
        return;
    free(c->segs);
    free(c->ents);
    c->segs = NULL;
    c->ents = NULL;
    c->nsegs = c->nents = 0;
}

int
gmq_checkpoint_load(const char *dir, gmq_checkpoint_t *c)
{
    memset(c, 0, sizeof(*c));
    char *path = ckpt_path(dir, GMQ_CHECKPOINT_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e != ENOENT)
            gmq_log_warn("%s: cannot open: %s; the log is scanned instead", path, strerror(e));
        free(path);
        return e == ENOENT ? GMQ_AGAIN : GMQ_ERR;
    }
    struct stat st;
    int rc = GMQ_ERR;
    if (fstat(fd, &st) == 0 && st.st_size >= CKPT_HDR && (uint64_t) st.st_size < CKPT_MAX) {
        size_t len = (size_t) st.st_size, got = 0;
        unsigned char *buf = gmq_xmalloc(len);
        while (got < len) {
            ssize_t n = read(fd, buf + got, len - got);
            if (n <= 0)
                break;
            got += (size_t) n;
        }
        if (got == len)
            rc = gmq_checkpoint_decode(buf, len, c);
        free(buf);
    }
    close(fd);
    if (rc != GMQ_OK)
        gmq_log_warn("%s: torn or damaged; the log is scanned instead", path);
    free(path);
    return rc;
}

int
gmq_checkpoint_store(const char *dir, const void *p, size_t len, int sync, gmq_error_t *err)
{
    char *tmp = ckpt_path(dir, CKPT_TMP), *path = ckpt_path(dir, GMQ_CHECKPOINT_FILE);
    const char *what = "create";
    int rc = GMQ_ERR, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        /* reserved first: a full disk fails here, not half way through */
        int res = gmq_seam.fallocate(fd, 0, (off_t) len);
        size_t done = 0;
        what = "reserve";
        if (res != 0) {
            errno = res;
        } else {
            what = "write";
            while (done < len) {
                ssize_t n = write(fd, (const char *) p + done, len - done);
                if (n <= 0) {
                    if (n == 0)
                        errno = ENOSPC;
                    break;
                }
                done += (size_t) n;
            }
        }
        if (done == len) {
            what = "fsync";
            if (!sync || gmq_seam.fsync(fd) == 0) {
                what = "rename";
                if (gmq_seam.rename(tmp, path) == 0)
                    rc = GMQ_OK;
            }
        }
        int e = errno;
        close(fd);
        errno = e;
    }
    if (rc != GMQ_OK) {
        int e = errno;
        gmq_error_set(err, GMQ_E_STORAGE, "%s: cannot %s %s: %s",
                      e == ENOSPC ? "no space left on device" : "storage error", what, tmp,
                      strerror(e));
        unlink(tmp);
        errno = e;
    } else if (sync) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            gmq_seam.fsync(dfd);
            close(dfd);
        }
    }
    free(tmp);
    free(path);
    return rc;
}

void
gmq_checkpoint_remove(const char *dir)
{
    char *path = ckpt_path(dir, GMQ_CHECKPOINT_FILE);
    if (unlink(path) != 0 && errno != ENOENT)
        gmq_log_warn("unlink %s: %s", path, strerror(errno));
    free(path);
}

/* ---- static helpers ---- */

static char *
ckpt_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = gmq_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static uint32_t
ckpt_crc(const unsigned char *p, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt) len;
        crc = crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t) crc;
}

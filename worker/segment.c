/*
 * segment.c - owns one segment file: its descriptor, its shared mapping,
 * the write position and dirty range. Knows nothing about messages; the
 * queue decides what records mean and when a segment may go.
 */
#include "segment.h"
#include "syncstat.h"
#include "common/log.h"
#include "common/seam.h"
#include "common/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* how far past a stop a scan looks for more data: a hole longer than this
 * can only hold records that were never synced */
#define SEGMENT_SCAN_WINDOW (1024 * 1024)

static char          *segment_path(const char *dir, uint64_t no);
static gmq_segment_t *segment_new(char *path, uint64_t no, int fd, size_t size, gmq_error_t *err);
static size_t         segment_window(const gmq_segment_t *s, size_t p);
static size_t         segment_data_end(const gmq_segment_t *s, size_t from, size_t to);
static size_t         segment_find(const gmq_segment_t *s, size_t from, size_t end);
static int            segment_decode(const gmq_segment_t *s, size_t p, gmq_record_t *r, size_t *sz);
static void           segment_mark(gmq_segment_t *s, size_t lo, size_t hi);
static int            segment_storage_err(gmq_error_t *err, int e, const char *what,
                                          const char *path);

gmq_segment_t *
gmq_segment_create(const char *dir, uint64_t no, size_t size, int sync, gmq_error_t *err)
{
    long pg = sysconf(_SC_PAGESIZE);
    size = (size + (size_t) pg - 1) & ~((size_t) pg - 1);
    char *path = segment_path(dir, no);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        segment_storage_err(err, errno, "cannot create", path);
        free(path);
        return NULL;
    }
    int e = gmq_seam.fallocate(fd, 0, (off_t) size);
    if (e != 0) {
        segment_storage_err(err, e, "cannot preallocate", path);
        goto fail;
    }
    if (sync) {
        uint64_t t0 = gmq_syncstat_start();
        int rc = gmq_seam.fsync(fd);
        gmq_syncstat_observe(t0);
        if (rc != 0) {
            segment_storage_err(err, errno, "cannot fsync", path);
            goto fail;
        }
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            t0 = gmq_syncstat_start();
            rc = gmq_seam.fsync(dfd);
            gmq_syncstat_observe(t0);
            if (rc != 0)
                gmq_log_warn("fsync of directory %s: %s", dir, strerror(errno));
            close(dfd);
        }
    }
    gmq_segment_t *s = segment_new(path, no, fd, size, err);
    if (s == NULL) {
        unlink(path);
        free(path);
    }
    return s;

fail:
    close(fd);
    unlink(path);
    free(path);
    return NULL;
}

gmq_segment_t *
gmq_segment_open(const char *dir, uint64_t no, gmq_error_t *err)
{
    char *path = segment_path(dir, no);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        segment_storage_err(err, errno, "cannot open", path);
        if (fd >= 0)
            close(fd);
        free(path);
        return NULL;
    }
    if (st.st_size < GMQ_RECORD_HDR) {
        /* created but never preallocated (crash in between): nothing in it */
        close(fd);
        unlink(path);
        segment_storage_err(err, ENODATA, "empty segment removed", path);
        free(path);
        return NULL;
    }
    gmq_segment_t *s = segment_new(path, no, fd, (size_t) st.st_size, err);
    if (s == NULL)
        free(path);
    return s;
}

void
gmq_segment_scan(gmq_segment_t *s, size_t from, gmq_segment_scan_fn fn, void *arg,
                 unsigned *corrupt)
{
    size_t p = from;

    while (p + GMQ_RECORD_HDR <= s->size) {
        gmq_record_t r;
        size_t sz;
        if (segment_decode(s, p, &r, &sz) == GMQ_OK) {
            fn(arg, s, &r, p);
            p += sz;
            continue;
        }
        /* zero or bad bytes at p: is anything written after them? Only the
         * span a torn record could cover plus a window is looked at, so
         * opening a mostly empty preallocated segment reads little. */
        size_t end = segment_data_end(s, p, segment_window(s, p));
        if (end == 0)
            break;                                   /* clean end of data */
        size_t q = segment_find(s, p + GMQ_RECORD_ALIGN, end);
        if (q == 0) {
            gmq_log_warn("%s: torn tail at offset %zu (%zu bytes) truncated", s->path, p, end - p);
            memset(s->map + p, 0, end - p);
            segment_mark(s, p, end);
            break;
        }
        gmq_log_warn("%s: corrupt record at offset %zu, skipped %zu bytes", s->path, p, q - p);
        (*corrupt)++;
        p = q;
    }
    s->wpos = p;
}

size_t
gmq_segment_resync(const gmq_segment_t *s, size_t from)
{
    size_t q = from < s->wpos ? segment_find(s, from, s->wpos) : 0;
    return q != 0 && q < s->wpos ? q : s->wpos;
}

size_t
gmq_segment_append(gmq_segment_t *s, const gmq_record_t *r)
{
    size_t off = s->wpos;
    s->wpos += gmq_record_encode(s->map + off, r);
    segment_mark(s, off, s->wpos);
    return off;
}

int
gmq_segment_sync(gmq_segment_t *s, gmq_error_t *err)
{
    if (!gmq_segment_dirty(s))
        return GMQ_OK;
    size_t pg = (size_t) sysconf(_SC_PAGESIZE);
    size_t lo = s->dirty_lo & ~(pg - 1);
    uint64_t t0 = gmq_syncstat_start();
    int rc = gmq_seam.msync(s->map + lo, s->dirty_hi - lo, MS_SYNC);
    gmq_syncstat_observe(t0);
    if (rc != 0)
        return segment_storage_err(err, errno, "msync failed for", s->path);
    s->dirty_lo = s->dirty_hi = 0;
    return GMQ_OK;
}

int
gmq_segment_sync_async(gmq_segment_t *s, gmq_bgsync_t *bg, gmq_error_t *err)
{
    if (!gmq_segment_dirty(s))
        return GMQ_OK;
    if (gmq_bgsync_submit(bg, s->fd) != GMQ_OK)
        return segment_storage_err(err, errno, "cannot queue a sync for", s->path);
    s->dirty_lo = s->dirty_hi = 0;
    return GMQ_OK;
}

void
gmq_segment_release_pages(gmq_segment_t *s)
{
    if (madvise(s->map, s->size, MADV_DONTNEED) != 0)
        gmq_log_warn("madvise %s: %s", s->path, strerror(errno));
}

void
gmq_segment_close(gmq_segment_t *s, int unlink_file)
{
    if (s == NULL)
        return;
    munmap(s->map, s->size);
    close(s->fd);
    if (unlink_file && unlink(s->path) != 0)
        gmq_log_warn("unlink %s: %s", s->path, strerror(errno));
    free(s->path);
    free(s);
}

int
gmq_segment_parse_name(const char *name, uint64_t *no)
{
    if (strlen(name) != 24 || strncmp(name, "seg-", 4) != 0 || strcmp(name + 20, ".log") != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = (v << 4) | (uint64_t) d;
    }
    *no = v;
    return 1;
}

static char *
segment_path(const char *dir, uint64_t no)
{
    size_t n = strlen(dir) + 32;
    char *p = gmq_xmalloc(n);
    snprintf(p, n, "%s/seg-%016" PRIx64 ".log", dir, no);
    return p;
}

static gmq_segment_t *
segment_new(char *path, uint64_t no, int fd, size_t size, gmq_error_t *err)
{
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        segment_storage_err(err, errno, "cannot map", path);
        close(fd);
        return NULL;
    }
    gmq_segment_t *s = gmq_xcalloc(1, sizeof(*s));
    s->min_id = UINT64_MAX;
    s->version = GMQ_RECORD_VERSION;
    s->no = no;
    s->fd = fd;
    s->map = map;
    s->size = size;
    s->path = path;
    return s;
}

/* end of the bytes a scan stopped at p must inspect: the record its header
 * claims to be (if the header is plausible) plus SEGMENT_SCAN_WINDOW */
static size_t
segment_window(const gmq_segment_t *s, size_t p)
{
    size_t span = 0;
    const unsigned char *h = (const unsigned char *) s->map + p;
    if (gmq_get_u32(h) == GMQ_RECORD_MAGIC)
        span = gmq_record_size(gmq_get_u32(h + 12));
    if (span > s->size - p)
        span = s->size - p;
    size_t to = p + span + SEGMENT_SCAN_WINDOW;
    return to < s->size ? to : s->size;
}

/* offset just past the last non-zero 8-byte word in [from, to), 0 if none */
static size_t
segment_data_end(const gmq_segment_t *s, size_t from, size_t to)
{
    const uint64_t *w = (const uint64_t *) (const void *) s->map;
    size_t lo = from / sizeof(uint64_t), n = to / sizeof(uint64_t);
    while (n > lo && w[n - 1] == 0)
        n--;
    return n > lo ? n * sizeof(uint64_t) : 0;
}

/* first offset in [from, end) where a valid record starts, 0 if none. A
 * record may end past end: its last words can be zero (an empty body, ts,
 * due and retry 0), and end is only past the last non-zero word. */
static size_t
segment_find(const gmq_segment_t *s, size_t from, size_t end)
{
    for (size_t p = from; p < end && p + GMQ_RECORD_HDR <= s->size; p += GMQ_RECORD_ALIGN) {
        gmq_record_t r;
        size_t sz;
        if (segment_decode(s, p, &r, &sz) == GMQ_OK)
            return p;
    }
    return 0;
}

/* the record at p, of the version the segment's log holds */
static int
segment_decode(const gmq_segment_t *s, size_t p, gmq_record_t *r, size_t *sz)
{
    return s->version == 1 ? gmq_record_decode_v1(s->map + p, s->size - p, r, sz)
                           : gmq_record_decode(s->map + p, s->size - p, r, sz);
}

static void
segment_mark(gmq_segment_t *s, size_t lo, size_t hi)
{
    if (!gmq_segment_dirty(s)) {
        s->dirty_lo = lo;
        s->dirty_hi = hi;
        return;
    }
    if (lo < s->dirty_lo)
        s->dirty_lo = lo;
    if (hi > s->dirty_hi)
        s->dirty_hi = hi;
}

static int
segment_storage_err(gmq_error_t *err, int e, const char *what, const char *path)
{
    if (e == ENOSPC)
        return gmq_error_set(err, GMQ_E_STORAGE, "no space left on device: %s %s", what, path);
    return gmq_error_set(err, GMQ_E_STORAGE, "storage error: %s %s: %s", what, path, strerror(e));
}

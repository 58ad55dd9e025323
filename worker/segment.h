/*
 * segment.h - one segment file of a queue log: created with its full size
 * preallocated (a full disk is an error here, never a SIGBUS later), mapped
 * shared, appended to record by record, scanned at recovery, synced by dirty
 * range, unlinked when the queue no longer needs it. Files are
 * <dir>/seg-%016x.log.
 */
#ifndef GMQ_SEGMENT_H
#define GMQ_SEGMENT_H

#include "common/gmq.h"
#include "worker/bgsync.h"
#include "proto/errors.h"
#include "worker/record.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gmq_segment_s gmq_segment_t;
struct gmq_segment_s {
    uint64_t   no;          /* sequence number, also the file name */
    int        fd;
    char      *map;
    size_t     size;        /* file and mapping size */
    size_t     wpos;        /* end of valid records */
    size_t     dirty_lo;    /* [dirty_lo, dirty_hi) written since the last sync */
    size_t     dirty_hi;
    char      *path;
    int        version;     /* of the records its log holds: GMQ_RECORD_VERSION, or 1
                             * for an old log the conversion reads (set before a scan);
                             * a record of the other version is no record here */
    /* kept by the owning queue (worker/queue.c), not by this module: */
    uint64_t   pins;        /* entries whose MSG record is here */
    size_t     pin_bytes;   /* ...and the bytes of those records */
    uint64_t   nready;      /* messages here still to be read by the queue's cursor */
    uint64_t   min_id, max_id;   /* of the MSG records here (min > max: none) */
    void      *index;       /* the queue's id index of this segment, NULL until needed */
};

typedef void (*gmq_segment_scan_fn)(void *arg, gmq_segment_t *s, const gmq_record_t *r,
                                    size_t off);

/* Create a new segment file of `size` bytes (rounded up to the page size),
 * preallocated and mapped. sync != 0: fsync the file and the directory.
 * NULL with err = E_STORAGE on failure; nothing is left behind. */
gmq_segment_t *gmq_segment_create(const char *dir, uint64_t no, size_t size, int sync,
                                  gmq_error_t *err);
/* Map an existing segment file; wpos is 0 until gmq_segment_scan runs. */
gmq_segment_t *gmq_segment_open(const char *dir, uint64_t no, gmq_error_t *err);

/* Call fn for each valid record from offset `from` (a record boundary) on,
 * in file order, and set wpos after the last one. A bad record followed by
 * valid ones is skipped, counted in *corrupt and logged; bad bytes at the end
 * (a torn tail) are zeroed and logged. */
void  gmq_segment_scan(gmq_segment_t *s, size_t from, gmq_segment_scan_fn fn, void *arg,
                       unsigned *corrupt);
/* the first offset in [from, wpos) where a valid record starts, wpos if
 * none: how a reader gets past bytes the scan skipped as corrupt */
size_t gmq_segment_resync(const gmq_segment_t *s, size_t from);

static inline size_t gmq_segment_room(const gmq_segment_t *s) { return s->size - s->wpos; }
/* Append r at wpos; the caller checked gmq_segment_room() >= record size.
 * Returns the record's offset. No syscall. */
size_t gmq_segment_append(gmq_segment_t *s, const gmq_record_t *r);
/* Body of the record at off (a MSG record appended or scanned earlier). */
static inline const char *gmq_segment_body(const gmq_segment_t *s, size_t off)
{
    return s->map + off + GMQ_RECORD_HDR;
}

/* msync(MS_SYNC) the dirty range. GMQ_ERR with err set on failure. */
/* fsync=everysec: hand the dirty range to the background sync thread
 * (fdatasync of the whole file) and mark it clean */
int  gmq_segment_sync_async(gmq_segment_t *s, gmq_bgsync_t *bg, gmq_error_t *err);
int   gmq_segment_sync(gmq_segment_t *s, gmq_error_t *err);
static inline int gmq_segment_dirty(const gmq_segment_t *s) { return s->dirty_hi > s->dirty_lo; }

/* Drop this process's mapping of the segment's pages (they stay in the page
 * cache and on disk, dirty ones are written as before; the next access
 * maps them again): a backlog does not count in the worker's RSS. */
void  gmq_segment_release_pages(gmq_segment_t *s);

/* Unmap, close and free; unlink != 0 also removes the file. NULL ok. */
void  gmq_segment_close(gmq_segment_t *s, int unlink_file);

/* parse "seg-%016x.log"; 1 and *no set if name is a segment file name */
int   gmq_segment_parse_name(const char *name, uint64_t *no);

#endif

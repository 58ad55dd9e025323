/*
 * queue.h - one queue (or dead-letter queue): its append-only log of
 * segments, a read cursor over it, and entries for the few messages that
 * are not simply waiting in the log (in flight, delayed, requeued, and
 * their places in the topic's delay and TTR heaps). The ready backlog stays
 * in the segment files: memory holds positions and counts, not messages.
 * Every move first appends a record, then changes memory, so a failed
 * write (full disk) changes nothing. Checkpoints of this state let a
 * restart replay only the records written after the last one.
 */
#ifndef GMQ_QUEUE_H
#define GMQ_QUEUE_H

#include "common/gmq.h"
#include "proto/errors.h"
#include "worker/bgsync.h"
#include "worker/heap.h"
#include "common/list.h"
#include "worker/segment.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gmq_queue_s gmq_queue_t;
typedef struct gmq_qent_s  gmq_qent_t;

/* a queue's first segment file; each next one doubles, up to seg_size */
#define GMQ_QUEUE_FIRST_SEGMENT (256 * 1024)
/* a checkpoint is written this long after the first change since the last,
 * once this much log follows the last one (all a restart replays beyond it;
 * a queue freeing a segment, and every close, write one whatever the size):
 * a topic that takes a few messages pays no checkpoint (2 fsyncs) for them */
#define GMQ_QUEUE_CHECKPOINT_MS    1000
#define GMQ_QUEUE_CHECKPOINT_BYTES (1024 * 1024)

/* A position in a queue's log: segment number << 32 | offset. Positions
 * compare in log order. */
#define GMQ_QPOS(no, off) (((uint64_t) (no) << 32) | (uint64_t) (off))
#define GMQ_QPOS_SEG(p)   ((uint64_t) (p) >> 32)
#define GMQ_QPOS_OFF(p)   ((size_t) ((p) & 0xffffffffu))
#define GMQ_QPOS_NONE     UINT64_MAX

/* What the queues of one topic share; owned by the topic. */
typedef struct gmq_qshared_s gmq_qshared_t;
struct gmq_qshared_s {
    gmq_heap_t   *delay, *ttr;
    uint64_t      seq;          /* the last record sequence number given out, topic-wide */
    uint32_t      epoch;        /* written into every record (replication fences on it) */
    uint64_t      incarnation;  /* the data directory's storage id, kept in checkpoints */
    size_t        seg_size;     /* largest new segment (the first ones are smaller) */
    int           fsync;        /* GMQ_FSYNC_* (common/config.h) */
    gmq_bgsync_t *bg;           /* fsync=everysec: the background sync thread, or NULL */
};

/* entry states: which structure holds it */
#define GMQ_QENT_HEAD     1   /* ready, in the head list */
#define GMQ_QENT_TAIL     2   /* ready, in the tail list, due once the cursor reaches key */
#define GMQ_QENT_DELAYED  3   /* in the delay heap, heap key = due time */
#define GMQ_QENT_INFLIGHT 4   /* in the TTR heap, heap key = deadline */
#define GMQ_QENT_GONE     5   /* a message after the cursor finished out of order (a
                               * dead letter moved back by id): skipped when read */
/* head entries: why they are there (their order after a recovery) */
#define GMQ_QHEAD_RELEASED  0 /* released: key = seq of its REQUEUE record, newest first */
#define GMQ_QHEAD_RECOVERED 1 /* in flight at a recovery: key = seq of its DELIVER, oldest first */

struct gmq_qent_s {
    gmq_heap_node_t hnode;       /* delay or TTR heap, by state */
    gmq_list_t      link;        /* head or tail list */
    gmq_qent_t     *hnext;       /* id hash chain */
    gmq_queue_t    *q;
    uint64_t        id;
    uint64_t        pos;         /* its MSG record */
    uint64_t        key;         /* HEAD: order key; TAIL: log position; INFLIGHT: seq of
                                  * its DELIVER record; DELAYED: due time */
    uint64_t        delivered_at;
    uint32_t        retry;
    uint32_t        len;         /* body length */
    uint8_t         state;       /* GMQ_QENT_* */
    uint8_t         kind;        /* GMQ_QHEAD_* */
};

/* A stored message as the queue sees it (a view, filled by the calls
 * below): its entry, or NULL for one read from the log at the cursor (or
 * found there by id). body points into a segment mapping: valid until the
 * next call that may free segments (gmq_queue_gc). */
#define GMQ_QMSG_READY    0
#define GMQ_QMSG_DELAYED  1
#define GMQ_QMSG_INFLIGHT 2
typedef struct {
    gmq_queue_t *q;
    gmq_qent_t  *e;
    uint64_t     id, pos;
    uint64_t     pushed_at, due_at, delivered_at;
    const char  *body;
    uint32_t     len, retry;
    int          state;          /* GMQ_QMSG_* */
} gmq_qmsg_t;

struct gmq_queue_s {
    char           *bind_key;
    int             dead;          /* 1 = dead-letter queue of bind_key */
    char           *dir;
    gmq_qshared_t  *sh;
    gmq_segment_t **segv;          /* oldest first; the last one is active */
    size_t          nsegs, capsegs;
    gmq_segment_t  *cur_seg;       /* the cursor: the next record to read from the log */
    size_t          cur_off;
    gmq_qent_t    **buckets;       /* entries by id */
    size_t          nbuckets, nents;
    gmq_list_t      head, tail;
    size_t          n_head, n_tail, n_delayed, n_inflight, n_gone;
    uint64_t        n_log;         /* ready messages in the log after the cursor */
    uint64_t        max_id;        /* largest message id appended */
    unsigned        corrupt;       /* corrupt records skipped (at recovery, or read later
                                    * where a checkpoint spared the recovery a scan) */
    uint64_t        scan_from;     /* the last recovery scanned the log from here */
    int             gc_pending;
    int             recovering;    /* in-flight entries collect in rec_inflight */
    gmq_list_t      rec_inflight;
    void           *owner;         /* the topic's per-bind-key slot */
    /* checkpoints */
    uint64_t        last_pos;      /* the newest record (GMQ_QPOS_NONE: none) ... */
    uint32_t        last_crc;      /* ... and its crc */
    int             ck_dirty;      /* records appended since the last checkpoint */
    uint64_t        ck_last;       /* ms of the last periodic checkpoint */
    uint64_t        ck_bytes;      /* log bytes appended since the last checkpoint */
    uint64_t        ck_covered;    /* log position the newest durable checkpoint covers */
    uint64_t        ck_ticket;     /* everysec: the background write in progress, 0 = none */
    uint64_t        ck_pending;    /* ...and the position it covers */
    void           *ck_job;
    int             ck_loaded;     /* recovery: 1 = from a checkpoint, 0 = a full scan */
    uint64_t        replayed;      /* recovery: records read */
};

static inline uint64_t gmq_queue_n_ready(const gmq_queue_t *q)
{
    return q->n_log + q->n_head + q->n_tail;
}
/* every message the queue holds, whatever its state */
static inline uint64_t gmq_queue_count(const gmq_queue_t *q)
{
    return gmq_queue_n_ready(q) + q->n_delayed + q->n_inflight;
}

/* Open (create) the queue in dir and recover it: from its checkpoint and
 * the records after it, or (no usable checkpoint, or use_checkpoint 0) by
 * a scan of the whole log; a log of the previous format is converted first.
 * Messages in flight become ready again, first in line, retry count kept;
 * delayed ones go into sh->delay. */
gmq_queue_t *gmq_queue_open(const char *dir, const char *bind_key, int dead, gmq_qshared_t *sh,
                            int use_checkpoint, gmq_error_t *err);
/* Syncs, writes a checkpoint, frees every entry (taking them out of the
 * heaps) and closes the files; NULL ok. */
void         gmq_queue_close(gmq_queue_t *q);
/* the same without the sync and checkpoint: the queue is being deleted */
void         gmq_queue_discard(gmq_queue_t *q);
/* 1 if dir holds a queue (or the leftovers of its interrupted conversion) */
int          gmq_queue_exists(const char *dir);

/* make sure a message record with a body of len bytes fits (may create a
 * segment, preallocated before use: E_STORAGE on a full disk). */
int          gmq_queue_reserve(gmq_queue_t *q, size_t len, gmq_error_t *err);
/* append a message; due_at > 0 = delayed until then (ignored by a
 * dead-letter queue). GMQ_OK or GMQ_ERR. */
int          gmq_queue_put(gmq_queue_t *q, uint64_t id, const char *body, size_t len,
                           uint32_t retry, uint64_t pushed_at, uint64_t due_at, gmq_error_t *err);
/* the message stored under id, in any state: GMQ_OK with *m, or GMQ_AGAIN */
int          gmq_queue_find(gmq_queue_t *q, uint64_t id, gmq_qmsg_t *m);
/* the entry of id, NULL if it has none (waiting in the log, or not stored) */
gmq_qent_t  *gmq_queue_entry(const gmq_queue_t *q, uint64_t id);
/* the entry of id in state (GMQ_QENT_*), NULL if none: one id has one live
 * entry in a log gmq wrote, but a checkpoint it did not write can give it
 * two (a waiting copy besides the delivered one), and the delivered one must
 * still be found to be acked */
gmq_qent_t  *gmq_queue_entry_in(const gmq_queue_t *q, uint64_t id, int state);
/* the next message a pop delivers: GMQ_OK with *m, or GMQ_AGAIN (an entry
 * whose record is damaged is dropped on the way and counted as corrupt) */
int          gmq_queue_head(gmq_queue_t *q, gmq_qmsg_t *m);
/* the view of an entry; GMQ_ERR if its record is missing or damaged (its
 * CRC is checked; logged) */
int          gmq_queue_view(gmq_queue_t *q, gmq_qent_t *e, gmq_qmsg_t *m);
/* the entries in a state (GMQ_QENT_*), in an allocated array (free it) of *n */
gmq_qent_t **gmq_queue_entries(const gmq_queue_t *q, int state, size_t *n);
/* the delayed message due first: GMQ_OK with *m, or GMQ_AGAIN */
int          gmq_queue_next_delayed(gmq_queue_t *q, gmq_qmsg_t *m);

/* the ready messages in delivery order, without delivering them */
typedef struct {
    gmq_list_t    *h, *t;         /* next in the head and tail lists */
    gmq_segment_t *seg;           /* next in the log */
    size_t         off;
    int            have;          /* lm holds the log's next one */
    gmq_qmsg_t     lm;
} gmq_queue_iter_t;
void         gmq_queue_iter_init(gmq_queue_t *q, gmq_queue_iter_t *it);
int          gmq_queue_iter_next(gmq_queue_t *q, gmq_queue_iter_t *it, gmq_qmsg_t *m);

/* m (from gmq_queue_head) -> in flight until deadline */
int          gmq_queue_deliver(gmq_queue_t *q, const gmq_qmsg_t *m, uint64_t now,
                               uint64_t deadline, gmq_error_t *err);
/* m (the head, or found by id, in any state) -> gone; type GMQ_REC_ACK,
 * _DEAD or _MOVED. Its entry, if any, is freed. */
int          gmq_queue_finish(gmq_queue_t *q, const gmq_qmsg_t *m, int type, gmq_error_t *err);
/* in flight (or delayed) -> ready (tail, or head), with this retry count */
int          gmq_queue_requeue(gmq_queue_t *q, gmq_qent_t *e, uint32_t retry, int head,
                               gmq_error_t *err);
/* in flight -> delayed until due (> 0), with this retry count */
int          gmq_queue_delay(gmq_queue_t *q, gmq_qent_t *e, uint32_t retry, uint64_t due,
                             gmq_error_t *err);
/* delayed -> ready tail */
int          gmq_queue_due(gmq_queue_t *q, gmq_qent_t *e, gmq_error_t *err);
/* in flight: a new TTR deadline (memory only: recovery makes in-flight
 * messages ready again whatever their deadline) */
void         gmq_queue_touch(gmq_queue_t *q, gmq_qent_t *e, uint64_t deadline);
/* Drop every message the queue holds, in any state, with one PURGE record
 * (a crash leaves all of them or none): the cursor jumps to the end of the
 * log. Returns how many, or -1 with err set (nothing changed). */
long         gmq_queue_purge(gmq_queue_t *q, gmq_error_t *err);

/* msync the dirty ranges */
int          gmq_queue_sync(gmq_queue_t *q, gmq_error_t *err);
/* fsync=everysec: queue every dirty segment for the background sync thread */
int          gmq_queue_sync_async(gmq_queue_t *q, gmq_bgsync_t *bg, gmq_error_t *err);
/* Write a checkpoint if records were appended since the last one and
 * GMQ_QUEUE_CHECKPOINT_MS passed since the first of them and they are at
 * least GMQ_QUEUE_CHECKPOINT_BYTES (force: now).
 * The records it covers are synced first (fsync=always), or it is written
 * on the background thread after their sync (everysec). A failure is
 * logged; it only makes the next recovery replay more. */
void         gmq_queue_checkpoint(gmq_queue_t *q, uint64_t now_ms, int force);
/* wall-clock ms at which gmq_queue_checkpoint has work, 0 = none */
uint64_t     gmq_queue_next_checkpoint(const gmq_queue_t *q);
/* drop the queue's segment pages from this process's mapping (they stay in
 * the page cache, dirty ones are still written back): an idle queue then
 * holds none of its log in the worker's memory */
void         gmq_queue_release_pages(gmq_queue_t *q);
/* Free space: unlink leading segments the cursor has passed and no entry
 * points into (once a checkpoint covers them); relocate the few entries
 * of an old segment that pins freeable ones. Must not run while a body
 * pointer handed out is still in use. */
void         gmq_queue_gc(gmq_queue_t *q);
size_t       gmq_queue_bytes(const gmq_queue_t *q);   /* bytes of segment files */

/* a canonical text of the queue's state (tests compare recoveries with it) */
void         gmq_queue_describe(gmq_queue_t *q, gmq_buf_t *out);

#endif

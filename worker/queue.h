/*
 * queue.h - one queue (or dead-letter queue): its append-only log of
 * segments, the id index, the ready list, and its messages' places in the
 * topic's delay and TTR heaps. A message's state is which structure holds
 * it; every move first appends a record, then changes memory, so a failed
 * write (full disk) changes nothing.
 */
#ifndef GMQ_QUEUE_H
#define GMQ_QUEUE_H

#include "common/gmq.h"
#include "proto/errors.h"
#include "worker/heap.h"
#include "common/list.h"
#include "worker/segment.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gmq_queue_s gmq_queue_t;

/* a queue's first segment file; each next one doubles, up to seg_size */
#define GMQ_QUEUE_FIRST_SEGMENT (256 * 1024)
typedef struct gmq_qmsg_s  gmq_qmsg_t;

#define GMQ_QMSG_READY    0
#define GMQ_QMSG_DELAYED  1   /* in the delay heap, key = due time */
#define GMQ_QMSG_INFLIGHT 2   /* in the TTR heap, key = deadline */

struct gmq_qmsg_s {
    gmq_heap_node_t hnode;       /* delay or TTR heap, by state */
    gmq_list_t      link;        /* ready list */
    gmq_qmsg_t     *hnext;       /* id hash chain */
    gmq_queue_t    *q;
    gmq_segment_t  *seg;         /* segment holding the body record */
    uint64_t        id;
    uint64_t        pushed_at;
    uint64_t        due_at;      /* 0 = never delayed */
    uint64_t        delivered_at;
    uint32_t        off;         /* body record offset in seg */
    uint32_t        len;
    uint32_t        retry;
    uint8_t         state;
};

struct gmq_queue_s {
    char        *bind_key;
    int          dead;            /* 1 = dead-letter queue of bind_key */
    char        *dir;
    gmq_list_t   segs;            /* oldest first; the last one is active */
    size_t       nsegs;
    size_t       seg_size;        /* largest new segment (the first is smaller) */
    int          sync_create;     /* fsync new segment files and the directory */
    gmq_qmsg_t **buckets;
    size_t       nbuckets;
    size_t       count;           /* live messages */
    gmq_list_t   ready;
    size_t       n_ready, n_inflight, n_delayed;
    unsigned     corrupt;         /* corrupt records skipped at recovery */
    gmq_heap_t  *delay, *ttr;     /* owned by the topic */
    int          gc_pending;
    void        *owner;          /* the topic's per-bind-key slot */
};

/* Open (create) the queue in dir, recover its log, rebuild its state: acked
 * messages are gone, delivered-but-unacked ones are ready again at the head
 * of ready with their retry count, delayed ones go into `delay`. */
gmq_queue_t *gmq_queue_open(const char *dir, const char *bind_key, int dead, size_t seg_size,
                            int sync_create, gmq_heap_t *delay, gmq_heap_t *ttr,
                            gmq_error_t *err);
/* frees every message (taking them out of the heaps) and closes the files; NULL ok */
void         gmq_queue_close(gmq_queue_t *q);

/* make sure a message record with a body of len bytes fits (may create a
 * segment, preallocated before use: E_STORAGE on a full disk). */
int          gmq_queue_reserve(gmq_queue_t *q, size_t len, gmq_error_t *err);
/* append a message; due_at > 0 = delayed until then. Returns it, or NULL. */
gmq_qmsg_t  *gmq_queue_put(gmq_queue_t *q, uint64_t id, const char *body, size_t len,
                           uint32_t retry, uint64_t pushed_at, uint64_t due_at, gmq_error_t *err);
gmq_qmsg_t  *gmq_queue_find(const gmq_queue_t *q, uint64_t id);
gmq_qmsg_t  *gmq_queue_head(const gmq_queue_t *q);           /* oldest ready, NULL if none */
const char  *gmq_queue_body(const gmq_qmsg_t *m);

/* ready -> in flight until deadline */
int          gmq_queue_deliver(gmq_queue_t *q, gmq_qmsg_t *m, uint64_t now, uint64_t deadline,
                               gmq_error_t *err);
/* any state -> gone; type GMQ_REC_ACK, _DEAD or _MOVED. m is freed. */
int          gmq_queue_finish(gmq_queue_t *q, gmq_qmsg_t *m, int type, gmq_error_t *err);
/* any state -> ready (tail, or head), with this retry count */
int          gmq_queue_requeue(gmq_queue_t *q, gmq_qmsg_t *m, uint32_t retry, int head,
                               gmq_error_t *err);
/* in flight -> delayed until due (> 0), with this retry count */
int          gmq_queue_delay(gmq_queue_t *q, gmq_qmsg_t *m, uint32_t retry, uint64_t due,
                             gmq_error_t *err);
/* in flight: a new TTR deadline (memory only: recovery makes in-flight
 * messages ready again whatever their deadline) */
void         gmq_queue_touch(gmq_queue_t *q, gmq_qmsg_t *m, uint64_t deadline);
/* Drop every message the queue holds, in any state, with one PURGE record
 * (a crash leaves all of them or none). Returns how many, or -1 with err
 * set (nothing changed). */
long         gmq_queue_purge(gmq_queue_t *q, gmq_error_t *err);
/* the delayed message due first, NULL if none (a walk over the queue) */
gmq_qmsg_t  *gmq_queue_next_delayed(const gmq_queue_t *q);
/* delayed -> ready tail */
int          gmq_queue_due(gmq_queue_t *q, gmq_qmsg_t *m, gmq_error_t *err);

/* msync the dirty ranges */
/* fsync=everysec: queue every dirty segment for the background sync thread */
int          gmq_queue_sync_async(gmq_queue_t *q, gmq_bgsync_t *bg, gmq_error_t *err);
int          gmq_queue_sync(gmq_queue_t *q, gmq_error_t *err);
/* Free space: unlink leading segments with no live message; relocate the
 * few live messages of an old segment that pins freeable ones. Must not run
 * while a body pointer handed out is still in use. */
void         gmq_queue_gc(gmq_queue_t *q);
size_t       gmq_queue_bytes(const gmq_queue_t *q);   /* bytes of segment files */

#endif

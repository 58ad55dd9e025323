/*
 * queue_impl.h - what the files of the queue module share: the id index of a
 * segment, the background checkpoint job and the helpers one file defines
 * and another calls (worker/queue.c: the API and writing records;
 * worker/queue_replay.c: recovery and applying a record; worker/queue_log.c:
 * segments, the log and its cursor, entries, the id index, relocation and
 * building checkpoints). Nothing outside worker/queue*.c includes it.
 */
#ifndef GMQ_QUEUE_IMPL_H
#define GMQ_QUEUE_IMPL_H

#include "queue.h"
#include "common/buf.h"
#include "worker/record.h"

#define QUEUE_HEADROOM_MAX (64 * 1024)
#define QUEUE_INDEX_SPAN   (16 * 1024)   /* bytes of log per id index bucket */
#define QUEUE_FIRST_BUCKETS 64

/* the id index of one segment: MSG records in [off, end) have ids in [lo, hi] */
typedef struct {
    uint64_t lo, hi;
    uint32_t off, end;
} queue_bucket_t;

typedef struct {
    queue_bucket_t *b;
    size_t          n, cap;
    size_t          built;     /* records before this offset are in it */
} queue_index_t;

/* a checkpoint written on the background thread (fsync=everysec) */
typedef struct {
    char     *dir;
    gmq_buf_t buf;
    int       ok;
} queue_ckjob_t;

int queue_load(gmq_queue_t *q, int use_checkpoint, gmq_error_t *err);
void queue_reset(gmq_queue_t *q);
void queue_apply(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos, size_t sz);
int queue_append(gmq_queue_t *q, gmq_record_t *r, uint64_t *pos, size_t *sz, gmq_error_t *err);
int queue_room(gmq_queue_t *q, size_t need, int headroom, gmq_error_t *err);
gmq_segment_t *queue_active(const gmq_queue_t *q);
gmq_segment_t *queue_seg(const gmq_queue_t *q, uint64_t pos);
void queue_seg_add(gmq_queue_t *q, gmq_segment_t *s);
void queue_seg_close(gmq_segment_t *s, int unlink_file);
int queue_log_scan(gmq_queue_t *q, gmq_segment_t **sp, size_t *offp, gmq_record_t *r,
                   uint64_t *pos, size_t *sz, int settle);
int queue_log_next(gmq_queue_t *q, gmq_record_t *r, uint64_t *pos, size_t *sz);
void queue_settle(gmq_queue_t *q);
void queue_view_log(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos, gmq_qmsg_t *m);
gmq_qent_t *queue_ent_new(gmq_queue_t *q, uint64_t id, uint64_t pos, uint32_t len, uint32_t retry);
void queue_ent_free(gmq_queue_t *q, gmq_qent_t *e);
void queue_ent_set(gmq_queue_t *q, gmq_qent_t *e, int state, int kind, uint64_t key, uint64_t hkey);
void queue_ent_detach(gmq_queue_t *q, gmq_qent_t *e);
gmq_qent_t *queue_ent_at(const gmq_queue_t *q, uint64_t id, uint64_t pos, int gone);
void queue_pin(gmq_queue_t *q, uint64_t pos, uint32_t len, int delta);
void queue_drop_all(gmq_queue_t *q);
size_t queue_hash_slot(const gmq_queue_t *q, uint64_t id);
gmq_qent_t **queue_collect(const gmq_queue_t *q, int state, size_t *n);
int queue_cmp_u64(const void *a, const void *b);
int queue_cmp_head(const void *a, const void *b);
int queue_cmp_tail(const void *a, const void *b);
int queue_cmp_delayed(const void *a, const void *b);
int queue_cmp_pos(const void *a, const void *b);
void queue_sort_list(gmq_list_t *l, int (*cmp)(const void *, const void *));
int queue_find_log(gmq_queue_t *q, uint64_t id, gmq_qmsg_t *m);
int queue_relocate(gmq_queue_t *q, gmq_segment_t *s);
void queue_ck_build(gmq_queue_t *q, gmq_buf_t *out, uint64_t *applied);
void queue_ck_poll(gmq_queue_t *q);
int queue_ck_run(void *arg);
void queue_ck_job_free(queue_ckjob_t *j);

#endif

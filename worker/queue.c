/*
 * queue.c - owns one queue: its segments, its read cursor, its entries (id
 * hash, head and tail lists, places in the heaps), the per-segment counts
 * and id index, its checkpoints. Every change is a record: it is appended,
 * then applied by queue_apply, the same function recovery replays the log
 * with, so memory after a restart is what it was before. gc unlinks leading
 * segments the cursor has passed and relocates the few entries that pin them.
 */
#include "queue.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "worker/checkpoint.h"
#include "worker/upgrade.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

static int            queue_load(gmq_queue_t *q, int use_checkpoint, gmq_error_t *err);
static int            queue_list(gmq_queue_t *q, uint64_t **nos, size_t *n, gmq_error_t *err);
static int            queue_load_checkpoint(gmq_queue_t *q, const uint64_t *nos, size_t n,
                                            gmq_error_t *err);
static int            queue_scan_all(gmq_queue_t *q, const uint64_t *nos, size_t n, size_t i,
                                     size_t from, gmq_error_t *err);
static void           queue_recover_finish(gmq_queue_t *q);
static int            queue_consistent(const gmq_queue_t *q);
static void           queue_reset(gmq_queue_t *q);
static void           queue_replay_rec(void *arg, gmq_segment_t *s, const gmq_record_t *r,
                                       size_t off);
static int            queue_replay_supersede(gmq_queue_t *q, const gmq_record_t *r);
static void           queue_apply(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos, size_t sz);
static void           queue_apply_reloc(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos);
static void           queue_apply_take(gmq_queue_t *q, const gmq_record_t *r);
static void           queue_apply_drop(gmq_queue_t *q, uint64_t id, uint64_t pos);
static void           queue_apply_purge(gmq_queue_t *q, uint64_t pos, size_t sz);
static int            queue_append(gmq_queue_t *q, gmq_record_t *r, uint64_t *pos, size_t *sz,
                                   gmq_error_t *err);
static int            queue_state_rec(gmq_queue_t *q, int type, uint16_t flags, uint64_t id,
                                      uint64_t ts, uint64_t due, uint32_t retry, uint64_t mpos,
                                      gmq_error_t *err);
static size_t         queue_headroom(size_t seg_size);
static int            queue_room(gmq_queue_t *q, size_t need, int headroom, gmq_error_t *err);
static gmq_segment_t *queue_active(const gmq_queue_t *q);
static long           queue_seg_ix(const gmq_queue_t *q, uint64_t no);
static gmq_segment_t *queue_seg(const gmq_queue_t *q, uint64_t pos);
static gmq_segment_t *queue_seg_next(const gmq_queue_t *q, const gmq_segment_t *s);
static void           queue_seg_add(gmq_queue_t *q, gmq_segment_t *s);
static void           queue_seg_close(gmq_segment_t *s, int unlink_file);
static int            queue_log_ready(const gmq_queue_t *q, const gmq_record_t *r);
static int            queue_log_scan(gmq_queue_t *q, gmq_segment_t **sp, size_t *offp,
                                     gmq_record_t *r, uint64_t *pos, size_t *sz, int settle);
static int            queue_log_next(gmq_queue_t *q, gmq_record_t *r, uint64_t *pos, size_t *sz);
static void           queue_settle(gmq_queue_t *q);
static uint64_t       queue_cursor(const gmq_queue_t *q);
static void           queue_view_log(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos,
                                     gmq_qmsg_t *m);
static gmq_qent_t    *queue_ent_new(gmq_queue_t *q, uint64_t id, uint64_t pos, uint32_t len,
                                    uint32_t retry);
static void           queue_ent_free(gmq_queue_t *q, gmq_qent_t *e);
static void           queue_ent_set(gmq_queue_t *q, gmq_qent_t *e, int state, int kind,
                                    uint64_t key, uint64_t hkey);
static void           queue_ent_detach(gmq_queue_t *q, gmq_qent_t *e);
static gmq_qent_t    *queue_ent_at(const gmq_queue_t *q, uint64_t id, uint64_t pos, int gone);
static void           queue_pin(gmq_queue_t *q, uint64_t pos, uint32_t len, int delta);
static void           queue_drop_all(gmq_queue_t *q);
static void           queue_drop_gone(gmq_queue_t *q, const gmq_segment_t *s);
static size_t         queue_hash_slot(const gmq_queue_t *q, uint64_t id);
static void           queue_hash_grow(gmq_queue_t *q);
static gmq_qent_t   **queue_collect(const gmq_queue_t *q, int state, size_t *n);
static int            queue_cmp_u64(const void *a, const void *b);
static int            queue_cmp_head(const void *a, const void *b);
static int            queue_cmp_tail(const void *a, const void *b);
static int            queue_cmp_delayed(const void *a, const void *b);
static int            queue_cmp_pos(const void *a, const void *b);
static void           queue_sort_list(gmq_list_t *l, int (*cmp)(const void *, const void *));
static queue_index_t *queue_index(gmq_segment_t *s);
static int            queue_find_log(gmq_queue_t *q, uint64_t id, gmq_qmsg_t *m);
static int            queue_relocate(gmq_queue_t *q, gmq_segment_t *s);
static void           queue_ck_build(gmq_queue_t *q, gmq_buf_t *out, uint64_t *applied);
static void           queue_ck_poll(gmq_queue_t *q);
static int            queue_ck_run(void *arg);
static void           queue_ck_job_free(queue_ckjob_t *j);

gmq_queue_t *
gmq_queue_open(const char *dir, const char *bind_key, int dead, gmq_qshared_t *sh,
               int use_checkpoint, gmq_error_t *err)
{
    if (gmq_upgrade_settle(dir) != GMQ_OK || gmq_mkdir_p(dir, 0700) != 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot create %s: %s", dir,
                      strerror(errno));
        return NULL;
    }
    int old = gmq_upgrade_needed(dir);
    if (old < 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot read %s: %s", dir,
                      strerror(errno));
        return NULL;
    }
    if (old && gmq_upgrade_queue(dir, bind_key, dead, sh, err) != GMQ_OK)
        return NULL;
    gmq_queue_t *q = gmq_xcalloc(1, sizeof(*q));
    q->bind_key = gmq_xstrdup(bind_key);
    q->dead = dead;
    q->dir = gmq_xstrdup(dir);
    q->sh = sh;
    q->last_pos = GMQ_QPOS_NONE;
    gmq_list_init(&q->head);
    gmq_list_init(&q->tail);
    gmq_list_init(&q->rec_inflight);
    q->nbuckets = QUEUE_FIRST_BUCKETS;
    q->buckets = gmq_xcalloc(q->nbuckets, sizeof(*q->buckets));
    if (queue_load(q, use_checkpoint, err) != GMQ_OK) {
        gmq_queue_discard(q);
        return NULL;
    }
    gmq_queue_gc(q);
    return q;
}

void
gmq_queue_close(gmq_queue_t *q)
{
    if (q == NULL)
        return;
    gmq_error_t e;
    if (gmq_queue_sync(q, &e) != GMQ_OK)
        gmq_log_error("%s", e.msg);
    gmq_bgsync_t *bg = q->sh->bg;
    q->sh->bg = NULL;            /* the last checkpoint is written here, synchronously */
    if (q->ck_ticket != 0 && bg != NULL)
        gmq_bgsync_wait(bg, q->ck_ticket);
    queue_ck_poll(q);
    gmq_queue_checkpoint(q, 0, 1);
    q->sh->bg = bg;
    gmq_queue_discard(q);
}

void
gmq_queue_discard(gmq_queue_t *q)
{
    if (q == NULL)
        return;
    if (q->ck_ticket != 0 && q->sh->bg != NULL)
        gmq_bgsync_wait(q->sh->bg, q->ck_ticket);
    queue_ck_job_free(q->ck_job);
    queue_reset(q);
    free(q->segv);
    free(q->buckets);
    free(q->bind_key);
    free(q->dir);
    free(q);
}

int
gmq_queue_exists(const char *dir)
{
    struct stat st;
    return stat(dir, &st) == 0 || gmq_upgrade_pending(dir);
}

int
gmq_queue_reserve(gmq_queue_t *q, size_t len, gmq_error_t *err)
{
    return queue_room(q, gmq_record_size(len), 1, err);
}

int
gmq_queue_put(gmq_queue_t *q, uint64_t id, const char *body, size_t len, uint32_t retry,
              uint64_t pushed_at, uint64_t due_at, gmq_error_t *err)
{
    if (len > GMQ_RECORD_MAX_BODY)
        return gmq_error_set(err, GMQ_E_TOO_LARGE, "message body of %zu bytes is too large", len);
    if (gmq_queue_reserve(q, len, err) != GMQ_OK)
        return GMQ_ERR;
    gmq_record_t r = { .type = GMQ_REC_MSG, .len = (uint32_t) len, .id = id, .ts = pushed_at,
                       .due = q->dead ? 0 : due_at, .retry = retry, .body = body };
    uint64_t pos;
    size_t sz;
    if (queue_append(q, &r, &pos, &sz, err) != GMQ_OK)
        return GMQ_ERR;
    queue_apply(q, &r, pos, sz);
    return GMQ_OK;
}

gmq_qent_t *
gmq_queue_entry(const gmq_queue_t *q, uint64_t id)
{
    gmq_qent_t *e = q->buckets[queue_hash_slot(q, id)];
    while (e != NULL && (e->id != id || e->state == GMQ_QENT_GONE))
        e = e->hnext;
    return e;
}

int
gmq_queue_find(gmq_queue_t *q, uint64_t id, gmq_qmsg_t *m)
{
    gmq_qent_t *e = gmq_queue_entry(q, id);
    if (e != NULL)
        return gmq_queue_view(q, e, m) == GMQ_OK ? GMQ_OK : GMQ_AGAIN;
    return queue_find_log(q, id, m);
}

int
gmq_queue_head(gmq_queue_t *q, gmq_qmsg_t *m)
{
    for (;;) {
        gmq_qent_t *e = NULL;
        gmq_record_t r;
        uint64_t pos = 0;
        size_t sz;
        int have = 0;
        if (!gmq_list_empty(&q->head)) {
            e = container_of(q->head.next, gmq_qent_t, link);
        } else {
            have = queue_log_next(q, &r, &pos, &sz) == GMQ_OK;
            gmq_qent_t *t = gmq_list_empty(&q->tail) ? NULL
                                                     : container_of(q->tail.next, gmq_qent_t, link);
            /* a requeued message goes once the log has reached where it ended then */
            if (t != NULL && (!have || t->key < pos))
                e = t;
        }
        if (e == NULL) {
            if (!have)
                return GMQ_AGAIN;
            queue_view_log(q, &r, pos, m);
            return GMQ_OK;
        }
        if (gmq_queue_view(q, e, m) == GMQ_OK)
            return GMQ_OK;
        /* its record is missing or damaged (logged): it cannot be delivered
         * (no record says so: the next checkpoint does) */
        q->corrupt++;
        q->ck_dirty = 1;
        queue_ent_free(q, e);
    }
}

int
gmq_queue_view(gmq_queue_t *q, gmq_qent_t *e, gmq_qmsg_t *m)
{
    gmq_segment_t *s = queue_seg(q, e->pos);
    size_t off = GMQ_QPOS_OFF(e->pos), sz;
    gmq_record_t r;
    /* (the CRC too: after a recovery from a checkpoint nothing has read
     * this record yet, and its bytes may have been damaged since) */
    if (s == NULL || off >= s->wpos ||
        gmq_record_decode(s->map + off, s->wpos - off, &r, &sz) != GMQ_OK ||
        r.type != GMQ_REC_MSG || r.id != e->id) {
        gmq_log_error("queue %s: message %" PRIu64 ": its record at %" PRIu64 ":%zu is missing or "
                      "damaged", q->bind_key, e->id, GMQ_QPOS_SEG(e->pos), off);
        return GMQ_ERR;
    }
    static const int states[] = { [GMQ_QENT_HEAD] = GMQ_QMSG_READY, [GMQ_QENT_TAIL] = GMQ_QMSG_READY,
                                  [GMQ_QENT_DELAYED] = GMQ_QMSG_DELAYED,
                                  [GMQ_QENT_INFLIGHT] = GMQ_QMSG_INFLIGHT,
                                  [GMQ_QENT_GONE] = GMQ_QMSG_READY };
    *m = (gmq_qmsg_t) { .q = q, .e = e, .id = e->id, .pos = e->pos, .pushed_at = r.ts,
                        .due_at = e->state == GMQ_QENT_DELAYED ? e->hnode.key : r.due,
                        .delivered_at = e->delivered_at, .body = r.body, .len = r.len,
                        .retry = e->retry, .state = states[e->state] };
    return GMQ_OK;
}

gmq_qent_t **
gmq_queue_entries(const gmq_queue_t *q, int state, size_t *n)
{
    return queue_collect(q, state, n);
}

int
gmq_queue_next_delayed(gmq_queue_t *q, gmq_qmsg_t *m)
{
    gmq_qent_t *best = NULL;
    if (q->n_delayed == 0)
        return GMQ_AGAIN;
    for (size_t i = 0; i < q->nbuckets; i++)
        for (gmq_qent_t *e = q->buckets[i]; e != NULL; e = e->hnext)
            if (e->state == GMQ_QENT_DELAYED &&
                (best == NULL || e->hnode.key < best->hnode.key ||
                 (e->hnode.key == best->hnode.key && e->id < best->id)))
                best = e;
    return gmq_queue_view(q, best, m) == GMQ_OK ? GMQ_OK : GMQ_AGAIN;
}

void
gmq_queue_iter_init(gmq_queue_t *q, gmq_queue_iter_t *it)
{
    queue_settle(q);
    it->h = q->head.next;
    it->t = q->tail.next;
    it->seg = q->n_log > 0 ? q->cur_seg : NULL;
    it->off = q->cur_off;
    it->have = 0;
}

int
gmq_queue_iter_next(gmq_queue_t *q, gmq_queue_iter_t *it, gmq_qmsg_t *m)
{
    while (it->h != &q->head) {
        gmq_qent_t *e = container_of(it->h, gmq_qent_t, link);
        it->h = it->h->next;
        if (gmq_queue_view(q, e, m) == GMQ_OK)
            return GMQ_OK;
    }
    if (!it->have && it->seg != NULL) {
        gmq_record_t r;
        uint64_t pos;
        size_t sz;
        if (queue_log_scan(q, &it->seg, &it->off, &r, &pos, &sz, 0) == GMQ_OK) {
            queue_view_log(q, &r, pos, &it->lm);
            it->off += sz;
            it->have = 1;
        } else {
            it->seg = NULL;
        }
    }
    while (it->t != &q->tail) {
        gmq_qent_t *e = container_of(it->t, gmq_qent_t, link);
        if (it->have && e->key >= it->lm.pos)
            break;
        it->t = it->t->next;
        if (gmq_queue_view(q, e, m) == GMQ_OK)
            return GMQ_OK;
    }
    if (!it->have)
        return GMQ_AGAIN;
    *m = it->lm;
    it->have = 0;
    return GMQ_OK;
}

int
gmq_queue_deliver(gmq_queue_t *q, const gmq_qmsg_t *m, uint64_t now, uint64_t deadline,
                  gmq_error_t *err)
{
    return queue_state_rec(q, GMQ_REC_DELIVER, 0, m->id, now, deadline, m->retry, m->pos, err);
}

int
gmq_queue_finish(gmq_queue_t *q, const gmq_qmsg_t *m, int type, gmq_error_t *err)
{
    return queue_state_rec(q, type, 0, m->id, 0, 0, m->retry, m->pos, err);
}

int
gmq_queue_requeue(gmq_queue_t *q, gmq_qent_t *e, uint32_t retry, int head, gmq_error_t *err)
{
    return queue_state_rec(q, GMQ_REC_REQUEUE, head ? GMQ_REC_F_HEAD : 0, e->id, 0, 0, retry,
                           e->pos, err);
}

int
gmq_queue_delay(gmq_queue_t *q, gmq_qent_t *e, uint32_t retry, uint64_t due, gmq_error_t *err)
{
    return queue_state_rec(q, GMQ_REC_REQUEUE, 0, e->id, 0, due, retry, e->pos, err);
}

int
gmq_queue_due(gmq_queue_t *q, gmq_qent_t *e, gmq_error_t *err)
{
    return queue_state_rec(q, GMQ_REC_DUE, 0, e->id, e->hnode.key, 0, e->retry, e->pos, err);
}

void
gmq_queue_touch(gmq_queue_t *q, gmq_qent_t *e, uint64_t deadline)
{
    gmq_heap_remove(q->sh->ttr, &e->hnode);
    e->hnode.key = deadline;
    gmq_heap_push(q->sh->ttr, &e->hnode);
}

long
gmq_queue_purge(gmq_queue_t *q, gmq_error_t *err)
{
    long n = (long) gmq_queue_count(q);
    if (n == 0)
        return 0;
    if (queue_state_rec(q, GMQ_REC_PURGE, 0, 0, 0, 0, 0, 0, err) != GMQ_OK)
        return -1;
    return n;
}

int
gmq_queue_sync(gmq_queue_t *q, gmq_error_t *err)
{
    for (size_t i = 0; i < q->nsegs; i++)
        if (gmq_segment_sync(q->segv[i], err) != GMQ_OK)
            return GMQ_ERR;
    return GMQ_OK;
}

int
gmq_queue_sync_async(gmq_queue_t *q, gmq_bgsync_t *bg, gmq_error_t *err)
{
    for (size_t i = 0; i < q->nsegs; i++)
        if (gmq_segment_sync_async(q->segv[i], bg, err) != GMQ_OK)
            return GMQ_ERR;
    return GMQ_OK;
}

void
gmq_queue_checkpoint(gmq_queue_t *q, uint64_t now_ms, int force)
{
    queue_ck_poll(q);
    if (!q->ck_dirty || q->ck_ticket != 0)
        return;
    if (!force && (now_ms < q->ck_last + GMQ_QUEUE_CHECKPOINT_MS ||
                   q->ck_bytes < GMQ_QUEUE_CHECKPOINT_BYTES))
        return;
    if (now_ms > 0)
        q->ck_last = now_ms;      /* also when it fails: tried again in a second */
    gmq_error_t err;
    gmq_buf_t b;
    uint64_t applied;
    gmq_buf_init(&b);
    queue_ck_build(q, &b, &applied);
    uint64_t bytes = q->ck_bytes;
    q->ck_bytes = 0;
    if (q->sh->fsync == GMQ_FSYNC_EVERYSEC && q->sh->bg != NULL) {
        /* after the sync of every record it covers, on the background thread */
        if (gmq_queue_sync_async(q, q->sh->bg, &err) != GMQ_OK) {
            gmq_log_warn("queue %s: no checkpoint: %s", q->bind_key, err.msg);
            gmq_buf_free(&b);
            q->ck_bytes += bytes;
            return;
        }
        queue_ckjob_t *j = gmq_xcalloc(1, sizeof(*j));
        j->dir = gmq_xstrdup(q->dir);
        j->buf = b;
        q->ck_job = j;
        q->ck_pending = applied;
        q->ck_ticket = gmq_bgsync_submit_call(q->sh->bg, queue_ck_run, j);
    } else {
        int sync = q->sh->fsync != GMQ_FSYNC_NO;
        /* the records it covers are on disk before it is */
        if ((sync && gmq_queue_sync(q, &err) != GMQ_OK) ||
            gmq_checkpoint_store(q->dir, b.data, b.len, sync, &err) != GMQ_OK) {
            gmq_log_warn("queue %s: no checkpoint: %s", q->bind_key, err.msg);
            gmq_buf_free(&b);
            q->ck_bytes += bytes;
            return;
        }
        q->ck_covered = applied;
        gmq_buf_free(&b);
    }
    q->ck_dirty = 0;
}

void
gmq_queue_release_pages(gmq_queue_t *q)
{
    for (size_t i = 0; i < q->nsegs; i++)
        gmq_segment_release_pages(q->segv[i]);
}

uint64_t
gmq_queue_next_checkpoint(const gmq_queue_t *q)
{
    if (!q->ck_dirty || q->ck_bytes < GMQ_QUEUE_CHECKPOINT_BYTES)
        return 0;
    return q->ck_last + GMQ_QUEUE_CHECKPOINT_MS;
}

void
gmq_queue_gc(gmq_queue_t *q)
{
    q->gc_pending = 0;
    queue_ck_poll(q);
    queue_settle(q);
    while (q->nsegs > 1) {
        gmq_segment_t *first = q->segv[0];
        int passed = q->cur_seg != first;
        if (passed && first->pins == 0) {
            /* a checkpoint must cover its records before they go: a restart
             * replays only what follows the checkpoint */
            if (GMQ_QPOS(first->no, first->wpos) > q->ck_covered) {
                if (q->ck_ticket == 0)
                    gmq_queue_checkpoint(q, 0, 1);
                queue_ck_poll(q);
                if (GMQ_QPOS(first->no, first->wpos) > q->ck_covered) {
                    q->gc_pending = q->ck_ticket != 0;   /* look again once it is written */
                    break;
                }
            }
            memmove(q->segv, q->segv + 1, (q->nsegs - 1) * sizeof(*q->segv));
            q->nsegs--;
            queue_seg_close(first, 1);
            continue;
        }
        if (q->nsegs < 3 || !passed || q->cur_seg == q->segv[1])
            break;
        /* the oldest segment pins the ones after it, which the cursor passed
         * and which hold little (the two hold less than a quarter of their
         * size in entries' records): copy its few entries to the tail */
        gmq_segment_t *second = q->segv[1];
        if (first->pin_bytes + second->pin_bytes >= (first->size + second->size) / 4)
            break;
        if (queue_relocate(q, first) != GMQ_OK || first->pins != 0)
            break;
    }
}

size_t
gmq_queue_bytes(const gmq_queue_t *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->nsegs; i++)
        n += q->segv[i]->size;
    return n;
}

void
gmq_queue_describe(gmq_queue_t *q, gmq_buf_t *out)
{
    gmq_buf_printf(out, "queue %s dead %d ready %" PRIu64 " delayed %zu in_flight %zu corrupt %u\n",
                   q->bind_key, q->dead, gmq_queue_n_ready(q), q->n_delayed, q->n_inflight,
                   q->corrupt);
    gmq_queue_iter_t it;
    gmq_qmsg_t m;
    gmq_queue_iter_init(q, &it);
    while (gmq_queue_iter_next(q, &it, &m) == GMQ_OK)
        gmq_buf_printf(out, "ready %" PRIu64 " retry %u len %u crc %08lx pushed %" PRIu64 "\n",
                       m.id, m.retry, m.len, crc32(0L, (const Bytef *) m.body, m.len), m.pushed_at);
    size_t n;
    gmq_qent_t **d = queue_collect(q, GMQ_QENT_DELAYED, &n);
    qsort(d, n, sizeof(*d), queue_cmp_delayed);
    for (size_t i = 0; i < n; i++)
        gmq_buf_printf(out, "delayed %" PRIu64 " due %" PRIu64 " retry %u\n", d[i]->id,
                       d[i]->hnode.key, d[i]->retry);
    free(d);
    d = queue_collect(q, GMQ_QENT_INFLIGHT, &n);
    qsort(d, n, sizeof(*d), queue_cmp_pos);
    for (size_t i = 0; i < n; i++)
        gmq_buf_printf(out, "in_flight %" PRIu64 " retry %u\n", d[i]->id, d[i]->retry);
    free(d);
}

/* ---- recovery ---- */

static int
queue_load(gmq_queue_t *q, int use_checkpoint, gmq_error_t *err)
{
    uint64_t *nos = NULL, t0 = gmq_mono_ms();
    size_t n = 0;
    if (queue_list(q, &nos, &n, err) != GMQ_OK)
        return GMQ_ERR;
    q->recovering = 1;
    int rc = GMQ_AGAIN;
    if (use_checkpoint) {
        rc = queue_load_checkpoint(q, nos, n, err);
        if (rc == GMQ_OK && !queue_consistent(q)) {
            gmq_log_warn("queue %s: the checkpoint does not match the log; scanning it all",
                         q->dir);
            rc = GMQ_AGAIN;
        }
        if (rc == GMQ_AGAIN)
            queue_reset(q);
    }
    if (rc == GMQ_AGAIN) {
        q->ck_loaded = 0;
        rc = queue_scan_all(q, nos, n, 0, 0, err);
        q->ck_dirty = 1;                /* the next checkpoint saves the next restart this */
    }
    free(nos);
    queue_recover_finish(q);
    if (rc == GMQ_OK && (q->replayed > 0 || gmq_queue_count(q) > 0))
        gmq_log_info("queue %s: recovered %s %" PRIu64 " records%s in %" PRIu64 " ms: %" PRIu64
                     " ready (%zu of them first in line), %zu delayed", q->dir,
                     q->ck_loaded ? "from its checkpoint and the" : "by a scan of all",
                     q->replayed, q->ck_loaded ? " after it" : " (no usable checkpoint)",
                     gmq_mono_ms() - t0, gmq_queue_n_ready(q), q->n_head, q->n_delayed);
    return rc;
}

/* the segment numbers in q->dir, ascending */
static int
queue_list(gmq_queue_t *q, uint64_t **out, size_t *nout, gmq_error_t *err)
{
    DIR *d = opendir(q->dir);
    if (d == NULL)
        return gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot read %s: %s", q->dir,
                             strerror(errno));
    uint64_t *nos = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t no;
        if (!gmq_segment_parse_name(de->d_name, &no))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && st.st_size < GMQ_RECORD_HDR) {
            /* created but not preallocated when we crashed: holds nothing */
            unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            nos = gmq_xrealloc(nos, cap * sizeof(*nos));
        }
        nos[n++] = no;
    }
    closedir(d);
    if (n > 1)
        qsort(nos, n, sizeof(*nos), queue_cmp_u64);
    *out = nos;
    *nout = n;
    return GMQ_OK;
}

/* Recover from the checkpoint and the records after it. GMQ_AGAIN: no
 * usable checkpoint (none, damaged, foreign, or not matching the files):
 * the caller resets and scans everything. */
static int
queue_load_checkpoint(gmq_queue_t *q, const uint64_t *nos, size_t n, gmq_error_t *err)
{
    gmq_checkpoint_t c;
    if (gmq_checkpoint_load(q->dir, &c) != GMQ_OK)
        return GMQ_AGAIN;
    int rc = GMQ_AGAIN;
    uint64_t aseg = GMQ_QPOS_SEG(c.applied);
    size_t i = 0, k = 0;
    if (c.incarnation != q->sh->incarnation) {
        gmq_log_warn("queue %s: the checkpoint is from another data directory; scanning the log",
                     q->dir);
        goto done;
    }
    /* the segments it knows: each one still there is opened as it was */
    for (; i < n && nos[i] <= aseg; i++) {
        while (k < c.nsegs && c.segs[k].no < nos[i])
            k++;                        /* freed after the checkpoint */
        if (k == c.nsegs || c.segs[k].no != nos[i])
            goto done;                  /* a segment it does not know, before its end */
        gmq_segment_t *s = gmq_segment_open(q->dir, nos[i], err);
        if (s == NULL) {
            rc = GMQ_ERR;
            goto done;
        }
        queue_seg_add(q, s);
        if (c.segs[k].wpos > s->size)
            goto done;
        s->wpos = c.segs[k].wpos;
        s->nready = c.segs[k].nready;
        s->min_id = c.segs[k].min_id;
        s->max_id = c.segs[k].max_id;
        q->n_log += s->nready;
    }
    /* the last record it covers is still in the log, unchanged (its
     * segment is not freed before a newer checkpoint is written) */
    gmq_segment_t *cs = c.check_pos != GMQ_QPOS_NONE ? queue_seg(q, c.check_pos) : NULL;
    if (c.check_pos != GMQ_QPOS_NONE && cs == NULL)
        goto done;
    if (cs != NULL) {
        gmq_record_t r;
        size_t sz, off = GMQ_QPOS_OFF(c.check_pos);
        if (off >= cs->wpos || gmq_record_decode(cs->map + off, cs->wpos - off, &r, &sz) != GMQ_OK ||
            r.crc != c.check_crc)
            goto done;
    }
    q->last_pos = c.check_pos;
    q->last_crc = c.check_crc;
    if (c.max_seq > q->sh->seq)
        q->sh->seq = c.max_seq;
    if (c.epoch > q->sh->epoch)
        q->sh->epoch = c.epoch;
    q->max_id = c.max_id;
    q->corrupt = c.corrupt;
    /* the cursor: in its segment, or at the start of the next one if it went */
    q->cur_seg = NULL;
    for (size_t j = 0; j < q->nsegs && q->cur_seg == NULL; j++) {
        gmq_segment_t *s = q->segv[j];
        if (s->no == GMQ_QPOS_SEG(c.cursor)) {
            if (GMQ_QPOS_OFF(c.cursor) > s->wpos)
                goto done;
            q->cur_seg = s;
            q->cur_off = GMQ_QPOS_OFF(c.cursor);
        } else if (s->no > GMQ_QPOS_SEG(c.cursor)) {
            q->cur_seg = s;
            q->cur_off = 0;
        }
    }
    /* its counts fit the log: nothing is left to read before the cursor
     * (it never passes there again to correct them), and no more messages
     * after it than record headers fit */
    for (size_t j = 0; j < q->nsegs; j++) {
        gmq_segment_t *s = q->segv[j];
        int behind = q->cur_seg == NULL || s->no < q->cur_seg->no;
        size_t from = s == q->cur_seg ? q->cur_off : 0;
        if ((behind && s->nready > 0) || s->nready > (s->wpos - from) / GMQ_RECORD_HDR)
            goto done;
    }
    for (size_t j = 0; j < c.nents; j++) {
        const gmq_checkpoint_ent_t *ce = &c.ents[j];
        gmq_qent_t *e;
        if (ce->state == GMQ_QENT_GONE) {
            e = queue_ent_new(q, ce->id, ce->pos, ce->len, ce->retry);
            queue_ent_set(q, e, GMQ_QENT_GONE, 0, 0, 0);
            continue;
        }
        if (ce->state < GMQ_QENT_HEAD || ce->state > GMQ_QENT_INFLIGHT)
            goto done;
        e = queue_ent_new(q, ce->id, ce->pos, ce->len, ce->retry);
        e->delivered_at = ce->delivered_at;
        queue_ent_set(q, e, ce->state, ce->kind, ce->key, ce->hkey);
    }
    q->ck_covered = c.applied;
    q->scan_from = c.applied;
    q->ck_loaded = 1;
    /* replay what was written after it: the rest of its last segment, then
     * every newer one */
    size_t from = 0;
    if (q->nsegs > 0 && q->segv[q->nsegs - 1]->no == aseg) {
        gmq_segment_t *a = q->segv[q->nsegs - 1];
        from = a->wpos;
        gmq_segment_scan(a, from, queue_replay_rec, q, &q->corrupt);
        from = 0;
    }
    rc = queue_scan_all(q, nos, n, i, from, err);
done:
    gmq_checkpoint_free(&c);
    return rc;
}

/* open and scan segments nos[i..n) (the first from offset from) */
static int
queue_scan_all(gmq_queue_t *q, const uint64_t *nos, size_t n, size_t i, size_t from,
               gmq_error_t *err)
{
    for (; i < n; i++, from = 0) {
        gmq_segment_t *s = gmq_segment_open(q->dir, nos[i], err);
        if (s == NULL)
            return GMQ_ERR;
        queue_seg_add(q, s);
        if (q->cur_seg == NULL) {
            q->cur_seg = s;
            q->cur_off = 0;
        }
        gmq_segment_scan(s, from, queue_replay_rec, q, &q->corrupt);
    }
    return GMQ_OK;
}

/* delivered but never finished: ready again, first in line, in delivery
 * order (the released ones after them, newest first); the tail in log order */
static void
queue_recover_finish(gmq_queue_t *q)
{
    while (!gmq_list_empty(&q->rec_inflight)) {
        gmq_qent_t *e = container_of(q->rec_inflight.next, gmq_qent_t, link);
        gmq_list_remove(&e->link);
        q->n_inflight--;
        e->state = GMQ_QENT_HEAD;
        e->kind = GMQ_QHEAD_RECOVERED;
        gmq_list_push_tail(&q->head, &e->link);
        q->n_head++;
    }
    queue_sort_list(&q->head, queue_cmp_head);
    queue_sort_list(&q->tail, queue_cmp_tail);
    q->recovering = 0;
    queue_settle(q);
    /* what a scan read stays in the page cache, not in this process (the
     * write segment's too: with thousands of idle queues, their scanned
     * tails would be most of the node's memory) */
    for (size_t i = 0; i < q->nsegs; i++)
        gmq_segment_release_pages(q->segv[i]);
}

/* after a replay from a checkpoint: every entry's record is in the log */
static int
queue_consistent(const gmq_queue_t *q)
{
    for (size_t i = 0; i < q->nbuckets; i++)
        for (const gmq_qent_t *e = q->buckets[i]; e != NULL; e = e->hnext) {
            const gmq_segment_t *s = queue_seg(q, e->pos);
            if (e->state != GMQ_QENT_GONE && (s == NULL || GMQ_QPOS_OFF(e->pos) >= s->wpos))
                return 0;
        }
    return 1;
}

/* back to no segments and no entries */
static void
queue_reset(gmq_queue_t *q)
{
    for (size_t i = 0; i < q->nbuckets; i++)
        while (q->buckets[i] != NULL)
            queue_ent_free(q, q->buckets[i]);
    for (size_t i = 0; i < q->nsegs; i++)
        queue_seg_close(q->segv[i], 0);
    q->nsegs = 0;
    q->cur_seg = NULL;
    q->cur_off = 0;
    q->n_log = 0;
    q->max_id = 0;
    q->corrupt = 0;
    q->last_pos = GMQ_QPOS_NONE;
    q->ck_covered = 0;
    q->scan_from = 0;
    q->replayed = 0;
}

static void
queue_replay_rec(void *arg, gmq_segment_t *s, const gmq_record_t *r, size_t off)
{
    gmq_queue_t *q = arg;
    size_t sz = gmq_record_size(r->len);
    uint64_t pos = GMQ_QPOS(s->no, off);
    /* (looked for before the log grows by this record: it is not its own copy) */
    if (r->type == GMQ_REC_MSG && queue_replay_supersede(q, r)) {
        gmq_log_warn("%s: record at offset %zu: message %" PRIu64 " was in the queue already; "
                     "this newer record replaces it", s->path, off, r->id);
        q->corrupt++;
    }
    if (off + sz > s->wpos)
        s->wpos = off + sz;          /* the log as it was when this record was written */
    q->last_pos = pos;
    q->last_crc = r->crc;
    q->ck_dirty = 1;
    q->ck_bytes += sz;               /* read again by each restart until a checkpoint */
    q->replayed++;
    if (r->seq > q->sh->seq)
        q->sh->seq = r->seq;
    if (r->epoch > q->sh->epoch)
        q->sh->epoch = r->epoch;
    queue_apply(q, r, pos, sz);
}

/* A MSG record the writer would have refused: a message of its id is in
 * the queue already (a push, a dead letter and a move back look the id up
 * first), or, for a relocated copy without an entry, waits in the log
 * (only entries are relocated). Damage, or bytes from elsewhere: the two
 * must not both be delivered. The newer record wins, as in the previous
 * format's replay: the one the queue holds is dropped (its entry freed, or,
 * waiting in the log, made gone so the cursor skips it). So the result
 * does not depend on segments freed since: the record kept is the newest,
 * in a segment that is not freed before the older ones (and a relocated
 * copy of its entry comes after it). Returns 1 if it dropped one. */
static int
queue_replay_supersede(gmq_queue_t *q, const gmq_record_t *r)
{
    gmq_qent_t *e = gmq_queue_entry(q, r->id);
    gmq_qmsg_t m;
    if (e != NULL) {
        if (r->flags & GMQ_REC_F_RELOC)
            return 0;                    /* a relocation of its entry */
        queue_ent_free(q, e);
        return 1;
    }
    if (queue_find_log(q, r->id, &m) != GMQ_OK)
        return 0;
    gmq_segment_t *s = queue_seg(q, m.pos);
    e = queue_ent_new(q, r->id, m.pos, m.len, m.retry);
    queue_ent_set(q, e, GMQ_QENT_GONE, 0, 0, 0);
    s->nready--;
    q->n_log--;
    return 1;
}

/* ---- applying a record (written now, or replayed) ---- */

static void
queue_apply(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos, size_t sz)
{
    gmq_qent_t *e;
    switch (r->type) {
    case GMQ_REC_MSG:
        if (r->flags & GMQ_REC_F_RELOC) {
            queue_apply_reloc(q, r, pos);
            return;
        }
        {
            gmq_segment_t *s = queue_seg(q, pos);
            if (r->id < s->min_id)
                s->min_id = r->id;
            if (r->id > s->max_id)
                s->max_id = r->id;
            if (r->id > q->max_id)
                q->max_id = r->id;
            if (r->due > 0 && !q->dead) {
                e = queue_ent_new(q, r->id, pos, r->len, r->retry);
                queue_ent_set(q, e, GMQ_QENT_DELAYED, 0, r->due, r->due);
            } else {
                s->nready++;
                q->n_log++;
            }
        }
        return;
    case GMQ_REC_DELIVER:
        if ((e = queue_ent_at(q, r->id, r->pos, 0)) == NULL) {
            queue_apply_take(q, r);
            return;
        }
        queue_ent_detach(q, e);
        e->retry = r->retry;
        e->delivered_at = r->ts;
        queue_ent_set(q, e, GMQ_QENT_INFLIGHT, 0, r->seq, r->due);
        return;
    case GMQ_REC_ACK:
    case GMQ_REC_DEAD:
    case GMQ_REC_MOVED:
        if ((e = queue_ent_at(q, r->id, r->pos, 0)) != NULL)
            queue_ent_free(q, e);
        else
            queue_apply_drop(q, r->id, r->pos);
        return;
    case GMQ_REC_REQUEUE:
        if ((e = queue_ent_at(q, r->id, r->pos, 0)) == NULL)
            return;
        queue_ent_detach(q, e);
        e->retry = r->retry;
        if (r->due > 0 && !q->dead)
            queue_ent_set(q, e, GMQ_QENT_DELAYED, 0, r->due, r->due);
        else if (r->flags & GMQ_REC_F_HEAD)
            queue_ent_set(q, e, GMQ_QENT_HEAD, GMQ_QHEAD_RELEASED, r->seq, 0);
        else
            queue_ent_set(q, e, GMQ_QENT_TAIL, 0, pos, 0);
        return;
    case GMQ_REC_DUE:
        if ((e = queue_ent_at(q, r->id, r->pos, 0)) != NULL && e->state == GMQ_QENT_DELAYED) {
            queue_ent_detach(q, e);
            queue_ent_set(q, e, GMQ_QENT_TAIL, 0, pos, 0);
        }
        return;
    case GMQ_REC_PURGE:
        queue_apply_purge(q, pos, sz);
        return;
    default:
        return;
    }
}

/* A relocated copy: the entry's record is here now, in the state the copy
 * says (as a recovery that no longer finds the original rebuilds it). A
 * copy gmq wrote says the state its entry is in, so then only the record
 * moves; one that says another (damage) is taken as it says either way, so
 * the state does not depend on whether the original's segment was freed. */
static void
queue_apply_reloc(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos)
{
    int state, kind = 0;
    uint64_t key, hkey = 0;
    if (r->flags & GMQ_REC_F_TAIL) {
        state = GMQ_QENT_TAIL, key = r->pos;
    } else if (r->flags & (GMQ_REC_F_RELEASED | GMQ_REC_F_RECOVERED)) {
        state = GMQ_QENT_HEAD, key = r->pos;
        kind = (r->flags & GMQ_REC_F_RELEASED) ? GMQ_QHEAD_RELEASED : GMQ_QHEAD_RECOVERED;
    } else if (r->flags & GMQ_REC_F_INFLIGHT) {
        state = GMQ_QENT_INFLIGHT, key = r->pos, hkey = r->due;
    } else if (r->due > 0 && !q->dead) {
        state = GMQ_QENT_DELAYED, key = hkey = r->due;
    } else {
        state = GMQ_QENT_TAIL, key = pos;
    }
    gmq_qent_t *e = gmq_queue_entry(q, r->id);
    if (e != NULL && e->state == state && (state != GMQ_QENT_HEAD || e->kind == kind) &&
        e->key == key && e->retry == r->retry &&
        (state != GMQ_QENT_DELAYED && state != GMQ_QENT_INFLIGHT ? 1 : e->hnode.key == hkey)) {
        queue_pin(q, e->pos, e->len, -1);
        e->pos = pos;
        queue_pin(q, e->pos, e->len, +1);
        return;
    }
    if (e != NULL) {
        gmq_log_warn("queue %s: the relocated copy of message %" PRIu64 " at %" PRIu64 ":%zu says "
                     "another state than it is in; taken as it says", q->bind_key, r->id,
                     GMQ_QPOS_SEG(pos), GMQ_QPOS_OFF(pos));
        queue_ent_detach(q, e);
        e->pos = pos;
        e->len = r->len;
        e->retry = r->retry;
    } else {
        e = queue_ent_new(q, r->id, pos, r->len, r->retry);
    }
    queue_ent_set(q, e, state, kind, key, hkey);
}

/* a DELIVER of a message read from the log: it was the one at the cursor.
 * Ready ones before it (their DELIVER was lost to damage) count as
 * delivered too, so they come back first, as in-flight ones do. */
static void
queue_apply_take(gmq_queue_t *q, const gmq_record_t *d)
{
    for (;;) {
        gmq_record_t r;
        uint64_t pos;
        size_t sz;
        if (queue_log_next(q, &r, &pos, &sz) != GMQ_OK || pos > d->pos)
            return;            /* its message is not in the log (damaged, or gone) */
        gmq_qent_t *e = queue_ent_new(q, r.id, pos, r.len, r.retry);
        q->cur_off += sz;
        q->cur_seg->nready--;
        q->n_log--;
        if (pos == d->pos) {
            e->retry = d->retry;
            e->delivered_at = d->ts;
            queue_ent_set(q, e, GMQ_QENT_INFLIGHT, 0, d->seq, d->due);
            return;
        }
        queue_ent_set(q, e, GMQ_QENT_INFLIGHT, 0, d->seq, d->due);
    }
}

/* a message without an entry is done: at the cursor it is passed, after it
 * (a dead letter moved back by id) it is skipped when the cursor gets there */
static void
queue_apply_drop(gmq_queue_t *q, uint64_t id, uint64_t mpos)
{
    gmq_record_t r;
    uint64_t pos;
    size_t sz;
    if (queue_log_next(q, &r, &pos, &sz) != GMQ_OK || pos > mpos)
        return;
    if (pos == mpos && r.id != id)
        return;                    /* another message is there: not this one's record */
    if (pos == mpos) {
        q->cur_off += sz;
        q->cur_seg->nready--;
        q->n_log--;
        return;
    }
    /* after the cursor (a dead letter moved back by id): the record the
     * move found, looked up the same way. queue_find_log walks the log's
     * records, so a damaged one (skipped, never counted) or valid bytes
     * inside another record are not it: they must not leave the count. */
    gmq_qmsg_t m;
    if (queue_find_log(q, id, &m) != GMQ_OK || m.pos != mpos)
        return;
    gmq_segment_t *s = queue_seg(q, mpos);
    gmq_qent_t *e = queue_ent_new(q, id, mpos, m.len, m.retry);
    queue_ent_set(q, e, GMQ_QENT_GONE, 0, 0, 0);
    s->nready--;
    q->n_log--;
}

static void
queue_apply_purge(gmq_queue_t *q, uint64_t pos, size_t sz)
{
    queue_drop_all(q);
    for (size_t i = 0; i < q->nsegs; i++)
        q->segv[i]->nready = 0;
    q->n_log = 0;
    q->cur_seg = queue_seg(q, pos);
    q->cur_off = GMQ_QPOS_OFF(pos) + sz;
    q->gc_pending = 1;
}

/* ---- writing records ---- */

static int
queue_append(gmq_queue_t *q, gmq_record_t *r, uint64_t *pos, size_t *sz, gmq_error_t *err)
{
    if (queue_room(q, gmq_record_size(r->len), 0, err) != GMQ_OK)
        return GMQ_ERR;
    gmq_segment_t *s = queue_active(q);
    r->seq = ++q->sh->seq;
    r->epoch = q->sh->epoch;
    size_t off = gmq_segment_append(s, r);
    *pos = GMQ_QPOS(s->no, off);
    *sz = s->wpos - off;
    q->last_pos = *pos;
    q->last_crc = gmq_get_u32(s->map + off + 4);
    q->ck_dirty = 1;
    q->ck_bytes += *sz;
    if (q->cur_seg == NULL) {
        q->cur_seg = s;
        q->cur_off = 0;
    }
    return GMQ_OK;
}

/* a state record about the message whose MSG record is at mpos; applied */
static int
queue_state_rec(gmq_queue_t *q, int type, uint16_t flags, uint64_t id, uint64_t ts,
                uint64_t due, uint32_t retry, uint64_t mpos, gmq_error_t *err)
{
    gmq_record_t r = { .type = (uint8_t) type, .flags = flags, .id = id, .ts = ts, .due = due,
                       .retry = retry, .pos = mpos };
    uint64_t pos;
    size_t sz;
    if (queue_append(q, &r, &pos, &sz, err) != GMQ_OK)
        return GMQ_ERR;
    queue_apply(q, &r, pos, sz);
    return GMQ_OK;
}

/* bytes of a segment kept for state records when messages no longer fit */
static size_t
queue_headroom(size_t seg_size)
{
    size_t h = seg_size / 16;
    return h < QUEUE_HEADROOM_MAX ? h : QUEUE_HEADROOM_MAX;
}

/* Room for need bytes (plus the segment's headroom) in the active segment,
 * or a new segment: the first is GMQ_QUEUE_FIRST_SEGMENT, each next one
 * twice the size of the one before it (from its file, so after a restart
 * too) up to seg_size, so a queue's disk space follows what it holds */
static int
queue_room(gmq_queue_t *q, size_t need, int headroom, gmq_error_t *err)
{
    gmq_segment_t *a = queue_active(q);
    if (a != NULL && gmq_segment_room(a) >= need + (headroom ? queue_headroom(a->size) : 0))
        return GMQ_OK;
    size_t size = a != NULL ? 2 * a->size : GMQ_QUEUE_FIRST_SEGMENT;
    if (size > q->sh->seg_size)
        size = q->sh->seg_size;
    if (size < need + queue_headroom(size))
        size = need + QUEUE_HEADROOM_MAX;
    gmq_segment_t *s = gmq_segment_create(q->dir, a ? a->no + 1 : 1, size,
                                          q->sh->fsync != GMQ_FSYNC_NO, err);
    if (s == NULL)
        return GMQ_ERR;
    if (a != NULL && a != q->cur_seg)
        gmq_segment_release_pages(a);     /* written: read again when the cursor gets there */
    queue_seg_add(q, s);
    q->gc_pending = 1;   /* a good moment to look at the oldest segments */
    return GMQ_OK;
}

/* ---- segments ---- */

static gmq_segment_t *
queue_active(const gmq_queue_t *q)
{
    return q->nsegs > 0 ? q->segv[q->nsegs - 1] : NULL;
}

static long
queue_seg_ix(const gmq_queue_t *q, uint64_t no)
{
    size_t lo = 0, hi = q->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (q->segv[mid]->no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < q->nsegs && q->segv[lo]->no == no ? (long) lo : -1;
}

/* the segment holding position pos, NULL if it is gone */
static gmq_segment_t *
queue_seg(const gmq_queue_t *q, uint64_t pos)
{
    long i = queue_seg_ix(q, GMQ_QPOS_SEG(pos));
    return i < 0 ? NULL : q->segv[i];
}

static gmq_segment_t *
queue_seg_next(const gmq_queue_t *q, const gmq_segment_t *s)
{
    long i = queue_seg_ix(q, s->no);
    return i >= 0 && (size_t) i + 1 < q->nsegs ? q->segv[i + 1] : NULL;
}

static void
queue_seg_add(gmq_queue_t *q, gmq_segment_t *s)
{
    if (q->nsegs == q->capsegs) {
        q->capsegs = q->capsegs ? q->capsegs * 2 : 8;
        q->segv = gmq_xrealloc(q->segv, q->capsegs * sizeof(*q->segv));
    }
    q->segv[q->nsegs++] = s;
}

static void
queue_seg_close(gmq_segment_t *s, int unlink_file)
{
    queue_index_t *ix = s->index;
    if (ix != NULL)
        free(ix->b);
    free(ix);
    gmq_segment_close(s, unlink_file);
}

/* ---- the log and its cursor ---- */

/* a message that waits in the log for the cursor (no entry of its own) */
static int
queue_log_ready(const gmq_queue_t *q, const gmq_record_t *r)
{
    return r->type == GMQ_REC_MSG && !(r->flags & GMQ_REC_F_RELOC) && (r->due == 0 || q->dead);
}

/* From (*sp, *offp) to the next message waiting in the log: GMQ_OK with it
 * in *r, its position and size, (*sp, *offp) at it; GMQ_AGAIN at the end.
 * Bytes a recovery skipped as corrupt are skipped again. settle: free the
 * entries of gone messages passed on the way (the cursor moves). */
static int
queue_log_scan(gmq_queue_t *q, gmq_segment_t **sp, size_t *offp, gmq_record_t *r,
               uint64_t *pos, size_t *sz, int settle)
{
    gmq_segment_t *s = *sp;
    size_t off = *offp;
    int rc = GMQ_AGAIN;
    while (s != NULL) {
        if (off >= s->wpos) {
            gmq_segment_t *n = queue_seg_next(q, s);
            if (settle && s->nready > 0) {
                /* what it still counted was lost to damage (logged below);
                 * no record says so: the next checkpoint does */
                q->n_log -= s->nready;
                s->nready = 0;
                q->ck_dirty = 1;
            }
            if (n == NULL)
                break;
            if (settle && !q->recovering)
                gmq_segment_release_pages(s);
            s = n;
            off = 0;
            continue;
        }
        if (gmq_record_decode(s->map + off, s->wpos - off, r, sz) != GMQ_OK) {
            size_t next = gmq_segment_resync(s, off + GMQ_RECORD_ALIGN);
            if (settle && GMQ_QPOS(s->no, off) < q->scan_from) {
                /* damage in the part a checkpoint spared the recovery from reading */
                gmq_log_warn("%s: corrupt record at offset %zu, skipped %zu bytes", s->path, off,
                             next - off);
                q->corrupt++;
                q->ck_dirty = 1;
            }
            off = next;
            continue;
        }
        if (queue_log_ready(q, r)) {
            uint64_t p = GMQ_QPOS(s->no, off);
            gmq_qent_t *g = q->n_gone > 0 ? queue_ent_at(q, r->id, p, 1) : NULL;
            if (g == NULL) {
                *pos = p;
                rc = GMQ_OK;
                break;
            }
            if (settle)
                queue_ent_free(q, g);
        }
        off += *sz;
    }
    *sp = s;
    *offp = off;
    return rc;
}

static int
queue_log_next(gmq_queue_t *q, gmq_record_t *r, uint64_t *pos, size_t *sz)
{
    queue_settle(q);
    if (q->n_log == 0)
        return GMQ_AGAIN;
    return queue_log_scan(q, &q->cur_seg, &q->cur_off, r, pos, sz, 1);
}

/* move the cursor over segments with nothing left to read in them */
static void
queue_settle(gmq_queue_t *q)
{
    if (q->cur_seg == NULL) {
        if (q->nsegs == 0)
            return;
        q->cur_seg = q->segv[0];
        q->cur_off = 0;
    }
    while (q->cur_seg->nready == 0) {
        if (q->n_gone > 0)
            queue_drop_gone(q, q->cur_seg);
        gmq_segment_t *n = queue_seg_next(q, q->cur_seg);
        if (n == NULL) {
            q->cur_off = q->cur_seg->wpos;
            break;
        }
        if (!q->recovering)
            gmq_segment_release_pages(q->cur_seg);    /* read: entries map it again if need be */
        q->cur_seg = n;
        q->cur_off = 0;
        q->gc_pending = 1;
    }
}

static uint64_t
queue_cursor(const gmq_queue_t *q)
{
    if (q->cur_seg != NULL)
        return GMQ_QPOS(q->cur_seg->no, q->cur_off);
    return q->nsegs > 0 ? GMQ_QPOS(q->segv[0]->no, 0) : 0;
}

static void
queue_view_log(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos, gmq_qmsg_t *m)
{
    *m = (gmq_qmsg_t) { .q = q, .e = NULL, .id = r->id, .pos = pos, .pushed_at = r->ts,
                        .due_at = r->due, .body = r->body, .len = r->len, .retry = r->retry,
                        .state = GMQ_QMSG_READY };
}

/* ---- entries ---- */

/* a new entry (detached: the caller sets its state), pinning its segment */
static gmq_qent_t *
queue_ent_new(gmq_queue_t *q, uint64_t id, uint64_t pos, uint32_t len, uint32_t retry)
{
    if (q->nents >= q->nbuckets)
        queue_hash_grow(q);
    gmq_qent_t *e = gmq_xcalloc(1, sizeof(*e));
    gmq_heap_node_init(&e->hnode);
    gmq_list_init(&e->link);
    e->q = q;
    e->id = id;
    e->pos = pos;
    e->len = len;
    e->retry = retry;
    size_t i = queue_hash_slot(q, id);
    e->hnext = q->buckets[i];
    q->buckets[i] = e;
    q->nents++;
    return e;
}

static void
queue_ent_free(gmq_queue_t *q, gmq_qent_t *e)
{
    queue_ent_detach(q, e);
    gmq_qent_t **pp = &q->buckets[queue_hash_slot(q, e->id)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    q->nents--;
    free(e);
}

/* put a detached entry in the structure of its state (GONE entries pin nothing) */
static void
queue_ent_set(gmq_queue_t *q, gmq_qent_t *e, int state, int kind, uint64_t key, uint64_t hkey)
{
    e->state = (uint8_t) state;
    e->kind = (uint8_t) kind;
    e->key = key;
    switch (state) {
    case GMQ_QENT_HEAD:
        gmq_list_push_head(&q->head, &e->link);
        q->n_head++;
        break;
    case GMQ_QENT_TAIL:
        gmq_list_push_tail(&q->tail, &e->link);
        q->n_tail++;
        break;
    case GMQ_QENT_DELAYED:
        e->hnode.key = hkey;
        /* equal due times by id, not by when they were inserted: a scan
         * after a relocation inserts them in another order */
        e->hnode.tie = e->id;
        gmq_heap_push(q->sh->delay, &e->hnode);
        q->n_delayed++;
        break;
    case GMQ_QENT_INFLIGHT:
        e->hnode.key = hkey;
        e->hnode.tie = e->id;
        if (q->recovering)
            gmq_list_push_tail(&q->rec_inflight, &e->link);
        else
            gmq_heap_push(q->sh->ttr, &e->hnode);
        q->n_inflight++;
        break;
    case GMQ_QENT_GONE:
        q->n_gone++;
        return;
    }
    queue_pin(q, e->pos, e->len, +1);
}

/* take e out of whatever holds it; state 0 (the caller sets a new one) */
static void
queue_ent_detach(gmq_queue_t *q, gmq_qent_t *e)
{
    switch (e->state) {
    case GMQ_QENT_HEAD:
        gmq_list_remove(&e->link);
        q->n_head--;
        break;
    case GMQ_QENT_TAIL:
        gmq_list_remove(&e->link);
        q->n_tail--;
        break;
    case GMQ_QENT_DELAYED:
        gmq_heap_remove(q->sh->delay, &e->hnode);
        q->n_delayed--;
        break;
    case GMQ_QENT_INFLIGHT:
        if (gmq_heap_contains(&e->hnode))
            gmq_heap_remove(q->sh->ttr, &e->hnode);
        else
            gmq_list_remove(&e->link);   /* recovery's in-flight list */
        q->n_inflight--;
        break;
    case GMQ_QENT_GONE:
        q->n_gone--;
        e->state = 0;
        return;
    default:
        return;
    }
    e->state = 0;
    queue_pin(q, e->pos, e->len, -1);
}

/* the entry of (id, pos): a gone one if gone, else any other */
static gmq_qent_t *
queue_ent_at(const gmq_queue_t *q, uint64_t id, uint64_t pos, int gone)
{
    for (gmq_qent_t *e = q->buckets[queue_hash_slot(q, id)]; e != NULL; e = e->hnext)
        if (e->id == id && e->pos == pos && (e->state == GMQ_QENT_GONE) == (gone != 0))
            return e;
    return NULL;
}

static void
queue_pin(gmq_queue_t *q, uint64_t pos, uint32_t len, int delta)
{
    gmq_segment_t *s = queue_seg(q, pos);
    if (s == NULL)
        return;      /* a segment freed after a checkpoint: its entries move on replay */
    if (delta > 0) {
        s->pins++;
        s->pin_bytes += gmq_record_size(len);
    } else {
        s->pins--;
        s->pin_bytes -= gmq_record_size(len);
        if (s->pins == 0)
            q->gc_pending = 1;
    }
}

static void
queue_drop_all(gmq_queue_t *q)
{
    for (size_t i = 0; i < q->nbuckets; i++)
        while (q->buckets[i] != NULL)
            queue_ent_free(q, q->buckets[i]);
}

/* the cursor leaves s: gone messages in it need no entry any more */
static void
queue_drop_gone(gmq_queue_t *q, const gmq_segment_t *s)
{
    for (size_t i = 0; i < q->nbuckets && q->n_gone > 0; i++) {
        gmq_qent_t *e = q->buckets[i];
        while (e != NULL) {
            gmq_qent_t *next = e->hnext;
            if (e->state == GMQ_QENT_GONE && GMQ_QPOS_SEG(e->pos) == s->no)
                queue_ent_free(q, e);
            e = next;
        }
    }
}

static size_t
queue_hash_slot(const gmq_queue_t *q, uint64_t id)
{
    uint64_t h = id * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (size_t) (h & (q->nbuckets - 1));
}

static void
queue_hash_grow(gmq_queue_t *q)
{
    size_t old_n = q->nbuckets;
    gmq_qent_t **old = q->buckets;
    q->nbuckets *= 2;
    q->buckets = gmq_xcalloc(q->nbuckets, sizeof(*q->buckets));
    for (size_t i = 0; i < old_n; i++) {
        gmq_qent_t *e = old[i];
        while (e != NULL) {
            gmq_qent_t *next = e->hnext;
            size_t j = queue_hash_slot(q, e->id);
            e->hnext = q->buckets[j];
            q->buckets[j] = e;
            e = next;
        }
    }
    free(old);
}

/* the entries in a state (0: all), in an allocated array */
static gmq_qent_t **
queue_collect(const gmq_queue_t *q, int state, size_t *n)
{
    gmq_qent_t **a = gmq_xmalloc((q->nents ? q->nents : 1) * sizeof(*a));
    size_t k = 0;
    for (size_t i = 0; i < q->nbuckets; i++)
        for (gmq_qent_t *e = q->buckets[i]; e != NULL; e = e->hnext)
            if (state == 0 || e->state == state)
                a[k++] = e;
    *n = k;
    return a;
}

static int
queue_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* head order after a recovery: the recovered ones by delivery, then the
 * released ones, newest first. Ties (messages taken by one DELIVER whose
 * messages before it lost theirs) by id, not by position: a relocation
 * moves a record, and the order must not change with it. */
static int
queue_cmp_head(const void *a, const void *b)
{
    const gmq_qent_t *x = *(gmq_qent_t *const *) a, *y = *(gmq_qent_t *const *) b;
    if (x->kind != y->kind)
        return x->kind == GMQ_QHEAD_RECOVERED ? -1 : 1;
    if (x->key != y->key)
        return x->kind == GMQ_QHEAD_RECOVERED ? (x->key < y->key ? -1 : 1)
                                              : (x->key > y->key ? -1 : 1);
    return x->id < y->id ? -1 : x->id > y->id;
}

/* (ties, by id for the same reason: only damage gives two one key) */
static int
queue_cmp_tail(const void *a, const void *b)
{
    const gmq_qent_t *x = *(gmq_qent_t *const *) a, *y = *(gmq_qent_t *const *) b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* the delay heap's order: due time, then id, then insertion */
static int
queue_cmp_delayed(const void *a, const void *b)
{
    const gmq_qent_t *x = *(gmq_qent_t *const *) a, *y = *(gmq_qent_t *const *) b;
    if (x->hnode.key != y->hnode.key)
        return x->hnode.key < y->hnode.key ? -1 : 1;
    if (x->hnode.tie != y->hnode.tie)
        return x->hnode.tie < y->hnode.tie ? -1 : 1;
    return x->hnode.seq < y->hnode.seq ? -1 : x->hnode.seq > y->hnode.seq;
}

static int
queue_cmp_pos(const void *a, const void *b)
{
    const gmq_qent_t *x = *(gmq_qent_t *const *) a, *y = *(gmq_qent_t *const *) b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void
queue_sort_list(gmq_list_t *l, int (*cmp)(const void *, const void *))
{
    size_t n = 0;
    for (gmq_list_t *p = l->next; p != l; p = p->next)
        n++;
    if (n < 2)
        return;
    gmq_qent_t **a = gmq_xmalloc(n * sizeof(*a));
    n = 0;
    while (!gmq_list_empty(l)) {
        a[n++] = container_of(l->next, gmq_qent_t, link);
        gmq_list_remove(l->next);
    }
    qsort(a, n, sizeof(*a), cmp);
    for (size_t i = 0; i < n; i++)
        gmq_list_push_tail(l, &a[i]->link);
    free(a);
}

/* ---- the id index: finding a message that waits in the log ---- */

/* s's index, brought up to its write position */
static queue_index_t *
queue_index(gmq_segment_t *s)
{
    queue_index_t *ix = s->index;
    if (ix == NULL)
        ix = s->index = gmq_xcalloc(1, sizeof(*ix));
    size_t off = ix->built;
    while (off < s->wpos) {
        gmq_record_t r;
        size_t sz;
        if (gmq_record_decode(s->map + off, s->wpos - off, &r, &sz) != GMQ_OK) {
            off = gmq_segment_resync(s, off + GMQ_RECORD_ALIGN);
            continue;
        }
        if (r.type == GMQ_REC_MSG && !(r.flags & GMQ_REC_F_RELOC)) {
            queue_bucket_t *b = ix->n > 0 ? &ix->b[ix->n - 1] : NULL;
            if (b == NULL || off >= b->off + QUEUE_INDEX_SPAN) {
                if (ix->n == ix->cap) {
                    ix->cap = ix->cap ? ix->cap * 2 : 16;
                    ix->b = gmq_xrealloc(ix->b, ix->cap * sizeof(*ix->b));
                }
                b = &ix->b[ix->n++];
                *b = (queue_bucket_t) { .lo = r.id, .hi = r.id, .off = (uint32_t) off };
            }
            if (r.id < b->lo)
                b->lo = r.id;
            if (r.id > b->hi)
                b->hi = r.id;
            b->end = (uint32_t) (off + sz);
        }
        off += sz;
    }
    ix->built = off;
    return ix;
}

static int
queue_find_log(gmq_queue_t *q, uint64_t id, gmq_qmsg_t *m)
{
    if (q->n_log == 0 || id > q->max_id)
        return GMQ_AGAIN;
    queue_settle(q);
    long first = queue_seg_ix(q, q->cur_seg->no);
    for (size_t i = (size_t) first; i < q->nsegs; i++) {
        gmq_segment_t *s = q->segv[i];
        if (s->nready == 0 || id < s->min_id || id > s->max_id)
            continue;
        size_t from = s == q->cur_seg ? q->cur_off : 0;
        queue_index_t *ix = queue_index(s);
        for (size_t k = 0; k < ix->n; k++) {
            const queue_bucket_t *b = &ix->b[k];
            if (id < b->lo || id > b->hi || b->end <= from)
                continue;
            size_t off = b->off > from ? b->off : from;
            while (off < b->end) {
                gmq_record_t r;
                size_t sz;
                if (gmq_record_decode(s->map + off, s->wpos - off, &r, &sz) != GMQ_OK) {
                    off = gmq_segment_resync(s, off + GMQ_RECORD_ALIGN);
                    continue;
                }
                uint64_t pos = GMQ_QPOS(s->no, off);
                if (r.id == id && queue_log_ready(q, &r) && queue_ent_at(q, id, pos, 1) == NULL) {
                    queue_view_log(q, &r, pos, m);
                    return GMQ_OK;
                }
                off += sz;
            }
        }
    }
    return GMQ_AGAIN;
}

/* ---- space ---- */

/* copy the records of the entries that point into s to the tail: each
 * copy says what state its message is in, so a recovery that no longer
 * finds the original (s is gone) rebuilds the entry from it */
static int
queue_relocate(gmq_queue_t *q, gmq_segment_t *s)
{
    size_t n, k = 0;
    gmq_qent_t **all = queue_collect(q, 0, &n);
    for (size_t i = 0; i < n; i++)
        if (all[i]->state != GMQ_QENT_GONE && GMQ_QPOS_SEG(all[i]->pos) == s->no)
            all[k++] = all[i];
    qsort(all, k, sizeof(*all), queue_cmp_pos);
    int rc = GMQ_OK;
    for (size_t i = 0; i < k; i++) {
        gmq_qent_t *e = all[i];
        gmq_qmsg_t m;
        gmq_error_t err;
        if (gmq_queue_view(q, e, &m) != GMQ_OK)
            continue;
        if (queue_room(q, gmq_record_size(m.len) + GMQ_RECORD_HDR, 1, &err) != GMQ_OK) {
            gmq_log_warn("queue %s: relocation stopped: %s", q->bind_key, err.msg);
            rc = GMQ_ERR;
            break;
        }
        if (gmq_queue_view(q, e, &m) != GMQ_OK)    /* (a new segment may have been mapped) */
            continue;
        static const uint16_t flags[] = { [GMQ_QENT_TAIL] = GMQ_REC_F_TAIL,
                                          [GMQ_QENT_INFLIGHT] = GMQ_REC_F_INFLIGHT };
        uint16_t f = GMQ_REC_F_RELOC | flags[e->state];
        if (e->state == GMQ_QENT_HEAD)
            f |= e->kind == GMQ_QHEAD_RECOVERED ? GMQ_REC_F_RECOVERED : GMQ_REC_F_RELEASED;
        gmq_record_t c = { .type = GMQ_REC_MSG, .flags = f, .len = m.len, .id = e->id,
                           .ts = m.pushed_at, .retry = e->retry, .body = m.body,
                           .due = (e->state == GMQ_QENT_DELAYED || e->state == GMQ_QENT_INFLIGHT)
                                  ? e->hnode.key : 0,
                           .pos = e->state == GMQ_QENT_DELAYED ? 0 : e->key };
        uint64_t pos;
        size_t sz;
        if (queue_append(q, &c, &pos, &sz, &err) != GMQ_OK) {
            rc = GMQ_ERR;
            break;
        }
        queue_apply(q, &c, pos, sz);
    }
    free(all);
    return rc;
}

/* ---- checkpoints ---- */

static void
queue_ck_build(gmq_queue_t *q, gmq_buf_t *out, uint64_t *applied)
{
    gmq_segment_t *a = queue_active(q);
    gmq_checkpoint_t c = { .incarnation = q->sh->incarnation, .check_pos = q->last_pos,
                           .check_crc = q->last_crc, .epoch = q->sh->epoch,
                           .max_seq = q->sh->seq, .max_id = q->max_id, .corrupt = q->corrupt };
    c.applied = a != NULL ? GMQ_QPOS(a->no, a->wpos) : 0;
    queue_settle(q);
    c.cursor = queue_cursor(q);
    c.nsegs = q->nsegs;
    c.segs = gmq_xmalloc((q->nsegs ? q->nsegs : 1) * sizeof(*c.segs));
    for (size_t i = 0; i < q->nsegs; i++) {
        const gmq_segment_t *s = q->segv[i];
        c.segs[i] = (gmq_checkpoint_seg_t) { .no = s->no, .wpos = s->wpos, .nready = s->nready,
                                             .min_id = s->min_id, .max_id = s->max_id };
    }
    /* entries in the order a load recreates them: lists in order, delayed
     * ones in the heap's order (ties keep it), the rest */
    c.ents = gmq_xmalloc((q->nents ? q->nents : 1) * sizeof(*c.ents));
    size_t k = 0, n;
    /* (the head list is rebuilt with push_head: saved back to front) */
    for (gmq_list_t *p = q->head.prev; p != &q->head; p = p->prev) {
        gmq_qent_t *e = container_of(p, gmq_qent_t, link);
        c.ents[k++] = (gmq_checkpoint_ent_t) { .id = e->id, .pos = e->pos, .key = e->key,
                                               .retry = e->retry, .len = e->len,
                                               .delivered_at = e->delivered_at,
                                               .state = e->state, .kind = e->kind };
    }
    for (gmq_list_t *p = q->tail.next; p != &q->tail; p = p->next) {
        gmq_qent_t *e = container_of(p, gmq_qent_t, link);
        c.ents[k++] = (gmq_checkpoint_ent_t) { .id = e->id, .pos = e->pos, .key = e->key,
                                               .retry = e->retry, .len = e->len,
                                               .delivered_at = e->delivered_at,
                                               .state = e->state, .kind = e->kind };
    }
    static const int rest[] = { GMQ_QENT_DELAYED, GMQ_QENT_INFLIGHT, GMQ_QENT_GONE };
    for (size_t r = 0; r < GMQ_ARRAY_LEN(rest); r++) {
        gmq_qent_t **v = queue_collect(q, rest[r], &n);
        qsort(v, n, sizeof(*v), rest[r] == GMQ_QENT_DELAYED ? queue_cmp_delayed : queue_cmp_pos);
        for (size_t i = 0; i < n; i++)
            c.ents[k++] = (gmq_checkpoint_ent_t) { .id = v[i]->id, .pos = v[i]->pos,
                                                   .key = v[i]->key, .hkey = v[i]->hnode.key,
                                                   .retry = v[i]->retry, .len = v[i]->len,
                                                   .delivered_at = v[i]->delivered_at,
                                                   .state = v[i]->state, .kind = v[i]->kind };
        free(v);
    }
    c.nents = k;
    *applied = c.applied;
    gmq_checkpoint_encode(&c, out);
    gmq_checkpoint_free(&c);
}

/* a background checkpoint finished: what it covers, if it was written */
static void
queue_ck_poll(gmq_queue_t *q)
{
    if (q->ck_ticket == 0 || (q->sh->bg != NULL && gmq_bgsync_done(q->sh->bg) < q->ck_ticket))
        return;
    queue_ckjob_t *j = q->ck_job;
    if (j->ok)
        q->ck_covered = q->ck_pending;
    else
        q->ck_dirty = 1;
    queue_ck_job_free(j);
    q->ck_job = NULL;
    q->ck_ticket = 0;
}

/* on the background thread: every sync queued before it is done */
static int
queue_ck_run(void *arg)
{
    queue_ckjob_t *j = arg;
    gmq_error_t err;
    j->ok = gmq_checkpoint_store(j->dir, j->buf.data, j->buf.len, 1, &err) == GMQ_OK;
    if (!j->ok)
        gmq_log_warn("no checkpoint: %s", err.msg);
    return 0;
}

static void
queue_ck_job_free(queue_ckjob_t *j)
{
    if (j == NULL)
        return;
    free(j->dir);
    gmq_buf_free(&j->buf);
    free(j);
}

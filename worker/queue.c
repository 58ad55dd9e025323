/*
 * queue.c - owns one queue: its segments, its read cursor, its entries (id
 * hash, head and tail lists, places in the heaps), the per-segment counts
 * and id index, its checkpoints. Every change is a record: it is appended,
 * then applied by queue_apply, the same function recovery replays the log
 * with, so memory after a restart is what it was before. gc unlinks leading
 * segments the cursor has passed and relocates the few entries that pin them.
 */
#include "queue_impl.h"
#include "common/config.h"
#include "common/log.h"
#include "worker/checkpoint.h"
#include "worker/upgrade.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static int    queue_state_rec(gmq_queue_t *q, int type, uint16_t flags, uint64_t id, uint64_t ts,
                               uint64_t due, uint32_t retry, uint64_t mpos, gmq_error_t *err);
static size_t queue_headroom(size_t seg_size);

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

gmq_qent_t *
gmq_queue_entry_in(const gmq_queue_t *q, uint64_t id, int state)
{
    gmq_qent_t *e = q->buckets[queue_hash_slot(q, id)];
    while (e != NULL && (e->id != id || e->state != state))
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

/* ---- writing records ---- */

int
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
int
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

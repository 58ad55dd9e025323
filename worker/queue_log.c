/*
 * queue_log.c - a queue's segments, its log and read cursor, its entries (id
 * hash, lists, sorting), the id index of a segment, relocation at gc and
 * building a checkpoint.
 */
#include "queue_impl.h"
#include "common/log.h"
#include "worker/checkpoint.h"

#include <stdlib.h>

static long queue_seg_ix(const gmq_queue_t *q, uint64_t no);
static gmq_segment_t *queue_seg_next(const gmq_queue_t *q, const gmq_segment_t *s);
static int queue_log_ready(const gmq_queue_t *q, const gmq_record_t *r);
static uint64_t queue_cursor(const gmq_queue_t *q);
static void queue_drop_gone(gmq_queue_t *q, const gmq_segment_t *s);
static void queue_hash_grow(gmq_queue_t *q);
static queue_index_t *queue_index(gmq_segment_t *s);

/* ---- segments ---- */

gmq_segment_t *
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
gmq_segment_t *
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

void
queue_seg_add(gmq_queue_t *q, gmq_segment_t *s)
{
    if (q->nsegs == q->capsegs) {
        q->capsegs = q->capsegs ? q->capsegs * 2 : 8;
        q->segv = gmq_xrealloc(q->segv, q->capsegs * sizeof(*q->segv));
    }
    q->segv[q->nsegs++] = s;
}

void
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
int
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

int
queue_log_next(gmq_queue_t *q, gmq_record_t *r, uint64_t *pos, size_t *sz)
{
    queue_settle(q);
    if (q->n_log == 0)
        return GMQ_AGAIN;
    return queue_log_scan(q, &q->cur_seg, &q->cur_off, r, pos, sz, 1);
}

/* move the cursor over segments with nothing left to read in them */
void
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

void
queue_view_log(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos, gmq_qmsg_t *m)
{
    *m = (gmq_qmsg_t) { .q = q, .e = NULL, .id = r->id, .pos = pos, .pushed_at = r->ts,
                        .due_at = r->due, .body = r->body, .len = r->len, .retry = r->retry,
                        .state = GMQ_QMSG_READY };
}

/* ---- entries ---- */

/* a new entry (detached: the caller sets its state), pinning its segment */
gmq_qent_t *
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

void
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
void
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
void
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
gmq_qent_t *
queue_ent_at(const gmq_queue_t *q, uint64_t id, uint64_t pos, int gone)
{
    for (gmq_qent_t *e = q->buckets[queue_hash_slot(q, id)]; e != NULL; e = e->hnext)
        if (e->id == id && e->pos == pos && (e->state == GMQ_QENT_GONE) == (gone != 0))
            return e;
    return NULL;
}

void
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

void
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

size_t
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
gmq_qent_t **
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

int
queue_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* head order after a recovery: the recovered ones by delivery, then the
 * released ones, newest first. Ties (messages taken by one DELIVER whose
 * messages before it lost theirs) by id, not by position: a relocation
 * moves a record, and the order must not change with it. */
int
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
int
queue_cmp_tail(const void *a, const void *b)
{
    const gmq_qent_t *x = *(gmq_qent_t *const *) a, *y = *(gmq_qent_t *const *) b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* the delay heap's order: due time, then id, then insertion */
int
queue_cmp_delayed(const void *a, const void *b)
{
    const gmq_qent_t *x = *(gmq_qent_t *const *) a, *y = *(gmq_qent_t *const *) b;
    if (x->hnode.key != y->hnode.key)
        return x->hnode.key < y->hnode.key ? -1 : 1;
    if (x->hnode.tie != y->hnode.tie)
        return x->hnode.tie < y->hnode.tie ? -1 : 1;
    return x->hnode.seq < y->hnode.seq ? -1 : x->hnode.seq > y->hnode.seq;
}

int
queue_cmp_pos(const void *a, const void *b)
{
    const gmq_qent_t *x = *(gmq_qent_t *const *) a, *y = *(gmq_qent_t *const *) b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void
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

int
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
int
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

void
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
void
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
int
queue_ck_run(void *arg)
{
    queue_ckjob_t *j = arg;
    gmq_error_t err;
    j->ok = gmq_checkpoint_store(j->dir, j->buf.data, j->buf.len, 1, &err) == GMQ_OK;
    if (!j->ok)
        gmq_log_warn("no checkpoint: %s", err.msg);
    return 0;
}

void
queue_ck_job_free(queue_ckjob_t *j)
{
    if (j == NULL)
        return;
    free(j->dir);
    gmq_buf_free(&j->buf);
    free(j);
}

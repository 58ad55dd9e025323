/*
 * queue.c - owns one queue: its segment list, its message entries (id hash,
 * ready list) and their log records. Recovery replays the records in file
 * order; gc unlinks leading segments whose messages are all gone and
 * relocates stragglers so old segments cannot pin disk space forever.
 */
#include "queue.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUEUE_HEADROOM_MAX (64 * 1024)

typedef struct {
    gmq_queue_t *q;
    gmq_list_t   inflight;   /* delivered, not finished: ready again at the end */
} queue_recover_t;

static int            queue_load(gmq_queue_t *q, gmq_error_t *err);
static int            queue_cmp_u64(const void *a, const void *b);
static void           queue_recover_rec(void *arg, gmq_segment_t *s, const gmq_record_t *r,
                                        size_t off);
static size_t         queue_headroom(size_t seg_size);
static gmq_segment_t *queue_active(const gmq_queue_t *q);
static int            queue_room(gmq_queue_t *q, size_t need, int headroom, gmq_error_t *err);
static int            queue_state_rec(gmq_queue_t *q, gmq_qmsg_t *m, int type, uint16_t flags,
                                      uint64_t ts, uint64_t due, uint32_t retry, gmq_error_t *err);
static void           queue_attach_body(gmq_queue_t *q, gmq_qmsg_t *m, gmq_segment_t *s, size_t off);
static void           queue_detach_body(gmq_queue_t *q, gmq_qmsg_t *m);
static void           queue_detach(gmq_queue_t *q, gmq_qmsg_t *m);
static void           queue_to_ready(gmq_queue_t *q, gmq_qmsg_t *m, int head);
static void           queue_to_heap(gmq_queue_t *q, gmq_qmsg_t *m, int state, uint64_t key);
static gmq_qmsg_t    *queue_new_msg(gmq_queue_t *q, uint64_t id);
static void           queue_drop_all(gmq_queue_t *q);
static void           queue_free_msg(gmq_queue_t *q, gmq_qmsg_t *m);
static void           queue_hash_grow(gmq_queue_t *q);
static size_t         queue_hash_slot(const gmq_queue_t *q, uint64_t id);
static int            queue_relocate(gmq_queue_t *q, gmq_segment_t *s);

gmq_queue_t *
gmq_queue_open(const char *dir, const char *bind_key, int dead, size_t seg_size, int sync_create,
               gmq_heap_t *delay, gmq_heap_t *ttr, gmq_error_t *err)
{
    if (gmq_mkdir_p(dir, 0700) != 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot create %s: %s", dir,
                      strerror(errno));
        return NULL;
    }
    gmq_queue_t *q = gmq_xcalloc(1, sizeof(*q));
    q->bind_key = gmq_xstrdup(bind_key);
    q->dead = dead;
    q->dir = gmq_xstrdup(dir);
    gmq_list_init(&q->segs);
    gmq_list_init(&q->ready);
    q->seg_size = seg_size;
    q->sync_create = sync_create;
    q->delay = delay;
    q->ttr = ttr;
    q->nbuckets = 1024;
    q->buckets = gmq_xcalloc(q->nbuckets, sizeof(*q->buckets));
    if (queue_load(q, err) != GMQ_OK) {
        gmq_queue_close(q);
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
    for (size_t i = 0; i < q->nbuckets; i++) {
        gmq_qmsg_t *m = q->buckets[i];
        while (m != NULL) {
            gmq_qmsg_t *next = m->hnext;
            if (gmq_heap_contains(&m->hnode))
                gmq_heap_remove(m->state == GMQ_QMSG_DELAYED ? q->delay : q->ttr, &m->hnode);
            free(m);
            m = next;
        }
    }
    while (!gmq_list_empty(&q->segs)) {
        gmq_segment_t *s = container_of(q->segs.next, gmq_segment_t, link);
        gmq_list_remove(&s->link);
        gmq_error_t e;
        if (gmq_segment_sync(s, &e) != GMQ_OK)
            gmq_log_error("%s", e.msg);
        gmq_segment_close(s, 0);
    }
    free(q->buckets);
    free(q->bind_key);
    free(q->dir);
    free(q);
}

int
gmq_queue_reserve(gmq_queue_t *q, size_t len, gmq_error_t *err)
{
    return queue_room(q, gmq_record_size(len), 1, err);
}

gmq_qmsg_t *
gmq_queue_put(gmq_queue_t *q, uint64_t id, const char *body, size_t len, uint32_t retry,
              uint64_t pushed_at, uint64_t due_at, gmq_error_t *err)
{
    if (len > GMQ_RECORD_MAX_BODY) {
        gmq_error_set(err, GMQ_E_TOO_LARGE, "message body of %zu bytes is too large", len);
        return NULL;
    }
    if (gmq_queue_reserve(q, len, err) != GMQ_OK)
        return NULL;
    gmq_record_t r = { .type = GMQ_REC_MSG, .len = (uint32_t) len, .id = id, .ts = pushed_at,
                       .due = due_at, .retry = retry, .body = body };
    gmq_segment_t *s = queue_active(q);
    size_t off = gmq_segment_append(s, &r);

    gmq_qmsg_t *m = queue_new_msg(q, id);
    m->pushed_at = pushed_at;
    m->due_at = due_at;
    m->retry = retry;
    m->len = (uint32_t) len;
    queue_attach_body(q, m, s, off);
    if (due_at > 0)
        queue_to_heap(q, m, GMQ_QMSG_DELAYED, due_at);
    else
        queue_to_ready(q, m, 0);
    return m;
}

gmq_qmsg_t *
gmq_queue_find(const gmq_queue_t *q, uint64_t id)
{
    gmq_qmsg_t *m = q->buckets[queue_hash_slot(q, id)];
    while (m != NULL && m->id != id)
        m = m->hnext;
    return m;
}

gmq_qmsg_t *
gmq_queue_head(const gmq_queue_t *q)
{
    return gmq_list_empty(&q->ready) ? NULL : container_of(q->ready.next, gmq_qmsg_t, link);
}

const char *
gmq_queue_body(const gmq_qmsg_t *m)
{
    return gmq_segment_body(m->seg, m->off);
}

int
gmq_queue_deliver(gmq_queue_t *q, gmq_qmsg_t *m, uint64_t now, uint64_t deadline, gmq_error_t *err)
{
    if (queue_state_rec(q, m, GMQ_REC_DELIVER, 0, now, deadline, m->retry, err) != GMQ_OK)
        return GMQ_ERR;
    queue_detach(q, m);
    m->delivered_at = now;
    queue_to_heap(q, m, GMQ_QMSG_INFLIGHT, deadline);
    return GMQ_OK;
}

int
gmq_queue_finish(gmq_queue_t *q, gmq_qmsg_t *m, int type, gmq_error_t *err)
{
    if (queue_state_rec(q, m, type, 0, 0, 0, m->retry, err) != GMQ_OK)
        return GMQ_ERR;
    queue_detach(q, m);
    queue_free_msg(q, m);
    return GMQ_OK;
}

int
gmq_queue_requeue(gmq_queue_t *q, gmq_qmsg_t *m, uint32_t retry, int head, gmq_error_t *err)
{
    if (queue_state_rec(q, m, GMQ_REC_REQUEUE, head ? GMQ_REC_F_HEAD : 0, 0, 0, retry, err) != GMQ_OK)
        return GMQ_ERR;
    queue_detach(q, m);
    m->retry = retry;
    queue_to_ready(q, m, head);
    return GMQ_OK;
}

int
gmq_queue_delay(gmq_queue_t *q, gmq_qmsg_t *m, uint32_t retry, uint64_t due, gmq_error_t *err)
{
    if (queue_state_rec(q, m, GMQ_REC_REQUEUE, 0, 0, due, retry, err) != GMQ_OK)
        return GMQ_ERR;
    queue_detach(q, m);
    m->retry = retry;
    m->due_at = due;
    queue_to_heap(q, m, GMQ_QMSG_DELAYED, due);
    return GMQ_OK;
}

void
gmq_queue_touch(gmq_queue_t *q, gmq_qmsg_t *m, uint64_t deadline)
{
    gmq_heap_remove(q->ttr, &m->hnode);
    m->hnode.key = deadline;
    gmq_heap_push(q->ttr, &m->hnode);
}

long
gmq_queue_purge(gmq_queue_t *q, gmq_error_t *err)
{
    if (q->count == 0)
        return 0;
    gmq_qmsg_t none = { .id = 0 };
    if (queue_state_rec(q, &none, GMQ_REC_PURGE, 0, 0, 0, 0, err) != GMQ_OK)
        return -1;
    long n = (long) q->count;
    queue_drop_all(q);
    q->gc_pending = 1;
    return n;
}

gmq_qmsg_t *
gmq_queue_next_delayed(const gmq_queue_t *q)
{
    gmq_qmsg_t *best = NULL;
    if (q->n_delayed == 0)
        return NULL;
    for (size_t i = 0; i < q->nbuckets; i++)
        for (gmq_qmsg_t *m = q->buckets[i]; m != NULL; m = m->hnext)
            if (m->state == GMQ_QMSG_DELAYED && (best == NULL || m->due_at < best->due_at ||
                                                 (m->due_at == best->due_at && m->id < best->id)))
                best = m;
    return best;
}

int
gmq_queue_due(gmq_queue_t *q, gmq_qmsg_t *m, gmq_error_t *err)
{
    if (queue_state_rec(q, m, GMQ_REC_DUE, 0, m->due_at, 0, m->retry, err) != GMQ_OK)
        return GMQ_ERR;
    queue_detach(q, m);
    queue_to_ready(q, m, 0);
    return GMQ_OK;
}

int
gmq_queue_sync(gmq_queue_t *q, gmq_error_t *err)
{
    for (gmq_list_t *l = q->segs.next; l != &q->segs; l = l->next) {
        gmq_segment_t *s = container_of(l, gmq_segment_t, link);
        if (gmq_segment_sync(s, err) != GMQ_OK)
            return GMQ_ERR;
    }
    return GMQ_OK;
}

int
gmq_queue_sync_async(gmq_queue_t *q, gmq_bgsync_t *bg, gmq_error_t *err)
{
    for (gmq_list_t *l = q->segs.next; l != &q->segs; l = l->next)
        if (gmq_segment_sync_async(container_of(l, gmq_segment_t, link), bg, err) != GMQ_OK)
            return GMQ_ERR;
    return GMQ_OK;
}

void
gmq_queue_gc(gmq_queue_t *q)
{
    q->gc_pending = 0;
    while (q->nsegs > 1) {
        gmq_segment_t *first = container_of(q->segs.next, gmq_segment_t, link);
        if (first->live == 0) {
            gmq_list_remove(&first->link);
            q->nsegs--;
            gmq_segment_close(first, 1);
            continue;
        }
        if (q->nsegs < 3)
            break;
        /* the oldest segment pins the ones after it, which are mostly free
         * (the two hold less than a quarter of their size in live data):
         * copy its few live messages to the tail so all of them can go */
        gmq_segment_t *second = container_of(first->link.next, gmq_segment_t, link);
        if (first->live_bytes + second->live_bytes >= (first->size + second->size) / 4)
            break;
        if (queue_relocate(q, first) != GMQ_OK || first->live != 0)
            break;
        /* the copies must be on disk before the originals go */
        gmq_error_t err;
        if (q->sync_create && gmq_queue_sync(q, &err) != GMQ_OK) {
            gmq_log_warn("queue %s: %s", q->bind_key, err.msg);
            break;
        }
    }
}

size_t
gmq_queue_bytes(const gmq_queue_t *q)
{
    size_t n = 0;
    for (gmq_list_t *l = q->segs.next; l != &q->segs; l = l->next)
        n += container_of(l, gmq_segment_t, link)->size;
    return n;
}

/* ---- static helpers ---- */

static int
queue_load(gmq_queue_t *q, gmq_error_t *err)
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

    queue_recover_t rc = { .q = q };
    gmq_list_init(&rc.inflight);
    int ret = GMQ_OK;
    for (size_t i = 0; i < n; i++) {
        gmq_segment_t *s = gmq_segment_open(q->dir, nos[i], err);
        if (s == NULL) {
            ret = GMQ_ERR;
            break;
        }
        gmq_list_push_tail(&q->segs, &s->link);
        q->nsegs++;
        gmq_segment_scan(s, queue_recover_rec, &rc, &q->corrupt);
    }
    free(nos);
    /* delivered but never finished: ready again, first in line, in delivery order */
    while (!gmq_list_empty(&rc.inflight)) {
        gmq_qmsg_t *m = container_of(rc.inflight.prev, gmq_qmsg_t, link);
        gmq_list_remove(&m->link);
        q->n_inflight--;
        m->state = GMQ_QMSG_READY;
        queue_to_ready(q, m, 1);
    }
    return ret;
}

static int
queue_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static void
queue_recover_rec(void *arg, gmq_segment_t *s, const gmq_record_t *r, size_t off)
{
    queue_recover_t *rc = arg;
    gmq_queue_t *q = rc->q;
    if (r->type == GMQ_REC_PURGE) {
        queue_drop_all(q);     /* the in-flight ones on rc->inflight too */
        return;
    }
    gmq_qmsg_t *m = gmq_queue_find(q, r->id);

    if (r->type == GMQ_REC_MSG) {
        if (m != NULL) {             /* a relocated copy (or a re-push after dead/moved) */
            queue_detach(q, m);
            queue_detach_body(q, m);
        } else {
            m = queue_new_msg(q, r->id);
        }
        m->pushed_at = r->ts;
        m->due_at = r->due;
        m->retry = r->retry;
        m->len = r->len;
        queue_attach_body(q, m, s, off);
        if (r->due > 0 && !q->dead)
            queue_to_heap(q, m, GMQ_QMSG_DELAYED, r->due);
        else
            queue_to_ready(q, m, 0);
        return;
    }
    if (m == NULL)   /* its message is gone (segment freed): nothing to do */
        return;
    switch (r->type) {
    case GMQ_REC_DELIVER:
        queue_detach(q, m);
        m->retry = r->retry;
        m->delivered_at = r->ts;
        m->state = GMQ_QMSG_INFLIGHT;
        gmq_list_push_tail(&rc->inflight, &m->link);
        q->n_inflight++;
        break;
    case GMQ_REC_REQUEUE:
        queue_detach(q, m);
        m->retry = r->retry;
        if (r->due > 0 && !q->dead) {
            m->due_at = r->due;
            queue_to_heap(q, m, GMQ_QMSG_DELAYED, r->due);
        } else {
            queue_to_ready(q, m, (r->flags & GMQ_REC_F_HEAD) != 0);
        }
        break;
    case GMQ_REC_DUE:
        if (m->state == GMQ_QMSG_DELAYED) {
            queue_detach(q, m);
            queue_to_ready(q, m, 0);
        }
        break;
    case GMQ_REC_ACK:
    case GMQ_REC_DEAD:
    case GMQ_REC_MOVED:
        queue_detach(q, m);
        queue_free_msg(q, m);
        break;
    default:
        break;
    }
}

/* bytes of a segment kept for state records when messages no longer fit */
static size_t
queue_headroom(size_t seg_size)
{
    size_t h = seg_size / 16;
    return h < QUEUE_HEADROOM_MAX ? h : QUEUE_HEADROOM_MAX;
}

static gmq_segment_t *
queue_active(const gmq_queue_t *q)
{
    return gmq_list_empty(&q->segs) ? NULL : container_of(q->segs.prev, gmq_segment_t, link);
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
    if (size > q->seg_size)
        size = q->seg_size;
    if (size < need + queue_headroom(size))
        size = need + QUEUE_HEADROOM_MAX;
    gmq_segment_t *s = gmq_segment_create(q->dir, a ? a->no + 1 : 1, size, q->sync_create, err);
    if (s == NULL)
        return GMQ_ERR;
    gmq_list_push_tail(&q->segs, &s->link);
    q->nsegs++;
    q->gc_pending = 1;   /* a good moment to look at the oldest segments */
    return GMQ_OK;
}

static int
queue_state_rec(gmq_queue_t *q, gmq_qmsg_t *m, int type, uint16_t flags, uint64_t ts,
                uint64_t due, uint32_t retry, gmq_error_t *err)
{
    if (queue_room(q, GMQ_RECORD_HDR, 0, err) != GMQ_OK)
        return GMQ_ERR;
    gmq_record_t r = { .type = (uint8_t) type, .flags = flags, .id = m->id, .ts = ts,
                       .due = due, .retry = retry };
    gmq_segment_append(queue_active(q), &r);
    return GMQ_OK;
}

static void
queue_attach_body(gmq_queue_t *q, gmq_qmsg_t *m, gmq_segment_t *s, size_t off)
{
    (void) q;
    m->seg = s;
    m->off = (uint32_t) off;
    s->live++;
    s->live_bytes += gmq_record_size(m->len);
}

static void
queue_detach_body(gmq_queue_t *q, gmq_qmsg_t *m)
{
    gmq_segment_t *s = m->seg;
    s->live--;
    s->live_bytes -= gmq_record_size(m->len);
    if (s->live == 0)
        q->gc_pending = 1;
    m->seg = NULL;
}

/* take m out of whatever holds it (ready list or a heap) */
static void
queue_detach(gmq_queue_t *q, gmq_qmsg_t *m)
{
    switch (m->state) {
    case GMQ_QMSG_READY:
        gmq_list_remove(&m->link);
        q->n_ready--;
        break;
    case GMQ_QMSG_DELAYED:
        gmq_heap_remove(q->delay, &m->hnode);
        q->n_delayed--;
        break;
    case GMQ_QMSG_INFLIGHT:
        if (gmq_heap_contains(&m->hnode))
            gmq_heap_remove(q->ttr, &m->hnode);
        else
            gmq_list_remove(&m->link);   /* recovery's in-flight list */
        q->n_inflight--;
        break;
    }
    m->state = GMQ_QMSG_READY;   /* detached; the caller attaches it somewhere */
}

static void
queue_to_ready(gmq_queue_t *q, gmq_qmsg_t *m, int head)
{
    m->state = GMQ_QMSG_READY;
    if (head)
        gmq_list_push_head(&q->ready, &m->link);
    else
        gmq_list_push_tail(&q->ready, &m->link);
    q->n_ready++;
}

static void
queue_to_heap(gmq_queue_t *q, gmq_qmsg_t *m, int state, uint64_t key)
{
    m->state = (uint8_t) state;
    m->hnode.key = key;
    if (state == GMQ_QMSG_DELAYED) {
        gmq_heap_push(q->delay, &m->hnode);
        q->n_delayed++;
    } else {
        gmq_heap_push(q->ttr, &m->hnode);
        q->n_inflight++;
    }
}

static gmq_qmsg_t *
queue_new_msg(gmq_queue_t *q, uint64_t id)
{
    if (q->count >= q->nbuckets)
        queue_hash_grow(q);
    gmq_qmsg_t *m = gmq_xcalloc(1, sizeof(*m));
    gmq_heap_node_init(&m->hnode);
    gmq_list_init(&m->link);
    m->q = q;
    m->id = id;
    m->state = GMQ_QMSG_READY;
    size_t i = queue_hash_slot(q, id);
    m->hnext = q->buckets[i];
    q->buckets[i] = m;
    q->count++;
    return m;   /* detached: the caller puts it in the ready list or a heap */
}

/* every message, whatever its state, out of the lists and heaps and freed */
static void
queue_drop_all(gmq_queue_t *q)
{
    for (size_t i = 0; i < q->nbuckets; i++) {
        while (q->buckets[i] != NULL) {
            gmq_qmsg_t *m = q->buckets[i];
            queue_detach(q, m);
            queue_free_msg(q, m);
        }
    }
}

/* m is detached (state READY, not linked) */
static void
queue_free_msg(gmq_queue_t *q, gmq_qmsg_t *m)
{
    gmq_qmsg_t **pp = &q->buckets[queue_hash_slot(q, m->id)];
    while (*pp != m)
        pp = &(*pp)->hnext;
    *pp = m->hnext;
    q->count--;
    queue_detach_body(q, m);
    free(m);
}

static void
queue_hash_grow(gmq_queue_t *q)
{
    size_t old_n = q->nbuckets;
    gmq_qmsg_t **old = q->buckets;
    q->nbuckets *= 2;
    q->buckets = gmq_xcalloc(q->nbuckets, sizeof(*q->buckets));
    for (size_t i = 0; i < old_n; i++) {
        gmq_qmsg_t *m = old[i];
        while (m != NULL) {
            gmq_qmsg_t *next = m->hnext;
            size_t j = queue_hash_slot(q, m->id);
            m->hnext = q->buckets[j];
            q->buckets[j] = m;
            m = next;
        }
    }
    free(old);
}

static size_t
queue_hash_slot(const gmq_queue_t *q, uint64_t id)
{
    uint64_t h = id * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (size_t) (h & (q->nbuckets - 1));
}

/* copy every live message whose body is in s to the active segment */
static int
queue_relocate(gmq_queue_t *q, gmq_segment_t *s)
{
    size_t p = 0;
    while (p + GMQ_RECORD_HDR <= s->wpos && s->live > 0) {
        gmq_record_t r;
        size_t sz;
        if (gmq_record_decode(s->map + p, s->wpos - p, &r, &sz) != GMQ_OK) {
            p += GMQ_RECORD_ALIGN;
            continue;
        }
        gmq_qmsg_t *m = r.type == GMQ_REC_MSG ? gmq_queue_find(q, r.id) : NULL;
        if (m != NULL && m->seg == s && m->off == p) {
            gmq_error_t err;
            if (queue_room(q, sz + GMQ_RECORD_HDR, 1, &err) != GMQ_OK) {
                gmq_log_warn("queue %s: relocation stopped: %s", q->bind_key, err.msg);
                return GMQ_ERR;
            }
            gmq_record_t c = r;
            c.flags = GMQ_REC_F_RELOC;
            c.retry = m->retry;
            c.due = m->state == GMQ_QMSG_DELAYED ? m->due_at : 0;
            gmq_segment_t *a = queue_active(q);
            size_t off = gmq_segment_append(a, &c);
            queue_detach_body(q, m);
            queue_attach_body(q, m, a, off);
            if (m->state == GMQ_QMSG_INFLIGHT) {
                /* keep it in flight for recovery (first in line again) */
                gmq_record_t d = { .type = GMQ_REC_DELIVER, .id = m->id, .ts = m->delivered_at,
                                   .due = m->hnode.key, .retry = m->retry };
                gmq_segment_append(a, &d);
            }
        }
        p += sz;
    }
    return GMQ_OK;
}

/*
 * queue_replay.c - recovery of a queue (a checkpoint and the log after it, or
 * the whole log) and queue_apply, which both recovery and every write use
 * to change memory by a record.
 */
#include "queue_impl.h"
#include "common/log.h"
#include "worker/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int queue_list(gmq_queue_t *q, uint64_t **nos, size_t *n, gmq_error_t *err);
static int queue_load_checkpoint(gmq_queue_t *q, const uint64_t *nos, size_t n, gmq_error_t *err);
static int queue_scan_all(gmq_queue_t *q, const uint64_t *nos, size_t n, size_t i, size_t from,
                          gmq_error_t *err);
static void queue_recover_finish(gmq_queue_t *q);
static int queue_consistent(const gmq_queue_t *q);
static void queue_replay_rec(void *arg, gmq_segment_t *s, const gmq_record_t *r, size_t off);
static int queue_replay_supersede(gmq_queue_t *q, const gmq_record_t *r);
static void queue_apply_reloc(gmq_queue_t *q, const gmq_record_t *r, uint64_t pos);
static void queue_apply_take(gmq_queue_t *q, const gmq_record_t *r);
static void queue_apply_drop(gmq_queue_t *q, uint64_t id, uint64_t pos);
static void queue_apply_purge(gmq_queue_t *q, uint64_t pos, size_t sz);

/* ---- recovery ---- */

int
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
void
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

void
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

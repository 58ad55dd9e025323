/*
 * topic.c - owns one topic: its directory and lock, its settings, its
 * queues and their dead-letter queues, the delay and TTR heaps shared by
 * them, routing of pushes, the durability policy and the stats. Layout:
 * <data_dir>/<topic>/{topic.conf,counters,q/<bindkey>/,dlq/<bindkey>/};
 * the files topic.conf and counters are topicconf.c's and counters.c's,
 * the directory's lock, paths and incarnation id topicdir.c's.
 */
#include "topic.h"
#include "common/config.h"
#include "common/log.h"
#include "worker/counters.h"
#include "worker/queue.h"
#include "worker/route.h"
#include "worker/topicconf.h"
#include "worker/topic_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void          topic_follow_defaults(gmq_topic_t *t);
static void          topic_set_fsync(gmq_topic_t *t, int fsync);
static size_t        topic_hash(const char *s);
static int           topic_route(gmq_topic_t *t, const char *rk, size_t *n, gmq_error_t *err);
static int           topic_deliver(gmq_topic_t *t, gmq_queue_t *q, uint64_t now, gmq_msg_t *out,
                                   gmq_error_t *err);
static int           topic_expire(gmq_topic_t *t, gmq_qent_t *e, gmq_error_t *err);
static int           topic_sync_data(gmq_topic_t *t, uint64_t now_ms);

gmq_topic_t *
gmq_topic_open(const char *name, const gmq_store_opts_t *opts, gmq_error_t *err)
{
    if (name == NULL || !gmq_name_valid(name, strlen(name))) {
        gmq_error_set(err, GMQ_E_INVALID_TOPIC, "invalid topic name");
        return NULL;
    }
    int e;
    errno = 0;      /* what is left in it on failure is the cause */
    gmq_topic_t *t = gmq_xcalloc(1, sizeof(*t));
    t->lock_fd = -1;
    t->name = gmq_xstrdup(name);
    t->data_dir = gmq_xstrdup(opts->data_dir);
    t->opts = *opts;
    t->opts.data_dir = t->data_dir;
    if (t->opts.segment_size < GMQ_TOPIC_SEGMENT_MIN)
        t->opts.segment_size = GMQ_TOPIC_SEGMENT_MIN;
    size_t n = strlen(t->data_dir) + strlen(name) + 2;
    t->dir = gmq_xmalloc(n);
    snprintf(t->dir, n, "%s/%s", t->data_dir, name);
    t->conf = (gmq_topic_conf_t) { .auto_ack = 0, .mode = GMQ_MODE_EXACT };
    topic_follow_defaults(t);
    gmq_heap_init(&t->delay);
    gmq_heap_init(&t->ttr);
    t->routes = gmq_route_cache_new(0);
    t->start_time = gmq_now_ms();
    t->last_sync = 0;
    t->shared = (gmq_qshared_t) { .delay = &t->delay, .ttr = &t->ttr, .epoch = 1,
                                  .seg_size = t->opts.segment_size, .fsync = t->opts.fsync };

    if (gmq_mkdir_p(t->data_dir, 0700) != 0 || gmq_mkdir_p(t->dir, 0700) != 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot create %s: %s", t->dir,
                      strerror(errno));
        goto fail;
    }
    /* the directory itself is the lock: one worker per data/<topic>/ */
    t->lock_fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->lock_fd < 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot open %s: %s", t->dir,
                      strerror(errno));
        goto fail;
    }
    if (topic_lock(t) != GMQ_OK) {
        gmq_error_set(err, GMQ_E_STORAGE, "topic %s is locked by another process (%s)", name,
                      strerror(errno));
        goto fail;
    }
    if (topic_incarnation(t->data_dir, &t->shared.incarnation) != GMQ_OK) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot read or create %s/%s: %s",
                      t->data_dir, GMQ_TOPIC_INCARNATION, strerror(errno));
        goto fail;
    }
    if (t->opts.fsync == GMQ_FSYNC_EVERYSEC && (t->bg = gmq_bgsync_new()) == NULL)
        gmq_log_warn("topic %s: no background sync thread; everysec syncs on the loop", name);
    t->shared.bg = t->bg;
    t->ctrs = gmq_counters_open(name, t->dir);   /* never fails: counters are not data */
    t->ctr = gmq_counters_topic(t->ctrs);
    if (topic_conf_load(t, err) != GMQ_OK)
        goto fail;
    topic_ctr_bind_all(t);
    topic_drop_orphans(t, "q");
    topic_drop_orphans(t, "dlq");
    return t;

fail:
    e = errno;
    gmq_topic_close(t);
    errno = e;
    return NULL;
}

void
gmq_topic_set_opts(gmq_topic_t *t, const gmq_store_opts_t *opts)
{
    t->opts.segment_size = opts->segment_size < GMQ_TOPIC_SEGMENT_MIN ? GMQ_TOPIC_SEGMENT_MIN
                                                                     : opts->segment_size;
    t->opts.max_delay_ms = opts->max_delay_ms;
    t->opts.default_ttr = opts->default_ttr;
    t->opts.default_retry = opts->default_retry;
    t->opts.max_queues = opts->max_queues;
    t->opts.confirm_delivery = opts->confirm_delivery;
    topic_follow_defaults(t);
    topic_set_fsync(t, opts->fsync);
    t->shared.seg_size = t->opts.segment_size;     /* for the segments created from now */
    t->shared.fsync = t->opts.fsync;
    t->shared.bg = t->bg;
}

void
gmq_topic_close(gmq_topic_t *t)
{
    if (t == NULL)
        return;
    gmq_bgsync_free(t->bg);                  /* waits for syncs in progress */
    t->bg = t->shared.bg = NULL;
    for (size_t i = 0; i < t->nslots; i++) {
        /* each close syncs its segments and writes its checkpoint (not
         * for a deleted topic: its files are about to go) */
        if (t->deleted) {
            gmq_queue_discard(t->slots[i]->q);
            gmq_queue_discard(t->slots[i]->dlq);
        } else {
            gmq_queue_close(t->slots[i]->q);
            gmq_queue_close(t->slots[i]->dlq);
        }
        free(t->slots[i]);
    }
    free(t->slots);
    free(t->index);
    free(t->targets);
    gmq_heap_free(&t->delay);
    gmq_heap_free(&t->ttr);
    gmq_route_cache_free(t->routes);
    gmq_counters_close(t->ctrs);
    if (t->deleted && topic_rmtree(t->dir) != GMQ_OK)
        gmq_log_warn("topic %s: deleted, but %s is not removed: %s (removed at the next start)",
                     t->name, t->dir, strerror(errno));
    if (t->lock_fd >= 0)
        close(t->lock_fd);   /* releases the flock */
    free(t->name);
    free(t->dir);
    free(t->data_dir);
    free(t);
}

int
gmq_topic_set_config(gmq_topic_t *t, const gmq_topic_conf_t *patch, gmq_error_t *err)
{
    gmq_topic_conf_t c = t->conf;
    unsigned set = t->conf_set;
    if (patch->auto_ack != -1) {
        if (patch->auto_ack != 0 && patch->auto_ack != 1)
            return gmq_error_set(err, GMQ_E_INVALID_SET, "isAutoAck must be 0 or 1");
        c.auto_ack = patch->auto_ack;
    }
    if (patch->mode != -1) {
        if (patch->mode < GMQ_MODE_EXACT || patch->mode > GMQ_MODE_TOPIC)
            return gmq_error_set(err, GMQ_E_INVALID_SET, "mode must be 1, 2 or 3");
        c.mode = patch->mode;
    }
    if (patch->ttr != -1) {
        if (patch->ttr <= 0)
            return gmq_error_set(err, GMQ_E_INVALID_SET, "msgTTR must be > 0");
        c.ttr = patch->ttr;
        set |= GMQ_TOPICCONF_SET_TTR;
    }
    if (patch->retry != -1) {
        if (patch->retry < 0)
            return gmq_error_set(err, GMQ_E_INVALID_SET, "msgRetry must be >= 0");
        c.retry = patch->retry;
        set |= GMQ_TOPICCONF_SET_RETRY;
    }
    if (topic_conf_save(t, &c, set, NULL, err) != GMQ_OK)
        return GMQ_ERR;
    t->conf = c;
    t->conf_set = set;
    return GMQ_OK;
}

void
gmq_topic_get_config(const gmq_topic_t *t, gmq_topic_conf_t *out)
{
    *out = t->conf;
}

int
gmq_topic_declare(gmq_topic_t *t, const char *bind_key, gmq_error_t *err)
{
    if (bind_key == NULL || !gmq_name_valid(bind_key, strlen(bind_key)))
        return gmq_error_set(err, GMQ_E_INVALID_BINDKEY, "invalid bindKey");
    if (topic_slot(t, bind_key) != NULL)
        return gmq_error_set(err, GMQ_E_INVALID_DECLARE, "bindKey %s has exist.", bind_key);
    /* the on-demand default queue too (topic_route) */
    if (t->opts.max_queues > 0 && t->nslots >= (size_t) t->opts.max_queues)
        return gmq_error_set(err, GMQ_E_LIMIT, "too many queues: topic %s has %zu, max_queues_per_topic "
                             "is %d", t->name, t->nslots, t->opts.max_queues);
    /* the binding is durable before the queue exists */
    if (topic_conf_save(t, &t->conf, t->conf_set, bind_key, err) != GMQ_OK)
        return GMQ_ERR;
    if (topic_slot_open(t, bind_key, err) == NULL) {
        gmq_error_t e2;
        topic_conf_save(t, &t->conf, t->conf_set, NULL, &e2);
        return GMQ_ERR;
    }
    return GMQ_OK;
}

int
gmq_topic_push(gmq_topic_t *t, uint64_t id, const char *route_key, const char *body, size_t len,
               uint64_t delay_ms, uint64_t now_ms, gmq_error_t *err)
{
    if (route_key == NULL)
        route_key = "";
    if (delay_ms > t->opts.max_delay_ms)
        return gmq_error_set(err, GMQ_E_INVALID_DELAY, "delay %" PRIu64 " ms is over the limit of %"
                             PRIu64 " ms", delay_ms, t->opts.max_delay_ms);
    if (len > GMQ_RECORD_MAX_BODY)
        return gmq_error_set(err, GMQ_E_TOO_LARGE, "message body of %zu bytes is too large", len);
    size_t n = 0;
    gmq_qmsg_t dup;
    if (topic_route(t, route_key, &n, err) != GMQ_OK)
        return GMQ_ERR;
    for (size_t i = 0; i < n; i++)
        if (gmq_queue_find(t->targets[i], id, &dup) == GMQ_OK)
            return gmq_error_set(err, GMQ_E_INVALID_PUSH, "msgId:%" PRIu64 " already exists in "
                                 "queue %s", id, t->targets[i]->bind_key);
    /* all or nothing: room for the record in every target first */
    for (size_t i = 0; i < n; i++)
        if (gmq_queue_reserve(t->targets[i], len, err) != GMQ_OK)
            return GMQ_ERR;
    uint64_t due = delay_ms > 0 ? now_ms + delay_ms : 0;
    for (size_t i = 0; i < n; i++) {
        if (gmq_queue_put(t->targets[i], id, body, len, 0, now_ms, due, err) != GMQ_OK)
            return GMQ_ERR;
        ((topic_slot_t *) t->targets[i]->owner)->ctr->pushed++;
        t->ctr->push_num++;
        topic_gc(t->targets[i]);
    }
    t->dirty = 1;
    return GMQ_OK;
}

int
gmq_topic_pop(gmq_topic_t *t, const char *bind_key, uint64_t now_ms, gmq_msg_t *out,
              gmq_error_t *err)
{
    const char *bk = topic_bk(bind_key);
    topic_slot_t *sl = topic_slot(t, bk);
    if (sl == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_POP, "bindKey:%s can't match queue", bk);
    return topic_deliver(t, sl->q, now_ms, out, err);
}

int
gmq_topic_ack(gmq_topic_t *t, const char *bind_key, uint64_t id, gmq_error_t *err)
{
    const char *bk = topic_bk(bind_key);
    topic_slot_t *sl = topic_slot(t, bk);
    if (sl == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_ACK, TOPIC_NO_QUEUE, bk);
    gmq_qent_t *e = topic_inflight(sl, id);
    gmq_qmsg_t m;
    if (e == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_ACK, "msgId:%" PRIu64 " is not exist.", id);
    gmq_queue_t *q = e->q;
    m = (gmq_qmsg_t) { .q = q, .e = e, .id = e->id, .pos = e->pos, .retry = e->retry };
    if (gmq_queue_finish(q, &m, GMQ_REC_ACK, err) != GMQ_OK)
        return GMQ_ERR;
    if (!q->dead)
        sl->ctr->acked++;
    t->ctr->acked_num++;
    t->dirty = 1;
    topic_gc(q);
    return GMQ_OK;
}

int
gmq_topic_release(gmq_topic_t *t, const char *bind_key, uint64_t id, gmq_error_t *err)
{
    const char *bk = topic_bk(bind_key);
    topic_slot_t *sl = topic_slot(t, bk);
    if (sl == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_DEAD, TOPIC_NO_QUEUE, bk);
    gmq_qent_t *e = topic_inflight(sl, id);
    if (e == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_ACK, "msgId:%" PRIu64 " is not exist.", id);
    if (gmq_queue_requeue(e->q, e, e->retry, 1, err) != GMQ_OK)
        return GMQ_ERR;
    t->dirty = 1;
    return GMQ_OK;
}

int
gmq_topic_dead(gmq_topic_t *t, const char *bind_key, uint64_t now_ms, gmq_msg_t *out,
               gmq_error_t *err)
{
    const char *bk = topic_bk(bind_key);
    topic_slot_t *sl = topic_slot(t, bk);
    if (sl == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_DEAD, TOPIC_NO_QUEUE, bk);
    if (sl->dlq == NULL)
        return GMQ_AGAIN;
    return topic_deliver(t, sl->dlq, now_ms, out, err);
}

int
gmq_topic_requeue(gmq_topic_t *t, const char *bind_key, uint64_t id, uint64_t now_ms, int *moved,
                  gmq_error_t *err)
{
    (void) now_ms;
    const char *bk = topic_bk(bind_key);
    topic_slot_t *sl = topic_slot(t, bk);
    *moved = 0;
    if (sl == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_DEAD, TOPIC_NO_QUEUE, bk);
    gmq_queue_t *d = sl->dlq;
    gmq_qmsg_t m;
    if (id != 0) {
        if (d == NULL || gmq_queue_find(d, id, &m) != GMQ_OK)
            return gmq_error_set(err, GMQ_E_NOT_FOUND, "msgId:%" PRIu64 " is not a dead letter of "
                                 "bindKey %s", id, bk);
        if (topic_move_back(t, sl, &m, err) != GMQ_OK)
            return GMQ_ERR;
        *moved = 1;
        return GMQ_OK;
    }
    if (d == NULL)
        return GMQ_OK;
    /* all of them: the ready ones in order, then those in flight */
    uint64_t kicked = 0;
    int rc = gmq_topic_kick(t, bk, UINT64_MAX, &kicked, err);
    *moved = (int) kicked;
    size_t n = 0;
    gmq_qent_t **fl = rc == GMQ_OK ? gmq_queue_entries(d, GMQ_QENT_INFLIGHT, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (gmq_queue_view(d, fl[i], &m) != GMQ_OK || topic_move_back(t, sl, &m, err) != GMQ_OK) {
            rc = GMQ_ERR;
            break;
        }
        (*moved)++;
    }
    free(fl);
    return rc;
}

int
gmq_topic_tick(gmq_topic_t *t, uint64_t now_ms)
{
    int moved = 0;
    gmq_heap_node_t *h;
    gmq_error_t err;

    while ((h = gmq_heap_top(&t->delay)) != NULL && h->key <= now_ms) {
        gmq_qent_t *e = container_of(h, gmq_qent_t, hnode);
        gmq_queue_t *q = e->q;
        if (gmq_queue_due(q, e, &err) != GMQ_OK) {
            gmq_log_error("topic %s: delayed message %" PRIu64 ": %s; retry in 1 s", t->name,
                          e->id, err.msg);
            gmq_heap_remove(&t->delay, h);
            h->key = now_ms + 1000;
            gmq_heap_push(&t->delay, h);
            break;
        }
        topic_gc(q);
        moved++;
    }
    while ((h = gmq_heap_top(&t->ttr)) != NULL && h->key <= now_ms) {
        gmq_qent_t *e = container_of(h, gmq_qent_t, hnode);
        gmq_queue_t *q = e->q;
        uint64_t id = e->id;
        if (topic_expire(t, e, &err) != GMQ_OK) {
            gmq_log_error("topic %s: TTR of message %" PRIu64 ": %s; retry in 1 s", t->name,
                          id, err.msg);
            if (gmq_heap_contains(h)) {
                gmq_heap_remove(&t->ttr, h);
                h->key = now_ms + 1000;
                gmq_heap_push(&t->ttr, h);
            }
            break;
        }
        topic_gc(q);
        moved++;
    }
    if (moved)
        t->dirty = 1;
    return moved;
}

uint64_t
gmq_topic_next_deadline(const gmq_topic_t *t)
{
    gmq_heap_node_t *d = gmq_heap_top(&t->delay), *r = gmq_heap_top(&t->ttr);
    if (d == NULL)
        return r ? r->key : 0;
    if (r == NULL)
        return d->key;
    return d->key < r->key ? d->key : r->key;
}

uint64_t
gmq_topic_next_sync(const gmq_topic_t *t)
{
    if (!t->dirty || t->opts.fsync != GMQ_FSYNC_EVERYSEC)
        return 0;
    return t->last_sync + 1000;
}

void
gmq_topic_release_pages(gmq_topic_t *t)
{
    for (size_t i = 0; i < t->nslots; i++) {
        if (t->slots[i]->q)
            gmq_queue_release_pages(t->slots[i]->q);
        if (t->slots[i]->dlq)
            gmq_queue_release_pages(t->slots[i]->dlq);
    }
}

uint64_t
gmq_topic_next_checkpoint(const gmq_topic_t *t)
{
    uint64_t next = 0;
    for (size_t i = 0; i < t->nslots; i++) {
        const gmq_queue_t *qs[2] = { t->slots[i]->q, t->slots[i]->dlq };
        for (int k = 0; k < 2; k++) {
            uint64_t c = qs[k] ? gmq_queue_next_checkpoint(qs[k]) : 0;
            if (c != 0 && (next == 0 || c < next))
                next = c;
        }
    }
    return next;
}

int
gmq_topic_sync(gmq_topic_t *t, uint64_t now_ms)
{
    int rc = topic_sync_data(t, now_ms);
    if (rc == GMQ_OK)
        gmq_topic_checkpoints(t, now_ms);
    return rc;
}

int
gmq_topic_sync_data(gmq_topic_t *t, uint64_t now_ms)
{
    return topic_sync_data(t, now_ms);
}

void
gmq_topic_checkpoints(gmq_topic_t *t, uint64_t now_ms)
{
    /* each syncs what it covers first */
    for (size_t i = 0; i < t->nslots; i++) {
        gmq_queue_checkpoint(t->slots[i]->q, now_ms, 0);
        if (t->slots[i]->dlq != NULL)
            gmq_queue_checkpoint(t->slots[i]->dlq, now_ms, 0);
    }
}

static int
topic_sync_data(gmq_topic_t *t, uint64_t now_ms)
{
    if (t->opts.fsync == GMQ_FSYNC_NO || !t->dirty)
        return GMQ_OK;
    if (t->opts.fsync == GMQ_FSYNC_EVERYSEC && now_ms < t->last_sync + 1000)
        return GMQ_OK;
    gmq_error_t err;
    int e = t->bg != NULL ? gmq_bgsync_error(t->bg) : 0;
    if (e != 0) {
        errno = e;
        gmq_log_error("topic %s: a background sync failed: %s", t->name, strerror(e));
        return GMQ_ERR;
    }
    if (t->opts.fsync == GMQ_FSYNC_EVERYSEC && t->bg != NULL) {
        for (size_t i = 0; i < t->nslots; i++) {
            if (gmq_queue_sync_async(t->slots[i]->q, t->bg, &err) != GMQ_OK ||
                (t->slots[i]->dlq && gmq_queue_sync_async(t->slots[i]->dlq, t->bg, &err) != GMQ_OK)) {
                gmq_log_error("topic %s: %s", t->name, err.msg);
                return GMQ_ERR;
            }
        }
        t->dirty = 0;
        t->last_sync = now_ms;
        return GMQ_OK;
    }
    for (size_t i = 0; i < t->nslots; i++) {
        if (gmq_queue_sync(t->slots[i]->q, &err) != GMQ_OK ||
            (t->slots[i]->dlq && gmq_queue_sync(t->slots[i]->dlq, &err) != GMQ_OK)) {
            gmq_log_error("topic %s: %s", t->name, err.msg);
            return GMQ_ERR;
        }
    }
    t->dirty = 0;
    t->last_sync = now_ms;
    return GMQ_OK;
}

/* ---- static helpers ---- */

/* ttr and retry not set by /config follow the node default */
static void
topic_follow_defaults(gmq_topic_t *t)
{
    if (!(t->conf_set & GMQ_TOPICCONF_SET_TTR))
        t->conf.ttr = t->opts.default_ttr > 0 ? t->opts.default_ttr : GMQ_TOPIC_DEFAULT_TTR;
    if (!(t->conf_set & GMQ_TOPICCONF_SET_RETRY))
        t->conf.retry = t->opts.default_retry >= 0 ? t->opts.default_retry
                                                   : GMQ_TOPIC_DEFAULT_RETRY;
}

/* a new fsync policy: leaving everysec keeps the background thread (idle)
 * so a failure of a sync it still runs is reported by the next sync */
static void
topic_set_fsync(gmq_topic_t *t, int fsync)
{
    if (fsync == t->opts.fsync)
        return;
    t->opts.fsync = fsync;
    if (fsync == GMQ_FSYNC_EVERYSEC && t->bg == NULL && (t->bg = gmq_bgsync_new()) == NULL)
        gmq_log_warn("topic %s: no background sync thread; everysec syncs on the loop", t->name);
    t->dirty = 1;   /* the next sync writes out whatever the old policy left */
}

static size_t
topic_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ull;
    return (size_t) h;
}

/* an empty bind key names the default queue */
const char *
topic_bk(const char *bind_key)
{
    return bind_key && *bind_key ? bind_key : TOPIC_DEFAULT;
}

topic_slot_t *
topic_slot(const gmq_topic_t *t, const char *bind_key)
{
    if (t->nindex == 0)
        return NULL;
    for (size_t i = topic_hash(bind_key) & (t->nindex - 1);; i = (i + 1) & (t->nindex - 1)) {
        topic_slot_t *sl = t->index[i];
        if (sl == NULL || strcmp(sl->q->bind_key, bind_key) == 0)
            return sl;
    }
}

/* add sl to the index, growing it to keep the load under one half */
void
topic_index_add(gmq_topic_t *t, topic_slot_t *sl)
{
    if (2 * (t->nslots + 1) > t->nindex) {
        free(t->index);
        t->nindex = t->nindex ? t->nindex * 2 : 16;
        t->index = gmq_xcalloc(t->nindex, sizeof(*t->index));
        for (size_t i = 0; i < t->nslots; i++)
            topic_index_add(t, t->slots[i]);
    }
    size_t i = topic_hash(sl->q->bind_key) & (t->nindex - 1);
    while (t->index[i] != NULL)
        i = (i + 1) & (t->nindex - 1);
    t->index[i] = sl;
}

/* open the queue (and its dead-letter queue if it has a directory) */
topic_slot_t *
topic_slot_open(gmq_topic_t *t, const char *bind_key, gmq_error_t *err)
{
    char *qdir = topic_path(t, "q", bind_key);
    gmq_queue_t *q = gmq_queue_open(qdir, bind_key, 0, &t->shared, 1, err);
    free(qdir);
    if (q == NULL)
        return NULL;
    topic_slot_t *sl = gmq_xcalloc(1, sizeof(*sl));
    sl->q = q;
    sl->ctr = &sl->own;
    q->owner = sl;
    char *ddir = topic_path(t, "dlq", bind_key);
    if (gmq_queue_exists(ddir)) {
        sl->dlq = gmq_queue_open(ddir, bind_key, 1, &t->shared, 1, err);
        if (sl->dlq == NULL) {
            free(ddir);
            gmq_queue_close(q);
            free(sl);
            return NULL;
        }
        sl->dlq->owner = sl;
    }
    free(ddir);
    if (q->corrupt || (sl->dlq && sl->dlq->corrupt))
        gmq_log_warn("topic %s queue %s: %u corrupt records skipped", t->name, bind_key,
                     q->corrupt + (sl->dlq ? sl->dlq->corrupt : 0));
    if (t->nslots == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->slots = gmq_xrealloc(t->slots, t->cap * sizeof(*t->slots));
        t->targets = gmq_xrealloc(t->targets, t->cap * sizeof(*t->targets));
    }
    topic_index_add(t, sl);
    t->slots[t->nslots++] = sl;
    topic_ctr_bind(t, sl);
    return sl;
}

gmq_queue_t *
topic_dlq(gmq_topic_t *t, topic_slot_t *sl, gmq_error_t *err)
{
    if (sl->dlq != NULL)
        return sl->dlq;
    char *ddir = topic_path(t, "dlq", sl->q->bind_key);
    sl->dlq = gmq_queue_open(ddir, sl->q->bind_key, 1, &t->shared, 1, err);
    free(ddir);
    if (sl->dlq != NULL)
        sl->dlq->owner = sl;
    return sl->dlq;
}

/* fill t->targets with the queues route key rk selects */
static int
topic_route(gmq_topic_t *t, const char *rk, size_t *n, gmq_error_t *err)
{
    *n = 0;
    if (*rk == '\0') {
        topic_slot_t *sl = topic_slot(t, TOPIC_DEFAULT);
        if (sl == NULL) {
            if (gmq_topic_declare(t, TOPIC_DEFAULT, err) != GMQ_OK)
                return GMQ_ERR;
            sl = topic_slot(t, TOPIC_DEFAULT);
        }
        t->targets[(*n)++] = sl->q;
        return GMQ_OK;
    }
    gmq_route_regex_t *re = NULL;
    uint64_t budget = GMQ_ROUTE_PUSH_BUDGET;    /* for all bind keys together */
    if (t->conf.mode == GMQ_MODE_REGEX && (re = gmq_route_regex(t->routes, rk, err)) == NULL)
        return GMQ_ERR;
    for (size_t i = 0; i < t->nslots; i++) {
        const char *bk = t->slots[i]->q->bind_key;
        int hit;
        if (t->conf.mode == GMQ_MODE_EXACT)
            hit = gmq_route_exact(rk, bk);
        else if (strcmp(bk, TOPIC_DEFAULT) == 0)
            hit = 0;
        else if (t->conf.mode == GMQ_MODE_REGEX)
            hit = gmq_route_regex_search(t->routes, re, bk, &budget, err);
        else
            hit = gmq_route_topic_match(rk, bk);
        if (hit < 0)
            return GMQ_ERR;
        if (hit)
            t->targets[(*n)++] = t->slots[i]->q;
    }
    /* (a long key is cut so the error text keeps its end) */
    if (*n == 0)
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE, "routeKey:%.*s%s is not match with queue, "
                             "the mode is %d", 128, rk, strlen(rk) > 128 ? "..." : "", t->conf.mode);
    return GMQ_OK;
}

static int
topic_deliver(gmq_topic_t *t, gmq_queue_t *q, uint64_t now, gmq_msg_t *out, gmq_error_t *err)
{
    topic_gc(q);   /* before handing out a body pointer, never after */
    gmq_qmsg_t m;
    if (gmq_queue_head(q, &m) != GMQ_OK)
        return GMQ_AGAIN;
    out->id = m.id;
    out->retry = m.retry;
    out->body = m.body;
    out->len = m.len;
    /* auto-ack: done on delivery, or (confirm_delivery) once the master says
     * the message reached its client; the segment stays mapped until the next call */
    int done = t->conf.auto_ack && !t->opts.confirm_delivery;
    int rc = done
        ? gmq_queue_finish(q, &m, GMQ_REC_ACK, err)
        : gmq_queue_deliver(q, &m, now, now + (uint64_t) t->conf.ttr * 1000, err);
    if (rc != GMQ_OK)
        return GMQ_ERR;
    topic_slot_t *sl = q->owner;
    if (!q->dead) {
        sl->ctr->popped++;
        sl->ctr->acked += (uint64_t) done;
    }
    t->ctr->acked_num += (uint64_t) done;
    t->ctr->pop_num++;
    t->dirty = 1;
    return GMQ_OK;
}

gmq_qent_t *
topic_inflight(topic_slot_t *sl, uint64_t id)
{
    gmq_qent_t *e = gmq_queue_entry_in(sl->q, id, GMQ_QENT_INFLIGHT);
    if (e == NULL && sl->dlq != NULL)
        e = gmq_queue_entry_in(sl->dlq, id, GMQ_QENT_INFLIGHT);
    return e;
}

/* dead letter m back to its queue with retry 0: write there first, then
 * drop it here, so a crash in between duplicates rather than loses */
int
topic_move_back(gmq_topic_t *t, topic_slot_t *sl, const gmq_qmsg_t *m, gmq_error_t *err)
{
    gmq_qmsg_t dup;
    if (gmq_queue_find(sl->q, m->id, &dup) == GMQ_OK)
        return gmq_error_set(err, GMQ_E_INVALID_PUSH, "msgId:%" PRIu64 " already exists in "
                             "queue %s", m->id, sl->q->bind_key);
    if (gmq_queue_put(sl->q, m->id, m->body, m->len, 0, m->pushed_at, 0, err) != GMQ_OK)
        return GMQ_ERR;
    sl->ctr->pushed++;
    if (t->opts.fsync != GMQ_FSYNC_NO && gmq_queue_sync(sl->q, err) != GMQ_OK)
        return GMQ_ERR;   /* the copy is durable before the dead letter goes */
    if (gmq_queue_finish(sl->dlq, m, GMQ_REC_MOVED, err) != GMQ_OK)
        return GMQ_ERR;
    t->dirty = 1;
    topic_gc(sl->dlq);
    return GMQ_OK;
}

/* TTR expired: retry+1 at the tail, or past the limit to the dead-letter
 * queue (written there before it is dropped here). Dead letters whose TTR
 * expires just go back to the dead-letter queue's ready list. */
static int
topic_expire(gmq_topic_t *t, gmq_qent_t *e, gmq_error_t *err)
{
    gmq_queue_t *q = e->q;
    topic_slot_t *sl = q->owner;
    if (q->dead)
        return gmq_queue_requeue(q, e, e->retry, 0, err);
    uint32_t retry = e->retry + 1;
    sl->ctr->timed_out++;
    t->ctr->timeout_num++;
    if (retry <= (uint32_t) t->conf.retry)
        return gmq_queue_requeue(q, e, retry, 0, err);
    gmq_queue_t *d = topic_dlq(t, sl, err);
    gmq_qmsg_t m, dup;
    if (d == NULL)
        return GMQ_ERR;
    if (gmq_queue_view(q, e, &m) != GMQ_OK)
        /* its record is damaged (logged): nothing to copy; back to ready,
         * where the next pop drops it, rather than failing every second */
        return gmq_queue_requeue(q, e, retry, 0, err);
    if (gmq_queue_find(d, m.id, &dup) != GMQ_OK &&
        gmq_queue_put(d, m.id, m.body, m.len, retry, m.pushed_at, 0, err) != GMQ_OK)
        return GMQ_ERR;
    if (t->opts.fsync != GMQ_FSYNC_NO && gmq_queue_sync(d, err) != GMQ_OK)
        return GMQ_ERR;   /* durable in the dead-letter queue before it leaves this one */
    if (gmq_queue_finish(q, &m, GMQ_REC_DEAD, err) != GMQ_OK)
        return GMQ_ERR;
    sl->ctr->dead_lettered++;
    t->ctr->dead_num++;
    return GMQ_OK;
}

void
topic_gc(gmq_queue_t *q)
{
    if (q != NULL && q->gc_pending)
        gmq_queue_gc(q);
}

/*
 * topicadm.c - the topic module's management side: purge and delete of a
 * queue, delete of the topic, peek, dead-letter listing and kick, touch and
 * release with a delay; and the JSON writers of the stats and message
 * lookups. Shares the topic's structs through worker/topic_impl.h.
 */
#include "worker/topic_impl.h"
#include "common/config.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/seam.h"
#include "worker/syncstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOPIC_KICK_BATCH 1024   /* dead letters moved back per sync */

static void topic_queue_json(gmq_buf_t *out, const topic_slot_t *sl);
static void topic_msg_json(gmq_buf_t *out, const gmq_qmsg_t *m);
static int  topic_kick_batch(gmq_topic_t *t, topic_slot_t *sl, uint64_t n, uint64_t *moved,
                             gmq_error_t *err);

static topic_slot_t *topic_adm_slot(gmq_topic_t *t, const char *bind_key, gmq_error_t *err);
static int  topic_adm_busy(const topic_slot_t *sl, int force, gmq_error_t *err);
static void topic_peek_json(gmq_buf_t *out, const gmq_qmsg_t *m, const char *state);
static void topic_index_rebuild(gmq_topic_t *t);

int
gmq_topic_purge(gmq_topic_t *t, const char *bind_key, int force, uint64_t *n, gmq_error_t *err)
{
    topic_slot_t *sl = topic_adm_slot(t, bind_key, err);
    *n = 0;
    if (sl == NULL || topic_adm_busy(sl, force, err) != GMQ_OK)
        return GMQ_ERR;
    size_t inflight = sl->q->n_inflight;
    long k = gmq_queue_purge(sl->q, err);
    if (k < 0)
        return GMQ_ERR;
    gmq_seam_crash_point("purge-written");
    *n = (uint64_t) k;
    t->dirty = 1;
    topic_gc(sl->q);
    gmq_log_info("topic %s: queue %s purged: %ld messages dropped (%zu of them in flight)",
                 t->name, sl->q->bind_key, k, inflight);
    return GMQ_OK;
}

int
gmq_topic_delete_queue(gmq_topic_t *t, const char *bind_key, int force, uint64_t *n,
                       gmq_error_t *err)
{
    topic_slot_t *sl = topic_adm_slot(t, bind_key, err);
    *n = 0;
    if (sl == NULL || topic_adm_busy(sl, force, err) != GMQ_OK)
        return GMQ_ERR;
    size_t i = 0;
    while (t->slots[i] != sl)
        i++;
    /* the commit point: topic.conf without the binding */
    memmove(&t->slots[i], &t->slots[i + 1], (t->nslots - i - 1) * sizeof(*t->slots));
    t->nslots--;
    if (topic_conf_save(t, &t->conf, t->conf_set, NULL, err) != GMQ_OK) {
        memmove(&t->slots[i + 1], &t->slots[i], (t->nslots - i) * sizeof(*t->slots));
        t->slots[i] = sl;
        t->nslots++;
        return GMQ_ERR;
    }
    gmq_seam_crash_point("delete-queue-committed");
    topic_index_rebuild(t);
    topic_ctr_unbind(t, sl);
    char *name = gmq_xstrdup(sl->q->bind_key);
    *n = gmq_queue_count(sl->q) + (sl->dlq ? gmq_queue_count(sl->dlq) : 0);
    gmq_queue_discard(sl->q);
    gmq_queue_discard(sl->dlq);
    free(sl);
    char *qdir = topic_path(t, "q", name), *ddir = topic_path(t, "dlq", name);
    int rc = topic_rmtree(qdir);
    gmq_seam_crash_point("delete-queue-half");
    if (topic_rmtree(ddir) != GMQ_OK || rc != GMQ_OK)
        gmq_log_warn("topic %s: queue %s deleted, but its files are not all removed: %s "
                     "(removed at the next start)", t->name, name, strerror(errno));
    gmq_log_info("topic %s: queue %s deleted with %" PRIu64 " messages", t->name, name, *n);
    free(qdir);
    free(ddir);
    free(name);
    return GMQ_OK;
}

int
gmq_topic_delete(gmq_topic_t *t, int force, gmq_error_t *err)
{
    size_t inflight = 0, msgs = 0;
    for (size_t i = 0; i < t->nslots; i++) {
        const topic_slot_t *sl = t->slots[i];
        inflight += sl->q->n_inflight + (sl->dlq ? sl->dlq->n_inflight : 0);
        msgs += gmq_queue_count(sl->q) + (sl->dlq ? gmq_queue_count(sl->dlq) : 0);
    }
    if (inflight > 0 && !force)
        return gmq_error_set(err, GMQ_E_IN_FLIGHT, "topic %s has %zu messages in flight; use "
                             "force", t->name, inflight);
    size_t n = strlen(t->data_dir) + strlen(t->name) + 48;
    char *trash = gmq_xmalloc(n);
    snprintf(trash, n, "%s/%s%s-%" PRIu64, t->data_dir, GMQ_TOPIC_TRASH_PREFIX, t->name,
             gmq_now_ms());
    if (gmq_seam.rename(t->dir, trash) != 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot rename %s: %s", t->dir,
                      strerror(errno));
        free(trash);
        return GMQ_ERR;
    }
    int dfd = open(t->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (t->opts.fsync != GMQ_FSYNC_NO)
            gmq_seam.fsync(dfd);
        close(dfd);
    }
    gmq_seam_crash_point("delete-topic-renamed");
    free(t->dir);
    t->dir = trash;
    t->deleted = 1;
    gmq_log_info("topic %s deleted with %zu queues and %zu messages (%zu in flight)", t->name,
                 t->nslots, msgs, inflight);
    return GMQ_OK;
}

int
gmq_topic_deleted(const gmq_topic_t *t)
{
    return t->deleted;
}

int
gmq_topic_peek(gmq_topic_t *t, const char *bind_key, int which, gmq_buf_t *out, gmq_error_t *err)
{
    topic_slot_t *sl = topic_adm_slot(t, bind_key, err);
    if (sl == NULL)
        return GMQ_ERR;
    gmq_qmsg_t m;
    int rc;
    if (which == GMQ_TOPIC_PEEK_READY)
        rc = gmq_queue_head(sl->q, &m);
    else if (which == GMQ_TOPIC_PEEK_DELAYED)
        rc = gmq_queue_next_delayed(sl->q, &m);
    else
        rc = sl->dlq ? gmq_queue_head(sl->dlq, &m) : GMQ_AGAIN;
    if (rc != GMQ_OK)
        return GMQ_AGAIN;
    static const char *const states[] = { "ready", "delayed", "dead" };
    topic_peek_json(out, &m, states[which]);
    return GMQ_OK;
}

int
gmq_topic_list_dead(gmq_topic_t *t, const char *bind_key, uint32_t limit, gmq_buf_t *out,
                    gmq_error_t *err)
{
    topic_slot_t *sl = topic_adm_slot(t, bind_key, err);
    if (sl == NULL)
        return GMQ_ERR;
    gmq_buf_append_str(out, "[");
    uint32_t k = 0;
    if (sl->dlq != NULL) {
        size_t start = out->len;
        gmq_queue_iter_t it;
        gmq_qmsg_t m;
        gmq_queue_iter_init(sl->dlq, &it);
        while (k < limit && out->len - start < GMQ_LIST_DEAD_BYTES &&
               gmq_queue_iter_next(sl->dlq, &it, &m) == GMQ_OK) {
            if (k++)
                gmq_buf_append_str(out, ",");
            topic_peek_json(out, &m, "dead");
        }
    }
    gmq_buf_append_str(out, "]");
    return GMQ_OK;
}

int
gmq_topic_kick(gmq_topic_t *t, const char *bind_key, uint64_t n, uint64_t *moved, gmq_error_t *err)
{
    topic_slot_t *sl = topic_adm_slot(t, bind_key, err);
    *moved = 0;
    if (sl == NULL)
        return GMQ_ERR;
    while (*moved < n && sl->dlq != NULL && gmq_queue_n_ready(sl->dlq) > 0) {
        uint64_t before = *moved;
        if (topic_kick_batch(t, sl, n - *moved, moved, err) != GMQ_OK)
            return GMQ_ERR;
        if (*moved == before)
            break;
    }
    if (*moved > 0)
        gmq_log_info("topic %s: %" PRIu64 " dead letters of queue %s kicked back to ready",
                     t->name, *moved, sl->q->bind_key);
    return GMQ_OK;
}

int
gmq_topic_touch(gmq_topic_t *t, const char *bind_key, uint64_t id, uint64_t now_ms,
                uint64_t *deadline, gmq_error_t *err)
{
    topic_slot_t *sl = topic_adm_slot(t, bind_key, err);
    if (sl == NULL)
        return GMQ_ERR;
    gmq_qent_t *e = topic_inflight(sl, id);
    if (e == NULL)
        return gmq_error_set(err, GMQ_E_NOT_FOUND, "msgId:%" PRIu64 " is not in flight in queue "
                             "%s", id, sl->q->bind_key);
    *deadline = now_ms + (uint64_t) t->conf.ttr * 1000;
    gmq_queue_touch(e->q, e, *deadline);
    return GMQ_OK;
}

int
gmq_topic_nack(gmq_topic_t *t, const char *bind_key, uint64_t id, uint64_t delay_ms,
               uint64_t now_ms, gmq_error_t *err)
{
    topic_slot_t *sl = topic_adm_slot(t, bind_key, err);
    if (sl == NULL)
        return GMQ_ERR;
    if (delay_ms > t->opts.max_delay_ms)
        return gmq_error_set(err, GMQ_E_INVALID_DELAY, "delay %" PRIu64 " ms is over the limit "
                             "of %" PRIu64 " ms", delay_ms, t->opts.max_delay_ms);
    gmq_qent_t *e = topic_inflight(sl, id);
    if (e == NULL)
        return gmq_error_set(err, GMQ_E_NOT_FOUND, "msgId:%" PRIu64 " is not in flight in queue "
                             "%s", id, sl->q->bind_key);
    gmq_queue_t *q = e->q;
    int rc;
    if (q->dead)       /* a dead letter being looked at: back among the dead letters */
        rc = gmq_queue_requeue(q, e, e->retry, 0, err);
    else if (delay_ms > 0)
        rc = gmq_queue_delay(q, e, e->retry + 1, now_ms + delay_ms, err);
    else
        rc = gmq_queue_requeue(q, e, e->retry + 1, 0, err);
    if (rc == GMQ_OK)
        t->dirty = 1;
    return rc;
}

void
gmq_topic_stats_json(gmq_topic_t *t, gmq_buf_t *out)
{
    uint64_t dead = 0, ready = 0, delayed = 0, inflight = 0, bytes = 0, corrupt = 0;
    for (size_t i = 0; i < t->nslots; i++) {
        const gmq_queue_t *q = t->slots[i]->q, *d = t->slots[i]->dlq;
        ready += gmq_queue_n_ready(q);
        delayed += q->n_delayed;
        inflight += q->n_inflight;
        bytes += gmq_queue_bytes(q);
        corrupt += q->corrupt;
        if (d != NULL) {
            dead += gmq_queue_count(d);
            bytes += gmq_queue_bytes(d);
            corrupt += d->corrupt;
        }
    }
    /* start_time as the original shows it: local "YYYY-MM-DD hh:mm:ss" */
    char started[32];
    time_t st = (time_t) (t->start_time / 1000);
    struct tm tm;
    localtime_r(&st, &tm);
    strftime(started, sizeof(started), "%Y-%m-%d %H:%M:%S", &tm);
    gmq_buf_append_str(out, "{\"name\":");
    gmq_buf_json_str(out, t->name, strlen(t->name));
    gmq_buf_printf(out, ",\"pop_num\":%" PRIu64 ",\"push_num\":%" PRIu64 ",\"dead_num\":%" PRIu64
                   ",\"queue_msg_num\":%" PRIu64 ",\"queue_num\":%zu,\"delay_num\":%" PRIu64
                   ",\"wait_ack_num\":%" PRIu64 ",\"start_time\":\"%s\",\"is_auto_ack\":%s"
                   ",\"mode\":%d,\"msg_ttr\":%d,\"msg_retry\":%d,\"bytes_on_disk\":%" PRIu64
                   ",\"corrupt_records\":%" PRIu64 ",\"acked_num\":%" PRIu64 ",\"timeout_num\":%"
                   PRIu64 ",\"storage_id\":\"%016" PRIx64 "\",\"epoch\":%u,\"last_seq\":%" PRIu64
                   ",\"queues\":[",
                   t->ctr->pop_num, t->ctr->push_num, dead, ready, t->nslots, delayed, inflight,
                   started, t->conf.auto_ack ? "true" : "false", t->conf.mode,
                   t->conf.ttr, t->conf.retry, bytes, corrupt, t->ctr->acked_num,
                   t->ctr->timeout_num, t->shared.incarnation, t->shared.epoch, t->shared.seq);
    for (size_t i = 0; i < t->nslots; i++) {
        if (i)
            gmq_buf_append_str(out, ",");
        topic_queue_json(out, t->slots[i]);
    }
    gmq_buf_printf(out, "],\"dead_lettered_num\":%" PRIu64, t->ctr->dead_num);
    gmq_syncstat_json(out);    /* fsync latency, for /metrics */
    gmq_buf_append_str(out, "}");
}

void
gmq_topic_queues_json(gmq_topic_t *t, gmq_buf_t *out)
{
    gmq_buf_append_str(out, "{");
    for (size_t i = 0; i < t->nslots; i++) {
        const char *bk = t->slots[i]->q->bind_key;
        if (i)
            gmq_buf_append_str(out, ",");
        gmq_buf_json_str(out, bk, strlen(bk));
        gmq_buf_printf(out, ":\"%s_%s\"", t->name, bk);
    }
    gmq_buf_append_str(out, "}");
}

int
gmq_topic_lookup_json(gmq_topic_t *t, uint64_t id, gmq_buf_t *out, gmq_error_t *err)
{
    gmq_qmsg_t found[64];
    size_t n = 0;
    for (size_t i = 0; i < t->nslots && n < GMQ_ARRAY_LEN(found); i++) {
        if (gmq_queue_find(t->slots[i]->q, id, &found[n]) == GMQ_OK)
            n++;
        if (t->slots[i]->dlq != NULL && n < GMQ_ARRAY_LEN(found) &&
            gmq_queue_find(t->slots[i]->dlq, id, &found[n]) == GMQ_OK)
            n++;
    }
    if (n == 0)
        return gmq_error_set(err, GMQ_E_NOT_FOUND, "msgId:%" PRIu64 " is not exist.", id);
    gmq_buf_printf(out, "{\"id\":\"%" PRIu64 "\",", id);
    if (n == 1) {
        topic_msg_json(out, &found[0]);
    } else {
        gmq_buf_append_str(out, "\"queues\":[");
        for (size_t i = 0; i < n; i++) {
            gmq_buf_append_str(out, i ? ",{" : "{");
            topic_msg_json(out, &found[i]);
            gmq_buf_append_str(out, "}");
        }
        gmq_buf_append_str(out, "]");
    }
    gmq_buf_append_str(out, "}");
    return GMQ_OK;
}

/* ---- static helpers ---- */

static void
topic_queue_json(gmq_buf_t *out, const topic_slot_t *sl)
{
    const gmq_queue_t *q = sl->q, *dlq = sl->dlq;
    const gmq_counters_queue_t *c = sl->ctr;
    gmq_buf_append_str(out, "{\"bind_key\":");
    gmq_buf_json_str(out, q->bind_key, strlen(q->bind_key));
    gmq_buf_printf(out, ",\"ready\":%" PRIu64 ",\"in_flight\":%zu,\"delayed\":%zu,\"dead\":%"
                   PRIu64 ",\"pushed\":%" PRIu64 ",\"popped\":%" PRIu64 ",\"acked\":%" PRIu64
                   ",\"timed_out\":%" PRIu64 ",\"dead_lettered\":%" PRIu64 "}",
                   gmq_queue_n_ready(q), q->n_inflight, q->n_delayed,
                   dlq ? gmq_queue_count(dlq) : 0, c->pushed, c->popped, c->acked, c->timed_out,
                   c->dead_lettered);
}

static void
topic_msg_json(gmq_buf_t *out, const gmq_qmsg_t *m)
{
    static const char *const states[] = { "ready", "delayed", "in_flight" };
    gmq_buf_append_str(out, "\"queue\":");
    gmq_buf_json_str(out, m->q->bind_key, strlen(m->q->bind_key));
    gmq_buf_printf(out, ",\"dead\":%s,\"state\":\"%s\",\"retry_count\":%u,\"pushed_at\":%" PRIu64
                   ",\"due_at\":%" PRIu64 ",\"delivered_at\":%" PRIu64 ",\"segment\":%" PRIu64
                   ",\"offset\":%u,\"len\":%u",
                   m->q->dead ? "true" : "false", states[m->state], m->retry, m->pushed_at,
                   m->due_at, m->delivered_at, GMQ_QPOS_SEG(m->pos), (unsigned) GMQ_QPOS_OFF(m->pos),
                   m->len);
}

/* the queue a management call names; E_NOT_FOUND if there is none */
static topic_slot_t *
topic_adm_slot(gmq_topic_t *t, const char *bind_key, gmq_error_t *err)
{
    const char *bk = topic_bk(bind_key);
    topic_slot_t *sl = topic_slot(t, bk);
    if (sl == NULL)
        gmq_error_set(err, GMQ_E_NOT_FOUND, TOPIC_NO_QUEUE, bk);
    return sl;
}

static int
topic_adm_busy(const topic_slot_t *sl, int force, gmq_error_t *err)
{
    size_t n = sl->q->n_inflight + (sl->dlq ? sl->dlq->n_inflight : 0);
    if (n > 0 && !force)
        return gmq_error_set(err, GMQ_E_IN_FLIGHT, "queue %s has %zu messages in flight; use "
                             "force", sl->q->bind_key, n);
    return GMQ_OK;
}

static void
topic_peek_json(gmq_buf_t *out, const gmq_qmsg_t *m, const char *state)
{
    gmq_buf_printf(out, "{\"id\":\"%" PRIu64 "\",\"body\":", m->id);
    size_t len = m->len > GMQ_PEEK_BODY_MAX ? GMQ_PEEK_BODY_MAX : m->len;
    gmq_buf_json_str(out, m->body, len);
    if (len < m->len)
        gmq_buf_printf(out, ",\"truncated\":true,\"len\":%u", m->len);
    gmq_buf_printf(out, ",\"retry_count\":%u,\"state\":\"%s\",\"pushed_at\":%" PRIu64, m->retry,
                   state, m->pushed_at);
    if (m->state == GMQ_QMSG_DELAYED)
        gmq_buf_printf(out, ",\"due_at\":%" PRIu64, m->due_at);
    gmq_buf_append_str(out, "}");
}

/* Up to n of the oldest dead letters back to the queue, at most a batch of
 * them with one sync: copied there first (synced), then finished here, so a
 * crash in between duplicates rather than loses. */
static int
topic_kick_batch(gmq_topic_t *t, topic_slot_t *sl, uint64_t n, uint64_t *moved, gmq_error_t *err)
{
    gmq_queue_t *d = sl->dlq;
    gmq_queue_iter_t it;
    gmq_qmsg_t m, dup;
    uint64_t ids[TOPIC_KICK_BATCH];
    size_t k = 0;
    int rc = GMQ_OK;
    topic_gc(d);
    gmq_queue_iter_init(d, &it);
    while (k < TOPIC_KICK_BATCH && k < n && gmq_queue_iter_next(d, &it, &m) == GMQ_OK) {
        if (gmq_queue_find(sl->q, m.id, &dup) == GMQ_OK) {
            rc = gmq_error_set(err, GMQ_E_INVALID_PUSH, "msgId:%" PRIu64 " already exists in "
                               "queue %s", m.id, sl->q->bind_key);
            break;
        }
        if (gmq_queue_put(sl->q, m.id, m.body, m.len, 0, m.pushed_at, 0, err) != GMQ_OK) {
            rc = GMQ_ERR;
            break;
        }
        sl->ctr->pushed++;
        ids[k++] = m.id;
    }
    if (k > 0 && t->opts.fsync != GMQ_FSYNC_NO && gmq_queue_sync(sl->q, err) != GMQ_OK)
        return GMQ_ERR;   /* the copies are durable before the dead letters go */
    for (size_t i = 0; i < k; i++) {
        /* the copies were taken in delivery order: each is the head now */
        gmq_error_t e2;
        if (gmq_queue_head(d, &m) != GMQ_OK || m.id != ids[i] ||
            gmq_queue_finish(d, &m, GMQ_REC_MOVED, &e2) != GMQ_OK) {
            if (rc == GMQ_OK)
                rc = gmq_error_set(err, GMQ_E_STORAGE, "storage error: dead letter %" PRIu64
                                   " copied but not removed", ids[i]);
            break;
        }
        (*moved)++;
    }
    t->dirty = 1;
    topic_gc(d);
    return rc;
}

/* after a slot left t->slots */
static void
topic_index_rebuild(gmq_topic_t *t)
{
    size_t n = t->nslots;
    free(t->index);
    t->index = NULL;
    t->nindex = 0;
    for (t->nslots = 0; t->nslots < n; t->nslots++)
        topic_index_add(t, t->slots[t->nslots]);
}

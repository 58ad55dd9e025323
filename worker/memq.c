/*
 * memq.c - an in-memory implementation of worker/topic.h used while the
 * durable engine is built: exact routing, default queue, FIFO pop, ack.
 * Nothing survives a restart. Replaced by the storage engine.
 */
#include "topic.h"
#include "common/config.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct memq_msg_s {
    struct memq_msg_s *next;
    uint64_t id;
    uint32_t retry;
    size_t   len;
    char     body[];
} memq_msg_t;

typedef struct memq_queue_s {
    struct memq_queue_s *next;
    char       *bind_key;
    memq_msg_t *head, *tail;     /* ready */
    memq_msg_t *flight;          /* delivered, not acked */
    uint64_t    pushed, popped, acked;
} memq_queue_t;

struct gmq_topic_s {
    char            *name;
    int              lock_fd;
    gmq_topic_conf_t conf;
    memq_queue_t    *queues;
    int              nqueues;
    uint64_t         push_num, pop_num;
    time_t           start;
    memq_msg_t      *last;       /* freed on the next call (gmq_msg_t validity) */
};

static memq_queue_t *memq_queue_find(gmq_topic_t *t, const char *bk);
static memq_queue_t *memq_queue_add(gmq_topic_t *t, const char *bk);
static void          memq_msgs_free(memq_msg_t *m);

gmq_topic_t *
gmq_topic_open(const char *name, const gmq_store_opts_t *opts, gmq_error_t *err)
{
    char path[4096];
    if (!gmq_name_valid(name, strlen(name))) {
        gmq_error_set(err, GMQ_E_INVALID_TOPIC, "invalid topic name");
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/%s", opts->data_dir, name);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        gmq_error_set(err, GMQ_E_STORAGE, "mkdir %s: %s", path, strerror(errno));
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "lock %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    gmq_topic_t *t = gmq_xcalloc(1, sizeof(*t));
    t->name = gmq_xstrdup(name);
    t->lock_fd = fd;
    t->conf.auto_ack = 0;
    t->conf.mode = GMQ_MODE_EXACT;
    t->conf.ttr = opts->default_ttr;
    t->conf.retry = opts->default_retry;
    t->start = time(NULL);
    return t;
}

void
gmq_topic_close(gmq_topic_t *t)
{
    if (t == NULL)
        return;
    memq_queue_t *q = t->queues;
    while (q) {
        memq_queue_t *n = q->next;
        memq_msgs_free(q->head);
        memq_msgs_free(q->flight);
        free(q->bind_key);
        free(q);
        q = n;
    }
    free(t->last);
    close(t->lock_fd);
    free(t->name);
    free(t);
}

int
gmq_topic_set_config(gmq_topic_t *t, const gmq_topic_conf_t *p, gmq_error_t *err)
{
    (void) err;
    if (p->auto_ack >= 0) t->conf.auto_ack = p->auto_ack ? 1 : 0;
    if (p->mode >= 1 && p->mode <= 3) t->conf.mode = p->mode;
    if (p->ttr > 0) t->conf.ttr = p->ttr;
    if (p->retry >= 0) t->conf.retry = p->retry;
    return GMQ_OK;
}

void
gmq_topic_get_config(const gmq_topic_t *t, gmq_topic_conf_t *out)
{
    *out = t->conf;
}

int
gmq_topic_declare(gmq_topic_t *t, const char *bk, gmq_error_t *err)
{
    if (memq_queue_find(t, bk))
        return gmq_error_set(err, GMQ_E_INVALID_DECLARE, "bindKey %s has exist.", bk);
    memq_queue_add(t, bk);
    return GMQ_OK;
}

int
gmq_topic_push(gmq_topic_t *t, uint64_t id, const char *rk, const char *body, size_t len,
               uint64_t delay_ms, uint64_t now_ms, gmq_error_t *err)
{
    (void) delay_ms; (void) now_ms;
    memq_queue_t *q = rk[0] == '\0' ? memq_queue_find(t, "default") : memq_queue_find(t, rk);
    if (q == NULL && rk[0] == '\0')
        q = memq_queue_add(t, "default");
    if (q == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE,
                             "routeKey:%s is not match with queue, the mode is %d", rk, t->conf.mode);
    memq_msg_t *m = gmq_xmalloc(sizeof(*m) + len);
    m->next = NULL;
    m->id = id;
    m->retry = 0;
    m->len = len;
    memcpy(m->body, body, len);
    if (q->tail) q->tail->next = m; else q->head = m;
    q->tail = m;
    q->pushed++;
    t->push_num++;
    return GMQ_OK;
}

int
gmq_topic_pop(gmq_topic_t *t, const char *bk, uint64_t now_ms, gmq_msg_t *out, gmq_error_t *err)
{
    (void) now_ms;
    memq_queue_t *q = memq_queue_find(t, bk[0] ? bk : "default");
    if (q == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_POP, "bindKey:%s can't match queue", bk);
    memq_msg_t *m = q->head;
    if (m == NULL)
        return GMQ_AGAIN;
    q->head = m->next;
    if (q->head == NULL)
        q->tail = NULL;
    free(t->last);
    t->last = NULL;
    if (t->conf.auto_ack) {
        t->last = m;          /* kept alive until the next call */
        q->acked++;
    } else {
        m->next = q->flight;
        q->flight = m;
    }
    q->popped++;
    t->pop_num++;
    out->id = m->id;
    out->retry = m->retry;
    out->body = m->body;
    out->len = m->len;
    return GMQ_OK;
}

int
gmq_topic_ack(gmq_topic_t *t, const char *bk, uint64_t id, gmq_error_t *err)
{
    memq_queue_t *q = memq_queue_find(t, bk[0] ? bk : "default");
    if (q == NULL)
        return gmq_error_set(err, GMQ_E_INVALID_ACK, "bindkey:%s is not associated with queue", bk);
    for (memq_msg_t **pp = &q->flight; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            memq_msg_t *m = *pp;
            *pp = m->next;
            free(m);
            q->acked++;
            return GMQ_OK;
        }
    }
    return gmq_error_set(err, GMQ_E_INVALID_ACK, "msgId:%llu is not exist.", (unsigned long long) id);
}

int
gmq_topic_release(gmq_topic_t *t, const char *bk, uint64_t id, gmq_error_t *err)
{
    memq_queue_t *q = memq_queue_find(t, bk[0] ? bk : "default");
    if (q == NULL)
        return gmq_error_set(err, GMQ_E_NOT_FOUND, "no queue %s", bk);
    for (memq_msg_t **pp = &q->flight; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            memq_msg_t *m = *pp;
            *pp = m->next;
            m->next = q->head;
            q->head = m;
            if (q->tail == NULL)
                q->tail = m;
            return GMQ_OK;
        }
    }
    return gmq_error_set(err, GMQ_E_NOT_FOUND, "msgId:%llu is not in flight", (unsigned long long) id);
}

int
gmq_topic_dead(gmq_topic_t *t, const char *bk, uint64_t now_ms, gmq_msg_t *out, gmq_error_t *err)
{
    (void) t; (void) bk; (void) now_ms; (void) out; (void) err;
    return GMQ_AGAIN;
}

int
gmq_topic_requeue(gmq_topic_t *t, const char *bk, uint64_t id, uint64_t now_ms, int *moved,
                  gmq_error_t *err)
{
    (void) t; (void) bk; (void) id; (void) now_ms;
    *moved = 0;
    return gmq_error_set(err, GMQ_E_NOT_FOUND, "no dead letters");
}

int
gmq_topic_tick(gmq_topic_t *t, uint64_t now_ms)
{
    (void) t; (void) now_ms;
    return 0;
}

uint64_t
gmq_topic_next_deadline(const gmq_topic_t *t)
{
    (void) t;
    return 0;
}

int
gmq_topic_sync(gmq_topic_t *t, uint64_t now_ms)
{
    (void) t; (void) now_ms;
    return GMQ_OK;
}

void
gmq_topic_stats_json(gmq_topic_t *t, gmq_buf_t *out)
{
    uint64_t ready = 0, flight = 0;
    for (memq_queue_t *q = t->queues; q; q = q->next) {
        for (memq_msg_t *m = q->head; m; m = m->next) ready++;
        for (memq_msg_t *m = q->flight; m; m = m->next) flight++;
    }
    char ts[32];
    struct tm tm;
    localtime_r(&t->start, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
    gmq_buf_printf(out, "{\"name\":");
    gmq_buf_json_str(out, t->name, strlen(t->name));
    gmq_buf_printf(out, ",\"pop_num\":%llu,\"push_num\":%llu,\"dead_num\":0,\"queue_msg_num\":%llu,"
                   "\"queue_num\":%d,\"delay_num\":0,\"wait_ack_num\":%llu,\"start_time\":\"%s\","
                   "\"is_auto_ack\":%s}",
                   (unsigned long long) t->pop_num, (unsigned long long) t->push_num,
                   (unsigned long long) ready, t->nqueues, (unsigned long long) flight, ts,
                   t->conf.auto_ack ? "true" : "false");
}

void
gmq_topic_queues_json(gmq_topic_t *t, gmq_buf_t *out)
{
    gmq_buf_append_str(out, "{");
    for (memq_queue_t *q = t->queues; q; q = q->next) {
        char name[2 * GMQ_NAME_MAX + 2];
        snprintf(name, sizeof(name), "%s_%s", t->name, q->bind_key);
        gmq_buf_json_str(out, q->bind_key, strlen(q->bind_key));
        gmq_buf_append_str(out, ":");
        gmq_buf_json_str(out, name, strlen(name));
        if (q->next)
            gmq_buf_append_str(out, ",");
    }
    gmq_buf_append_str(out, "}");
}

int
gmq_topic_lookup_json(gmq_topic_t *t, uint64_t id, gmq_buf_t *out, gmq_error_t *err)
{
    (void) t; (void) out;
    return gmq_error_set(err, GMQ_E_NOT_FOUND, "msgId:%llu is not exist.", (unsigned long long) id);
}

static memq_queue_t *
memq_queue_find(gmq_topic_t *t, const char *bk)
{
    for (memq_queue_t *q = t->queues; q; q = q->next)
        if (strcmp(q->bind_key, bk) == 0)
            return q;
    return NULL;
}

static memq_queue_t *
memq_queue_add(gmq_topic_t *t, const char *bk)
{
    memq_queue_t *q = gmq_xcalloc(1, sizeof(*q));
    q->bind_key = gmq_xstrdup(bk);
    memq_queue_t **pp = &t->queues;
    while (*pp)
        pp = &(*pp)->next;
    *pp = q;
    t->nqueues++;
    return q;
}

static void
memq_msgs_free(memq_msg_t *m)
{
    while (m) {
        memq_msg_t *n = m->next;
        free(m);
        m = n;
    }
}

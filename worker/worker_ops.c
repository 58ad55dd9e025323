/*
 * worker_ops.c - the worker's operations: each request frame's handler
 * (push, mpush, pop and dead, ack, release, config, declare, stats,
 * requeue, the management operations) applied to the topic, and the
 * replies, which go into the batch and leave once it is synced.
 */
#include "worker_impl.h"
#include "common/config.h"
#include "common/log.h"
#include "proto/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

static void worker_cstr(gmq_op_str_t s, char *out, size_t cap);
static void op_mpush(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_push(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_pop(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_ack(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_config(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_declare(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_stat(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_queues(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_requeue(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_msg(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_toggle_ack(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_release(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_crash(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void op_manage(gmq_worker_t *w, uint64_t id, const gmq_op_req_t *r);
static void worker_reply_buf(gmq_worker_t *w, uint64_t req_id, const gmq_buf_t *b);

const worker_op_fn worker_ops[GMQ_OP__COUNT] = {
    [GMQ_OP_PUSH] = op_push,       [GMQ_OP_MPUSH] = op_mpush,     [GMQ_OP_POP] = op_pop,         [GMQ_OP_ACK] = op_ack,
    [GMQ_OP_DEAD] = op_pop,        [GMQ_OP_CONFIG] = op_config,   [GMQ_OP_DECLARE] = op_declare,
    [GMQ_OP_STAT] = op_stat,       [GMQ_OP_QUEUES] = op_queues,   [GMQ_OP_REQUEUE] = op_requeue,
    [GMQ_OP_MSG] = op_msg,         [GMQ_OP_TOGGLE_ACK] = op_toggle_ack,
    [GMQ_OP_RELEASE] = op_release, [GMQ_OP_CRASH] = op_crash,
    [GMQ_OP_PURGE] = op_manage,    [GMQ_OP_DEL_QUEUE] = op_manage, [GMQ_OP_DEL_TOPIC] = op_manage,
    [GMQ_OP_PEEK] = op_manage,     [GMQ_OP_LIST_DEAD] = op_manage, [GMQ_OP_KICK] = op_manage,
    [GMQ_OP_TOUCH] = op_manage,    [GMQ_OP_NACK] = op_manage,
};

/* ---- replies ---- */

void
worker_reply(gmq_worker_t *w, uint64_t req_id, gmq_op_reply_t *r, const char *msg)
{
    r->msg.p = msg;
    r->msg.len = strlen(msg);
    gmq_ipc_put_reply(&w->pending, req_id, r);
}

void
worker_reply_err(gmq_worker_t *w, uint64_t req_id, const gmq_error_t *e)
{
    worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 0, .ecode = e->code }, e->msg);
}

void
worker_reply_ok(gmq_worker_t *w, uint64_t req_id, const char *msg)
{
    worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 1, .kind = GMQ_RK_NONE }, msg);
}

void
worker_reply_msg(gmq_worker_t *w, uint64_t req_id, const gmq_msg_t *m)
{
    gmq_topic_conf_t conf;
    gmq_topic_get_config(w->topic, &conf);
    gmq_op_reply_t r = { .ok = 1, .kind = GMQ_RK_MESSAGE, .id = m->id, .retry = m->retry,
                         .confirm = conf.auto_ack };
    r.body.p = m->body;
    r.body.len = m->len;
    worker_reply(w, req_id, &r, "success");
}

/* a name from a request (the decoder bounds it) as a C string */
static void
worker_cstr(gmq_op_str_t s, char *out, size_t cap)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(out, s.p, n);
    out[n] = '\0';
}

/* SIGHUP: the master sends the reloaded settings */
void
worker_apply_settings(gmq_worker_t *w, const gmq_op_settings_t *s)
{
    gmq_store_opts_t opts;
    worker_store_opts(&opts, w->data_path, s);
    gmq_topic_set_opts(w->topic, &opts);
    gmq_log_set_level(s->log_level);
    gmq_log_info("settings reloaded: msg_ttr %d, msg_retry %d, max_delay %llu s, fsync %s",
                 s->default_ttr, s->default_retry, (unsigned long long) (s->max_delay_ms / 1000),
                 gmq_config_fsync_name(s->fsync));
}

/* ---- operations ---- */

static void
op_push(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    char rk[GMQ_ROUTE_KEY_MAX + 1];
    gmq_error_t err = { 0, "" };
    worker_cstr(r->item.route_key, rk, sizeof(rk));
    if (gmq_topic_push(w->topic, r->item.id, rk, r->item.body.p, r->item.body.len,
                       r->item.delay_ms, gmq_now_ms(), &err) != GMQ_OK) {
        worker_reply_err(w, req_id, &err);
        return;
    }
    worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 1, .kind = GMQ_RK_ID, .id = r->item.id },
                 "success");
}

/* one chunk of an mpub: items in order, stopping at the first failure, so
 * what is stored is always a prefix; the reply counts it either way */
static void
op_mpush(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    char rk[GMQ_ROUTE_KEY_MAX + 1];
    gmq_error_t err = { 0, "" };
    gmq_op_item_t it;
    size_t off = 0;
    uint32_t stored = 0;
    uint64_t now = gmq_now_ms();
    while (gmq_op_item_next(r, &off, &it) == GMQ_OK) {
        worker_cstr(it.route_key, rk, sizeof(rk));
        if (gmq_topic_push(w->topic, it.id, rk, it.body.p, it.body.len, it.delay_ms, now,
                           &err) != GMQ_OK) {
            worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 0, .ecode = err.code,
                                                        .kind = GMQ_RK_COUNT, .count = stored },
                         err.msg);
            return;
        }
        stored++;
    }
    worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 1, .kind = GMQ_RK_COUNT, .count = stored },
                 "success");
}

static void
op_pop(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    char bk[GMQ_NAME_MAX + 1];
    gmq_msg_t m;
    gmq_error_t err = { 0, "" };
    worker_cstr(r->bind_key, bk, sizeof(bk));
    uint64_t now = gmq_now_ms();
    int rc = r->op == GMQ_OP_DEAD ? gmq_topic_dead(w->topic, bk, now, &m, &err)
                                  : gmq_topic_pop(w->topic, bk, now, &m, &err);
    if (rc == GMQ_OK) {
        worker_reply_msg(w, req_id, &m);
    } else if (rc == GMQ_AGAIN && (r->forever || r->wait_ms > 0)) {
        worker_wait_t *x = gmq_xcalloc(1, sizeof(*x));
        x->req_id = req_id;
        x->op = r->op;
        x->deadline_ms = r->forever ? 0 : now + r->wait_ms;
        memcpy(x->bind_key, bk, sizeof(bk));
        worker_wait_t **pp = &w->waits;
        while (*pp)
            pp = &(*pp)->next;
        *pp = x;
        worker_rearm(w);
    } else if (rc == GMQ_AGAIN) {
        worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 1, .kind = GMQ_RK_EMPTY }, "no message");
    } else {
        worker_reply_err(w, req_id, &err);
    }
}

static void
op_ack(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    char bk[GMQ_NAME_MAX + 1];
    gmq_error_t err = { 0, "" };
    worker_cstr(r->bind_key, bk, sizeof(bk));
    gmq_topic_conf_t conf;
    gmq_topic_get_config(w->topic, &conf);
    if (gmq_topic_ack(w->topic, bk, r->id, &err) == GMQ_OK)
        worker_reply_ok(w, req_id, "success");
    else if (conf.auto_ack && err.code == GMQ_E_INVALID_ACK && strncmp(err.msg, "msgId:", 6) == 0)
        /* the seed flow acks on an auto-ack topic: delivery already finished it */
        worker_reply_ok(w, req_id,
                        "success (topic is auto-ack: the message was acknowledged on delivery)");
    else
        worker_reply_err(w, req_id, &err);
}

static void
op_release(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    char bk[GMQ_NAME_MAX + 1];
    gmq_error_t err = { 0, "" };
    worker_cstr(r->bind_key, bk, sizeof(bk));
    if (gmq_topic_release(w->topic, bk, r->id, &err) != GMQ_OK)
        gmq_log_warn("release of %llu failed: %s", (unsigned long long) r->id, err.msg);
    worker_reply_ok(w, req_id, "ok");
    worker_serve_waits(w);
}

static void
op_config(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    gmq_topic_conf_t p = { .auto_ack = r->auto_ack, .mode = r->mode, .ttr = r->ttr,
                           .retry = r->retry };
    gmq_error_t err = { 0, "" };
    if (gmq_topic_set_config(w->topic, &p, &err) != GMQ_OK)
        worker_reply_err(w, req_id, &err);
    else
        worker_reply_ok(w, req_id, "success");
}

static void
op_toggle_ack(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    (void) r;
    gmq_topic_conf_t c;
    gmq_error_t err = { 0, "" };
    gmq_topic_get_config(w->topic, &c);
    gmq_topic_conf_t p = { .auto_ack = !c.auto_ack, .mode = -1, .ttr = -1, .retry = -1 };
    if (gmq_topic_set_config(w->topic, &p, &err) != GMQ_OK)
        worker_reply_err(w, req_id, &err);
    else
        worker_reply_ok(w, req_id, "success");
}

static void
op_declare(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    char bk[GMQ_NAME_MAX + 1];
    gmq_error_t err = { 0, "" };
    worker_cstr(r->bind_key, bk, sizeof(bk));
    if (gmq_topic_declare(w->topic, bk, &err) != GMQ_OK)
        worker_reply_err(w, req_id, &err);
    else
        worker_reply_ok(w, req_id, "ok");
}

static void
worker_reply_json(gmq_worker_t *w, uint64_t req_id, void (*write)(gmq_topic_t *, gmq_buf_t *))
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    write(w->topic, &b);
    worker_reply_buf(w, req_id, &b);
    gmq_buf_free(&b);
}

static void
op_stat(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    (void) r;
    worker_reply_json(w, req_id, gmq_topic_stats_json);
}

static void
op_queues(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    (void) r;
    worker_reply_json(w, req_id, gmq_topic_queues_json);
}

static void
op_requeue(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    char bk[GMQ_NAME_MAX + 1];
    int moved = 0;
    gmq_error_t err = { 0, "" };
    worker_cstr(r->bind_key, bk, sizeof(bk));
    if (gmq_topic_requeue(w->topic, bk, r->id, gmq_now_ms(), &moved, &err) != GMQ_OK) {
        worker_reply_err(w, req_id, &err);
        return;
    }
    char js[48];
    gmq_op_reply_t rep = { .ok = 1, .kind = GMQ_RK_JSON };
    rep.json.p = js;
    rep.json.len = (size_t) snprintf(js, sizeof(js), "{\"requeued\":%d}", moved);
    worker_reply(w, req_id, &rep, "success");
    worker_serve_waits(w);
}

static void
op_msg(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    gmq_error_t err = { 0, "" };
    gmq_buf_t b;
    gmq_buf_init(&b);
    if (gmq_topic_lookup_json(w->topic, r->id, &b, &err) != GMQ_OK) {
        worker_reply_err(w, req_id, &err);
    } else {
        gmq_op_reply_t rep = { .ok = 1, .kind = GMQ_RK_JSON };
        rep.json.p = b.data;
        rep.json.len = b.len;
        worker_reply(w, req_id, &rep, "success");
    }
    gmq_buf_free(&b);
}

static void
op_crash(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    (void) req_id;
    gmq_log_warn("exiting with status %u on request (test hook)", r->code);
    gmq_topic_close(w->topic);
    if (r->linger_ms > 0) {
        /* the master sees the socket close well before the exit */
        close(w->fd);
        struct timespec ts = { (time_t) (r->linger_ms / 1000),
                               (long) (r->linger_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    _exit((int) r->code);
}

/* purge, delete, peek, dead-letter list and kick, touch, release */
static void
op_manage(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r)
{
    char bk[GMQ_NAME_MAX + 1];
    gmq_error_t err = { 0, "" };
    gmq_buf_t b;
    uint64_t n = 0;
    int force = (r->flags & GMQ_OP_F_FORCE) != 0, rc;
    worker_cstr(r->bind_key, bk, sizeof(bk));
    gmq_buf_init(&b);
    switch (r->op) {
    case GMQ_OP_PURGE:
        if ((rc = gmq_topic_purge(w->topic, bk, force, &n, &err)) == GMQ_OK)
            gmq_buf_printf(&b, "{\"purged\":%llu}", (unsigned long long) n);
        break;
    case GMQ_OP_DEL_QUEUE:
        if ((rc = gmq_topic_delete_queue(w->topic, bk, force, &n, &err)) == GMQ_OK)
            gmq_buf_printf(&b, "{\"deleted\":%llu}", (unsigned long long) n);
        break;
    case GMQ_OP_DEL_TOPIC:
        rc = gmq_topic_delete(w->topic, force, &err);
        if (rc == GMQ_OK) {
            /* waiting pops end now; the master retires this worker */
            gmq_error_t gone;
            gmq_error_set(&gone, GMQ_E_NOT_FOUND, "topic %s was deleted", w->name);
            while (w->waits) {
                worker_wait_t *x = w->waits;
                w->waits = x->next;
                worker_reply_err(w, x->req_id, &gone);
                free(x);
            }
        }
        break;
    case GMQ_OP_PEEK:
        rc = gmq_topic_peek(w->topic, bk, (int) r->arg, &b, &err);
        if (rc == GMQ_AGAIN) {
            worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 1, .kind = GMQ_RK_EMPTY },
                         "no message");
            gmq_buf_free(&b);
            return;
        }
        break;
    case GMQ_OP_LIST_DEAD:
        rc = gmq_topic_list_dead(w->topic, bk, (uint32_t) r->arg, &b, &err);
        break;
    case GMQ_OP_KICK:
        if ((rc = gmq_topic_kick(w->topic, bk, r->arg, &n, &err)) == GMQ_OK)
            gmq_buf_printf(&b, "{\"kicked\":%llu}", (unsigned long long) n);
        break;
    case GMQ_OP_TOUCH:
        if ((rc = gmq_topic_touch(w->topic, bk, r->id, gmq_now_ms(), &n, &err)) == GMQ_OK)
            gmq_buf_printf(&b, "{\"deadline\":%llu}", (unsigned long long) n);
        break;
    default:   /* GMQ_OP_NACK */
        rc = gmq_topic_nack(w->topic, bk, r->id, r->arg, gmq_now_ms(), &err);
        break;
    }
    if (rc != GMQ_OK)
        worker_reply_err(w, req_id, &err);
    else if (b.len > 0)
        worker_reply_buf(w, req_id, &b);
    else
        worker_reply_ok(w, req_id, "success");
    gmq_buf_free(&b);
}

static void
worker_reply_buf(gmq_worker_t *w, uint64_t req_id, const gmq_buf_t *b)
{
    gmq_op_reply_t rep = { .ok = 1, .kind = GMQ_RK_JSON };
    rep.json.p = b->data;
    rep.json.len = b->len;
    worker_reply(w, req_id, &rep, "success");
}

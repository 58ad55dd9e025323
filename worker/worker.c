/*
 * worker.c - the worker process loop: reads request frames from the master,
 * applies them to the topic, runs one durability barrier per batch, then
 * sends the batch's replies. Holds waiting pops, fires the topic's
 * deadlines (delay, TTR) from a single re-armed timer.
 */
#include "worker.h"
#include "topic.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "proto/errors.h"
#include "proto/ipc.h"

#include <ev.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define WORKER_READ_CHUNK (256 * 1024)
/* the topic's previous worker (after /exitTopic) may still hold the lock */
#define WORKER_LOCK_WAIT_MS 3000
/* no request for this long: the segments' pages leave the worker's mapping
 * (with thousands of idle topics they would be most of the node's memory) */
#define WORKER_IDLE_S 2.0

typedef struct worker_wait_s {
    struct worker_wait_s *next;
    uint64_t req_id;
    int      op;              /* GMQ_OP_POP or GMQ_OP_DEAD */
    uint64_t deadline_ms;     /* wall clock; 0 = forever */
    char     bind_key[GMQ_NAME_MAX + 1];
} worker_wait_t;

struct gmq_worker_s {
    struct ev_loop    *loop;
    const char        *data_path;
    const char        *name;
    gmq_topic_t       *topic;
    int                fd;
    int                sig_fd;
    ev_io              rio, wio, sigio;
    ev_timer           timer;
    ev_prepare         batch;      /* end of iteration: sync, then reply */
    ev_timer           idle;       /* WORKER_IDLE_S after the last request: release pages */
    gmq_buf_t          in;
    gmq_buf_t          pending;    /* replies waiting for the batch's sync */
    gmq_buf_t          out;        /* replies ready to be written */
    worker_wait_t     *waits;      /* FIFO of waiting pop/dead requests */
    int                stopping;
    int                exit_code;
};

typedef void (*worker_op_fn)(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r);

static void worker_on_read(struct ev_loop *loop, ev_io *io, int revents);
static void worker_on_write(struct ev_loop *loop, ev_io *io, int revents);
static void worker_on_signal(struct ev_loop *loop, ev_io *io, int revents);
static void worker_on_timer(struct ev_loop *loop, ev_timer *t, int revents);
static void worker_on_batch(struct ev_loop *loop, ev_prepare *p, int revents);
static void worker_on_idle(struct ev_loop *loop, ev_timer *t, int revents);
static void worker_handle_frame(gmq_worker_t *w, const gmq_ipc_frame_t *f);
static void worker_reply_err(gmq_worker_t *w, uint64_t req_id, const gmq_error_t *e);
static void worker_reply_ok(gmq_worker_t *w, uint64_t req_id, const char *msg);
static void worker_reply(gmq_worker_t *w, uint64_t req_id, gmq_op_reply_t *r, const char *msg);
static void worker_reply_msg(gmq_worker_t *w, uint64_t req_id, const gmq_msg_t *m);
static void worker_cstr(gmq_op_str_t s, char *out, size_t cap);
static void worker_apply_settings(gmq_worker_t *w, const gmq_op_settings_t *s);
static void worker_store_opts(gmq_store_opts_t *o, const char *data_dir, const gmq_op_settings_t *s);
static void worker_serve_waits(gmq_worker_t *w);
static void worker_rearm(gmq_worker_t *w);
static void worker_stop(gmq_worker_t *w, int code);
static int  worker_transient(int err);

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

static const worker_op_fn worker_ops[GMQ_OP__COUNT] = {
    [GMQ_OP_PUSH] = op_push,       [GMQ_OP_MPUSH] = op_mpush,     [GMQ_OP_POP] = op_pop,         [GMQ_OP_ACK] = op_ack,
    [GMQ_OP_DEAD] = op_pop,        [GMQ_OP_CONFIG] = op_config,   [GMQ_OP_DECLARE] = op_declare,
    [GMQ_OP_STAT] = op_stat,       [GMQ_OP_QUEUES] = op_queues,   [GMQ_OP_REQUEUE] = op_requeue,
    [GMQ_OP_MSG] = op_msg,         [GMQ_OP_TOGGLE_ACK] = op_toggle_ack,
    [GMQ_OP_RELEASE] = op_release, [GMQ_OP_CRASH] = op_crash,
    [GMQ_OP_PURGE] = op_manage,    [GMQ_OP_DEL_QUEUE] = op_manage, [GMQ_OP_DEL_TOPIC] = op_manage,
    [GMQ_OP_PEEK] = op_manage,     [GMQ_OP_LIST_DEAD] = op_manage, [GMQ_OP_KICK] = op_manage,
    [GMQ_OP_TOUCH] = op_manage,    [GMQ_OP_NACK] = op_manage,
};

int
gmq_worker_main(const char *data_path, const gmq_op_settings_t *set, const char *topic, int fd)
{
    gmq_worker_t w;
    gmq_error_t err = { 0, "" };
    memset(&w, 0, sizeof(w));
    w.data_path = data_path;
    w.name = topic;
    w.fd = fd;
    gmq_buf_init(&w.in);
    gmq_buf_init(&w.pending);
    gmq_buf_init(&w.out);

    gmq_store_opts_t opts;
    worker_store_opts(&opts, data_path, set);
    w.topic = gmq_topic_open(topic, &opts, &err);
    if (w.topic == NULL) {
        /* tell the master why (its waiting requests are answered with it);
         * out of descriptors, memory or space is worth a retry with backoff,
         * a lock held by a live process or a bad directory is not */
        int e = errno;
        int transient = worker_transient(e);
        gmq_log_error("topic %s cannot be opened: %s%s", topic, err.msg,
                      transient ? " (will be retried)" : "");
        gmq_buf_t b;
        gmq_buf_init(&b);
        gmq_ipc_put_fatal(&b, err.msg);
        ssize_t n = write(fd, b.data, b.len);
        (void) n;
        gmq_buf_free(&b);
        return transient ? GMQ_EXIT_ERR : GMQ_EXIT_FATAL;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    w.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    w.loop = ev_loop_new(EVFLAG_AUTO);
    ev_io_init(&w.rio, worker_on_read, fd, EV_READ);
    ev_io_init(&w.wio, worker_on_write, fd, EV_WRITE);
    ev_io_init(&w.sigio, worker_on_signal, w.sig_fd, EV_READ);
    ev_timer_init(&w.timer, worker_on_timer, 0., 0.);
    ev_prepare_init(&w.batch, worker_on_batch);
    ev_timer_init(&w.idle, worker_on_idle, 0., WORKER_IDLE_S);
    w.rio.data = w.wio.data = w.sigio.data = w.timer.data = w.batch.data = w.idle.data = &w;
    ev_io_start(w.loop, &w.rio);
    ev_io_start(w.loop, &w.sigio);
    ev_prepare_start(w.loop, &w.batch);

    gmq_ipc_put_ready(&w.out, (uint32_t) getpid());
    ev_io_start(w.loop, &w.wio);
    worker_rearm(&w);
    gmq_log_info("worker for topic %s ready", topic);

    ev_run(w.loop, 0);

    gmq_topic_close(w.topic);
    while (w.waits) {
        worker_wait_t *n = w.waits->next;
        free(w.waits);
        w.waits = n;
    }
    gmq_buf_free(&w.in);
    gmq_buf_free(&w.pending);
    gmq_buf_free(&w.out);
    ev_loop_destroy(w.loop);
    close(w.sig_fd);
    gmq_log_info("worker for topic %s exits", topic);
    return w.exit_code;
}

static void
worker_on_read(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) loop; (void) revents;
    gmq_worker_t *w = io->data;
    int eof, rc;
    gmq_ipc_frame_t f;
    if (gmq_buf_fill_fd(&w->in, w->fd, WORKER_READ_CHUNK, &eof) != GMQ_OK) {
        gmq_log_error("ipc read: %s", strerror(errno));
        worker_stop(w, GMQ_EXIT_ERR);
        return;
    }
    while ((rc = gmq_ipc_take(&w->in, &f)) == GMQ_OK) {
        worker_handle_frame(w, &f);
        if (w->stopping)
            return;
    }
    ev_timer_again(w->loop, &w->idle);
    if (rc == GMQ_ERR) {
        gmq_log_error("ipc: malformed frame from the master");
        worker_stop(w, GMQ_EXIT_ERR);
        return;
    }
    if (eof) {
        gmq_log_info("master closed the socket");
        worker_stop(w, GMQ_EXIT_OK);
        return;
    }
    /* messages pushed in this batch may satisfy waiting pops */
    worker_serve_waits(w);
}

static void
worker_store_opts(gmq_store_opts_t *o, const char *data_dir, const gmq_op_settings_t *s)
{
    memset(o, 0, sizeof(*o));
    o->data_dir = data_dir;
    o->fsync = s->fsync;
    o->segment_size = (size_t) s->segment_size;
    o->max_delay_ms = s->max_delay_ms;
    o->default_ttr = s->default_ttr;
    o->default_retry = s->default_retry;
    o->max_queues = s->max_queues;
    o->confirm_delivery = 1;     /* the master acks auto-ack deliveries once written */
    o->lock_wait_ms = WORKER_LOCK_WAIT_MS;
}

static int
worker_transient(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOSPC || err == EDQUOT ||
           err == ENOLCK;
}

static void
worker_handle_frame(gmq_worker_t *w, const gmq_ipc_frame_t *f)
{
    gmq_op_req_t r;
    gmq_op_settings_t set;
    gmq_error_t err = { 0, "" };
    switch (f->type) {
    case GMQ_IPC_SHUTDOWN:
        worker_stop(w, GMQ_EXIT_OK);
        return;
    case GMQ_IPC_CANCEL:
        for (worker_wait_t **pp = &w->waits; *pp; pp = &(*pp)->next) {
            if ((*pp)->req_id == f->req_id) {
                worker_wait_t *x = *pp;
                *pp = x->next;
                free(x);
                break;
            }
        }
        return;
    case GMQ_IPC_SETTINGS:
        if (gmq_op_settings_decode(f->payload, f->len, &set) != GMQ_OK)
            gmq_log_warn("ipc: malformed settings frame ignored");
        else
            worker_apply_settings(w, &set);
        return;
    case GMQ_IPC_REQUEST:
        if (gmq_op_req_decode(f->payload, f->len, &r) != GMQ_OK || r.op == 0 ||
            r.op >= GMQ_OP__COUNT || worker_ops[r.op] == NULL) {
            gmq_error_set(&err, GMQ_E_INTERNAL, "malformed request");
            worker_reply_err(w, f->req_id, &err);
            return;
        }
        if (gmq_topic_deleted(w->topic)) {
            /* sent before the master saw the delete: the next worker takes it */
            gmq_error_set(&err, GMQ_E_UNAVAILABLE, "topic %s was deleted; nothing was done; retry",
                          w->name);
            worker_reply_err(w, f->req_id, &err);
            return;
        }
        worker_ops[r.op](w, f->req_id, &r);
        return;
    default:
        gmq_log_warn("ipc: unexpected frame type %u", f->type);
    }
}

static void
worker_on_batch(struct ev_loop *loop, ev_prepare *p, int revents)
{
    (void) loop; (void) revents;
    gmq_worker_t *w = p->data;
    if (gmq_buf_used(&w->pending) == 0)
        return;
    /* durability: everything of this batch is applied; sync once, then reply */
    uint64_t now = gmq_now_ms();
    if (gmq_topic_sync_data(w->topic, now) != GMQ_OK) {
        /* a failed sync may have dropped dirty pages: never acknowledge them.
         * Exit; the master answers the batch with errors and respawns us, and
         * recovery rebuilds the state from what is really on disk. */
        gmq_log_error("sync failed: %s; exiting without replying", strerror(errno));
        gmq_buf_reset(&w->pending);
        worker_stop(w, GMQ_EXIT_ERR);
        return;
    }
    gmq_buf_append(&w->out, gmq_buf_rptr(&w->pending), gmq_buf_used(&w->pending));
    gmq_buf_reset(&w->pending);
    if (gmq_buf_write_fd(&w->out, w->fd) < 0) {
        gmq_log_error("ipc write: %s", strerror(errno));
        worker_stop(w, GMQ_EXIT_ERR);
        return;
    }
    if (gmq_buf_used(&w->out) > 0)
        ev_io_start(w->loop, &w->wio);
    /* the checkpoints that are due, after the replies: the log is the
     * truth, a checkpoint only shortens the next recovery */
    gmq_topic_checkpoints(w->topic, now);
    worker_rearm(w);
}

static void
worker_on_write(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) revents;
    gmq_worker_t *w = io->data;
    if (gmq_buf_write_fd(&w->out, w->fd) < 0) {
        worker_stop(w, GMQ_EXIT_ERR);
        return;
    }
    if (gmq_buf_used(&w->out) == 0) {
        ev_io_stop(loop, io);
        if (w->stopping)
            ev_break(loop, EVBREAK_ALL);
    }
}

static void
worker_on_signal(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) loop; (void) revents;
    gmq_worker_t *w = io->data;
    struct signalfd_siginfo si;
    while (read(w->sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        if (si.ssi_signo == SIGTERM) {
            gmq_log_info("SIGTERM: finishing");
            worker_stop(w, GMQ_EXIT_OK);
        }
        /* SIGINT (a terminal's Ctrl-C reaches the whole group): the master decides */
    }
}

static void
worker_on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop; (void) revents;
    gmq_worker_t *w = t->data;
    uint64_t now = gmq_now_ms();
    gmq_topic_tick(w->topic, now);
    if (gmq_topic_sync(w->topic, now) != GMQ_OK) {
        gmq_log_error("sync failed: %s; exiting", strerror(errno));
        worker_stop(w, GMQ_EXIT_ERR);
        return;
    }
    /* expired waits answer "no message" */
    for (worker_wait_t **pp = &w->waits; *pp;) {
        worker_wait_t *x = *pp;
        if (x->deadline_ms != 0 && x->deadline_ms <= now) {
            *pp = x->next;
            worker_reply(w, x->req_id, &(gmq_op_reply_t) { .ok = 1, .kind = GMQ_RK_EMPTY },
                         "no message");
            free(x);
        } else {
            pp = &x->next;
        }
    }
    worker_serve_waits(w);
    worker_rearm(w);
}

/* one timer, armed to the earliest of: topic deadline (delay/TTR), the next
 * everysec sync or queue checkpoint, wait deadline */
static void
worker_on_idle(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) revents;
    gmq_worker_t *w = t->data;
    gmq_topic_release_pages(w->topic);
    ev_timer_stop(loop, t);           /* until the next request */
}

static void
worker_rearm(gmq_worker_t *w)
{
    uint64_t next = gmq_topic_next_deadline(w->topic);
    uint64_t sync = gmq_topic_next_sync(w->topic);    /* fsync=everysec */
    if (sync != 0 && (next == 0 || sync < next))
        next = sync;
    uint64_t ckpt = gmq_topic_next_checkpoint(w->topic);
    if (ckpt != 0 && (next == 0 || ckpt < next))
        next = ckpt;
    for (worker_wait_t *x = w->waits; x; x = x->next)
        if (x->deadline_ms != 0 && (next == 0 || x->deadline_ms < next))
            next = x->deadline_ms;
    ev_timer_stop(w->loop, &w->timer);
    if (next == 0)
        return;
    uint64_t now = gmq_now_ms();
    double after = next > now ? (double) (next - now) / 1000.0 : 0.0;
    ev_timer_set(&w->timer, after, 0.);
    ev_timer_start(w->loop, &w->timer);
}

static void
worker_serve_waits(gmq_worker_t *w)
{
    for (worker_wait_t **pp = &w->waits; *pp;) {
        worker_wait_t *x = *pp;
        gmq_msg_t m;
        gmq_error_t err = { 0, "" };
        uint64_t now = gmq_now_ms();
        int rc = x->op == GMQ_OP_DEAD ? gmq_topic_dead(w->topic, x->bind_key, now, &m, &err)
                                      : gmq_topic_pop(w->topic, x->bind_key, now, &m, &err);
        if (rc == GMQ_AGAIN) {
            pp = &x->next;
            continue;
        }
        if (rc == GMQ_OK)
            worker_reply_msg(w, x->req_id, &m);
        else
            worker_reply_err(w, x->req_id, &err);
        *pp = x->next;
        free(x);
    }
}

static void
worker_stop(gmq_worker_t *w, int code)
{
    if (!w->stopping) {
        w->stopping = 1;
        w->exit_code = code;
    }
    ev_io_stop(w->loop, &w->rio);
    if (gmq_buf_used(&w->out) == 0 || code != GMQ_EXIT_OK)
        ev_break(w->loop, EVBREAK_ALL);
}

/* ---- replies ---- */

static void
worker_reply(gmq_worker_t *w, uint64_t req_id, gmq_op_reply_t *r, const char *msg)
{
    r->msg.p = msg;
    r->msg.len = strlen(msg);
    gmq_ipc_put_reply(&w->pending, req_id, r);
}

static void
worker_reply_err(gmq_worker_t *w, uint64_t req_id, const gmq_error_t *e)
{
    worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 0, .ecode = e->code }, e->msg);
}

static void
worker_reply_ok(gmq_worker_t *w, uint64_t req_id, const char *msg)
{
    worker_reply(w, req_id, &(gmq_op_reply_t) { .ok = 1, .kind = GMQ_RK_NONE }, msg);
}

static void
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
static void
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

/*
 * worker.c - the worker process loop: reads request frames from the master,
 * applies them to the topic, runs one durability barrier per batch, then
 * sends the batch's replies. Holds waiting pops, fires the topic's
 * deadlines (delay, TTR) from a single re-armed timer.
 */
#include "worker_impl.h"
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


static void worker_on_read(struct ev_loop *loop, ev_io *io, int revents);
static void worker_on_write(struct ev_loop *loop, ev_io *io, int revents);
static void worker_on_signal(struct ev_loop *loop, ev_io *io, int revents);
static void worker_on_timer(struct ev_loop *loop, ev_timer *t, int revents);
static void worker_on_batch(struct ev_loop *loop, ev_prepare *p, int revents);
static void worker_on_idle(struct ev_loop *loop, ev_timer *t, int revents);
static void worker_handle_frame(gmq_worker_t *w, const gmq_ipc_frame_t *f);
static int  worker_transient(int err);


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

void
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

void
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

void
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

void
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

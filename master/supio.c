/*
 * supio.c - each worker's IPC socket (sup_impl.h): frames read from it
 * (READY, FATAL, replies handed to the request that asked) and requests and
 * control frames written to it, in one write per worker per loop iteration.
 */
#include "sup_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define SUP_READ_CHUNK (256 * 1024)

void
sup_on_read(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) loop; (void) revents;
    gmq_wproc_t *w = io->data;
    int eof, rc;
    gmq_ipc_frame_t f;
    if (gmq_buf_fill_fd(&w->in, w->fd, SUP_READ_CHUNK, &eof) != GMQ_OK) {
        sup_lost(w, strerror(errno));
        return;
    }
    /* replies read before an EOF are delivered before the worker counts as gone */
    while ((rc = gmq_ipc_take(&w->in, &f)) == GMQ_OK) {
        sup_handle_frame(w, &f);
        if (w->fd < 0)
            return;
    }
    if (rc == GMQ_ERR) {
        gmq_log_error("topic %s: malformed frame from worker; killing it", w->topic);
        kill(w->pid, SIGKILL);
        sup_lost(w, "malformed frame");
        return;
    }
    if (eof)
        sup_lost(w, "worker closed its socket");
}

void
sup_handle_frame(gmq_wproc_t *w, const gmq_ipc_frame_t *f)
{
    gmq_master_t *m = w->sup->m;
    uint32_t version, pid;
    gmq_op_reply_t r;

    switch (f->type) {
    case GMQ_IPC_READY:
        if (gmq_ipc_ready_parse(f, &version, &pid) != GMQ_OK || version != GMQ_IPC_VERSION) {
            gmq_log_error("topic %s: worker speaks IPC version %u, master %u; stopping it",
                          w->topic, version, GMQ_IPC_VERSION);
            snprintf(w->last_exit, sizeof(w->last_exit), "IPC version mismatch");
            kill(w->pid, SIGKILL);
            return;
        }
        sup_set_state(w, GMQ_WP_READY);
        w->transient = 0;
        gmq_log_info("topic %s: worker pid %u ready", w->topic, pid);
        sup_start_more(w->sup);
        return;
    case GMQ_IPC_FATAL:
        snprintf(w->last_exit, sizeof(w->last_exit), "%.*s", (int) f->len, f->payload);
        w->open_failed = 1;
        return;
    case GMQ_IPC_REPLY: {
        gmq_req_t *req = gmq_req_find(m->reqs, f->req_id);
        if (req == NULL)
            return;     /* cancelled and already forgotten */
        if (gmq_op_reply_decode(f->payload, f->len, &r) != GMQ_OK) {
            gmq_error_t e;
            gmq_error_set(&e, GMQ_E_INTERNAL, "malformed reply from worker");
            req->done(req, NULL, &e);
        } else {
            req->done(req, &r, NULL);
            if (req->op == GMQ_OP_DEL_TOPIC && r.ok) {
                /* the worker renamed its directory away: retire it (it
                 * removes the files as it exits); the next request that
                 * may create the topic starts a fresh one */
                gmq_error_t e;
                gmq_sup_exit_topic(m->sup, w->topic, &e);
            }
        }
        gmq_req_finish(m->reqs, req);
        return;
    }
    default:
        gmq_log_warn("topic %s: unexpected frame type %u", w->topic, f->type);
    }
}

void
sup_on_write(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) revents;
    gmq_wproc_t *w = io->data;
    if (sup_write(w) != GMQ_OK)
        return;
    if (gmq_buf_used(&w->out) == 0)
        ev_io_stop(loop, io);
}

/* only the entries given output since the last flush: with thousands of
 * topics a walk of all of them every loop iteration would be the master's
 * main cost */
void
gmq_sup_flush(gmq_sup_t *s)
{
    while (!gmq_list_empty(&s->flushq)) {
        gmq_wproc_t *w = container_of(s->flushq.next, gmq_wproc_t, flink);
        gmq_list_remove(&w->flink);
        if (w->fd < 0 || gmq_buf_used(&w->out) == 0 || ev_is_active(&w->wio))
            continue;
        if (w->state != GMQ_WP_READY && w->state != GMQ_WP_STOPPING)
            continue;     /* requests wait in `out` until READY (marked again then) */
        if (sup_write(w) != GMQ_OK)
            continue;
        if (gmq_buf_used(&w->out) > 0)
            ev_io_start(s->m->loop, &w->wio);
    }
}

void
sup_mark(gmq_wproc_t *w)
{
    if (gmq_list_empty(&w->flink))
        gmq_list_push_tail(&w->sup->flushq, &w->flink);
}

int
sup_write(gmq_wproc_t *w)
{
    ssize_t n = gmq_buf_write_fd(&w->out, w->fd);
    if (n < 0) {
        sup_lost(w, strerror(errno));
        return GMQ_ERR;
    }
    w->out_sent += (uint64_t) n;
    return GMQ_OK;
}

void
gmq_sup_send(gmq_wproc_t *w, gmq_req_t *req, const gmq_op_req_t *op)
{
    size_t before = gmq_buf_used(&w->out);
    req->frame_at = w->out_total;
    gmq_ipc_put_request(&w->out, req->id, op);
    w->out_total += gmq_buf_used(&w->out) - before;
    gmq_list_push_tail(&w->reqs, &req->wproc_link);
    sup_mark(w);
}

void
sup_put_control(gmq_wproc_t *w, uint32_t type, uint64_t req_id)
{
    gmq_ipc_put_control(&w->out, type, req_id);
    w->out_total += GMQ_IPC_HDR_LEN;
    sup_mark(w);
}

void
gmq_sup_cancel(gmq_wproc_t *w, uint64_t req_id)
{
    if (w->fd >= 0)
        sup_put_control(w, GMQ_IPC_CANCEL, req_id);
}

size_t
gmq_sup_backlog(const gmq_wproc_t *w)
{
    return gmq_buf_used(&w->out);
}

void
gmq_sup_send_settings(gmq_sup_t *s)
{
    gmq_op_settings_t set;
    gmq_op_settings_from_config(&set, &s->m->cfg);
    for (gmq_list_t *l = s->procs.next; l != &s->procs; l = l->next) {
        gmq_wproc_t *w = container_of(l, gmq_wproc_t, link);
        if (w->fd < 0 || w->state == GMQ_WP_STOPPING)
            continue;      /* a worker started later gets them in its arguments */
        size_t before = gmq_buf_used(&w->out);
        gmq_ipc_put_settings(&w->out, &set);
        w->out_total += gmq_buf_used(&w->out) - before;
        sup_mark(w);
    }
}

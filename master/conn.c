/*
 * conn.c - owns client connections: reading, the output queue written once
 * per loop iteration, parser resumes, closing at the end of the iteration,
 * and the once-a-second deadlines (TLS handshake, HTTP head, idle).
 */
#include "conn.h"
#include "master.h"
#include "sup.h"
#include "tls.h"
#include "common/log.h"

#include <openssl/ssl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONN_READ_CHUNK (64 * 1024)
#define CONN_READ_TURNS 16          /* reads per readiness event (fairness) */

static void conn_on_read(struct ev_loop *loop, ev_io *io, int revents);
static void conn_on_write(struct ev_loop *loop, ev_io *io, int revents);
static void conn_enqueue(gmq_conn_t *c);
static void conn_dispatch(gmq_conn_t *c);
static void conn_settle(gmq_conn_t *c, int closing);
static void conn_over_cap(gmq_conn_t *c);
static size_t conn_input_cap(const gmq_master_t *m);
static void conn_input_check(gmq_conn_t *c);

struct gmq_delivery_s {
    gmq_list_t link;            /* in c->deliveries, oldest first */
    uint64_t   out_end;         /* stream offset just past its frame; UINT64_MAX = not queued */
    uint64_t   id;
    int        confirm;
    char       topic[GMQ_NAME_MAX + 1];
    char       bind_key[GMQ_NAME_MAX + 1];
};

gmq_conn_t *
gmq_conn_new(gmq_master_t *m, int fd, gmq_proto_t proto)
{
    gmq_conn_t *c = gmq_xcalloc(1, sizeof(*c));
    c->m = m;
    c->fd = fd;
    c->proto = proto;
    c->id = ++m->next_conn_id;
    c->io = &gmq_conn_io_plain;
    c->accepted_ms = c->last_active_ms = gmq_mono_ms();
    c->authed = m->cfg.auth_token[0] == '\0';
    c->in_cap = conn_input_cap(m);
    gmq_buf_init(&c->in);
    gmq_buf_init(&c->out);
    gmq_list_init(&c->reqs);
    gmq_list_init(&c->deliveries);
    gmq_list_init(&c->flush_link);
    ev_io_init(&c->rio, conn_on_read, fd, EV_READ);
    ev_io_init(&c->wio, conn_on_write, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    gmq_list_push_tail(&m->conns, &c->link);
    m->nconns++;
    m->stat_conns_total++;
    if (proto == GMQ_PROTO_HTTP)
        gmq_http_conn_init(c);
    else
        gmq_tcp_conn_init(c);
    return c;
}

void
gmq_conn_start(gmq_conn_t *c)
{
    ev_io_start(c->m->loop, &c->rio);
}

/* bytes the io layer read ahead, which the socket will not signal */
static int
conn_pending(gmq_conn_t *c)
{
    return c->io->pending != NULL && c->io->pending(c);
}

static void
conn_on_read(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) revents;
    gmq_conn_t *c = io->data;
    int got = 0;
    int write_waits = c->tls_want == 1;    /* a TLS write waited for this readability */
    /* a short read drained the socket (level-triggered: more data signals
     * again), unless TLS holds bytes it read ahead, which nothing signals */
    size_t cap = c->in_cap;
    int drained = 0, again = 0;
    for (int i = 0; i < CONN_READ_TURNS && !c->dead && gmq_buf_used(&c->in) < cap; i++) {
        char *p = gmq_buf_reserve(&c->in, CONN_READ_CHUNK);
        ssize_t n = c->io->read(c, p, CONN_READ_CHUNK);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            gmq_conn_close(c);
            return;
        }
        if (n < 0) {
            /* TLS: a read that only finished the handshake (its tickets
             * written) wants another even with records read ahead; once */
            if (conn_pending(c) && !again++)
                continue;
            drained = 1;
            break;
        }
        again = 0;
        c->in.len += (size_t) n;
        got = 1;
        if ((size_t) n < CONN_READ_CHUNK && !conn_pending(c)) {
            drained = 1;
            break;
        }
    }
    if (c->tls_want == 2)
        ev_io_start(c->m->loop, &c->wio);
    if (write_waits && gmq_buf_used(&c->out) > 0)
        conn_enqueue(c);
    if (got && c->closing) {
        /* an error is on its way out and nothing more is parsed: drop the input */
        gmq_buf_reset(&c->in);
    } else if (got) {
        c->last_active_ms = gmq_loop_mono_ms();
        conn_dispatch(c);
        conn_input_check(c);
    }
    /* stopped for fairness or at the input cap (taken since) while TLS holds
     * records it read ahead: come back, the socket will not say so */
    if (!drained && !c->dead && !c->closing && ev_is_active(&c->rio) && conn_pending(c))
        ev_feed_event(loop, &c->rio, EV_READ);
}

/* the most input one connection may have buffered: a complete request of
 * the largest size and a read's worth more */
static size_t
conn_input_cap(const gmq_master_t *m)
{
    return (size_t) m->cfg.max_header + (size_t) m->cfg.max_line + (size_t) m->cfg.max_body * 3 +
           CONN_READ_CHUNK;
}

void
gmq_conn_reconfigure(gmq_conn_t *c)
{
    /* never lowered: input already buffered under the old limits must fit,
     * or the connection would wait for bytes it can no longer read */
    size_t cap = conn_input_cap(c->m);
    if (cap > c->in_cap)
        c->in_cap = cap;
    if (c->proto == GMQ_PROTO_TCP)
        gmq_tcp_conn_reconfigure(c);
    conn_input_check(c);
}

/* stop reading while the parser leaves that much unconsumed (a reply it
 * waits for, a paused mpub), start again once it took it */
static void
conn_input_check(gmq_conn_t *c)
{
    if (c->dead)
        return;
    int full = gmq_buf_used(&c->in) >= c->in_cap;
    if (full && !c->in_full) {
        c->in_full = 1;
        ev_io_stop(c->m->loop, &c->rio);
    } else if (!full && c->in_full) {
        c->in_full = 0;
        ev_io_start(c->m->loop, &c->rio);
        if (conn_pending(c))          /* read ahead: the socket will not say so */
            ev_feed_event(c->m->loop, &c->rio, EV_READ);
    }
}

static void
conn_dispatch(gmq_conn_t *c)
{
    if (c->proto == GMQ_PROTO_HTTP)
        gmq_http_on_data(c);
    else
        gmq_tcp_on_data(c);
}

static void
conn_on_write(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) revents;
    gmq_conn_t *c = io->data;
    if (c->tls_want == 2) {
        /* a TLS read was waiting for the socket to become writable */
        c->tls_want = 0;
        ev_io_stop(loop, io);
        conn_on_read(loop, &c->rio, EV_READ);
        if (c->dead)
            return;
    }
    gmq_conn_flush(c);
}

void
gmq_conn_send(gmq_conn_t *c, const void *p, size_t n)
{
    if (c->dead)
        return;
    gmq_buf_append(&c->out, p, n);
    conn_enqueue(c);
}

void
gmq_conn_schedule(gmq_conn_t *c)
{
    if (!c->dead)
        conn_enqueue(c);
}

void
gmq_conn_resume(gmq_conn_t *c)
{
    if (c->dead)
        return;
    c->resume = 1;
    conn_enqueue(c);
}

static void
conn_enqueue(gmq_conn_t *c)
{
    if (gmq_list_empty(&c->flush_link))
        gmq_list_push_tail(&c->m->flushq, &c->flush_link);
}

void
gmq_conn_run_queues(gmq_master_t *m)
{
    /* parsers first: what they answer at once is written in the same pass */
    for (gmq_list_t *l = m->flushq.next; l != &m->flushq; l = l->next) {
        gmq_conn_t *c = container_of(l, gmq_conn_t, flush_link);
        if (c->resume && !c->dead && !c->closing) {
            c->resume = 0;
            conn_dispatch(c);
            conn_input_check(c);
        }
    }
    while (!gmq_list_empty(&m->flushq)) {
        gmq_conn_t *c = container_of(m->flushq.next, gmq_conn_t, flush_link);
        gmq_list_remove(&c->flush_link);
        c->resume = 0;
        if (c->dead)
            continue;
        if (!ev_is_active(&c->wio))
            gmq_conn_flush(c);
        else if (gmq_buf_used(&c->out) > (size_t) m->cfg.max_output)
            conn_over_cap(c);     /* a client that does not read: the socket stays full */
    }
    while (!gmq_list_empty(&m->dead_conns))
        gmq_conn_free(container_of(m->dead_conns.next, gmq_conn_t, link));
}

void
gmq_conn_flush(gmq_conn_t *c)
{
    if (c->dead)
        return;
    while (gmq_buf_used(&c->out) > 0) {
        ssize_t n = c->io->write(c, gmq_buf_rptr(&c->out), gmq_buf_used(&c->out));
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            gmq_conn_close(c);
            return;
        }
        gmq_buf_consume(&c->out, (size_t) n);
        c->out_sent += (uint64_t) n;
    }
    if (!gmq_list_empty(&c->deliveries))
        conn_settle(c, 0);
    if (gmq_buf_used(&c->out) > 0) {
        if (gmq_buf_used(&c->out) > (size_t) c->m->cfg.max_output) {
            conn_over_cap(c);
            return;
        }
        if (c->tls_want == 1) {
            /* TLS needs the peer's bytes first (a handshake): the read watcher retries */
            ev_io_stop(c->m->loop, &c->wio);
            ev_io_start(c->m->loop, &c->rio);
        } else {
            ev_io_start(c->m->loop, &c->wio);
        }
    } else {
        ev_io_stop(c->m->loop, &c->wio);
        if (c->closing)
            gmq_conn_close(c);
    }
}

void
gmq_conn_close(gmq_conn_t *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    ev_io_stop(c->m->loop, &c->rio);
    ev_io_stop(c->m->loop, &c->wio);
    /* requests still at workers: forget the client, cancel waits */
    while (!gmq_list_empty(&c->reqs)) {
        gmq_req_t *req = container_of(c->reqs.next, gmq_req_t, conn_link);
        gmq_list_remove(&req->conn_link);
        req->conn = NULL;
        if (req->op == GMQ_OP_POP || req->op == GMQ_OP_DEAD)
            gmq_sup_cancel(req->wproc, req->id);
    }
    gmq_list_remove(&c->link);
    gmq_list_push_tail(&c->m->dead_conns, &c->link);
    c->m->nconns--;
}

void
gmq_conn_free(gmq_conn_t *c)
{
    gmq_list_remove(&c->link);
    gmq_list_remove(&c->flush_link);
    ev_io_stop(c->m->loop, &c->rio);
    ev_io_stop(c->m->loop, &c->wio);
    while (!gmq_list_empty(&c->reqs)) {
        gmq_req_t *req = container_of(c->reqs.next, gmq_req_t, conn_link);
        gmq_list_remove(&req->conn_link);
        req->conn = NULL;
    }
    if (c->proto == GMQ_PROTO_HTTP)
        gmq_http_conn_free(c);
    else
        gmq_tcp_conn_free(c);
    conn_settle(c, 1);       /* what never reached the client goes back */
    c->io->close(c);
    close(c->fd);
    gmq_buf_free(&c->in);
    gmq_buf_free(&c->out);
    free(c);
}

static void
conn_over_cap(gmq_conn_t *c)
{
    gmq_log_warn("connection %llu: %zu bytes unread by the client (max_output); closing",
                 (unsigned long long) c->id, gmq_buf_used(&c->out));
    gmq_conn_close(c);
}

gmq_delivery_t *
gmq_conn_delivery(gmq_conn_t *c, const char *topic, const char *bind_key, uint64_t id, int confirm)
{
    gmq_delivery_t *d = gmq_xcalloc(1, sizeof(*d));
    d->out_end = UINT64_MAX;
    d->id = id;
    d->confirm = confirm;
    snprintf(d->topic, sizeof(d->topic), "%s", topic);
    snprintf(d->bind_key, sizeof(d->bind_key), "%s", bind_key);
    gmq_list_push_tail(&c->deliveries, &d->link);
    return d;
}

void
gmq_conn_delivery_queued(gmq_conn_t *c, gmq_delivery_t *d)
{
    d->out_end = c->out_sent + gmq_buf_used(&c->out);
}

/* written deliveries are done (auto-ack ones acked now); at close, the
 * others are released back to their queues at once */
static void
conn_settle(gmq_conn_t *c, int closing)
{
    for (gmq_list_t *l = c->deliveries.next; l != &c->deliveries;) {
        gmq_delivery_t *d = container_of(l, gmq_delivery_t, link);
        l = l->next;
        int written = d->out_end != UINT64_MAX && d->out_end <= c->out_sent;
        if (!written && !closing)
            continue;
        if (written && d->confirm)
            gmq_master_settle(c->m, d->topic, d->bind_key, d->id, GMQ_OP_ACK);
        else if (!written)
            gmq_master_settle(c->m, d->topic, d->bind_key, d->id, GMQ_OP_RELEASE);
        gmq_list_remove(&d->link);
        free(d);
    }
}

void
gmq_conn_sweep(gmq_master_t *m)
{
    uint64_t now = gmq_mono_ms();
    uint64_t head_ms = (uint64_t) m->cfg.header_timeout * 1000;
    uint64_t idle_ms = (uint64_t) m->cfg.idle_timeout * 1000;
    uint64_t body_ms = (uint64_t) m->cfg.body_timeout * 1000;
    for (gmq_list_t *l = m->conns.next; l != &m->conns;) {
        gmq_conn_t *c = container_of(l, gmq_conn_t, link);
        l = l->next;
        if (c->ssl != NULL && !SSL_is_init_finished(c->ssl) && now - c->accepted_ms > head_ms) {
            gmq_log_debug("connection %llu: TLS handshake timed out", (unsigned long long) c->id);
            gmq_conn_close(c);
            continue;
        }
        if (c->proto == GMQ_PROTO_HTTP && c->u.http.head_started_ms != 0 &&
            now - c->u.http.head_started_ms > head_ms) {
            gmq_http_timeout(c, 0);
            continue;
        }
        if (c->proto == GMQ_PROTO_HTTP && c->u.http.body_started_ms != 0 &&
            now - c->u.http.body_started_ms > body_ms) {
            gmq_http_timeout(c, 1);
            continue;
        }
        /* waiting for a reply (a blocked pop) or subscribed to a channel is not idle */
        if (idle_ms > 0 && now - c->last_active_ms > idle_ms && gmq_list_empty(&c->reqs) &&
            gmq_buf_used(&c->out) == 0 &&
            !(c->proto == GMQ_PROTO_TCP && !gmq_list_empty(&c->u.tcp.subs))) {
            gmq_log_debug("connection %llu: idle for %d s (idle_timeout); closing",
                          (unsigned long long) c->id, m->cfg.idle_timeout);
            if (c->proto == GMQ_PROTO_TCP)
                gmq_tcp_idle_close(c);
            else
                gmq_conn_close(c);
        }
    }
}

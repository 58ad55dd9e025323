/*
 * tcp_mpub.c - mpub on the TCP protocol: its items are checked as their
 * bodies arrive and sent to the worker in chunks of up to
 * GMQ_MPUSH_CHUNK_BYTES, one at a time, so what is stored is always a
 * prefix of what was sent and the reply says exactly how much. The master
 * holds at most two chunks of an mpub; reading pauses behind them.
 */
#include "tcp_impl.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>

static void tcp_mpub_step(tcp_mpub_t *mp);
static void tcp_on_mpub_reply(gmq_req_t *req, const gmq_op_reply_t *rep, const gmq_error_t *err);
static void tcp_mpub_send(tcp_mpub_t *mp);
static void tcp_mpub_end(tcp_mpub_t *mp);

void
cmd_mpub(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    tcp_mpub_t *mp = gmq_xcalloc(1, sizeof(*mp));
    mp->conn = c;
    mp->resp = r;
    mp->total = ev->nbodies;
    gmq_buf_init(&mp->items);
    gmq_buf_init(&mp->ids);
    gmq_error_t err;
    if (gmq_ops_check_topic(ev->argv[0].p, ev->argv[0].len, &err) != GMQ_OK)
        mp->err = err;     /* answered once every body is read */
    else
        snprintf(mp->topic, sizeof(mp->topic), "%.*s", (int) ev->argv[0].len, ev->argv[0].p);
    c->u.tcp.mpub = mp;
}

void
tcp_mpub_body(gmq_conn_t *c, tcp_mpub_t *mp, const gmq_tcp_event_t *ev)
{
    mp->nread++;
    if (mp->err.code == GMQ_E_NONE) {
        gmq_ops_json_push_t p;
        gmq_error_t err = { GMQ_E_NONE, "" };
        gmq_ops_json_push_init(&p);
        gmq_op_item_t it = { 0 };
        if (gmq_ops_json_push_parse(&p, ev->body, ev->body_len, &err) == GMQ_OK && !p.has_body)
            gmq_error_set(&err, GMQ_E_INVALID_PUSH, "body must be a string");
        else if (err.code == GMQ_E_NONE && p.has_delay && (p.delay < 0 || p.delay > c->m->cfg.max_delay))
            gmq_error_set(&err, GMQ_E_INVALID_PUSH, "delay must be seconds between 0 and max_delay");
        if (err.code == GMQ_E_NONE) {
            it.delay_ms = p.has_delay ? (uint64_t) p.delay * 1000 : 0;
            it.route_key.p = p.route_key.data ? p.route_key.data : "";
            it.route_key.len = p.route_key.len;
            it.body.p = p.body.data ? p.body.data : "";
            it.body.len = p.body.len;
            if (gmq_ops_check_item(c->m, &it, &err) == GMQ_OK) {
                gmq_op_item_put(&mp->items, &it);
                gmq_buf_printf(&mp->ids, mp->nread == 1 ? "[%llu" : ",%llu", (unsigned long long) it.id);
            }
        }
        if (err.code != GMQ_E_NONE) {
            /* items not yet sent are dropped: what is stored stays a prefix */
            gmq_error_set(&mp->err, err.code, "item %u: %s", mp->nread, err.msg);
            gmq_buf_reset(&mp->items);
        }
        gmq_ops_json_push_free(&p);
    }
    if (mp->nread == mp->total) {
        gmq_buf_append_str(&mp->ids, "]");
        c->u.tcp.mpub = NULL;    /* from here on mp is owned by its chunk in flight, if any */
    }
    tcp_mpub_step(mp);
}

/* A fatal error stops reading while the mpub waits for bodies: its reply
 * (ahead of the fatal one) says what was stored, once a chunk in flight is
 * answered, so the error that closes the connection is not held behind a
 * reply that would never come. */
void
tcp_mpub_abort(tcp_mpub_t *mp, int code, const char *why)
{
    mp->aborted = 1;
    if (mp->err.code == GMQ_E_NONE)
        gmq_error_set(&mp->err, (gmq_ecode_t) code, "item %u: %s", mp->nread + 1, why);
    gmq_buf_reset(&mp->items);
    mp->conn->u.tcp.mpub = NULL;   /* owned by its chunk in flight, if any */
    tcp_mpub_step(mp);
}

void
tcp_mpub_free(tcp_mpub_t *mp)
{
    gmq_buf_free(&mp->items);
    gmq_buf_free(&mp->ids);
    free(mp);
}

/* ---- helpers ---- */

/* the mpub's next step once a body was read or a chunk answered: send a
 * chunk when one is full (or the bodies are all read), pause reading while
 * a full chunk waits behind the one in flight, answer when all is done */
static void
tcp_mpub_step(tcp_mpub_t *mp)
{
    int reading = !mp->aborted && mp->nread < mp->total;
    gmq_conn_t *c = mp->conn;
    if (mp->inflight) {
        if (reading && gmq_buf_used(&mp->items) >= GMQ_MPUSH_CHUNK_BYTES)
            c->u.tcp.paused = 1;    /* the master holds at most two chunks of an mpub */
        return;
    }
    if (c->u.tcp.paused) {
        c->u.tcp.paused = 0;
        gmq_conn_resume(c);
    }
    if (mp->err.code == GMQ_E_NONE && gmq_buf_used(&mp->items) > 0 &&
        (!reading || gmq_buf_used(&mp->items) >= GMQ_MPUSH_CHUNK_BYTES)) {
        tcp_mpub_send(mp);
        if (mp->inflight)
            return;
    }
    if (!reading)
        tcp_mpub_end(mp);
}

static void
tcp_on_mpub_reply(gmq_req_t *req, const gmq_op_reply_t *rep, const gmq_error_t *err)
{
    tcp_mpub_t *mp = req->ctx;
    mp->inflight = 0;
    if (req->conn == NULL || req->conn->dead) {
        tcp_mpub_free(mp);     /* the client is gone (its connection let go of mp) */
        return;
    }
    if (rep != NULL)
        mp->stored += rep->count;
    if (rep == NULL && mp->err.code == GMQ_E_NONE)
        mp->err = *err;
    else if (rep != NULL && !rep->ok && mp->err.code == GMQ_E_NONE)
        gmq_error_set(&mp->err, rep->ecode, "%.*s", (int) rep->msg.len, rep->msg.p);
    if (mp->err.code != GMQ_E_NONE)
        gmq_buf_reset(&mp->items);
    tcp_mpub_step(mp);
}

/* send the buffered items (at least one, up to GMQ_MPUSH_CHUNK_BYTES) as one chunk */
static void
tcp_mpub_send(tcp_mpub_t *mp)
{
    gmq_op_req_t op = { .op = GMQ_OP_MPUSH };
    gmq_op_req_t view = { .op = GMQ_OP_MPUSH };
    view.items.p = gmq_buf_rptr(&mp->items);
    view.items.len = gmq_buf_used(&mp->items);
    size_t end = 0;
    gmq_op_item_t it;
    while (op.nitems == 0 || end < GMQ_MPUSH_CHUNK_BYTES) {
        size_t next = end;
        if (gmq_op_item_next(&view, &next, &it) != GMQ_OK)
            break;
        end = next;
        op.nitems++;
    }
    op.items.p = view.items.p;
    op.items.len = end;
    gmq_error_t err;
    if (gmq_ops_submit(mp->conn->m, mp->conn, mp->topic, &op, tcp_on_mpub_reply, mp, &err) == NULL) {
        mp->err = err;
        gmq_buf_reset(&mp->items);
        return;
    }
    gmq_buf_consume(&mp->items, end);    /* copied into the worker's frame */
    mp->inflight = 1;
    mp->nsent += op.nitems;
}

static void
tcp_mpub_end(tcp_mpub_t *mp)
{
    gmq_conn_t *c = mp->conn;
    if (mp->err.code != GMQ_E_NONE)
        tcp_fail(c, mp->resp, 0, mp->err.code, "%s (%u of %u stored)", mp->err.msg, mp->stored,
                 mp->total);
    else
        tcp_finish(c, mp->resp, GMQ_TCP_RESULT, mp->ids.data, mp->ids.len);
    tcp_mpub_free(mp);
}

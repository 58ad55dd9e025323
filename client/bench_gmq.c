/*
 * bench_gmq.c - gmq-bench's gmq driver, on libgmq's asynchronous API: one
 * gmqAsyncContext (one connection) per bench connection, all on the run's
 * libev loop through the libev adapter. Reconnecting is off: a lost
 * connection ends the run rather than being hidden by retries. Set-up is a
 * ping (TCP, TLS and auth done) and the declaration of the queue.
 */
#include "client/bench.h"

#include <gmq/adapters/libev.h>
#include <gmq/gmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    gmq_bench_conn_t *c;
    gmqAsyncContext  *ac;
    int               setup;      /* set-up answers still due */
} bench_gmq_conn_t;

static int  bench_gmq_open(gmq_bench_conn_t *c);
static void bench_gmq_push(gmq_bench_conn_t *c, gmq_bench_slot_t *s, const char *body, size_t len);
static void bench_gmq_pop(gmq_bench_conn_t *c, gmq_bench_slot_t *s);
static void bench_gmq_ack(gmq_bench_conn_t *c, gmq_bench_slot_t *s);
static void bench_gmq_close(gmq_bench_conn_t *c);
static void bench_gmq_on_setup(gmqAsyncContext *ac, gmqReply *r, void *privdata);
static void bench_gmq_on_push(gmqAsyncContext *ac, gmqReply *r, void *privdata);
static void bench_gmq_on_pop(gmqAsyncContext *ac, gmqReply *r, void *privdata);
static void bench_gmq_on_ack(gmqAsyncContext *ac, gmqReply *r, void *privdata);
static void bench_gmq_on_event(gmqAsyncContext *ac, int event, const char *node, const char *detail,
                         void *privdata);
static void bench_gmq_answer(gmq_bench_slot_t *s, int rc, int got, const gmqReply *r);

const gmq_bench_driver_t gmq_bench_gmq = {
    .name = "gmq", .default_port = "9503",
    .open = bench_gmq_open, .push = bench_gmq_push, .pop = bench_gmq_pop, .ack = bench_gmq_ack,
    .close = bench_gmq_close,
};

/* ---- the driver ---- */

static int
bench_gmq_open(gmq_bench_conn_t *c)
{
    gmq_bench_t *b = c->b;
    const gmq_bench_opts_t *o = b->o;
    gmqOptions opt;
    gmqOptionsInit(&opt);
    opt.reconnect = 0;
    opt.connect_timeout_ms = GMQ_BENCH_CONNECT_S * 1000;
    opt.io_timeout_ms = 2 * GMQ_BENCH_STALL_S * 1000;     /* the stall check speaks first */
    opt.auth_token = o->token;
    opt.tls = o->tls;
    opt.tls_ca_file = o->cacert;
    opt.tls_cert_file = o->cert;
    opt.tls_key_file = o->key;

    bench_gmq_conn_t *g = gmq_xcalloc(1, sizeof(*g));
    g->c = c;
    c->drv = g;
    g->ac = gmqAsyncConnect(o->addr, &opt);
    if (g->ac == NULL || gmqAsyncErr(g->ac) != GMQ_OK) {
        gmq_bench_fail(b, "%s: %s", o->addr, g->ac ? gmqAsyncErrstr(g->ac) : "out of memory");
        return GMQ_ERR;
    }
    gmqAsyncSetEventCallback(g->ac, bench_gmq_on_event, g);
    if (gmqLibevAttach(b->loop, g->ac) != GMQ_OK) {
        gmq_bench_fail(b, "%s: cannot attach to the event loop", o->addr);
        return GMQ_ERR;
    }
    gmqRequest ping = { .call = GMQ_CALL_PING };
    gmqRequest declare = { .call = GMQ_CALL_DECLARE, .topic = b->topic_names[c->topic],
                           .bind_key = o->queue };
    g->setup = 2;
    if (gmqAsyncSend(g->ac, &ping, bench_gmq_on_setup, g) != GMQ_OK ||
        gmqAsyncSend(g->ac, &declare, bench_gmq_on_setup, g) != GMQ_OK) {
        gmq_bench_fail(b, "%s: cannot send to the node", o->addr);
        return GMQ_ERR;
    }
    return GMQ_OK;
}

static void
bench_gmq_push(gmq_bench_conn_t *c, gmq_bench_slot_t *s, const char *body, size_t len)
{
    bench_gmq_conn_t *g = c->drv;
    /* the queue's bind key is the route key: mode 1 routes it there */
    int rc = gmqAsyncPub(g->ac, c->b->topic_names[c->topic], c->b->o->queue, body, len, 0,
                         bench_gmq_on_push, s);
    if (rc != GMQ_OK)
        bench_gmq_answer(s, rc, 0, NULL);
}

static void
bench_gmq_pop(gmq_bench_conn_t *c, gmq_bench_slot_t *s)
{
    bench_gmq_conn_t *g = c->drv;
    int rc = gmqAsyncPop(g->ac, c->b->topic_names[c->topic], c->b->o->queue, GMQ_BENCH_POP_WAIT_S,
                         bench_gmq_on_pop, s);
    if (rc != GMQ_OK)
        bench_gmq_answer(s, rc, 0, NULL);
}

static void
bench_gmq_ack(gmq_bench_conn_t *c, gmq_bench_slot_t *s)
{
    bench_gmq_conn_t *g = c->drv;
    gmqMessage *m = s->msg;
    /* the request copies what it needs of the message */
    int rc = gmqAsyncAck(g->ac, m, bench_gmq_on_ack, s);
    s->msg = NULL;
    gmqMessageFree(m);
    if (rc != GMQ_OK)
        bench_gmq_answer(s, rc, 0, NULL);
}

static void
bench_gmq_close(gmq_bench_conn_t *c)
{
    bench_gmq_conn_t *g = c->drv;
    /* pending callbacks get GMQ_ERR_CLOSED now; the run ignores them (closing) */
    gmqAsyncFree(g->ac);
    for (int i = 0; i < c->b->o->pipeline; i++) {
        gmqMessageFree(c->slots[i].msg);
        c->slots[i].msg = NULL;
    }
    free(g);
    c->drv = NULL;
}

/* ---- answers ---- */

static void
bench_gmq_on_setup(gmqAsyncContext *ac, gmqReply *r, void *privdata)
{
    bench_gmq_conn_t *g = privdata;
    gmq_bench_t *b = g->c->b;
    (void) ac;
    if (b->closing)
        return;
    /* an existing queue answers E_INVALID_DECLARE: fine */
    int exists = r->call == GMQ_CALL_DECLARE && strcmp(r->errcode, "E_INVALID_DECLARE") == 0;
    if (r->rc != GMQ_OK && !exists) {
        if (r->call == GMQ_CALL_DECLARE)
            gmq_bench_fail(b, "%s: queue %s %s: %s", b->o->addr, b->topic_names[g->c->topic],
                           b->o->queue, r->errstr);
        else
            gmq_bench_fail(b, "%s: %s: %s", b->o->addr, gmqStrerror(r->rc), r->errstr);
        return;
    }
    if (--g->setup == 0)
        gmq_bench_ready(g->c);
}

static void
bench_gmq_on_push(gmqAsyncContext *ac, gmqReply *r, void *privdata)
{
    (void) ac;
    bench_gmq_answer(privdata, r->rc, 0, r);
}

static void
bench_gmq_on_pop(gmqAsyncContext *ac, gmqReply *r, void *privdata)
{
    gmq_bench_slot_t *s = privdata;
    (void) ac;
    if (r->rc == GMQ_OK && r->msg != NULL) {
        s->msg = gmqReplyTakeMessage(r);
        s->id = ((gmqMessage *) s->msg)->id;
        bench_gmq_answer(s, GMQ_OK, 1, r);
    } else {
        bench_gmq_answer(s, r->rc == GMQ_NO_MESSAGE ? GMQ_OK : r->rc, 0, r);
    }
}

static void
bench_gmq_on_ack(gmqAsyncContext *ac, gmqReply *r, void *privdata)
{
    (void) ac;
    bench_gmq_answer(privdata, r->rc, 0, r);
}

/* a lost connection ends the run (the calls on it end with errors after this) */
static void
bench_gmq_on_event(gmqAsyncContext *ac, int event, const char *node, const char *detail, void *privdata)
{
    bench_gmq_conn_t *g = privdata;
    (void) ac;
    if (event != GMQ_EVENT_DISCONNECTED)
        return;
    if (g->c->ready)
        gmq_bench_fail(g->c->b, "connection %d to %s lost: %s", g->c->index, node, detail);
    else
        gmq_bench_fail(g->c->b, "%s: %s", node, detail);     /* refused while setting up: auth */
}

static void
bench_gmq_answer(gmq_bench_slot_t *s, int rc, int got, const gmqReply *r)
{
    if (s->conn->b->closing)
        return;
    if (rc == GMQ_OK) {
        gmq_bench_done(s, got, NULL);
        return;
    }
    char err[600];
    snprintf(err, sizeof(err), "%s%s%s", gmqStrerror(rc), r && r->errstr[0] ? ": " : "",
             r ? r->errstr : "");
    gmq_bench_done(s, 0, err);
}

/*
 * async.c - libgmq's asynchronous context (gmqAsyncContext): the nodes (one
 * address, or etcd's list kept current by client/discovery's watch thread
 * and polled here every 100 ms), a command link per node and a link per
 * node for each consumer, the calls waiting for a link (routed by smooth
 * weighted round-robin, pinned ones to their node), retries with their
 * budget, the one timer asked of the event-loop adapter, and the public
 * gmqAsync* functions. Links and consumers are freed at the end of the
 * outermost entry point, never inside a callback. The node list's links,
 * routing and consumers' pops are nodes.c's.
 */
#include "client/lib.h"
#include "common/net.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gmqAsyncContext *async_new(const gmqOptions *opt);
static void  async_error(gmqAsyncContext *ac, int rc, const char *fmt, ...) GMQ_PRINTF(3, 4);
static int   async_tls(gmqAsyncContext *ac);
static void  async_expire(gmqAsyncContext *ac, uint64_t now);
static void  async_reap(gmqAsyncContext *ac);
static void  async_schedule(gmqAsyncContext *ac);
static void  async_destroy(gmqAsyncContext *ac);
static int   async_idle(const gmqAsyncContext *ac);
static void  async_user_done(gmq_call_t *c, gmqReply *r);
static void  async_channels_changed(gmqAsyncContext *ac, gmq_call_t *c, const gmq_link_t *from);

uint64_t
gmq_async_now(void)
{
    return gmq_mono_ms();
}

/* ---- contexts ---- */

gmqAsyncContext *
gmqAsyncConnect(const char *addr, const gmqOptions *opt)
{
    gmqAsyncContext *ac = async_new(opt);
    char host[256], port[32];
    if (addr == NULL || gmq_hostport_split(addr, host, sizeof(host), port, sizeof(port)) != GMQ_OK ||
        strlen(addr) >= GMQ_LIB_NODE_MAX) {
        async_error(ac, GMQ_ERR_ARGS, "bad address %s: use host:port", addr ? addr : "(null)");
        return ac;
    }
    if (async_tls(ac) != GMQ_OK)
        return ac;
    gmq_discovery_node_t n;
    memset(&n, 0, sizeof(n));
    snprintf(n.key, sizeof(n.key), "%s", addr);
    snprintf(n.tcp_addr, sizeof(n.tcp_addr), "%s", addr);
    n.weight = 1;
    gmq_async_set_nodes(ac, &n, 1);
    return ac;
}

gmqAsyncContext *
gmqAsyncConnectEtcd(const char *endpoints, const gmqOptions *opt)
{
    gmqAsyncContext *ac = async_new(opt);
    char err[300];
    if (async_tls(ac) != GMQ_OK)
        return ac;
    ac->disc = gmq_discovery_new(endpoints ? endpoints : "", ac->opt.etcd_ca_file,
                                 ac->opt.etcd_timeout_ms, err, sizeof(err));
    if (ac->disc == NULL) {
        async_error(ac, GMQ_ERR_ARGS, "bad etcd endpoints: %s", err);
        return ac;
    }
    /* listed now; a context whose etcd is down keeps trying (the watch) */
    if (gmq_discovery_refresh(ac->disc, err, sizeof(err)) != GMQ_OK)
        async_error(ac, GMQ_ERR_DISCOVERY, "etcd: %s", err);
    gmq_discovery_watch_start(ac->disc);
    gmq_async_poll_discovery(ac);
    if (ac->err == GMQ_OK && ac->nnodes == 0)
        async_error(ac, GMQ_ERR_DISCOVERY, "no node is registered in etcd under /gmq/node-");
    return ac;
}

int
gmqAsyncErr(const gmqAsyncContext *ac)
{
    return ac->err;
}

const char *
gmqAsyncErrstr(const gmqAsyncContext *ac)
{
    return ac->errstr;
}

int
gmqAsyncSetEvents(gmqAsyncContext *ac, const gmqAsyncEvents *ev)
{
    if (ac->attached)
        return GMQ_ERR_STATE;
    ac->ev = *ev;
    ac->attached = 1;
    gmq_async_enter(ac);
    for (gmq_list_t *p = ac->links.next; p != &ac->links; p = p->next)
        gmq_link_connect(container_of(p, gmq_link_t, link));
    gmq_async_leave(ac);
    return GMQ_OK;
}

void
gmqAsyncHandleFd(gmqAsyncContext *ac, void *token, int events)
{
    gmq_link_t *l = token;
    gmq_async_enter(ac);
    if (l->state != GMQ_LINK_CLOSED)
        gmq_link_on_events(l, events);
    gmq_async_leave(ac);
}

void
gmqAsyncHandleTimer(gmqAsyncContext *ac)
{
    gmq_async_enter(ac);
    ac->timer_at = 0;
    uint64_t now = gmq_async_now();
    gmq_async_poll_discovery(ac);
    for (gmq_list_t *p = ac->links.next; p != &ac->links; p = p->next) {
        gmq_link_t *l = container_of(p, gmq_link_t, link);
        if (l->state != GMQ_LINK_CLOSED)
            gmq_link_on_time(l, now);
    }
    async_expire(ac, now);
    gmq_async_leave(ac);
}

void
gmqAsyncSetEventCallback(gmqAsyncContext *ac, gmqEventCallback *cb, void *privdata)
{
    ac->event_cb = cb;
    ac->event_priv = privdata;
}

void
gmqAsyncSetChannelCallback(gmqAsyncContext *ac, gmqChannelCallback *cb, void *privdata)
{
    ac->chan_cb = cb;
    ac->chan_priv = privdata;
}

int
gmqAsyncSend(gmqAsyncContext *ac, const gmqRequest *req, gmqCallback *cb, void *privdata)
{
    char err[300];
    gmq_async_enter(ac);
    int rc = gmq_async_send_fn(ac, req, async_user_done, cb, privdata, err, sizeof(err));
    gmq_async_leave(ac);
    return rc;
}

int
gmqAsyncPub(gmqAsyncContext *ac, const char *topic, const char *route_key, const void *body,
            size_t len, unsigned delay_s, gmqCallback *cb, void *privdata)
{
    gmqRequest r = { .call = GMQ_CALL_PUB, .topic = topic, .bind_key = route_key, .body = body,
                     .len = len, .delay_s = delay_s };
    return gmqAsyncSend(ac, &r, cb, privdata);
}

int
gmqAsyncPop(gmqAsyncContext *ac, const char *topic, const char *bind_key, int timeout_s,
            gmqCallback *cb, void *privdata)
{
    gmqRequest r = { .call = GMQ_CALL_POP, .topic = topic, .bind_key = bind_key,
                     .timeout_s = timeout_s };
    return gmqAsyncSend(ac, &r, cb, privdata);
}

int
gmqAsyncAck(gmqAsyncContext *ac, const gmqMessage *m, gmqCallback *cb, void *privdata)
{
    if (m == NULL)
        return GMQ_ERR_ARGS;
    gmqRequest r = { .call = GMQ_CALL_ACK, .msg = m };
    return gmqAsyncSend(ac, &r, cb, privdata);
}

int
gmqAsyncConsume(gmqAsyncContext *ac, const char *topic, const char *bind_key, gmqCallback *cb,
                void *privdata)
{
    if (ac->closing || ac->disconnecting)
        return GMQ_ERR_STATE;
    /* the same checks as a pop */
    gmqRequest req = { .call = GMQ_CALL_POP, .topic = topic, .bind_key = bind_key, .timeout_s = -1 };
    char err[300];
    int rc;
    gmq_call_t *probe = gmq_call_new(ac, &req, &rc, err, sizeof(err));
    if (probe == NULL)
        return rc;
    gmq_consumer_t *k = gmq_xcalloc(1, sizeof(*k));
    k->id = ++ac->next_consumer;
    memcpy(k->topic, probe->topic, sizeof(k->topic));
    memcpy(k->bind_key, probe->bind_key, sizeof(k->bind_key));
    gmq_call_free(probe);
    k->cb = cb;
    k->privdata = privdata;
    gmq_list_push_tail(&ac->consumers, &k->link);
    gmq_async_enter(ac);
    for (size_t i = 0; i < ac->nnodes; i++)
        gmq_async_consumer_link(ac, k, &ac->nodes[i]);
    gmq_async_leave(ac);
    return k->id;
}

void
gmqAsyncStopConsume(gmqAsyncContext *ac, int consumer_id)
{
    gmq_async_enter(ac);
    for (gmq_list_t *p = ac->consumers.next; p != &ac->consumers; p = p->next) {
        gmq_consumer_t *k = container_of(p, gmq_consumer_t, link);
        if (k->id != consumer_id || k->stopped)
            continue;
        k->stopped = 1;
        /* its connections close: a waiting pop cannot be taken back otherwise */
        for (gmq_list_t *q = ac->links.next; q != &ac->links; q = q->next) {
            gmq_link_t *l = container_of(q, gmq_link_t, link);
            if (l->consumer == k && l->state != GMQ_LINK_CLOSED)
                gmq_link_close(l, 1, "consumer stopped");
        }
        for (gmq_list_t *q = ac->delayed.next; q != &ac->delayed;) {
            gmq_call_t *c = container_of(q, gmq_call_t, link);
            q = q->next;
            if (c->consumer == k) {
                gmq_list_remove(&c->link);
                gmq_call_free(c);
            }
        }
    }
    gmq_async_leave(ac);
}

void
gmqAsyncDisconnect(gmqAsyncContext *ac)
{
    gmq_async_enter(ac);
    if (!ac->disconnecting) {
        for (gmq_list_t *p = ac->consumers.next; p != &ac->consumers; p = p->next) {
            gmq_consumer_t *k = container_of(p, gmq_consumer_t, link);
            if (!k->stopped)
                gmqAsyncStopConsume(ac, k->id);
        }
        ac->disconnecting = 1;
    }
    gmq_async_leave(ac);
}

void
gmqAsyncFree(gmqAsyncContext *ac)
{
    if (ac == NULL)
        return;
    if (ac->depth > 0) {
        ac->free_pending = 1;
        ac->closing = 1;
        return;
    }
    async_destroy(ac);
}

/* ---- entry points ---- */

void
gmq_async_enter(gmqAsyncContext *ac)
{
    ac->depth++;
}

/* the outermost one routes what waits, frees closed links and stopped
 * consumers, and asks the adapter for the next timer */
void
gmq_async_leave(gmqAsyncContext *ac)
{
    if (ac->depth > 1) {
        ac->depth--;
        return;
    }
    if (!ac->free_pending) {
        while (gmq_async_route(ac) > 0)
            ;
        async_reap(ac);
    }
    ac->depth = 0;
    if (ac->free_pending || (ac->disconnecting && async_idle(ac))) {
        async_destroy(ac);
        return;
    }
    async_schedule(ac);
}

int
gmq_async_send_fn(gmqAsyncContext *ac, const gmqRequest *req, gmq_call_done_fn done,
                  gmqCallback *cb, void *privdata, char *err, size_t errlen)
{
    int rc;
    if (req == NULL)
        return GMQ_ERR_ARGS;
    if (ac->closing || ac->disconnecting) {
        snprintf(err, errlen, "the context is %s", ac->closing ? "being freed" : "disconnecting");
        return GMQ_ERR_STATE;
    }
    if (ac->err == GMQ_ERR_ARGS || ac->err == GMQ_ERR_TLS || (ac->nnodes == 0 && ac->disc == NULL)) {
        snprintf(err, errlen, "%s", ac->errstr);
        return ac->err ? ac->err : GMQ_ERR_STATE;
    }
    gmq_call_t *c = gmq_call_new(ac, req, &rc, err, errlen);
    if (c == NULL)
        return rc;
    gmq_async_poll_discovery(ac);           /* route by the node list as it is now */
    c->done = done;
    c->cb = cb;
    c->privdata = privdata;
    gmq_async_requeue(c, 0);
    c->need_since = gmq_async_now();
    /* one node that refused us for good (TLS, auth): a new request tries again
     * now, so it gets that answer now rather than after retry_timeout_ms */
    gmq_link_t *l = ac->nnodes == 1 ? ac->node_links[0] : NULL;
    if (l != NULL && l->state == GMQ_LINK_BACKOFF && l->fail_rc != GMQ_ERR_IO && l->fail_rc != 0)
        gmq_link_connect(l);
    return GMQ_OK;
}

/* ---- calls ---- */

void
gmq_async_requeue(gmq_call_t *c, uint64_t not_before)
{
    c->on = NULL;
    c->out_start = c->out_end = 0;
    c->not_before = not_before;
    if (c->need_since == 0)
        c->need_since = gmq_async_now();
    gmq_list_push_tail(c->pin[0] || not_before ? &c->ac->delayed : &c->ac->pending, &c->link);
}

void
gmq_async_finish(gmq_call_t *c, gmqReply *r)
{
    r->privdata = c->privdata;
    if (c->consumer != NULL)
        gmq_async_consumer_done(c, r);
    else if (c->done != NULL)
        c->done(c, r);
    else
        gmqReplyFree(r);
    gmq_call_free(c);
}

void
gmq_async_answer(gmq_call_t *c, gmqReply *r)
{
    gmqAsyncContext *ac = c->ac;
    if (r->rc == GMQ_ERR_SERVER) {
        int cls = gmq_call_classify(r->errcode, r->errstr);
        int again = cls == GMQ_RETRY_SAFE ||
                    (cls == GMQ_RETRY_MAYBE && (c->idempotent || (c->publish && ac->opt.retry_unknown)));
        uint64_t now = gmq_async_now();
        if (c->retry_since == 0)
            c->retry_since = now;
        if (again && ac->opt.reconnect && !ac->disconnecting && !ac->closing &&
            now < c->retry_since + (uint64_t) ac->opt.retry_timeout_ms) {
            /* the node will take it again (a worker restarting, a node stopping) */
            c->resent |= cls == GMQ_RETRY_MAYBE;
            gmqReplyFree(c->last);
            c->last = r;
            c->attempts++;
            int delay = ac->opt.backoff_min_ms;
            for (int i = 1; i < c->attempts && delay < ac->opt.backoff_max_ms; i++)
                delay *= 2;
            gmq_async_requeue(c, now + (uint64_t) (delay < ac->opt.backoff_max_ms ? delay
                                                                            : ac->opt.backoff_max_ms));
            return;
        }
        if (cls == GMQ_RETRY_MAYBE && !again)
            r->rc = GMQ_ERR_UNKNOWN;
        /* an ack (touch, release, ...) sent again and refused: the first one may have
         * been applied ("not exist" because it was), so its outcome is unknown */
        int reads = c->call == GMQ_CALL_POP || c->call == GMQ_CALL_DEAD || c->call == GMQ_CALL_PEEK ||
                    c->call == GMQ_CALL_STATS || c->call == GMQ_CALL_PING;
        if (c->resent && !reads)
            r->rc = GMQ_ERR_UNKNOWN;
        if (c->resent) {
            size_t n = strlen(r->errstr);
            static const char note[] = " (sent again after a lost answer: the first attempt's "
                                       "outcome is unknown)";
            r->errstr = gmq_xrealloc(r->errstr, n + sizeof(note));
            memcpy(r->errstr + n, note, sizeof(note));
        }
    }
    if (r->rc == GMQ_OK && (c->call == GMQ_CALL_SUBSCRIBE || c->call == GMQ_CALL_UNSUBSCRIBE))
        async_channels_changed(ac, c, c->on);
    gmq_async_finish(c, r);
}

/* ---- events from links ---- */

void
gmq_async_link_ready(gmq_link_t *l)
{
    gmq_async_event(l->ac, GMQ_EVENT_CONNECTED, l->node, l->addr);
}

void
gmq_async_link_lost(gmq_link_t *l, const char *why)
{
    gmq_async_event(l->ac, GMQ_EVENT_DISCONNECTED, l->node, why);
}

void
gmq_async_link_failed(gmq_link_t *l, int rc, const char *errcode, const char *text)
{
    gmqAsyncContext *ac = l->ac;
    if (ac->nnodes != 1 || l->consumer != NULL)
        return;
    /* one node that refuses us: what waits for it gets the answer now (taken
     * first: a callback may send again, which waits for the next attempt) */
    gmq_list_t calls;
    gmq_list_init(&calls);
    while (!gmq_list_empty(&ac->pending)) {
        gmq_list_t *p = ac->pending.next;
        gmq_list_remove(p);
        gmq_list_push_tail(&calls, p);
    }
    while (!gmq_list_empty(&calls)) {
        gmq_call_t *c = container_of(calls.next, gmq_call_t, link);
        gmq_list_remove(&c->link);
        gmqReply *r = gmq_call_reply_new(c, rc, "%s", text);
        snprintf(r->errcode, sizeof(r->errcode), "%s", errcode);
        gmq_async_finish(c, r);
    }
}

void
gmq_async_channel(gmqAsyncContext *ac, const char *body, size_t len)
{
    if (ac->chan_cb != NULL)
        ac->chan_cb(ac, body, len, ac->chan_priv);
}

int
gmq_async_backoff(gmqAsyncContext *ac, int cur)
{
    int next = cur <= 0 ? ac->opt.backoff_min_ms : cur * 2;
    if (next > ac->opt.backoff_max_ms)
        next = ac->opt.backoff_max_ms;
    /* +-20% so that many clients of a restarted node do not come back in step */
    ac->rand ^= ac->rand << 13;
    ac->rand ^= ac->rand >> 7;
    ac->rand ^= ac->rand << 17;
    int span = next / 5;
    if (span > 0)
        next += (int) (ac->rand % (uint64_t) (2 * span + 1)) - span;
    return next > 0 ? next : 1;
}

void
gmq_async_watch(gmq_link_t *l, int events)
{
    gmqAsyncContext *ac = l->ac;
    if (!ac->attached || l->fd < 0)
        return;
    if (l->watcher == NULL) {
        l->watcher = ac->ev.add_fd(ac->ev.data, l->fd, l);
        l->events = 0;
        if (l->watcher == NULL)
            return;
    }
    if (events != l->events) {
        ac->ev.set_fd(ac->ev.data, l->watcher, events);
        l->events = events;
    }
}

void
gmq_async_unwatch(gmq_link_t *l)
{
    if (l->watcher != NULL) {
        l->ac->ev.del_fd(l->ac->ev.data, l->watcher);
        l->watcher = NULL;
    }
    l->events = 0;
}

/* ---- static helpers ---- */

static gmqAsyncContext *
async_new(const gmqOptions *opt)
{
    gmqAsyncContext *ac = gmq_xcalloc(1, sizeof(*ac));
    gmq_call_options(&ac->opt, opt);
    gmq_list_init(&ac->links);
    gmq_list_init(&ac->pending);
    gmq_list_init(&ac->delayed);
    gmq_list_init(&ac->consumers);
    ac->rand = gmq_now_ms() ^ ((uint64_t) (uintptr_t) ac << 16) ^ 0x9e3779b97f4a7c15ull;
    return ac;
}

static void
async_error(gmqAsyncContext *ac, int rc, const char *fmt, ...)
{
    va_list ap;
    ac->err = rc;
    va_start(ap, fmt);
    vsnprintf(ac->errstr, sizeof(ac->errstr), fmt, ap);
    va_end(ap);
}

/* the TLS context: CA, client certificate and key, verification */
static int
async_tls(gmqAsyncContext *ac)
{
    gmqOptions *o = &ac->opt;
    if (!o->tls)
        return GMQ_OK;
    char e[256] = "";
    ac->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (ac->ssl_ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ac->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ac->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (o->tls_ca_file ? SSL_CTX_load_verify_locations(ac->ssl_ctx, o->tls_ca_file, NULL) != 1
                       : SSL_CTX_set_default_verify_paths(ac->ssl_ctx) != 1) {
        snprintf(e, sizeof(e), "cannot load the CA file %s", o->tls_ca_file ? o->tls_ca_file : "(system)");
        goto fail;
    }
    if (o->tls_cert_file != NULL) {
        const char *key = o->tls_key_file ? o->tls_key_file : o->tls_cert_file;
        if (SSL_CTX_use_certificate_chain_file(ac->ssl_ctx, o->tls_cert_file) != 1) {
            snprintf(e, sizeof(e), "cannot load the certificate %s", o->tls_cert_file);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ac->ssl_ctx, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ac->ssl_ctx) != 1) {
            snprintf(e, sizeof(e), "cannot load the key %s (or it does not match the certificate)", key);
            goto fail;
        }
    }
    SSL_CTX_set_verify(ac->ssl_ctx, o->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return GMQ_OK;
fail:;
    char detail[256] = "";
    unsigned long le = ERR_get_error();
    if (le != 0)
        ERR_error_string_n(le, detail, sizeof(detail));
    ERR_clear_error();
    async_error(ac, GMQ_ERR_TLS, "TLS: %s%s%s", e[0] ? e : "cannot create a context",
                detail[0] ? ": " : "", detail);
    return GMQ_ERR;
}

/* calls that waited longer than retry_timeout_ms for a connection end */
static void
async_expire(gmqAsyncContext *ac, uint64_t now)
{
    uint64_t budget = (uint64_t) ac->opt.retry_timeout_ms;
    gmq_list_t expired;
    gmq_list_init(&expired);
    gmq_list_t *lists[] = { &ac->pending, &ac->delayed };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(lists); i++) {
        for (gmq_list_t *p = lists[i]->next; p != lists[i];) {
            gmq_call_t *c = container_of(p, gmq_call_t, link);
            p = p->next;
            uint64_t since = c->retry_since ? c->retry_since : c->need_since;
            if (c->consumer == NULL && since && now >= since + budget) {
                gmq_list_remove(&c->link);
                gmq_list_push_tail(&expired, &c->link);
            }
        }
    }
    for (gmq_list_t *q = ac->links.next; q != &ac->links; q = q->next) {
        gmq_link_t *l = container_of(q, gmq_link_t, link);
        if (l->state == GMQ_LINK_READY || l->state == GMQ_LINK_CLOSED)
            continue;
        for (gmq_list_t *p = l->calls.next; p != &l->calls;) {
            gmq_call_t *c = container_of(p, gmq_call_t, link);
            p = p->next;
            if (c->consumer == NULL && c->need_since && now >= c->need_since + budget) {
                gmq_list_remove(&c->link);
                gmq_list_push_tail(&expired, &c->link);
            }
        }
    }
    while (!gmq_list_empty(&expired)) {
        gmq_call_t *c = container_of(expired.next, gmq_call_t, link);
        gmq_list_remove(&c->link);
        gmqReply *r = c->last;
        c->last = NULL;
        if (r == NULL) {
            const char *why = c->on != NULL && c->on->why[0] ? c->on->why : ac->why;
            int rc = ac->nnodes == 0 && ac->disc != NULL ? GMQ_ERR_DISCOVERY
                   : ac->why_rc ? ac->why_rc : GMQ_ERR_IO;
            r = gmq_call_reply_new(c, rc, "no connection within %d ms (retry_timeout_ms)%s%s%s",
                                   ac->opt.retry_timeout_ms, why[0] || rc == GMQ_ERR_DISCOVERY ? ": " : "",
                                   why, rc == GMQ_ERR_DISCOVERY && !why[0] ? "no node is registered in etcd" : "");
            if (c->resent && r->rc == GMQ_ERR_IO && !c->idempotent)
                r->rc = GMQ_ERR_UNKNOWN;
            if (rc == GMQ_ERR_SERVER)
                snprintf(r->errcode, sizeof(r->errcode), "E_AUTH");
        }
        c->on = NULL;
        gmq_async_finish(c, r);
    }
}

static void
async_reap(gmqAsyncContext *ac)
{
    for (gmq_list_t *p = ac->links.next; p != &ac->links;) {
        gmq_link_t *l = container_of(p, gmq_link_t, link);
        p = p->next;
        if (l->state != GMQ_LINK_CLOSED)
            continue;
        for (size_t i = 0; i < ac->nnodes; i++)
            if (ac->node_links[i] == l)
                ac->node_links[i] = NULL;
        gmq_list_remove(&l->link);
        gmq_link_free(l);
    }
    for (gmq_list_t *p = ac->consumers.next; p != &ac->consumers;) {
        gmq_consumer_t *k = container_of(p, gmq_consumer_t, link);
        p = p->next;
        if (!k->stopped)
            continue;
        int used = 0;
        for (gmq_list_t *q = ac->links.next; q != &ac->links && !used; q = q->next)
            used = container_of(q, gmq_link_t, link)->consumer == k;
        if (!used) {
            gmq_list_remove(&k->link);
            free(k);
        }
    }
}

/* one timer: the nearest link deadline, or a tick while calls wait or etcd is watched */
static void
async_schedule(gmqAsyncContext *ac)
{
    if (!ac->attached)
        return;
    uint64_t now = gmq_async_now(), at = 0;
    for (gmq_list_t *p = ac->links.next; p != &ac->links; p = p->next) {
        uint64_t t = gmq_link_next_time(container_of(p, gmq_link_t, link));
        if (t && (!at || t < at))
            at = t;
    }
    if (ac->disc != NULL || !gmq_list_empty(&ac->pending) || !gmq_list_empty(&ac->delayed)) {
        uint64_t t = now + GMQ_LIB_TICK_MS;
        if (!at || t < at)
            at = t;
    }
    if (at == ac->timer_at)
        return;
    ac->timer_at = at;
    ac->ev.set_timer(ac->ev.data, at == 0 ? -1 : at <= now ? 0 : (long) (at - now));
}

static int
async_idle(const gmqAsyncContext *ac)
{
    if (!gmq_list_empty(&ac->pending) || !gmq_list_empty(&ac->delayed))
        return 0;
    for (const gmq_list_t *p = ac->links.next; p != &ac->links; p = p->next) {
        const gmq_link_t *l = container_of(p, gmq_link_t, link);
        for (const gmq_list_t *q = l->calls.next; q != &l->calls; q = q->next)
            if (!container_of(q, gmq_call_t, link)->internal)
                return 0;
    }
    return 1;
}

/* every call still pending ends with GMQ_ERR_CLOSED, then everything goes */
static void
async_destroy(gmqAsyncContext *ac)
{
    ac->closing = 1;
    ac->depth = 1;       /* callbacks below must not free it again */
    for (int round = 0; round < 2; round++) {
        gmq_list_t calls;
        gmq_list_init(&calls);
        gmq_list_t *lists[] = { &ac->pending, &ac->delayed };
        for (size_t i = 0; i < GMQ_ARRAY_LEN(lists); i++) {
            while (!gmq_list_empty(lists[i])) {
                gmq_list_t *p = lists[i]->next;
                gmq_list_remove(p);
                gmq_list_push_tail(&calls, p);
            }
        }
        for (gmq_list_t *q = ac->links.next; q != &ac->links; q = q->next) {
            gmq_link_t *l = container_of(q, gmq_link_t, link);
            while (!gmq_list_empty(&l->calls)) {
                gmq_list_t *p = l->calls.next;
                gmq_list_remove(p);
                gmq_list_push_tail(&calls, p);
            }
        }
        while (!gmq_list_empty(&calls)) {
            gmq_call_t *c = container_of(calls.next, gmq_call_t, link);
            gmq_list_remove(&c->link);
            c->on = NULL;
            if (c->internal || c->consumer != NULL) {
                gmq_call_free(c);
                continue;
            }
            gmq_async_finish(c, gmq_call_reply_new(c, GMQ_ERR_CLOSED, "the context was closed "
                             "before an answer came"));
        }
    }
    while (!gmq_list_empty(&ac->links)) {
        gmq_link_t *l = container_of(ac->links.next, gmq_link_t, link);
        gmq_list_remove(&l->link);
        gmq_link_free(l);
    }
    while (!gmq_list_empty(&ac->consumers)) {
        gmq_consumer_t *k = container_of(ac->consumers.next, gmq_consumer_t, link);
        gmq_list_remove(&k->link);
        free(k);
    }
    if (ac->attached && ac->ev.cleanup != NULL) {
        ac->ev.set_timer(ac->ev.data, -1);
        ac->ev.cleanup(ac->ev.data);
    }
    gmq_discovery_free(ac->disc);
    if (ac->ssl_ctx != NULL)
        SSL_CTX_free(ac->ssl_ctx);
    for (size_t i = 0; i < ac->nchannels; i++)
        free(ac->channels[i]);
    free(ac->channels);
    free(ac->nodes);
    free(ac->node_links);
    gmq_call_options_free(&ac->opt);
    free(ac);
}

void
gmq_async_event(gmqAsyncContext *ac, int event, const char *node, const char *detail)
{
    if (ac->event_cb != NULL && !ac->closing)
        ac->event_cb(ac, event, node, detail, ac->event_priv);
}

static void
async_user_done(gmq_call_t *c, gmqReply *r)
{
    if (c->cb != NULL)
        c->cb(c->ac, r, c->privdata);
    gmqReplyFree(r);
}

/* a subscribe or unsubscribe answered ok on one link: the channel list
 * changes, and the other command links follow */
static void
async_channels_changed(gmqAsyncContext *ac, gmq_call_t *c, const gmq_link_t *from)
{
    size_t i;
    for (i = 0; i < ac->nchannels; i++)
        if (strcmp(ac->channels[i], c->channel) == 0)
            break;
    if (c->call == GMQ_CALL_SUBSCRIBE && i == ac->nchannels) {
        ac->channels = gmq_xrealloc(ac->channels, (ac->nchannels + 1) * sizeof(*ac->channels));
        ac->channels[ac->nchannels++] = gmq_xstrdup(c->channel);
    } else if (c->call == GMQ_CALL_UNSUBSCRIBE && i < ac->nchannels) {
        free(ac->channels[i]);
        ac->channels[i] = ac->channels[--ac->nchannels];
    } else {
        return;
    }
    for (gmq_list_t *p = ac->links.next; p != &ac->links; p = p->next) {
        gmq_link_t *l = container_of(p, gmq_link_t, link);
        if (l == from || l->consumer != NULL || l->state != GMQ_LINK_READY || l->removed)
            continue;
        gmq_link_queue(l, gmq_call_internal(ac, c->call, c->channel));
    }
}

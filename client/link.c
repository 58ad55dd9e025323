/*
 * link.c - one libgmq connection to one node (gmq_link_t): non-blocking
 * connect, the TLS handshake, `auth` and re-subscriptions first, then the
 * calls on it in order; reply frames (proto/tcp) answer them head first,
 * channel frames go to the context, heartbeats keep it alive. A lost
 * connection hands its calls back to the context (gmq_link_close) and backs
 * off; a refusal that retrying cannot cure (TLS, auth, not gmq) fails them.
 */
#include "client/lib.h"
#include "common/net.h"
#include "proto/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINK_READ_CHUNK 65536

/* SIGPIPE while OpenSSL writes to a closed socket: blocked for the call and
 * a pending one consumed, so the application's disposition is never used
 * (plain sockets use MSG_NOSIGNAL) */
typedef struct {
    sigset_t old;
    int      was_pending;
} link_sigpipe_t;

static void link_connected(gmq_link_t *l);
static void link_handshake(gmq_link_t *l);
static void link_ready(gmq_link_t *l);
static void link_read(gmq_link_t *l);
static void link_write(gmq_link_t *l);
static void link_frames(gmq_link_t *l);
static void link_update(gmq_link_t *l);
static void link_encode(gmq_link_t *l, gmq_call_t *c);
static void link_lost(gmq_link_t *l, const char *fmt, ...) GMQ_PRINTF(2, 3);
static void link_fail(gmq_link_t *l, int rc, const char *errcode, const char *text);
static void link_teardown(gmq_link_t *l);
static int  link_outstanding(const gmq_link_t *l, int user_only);
static void link_tls_error(gmq_link_t *l, const char *what, char *out, size_t outlen);
static void link_sigpipe_block(link_sigpipe_t *s);
static void link_sigpipe_restore(link_sigpipe_t *s);

gmq_link_t *
gmq_link_new(gmqAsyncContext *ac, const char *node, const char *addr, gmq_consumer_t *consumer)
{
    gmq_link_t *l = gmq_xcalloc(1, sizeof(*l));
    l->ac = ac;
    l->consumer = consumer;
    l->fd = -1;
    snprintf(l->node, sizeof(l->node), "%s", node);
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    gmq_buf_init(&l->in);
    gmq_buf_init(&l->out);
    gmq_list_init(&l->calls);
    gmq_list_init(&l->link);
    l->state = GMQ_LINK_IDLE;
    return l;
}

void
gmq_link_free(gmq_link_t *l)
{
    link_teardown(l);
    while (!gmq_list_empty(&l->calls)) {
        gmq_call_t *c = container_of(l->calls.next, gmq_call_t, link);
        gmq_list_remove(&c->link);
        gmq_call_free(c);
    }
    gmq_buf_free(&l->in);
    gmq_buf_free(&l->out);
    free(l);
}

void
gmq_link_connect(gmq_link_t *l)
{
    gmqAsyncContext *ac = l->ac;
    char host[256], port[32];
    struct addrinfo hints, *res = NULL;
    if (l->state != GMQ_LINK_IDLE && l->state != GMQ_LINK_BACKOFF)
        return;
    if (gmq_hostport_split(l->addr, host, sizeof(host), port, sizeof(port)) != GMQ_OK) {
        link_lost(l, "bad address %s (host:port)", l->addr);
        return;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* getaddrinfo blocks: names are resolved here, addresses at once */
    int grc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &res);
    if (grc != 0) {
        link_lost(l, "cannot resolve %s: %s", l->addr, gai_strerror(grc));
        return;
    }
    unsigned n = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        n++;
    struct addrinfo *a = res;
    for (unsigned i = 0; i < l->ai_next % n; i++)
        a = a->ai_next;
    l->ai_next++;
    l->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        freeaddrinfo(res);
        link_lost(l, "socket: %s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(l->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    int rc = connect(l->fd, a->ai_addr, a->ai_addrlen);
    int e = errno;
    freeaddrinfo(res);
    l->state = GMQ_LINK_CONNECTING;
    l->deadline = gmq_async_now() + (uint64_t) ac->opt.connect_timeout_ms;
    if (rc == 0) {
        link_connected(l);
    } else if (e == EINPROGRESS) {
        gmq_async_watch(l, GMQ_EV_WRITE);
    } else {
        link_lost(l, "connect to %s: %s", l->addr, strerror(e));
    }
}

void
gmq_link_queue(gmq_link_t *l, gmq_call_t *c)
{
    c->on = l;
    c->need_since = l->state == GMQ_LINK_READY ? 0 : gmq_async_now();
    if (l->state == GMQ_LINK_READY && !link_outstanding(l, 0))
        l->last_rx = gmq_async_now();   /* the silence before a request does not count */
    gmq_list_push_tail(&l->calls, &c->link);
    if (l->state == GMQ_LINK_READY) {
        link_encode(l, c);
        link_update(l);
    }
}

void
gmq_link_on_events(gmq_link_t *l, int events)
{
    if (l->state == GMQ_LINK_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == EINPROGRESS)
            return;
        if (err != 0) {
            link_lost(l, "connect to %s: %s", l->addr, strerror(err));
            return;
        }
        link_connected(l);
        return;
    }
    if (l->state == GMQ_LINK_HANDSHAKE) {
        link_handshake(l);
        return;
    }
    if (l->state != GMQ_LINK_READY)
        return;
    if ((events & GMQ_EV_READ) || ((events & GMQ_EV_WRITE) && l->tls_rw == 1))
        link_read(l);
    if (l->state == GMQ_LINK_READY && gmq_buf_used(&l->out) > 0 &&
        ((events & GMQ_EV_WRITE) || ((events & GMQ_EV_READ) && l->tls_rw == 2)))
        link_write(l);
    if (l->state == GMQ_LINK_READY)
        link_update(l);
}

void
gmq_link_on_time(gmq_link_t *l, uint64_t now)
{
    gmqAsyncContext *ac = l->ac;
    if (l->removed && (l->state != GMQ_LINK_READY || !link_outstanding(l, 1) ||
                       now >= l->leave_at)) {
        gmq_link_close(l, 1, "its node left etcd");
        return;
    }
    switch (l->state) {
    case GMQ_LINK_CONNECTING:
    case GMQ_LINK_HANDSHAKE:
        if (now >= l->deadline)
            link_lost(l, "connect to %s: timed out after %d ms", l->addr, ac->opt.connect_timeout_ms);
        break;
    case GMQ_LINK_BACKOFF:
        if (now >= l->deadline)
            gmq_link_connect(l);
        break;
    case GMQ_LINK_READY:
        if (link_outstanding(l, 0) && now >= l->last_rx + (uint64_t) ac->opt.io_timeout_ms)
            link_lost(l, "no data from %s for %d ms (io_timeout_ms)", l->addr, ac->opt.io_timeout_ms);
        break;
    default:
        break;
    }
}

uint64_t
gmq_link_next_time(const gmq_link_t *l)
{
    uint64_t t = 0;
    switch (l->state) {
    case GMQ_LINK_CONNECTING:
    case GMQ_LINK_HANDSHAKE:
    case GMQ_LINK_BACKOFF:
        t = l->deadline;
        break;
    case GMQ_LINK_READY:
        if (link_outstanding(l, 0))
            t = l->last_rx + (uint64_t) l->ac->opt.io_timeout_ms;
        break;
    default:
        break;
    }
    if (l->removed && (t == 0 || l->leave_at < t))
        t = l->leave_at;
    return t;
}

/*
 * Close the connection. The calls on it: internal ones end; one that was
 * sent and may not be sent twice ends with GMQ_ERR_UNKNOWN; the others are
 * sent again, on this link when pinned to its node (unless drop_pinned: its
 * node is gone), through the context otherwise. With drop_pinned or
 * reconnect off the link ends (CLOSED), else it backs off.
 */
void
gmq_link_close(gmq_link_t *l, int drop_pinned, const char *why)
{
    gmqAsyncContext *ac = l->ac;
    int was_ready = l->state == GMQ_LINK_READY;
    uint64_t done = l->out_done;
    gmq_list_t calls, keep;

    link_teardown(l);
    snprintf(l->why, sizeof(l->why), "%s", why);
    if (!drop_pinned) {
        l->fail_rc = GMQ_ERR_IO;
        snprintf(ac->why, sizeof(ac->why), "%s", why);
        ac->why_rc = GMQ_ERR_IO;
    }
    if (drop_pinned || !ac->opt.reconnect || ac->disconnecting) {
        l->state = GMQ_LINK_CLOSED;
    } else {
        l->state = GMQ_LINK_BACKOFF;
        l->backoff_ms = gmq_async_backoff(ac, l->backoff_ms);
        l->deadline = gmq_async_now() + (uint64_t) l->backoff_ms;
    }
    gmq_list_init(&calls);
    gmq_list_init(&keep);
    if (!gmq_list_empty(&l->calls)) {     /* take them all: callbacks may queue new ones */
        calls = l->calls;
        calls.next->prev = &calls;
        calls.prev->next = &calls;
        gmq_list_init(&l->calls);
    }
    if (was_ready)
        gmq_async_link_lost(l, why);
    while (!gmq_list_empty(&calls)) {
        gmq_call_t *c = container_of(calls.next, gmq_call_t, link);
        gmq_list_remove(&c->link);
        int sent = c->out_end != 0 && done > c->out_start;
        int again = !sent || c->idempotent || (c->publish && ac->opt.retry_unknown);
        c->on = NULL;
        c->out_start = c->out_end = 0;
        if (c->internal || (c->consumer != NULL && (drop_pinned || l->state == GMQ_LINK_CLOSED))) {
            gmq_call_free(c);
        } else if (!again) {
            gmq_async_finish(c, gmq_call_reply_new(c, GMQ_ERR_UNKNOWN, "connection to %s lost (%s) "
                             "after the request was sent: its outcome is unknown", l->node, why));
        } else if (l->state == GMQ_LINK_CLOSED && (c->pin[0] || !ac->opt.reconnect ||
                                                    ac->disconnecting)) {
            gmq_async_finish(c, gmq_call_reply_new(c, sent ? GMQ_ERR_UNKNOWN : GMQ_ERR_IO,
                             "connection to %s lost (%s)%s", l->node, why, sent ?
                             " after the request was sent: its outcome is unknown" : ""));
        } else {
            c->resent |= sent;
            if (c->pin[0] && l->state != GMQ_LINK_CLOSED) {
                c->on = l;
                c->need_since = gmq_async_now();
                gmq_list_push_tail(&keep, &c->link);
            } else {
                gmq_async_requeue(c, 0);
            }
        }
    }
    /* the kept calls go before any queued by the callbacks */
    while (!gmq_list_empty(&keep)) {
        gmq_list_t *p = keep.prev;
        gmq_list_remove(p);
        gmq_list_push_head(&l->calls, p);
    }
}

/* ---- connecting ---- */

static void
link_connected(gmq_link_t *l)
{
    gmqAsyncContext *ac = l->ac;
    if (ac->ssl_ctx == NULL) {
        link_ready(l);
        return;
    }
    char host[256], port[32];
    gmq_hostport_split(l->addr, host, sizeof(host), port, sizeof(port));
    const char *name = ac->opt.tls_server_name ? ac->opt.tls_server_name : host;
    unsigned char ip[16];
    l->ssl = SSL_new(ac->ssl_ctx);
    if (l->ssl == NULL || SSL_set_fd(l->ssl, l->fd) != 1) {
        link_fail(l, GMQ_ERR_TLS, "", "TLS: cannot set up the connection");
        return;
    }
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(l->ssl), name);
    } else {
        SSL_set_tlsext_host_name(l->ssl, name);
        SSL_set1_host(l->ssl, name);
    }
    l->state = GMQ_LINK_HANDSHAKE;
    link_handshake(l);
}

static void
link_handshake(gmq_link_t *l)
{
    link_sigpipe_t sp;
    ERR_clear_error();
    link_sigpipe_block(&sp);
    int rc = SSL_connect(l->ssl);
    int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(l->ssl, rc);
    link_sigpipe_restore(&sp);
    if (rc == 1) {
        link_ready(l);
    } else if (e == SSL_ERROR_WANT_READ) {
        gmq_async_watch(l, GMQ_EV_READ);
    } else if (e == SSL_ERROR_WANT_WRITE) {
        gmq_async_watch(l, GMQ_EV_WRITE);
    } else if (e == SSL_ERROR_SSL) {
        char text[400];
        link_tls_error(l, "TLS handshake with", text, sizeof(text));
        link_fail(l, GMQ_ERR_TLS, "", text);
    } else {
        link_lost(l, "TLS handshake with %s: the connection was closed", l->addr);
    }
}

/* ready: auth and the channels first, then every call queued meanwhile */
static void
link_ready(gmq_link_t *l)
{
    gmqAsyncContext *ac = l->ac;
    l->state = GMQ_LINK_READY;
    l->last_rx = gmq_async_now();
    l->why[0] = '\0';
    l->fail_rc = 0;
    for (size_t i = l->consumer == NULL ? ac->nchannels : 0; i-- > 0;) {   /* command links only */
        gmq_call_t *c = gmq_call_internal(ac, GMQ_CALL_SUBSCRIBE, ac->channels[i]);
        c->on = l;
        gmq_list_push_head(&l->calls, &c->link);
    }
    if (ac->opt.auth_token != NULL) {
        gmq_call_t *c = gmq_call_internal(ac, 0, ac->opt.auth_token);
        c->on = l;
        gmq_list_push_head(&l->calls, &c->link);
    }
    for (gmq_list_t *p = l->calls.next; p != &l->calls; p = p->next) {
        gmq_call_t *c = container_of(p, gmq_call_t, link);
        c->need_since = 0;
        link_encode(l, c);
    }
    link_update(l);
    gmq_async_link_ready(l);
}

/* ---- I/O ---- */

static void
link_read(gmq_link_t *l)
{
    l->tls_rw = 0;
    for (;;) {
        char *p = gmq_buf_reserve(&l->in, LINK_READ_CHUNK);
        ssize_t n;
        if (l->ssl != NULL) {
            ERR_clear_error();
            int rc = SSL_read(l->ssl, p, LINK_READ_CHUNK);
            if (rc > 0) {
                n = rc;
            } else {
                int e = SSL_get_error(l->ssl, rc);
                if (e == SSL_ERROR_WANT_READ)
                    break;
                if (e == SSL_ERROR_WANT_WRITE) {
                    l->tls_rw = 1;
                    break;
                }
                if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
                    n = 0;
                } else if (e == SSL_ERROR_SSL) {
                    /* an alert (a client certificate refused by TLS 1.3 comes here) */
                    char text[400];
                    link_tls_error(l, "TLS with", text, sizeof(text));
                    link_frames(l);
                    if (l->state == GMQ_LINK_READY)
                        link_fail(l, GMQ_ERR_TLS, "", text);
                    return;
                } else {
                    link_frames(l);
                    if (l->state == GMQ_LINK_READY)
                        link_lost(l, "TLS read from %s: %s", l->addr, strerror(errno));
                    return;
                }
            }
        } else {
            do {
                n = recv(l->fd, p, LINK_READ_CHUNK, 0);
            } while (n < 0 && errno == EINTR);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n < 0) {
                link_frames(l);     /* what came before the error still answers */
                if (l->state == GMQ_LINK_READY)
                    link_lost(l, "read from %s: %s", l->addr, strerror(errno));
                return;
            }
        }
        if (n == 0) {
            link_frames(l);
            if (l->state == GMQ_LINK_READY)
                link_lost(l, "connection closed by %s", l->addr);
            return;
        }
        l->in.len += (size_t) n;
        l->last_rx = gmq_async_now();
        if ((size_t) n < LINK_READ_CHUNK && (l->ssl == NULL || SSL_pending(l->ssl) == 0))
            break;
    }
    link_frames(l);
}

static void
link_write(gmq_link_t *l)
{
    l->tls_rw = 0;
    while (gmq_buf_used(&l->out) > 0) {
        ssize_t n;
        if (l->ssl != NULL) {
            link_sigpipe_t sp;
            ERR_clear_error();
            link_sigpipe_block(&sp);
            size_t len = gmq_buf_used(&l->out);
            int rc = SSL_write(l->ssl, gmq_buf_rptr(&l->out), len > INT32_MAX ? INT32_MAX : (int) len);
            int e = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(l->ssl, rc);
            link_sigpipe_restore(&sp);
            if (rc > 0) {
                n = rc;
            } else if (e == SSL_ERROR_WANT_WRITE) {
                break;
            } else if (e == SSL_ERROR_WANT_READ) {
                l->tls_rw = 2;
                break;
            } else {
                link_lost(l, "TLS write to %s failed", l->addr);
                return;
            }
        } else {
            n = send(l->fd, gmq_buf_rptr(&l->out), gmq_buf_used(&l->out), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n < 0) {
                link_lost(l, "write to %s: %s", l->addr, strerror(errno));
                return;
            }
        }
        gmq_buf_consume(&l->out, (size_t) n);
        l->out_done += (uint64_t) n;
    }
}

/* the frames in l->in: replies answer the head call, in order */
static void
link_frames(gmq_link_t *l)
{
    gmqAsyncContext *ac = l->ac;
    while (l->state == GMQ_LINK_READY && gmq_buf_used(&l->in) > 0) {
        uint16_t type;
        const char *data;
        uint32_t dlen;
        size_t used;
        int rc = gmq_tcp_frame_decode(gmq_buf_rptr(&l->in), gmq_buf_used(&l->in), ac->opt.max_frame,
                                      &type, &data, &dlen, &used);
        if (rc == GMQ_AGAIN)
            return;
        if (rc != GMQ_OK) {
            link_fail(l, GMQ_ERR_PROTOCOL, "", "the node sent a frame that is not gmq's protocol "
                      "(or over max_frame)");
            return;
        }
        l->backoff_ms = 0;     /* the node answers: the next loss starts the backoff afresh */
        if (type == GMQ_TCP_CHANNEL) {
            gmq_async_channel(ac, data, dlen);
        } else if (type != GMQ_TCP_PING) {
            gmq_call_t *c = gmq_list_empty(&l->calls) ? NULL
                          : container_of(l->calls.next, gmq_call_t, link);
            if (c == NULL || c->out_end == 0) {
                link_fail(l, GMQ_ERR_PROTOCOL, "", "the node sent a reply to no request");
                return;
            }
            if (c->internal) {
                if (type == GMQ_TCP_ERROR && c->call == 0) {      /* auth refused */
                    char text[GMQ_ERRMSG_MAX + 64];
                    snprintf(text, sizeof(text), "%.*s", (int) dlen, data);
                    gmq_buf_consume(&l->in, used);
                    link_fail(l, GMQ_ERR_SERVER, "E_AUTH", text);
                    return;
                }
                gmq_list_remove(&c->link);
                gmq_call_free(c);
            } else {
                gmqReply *r = gmq_call_decode(c, l->node, type, data, dlen);
                if (r == NULL) {
                    link_fail(l, GMQ_ERR_PROTOCOL, "", "the node's reply does not fit the request");
                    return;
                }
                gmq_list_remove(&c->link);
                gmq_buf_consume(&l->in, used);
                gmq_async_answer(c, r);      /* c->on: the link that answered */
                continue;
            }
        }
        gmq_buf_consume(&l->in, used);
    }
}

/* read interest always; write while output waits (or TLS needs it to read) */
static void
link_update(gmq_link_t *l)
{
    int ev = GMQ_EV_READ;
    if (gmq_buf_used(&l->out) > 0 || l->tls_rw == 1)
        ev |= GMQ_EV_WRITE;
    gmq_async_watch(l, ev);
}

static void
link_encode(gmq_link_t *l, gmq_call_t *c)
{
    c->out_start = l->out_total;
    gmq_buf_append(&l->out, c->wire.data, c->wire.len);
    l->out_total += c->wire.len;
    c->out_end = l->out_total;
}

/* a loss that retrying can cure (refused, reset, timeout) */
static void
link_lost(gmq_link_t *l, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    gmq_link_close(l, 0, why);
}

/* a refusal that retrying cannot cure: every call on the link gets it */
static void
link_fail(gmq_link_t *l, int rc, const char *errcode, const char *text)
{
    gmqAsyncContext *ac = l->ac;
    int was_ready = l->state == GMQ_LINK_READY;
    link_teardown(l);
    snprintf(l->why, sizeof(l->why), "%s", text);
    snprintf(ac->why, sizeof(ac->why), "%s", text);
    l->fail_rc = ac->why_rc = rc;
    l->state = ac->opt.reconnect && !ac->disconnecting ? GMQ_LINK_BACKOFF : GMQ_LINK_CLOSED;
    l->backoff_ms = ac->opt.backoff_max_ms;
    l->deadline = gmq_async_now() + (uint64_t) l->backoff_ms;
    if (was_ready)
        gmq_async_link_lost(l, text);
    gmq_list_t calls;
    gmq_list_init(&calls);
    if (!gmq_list_empty(&l->calls)) {
        calls = l->calls;
        calls.next->prev = &calls;
        calls.prev->next = &calls;
        gmq_list_init(&l->calls);
    }
    while (!gmq_list_empty(&calls)) {
        gmq_call_t *c = container_of(calls.next, gmq_call_t, link);
        gmq_list_remove(&c->link);
        c->on = NULL;
        if (c->internal) {
            gmq_call_free(c);
            continue;
        }
        gmqReply *r = gmq_call_reply_new(c, rc, "%s", text);
        snprintf(r->errcode, sizeof(r->errcode), "%s", errcode);
        gmq_async_finish(c, r);
    }
    gmq_async_link_failed(l, rc, errcode, text);
}

static void
link_teardown(gmq_link_t *l)
{
    gmq_async_unwatch(l);
    if (l->ssl != NULL) {
        SSL_free(l->ssl);
        l->ssl = NULL;
    }
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    gmq_buf_reset(&l->in);
    gmq_buf_reset(&l->out);
    l->out_total = l->out_done = 0;
    l->tls_rw = 0;
}

/* a call sent and not answered (user_only: not counting consumer pops and internal calls) */
static int
link_outstanding(const gmq_link_t *l, int user_only)
{
    for (const gmq_list_t *p = l->calls.next; p != &l->calls; p = p->next) {
        const gmq_call_t *c = container_of(p, gmq_call_t, link);
        if (c->out_end == 0)
            return 0;
        if (!user_only || (c->consumer == NULL && !c->internal))
            return 1;
    }
    return 0;
}

static void
link_tls_error(gmq_link_t *l, const char *what, char *out, size_t outlen)
{
    long v = l->ssl ? SSL_get_verify_result(l->ssl) : X509_V_OK;
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    if (v != X509_V_OK)
        snprintf(out, outlen, "%s %s: certificate verification failed: %s", what, l->addr,
                 X509_verify_cert_error_string(v));
    else
        snprintf(out, outlen, "%s %s: %s", what, l->addr, buf[0] ? buf : "TLS error");
    ERR_clear_error();
}

static void
link_sigpipe_block(link_sigpipe_t *s)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &s->old);
    sigpending(&pend);
    s->was_pending = sigismember(&pend, SIGPIPE);
}

static void
link_sigpipe_restore(link_sigpipe_t *s)
{
    if (!s->was_pending) {
        sigset_t set, pend;
        sigpending(&pend);
        if (sigismember(&pend, SIGPIPE)) {
            struct timespec zero = { 0, 0 };
            sigemptyset(&set);
            sigaddset(&set, SIGPIPE);
            while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
    }
    pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

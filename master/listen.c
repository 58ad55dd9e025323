/*
 * listen.c - the two listening sockets (TCP protocol, HTTP) and accept:
 * new connections get their protocol state and TLS session; past
 * max_connections a client is accepted and told why before it is closed;
 * out of descriptors, accepting pauses briefly instead of spinning.
 */
#include "master.h"
#include "tls.h"
#include "common/log.h"
#include "common/net.h"
#include "proto/tcp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG     1024
#define LISTEN_ACCEPT_MAX  64      /* accepts per readiness event */
#define LISTEN_PAUSE_S     0.1     /* after EMFILE/ENFILE */

static int  listen_one(const char *addr, char *err, size_t errlen);
static void listen_on_accept(struct ev_loop *loop, ev_io *io, int revents);
static void listen_on_pause(struct ev_loop *loop, ev_timer *t, int revents);
static void listen_refuse(gmq_conn_t *c);

int
gmq_listen_open(gmq_master_t *m, char *err, size_t errlen)
{
    char e[400];
    m->tcp_fd = listen_one(m->cfg.tcp_addr, e, sizeof(e));
    if (m->tcp_fd < 0) {
        snprintf(err, errlen, "tcp_addr: %s", e);
        return GMQ_ERR;
    }
    m->http_fd = listen_one(m->cfg.http_addr, e, sizeof(e));
    if (m->http_fd < 0) {
        snprintf(err, errlen, "http_addr: %s", e);
        return GMQ_ERR;
    }
    return GMQ_OK;
}

void
gmq_listen_start(gmq_master_t *m)
{
    ev_io_init(&m->tcp_io, listen_on_accept, m->tcp_fd, EV_READ);
    ev_io_init(&m->http_io, listen_on_accept, m->http_fd, EV_READ);
    ev_timer_init(&m->accept_pause, listen_on_pause, LISTEN_PAUSE_S, 0.);
    m->tcp_io.data = m->http_io.data = m->accept_pause.data = m;
    ev_io_start(m->loop, &m->tcp_io);
    ev_io_start(m->loop, &m->http_io);
}

void
gmq_listen_close(gmq_master_t *m)
{
    if (m->loop != NULL) {
        ev_io_stop(m->loop, &m->tcp_io);
        ev_io_stop(m->loop, &m->http_io);
        ev_timer_stop(m->loop, &m->accept_pause);
    }
    if (m->tcp_fd >= 0)
        close(m->tcp_fd);
    if (m->http_fd >= 0)
        close(m->http_fd);
    m->tcp_fd = m->http_fd = -1;
}

/* a node reachable from other hosts should say who may use it */
void
gmq_listen_warn_exposed(const gmq_master_t *m)
{
    const char *addrs[2] = { m->cfg.tcp_addr, m->cfg.http_addr };
    int tls[2] = { m->cfg.tcp_tls, m->cfg.http_tls };
    for (int i = 0; i < 2; i++) {
        const char *a = addrs[i];
        int loopback = strncmp(a, "127.", 4) == 0 || strncmp(a, "localhost:", 10) == 0 ||
                       strncmp(a, "[::1]:", 6) == 0;
        if (!loopback && m->cfg.auth_token[0] == '\0' && !tls[i])
            gmq_log_warn("%s listens on %s, reachable from other hosts, with neither auth_token "
                         "nor TLS: anyone who can connect can read and write every topic",
                         i == 0 ? "tcp_addr" : "http_addr", a);
    }
}

static int
listen_one(const char *addr, char *err, size_t errlen)
{
    char host[256], port[64];
    if (gmq_hostport_split(addr, host, sizeof(host), port, sizeof(port)) != GMQ_OK) {
        snprintf(err, errlen, "\"%s\" is not host:port", addr);
        return -1;
    }
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM }, *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void
listen_on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) revents;
    gmq_master_t *m = io->data;
    gmq_proto_t proto = io == &m->tcp_io ? GMQ_PROTO_TCP : GMQ_PROTO_HTTP;
    for (int i = 0; i < LISTEN_ACCEPT_MAX; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* a level-triggered listener would spin: pause both, retry soon */
                gmq_log_ratelimited(&m->accept_warn, GMQ_LOG_WARN,
                                    "accept: %s; pausing new connections for %.0f ms",
                                    strerror(errno), LISTEN_PAUSE_S * 1000);
                ev_io_stop(loop, &m->tcp_io);
                ev_io_stop(loop, &m->http_io);
                /* set again: a one-shot timer that fired keeps an expired
                 * deadline, and restarted as is it fires at once */
                ev_timer_set(&m->accept_pause, LISTEN_PAUSE_S, 0.);
                ev_timer_start(loop, &m->accept_pause);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                gmq_log_ratelimited(&m->accept_warn, GMQ_LOG_WARN, "accept: %s", strerror(errno));
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        gmq_conn_t *c = gmq_conn_new(m, fd, proto);
        int tls = proto == GMQ_PROTO_HTTP ? m->cfg.http_tls : m->cfg.tcp_tls;
        if (tls && gmq_tls_conn_start(c, m->tls_ctx) != GMQ_OK) {
            gmq_log_warn("connection %llu: cannot start TLS", (unsigned long long) c->id);
            gmq_conn_close(c);
            continue;
        }
        if (m->nconns > m->cfg.max_connections) {
            listen_refuse(c);
            continue;
        }
        gmq_conn_start(c);
    }
}

static void
listen_on_pause(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) revents;
    gmq_master_t *m = t->data;
    if (m->stopping || m->tcp_fd < 0)
        return;
    ev_io_start(loop, &m->tcp_io);
    ev_io_start(loop, &m->http_io);
}

/* accepted (not left in the backlog) and told why */
static void
listen_refuse(gmq_conn_t *c)
{
    static const char msg[] = "too many connections: max_connections reached";
    if (c->proto == GMQ_PROTO_HTTP) {
        gmq_http_error(c, 503, msg);
    } else {
        gmq_tcp_put_error(&c->out, GMQ_E_LIMIT, "%s", msg);
        c->closing = 1;
        gmq_conn_schedule(c);
    }
}

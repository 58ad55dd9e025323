/*
 * master.c - the master process: the libev loop, listening sockets, client
 * connections, signals (signalfd), the table of requests in flight to
 * workers, message ids (snowflake) and graceful shutdown.
 */
#include "master.h"
#include "etcd.h"
#include "sup.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "tls.h"

#include <openssl/crypto.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MASTER_READ_CHUNK   (64 * 1024)
#define MASTER_STOP_TIMEOUT 10.0          /* seconds for workers to finish */
#define SNOWFLAKE_EPOCH_MS  1483228800000ULL

static int  master_listen(const char *addr, char *err, size_t errlen);
static void master_on_accept(struct ev_loop *loop, ev_io *io, int revents);
static void master_on_signal(struct ev_loop *loop, ev_io *io, int revents);
static void master_on_flush(struct ev_loop *loop, ev_prepare *p, int revents);
static void master_on_stop_timeout(struct ev_loop *loop, ev_timer *t, int revents);
static void master_on_conn_read(struct ev_loop *loop, ev_io *io, int revents);
static void master_on_conn_write(struct ev_loop *loop, ev_io *io, int revents);
static void master_on_sweep(struct ev_loop *loop, ev_timer *t, int revents);
static void master_warn_exposed(const gmq_master_t *m);
static void master_conn_free(gmq_conn_t *c);
static void master_reload(gmq_master_t *m);
static void master_check_stopped(gmq_master_t *m);
static void master_on_etcd_stopped(void *arg);
static void master_reqs_put(gmq_master_t *m, gmq_req_t *req);
static void master_reqs_del(gmq_master_t *m, gmq_req_t *req);

int
gmq_master_init(gmq_master_t *m, int argc, char **argv)
{
    char err[512];
    memset(m, 0, sizeof(*m));
    m->tcp_fd = m->http_fd = m->sig_fd = -1;
    m->argc = argc;
    m->argv = argv;
    gmq_list_init(&m->conns);
    gmq_list_init(&m->dead_conns);
    gmq_list_init(&m->chans);
    m->test_hooks = getenv("GMQ_TEST_HOOKS") != NULL && strcmp(getenv("GMQ_TEST_HOOKS"), "1") == 0;

    int rc = gmq_config_load(&m->cfg, argc, argv, stdout, err, sizeof(err));
    if (rc == GMQ_CONFIG_HELP || rc == GMQ_CONFIG_VERSION)
        return rc;
    if (rc != GMQ_OK) {
        fprintf(stderr, "gmq-master: %s\n", err);
        return GMQ_ERR;
    }
    if (gmq_log_open(m->cfg.log_level, m->cfg.log_file) != GMQ_OK) {
        fprintf(stderr, "gmq-master: log_file: cannot open \"%s\": %s\n", m->cfg.log_file,
                strerror(errno));
        return GMQ_ERR;
    }
    gmq_log_set_ident("master");
    if (gmq_mkdir_p(m->cfg.data_save_path, 0755) != 0) {
        fprintf(stderr, "gmq-master: data_save_path: cannot create \"%s\": %s\n",
                m->cfg.data_save_path, strerror(errno));
        return GMQ_ERR;
    }

    if (gmq_etcd_check_id(&m->cfg, err, sizeof(err)) != GMQ_OK) {
        fprintf(stderr, "gmq-master: %s\n", err);
        return GMQ_ERR;
    }
    m->tcp_fd = master_listen(m->cfg.tcp_addr, err, sizeof(err));
    if (m->tcp_fd < 0) {
        fprintf(stderr, "gmq-master: tcp_addr: %s\n", err);
        return GMQ_ERR;
    }
    m->http_fd = master_listen(m->cfg.http_addr, err, sizeof(err));
    if (m->http_fd < 0) {
        fprintf(stderr, "gmq-master: http_addr: %s\n", err);
        return GMQ_ERR;
    }

    if (m->cfg.tcp_tls || m->cfg.http_tls) {
        m->tls_ctx = gmq_tls_ctx_new(&m->cfg, err, sizeof(err));
        if (m->tls_ctx == NULL) {
            fprintf(stderr, "gmq-master: %s\n", err);
            return GMQ_ERR;
        }
    }
    master_warn_exposed(m);

    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    m->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    m->loop = ev_loop_new(EVFLAG_AUTO);
    ev_io_init(&m->tcp_io, master_on_accept, m->tcp_fd, EV_READ);
    ev_io_init(&m->http_io, master_on_accept, m->http_fd, EV_READ);
    ev_io_init(&m->sig_io, master_on_signal, m->sig_fd, EV_READ);
    ev_prepare_init(&m->flush, master_on_flush);
    ev_timer_init(&m->stop_timer, master_on_stop_timeout, MASTER_STOP_TIMEOUT, 0.);
    ev_timer_init(&m->sweep, master_on_sweep, 1., 1.);
    m->tcp_io.data = m->http_io.data = m->sig_io.data = m->flush.data = m->stop_timer.data = m;
    m->sweep.data = m;
    ev_timer_start(m->loop, &m->sweep);
    ev_io_start(m->loop, &m->tcp_io);
    ev_io_start(m->loop, &m->http_io);
    ev_io_start(m->loop, &m->sig_io);
    ev_prepare_start(m->loop, &m->flush);

    m->reqs_cap = 1024;
    m->reqs = gmq_xcalloc(m->reqs_cap, sizeof(gmq_req_t *));
    m->started_ms = gmq_now_ms();
    m->sup = gmq_sup_new(m);
    m->etcd = gmq_etcd_new(m->loop, &m->cfg);
    gmq_proctitle_set("gmq-master tcp=%s http=%s", m->cfg.tcp_addr, m->cfg.http_addr);
    return GMQ_OK;
}

int
gmq_master_run(gmq_master_t *m)
{
    gmq_log_info("gmq %s node %d listening: tcp %s, http %s, data %s", GMQ_VERSION,
                 m->cfg.node_id, m->cfg.tcp_addr, m->cfg.http_addr, m->cfg.data_save_path);
    gmq_sup_start_existing(m->sup);
    gmq_etcd_start(m->etcd);
    ev_run(m->loop, 0);
    gmq_log_info("stopped");
    return GMQ_EXIT_OK;
}

void
gmq_master_free(gmq_master_t *m)
{
    while (!gmq_list_empty(&m->conns))
        master_conn_free(container_of(m->conns.next, gmq_conn_t, link));
    while (!gmq_list_empty(&m->dead_conns))
        master_conn_free(container_of(m->dead_conns.next, gmq_conn_t, link));
    gmq_sup_free(m->sup);
    gmq_etcd_free(m->etcd);
    free(m->reqs);
    if (m->loop)
        ev_loop_destroy(m->loop);
    if (m->tcp_fd >= 0) close(m->tcp_fd);
    if (m->http_fd >= 0) close(m->http_fd);
    if (m->sig_fd >= 0) close(m->sig_fd);
    if (m->tls_ctx)
        SSL_CTX_free(m->tls_ctx);
    gmq_config_free(&m->cfg);
}

uint64_t
gmq_master_next_id(gmq_master_t *m)
{
    uint64_t now = gmq_now_ms();
    if (now <= m->sf_last_ms) {
        /* same millisecond, or the clock went back: never reuse an id */
        if (++m->sf_seq > 0xfff) {
            m->sf_seq = 0;
            m->sf_last_ms++;
        }
    } else {
        m->sf_last_ms = now;
        m->sf_seq = 0;
    }
    return ((m->sf_last_ms - SNOWFLAKE_EPOCH_MS) << 22) |
           ((uint64_t) (m->cfg.node_id & 0x3ff) << 12) | m->sf_seq;
}

/* ---- listening ---- */

static int
master_listen(const char *addr, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) {
        snprintf(err, errlen, "\"%s\" is not host:port", addr);
        return -1;
    }
    size_t hl = (size_t) (colon - addr);
    if (hl >= sizeof(host))
        hl = sizeof(host) - 1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM }, *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
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
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void
master_on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) loop; (void) revents;
    gmq_master_t *m = io->data;
    gmq_proto_t proto = io == &m->tcp_io ? GMQ_PROTO_TCP : GMQ_PROTO_HTTP;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                gmq_log_warn("accept: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        gmq_conn_t *c = gmq_xcalloc(1, sizeof(*c));
        c->m = m;
        c->fd = fd;
        c->proto = proto;
        c->id = ++m->next_conn_id;
        c->io = &gmq_conn_io_plain;
        c->accepted_ms = c->last_active_ms = gmq_mono_ms();
        c->authed = m->cfg.auth_token[0] == '\0';
        gmq_buf_init(&c->in);
        gmq_buf_init(&c->out);
        gmq_list_init(&c->reqs);
        ev_io_init(&c->rio, master_on_conn_read, fd, EV_READ);
        ev_io_init(&c->wio, master_on_conn_write, fd, EV_WRITE);
        c->rio.data = c->wio.data = c;
        gmq_list_push_tail(&m->conns, &c->link);
        m->nconns++;
        m->stat_conns_total++;
        if (proto == GMQ_PROTO_HTTP)
            gmq_http_conn_init(c);
        else
            gmq_tcp_conn_init(c);
        int tls = proto == GMQ_PROTO_HTTP ? m->cfg.http_tls : m->cfg.tcp_tls;
        if (tls && gmq_tls_conn_start(c, m->tls_ctx) != GMQ_OK) {
            gmq_log_warn("connection %llu: cannot start TLS", (unsigned long long) c->id);
            gmq_conn_close(c);
            continue;
        }
        if (m->nconns > m->cfg.max_connections) {
            /* accepted (not left in the backlog) and told why */
            static const char http_full[] =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                "Connection: close\r\nContent-Length: 77\r\n\r\n"
                "{\"code\":1,\"data\":null,\"msg\":\"too many connections: max_connections reached\"}\n";
            if (proto == GMQ_PROTO_HTTP) {
                gmq_conn_send(c, http_full, sizeof(http_full) - 1);
            } else {
                static const char msg[] = "E_LIMIT - too many connections: max_connections reached";
                gmq_buf_put_u16(&c->out, 102);
                gmq_buf_put_u32(&c->out, sizeof(msg) - 1);
                gmq_buf_append(&c->out, msg, sizeof(msg) - 1);
            }
            c->closing = 1;
            gmq_conn_flush(c);
            continue;
        }
        ev_io_start(m->loop, &c->rio);
    }
}

/* ---- connections ---- */

static void
master_on_conn_read(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) loop; (void) revents;
    gmq_conn_t *c = io->data;
    int got = 0;
    int write_waits = c->tls_want == 1;    /* a TLS write waited for this readability */
    /* TLS may hold decrypted bytes the socket no longer signals: read until EAGAIN */
    for (int i = 0; i < 16 && !c->dead; i++) {
        char *p = gmq_buf_reserve(&c->in, MASTER_READ_CHUNK);
        ssize_t n = c->io->read(c, p, MASTER_READ_CHUNK);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            gmq_conn_close(c);
            return;
        }
        if (n < 0)
            break;
        c->in.len += (size_t) n;
        got = 1;
        if ((size_t) n < MASTER_READ_CHUNK && c->ssl == NULL)
            break;
    }
    if (c->tls_want == 2)
        ev_io_start(c->m->loop, &c->wio);
    if (write_waits && gmq_buf_used(&c->out) > 0) {
        gmq_conn_flush(c);
        if (c->dead)
            return;
    }
    if (!got)
        return;
    if (c->closing) {
        /* an error is on its way out and nothing more is parsed: drop the input */
        gmq_buf_reset(&c->in);
        return;
    }
    c->last_active_ms = gmq_mono_ms();
    if (c->proto == GMQ_PROTO_HTTP)
        gmq_http_on_data(c);
    else
        gmq_tcp_on_data(c);
    if (!c->dead && c->tls_want == 1 && gmq_buf_used(&c->out) > 0)
        gmq_conn_flush(c);
}

static void
master_on_conn_write(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) revents;
    gmq_conn_t *c = io->data;
    if (c->tls_want == 2) {
        /* a TLS read was waiting for the socket to become writable */
        c->tls_want = 0;
        ev_io_stop(loop, io);
        master_on_conn_read(loop, &c->rio, EV_READ);
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
    gmq_conn_flush(c);
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
    }
    if (gmq_buf_used(&c->out) > 0) {
        if (gmq_buf_used(&c->out) > (size_t) c->m->cfg.max_output) {
            gmq_log_warn("connection %llu: %zu bytes unread by the client (max_output); closing",
                         (unsigned long long) c->id, gmq_buf_used(&c->out));
            gmq_conn_close(c);
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
        if (req->wproc != NULL && req->wproc->fd >= 0 &&
            (req->op == GMQ_OP_POP || req->op == GMQ_OP_DEAD))
            gmq_ipc_put_control(&req->wproc->out, GMQ_IPC_CANCEL, req->id);
    }
    gmq_list_remove(&c->link);
    gmq_list_push_tail(&c->m->dead_conns, &c->link);
    c->m->nconns--;
}

static void
master_conn_free(gmq_conn_t *c)
{
    gmq_list_remove(&c->link);
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
    c->io->close(c);
    close(c->fd);
    gmq_buf_free(&c->in);
    gmq_buf_free(&c->out);
    free(c);
}

static void
master_on_flush(struct ev_loop *loop, ev_prepare *p, int revents)
{
    (void) loop; (void) revents;
    gmq_master_t *m = p->data;
    gmq_sup_flush(m->sup);
    while (!gmq_list_empty(&m->dead_conns)) {
        master_conn_free(container_of(m->dead_conns.next, gmq_conn_t, link));
    }
}

/* ---- requests ---- */

gmq_req_t *
gmq_req_new(gmq_master_t *m, gmq_conn_t *c, const char *topic, gmq_op_t op,
            gmq_req_done_fn done, gmq_error_t *err)
{
    gmq_wproc_t *w = gmq_sup_get(m->sup, topic, 1, err);
    if (w == NULL)
        return NULL;
    if (gmq_buf_used(&w->out) > (size_t) m->cfg.max_output) {
        /* the worker is not keeping up (or stopped): shed load instead of
         * growing the master's memory without bound */
        gmq_error_set(err, GMQ_E_LIMIT, "topic %s is overloaded: %zu bytes wait for its worker "
                      "(max_output is %ld); retry later", topic, gmq_buf_used(&w->out),
                      m->cfg.max_output);
        return NULL;
    }
    gmq_req_t *req = gmq_xcalloc(1, sizeof(*req));
    req->id = ++m->next_req_id;
    req->conn = c;
    req->wproc = w;
    req->done = done;
    req->op = op;
    req->started_ms = gmq_mono_ms();
    gmq_list_init(&req->conn_link);
    if (c != NULL)
        gmq_list_push_tail(&c->reqs, &req->conn_link);
    gmq_list_push_tail(&w->reqs, &req->wproc_link);
    master_reqs_put(m, req);
    req->frame_start = gmq_ipc_request_begin(&w->out, req->id, op);
    m->stat_requests++;
    return req;
}

gmq_buf_t *
gmq_req_buf(gmq_req_t *req)
{
    return &req->wproc->out;
}

void
gmq_req_end(gmq_req_t *req)
{
    gmq_ipc_request_end(&req->wproc->out, req->frame_start);
}

gmq_req_t *
gmq_req_find(gmq_master_t *m, uint64_t id)
{
    size_t mask = m->reqs_cap - 1;
    for (size_t i = id & mask;; i = (i + 1) & mask) {
        gmq_req_t *r = m->reqs[i];
        if (r == NULL)
            return NULL;
        if (r != (gmq_req_t *) m && r->id == id)
            return r;
    }
}

void
gmq_req_finish(gmq_master_t *m, gmq_req_t *req)
{
    master_reqs_del(m, req);
    gmq_list_remove(&req->wproc_link);
    gmq_list_remove(&req->conn_link);
    free(req);
}

static void
master_release_done(gmq_req_t *req, const gmq_ipc_reply_t *r, const gmq_error_t *err)
{
    (void) req; (void) r; (void) err;
}

void
gmq_req_release(gmq_master_t *m, gmq_req_t *req, const gmq_ipc_reply_t *r)
{
    static const char prefix[] = "{\"id\":\"";
    if (r == NULL || !r->ok || r->kind != GMQ_RK_MESSAGE || req->wproc->fd < 0 ||
        r->datalen <= sizeof(prefix) - 1 || memcmp(r->data, prefix, sizeof(prefix) - 1) != 0)
        return;
    if (m == NULL)
        m = req->wproc->sup_master;
    uint64_t id = strtoull(r->data + sizeof(prefix) - 1, NULL, 10);
    gmq_error_t err;
    gmq_req_t *rel = gmq_req_new(m, NULL, req->wproc->topic, GMQ_OP_RELEASE, master_release_done, &err);
    if (rel == NULL)
        return;
    gmq_ipc_request_arg_str(gmq_req_buf(rel), "bind_key", req->bind_key);
    gmq_ipc_request_arg_u64(gmq_req_buf(rel), "id", id);
    gmq_req_end(rel);
    gmq_log_info("topic %s: message %llu returned to %s (client gone)", req->wproc->topic,
                 (unsigned long long) id, req->bind_key[0] ? req->bind_key : "default");
}

void
gmq_req_fail_all(gmq_master_t *m, gmq_list_t *list, const gmq_error_t *err)
{
    while (!gmq_list_empty(list)) {
        gmq_req_t *req = container_of(list->next, gmq_req_t, wproc_link);
        req->done(req, NULL, err);
        gmq_req_finish(m, req);
    }
}

/* open addressing with linear probing; deleted slots hold the master pointer
 * as a tombstone; grows (and drops tombstones) at half load */
static void
master_reqs_put(gmq_master_t *m, gmq_req_t *req)
{
    if ((m->reqs_len + 1) * 2 > m->reqs_cap) {
        gmq_req_t **old = m->reqs;
        size_t oldcap = m->reqs_cap;
        size_t live = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i] != NULL && old[i] != (gmq_req_t *) m)
                live++;
        while ((live + 1) * 4 > m->reqs_cap)
            m->reqs_cap *= 2;
        m->reqs = gmq_xcalloc(m->reqs_cap, sizeof(gmq_req_t *));
        m->reqs_len = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i] != NULL && old[i] != (gmq_req_t *) m)
                master_reqs_put(m, old[i]);
        free(old);
    }
    size_t mask = m->reqs_cap - 1;
    size_t i = req->id & mask;
    while (m->reqs[i] != NULL)
        i = (i + 1) & mask;
    m->reqs[i] = req;
    m->reqs_len++;
}

static void
master_reqs_del(gmq_master_t *m, gmq_req_t *req)
{
    size_t mask = m->reqs_cap - 1;
    for (size_t i = req->id & mask; m->reqs[i] != NULL; i = (i + 1) & mask) {
        if (m->reqs[i] == req) {
            m->reqs[i] = (gmq_req_t *) m;    /* tombstone; counted until the next rehash */
            return;
        }
    }
}

/* ---- signals and shutdown ---- */

static void
master_on_signal(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) loop; (void) revents;
    gmq_master_t *m = io->data;
    struct signalfd_siginfo si;
    while (read(m->sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            gmq_sup_reap(m->sup);
            master_check_stopped(m);
            break;
        case SIGTERM:
        case SIGINT:
            gmq_log_info("%s: shutting down", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            gmq_master_stop(m);
            break;
        case SIGHUP:
            master_reload(m);
            break;
        }
    }
}

void
gmq_master_stop(gmq_master_t *m)
{
    if (m->stopping)
        return;
    m->stopping = 1;
    /* stop accepting; connections already open get their pending replies */
    ev_io_stop(m->loop, &m->tcp_io);
    ev_io_stop(m->loop, &m->http_io);
    close(m->tcp_fd);
    close(m->http_fd);
    m->tcp_fd = m->http_fd = -1;
    gmq_sup_shutdown(m->sup);
    if (m->etcd) {
        m->etcd_busy = 1;
        gmq_etcd_stop(m->etcd, master_on_etcd_stopped, m);
    }
    ev_timer_start(m->loop, &m->stop_timer);
    master_check_stopped(m);
}

static void
master_check_stopped(gmq_master_t *m)
{
    if (m->stopping && gmq_sup_running(m->sup) == 0 && !m->etcd_busy) {
        ev_timer_stop(m->loop, &m->stop_timer);
        ev_break(m->loop, EVBREAK_ALL);
    }
}

static void
master_on_etcd_stopped(void *arg)
{
    gmq_master_t *m = arg;
    m->etcd_busy = 0;
    master_check_stopped(m);
}

static void
master_on_stop_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop; (void) revents;
    gmq_master_t *m = t->data;
    gmq_sup_kill_all(m->sup);
}

static void
master_reload(gmq_master_t *m)
{
    gmq_config_t next;
    char err[512];
    memset(&next, 0, sizeof(next));
    int rc = gmq_config_load(&next, m->argc, m->argv, NULL, err, sizeof(err));
    if (rc != GMQ_OK) {
        gmq_log_error("SIGHUP: configuration not reloaded, keeping the old one: %s", err);
        gmq_config_free(&next);
        return;
    }
    if (strcmp(next.tcp_addr, m->cfg.tcp_addr) != 0 || strcmp(next.http_addr, m->cfg.http_addr) != 0 ||
        strcmp(next.data_save_path, m->cfg.data_save_path) != 0 || next.node_id != m->cfg.node_id)
        gmq_log_warn("SIGHUP: listen addresses, data_save_path and node_id change only on restart");
    /* keep what only a restart may change */
    char *keep[] = { next.tcp_addr, next.http_addr, next.data_save_path };
    next.tcp_addr = m->cfg.tcp_addr;
    next.http_addr = m->cfg.http_addr;
    next.data_save_path = m->cfg.data_save_path;
    next.node_id = m->cfg.node_id;
    m->cfg.tcp_addr = keep[0];
    m->cfg.http_addr = keep[1];
    m->cfg.data_save_path = keep[2];
    if (next.tcp_tls != m->cfg.tcp_tls || next.http_tls != m->cfg.http_tls)
        gmq_log_warn("SIGHUP: tcp_tls/http_tls change only on restart");
    next.tcp_tls = m->cfg.tcp_tls;
    next.http_tls = m->cfg.http_tls;
    if (m->tls_ctx != NULL) {
        /* new connections get the new certificates; open ones keep theirs */
        char err[512];
        struct ssl_ctx_st *ctx = gmq_tls_ctx_new(&next, err, sizeof(err));
        if (ctx == NULL) {
            gmq_log_error("SIGHUP: TLS not reloaded, keeping the old certificates: %s", err);
        } else {
            SSL_CTX_free(m->tls_ctx);
            m->tls_ctx = ctx;
            gmq_log_info("SIGHUP: TLS certificates reloaded");
        }
    }
    gmq_config_free(&m->cfg);
    m->cfg = next;
    if (gmq_log_open(m->cfg.log_level, m->cfg.log_file) != GMQ_OK)
        gmq_log_error("SIGHUP: cannot open log_file %s", m->cfg.log_file);
    gmq_log_info("SIGHUP: configuration reloaded from %s",
                 m->cfg.config_file ? m->cfg.config_file : "(flags only)");
}

int
gmq_master_token_ok(const gmq_master_t *m, const char *tok, size_t len)
{
    const char *want = m->cfg.auth_token;
    size_t wl = strlen(want);
    if (wl == 0)
        return 1;
    /* compare in constant time over the configured length */
    unsigned char pad[512];
    size_t n = len < sizeof(pad) ? len : sizeof(pad);
    memset(pad, 0, sizeof(pad));
    memcpy(pad, tok, n);
    if (wl > sizeof(pad))
        return 0;
    return (CRYPTO_memcmp(pad, want, wl) == 0) & (len == wl);
}

/* once a second: TLS handshakes and HTTP heads that take too long, idle clients */
static void
master_on_sweep(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop; (void) revents;
    gmq_master_t *m = t->data;
    ev_tstamp at = ev_time();
    if (m->last_sweep > 0)
        m->loop_lag_ms = (at - m->last_sweep - 1.0) * 1000.0 > 0 ? (at - m->last_sweep - 1.0) * 1000.0 : 0;
    m->last_sweep = at;
    uint64_t now = gmq_mono_ms();
    uint64_t head_ms = (uint64_t) m->cfg.header_timeout * 1000;
    uint64_t idle_ms = (uint64_t) m->cfg.idle_timeout * 1000;
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
            gmq_http_timeout(c);
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

/* a node reachable from other hosts should say who may use it */
static void
master_warn_exposed(const gmq_master_t *m)
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

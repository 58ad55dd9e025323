/*
 * master.c - the master process: configuration, the data directory lock,
 * the libev loop and its end-of-iteration hook, signals (signalfd), SIGHUP
 * reload, graceful shutdown, auth tokens and releasing lost deliveries.
 */
#include "master.h"
#include "tcp.h"
#include "etcd.h"
#include "ops.h"
#include "spawn.h"
#include "sup.h"
#include "tls.h"
#include "common/log.h"
#include "common/proctitle.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MASTER_STOP_TIMEOUT 10.0          /* seconds for workers to finish */
#define MASTER_LOCK_WAIT_MS 3000          /* a previous node's processes may still be exiting */
#define MASTER_LOCK_NAME    ".gmq.lock"
#define MASTER_FD_MARGIN    64            /* listeners, log, locks, signalfd, epoll, etcd */

static int  master_lock_data_dir(gmq_master_t *m, char *err, size_t errlen);
static void master_raise_fd_limit(const gmq_master_t *m);
static void master_on_signal(struct ev_loop *loop, ev_io *io, int revents);
static void master_on_flush(struct ev_loop *loop, ev_prepare *p, int revents);
static void master_on_tick(struct ev_loop *loop, ev_check *c, int revents);
static void master_on_stop_timeout(struct ev_loop *loop, ev_timer *t, int revents);
static void master_on_sweep(struct ev_loop *loop, ev_timer *t, int revents);
static void master_reload(gmq_master_t *m);
static void master_check_stopped(gmq_master_t *m);
static void master_on_etcd_stopped(void *arg);

int
gmq_master_init(gmq_master_t *m, int argc, char **argv)
{
    char err[512];
    memset(m, 0, sizeof(*m));
    m->tcp_fd = m->http_fd = m->sig_fd = m->lock_fd = -1;
    m->argc = argc;
    m->argv = argv;
    gmq_list_init(&m->conns);
    gmq_list_init(&m->dead_conns);
    gmq_list_init(&m->flushq);
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
    master_raise_fd_limit(m);
    if (gmq_mkdir_p(m->cfg.data_save_path, 0755) != 0) {
        fprintf(stderr, "gmq-master: data_save_path: cannot create \"%s\": %s\n",
                m->cfg.data_save_path, strerror(errno));
        return GMQ_ERR;
    }
    if (gmq_spawn_locate(m->worker_path, sizeof(m->worker_path), err, sizeof(err)) != GMQ_OK) {
        fprintf(stderr, "gmq-master: %s\n", err);
        return GMQ_ERR;
    }
    if (master_lock_data_dir(m, err, sizeof(err)) != GMQ_OK) {
        fprintf(stderr, "gmq-master: %s\n", err);
        return GMQ_ERR;
    }
    if (gmq_etcd_check_id(&m->cfg, err, sizeof(err)) != GMQ_OK) {
        fprintf(stderr, "gmq-master: %s\n", err);
        return GMQ_ERR;
    }
    if (gmq_listen_open(m, err, sizeof(err)) != GMQ_OK) {
        fprintf(stderr, "gmq-master: %s\n", err);
        return GMQ_ERR;
    }
    if (m->cfg.tcp_tls || m->cfg.http_tls) {
        m->tls_ctx = gmq_tls_ctx_new(&m->cfg, err, sizeof(err));
        if (m->tls_ctx == NULL) {
            fprintf(stderr, "gmq-master: %s\n", err);
            return GMQ_ERR;
        }
    }
    gmq_listen_warn_exposed(m);

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
    gmq_listen_start(m);
    ev_io_init(&m->sig_io, master_on_signal, m->sig_fd, EV_READ);
    ev_prepare_init(&m->flush, master_on_flush);
    ev_check_init(&m->tick, master_on_tick);
    ev_set_priority(&m->tick, EV_MAXPRI);     /* before the iteration's other callbacks */
    ev_timer_init(&m->stop_timer, master_on_stop_timeout, MASTER_STOP_TIMEOUT, 0.);
    ev_timer_init(&m->sweep, master_on_sweep, 1., 1.);
    m->sig_io.data = m->flush.data = m->stop_timer.data = m->sweep.data = m;
    ev_timer_start(m->loop, &m->sweep);
    ev_io_start(m->loop, &m->sig_io);
    ev_prepare_start(m->loop, &m->flush);
    ev_check_start(m->loop, &m->tick);
    gmq_clock_tick();

    m->reqs = gmq_reqs_new();
    gmq_id_init(&m->ids, m->cfg.node_id);
    m->started_ms = gmq_now_ms();
    m->spawn = gmq_spawn_new(m->worker_path);
    m->sup = gmq_sup_new(m);
    m->etcd = gmq_etcd_new(m->loop, &m->cfg);
    gmq_proctitle_set("gmq-master tcp=%s http=%s", m->cfg.tcp_addr, m->cfg.http_addr);
    return GMQ_OK;
}

int
gmq_master_run(gmq_master_t *m)
{
    char abs[4096];
    const char *data = realpath(m->cfg.data_save_path, abs) ? abs : m->cfg.data_save_path;
    gmq_log_info("gmq %s node %d starting", GMQ_VERSION, m->cfg.node_id);
    gmq_log_info("tcp listens on %s (%s)", m->cfg.tcp_addr, m->cfg.tcp_tls ? "TLS" : "plain text");
    gmq_log_info("http listens on %s (%s)", m->cfg.http_addr, m->cfg.http_tls ? "TLS" : "plain text");
    gmq_log_info("auth: %s", m->cfg.auth_token[0] ? "on (auth_token)" : "off (no auth_token)");
    gmq_log_info("fsync: %s", gmq_config_fsync_name(m->cfg.fsync));
    gmq_log_info("data: %s", data);
    gmq_sup_start_existing(m->sup);
    gmq_etcd_start(m->etcd);
    ev_run(m->loop, 0);
    /* the loop ends before the next end-of-iteration hook: the answers the
     * shutdown queued (requests no worker will take) go out now */
    gmq_conn_run_queues(m);
    gmq_log_info("stopped");
    return GMQ_EXIT_OK;
}

void
gmq_master_free(gmq_master_t *m)
{
    while (!gmq_list_empty(&m->conns))
        gmq_conn_free(container_of(m->conns.next, gmq_conn_t, link));
    while (!gmq_list_empty(&m->dead_conns))
        gmq_conn_free(container_of(m->dead_conns.next, gmq_conn_t, link));
    gmq_tcp_free_spares();
    gmq_sup_free(m->sup);
    gmq_spawn_free(m->spawn);
    gmq_etcd_free(m->etcd);
    gmq_reqs_free(m->reqs);
    gmq_listen_close(m);
    if (m->loop)
        ev_loop_destroy(m->loop);
    if (m->sig_fd >= 0) close(m->sig_fd);
    if (m->lock_fd >= 0) close(m->lock_fd);
    if (m->tls_ctx)
        SSL_CTX_free(m->tls_ctx);
    gmq_config_free(&m->cfg);
}

/* every connection and every worker's socket is a descriptor of the master:
 * take all the kernel allows (soft = hard) and say so once */
static void
master_raise_fd_limit(const gmq_master_t *m)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        gmq_log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return;
    }
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            gmq_log_warn("setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long) rl.rlim_max,
                         strerror(errno));
            rl.rlim_cur = was;
        }
    }
    unsigned long long have = rl.rlim_cur == RLIM_INFINITY ? ~0ULL : (unsigned long long) rl.rlim_cur;
    unsigned long long want = (unsigned long long) m->cfg.max_connections +
                              (unsigned long long) m->cfg.max_topics + MASTER_FD_MARGIN;
    gmq_log_info("file descriptor limit: %llu (soft was %llu, hard %llu)", have,
                 was == RLIM_INFINITY ? ~0ULL : (unsigned long long) was,
                 rl.rlim_max == RLIM_INFINITY ? ~0ULL : (unsigned long long) rl.rlim_max);
    if (have < want)
        gmq_log_warn("file descriptor limit %llu is below max_connections (%d) + max_topics (%d) "
                     "+ %d: past it new connections wait and new topics start late; raise the "
                     "hard limit (ulimit -Hn, LimitNOFILE=)", have, m->cfg.max_connections,
                     m->cfg.max_topics, MASTER_FD_MARGIN);
}

/* one node per data directory: the lock is held by the master and shared
 * with its workers, so a new node waits for a previous one's last process */
static int
master_lock_data_dir(gmq_master_t *m, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof(path), "%.4096s/%s", m->cfg.data_save_path, MASTER_LOCK_NAME);
    m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m->lock_fd < 0) {
        snprintf(err, errlen, "data_save_path: cannot open \"%.300s\": %s", path, strerror(errno));
        return GMQ_ERR;
    }
    uint64_t until = gmq_mono_ms() + MASTER_LOCK_WAIT_MS;
    while (flock(m->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || gmq_mono_ms() >= until) {
            char pid[32] = "";
            ssize_t n = pread(m->lock_fd, pid, sizeof(pid) - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            snprintf(err, errlen, "data_save_path \"%.300s\" is in use by another gmq-master%s%s%s",
                     m->cfg.data_save_path, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
            return GMQ_ERR;
        }
        usleep(20 * 1000);
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
    if (ftruncate(m->lock_fd, 0) != 0 || pwrite(m->lock_fd, pid, (size_t) n, 0) != n)
        gmq_log_warn("cannot write the pid to %s: %s", path, strerror(errno));
    return GMQ_OK;
}

/* end of iteration: resume parsers and write replies, then the batches to workers */
static void
master_on_tick(struct ev_loop *loop, ev_check *c, int revents)
{
    (void) loop; (void) c; (void) revents;
    gmq_clock_tick();
}

static void
master_on_flush(struct ev_loop *loop, ev_prepare *p, int revents)
{
    (void) loop; (void) revents;
    gmq_master_t *m = p->data;
    gmq_conn_run_queues(m);
    gmq_sup_flush(m->sup);
}

void
gmq_master_release(gmq_master_t *m, gmq_req_t *req, const gmq_op_reply_t *r)
{
    if (r == NULL || !r->ok || r->kind != GMQ_RK_MESSAGE)
        return;
    gmq_master_settle(m, gmq_sup_topic(req->wproc), req->bind_key, r->id, GMQ_OP_RELEASE);
}

void
gmq_master_settle(gmq_master_t *m, const char *topic, const char *bind_key, uint64_t id,
                  gmq_op_t op)
{
    gmq_op_req_t o = { .op = op, .id = id };
    o.bind_key.p = bind_key;
    o.bind_key.len = strlen(bind_key);
    gmq_error_t err;
    gmq_wproc_t *w = gmq_sup_get(m->sup, topic, 0, &err);
    if (w == NULL || gmq_ops_submit_to(m, NULL, w, &o, NULL, NULL, &err) == NULL) {
        gmq_log_warn("topic %s: message %llu could not be %s (%s); it comes back after its TTR",
                     topic, (unsigned long long) id, op == GMQ_OP_ACK ? "acked" : "returned",
                     err.msg);
        return;
    }
    if (op == GMQ_OP_RELEASE)
        gmq_log_info("topic %s: message %llu returned to %s (client gone)", topic,
                     (unsigned long long) id, bind_key[0] ? bind_key : "default");
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
    gmq_listen_close(m);
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
    for (gmq_list_t *l = m->conns.next; l != &m->conns; l = l->next)
        gmq_conn_reconfigure(container_of(l, gmq_conn_t, link));
    /* workers take their share of the new settings (forked ones keep a copy) */
    gmq_sup_send_settings(m->sup);
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

/* once a second: deadlines of connections, and the loop's lag */
static void
master_on_sweep(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop; (void) revents;
    gmq_master_t *m = t->data;
    ev_tstamp at = ev_time();
    if (m->last_sweep > 0) {
        double lag = (at - m->last_sweep - 1.0) * 1000.0;
        m->loop_lag_ms = lag > 0 ? lag : 0;
    }
    m->last_sweep = at;
    gmq_conn_sweep(m);
}

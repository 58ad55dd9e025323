/*
 * master.h - the master process context: configuration, the loop and its
 * watchers, the listening sockets, connections, the request table, the
 * worker table and message ids. One gmq_master_t per process, passed
 * explicitly; each part is owned by its module (listen.c, conn.c, req.c,
 * sup.c, id.c, ops.c) and reached through its functions.
 */
#ifndef GMQ_MASTER_H
#define GMQ_MASTER_H

#include "common/buf.h"
#include "common/config.h"
#include "common/gmq.h"
#include "common/list.h"
#include "common/log.h"
#include "conn.h"
#include "id.h"
#include "proto/errors.h"
#include "proto/ipc.h"
#include "req.h"
#include "spawn.h"

#include <ev.h>

typedef struct gmq_sup_s gmq_sup_t;

struct gmq_master_s {
    struct ev_loop *loop;
    gmq_config_t    cfg;
    int             argc;
    char          **argv;
    int             tcp_fd, http_fd, sig_fd, lock_fd;
    char            worker_path[4096];   /* gmq-worker (spawn.h) */
    gmq_spawner_t  *spawn;               /* starts the workers (spawn.h) */
    ev_io           tcp_io, http_io, sig_io;
    ev_timer        accept_pause;  /* accepting paused after EMFILE/ENFILE */
    gmq_log_rate_t  accept_warn;   /* accept failures: one log line a second */
    ev_timer        sweep;       /* once a second: handshake, head and idle deadlines */
    struct ssl_ctx_st *tls_ctx;  /* server context when tcp_tls or http_tls is on */
    ev_prepare      flush;       /* end of iteration: resume parsers, write, free, worker batches */
    ev_check        tick;        /* start of iteration: the loop clock (gmq_clock_tick) */
    ev_timer        stop_timer;
    gmq_sup_t      *sup;
    gmq_reqs_t     *reqs;
    gmq_id_gen_t    ids;
    gmq_list_t      conns;
    gmq_list_t      dead_conns;
    gmq_list_t      flushq;      /* connections with output or a resume pending */
    gmq_list_t      chans;       /* pub/sub channels (master/chan.c) */
    int             nchans;
    int             nconns;
    uint64_t        next_conn_id;
    uint64_t        started_ms;
    int             stopping;
    int             test_hooks;  /* GMQ_TEST_HOOKS=1 in the environment */
    uint64_t        stat_conns_total;
    double          loop_lag_ms;   /* how late the 1 s sweep timer last fired */
    ev_tstamp       last_sweep;
    struct gmq_etcd_s *etcd;     /* NULL = standalone */
    int             etcd_busy;   /* revoke in flight at stop */
};

/* master.c */
int  gmq_master_init(gmq_master_t *m, int argc, char **argv);
int  gmq_master_run(gmq_master_t *m);
void gmq_master_free(gmq_master_t *m);
void gmq_master_stop(gmq_master_t *m);
/* 1 if the presented token equals auth_token (constant time) */
int  gmq_master_token_ok(const gmq_master_t *m, const char *tok, size_t len);

/* listen.c: the listening sockets and accept */
int  gmq_listen_open(gmq_master_t *m, char *err, size_t errlen);   /* both ports */
void gmq_listen_start(gmq_master_t *m);
void gmq_listen_close(gmq_master_t *m);
void gmq_listen_warn_exposed(const gmq_master_t *m);

/* requests: the client left before a delivered message reached it (r is
 * its MESSAGE reply): send it back to its queue at once; no-op otherwise */
void gmq_master_release(gmq_master_t *m, gmq_req_t *req, const gmq_op_reply_t *r);
/* settle a delivered message: GMQ_OP_ACK (it reached its client) or
 * GMQ_OP_RELEASE (it did not: back to the head of its queue) */
void gmq_master_settle(gmq_master_t *m, const char *topic, const char *bind_key, uint64_t id,
                       gmq_op_t op);

#endif

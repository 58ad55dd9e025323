/*
 * master.h - the master process context, client connections and the
 * requests in flight to workers. One gmq_master_t per process, passed
 * explicitly; connections and requests are owned by it.
 */
#ifndef GMQ_MASTER_H
#define GMQ_MASTER_H

#include "common/buf.h"
#include "common/config.h"
#include "common/gmq.h"
#include "common/list.h"
#include "proto/errors.h"
#include "proto/ipc.h"

#include <ev.h>
#include <http_parser.h>

typedef struct gmq_conn_s  gmq_conn_t;
typedef struct gmq_req_s   gmq_req_t;
typedef struct gmq_wproc_s gmq_wproc_t;
typedef struct gmq_sup_s   gmq_sup_t;


typedef enum { GMQ_PROTO_HTTP = 1, GMQ_PROTO_TCP = 2 } gmq_proto_t;

/* the connection io table: plain sockets and TLS sessions look the same.
 * read/write return bytes (> 0), 0 on EOF (read), -1 with errno (EAGAIN). */
typedef struct {
    ssize_t (*read)(gmq_conn_t *c, void *buf, size_t n);
    ssize_t (*write)(gmq_conn_t *c, const void *buf, size_t n);
    void    (*close)(gmq_conn_t *c);
} gmq_conn_io_t;

/* what a request's reply is for: called with the parsed reply, or with
 * r == NULL and err set when the worker died or could not be reached */
typedef void (*gmq_req_done_fn)(gmq_req_t *req, const gmq_ipc_reply_t *r, const gmq_error_t *err);

struct gmq_req_s {
    uint64_t        id;
    gmq_list_t      conn_link;    /* in conn->reqs */
    gmq_list_t      wproc_link;   /* in wproc->reqs */
    gmq_conn_t     *conn;         /* NULL once the client is gone */
    gmq_wproc_t    *wproc;
    gmq_req_done_fn done;
    int             op;
    size_t          frame_start;  /* offset of the request frame in the worker's buffer */
    void           *ctx;          /* the protocol's per-request context */
    uint64_t        slot;         /* the conn's response slot (TCP ordering) */
    char            bind_key[GMQ_NAME_MAX + 1];
    uint64_t        started_ms;
};

/* per-connection HTTP state (master/http.c) */
typedef struct {
    http_parser parser;
    gmq_buf_t   url;
    gmq_buf_t   body;
    gmq_buf_t   hfield, hvalue;
    char        content_type[128];
    char        authorization[300];
    int         in_value;
    int         complete;      /* a whole request parsed, waiting for its reply */
    int         keep_alive;
    int         too_large;
    uint64_t    head_bytes;
    uint64_t    head_started_ms; /* first byte of a request whose head is incomplete */
} gmq_http_state_t;

/* per-connection TCP state (master/tcp.c) */
#define GMQ_TCP_MAX_TOKENS 8
typedef struct {
    int        state;          /* 0 = reading a line, 1 = reading bodies */
    char      *line;           /* the command whose bodies are being read */
    size_t     line_len;
    char      *argv[GMQ_TCP_MAX_TOKENS];
    int        argc;
    int        ntokens;        /* tokens on the line, even past GMQ_TCP_MAX_TOKENS */
    uint32_t   bodies_need;    /* bodies still to read */
    gmq_buf_t  bodies;         /* collected bodies: u32 len + bytes each */
    uint32_t   nbodies;
    uint64_t   next_slot;      /* replies go out in command order */
    gmq_list_t resps;          /* tcp responses, oldest first */
    ev_timer   heartbeat;      /* 105 ping while a pop waits */
    int        waiting;        /* pops waiting at workers */
    int        broken;         /* a fatal error is queued: input is ignored */
    gmq_list_t subs;           /* channel subscriptions (master/chan.c) */
} gmq_tcp_state_t;

struct gmq_conn_s {
    gmq_master_t *m;
    gmq_list_t    link;        /* in m->conns or m->closing */
    gmq_proto_t   proto;
    int           fd;
    const gmq_conn_io_t *io;
    struct ssl_st *ssl;        /* TLS session, NULL on plain connections */
    int           tls_want;    /* 1: a write waits for readability, 2: a read for writability */
    int           authed;      /* auth_token presented (or none configured) */
    uint64_t      accepted_ms, last_active_ms;   /* monotonic */
    ev_io         rio, wio;
    gmq_buf_t     in, out;
    gmq_list_t    reqs;        /* gmq_req_t waiting for workers */
    int           closing;     /* close when out is flushed */
    int           dead;        /* closed at the end of this loop iteration */
    uint64_t      id;
    union {
        gmq_http_state_t http;
        gmq_tcp_state_t  tcp;
    } u;
};

struct gmq_master_s {
    struct ev_loop *loop;
    gmq_config_t    cfg;
    int             argc;
    char          **argv;
    int             tcp_fd, http_fd, sig_fd;
    ev_io           tcp_io, http_io, sig_io;
    ev_timer        sweep;       /* once a second: handshake, head and idle deadlines */
    struct ssl_ctx_st *tls_ctx;  /* server context when tcp_tls or http_tls is on */
    ev_prepare      flush;       /* end of iteration: write worker batches, close dead conns */
    ev_timer        stop_timer;
    gmq_sup_t      *sup;
    gmq_list_t      conns;
    gmq_list_t      dead_conns;
    gmq_list_t      chans;       /* pub/sub channels (master/chan.c) */
    int             nchans;
    int             nconns;
    uint64_t        next_conn_id;
    uint64_t        next_req_id;
    /* requests by id: open addressing, power-of-two size */
    gmq_req_t     **reqs;
    size_t          reqs_cap, reqs_len;
    /* snowflake */
    uint64_t        sf_last_ms;
    uint32_t        sf_seq;
    uint64_t        started_ms;
    int             stopping;
    int             test_hooks;  /* GMQ_TEST_HOOKS=1 in the environment */
    uint64_t        stat_requests, stat_conns_total;
    double          loop_lag_ms;   /* how late the 1 s sweep timer last fired */
    ev_tstamp       last_sweep;
    struct gmq_etcd_s *etcd;     /* NULL = standalone */
    int             etcd_busy;   /* revoke in flight at stop */
};

/* master.c */
int         gmq_master_init(gmq_master_t *m, int argc, char **argv);
int         gmq_master_run(gmq_master_t *m);
void        gmq_master_free(gmq_master_t *m);
uint64_t    gmq_master_next_id(gmq_master_t *m);      /* snowflake message id */
void        gmq_master_stop(gmq_master_t *m);

/* connections */
void        gmq_conn_send(gmq_conn_t *c, const void *p, size_t n);
void        gmq_conn_flush(gmq_conn_t *c);            /* enable write interest if needed */
void        gmq_conn_close(gmq_conn_t *c);            /* at the end of the iteration */

/* requests to workers: builds the frame in the topic worker's queue.
 * Returns the request (owned by the master) or NULL with err set. */
gmq_req_t  *gmq_req_new(gmq_master_t *m, gmq_conn_t *c, const char *topic, gmq_op_t op,
                        gmq_req_done_fn done, gmq_error_t *err);
/* the worker's output buffer: add args with gmq_ipc_request_arg*(), then end */
gmq_buf_t  *gmq_req_buf(gmq_req_t *req);
void        gmq_req_end(gmq_req_t *req);
void        gmq_req_finish(gmq_master_t *m, gmq_req_t *req);   /* unlink and free */
gmq_req_t  *gmq_req_find(gmq_master_t *m, uint64_t id);
/* the client of req left before a delivered message reached it: send the
 * message back to its queue at once (GMQ_OP_RELEASE); no-op otherwise */
void        gmq_req_release(gmq_master_t *m, gmq_req_t *req, const gmq_ipc_reply_t *r);
void        gmq_req_fail_all(gmq_master_t *m, gmq_list_t *list, const gmq_error_t *err);

/* 1 if the presented token equals auth_token (constant time) */
int         gmq_master_token_ok(const gmq_master_t *m, const char *tok, size_t len);

/* http.c / tcp.c */
void        gmq_http_conn_init(gmq_conn_t *c);
void        gmq_http_conn_free(gmq_conn_t *c);
void        gmq_http_on_data(gmq_conn_t *c);
void        gmq_http_respond(gmq_conn_t *c, int status, const char *ctype, const char *body,
                             size_t len);
void        gmq_http_respond_json(gmq_conn_t *c, int code, const char *data, size_t dlen,
                                  const char *msg);
void        gmq_tcp_conn_init(gmq_conn_t *c);
void        gmq_tcp_conn_free(gmq_conn_t *c);
void        gmq_tcp_on_data(gmq_conn_t *c);
void        gmq_tcp_idle_close(gmq_conn_t *c);     /* tells the client, then closes */
void        gmq_http_timeout(gmq_conn_t *c);       /* 408 for a head not sent in time */

#endif

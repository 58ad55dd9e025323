/*
 * conn.h - client connections on either port: the socket (plain or TLS
 * behind one io table), input and output buffers, the requests waiting
 * for workers, and the per-protocol state. Output is written once per
 * loop iteration (gmq_conn_send queues it); a connection closed in a
 * callback is freed at the end of the iteration.
 */
#ifndef GMQ_CONN_H
#define GMQ_CONN_H

#include "common/buf.h"
#include "common/gmq.h"
#include "common/list.h"
#include "http.h"
#include "req.h"
#include "tcp.h"

#include <ev.h>
#include <sys/types.h>

typedef enum { GMQ_PROTO_HTTP = 1, GMQ_PROTO_TCP = 2 } gmq_proto_t;
typedef struct gmq_delivery_s gmq_delivery_t;

/* the connection io table: plain sockets and TLS sessions look the same.
 * read/write return bytes (> 0), 0 on EOF (read), -1 with errno (EAGAIN). */
typedef struct {
    ssize_t (*read)(gmq_conn_t *c, void *buf, size_t n);
    ssize_t (*write)(gmq_conn_t *c, const void *buf, size_t n);
    void    (*close)(gmq_conn_t *c);
    /* 1 if bytes already read from the socket wait inside (a TLS session's
     * buffer), which its readability will not signal again; NULL: never */
    int     (*pending)(gmq_conn_t *c);
} gmq_conn_io_t;

struct gmq_conn_s {
    gmq_master_t *m;
    gmq_list_t    link;        /* in m->conns or m->dead_conns */
    gmq_list_t    flush_link;  /* in m->flushq while output or a resume waits */
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
    gmq_list_t    deliveries;  /* delivered messages not yet written to the socket */
    uint64_t      out_sent;    /* bytes of out ever written to the socket */
    int           closing;     /* close when out is flushed */
    int           dead;        /* closed; freed at the end of this loop iteration */
    int           resume;      /* parse buffered input at the end of this iteration */
    int           in_full;     /* reading stopped: too much input waits for the parser */
    size_t        in_cap;      /* most input buffered: from the limits it was accepted
                                * with, raised (never lowered) by a reload */
    uint64_t      id;
    union {
        gmq_http_state_t http;
        gmq_tcp_state_t  tcp;
    } u;
};

/* a new connection on an accepted socket (read watcher not started yet) */
gmq_conn_t *gmq_conn_new(gmq_master_t *m, int fd, gmq_proto_t proto);
void        gmq_conn_start(gmq_conn_t *c);        /* start reading */
/* queue bytes for the client; written at the end of the loop iteration */
void        gmq_conn_send(gmq_conn_t *c, const void *p, size_t n);
/* output was appended to c->out directly: write it at the end of the iteration */
void        gmq_conn_schedule(gmq_conn_t *c);
/* parse the input the client pipelined, at the end of this iteration */
void        gmq_conn_resume(gmq_conn_t *c);
/* write now as much as the socket takes (the end-of-iteration hook and the
 * write watcher call this); closes on errors and past max_output */
void        gmq_conn_flush(gmq_conn_t *c);
void        gmq_conn_close(gmq_conn_t *c);        /* freed at the end of the iteration */
/* A message delivered to c (owned by c). It counts as delivered only once
 * its bytes are written to the socket: then an auto-ack one (confirm) is
 * acked; if c closes first, it goes back to the head of its queue. Call
 * gmq_conn_delivery_queued once its frame is appended to c->out. */
gmq_delivery_t *gmq_conn_delivery(gmq_conn_t *c, const char *topic, const char *bind_key,
                                  uint64_t id, int confirm);
void        gmq_conn_delivery_queued(gmq_conn_t *c, gmq_delivery_t *d);
void        gmq_conn_free(gmq_conn_t *c);
/* after a reload: the connection's next request is held to the new limits */
void        gmq_conn_reconfigure(gmq_conn_t *c);
/* end of iteration: resumes, flushes, then frees closed connections */
void        gmq_conn_run_queues(gmq_master_t *m);
/* once a second: TLS handshakes and HTTP heads/bodies that take too long, idle clients */
void        gmq_conn_sweep(gmq_master_t *m);

#endif

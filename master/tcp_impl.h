/*
 * tcp_impl.h - what the files of the master's TCP protocol share: a
 * response (one a command, answered in command order) and an mpub being
 * read (master/tcp.c: commands, responses and replies; master/tcp_mpub.c:
 * mpub, checked as its bodies arrive and sent in chunks). Nothing outside
 * master/tcp*.c includes it.
 */
#ifndef GMQ_TCP_IMPL_H
#define GMQ_TCP_IMPL_H

#include "master.h"

typedef struct tcp_resp_s {
    gmq_list_t link;          /* in c->u.tcp.resps */
    int        done;
    int        fatal;         /* close the connection once sent */
    int        waiting;       /* a pop waiting at a worker */
    int        raw;           /* pop/dead ... raw: answer a message as a 106 frame */
    gmq_delivery_t *delivery; /* the message in frame (owned by the connection) */
    gmq_buf_t  frame;
} tcp_resp_t;

/* an mpub: owned by its connection while its bodies are read, then by the
 * request in flight for its next chunk (conn = NULL once the client left) */
struct tcp_mpub_s {
    gmq_conn_t *conn;
    tcp_resp_t *resp;
    char        topic[GMQ_NAME_MAX + 1];
    uint32_t    total, nread, nsent, stored;
    gmq_buf_t   items;        /* encoded, checked items not yet sent */
    int         inflight;     /* a chunk is at the worker */
    int         aborted;      /* no more bodies will be read (a fatal error) */
    gmq_buf_t   ids;          /* "[id,id,...]" */
    gmq_error_t err;          /* the first bad item (the rest are still read) */
};

/* answer r with one frame / an error frame (fatal: close once it is out) */
void tcp_finish(gmq_conn_t *c, tcp_resp_t *r, uint16_t type, const char *data, size_t len);
void tcp_fail(gmq_conn_t *c, tcp_resp_t *r, int fatal, int code, const char *fmt, ...)
    GMQ_PRINTF(5, 6);

/* mpub <topic> <n>: begin reading its n bodies; each body read; a fatal
 * error that stops the reading; free */
void cmd_mpub(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
void tcp_mpub_body(gmq_conn_t *c, tcp_mpub_t *mp, const gmq_tcp_event_t *ev);
void tcp_mpub_abort(tcp_mpub_t *mp, int code, const char *why);
void tcp_mpub_free(tcp_mpub_t *mp);

#endif

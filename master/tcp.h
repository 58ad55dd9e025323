/*
 * tcp.h - the gmq v2 TCP protocol on client connections (master/tcp.c):
 * per-connection state over the proto/tcp parser, replies in command
 * order, heartbeats while a pop waits, channel subscriptions.
 */
#ifndef GMQ_MASTER_TCP_H
#define GMQ_MASTER_TCP_H

#include "common/buf.h"
#include "common/gmq.h"
#include "common/list.h"
#include "proto/tcp.h"

#include <ev.h>

typedef struct gmq_conn_s gmq_conn_t;
typedef struct tcp_mpub_s tcp_mpub_t;

typedef struct {
    gmq_tcp_parser_t parser;
    tcp_mpub_t *mpub;          /* the mpub whose bodies are being read */
    uint64_t    next_slot;     /* replies go out in command order */
    gmq_list_t  resps;         /* responses, oldest first */
    ev_timer    heartbeat;     /* 105 ping while a pop waits */
    int         waiting;       /* pops waiting at workers */
    int         broken;        /* a fatal error is queued: input is ignored */
    int         paused;        /* an mpub waits for its chunk: parse nothing more yet */
    gmq_list_t  subs;          /* channel subscriptions (master/chan.c) */
} gmq_tcp_state_t;

void gmq_tcp_conn_init(gmq_conn_t *c);
void gmq_tcp_conn_free(gmq_conn_t *c);
void gmq_tcp_on_data(gmq_conn_t *c);
void gmq_tcp_idle_close(gmq_conn_t *c);
/* frees the finished responses kept for reuse (at the master's end) */
void gmq_tcp_free_spares(void);
/* the configuration was reloaded: the parser checks what comes next
 * (even the rest of a body it is reading) against the new limits */
void gmq_tcp_conn_reconfigure(gmq_conn_t *c);     /* tells the client, then closes */

#endif

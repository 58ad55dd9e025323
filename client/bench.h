/*
 * bench.h - gmq-bench's modules: the options (client/bench.c), the run
 * (client/bench_run.c: connections, their pipeline slots, the workloads'
 * phases, stall detection, percentiles) and the protocol drivers that send
 * one command for a slot and report its answer (client/bench_gmq.c on
 * libgmq's async API, client/bench_peers.c for beanstalkd and Redis' RESP).
 * Everything runs on one libev loop in one thread.
 */
#ifndef GMQ_BENCH_H
#define GMQ_BENCH_H

#include "common/gmq.h"

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#define GMQ_BENCH_STALL_S     30     /* no answer for this long while commands wait: stalled */
#define GMQ_BENCH_POP_WAIT_S  5      /* a pop (reserve, BLMOVE) waits this long for a message */
#define GMQ_BENCH_CONNECT_S   5      /* one connection attempt */
#define GMQ_BENCH_MAX_ERRSHOW 5      /* error answers printed to stderr */
#define GMQ_BENCH_MAX_CONNS   10000
#define GMQ_BENCH_MAX_PIPE    100000
#define GMQ_BENCH_MAX_TOPICS  1000
#define GMQ_BENCH_MAX_SIZE    (256u << 20)
#define GMQ_BENCH_NAME_MAX    GMQ_NAME_MAX

/* what a slot's command is (0: the slot is free) */
enum { GMQ_BENCH_OP_PUSH = 1, GMQ_BENCH_OP_POP, GMQ_BENCH_OP_ACK };

typedef enum { GMQ_BENCH_PUSH, GMQ_BENCH_POPACK, GMQ_BENCH_DRAIN, GMQ_BENCH_MIXED } gmq_bench_workload_t;
typedef enum { GMQ_BENCH_GMQ, GMQ_BENCH_BEANSTALKD, GMQ_BENCH_REDIS } gmq_bench_peer_t;

typedef struct gmq_bench_s        gmq_bench_t;
typedef struct gmq_bench_conn_s   gmq_bench_conn_t;
typedef struct gmq_bench_slot_s   gmq_bench_slot_t;
typedef struct gmq_bench_driver_s gmq_bench_driver_t;

typedef struct {
    char                 addr[300];          /* host:port */
    gmq_bench_peer_t     peer;
    gmq_bench_workload_t workload;
    int                  conns, pipeline, topics, json;
    long                 messages;
    size_t               size;
    const char          *topic, *queue;      /* base topic name; bind key / list / tube suffix */
    int                  tls;                /* gmq only */
    const char          *cacert, *cert, *key, *token;
} gmq_bench_opts_t;

/* one side of a run: the pushes, or the pop+acks */
typedef struct {
    const char *name;         /* "push", "popack" */
    long        target;       /* messages to finish */
    long        finished;     /* done, well or not */
    long        ok, errors;
    uint64_t    t0, t1;       /* ns: start, last message finished */
    uint64_t   *lat;          /* ns per finished message, target of them */
    long        nlat;
} gmq_bench_phase_t;

/* one unit of a connection's pipeline: a push, or a pop and then its ack */
struct gmq_bench_slot_s {
    gmq_bench_conn_t *conn;
    int               op;         /* GMQ_BENCH_OP_*, 0 = free */
    uint64_t          t0;         /* ns: the push or the pop was sent */
    uint64_t          id;         /* popped: gmq message id, beanstalkd job id */
    void             *msg;        /* popped: the driver's (gmqMessage, Redis element); freed by it */
    size_t            len;
    gmq_bench_slot_t *next;       /* free list, or the driver's list of commands in flight */
};

struct gmq_bench_conn_s {
    gmq_bench_t       *b;
    int                index;
    int                topic;     /* index into b->topic_names */
    gmq_bench_phase_t *ph;        /* what it does now; NULL = nothing */
    long               quota, started;
    int                inflight;
    int                filling;   /* inside run_fill */
    gmq_bench_slot_t  *slots;     /* opts.pipeline of them */
    gmq_bench_slot_t  *free;
    char              *body;      /* the next push's body (opts.size bytes) */
    int                ready;     /* connected and set up */
    void              *drv;       /* the driver's connection */
};

struct gmq_bench_s {
    const gmq_bench_opts_t   *o;
    const gmq_bench_driver_t *drv;
    struct ev_loop           *loop;
    gmq_bench_conn_t         *conns;
    char                    (*topic_names)[GMQ_BENCH_NAME_MAX + 1];   /* opts.topics of them */
    gmq_bench_phase_t         push, popack;
    int                       nready;
    int                       closing;      /* tearing down: answers are ignored */
    int                       fatal;        /* the run cannot go on (why) */
    char                      why[512];
    uint64_t                  last_rx;      /* ns: the last answer */
    ev_timer                  tick;
    int                       errshown;
    long                      pushed, popped, acked;
};

/* a protocol: send a slot's command; answers come back through gmq_bench_done */
struct gmq_bench_driver_s {
    const char *name;
    const char *default_port;
    /* connect c and set it up (auth, queue, tube); later gmq_bench_ready(c)
     * or gmq_bench_fail. GMQ_ERR (after gmq_bench_fail) when it cannot start. */
    int  (*open)(gmq_bench_conn_t *c);
    void (*push)(gmq_bench_conn_t *c, gmq_bench_slot_t *s, const char *body, size_t len);
    void (*pop)(gmq_bench_conn_t *c, gmq_bench_slot_t *s);
    void (*ack)(gmq_bench_conn_t *c, gmq_bench_slot_t *s);     /* s->id, s->msg from the pop */
    void (*close)(gmq_bench_conn_t *c);                        /* also frees a slot's s->msg */
};

/* client/bench_gmq.c, client/bench_peers.c */
extern const gmq_bench_driver_t gmq_bench_gmq;
extern const gmq_bench_driver_t gmq_bench_beanstalkd;
extern const gmq_bench_driver_t gmq_bench_redis;

/* ---- client/bench_run.c ---- */

/* Run the workload of b->o with driver b->drv: connect and set up every
 * connection, then the phases. GMQ_OK, or GMQ_ERR with b->why (connection
 * failed, lost or stalled). Counts and latencies are in b->push, b->popack. */
int      gmq_bench_run(gmq_bench_t *b);
/* free what gmq_bench_run allocated (connections, slots, latencies) */
void     gmq_bench_free(gmq_bench_t *b);

/* from the drivers: c is connected and set up */
void     gmq_bench_ready(gmq_bench_conn_t *c);
/* the run cannot go on: the first reason is kept, the loop stops */
void     gmq_bench_fail(gmq_bench_t *b, const char *fmt, ...) GMQ_PRINTF(2, 3);
/* s's command was answered: err NULL = done; for a pop, got 1 = a message
 * (s->id / s->msg set), 0 = none within GMQ_BENCH_POP_WAIT_S */
void     gmq_bench_done(gmq_bench_slot_t *s, int got, const char *err);
/* the name a driver uses for c's queue: "<topic>_<queue>" (beanstalkd tube, Redis key) */
void     gmq_bench_qname(const gmq_bench_conn_t *c, char *out, size_t n);
uint64_t gmq_bench_now(void);
/* a phase's percentile p (0..1) in microseconds (lat sorted by gmq_bench_run) */
double   gmq_bench_pct(const gmq_bench_phase_t *ph, double p);

#endif

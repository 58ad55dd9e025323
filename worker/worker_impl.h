/*
 * worker_impl.h - what the two files of the worker process share:
 * worker/worker.c (the loop: requests in, one durability barrier a batch,
 * replies out; waiting pops and the deadline timer) and worker/worker_ops.c
 * (the replies and each operation on the topic). Nothing else includes it.
 */
#ifndef GMQ_WORKER_IMPL_H
#define GMQ_WORKER_IMPL_H

#include "worker.h"
#include "topic.h"
#include "common/buf.h"
#include "proto/ipc.h"
#include "proto/op.h"

#include <ev.h>

typedef struct worker_wait_s {
    struct worker_wait_s *next;
    uint64_t req_id;
    int      op;              /* GMQ_OP_POP or GMQ_OP_DEAD */
    uint64_t deadline_ms;     /* wall clock; 0 = forever */
    char     bind_key[GMQ_NAME_MAX + 1];
} worker_wait_t;

struct gmq_worker_s {
    struct ev_loop    *loop;
    const char        *data_path;
    const char        *name;
    gmq_topic_t       *topic;
    int                fd;
    int                sig_fd;
    ev_io              rio, wio, sigio;
    ev_timer           timer;
    ev_prepare         batch;      /* end of iteration: sync, then reply */
    ev_timer           idle;       /* WORKER_IDLE_S after the last request: release pages */
    gmq_buf_t          in;
    gmq_buf_t          pending;    /* replies waiting for the batch's sync */
    gmq_buf_t          out;        /* replies ready to be written */
    worker_wait_t     *waits;      /* FIFO of waiting pop/dead requests */
    int                stopping;
    int                exit_code;
};

typedef void (*worker_op_fn)(gmq_worker_t *w, uint64_t req_id, const gmq_op_req_t *r);

/* each operation's handler (NULL: not one a worker serves) */
extern const worker_op_fn worker_ops[GMQ_OP__COUNT];

/* the settings the master sent (worker/worker_ops.c) */
void worker_apply_settings(gmq_worker_t *w, const gmq_op_settings_t *s);
/* replies: into the batch, sent once it is synced (worker/worker_ops.c) */
void worker_reply(gmq_worker_t *w, uint64_t req_id, gmq_op_reply_t *r, const char *msg);
void worker_reply_err(gmq_worker_t *w, uint64_t req_id, const gmq_error_t *e);
void worker_reply_msg(gmq_worker_t *w, uint64_t req_id, const gmq_msg_t *m);
void worker_reply_ok(gmq_worker_t *w, uint64_t req_id, const char *msg);

/* the loop's (worker/worker.c) */
void worker_rearm(gmq_worker_t *w);
void worker_serve_waits(gmq_worker_t *w);
void worker_store_opts(gmq_store_opts_t *o, const char *data_dir, const gmq_op_settings_t *s);
void worker_stop(gmq_worker_t *w, int code);

#endif

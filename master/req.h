/*
 * req.h - requests in flight to topic workers: one gmq_req_t per operation
 * sent, found by id when its reply comes back. Owned by the master's
 * request table; a request outlives its client (conn = NULL once gone).
 * The table also keeps each operation's latency, submit to completion.
 * A request the master serves itself (an etcd read, master/nodeinfo.c) has
 * wproc NULL and op GMQ_OP_NONE: it only tracks whether its client is there.
 */
#ifndef GMQ_REQ_H
#define GMQ_REQ_H

#include "common/gmq.h"
#include "common/histo.h"
#include "common/list.h"
#include "proto/errors.h"
#include "proto/op.h"

typedef struct gmq_conn_s  gmq_conn_t;
typedef struct gmq_req_s   gmq_req_t;
typedef struct gmq_wproc_s gmq_wproc_t;
typedef struct gmq_reqs_s  gmq_reqs_t;

/* what a request's reply is for: called with the decoded reply, or with
 * r == NULL and err set when the worker died or could not be reached.
 * It only queues output (never re-enters a parser). */
typedef void (*gmq_req_done_fn)(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err);

struct gmq_req_s {
    uint64_t        id;
    gmq_list_t      conn_link;    /* in conn->reqs */
    gmq_list_t      wproc_link;   /* in wproc->reqs */
    gmq_conn_t     *conn;         /* NULL once the client is gone */
    gmq_wproc_t    *wproc;        /* NULL: served in the master */
    gmq_req_done_fn done;
    gmq_op_t        op;
    void           *ctx;          /* the front end's per-request context */
    uint64_t        frame_at;     /* offset of the frame in the worker's output stream */
    uint64_t        started_ns;   /* monotonic, at submit: the latency histograms */
    int             waits;        /* pop/dead that may wait for a message on purpose */
    char            bind_key[GMQ_NAME_MAX + 1];   /* pop/dead: where a lost delivery goes back */
};

gmq_reqs_t *gmq_reqs_new(void);
void        gmq_reqs_free(gmq_reqs_t *t);          /* NULL ok; the requests must be gone */
size_t      gmq_reqs_count(const gmq_reqs_t *t);
uint64_t    gmq_reqs_total(const gmq_reqs_t *t);  /* requests ever created */
/* the latency of op's requests from submit to completion (a reply, or the
 * worker lost); those that were allowed to wait (req->waits) apart, in
 * waited = 1. Never NULL for op < GMQ_OP__COUNT. */
const gmq_histo_t *gmq_reqs_latency(const gmq_reqs_t *t, gmq_op_t op, int waited);

/* a new request with the next id, linked to c (may be NULL) and w; its
 * latency counts from now */
gmq_req_t  *gmq_req_new(gmq_reqs_t *t, gmq_conn_t *c, gmq_wproc_t *w, gmq_op_t op,
                        gmq_req_done_fn done, void *ctx);
gmq_req_t  *gmq_req_find(gmq_reqs_t *t, uint64_t id);
/* the request is complete: observe its latency, unlink and free it */
void        gmq_req_finish(gmq_reqs_t *t, gmq_req_t *req);
/* call every request's done with err, then finish it */
void        gmq_req_fail_all(gmq_reqs_t *t, gmq_list_t *wproc_reqs, const gmq_error_t *err);

#endif

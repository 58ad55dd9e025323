/*
 * sup_impl.h - what the two halves of the worker table share: sup.c (the
 * processes: spawn, reap, backoff, start order, shutdown) and supio.c (each
 * worker's IPC socket: frames read, requests written). Not for other modules.
 */
#ifndef GMQ_SUP_IMPL_H
#define GMQ_SUP_IMPL_H

#include "sup.h"
#include "common/log.h"
#include "proto/ipc.h"

#include <openssl/lhash.h>

struct gmq_sup_s {
    gmq_master_t  *m;
    gmq_list_t     procs;
    int            nprocs;          /* entries, retired ones included */
    gmq_list_t     startq;          /* GMQ_WP_QUEUED entries, in the order found */
    gmq_list_t     startq_now;      /* ... of them, those a request waits for: first */
    gmq_list_t     flushq;          /* entries with output to write (gmq_sup_flush) */
    OPENSSL_LHASH *by_topic;        /* &w->topic of entries not retired (sup_find) */
    int            starting;        /* entries in GMQ_WP_STARTING */
    gmq_log_rate_t spawn_warn;      /* socketpair/fork failures: one line a second */
};

/* sup.c */
void sup_lost(gmq_wproc_t *w, const char *why);     /* its socket is gone: fail what is in flight */
void sup_set_state(gmq_wproc_t *w, gmq_wp_state_t st);
void sup_start_more(gmq_sup_t *s);                  /* start queued workers up to the parallel limit */

/* supio.c */
void sup_on_read(struct ev_loop *loop, ev_io *io, int revents);
void sup_on_write(struct ev_loop *loop, ev_io *io, int revents);
void sup_handle_frame(gmq_wproc_t *w, const gmq_ipc_frame_t *f);
int  sup_write(gmq_wproc_t *w);                     /* GMQ_ERR: the worker is lost */
void sup_mark(gmq_wproc_t *w);                      /* has output: written at the next flush */
void sup_put_control(gmq_wproc_t *w, uint32_t type, uint64_t req_id);

#endif

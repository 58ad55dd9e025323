/*
 * etcd.h - the master's registration in etcd: a lease, the key
 * /gmq/node-<node_id> under it, keepalive every TTL/3, re-registration after a
 * lost lease or etcd outage, revoke on stop; and one-off gateway calls beside
 * it (reading the other nodes). All I/O is libcurl multi on the master's libev
 * loop; message traffic never waits for etcd.
 */
#ifndef GMQ_ETCD_H
#define GMQ_ETCD_H

#include "common/gmq.h"

#include <ev.h>

typedef struct gmq_etcd_s gmq_etcd_t;

/*
 * Blocking; call before the loop runs. Returns GMQ_OK when no live lease holds
 * /gmq/node-<cfg->node_id>, when etcd_endpoints is empty, or when no endpoint
 * answers (the node starts anyway and keeps retrying). Returns GMQ_ERR with err
 * filled ("node_id 3 is already registered in etcd by 127.0.0.1:9503 (lease N,
 * expires in 28 s)") when one does; the master then exits GMQ_EXIT_CONFIG (2).
 */
int         gmq_etcd_check_id(const gmq_config_t *cfg, char *err, size_t errlen);

/* NULL when cfg->etcd_endpoints is empty (standalone) or unparsable (logged).
 * Copies what it needs from cfg; the caller owns the result (gmq_etcd_free). */
gmq_etcd_t *gmq_etcd_new(struct ev_loop *loop, const gmq_config_t *cfg);
/* grant + put, then keepalive; retries with backoff (200 ms doubling to 1 s) */
void        gmq_etcd_start(gmq_etcd_t *e);
/* Revoke the lease (1 s timeout, one attempt), then done(arg) from the loop - also
 * on timeout, failure or when there is nothing to revoke; never from inside this
 * call, except for e NULL (standalone), where done(arg) is called at once. */
void        gmq_etcd_stop(gmq_etcd_t *e, void (*done)(void *arg), void *arg);
/* NULL ok; stops every watcher and frees the curl handles (no revoke) */
void        gmq_etcd_free(gmq_etcd_t *e);

/* "registered", "registering", "retrying", "stopping" or "stopped" */
const char *gmq_etcd_state(const gmq_etcd_t *e);
/* counters of the registration, for /metrics (all 0 when e is NULL) */
typedef struct {
    int      registered;          /* 1 while the key is held under a live lease */
    uint64_t registrations;       /* successful puts of the key */
    uint64_t failures;            /* failed etcd requests of any kind */
    uint64_t keepalive_failures;  /* of which lease keepalives */
} gmq_etcd_stats_t;

void        gmq_etcd_stats(const gmq_etcd_t *e, gmq_etcd_stats_t *out);
/* Appends {"state":"..","endpoint":"..","key":"..","lease_id":"..","registrations":N,
 * "failures":N,"last_error":".."} to out; e NULL appends {"state":"disabled"}. */
void        gmq_etcd_status_json(const gmq_etcd_t *e, gmq_buf_t *out);

/* the answer to a gmq_etcd_call: err NULL with the HTTP status and the body
 * (NUL-terminated after len bytes; valid during the call), or err set */
typedef void (*gmq_etcd_call_fn)(void *arg, long code, const char *body, size_t len,
                                 const char *err);

#define GMQ_ETCD_CALLS_MAX 64   /* calls in flight at once */

/*
 * POST body (JSON, len bytes, copied) to path ("/v3/kv/range") at the endpoint
 * the registration uses, then at the others in turn when one fails at the
 * transport level; timeout_ms for each try. Returns GMQ_OK, and done(arg, ...)
 * is called exactly once, from the loop (never from inside this call): with
 * the answer, or with err set when every endpoint failed, or from
 * gmq_etcd_free ("etcd client stopped"). Returns GMQ_ERR with err filled, and
 * done is never called, when e is NULL (standalone), GMQ_ETCD_CALLS_MAX calls
 * are in flight, or gmq_etcd_free is running (a done may call again).
 */
int gmq_etcd_call(gmq_etcd_t *e, const char *path, const char *body, size_t len,
                  long timeout_ms, gmq_etcd_call_fn done, void *arg, char *err, size_t errlen);

/* 1 while the node's key is in etcd under its lease (state "registered") */
int gmq_etcd_registered(const gmq_etcd_t *e);
/* the node's key, "/gmq/node-<id>"; "" for e NULL */
const char *gmq_etcd_key(const gmq_etcd_t *e);

#endif

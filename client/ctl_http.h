/*
 * ctl_http.h - gmqctl's requests: which node (--server, --etcd with --node, or
 * the default), one libcurl request with the TLS, token and timeout flags, and
 * the node's {"code","data","msg"} reply turned into an exit status and a
 * one-line reason.
 */
#ifndef GMQ_CTL_HTTP_H
#define GMQ_CTL_HTTP_H

#include "client/ctl_json.h"
#include "client/discovery.h"
#include "client/gmqctl.h"
#include "common/buf.h"

typedef struct gmq_ctl_reply_s {
    long                  status;   /* HTTP status; 0 when nothing came back */
    gmq_buf_t             body;     /* the reply body as received */
    gmq_ctl_json_t       *root;     /* the parsed body (API replies), NULL otherwise */
    const gmq_ctl_json_t *data;     /* root's "data" (a null node when absent) */
    const char           *msg;      /* root's "msg", "" when absent */
} gmq_ctl_reply_t;

/* one node ping talks to */
typedef struct gmq_ctl_target_s {
    char node_id[16];               /* "-" for --server */
    char http_addr[256];
    char base[GMQ_CTL_BASE_MAX];    /* http://host:port, no trailing slash */
} gmq_ctl_target_t;

/* etcd from --etcd (default 127.0.0.1:2379), listed once. NULL with the reason
 * printed and *rc set (usage error for a bad endpoint list, failure otherwise). */
gmq_discovery_t *gmq_ctl_http_discovery(gmq_ctl_t *c, int *rc);
/* Choose c->base for single-node commands: --server; with --etcd the node named by
 * --node, or the only registered one; otherwise GMQ_CTL_DEFAULT_SERVER. GMQ_CTL_OK,
 * or the exit status with the reason printed (several nodes and no --node: usage). */
int gmq_ctl_http_target(gmq_ctl_t *c);
/* What ping talks to: the one node above, or with --etcd and no --node every
 * registered node. *out is malloc'd (caller frees), possibly with *n == 0. */
int gmq_ctl_http_targets(gmq_ctl_t *c, gmq_ctl_target_t **out, size_t *n);

/* An API request to c->base (gmq_ctl_http_target first): GET path?name=value&...
 * from kv (name, value pairs ending with NULL; a pair whose value is NULL is left
 * out), or a POST of json with Content-Type application/json when json is not NULL.
 * GMQ_CTL_OK when the node answered code 0. Otherwise the reason is printed (the
 * node's msg, or why there is no answer) and GMQ_CTL_FAIL returned. r is filled
 * either way; release it with gmq_ctl_reply_free. */
int  gmq_ctl_http_api(gmq_ctl_t *c, const char *path, const char *const *kv, const char *json,
                      gmq_ctl_reply_t *r);
/* GET path, the body kept as it is (r->root stays NULL). GMQ_CTL_OK for status 200;
 * otherwise the reason is printed and GMQ_CTL_FAIL returned. */
int  gmq_ctl_http_raw(gmq_ctl_t *c, const char *path, gmq_ctl_reply_t *r);
/* GET base/ping: 1 when it answers 200, else 0 with the reason in err; *ms the time. */
int  gmq_ctl_http_ping(gmq_ctl_t *c, const char *base, char *err, size_t errlen, double *ms);
/* NULL ok */
void gmq_ctl_reply_free(gmq_ctl_reply_t *r);

#endif

/*
 * nodeinfo.h - what the node tells about itself and its cluster on the HTTP
 * port: GET /node and GET /cluster/nodes (docs/http-api.md). Both are API
 * routes (master/api.c) and answer exactly once.
 */
#ifndef GMQ_NODEINFO_H
#define GMQ_NODEINFO_H

#include "http.h"

/* /node: id, version, start time, addresses and TLS, fsync, auth, limits, etcd */
void gmq_nodeinfo_node(gmq_http_req_t *r);
/* /cluster/nodes: the /gmq/node-* registrations in etcd with their lease's time
 * left, read without blocking; {"etcd":"disabled","nodes":[]} when standalone */
void gmq_nodeinfo_cluster(gmq_http_req_t *r);

#endif

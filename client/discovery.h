/*
 * discovery.h - client-side node discovery (libgmq): list the nodes registered
 * under /gmq/node- in etcd, pick one by weight (smooth weighted round-robin, as
 * nginx does), and keep the list current with a watch thread. Blocking calls
 * (libcurl easy); the watch runs on its own thread.
 */
#ifndef GMQ_DISCOVERY_H
#define GMQ_DISCOVERY_H

#include "common/gmq.h"
#include "common/etcdapi.h"

/* one registered node: the string fields of its etcd value */
typedef struct gmq_discovery_node_s {
    char key[96];           /* /gmq/node-<id> */
    char node_id[16];
    char tcp_addr[256];
    char http_addr[256];
    char join_time[32];
    char started_at[48];
    char version[32];
    int  weight;            /* parsed from the "weight" string; < 1 counts as 1 */
    int  current;           /* smooth weighted round-robin state */
} gmq_discovery_node_t;

typedef struct gmq_discovery_s gmq_discovery_t;

/* Pure: fill n from the value of key (JSON, every field a string like the original's
 * nodes; numbers are accepted too). GMQ_ERR when it is not an object with a node_id
 * or tcp_addr/http_addr, or when key does not fit n->key (it is no node's). */
int  gmq_discovery_node_parse(const char *key, const char *json, size_t len,
                              gmq_discovery_node_t *n);
/* Pure: smooth weighted round-robin over nodes[0..n): returns the chosen index, -1 when
 * n == 0. Updates nodes[i].current. */
int  gmq_discovery_swrr(gmq_discovery_node_t *nodes, size_t n);
/* Pure: the same over the nodes with eligible[i] != 0 only (eligible NULL = all);
 * the others keep their state. -1 when none is eligible. */
int  gmq_discovery_swrr_among(gmq_discovery_node_t *nodes, size_t n, const unsigned char *eligible);
/* Pure: apply range or watch kvs to a node array sorted by node id (upsert, or remove
 * for deleted ones); keeps the SWRR state of nodes that stay. With replace set, nodes
 * not in kvs are dropped (a full listing). Returns 1 when the list changed. */
int  gmq_discovery_apply(gmq_discovery_node_t **nodes, size_t *n,
                         const gmq_etcdapi_kv_t *kvs, size_t nkv, int replace);

/* endpoints as in etcd_endpoints ("127.0.0.1:2379,https://h:2379"); ca_file NULL or ""
 * = system CAs; timeout_ms per request (0 = 3000). NULL with err filled on a bad list. */
gmq_discovery_t *gmq_discovery_new(const char *endpoints, const char *ca_file, long timeout_ms,
                                   char *err, size_t errlen);
/* NULL ok; stops the watch thread first */
void gmq_discovery_free(gmq_discovery_t *d);
/* List the nodes now (blocking; each endpoint in turn). GMQ_ERR with err when no
 * endpoint answers. */
int  gmq_discovery_refresh(gmq_discovery_t *d, char *err, size_t errlen);
/* A malloc'd snapshot copy of the nodes (caller frees); returns the count. */
size_t gmq_discovery_nodes(gmq_discovery_t *d, gmq_discovery_node_t **out);
/* Copy the node chosen by weight into *out; lists first if never listed.
 * GMQ_ERR when there is no node. */
int  gmq_discovery_pick(gmq_discovery_t *d, gmq_discovery_node_t *out);
/* Start the watch thread (POST /v3/watch streaming; when that fails, polling every
 * 500 ms until it works again). A change is seen within a second. */
int  gmq_discovery_watch_start(gmq_discovery_t *d);
void gmq_discovery_watch_stop(gmq_discovery_t *d);
/* incremented on every change of the node list */
uint64_t gmq_discovery_version(gmq_discovery_t *d);
/* the endpoint that answered last */
const char *gmq_discovery_endpoint(const gmq_discovery_t *d);

#endif

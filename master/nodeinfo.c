/*
 * nodeinfo.c - owns GET /node (this node's identity and settings) and GET
 * /cluster/nodes: a range read of /gmq/node-* through etcd's JSON gateway,
 * then one lease/timetolive per registration (a few at a time) to tell live
 * nodes from ones whose keepalives stopped, all through gmq_etcd_call on the
 * loop. A read
 * belongs to a request linked to its client's connection (conn NULL once
 * the client left); the answer is written only if the client is still there.
 */
#include "nodeinfo.h"
#include "conn.h"
#include "etcd.h"
#include "master.h"
#include "client/discovery.h"
#include "common/config.h"
#include "common/etcdapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODEINFO_ETCD_TIMEOUT_MS 2000
#define NODEINFO_LEASE_WINDOW    8      /* timetolive calls in flight per read */

enum nodeinfo_lease_state {
    NODEINFO_NO_LEASE,     /* the key has no lease (put by hand) */
    NODEINFO_ASKED,
    NODEINFO_ANSWERED,
    NODEINFO_UNKNOWN,      /* timetolive failed */
};

typedef struct nodeinfo_read_s nodeinfo_read_t;

typedef struct {
    nodeinfo_read_t *rd;
    int              state;     /* enum nodeinfo_lease_state */
    int64_t          ttl;       /* seconds left */
    int64_t          granted;
} nodeinfo_lease_t;

struct nodeinfo_read_s {
    gmq_master_t      *m;
    gmq_req_t         *req;
    gmq_etcdapi_kv_t  *kvs;
    size_t             n;
    nodeinfo_lease_t  *leases;   /* one per kv */
    int64_t            revision;
    size_t             next;     /* the next kv whose lease to ask for */
    int                inflight; /* timetolive calls waiting */
};

static void nodeinfo_on_range(void *arg, long code, const char *body, size_t len,
                              const char *err);
static void nodeinfo_on_lease(void *arg, long code, const char *body, size_t len,
                              const char *err);
static void nodeinfo_ask_leases(nodeinfo_read_t *rd);
static void nodeinfo_finish(nodeinfo_read_t *rd, const char *err);
static void nodeinfo_nodes_json(const nodeinfo_read_t *rd, gmq_buf_t *b);
static void nodeinfo_node_json(const nodeinfo_read_t *rd, size_t i, gmq_buf_t *b);
static const char *nodeinfo_health(const nodeinfo_lease_t *l, int64_t lease);
static void nodeinfo_str(gmq_buf_t *b, const char *key, const char *val, int comma);
static void nodeinfo_ignore(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err);

/* ---- public ---- */

void
gmq_nodeinfo_node(gmq_http_req_t *r)
{
    gmq_master_t *m = r->conn->m;
    const gmq_config_t *cfg = &m->cfg;
    uint64_t now = gmq_now_ms();
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_printf(&b, "{\"node_id\":%d,\"version\":\"%s\",\"pid\":%d,\"started_ms\":%llu,"
                   "\"now_ms\":%llu,\"uptime_s\":%llu,", cfg->node_id, GMQ_VERSION, (int) getpid(),
                   (unsigned long long) m->started_ms, (unsigned long long) now,
                   (unsigned long long) ((now - m->started_ms) / 1000));
    nodeinfo_str(&b, "tcp_addr", cfg->tcp_addr, 0);
    gmq_buf_printf(&b, ",\"tcp_tls\":%s", cfg->tcp_tls ? "true" : "false");
    nodeinfo_str(&b, "http_addr", cfg->http_addr, 1);
    gmq_buf_printf(&b, ",\"http_tls\":%s,\"fsync\":\"%s\",\"auth\":%s,\"weight\":%d,"
                   "\"max_body\":%ld,\"max_delay\":%d,\"msg_ttr\":%d,\"msg_retry\":%d,"
                   "\"etcd_registered\":%s,\"etcd\":",
                   cfg->http_tls ? "true" : "false", gmq_config_fsync_name(cfg->fsync),
                   cfg->auth_token && cfg->auth_token[0] ? "true" : "false", cfg->node_weight,
                   cfg->max_body, cfg->max_delay, cfg->msg_ttr, cfg->msg_max_retry,
                   gmq_etcd_registered(m->etcd) ? "true" : "false");
    gmq_etcd_status_json(m->etcd, &b);
    gmq_buf_append_str(&b, "}");
    gmq_http_respond_json(r->conn, 0, b.data, b.len, "success");
    gmq_buf_free(&b);
}

void
gmq_nodeinfo_cluster(gmq_http_req_t *r)
{
    gmq_master_t *m = r->conn->m;
    if (m->etcd == NULL) {
        static const char d[] = "{\"etcd\":\"disabled\",\"self\":\"\",\"revision\":\"0\","
                                "\"nodes\":[]}";
        gmq_http_respond_json(r->conn, 0, d, sizeof(d) - 1, "success");
        return;
    }
    nodeinfo_read_t *rd = gmq_xcalloc(1, sizeof(*rd));
    rd->m = m;
    rd->req = gmq_req_new(m->reqs, r->conn, NULL, GMQ_OP_NONE, nodeinfo_ignore, rd);
    gmq_list_push_tail(&r->conn->reqs, &rd->req->conn_link);

    char err[GMQ_ERRMSG_MAX];
    char *end = gmq_etcdapi_prefix_end(GMQ_ETCDAPI_NODE_PREFIX);
    gmq_buf_t body;
    gmq_buf_init(&body);
    gmq_etcdapi_body_range(&body, GMQ_ETCDAPI_NODE_PREFIX, end);
    free(end);
    if (gmq_etcd_call(m->etcd, "/v3/kv/range", body.data, body.len, NODEINFO_ETCD_TIMEOUT_MS,
                      nodeinfo_on_range, rd, err, sizeof(err)) != GMQ_OK)
        nodeinfo_finish(rd, err);
    gmq_buf_free(&body);
}

/* ---- static helpers ---- */

static void
nodeinfo_on_range(void *arg, long code, const char *body, size_t len, const char *err)
{
    nodeinfo_read_t *rd = arg;
    char msg[GMQ_ERRMSG_MAX], perr[200];
    if (err != NULL) {
        snprintf(msg, sizeof(msg), "etcd: %s", err);
        nodeinfo_finish(rd, msg);
        return;
    }
    if (gmq_etcdapi_parse_range(body, len, &rd->kvs, &rd->n, &rd->revision, perr,
                                sizeof(perr)) != GMQ_OK) {
        snprintf(msg, sizeof(msg), "etcd: range " GMQ_ETCDAPI_NODE_PREFIX "*: HTTP %ld: %s",
                 code, perr);
        nodeinfo_finish(rd, msg);
        return;
    }
    rd->leases = gmq_xcalloc(rd->n + 1, sizeof(*rd->leases));
    for (size_t i = 0; i < rd->n; i++)
        rd->leases[i].rd = rd;
    nodeinfo_ask_leases(rd);
}

/* keep up to NODEINFO_LEASE_WINDOW timetolive calls going; answer when all are in */
static void
nodeinfo_ask_leases(nodeinfo_read_t *rd)
{
    char err[GMQ_ERRMSG_MAX];
    while (rd->inflight < NODEINFO_LEASE_WINDOW && rd->next < rd->n) {
        size_t i = rd->next++;
        nodeinfo_lease_t *l = &rd->leases[i];
        if (rd->kvs[i].lease == 0)
            continue;
        gmq_buf_t b;
        gmq_buf_init(&b);
        gmq_etcdapi_body_lease(&b, rd->kvs[i].lease);
        l->state = NODEINFO_ASKED;
        if (gmq_etcd_call(rd->m->etcd, "/v3/lease/timetolive", b.data, b.len,
                          NODEINFO_ETCD_TIMEOUT_MS, nodeinfo_on_lease, l, err,
                          sizeof(err)) == GMQ_OK)
            rd->inflight++;
        else
            l->state = NODEINFO_UNKNOWN;
        gmq_buf_free(&b);
    }
    if (rd->inflight == 0 && rd->next == rd->n)
        nodeinfo_finish(rd, NULL);
}

static void
nodeinfo_on_lease(void *arg, long code GMQ_UNUSED, const char *body, size_t len,
                  const char *err)
{
    nodeinfo_lease_t *l = arg;
    char perr[200];
    l->state = NODEINFO_UNKNOWN;
    if (err == NULL && gmq_etcdapi_parse_timetolive(body, len, &l->ttl, &l->granted, perr,
                                                    sizeof(perr)) == GMQ_OK)
        l->state = NODEINFO_ANSWERED;
    l->rd->inflight--;
    nodeinfo_ask_leases(l->rd);
}

/* answer the client if it is still there (err NULL: the node list), then free */
static void
nodeinfo_finish(nodeinfo_read_t *rd, const char *err)
{
    gmq_conn_t *c = rd->req->conn;
    if (c != NULL && !c->dead) {
        if (err != NULL) {
            gmq_http_respond_json(c, 1, NULL, 0, err);
        } else {
            gmq_buf_t b;
            gmq_buf_init(&b);
            nodeinfo_nodes_json(rd, &b);
            gmq_http_respond_json(c, 0, b.data, b.len, "success");
            gmq_buf_free(&b);
        }
    }
    gmq_req_finish(rd->m->reqs, rd->req);
    gmq_etcdapi_kvs_free(rd->kvs, rd->n);
    free(rd->leases);
    free(rd);
}

static void
nodeinfo_nodes_json(const nodeinfo_read_t *rd, gmq_buf_t *b)
{
    const char *self = gmq_etcd_key(rd->m->etcd);
    gmq_buf_printf(b, "{\"etcd\":\"%s\"", gmq_etcd_state(rd->m->etcd));
    nodeinfo_str(b, "self", self, 1);
    gmq_buf_printf(b, ",\"revision\":\"%lld\",\"nodes\":[", (long long) rd->revision);
    for (size_t i = 0; i < rd->n; i++) {
        if (i > 0)
            gmq_buf_append_str(b, ",");
        nodeinfo_node_json(rd, i, b);
    }
    gmq_buf_append_str(b, "]}");
}

static void
nodeinfo_node_json(const nodeinfo_read_t *rd, size_t i, gmq_buf_t *b)
{
    const gmq_etcdapi_kv_t *kv = &rd->kvs[i];
    const nodeinfo_lease_t *l = &rd->leases[i];
    gmq_discovery_node_t n;
    int ok = gmq_discovery_node_parse(kv->key, kv->value ? kv->value : "", kv->value_len,
                                      &n) == GMQ_OK;
    gmq_buf_append_str(b, "{");
    nodeinfo_str(b, "key", kv->key, 0);
    nodeinfo_str(b, "node_id", n.node_id, 1);
    nodeinfo_str(b, "tcp_addr", n.tcp_addr, 1);
    nodeinfo_str(b, "http_addr", n.http_addr, 1);
    nodeinfo_str(b, "version", n.version, 1);
    nodeinfo_str(b, "started_at", n.started_at, 1);
    nodeinfo_str(b, "join_time", n.join_time, 1);
    gmq_buf_printf(b, ",\"weight\":%d,\"lease\":\"%lld\"", n.weight, (long long) kv->lease);
    if (l->state == NODEINFO_ANSWERED)
        gmq_buf_printf(b, ",\"ttl\":%lld,\"granted_ttl\":%lld", (long long) l->ttl,
                       (long long) l->granted);
    else
        gmq_buf_append_str(b, ",\"ttl\":null,\"granted_ttl\":null");
    gmq_buf_printf(b, ",\"health\":\"%s\",\"self\":%s}",
                   ok ? nodeinfo_health(l, kv->lease) : "invalid value",
                   strcmp(kv->key, gmq_etcd_key(rd->m->etcd)) == 0 ? "true" : "false");
}

/* "up": keepalives arrive (every TTL/3, so more than half the TTL is left);
 * "late": they stopped (the node is down or cut off from etcd; the key goes
 * when the lease runs out); "expired", "no lease" (never expires), "unknown" */
static const char *
nodeinfo_health(const nodeinfo_lease_t *l, int64_t lease)
{
    if (lease == 0)
        return "no lease";
    if (l->state != NODEINFO_ANSWERED)
        return "unknown";
    if (l->ttl <= 0)
        return "expired";
    if (l->granted > 0 && l->ttl * 2 < l->granted)
        return "late";
    return "up";
}

static void
nodeinfo_str(gmq_buf_t *b, const char *key, const char *val, int comma)
{
    gmq_buf_printf(b, "%s\"%s\":", comma ? "," : "", key);
    gmq_buf_json_str(b, val ? val : "", val ? strlen(val) : 0);
}

/* a request served in the master is never answered through the worker path */
static void
nodeinfo_ignore(gmq_req_t *req GMQ_UNUSED, const gmq_op_reply_t *r GMQ_UNUSED,
                const gmq_error_t *err GMQ_UNUSED)
{
}

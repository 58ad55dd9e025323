/*
 * api.c - the HTTP API of the original gmq (/push /pop /ack /config ...)
 * plus ours (/requeue /msg /dead /debug/workers): validates parameters,
 * forwards topic requests to the topic's worker and shapes the replies as
 * {"code","data","msg"}.
 */
#include "etcd.h"
#include "http.h"
#include "sup.h"
#include "common/log.h"
#include "common/procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

typedef void (*api_fn)(gmq_http_req_t *r);

typedef struct {
    const char *path;
    api_fn      fn;
} api_route_t;

static void api_ping(gmq_http_req_t *r);
static void api_push(gmq_http_req_t *r);
static void api_pop(gmq_http_req_t *r);
static void api_dead(gmq_http_req_t *r);
static void api_ack(gmq_http_req_t *r);
static void api_config(gmq_http_req_t *r);
static void api_declare(gmq_http_req_t *r);
static void api_topic_stat(gmq_http_req_t *r);
static void api_all_topic_stat(gmq_http_req_t *r);
static void api_queues(gmq_http_req_t *r);
static void api_set_auto_ack(gmq_http_req_t *r);
static void api_requeue(gmq_http_req_t *r);
static void api_msg(gmq_http_req_t *r);
static void api_workers(gmq_http_req_t *r);
static void api_exit_topic(gmq_http_req_t *r);
static void api_crash(gmq_http_req_t *r);
static void api_debug_stats(gmq_http_req_t *r);
static void api_on_reply(gmq_req_t *req, const gmq_ipc_reply_t *r, const gmq_error_t *err);

static const api_route_t api_routes[] = {
    { "/ping",             api_ping },
    { "/push",             api_push },
    { "/pop",              api_pop },
    { "/dead",             api_dead },
    { "/ack",              api_ack },
    { "/config",           api_config },
    { "/declareQueue",     api_declare },
    { "/getTopicStat",     api_topic_stat },
    { "/getAllTopicStat",  api_all_topic_stat },
    { "/getQueuesByTopic", api_queues },
    { "/setIsAutoAck",     api_set_auto_ack },
    { "/requeue",          api_requeue },
    { "/msg",              api_msg },
    { "/exitTopic",        api_exit_topic },
    { "/debug/workers",    api_workers },
    { "/debug/crash",      api_crash },
    { "/debug/stats",      api_debug_stats },
};

void
gmq_api_dispatch(gmq_http_req_t *r)
{
    for (size_t i = 0; i < GMQ_ARRAY_LEN(api_routes); i++) {
        if (strcmp(r->path, api_routes[i].path) == 0) {
            api_routes[i].fn(r);
            return;
        }
    }
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_append_str(&b, "{\"code\":1,\"data\":null,\"msg\":");
    char msg[300];
    snprintf(msg, sizeof(msg), "not found: %.200s", r->path);
    gmq_buf_json_str(&b, msg, strlen(msg));
    gmq_buf_append_str(&b, "}\n");
    gmq_http_respond(r->conn, 404, "application/json", b.data, b.len);
    gmq_buf_free(&b);
}

static void
api_fail(gmq_http_req_t *r, const char *msg)
{
    gmq_http_respond_json(r->conn, 1, NULL, 0, msg);
}

/* a required, valid name parameter; answers the client and returns NULL if not */
static const char *
api_name(gmq_http_req_t *r, const char *key, const char *label, int required)
{
    size_t n = 0;
    const char *v = gmq_http_param(r, key, &n);
    char msg[200];
    if (v == NULL || n == 0) {
        if (!required)
            return "";
        snprintf(msg, sizeof(msg), "%s is empty", label);
        api_fail(r, msg);
        return NULL;
    }
    if (!gmq_name_valid(v, n)) {
        snprintf(msg, sizeof(msg), "invalid %s: use 1..%d of [A-Za-z0-9_.-]", label, GMQ_NAME_MAX);
        api_fail(r, msg);
        return NULL;
    }
    return v;
}

/* a non-negative decimal parameter; -1 if absent, -2 (client answered) if invalid */
static long long
api_uint(gmq_http_req_t *r, const char *key, long long max)
{
    size_t n = 0;
    const char *v = gmq_http_param(r, key, &n);
    if (v == NULL || n == 0)
        return -1;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end != '\0' || x < 0 || x > max) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s must be a number between 0 and %lld", key, max);
        api_fail(r, msg);
        return -2;
    }
    return x;
}

static gmq_req_t *
api_req(gmq_http_req_t *r, const char *topic, gmq_op_t op)
{
    gmq_error_t err;
    gmq_req_t *req = gmq_req_new(r->conn->m, r->conn, topic, op, api_on_reply, &err);
    if (req == NULL) {
        api_fail(r, err.msg);
        return NULL;
    }
    gmq_ipc_request_arg_str(gmq_req_buf(req), "topic", topic);
    return req;
}

/* ---- endpoints ---- */

static void
api_ping(gmq_http_req_t *r)
{
    gmq_http_respond(r->conn, 200, "text/plain; charset=utf-8", "OK", 2);
}

static void
api_push(gmq_http_req_t *r)
{
    gmq_master_t *m = r->conn->m;
    size_t dlen = 0;
    const char *data = gmq_http_param(r, "data", &dlen);
    char *raw = NULL;
    if (data == NULL && strncasecmp(r->content_type, "application/json", 16) == 0) {
        raw = gmq_xstrndup(r->body, r->body_len);
        data = raw;
        dlen = r->body_len;
    }
    if (data == NULL || dlen == 0) {
        api_fail(r, "data is empty");
        return;
    }
    char ebuf[256];
    yajl_val root = yajl_tree_parse(data, ebuf, sizeof(ebuf));
    free(raw);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        char msg[320];
        char *nl = strchr(ebuf, '\n');
        if (nl)
            *nl = '\0';
        snprintf(msg, sizeof(msg), "invalid JSON in data: %s", root ? "not an object" : ebuf);
        yajl_tree_free(root);
        api_fail(r, msg);
        return;
    }
    static const char *kbody[] = { "body", NULL }, *ktopic[] = { "topic", NULL },
                      *kdelay[] = { "delay", NULL }, *krk[] = { "route_key", NULL };
    yajl_val vbody = yajl_tree_get(root, kbody, yajl_t_any);
    yajl_val vtopic = yajl_tree_get(root, ktopic, yajl_t_any);
    yajl_val vdelay = yajl_tree_get(root, kdelay, yajl_t_any);
    yajl_val vrk = yajl_tree_get(root, krk, yajl_t_any);
    const char *msg = NULL;
    char mbuf[200];
    const char *topic = YAJL_IS_STRING(vtopic) ? YAJL_GET_STRING(vtopic) : NULL;
    const char *body = YAJL_IS_STRING(vbody) ? YAJL_GET_STRING(vbody) : NULL;
    const char *rk = YAJL_IS_STRING(vrk) ? YAJL_GET_STRING(vrk) : "";
    long long delay = 0;
    if (topic == NULL || topic[0] == '\0')
        msg = "topic is empty";
    else if (!gmq_name_valid(topic, strlen(topic)))
        msg = "invalid topic: use 1..128 of [A-Za-z0-9_.-]";
    else if (vbody == NULL)
        msg = "body is empty";
    else if (body == NULL)
        msg = "body must be a string";
    else if (vrk != NULL && !YAJL_IS_STRING(vrk) && !YAJL_IS_NULL(vrk))
        msg = "route_key must be a string";
    else if (strlen(rk) > 1024)
        msg = "route_key is longer than 1024 bytes";
    else if (strlen(body) > (size_t) m->cfg.max_body) {
        snprintf(mbuf, sizeof(mbuf), "body is %zu bytes, larger than max_body (%ld)",
                 strlen(body), m->cfg.max_body);
        msg = mbuf;
    } else if (vdelay != NULL && !YAJL_IS_NULL(vdelay)) {
        if (!YAJL_IS_INTEGER(vdelay) || YAJL_GET_INTEGER(vdelay) < 0 ||
            YAJL_GET_INTEGER(vdelay) > m->cfg.max_delay) {
            snprintf(mbuf, sizeof(mbuf), "delay must be an integer number of seconds between 0 and %d (max_delay)",
                     m->cfg.max_delay);
            msg = mbuf;
        } else {
            delay = YAJL_GET_INTEGER(vdelay);
        }
    }
    if (msg != NULL) {
        yajl_tree_free(root);
        api_fail(r, msg);
        return;
    }
    gmq_req_t *req = api_req(r, topic, GMQ_OP_PUSH);
    if (req != NULL) {
        gmq_buf_t *b = gmq_req_buf(req);
        gmq_ipc_request_arg_str(b, "route_key", rk);
        gmq_ipc_request_arg_u64(b, "delay", (uint64_t) delay * 1000);
        gmq_ipc_request_arg_u64(b, "id", gmq_master_next_id(m));
        gmq_ipc_request_arg(b, "body", body, strlen(body));
        gmq_req_end(req);
    }
    yajl_tree_free(root);
}

static void
api_pop_common(gmq_http_req_t *r, gmq_op_t op)
{
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    const char *bk = api_name(r, "bindKey", "bindKey", 1);
    if (bk == NULL)
        return;
    long long timeout = api_uint(r, "timeout", 86400);
    if (timeout == -2)
        return;
    gmq_req_t *req = api_req(r, topic, op);
    if (req == NULL)
        return;
    snprintf(req->bind_key, sizeof(req->bind_key), "%s", bk);
    gmq_ipc_request_arg_str(gmq_req_buf(req), "bind_key", bk);
    if (timeout > 0)
        gmq_ipc_request_arg_u64(gmq_req_buf(req), "wait", (uint64_t) timeout * 1000);
    gmq_req_end(req);
}

static void
api_pop(gmq_http_req_t *r)
{
    api_pop_common(r, GMQ_OP_POP);
}

static void
api_dead(gmq_http_req_t *r)
{
    api_pop_common(r, GMQ_OP_DEAD);
}

static void
api_id_op(gmq_http_req_t *r, gmq_op_t op, int id_required)
{
    size_t n = 0;
    const char *v = gmq_http_param(r, "msgId", &n);
    char *end = NULL;
    unsigned long long id = v && v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    if (v != NULL && end == NULL)
        end = (char *) v;     /* not a number */
    if (id_required && (v == NULL || n == 0 || *end != '\0' || id == 0)) {
        api_fail(r, "msgId is empty");
        return;
    }
    if (!id_required && v != NULL && n > 0 && *end != '\0') {
        api_fail(r, "msgId must be a decimal message id");
        return;
    }
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    const char *bk = api_name(r, "bindKey", "bindKey", op != GMQ_OP_MSG);
    if (bk == NULL)
        return;
    gmq_req_t *req = api_req(r, topic, op);
    if (req == NULL)
        return;
    gmq_ipc_request_arg_str(gmq_req_buf(req), "bind_key", bk);
    gmq_ipc_request_arg_u64(gmq_req_buf(req), "id", id);
    gmq_req_end(req);
}

static void
api_ack(gmq_http_req_t *r)
{
    api_id_op(r, GMQ_OP_ACK, 1);
}

static void
api_requeue(gmq_http_req_t *r)
{
    api_id_op(r, GMQ_OP_REQUEUE, 0);
}

static void
api_msg(gmq_http_req_t *r)
{
    api_id_op(r, GMQ_OP_MSG, 1);
}

static void
api_config(gmq_http_req_t *r)
{
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    long long aa = api_uint(r, "isAutoAck", 1);
    if (aa == -1)
        aa = api_uint(r, "isAuthoAck", 1);   /* the README's spelling */
    long long mode = aa == -2 ? -2 : api_uint(r, "mode", 3);
    long long ttr = mode == -2 ? -2 : api_uint(r, "msgTTR", 86400);
    long long retry = ttr == -2 ? -2 : api_uint(r, "msgRetry", 1000);
    if (aa == -2 || mode == -2 || ttr == -2 || retry == -2)
        return;
    if (mode == 0) {
        api_fail(r, "mode must be 1 (exact), 2 (regex) or 3 (topic wildcards)");
        return;
    }
    if (ttr == 0) {
        api_fail(r, "msgTTR must be at least 1 second");
        return;
    }
    gmq_req_t *req = api_req(r, topic, GMQ_OP_CONFIG);
    if (req == NULL)
        return;
    gmq_buf_t *b = gmq_req_buf(req);
    if (aa >= 0) gmq_ipc_request_arg_u64(b, "auto_ack", (uint64_t) aa);
    if (mode >= 0) gmq_ipc_request_arg_u64(b, "mode", (uint64_t) mode);
    if (ttr >= 0) gmq_ipc_request_arg_u64(b, "ttr", (uint64_t) ttr);
    if (retry >= 0) gmq_ipc_request_arg_u64(b, "retry", (uint64_t) retry);
    gmq_req_end(req);
}

static void
api_declare(gmq_http_req_t *r)
{
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    const char *bk = api_name(r, "bindKey", "bindKey", 1);
    if (bk == NULL)
        return;
    gmq_req_t *req = api_req(r, topic, GMQ_OP_DECLARE);
    if (req == NULL)
        return;
    gmq_ipc_request_arg_str(gmq_req_buf(req), "bind_key", bk);
    gmq_req_end(req);
}

/* an operation on an existing topic only (no worker is started for it) */
static void
api_existing_topic_op(gmq_http_req_t *r, gmq_op_t op)
{
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    gmq_error_t err;
    if (gmq_sup_get(r->conn->m->sup, topic, 0, &err) == NULL) {
        api_fail(r, err.msg);
        return;
    }
    gmq_req_t *req = api_req(r, topic, op);
    if (req != NULL)
        gmq_req_end(req);
}

static void
api_topic_stat(gmq_http_req_t *r)
{
    api_existing_topic_op(r, GMQ_OP_STAT);
}

static void
api_set_auto_ack(gmq_http_req_t *r)
{
    api_existing_topic_op(r, GMQ_OP_TOGGLE_ACK);
}

static void
api_queues(gmq_http_req_t *r)
{
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    gmq_req_t *req = api_req(r, topic, GMQ_OP_QUEUES);
    if (req != NULL)
        gmq_req_end(req);
}

/* /getAllTopicStat: one STAT per topic worker, gathered into one array */
typedef struct {
    gmq_conn_t *conn;
    int         pending;
    int         count;
    gmq_buf_t   out;
} api_gather_t;

static void
api_gather_done(gmq_req_t *req, const gmq_ipc_reply_t *r, const gmq_error_t *err)
{
    api_gather_t *g = req->ctx;
    (void) err;
    if (r != NULL && r->ok && r->kind == GMQ_RK_JSON) {
        gmq_buf_append_str(&g->out, g->count++ ? "," : "[");
        gmq_buf_append(&g->out, r->data, r->datalen);
    }
    if (req->conn == NULL)
        g->conn = NULL;
    if (--g->pending > 0)
        return;
    if (g->count == 0)
        gmq_buf_append_str(&g->out, "[");
    gmq_buf_append_str(&g->out, "]");
    if (g->conn != NULL && !g->conn->dead)
        gmq_http_respond_json(g->conn, 0, g->out.data, g->out.len, "success");
    gmq_buf_free(&g->out);
    free(g);
}

static void
api_all_topic_stat(gmq_http_req_t *r)
{
    gmq_master_t *m = r->conn->m;
    const char *topics[4096];
    int n = gmq_sup_topics(m->sup, topics, (int) GMQ_ARRAY_LEN(topics));
    api_gather_t *g = gmq_xcalloc(1, sizeof(*g));
    g->conn = r->conn;
    gmq_buf_init(&g->out);
    g->pending = 1;    /* held until every request is sent */
    for (int i = 0; i < n; i++) {
        gmq_error_t err;
        gmq_req_t *req = gmq_req_new(m, r->conn, topics[i], GMQ_OP_STAT, api_gather_done, &err);
        if (req == NULL)
            continue;
        gmq_ipc_request_arg_str(gmq_req_buf(req), "topic", topics[i]);
        gmq_req_end(req);
        req->ctx = g;
        g->pending++;
    }
    gmq_req_t fake;
    memset(&fake, 0, sizeof(fake));
    fake.conn = r->conn;
    fake.ctx = g;
    api_gather_done(&fake, NULL, NULL);
}

static void
api_workers(gmq_http_req_t *r)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_sup_json(r->conn->m->sup, &b);
    gmq_http_respond_json(r->conn, 0, b.data, b.len, "success");
    gmq_buf_free(&b);
}

static void
api_exit_topic(gmq_http_req_t *r)
{
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    gmq_error_t err;
    if (gmq_sup_exit_topic(r->conn->m->sup, topic, &err) != GMQ_OK) {
        api_fail(r, err.msg);
        return;
    }
    char msg[GMQ_NAME_MAX + 32];
    snprintf(msg, sizeof(msg), "topic.%s has exit.", topic);
    gmq_http_respond_json(r->conn, 0, NULL, 0, msg);
}

/* node-level figures: processes (CPU, memory, descriptors), loop lag, etcd */
static void
api_debug_stats(gmq_http_req_t *r)
{
    gmq_master_t *m = r->conn->m;
    gmq_buf_t b;
    gmq_procstat_t ps;
    gmq_buf_init(&b);
    gmq_buf_printf(&b, "{\"node_id\":%d,\"version\":\"%s\",\"uptime_s\":%llu,"
                   "\"connections\":%d,\"connections_total\":%llu,\"requests_total\":%llu,"
                   "\"topics\":%d,\"channels\":%d,\"loop_lag_ms\":%.1f,\"processes\":[",
                   m->cfg.node_id, GMQ_VERSION,
                   (unsigned long long) ((gmq_now_ms() - m->started_ms) / 1000), m->nconns,
                   (unsigned long long) m->stat_conns_total, (unsigned long long) m->stat_requests,
                   gmq_sup_count(m->sup), m->nchans, m->loop_lag_ms);
    if (gmq_procstat_read(getpid(), &ps) == GMQ_OK)
        gmq_buf_printf(&b, "{\"role\":\"master\",\"pid\":%d,\"cpu_seconds\":%.2f,\"rss_bytes\":%llu,"
                       "\"fds\":%d}", (int) getpid(), ps.cpu_seconds,
                       (unsigned long long) ps.rss_bytes, ps.fds);
    const char *topics[4096];
    int n = gmq_sup_topics(m->sup, topics, (int) GMQ_ARRAY_LEN(topics));
    for (int i = 0; i < n; i++) {
        gmq_error_t err;
        gmq_wproc_t *w = gmq_sup_get(m->sup, topics[i], 0, &err);
        if (w == NULL || w->pid <= 0 || gmq_procstat_read(w->pid, &ps) != GMQ_OK)
            continue;
        gmq_buf_append_str(&b, ",{\"role\":\"worker\",\"topic\":");
        gmq_buf_json_str(&b, topics[i], strlen(topics[i]));
        gmq_buf_printf(&b, ",\"pid\":%d,\"cpu_seconds\":%.2f,\"rss_bytes\":%llu,\"fds\":%d}",
                       (int) w->pid, ps.cpu_seconds, (unsigned long long) ps.rss_bytes, ps.fds);
    }
    gmq_buf_append_str(&b, "],\"etcd\":");
    gmq_etcd_status_json(m->etcd, &b);
    gmq_buf_append_str(&b, "}");
    gmq_http_respond_json(r->conn, 0, b.data, b.len, "success");
    gmq_buf_free(&b);
}

/* test hook (GMQ_TEST_HOOKS=1 only): make a topic's worker exit with `code` */
static void
api_crash(gmq_http_req_t *r)
{
    if (!r->conn->m->test_hooks) {
        gmq_http_respond(r->conn, 404, "application/json",
                         "{\"code\":1,\"data\":null,\"msg\":\"not found\"}\n", 41);
        return;
    }
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    long long code = api_uint(r, "code", 255);
    if (code == -2)
        return;
    gmq_req_t *req = api_req(r, topic, GMQ_OP_CRASH);
    if (req == NULL)
        return;
    gmq_ipc_request_arg_u64(gmq_req_buf(req), "code", (uint64_t) (code < 0 ? 1 : code));
    gmq_req_end(req);
}

/* ---- replies from workers ---- */

static void
api_on_reply(gmq_req_t *req, const gmq_ipc_reply_t *r, const gmq_error_t *err)
{
    gmq_conn_t *c = req->conn;
    if (c == NULL || c->dead) {
        gmq_req_release(c ? c->m : NULL, req, r);
        return;
    }
    if (r == NULL) {
        gmq_http_respond_json(c, 1, NULL, 0, err->msg);
        return;
    }
    char msg[GMQ_ERRMSG_MAX + 1];
    snprintf(msg, sizeof(msg), "%.*s", (int) r->msglen, r->msg);
    if (!r->ok) {
        gmq_http_respond_json(c, 1, NULL, 0, msg);
        return;
    }
    switch (r->kind) {
    case GMQ_RK_ID: {
        char d[64];
        int n = snprintf(d, sizeof(d), "{\"msgId\":\"%.*s\"}", (int) r->datalen, r->data);
        gmq_http_respond_json(c, 0, d, (size_t) n, "success");
        return;
    }
    case GMQ_RK_EMPTY:
        gmq_http_respond_json(c, 1, NULL, 0, "no message");
        return;
    case GMQ_RK_MESSAGE:
    case GMQ_RK_JSON:
        gmq_http_respond_json(c, 0, r->data, r->datalen, "success");
        return;
    default:
        gmq_http_respond_json(c, 0, NULL, 0, msg);
    }
}

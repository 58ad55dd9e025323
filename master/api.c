/*
 * api.c - the HTTP API of the original gmq (/push /pop /ack /config ...)
 * plus ours (/requeue /msg /dead /debug/workers): turns parameters into
 * operations (validated in master/ops.c), and shapes the replies as
 * {"code","data","msg"}.
 */
#include "etcd.h"
#include "http.h"
#include "master.h"
#include "metrics.h"
#include "nodeinfo.h"
#include "ops.h"
#include "sup.h"
#include "web.h"
#include "common/log.h"
#include "common/procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
static void api_purge(gmq_http_req_t *r);
static void api_delete_queue(gmq_http_req_t *r);
static void api_delete_topic(gmq_http_req_t *r);
static void api_peek(gmq_http_req_t *r);
static void api_list_dead(gmq_http_req_t *r);
static void api_kick(gmq_http_req_t *r);
static void api_touch(gmq_http_req_t *r);
static void api_release(gmq_http_req_t *r);
static void api_on_reply(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err);
static void api_on_raw_reply(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err);

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
    { "/purgeQueue",       api_purge },
    { "/deleteQueue",      api_delete_queue },
    { "/deleteTopic",      api_delete_topic },
    { "/peek",             api_peek },
    { "/listDead",         api_list_dead },
    { "/kick",             api_kick },
    { "/touch",            api_touch },
    { "/release",          api_release },
    { "/debug/workers",    api_workers },
    { "/debug/crash",      api_crash },
    { "/debug/stats",      api_debug_stats },
    { "/metrics",          gmq_metrics_serve },   /* Prometheus text format: metrics.c */
    { "/node",             gmq_nodeinfo_node },
    { "/cluster/nodes",    gmq_nodeinfo_cluster },
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
    if (gmq_web_serve(r) == GMQ_OK)     /* the admin page: /, /app.js, ... */
        return;
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

/* a name parameter: NULL (client answered) when required and missing, or
 * invalid; "" when optional and missing */
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

/* a decimal parameter in [min, max]; -1 if absent, -2 (client answered) if invalid */
static long long
api_urange(gmq_http_req_t *r, const char *key, long long min, long long max)
{
    size_t n = 0;
    uint64_t x;
    const char *v = gmq_http_param(r, key, &n);
    if (v == NULL || n == 0)
        return -1;
    if (gmq_parse_u64(v, n, (uint64_t) max, &x) != GMQ_OK || x < (uint64_t) min) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s must be a number between %lld and %lld", key, min, max);
        api_fail(r, msg);
        return -2;
    }
    return (long long) x;
}

static long long
api_uint(gmq_http_req_t *r, const char *key, long long max)
{
    return api_urange(r, key, 0, max);
}

static gmq_op_str_t
api_str(const char *s)
{
    gmq_op_str_t v = { s, strlen(s) };
    return v;
}

static void
api_submit(gmq_http_req_t *r, const char *topic, gmq_op_req_t *op)
{
    gmq_error_t err;
    if (gmq_ops_submit(r->conn->m, r->conn, topic, op, api_on_reply, NULL, &err) == NULL)
        api_fail(r, err.msg);
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
    if (data == NULL && strncasecmp(r->content_type, "application/json", 16) == 0) {
        data = r->body;
        dlen = r->body_len;
    }
    if (data == NULL || dlen == 0) {
        api_fail(r, "data is empty");
        return;
    }
    gmq_ops_json_push_t p;
    gmq_error_t err;
    char msg[GMQ_ERRMSG_MAX + 32];
    gmq_ops_json_push_init(&p);
    if (gmq_ops_json_push_parse(&p, data, dlen, &err) != GMQ_OK) {
        snprintf(msg, sizeof(msg), "%s", err.msg);
        if (err.code == GMQ_E_INVALID_JSON)
            snprintf(msg, sizeof(msg), "invalid JSON in data: %s", err.msg + strlen("invalid JSON: "));
        api_fail(r, msg);
        goto done;
    }
    gmq_buf_append(&p.topic, "", 1);
    if (!p.has_topic || p.topic.len == 1) {
        api_fail(r, "topic is empty");
        goto done;
    }
    if (gmq_ops_check_topic(p.topic.data, p.topic.len - 1, &err) != GMQ_OK) {
        api_fail(r, err.msg);
        goto done;
    }
    if (!p.has_body) {
        api_fail(r, "body is empty");
        goto done;
    }
    if (p.has_delay && (p.delay < 0 || p.delay > m->cfg.max_delay)) {
        snprintf(msg, sizeof(msg), "delay must be an integer number of seconds between 0 and %d "
                 "(max_delay)", m->cfg.max_delay);
        api_fail(r, msg);
        goto done;
    }
    gmq_op_req_t op = { .op = GMQ_OP_PUSH };
    op.item.delay_ms = p.has_delay ? (uint64_t) p.delay * 1000 : 0;
    op.item.route_key.p = p.route_key.data ? p.route_key.data : "";
    op.item.route_key.len = p.route_key.len;
    op.item.body.p = p.body.data ? p.body.data : "";
    op.item.body.len = p.body.len;
    api_submit(r, p.topic.data, &op);
done:
    gmq_ops_json_push_free(&p);
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
    long long timeout = api_uint(r, "timeout", GMQ_WAIT_MAX_S);
    if (timeout == -2)
        return;
    gmq_op_req_t o = { .op = op, .bind_key = api_str(bk) };
    o.wait_ms = timeout > 0 ? (uint64_t) timeout * 1000 : 0;
    gmq_error_t err;
    /* Accept: application/octet-stream: the body as it is (api_on_raw_reply) */
    if (gmq_ops_submit(r->conn->m, r->conn, topic, &o, r->accept_raw ? api_on_raw_reply : api_on_reply,
                       NULL, &err) == NULL)
        api_fail(r, err.msg);
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
    uint64_t id = 0;
    const char *v = gmq_http_param(r, "msgId", &n);
    int bad = v != NULL && n > 0 && gmq_parse_u64(v, n, UINT64_MAX, &id) != GMQ_OK;
    if (id_required && (v == NULL || n == 0 || bad || id == 0)) {
        api_fail(r, "msgId is empty");   /* the original's text (it parses a bad id as 0) */
        return;
    }
    if (bad) {
        api_fail(r, "msgId must be a decimal message id");
        return;
    }
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    const char *bk = api_name(r, "bindKey", "bindKey", op != GMQ_OP_MSG);
    if (bk == NULL)
        return;
    gmq_op_req_t o = { .op = op, .bind_key = api_str(bk), .id = id };
    api_submit(r, topic, &o);
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
    long long mode = aa == -2 ? -2 : api_urange(r, "mode", 1, GMQ_MODE_MAX);
    long long ttr = mode == -2 ? -2 : api_urange(r, "msgTTR", 1, GMQ_TTR_MAX_S);
    long long retry = ttr == -2 ? -2 : api_uint(r, "msgRetry", GMQ_RETRY_MAX);
    if (aa == -2 || mode == -2 || ttr == -2 || retry == -2)
        return;
    gmq_op_req_t o = { .op = GMQ_OP_CONFIG, .auto_ack = (int32_t) aa, .mode = (int32_t) mode,
                       .ttr = (int32_t) ttr, .retry = (int32_t) retry };
    api_submit(r, topic, &o);
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
    gmq_op_req_t o = { .op = GMQ_OP_DECLARE, .bind_key = api_str(bk) };
    api_submit(r, topic, &o);
}

/* an operation with no parameters but the topic */
static void
api_topic_op(gmq_http_req_t *r, gmq_op_t op)
{
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return;
    gmq_op_req_t o = { .op = op };
    api_submit(r, topic, &o);
}

static void
api_topic_stat(gmq_http_req_t *r)
{
    api_topic_op(r, GMQ_OP_STAT);
}

static void
api_set_auto_ack(gmq_http_req_t *r)
{
    api_topic_op(r, GMQ_OP_TOGGLE_ACK);
}

static void
api_queues(gmq_http_req_t *r)
{
    api_topic_op(r, GMQ_OP_QUEUES);
}

/* /getAllTopicStat: one STAT per topic worker, gathered into one array;
 * the gather is owned by its requests (freed with the last reply) */
typedef struct {
    gmq_conn_t *conn;
    int         pending;
    int         count;
    gmq_buf_t   out;
} api_gather_t;

static void
api_gather_step(api_gather_t *g, gmq_conn_t *conn, const gmq_op_reply_t *r)
{
    if (r != NULL && r->ok && r->kind == GMQ_RK_JSON) {
        gmq_buf_append_str(&g->out, g->count++ ? "," : "[");
        gmq_buf_append(&g->out, r->json.p, r->json.len);
    }
    if (conn == NULL)
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
api_gather_done(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err)
{
    (void) err;
    api_gather_step(req->ctx, req->conn, r);
}

static void
api_all_topic_stat(gmq_http_req_t *r)
{
    gmq_master_t *m = r->conn->m;
    int max = gmq_sup_count(m->sup);
    const char **topics = gmq_xcalloc((size_t) max + 1, sizeof(*topics));
    int n = gmq_sup_topics(m->sup, topics, max);
    api_gather_t *g = gmq_xcalloc(1, sizeof(*g));
    g->conn = r->conn;
    gmq_buf_init(&g->out);
    g->pending = 1;    /* held until every request is sent */
    for (int i = 0; i < n; i++) {
        gmq_error_t err;
        gmq_op_req_t o = { .op = GMQ_OP_STAT };
        if (gmq_ops_submit(m, r->conn, topics[i], &o, api_gather_done, g, &err) != NULL)
            g->pending++;
    }
    free(topics);
    api_gather_step(g, r->conn, NULL);
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
                   (unsigned long long) m->stat_conns_total, (unsigned long long) gmq_reqs_total(m->reqs),
                   gmq_sup_count(m->sup), m->nchans, m->loop_lag_ms);
    if (gmq_procstat_read(getpid(), &ps) == GMQ_OK)
        gmq_buf_printf(&b, "{\"role\":\"master\",\"pid\":%d,\"cpu_seconds\":%.2f,\"rss_bytes\":%llu,"
                       "\"fds\":%d}", (int) getpid(), ps.cpu_seconds,
                       (unsigned long long) ps.rss_bytes, ps.fds);
    int max = gmq_sup_count(m->sup);
    const char **topics = gmq_xcalloc((size_t) max + 1, sizeof(*topics));
    int n = gmq_sup_topics(m->sup, topics, max);
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
    free(topics);
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
    long long linger = api_uint(r, "linger", GMQ_CRASH_LINGER_MAX_MS);
    if (linger == -2)
        return;
    gmq_op_req_t o = { .op = GMQ_OP_CRASH, .code = (uint32_t) (code < 0 ? 1 : code),
                       .linger_ms = (uint32_t) (linger < 0 ? 0 : linger) };
    api_submit(r, topic, &o);
}

/* ---- replies from workers ---- */

/* ---- queue management ---- */

/* topic, bindKey (unless !with_bk) and force=0|1 of a management call into o;
 * NULL (client answered) when one is invalid */
static const char *
api_manage_args(gmq_http_req_t *r, gmq_op_req_t *o, int with_bk)
{
    const char *topic = api_name(r, "topic", "topic", 1);
    if (topic == NULL)
        return NULL;
    if (with_bk) {
        const char *bk = api_name(r, "bindKey", "bindKey", 1);
        if (bk == NULL)
            return NULL;
        o->bind_key = api_str(bk);
    }
    long long force = api_uint(r, "force", 1);
    if (force == -2)
        return NULL;
    o->flags = force == 1 ? GMQ_OP_F_FORCE : 0;
    return topic;
}

static void
api_manage(gmq_http_req_t *r, gmq_op_t op, int with_bk)
{
    gmq_op_req_t o = { .op = op };
    const char *topic = api_manage_args(r, &o, with_bk);
    if (topic != NULL)
        api_submit(r, topic, &o);
}

static void
api_purge(gmq_http_req_t *r)
{
    api_manage(r, GMQ_OP_PURGE, 1);
}

static void
api_delete_queue(gmq_http_req_t *r)
{
    api_manage(r, GMQ_OP_DEL_QUEUE, 1);
}

static void
api_delete_topic(gmq_http_req_t *r)
{
    api_manage(r, GMQ_OP_DEL_TOPIC, 0);
}

static void
api_peek(gmq_http_req_t *r)
{
    static const char *const states[] = { "ready", "delayed", "dead" };
    gmq_op_req_t o = { .op = GMQ_OP_PEEK };
    const char *topic = api_manage_args(r, &o, 1);
    if (topic == NULL)
        return;
    size_t n = 0;
    const char *v = gmq_http_param(r, "state", &n);
    o.arg = GMQ_ARRAY_LEN(states);
    for (size_t i = 0; i < GMQ_ARRAY_LEN(states); i++)
        if (v == NULL || n == 0 ? i == 0 : (n == strlen(states[i]) && memcmp(v, states[i], n) == 0))
            o.arg = i;
    if (o.arg == GMQ_ARRAY_LEN(states)) {
        api_fail(r, "state must be ready, delayed or dead");
        return;
    }
    api_submit(r, topic, &o);
}

static void
api_list_dead(gmq_http_req_t *r)
{
    gmq_op_req_t o = { .op = GMQ_OP_LIST_DEAD };
    const char *topic = api_manage_args(r, &o, 1);
    if (topic == NULL)
        return;
    long long limit = api_urange(r, "limit", 1, GMQ_LIST_DEAD_MAX);
    if (limit == -2)
        return;
    o.arg = limit == -1 ? 20 : (uint64_t) limit;
    api_submit(r, topic, &o);
}

static void
api_kick(gmq_http_req_t *r)
{
    gmq_op_req_t o = { .op = GMQ_OP_KICK };
    const char *topic = api_manage_args(r, &o, 1);
    if (topic == NULL)
        return;
    long long n = api_urange(r, "n", 1, GMQ_KICK_MAX);
    if (n == -2)
        return;
    o.arg = n == -1 ? 1 : (uint64_t) n;
    api_submit(r, topic, &o);
}

/* touch and release: a delivered message by topic, bindKey and msgId */
static void
api_inflight_op(gmq_http_req_t *r, gmq_op_t op)
{
    gmq_op_req_t o = { .op = op };
    const char *topic = api_manage_args(r, &o, 1);
    if (topic == NULL)
        return;
    size_t n = 0;
    const char *v = gmq_http_param(r, "msgId", &n);
    if (v == NULL || n == 0 || gmq_parse_u64(v, n, UINT64_MAX, &o.id) != GMQ_OK || o.id == 0) {
        api_fail(r, "msgId must be a decimal message id");
        return;
    }
    if (op == GMQ_OP_NACK) {
        gmq_master_t *m = r->conn->m;
        long long delay = api_uint(r, "delay", m->cfg.max_delay);
        if (delay == -2)
            return;
        o.arg = delay > 0 ? (uint64_t) delay * 1000 : 0;
    }
    api_submit(r, topic, &o);
}

static void
api_touch(gmq_http_req_t *r)
{
    api_inflight_op(r, GMQ_OP_TOUCH);
}

static void
api_release(gmq_http_req_t *r)
{
    api_inflight_op(r, GMQ_OP_NACK);
}

static void
api_on_reply(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err)
{
    gmq_conn_t *c = req->conn;
    if (c == NULL || c->dead) {
        gmq_master_release(req->wproc->m, req, r);
        return;
    }
    if (r == NULL) {
        gmq_http_respond_json(c, 1, NULL, 0, err->msg);
        return;
    }
    char msg[GMQ_ERRMSG_MAX + 1];
    snprintf(msg, sizeof(msg), "%.*s", (int) r->msg.len, r->msg.p);
    if (!r->ok) {
        gmq_http_respond_json(c, 1, NULL, 0, msg);
        return;
    }
    gmq_buf_t b;
    switch (r->kind) {
    case GMQ_RK_ID: {
        char d[64];
        int n = snprintf(d, sizeof(d), "{\"msgId\":\"%llu\"}", (unsigned long long) r->id);
        gmq_http_respond_json(c, 0, d, (size_t) n, "success");
        return;
    }
    case GMQ_RK_EMPTY:
        gmq_http_respond_json(c, 1, NULL, 0, "no message");
        return;
    case GMQ_RK_MESSAGE: {
        gmq_delivery_t *d = gmq_conn_delivery(c, gmq_sup_topic(req->wproc), req->bind_key, r->id,
                                              r->confirm);
        gmq_buf_init(&b);
        gmq_ops_message_json(&b, r);
        gmq_http_respond_json(c, 0, b.data, b.len, "success");
        gmq_conn_delivery_queued(c, d);
        gmq_buf_free(&b);
        return;
    }
        return;
    case GMQ_RK_JSON:
        gmq_http_respond_json(c, 0, r->json.p, r->json.len, "success");
        return;
    default:
        gmq_http_respond_json(c, 0, NULL, 0, msg);
    }
}

/* /pop and /dead with Accept: application/octet-stream: a message is its raw
 * body with the id and retry count in headers, an empty queue 204; errors
 * are the usual JSON */
static void
api_on_raw_reply(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err)
{
    gmq_conn_t *c = req->conn;
    if (c == NULL || c->dead || r == NULL || !r->ok ||
        (r->kind != GMQ_RK_MESSAGE && r->kind != GMQ_RK_EMPTY)) {
        api_on_reply(req, r, err);
        return;
    }
    if (r->kind == GMQ_RK_EMPTY) {
        gmq_http_respond_hdrs(c, 204, NULL, NULL, NULL, 0);
        return;
    }
    char hdrs[128];
    snprintf(hdrs, sizeof(hdrs), "X-Gmq-Msg-Id: %llu\r\nX-Gmq-Retry-Count: %u\r\n"
             "Cache-Control: no-store\r\n", (unsigned long long) r->id, r->retry);
    gmq_delivery_t *d = gmq_conn_delivery(c, gmq_sup_topic(req->wproc), req->bind_key, r->id,
                                          r->confirm);
    gmq_http_respond_hdrs(c, 200, "application/octet-stream", hdrs, r->body.p, r->body.len);
    gmq_conn_delivery_queued(c, d);
}

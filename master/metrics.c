/*
 * metrics.c - GET /metrics: owns one scrape at a time per request. It sends
 * STAT to every running worker (as /getAllTopicStat does, answered
 * asynchronously), reads each JSON reply with yajl_tree into numbers, and
 * when the last one is in writes every family in the Prometheus text
 * format: topics and queues, workers, connections, latency, etcd, processes.
 */
#include "metrics.h"
#include "etcd.h"
#include "master.h"
#include "ops.h"
#include "sup.h"
#include "common/histo.h"
#include "common/log.h"
#include "common/procstat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

/* one queue of a topic, from its STAT reply */
typedef struct {
    char     name[GMQ_NAME_MAX + 1];
    uint64_t ready, in_flight, delayed, dead;
    uint64_t pushed, popped, acked, timed_out, dead_lettered;
} metrics_queue_t;

typedef struct metrics_scrape_s metrics_scrape_t;

/* one topic whose worker was asked for its STAT */
typedef struct {
    metrics_scrape_t *sc;
    char             topic[GMQ_NAME_MAX + 1];
    int              have;           /* its STAT reply was read */
    uint64_t         pushed, delivered, acked, timed_out, dead_lettered, bytes, corrupt;
    int              has_fsync;
    gmq_histo_t      fsync;
    metrics_queue_t *queues;
    size_t           nqueues;
} metrics_topic_t;

/* a scrape: owned by its STAT requests, freed with the last reply */
struct metrics_scrape_s {
    gmq_master_t    *m;
    gmq_conn_t      *conn;           /* NULL once the client is gone */
    int              pending;
    metrics_topic_t *topics;
    int              ntopics;
};

/* a per-topic or per-queue number, by its offset in the struct */
typedef struct {
    const char *name;
    const char *type;
    const char *help;
    size_t      off;
} metrics_field_t;

#define TOPIC_U64(f) offsetof(metrics_topic_t, f)
#define QUEUE_U64(f) offsetof(metrics_queue_t, f)

static const metrics_field_t metrics_topic_fields[] = {
    { "gmq_topic_messages_pushed_total", "counter",
      "Messages stored in the topic's queues (a push routed to n queues counts n).",
      TOPIC_U64(pushed) },
    { "gmq_topic_messages_delivered_total", "counter",
      "Messages handed to consumers, redeliveries and dead-letter pops included.",
      TOPIC_U64(delivered) },
    { "gmq_topic_messages_acked_total", "counter",
      "Messages acknowledged (auto-acks and dead letters acked included).", TOPIC_U64(acked) },
    { "gmq_topic_messages_timed_out_total", "counter",
      "Deliveries whose TTR expired before an ack.", TOPIC_U64(timed_out) },
    { "gmq_topic_messages_dead_lettered_total", "counter",
      "Messages moved to a dead-letter queue after their last retry.",
      TOPIC_U64(dead_lettered) },
    { "gmq_topic_disk_bytes", "gauge",
      "Bytes of the topic's segment files on disk (queues and dead-letter queues).",
      TOPIC_U64(bytes) },
    { "gmq_topic_corrupt_records", "gauge",
      "Damaged records skipped when the topic's queues were loaded.", TOPIC_U64(corrupt) },
};

static const metrics_field_t metrics_queue_fields[] = {
    { "gmq_queue_messages_ready", "gauge", "Messages ready for delivery.", QUEUE_U64(ready) },
    { "gmq_queue_messages_in_flight", "gauge", "Messages delivered and not yet acked.",
      QUEUE_U64(in_flight) },
    { "gmq_queue_messages_delayed", "gauge", "Messages waiting for their delay to pass.",
      QUEUE_U64(delayed) },
    { "gmq_queue_messages_dead", "gauge", "Messages in the queue's dead-letter queue.",
      QUEUE_U64(dead) },
    { "gmq_queue_messages_pushed_total", "counter", "Messages stored in the queue.",
      QUEUE_U64(pushed) },
    { "gmq_queue_messages_delivered_total", "counter",
      "Messages delivered from the queue, redeliveries included.", QUEUE_U64(popped) },
    { "gmq_queue_messages_acked_total", "counter", "Messages of the queue acknowledged.",
      QUEUE_U64(acked) },
    { "gmq_queue_messages_timed_out_total", "counter",
      "Deliveries from the queue whose TTR expired.", QUEUE_U64(timed_out) },
    { "gmq_queue_messages_dead_lettered_total", "counter",
      "Messages of the queue moved to its dead-letter queue.", QUEUE_U64(dead_lettered) },
};

static void metrics_on_stat(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err);
static void metrics_step(metrics_scrape_t *sc);
static void metrics_free(metrics_scrape_t *sc);
static void metrics_parse(metrics_topic_t *mt, const char *json, size_t len);
static int  metrics_get_u64(yajl_val obj, const char *key, uint64_t *out);
static void metrics_write(metrics_scrape_t *sc, gmq_buf_t *b);
static void metrics_write_node(gmq_buf_t *b);
static void metrics_write_conns(gmq_master_t *m, gmq_buf_t *b);
static void metrics_write_latency(gmq_master_t *m, gmq_buf_t *b);
static void metrics_write_etcd(gmq_master_t *m, gmq_buf_t *b);
static void metrics_write_workers(gmq_master_t *m, gmq_buf_t *b);
static void metrics_write_topics(metrics_scrape_t *sc, gmq_buf_t *b);
static void metrics_head(gmq_buf_t *b, const char *name, const char *type, const char *help);
static void metrics_sample(gmq_buf_t *b, const char *name, const char *labels, double v);
static void metrics_label(gmq_buf_t *lb, const char *key, const char *val);
static void metrics_histo(gmq_buf_t *b, const char *name, const char *labels,
                          const gmq_histo_t *h);

/* ---- the scrape ---- */

void
gmq_metrics_serve(gmq_http_req_t *r)
{
    gmq_master_t *m = r->conn->m;
    int max = gmq_sup_count(m->sup);
    gmq_sup_info_t *info = gmq_xcalloc((size_t) max + 1, sizeof(*info));
    int n = gmq_sup_info(m->sup, info, max);
    metrics_scrape_t *sc = gmq_xcalloc(1, sizeof(*sc));
    sc->m = m;
    sc->conn = r->conn;
    sc->topics = gmq_xcalloc((size_t) n + 1, sizeof(*sc->topics));
    sc->pending = 1;    /* held until every request is sent */
    for (int i = 0; i < n; i++) {
        if (info[i].state != GMQ_WP_READY)
            continue;   /* not running: its state only, from the worker table */
        metrics_topic_t *mt = &sc->topics[sc->ntopics++];
        mt->sc = sc;
        snprintf(mt->topic, sizeof(mt->topic), "%s", info[i].topic);
        gmq_error_t err;
        gmq_op_req_t o = { .op = GMQ_OP_STAT };
        if (gmq_ops_submit(m, r->conn, mt->topic, &o, metrics_on_stat, mt, &err) != NULL)
            sc->pending++;
    }
    free(info);
    metrics_step(sc);
}

static void
metrics_on_stat(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err)
{
    (void) err;   /* a worker that failed to answer contributes its state only */
    metrics_topic_t *mt = req->ctx;
    metrics_scrape_t *sc = mt->sc;
    if (req->conn == NULL)
        sc->conn = NULL;
    if (sc->conn != NULL && r != NULL && r->ok && r->kind == GMQ_RK_JSON)
        metrics_parse(mt, r->json.p, r->json.len);
    metrics_step(sc);
}

static void
metrics_step(metrics_scrape_t *sc)
{
    if (--sc->pending > 0)
        return;
    if (sc->conn != NULL && !sc->conn->dead) {
        gmq_buf_t b;
        gmq_buf_init(&b);
        metrics_write(sc, &b);
        gmq_http_respond(sc->conn, 200, GMQ_METRICS_CTYPE, b.data, b.len);
        gmq_buf_free(&b);
    }
    metrics_free(sc);
}

static void
metrics_free(metrics_scrape_t *sc)
{
    for (int i = 0; i < sc->ntopics; i++)
        free(sc->topics[i].queues);
    free(sc->topics);
    free(sc);
}

/* ---- reading a STAT reply (worker/topic.c gmq_topic_stats_json) ---- */

static void
metrics_parse(metrics_topic_t *mt, const char *json, size_t len)
{
    char *s = gmq_xstrndup(json, len);
    char err[128];
    yajl_val root = yajl_tree_parse(s, err, sizeof(err));
    free(s);
    if (!YAJL_IS_OBJECT(root)) {
        gmq_log_warn("topic %s: unreadable STAT reply for /metrics: %s", mt->topic,
                     root == NULL ? err : "not an object");
        yajl_tree_free(root);
        return;
    }
    mt->have = 1;
    metrics_get_u64(root, "push_num", &mt->pushed);
    metrics_get_u64(root, "pop_num", &mt->delivered);
    metrics_get_u64(root, "acked_num", &mt->acked);
    metrics_get_u64(root, "timeout_num", &mt->timed_out);
    metrics_get_u64(root, "dead_lettered_num", &mt->dead_lettered);
    metrics_get_u64(root, "bytes_on_disk", &mt->bytes);
    metrics_get_u64(root, "corrupt_records", &mt->corrupt);
    mt->has_fsync = gmq_histo_from_json(&mt->fsync, root, "fsync") == GMQ_OK;

    const char *qpath[] = { "queues", NULL };
    yajl_val qs = yajl_tree_get(root, qpath, yajl_t_array);
    size_t nq = qs != NULL ? qs->u.array.len : 0;
    mt->queues = gmq_xcalloc(nq + 1, sizeof(*mt->queues));
    for (size_t i = 0; i < nq; i++) {
        yajl_val q = qs->u.array.values[i];
        const char *bpath[] = { "bind_key", NULL };
        yajl_val bk = yajl_tree_get(q, bpath, yajl_t_string);
        if (bk == NULL)
            continue;
        metrics_queue_t *mq = &mt->queues[mt->nqueues++];
        snprintf(mq->name, sizeof(mq->name), "%s", YAJL_GET_STRING(bk));
        metrics_get_u64(q, "ready", &mq->ready);
        metrics_get_u64(q, "in_flight", &mq->in_flight);
        metrics_get_u64(q, "delayed", &mq->delayed);
        metrics_get_u64(q, "dead", &mq->dead);
        metrics_get_u64(q, "pushed", &mq->pushed);
        metrics_get_u64(q, "popped", &mq->popped);
        metrics_get_u64(q, "acked", &mq->acked);
        metrics_get_u64(q, "timed_out", &mq->timed_out);
        metrics_get_u64(q, "dead_lettered", &mq->dead_lettered);
    }
    yajl_tree_free(root);
}

/* 1 and *out if obj has a non-negative integer under key, else 0 (*out kept) */
static int
metrics_get_u64(yajl_val obj, const char *key, uint64_t *out)
{
    const char *path[] = { key, NULL };
    yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
    if (v == NULL || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
        return 0;
    *out = (uint64_t) YAJL_GET_INTEGER(v);
    return 1;
}

/* ---- writing the text format ---- */

static void
metrics_write(metrics_scrape_t *sc, gmq_buf_t *b)
{
    metrics_write_node(b);
    metrics_write_conns(sc->m, b);
    metrics_write_latency(sc->m, b);
    metrics_write_etcd(sc->m, b);
    metrics_write_workers(sc->m, b);
    metrics_write_topics(sc, b);
}

/* the build and the master process (the standard process_* names) */
static void
metrics_write_node(gmq_buf_t *b)
{
    gmq_buf_t lb;
    gmq_buf_init(&lb);
    metrics_label(&lb, "version", GMQ_VERSION);
    metrics_head(b, "gmq_build_info", "gauge", "Always 1; the label is the gmq version.");
    metrics_sample(b, "gmq_build_info", lb.data, 1);
    gmq_buf_free(&lb);

    gmq_procstat_t ps;
    if (gmq_procstat_read(getpid(), &ps) != GMQ_OK)
        return;
    metrics_head(b, "process_cpu_seconds_total", "counter",
                 "User and system CPU time of the master process, in seconds.");
    metrics_sample(b, "process_cpu_seconds_total", NULL, ps.cpu_seconds);
    metrics_head(b, "process_resident_memory_bytes", "gauge",
                 "Resident memory of the master process, in bytes.");
    metrics_sample(b, "process_resident_memory_bytes", NULL, (double) ps.rss_bytes);
    metrics_head(b, "process_virtual_memory_bytes", "gauge",
                 "Virtual memory of the master process, in bytes.");
    metrics_sample(b, "process_virtual_memory_bytes", NULL, (double) ps.vsize_bytes);
    if (ps.fds >= 0) {
        metrics_head(b, "process_open_fds", "gauge", "Open descriptors of the master process.");
        metrics_sample(b, "process_open_fds", NULL, ps.fds);
    }
    if (ps.max_fds >= 0) {
        metrics_head(b, "process_max_fds", "gauge",
                     "Descriptor limit (soft RLIMIT_NOFILE) of the master process.");
        metrics_sample(b, "process_max_fds", NULL, (double) ps.max_fds);
    }
    if (ps.start_time > 0) {
        metrics_head(b, "process_start_time_seconds", "gauge",
                     "Start time of the master process, seconds since the Unix epoch.");
        metrics_sample(b, "process_start_time_seconds", NULL, ps.start_time);
    }
}

/* client connections by port and TLS: the configured pair is always shown */
static void
metrics_write_conns(gmq_master_t *m, gmq_buf_t *b)
{
    static const char *const ports[] = { "tcp", "http" };
    uint64_t n[2][2] = { { 0, 0 }, { 0, 0 } };     /* [port][tls] */
    for (gmq_list_t *l = m->conns.next; l != &m->conns; l = l->next) {
        const gmq_conn_t *c = container_of(l, gmq_conn_t, link);
        if (!c->dead)
            n[c->proto == GMQ_PROTO_HTTP][c->ssl != NULL]++;
    }
    int tls_on[2] = { m->cfg.tcp_tls != 0, m->cfg.http_tls != 0 };
    metrics_head(b, "gmq_connections", "gauge", "Client connections open, by port and TLS.");
    for (int p = 0; p < 2; p++) {
        for (int t = 0; t < 2; t++) {
            if (n[p][t] == 0 && t != tls_on[p])
                continue;
            gmq_buf_t lb;
            gmq_buf_init(&lb);
            metrics_label(&lb, "port", ports[p]);
            metrics_label(&lb, "tls", t ? "true" : "false");
            metrics_sample(b, "gmq_connections", lb.data, (double) n[p][t]);
            gmq_buf_free(&lb);
        }
    }
    metrics_head(b, "gmq_connections_opened_total", "counter",
                 "Client connections accepted on either port since the node started.");
    metrics_sample(b, "gmq_connections_opened_total", NULL, (double) m->stat_conns_total);
}

/* request latency per operation; pops and dead pops that may wait are
 * op="pop_wait" / "dead_wait". Operations never seen are left out. */
static void
metrics_write_latency(gmq_master_t *m, gmq_buf_t *b)
{
    static const char name[] = "gmq_request_duration_seconds";
    metrics_head(b, name, "histogram", "Requests to topic workers, from submit in the master to "
                 "the reply (or the worker lost), by operation.");
    for (int op = 1; op < GMQ_OP__COUNT; op++) {
        for (int waited = 0; waited < 2; waited++) {
            const gmq_histo_t *h = gmq_reqs_latency(m->reqs, (gmq_op_t) op, waited);
            if (h->count == 0)
                continue;
            char opname[64];
            snprintf(opname, sizeof(opname), "%s%s", gmq_op_name((gmq_op_t) op),
                     waited ? "_wait" : "");
            gmq_buf_t lb;
            gmq_buf_init(&lb);
            metrics_label(&lb, "op", opname);
            metrics_histo(b, name, lb.data, h);
            gmq_buf_free(&lb);
        }
    }
}

static void
metrics_write_etcd(gmq_master_t *m, gmq_buf_t *b)
{
    gmq_etcd_stats_t st;
    gmq_etcd_stats(m->etcd, &st);
    metrics_head(b, "gmq_etcd_enabled", "gauge", "1 if etcd_endpoints is set, 0 standalone.");
    metrics_sample(b, "gmq_etcd_enabled", NULL, m->etcd != NULL);
    metrics_head(b, "gmq_etcd_registered", "gauge",
                 "1 while the node's key is held in etcd under a live lease.");
    metrics_sample(b, "gmq_etcd_registered", NULL, st.registered);
    metrics_head(b, "gmq_etcd_registrations_total", "counter",
                 "Successful registrations (puts of the node's key) in etcd.");
    metrics_sample(b, "gmq_etcd_registrations_total", NULL, (double) st.registrations);
    metrics_head(b, "gmq_etcd_failures_total", "counter",
                 "Failed etcd requests of any kind (grant, put, keepalive, check).");
    metrics_sample(b, "gmq_etcd_failures_total", NULL, (double) st.failures);
    metrics_head(b, "gmq_etcd_keepalive_failures_total", "counter",
                 "Failed lease keepalives.");
    metrics_sample(b, "gmq_etcd_keepalive_failures_total", NULL, (double) st.keepalive_failures);
}

/* the worker table: state and restarts of every topic, and what /proc says
 * of the running workers */
static void
metrics_write_workers(gmq_master_t *m, gmq_buf_t *b)
{
    static const metrics_field_t procf[] = {
        { "gmq_worker_cpu_seconds_total", "counter",
          "User and system CPU time of the topic's worker process, in seconds.", 0 },
        { "gmq_worker_resident_memory_bytes", "gauge",
          "Resident memory of the topic's worker process, in bytes.", 1 },
        { "gmq_worker_virtual_memory_bytes", "gauge",
          "Virtual memory of the topic's worker process, in bytes.", 2 },
        { "gmq_worker_open_fds", "gauge", "Open descriptors of the topic's worker process.", 3 },
        { "gmq_worker_max_fds", "gauge",
          "Descriptor limit (soft RLIMIT_NOFILE) of the topic's worker process.", 4 },
        { "gmq_worker_start_time_seconds", "gauge",
          "Start time of the topic's worker process, seconds since the Unix epoch.", 5 },
    };
    int max = gmq_sup_count(m->sup);
    gmq_sup_info_t *info = gmq_xcalloc((size_t) max + 1, sizeof(*info));
    int n = gmq_sup_info(m->sup, info, max);
    gmq_buf_t *labels = gmq_xcalloc((size_t) n + 1, sizeof(*labels));
    double (*pv)[GMQ_ARRAY_LEN(procf)] = gmq_xcalloc((size_t) n + 1, sizeof(*pv));
    int *have = gmq_xcalloc((size_t) n + 1, sizeof(*have));
    for (int i = 0; i < n; i++) {
        gmq_buf_init(&labels[i]);
        metrics_label(&labels[i], "topic", info[i].topic);
        gmq_procstat_t ps;
        if (info[i].pid > 0 && gmq_procstat_read(info[i].pid, &ps) == GMQ_OK) {
            have[i] = 1;
            pv[i][0] = ps.cpu_seconds;
            pv[i][1] = (double) ps.rss_bytes;
            pv[i][2] = (double) ps.vsize_bytes;
            pv[i][3] = ps.fds >= 0 ? ps.fds : NAN;
            pv[i][4] = ps.max_fds >= 0 ? (double) ps.max_fds : NAN;
            pv[i][5] = ps.start_time > 0 ? ps.start_time : NAN;
        }
    }
    metrics_head(b, "gmq_workers", "gauge", "Topics in the worker table.");
    metrics_sample(b, "gmq_workers", NULL, n);
    uint64_t by_zygote, by_exec;
    gmq_spawn_counts(m->spawn, &by_zygote, &by_exec);
    metrics_head(b, "gmq_worker_starts_total", "counter",
                 "Worker processes started: forked by the zygote, or each a program of its own "
                 "(no zygote).");
    metrics_sample(b, "gmq_worker_starts_total", "how=\"zygote\"", (double) by_zygote);
    metrics_sample(b, "gmq_worker_starts_total", "how=\"exec\"", (double) by_exec);
    metrics_head(b, "gmq_worker_zygote_up", "gauge", "1 while the worker zygote is running.");
    metrics_sample(b, "gmq_worker_zygote_up", NULL, gmq_spawn_zygote_pid(m->spawn) > 0);
    metrics_head(b, "gmq_worker_restarts_total", "counter",
                 "Times the topic's worker was respawned after it exited.");
    for (int i = 0; i < n; i++)
        metrics_sample(b, "gmq_worker_restarts_total", labels[i].data, info[i].restarts);
    metrics_head(b, "gmq_worker_state", "gauge",
                 "1 for the state the topic's worker is in, 0 for the others.");
    for (int i = 0; i < n; i++) {
        for (int st = GMQ_WP_STARTING; st < GMQ_WP__COUNT; st++) {
            gmq_buf_t lb;
            gmq_buf_init(&lb);
            metrics_label(&lb, "topic", info[i].topic);
            metrics_label(&lb, "state", gmq_sup_state_name((gmq_wp_state_t) st));
            metrics_sample(b, "gmq_worker_state", lb.data, info[i].state == (gmq_wp_state_t) st);
            gmq_buf_free(&lb);
        }
    }
    for (size_t f = 0; f < GMQ_ARRAY_LEN(procf); f++) {
        metrics_head(b, procf[f].name, procf[f].type, procf[f].help);
        for (int i = 0; i < n; i++)
            if (have[i] && !isnan(pv[i][f]))
                metrics_sample(b, procf[f].name, labels[i].data, pv[i][f]);
    }
    for (int i = 0; i < n; i++)
        gmq_buf_free(&labels[i]);
    free(labels);
    free(pv);
    free(have);
    free(info);
}

/* what the STAT replies said, family by family */
static void
metrics_write_topics(metrics_scrape_t *sc, gmq_buf_t *b)
{
    gmq_buf_t *tl = gmq_xcalloc((size_t) sc->ntopics + 1, sizeof(*tl));
    for (int i = 0; i < sc->ntopics; i++) {
        gmq_buf_init(&tl[i]);
        metrics_label(&tl[i], "topic", sc->topics[i].topic);
    }
    for (size_t f = 0; f < GMQ_ARRAY_LEN(metrics_topic_fields); f++) {
        const metrics_field_t *fd = &metrics_topic_fields[f];
        metrics_head(b, fd->name, fd->type, fd->help);
        for (int i = 0; i < sc->ntopics; i++) {
            const metrics_topic_t *mt = &sc->topics[i];
            if (mt->have)
                metrics_sample(b, fd->name, tl[i].data,
                               (double) *(const uint64_t *) ((const char *) mt + fd->off));
        }
    }
    static const char fsync[] = "gmq_topic_fsync_duration_seconds";
    metrics_head(b, fsync, "histogram",
                 "msync, fsync and fdatasync calls of the topic's worker since it started.");
    for (int i = 0; i < sc->ntopics; i++)
        if (sc->topics[i].have && sc->topics[i].has_fsync)
            metrics_histo(b, fsync, tl[i].data, &sc->topics[i].fsync);
    for (size_t f = 0; f < GMQ_ARRAY_LEN(metrics_queue_fields); f++) {
        const metrics_field_t *fd = &metrics_queue_fields[f];
        metrics_head(b, fd->name, fd->type, fd->help);
        for (int i = 0; i < sc->ntopics; i++) {
            const metrics_topic_t *mt = &sc->topics[i];
            for (size_t k = 0; k < mt->nqueues; k++) {
                const metrics_queue_t *mq = &mt->queues[k];
                gmq_buf_t lb;
                gmq_buf_init(&lb);
                metrics_label(&lb, "topic", mt->topic);
                metrics_label(&lb, "queue", mq->name);
                metrics_sample(b, fd->name, lb.data,
                               (double) *(const uint64_t *) ((const char *) mq + fd->off));
                gmq_buf_free(&lb);
            }
        }
    }
    for (int i = 0; i < sc->ntopics; i++)
        gmq_buf_free(&tl[i]);
    free(tl);
}

static void
metrics_head(gmq_buf_t *b, const char *name, const char *type, const char *help)
{
    /* help texts are ours: no backslash or newline to escape */
    gmq_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels} value; labels is a label list without braces (NULL or "" for none) */
static void
metrics_sample(gmq_buf_t *b, const char *name, const char *labels, double v)
{
    gmq_buf_append_str(b, name);
    if (labels != NULL && labels[0] != '\0')
        gmq_buf_printf(b, "{%s}", labels);
    gmq_buf_append_str(b, " ");
    gmq_metrics_number(b, v);
    gmq_buf_append_str(b, "\n");
}

/* append key="val" (escaped) to a label list in lb, NUL-terminated */
static void
metrics_label(gmq_buf_t *lb, const char *key, const char *val)
{
    if (lb->len > 0 && lb->data[lb->len - 1] == '\0')
        lb->len--;
    if (lb->len > 0)
        gmq_buf_append_str(lb, ",");
    gmq_buf_printf(lb, "%s=\"", key);
    gmq_metrics_escape(lb, val, strlen(val));
    gmq_buf_append(lb, "\"", 2);     /* with the NUL */
}

/* the _bucket (cumulative, le), _sum and _count lines of one histogram */
static void
metrics_histo(gmq_buf_t *b, const char *name, const char *labels, const gmq_histo_t *h)
{
    char n[128];
    uint64_t cum = 0;
    snprintf(n, sizeof(n), "%s_bucket", name);
    for (int i = 0; i < GMQ_HISTO_NBUCKETS; i++) {
        cum += h->buckets[i];
        gmq_buf_t lb;
        gmq_buf_init(&lb);
        gmq_buf_append_str(&lb, labels);
        metrics_label(&lb, "le", i < GMQ_HISTO_NBOUNDS ? gmq_histo_le(i) : "+Inf");
        metrics_sample(b, n, lb.data, (double) cum);
        gmq_buf_free(&lb);
    }
    snprintf(n, sizeof(n), "%s_sum", name);
    metrics_sample(b, n, labels, h->sum);
    snprintf(n, sizeof(n), "%s_count", name);
    metrics_sample(b, n, labels, (double) h->count);
}

void
gmq_metrics_escape(gmq_buf_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            gmq_buf_append_str(out, "\\\\");
        else if (s[i] == '"')
            gmq_buf_append_str(out, "\\\"");
        else if (s[i] == '\n')
            gmq_buf_append_str(out, "\\n");
        else
            gmq_buf_append(out, &s[i], 1);
    }
}

void
gmq_metrics_number(gmq_buf_t *out, double v)
{
    if (isnan(v)) {
        gmq_buf_append_str(out, "NaN");
        return;
    }
    if (isinf(v)) {
        gmq_buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double) (int64_t) v) {
        gmq_buf_printf(out, "%lld", (long long) v);    /* within 2^53: exact as an integer */
        return;
    }
    char s[64];
    for (int prec = 6; prec <= 17; prec++) {      /* the shortest that reads back exactly */
        snprintf(s, sizeof(s), "%.*g", prec, v);
        if (strtod(s, NULL) == v)
            break;
    }
    gmq_buf_append_str(out, s);
}

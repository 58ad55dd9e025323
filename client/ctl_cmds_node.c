/*
 * ctl_cmds_node.c - gmqctl's commands about nodes and their processes: the
 * etcd registrations (nodes, watch), ping, the topic workers (workers, worker
 * restart), /debug/stats and /metrics.
 */
#include "client/ctl_cmds.h"
#include "client/ctl_http.h"
#include "client/ctl_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int  node_etcd_only(gmq_ctl_t *c);
static void node_print(gmq_ctl_t *c, const gmq_discovery_node_t *nodes, size_t n);

int
gmq_ctl_cmd_nodes(gmq_ctl_t *c)
{
    int rc = node_etcd_only(c);
    if (rc != GMQ_CTL_OK)
        return rc;
    gmq_discovery_t *d = gmq_ctl_http_discovery(c, &rc);
    if (d == NULL)
        return rc;
    gmq_discovery_node_t *nodes;
    size_t n = gmq_discovery_nodes(d, &nodes);
    node_print(c, nodes, n);
    free(nodes);
    gmq_discovery_free(d);
    return GMQ_CTL_OK;
}

int
gmq_ctl_cmd_watch(gmq_ctl_t *c)
{
    int rc = node_etcd_only(c);
    if (rc != GMQ_CTL_OK)
        return rc;
    gmq_discovery_t *d = gmq_ctl_http_discovery(c, &rc);
    if (d == NULL)
        return rc;
    uint64_t seen = gmq_discovery_version(d);
    gmq_discovery_node_t *nodes;
    size_t n = gmq_discovery_nodes(d, &nodes);
    node_print(c, nodes, n);
    free(nodes);
    gmq_discovery_watch_start(d);
    for (;;) {   /* until a signal ends the process */
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
        uint64_t v = gmq_discovery_version(d);
        if (v == seen)
            continue;
        seen = v;
        n = gmq_discovery_nodes(d, &nodes);
        if (!c->json)
            printf("\n");
        node_print(c, nodes, n);
        free(nodes);
    }
}

int
gmq_ctl_cmd_ping(gmq_ctl_t *c)
{
    gmq_ctl_target_t *t;
    size_t n;
    int rc = gmq_ctl_http_targets(c, &t, &n);
    if (rc != GMQ_CTL_OK)
        return rc;
    static const char *const head[] = { "ID", "HTTP_ADDR", "STATUS", "TIME_MS", NULL };
    gmq_ctl_table_t *tab = c->json ? NULL : gmq_ctl_out_table(head, "rllr");
    gmq_buf_t out;
    gmq_buf_init(&out);
    gmq_buf_append_str(&out, "[");
    size_t failed = 0;
    char first_err[1024] = "";
    for (size_t i = 0; i < n; i++) {
        char err[1024] = "";
        double ms;
        int ok = gmq_ctl_http_ping(c, t[i].base, err, sizeof(err), &ms);
        if (!ok && failed++ == 0)
            snprintf(first_err, sizeof(first_err), "%s", err);
        gmq_buf_append_str(&out, i ? ",{\"node_id\":" : "{\"node_id\":");
        gmq_buf_json_str(&out, t[i].node_id, strlen(t[i].node_id));
        gmq_buf_append_str(&out, ",\"http_addr\":");
        gmq_buf_json_str(&out, t[i].http_addr, strlen(t[i].http_addr));
        gmq_buf_printf(&out, ",\"ok\":%s,\"ms\":%.1f,\"error\":", ok ? "true" : "false", ms);
        gmq_buf_json_str(&out, ok ? "" : err, ok ? 0 : strlen(err));
        gmq_buf_append_str(&out, "}");
        if (tab == NULL)
            continue;
        gmq_ctl_out_cell(tab, t[i].node_id);
        gmq_ctl_out_cell(tab, t[i].http_addr);
        gmq_ctl_out_cell(tab, ok ? "ok" : err);
        gmq_ctl_out_cellf(tab, "%.1f", ms);
    }
    gmq_buf_append_str(&out, "]\n");
    if (tab)
        gmq_ctl_out_print(tab, c);
    else
        fwrite(gmq_buf_rptr(&out), 1, gmq_buf_used(&out), stdout);
    gmq_buf_free(&out);
    free(t);
    if (failed == 1 && n == 1)
        return gmq_ctl_fail("%s", first_err);
    if (failed)
        return gmq_ctl_fail("%zu of %zu nodes did not answer /ping (%s)", failed, n, first_err);
    return GMQ_CTL_OK;
}

int
gmq_ctl_cmd_workers(gmq_ctl_t *c)
{
    gmq_ctl_reply_t r;
    int rc = gmq_ctl_http_api(c, "/debug/workers", NULL, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json) {
        gmq_ctl_out_json(r.data);
    } else if (rc == GMQ_CTL_OK) {
        static const char *const keys[] = { "topic", "pid", "state", "restarts", "started_ms",
                                            "pending", "last_exit", NULL };
        static const char *const head[] = { "TOPIC", "PID", "STATE", "RESTARTS", "STARTED",
                                            "PENDING", "LAST_EXIT", NULL };
        gmq_ctl_out_list(c, r.data, keys, head, "topic");
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_worker_restart(gmq_ctl_t *c)
{
    const char *topic = c->argv[0];
    int rc = gmq_ctl_check_name(c, "topic", topic);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", topic, NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/exitTopic", kv, NULL, &r);
    if (rc == GMQ_CTL_OK)
        gmq_ctl_out_done(c, r.data, "topic %s: worker stopped; the next request naming the topic "
                         "starts a fresh worker", topic);
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_stats(gmq_ctl_t *c)
{
    gmq_ctl_reply_t r;
    int rc = gmq_ctl_http_api(c, "/debug/stats", NULL, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json)
        gmq_ctl_out_json(r.data);
    else if (rc == GMQ_CTL_OK)
        gmq_ctl_out_object(c, r.data);
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_metrics(gmq_ctl_t *c)
{
    gmq_ctl_reply_t r;
    int rc = gmq_ctl_http_raw(c, "/metrics", &r);
    if (rc == GMQ_CTL_OK)
        fwrite(gmq_buf_rptr(&r.body), 1, gmq_buf_used(&r.body), stdout);
    gmq_ctl_reply_free(&r);
    return rc;
}

/* nodes and watch read etcd: --server alone does not say where it is */
static int
node_etcd_only(gmq_ctl_t *c)
{
    if (c->server && c->etcd == NULL)
        return gmq_ctl_usage(c, "%s lists the etcd registrations: give --etcd URL[,URL], not --server",
                             c->cmd->group);
    return GMQ_CTL_OK;
}

static void
node_print(gmq_ctl_t *c, const gmq_discovery_node_t *nodes, size_t n)
{
    if (c->json) {
        gmq_buf_t b;
        gmq_buf_init(&b);
        gmq_buf_append_str(&b, "[");
        for (size_t i = 0; i < n; i++) {
            const char *f[][2] = {
                { "node_id", nodes[i].node_id }, { "tcp_addr", nodes[i].tcp_addr },
                { "http_addr", nodes[i].http_addr }, { "weight", NULL },
                { "join_time", nodes[i].join_time }, { "started_at", nodes[i].started_at },
                { "version", nodes[i].version },
            };
            char w[16];
            snprintf(w, sizeof(w), "%d", nodes[i].weight);
            f[3][1] = w;
            for (size_t k = 0; k < GMQ_ARRAY_LEN(f); k++) {
                gmq_buf_printf(&b, "%s\"%s\":", k ? "," : i ? ",{" : "{", f[k][0]);
                gmq_buf_json_str(&b, f[k][1], strlen(f[k][1]));
            }
            gmq_buf_append_str(&b, "}");
        }
        gmq_buf_append_str(&b, "]\n");
        fwrite(gmq_buf_rptr(&b), 1, gmq_buf_used(&b), stdout);
        gmq_buf_free(&b);
    } else {
        static const char *const head[] = { "ID", "TCP_ADDR", "HTTP_ADDR", "WEIGHT", "UP SINCE", NULL };
        gmq_ctl_table_t *t = gmq_ctl_out_table(head, "rllrl");
        for (size_t i = 0; i < n; i++) {
            gmq_ctl_out_cell(t, nodes[i].node_id);
            gmq_ctl_out_cell(t, nodes[i].tcp_addr);
            gmq_ctl_out_cell(t, nodes[i].http_addr);
            gmq_ctl_out_cellf(t, "%d", nodes[i].weight);
            gmq_ctl_out_cell(t, nodes[i].join_time);
        }
        gmq_ctl_out_print(t, c);
    }
    fflush(stdout);
}

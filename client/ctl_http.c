/*
 * ctl_http.c - owns gmqctl's HTTP side: choosing the node (flags, etcd), one
 * libcurl easy request per call with the TLS, token and timeout flags, and the
 * reasons printed when a request fails (no connection, timeout, HTTP status,
 * the node's msg).
 */
#include "client/ctl_http.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HTTP_REPLY_MAX (1024L * 1024 * 1024)   /* a larger reply is refused */

typedef struct http_sink_s {
    gmq_buf_t *b;
    int        too_big;
} http_sink_t;

static int    http_perform(gmq_ctl_t *c, const char *base, const char *url, const char *json,
                           gmq_ctl_reply_t *r, char *err, size_t errlen);
static void   http_base(char *out, size_t n, const char *server);
static size_t http_write(char *ptr, size_t size, size_t nmemb, void *userp);
static int    http_list(gmq_ctl_t *c, int one, gmq_ctl_target_t **out, size_t *n);
static void   http_ids(char *out, size_t n, const gmq_discovery_node_t *nodes, size_t cnt);

gmq_discovery_t *
gmq_ctl_http_discovery(gmq_ctl_t *c, int *rc)
{
    char err[512];
    gmq_discovery_t *d = gmq_discovery_new(c->etcd ? c->etcd : GMQ_CTL_DEFAULT_ETCD, c->cacert,
                                           c->timeout_ms, err, sizeof(err));
    if (d == NULL) {
        *rc = gmq_ctl_usage(c, "--etcd: %s", err);
        return NULL;
    }
    if (gmq_discovery_refresh(d, err, sizeof(err)) != GMQ_OK) {
        *rc = gmq_ctl_fail("%s", err);
        gmq_discovery_free(d);
        return NULL;
    }
    return d;
}

int
gmq_ctl_http_target(gmq_ctl_t *c)
{
    if (c->base[0])
        return GMQ_CTL_OK;
    gmq_ctl_target_t *t;
    size_t n;
    int rc = http_list(c, 1, &t, &n);
    if (rc == GMQ_CTL_OK)
        snprintf(c->base, sizeof(c->base), "%s", t[0].base);
    free(t);
    return rc;
}

int
gmq_ctl_http_targets(gmq_ctl_t *c, gmq_ctl_target_t **out, size_t *n)
{
    return http_list(c, 0, out, n);
}

int
gmq_ctl_http_api(gmq_ctl_t *c, const char *path, const char *const *kv, const char *json,
                 gmq_ctl_reply_t *r)
{
    memset(r, 0, sizeof(*r));
    gmq_buf_init(&r->body);
    r->msg = "";
    int rc = gmq_ctl_http_target(c);
    if (rc != GMQ_CTL_OK)
        return rc;

    gmq_buf_t url;
    gmq_buf_init(&url);
    gmq_buf_printf(&url, "%s%s", c->base, path);
    CURL *esc = curl_easy_init();
    char sep = '?';
    for (size_t i = 0; kv && kv[i]; i += 2) {
        if (kv[i + 1] == NULL)
            continue;
        char *v = curl_easy_escape(esc, kv[i + 1], (int) strlen(kv[i + 1]));
        gmq_buf_printf(&url, "%c%s=%s", sep, kv[i], v);
        curl_free(v);
        sep = '&';
    }
    curl_easy_cleanup(esc);
    gmq_buf_append(&url, "", 1);

    char err[CURL_ERROR_SIZE + 400];
    rc = http_perform(c, c->base, gmq_buf_rptr(&url), json, r, err, sizeof(err));
    gmq_buf_free(&url);
    if (rc != GMQ_OK)
        return gmq_ctl_fail("%s", err);

    char jerr[256];
    r->root = gmq_ctl_json_parse(gmq_buf_rptr(&r->body), gmq_buf_used(&r->body), jerr, sizeof(jerr));
    const char *code = gmq_ctl_json_str(r->root, "code");
    if (code == NULL) {
        size_t l = gmq_buf_used(&r->body);
        return gmq_ctl_fail("%s%s answered HTTP %ld with no gmq reply (%.*s%s)", c->base, path,
                            r->status, (int) (l > 60 ? 60 : l), gmq_buf_rptr(&r->body),
                            l > 60 ? "..." : "");
    }
    r->data = gmq_ctl_json_get(r->root, "data");
    r->msg = gmq_ctl_json_str(r->root, "msg") ? gmq_ctl_json_str(r->root, "msg") : "";
    if (r->data == NULL) {      /* keep data non-NULL for the commands: a null node */
        static gmq_ctl_json_t null_node = { .type = GMQ_CTL_JSON_NULL, .text = "", .src = "null",
                                            .src_len = 4 };
        r->data = &null_node;
    }
    if (strcmp(code, "0") == 0 && r->status == 200)
        return GMQ_CTL_OK;
    if (r->status == 404)
        return gmq_ctl_fail("%s does not serve %s (HTTP 404): is the node older than gmqctl?",
                            c->base, path);
    if (r->status == 401)
        return gmq_ctl_fail("%s (%s)", r->msg,
                            c->token ? "the token given is not the node's auth_token"
                                     : "give --token TOKEN or set GMQ_TOKEN");
    return gmq_ctl_fail("%s", r->msg[0] ? r->msg : "the node answered an error without a reason");
}

int
gmq_ctl_http_raw(gmq_ctl_t *c, const char *path, gmq_ctl_reply_t *r)
{
    memset(r, 0, sizeof(*r));
    gmq_buf_init(&r->body);
    r->msg = "";
    int rc = gmq_ctl_http_target(c);
    if (rc != GMQ_CTL_OK)
        return rc;
    char url[GMQ_CTL_BASE_MAX + 64], err[CURL_ERROR_SIZE + 400];
    snprintf(url, sizeof(url), "%s%s", c->base, path);
    if (http_perform(c, c->base, url, NULL, r, err, sizeof(err)) != GMQ_OK)
        return gmq_ctl_fail("%s", err);
    if (r->status == 200)
        return GMQ_CTL_OK;
    if (r->status == 404)
        return gmq_ctl_fail("%s does not serve %s (HTTP 404): is the node older than gmqctl?",
                            c->base, path);
    char jerr[64];
    r->root = gmq_ctl_json_parse(gmq_buf_rptr(&r->body), gmq_buf_used(&r->body), jerr, sizeof(jerr));
    const char *msg = gmq_ctl_json_str(r->root, "msg");
    return gmq_ctl_fail("%s%s: HTTP %ld%s%s", c->base, path, r->status, msg ? ": " : "",
                        msg ? msg : "");
}

int
gmq_ctl_http_ping(gmq_ctl_t *c, const char *base, char *err, size_t errlen, double *ms)
{
    char url[GMQ_CTL_BASE_MAX + 16];
    snprintf(url, sizeof(url), "%s/ping", base);
    gmq_ctl_reply_t r;
    memset(&r, 0, sizeof(r));
    gmq_buf_init(&r.body);
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = http_perform(c, base, url, NULL, &r, err, errlen);
    clock_gettime(CLOCK_MONOTONIC, &z);
    *ms = (double) (z.tv_sec - a.tv_sec) * 1e3 + (double) (z.tv_nsec - a.tv_nsec) / 1e6;
    int ok = rc == GMQ_OK && r.status == 200;
    if (rc == GMQ_OK && !ok)
        snprintf(err, errlen, "HTTP %ld", r.status);
    gmq_ctl_reply_free(&r);
    return ok;
}

void
gmq_ctl_reply_free(gmq_ctl_reply_t *r)
{
    if (r == NULL)
        return;
    gmq_ctl_json_free(r->root);
    r->root = NULL;
    r->data = NULL;
    gmq_buf_free(&r->body);
}

/* One request; GMQ_OK when an HTTP reply came back (any status), GMQ_ERR with the
 * reason in err ("cannot connect to <base>: Connection refused", ...). */
static int
http_perform(gmq_ctl_t *c, const char *base, const char *url, const char *json,
             gmq_ctl_reply_t *r, char *err, size_t errlen)
{
    char cerr[CURL_ERROR_SIZE] = "";
    http_sink_t sink = { &r->body, 0 };
    struct curl_slist *hdr = NULL;
    char auth[300];
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    long timeout = c->timeout_ms + c->extra_ms;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gmqctl/" GMQ_VERSION);
    if (c->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    if (c->cert)
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
    if (c->key)
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
    if (c->token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
        hdr = curl_slist_append(hdr, auth);
    }
    if (json) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(json));
    }
    if (hdr)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);

    CURLcode res = curl_easy_perform(h);
    long oserr = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    if (res == CURLE_OK)
        return GMQ_OK;

    const char *why = cerr[0] ? cerr : curl_easy_strerror(res);
    if (sink.too_big)
        snprintf(err, errlen, "%s: the reply is larger than %ld MiB", base, HTTP_REPLY_MAX >> 20);
    else if (res == CURLE_COULDNT_CONNECT)
        snprintf(err, errlen, "cannot connect to %s: %s", base,
                 oserr ? strerror((int) oserr) : why);
    else if (res == CURLE_COULDNT_RESOLVE_HOST)
        snprintf(err, errlen, "cannot connect to %s: %s", base, why);
    else if (res == CURLE_OPERATION_TIMEDOUT)
        snprintf(err, errlen, "%s: no answer within %.3g s (--timeout)", base,
                 (double) timeout / 1000);
    else
        snprintf(err, errlen, "%s: %s", base, why);
    return GMQ_ERR;
}

/* the nodes to talk to: --server (or the default when there is no --etcd), else
 * the registered nodes, only --node's when given; with one set, exactly one node
 * (several without --node: a usage error listing their ids) */
static int
http_list(gmq_ctl_t *c, int one, gmq_ctl_target_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (c->server || c->etcd == NULL) {
        gmq_ctl_target_t *t = gmq_xcalloc(1, sizeof(*t));
        http_base(t->base, sizeof(t->base), c->server ? c->server : GMQ_CTL_DEFAULT_SERVER);
        snprintf(t->node_id, sizeof(t->node_id), "-");
        snprintf(t->http_addr, sizeof(t->http_addr), "%s", strstr(t->base, "://") + 3);
        *out = t;
        *n = 1;
        return GMQ_CTL_OK;
    }
    int rc = GMQ_CTL_OK;
    gmq_discovery_t *d = gmq_ctl_http_discovery(c, &rc);
    if (d == NULL)
        return rc;
    gmq_discovery_node_t *nodes;
    size_t cnt = gmq_discovery_nodes(d, &nodes);
    gmq_ctl_target_t *t = gmq_xcalloc(cnt ? cnt : 1, sizeof(*t));
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (c->node && strcmp(c->node, nodes[i].node_id) != 0)
            continue;
        snprintf(t[k].node_id, sizeof(t[k].node_id), "%s", nodes[i].node_id);
        snprintf(t[k].http_addr, sizeof(t[k].http_addr), "%s", nodes[i].http_addr);
        http_base(t[k].base, sizeof(t[k].base), nodes[i].http_addr);
        k++;
    }
    char ids[512];
    http_ids(ids, sizeof(ids), nodes, cnt);
    if (cnt == 0)
        rc = gmq_ctl_fail("no node is registered in etcd (%s)", gmq_discovery_endpoint(d));
    else if (c->node && k == 0)
        rc = gmq_ctl_usage(c, "--node %s: no such node in etcd (registered: %s)", c->node, ids);
    else if (one && k > 1)
        rc = gmq_ctl_usage(c, "%zu nodes are registered in etcd (ids %s): pick one with --node ID",
                           k, ids);
    free(nodes);
    gmq_discovery_free(d);
    if (rc != GMQ_CTL_OK) {
        free(t);
        return rc;
    }
    *out = t;
    *n = k;
    return GMQ_CTL_OK;
}

/* http://host:port from --server or an etcd http_addr: a scheme added when there
 * is none, trailing slashes dropped */
static void
http_base(char *out, size_t n, const char *server)
{
    size_t len = strlen(server);
    while (len && server[len - 1] == '/')
        len--;
    snprintf(out, n, "%s%.*s", strstr(server, "://") ? "" : "http://", (int) len, server);
}

static size_t
http_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
    http_sink_t *s = userp;
    if (gmq_buf_used(s->b) + size * nmemb > (size_t) HTTP_REPLY_MAX) {
        s->too_big = 1;
        return 0;
    }
    gmq_buf_append(s->b, ptr, size * nmemb);
    return size * nmemb;
}

static void
http_ids(char *out, size_t n, const gmq_discovery_node_t *nodes, size_t cnt)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cnt && used < n; i++)
        used += (size_t) snprintf(out + used, n - used, "%s%s", i ? ", " : "", nodes[i].node_id);
}

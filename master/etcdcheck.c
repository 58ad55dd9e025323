/*
 * etcdcheck.c - gmq_etcd_check_id (etcd.h): before the loop runs, a blocking
 * range read of /gmq/node-<id> on each endpoint in turn, and the lease's time
 * to live when the key has one, so that a second node started with a live
 * node's id exits instead of taking its key.
 */
#include "etcd_impl.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/etcdapi.h"
#include "common/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <yajl/yajl_tree.h>

static int etcd_post_blocking(const char *url, const char *ca, const char *body, gmq_buf_t *resp,
                              long *code, char *err, size_t errlen);

int
gmq_etcd_check_id(const gmq_config_t *cfg, char *err, size_t errlen)
{
    gmq_etcdapi_endpoints_t ep;
    char perr[256], key[64], url[GMQ_ETCDAPI_URL_MAX + 64];
    int rc = GMQ_OK;

    if (cfg->etcd_endpoints == NULL || cfg->etcd_endpoints[0] == '\0')
        return GMQ_OK;
    if (gmq_etcdapi_endpoints_parse(cfg->etcd_endpoints, &ep, perr, sizeof(perr)) != GMQ_OK) {
        gmq_etcdapi_endpoints_free(&ep);
        snprintf(err, errlen, "etcd_endpoints: %s", perr);
        return GMQ_ERR;
    }
    etcd_curl_init();
    const char *ca = cfg->etcd_ca_file && cfg->etcd_ca_file[0] ? cfg->etcd_ca_file : NULL;
    snprintf(key, sizeof(key), GMQ_ETCDAPI_NODE_PREFIX "%d", cfg->node_id);

    gmq_buf_t body, resp;
    gmq_buf_init(&body);
    gmq_buf_init(&resp);
    gmq_etcdapi_body_range(&body, key, NULL);
    gmq_buf_append(&body, "", 1);

    for (size_t i = 0; i < ep.n; i++) {
        long code = 0;
        gmq_etcdapi_kv_t *kvs = NULL;
        size_t n = 0;
        snprintf(url, sizeof(url), "%s/v3/kv/range", ep.urls[i]);
        gmq_buf_reset(&resp);
        if (etcd_post_blocking(url, ca, body.data, &resp, &code, perr, sizeof(perr)) != GMQ_OK) {
            gmq_log_warn("etcd %s: %s", ep.urls[i], perr);
            continue;
        }
        if (gmq_etcdapi_parse_range(gmq_buf_rptr(&resp), gmq_buf_used(&resp), &kvs, &n, NULL,
                                    perr, sizeof(perr)) != GMQ_OK) {
            gmq_log_warn("etcd %s: range %s: %s", ep.urls[i], key, perr);
            continue;
        }
        if (n > 0 && kvs[0].lease != 0) {
            /* the key lives while its lease does; ask how long is left */
            char addr[ETCD_ADDR_MAX] = "?";
            int64_t ttl = 1;
            yajl_val root = kvs[0].value ? yajl_tree_parse(kvs[0].value, NULL, 0) : NULL;
            const char *path[] = { "tcp_addr", NULL };
            yajl_val v = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;
            if (v)
                snprintf(addr, sizeof(addr), "%s", v->u.string);
            yajl_tree_free(root);

            gmq_buf_t b2;
            gmq_buf_init(&b2);
            gmq_etcdapi_body_lease(&b2, kvs[0].lease);
            gmq_buf_append(&b2, "", 1);
            snprintf(url, sizeof(url), "%s/v3/lease/timetolive", ep.urls[i]);
            gmq_buf_reset(&resp);
            if (etcd_post_blocking(url, ca, b2.data, &resp, &code, perr, sizeof(perr)) == GMQ_OK)
                gmq_etcdapi_parse_ttl(gmq_buf_rptr(&resp), gmq_buf_used(&resp), &ttl, perr,
                                      sizeof(perr));
            gmq_buf_free(&b2);
            if (ttl > 0) {
                snprintf(err, errlen, "node_id %d is already registered in etcd by %s "
                         "(lease %lld, expires in %lld s)", cfg->node_id, addr,
                         (long long) kvs[0].lease, (long long) ttl);
                rc = GMQ_ERR;
            }
        } else if (n > 0) {
            gmq_log_warn("etcd: %s exists without a lease; it will be overwritten", key);
        }
        gmq_etcdapi_kvs_free(kvs, n);
        goto out;
    }
    gmq_log_warn("etcd: no endpoint of %s answers; starting anyway, registration will retry",
                 cfg->etcd_endpoints);
out:
    gmq_buf_free(&body);
    gmq_buf_free(&resp);
    gmq_etcdapi_endpoints_free(&ep);
    return rc;
}

static int
etcd_post_blocking(const char *url, const char *ca, const char *body, gmq_buf_t *resp,
                   long *code, char *err, size_t errlen)
{
    char cerr[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) ETCD_CHECK_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    CURLcode res = curl_easy_perform(c);
    *code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (res != CURLE_OK) {
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(res));
        return GMQ_ERR;
    }
    return GMQ_OK;
}

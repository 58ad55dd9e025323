/*
 * etcdcall.c - one-off etcd requests for other modules (gmq_etcd_call:
 * GET /cluster/nodes' range read and lease checks, master/nodeinfo.c), each
 * on its own easy handle in the registration's libcurl multi, tried on each
 * endpoint in turn; and what every request of the module shares: the POST
 * setup of an easy handle and the answer buffer.
 */
#include "etcd_impl.h"
#include "common/etcdapi.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>

static int etcd_call_send(etcd_call_t *k);

int
gmq_etcd_call(gmq_etcd_t *e, const char *path, const char *body, size_t len, long timeout_ms,
              gmq_etcd_call_fn done, void *arg, char *err, size_t errlen)
{
    if (e == NULL) {
        snprintf(err, errlen, "etcd is not configured (etcd_endpoints is empty)");
        return GMQ_ERR;
    }
    if (e->freeing) {
        snprintf(err, errlen, "etcd client stopped");
        return GMQ_ERR;
    }
    if (e->ncalls >= GMQ_ETCD_CALLS_MAX) {
        snprintf(err, errlen, "too many etcd requests in flight (%d); retry", e->ncalls);
        return GMQ_ERR;
    }
    etcd_call_t *k = gmq_xcalloc(1, sizeof(*k));
    k->e = e;
    k->easy = curl_easy_init();
    snprintf(k->path, sizeof(k->path), "%s", path);
    gmq_buf_init(&k->body);
    gmq_buf_init(&k->resp);
    gmq_buf_append(&k->body, body, len);
    k->ep = e->ep_cur;
    k->timeout_ms = timeout_ms;
    k->done = done;
    k->arg = arg;
    gmq_list_push_tail(&e->calls, &k->link);
    e->ncalls++;
    if (etcd_call_send(k) != GMQ_OK) {
        snprintf(err, errlen, "etcd: cannot start a request");
        etcd_call_free(k);
        return GMQ_ERR;
    }
    return GMQ_OK;
}

/* from etcd_check_multi: the answer, the next endpoint, or the failure */
void
etcd_call_finished(etcd_call_t *k, CURLcode res)
{
    gmq_etcd_t *e = k->e;
    long code = 0;
    curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(e->multi, k->easy);
    if (res != CURLE_OK) {
        char why[CURL_ERROR_SIZE + GMQ_ETCDAPI_URL_MAX + 16];
        snprintf(why, sizeof(why), "%s: %s", e->ep.urls[k->ep],
                 k->curl_err[0] ? k->curl_err : curl_easy_strerror(res));
        if (++k->tries < e->ep.n) {
            k->ep = (k->ep + 1) % e->ep.n;
            gmq_log_debug("etcd: %s; trying %s", why, e->ep.urls[k->ep]);
            if (etcd_call_send(k) == GMQ_OK)
                return;
        }
        k->done(k->arg, 0, NULL, 0, why);
        etcd_call_free(k);
        return;
    }
    gmq_buf_append(&k->resp, "", 1);   /* NUL-terminated for the parsers; not counted */
    k->done(k->arg, code, gmq_buf_rptr(&k->resp), gmq_buf_used(&k->resp) - 1, NULL);
    etcd_call_free(k);
}

/* the handle must be out of the multi */
void
etcd_call_free(etcd_call_t *k)
{
    gmq_list_remove(&k->link);
    k->e->ncalls--;
    curl_easy_cleanup(k->easy);
    gmq_buf_free(&k->body);
    gmq_buf_free(&k->resp);
    free(k);
}

/* one POST of body to url on the easy handle c, answer into resp */
void
etcd_easy_setup(gmq_etcd_t *e, CURL *c, const char *url, const gmq_buf_t *body,
                gmq_buf_t *resp, char *errbuf, long timeout_ms, void *priv)
{
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, gmq_buf_rptr(body));
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) gmq_buf_used(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, etcd_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 1000 ? timeout_ms : 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PRIVATE, priv);
    if (e->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
}

size_t
etcd_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
    gmq_buf_t *b = userp;
    if (gmq_buf_used(b) + size * nmemb > (1u << 20))
        return 0;   /* no answer of ours is that large */
    gmq_buf_append(b, ptr, size * nmemb);
    return size * nmemb;
}

/* ---- helpers ---- */

static int
etcd_call_send(etcd_call_t *k)
{
    gmq_etcd_t *e = k->e;
    char url[GMQ_ETCDAPI_URL_MAX + 64];
    snprintf(url, sizeof(url), "%s%s", e->ep.urls[k->ep], k->path);
    gmq_buf_reset(&k->resp);
    k->curl_err[0] = '\0';
    etcd_easy_setup(e, k->easy, url, &k->body, &k->resp, k->curl_err, k->timeout_ms, k);
    return curl_multi_add_handle(e->multi, k->easy) == CURLM_OK ? GMQ_OK : GMQ_ERR;
}

/*
 * discovery.c - owns a client's view of the cluster (gmq_discovery_t): the
 * node list read from etcd's /gmq/node- prefix, nginx's smooth weighted
 * round-robin over it, and a watch thread that applies etcd's events (or polls
 * every 500 ms while the watch cannot be established).
 */
#include "discovery.h"
#include "common/buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#define DISCOVERY_POLL_MS 500

struct gmq_discovery_s {
    gmq_etcdapi_endpoints_t ep;
    size_t       ep_cur;
    char        *ca_file;
    long         timeout_ms;
    char        *range_end;

    pthread_mutex_t lock;        /* guards nodes, n, version, revision, ep_cur */
    gmq_discovery_node_t *nodes;
    size_t       n;
    uint64_t     version;
    int64_t      revision;       /* of the last listing or event */
    int          listed;

    pthread_t    thread;
    int          watching;
    atomic_int   stop;           /* set by watch_stop; read by the watch thread */
    pthread_cond_t wake;
};

/* the state of one watch stream */
typedef struct discovery_stream_s {
    gmq_discovery_t *d;
    gmq_buf_t        line;
    int              created;
    int              failed;
} discovery_stream_t;

static int    discovery_post(gmq_discovery_t *d, const char *path, const char *body,
                             gmq_buf_t *resp, char *err, size_t errlen);
static size_t discovery_write(char *ptr, size_t size, size_t nmemb, void *userp);
static size_t discovery_stream_write(char *ptr, size_t size, size_t nmemb, void *userp);
static int    discovery_progress(void *p, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t e);
static void  *discovery_watch_main(void *arg);
static int    discovery_watch_once(gmq_discovery_t *d);
static void   discovery_sleep(gmq_discovery_t *d, long ms);
static int    discovery_cmp(const void *a, const void *b);
static void   discovery_copy(char *dst, size_t dstlen, yajl_val v);
static void   discovery_curl_init(void);

/* ---- pure pieces ---- */

int
gmq_discovery_node_parse(const char *key, const char *json, size_t len, gmq_discovery_node_t *n)
{
    memset(n, 0, sizeof(*n));
    /* a node is known by its key: one cut to fit would match no listing
     * or event of it (and no gmq node's key is that long) */
    if (key != NULL && strlen(key) >= sizeof(n->key))
        return GMQ_ERR;
    snprintf(n->key, sizeof(n->key), "%s", key ? key : "");
    char *copy = gmq_xstrndup(json, len);
    yajl_val root = yajl_tree_parse(copy, NULL, 0);
    free(copy);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return GMQ_ERR;
    }
    char weight[16] = "";
    for (size_t i = 0; i < root->u.object.len; i++) {
        const char *k = root->u.object.keys[i];
        yajl_val v = root->u.object.values[i];
        if (strcmp(k, "node_id") == 0)
            discovery_copy(n->node_id, sizeof(n->node_id), v);
        else if (strcmp(k, "tcp_addr") == 0)
            discovery_copy(n->tcp_addr, sizeof(n->tcp_addr), v);
        else if (strcmp(k, "http_addr") == 0)
            discovery_copy(n->http_addr, sizeof(n->http_addr), v);
        else if (strcmp(k, "join_time") == 0)
            discovery_copy(n->join_time, sizeof(n->join_time), v);
        else if (strcmp(k, "started_at") == 0)
            discovery_copy(n->started_at, sizeof(n->started_at), v);
        else if (strcmp(k, "version") == 0)
            discovery_copy(n->version, sizeof(n->version), v);
        else if (strcmp(k, "weight") == 0)
            discovery_copy(weight, sizeof(weight), v);
    }
    yajl_tree_free(root);
    n->weight = atoi(weight);
    if (n->weight < 1)
        n->weight = 1;
    if (n->node_id[0] == '\0' && key) {
        const char *p = strrchr(key, '-');
        if (p)
            snprintf(n->node_id, sizeof(n->node_id), "%s", p + 1);
    }
    if (n->node_id[0] == '\0' || (n->tcp_addr[0] == '\0' && n->http_addr[0] == '\0'))
        return GMQ_ERR;
    return GMQ_OK;
}

/* nginx's smooth weighted round-robin: every node gains its weight, the largest
 * current wins and pays back the total. */
int
gmq_discovery_swrr(gmq_discovery_node_t *nodes, size_t n)
{
    return gmq_discovery_swrr_among(nodes, n, NULL);
}

int
gmq_discovery_swrr_among(gmq_discovery_node_t *nodes, size_t n, const unsigned char *eligible)
{
    int best = -1, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (eligible != NULL && !eligible[i])
            continue;
        nodes[i].current += nodes[i].weight;
        total += nodes[i].weight;
        if (best < 0 || nodes[i].current > nodes[best].current)
            best = (int) i;
    }
    if (best >= 0)
        nodes[best].current -= total;
    return best;
}

int
gmq_discovery_apply(gmq_discovery_node_t **nodes, size_t *n, const gmq_etcdapi_kv_t *kvs,
                    size_t nkv, int replace)
{
    int changed = 0;
    gmq_discovery_node_t *arr = *nodes;
    size_t cnt = *n;

    if (replace) {
        /* drop nodes that the listing no longer has */
        for (size_t i = 0; i < cnt;) {
            int found = 0;
            for (size_t j = 0; j < nkv && !found; j++)
                found = !kvs[j].deleted && strcmp(kvs[j].key, arr[i].key) == 0;
            if (!found) {
                memmove(&arr[i], &arr[i + 1], (cnt - i - 1) * sizeof(*arr));
                cnt--;
                changed = 1;
            } else {
                i++;
            }
        }
    }
    for (size_t j = 0; j < nkv; j++) {
        size_t i;
        for (i = 0; i < cnt; i++)
            if (strcmp(arr[i].key, kvs[j].key) == 0)
                break;
        if (kvs[j].deleted || kvs[j].value == NULL) {
            if (i < cnt) {
                memmove(&arr[i], &arr[i + 1], (cnt - i - 1) * sizeof(*arr));
                cnt--;
                changed = 1;
            }
            continue;
        }
        gmq_discovery_node_t node;
        if (gmq_discovery_node_parse(kvs[j].key, kvs[j].value, kvs[j].value_len, &node) != GMQ_OK)
            continue;
        if (i < cnt) {
            node.current = arr[i].current;
            if (memcmp(&node, &arr[i], sizeof(node)) != 0) {
                arr[i] = node;
                changed = 1;
            }
        } else {
            arr = gmq_xrealloc(arr, (cnt + 1) * sizeof(*arr));
            arr[cnt++] = node;
            changed = 1;
        }
    }
    if (changed && cnt > 1)
        qsort(arr, cnt, sizeof(*arr), discovery_cmp);
    if (changed && cnt == 0) {
        free(arr);
        arr = NULL;
    }
    *nodes = arr;
    *n = cnt;
    return changed;
}

/* ---- the client ---- */

gmq_discovery_t *
gmq_discovery_new(const char *endpoints, const char *ca_file, long timeout_ms,
                  char *err, size_t errlen)
{
    gmq_discovery_t *d = gmq_xcalloc(1, sizeof(*d));
    if (gmq_etcdapi_endpoints_parse(endpoints, &d->ep, err, errlen) != GMQ_OK) {
        gmq_etcdapi_endpoints_free(&d->ep);
        free(d);
        return NULL;
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, discovery_curl_init);
    d->ca_file = ca_file && ca_file[0] ? gmq_xstrdup(ca_file) : NULL;
    d->timeout_ms = timeout_ms > 0 ? timeout_ms : 3000;
    d->range_end = gmq_etcdapi_prefix_end(GMQ_ETCDAPI_NODE_PREFIX);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    return d;
}

void
gmq_discovery_free(gmq_discovery_t *d)
{
    if (d == NULL)
        return;
    gmq_discovery_watch_stop(d);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    gmq_etcdapi_endpoints_free(&d->ep);
    free(d->ca_file);
    free(d->range_end);
    free(d->nodes);
    free(d);
}

int
gmq_discovery_refresh(gmq_discovery_t *d, char *err, size_t errlen)
{
    gmq_buf_t body, resp;
    gmq_etcdapi_kv_t *kvs;
    size_t nkv;
    int64_t rev = 0;
    int rc = GMQ_ERR;

    gmq_buf_init(&body);
    gmq_buf_init(&resp);
    gmq_etcdapi_body_range(&body, GMQ_ETCDAPI_NODE_PREFIX, d->range_end);
    gmq_buf_append(&body, "", 1);
    if (discovery_post(d, "/v3/kv/range", body.data, &resp, err, errlen) == GMQ_OK &&
        gmq_etcdapi_parse_range(gmq_buf_rptr(&resp), gmq_buf_used(&resp), &kvs, &nkv, &rev,
                                err, errlen) == GMQ_OK) {
        pthread_mutex_lock(&d->lock);
        if (gmq_discovery_apply(&d->nodes, &d->n, kvs, nkv, 1) || !d->listed)
            d->version++;
        d->revision = rev;
        d->listed = 1;
        pthread_mutex_unlock(&d->lock);
        gmq_etcdapi_kvs_free(kvs, nkv);
        rc = GMQ_OK;
    }
    gmq_buf_free(&body);
    gmq_buf_free(&resp);
    return rc;
}

size_t
gmq_discovery_nodes(gmq_discovery_t *d, gmq_discovery_node_t **out)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->n;
    *out = gmq_xmalloc((n ? n : 1) * sizeof(gmq_discovery_node_t));
    if (n)
        memcpy(*out, d->nodes, n * sizeof(gmq_discovery_node_t));
    pthread_mutex_unlock(&d->lock);
    return n;
}

int
gmq_discovery_pick(gmq_discovery_t *d, gmq_discovery_node_t *out)
{
    char err[256];
    pthread_mutex_lock(&d->lock);
    int listed = d->listed;
    pthread_mutex_unlock(&d->lock);
    if (!listed && gmq_discovery_refresh(d, err, sizeof(err)) != GMQ_OK)
        return GMQ_ERR;

    pthread_mutex_lock(&d->lock);
    int i = gmq_discovery_swrr(d->nodes, d->n);
    if (i >= 0)
        *out = d->nodes[i];
    pthread_mutex_unlock(&d->lock);
    return i >= 0 ? GMQ_OK : GMQ_ERR;
}

int
gmq_discovery_watch_start(gmq_discovery_t *d)
{
    if (d->watching)
        return GMQ_OK;
    d->stop = 0;
    if (pthread_create(&d->thread, NULL, discovery_watch_main, d) != 0)
        return GMQ_ERR;
    d->watching = 1;
    return GMQ_OK;
}

void
gmq_discovery_watch_stop(gmq_discovery_t *d)
{
    if (!d->watching)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    d->watching = 0;
}

uint64_t
gmq_discovery_version(gmq_discovery_t *d)
{
    pthread_mutex_lock(&d->lock);
    uint64_t v = d->version;
    pthread_mutex_unlock(&d->lock);
    return v;
}

const char *
gmq_discovery_endpoint(const gmq_discovery_t *d)
{
    return d->ep.urls[d->ep_cur];
}

/* ---- static helpers ---- */

static void
discovery_curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
discovery_setup(gmq_discovery_t *d, CURL *c, const char *url, const char *body,
                struct curl_slist *h, char *cerr)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, d->timeout_ms < 1000 ? d->timeout_ms : 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (d->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, d->ca_file);
}

/* POST to each endpoint in turn from the last one that answered */
static int
discovery_post(gmq_discovery_t *d, const char *path, const char *body, gmq_buf_t *resp,
               char *err, size_t errlen)
{
    char url[GMQ_ETCDAPI_URL_MAX + 64], cerr[CURL_ERROR_SIZE];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    int rc = GMQ_ERR;

    pthread_mutex_lock(&d->lock);
    size_t start = d->ep_cur;
    pthread_mutex_unlock(&d->lock);
    for (size_t k = 0; k < d->ep.n; k++) {
        size_t i = (start + k) % d->ep.n;
        CURL *c = curl_easy_init();
        cerr[0] = '\0';
        snprintf(url, sizeof(url), "%s%s", d->ep.urls[i], path);
        discovery_setup(d, c, url, body, h, cerr);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, d->timeout_ms);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discovery_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
        gmq_buf_reset(resp);
        CURLcode res = curl_easy_perform(c);
        curl_easy_cleanup(c);
        if (res == CURLE_OK) {
            pthread_mutex_lock(&d->lock);
            d->ep_cur = i;
            pthread_mutex_unlock(&d->lock);
            rc = GMQ_OK;
            break;
        }
        snprintf(err, errlen, "etcd %s: %s", d->ep.urls[i],
                 cerr[0] ? cerr : curl_easy_strerror(res));
    }
    curl_slist_free_all(h);
    return rc;
}

static size_t
discovery_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
    gmq_buf_t *b = userp;
    if (gmq_buf_used(b) + size * nmemb > (64u << 20))
        return 0;
    gmq_buf_append(b, ptr, size * nmemb);
    return size * nmemb;
}

static void *
discovery_watch_main(void *arg)
{
    gmq_discovery_t *d = arg;
    char err[256];
    while (!d->stop) {
        /* a listing gives the revision to watch from; polling while the watch fails */
        if (gmq_discovery_refresh(d, err, sizeof(err)) == GMQ_OK)
            discovery_watch_once(d);
        discovery_sleep(d, DISCOVERY_POLL_MS);
    }
    return NULL;
}

/* one watch stream from the listed revision + 1, until it breaks or stop is set */
static int
discovery_watch_once(gmq_discovery_t *d)
{
    char url[GMQ_ETCDAPI_URL_MAX + 64], cerr[CURL_ERROR_SIZE] = "";
    gmq_buf_t body;
    discovery_stream_t st;

    pthread_mutex_lock(&d->lock);
    int64_t rev = d->revision;
    snprintf(url, sizeof(url), "%s/v3/watch", d->ep.urls[d->ep_cur]);
    pthread_mutex_unlock(&d->lock);

    gmq_buf_init(&body);
    gmq_etcdapi_body_watch(&body, GMQ_ETCDAPI_NODE_PREFIX, d->range_end, rev + 1);
    gmq_buf_append(&body, "", 1);
    memset(&st, 0, sizeof(st));
    st.d = d;
    gmq_buf_init(&st.line);

    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = curl_easy_init();
    discovery_setup(d, c, url, body.data, h, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discovery_stream_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, discovery_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    gmq_buf_free(&body);
    gmq_buf_free(&st.line);
    return st.created ? GMQ_OK : GMQ_ERR;
}

/* the stream is newline-framed JSON; curl's chunks need not match lines */
static size_t
discovery_stream_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
    discovery_stream_t *st = userp;
    gmq_discovery_t *d = st->d;
    size_t len = size * nmemb;
    char err[256];

    if (gmq_buf_used(&st->line) + len > (64u << 20))
        return 0;
    gmq_buf_append(&st->line, ptr, len);
    for (;;) {
        char *start = gmq_buf_rptr(&st->line);
        char *nl = memchr(start, '\n', gmq_buf_used(&st->line));
        if (nl == NULL)
            break;
        size_t ll = (size_t) (nl - start);
        int created;
        gmq_etcdapi_kv_t *kvs;
        size_t n;
        int64_t rev;
        if (ll > 0) {
            if (gmq_etcdapi_parse_watch(start, ll, &created, &kvs, &n, &rev, err,
                                        sizeof(err)) != GMQ_OK) {
                st->failed = 1;
                return 0;   /* canceled (e.g. compacted) or error: list again */
            }
            if (created)
                st->created = 1;
            pthread_mutex_lock(&d->lock);
            if (n && gmq_discovery_apply(&d->nodes, &d->n, kvs, n, 0))
                d->version++;
            if (rev > d->revision)
                d->revision = rev;
            pthread_mutex_unlock(&d->lock);
            gmq_etcdapi_kvs_free(kvs, n);
        }
        gmq_buf_consume(&st->line, ll + 1);
    }
    return len;
}

static int
discovery_progress(void *p, curl_off_t a GMQ_UNUSED, curl_off_t b GMQ_UNUSED,
                   curl_off_t c GMQ_UNUSED, curl_off_t e GMQ_UNUSED)
{
    gmq_discovery_t *d = p;
    return d->stop ? 1 : 0;
}

static void
discovery_sleep(gmq_discovery_t *d, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->lock);
    while (!d->stop && pthread_cond_timedwait(&d->wake, &d->lock, &ts) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&d->lock);
}

static int
discovery_cmp(const void *a, const void *b)
{
    const gmq_discovery_node_t *x = a, *y = b;
    long ix = strtol(x->node_id, NULL, 10), iy = strtol(y->node_id, NULL, 10);
    if (ix != iy)
        return ix < iy ? -1 : 1;
    return strcmp(x->key, y->key);
}

static void
discovery_copy(char *dst, size_t dstlen, yajl_val v)
{
    if (YAJL_IS_STRING(v))
        snprintf(dst, dstlen, "%s", v->u.string);
    else if (YAJL_IS_INTEGER(v))
        snprintf(dst, dstlen, "%lld", (long long) v->u.number.i);
}

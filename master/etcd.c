/*
 * etcd.c - owns the node's registration in etcd (gmq_etcd_t): lease grant,
 * put of /gmq/node-<id>, keepalive every TTL/3, re-registration with backoff,
 * revoke on stop. One registration request at a time through libcurl's multi
 * interface, whose sockets and timer are ev_io / ev_timer watchers on the
 * master's loop; one-off calls for others (gmq_etcd_call, etcdcall.c)
 * share that multi. The blocking check of the node's id at start is
 * etcdcheck.c's.
 */
#include "etcd_impl.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/etcdapi.h"
#include "common/list.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ETCD_BACKOFF_MIN_MS 200
#define ETCD_BACKOFF_MAX_MS 1000     /* re-register within ~1 s of etcd coming back */
#define ETCD_REVOKE_MS      1000

enum etcd_state {
    ETCD_STOPPED,
    ETCD_REGISTERING,
    ETCD_REGISTERED,
    ETCD_RETRYING,
    ETCD_STOPPING,
};

static const char *etcd_state_names[] = {
    "stopped", "registering", "registered", "retrying", "stopping",
};

static void etcd_set_state(gmq_etcd_t *e, int state, const char *why);
static void etcd_register(gmq_etcd_t *e);
static void etcd_fail(gmq_etcd_t *e, const char *fmt, ...) GMQ_PRINTF(2, 3);
static void etcd_request(gmq_etcd_t *e, const char *path, etcd_reply_fn reply, long timeout_ms);
static void etcd_request_send(gmq_etcd_t *e);
static void etcd_request_cancel(gmq_etcd_t *e);
static void etcd_on_grant(gmq_etcd_t *e, long code, const char *body, size_t len);
static void etcd_on_put(gmq_etcd_t *e, long code, const char *body, size_t len);
static void etcd_on_keepalive(gmq_etcd_t *e, long code, const char *body, size_t len);
static void etcd_on_check(gmq_etcd_t *e, long code, const char *body, size_t len);
static void etcd_on_revoke(gmq_etcd_t *e, long code, const char *body, size_t len);
static void etcd_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void etcd_done_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void etcd_curl_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void etcd_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static int  etcd_curl_sock(CURL *easy, curl_socket_t s, int what, void *userp, void *sockp);
static int  etcd_curl_timer(CURLM *multi, long timeout_ms, void *userp);
static void etcd_check_multi(gmq_etcd_t *e);
static void etcd_advertise(const char *report, const char *listen, char *out, size_t outlen);
static void etcd_times(char *join, size_t joinlen, char *rfc, size_t rfclen);

/* ---- public ---- */

gmq_etcd_t *
gmq_etcd_new(struct ev_loop *loop, const gmq_config_t *cfg)
{
    char perr[256];
    if (cfg->etcd_endpoints == NULL || cfg->etcd_endpoints[0] == '\0')
        return NULL;

    gmq_etcd_t *e = gmq_xcalloc(1, sizeof(*e));
    if (gmq_etcdapi_endpoints_parse(cfg->etcd_endpoints, &e->ep, perr, sizeof(perr)) != GMQ_OK) {
        gmq_log_error("etcd_endpoints: %s", perr);
        gmq_etcdapi_endpoints_free(&e->ep);
        free(e);
        return NULL;
    }
    etcd_curl_init();
    e->loop = loop;
    e->ca_file = cfg->etcd_ca_file && cfg->etcd_ca_file[0] ? gmq_xstrdup(cfg->etcd_ca_file) : NULL;
    e->ttl = cfg->etcd_lease_ttl > 0 ? cfg->etcd_lease_ttl : 30;
    e->backoff_ms = ETCD_BACKOFF_MIN_MS;
    snprintf(e->key, sizeof(e->key), GMQ_ETCDAPI_NODE_PREFIX "%d", cfg->node_id);

    char tcp[ETCD_ADDR_MAX], http[ETCD_ADDR_MAX], join[32], rfc[40];
    etcd_advertise(cfg->report_tcp_addr, cfg->tcp_addr, tcp, sizeof(tcp));
    etcd_advertise(cfg->report_http_addr, cfg->http_addr, http, sizeof(http));
    etcd_times(join, sizeof(join), rfc, sizeof(rfc));
    gmq_buf_init(&e->value);
    gmq_etcdapi_node_value(&e->value, cfg->node_id, tcp, http,
                           cfg->node_weight > 0 ? cfg->node_weight : 1, join, rfc, GMQ_VERSION);
    gmq_buf_init(&e->body);
    gmq_buf_init(&e->resp);

    e->multi = curl_multi_init();
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, etcd_curl_sock);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, etcd_curl_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    e->easy = curl_easy_init();
    e->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    gmq_list_init(&e->calls);

    ev_timer_init(&e->curl_timer, etcd_curl_timer_cb, 0., 0.);
    ev_timer_init(&e->timer, etcd_timer_cb, 0., 0.);
    ev_timer_init(&e->done_timer, etcd_done_cb, 0., 0.);
    return e;
}

void
gmq_etcd_start(gmq_etcd_t *e)
{
    if (e == NULL || (e->state != ETCD_STOPPED))
        return;
    gmq_log_info("etcd: registering %s (lease ttl %d s) at %s", e->key, e->ttl,
                 e->ep.urls[e->ep_cur]);
    etcd_set_state(e, ETCD_REGISTERING, NULL);
    etcd_register(e);
}

void
gmq_etcd_stop(gmq_etcd_t *e, void (*done)(void *arg), void *arg)
{
    if (e == NULL) {
        if (done)
            done(arg);   /* nothing to wait for (standalone) */
        return;
    }
    e->done = done;
    e->done_arg = arg;
    ev_timer_stop(e->loop, &e->timer);
    etcd_request_cancel(e);
    if (e->lease_id != 0 && e->state != ETCD_STOPPED) {
        etcd_set_state(e, ETCD_STOPPING, "revoking lease");
        gmq_buf_reset(&e->body);
        gmq_etcdapi_body_lease(&e->body, e->lease_id);
        e->max_tries = 1;
        etcd_request(e, "/v3/lease/revoke", etcd_on_revoke, ETCD_REVOKE_MS);
        return;
    }
    etcd_set_state(e, ETCD_STOPPED, NULL);
    ev_timer_set(&e->done_timer, 0., 0.);
    ev_timer_start(e->loop, &e->done_timer);
}

void
gmq_etcd_free(gmq_etcd_t *e)
{
    if (e == NULL)
        return;
    ev_timer_stop(e->loop, &e->timer);
    ev_timer_stop(e->loop, &e->done_timer);
    etcd_request_cancel(e);
    e->freeing = 1;
    while (!gmq_list_empty(&e->calls)) {
        etcd_call_t *k = container_of(e->calls.next, etcd_call_t, link);
        curl_multi_remove_handle(e->multi, k->easy);
        k->done(k->arg, 0, NULL, 0, "etcd client stopped");
        etcd_call_free(k);
    }
    curl_easy_cleanup(e->easy);
    curl_multi_cleanup(e->multi);
    ev_timer_stop(e->loop, &e->curl_timer);
    while (e->socks) {
        etcd_sock_t *s = e->socks;
        e->socks = s->next;
        ev_io_stop(e->loop, &s->io);
        free(s);
    }
    curl_slist_free_all(e->hdrs);
    gmq_buf_free(&e->value);
    gmq_buf_free(&e->body);
    gmq_buf_free(&e->resp);
    gmq_etcdapi_endpoints_free(&e->ep);
    free(e->ca_file);
    free(e);
}

int
gmq_etcd_registered(const gmq_etcd_t *e)
{
    return e != NULL && e->state == ETCD_REGISTERED;
}

const char *
gmq_etcd_key(const gmq_etcd_t *e)
{
    return e ? e->key : "";
}

const char *
gmq_etcd_state(const gmq_etcd_t *e)
{
    return e ? etcd_state_names[e->state] : "disabled";
}

void
gmq_etcd_stats(const gmq_etcd_t *e, gmq_etcd_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (e == NULL)
        return;
    out->registered = e->state == ETCD_REGISTERED;
    out->registrations = e->registrations;
    out->failures = e->failures;
    out->keepalive_failures = e->keepalive_failures;
}

void
gmq_etcd_status_json(const gmq_etcd_t *e, gmq_buf_t *out)
{
    if (e == NULL) {
        gmq_buf_append_str(out, "{\"state\":\"disabled\"}");
        return;
    }
    const char *url = e->ep.urls[e->ep_cur];
    gmq_buf_printf(out, "{\"state\":\"%s\",\"endpoint\":", etcd_state_names[e->state]);
    gmq_buf_json_str(out, url, strlen(url));
    gmq_buf_append_str(out, ",\"key\":");
    gmq_buf_json_str(out, e->key, strlen(e->key));
    gmq_buf_printf(out, ",\"lease_id\":\"%lld\",\"ttl\":%d,\"registrations\":%u,\"failures\":%u,"
                   "\"last_error\":", (long long) e->lease_id, e->ttl, e->registrations,
                   e->failures);
    gmq_buf_json_str(out, e->last_error, strlen(e->last_error));
    gmq_buf_append_str(out, "}");
}

/* ---- the state machine ---- */

static void
etcd_set_state(gmq_etcd_t *e, int state, const char *why)
{
    if (e->state == state)
        return;
    int level = state == ETCD_RETRYING ? GMQ_LOG_WARN : GMQ_LOG_INFO;
    gmq_log(level, "etcd: %s -> %s%s%s (%s, lease %lld)", etcd_state_names[e->state],
            etcd_state_names[state], why ? ": " : "", why ? why : "", e->key,
            (long long) e->lease_id);
    e->state = state;
}

/* (re)register: keep a lease that may still be alive (after an outage), else grant one */
static void
etcd_register(gmq_etcd_t *e)
{
    gmq_buf_reset(&e->body);
    if (e->lease_id != 0) {
        gmq_etcdapi_body_lease(&e->body, e->lease_id);
        etcd_request(e, "/v3/lease/keepalive", etcd_on_keepalive, 0);
    } else {
        gmq_etcdapi_body_grant(&e->body, e->ttl);
        etcd_request(e, "/v3/lease/grant", etcd_on_grant, 0);
    }
}

static void
etcd_put(gmq_etcd_t *e)
{
    gmq_buf_reset(&e->body);
    gmq_etcdapi_body_put(&e->body, e->key, e->value.data + e->value.pos, gmq_buf_used(&e->value),
                         e->lease_id);
    etcd_request(e, "/v3/kv/put", etcd_on_put, 0);
}

static void
etcd_schedule(gmq_etcd_t *e, int ms)
{
    ev_timer_stop(e->loop, &e->timer);
    ev_timer_set(&e->timer, ms / 1000., 0.);
    ev_timer_start(e->loop, &e->timer);
}

static void
etcd_fail(gmq_etcd_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->last_error, sizeof(e->last_error), fmt, ap);
    va_end(ap);
    e->failures++;
    if (e->state != ETCD_RETRYING)
        etcd_set_state(e, ETCD_RETRYING, e->last_error);
    else
        gmq_log_debug("etcd: still failing: %s", e->last_error);
    etcd_schedule(e, e->backoff_ms);
    e->backoff_ms *= 2;
    if (e->backoff_ms > ETCD_BACKOFF_MAX_MS)
        e->backoff_ms = ETCD_BACKOFF_MAX_MS;
}

static void
etcd_on_grant(gmq_etcd_t *e, long code, const char *body, size_t len)
{
    char err[256];
    int64_t id = 0, ttl = 0;
    if (gmq_etcdapi_parse_grant(body, len, &id, &ttl, err, sizeof(err)) != GMQ_OK) {
        etcd_fail(e, "lease grant: HTTP %ld: %s", code, err);
        return;
    }
    e->lease_id = id;
    gmq_log_debug("etcd: lease %lld granted, ttl %lld", (long long) id, (long long) ttl);
    etcd_put(e);
}

static void
etcd_on_put(gmq_etcd_t *e, long code, const char *body, size_t len)
{
    char err[256];
    if (gmq_etcdapi_parse_ok(body, len, err, sizeof(err)) != GMQ_OK) {
        if (code == 404)
            e->lease_id = 0;   /* lease not found: grant a new one next time */
        etcd_fail(e, "put %s: HTTP %ld: %s", e->key, code, err);
        return;
    }
    e->registrations++;
    e->backoff_ms = ETCD_BACKOFF_MIN_MS;
    e->last_error[0] = '\0';
    etcd_set_state(e, ETCD_REGISTERED, e->ep.urls[e->ep_cur]);
    int ms = e->ttl * 1000 / 3;
    etcd_schedule(e, ms > 0 ? ms : 500);
}

static void
etcd_on_keepalive(gmq_etcd_t *e, long code, const char *body, size_t len)
{
    char err[256];
    int64_t ttl = 0;
    if (gmq_etcdapi_parse_ttl(body, len, &ttl, err, sizeof(err)) != GMQ_OK) {
        e->keepalive_failures++;
        etcd_fail(e, "keepalive: HTTP %ld: %s", code, err);
        return;
    }
    if (ttl <= 0) {
        /* the lease is gone (expired during an outage, or revoked): a new one */
        if (e->state == ETCD_REGISTERED)
            etcd_set_state(e, ETCD_REGISTERING, "lease lost");
        else
            gmq_log_info("etcd: lease %lld expired meanwhile, granting a new one",
                         (long long) e->lease_id);
        e->lease_id = 0;
        etcd_register(e);
        return;
    }
    gmq_log_debug("etcd lease keep alive, ttl:%lld", (long long) ttl);
    if (e->state != ETCD_REGISTERED) {
        etcd_put(e);          /* recovering: the lease survived, make sure the key is there */
        return;
    }
    /* the lease lives; is the key still there (someone may have deleted it)? */
    gmq_buf_reset(&e->body);
    gmq_etcdapi_body_range(&e->body, e->key, NULL);
    etcd_request(e, "/v3/kv/range", etcd_on_check, 0);
}

static void
etcd_on_check(gmq_etcd_t *e, long code, const char *body, size_t len)
{
    char err[256];
    gmq_etcdapi_kv_t *kvs;
    size_t n;
    if (gmq_etcdapi_parse_range(body, len, &kvs, &n, NULL, err, sizeof(err)) != GMQ_OK) {
        etcd_fail(e, "range %s: HTTP %ld: %s", e->key, code, err);
        return;
    }
    int ours = n > 0 && kvs[0].lease == e->lease_id;
    gmq_etcdapi_kvs_free(kvs, n);
    if (!ours) {
        etcd_set_state(e, ETCD_REGISTERING, n ? "key taken over by another lease" : "key gone");
        etcd_put(e);
        return;
    }
    int ms = e->ttl * 1000 / 3;
    etcd_schedule(e, ms > 0 ? ms : 500);
}

static void
etcd_on_revoke(gmq_etcd_t *e, long code, const char *body, size_t len)
{
    char err[256] = "";
    if (code == 0)
        snprintf(err, sizeof(err), "%.*s", (int) len, body);
    else if (gmq_etcdapi_parse_ok(body, len, err, sizeof(err)) == GMQ_OK)
        err[0] = '\0';
    if (err[0])
        gmq_log_warn("etcd: revoke lease %lld: %s", (long long) e->lease_id, err);
    else
        gmq_log_info("etcd lease has revoke (lease %lld, %s)", (long long) e->lease_id, e->key);
    e->lease_id = 0;
    etcd_set_state(e, ETCD_STOPPED, NULL);
    ev_timer_set(&e->done_timer, 0., 0.);
    ev_timer_start(e->loop, &e->done_timer);
}

static void
etcd_timer_cb(struct ev_loop *loop GMQ_UNUSED, ev_timer *w, int revents GMQ_UNUSED)
{
    gmq_etcd_t *e = container_of(w, gmq_etcd_t, timer);
    if (e->busy)
        return;
    switch (e->state) {
    case ETCD_REGISTERED:
        gmq_buf_reset(&e->body);
        gmq_etcdapi_body_lease(&e->body, e->lease_id);
        etcd_request(e, "/v3/lease/keepalive", etcd_on_keepalive, 0);
        break;
    case ETCD_RETRYING:
    case ETCD_REGISTERING:
        etcd_register(e);
        break;
    default:
        break;
    }
}

static void
etcd_done_cb(struct ev_loop *loop GMQ_UNUSED, ev_timer *w, int revents GMQ_UNUSED)
{
    gmq_etcd_t *e = container_of(w, gmq_etcd_t, done_timer);
    void (*done)(void *) = e->done;
    e->done = NULL;
    if (done)
        done(e->done_arg);
}

/* ---- one request at a time over curl multi ---- */

static void
etcd_request(gmq_etcd_t *e, const char *path, etcd_reply_fn reply, long timeout_ms)
{
    snprintf(e->path, sizeof(e->path), "%s", path);
    e->reply = reply;
    e->tries = 0;
    if (e->state != ETCD_STOPPING)
        e->max_tries = e->ep.n;
    if (timeout_ms <= 0) {
        timeout_ms = e->ttl * 1000L / 3;
        if (timeout_ms < 500)
            timeout_ms = 500;
        if (timeout_ms > 3000)
            timeout_ms = 3000;
    }
    e->timeout_ms = timeout_ms;
    etcd_request_send(e);
}

static void
etcd_request_send(gmq_etcd_t *e)
{
    char url[GMQ_ETCDAPI_URL_MAX + 64];
    snprintf(url, sizeof(url), "%s%s", e->ep.urls[e->ep_cur], e->path);
    gmq_buf_reset(&e->resp);
    e->curl_err[0] = '\0';

    etcd_easy_setup(e, e->easy, url, &e->body, &e->resp, e->curl_err, e->timeout_ms, e);
    e->busy = 1;
    CURLMcode mc = curl_multi_add_handle(e->multi, e->easy);
    if (mc != CURLM_OK) {
        e->busy = 0;
        etcd_fail(e, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    }
}

static void
etcd_request_cancel(gmq_etcd_t *e)
{
    if (!e->busy)
        return;
    curl_multi_remove_handle(e->multi, e->easy);
    e->busy = 0;
}

static void
etcd_check_multi(gmq_etcd_t *e)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        if (msg->easy_handle != e->easy) {
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            if (priv != NULL)
                etcd_call_finished((etcd_call_t *) (void *) priv, msg->data.result);
            continue;
        }
        CURLcode res = msg->data.result;
        long code = 0;
        curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle(e->multi, e->easy);
        e->busy = 0;

        if (res != CURLE_OK) {
            char why[CURL_ERROR_SIZE + 64];
            snprintf(why, sizeof(why), "%s: %s", e->ep.urls[e->ep_cur],
                     e->curl_err[0] ? e->curl_err : curl_easy_strerror(res));
            if (e->ep.n > 1)
                e->ep_cur = (e->ep_cur + 1) % e->ep.n;   /* the next endpoint, now or next time */
            if (++e->tries < e->max_tries) {
                gmq_log_debug("etcd: %s; trying %s", why, e->ep.urls[e->ep_cur]);
                etcd_request_send(e);
                continue;
            }
            if (e->state == ETCD_STOPPING) {
                e->reply(e, 0, why, strlen(why));
                continue;
            }
            if (e->reply == etcd_on_keepalive)
                e->keepalive_failures++;
            etcd_fail(e, "%s", why);
            continue;
        }
        gmq_buf_append(&e->resp, "", 1);   /* NUL for logging; not counted below */
        e->reply(e, code, gmq_buf_rptr(&e->resp), gmq_buf_used(&e->resp) - 1);
    }
}

static int
etcd_curl_sock(CURL *easy GMQ_UNUSED, curl_socket_t s, int what, void *userp, void *sockp)
{
    gmq_etcd_t *e = userp;
    etcd_sock_t *sk = sockp;

    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            ev_io_stop(e->loop, &sk->io);
            for (etcd_sock_t **pp = &e->socks; *pp; pp = &(*pp)->next)
                if (*pp == sk) {
                    *pp = sk->next;
                    break;
                }
            free(sk);
            curl_multi_assign(e->multi, s, NULL);
        }
        return 0;
    }
    int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (sk == NULL) {
        sk = gmq_xcalloc(1, sizeof(*sk));
        sk->e = e;
        sk->next = e->socks;
        e->socks = sk;
        curl_multi_assign(e->multi, s, sk);
    } else {
        ev_io_stop(e->loop, &sk->io);
    }
    ev_io_init(&sk->io, etcd_io_cb, s, events);
    ev_io_start(e->loop, &sk->io);
    return 0;
}

static int
etcd_curl_timer(CURLM *multi GMQ_UNUSED, long timeout_ms, void *userp)
{
    gmq_etcd_t *e = userp;
    ev_timer_stop(e->loop, &e->curl_timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&e->curl_timer, timeout_ms / 1000., 0.);
        ev_timer_start(e->loop, &e->curl_timer);
    }
    return 0;
}

static void
etcd_curl_timer_cb(struct ev_loop *loop GMQ_UNUSED, ev_timer *w, int revents GMQ_UNUSED)
{
    gmq_etcd_t *e = container_of(w, gmq_etcd_t, curl_timer);
    int running;
    curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    etcd_check_multi(e);
}

static void
etcd_io_cb(struct ev_loop *loop GMQ_UNUSED, ev_io *w, int revents)
{
    etcd_sock_t *sk = container_of(w, etcd_sock_t, io);
    gmq_etcd_t *e = sk->e;
    int fd = w->fd, running;
    int action = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
                 (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(e->multi, fd, action, &running);   /* may free sk */
    etcd_check_multi(e);
}

/* ---- helpers ---- */

void
etcd_curl_init(void)
{
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

/* report address if set, else the listen address with a wildcard host replaced */
static void
etcd_advertise(const char *report, const char *listen, char *out, size_t outlen)
{
    char host[ETCD_ADDR_MAX], port[16];
    if (report && report[0]) {
        snprintf(out, outlen, "%s", report);
        return;
    }
    if (listen == NULL)
        listen = "";
    if (gmq_etcdapi_addr_split(listen, host, sizeof(host), port, sizeof(port)) != GMQ_OK ||
        !gmq_etcdapi_host_is_wildcard(host)) {
        snprintf(out, outlen, "%s", listen);
        return;
    }
    char ip[INET_ADDRSTRLEN] = "127.0.0.1";
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i; i = i->ifa_next) {
            if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
                continue;
            struct in_addr a = ((struct sockaddr_in *) (void *) i->ifa_addr)->sin_addr;
            if ((ntohl(a.s_addr) >> 24) == 127)
                continue;
            inet_ntop(AF_INET, &a, ip, sizeof(ip));
            break;
        }
        freeifaddrs(ifs);
    }
    snprintf(out, outlen, "%s:%s", ip, port);
}

/* join_time "YYYY-MM-DD HH:MM:SS" and started_at RFC 3339, both local time */
static void
etcd_times(char *join, size_t joinlen, char *rfc, size_t rfclen)
{
    time_t now = time(NULL);
    struct tm tm;
    char off[8];
    localtime_r(&now, &tm);
    strftime(join, joinlen, "%Y-%m-%d %H:%M:%S", &tm);
    strftime(off, sizeof(off), "%z", &tm);   /* +0800 -> +08:00 */
    size_t n = strftime(rfc, rfclen, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n + 7 <= rfclen && strlen(off) == 5) {
        memcpy(rfc + n, off, 3);
        rfc[n + 3] = ':';
        memcpy(rfc + n + 4, off + 3, 3);
    }
}

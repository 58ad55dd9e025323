/*
 * etcd_impl.h - what the files of the registration module share:
 * etcd.c (the registration on the loop, libcurl multi), etcdcall.c
 * (gmq_etcd_call's one-off requests, the POST setup of an easy handle) and
 * etcdcheck.c (the blocking check at start that no live node holds this
 * node's id). Not for other modules.
 */
#ifndef GMQ_ETCD_IMPL_H
#define GMQ_ETCD_IMPL_H

#include "etcd.h"
#include "common/buf.h"
#include "common/etcdapi.h"
#include "common/list.h"

#include <curl/curl.h>
#include <ev.h>
#include <stddef.h>

#define ETCD_CHECK_MS       2000     /* blocking check at start, per endpoint */
#define ETCD_ADDR_MAX       256

/* a socket libcurl asked us to watch */
typedef struct etcd_sock_s {
    ev_io               io;
    gmq_etcd_t         *e;
    struct etcd_sock_s *next;
} etcd_sock_t;

/* what to do with the answer to the request in flight */
typedef void (*etcd_reply_fn)(gmq_etcd_t *e, long code, const char *body, size_t len);

/* a gmq_etcd_call in flight: its own easy handle, in e->calls */
typedef struct etcd_call_s {
    gmq_list_t       link;
    gmq_etcd_t      *e;
    CURL            *easy;
    char             path[64];
    gmq_buf_t        body;
    gmq_buf_t        resp;
    size_t           ep;          /* endpoint of this try */
    size_t           tries;
    long             timeout_ms;
    gmq_etcd_call_fn done;
    void            *arg;
    char             curl_err[CURL_ERROR_SIZE];
} etcd_call_t;

struct gmq_etcd_s {
    struct ev_loop *loop;
    gmq_etcdapi_endpoints_t ep;
    size_t       ep_cur;          /* endpoint in use; advanced when one fails */
    char        *ca_file;         /* NULL = system CAs */
    int          ttl;             /* seconds */
    char         key[64];
    gmq_buf_t    value;           /* node JSON */

    int          state;           /* enum etcd_state */
    int64_t      lease_id;        /* 0 = none */
    unsigned     registrations;
    unsigned     failures;
    unsigned     keepalive_failures;
    int          backoff_ms;
    char         last_error[256];

    CURLM       *multi;
    etcd_sock_t *socks;
    ev_timer     curl_timer;      /* libcurl's timeout */
    ev_timer     timer;           /* keepalive period or retry backoff */
    ev_timer     done_timer;      /* calls stop's done() from the loop */
    void       (*done)(void *arg);
    void        *done_arg;

    /* the one request in flight */
    CURL        *easy;
    int          busy;
    struct curl_slist *hdrs;
    char         path[48];
    gmq_buf_t    body;
    gmq_buf_t    resp;
    etcd_reply_fn reply;
    size_t       tries;           /* endpoints tried for this request */
    size_t       max_tries;
    long         timeout_ms;
    char         curl_err[CURL_ERROR_SIZE];

    gmq_list_t   calls;           /* etcd_call_t in flight */
    int          ncalls;
    int          freeing;         /* in gmq_etcd_free: no new call */
};

/* one POST of body to url on the easy handle c, answer into resp (priv:
 * CURLOPT_PRIVATE, e for the registration's request, the call otherwise) */
void   etcd_easy_setup(gmq_etcd_t *e, CURL *c, const char *url, const gmq_buf_t *body,
                       gmq_buf_t *resp, char *errbuf, long timeout_ms, void *priv);
/* from the multi's loop: a call's transfer ended with res */
void   etcd_call_finished(etcd_call_t *k, CURLcode res);
/* free a call (its handle out of the multi) */
void   etcd_call_free(etcd_call_t *k);
/* curl_global_init, once */
void   etcd_curl_init(void);
/* libcurl's write callback: appends to the gmq_buf_t userp (1 MiB at most) */
size_t etcd_write(char *ptr, size_t size, size_t nmemb, void *userp);

#endif

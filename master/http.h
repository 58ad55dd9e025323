/*
 * http.h - HTTP/1.1 on client connections (http.c) and the API handlers
 * (api.c): the per-connection parser state, one parsed request as the
 * handlers see it (path, decoded query and form parameters, raw body;
 * valid during dispatch only), and the response writers.
 */
#ifndef GMQ_HTTP_H
#define GMQ_HTTP_H

#include "common/buf.h"
#include "common/gmq.h"

#include <http_parser.h>

typedef struct gmq_conn_s gmq_conn_t;

#define GMQ_HTTP_MAX_PARAMS 64
#define GMQ_HTTP_HDR_MAX    256   /* bytes kept of Host, Origin, If-None-Match, Sec-Fetch-Site */

/* per-connection HTTP state */
typedef struct {
    http_parser parser;
    gmq_buf_t   url;
    gmq_buf_t   body;
    gmq_buf_t   hfield, hvalue;
    char        content_type[128];
    char        authorization[300];
    size_t      authorization_len;  /* bytes kept (a NUL in the value is not an end) */
    int         accept_raw;    /* Accept names application/octet-stream */
    char        host[GMQ_HTTP_HDR_MAX], origin[GMQ_HTTP_HDR_MAX];
    char        if_none_match[GMQ_HTTP_HDR_MAX], fetch_site[GMQ_HTTP_HDR_MAX];
    size_t      host_len, origin_len;   /* the value's whole length: >= GMQ_HTTP_HDR_MAX = cut */
    int         in_value;
    int         in_parse;      /* gmq_http_on_data is running: replies need no resume */
    int         complete;      /* a whole request parsed, waiting for its reply */
    int         keep_alive;
    int         too_large;
    uint64_t    head_bytes;
    uint64_t    head_started_ms; /* first byte of a request whose head is incomplete */
    uint64_t    body_started_ms; /* head complete, body not yet */
} gmq_http_state_t;

typedef struct {
    int    n;
    char  *key[GMQ_HTTP_MAX_PARAMS];
    char  *val[GMQ_HTTP_MAX_PARAMS];
    size_t vlen[GMQ_HTTP_MAX_PARAMS];
} gmq_http_params_t;

typedef struct {
    gmq_conn_t        *conn;
    int                method;         /* enum http_method */
    char              *path;
    gmq_http_params_t  query;
    gmq_http_params_t  form;           /* url-encoded or multipart body fields */
    const char        *body;
    size_t             body_len;
    const char        *content_type;
    int                accept_raw;     /* Accept: application/octet-stream (raw /pop, /dead) */
    /* headers for browsers (master/web.c): "" when absent; *_len is the value's whole
     * length (>= GMQ_HTTP_HDR_MAX when it was cut) */
    const char        *host, *origin, *if_none_match, *fetch_site;
    size_t             host_len, origin_len;
} gmq_http_req_t;

void gmq_http_conn_init(gmq_conn_t *c);
void gmq_http_conn_free(gmq_conn_t *c);
/* parse and dispatch what is buffered; stops while a reply is awaited */
void gmq_http_on_data(gmq_conn_t *c);
/* queue a response; a request answered later resumes the parser at the end
 * of the loop iteration (never from here) */
void gmq_http_respond(gmq_conn_t *c, int status, const char *ctype, const char *body, size_t len);
/* The general form: hdrs (NULL = none) are extra header lines, each ending in
 * "\r\n"; given, they replace the default "Cache-Control: no-store" and carry
 * their own. ctype NULL = no Content-Type. A 204 or 304 has no body and no
 * length; a HEAD request gets the headers (with the body's length) without the body. */
void gmq_http_respond_hdrs(gmq_conn_t *c, int status, const char *ctype, const char *hdrs,
                           const char *body, size_t len);
void gmq_http_respond_json(gmq_conn_t *c, int code, const char *data, size_t dlen, const char *msg);
/* an error response that closes the connection */
void gmq_http_error(gmq_conn_t *c, int status, const char *msg);
/* 408 for a head (body = 0) or a body (1) not sent in time, then close */
void gmq_http_timeout(gmq_conn_t *c, int body);

/* the value of a query or form parameter (query first), NULL if absent */
const char *gmq_http_param(const gmq_http_req_t *r, const char *key, size_t *len);

/* api.c: route a complete request; every path answers exactly once */
void gmq_api_dispatch(gmq_http_req_t *r);

/* url-decode (also '+' -> space) src into a new NUL-terminated string */
char *gmq_http_urldecode(const char *src, size_t len, size_t *outlen);
/* parse "a=1&b=2" into p (strings owned by p) */
void  gmq_http_params_parse(gmq_http_params_t *p, const char *s, size_t len);
void  gmq_http_params_free(gmq_http_params_t *p);

#endif

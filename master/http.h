/*
 * http.h - one parsed HTTP request as the API handlers see it: path,
 * decoded query and form parameters, raw body. Valid during dispatch only.
 */
#ifndef GMQ_HTTP_H
#define GMQ_HTTP_H

#include "master.h"

#define GMQ_HTTP_MAX_PARAMS 64

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
} gmq_http_req_t;

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

/*
 * etcdapi.h - pure helpers for etcd's v3 JSON gateway, shared by the master's
 * registration (master/etcd.c) and the client's discovery (client/): base64,
 * endpoint lists, request bodies, and parsers for range, lease and watch
 * answers (int64 fields arrive as strings; a missing field is its zero value).
 */
#ifndef GMQ_ETCDAPI_H
#define GMQ_ETCDAPI_H

#include "gmq.h"

#define GMQ_ETCDAPI_NODE_PREFIX "/gmq/node-"
#define GMQ_ETCDAPI_URL_MAX     512

/* one key/value pair of a range answer or a watch event; strings are NUL-terminated copies */
typedef struct gmq_etcdapi_kv_s {
    char    *key;
    char    *value;       /* NULL for a DELETE event or keys_only */
    size_t   value_len;
    int64_t  lease;       /* 0 = no lease */
    int64_t  mod_revision;
    int      deleted;     /* watch: 1 for a DELETE event */
} gmq_etcdapi_kv_t;

/* an ordered list of endpoint base URLs, e.g. "http://127.0.0.1:2379" (no trailing slash) */
typedef struct gmq_etcdapi_endpoints_s {
    char  **urls;
    size_t  n;
} gmq_etcdapi_endpoints_t;

/* base64 (RFC 4648, with padding). encode returns a malloc'd NUL-terminated string;
 * decode returns a malloc'd NUL-terminated copy and its length in *outlen, or NULL
 * when the input is not valid base64. */
char *gmq_etcdapi_b64_encode(const void *src, size_t n);
char *gmq_etcdapi_b64_decode(const char *src, size_t n, size_t *outlen);

/* Parse "127.0.0.1:2379, https://h:2379/" into ep (scheme http:// when omitted,
 * trailing slashes removed, empty items skipped). Returns GMQ_OK with at least one
 * URL, GMQ_ERR with err filled otherwise (empty list, bad scheme, no host).
 * gmq_etcdapi_endpoints_free(ep) releases it in either case. */
int  gmq_etcdapi_endpoints_parse(const char *list, gmq_etcdapi_endpoints_t *ep,
                                 char *err, size_t errlen);
void gmq_etcdapi_endpoints_free(gmq_etcdapi_endpoints_t *ep);

/* The range_end of a prefix: the prefix with its last byte + 1 (malloc'd). */
char *gmq_etcdapi_prefix_end(const char *prefix);

/* Request bodies (appended to out). lease/ttl 0 is left out. */
void gmq_etcdapi_body_grant(gmq_buf_t *out, int ttl);
void gmq_etcdapi_body_lease(gmq_buf_t *out, int64_t lease);          /* keepalive, revoke */
void gmq_etcdapi_body_put(gmq_buf_t *out, const char *key, const char *value,
                          size_t value_len, int64_t lease);
void gmq_etcdapi_body_range(gmq_buf_t *out, const char *key, const char *range_end);
void gmq_etcdapi_body_watch(gmq_buf_t *out, const char *key, const char *range_end,
                            int64_t start_revision);

/* The node value of /gmq/node-<id>: a JSON object, every value a string, keys sorted. */
void gmq_etcdapi_node_value(gmq_buf_t *out, int node_id, const char *tcp_addr,
                            const char *http_addr, int weight, const char *join_time,
                            const char *started_at, const char *version);

/* Parsers. Each returns GMQ_OK, or GMQ_ERR when the text is not the expected JSON
 * or is an error answer ({"error":..,"code":..}); then err (may be NULL) holds
 * etcd's message or a parse error. */
/* range: *kvs is a malloc'd array of *n entries (NULL/0 for an empty range); *revision
 * (may be NULL) gets header.revision. Free with gmq_etcdapi_kvs_free. */
int  gmq_etcdapi_parse_range(const char *json, size_t len, gmq_etcdapi_kv_t **kvs,
                             size_t *n, int64_t *revision, char *err, size_t errlen);
void gmq_etcdapi_kvs_free(gmq_etcdapi_kv_t *kvs, size_t n);
/* lease grant: ID and TTL */
int  gmq_etcdapi_parse_grant(const char *json, size_t len, int64_t *id, int64_t *ttl,
                             char *err, size_t errlen);
/* keepalive ({"result":{..}} or bare) and timetolive: *ttl = TTL, 0 when missing (lease gone) */
int  gmq_etcdapi_parse_ttl(const char *json, size_t len, int64_t *ttl,
                           char *err, size_t errlen);
/* timetolive: *ttl = the seconds left (-1 or 0 when the lease is gone), *granted = the
 * lease's TTL (0 when missing) */
int  gmq_etcdapi_parse_timetolive(const char *json, size_t len, int64_t *ttl, int64_t *granted,
                                  char *err, size_t errlen);
/* a plain answer ({header}) or an error answer */
int  gmq_etcdapi_parse_ok(const char *json, size_t len, char *err, size_t errlen);
/* one watch message (one line of the stream): *created is 1 for the creation answer,
 * *kvs and *n the events (deleted set for DELETE), *revision the header revision.
 * A "canceled" answer or an error is GMQ_ERR. */
int  gmq_etcdapi_parse_watch(const char *json, size_t len, int *created,
                             gmq_etcdapi_kv_t **kvs, size_t *n, int64_t *revision,
                             char *err, size_t errlen);

/* Split "host:port" / "[v6]:port" / ":port": host (brackets kept off) and port.
 * Returns GMQ_ERR when there is no port. The same as gmq_hostport_split
 * (common/net.h), which says every case. */
int  gmq_etcdapi_addr_split(const char *addr, char *host, size_t hostlen,
                            char *port, size_t portlen);
/* 1 if host is a wildcard that must not be advertised: "", 0.0.0.0, ::, [::], * */
int  gmq_etcdapi_host_is_wildcard(const char *host);

#endif

/*
 * etcdapi.c - pure functions for etcd's v3 JSON gateway: base64, endpoint
 * lists, request bodies and yajl_tree parsers for its answers. No I/O here;
 * master/etcd.c and client/discovery.c do the HTTP.
 */
#include "etcdapi.h"
#include "buf.h"
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

/* bytes per EVP_EncodeBlock/EVP_DecodeBlock call (their lengths are ints):
 * whole 3-byte groups in, whole 4-character groups out */
#define ETCDAPI_B64_CHUNK     ((size_t) 3 << 20)
#define ETCDAPI_B64_CHUNK_ENC (ETCDAPI_B64_CHUNK / 3 * 4)

static yajl_val etcdapi_tree(const char *json, size_t len, char *err, size_t errlen);
static int      etcdapi_check_error(yajl_val root, char *err, size_t errlen);
static int64_t  etcdapi_int(yajl_val obj, const char *name);
static yajl_val etcdapi_get(yajl_val obj, const char *name, yajl_type type);
static int      etcdapi_kv_fill(yajl_val kv, gmq_etcdapi_kv_t *out);
static void     etcdapi_set_err(char *err, size_t errlen, const char *msg);
static int      etcdapi_b64_char(unsigned char c);

char *
gmq_etcdapi_b64_encode(const void *src, size_t n)
{
    const unsigned char *s = src;
    char *out = gmq_xmalloc(4 * ((n + 2) / 3) + 1);
    size_t o = 0;

    for (size_t i = 0; i < n; i += ETCDAPI_B64_CHUNK) {
        size_t k = n - i < ETCDAPI_B64_CHUNK ? n - i : ETCDAPI_B64_CHUNK;
        o += (size_t) EVP_EncodeBlock((unsigned char *) out + o, s + i, (int) k);
    }
    out[o] = '\0';
    return out;
}

char *
gmq_etcdapi_b64_decode(const char *src, size_t n, size_t *outlen)
{
    /* EVP_DecodeBlock is lax: it decodes '=' anywhere as zero bits, trims
     * whitespace and counts the padding as output bytes. So the input is
     * checked first (alphabet only, '=' only as the last one or two bytes)
     * and the padding is taken off the length. */
    if (n % 4 != 0)
        return NULL;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) src[i];
        if (c == '=' && (i == n - 1 || (i == n - 2 && src[n - 1] == '='))) {
            pad++;
            continue;
        }
        if (pad > 0 || !etcdapi_b64_char(c))
            return NULL;
    }
    char *out = gmq_xmalloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += ETCDAPI_B64_CHUNK_ENC) {
        size_t k = n - i < ETCDAPI_B64_CHUNK_ENC ? n - i : ETCDAPI_B64_CHUNK_ENC;
        int r = EVP_DecodeBlock((unsigned char *) out + o, (const unsigned char *) src + i, (int) k);
        if (r < 0) {
            free(out);
            return NULL;
        }
        o += (size_t) r;
    }
    o -= pad;
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
}

int
gmq_etcdapi_endpoints_parse(const char *list, gmq_etcdapi_endpoints_t *ep,
                            char *err, size_t errlen)
{
    ep->urls = NULL;
    ep->n = 0;
    if (list == NULL)
        list = "";

    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        const char *s = p;
        p = end ? end + 1 : p + len;

        while (len && (*s == ' ' || *s == '\t')) { s++; len--; }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len == 0)
            continue;

        const char *scheme = "http://";
        const char *sep = NULL;
        for (size_t i = 0; i + 2 < len; i++)
            if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') { sep = s + i; break; }
        if (sep) {
            size_t sl = (size_t) (sep - s);
            if (sl == 4 && strncasecmp(s, "http", 4) == 0)
                scheme = "http://";
            else if (sl == 5 && strncasecmp(s, "https", 5) == 0)
                scheme = "https://";
            else {
                snprintf(err, errlen, "etcd endpoint %.*s: scheme must be http or https",
                         (int) len, s);
                return GMQ_ERR;
            }
            len -= (size_t) (sep + 3 - s);
            s = sep + 3;
        }
        while (len && s[len - 1] == '/')
            len--;
        if (len == 0 || s[0] == ':' || len + 8 >= GMQ_ETCDAPI_URL_MAX) {
            snprintf(err, errlen, "etcd endpoint %.*s: no host", (int) len, s);
            return GMQ_ERR;
        }
        char *url = gmq_xmalloc(strlen(scheme) + len + 1);
        sprintf(url, "%s%.*s", scheme, (int) len, s);
        ep->urls = gmq_xrealloc(ep->urls, (ep->n + 1) * sizeof(char *));
        ep->urls[ep->n++] = url;
    }
    if (ep->n == 0) {
        snprintf(err, errlen, "no etcd endpoint given");
        return GMQ_ERR;
    }
    return GMQ_OK;
}

void
gmq_etcdapi_endpoints_free(gmq_etcdapi_endpoints_t *ep)
{
    if (ep == NULL)
        return;
    for (size_t i = 0; i < ep->n; i++)
        free(ep->urls[i]);
    free(ep->urls);
    ep->urls = NULL;
    ep->n = 0;
}

char *
gmq_etcdapi_prefix_end(const char *prefix)
{
    size_t len = strlen(prefix);
    char *end = gmq_xstrdup(prefix);
    /* drop trailing 0xff bytes, then increment; an all-0xff prefix means "to the end" = "\0" */
    while (len > 0 && (unsigned char) end[len - 1] == 0xff)
        end[--len] = '\0';
    if (len == 0) {
        free(end);
        return gmq_xcalloc(1, 1);
    }
    end[len - 1] = (char) ((unsigned char) end[len - 1] + 1);
    return end;
}

void
gmq_etcdapi_body_grant(gmq_buf_t *out, int ttl)
{
    gmq_buf_printf(out, "{\"TTL\":\"%d\"}", ttl);
}

void
gmq_etcdapi_body_lease(gmq_buf_t *out, int64_t lease)
{
    gmq_buf_printf(out, "{\"ID\":\"%lld\"}", (long long) lease);
}

void
gmq_etcdapi_body_put(gmq_buf_t *out, const char *key, const char *value,
                     size_t value_len, int64_t lease)
{
    char *k = gmq_etcdapi_b64_encode(key, strlen(key));
    char *v = gmq_etcdapi_b64_encode(value, value_len);
    gmq_buf_printf(out, "{\"key\":\"%s\",\"value\":\"%s\"", k, v);
    if (lease)
        gmq_buf_printf(out, ",\"lease\":\"%lld\"", (long long) lease);
    gmq_buf_append_str(out, "}");
    free(k);
    free(v);
}

void
gmq_etcdapi_body_range(gmq_buf_t *out, const char *key, const char *range_end)
{
    char *k = gmq_etcdapi_b64_encode(key, strlen(key));
    gmq_buf_printf(out, "{\"key\":\"%s\"", k);
    if (range_end) {
        /* "\0" (empty string) means "everything from key on" */
        char *r = range_end[0] ? gmq_etcdapi_b64_encode(range_end, strlen(range_end))
                               : gmq_xstrdup("AA==");
        gmq_buf_printf(out, ",\"range_end\":\"%s\"", r);
        free(r);
    }
    gmq_buf_append_str(out, "}");
    free(k);
}

void
gmq_etcdapi_body_watch(gmq_buf_t *out, const char *key, const char *range_end,
                       int64_t start_revision)
{
    char *k = gmq_etcdapi_b64_encode(key, strlen(key));
    gmq_buf_printf(out, "{\"create_request\":{\"key\":\"%s\"", k);
    if (range_end) {
        char *r = range_end[0] ? gmq_etcdapi_b64_encode(range_end, strlen(range_end))
                               : gmq_xstrdup("AA==");
        gmq_buf_printf(out, ",\"range_end\":\"%s\"", r);
        free(r);
    }
    if (start_revision > 0)
        gmq_buf_printf(out, ",\"start_revision\":\"%lld\"", (long long) start_revision);
    gmq_buf_append_str(out, "}}");
    free(k);
}

void
gmq_etcdapi_node_value(gmq_buf_t *out, int node_id, const char *tcp_addr,
                       const char *http_addr, int weight, const char *join_time,
                       const char *started_at, const char *version)
{
    char num[32];
    gmq_buf_append_str(out, "{\"http_addr\":");
    gmq_buf_json_str(out, http_addr, strlen(http_addr));
    gmq_buf_append_str(out, ",\"join_time\":");
    gmq_buf_json_str(out, join_time, strlen(join_time));
    snprintf(num, sizeof(num), "%d", node_id);
    gmq_buf_append_str(out, ",\"node_id\":");
    gmq_buf_json_str(out, num, strlen(num));
    gmq_buf_append_str(out, ",\"started_at\":");
    gmq_buf_json_str(out, started_at, strlen(started_at));
    gmq_buf_append_str(out, ",\"tcp_addr\":");
    gmq_buf_json_str(out, tcp_addr, strlen(tcp_addr));
    gmq_buf_append_str(out, ",\"version\":");
    gmq_buf_json_str(out, version, strlen(version));
    snprintf(num, sizeof(num), "%d", weight);
    gmq_buf_append_str(out, ",\"weight\":");
    gmq_buf_json_str(out, num, strlen(num));
    gmq_buf_append_str(out, "}");
}

int
gmq_etcdapi_parse_range(const char *json, size_t len, gmq_etcdapi_kv_t **kvs,
                        size_t *n, int64_t *revision, char *err, size_t errlen)
{
    *kvs = NULL;
    *n = 0;
    yajl_val root = etcdapi_tree(json, len, err, errlen);
    if (root == NULL)
        return GMQ_ERR;
    if (etcdapi_check_error(root, err, errlen) != GMQ_OK) {
        yajl_tree_free(root);
        return GMQ_ERR;
    }
    if (revision)
        *revision = etcdapi_int(etcdapi_get(root, "header", yajl_t_object), "revision");

    yajl_val arr = etcdapi_get(root, "kvs", yajl_t_array);   /* absent on an empty range */
    if (arr && arr->u.array.len) {
        *kvs = gmq_xcalloc(arr->u.array.len, sizeof(gmq_etcdapi_kv_t));
        for (size_t i = 0; i < arr->u.array.len; i++)
            if (etcdapi_kv_fill(arr->u.array.values[i], &(*kvs)[*n]) == GMQ_OK)
                (*n)++;
        if (*n == 0) {
            free(*kvs);
            *kvs = NULL;
        }
    }
    yajl_tree_free(root);
    return GMQ_OK;
}

void
gmq_etcdapi_kvs_free(gmq_etcdapi_kv_t *kvs, size_t n)
{
    if (kvs == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(kvs[i].key);
        free(kvs[i].value);
    }
    free(kvs);
}

int
gmq_etcdapi_parse_grant(const char *json, size_t len, int64_t *id, int64_t *ttl,
                        char *err, size_t errlen)
{
    yajl_val root = etcdapi_tree(json, len, err, errlen);
    if (root == NULL)
        return GMQ_ERR;
    int rc = etcdapi_check_error(root, err, errlen);
    if (rc == GMQ_OK) {
        *id = etcdapi_int(root, "ID");
        *ttl = etcdapi_int(root, "TTL");
        if (*id == 0) {
            etcdapi_set_err(err, errlen, "lease grant answer has no ID");
            rc = GMQ_ERR;
        }
    }
    yajl_tree_free(root);
    return rc;
}

int
gmq_etcdapi_parse_ttl(const char *json, size_t len, int64_t *ttl, char *err, size_t errlen)
{
    yajl_val root = etcdapi_tree(json, len, err, errlen);
    if (root == NULL)
        return GMQ_ERR;
    int rc = etcdapi_check_error(root, err, errlen);
    if (rc == GMQ_OK) {
        yajl_val res = etcdapi_get(root, "result", yajl_t_object);
        if (res)
            rc = etcdapi_check_error(res, err, errlen);
        *ttl = etcdapi_int(res ? res : root, "TTL");   /* missing = 0: lease gone */
    }
    yajl_tree_free(root);
    return rc;
}

int
gmq_etcdapi_parse_timetolive(const char *json, size_t len, int64_t *ttl, int64_t *granted,
                             char *err, size_t errlen)
{
    *ttl = *granted = 0;
    yajl_val root = etcdapi_tree(json, len, err, errlen);
    if (root == NULL)
        return GMQ_ERR;
    int rc = etcdapi_check_error(root, err, errlen);
    if (rc == GMQ_OK) {
        *ttl = etcdapi_int(root, "TTL");
        *granted = etcdapi_int(root, "grantedTTL");
    }
    yajl_tree_free(root);
    return rc;
}

int
gmq_etcdapi_parse_ok(const char *json, size_t len, char *err, size_t errlen)
{
    yajl_val root = etcdapi_tree(json, len, err, errlen);
    if (root == NULL)
        return GMQ_ERR;
    int rc = etcdapi_check_error(root, err, errlen);
    yajl_tree_free(root);
    return rc;
}

int
gmq_etcdapi_parse_watch(const char *json, size_t len, int *created,
                        gmq_etcdapi_kv_t **kvs, size_t *n, int64_t *revision,
                        char *err, size_t errlen)
{
    *created = 0;
    *kvs = NULL;
    *n = 0;
    if (revision)
        *revision = 0;
    yajl_val root = etcdapi_tree(json, len, err, errlen);
    if (root == NULL)
        return GMQ_ERR;
    if (etcdapi_check_error(root, err, errlen) != GMQ_OK) {
        yajl_tree_free(root);
        return GMQ_ERR;
    }
    yajl_val res = etcdapi_get(root, "result", yajl_t_object);
    if (res == NULL)
        res = root;
    if (etcdapi_check_error(res, err, errlen) != GMQ_OK) {
        yajl_tree_free(root);
        return GMQ_ERR;
    }
    yajl_val canceled = etcdapi_get(res, "canceled", yajl_t_true);
    if (canceled) {
        yajl_val reason = etcdapi_get(res, "cancel_reason", yajl_t_string);
        etcdapi_set_err(err, errlen, reason ? reason->u.string : "watch canceled");
        yajl_tree_free(root);
        return GMQ_ERR;
    }
    if (etcdapi_get(res, "created", yajl_t_true))
        *created = 1;
    if (revision)
        *revision = etcdapi_int(etcdapi_get(res, "header", yajl_t_object), "revision");

    yajl_val evs = etcdapi_get(res, "events", yajl_t_array);
    if (evs && evs->u.array.len) {
        *kvs = gmq_xcalloc(evs->u.array.len, sizeof(gmq_etcdapi_kv_t));
        for (size_t i = 0; i < evs->u.array.len; i++) {
            yajl_val ev = evs->u.array.values[i];
            yajl_val type = etcdapi_get(ev, "type", yajl_t_string);
            gmq_etcdapi_kv_t *kv = &(*kvs)[*n];
            if (etcdapi_kv_fill(etcdapi_get(ev, "kv", yajl_t_object), kv) != GMQ_OK)
                continue;
            if (type && strcmp(type->u.string, "DELETE") == 0) {
                kv->deleted = 1;
                free(kv->value);
                kv->value = NULL;
                kv->value_len = 0;
            }
            (*n)++;
        }
        if (*n == 0) {
            free(*kvs);
            *kvs = NULL;
        }
    }
    yajl_tree_free(root);
    return GMQ_OK;
}

int
gmq_etcdapi_addr_split(const char *addr, char *host, size_t hostlen,
                       char *port, size_t portlen)
{
    return gmq_hostport_split(addr, host, hostlen, port, portlen);
}

int
gmq_etcdapi_host_is_wildcard(const char *host)
{
    return host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
           strcmp(host, "[::]") == 0 || strcmp(host, "*") == 0;
}

/* ---- static helpers ---- */

static yajl_val
etcdapi_tree(const char *json, size_t len, char *err, size_t errlen)
{
    char ebuf[256];
    char *copy = gmq_xstrndup(json, len);
    yajl_val root = yajl_tree_parse(copy, ebuf, sizeof(ebuf));
    free(copy);
    if (root == NULL) {
        char *nl = strchr(ebuf, '\n');
        if (nl)
            *nl = '\0';
        if (err && errlen)
            snprintf(err, errlen, "bad JSON from etcd: %s", ebuf[0] ? ebuf : "parse error");
        return NULL;
    }
    if (!YAJL_IS_OBJECT(root)) {
        etcdapi_set_err(err, errlen, "bad JSON from etcd: not an object");
        yajl_tree_free(root);
        return NULL;
    }
    return root;
}

/* {"error":"...","message":"...","code":5} (also inside "result" for streams) */
static int
etcdapi_check_error(yajl_val root, char *err, size_t errlen)
{
    yajl_val e = etcdapi_get(root, "error", yajl_t_any);
    if (e == NULL)
        return GMQ_OK;
    yajl_val msg = etcdapi_get(root, "message", yajl_t_string);
    if (msg == NULL && YAJL_IS_STRING(e))
        msg = e;
    if (msg == NULL && YAJL_IS_OBJECT(e))
        msg = etcdapi_get(e, "message", yajl_t_string);
    etcdapi_set_err(err, errlen, msg ? msg->u.string : "etcd error");
    return GMQ_ERR;
}

static yajl_val
etcdapi_get(yajl_val obj, const char *name, yajl_type type)
{
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], name) == 0) {
            yajl_val v = obj->u.object.values[i];
            return type == yajl_t_any || v->type == type ? v : NULL;
        }
    return NULL;
}

/* int64 fields come as strings ("123"); accept bare numbers too; missing = 0 */
static int64_t
etcdapi_int(yajl_val obj, const char *name)
{
    yajl_val v = etcdapi_get(obj, name, yajl_t_any);
    if (v == NULL)
        return 0;
    if (YAJL_IS_STRING(v))
        return strtoll(v->u.string, NULL, 10);
    if (YAJL_IS_INTEGER(v))
        return v->u.number.i;
    return 0;
}

static int
etcdapi_kv_fill(yajl_val kv, gmq_etcdapi_kv_t *out)
{
    memset(out, 0, sizeof(*out));
    yajl_val k = etcdapi_get(kv, "key", yajl_t_string);
    if (k == NULL)
        return GMQ_ERR;
    out->key = gmq_etcdapi_b64_decode(k->u.string, strlen(k->u.string), NULL);
    if (out->key == NULL)
        return GMQ_ERR;
    yajl_val v = etcdapi_get(kv, "value", yajl_t_string);
    if (v) {
        out->value = gmq_etcdapi_b64_decode(v->u.string, strlen(v->u.string), &out->value_len);
        if (out->value == NULL) {
            free(out->key);
            out->key = NULL;
            return GMQ_ERR;
        }
    }
    out->lease = etcdapi_int(kv, "lease");
    out->mod_revision = etcdapi_int(kv, "mod_revision");
    return GMQ_OK;
}

static void
etcdapi_set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* 1 for the 64 characters of the base64 alphabet ('=' is not one) */
static int
etcdapi_b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/*
 * http.c - HTTP/1.1 on client connections: libhttp-parser drives the
 * parsing (resumable, one request at a time so replies keep their order),
 * keep-alive, limits on head and body size, and the response writers.
 */
#include "http.h"
#include "conn.h"
#include "master.h"
#include "web.h"
#include "common/log.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int http_on_message_begin(http_parser *p);
static int http_on_url(http_parser *p, const char *at, size_t len);
static int http_on_header_field(http_parser *p, const char *at, size_t len);
static int http_on_header_value(http_parser *p, const char *at, size_t len);
static int http_on_headers_complete(http_parser *p);
static int http_on_body(http_parser *p, const char *at, size_t len);
static int http_on_message_complete(http_parser *p);
static void http_header_done(gmq_http_state_t *h);
static int  http_header_is(const gmq_http_state_t *h, const char *name);
static size_t http_header_keep(const gmq_http_state_t *h, char *dst, size_t cap);
static void http_dispatch(gmq_conn_t *c);
static void http_multipart(gmq_http_params_t *form, const char *ctype, const char *body, size_t len);

static const http_parser_settings http_settings = {
    .on_message_begin = http_on_message_begin,
    .on_url = http_on_url,
    .on_header_field = http_on_header_field,
    .on_header_value = http_on_header_value,
    .on_headers_complete = http_on_headers_complete,
    .on_body = http_on_body,
    .on_message_complete = http_on_message_complete,
};

void
gmq_http_conn_init(gmq_conn_t *c)
{
    gmq_http_state_t *h = &c->u.http;
    memset(h, 0, sizeof(*h));
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = c;
}

void
gmq_http_conn_free(gmq_conn_t *c)
{
    gmq_http_state_t *h = &c->u.http;
    gmq_buf_free(&h->url);
    gmq_buf_free(&h->body);
    gmq_buf_free(&h->hfield);
    gmq_buf_free(&h->hvalue);
}

void
gmq_http_on_data(gmq_conn_t *c)
{
    gmq_http_state_t *h = &c->u.http;
    h->in_parse = 1;
    while (!c->dead && !c->closing && !h->complete && gmq_buf_used(&c->in) > 0) {
        size_t n = http_parser_execute(&h->parser, &http_settings, gmq_buf_rptr(&c->in),
                                       gmq_buf_used(&c->in));
        gmq_buf_consume(&c->in, n);
        enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&h->parser, 0);
            http_dispatch(c);
            continue;
        }
        if (h->too_large) {
            gmq_http_error(c, h->too_large, h->too_large == 431 ? "request head too large: max_header"
                                                            : "request body too large: max_body");
            break;
        }
        if (e != HPE_OK) {
            char msg[160];
            snprintf(msg, sizeof(msg), "bad request: %s", http_errno_description(e));
            gmq_http_error(c, 400, msg);
            break;
        }
        if (n == 0)
            break;
    }
    h->in_parse = 0;
}

/* ---- parser callbacks ---- */

static int
http_on_message_begin(http_parser *p)
{
    gmq_conn_t *c = p->data;
    gmq_http_state_t *h = &c->u.http;
    gmq_buf_reset(&h->url);
    gmq_buf_reset(&h->body);
    gmq_buf_reset(&h->hfield);
    gmq_buf_reset(&h->hvalue);
    h->content_type[0] = '\0';
    h->authorization[0] = '\0';
    h->authorization_len = 0;
    h->accept_raw = 0;
    h->host[0] = h->origin[0] = h->if_none_match[0] = h->fetch_site[0] = '\0';
    h->host_len = h->origin_len = 0;
    h->head_started_ms = gmq_mono_ms();
    h->in_value = 0;
    h->head_bytes = 0;
    h->too_large = 0;
    return 0;
}

static int
http_head_grow(gmq_conn_t *c, size_t len)
{
    gmq_http_state_t *h = &c->u.http;
    h->head_bytes += len;
    if (h->head_bytes > (uint64_t) c->m->cfg.max_header) {
        h->too_large = 431;
        return 1;
    }
    return 0;
}

static int
http_on_url(http_parser *p, const char *at, size_t len)
{
    gmq_conn_t *c = p->data;
    if (http_head_grow(c, len))
        return 1;
    gmq_buf_append(&c->u.http.url, at, len);
    return 0;
}

static int
http_on_header_field(http_parser *p, const char *at, size_t len)
{
    gmq_conn_t *c = p->data;
    gmq_http_state_t *h = &c->u.http;
    if (http_head_grow(c, len))
        return 1;
    if (h->in_value) {
        http_header_done(h);
        h->in_value = 0;
    }
    gmq_buf_append(&h->hfield, at, len);
    return 0;
}

static int
http_on_header_value(http_parser *p, const char *at, size_t len)
{
    gmq_conn_t *c = p->data;
    gmq_http_state_t *h = &c->u.http;
    if (http_head_grow(c, len))
        return 1;
    h->in_value = 1;
    gmq_buf_append(&h->hvalue, at, len);
    return 0;
}

/* the headers we keep; the others are skipped */
static void
http_header_done(gmq_http_state_t *h)
{
    if (http_header_is(h, "content-type")) {
        http_header_keep(h, h->content_type, sizeof(h->content_type));
    } else if (http_header_is(h, "authorization")) {
        size_t n = http_header_keep(h, h->authorization, sizeof(h->authorization));
        h->authorization_len = n < sizeof(h->authorization) ? n : sizeof(h->authorization) - 1;
    } else if (http_header_is(h, "host")) {
        h->host_len = http_header_keep(h, h->host, sizeof(h->host));
    } else if (http_header_is(h, "origin")) {
        h->origin_len = http_header_keep(h, h->origin, sizeof(h->origin));
    } else if (http_header_is(h, "if-none-match")) {
        http_header_keep(h, h->if_none_match, sizeof(h->if_none_match));
    } else if (http_header_is(h, "sec-fetch-site")) {
        http_header_keep(h, h->fetch_site, sizeof(h->fetch_site));
    } else if (http_header_is(h, "accept")) {
        gmq_buf_append(&h->hvalue, "", 1);
        h->accept_raw |= strcasestr(h->hvalue.data, "application/octet-stream") != NULL;
    }
    gmq_buf_reset(&h->hfield);
    gmq_buf_reset(&h->hvalue);
}

static int
http_header_is(const gmq_http_state_t *h, const char *name)
{
    size_t n = strlen(name);
    return h->hfield.len == n && strncasecmp(h->hfield.data, name, n) == 0;
}

/* the value of the header just read into dst, cut to cap - 1 bytes and
 * NUL-terminated; returns its whole length */
static size_t
http_header_keep(const gmq_http_state_t *h, char *dst, size_t cap)
{
    size_t n = h->hvalue.len < cap - 1 ? h->hvalue.len : cap - 1;
    if (n > 0)
        memcpy(dst, h->hvalue.data, n);
    dst[n] = '\0';
    return h->hvalue.len;
}

static int
http_on_headers_complete(http_parser *p)
{
    gmq_conn_t *c = p->data;
    gmq_http_state_t *h = &c->u.http;
    if (h->in_value)
        http_header_done(h);
    h->in_value = 0;
    h->head_started_ms = 0;
    h->body_started_ms = gmq_mono_ms();
    /* url-encoding can triple a body; leave room for the JSON envelope */
    uint64_t limit = (uint64_t) c->m->cfg.max_body * 3 + 65536;
    if (p->content_length != ULLONG_MAX && p->content_length > limit) {
        h->too_large = 413;
        return -1;
    }
    return 0;
}

static int
http_on_body(http_parser *p, const char *at, size_t len)
{
    gmq_conn_t *c = p->data;
    gmq_http_state_t *h = &c->u.http;
    if (h->body.len + len > (size_t) c->m->cfg.max_body * 3 + 65536) {
        h->too_large = 413;
        return 1;
    }
    gmq_buf_append(&h->body, at, len);
    return 0;
}

static int
http_on_message_complete(http_parser *p)
{
    gmq_conn_t *c = p->data;
    c->u.http.body_started_ms = 0;
    c->u.http.keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

/* ---- dispatch and responses ---- */

static void
http_dispatch(gmq_conn_t *c)
{
    gmq_http_state_t *h = &c->u.http;
    struct http_parser_url u;
    gmq_http_req_t r;
    memset(&r, 0, sizeof(r));
    h->complete = 1;
    gmq_buf_append(&h->url, "", 1);      /* NUL-terminate */
    http_parser_url_init(&u);
    if (http_parser_parse_url(h->url.data, h->url.len - 1, 0, &u) != 0) {
        gmq_http_error(c, 400, "bad request: malformed URL");
        return;
    }
    r.conn = c;
    r.method = h->parser.method;
    size_t plen = 1;
    if (u.field_set & (1 << UF_PATH))
        r.path = gmq_http_urldecode(h->url.data + u.field_data[UF_PATH].off,
                                    u.field_data[UF_PATH].len, &plen);
    else
        r.path = gmq_xstrdup("/");
    if (memchr(r.path, '\0', plen) != NULL) {
        free(r.path);
        gmq_http_error(c, 400, "bad request: NUL byte in the path");
        return;
    }
    if (u.field_set & (1 << UF_QUERY))
        gmq_http_params_parse(&r.query, h->url.data + u.field_data[UF_QUERY].off,
                              u.field_data[UF_QUERY].len);
    r.body = h->body.data ? h->body.data : "";
    r.body_len = h->body.len;
    r.content_type = h->content_type;
    r.accept_raw = h->accept_raw;
    if (strncasecmp(h->content_type, "application/x-www-form-urlencoded", 33) == 0)
        gmq_http_params_parse(&r.form, r.body, r.body_len);
    else if (strncasecmp(h->content_type, "multipart/form-data", 19) == 0)
        http_multipart(&r.form, h->content_type, r.body, r.body_len);
    r.host = h->host;
    r.host_len = h->host_len;
    r.origin = h->origin;
    r.origin_len = h->origin_len;
    r.if_none_match = h->if_none_match;
    r.fetch_site = h->fetch_site;
    char why[2 * GMQ_HTTP_HDR_MAX + 128];
    if (gmq_web_check_origin(&r, why, sizeof(why)) != GMQ_OK) {
        gmq_log_info("connection %llu: %s", (unsigned long long) c->id, why);
        gmq_http_error(c, 403, why);
        goto done;
    }
    /* the page's own files hold no data: served without a token, so it can ask for one */
    if (!c->authed && strcmp(r.path, "/ping") != 0 && !gmq_web_is_page(r.path)) {
        const char *a = h->authorization;
        if (h->authorization_len < 7 || strncasecmp(a, "Bearer ", 7) != 0 ||
            !gmq_master_token_ok(c->m, a + 7, h->authorization_len - 7)) {
            h->keep_alive = 0;
            gmq_log_info("connection %llu: HTTP request without a valid token refused",
                         (unsigned long long) c->id);
            static const char body[] = "{\"code\":1,\"data\":null,\"msg\":\"E_AUTH - missing or wrong "
                                       "token: send Authorization: Bearer <auth_token>\"}\n";
            gmq_http_respond(c, 401, "application/json", body, sizeof(body) - 1);
            goto done;
        }
    }
    gmq_api_dispatch(&r);
done:
    free(r.path);
    gmq_http_params_free(&r.query);
    gmq_http_params_free(&r.form);
}

void
gmq_http_respond(gmq_conn_t *c, int status, const char *ctype, const char *body, size_t len)
{
    gmq_http_respond_hdrs(c, status, ctype, NULL, body, len);
}

void
gmq_http_respond_hdrs(gmq_conn_t *c, int status, const char *ctype, const char *hdrs,
                      const char *body, size_t len)
{
    gmq_http_state_t *h = &c->u.http;
    const char *reason = status == 200 ? "OK" : status == 204 ? "No Content" : status == 400 ? "Bad Request"
                       : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
                       : status == 413 ? "Payload Too Large" : status == 431 ? "Request Header Fields Too Large"
                       : status == 503 ? "Service Unavailable" : status == 401 ? "Unauthorized"
                       : status == 408 ? "Request Timeout" : status == 304 ? "Not Modified"
                       : status == 403 ? "Forbidden" : "Error";
    if (c->dead)
        return;
    gmq_buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", status, reason);
    if (ctype != NULL)
        gmq_buf_printf(&c->out, "Content-Type: %s\r\n", ctype);
    if (status != 304 && status != 204)
        gmq_buf_printf(&c->out, "Content-Length: %zu\r\n", len);
    gmq_buf_append_str(&c->out, hdrs != NULL ? hdrs : "Cache-Control: no-store\r\n");
    gmq_buf_printf(&c->out, "Connection: %s\r\n\r\n", h->keep_alive ? "keep-alive" : "close");
    if (status != 304 && status != 204 && h->parser.method != HTTP_HEAD)
        gmq_buf_append(&c->out, body, len);
    if (!h->keep_alive)
        c->closing = 1;
    h->complete = 0;
    gmq_conn_schedule(c);
    /* a reply that came later (from a worker): what the client pipelined
     * meanwhile is parsed at the end of this iteration, never from here */
    if (!h->in_parse && !c->closing && gmq_buf_used(&c->in) > 0)
        gmq_conn_resume(c);
}

void
gmq_http_respond_json(gmq_conn_t *c, int code, const char *data, size_t dlen, const char *msg)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_printf(&b, "{\"code\":%d,\"data\":", code);
    if (data != NULL && dlen > 0)
        gmq_buf_append(&b, data, dlen);
    else
        gmq_buf_append_str(&b, "null");
    gmq_buf_append_str(&b, ",\"msg\":");
    gmq_buf_json_str(&b, msg, strlen(msg));
    gmq_buf_append_str(&b, "}\n");
    gmq_http_respond(c, 200, "application/json", b.data, b.len);
    gmq_buf_free(&b);
}

void
gmq_http_error(gmq_conn_t *c, int status, const char *msg)
{
    c->u.http.head_started_ms = c->u.http.body_started_ms = 0;
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_append_str(&b, "{\"code\":1,\"data\":null,\"msg\":");
    gmq_buf_json_str(&b, msg, strlen(msg));
    gmq_buf_append_str(&b, "}\n");
    c->u.http.keep_alive = 0;
    c->u.http.complete = 1;
    gmq_http_respond(c, status, "application/json", b.data, b.len);
    gmq_buf_free(&b);
}

/* ---- parameters ---- */

static int
http_hex(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

char *
gmq_http_urldecode(const char *src, size_t len, size_t *outlen)
{
    char *out = gmq_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '+') {
            out[o++] = ' ';
        } else if (src[i] == '%' && i + 2 < len &&
                   http_hex(src[i + 1]) >= 0 && http_hex(src[i + 2]) >= 0) {
            out[o++] = (char) (http_hex(src[i + 1]) * 16 + http_hex(src[i + 2]));
            i += 2;
        } else {
            out[o++] = src[i];
        }
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
}

void
gmq_http_params_parse(gmq_http_params_t *p, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && p->n < GMQ_HTTP_MAX_PARAMS) {
        size_t j = i;
        while (j < len && s[j] != '&')
            j++;
        size_t eq = i;
        while (eq < j && s[eq] != '=')
            eq++;
        if (j > i) {
            p->key[p->n] = gmq_http_urldecode(s + i, eq - i, NULL);
            if (eq < j)
                p->val[p->n] = gmq_http_urldecode(s + eq + 1, j - eq - 1, &p->vlen[p->n]);
            else
                p->val[p->n] = gmq_http_urldecode("", 0, &p->vlen[p->n]);
            p->n++;
        }
        i = j + 1;
    }
}

void
gmq_http_params_free(gmq_http_params_t *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->key[i]);
        free(p->val[i]);
    }
    p->n = 0;
}

const char *
gmq_http_param(const gmq_http_req_t *r, const char *key, size_t *len)
{
    const gmq_http_params_t *ps[2] = { &r->query, &r->form };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < ps[k]->n; i++)
            if (strcmp(ps[k]->key[i], key) == 0) {
                if (len)
                    *len = ps[k]->vlen[i];
                return ps[k]->val[i];
            }
    return NULL;
}

/* multipart/form-data: each part's name= and its raw value */
static void
http_multipart(gmq_http_params_t *form, const char *ctype, const char *body, size_t len)
{
    const char *b = strcasestr(ctype, "boundary=");
    if (b == NULL)
        return;
    b += 9;
    char delim[200];
    size_t bl = strcspn(b, "; ");
    if (bl > 0 && b[0] == '"') {
        b++;
        bl = strcspn(b, "\"");
    }
    if (bl == 0 || bl + 4 >= sizeof(delim))
        return;
    int dl = snprintf(delim, sizeof(delim), "--%.*s", (int) bl, b);
    const char *end = body + len;
    const char *p = memmem(body, len, delim, (size_t) dl);
    while (p != NULL && form->n < GMQ_HTTP_MAX_PARAMS) {
        p += dl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break;
        const char *hend = memmem(p, (size_t) (end - p), "\r\n\r\n", 4);
        if (hend == NULL)
            break;
        const char *next = memmem(hend + 4, (size_t) (end - hend - 4), delim, (size_t) dl);
        if (next == NULL)
            break;
        const char *name = memmem(p, (size_t) (hend - p), "name=\"", 6);
        if (name != NULL) {
            name += 6;
            const char *q = memchr(name, '"', (size_t) (hend - name));
            if (q != NULL) {
                const char *v = hend + 4;
                size_t vl = (size_t) (next - v);
                if (vl >= 2 && v[vl - 2] == '\r' && v[vl - 1] == '\n')
                    vl -= 2;
                form->key[form->n] = gmq_xstrndup(name, (size_t) (q - name));
                form->val[form->n] = gmq_xstrndup(v, vl);
                form->vlen[form->n] = vl;
                form->n++;
            }
        }
        p = next;
    }
}

void
gmq_http_timeout(gmq_conn_t *c, int body)
{
    c->u.http.head_started_ms = c->u.http.body_started_ms = 0;
    gmq_http_error(c, 408, body ? "request body not complete within body_timeout"
                                : "request head not complete within header_timeout");
}

/*
 * web.c - owns what the node tells browsers: the admin page's files
 * (embedded at build time from web/ into build/gen/web_files.h, each with an
 * ETag made from its SHA-256), their security headers, and the same-origin
 * rule checked before any request on the HTTP port is served.
 */
#include "web.h"

#include "web_files.h"   /* generated: web_index_html[] ..., WEB_ETAG_* */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WEB_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
                "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " \
                "base-uri 'none'; form-action 'self'"
/* every file: revalidate each time (the ETag makes that a 304), nothing from elsewhere */
#define WEB_HEADERS "Cache-Control: no-cache\r\n" \
                    "Content-Security-Policy: " WEB_CSP "\r\n" \
                    "X-Content-Type-Options: nosniff\r\n" \
                    "X-Frame-Options: DENY\r\n" \
                    "Referrer-Policy: no-referrer\r\n"

typedef struct {
    const char *path;
    const char *type;
    const char *body;
    size_t      len;
    const char *etag;      /* quoted, as sent */
} web_file_t;

static const web_file_t web_files[] = {
    { "/",           "text/html; charset=utf-8", web_index_html, sizeof(web_index_html) - 1,
      WEB_ETAG_INDEX_HTML },
    { "/index.html", "text/html; charset=utf-8", web_index_html, sizeof(web_index_html) - 1,
      WEB_ETAG_INDEX_HTML },
    { "/app.css",    "text/css; charset=utf-8", web_app_css, sizeof(web_app_css) - 1,
      WEB_ETAG_APP_CSS },
    { "/app.js",     "text/javascript; charset=utf-8", web_app_js, sizeof(web_app_js) - 1,
      WEB_ETAG_APP_JS },
    { "/dom.js",     "text/javascript; charset=utf-8", web_dom_js, sizeof(web_dom_js) - 1,
      WEB_ETAG_DOM_JS },
    { "/state.js",   "text/javascript; charset=utf-8", web_state_js, sizeof(web_state_js) - 1,
      WEB_ETAG_STATE_JS },
    { "/api.js",     "text/javascript; charset=utf-8", web_api_js, sizeof(web_api_js) - 1,
      WEB_ETAG_API_JS },
    { "/views.js",   "text/javascript; charset=utf-8", web_views_js, sizeof(web_views_js) - 1,
      WEB_ETAG_VIEWS_JS },
    { "/actions.js", "text/javascript; charset=utf-8", web_actions_js, sizeof(web_actions_js) - 1,
      WEB_ETAG_ACTIONS_JS },
};

static const web_file_t *web_find(const char *path);
static int  web_etag_matches(const char *if_none_match, const char *etag);
static int  web_origin_ok(const gmq_http_req_t *r, char *why, size_t whylen);
static int  web_hostport(const char *s, size_t n, int default_port, char *host, size_t hostlen,
                         unsigned *port);
static size_t web_trim(const char *s, size_t n);

/* ---- public ---- */

int
gmq_web_is_page(const char *path)
{
    return web_find(path) != NULL;
}

int
gmq_web_serve(gmq_http_req_t *r)
{
    const web_file_t *f = web_find(r->path);
    if (f == NULL)
        return GMQ_AGAIN;
    char hdrs[sizeof(WEB_HEADERS) + 128];
    if (r->method != HTTP_GET && r->method != HTTP_HEAD) {
        static const char body[] = "{\"code\":1,\"data\":null,\"msg\":\"method not allowed: the "
                                   "page is read with GET\"}\n";
        gmq_http_respond_hdrs(r->conn, 405, "application/json",
                              "Allow: GET, HEAD\r\nCache-Control: no-store\r\n", body,
                              sizeof(body) - 1);
        return GMQ_OK;
    }
    snprintf(hdrs, sizeof(hdrs), "ETag: %s\r\n%s", f->etag, WEB_HEADERS);
    if (web_etag_matches(r->if_none_match, f->etag))
        gmq_http_respond_hdrs(r->conn, 304, NULL, hdrs, "", 0);
    else
        gmq_http_respond_hdrs(r->conn, 200, f->type, hdrs, f->body, f->len);
    return GMQ_OK;
}

int
gmq_web_check_origin(const gmq_http_req_t *r, char *why, size_t whylen)
{
    if (r->origin_len > 0 && web_origin_ok(r, why, whylen) != GMQ_OK)
        return GMQ_ERR;
    /* no Origin on a cross-site <img>, <form method=get> or link: the browser
     * still says where the request comes from */
    const char *fs = r->fetch_site ? r->fetch_site : "";
    if ((strcasecmp(fs, "cross-site") == 0 || strcasecmp(fs, "same-site") == 0) &&
        !gmq_web_is_page(r->path)) {
        snprintf(why, whylen, "cross-origin request refused: Sec-Fetch-Site is %s (only the "
                 "node's own page may call the API from a browser)", fs);
        return GMQ_ERR;
    }
    return GMQ_OK;
}

/* ---- static helpers ---- */

static const web_file_t *
web_find(const char *path)
{
    for (size_t i = 0; i < GMQ_ARRAY_LEN(web_files); i++)
        if (strcmp(path, web_files[i].path) == 0)
            return &web_files[i];
    return NULL;
}

/* If-None-Match: "*", or a list of (possibly weak, W/"...") tags */
static int
web_etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL || inm[0] == '\0')
        return 0;
    size_t n = web_trim(inm, strlen(inm));
    if (n == 1 && inm[0] == '*')
        return 1;
    return strstr(inm, etag) != NULL;
}

/* Origin "scheme://host[:port]" against Host "host[:port]": same host
 * (case-insensitive) and port, a missing port in either being the default of
 * the Origin's scheme. A browser builds both from the page's URL; the scheme
 * is not compared, so a TLS proxy that keeps the Host header works. */
static int
web_origin_ok(const gmq_http_req_t *r, char *why, size_t whylen)
{
    char ohost[GMQ_HTTP_HDR_MAX], hhost[GMQ_HTTP_HDR_MAX];
    unsigned oport = 0, hport = 0;
    const char *o = r->origin;
    size_t on = web_trim(o, r->origin_len < GMQ_HTTP_HDR_MAX ? r->origin_len : 0);
    size_t hn = web_trim(r->host, r->host_len < GMQ_HTTP_HDR_MAX ? r->host_len : 0);
    int ok = 0;
    size_t skip = 0;
    int def = 0;
    if (on > 7 && strncasecmp(o, "http://", 7) == 0) {
        skip = 7;
        def = 80;
    } else if (on > 8 && strncasecmp(o, "https://", 8) == 0) {
        skip = 8;
        def = 443;
    }
    if (skip > 0 && memchr(o + skip, '/', on - skip) == NULL &&
        web_hostport(o + skip, on - skip, def, ohost, sizeof(ohost), &oport) == GMQ_OK &&
        web_hostport(r->host, hn, def, hhost, sizeof(hhost), &hport) == GMQ_OK)
        ok = oport == hport && strcasecmp(ohost, hhost) == 0;
    if (ok)
        return GMQ_OK;
    snprintf(why, whylen, "cross-origin request refused: Origin %.*s does not match Host %.*s",
             (int) (on ? on : 6), on ? o : "(long)", (int) (hn ? hn : 6), hn ? r->host : "(none)");
    return GMQ_ERR;
}

/* "host", "host:port", "[v6]" or "[v6]:port" into host (brackets kept) and port */
static int
web_hostport(const char *s, size_t n, int default_port, char *host, size_t hostlen,
             unsigned *port)
{
    size_t hend = n;
    const char *colon = NULL;
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (rb == NULL)
            return GMQ_ERR;
        hend = (size_t) (rb - s) + 1;
        if (hend < n) {
            if (s[hend] != ':')
                return GMQ_ERR;
            colon = s + hend;
        }
    } else {
        colon = memrchr(s, ':', n);
        if (colon != NULL)
            hend = (size_t) (colon - s);
    }
    if (hend == 0 || hend >= hostlen)
        return GMQ_ERR;
    uint64_t p = (uint64_t) default_port;
    if (colon != NULL) {
        size_t pl = n - (size_t) (colon + 1 - s);
        if (gmq_parse_u64(colon + 1, pl, 65535, &p) != GMQ_OK)
            return GMQ_ERR;
    }
    memcpy(host, s, hend);
    host[hend] = '\0';
    *port = (unsigned) p;
    return GMQ_OK;
}

/* the length of s[0..n) without trailing blanks */
static size_t
web_trim(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

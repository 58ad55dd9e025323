/*
 * web.h - the web admin page (web/index.html, app.css, app.js and the
 * modules it imports, embedded at build time) served on the HTTP port, and
 * the same-origin rule that keeps other web sites from using a browser to
 * send requests to the node.
 */
#ifndef GMQ_WEB_H
#define GMQ_WEB_H

#include "http.h"

/* 1 if path names one of the page's files ("/", "/index.html", "/app.css",
 * "/app.js", "/dom.js", ...): they hold no data and are served without a token */
int gmq_web_is_page(const char *path);

/* Answer r when its path is one of the page's files (GET or HEAD; another
 * method is 405) with its type, ETag (304 to a matching If-None-Match),
 * Cache-Control: no-cache, the Content-Security-Policy and nosniff, and
 * return GMQ_OK; GMQ_AGAIN (nothing answered) for any other path. */
int gmq_web_serve(gmq_http_req_t *r);

/* The same-origin rule, for every request on the HTTP port: GMQ_OK, or
 * GMQ_ERR with why filled (the caller answers 403) when the request carries
 * an Origin header whose host and port are not those of its Host header,
 * or (API paths only) Sec-Fetch-Site "cross-site" or "same-site". Clients
 * that are not browsers send neither header and are not affected. */
int gmq_web_check_origin(const gmq_http_req_t *r, char *why, size_t whylen);

#endif

/*
 * fuzz_http.c - the HTTP request path of the master: libhttp-parser and our
 * callbacks and request assembly (master/http.c: headers kept, limits,
 * keep-alive, pipelining resumed at the end of the iteration, url and
 * multipart parameters), the API handlers' parameter checks and the JSON
 * push parser (master/api.c, master/ops.c), the admin page and the
 * same-origin rule (master/web.c), /metrics, /node, /debug/... The input
 * (after a byte of limits and a byte of seed) is what one client sends,
 * delivered in reads of random sizes; the node has no worker, so every
 * topic request ends in its validation or its "cannot start" answer.
 * What the node writes must be a sequence of whole HTTP/1.1 responses.
 */
#include "fuzz.h"
#include "fuzz_conn.h"

#include <stdlib.h>

static void http_check_responses(const char *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    uint8_t sel = fuzz_u8(&in);
    uint64_t seed = fuzz_u8(&in) * 0x9e3779b97f4a7c15ULL + 3;
    fuzz_conn_limits_t lim = {
        .max_header = (sel & 1) ? 1024 : 16 * 1024,
        .max_body = (sel & 2) ? 64 : 1024 * 1024,
        .max_line = 4096,
        .max_mpub = 1000,
        .auth = (sel & 4) != 0,
    };
    gmq_master_t *m = fuzz_conn_master(&lim);
    gmq_buf_t out;
    gmq_buf_init(&out);
    fuzz_conn_run(m, GMQ_PROTO_HTTP, (const char *) in.p, in.n, seed, &out);
    http_check_responses(out.data, out.len);
    gmq_buf_free(&out);
    return 0;
}

/* "HTTP/1.1 NNN reason\r\n", headers with a Content-Length (but for 304),
 * "\r\n\r\n", then that many bytes, or none after a HEAD request (seen as
 * the next response starting right there) */
static void
http_check_responses(const char *p, size_t n)
{
    if (n == 0)
        return;
    const char *end = p + n;
    while (p < end) {
        FUZZ_CHECK(end - p >= 12 && memcmp(p, "HTTP/1.1 ", 9) == 0);
        int status = atoi(p + 9);
        FUZZ_CHECK(status >= 200 && status <= 599);
        const char *hend = memmem(p, (size_t) (end - p), "\r\n\r\n", 4);
        FUZZ_CHECK(hend != NULL);
        hend += 4;
        const char *cl = memmem(p, (size_t) (hend - p), "\r\nContent-Length: ", 18);
        if (status == 304) {
            FUZZ_CHECK(cl == NULL);
            p = hend;
            continue;
        }
        FUZZ_CHECK(cl != NULL);
        size_t len = strtoul(cl + 18, NULL, 10), rest = (size_t) (end - hend);
        if (rest >= len && (rest == len || (rest - len >= 9 && memcmp(hend + len, "HTTP/1.1 ", 9) == 0))) {
            p = hend + len;
            continue;
        }
        /* a HEAD response: no body follows */
        FUZZ_CHECK(rest == 0 || (rest >= 9 && memcmp(hend, "HTTP/1.1 ", 9) == 0));
        p = hend;
    }
}

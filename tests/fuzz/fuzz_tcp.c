/*
 * fuzz_tcp.c - the client protocol codec (proto/tcp.c). The input is a
 * byte stream a client might send (after two bytes choosing the limits and
 * the split seed). It is parsed once whole and once fed in random splits,
 * as reads deliver it; both must give the same events. Every event's
 * pointers must lie in the bytes it consumed; each command re-encoded with
 * the client encoder parses back to itself; each error's reply frame
 * decodes back; and the stream is also read as reply frames (client side).
 */
#include "fuzz.h"
#include "proto/tcp.h"

static const size_t   tcp_lines[4]  = { 16, 64, 300, 4096 };
static const size_t   tcp_bodies[4] = { 0, 8, 1000, 1 << 20 };
static const uint32_t tcp_mpubs[4]  = { 1, 2, 7, 1000 };

static void tcp_trace_event(gmq_buf_t *t, const char *base, size_t used, const gmq_tcp_event_t *ev);
static void tcp_roundtrip(const gmq_tcp_limits_t *lim, const gmq_tcp_event_t *ev);
static void tcp_error_frame(const gmq_tcp_event_t *ev);
static void tcp_client_side(const char *p, size_t n, size_t max_len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    uint8_t sel = fuzz_u8(&in);
    uint64_t seed = fuzz_u8(&in) * 0x9e3779b97f4a7c15ULL + 1;
    gmq_tcp_limits_t lim = {
        .max_line = tcp_lines[sel & 3],
        .max_body = tcp_bodies[(sel >> 2) & 3],
        .max_mpub = tcp_mpubs[(sel >> 4) & 3],
    };
    const char *s = (const char *) in.p;
    size_t n = in.n;

    /* whole: every event of the stream, and what was left unconsumed */
    gmq_buf_t whole, split, acc;
    gmq_buf_init(&whole);
    gmq_buf_init(&split);
    gmq_buf_init(&acc);
    gmq_tcp_parser_t p;
    gmq_tcp_event_t ev;
    gmq_tcp_parser_init(&p, &lim);
    size_t off = 0, used;
    int rc;
    while ((rc = gmq_tcp_parse(&p, s + off, n - off, &used, &ev)) == GMQ_OK) {
        /* a fatal error consumes nothing: the stream ends there */
        FUZZ_CHECK(used <= n - off && (used > 0 || (ev.type == GMQ_TCP_EV_ERROR && ev.fatal)));
        tcp_trace_event(&whole, s + off, used, &ev);
        if (ev.type == GMQ_TCP_EV_CMD)
            tcp_roundtrip(&lim, &ev);
        else if (ev.type == GMQ_TCP_EV_ERROR)
            tcp_error_frame(&ev);
        off += used;
    }
    FUZZ_CHECK(used == 0);
    gmq_buf_printf(&whole, "end %d rest %zu\n", rc, n - off);

    /* split: the same bytes as reads deliver them, parsed as master/tcp.c does */
    gmq_tcp_parser_init(&p, &lim);
    size_t fed = 0;
    rc = GMQ_AGAIN;
    while (rc == GMQ_AGAIN && fed < n) {
        uint64_t r = fuzz_rand(&seed);
        size_t chunk = (r & 3) == 0 ? 1 + (r >> 8) % 4 : 1 + (r >> 8) % 64;
        if (chunk > n - fed)
            chunk = n - fed;
        gmq_buf_append(&acc, s + fed, chunk);
        fed += chunk;
        while ((rc = gmq_tcp_parse(&p, gmq_buf_rptr(&acc), gmq_buf_used(&acc), &used, &ev)) == GMQ_OK) {
            tcp_trace_event(&split, gmq_buf_rptr(&acc), used, &ev);
            gmq_buf_consume(&acc, used);
        }
    }
    if (rc == GMQ_AGAIN)        /* (an empty buffer has no data pointer yet) */
        rc = gmq_tcp_parse(&p, acc.data ? gmq_buf_rptr(&acc) : "", gmq_buf_used(&acc), &used, &ev);
    FUZZ_CHECK(rc != GMQ_OK);
    gmq_buf_printf(&split, "end %d rest %zu\n", rc, gmq_buf_used(&acc) + (n - fed));
    if (whole.len != split.len || memcmp(whole.data, split.data, whole.len) != 0) {
        fprintf(stderr, "parsed whole:\n%.*s\nparsed in splits:\n%.*s\n", (int) whole.len,
                whole.data, (int) split.len, split.data);
        FUZZ_CHECK(!"the events depend on how the stream was split");
    }

    tcp_client_side(s, n, (sel & 0x40) ? 64 : 1 << 20);
    gmq_buf_free(&whole);
    gmq_buf_free(&split);
    gmq_buf_free(&acc);
    return 0;
}

/* a range inside the consumed bytes, written to the trace by offset */
static void
tcp_trace_range(gmq_buf_t *t, const char *base, size_t used, const char *p, size_t len)
{
    FUZZ_CHECK(len == 0 || (p >= base && p + len <= base + used));
    gmq_buf_printf(t, " %zu:", len);
    gmq_buf_append(t, p, len);
}

static void
tcp_trace_event(gmq_buf_t *t, const char *base, size_t used, const gmq_tcp_event_t *ev)
{
    gmq_buf_printf(t, "ev %d cmd %d used %zu", ev->type, ev->cmd, used);
    switch (ev->type) {
    case GMQ_TCP_EV_CMD:
        FUZZ_CHECK(ev->cmd > GMQ_TCP_CMD_NONE && ev->cmd < GMQ_TCP_CMD__COUNT);
        FUZZ_CHECK(ev->argc >= 0);
        gmq_buf_printf(t, " argc %d", ev->argc);
        for (int i = 0; i < ev->argc && i < GMQ_TCP_MAX_ARGS; i++) {
            tcp_trace_range(t, base, used, ev->argv[i].p, ev->argv[i].len);
            FUZZ_CHECK(memchr(ev->argv[i].p, ' ', ev->argv[i].len) == NULL);
            FUZZ_CHECK(memchr(ev->argv[i].p, '\n', ev->argv[i].len) == NULL);
        }
        if (ev->argc >= 2)
            FUZZ_CHECK(ev->tail.p == ev->argv[1].p);
        tcp_trace_range(t, base, used, ev->tail.p, ev->tail.len);
        if (ev->cmd == GMQ_TCP_CMD_MPUB)
            FUZZ_CHECK(ev->nbodies >= 1 && !ev->has_body);
        gmq_buf_printf(t, " n %u body %d", ev->nbodies, ev->has_body);
        if (ev->has_body)
            tcp_trace_range(t, base, used, ev->body, ev->body_len);
        break;
    case GMQ_TCP_EV_BODY:
        FUZZ_CHECK(ev->cmd == GMQ_TCP_CMD_MPUB && ev->has_body);
        gmq_buf_printf(t, " index %u", ev->index);
        tcp_trace_range(t, base, used, ev->body, ev->body_len);
        FUZZ_CHECK(used == GMQ_TCP_BODY_HDR + ev->body_len);
        break;
    case GMQ_TCP_EV_ERROR:
        FUZZ_CHECK(ev->ecode > GMQ_E_NONE && ev->ecode < GMQ_E__COUNT);
        FUZZ_CHECK(memchr(ev->msg, '\0', sizeof(ev->msg)) != NULL);
        gmq_buf_printf(t, " ecode %d fatal %d msg %s", ev->ecode, ev->fatal, ev->msg);
        break;
    default:
        FUZZ_CHECK(!"unknown event type");
    }
    gmq_buf_append(t, "\n", 1);
}

/* the client encoder's line (and body) for a parsed command parses back to it */
static void
tcp_roundtrip(const gmq_tcp_limits_t *lim, const gmq_tcp_event_t *ev)
{
    if (ev->argc > GMQ_TCP_MAX_ARGS)
        return;
    /* a last token ending in \r cannot be sent: the \r before \n is dropped */
    if (ev->argc > 0) {
        const gmq_tcp_str_t *last = &ev->argv[ev->argc - 1];
        if (last->len > 0 && last->p[last->len - 1] == '\r')
            return;
    }
    char *args[GMQ_TCP_MAX_ARGS];
    for (int i = 0; i < ev->argc; i++)
        args[i] = strndup(ev->argv[i].p, ev->argv[i].len);
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_tcp_put_cmd(&b, ev->cmd, ev->argc, (const char *const *) args);
    if (ev->has_body)
        gmq_tcp_put_body(&b, ev->body, ev->body_len);
    gmq_tcp_parser_t p;
    gmq_tcp_event_t back;
    size_t used;
    gmq_tcp_parser_init(&p, lim);
    int rc = gmq_tcp_parse(&p, b.data, b.len, &used, &back);
    /* the name and the first token come back; a longer line may break max_line
     * only if the original did not (the encoder adds no bytes) */
    FUZZ_CHECK(rc == GMQ_OK && used == b.len && back.type == GMQ_TCP_EV_CMD);
    FUZZ_CHECK(back.cmd == ev->cmd && back.argc == ev->argc && back.has_body == ev->has_body);
    for (int i = 0; i < ev->argc; i++)
        FUZZ_CHECK(back.argv[i].len == ev->argv[i].len &&
                   memcmp(back.argv[i].p, ev->argv[i].p, ev->argv[i].len) == 0);
    FUZZ_CHECK(back.tail.len == ev->tail.len && memcmp(back.tail.p, ev->tail.p, ev->tail.len) == 0);
    if (ev->has_body)
        FUZZ_CHECK(back.body_len == ev->body_len && memcmp(back.body, ev->body, ev->body_len) == 0);
    FUZZ_CHECK(back.nbodies == ev->nbodies);
    for (int i = 0; i < ev->argc; i++)
        free(args[i]);
    gmq_buf_free(&b);
}

/* the 102 frame answering a protocol error decodes to "E_NAME - text" */
static void
tcp_error_frame(const gmq_tcp_event_t *ev)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_tcp_put_error(&b, ev->ecode, "%s", ev->msg);
    uint16_t type;
    const char *d;
    uint32_t dlen;
    size_t used;
    FUZZ_CHECK(gmq_tcp_frame_decode(b.data, b.len, 1 << 20, &type, &d, &dlen, &used) == GMQ_OK);
    FUZZ_CHECK(type == GMQ_TCP_ERROR && used == b.len);
    const char *name = gmq_ecode_name(ev->ecode);
    size_t nl = strlen(name), ml = strlen(ev->msg);
    FUZZ_CHECK(dlen == nl + 3 + ml && memcmp(d, name, nl) == 0 && memcmp(d + nl, " - ", 3) == 0 &&
               memcmp(d + nl + 3, ev->msg, ml) == 0);
    gmq_buf_free(&b);
}

/* the same bytes read as reply frames, as gmq-bench and gmqctl do */
static void
tcp_client_side(const char *p, size_t n, size_t max_len)
{
    size_t off = 0, used;
    uint16_t type;
    const char *d;
    uint32_t dlen;
    while (gmq_tcp_frame_decode(p + off, n - off, max_len, &type, &d, &dlen, &used) == GMQ_OK) {
        FUZZ_CHECK(type >= GMQ_TCP_MESSAGE && type <= GMQ_TCP_RAW && dlen <= max_len);
        FUZZ_CHECK(used == GMQ_TCP_FRAME_HDR + dlen && used <= n - off && d == p + off + GMQ_TCP_FRAME_HDR);
        off += used;
    }
}

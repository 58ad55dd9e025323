/*
 * tcp.c - the client protocol codec: the resumable request parser (command
 * lines, the bodies after pub/publish/mpub, the protocol errors found on the
 * way), the reply frame encoder, and the client side's request encoder and
 * reply frame decoder. Pure functions over buffers: no I/O here.
 */
#include "tcp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TCP_TLS_HANDSHAKE 0x16   /* first byte of a TLS record carrying a ClientHello */
#define TCP_NAME_SHOWN    64     /* bytes of an unknown command name echoed back */

static const char *const tcp_cmd_names[GMQ_TCP_CMD__COUNT] = {
    [GMQ_TCP_CMD_NONE]        = "",
    [GMQ_TCP_CMD_PUB]         = "pub",
    [GMQ_TCP_CMD_MPUB]        = "mpub",
    [GMQ_TCP_CMD_POP]         = "pop",
    [GMQ_TCP_CMD_ACK]         = "ack",
    [GMQ_TCP_CMD_DEAD]        = "dead",
    [GMQ_TCP_CMD_SET]         = "set",
    [GMQ_TCP_CMD_QUEUE]       = "queue",
    [GMQ_TCP_CMD_REQUEUE]     = "requeue",
    [GMQ_TCP_CMD_SUBSCRIBE]   = "subscribe",
    [GMQ_TCP_CMD_UNSUBSCRIBE] = "unsubscribe",
    [GMQ_TCP_CMD_PUBLISH]     = "publish",
    [GMQ_TCP_CMD_PING]        = "ping",
    [GMQ_TCP_CMD_AUTH]        = "auth",
    [GMQ_TCP_CMD_PURGE]       = "purge",
    [GMQ_TCP_CMD_DELQUEUE]    = "delqueue",
    [GMQ_TCP_CMD_DELTOPIC]    = "deltopic",
    [GMQ_TCP_CMD_PEEK]        = "peek",
    [GMQ_TCP_CMD_DEADLIST]    = "deadlist",
    [GMQ_TCP_CMD_KICK]        = "kick",
    [GMQ_TCP_CMD_TOUCH]       = "touch",
    [GMQ_TCP_CMD_RELEASE]     = "release",
    [GMQ_TCP_CMD_STATS]       = "stats",
};

static int  tcp_parse_line(gmq_tcp_parser_t *p, const char *buf, size_t len, size_t *used,
                           gmq_tcp_event_t *ev);
static int  tcp_parse_mpub_body(gmq_tcp_parser_t *p, const char *buf, size_t len, size_t *used,
                                gmq_tcp_event_t *ev);
static int  tcp_take_body(const char *buf, size_t len, uint64_t limit, const char **body,
                          uint32_t *blen);
static int  tcp_too_large(gmq_tcp_parser_t *p, gmq_tcp_event_t *ev, uint32_t blen);
static void tcp_split(const char *line, size_t len, gmq_tcp_event_t *ev);
static int  tcp_count(const gmq_tcp_str_t *s, uint32_t max, uint32_t *out);
static int  tcp_error(gmq_tcp_parser_t *p, gmq_tcp_event_t *ev, int fatal, gmq_ecode_t code,
                      const char *fmt, ...) GMQ_PRINTF(5, 6);

const char *
gmq_tcp_cmd_name(gmq_tcp_cmd_t cmd)
{
    if ((int) cmd <= GMQ_TCP_CMD_NONE || cmd >= GMQ_TCP_CMD__COUNT)
        return "";
    return tcp_cmd_names[cmd];
}

gmq_tcp_cmd_t
gmq_tcp_cmd_find(const char *s, size_t len)
{
    for (int i = GMQ_TCP_CMD_NONE + 1; i < GMQ_TCP_CMD__COUNT; i++)
        if (strlen(tcp_cmd_names[i]) == len && memcmp(tcp_cmd_names[i], s, len) == 0)
            return (gmq_tcp_cmd_t) i;
    return GMQ_TCP_CMD_NONE;
}

void
gmq_tcp_parser_init(gmq_tcp_parser_t *p, const gmq_tcp_limits_t *lim)
{
    memset(p, 0, sizeof(*p));
    p->lim = *lim;
}

int
gmq_tcp_parse(gmq_tcp_parser_t *p, const char *buf, size_t len, size_t *used,
              gmq_tcp_event_t *ev)
{
    *used = 0;
    if (p->broken)
        return GMQ_ERR;
    if (len == 0)
        return GMQ_AGAIN;
    if (!p->started) {
        p->started = 1;
        if ((unsigned char) buf[0] == TCP_TLS_HANDSHAKE) {
            memset(ev, 0, sizeof(*ev));
            return tcp_error(p, ev, 1, GMQ_E_INVALID_CMD, "TLS handshake on a plain-text port");
        }
    }
    if (p->bodies_left > 0)
        return tcp_parse_mpub_body(p, buf, len, used, ev);
    return tcp_parse_line(p, buf, len, used, ev);
}

/* ---- replies (node side) ---- */

void
gmq_tcp_put_frame(gmq_buf_t *b, uint16_t type, const void *data, size_t len)
{
    gmq_buf_put_u16(b, type);
    gmq_buf_put_u32(b, (uint32_t) len);
    gmq_buf_append(b, data, len);
}

void
gmq_tcp_put_raw(gmq_buf_t *b, uint64_t id, uint32_t retry, const void *body, size_t len)
{
    gmq_buf_put_u16(b, GMQ_TCP_RAW);
    gmq_buf_put_u32(b, (uint32_t) (GMQ_TCP_RAW_HDR + len));
    gmq_buf_put_u64(b, id);
    gmq_buf_put_u32(b, retry);
    gmq_buf_append(b, body, len);
}

void
gmq_tcp_put_error(gmq_buf_t *b, int ecode, const char *fmt, ...)
{
    const char *name = gmq_ecode_name(ecode);
    size_t nlen = strlen(name);
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        n = 0;
    gmq_buf_put_u16(b, GMQ_TCP_ERROR);
    gmq_buf_put_u32(b, (uint32_t) (nlen + 3 + (size_t) n));
    gmq_buf_append(b, name, nlen);
    gmq_buf_append(b, " - ", 3);
    char *w = gmq_buf_reserve(b, (size_t) n + 1);
    vsnprintf(w, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

/* ---- client side ---- */

void
gmq_tcp_put_cmd(gmq_buf_t *b, gmq_tcp_cmd_t cmd, int argc, const char *const *argv)
{
    gmq_buf_append_str(b, gmq_tcp_cmd_name(cmd));
    for (int i = 0; i < argc; i++) {
        gmq_buf_append(b, " ", 1);
        gmq_buf_append_str(b, argv[i]);
    }
    gmq_buf_append(b, "\n", 1);
}

void
gmq_tcp_put_body(gmq_buf_t *b, const void *p, size_t len)
{
    gmq_buf_put_u32(b, (uint32_t) len);
    gmq_buf_append(b, p, len);
}

int
gmq_tcp_frame_decode(const char *buf, size_t len, size_t max_len, uint16_t *type,
                     const char **data, uint32_t *dlen, size_t *used)
{
    if (len < GMQ_TCP_FRAME_HDR)
        return GMQ_AGAIN;
    uint16_t t = gmq_get_u16(buf);
    uint32_t n = gmq_get_u32(buf + 2);
    if (t < GMQ_TCP_MESSAGE || t > GMQ_TCP_RAW || n > max_len)
        return GMQ_ERR;
    if (len - GMQ_TCP_FRAME_HDR < n)
        return GMQ_AGAIN;
    *type = t;
    *data = buf + GMQ_TCP_FRAME_HDR;
    *dlen = n;
    *used = GMQ_TCP_FRAME_HDR + (size_t) n;
    return GMQ_OK;
}

int
gmq_tcp_raw_decode(const char *data, size_t len, uint64_t *id, uint32_t *retry,
                   const char **body, size_t *blen)
{
    if (len < GMQ_TCP_RAW_HDR)
        return GMQ_ERR;
    *id = gmq_get_u64(data);
    *retry = gmq_get_u32(data + 8);
    *body = data + GMQ_TCP_RAW_HDR;
    *blen = len - GMQ_TCP_RAW_HDR;
    return GMQ_OK;
}

/* ---- static helpers ---- */

/* a command line, and for pub/publish the body after it */
static int
tcp_parse_line(gmq_tcp_parser_t *p, const char *buf, size_t len, size_t *used,
               gmq_tcp_event_t *ev)
{
    /* bytes before p->scanned were searched by an earlier call (no \n, no NUL) */
    size_t from = p->scanned <= len ? p->scanned : 0;
    const char *nl = memchr(buf + from, '\n', len - from);
    size_t end = nl ? (size_t) (nl - buf) : len;
    /* a NUL past max_line + 1 bytes is not looked for: such a line is too
     * long whatever it holds, and which error is answered must not depend
     * on how the reads split the stream */
    size_t nul_end = end < p->lim.max_line + 1 ? end : p->lim.max_line + 1;
    if (nul_end > from && memchr(buf + from, '\0', nul_end - from) != NULL) {
        memset(ev, 0, sizeof(*ev));
        return tcp_error(p, ev, 1, GMQ_E_INVALID_PARAMS, "NUL byte in command line");
    }
    /* a trailing \r is not part of the line; without a \n yet it may be the
     * start of the \r\n, so it is not counted either */
    size_t linelen = end > 0 && buf[end - 1] == '\r' ? end - 1 : end;
    if (linelen > p->lim.max_line) {
        memset(ev, 0, sizeof(*ev));
        return tcp_error(p, ev, 1, GMQ_E_TOO_LARGE, "command line longer than max_line (%zu bytes)",
                         p->lim.max_line);
    }
    if (nl == NULL) {
        p->scanned = len;
        return GMQ_AGAIN;
    }
    p->scanned = end;       /* a call that waits for the body finds the \n at once */

    memset(ev, 0, sizeof(*ev));
    if (linelen == 0) {
        *used = end + 1;
        p->scanned = 0;
        return tcp_error(p, ev, 0, GMQ_E_INVALID_CMD, "empty command line");
    }
    const char *sp = memchr(buf, ' ', linelen);
    size_t nlen = sp ? (size_t) (sp - buf) : linelen;
    ev->cmd = gmq_tcp_cmd_find(buf, nlen);
    tcp_split(buf, linelen, ev);
    if (ev->cmd == GMQ_TCP_CMD_NONE) {
        *used = end + 1;
        p->scanned = 0;
        return tcp_error(p, ev, 0, GMQ_E_INVALID_CMD, "unknown cmd: %.*s",
                         (int) (nlen < TCP_NAME_SHOWN ? nlen : TCP_NAME_SHOWN), buf);
    }
    if (ev->cmd == GMQ_TCP_CMD_MPUB) {
        uint32_t n;
        if (ev->argc != 2 || tcp_count(&ev->argv[1], p->lim.max_mpub, &n) != GMQ_OK)
            /* the number of bodies that follow is unknown: the stream cannot be resynced */
            return tcp_error(p, ev, 1, GMQ_E_INVALID_PUSHNUM,
                             "mpub <topic> <num>: num must be between 1 and %u (max_mpub)",
                             p->lim.max_mpub);
        ev->nbodies = n;
        p->bodies_left = n;
        p->body_index = 0;
    } else if (ev->cmd == GMQ_TCP_CMD_PUB ||
               (ev->cmd == GMQ_TCP_CMD_PUBLISH && ev->argc < 2)) {
        /* (publish with the message on the line is gmq-client's old form: no body) */
        const char *body = NULL;
        uint32_t blen = 0;
        int rc = tcp_take_body(buf + end + 1, len - end - 1, p->lim.max_body, &body, &blen);
        if (rc == GMQ_AGAIN)
            return GMQ_AGAIN;
        if (rc == GMQ_ERR)
            return tcp_too_large(p, ev, blen);
        ev->body = body;
        ev->body_len = blen;
        ev->has_body = 1;
        end += GMQ_TCP_BODY_HDR + (size_t) blen;
    }
    ev->type = GMQ_TCP_EV_CMD;
    *used = end + 1;
    p->scanned = 0;
    return GMQ_OK;
}

/* the next body of an mpub */
static int
tcp_parse_mpub_body(gmq_tcp_parser_t *p, const char *buf, size_t len, size_t *used,
                    gmq_tcp_event_t *ev)
{
    const char *body = NULL;
    uint32_t blen = 0;
    int rc = tcp_take_body(buf, len, (uint64_t) p->lim.max_body + GMQ_TCP_MPUB_ENVELOPE, &body, &blen);
    if (rc == GMQ_AGAIN)
        return GMQ_AGAIN;
    memset(ev, 0, sizeof(*ev));
    ev->cmd = GMQ_TCP_CMD_MPUB;
    if (rc == GMQ_ERR)
        return tcp_error(p, ev, 1, GMQ_E_TOO_LARGE, "mpub item of %u bytes is larger than "
                         "max_body + %d (%zu)", blen, GMQ_TCP_MPUB_ENVELOPE,
                         p->lim.max_body + GMQ_TCP_MPUB_ENVELOPE);
    ev->type = GMQ_TCP_EV_BODY;
    ev->index = p->body_index++;
    ev->body = body;
    ev->body_len = blen;
    ev->has_body = 1;
    p->bodies_left--;
    *used = GMQ_TCP_BODY_HDR + (size_t) blen;
    return GMQ_OK;
}

/*
 * A body at buf: u32 BE length and the bytes. GMQ_OK with *body and *blen
 * once complete, GMQ_AGAIN before, GMQ_ERR (*blen set) as soon as the
 * length is known to be over limit.
 */
static int
tcp_take_body(const char *buf, size_t len, uint64_t limit, const char **body, uint32_t *blen)
{
    if (len < GMQ_TCP_BODY_HDR)
        return GMQ_AGAIN;
    *blen = gmq_get_u32(buf);
    if (*blen > limit)
        return GMQ_ERR;
    if (len - GMQ_TCP_BODY_HDR < *blen)
        return GMQ_AGAIN;
    *body = buf + GMQ_TCP_BODY_HDR;
    return GMQ_OK;
}

/* a body over its limit: fatal (the connection is closed rather than reading it to skip it) */
static int
tcp_too_large(gmq_tcp_parser_t *p, gmq_tcp_event_t *ev, uint32_t blen)
{
    return tcp_error(p, ev, 1, GMQ_E_TOO_LARGE, "body of %u bytes is larger than max_body (%zu)",
                     blen, p->lim.max_body);
}

/* the tokens after the command name, split on every single space (empty ones kept) */
static void
tcp_split(const char *line, size_t len, gmq_tcp_event_t *ev)
{
    const char *end = line + len;
    const char *s = memchr(line, ' ', len);
    ev->argc = 0;
    ev->tail.p = end;
    ev->tail.len = 0;
    while (s != NULL) {
        s++;
        const char *sp = memchr(s, ' ', (size_t) (end - s));
        size_t tlen = (size_t) ((sp ? sp : end) - s);
        if (ev->argc < GMQ_TCP_MAX_ARGS) {
            ev->argv[ev->argc].p = s;
            ev->argv[ev->argc].len = tlen;
        }
        if (++ev->argc == 2) {
            ev->tail.p = s;
            ev->tail.len = (size_t) (end - s);
        }
        s = sp;
    }
}

/* decimal digits only, 1..max */
static int
tcp_count(const gmq_tcp_str_t *s, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (s->len == 0)
        return GMQ_ERR;
    for (size_t i = 0; i < s->len; i++) {
        if (s->p[i] < '0' || s->p[i] > '9')
            return GMQ_ERR;
        v = v * 10 + (uint64_t) (s->p[i] - '0');
        if (v > max)
            return GMQ_ERR;
    }
    if (v < 1)
        return GMQ_ERR;
    *out = (uint32_t) v;
    return GMQ_OK;
}

/* fills the ERROR fields of ev (the caller cleared it); a fatal one breaks the parser */
static int
tcp_error(gmq_tcp_parser_t *p, gmq_tcp_event_t *ev, int fatal, gmq_ecode_t code,
          const char *fmt, ...)
{
    va_list ap;
    ev->type = GMQ_TCP_EV_ERROR;
    ev->ecode = code;
    ev->fatal = fatal;
    va_start(ap, fmt);
    vsnprintf(ev->msg, sizeof(ev->msg), fmt, ap);
    va_end(ap);
    if (fatal)
        p->broken = 1;
    return GMQ_OK;
}

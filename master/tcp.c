/*
 * tcp.c - the gmq v2 TCP protocol on client connections: command lines
 * `cmd arg ...\n`, binary bodies after pub/mpub/publish, and response
 * frames [u16 type][u32 len][data]. Commands dispatch through a table.
 */
#include "master.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TCP_RESP_MESSAGE 101
#define TCP_RESP_ERROR   102
#define TCP_RESP_RESULT  103
#define TCP_RESP_CHANNEL 104
#define TCP_RESP_PING    105

#define TCP_MAX_TOKENS 16

typedef void (*tcp_cmd_fn)(gmq_conn_t *c, int argc, char **argv);

typedef struct {
    const char *name;
    tcp_cmd_fn  fn;
} tcp_cmd_t;

static void tcp_cmd_ping(gmq_conn_t *c, int argc, char **argv);
static void tcp_frame(gmq_conn_t *c, uint16_t type, const char *data, size_t len);
static void tcp_error(gmq_conn_t *c, int fatal, int code, const char *fmt, ...) GMQ_PRINTF(4, 5);

static const tcp_cmd_t tcp_cmds[] = {
    { "ping", tcp_cmd_ping },
};

void
gmq_tcp_conn_init(gmq_conn_t *c)
{
    memset(&c->u.tcp, 0, sizeof(c->u.tcp));
    gmq_list_init(&c->u.tcp.slots);
}

void
gmq_tcp_conn_free(gmq_conn_t *c)
{
    gmq_buf_free(&c->u.tcp.line);
}

void
gmq_tcp_on_data(gmq_conn_t *c)
{
    while (!c->dead && !c->closing && gmq_buf_used(&c->in) > 0) {
        char *p = gmq_buf_rptr(&c->in);
        size_t avail = gmq_buf_used(&c->in);
        char *nl = memchr(p, '\n', avail);
        if (nl == NULL) {
            if (avail > (size_t) c->m->cfg.max_line)
                tcp_error(c, 1, GMQ_E_TOO_LARGE, "command line longer than max_line (%d)",
                          c->m->cfg.max_line);
            return;
        }
        size_t len = (size_t) (nl - p);
        if (len > (size_t) c->m->cfg.max_line) {
            tcp_error(c, 1, GMQ_E_TOO_LARGE, "command line longer than max_line (%d)",
                      c->m->cfg.max_line);
            return;
        }
        if (len > 0 && p[len - 1] == '\r')
            len--;
        char *line = gmq_xstrndup(p, len);
        gmq_buf_consume(&c->in, (size_t) (nl - p) + 1);
        char *argv[TCP_MAX_TOKENS];
        int argc = 0;
        char *s = line;
        for (;;) {
            char *sp = strchr(s, ' ');
            if (argc < TCP_MAX_TOKENS)
                argv[argc++] = s;
            if (sp == NULL)
                break;
            *sp = '\0';
            s = sp + 1;
        }
        if (len == 0) {
            tcp_error(c, 0, GMQ_E_INVALID_CMD, "empty command");
        } else {
            size_t i;
            for (i = 0; i < GMQ_ARRAY_LEN(tcp_cmds); i++)
                if (strcmp(argv[0], tcp_cmds[i].name) == 0)
                    break;
            if (i < GMQ_ARRAY_LEN(tcp_cmds))
                tcp_cmds[i].fn(c, argc - 1, argv + 1);
            else
                tcp_error(c, 0, GMQ_E_INVALID_CMD, "unknown cmd: %.64s", argv[0]);
        }
        free(line);
    }
}

static void
tcp_cmd_ping(gmq_conn_t *c, int argc, char **argv)
{
    (void) argc; (void) argv;
    tcp_frame(c, TCP_RESP_RESULT, "pong", 4);
}

static void
tcp_frame(gmq_conn_t *c, uint16_t type, const char *data, size_t len)
{
    gmq_buf_put_u16(&c->out, type);
    gmq_buf_put_u32(&c->out, (uint32_t) len);
    gmq_buf_append(&c->out, data, len);
    gmq_conn_flush(c);
}

static void
tcp_error(gmq_conn_t *c, int fatal, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n = snprintf(msg, sizeof(msg), "%s - ", gmq_ecode_name(code));
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t) n, fmt, ap);
    va_end(ap);
    if (fatal)
        c->closing = 1;
    tcp_frame(c, TCP_RESP_ERROR, msg, strlen(msg));
}

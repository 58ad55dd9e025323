/*
 * tcp.c - the gmq v2 TCP protocol on client connections: command lines
 * `cmd arg ...\n`, u32-length bodies after pub/mpub/publish (always read
 * before any error is answered, so the stream never desyncs), and response
 * frames [u16 type][u32 len][data] sent in command order.
 */
#include "master.h"
#include "chan.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#define TCP_RESP_MESSAGE 101
#define TCP_RESP_ERROR   102
#define TCP_RESP_RESULT  103
#define TCP_RESP_CHANNEL 104
#define TCP_RESP_PING    105

#define TCP_HEARTBEAT_S  5.0
#define TCP_MAX_WAIT_S   86400

typedef struct tcp_resp_s {
    gmq_list_t link;          /* in c->u.tcp.resps */
    uint64_t   slot;
    int        done;
    int        fatal;         /* close the connection once sent */
    int        waiting;       /* a pop waiting at a worker */
    gmq_buf_t  frame;
    /* mpub */
    uint32_t   pending, nids, total;
    uint64_t  *ids;
    char       err[GMQ_ERRMSG_MAX + 64];
} tcp_resp_t;

typedef void (*tcp_cmd_fn)(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);

typedef struct {
    const char *name;
    int         bodies;       /* 0 none, 1 one body, 2 mpub: argv[1] bodies */
    tcp_cmd_fn  fn;
} tcp_cmd_t;

static void cmd_pub(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_mpub(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_pop(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_dead(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_ack(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_set(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_queue(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_requeue(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_subscribe(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_unsubscribe(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_publish(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_ping(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);
static void cmd_auth(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv);

static const tcp_cmd_t tcp_cmds[] = {
    { "pub",         1, cmd_pub },
    { "mpub",        2, cmd_mpub },
    { "pop",         0, cmd_pop },
    { "ack",         0, cmd_ack },
    { "dead",        0, cmd_dead },
    { "set",         0, cmd_set },
    { "queue",       0, cmd_queue },
    { "requeue",     0, cmd_requeue },
    { "subscribe",   0, cmd_subscribe },
    { "unsubscribe", 0, cmd_unsubscribe },
    { "publish",     1, cmd_publish },
    { "ping",        0, cmd_ping },
    { "auth",        0, cmd_auth },
};

static const tcp_cmd_t *tcp_find(const char *name);
static tcp_resp_t *tcp_resp_new(gmq_conn_t *c);
static void tcp_resp_free(tcp_resp_t *r);
static void tcp_finish(gmq_conn_t *c, tcp_resp_t *r, uint16_t type, const char *data, size_t len);
static void tcp_fail(gmq_conn_t *c, tcp_resp_t *r, int fatal, int code, const char *fmt, ...)
    GMQ_PRINTF(5, 6);
static void tcp_flush(gmq_conn_t *c);
static void tcp_dispatch(gmq_conn_t *c, const tcp_cmd_t *cmd);
static void tcp_reset_cmd(gmq_conn_t *c);
static void tcp_on_heartbeat(struct ev_loop *loop, ev_timer *t, int revents);
static void tcp_on_reply(gmq_req_t *req, const gmq_ipc_reply_t *r, const gmq_error_t *err);
static void tcp_on_mpub_reply(gmq_req_t *req, const gmq_ipc_reply_t *r, const gmq_error_t *err);

void
gmq_tcp_conn_init(gmq_conn_t *c)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    memset(t, 0, sizeof(*t));
    gmq_list_init(&t->resps);
    gmq_list_init(&t->subs);
    gmq_buf_init(&t->bodies);
    ev_timer_init(&t->heartbeat, tcp_on_heartbeat, TCP_HEARTBEAT_S, TCP_HEARTBEAT_S);
    t->heartbeat.data = c;
}

void
gmq_tcp_conn_free(gmq_conn_t *c)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    ev_timer_stop(c->m->loop, &t->heartbeat);
    gmq_chan_drop_conn(c->m, c);
    while (!gmq_list_empty(&t->resps)) {
        tcp_resp_t *r = container_of(t->resps.next, tcp_resp_t, link);
        gmq_list_remove(&r->link);
        tcp_resp_free(r);
    }
    tcp_reset_cmd(c);
    gmq_buf_free(&t->bodies);
}

void
gmq_tcp_idle_close(gmq_conn_t *c)
{
    tcp_fail(c, tcp_resp_new(c), 1, GMQ_E_LIMIT, "idle for %d s (idle_timeout)", c->m->cfg.idle_timeout);
}

void
gmq_tcp_on_data(gmq_conn_t *c)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    gmq_master_t *m = c->m;
    if (t->next_slot == 0 && t->state == 0 && c->ssl == NULL && gmq_buf_used(&c->in) > 0 &&
        gmq_buf_rptr(&c->in)[0] == 0x16) {
        /* a TLS ClientHello on the plain-text port */
        tcp_fail(c, tcp_resp_new(c), 1, GMQ_E_INVALID_CMD, "TLS handshake on a plain-text port");
        return;
    }
    while (!c->dead && !c->closing && !t->broken && gmq_buf_used(&c->in) > 0) {
        if (t->state == 1) {
            /* bodies: u32 BE length + bytes, each */
            if (gmq_buf_used(&c->in) < 4)
                return;
            uint32_t len = gmq_get_u32(gmq_buf_rptr(&c->in));
            uint64_t limit = (uint64_t) m->cfg.max_body + (tcp_find(t->argv[0])->bodies == 2 ? 4096 : 0);
            if (len > limit) {
                tcp_fail(c, tcp_resp_new(c), 1, GMQ_E_TOO_LARGE,
                         "body of %u bytes is larger than max_body (%ld)", len, m->cfg.max_body);
                tcp_reset_cmd(c);
                return;
            }
            if (gmq_buf_used(&c->in) < 4 + (size_t) len)
                return;
            gmq_buf_append(&t->bodies, gmq_buf_rptr(&c->in), 4 + (size_t) len);
            gmq_buf_consume(&c->in, 4 + (size_t) len);
            t->nbodies++;
            if (--t->bodies_need == 0) {
                tcp_dispatch(c, tcp_find(t->argv[0]));
                tcp_reset_cmd(c);
            }
            continue;
        }
        char *p = gmq_buf_rptr(&c->in);
        size_t avail = gmq_buf_used(&c->in);
        char *nl = memchr(p, '\n', avail);
        size_t len = nl ? (size_t) (nl - p) : avail;
        if (len > (size_t) m->cfg.max_line) {
            tcp_fail(c, tcp_resp_new(c), 1, GMQ_E_TOO_LARGE,
                     "command line longer than max_line (%d bytes)", m->cfg.max_line);
            return;
        }
        if (nl == NULL)
            return;
        size_t used = len + 1;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        t->line = gmq_xstrndup(p, len);
        t->line_len = len;
        gmq_buf_consume(&c->in, used);
        /* split on every single space, like the original (empty tokens kept) */
        char *s = t->line;
        for (;;) {
            char *sp = strchr(s, ' ');
            if (t->argc < GMQ_TCP_MAX_TOKENS)
                t->argv[t->argc++] = s;
            t->ntokens++;
            if (sp == NULL)
                break;
            *sp = '\0';
            s = sp + 1;
        }
        const tcp_cmd_t *cmd = len > 0 ? tcp_find(t->argv[0]) : NULL;
        if (!c->authed && (cmd == NULL || cmd->fn != cmd_auth)) {
            tcp_fail(c, tcp_resp_new(c), 1, GMQ_E_AUTH, "authentication required: send auth <token> first");
            tcp_reset_cmd(c);
            return;
        }
        if (len == 0) {
            tcp_fail(c, tcp_resp_new(c), 0, GMQ_E_INVALID_CMD, "empty command line");
        } else if (cmd == NULL) {
            tcp_fail(c, tcp_resp_new(c), 0, GMQ_E_INVALID_CMD, "unknown cmd: %.64s", t->argv[0]);
        } else if (cmd->bodies == 1 && !(cmd->fn == cmd_publish && t->ntokens >= 3)) {
            /* (publish with the message on the line is gmq-client's old form: no body) */
            t->bodies_need = 1;
        } else if (cmd->bodies == 2) {
            char *end = NULL;
            long n = t->argc >= 3 && t->argv[2][0] >= '0' && t->argv[2][0] <= '9'
                     ? strtol(t->argv[2], &end, 10) : 0;
            if (t->ntokens != 3 || end == NULL || *end != '\0' || n < 1 || n > m->cfg.max_mpub) {
                /* the number of bodies that follow is unknown: the stream cannot be resynced */
                tcp_fail(c, tcp_resp_new(c), 1, GMQ_E_INVALID_PUSHNUM,
                         "mpub <topic> <num>: num must be between 1 and %d (max_mpub)", m->cfg.max_mpub);
                tcp_reset_cmd(c);
                return;
            }
            t->bodies_need = (uint32_t) n;
        } else {
            tcp_dispatch(c, cmd);
        }
        if (t->bodies_need > 0)
            t->state = 1;
        else
            tcp_reset_cmd(c);
    }
}

static const tcp_cmd_t *
tcp_find(const char *name)
{
    for (size_t i = 0; i < GMQ_ARRAY_LEN(tcp_cmds); i++)
        if (strcmp(name, tcp_cmds[i].name) == 0)
            return &tcp_cmds[i];
    return NULL;
}

static void
tcp_reset_cmd(gmq_conn_t *c)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    free(t->line);
    t->line = NULL;
    t->argc = t->ntokens = 0;
    t->state = 0;
    t->bodies_need = t->nbodies = 0;
    gmq_buf_reset(&t->bodies);
}

static void
tcp_dispatch(gmq_conn_t *c, const tcp_cmd_t *cmd)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    tcp_resp_t *r = tcp_resp_new(c);
    int argc = t->ntokens - 1;
    if (!c->authed && cmd->fn != cmd_auth) {
        tcp_fail(c, r, 1, GMQ_E_AUTH, "authentication required: send auth <token> first");
        return;
    }
    if (t->ntokens > GMQ_TCP_MAX_TOKENS && cmd->fn != cmd_publish) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "too many parameters for %s", cmd->name);
        return;
    }
    cmd->fn(c, r, argc, t->argv + 1);
}

/* ---- responses, in command order ---- */

static tcp_resp_t *
tcp_resp_new(gmq_conn_t *c)
{
    tcp_resp_t *r = gmq_xcalloc(1, sizeof(*r));
    r->slot = c->u.tcp.next_slot++;
    gmq_buf_init(&r->frame);
    gmq_list_push_tail(&c->u.tcp.resps, &r->link);
    return r;
}

static void
tcp_resp_free(tcp_resp_t *r)
{
    gmq_buf_free(&r->frame);
    free(r->ids);
    free(r);
}

static void
tcp_finish(gmq_conn_t *c, tcp_resp_t *r, uint16_t type, const char *data, size_t len)
{
    gmq_buf_put_u16(&r->frame, type);
    gmq_buf_put_u32(&r->frame, (uint32_t) len);
    gmq_buf_append(&r->frame, data, len);
    r->done = 1;
    tcp_flush(c);
}

static void
tcp_fail(gmq_conn_t *c, tcp_resp_t *r, int fatal, int code, const char *fmt, ...)
{
    char msg[GMQ_ERRMSG_MAX + 128];
    va_list ap;
    int n = snprintf(msg, sizeof(msg), "%s - ", gmq_ecode_name(code));
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t) n, fmt, ap);
    va_end(ap);
    r->fatal = fatal;
    if (fatal)
        c->u.tcp.broken = 1;     /* read nothing more; close once the error is out */
    tcp_finish(c, r, TCP_RESP_ERROR, msg, strlen(msg));
}

static void
tcp_flush(gmq_conn_t *c)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    while (!gmq_list_empty(&t->resps)) {
        tcp_resp_t *r = container_of(t->resps.next, tcp_resp_t, link);
        if (!r->done)
            break;
        gmq_buf_append(&c->out, r->frame.data, r->frame.len);
        if (r->fatal)
            c->closing = 1;
        gmq_list_remove(&r->link);
        tcp_resp_free(r);
        if (c->closing)
            break;
    }
    gmq_conn_flush(c);
}

static void
tcp_on_heartbeat(struct ev_loop *loop, ev_timer *timer, int revents)
{
    (void) loop; (void) revents;
    gmq_conn_t *c = timer->data;
    gmq_tcp_state_t *t = &c->u.tcp;
    if (c->dead || gmq_list_empty(&t->resps))
        return;
    /* only between frames: the waiting pop must be the next reply */
    tcp_resp_t *head = container_of(t->resps.next, tcp_resp_t, link);
    if (head->waiting) {
        static const char ping[] = { 0, TCP_RESP_PING, 0, 0, 0, 4, 'p', 'i', 'n', 'g' };
        gmq_conn_send(c, ping, sizeof(ping));
    }
}

/* ---- requests to workers ---- */

static gmq_req_t *
tcp_req(gmq_conn_t *c, tcp_resp_t *r, const char *topic, gmq_op_t op, gmq_req_done_fn done)
{
    gmq_error_t err;
    gmq_req_t *req = gmq_req_new(c->m, c, topic, op, done ? done : tcp_on_reply, &err);
    if (req == NULL) {
        tcp_fail(c, r, 0, err.code, "%s", err.msg);
        return NULL;
    }
    req->ctx = r;
    gmq_ipc_request_arg_str(gmq_req_buf(req), "topic", topic);
    return req;
}

static void
tcp_on_reply(gmq_req_t *req, const gmq_ipc_reply_t *rep, const gmq_error_t *err)
{
    gmq_conn_t *c = req->conn;
    if (c == NULL || c->dead) {
        gmq_req_release(c ? c->m : NULL, req, rep);
        return;
    }
    tcp_resp_t *r = req->ctx;
    if (r->waiting && --c->u.tcp.waiting == 0)
        ev_timer_stop(c->m->loop, &c->u.tcp.heartbeat);
    r->waiting = 0;
    if (rep == NULL) {
        tcp_fail(c, r, 0, err->code, "%s", err->msg);
        return;
    }
    if (!rep->ok) {
        tcp_fail(c, r, 0, rep->ecode, "%.*s", (int) rep->msglen, rep->msg);
        return;
    }
    switch (rep->kind) {
    case GMQ_RK_MESSAGE:
        tcp_finish(c, r, TCP_RESP_MESSAGE, rep->data, rep->datalen);
        break;
    case GMQ_RK_EMPTY:
        tcp_finish(c, r, TCP_RESP_ERROR, "no message", 10);
        break;
    case GMQ_RK_ID:
    case GMQ_RK_JSON:
        tcp_finish(c, r, TCP_RESP_RESULT, rep->data, rep->datalen);
        break;
    default:
        tcp_finish(c, r, TCP_RESP_RESULT, "ok", 2);
    }
}

/* a topic or bind key argument; answers the client and returns NULL if invalid */
static const char *
tcp_name(gmq_conn_t *c, tcp_resp_t *r, const char *v, int code, const char *what, int empty_ok)
{
    if (v[0] == '\0' && empty_ok)
        return "default";
    if (v[0] == '\0') {
        tcp_fail(c, r, 0, code, "%s name required", what);
        return NULL;
    }
    if (!gmq_name_valid(v, strlen(v))) {
        tcp_fail(c, r, 0, code, "invalid %s name: use 1..%d of [A-Za-z0-9_.-]", what, GMQ_NAME_MAX);
        return NULL;
    }
    return v;
}

static int
tcp_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return GMQ_ERR;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > max)
        return GMQ_ERR;
    *out = v;
    return GMQ_OK;
}

/* ---- commands ---- */

static void
cmd_pub(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    gmq_master_t *m = c->m;
    uint64_t delay;
    if (argc != 3) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "3 parameters required: pub <topic> <route_key> <delay>");
        return;
    }
    const char *topic = tcp_name(c, r, argv[0], GMQ_E_INVALID_TOPIC, "topic", 0);
    if (topic == NULL)
        return;
    if (strlen(argv[1]) > 1024) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_ROUTE, "route_key is longer than 1024 bytes");
        return;
    }
    if (tcp_uint(argv[2], (uint64_t) m->cfg.max_delay, &delay) != GMQ_OK) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_DELAY,
                 "delay must be a number of seconds between 0 and %d (max_delay)", m->cfg.max_delay);
        return;
    }
    gmq_buf_t *bodies = &c->u.tcp.bodies;
    uint32_t blen = gmq_get_u32(bodies->data);
    gmq_req_t *req = tcp_req(c, r, topic, GMQ_OP_PUSH, NULL);
    if (req == NULL)
        return;
    gmq_buf_t *b = gmq_req_buf(req);
    gmq_ipc_request_arg_str(b, "route_key", argv[1]);
    gmq_ipc_request_arg_u64(b, "delay", delay * 1000);
    gmq_ipc_request_arg_u64(b, "id", gmq_master_next_id(m));
    gmq_ipc_request_arg(b, "body", bodies->data + 4, blen);
    gmq_req_end(req);
}

static void
cmd_mpub(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    gmq_master_t *m = c->m;
    gmq_tcp_state_t *t = &c->u.tcp;
    (void) argc;
    const char *topic = tcp_name(c, r, argv[0], GMQ_E_INVALID_TOPIC, "topic", 0);
    if (topic == NULL)
        return;
    /* validate every item first: all or nothing is sent to the worker */
    uint32_t n = t->nbodies;
    int failed = 0;
    yajl_val *items = gmq_xcalloc(n, sizeof(yajl_val));
    const char *p = t->bodies.data;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = gmq_get_u32(p);
        char *js = gmq_xstrndup(p + 4, len);
        char ebuf[200];
        p += 4 + len;
        items[i] = yajl_tree_parse(js, ebuf, sizeof(ebuf));
        free(js);
        static const char *kb[] = { "body", NULL }, *kd[] = { "delay", NULL },
                          *kr[] = { "route_key", NULL }, *kr2[] = { "routeKey", NULL };
        yajl_val v = items[i];
        const char *bad = NULL;
        if (v == NULL || !YAJL_IS_OBJECT(v)) {
            char *nl = strchr(ebuf, '\n');
            if (nl)
                *nl = '\0';
            tcp_fail(c, r, 0, GMQ_E_INVALID_JSON, "item %u: invalid JSON: %s", i + 1,
                     v ? "not an object" : ebuf);
            failed = 1;
        } else {
            yajl_val body = yajl_tree_get(v, kb, yajl_t_any);
            yajl_val delay = yajl_tree_get(v, kd, yajl_t_any);
            yajl_val rk = yajl_tree_get(v, kr, yajl_t_any);
            if (rk == NULL)
                rk = yajl_tree_get(v, kr2, yajl_t_any);
            if (!YAJL_IS_STRING(body))
                bad = "body must be a string";
            else if (strlen(body->u.string) > (size_t) m->cfg.max_body)
                bad = "body is larger than max_body";
            else if (rk != NULL && !YAJL_IS_STRING(rk) && !YAJL_IS_NULL(rk))
                bad = "route_key must be a string";
            else if (delay != NULL && !YAJL_IS_NULL(delay) &&
                     (!YAJL_IS_INTEGER(delay) || YAJL_GET_INTEGER(delay) < 0 ||
                      YAJL_GET_INTEGER(delay) > m->cfg.max_delay))
                bad = "delay must be seconds between 0 and max_delay";
            if (bad) {
                tcp_fail(c, r, 0, GMQ_E_INVALID_PUSH, "item %u: %s", i + 1, bad);
                failed = 1;
            }
        }
        if (failed) {    /* r may be sent and freed already: do not touch it */
            for (uint32_t k = 0; k <= i; k++)
                yajl_tree_free(items[k]);
            free(items);
            return;
        }
    }
    r->ids = gmq_xcalloc(n, sizeof(uint64_t));
    r->pending = n;
    r->total = n;
    for (uint32_t i = 0; i < n; i++) {
        static const char *kb[] = { "body", NULL }, *kd[] = { "delay", NULL },
                          *kr[] = { "route_key", NULL }, *kr2[] = { "routeKey", NULL };
        yajl_val body = yajl_tree_get(items[i], kb, yajl_t_any);
        yajl_val delay = yajl_tree_get(items[i], kd, yajl_t_any);
        yajl_val rk = yajl_tree_get(items[i], kr, yajl_t_any);
        if (rk == NULL)
            rk = yajl_tree_get(items[i], kr2, yajl_t_any);
        gmq_req_t *req = failed ? NULL : tcp_req(c, r, topic, GMQ_OP_PUSH, tcp_on_mpub_reply);
        if (req == NULL) {
            failed = 1;      /* answered (and perhaps freed) by tcp_req */
        } else {
            gmq_buf_t *b = gmq_req_buf(req);
            const char *bs = body->u.string;
            gmq_ipc_request_arg_str(b, "route_key", YAJL_IS_STRING(rk) ? YAJL_GET_STRING(rk) : "");
            gmq_ipc_request_arg_u64(b, "delay", YAJL_IS_INTEGER(delay) ? (uint64_t) YAJL_GET_INTEGER(delay) * 1000 : 0);
            gmq_ipc_request_arg_u64(b, "id", r->ids[i] = gmq_master_next_id(m));
            gmq_ipc_request_arg(b, "body", bs, strlen(bs));
            gmq_req_end(req);
        }
        yajl_tree_free(items[i]);
    }
    free(items);
}

static void
tcp_on_mpub_reply(gmq_req_t *req, const gmq_ipc_reply_t *rep, const gmq_error_t *err)
{
    gmq_conn_t *c = req->conn;
    if (c == NULL || c->dead)
        return;
    tcp_resp_t *r = req->ctx;
    if (rep == NULL || !rep->ok) {
        if (r->err[0] == '\0')
            snprintf(r->err, sizeof(r->err), "%s - %.*s",
                     gmq_ecode_name(rep ? rep->ecode : err->code),
                     (int) (rep ? rep->msglen : strlen(err->msg)), rep ? rep->msg : err->msg);
    } else {
        r->nids++;
    }
    if (--r->pending > 0)
        return;
    if (r->err[0] != '\0') {
        char msg[sizeof(r->err) + 64];
        snprintf(msg, sizeof(msg), "%s (%u of %u stored)", r->err, r->nids, r->total);
        r->fatal = 0;
        tcp_finish(c, r, TCP_RESP_ERROR, msg, strlen(msg));
        return;
    }
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_append_str(&b, "[");
    for (uint32_t i = 0; i < r->nids; i++)
        gmq_buf_printf(&b, i ? ",%llu" : "%llu", (unsigned long long) r->ids[i]);
    gmq_buf_append_str(&b, "]");
    tcp_finish(c, r, TCP_RESP_RESULT, b.data, b.len);
    gmq_buf_free(&b);
}

static void
tcp_pop_common(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv, gmq_op_t op)
{
    const char *cmd = op == GMQ_OP_POP ? "pop" : "dead";
    if (argc < 2 || argc > 3) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "2 parameters required: %s <topic> <bind_key> [timeout]", cmd);
        return;
    }
    const char *topic = tcp_name(c, r, argv[0], GMQ_E_INVALID_PARAMS, "topic", 0);
    if (topic == NULL)
        return;
    const char *bk = tcp_name(c, r, argv[1], GMQ_E_INVALID_BINDKEY, "bind key", 1);
    if (bk == NULL)
        return;
    uint64_t timeout = 0;
    if (argc == 3 && tcp_uint(argv[2], TCP_MAX_WAIT_S, &timeout) != GMQ_OK) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "timeout must be seconds between 0 and %d", TCP_MAX_WAIT_S);
        return;
    }
    gmq_req_t *req = tcp_req(c, r, topic, op, NULL);
    if (req == NULL)
        return;
    snprintf(req->bind_key, sizeof(req->bind_key), "%s", bk);
    gmq_buf_t *b = gmq_req_buf(req);
    gmq_ipc_request_arg_str(b, "bind_key", bk);
    /* pop blocks (with heartbeats) unless a timeout is given; dead answers at once */
    if (argc == 3 && timeout > 0)
        gmq_ipc_request_arg_u64(b, "wait", timeout * 1000);
    else if (argc == 2 && op == GMQ_OP_POP)
        gmq_ipc_request_arg_str(b, "forever", "1");
    gmq_req_end(req);
    if (argc == 2 ? op == GMQ_OP_POP : timeout > 0) {
        r->waiting = 1;
        if (c->u.tcp.waiting++ == 0)
            ev_timer_start(c->m->loop, &c->u.tcp.heartbeat);
    }
}

static void
cmd_pop(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    tcp_pop_common(c, r, argc, argv, GMQ_OP_POP);
}

static void
cmd_dead(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    tcp_pop_common(c, r, argc, argv, GMQ_OP_DEAD);
}

static void
tcp_id_op(gmq_conn_t *c, tcp_resp_t *r, const char *ids, const char *topic_arg, const char *bk_arg,
          gmq_op_t op, int code)
{
    uint64_t id = 0;
    if (ids != NULL && (tcp_uint(ids, UINT64_MAX, &id) != GMQ_OK || (id == 0 && op == GMQ_OP_ACK))) {
        tcp_fail(c, r, 0, code, "msgId must be a decimal message id");
        return;
    }
    const char *topic = tcp_name(c, r, topic_arg, GMQ_E_INVALID_TOPIC, "topic", 0);
    if (topic == NULL)
        return;
    const char *bk = tcp_name(c, r, bk_arg, GMQ_E_INVALID_BINDKEY, "bind key", 1);
    if (bk == NULL)
        return;
    gmq_req_t *req = tcp_req(c, r, topic, op, NULL);
    if (req == NULL)
        return;
    gmq_ipc_request_arg_str(gmq_req_buf(req), "bind_key", bk);
    gmq_ipc_request_arg_u64(gmq_req_buf(req), "id", id);
    gmq_req_end(req);
}

static void
cmd_ack(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    if (argc != 3) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "3 parameters required: ack <msg_id> <topic> <bind_key>");
        return;
    }
    tcp_id_op(c, r, argv[0], argv[1], argv[2], GMQ_OP_ACK, GMQ_E_INVALID_ACK);
}

static void
cmd_requeue(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "requeue <topic> <bind_key> [msg_id]");
        return;
    }
    tcp_id_op(c, r, argc == 3 ? argv[2] : NULL, argv[0], argv[1], GMQ_OP_REQUEUE, GMQ_E_INVALID_PARAMS);
}

static void
cmd_set(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    static const char *keys[] = { "auto_ack", "mode", "ttr", "retry" };
    static const uint64_t max[] = { 1, 3, 86400, 1000 };
    uint64_t v[4];
    if (argc != 2 && argc != 5) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "set <topic> <isAutoAck> [<mode> <msg_ttr> <msg_retry>]");
        return;
    }
    const char *topic = tcp_name(c, r, argv[0], GMQ_E_INVALID_TOPIC, "topic", 0);
    if (topic == NULL)
        return;
    for (int i = 0; i < argc - 1; i++) {
        if (tcp_uint(argv[i + 1], max[i], &v[i]) != GMQ_OK || (i == 1 && v[i] == 0) ||
            (i == 2 && v[i] == 0)) {
            tcp_fail(c, r, 0, GMQ_E_INVALID_SET, "%s must be a number between %d and %llu", keys[i],
                     i == 1 || i == 2 ? 1 : 0, (unsigned long long) max[i]);
            return;
        }
    }
    gmq_req_t *req = tcp_req(c, r, topic, GMQ_OP_CONFIG, NULL);
    if (req == NULL)
        return;
    for (int i = 0; i < argc - 1; i++)
        gmq_ipc_request_arg_u64(gmq_req_buf(req), keys[i], v[i]);
    gmq_req_end(req);
}

static void
cmd_queue(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    if (argc != 2) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "2 parameters required: queue <topic> <bind_key>");
        return;
    }
    const char *topic = tcp_name(c, r, argv[0], GMQ_E_INVALID_TOPIC, "topic", 0);
    if (topic == NULL)
        return;
    const char *bk = tcp_name(c, r, argv[1], GMQ_E_INVALID_BINDKEY, "bind key", 0);
    if (bk == NULL)
        return;
    gmq_req_t *req = tcp_req(c, r, topic, GMQ_OP_DECLARE, NULL);
    if (req == NULL)
        return;
    gmq_ipc_request_arg_str(gmq_req_buf(req), "bind_key", bk);
    gmq_req_end(req);
}

static void
cmd_subscribe(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    gmq_error_t err;
    if (argc != 1) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "1 parameters required: subscribe <channel>");
        return;
    }
    if (tcp_name(c, r, argv[0], GMQ_E_INVALID_CHANNEL, "channel", 0) == NULL)
        return;
    if (gmq_chan_subscribe(c->m, c, argv[0], &err) != GMQ_OK)
        tcp_fail(c, r, 0, err.code, "%s", err.msg);
    else
        tcp_finish(c, r, TCP_RESP_RESULT, "ok", 2);
}

static void
cmd_unsubscribe(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    if (argc != 1) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "1 parameters required: unsubscribe <channel>");
        return;
    }
    if (gmq_chan_unsubscribe(c->m, c, argv[0]) != GMQ_OK)
        tcp_fail(c, r, 0, GMQ_E_INVALID_CHANNEL, "not subscribed to %.128s", argv[0]);
    else
        tcp_finish(c, r, TCP_RESP_RESULT, "ok", 2);
}

static void
cmd_publish(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    if (argc < 1) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "1 parameters required: publish <channel>");
        return;
    }
    if (tcp_name(c, r, argv[0], GMQ_E_INVALID_CHANNEL, "channel", 0) == NULL)
        return;
    const char *msg;
    size_t len;
    if (argc >= 2) {
        /* old one-line form `publish <channel> <message ...>`: the rest of the
         * line is the message (the split put NULs where its spaces were) */
        char *start = argv[1];
        len = t->line_len - (size_t) (start - t->line);
        for (size_t i = 0; i < len; i++)
            if (start[i] == '\0')
                start[i] = ' ';
        msg = start;
    } else {
        msg = t->bodies.data + 4;
        len = gmq_get_u32(t->bodies.data);
    }
    if (gmq_chan_publish(c->m, argv[0], msg, len) == 0)
        tcp_fail(c, r, 0, GMQ_E_INVALID_PUBLISH, "no subscribers");
    else
        tcp_finish(c, r, TCP_RESP_RESULT, "ok", 2);
}

static void
cmd_ping(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    (void) argc; (void) argv;
    tcp_finish(c, r, TCP_RESP_RESULT, "pong", 4);
}

static void
cmd_auth(gmq_conn_t *c, tcp_resp_t *r, int argc, char **argv)
{
    if (argc != 1 || !gmq_master_token_ok(c->m, argv[0], strlen(argv[0]))) {
        gmq_log_info("connection %llu: TCP auth refused", (unsigned long long) c->id);
        tcp_fail(c, r, 1, GMQ_E_AUTH, "wrong token");
        return;
    }
    c->authed = 1;
    tcp_finish(c, r, TCP_RESP_RESULT, "ok", 2);
}

/*
 * tcp.c - the gmq v2 TCP protocol on client connections: events from the
 * proto/tcp parser become operations (validated in master/ops.c); replies
 * go out as frames in command order. mpub is master/tcp_mpub.c.
 */
#include "master.h"
#include "chan.h"
#include "ops.h"
#include "tcp_impl.h"
#include "sup.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*tcp_cmd_fn)(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);

static void cmd_pub(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_pop(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_ack(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_set(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_queue(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_requeue(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_subscribe(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_unsubscribe(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_publish(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_ping(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_auth(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);
static void cmd_manage(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev);

static const tcp_cmd_fn tcp_cmds[GMQ_TCP_CMD__COUNT] = {
    [GMQ_TCP_CMD_PUB] = cmd_pub,           [GMQ_TCP_CMD_MPUB] = cmd_mpub,
    [GMQ_TCP_CMD_POP] = cmd_pop,           [GMQ_TCP_CMD_DEAD] = cmd_pop,
    [GMQ_TCP_CMD_ACK] = cmd_ack,           [GMQ_TCP_CMD_SET] = cmd_set,
    [GMQ_TCP_CMD_QUEUE] = cmd_queue,       [GMQ_TCP_CMD_REQUEUE] = cmd_requeue,
    [GMQ_TCP_CMD_SUBSCRIBE] = cmd_subscribe, [GMQ_TCP_CMD_UNSUBSCRIBE] = cmd_unsubscribe,
    [GMQ_TCP_CMD_PUBLISH] = cmd_publish,   [GMQ_TCP_CMD_PING] = cmd_ping,
    [GMQ_TCP_CMD_AUTH] = cmd_auth,
    [GMQ_TCP_CMD_PURGE] = cmd_manage,      [GMQ_TCP_CMD_DELQUEUE] = cmd_manage,
    [GMQ_TCP_CMD_DELTOPIC] = cmd_manage,   [GMQ_TCP_CMD_PEEK] = cmd_manage,
    [GMQ_TCP_CMD_DEADLIST] = cmd_manage,   [GMQ_TCP_CMD_KICK] = cmd_manage,
    [GMQ_TCP_CMD_TOUCH] = cmd_manage,      [GMQ_TCP_CMD_RELEASE] = cmd_manage,
    [GMQ_TCP_CMD_STATS] = cmd_manage,
};

/* the queue management commands: their operation, arguments and usage */
typedef struct {
    gmq_op_t    op;
    int         min_args, max_args;
    int         has_bk;        /* argv[1] is a bind key */
    int         has_id;        /* argv[2] is a message id */
    const char *last;          /* the optional last argument: "force", "state", "n", "limit", "delay" */
    const char *usage;
} tcp_manage_t;

static const tcp_manage_t tcp_manage_cmds[] = {
    { GMQ_OP_PURGE, 2, 3, 1, 0, "force", "purge <topic> <bind_key> [force]" },
    { GMQ_OP_DEL_QUEUE, 2, 3, 1, 0, "force", "delqueue <topic> <bind_key> [force]" },
    { GMQ_OP_DEL_TOPIC, 1, 2, 0, 0, "force", "deltopic <topic> [force]" },
    { GMQ_OP_PEEK, 2, 3, 1, 0, "state", "peek <topic> <bind_key> [ready|delayed|dead]" },
    { GMQ_OP_LIST_DEAD, 2, 3, 1, 0, "limit", "deadlist <topic> <bind_key> [limit]" },
    { GMQ_OP_KICK, 2, 3, 1, 0, "n", "kick <topic> <bind_key> [n]" },
    { GMQ_OP_TOUCH, 3, 3, 1, 1, NULL, "touch <topic> <bind_key> <id>" },
    { GMQ_OP_NACK, 3, 4, 1, 1, "delay", "release <topic> <bind_key> <id> [delay]" },
    { GMQ_OP_STAT, 1, 1, 0, 0, NULL, "stats <topic>" },
};

static tcp_resp_t *tcp_resp_new(gmq_conn_t *c);
static void tcp_resp_free(tcp_resp_t *r);
static void tcp_flush(gmq_conn_t *c);
static void tcp_on_heartbeat(struct ev_loop *loop, ev_timer *t, int revents);
static void tcp_on_reply(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err);

/* finished responses kept with their frame buffers for the next ones (a
 * response was two callocs and two frees); the master is one thread */
#define TCP_RESP_SPARE     256
#define TCP_RESP_SPARE_BUF 4096       /* a frame buffer larger than this is freed */
static tcp_resp_t *tcp_spare[TCP_RESP_SPARE];
static size_t      tcp_nspare;

void
gmq_tcp_free_spares(void)
{
    while (tcp_nspare > 0) {
        tcp_resp_t *r = tcp_spare[--tcp_nspare];
        gmq_buf_free(&r->frame);
        free(r);
    }
}

static void
tcp_limits(const gmq_master_t *m, gmq_tcp_limits_t *lim)
{
    lim->max_line = (size_t) m->cfg.max_line;
    lim->max_body = (size_t) m->cfg.max_body;
    lim->max_mpub = (uint32_t) m->cfg.max_mpub;
}

void
gmq_tcp_conn_init(gmq_conn_t *c)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    memset(t, 0, sizeof(*t));
    gmq_tcp_limits_t lim;
    tcp_limits(c->m, &lim);
    gmq_tcp_parser_init(&t->parser, &lim);
    gmq_list_init(&t->resps);
    gmq_list_init(&t->subs);
    ev_timer_init(&t->heartbeat, tcp_on_heartbeat, GMQ_TCP_HEARTBEAT_S, GMQ_TCP_HEARTBEAT_S);
    t->heartbeat.data = c;
}

void
gmq_tcp_conn_reconfigure(gmq_conn_t *c)
{
    tcp_limits(c->m, &c->u.tcp.parser.lim);
}

void
gmq_tcp_conn_free(gmq_conn_t *c)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    ev_timer_stop(c->m->loop, &t->heartbeat);
    gmq_chan_drop_conn(c->m, c);
    if (t->mpub != NULL) {
        /* still reading its bodies: a chunk in flight frees it with its reply */
        t->mpub->conn = NULL;
        if (!t->mpub->inflight)
            tcp_mpub_free(t->mpub);
        t->mpub = NULL;
    }
    while (!gmq_list_empty(&t->resps)) {
        tcp_resp_t *r = container_of(t->resps.next, tcp_resp_t, link);
        gmq_list_remove(&r->link);
        tcp_resp_free(r);
    }
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
    gmq_tcp_event_t ev;
    size_t used;
    if (c->ssl != NULL)
        t->parser.started = 1;   /* a ClientHello check is for plain-text ports only */
    while (!c->dead && !c->closing && !t->broken && !t->paused && gmq_buf_used(&c->in) > 0) {
        int rc = gmq_tcp_parse(&t->parser, gmq_buf_rptr(&c->in), gmq_buf_used(&c->in), &used, &ev);
        if (rc != GMQ_OK)
            break;
        if (ev.type == GMQ_TCP_EV_ERROR) {
            tcp_fail(c, tcp_resp_new(c), ev.fatal, ev.ecode, "%s", ev.msg);
        } else if (ev.type == GMQ_TCP_EV_BODY) {
            if (t->mpub != NULL)
                tcp_mpub_body(c, t->mpub, &ev);
        } else if (!c->authed && ev.cmd != GMQ_TCP_CMD_AUTH) {
            tcp_fail(c, tcp_resp_new(c), 1, GMQ_E_AUTH, "authentication required: send auth <token> first");
        } else if (ev.argc > GMQ_TCP_MAX_ARGS && ev.cmd != GMQ_TCP_CMD_PUBLISH) {
            tcp_fail(c, tcp_resp_new(c), ev.cmd == GMQ_TCP_CMD_MPUB, GMQ_E_INVALID_PARAMS,
                     "too many parameters for %s", gmq_tcp_cmd_name(ev.cmd));
        } else {
            tcp_cmds[ev.cmd](c, tcp_resp_new(c), &ev);
        }
        gmq_buf_consume(&c->in, used);
    }
}

void
tcp_finish(gmq_conn_t *c, tcp_resp_t *r, uint16_t type, const char *data, size_t len)
{
    gmq_tcp_put_frame(&r->frame, type, data, len);
    r->done = 1;
    tcp_flush(c);
}

void
tcp_fail(gmq_conn_t *c, tcp_resp_t *r, int fatal, int code, const char *fmt, ...)
{
    char msg[GMQ_ERRMSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->fatal = fatal;
    if (fatal) {
        c->u.tcp.broken = 1;     /* read nothing more; close once the error is out */
        if (c->u.tcp.mpub != NULL && c->u.tcp.mpub->resp != r)
            tcp_mpub_abort(c->u.tcp.mpub, code, msg);
    }
    gmq_tcp_put_error(&r->frame, code, "%s", msg);
    r->done = 1;
    tcp_flush(c);
}

/* ---- responses, in command order ---- */

static tcp_resp_t *
tcp_resp_new(gmq_conn_t *c)
{
    tcp_resp_t *r;
    if (GMQ_REUSE_FREED && tcp_nspare > 0) {
        r = tcp_spare[--tcp_nspare];
        gmq_buf_t frame = r->frame;      /* empty, its memory kept */
        memset(r, 0, sizeof(*r));
        r->frame = frame;
    } else {
        r = gmq_xcalloc(1, sizeof(*r));
        gmq_buf_init(&r->frame);
    }
    gmq_list_push_tail(&c->u.tcp.resps, &r->link);
    return r;
}

static void
tcp_resp_free(tcp_resp_t *r)
{
    if (GMQ_REUSE_FREED && tcp_nspare < TCP_RESP_SPARE && r->frame.cap <= TCP_RESP_SPARE_BUF) {
        gmq_buf_reset(&r->frame);
        tcp_spare[tcp_nspare++] = r;
        return;
    }
    gmq_buf_free(&r->frame);
    free(r);
}

/* move the finished head of the queue to the output (written at the end
 * of the loop iteration) */
static void
tcp_flush(gmq_conn_t *c)
{
    gmq_tcp_state_t *t = &c->u.tcp;
    while (!gmq_list_empty(&t->resps)) {
        tcp_resp_t *r = container_of(t->resps.next, tcp_resp_t, link);
        if (!r->done)
            break;
        gmq_buf_append(&c->out, r->frame.data, r->frame.len);
        if (r->delivery != NULL)
            gmq_conn_delivery_queued(c, r->delivery);
        if (r->fatal)
            c->closing = 1;
        gmq_list_remove(&r->link);
        tcp_resp_free(r);
        if (c->closing)
            break;
    }
    gmq_conn_schedule(c);
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
        gmq_tcp_put_frame(&c->out, GMQ_TCP_PING, "ping", 4);
        gmq_conn_schedule(c);
    }
}

/* ---- requests to workers ---- */

/* a topic argument as a C string; NULL (client answered) when invalid.
 * code: the command's error code for a bad topic (0 = E_INVALID_TOPIC) */
static const char *
tcp_topic_as(gmq_conn_t *c, tcp_resp_t *r, gmq_tcp_str_t a, char out[GMQ_NAME_MAX + 1], int code)
{
    gmq_error_t err;
    if (gmq_ops_check_topic(a.p, a.len, &err) != GMQ_OK) {
        tcp_fail(c, r, 0, code ? code : (int) err.code, a.len == 0 ? "topic name required" : "%s",
                 err.msg);
        return NULL;
    }
    memcpy(out, a.p, a.len);
    out[a.len] = '\0';
    return out;
}

static const char *
tcp_topic(gmq_conn_t *c, tcp_resp_t *r, gmq_tcp_str_t a, char out[GMQ_NAME_MAX + 1])
{
    return tcp_topic_as(c, r, a, out, 0);
}

static gmq_op_str_t
tcp_str(gmq_tcp_str_t a)
{
    gmq_op_str_t s = { a.p, a.len };
    return s;
}

static int
tcp_uint(gmq_tcp_str_t a, uint64_t max, uint64_t *out)
{
    return gmq_parse_u64(a.p, a.len, max, out);
}

static void
tcp_submit(gmq_conn_t *c, tcp_resp_t *r, const char *topic, gmq_op_req_t *op)
{
    gmq_error_t err;
    if (gmq_ops_submit(c->m, c, topic, op, tcp_on_reply, r, &err) == NULL) {
        tcp_fail(c, r, 0, err.code, "%s", err.msg);
        return;
    }
    int waits = (op->op == GMQ_OP_POP || op->op == GMQ_OP_DEAD) && (op->forever || op->wait_ms > 0);
    if (waits) {
        r->waiting = 1;
        if (c->u.tcp.waiting++ == 0)
            ev_timer_start(c->m->loop, &c->u.tcp.heartbeat);
    }
}

static void
tcp_on_reply(gmq_req_t *req, const gmq_op_reply_t *rep, const gmq_error_t *err)
{
    gmq_conn_t *c = req->conn;
    if (c == NULL || c->dead) {
        gmq_master_release(req->wproc->m, req, rep);
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
        tcp_fail(c, r, 0, rep->ecode, "%.*s", (int) rep->msg.len, rep->msg.p);
        return;
    }
    gmq_buf_t b;
    char ids[GMQ_U64_DEC_MAX];
    switch (rep->kind) {
    case GMQ_RK_MESSAGE:
        r->delivery = gmq_conn_delivery(c, gmq_sup_topic(req->wproc), req->bind_key, rep->id,
                                        rep->confirm);
        if (r->raw) {
            gmq_tcp_put_raw(&r->frame, rep->id, rep->retry, rep->body.p, rep->body.len);
            r->done = 1;
            tcp_flush(c);
            break;
        }
        gmq_buf_init(&b);
        gmq_ops_message_json(&b, rep);
        tcp_finish(c, r, GMQ_TCP_MESSAGE, b.data, b.len);
        gmq_buf_free(&b);
        break;
    case GMQ_RK_EMPTY:
        tcp_finish(c, r, GMQ_TCP_ERROR, "no message", 10);
        break;
    case GMQ_RK_ID:
        tcp_finish(c, r, GMQ_TCP_RESULT, ids, gmq_u64_dec(ids, rep->id));
        break;
    case GMQ_RK_JSON:
        tcp_finish(c, r, GMQ_TCP_RESULT, rep->json.p, rep->json.len);
        break;
    default:
        tcp_finish(c, r, GMQ_TCP_RESULT, "ok", 2);
    }
}

/* ---- commands ---- */

static void
cmd_pub(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    char topic[GMQ_NAME_MAX + 1];
    uint64_t delay;
    if (ev->argc != 3) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "3 parameters required: pub <topic> <route_key> <delay>");
        return;
    }
    if (tcp_topic(c, r, ev->argv[0], topic) == NULL)
        return;
    if (tcp_uint(ev->argv[2], UINT64_MAX / 1000, &delay) != GMQ_OK) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_DELAY, "delay must be a number of seconds between 0 and "
                 "%d (max_delay)", c->m->cfg.max_delay);
        return;
    }
    gmq_op_req_t op = { .op = GMQ_OP_PUSH };
    op.item.route_key = tcp_str(ev->argv[1]);
    op.item.delay_ms = delay * 1000;
    op.item.body.p = ev->body;
    op.item.body.len = ev->body_len;
    tcp_submit(c, r, topic, &op);
}

static void
cmd_pop(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    const char *name = ev->cmd == GMQ_TCP_CMD_POP ? "pop" : "dead";
    char topic[GMQ_NAME_MAX + 1];
    uint64_t timeout = 0;
    /* a last argument `raw` asks for a 106 frame (binary-safe body) */
    int argc = ev->argc;
    if (argc >= 3 && argc <= 4 && ev->argv[argc - 1].len == strlen(GMQ_TCP_ARG_RAW) &&
        memcmp(ev->argv[argc - 1].p, GMQ_TCP_ARG_RAW, strlen(GMQ_TCP_ARG_RAW)) == 0) {
        r->raw = 1;
        argc--;
    }
    if (argc < 2 || argc > 3) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "2 parameters required: %s <topic> <bind_key> [timeout] [raw]", name);
        return;
    }
    /* pop and dead answer a bad topic with E_INVALID_PARAMS, like the original */
    if (tcp_topic_as(c, r, ev->argv[0], topic, GMQ_E_INVALID_PARAMS) == NULL)
        return;
    if (argc == 3 && tcp_uint(ev->argv[2], GMQ_WAIT_MAX_S, &timeout) != GMQ_OK) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "timeout must be seconds between 0 and %d", GMQ_WAIT_MAX_S);
        return;
    }
    gmq_op_req_t op = { .op = ev->cmd == GMQ_TCP_CMD_POP ? GMQ_OP_POP : GMQ_OP_DEAD };
    op.bind_key = tcp_str(ev->argv[1]);
    /* pop blocks (with heartbeats) unless a timeout is given; dead answers at once */
    op.wait_ms = timeout * 1000;
    op.forever = argc == 2 && op.op == GMQ_OP_POP;
    tcp_submit(c, r, topic, &op);
}

static void
tcp_id_op(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_str_t *id_arg, gmq_tcp_str_t topic_arg,
          gmq_tcp_str_t bk_arg, gmq_op_t op, int code)
{
    char topic[GMQ_NAME_MAX + 1];
    uint64_t id = 0;
    if (id_arg != NULL && (tcp_uint(*id_arg, UINT64_MAX, &id) != GMQ_OK || (id == 0 && op == GMQ_OP_ACK))) {
        tcp_fail(c, r, 0, code, "msgId must be a decimal message id");
        return;
    }
    if (tcp_topic(c, r, topic_arg, topic) == NULL)
        return;
    gmq_op_req_t o = { .op = op, .bind_key = tcp_str(bk_arg), .id = id };
    tcp_submit(c, r, topic, &o);
}

static void
cmd_ack(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    if (ev->argc != 3) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "3 parameters required: ack <msg_id> <topic> <bind_key>");
        return;
    }
    tcp_id_op(c, r, &ev->argv[0], ev->argv[1], ev->argv[2], GMQ_OP_ACK, GMQ_E_INVALID_ACK);
}

static void
cmd_requeue(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    if (ev->argc < 2 || ev->argc > 3) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "requeue <topic> <bind_key> [msg_id]");
        return;
    }
    tcp_id_op(c, r, ev->argc == 3 ? &ev->argv[2] : NULL, ev->argv[0], ev->argv[1], GMQ_OP_REQUEUE,
              GMQ_E_INVALID_PARAMS);
}

static void
cmd_set(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    static const char *const keys[] = { "auto_ack", "mode", "ttr", "retry" };
    static const uint64_t min[] = { 0, 1, 1, 0 };
    static const uint64_t max[] = { 1, GMQ_MODE_MAX, GMQ_TTR_MAX_S, GMQ_RETRY_MAX };
    char topic[GMQ_NAME_MAX + 1];
    int32_t v[4] = { -1, -1, -1, -1 };
    if (ev->argc != 2 && ev->argc != 5) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "set <topic> <isAutoAck> [<mode> <msg_ttr> <msg_retry>]");
        return;
    }
    if (tcp_topic(c, r, ev->argv[0], topic) == NULL)
        return;
    for (int i = 0; i < ev->argc - 1; i++) {
        uint64_t x;
        if (tcp_uint(ev->argv[i + 1], max[i], &x) != GMQ_OK || x < min[i]) {
            tcp_fail(c, r, 0, GMQ_E_INVALID_SET, "%s must be a number between %llu and %llu", keys[i],
                     (unsigned long long) min[i], (unsigned long long) max[i]);
            return;
        }
        v[i] = (int32_t) x;
    }
    gmq_op_req_t op = { .op = GMQ_OP_CONFIG, .auto_ack = v[0], .mode = v[1], .ttr = v[2], .retry = v[3] };
    tcp_submit(c, r, topic, &op);
}

static void
cmd_queue(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    char topic[GMQ_NAME_MAX + 1];
    if (ev->argc != 2) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "2 parameters required: queue <topic> <bind_key>");
        return;
    }
    if (tcp_topic(c, r, ev->argv[0], topic) == NULL)
        return;
    gmq_op_req_t op = { .op = GMQ_OP_DECLARE, .bind_key = tcp_str(ev->argv[1]) };
    tcp_submit(c, r, topic, &op);
}

/* a channel name as a C string; NULL (client answered) when invalid */
static const char *
tcp_channel(gmq_conn_t *c, tcp_resp_t *r, gmq_tcp_str_t a, char out[GMQ_NAME_MAX + 1])
{
    if (a.len == 0) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_CHANNEL, "channel name required");
        return NULL;
    }
    if (!gmq_name_valid(a.p, a.len)) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_CHANNEL, "invalid channel name: use 1..%d of [A-Za-z0-9_.-]",
                 GMQ_NAME_MAX);
        return NULL;
    }
    memcpy(out, a.p, a.len);
    out[a.len] = '\0';
    return out;
}

static void
cmd_subscribe(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    char ch[GMQ_NAME_MAX + 1];
    gmq_error_t err;
    if (ev->argc != 1) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "1 parameters required: subscribe <channel>");
        return;
    }
    if (tcp_channel(c, r, ev->argv[0], ch) == NULL)
        return;
    if (gmq_chan_subscribe(c->m, c, ch, &err) != GMQ_OK)
        tcp_fail(c, r, 0, err.code, "%s", err.msg);
    else
        tcp_finish(c, r, GMQ_TCP_RESULT, "ok", 2);
}

static void
cmd_unsubscribe(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    char ch[GMQ_NAME_MAX + 1];
    if (ev->argc != 1) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "1 parameters required: unsubscribe <channel>");
        return;
    }
    if (tcp_channel(c, r, ev->argv[0], ch) == NULL)
        return;
    if (gmq_chan_unsubscribe(c->m, c, ch) != GMQ_OK)
        tcp_fail(c, r, 0, GMQ_E_INVALID_CHANNEL, "not subscribed to %s", ch);
    else
        tcp_finish(c, r, GMQ_TCP_RESULT, "ok", 2);
}

static void
cmd_publish(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    char ch[GMQ_NAME_MAX + 1];
    if (ev->argc < 1) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "1 parameters required: publish <channel>");
        return;
    }
    if (tcp_channel(c, r, ev->argv[0], ch) == NULL)
        return;
    /* the old one-line form `publish <channel> <message ...>` has no body */
    const char *msg = ev->has_body ? ev->body : ev->tail.p;
    size_t len = ev->has_body ? ev->body_len : ev->tail.len;
    if (gmq_chan_publish(c->m, ch, msg, len) == 0)
        tcp_fail(c, r, 0, GMQ_E_INVALID_PUBLISH, "no subscribers");
    else
        tcp_finish(c, r, GMQ_TCP_RESULT, "ok", 2);
}

static void
cmd_ping(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    (void) ev;
    tcp_finish(c, r, GMQ_TCP_RESULT, "pong", 4);
}

static void
cmd_auth(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    if (ev->argc != 1 || !gmq_master_token_ok(c->m, ev->argv[0].p, ev->argv[0].len)) {
        gmq_log_info("connection %llu: TCP auth refused", (unsigned long long) c->id);
        tcp_fail(c, r, 1, GMQ_E_AUTH, "wrong token");
        return;
    }
    c->authed = 1;
    tcp_finish(c, r, GMQ_TCP_RESULT, "ok", 2);
}

static int
tcp_is(gmq_tcp_str_t a, const char *s)
{
    return a.len == strlen(s) && memcmp(a.p, s, a.len) == 0;
}

static void
cmd_manage(gmq_conn_t *c, tcp_resp_t *r, const gmq_tcp_event_t *ev)
{
    static const char *const states[] = { "ready", "delayed", "dead" };
    const tcp_manage_t *mc = &tcp_manage_cmds[ev->cmd - GMQ_TCP_CMD_PURGE];
    char topic[GMQ_NAME_MAX + 1];
    if (ev->argc < mc->min_args || ev->argc > mc->max_args) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "usage: %s", mc->usage);
        return;
    }
    if (tcp_topic(c, r, ev->argv[0], topic) == NULL)
        return;
    gmq_op_req_t op = { .op = mc->op };
    if (mc->has_bk)
        op.bind_key = tcp_str(ev->argv[1]);
    if (mc->has_id && (tcp_uint(ev->argv[2], UINT64_MAX, &op.id) != GMQ_OK || op.id == 0)) {
        tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "id must be a decimal message id");
        return;
    }
    /* defaults: limit 20, n 1, delay 0, state ready, no force */
    op.arg = mc->op == GMQ_OP_LIST_DEAD ? 20 : mc->op == GMQ_OP_KICK ? 1 : 0;
    if (ev->argc == mc->max_args && mc->last != NULL) {
        gmq_tcp_str_t a = ev->argv[ev->argc - 1];
        uint64_t x;
        if (strcmp(mc->last, "force") == 0) {
            if (!tcp_is(a, "force")) {
                tcp_fail(c, r, 0, GMQ_E_INVALID_PARAMS, "usage: %s", mc->usage);
                return;
            }
            op.flags = GMQ_OP_F_FORCE;
        } else if (strcmp(mc->last, "state") == 0) {
            op.arg = GMQ_ARRAY_LEN(states);
            for (size_t i = 0; i < GMQ_ARRAY_LEN(states); i++)
                if (tcp_is(a, states[i]))
                    op.arg = i;
        } else if (tcp_uint(a, strcmp(mc->last, "delay") == 0 ? UINT64_MAX / 1000 : UINT32_MAX,
                            &x) != GMQ_OK) {
            tcp_fail(c, r, 0, strcmp(mc->last, "delay") == 0 ? GMQ_E_INVALID_DELAY
                                                             : GMQ_E_INVALID_PARAMS,
                     "%s must be a number", mc->last);
            return;
        } else {
            op.arg = strcmp(mc->last, "delay") == 0 ? x * 1000 : x;
        }
    }
    tcp_submit(c, r, topic, &op);
}

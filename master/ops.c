/*
 * ops.c - the one place where client operations are validated: names,
 * route keys, bodies, delays, timeouts and topic settings against the
 * shared limits, then handed to the topic's worker. Also the JSON form of
 * a push (HTTP /push, TCP mpub items), parsed with every string's length.
 */
#include "ops.h"
#include "sup.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

typedef enum { JK_OTHER = 0, JK_BODY, JK_TOPIC, JK_DELAY, JK_ROUTE } ops_jkey_t;

typedef struct {
    gmq_ops_json_push_t *p;
    int          depth;
    int          started;
    ops_jkey_t   key;
    const char  *bad;      /* a field of the wrong type */
} ops_jctx_t;

static int ops_check_bind_key(gmq_op_str_t bk, int required, gmq_error_t *err);

/* ---- checks ---- */

int
gmq_ops_check_topic(const char *topic, size_t len, gmq_error_t *err)
{
    if (topic == NULL || len == 0)
        return gmq_error_set(err, GMQ_E_INVALID_TOPIC, "topic is empty");
    if (!gmq_name_valid(topic, len))
        return gmq_error_set(err, GMQ_E_INVALID_TOPIC, "invalid topic: use 1..%d of [A-Za-z0-9_.-]",
                             GMQ_NAME_MAX);
    return GMQ_OK;
}

static int
ops_check_bind_key(gmq_op_str_t bk, int required, gmq_error_t *err)
{
    if (bk.len == 0 && !required)
        return GMQ_OK;       /* the default queue */
    if (bk.len == 0)
        return gmq_error_set(err, GMQ_E_INVALID_BINDKEY, "bind key required");
    if (!gmq_name_valid(bk.p, bk.len))
        return gmq_error_set(err, GMQ_E_INVALID_BINDKEY,
                             "invalid bind key: use 1..%d of [A-Za-z0-9_.-]", GMQ_NAME_MAX);
    return GMQ_OK;
}

int
gmq_ops_check_item(gmq_master_t *m, gmq_op_item_t *it, gmq_error_t *err)
{
    if (it->route_key.len > GMQ_ROUTE_KEY_MAX)
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE, "route_key is %zu bytes, longer than the "
                             "limit of %d", it->route_key.len, GMQ_ROUTE_KEY_MAX);
    if (memchr(it->route_key.p, '\0', it->route_key.len) != NULL)
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE, "route_key contains a NUL byte");
    if (it->body.len > (size_t) m->cfg.max_body)
        return gmq_error_set(err, GMQ_E_TOO_LARGE, "body is %zu bytes, larger than max_body (%ld)",
                             it->body.len, m->cfg.max_body);
    if (it->delay_ms > (uint64_t) m->cfg.max_delay * 1000)
        return gmq_error_set(err, GMQ_E_INVALID_DELAY, "delay must be a number of seconds between "
                             "0 and %d (max_delay)", m->cfg.max_delay);
    it->id = gmq_id_next(&m->ids, gmq_loop_now_ms());
    return GMQ_OK;
}

int
gmq_ops_check(gmq_master_t *m, gmq_op_req_t *op, gmq_error_t *err)
{
    switch (op->op) {
    case GMQ_OP_PUSH:
        return gmq_ops_check_item(m, &op->item, err);
    case GMQ_OP_MPUSH:
        return op->nitems > 0 ? GMQ_OK : gmq_error_set(err, GMQ_E_INVALID_PUSHNUM, "no items");
    case GMQ_OP_POP:
    case GMQ_OP_DEAD:
        if (op->wait_ms > (uint64_t) GMQ_WAIT_MAX_S * 1000)
            return gmq_error_set(err, GMQ_E_INVALID_PARAMS, "timeout must be seconds between 0 "
                                 "and %d", GMQ_WAIT_MAX_S);
        return ops_check_bind_key(op->bind_key, 0, err);
    case GMQ_OP_ACK:
        if (op->id == 0)
            return gmq_error_set(err, GMQ_E_INVALID_ACK, "msgId must be a decimal message id");
        return ops_check_bind_key(op->bind_key, 0, err);
    case GMQ_OP_REQUEUE:
    case GMQ_OP_RELEASE:
        return ops_check_bind_key(op->bind_key, 0, err);
    case GMQ_OP_DECLARE:
        return ops_check_bind_key(op->bind_key, 1, err);
    case GMQ_OP_PURGE: case GMQ_OP_DEL_QUEUE:
        return ops_check_bind_key(op->bind_key, 1, err);
    case GMQ_OP_DEL_TOPIC:
        return GMQ_OK;
    case GMQ_OP_PEEK:
        if (op->arg > GMQ_OP_PEEK_DEAD)
            return gmq_error_set(err, GMQ_E_INVALID_PARAMS, "state must be ready, delayed or dead");
        return ops_check_bind_key(op->bind_key, 1, err);
    case GMQ_OP_LIST_DEAD:
        if (op->arg < 1 || op->arg > GMQ_LIST_DEAD_MAX)
            return gmq_error_set(err, GMQ_E_INVALID_PARAMS, "limit must be a number between 1 and "
                                 "%d", GMQ_LIST_DEAD_MAX);
        return ops_check_bind_key(op->bind_key, 1, err);
    case GMQ_OP_KICK:
        if (op->arg < 1 || op->arg > GMQ_KICK_MAX)
            return gmq_error_set(err, GMQ_E_INVALID_PARAMS, "n must be a number between 1 and %d",
                                 GMQ_KICK_MAX);
        return ops_check_bind_key(op->bind_key, 1, err);
    case GMQ_OP_TOUCH: case GMQ_OP_NACK:
        if (op->id == 0)
            return gmq_error_set(err, GMQ_E_INVALID_PARAMS, "msgId must be a decimal message id");
        if (op->op == GMQ_OP_NACK && op->arg > (uint64_t) m->cfg.max_delay * 1000)
            return gmq_error_set(err, GMQ_E_INVALID_DELAY, "delay must be a number of seconds "
                                 "between 0 and %d (max_delay)", m->cfg.max_delay);
        return ops_check_bind_key(op->bind_key, 1, err);
    case GMQ_OP_MSG:
        if (op->id == 0)
            return gmq_error_set(err, GMQ_E_NOT_FOUND, "msgId must be a decimal message id");
        return GMQ_OK;
    case GMQ_OP_CONFIG:
        if (op->auto_ack < -1 || op->auto_ack > 1)
            return gmq_error_set(err, GMQ_E_INVALID_SET, "isAutoAck must be 0 or 1");
        if (op->mode == 0 || op->mode < -1 || op->mode > GMQ_MODE_MAX)
            return gmq_error_set(err, GMQ_E_INVALID_SET, "mode must be 1 (exact), 2 (regex) or 3 "
                                 "(topic wildcards)");
        if (op->ttr == 0 || op->ttr < -1 || op->ttr > GMQ_TTR_MAX_S)
            return gmq_error_set(err, GMQ_E_INVALID_SET, "msgTTR must be seconds between 1 and %d",
                                 GMQ_TTR_MAX_S);
        if (op->retry < -1 || op->retry > GMQ_RETRY_MAX)
            return gmq_error_set(err, GMQ_E_INVALID_SET, "msgRetry must be between 0 and %d",
                                 GMQ_RETRY_MAX);
        return GMQ_OK;
    case GMQ_OP_TOGGLE_ACK: case GMQ_OP_STAT: case GMQ_OP_QUEUES: case GMQ_OP_CRASH:
        return GMQ_OK;
    default:
        return gmq_error_set(err, GMQ_E_INVALID_CMD, "unknown operation");
    }
}

/* ---- submission ---- */

gmq_req_t *
gmq_ops_submit(gmq_master_t *m, gmq_conn_t *c, const char *topic, gmq_op_req_t *op,
               gmq_req_done_fn done, void *ctx, gmq_error_t *err)
{
    if (gmq_ops_check_topic(topic, strlen(topic), err) != GMQ_OK ||
        gmq_ops_check(m, op, err) != GMQ_OK)
        return NULL;
    gmq_wproc_t *w = gmq_sup_get(m->sup, topic, gmq_op_creates(op->op), err);
    if (w == NULL)
        return NULL;
    return gmq_ops_submit_to(m, c, w, op, done, ctx, err);
}

static void
ops_ignore_reply(gmq_req_t *req, const gmq_op_reply_t *r, const gmq_error_t *err)
{
    (void) req; (void) r; (void) err;
}

gmq_req_t *
gmq_ops_submit_to(gmq_master_t *m, gmq_conn_t *c, gmq_wproc_t *w, gmq_op_req_t *op,
                  gmq_req_done_fn done, void *ctx, gmq_error_t *err)
{
    if (gmq_sup_backlog(w) > (size_t) m->cfg.max_output) {
        /* the worker is not keeping up (or stopped): shed load instead of
         * growing the master's memory without bound */
        gmq_error_set(err, GMQ_E_LIMIT, "topic %s is overloaded: %zu bytes wait for its worker "
                      "(max_output is %ld); retry later", gmq_sup_topic(w), gmq_sup_backlog(w),
                      m->cfg.max_output);
        return NULL;
    }
    gmq_req_t *req = gmq_req_new(m->reqs, c, w, op->op, done ? done : ops_ignore_reply, ctx);
    if (op->op == GMQ_OP_POP || op->op == GMQ_OP_DEAD) {
        req->waits = op->forever || op->wait_ms > 0;   /* kept apart in the latency */
        size_t n = op->bind_key.len < GMQ_NAME_MAX ? op->bind_key.len : GMQ_NAME_MAX;
        memcpy(req->bind_key, op->bind_key.p, n);
        req->bind_key[n] = '\0';
    }
    if (c != NULL)
        gmq_list_push_tail(&c->reqs, &req->conn_link);
    gmq_sup_send(w, req, op);
    return req;
}

void
gmq_ops_message_json(gmq_buf_t *out, const gmq_op_reply_t *r)
{
    gmq_buf_printf(out, "{\"id\":\"%llu\",\"body\":", (unsigned long long) r->id);
    gmq_buf_json_str(out, r->body.p, r->body.len);
    gmq_buf_printf(out, ",\"retry_count\":%u}", r->retry);
}

/* ---- JSON pushes ---- */

void
gmq_ops_json_push_init(gmq_ops_json_push_t *p)
{
    memset(p, 0, sizeof(*p));
    gmq_buf_init(&p->topic);
    gmq_buf_init(&p->body);
    gmq_buf_init(&p->route_key);
}

void
gmq_ops_json_push_free(gmq_ops_json_push_t *p)
{
    gmq_buf_free(&p->topic);
    gmq_buf_free(&p->body);
    gmq_buf_free(&p->route_key);
}

/* a value of the wrong type for a field we know stops the parse */
static int
ops_j_value(ops_jctx_t *j)
{
    if (j->depth == 1 && j->key != JK_OTHER && j->bad == NULL) {
        j->bad = j->key == JK_BODY ? "body must be a string"
               : j->key == JK_TOPIC ? "topic must be a string"
               : j->key == JK_ROUTE ? "route_key must be a string"
               : "delay must be an integer number of seconds";
        return 0;
    }
    return 1;
}

static int
ops_j_null(void *ctx)
{
    ops_jctx_t *j = ctx;
    if (j->depth == 1 && (j->key == JK_ROUTE || j->key == JK_DELAY || j->key == JK_TOPIC))
        return 1;     /* null = left out */
    return ops_j_value(j);
}

static int
ops_j_bool(void *ctx, int v)
{
    (void) v;
    return ops_j_value(ctx);
}

static int
ops_j_integer(void *ctx, long long v)
{
    ops_jctx_t *j = ctx;
    if (j->depth == 1 && j->key == JK_DELAY) {
        j->p->has_delay = 1;
        j->p->delay = v;
        return 1;
    }
    return ops_j_value(j);
}

static int
ops_j_double(void *ctx, double v)
{
    (void) v;
    return ops_j_value(ctx);
}

static int
ops_j_string(void *ctx, const unsigned char *s, size_t len)
{
    ops_jctx_t *j = ctx;
    if (j->depth != 1)
        return 1;
    gmq_buf_t *dst = j->key == JK_BODY ? &j->p->body : j->key == JK_TOPIC ? &j->p->topic
                   : j->key == JK_ROUTE ? &j->p->route_key : NULL;
    if (j->key == JK_DELAY)
        return ops_j_value(j);
    if (dst == NULL)
        return 1;
    gmq_buf_reset(dst);
    gmq_buf_append(dst, s, len);
    if (j->key == JK_BODY)
        j->p->has_body = 1;
    if (j->key == JK_TOPIC)
        j->p->has_topic = 1;
    return 1;
}

static int
ops_j_start(void *ctx)
{
    ops_jctx_t *j = ctx;
    if (!j->started) {
        j->started = 1;
        j->depth = 1;
        return 1;
    }
    if (j->depth == 1 && !ops_j_value(j))
        return 0;
    j->depth++;
    return 1;
}

static int
ops_j_key(void *ctx, const unsigned char *k, size_t len)
{
    ops_jctx_t *j = ctx;
    if (j->depth != 1)
        return 1;
    j->key = len == 4 && memcmp(k, "body", 4) == 0 ? JK_BODY
           : len == 5 && memcmp(k, "topic", 5) == 0 ? JK_TOPIC
           : len == 5 && memcmp(k, "delay", 5) == 0 ? JK_DELAY
           : (len == 9 && memcmp(k, "route_key", 9) == 0) ||
             (len == 8 && memcmp(k, "routeKey", 8) == 0) ? JK_ROUTE : JK_OTHER;
    return 1;
}

static int
ops_j_end(void *ctx)
{
    ops_jctx_t *j = ctx;
    j->depth--;
    return 1;
}

static int
ops_j_start_array(void *ctx)
{
    ops_jctx_t *j = ctx;
    if (!j->started) {
        j->bad = "not an object";
        return 0;
    }
    if (j->depth == 1 && !ops_j_value(j))
        return 0;
    j->depth++;
    return 1;
}

static const yajl_callbacks ops_jcb = {
    .yajl_null = ops_j_null,
    .yajl_boolean = ops_j_bool,
    .yajl_integer = ops_j_integer,
    .yajl_double = ops_j_double,
    .yajl_string = ops_j_string,
    .yajl_start_map = ops_j_start,
    .yajl_map_key = ops_j_key,
    .yajl_end_map = ops_j_end,
    .yajl_start_array = ops_j_start_array,
    .yajl_end_array = ops_j_end,
};

int
gmq_ops_json_push_parse(gmq_ops_json_push_t *p, const char *js, size_t len, gmq_error_t *err)
{
    ops_jctx_t j = { .p = p };
    yajl_handle h = yajl_alloc(&ops_jcb, NULL, &j);
    yajl_status st = yajl_parse(h, (const unsigned char *) js, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    int rc = GMQ_OK;
    if (st == yajl_status_client_canceled || (st == yajl_status_ok && !j.started)) {
        rc = j.bad != NULL && strcmp(j.bad, "not an object") != 0
             ? gmq_error_set(err, GMQ_E_INVALID_PUSH, "%s", j.bad)
             : gmq_error_set(err, GMQ_E_INVALID_JSON, "invalid JSON: not an object");
    } else if (st != yajl_status_ok) {
        unsigned char *e = yajl_get_error(h, 0, (const unsigned char *) js, len);
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", (const char *) e);
        msg[strcspn(msg, "\r\n")] = '\0';
        yajl_free_error(h, e);
        rc = gmq_error_set(err, GMQ_E_INVALID_JSON, "invalid JSON: %s", msg);
    }
    yajl_free(h);
    return rc;
}

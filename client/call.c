/*
 * call.c - libgmq's calls: a request checked and encoded once with the
 * proto/tcp codec (kept for a resend), the reply frames decoded into a
 * gmqReply (106 raw messages, results, errors with their E_ code), the rules
 * for what may be retried, and the public helpers for options, replies and
 * messages.
 */
#include "client/lib.h"
#include "proto/tcp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define CALL_ROUTE_KEY_MAX 1024      /* the node's limit (GMQ_ROUTE_KEY_MAX) */
#define CALL_WAIT_MAX_S    86400     /* pop/dead timeout (GMQ_WAIT_MAX_S) */

/* what a JSON answer holds (the fields libgmq reads) */
typedef struct {
    int        depth;
    int        bad;
    char       key[32];
    int        top_array;
    /* a message object */
    gmq_buf_t  body;
    int        has_body, has_id;
    uint64_t   id, retry, pushed, due;
    int        truncated;
    char       state[8];
    /* {"requeued":n}, {"deadline":n} */
    const char *want;
    uint64_t   value;
    int        has_value;
    /* [id, ...] */
    uint64_t  *ids;
    size_t     nids, cap;
} call_json_t;

static int   call_check(const char *what, const char *s, int required, size_t max, char *err,
                        size_t errlen, int *rc);
static void  call_set_names(gmq_call_t *c, const char *topic, const char *bk);
static int   call_encode_mpub(gmq_call_t *c, const gmqRequest *req, char *err, size_t errlen);
static int   call_json(const char *data, size_t len, call_json_t *j);
static void  call_json_free(call_json_t *j);
static gmqMessage *call_message(const gmq_call_t *c, const char *node);
static char *call_strndup(const char *s, size_t n);

static const struct {
    int         rc;
    const char *name;
} call_rc_names[] = {
    { GMQ_OK, "GMQ_OK" },                       { GMQ_NO_MESSAGE, "GMQ_NO_MESSAGE" },
    { GMQ_ERR_SERVER, "GMQ_ERR_SERVER" },       { GMQ_ERR_UNKNOWN, "GMQ_ERR_UNKNOWN" },
    { GMQ_ERR_IO, "GMQ_ERR_IO" },               { GMQ_ERR_PROTOCOL, "GMQ_ERR_PROTOCOL" },
    { GMQ_ERR_ARGS, "GMQ_ERR_ARGS" },           { GMQ_ERR_TLS, "GMQ_ERR_TLS" },
    { GMQ_ERR_DISCOVERY, "GMQ_ERR_DISCOVERY" }, { GMQ_ERR_CLOSED, "GMQ_ERR_CLOSED" },
    { GMQ_ERR_STATE, "GMQ_ERR_STATE" },
};

/* ---- public helpers ---- */

const char *
gmqStrerror(int rc)
{
    for (size_t i = 0; i < GMQ_ARRAY_LEN(call_rc_names); i++)
        if (call_rc_names[i].rc == rc)
            return call_rc_names[i].name;
    return "GMQ_UNKNOWN";
}

void
gmqOptionsInit(gmqOptions *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 5000;
    o->io_timeout_ms = 15000;
    o->reconnect = 1;
    o->backoff_min_ms = 100;
    o->backoff_max_ms = 2000;
    o->retry_timeout_ms = 30000;
    o->tls_verify = 1;
    o->etcd_timeout_ms = 3000;
    o->max_frame = (64u << 20) + (64u << 10);
}

void
gmqMessageFree(gmqMessage *m)
{
    if (m == NULL)
        return;
    free(m->body);
    free(m);
}

void
gmqReplyFree(gmqReply *r)
{
    if (r == NULL)
        return;
    free(r->errstr);
    free(r->ids);
    free(r->text);
    gmqMessageFree(r->msg);
    free(r);
}

gmqMessage *
gmqReplyTakeMessage(gmqReply *r)
{
    if (r == NULL)
        return NULL;
    gmqMessage *m = r->msg;
    r->msg = NULL;
    return m;
}

/* ---- options ---- */

void
gmq_call_options(gmqOptions *dst, const gmqOptions *src)
{
    gmqOptions def;
    gmqOptionsInit(&def);
    *dst = src ? *src : def;
    if (dst->connect_timeout_ms <= 0) dst->connect_timeout_ms = def.connect_timeout_ms;
    if (dst->io_timeout_ms <= 0)      dst->io_timeout_ms = def.io_timeout_ms;
    if (dst->backoff_min_ms <= 0)     dst->backoff_min_ms = def.backoff_min_ms;
    if (dst->backoff_max_ms < dst->backoff_min_ms)
        dst->backoff_max_ms = dst->backoff_min_ms;
    if (dst->retry_timeout_ms <= 0)   dst->retry_timeout_ms = def.retry_timeout_ms;
    if (dst->etcd_timeout_ms <= 0)    dst->etcd_timeout_ms = def.etcd_timeout_ms;
    if (dst->max_frame == 0)          dst->max_frame = def.max_frame;
    const char **strs[] = { &dst->auth_token, &dst->tls_ca_file, &dst->tls_cert_file,
                            &dst->tls_key_file, &dst->tls_server_name, &dst->etcd_ca_file };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(strs); i++)
        *strs[i] = *strs[i] && (*strs[i])[0] ? gmq_xstrdup(*strs[i]) : NULL;
}

void
gmq_call_options_free(gmqOptions *o)
{
    free((char *) o->auth_token);
    free((char *) o->tls_ca_file);
    free((char *) o->tls_cert_file);
    free((char *) o->tls_key_file);
    free((char *) o->tls_server_name);
    free((char *) o->etcd_ca_file);
}

/* ---- requests ---- */

gmq_call_t *
gmq_call_new(gmqAsyncContext *ac, const gmqRequest *req, int *rc, char *err, size_t errlen)
{
    char ids[24], nums[4][24];
    const char *argv[GMQ_TCP_MAX_ARGS];
    int argc = 0;
    gmq_tcp_cmd_t cmd = GMQ_TCP_CMD_NONE;
    const char *topic = req->topic, *bk = req->bind_key ? req->bind_key : "";
    uint64_t id = req->id;
    const void *body = NULL;
    size_t blen = 0;
    int has_body = 0;

    *rc = GMQ_ERR_ARGS;
    if (req->msg != NULL && (req->call == GMQ_CALL_ACK || req->call == GMQ_CALL_TOUCH ||
                             req->call == GMQ_CALL_RELEASE)) {
        topic = req->msg->topic;
        bk = req->msg->bind_key;
        id = req->msg->id;
    }
    gmq_call_t *c = gmq_xcalloc(1, sizeof(*c));
    c->ac = ac;
    c->call = req->call;
    gmq_buf_init(&c->wire);
    gmq_list_init(&c->link);

    int needs_topic = req->call != GMQ_CALL_PING && req->call != GMQ_CALL_SUBSCRIBE &&
                      req->call != GMQ_CALL_UNSUBSCRIBE && req->call != GMQ_CALL_PUBLISH;
    if (needs_topic && call_check("topic", topic, 1, GMQ_NAME_LEN, err, errlen, rc) != GMQ_OK)
        goto fail;
    if (req->call == GMQ_CALL_PUB) {
        if (call_check("route key", bk, 0, CALL_ROUTE_KEY_MAX, err, errlen, rc) != GMQ_OK)
            goto fail;
    } else if (call_check("bind key", bk, 0, GMQ_NAME_LEN, err, errlen, rc) != GMQ_OK) {
        goto fail;
    }
    if ((req->call == GMQ_CALL_SUBSCRIBE || req->call == GMQ_CALL_UNSUBSCRIBE ||
         req->call == GMQ_CALL_PUBLISH) &&
        call_check("channel", req->channel, 1, GMQ_NAME_LEN, err, errlen, rc) != GMQ_OK)
        goto fail;
    if (req->len > UINT32_MAX || (req->len > 0 && req->body == NULL)) {
        snprintf(err, errlen, "body: %zu bytes %s", req->len,
                 req->body == NULL ? "but no pointer" : "is over 4 GiB");
        goto fail;
    }
    snprintf(ids, sizeof(ids), "%" PRIu64, id);

    switch (req->call) {
    case GMQ_CALL_PUB:
        cmd = GMQ_TCP_CMD_PUB;
        snprintf(nums[0], sizeof(nums[0]), "%u", req->delay_s);
        argv[argc++] = topic; argv[argc++] = bk; argv[argc++] = nums[0];
        body = req->body ? req->body : ""; blen = req->len; has_body = 1;
        c->publish = 1;
        break;
    case GMQ_CALL_MPUB:
        call_set_names(c, topic, bk);
        if (call_encode_mpub(c, req, err, errlen) != GMQ_OK)
            goto fail;
        c->publish = 1;
        *rc = GMQ_OK;
        return c;
    case GMQ_CALL_POP:
    case GMQ_CALL_DEAD:
        cmd = req->call == GMQ_CALL_POP ? GMQ_TCP_CMD_POP : GMQ_TCP_CMD_DEAD;
        argv[argc++] = topic; argv[argc++] = bk;
        if (req->timeout_s < -1 || req->timeout_s > CALL_WAIT_MAX_S) {
            snprintf(err, errlen, "timeout_s must be -1 or 0..%d", CALL_WAIT_MAX_S);
            goto fail;
        }
        if (req->timeout_s >= 0) {
            snprintf(nums[0], sizeof(nums[0]), "%d", req->timeout_s);
            argv[argc++] = nums[0];
        }
        argv[argc++] = GMQ_TCP_ARG_RAW;
        c->waits = req->timeout_s > 0 || (req->timeout_s < 0 && req->call == GMQ_CALL_POP);
        c->idempotent = 1;
        break;
    case GMQ_CALL_ACK:
        cmd = GMQ_TCP_CMD_ACK;
        argv[argc++] = ids; argv[argc++] = topic; argv[argc++] = bk;
        c->idempotent = 1;
        break;
    case GMQ_CALL_REQUEUE:
        cmd = GMQ_TCP_CMD_REQUEUE;
        argv[argc++] = topic; argv[argc++] = bk;
        if (id != 0)
            argv[argc++] = ids;
        break;
    case GMQ_CALL_PEEK:
        cmd = GMQ_TCP_CMD_PEEK;
        argv[argc++] = topic; argv[argc++] = bk;
        if (req->state != NULL && req->state[0]) {
            if (call_check("state", req->state, 1, 16, err, errlen, rc) != GMQ_OK)
                goto fail;
            argv[argc++] = req->state;
        }
        c->idempotent = 1;
        break;
    case GMQ_CALL_TOUCH:
    case GMQ_CALL_RELEASE:
        cmd = req->call == GMQ_CALL_TOUCH ? GMQ_TCP_CMD_TOUCH : GMQ_TCP_CMD_RELEASE;
        argv[argc++] = topic; argv[argc++] = bk; argv[argc++] = ids;
        if (req->call == GMQ_CALL_RELEASE && req->delay_s > 0) {
            snprintf(nums[0], sizeof(nums[0]), "%u", req->delay_s);
            argv[argc++] = nums[0];
        }
        c->idempotent = 1;
        break;
    case GMQ_CALL_STATS:
        cmd = GMQ_TCP_CMD_STATS;
        argv[argc++] = topic;
        c->idempotent = 1;
        break;
    case GMQ_CALL_DECLARE:
        cmd = GMQ_TCP_CMD_QUEUE;
        argv[argc++] = topic; argv[argc++] = bk;
        break;
    case GMQ_CALL_SET:
        cmd = GMQ_TCP_CMD_SET;
        argv[argc++] = topic;
        snprintf(nums[0], sizeof(nums[0]), "%d", req->auto_ack);
        argv[argc++] = nums[0];
        if (req->mode != 0) {
            snprintf(nums[1], sizeof(nums[1]), "%d", req->mode);
            snprintf(nums[2], sizeof(nums[2]), "%d", req->ttr_s);
            snprintf(nums[3], sizeof(nums[3]), "%d", req->retry);
            argv[argc++] = nums[1]; argv[argc++] = nums[2]; argv[argc++] = nums[3];
        }
        c->idempotent = 1;
        break;
    case GMQ_CALL_PING:
        cmd = GMQ_TCP_CMD_PING;
        c->idempotent = 1;
        break;
    case GMQ_CALL_SUBSCRIBE:
    case GMQ_CALL_UNSUBSCRIBE:
        cmd = req->call == GMQ_CALL_SUBSCRIBE ? GMQ_TCP_CMD_SUBSCRIBE : GMQ_TCP_CMD_UNSUBSCRIBE;
        argv[argc++] = req->channel;
        c->channel = gmq_xstrdup(req->channel);
        c->idempotent = 1;
        break;
    case GMQ_CALL_PUBLISH:
        cmd = GMQ_TCP_CMD_PUBLISH;
        argv[argc++] = req->channel;
        body = req->body ? req->body : ""; blen = req->len; has_body = 1;
        c->publish = 1;
        break;
    default:
        snprintf(err, errlen, "unknown call %d", (int) req->call);
        goto fail;
    }
    if ((req->call == GMQ_CALL_ACK || req->call == GMQ_CALL_TOUCH ||
         req->call == GMQ_CALL_RELEASE) && req->msg != NULL)
        snprintf(c->pin, sizeof(c->pin), "%s", req->msg->node);
    call_set_names(c, topic, bk);
    gmq_tcp_put_cmd(&c->wire, cmd, argc, argv);
    if (c->wire.len - 1 > GMQ_LIB_LINE_MAX) {
        snprintf(err, errlen, "command line of %zu bytes is longer than max_line (%d)",
                 c->wire.len - 1, GMQ_LIB_LINE_MAX);
        goto fail;
    }
    if (has_body)
        gmq_tcp_put_body(&c->wire, body, blen);
    *rc = GMQ_OK;
    return c;
fail:
    gmq_call_free(c);
    return NULL;
}

gmq_call_t *
gmq_call_internal(gmqAsyncContext *ac, int call, const char *arg)
{
    gmq_call_t *c = gmq_xcalloc(1, sizeof(*c));
    c->ac = ac;
    c->call = (gmqCall) call;
    c->internal = 1;
    gmq_buf_init(&c->wire);
    gmq_list_init(&c->link);
    gmq_tcp_put_cmd(&c->wire, call == GMQ_CALL_SUBSCRIBE ? GMQ_TCP_CMD_SUBSCRIBE
                            : call == GMQ_CALL_UNSUBSCRIBE ? GMQ_TCP_CMD_UNSUBSCRIBE : GMQ_TCP_CMD_AUTH,
                    1, &arg);
    return c;
}

void
gmq_call_free(gmq_call_t *c)
{
    if (c == NULL)
        return;
    gmq_buf_free(&c->wire);
    gmqReplyFree(c->last);
    free(c->channel);
    free(c);
}

gmqReply *
gmq_call_reply_new(const gmq_call_t *c, int rc, const char *fmt, ...)
{
    gmqReply *r = gmq_xcalloc(1, sizeof(*r));
    r->rc = rc;
    r->call = c->call;
    r->privdata = c->privdata;
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    r->errstr = gmq_xmalloc((size_t) (n > 0 ? n : 0) + 1);
    vsnprintf(r->errstr, (size_t) (n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
    r->text = gmq_xstrdup("");
    return r;
}

/* ---- replies ---- */

gmqReply *
gmq_call_decode(const gmq_call_t *c, const char *node, uint16_t type, const char *data, size_t len)
{
    int is_get = c->call == GMQ_CALL_POP || c->call == GMQ_CALL_DEAD;
    gmqReply *r = gmq_call_reply_new(c, GMQ_OK, "%s", "");
    free(r->text);
    r->text = call_strndup(data, len);
    r->len = len;
    call_json_t j;
    memset(&j, 0, sizeof(j));
    gmq_buf_init(&j.body);

    if (type == GMQ_TCP_ERROR) {
        if ((is_get || c->call == GMQ_CALL_PEEK) && len == 10 && memcmp(data, "no message", 10) == 0) {
            r->rc = GMQ_NO_MESSAGE;
            return r;
        }
        r->rc = GMQ_ERR_SERVER;
        free(r->errstr);
        r->errstr = call_strndup(data, len);
        const char *sep = strstr(r->errstr, " - ");
        if (sep != NULL && strncmp(r->errstr, "E_", 2) == 0 &&
            (size_t) (sep - r->errstr) < sizeof(r->errcode))
            memcpy(r->errcode, r->errstr, (size_t) (sep - r->errstr));
        unsigned long long k, n;
        const char *p = strrchr(r->errstr, '(');
        if (c->call == GMQ_CALL_MPUB && p != NULL && sscanf(p, "(%llu of %llu stored)", &k, &n) == 2)
            r->value = k;
        return r;
    }
    if (type == GMQ_TCP_RAW && is_get) {
        uint64_t id;
        uint32_t retry;
        const char *body;
        size_t blen;
        if (gmq_tcp_raw_decode(data, len, &id, &retry, &body, &blen) != GMQ_OK)
            goto bad;
        r->msg = call_message(c, node);
        r->msg->id = id;
        r->msg->retry_count = retry;
        r->msg->body = call_strndup(body, blen);
        r->msg->len = blen;
        return r;
    }
    if ((type == GMQ_TCP_MESSAGE && is_get) || (type == GMQ_TCP_RESULT && c->call == GMQ_CALL_PEEK)) {
        if (call_json(data, len, &j) != GMQ_OK || !j.has_id || !j.has_body)
            goto bad;
        r->msg = call_message(c, node);
        r->msg->id = j.id;
        r->msg->retry_count = (uint32_t) j.retry;
        r->msg->len = j.body.len;
        r->msg->body = call_strndup(j.body.data ? j.body.data : "", j.body.len);
        snprintf(r->msg->state, sizeof(r->msg->state), "%s", j.state);
        r->msg->pushed_at_ms = j.pushed;
        r->msg->due_at_ms = j.due;
        r->msg->truncated = j.truncated;
        call_json_free(&j);
        return r;
    }
    if (type != GMQ_TCP_RESULT || is_get)
        goto bad;
    switch (c->call) {
    case GMQ_CALL_PUB:
        if (gmq_parse_u64(data, len, UINT64_MAX, &r->id) != GMQ_OK)
            goto bad;
        break;
    case GMQ_CALL_MPUB:
        if (call_json(data, len, &j) != GMQ_OK || !j.top_array || j.nids != c->nitems)
            goto bad;
        r->ids = j.ids;
        r->nids = j.nids;
        r->value = j.nids;
        j.ids = NULL;
        break;
    case GMQ_CALL_REQUEUE:
    case GMQ_CALL_TOUCH:
        j.want = c->call == GMQ_CALL_REQUEUE ? "requeued" : "deadline";
        if (call_json(data, len, &j) != GMQ_OK || !j.has_value)
            goto bad;
        r->value = j.value;
        break;
    default:
        break;
    }
    call_json_free(&j);
    return r;
bad:
    call_json_free(&j);
    gmqReplyFree(r);
    return NULL;
}

int
gmq_call_classify(const char *errcode, const char *text)
{
    if (strcmp(errcode, "E_UNAVAILABLE") != 0)
        return GMQ_RETRY_NO;
    if (strstr(text, "its outcome is unknown") != NULL)
        return GMQ_RETRY_MAYBE;
    if (strstr(text, "nothing was done") != NULL || strstr(text, "; retry") != NULL ||
        strstr(text, "shutting down") != NULL)
        return GMQ_RETRY_SAFE;
    return GMQ_RETRY_NO;       /* crash loop, fatal state, fork failure: a person must look */
}

/* ---- static helpers ---- */

/* a token of the command line: NULL or "" only when not required, no byte
 * that would split or end the line, at most max bytes */
static int
call_check(const char *what, const char *s, int required, size_t max, char *err, size_t errlen,
           int *rc)
{
    *rc = GMQ_ERR_ARGS;
    if (s == NULL || s[0] == '\0') {
        if (!required)
            return GMQ_OK;
        snprintf(err, errlen, "%s is required", what);
        return GMQ_ERR;
    }
    size_t n = strlen(s);
    if (n > max) {
        snprintf(err, errlen, "%s is %zu bytes, longer than %zu", what, n, max);
        return GMQ_ERR;
    }
    if (strpbrk(s, " \n\r") != NULL) {
        snprintf(err, errlen, "%s must not contain spaces or line ends", what);
        return GMQ_ERR;
    }
    return GMQ_OK;
}

static void
call_set_names(gmq_call_t *c, const char *topic, const char *bk)
{
    snprintf(c->topic, sizeof(c->topic), "%s", topic ? topic : "");
    snprintf(c->bind_key, sizeof(c->bind_key), "%s", bk && bk[0] ? bk : "default");
}

/* mpub <topic> <n>, then n JSON items {"body","route_key","delay"} */
static int
call_encode_mpub(gmq_call_t *c, const gmqRequest *req, char *err, size_t errlen)
{
    if (req->nitems < 1 || req->nitems > GMQ_LIB_MPUB_MAX || req->items == NULL) {
        snprintf(err, errlen, "mpub needs 1..%d items", GMQ_LIB_MPUB_MAX);
        return GMQ_ERR;
    }
    char n[16];
    snprintf(n, sizeof(n), "%zu", req->nitems);
    const char *argv[] = { req->topic, n };
    gmq_tcp_put_cmd(&c->wire, GMQ_TCP_CMD_MPUB, 2, argv);
    gmq_buf_t item;
    gmq_buf_init(&item);
    for (size_t i = 0; i < req->nitems; i++) {
        const gmqPubItem *it = &req->items[i];
        const char *rk = it->route_key ? it->route_key : "";
        int rc;
        if ((it->len > 0 && it->body == NULL) ||
            !gmq_utf8_valid(it->body ? it->body : "", it->len)) {
            snprintf(err, errlen, "mpub item %zu: the body must be valid UTF-8 (mpub items are "
                     "JSON); publish binary bodies with pub", i + 1);
            gmq_buf_free(&item);
            return GMQ_ERR;
        }
        if (call_check("route key", rk, 0, CALL_ROUTE_KEY_MAX, err, errlen, &rc) != GMQ_OK ||
            !gmq_utf8_valid(rk, strlen(rk))) {
            snprintf(err, errlen, "mpub item %zu: bad route key", i + 1);
            gmq_buf_free(&item);
            return GMQ_ERR;
        }
        gmq_buf_reset(&item);
        gmq_buf_append_str(&item, "{\"body\":");
        gmq_buf_json_str(&item, it->body ? it->body : "", it->len);
        gmq_buf_append_str(&item, ",\"route_key\":");
        gmq_buf_json_str(&item, rk, strlen(rk));
        gmq_buf_printf(&item, ",\"delay\":%u}", it->delay_s);
        gmq_tcp_put_body(&c->wire, item.data, item.len);
    }
    gmq_buf_free(&item);
    c->nitems = (uint32_t) req->nitems;
    return GMQ_OK;
}

static gmqMessage *
call_message(const gmq_call_t *c, const char *node)
{
    gmqMessage *m = gmq_xcalloc(1, sizeof(*m));
    memcpy(m->topic, c->topic, sizeof(m->topic));
    memcpy(m->bind_key, c->bind_key, sizeof(m->bind_key));
    m->dead = c->call == GMQ_CALL_DEAD;
    snprintf(m->node, sizeof(m->node), "%s", node);
    return m;
}

static char *
call_strndup(const char *s, size_t n)
{
    char *p = gmq_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- JSON answers (yajl's event parser keeps NUL bytes in strings) ---- */

static int
call_key_is(const call_json_t *j, const char *k)
{
    return j->depth == 1 && strcmp(j->key, k) == 0;
}

static int
call_on_integer(void *ctx, long long v)
{
    call_json_t *j = ctx;
    if (j->top_array && j->depth == 1) {
        if (j->nids == j->cap) {
            j->cap = j->cap ? j->cap * 2 : 16;
            j->ids = gmq_xrealloc(j->ids, j->cap * sizeof(*j->ids));
        }
        j->ids[j->nids++] = (uint64_t) v;
        return 1;
    }
    if (call_key_is(j, "retry_count")) j->retry = (uint64_t) v;
    else if (call_key_is(j, "pushed_at")) j->pushed = (uint64_t) v;
    else if (call_key_is(j, "due_at")) j->due = (uint64_t) v;
    if (j->want != NULL && call_key_is(j, j->want)) {
        j->value = (uint64_t) v;
        j->has_value = 1;
    }
    return 1;
}

static int
call_on_double(void *ctx, double v)
{
    (void) v;
    ((call_json_t *) ctx)->bad = 1;      /* ids and counts are integers */
    return 0;
}

static int
call_on_bool(void *ctx, int v)
{
    call_json_t *j = ctx;
    if (call_key_is(j, "truncated"))
        j->truncated = v;
    return 1;
}

static int
call_on_string(void *ctx, const unsigned char *s, size_t len)
{
    call_json_t *j = ctx;
    if (call_key_is(j, "id")) {
        j->has_id = gmq_parse_u64((const char *) s, len, UINT64_MAX, &j->id) == GMQ_OK;
    } else if (call_key_is(j, "body")) {
        gmq_buf_append(&j->body, s, len);
        j->has_body = 1;
    } else if (call_key_is(j, "state")) {
        snprintf(j->state, sizeof(j->state), "%.*s", (int) len, (const char *) s);
    }
    return 1;
}

static int
call_on_key(void *ctx, const unsigned char *s, size_t len)
{
    call_json_t *j = ctx;
    snprintf(j->key, sizeof(j->key), "%.*s", (int) (len < sizeof(j->key) ? len : 0),
             (const char *) s);
    return 1;
}

static int
call_on_open(void *ctx)
{
    call_json_t *j = ctx;
    j->depth++;
    j->key[0] = '\0';
    return 1;
}

static int
call_on_open_array(void *ctx)
{
    call_json_t *j = ctx;
    if (j->depth == 0)
        j->top_array = 1;
    j->depth++;
    return 1;
}

static int
call_on_close(void *ctx)
{
    ((call_json_t *) ctx)->depth--;
    return 1;
}

static int
call_on_null(void *ctx)
{
    (void) ctx;
    return 1;
}

static const yajl_callbacks call_json_cbs = {
    .yajl_null = call_on_null,
    .yajl_boolean = call_on_bool,
    .yajl_integer = call_on_integer,
    .yajl_double = call_on_double,
    .yajl_string = call_on_string,
    .yajl_start_map = call_on_open,
    .yajl_map_key = call_on_key,
    .yajl_end_map = call_on_close,
    .yajl_start_array = call_on_open_array,
    .yajl_end_array = call_on_close,
};

static int
call_json(const char *data, size_t len, call_json_t *j)
{
    yajl_handle h = yajl_alloc(&call_json_cbs, NULL, j);
    int ok = yajl_parse(h, (const unsigned char *) data, len) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok && !j->bad;
    yajl_free(h);
    return ok ? GMQ_OK : GMQ_ERR;
}

static void
call_json_free(call_json_t *j)
{
    gmq_buf_free(&j->body);
    free(j->ids);
    j->ids = NULL;
}

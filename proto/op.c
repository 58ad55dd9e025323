/*
 * op.c - binary codecs of the typed worker operations, their replies and
 * the worker settings. Pure functions over buffers; every decoder checks
 * each length against what is left and against the shared limits.
 */
#include "op.h"

#include <openssl/crypto.h>

#include <string.h>

typedef struct {
    const char *p, *end;
    int         bad;
} op_rd_t;

static const char *const op_names[GMQ_OP__COUNT] = {
    [GMQ_OP_NONE] = "none",       [GMQ_OP_PUSH] = "push",     [GMQ_OP_MPUSH] = "mpush",
    [GMQ_OP_POP] = "pop",         [GMQ_OP_DEAD] = "dead",     [GMQ_OP_ACK] = "ack",
    [GMQ_OP_REQUEUE] = "requeue", [GMQ_OP_RELEASE] = "release", [GMQ_OP_CONFIG] = "config",
    [GMQ_OP_TOGGLE_ACK] = "toggle_ack", [GMQ_OP_DECLARE] = "declare", [GMQ_OP_STAT] = "stat",
    [GMQ_OP_QUEUES] = "queues",   [GMQ_OP_MSG] = "msg",       [GMQ_OP_CRASH] = "crash",
    [GMQ_OP_PURGE] = "purge",     [GMQ_OP_DEL_QUEUE] = "delete_queue",
    [GMQ_OP_DEL_TOPIC] = "delete_topic", [GMQ_OP_PEEK] = "peek", [GMQ_OP_LIST_DEAD] = "list_dead",
    [GMQ_OP_KICK] = "kick",       [GMQ_OP_TOUCH] = "touch",   [GMQ_OP_NACK] = "nack",
};

static int op_is_admin(gmq_op_t op);

static uint64_t     op_rd_u64(op_rd_t *r);
static uint32_t     op_rd_u32(op_rd_t *r);
static uint16_t     op_rd_u16(op_rd_t *r);
static uint8_t      op_rd_u8(op_rd_t *r);
static gmq_op_str_t op_rd_bytes(op_rd_t *r, size_t len, size_t max);
static void         op_put_name(gmq_buf_t *b, gmq_op_str_t s);
static int          op_rd_item(op_rd_t *r, gmq_op_item_t *it);

const char *
gmq_op_name(gmq_op_t op)
{
    return (unsigned) op < GMQ_OP__COUNT && op_names[op] ? op_names[op] : "unknown";
}

int
gmq_op_mutates(gmq_op_t op)
{
    switch (op) {
    case GMQ_OP_PUSH: case GMQ_OP_MPUSH: case GMQ_OP_POP: case GMQ_OP_DEAD: case GMQ_OP_ACK:
    case GMQ_OP_REQUEUE: case GMQ_OP_RELEASE: case GMQ_OP_CONFIG: case GMQ_OP_TOGGLE_ACK:
    case GMQ_OP_DECLARE: case GMQ_OP_PURGE: case GMQ_OP_DEL_QUEUE: case GMQ_OP_DEL_TOPIC:
    case GMQ_OP_KICK: case GMQ_OP_TOUCH: case GMQ_OP_NACK:
        return 1;
    default:
        return 0;
    }
}

static int
op_is_admin(gmq_op_t op)
{
    return op >= GMQ_OP_PURGE && op <= GMQ_OP_NACK;
}

int
gmq_op_creates(gmq_op_t op)
{
    return op == GMQ_OP_PUSH || op == GMQ_OP_MPUSH || op == GMQ_OP_POP || op == GMQ_OP_CONFIG ||
           op == GMQ_OP_DECLARE;
}

/* ---- requests ---- */

size_t
gmq_op_req_size(const gmq_op_req_t *r)
{
    size_t bk = 2 + r->bind_key.len;
    if (op_is_admin(r->op))
        return 2 + bk + 8 + 8 + 1;
    switch (r->op) {
    case GMQ_OP_PUSH:
        return 2 + gmq_op_item_size(r->item.route_key.len, r->item.body.len);
    case GMQ_OP_MPUSH:
        return 2 + 4 + r->items.len;
    case GMQ_OP_POP:
        return 2 + bk + 8 + 1;
    case GMQ_OP_DEAD:
        return 2 + bk + 8;
    case GMQ_OP_ACK: case GMQ_OP_REQUEUE: case GMQ_OP_RELEASE:
        return 2 + bk + 8;
    case GMQ_OP_CONFIG:
        return 2 + 16;
    case GMQ_OP_DECLARE:
        return 2 + bk;
    case GMQ_OP_MSG:
        return 2 + 8;
    case GMQ_OP_CRASH:
        return 2 + 4 + 4;
    default:
        return 2;
    }
}

void
gmq_op_req_encode(gmq_buf_t *b, const gmq_op_req_t *r)
{
    gmq_buf_put_u16(b, (uint16_t) r->op);
    if (op_is_admin(r->op)) {
        unsigned char f = (unsigned char) r->flags;
        op_put_name(b, r->bind_key);
        gmq_buf_put_u64(b, r->id);
        gmq_buf_put_u64(b, r->arg);
        gmq_buf_append(b, &f, 1);
        return;
    }
    switch (r->op) {
    case GMQ_OP_PUSH:
        gmq_op_item_put(b, &r->item);
        break;
    case GMQ_OP_MPUSH:
        gmq_buf_put_u32(b, r->nitems);
        gmq_buf_append(b, r->items.p, r->items.len);
        break;
    case GMQ_OP_POP:
    case GMQ_OP_DEAD:
        op_put_name(b, r->bind_key);
        gmq_buf_put_u64(b, r->wait_ms);
        if (r->op == GMQ_OP_POP)
            gmq_buf_append(b, r->forever ? "\1" : "\0", 1);
        break;
    case GMQ_OP_ACK: case GMQ_OP_REQUEUE: case GMQ_OP_RELEASE:
        op_put_name(b, r->bind_key);
        gmq_buf_put_u64(b, r->id);
        break;
    case GMQ_OP_CONFIG:
        gmq_buf_put_u32(b, (uint32_t) r->auto_ack);
        gmq_buf_put_u32(b, (uint32_t) r->mode);
        gmq_buf_put_u32(b, (uint32_t) r->ttr);
        gmq_buf_put_u32(b, (uint32_t) r->retry);
        break;
    case GMQ_OP_DECLARE:
        op_put_name(b, r->bind_key);
        break;
    case GMQ_OP_MSG:
        gmq_buf_put_u64(b, r->id);
        break;
    case GMQ_OP_CRASH:
        gmq_buf_put_u32(b, r->code);
        gmq_buf_put_u32(b, r->linger_ms);
        break;
    default:
        break;
    }
}

int
gmq_op_req_decode(const char *p, size_t len, gmq_op_req_t *r)
{
    op_rd_t rd = { p, p + len, 0 };
    memset(r, 0, sizeof(*r));
    r->auto_ack = r->mode = r->ttr = r->retry = -1;
    r->op = (gmq_op_t) op_rd_u16(&rd);
    if (op_is_admin(r->op)) {
        r->bind_key = op_rd_bytes(&rd, op_rd_u16(&rd), GMQ_NAME_MAX);
        r->id = op_rd_u64(&rd);
        r->arg = op_rd_u64(&rd);
        r->flags = op_rd_u8(&rd);
        return rd.bad || rd.p != rd.end ? GMQ_ERR : GMQ_OK;
    }
    switch (r->op) {
    case GMQ_OP_PUSH:
        op_rd_item(&rd, &r->item);
        break;
    case GMQ_OP_MPUSH: {
        r->nitems = op_rd_u32(&rd);
        r->items.p = rd.p;
        r->items.len = rd.bad ? 0 : (size_t) (rd.end - rd.p);
        /* every item must decode and the count must match exactly */
        gmq_op_item_t it;
        for (uint32_t i = 0; i < r->nitems && !rd.bad; i++)
            op_rd_item(&rd, &it);
        if (r->nitems == 0)
            rd.bad = 1;
        break;
    }
    case GMQ_OP_POP:
    case GMQ_OP_DEAD:
        r->bind_key = op_rd_bytes(&rd, op_rd_u16(&rd), GMQ_NAME_MAX);
        r->wait_ms = op_rd_u64(&rd);
        if (r->op == GMQ_OP_POP)
            r->forever = op_rd_u8(&rd) != 0;
        break;
    case GMQ_OP_ACK: case GMQ_OP_REQUEUE: case GMQ_OP_RELEASE:
        r->bind_key = op_rd_bytes(&rd, op_rd_u16(&rd), GMQ_NAME_MAX);
        r->id = op_rd_u64(&rd);
        break;
    case GMQ_OP_CONFIG:
        r->auto_ack = (int32_t) op_rd_u32(&rd);
        r->mode = (int32_t) op_rd_u32(&rd);
        r->ttr = (int32_t) op_rd_u32(&rd);
        r->retry = (int32_t) op_rd_u32(&rd);
        break;
    case GMQ_OP_DECLARE:
        r->bind_key = op_rd_bytes(&rd, op_rd_u16(&rd), GMQ_NAME_MAX);
        break;
    case GMQ_OP_MSG:
        r->id = op_rd_u64(&rd);
        break;
    case GMQ_OP_CRASH:
        r->code = op_rd_u32(&rd);
        r->linger_ms = op_rd_u32(&rd);
        break;
    case GMQ_OP_TOGGLE_ACK: case GMQ_OP_STAT: case GMQ_OP_QUEUES:
        break;
    default:
        return GMQ_ERR;
    }
    return rd.bad || rd.p != rd.end ? GMQ_ERR : GMQ_OK;
}

size_t
gmq_op_item_size(size_t route_key_len, size_t body_len)
{
    return 8 + 8 + 2 + route_key_len + 4 + body_len;
}

void
gmq_op_item_put(gmq_buf_t *b, const gmq_op_item_t *it)
{
    gmq_buf_put_u64(b, it->id);
    gmq_buf_put_u64(b, it->delay_ms);
    op_put_name(b, it->route_key);
    gmq_buf_put_u32(b, (uint32_t) it->body.len);
    gmq_buf_append(b, it->body.p, it->body.len);
}

int
gmq_op_item_next(const gmq_op_req_t *r, size_t *off, gmq_op_item_t *it)
{
    if (*off >= r->items.len)
        return GMQ_AGAIN;
    op_rd_t rd = { r->items.p + *off, r->items.p + r->items.len, 0 };
    if (op_rd_item(&rd, it) != GMQ_OK)
        return GMQ_ERR;
    *off = (size_t) (rd.p - r->items.p);
    return GMQ_OK;
}

/* ---- replies ---- */

size_t
gmq_op_reply_size(const gmq_op_reply_t *r)
{
    size_t n = 1 + 2 + 1 + 2 + r->msg.len;
    switch (r->kind) {
    case GMQ_RK_MESSAGE: return n + 8 + 4 + 1 + 4 + r->body.len;
    case GMQ_RK_ID:      return n + 8;
    case GMQ_RK_JSON:    return n + 4 + r->json.len;
    case GMQ_RK_COUNT:   return n + 4;
    default:             return n;
    }
}

void
gmq_op_reply_encode(gmq_buf_t *b, const gmq_op_reply_t *r)
{
    size_t msglen = r->msg.len > GMQ_ERRMSG_MAX ? GMQ_ERRMSG_MAX : r->msg.len;
    unsigned char h[4] = { (unsigned char) (r->ok ? 1 : 0), (unsigned char) (r->ecode >> 8),
                           (unsigned char) r->ecode, (unsigned char) r->kind };
    gmq_buf_append(b, h, 4);
    gmq_buf_put_u16(b, (uint16_t) msglen);
    gmq_buf_append(b, r->msg.p, msglen);
    switch (r->kind) {
    case GMQ_RK_MESSAGE:
        gmq_buf_put_u64(b, r->id);
        gmq_buf_put_u32(b, r->retry);
        gmq_buf_append(b, r->confirm ? "\1" : "\0", 1);
        gmq_buf_put_u32(b, (uint32_t) r->body.len);
        gmq_buf_append(b, r->body.p, r->body.len);
        break;
    case GMQ_RK_ID:
        gmq_buf_put_u64(b, r->id);
        break;
    case GMQ_RK_JSON:
        gmq_buf_put_u32(b, (uint32_t) r->json.len);
        gmq_buf_append(b, r->json.p, r->json.len);
        break;
    case GMQ_RK_COUNT:
        gmq_buf_put_u32(b, r->count);
        break;
    default:
        break;
    }
}

int
gmq_op_reply_decode(const char *p, size_t len, gmq_op_reply_t *r)
{
    op_rd_t rd = { p, p + len, 0 };
    memset(r, 0, sizeof(*r));
    uint8_t ok = op_rd_u8(&rd);
    r->ok = ok == 1;
    r->ecode = (gmq_ecode_t) op_rd_u16(&rd);
    r->kind = (gmq_reply_kind_t) op_rd_u8(&rd);
    r->msg = op_rd_bytes(&rd, op_rd_u16(&rd), GMQ_ERRMSG_MAX);
    if (ok > 1 || r->ecode >= GMQ_E__COUNT)
        return GMQ_ERR;
    switch (r->kind) {
    case GMQ_RK_MESSAGE:
        r->id = op_rd_u64(&rd);
        r->retry = op_rd_u32(&rd);
        r->confirm = op_rd_u8(&rd) != 0;
        r->body = op_rd_bytes(&rd, op_rd_u32(&rd), SIZE_MAX);
        break;
    case GMQ_RK_ID:
        r->id = op_rd_u64(&rd);
        break;
    case GMQ_RK_JSON:
        r->json = op_rd_bytes(&rd, op_rd_u32(&rd), SIZE_MAX);
        break;
    case GMQ_RK_COUNT:
        r->count = op_rd_u32(&rd);
        break;
    case GMQ_RK_NONE: case GMQ_RK_EMPTY:
        break;
    default:
        return GMQ_ERR;
    }
    return rd.bad || rd.p != rd.end ? GMQ_ERR : GMQ_OK;
}

/* ---- settings ---- */

void
gmq_op_settings_from_config(gmq_op_settings_t *s, const gmq_config_t *cfg)
{
    s->default_ttr = cfg->msg_ttr;
    s->default_retry = cfg->msg_max_retry;
    s->max_delay_ms = (uint64_t) cfg->max_delay * 1000;
    s->fsync = cfg->fsync;
    s->segment_size = (uint64_t) cfg->segment_size;
    s->log_level = cfg->log_level;
    s->max_queues = cfg->max_queues_per_topic;
    s->max_body = (uint64_t) cfg->max_body;
}

void
gmq_op_settings_encode(gmq_buf_t *b, const gmq_op_settings_t *s)
{
    gmq_buf_put_u32(b, (uint32_t) s->default_ttr);
    gmq_buf_put_u32(b, (uint32_t) s->default_retry);
    gmq_buf_put_u64(b, s->max_delay_ms);
    gmq_buf_put_u32(b, (uint32_t) s->fsync);
    gmq_buf_put_u64(b, s->segment_size);
    gmq_buf_put_u32(b, (uint32_t) s->log_level);
    gmq_buf_put_u32(b, (uint32_t) s->max_queues);
    gmq_buf_put_u64(b, s->max_body);
}

int
gmq_op_settings_decode(const char *p, size_t len, gmq_op_settings_t *s)
{
    op_rd_t rd = { p, p + len, 0 };
    s->default_ttr = (int32_t) op_rd_u32(&rd);
    s->default_retry = (int32_t) op_rd_u32(&rd);
    s->max_delay_ms = op_rd_u64(&rd);
    s->fsync = (int32_t) op_rd_u32(&rd);
    s->segment_size = op_rd_u64(&rd);
    s->log_level = (int32_t) op_rd_u32(&rd);
    s->max_queues = (int32_t) op_rd_u32(&rd);
    s->max_body = op_rd_u64(&rd);
    if (rd.bad || rd.p != rd.end || s->default_ttr < 1 || s->default_ttr > GMQ_TTR_MAX_S ||
        s->default_retry < 0 || s->default_retry > GMQ_RETRY_MAX || s->max_queues < 1)
        return GMQ_ERR;
    return GMQ_OK;
}

/* ---- static helpers ---- */

static int
op_need(op_rd_t *r, size_t n)
{
    if (r->bad || (size_t) (r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint64_t
op_rd_u64(op_rd_t *r)
{
    if (!op_need(r, 8))
        return 0;
    uint64_t v = gmq_get_u64(r->p);
    r->p += 8;
    return v;
}

static uint32_t
op_rd_u32(op_rd_t *r)
{
    if (!op_need(r, 4))
        return 0;
    uint32_t v = gmq_get_u32(r->p);
    r->p += 4;
    return v;
}

static uint16_t
op_rd_u16(op_rd_t *r)
{
    if (!op_need(r, 2))
        return 0;
    uint16_t v = gmq_get_u16(r->p);
    r->p += 2;
    return v;
}

static uint8_t
op_rd_u8(op_rd_t *r)
{
    if (!op_need(r, 1))
        return 0;
    return (uint8_t) *r->p++;
}

static gmq_op_str_t
op_rd_bytes(op_rd_t *r, size_t len, size_t max)
{
    gmq_op_str_t s = { "", 0 };
    if (len > max)
        r->bad = 1;
    if (!op_need(r, len))
        return s;
    s.p = r->p;
    s.len = len;
    r->p += len;
    return s;
}

static void
op_put_name(gmq_buf_t *b, gmq_op_str_t s)
{
    gmq_buf_put_u16(b, (uint16_t) s.len);
    gmq_buf_append(b, s.p, s.len);
}

static int
op_rd_item(op_rd_t *r, gmq_op_item_t *it)
{
    it->id = op_rd_u64(r);
    it->delay_ms = op_rd_u64(r);
    it->route_key = op_rd_bytes(r, op_rd_u16(r), GMQ_ROUTE_KEY_MAX);
    it->body = op_rd_bytes(r, op_rd_u32(r), SIZE_MAX);
    return r->bad ? GMQ_ERR : GMQ_OK;
}

void
gmq_op_settings_to_arg(const gmq_op_settings_t *s, char out[GMQ_OP_SETTINGS_ARG])
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_settings_encode(&b, s);
    size_t n;
    if (OPENSSL_buf2hexstr_ex(out, GMQ_OP_SETTINGS_ARG, &n, (const unsigned char *) b.data, b.len,
                              '\0') != 1)
        out[0] = '\0';        /* cannot happen: the buffer fits the encoding */
    gmq_buf_free(&b);
}

int
gmq_op_settings_from_arg(const char *arg, gmq_op_settings_t *s)
{
    unsigned char raw[GMQ_OP_SETTINGS_SIZE];
    size_t len;
    if (arg == NULL || strlen(arg) != 2 * GMQ_OP_SETTINGS_SIZE ||
        OPENSSL_hexstr2buf_ex(raw, sizeof(raw), &len, arg, '\0') != 1)
        return GMQ_ERR;
    return gmq_op_settings_decode((const char *) raw, len, s);
}

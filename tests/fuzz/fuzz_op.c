/*
 * fuzz_op.c - the typed IPC operations (proto/op.c) and their frames
 * (proto/ipc.c). The first byte picks what the rest is: a request payload,
 * a reply payload, a settings payload, or a stream of IPC frames (split at
 * random, each payload decoded by its type). Whatever decodes must encode
 * to the same bytes (only the flag bytes "forever" and "confirm" have more
 * than one spelling), with the size the size functions announce, and
 * decode again to the same fields.
 */
#include "fuzz.h"
#include "proto/ipc.h"
#include "proto/op.h"

static void op_request(const char *p, size_t n);
static void op_reply(const char *p, size_t n);
static void op_settings(const char *p, size_t n);
static void op_frames(const char *p, size_t n, uint64_t seed);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *p = (const char *) data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0: op_request(p, n); break;
    case 1: op_reply(p, n); break;
    case 2: op_settings(p, n); break;
    default: op_frames(p, n, data[0] * 0x9e3779b97f4a7c15ULL + 7); break;
    }
    return 0;
}

static int
op_str_eq(gmq_op_str_t a, gmq_op_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void
op_req_same(const gmq_op_req_t *a, const gmq_op_req_t *b)
{
    FUZZ_CHECK(a->op == b->op && op_str_eq(a->bind_key, b->bind_key) && a->id == b->id);
    FUZZ_CHECK(a->wait_ms == b->wait_ms && a->forever == b->forever);
    FUZZ_CHECK(a->item.id == b->item.id && a->item.delay_ms == b->item.delay_ms);
    FUZZ_CHECK(op_str_eq(a->item.route_key, b->item.route_key) && op_str_eq(a->item.body, b->item.body));
    FUZZ_CHECK(a->nitems == b->nitems && op_str_eq(a->items, b->items));
    FUZZ_CHECK(a->auto_ack == b->auto_ack && a->mode == b->mode && a->ttr == b->ttr &&
               a->retry == b->retry);
    FUZZ_CHECK(a->code == b->code && a->arg == b->arg && a->flags == b->flags);
}

static void
op_request(const char *p, size_t n)
{
    gmq_op_req_t r, back;
    if (gmq_op_req_decode(p, n, &r) != GMQ_OK)
        return;
    FUZZ_CHECK(r.op > GMQ_OP_NONE && r.op < GMQ_OP__COUNT);
    FUZZ_CHECK(strcmp(gmq_op_name(r.op), "unknown") != 0);
    FUZZ_CHECK(r.bind_key.len <= GMQ_NAME_MAX && r.item.route_key.len <= GMQ_ROUTE_KEY_MAX);
    FUZZ_CHECK(gmq_op_req_size(&r) == n);
    if (r.op == GMQ_OP_MPUSH) {
        /* every item iterates, exactly nitems of them */
        size_t off = 0;
        uint32_t count = 0;
        gmq_op_item_t it;
        int rc;
        while ((rc = gmq_op_item_next(&r, &off, &it)) == GMQ_OK) {
            FUZZ_CHECK(it.route_key.len <= GMQ_ROUTE_KEY_MAX);
            FUZZ_CHECK(gmq_op_item_size(it.route_key.len, it.body.len) <= r.items.len);
            count++;
        }
        FUZZ_CHECK(rc == GMQ_AGAIN && count == r.nitems && off == r.items.len);
    }
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_req_encode(&b, &r);
    FUZZ_CHECK(b.len == n);
    /* the one byte with two spellings: pop's forever flag */
    if (r.op == GMQ_OP_POP)
        FUZZ_CHECK(memcmp(b.data, p, n - 1) == 0 && (p[n - 1] != 0) == (b.data[n - 1] != 0));
    else
        FUZZ_CHECK(memcmp(b.data, p, n) == 0);
    FUZZ_CHECK(gmq_op_req_decode(b.data, b.len, &back) == GMQ_OK);
    op_req_same(&r, &back);
    /* a truncated request never decodes */
    if (n > 0)
        FUZZ_CHECK(gmq_op_req_decode(b.data, b.len - 1, &back) == GMQ_ERR);
    gmq_buf_free(&b);
}

static void
op_reply(const char *p, size_t n)
{
    gmq_op_reply_t r, back;
    if (gmq_op_reply_decode(p, n, &r) != GMQ_OK)
        return;
    FUZZ_CHECK(r.ecode < GMQ_E__COUNT && r.msg.len <= GMQ_ERRMSG_MAX);
    FUZZ_CHECK(gmq_op_reply_size(&r) == n);
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_reply_encode(&b, &r);
    FUZZ_CHECK(b.len == n);
    if (r.kind == GMQ_RK_MESSAGE) {
        /* the confirm flag sits after msg, id and retry */
        size_t at = 6 + r.msg.len + 12;
        FUZZ_CHECK(memcmp(b.data, p, at) == 0 && (p[at] != 0) == (b.data[at] != 0) &&
                   memcmp(b.data + at + 1, p + at + 1, n - at - 1) == 0);
    } else {
        FUZZ_CHECK(memcmp(b.data, p, n) == 0);
    }
    FUZZ_CHECK(gmq_op_reply_decode(b.data, b.len, &back) == GMQ_OK);
    FUZZ_CHECK(back.ok == r.ok && back.ecode == r.ecode && back.kind == r.kind);
    FUZZ_CHECK(op_str_eq(back.msg, r.msg) && back.id == r.id && back.retry == r.retry);
    FUZZ_CHECK(back.confirm == r.confirm && op_str_eq(back.body, r.body) &&
               op_str_eq(back.json, r.json) && back.count == r.count);
    FUZZ_CHECK(gmq_op_reply_decode(b.data, b.len - 1, &back) == GMQ_ERR);
    gmq_buf_free(&b);
}

static void
op_settings(const char *p, size_t n)
{
    gmq_op_settings_t s, back;
    memset(&s, 0, sizeof(s));        /* compared with memcmp: no stray padding */
    memset(&back, 0, sizeof(back));
    if (gmq_op_settings_decode(p, n, &s) != GMQ_OK)
        return;
    FUZZ_CHECK(n == GMQ_OP_SETTINGS_SIZE);
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_settings_encode(&b, &s);
    FUZZ_CHECK(b.len == n && memcmp(b.data, p, n) == 0);
    FUZZ_CHECK(gmq_op_settings_decode(b.data, b.len, &back) == GMQ_OK);
    FUZZ_CHECK(memcmp(&s, &back, sizeof(s)) == 0);
    gmq_buf_free(&b);
}

/* a frame stream as a worker or the master reads it: random reads into a
 * buffer, gmq_ipc_take until it wants more; each payload by its type */
static void
op_frames(const char *p, size_t n, uint64_t seed)
{
    gmq_buf_t in;
    gmq_buf_init(&in);
    size_t fed = 0;
    int rc = GMQ_AGAIN;
    while (rc != GMQ_ERR && fed < n) {
        size_t chunk = 1 + fuzz_rand(&seed) % 40;
        if (chunk > n - fed)
            chunk = n - fed;
        gmq_buf_append(&in, p + fed, chunk);
        fed += chunk;
        gmq_ipc_frame_t f;
        while ((rc = gmq_ipc_take(&in, &f)) == GMQ_OK) {
            FUZZ_CHECK(f.len <= GMQ_IPC_MAX_FRAME);
            uint32_t version, pid;
            switch (f.type) {
            case GMQ_IPC_REQUEST:  op_request(f.payload, f.len); break;
            case GMQ_IPC_REPLY:    op_reply(f.payload, f.len); break;
            case GMQ_IPC_SETTINGS: op_settings(f.payload, f.len); break;
            case GMQ_IPC_READY:
                FUZZ_CHECK(gmq_ipc_ready_parse(&f, &version, &pid) == (f.len >= 8 ? GMQ_OK : GMQ_ERR));
                break;
            case GMQ_IPC_SHUTDOWN: case GMQ_IPC_CANCEL: case GMQ_IPC_FATAL:
                break;
            default:
                FUZZ_CHECK(!"a frame of an unknown type was taken");
            }
        }
    }
    gmq_buf_free(&in);
}

/*
 * ipc.c - encoders and the resumable decoder of master <-> worker frames.
 * Pure functions over buffers: no I/O here.
 */
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ipc_type_known(uint32_t type);

int
gmq_ipc_decode(const char *buf, size_t len, gmq_ipc_frame_t *f, size_t *used)
{
    if (len < GMQ_IPC_HDR_LEN)
        return GMQ_AGAIN;
    uint32_t type = gmq_get_u32(buf);
    uint32_t plen = gmq_get_u32(buf + 4);
    if (plen > GMQ_IPC_MAX_FRAME || !ipc_type_known(type))
        return GMQ_ERR;
    if (len - GMQ_IPC_HDR_LEN < plen)
        return GMQ_AGAIN;
    f->type = type;
    f->len = plen;
    f->req_id = gmq_get_u64(buf + 8);
    f->payload = buf + GMQ_IPC_HDR_LEN;
    *used = GMQ_IPC_HDR_LEN + plen;
    return GMQ_OK;
}

int
gmq_ipc_take(gmq_buf_t *in, gmq_ipc_frame_t *f)
{
    size_t used;
    int rc = gmq_ipc_decode(gmq_buf_rptr(in), gmq_buf_used(in), f, &used);
    if (rc == GMQ_OK)
        gmq_buf_consume(in, used);    /* the bytes stay in place until the next append */
    return rc;
}

void
gmq_ipc_put_header(gmq_buf_t *b, uint32_t type, uint32_t len, uint64_t req_id)
{
    gmq_buf_put_u32(b, type);
    gmq_buf_put_u32(b, len);
    gmq_buf_put_u64(b, req_id);
}

void
gmq_ipc_put_ready(gmq_buf_t *b, uint32_t pid)
{
    gmq_ipc_put_header(b, GMQ_IPC_READY, 8, 0);
    gmq_buf_put_u32(b, GMQ_IPC_VERSION);
    gmq_buf_put_u32(b, pid);
}

void
gmq_ipc_put_control(gmq_buf_t *b, uint32_t type, uint64_t req_id)
{
    gmq_ipc_put_header(b, type, 0, req_id);
}

size_t
gmq_ipc_request_begin(gmq_buf_t *b, uint64_t req_id, gmq_op_t op)
{
    /* relative to the read position: appending may compact the buffer
     * (move the unread bytes to its start), which keeps this offset valid */
    size_t start = b->len - b->pos;
    gmq_ipc_put_header(b, GMQ_IPC_REQUEST, 0, req_id);
    gmq_buf_put_u16(b, (uint16_t) op);
    gmq_buf_put_u16(b, 0);   /* argument count, fixed up by end */
    return start;
}

void
gmq_ipc_request_arg(gmq_buf_t *b, const char *key, const void *val, size_t vlen)
{
    size_t klen = strlen(key);
    gmq_buf_put_u16(b, (uint16_t) klen);
    gmq_buf_append(b, key, klen);
    gmq_buf_put_u32(b, (uint32_t) vlen);
    gmq_buf_append(b, val, vlen);
}

void
gmq_ipc_request_arg_str(gmq_buf_t *b, const char *key, const char *val)
{
    gmq_ipc_request_arg(b, key, val, strlen(val));
}

void
gmq_ipc_request_arg_u64(gmq_buf_t *b, const char *key, uint64_t val)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long) val);
    gmq_ipc_request_arg(b, key, tmp, (size_t) n);
}

void
gmq_ipc_request_end(gmq_buf_t *b, size_t start)
{
    start += b->pos;
    unsigned char *h = (unsigned char *) b->data + start;
    uint32_t plen = (uint32_t) (b->len - start - GMQ_IPC_HDR_LEN);
    h[4] = (unsigned char) (plen >> 24);
    h[5] = (unsigned char) (plen >> 16);
    h[6] = (unsigned char) (plen >> 8);
    h[7] = (unsigned char) plen;
    /* count the arguments by walking them once */
    const char *p = b->data + start + GMQ_IPC_HDR_LEN + 4;
    const char *end = b->data + b->len;
    uint16_t n = 0;
    while (p < end) {
        size_t klen = gmq_get_u16(p);
        size_t vlen = gmq_get_u32(p + 2 + klen);
        p += 2 + klen + 4 + vlen;
        n++;
    }
    h[GMQ_IPC_HDR_LEN + 2] = (unsigned char) (n >> 8);
    h[GMQ_IPC_HDR_LEN + 3] = (unsigned char) n;
}

int
gmq_ipc_request_parse(const gmq_ipc_frame_t *f, gmq_ipc_request_t *r)
{
    if (f->type != GMQ_IPC_REQUEST || f->len < 4)
        return GMQ_ERR;
    const char *p = f->payload, *end = f->payload + f->len;
    r->op = gmq_get_u16(p);
    unsigned n = gmq_get_u16(p + 2);
    p += 4;
    if (n > GMQ_IPC_MAX_ARGS)
        return GMQ_ERR;
    r->nargs = 0;
    for (unsigned i = 0; i < n; i++) {
        if ((size_t) (end - p) < 2)
            return GMQ_ERR;
        size_t klen = gmq_get_u16(p);
        if ((size_t) (end - p) < 2 + klen + 4)
            return GMQ_ERR;
        size_t vlen = gmq_get_u32(p + 2 + klen);
        if ((size_t) (end - p) - 2 - klen - 4 < vlen)
            return GMQ_ERR;
        gmq_ipc_arg_t *a = &r->args[r->nargs++];
        a->key = p + 2;
        a->klen = klen;
        a->val = p + 2 + klen + 4;
        a->vlen = vlen;
        p += 2 + klen + 4 + vlen;
    }
    return p == end ? GMQ_OK : GMQ_ERR;
}

const char *
gmq_ipc_request_get(const gmq_ipc_request_t *r, const char *key, size_t *vlen)
{
    size_t klen = strlen(key);
    for (int i = 0; i < r->nargs; i++) {
        if (r->args[i].klen == klen && memcmp(r->args[i].key, key, klen) == 0) {
            if (vlen != NULL)
                *vlen = r->args[i].vlen;
            return r->args[i].val;
        }
    }
    return NULL;
}

int
gmq_ipc_request_get_u64(const gmq_ipc_request_t *r, const char *key, uint64_t *out)
{
    size_t n;
    const char *v = gmq_ipc_request_get(r, key, &n);
    if (v == NULL || n == 0 || n > 20)
        return GMQ_ERR;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return GMQ_ERR;
        uint64_t d = (uint64_t) (v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return GMQ_ERR;
        x = x * 10 + d;
    }
    *out = x;
    return GMQ_OK;
}

void
gmq_ipc_put_reply(gmq_buf_t *b, uint64_t req_id, int ok, int ecode, int kind,
                  const char *msg, const void *data, size_t datalen)
{
    size_t msglen = msg ? strlen(msg) : 0;
    gmq_ipc_put_header(b, GMQ_IPC_REPLY, (uint32_t) (8 + msglen + datalen), req_id);
    unsigned char h[4] = { (unsigned char) (ok ? 1 : 0), (unsigned char) (ecode >> 8),
                           (unsigned char) ecode, (unsigned char) kind };
    gmq_buf_append(b, h, 4);
    gmq_buf_put_u32(b, (uint32_t) msglen);
    gmq_buf_append(b, msg, msglen);
    gmq_buf_append(b, data, datalen);
}

int
gmq_ipc_reply_parse(const gmq_ipc_frame_t *f, gmq_ipc_reply_t *r)
{
    if (f->type != GMQ_IPC_REPLY || f->len < 8)
        return GMQ_ERR;
    const unsigned char *p = (const unsigned char *) f->payload;
    size_t msglen = gmq_get_u32(p + 4);
    if (msglen > f->len - 8)
        return GMQ_ERR;
    r->ok = p[0];
    r->ecode = (uint16_t) ((p[1] << 8) | p[2]);
    r->kind = p[3];
    r->msg = f->payload + 8;
    r->msglen = msglen;
    r->data = f->payload + 8 + msglen;
    r->datalen = f->len - 8 - msglen;
    return GMQ_OK;
}

int
gmq_ipc_ready_parse(const gmq_ipc_frame_t *f, uint32_t *version, uint32_t *pid)
{
    if (f->type != GMQ_IPC_READY || f->len < 8)
        return GMQ_ERR;
    *version = gmq_get_u32(f->payload);
    *pid = gmq_get_u32(f->payload + 4);
    return GMQ_OK;
}

static int
ipc_type_known(uint32_t type)
{
    return type == GMQ_IPC_READY || type == GMQ_IPC_SHUTDOWN || type == GMQ_IPC_CANCEL ||
           type == GMQ_IPC_FATAL ||
           type == GMQ_IPC_REQUEST || type == GMQ_IPC_REPLY;
}

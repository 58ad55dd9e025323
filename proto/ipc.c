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

void
gmq_ipc_put_request(gmq_buf_t *b, uint64_t req_id, const gmq_op_req_t *op)
{
    gmq_ipc_put_header(b, GMQ_IPC_REQUEST, (uint32_t) gmq_op_req_size(op), req_id);
    gmq_op_req_encode(b, op);
}

void
gmq_ipc_put_reply(gmq_buf_t *b, uint64_t req_id, const gmq_op_reply_t *r)
{
    gmq_ipc_put_header(b, GMQ_IPC_REPLY, (uint32_t) gmq_op_reply_size(r), req_id);
    gmq_op_reply_encode(b, r);
}

void
gmq_ipc_put_settings(gmq_buf_t *b, const gmq_op_settings_t *s)
{
    gmq_ipc_put_header(b, GMQ_IPC_SETTINGS, GMQ_OP_SETTINGS_SIZE, 0);
    gmq_op_settings_encode(b, s);
}

void
gmq_ipc_put_fatal(gmq_buf_t *b, const char *text)
{
    gmq_ipc_put_header(b, GMQ_IPC_FATAL, (uint32_t) strlen(text), 0);
    gmq_buf_append_str(b, text);
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
           type == GMQ_IPC_FATAL || type == GMQ_IPC_SETTINGS ||
           type == GMQ_IPC_REQUEST || type == GMQ_IPC_REPLY;
}

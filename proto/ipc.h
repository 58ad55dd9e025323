/*
 * ipc.h - master <-> worker frames over a Unix socketpair. A frame is a
 * 16-byte header {type u32, len u32, req_id u64} (big-endian) and len bytes
 * of payload. Encoders append to a gmq_buf_t; the decoder is a pure,
 * resumable function over a byte range. Only ids cross, never pointers.
 */
#ifndef GMQ_IPC_H
#define GMQ_IPC_H

#include "common/gmq.h"
#include "common/buf.h"
#include "proto/op.h"

#define GMQ_IPC_VERSION   2
#define GMQ_IPC_HDR_LEN   16
#define GMQ_IPC_MAX_FRAME (512u * 1024 * 1024)  /* payload bytes; larger = protocol error */

/* the descriptors a worker process (worker/main.c) is started with */
#define GMQ_WORKER_FD_IPC  3   /* its end of the socketpair */
#define GMQ_WORKER_FD_LOCK 4   /* the data directory's lock, shared with the master */
#define GMQ_WORKER_FD_LOG  5   /* the log file; absent when the node logs to stderr */
#define GMQ_WORKER_ARGS    4   /* topic, master pid, data_save_path, settings (hex) */

/* frame types: 1..99 control, 100..199 requests, 200..299 replies */
enum {
    GMQ_IPC_READY    = 1,    /* w->m: u32 version, u32 pid */
    GMQ_IPC_SHUTDOWN = 2,    /* m->w: finish the batch, sync, exit 0 */
    GMQ_IPC_CANCEL   = 3,    /* m->w: drop the waiting request req_id (client gone) */
    GMQ_IPC_FATAL    = 4,    /* w->m: text; the worker exits with GMQ_EXIT_FATAL next */
    GMQ_IPC_SETTINGS = 5,    /* m->w: gmq_op_settings_t (SIGHUP reload) */
    GMQ_IPC_REQUEST  = 100,  /* m->w: gmq_op_req_t (proto/op.h) */
    GMQ_IPC_REPLY    = 200,  /* w->m: gmq_op_reply_t */
};

typedef struct {
    uint32_t    type;
    uint32_t    len;
    uint64_t    req_id;
    const char *payload;   /* points into the decoded buffer */
} gmq_ipc_frame_t;

/*
 * Decode one frame from buf[0..len). GMQ_OK: *f filled (payload points into
 * buf) and *used = bytes consumed; GMQ_AGAIN: need more bytes; GMQ_ERR: the
 * header announces more than GMQ_IPC_MAX_FRAME or an unknown type range.
 */
int gmq_ipc_decode(const char *buf, size_t len, gmq_ipc_frame_t *f, size_t *used);

/* Decode and consume the next frame of `in`. f->payload stays valid until
 * the next append to `in`. Same results as gmq_ipc_decode. */
int gmq_ipc_take(gmq_buf_t *in, gmq_ipc_frame_t *f);

void gmq_ipc_put_header(gmq_buf_t *b, uint32_t type, uint32_t len, uint64_t req_id);
void gmq_ipc_put_ready(gmq_buf_t *b, uint32_t pid);
void gmq_ipc_put_control(gmq_buf_t *b, uint32_t type, uint64_t req_id);

/* a whole request frame: header, then the encoded operation */
void gmq_ipc_put_request(gmq_buf_t *b, uint64_t req_id, const gmq_op_req_t *op);
/* a whole reply frame */
void gmq_ipc_put_reply(gmq_buf_t *b, uint64_t req_id, const gmq_op_reply_t *r);
void gmq_ipc_put_settings(gmq_buf_t *b, const gmq_op_settings_t *s);
void gmq_ipc_put_fatal(gmq_buf_t *b, const char *text);
/* READY payload; GMQ_ERR if too short */
int  gmq_ipc_ready_parse(const gmq_ipc_frame_t *f, uint32_t *version, uint32_t *pid);

#endif

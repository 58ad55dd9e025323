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

#define GMQ_IPC_VERSION   1
#define GMQ_IPC_HDR_LEN   16
#define GMQ_IPC_MAX_FRAME (512u * 1024 * 1024)  /* payload bytes; larger = protocol error */
#define GMQ_IPC_MAX_ARGS  32

/* frame types: 1..99 control, 100..199 requests, 200..299 replies */
enum {
    GMQ_IPC_READY    = 1,    /* w->m: u32 version, u32 pid */
    GMQ_IPC_SHUTDOWN = 2,    /* m->w: finish the batch, sync, exit 0 */
    GMQ_IPC_CANCEL   = 3,    /* m->w: drop the waiting request req_id (client gone) */
    GMQ_IPC_FATAL    = 4,    /* w->m: text; the worker exits with GMQ_EXIT_FATAL next */
    GMQ_IPC_REQUEST  = 100,  /* m->w: u16 op, args */
    GMQ_IPC_REPLY    = 200,  /* w->m: see gmq_ipc_reply_t */
};

/* request operations (u16 at the start of a REQUEST payload) */
typedef enum {
    GMQ_OP_PUSH = 1,   /* topic route_key delay(ms) id body */
    GMQ_OP_POP,        /* topic bind_key [timeout(ms); absent = answer at once] */
    GMQ_OP_ACK,        /* topic bind_key id */
    GMQ_OP_DEAD,       /* topic bind_key [timeout] */
    GMQ_OP_CONFIG,     /* topic [auto_ack mode ttr retry] */
    GMQ_OP_DECLARE,    /* topic bind_key */
    GMQ_OP_STAT,       /* topic */
    GMQ_OP_QUEUES,     /* topic */
    GMQ_OP_REQUEUE,    /* topic bind_key id */
    GMQ_OP_MSG,        /* topic id */
    GMQ_OP_TOGGLE_ACK, /* topic */
    GMQ_OP_RELEASE,    /* topic bind_key id: a delivered message the client never got */
    GMQ_OP_CRASH,      /* test only: exit with the code in arg "code" (debug builds and tests) */
    GMQ_OP__COUNT
} gmq_op_t;

/* reply kinds: what `data` holds */
typedef enum {
    GMQ_RK_NONE = 0,   /* only msg */
    GMQ_RK_MESSAGE,    /* {"id":"..","body":"..","retry_count":n} */
    GMQ_RK_ID,         /* decimal id */
    GMQ_RK_JSON,       /* any JSON value */
    GMQ_RK_EMPTY,      /* pop/dead found nothing ("no message") */
} gmq_reply_kind_t;

typedef struct {
    uint32_t    type;
    uint32_t    len;
    uint64_t    req_id;
    const char *payload;   /* points into the decoded buffer */
} gmq_ipc_frame_t;

typedef struct {
    const char *key;   size_t klen;
    const char *val;   size_t vlen;
} gmq_ipc_arg_t;

typedef struct {
    uint16_t      op;
    int           nargs;
    gmq_ipc_arg_t args[GMQ_IPC_MAX_ARGS];
} gmq_ipc_request_t;

typedef struct {
    uint8_t     ok;        /* 1 success, 0 error */
    uint16_t    ecode;     /* gmq_ecode_t when !ok */
    uint8_t     kind;      /* gmq_reply_kind_t */
    const char *msg;  size_t msglen;
    const char *data; size_t datalen;
} gmq_ipc_reply_t;

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

/* Requests are built in place: begin, add args, end (fixes up the lengths).
 * begin returns the frame's offset from the buffer's read position; nothing
 * may be consumed from the buffer between begin and end. */
size_t gmq_ipc_request_begin(gmq_buf_t *b, uint64_t req_id, gmq_op_t op);
void   gmq_ipc_request_arg(gmq_buf_t *b, const char *key, const void *val, size_t vlen);
void   gmq_ipc_request_arg_str(gmq_buf_t *b, const char *key, const char *val);
void   gmq_ipc_request_arg_u64(gmq_buf_t *b, const char *key, uint64_t val);
void   gmq_ipc_request_end(gmq_buf_t *b, size_t start);

int    gmq_ipc_request_parse(const gmq_ipc_frame_t *f, gmq_ipc_request_t *r);
/* the value of `key` or NULL (and *vlen untouched) */
const char *gmq_ipc_request_get(const gmq_ipc_request_t *r, const char *key, size_t *vlen);
/* decimal u64 value of `key`; GMQ_ERR if missing or not a number */
int    gmq_ipc_request_get_u64(const gmq_ipc_request_t *r, const char *key, uint64_t *out);

/* a reply frame: header, then u8 ok, u16 ecode, u8 kind, u32 msglen, msg, data */
void gmq_ipc_put_reply(gmq_buf_t *b, uint64_t req_id, int ok, int ecode, int kind,
                       const char *msg, const void *data, size_t datalen);
int  gmq_ipc_reply_parse(const gmq_ipc_frame_t *f, gmq_ipc_reply_t *r);
/* READY payload; GMQ_ERR if too short */
int  gmq_ipc_ready_parse(const gmq_ipc_frame_t *f, uint32_t *version, uint32_t *pid);

#endif

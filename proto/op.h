/*
 * op.h - the typed operations the master sends to a topic's worker and the
 * replies it gets back, with pure binary codecs (no I/O). Fixed-width
 * big-endian integers, u16-length-prefixed names, u32-length-prefixed
 * bodies; no topic field (the worker's socket names the topic). TCP and
 * HTTP both map onto these, validated once in master/ops.c against the
 * limits in common/limits.h that the decoder enforces again.
 */
#ifndef GMQ_PROTO_OP_H
#define GMQ_PROTO_OP_H

#include "common/buf.h"
#include "common/config.h"
#include "common/gmq.h"
#include "common/limits.h"
#include "proto/errors.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    GMQ_OP_NONE = 0,
    GMQ_OP_PUSH,        /* item */
    GMQ_OP_MPUSH,       /* nitems items (one chunk of an mpub), stored in order */
    GMQ_OP_POP,         /* bind_key, wait_ms, forever */
    GMQ_OP_DEAD,        /* bind_key, wait_ms */
    GMQ_OP_ACK,         /* bind_key, id */
    GMQ_OP_REQUEUE,     /* bind_key, id (0 = every dead letter) */
    GMQ_OP_RELEASE,     /* bind_key, id: delivered, but the client never got it */
    GMQ_OP_CONFIG,      /* auto_ack, mode, ttr, retry (-1 = unchanged) */
    GMQ_OP_TOGGLE_ACK,  /* - */
    GMQ_OP_DECLARE,     /* bind_key */
    GMQ_OP_STAT,        /* - */
    GMQ_OP_QUEUES,      /* - */
    GMQ_OP_MSG,         /* id */
    GMQ_OP_CRASH,       /* code: test hook, exit with it */
    /* queue management: bind_key, id, arg, flags (one layout for all) */
    GMQ_OP_PURGE,       /* bind_key, flags */
    GMQ_OP_DEL_QUEUE,   /* bind_key, flags */
    GMQ_OP_DEL_TOPIC,   /* flags */
    GMQ_OP_PEEK,        /* bind_key, arg = GMQ_OP_PEEK_* */
    GMQ_OP_LIST_DEAD,   /* bind_key, arg = limit (1..GMQ_LIST_DEAD_MAX) */
    GMQ_OP_KICK,        /* bind_key, arg = n (1..GMQ_KICK_MAX) */
    GMQ_OP_TOUCH,       /* bind_key, id */
    GMQ_OP_NACK,        /* bind_key, id, arg = delay ms: a client's release */
    GMQ_OP__COUNT
} gmq_op_t;

/* a byte range inside a decoded frame (not NUL-terminated) */
typedef struct {
    const char *p;
    size_t      len;
} gmq_op_str_t;

typedef struct {
    uint64_t     id;          /* snowflake id given by the master */
    uint64_t     delay_ms;
    gmq_op_str_t route_key;   /* <= GMQ_ROUTE_KEY_MAX bytes */
    gmq_op_str_t body;
} gmq_op_item_t;

typedef struct {
    gmq_op_t      op;
    gmq_op_str_t  bind_key;   /* <= GMQ_NAME_MAX bytes; empty = "default" */
    uint64_t      id;
    uint64_t      wait_ms;
    int           forever;    /* pop: wait with no deadline */
    gmq_op_item_t item;       /* PUSH */
    uint32_t      nitems;     /* MPUSH: items encoded back to back in items */
    gmq_op_str_t  items;      /* MPUSH: see gmq_op_item_put / gmq_op_item_next */
    int32_t       auto_ack, mode, ttr, retry;   /* CONFIG; -1 = unchanged */
    uint32_t      code;       /* CRASH: the exit status */
    uint32_t      linger_ms;  /* CRASH: its socket closed this long before the exit */
    uint64_t      arg;        /* management ops, see above */
    uint32_t      flags;      /* GMQ_OP_F_* */
} gmq_op_req_t;

#define GMQ_OP_F_FORCE 0x1    /* purge/delete even with messages in flight */
#define GMQ_OP_PEEK_READY   0
#define GMQ_OP_PEEK_DELAYED 1
#define GMQ_OP_PEEK_DEAD    2

/* "push", "mpush", ... for logs and metrics */
const char *gmq_op_name(gmq_op_t op);
/* 1 if the operation changes stored state (its outcome matters when lost) */
int         gmq_op_mutates(gmq_op_t op);
/* 1 if the operation may create its topic (others need it to exist) */
int         gmq_op_creates(gmq_op_t op);

/* size of the encoded request payload, and the encoder (appends to b) */
size_t gmq_op_req_size(const gmq_op_req_t *r);
void   gmq_op_req_encode(gmq_buf_t *b, const gmq_op_req_t *r);
/* GMQ_OK with *r pointing into p[0..len), or GMQ_ERR when truncated, over a
 * limit, trailing bytes, or an unknown op */
int    gmq_op_req_decode(const char *p, size_t len, gmq_op_req_t *r);

/* MPUSH items: append one to b; iterate a decoded request's items
 * (*off starts at 0; GMQ_OK with *it, GMQ_AGAIN past the last one) */
void   gmq_op_item_put(gmq_buf_t *b, const gmq_op_item_t *it);
size_t gmq_op_item_size(size_t route_key_len, size_t body_len);
int    gmq_op_item_next(const gmq_op_req_t *r, size_t *off, gmq_op_item_t *it);

/* ---- replies ---- */

typedef enum {
    GMQ_RK_NONE = 0,   /* only msg */
    GMQ_RK_MESSAGE,    /* id, retry, body: a delivered message */
    GMQ_RK_ID,         /* id: a stored message */
    GMQ_RK_JSON,       /* json: any JSON value */
    GMQ_RK_EMPTY,      /* pop/dead found nothing */
    GMQ_RK_COUNT,      /* count: MPUSH items stored (also on an error: those before it) */
} gmq_reply_kind_t;

typedef struct {
    int          ok;
    gmq_ecode_t  ecode;       /* when !ok */
    gmq_reply_kind_t kind;
    gmq_op_str_t msg;         /* <= GMQ_ERRMSG_MAX bytes */
    uint64_t     id;          /* MESSAGE, ID */
    uint32_t     retry;       /* MESSAGE */
    int          confirm;     /* MESSAGE: auto-ack topic; ack it once it reached the client */
    gmq_op_str_t body;        /* MESSAGE */
    gmq_op_str_t json;        /* JSON */
    uint32_t     count;       /* COUNT */
} gmq_op_reply_t;

size_t gmq_op_reply_size(const gmq_op_reply_t *r);
void   gmq_op_reply_encode(gmq_buf_t *b, const gmq_op_reply_t *r);
int    gmq_op_reply_decode(const char *p, size_t len, gmq_op_reply_t *r);

/* ---- settings a worker takes from the node's configuration ---- */

typedef struct {
    int32_t  default_ttr;      /* seconds, for topics that did not set their own */
    int32_t  default_retry;
    uint64_t max_delay_ms;
    int32_t  fsync;            /* GMQ_FSYNC_* */
    uint64_t segment_size;     /* bytes, for new segments */
    int32_t  log_level;
    int32_t  max_queues;       /* per topic */
    uint64_t max_body;
} gmq_op_settings_t;

/* the settings of a loaded configuration (common/config.h) */
void   gmq_op_settings_from_config(gmq_op_settings_t *s, const gmq_config_t *cfg);
#define GMQ_OP_SETTINGS_SIZE 44
void   gmq_op_settings_encode(gmq_buf_t *b, const gmq_op_settings_t *s);
int    gmq_op_settings_decode(const char *p, size_t len, gmq_op_settings_t *s);
/* the settings as one command-line argument (a worker started as a program
 * of its own): their encoding in hex, GMQ_OP_SETTINGS_ARG bytes with the NUL */
#define GMQ_OP_SETTINGS_ARG (2 * GMQ_OP_SETTINGS_SIZE + 1)
void   gmq_op_settings_to_arg(const gmq_op_settings_t *s, char out[GMQ_OP_SETTINGS_ARG]);
/* GMQ_ERR for anything but the hex of a valid encoding */
int    gmq_op_settings_from_arg(const char *arg, gmq_op_settings_t *s);

#endif

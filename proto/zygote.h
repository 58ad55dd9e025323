/*
 * zygote.h - the messages between the master and the worker zygote (a
 * gmq-worker started once, which forks each topic's worker: master/spawn.c,
 * worker/zygote.c). One message per SOCK_SEQPACKET datagram; a spawn
 * request carries the worker's descriptors as SCM_RIGHTS, in the order of
 * the bits of `fds`. Pure codecs, no I/O.
 */
#ifndef GMQ_PROTO_ZYGOTE_H
#define GMQ_PROTO_ZYGOTE_H

#include "common/gmq.h"
#include "common/buf.h"
#include "proto/op.h"

#include <stdint.h>

#define GMQ_ZYGOTE_VERSION  1
#define GMQ_ZYGOTE_ARG      "--zygote"  /* gmq-worker --zygote <master pid> */
#define GMQ_ZYGOTE_PATH_MAX 4096      /* data_save_path bytes */
#define GMQ_ZYGOTE_FD_IPC   0x01      /* always sent */
#define GMQ_ZYGOTE_FD_LOCK  0x02
#define GMQ_ZYGOTE_FD_LOG   0x04
#define GMQ_ZYGOTE_MAX_FDS  3
/* the largest request: version, fds, three u16 lengths and their bytes */
#define GMQ_ZYGOTE_REQ_MAX  (4 + 2 + GMQ_NAME_MAX + 2 + GMQ_ZYGOTE_PATH_MAX + 2 + GMQ_OP_SETTINGS_SIZE)
#define GMQ_ZYGOTE_REPLY_SIZE 9

typedef struct {
    uint8_t            fds;           /* GMQ_ZYGOTE_FD_* sent with it */
    const char        *topic;         /* not NUL-terminated when decoded */
    size_t             topic_len;
    const char        *data_path;
    size_t             data_path_len;
    gmq_op_settings_t  settings;
} gmq_zygote_req_t;

typedef struct {
    int32_t pid;                      /* > 0: started */
    int32_t err;                      /* an errno value when pid <= 0 */
} gmq_zygote_reply_t;

/* number of descriptors a request's `fds` says come with it */
int gmq_zygote_nfds(uint8_t fds);

void gmq_zygote_req_encode(gmq_buf_t *b, const gmq_zygote_req_t *r);
/* GMQ_OK, with topic/data_path pointing into p; GMQ_ERR for a version,
 * length, name, path or settings that is not valid, or trailing bytes */
int  gmq_zygote_req_decode(const char *p, size_t len, gmq_zygote_req_t *r);

void gmq_zygote_reply_encode(gmq_buf_t *b, const gmq_zygote_reply_t *r);
int  gmq_zygote_reply_decode(const char *p, size_t len, gmq_zygote_reply_t *r);

#endif

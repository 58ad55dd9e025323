/*
 * tcp.h - the gmq v2 client protocol as a pure codec (no I/O): the
 * resumable request parser the node uses, the reply frame encoder, and the
 * client side (request encoder, reply frame decoder) that gmq-bench, gmqctl
 * and libgmq use. The frame types 101..106 are defined here and nowhere else.
 *
 * A request is one text line `cmd arg ...\n` (a trailing \r is dropped),
 * split on every single space (empty tokens kept). `pub` and `publish` are
 * followed by one body, `mpub <topic> <n>` by n bodies; a body is a u32
 * big-endian length and that many bytes. A reply frame is
 * [u16 BE type][u32 BE length][data].
 */
#ifndef GMQ_PROTO_TCP_H
#define GMQ_PROTO_TCP_H

#include "common/buf.h"
#include "common/gmq.h"
#include "proto/errors.h"

#include <stddef.h>
#include <stdint.h>

/* reply frame types */
#define GMQ_TCP_MESSAGE 101   /* message JSON {"id","body","retry_count"} */
#define GMQ_TCP_ERROR   102   /* "E_CODE - text" (or "no message") */
#define GMQ_TCP_RESULT  103   /* result text or JSON */
#define GMQ_TCP_CHANNEL 104   /* a channel message */
#define GMQ_TCP_PING    105   /* heartbeat "ping" while a pop waits */
#define GMQ_TCP_RAW     106   /* raw message: u64 BE id, u32 BE retry count, the body's bytes */

#define GMQ_TCP_FRAME_HDR  6  /* u16 type + u32 length */
#define GMQ_TCP_BODY_HDR   4  /* u32 length before each request body */
#define GMQ_TCP_MAX_ARGS   8  /* argument tokens kept (after the command name) */
#define GMQ_TCP_MPUB_ENVELOPE 4096  /* an mpub item may exceed max_body by its JSON envelope */
#define GMQ_TCP_RAW_HDR    12 /* u64 id + u32 retry count before a 106 frame's body */
#define GMQ_TCP_ARG_RAW    "raw"      /* last argument of pop/dead: answer a 106 frame */

typedef enum {
    GMQ_TCP_CMD_NONE = 0,
    GMQ_TCP_CMD_PUB,          /* pub <topic> <route_key> <delay> + 1 body */
    GMQ_TCP_CMD_MPUB,         /* mpub <topic> <n> + n JSON bodies */
    GMQ_TCP_CMD_POP,          /* pop <topic> <bind_key> [timeout] */
    GMQ_TCP_CMD_ACK,          /* ack <id> <topic> <bind_key> */
    GMQ_TCP_CMD_DEAD,         /* dead <topic> <bind_key> [timeout] */
    GMQ_TCP_CMD_SET,          /* set <topic> <auto_ack> [<mode> <ttr> <retry>] */
    GMQ_TCP_CMD_QUEUE,        /* queue <topic> <bind_key> */
    GMQ_TCP_CMD_REQUEUE,      /* requeue <topic> <bind_key> [id] */
    GMQ_TCP_CMD_SUBSCRIBE,    /* subscribe <channel> */
    GMQ_TCP_CMD_UNSUBSCRIBE,  /* unsubscribe <channel> */
    GMQ_TCP_CMD_PUBLISH,      /* publish <channel> + 1 body, or publish <channel> <text ...> */
    GMQ_TCP_CMD_PING,         /* ping */
    GMQ_TCP_CMD_AUTH,         /* auth <token> */
    GMQ_TCP_CMD_PURGE,        /* purge <topic> <bind_key> [force] */
    GMQ_TCP_CMD_DELQUEUE,     /* delqueue <topic> <bind_key> [force] */
    GMQ_TCP_CMD_DELTOPIC,     /* deltopic <topic> [force] */
    GMQ_TCP_CMD_PEEK,         /* peek <topic> <bind_key> [ready|delayed|dead] */
    GMQ_TCP_CMD_DEADLIST,     /* deadlist <topic> <bind_key> [limit] */
    GMQ_TCP_CMD_KICK,         /* kick <topic> <bind_key> [n] */
    GMQ_TCP_CMD_TOUCH,        /* touch <topic> <bind_key> <id> */
    GMQ_TCP_CMD_RELEASE,      /* release <topic> <bind_key> <id> [delay] */
    GMQ_TCP_CMD_STATS,        /* stats <topic> */
    GMQ_TCP_CMD__COUNT
} gmq_tcp_cmd_t;

/* "pub", "mpub", ...; "" for NONE or out of range */
const char   *gmq_tcp_cmd_name(gmq_tcp_cmd_t cmd);
/* the command named s[0..len) (case-sensitive), GMQ_TCP_CMD_NONE if none */
gmq_tcp_cmd_t gmq_tcp_cmd_find(const char *s, size_t len);

typedef struct {
    size_t   max_line;   /* bytes of a command line, \r\n excluded */
    size_t   max_body;   /* bytes of one body (mpub items: + GMQ_TCP_MPUB_ENVELOPE) */
    uint32_t max_mpub;   /* bodies of one mpub */
} gmq_tcp_limits_t;

typedef struct {
    const char *p;
    size_t      len;
} gmq_tcp_str_t;

typedef enum {
    GMQ_TCP_EV_CMD = 1,   /* a complete command: its line, and for pub/publish its body */
    GMQ_TCP_EV_BODY,      /* the next body of the mpub announced by the last CMD */
    GMQ_TCP_EV_ERROR,     /* a protocol error to answer (fatal: close after answering) */
} gmq_tcp_ev_type_t;

typedef struct {
    gmq_tcp_ev_type_t type;
    gmq_tcp_cmd_t     cmd;         /* CMD and BODY */
    /* CMD: the argument tokens after the command name. argc counts every
     * token, even past GMQ_TCP_MAX_ARGS (only the first ones are in argv). */
    int               argc;
    gmq_tcp_str_t     argv[GMQ_TCP_MAX_ARGS];
    gmq_tcp_str_t     tail;        /* CMD: the line from argv[1] on, unsplit ("" if argc < 2) */
    uint32_t          nbodies;     /* CMD of mpub: BODY events that follow */
    uint32_t          index;       /* BODY: 0-based index in the mpub */
    const char       *body;        /* CMD of pub/publish with a body, and BODY */
    size_t            body_len;
    int               has_body;    /* CMD: body/body_len are set */
    gmq_ecode_t       ecode;       /* ERROR */
    int               fatal;       /* ERROR: the stream cannot be resynced */
    char              msg[GMQ_ERRMSG_MAX];   /* ERROR: text without the "E_CODE - " prefix */
} gmq_tcp_event_t;

typedef struct {
    gmq_tcp_limits_t lim;
    int              started;      /* a byte was seen (TLS ClientHello check) */
    int              broken;       /* a fatal error was returned */
    uint32_t         bodies_left;  /* of the current mpub */
    uint32_t         body_index;
    size_t           scanned;      /* bytes of the pending line already searched for \n */
} gmq_tcp_parser_t;

void gmq_tcp_parser_init(gmq_tcp_parser_t *p, const gmq_tcp_limits_t *lim);

/*
 * Parse the next event from buf[0..len). Resumable: the caller keeps the
 * unconsumed bytes and calls again with them and whatever arrived since.
 *   GMQ_OK:    *ev filled, *used = bytes consumed by it. Pointers in *ev
 *              point into buf and stay valid until the caller discards them.
 *   GMQ_AGAIN: more input is needed; *used = 0.
 *   GMQ_ERR:   the parser is broken (after a fatal ERROR event); *used = 0.
 * Errors reported as ERROR events: a line over max_line (fatal), a TLS
 * ClientHello as the first byte (fatal), a NUL byte in a line (fatal), an
 * mpub count that is not 1..max_mpub (fatal: the bodies cannot be skipped),
 * a body over its limit (fatal), an empty line and an unknown command
 * (non-fatal: the line is consumed). A CMD is only returned once its body
 * (pub, publish) is complete, so a non-fatal error answered by the caller
 * never leaves a body in the stream.
 */
int  gmq_tcp_parse(gmq_tcp_parser_t *p, const char *buf, size_t len, size_t *used,
                   gmq_tcp_event_t *ev);

/* ---- replies (node side) ---- */

void gmq_tcp_put_frame(gmq_buf_t *b, uint16_t type, const void *data, size_t len);
/* a 106 frame: the message's id, retry count and body as they are */
void gmq_tcp_put_raw(gmq_buf_t *b, uint64_t id, uint32_t retry, const void *body, size_t len);
/* a 102 frame "E_NAME - text" */
void gmq_tcp_put_error(gmq_buf_t *b, int ecode, const char *fmt, ...) GMQ_PRINTF(3, 4);

/* ---- client side ---- */

/* a request line: the command name, then each argument after one space, then \n */
void gmq_tcp_put_cmd(gmq_buf_t *b, gmq_tcp_cmd_t cmd, int argc, const char *const *argv);
/* a request body: u32 BE length then the bytes */
void gmq_tcp_put_body(gmq_buf_t *b, const void *p, size_t len);
/*
 * Decode one reply frame from buf[0..len): GMQ_OK with *type, *data (into
 * buf), *dlen and *used; GMQ_AGAIN when incomplete; GMQ_ERR when the type
 * is not 101..106 or the length is over max_len.
 */
int  gmq_tcp_frame_decode(const char *buf, size_t len, size_t max_len, uint16_t *type,
                          const char **data, uint32_t *dlen, size_t *used);
/* The data of a 106 frame: GMQ_OK with *id, *retry, *body and *blen (into
 * data), GMQ_ERR when it is shorter than GMQ_TCP_RAW_HDR. */
int  gmq_tcp_raw_decode(const char *data, size_t len, uint64_t *id, uint32_t *retry,
                        const char **body, size_t *blen);

#endif

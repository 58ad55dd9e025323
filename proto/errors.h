/*
 * errors.h - client-visible error codes of the wire protocols (the original
 * gmq's E_* names) and the error value that carries one with its text.
 * Internal return codes (GMQ_OK/GMQ_ERR/GMQ_AGAIN) live in common/gmq.h.
 */
#ifndef GMQ_ERRORS_H
#define GMQ_ERRORS_H

#include <stddef.h>

typedef enum {
    GMQ_E_NONE = 0,
    GMQ_E_INVALID_PARAMS,
    GMQ_E_INVALID_DELAY,
    GMQ_E_INVALID_READ,
    GMQ_E_INVALID_POP,
    GMQ_E_INVALID_ACK,
    GMQ_E_INVALID_JSON,
    GMQ_E_INVALID_PUSHNUM,
    GMQ_E_INVALID_PUSH,
    GMQ_E_INVALID_DEAD,
    GMQ_E_INVALID_SET,
    GMQ_E_INVALID_DECLARE,
    GMQ_E_INVALID_SUBSCRIBE,
    GMQ_E_INVALID_CMD,
    GMQ_E_INVALID_TOPIC,
    GMQ_E_INVALID_BINDKEY,
    GMQ_E_INVALID_CHANNEL,
    GMQ_E_INVALID_PUBLISH,
    GMQ_E_INVALID_RESPONSE,
    /* ours */
    GMQ_E_INVALID_ROUTE,      /* route key / pattern errors, no matching queue */
    GMQ_E_NOT_FOUND,          /* unknown message id, topic or queue */
    GMQ_E_TOO_LARGE,          /* a configured limit was crossed */
    GMQ_E_UNAVAILABLE,        /* the topic's worker is down or restarting */
    GMQ_E_STORAGE,            /* disk full, I/O error: nothing was stored */
    GMQ_E_AUTH,               /* missing or wrong token */
    GMQ_E_LIMIT,              /* connection/topic/queue count limits */
    GMQ_E_INTERNAL,
    GMQ_E_IN_FLIGHT,          /* purge/delete refused: messages in flight, no force */
    GMQ_E__COUNT
} gmq_ecode_t;

#define GMQ_ERRMSG_MAX 256

typedef struct {
    gmq_ecode_t code;
    char        msg[GMQ_ERRMSG_MAX];
} gmq_error_t;

/* "E_INVALID_PARAMS" ...; "E_UNKNOWN" for values out of range */
const char *gmq_ecode_name(int code);

/* set e->code and a printf-formatted e->msg; returns GMQ_ERR for tail calls */
int gmq_error_set(gmq_error_t *e, gmq_ecode_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

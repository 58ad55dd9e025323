/*
 * errors.c - names of the client-visible error codes and the helper that
 * fills a gmq_error_t.
 */
#include "errors.h"
#include "common/gmq.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const errors_names[GMQ_E__COUNT] = {
    [GMQ_E_NONE]              = "E_NONE",
    [GMQ_E_INVALID_PARAMS]    = "E_INVALID_PARAMS",
    [GMQ_E_INVALID_DELAY]     = "E_INVALID_DELAY",
    [GMQ_E_INVALID_READ]      = "E_INVALID_READ",
    [GMQ_E_INVALID_POP]       = "E_INVALID_POP",
    [GMQ_E_INVALID_ACK]       = "E_INVALID_ACK",
    [GMQ_E_INVALID_JSON]      = "E_INVALID_JSON",
    [GMQ_E_INVALID_PUSHNUM]   = "E_INVALID_PUSHNUM",
    [GMQ_E_INVALID_PUSH]      = "E_INVALID_PUSH",
    [GMQ_E_INVALID_DEAD]      = "E_INVALID_DEAD",
    [GMQ_E_INVALID_SET]       = "E_INVALID_SET",
    [GMQ_E_INVALID_DECLARE]   = "E_INVALID_DECLARE",
    [GMQ_E_INVALID_SUBSCRIBE] = "E_INVALID_SUBSCRIBE",
    [GMQ_E_INVALID_CMD]       = "E_INVALID_CMD",
    [GMQ_E_INVALID_TOPIC]     = "E_INVALID_TOPIC",
    [GMQ_E_INVALID_BINDKEY]   = "E_INVALID_BINDKEY",
    [GMQ_E_INVALID_CHANNEL]   = "E_INVALID_CHANNEL",
    [GMQ_E_INVALID_PUBLISH]   = "E_INVALID_PUBLISH",
    [GMQ_E_INVALID_RESPONSE]  = "E_INVALID_RESPONSE",
    [GMQ_E_INVALID_ROUTE]     = "E_INVALID_ROUTE",
    [GMQ_E_NOT_FOUND]         = "E_NOT_FOUND",
    [GMQ_E_TOO_LARGE]         = "E_TOO_LARGE",
    [GMQ_E_UNAVAILABLE]       = "E_UNAVAILABLE",
    [GMQ_E_STORAGE]           = "E_STORAGE",
    [GMQ_E_AUTH]              = "E_AUTH",
    [GMQ_E_LIMIT]             = "E_LIMIT",
    [GMQ_E_INTERNAL]          = "E_INTERNAL",
    [GMQ_E_IN_FLIGHT]         = "E_IN_FLIGHT",
};

const char *
gmq_ecode_name(int code)
{
    if (code < 0 || code >= GMQ_E__COUNT || errors_names[code] == NULL)
        return "E_UNKNOWN";
    return errors_names[code];
}

int
gmq_error_set(gmq_error_t *e, gmq_ecode_t code, const char *fmt, ...)
{
    if (e != NULL) {
        va_list ap;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return GMQ_ERR;
}

/*
 * log.h - the process-wide log sink. Levels follow the original gnode:
 * 0 error, 1 warn, 2 info, 3 trace, 4 debug; a line is written when its
 * level <= the configured level.
 */
#ifndef GMQ_LOG_H
#define GMQ_LOG_H

#include "gmq.h"

#define GMQ_LOG_ERROR 0
#define GMQ_LOG_WARN  1
#define GMQ_LOG_INFO  2
#define GMQ_LOG_TRACE 3
#define GMQ_LOG_DEBUG 4

/* Set the level and the target: path NULL or "" = stderr. Returns GMQ_OK, or
 * GMQ_ERR when the file cannot be opened (the old sink stays). */
int  gmq_log_open(int level, const char *path);
/* the same with an already-open descriptor (-1 = stderr), e.g. one a
 * worker was started with */
void gmq_log_adopt(int level, int fd);
void gmq_log_set_level(int level);
/* the name printed in every line, e.g. "master" or "worker ketang" */
void gmq_log_set_ident(const char *ident);
/* the log file's descriptor (-1 for stderr), so a forked child keeps it */
int  gmq_log_fd(void);

void gmq_log(int level, const char *fmt, ...) GMQ_PRINTF(2, 3);
void gmq_log_fatal(const char *fmt, ...) GMQ_PRINTF(1, 2) GMQ_NORETURN;

/* A warning that can repeat fast (accept failing with EMFILE): at most one
 * line per GMQ_LOG_RATE_MS per state; the next line written says how many
 * were suppressed in between. The caller owns the state (zeroed = fresh). */
#define GMQ_LOG_RATE_MS 1000
typedef struct {
    uint64_t last_ms;       /* monotonic time of the last line written, 0 = none */
    uint64_t suppressed;    /* lines dropped since */
} gmq_log_rate_t;

void gmq_log_ratelimited(gmq_log_rate_t *rs, int level, const char *fmt, ...) GMQ_PRINTF(3, 4);

#define gmq_log_error(...) gmq_log(GMQ_LOG_ERROR, __VA_ARGS__)
#define gmq_log_warn(...)  gmq_log(GMQ_LOG_WARN, __VA_ARGS__)
#define gmq_log_info(...)  gmq_log(GMQ_LOG_INFO, __VA_ARGS__)
#define gmq_log_debug(...) gmq_log(GMQ_LOG_DEBUG, __VA_ARGS__)

#endif

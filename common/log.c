/*
 * log.c - owns the log sink: one line per call, written with a single
 * write(2) so lines of the master and its workers never interleave.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int  log_level = GMQ_LOG_INFO;
static int  log_fd = -1;
static char log_ident[64] = "gmq";

static void log_write(int level, const char *fmt, va_list ap);

int
gmq_log_open(int level, const char *path)
{
    log_level = level;
    if (path == NULL || path[0] == '\0') {
        if (log_fd >= 0)
            close(log_fd);
        log_fd = -1;
        return GMQ_OK;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return GMQ_ERR;
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    return GMQ_OK;
}

void
gmq_log_adopt(int level, int fd)
{
    log_level = level;
    if (log_fd >= 0 && log_fd != fd)
        close(log_fd);
    log_fd = fd;
}

void
gmq_log_set_level(int level)
{
    log_level = level;
}

void
gmq_log_set_ident(const char *ident)
{
    snprintf(log_ident, sizeof(log_ident), "%s", ident);
}

int
gmq_log_fd(void)
{
    return log_fd;
}

void
gmq_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, fmt, ap);
    va_end(ap);
}

void
gmq_log_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_write(GMQ_LOG_ERROR, fmt, ap);
    va_end(ap);
    abort();
}

void
gmq_log_ratelimited(gmq_log_rate_t *rs, int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    uint64_t now = gmq_mono_ms();
    if (rs->last_ms != 0 && now - rs->last_ms < GMQ_LOG_RATE_MS) {
        rs->suppressed++;
        return;
    }
    char msg[1800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (rs->suppressed > 0)
        gmq_log(level, "%s (%llu more like it in the last %.1f s)", msg,
                (unsigned long long) rs->suppressed, (double) (now - rs->last_ms) / 1000.0);
    else
        gmq_log(level, "%s", msg);
    rs->last_ms = now;
    rs->suppressed = 0;
}

static void
log_write(int level, const char *fmt, va_list ap)
{
    static const char tags[] = "EWITD";
    char line[2048];
    struct timespec ts;
    struct tm tm;
    int saved = errno;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "[%c] %04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s:%d] ",
                     tags[level < 0 ? 0 : level > 4 ? 4 : level], tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_ident, (int) getpid());
    if (n < 0)
        n = 0;
    int m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
    size_t len = (size_t) n + (m < 0 ? 0 : (size_t) m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd >= 0 ? log_fd : STDERR_FILENO, line, len);
    (void) w;
    errno = saved;
}

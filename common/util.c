/*
 * util.c - small helpers shared by every process: clocks, name validation,
 * allocation wrappers that abort on out-of-memory, a forked child's exit.
 */
#include "gmq.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


uint64_t
gmq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t
gmq_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

uint64_t
gmq_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* the loop clock: read once per event-loop iteration (gmq_clock_tick) */
static int      clock_ticking;
static uint64_t clock_mono_ns, clock_real_ms;

void
gmq_clock_tick(void)
{
    clock_ticking = 1;
    clock_mono_ns = gmq_mono_ns();
    clock_real_ms = gmq_now_ms();
}

uint64_t
gmq_loop_mono_ns(void)
{
    return clock_ticking ? clock_mono_ns : gmq_mono_ns();
}

uint64_t
gmq_loop_mono_ms(void)
{
    return gmq_loop_mono_ns() / 1000000u;
}

uint64_t
gmq_loop_now_ms(void)
{
    return clock_ticking ? clock_real_ms : gmq_now_ms();
}

size_t
gmq_u64_dec(char *out, uint64_t v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    char tmp[GMQ_U64_DEC_MAX];
    size_t i = sizeof(tmp);
    while (v >= 100) {
        unsigned k = (unsigned) (v % 100) * 2;
        v /= 100;
        tmp[--i] = pairs[k + 1];
        tmp[--i] = pairs[k];
    }
    if (v >= 10) {
        tmp[--i] = pairs[v * 2 + 1];
        tmp[--i] = pairs[v * 2];
    } else {
        tmp[--i] = (char) ('0' + v);
    }
    size_t n = sizeof(tmp) - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

int
gmq_name_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > GMQ_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    /* "." and ".." would be directory names with a meaning */
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    return 1;
}

void *
gmq_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        gmq_log_fatal("out of memory (%zu bytes)", n);
    return p;
}

void *
gmq_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        gmq_log_fatal("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *
gmq_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        gmq_log_fatal("out of memory (%zu bytes)", n);
    return q;
}

char *
gmq_xstrdup(const char *s)
{
    return gmq_xstrndup(s, strlen(s));
}

char *
gmq_xstrndup(const char *s, size_t n)
{
    char *p = gmq_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int
gmq_mkdir_p(const char *path, unsigned mode)
{
    char *p = gmq_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; *s && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, (mode_t) mode) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, (mode_t) mode) != 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

int
gmq_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t x = 0;
    if (s == NULL || len == 0 || len > 20)
        return GMQ_ERR;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return GMQ_ERR;
        uint64_t d = (uint64_t) (s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return GMQ_ERR;
        x = x * 10 + d;
    }
    if (x > max)
        return GMQ_ERR;
    *out = x;
    return GMQ_OK;
}

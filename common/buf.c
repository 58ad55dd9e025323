/*
 * buf.c - growable byte buffers and big-endian integer helpers.
 */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
gmq_buf_init(gmq_buf_t *b)
{
    b->data = NULL;
    b->pos = b->len = b->cap = 0;
}

void
gmq_buf_free(gmq_buf_t *b)
{
    free(b->data);
    gmq_buf_init(b);
}

void
gmq_buf_reset(gmq_buf_t *b)
{
    b->pos = b->len = 0;
}

char *
gmq_buf_reserve(gmq_buf_t *b, size_t n)
{
    if (b->pos > 0 && b->cap - b->len < n) {
        memmove(b->data, b->data + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;
    }
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->data = gmq_xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void
gmq_buf_append(gmq_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(gmq_buf_reserve(b, n), p, n);
    b->len += n;
}

void
gmq_buf_append_str(gmq_buf_t *b, const char *s)
{
    gmq_buf_append(b, s, strlen(s));
}

void
gmq_buf_printf(gmq_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    char *p = gmq_buf_reserve(b, (size_t) n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

void
gmq_buf_put_u16(gmq_buf_t *b, uint16_t v)
{
    unsigned char p[2] = { (unsigned char) (v >> 8), (unsigned char) v };
    gmq_buf_append(b, p, 2);
}

void
gmq_put_u32(void *p, uint32_t v)
{
    unsigned char *c = p;
    c[0] = (unsigned char) (v >> 24);
    c[1] = (unsigned char) (v >> 16);
    c[2] = (unsigned char) (v >> 8);
    c[3] = (unsigned char) v;
}

void
gmq_put_u64(void *p, uint64_t v)
{
    gmq_put_u32(p, (uint32_t) (v >> 32));
    gmq_put_u32((unsigned char *) p + 4, (uint32_t) v);
}

void
gmq_buf_put_u32(gmq_buf_t *b, uint32_t v)
{
    unsigned char p[4];
    gmq_put_u32(p, v);
    gmq_buf_append(b, p, 4);
}

void
gmq_buf_put_u64(gmq_buf_t *b, uint64_t v)
{
    gmq_buf_put_u32(b, (uint32_t) (v >> 32));
    gmq_buf_put_u32(b, (uint32_t) v);
}

/* length of the valid UTF-8 sequence at s (1..4), or 0 if invalid */
static size_t
buf_utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) { len = 2; cp = s[0] & 0x1f; }
    else if ((s[0] & 0xf0) == 0xe0) { len = 3; cp = s[0] & 0x0f; }
    else if ((s[0] & 0xf8) == 0xf0) { len = 4; cp = s[0] & 0x07; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int
gmq_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = buf_utf8_len((const unsigned char *) s + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

void
gmq_buf_json_str(gmq_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    gmq_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char) s[i];
        if (c >= 0x80) {
            size_t l = buf_utf8_len((const unsigned char *) s + i, n - i);
            if (l == 0) {
                gmq_buf_append(b, "\\ufffd", 6);   /* invalid UTF-8: replacement char */
                i++;
            } else {
                gmq_buf_append(b, s + i, l);
                i += l;
            }
            continue;
        }
        switch (c) {
        case '"':  gmq_buf_append(b, "\\\"", 2); break;
        case '\\': gmq_buf_append(b, "\\\\", 2); break;
        case '\n': gmq_buf_append(b, "\\n", 2); break;
        case '\r': gmq_buf_append(b, "\\r", 2); break;
        case '\t': gmq_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                gmq_buf_append(b, e, 6);
            } else {
                gmq_buf_append(b, &s[i], 1);
            }
        }
        i++;
    }
    gmq_buf_append(b, "\"", 1);
}

void
gmq_buf_consume(gmq_buf_t *b, size_t n)
{
    b->pos += n;
    if (b->pos >= b->len)
        b->pos = b->len = 0;
}

ssize_t
gmq_buf_read_fd(gmq_buf_t *b, int fd, size_t max)
{
    char *p = gmq_buf_reserve(b, max);
    ssize_t n;
    do {
        n = read(fd, p, max);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        b->len += (size_t) n;
    return n;
}

int
gmq_buf_fill_fd(gmq_buf_t *b, int fd, size_t chunk, int *eof)
{
    *eof = 0;
    for (;;) {
        ssize_t n = gmq_buf_read_fd(b, fd, chunk);
        if (n == 0) {
            *eof = 1;
            return GMQ_OK;
        }
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? GMQ_OK : GMQ_ERR;
        if ((size_t) n < chunk)
            return GMQ_OK;
    }
}

ssize_t
gmq_buf_write_fd(gmq_buf_t *b, int fd)
{
    size_t total = 0;
    while (gmq_buf_used(b) > 0) {
        ssize_t n = write(fd, gmq_buf_rptr(b), gmq_buf_used(b));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        gmq_buf_consume(b, (size_t) n);
        total += (size_t) n;
    }
    return (ssize_t) total;
}

uint16_t
gmq_get_u16(const void *p)
{
    const unsigned char *c = p;
    return (uint16_t) ((c[0] << 8) | c[1]);
}

uint32_t
gmq_get_u32(const void *p)
{
    const unsigned char *c = p;
    return ((uint32_t) c[0] << 24) | ((uint32_t) c[1] << 16) | ((uint32_t) c[2] << 8) | c[3];
}

uint64_t
gmq_get_u64(const void *p)
{
    const unsigned char *c = p;
    return ((uint64_t) gmq_get_u32(c) << 32) | gmq_get_u32(c + 4);
}

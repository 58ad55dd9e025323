/*
 * buf.h - a growable byte buffer with a read position, used for socket
 * input and output queues and for building frames.
 */
#ifndef GMQ_BUF_H
#define GMQ_BUF_H

#include "gmq.h"

#include <stdarg.h>
#include <sys/types.h>

struct gmq_buf_s {
    char  *data;
    size_t pos;   /* first unread byte */
    size_t len;   /* end of valid data */
    size_t cap;
};

void   gmq_buf_init(gmq_buf_t *b);
void   gmq_buf_free(gmq_buf_t *b);          /* frees the storage, keeps b usable */
void   gmq_buf_reset(gmq_buf_t *b);
/* make room for n more bytes; returns a pointer to the free space */
char  *gmq_buf_reserve(gmq_buf_t *b, size_t n);
void   gmq_buf_append(gmq_buf_t *b, const void *p, size_t n);
void   gmq_buf_append_str(gmq_buf_t *b, const char *s);
void   gmq_buf_printf(gmq_buf_t *b, const char *fmt, ...) GMQ_PRINTF(2, 3);
void   gmq_buf_put_u16(gmq_buf_t *b, uint16_t v);   /* big-endian */
void   gmq_buf_put_u32(gmq_buf_t *b, uint32_t v);
void   gmq_buf_put_u64(gmq_buf_t *b, uint64_t v);
/* 1 if s[0..n) is valid UTF-8 (what gmq_buf_json_str copies unchanged) */
int    gmq_utf8_valid(const char *s, size_t n);
/* append s as a JSON string literal, quotes included */
void   gmq_buf_json_str(gmq_buf_t *b, const char *s, size_t n);
static inline size_t gmq_buf_used(const gmq_buf_t *b) { return b->len - b->pos; }
static inline char  *gmq_buf_rptr(const gmq_buf_t *b) { return b->data + b->pos; }
/* mark n bytes as consumed; compacts when everything was read */
void   gmq_buf_consume(gmq_buf_t *b, size_t n);
/* read() once into the buffer; returns bytes read, 0 on EOF, -1 on error */
ssize_t gmq_buf_read_fd(gmq_buf_t *b, int fd, size_t max);
/* read() until the fd has nothing more (EAGAIN) or EOF (*eof = 1; what was
 * read before it stays in the buffer). GMQ_ERR with errno on a read error. */
int     gmq_buf_fill_fd(gmq_buf_t *b, int fd, size_t chunk, int *eof);
/* write() as much as the fd takes; returns bytes written or -1 (EAGAIN = 0) */
ssize_t gmq_buf_write_fd(gmq_buf_t *b, int fd);

/* the one set of big-endian helpers: into buffers, and at raw pointers */
void     gmq_put_u32(void *p, uint32_t v);
void     gmq_put_u64(void *p, uint64_t v);
uint16_t gmq_get_u16(const void *p);
uint32_t gmq_get_u32(const void *p);
uint64_t gmq_get_u64(const void *p);

#endif

/*
 * record.h - the on-disk record of a queue log: encode, decode, CRC check.
 * Pure functions, no I/O. All integers big-endian, records 8-byte aligned:
 *   0 u32 magic 'GMQr' | 4 u32 crc32 of bytes 8..end | 8 u8 version | 9 u8 type
 *  10 u16 flags | 12 u32 body len | 16 u64 id | 24 u64 ts | 32 u64 due
 *  40 u32 retry | 44 u32 zero | 48 body, zero padding to a multiple of 8
 */
#ifndef GMQ_RECORD_H
#define GMQ_RECORD_H

#include "common/gmq.h"

#include <stddef.h>
#include <stdint.h>

#define GMQ_RECORD_MAGIC   0x474d5172u   /* "GMQr" */
#define GMQ_RECORD_VERSION 1
#define GMQ_RECORD_HDR     48
#define GMQ_RECORD_ALIGN   8
#define GMQ_RECORD_MAX_BODY 0x7fffffffu

/* record types: a message, then state changes that refer to it by id */
#define GMQ_REC_MSG     1   /* body; ts = pushed_at, due = due time (0 = ready) */
#define GMQ_REC_DELIVER 2   /* ts = delivered at, due = TTR deadline */
#define GMQ_REC_ACK     3   /* done: acked (or auto-acked) */
#define GMQ_REC_REQUEUE 4   /* back to ready with retry; flag HEAD = at the head;
                             * due > 0: delayed until then (a release with a delay) */
#define GMQ_REC_DUE     5   /* a delayed message became ready */
#define GMQ_REC_DEAD    6   /* moved to the dead-letter queue */
#define GMQ_REC_MOVED   7   /* dead letter moved back to its queue */
#define GMQ_REC_PURGE   8   /* id 0: every message the queue holds at this point is gone */
#define GMQ_REC_TYPE_MAX GMQ_REC_PURGE

#define GMQ_REC_F_HEAD  0x0001  /* REQUEUE: to the head of ready (release) */
#define GMQ_REC_F_RELOC 0x0002  /* MSG: a relocated copy of a live message */

typedef struct {
    uint8_t     type;
    uint16_t    flags;
    uint32_t    len;     /* body length */
    uint64_t    id;
    uint64_t    ts;
    uint64_t    due;
    uint32_t    retry;
    const char *body;    /* decode: points into the source buffer */
} gmq_record_t;

/* bytes the record takes on disk, padding included */
static inline size_t
gmq_record_size(size_t body_len)
{
    return (GMQ_RECORD_HDR + body_len + GMQ_RECORD_ALIGN - 1) & ~(size_t) (GMQ_RECORD_ALIGN - 1);
}

/* Write r (and r->len bytes of r->body) to dst, which has room for
 * gmq_record_size(r->len) bytes. Returns that size. */
size_t gmq_record_encode(void *dst, const gmq_record_t *r);

/* Decode the record at src with avail bytes readable. GMQ_OK: *out filled,
 * *size = bytes taken. GMQ_AGAIN: a zero magic word (end of data).
 * GMQ_ERR: anything else that is not a valid record (bad magic, version,
 * type, length past avail, CRC mismatch). */
int    gmq_record_decode(const void *src, size_t avail, gmq_record_t *out, size_t *size);

#endif

/*
 * record.h - the on-disk record of a queue log: encode, decode, CRC check.
 * Pure functions, no I/O. All integers big-endian, records 8-byte aligned.
 * Version 2 (written):
 *   0 u32 magic 'GMQr' | 4 u32 crc32 of bytes 8..end | 8 u8 version 2 | 9 u8 type
 *  10 u16 flags | 12 u32 body len | 16 u64 id | 24 u64 ts | 32 u64 due
 *  40 u32 retry | 44 u32 epoch | 48 u64 seq | 56 u64 pos | 64 body, zero padding
 *  to a multiple of 8
 * Version 1 (read only, for the upgrade: gmq_record_decode_v1): the same up
 *  to 40 u32 retry, then 44 u32 zero | 48 body; seq, epoch and pos decode as 0.
 */
#ifndef GMQ_RECORD_H
#define GMQ_RECORD_H

#include "common/gmq.h"

#include <stddef.h>
#include <stdint.h>

#define GMQ_RECORD_MAGIC    0x474d5172u   /* "GMQr" */
#define GMQ_RECORD_VERSION  2
#define GMQ_RECORD_HDR      64
#define GMQ_RECORD_V1_HDR   48
#define GMQ_RECORD_ALIGN    8
#define GMQ_RECORD_MAX_BODY 0x7fffffffu

/* record types: a message, then state changes that refer to it by id and
 * (version 2) by the position of its MSG record */
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
/* MSG with RELOC (version 2): the state the copy's message is in; pos holds
 * its order key (see docs/storage.md). None of them: delayed until due. */
#define GMQ_REC_F_TAIL      0x0004  /* ready, waits for the log to reach pos */
#define GMQ_REC_F_INFLIGHT  0x0008  /* in flight, delivered by the record of seq pos */
#define GMQ_REC_F_RECOVERED 0x0010  /* ready at the head: was in flight at a recovery */
#define GMQ_REC_F_RELEASED  0x0020  /* ready at the head: released by the record of seq pos */

typedef struct {
    uint8_t     version;  /* decode: 1 or 2; encode always writes 2 */
    uint8_t     type;
    uint16_t    flags;
    uint32_t    len;      /* body length */
    uint64_t    id;
    uint64_t    ts;
    uint64_t    due;
    uint32_t    retry;
    uint32_t    epoch;    /* the topic's epoch when it was written */
    uint64_t    seq;      /* topic-wide sequence number, 1, 2, ... */
    uint64_t    pos;      /* state records: position of the MSG record they are about */
    uint32_t    crc;      /* decode: the stored crc32 */
    const char *body;     /* decode: points into the source buffer */
} gmq_record_t;

/* bytes a version 2 record takes on disk, padding included */
static inline size_t
gmq_record_size(size_t body_len)
{
    return (GMQ_RECORD_HDR + body_len + GMQ_RECORD_ALIGN - 1) & ~(size_t) (GMQ_RECORD_ALIGN - 1);
}

/* Write r (and r->len bytes of r->body) to dst as version 2, which has room
 * for gmq_record_size(r->len) bytes. Returns that size. */
size_t gmq_record_encode(void *dst, const gmq_record_t *r);

/* Decode the version 2 record at src with avail bytes readable.
 * GMQ_OK: *out filled, *size = bytes taken (gmq_record_size(out->len)).
 * GMQ_AGAIN: a zero magic word, or fewer than 4 bytes (end of data).
 * GMQ_ERR: anything else that is not a valid version 2 record (bad magic,
 * another version — a version 1 record is none: a log holds records of
 * one version —, bad type, length past avail, CRC mismatch). */
int    gmq_record_decode(const void *src, size_t avail, gmq_record_t *out, size_t *size);
/* The same for a version 1 record (the previous format, read only by the
 * conversion, worker/upgrade.c): *size is its 48-byte header plus the body,
 * padded; seq, epoch and pos are 0. A version 2 record is GMQ_ERR. */
int    gmq_record_decode_v1(const void *src, size_t avail, gmq_record_t *out, size_t *size);

/* The header of a version 2 record known to be valid (decoded before),
 * without the CRC check: GMQ_OK, or GMQ_ERR when the magic, version, type
 * or length is wrong. */
int    gmq_record_peek(const void *src, size_t avail, gmq_record_t *out, size_t *size);

#endif

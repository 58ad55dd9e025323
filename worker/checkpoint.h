/*
 * checkpoint.h - a queue's checkpoint file (<queue dir>/checkpoint): the
 * state recovered from its log up to a position, so a restart replays only
 * what follows. Encoding, decoding with every check (a torn, damaged or
 * foreign file is refused: the caller then scans the whole log), and the
 * durable write (temp file reserved through the seam, written, fsync,
 * rename, directory fsync). Big-endian, see docs/storage.md.
 */
#ifndef GMQ_CHECKPOINT_H
#define GMQ_CHECKPOINT_H

#include "common/gmq.h"
#include "common/buf.h"
#include "proto/errors.h"

#include <stddef.h>
#include <stdint.h>

#define GMQ_CHECKPOINT_FILE    "checkpoint"
#define GMQ_CHECKPOINT_MAGIC   0x474d516bu   /* "GMQk" */
#define GMQ_CHECKPOINT_VERSION 1

typedef struct {
    uint64_t no, wpos, nready, min_id, max_id;
} gmq_checkpoint_seg_t;

typedef struct {
    uint64_t id, pos, key;
    uint64_t hkey;           /* DELAYED: due; INFLIGHT: deadline */
    uint64_t delivered_at;
    uint32_t retry, len;
    uint8_t  state, kind;    /* GMQ_QENT_*, GMQ_QHEAD_* */
} gmq_checkpoint_ent_t;

typedef struct {
    uint64_t incarnation;
    uint64_t applied;        /* every record before this log position is reflected */
    uint64_t check_pos;      /* the last record before it (GMQ_QPOS_NONE: none) ... */
    uint32_t check_crc;      /* ... and its crc, to see that the log still holds it */
    uint32_t epoch;
    uint64_t cursor;
    uint64_t max_seq, max_id;
    uint32_t corrupt;
    gmq_checkpoint_seg_t *segs;    /* oldest first */
    size_t                nsegs;
    gmq_checkpoint_ent_t *ents;    /* head list, tail list, delayed (due order), in flight, gone */
    size_t                nents;
} gmq_checkpoint_t;

/* append the file's bytes for c to out */
void gmq_checkpoint_encode(const gmq_checkpoint_t *c, gmq_buf_t *out);
/* GMQ_OK with c filled (arrays allocated: gmq_checkpoint_free), GMQ_ERR
 * for anything that is not a whole, undamaged checkpoint of this version
 * (a log position in it that is not 8-aligned, no record boundary, is
 * damage too: gmq writes none) */
int  gmq_checkpoint_decode(const void *p, size_t len, gmq_checkpoint_t *c);
void gmq_checkpoint_free(gmq_checkpoint_t *c);      /* the arrays; NULL ok */

/* Read dir's checkpoint: GMQ_OK, GMQ_AGAIN if there is none, GMQ_ERR if it
 * is unreadable or damaged (logged). */
int  gmq_checkpoint_load(const char *dir, gmq_checkpoint_t *c);
/* Replace dir's checkpoint with these bytes; sync != 0: fsync the file
 * before the rename and the directory after it. GMQ_ERR with err. */
int  gmq_checkpoint_store(const char *dir, const void *p, size_t len, int sync,
                          gmq_error_t *err);
void gmq_checkpoint_remove(const char *dir);

#endif

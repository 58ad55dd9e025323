/*
 * bgsync.h - a background thread that fdatasync()s files for the
 * fsync=everysec policy, so the once-a-second flush never blocks the
 * worker's loop (redis's bio does the same for appendfsync everysec), and
 * runs other jobs that must follow those syncs (a queue's checkpoint).
 * Jobs run one at a time in the order they were submitted.
 */
#ifndef GMQ_BGSYNC_H
#define GMQ_BGSYNC_H

#include "common/gmq.h"

typedef struct gmq_bgsync_s gmq_bgsync_t;

/* a job run on the background thread. arg stays the caller's and must stay
 * valid until the job is done. Returns 0 or an errno value, which is
 * reported like a failed sync (a job that may fail harmlessly keeps its
 * result in arg and returns 0). */
typedef int (*gmq_bgsync_fn)(void *arg);

gmq_bgsync_t *gmq_bgsync_new(void);          /* NULL if the thread cannot start */
/* waits for every submitted job to finish, then stops the thread; NULL ok */
void          gmq_bgsync_free(gmq_bgsync_t *b);
/* queue an fdatasync of fd; the fd is dup()ed, the caller keeps its own */
int           gmq_bgsync_submit(gmq_bgsync_t *b, int fd);
/* queue fn(arg) after everything submitted so far; returns its ticket
 * (> 0): the job is done once gmq_bgsync_done() >= ticket */
uint64_t      gmq_bgsync_submit_call(gmq_bgsync_t *b, gmq_bgsync_fn fn, void *arg);
/* how many jobs have finished (each submit is one job) */
uint64_t      gmq_bgsync_done(gmq_bgsync_t *b);
/* block until the job of this ticket is done */
void          gmq_bgsync_wait(gmq_bgsync_t *b, uint64_t ticket);
/* 0, or the errno of the first failed background job (sticky) */
int           gmq_bgsync_error(gmq_bgsync_t *b);

#endif

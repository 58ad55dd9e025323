/*
 * bgsync.h - a background thread that fdatasync()s files for the
 * fsync=everysec policy, so the once-a-second flush never blocks the
 * worker's loop (redis's bio does the same for appendfsync everysec).
 */
#ifndef GMQ_BGSYNC_H
#define GMQ_BGSYNC_H

#include "common/gmq.h"

typedef struct gmq_bgsync_s gmq_bgsync_t;

gmq_bgsync_t *gmq_bgsync_new(void);          /* NULL if the thread cannot start */
/* waits for every submitted sync to finish, then stops the thread; NULL ok */
void          gmq_bgsync_free(gmq_bgsync_t *b);
/* queue an fdatasync of fd; the fd is dup()ed, the caller keeps its own */
int           gmq_bgsync_submit(gmq_bgsync_t *b, int fd);
/* 0, or the errno of the first failed background sync (sticky) */
int           gmq_bgsync_error(gmq_bgsync_t *b);

#endif

/*
 * syncstat.h - how long a worker's msync, fsync and fdatasync calls take:
 * one histogram for the process (a worker holds one topic), observed by
 * the loop and by the background sync thread, reported in STAT replies
 * (/metrics sums them per topic). In memory only: it starts at zero with
 * each worker process.
 */
#ifndef GMQ_SYNCSTAT_H
#define GMQ_SYNCSTAT_H

#include "common/buf.h"
#include "common/histo.h"

/* a start time to give gmq_syncstat_observe after the call */
uint64_t gmq_syncstat_start(void);
/* one sync call that began at start (from any thread) */
void     gmq_syncstat_observe(uint64_t start);
/* a copy of the histogram so far */
void     gmq_syncstat_get(gmq_histo_t *out);
/* appends ,"fsync_buckets":[..],"fsync_sum":s,"fsync_count":n (see histo.h) */
void     gmq_syncstat_json(gmq_buf_t *out);

#endif

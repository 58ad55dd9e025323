/*
 * counters.h - a topic's counters file, <topic>/counters: the topic's
 * totals and one slot per queue (named by its bind key), mapped shared so
 * each increment is one store to memory and survives a kill -9
 * (docs/storage.md). Without a usable file the counters live in memory.
 */
#ifndef GMQ_COUNTERS_H
#define GMQ_COUNTERS_H

#include <stdint.h>

typedef struct gmq_counters_s gmq_counters_t;

/* the topic's totals, the header of the file */
typedef struct {
    uint64_t push_num, pop_num, acked_num, timeout_num, dead_num;
} gmq_counters_topic_t;

/* one queue's counters, in its slot of the file */
typedef struct {
    uint64_t pushed, popped, acked, timed_out, dead_lettered;
} gmq_counters_queue_t;

/* Map <dir>/counters, or start a new one when it is missing or not valid
 * (damaged slots are cleared). Never NULL and never fails: problems are
 * logged under the topic's name and the counters are then kept in memory.
 * Free with gmq_counters_close. */
gmq_counters_t *gmq_counters_open(const char *topic, const char *dir);

/* msync and unmap the file; NULL is accepted */
void gmq_counters_close(gmq_counters_t *c);

/* the topic's totals: in the file's header, or in memory. The pointer is
 * valid until a gmq_counters_claim that reports *moved, or the close. */
gmq_counters_topic_t *gmq_counters_topic(gmq_counters_t *c);

/* slots of the file, numbered 1..nslots (0 without a file) */
uint32_t gmq_counters_nslots(const gmq_counters_t *c);

/* the bind key slot ix is in use for, NULL when it is free */
const char *gmq_counters_name(const gmq_counters_t *c, uint32_t ix);

/* slot ix's counters (ix from 1); valid like gmq_counters_topic's */
gmq_counters_queue_t *gmq_counters_queue(gmq_counters_t *c, uint32_t ix);

/* clear slot ix: it is free again */
void gmq_counters_release(gmq_counters_t *c, uint32_t ix);

/* a free slot for bind_key, starting from the counters *init (the file
 * grows when it is full); its number, or 0 when there is none (no file,
 * or it cannot grow: the queue's counters stay in memory). *moved is set
 * when the file was remapped: every pointer taken before is then stale. */
uint32_t gmq_counters_claim(gmq_counters_t *c, const char *bind_key,
                            const gmq_counters_queue_t *init, int *moved);

#endif

/*
 * upgrade.h - conversion of a queue directory written by the previous
 * storage format (version 1 records, no checkpoint) to the current one:
 * its log is replayed with the old rules into memory once, the live
 * messages are written as a new log next to it (<dir>~v2), and a rename
 * swaps the two (the commit point; <dir>~v1 is the old one until removed).
 */
#ifndef GMQ_UPGRADE_H
#define GMQ_UPGRADE_H

#include "common/gmq.h"
#include "proto/errors.h"

typedef struct gmq_qshared_s gmq_qshared_t;   /* worker/queue.h */

/* Finish or undo what a conversion of dir interrupted by a crash left:
 * GMQ_OK (errno set on GMQ_ERR) */
int gmq_upgrade_settle(const char *dir);
/* 1 if such leftovers exist (dir itself may be missing then) */
int gmq_upgrade_pending(const char *dir);
/* 1 if dir's log has records of version 1, 0 if not, -1 (errno) */
int gmq_upgrade_needed(const char *dir);
/* Convert dir (a queue's directory; dead = a dead-letter queue): in-flight
 * messages become ready first in line, as a recovery made them, delayed
 * ones keep their due time, every retry count is kept. sh is the topic's
 * (the new records take its sequence numbers). GMQ_ERR with err: the old
 * log is untouched. */
int gmq_upgrade_queue(const char *dir, const char *bind_key, int dead, gmq_qshared_t *sh,
                      gmq_error_t *err);

#endif

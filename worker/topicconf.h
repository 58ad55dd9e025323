/*
 * topicconf.h - a topic's config file, <topic>/topic.conf: its settings
 * (auto_ack, mode, ttr, retry and which of ttr/retry were set by /config)
 * and its declared queues. Loaded once at open, rewritten atomically.
 */
#ifndef GMQ_TOPICCONF_H
#define GMQ_TOPICCONF_H

#include "worker/topic.h"

#include <stddef.h>

#define GMQ_TOPICCONF_SET_TTR   0x1   /* msgTTR was set by /config, not the node default */
#define GMQ_TOPICCONF_SET_RETRY 0x2

/* called for each valid "queue <bindkey>" line, in file order; GMQ_OK or
 * GMQ_ERR (with err set), which stops the load */
typedef int (*gmq_topicconf_queue_fn)(void *ctx, const char *bind_key, gmq_error_t *err);

/* Read <dir>/topic.conf into *c and *set (GMQ_TOPICCONF_SET_*). *c holds
 * the effective settings on entry: ttr and retry not set in the file keep
 * them, as does everything else the file lacks. GMQ_OK; GMQ_AGAIN when
 * there is no file (nothing changed); GMQ_ERR with err set, from reading or
 * from queue. *old is set when the file is in an older format and should be
 * rewritten with gmq_topicconf_save (after GMQ_OK). */
int gmq_topicconf_load(const char *dir, gmq_topic_conf_t *c, unsigned *set,
                       gmq_topicconf_queue_fn queue, void *ctx, int *old, gmq_error_t *err);

/* Write <dir>/topic.conf: temp file, fsync, rename, fsync the directory.
 * queues[0..n) are the bind keys of the declared queues. GMQ_OK, or
 * GMQ_ERR with err set and errno the cause (the old file is then untouched). */
int gmq_topicconf_save(const char *dir, const gmq_topic_conf_t *c, unsigned set,
                       const char *const *queues, size_t n, gmq_error_t *err);

#endif

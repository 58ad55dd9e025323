/*
 * topic_impl.h - the topic module's own structs and the helpers its files
 * share (worker/topic.c: open, routing, delivery, timers; worker/topicadm.c:
 * queue management and the JSON writers; worker/topicdir.c: the directory,
 * its lock and files). Nothing outside worker/topic*.c
 * includes it; everyone else uses worker/topic.h.
 */
#ifndef GMQ_TOPIC_IMPL_H
#define GMQ_TOPIC_IMPL_H

#include "topic.h"
#include "worker/bgsync.h"
#include "worker/counters.h"
#include "worker/heap.h"
#include "worker/queue.h"
#include "worker/route.h"

#define TOPIC_DEFAULT   "default"
#define TOPIC_NO_QUEUE  "bindkey:%s is not associated with queue"   /* the original's text */

typedef struct {
    gmq_queue_t  *q;      /* the queue of this bind key */
    gmq_queue_t  *dlq;    /* its dead letters, NULL until the first one */
    gmq_counters_queue_t *ctr;    /* its counters: in its counters file slot, or &own */
    gmq_counters_queue_t  own;
    uint32_t              ctr_ix; /* its slot in the counters file, 0 = none */
} topic_slot_t;

struct gmq_topic_s {
    char              *name;
    char              *dir;
    char              *data_dir;
    gmq_store_opts_t   opts;
    gmq_topic_conf_t   conf;        /* effective: ttr and retry follow the node default */
    unsigned           conf_set;    /* ...unless set here: GMQ_TOPICCONF_SET_* */
    int                lock_fd;
    topic_slot_t     **slots;       /* in declaration order */
    size_t             nslots, cap;
    topic_slot_t     **index;       /* open addressing by bind key, nindex = 2^k */
    size_t             nindex;
    gmq_queue_t      **targets;     /* push scratch, cap entries */
    gmq_heap_t         delay;
    gmq_heap_t         ttr;
    gmq_qshared_t      shared;      /* what its queues share: heaps, seq, epoch, policy */
    gmq_route_cache_t *routes;
    uint64_t           start_time;
    uint64_t           last_sync;
    int                dirty;       /* records appended since the last sync */
    gmq_bgsync_t      *bg;          /* fsync=everysec: the background sync thread */
    gmq_counters_t       *ctrs;     /* the counters file */
    gmq_counters_topic_t *ctr;      /* the topic's totals in it (moves when it grows) */
    int                ctr_bound;   /* the file's slots were matched with the queues */
    int                deleted;     /* gmq_topic_delete: dir is the renamed one, removed at close */
};

topic_slot_t *topic_slot(const gmq_topic_t *t, const char *bind_key);
/* open the queue of bind_key (and its dead-letter queue if it has a directory) */
topic_slot_t *topic_slot_open(gmq_topic_t *t, const char *bind_key, gmq_error_t *err);
const char   *topic_bk(const char *bind_key);
void          topic_index_add(gmq_topic_t *t, topic_slot_t *sl);
gmq_queue_t  *topic_dlq(gmq_topic_t *t, topic_slot_t *sl, gmq_error_t *err);
int           topic_move_back(gmq_topic_t *t, topic_slot_t *sl, const gmq_qmsg_t *m,
                              gmq_error_t *err);
void          topic_gc(gmq_queue_t *q);
/* a delivered message of the queue or of its dead-letter queue, NULL if none */
gmq_qent_t   *topic_inflight(topic_slot_t *sl, uint64_t id);
/* remove a directory tree (no symlinks followed); GMQ_ERR with errno */
int           topic_rmtree(const char *path);

/* topicdir.c: the directory, its lock, topic.conf, the counters file's slots */
char         *topic_path(const gmq_topic_t *t, const char *a, const char *b);
int           topic_lock(gmq_topic_t *t);
int           topic_conf_load(gmq_topic_t *t, gmq_error_t *err);
int           topic_conf_queue(void *ctx, const char *bind_key, gmq_error_t *err);
int           topic_conf_save(gmq_topic_t *t, const gmq_topic_conf_t *c, unsigned set,
                              const char *extra, gmq_error_t *err);
void          topic_drop_orphans(gmq_topic_t *t, const char *sub);
int           topic_incarnation(const char *data_dir, uint64_t *id);
void          topic_ctr_bind_all(gmq_topic_t *t);
void          topic_ctr_bind(gmq_topic_t *t, topic_slot_t *sl);
void          topic_ctr_unbind(gmq_topic_t *t, topic_slot_t *sl);
void          topic_ctr_remap(gmq_topic_t *t);

#endif

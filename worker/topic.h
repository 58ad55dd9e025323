/*
 * topic.h - the storage engine's API: one topic's queues, dead letters,
 * delay heap, in-flight table with TTR, message index and stats, persisted
 * under <data_dir>/<topic>/. Used only inside that topic's worker process.
 * Time is always passed in (now_ms, wall clock ms) so tests need no sleeps.
 * Pointers returned in gmq_msg_t stay valid until the next call on the topic.
 */
#ifndef GMQ_TOPIC_H
#define GMQ_TOPIC_H

#include "common/gmq.h"
#include "common/buf.h"
#include "proto/errors.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gmq_topic_s gmq_topic_t;

#define GMQ_MODE_EXACT 1   /* route key == bind key */
#define GMQ_MODE_REGEX 2   /* route key is a PCRE2 pattern searched in each bind key */
#define GMQ_MODE_TOPIC 3   /* AMQP topic wildcards: '*' one word, '#' zero or more, '.' separated */

#define GMQ_TOPIC_SEGMENT_MIN   (64 * 1024)  /* a smaller segment_size is raised to this */
#define GMQ_TOPIC_DEFAULT_TTR   30           /* when default_ttr is <= 0 */
#define GMQ_TOPIC_DEFAULT_RETRY 5            /* when default_retry is < 0 */
/* a deleted topic's directory until it is removed: <data_dir>/~deleted-<topic>-<ms>
 * ('~' is not allowed in topic names) */
#define GMQ_TOPIC_TRASH_PREFIX  "~deleted-"
/* <data_dir>/.gmq.incarnation: the data directory's storage id, a random
 * u64 in hex created once by the first topic opened there (it goes into
 * every checkpoint; replication tells copies of a data directory apart by
 * it). A dot name like the master's .gmq.lock. */
#define GMQ_TOPIC_INCARNATION   ".gmq.incarnation"

typedef struct {
    const char *data_dir;      /* topic files live in <data_dir>/<name>/ */
    int         fsync;         /* GMQ_FSYNC_ALWAYS / EVERYSEC / NO (common/config.h) */
    size_t      segment_size;  /* largest segment file, bytes */
    uint64_t    max_delay_ms;  /* larger delays are refused (E_INVALID_DELAY) */
    int         default_ttr;   /* seconds, for topics whose msgTTR was never set */
    int         default_retry; /* for topics whose msgRetry was never set */
    int         max_queues;    /* declared queues per topic (E_LIMIT past it) */
    int         confirm_delivery; /* auto-ack topics: a delivered message stays in flight
                                   * (TTR running) until gmq_topic_ack confirms that it
                                   * reached the client; 0 = finished on delivery */
    int         lock_wait_ms;  /* open: how long a held directory lock is waited for */
} gmq_store_opts_t;

/* topic settings; in a patch, -1 means "leave unchanged". ttr and retry
 * follow gmq_store_opts_t's defaults until a patch sets them; get_config
 * and the stats show the effective values. */
typedef struct {
    int auto_ack;   /* 0/1, default 0 */
    int mode;       /* GMQ_MODE_*, default 1 */
    int ttr;        /* seconds > 0, default from opts */
    int retry;      /* >= 0, default from opts */
} gmq_topic_conf_t;

typedef struct {
    uint64_t    id;
    uint32_t    retry;     /* retry_count: 0 on first delivery */
    const char *body;
    size_t      len;
} gmq_msg_t;

/* Open (create if missing) the topic: mkdir, flock() the directory (a held
 * lock is an error), load config and bindings, recover every queue (CRC
 * check, torn tail truncated, corrupt records skipped and counted, in-flight
 * messages become ready again). A lock held elsewhere is retried every
 * 10 ms for opts->lock_wait_ms (a previous worker of the topic may still be
 * exiting). NULL on failure with err set and errno the cause when known:
 * EWOULDBLOCK for a lock still held, EMFILE/ENFILE/ENOMEM/ENOSPC/EDQUOT
 * when resources ran out (worth a retry), else 0 or another value. */
gmq_topic_t *gmq_topic_open(const char *name, const gmq_store_opts_t *opts, gmq_error_t *err);
void         gmq_topic_close(gmq_topic_t *t);          /* syncs, unmaps, unlocks; NULL ok */
/* New node settings for an open topic (a SIGHUP): default ttr/retry for a
 * topic that never set its own (in-flight messages keep their deadline,
 * the next delivery uses the new TTR), max_delay_ms, fsync policy,
 * segment_size (segments created from now on), max_queues (existing
 * queues stay). data_dir is ignored. opts is copied; nothing fails. */
void         gmq_topic_set_opts(gmq_topic_t *t, const gmq_store_opts_t *opts);

int  gmq_topic_set_config(gmq_topic_t *t, const gmq_topic_conf_t *patch, gmq_error_t *err);
void gmq_topic_get_config(const gmq_topic_t *t, gmq_topic_conf_t *out);

/* declare a queue; E_INVALID_DECLARE "bindKey <bk> has exist." if it exists,
 * E_LIMIT "too many queues: ..." past max_queues */
int  gmq_topic_declare(gmq_topic_t *t, const char *bind_key, gmq_error_t *err);

/* Route and store one message under the given id (ids come from the caller).
 * Empty route key -> the "default" queue (created on demand, E_LIMIT as for
 * declare past max_queues). delay_ms > 0 -> held
 * in the delay heap until now_ms + delay_ms. No matching queue -> GMQ_ERR with
 * E_INVALID_ROUTE "routeKey:<rk> is not match with queue, the mode is <m>".
 * A full disk -> GMQ_ERR with E_STORAGE and nothing stored. */
int  gmq_topic_push(gmq_topic_t *t, uint64_t id, const char *route_key, const char *body,
                    size_t len, uint64_t delay_ms, uint64_t now_ms, gmq_error_t *err);

/* Deliver the oldest ready message of the bind key's queue ("" = default):
 * GMQ_OK with *out filled (TTR clock started unless auto-ack, which finishes
 * it at once), GMQ_AGAIN if the queue is empty, GMQ_ERR if there is no such
 * queue (E_INVALID_POP "bindKey:<bk> can't match queue"). */
int  gmq_topic_pop(gmq_topic_t *t, const char *bind_key, uint64_t now_ms, gmq_msg_t *out,
                   gmq_error_t *err);
/* Ack an in-flight message of the queue (or of its dead-letter queue).
 * No such queue: GMQ_ERR, E_INVALID_ACK "bindkey:<bk> is not associated
 * with queue". Unknown or already acked id: GMQ_ERR, E_INVALID_ACK
 * "msgId:<id> is not exist." */
int  gmq_topic_ack(gmq_topic_t *t, const char *bind_key, uint64_t id, gmq_error_t *err);
/* A delivered message whose consumer vanished before receiving it: back to
 * the head of ready at once, retry count unchanged. GMQ_ERR if not in flight
 * (E_INVALID_ACK "msgId:<id> is not exist.") or no such queue (E_INVALID_DEAD
 * "bindkey:<bk> is not associated with queue"). */
int  gmq_topic_release(gmq_topic_t *t, const char *bind_key, uint64_t id, gmq_error_t *err);

/* Deliver the next dead letter of the bind key's queue, same rules as pop
 * (it is then in flight in the dead-letter queue and can be acked there),
 * but no such queue is E_INVALID_DEAD "bindkey:<bk> is not associated with
 * queue". */
int  gmq_topic_dead(gmq_topic_t *t, const char *bind_key, uint64_t now_ms, gmq_msg_t *out,
                    gmq_error_t *err);
/* Move a dead letter (ready or in flight in the DLQ) back to its queue's
 * ready list with retry 0. id 0 = all dead letters of that queue. No such
 * queue: E_INVALID_DEAD as for dead; id not a dead letter: E_NOT_FOUND. */
int  gmq_topic_requeue(gmq_topic_t *t, const char *bind_key, uint64_t id, uint64_t now_ms,
                       int *moved, gmq_error_t *err);

/* Fire what is due at now_ms: delayed messages become ready, expired TTRs
 * are requeued with retry+1 or dead-lettered past the topic's retry limit.
 * Returns the number of messages moved. */
int      gmq_topic_tick(gmq_topic_t *t, uint64_t now_ms);
/* earliest wall-clock ms at which tick has work (delay or TTR), 0 = none */
uint64_t gmq_topic_next_deadline(const gmq_topic_t *t);
/* (addition) with fsync=everysec: wall-clock ms at which gmq_topic_sync has
 * unsynced records to write, 0 = nothing pending or another policy */
uint64_t gmq_topic_next_sync(const gmq_topic_t *t);

/* (addition) wall-clock ms at which gmq_topic_sync has a queue checkpoint
 * to write (records were appended since its last one), 0 = none */
uint64_t gmq_topic_next_checkpoint(const gmq_topic_t *t);
/* every queue's gmq_queue_release_pages: the worker has been idle a while */
void     gmq_topic_release_pages(gmq_topic_t *t);

/* Durability barrier for everything applied so far, per the fsync policy:
 * always = msync/fdatasync now; everysec = only if >= 1 s since the last
 * sync (now_ms); no = nothing. Then the queue checkpoints that are due
 * (at most one a second per queue; a failed one is only logged). GMQ_ERR
 * on an I/O error of the data. */
int  gmq_topic_sync(gmq_topic_t *t, uint64_t now_ms);
/* the two halves of gmq_topic_sync: the barrier for the data alone (what a
 * reply waits for), and the checkpoints that are due (what a restart saves
 * with them; never what a reply waits for) */
int  gmq_topic_sync_data(gmq_topic_t *t, uint64_t now_ms);
void gmq_topic_checkpoints(gmq_topic_t *t, uint64_t now_ms);

/* ---- management (worker/topicadm.c) ---- */

/* Drop every ready and delayed message of the queue (the binding and its
 * dead letters stay) with one log record: a crash leaves all of them or
 * none. In-flight messages refuse it (E_IN_FLIGHT "queue <bk> has <n>
 * messages in flight; use force") unless force, which drops them too (a
 * later ack of one answers "not exist"). *n = messages dropped. */
int  gmq_topic_purge(gmq_topic_t *t, const char *bind_key, int force, uint64_t *n,
                     gmq_error_t *err);
/* Delete the queue and its dead-letter queue: the binding leaves topic.conf
 * first (atomic rename: the commit point), then the files go; an open that
 * finds queue directories topic.conf does not list removes them. In-flight
 * messages refuse it as for purge. *n = messages dropped, dead letters
 * included. */
int  gmq_topic_delete_queue(gmq_topic_t *t, const char *bind_key, int force, uint64_t *n,
                            gmq_error_t *err);
/* Delete the whole topic: its directory is renamed out of the way at once
 * (<data_dir>/~deleted-<topic>-<ms>, the commit point; the master removes
 * leftovers at start) and removed by gmq_topic_close. From then on every
 * call on t except close is refused. In-flight messages refuse it as for
 * purge. */
int  gmq_topic_delete(gmq_topic_t *t, int force, gmq_error_t *err);
int  gmq_topic_deleted(const gmq_topic_t *t);
/* at node start: remove what deletes interrupted by a crash left in data_dir */
void gmq_topic_sweep_deleted(const char *data_dir);

#define GMQ_TOPIC_PEEK_READY   0
#define GMQ_TOPIC_PEEK_DELAYED 1
#define GMQ_TOPIC_PEEK_DEAD    2
/* The next ready message, the delayed one due first, or the oldest ready
 * dead letter, as a JSON object {"id","body","retry_count","state",
 * "pushed_at","due_at"} appended to out, without delivering it. GMQ_AGAIN
 * if there is none, GMQ_ERR for no such queue (E_NOT_FOUND). */
int  gmq_topic_peek(gmq_topic_t *t, const char *bind_key, int which, gmq_buf_t *out,
                    gmq_error_t *err);
/* up to limit ready dead letters, oldest first, as a JSON array */
int  gmq_topic_list_dead(gmq_topic_t *t, const char *bind_key, uint32_t limit, gmq_buf_t *out,
                         gmq_error_t *err);
/* move up to n ready dead letters, oldest first, back to the queue's ready
 * list with retry 0; *moved says how many */
int  gmq_topic_kick(gmq_topic_t *t, const char *bind_key, uint64_t n, uint64_t *moved,
                    gmq_error_t *err);
/* a delivered message gets a new TTR deadline now_ms + its TTR (*deadline) */
int  gmq_topic_touch(gmq_topic_t *t, const char *bind_key, uint64_t id, uint64_t now_ms,
                     uint64_t *deadline, gmq_error_t *err);
/* a delivered message goes back now (delay_ms 0: ready tail) or after
 * delay_ms (delayed), its retry count + 1; it is never dead-lettered by this */
int  gmq_topic_nack(gmq_topic_t *t, const char *bind_key, uint64_t id, uint64_t delay_ms,
                    uint64_t now_ms, gmq_error_t *err);

/* JSON writers (append to out) */
/* the original /getTopicStat object: name, pop_num, push_num, dead_num,
 * queue_msg_num, queue_num, delay_num, wait_ack_num, start_time, is_auto_ack,
 * plus ours: mode, msg_ttr, msg_retry, bytes_on_disk, corrupt_records,
 * acked_num, timeout_num, and "queues":[{bind_key, ready, in_flight,
 * delayed, dead, pushed, popped, acked, timed_out, dead_lettered}] */
void gmq_topic_stats_json(gmq_topic_t *t, gmq_buf_t *out);
/* {"<bindKey>":"<topic>_<bindKey>",...} (normal queues only) */
void gmq_topic_queues_json(gmq_topic_t *t, gmq_buf_t *out);
/* trace of a message by id: {"id","queue"|"queues", "state", "retry_count",
 * "pushed_at","due_at","delivered_at",...}; GMQ_ERR with E_NOT_FOUND if unknown */
int  gmq_topic_lookup_json(gmq_topic_t *t, uint64_t id, gmq_buf_t *out, gmq_error_t *err);

#endif

/*
 * sup.h - the worker process table (nginx-style supervision): one worker
 * per topic, spawned on first use or at start for topics found on disk,
 * respawned with exponential backoff, stopped on crash loops and fatal exits.
 */
#ifndef GMQ_SUP_H
#define GMQ_SUP_H

#include "master.h"

#include <sys/types.h>

typedef enum {
    GMQ_WP_STARTING = 0,   /* forked, READY not yet received */
    GMQ_WP_READY,
    GMQ_WP_BACKOFF,        /* crashed or could not start; respawn timer armed */
    GMQ_WP_FATAL,          /* exited with GMQ_EXIT_FATAL: never respawned */
    GMQ_WP_CRASHLOOP,      /* too many crashes in the window: not respawned */
    GMQ_WP_STOPPING,       /* SHUTDOWN sent (retired: by /exitTopic) */
    GMQ_WP_STOPPED,
    GMQ_WP_QUEUED,         /* found on disk at start, waiting for its turn to be started */
    GMQ_WP__COUNT
} gmq_wp_state_t;

#define GMQ_SUP_CRASH_MAX       5       /* crashes ... */
#define GMQ_SUP_CRASH_WINDOW_MS 30000   /* ... within this window = crash loop */
#define GMQ_SUP_BACKOFF_MIN_MS  100
#define GMQ_SUP_BACKOFF_MAX_MS  5000
/* workers are started this many at a time (each one reads its checkpoints):
 * thousands at once (the topics found on disk at start, or a client naming
 * many new topics) would leave the master, and each of them, a thousandth of
 * the CPU. Past it they wait (GMQ_WP_QUEUED), those a request waits for
 * first. */
#define GMQ_SUP_START_PARALLEL  8

struct gmq_wproc_s {
    gmq_sup_t     *sup;
    gmq_master_t  *m;             /* the master that owns sup */
    gmq_list_t     link;          /* in sup->procs */
    gmq_list_t     qlink;         /* in sup->startq(_now) while GMQ_WP_QUEUED */
    int            wanted;        /* queued: a request waits for it (startq_now) */
    gmq_list_t     flink;         /* in sup->flushq: output to write */
    char           topic[GMQ_NAME_MAX + 1];
    pid_t          pid;
    int            fd;
    gmq_wp_state_t state;
    ev_io          rio, wio;
    ev_timer       backoff;
    gmq_buf_t      in, out;
    uint64_t       out_total;     /* bytes ever queued in out for this socket */
    uint64_t       out_sent;      /* of which written to the socket */
    gmq_list_t     reqs;          /* requests sent or queued, waiting for replies */
    unsigned       restarts;
    uint64_t       crashes[GMQ_SUP_CRASH_MAX];   /* ring of crash times (mono ms) */
    unsigned       ncrashes;
    unsigned       transient;     /* start failures in a row for want of fds, memory, space;
                                   * not crashes: they back off but never make a crash loop */
    int            open_failed;   /* the worker sent FATAL: it could not open the topic */
    int            retired;       /* /exitTopic: exiting, not found by name, freed when reaped */
    uint64_t       started_ms;    /* wall clock */
    char           last_exit[256];
};

gmq_sup_t   *gmq_sup_new(gmq_master_t *m);
/* every request still waiting for a worker is answered E_UNAVAILABLE "node
 * is shutting down" first (its callback sees the connection gone if it is) */
void         gmq_sup_free(gmq_sup_t *s);
/* Find the topic's worker, spawning it if the topic is new and create is
 * set, or if it exists on disk. NULL with err set: the topic does not exist
 * (E_NOT_FOUND "topic is not exist"), max_topics reached, no worker could be
 * started (out of descriptors: E_UNAVAILABLE, retry), or the worker is
 * fatal/crash-looping. A worker in backoff is returned: requests wait for it. */
gmq_wproc_t *gmq_sup_get(gmq_sup_t *s, const char *topic, int create, gmq_error_t *err);
/* queue req's frame (op) for the worker; sent at the end of the iteration */
void         gmq_sup_send(gmq_wproc_t *w, gmq_req_t *req, const gmq_op_req_t *op);
/* the client of a waiting pop/dead is gone: the worker drops the wait */
void         gmq_sup_cancel(gmq_wproc_t *w, uint64_t req_id);
/* bytes queued for the worker and not yet written (load shedding) */
size_t       gmq_sup_backlog(const gmq_wproc_t *w);
const char  *gmq_sup_topic(const gmq_wproc_t *w);
/* SIGHUP: send the reloaded settings to every running worker */
void         gmq_sup_send_settings(gmq_sup_t *s);
/* spawn a worker for every topic directory already in the data dir */
void         gmq_sup_start_existing(gmq_sup_t *s);
void         gmq_sup_reap(gmq_sup_t *s);          /* on SIGCHLD */
void         gmq_sup_flush(gmq_sup_t *s);         /* end of loop iteration: one write per worker */
/* ask every worker to finish; the requests queued for a topic with no
 * process (backoff, fatal, crash loop) are answered E_UNAVAILABLE "topic
 * <t> is shutting down". Returns the number still running. */
int          gmq_sup_shutdown(gmq_sup_t *s);
int          gmq_sup_running(const gmq_sup_t *s);
/* /exitTopic: stop the topic's worker (its data stays) and forget it, so the
 * next request naming the topic starts a fresh worker at once (the exiting
 * one is retired: it counts against max_topics until reaped, and the new
 * worker waits for its directory lock); also the way out of the fatal and
 * crashloop states. GMQ_ERR (E_NOT_FOUND) if unknown. */
int          gmq_sup_exit_topic(gmq_sup_t *s, const char *topic, gmq_error_t *err);
void         gmq_sup_kill_all(gmq_sup_t *s);
void         gmq_sup_json(const gmq_sup_t *s, gmq_buf_t *out);   /* /debug/workers */
/* the topics with a live or restarting worker, for fan-out requests */
int          gmq_sup_count(const gmq_sup_t *s);          /* topics in the table */
int          gmq_sup_topics(const gmq_sup_t *s, const char **out, int max);
const char  *gmq_sup_state_name(gmq_wp_state_t st);

/* one topic's worker as /metrics reports it */
typedef struct {
    const char    *topic;      /* the table's copy: valid until the loop runs again */
    pid_t          pid;        /* 0 when no process runs */
    gmq_wp_state_t state;
    unsigned       restarts;   /* respawns since the topic entered the table */
} gmq_sup_info_t;

/* the topics in the table (retired ones left out), at most max of them, in
 * out; returns how many */
int          gmq_sup_info(const gmq_sup_t *s, gmq_sup_info_t *out, int max);

#endif

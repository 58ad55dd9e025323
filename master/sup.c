/*
 * sup.c - owns the worker processes: spawn, READY handshake, reaping,
 * respawn with backoff, crash-loop and fatal detection, the order topics
 * start in. A worker that dies fails its requests at once with
 * E_UNAVAILABLE, one that could not open its topic with E_STORAGE and its
 * reason. Each worker's IPC socket is supio.c's.
 */
#include "sup.h"
#include "sup_impl.h"
#include "spawn.h"
#include "worker/topic.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static gmq_wproc_t *sup_get(gmq_sup_t *s, const char *topic, int create, int queue,
                            gmq_error_t *err);
static gmq_wproc_t *sup_new_entry(gmq_sup_t *s, const char *topic);
static int  sup_spawn(gmq_wproc_t *w);
static int  sup_spawn_failed(gmq_wproc_t *w, const char *what, int e);
static void sup_retry_later(gmq_wproc_t *w);
static uint64_t sup_backoff_ms(unsigned n);
static int  sup_dir_exists(const gmq_wproc_t *w);
static void sup_on_backoff(struct ev_loop *loop, ev_timer *t, int revents);
static gmq_wproc_t *sup_find_pid(gmq_sup_t *s, pid_t pid);
static gmq_wproc_t *sup_find(gmq_sup_t *s, const char *topic);
static void sup_forget(gmq_wproc_t *w);
static void sup_give_up(gmq_wproc_t *w, int state);
static unsigned long sup_topic_hash(const void *topic);
static int  sup_topic_cmp(const void *a, const void *b);
static void sup_unindex(gmq_wproc_t *w);

static const char *const sup_state_names[] = {
    "starting", "ready", "backoff", "fatal", "crashloop", "stopping", "stopped", "queued",
};

gmq_sup_t *
gmq_sup_new(gmq_master_t *m)
{
    gmq_sup_t *s = gmq_xcalloc(1, sizeof(*s));
    s->m = m;
    gmq_list_init(&s->procs);
    gmq_list_init(&s->startq);
    gmq_list_init(&s->startq_now);
    gmq_list_init(&s->flushq);
    s->by_topic = OPENSSL_LH_new(sup_topic_hash, sup_topic_cmp);
    if (s->by_topic == NULL)
        gmq_log_fatal("out of memory for the topic table");
    return s;
}

void
gmq_sup_free(gmq_sup_t *s)
{
    if (s == NULL)
        return;
    /* requests still owed a reply (the stop timed out on a worker) are
     * answered first, so that what their contexts hold is freed */
    gmq_error_t e;
    gmq_error_set(&e, GMQ_E_UNAVAILABLE, "node is shutting down");
    for (gmq_list_t *l = s->procs.next; l != &s->procs; l = l->next)
        gmq_req_fail_all(s->m->reqs, &container_of(l, gmq_wproc_t, link)->reqs, &e);
    while (!gmq_list_empty(&s->procs)) {
        gmq_wproc_t *w = container_of(s->procs.next, gmq_wproc_t, link);
        gmq_list_remove(&w->link);
        ev_io_stop(s->m->loop, &w->rio);
        ev_io_stop(s->m->loop, &w->wio);
        ev_timer_stop(s->m->loop, &w->backoff);
        if (w->fd >= 0)
            close(w->fd);
        gmq_buf_free(&w->in);
        gmq_buf_free(&w->out);
        free(w);
    }
    OPENSSL_LH_free(s->by_topic);
    free(s);
}

const char *
gmq_sup_state_name(gmq_wp_state_t st)
{
    return (unsigned) st < GMQ_ARRAY_LEN(sup_state_names) ? sup_state_names[st] : "unknown";
}

gmq_wproc_t *
gmq_sup_get(gmq_sup_t *s, const char *topic, int create, gmq_error_t *err)
{
    return sup_get(s, topic, create, 0, err);
}

/* queue: a topic found on disk at start; its entry waits in sup->startq
 * (GMQ_WP_QUEUED) for sup_start_more. Else a worker that cannot be started
 * now is not kept. */
static gmq_wproc_t *
sup_get(gmq_sup_t *s, const char *topic, int create, int queue, gmq_error_t *err)
{
    gmq_wproc_t *w = sup_find(s, topic);
    if (w != NULL) {
        if (w->state == GMQ_WP_FATAL || w->state == GMQ_WP_CRASHLOOP) {
            gmq_error_set(err, GMQ_E_UNAVAILABLE, "topic %s is unavailable (%s: %s)", topic,
                          gmq_sup_state_name(w->state), w->last_exit);
            return NULL;
        }
        if (w->state == GMQ_WP_STOPPING || w->state == GMQ_WP_STOPPED) {
            gmq_error_set(err, GMQ_E_UNAVAILABLE, "topic %s is shutting down", topic);
            return NULL;
        }
        if (w->state == GMQ_WP_QUEUED && !w->wanted) {
            /* a request waits for it: before the topics nobody asked for */
            gmq_list_remove(&w->qlink);
            gmq_list_push_tail(&s->startq_now, &w->qlink);
            w->wanted = 1;
            sup_start_more(s);
        }
        return w;
    }
    if (!create) {
        /* a topic forgotten by /exitTopic still has its directory */
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", s->m->cfg.data_save_path, topic);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            gmq_error_set(err, GMQ_E_NOT_FOUND, "topic is not exist");
            return NULL;
        }
    }
    if (s->m->stopping) {
        gmq_error_set(err, GMQ_E_UNAVAILABLE, "node is shutting down");
        return NULL;
    }
    if (s->nprocs >= s->m->cfg.max_topics) {
        gmq_error_set(err, GMQ_E_LIMIT, "too many topics: max_topics is %d", s->m->cfg.max_topics);
        return NULL;
    }
    w = sup_new_entry(s, topic);
    if (queue || s->starting >= GMQ_SUP_START_PARALLEL) {
        /* found on disk, or asked for while many workers are starting */
        sup_set_state(w, GMQ_WP_QUEUED);
        w->wanted = !queue;
        gmq_list_push_tail(queue ? &s->startq : &s->startq_now, &w->qlink);
        return w;
    }
    if (sup_spawn(w) != GMQ_OK) {
        gmq_error_set(err, GMQ_E_UNAVAILABLE, "cannot start a worker for topic %s: %s; "
                      "nothing was done; retry", topic, w->last_exit);
        sup_forget(w);
        return NULL;
    }
    return w;
}

static gmq_wproc_t *
sup_new_entry(gmq_sup_t *s, const char *topic)
{
    gmq_wproc_t *w = gmq_xcalloc(1, sizeof(*w));
    w->sup = s;
    w->m = s->m;
    snprintf(w->topic, sizeof(w->topic), "%s", topic);
    w->state = GMQ_WP_STOPPED;        /* not started: not counted as starting */
    w->fd = -1;
    gmq_buf_init(&w->in);
    gmq_buf_init(&w->out);
    gmq_list_init(&w->reqs);
    ev_timer_init(&w->backoff, sup_on_backoff, 0., 0.);
    w->backoff.data = w;
    gmq_list_push_tail(&s->procs, &w->link);
    s->nprocs++;
    gmq_list_init(&w->qlink);
    gmq_list_init(&w->flink);
    OPENSSL_LH_insert(s->by_topic, w->topic);
    if (OPENSSL_LH_error(s->by_topic))
        gmq_log_fatal("out of memory for the topic table");
    return w;
}

void
gmq_sup_start_existing(gmq_sup_t *s)
{
    gmq_topic_sweep_deleted(s->m->cfg.data_save_path);
    DIR *d = opendir(s->m->cfg.data_save_path);
    if (d == NULL)
        return;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        if (!gmq_name_valid(e->d_name, strlen(e->d_name)))
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", s->m->cfg.data_save_path, e->d_name);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        gmq_error_t err;
        if (sup_get(s, e->d_name, 1, 1, &err) == NULL)
            gmq_log_warn("topic %s found on disk not started: %s", e->d_name, err.msg);
        found++;
    }
    closedir(d);
    gmq_log_info("%d topics found on disk; their workers start %d at a time", found,
                 GMQ_SUP_START_PARALLEL);
    sup_start_more(s);
}

static int
sup_spawn(gmq_wproc_t *w)
{
    gmq_master_t *m = w->sup->m;
    int sv[2];
    w->open_failed = 0;
    gmq_list_remove(&w->qlink);       /* if it was waiting its turn */
    w->wanted = 0;
    /* out of descriptors or processes is transient: back off, never fatal */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        return sup_spawn_failed(w, "socketpair", errno);
    gmq_op_settings_t set;
    gmq_op_settings_from_config(&set, &m->cfg);
    pid_t pid;
    int e = gmq_spawn_worker(m->spawn, w->topic, m->cfg.data_save_path, &set, sv[1],
                             m->lock_fd, gmq_log_fd(), &pid);
    if (e != 0) {
        close(sv[0]);
        close(sv[1]);
        return sup_spawn_failed(w, "posix_spawn", e);
    }
    close(sv[1]);
    w->pid = pid;
    w->fd = sv[0];
    sup_set_state(w, GMQ_WP_STARTING);
    w->started_ms = gmq_now_ms();
    gmq_buf_reset(&w->in);
    ev_io_init(&w->rio, sup_on_read, w->fd, EV_READ);
    ev_io_init(&w->wio, sup_on_write, w->fd, EV_WRITE);
    w->rio.data = w->wio.data = w;
    ev_io_start(m->loop, &w->rio);
    gmq_log_info("topic %s: worker pid %d started", w->topic, (int) pid);
    return GMQ_OK;
}

static int
sup_spawn_failed(gmq_wproc_t *w, const char *what, int e)
{
    snprintf(w->last_exit, sizeof(w->last_exit), "%s: %s", what, strerror(e));
    w->transient++;
    gmq_log_ratelimited(&w->sup->spawn_warn, GMQ_LOG_WARN, "topic %s: cannot start a worker "
                        "(%s); retrying in %llu ms", w->topic, w->last_exit,
                        (unsigned long long) sup_backoff_ms(w->transient));
    gmq_error_t e2;
    gmq_error_set(&e2, GMQ_E_UNAVAILABLE, "topic %s: cannot start a worker (%s); nothing was "
                  "done; retry", w->topic, w->last_exit);
    gmq_req_fail_all(w->sup->m->reqs, &w->reqs, &e2);
    gmq_buf_reset(&w->out);
    w->out_total = w->out_sent = 0;
    sup_retry_later(w);
    return GMQ_ERR;
}

/* a start failure for want of resources: the next try after a backoff that
 * doubles up to the maximum; not a crash, so never a crash loop */
static void
sup_retry_later(gmq_wproc_t *w)
{
    sup_set_state(w, GMQ_WP_BACKOFF);
    ev_timer_stop(w->sup->m->loop, &w->backoff);
    ev_timer_set(&w->backoff, (double) sup_backoff_ms(w->transient) / 1000.0, 0.);
    ev_timer_start(w->sup->m->loop, &w->backoff);
}

/* GMQ_SUP_BACKOFF_MIN_MS doubled n - 1 times, at most GMQ_SUP_BACKOFF_MAX_MS */
static uint64_t
sup_backoff_ms(unsigned n)
{
    uint64_t delay = GMQ_SUP_BACKOFF_MIN_MS;
    for (unsigned i = 1; i < n && delay < GMQ_SUP_BACKOFF_MAX_MS; i++)
        delay *= 2;
    return delay > GMQ_SUP_BACKOFF_MAX_MS ? GMQ_SUP_BACKOFF_MAX_MS : delay;
}






/* not respawning (fatal, crash loop): the requests queued since its socket
 * closed would wait for a worker that never comes; answer them now */
static void
sup_give_up(gmq_wproc_t *w, int state)
{
    sup_set_state(w, state);
    gmq_error_t e;
    gmq_error_set(&e, GMQ_E_UNAVAILABLE, "topic %s is unavailable (%s: %s); nothing was done",
                  w->topic, gmq_sup_state_name(state), w->last_exit);
    gmq_req_fail_all(w->sup->m->reqs, &w->reqs, &e);
    gmq_buf_reset(&w->out);
    w->out_total = w->out_sent = 0;
}

/* the IPC socket is gone: answer everything in flight now */
void
sup_lost(gmq_wproc_t *w, const char *why)
{
    gmq_master_t *m = w->sup->m;
    ev_io_stop(m->loop, &w->rio);
    ev_io_stop(m->loop, &w->wio);
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    gmq_buf_reset(&w->in);
    gmq_buf_reset(&w->out);
    if (w->last_exit[0] == '\0')
        snprintf(w->last_exit, sizeof(w->last_exit), "%s", why);
    /* a request the worker may have read may also have been applied: say
     * so, so a client never takes a stored push for a refused one */
    gmq_error_t unsent, unknown, lost, stored, done;
    if (w->open_failed) {
        /* the topic could not be opened: nothing ever reached it */
        gmq_error_set(&stored, GMQ_E_STORAGE, "topic %s cannot be opened: %.180s; nothing was "
                      "stored", w->topic, w->last_exit);
        gmq_error_set(&done, GMQ_E_STORAGE, "topic %s cannot be opened: %.180s; nothing was "
                      "done", w->topic, w->last_exit);
        while (!gmq_list_empty(&w->reqs)) {
            gmq_req_t *req = container_of(w->reqs.next, gmq_req_t, wproc_link);
            req->done(req, NULL, gmq_op_mutates(req->op) ? &stored : &done);
            gmq_req_finish(m->reqs, req);
        }
    }
    gmq_error_set(&unsent, GMQ_E_UNAVAILABLE, "topic %s: worker went away (%s) before the request "
                  "reached it; nothing was done; retry", w->topic, why);
    gmq_error_set(&unknown, GMQ_E_UNAVAILABLE, "topic %s: worker went away (%s) after receiving "
                  "the request: its outcome is unknown (it may have been applied)", w->topic, why);
    gmq_error_set(&lost, GMQ_E_UNAVAILABLE, "topic %s: worker went away (%s); retry", w->topic, why);
    while (!gmq_list_empty(&w->reqs)) {
        gmq_req_t *req = container_of(w->reqs.next, gmq_req_t, wproc_link);
        int sent = req->frame_at < w->out_sent;
        req->done(req, NULL, !sent ? &unsent : gmq_op_mutates(req->op) ? &unknown : &lost);
        gmq_req_finish(m->reqs, req);
    }
    w->out_total = w->out_sent = 0;
}

void
gmq_sup_reap(gmq_sup_t *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        gmq_wproc_t *w = sup_find_pid(s, pid);
        if (w == NULL) {
            gmq_spawn_reaped(s->m->spawn, pid, status);     /* the zygote? */
            continue;
        }
        char why[128];
        if (WIFEXITED(status))
            snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
        else
            snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
        int was_fatal = WIFEXITED(status) && WEXITSTATUS(status) == GMQ_EXIT_FATAL;
        int was_err = WIFEXITED(status) && WEXITSTATUS(status) == GMQ_EXIT_ERR;
        /* frames the worker wrote before it exited (replies, its FATAL reason)
         * may still sit in the socket: SIGCHLD can be seen before them */
        if (w->fd >= 0)
            sup_on_read(s->m->loop, &w->rio, 0);
        char detail[256];
        snprintf(detail, sizeof(detail), "%s", w->last_exit);
        /* requests still queued are answered with the worker's own reason
         * when it gave one (sup_lost falls back to `why` otherwise) */
        if (w->fd >= 0)
            sup_lost(w, why);
        /* it could not open the topic for want of fds, memory or space */
        int transient = w->open_failed && was_err;
        if ((was_fatal || w->open_failed) && detail[0])
            snprintf(w->last_exit, sizeof(w->last_exit), "%s: %.120s", why, detail);
        else
            snprintf(w->last_exit, sizeof(w->last_exit), "%s", why);
        w->pid = 0;
        w->open_failed = 0;

        if (w->state == GMQ_WP_STOPPING || s->m->stopping) {
            sup_set_state(w, GMQ_WP_STOPPED);
            gmq_log_info("topic %s: worker %d stopped (%s)", w->topic, (int) pid, why);
            if (!s->m->stopping)
                sup_forget(w);    /* /exitTopic: retired, its successor may be running */
            continue;
        }
        if (transient) {
            w->transient++;
            gmq_log_warn("topic %s: worker %d %s; retrying in %llu ms", w->topic, (int) pid,
                         w->last_exit, (unsigned long long) sup_backoff_ms(w->transient));
            sup_retry_later(w);
            continue;
        }
        if (!was_fatal && !sup_dir_exists(w)) {
            /* killed in a delete, after renaming its directory away: the
             * topic is gone (a restart would create an empty one); what
             * the rename left is removed at the next start */
            gmq_log_warn("topic %s: worker %d %s and the topic's directory is gone (deleted); "
                         "not respawning", w->topic, (int) pid, why);
            sup_forget(w);
            continue;
        }
        if (was_fatal) {
            sup_give_up(w, GMQ_WP_FATAL);
            gmq_log_error("topic %s: worker %d %s; not respawning", w->topic, (int) pid,
                          w->last_exit);
            continue;
        }
        uint64_t now = gmq_mono_ms();
        w->crashes[w->ncrashes++ % GMQ_SUP_CRASH_MAX] = now;
        unsigned recent = 0;
        for (unsigned i = 0; i < GMQ_SUP_CRASH_MAX && i < w->ncrashes; i++)
            if (now - w->crashes[i] < GMQ_SUP_CRASH_WINDOW_MS)
                recent++;
        if (recent >= GMQ_SUP_CRASH_MAX) {
            sup_give_up(w, GMQ_WP_CRASHLOOP);
            gmq_log_error("topic %s: worker crashed %u times in %d s (last: %s); not respawning",
                          w->topic, recent, GMQ_SUP_CRASH_WINDOW_MS / 1000, why);
            continue;
        }
        uint64_t delay = sup_backoff_ms(recent);
        sup_set_state(w, GMQ_WP_BACKOFF);
        gmq_log_warn("topic %s: worker %d %s; respawning in %llu ms", w->topic, (int) pid, why,
                     (unsigned long long) delay);
        ev_timer_set(&w->backoff, (double) delay / 1000.0, 0.);
        ev_timer_start(s->m->loop, &w->backoff);
    }
    sup_start_more(s);
}

/* every state change goes through here: it keeps the count of workers
 * starting, which paces the start of the topics found on disk */
void
sup_set_state(gmq_wproc_t *w, gmq_wp_state_t st)
{
    if (w->state == GMQ_WP_STARTING && st != GMQ_WP_STARTING)
        w->sup->starting--;
    else if (w->state != GMQ_WP_STARTING && st == GMQ_WP_STARTING)
        w->sup->starting++;
    w->state = st;
    if (st == GMQ_WP_READY || st == GMQ_WP_STOPPING)
        sup_mark(w);          /* what waited in `out` for it */
}

void
sup_start_more(gmq_sup_t *s)
{
    while (s->starting < GMQ_SUP_START_PARALLEL && !s->m->stopping) {
        gmq_list_t *q = !gmq_list_empty(&s->startq_now) ? &s->startq_now : &s->startq;
        if (gmq_list_empty(q))
            break;
        sup_spawn(container_of(q->next, gmq_wproc_t, qlink));   /* leaves the queue */
    }
}

static int
sup_dir_exists(const gmq_wproc_t *w)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", w->sup->m->cfg.data_save_path, w->topic);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
sup_on_backoff(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop; (void) revents;
    gmq_wproc_t *w = t->data;
    if (w->state != GMQ_WP_BACKOFF || w->sup->m->stopping)
        return;
    w->restarts++;
    sup_spawn(w);
}

int
gmq_sup_shutdown(gmq_sup_t *s)
{
    int running = 0;
    for (gmq_list_t *l = s->procs.next; l != &s->procs; l = l->next) {
        gmq_wproc_t *w = container_of(l, gmq_wproc_t, link);
        ev_timer_stop(s->m->loop, &w->backoff);
        if (w->pid > 0) {
            if (w->fd >= 0) {
                sup_put_control(w, GMQ_IPC_SHUTDOWN, 0);
            } else {
                kill(w->pid, SIGTERM);
            }
            sup_set_state(w, GMQ_WP_STOPPING);
            running++;
        } else {
            /* no process (queued, backoff, fatal, crash loop): what waits
             * for the next one would never be sent; answer it now */
            gmq_error_t e;
            gmq_error_set(&e, GMQ_E_UNAVAILABLE, "topic %s is shutting down", w->topic);
            gmq_req_fail_all(s->m->reqs, &w->reqs, &e);
            gmq_buf_reset(&w->out);
            w->out_total = w->out_sent = 0;
            gmq_list_remove(&w->qlink);
            sup_set_state(w, GMQ_WP_STOPPED);
        }
    }
    return running;
}

int
gmq_sup_exit_topic(gmq_sup_t *s, const char *topic, gmq_error_t *err)
{
    gmq_wproc_t *w = sup_find(s, topic);
    if (w == NULL) {
        for (gmq_list_t *l = s->procs.next; l != &s->procs; l = l->next)
            if (strcmp(container_of(l, gmq_wproc_t, link)->topic, topic) == 0)
                return GMQ_OK;       /* retired and still exiting */
        return gmq_error_set(err, GMQ_E_NOT_FOUND, "topic is not exist");
    }
    ev_timer_stop(s->m->loop, &w->backoff);
    if (w->pid > 0) {
        if (w->fd >= 0)
            sup_put_control(w, GMQ_IPC_SHUTDOWN, 0);
        else
            kill(w->pid, SIGTERM);
        /* retired: the next request starts a fresh worker at once, which
         * waits for this one's directory lock */
        sup_set_state(w, GMQ_WP_STOPPING);
        sup_unindex(w);
        w->retired = 1;
    } else {
        /* fatal, crash loop or backoff: forget it now, a new request restarts it */
        sup_forget(w);
    }
    return GMQ_OK;
}

int
gmq_sup_running(const gmq_sup_t *s)
{
    int n = 0;
    for (gmq_list_t *l = s->procs.next; l != &s->procs; l = l->next)
        if (container_of(l, gmq_wproc_t, link)->pid > 0)
            n++;
    return n;
}

void
gmq_sup_kill_all(gmq_sup_t *s)
{
    for (gmq_list_t *l = s->procs.next; l != &s->procs; l = l->next) {
        gmq_wproc_t *w = container_of(l, gmq_wproc_t, link);
        if (w->pid > 0) {
            gmq_log_warn("topic %s: worker %d did not stop in time; killing it", w->topic,
                         (int) w->pid);
            kill(w->pid, SIGKILL);
        }
    }
}

int
gmq_sup_count(const gmq_sup_t *s)
{
    return s->nprocs;
}

int
gmq_sup_topics(const gmq_sup_t *s, const char **out, int max)
{
    int n = 0;
    for (gmq_list_t *l = s->procs.next; l != &s->procs && n < max; l = l->next)
        if (!container_of(l, gmq_wproc_t, link)->retired)
            out[n++] = container_of(l, gmq_wproc_t, link)->topic;
    return n;
}

int
gmq_sup_info(const gmq_sup_t *s, gmq_sup_info_t *out, int max)
{
    int n = 0;
    for (gmq_list_t *l = s->procs.next; l != &s->procs && n < max; l = l->next) {
        const gmq_wproc_t *w = container_of(l, gmq_wproc_t, link);
        if (w->retired)
            continue;
        out[n].topic = w->topic;
        out[n].pid = w->pid > 0 ? w->pid : 0;
        out[n].state = w->state;
        out[n].restarts = w->restarts;
        n++;
    }
    return n;
}

void
gmq_sup_json(const gmq_sup_t *s, gmq_buf_t *out)
{
    gmq_buf_append_str(out, "[");
    for (gmq_list_t *l = s->procs.next; l != &s->procs; l = l->next) {
        const gmq_wproc_t *w = container_of(l, gmq_wproc_t, link);
        gmq_buf_append_str(out, "{\"topic\":");
        gmq_buf_json_str(out, w->topic, strlen(w->topic));
        gmq_buf_printf(out, ",\"pid\":%d,\"state\":\"%s\",\"restarts\":%u,\"started_ms\":%llu,"
                       "\"pending\":%s,\"last_exit\":",
                       (int) w->pid, gmq_sup_state_name(w->state), w->restarts,
                       (unsigned long long) w->started_ms,
                       gmq_list_empty(&w->reqs) ? "false" : "true");
        gmq_buf_json_str(out, w->last_exit, strlen(w->last_exit));
        gmq_buf_append_str(out, l->next != &s->procs ? "}," : "}");
    }
    gmq_buf_append_str(out, "]");
}

static gmq_wproc_t *
sup_find_pid(gmq_sup_t *s, pid_t pid)
{
    for (gmq_list_t *l = s->procs.next; l != &s->procs; l = l->next) {
        gmq_wproc_t *w = container_of(l, gmq_wproc_t, link);
        if (w->pid == pid)
            return w;
    }
    return NULL;
}

static gmq_wproc_t *
sup_find(gmq_sup_t *s, const char *topic)
{
    char *t = OPENSSL_LH_retrieve(s->by_topic, topic);
    return t != NULL ? container_of(t, gmq_wproc_t, topic) : NULL;
}

static unsigned long
sup_topic_hash(const void *topic)
{
    return OPENSSL_LH_strhash(topic);
}

static int
sup_topic_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* retired or forgotten: no longer found by name */
static void
sup_unindex(gmq_wproc_t *w)
{
    if (!w->retired)
        OPENSSL_LH_delete(w->sup->by_topic, w->topic);
}

/* the worker is gone and so is every request of it: drop its entry */
static void
sup_forget(gmq_wproc_t *w)
{
    gmq_error_t e;
    gmq_error_set(&e, GMQ_E_UNAVAILABLE, "topic %s: worker stopped; retry", w->topic);
    gmq_req_fail_all(w->sup->m->reqs, &w->reqs, &e);
    ev_timer_stop(w->sup->m->loop, &w->backoff);
    gmq_list_remove(&w->qlink);
    sup_set_state(w, GMQ_WP_STOPPED);
    gmq_list_remove(&w->flink);
    sup_unindex(w);
    gmq_list_remove(&w->link);
    w->sup->nprocs--;
    gmq_buf_free(&w->in);
    gmq_buf_free(&w->out);
    free(w);
}






const char *
gmq_sup_topic(const gmq_wproc_t *w)
{
    return w->topic;
}


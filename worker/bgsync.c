/*
 * bgsync.c - owns the background sync thread and its FIFO of jobs
 * (duplicated descriptors to fdatasync, or calls). The worker's thread only
 * enqueues; this thread only runs the jobs (fdatasync through the seam,
 * close, the calls). Nothing else is shared.
 */
#include "bgsync.h"
#include "syncstat.h"
#include "common/log.h"
#include "common/seam.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int            fd;       /* >= 0: fdatasync and close it */
    gmq_bgsync_fn  fn;       /* else: fn(arg) */
    void          *arg;
} bgsync_job_t;

struct gmq_bgsync_s {
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    pthread_cond_t  done_cond;   /* signalled after each job */
    bgsync_job_t   *jobs;     /* ring of cap */
    size_t          head, n, cap;
    uint64_t        submitted, done;
    int             stop;
    int             error;
};

static void *bgsync_main(void *arg);
static uint64_t bgsync_push(gmq_bgsync_t *b, bgsync_job_t j);

gmq_bgsync_t *
gmq_bgsync_new(void)
{
    gmq_bgsync_t *b = gmq_xcalloc(1, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    pthread_cond_init(&b->done_cond, NULL);
    if (pthread_create(&b->thread, NULL, bgsync_main, b) != 0) {
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->cond);
        pthread_cond_destroy(&b->done_cond);
        free(b);
        return NULL;
    }
    return b;
}

void
gmq_bgsync_free(gmq_bgsync_t *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
    pthread_cond_destroy(&b->done_cond);
    free(b->jobs);
    free(b);
}

int
gmq_bgsync_submit(gmq_bgsync_t *b, int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return GMQ_ERR;
    bgsync_push(b, (bgsync_job_t) { .fd = d });
    return GMQ_OK;
}

uint64_t
gmq_bgsync_submit_call(gmq_bgsync_t *b, gmq_bgsync_fn fn, void *arg)
{
    return bgsync_push(b, (bgsync_job_t) { .fd = -1, .fn = fn, .arg = arg });
}

uint64_t
gmq_bgsync_done(gmq_bgsync_t *b)
{
    pthread_mutex_lock(&b->lock);
    uint64_t d = b->done;
    pthread_mutex_unlock(&b->lock);
    return d;
}

void
gmq_bgsync_wait(gmq_bgsync_t *b, uint64_t ticket)
{
    pthread_mutex_lock(&b->lock);
    while (b->done < ticket)
        pthread_cond_wait(&b->done_cond, &b->lock);
    pthread_mutex_unlock(&b->lock);
}

int
gmq_bgsync_error(gmq_bgsync_t *b)
{
    pthread_mutex_lock(&b->lock);
    int e = b->error;
    pthread_mutex_unlock(&b->lock);
    return e;
}

static uint64_t
bgsync_push(gmq_bgsync_t *b, bgsync_job_t j)
{
    pthread_mutex_lock(&b->lock);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        bgsync_job_t *a = gmq_xmalloc(cap * sizeof(*a));
        for (size_t i = 0; i < b->n; i++)
            a[i] = b->jobs[(b->head + i) % b->cap];
        free(b->jobs);
        b->jobs = a;
        b->head = 0;
        b->cap = cap;
    }
    b->jobs[(b->head + b->n) % b->cap] = j;
    b->n++;
    uint64_t ticket = ++b->submitted;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return ticket;
}

static void *
bgsync_main(void *arg)
{
    gmq_bgsync_t *b = arg;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (b->n == 0 && !b->stop)
            pthread_cond_wait(&b->cond, &b->lock);
        if (b->n == 0 && b->stop)
            break;
        bgsync_job_t j = b->jobs[b->head];
        b->head = (b->head + 1) % b->cap;
        b->n--;
        pthread_mutex_unlock(&b->lock);
        int e;
        if (j.fd >= 0) {
            uint64_t t0 = gmq_syncstat_start();
            e = gmq_seam.fdatasync(j.fd) != 0 ? errno : 0;
            gmq_syncstat_observe(t0);
            close(j.fd);
        } else {
            e = j.fn(j.arg);
        }
        pthread_mutex_lock(&b->lock);
        b->done++;
        pthread_cond_broadcast(&b->done_cond);
        if (e != 0 && b->error == 0)
            b->error = e;
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

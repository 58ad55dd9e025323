/*
 * bgsync.c - owns the background sync thread and its queue of duplicated
 * descriptors. The worker's thread only enqueues; this thread only calls
 * fdatasync (through the seam) and close. Nothing else is shared.
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

struct gmq_bgsync_s {
    pthread_t       thread;
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    int            *fds;
    size_t          n, cap;
    int             stop;
    int             error;
};

static void *bgsync_main(void *arg);

gmq_bgsync_t *
gmq_bgsync_new(void)
{
    gmq_bgsync_t *b = gmq_xcalloc(1, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    if (pthread_create(&b->thread, NULL, bgsync_main, b) != 0) {
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->cond);
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
    free(b->fds);
    free(b);
}

int
gmq_bgsync_submit(gmq_bgsync_t *b, int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return GMQ_ERR;
    pthread_mutex_lock(&b->lock);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->fds = gmq_xrealloc(b->fds, b->cap * sizeof(int));
    }
    b->fds[b->n++] = d;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return GMQ_OK;
}

int
gmq_bgsync_error(gmq_bgsync_t *b)
{
    pthread_mutex_lock(&b->lock);
    int e = b->error;
    pthread_mutex_unlock(&b->lock);
    return e;
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
        int fd = b->fds[--b->n];
        pthread_mutex_unlock(&b->lock);
        uint64_t t0 = gmq_syncstat_start();
        int rc = gmq_seam.fdatasync(fd);
        int e = rc != 0 ? errno : 0;
        gmq_syncstat_observe(t0);
        close(fd);
        pthread_mutex_lock(&b->lock);
        if (e != 0 && b->error == 0)
            b->error = e;
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

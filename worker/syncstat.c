/*
 * syncstat.c - owns the worker process's fsync latency histogram. It is
 * process-wide state like the log sink and the seam: the sync calls sit
 * deep in segment.c and in the background sync thread, and a worker
 * process holds exactly one topic. A mutex guards it (a sync call costs
 * far more than taking it).
 */
#include "syncstat.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t syncstat_lock = PTHREAD_MUTEX_INITIALIZER;
static gmq_histo_t     syncstat_histo;

uint64_t
gmq_syncstat_start(void)
{
    return gmq_mono_ns();
}

void
gmq_syncstat_observe(uint64_t start)
{
    uint64_t now = gmq_mono_ns();
    double s = now > start ? (double) (now - start) / 1e9 : 0;
    pthread_mutex_lock(&syncstat_lock);
    gmq_histo_observe(&syncstat_histo, s);
    pthread_mutex_unlock(&syncstat_lock);
}

void
gmq_syncstat_get(gmq_histo_t *out)
{
    pthread_mutex_lock(&syncstat_lock);
    *out = syncstat_histo;
    pthread_mutex_unlock(&syncstat_lock);
}

void
gmq_syncstat_json(gmq_buf_t *out)
{
    gmq_histo_t h;
    gmq_syncstat_get(&h);
    gmq_histo_json(&h, "fsync", out);
}

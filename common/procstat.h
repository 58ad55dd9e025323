/*
 * procstat.h - what /proc says about a process: CPU seconds, memory,
 * open and maximum descriptors, start time. For /debug/stats and /metrics.
 */
#ifndef GMQ_PROCSTAT_H
#define GMQ_PROCSTAT_H

#include "gmq.h"

#include <sys/types.h>

typedef struct {
    double   cpu_seconds;   /* user + system */
    uint64_t rss_bytes;
    uint64_t rss_peak_bytes;
    uint64_t vsize_bytes;   /* virtual memory size */
    int      fds;           /* -1 if unknown */
    long long max_fds;      /* soft RLIMIT_NOFILE; -1 if unknown or unlimited */
    double   start_time;    /* seconds since the Unix epoch; 0 if unknown */
} gmq_procstat_t;

/* GMQ_OK, or GMQ_ERR if the process is gone */
int gmq_procstat_read(pid_t pid, gmq_procstat_t *out);

#endif

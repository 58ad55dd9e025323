/*
 * procstat.c - reads /proc/<pid>/stat, /proc/<pid>/status and
 * /proc/<pid>/limits and counts /proc/<pid>/fd for one process; the boot
 * time from /proc/stat turns its start time into wall-clock seconds.
 */
#include "procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double    procstat_boot_time(void);
static long long procstat_max_fds(pid_t pid);

int
gmq_procstat_read(pid_t pid, gmq_procstat_t *out)
{
    char path[64], buf[1024];
    memset(out, 0, sizeof(*out));
    out->fds = -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return GMQ_ERR;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the ")" of comm: state is field 3; utime 14, stime 15,
     * starttime 22 (clock ticks after boot), vsize 23 (bytes) */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return GMQ_ERR;
    unsigned long long ut = 0, st = 0, start = 0;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p + 1, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 14)
            ut = strtoull(tok, NULL, 10);
        else if (field == 15)
            st = strtoull(tok, NULL, 10);
        else if (field == 22)
            start = strtoull(tok, NULL, 10);
        else if (field == 23) {
            out->vsize_bytes = strtoull(tok, NULL, 10);
            break;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    double ticks = (double) (hz > 0 ? hz : 100);
    out->cpu_seconds = (double) (ut + st) / ticks;
    double boot = procstat_boot_time();
    out->start_time = boot > 0 ? boot + (double) start / ticks : 0;
    out->max_fds = procstat_max_fds(pid);

    snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
    f = fopen(path, "r");
    if (f != NULL) {
        while (fgets(buf, sizeof(buf), f) != NULL) {
            unsigned long long kb;
            if (sscanf(buf, "VmRSS: %llu kB", &kb) == 1)
                out->rss_bytes = kb * 1024;
            else if (sscanf(buf, "VmHWM: %llu kB", &kb) == 1)
                out->rss_peak_bytes = kb * 1024;
        }
        fclose(f);
    }
    snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
    DIR *d = opendir(path);
    if (d != NULL) {
        int count = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                count++;
        closedir(d);
        out->fds = pid == getpid() ? count - 1 : count;   /* minus the one opendir holds */
    }
    return GMQ_OK;
}

/* the "btime" line of /proc/stat: boot time, seconds since the epoch */
static double
procstat_boot_time(void)
{
    char line[256];
    unsigned long long bt = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "btime %llu", &bt) == 1)
            break;
    fclose(f);
    return (double) bt;
}

/* the soft limit of "Max open files" in /proc/<pid>/limits */
static long long
procstat_max_fds(pid_t pid)
{
    char path[64], line[256];
    long long soft = -1;
    snprintf(path, sizeof(path), "/proc/%d/limits", (int) pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Max open files", 14) == 0) {
            char *end;
            soft = strtoll(line + 14, &end, 10);
            if (end == line + 14)
                soft = -1;    /* "unlimited" */
            break;
        }
    }
    fclose(f);
    return soft;
}

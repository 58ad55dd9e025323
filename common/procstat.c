/*
 * procstat.c - reads /proc/<pid>/stat, /proc/<pid>/status and counts
 * /proc/<pid>/fd for one process.
 */
#include "procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    /* fields after the ")" of comm: state is field 3; utime 14, stime 15 */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return GMQ_ERR;
    unsigned long long ut = 0, st = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14)
            ut = strtoull(tok, NULL, 10);
        else if (field == 15) {
            st = strtoull(tok, NULL, 10);
            break;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    out->cpu_seconds = (double) (ut + st) / (double) (hz > 0 ? hz : 100);

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
        out->fds = count - 1;   /* minus the one opendir holds */
    }
    return GMQ_OK;
}

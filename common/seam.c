/*
 * seam.c - owns the syscall hook table used by the storage engine and its
 * real defaults, including the GMQ_FAULT_ENOSPC_FILE full-disk switch and
 * the GMQ_FAULT_SYNC_LOG record of what was synced (the power-loss test)
 * for integration tests on the real binary.
 */
#include "seam.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int seam_fallocate(int fd, off_t off, off_t len);
static int seam_fsync(int fd);
static int seam_fdatasync(int fd);
static int seam_msync(void *addr, size_t len, int flags);
static int seam_ftruncate(int fd, off_t len);
static int seam_rename(const char *from, const char *to);
static void seam_log_fd(const char *what, int fd);
static void seam_log_map(void *addr, size_t len);
static void seam_log_line(const char *line, size_t len);

gmq_seam_t gmq_seam = {
    .fallocate = seam_fallocate,
    .fsync     = seam_fsync,
    .fdatasync = seam_fdatasync,
    .msync     = seam_msync,
    .ftruncate = seam_ftruncate,
    .rename    = seam_rename,
};

void
gmq_seam_reset(void)
{
    gmq_seam.fallocate = seam_fallocate;
    gmq_seam.fsync     = seam_fsync;
    gmq_seam.fdatasync = seam_fdatasync;
    gmq_seam.msync     = seam_msync;
    gmq_seam.ftruncate = seam_ftruncate;
    gmq_seam.rename    = seam_rename;
}

static int
seam_fallocate(int fd, off_t off, off_t len)
{
    const char *fault = getenv("GMQ_FAULT_ENOSPC_FILE");
    if (fault != NULL && *fault != '\0' && access(fault, F_OK) == 0)
        return ENOSPC;
    if (fallocate(fd, 0, off, len) == 0)
        return 0;
    if (errno != EOPNOTSUPP)
        return errno;
    return posix_fallocate(fd, off, len);
}

static int
seam_fsync(int fd)
{
    int rc = fsync(fd);
    if (rc == 0)
        seam_log_fd("fsync", fd);
    return rc;
}

static int
seam_fdatasync(int fd)
{
    int rc = fdatasync(fd);
    if (rc == 0)
        seam_log_fd("fdatasync", fd);
    return rc;
}

static int
seam_msync(void *addr, size_t len, int flags)
{
    int rc = msync(addr, len, flags);
    if (rc == 0 && (flags & MS_SYNC))
        seam_log_map(addr, len);
    return rc;
}

static int
seam_ftruncate(int fd, off_t len)
{
    return ftruncate(fd, len);
}

static int
seam_rename(const char *from, const char *to)
{
    return rename(from, to);
}

void
gmq_seam_crash_point(const char *name)
{
    const char *at = getenv("GMQ_FAULT_CRASH_AT");
    if (at != NULL && strcmp(at, name) == 0)
        raise(SIGKILL);
}

/* ---- GMQ_FAULT_SYNC_LOG: one line per successful sync, appended once it
 * returned (so before any reply that depends on it):
 *   msync <dev> <ino> <file offset> <len> <path>     (a mapped range, MS_SYNC)
 *   fsync|fdatasync <dev> <ino> <size> <file|dir> <path>
 * tests/chaos/powerloss.py keeps only these bytes of the segment files. ---- */

static void
seam_log_fd(const char *what, int fd)
{
    const char *log = getenv("GMQ_FAULT_SYNC_LOG");
    struct stat st;
    char path[1024], line[1280];
    char link[64];
    if (log == NULL || *log == '\0' || fstat(fd, &st) != 0)
        return;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    path[n > 0 ? n : 0] = '\0';
    int len = snprintf(line, sizeof(line), "%s %llu %llu %lld %s %s\n", what,
                       (unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
                       (long long) st.st_size, S_ISDIR(st.st_mode) ? "dir" : "file", path);
    seam_log_line(line, (size_t) len < sizeof(line) ? (size_t) len : sizeof(line) - 1);
}

/* the mapping holding addr, from /proc/self/maps: its file, and the offset */
static void
seam_log_map(void *addr, size_t len)
{
    const char *log = getenv("GMQ_FAULT_SYNC_LOG");
    if (log == NULL || *log == '\0')
        return;
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return;
    char buf[1400], line[1400];
    uintptr_t a = (uintptr_t) addr;
    while (fgets(buf, sizeof(buf), f) != NULL) {
        unsigned long long lo, hi, off, ino;
        unsigned dmaj, dmin;
        int pos = 0;
        if (sscanf(buf, "%llx-%llx %*s %llx %x:%x %llu %n", &lo, &hi, &off, &dmaj, &dmin, &ino,
                   &pos) < 6 || a < lo || a >= hi)
            continue;
        char *path = buf + pos;
        path[strcspn(path, "\n")] = '\0';
        int n = snprintf(line, sizeof(line), "msync %llu %llu %llu %zu %s\n",
                         (unsigned long long) makedev(dmaj, dmin), ino, off + (a - lo), len, path);
        seam_log_line(line, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
        break;
    }
    fclose(f);
}

/* one write with O_APPEND: lines of several processes do not mix */
static void
seam_log_line(const char *line, size_t len)
{
    int fd = open(getenv("GMQ_FAULT_SYNC_LOG"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (write(fd, line, len) != (ssize_t) len) {
        /* the test then misses a sync: it can only find fewer bytes durable */
    }
    close(fd);
}

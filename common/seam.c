/*
 * seam.c - owns the syscall hook table used by the storage engine and its
 * real defaults, including the GMQ_FAULT_ENOSPC_FILE full-disk switch for
 * integration tests on the real binary.
 */
#include "seam.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int seam_fallocate(int fd, off_t off, off_t len);
static int seam_fsync(int fd);
static int seam_fdatasync(int fd);
static int seam_msync(void *addr, size_t len, int flags);
static int seam_ftruncate(int fd, off_t len);
static int seam_rename(const char *from, const char *to);

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
    return fsync(fd);
}

static int
seam_fdatasync(int fd)
{
    return fdatasync(fd);
}

static int
seam_msync(void *addr, size_t len, int flags)
{
    return msync(addr, len, flags);
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

/*
 * seam.h - the syscall seam: storage code calls these hooks instead of libc
 * so tests can inject faults (full disk, failing fsync). The table defaults
 * to the real calls; gmq_seam_reset() restores them.
 */
#ifndef GMQ_SEAM_H
#define GMQ_SEAM_H

#include "gmq.h"

#include <sys/types.h>

typedef struct {
    /* posix_fallocate semantics: 0 or an errno value (not -1) */
    int (*fallocate)(int fd, off_t off, off_t len);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*msync)(void *addr, size_t len, int flags);
    int (*ftruncate)(int fd, off_t len);
    int (*rename)(const char *from, const char *to);
} gmq_seam_t;

/* The one table. The default fallocate also fails with ENOSPC while the file
 * named by the environment variable GMQ_FAULT_ENOSPC_FILE exists. With
 * GMQ_FAULT_SYNC_LOG=<file>, the default msync (MS_SYNC), fsync and
 * fdatasync append what they synced to <file> (the power-loss test). */
extern gmq_seam_t gmq_seam;

void gmq_seam_reset(void);

/* A crash point for tests: the process kills itself with SIGKILL here when
 * the environment variable GMQ_FAULT_CRASH_AT names this point. */
void gmq_seam_crash_point(const char *name);

#endif

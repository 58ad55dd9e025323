/*
 * spawn.h - starting a topic's worker: the program gmq-worker
 * (worker/main.c), found beside gmq-master. Not a fork of the master: with
 * thousands of topics each worker would otherwise carry page tables for the
 * master's whole address space (measured: 0.8 MiB a worker at 2,000 topics,
 * growing with the master). A zygote (one gmq-worker started at the
 * master's start) forks each worker; it has few descriptors and little
 * memory, so a fork is cheap, where posix_spawn from the master copies and
 * then closes its whole descriptor table for each worker (quadratic in the
 * number of topics) and the exec and dynamic linking cost a millisecond.
 */
#ifndef GMQ_SPAWN_H
#define GMQ_SPAWN_H

#include "common/gmq.h"
#include "proto/op.h"

#include <sys/types.h>

/* gmq-worker beside this executable, else in ../lib/gmq/ (make install,
 * the Debian package). GMQ_OK and path, or GMQ_ERR and a message. */
int gmq_spawn_locate(char *path, size_t cap, char *err, size_t errlen);

typedef struct gmq_spawner gmq_spawner_t;

/* Starts the zygote (`gmq-worker --zygote`, worker/zygote.c) from `path`,
 * found by gmq_spawn_locate; without one (it failed to start or died)
 * workers are started with posix_spawn and a new zygote is tried later. */
gmq_spawner_t *gmq_spawn_new(const char *path);
void           gmq_spawn_free(gmq_spawner_t *sp);   /* NULL accepted */

/* Start a worker for `topic`; ipc_fd, lock_fd and log_fd (-1: the log is
 * stderr) become its GMQ_WORKER_FD_* (proto/ipc.h), no other descriptor
 * of the master is open in it, and the master is its parent. 0 and *pid,
 * or an errno value. Blocks until the zygote answers (a fork's time). */
int gmq_spawn_worker(gmq_spawner_t *sp, const char *topic, const char *data_path,
                       const gmq_op_settings_t *set, int ipc_fd, int lock_fd, int log_fd,
                       pid_t *pid);

/* A child the master reaped: 1 if it was the zygote (a new one is started
 * later), else 0. This and the two below accept NULL (no spawner). */
int   gmq_spawn_reaped(gmq_spawner_t *sp, pid_t pid, int status);
pid_t gmq_spawn_zygote_pid(const gmq_spawner_t *sp);     /* 0: none now */
/* workers started so far by the zygote and by posix_spawn of their own */
void  gmq_spawn_counts(const gmq_spawner_t *sp, uint64_t *by_zygote, uint64_t *by_exec);

#endif

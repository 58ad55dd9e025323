/*
 * spawn.h - starting a topic's worker: the program gmq-worker
 * (worker/main.c), found beside gmq-master, started with posix_spawn. A
 * fresh program rather than a fork of the master: with thousands of topics
 * each worker would otherwise carry page tables for the master's whole
 * address space (measured: 0.8 MiB a worker at 2,000 topics, growing with
 * the master), and posix_spawn does not copy them even for the moment
 * between fork and exec.
 */
#ifndef GMQ_SPAWN_H
#define GMQ_SPAWN_H

#include "common/gmq.h"
#include "proto/op.h"

#include <sys/types.h>

/* gmq-worker beside this executable, else in ../lib/gmq/ (make install,
 * the Debian package). GMQ_OK and path, or GMQ_ERR and a message. */
int gmq_spawn_locate(char *path, size_t cap, char *err, size_t errlen);

/* Start `path` for `topic`; ipc_fd, lock_fd and log_fd (-1: the log is
 * stderr) become the worker's GMQ_WORKER_FD_* (proto/ipc.h), every other
 * descriptor is closed in it. 0 and *pid, or an errno value. */
int gmq_spawn_worker(const char *path, const char *topic, const char *data_path,
                     const gmq_op_settings_t *set, int ipc_fd, int lock_fd, int log_fd,
                     pid_t *pid);

#endif

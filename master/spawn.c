/*
 * spawn.c - see spawn.h.
 */
#include "spawn.h"
#include "common/buf.h"
#include "proto/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SPAWN_FD_ABOVE 16      /* a source descriptor below the targets is first copied here */

extern char **environ;

int
gmq_spawn_locate(char *path, size_t cap, char *err, size_t errlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        snprintf(err, errlen, "readlink /proc/self/exe: %s", strerror(errno));
        return GMQ_ERR;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    static const char *const where[] = { "%s/gmq-worker", "%s/../lib/gmq/gmq-worker" };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(where); i++) {
        snprintf(path, cap, where[i], self);
        if (access(path, X_OK) == 0)
            return GMQ_OK;
    }
    snprintf(err, errlen, "the worker program gmq-worker is neither in %s/ nor in "
             "%s/../lib/gmq/: install it with gmq-master", self, self);
    return GMQ_ERR;
}

/* a copy of fd that is not one of the worker's target descriptors */
static int
spawn_above(int fd, int *tmp)
{
    *tmp = -1;
    if (fd < 0 || fd >= SPAWN_FD_ABOVE)
        return fd;
    *tmp = fcntl(fd, F_DUPFD_CLOEXEC, SPAWN_FD_ABOVE);
    return *tmp;
}

int
gmq_spawn_worker(const char *path, const char *topic, const char *data_path,
                 const gmq_op_settings_t *set, int ipc_fd, int lock_fd, int log_fd, pid_t *pid)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_settings_encode(&b, set);
    char hex[2 * GMQ_OP_SETTINGS_SIZE + 1];
    size_t k = 0;
    for (size_t i = 0; i < b.len && k + 2 < sizeof(hex); i++)
        k += (size_t) snprintf(hex + k, sizeof(hex) - k, "%02x", (unsigned char) b.data[i]);
    hex[k] = '\0';
    gmq_buf_free(&b);
    char master[24];
    snprintf(master, sizeof(master), "%d", (int) getpid());
    char *argv[GMQ_WORKER_ARGS + 2] = { (char *) "gmq-worker", (char *) topic, master,
                                        (char *) data_path, hex, NULL };

    int tmp[3];
    int ipc = spawn_above(ipc_fd, &tmp[0]);
    int lock = spawn_above(lock_fd, &tmp[1]);
    int logf = spawn_above(log_fd, &tmp[2]);
    int rc = 0;
    if (ipc < 0 || (lock_fd >= 0 && lock < 0) || (log_fd >= 0 && logf < 0))
        rc = errno ? errno : EMFILE;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    sigemptyset(&none);
    if (rc == 0 && (rc = posix_spawn_file_actions_init(&fa)) == 0) {
        if ((rc = posix_spawnattr_init(&at)) == 0) {
            posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
            posix_spawnattr_setsigmask(&at, &none);
            posix_spawn_file_actions_adddup2(&fa, ipc, GMQ_WORKER_FD_IPC);
            if (lock >= 0)
                posix_spawn_file_actions_adddup2(&fa, lock, GMQ_WORKER_FD_LOCK);
            if (logf >= 0)
                posix_spawn_file_actions_adddup2(&fa, logf, GMQ_WORKER_FD_LOG);
            posix_spawn_file_actions_addclosefrom_np(&fa, GMQ_WORKER_FD_LOG + 1);
            rc = posix_spawn(pid, path, &fa, &at, argv, environ);
            posix_spawnattr_destroy(&at);
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    for (int i = 0; i < 3; i++)
        if (tmp[i] >= 0)
            close(tmp[i]);
    return rc;
}

/*
 * spawn.c - starting workers (spawn.h): through the zygote, one request
 * and one reply per worker over a SOCK_SEQPACKET socket, or with
 * posix_spawn while there is no zygote.
 */
#include "spawn.h"
#include "common/buf.h"
#include "common/log.h"
#include "proto/ipc.h"
#include "proto/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_FD_ABOVE 16      /* a source descriptor below the targets is first copied here */
#define SPAWN_ZYGOTE_TIMEOUT_S 2          /* for its reply (a fork: well under 1 ms); then it is taken for hung */
#define SPAWN_ZYGOTE_RETRY_MS  1000       /* a new zygote after a failure, doubling ... */
#define SPAWN_ZYGOTE_RETRY_MAX 60000      /* ... up to this */

struct gmq_spawner {
    char     path[4096];     /* gmq-worker */
    pid_t    zpid;           /* the zygote, 0 when there is none */
    int      zfd;            /* its control socket, -1 */
    uint64_t retry_at_ms;    /* no new zygote before this */
    uint64_t retry_ms;
    uint64_t spawned, fallbacks;
};

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

static int  spawn_above(int fd, int *tmp);
static int  spawn_exec(const char *path, char **argv, int ipc_fd, int lock_fd, int log_fd,
                       pid_t *pid);
static int  spawn_zygote_start(gmq_spawner_t *sp);
static void spawn_zygote_drop(gmq_spawner_t *sp, const char *why, int err);
static int  spawn_by_zygote(gmq_spawner_t *sp, const char *topic, const char *data_path,
                            const gmq_op_settings_t *set, int ipc_fd, int lock_fd, int log_fd,
                            pid_t *pid);

gmq_spawner_t *
gmq_spawn_new(const char *path)
{
    gmq_spawner_t *sp = gmq_xcalloc(1, sizeof(*sp));
    snprintf(sp->path, sizeof(sp->path), "%s", path);
    sp->zfd = -1;
    sp->retry_ms = SPAWN_ZYGOTE_RETRY_MS;
    spawn_zygote_start(sp);
    return sp;
}

void
gmq_spawn_free(gmq_spawner_t *sp)
{
    if (sp == NULL)
        return;
    /* the zygote leaves at the end of its socket; it is reaped (as the
     * master's child) if the master is still there when it does */
    if (sp->zfd >= 0)
        close(sp->zfd);
    free(sp);
}

pid_t
gmq_spawn_zygote_pid(const gmq_spawner_t *sp)
{
    return sp != NULL ? sp->zpid : 0;
}

void
gmq_spawn_counts(const gmq_spawner_t *sp, uint64_t *by_zygote, uint64_t *by_exec)
{
    *by_zygote = sp != NULL ? sp->spawned : 0;
    *by_exec = sp != NULL ? sp->fallbacks : 0;
}

int
gmq_spawn_reaped(gmq_spawner_t *sp, pid_t pid, int status)
{
    if (sp == NULL || pid <= 0 || pid != sp->zpid)
        return 0;
    char why[64];
    if (WIFEXITED(status))
        snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
    sp->zpid = 0;        /* already reaped: not to be killed */
    spawn_zygote_drop(sp, why, 0);
    return 1;
}

int
gmq_spawn_worker(gmq_spawner_t *sp, const char *topic, const char *data_path,
                   const gmq_op_settings_t *set, int ipc_fd, int lock_fd, int log_fd, pid_t *pid)
{
    if (sp->zfd < 0 && gmq_now_ms() >= sp->retry_at_ms)
        spawn_zygote_start(sp);
    if (sp->zfd >= 0) {
        int rc = spawn_by_zygote(sp, topic, data_path, set, ipc_fd, lock_fd, log_fd, pid);
        if (rc != GMQ_AGAIN) {
            sp->spawned += rc == 0;
            return rc;
        }
    }
    /* no zygote: a program of its own */
    char hex[GMQ_OP_SETTINGS_ARG];
    gmq_op_settings_to_arg(set, hex);
    char master[24];
    snprintf(master, sizeof(master), "%d", (int) getpid());
    char *argv[GMQ_WORKER_ARGS + 2] = { (char *) "gmq-worker", (char *) topic, master,
                                        (char *) data_path, hex, NULL };
    int rc = spawn_exec(sp->path, argv, ipc_fd, lock_fd, log_fd, pid);
    sp->fallbacks += rc == 0;
    return rc;
}

/* ---- static helpers ---- */

static int
spawn_zygote_start(gmq_spawner_t *sp)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        spawn_zygote_drop(sp, "socketpair", errno);
        return GMQ_ERR;
    }
    char master[24];
    snprintf(master, sizeof(master), "%d", (int) getpid());
    char *argv[] = { (char *) "gmq-worker", (char *) GMQ_ZYGOTE_ARG, master, NULL };
    pid_t pid;
    int e = spawn_exec(sp->path, argv, sv[1], -1, -1, &pid);
    close(sv[1]);
    if (e != 0) {
        close(sv[0]);
        spawn_zygote_drop(sp, "posix_spawn", e);
        return GMQ_ERR;
    }
    struct timeval tv = { SPAWN_ZYGOTE_TIMEOUT_S, 0 };
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sp->zpid = pid;
    sp->zfd = sv[0];
    gmq_log_info("worker zygote pid %d started", (int) pid);
    return GMQ_OK;
}

/* the zygote failed (err: an errno value, or 0 with why alone): workers
 * start with posix_spawn until a new one is tried, later each time */
static void
spawn_zygote_drop(gmq_spawner_t *sp, const char *why, int err)
{
    if (sp->zfd >= 0)
        close(sp->zfd);
    sp->zfd = -1;
    if (sp->zpid > 0)
        kill(sp->zpid, SIGKILL);     /* reaped by the master's SIGCHLD handling */
    sp->zpid = 0;
    gmq_log_warn("worker zygote: %s%s%s; workers start on their own (slower) for %llu ms",
                 why, err ? ": " : "", err ? strerror(err) : "",
                 (unsigned long long) sp->retry_ms);
    sp->retry_at_ms = gmq_now_ms() + sp->retry_ms;
    sp->retry_ms = sp->retry_ms * 2 > SPAWN_ZYGOTE_RETRY_MAX ? SPAWN_ZYGOTE_RETRY_MAX
                                                              : sp->retry_ms * 2;
}

/* 0 and *pid, an errno value of the fork, or GMQ_AGAIN: the zygote failed
 * (dropped), start the worker another way */
static int
spawn_by_zygote(gmq_spawner_t *sp, const char *topic, const char *data_path,
                const gmq_op_settings_t *set, int ipc_fd, int lock_fd, int log_fd, pid_t *pid)
{
    gmq_zygote_req_t r = { .fds = GMQ_ZYGOTE_FD_IPC, .topic = topic, .topic_len = strlen(topic),
                           .data_path = data_path, .data_path_len = strlen(data_path),
                           .settings = *set };
    if (r.topic_len > GMQ_NAME_MAX || r.data_path_len > GMQ_ZYGOTE_PATH_MAX)
        return GMQ_AGAIN;        /* not for the zygote (cannot happen with valid names) */
    int fds[GMQ_ZYGOTE_MAX_FDS], n = 0;
    fds[n++] = ipc_fd;
    if (lock_fd >= 0) {
        r.fds |= GMQ_ZYGOTE_FD_LOCK;
        fds[n++] = lock_fd;
    }
    if (log_fd >= 0) {
        r.fds |= GMQ_ZYGOTE_FD_LOG;
        fds[n++] = log_fd;
    }
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_zygote_req_encode(&b, &r);
    union {
        struct cmsghdr h;
        char           c[CMSG_SPACE(sizeof(int) * GMQ_ZYGOTE_MAX_FDS)];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct iovec iov = { b.data, b.len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.c,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) n) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t) n);
    ssize_t k;
    do
        k = sendmsg(sp->zfd, &mh, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    gmq_buf_free(&b);
    if (k < 0) {
        spawn_zygote_drop(sp, "send", errno);
        return GMQ_AGAIN;
    }
    char rep[GMQ_ZYGOTE_REPLY_SIZE + 1];
    do
        k = recv(sp->zfd, rep, sizeof(rep), 0);
    while (k < 0 && errno == EINTR);
    gmq_zygote_reply_t z;
    if (k <= 0 || gmq_zygote_reply_decode(rep, (size_t) k, &z) != GMQ_OK) {
        spawn_zygote_drop(sp, k < 0 ? "no reply" : k == 0 ? "closed its socket" : "bad reply",
                          k < 0 ? errno : 0);
        return GMQ_AGAIN;
    }
    if (z.pid <= 0)
        return z.err;            /* its fork failed: as a posix_spawn failure would */
    sp->retry_ms = SPAWN_ZYGOTE_RETRY_MS;
    *pid = z.pid;
    return 0;
}

/* posix_spawn of path with ipc_fd, lock_fd and log_fd as the worker's
 * GMQ_WORKER_FD_* (-1: none) and nothing else open above stderr */
static int
spawn_exec(const char *path, char **argv, int ipc_fd, int lock_fd, int log_fd, pid_t *pid)
{
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

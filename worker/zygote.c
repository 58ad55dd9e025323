/*
 * zygote.c - the worker zygote (zygote.h). One small process, started with
 * few descriptors and little memory, forks the topics' workers: each is a
 * clone with CLONE_PARENT, so the master is its parent (it reaps it, and
 * PR_SET_PDEATHSIG follows the master) while the copy is of this process,
 * not of the master with its thousands of descriptors, and no exec or
 * dynamic linking is paid per worker.
 */
#include "zygote.h"
#include "common/buf.h"
#include "common/log.h"
#include "proto/ipc.h"
#include "proto/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ZYGOTE_FD_ABOVE 16     /* received descriptors move here before they take 3..5 */

typedef union {
    struct cmsghdr h;
    char           b[CMSG_SPACE(sizeof(int) * GMQ_ZYGOTE_MAX_FDS)];
} zygote_cmsg_t;

static int   zygote_recv(int ctl, char *buf, size_t cap, size_t *len, int *fds, int *nfds);
static pid_t zygote_fork(int ctl, pid_t master, const gmq_zygote_req_t *r, const int *fds,
                         int argc, char **argv, gmq_zygote_run_fn run);

int
gmq_zygote_main(int argc, char **argv, gmq_zygote_run_fn run)
{
    char *end;
    long master = strtol(argv[2], &end, 10);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (*end != '\0' || getppid() != (pid_t) master)
        return GMQ_EXIT_OK;
    /* 3..5 are the workers' descriptors: the control socket moves away */
    int ctl = fcntl(GMQ_WORKER_FD_IPC, F_DUPFD_CLOEXEC, ZYGOTE_FD_ABOVE);
    close(GMQ_WORKER_FD_IPC);
    if (ctl < 0)
        return GMQ_EXIT_ERR;
    for (;;) {
        char buf[GMQ_ZYGOTE_REQ_MAX + 1];
        size_t len;
        int fds[GMQ_ZYGOTE_MAX_FDS], nfds = 0;
        int rc = zygote_recv(ctl, buf, sizeof(buf), &len, fds, &nfds);
        if (rc == GMQ_AGAIN)
            continue;
        if (rc != GMQ_OK)
            break;            /* the master closed its end, or is gone */
        gmq_zygote_req_t r;
        gmq_zygote_reply_t rep = { 0, EINVAL };
        if (len <= GMQ_ZYGOTE_REQ_MAX && gmq_zygote_req_decode(buf, len, &r) == GMQ_OK &&
            gmq_zygote_nfds(r.fds) == nfds) {
            pid_t pid = zygote_fork(ctl, (pid_t) master, &r, fds, argc, argv, run);
            rep.pid = pid > 0 ? pid : 0;
            rep.err = pid > 0 ? 0 : errno;
        }
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        gmq_buf_t out;
        gmq_buf_init(&out);
        gmq_zygote_reply_encode(&out, &rep);
        ssize_t n;
        do
            n = send(ctl, out.data, out.len, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        gmq_buf_free(&out);
        if (n < 0)
            break;
    }
    close(ctl);
    return GMQ_EXIT_OK;
}

/* ---- static helpers ---- */

/* one request and the descriptors that came with it. GMQ_OK, GMQ_AGAIN
 * (interrupted) or GMQ_ERR (end of file or an error: stop) */
static int
zygote_recv(int ctl, char *buf, size_t cap, size_t *len, int *fds, int *nfds)
{
    zygote_cmsg_t cm;
    struct iovec iov = { buf, cap };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                         .msg_controllen = sizeof(cm.b) };
    ssize_t n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR)
        return GMQ_AGAIN;
    if (n <= 0)
        return GMQ_ERR;
    *len = (size_t) n;
    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*nfds < GMQ_ZYGOTE_MAX_FDS)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        *len = cap;           /* too long: refused by the caller */
    return GMQ_OK;
}

/* the worker: pid in the zygote, -1 and errno when the clone failed; in
 * the child, the worker runs and exits */
static pid_t
zygote_fork(int ctl, pid_t master, const gmq_zygote_req_t *r, const int *fds, int argc,
            char **argv, gmq_zygote_run_fn run)
{
    /* like fork(), but the new process is the master's child */
    pid_t pid = (pid_t) syscall(SYS_clone, (unsigned long) (CLONE_PARENT | SIGCHLD), NULL, NULL,
                                NULL, NULL);
    if (pid != 0)
        return pid;
    close(ctl);
    /* cleared by the clone; the master's death ends the worker, and it may
     * have died already */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        _exit(GMQ_EXIT_OK);
    static const struct { uint8_t bit; int target; } map[] = {
        { GMQ_ZYGOTE_FD_IPC, GMQ_WORKER_FD_IPC },
        { GMQ_ZYGOTE_FD_LOCK, GMQ_WORKER_FD_LOCK },
        { GMQ_ZYGOTE_FD_LOG, GMQ_WORKER_FD_LOG },
    };
    int high[GMQ_ZYGOTE_MAX_FDS] = { -1, -1, -1 }, k = 0;
    for (size_t i = 0; i < GMQ_ARRAY_LEN(map); i++)
        if (r->fds & map[i].bit) {
            high[i] = fcntl(fds[k++], F_DUPFD, ZYGOTE_FD_ABOVE);
            if (high[i] < 0)
                _exit(GMQ_EXIT_ERR);
        }
    for (size_t i = 0; i < GMQ_ARRAY_LEN(map); i++) {
        if (r->fds & map[i].bit) {
            if (dup2(high[i], map[i].target) < 0)
                _exit(GMQ_EXIT_ERR);
        } else {
            close(map[i].target);
        }
    }
    close_range(GMQ_WORKER_FD_LOG + 1, ~0U, 0);
    char topic[GMQ_NAME_MAX + 1];
    char data[GMQ_ZYGOTE_PATH_MAX + 1];
    snprintf(topic, sizeof(topic), "%.*s", (int) r->topic_len, r->topic);
    snprintf(data, sizeof(data), "%.*s", (int) r->data_path_len, r->data_path);
    /* exit, not _exit: the zygote holds no buffered output or state to run
     * twice, and a sanitizer build checks the worker for leaks at exit */
    exit(run(topic, data, &r->settings, argc, argv));
}

/*
 * main.c - gmq-worker, the per-topic worker process. It is started by
 * gmq-master (master/spawn.c), never by hand: a fresh program rather than
 * a fork of the master, so that each of up to max_topics workers holds only
 * its own pages and page tables, not a copy of the master's. Usually forked
 * by the zygote, one gmq-worker the master starts as
 *
 *   gmq-worker --zygote <master pid>          (worker/zygote.c)
 *
 * else (when the zygote is not there) started on its own as
 *
 *   gmq-worker <topic> <master pid> <data_save_path> <settings, hex>
 *
 * with the IPC socket on GMQ_WORKER_FD_IPC, the data directory's lock on
 * GMQ_WORKER_FD_LOCK and, when the node logs to a file, that file on
 * GMQ_WORKER_FD_LOG (else the log goes to stderr).
 */
#include "worker.h"
#include "zygote.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "proto/ipc.h"
#include "proto/op.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* the worker proper, once its arguments are read: by main, or in a fork of
 * the zygote (worker/zygote.c), whose argc/argv give the process title */
static int
worker_run(const char *topic_arg, const char *data_arg, const gmq_op_settings_t *set, int argc,
           char **argv)
{
    gmq_log_adopt(set->log_level, fcntl(GMQ_WORKER_FD_LOG, F_GETFD) >= 0 ? GMQ_WORKER_FD_LOG : -1);
    char topic[GMQ_NAME_MAX + 1];
    snprintf(topic, sizeof(topic), "%s", topic_arg);
    char data[4096];
    snprintf(data, sizeof(data), "%s", data_arg);
    gmq_proctitle_init(argc, argv);
    gmq_proctitle_set("gmq-worker: %s", topic);
    char ident[GMQ_NAME_MAX + 16];
    snprintf(ident, sizeof(ident), "worker %s", topic);
    gmq_log_set_ident(ident);
    /* the descriptors it was given are its own, not for anything it starts */
    for (int fd = GMQ_WORKER_FD_IPC; fd <= GMQ_WORKER_FD_LOG; fd++)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return gmq_worker_main(data, set, topic, GMQ_WORKER_FD_IPC);
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], GMQ_ZYGOTE_ARG) == 0 &&
        fcntl(GMQ_WORKER_FD_IPC, F_GETFD) >= 0)
        return gmq_zygote_main(argc, argv, worker_run);
    if (argc != GMQ_WORKER_ARGS + 1 || fcntl(GMQ_WORKER_FD_IPC, F_GETFD) < 0) {
        fprintf(stderr, "gmq-worker: started by gmq-master for each topic; not a command to "
                "run by hand\n");
        return GMQ_EXIT_CONFIG;
    }
    /* the master's death ends the worker; it may have died before this */
    char *end;
    long master = strtol(argv[2], &end, 10);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (*end != '\0' || getppid() != (pid_t) master)
        return GMQ_EXIT_OK;

    gmq_op_settings_t set;
    if (gmq_op_settings_from_arg(argv[4], &set) != GMQ_OK) {
        fprintf(stderr, "gmq-worker: bad settings argument\n");
        return GMQ_EXIT_CONFIG;
    }
    return worker_run(argv[1], argv[3], &set, argc, argv);
}

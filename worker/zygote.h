/*
 * zygote.h - the worker zygote: `gmq-worker --zygote <master pid>`, started
 * once by the master, makes each topic's worker as a fork of itself that is
 * a child of the master (proto/zygote.h has the messages).
 */
#ifndef GMQ_ZYGOTE_H
#define GMQ_ZYGOTE_H

#include "proto/op.h"
#include "proto/zygote.h"


/* what a forked worker runs: the worker program's start after its
 * arguments are read (worker/main.c); returns the exit status */
typedef int (*gmq_zygote_run_fn)(const char *topic, const char *data_path,
                                 const gmq_op_settings_t *set, int argc, char **argv);

/* Serve spawn requests on the control socket GMQ_WORKER_FD_IPC until the
 * master closes it (or dies); argc/argv are the zygote's own, for the
 * workers' process titles. Returns the exit status of the zygote; in a
 * forked worker it does not return (exit with run's status). */
int gmq_zygote_main(int argc, char **argv, gmq_zygote_run_fn run);

#endif

/*
 * worker.h - the per-topic worker process: it owns data/<topic>/ through
 * the storage engine (topic.h) and serves IPC requests from the master.
 */
#ifndef GMQ_WORKER_H
#define GMQ_WORKER_H

#include "common/gmq.h"
#include "proto/op.h"

/*
 * Run the worker for `topic` (data_path/topic/, with the node's settings)
 * on the already-connected IPC socket `fd` (the child side of the
 * socketpair). Builds its own loop, sends READY and
 * serves until the master sends SHUTDOWN or closes the socket. Returns the
 * process exit status (GMQ_EXIT_OK, or GMQ_EXIT_FATAL when the topic
 * directory cannot be opened or locked); main() returns it.
 */
int gmq_worker_main(const char *data_path, const gmq_op_settings_t *set, const char *topic,
                    int fd);

#endif

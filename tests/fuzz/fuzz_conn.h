/*
 * fuzz_conn.h - a master without sockets or workers for the connection
 * fuzz targets (fuzz_http.c, fuzz_tcpconn.c): the real master/ modules
 * (conn, http, api, tcp, ops, chan, web, metrics ...) over a context whose
 * topics never start a worker (max_topics 0, an empty data directory), so
 * every request runs its parsing, validation and answer paths in-process.
 * A connection's writes are captured instead of going to a socket.
 */
#ifndef GMQ_FUZZ_CONN_H
#define GMQ_FUZZ_CONN_H

#include "master/master.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t max_header, max_body, max_line;
    int    max_mpub;
    int    auth;          /* an auth_token is configured */
} fuzz_conn_limits_t;

/* the one master of the process (made on first use, limits set each call) */
gmq_master_t *fuzz_conn_master(const fuzz_conn_limits_t *lim);
/* Feed data to a new connection of proto in reads of random sizes (seed),
 * running the end-of-iteration work after each read as the loop would,
 * then close it. Everything the node wrote is appended to out. */
void fuzz_conn_run(gmq_master_t *m, gmq_proto_t proto, const char *data, size_t n,
                   uint64_t seed, gmq_buf_t *out);

#endif

/*
 * tls.h - TLS for client connections (OpenSSL 3): the server context built
 * from the config, and the TLS entry of the connection io table. Plain and
 * TLS connections differ only in their io table.
 */
#ifndef GMQ_TLS_H
#define GMQ_TLS_H

#include "master.h"

#include <openssl/ssl.h>

/* NULL with err filled when a file is missing or invalid */
SSL_CTX *gmq_tls_ctx_new(const gmq_config_t *cfg, char *err, size_t errlen);
/* attach a new TLS session (server side) to an accepted connection */
int      gmq_tls_conn_start(gmq_conn_t *c, SSL_CTX *ctx);

extern const gmq_conn_io_t gmq_conn_io_plain;
extern const gmq_conn_io_t gmq_conn_io_tls;

#endif

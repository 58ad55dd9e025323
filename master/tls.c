/*
 * tls.c - owns the OpenSSL server contexts' construction and the TLS io
 * functions: non-blocking SSL_read/SSL_write on the libev loop, with the
 * handshake done implicitly by the first read. Also the plain io table.
 */
#include "tls.h"
#include "common/log.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static ssize_t plain_read(gmq_conn_t *c, void *buf, size_t n);
static ssize_t plain_write(gmq_conn_t *c, const void *buf, size_t n);
static void    plain_close(gmq_conn_t *c);
static ssize_t tls_read(gmq_conn_t *c, void *buf, size_t n);
static ssize_t tls_write(gmq_conn_t *c, const void *buf, size_t n);
static void    tls_close(gmq_conn_t *c);
static int     tls_pending(gmq_conn_t *c);

const gmq_conn_io_t gmq_conn_io_plain = { plain_read, plain_write, plain_close, NULL };
const gmq_conn_io_t gmq_conn_io_tls = { tls_read, tls_write, tls_close, tls_pending };

static void
tls_errstr(char *err, size_t errlen, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errlen, "%s \"%s\": %s", what, file, e ? buf : strerror(errno));
    ERR_clear_error();
}

SSL_CTX *
gmq_tls_ctx_new(const gmq_config_t *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    int minv = strcmp(cfg->tls_min_version, "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx, minv);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* read what the socket has in one read(), not a record header and then
     * its body: with one request a record, half the reads */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
        tls_errstr(err, errlen, "tls_cert_file", cfg->tls_cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1) {
        tls_errstr(err, errlen, "tls_key_file", cfg->tls_key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_errstr(err, errlen, "tls_key_file does not match tls_cert_file", cfg->tls_key_file);
        goto fail;
    }
    if (cfg->tls_client_ca_file[0] != '\0') {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_client_ca_file);
        if (names == NULL ||
            SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca_file, NULL) != 1) {
            if (names)
                sk_X509_NAME_pop_free(names, X509_NAME_free);
            tls_errstr(err, errlen, "tls_client_ca_file", cfg->tls_client_ca_file);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int
gmq_tls_conn_start(gmq_conn_t *c, SSL_CTX *ctx)
{
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return GMQ_ERR;
    SSL_set_accept_state(c->ssl);
    c->io = &gmq_conn_io_tls;
    return GMQ_OK;
}

/* ---- plain ---- */

static ssize_t
plain_read(gmq_conn_t *c, void *buf, size_t n)
{
    ssize_t r;
    do {
        r = read(c->fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return r;
}

static ssize_t
plain_write(gmq_conn_t *c, const void *buf, size_t n)
{
    ssize_t r;
    do {
        r = write(c->fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return r;
}

static void
plain_close(gmq_conn_t *c)
{
    (void) c;
}

/* ---- TLS ---- */

static ssize_t
tls_result(gmq_conn_t *c, int r, int writing)
{
    int e = SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        c->tls_want = writing ? 1 : 0;    /* a write waits for readability */
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        c->tls_want = writing ? 0 : 2;    /* a read waits for writability */
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default: {
        unsigned long le = ERR_peek_error();
        if (le != 0 && !SSL_is_init_finished(c->ssl)) {
            char buf[256];
            ERR_error_string_n(le, buf, sizeof(buf));
            gmq_log_debug("connection %llu: TLS handshake failed: %s", (unsigned long long) c->id, buf);
        }
        ERR_clear_error();
        errno = ECONNRESET;
        return -1;
    }
    }
}

static ssize_t
tls_read(gmq_conn_t *c, void *buf, size_t n)
{
    ERR_clear_error();
    int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int) n);
    if (r > 0) {
        c->tls_want = 0;
        return r;
    }
    return tls_result(c, r, 0);
}

static ssize_t
tls_write(gmq_conn_t *c, const void *buf, size_t n)
{
    ERR_clear_error();
    int r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int) n);
    if (r > 0)
        return r;
    ssize_t x = tls_result(c, r, 1);
    return x == 0 ? -1 : x;
}

/* decrypted or raw bytes OpenSSL read ahead of what SSL_read returned */
static int
tls_pending(gmq_conn_t *c)
{
    return c->ssl != NULL && SSL_has_pending(c->ssl);
}

static void
tls_close(gmq_conn_t *c)
{
    if (c->ssl != NULL) {
        if (SSL_is_init_finished(c->ssl))
            SSL_shutdown(c->ssl);     /* best effort close_notify; never waits */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
}

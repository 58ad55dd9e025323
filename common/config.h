/*
 * config.h - node configuration: etc/gmq.conf read with libconfuse, then
 * command-line flags (-name=value or --name=value) on top. Every key, its
 * default and its range are documented in etc/gmq.conf and
 * docs/configuration.md.
 */
#ifndef GMQ_CONFIG_H
#define GMQ_CONFIG_H

#include "gmq.h"

#define GMQ_AUTH_TOKEN_MAX 256   /* characters of auth_token */

#define GMQ_FSYNC_ALWAYS   0
#define GMQ_FSYNC_EVERYSEC 1
#define GMQ_FSYNC_NO       2

/* gmq_config_load() results besides GMQ_OK / GMQ_ERR */
#define GMQ_CONFIG_HELP    1   /* -h/--help: usage was written to the out stream */
#define GMQ_CONFIG_VERSION 2   /* --version: version was written */

struct gmq_config_s {
    char *config_file;        /* NULL = none given (built-in defaults + flags) */

    /* [node] */
    int   node_id;            /* 1..1023, default 1 */
    int   node_weight;        /* 1..1000, default 1 */
    char *tcp_addr;           /* "host:port", default 127.0.0.1:9503 */
    char *http_addr;          /* default 127.0.0.1:9504 */
    char *report_tcp_addr;    /* advertised in etcd; "" = derived from tcp_addr */
    char *report_http_addr;
    char *data_save_path;     /* default "data/gnode" */

    /* message defaults for new topics */
    int   msg_ttr;            /* seconds, 1..86400, default 30 */
    int   msg_max_retry;      /* 0..1000, default 5 */
    int   max_delay;          /* seconds, 0..31536000, default 259200 (3 days) */

    /* storage */
    int   fsync;              /* GMQ_FSYNC_*, default always */
    long  segment_size;       /* bytes, 1 MiB..1 GiB, default 64 MiB */

    /* log */
    int   log_level;          /* 0 error .. 4 debug, default 2 */
    char *log_file;           /* "" = stderr */

    /* etcd */
    char *etcd_endpoints;     /* "" = standalone; comma-separated, scheme optional */
    int   etcd_lease_ttl;     /* seconds, 2..3600, default 30 */
    char *etcd_ca_file;       /* CA bundle for https:// endpoints, "" = system */

    /* limits */
    int   max_topics;         /* = max worker processes, 1..10000, default 256 */
    int   max_connections;    /* 1..1000000, default 10000 */
    long  max_body;           /* bytes, 1..256 MiB, default 1 MiB */
    int   max_line;           /* TCP command line bytes, 64..1 MiB, default 4096 */
    int   max_mpub;           /* items per mpub, 1..100000, default 1000 */
    int   max_queues_per_topic; /* 1..100000, default 1024 */
    int   idle_timeout;       /* seconds, 0 = never, default 0 */
    int   header_timeout;     /* seconds to send a complete HTTP head, default 10 */
    int   body_timeout;       /* seconds to send an HTTP body after its head, default 60 */
    long  max_header;         /* bytes of an HTTP head, default 16 KiB */
    long  max_output;         /* bytes queued to one client, default 64 MiB */

    /* TLS and access control */
    int   tcp_tls;            /* 0/1 */
    int   http_tls;           /* 0/1 */
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_min_version;    /* "1.2" or "1.3", default "1.2" */
    char *tls_client_ca_file; /* "" = no client certificates */
    char *auth_token;         /* "" = no token */
};

/*
 * Fill *cfg from defaults, then the file named by -config_file (if any), then
 * the flags in argv (argv[0] is the program name), so a flag wins over the
 * file wherever it stands. On GMQ_ERR, err holds one line naming the key, the
 * value and what is allowed (e.g. `node_id: "2000" is out of range 1..1023`),
 * and the caller exits with GMQ_EXIT_CONFIG. -h/--help and --version write to
 * `out` (NULL = stdout) and return GMQ_CONFIG_HELP / GMQ_CONFIG_VERSION.
 * argv is not modified and nothing is printed to stderr, so a SIGHUP reload
 * may call it again with the saved argv. *cfg is zeroed first, not freed:
 * pass a new or gmq_config_free()d struct. On any return,
 * gmq_config_free(cfg) releases what was allocated.
 */
int  gmq_config_load(gmq_config_t *cfg, int argc, char **argv, void *out /* FILE* */,
                     char *err, size_t errlen);
void gmq_config_free(gmq_config_t *cfg);

/* "always" / "everysec" / "no" */
const char *gmq_config_fsync_name(int fsync);

#endif

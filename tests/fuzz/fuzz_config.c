/*
 * fuzz_config.c - the configuration loader (common/config.c, libconfuse
 * underneath). The input up to its first NUL byte is written as the config
 * file; what follows, split at NUL bytes, becomes up to 8 command-line
 * flags after -config_file=<it>. A load that succeeds must leave every key
 * in its documented range (etc/gmq.conf), load the same way a second time
 * (a SIGHUP reload reads the same file with the same argv), and the error
 * text of one that fails must be one line.
 */
#include "fuzz.h"
#include "common/config.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#define CONFIG_FLAGS_MAX 8

static char  config_path[PATH_MAX];
static FILE *config_null;

static void config_check_ranges(const gmq_config_t *c);
static void config_same(const gmq_config_t *a, const gmq_config_t *b);
static void config_cleanup(void);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (config_path[0] == '\0') {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(config_path, sizeof(config_path), "%s/gmq-fuzz-config-%d.conf",
                 base ? base : "/tmp", (int) getpid());
        config_null = fopen("/dev/null", "w");
        atexit(config_cleanup);
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t flen = nul ? (size_t) (nul - data) : size;
    int fd = open(config_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, data, flen) == (ssize_t) flen);
    close(fd);

    char arg0[] = "gmq-master";
    char file_flag[PATH_MAX + 16];
    snprintf(file_flag, sizeof(file_flag), "-config_file=%s", config_path);
    char *argv[CONFIG_FLAGS_MAX + 3] = { arg0, file_flag };
    int argc = 2;
    char *flags = NULL;
    if (nul != NULL) {
        size_t n = size - flen - 1;
        flags = malloc(n + 1);
        memcpy(flags, nul + 1, n);
        flags[n] = '\0';
        /* (another config_file could name any file, even a FIFO that blocks) */
        for (char *p = flags; argc < CONFIG_FLAGS_MAX + 2 && p < flags + n; p += strlen(p) + 1)
            if (strstr(p, "config_file") == NULL)
                argv[argc++] = p;
    }
    argv[argc] = NULL;

    gmq_config_t a, b;
    char err[512], err2[512];
    int rc = gmq_config_load(&a, argc, argv, config_null, err, sizeof(err));
    int rc2 = gmq_config_load(&b, argc, argv, config_null, err2, sizeof(err2));
    FUZZ_CHECK(rc == rc2);
    if (rc == GMQ_OK) {
        config_check_ranges(&a);
        config_same(&a, &b);
    } else if (rc == GMQ_ERR) {
        if (!(err[0] != '\0' && strchr(err, '\n') == NULL && strcmp(err, err2) == 0))
            fprintf(stderr, "first error: [%s]\nsecond error: [%s]\n", err, err2);
        FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL && strcmp(err, err2) == 0);
    } else {
        FUZZ_CHECK(rc == GMQ_CONFIG_HELP || rc == GMQ_CONFIG_VERSION);
    }
    gmq_config_free(&a);
    gmq_config_free(&b);
    free(flags);
    return 0;
}

static void
config_check_ranges(const gmq_config_t *c)
{
    FUZZ_CHECK(c->node_id >= 1 && c->node_id <= 1023);
    FUZZ_CHECK(c->node_weight >= 1 && c->node_weight <= 1000);
    FUZZ_CHECK(c->msg_ttr >= 1 && c->msg_ttr <= 86400);
    FUZZ_CHECK(c->msg_max_retry >= 0 && c->msg_max_retry <= 1000);
    FUZZ_CHECK(c->max_delay >= 0 && c->max_delay <= 31536000);
    FUZZ_CHECK(c->fsync >= GMQ_FSYNC_ALWAYS && c->fsync <= GMQ_FSYNC_NO);
    FUZZ_CHECK(c->segment_size >= 1024L * 1024 && c->segment_size <= 1024L * 1024 * 1024);
    FUZZ_CHECK(c->log_level >= 0 && c->log_level <= 4);
    FUZZ_CHECK(c->etcd_lease_ttl >= 2 && c->etcd_lease_ttl <= 3600);
    FUZZ_CHECK(c->max_topics >= 1 && c->max_topics <= 10000);
    FUZZ_CHECK(c->max_body >= 1 && c->max_body <= 256L * 1024 * 1024);
    FUZZ_CHECK(c->max_line >= 64 && c->max_line <= 1024 * 1024);
    FUZZ_CHECK(c->max_mpub >= 1 && c->max_mpub <= 100000);
    FUZZ_CHECK(c->max_header >= 1024 && c->max_header <= 1024L * 1024);
    FUZZ_CHECK(c->max_output >= 64 * 1024 && c->max_output <= 1024L * 1024 * 1024);
    FUZZ_CHECK(c->tcp_tls == 0 || c->tcp_tls == 1);
    FUZZ_CHECK(c->http_tls == 0 || c->http_tls == 1);
    /* every string is set; the required ones are not empty */
    FUZZ_CHECK(c->tcp_addr && c->tcp_addr[0] && c->http_addr && c->http_addr[0]);
    FUZZ_CHECK(c->data_save_path && c->data_save_path[0]);
    FUZZ_CHECK(c->report_tcp_addr && c->report_http_addr && c->log_file && c->etcd_endpoints);
    FUZZ_CHECK(c->etcd_ca_file && c->tls_cert_file && c->tls_key_file && c->tls_client_ca_file);
    FUZZ_CHECK(c->tls_min_version && (strcmp(c->tls_min_version, "1.2") == 0 ||
                                      strcmp(c->tls_min_version, "1.3") == 0));
    FUZZ_CHECK(c->auth_token && strlen(c->auth_token) <= GMQ_AUTH_TOKEN_MAX);
    for (const char *p = c->auth_token; *p; p++)
        FUZZ_CHECK(*p > ' ' && *p < 0x7f);
    if (c->tcp_tls || c->http_tls)
        FUZZ_CHECK(c->tls_cert_file[0] && c->tls_key_file[0]);
}

static void
config_same(const gmq_config_t *a, const gmq_config_t *b)
{
    const char *const sa[] = { a->tcp_addr, a->http_addr, a->report_tcp_addr, a->report_http_addr,
                               a->data_save_path, a->log_file, a->etcd_endpoints, a->etcd_ca_file,
                               a->tls_cert_file, a->tls_key_file, a->tls_min_version,
                               a->tls_client_ca_file, a->auth_token, a->config_file };
    const char *const sb[] = { b->tcp_addr, b->http_addr, b->report_tcp_addr, b->report_http_addr,
                               b->data_save_path, b->log_file, b->etcd_endpoints, b->etcd_ca_file,
                               b->tls_cert_file, b->tls_key_file, b->tls_min_version,
                               b->tls_client_ca_file, b->auth_token, b->config_file };
    for (size_t i = 0; i < sizeof(sa) / sizeof(sa[0]); i++)
        FUZZ_CHECK(sa[i] != NULL && sb[i] != NULL && strcmp(sa[i], sb[i]) == 0);
    FUZZ_CHECK(a->node_id == b->node_id && a->msg_ttr == b->msg_ttr && a->fsync == b->fsync &&
               a->segment_size == b->segment_size && a->max_body == b->max_body &&
               a->max_line == b->max_line && a->max_header == b->max_header &&
               a->idle_timeout == b->idle_timeout && a->tcp_tls == b->tcp_tls);
}

static void
config_cleanup(void)
{
    unlink(config_path);
}

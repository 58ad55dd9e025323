/*
 * check_config.c - unit tests of common/config.c: defaults, the file, the
 * flags on top, every value type, the one-line errors, --help, --version,
 * reloading and freeing.
 */
#include "common/config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERRLEN 512

/* a temp config file with the given contents; the caller unlinks it */
static char *
tmp_conf(const char *text)
{
    static char path[64];
    int fd;
    FILE *fp;

    snprintf(path, sizeof(path), "/tmp/check_config.XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fp = fdopen(fd, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* load with argv built from NULL-terminated arguments after "gmq-master" */
static int
load(gmq_config_t *cfg, char *err, const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    const char *a;
    int rc;

    argv[argc++] = "gmq-master";
    va_start(ap, first);
    for (a = first; a != NULL; a = va_arg(ap, const char *))
        argv[argc++] = (char *) a;
    va_end(ap);
    argv[argc] = NULL;
    rc = gmq_config_load(cfg, argc, argv, stdout, err, ERRLEN);
    return rc;
}

START_TEST(test_defaults)
{
    gmq_config_t cfg;
    char err[ERRLEN];
    char *argv[] = { "gmq-master", NULL };

    ck_assert_int_eq(gmq_config_load(&cfg, 1, argv, stdout, err, sizeof(err)), GMQ_OK);
    ck_assert_str_eq(err, "");
    ck_assert_ptr_null(cfg.config_file);
    ck_assert_int_eq(cfg.node_id, 1);
    ck_assert_int_eq(cfg.node_weight, 1);
    ck_assert_str_eq(cfg.tcp_addr, "127.0.0.1:9503");
    ck_assert_str_eq(cfg.http_addr, "127.0.0.1:9504");
    ck_assert_str_eq(cfg.report_tcp_addr, "");
    ck_assert_str_eq(cfg.report_http_addr, "");
    ck_assert_str_eq(cfg.data_save_path, "data/gnode");
    ck_assert_int_eq(cfg.msg_ttr, 30);
    ck_assert_int_eq(cfg.msg_max_retry, 5);
    ck_assert_int_eq(cfg.max_delay, 259200);
    ck_assert_int_eq(cfg.fsync, GMQ_FSYNC_ALWAYS);
    ck_assert_int_eq(cfg.segment_size, 64L * 1024 * 1024);
    ck_assert_int_eq(cfg.log_level, 2);
    ck_assert_str_eq(cfg.log_file, "");
    ck_assert_str_eq(cfg.etcd_endpoints, "");
    ck_assert_int_eq(cfg.etcd_lease_ttl, 30);
    ck_assert_str_eq(cfg.etcd_ca_file, "");
    ck_assert_int_eq(cfg.max_topics, 256);
    ck_assert_int_eq(cfg.max_connections, 10000);
    ck_assert_int_eq(cfg.max_body, 1024 * 1024);
    ck_assert_int_eq(cfg.max_line, 4096);
    ck_assert_int_eq(cfg.max_mpub, 1000);
    ck_assert_int_eq(cfg.max_queues_per_topic, 1024);
    ck_assert_int_eq(cfg.idle_timeout, 0);
    ck_assert_int_eq(cfg.header_timeout, 10);
    ck_assert_int_eq(cfg.max_header, 16 * 1024);
    ck_assert_int_eq(cfg.max_output, 64L * 1024 * 1024);
    ck_assert_int_eq(cfg.tcp_tls, 0);
    ck_assert_int_eq(cfg.http_tls, 0);
    ck_assert_str_eq(cfg.tls_cert_file, "");
    ck_assert_str_eq(cfg.tls_key_file, "");
    ck_assert_str_eq(cfg.tls_min_version, "1.2");
    ck_assert_str_eq(cfg.tls_client_ca_file, "");
    ck_assert_str_eq(cfg.auth_token, "");
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_file_overrides_defaults)
{
    gmq_config_t cfg;
    char err[ERRLEN], flag[128];
    char *path = tmp_conf("# a comment\n"
                          "node_id = 7\n"
                          "tcp_addr = \"0.0.0.0:19503\"\n"
                          "data_save_path = '/var/lib/gmq'\n"
                          "segment_size = 8M\n"
                          "fsync = everysec\n"
                          "http_tls = yes\n"
                          "tls_cert_file = \"c.pem\"\n"
                          "tls_key_file = \"k.pem\"\n"
                          "etcd_endpoints = \"a:2379,b:2379\"\n");

    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_OK);
    ck_assert_str_eq(cfg.config_file, path);
    ck_assert_int_eq(cfg.node_id, 7);
    ck_assert_str_eq(cfg.tcp_addr, "0.0.0.0:19503");
    ck_assert_str_eq(cfg.data_save_path, "/var/lib/gmq");
    ck_assert_int_eq(cfg.segment_size, 8L * 1024 * 1024);
    ck_assert_int_eq(cfg.fsync, GMQ_FSYNC_EVERYSEC);
    ck_assert_int_eq(cfg.http_tls, 1);
    ck_assert_str_eq(cfg.etcd_endpoints, "a:2379,b:2379");
    /* keys absent from the file keep their defaults */
    ck_assert_int_eq(cfg.msg_ttr, 30);
    ck_assert_str_eq(cfg.http_addr, "127.0.0.1:9504");
    gmq_config_free(&cfg);
    unlink(path);
}
END_TEST

START_TEST(test_flags_override_file)
{
    gmq_config_t cfg;
    char err[ERRLEN], flag[128];
    char *path = tmp_conf("node_id = 7\nmsg_ttr = 40\nlog_level = 4\n");

    /* the flag before -config_file still wins over the file */
    snprintf(flag, sizeof(flag), "--config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, "-node_id=9", flag, "--log_level", "0", NULL), GMQ_OK);
    ck_assert_int_eq(cfg.node_id, 9);
    ck_assert_int_eq(cfg.msg_ttr, 40);
    ck_assert_int_eq(cfg.log_level, 0);
    gmq_config_free(&cfg);
    unlink(path);
}
END_TEST

START_TEST(test_flag_forms)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    ck_assert_int_eq(load(&cfg, err, "-node_id=11", "--node_weight=12",
                          "-msg_ttr", "13", "--msg_max_retry", "14", NULL), GMQ_OK);
    ck_assert_int_eq(cfg.node_id, 11);
    ck_assert_int_eq(cfg.node_weight, 12);
    ck_assert_int_eq(cfg.msg_ttr, 13);
    ck_assert_int_eq(cfg.msg_max_retry, 14);
    gmq_config_free(&cfg);

    /* the last occurrence of a flag wins */
    ck_assert_int_eq(load(&cfg, err, "-node_id=3", "-node_id=4", NULL), GMQ_OK);
    ck_assert_int_eq(cfg.node_id, 4);
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_argv_not_modified)
{
    gmq_config_t cfg;
    char err[ERRLEN];
    char *argv[] = { "gmq-master", "-node_id", "5", "--fsync=no", NULL };
    char *copy[5];

    memcpy(copy, argv, sizeof(argv));
    ck_assert_int_eq(gmq_config_load(&cfg, 4, argv, stdout, err, sizeof(err)), GMQ_OK);
    ck_assert_mem_eq(copy, argv, sizeof(argv));
    ck_assert_str_eq(argv[1], "-node_id");
    ck_assert_str_eq(argv[3], "--fsync=no");
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_type_int)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    ck_assert_int_eq(load(&cfg, err, "-node_id=1023", "-max_delay=0", NULL), GMQ_OK);
    ck_assert_int_eq(cfg.node_id, 1023);
    ck_assert_int_eq(cfg.max_delay, 0);
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-node_id=1024", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "node_id: \"1024\" is out of range 1..1023");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-node_id=0", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "node_id: \"0\" is out of range 1..1023");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-node_id=12abc", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "node_id: \"12abc\" is not an integer");
    gmq_config_free(&cfg);

    /* ints take no size suffix */
    ck_assert_int_eq(load(&cfg, err, "-msg_ttr=1K", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "msg_ttr: \"1K\" is not an integer");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-log_level=5", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "log_level: \"5\" is out of range 0..4");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-msg_ttr=99999999999999999999", NULL), GMQ_ERR);
    ck_assert_ptr_nonnull(strstr(err, "msg_ttr: "));
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_type_size)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    ck_assert_int_eq(load(&cfg, err, "-segment_size=1G", "-max_body=512k",
                          "-max_header=2048", "-max_line=1M", "-max_output=128M", NULL), GMQ_OK);
    ck_assert_int_eq(cfg.segment_size, 1024L * 1024 * 1024);
    ck_assert_int_eq(cfg.max_body, 512 * 1024);
    ck_assert_int_eq(cfg.max_header, 2048);
    ck_assert_int_eq(cfg.max_line, 1024 * 1024);
    ck_assert_int_eq(cfg.max_output, 128L * 1024 * 1024);
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-segment_size=2G", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "segment_size: \"2G\" is out of range 1M..1G");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-segment_size=64X", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "segment_size: \"64X\" is not a size"
                          " (a number with an optional K, M or G suffix)");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-max_body=", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "max_body: \"\" is not a size"
                          " (a number with an optional K, M or G suffix)");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-segment_size=99999999999G", NULL), GMQ_ERR);
    ck_assert_ptr_nonnull(strstr(err, "is not a size"));
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_type_bool)
{
    static const struct { const char *v; int want; } cases[] = {
        { "on", 1 }, { "off", 0 }, { "true", 1 }, { "false", 0 },
        { "yes", 1 }, { "no", 0 }, { "1", 1 }, { "0", 0 }, { "ON", 1 },
    };
    gmq_config_t cfg;
    char err[ERRLEN], flag[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(flag, sizeof(flag), "-tcp_tls=%s", cases[i].v);
        ck_assert_int_eq(load(&cfg, err, flag, "-tls_cert_file=c.pem",
                              "-tls_key_file=k.pem", NULL), GMQ_OK);
        ck_assert_int_eq(cfg.tcp_tls, cases[i].want);
        gmq_config_free(&cfg);
    }
    ck_assert_int_eq(load(&cfg, err, "-http_tls=maybe", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "http_tls: \"maybe\" must be one of on, off, true, false,"
                          " yes, no, 1, 0");
    gmq_config_free(&cfg);

    /* TLS needs a certificate and a key */
    ck_assert_int_eq(load(&cfg, err, "-http_tls=on", NULL), GMQ_ERR);
    ck_assert_ptr_nonnull(strstr(err, "tls_cert_file: "));
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_type_enum)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    ck_assert_int_eq(load(&cfg, err, "-fsync=no", "-tls_min_version=1.3", NULL), GMQ_OK);
    ck_assert_int_eq(cfg.fsync, GMQ_FSYNC_NO);
    ck_assert_str_eq(cfg.tls_min_version, "1.3");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-fsync=sometimes", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "fsync: \"sometimes\" must be one of always, everysec, no");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-tls_min_version=1.1", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "tls_min_version: \"1.1\" must be one of 1.2, 1.3");
    gmq_config_free(&cfg);

    ck_assert_str_eq(gmq_config_fsync_name(GMQ_FSYNC_ALWAYS), "always");
    ck_assert_str_eq(gmq_config_fsync_name(GMQ_FSYNC_EVERYSEC), "everysec");
    ck_assert_str_eq(gmq_config_fsync_name(GMQ_FSYNC_NO), "no");
    ck_assert_str_eq(gmq_config_fsync_name(7), "?");
}
END_TEST

START_TEST(test_type_addr)
{
    static const char *good[] = {
        "127.0.0.1:1", ":9503", "localhost:65535", "[::1]:9503", "gmq-1.example.com:80",
    };
    static const char *bad[] = {
        "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "host:port",
        "a b:80", "::1:80x", "[::1:80", "",
    };
    gmq_config_t cfg;
    char err[ERRLEN], flag[64], want[160];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(flag, sizeof(flag), "-tcp_addr=%s", good[i]);
        ck_assert_msg(load(&cfg, err, flag, NULL) == GMQ_OK, "%s: %s", good[i], err);
        ck_assert_str_eq(cfg.tcp_addr, good[i]);
        gmq_config_free(&cfg);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(flag, sizeof(flag), "-http_addr=%s", bad[i]);
        ck_assert_msg(load(&cfg, err, flag, NULL) == GMQ_ERR, "%s accepted", bad[i]);
        snprintf(want, sizeof(want), "http_addr: \"%s\" must be host:port", bad[i]);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
        gmq_config_free(&cfg);
    }
    /* the report addresses may be "" (derived from the listen address) */
    ck_assert_int_eq(load(&cfg, err, "-report_tcp_addr=", "-report_http_addr=h:1", NULL),
                     GMQ_OK);
    ck_assert_str_eq(cfg.report_tcp_addr, "");
    ck_assert_str_eq(cfg.report_http_addr, "h:1");
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_type_string)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    ck_assert_int_eq(load(&cfg, err, "-auth_token=s3cret", "-log_file", "/tmp/gmq.log",
                          "-data_save_path=/srv/gmq", "-etcd_endpoints=", NULL), GMQ_OK);
    ck_assert_str_eq(cfg.auth_token, "s3cret");
    ck_assert_str_eq(cfg.log_file, "/tmp/gmq.log");
    ck_assert_str_eq(cfg.data_save_path, "/srv/gmq");
    ck_assert_str_eq(cfg.etcd_endpoints, "");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-data_save_path=", NULL), GMQ_ERR);
    ck_assert_ptr_nonnull(strstr(err, "data_save_path: \"\""));
    gmq_config_free(&cfg);

    /* auth_token must fit a header and a command line, printable, no spaces */
    char flag[GMQ_AUTH_TOKEN_MAX + 32];
    snprintf(flag, sizeof(flag), "-auth_token=%0*d", GMQ_AUTH_TOKEN_MAX, 7);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_OK);
    gmq_config_free(&cfg);
    snprintf(flag, sizeof(flag), "-auth_token=%0*d", GMQ_AUTH_TOKEN_MAX + 1, 7);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    ck_assert_ptr_nonnull(strstr(err, "auth_token"));
    ck_assert_ptr_nonnull(strstr(err, "256"));
    gmq_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, err, "-auth_token=a b", NULL), GMQ_ERR);
    ck_assert_ptr_nonnull(strstr(err, "auth_token"));
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_file_bad_key)
{
    gmq_config_t cfg;
    char err[ERRLEN], flag[128], want[256];
    char *path = tmp_conf("node_id = 3\n\nnod_id = 4\n");

    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    snprintf(want, sizeof(want), "config file %s line 3: no such option 'nod_id'", path);
    ck_assert_str_eq(err, want);
    ck_assert_ptr_null(strchr(err, '\n'));
    gmq_config_free(&cfg);
    unlink(path);

    /* a syntax error is one line too */
    path = tmp_conf("node_id = \"3\n");
    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    snprintf(want, sizeof(want), "config file %s line ", path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
    ck_assert_ptr_null(strchr(err, '\n'));
    gmq_config_free(&cfg);
    unlink(path);

    /* -config_file is a flag, not a key of the file */
    path = tmp_conf("config_file = \"/etc/other.conf\"\n");
    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    ck_assert_ptr_nonnull(strstr(err, "no such option 'config_file'"));
    gmq_config_free(&cfg);
    unlink(path);
}
END_TEST

START_TEST(test_file_bad_value)
{
    gmq_config_t cfg;
    char err[ERRLEN], flag[128], want[256];
    char *path = tmp_conf("node_id = 2000\n");

    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    snprintf(want, sizeof(want), "config file %s line 1: node_id: \"2000\" is out of range 1..1023",
             path);
    ck_assert_str_eq(err, want);
    gmq_config_free(&cfg);

    /* a flag does not rescue a bad value in the file: the file must be valid */
    ck_assert_int_eq(load(&cfg, err, flag, "-node_id=5", NULL), GMQ_ERR);
    gmq_config_free(&cfg);
    unlink(path);

    path = tmp_conf("fsync = sometimes\n");
    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    snprintf(want, sizeof(want),
             "config file %s line 1: fsync: \"sometimes\" must be one of always, everysec, no", path);
    ck_assert_str_eq(err, want);
    gmq_config_free(&cfg);
    unlink(path);
}
END_TEST

/* errors name the line of the file they are on, after comments and blank lines */
START_TEST(test_file_error_lines)
{
    gmq_config_t cfg;
    char err[ERRLEN], flag[128], want[256];
    /* 1: comment, 2: comment, 3: blank, 4: comment, 5: bad value, 6: blank, 7: syntax */
    char *path = tmp_conf("# gmq test config\n# ----\n\n# the node\nnode_id = 2000\n\n"
                          "msg_ttr = = 3\n");

    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    snprintf(want, sizeof(want), "config file %s line 5: node_id: \"2000\" is out of range 1..1023",
             path);
    ck_assert_str_eq(err, want);
    gmq_config_free(&cfg);
    unlink(path);

    path = tmp_conf("# gmq test config\n# ----\n\n# the node\nnode_id = 20\n\nmsg_ttr = = 3\n");
    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    snprintf(want, sizeof(want), "config file %s line 7: ", path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
    gmq_config_free(&cfg);
    unlink(path);

    /* C and C++ comments, a value on several lines, '#' and '//' inside strings */
    path = tmp_conf("/* a comment\n   on three lines */\nlog_file = \"/tmp/a#b//c\"\n"
                    "// another\ndata_save_path = \"x\ny\"\nauth_token = 'it\\'s' # x\n"
                    "tcp_addr = \"127.0.0.1:9\" // y\nnode_weight = 0\n");
    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    snprintf(want, sizeof(want), "config file %s line 9: node_weight: \"0\" is out of range 1..1000",
             path);
    ck_assert_str_eq(err, want);
    gmq_config_free(&cfg);
    unlink(path);

    path = tmp_conf("/* a comment\n   on three lines */\nlog_file = \"/tmp/a#b//c\"\n"
                    "// another\ndata_save_path = \"x\ny\"\n#\n#\nnode_weight = 7\nbogus = 1\n");
    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(load(&cfg, err, flag, NULL), GMQ_ERR);
    snprintf(want, sizeof(want), "config file %s line 10: no such option 'bogus'", path);
    ck_assert_str_eq(err, want);
    gmq_config_free(&cfg);
    ck_assert_int_eq(truncate(path, strlen("/* a comment\n   on three lines */\nlog_file = "
                                           "\"/tmp/a#b//c\"\n// another\ndata_save_path = "
                                           "\"x\ny\"\n#\n#\nnode_weight = 7\n")), 0);
    ck_assert_msg(load(&cfg, err, flag, NULL) == GMQ_OK, "%s", err);
    ck_assert_str_eq(cfg.log_file, "/tmp/a#b//c");
    ck_assert_str_eq(cfg.data_save_path, "x\ny");
    ck_assert_int_eq(cfg.node_weight, 7);
    gmq_config_free(&cfg);
    unlink(path);
}
END_TEST

START_TEST(test_file_missing)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    ck_assert_int_eq(load(&cfg, err, "-config_file=/tmp/check_config.does-not-exist", NULL),
                     GMQ_ERR);
    ck_assert_str_eq(err, "config file /tmp/check_config.does-not-exist: no such file");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-config_file=/tmp", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "config file /tmp: not a regular file");
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_flag_errors)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    ck_assert_int_eq(load(&cfg, err, "-msg_ttr=0", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "msg_ttr: \"0\" is out of range 1..86400");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-nod_id=3", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "unknown flag -nod_id (--help lists the flags)");
    gmq_config_free(&cfg);

    /* unique prefixes are not accepted either */
    ck_assert_int_eq(load(&cfg, err, "--node_w=3", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "unknown flag --node_w (--help lists the flags)");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-node_id", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "flag -node_id needs a value (-name=value)");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-node_id=3", "stray", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "unexpected argument \"stray\" (flags are -name=value)");
    gmq_config_free(&cfg);
}
END_TEST

/* found by tests/fuzz/fuzz_config.c: a newline in an argument or a path
 * made the error two lines (a log line could be forged); each one is a '?' */
START_TEST(test_errors_one_line)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    ck_assert_int_eq(load(&cfg, err, "-node_id=3", "stray\nWARN forged", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "unexpected argument \"stray?WARN forged\" (flags are -name=value)");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-no\r\nde=3", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "unknown flag -no??de (--help lists the flags)");
    gmq_config_free(&cfg);

    ck_assert_int_eq(load(&cfg, err, "-config_file=/nonexistent/a\nb", NULL), GMQ_ERR);
    ck_assert_str_eq(err, "config file /nonexistent/a?b: no such file");
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_help)
{
    gmq_config_t cfg;
    char err[ERRLEN];
    char *buf = NULL;
    size_t len = 0;
    char *argv[] = { "gmq-master", "--help", NULL };
    FILE *out = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(gmq_config_load(&cfg, 2, argv, out, err, sizeof(err)), GMQ_CONFIG_HELP);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(buf, "usage: gmq-master"));
    ck_assert_ptr_nonnull(strstr(buf, "-config_file=PATH"));
    ck_assert_ptr_nonnull(strstr(buf, "-node_id=N"));
    ck_assert_ptr_nonnull(strstr(buf, "1..1023; default 1\n"));
    ck_assert_ptr_nonnull(strstr(buf, "default \"127.0.0.1:9503\""));
    ck_assert_ptr_nonnull(strstr(buf, "one of always, everysec, no; default always"));
    ck_assert_ptr_nonnull(strstr(buf, "1M..1G; default 64M"));
    ck_assert_ptr_nonnull(strstr(buf, "-auth_token=STR"));
    ck_assert_ptr_nonnull(strstr(buf, "--version"));
    gmq_config_free(&cfg);
    free(buf);

    /* -h too */
    buf = NULL;
    out = open_memstream(&buf, &len);
    argv[1] = "-h";
    ck_assert_int_eq(gmq_config_load(&cfg, 2, argv, out, err, sizeof(err)), GMQ_CONFIG_HELP);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(buf, "-max_queues_per_topic=N"));
    gmq_config_free(&cfg);
    free(buf);
}
END_TEST

START_TEST(test_version)
{
    gmq_config_t cfg;
    char err[ERRLEN];
    char buf[128] = "";
    char *argv[] = { "gmq-master", "--version", NULL };
    FILE *out = fmemopen(buf, sizeof(buf), "w");

    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(gmq_config_load(&cfg, 2, argv, out, err, sizeof(err)),
                     GMQ_CONFIG_VERSION);
    fclose(out);
    ck_assert_str_eq(buf, "gmq-master " GMQ_VERSION "\n");
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_load_twice)
{
    gmq_config_t a, b;
    char err[ERRLEN], flag[128];
    char *path = tmp_conf("node_id = 21\n");
    char *argv[] = { "gmq-master", flag, "-msg_ttr", "50", NULL };

    snprintf(flag, sizeof(flag), "-config_file=%s", path);
    ck_assert_int_eq(gmq_config_load(&a, 4, argv, stdout, err, sizeof(err)), GMQ_OK);
    /* a SIGHUP reload: the same argv, a changed file */
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("node_id = 22\n", fp);
    fclose(fp);
    ck_assert_int_eq(gmq_config_load(&b, 4, argv, stdout, err, sizeof(err)), GMQ_OK);
    ck_assert_int_eq(a.node_id, 21);
    ck_assert_int_eq(b.node_id, 22);
    ck_assert_int_eq(a.msg_ttr, 50);
    ck_assert_int_eq(b.msg_ttr, 50);
    gmq_config_free(&a);
    gmq_config_free(&b);

    /* an error, then a good load into the freed struct */
    ck_assert_int_eq(load(&a, err, "-bogus=1", NULL), GMQ_ERR);
    gmq_config_free(&a);
    ck_assert_int_eq(gmq_config_load(&a, 4, argv, stdout, err, sizeof(err)), GMQ_OK);
    ck_assert_int_eq(a.node_id, 22);
    gmq_config_free(&a);
    unlink(path);
}
END_TEST

START_TEST(test_free_twice)
{
    gmq_config_t cfg;
    gmq_config_t zero;
    char err[ERRLEN];

    memset(&zero, 0, sizeof(zero));
    gmq_config_free(&zero);
    gmq_config_free(&zero);
    gmq_config_free(NULL);

    ck_assert_int_eq(load(&cfg, err, "-auth_token=x", NULL), GMQ_OK);
    gmq_config_free(&cfg);
    ck_assert_ptr_null(cfg.auth_token);
    ck_assert_ptr_null(cfg.tcp_addr);
    ck_assert_int_eq(cfg.node_id, 0);
    gmq_config_free(&cfg);
}
END_TEST

START_TEST(test_shipped_conf)
{
    gmq_config_t cfg;
    char err[ERRLEN];

    /* etc/gmq.conf parses and describes a standalone node on loopback */
    if (access("etc/gmq.conf", R_OK) != 0)
        return;
    ck_assert_msg(load(&cfg, err, "-config_file=etc/gmq.conf", NULL) == GMQ_OK, "%s", err);
    ck_assert_str_eq(cfg.etcd_endpoints, "");
    ck_assert_str_eq(cfg.tcp_addr, "127.0.0.1:9503");
    ck_assert_str_eq(cfg.http_addr, "127.0.0.1:9504");
    ck_assert_str_eq(cfg.data_save_path, "data/gnode");
    gmq_config_free(&cfg);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_file_overrides_defaults);
    tcase_add_test(tc, test_flags_override_file);
    tcase_add_test(tc, test_flag_forms);
    tcase_add_test(tc, test_argv_not_modified);
    tcase_add_test(tc, test_type_int);
    tcase_add_test(tc, test_type_size);
    tcase_add_test(tc, test_type_bool);
    tcase_add_test(tc, test_type_enum);
    tcase_add_test(tc, test_type_addr);
    tcase_add_test(tc, test_type_string);
    tcase_add_test(tc, test_file_bad_key);
    tcase_add_test(tc, test_file_bad_value);
    tcase_add_test(tc, test_file_error_lines);
    tcase_add_test(tc, test_file_missing);
    tcase_add_test(tc, test_flag_errors);
    tcase_add_test(tc, test_errors_one_line);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_load_twice);
    tcase_add_test(tc, test_free_twice);
    tcase_add_test(tc, test_shipped_conf);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    Suite *s = config_suite();
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

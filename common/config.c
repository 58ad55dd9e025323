/*
 * config.c - owns the table of configuration keys. One row per key drives
 * the defaults, etc/gmq.conf (read with libconfuse as strings), the
 * command-line flags (getopt_long_only), validation and --help, so the file
 * and the flags go through the same conversion code.
 */
#include "config.h"
#include "net.h"

#include <confuse.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum config_type {
    CONFIG_INT,     /* int, decimal */
    CONFIG_ISIZE,   /* int, bytes with an optional K/M/G suffix */
    CONFIG_SIZE,    /* long, bytes with an optional K/M/G suffix */
    CONFIG_BOOL,    /* int 0/1: on/off/true/false/yes/no/1/0 */
    CONFIG_ENUM,    /* int, index into choices */
    CONFIG_STR,     /* char *, restricted to choices when they are given */
    CONFIG_ADDR     /* char *, "host:port" */
};

#define CONFIG_F_EMPTY 0x1  /* a string or address may be "" */
#define CONFIG_F_FLAG  0x2  /* command line only: not a key of the file */

struct config_key {
    const char       *name;
    enum config_type  type;
    const char       *def;      /* as it would be written; NULL = unset */
    long              min, max; /* numeric types only */
    size_t            off;      /* offsetof(gmq_config_t, name) */
    unsigned          flags;
    const char *const *choices; /* CONFIG_ENUM, CONFIG_STR: NULL-terminated */
    const char       *help;
};

/* the offset of a field, and a compile error when its C type is not T */
#define CONFIG_OFF(f, T) _Generic(((gmq_config_t *) 0)->f, T: offsetof(gmq_config_t, f))

#define KEY_INT(f, def, lo, hi, help) \
    { #f, CONFIG_INT, def, lo, hi, CONFIG_OFF(f, int), 0, NULL, help }
#define KEY_ISIZE(f, def, lo, hi, help) \
    { #f, CONFIG_ISIZE, def, lo, hi, CONFIG_OFF(f, int), 0, NULL, help }
#define KEY_SIZE(f, def, lo, hi, help) \
    { #f, CONFIG_SIZE, def, lo, hi, CONFIG_OFF(f, long), 0, NULL, help }
#define KEY_BOOL(f, def, help) \
    { #f, CONFIG_BOOL, def, 0, 1, CONFIG_OFF(f, int), 0, NULL, help }
#define KEY_ENUM(f, def, ch, help) \
    { #f, CONFIG_ENUM, def, 0, 0, CONFIG_OFF(f, int), 0, ch, help }
#define KEY_STR(f, def, fl, ch, help) \
    { #f, CONFIG_STR, def, 0, 0, CONFIG_OFF(f, char *), fl, ch, help }
#define KEY_ADDR(f, def, fl, help) \
    { #f, CONFIG_ADDR, def, 0, 0, CONFIG_OFF(f, char *), fl, NULL, help }

#define CONFIG_FILE_MAX (1024L * 1024)   /* bytes of a config file */

#define KiB 1024L
#define MiB (1024L * 1024)
#define GiB (1024L * 1024 * 1024)

/* option values returned by getopt besides the keys (index + CONFIG_OPT_KEY) */
#define CONFIG_OPT_HELP    'h'
#define CONFIG_OPT_VERSION 0x80
#define CONFIG_OPT_KEY     0x100

static const char *const config_fsync_names[] = { "always", "everysec", "no", NULL };
static const char *const config_tls_versions[] = { "1.2", "1.3", NULL };
static const char *const config_bool_names[] = {
    "on", "off", "true", "false", "yes", "no", "1", "0", NULL
};

static const struct config_key config_keys[] = {
    KEY_STR(config_file, NULL, CONFIG_F_FLAG, NULL,
            "config file to read before the flags"),

    KEY_INT(node_id, "1", 1, 1023, "node id, unique in the cluster"),
    KEY_INT(node_weight, "1", 1, 1000, "weight published to etcd"),
    KEY_ADDR(tcp_addr, "127.0.0.1:9503", 0, "TCP listen address (\":port\" = all interfaces)"),
    KEY_ADDR(http_addr, "127.0.0.1:9504", 0, "HTTP listen address"),
    KEY_ADDR(report_tcp_addr, "", CONFIG_F_EMPTY,
             "TCP address advertised in etcd (\"\" = tcp_addr)"),
    KEY_ADDR(report_http_addr, "", CONFIG_F_EMPTY,
             "HTTP address advertised in etcd (\"\" = http_addr)"),
    KEY_STR(data_save_path, "data/gnode", 0, NULL, "data directory"),

    KEY_INT(msg_ttr, "30", 1, 86400, "seconds a popped message stays invisible"),
    KEY_INT(msg_max_retry, "5", 0, 1000, "deliveries before a message is dead"),
    KEY_INT(max_delay, "259200", 0, 31536000, "longest delay of a message, seconds"),

    KEY_ENUM(fsync, "always", config_fsync_names, "when the queue files are synced"),
    KEY_SIZE(segment_size, "64M", 1 * MiB, 1 * GiB, "bytes of a queue segment file"),

    KEY_INT(log_level, "2", 0, 4, "0 error, 1 warn, 2 info, 3 trace, 4 debug"),
    KEY_STR(log_file, "", CONFIG_F_EMPTY, NULL, "log file (\"\" = stderr)"),

    KEY_STR(etcd_endpoints, "", CONFIG_F_EMPTY, NULL,
            "comma-separated etcd endpoints (\"\" = standalone)"),
    KEY_INT(etcd_lease_ttl, "30", 2, 3600, "seconds of the etcd lease"),
    KEY_STR(etcd_ca_file, "", CONFIG_F_EMPTY, NULL,
            "CA bundle for https:// endpoints (\"\" = system)"),

    KEY_INT(max_topics, "256", 1, 10000, "topics, one worker process each"),
    KEY_INT(max_connections, "10000", 1, 1000000, "client connections"),
    KEY_SIZE(max_body, "1M", 1, 256 * MiB, "bytes of a message body"),
    KEY_ISIZE(max_line, "4096", 64, 1 * MiB, "bytes of a TCP command line"),
    KEY_INT(max_mpub, "1000", 1, 100000, "messages in one mpub"),
    KEY_INT(max_queues_per_topic, "1024", 1, 100000, "queues bound to one topic"),
    KEY_INT(idle_timeout, "0", 0, 86400, "seconds before an idle client is closed (0 = never)"),
    KEY_INT(header_timeout, "10", 1, 3600, "seconds to send a complete HTTP head"),
    KEY_INT(body_timeout, "60", 1, 3600, "seconds to send an HTTP body once its head is in"),
    KEY_SIZE(max_header, "16K", 1 * KiB, 1 * MiB, "bytes of an HTTP head"),
    KEY_SIZE(max_output, "64M", 64 * KiB, 1 * GiB, "bytes queued to one client"),

    KEY_BOOL(tcp_tls, "off", "TLS on the TCP port"),
    KEY_BOOL(http_tls, "off", "TLS on the HTTP port"),
    KEY_STR(tls_cert_file, "", CONFIG_F_EMPTY, NULL, "PEM certificate chain"),
    KEY_STR(tls_key_file, "", CONFIG_F_EMPTY, NULL, "PEM private key"),
    KEY_STR(tls_min_version, "1.2", 0, config_tls_versions, "oldest TLS version accepted"),
    KEY_STR(tls_client_ca_file, "", CONFIG_F_EMPTY, NULL,
            "CA for client certificates (\"\" = none asked)"),
    KEY_STR(auth_token, "", CONFIG_F_EMPTY, NULL, "token clients must present (\"\" = none)"),
};

#define CONFIG_NKEYS GMQ_ARRAY_LEN(config_keys)

/* one flag found on the command line: its key and its value inside argv */
struct config_arg {
    const struct config_key *key;
    const char              *value;
};

/* where libconfuse's messages go during one cfg_parse_fp() call */
struct config_sink {
    const char   *path;
    char         *err;
    size_t        errlen;
    int           set;
    gmq_config_t *cfg;      /* where config_validate stores the values */
};

static _Thread_local struct config_sink *config_sink;

static int  config_argv(int argc, char **argv, struct config_arg *args, size_t *nargs,
                        FILE *out, char *err, size_t errlen);
static int  config_file(gmq_config_t *cfg, const char *path, char *err, size_t errlen);
static int  config_validate(cfg_t *c, cfg_opt_t *opt);
static void config_uncomment(char *text);
static int  config_set(gmq_config_t *cfg, const struct config_key *k, const char *v,
                       char *err, size_t errlen);
static int  config_check(const gmq_config_t *cfg, char *err, size_t errlen);
static int  config_number(const struct config_key *k, const char *v, long *out);
static int  config_choice(const char *const *choices, const char *v);
static int  config_addr_valid(const char *v);
static void config_usage(FILE *out);
static void config_range(const struct config_key *k, char *buf, size_t len);
static void config_human(long n, int sized, char *buf, size_t len);
static void config_quote(const char *v, char *buf, size_t len);
static void config_choices(const char *const *choices, char *buf, size_t len);
static void config_errfunc(cfg_t *c, const char *fmt, va_list ap);
static void config_err(char *err, size_t errlen, const char *fmt, ...) GMQ_PRINTF(3, 4);

int
gmq_config_load(gmq_config_t *cfg, int argc, char **argv, void *out,
                char *err, size_t errlen)
{
    struct config_arg *args;
    size_t nargs = 0;
    const char *path = NULL;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    if (err != NULL && errlen > 0)
        err[0] = '\0';

    args = gmq_xcalloc(argc > 0 ? (size_t) argc : 1, sizeof(*args));
    rc = config_argv(argc, argv, args, &nargs, out != NULL ? out : stdout, err, errlen);
    if (rc != GMQ_OK)
        goto done;

    /* defaults, then the file, then the flags in command-line order */
    for (size_t i = 0; i < CONFIG_NKEYS && rc == GMQ_OK; i++)
        if (config_keys[i].def != NULL)
            rc = config_set(cfg, &config_keys[i], config_keys[i].def, err, errlen);
    for (size_t i = 0; i < nargs; i++)
        if (args[i].key->flags & CONFIG_F_FLAG)
            path = args[i].value;
    if (rc == GMQ_OK && path != NULL)
        rc = config_file(cfg, path, err, errlen);
    for (size_t i = 0; i < nargs && rc == GMQ_OK; i++)
        rc = config_set(cfg, args[i].key, args[i].value, err, errlen);
    if (rc == GMQ_OK)
        rc = config_check(cfg, err, errlen);

done:
    free(args);
    return rc;
}

void
gmq_config_free(gmq_config_t *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        const struct config_key *k = &config_keys[i];
        if (k->type == CONFIG_STR || k->type == CONFIG_ADDR)
            free(*(char **) ((char *) cfg + k->off));
    }
    memset(cfg, 0, sizeof(*cfg));
}

const char *
gmq_config_fsync_name(int fsync)
{
    if (fsync < 0 || fsync >= (int) GMQ_ARRAY_LEN(config_fsync_names) - 1)
        return "?";
    return config_fsync_names[fsync];
}

/*
 * Collect the flags of argv into args (values point into argv). getopt works
 * on a copy of the pointer array so argv is never permuted; optind = 0 makes
 * glibc start afresh on every call.
 */
static int
config_argv(int argc, char **argv, struct config_arg *args, size_t *nargs,
            FILE *out, char *err, size_t errlen)
{
    struct option opts[CONFIG_NKEYS + 3];
    char **av;
    int rc = GMQ_OK, saved_opterr = opterr;

    if (argc < 2)
        return GMQ_OK;

    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        opts[i] = (struct option) { config_keys[i].name, required_argument, NULL,
                                    CONFIG_OPT_KEY + (int) i };
    opts[CONFIG_NKEYS] = (struct option) { "help", no_argument, NULL, CONFIG_OPT_HELP };
    opts[CONFIG_NKEYS + 1] = (struct option) { "version", no_argument, NULL,
                                               CONFIG_OPT_VERSION };
    opts[CONFIG_NKEYS + 2] = (struct option) { NULL, 0, NULL, 0 };

    av = gmq_xcalloc((size_t) argc + 1, sizeof(*av));
    memcpy(av, argv, (size_t) argc * sizeof(*av));

    optind = 0;
    opterr = 0;
    for (;;) {
        int at = optind > 0 ? optind : 1;
        int li = -1;
        int c = getopt_long_only(argc, av, "+:h", opts, &li);
        const char *arg = at < argc ? av[at] : "";
        int namelen;

        if (c == -1)
            break;
        /* the flag as written, without "=value" */
        namelen = (int) strcspn(arg, "=");

        if (c == CONFIG_OPT_HELP) {
            config_usage(out);
            rc = GMQ_CONFIG_HELP;
            goto done;
        }
        if (c == CONFIG_OPT_VERSION) {
            fprintf(out, "gmq-master %s\n", GMQ_VERSION);
            rc = GMQ_CONFIG_VERSION;
            goto done;
        }
        if (c == ':') {
            config_err(err, errlen, "flag %.*s needs a value (-name=value)", namelen, arg);
            rc = GMQ_ERR;
            goto done;
        }
        if (c >= CONFIG_OPT_KEY && c < CONFIG_OPT_KEY + (int) CONFIG_NKEYS) {
            const struct config_key *k = &config_keys[c - CONFIG_OPT_KEY];
            const char *name = arg + strspn(arg, "-");

            /* getopt accepts unique prefixes; only whole names are flags */
            if ((size_t) (arg + namelen - name) == strlen(k->name)) {
                args[(*nargs)++] = (struct config_arg) { k, optarg };
                continue;
            }
        }
        config_err(err, errlen, "unknown flag %.*s (--help lists the flags)", namelen, arg);
        rc = GMQ_ERR;
        goto done;
    }
    if (optind < argc) {
        config_err(err, errlen, "unexpected argument \"%s\" (flags are -name=value)",
                   av[optind]);
        rc = GMQ_ERR;
    }

done:
    free(av);
    optind = 0;
    opterr = saved_opterr;
    return rc;
}

/*
 * Read the file with libconfuse: every key is a string, unknown keys fail.
 * libconfuse (3.3) counts some lines twice after a comment, so the comments
 * are blanked first (newlines kept) and it parses text without any: its
 * line numbers are then right, both in its own messages (syntax, unknown
 * key) and in config_validate, which converts each value as it is parsed.
 */
static int
config_file(gmq_config_t *cfg, const char *path, char *err, size_t errlen)
{
    cfg_opt_t opts[CONFIG_NKEYS + 1];
    struct config_sink sink = { path, err, errlen, 0, cfg };
    struct stat st;
    size_t n = 0, len = 0;
    char *text = NULL;
    cfg_t *c;
    FILE *fp;
    int rc = GMQ_OK;

    cfg->config_file = gmq_xstrdup(path);

    fp = fopen(path, "r");
    if (fp == NULL || fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        const char *why = fp != NULL ? "not a regular file"
                        : errno == ENOENT ? "no such file" : strerror(errno);
        config_err(err, errlen, "config file %s: %s", path, why);
        if (fp != NULL)
            fclose(fp);
        return GMQ_ERR;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        fclose(fp);
        config_err(err, errlen, "config file %s: larger than %ld bytes", path, CONFIG_FILE_MAX);
        return GMQ_ERR;
    }
    text = gmq_xmalloc((size_t) st.st_size + 1);
    len = fread(text, 1, (size_t) st.st_size, fp);
    if (ferror(fp) || memchr(text, '\0', len) != NULL) {
        config_err(err, errlen, "config file %s: %s", path,
                   ferror(fp) ? "cannot be read" : "not a text file (a NUL byte)");
        fclose(fp);
        free(text);
        return GMQ_ERR;
    }
    fclose(fp);
    text[len] = '\0';
    config_uncomment(text);

    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        if (config_keys[i].flags & CONFIG_F_FLAG)
            continue;
        opts[n++] = (cfg_opt_t) CFG_STR(config_keys[i].name, NULL, CFGF_NONE);
    }
    opts[n] = (cfg_opt_t) CFG_END();

    c = cfg_init(opts, CFGF_NONE);
    if (c == NULL) {
        free(text);
        config_err(err, errlen, "config file %s: out of memory", path);
        return GMQ_ERR;
    }
    cfg_set_error_function(c, config_errfunc);
    for (size_t i = 0; i < n; i++)
        cfg_set_validate_func(c, opts[i].name, config_validate);

    config_sink = &sink;
    if (cfg_parse_buf(c, text) != CFG_SUCCESS) {
        if (!sink.set)
            config_err(err, errlen, "config file %s: cannot be parsed", path);
        rc = GMQ_ERR;
    }
    config_sink = NULL;
    cfg_free(c);
    free(text);
    return rc;
}

/* libconfuse calls this for each value once it is parsed: convert and
 * store it now, so a bad value is reported with the line it is on */
static int
config_validate(cfg_t *c, cfg_opt_t *opt)
{
    struct config_sink *s = config_sink;
    const char *v = cfg_opt_getnstr(opt, 0);
    char msg[256];

    if (s == NULL || v == NULL)
        return 0;
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        const struct config_key *k = &config_keys[i];
        if (strcmp(k->name, opt->name) != 0)
            continue;
        if (config_set(s->cfg, k, v, msg, sizeof(msg)) == GMQ_OK)
            return 0;
        if (!s->set) {
            config_err(s->err, s->errlen, "config file %s line %d: %s", s->path, c->line, msg);
            s->set = 1;
        }
        return -1;
    }
    return 0;
}

/*
 * Blank the comments of libconfuse text in place, newlines kept: '#' and
 * '//' to the end of the line, C comments. Not inside '...' or "..." (with
 * backslash escapes) or ${...}, as in libconfuse's lexer.
 */
static void
config_uncomment(char *p)
{
    char quote = 0;

    for (; *p != '\0'; p++) {
        if (quote) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (p[0] == '$' && p[1] == '{' && strchr(p, '}') != NULL) {
            p = strchr(p, '}');
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            for (; p[1] != '\0' && p[1] != '\n'; p++)
                *p = ' ';
            *p = ' ';
        } else if (p[0] == '/' && p[1] == '*') {
            char *end = strstr(p + 2, "*/");
            char *stop = end != NULL ? end + 2 : p + strlen(p);
            for (; p < stop; p++)
                if (*p != '\n')
                    *p = ' ';
            p--;
        }
    }
}

/* Convert v for key k, check it and store it in cfg. */
static int
config_set(gmq_config_t *cfg, const struct config_key *k, const char *v,
           char *err, size_t errlen)
{
    void *field = (char *) cfg + k->off;
    char q[96], what[160];
    long n;
    int i;

    config_quote(v, q, sizeof(q));

    switch (k->type) {
    case CONFIG_INT:
    case CONFIG_ISIZE:
    case CONFIG_SIZE:
        if (config_number(k, v, &n) != GMQ_OK) {
            config_err(err, errlen, "%s: %s is not %s", k->name, q,
                       k->type == CONFIG_INT ? "an integer"
                       : "a size (a number with an optional K, M or G suffix)");
            return GMQ_ERR;
        }
        if (n < k->min || n > k->max) {
            config_range(k, what, sizeof(what));
            config_err(err, errlen, "%s: %s is out of range %s", k->name, q, what);
            return GMQ_ERR;
        }
        if (k->type == CONFIG_SIZE)
            *(long *) field = n;
        else
            *(int *) field = (int) n;
        return GMQ_OK;

    case CONFIG_BOOL:
        i = config_choice(config_bool_names, v);
        if (i < 0) {
            config_choices(config_bool_names, what, sizeof(what));
            config_err(err, errlen, "%s: %s must be one of %s", k->name, q, what);
            return GMQ_ERR;
        }
        *(int *) field = i % 2 == 0; /* even entries are the true words */
        return GMQ_OK;

    case CONFIG_ENUM:
    case CONFIG_STR:
        if (k->choices != NULL) {
            i = config_choice(k->choices, v);
            if (i < 0) {
                config_choices(k->choices, what, sizeof(what));
                config_err(err, errlen, "%s: %s must be one of %s", k->name, q, what);
                return GMQ_ERR;
            }
            if (k->type == CONFIG_ENUM) {
                *(int *) field = i;
                return GMQ_OK;
            }
        }
        if (v[0] == '\0' && !(k->flags & CONFIG_F_EMPTY)) {
            config_err(err, errlen, "%s: \"\" is not allowed, a value is required", k->name);
            return GMQ_ERR;
        }
        break;

    case CONFIG_ADDR:
        if (!(v[0] == '\0' && (k->flags & CONFIG_F_EMPTY)) && !config_addr_valid(v)) {
            config_err(err, errlen, "%s: %s must be host:port with port 1..65535"
                       " (\":port\" = all interfaces%s)", k->name, q,
                       k->flags & CONFIG_F_EMPTY ? ", \"\" = unset" : "");
            return GMQ_ERR;
        }
        break;
    }

    free(*(char **) field);
    *(char **) field = gmq_xstrdup(v);
    return GMQ_OK;
}

/* Checks that involve more than one key. */
static int
config_check(const gmq_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->tcp_tls || cfg->http_tls) {
        if (cfg->tls_cert_file[0] == '\0') {
            config_err(err, errlen, "tls_cert_file: \"\" is not allowed when tcp_tls"
                       " or http_tls is on, a PEM file is required");
            return GMQ_ERR;
        }
        if (cfg->tls_key_file[0] == '\0') {
            config_err(err, errlen, "tls_key_file: \"\" is not allowed when tcp_tls"
                       " or http_tls is on, a PEM file is required");
            return GMQ_ERR;
        }
    }
    /* it must fit an HTTP Authorization header and the TCP command line */
    size_t tl = strlen(cfg->auth_token);
    if (tl > GMQ_AUTH_TOKEN_MAX) {
        config_err(err, errlen, "auth_token: %zu characters is too long, at most %d are allowed",
                   tl, GMQ_AUTH_TOKEN_MAX);
        return GMQ_ERR;
    }
    for (size_t i = 0; i < tl; i++) {
        unsigned char ch = (unsigned char) cfg->auth_token[i];
        if (ch <= ' ' || ch >= 0x7f) {
            config_err(err, errlen, "auth_token: only printable ASCII without spaces is allowed");
            return GMQ_ERR;
        }
    }
    return GMQ_OK;
}

/* A decimal integer; for the size types an optional K, M or G (1024-based). */
static int
config_number(const struct config_key *k, const char *v, long *out)
{
    char *end;
    long n, mul = 1;

    if (!((v[0] >= '0' && v[0] <= '9') || (v[0] == '-' && v[1] >= '0' && v[1] <= '9')))
        return GMQ_ERR;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0)
        return GMQ_ERR;
    if (k->type != CONFIG_INT && *end != '\0' && end[1] == '\0') {
        switch (*end) {
        case 'k': case 'K': mul = KiB; end++; break;
        case 'm': case 'M': mul = MiB; end++; break;
        case 'g': case 'G': mul = GiB; end++; break;
        default: break;
        }
    }
    if (*end != '\0')
        return GMQ_ERR;
    if (n > LONG_MAX / mul || n < LONG_MIN / mul)
        return GMQ_ERR;
    *out = n * mul;
    return GMQ_OK;
}

static int
config_choice(const char *const *choices, const char *v)
{
    for (int i = 0; choices[i] != NULL; i++)
        if (strcasecmp(choices[i], v) == 0)
            return i;
    return -1;
}

/* "host:port", "[v6]:port" or ":port"; port 1..65535 */
static int
config_addr_valid(const char *v)
{
    char host[256], port[16];
    uint64_t n;
    const char *p;

    if (gmq_hostport_split(v, host, sizeof(host), port, sizeof(port)) != GMQ_OK ||
        gmq_parse_u64(port, strlen(port), 65535, &n) != GMQ_OK || n < 1)
        return 0;
    /* a name or IPv4 address, or (it was bracketed) an IPv6 address */
    int v6 = v[0] == '[';
    for (p = host; *p != '\0'; p++) {
        char ch = *p;
        if (v6 ? strchr("0123456789abcdefABCDEF:.", ch) == NULL
               : !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
            return 0;
    }
    return !v6 || host[0] != '\0';
}

static void
config_usage(FILE *out)
{
    fprintf(out, "usage: gmq-master [-config_file=PATH] [-name=value ...]\n"
                 "Every key of the config file is also a flag: -name=value, --name=value,\n"
                 "-name value or --name value. Flags override the file.\n\n");
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        const struct config_key *k = &config_keys[i];
        char flag[64], what[160], dflt[96];

        switch (k->type) {
        case CONFIG_INT:
            snprintf(flag, sizeof(flag), "-%s=N", k->name);
            break;
        case CONFIG_ISIZE:
        case CONFIG_SIZE:
            snprintf(flag, sizeof(flag), "-%s=BYTES", k->name);
            break;
        case CONFIG_BOOL:
            snprintf(flag, sizeof(flag), "-%s=on|off", k->name);
            break;
        case CONFIG_ADDR:
            snprintf(flag, sizeof(flag), "-%s=HOST:PORT", k->name);
            break;
        case CONFIG_ENUM:
        case CONFIG_STR:
            snprintf(flag, sizeof(flag), "-%s=%s", k->name, k->choices != NULL ? "X"
                     : (k->flags & CONFIG_F_FLAG) ? "PATH" : "STR");
            break;
        }
        config_range(k, what, sizeof(what));
        if (k->def == NULL)
            snprintf(dflt, sizeof(dflt), "none");
        else if (k->type == CONFIG_STR || k->type == CONFIG_ADDR)
            config_quote(k->def, dflt, sizeof(dflt));
        else
            snprintf(dflt, sizeof(dflt), "%s", k->def);
        fprintf(out, "  %-30s %s\n  %-30s %s%sdefault %s\n", flag, k->help, "",
                what, what[0] != '\0' ? "; " : "", dflt);
    }
    fprintf(out, "  %-30s %s\n  %-30s %s\n", "-h, --help", "print this list",
            "--version", "print the version");
}

/* "1..1023", "1M..1G", "one of always, everysec, no" or "" */
static void
config_range(const struct config_key *k, char *buf, size_t len)
{
    char lo[96], hi[32];

    switch (k->type) {
    case CONFIG_INT:
    case CONFIG_ISIZE:
    case CONFIG_SIZE:
        config_human(k->min, k->type != CONFIG_INT, lo, sizeof(lo));
        config_human(k->max, k->type != CONFIG_INT, hi, sizeof(hi));
        snprintf(buf, len, "%s..%s", lo, hi);
        break;
    case CONFIG_BOOL:
        snprintf(buf, len, "on or off");
        break;
    case CONFIG_ENUM:
    case CONFIG_STR:
        if (k->choices != NULL) {
            config_choices(k->choices, lo, sizeof(lo));
            snprintf(buf, len, "one of %s", lo);
        } else {
            snprintf(buf, len, "%s", "");
        }
        break;
    case CONFIG_ADDR:
        snprintf(buf, len, "%s", "");
        break;
    }
}

/* a size with the largest exact suffix: 1048576 -> "1M" */
static void
config_human(long n, int sized, char *buf, size_t len)
{
    if (sized && n != 0 && n % GiB == 0)
        snprintf(buf, len, "%ldG", n / GiB);
    else if (sized && n != 0 && n % MiB == 0)
        snprintf(buf, len, "%ldM", n / MiB);
    else if (sized && n != 0 && n % KiB == 0)
        snprintf(buf, len, "%ldK", n / KiB);
    else
        snprintf(buf, len, "%ld", n);
}

/* v in double quotes, shortened, control characters shown as '?' */
static void
config_quote(const char *v, char *buf, size_t len)
{
    size_t o = 0, max = len > 8 ? len - 6 : 0;

    if (len < 8) {
        if (len > 0)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (; *v != '\0' && o < max; v++)
        buf[o++] = (unsigned char) *v < 0x20 || *v == 0x7f ? '?' : *v;
    if (*v != '\0') {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

static void
config_choices(const char *const *choices, char *buf, size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; choices[i] != NULL && o < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s", i > 0 ? ", " : "", choices[i]);
        if (w < 0)
            break;
        o += (size_t) w;
    }
}

/* libconfuse's messages: keep the first, as one line naming file and line */
static void
config_errfunc(cfg_t *c, const char *fmt, va_list ap)
{
    struct config_sink *s = config_sink;
    char msg[256];

    if (s == NULL || s->set || s->err == NULL || s->errlen == 0)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    config_err(s->err, s->errlen, "config file %s line %d: %s", s->path, c->line, msg);
    s->set = 1;
}

static void
config_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* one line, whatever a flag or a path held (a newline in an argument) */
    for (char *p = err; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = '?';
}

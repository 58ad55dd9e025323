/*
 * gmqctl.c - the admin CLI: global flags, then one command from a dispatch
 * table (nodes, ping; later topics, stat, push, pop, ...). A table by default,
 * --json for scripts. Exit 0 ok, 1 failure (etcd or a node unreachable), 2 usage.
 */
#include "client/discovery.h"
#include "common/buf.h"
#include "common/gmq.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CTL_OK    0
#define CTL_FAIL  1
#define CTL_USAGE 2
#define CTL_DEFAULT_ETCD "127.0.0.1:2379"

typedef struct ctl_s {
    const char *etcd;       /* --etcd / GMQ_ETCD */
    const char *server;     /* --server / GMQ_SERVER: http base URL of one node */
    const char *cacert;
    long        timeout_ms;
    int         json;
    int         no_headers;
    int         argc;       /* command arguments after the command name */
    char      **argv;
} ctl_t;

typedef struct ctl_cmd_s {
    const char *name;
    int       (*run)(ctl_t *c);
    const char *args;
    const char *help;
} ctl_cmd_t;

/* one target of a per-node command */
typedef struct ctl_target_s {
    char node_id[16];
    char base[300];         /* http://host:port */
    char http_addr[256];
} ctl_target_t;

static int  ctl_nodes(ctl_t *c);
static int  ctl_ping(ctl_t *c);
static int  ctl_watch(ctl_t *c);
static void ctl_nodes_print(ctl_t *c, const gmq_discovery_node_t *nodes, size_t n);
static void ctl_usage(FILE *f, int full);
static void ctl_table(char ***rows, size_t nrows, size_t ncols, const int *right, int headers);
static int  ctl_targets(ctl_t *c, ctl_target_t **out, size_t *n);
static void ctl_json_str(gmq_buf_t *b, const char *s);

static const ctl_cmd_t ctl_cmds[] = {
    { "nodes", ctl_nodes, "", "list the nodes registered in etcd (id, tcp_addr, http_addr, weight, up since)" },
    { "ping",  ctl_ping,  "", "GET /ping on every node (or on --server) and show the round trip" },
    { "watch", ctl_watch, "", "print the node list again on every change (NDJSON with --json)" },
};

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "etcd", required_argument, NULL, 'e' },
        { "server", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "cacert", required_argument, NULL, 'c' },
        { "no-headers", no_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    ctl_t c;
    memset(&c, 0, sizeof(c));
    c.etcd = getenv("GMQ_ETCD");
    c.server = getenv("GMQ_SERVER");
    c.timeout_ms = 3000;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "e:s:jt:c:hV", opts, NULL)) != -1) {
        switch (o) {
        case 'e': c.etcd = optarg; break;
        case 's': c.server = optarg; break;
        case 'j': c.json = 1; break;
        case 'c': c.cacert = optarg; break;
        case 'H': c.no_headers = 1; break;
        case 't': {
            char *end;
            double s = strtod(optarg, &end);
            if (*end || s <= 0 || s > 3600) {
                fprintf(stderr, "gmqctl: --timeout %s: want seconds in (0, 3600]\n", optarg);
                ctl_usage(stderr, 0);
                return CTL_USAGE;
            }
            c.timeout_ms = (long) (s * 1000);
            break;
        }
        case 'h': ctl_usage(stdout, 1); return CTL_OK;
        case 'V': printf("gmqctl %s\n", GMQ_VERSION); return CTL_OK;
        default:
            fprintf(stderr, "gmqctl: unknown flag or missing value: '%s'\n", argv[optind - 1]);
            ctl_usage(stderr, 0);
            return CTL_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "gmqctl: no command given\n");
        ctl_usage(stderr, 0);
        return CTL_USAGE;
    }
    /* getopt_long permuted argv: the command and its arguments are left at the end,
     * so flags may come before or after the command (gmqctl nodes --json) */
    const char *name = argv[optind];
    c.argv = argv + optind + 1;
    c.argc = argc - optind - 1;

    for (size_t i = 0; i < GMQ_ARRAY_LEN(ctl_cmds); i++)
        if (strcmp(ctl_cmds[i].name, name) == 0) {
            curl_global_init(CURL_GLOBAL_DEFAULT);
            int rc = ctl_cmds[i].run(&c);
            curl_global_cleanup();
            return rc;
        }
    fprintf(stderr, "gmqctl: unknown command '%s'\n", name);
    ctl_usage(stderr, 0);
    return CTL_USAGE;
}

static void
ctl_usage(FILE *f, int full)
{
    fprintf(f, "usage: gmqctl [--etcd URL[,URL] | --server URL] [--json] [--timeout SEC] "
               "[--cacert FILE] [--no-headers] <command>\n");
    if (!full)
        return;
    fprintf(f, "\ncommands:\n");
    for (size_t i = 0; i < GMQ_ARRAY_LEN(ctl_cmds); i++)
        fprintf(f, "  %-8s %s\n", ctl_cmds[i].name, ctl_cmds[i].help);
    fprintf(f, "\nflags:\n"
               "  --etcd URL[,URL]  etcd endpoints, scheme optional (env GMQ_ETCD, default %s)\n"
               "  --server URL      one node's HTTP base URL, e.g. http://127.0.0.1:9504 (env GMQ_SERVER)\n"
               "  --json            JSON output for scripts\n"
               "  --timeout SEC     per request timeout (default 3)\n"
               "  --cacert FILE     CA bundle for https:// etcd endpoints or servers\n"
               "  --no-headers      table without the header row\n"
               "\nexit status: 0 ok, 1 failure (etcd or a node unreachable), 2 usage error\n",
            CTL_DEFAULT_ETCD);
}

static gmq_discovery_t *
ctl_discovery(ctl_t *c, int *rc)
{
    char err[512];
    gmq_discovery_t *d = gmq_discovery_new(c->etcd ? c->etcd : CTL_DEFAULT_ETCD, c->cacert,
                                           c->timeout_ms, err, sizeof(err));
    if (d == NULL) {
        fprintf(stderr, "gmqctl: --etcd: %s\n", err);
        *rc = CTL_USAGE;
        return NULL;
    }
    if (gmq_discovery_refresh(d, err, sizeof(err)) != GMQ_OK) {
        fprintf(stderr, "gmqctl: %s\n", err);
        gmq_discovery_free(d);
        *rc = CTL_FAIL;
        return NULL;
    }
    return d;
}

static int
ctl_nodes(ctl_t *c)
{
    int rc = CTL_OK;
    if (c->argc > 0) {
        fprintf(stderr, "gmqctl: nodes takes no arguments\n");
        ctl_usage(stderr, 0);
        return CTL_USAGE;
    }
    if (c->server && !c->etcd) {
        fprintf(stderr, "gmqctl: nodes lists etcd registrations; give --etcd URL[,URL]\n");
        ctl_usage(stderr, 0);
        return CTL_USAGE;
    }
    gmq_discovery_t *d = ctl_discovery(c, &rc);
    if (d == NULL)
        return rc;
    gmq_discovery_node_t *nodes;
    size_t n = gmq_discovery_nodes(d, &nodes);
    ctl_nodes_print(c, nodes, n);
    free(nodes);
    gmq_discovery_free(d);
    return CTL_OK;
}

static void
ctl_nodes_print(ctl_t *c, const gmq_discovery_node_t *nodes, size_t n)
{
    if (c->json) {
        gmq_buf_t b;
        gmq_buf_init(&b);
        gmq_buf_append_str(&b, "[");
        for (size_t i = 0; i < n; i++) {
            char w[16];
            snprintf(w, sizeof(w), "%d", nodes[i].weight);
            gmq_buf_append_str(&b, i ? ",{\"node_id\":" : "{\"node_id\":");
            ctl_json_str(&b, nodes[i].node_id);
            gmq_buf_append_str(&b, ",\"tcp_addr\":");
            ctl_json_str(&b, nodes[i].tcp_addr);
            gmq_buf_append_str(&b, ",\"http_addr\":");
            ctl_json_str(&b, nodes[i].http_addr);
            gmq_buf_append_str(&b, ",\"weight\":");
            ctl_json_str(&b, w);
            gmq_buf_append_str(&b, ",\"join_time\":");
            ctl_json_str(&b, nodes[i].join_time);
            gmq_buf_append_str(&b, ",\"started_at\":");
            ctl_json_str(&b, nodes[i].started_at);
            gmq_buf_append_str(&b, ",\"version\":");
            ctl_json_str(&b, nodes[i].version);
            gmq_buf_append_str(&b, "}");
        }
        gmq_buf_append_str(&b, "]\n");
        fwrite(gmq_buf_rptr(&b), 1, gmq_buf_used(&b), stdout);
        gmq_buf_free(&b);
    } else {
        static const int right[] = { 1, 0, 0, 1, 0 };
        char ***rows = gmq_xcalloc(n + 1, sizeof(char **));
        static char *head[] = { "ID", "TCP_ADDR", "HTTP_ADDR", "WEIGHT", "UP SINCE" };
        rows[0] = head;
        char (*w)[16] = gmq_xcalloc(n ? n : 1, 16);
        for (size_t i = 0; i < n; i++) {
            snprintf(w[i], 16, "%d", nodes[i].weight);
            rows[i + 1] = gmq_xcalloc(5, sizeof(char *));
            rows[i + 1][0] = (char *) nodes[i].node_id;
            rows[i + 1][1] = (char *) nodes[i].tcp_addr;
            rows[i + 1][2] = (char *) nodes[i].http_addr;
            rows[i + 1][3] = w[i];
            rows[i + 1][4] = (char *) nodes[i].join_time;
        }
        ctl_table(c->no_headers ? rows + 1 : rows, c->no_headers ? n : n + 1, 5, right,
                  !c->no_headers);
        for (size_t i = 0; i < n; i++)
            free(rows[i + 1]);
        free(rows);
        free(w);
    }
    fflush(stdout);
}

static int
ctl_watch(ctl_t *c)
{
    int rc = CTL_OK;
    if (c->argc > 0 || (c->server && !c->etcd)) {
        fprintf(stderr, "gmqctl: watch takes no arguments and needs --etcd\n");
        ctl_usage(stderr, 0);
        return CTL_USAGE;
    }
    gmq_discovery_t *d = ctl_discovery(c, &rc);
    if (d == NULL)
        return rc;
    uint64_t seen = gmq_discovery_version(d);
    gmq_discovery_node_t *nodes;
    size_t n = gmq_discovery_nodes(d, &nodes);
    ctl_nodes_print(c, nodes, n);
    free(nodes);
    gmq_discovery_watch_start(d);
    for (;;) {   /* until a signal ends the process */
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
        uint64_t v = gmq_discovery_version(d);
        if (v == seen)
            continue;
        seen = v;
        n = gmq_discovery_nodes(d, &nodes);
        if (!c->json)
            printf("\n");
        ctl_nodes_print(c, nodes, n);
        free(nodes);
    }
}

static size_t
ctl_sink(char *ptr, size_t size, size_t nmemb, void *userp)
{
    gmq_buf_t *b = userp;
    if (gmq_buf_used(b) < 4096)
        gmq_buf_append(b, ptr, size * nmemb);
    return size * nmemb;
}

static int
ctl_ping(ctl_t *c)
{
    if (c->argc > 0) {
        fprintf(stderr, "gmqctl: ping takes no arguments\n");
        ctl_usage(stderr, 0);
        return CTL_USAGE;
    }
    ctl_target_t *t;
    size_t n;
    int rc = ctl_targets(c, &t, &n);
    if (rc != CTL_OK)
        return rc;
    if (n == 0) {
        fprintf(stderr, "gmqctl: no node registered in etcd\n");
        free(t);
        return CTL_FAIL;
    }

    gmq_buf_t out;
    gmq_buf_init(&out);
    char ***rows = gmq_xcalloc(n + 1, sizeof(char **));
    static char *head[] = { "ID", "HTTP_ADDR", "STATUS", "TIME_MS" };
    rows[0] = head;
    char (*status)[CURL_ERROR_SIZE + 32] = gmq_xcalloc(n, CURL_ERROR_SIZE + 32);
    char (*ms)[16] = gmq_xcalloc(n, 16);
    int failed = 0;

    if (c->json)
        gmq_buf_append_str(&out, "[");
    for (size_t i = 0; i < n; i++) {
        char url[320], cerr[CURL_ERROR_SIZE] = "";
        gmq_buf_t body;
        gmq_buf_init(&body);
        snprintf(url, sizeof(url), "%s/ping", t[i].base);
        CURL *h = curl_easy_init();
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ctl_sink);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        if (c->cacert)
            curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
        struct timespec a, z;
        clock_gettime(CLOCK_MONOTONIC, &a);
        CURLcode res = curl_easy_perform(h);
        clock_gettime(CLOCK_MONOTONIC, &z);
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(h);
        gmq_buf_free(&body);
        double took = (double) (z.tv_sec - a.tv_sec) * 1e3 + (double) (z.tv_nsec - a.tv_nsec) / 1e6;
        int ok = res == CURLE_OK && code == 200;
        if (res != CURLE_OK)
            snprintf(status[i], CURL_ERROR_SIZE + 32, "%s", cerr[0] ? cerr : curl_easy_strerror(res));
        else if (code != 200)
            snprintf(status[i], CURL_ERROR_SIZE + 32, "HTTP %ld", code);
        else
            snprintf(status[i], CURL_ERROR_SIZE + 32, "ok");
        snprintf(ms[i], 16, "%.1f", took);
        failed |= !ok;

        if (c->json) {
            gmq_buf_append_str(&out, i ? ",{\"node_id\":" : "{\"node_id\":");
            ctl_json_str(&out, t[i].node_id);
            gmq_buf_append_str(&out, ",\"http_addr\":");
            ctl_json_str(&out, t[i].http_addr);
            gmq_buf_printf(&out, ",\"ok\":%s,\"ms\":%s,\"error\":", ok ? "true" : "false", ms[i]);
            ctl_json_str(&out, ok ? "" : status[i]);
            gmq_buf_append_str(&out, "}");
        }
        rows[i + 1] = gmq_xcalloc(4, sizeof(char *));
        rows[i + 1][0] = t[i].node_id;
        rows[i + 1][1] = t[i].http_addr;
        rows[i + 1][2] = status[i];
        rows[i + 1][3] = ms[i];
    }
    if (c->json) {
        gmq_buf_append_str(&out, "]\n");
        fwrite(gmq_buf_rptr(&out), 1, gmq_buf_used(&out), stdout);
    } else {
        static const int right[] = { 1, 0, 0, 1 };
        ctl_table(c->no_headers ? rows + 1 : rows, c->no_headers ? n : n + 1, 4, right,
                  !c->no_headers);
    }
    for (size_t i = 0; i < n; i++)
        free(rows[i + 1]);
    free(rows);
    free(status);
    free(ms);
    free(t);
    gmq_buf_free(&out);
    return failed ? CTL_FAIL : CTL_OK;
}

/* the nodes a per-node command talks to: --server, or every node in etcd */
static int
ctl_targets(ctl_t *c, ctl_target_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (c->server && !c->etcd) {
        ctl_target_t *t = gmq_xcalloc(1, sizeof(*t));
        const char *s = c->server;
        size_t len = strlen(s);
        while (len && s[len - 1] == '/')
            len--;
        int has_scheme = strstr(s, "://") != NULL;
        snprintf(t->base, sizeof(t->base), "%s%.*s", has_scheme ? "" : "http://", (int) len, s);
        snprintf(t->node_id, sizeof(t->node_id), "-");
        const char *h = strstr(t->base, "://") + 3;
        snprintf(t->http_addr, sizeof(t->http_addr), "%s", h);
        *out = t;
        *n = 1;
        return CTL_OK;
    }
    int rc = CTL_OK;
    gmq_discovery_t *d = ctl_discovery(c, &rc);
    if (d == NULL)
        return rc;
    gmq_discovery_node_t *nodes;
    size_t cnt = gmq_discovery_nodes(d, &nodes);
    ctl_target_t *t = gmq_xcalloc(cnt ? cnt : 1, sizeof(*t));
    for (size_t i = 0; i < cnt; i++) {
        snprintf(t[i].node_id, sizeof(t[i].node_id), "%s", nodes[i].node_id);
        snprintf(t[i].http_addr, sizeof(t[i].http_addr), "%s", nodes[i].http_addr);
        snprintf(t[i].base, sizeof(t[i].base), "%s%s",
                 strstr(nodes[i].http_addr, "://") ? "" : "http://", nodes[i].http_addr);
    }
    free(nodes);
    gmq_discovery_free(d);
    *out = t;
    *n = cnt;
    return CTL_OK;
}

/* aligned columns, two spaces apart; right[i] right-aligns column i (numbers) */
static void
ctl_table(char ***rows, size_t nrows, size_t ncols, const int *right, int headers GMQ_UNUSED)
{
    size_t width[16] = { 0 };
    for (size_t r = 0; r < nrows; r++)
        for (size_t k = 0; k < ncols && k < 16; k++) {
            size_t l = strlen(rows[r][k]);
            if (l > width[k])
                width[k] = l;
        }
    for (size_t r = 0; r < nrows; r++) {
        for (size_t k = 0; k < ncols && k < 16; k++) {
            int last = k + 1 == ncols;
            int rj = right[k];
            if (rj)
                printf("%*s", (int) width[k], rows[r][k]);
            else if (last)
                printf("%s", rows[r][k]);
            else
                printf("%-*s", (int) width[k], rows[r][k]);
            if (!last)
                printf("  ");
        }
        printf("\n");
    }
}

static void
ctl_json_str(gmq_buf_t *b, const char *s)
{
    gmq_buf_json_str(b, s, strlen(s));
}

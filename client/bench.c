/*
 * bench.c - gmq-bench, a load generator in the manner of redis-benchmark:
 * the options, the run (client/bench_run.c) with the driver of the server
 * it speaks to (gmq through libgmq, beanstalkd, Redis), and the results as
 * a table or as one JSON object (yajl_gen): messages, seconds, rate and
 * latency percentiles per phase, errors.
 */
#include "client/bench.h"
#include "common/net.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

/* long options without a short form */
enum { OPT_ADDR = 256, OPT_TOPICS, OPT_TOPIC, OPT_QUEUE, OPT_PEER, OPT_TLS, OPT_CACERT, OPT_CERT,
       OPT_KEY, OPT_TOKEN, OPT_JSON, OPT_HELP };

static const char *const bench_workloads[] = { "push", "popack", "drain", "mixed" };
static const char *const bench_peers[] = { "gmq", "beanstalkd", "redis" };
static const gmq_bench_driver_t *const bench_drivers[] = { &gmq_bench_gmq, &gmq_bench_beanstalkd,
                                                           &gmq_bench_redis };

static int  bench_options(int argc, char **argv, gmq_bench_opts_t *o);
static int  bench_number(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
static int  bench_word(const char *opt, const char *s, const char *const *words, int n);
static int  bench_bad(const char *fmt, ...) GMQ_PRINTF(1, 2);
static void bench_usage(FILE *f);
static void bench_text(const gmq_bench_t *b);
static void bench_json(const gmq_bench_t *b);
static const gmq_bench_phase_t *bench_phase(const gmq_bench_t *b, int i);
static double bench_seconds(const gmq_bench_phase_t *ph);

int
main(int argc, char **argv)
{
    gmq_bench_opts_t o;
    int rc = bench_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    /* a peer that closes its end must not kill the run before it is reported */
    signal(SIGPIPE, SIG_IGN);

    gmq_bench_t b;
    memset(&b, 0, sizeof(b));
    b.o = &o;
    b.drv = bench_drivers[o.peer];
    b.loop = EV_DEFAULT;
    int ok = gmq_bench_run(&b) == GMQ_OK;
    if (o.json)
        bench_json(&b);
    else
        bench_text(&b);
    if (!ok)
        fprintf(stderr, "gmq-bench: %s\n", b.why);
    long errors = b.push.errors + b.popack.errors;
    gmq_bench_free(&b);
    return ok && errors == 0 ? 0 : 1;
}

/* ---- options ---- */

/* -1: run with o; else the exit status (0 after --help, 2 on a bad option) */
static int
bench_options(int argc, char **argv, gmq_bench_opts_t *o)
{
    static const struct option longopts[] = {
        { "addr", required_argument, NULL, OPT_ADDR },   { "conns", required_argument, NULL, 'c' },
        { "messages", required_argument, NULL, 'n' },    { "size", required_argument, NULL, 'd' },
        { "pipeline", required_argument, NULL, 'P' },    { "workload", required_argument, NULL, 't' },
        { "topics", required_argument, NULL, OPT_TOPICS }, { "topic", required_argument, NULL, OPT_TOPIC },
        { "queue", required_argument, NULL, OPT_QUEUE }, { "peer", required_argument, NULL, OPT_PEER },
        { "tls", no_argument, NULL, OPT_TLS },           { "cacert", required_argument, NULL, OPT_CACERT },
        { "cert", required_argument, NULL, OPT_CERT },   { "key", required_argument, NULL, OPT_KEY },
        { "token", required_argument, NULL, OPT_TOKEN }, { "json", no_argument, NULL, OPT_JSON },
        { "help", no_argument, NULL, OPT_HELP },         { NULL, 0, NULL, 0 }
    };
    const char *host = NULL, *port = NULL, *addr = NULL;
    uint64_t v;
    int opt, gmq_only = 0;
    memset(o, 0, sizeof(*o));
    o->peer = GMQ_BENCH_GMQ;
    o->workload = GMQ_BENCH_DRAIN;
    o->conns = 50;
    o->pipeline = 1;
    o->topics = 1;
    o->messages = 100000;
    o->size = 100;
    o->topic = "bench";
    o->queue = "q";
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h:p:c:n:d:P:t:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case OPT_ADDR: addr = optarg; break;
        case 'c':
            if (bench_number("-c", optarg, 1, GMQ_BENCH_MAX_CONNS, &v) != 0)
                return 2;
            o->conns = (int) v;
            break;
        case 'n':
            if (bench_number("-n", optarg, 1, 100000000, &v) != 0)
                return 2;
            o->messages = (long) v;
            break;
        case 'd':
            if (bench_number("-d", optarg, 0, GMQ_BENCH_MAX_SIZE, &v) != 0)
                return 2;
            o->size = (size_t) v;
            break;
        case 'P':
            if (bench_number("-P", optarg, 1, GMQ_BENCH_MAX_PIPE, &v) != 0)
                return 2;
            o->pipeline = (int) v;
            break;
        case OPT_TOPICS:
            if (bench_number("--topics", optarg, 1, GMQ_BENCH_MAX_TOPICS, &v) != 0)
                return 2;
            o->topics = (int) v;
            break;
        case 't':
            o->workload = (gmq_bench_workload_t) bench_word("-t", optarg, bench_workloads, 4);
            if ((int) o->workload < 0)
                return 2;
            break;
        case OPT_PEER:
            o->peer = (gmq_bench_peer_t) bench_word("--peer", optarg, bench_peers, 3);
            if ((int) o->peer < 0)
                return 2;
            break;
        case OPT_TOPIC: o->topic = optarg; break;
        case OPT_QUEUE: o->queue = optarg; break;
        case OPT_TLS: o->tls = 1; gmq_only = 1; break;
        case OPT_CACERT: o->cacert = optarg; gmq_only = 1; break;
        case OPT_CERT: o->cert = optarg; gmq_only = 1; break;
        case OPT_KEY: o->key = optarg; gmq_only = 1; break;
        case OPT_TOKEN: o->token = optarg; gmq_only = 1; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_HELP: bench_usage(stdout); return 0;
        case ':': return bench_bad("%s needs a value", argv[optind - 1]);
        default: return bench_bad("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return bench_bad("unexpected argument %s", argv[optind]);
    if (gmq_only && o->peer != GMQ_BENCH_GMQ)
        return bench_bad("--tls, --cacert, --cert, --key and --token are for --peer gmq");
    if ((o->cacert || o->cert || o->key) && !o->tls)
        return bench_bad("--cacert, --cert and --key need --tls");
    if (!gmq_name_valid(o->topic, strlen(o->topic)) || strlen(o->topic) > GMQ_BENCH_NAME_MAX - 5)
        return bench_bad("--topic: 1 to %d of A-Z a-z 0-9 _ . -", GMQ_BENCH_NAME_MAX - 5);
    if (!gmq_name_valid(o->queue, strlen(o->queue)))
        return bench_bad("--queue: 1 to %d of A-Z a-z 0-9 _ . -", GMQ_BENCH_NAME_MAX);
    if (o->conns < o->topics * (o->workload == GMQ_BENCH_MIXED ? 2 : 1))
        return bench_bad("-c: at least %s connection%s per topic", o->workload == GMQ_BENCH_MIXED
                         ? "two (a producer and a consumer)" : "one", o->workload == GMQ_BENCH_MIXED ? "s" : "");

    const char *defport = bench_drivers[o->peer]->default_port;
    if (addr != NULL && (host != NULL || port != NULL))
        return bench_bad("--addr or -h/-p, not both");
    if (addr == NULL) {
        host = host ? host : "127.0.0.1";
        int v6 = strchr(host, ':') != NULL && host[0] != '[';
        snprintf(o->addr, sizeof(o->addr), "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
                 port ? port : defport);
    } else {
        snprintf(o->addr, sizeof(o->addr), "%s", addr);
    }
    char h[256], p[32];
    if (gmq_hostport_split(o->addr, h, sizeof(h), p, sizeof(p)) != GMQ_OK || h[0] == '\0' ||
        gmq_parse_u64(p, strlen(p), 65535, &v) != GMQ_OK || v == 0)
        return bench_bad("bad address %s: use host:port (or -h HOST -p PORT)", o->addr);
    return -1;
}

static int
bench_number(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (gmq_parse_u64(s, strlen(s), max, out) != GMQ_OK || *out < min) {
        bench_bad("%s: \"%s\" is not a number in %llu..%llu", opt, s, (unsigned long long) min,
                  (unsigned long long) max);
        return -1;
    }
    return 0;
}

/* the index of s in words, or -1 (after the usage) */
static int
bench_word(const char *opt, const char *s, const char *const *words, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, words[i]) == 0)
            return i;
    char list[128] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", words[i]);
    bench_bad("%s: \"%s\" is not one of %s", opt, s, list);
    return -1;
}

/* a bad option: says why, then the usage; returns the exit status 2 */
static int
bench_bad(const char *fmt, ...)
{
    va_list ap;
    fputs("gmq-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    bench_usage(stderr);
    return 2;
}

static void
bench_usage(FILE *f)
{
    fputs("usage: gmq-bench [options]\n"
          "  -h HOST, -p PORT  server (default 127.0.0.1 and 9503; beanstalkd 11300, redis 6379)\n"
          "  --addr HOST:PORT  the same in one option\n"
          "  --peer gmq|beanstalkd|redis  protocol to speak (default gmq)\n"
          "  -t, --workload W  push: push N; popack: pop and ack N (pushed before);\n"
          "                    drain: push N, then pop+ack N; mixed: half the connections\n"
          "                    push N while the other half pop+ack N (default drain)\n"
          "  -c, --conns N     connections, all on one event loop (default 50)\n"
          "  -n, --messages N  messages in total (default 100000)\n"
          "  -d, --size BYTES  body size (default 100)\n"
          "  -P, --pipeline N  messages in flight per connection (default 1)\n"
          "  --topics N        spread over N topics, a queue each (default 1)\n"
          "  --topic NAME      the topic, or topics NAME.0 .. NAME.N-1 (default bench)\n"
          "  --queue NAME      the queue: gmq bind key; tube / Redis list <topic>_<queue> (default q)\n"
          "  --tls             gmq: TLS (the node's tcp_tls = on)\n"
          "  --cacert FILE     gmq: CA to verify the node (default: the system's)\n"
          "  --cert FILE, --key FILE  gmq: client certificate and key\n"
          "  --token TOKEN     gmq: auth_token\n"
          "  --json            one JSON object instead of the table\n"
          "  --help            this text\n"
          "Latency is per message: a push until its answer, a pop until its ack's answer.\n"
          "Exit status: 0, 1 on an error answer, a lost connection or a stall (no answer\n"
          "for 30 s), 2 on a bad option.\n", f);
}

/* ---- output ---- */

/* the phases the workload has: push, popack, or both */
static const gmq_bench_phase_t *
bench_phase(const gmq_bench_t *b, int i)
{
    gmq_bench_workload_t w = b->o->workload;
    if (i == 0 && w != GMQ_BENCH_POPACK)
        return &b->push;
    if ((i == 0 && w == GMQ_BENCH_POPACK) || (i == 1 && (w == GMQ_BENCH_DRAIN || w == GMQ_BENCH_MIXED)))
        return &b->popack;
    return NULL;
}

static double
bench_seconds(const gmq_bench_phase_t *ph)
{
    if (ph->t0 == 0)
        return 0;
    uint64_t end = ph->t1 ? ph->t1 : gmq_bench_now();
    return (double) (end - ph->t0) / 1e9;
}

static void
bench_text(const gmq_bench_t *b)
{
    const gmq_bench_opts_t *o = b->o;
    if (b->push.name == NULL && b->popack.name == NULL)
        return;      /* failed before the first phase: the error says it all */
    printf("%s at %s%s: %s, %ld messages of %zu bytes, %d connections, pipeline %d, %d topic%s\n",
           bench_peers[o->peer], o->addr, o->tls ? " (TLS)" : "", bench_workloads[o->workload],
           o->messages, o->size, o->conns, o->pipeline, o->topics, o->topics > 1 ? "s" : "");
    printf("%-8s %10s %9s %10s %9s %9s %9s %9s %7s\n", "phase", "messages", "seconds", "msgs/s",
           "p50 us", "p99 us", "p99.9 us", "max us", "errors");
    for (int i = 0; i < 2; i++) {
        const gmq_bench_phase_t *ph = bench_phase(b, i);
        if (ph == NULL || ph->name == NULL)
            continue;
        double s = bench_seconds(ph);
        printf("%-8s %10ld %9.3f %10.0f %9.1f %9.1f %9.1f %9.1f %7ld\n",
               ph == &b->push ? "push" : "pop+ack", ph->ok, s, s > 0 ? (double) ph->ok / s : 0,
               gmq_bench_pct(ph, 0.50), gmq_bench_pct(ph, 0.99), gmq_bench_pct(ph, 0.999),
               gmq_bench_pct(ph, 1.0), ph->errors);
    }
}

#define JSON_STR(g, s)   yajl_gen_string(g, (const unsigned char *) (s), strlen(s))
#define JSON_INT(g, k, v) (JSON_STR(g, k), yajl_gen_integer(g, (long long) (v)))

static void
bench_json_num(yajl_gen g, const char *key, const char *fmt, double v)
{
    char num[64];
    int n = snprintf(num, sizeof(num), fmt, v);
    JSON_STR(g, key);
    yajl_gen_number(g, num, (size_t) n);
}

static void
bench_json(const gmq_bench_t *b)
{
    const gmq_bench_opts_t *o = b->o;
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    JSON_STR(g, "system");
    JSON_STR(g, bench_peers[o->peer]);
    JSON_STR(g, "addr");
    JSON_STR(g, o->addr);
    JSON_STR(g, "workload");
    JSON_STR(g, bench_workloads[o->workload]);
    JSON_STR(g, "tls");
    yajl_gen_bool(g, o->tls);
    JSON_INT(g, "connections", o->conns);
    JSON_INT(g, "pipeline", o->pipeline);
    JSON_INT(g, "size", o->size);
    JSON_INT(g, "topics", o->topics);
    JSON_INT(g, "messages", o->messages);
    JSON_INT(g, "pushed", b->pushed);
    JSON_INT(g, "popped", b->popped);
    JSON_INT(g, "acked", b->acked);
    JSON_INT(g, "errors", b->push.errors + b->popack.errors);
    JSON_STR(g, "phases");
    yajl_gen_array_open(g);
    for (int i = 0; i < 2; i++) {
        const gmq_bench_phase_t *ph = bench_phase(b, i);
        if (ph == NULL || ph->name == NULL)
            continue;
        double s = bench_seconds(ph);
        yajl_gen_map_open(g);
        JSON_STR(g, "phase");
        JSON_STR(g, ph->name);
        JSON_INT(g, "messages", ph->ok);
        JSON_INT(g, "errors", ph->errors);
        bench_json_num(g, "seconds", "%.6f", s);
        bench_json_num(g, "rate", "%.1f", s > 0 ? (double) ph->ok / s : 0);
        bench_json_num(g, "p50_us", "%.1f", gmq_bench_pct(ph, 0.50));
        bench_json_num(g, "p99_us", "%.1f", gmq_bench_pct(ph, 0.99));
        bench_json_num(g, "p999_us", "%.1f", gmq_bench_pct(ph, 0.999));
        bench_json_num(g, "max_us", "%.1f", gmq_bench_pct(ph, 1.0));
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    if (b->fatal) {
        JSON_STR(g, "error");
        JSON_STR(g, b->why);
    }
    yajl_gen_map_close(g);
    const unsigned char *out;
    size_t len;
    yajl_gen_get_buf(g, &out, &len);
    printf("%.*s\n", (int) len, (const char *) out);
    yajl_gen_free(g);
}

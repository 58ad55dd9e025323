/*
 * bench.c - gmq-bench, a load generator: pipelined push and pop+ack over the
 * gmq TCP protocol (or the same workload over beanstalkd's text protocol with
 * --peer beanstalkd), one thread and one connection each, printing throughput
 * and per-command latency percentiles. Plain POSIX sockets; gmq requests and
 * reply frames go through the protocol codec (proto/tcp.h).
 */
#include "common/buf.h"
#include "common/net.h"
#include "proto/tcp.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_STALL_MS    30000      /* no reply for this long: the run is stalled */
#define BENCH_MAX_ERRSHOW 5          /* error replies printed to stderr */
#define BENCH_POP_WAIT_S  5
#define BENCH_MAX_FRAME   (512u << 20)  /* a longer reply frame is a protocol error */
#define BENCH_LINE_MAX    1024       /* longest command line sent */
#define BENCH_READ_CHUNK  65536

enum { OP_PUSH, OP_POP, OP_ACK };
enum { MODE_PUSH = 1, MODE_POPACK = 2, MODE_BOTH = 3 };
enum { PEER_GMQ, PEER_BEANSTALKD };
enum { REP_AGAIN, REP_OK, REP_MSG, REP_ERR, REP_SKIP, REP_BAD };

typedef struct {
    int      kind;               /* REP_* */
    uint64_t id;                 /* REP_MSG: message / job id */
    char     text[160];          /* REP_ERR: the error text */
} bench_reply_t;

typedef struct {
    int      op;
    uint64_t t0;                 /* ns, CLOCK_MONOTONIC, when the command was queued */
} bench_cmd_t;

typedef struct bench_opts_s {
    const char *addr, *topic, *bind_key;
    char        host[256], port[32];
    int         conns, pipeline, mode, peer, json;
    long        messages, size;
} bench_opts_t;

typedef struct {
    int                 fd;
    const bench_opts_t *o;
    gmq_buf_t           in, out;
    bench_cmd_t        *fifo;    /* commands in flight, ring of o->pipeline */
    int                 head, count;
    uint64_t           *acks;    /* ids waiting to be acknowledged, ring */
    int                 ahead, acount;
    int                 phase;   /* OP_PUSH or OP_POP: what this phase sends */
    long                quota, sent, done;
    uint64_t           *lat;     /* ns per command of the current phase */
    long                nlat, latcap;
    long                errors;
    int                 fatal;   /* protocol error, stall or closed connection */
    char                why[200];
} bench_conn_t;

typedef struct {
    long     messages, ops, errors;
    double   seconds;
    double   p50, p99, p999, max; /* microseconds */
} bench_result_t;

static const char *bench_body;
static pthread_mutex_t bench_errlock = PTHREAD_MUTEX_INITIALIZER;
static int bench_errshown;

static uint64_t bench_now(void);
static void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static int bench_connect(const bench_opts_t *o);
static int bench_setup(bench_conn_t *c);
static void *bench_run_conn(void *arg);
static void bench_run_phase(bench_conn_t *cs, const bench_opts_t *o, int op, bench_result_t *res);
static void bench_encode(bench_conn_t *c, int op, uint64_t id);
static int bench_parse(bench_conn_t *c, bench_reply_t *rep);
static void bench_print(const char *name, const bench_result_t *r, int json);
static void bench_usage(FILE *f);

int
main(int argc, char **argv)
{
    bench_opts_t o = { .topic = "bench", .bind_key = "q",
                       .conns = 4, .pipeline = 32, .mode = MODE_BOTH, .peer = PEER_GMQ,
                       .messages = 100000, .size = 1024 };
    static const struct option longopts[] = {
        { "addr", required_argument, NULL, 'a' },     { "topic", required_argument, NULL, 't' },
        { "bind-key", required_argument, NULL, 'b' }, { "conns", required_argument, NULL, 'c' },
        { "messages", required_argument, NULL, 'n' }, { "size", required_argument, NULL, 's' },
        { "pipeline", required_argument, NULL, 'p' }, { "mode", required_argument, NULL, 'm' },
        { "peer", required_argument, NULL, 'P' },     { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 }
    };
    char *addr = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "a:t:b:c:n:s:p:m:P:jh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 't': o.topic = optarg; break;
        case 'b': o.bind_key = optarg; break;
        case 'c': o.conns = atoi(optarg); break;
        case 'n': o.messages = atol(optarg); break;
        case 's': o.size = atol(optarg); break;
        case 'p': o.pipeline = atoi(optarg); break;
        case 'j': o.json = 1; break;
        case 'm':
            o.mode = strcmp(optarg, "push") == 0 ? MODE_PUSH : strcmp(optarg, "popack") == 0 ? MODE_POPACK
                   : strcmp(optarg, "both") == 0 ? MODE_BOTH : 0;
            if (o.mode == 0)
                bench_die("--mode must be push, popack or both");
            break;
        case 'P':
            if (strcmp(optarg, "gmq") == 0)
                o.peer = PEER_GMQ;
            else if (strcmp(optarg, "beanstalkd") == 0)
                o.peer = PEER_BEANSTALKD;
            else
                bench_die("--peer must be gmq or beanstalkd");
            break;
        case 'h': bench_usage(stdout); return 0;
        default: bench_usage(stderr); return 2;
        }
    }
    if (optind != argc || o.conns < 1 || o.conns > 1024 || o.pipeline < 1 || o.pipeline > 100000 ||
        o.messages < 1 || o.size < 0 || o.size > (256L << 20)) {
        bench_usage(stderr);
        return 2;
    }
    if (o.conns > o.messages)
        o.conns = (int) o.messages;
    if (addr == NULL)
        addr = o.peer == PEER_GMQ ? "127.0.0.1:9503" : "127.0.0.1:11300";
    if (gmq_hostport_split(addr, o.host, sizeof(o.host), o.port, sizeof(o.port)) != GMQ_OK ||
        o.host[0] == '\0')
        bench_die("--addr must be host:port");
    o.addr = addr;
    /* the longest line: ack <id> <topic> <bind_key> */
    if (strlen(o.topic) + strlen(o.bind_key) + 32 >= BENCH_LINE_MAX)
        bench_die("command line too long");

    char *body = malloc((size_t) o.size + 1);
    if (body == NULL)
        bench_die("out of memory");
    memset(body, 'x', (size_t) o.size);
    body[o.size] = '\0';
    bench_body = body;

    bench_conn_t *cs = calloc((size_t) o.conns, sizeof(*cs));
    if (cs == NULL)
        bench_die("out of memory");
    for (int i = 0; i < o.conns; i++) {
        cs[i].o = &o;
        cs[i].fd = bench_connect(&o);
        cs[i].fifo = calloc((size_t) o.pipeline, sizeof(bench_cmd_t));
        cs[i].acks = calloc((size_t) o.pipeline, sizeof(uint64_t));
        if (cs[i].fifo == NULL || cs[i].acks == NULL)
            bench_die("out of memory");
        if (bench_setup(&cs[i]) != 0)
            bench_die("setup on connection %d failed: %s", i, cs[i].why);
    }

    bench_result_t push = { 0 }, popack = { 0 };
    if (o.mode & MODE_PUSH)
        bench_run_phase(cs, &o, OP_PUSH, &push);
    if (o.mode & MODE_POPACK)
        bench_run_phase(cs, &o, OP_POP, &popack);

    const char *sys = o.peer == PEER_GMQ ? "gmq" : "beanstalkd";
    if (o.json) {
        printf("{\"system\":\"%s\",\"addr\":\"%s\",\"conns\":%d,\"pipeline\":%d,\"size\":%ld,"
               "\"messages\":%ld", sys, o.addr, o.conns, o.pipeline, o.size, o.messages);
        if (o.mode & MODE_PUSH)
            bench_print("push", &push, 1);
        if (o.mode & MODE_POPACK)
            bench_print("popack", &popack, 1);
        printf(",\"errors\":%ld}\n", push.errors + popack.errors);
    } else {
        printf("%s at %s: %d conns, pipeline %d, %ld-byte bodies\n", sys, o.addr, o.conns,
               o.pipeline, o.size);
        printf("%-8s %10s %9s %11s %9s %9s %9s %9s %7s\n", "phase", "messages", "seconds", "msgs/s",
               "p50 us", "p99 us", "p99.9 us", "max us", "errors");
        if (o.mode & MODE_PUSH)
            bench_print("push", &push, 0);
        if (o.mode & MODE_POPACK)
            bench_print("pop+ack", &popack, 0);
    }
    int fatal = 0;
    for (int i = 0; i < o.conns; i++) {
        if (cs[i].fatal) {
            fprintf(stderr, "gmq-bench: connection %d: %s\n", i, cs[i].why);
            fatal = 1;
        }
        close(cs[i].fd);
        gmq_buf_free(&cs[i].in);
        gmq_buf_free(&cs[i].out);
        free(cs[i].fifo);
        free(cs[i].acks);
        free(cs[i].lat);
    }
    free(cs);
    free(body);
    return fatal || push.errors + popack.errors > 0 ? 1 : 0;
}

/* ---- one phase: a thread per connection, then merged percentiles ---- */

static int
bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static double
bench_pct(const uint64_t *v, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long) (p * (double) n + 0.5) - 1;
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return (double) v[i] / 1000.0;
}

static void
bench_run_phase(bench_conn_t *cs, const bench_opts_t *o, int op, bench_result_t *res)
{
    pthread_t *th = calloc((size_t) o->conns, sizeof(pthread_t));
    if (th == NULL)
        bench_die("out of memory");
    for (int i = 0; i < o->conns; i++) {
        bench_conn_t *c = &cs[i];
        c->quota = o->messages / o->conns + (i < o->messages % o->conns);
        c->sent = c->done = 0;
        c->head = c->count = c->ahead = c->acount = 0;
        c->errors = 0;
        c->nlat = 0;
        c->latcap = c->quota * (op == OP_POP ? 2 : 1);
        free(c->lat);
        c->lat = malloc((size_t) c->latcap * sizeof(uint64_t));
        if (c->lat == NULL)
            bench_die("out of memory");
    }
    uint64_t t0 = bench_now();
    for (int i = 0; i < o->conns; i++) {
        cs[i].phase = op;
        if (pthread_create(&th[i], NULL, bench_run_conn, &cs[i]) != 0)
            bench_die("pthread_create failed");
    }
    for (int i = 0; i < o->conns; i++)
        pthread_join(th[i], NULL);
    uint64_t t1 = bench_now();
    free(th);

    long n = 0;
    for (int i = 0; i < o->conns; i++)
        n += cs[i].nlat;
    uint64_t *all = malloc((size_t) (n ? n : 1) * sizeof(uint64_t));
    if (all == NULL)
        bench_die("out of memory");
    long k = 0;
    memset(res, 0, sizeof(*res));
    for (int i = 0; i < o->conns; i++) {
        memcpy(all + k, cs[i].lat, (size_t) cs[i].nlat * sizeof(uint64_t));
        k += cs[i].nlat;
        res->messages += cs[i].done;
        res->errors += cs[i].errors + (cs[i].fatal ? 1 : 0);
    }
    qsort(all, (size_t) n, sizeof(uint64_t), bench_cmp_u64);
    res->ops = n;
    res->seconds = (double) (t1 - t0) / 1e9;
    res->p50 = bench_pct(all, n, 0.50);
    res->p99 = bench_pct(all, n, 0.99);
    res->p999 = bench_pct(all, n, 0.999);
    res->max = n ? (double) all[n - 1] / 1000.0 : 0;
    free(all);
}

static void
bench_print(const char *name, const bench_result_t *r, int json)
{
    double rate = r->seconds > 0 ? (double) r->messages / r->seconds : 0;
    if (json)
        printf(",\"%s\":{\"messages\":%ld,\"ops\":%ld,\"seconds\":%.3f,\"msgs_per_s\":%.0f,"
               "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"errors\":%ld}",
               name, r->messages, r->ops, r->seconds, rate, r->p50, r->p99, r->p999, r->max, r->errors);
    else
        printf("%-8s %10ld %9.3f %11.0f %9.1f %9.1f %9.1f %9.1f %7ld\n", name, r->messages, r->seconds,
               rate, r->p50, r->p99, r->p999, r->max, r->errors);
}

/* ---- one connection's loop: keep `pipeline` commands in flight ---- */

static void
bench_fail(bench_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    c->fatal = 1;
}

static void
bench_error_reply(bench_conn_t *c, const bench_cmd_t *cmd, const char *text)
{
    static const char *names[] = { "push", "pop", "ack" };
    c->errors++;
    pthread_mutex_lock(&bench_errlock);
    if (bench_errshown++ < BENCH_MAX_ERRSHOW)
        fprintf(stderr, "gmq-bench: %s answered: %s\n", names[cmd->op], text);
    pthread_mutex_unlock(&bench_errlock);
}

/* queues the next commands: acks first (they finish messages), then new pushes or pops */
static void
bench_fill(bench_conn_t *c, int phase)
{
    const bench_opts_t *o = c->o;
    uint64_t now = bench_now();
    while (c->count < o->pipeline) {
        int op;
        uint64_t id = 0;
        if (c->acount > 0) {
            op = OP_ACK;
            id = c->acks[c->ahead];
            c->ahead = (c->ahead + 1) % o->pipeline;
            c->acount--;
        } else if (c->sent < c->quota) {
            op = phase;
            c->sent++;
        } else {
            break;
        }
        bench_encode(c, op, id);
        bench_cmd_t *slot = &c->fifo[(c->head + c->count) % o->pipeline];
        slot->op = op;
        slot->t0 = now;
        c->count++;
    }
}

static int
bench_flush(bench_conn_t *c)
{
    while (gmq_buf_used(&c->out) > 0) {
        ssize_t n = send(c->fd, gmq_buf_rptr(&c->out), gmq_buf_used(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            bench_fail(c, "send: %s", strerror(errno));
            return -1;
        }
        gmq_buf_consume(&c->out, (size_t) n);
    }
    return 0;
}

/* reads what is there; 0 read something, 1 nothing yet, -1 closed or failed */
static int
bench_read(bench_conn_t *c)
{
    gmq_buf_t *b = &c->in;
    char *p = gmq_buf_reserve(b, BENCH_READ_CHUNK);
    ssize_t n = recv(c->fd, p, b->cap - b->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 1;
    if (n < 0) {
        bench_fail(c, "recv: %s", strerror(errno));
        return -1;
    }
    if (n == 0) {
        bench_fail(c, "the server closed the connection (%d commands in flight)", c->count);
        return -1;
    }
    b->len += (size_t) n;
    return 0;
}

static void *
bench_run_conn(void *arg)
{
    bench_conn_t *c = arg;
    const bench_opts_t *o = c->o;
    int phase = c->phase;
    uint64_t last = bench_now();
    while (c->done < c->quota && !c->fatal) {
        bench_fill(c, phase);
        if (bench_flush(c) != 0)
            break;
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN | (gmq_buf_used(&c->out) ? POLLOUT : 0) };
        int pr = poll(&pfd, 1, 1000);
        if (pr < 0 && errno != EINTR) {
            bench_fail(c, "poll: %s", strerror(errno));
            break;
        }
        if (pr <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
            if (bench_now() - last > (uint64_t) BENCH_STALL_MS * 1000000) {
                bench_fail(c, "stalled: no reply for %d s with %d commands in flight (%ld of %ld done)",
                           BENCH_STALL_MS / 1000, c->count, c->done, c->quota);
                break;
            }
            continue;
        }
        if (bench_read(c) < 0)
            break;
        uint64_t now = bench_now();
        for (;;) {
            bench_reply_t rep;
            int k = bench_parse(c, &rep);
            if (k == REP_AGAIN)
                break;
            if (k == REP_SKIP)
                continue;
            last = now;
            if (k == REP_BAD || c->count == 0) {
                if (k != REP_BAD)
                    bench_fail(c, "a reply with no command in flight");
                break;
            }
            bench_cmd_t cmd = c->fifo[c->head];
            c->head = (c->head + 1) % o->pipeline;
            c->count--;
            if (c->nlat < c->latcap)
                c->lat[c->nlat++] = now - cmd.t0;
            if (k == REP_ERR) {
                bench_error_reply(c, &cmd, rep.text);
                c->done++;           /* the message is finished, as an error */
            } else if (cmd.op == OP_POP && k != REP_MSG) {
                bench_fail(c, "pop answered without a message");
                break;
            } else if (cmd.op == OP_POP) {
                c->acks[(c->ahead + c->acount) % o->pipeline] = rep.id;
                c->acount++;
            } else {
                c->done++;
            }
        }
    }
    return NULL;
}

/* ---- the two protocols ---- */

static void
bench_encode(bench_conn_t *c, int op, uint64_t id)
{
    const bench_opts_t *o = c->o;
    if (o->peer == PEER_GMQ) {
        char num[24];
        if (op == OP_PUSH) {
            const char *argv[] = { o->topic, o->bind_key, "0" };
            gmq_tcp_put_cmd(&c->out, GMQ_TCP_CMD_PUB, 3, argv);
            gmq_tcp_put_body(&c->out, bench_body, (size_t) o->size);
        } else if (op == OP_POP) {
            snprintf(num, sizeof(num), "%d", BENCH_POP_WAIT_S);
            const char *argv[] = { o->topic, o->bind_key, num };
            gmq_tcp_put_cmd(&c->out, GMQ_TCP_CMD_POP, 3, argv);
        } else {
            snprintf(num, sizeof(num), "%llu", (unsigned long long) id);
            const char *argv[] = { num, o->topic, o->bind_key };
            gmq_tcp_put_cmd(&c->out, GMQ_TCP_CMD_ACK, 3, argv);
        }
    } else {
        if (op == OP_PUSH) {
            gmq_buf_printf(&c->out, "put 1024 0 60 %ld\r\n", o->size);
            gmq_buf_append(&c->out, bench_body, (size_t) o->size);
            gmq_buf_append(&c->out, "\r\n", 2);
        } else if (op == OP_POP) {
            gmq_buf_printf(&c->out, "reserve-with-timeout %d\r\n", BENCH_POP_WAIT_S);
        } else {
            gmq_buf_printf(&c->out, "delete %llu\r\n", (unsigned long long) id);
        }
    }
}

/* gmq: one reply frame; heartbeats are skipped */
static int
bench_parse_gmq(bench_conn_t *c, bench_reply_t *rep)
{
    gmq_buf_t *b = &c->in;
    const char *p = gmq_buf_rptr(b), *data;
    uint16_t type;
    uint32_t len;
    size_t used;
    int rc = gmq_tcp_frame_decode(p, gmq_buf_used(b), BENCH_MAX_FRAME, &type, &data, &len, &used);
    if (rc == GMQ_AGAIN)
        return REP_AGAIN;
    if (rc != GMQ_OK) {
        /* the header says which check failed */
        type = gmq_get_u16(p);
        len = gmq_get_u32(p + 2);
        if (len > BENCH_MAX_FRAME)
            bench_fail(c, "protocol error: frame of type %u with length %u", (unsigned) type, len);
        else
            bench_fail(c, "protocol error: unexpected frame type %u", (unsigned) type);
        return REP_BAD;
    }
    gmq_buf_consume(b, used);    /* data stays in place until the next read */
    memset(rep, 0, sizeof(*rep));
    int shown = (int) (len < 150 ? len : 150), head = (int) (len < 80 ? len : 80);
    switch (type) {
    case GMQ_TCP_PING:
        return REP_SKIP;
    case GMQ_TCP_RESULT:
        rep->kind = REP_OK;
        snprintf(rep->text, sizeof(rep->text), "%.*s", shown, data);
        return REP_OK;
    case GMQ_TCP_ERROR:
        rep->kind = REP_ERR;
        snprintf(rep->text, sizeof(rep->text), "%.*s", shown, data);
        return REP_ERR;
    case GMQ_TCP_MESSAGE: {
        /* {"id":"123","body":...}: the id is the first member */
        const char *end = data + len;
        const char *k = memmem(data, len, "\"id\":", 5);
        if (k == NULL) {
            bench_fail(c, "protocol error: message without an id: %.*s", head, data);
            return REP_BAD;
        }
        k += 5;
        if (k < end && *k == '"')
            k++;
        const char *d = k;
        for (; d < end && *d >= '0' && *d <= '9'; d++)
            rep->id = rep->id * 10 + (uint64_t) (*d - '0');
        if (d == k || rep->id == 0) {
            bench_fail(c, "protocol error: bad message id: %.*s", head, data);
            return REP_BAD;
        }
        rep->kind = REP_MSG;
        return REP_MSG;
    }
    default:
        bench_fail(c, "protocol error: unexpected frame type %u", (unsigned) type);
        return REP_BAD;
    }
}

/* beanstalkd: one CRLF line, and after RESERVED <id> <bytes> the job and CRLF */
static int
bench_parse_beanstalkd(bench_conn_t *c, bench_reply_t *rep)
{
    gmq_buf_t *b = &c->in;
    size_t avail = gmq_buf_used(b);
    char *p = gmq_buf_rptr(b);
    char *nl = avail > 0 ? memchr(p, '\n', avail) : NULL;
    if (nl == NULL)
        return REP_AGAIN;
    size_t linelen = (size_t) (nl - p) + 1;
    size_t textlen = linelen - 1 - (linelen > 1 && p[linelen - 2] == '\r');
    memset(rep, 0, sizeof(*rep));
    snprintf(rep->text, sizeof(rep->text), "%.*s", (int) (textlen < 150 ? textlen : 150), p);
    unsigned long long id, bytes;
    if (strncmp(p, "RESERVED ", 9) == 0) {
        if (sscanf(p + 9, "%llu %llu", &id, &bytes) != 2) {
            bench_fail(c, "protocol error: %s", rep->text);
            return REP_BAD;
        }
        if (avail < linelen + bytes + 2)
            return REP_AGAIN;
        gmq_buf_consume(b, linelen + (size_t) bytes + 2);
        rep->id = id;
        return rep->kind = REP_MSG;
    }
    gmq_buf_consume(b, linelen);    /* p stays valid until the next read */
    if (strncmp(p, "INSERTED ", 9) == 0 || strncmp(p, "DELETED\r", 8) == 0 ||
        strncmp(p, "USING ", 6) == 0 || strncmp(p, "WATCHING ", 9) == 0)
        return rep->kind = REP_OK;
    return rep->kind = REP_ERR;    /* TIMED_OUT, NOT_FOUND, BURIED, OUT_OF_MEMORY, ... */
}

static int
bench_parse(bench_conn_t *c, bench_reply_t *rep)
{
    return c->o->peer == PEER_GMQ ? bench_parse_gmq(c, rep) : bench_parse_beanstalkd(c, rep);
}

/* one command and its reply, before the phases (blocking) */
static int
bench_call(bench_conn_t *c, bench_reply_t *rep)
{
    if (bench_flush(c) != 0)
        return -1;
    for (;;) {
        int k = bench_parse(c, rep);
        if (k == REP_BAD)
            return -1;
        if (k != REP_AGAIN && k != REP_SKIP)
            return 0;
        if (k == REP_SKIP)
            continue;
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN | (gmq_buf_used(&c->out) ? POLLOUT : 0) };
        if (poll(&pfd, 1, BENCH_STALL_MS) == 0) {
            bench_fail(c, "no reply in %d s", BENCH_STALL_MS / 1000);
            return -1;
        }
        if (bench_flush(c) != 0 || bench_read(c) < 0)
            return -1;
    }
}

/* gmq: declare the queue (an existing one answers E_INVALID_DECLARE: fine);
 * beanstalkd: use and watch the tube */
static int
bench_setup(bench_conn_t *c)
{
    const bench_opts_t *o = c->o;
    bench_reply_t rep;
    if (o->peer == PEER_GMQ) {
        const char *argv[] = { o->topic, o->bind_key };
        gmq_tcp_put_cmd(&c->out, GMQ_TCP_CMD_QUEUE, 2, argv);
        if (bench_call(c, &rep) != 0)
            return -1;
        if (rep.kind == REP_ERR && strstr(rep.text, "E_INVALID_DECLARE") == NULL) {
            bench_fail(c, "queue %s %s: %s", o->topic, o->bind_key, rep.text);
            return -1;
        }
        return 0;
    }
    const char *cmds[] = { "use", "watch" };
    for (int i = 0; i < 2; i++) {
        gmq_buf_printf(&c->out, "%s %s\r\n", cmds[i], o->topic);
        if (bench_call(c, &rep) != 0)
            return -1;
        if (rep.kind != REP_OK) {
            bench_fail(c, "%s %s: %s", cmds[i], o->topic, rep.text);
            return -1;
        }
    }
    return 0;
}

/* ---- small helpers ---- */

static int
bench_connect(const bench_opts_t *o)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0)
        bench_die("%s: %s", o->addr, gai_strerror(rc));
    int fd = -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        bench_die("connect %s: %s", o->addr, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static uint64_t
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
bench_die(const char *fmt, ...)
{
    va_list ap;
    fputs("gmq-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void
bench_usage(FILE *f)
{
    fputs("usage: gmq-bench [options]\n"
          "  --addr HOST:PORT   server (default 127.0.0.1:9503, beanstalkd 127.0.0.1:11300)\n"
          "  --peer gmq|beanstalkd  protocol to speak (default gmq)\n"
          "  --topic NAME       topic, or beanstalkd tube (default bench)\n"
          "  --bind-key KEY     queue bind key and route key (default q)\n"
          "  --conns N          connections, one thread each (default 4)\n"
          "  --messages N       messages in total (default 100000)\n"
          "  --size BYTES       body size (default 1024)\n"
          "  --pipeline N       commands in flight per connection (default 32)\n"
          "  --mode push|popack|both  both = push N, then pop+ack N (default both)\n"
          "  --json             print one JSON object\n"
          "Latency is per command, from queueing it to reading its reply. Exit 1 on any error.\n", f);
}

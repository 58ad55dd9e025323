/*
 * bench_peers.c - gmq-bench's drivers for the peers it is compared with,
 * each a few commands of its protocol over a plain socket on the run's
 * libev loop: beanstalkd (put; reserve-with-timeout; delete) and Redis'
 * RESP in the reliable-queue pattern (LPUSH q; BLMOVE q q:processing RIGHT
 * LEFT; LREM q:processing 1 <element> to ack). Commands are queued, written
 * once per loop iteration (an ev_prepare), and answered in order.
 */
#include "client/bench.h"
#include "common/buf.h"
#include "common/net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_READ_CHUNK 65536
#define PEER_TEXT_MAX   160           /* an error answer shown */
#define PEER_PRI        1024          /* beanstalkd put: priority, ttr */
#define PEER_TTR_S      60

/* what an answer is */
enum { PEER_AGAIN, PEER_OK, PEER_MSG, PEER_NONE, PEER_ERR, PEER_BAD };

typedef struct peer_conn_s peer_conn_t;

typedef struct {
    int         kind;                 /* PEER_* */
    uint64_t    id;                   /* PEER_MSG: beanstalkd's job id */
    const char *data;                 /* PEER_MSG: Redis' element, in the input buffer */
    size_t      len;
    char        text[PEER_TEXT_MAX];  /* PEER_ERR, PEER_BAD */
} peer_reply_t;

/* one protocol: the commands, and the parser of one answer */
typedef struct {
    int  (*setup)(peer_conn_t *pc);                 /* queue the set-up commands; how many */
    void (*push)(peer_conn_t *pc, const char *body, size_t len);
    void (*pop)(peer_conn_t *pc);
    void (*ack)(peer_conn_t *pc, gmq_bench_slot_t *s);
    /* the answer at the head of the input to a command op (0 = set-up):
     * PEER_AGAIN, or its kind with *used bytes to consume */
    int  (*parse)(peer_conn_t *pc, int op, peer_reply_t *r, size_t *used);
} peer_proto_t;

struct peer_conn_s {
    gmq_bench_conn_t   *c;
    const peer_proto_t *p;
    int                 fd;
    ev_io               rio, wio;
    ev_prepare          flush;        /* writes what was queued this iteration */
    gmq_buf_t           in, out;
    gmq_bench_slot_t   *head, *tail;  /* commands in flight, in order */
    int                 setup;        /* set-up answers still due */
    char                q[GMQ_BENCH_NAME_MAX * 2 + 2];      /* tube, Redis key */
    char                qp[GMQ_BENCH_NAME_MAX * 2 + 16];    /* Redis: the processing list */
};

static int  peer_open(gmq_bench_conn_t *c, const peer_proto_t *p);
static int  peer_open_beanstalkd(gmq_bench_conn_t *c);
static int  peer_open_redis(gmq_bench_conn_t *c);
static void peer_push(gmq_bench_conn_t *c, gmq_bench_slot_t *s, const char *body, size_t len);
static void peer_pop(gmq_bench_conn_t *c, gmq_bench_slot_t *s);
static void peer_ack(gmq_bench_conn_t *c, gmq_bench_slot_t *s);
static void peer_close(gmq_bench_conn_t *c);
static void peer_sent(peer_conn_t *pc, gmq_bench_slot_t *s);
static void peer_on_read(struct ev_loop *loop, ev_io *w, int revents);
static void peer_on_write(struct ev_loop *loop, ev_io *w, int revents);
static void peer_on_flush(struct ev_loop *loop, ev_prepare *w, int revents);
static void peer_answers(peer_conn_t *pc);
static int  peer_connect(gmq_bench_t *b);
static void peer_text(peer_reply_t *r, const char *p, size_t n);
static int  bs_setup(peer_conn_t *pc);
static void bs_push(peer_conn_t *pc, const char *body, size_t len);
static void bs_pop(peer_conn_t *pc);
static void bs_ack(peer_conn_t *pc, gmq_bench_slot_t *s);
static int  bs_parse(peer_conn_t *pc, int op, peer_reply_t *r, size_t *used);
static void resp_cmd(gmq_buf_t *b, int argc, const char *const *argv, const size_t *lens);
static int  resp_setup(peer_conn_t *pc);
static void resp_push(peer_conn_t *pc, const char *body, size_t len);
static void resp_pop(peer_conn_t *pc);
static void resp_ack(peer_conn_t *pc, gmq_bench_slot_t *s);
static int  resp_parse(peer_conn_t *pc, int op, peer_reply_t *r, size_t *used);

static const peer_proto_t peer_beanstalkd = { bs_setup, bs_push, bs_pop, bs_ack, bs_parse };
static const peer_proto_t peer_redis = { resp_setup, resp_push, resp_pop, resp_ack, resp_parse };

const gmq_bench_driver_t gmq_bench_beanstalkd = {
    .name = "beanstalkd", .default_port = "11300",
    .open = peer_open_beanstalkd, .push = peer_push, .pop = peer_pop, .ack = peer_ack,
    .close = peer_close,
};

const gmq_bench_driver_t gmq_bench_redis = {
    .name = "redis", .default_port = "6379",
    .open = peer_open_redis, .push = peer_push, .pop = peer_pop, .ack = peer_ack,
    .close = peer_close,
};

/* ---- the drivers ---- */

static int
peer_open_beanstalkd(gmq_bench_conn_t *c)
{
    return peer_open(c, &peer_beanstalkd);
}

static int
peer_open_redis(gmq_bench_conn_t *c)
{
    return peer_open(c, &peer_redis);
}

static int
peer_open(gmq_bench_conn_t *c, const peer_proto_t *p)
{
    int fd = peer_connect(c->b);
    if (fd < 0)
        return GMQ_ERR;
    peer_conn_t *pc = gmq_xcalloc(1, sizeof(*pc));
    pc->c = c;
    pc->p = p;
    pc->fd = fd;
    gmq_buf_init(&pc->in);
    gmq_buf_init(&pc->out);
    gmq_bench_qname(c, pc->q, sizeof(pc->q));
    snprintf(pc->qp, sizeof(pc->qp), "%s:processing", pc->q);
    ev_io_init(&pc->rio, peer_on_read, fd, EV_READ);
    ev_io_init(&pc->wio, peer_on_write, fd, EV_WRITE);
    ev_prepare_init(&pc->flush, peer_on_flush);
    pc->rio.data = pc->wio.data = pc->flush.data = pc;
    ev_io_start(c->b->loop, &pc->rio);
    c->drv = pc;
    pc->setup = p->setup(pc);
    peer_sent(pc, NULL);
    return GMQ_OK;
}

static void
peer_push(gmq_bench_conn_t *c, gmq_bench_slot_t *s, const char *body, size_t len)
{
    peer_conn_t *pc = c->drv;
    pc->p->push(pc, body, len);
    peer_sent(pc, s);
}

static void
peer_pop(gmq_bench_conn_t *c, gmq_bench_slot_t *s)
{
    peer_conn_t *pc = c->drv;
    pc->p->pop(pc);
    peer_sent(pc, s);
}

static void
peer_ack(gmq_bench_conn_t *c, gmq_bench_slot_t *s)
{
    peer_conn_t *pc = c->drv;
    pc->p->ack(pc, s);
    free(s->msg);
    s->msg = NULL;
    peer_sent(pc, s);
}

static void
peer_close(gmq_bench_conn_t *c)
{
    peer_conn_t *pc = c->drv;
    struct ev_loop *loop = c->b->loop;
    ev_io_stop(loop, &pc->rio);
    ev_io_stop(loop, &pc->wio);
    ev_prepare_stop(loop, &pc->flush);
    close(pc->fd);
    gmq_buf_free(&pc->in);
    gmq_buf_free(&pc->out);
    for (int i = 0; i < c->b->o->pipeline; i++) {
        free(c->slots[i].msg);
        c->slots[i].msg = NULL;
    }
    free(pc);
    c->drv = NULL;
}

/* ---- I/O ---- */

/* a command was queued (for slot s; NULL = set-up): in flight, written at the end of the iteration */
static void
peer_sent(peer_conn_t *pc, gmq_bench_slot_t *s)
{
    if (s != NULL) {
        s->next = NULL;
        if (pc->tail != NULL)
            pc->tail->next = s;
        else
            pc->head = s;
        pc->tail = s;
    }
    if (!ev_is_active(&pc->flush) && !ev_is_active(&pc->wio))
        ev_prepare_start(pc->c->b->loop, &pc->flush);
}

static void
peer_flush(peer_conn_t *pc)
{
    struct ev_loop *loop = pc->c->b->loop;
    if (gmq_buf_write_fd(&pc->out, pc->fd) < 0) {
        gmq_bench_fail(pc->c->b, "connection %d: write: %s", pc->c->index, strerror(errno));
        return;
    }
    if (gmq_buf_used(&pc->out) > 0) {
        if (!ev_is_active(&pc->wio))
            ev_io_start(loop, &pc->wio);
    } else if (ev_is_active(&pc->wio)) {
        ev_io_stop(loop, &pc->wio);
    }
}

static void
peer_on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
    peer_conn_t *pc = w->data;
    (void) revents;
    ev_prepare_stop(loop, w);
    peer_flush(pc);
}

static void
peer_on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void) loop;
    (void) revents;
    peer_flush(w->data);
}

static void
peer_on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    peer_conn_t *pc = w->data;
    gmq_bench_conn_t *c = pc->c;
    int eof;
    (void) loop;
    (void) revents;
    if (gmq_buf_fill_fd(&pc->in, pc->fd, PEER_READ_CHUNK, &eof) != GMQ_OK) {
        gmq_bench_fail(c->b, "connection %d: read: %s", c->index, strerror(errno));
        return;
    }
    peer_answers(pc);
    if (eof && !c->b->fatal) {
        int n = 0;
        for (gmq_bench_slot_t *s = pc->head; s != NULL; s = s->next)
            n++;
        gmq_bench_fail(c->b, "connection %d: the server closed the connection (%d commands in flight)",
                       c->index, n + pc->setup);
    }
}

/* the answers read so far, each to the oldest command in flight */
static void
peer_answers(peer_conn_t *pc)
{
    gmq_bench_conn_t *c = pc->c;
    gmq_bench_t *b = c->b;
    while (gmq_buf_used(&pc->in) > 0 && !b->fatal) {
        gmq_bench_slot_t *s = pc->setup > 0 ? NULL : pc->head;
        if (pc->setup == 0 && s == NULL) {
            gmq_bench_fail(b, "connection %d: protocol error: an answer to no command", c->index);
            return;
        }
        peer_reply_t r;
        size_t used = 0;
        memset(&r, 0, sizeof(r));
        int k = pc->p->parse(pc, s ? s->op : 0, &r, &used);
        if (k == PEER_AGAIN)
            return;
        if (k == PEER_BAD) {
            gmq_bench_fail(b, "connection %d: protocol error: %s", c->index, r.text);
            return;
        }
        if (s == NULL) {
            gmq_buf_consume(&pc->in, used);
            if (k != PEER_OK) {
                gmq_bench_fail(b, "%s: set-up on connection %d: %s", b->o->addr, c->index, r.text);
                return;
            }
            if (--pc->setup == 0)
                gmq_bench_ready(c);
            continue;
        }
        pc->head = s->next;
        if (pc->head == NULL)
            pc->tail = NULL;
        s->next = NULL;
        if (k == PEER_MSG && r.data != NULL) {
            s->msg = gmq_xmalloc(r.len + 1);
            memcpy(s->msg, r.data, r.len);
            s->len = r.len;
        }
        s->id = r.id;
        gmq_buf_consume(&pc->in, used);     /* r.data is not used after this */
        gmq_bench_done(s, k == PEER_MSG, k == PEER_ERR ? r.text : NULL);
    }
}

/* a connection to opts.addr (the connect waits up to GMQ_BENCH_CONNECT_S), non-blocking */
static int
peer_connect(gmq_bench_t *b)
{
    char host[256], port[32];
    struct addrinfo hints, *res = NULL;
    if (gmq_hostport_split(b->o->addr, host, sizeof(host), port, sizeof(port)) != GMQ_OK) {
        gmq_bench_fail(b, "bad address %s (host:port)", b->o->addr);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &res);
    if (rc != 0) {
        gmq_bench_fail(b, "%s: %s", b->o->addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            err = errno;
        } else {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            socklen_t len = sizeof(err);
            if (poll(&pfd, 1, GMQ_BENCH_CONNECT_S * 1000) <= 0)
                err = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
        if (err != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        gmq_bench_fail(b, "connect to %s: %s", b->o->addr, strerror(err));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void
peer_text(peer_reply_t *r, const char *p, size_t n)
{
    snprintf(r->text, sizeof(r->text), "%.*s", (int) (n < PEER_TEXT_MAX - 1 ? n : PEER_TEXT_MAX - 1), p);
}

/* ---- beanstalkd ---- */

static int
bs_setup(peer_conn_t *pc)
{
    gmq_buf_printf(&pc->out, "use %s\r\nwatch %s\r\n", pc->q, pc->q);
    if (strcmp(pc->q, "default") == 0)
        return 2;
    gmq_buf_printf(&pc->out, "ignore default\r\n");
    return 3;
}

static void
bs_push(peer_conn_t *pc, const char *body, size_t len)
{
    gmq_buf_printf(&pc->out, "put %d 0 %d %zu\r\n", PEER_PRI, PEER_TTR_S, len);
    gmq_buf_append(&pc->out, body, len);
    gmq_buf_append(&pc->out, "\r\n", 2);
}

static void
bs_pop(peer_conn_t *pc)
{
    gmq_buf_printf(&pc->out, "reserve-with-timeout %d\r\n", GMQ_BENCH_POP_WAIT_S);
}

static void
bs_ack(peer_conn_t *pc, gmq_bench_slot_t *s)
{
    gmq_buf_printf(&pc->out, "delete %llu\r\n", (unsigned long long) s->id);
}

/* one CRLF line; after RESERVED <id> <bytes>, the job and a CRLF */
static int
bs_parse(peer_conn_t *pc, int op, peer_reply_t *r, size_t *used)
{
    const char *p = gmq_buf_rptr(&pc->in);
    size_t avail = gmq_buf_used(&pc->in);
    const char *nl = memchr(p, '\n', avail);
    if (nl == NULL)
        return avail > 1024 ? (peer_text(r, p, 80), PEER_BAD) : PEER_AGAIN;
    size_t line = (size_t) (nl - p) + 1, n = line - 1 - (line > 1 && p[line - 2] == '\r');
    peer_text(r, p, n);
    *used = line;
#define BS_IS(word) (n >= sizeof(word) - 1 && memcmp(p, word, sizeof(word) - 1) == 0)
    if (BS_IS("RESERVED ")) {
        unsigned long long id, bytes;
        if (op != GMQ_BENCH_OP_POP || sscanf(r->text + 9, "%llu %llu", &id, &bytes) != 2)
            return PEER_BAD;
        if (avail < line + bytes + 2)
            return PEER_AGAIN;
        *used = line + (size_t) bytes + 2;
        r->id = id;
        return PEER_MSG;
    }
    if (op == GMQ_BENCH_OP_POP && (BS_IS("TIMED_OUT") || BS_IS("DEADLINE_SOON")))
        return PEER_NONE;
    if ((op == GMQ_BENCH_OP_PUSH && BS_IS("INSERTED ")) || (op == GMQ_BENCH_OP_ACK && BS_IS("DELETED")) ||
        (op == 0 && (BS_IS("USING ") || BS_IS("WATCHING "))))
        return PEER_OK;
#undef BS_IS
    return PEER_ERR;      /* BURIED, NOT_FOUND, JOB_TOO_BIG, OUT_OF_MEMORY, DRAINING, ... */
}

/* ---- Redis (RESP2) ---- */

static void
resp_cmd(gmq_buf_t *b, int argc, const char *const *argv, const size_t *lens)
{
    gmq_buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = lens != NULL && lens[i] != (size_t) -1 ? lens[i] : strlen(argv[i]);
        gmq_buf_printf(b, "$%zu\r\n", n);
        gmq_buf_append(b, argv[i], n);
        gmq_buf_append(b, "\r\n", 2);
    }
}

static int
resp_setup(peer_conn_t *pc)
{
    const char *argv[] = { "PING" };
    resp_cmd(&pc->out, 1, argv, NULL);
    return 1;
}

static void
resp_push(peer_conn_t *pc, const char *body, size_t len)
{
    const char *argv[] = { "LPUSH", pc->q, body };
    const size_t lens[] = { (size_t) -1, (size_t) -1, len };
    resp_cmd(&pc->out, 3, argv, lens);
}

static void
resp_pop(peer_conn_t *pc)
{
    char wait[16];
    snprintf(wait, sizeof(wait), "%d", GMQ_BENCH_POP_WAIT_S);
    const char *argv[] = { "BLMOVE", pc->q, pc->qp, "RIGHT", "LEFT", wait };
    resp_cmd(&pc->out, 6, argv, NULL);
}

static void
resp_ack(peer_conn_t *pc, gmq_bench_slot_t *s)
{
    const char *argv[] = { "LREM", pc->qp, "1", s->msg };
    const size_t lens[] = { (size_t) -1, (size_t) -1, (size_t) -1, s->len };
    resp_cmd(&pc->out, 4, argv, lens);
}

/* +status, -error, :integer, $bulk, and the null bulk or array of a BLMOVE that timed out */
static int
resp_parse(peer_conn_t *pc, int op, peer_reply_t *r, size_t *used)
{
    const char *p = gmq_buf_rptr(&pc->in);
    size_t avail = gmq_buf_used(&pc->in);
    const char *nl = memchr(p, '\n', avail);
    if (nl == NULL)
        return avail > 1024 ? (peer_text(r, p, 80), PEER_BAD) : PEER_AGAIN;
    size_t line = (size_t) (nl - p) + 1, n = line - 1 - (line > 1 && p[line - 2] == '\r');
    peer_text(r, p, n);
    *used = line;
    long long v = n > 1 ? strtoll(r->text + 1, NULL, 10) : 0;
    switch (p[0]) {
    case '-':
        peer_text(r, p + 1, n - 1);
        return PEER_ERR;
    case '+':
        return op == 0 ? PEER_OK : PEER_BAD;
    case ':':
        if (op == GMQ_BENCH_OP_PUSH)
            return PEER_OK;
        if (op == GMQ_BENCH_OP_ACK && v == 1)
            return PEER_OK;
        if (op == GMQ_BENCH_OP_ACK) {
            snprintf(r->text, sizeof(r->text), "LREM removed %lld elements of the processing list, not 1", v);
            return PEER_ERR;
        }
        return PEER_BAD;
    case '*':
    case '$':
        if (op != GMQ_BENCH_OP_POP || v < -1 || (p[0] == '*' && v != -1))
            return PEER_BAD;
        if (v == -1)
            return PEER_NONE;
        if (avail < line + (size_t) v + 2)
            return PEER_AGAIN;
        r->data = p + line;
        r->len = (size_t) v;
        *used = line + (size_t) v + 2;
        return PEER_MSG;
    default:
        return PEER_BAD;
    }
}

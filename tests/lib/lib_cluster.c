/*
 * lib_cluster.c - libgmq over etcd, driven by
 * tests/integration/test_libgmq_cluster.py (a real etcd, real nodes).
 *
 *   lib_cluster consume etcd=URL topic=T
 *       the async API on libev: a consumer over every registered node; prints
 *       EVENT <mono ms> <CONNECTED|DISCONNECTED|ADDED|REMOVED> <node> <detail>
 *       GOT <mono ms> <node> <id> <body>   (each message is acked)
 *       until SIGTERM
 *   lib_cluster produce etcd=URL topic=T n=N
 *       the sync API: N pubs spread by weight; PUB <i> <rc name>
 */
#include <gmq/adapters/libev.h>
#include <gmq/gmq.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *o_etcd, *o_topic = "cluster";
static long o_n = 10;

static unsigned long long
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long) ts.tv_sec * 1000 + (unsigned long long) ts.tv_nsec / 1000000;
}

static void
on_event(gmqAsyncContext *ac, int event, const char *node, const char *detail, void *priv)
{
    static const char *const names[] = { "", "CONNECTED", "DISCONNECTED", "ADDED", "REMOVED" };
    (void) ac; (void) priv;
    printf("EVENT %llu %s %s %s\n", mono_ms(), names[event], node, detail);
}

static void
on_ack(gmqAsyncContext *ac, gmqReply *r, void *priv)
{
    (void) ac; (void) priv;
    if (r->rc != GMQ_OK)
        printf("ACKERR %llu %s %s\n", mono_ms(), gmqStrerror(r->rc), r->errstr);
}

static void
on_message(gmqAsyncContext *ac, gmqReply *r, void *priv)
{
    (void) priv;
    if (r->rc != GMQ_OK) {
        printf("ERR %llu %s %s\n", mono_ms(), gmqStrerror(r->rc), r->errstr);
        return;
    }
    printf("GOT %llu %s %" PRIu64 " %.*s\n", mono_ms(), r->msg->node, r->msg->id, (int) r->msg->len,
           r->msg->body);
    gmqAsyncAck(ac, r->msg, on_ack, NULL);
}

static void
on_sigterm(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void) revents;
    gmqAsyncFree(w->data);
    ev_break(loop, EVBREAK_ALL);
}

static int
consume(void)
{
    struct ev_loop *loop = EV_DEFAULT;
    gmqOptions o;
    gmqOptionsInit(&o);
    o.backoff_max_ms = 500;
    gmqAsyncContext *ac = gmqAsyncConnectEtcd(o_etcd, &o);
    if (gmqAsyncErr(ac) != GMQ_OK)
        printf("CONNECT %s %s\n", gmqStrerror(gmqAsyncErr(ac)), gmqAsyncErrstr(ac));
    gmqAsyncSetEventCallback(ac, on_event, NULL);
    if (gmqLibevAttach(loop, ac) != GMQ_OK)
        return 1;
    if (gmqAsyncConsume(ac, o_topic, "default", on_message, NULL) <= 0)
        return 1;
    ev_signal term;
    ev_signal_init(&term, on_sigterm, SIGTERM);
    term.data = ac;
    ev_signal_start(loop, &term);
    printf("READY %llu\n", mono_ms());
    ev_run(loop, 0);
    return 0;
}

static int
produce(void)
{
    gmqContext *c = gmqConnectEtcd(o_etcd, NULL);
    if (gmqErr(c) != GMQ_OK)
        printf("CONNECT %s %s\n", gmqStrerror(gmqErr(c)), gmqErrstr(c));
    int bad = 0;
    char body[32];
    for (long i = 0; i < o_n; i++) {
        int n = snprintf(body, sizeof(body), "p%ld", i);
        int rc = gmqPub(c, o_topic, NULL, body, (size_t) n, 0, NULL);
        printf("PUB %ld %s %s\n", i, gmqStrerror(rc), gmqErrstr(c));
        bad += rc != GMQ_OK;
    }
    gmqFree(c);
    return bad ? 1 : 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "etcd=", 5) == 0) o_etcd = argv[i] + 5;
        else if (strncmp(argv[i], "topic=", 6) == 0) o_topic = argv[i] + 6;
        else if (strncmp(argv[i], "n=", 2) == 0) o_n = atol(argv[i] + 2);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "consume") == 0)
        return consume();
    if (strcmp(argv[1], "produce") == 0)
        return produce();
    return 2;
}

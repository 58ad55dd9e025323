/*
 * async_consumer.c - consume with libgmq's asynchronous API on a libev loop:
 * one thread, a connection to every node, messages as they come.
 *
 *   async_consumer ADDR|etcd://ENDPOINTS TOPIC BIND_KEY [MAX]
 *
 *   cc async_consumer.c $(pkg-config --cflags --libs libgmq) -lev -o async_consumer
 *   ./async_consumer etcd://127.0.0.1:2379 orders default
 */
#include <gmq/adapters/libev.h>
#include <gmq/gmq.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long max = -1, got;

static void
on_ack(gmqAsyncContext *ac, gmqReply *r, void *privdata)
{
    (void) privdata;
    if (r->rc != GMQ_OK)
        fprintf(stderr, "ack: %s %s\n", gmqStrerror(r->rc), r->errstr);
    if (max >= 0 && got >= max)
        gmqAsyncDisconnect(ac);        /* answers still due arrive first */
}

static void
on_message(gmqAsyncContext *ac, gmqReply *r, void *privdata)
{
    (void) privdata;
    if (r->rc != GMQ_OK) {             /* the consumer tries again by itself */
        fprintf(stderr, "consumer: %s %s\n", gmqStrerror(r->rc), r->errstr);
        return;
    }
    gmqMessage *m = r->msg;            /* valid during the callback (or take it) */
    printf("%s %" PRIu64 ": %.*s\n", m->node, m->id, (int) strlen(m->body), m->body);
    got++;
    gmqAsyncAck(ac, m, on_ack, NULL);
}

static void
on_event(gmqAsyncContext *ac, int event, const char *node, const char *detail, void *privdata)
{
    (void) ac; (void) privdata;
    static const char *const names[] = { "", "connected", "disconnected", "node added", "node removed" };
    fprintf(stderr, "%s: %s (%s)\n", names[event], node, detail);
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s ADDR|etcd://ENDPOINTS TOPIC BIND_KEY [MAX]\n", argv[0]);
        return 2;
    }
    max = argc > 4 ? atol(argv[4]) : -1;
    gmqAsyncContext *ac = strncmp(argv[1], "etcd://", 7) == 0 ? gmqAsyncConnectEtcd(argv[1] + 7, NULL)
                                                             : gmqAsyncConnect(argv[1], NULL);
    if (ac == NULL || gmqAsyncErr(ac) == GMQ_ERR_ARGS) {
        fprintf(stderr, "%s\n", ac ? gmqAsyncErrstr(ac) : "out of memory");
        return 1;
    }
    struct ev_loop *loop = EV_DEFAULT;
    gmqAsyncSetEventCallback(ac, on_event, NULL);
    gmqLibevAttach(loop, ac);
    if (gmqAsyncConsume(ac, argv[2], argv[3], on_message, NULL) <= 0) {
        fprintf(stderr, "bad topic or bind key\n");
        return 2;
    }
    ev_run(loop, 0);                   /* returns once the context is gone */
    printf("%ld messages\n", got);
    return 0;
}

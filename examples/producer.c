/*
 * producer.c - publish messages with libgmq (synchronous API, pipelined).
 *
 *   producer ADDR|etcd://ENDPOINTS TOPIC [COUNT]
 *
 * Publishes COUNT messages (default 10) "message <i>" to TOPIC's default
 * queue, 100 requests in flight at a time, and says what happened to each
 * one that did not succeed. Exit status: 0 all stored, 1 some failed or
 * have an unknown outcome, 2 usage.
 *
 *   cc producer.c $(pkg-config --cflags --libs libgmq) -o producer
 *   ./producer 127.0.0.1:9503 orders 1000
 *   ./producer etcd://127.0.0.1:2379 orders 1000
 */
#include <gmq/gmq.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 100

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s ADDR|etcd://ENDPOINTS TOPIC [COUNT]\n", argv[0]);
        return 2;
    }
    const char *where = argv[1], *topic = argv[2];
    long count = argc > 3 ? atol(argv[3]) : 10;

    gmqOptions opt;
    gmqOptionsInit(&opt);
    opt.auth_token = getenv("GMQ_TOKEN");          /* NULL when the node needs none */
    gmqContext *c = strncmp(where, "etcd://", 7) == 0 ? gmqConnectEtcd(where + 7, &opt)
                                                      : gmqConnect(where, &opt);
    if (c == NULL)
        return 1;
    if (gmqErr(c) != GMQ_OK)     /* not fatal: the next call tries again */
        fprintf(stderr, "not connected yet: %s: %s\n", gmqStrerror(gmqErr(c)), gmqErrstr(c));

    long sent = 0, done = 0, stored = 0, unknown = 0, failed = 0;
    while (done < count) {
        /* keep up to WINDOW requests in flight */
        while (sent < count && sent - done < WINDOW) {
            char body[64];
            int n = snprintf(body, sizeof(body), "message %ld", sent);
            if (gmqAppendPub(c, topic, NULL, body, (size_t) n, 0) != GMQ_OK) {
                fprintf(stderr, "cannot publish: %s\n", gmqErrstr(c));
                gmqFree(c);
                return 2;
            }
            sent++;
        }
        /* the answers come in the order of the requests */
        gmqReply *r;
        int rc = gmqGetReply(c, &r);
        if (rc == GMQ_OK) {
            stored++;
        } else if (rc == GMQ_ERR_UNKNOWN) {
            /* sent, but the answer was lost: it may or may not be stored;
             * publishing it again could store it twice */
            unknown++;
            fprintf(stderr, "message %ld: outcome unknown: %s\n", done, r->errstr);
        } else {
            /* not stored: a refusal from the node (r->errcode), or no node reachable */
            failed++;
            fprintf(stderr, "message %ld: %s %s\n", done, gmqStrerror(rc), r->errstr);
        }
        gmqReplyFree(r);
        done++;
    }
    printf("%ld stored, %ld outcome unknown, %ld failed\n", stored, unknown, failed);
    gmqFree(c);
    return unknown || failed ? 1 : 0;
}

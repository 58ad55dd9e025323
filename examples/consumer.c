/*
 * consumer.c - consume messages with libgmq (synchronous API).
 *
 *   consumer ADDR|etcd://ENDPOINTS TOPIC BIND_KEY [MAX]
 *
 * Pops messages from the queue TOPIC_BIND_KEY (waiting up to 5 s each
 * time), prints each one and acknowledges it; stops after MAX messages, or
 * when the queue stays empty for 5 s. Bodies may hold any bytes: they are
 * printed as far as they are text. Exit status: 0, or 1 on an error that
 * retrying did not cure.
 *
 *   cc consumer.c $(pkg-config --cflags --libs libgmq) -o consumer
 *   ./consumer 127.0.0.1:9503 orders default 100
 */
#include <gmq/gmq.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s ADDR|etcd://ENDPOINTS TOPIC BIND_KEY [MAX]\n", argv[0]);
        return 2;
    }
    const char *where = argv[1], *topic = argv[2], *bind_key = argv[3];
    long max = argc > 4 ? atol(argv[4]) : -1, got = 0;

    gmqOptions opt;
    gmqOptionsInit(&opt);
    opt.auth_token = getenv("GMQ_TOKEN");
    gmqContext *c = strncmp(where, "etcd://", 7) == 0 ? gmqConnectEtcd(where + 7, &opt)
                                                      : gmqConnect(where, &opt);
    if (c == NULL)
        return 1;

    int status = 0;
    while (max < 0 || got < max) {
        gmqMessage *m = NULL;
        int rc = gmqPop(c, topic, bind_key, 5, &m);
        if (rc == GMQ_NO_MESSAGE)
            break;                          /* empty for 5 s */
        if (rc != GMQ_OK) {
            /* lost connections were retried for retry_timeout_ms already */
            fprintf(stderr, "pop: %s %s %s\n", gmqStrerror(rc), gmqErrcode(c), gmqErrstr(c));
            status = 1;
            break;
        }
        printf("%" PRIu64 " (retry %u, %zu bytes): %.*s\n", m->id, m->retry_count, m->len,
               (int) strlen(m->body), m->body);
        /* done with it: acknowledge, or it comes back after the topic's TTR */
        rc = gmqAck(c, m);
        if (rc == GMQ_ERR_UNKNOWN)
            fprintf(stderr, "ack %" PRIu64 ": outcome unknown (it may be delivered again)\n", m->id);
        else if (rc != GMQ_OK)
            fprintf(stderr, "ack %" PRIu64 ": %s\n", m->id, gmqErrstr(c));
        gmqMessageFree(m);
        got++;
    }
    printf("%ld messages\n", got);
    gmqFree(c);
    return status;
}

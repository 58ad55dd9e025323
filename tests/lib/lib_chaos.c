/*
 * lib_chaos.c - a libgmq producer or consumer that keeps going while the
 * test (tests/integration/test_libgmq_reconnect.py) kills the node's master
 * and workers; every outcome is one line on stdout for the test to check.
 *
 *   lib_chaos produce addr=H:P topic=T n=N [window=W] [pace_ms=M]
 *       pipelined pubs of bodies "m<i>" in bursts of W, M ms apart:  PUB <i> <rc name> <id>
 *   lib_chaos consume addr=H:P topic=T stop=FILE
 *       pop (1 s), print, ack:  GOT <id> <retry> <body>  /  ACK <id> <rc name>
 *       until FILE exists and a pop found nothing
 */
#include <gmq/gmq.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *o_addr, *o_topic = "chaos", *o_stop;
static long o_n = 1000, o_window = 10, o_pace = 0;

static gmqContext *
chaos_connect(void)
{
    gmqOptions o;
    gmqOptionsInit(&o);
    o.retry_timeout_ms = 60000;       /* longer than a master restart */
    o.backoff_max_ms = 500;
    gmqContext *c = gmqConnect(o_addr, &o);
    if (gmqErr(c) != GMQ_OK)
        fprintf(stderr, "first connection: %s %s\n", gmqStrerror(gmqErr(c)), gmqErrstr(c));
    return c;
}

static int
produce(void)
{
    gmqContext *c = chaos_connect();
    long sent = 0, answered = 0;
    char body[32];
    while (answered < o_n) {
        /* a burst of window pubs, their answers, then a pause */
        if (answered > 0 && o_pace > 0)
            nanosleep(&(struct timespec) { o_pace / 1000, (o_pace % 1000) * 1000000 }, NULL);
        for (long k = 0; k < o_window && sent < o_n; k++, sent++) {
            int n = snprintf(body, sizeof(body), "m%ld", sent);
            if (gmqAppendPub(c, o_topic, "q", body, (size_t) n, 0) != GMQ_OK) {
                fprintf(stderr, "append: %s\n", gmqErrstr(c));
                return 1;
            }
        }
        for (; answered < sent; answered++) {
            gmqReply *r;
            gmqGetReply(c, &r);
            printf("PUB %ld %s %" PRIu64 "%s%s\n", answered, gmqStrerror(r->rc), r->id,
                   r->rc < 0 ? " " : "", r->rc < 0 ? r->errstr : "");
            gmqReplyFree(r);
        }
    }
    gmqFree(c);
    return 0;
}

static int
consume(void)
{
    gmqContext *c = chaos_connect();
    for (;;) {
        gmqMessage *m = NULL;
        int rc = gmqPop(c, o_topic, "q", 1, &m);
        if (rc == GMQ_NO_MESSAGE) {
            if (o_stop != NULL && access(o_stop, F_OK) == 0)
                break;
            continue;
        }
        if (rc != GMQ_OK) {
            printf("POPERR %s %s\n", gmqStrerror(rc), gmqErrstr(c));
            fflush(stdout);
            continue;
        }
        printf("GOT %" PRIu64 " %u %.*s\n", m->id, m->retry_count, (int) m->len, m->body);
        fflush(stdout);
        rc = gmqAck(c, m);
        printf("ACK %" PRIu64 " %s%s%s\n", m->id, gmqStrerror(rc), rc < 0 ? " " : "",
               rc < 0 ? gmqErrstr(c) : "");
        fflush(stdout);
        gmqMessageFree(m);
    }
    gmqFree(c);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "addr=", 5) == 0) o_addr = argv[i] + 5;
        else if (strncmp(argv[i], "topic=", 6) == 0) o_topic = argv[i] + 6;
        else if (strncmp(argv[i], "stop=", 5) == 0) o_stop = argv[i] + 5;
        else if (strncmp(argv[i], "n=", 2) == 0) o_n = atol(argv[i] + 2);
        else if (strncmp(argv[i], "window=", 7) == 0) o_window = atol(argv[i] + 7);
        else if (strncmp(argv[i], "pace_ms=", 8) == 0) o_pace = atol(argv[i] + 8);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "produce") == 0)
        return produce();
    if (strcmp(argv[1], "consume") == 0)
        return consume();
    return 2;
}

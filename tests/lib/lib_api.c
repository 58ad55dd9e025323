/*
 * lib_api.c - libgmq against a real node, one case per API call with its
 * error paths; driven by tests/integration/test_libgmq.py, which starts the
 * node. Usage: lib_api CASE addr=HOST:PORT [http=HOST:PORT] [certs=DIR]
 * [token=TOKEN]. Exit 0 when every check held; each failed check is one
 * line on stderr. Messages are printed on stdout for the Python side.
 */
#include <gmq/adapters/libev.h>
#include <gmq/gmq.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *o_addr, *o_http, *o_certs, *o_token;
static int failures;
static gmqContext *cur;      /* the context checks report about */

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last: %s %s [%s]\n", __FILE__, __LINE__, \
                    #cond, cur ? gmqStrerror(gmqErr(cur)) : "-", cur ? gmqErrcode(cur) : "",  \
                    cur ? gmqErrstr(cur) : "");                                              \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

#define RC(call, want)                                                                       \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ != (want)) {                                                                 \
            fprintf(stderr, "%s:%d: %s = %s, want %s [%s %s]\n", __FILE__, __LINE__, #call,  \
                    gmqStrerror(rc_), gmqStrerror(want), cur ? gmqErrcode(cur) : "",         \
                    cur ? gmqErrstr(cur) : "");                                              \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

/* a server error with this E_ code, its text in gmqErrstr */
#define SERVER(call, code)                                                                   \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ != GMQ_ERR_SERVER || strcmp(gmqErrcode(cur), code) != 0 ||                   \
            strncmp(gmqErrstr(cur), code " - ", strlen(code) + 3) != 0) {                    \
            fprintf(stderr, "%s:%d: %s = %s %s [%s], want GMQ_ERR_SERVER %s\n", __FILE__,    \
                    __LINE__, #call, gmqStrerror(rc_), gmqErrcode(cur), gmqErrstr(cur), code); \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

static gmqContext *
connect_opts(gmqOptions *o)
{
    gmqContext *c = gmqConnect(o_addr, o);
    CHECK(c != NULL);
    cur = c;
    return c;
}

static gmqContext *
connect_default(void)
{
    gmqOptions o;
    gmqOptionsInit(&o);
    o.auth_token = o_token;
    gmqContext *c = connect_opts(&o);
    RC(gmqErr(c), GMQ_OK);
    return c;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static char *
cert(const char *name)
{
    static char paths[4][512];
    static int i;
    char *p = paths[i++ % 4];
    snprintf(p, 512, "%s/%s", o_certs, name);
    return p;
}

/* ---- cases ---- */

static void
case_connect(void)
{
    gmqContext *c = connect_default();
    RC(gmqPing(c), GMQ_OK);
    CHECK(strcmp(gmqErrstr(c), "") == 0);
    gmqFree(c);

    /* nothing listens there: the first attempt fails, a call gives up after retry_timeout */
    gmqOptions o;
    gmqOptionsInit(&o);
    o.retry_timeout_ms = 600;
    c = gmqConnect("127.0.0.1:1", &o);
    cur = c;
    RC(gmqErr(c), GMQ_ERR_IO);
    CHECK(strstr(gmqErrstr(c), "127.0.0.1:1") != NULL);
    uint64_t t0 = now_ms();
    RC(gmqPing(c), GMQ_ERR_IO);
    CHECK(strstr(gmqErrstr(c), "retry_timeout_ms") != NULL);
    CHECK(now_ms() - t0 >= 500 && now_ms() - t0 < 5000);
    gmqFree(c);
    /* reconnect off: at once */
    o.reconnect = 0;
    c = gmqConnect("127.0.0.1:1", &o);
    cur = c;
    RC(gmqErr(c), GMQ_ERR_IO);
    t0 = now_ms();
    RC(gmqPing(c), GMQ_ERR_IO);
    CHECK(now_ms() - t0 < 2000);
    gmqFree(c);
    /* bad addresses */
    c = gmqConnect("no-port", NULL);
    cur = c;
    RC(gmqErr(c), GMQ_ERR_ARGS);
    RC(gmqPing(c), GMQ_ERR_ARGS);
    gmqFree(c);
    c = gmqConnect(NULL, NULL);
    cur = c;
    RC(gmqErr(c), GMQ_ERR_ARGS);
    gmqFree(c);
    gmqFree(NULL);
}

static void
case_pub(void)
{
    gmqContext *c = connect_default();
    uint64_t id = 0, id2 = 0;
    RC(gmqDeclare(c, "lpub", "q"), GMQ_OK);
    RC(gmqPub(c, "lpub", "q", "hello", 5, 0, &id), GMQ_OK);
    CHECK(id > 0);
    RC(gmqPub(c, "lpub", "q", "", 0, 0, &id2), GMQ_OK);     /* empty body */
    CHECK(id2 > id);
    RC(gmqPub(c, "lpub", NULL, "d", 1, 0, NULL), GMQ_OK);   /* the default queue */
    RC(gmqPub(c, "lpub", "q", "later", 5, 30, NULL), GMQ_OK);
    SERVER(gmqPub(c, "bad/topic", "q", "x", 1, 0, NULL), "E_INVALID_TOPIC");
    SERVER(gmqPub(c, "lpub", "nomatch", "x", 1, 0, NULL), "E_INVALID_ROUTE");
    SERVER(gmqPub(c, "lpub", "q", "x", 1, 999999999, NULL), "E_INVALID_DELAY");
    CHECK(strstr(gmqErrstr(c), "max_delay") != NULL);
    RC(gmqPub(c, "has space", "q", "x", 1, 0, NULL), GMQ_ERR_ARGS);
    RC(gmqPub(c, NULL, "q", "x", 1, 0, NULL), GMQ_ERR_ARGS);
    RC(gmqPub(c, "lpub", "q", NULL, 4, 0, NULL), GMQ_ERR_ARGS);
    /* the connection is still good after every error */
    RC(gmqPub(c, "lpub", "q", "after", 5, 0, NULL), GMQ_OK);
    gmqMessage *m = NULL;
    RC(gmqPop(c, "lpub", "q", 0, &m), GMQ_OK);
    CHECK(m && m->id == id && m->len == 5 && memcmp(m->body, "hello", 5) == 0);
    gmqMessageFree(m);
    gmqFree(c);
}

static void
case_mpub(void)
{
    gmqContext *c = connect_default();
    RC(gmqDeclare(c, "lmpub", "q"), GMQ_OK);
    gmqPubItem items[3] = { { "q", "one", 3, 0 }, { "q", "tw\0o", 4, 0 }, { "q", "h\xc3\xa9", 3, 0 } };
    uint64_t ids[3] = { 0 };
    size_t stored = 99;
    RC(gmqMpub(c, "lmpub", items, 3, ids, &stored), GMQ_OK);
    CHECK(stored == 3 && ids[0] > 0 && ids[1] > ids[0] && ids[2] > ids[1]);
    for (int i = 0; i < 3; i++) {
        gmqMessage *m = NULL;
        RC(gmqPop(c, "lmpub", "q", 0, &m), GMQ_OK);
        CHECK(m && m->id == ids[i] && m->len == items[i].len && memcmp(m->body, items[i].body, m->len) == 0);
        gmqMessageFree(m);
    }
    /* the third item has no queue: the first two are stored */
    gmqPubItem part[3] = { { "q", "a", 1, 0 }, { "q", "b", 1, 0 }, { "nomatch", "c", 1, 0 } };
    SERVER(gmqMpub(c, "lmpub", part, 3, ids, &stored), "E_INVALID_ROUTE");
    CHECK(stored == 2);
    CHECK(strstr(gmqErrstr(c), "(2 of 3 stored)") != NULL);
    gmqPubItem bin = { "q", "\xff\xfe", 2, 0 };
    RC(gmqMpub(c, "lmpub", &bin, 1, NULL, NULL), GMQ_ERR_ARGS);
    CHECK(strstr(gmqErrstr(c), "UTF-8") != NULL);
    RC(gmqMpub(c, "lmpub", items, 0, NULL, NULL), GMQ_ERR_ARGS);
    SERVER(gmqMpub(c, "bad/t", items, 1, NULL, &stored), "E_INVALID_TOPIC");
    RC(gmqPing(c), GMQ_OK);
    gmqFree(c);
}

static void
case_pop(void)
{
    gmqContext *c = connect_default();
    gmqMessage *m = NULL;
    RC(gmqDeclare(c, "lpop", "q"), GMQ_OK);
    RC(gmqPop(c, "lpop", "q", 0, &m), GMQ_NO_MESSAGE);
    CHECK(m == NULL);
    uint64_t t0 = now_ms();
    RC(gmqPop(c, "lpop", "q", 1, &m), GMQ_NO_MESSAGE);     /* waits about 1 s */
    CHECK(now_ms() - t0 >= 900);
    uint64_t id;
    RC(gmqPub(c, "lpop", "q", "x", 1, 0, &id), GMQ_OK);
    RC(gmqPop(c, "lpop", "q", 5, &m), GMQ_OK);
    CHECK(m && m->id == id && m->retry_count == 0 && strcmp(m->topic, "lpop") == 0 &&
          strcmp(m->bind_key, "q") == 0 && !m->dead && strcmp(m->node, o_addr) == 0);
    RC(gmqAck(c, m), GMQ_OK);
    gmqMessageFree(m);
    /* a pop with no timeout waits until a message comes (from another context) */
    gmqRequest wait = { .call = GMQ_CALL_POP, .topic = "lpop", .bind_key = "q", .timeout_s = -1 };
    RC(gmqAppend(c, &wait), GMQ_OK);
    gmqContext *p = connect_default();
    RC(gmqPub(p, "lpop", "q", "late", 4, 0, &id), GMQ_OK);
    gmqFree(p);
    cur = c;
    gmqReply *r = NULL;
    RC(gmqGetReply(c, &r), GMQ_OK);
    CHECK(r && r->call == GMQ_CALL_POP && r->msg && r->msg->id == id && r->msg->len == 4);
    if (r && r->msg)
        RC(gmqAck(c, r->msg), GMQ_OK);
    gmqReplyFree(r);
    SERVER(gmqPop(c, "lpop", "nope", 0, &m), "E_INVALID_POP");
    SERVER(gmqPop(c, "lpop", "bad/bk", 0, &m), "E_INVALID_BINDKEY");
    SERVER(gmqPop(c, "bad/t", "q", 0, &m), "E_INVALID_PARAMS");
    RC(gmqPop(c, "lpop", "q", 86401, &m), GMQ_ERR_ARGS);
    RC(gmqPop(c, "lpop", "q", 0, &m), GMQ_NO_MESSAGE);
    gmqFree(c);
}

static void
case_ack(void)
{
    gmqContext *c = connect_default();
    gmqMessage *m = NULL;
    uint64_t id;
    RC(gmqDeclare(c, "lack", "q"), GMQ_OK);
    RC(gmqPub(c, "lack", "q", "x", 1, 0, &id), GMQ_OK);
    RC(gmqPop(c, "lack", "q", 0, &m), GMQ_OK);
    RC(gmqAck(c, m), GMQ_OK);
    SERVER(gmqAck(c, m), "E_INVALID_ACK");                  /* twice */
    CHECK(strstr(gmqErrstr(c), "is not exist") != NULL);
    gmqMessageFree(m);
    RC(gmqPub(c, "lack", "q", "y", 1, 0, &id), GMQ_OK);
    RC(gmqPop(c, "lack", "q", 0, &m), GMQ_OK);
    RC(gmqAckId(c, "lack", "q", m->id), GMQ_OK);
    gmqMessageFree(m);
    SERVER(gmqAckId(c, "lack", "q", 0), "E_INVALID_ACK");
    SERVER(gmqAckId(c, "lack", "nope", 5), "E_INVALID_ACK");
    SERVER(gmqAckId(c, "never-made", "q", 5), "E_NOT_FOUND");
    RC(gmqAck(c, NULL), GMQ_ERR_ARGS);
    gmqFree(c);
}

static void
case_dead(void)
{
    gmqContext *c = connect_default();
    gmqMessage *m = NULL, *d = NULL;
    uint64_t id, moved = 0;
    RC(gmqSetTopic(c, "ldead", 0, 1, 1, 0), GMQ_OK);      /* TTR 1 s, no redelivery */
    RC(gmqDeclare(c, "ldead", "q"), GMQ_OK);
    RC(gmqDead(c, "ldead", "q", 0, &d), GMQ_NO_MESSAGE);
    RC(gmqDead(c, "ldead", "q", -1, &d), GMQ_NO_MESSAGE);
    RC(gmqPub(c, "ldead", "q", "\x01\x02", 2, 0, &id), GMQ_OK);
    RC(gmqPop(c, "ldead", "q", 0, &m), GMQ_OK);
    RC(gmqDead(c, "ldead", "q", 10, &d), GMQ_OK);          /* after the TTR */
    CHECK(d && d->id == id && d->dead && d->retry_count == 1 && d->len == 2);
    RC(gmqAck(c, d), GMQ_OK);                               /* the dead letter is done */
    SERVER(gmqAck(c, m), "E_INVALID_ACK");                  /* the same id: nothing in flight */
    gmqMessageFree(m);
    gmqMessageFree(d);
    SERVER(gmqDead(c, "ldead", "nope", 0, &d), "E_INVALID_DEAD");
    SERVER(gmqDead(c, "bad/t", "q", 0, &d), "E_INVALID_PARAMS");
    /* requeue: a dead letter back to the queue */
    RC(gmqPub(c, "ldead", "q", "again", 5, 0, &id), GMQ_OK);
    RC(gmqPop(c, "ldead", "q", 0, &m), GMQ_OK);
    gmqMessageFree(m);
    RC(gmqPeek(c, "ldead", "q", "dead", &d), GMQ_NO_MESSAGE);
    for (int i = 0; i < 50 && gmqPeek(c, "ldead", "q", "dead", &d) == GMQ_NO_MESSAGE; i++)
        gmqPop(c, "ldead", "q", 0, NULL), nanosleep(&(struct timespec) { 0, 100000000 }, NULL);
    CHECK(d && d->id == id && strcmp(d->state, "dead") == 0);
    gmqMessageFree(d);
    RC(gmqRequeue(c, "ldead", "q", 0, &moved), GMQ_OK);
    CHECK(moved == 1);
    RC(gmqPop(c, "ldead", "q", 0, &m), GMQ_OK);
    CHECK(m && m->id == id && m->retry_count == 0);
    RC(gmqAck(c, m), GMQ_OK);
    gmqMessageFree(m);
    SERVER(gmqRequeue(c, "ldead", "q", 12345, &moved), "E_NOT_FOUND");
    SERVER(gmqRequeue(c, "ldead", "nope", 0, &moved), "E_INVALID_DEAD");
    gmqFree(c);
}

static void
case_peek(void)
{
    gmqContext *c = connect_default();
    gmqMessage *m = NULL;
    uint64_t id, late;
    RC(gmqDeclare(c, "lpeek", "q"), GMQ_OK);
    RC(gmqPeek(c, "lpeek", "q", NULL, &m), GMQ_NO_MESSAGE);
    RC(gmqPub(c, "lpeek", "q", "look\0here", 9, 0, &id), GMQ_OK);
    RC(gmqPub(c, "lpeek", "q", "later", 5, 60, &late), GMQ_OK);
    RC(gmqPeek(c, "lpeek", "q", NULL, &m), GMQ_OK);
    CHECK(m && m->id == id && m->len == 9 && memcmp(m->body, "look\0here", 9) == 0 &&
          strcmp(m->state, "ready") == 0 && m->pushed_at_ms > 0);
    gmqMessageFree(m);
    RC(gmqPeek(c, "lpeek", "q", "delayed", &m), GMQ_OK);
    CHECK(m && m->id == late && strcmp(m->state, "delayed") == 0 && m->due_at_ms > m->pushed_at_ms);
    gmqMessageFree(m);
    RC(gmqPeek(c, "lpeek", "q", "dead", &m), GMQ_NO_MESSAGE);
    SERVER(gmqPeek(c, "lpeek", "q", "nope", &m), "E_INVALID_PARAMS");
    CHECK(strstr(gmqErrstr(c), "ready, delayed or dead") != NULL);
    SERVER(gmqPeek(c, "lpeek", "nope", NULL, &m), "E_NOT_FOUND");
    SERVER(gmqPeek(c, "never-made", "q", NULL, &m), "E_NOT_FOUND");
    /* peek delivers nothing */
    RC(gmqPop(c, "lpeek", "q", 0, &m), GMQ_OK);
    CHECK(m && m->id == id);
    gmqMessageFree(m);
    gmqFree(c);
}

static void
case_touch_release(void)
{
    gmqContext *c = connect_default();
    gmqMessage *m = NULL, *m2 = NULL;
    uint64_t id, deadline = 0;
    RC(gmqDeclare(c, "ltouch", "q"), GMQ_OK);
    RC(gmqPub(c, "ltouch", "q", "t", 1, 0, &id), GMQ_OK);
    RC(gmqPop(c, "ltouch", "q", 0, &m), GMQ_OK);
    RC(gmqTouch(c, m, &deadline), GMQ_OK);
    CHECK(deadline > (uint64_t) time(NULL) * 1000);
    RC(gmqRelease(c, m, 0), GMQ_OK);
    SERVER(gmqTouch(c, m, &deadline), "E_NOT_FOUND");        /* released: not in flight */
    SERVER(gmqRelease(c, m, 0), "E_NOT_FOUND");
    RC(gmqPop(c, "ltouch", "q", 0, &m2), GMQ_OK);
    CHECK(m2 && m2->id == id && m2->retry_count == 1);
    RC(gmqRelease(c, m2, 60), GMQ_OK);                        /* back after 60 s */
    gmqMessageFree(m2);
    RC(gmqPop(c, "ltouch", "q", 0, &m2), GMQ_NO_MESSAGE);
    RC(gmqPeek(c, "ltouch", "q", "delayed", &m2), GMQ_OK);
    CHECK(m2 && m2->id == id);
    gmqMessageFree(m2);
    SERVER(gmqRelease(c, m, 999999999), "E_INVALID_DELAY");
    RC(gmqTouch(c, NULL, NULL), GMQ_ERR_ARGS);
    RC(gmqRelease(c, NULL, 0), GMQ_ERR_ARGS);
    gmqMessageFree(m);
    gmqFree(c);
}

static void
case_stats_set(void)
{
    gmqContext *c = connect_default();
    char *json = NULL;
    RC(gmqDeclare(c, "lstats", "q"), GMQ_OK);
    SERVER(gmqDeclare(c, "lstats", "q"), "E_INVALID_DECLARE");
    SERVER(gmqDeclare(c, "lstats", "bad/bk"), "E_INVALID_BINDKEY");
    RC(gmqPub(c, "lstats", "q", "x", 1, 0, NULL), GMQ_OK);
    RC(gmqStats(c, "lstats", &json), GMQ_OK);
    CHECK(json && strstr(json, "\"name\":\"lstats\"") && strstr(json, "\"push_num\":1"));
    free(json);
    json = NULL;
    SERVER(gmqStats(c, "never-made", &json), "E_NOT_FOUND");
    CHECK(json == NULL);
    RC(gmqSetTopic(c, "lstats", 1, 0, 0, 0), GMQ_OK);
    RC(gmqSetTopic(c, "lstats", 0, 3, 10, 2), GMQ_OK);
    SERVER(gmqSetTopic(c, "lstats", 0, 9, 10, 2), "E_INVALID_SET");
    SERVER(gmqSetTopic(c, "lstats", 2, 0, 0, 0), "E_INVALID_SET");
    RC(gmqStats(c, "lstats", &json), GMQ_OK);
    CHECK(json && strstr(json, "\"mode\":3") && strstr(json, "\"msg_ttr\":10"));
    free(json);
    gmqFree(c);
}

static void
case_channels(void)
{
    gmqContext *c = connect_default();
    gmqContext *p = connect_default();
    char *body = NULL;
    size_t len = 0;
    cur = c;
    RC(gmqSubscribe(c, "news"), GMQ_OK);
    SERVER(gmqSubscribe(c, "news"), "E_INVALID_SUBSCRIBE");
    SERVER(gmqSubscribe(c, "bad/ch"), "E_INVALID_CHANNEL");
    cur = p;
    RC(gmqPublish(p, "news", "b\0in", 4), GMQ_OK);
    SERVER(gmqPublish(p, "nobody", "x", 1), "E_INVALID_PUBLISH");
    cur = c;
    RC(gmqChannelRead(c, 5000, &body, &len), GMQ_OK);
    CHECK(body && len == 4 && memcmp(body, "b\0in", 4) == 0);
    free(body);
    RC(gmqChannelRead(c, 100, &body, &len), GMQ_NO_MESSAGE);
    RC(gmqUnsubscribe(c, "news"), GMQ_OK);
    SERVER(gmqUnsubscribe(c, "news"), "E_INVALID_CHANNEL");
    cur = p;
    SERVER(gmqPublish(p, "news", "x", 1), "E_INVALID_PUBLISH");
    RC(gmqSubscribe(p, NULL), GMQ_ERR_ARGS);
    gmqFree(p);
    gmqFree(c);
}

static void
case_pipeline(void)
{
    gmqContext *c = connect_default();
    gmqReply *r = NULL;
    enum { N = 500 };
    RC(gmqGetReply(c, &r), GMQ_ERR_STATE);
    CHECK(r == NULL);
    RC(gmqDeclare(c, "lpipe", "q"), GMQ_OK);
    char body[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(body, sizeof(body), "m%d", i);
        RC(gmqAppendPub(c, "lpipe", "q", body, (size_t) n, 0), GMQ_OK);
    }
    /* an error in the middle answers in its turn */
    RC(gmqAppendPub(c, "bad/t", "q", "x", 1, 0), GMQ_OK);
    RC(gmqAppendPub(c, "has space", "q", "x", 1, 0), GMQ_ERR_ARGS);   /* refused, not appended */
    uint64_t last = 0;
    for (int i = 0; i < N; i++) {
        RC(gmqGetReply(c, &r), GMQ_OK);
        CHECK(r && r->call == GMQ_CALL_PUB && r->id > last);
        last = r ? r->id : last;
        gmqReplyFree(r);
    }
    RC(gmqGetReply(c, &r), GMQ_ERR_SERVER);
    CHECK(r && strcmp(r->errcode, "E_INVALID_TOPIC") == 0);
    gmqReplyFree(r);
    RC(gmqGetReply(c, &r), GMQ_ERR_STATE);
    /* pops and their acks, pipelined */
    gmqRequest pop = { .call = GMQ_CALL_POP, .topic = "lpipe", .bind_key = "q", .timeout_s = 0 };
    for (int i = 0; i < N; i++)
        RC(gmqAppend(c, &pop), GMQ_OK);
    gmqMessage *msgs[N];
    for (int i = 0; i < N; i++) {
        msgs[i] = NULL;
        RC(gmqGetReply(c, &r), GMQ_OK);
        int n = snprintf(body, sizeof(body), "m%d", i);
        CHECK(r && r->msg && r->msg->len == (size_t) n && memcmp(r->msg->body, body, (size_t) n) == 0);
        msgs[i] = gmqReplyTakeMessage(r);
        gmqReplyFree(r);
        if (msgs[i])
            RC(gmqAppendAck(c, msgs[i]), GMQ_OK);
    }
    for (int i = 0; i < N; i++) {
        RC(gmqGetReply(c, &r), GMQ_OK);
        CHECK(r && r->call == GMQ_CALL_ACK);
        gmqReplyFree(r);
        gmqMessageFree(msgs[i]);
    }
    RC(gmqPop(c, "lpipe", "q", 0, NULL), GMQ_NO_MESSAGE);
    /* a context freed with appended requests answers them GMQ_ERR_CLOSED (no leak) */
    RC(gmqAppend(c, &pop), GMQ_OK);
    gmqFree(c);
}

/* every byte value through pub and the raw pop; `binary pub` leaves one for HTTP */
static void
case_binary(void)
{
    gmqContext *c = connect_default();
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char) i;
    uint64_t id;
    RC(gmqDeclare(c, "lbin", "q"), GMQ_OK);
    RC(gmqPub(c, "lbin", "q", all, sizeof(all), 0, &id), GMQ_OK);
    gmqMessage *m = NULL;
    RC(gmqPop(c, "lbin", "q", 0, &m), GMQ_OK);
    CHECK(m && m->id == id && m->len == 256 && memcmp(m->body, all, 256) == 0 && m->body[256] == 0);
    RC(gmqAck(c, m), GMQ_OK);
    gmqMessageFree(m);
    /* a big body with every value repeated */
    size_t big = 300000;
    char *b = malloc(big);
    for (size_t i = 0; i < big; i++)
        b[i] = (char) (i * 7 + i / 256);
    RC(gmqPub(c, "lbin", "q", b, big, 0, &id), GMQ_OK);
    RC(gmqPop(c, "lbin", "q", 0, &m), GMQ_OK);
    CHECK(m && m->len == big && memcmp(m->body, b, big) == 0);
    RC(gmqAck(c, m), GMQ_OK);
    gmqMessageFree(m);
    free(b);
    /* one more for the HTTP side to pop */
    RC(gmqPub(c, "lbin", "q", all, sizeof(all), 0, &id), GMQ_OK);
    printf("%" PRIu64 "\n", id);
    gmqFree(c);
}

/* the node's HTTP port does not speak the TCP protocol */
static void
case_protocol(void)
{
    gmqOptions o;
    gmqOptionsInit(&o);
    gmqContext *c = gmqConnect(o_http, &o);
    cur = c;
    RC(gmqErr(c), GMQ_OK);             /* the TCP connection itself works */
    RC(gmqPing(c), GMQ_ERR_PROTOCOL);
    CHECK(strstr(gmqErrstr(c), "not gmq's protocol") != NULL);
    gmqFree(c);
}

static void
case_auth(void)
{
    gmqOptions o;
    gmqOptionsInit(&o);
    o.auth_token = o_token;
    gmqContext *c = connect_opts(&o);
    RC(gmqErr(c), GMQ_OK);
    RC(gmqPing(c), GMQ_OK);
    RC(gmqPub(c, "lauth", NULL, "x", 1, 0, NULL), GMQ_OK);
    gmqFree(c);
    o.auth_token = "wrong-token";
    c = connect_opts(&o);
    RC(gmqErr(c), GMQ_OK);                          /* refused at the first request */
    SERVER(gmqPing(c), "E_AUTH");
    CHECK(strstr(gmqErrstr(c), "wrong token") != NULL);
    gmqFree(c);
    o.auth_token = NULL;
    c = connect_opts(&o);
    SERVER(gmqPing(c), "E_AUTH");
    CHECK(strstr(gmqErrstr(c), "authentication required") != NULL);
    gmqFree(c);
}

static void
case_tls(void)
{
    gmqOptions o;
    gmqOptionsInit(&o);
    o.tls = 1;
    o.tls_ca_file = cert("ca.pem");
    o.tls_cert_file = cert("client.pem");
    o.tls_key_file = cert("client.key");
    o.auth_token = o_token;
    gmqContext *c = connect_opts(&o);
    RC(gmqErr(c), GMQ_OK);
    RC(gmqPing(c), GMQ_OK);
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char) i;
    uint64_t id;
    RC(gmqPub(c, "ltls", NULL, all, 256, 0, &id), GMQ_OK);
    gmqMessage *m = NULL;
    RC(gmqPop(c, "ltls", "default", 0, &m), GMQ_OK);
    CHECK(m && m->len == 256 && memcmp(m->body, all, 256) == 0);
    RC(gmqAck(c, m), GMQ_OK);
    gmqMessageFree(m);
    gmqFree(c);
    /* the server's certificate from another CA */
    o.tls_ca_file = cert("other-ca.pem");
    o.retry_timeout_ms = 1000;
    c = connect_opts(&o);
    RC(gmqErr(c), GMQ_ERR_TLS);
    CHECK(strstr(gmqErrstr(c), "certificate verification failed") != NULL);
    RC(gmqPing(c), GMQ_ERR_TLS);
    gmqFree(c);
    /* no client certificate: refused by the node */
    o.tls_ca_file = cert("ca.pem");
    o.tls_cert_file = o.tls_key_file = NULL;
    c = connect_opts(&o);
    int rc = gmqPing(c);
    CHECK(rc == GMQ_ERR_TLS || rc == GMQ_ERR_IO);
    gmqFree(c);
    /* a wrong name */
    o.tls_cert_file = cert("client.pem");
    o.tls_key_file = cert("client.key");
    o.tls_server_name = "not-this-host.example";
    c = connect_opts(&o);
    RC(gmqErr(c), GMQ_ERR_TLS);
    gmqFree(c);
    /* files that do not load */
    o.tls_server_name = NULL;
    o.tls_ca_file = cert("missing.pem");
    c = connect_opts(&o);
    RC(gmqErr(c), GMQ_ERR_TLS);
    CHECK(strstr(gmqErrstr(c), "CA file") != NULL);
    RC(gmqPing(c), GMQ_ERR_TLS);
    gmqFree(c);
    o.tls_ca_file = cert("ca.pem");
    o.tls_key_file = cert("other-client.key");
    c = connect_opts(&o);
    RC(gmqErr(c), GMQ_ERR_TLS);
    gmqFree(c);
    /* TLS against a plain-text port (the HTTP one here is TLS too: use a closed port) */
}

/* ---- the async API on one libev loop ---- */

typedef struct {
    int pubs, pops, acks, errors, closed, consumed, events;
    struct ev_loop *loop;
    gmqAsyncContext *acs[10];
    int nacs;
    uint64_t start;
} async_state_t;

static async_state_t as;

static void
on_ack(gmqAsyncContext *ac, gmqReply *r, void *priv)
{
    (void) ac; (void) priv;
    if (r->rc == GMQ_OK)
        as.acks++;
    else
        as.errors++;
}

static void
on_pop(gmqAsyncContext *ac, gmqReply *r, void *priv)
{
    (void) priv;
    if (r->rc == GMQ_OK && r->msg) {
        as.pops++;
        gmqAsyncAck(ac, r->msg, on_ack, NULL);
    } else {
        fprintf(stderr, "async pop: %s %s\n", gmqStrerror(r->rc), r->errstr);
        as.errors++;
    }
}

static void
on_pub(gmqAsyncContext *ac, gmqReply *r, void *priv)
{
    if (r->rc != GMQ_OK) {
        fprintf(stderr, "async pub: %s %s\n", gmqStrerror(r->rc), r->errstr);
        as.errors++;
        return;
    }
    as.pubs++;
    gmqAsyncPop(ac, (const char *) priv, "default", 5, on_pop, NULL);
}

static void
on_closed(gmqAsyncContext *ac, gmqReply *r, void *priv)
{
    (void) ac; (void) priv;
    if (r->rc == GMQ_ERR_CLOSED)
        as.closed++;
}

static void
on_consumed(gmqAsyncContext *ac, gmqReply *r, void *priv)
{
    (void) priv;
    if (r->rc != GMQ_OK)
        return;
    as.consumed++;
    gmqAsyncAck(ac, r->msg, on_ack, NULL);
}

static void
on_event(gmqAsyncContext *ac, int event, const char *node, const char *detail, void *priv)
{
    (void) ac; (void) node; (void) detail; (void) priv;
    if (event == GMQ_EVENT_CONNECTED)
        as.events++;
}

static void
on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) revents; (void) t;
    if ((as.acks >= 100 + 20 && as.consumed >= 20) || as.errors > 0 || now_ms() > as.start + 20000)
        ev_break(loop, EVBREAK_ALL);
}

static void
on_free_in_callback(gmqAsyncContext *ac, gmqReply *r, void *priv)
{
    (void) r; (void) priv;
    gmqAsyncFree(ac);           /* inside a callback: the others get GMQ_ERR_CLOSED after */
    as.closed += 100;
}

static void
case_async(void)
{
    static char topics[10][24];
    as.loop = ev_loop_new(0);
    gmqOptions o;
    gmqOptionsInit(&o);
    o.auth_token = o_token;
    /* ten contexts on one loop, each publishing ten messages and popping them */
    for (int i = 0; i < 10; i++) {
        snprintf(topics[i], sizeof(topics[i]), "lasync%d", i);
        gmqAsyncContext *ac = gmqAsyncConnect(o_addr, &o);
        CHECK(ac && gmqAsyncErr(ac) == GMQ_OK);
        CHECK(gmqLibevAttach(as.loop, ac) == GMQ_OK);
        CHECK(gmqLibevAttach(as.loop, ac) == GMQ_ERR_STATE);
        gmqAsyncSetEventCallback(ac, on_event, NULL);
        for (int k = 0; k < 10; k++)
            CHECK(gmqAsyncPub(ac, topics[i], NULL, "async", 5, 0, on_pub, topics[i]) == GMQ_OK);
        as.acs[as.nacs++] = ac;
    }
    /* a consumer on another context */
    gmqAsyncContext *cons = gmqAsyncConnect(o_addr, &o);
    gmqLibevAttach(as.loop, cons);
    int id = gmqAsyncConsume(cons, "lasyncc", "default", on_consumed, NULL);
    CHECK(id > 0);
    CHECK(gmqAsyncConsume(cons, "bad topic", "q", on_consumed, NULL) == GMQ_ERR_ARGS);
    for (int k = 0; k < 20; k++)
        gmqAsyncPub(as.acs[0], "lasyncc", NULL, "c", 1, 0, NULL, NULL);
    ev_timer tick;
    ev_timer_init(&tick, on_tick, 0.05, 0.05);
    ev_timer_start(as.loop, &tick);
    as.start = now_ms();
    ev_run(as.loop, 0);
    CHECK(as.errors == 0);
    CHECK(as.pubs == 100);
    CHECK(as.pops == 100);
    CHECK(as.consumed == 20);
    CHECK(as.acks == 120);
    CHECK(as.events >= 10);
    if (as.consumed != 20) fprintf(stderr, "consumed %d acks %d\n", as.consumed, as.acks);
    gmqAsyncStopConsume(cons, id);
    /* a request still waiting when the context is freed gets GMQ_ERR_CLOSED */
    gmqAsyncPop(as.acs[1], "lasync1", "default", 30, on_closed, NULL);
    gmqAsyncFree(as.acs[1]);
    CHECK(as.closed == 1);
    /* freed inside a callback */
    gmqRequest ping = { .call = GMQ_CALL_PING };
    gmqAsyncSend(as.acs[2], &ping, on_free_in_callback, NULL);
    gmqAsyncPop(as.acs[2], "lasync2", "default", 30, on_closed, NULL);
    ev_timer_stop(as.loop, &tick);
    ev_timer_init(&tick, on_tick, 0.05, 0.05);
    ev_timer_start(as.loop, &tick);
    for (int i = 0; i < 100 && as.closed < 102; i++)
        ev_run(as.loop, EVRUN_ONCE);
    CHECK(as.closed == 102);
    /* graceful disconnect: pending answers come first */
    int before = as.pubs;
    gmqAsyncPub(as.acs[3], "lasync3", NULL, "x", 1, 0, on_pub, NULL);
    gmqAsyncDisconnect(as.acs[3]);
    CHECK(gmqAsyncPub(as.acs[3], "lasync3", NULL, "x", 1, 0, NULL, NULL) == GMQ_ERR_STATE);
    for (int i = 0; i < 100 && as.pubs == before; i++)
        ev_run(as.loop, EVRUN_ONCE);
    CHECK(as.pubs == before + 1);
    for (int i = 4; i < 10; i++)
        gmqAsyncFree(as.acs[i]);
    gmqAsyncFree(as.acs[0]);
    gmqAsyncFree(cons);
    ev_timer_stop(as.loop, &tick);
    ev_loop_destroy(as.loop);
}

static const struct {
    const char *name;
    void (*fn)(void);
} cases[] = {
    { "connect", case_connect },   { "pub", case_pub },         { "mpub", case_mpub },
    { "pop", case_pop },           { "ack", case_ack },         { "dead", case_dead },
    { "peek", case_peek },         { "touch_release", case_touch_release },
    { "stats_set", case_stats_set }, { "channels", case_channels },
    { "pipeline", case_pipeline }, { "binary", case_binary },   { "protocol", case_protocol },
    { "auth", case_auth },         { "tls", case_tls },         { "async", case_async },
};

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: lib_api CASE addr=HOST:PORT [http=..] [certs=DIR] [token=..]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "addr=", 5) == 0) o_addr = argv[i] + 5;
        else if (strncmp(argv[i], "http=", 5) == 0) o_http = argv[i] + 5;
        else if (strncmp(argv[i], "certs=", 6) == 0) o_certs = argv[i] + 6;
        else if (strncmp(argv[i], "token=", 6) == 0) o_token = argv[i] + 6;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strcmp(cases[i].name, argv[1]) == 0) {
            cases[i].fn();
            if (failures)
                fprintf(stderr, "%s: %d check(s) failed\n", argv[1], failures);
            return failures ? 1 : 0;
        }
    }
    fprintf(stderr, "lib_api: unknown case %s\n", argv[1]);
    return 2;
}

/*
 * check_call.c - libgmq's calls (client/call.c): requests encoded as the
 * node parses them, arguments refused before anything is sent, reply
 * frames decoded (raw messages, results, errors with their E_ code, mpub's
 * ids and partial counts, peek's JSON with NUL bytes), retry classes.
 */
#include "client/lib.h"
#include "proto/tcp.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static gmq_call_t *
t_call(const gmqRequest *req)
{
    int rc;
    char err[300];
    gmq_call_t *c = gmq_call_new(NULL, req, &rc, err, sizeof(err));
    ck_assert_msg(c != NULL, "refused: %s", err);
    ck_assert_int_eq(rc, GMQ_OK);
    return c;
}

static void
t_wire(const gmqRequest *req, const char *want, size_t wantlen)
{
    gmq_call_t *c = t_call(req);
    ck_assert_msg(c->wire.len == wantlen && memcmp(c->wire.data, want, wantlen) == 0,
                  "wire %.*s", (int) c->wire.len, c->wire.data);
    gmq_call_free(c);
}

static void
t_refused(const gmqRequest *req, const char *text)
{
    int rc;
    char err[300] = "";
    ck_assert(gmq_call_new(NULL, req, &rc, err, sizeof(err)) == NULL);
    ck_assert_int_eq(rc, GMQ_ERR_ARGS);
    ck_assert_msg(strstr(err, text) != NULL, "%s", err);
}

START_TEST(test_encode)
{
    gmqRequest pub = { .call = GMQ_CALL_PUB, .topic = "t", .bind_key = "rk", .body = "a\0b",
                       .len = 3, .delay_s = 5 };
    t_wire(&pub, "pub t rk 5\n\0\0\0\3a\0b", 18);
    gmqRequest pub2 = { .call = GMQ_CALL_PUB, .topic = "t" };     /* default queue, empty body */
    t_wire(&pub2, "pub t  0\n\0\0\0\0", 13);
    gmqRequest pop = { .call = GMQ_CALL_POP, .topic = "t", .bind_key = "q", .timeout_s = -1 };
    t_wire(&pop, "pop t q raw\n", 12);
    pop.timeout_s = 0;
    t_wire(&pop, "pop t q 0 raw\n", 14);
    gmqRequest dead = { .call = GMQ_CALL_DEAD, .topic = "t", .timeout_s = 7 };
    t_wire(&dead, "dead t  7 raw\n", 14);
    gmqMessage m = { .id = 42 };
    strcpy(m.topic, "t");
    strcpy(m.bind_key, "q");
    strcpy(m.node, "/gmq/node-3");
    gmqRequest ack = { .call = GMQ_CALL_ACK, .msg = &m };
    gmq_call_t *c = t_call(&ack);
    ck_assert_str_eq(c->pin, "/gmq/node-3");
    ck_assert_int_eq(c->idempotent, 1);
    ck_assert(memcmp(c->wire.data, "ack 42 t q\n", c->wire.len) == 0);
    gmq_call_free(c);
    gmqRequest rel = { .call = GMQ_CALL_RELEASE, .msg = &m, .delay_s = 3 };
    t_wire(&rel, "release t q 42 3\n", 17);
    gmqRequest touch = { .call = GMQ_CALL_TOUCH, .topic = "t", .bind_key = "q", .id = 9 };
    t_wire(&touch, "touch t q 9\n", 12);
    gmqRequest rq = { .call = GMQ_CALL_REQUEUE, .topic = "t", .bind_key = "q" };
    t_wire(&rq, "requeue t q\n", 12);
    gmqRequest peek = { .call = GMQ_CALL_PEEK, .topic = "t", .bind_key = "q", .state = "dead" };
    t_wire(&peek, "peek t q dead\n", 14);
    gmqRequest set = { .call = GMQ_CALL_SET, .topic = "t", .auto_ack = 1 };
    t_wire(&set, "set t 1\n", 8);
    gmqRequest set5 = { .call = GMQ_CALL_SET, .topic = "t", .mode = 3, .ttr_s = 30, .retry = 2 };
    t_wire(&set5, "set t 0 3 30 2\n", 15);
    gmqRequest stats = { .call = GMQ_CALL_STATS, .topic = "t" };
    t_wire(&stats, "stats t\n", 8);
    gmqRequest publish = { .call = GMQ_CALL_PUBLISH, .channel = "ch", .body = "hi", .len = 2 };
    t_wire(&publish, "publish ch\n\0\0\0\2hi", 17);
    gmqRequest ping = { .call = GMQ_CALL_PING };
    t_wire(&ping, "ping\n", 5);
    /* what may be sent again after a lost answer */
    gmqRequest p1 = { .call = GMQ_CALL_PUB, .topic = "t" };
    c = t_call(&p1);
    ck_assert_int_eq(c->idempotent, 0);
    ck_assert_int_eq(c->publish, 1);
    gmq_call_free(c);
}
END_TEST

START_TEST(test_encode_mpub)
{
    gmqPubItem items[] = { { "a", "x\"\n\0y", 5, 0 }, { NULL, "", 0, 9 } };
    gmqRequest req = { .call = GMQ_CALL_MPUB, .topic = "t", .items = items, .nitems = 2 };
    gmq_call_t *c = t_call(&req);
    static const char want[] = "mpub t 2\n"
        "\0\0\0\x31{\"body\":\"x\\\"\\n\\u0000y\",\"route_key\":\"a\",\"delay\":0}"
        "\0\0\0\x24{\"body\":\"\",\"route_key\":\"\",\"delay\":9}";
    ck_assert_uint_eq(c->wire.len, sizeof(want) - 1);
    ck_assert(memcmp(c->wire.data, want, sizeof(want) - 1) == 0);
    ck_assert_uint_eq(c->nitems, 2);
    gmq_call_free(c);
    /* the node parses it back into two items */
    gmq_tcp_limits_t lim = { 4096, 1 << 20, 1000 };
    gmq_tcp_parser_t p;
    gmq_tcp_parser_init(&p, &lim);
    gmq_tcp_event_t ev;
    size_t used;
    ck_assert_int_eq(gmq_tcp_parse(&p, want, sizeof(want) - 1, &used, &ev), GMQ_OK);
    ck_assert_int_eq(ev.nbodies, 2);
}
END_TEST

START_TEST(test_refused)
{
    gmqRequest r = { .call = GMQ_CALL_PUB, .topic = "a b" };
    t_refused(&r, "topic must not contain spaces");
    r.topic = NULL;
    t_refused(&r, "topic is required");
    r.topic = "t";
    r.bind_key = "x\ny";
    t_refused(&r, "route key must not contain");
    gmqRequest pop = { .call = GMQ_CALL_POP, .topic = "t", .timeout_s = 86401 };
    t_refused(&pop, "timeout_s");
    pop.timeout_s = -2;
    t_refused(&pop, "timeout_s");
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pop.timeout_s = 0;
    pop.topic = big;
    t_refused(&pop, "longer than 128");
    gmqPubItem bad = { NULL, "\xff", 1, 0 };
    gmqRequest mp = { .call = GMQ_CALL_MPUB, .topic = "t", .items = &bad, .nitems = 1 };
    t_refused(&mp, "valid UTF-8");
    mp.nitems = 0;
    t_refused(&mp, "1..1000 items");
    gmqRequest body = { .call = GMQ_CALL_PUB, .topic = "t", .len = 3 };
    t_refused(&body, "no pointer");
    gmqRequest sub = { .call = GMQ_CALL_SUBSCRIBE };
    t_refused(&sub, "channel is required");
    gmqRequest bogus = { .call = (gmqCall) 99, .topic = "t" };
    t_refused(&bogus, "unknown call");
}
END_TEST

static gmqReply *
t_decode(gmqCall call, uint16_t type, const char *data, size_t len)
{
    gmq_call_t c;
    memset(&c, 0, sizeof(c));
    c.call = call;
    c.nitems = 3;
    strcpy(c.topic, "t");
    strcpy(c.bind_key, "q");
    return gmq_call_decode(&c, "127.0.0.1:9503", type, data, len);
}

START_TEST(test_decode)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    char body[256];
    for (int i = 0; i < 256; i++)
        body[i] = (char) i;
    gmq_tcp_put_raw(&b, 1309830092066656256ull, 2, body, sizeof(body));
    gmqReply *r = t_decode(GMQ_CALL_POP, GMQ_TCP_RAW, b.data + 6, b.len - 6);
    ck_assert_int_eq(r->rc, GMQ_OK);
    ck_assert_uint_eq(r->msg->id, 1309830092066656256ull);
    ck_assert_uint_eq(r->msg->retry_count, 2);
    ck_assert_uint_eq(r->msg->len, 256);
    ck_assert(memcmp(r->msg->body, body, 256) == 0);
    ck_assert_int_eq(r->msg->body[256], '\0');
    ck_assert_str_eq(r->msg->node, "127.0.0.1:9503");
    ck_assert_str_eq(r->msg->bind_key, "q");
    gmqMessage *m = gmqReplyTakeMessage(r);
    ck_assert(r->msg == NULL);
    gmqMessageFree(m);
    gmqReplyFree(r);
    gmq_buf_free(&b);

    r = t_decode(GMQ_CALL_DEAD, GMQ_TCP_ERROR, "no message", 10);
    ck_assert_int_eq(r->rc, GMQ_NO_MESSAGE);
    gmqReplyFree(r);
    static const char e[] = "E_INVALID_ACK - msgId:1 is not exist.";
    r = t_decode(GMQ_CALL_ACK, GMQ_TCP_ERROR, e, sizeof(e) - 1);
    ck_assert_int_eq(r->rc, GMQ_ERR_SERVER);
    ck_assert_str_eq(r->errcode, "E_INVALID_ACK");
    ck_assert_str_eq(r->errstr, e);
    gmqReplyFree(r);
    /* "no message" is an error for other calls */
    r = t_decode(GMQ_CALL_ACK, GMQ_TCP_ERROR, "no message", 10);
    ck_assert_int_eq(r->rc, GMQ_ERR_SERVER);
    ck_assert_str_eq(r->errcode, "");
    gmqReplyFree(r);

    r = t_decode(GMQ_CALL_PUB, GMQ_TCP_RESULT, "1309830092066656256", 19);
    ck_assert_int_eq(r->rc, GMQ_OK);
    ck_assert_uint_eq(r->id, 1309830092066656256ull);
    gmqReplyFree(r);
    static const char ids[] = "[1309830092075044864,1309830092075044865,3]";
    r = t_decode(GMQ_CALL_MPUB, GMQ_TCP_RESULT, ids, sizeof(ids) - 1);
    ck_assert_int_eq(r->rc, GMQ_OK);
    ck_assert_uint_eq(r->nids, 3);
    ck_assert_uint_eq(r->value, 3);
    ck_assert_uint_eq(r->ids[1], 1309830092075044865ull);
    gmqReplyFree(r);
    static const char part[] = "E_INVALID_ROUTE - routeKey:zz is not match with queue, the mode is 1 "
                               "(2 of 3 stored)";
    r = t_decode(GMQ_CALL_MPUB, GMQ_TCP_ERROR, part, sizeof(part) - 1);
    ck_assert_int_eq(r->rc, GMQ_ERR_SERVER);
    ck_assert_uint_eq(r->value, 2);
    ck_assert_str_eq(r->errcode, "E_INVALID_ROUTE");
    gmqReplyFree(r);
    r = t_decode(GMQ_CALL_REQUEUE, GMQ_TCP_RESULT, "{\"requeued\":4}", 14);
    ck_assert_uint_eq(r->value, 4);
    gmqReplyFree(r);
    r = t_decode(GMQ_CALL_TOUCH, GMQ_TCP_RESULT, "{\"deadline\":1796173751587}", 26);
    ck_assert_uint_eq(r->value, 1796173751587ull);
    gmqReplyFree(r);
    r = t_decode(GMQ_CALL_STATS, GMQ_TCP_RESULT, "{\"name\":\"t\"}", 12);
    ck_assert_int_eq(r->rc, GMQ_OK);
    ck_assert_str_eq(r->text, "{\"name\":\"t\"}");
    ck_assert_uint_eq(r->len, 12);
    gmqReplyFree(r);
    static const char peek[] = "{\"id\":\"7\",\"body\":\"a\\u0000b\",\"retry_count\":1,\"state\":\"delayed\","
                               "\"pushed_at\":10,\"due_at\":20}";
    r = t_decode(GMQ_CALL_PEEK, GMQ_TCP_RESULT, peek, sizeof(peek) - 1);
    ck_assert_int_eq(r->rc, GMQ_OK);
    ck_assert_uint_eq(r->msg->id, 7);
    ck_assert_uint_eq(r->msg->len, 3);
    ck_assert(memcmp(r->msg->body, "a\0b", 3) == 0);
    ck_assert_str_eq(r->msg->state, "delayed");
    ck_assert_uint_eq(r->msg->pushed_at_ms, 10);
    ck_assert_uint_eq(r->msg->due_at_ms, 20);
    gmqReplyFree(r);
    static const char json[] = "{\"id\":\"5\",\"body\":\"hi\",\"retry_count\":0}";
    r = t_decode(GMQ_CALL_POP, GMQ_TCP_MESSAGE, json, sizeof(json) - 1);
    ck_assert_uint_eq(r->msg->id, 5);
    ck_assert_str_eq(r->msg->body, "hi");
    gmqReplyFree(r);
}
END_TEST

START_TEST(test_decode_mismatch)
{
    /* a frame that cannot answer the call is a protocol error (NULL) */
    ck_assert(t_decode(GMQ_CALL_POP, GMQ_TCP_RESULT, "ok", 2) == NULL);
    ck_assert(t_decode(GMQ_CALL_PUB, GMQ_TCP_RESULT, "12x", 3) == NULL);
    ck_assert(t_decode(GMQ_CALL_PUB, GMQ_TCP_RAW, "123456789012", 12) == NULL);
    ck_assert(t_decode(GMQ_CALL_POP, GMQ_TCP_RAW, "short", 5) == NULL);
    ck_assert(t_decode(GMQ_CALL_MPUB, GMQ_TCP_RESULT, "[1,2]", 5) == NULL);   /* 3 items sent */
    ck_assert(t_decode(GMQ_CALL_MPUB, GMQ_TCP_RESULT, "[1,2,3.5]", 9) == NULL);
    ck_assert(t_decode(GMQ_CALL_REQUEUE, GMQ_TCP_RESULT, "{}", 2) == NULL);
    ck_assert(t_decode(GMQ_CALL_PEEK, GMQ_TCP_RESULT, "{\"id\":\"x\"}", 10) == NULL);
    ck_assert(t_decode(GMQ_CALL_PING, GMQ_TCP_PING, "ping", 4) == NULL);
}
END_TEST

START_TEST(test_classify)
{
    ck_assert_int_eq(gmq_call_classify("E_UNAVAILABLE", "E_UNAVAILABLE - topic t: worker went away "
                     "(killed by signal 9) before the request reached it; nothing was done; retry"),
                     GMQ_RETRY_SAFE);
    ck_assert_int_eq(gmq_call_classify("E_UNAVAILABLE", "E_UNAVAILABLE - topic t: worker went away "
                     "(killed by signal 9) after receiving the request: its outcome is unknown (it "
                     "may have been applied)"), GMQ_RETRY_MAYBE);
    ck_assert_int_eq(gmq_call_classify("E_UNAVAILABLE", "E_UNAVAILABLE - topic t: worker went away "
                     "(x); retry"), GMQ_RETRY_SAFE);
    ck_assert_int_eq(gmq_call_classify("E_UNAVAILABLE", "E_UNAVAILABLE - node is shutting down"),
                     GMQ_RETRY_SAFE);
    ck_assert_int_eq(gmq_call_classify("E_UNAVAILABLE", "E_UNAVAILABLE - topic t is unavailable "
                     "(crashloop: x)"), GMQ_RETRY_NO);
    ck_assert_int_eq(gmq_call_classify("E_NOT_FOUND", "E_NOT_FOUND - topic t was deleted; nothing "
                     "was done; retry"), GMQ_RETRY_NO);
}
END_TEST

START_TEST(test_public_helpers)
{
    gmqOptions o, d;
    gmqOptionsInit(&o);
    ck_assert_int_eq(o.reconnect, 1);
    ck_assert_int_eq(o.tls_verify, 1);
    o.backoff_max_ms = 1;
    o.auth_token = "tok";
    gmq_call_options(&d, &o);
    ck_assert_int_eq(d.backoff_max_ms, d.backoff_min_ms);
    ck_assert_str_eq(d.auth_token, "tok");
    ck_assert(d.auth_token != o.auth_token);
    ck_assert(d.tls_ca_file == NULL);
    gmq_call_options_free(&d);
    ck_assert_str_eq(gmqStrerror(GMQ_ERR_UNKNOWN), "GMQ_ERR_UNKNOWN");
    ck_assert_str_eq(gmqStrerror(12345), "GMQ_UNKNOWN");
    gmqReplyFree(NULL);
    gmqMessageFree(NULL);
    ck_assert(gmqReplyTakeMessage(NULL) == NULL);
}
END_TEST

static Suite *
call_suite(void)
{
    Suite *s = suite_create("call");
    TCase *tc = tcase_create("call");
    tcase_add_test(tc, test_encode);
    tcase_add_test(tc, test_encode_mpub);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_decode);
    tcase_add_test(tc, test_decode_mismatch);
    tcase_add_test(tc, test_classify);
    tcase_add_test(tc, test_public_helpers);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(call_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

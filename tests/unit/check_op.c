/*
 * check_op.c - the typed operation codecs: a round trip of every request
 * op and reply kind, every truncation rejected, names and route keys over
 * their limits rejected, trailing bytes and unknown ops rejected.
 */
#include "proto/op.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gmq_op_str_t
S(const char *s)
{
    gmq_op_str_t v = { s, strlen(s) };
    return v;
}

/* one of each request op, fields set to distinct values */
static int
sample_req(int i, gmq_op_req_t *r, gmq_buf_t *items)
{
    memset(r, 0, sizeof(*r));
    r->auto_ack = r->mode = r->ttr = r->retry = -1;
    r->op = (gmq_op_t) i;
    r->bind_key = S("homework");
    r->id = 384261148721025024ULL + (uint64_t) i;
    switch (r->op) {
    case GMQ_OP_PUSH:
        r->item.id = 77;
        r->item.delay_ms = 1500;
        r->item.route_key = S("a.b.c");
        r->item.body.p = "x\0y";
        r->item.body.len = 3;
        r->bind_key = S("");
        r->id = 0;
        break;
    case GMQ_OP_MPUSH: {
        gmq_buf_reset(items);
        for (int k = 0; k < 3; k++) {
            gmq_op_item_t it = { (uint64_t) k + 1, (uint64_t) k * 10, S(k ? "rk" : ""),
                                 S(k == 1 ? "" : "body") };
            gmq_op_item_put(items, &it);
        }
        r->nitems = 3;
        r->items.p = items->data;
        r->items.len = items->len;
        r->bind_key = S("");
        r->id = 0;
        break;
    }
    case GMQ_OP_POP:
        r->wait_ms = 5000;
        r->forever = 1;
        r->id = 0;
        break;
    case GMQ_OP_DEAD:
        r->wait_ms = 250;
        r->id = 0;
        break;
    case GMQ_OP_ACK: case GMQ_OP_REQUEUE: case GMQ_OP_RELEASE:
        break;
    case GMQ_OP_CONFIG:
        r->auto_ack = 1; r->mode = 3; r->ttr = -1; r->retry = 9;
        r->bind_key = S(""); r->id = 0;
        break;
    case GMQ_OP_DECLARE:
        r->id = 0;
        break;
    case GMQ_OP_MSG:
        r->bind_key = S("");
        break;
    case GMQ_OP_CRASH:
        r->code = 7;
        r->linger_ms = 250;
        r->bind_key = S(""); r->id = 0;
        break;
    case GMQ_OP_PURGE: case GMQ_OP_DEL_QUEUE: case GMQ_OP_DEL_TOPIC: case GMQ_OP_PEEK:
    case GMQ_OP_LIST_DEAD: case GMQ_OP_KICK: case GMQ_OP_TOUCH: case GMQ_OP_NACK:
        r->arg = 0x0102030405060708ULL + (uint64_t) i;
        r->flags = (uint32_t) (i & 1) ? GMQ_OP_F_FORCE : 0;
        break;
    default:
        r->bind_key = S(""); r->id = 0;
        break;
    }
    return GMQ_OK;
}

static int
str_eq(gmq_op_str_t a, gmq_op_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

START_TEST(test_every_request_roundtrip)
{
    gmq_buf_t b, items;
    gmq_buf_init(&b);
    gmq_buf_init(&items);
    for (int i = GMQ_OP_PUSH; i < GMQ_OP__COUNT; i++) {
        gmq_op_req_t in, out;
        sample_req(i, &in, &items);
        gmq_buf_reset(&b);
        gmq_op_req_encode(&b, &in);
        ck_assert_uint_eq(b.len, gmq_op_req_size(&in));
        ck_assert_msg(gmq_op_req_decode(b.data, b.len, &out) == GMQ_OK, "op %s", gmq_op_name(i));
        ck_assert_int_eq(out.op, in.op);
        ck_assert(str_eq(out.bind_key, in.bind_key));
        ck_assert(out.id == in.id);
        ck_assert(out.wait_ms == in.wait_ms);
        ck_assert_int_eq(out.forever, in.forever);
        ck_assert_int_eq(out.auto_ack, in.auto_ack);
        ck_assert_int_eq(out.mode, in.mode);
        ck_assert_int_eq(out.ttr, in.ttr);
        ck_assert_int_eq(out.retry, in.retry);
        ck_assert_uint_eq(out.code, in.code);
        ck_assert_uint_eq(out.linger_ms, in.linger_ms);
        ck_assert(out.arg == in.arg);
        ck_assert_uint_eq(out.flags, in.flags);
        ck_assert(out.item.id == in.item.id && out.item.delay_ms == in.item.delay_ms);
        ck_assert(str_eq(out.item.route_key, in.item.route_key));
        ck_assert(str_eq(out.item.body, in.item.body));
        ck_assert_uint_eq(out.nitems, in.nitems);
        if (in.op == GMQ_OP_MPUSH) {
            size_t off = 0;
            gmq_op_item_t it;
            int n = 0;
            while (gmq_op_item_next(&out, &off, &it) == GMQ_OK) {
                ck_assert(it.id == (uint64_t) n + 1);
                ck_assert(it.delay_ms == (uint64_t) n * 10);
                ck_assert_uint_eq(it.body.len, n == 1 ? 0 : 4);
                n++;
            }
            ck_assert_int_eq(n, 3);
        }
        /* every truncation is refused, and so is a trailing byte */
        for (size_t k = 0; k < b.len; k++)
            ck_assert_msg(gmq_op_req_decode(b.data, k, &out) == GMQ_ERR, "%s cut at %zu",
                          gmq_op_name(i), k);
        gmq_buf_append(&b, "z", 1);
        ck_assert_int_eq(gmq_op_req_decode(b.data, b.len, &out), GMQ_ERR);
    }
    gmq_buf_free(&b);
    gmq_buf_free(&items);
}
END_TEST

START_TEST(test_oversize_names_refused)
{
    char big[GMQ_ROUTE_KEY_MAX + 2];
    memset(big, 'k', sizeof(big));
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_req_t in = { .op = GMQ_OP_ACK }, out;
    in.bind_key.p = big;
    in.bind_key.len = GMQ_NAME_MAX;
    gmq_op_req_encode(&b, &in);
    ck_assert_int_eq(gmq_op_req_decode(b.data, b.len, &out), GMQ_OK);
    gmq_buf_reset(&b);
    in.bind_key.len = GMQ_NAME_MAX + 1;
    gmq_op_req_encode(&b, &in);
    ck_assert_int_eq(gmq_op_req_decode(b.data, b.len, &out), GMQ_ERR);

    gmq_op_req_t push = { .op = GMQ_OP_PUSH };
    push.item.route_key.p = big;
    push.item.route_key.len = GMQ_ROUTE_KEY_MAX;
    gmq_buf_reset(&b);
    gmq_op_req_encode(&b, &push);
    ck_assert_int_eq(gmq_op_req_decode(b.data, b.len, &out), GMQ_OK);
    ck_assert_uint_eq(out.item.route_key.len, GMQ_ROUTE_KEY_MAX);
    push.item.route_key.len = GMQ_ROUTE_KEY_MAX + 1;
    gmq_buf_reset(&b);
    gmq_op_req_encode(&b, &push);
    ck_assert_int_eq(gmq_op_req_decode(b.data, b.len, &out), GMQ_ERR);

    /* a body length larger than what follows */
    gmq_buf_reset(&b);
    push.item.route_key.len = 1;
    push.item.body.p = "abc";
    push.item.body.len = 3;
    gmq_op_req_encode(&b, &push);
    b.data[b.len - 4] = (char) 0x7f;
    ck_assert_int_eq(gmq_op_req_decode(b.data, b.len, &out), GMQ_ERR);

    /* unknown op, empty payload, an mpush claiming more items than it has */
    ck_assert_int_eq(gmq_op_req_decode("\0\x63", 2, &out), GMQ_ERR);
    ck_assert_int_eq(gmq_op_req_decode("", 0, &out), GMQ_ERR);
    gmq_buf_t items;
    gmq_buf_init(&items);
    gmq_op_req_t mp;
    sample_req(GMQ_OP_MPUSH, &mp, &items);
    mp.nitems = 4;
    gmq_buf_reset(&b);
    gmq_op_req_encode(&b, &mp);
    ck_assert_int_eq(gmq_op_req_decode(b.data, b.len, &out), GMQ_ERR);
    mp.nitems = 0;
    mp.items.len = 0;
    gmq_buf_reset(&b);
    gmq_op_req_encode(&b, &mp);
    ck_assert_int_eq(gmq_op_req_decode(b.data, b.len, &out), GMQ_ERR);
    gmq_buf_free(&items);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_every_reply_roundtrip)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    for (int k = GMQ_RK_NONE; k <= GMQ_RK_COUNT; k++) {
        gmq_op_reply_t in, out;
        memset(&in, 0, sizeof(in));
        in.ok = k != GMQ_RK_COUNT;
        in.ecode = in.ok ? GMQ_E_NONE : GMQ_E_STORAGE;
        in.kind = (gmq_reply_kind_t) k;
        in.msg = S("success");
        in.id = 42;
        in.retry = k == GMQ_RK_MESSAGE ? 3 : 0;
        in.confirm = k == GMQ_RK_MESSAGE;
        in.body = k == GMQ_RK_MESSAGE ? (gmq_op_str_t) { "\xff\0\x01", 3 } : S("");
        in.json = k == GMQ_RK_JSON ? S("{\"a\":1}") : S("");
        in.count = k == GMQ_RK_COUNT ? 65 : 0;
        if (k != GMQ_RK_MESSAGE && k != GMQ_RK_ID)
            in.id = 0;
        gmq_buf_reset(&b);
        gmq_op_reply_encode(&b, &in);
        ck_assert_uint_eq(b.len, gmq_op_reply_size(&in));
        ck_assert_int_eq(gmq_op_reply_decode(b.data, b.len, &out), GMQ_OK);
        ck_assert_int_eq(out.ok, in.ok);
        ck_assert_int_eq(out.ecode, in.ecode);
        ck_assert_int_eq(out.kind, in.kind);
        ck_assert(str_eq(out.msg, in.msg));
        ck_assert(out.id == in.id);
        ck_assert_uint_eq(out.retry, in.retry);
        ck_assert_int_eq(out.confirm, in.confirm);
        ck_assert(str_eq(out.body, in.body));
        ck_assert(str_eq(out.json, in.json));
        ck_assert_uint_eq(out.count, in.count);
        for (size_t n = 0; n < b.len; n++)
            ck_assert_int_eq(gmq_op_reply_decode(b.data, n, &out), GMQ_ERR);
    }
    /* an unknown kind and an unknown error code */
    ck_assert_int_eq(gmq_op_reply_decode("\1\0\0\x55\0\0", 6, &(gmq_op_reply_t) { 0 }), GMQ_ERR);
    ck_assert_int_eq(gmq_op_reply_decode("\0\xff\0\0\0\0", 6, &(gmq_op_reply_t) { 0 }), GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_settings_roundtrip_and_ranges)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_settings_t in = { 30, 5, 259200000, 0, 64 << 20, 2, 1024, 1 << 20 }, out;
    gmq_op_settings_encode(&b, &in);
    ck_assert_uint_eq(b.len, GMQ_OP_SETTINGS_SIZE);
    ck_assert_int_eq(gmq_op_settings_decode(b.data, b.len, &out), GMQ_OK);
    ck_assert(in.default_ttr == out.default_ttr && in.default_retry == out.default_retry &&
              in.max_delay_ms == out.max_delay_ms && in.fsync == out.fsync &&
              in.segment_size == out.segment_size && in.log_level == out.log_level &&
              in.max_queues == out.max_queues && in.max_body == out.max_body);
    ck_assert_int_eq(gmq_op_settings_decode(b.data, b.len - 1, &out), GMQ_ERR);
    in.default_ttr = 0;
    gmq_buf_reset(&b);
    gmq_op_settings_encode(&b, &in);
    ck_assert_int_eq(gmq_op_settings_decode(b.data, b.len, &out), GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

/* the settings as a worker's command-line argument: hex of the encoding */
START_TEST(test_settings_arg)
{
    gmq_op_settings_t in = { 30, 5, 259200000, 1, 64 << 20, 2, 1024, 1 << 20 }, out;
    char arg[GMQ_OP_SETTINGS_ARG];
    gmq_op_settings_to_arg(&in, arg);
    ck_assert_uint_eq(strlen(arg), 2 * GMQ_OP_SETTINGS_SIZE);
    ck_assert_uint_eq(strspn(arg, "0123456789abcdefABCDEF"), strlen(arg));
    ck_assert_int_eq(gmq_op_settings_from_arg(arg, &out), GMQ_OK);
    ck_assert(in.default_ttr == out.default_ttr && in.default_retry == out.default_retry &&
              in.max_delay_ms == out.max_delay_ms && in.fsync == out.fsync &&
              in.segment_size == out.segment_size && in.log_level == out.log_level &&
              in.max_queues == out.max_queues && in.max_body == out.max_body);
    char bad[GMQ_OP_SETTINGS_ARG + 2];
    snprintf(bad, sizeof(bad), "%s", arg);
    bad[7] = 'g';                                       /* not hex */
    ck_assert_int_eq(gmq_op_settings_from_arg(bad, &out), GMQ_ERR);
    snprintf(bad, sizeof(bad), "%.*s", (int) strlen(arg) - 2, arg);   /* a byte short */
    ck_assert_int_eq(gmq_op_settings_from_arg(bad, &out), GMQ_ERR);
    snprintf(bad, sizeof(bad), "%s0", arg);             /* odd length */
    ck_assert_int_eq(gmq_op_settings_from_arg(bad, &out), GMQ_ERR);
    ck_assert_int_eq(gmq_op_settings_from_arg("", &out), GMQ_ERR);
    ck_assert_int_eq(gmq_op_settings_from_arg(NULL, &out), GMQ_ERR);
    in.max_queues = 0;                                  /* out of range: decodes, refused */
    gmq_op_settings_to_arg(&in, arg);
    ck_assert_int_eq(gmq_op_settings_from_arg(arg, &out), GMQ_ERR);
}
END_TEST

static Suite *
op_suite(void)
{
    Suite *s = suite_create("op");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_every_request_roundtrip);
    tcase_add_test(tc, test_oversize_names_refused);
    tcase_add_test(tc, test_every_reply_roundtrip);
    tcase_add_test(tc, test_settings_roundtrip_and_ranges);
    tcase_add_test(tc, test_settings_arg);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(op_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

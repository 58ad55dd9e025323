/*
 * check_ipc.c - the IPC codec: round trips, frames split byte by byte and
 * merged, oversize and unknown frames rejected, READY version.
 */
#include "proto/ipc.h"

#include <check.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>


static void
put_reply(gmq_buf_t *b, uint64_t req_id, int ok, int ecode, int kind, const char *msg,
          uint64_t id)
{
    gmq_op_reply_t r;
    memset(&r, 0, sizeof(r));
    r.ok = ok;
    r.ecode = (gmq_ecode_t) ecode;
    r.kind = (gmq_reply_kind_t) kind;
    r.msg.p = msg;
    r.msg.len = strlen(msg);
    r.id = id;
    gmq_ipc_put_reply(b, req_id, &r);
}

static void
take_reply(const gmq_ipc_frame_t *f, gmq_op_reply_t *r)
{
    ck_assert_uint_eq(f->type, GMQ_IPC_REPLY);
    ck_assert_int_eq(gmq_op_reply_decode(f->payload, f->len, r), GMQ_OK);
}

START_TEST(test_request_roundtrip)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_req_t op = { .op = GMQ_OP_PUSH };
    op.item.id = 384261148721025024ULL;
    op.item.body.p = "a\0b";
    op.item.body.len = 3;
    op.item.route_key.p = "homework";
    op.item.route_key.len = 8;
    gmq_ipc_put_request(&b, 42, &op);

    gmq_ipc_frame_t f;
    size_t used;
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_OK);
    ck_assert_uint_eq(used, b.len);
    ck_assert_uint_eq(f.type, GMQ_IPC_REQUEST);
    ck_assert_uint_eq(f.req_id, 42);
    gmq_op_req_t r;
    ck_assert_int_eq(gmq_op_req_decode(f.payload, f.len, &r), GMQ_OK);
    ck_assert_int_eq(r.op, GMQ_OP_PUSH);
    ck_assert(r.item.id == 384261148721025024ULL);
    ck_assert_uint_eq(r.item.body.len, 3);
    ck_assert(memcmp(r.item.body.p, "a\0b", 3) == 0);
    ck_assert_uint_eq(r.item.route_key.len, 8);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_split_byte_by_byte)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    put_reply(&b, 7, 1, 0, GMQ_RK_ID, "success", 123);
    gmq_ipc_frame_t f;
    size_t used;
    for (size_t i = 0; i < b.len; i++)
        ck_assert_int_eq(gmq_ipc_decode(b.data, i, &f, &used), GMQ_AGAIN);
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_OK);
    gmq_op_reply_t r;
    take_reply(&f, &r);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_int_eq(r.kind, GMQ_RK_ID);
    ck_assert_uint_eq(r.msg.len, 7);
    ck_assert(memcmp(r.msg.p, "success", 7) == 0);
    ck_assert_uint_eq(r.id, 123);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_merged_frames)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    for (int i = 0; i < 100; i++)
        put_reply(&b, (uint64_t) i, i % 2, i % 2 ? 0 : 5, GMQ_RK_NONE, "x", 0);
    gmq_ipc_put_control(&b, GMQ_IPC_CANCEL, 999);
    size_t off = 0;
    int count = 0;
    gmq_ipc_frame_t f;
    size_t used;
    while (gmq_ipc_decode(b.data + off, b.len - off, &f, &used) == GMQ_OK) {
        if (count < 100) {
            gmq_op_reply_t r;
            ck_assert_uint_eq(f.req_id, (uint64_t) count);
            take_reply(&f, &r);
            ck_assert_int_eq(r.ok, count % 2);
            ck_assert_int_eq(r.ecode, count % 2 ? 0 : 5);
        } else {
            ck_assert_uint_eq(f.type, GMQ_IPC_CANCEL);
            ck_assert_uint_eq(f.req_id, 999);
        }
        off += used;
        count++;
    }
    ck_assert_int_eq(count, 101);
    ck_assert_uint_eq(off, b.len);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_oversize_and_unknown)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_ipc_put_header(&b, GMQ_IPC_REQUEST, GMQ_IPC_MAX_FRAME + 1, 1);
    gmq_ipc_frame_t f;
    size_t used;
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_ERR);
    gmq_buf_reset(&b);
    gmq_ipc_put_header(&b, 77, 0, 1);
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_settings_frame)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_op_settings_t in = { 7, 3, 99000, 1, 1 << 20, 4, 12, 4096 }, out;
    gmq_ipc_put_settings(&b, &in);
    gmq_ipc_frame_t f;
    size_t used;
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_OK);
    ck_assert_uint_eq(f.type, GMQ_IPC_SETTINGS);
    ck_assert_int_eq(gmq_op_settings_decode(f.payload, f.len, &out), GMQ_OK);
    ck_assert(in.default_ttr == out.default_ttr && in.default_retry == out.default_retry &&
              in.max_delay_ms == out.max_delay_ms && in.fsync == out.fsync &&
              in.segment_size == out.segment_size && in.log_level == out.log_level &&
              in.max_queues == out.max_queues && in.max_body == out.max_body);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_ready_version)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_ipc_put_ready(&b, 1234);
    gmq_ipc_frame_t f;
    size_t used;
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_OK);
    uint32_t v, pid;
    ck_assert_int_eq(gmq_ipc_ready_parse(&f, &v, &pid), GMQ_OK);
    ck_assert_uint_eq(v, GMQ_IPC_VERSION);
    ck_assert_uint_eq(pid, 1234);
    /* a worker of another version is detected by the master */
    b.data[GMQ_IPC_HDR_LEN + 3] = (char) (GMQ_IPC_VERSION + 1);
    ck_assert_int_eq(gmq_ipc_ready_parse(&f, &v, &pid), GMQ_OK);
    ck_assert_uint_ne(v, GMQ_IPC_VERSION);
    /* a short READY is rejected */
    f.len = 4;
    ck_assert_int_eq(gmq_ipc_ready_parse(&f, &v, &pid), GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

/* frames written just before the peer exits are read before its EOF counts */
START_TEST(test_fill_then_take_before_eof)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    gmq_buf_t out, in;
    gmq_buf_init(&out);
    gmq_buf_init(&in);
    for (int i = 0; i < 3; i++)
        put_reply(&out, (uint64_t) i + 1, 1, 0, GMQ_RK_NONE, "bye", 0);
    ck_assert_int_eq(write(sv[1], out.data, out.len), (ssize_t) out.len);
    close(sv[1]);
    int eof = 0;
    for (int i = 0; i < 100 && !eof; i++)   /* a short read ends one fill; EOF comes later */
        ck_assert_int_eq(gmq_buf_fill_fd(&in, sv[0], 7, &eof), GMQ_OK);
    ck_assert_int_eq(eof, 1);
    gmq_ipc_frame_t f;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(gmq_ipc_take(&in, &f), GMQ_OK);
        ck_assert_uint_eq(f.req_id, (uint64_t) i + 1);
    }
    ck_assert_int_eq(gmq_ipc_take(&in, &f), GMQ_AGAIN);
    close(sv[0]);
    gmq_buf_free(&out);
    gmq_buf_free(&in);
}
END_TEST

static Suite *
ipc_suite(void)
{
    Suite *s = suite_create("ipc");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_request_roundtrip);
    tcase_add_test(tc, test_split_byte_by_byte);
    tcase_add_test(tc, test_merged_frames);
    tcase_add_test(tc, test_oversize_and_unknown);
    tcase_add_test(tc, test_settings_frame);
    tcase_add_test(tc, test_ready_version);
    tcase_add_test(tc, test_fill_then_take_before_eof);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ipc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

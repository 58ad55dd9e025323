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

START_TEST(test_request_roundtrip)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    size_t s = gmq_ipc_request_begin(&b, 42, GMQ_OP_PUSH);
    gmq_ipc_request_arg_str(&b, "topic", "ketang");
    gmq_ipc_request_arg_u64(&b, "id", 384261148721025024ULL);
    gmq_ipc_request_arg(&b, "body", "a\0b", 3);
    gmq_ipc_request_end(&b, s);

    gmq_ipc_frame_t f;
    size_t used;
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_OK);
    ck_assert_uint_eq(used, b.len);
    ck_assert_uint_eq(f.type, GMQ_IPC_REQUEST);
    ck_assert_uint_eq(f.req_id, 42);
    gmq_ipc_request_t r;
    ck_assert_int_eq(gmq_ipc_request_parse(&f, &r), GMQ_OK);
    ck_assert_int_eq(r.op, GMQ_OP_PUSH);
    ck_assert_int_eq(r.nargs, 3);
    size_t n;
    const char *v = gmq_ipc_request_get(&r, "topic", &n);
    ck_assert_uint_eq(n, 6);
    ck_assert(memcmp(v, "ketang", 6) == 0);
    uint64_t id;
    ck_assert_int_eq(gmq_ipc_request_get_u64(&r, "id", &id), GMQ_OK);
    ck_assert(id == 384261148721025024ULL);
    v = gmq_ipc_request_get(&r, "body", &n);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(v, "a\0b", 3) == 0);
    ck_assert_ptr_null(gmq_ipc_request_get(&r, "missing", &n));
    ck_assert_int_eq(gmq_ipc_request_get_u64(&r, "topic", &id), GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_split_byte_by_byte)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_ipc_put_reply(&b, 7, 1, 0, GMQ_RK_ID, "success", "123", 3);
    gmq_ipc_frame_t f;
    size_t used;
    for (size_t i = 0; i < b.len; i++)
        ck_assert_int_eq(gmq_ipc_decode(b.data, i, &f, &used), GMQ_AGAIN);
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_OK);
    gmq_ipc_reply_t r;
    ck_assert_int_eq(gmq_ipc_reply_parse(&f, &r), GMQ_OK);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_int_eq(r.kind, GMQ_RK_ID);
    ck_assert_uint_eq(r.msglen, 7);
    ck_assert(memcmp(r.msg, "success", 7) == 0);
    ck_assert_uint_eq(r.datalen, 3);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_merged_frames)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    for (int i = 0; i < 100; i++)
        gmq_ipc_put_reply(&b, (uint64_t) i, i % 2, i % 2 ? 0 : 5, GMQ_RK_NONE, "x", NULL, 0);
    gmq_ipc_put_control(&b, GMQ_IPC_CANCEL, 999);
    size_t off = 0;
    int count = 0;
    gmq_ipc_frame_t f;
    size_t used;
    while (gmq_ipc_decode(b.data + off, b.len - off, &f, &used) == GMQ_OK) {
        if (count < 100) {
            gmq_ipc_reply_t r;
            ck_assert_uint_eq(f.req_id, (uint64_t) count);
            ck_assert_int_eq(gmq_ipc_reply_parse(&f, &r), GMQ_OK);
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

START_TEST(test_malformed_request_args)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    size_t s = gmq_ipc_request_begin(&b, 1, GMQ_OP_POP);
    gmq_ipc_request_arg_str(&b, "topic", "t");
    gmq_ipc_request_end(&b, s);
    /* claim a longer value than the frame holds */
    b.data[b.len - 2] = 0x7f;
    gmq_ipc_frame_t f;
    size_t used;
    ck_assert_int_eq(gmq_ipc_decode(b.data, b.len, &f, &used), GMQ_OK);
    gmq_ipc_request_t r;
    unsigned char *vl = (unsigned char *) b.data + GMQ_IPC_HDR_LEN + 4 + 2 + 5;
    vl[0] = 0xff;
    ck_assert_int_eq(gmq_ipc_request_parse(&f, &r), GMQ_ERR);
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

/* a partly written buffer is compacted while a request is being built */
START_TEST(test_request_built_across_compaction)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    /* earlier frames, half of them already written to the socket */
    for (int i = 0; i < 10; i++)
        gmq_ipc_put_control(&b, GMQ_IPC_CANCEL, (uint64_t) i);
    gmq_buf_consume(&b, 5 * GMQ_IPC_HDR_LEN);
    size_t s = gmq_ipc_request_begin(&b, 77, GMQ_OP_PUSH);
    char big[100000];
    memset(big, 'x', sizeof(big));
    gmq_ipc_request_arg(&b, "body", big, sizeof(big));    /* forces a realloc + compaction */
    gmq_ipc_request_end(&b, s);
    gmq_ipc_frame_t f;
    size_t used, off = 0;
    for (int i = 5; i < 10; i++) {
        ck_assert_int_eq(gmq_ipc_decode(gmq_buf_rptr(&b) + off, gmq_buf_used(&b) - off, &f, &used), GMQ_OK);
        ck_assert_uint_eq(f.req_id, (uint64_t) i);
        off += used;
    }
    ck_assert_int_eq(gmq_ipc_decode(gmq_buf_rptr(&b) + off, gmq_buf_used(&b) - off, &f, &used), GMQ_OK);
    ck_assert_uint_eq(f.req_id, 77);
    gmq_ipc_request_t r;
    ck_assert_int_eq(gmq_ipc_request_parse(&f, &r), GMQ_OK);
    size_t n;
    ck_assert_ptr_nonnull(gmq_ipc_request_get(&r, "body", &n));
    ck_assert_uint_eq(n, sizeof(big));
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
        gmq_ipc_put_reply(&out, (uint64_t) i + 1, 1, 0, GMQ_RK_NONE, "bye", NULL, 0);
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
    tcase_add_test(tc, test_malformed_request_args);
    tcase_add_test(tc, test_ready_version);
    tcase_add_test(tc, test_request_built_across_compaction);
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

/*
 * check_zygote.c - the master <-> zygote message codecs: a spawn request
 * and a reply round trip, every truncation and trailing byte refused,
 * names, paths, descriptor sets and settings that are not valid refused.
 */
#include "proto/zygote.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static gmq_zygote_req_t
sample(void)
{
    gmq_zygote_req_t r;
    memset(&r, 0, sizeof(r));
    r.fds = GMQ_ZYGOTE_FD_IPC | GMQ_ZYGOTE_FD_LOG;
    r.topic = "orders.eu";
    r.topic_len = strlen(r.topic);
    r.data_path = "/var/lib/gmq/data";
    r.data_path_len = strlen(r.data_path);
    r.settings.default_ttr = 30;
    r.settings.default_retry = 3;
    r.settings.max_delay_ms = 86400000;
    r.settings.fsync = 2;
    r.settings.segment_size = 64 << 20;
    r.settings.log_level = 3;
    r.settings.max_queues = 64;
    r.settings.max_body = 1 << 20;
    return r;
}

START_TEST(test_request_roundtrip)
{
    gmq_zygote_req_t in = sample(), out;
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_zygote_req_encode(&b, &in);
    ck_assert_uint_le(b.len, GMQ_ZYGOTE_REQ_MAX);
    ck_assert_int_eq(gmq_zygote_req_decode(b.data, b.len, &out), GMQ_OK);
    ck_assert_uint_eq(out.fds, in.fds);
    ck_assert_int_eq(gmq_zygote_nfds(out.fds), 2);
    ck_assert_uint_eq(out.topic_len, in.topic_len);
    ck_assert(memcmp(out.topic, in.topic, in.topic_len) == 0);
    ck_assert_uint_eq(out.data_path_len, in.data_path_len);
    ck_assert(memcmp(out.data_path, in.data_path, in.data_path_len) == 0);
    ck_assert_int_eq(out.settings.default_ttr, 30);
    ck_assert_int_eq(out.settings.default_retry, 3);
    ck_assert_uint_eq(out.settings.max_delay_ms, 86400000);
    ck_assert_int_eq(out.settings.fsync, 2);
    ck_assert_uint_eq(out.settings.segment_size, 64 << 20);
    ck_assert_int_eq(out.settings.log_level, 3);
    ck_assert_int_eq(out.settings.max_queues, 64);
    ck_assert_uint_eq(out.settings.max_body, 1 << 20);
    /* every truncation and one trailing byte are refused */
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(gmq_zygote_req_decode(b.data, n, &out), GMQ_ERR);
    gmq_buf_append(&b, "x", 1);
    ck_assert_int_eq(gmq_zygote_req_decode(b.data, b.len, &out), GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_largest_request_fits)
{
    char topic[GMQ_NAME_MAX], path[GMQ_ZYGOTE_PATH_MAX];
    memset(topic, 'a', sizeof(topic));
    memset(path, '/', sizeof(path));
    gmq_zygote_req_t in = sample(), out;
    in.fds = GMQ_ZYGOTE_FD_IPC | GMQ_ZYGOTE_FD_LOCK | GMQ_ZYGOTE_FD_LOG;
    in.topic = topic;
    in.topic_len = sizeof(topic);
    in.data_path = path;
    in.data_path_len = sizeof(path);
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_zygote_req_encode(&b, &in);
    ck_assert_uint_eq(b.len, GMQ_ZYGOTE_REQ_MAX);
    ck_assert_int_eq(gmq_zygote_req_decode(b.data, b.len, &out), GMQ_OK);
    ck_assert_int_eq(gmq_zygote_nfds(out.fds), 3);
    gmq_buf_free(&b);
}
END_TEST

/* one field changed from the sample; the encoding must be refused */
static void
refused(gmq_zygote_req_t r)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_zygote_req_encode(&b, &r);
    gmq_zygote_req_t out;
    ck_assert_int_eq(gmq_zygote_req_decode(b.data, b.len, &out), GMQ_ERR);
    gmq_buf_free(&b);
}

START_TEST(test_invalid_fields_refused)
{
    char longname[GMQ_NAME_MAX + 1];
    memset(longname, 'a', sizeof(longname));
    gmq_zygote_req_t r = sample();
    r.fds = GMQ_ZYGOTE_FD_LOCK;                   /* no IPC socket */
    refused(r);
    r = sample();
    r.fds = 0x08;                                 /* an unknown descriptor */
    refused(r);
    r = sample();
    r.topic = "a/b";                              /* not a topic name */
    r.topic_len = 3;
    refused(r);
    r = sample();
    r.topic_len = 0;
    refused(r);
    r = sample();
    r.topic = longname;
    r.topic_len = sizeof(longname);
    refused(r);
    r = sample();
    r.data_path = "/a\0b";                        /* a NUL in the path */
    r.data_path_len = 4;
    refused(r);
    r = sample();
    r.data_path_len = 0;
    refused(r);
    r = sample();
    r.settings.default_ttr = 0;                   /* settings out of range */
    refused(r);
}
END_TEST

START_TEST(test_bad_header_refused)
{
    gmq_zygote_req_t in = sample(), out;
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_zygote_req_encode(&b, &in);
    b.data[0] = GMQ_ZYGOTE_VERSION + 1;
    ck_assert_int_eq(gmq_zygote_req_decode(b.data, b.len, &out), GMQ_ERR);
    b.data[0] = GMQ_ZYGOTE_VERSION;
    b.data[1] = 2;                                /* a reply's kind */
    ck_assert_int_eq(gmq_zygote_req_decode(b.data, b.len, &out), GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_reply_roundtrip)
{
    gmq_zygote_reply_t in = { 4242, 0 }, out;
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_zygote_reply_encode(&b, &in);
    ck_assert_uint_eq(b.len, GMQ_ZYGOTE_REPLY_SIZE);
    ck_assert_int_eq(gmq_zygote_reply_decode(b.data, b.len, &out), GMQ_OK);
    ck_assert_int_eq(out.pid, 4242);
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(gmq_zygote_reply_decode(b.data, n, &out), GMQ_ERR);
    gmq_buf_reset(&b);
    gmq_zygote_reply_t fail = { 0, 11 };
    gmq_zygote_reply_encode(&b, &fail);
    ck_assert_int_eq(gmq_zygote_reply_decode(b.data, b.len, &out), GMQ_OK);
    ck_assert_int_eq(out.pid, 0);
    ck_assert_int_eq(out.err, 11);
    gmq_buf_reset(&b);
    gmq_zygote_reply_t none = { 0, 0 };           /* a failure must say why */
    gmq_zygote_reply_encode(&b, &none);
    ck_assert_int_eq(gmq_zygote_reply_decode(b.data, b.len, &out), GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

static Suite *
zygote_suite(void)
{
    Suite *s = suite_create("zygote");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_request_roundtrip);
    tcase_add_test(tc, test_largest_request_fits);
    tcase_add_test(tc, test_invalid_fields_refused);
    tcase_add_test(tc, test_bad_header_refused);
    tcase_add_test(tc, test_reply_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(zygote_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

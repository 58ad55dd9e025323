/*
 * check_tcpframe.c - the reply frames of the client protocol codec: every
 * frame type encoded and decoded back (and incomplete at every shorter
 * length), frames that must be refused, error frames, and the raw (106)
 * message frame.
 */
#include "proto/tcp.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reply frames ---- */

START_TEST(test_frame_roundtrip)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    for (uint16_t t = GMQ_TCP_MESSAGE; t <= GMQ_TCP_RAW; t++) {
        char data[32];
        int n = snprintf(data, sizeof(data), "payload of %u", t);
        gmq_buf_reset(&b);
        gmq_tcp_put_frame(&b, t, data, (size_t) n);
        ck_assert_uint_eq(b.len, GMQ_TCP_FRAME_HDR + (size_t) n);
        ck_assert_uint_eq(gmq_get_u16(b.data), t);
        ck_assert_uint_eq(gmq_get_u32(b.data + 2), (uint32_t) n);
        uint16_t type = 0;
        const char *d = NULL;
        uint32_t dlen = 0;
        size_t used = 0;
        for (size_t k = 0; k < b.len; k++)
            ck_assert_int_eq(gmq_tcp_frame_decode(b.data, k, 1024, &type, &d, &dlen, &used),
                             GMQ_AGAIN);
        ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 1024, &type, &d, &dlen, &used), GMQ_OK);
        ck_assert_uint_eq(type, t);
        ck_assert_uint_eq(dlen, (uint32_t) n);
        ck_assert(d == b.data + GMQ_TCP_FRAME_HDR);
        ck_assert(memcmp(d, data, (size_t) n) == 0);
        ck_assert_uint_eq(used, b.len);
    }
    /* several frames back to back, one empty */
    gmq_buf_reset(&b);
    gmq_tcp_put_frame(&b, GMQ_TCP_RESULT, "ok", 2);
    gmq_tcp_put_frame(&b, GMQ_TCP_PING, "", 0);
    gmq_tcp_put_frame(&b, GMQ_TCP_ERROR, "no message", 10);
    static const uint16_t types[] = { GMQ_TCP_RESULT, GMQ_TCP_PING, GMQ_TCP_ERROR };
    static const uint32_t lens[] = { 2, 0, 10 };
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        uint16_t type;
        const char *d;
        uint32_t dlen;
        size_t used;
        ck_assert_int_eq(gmq_tcp_frame_decode(b.data + off, b.len - off, 10, &type, &d, &dlen, &used),
                         GMQ_OK);
        ck_assert_uint_eq(type, types[i]);
        ck_assert_uint_eq(dlen, lens[i]);
        off += used;
    }
    ck_assert_uint_eq(off, b.len);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_frame_bad)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    uint16_t type;
    const char *d;
    uint32_t dlen;
    size_t used;
    static const uint16_t bad[] = { 0, 1, GMQ_TCP_MESSAGE - 1, GMQ_TCP_RAW + 1, 0xffff };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(bad); i++) {
        gmq_buf_reset(&b);
        gmq_tcp_put_frame(&b, bad[i], "x", 1);
        ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 1024, &type, &d, &dlen, &used), GMQ_ERR);
        /* the header alone is enough to tell */
        ck_assert_int_eq(gmq_tcp_frame_decode(b.data, GMQ_TCP_FRAME_HDR, 1024, &type, &d, &dlen,
                                              &used), GMQ_ERR);
    }
    /* length over max_len, even before the data came */
    gmq_buf_reset(&b);
    gmq_tcp_put_frame(&b, GMQ_TCP_MESSAGE, "0123456789", 10);
    ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 9, &type, &d, &dlen, &used), GMQ_ERR);
    ck_assert_int_eq(gmq_tcp_frame_decode(b.data, GMQ_TCP_FRAME_HDR, 9, &type, &d, &dlen, &used),
                     GMQ_ERR);
    ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 10, &type, &d, &dlen, &used), GMQ_OK);
    gmq_buf_reset(&b);
    gmq_buf_put_u16(&b, GMQ_TCP_RESULT);
    gmq_buf_put_u32(&b, 0xffffffffu);
    ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 512u << 20, &type, &d, &dlen, &used),
                     GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_put_error)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    uint16_t type;
    const char *d;
    uint32_t dlen;
    size_t used;
    gmq_tcp_put_error(&b, GMQ_E_INVALID_CMD, "unknown cmd: %.64s", "foo");
    ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 1024, &type, &d, &dlen, &used), GMQ_OK);
    ck_assert_uint_eq(type, GMQ_TCP_ERROR);
    ck_assert_uint_eq(dlen, strlen("E_INVALID_CMD - unknown cmd: foo"));
    ck_assert(memcmp(d, "E_INVALID_CMD - unknown cmd: foo", dlen) == 0);
    ck_assert_uint_eq(used, b.len);
    /* longer than GMQ_ERRMSG_MAX: kept whole */
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    gmq_buf_reset(&b);
    gmq_tcp_put_error(&b, GMQ_E_TOO_LARGE, "%s (%u)", big, 7u);
    ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 4096, &type, &d, &dlen, &used), GMQ_OK);
    ck_assert_uint_eq(dlen, strlen("E_TOO_LARGE - ") + 999 + 4);
    ck_assert(memcmp(d, "E_TOO_LARGE - zzz", 17) == 0);
    ck_assert(memcmp(d + dlen - 5, "z (7)", 5) == 0);
    /* an unknown code, an empty text */
    gmq_buf_reset(&b);
    gmq_tcp_put_error(&b, 9999, "%s", "");
    ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 4096, &type, &d, &dlen, &used), GMQ_OK);
    ck_assert_uint_eq(dlen, strlen("E_UNKNOWN - "));
    ck_assert(memcmp(d, "E_UNKNOWN - ", dlen) == 0);
    gmq_buf_free(&b);
}
END_TEST

/* a 106 frame carries every byte value, NUL included, and the full id range */
START_TEST(test_raw_frame)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    char body[256];
    for (int i = 0; i < 256; i++)
        body[i] = (char) i;
    static const uint64_t ids[] = { 1, 1309830092066656256ull, UINT64_MAX };
    static const uint32_t retries[] = { 0, 5, UINT32_MAX };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(ids); i++) {
        gmq_buf_reset(&b);
        gmq_tcp_put_raw(&b, ids[i], retries[i], body, sizeof(body));
        ck_assert_uint_eq(b.len, GMQ_TCP_FRAME_HDR + GMQ_TCP_RAW_HDR + sizeof(body));
        ck_assert_uint_eq(gmq_get_u16(b.data), GMQ_TCP_RAW);
        ck_assert_uint_eq(gmq_get_u64(b.data + GMQ_TCP_FRAME_HDR), ids[i]);
        uint16_t type;
        const char *d, *got;
        uint32_t dlen;
        size_t used, glen;
        uint64_t id;
        uint32_t retry;
        for (size_t k = 0; k < b.len; k++)
            ck_assert_int_eq(gmq_tcp_frame_decode(b.data, k, 4096, &type, &d, &dlen, &used),
                             GMQ_AGAIN);
        ck_assert_int_eq(gmq_tcp_frame_decode(b.data, b.len, 4096, &type, &d, &dlen, &used), GMQ_OK);
        ck_assert_uint_eq(type, GMQ_TCP_RAW);
        ck_assert_uint_eq(used, b.len);
        ck_assert_int_eq(gmq_tcp_raw_decode(d, dlen, &id, &retry, &got, &glen), GMQ_OK);
        ck_assert_uint_eq(id, ids[i]);
        ck_assert_uint_eq(retry, retries[i]);
        ck_assert_uint_eq(glen, sizeof(body));
        ck_assert(memcmp(got, body, sizeof(body)) == 0);
    }
    /* an empty body; data shorter than the header */
    gmq_buf_reset(&b);
    gmq_tcp_put_raw(&b, 7, 1, "", 0);
    uint64_t id;
    uint32_t retry;
    const char *got;
    size_t glen;
    ck_assert_int_eq(gmq_tcp_raw_decode(b.data + GMQ_TCP_FRAME_HDR, GMQ_TCP_RAW_HDR, &id, &retry,
                                        &got, &glen), GMQ_OK);
    ck_assert_uint_eq(id, 7);
    ck_assert_uint_eq(retry, 1);
    ck_assert_uint_eq(glen, 0);
    for (size_t k = 0; k < GMQ_TCP_RAW_HDR; k++)
        ck_assert_int_eq(gmq_tcp_raw_decode(b.data + GMQ_TCP_FRAME_HDR, k, &id, &retry, &got, &glen),
                         GMQ_ERR);
    gmq_buf_free(&b);
}
END_TEST

static Suite *
tcpframe_suite(void)
{
    Suite *s = suite_create("tcpframe");
    TCase *tc = tcase_create("frames");
    tcase_add_test(tc, test_frame_roundtrip);
    tcase_add_test(tc, test_frame_bad);
    tcase_add_test(tc, test_put_error);
    tcase_add_test(tc, test_raw_frame);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(tcpframe_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

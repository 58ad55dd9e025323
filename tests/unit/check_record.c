/*
 * check_record.c - record encode/decode round trips, padding, and every
 * way a decode must refuse bytes: zero (end), bad magic, version, length,
 * CRC mismatch from a single flipped bit.
 */
#include "worker/record.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_roundtrip)
{
    unsigned char buf[256];
    gmq_record_t r = { .type = GMQ_REC_MSG, .flags = 2, .len = 5, .id = 384261148721025024ull,
                       .ts = 1700000000123ull, .due = 99, .retry = 7, .body = "hello" };
    size_t n = gmq_record_encode(buf, &r);
    ck_assert_uint_eq(n, gmq_record_size(5));
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_uint_eq(n, 56);
    gmq_record_t o;
    size_t sz;
    ck_assert_int_eq(gmq_record_decode(buf, sizeof(buf), &o, &sz), GMQ_OK);
    ck_assert_uint_eq(sz, n);
    ck_assert_uint_eq(o.type, GMQ_REC_MSG);
    ck_assert_uint_eq(o.flags, 2);
    ck_assert_uint_eq(o.id, 384261148721025024ull);
    ck_assert_uint_eq(o.ts, 1700000000123ull);
    ck_assert_uint_eq(o.due, 99);
    ck_assert_uint_eq(o.retry, 7);
    ck_assert_uint_eq(o.len, 5);
    ck_assert(memcmp(o.body, "hello", 5) == 0);
}
END_TEST

START_TEST(test_state_record)
{
    unsigned char buf[64];
    gmq_record_t r = { .type = GMQ_REC_ACK, .id = 42 };
    ck_assert_uint_eq(gmq_record_encode(buf, &r), GMQ_RECORD_HDR);
    gmq_record_t o;
    size_t sz;
    ck_assert_int_eq(gmq_record_decode(buf, sizeof(buf), &o, &sz), GMQ_OK);
    ck_assert_uint_eq(o.type, GMQ_REC_ACK);
    ck_assert_uint_eq(o.id, 42);
    ck_assert_uint_eq(o.len, 0);
}
END_TEST

START_TEST(test_zero_is_end)
{
    unsigned char buf[64] = { 0 };
    gmq_record_t o;
    size_t sz;
    ck_assert_int_eq(gmq_record_decode(buf, sizeof(buf), &o, &sz), GMQ_AGAIN);
}
END_TEST

START_TEST(test_every_bit_flip_detected)
{
    unsigned char buf[128], copy[128];
    gmq_record_t r = { .type = GMQ_REC_MSG, .len = 11, .id = 1, .body = "hello world" };
    size_t n = gmq_record_encode(buf, &r);
    gmq_record_t o;
    size_t sz;
    for (size_t i = 0; i < GMQ_RECORD_HDR + 11; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, buf, n);
            copy[i] ^= (unsigned char) (1 << bit);
            int rc = gmq_record_decode(copy, n, &o, &sz);
            ck_assert_msg(rc != GMQ_OK, "flip at byte %zu bit %d not detected", i, bit);
        }
    }
}
END_TEST

START_TEST(test_truncated)
{
    unsigned char buf[128];
    gmq_record_t r = { .type = GMQ_REC_MSG, .len = 30, .id = 1, .body = "012345678901234567890123456789" };
    size_t n = gmq_record_encode(buf, &r);
    gmq_record_t o;
    size_t sz;
    ck_assert_int_eq(gmq_record_decode(buf, n - 8, &o, &sz), GMQ_ERR);
    ck_assert_int_eq(gmq_record_decode(buf, 20, &o, &sz), GMQ_ERR);
    ck_assert_int_eq(gmq_record_decode(buf, n, &o, &sz), GMQ_OK);
}
END_TEST

START_TEST(test_bad_version_and_type)
{
    unsigned char buf[64];
    gmq_record_t r = { .type = GMQ_REC_ACK, .id = 1 };
    gmq_record_encode(buf, &r);
    gmq_record_t o;
    size_t sz;
    buf[8] = 2;
    ck_assert_int_eq(gmq_record_decode(buf, sizeof(buf), &o, &sz), GMQ_ERR);
    buf[8] = 1;
    buf[9] = 0;
    ck_assert_int_eq(gmq_record_decode(buf, sizeof(buf), &o, &sz), GMQ_ERR);
}
END_TEST

static Suite *
record_suite(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_state_record);
    tcase_add_test(tc, test_zero_is_end);
    tcase_add_test(tc, test_every_bit_flip_detected);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_bad_version_and_type);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(record_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * check_buf.c - byte buffers: growth and consume, big-endian helpers, JSON
 * string escaping (control bytes, quotes, invalid UTF-8 replaced).
 */
#include "common/buf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *
json_of(const char *s, size_t n)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_json_str(&b, s, n);
    gmq_buf_append(&b, "", 1);
    char *out = strdup(b.data);
    gmq_buf_free(&b);
    return out;
}

START_TEST(test_json_escapes)
{
    char *j = json_of("a\"b\\c\n\t\x01", 8);
    ck_assert_str_eq(j, "\"a\\\"b\\\\c\\n\\t\\u0001\"");
    free(j);
}
END_TEST

START_TEST(test_json_utf8)
{
    char *j = json_of("h\xc3\xa9llo \xe2\x82\xac", 10);
    ck_assert_str_eq(j, "\"h\xc3\xa9llo \xe2\x82\xac\"");
    free(j);
    j = json_of("bad\xff\xc3(", 6);
    ck_assert_str_eq(j, "\"bad\\ufffd\\ufffd(\"");
    free(j);
    j = json_of("\xed\xa0\x80", 3);       /* a surrogate is not valid UTF-8 */
    ck_assert_str_eq(j, "\"\\ufffd\\ufffd\\ufffd\"");
    free(j);
    j = json_of("\xe2\x82", 2);           /* truncated sequence */
    ck_assert_str_eq(j, "\"\\ufffd\\ufffd\"");
    free(j);
}
END_TEST

START_TEST(test_utf8_valid)
{
    ck_assert_int_eq(gmq_utf8_valid("", 0), 1);
    ck_assert_int_eq(gmq_utf8_valid("a\0b\x7f", 4), 1);     /* NUL and DEL are valid UTF-8 */
    ck_assert_int_eq(gmq_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15), 1);
    ck_assert_int_eq(gmq_utf8_valid("bad\xff", 4), 0);
    ck_assert_int_eq(gmq_utf8_valid("\xed\xa0\x80", 3), 0);  /* surrogate */
    ck_assert_int_eq(gmq_utf8_valid("\xe2\x82", 2), 0);      /* truncated */
    ck_assert_int_eq(gmq_utf8_valid("\xc0\x80", 2), 0);      /* overlong */
}
END_TEST

START_TEST(test_grow_consume)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        gmq_buf_put_u32(&b, (uint32_t) i);
    ck_assert_uint_eq(gmq_buf_used(&b), 40000);
    for (int i = 0; i < 10000; i++) {
        ck_assert_uint_eq(gmq_get_u32(gmq_buf_rptr(&b)), (uint32_t) i);
        gmq_buf_consume(&b, 4);
    }
    ck_assert_uint_eq(gmq_buf_used(&b), 0);
    gmq_buf_put_u64(&b, 0x0102030405060708ULL);
    ck_assert(gmq_get_u64(b.data) == 0x0102030405060708ULL);
    gmq_buf_put_u16(&b, 0xabcd);
    ck_assert_uint_eq(gmq_get_u16(b.data + 8), 0xabcd);
    gmq_buf_printf(&b, "%s-%d", "x", 42);
    ck_assert(memcmp(b.data + 10, "x-42", 4) == 0);
    gmq_buf_free(&b);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_names)
{
    ck_assert(gmq_name_valid("ketang", 6));
    ck_assert(gmq_name_valid("a.b-c_D9", 8));
    ck_assert(!gmq_name_valid("", 0));
    ck_assert(!gmq_name_valid("..", 2));
    ck_assert(!gmq_name_valid(".", 1));
    ck_assert(!gmq_name_valid("a/b", 3));
    ck_assert(!gmq_name_valid("a b", 3));
    char big[130];
    memset(big, 'a', sizeof(big));
    ck_assert(gmq_name_valid(big, 128));
    ck_assert(!gmq_name_valid(big, 129));
}
END_TEST

START_TEST(test_u64_dec)
{
    static const uint64_t v[] = { 0, 9, 10, 12345, 4294967296ull, 7388289473946173441ull,
                                  18446744073709551615ull };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char a[GMQ_U64_DEC_MAX], b[32];
        size_t n = gmq_u64_dec(a, v[i]);
        snprintf(b, sizeof(b), "%llu", (unsigned long long) v[i]);
        ck_assert_str_eq(a, b);
        ck_assert_uint_eq(n, strlen(b));
    }
}
END_TEST

/* the loop clock: the clocks as read at the last tick, and it moves on */
START_TEST(test_loop_clock)
{
    uint64_t before = gmq_mono_ns();
    gmq_clock_tick();
    uint64_t a = gmq_loop_mono_ns(), ms = gmq_loop_now_ms();
    ck_assert_uint_ge(a, before);
    ck_assert_uint_le(a, gmq_mono_ns());
    struct timespec ts = { 0, 2000000 };
    nanosleep(&ts, NULL);
    ck_assert_uint_eq(gmq_loop_mono_ns(), a);       /* until the next tick */
    ck_assert_uint_eq(gmq_loop_now_ms(), ms);
    ck_assert_uint_eq(gmq_loop_mono_ms(), a / 1000000u);
    gmq_clock_tick();
    ck_assert_uint_ge(gmq_loop_mono_ns(), a + 2000000u);
    ck_assert_uint_ge(gmq_loop_now_ms(), ms);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, test_json_escapes);
    tcase_add_test(tc, test_json_utf8);
    tcase_add_test(tc, test_utf8_valid);
    tcase_add_test(tc, test_grow_consume);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_u64_dec);
    tcase_add_test(tc, test_loop_clock);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

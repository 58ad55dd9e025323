/*
 * check_metrics.c - the pieces of the Prometheus text format that traffic
 * on a node cannot reach (master/metrics.c): label values with a
 * backslash, a double quote or a newline, and how sample values are
 * written. Whole scrapes are tested by tests/integration/test_metrics.py.
 */
#include "master/metrics.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *
escaped(gmq_buf_t *b, const char *s)
{
    gmq_buf_reset(b);
    gmq_metrics_escape(b, s, strlen(s));
    gmq_buf_append(b, "", 1);
    return b->data;
}

static const char *
number(gmq_buf_t *b, double v)
{
    gmq_buf_reset(b);
    gmq_metrics_number(b, v);
    gmq_buf_append(b, "", 1);
    return b->data;
}

START_TEST(test_escape)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    ck_assert_str_eq(escaped(&b, "orders.eu-1_x"), "orders.eu-1_x");
    ck_assert_str_eq(escaped(&b, "a\\b"), "a\\\\b");
    ck_assert_str_eq(escaped(&b, "say \"hi\""), "say \\\"hi\\\"");
    ck_assert_str_eq(escaped(&b, "two\nlines"), "two\\nlines");
    ck_assert_str_eq(escaped(&b, "\\\"\n"), "\\\\\\\"\\n");
    ck_assert_str_eq(escaped(&b, "tab\tstays, utf-8 \xc3\xa9 too"), "tab\tstays, utf-8 \xc3\xa9 too");
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_number)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    ck_assert_str_eq(number(&b, 0), "0");
    ck_assert_str_eq(number(&b, 42), "42");
    ck_assert_str_eq(number(&b, 18446744073.0), "18446744073");
    ck_assert_str_eq(number(&b, 0.25), "0.25");
    ck_assert_str_eq(number(&b, 0.000675995), "0.000675995");
    ck_assert_str_eq(number(&b, 1796173421.72), "1796173421.72");
    ck_assert_str_eq(number(&b, NAN), "NaN");
    ck_assert_str_eq(number(&b, INFINITY), "+Inf");
    ck_assert_str_eq(number(&b, -INFINITY), "-Inf");
    /* past 2^53 a double is written so it reads back exactly */
    double big = 1e19;
    ck_assert(strtod(number(&b, big), NULL) == big);
    gmq_buf_free(&b);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_number);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

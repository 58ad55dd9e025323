/*
 * check_ctl.c - unit tests of gmqctl's pure parts: the JSON tree (exact source
 * spans for --json, strings with NUL, numbers as written, errors) and the output
 * (cell text escaping and cutting, times, table alignment and --no-headers).
 */
#include "client/ctl_json.h"
#include "client/ctl_out.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *
span(const gmq_ctl_json_t *j)
{
    return gmq_xstrndup(j->src, j->src_len);
}

/* what f printed to stdout */
static char *
captured(void (*f)(void *), void *arg)
{
    fflush(stdout);
    FILE *tmp = tmpfile();
    int saved = dup(STDOUT_FILENO);
    dup2(fileno(tmp), STDOUT_FILENO);
    f(arg);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    long n = ftell(tmp);
    char *out = gmq_xcalloc(1, (size_t) n + 1);
    rewind(tmp);
    ck_assert_int_eq(fread(out, 1, (size_t) n, tmp), (size_t) n);
    fclose(tmp);
    return out;
}

START_TEST(test_json_spans)
{
    const char *s = "{\"code\":0, \"data\" : [1.50 ,\"a\\u0000b\", true,{\"x\":12, \"y\":null}] ,"
                    "\"msg\":\"success\"}\n";
    char err[128];
    gmq_ctl_json_t *j = gmq_ctl_json_parse(s, strlen(s), err, sizeof(err));
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(j->type, GMQ_CTL_JSON_OBJECT);
    ck_assert_str_eq(gmq_ctl_json_str(j, "code"), "0");
    ck_assert_str_eq(gmq_ctl_json_str(j, "msg"), "success");
    const gmq_ctl_json_t *d = gmq_ctl_json_get(j, "data");
    char *t = span(d);
    ck_assert_str_eq(t, "[1.50 ,\"a\\u0000b\", true,{\"x\":12, \"y\":null}]");
    free(t);
    ck_assert_int_eq(d->n, 4);
    ck_assert_str_eq(d->items[0]->text, "1.50");          /* as written */
    t = span(d->items[0]);
    ck_assert_str_eq(t, "1.50");
    free(t);
    ck_assert_int_eq(d->items[1]->len, 3);                /* NUL kept */
    ck_assert_int_eq(memcmp(d->items[1]->text, "a\0b", 3), 0);
    t = span(d->items[1]);
    ck_assert_str_eq(t, "\"a\\u0000b\"");
    free(t);
    ck_assert(gmq_ctl_json_true(d->items[2]));
    t = span(d->items[3]);
    ck_assert_str_eq(t, "{\"x\":12, \"y\":null}");
    free(t);
    ck_assert_str_eq(gmq_ctl_json_str(d->items[3], "x"), "12");
    ck_assert_int_eq(gmq_ctl_json_get(d->items[3], "y")->type, GMQ_CTL_JSON_NULL);
    ck_assert_ptr_null(gmq_ctl_json_get(d->items[3], "z"));
    ck_assert_ptr_null(gmq_ctl_json_get(d, "x"));        /* not an object */
    t = span(j);
    ck_assert_str_eq(t, "{\"code\":0, \"data\" : [1.50 ,\"a\\u0000b\", true,{\"x\":12, \"y\":null}] ,"
                        "\"msg\":\"success\"}");
    free(t);
    gmq_ctl_json_free(j);
}
END_TEST

START_TEST(test_json_errors)
{
    char err[128];
    const char *bad[] = { "", "{", "{\"a\":}", "[1,]", "{} {}", "nope" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_ptr_null(gmq_ctl_json_parse(bad[i], strlen(bad[i]), err, sizeof(err)));
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
    }
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    ck_assert_ptr_null(gmq_ctl_json_parse(deep, sizeof(deep), err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "deeper"));
    gmq_ctl_json_t *j = gmq_ctl_json_parse(" 42 ", 4, err, sizeof(err));
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(j->text, "42");
    gmq_ctl_json_free(j);
}
END_TEST

static char *
value_text(const char *json, const char *key, size_t max)
{
    char err[128];
    gmq_ctl_json_t *j = gmq_ctl_json_parse(json, strlen(json), err, sizeof(err));
    ck_assert_ptr_nonnull(j);
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_ctl_out_value(&b, key, j, max);
    gmq_buf_append(&b, "", 1);
    char *out = gmq_xstrdup(gmq_buf_rptr(&b));
    gmq_buf_free(&b);
    gmq_ctl_json_free(j);
    return out;
}

START_TEST(test_out_value)
{
    static const struct { const char *json, *key; size_t max; const char *want; } cases[] = {
        { "\"plain\"", "body", 0, "plain" },
        { "\"a\\nb\\tc\\r\\u0001\\u007f\"", "body", 0, "a\\nb\\tc\\r\\x01\\x7f" },
        { "\"\\u00e9\\u2603 ok\"", "body", 0, "\xc3\xa9\xe2\x98\x83 ok" },
        { "\"\\u00e9\\u2603 ok\"", "body", 2, "\xc3\xa9\xe2\x98\x83..." },
        { "\"abcdef\"", "body", 6, "abcdef" },
        { "\"abcdef\"", "body", 3, "abc..." },
        { "\"\"", "x", 0, "-" },
        { "null", "x", 0, "-" },
        { "false", "x", 0, "false" },
        { "0", "due_at", 0, "-" },
        { "12", "count", 0, "12" },
        { "[1, 2]", "x", 0, "[1, 2]" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = value_text(cases[i].json, cases[i].key, cases[i].max);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "%s: got '%s' want '%s'", cases[i].json, got,
                      cases[i].want);
        free(got);
    }
    /* invalid UTF-8 straight from the bytes (the node never sends it, a body may) */
    gmq_ctl_json_t v = { .type = GMQ_CTL_JSON_STRING, .text = "a\xff\xc3", .len = 3 };
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_ctl_out_value(&b, "body", &v, 0);
    gmq_buf_append(&b, "", 1);
    ck_assert_str_eq(gmq_buf_rptr(&b), "a\\xff\\xc3");
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_out_time)
{
    setenv("TZ", "UTC", 1);
    char t[64];
    gmq_ctl_out_time(t, sizeof(t), "1796174199203");
    ck_assert_str_eq(t, "2026-12-02 01:16:39.203");
    char *got = value_text("1796174199203", "pushed_at", 0);
    ck_assert_str_eq(got, "2026-12-02 01:16:39.203");
    free(got);
    got = value_text("1796174199203", "started_ms", 0);
    ck_assert_str_eq(got, "2026-12-02 01:16:39.203");
    free(got);
    gmq_ctl_out_time(t, sizeof(t), "0");
    ck_assert_str_eq(t, "-");
    gmq_ctl_out_time(t, sizeof(t), "12x");
    ck_assert_str_eq(t, "-");
}
END_TEST

static void
print_table(void *arg)
{
    gmq_ctl_t *c = arg;
    static const char *const head[] = { "NAME", "COUNT", "NOTE", "LAST", NULL };
    gmq_ctl_table_t *t = gmq_ctl_out_table(head, "l");
    gmq_ctl_out_cell(t, "a");
    gmq_ctl_out_cell(t, "5");
    gmq_ctl_out_cell(t, "");
    gmq_ctl_out_cell(t, "x");
    gmq_ctl_out_cell(t, "\xc3\xa9t\xc3\xa9");
    gmq_ctl_out_cellf(t, "%d", 1234);
    gmq_ctl_out_cell(t, NULL);
    gmq_ctl_out_cell(t, "last");
    gmq_ctl_out_print(t, c);
}

START_TEST(test_table)
{
    gmq_ctl_t c;
    memset(&c, 0, sizeof(c));
    char *out = captured(print_table, &c);
    /* numbers right-aligned with their header, "-" for empty, widths in characters,
     * no padding after the last column */
    ck_assert_str_eq(out, "NAME  COUNT  NOTE  LAST\n"
                          "a         5  -     x\n"
                          "\xc3\xa9t\xc3\xa9    1234  -     last\n");
    free(out);
    c.no_headers = 1;
    out = captured(print_table, &c);
    ck_assert_str_eq(out, "a       5  -  x\n"
                          "\xc3\xa9t\xc3\xa9  1234  -  last\n");
    free(out);
}
END_TEST

static Suite *
ctl_suite(void)
{
    Suite *s = suite_create("ctl");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_json_spans);
    tcase_add_test(tc, test_json_errors);
    tcase_add_test(tc, test_out_value);
    tcase_add_test(tc, test_out_time);
    tcase_add_test(tc, test_table);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ctl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

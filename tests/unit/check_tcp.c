/*
 * check_tcp.c - the client protocol codec: every command whole, split at
 * every byte and fed byte by byte (identical events), a pipeline of all of
 * them, every protocol error, \r\n, empty tokens, argc past the kept
 * arguments, body limits, and the client encoder parsed back (reply
 * frames: check_tcpframe.c).
 */
#include "proto/tcp.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_MAX_LINE 64
#define T_MAX_BODY 100
#define T_MAX_MPUB 5

static const gmq_tcp_limits_t t_lim = { T_MAX_LINE, T_MAX_BODY, T_MAX_MPUB };

/* a caller like the node's: keeps the unconsumed bytes, parses until AGAIN,
 * writes each event as one line of text to log */
typedef struct {
    gmq_tcp_parser_t p;
    gmq_buf_t        in;
    gmq_buf_t        log;
    int              errs;       /* GMQ_ERR returns */
} t_feed_t;

typedef struct {
    const char *line;            /* with its \n */
    int         nbodies;
    const char *bodies[3];
    const char *want;            /* the events as t_log writes them */
} t_case_t;

static const t_case_t t_cases[] = {
    { "pub t rk 0\n", 1, { "hello" }, "CMD pub 3 [t|rk|0] tail{rk 0} body{hello}\n" },
    { "mpub t 3\n", 3, { "{\"body\":\"a\"}", "{\"body\":\"bb\"}", "" },
      "CMD mpub 2 [t|3] tail{3} n=3\n"
      "BODY 0 body{{\"body\":\"a\"}}\nBODY 1 body{{\"body\":\"bb\"}}\nBODY 2 body{}\n" },
    { "pop t q\n", 0, { NULL }, "CMD pop 2 [t|q] tail{q}\n" },
    { "pop t q 5\n", 0, { NULL }, "CMD pop 3 [t|q|5] tail{q 5}\n" },
    { "ack 384261148721025024 t q\n", 0, { NULL }, "CMD ack 3 [384261148721025024|t|q] tail{t q}\n" },
    { "dead t q 1\n", 0, { NULL }, "CMD dead 3 [t|q|1] tail{q 1}\n" },
    { "set t 1\n", 0, { NULL }, "CMD set 2 [t|1] tail{1}\n" },
    { "set t 0 2 30 3\n", 0, { NULL }, "CMD set 5 [t|0|2|30|3] tail{0 2 30 3}\n" },
    { "queue t q\n", 0, { NULL }, "CMD queue 2 [t|q] tail{q}\n" },
    { "requeue t q 42\n", 0, { NULL }, "CMD requeue 3 [t|q|42] tail{q 42}\n" },
    { "subscribe ch\n", 0, { NULL }, "CMD subscribe 1 [ch] tail{}\n" },
    { "unsubscribe ch\n", 0, { NULL }, "CMD unsubscribe 1 [ch] tail{}\n" },
    { "publish ch\n", 1, { "hi there" }, "CMD publish 1 [ch] tail{} body{hi there}\n" },
    { "publish ch hello\n", 0, { NULL }, "CMD publish 2 [ch|hello] tail{hello}\n" },
    { "publish ch hello  world\n", 0, { NULL },
      "CMD publish 4 [ch|hello||world] tail{hello  world}\n" },
    { "ping\n", 0, { NULL }, "CMD ping 0 [] tail{}\n" },
    { "auth s3cret\n", 0, { NULL }, "CMD auth 1 [s3cret] tail{}\n" },
};

/* ---- helpers ---- */

static void
t_esc(gmq_buf_t *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            gmq_buf_append(b, &p[i], 1);
        else
            gmq_buf_printf(b, "\\x%02x", c);
    }
}

/* every pointer of an event points into the bytes it consumed (base[0..used)) */
static void
t_in_range(const char *base, size_t used, const char *p, size_t n)
{
    ck_assert(p >= base && p + n <= base + used);
}

static void
t_log(gmq_buf_t *b, const gmq_tcp_event_t *ev, const char *base, size_t used)
{
    switch (ev->type) {
    case GMQ_TCP_EV_CMD:
        gmq_buf_printf(b, "CMD %s %d [", gmq_tcp_cmd_name(ev->cmd), ev->argc);
        for (int i = 0; i < ev->argc && i < GMQ_TCP_MAX_ARGS; i++) {
            t_in_range(base, used, ev->argv[i].p, ev->argv[i].len);
            if (i > 0)
                gmq_buf_append(b, "|", 1);
            t_esc(b, ev->argv[i].p, ev->argv[i].len);
        }
        t_in_range(base, used, ev->tail.p, ev->tail.len);
        gmq_buf_append_str(b, "] tail{");
        t_esc(b, ev->tail.p, ev->tail.len);
        gmq_buf_append_str(b, "}");
        if (ev->nbodies)
            gmq_buf_printf(b, " n=%u", ev->nbodies);
        break;
    case GMQ_TCP_EV_BODY:
        ck_assert_int_eq(ev->cmd, GMQ_TCP_CMD_MPUB);
        gmq_buf_printf(b, "BODY %u", ev->index);
        break;
    case GMQ_TCP_EV_ERROR:
        gmq_buf_printf(b, "ERR %s %s ", gmq_ecode_name(ev->ecode), ev->fatal ? "fatal" : "soft");
        t_esc(b, ev->msg, strlen(ev->msg));
        break;
    default:
        ck_abort_msg("event type %d", ev->type);
    }
    if (ev->has_body) {
        t_in_range(base, used, ev->body, ev->body_len);
        gmq_buf_append_str(b, " body{");
        t_esc(b, ev->body, ev->body_len);
        gmq_buf_append_str(b, "}");
    }
    gmq_buf_append(b, "\n", 1);
}

static void
t_feed_init(t_feed_t *f, const gmq_tcp_limits_t *lim)
{
    gmq_tcp_parser_init(&f->p, lim);
    gmq_buf_init(&f->in);
    gmq_buf_init(&f->log);
    f->errs = 0;
}

static void
t_feed_free(t_feed_t *f)
{
    gmq_buf_free(&f->in);
    gmq_buf_free(&f->log);
}

static void
t_feed(t_feed_t *f, const char *data, size_t n)
{
    gmq_buf_append(&f->in, data, n);
    if (f->in.data == NULL)
        return;             /* nothing fed yet */
    for (;;) {
        gmq_tcp_event_t ev;
        size_t used = 99;
        int rc = gmq_tcp_parse(&f->p, gmq_buf_rptr(&f->in), gmq_buf_used(&f->in), &used, &ev);
        if (rc == GMQ_AGAIN || rc == GMQ_ERR) {
            ck_assert_uint_eq(used, 0);
            f->errs += rc == GMQ_ERR;
            return;
        }
        ck_assert_int_eq(rc, GMQ_OK);
        ck_assert_uint_le(used, gmq_buf_used(&f->in));
        if (ev.type == GMQ_TCP_EV_ERROR && ev.fatal)
            ck_assert_uint_eq(used, 0);
        else
            ck_assert_uint_gt(used, 0);
        t_log(&f->log, &ev, gmq_buf_rptr(&f->in), used);
        gmq_buf_consume(&f->in, used);
    }
}

/* the events of input fed in pieces of `step` bytes (0: whole), after
 * `first` bytes alone; a malloc'd string */
static char *
t_run(const gmq_tcp_limits_t *lim, const char *input, size_t n, size_t first, size_t step,
      int *errs)
{
    t_feed_t f;
    t_feed_init(&f, lim);
    t_feed(&f, input, first);
    for (size_t i = first; i < n;) {
        size_t k = step == 0 || n - i < step ? n - i : step;
        t_feed(&f, input + i, k);
        i += k;
    }
    char *s = gmq_xstrndup(f.log.data ? gmq_buf_rptr(&f.log) : "", gmq_buf_used(&f.log));
    if (errs)
        *errs = f.errs;
    t_feed_free(&f);
    return s;
}

/* whole, split at every byte position, and byte by byte: always `want` */
static void
t_check(const gmq_tcp_limits_t *lim, const char *input, size_t n, const char *want)
{
    char *got = t_run(lim, input, n, 0, 0, NULL);
    ck_assert_str_eq(got, want);
    free(got);
    for (size_t k = 0; k <= n; k++) {
        got = t_run(lim, input, n, k, 0, NULL);
        ck_assert_msg(strcmp(got, want) == 0, "split at %zu: got\n%s\nwant\n%s", k, got, want);
        free(got);
    }
    got = t_run(lim, input, n, 0, 1, NULL);
    ck_assert_str_eq(got, want);
    free(got);
}

static void
t_put_case(gmq_buf_t *b, const t_case_t *c)
{
    gmq_buf_append_str(b, c->line);
    for (int i = 0; i < c->nbodies; i++)
        gmq_tcp_put_body(b, c->bodies[i], strlen(c->bodies[i]));
}

/* a body of n bytes of 'b' after line */
static void
t_put_sized(gmq_buf_t *b, const char *line, size_t n)
{
    char *body = gmq_xmalloc(n);
    memset(body, 'b', n);
    gmq_buf_append_str(b, line);
    gmq_tcp_put_body(b, body, n);
    free(body);
}

/* ---- commands ---- */

START_TEST(test_cmd_names)
{
    for (int i = GMQ_TCP_CMD_NONE + 1; i < GMQ_TCP_CMD__COUNT; i++) {
        const char *name = gmq_tcp_cmd_name((gmq_tcp_cmd_t) i);
        ck_assert_uint_gt(strlen(name), 0);
        ck_assert_int_eq(gmq_tcp_cmd_find(name, strlen(name)), i);
    }
    ck_assert_str_eq(gmq_tcp_cmd_name(GMQ_TCP_CMD_PUB), "pub");
    ck_assert_str_eq(gmq_tcp_cmd_name(GMQ_TCP_CMD_UNSUBSCRIBE), "unsubscribe");
    ck_assert_str_eq(gmq_tcp_cmd_name(GMQ_TCP_CMD_NONE), "");
    ck_assert_str_eq(gmq_tcp_cmd_name(GMQ_TCP_CMD__COUNT), "");
    ck_assert_str_eq(gmq_tcp_cmd_name((gmq_tcp_cmd_t) -1), "");
    ck_assert_int_eq(gmq_tcp_cmd_find("pu", 2), GMQ_TCP_CMD_NONE);
    ck_assert_int_eq(gmq_tcp_cmd_find("pubx", 4), GMQ_TCP_CMD_NONE);
    ck_assert_int_eq(gmq_tcp_cmd_find("PUB", 3), GMQ_TCP_CMD_NONE);
    ck_assert_int_eq(gmq_tcp_cmd_find("", 0), GMQ_TCP_CMD_NONE);
    ck_assert_int_eq(gmq_tcp_cmd_find("popx", 3), GMQ_TCP_CMD_POP);
}
END_TEST

START_TEST(test_each_command_split)
{
    const t_case_t *c = &t_cases[_i];
    gmq_buf_t in;
    gmq_buf_init(&in);
    t_put_case(&in, c);
    t_check(&t_lim, in.data, in.len, c->want);
    gmq_buf_free(&in);
}
END_TEST

START_TEST(test_pipeline_byte_by_byte)
{
    gmq_buf_t in, want;
    gmq_buf_init(&in);
    gmq_buf_init(&want);
    for (size_t i = 0; i < GMQ_ARRAY_LEN(t_cases); i++) {
        t_put_case(&in, &t_cases[i]);
        gmq_buf_append_str(&want, t_cases[i].want);
    }
    gmq_buf_append(&want, "", 1);
    char *got = t_run(&t_lim, in.data, in.len, 0, 0, NULL);
    ck_assert_str_eq(got, want.data);
    free(got);
    got = t_run(&t_lim, in.data, in.len, 0, 1, NULL);
    ck_assert_str_eq(got, want.data);
    free(got);
    got = t_run(&t_lim, in.data, in.len, 0, 7, NULL);
    ck_assert_str_eq(got, want.data);
    free(got);
    gmq_buf_free(&in);
    gmq_buf_free(&want);
}
END_TEST

START_TEST(test_crlf)
{
    gmq_buf_t in;
    gmq_buf_init(&in);
    gmq_buf_append_str(&in, "ping\r\npop t q\r\npub t rk 0\r\n");
    gmq_tcp_put_body(&in, "x\r\n", 3);
    gmq_buf_append_str(&in, "publish ch a b\r\n\r\n\r\r\npop a\rb\n");
    t_check(&t_lim, in.data, in.len,
            "CMD ping 0 [] tail{}\n"
            "CMD pop 2 [t|q] tail{q}\n"
            "CMD pub 3 [t|rk|0] tail{rk 0} body{x\\x0d\\x0a}\n"
            "CMD publish 3 [ch|a|b] tail{a b}\n"
            "ERR E_INVALID_CMD soft empty command line\n"
            "ERR E_INVALID_CMD soft unknown cmd: \\x0d\n"
            "CMD pop 1 [a\\x0db] tail{}\n");
    gmq_buf_free(&in);
}
END_TEST

START_TEST(test_empty_tokens)
{
    gmq_buf_t in;
    gmq_buf_init(&in);
    gmq_buf_append_str(&in, "pub t  0\n");
    gmq_tcp_put_body(&in, "x", 1);
    gmq_buf_append_str(&in, "ping \npop  \n ping\n");
    t_check(&t_lim, in.data, in.len,
            "CMD pub 3 [t||0] tail{ 0} body{x}\n"
            "CMD ping 1 [] tail{}\n"
            "CMD pop 2 [|] tail{}\n"
            "ERR E_INVALID_CMD soft unknown cmd: \n");
    gmq_buf_free(&in);
}
END_TEST

START_TEST(test_argc_past_max)
{
    const char *in = "set a b c d e f g h i j\n";
    t_check(&t_lim, in, strlen(in), "CMD set 10 [a|b|c|d|e|f|g|h] tail{b c d e f g h i j}\n");
    /* the kept tokens are exactly the first GMQ_TCP_MAX_ARGS */
    gmq_tcp_parser_t p;
    gmq_tcp_event_t ev;
    size_t used;
    gmq_tcp_parser_init(&p, &t_lim);
    ck_assert_int_eq(gmq_tcp_parse(&p, in, strlen(in), &used, &ev), GMQ_OK);
    ck_assert_int_eq(ev.argc, 10);
    ck_assert_uint_eq(ev.argv[GMQ_TCP_MAX_ARGS - 1].len, 1);
    ck_assert_int_eq(ev.argv[GMQ_TCP_MAX_ARGS - 1].p[0], 'h');
    ck_assert_uint_eq(used, strlen(in));
    const char *exact = "set a b c d e f g h\n";
    t_check(&t_lim, exact, strlen(exact), "CMD set 8 [a|b|c|d|e|f|g|h] tail{b c d e f g h}\n");
}
END_TEST

/* ---- errors ---- */

START_TEST(test_soft_errors)
{
    char in[200];
    snprintf(in, sizeof(in), "ping\n\nfoo a b\nPING\n%s\nping\n",
             "x1234567890123456789012345678901234567890123456789012345678901234567890");
    gmq_tcp_limits_t lim = t_lim;
    lim.max_line = 100;     /* room for the long name */
    t_check(&lim, in, strlen(in),
            "CMD ping 0 [] tail{}\n"
            "ERR E_INVALID_CMD soft empty command line\n"
            "ERR E_INVALID_CMD soft unknown cmd: foo\n"
            "ERR E_INVALID_CMD soft unknown cmd: PING\n"
            "ERR E_INVALID_CMD soft unknown cmd: "
            "x123456789012345678901234567890123456789012345678901234567890123\n"
            "CMD ping 0 [] tail{}\n");
}
END_TEST

START_TEST(test_tls_first_byte)
{
    static const char hello[] = "\x16\x03\x01\x00\x05hello\nping\n";
    t_check(&t_lim, hello, sizeof(hello) - 1,
            "ERR E_INVALID_CMD fatal TLS handshake on a plain-text port\n");
    /* only the first byte of the stream: later it is an unknown command */
    static const char later[] = "ping\n\x16x\n";
    t_check(&t_lim, later, sizeof(later) - 1,
            "CMD ping 0 [] tail{}\nERR E_INVALID_CMD soft unknown cmd: \\x16x\n");
}
END_TEST

START_TEST(test_nul_byte)
{
    static const char in[] = "ping\npub t\0 rk 0\nping\n";
    t_check(&t_lim, in, sizeof(in) - 1,
            "CMD ping 0 [] tail{}\nERR E_INVALID_PARAMS fatal NUL byte in command line\n");
    /* found before the line is complete */
    char *got = t_run(&t_lim, in + 5, 7, 0, 0, NULL);
    ck_assert_str_eq(got, "ERR E_INVALID_PARAMS fatal NUL byte in command line\n");
    free(got);
    /* a NUL in a body is data */
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_append_str(&b, "pub t rk 0\n");
    gmq_tcp_put_body(&b, "a\0b", 3);
    t_check(&t_lim, b.data, b.len, "CMD pub 3 [t|rk|0] tail{rk 0} body{a\\x00b}\n");
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_line_too_long)
{
    const char *want = "ERR E_TOO_LARGE fatal command line longer than max_line (64 bytes)\n";
    char line[T_MAX_LINE + 8];
    /* exactly max_line bytes: accepted, with \n and with \r\n */
    memset(line, 'q', sizeof(line));
    memcpy(line, "pop t ", 6);
    line[T_MAX_LINE] = '\n';
    char want_ok[200];
    snprintf(want_ok, sizeof(want_ok), "CMD pop 2 [t|%.*s] tail{%.*s}\n", T_MAX_LINE - 6, line + 6,
             T_MAX_LINE - 6, line + 6);
    t_check(&t_lim, line, T_MAX_LINE + 1, want_ok);
    line[T_MAX_LINE] = '\r';
    line[T_MAX_LINE + 1] = '\n';
    t_check(&t_lim, line, T_MAX_LINE + 2, want_ok);
    /* max_line bytes and a \r: it may be the \r\n, so no answer yet */
    int errs = 0;
    char *got = t_run(&t_lim, line, T_MAX_LINE + 1, 0, 0, &errs);
    ck_assert_str_eq(got, "");
    free(got);
    /* one byte more: refused at once, without waiting for the \n */
    line[T_MAX_LINE] = 'q';
    line[T_MAX_LINE + 1] = '\n';
    t_check(&t_lim, line, T_MAX_LINE + 2, want);
    got = t_run(&t_lim, line, T_MAX_LINE + 1, 0, 0, &errs);
    ck_assert_str_eq(got, want);
    free(got);
    got = t_run(&t_lim, line, T_MAX_LINE + 1, 0, 1, &errs);
    ck_assert_str_eq(got, want);
    free(got);
    line[T_MAX_LINE] = '\r';
    line[T_MAX_LINE + 1] = 'q';
    got = t_run(&t_lim, line, T_MAX_LINE + 2, 0, 1, &errs);
    ck_assert_str_eq(got, want);
    free(got);
}
END_TEST

/* found by tests/fuzz/fuzz_tcp.c: a line over max_line with a NUL past the
 * limit was "NUL byte" when read at once and "longer than max_line" when
 * the limit was crossed before the NUL arrived; it is the length error now
 * however it is split, and a NUL within the limit is still the NUL error */
START_TEST(test_nul_past_max_line)
{
    char line[T_MAX_LINE + 16];
    memset(line, 'q', sizeof(line));
    memcpy(line, "pop t ", 6);
    line[T_MAX_LINE + 4] = '\0';
    line[T_MAX_LINE + 8] = '\n';
    t_check(&t_lim, line, T_MAX_LINE + 9,
            "ERR E_TOO_LARGE fatal command line longer than max_line (64 bytes)\n");
    line[T_MAX_LINE + 4] = 'q';
    line[T_MAX_LINE] = '\0';      /* byte max_line + 1: still a NUL in the line */
    t_check(&t_lim, line, T_MAX_LINE + 9, "ERR E_INVALID_PARAMS fatal NUL byte in command line\n");
}
END_TEST

START_TEST(test_slow_line_not_rescanned)
{
    gmq_tcp_parser_t p;
    gmq_tcp_event_t ev;
    size_t used;
    const char *in = "pop topic q 5\n";
    gmq_tcp_parser_init(&p, &t_lim);
    for (size_t n = 1; n < strlen(in); n++) {
        ck_assert_int_eq(gmq_tcp_parse(&p, in, n, &used, &ev), GMQ_AGAIN);
        ck_assert_uint_eq(p.scanned, n);
    }
    ck_assert_int_eq(gmq_tcp_parse(&p, in, strlen(in), &used, &ev), GMQ_OK);
    ck_assert_uint_eq(used, strlen(in));
    ck_assert_uint_eq(p.scanned, 0);
    ck_assert_int_eq(ev.cmd, GMQ_TCP_CMD_POP);
    ck_assert_int_eq(ev.argc, 3);
    /* the bytes before scanned are not searched again: a NUL slipped in
     * behind the parser's back (callers never do this) goes unseen */
    char buf[32] = "pop t";
    gmq_tcp_parser_init(&p, &t_lim);
    ck_assert_int_eq(gmq_tcp_parse(&p, buf, 5, &used, &ev), GMQ_AGAIN);
    ck_assert_uint_eq(p.scanned, 5);
    memcpy(buf, "pop \0 q\n", 8);
    ck_assert_int_eq(gmq_tcp_parse(&p, buf, 8, &used, &ev), GMQ_OK);
    ck_assert_int_eq(ev.type, GMQ_TCP_EV_CMD);
    ck_assert_int_eq(ev.cmd, GMQ_TCP_CMD_POP);
}
END_TEST

START_TEST(test_mpub_count)
{
    static const char *bad[] = {
        "mpub t 0\n", "mpub t x\n", "mpub t 1x\n", "mpub t -1\n", "mpub t +1\n", "mpub t  2\n",
        "mpub t\n", "mpub t 2 x\n", "mpub t 6\n", "mpub t 99999999999999999999\n", "mpub t \n",
        "mpub\n", "mpub t 0x2\n", "mpub t 4294967297\n",
    };
    const char *want =
        "ERR E_INVALID_PUSHNUM fatal mpub <topic> <num>: num must be between 1 and 5 (max_mpub)\n";
    for (size_t i = 0; i < GMQ_ARRAY_LEN(bad); i++) {
        char in[64];
        snprintf(in, sizeof(in), "%sping\n", bad[i]);
        t_check(&t_lim, in, strlen(in), want);
    }
    /* max_mpub, with a leading zero, then the next command */
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_append_str(&b, "mpub t 05\n");
    for (int i = 0; i < 5; i++)
        gmq_tcp_put_body(&b, "{}", 2);
    gmq_buf_append_str(&b, "ping\n");
    t_check(&t_lim, b.data, b.len,
            "CMD mpub 2 [t|05] tail{05} n=5\nBODY 0 body{{}}\nBODY 1 body{{}}\nBODY 2 body{{}}\n"
            "BODY 3 body{{}}\nBODY 4 body{{}}\nCMD ping 0 [] tail{}\n");
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_body_limits)
{
    const char *too_large = "ERR E_TOO_LARGE fatal body of 101 bytes is larger than max_body (100)\n";
    gmq_buf_t b, want;
    /* pub and publish: max_body accepted, one more refused */
    static const char *lines[] = { "pub t rk 0\n", "publish ch\n" };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(lines); i++) {
        gmq_buf_init(&b);
        gmq_buf_init(&want);
        t_put_sized(&b, lines[i], T_MAX_BODY);
        gmq_buf_append_str(&b, "ping\n");
        gmq_buf_append_str(&want, " body{");
        memset(gmq_buf_reserve(&want, T_MAX_BODY), 'b', T_MAX_BODY);
        want.len += T_MAX_BODY;
        gmq_buf_append_str(&want, "}\nCMD ping 0 [] tail{}\n");
        gmq_buf_append(&want, "", 1);
        char *got = t_run(&t_lim, b.data, b.len, 0, 0, NULL);
        ck_assert_ptr_nonnull(strstr(got, want.data));
        free(got);
        gmq_buf_free(&b);
        gmq_buf_free(&want);

        gmq_buf_init(&b);
        t_put_sized(&b, lines[i], T_MAX_BODY + 1);
        t_check(&t_lim, b.data, b.len, too_large);
        /* refused as soon as the length is read, not after the body */
        got = t_run(&t_lim, b.data, strlen(lines[i]) + GMQ_TCP_BODY_HDR, 0, 0, NULL);
        ck_assert_str_eq(got, too_large);
        free(got);
        gmq_buf_free(&b);
    }
    /* mpub items: max_body + GMQ_TCP_MPUB_ENVELOPE */
    gmq_buf_init(&b);
    t_put_sized(&b, "mpub t 2\n", T_MAX_BODY + GMQ_TCP_MPUB_ENVELOPE);
    t_put_sized(&b, "", T_MAX_BODY + GMQ_TCP_MPUB_ENVELOPE + 1);
    int errs = 0;
    char *got = t_run(&t_lim, b.data, b.len, 0, 0, &errs);
    ck_assert_ptr_nonnull(strstr(got, "CMD mpub 2 [t|2] tail{2} n=2\nBODY 0 body{bbbb"));
    ck_assert_ptr_nonnull(strstr(got, "bbb}\nERR E_TOO_LARGE fatal mpub item of 4197 bytes is "
                                      "larger than max_body + 4096 (4196)\n"));
    ck_assert_int_eq(errs, 1);
    free(got);
    gmq_buf_free(&b);
}
END_TEST

START_TEST(test_broken_after_fatal)
{
    gmq_tcp_parser_t p;
    gmq_tcp_event_t ev;
    size_t used = 99;
    gmq_tcp_parser_init(&p, &t_lim);
    ck_assert_int_eq(gmq_tcp_parse(&p, "mpub t 0\n", 9, &used, &ev), GMQ_OK);
    ck_assert_int_eq(ev.type, GMQ_TCP_EV_ERROR);
    ck_assert_int_eq(ev.fatal, 1);
    ck_assert_int_eq(ev.ecode, GMQ_E_INVALID_PUSHNUM);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(p.broken, 1);
    used = 99;
    ck_assert_int_eq(gmq_tcp_parse(&p, "mpub t 0\n", 9, &used, &ev), GMQ_ERR);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(gmq_tcp_parse(&p, "ping\n", 5, &used, &ev), GMQ_ERR);
    ck_assert_int_eq(gmq_tcp_parse(&p, "", 0, &used, &ev), GMQ_ERR);
    /* a soft error does not break it */
    gmq_tcp_parser_init(&p, &t_lim);
    ck_assert_int_eq(gmq_tcp_parse(&p, "nope\nping\n", 10, &used, &ev), GMQ_OK);
    ck_assert_int_eq(ev.type, GMQ_TCP_EV_ERROR);
    ck_assert_int_eq(ev.fatal, 0);
    ck_assert_uint_eq(used, 5);
    ck_assert_int_eq(gmq_tcp_parse(&p, "ping\n", 5, &used, &ev), GMQ_OK);
    ck_assert_int_eq(ev.type, GMQ_TCP_EV_CMD);
    ck_assert_int_eq(ev.cmd, GMQ_TCP_CMD_PING);
    /* every fatal error: once an event, then GMQ_ERR */
    static const char *fatal[] = { "\x16", "a\0", "mpub t x\n", "pub t k 0\n\0\0\0\x7f" };
    static const size_t flen[] = { 1, 2, 9, 14 };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(fatal); i++) {
        int errs = 0;
        char *got = t_run(&t_lim, fatal[i], flen[i], 0, 0, &errs);
        ck_assert_ptr_nonnull(strstr(got, " fatal "));
        ck_assert_int_eq(errs, 1);
        free(got);
    }
}
END_TEST

/* ---- client encoder ---- */

START_TEST(test_put_cmd_parsed_back)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    static const char *pub[] = { "t", "rk", "0" };
    static const char *mpub[] = { "t", "3" };
    static const char *pop[] = { "t", "q", "5" };
    static const char *set[] = { "t", "0", "2", "30", "3" };
    static const char *publish[] = { "ch", "hello world" };
    static const char *empty[] = { "t", "", "0" };
    gmq_tcp_put_cmd(&b, GMQ_TCP_CMD_PUB, 3, pub);
    gmq_tcp_put_body(&b, "hello", 5);
    gmq_tcp_put_cmd(&b, GMQ_TCP_CMD_MPUB, 2, mpub);
    gmq_tcp_put_body(&b, "{\"body\":\"a\"}", 12);
    gmq_tcp_put_body(&b, "", 0);
    gmq_tcp_put_body(&b, "a\0b", 3);
    gmq_tcp_put_cmd(&b, GMQ_TCP_CMD_POP, 3, pop);
    gmq_tcp_put_cmd(&b, GMQ_TCP_CMD_SET, 5, set);
    gmq_tcp_put_cmd(&b, GMQ_TCP_CMD_PUBLISH, 2, publish);
    gmq_tcp_put_cmd(&b, GMQ_TCP_CMD_PUBLISH, 1, publish);
    gmq_tcp_put_body(&b, "hi", 2);
    gmq_tcp_put_cmd(&b, GMQ_TCP_CMD_PUB, 3, empty);
    gmq_tcp_put_body(&b, "", 0);
    gmq_tcp_put_cmd(&b, GMQ_TCP_CMD_PING, 0, NULL);
    ck_assert(memcmp(b.data, "pub t rk 0\n\0\0\0\5hello", 20) == 0);
    t_check(&t_lim, b.data, b.len,
            "CMD pub 3 [t|rk|0] tail{rk 0} body{hello}\n"
            "CMD mpub 2 [t|3] tail{3} n=3\n"
            "BODY 0 body{{\"body\":\"a\"}}\nBODY 1 body{}\nBODY 2 body{a\\x00b}\n"
            "CMD pop 3 [t|q|5] tail{q 5}\n"
            "CMD set 5 [t|0|2|30|3] tail{0 2 30 3}\n"
            "CMD publish 3 [ch|hello|world] tail{hello world}\n"
            "CMD publish 1 [ch] tail{} body{hi}\n"
            "CMD pub 3 [t||0] tail{ 0} body{}\n"
            "CMD ping 0 [] tail{}\n");
    gmq_buf_free(&b);
}
END_TEST

static Suite *
tcp_suite(void)
{
    Suite *s = suite_create("tcp");
    TCase *tc = tcase_create("parser");
    tcase_add_test(tc, test_cmd_names);
    tcase_add_loop_test(tc, test_each_command_split, 0, (int) GMQ_ARRAY_LEN(t_cases));
    tcase_add_test(tc, test_pipeline_byte_by_byte);
    tcase_add_test(tc, test_crlf);
    tcase_add_test(tc, test_empty_tokens);
    tcase_add_test(tc, test_argc_past_max);
    tcase_add_test(tc, test_soft_errors);
    tcase_add_test(tc, test_tls_first_byte);
    tcase_add_test(tc, test_nul_byte);
    tcase_add_test(tc, test_line_too_long);
    tcase_add_test(tc, test_nul_past_max_line);
    tcase_add_test(tc, test_slow_line_not_rescanned);
    tcase_add_test(tc, test_mpub_count);
    tcase_add_test(tc, test_body_limits);
    tcase_add_test(tc, test_broken_after_fatal);
    suite_add_tcase(s, tc);
    tc = tcase_create("encoder");
    tcase_add_test(tc, test_put_cmd_parsed_back);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(tcp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

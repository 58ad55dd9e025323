/*
 * ctl_cmds_msg.c - gmqctl's commands on messages: push, pop, ack, peek,
 * touch, release, the dead letters (dead list, dead kick) and a message's
 * trace (msg show).
 */
#include "client/ctl_cmds.h"
#include "client/ctl_http.h"
#include "client/ctl_out.h"
#include "common/limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSG_STDIN_MAX  (1024L * 1024 * 1024)   /* a larger body from stdin is refused */
#define MSG_DELAY_MAX  UINT32_MAX              /* the node applies max_delay */
#define MSG_BODY_CUT   60                      /* characters of a body in dead list */

static int  msg_names(gmq_ctl_t *c, int with_key);
static int  msg_read_stdin(gmq_buf_t *b);
static void msg_row(gmq_ctl_table_t *t, const gmq_ctl_json_t *m, const char *const *keys,
                    size_t cut);
static int  msg_simple(gmq_ctl_t *c, const char *path, const char *const *kv, const char *done);

int
gmq_ctl_cmd_push(gmq_ctl_t *c)
{
    int rc = msg_names(c, 0);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *delay = gmq_ctl_opt(c, "delay"), *rk = gmq_ctl_opt(c, "route-key");
    uint64_t d = 0;
    if (delay && (rc = gmq_ctl_num(c, "--delay", delay, 0, MSG_DELAY_MAX, &d)) != GMQ_CTL_OK)
        return rc;
    gmq_buf_t body, json;
    gmq_buf_init(&body);
    gmq_buf_init(&json);
    if (c->argc > 1 && strcmp(c->argv[1], "-") != 0) {
        gmq_buf_append_str(&body, c->argv[1]);
    } else if (msg_read_stdin(&body) != GMQ_OK) {
        rc = errno == EFBIG ? gmq_ctl_fail("the body on standard input is larger than %ld MiB",
                                           MSG_STDIN_MAX >> 20)
                            : gmq_ctl_fail("cannot read the body from standard input: %s",
                                           strerror(errno));
        gmq_buf_free(&body);
        return rc;
    }
    gmq_buf_append_str(&json, "{\"topic\":");
    gmq_buf_json_str(&json, c->argv[0], strlen(c->argv[0]));
    gmq_buf_append_str(&json, ",\"body\":");
    gmq_buf_json_str(&json, gmq_buf_rptr(&body), gmq_buf_used(&body));
    if (rk) {
        gmq_buf_append_str(&json, ",\"route_key\":");
        gmq_buf_json_str(&json, rk, strlen(rk));
    }
    gmq_buf_printf(&json, ",\"delay\":%llu}", (unsigned long long) d);
    gmq_buf_append(&json, "", 1);
    gmq_buf_free(&body);

    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/push", NULL, gmq_buf_rptr(&json), &r);
    gmq_buf_free(&json);
    if (rc == GMQ_CTL_OK && c->json) {
        gmq_ctl_out_json(r.data);
    } else if (rc == GMQ_CTL_OK) {
        static const char *const head[] = { "MSG_ID", NULL };
        gmq_ctl_table_t *t = gmq_ctl_out_table(head, "l");
        gmq_ctl_out_cellv(t, "msgId", gmq_ctl_json_get(r.data, "msgId"), 0);
        gmq_ctl_out_print(t, c);
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_pop(gmq_ctl_t *c)
{
    int rc = msg_names(c, 1);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *wait = gmq_ctl_opt(c, "timeout");
    uint64_t w = 0;
    if (wait && (rc = gmq_ctl_num(c, "--timeout", wait, 0, GMQ_WAIT_MAX_S, &w)) != GMQ_CTL_OK)
        return rc;
    c->extra_ms = (long) w * 1000;      /* the request lasts as long as the wait, and then some */
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1], "timeout", wait, NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/pop", kv, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json) {
        gmq_ctl_out_json(r.data);
    } else if (rc == GMQ_CTL_OK) {
        static const char *const head[] = { "ID", "RETRY", "BODY", NULL };
        static const char *const keys[] = { "id", "retry_count", "body", NULL };
        gmq_ctl_table_t *t = gmq_ctl_out_table(head, "rrl");
        msg_row(t, r.data, keys, 0);
        gmq_ctl_out_print(t, c);
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_ack(gmq_ctl_t *c)
{
    int rc = msg_names(c, 1);
    if (rc == GMQ_CTL_OK)
        rc = gmq_ctl_check_id(c, c->argv[2]);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1], "msgId", c->argv[2], NULL };
    return msg_simple(c, "/ack", kv, "acknowledged");
}

int
gmq_ctl_cmd_peek(gmq_ctl_t *c)
{
    int rc = msg_names(c, 1);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *state = c->argc > 2 ? c->argv[2] : "ready";
    if (strcmp(state, "ready") != 0 && strcmp(state, "delayed") != 0 && strcmp(state, "dead") != 0)
        return gmq_ctl_usage(c, "peek: state '%s': want ready, delayed or dead", state);
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1], "state", state, NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/peek", kv, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json) {
        gmq_ctl_out_json(r.data);
    } else if (rc == GMQ_CTL_OK) {
        static const char *const head[] = { "ID", "STATE", "RETRY", "PUSHED_AT", "DUE_AT", "BODY",
                                            NULL };
        static const char *const keys[] = { "id", "state", "retry_count", "pushed_at", "due_at",
                                            "body", NULL };
        gmq_ctl_table_t *t = gmq_ctl_out_table(head, "rlrlll");
        msg_row(t, r.data, keys, 0);
        gmq_ctl_out_print(t, c);
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_touch(gmq_ctl_t *c)
{
    int rc = msg_names(c, 1);
    if (rc == GMQ_CTL_OK)
        rc = gmq_ctl_check_id(c, c->argv[2]);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1], "msgId", c->argv[2], NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/touch", kv, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json) {
        gmq_ctl_out_json(r.data);
    } else if (rc == GMQ_CTL_OK) {
        static const char *const head[] = { "ID", "DEADLINE", NULL };
        gmq_ctl_table_t *t = gmq_ctl_out_table(head, "rl");
        gmq_ctl_out_cell(t, c->argv[2]);
        gmq_ctl_out_cellv(t, "deadline", gmq_ctl_json_get(r.data, "deadline"), 0);
        gmq_ctl_out_print(t, c);
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_release(gmq_ctl_t *c)
{
    int rc = msg_names(c, 1);
    if (rc == GMQ_CTL_OK)
        rc = gmq_ctl_check_id(c, c->argv[2]);
    const char *delay = gmq_ctl_opt(c, "delay");
    uint64_t d;
    if (rc == GMQ_CTL_OK && delay)
        rc = gmq_ctl_num(c, "--delay", delay, 0, MSG_DELAY_MAX, &d);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1], "msgId", c->argv[2],
                         "delay", delay, NULL };
    char done[64];
    snprintf(done, sizeof(done), "released, due %s%s%s", delay ? "in " : "at once",
             delay ? delay : "", delay ? " s" : "");
    return msg_simple(c, "/release", kv, done);
}

int
gmq_ctl_cmd_dead_list(gmq_ctl_t *c)
{
    int rc = msg_names(c, 1);
    const char *limit = gmq_ctl_opt(c, "limit");
    uint64_t l;
    if (rc == GMQ_CTL_OK && limit)
        rc = gmq_ctl_num(c, "--limit", limit, 1, GMQ_LIST_DEAD_MAX, &l);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1], "limit", limit, NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/listDead", kv, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json) {
        gmq_ctl_out_json(r.data);
    } else if (rc == GMQ_CTL_OK) {
        static const char *const head[] = { "ID", "RETRY", "PUSHED_AT", "BODY", NULL };
        static const char *const keys[] = { "id", "retry_count", "pushed_at", "body", NULL };
        gmq_ctl_table_t *t = gmq_ctl_out_table(head, "rrll");
        for (size_t i = 0; r.data->type == GMQ_CTL_JSON_ARRAY && i < r.data->n; i++)
            msg_row(t, r.data->items[i], keys, MSG_BODY_CUT);
        gmq_ctl_out_print(t, c);
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_dead_kick(gmq_ctl_t *c)
{
    int rc = msg_names(c, 1);
    const char *n = c->argc > 2 ? c->argv[2] : "1";
    uint64_t x;
    if (rc == GMQ_CTL_OK)
        rc = gmq_ctl_num(c, "N", n, 1, GMQ_KICK_MAX, &x);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1], "n", n, NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/kick", kv, NULL, &r);
    if (rc == GMQ_CTL_OK) {
        const char *k = gmq_ctl_json_str(r.data, "kicked");
        gmq_ctl_out_done(c, r.data, "topic %s: queue %s: %s dead letters back in the queue",
                         c->argv[0], c->argv[1], k ? k : "?");
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_msg_show(gmq_ctl_t *c)
{
    int rc = msg_names(c, 0);
    if (rc == GMQ_CTL_OK)
        rc = gmq_ctl_check_id(c, c->argv[1]);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "msgId", c->argv[1], NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/msg", kv, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json)
        gmq_ctl_out_json(r.data);
    else if (rc == GMQ_CTL_OK)
        gmq_ctl_out_object(c, r.data);
    gmq_ctl_reply_free(&r);
    return rc;
}

static int
msg_names(gmq_ctl_t *c, int with_key)
{
    int rc = gmq_ctl_check_name(c, "topic", c->argv[0]);
    if (rc == GMQ_CTL_OK && with_key)
        rc = gmq_ctl_check_name(c, "bind key", c->argv[1]);
    return rc;
}

/* all of stdin into b; GMQ_ERR with errno (EFBIG past MSG_STDIN_MAX) */
static int
msg_read_stdin(gmq_buf_t *b)
{
    for (;;) {
        if (gmq_buf_used(b) > (size_t) MSG_STDIN_MAX) {
            errno = EFBIG;
            return GMQ_ERR;
        }
        ssize_t n = gmq_buf_read_fd(b, STDIN_FILENO, 65536);
        if (n == 0)
            return GMQ_OK;
        if (n < 0 && errno != EINTR)
            return GMQ_ERR;
    }
}

/* one row of a message's fields, the body cut after cut characters (0: whole);
 * a body the node cut ("truncated":true) says so */
static void
msg_row(gmq_ctl_table_t *t, const gmq_ctl_json_t *m, const char *const *keys, size_t cut)
{
    for (size_t k = 0; keys[k]; k++) {
        const gmq_ctl_json_t *v = gmq_ctl_json_get(m, keys[k]);
        if (strcmp(keys[k], "body") != 0) {
            gmq_ctl_out_cellv(t, keys[k], v, 0);
            continue;
        }
        gmq_buf_t b;
        gmq_buf_init(&b);
        gmq_ctl_out_value(&b, keys[k], v, cut);
        if (gmq_ctl_json_true(gmq_ctl_json_get(m, "truncated"))) {
            const char *len = gmq_ctl_json_str(m, "len");
            gmq_buf_printf(&b, "... (cut by the node; %s bytes)", len ? len : "more");
        }
        gmq_buf_append(&b, "", 1);
        gmq_ctl_out_cell(t, gmq_buf_rptr(&b));
        gmq_buf_free(&b);
    }
}

/* a request whose reply has no data to show: "message <id> <done>" and the
 * node's note, if any ("success (topic is auto-ack: ...)") */
static int
msg_simple(gmq_ctl_t *c, const char *path, const char *const *kv, const char *done)
{
    gmq_ctl_reply_t r;
    int rc = gmq_ctl_http_api(c, path, kv, NULL, &r);
    if (rc == GMQ_CTL_OK) {
        const char *note = strncmp(r.msg, "success (", 9) == 0 ? r.msg + 8 : "";
        gmq_ctl_out_done(c, r.data, "message %s %s%s", c->argv[2], done, note);
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

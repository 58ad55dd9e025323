/*
 * ctl_cmds_topic.c - gmqctl's commands on topics and queues: topic list, show,
 * config and delete; queue declare, list, purge and delete.
 */
#include "client/ctl_cmds.h"
#include "client/ctl_http.h"
#include "client/ctl_out.h"
#include "common/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int  topic_names(gmq_ctl_t *c, int with_key);
static int  topic_cmp(const void *a, const void *b);
static void topic_member(gmq_buf_t *b, int first, const char *key, const gmq_ctl_json_t *v);
static const char *topic_count(const gmq_ctl_json_t *data, const char *key);

int
gmq_ctl_cmd_topic_list(gmq_ctl_t *c)
{
    gmq_ctl_reply_t r;
    int rc = gmq_ctl_http_api(c, "/getAllTopicStat", NULL, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json) {
        gmq_ctl_out_json(r.data);
    } else if (rc == GMQ_CTL_OK) {
        static const char *const keys[] = { "name", "queue_num", "queue_msg_num", "delay_num",
                                            "wait_ack_num", "dead_num", "push_num", "pop_num",
                                            "is_auto_ack", "mode", "start_time", NULL };
        static const char *const head[] = { "TOPIC", "QUEUES", "READY", "DELAYED", "IN_FLIGHT",
                                            "DEAD", "PUSHED", "POPPED", "AUTO_ACK", "MODE",
                                            "STARTED", NULL };
        gmq_ctl_out_list(c, r.data, keys, head, "name");
    }
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_topic_show(gmq_ctl_t *c)
{
    int rc = topic_names(c, 0);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/getTopicStat", kv, NULL, &r);
    if (rc == GMQ_CTL_OK && c->json)
        gmq_ctl_out_json(r.data);
    else if (rc == GMQ_CTL_OK)
        gmq_ctl_out_object(c, r.data);
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_topic_config(gmq_ctl_t *c)
{
    static const struct {
        const char *opt, *param;
        uint64_t    min, max;
    } set[] = {
        { "auto-ack", "isAutoAck", 0, 1 },
        { "mode", "mode", 1, GMQ_MODE_MAX },
        { "ttr", "msgTTR", 1, GMQ_TTR_MAX_S },
        { "retry", "msgRetry", 0, GMQ_RETRY_MAX },
    };
    int rc = topic_names(c, 0);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *topic = c->argv[0];
    const char *kv[2 + 2 * GMQ_ARRAY_LEN(set) + 1] = { "topic", topic };
    size_t nkv = 2;
    for (size_t i = 0; i < GMQ_ARRAY_LEN(set); i++) {
        const char *v = gmq_ctl_opt(c, set[i].opt);
        uint64_t x;
        char what[32];
        snprintf(what, sizeof(what), "--%s", set[i].opt);
        if (v && (rc = gmq_ctl_num(c, what, v, set[i].min, set[i].max, &x)) != GMQ_CTL_OK)
            return rc;
        if (v) {
            kv[nkv++] = set[i].param;
            kv[nkv++] = v;
        }
    }
    kv[nkv] = NULL;
    gmq_ctl_reply_t r;
    if (nkv > 2) {
        rc = gmq_ctl_http_api(c, "/config", kv, NULL, &r);
        gmq_ctl_reply_free(&r);
        if (rc != GMQ_CTL_OK)
            return rc;
    }
    const char *q[] = { "topic", topic, NULL };
    rc = gmq_ctl_http_api(c, "/getTopicStat", q, NULL, &r);
    if (rc != GMQ_CTL_OK) {
        gmq_ctl_reply_free(&r);
        return rc;
    }
    static const char *const keys[] = { "name", "is_auto_ack", "mode", "msg_ttr", "msg_retry" };
    if (c->json) {
        gmq_buf_t b;
        gmq_buf_init(&b);
        for (size_t i = 0; i < GMQ_ARRAY_LEN(keys); i++)
            topic_member(&b, i == 0, keys[i], gmq_ctl_json_get(r.data, keys[i]));
        gmq_buf_append_str(&b, "}\n");
        fwrite(gmq_buf_rptr(&b), 1, gmq_buf_used(&b), stdout);
        gmq_buf_free(&b);
    } else {
        static const char *const head[] = { "TOPIC", "AUTO_ACK", "MODE", "TTR", "RETRY", NULL };
        static const char *const modes[] = { "?", "exact", "regex", "topic" };
        gmq_ctl_table_t *t = gmq_ctl_out_table(head, "lllrr");
        const char *mode = gmq_ctl_json_str(r.data, "mode");
        int m = mode ? atoi(mode) : 0;
        gmq_ctl_out_cellv(t, "name", gmq_ctl_json_get(r.data, "name"), 0);
        gmq_ctl_out_cellv(t, "is_auto_ack", gmq_ctl_json_get(r.data, "is_auto_ack"), 0);
        gmq_ctl_out_cellf(t, "%s (%s)", mode ? mode : "-", modes[m >= 1 && m <= 3 ? m : 0]);
        gmq_ctl_out_cellv(t, "msg_ttr", gmq_ctl_json_get(r.data, "msg_ttr"), 0);
        gmq_ctl_out_cellv(t, "msg_retry", gmq_ctl_json_get(r.data, "msg_retry"), 0);
        gmq_ctl_out_print(t, c);
    }
    gmq_ctl_reply_free(&r);
    return GMQ_CTL_OK;
}

int
gmq_ctl_cmd_topic_delete(gmq_ctl_t *c)
{
    int rc = topic_names(c, 0);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "force", gmq_ctl_opt(c, "force"), NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/deleteTopic", kv, NULL, &r);
    if (rc == GMQ_CTL_OK)
        gmq_ctl_out_done(c, r.data, "topic %s deleted", c->argv[0]);
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_queue_declare(gmq_ctl_t *c)
{
    int rc = topic_names(c, 1);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1], NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/declareQueue", kv, NULL, &r);
    if (rc == GMQ_CTL_OK)
        gmq_ctl_out_done(c, r.data, "topic %s: queue %s declared", c->argv[0], c->argv[1]);
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_queue_list(gmq_ctl_t *c)
{
    int rc = topic_names(c, 0);
    if (rc != GMQ_CTL_OK)
        return rc;
    /* /getTopicStat first: /getQueuesByTopic would create an unknown topic */
    const char *kv[] = { "topic", c->argv[0], NULL };
    gmq_ctl_reply_t st, qs;
    rc = gmq_ctl_http_api(c, "/getTopicStat", kv, NULL, &st);
    if (rc != GMQ_CTL_OK) {
        gmq_ctl_reply_free(&st);
        return rc;
    }
    rc = gmq_ctl_http_api(c, "/getQueuesByTopic", kv, NULL, &qs);
    if (rc != GMQ_CTL_OK) {
        gmq_ctl_reply_free(&st);
        gmq_ctl_reply_free(&qs);
        return rc;
    }
    const gmq_ctl_json_t *byname = qs.data, *stats = gmq_ctl_json_get(st.data, "queues");
    size_t n = byname->type == GMQ_CTL_JSON_OBJECT ? byname->n : 0;
    /* by bind key: (key, index) pairs, the key first for topic_cmp */
    struct { const char *key; size_t i; } *pairs = gmq_xcalloc(n ? n : 1, sizeof(*pairs));
    for (size_t i = 0; i < n; i++) {
        pairs[i].key = byname->keys[i];
        pairs[i].i = i;
    }
    qsort(pairs, n, sizeof(*pairs), topic_cmp);

    static const char *const cols[] = { "ready", "in_flight", "delayed", "dead", "pushed", "popped",
                                        "acked", NULL };
    static const char *const head[] = { "BIND_KEY", "QUEUE", "READY", "IN_FLIGHT", "DELAYED",
                                        "DEAD", "PUSHED", "POPPED", "ACKED", NULL };
    gmq_ctl_table_t *t = c->json ? NULL : gmq_ctl_out_table(head, "ll");
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_append_str(&b, "[");
    for (size_t k = 0; k < n; k++) {
        const char *key = pairs[k].key;
        const gmq_ctl_json_t *name = byname->items[pairs[k].i], *q = NULL;
        for (size_t j = 0; stats && j < stats->n; j++)
            if (gmq_ctl_json_str(stats->items[j], "bind_key") &&
                strcmp(gmq_ctl_json_str(stats->items[j], "bind_key"), key) == 0)
                q = stats->items[j];
        if (t) {
            gmq_ctl_out_cell(t, key);
            gmq_ctl_out_cellv(t, "queue", name, 0);
            for (size_t j = 0; cols[j]; j++)
                gmq_ctl_out_cellv(t, cols[j], gmq_ctl_json_get(q, cols[j]), 0);
            continue;
        }
        gmq_buf_append_str(&b, k ? ",{\"bind_key\":" : "{\"bind_key\":");
        gmq_buf_json_str(&b, key, strlen(key));
        topic_member(&b, 0, "queue", name);
        for (size_t j = 0; q && j < q->n; j++)
            if (strcmp(q->keys[j], "bind_key") != 0)
                topic_member(&b, 0, q->keys[j], q->items[j]);
        gmq_buf_append_str(&b, "}");
    }
    gmq_buf_append_str(&b, "]\n");
    if (t)
        gmq_ctl_out_print(t, c);
    else
        fwrite(gmq_buf_rptr(&b), 1, gmq_buf_used(&b), stdout);
    gmq_buf_free(&b);
    free(pairs);
    gmq_ctl_reply_free(&st);
    gmq_ctl_reply_free(&qs);
    return GMQ_CTL_OK;
}

int
gmq_ctl_cmd_queue_purge(gmq_ctl_t *c)
{
    int rc = topic_names(c, 1);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1],
                         "force", gmq_ctl_opt(c, "force"), NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/purgeQueue", kv, NULL, &r);
    if (rc == GMQ_CTL_OK)
        gmq_ctl_out_done(c, r.data, "topic %s: queue %s purged, %s messages dropped", c->argv[0],
                         c->argv[1], topic_count(r.data, "purged"));
    gmq_ctl_reply_free(&r);
    return rc;
}

int
gmq_ctl_cmd_queue_delete(gmq_ctl_t *c)
{
    int rc = topic_names(c, 1);
    if (rc != GMQ_CTL_OK)
        return rc;
    const char *kv[] = { "topic", c->argv[0], "bindKey", c->argv[1],
                         "force", gmq_ctl_opt(c, "force"), NULL };
    gmq_ctl_reply_t r;
    rc = gmq_ctl_http_api(c, "/deleteQueue", kv, NULL, &r);
    if (rc == GMQ_CTL_OK)
        gmq_ctl_out_done(c, r.data, "topic %s: queue %s deleted with its dead letters, %s messages "
                         "dropped", c->argv[0], c->argv[1], topic_count(r.data, "deleted"));
    gmq_ctl_reply_free(&r);
    return rc;
}

/* usage errors for a bad TOPIC (argv[0]) and, with_key, KEY (argv[1]) */
static int
topic_names(gmq_ctl_t *c, int with_key)
{
    int rc = gmq_ctl_check_name(c, "topic", c->argv[0]);
    if (rc == GMQ_CTL_OK && with_key)
        rc = gmq_ctl_check_name(c, "bind key", c->argv[1]);
    return rc;
}

static int
topic_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* ,"key":<v as the node wrote it> (v NULL: null); first opens the object */
static void
topic_member(gmq_buf_t *b, int first, const char *key, const gmq_ctl_json_t *v)
{
    gmq_buf_append_str(b, first ? "{" : ",");
    gmq_buf_json_str(b, key, strlen(key));
    gmq_buf_append_str(b, ":");
    if (v)
        gmq_buf_append(b, v->src, v->src_len);
    else
        gmq_buf_append_str(b, "null");
}

static const char *
topic_count(const gmq_ctl_json_t *data, const char *key)
{
    const char *n = gmq_ctl_json_str(data, key);
    return n ? n : "?";
}

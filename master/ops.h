/*
 * ops.h - every operation a client asks of a topic, validated once here
 * against the named limits (common/limits.h and the configuration) before
 * it is sent to the topic's worker. master/tcp.c and master/api.c only
 * translate their syntax into a gmq_op_req_t and the replies back.
 */
#ifndef GMQ_OPS_H
#define GMQ_OPS_H

#include "master.h"
#include "proto/op.h"

/* a push as /push's data and mpub's items give it in JSON; every string is
 * taken with its length (bodies keep NUL bytes) */
typedef struct {
    gmq_buf_t topic, body, route_key;
    int       has_topic, has_body, has_delay;
    long long delay;                 /* seconds */
} gmq_ops_json_push_t;

void gmq_ops_json_push_init(gmq_ops_json_push_t *p);
void gmq_ops_json_push_free(gmq_ops_json_push_t *p);
/* parse an object {"body","topic","delay","route_key"|"routeKey"}; GMQ_ERR
 * with err (E_INVALID_JSON for bad JSON, E_INVALID_PUSH for bad fields) */
int  gmq_ops_json_push_parse(gmq_ops_json_push_t *p, const char *js, size_t len, gmq_error_t *err);

/* check a topic name: E_INVALID_TOPIC when empty or invalid */
int  gmq_ops_check_topic(const char *topic, size_t len, gmq_error_t *err);
/* check one push item against max_body, max_delay and the route key limit;
 * item->id is assigned here */
int  gmq_ops_check_item(gmq_master_t *m, gmq_op_item_t *item, gmq_error_t *err);
/* check the whole operation (names, ranges, items) */
int  gmq_ops_check(gmq_master_t *m, gmq_op_req_t *op, gmq_error_t *err);

/* Check op, find (or start) topic's worker and queue the request. Returns
 * the request (owned by the master; done is called exactly once) or NULL
 * with err set, in which case done is never called. c may be NULL. */
gmq_req_t *gmq_ops_submit(gmq_master_t *m, gmq_conn_t *c, const char *topic, gmq_op_req_t *op,
                          gmq_req_done_fn done, void *ctx, gmq_error_t *err);
/* the same for a worker already found (fan-out, internal releases) */
gmq_req_t *gmq_ops_submit_to(gmq_master_t *m, gmq_conn_t *c, gmq_wproc_t *w, gmq_op_req_t *op,
                             gmq_req_done_fn done, void *ctx, gmq_error_t *err);

/* the decimal id, retry count and JSON body of a MESSAGE reply, as the
 * original's {"id":"..","body":"..","retry_count":n} */
void gmq_ops_message_json(gmq_buf_t *out, const gmq_op_reply_t *r);

#endif

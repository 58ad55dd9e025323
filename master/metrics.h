/*
 * metrics.h - GET /metrics: the node's metrics in the Prometheus text
 * exposition format 0.0.4 (docs/metrics.md lists every family).
 */
#ifndef GMQ_METRICS_H
#define GMQ_METRICS_H

#include "http.h"

#include "common/buf.h"

#define GMQ_METRICS_CTYPE "text/plain; version=0.0.4"

/* the /metrics route: asks every running worker for its STAT without
 * blocking the loop, and answers r's connection once all have replied (or
 * failed); a worker that is not running contributes its state only. The
 * HTTP layer has checked auth_token already. */
void gmq_metrics_serve(gmq_http_req_t *r);

/* pieces of the text format, exposed for tests */
/* a label value, escaped: backslash, double quote and newline */
void gmq_metrics_escape(gmq_buf_t *out, const char *s, size_t n);
/* a sample value: integers as integers, others in the shortest form that
 * reads back exactly, NaN and infinities as the format spells them */
void gmq_metrics_number(gmq_buf_t *out, double v);

#endif

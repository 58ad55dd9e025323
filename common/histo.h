/*
 * histo.h - a latency histogram with fixed buckets in seconds: the one
 * bucket layout of request latency (master) and fsync latency (workers),
 * and its JSON form in a worker's STAT reply, written and read here.
 */
#ifndef GMQ_HISTO_H
#define GMQ_HISTO_H

#include "buf.h"
#include "gmq.h"

#include <yajl/yajl_tree.h>

/* upper bounds (le) of the finite buckets, in seconds, ascending */
#define GMQ_HISTO_NBOUNDS 16
#define GMQ_HISTO_NBUCKETS (GMQ_HISTO_NBOUNDS + 1)   /* and +Inf */

typedef struct {
    uint64_t buckets[GMQ_HISTO_NBUCKETS];  /* per bucket, not cumulative; the last is +Inf */
    uint64_t count;
    double   sum;                          /* seconds */
} gmq_histo_t;

/* bound i (0 <= i < GMQ_HISTO_NBOUNDS) as a number and as Prometheus writes it ("0.00025") */
double      gmq_histo_bound(int i);
const char *gmq_histo_le(int i);

void gmq_histo_observe(gmq_histo_t *h, double seconds);
/* into += h, bucket by bucket */
void gmq_histo_add(gmq_histo_t *into, const gmq_histo_t *h);

/* appends ,"<prefix>_buckets":[n,...],"<prefix>_sum":s,"<prefix>_count":n
 * (GMQ_HISTO_NBUCKETS per-bucket counts, +Inf last) */
void gmq_histo_json(const gmq_histo_t *h, const char *prefix, gmq_buf_t *out);
/* the same fields read from a parsed JSON object: GMQ_OK, or GMQ_ERR (h
 * zeroed) when they are missing or not of that shape */
int  gmq_histo_from_json(gmq_histo_t *h, yajl_val obj, const char *prefix);

#endif

/*
 * histo.c - fixed-bucket latency histograms: observing, adding, and their
 * JSON form (the fields a worker adds to its STAT reply).
 */
#include "histo.h"

#include <stdio.h>
#include <string.h>

static const double histo_bounds[GMQ_HISTO_NBOUNDS] = {
    .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
};
static const char *const histo_les[GMQ_HISTO_NBOUNDS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10",
};

static yajl_val histo_get(yajl_val obj, const char *prefix, const char *suffix);

double
gmq_histo_bound(int i)
{
    return histo_bounds[i];
}

const char *
gmq_histo_le(int i)
{
    return histo_les[i];
}

void
gmq_histo_observe(gmq_histo_t *h, double seconds)
{
    int i = 0;
    if (seconds < 0)
        seconds = 0;
    while (i < GMQ_HISTO_NBOUNDS && seconds > histo_bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += seconds;
}

void
gmq_histo_add(gmq_histo_t *into, const gmq_histo_t *h)
{
    for (int i = 0; i < GMQ_HISTO_NBUCKETS; i++)
        into->buckets[i] += h->buckets[i];
    into->count += h->count;
    into->sum += h->sum;
}

void
gmq_histo_json(const gmq_histo_t *h, const char *prefix, gmq_buf_t *out)
{
    gmq_buf_printf(out, ",\"%s_buckets\":[", prefix);
    for (int i = 0; i < GMQ_HISTO_NBUCKETS; i++)
        gmq_buf_printf(out, "%s%llu", i ? "," : "", (unsigned long long) h->buckets[i]);
    gmq_buf_printf(out, "],\"%s_sum\":%.9f,\"%s_count\":%llu", prefix, h->sum, prefix,
                   (unsigned long long) h->count);
}

int
gmq_histo_from_json(gmq_histo_t *h, yajl_val obj, const char *prefix)
{
    memset(h, 0, sizeof(*h));
    yajl_val b = histo_get(obj, prefix, "_buckets");
    yajl_val s = histo_get(obj, prefix, "_sum");
    yajl_val c = histo_get(obj, prefix, "_count");
    if (!YAJL_IS_ARRAY(b) || b->u.array.len != GMQ_HISTO_NBUCKETS || !YAJL_IS_DOUBLE(s) ||
        !YAJL_IS_INTEGER(c) || YAJL_GET_INTEGER(c) < 0)
        return GMQ_ERR;
    for (int i = 0; i < GMQ_HISTO_NBUCKETS; i++) {
        yajl_val v = b->u.array.values[i];
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0) {
            memset(h, 0, sizeof(*h));
            return GMQ_ERR;
        }
        h->buckets[i] = (uint64_t) YAJL_GET_INTEGER(v);
    }
    h->sum = YAJL_GET_DOUBLE(s);
    h->count = (uint64_t) YAJL_GET_INTEGER(c);
    return GMQ_OK;
}

static yajl_val
histo_get(yajl_val obj, const char *prefix, const char *suffix)
{
    char key[64];
    snprintf(key, sizeof(key), "%s%s", prefix, suffix);
    const char *path[] = { key, NULL };
    return yajl_tree_get(obj, path, yajl_t_any);
}

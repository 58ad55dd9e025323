/*
 * heap.c - owns the slot array of a min-heap whose nodes are embedded in
 * their owners (messages in the delay and TTR heaps); keeps each node's
 * back-index in step with its slot.
 */
#include "heap.h"

#include <stdlib.h>

static int  heap_less(const gmq_heap_node_t *a, const gmq_heap_node_t *b);
static void heap_set(gmq_heap_t *h, size_t i, gmq_heap_node_t *n);
static void heap_up(gmq_heap_t *h, size_t i);
static void heap_down(gmq_heap_t *h, size_t i);

void
gmq_heap_init(gmq_heap_t *h)
{
    h->a = NULL;
    h->len = h->cap = 0;
    h->seq = 0;
}

void
gmq_heap_free(gmq_heap_t *h)
{
    free(h->a);
    gmq_heap_init(h);
}

void
gmq_heap_push(gmq_heap_t *h, gmq_heap_node_t *n)
{
    if (h->len == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->a = gmq_xrealloc(h->a, h->cap * sizeof(*h->a));
    }
    n->seq = h->seq++;
    heap_set(h, h->len++, n);
    heap_up(h, n->idx);
}

gmq_heap_node_t *
gmq_heap_top(const gmq_heap_t *h)
{
    return h->len ? h->a[0] : NULL;
}

gmq_heap_node_t *
gmq_heap_pop(gmq_heap_t *h)
{
    gmq_heap_node_t *n = gmq_heap_top(h);
    if (n != NULL)
        gmq_heap_remove(h, n);
    return n;
}

void
gmq_heap_remove(gmq_heap_t *h, gmq_heap_node_t *n)
{
    size_t i = n->idx;
    gmq_heap_node_t *last = h->a[--h->len];
    n->idx = GMQ_HEAP_NONE;
    if (last == n)
        return;
    heap_set(h, i, last);
    if (i > 0 && heap_less(last, h->a[(i - 1) / 2]))
        heap_up(h, i);
    else
        heap_down(h, i);
}

static int
heap_less(const gmq_heap_node_t *a, const gmq_heap_node_t *b)
{
    if (a->key != b->key)
        return a->key < b->key;
    return a->tie < b->tie || (a->tie == b->tie && a->seq < b->seq);
}

static void
heap_set(gmq_heap_t *h, size_t i, gmq_heap_node_t *n)
{
    h->a[i] = n;
    n->idx = i;
}

static void
heap_up(gmq_heap_t *h, size_t i)
{
    gmq_heap_node_t *n = h->a[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(n, h->a[p]))
            break;
        heap_set(h, i, h->a[p]);
        i = p;
    }
    heap_set(h, i, n);
}

static void
heap_down(gmq_heap_t *h, size_t i)
{
    gmq_heap_node_t *n = h->a[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        gmq_heap_node_t *best = n;
        if (l < h->len && heap_less(h->a[l], best)) {
            m = l;
            best = h->a[l];
        }
        if (l + 1 < h->len && heap_less(h->a[l + 1], best)) {
            m = l + 1;
            best = h->a[l + 1];
        }
        if (m == i)
            break;
        heap_set(h, i, best);
        i = m;
    }
    heap_set(h, i, n);
}

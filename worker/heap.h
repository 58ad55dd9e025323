/*
 * heap.h - a binary min-heap of embedded nodes with a back-index (beanstalkd
 * style): each node knows its slot, so removing any node is O(log n).
 * Ordered by key, then by a tie-break the owner sets (0 unless set), then
 * by insertion order. The heap does not own the nodes.
 */
#ifndef GMQ_HEAP_H
#define GMQ_HEAP_H

#include "common/gmq.h"

#include <stddef.h>
#include <stdint.h>

#define GMQ_HEAP_NONE ((size_t) -1)

typedef struct {
    uint64_t key;   /* e.g. due time in ms */
    uint64_t tie;   /* set by the owner: equal keys in this order (e.g. an id) */
    uint64_t seq;   /* set by the heap: ties of both keep insertion order */
    size_t   idx;   /* slot in the heap, GMQ_HEAP_NONE when not in one */
} gmq_heap_node_t;

typedef struct {
    gmq_heap_node_t **a;
    size_t            len, cap;
    uint64_t          seq;
} gmq_heap_t;

void             gmq_heap_init(gmq_heap_t *h);
void             gmq_heap_free(gmq_heap_t *h);      /* frees the array only */
static inline void gmq_heap_node_init(gmq_heap_node_t *n) { n->idx = GMQ_HEAP_NONE; n->tie = 0; }
static inline int  gmq_heap_contains(const gmq_heap_node_t *n) { return n->idx != GMQ_HEAP_NONE; }
static inline size_t gmq_heap_len(const gmq_heap_t *h) { return h->len; }
/* n must not be in a heap; n->key is the key */
void             gmq_heap_push(gmq_heap_t *h, gmq_heap_node_t *n);
gmq_heap_node_t *gmq_heap_top(const gmq_heap_t *h);  /* NULL if empty */
gmq_heap_node_t *gmq_heap_pop(gmq_heap_t *h);        /* NULL if empty */
void             gmq_heap_remove(gmq_heap_t *h, gmq_heap_node_t *n); /* n must be in h */

#endif

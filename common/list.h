/*
 * list.h - intrusive circular doubly-linked list (header only). Embed a
 * gmq_list_t in the owning struct and get the owner back with container_of.
 */
#ifndef GMQ_LIST_H
#define GMQ_LIST_H

#include "common/gmq.h"

typedef struct gmq_list_s gmq_list_t;
struct gmq_list_s {
    gmq_list_t *prev, *next;
};

static inline void gmq_list_init(gmq_list_t *h) { h->prev = h->next = h; }
static inline int  gmq_list_empty(const gmq_list_t *h) { return h->next == h; }

static inline void
gmq_list_insert_after(gmq_list_t *pos, gmq_list_t *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}

static inline void gmq_list_push_tail(gmq_list_t *h, gmq_list_t *n) { gmq_list_insert_after(h->prev, n); }
static inline void gmq_list_push_head(gmq_list_t *h, gmq_list_t *n) { gmq_list_insert_after(h, n); }

static inline void
gmq_list_remove(gmq_list_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#endif

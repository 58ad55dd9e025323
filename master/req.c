/*
 * req.c - the table of requests in flight to workers, by id: open
 * addressing with linear probing, tombstones, grown at half load; and the
 * latency histograms of the requests it has finished, per operation.
 */
#include "req.h"

#include <stdlib.h>
#include <string.h>

/* finished requests kept for the next ones: a request is a calloc and a
 * free otherwise, about 8% of the master's time at 350,000 requests/s */
#define REQS_SPARE 1024

struct gmq_reqs_s {
    gmq_req_t  *spare[REQS_SPARE];
    size_t      nspare;
    gmq_req_t **slots;
    size_t      cap;      /* power of two */
    size_t      used;     /* live entries + tombstones */
    size_t      live;
    uint64_t    next_id;
    gmq_histo_t latency[GMQ_OP__COUNT][2];   /* [op][waited] */
};

/* a deleted slot: never a valid pointer to a request */
#define REQS_TOMB ((gmq_req_t *) (uintptr_t) 1)

static void reqs_put(gmq_reqs_t *t, gmq_req_t *req);

gmq_reqs_t *
gmq_reqs_new(void)
{
    gmq_reqs_t *t = gmq_xcalloc(1, sizeof(*t));
    t->cap = 1024;
    t->slots = gmq_xcalloc(t->cap, sizeof(gmq_req_t *));
    return t;
}

void
gmq_reqs_free(gmq_reqs_t *t)
{
    if (t == NULL)
        return;
    while (t->nspare > 0)
        free(t->spare[--t->nspare]);
    free(t->slots);
    free(t);
}

size_t
gmq_reqs_count(const gmq_reqs_t *t)
{
    return t->live;
}

uint64_t
gmq_reqs_total(const gmq_reqs_t *t)
{
    return t->next_id;
}

const gmq_histo_t *
gmq_reqs_latency(const gmq_reqs_t *t, gmq_op_t op, int waited)
{
    return &t->latency[(unsigned) op < GMQ_OP__COUNT ? op : GMQ_OP_NONE][waited ? 1 : 0];
}

gmq_req_t *
gmq_req_new(gmq_reqs_t *t, gmq_conn_t *c, gmq_wproc_t *w, gmq_op_t op, gmq_req_done_fn done,
            void *ctx)
{
    gmq_req_t *req;
    if (GMQ_REUSE_FREED && t->nspare > 0) {
        req = t->spare[--t->nspare];
        memset(req, 0, sizeof(*req));
    } else {
        req = gmq_xcalloc(1, sizeof(*req));
    }
    req->id = ++t->next_id;
    req->conn = c;
    req->wproc = w;
    req->done = done;
    req->op = op;
    req->ctx = ctx;
    req->started_ns = gmq_loop_mono_ns();
    gmq_list_init(&req->conn_link);
    gmq_list_init(&req->wproc_link);
    reqs_put(t, req);
    return req;
}

gmq_req_t *
gmq_req_find(gmq_reqs_t *t, uint64_t id)
{
    size_t mask = t->cap - 1;
    for (size_t i = id & mask;; i = (i + 1) & mask) {
        gmq_req_t *r = t->slots[i];
        if (r == NULL)
            return NULL;
        if (r != REQS_TOMB && r->id == id)
            return r;
    }
}

void
gmq_req_finish(gmq_reqs_t *t, gmq_req_t *req)
{
    uint64_t now = gmq_loop_mono_ns();
    unsigned op = (unsigned) req->op < GMQ_OP__COUNT ? req->op : GMQ_OP_NONE;
    gmq_histo_observe(&t->latency[op][req->waits ? 1 : 0],
                      now > req->started_ns ? (double) (now - req->started_ns) / 1e9 : 0);
    size_t mask = t->cap - 1;
    for (size_t i = req->id & mask; t->slots[i] != NULL; i = (i + 1) & mask) {
        if (t->slots[i] == req) {
            t->slots[i] = REQS_TOMB;     /* counted in used until the next rehash */
            t->live--;
            break;
        }
    }
    gmq_list_remove(&req->wproc_link);
    gmq_list_remove(&req->conn_link);
    if (GMQ_REUSE_FREED && t->nspare < REQS_SPARE)
        t->spare[t->nspare++] = req;
    else
        free(req);
}

void
gmq_req_fail_all(gmq_reqs_t *t, gmq_list_t *wproc_reqs, const gmq_error_t *err)
{
    while (!gmq_list_empty(wproc_reqs)) {
        gmq_req_t *req = container_of(wproc_reqs->next, gmq_req_t, wproc_link);
        req->done(req, NULL, err);
        gmq_req_finish(t, req);
    }
}

static void
reqs_put(gmq_reqs_t *t, gmq_req_t *req)
{
    if ((t->used + 1) * 2 > t->cap) {
        gmq_req_t **old = t->slots;
        size_t oldcap = t->cap;
        while ((t->live + 1) * 4 > t->cap)
            t->cap *= 2;
        t->slots = gmq_xcalloc(t->cap, sizeof(gmq_req_t *));
        t->used = t->live = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i] != NULL && old[i] != REQS_TOMB)
                reqs_put(t, old[i]);
        free(old);
    }
    size_t mask = t->cap - 1;
    size_t i = req->id & mask;
    while (t->slots[i] != NULL && t->slots[i] != REQS_TOMB)
        i = (i + 1) & mask;
    if (t->slots[i] == NULL)
        t->used++;
    t->slots[i] = req;
    t->live++;
}

/*
 * nodes.c - the async context's nodes and where its calls go (client/lib.h):
 * a new node list (from discovery, or the one address) becomes links, kept
 * for nodes that stay and leaving for nodes that went; due and pinned calls
 * go to their node's link, pending ones to ready command links chosen by
 * smooth weighted round-robin; and each consumer's pops, one in flight per
 * node.
 */
#include "client/lib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gmq_link_t *nodes_pinned_link(gmqAsyncContext *ac, const char *node, gmq_consumer_t *k);
static void        nodes_consumer_pop(gmqAsyncContext *ac, gmq_consumer_t *k, gmq_link_t *l,
                                      uint64_t at);

/* the node list changed: links for new nodes (and their consumers), the
 * links of nodes that left are closed once their answers came (or after
 * GMQ_LIB_LEAVE_MS); SWRR state and links of nodes that stay are kept */
void
gmq_async_set_nodes(gmqAsyncContext *ac, gmq_discovery_node_t *nodes, size_t n)
{
    gmq_link_t **links = gmq_xcalloc(n ? n : 1, sizeof(*links));
    uint64_t now = gmq_async_now();
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < ac->nnodes; j++) {
            if (strcmp(ac->nodes[j].key, nodes[i].key) != 0)
                continue;
            nodes[i].current = ac->nodes[j].current;
            if (strcmp(ac->nodes[j].tcp_addr, nodes[i].tcp_addr) == 0) {
                links[i] = ac->node_links[j];
                ac->node_links[j] = NULL;
            }
        }
    }
    /* links of nodes gone (or moved to another address) leave */
    for (gmq_list_t *p = ac->links.next; p != &ac->links; p = p->next) {
        gmq_link_t *l = container_of(p, gmq_link_t, link);
        int keep = 0;
        for (size_t i = 0; i < n && !keep; i++)
            keep = strcmp(l->node, nodes[i].key) == 0 && strcmp(l->addr, nodes[i].tcp_addr) == 0;
        if (!keep && !l->removed && l->state != GMQ_LINK_CLOSED) {
            l->removed = 1;
            l->leave_at = now + GMQ_LIB_LEAVE_MS;
        }
    }
    for (size_t j = 0; j < ac->nnodes; j++) {
        int still = 0;
        for (size_t i = 0; i < n && !still; i++)
            still = strcmp(ac->nodes[j].key, nodes[i].key) == 0;
        if (!still && ac->disc != NULL)
            gmq_async_event(ac, GMQ_EVENT_NODE_REMOVED, ac->nodes[j].key, ac->nodes[j].tcp_addr);
    }
    free(ac->nodes);
    free(ac->node_links);
    ac->nodes = gmq_xmalloc((n ? n : 1) * sizeof(*ac->nodes));
    if (n)
        memcpy(ac->nodes, nodes, n * sizeof(*nodes));
    ac->node_links = links;
    ac->nnodes = n;
    for (size_t i = 0; i < n; i++) {
        if (links[i] != NULL)
            continue;
        int is_new = 1;
        for (gmq_list_t *p = ac->links.next; p != &ac->links && is_new; p = p->next) {
            gmq_link_t *l = container_of(p, gmq_link_t, link);
            is_new = !(strcmp(l->node, nodes[i].key) == 0 && !l->removed);
        }
        links[i] = gmq_link_new(ac, nodes[i].key, nodes[i].tcp_addr, NULL);
        gmq_list_push_tail(&ac->links, &links[i]->link);
        if (ac->disc != NULL && is_new)
            gmq_async_event(ac, GMQ_EVENT_NODE_ADDED, nodes[i].key, nodes[i].tcp_addr);
        if (ac->attached)
            gmq_link_connect(links[i]);
        for (gmq_list_t *p = ac->consumers.next; p != &ac->consumers; p = p->next) {
            gmq_consumer_t *k = container_of(p, gmq_consumer_t, link);
            if (!k->stopped)
                gmq_async_consumer_link(ac, k, &nodes[i]);
        }
    }
    /* links that left and have nothing to wait for go now */
    for (gmq_list_t *p = ac->links.next; p != &ac->links; p = p->next) {
        gmq_link_t *l = container_of(p, gmq_link_t, link);
        if (l->removed && l->state != GMQ_LINK_CLOSED)
            gmq_link_on_time(l, now);
    }
}

void
gmq_async_poll_discovery(gmqAsyncContext *ac)
{
    if (ac->disc == NULL)
        return;
    uint64_t v = gmq_discovery_version(ac->disc);
    if (v == ac->disc_version)
        return;
    ac->disc_version = v;
    gmq_discovery_node_t *nodes;
    size_t n = gmq_discovery_nodes(ac->disc, &nodes);
    /* nodes without a TCP address cannot be used */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (nodes[i].tcp_addr[0] != '\0')
            nodes[k++] = nodes[i];
    gmq_async_set_nodes(ac, nodes, k);
    free(nodes);
    if (k > 0 && ac->err == GMQ_ERR_DISCOVERY) {
        ac->err = GMQ_OK;
        ac->errstr[0] = '\0';
    }
}

/* the live link of node (for consumer k, or the command link for NULL) */
static gmq_link_t *
nodes_pinned_link(gmqAsyncContext *ac, const char *node, gmq_consumer_t *k)
{
    gmq_link_t *found = NULL;
    for (gmq_list_t *p = ac->links.next; p != &ac->links; p = p->next) {
        gmq_link_t *l = container_of(p, gmq_link_t, link);
        if (l->state == GMQ_LINK_CLOSED || l->consumer != k || strcmp(l->node, node) != 0)
            continue;
        if (!l->removed)
            return l;
        found = l;     /* leaving, still open: answers for its messages can go there */
    }
    return found;
}

/* Move waiting calls onto links: due retries and pinned calls (ac->delayed)
 * to their node's link or back to pending, the pending ones (in order) to
 * ready command links chosen by weight. Without a ready link pending is not
 * looked at, so a long queue of requests made while disconnected costs
 * nothing per entry point. Returns how many moved or ended (callbacks may
 * have queued more). */
int
gmq_async_route(gmqAsyncContext *ac)
{
    uint64_t now = gmq_async_now();
    int moved = 0;
    for (gmq_list_t *p = ac->delayed.next; p != &ac->delayed;) {
        gmq_call_t *c = container_of(p, gmq_call_t, link);
        p = p->next;
        if (c->not_before > now)
            continue;
        gmq_list_remove(&c->link);
        moved++;
        c->not_before = 0;
        if (!c->pin[0]) {
            gmq_list_push_tail(&ac->pending, &c->link);
            continue;
        }
        gmq_link_t *l = nodes_pinned_link(ac, c->pin, c->consumer);
        if (l != NULL) {
            gmq_link_queue(l, c);
        } else if (c->consumer != NULL) {
            gmq_call_free(c);            /* its node left: the consumer lets it go */
        } else {
            gmq_async_finish(c, gmq_call_reply_new(c, GMQ_ERR_IO, "node %s is gone (it left "
                             "etcd): the message is delivered again after its TTR", c->pin));
            p = ac->delayed.next;        /* the callback may have changed the list */
        }
    }
    if (gmq_list_empty(&ac->pending))
        return moved;

    unsigned char *ready = gmq_xcalloc(ac->nnodes ? ac->nnodes : 1, 1);
    int nready = 0, trying = 0, fresh = 0;
    if (!ac->opt.reconnect) {
        /* reconnect off: one fresh connection for calls made since the last loss */
        for (gmq_list_t *p = ac->pending.next; p != &ac->pending; p = p->next) {
            gmq_call_t *c = container_of(p, gmq_call_t, link);
            fresh |= !c->tried;
            c->tried = 1;
        }
    }
    for (size_t i = 0; i < ac->nnodes; i++) {
        gmq_link_t *l = ac->node_links[i];
        if ((l == NULL || l->state == GMQ_LINK_CLOSED) && fresh && !ac->disconnecting) {
            l = ac->node_links[i] = gmq_link_new(ac, ac->nodes[i].key, ac->nodes[i].tcp_addr, NULL);
            gmq_list_push_tail(&ac->links, &l->link);
            if (ac->attached)
                gmq_link_connect(l);
        }
        if (l == NULL || l->state == GMQ_LINK_CLOSED)
            continue;
        ready[i] = l->state == GMQ_LINK_READY;
        nready += ready[i];
        trying += l->state == GMQ_LINK_CONNECTING || l->state == GMQ_LINK_HANDSHAKE ||
                  (l->state == GMQ_LINK_IDLE && !ac->attached);
    }
    if (nready > 0) {
        while (!gmq_list_empty(&ac->pending)) {
            gmq_call_t *c = container_of(ac->pending.next, gmq_call_t, link);
            gmq_list_remove(&c->link);
            gmq_link_queue(ac->node_links[gmq_discovery_swrr_among(ac->nodes, ac->nnodes, ready)], c);
            moved++;
        }
    } else if (!ac->opt.reconnect && trying == 0 && !ac->disconnecting) {
        while (!gmq_list_empty(&ac->pending)) {
            gmq_call_t *c = container_of(ac->pending.next, gmq_call_t, link);
            gmq_list_remove(&c->link);
            gmq_async_finish(c, gmq_call_reply_new(c, ac->why_rc ? ac->why_rc : GMQ_ERR_IO,
                                                   "no connection: %s", ac->why[0] ? ac->why : "no node"));
            moved++;
        }
    }
    free(ready);
    return moved;
}

void
gmq_async_consumer_link(gmqAsyncContext *ac, gmq_consumer_t *k, const gmq_discovery_node_t *n)
{
    gmq_link_t *l = gmq_link_new(ac, n->key, n->tcp_addr, k);
    gmq_list_push_tail(&ac->links, &l->link);
    if (ac->attached)
        gmq_link_connect(l);
    nodes_consumer_pop(ac, k, l, 0);
}

/* the consumer's next pop on l (at: not before then) */
static void
nodes_consumer_pop(gmqAsyncContext *ac, gmq_consumer_t *k, gmq_link_t *l, uint64_t at)
{
    if (k->stopped || l->removed || l->state == GMQ_LINK_CLOSED || ac->disconnecting || ac->closing)
        return;
    gmqRequest req = { .call = GMQ_CALL_POP, .topic = k->topic, .bind_key = k->bind_key,
                       .timeout_s = -1 };
    char err[300];
    int rc;
    gmq_call_t *c = gmq_call_new(ac, &req, &rc, err, sizeof(err));
    if (c == NULL)
        return;
    c->consumer = k;
    snprintf(c->pin, sizeof(c->pin), "%s", l->node);
    if (at == 0) {
        gmq_link_queue(l, c);
    } else {
        gmq_async_requeue(c, at);
    }
}

void
gmq_async_consumer_done(gmq_call_t *c, gmqReply *r)
{
    gmqAsyncContext *ac = c->ac;
    gmq_consumer_t *k = c->consumer;
    gmq_link_t *l = nodes_pinned_link(ac, c->pin, k);
    if (k->stopped) {
        gmqReplyFree(r);
        return;
    }
    int rc = r->rc;
    if (rc != GMQ_NO_MESSAGE && k->cb != NULL)
        k->cb(ac, r, k->privdata);
    gmqReplyFree(r);
    if (l != NULL)
        nodes_consumer_pop(ac, k, l, rc < 0 ? gmq_async_now() + (uint64_t) ac->opt.backoff_max_ms : 0);
}

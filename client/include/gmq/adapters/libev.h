/*
 * gmq/adapters/libev.h - run a gmqAsyncContext on a libev loop (header
 * only, like hiredis' adapters): one ev_io per socket of the context and
 * one ev_timer. libgmq itself never calls libev.
 *
 *   struct ev_loop *loop = EV_DEFAULT;
 *   gmqAsyncContext *ac = gmqAsyncConnect("127.0.0.1:9503", NULL);
 *   if (gmqAsyncErr(ac) != GMQ_OK || gmqLibevAttach(loop, ac) != GMQ_OK) ...
 *   ev_run(loop, 0);
 *
 * Link with -lev. The adapter's memory is freed when the context is.
 */
#ifndef GMQ_ADAPTERS_LIBEV_H
#define GMQ_ADAPTERS_LIBEV_H

#include <ev.h>
#include <stdlib.h>

#include "../gmq.h"

typedef struct gmqLibevContext {
    struct ev_loop  *loop;
    gmqAsyncContext *ac;
    ev_timer         timer;
} gmqLibevContext;

typedef struct gmqLibevWatcher {
    ev_io            io;
    gmqLibevContext *owner;
    void            *token;
} gmqLibevWatcher;

static inline void
gmqLibevOnIo(struct ev_loop *loop, ev_io *io, int revents)
{
    gmqLibevWatcher *w = (gmqLibevWatcher *) io;
    (void) loop;
    /* nothing after this call: it may delete the watcher */
    gmqAsyncHandleFd(w->owner->ac, w->token, ((revents & EV_READ) ? GMQ_EV_READ : 0) |
                                             ((revents & EV_WRITE) ? GMQ_EV_WRITE : 0));
}

static inline void
gmqLibevOnTimer(struct ev_loop *loop, ev_timer *t, int revents)
{
    gmqLibevContext *c = (gmqLibevContext *) t->data;
    (void) loop;
    (void) revents;
    gmqAsyncHandleTimer(c->ac);
}

static inline void *
gmqLibevAddFd(void *data, int fd, void *token)
{
    gmqLibevWatcher *w = (gmqLibevWatcher *) calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->owner = (gmqLibevContext *) data;
    w->token = token;
    ev_io_init(&w->io, gmqLibevOnIo, fd, 0);
    return w;
}

static inline void
gmqLibevSetFd(void *data, void *watcher, int events)
{
    gmqLibevContext *c = (gmqLibevContext *) data;
    gmqLibevWatcher *w = (gmqLibevWatcher *) watcher;
    int ev = ((events & GMQ_EV_READ) ? EV_READ : 0) | ((events & GMQ_EV_WRITE) ? EV_WRITE : 0);
    ev_io_stop(c->loop, &w->io);
    ev_io_set(&w->io, w->io.fd, ev);
    if (ev)
        ev_io_start(c->loop, &w->io);
}

static inline void
gmqLibevDelFd(void *data, void *watcher)
{
    gmqLibevContext *c = (gmqLibevContext *) data;
    gmqLibevWatcher *w = (gmqLibevWatcher *) watcher;
    ev_io_stop(c->loop, &w->io);
    free(w);
}

static inline void
gmqLibevSetTimer(void *data, long ms)
{
    gmqLibevContext *c = (gmqLibevContext *) data;
    ev_timer_stop(c->loop, &c->timer);
    if (ms >= 0) {
        ev_timer_set(&c->timer, (ev_tstamp) ms / 1000.0, 0.0);
        ev_timer_start(c->loop, &c->timer);
    }
}

static inline void
gmqLibevCleanup(void *data)
{
    gmqLibevContext *c = (gmqLibevContext *) data;
    ev_timer_stop(c->loop, &c->timer);
    free(c);
}

/* GMQ_OK, or GMQ_ERR_STATE when ac already has an event loop (GMQ_ERR_CLOSED out of memory) */
static inline int
gmqLibevAttach(struct ev_loop *loop, gmqAsyncContext *ac)
{
    gmqLibevContext *c = (gmqLibevContext *) calloc(1, sizeof(*c));
    gmqAsyncEvents ev;
    if (c == NULL)
        return GMQ_ERR_CLOSED;
    c->loop = loop;
    c->ac = ac;
    ev_timer_init(&c->timer, gmqLibevOnTimer, 0.0, 0.0);
    c->timer.data = c;
    ev.data = c;
    ev.add_fd = gmqLibevAddFd;
    ev.set_fd = gmqLibevSetFd;
    ev.del_fd = gmqLibevDelFd;
    ev.set_timer = gmqLibevSetTimer;
    ev.cleanup = gmqLibevCleanup;
    int rc = gmqAsyncSetEvents(ac, &ev);
    if (rc != GMQ_OK)
        free(c);
    return rc;
}

#endif

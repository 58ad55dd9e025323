/*
 * sync.c - libgmq's synchronous API (gmqContext): an async context driven
 * by its own poll() loop (this module is its event-loop adapter). A call
 * sends its request and runs the loop until the answer is there; appended
 * requests are answered in order by gmqGetReply; channel messages wait in
 * a queue for gmqChannelRead. Reconnects, retries and etcd's changes happen
 * while the thread is inside a call.
 */
#include "client/lib.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one socket the async context asked to watch */
typedef struct sync_watch_s {
    gmq_list_t link;          /* in c->watches, or c->graveyard once deleted */
    int        fd;
    void      *token;
    int        events;
    int        deleted;
} sync_watch_t;

/* a request's answer, filled by sync_done */
typedef struct sync_slot_s {
    gmq_list_t link;          /* in c->slots (appended requests) */
    gmqReply  *reply;
    int        done;
} sync_slot_t;

typedef struct sync_chan_s {
    gmq_list_t link;
    size_t     len;
    char       body[];        /* len bytes and a NUL */
} sync_chan_t;

struct gmqContext {
    gmqAsyncContext *ac;
    gmq_list_t       watches, graveyard;
    uint64_t         timer_at;     /* ms, 0 = none */
    gmq_list_t       slots;        /* appended, in order */
    gmq_list_t       chans;        /* channel messages not read yet */
    int              err;
    char             errcode[32];
    char            *errstr;
};

typedef int (*sync_until_fn)(gmqContext *c, void *arg);

static gmqContext *sync_new(gmqAsyncContext *ac);
static int   sync_run(gmqContext *c, sync_until_fn until, void *arg, int timeout_ms);
static int   sync_slot_done(gmqContext *c, void *arg);
static int   sync_connected(gmqContext *c, void *arg);
static int   sync_chan_ready(gmqContext *c, void *arg);
static void  sync_done(gmq_call_t *call, gmqReply *r);
static int   sync_call(gmqContext *c, const gmqRequest *req, gmqReply **out);
static int   sync_send(gmqContext *c, const gmqRequest *req, sync_slot_t *slot);
static void  sync_set(gmqContext *c, int rc, const char *errcode, const char *errstr);
static void  sync_set_reply(gmqContext *c, const gmqReply *r);
static void  sync_first_connection(gmqContext *c);
static void *sync_add_fd(void *data, int fd, void *token);
static void  sync_set_fd(void *data, void *watcher, int events);
static void  sync_del_fd(void *data, void *watcher);
static void  sync_set_timer(void *data, long ms);
static void  sync_cleanup(void *data);
static void  sync_on_channel(gmqAsyncContext *ac, const char *body, size_t len, void *privdata);

/* ---- contexts ---- */

gmqContext *
gmqConnect(const char *addr, const gmqOptions *opt)
{
    gmqContext *c = sync_new(gmqAsyncConnect(addr, opt));
    sync_first_connection(c);
    return c;
}

gmqContext *
gmqConnectEtcd(const char *endpoints, const gmqOptions *opt)
{
    gmqContext *c = sync_new(gmqAsyncConnectEtcd(endpoints, opt));
    sync_first_connection(c);
    return c;
}

void
gmqFree(gmqContext *c)
{
    if (c == NULL)
        return;
    gmqAsyncFree(c->ac);          /* answers what is pending (GMQ_ERR_CLOSED) into the slots */
    while (!gmq_list_empty(&c->slots)) {
        sync_slot_t *s = container_of(c->slots.next, sync_slot_t, link);
        gmq_list_remove(&s->link);
        gmqReplyFree(s->reply);
        free(s);
    }
    gmq_list_t *lists[] = { &c->watches, &c->graveyard };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(lists); i++) {
        while (!gmq_list_empty(lists[i])) {
            sync_watch_t *w = container_of(lists[i]->next, sync_watch_t, link);
            gmq_list_remove(&w->link);
            free(w);
        }
    }
    while (!gmq_list_empty(&c->chans)) {
        sync_chan_t *m = container_of(c->chans.next, sync_chan_t, link);
        gmq_list_remove(&m->link);
        free(m);
    }
    free(c->errstr);
    free(c);
}

int
gmqErr(const gmqContext *c)
{
    return c->err;
}

const char *
gmqErrstr(const gmqContext *c)
{
    return c->errstr ? c->errstr : "";
}

const char *
gmqErrcode(const gmqContext *c)
{
    return c->errcode;
}

/* ---- calls ---- */

int
gmqPub(gmqContext *c, const char *topic, const char *route_key, const void *body, size_t len,
       unsigned delay_s, uint64_t *id)
{
    gmqRequest req = { .call = GMQ_CALL_PUB, .topic = topic, .bind_key = route_key, .body = body,
                       .len = len, .delay_s = delay_s };
    gmqReply *r;
    int rc = sync_call(c, &req, &r);
    if (id != NULL)
        *id = r ? r->id : 0;
    gmqReplyFree(r);
    return rc;
}

int
gmqMpub(gmqContext *c, const char *topic, const gmqPubItem *items, size_t n, uint64_t *ids,
        size_t *stored)
{
    gmqRequest req = { .call = GMQ_CALL_MPUB, .topic = topic, .items = items, .nitems = n };
    gmqReply *r;
    int rc = sync_call(c, &req, &r);
    if (stored != NULL)
        *stored = r ? (size_t) r->value : 0;
    if (ids != NULL && r != NULL && r->ids != NULL)
        memcpy(ids, r->ids, r->nids * sizeof(*ids));
    gmqReplyFree(r);
    return rc;
}

static int
sync_get(gmqContext *c, gmqCall call, const char *topic, const char *bind_key, int timeout_s,
         const char *state, gmqMessage **msg)
{
    gmqRequest req = { .call = call, .topic = topic, .bind_key = bind_key, .timeout_s = timeout_s,
                       .state = state };
    gmqReply *r;
    int rc = sync_call(c, &req, &r);
    if (msg != NULL)
        *msg = gmqReplyTakeMessage(r);
    gmqReplyFree(r);
    return rc;
}

int
gmqPop(gmqContext *c, const char *topic, const char *bind_key, int timeout_s, gmqMessage **msg)
{
    return sync_get(c, GMQ_CALL_POP, topic, bind_key, timeout_s, NULL, msg);
}

int
gmqDead(gmqContext *c, const char *topic, const char *bind_key, int timeout_s, gmqMessage **msg)
{
    return sync_get(c, GMQ_CALL_DEAD, topic, bind_key, timeout_s, NULL, msg);
}

int
gmqPeek(gmqContext *c, const char *topic, const char *bind_key, const char *state, gmqMessage **msg)
{
    return sync_get(c, GMQ_CALL_PEEK, topic, bind_key, 0, state, msg);
}

/* a call with no output but its code (and value, may be NULL) */
static int
sync_simple(gmqContext *c, const gmqRequest *req, uint64_t *value)
{
    gmqReply *r;
    int rc = sync_call(c, req, &r);
    if (value != NULL)
        *value = r ? r->value : 0;
    gmqReplyFree(r);
    return rc;
}

int
gmqAck(gmqContext *c, const gmqMessage *m)
{
    if (m == NULL) {
        sync_set(c, GMQ_ERR_ARGS, "", "no message");
        return GMQ_ERR_ARGS;
    }
    gmqRequest req = { .call = GMQ_CALL_ACK, .msg = m };
    return sync_simple(c, &req, NULL);
}

int
gmqAckId(gmqContext *c, const char *topic, const char *bind_key, uint64_t id)
{
    gmqRequest req = { .call = GMQ_CALL_ACK, .topic = topic, .bind_key = bind_key, .id = id };
    return sync_simple(c, &req, NULL);
}

int
gmqRequeue(gmqContext *c, const char *topic, const char *bind_key, uint64_t id, uint64_t *moved)
{
    gmqRequest req = { .call = GMQ_CALL_REQUEUE, .topic = topic, .bind_key = bind_key, .id = id };
    return sync_simple(c, &req, moved);
}

int
gmqTouch(gmqContext *c, const gmqMessage *m, uint64_t *deadline_ms)
{
    if (m == NULL) {
        sync_set(c, GMQ_ERR_ARGS, "", "no message");
        return GMQ_ERR_ARGS;
    }
    gmqRequest req = { .call = GMQ_CALL_TOUCH, .msg = m };
    return sync_simple(c, &req, deadline_ms);
}

int
gmqRelease(gmqContext *c, const gmqMessage *m, unsigned delay_s)
{
    if (m == NULL) {
        sync_set(c, GMQ_ERR_ARGS, "", "no message");
        return GMQ_ERR_ARGS;
    }
    gmqRequest req = { .call = GMQ_CALL_RELEASE, .msg = m, .delay_s = delay_s };
    return sync_simple(c, &req, NULL);
}

int
gmqStats(gmqContext *c, const char *topic, char **json)
{
    gmqRequest req = { .call = GMQ_CALL_STATS, .topic = topic };
    gmqReply *r;
    int rc = sync_call(c, &req, &r);
    if (json != NULL)
        *json = rc == GMQ_OK ? r->text : NULL;
    if (rc == GMQ_OK && json != NULL)
        r->text = NULL;
    gmqReplyFree(r);
    return rc;
}

int
gmqDeclare(gmqContext *c, const char *topic, const char *bind_key)
{
    gmqRequest req = { .call = GMQ_CALL_DECLARE, .topic = topic, .bind_key = bind_key };
    return sync_simple(c, &req, NULL);
}

int
gmqSetTopic(gmqContext *c, const char *topic, int auto_ack, int mode, int ttr_s, int retry)
{
    gmqRequest req = { .call = GMQ_CALL_SET, .topic = topic, .auto_ack = auto_ack, .mode = mode,
                       .ttr_s = ttr_s, .retry = retry };
    return sync_simple(c, &req, NULL);
}

int
gmqPing(gmqContext *c)
{
    gmqRequest req = { .call = GMQ_CALL_PING };
    return sync_simple(c, &req, NULL);
}

int
gmqSubscribe(gmqContext *c, const char *channel)
{
    gmqRequest req = { .call = GMQ_CALL_SUBSCRIBE, .channel = channel };
    return sync_simple(c, &req, NULL);
}

int
gmqUnsubscribe(gmqContext *c, const char *channel)
{
    gmqRequest req = { .call = GMQ_CALL_UNSUBSCRIBE, .channel = channel };
    return sync_simple(c, &req, NULL);
}

int
gmqPublish(gmqContext *c, const char *channel, const void *body, size_t len)
{
    gmqRequest req = { .call = GMQ_CALL_PUBLISH, .channel = channel, .body = body, .len = len };
    return sync_simple(c, &req, NULL);
}

int
gmqChannelRead(gmqContext *c, int timeout_ms, char **body, size_t *len)
{
    sync_run(c, sync_chan_ready, NULL, timeout_ms);
    if (gmq_list_empty(&c->chans)) {
        sync_set(c, GMQ_NO_MESSAGE, "", "");
        return GMQ_NO_MESSAGE;
    }
    sync_chan_t *m = container_of(c->chans.next, sync_chan_t, link);
    gmq_list_remove(&m->link);
    if (body != NULL) {
        *body = gmq_xmalloc(m->len + 1);
        memcpy(*body, m->body, m->len + 1);
    }
    if (len != NULL)
        *len = m->len;
    free(m);
    sync_set(c, GMQ_OK, "", "");
    return GMQ_OK;
}

/* ---- pipelining ---- */

int
gmqAppend(gmqContext *c, const gmqRequest *req)
{
    sync_slot_t *s = gmq_xcalloc(1, sizeof(*s));
    int rc = sync_send(c, req, s);
    if (rc != GMQ_OK) {
        free(s);
        return rc;
    }
    gmq_list_push_tail(&c->slots, &s->link);
    sync_set(c, GMQ_OK, "", "");
    return GMQ_OK;
}

int
gmqAppendPub(gmqContext *c, const char *topic, const char *route_key, const void *body, size_t len,
             unsigned delay_s)
{
    gmqRequest req = { .call = GMQ_CALL_PUB, .topic = topic, .bind_key = route_key, .body = body,
                       .len = len, .delay_s = delay_s };
    return gmqAppend(c, &req);
}

int
gmqAppendAck(gmqContext *c, const gmqMessage *m)
{
    if (m == NULL) {
        sync_set(c, GMQ_ERR_ARGS, "", "no message");
        return GMQ_ERR_ARGS;
    }
    gmqRequest req = { .call = GMQ_CALL_ACK, .msg = m };
    return gmqAppend(c, &req);
}

int
gmqGetReply(gmqContext *c, gmqReply **r)
{
    *r = NULL;
    if (gmq_list_empty(&c->slots)) {
        sync_set(c, GMQ_ERR_STATE, "", "nothing was appended");
        return GMQ_ERR_STATE;
    }
    sync_slot_t *s = container_of(c->slots.next, sync_slot_t, link);
    sync_run(c, sync_slot_done, s, -1);
    gmq_list_remove(&s->link);
    *r = s->reply;
    free(s);
    sync_set_reply(c, *r);
    return (*r)->rc;
}

/* ---- the loop ---- */

/* poll until until(c, arg) holds, or timeout_ms (-1 = no limit) passes */
static int
sync_run(gmqContext *c, sync_until_fn until, void *arg, int timeout_ms)
{
    uint64_t end = timeout_ms >= 0 ? gmq_async_now() + (uint64_t) timeout_ms : 0;
    struct pollfd *pfd = NULL;
    sync_watch_t **ws = NULL;
    size_t cap = 0;
    while (!until(c, arg)) {
        size_t n = 0;
        for (gmq_list_t *p = c->watches.next; p != &c->watches; p = p->next)
            n++;
        if (n > cap) {
            cap = n * 2;
            pfd = gmq_xrealloc(pfd, cap * sizeof(*pfd));
            ws = gmq_xrealloc(ws, cap * sizeof(*ws));
        }
        n = 0;
        for (gmq_list_t *p = c->watches.next; p != &c->watches; p = p->next) {
            sync_watch_t *w = container_of(p, sync_watch_t, link);
            pfd[n].fd = w->fd;
            pfd[n].events = (short) (((w->events & GMQ_EV_READ) ? POLLIN : 0) |
                                     ((w->events & GMQ_EV_WRITE) ? POLLOUT : 0));
            pfd[n].revents = 0;
            ws[n++] = w;
        }
        uint64_t now = gmq_async_now();
        long wait = -1;
        if (c->timer_at)
            wait = c->timer_at > now ? (long) (c->timer_at - now) : 0;
        if (end) {
            if (now >= end)
                break;
            if (wait < 0 || (uint64_t) wait > end - now)
                wait = (long) (end - now);
        }
        if (wait < 0 && n == 0)
            wait = GMQ_LIB_TICK_MS;     /* no socket, no timer: look again soon */
        int k = poll(pfd, n, wait < 0 ? -1 : (int) (wait > 60000 ? 60000 : wait));
        if (k < 0 && errno != EINTR)
            k = 0;
        for (size_t i = 0; k > 0 && i < n; i++) {
            if (pfd[i].revents == 0 || ws[i]->deleted)
                continue;
            int ev = 0;
            if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
                ev |= GMQ_EV_READ;
            if (pfd[i].revents & (POLLOUT | POLLERR | POLLHUP))
                ev |= GMQ_EV_WRITE;
            gmqAsyncHandleFd(c->ac, ws[i]->token, ev);
        }
        if (c->timer_at && gmq_async_now() >= c->timer_at)
            gmqAsyncHandleTimer(c->ac);
        while (!gmq_list_empty(&c->graveyard)) {
            sync_watch_t *w = container_of(c->graveyard.next, sync_watch_t, link);
            gmq_list_remove(&w->link);
            free(w);
        }
    }
    free(pfd);
    free(ws);
    return until(c, arg);
}

static int
sync_slot_done(gmqContext *c, void *arg)
{
    (void) c;
    return ((sync_slot_t *) arg)->done;
}

static int
sync_chan_ready(gmqContext *c, void *arg)
{
    (void) arg;
    return !gmq_list_empty(&c->chans);
}

/* the first attempts are over: every command link is ready or has failed once
 * (so that the first calls are spread over every node that answers) */
static int
sync_connected(gmqContext *c, void *arg)
{
    (void) arg;
    gmqAsyncContext *ac = c->ac;
    for (size_t i = 0; i < ac->nnodes; i++) {
        gmq_link_t *l = ac->node_links[i];
        if (l != NULL && (l->state == GMQ_LINK_CONNECTING || l->state == GMQ_LINK_HANDSHAKE ||
                          l->state == GMQ_LINK_IDLE))
            return 0;
    }
    return 1;
}

static void
sync_first_connection(gmqContext *c)
{
    gmqAsyncContext *ac = c->ac;
    if (ac->err == GMQ_ERR_ARGS || ac->err == GMQ_ERR_TLS) {
        sync_set(c, ac->err, "", ac->errstr);
        return;
    }
    gmqAsyncEvents ev = { c, sync_add_fd, sync_set_fd, sync_del_fd, sync_set_timer, sync_cleanup };
    gmqAsyncSetEvents(ac, &ev);
    gmqAsyncSetChannelCallback(ac, sync_on_channel, c);
    if (ac->err != GMQ_OK) {
        sync_set(c, ac->err, "", ac->errstr);
        return;
    }
    if (sync_run(c, sync_connected, NULL, ac->opt.connect_timeout_ms + 1000)) {
        for (size_t i = 0; i < ac->nnodes; i++)
            if (ac->node_links[i] != NULL && ac->node_links[i]->state == GMQ_LINK_READY) {
                sync_set(c, GMQ_OK, "", "");
                return;
            }
    }
    sync_set(c, ac->why_rc ? ac->why_rc : GMQ_ERR_IO, ac->why_rc == GMQ_ERR_SERVER ? "E_AUTH" : "",
             ac->why[0] ? ac->why : "no connection");
}

static gmqContext *
sync_new(gmqAsyncContext *ac)
{
    gmqContext *c = gmq_xcalloc(1, sizeof(*c));
    c->ac = ac;
    gmq_list_init(&c->watches);
    gmq_list_init(&c->graveyard);
    gmq_list_init(&c->slots);
    gmq_list_init(&c->chans);
    return c;
}

static void
sync_done(gmq_call_t *call, gmqReply *r)
{
    sync_slot_t *s = call->privdata;
    s->reply = r;
    s->done = 1;
}

static int
sync_send(gmqContext *c, const gmqRequest *req, sync_slot_t *slot)
{
    char err[300] = "";
    gmq_async_enter(c->ac);
    int rc = gmq_async_send_fn(c->ac, req, sync_done, NULL, slot, err, sizeof(err));
    gmq_async_leave(c->ac);
    if (rc != GMQ_OK)
        sync_set(c, rc, "", err);
    return rc;
}

/* send, wait, and return the answer's code with *out (the caller frees it; NULL
 * when the request was refused before it was sent) */
static int
sync_call(gmqContext *c, const gmqRequest *req, gmqReply **out)
{
    sync_slot_t slot = { .done = 0 };
    *out = NULL;
    int rc = sync_send(c, req, &slot);
    if (rc != GMQ_OK)
        return rc;
    sync_run(c, sync_slot_done, &slot, -1);
    *out = slot.reply;
    sync_set_reply(c, slot.reply);
    return slot.reply->rc;
}

static void
sync_set(gmqContext *c, int rc, const char *errcode, const char *errstr)
{
    c->err = rc;
    snprintf(c->errcode, sizeof(c->errcode), "%s", errcode);
    free(c->errstr);
    c->errstr = gmq_xstrdup(errstr);
}

static void
sync_set_reply(gmqContext *c, const gmqReply *r)
{
    sync_set(c, r->rc, r->errcode, r->errstr);
}

/* ---- the adapter ---- */

static void *
sync_add_fd(void *data, int fd, void *token)
{
    gmqContext *c = data;
    sync_watch_t *w = gmq_xcalloc(1, sizeof(*w));
    w->fd = fd;
    w->token = token;
    gmq_list_push_tail(&c->watches, &w->link);
    return w;
}

static void
sync_set_fd(void *data, void *watcher, int events)
{
    (void) data;
    ((sync_watch_t *) watcher)->events = events;
}

static void
sync_del_fd(void *data, void *watcher)
{
    gmqContext *c = data;
    sync_watch_t *w = watcher;
    w->deleted = 1;
    gmq_list_remove(&w->link);
    gmq_list_push_tail(&c->graveyard, &w->link);   /* the loop may still hold it */
}

static void
sync_set_timer(void *data, long ms)
{
    gmqContext *c = data;
    c->timer_at = ms < 0 ? 0 : gmq_async_now() + (uint64_t) ms;
}

static void
sync_cleanup(void *data)
{
    (void) data;     /* the watches are freed by gmqFree */
}

static void
sync_on_channel(gmqAsyncContext *ac, const char *body, size_t len, void *privdata)
{
    (void) ac;
    gmqContext *c = privdata;
    sync_chan_t *m = gmq_xmalloc(sizeof(*m) + len + 1);
    m->len = len;
    memcpy(m->body, body, len);
    m->body[len] = '\0';
    gmq_list_push_tail(&c->chans, &m->link);
}

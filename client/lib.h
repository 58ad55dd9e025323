/*
 * lib.h - libgmq's internals, shared by its modules (never installed):
 * calls (client/call.c: a request encoded once and kept until answered,
 * its reply decoded, the retry rules), links (client/link.c: one connection
 * to one node, plain or TLS, with the calls on it in order) and the async
 * context that owns them (client/async.c). The sync context (client/sync.c)
 * is an async context driven by poll().
 */
#ifndef GMQ_CLIENT_LIB_H
#define GMQ_CLIENT_LIB_H

#include "gmq/gmq.h"
#include "client/discovery.h"
#include "common/buf.h"
#include "common/gmq.h"
#include "common/list.h"

#include <openssl/ssl.h>

typedef struct gmq_call_s     gmq_call_t;
typedef struct gmq_link_s     gmq_link_t;
typedef struct gmq_consumer_s gmq_consumer_t;

#define GMQ_LIB_NODE_MAX   96           /* gmqMessage.node */
#define GMQ_LIB_MPUB_MAX   1000         /* the node's default max_mpub */
#define GMQ_LIB_LINE_MAX   4096         /* the node's default max_line */
#define GMQ_LIB_TICK_MS    100          /* discovery poll and pending-call checks */
#define GMQ_LIB_LEAVE_MS   500          /* a removed node's link waits this long for answers */

/* the retry class of a server error (gmq_call_classify) */
#define GMQ_RETRY_NO       0            /* final */
#define GMQ_RETRY_SAFE     1            /* nothing was done: send again */
#define GMQ_RETRY_MAYBE    2            /* the outcome is unknown: again only if idempotent */

/* a call's end: r is owned by the callee */
typedef void (*gmq_call_done_fn)(gmq_call_t *call, gmqReply *r);

struct gmq_call_s {
    gmq_list_t       link;          /* in its link's calls, or the context's pending/delayed list */
    gmqAsyncContext *ac;
    gmqCall          call;
    int              internal;      /* auth, re-subscribe: answered inside the library */
    gmq_buf_t        wire;          /* the encoded request, kept for a resend */
    int              idempotent;    /* may be sent again after its answer was lost */
    int              publish;       /* pub, mpub, publish: retry_unknown applies */
    int              waits;         /* pop/dead that may wait at the node */
    int              resent;        /* sent again after a lost answer or a "retry" error */
    char             pin[GMQ_LIB_NODE_MAX];   /* the node it must go to; "" = any */
    char             topic[GMQ_NAME_LEN + 1];
    char             bind_key[GMQ_NAME_LEN + 1];
    char            *channel;       /* subscribe/unsubscribe: the channel */
    uint32_t         nitems;        /* mpub */
    uint64_t         need_since;    /* ms: without a connection (or retrying) since; 0 = on one */
    uint64_t         not_before;    /* ms: a retry waits until then */
    uint64_t         retry_since;   /* ms: first "retry" answer from a node (retry budget) */
    int              attempts;      /* "retry" answers so far (backoff) */
    int              tried;         /* reconnect off: a fresh connection was tried for it */
    gmqReply        *last;          /* the last retryable failure, reported if time runs out */
    gmq_link_t      *on;            /* the link it is queued on; NULL while pending */
    uint64_t         out_start;     /* its bytes in the link's stream: [out_start, out_end) */
    uint64_t         out_end;       /* 0 = not in the stream yet */
    gmq_consumer_t  *consumer;      /* a consumer's pop */
    gmq_call_done_fn done;
    gmqCallback     *cb;            /* the user's callback (async) */
    void            *privdata;
};

typedef enum {
    GMQ_LINK_IDLE = 0,       /* not connected, not trying (no event loop yet) */
    GMQ_LINK_CONNECTING,     /* TCP connect in progress */
    GMQ_LINK_HANDSHAKE,      /* TLS handshake in progress */
    GMQ_LINK_READY,          /* calls flow */
    GMQ_LINK_BACKOFF,        /* waiting until deadline to connect again */
    GMQ_LINK_CLOSED,         /* done: freed at the end of the entry point */
} gmq_link_state_t;

struct gmq_link_s {
    gmq_list_t        link;         /* in ac->links */
    gmqAsyncContext  *ac;
    char              node[GMQ_LIB_NODE_MAX];   /* etcd key, or host:port */
    gmq_consumer_t   *consumer;     /* a consumer's own connection to the node; NULL = commands */
    char              addr[300];    /* host:port to connect to */
    gmq_link_state_t  state;
    int               fd;
    SSL              *ssl;
    void             *watcher;      /* the adapter's */
    int               events;       /* asked of the adapter */
    int               tls_rw;       /* TLS wants the socket writable to read (1) or readable to write (2) */
    gmq_buf_t         in, out;
    uint64_t          out_total;    /* bytes put in out on this connection */
    uint64_t          out_done;     /* of them written */
    gmq_list_t        calls;        /* in order: sent, then to send */
    uint64_t          deadline;     /* ms: end of a connect attempt or of the backoff */
    int               backoff_ms;
    uint64_t          last_rx;      /* ms: last byte from the node (liveness) */
    int               removed;      /* its node left etcd: no new calls, closed when answered */
    uint64_t          leave_at;     /* removed: closed by then at the latest */
    unsigned          ai_next;      /* which resolved address to try next */
    char              why[256];     /* why the last attempt failed */
    int               fail_rc;      /* and its code: GMQ_ERR_IO, _TLS, _PROTOCOL, _SERVER (auth) */
};

/* one consumer: a pop waiting on every link */
struct gmq_consumer_s {
    gmq_list_t   link;              /* in ac->consumers */
    int          id;
    char         topic[GMQ_NAME_LEN + 1];
    char         bind_key[GMQ_NAME_LEN + 1];
    gmqCallback *cb;
    void        *privdata;
    int          stopped;           /* freed at the end of the entry point */
};

struct gmqAsyncContext {
    gmqOptions        opt;          /* strings copied */
    int               err;
    char              errstr[512];
    gmqAsyncEvents    ev;
    int               attached;
    SSL_CTX          *ssl_ctx;
    gmq_list_t        links;        /* every link; CLOSED ones are freed at the end of the entry point */
    gmq_list_t        pending;      /* calls waiting for a ready command link, in order */
    gmq_list_t        delayed;      /* pinned calls and retries waiting for their time or link */
    gmq_list_t        consumers;
    int               next_consumer;
    /* the nodes: one for host:port, etcd's otherwise; node_links[i] carries
     * nodes[i]'s commands (consumers have links of their own) */
    gmq_discovery_node_t *nodes;
    gmq_link_t      **node_links;
    size_t            nnodes;
    gmq_discovery_t  *disc;
    uint64_t          disc_version;
    char            **channels;     /* subscribed (re-subscribed on every connection) */
    size_t            nchannels;
    gmqEventCallback *event_cb;
    void             *event_priv;
    gmqChannelCallback *chan_cb;
    void             *chan_priv;
    int               depth;        /* library entry points on the stack */
    int               free_pending; /* gmqAsyncFree inside a callback */
    int               disconnecting;
    uint64_t          timer_at;     /* what the adapter was last asked for (0 none) */
    int               closing;      /* being freed: no new requests */
    char              why[256];     /* the last connection failure (for calls that give up) */
    int               why_rc;
    uint64_t          rand;         /* backoff jitter */
};

/* ---- call.c ---- */

/* a new call for req (validated and encoded), NULL with *rc and err filled */
gmq_call_t *gmq_call_new(gmqAsyncContext *ac, const gmqRequest *req, int *rc, char *err,
                         size_t errlen);
/* answered inside the library: `auth <token>` (call 0), `subscribe <ch>`, `unsubscribe <ch>` */
gmq_call_t *gmq_call_internal(gmqAsyncContext *ac, int call, const char *arg);
void        gmq_call_free(gmq_call_t *c);
/* a new reply for call with rc and a printf text */
gmqReply   *gmq_call_reply_new(const gmq_call_t *c, int rc, const char *fmt, ...) GMQ_PRINTF(3, 4);
/* decode a reply frame (101, 102, 103, 106) for call; NULL when the frame
 * cannot answer it (a protocol error) */
gmqReply   *gmq_call_decode(const gmq_call_t *c, const char *node, uint16_t type,
                            const char *data, size_t len);
/* the retry class of a server error text */
int         gmq_call_classify(const char *errcode, const char *text);
/* copy the options (strings duplicated) with defaults for zero fields */
void        gmq_call_options(gmqOptions *dst, const gmqOptions *src);
void        gmq_call_options_free(gmqOptions *o);

/* ---- link.c ---- */

gmq_link_t *gmq_link_new(gmqAsyncContext *ac, const char *node, const char *addr,
                         gmq_consumer_t *consumer);
/* start connecting now (IDLE, or BACKOFF) */
void        gmq_link_connect(gmq_link_t *l);
/* queue a call (its bytes go out once the link is ready) */
void        gmq_link_queue(gmq_link_t *l, gmq_call_t *c);
/* socket events from the adapter */
void        gmq_link_on_events(gmq_link_t *l, int events);
/* deadlines: connect timeout, backoff end, liveness, leaving */
void        gmq_link_on_time(gmq_link_t *l, uint64_t now);
/* the next deadline of the link (0 = none) */
uint64_t    gmq_link_next_time(const gmq_link_t *l);
/* close now; calls on it: unsent and idempotent ones back to pending (or
 * dropped when drop_pinned and pinned), others answered GMQ_ERR_UNKNOWN */
void        gmq_link_close(gmq_link_t *l, int drop_pinned, const char *why);
/* free a CLOSED link (from the dead list) */
void        gmq_link_free(gmq_link_t *l);

/* ---- async.c (used by link.c and sync.c) ---- */

uint64_t    gmq_async_now(void);
/* a call's end: its done function, then it is freed */
void        gmq_async_finish(gmq_call_t *c, gmqReply *r);
/* a call that must find a link again (unsent at a lost connection, a retry) */
void        gmq_async_requeue(gmq_call_t *c, uint64_t not_before);
/* answer a call: retries server errors that can be retried, else finishes */
void        gmq_async_answer(gmq_call_t *c, gmqReply *r);
/* events from links */
void        gmq_async_link_ready(gmq_link_t *l);
void        gmq_async_link_lost(gmq_link_t *l, const char *why);
/* the link failed for good (TLS, auth, not gmq): with one node, calls waiting for it get r's answer */
void        gmq_async_link_failed(gmq_link_t *l, int rc, const char *errcode, const char *text);
void        gmq_async_channel(gmqAsyncContext *ac, const char *body, size_t len);
/* the backoff's next delay after cur (doubling, jittered, capped) */
int         gmq_async_backoff(gmqAsyncContext *ac, int cur);
/* adapter calls on behalf of links */
void        gmq_async_watch(gmq_link_t *l, int events);
void        gmq_async_unwatch(gmq_link_t *l);
/* send with an internal done function (sync.c) */
int         gmq_async_send_fn(gmqAsyncContext *ac, const gmqRequest *req, gmq_call_done_fn done,
                              gmqCallback *cb, void *privdata, char *err, size_t errlen);
/* entry points: enter/leave around every public function */
void        gmq_async_enter(gmqAsyncContext *ac);
void        gmq_async_leave(gmqAsyncContext *ac);
/* the event callback, unless the context is closing */
void        gmq_async_event(gmqAsyncContext *ac, int event, const char *node, const char *detail);

/* ---- nodes.c (used by async.c) ---- */

/* the node list changed: links for new nodes (and their consumers), the
 * links of nodes that left are closed once their answers came (or after
 * GMQ_LIB_LEAVE_MS); SWRR state and links of nodes that stay are kept */
void        gmq_async_set_nodes(gmqAsyncContext *ac, gmq_discovery_node_t *nodes, size_t n);
/* discovery's list, when its version moved: gmq_async_set_nodes */
void        gmq_async_poll_discovery(gmqAsyncContext *ac);
/* waiting calls onto links; how many moved or ended */
int         gmq_async_route(gmqAsyncContext *ac);
/* consumer k's link to node n, and its first pop */
void        gmq_async_consumer_link(gmqAsyncContext *ac, gmq_consumer_t *k,
                                    const gmq_discovery_node_t *n);
/* a consumer's pop answered: its callback, then the next pop */
void        gmq_async_consumer_done(gmq_call_t *c, gmqReply *r);

#endif

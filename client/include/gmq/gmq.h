/*
 * gmq/gmq.h - libgmq, the C client library of the gmq message broker.
 *
 * Two APIs over one engine (docs/client.md has the full guide):
 *   - synchronous (gmqContext): every call blocks until its answer; calls
 *     can also be pipelined (gmqAppend..., then gmqGetReply for each);
 *   - asynchronous (gmqAsyncContext): calls take a callback and the
 *     application's event loop drives the sockets through an adapter
 *     (gmq/adapters/libev.h), so one thread can hold many connections.
 * Both connect to one node ("host:port") or to the nodes registered in
 * etcd, reconnect with exponential backoff, retry what can be retried and
 * report what cannot (GMQ_ERR_UNKNOWN). Message bodies are binary-safe.
 *
 * Return codes: GMQ_OK (0) and GMQ_NO_MESSAGE (1) are successes, every
 * GMQ_ERR_* is negative. Nothing in the library aborts on a server error or
 * a lost connection. A context is used by one thread at a time.
 */
#ifndef GMQ_LIBGMQ_H
#define GMQ_LIBGMQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GMQ_LIB_VERSION "0.1.0"

/* ---- return codes ---- */

#define GMQ_OK              0   /* done */
#define GMQ_NO_MESSAGE      1   /* pop, dead, peek, gmqChannelRead: nothing there */
#define GMQ_ERR_SERVER    -10   /* the node refused: gmqErrcode() is its E_ code, gmqErrstr() its text */
#define GMQ_ERR_UNKNOWN   -11   /* outcome unknown: the request was sent and its answer lost; it may
                                   or may not have been applied (publishes: see retry_unknown) */
#define GMQ_ERR_IO        -12   /* no node could be reached within retry_timeout_ms: not applied */
#define GMQ_ERR_PROTOCOL  -13   /* the peer does not speak gmq's protocol (the connection is dropped) */
#define GMQ_ERR_ARGS      -14   /* a bad argument, found before anything was sent */
#define GMQ_ERR_TLS       -15   /* TLS set-up or handshake failed (certificate, key, CA, verification) */
#define GMQ_ERR_DISCOVERY -16   /* etcd could not be read, or no node is registered */
#define GMQ_ERR_CLOSED    -17   /* the context was freed or disconnected while the call was pending */
#define GMQ_ERR_STATE     -18   /* not possible now (gmqGetReply with nothing appended, a call on a
                                   disconnecting context) */

/* "GMQ_ERR_IO", ... for a return code; "GMQ_UNKNOWN" for others */
const char *gmqStrerror(int rc);

/* ---- options ---- */

typedef struct gmqOptions {
    int         connect_timeout_ms;  /* one connection attempt (TCP + TLS + auth); default 5000 */
    int         io_timeout_ms;       /* a connection that owes a reply and sends nothing (not even the
                                        5 s heartbeats of a waiting pop) for this long is dropped;
                                        default 15000 */
    int         reconnect;           /* 1 (default): reconnect and retry; 0: a lost connection fails
                                        the calls on it (GMQ_ERR_IO / GMQ_ERR_UNKNOWN) at once */
    int         backoff_min_ms;      /* first reconnect delay; default 100 */
    int         backoff_max_ms;      /* the delay doubles up to this; default 2000 */
    int         retry_timeout_ms;    /* a call that finds no connection (or keeps being refused with
                                        "retry") for this long fails; default 30000 */
    int         retry_unknown;       /* 1: resend a publish (pub, mpub, publish) whose answer was lost,
                                        which may store it twice; 0 (default): GMQ_ERR_UNKNOWN */
    const char *auth_token;          /* sent as `auth <token>` on every connection; NULL = none */
    int         tls;                 /* 1: TLS (the node's tcp_tls = on) */
    const char *tls_ca_file;         /* CA bundle to verify the node; NULL = the system's */
    const char *tls_cert_file;       /* client certificate (PEM) for nodes that ask for one */
    const char *tls_key_file;        /* its key (PEM); NULL = in tls_cert_file */
    const char *tls_server_name;     /* name (or IP) to verify and send as SNI; NULL = the host */
    int         tls_verify;          /* 1 (default): verify the certificate and the name */
    const char *etcd_ca_file;        /* CA bundle for https:// etcd endpoints; NULL = the system's */
    int         etcd_timeout_ms;     /* one etcd request; default 3000 */
    size_t      max_frame;           /* largest reply frame accepted; default 64 MiB + 64 KiB */
} gmqOptions;

/* fill o with the defaults above */
void gmqOptionsInit(gmqOptions *o);

/* ---- messages and replies ---- */

#define GMQ_NAME_LEN 128     /* topics, bind keys, channels: 1..128 of [A-Za-z0-9_.-] */

/* a delivered (pop, dead) or peeked message; owned by the caller, freed with gmqMessageFree */
typedef struct gmqMessage {
    uint64_t id;
    uint32_t retry_count;             /* 0 on the first delivery */
    char    *body;                    /* len bytes as published, then a NUL not counted in len */
    size_t   len;
    char     topic[GMQ_NAME_LEN + 1];
    char     bind_key[GMQ_NAME_LEN + 1];
    int      dead;                    /* 1: delivered by dead (a dead letter) */
    char     node[96];                /* the node that delivered it (etcd key or host:port): ack,
                                         touch and release of this message go there */
    /* peek only (deliveries leave them empty/0) */
    char     state[8];                /* "ready", "delayed" or "dead" */
    uint64_t pushed_at_ms, due_at_ms; /* Unix ms; due_at_ms 0 unless delayed */
    int      truncated;               /* peek: the node cut the body at 64 MiB */
} gmqMessage;

void gmqMessageFree(gmqMessage *m);   /* NULL ok */

/* one item of gmqMpub */
typedef struct gmqPubItem {
    const char *route_key;            /* NULL or "" = the default queue */
    const void *body;                 /* valid UTF-8 (mpub items travel as JSON; use pub for binary) */
    size_t      len;
    unsigned    delay_s;
} gmqPubItem;

/* what a request asks for */
typedef enum gmqCall {
    GMQ_CALL_PUB = 1,      /* topic, route_key, body/len, delay_s */
    GMQ_CALL_MPUB,         /* topic, items/nitems */
    GMQ_CALL_POP,          /* topic, bind_key, timeout_s */
    GMQ_CALL_DEAD,         /* topic, bind_key, timeout_s */
    GMQ_CALL_ACK,          /* msg, or topic, bind_key, id */
    GMQ_CALL_REQUEUE,      /* topic, bind_key, id (0 = every dead letter) */
    GMQ_CALL_PEEK,         /* topic, bind_key, state (NULL = "ready") */
    GMQ_CALL_TOUCH,        /* msg, or topic, bind_key, id */
    GMQ_CALL_RELEASE,      /* msg, or topic, bind_key, id; delay_s */
    GMQ_CALL_STATS,        /* topic */
    GMQ_CALL_DECLARE,      /* topic, bind_key */
    GMQ_CALL_SET,          /* topic, auto_ack (0/1), mode, ttr_s, retry (mode 0: only auto_ack) */
    GMQ_CALL_PING,         /* - */
    GMQ_CALL_SUBSCRIBE,    /* channel */
    GMQ_CALL_UNSUBSCRIBE,  /* channel */
    GMQ_CALL_PUBLISH,      /* channel, body/len */
} gmqCall;

/* A request for gmqAppend and gmqAsyncSend: set call and the fields it
 * names (zero the rest). Strings are copied when the request is made. */
typedef struct gmqRequest {
    gmqCall           call;
    const char       *topic;
    const char       *bind_key;      /* also the route key of pub; NULL or "" = default */
    const char       *channel;
    const void       *body;
    size_t            len;
    unsigned          delay_s;       /* pub, release */
    int               timeout_s;     /* pop, dead: -1 = wait (pop) / answer at once (dead); 0..86400 */
    uint64_t          id;
    const gmqMessage *msg;           /* ack, touch, release: the delivered message */
    const gmqPubItem *items;         /* mpub */
    size_t            nitems;
    const char       *state;         /* peek */
    int               auto_ack, mode, ttr_s, retry;   /* set */
} gmqRequest;

/* The answer to one request. Owned by the caller for gmqGetReply (free with
 * gmqReplyFree); valid during the callback only for the async API. */
typedef struct gmqReply {
    int         rc;                   /* GMQ_OK, GMQ_NO_MESSAGE or a GMQ_ERR_* */
    gmqCall     call;                 /* the request it answers */
    char        errcode[32];          /* GMQ_ERR_SERVER: "E_INVALID_ACK", ...; else "" */
    char       *errstr;               /* "" on success; the node's "E_CODE - text" for server errors */
    uint64_t    id;                   /* pub: the stored message's id */
    uint64_t    value;                /* mpub: items stored (also on an error); requeue: moved;
                                         touch: the new deadline (Unix ms) */
    uint64_t   *ids;                  /* mpub: the items' ids in order (nids of them) */
    size_t      nids;
    gmqMessage *msg;                  /* pop, dead, peek */
    char       *text;                 /* the node's answer text: "ok", stats JSON, ... ("" if none) */
    size_t      len;
    void       *privdata;             /* the privdata given with the request (async) */
} gmqReply;

void gmqReplyFree(gmqReply *r);       /* NULL ok */
/* take the message out of a reply (the caller then owns it); NULL if none */
gmqMessage *gmqReplyTakeMessage(gmqReply *r);

/* ---- synchronous API ---- */

typedef struct gmqContext gmqContext;

/*
 * Connect to one node ("127.0.0.1:9503", "[::1]:9503", "host:port"), or to
 * the nodes registered in etcd under /gmq/node- ("127.0.0.1:2379,
 * https://h:2379"). opt NULL = defaults. The first connection is made now;
 * NULL only when out of memory: check gmqErr(c) (a context whose first
 * attempt failed still reconnects on the next call when opt->reconnect).
 * With etcd, every call goes to a node chosen by smooth weighted
 * round-robin (ack, touch and release of a message to the node that
 * delivered it), and nodes that leave etcd are left within a second
 * whenever the thread is inside a call.
 */
gmqContext *gmqConnect(const char *addr, const gmqOptions *opt);
gmqContext *gmqConnectEtcd(const char *endpoints, const gmqOptions *opt);
/* close the connections (a request still pending ends with GMQ_ERR_CLOSED); NULL ok */
void        gmqFree(gmqContext *c);

/* the last call's return code, its text ("" after success), and for
 * GMQ_ERR_SERVER the node's error code ("E_INVALID_ACK"; "" otherwise) */
int         gmqErr(const gmqContext *c);
const char *gmqErrstr(const gmqContext *c);
const char *gmqErrcode(const gmqContext *c);

/* publish one message; *id (may be NULL) gets its id */
int gmqPub(gmqContext *c, const char *topic, const char *route_key, const void *body, size_t len,
           unsigned delay_s, uint64_t *id);
/* publish n items in one request (stored in order: on an error the first
 * *stored are stored, none after); ids (n of them, may be NULL) get the ids */
int gmqMpub(gmqContext *c, const char *topic, const gmqPubItem *items, size_t n, uint64_t *ids,
            size_t *stored);
/* the next message of the queue: timeout_s -1 waits as long as it takes, 0
 * answers at once, N waits up to N s. GMQ_OK with *msg, GMQ_NO_MESSAGE. */
int gmqPop(gmqContext *c, const char *topic, const char *bind_key, int timeout_s, gmqMessage **msg);
/* the next dead letter (timeout_s -1 or 0: at once) */
int gmqDead(gmqContext *c, const char *topic, const char *bind_key, int timeout_s, gmqMessage **msg);
/* acknowledge a delivered message (to the node that delivered it) */
int gmqAck(gmqContext *c, const gmqMessage *m);
int gmqAckId(gmqContext *c, const char *topic, const char *bind_key, uint64_t id);
/* move dead letters back (id 0 = all); *moved (may be NULL) = how many */
int gmqRequeue(gmqContext *c, const char *topic, const char *bind_key, uint64_t id, uint64_t *moved);
/* look at the next message without delivering it; state NULL/"ready", "delayed", "dead".
 * The body comes from the node's JSON: invalid UTF-8 shows as U+FFFD. */
int gmqPeek(gmqContext *c, const char *topic, const char *bind_key, const char *state,
            gmqMessage **msg);
/* a new TTR deadline for a delivered message; *deadline_ms (may be NULL) in Unix ms */
int gmqTouch(gmqContext *c, const gmqMessage *m, uint64_t *deadline_ms);
/* put a delivered message back now or after delay_s (retry_count + 1) */
int gmqRelease(gmqContext *c, const gmqMessage *m, unsigned delay_s);
/* the topic's statistics as JSON (malloc'd, the caller frees) */
int gmqStats(gmqContext *c, const char *topic, char **json);
/* declare the queue <topic>_<bind_key> */
int gmqDeclare(gmqContext *c, const char *topic, const char *bind_key);
/* topic settings: auto_ack 0/1; mode 1..3, ttr_s, retry (mode 0 = change only auto_ack) */
int gmqSetTopic(gmqContext *c, const char *topic, int auto_ack, int mode, int ttr_s, int retry);
int gmqPing(gmqContext *c);

/* channels (pub/sub, in memory, at-most-once): subscribed on every node and
 * again after each reconnect; messages published while disconnected are missed */
int gmqSubscribe(gmqContext *c, const char *channel);
int gmqUnsubscribe(gmqContext *c, const char *channel);
int gmqPublish(gmqContext *c, const char *channel, const void *body, size_t len);
/* the next channel message (timeout_ms -1 = wait): GMQ_OK with *body (malloc'd,
 * NUL after len bytes; the caller frees) and *len, or GMQ_NO_MESSAGE */
int gmqChannelRead(gmqContext *c, int timeout_ms, char **body, size_t *len);

/* Pipelining: gmqAppend queues a request (nothing is waited for; returns
 * GMQ_OK or GMQ_ERR_ARGS); gmqGetReply waits for the answers in the order
 * of the appends: it returns the answer's rc with *r (the caller frees it),
 * or GMQ_ERR_STATE with *r NULL when nothing is appended. The requests are
 * written while the thread is inside a gmq call (gmqGetReply, or any other). */
int gmqAppend(gmqContext *c, const gmqRequest *req);
int gmqAppendPub(gmqContext *c, const char *topic, const char *route_key, const void *body,
                 size_t len, unsigned delay_s);
int gmqAppendAck(gmqContext *c, const gmqMessage *m);
int gmqGetReply(gmqContext *c, gmqReply **r);

/* ---- asynchronous API ---- */

typedef struct gmqAsyncContext gmqAsyncContext;

/* a request's answer; r is freed after the callback returns (keep a message
 * with gmqReplyTakeMessage). Every pending callback is called exactly once,
 * with GMQ_ERR_CLOSED when the context goes away first. */
typedef void gmqCallback(gmqAsyncContext *ac, gmqReply *r, void *privdata);
/* a channel message (body valid during the callback) */
typedef void gmqChannelCallback(gmqAsyncContext *ac, const char *body, size_t len, void *privdata);

#define GMQ_EVENT_CONNECTED    1   /* a connection to node is ready (after TLS and auth) */
#define GMQ_EVENT_DISCONNECTED 2   /* it was lost or closed; detail says why */
#define GMQ_EVENT_NODE_ADDED   3   /* etcd: node registered */
#define GMQ_EVENT_NODE_REMOVED 4   /* etcd: node's key disappeared; its connection is left */
typedef void gmqEventCallback(gmqAsyncContext *ac, int event, const char *node, const char *detail,
                              void *privdata);

/* the event-loop hooks an adapter fills in (see gmq/adapters/libev.h) */
#define GMQ_EV_READ  1
#define GMQ_EV_WRITE 2
typedef struct gmqAsyncEvents {
    void  *data;
    /* a new socket fd: return a watcher (NULL on failure) that reports to
     * gmqAsyncHandleFd(ac, token, events); it starts with no events */
    void *(*add_fd)(void *data, int fd, void *token);
    void  (*set_fd)(void *data, void *watcher, int events);   /* GMQ_EV_READ | GMQ_EV_WRITE, or 0 */
    void  (*del_fd)(void *data, void *watcher);               /* the socket is about to close */
    void  (*set_timer)(void *data, long ms);   /* call gmqAsyncHandleTimer in ms (replacing the last
                                                  request); ms < 0 cancels */
    void  (*cleanup)(void *data);              /* the context is being freed */
} gmqAsyncEvents;

/* As gmqConnect / gmqConnectEtcd; nothing is connected before an adapter is
 * attached (gmqAsyncSetEvents). NULL only when out of memory; check
 * gmqAsyncErr for a bad address, etcd or TLS set-up. */
gmqAsyncContext *gmqAsyncConnect(const char *addr, const gmqOptions *opt);
gmqAsyncContext *gmqAsyncConnectEtcd(const char *endpoints, const gmqOptions *opt);
int         gmqAsyncErr(const gmqAsyncContext *ac);
const char *gmqAsyncErrstr(const gmqAsyncContext *ac);
/* attach the event loop (adapters call this) and start connecting */
int  gmqAsyncSetEvents(gmqAsyncContext *ac, const gmqAsyncEvents *ev);
void gmqAsyncHandleFd(gmqAsyncContext *ac, void *token, int events);
void gmqAsyncHandleTimer(gmqAsyncContext *ac);

void gmqAsyncSetEventCallback(gmqAsyncContext *ac, gmqEventCallback *cb, void *privdata);
void gmqAsyncSetChannelCallback(gmqAsyncContext *ac, gmqChannelCallback *cb, void *privdata);

/* send a request; cb (may be NULL) gets its answer. GMQ_OK, GMQ_ERR_ARGS
 * (cb not called), GMQ_ERR_STATE (disconnecting). */
int gmqAsyncSend(gmqAsyncContext *ac, const gmqRequest *req, gmqCallback *cb, void *privdata);
int gmqAsyncPub(gmqAsyncContext *ac, const char *topic, const char *route_key, const void *body,
                size_t len, unsigned delay_s, gmqCallback *cb, void *privdata);
int gmqAsyncPop(gmqAsyncContext *ac, const char *topic, const char *bind_key, int timeout_s,
                gmqCallback *cb, void *privdata);
int gmqAsyncAck(gmqAsyncContext *ac, const gmqMessage *m, gmqCallback *cb, void *privdata);

/* A consumer: a pop waits on every node (and on nodes that join) and cb gets
 * each message (r->msg; take it with gmqReplyTakeMessage to ack it later)
 * and each error (then the consumer tries again after backoff_max_ms). The
 * next pop on a node is sent when cb returns. Returns a consumer id > 0, or
 * a GMQ_ERR_*. */
int  gmqAsyncConsume(gmqAsyncContext *ac, const char *topic, const char *bind_key,
                     gmqCallback *cb, void *privdata);
/* stop a consumer; its waiting pops are cancelled (cb is not called again) */
void gmqAsyncStopConsume(gmqAsyncContext *ac, int consumer_id);

/* graceful: no new requests, consumers stop, pending answers arrive, then
 * the context is freed (from the loop; the adapter's cleanup is called) */
void gmqAsyncDisconnect(gmqAsyncContext *ac);
/* now: pending callbacks get GMQ_ERR_CLOSED; safe inside a callback */
void gmqAsyncFree(gmqAsyncContext *ac);

#ifdef __cplusplus
}
#endif

#endif

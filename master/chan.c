/*
 * chan.c - owns the pub/sub channels: a channel exists while it has
 * subscribers; each subscription links a connection and a channel.
 */
#include "chan.h"
#include "proto/tcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chan_s {
    gmq_list_t link;            /* in m->chans */
    char       name[GMQ_NAME_MAX + 1];
    gmq_list_t subs;
    int        nsubs;
} chan_t;

typedef struct {
    gmq_list_t  chan_link;      /* in chan->subs */
    gmq_list_t  conn_link;      /* in conn->u.tcp.subs */
    gmq_conn_t *conn;
    chan_t     *chan;
} chan_sub_t;

static chan_t *chan_find(gmq_master_t *m, const char *name);
static void    chan_sub_free(gmq_master_t *m, chan_sub_t *s);

int
gmq_chan_subscribe(gmq_master_t *m, gmq_conn_t *c, const char *name, gmq_error_t *err)
{
    chan_t *ch = chan_find(m, name);
    if (ch == NULL) {
        ch = gmq_xcalloc(1, sizeof(*ch));
        snprintf(ch->name, sizeof(ch->name), "%s", name);
        gmq_list_init(&ch->subs);
        gmq_list_push_tail(&m->chans, &ch->link);
        m->nchans++;
    }
    for (gmq_list_t *l = ch->subs.next; l != &ch->subs; l = l->next)
        if (container_of(l, chan_sub_t, chan_link)->conn == c)
            return gmq_error_set(err, GMQ_E_INVALID_SUBSCRIBE, "already subscribed to %s", name);
    chan_sub_t *s = gmq_xcalloc(1, sizeof(*s));
    s->conn = c;
    s->chan = ch;
    gmq_list_push_tail(&ch->subs, &s->chan_link);
    gmq_list_push_tail(&c->u.tcp.subs, &s->conn_link);
    ch->nsubs++;
    return GMQ_OK;
}

int
gmq_chan_unsubscribe(gmq_master_t *m, gmq_conn_t *c, const char *name)
{
    for (gmq_list_t *l = c->u.tcp.subs.next; l != &c->u.tcp.subs; l = l->next) {
        chan_sub_t *s = container_of(l, chan_sub_t, conn_link);
        if (strcmp(s->chan->name, name) == 0) {
            chan_sub_free(m, s);
            return GMQ_OK;
        }
    }
    return GMQ_ERR;
}

int
gmq_chan_publish(gmq_master_t *m, const char *name, const char *body, size_t len)
{
    chan_t *ch = chan_find(m, name);
    if (ch == NULL)
        return 0;
    int n = 0;
    for (gmq_list_t *l = ch->subs.next; l != &ch->subs;) {
        chan_sub_t *s = container_of(l, chan_sub_t, chan_link);
        l = l->next;
        if (s->conn->dead)
            continue;
        gmq_tcp_put_frame(&s->conn->out, GMQ_TCP_CHANNEL, body, len);
        gmq_conn_schedule(s->conn);
        n++;
    }
    return n;
}

void
gmq_chan_drop_conn(gmq_master_t *m, gmq_conn_t *c)
{
    while (!gmq_list_empty(&c->u.tcp.subs))
        chan_sub_free(m, container_of(c->u.tcp.subs.next, chan_sub_t, conn_link));
}

int
gmq_chan_count(const gmq_master_t *m)
{
    return m->nchans;
}

static chan_t *
chan_find(gmq_master_t *m, const char *name)
{
    for (gmq_list_t *l = m->chans.next; l != &m->chans; l = l->next) {
        chan_t *ch = container_of(l, chan_t, link);
        if (strcmp(ch->name, name) == 0)
            return ch;
    }
    return NULL;
}

static void
chan_sub_free(gmq_master_t *m, chan_sub_t *s)
{
    chan_t *ch = s->chan;
    gmq_list_remove(&s->chan_link);
    gmq_list_remove(&s->conn_link);
    free(s);
    if (--ch->nsubs == 0) {
        gmq_list_remove(&ch->link);
        m->nchans--;
        free(ch);
    }
}

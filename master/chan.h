/*
 * chan.h - pub/sub channels held by the master: in memory, at-most-once
 * fan-out of a published body (TCP frame 104) to every subscriber.
 */
#ifndef GMQ_CHAN_H
#define GMQ_CHAN_H

#include "master.h"

/* GMQ_OK, or GMQ_ERR with err set (already subscribed) */
int  gmq_chan_subscribe(gmq_master_t *m, gmq_conn_t *c, const char *name, gmq_error_t *err);
/* GMQ_OK, or GMQ_ERR if the connection was not subscribed */
int  gmq_chan_unsubscribe(gmq_master_t *m, gmq_conn_t *c, const char *name);
/* sends the body to every subscriber; returns how many received it */
int  gmq_chan_publish(gmq_master_t *m, const char *name, const char *body, size_t len);
/* a closing connection leaves every channel */
void gmq_chan_drop_conn(gmq_master_t *m, gmq_conn_t *c);
int  gmq_chan_count(const gmq_master_t *m);

#endif

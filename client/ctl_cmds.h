/*
 * ctl_cmds.h - gmqctl's commands, the run functions of client/gmqctl.c's
 * command table. Each returns the exit status; positionals and options are
 * already counted and known (c->argv, gmq_ctl_opt), values are checked here.
 */
#ifndef GMQ_CTL_CMDS_H
#define GMQ_CTL_CMDS_H

#include "client/gmqctl.h"

/* client/ctl_cmds_node.c: the nodes and their processes */
int gmq_ctl_cmd_nodes(gmq_ctl_t *c);
int gmq_ctl_cmd_ping(gmq_ctl_t *c);
int gmq_ctl_cmd_watch(gmq_ctl_t *c);
int gmq_ctl_cmd_workers(gmq_ctl_t *c);
int gmq_ctl_cmd_worker_restart(gmq_ctl_t *c);
int gmq_ctl_cmd_stats(gmq_ctl_t *c);
int gmq_ctl_cmd_metrics(gmq_ctl_t *c);

/* client/ctl_cmds_topic.c: topics and queues */
int gmq_ctl_cmd_topic_list(gmq_ctl_t *c);
int gmq_ctl_cmd_topic_show(gmq_ctl_t *c);
int gmq_ctl_cmd_topic_config(gmq_ctl_t *c);
int gmq_ctl_cmd_topic_delete(gmq_ctl_t *c);
int gmq_ctl_cmd_queue_declare(gmq_ctl_t *c);
int gmq_ctl_cmd_queue_list(gmq_ctl_t *c);
int gmq_ctl_cmd_queue_purge(gmq_ctl_t *c);
int gmq_ctl_cmd_queue_delete(gmq_ctl_t *c);

/* client/ctl_cmds_msg.c: messages */
int gmq_ctl_cmd_push(gmq_ctl_t *c);
int gmq_ctl_cmd_pop(gmq_ctl_t *c);
int gmq_ctl_cmd_ack(gmq_ctl_t *c);
int gmq_ctl_cmd_peek(gmq_ctl_t *c);
int gmq_ctl_cmd_touch(gmq_ctl_t *c);
int gmq_ctl_cmd_release(gmq_ctl_t *c);
int gmq_ctl_cmd_dead_list(gmq_ctl_t *c);
int gmq_ctl_cmd_dead_kick(gmq_ctl_t *c);
int gmq_ctl_cmd_msg_show(gmq_ctl_t *c);

#endif

/*
 * ctl_help.h - gmqctl's command table and the texts made from it: the usage
 * lines, `gmqctl help [COMMAND]`, and `gmqctl completion bash`.
 */
#ifndef GMQ_CTL_HELP_H
#define GMQ_CTL_HELP_H

#include "client/gmqctl.h"

#include <stdio.h>

/* every command, the verbs of a group next to each other */
extern const gmq_ctl_cmd_t gmq_ctl_help_cmds[];
extern const size_t        gmq_ctl_help_ncmds;
/* the global flags (ending with a NULL name); the parser in client/gmqctl.c maps
 * them onto gmq_ctl_t by name */
extern const gmq_ctl_opt_t gmq_ctl_help_globals[];

/* 1 when group is a noun with verbs (topic, queue, ...) */
int  gmq_ctl_help_is_group(const char *group);
/* "usage: gmqctl topic config TOPIC [--auto-ack 0|1] ..." and a newline; for
 * cmd NULL the general usage line */
void gmq_ctl_help_synopsis(FILE *f, const gmq_ctl_cmd_t *cmd);
/* The usage lines of every verb of group. */
void gmq_ctl_help_group(FILE *f, const char *group);
/* The full usage: commands, flags, exit status. */
void gmq_ctl_help_usage(FILE *f);
/* The detailed help of cmd, or of every verb of group when cmd is NULL. */
void gmq_ctl_help_command(FILE *f, const char *group, const gmq_ctl_cmd_t *cmd);

/* the run functions of `help` and `completion` */
int  gmq_ctl_help_run(gmq_ctl_t *c);
int  gmq_ctl_help_completion(gmq_ctl_t *c);

#endif

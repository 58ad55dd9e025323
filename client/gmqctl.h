/*
 * gmqctl.h - what gmqctl's modules share: the context of one invocation (global
 * flags, the command and its arguments), the command table's row type, exit
 * codes, and the argument helpers every command uses (client/gmqctl.c).
 */
#ifndef GMQ_CTL_H
#define GMQ_CTL_H

#include "common/gmq.h"

#include <stdint.h>

/* exit status */
#define GMQ_CTL_OK    0
#define GMQ_CTL_FAIL  1     /* the node or etcd said no, or cannot be reached */
#define GMQ_CTL_USAGE 2     /* the command line is wrong */

#define GMQ_CTL_DEFAULT_SERVER "http://127.0.0.1:9504"
#define GMQ_CTL_DEFAULT_ETCD   "127.0.0.1:2379"
#define GMQ_CTL_OPTS_MAX       4
#define GMQ_CTL_BASE_MAX       320

typedef struct gmq_ctl_s     gmq_ctl_t;
typedef struct gmq_ctl_cmd_s gmq_ctl_cmd_t;

/* a command's own option: --name VALUE, or --name alone when arg is NULL */
typedef struct gmq_ctl_opt_s {
    const char *name;
    const char *arg;        /* the value's placeholder in help ("S", "0|1"), NULL = a flag */
    const char *help;
    char        letter;     /* -x short form (global flags only), 0 for none */
} gmq_ctl_opt_t;

/* one row of the command table */
struct gmq_ctl_cmd_s {
    const char   *group;    /* "topic", "push" */
    const char   *verb;     /* "list"; NULL for one-word commands */
    int         (*run)(gmq_ctl_t *c);
    int           min_args;
    int           max_args;
    const char   *args;     /* the positionals in the synopsis: "TOPIC [BODY|-]" */
    gmq_ctl_opt_t opts[GMQ_CTL_OPTS_MAX];
    const char   *summary;  /* one line for the command list */
    const char   *help;     /* what it does, the endpoint, the output */
    const char   *example;  /* lines that run as written next to `make run` */
};

struct gmq_ctl_s {
    const char *server;     /* --server / GMQ_SERVER: base URL of one node */
    const char *etcd;       /* --etcd / GMQ_ETCD */
    const char *node;       /* --node ID among the etcd registrations */
    const char *cacert;
    const char *cert;       /* client certificate and key (TLS) */
    const char *key;
    const char *token;      /* --token / GMQ_TOKEN: Authorization: Bearer */
    long        timeout_ms; /* per request */
    long        extra_ms;   /* added to the next request's timeout (a pop that waits) */
    int         json;
    int         no_headers;

    const gmq_ctl_cmd_t *cmd;
    const char *group;      /* the first command word of a noun-verb command, once seen */
    int         argc;       /* positionals after the command words */
    char      **argv;
    const char *opt[GMQ_CTL_OPTS_MAX];  /* cmd->opts[i]'s value, "1" for a flag; NULL if absent */

    char        base[GMQ_CTL_BASE_MAX]; /* the node of single-node commands, once chosen */
};

/* Print "gmqctl: <fmt>" and the command's usage line on stderr; returns GMQ_CTL_USAGE. */
int gmq_ctl_usage(const gmq_ctl_t *c, const char *fmt, ...) GMQ_PRINTF(2, 3);
/* Print "gmqctl: <fmt>" on stderr; returns GMQ_CTL_FAIL. */
int gmq_ctl_fail(const char *fmt, ...) GMQ_PRINTF(1, 2);
/* The value of the command's option name (without "--"), NULL when not given. */
const char *gmq_ctl_opt(const gmq_ctl_t *c, const char *name);
/* s as a decimal in [min, max] into *out: GMQ_CTL_OK, or a usage error naming what. */
int gmq_ctl_num(const gmq_ctl_t *c, const char *what, const char *s, uint64_t min, uint64_t max,
                uint64_t *out);
/* Usage errors for a bad topic or bind key name, or a message id that is not a
 * decimal other than 0; GMQ_CTL_OK when fine. */
int gmq_ctl_check_name(const gmq_ctl_t *c, const char *what, const char *s);
int gmq_ctl_check_id(const gmq_ctl_t *c, const char *s);

#endif

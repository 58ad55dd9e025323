/*
 * gmqctl.c - the admin CLI's entry: reads the environment and the command line
 * (global flags anywhere, the command words, the command's own options and
 * positionals), checks what can be checked without a node, and runs one row of
 * the command table (client/ctl_help.c). Exit 0 ok, 1 failure, 2 usage.
 */
#include "client/ctl_help.h"
#include "client/gmqctl.h"
#include "common/config.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctl_parse_s {
    int         server_flag;    /* --server given (not just GMQ_SERVER) */
    int         etcd_flag;
    int         help;
    int         version;
} ctl_parse_t;

static int  ctl_parse(gmq_ctl_t *c, ctl_parse_t *p, int argc, char **argv);
static int  ctl_option(gmq_ctl_t *c, ctl_parse_t *p, char **argv, int argc, int *i);
static int  ctl_word(gmq_ctl_t *c, char *w);
static int  ctl_global(gmq_ctl_t *c, ctl_parse_t *p, const char *name, const char *v);
static int  ctl_check(gmq_ctl_t *c, ctl_parse_t *p);

int
main(int argc, char **argv)
{
    gmq_ctl_t c;
    ctl_parse_t p;
    memset(&c, 0, sizeof(c));
    memset(&p, 0, sizeof(p));
    c.server = getenv("GMQ_SERVER");
    c.etcd = getenv("GMQ_ETCD");
    c.token = getenv("GMQ_TOKEN");
    if (c.server && !c.server[0])
        c.server = NULL;
    if (c.etcd && !c.etcd[0])
        c.etcd = NULL;
    if (c.token && !c.token[0])
        c.token = NULL;
    c.timeout_ms = 3000;
    c.argv = gmq_xcalloc((size_t) argc + 1, sizeof(char *));

    int rc = ctl_parse(&c, &p, argc, argv);
    if (rc == GMQ_CTL_OK && p.version) {
        printf("gmqctl %s\n", GMQ_VERSION);
    } else if (rc == GMQ_CTL_OK && p.help) {
        if (c.cmd)
            gmq_ctl_help_command(stdout, c.cmd->group, c.cmd);
        else if (c.group)
            gmq_ctl_help_command(stdout, c.group, NULL);
        else
            gmq_ctl_help_usage(stdout);
    } else if (rc == GMQ_CTL_OK && c.cmd == NULL) {
        rc = c.group ? gmq_ctl_usage(&c, "%s: give one of its verbs", c.group)
                     : gmq_ctl_usage(&c, "no command given");
    } else if (rc == GMQ_CTL_OK && (rc = ctl_check(&c, &p)) == GMQ_CTL_OK) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = c.cmd->run(&c);
        curl_global_cleanup();
    }
    fflush(stdout);
    free(c.argv);
    return rc;
}

int
gmq_ctl_usage(const gmq_ctl_t *c, const char *fmt, ...)
{
    va_list ap;
    fputs("gmqctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (c && c->cmd == NULL && c->group)
        gmq_ctl_help_group(stderr, c->group);
    else
        gmq_ctl_help_synopsis(stderr, c ? c->cmd : NULL);
    return GMQ_CTL_USAGE;
}

int
gmq_ctl_fail(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("gmqctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return GMQ_CTL_FAIL;
}

const char *
gmq_ctl_opt(const gmq_ctl_t *c, const char *name)
{
    for (int i = 0; c->cmd && i < GMQ_CTL_OPTS_MAX && c->cmd->opts[i].name; i++)
        if (strcmp(c->cmd->opts[i].name, name) == 0)
            return c->opt[i];
    return NULL;
}

int
gmq_ctl_num(const gmq_ctl_t *c, const char *what, const char *s, uint64_t min, uint64_t max,
            uint64_t *out)
{
    if (gmq_parse_u64(s, strlen(s), max, out) != GMQ_OK || *out < min)
        return gmq_ctl_usage(c, "%s '%s': want a whole number from %llu to %llu", what, s,
                             (unsigned long long) min, (unsigned long long) max);
    return GMQ_CTL_OK;
}

int
gmq_ctl_check_name(const gmq_ctl_t *c, const char *what, const char *s)
{
    if (!gmq_name_valid(s, strlen(s)))
        return gmq_ctl_usage(c, "invalid %s '%s': use 1..%d of [A-Za-z0-9_.-]", what, s,
                             GMQ_NAME_MAX);
    return GMQ_CTL_OK;
}

int
gmq_ctl_check_id(const gmq_ctl_t *c, const char *s)
{
    uint64_t id;
    if (gmq_parse_u64(s, strlen(s), UINT64_MAX, &id) != GMQ_OK || id == 0)
        return gmq_ctl_usage(c, "message id '%s': want the decimal id that push or pop printed", s);
    return GMQ_CTL_OK;
}

/* one pass over argv: options (global ones anywhere, the command's once it is
 * known), the command words, then its positionals; "--" ends the options */
static int
ctl_parse(gmq_ctl_t *c, ctl_parse_t *p, int argc, char **argv)
{
    int only_words = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        int rc;
        if (!only_words && strcmp(a, "--") == 0) {
            only_words = 1;
            continue;
        }
        if (!only_words && a[0] == '-' && a[1] != '\0')
            rc = ctl_option(c, p, argv, argc, &i);
        else
            rc = ctl_word(c, a);
        if (rc != GMQ_CTL_OK)
            return rc;
    }
    return GMQ_CTL_OK;
}

/* argv[*i] is an option: --name, --name=value, --name value, -x, -x value */
static int
ctl_option(gmq_ctl_t *c, ctl_parse_t *p, char **argv, int argc, int *i)
{
    const char *a = argv[*i];
    char name[64];
    const char *value = NULL;
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        size_t l = eq ? (size_t) (eq - a - 2) : strlen(a + 2);
        snprintf(name, sizeof(name), "%.*s", (int) (l < 63 ? l : 63), a + 2);
        if (eq)
            value = eq + 1;
    } else {
        name[0] = '\0';
        for (const gmq_ctl_opt_t *g = gmq_ctl_help_globals; g->name; g++)
            if (a[1] == g->letter && a[2] == '\0')
                snprintf(name, sizeof(name), "%s", g->name);
        if (!name[0])
            return gmq_ctl_usage(c, "unknown flag '%s'", a);
    }
    /* the command's own options first: pop's --timeout is its wait */
    const gmq_ctl_opt_t *o = NULL;
    int slot = -1;
    for (int k = 0; c->cmd && k < GMQ_CTL_OPTS_MAX && c->cmd->opts[k].name; k++)
        if (strcmp(c->cmd->opts[k].name, name) == 0) {
            o = &c->cmd->opts[k];
            slot = k;
        }
    for (const gmq_ctl_opt_t *g = gmq_ctl_help_globals; o == NULL && g->name; g++)
        if (strcmp(g->name, name) == 0)
            o = g;
    if (o == NULL)
        return gmq_ctl_usage(c, "unknown flag '%s'%s", a,
                             c->cmd ? "" : " (a command's own flags go after the command)");
    if (o->arg == NULL && value)
        return gmq_ctl_usage(c, "--%s takes no value", name);
    if (o->arg && value == NULL) {
        if (*i + 1 >= argc)
            return gmq_ctl_usage(c, "--%s wants a value (%s)", name, o->arg);
        value = argv[++*i];
    }
    if (slot >= 0) {
        c->opt[slot] = value ? value : "1";
        return GMQ_CTL_OK;
    }
    return ctl_global(c, p, name, value);
}

/* a command word, or a positional once the command is known */
static int
ctl_word(gmq_ctl_t *c, char *w)
{
    if (c->cmd) {
        c->argv[c->argc++] = w;
        return GMQ_CTL_OK;
    }
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++) {
        const gmq_ctl_cmd_t *e = &gmq_ctl_help_cmds[i];
        if (c->group == NULL && strcmp(e->group, w) == 0) {
            if (e->verb == NULL) {
                c->cmd = e;
                return GMQ_CTL_OK;
            }
            c->group = e->group;
            return GMQ_CTL_OK;
        }
        if (c->group && strcmp(e->group, c->group) == 0 && e->verb && strcmp(e->verb, w) == 0) {
            c->cmd = e;
            return GMQ_CTL_OK;
        }
    }
    if (c->group)
        return gmq_ctl_usage(c, "unknown command '%s %s'", c->group, w);
    return gmq_ctl_usage(c, "unknown command '%s'", w);
}

static int
ctl_global(gmq_ctl_t *c, ctl_parse_t *p, const char *name, const char *v)
{
    /* where each global flag goes: a string of the context (and, for --server and
     * --etcd, a note that the flag was given), a 0/1 of the context or of the parse
     * state; --timeout is parsed below */
    enum { CTL_STR, CTL_FLAG, CTL_PARSE_FLAG };
    static const struct {
        const char *name;
        int         kind;
        size_t      off;        /* in gmq_ctl_t (CTL_STR, CTL_FLAG) or ctl_parse_t */
        int         seen;       /* CTL_STR: 1 server_flag, 2 etcd_flag */
    } map[] = {
        { "server", CTL_STR, offsetof(gmq_ctl_t, server), 1 },
        { "etcd", CTL_STR, offsetof(gmq_ctl_t, etcd), 2 },
        { "node", CTL_STR, offsetof(gmq_ctl_t, node), 0 },
        { "cacert", CTL_STR, offsetof(gmq_ctl_t, cacert), 0 },
        { "cert", CTL_STR, offsetof(gmq_ctl_t, cert), 0 },
        { "key", CTL_STR, offsetof(gmq_ctl_t, key), 0 },
        { "token", CTL_STR, offsetof(gmq_ctl_t, token), 0 },
        { "json", CTL_FLAG, offsetof(gmq_ctl_t, json), 0 },
        { "no-headers", CTL_FLAG, offsetof(gmq_ctl_t, no_headers), 0 },
        { "help", CTL_PARSE_FLAG, offsetof(ctl_parse_t, help), 0 },
        { "version", CTL_PARSE_FLAG, offsetof(ctl_parse_t, version), 0 },
    };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(map); i++) {
        if (strcmp(map[i].name, name) != 0)
            continue;
        if (map[i].kind == CTL_STR)
            *(const char **) ((char *) c + map[i].off) = v;
        else if (map[i].kind == CTL_FLAG)
            *(int *) ((char *) c + map[i].off) = 1;
        else
            *(int *) ((char *) p + map[i].off) = 1;
        if (map[i].seen == 1)
            p->server_flag = 1;
        else if (map[i].seen == 2)
            p->etcd_flag = 1;
        return GMQ_CTL_OK;
    }
    /* --timeout */
    char *end;
    double s = strtod(v, &end);
    if (*end || end == v || !(s > 0 && s <= 3600))
        return gmq_ctl_usage(c, "--timeout %s: want seconds in (0, 3600]", v);
    c->timeout_ms = (long) (s * 1000 + 0.5);
    if (c->timeout_ms < 1)
        c->timeout_ms = 1;
    return GMQ_CTL_OK;
}

/* what the command line says about itself, before any request */
static int
ctl_check(gmq_ctl_t *c, ctl_parse_t *p)
{
    const gmq_ctl_cmd_t *e = c->cmd;
    if (c->argc < e->min_args || c->argc > e->max_args) {
        if (c->argc > e->max_args)
            return gmq_ctl_usage(c, "%s%s%s: unexpected argument '%s'", e->group, e->verb ? " " : "",
                                 e->verb ? e->verb : "", c->argv[e->max_args]);
        return gmq_ctl_usage(c, "%s%s%s: missing arguments", e->group, e->verb ? " " : "",
                             e->verb ? e->verb : "");
    }
    if (p->server_flag && p->etcd_flag)
        return gmq_ctl_usage(c, "give --server or --etcd, not both");
    if (p->server_flag)
        c->etcd = NULL;         /* the flag wins over GMQ_ETCD */
    if (p->etcd_flag)
        c->server = NULL;       /* and over GMQ_SERVER */
    if (c->node && (c->server || c->etcd == NULL))
        return gmq_ctl_usage(c, "--node picks one of the nodes registered in etcd: give --etcd");
    if (c->key && c->cert == NULL)
        return gmq_ctl_usage(c, "--key goes with --cert FILE (the client certificate)");
    if (c->token) {
        size_t l = strlen(c->token);
        if (l > GMQ_AUTH_TOKEN_MAX)
            return gmq_ctl_usage(c, "--token: %zu characters is too long, at most %d", l,
                                 GMQ_AUTH_TOKEN_MAX);
        for (size_t i = 0; i < l; i++)
            if (c->token[i] <= ' ' || c->token[i] > '~')
                return gmq_ctl_usage(c, "--token: only printable ASCII without spaces is allowed");
    }
    return GMQ_CTL_OK;
}

/*
 * ctl_help.c - owns gmqctl's command table (what each command takes, which
 * endpoint it calls, its help and example) and everything printed from it:
 * usage lines, `gmqctl help [COMMAND]` and the bash completion script.
 */
#include "client/ctl_cmds.h"
#include "client/ctl_help.h"

#include <string.h>

#define HELP_NODE \
    "Talks to one node: --server (default " GMQ_CTL_DEFAULT_SERVER "), or --etcd with --node ID.\n"

static void help_opts_line(FILE *f, const gmq_ctl_cmd_t *cmd);
static int  help_first_of_group(size_t i);

const gmq_ctl_opt_t gmq_ctl_help_globals[] = {
    { "server", "URL", "a node's HTTP base URL (env GMQ_SERVER; default " GMQ_CTL_DEFAULT_SERVER ")", 's' },
    { "etcd", "URL[,URL]", "etcd endpoints (env GMQ_ETCD; nodes, watch: default " GMQ_CTL_DEFAULT_ETCD ")", 'e' },
    { "node", "ID", "with --etcd: the node to talk to, when several are registered", 0 },
    { "cacert", "FILE", "CA bundle for https:// nodes and etcd", 0 },
    { "cert", "FILE", "client certificate (PEM) for mutual TLS", 0 },
    { "key", "FILE", "its key, when not in the --cert file", 0 },
    { "token", "TOKEN", "the node's auth_token (env GMQ_TOKEN)", 0 },
    { "json", NULL, "JSON: the data of the node's reply, unchanged", 'j' },
    { "no-headers", NULL, "tables without their header row", 0 },
    { "timeout", "SEC", "seconds per request, (0, 3600], default 3", 't' },
    { "help", NULL, "this text; after a command: its help", 'h' },
    { "version", NULL, "print the version", 'V' },
    { NULL, NULL, NULL, 0 },
};

const gmq_ctl_cmd_t gmq_ctl_help_cmds[] = {
    { "nodes", NULL, gmq_ctl_cmd_nodes, 0, 0, "", { { NULL, NULL, NULL, 0 } },
      "list the nodes registered in etcd",
      "Lists the registrations under /gmq/node- in etcd (--etcd, default " GMQ_CTL_DEFAULT_ETCD
      "):\nid, TCP and HTTP address, weight, when it joined.\n"
      "--json: an array of the registrations, every field a string as stored.\n",
      "gmqctl --etcd 127.0.0.1:2379 nodes" },
    { "ping", NULL, gmq_ctl_cmd_ping, 0, 0, "", { { NULL, NULL, NULL, 0 } },
      "GET /ping on a node or on every registered node",
      "GET /ping on --server (default " GMQ_CTL_DEFAULT_SERVER "), on --node, or with --etcd\n"
      "and no --node on every registered node. Exit 1 if any does not answer 200.\n"
      "--json: [{\"node_id\",\"http_addr\",\"ok\",\"ms\",\"error\"}, ...].\n",
      "gmqctl ping" },
    { "watch", NULL, gmq_ctl_cmd_watch, 0, 0, "", { { NULL, NULL, NULL, 0 } },
      "print the etcd node list again on every change",
      "Prints the node list (as nodes does), then again within a second of every change,\n"
      "until interrupted. --json: one JSON array per line (NDJSON).\n",
      "gmqctl --etcd 127.0.0.1:2379 watch --json" },

    { "topic", "list", gmq_ctl_cmd_topic_list, 0, 0, "", { { NULL, NULL, NULL, 0 } },
      "every topic with its message counts (/getAllTopicStat)",
      HELP_NODE "One row per topic from /getAllTopicStat: queues, ready, delayed, in flight and\n"
      "dead messages, pushes, pops, auto-ack, routing mode, when its worker started.\n"
      "--json: the array /getAllTopicStat answers.\n",
      "gmqctl topic list" },
    { "topic", "show", gmq_ctl_cmd_topic_show, 1, 1, "TOPIC", { { NULL, NULL, NULL, 0 } },
      "one topic's figures and its queues (/getTopicStat)",
      HELP_NODE "Every field of /getTopicStat (FIELD VALUE), then its queues as a table.\n"
      "An unknown topic is an error (exit 1); nothing is created.\n"
      "--json: the object /getTopicStat answers.\n",
      "gmqctl topic show orders" },
    { "topic", "config", gmq_ctl_cmd_topic_config, 1, 1, "TOPIC",
      { { "auto-ack", "0|1", "1: a message is finished when delivered (no ack, no TTR)", 0 },
        { "mode", "N", "routing: 1 exact, 2 regex, 3 topic wildcards", 0 },
        { "ttr", "S", "seconds a delivered message may stay unacked (1..86400)", 0 },
        { "retry", "N", "redeliveries before a message is dead-lettered (0..1000)", 0 } },
      "show a topic's settings, or change them (/config)",
      HELP_NODE "With options: /config changes those settings (and creates the topic), the\n"
      "others stay. Then, or without options, shows the settings from /getTopicStat.\n"
      "--json: {\"name\",\"is_auto_ack\",\"mode\",\"msg_ttr\",\"msg_retry\"}.\n",
      "gmqctl topic config orders --ttr 60 --retry 3" },
    { "topic", "delete", gmq_ctl_cmd_topic_delete, 1, 1, "TOPIC",
      { { "force", NULL, "delete even while messages are in flight", 0 } },
      "delete a topic, its queues and its data (/deleteTopic)",
      HELP_NODE "/deleteTopic: stops the topic's worker and removes its data for good.\n"
      "Refused while messages are in flight, unless --force. --json: null.\n",
      "gmqctl topic delete scratch --force" },

    { "queue", "declare", gmq_ctl_cmd_queue_declare, 2, 2, "TOPIC KEY", { { NULL, NULL, NULL, 0 } },
      "declare the queue TOPIC_KEY (/declareQueue)",
      HELP_NODE "/declareQueue: the queue with bind key KEY (creates the topic).\n"
      "A bind key that exists already is an error (exit 1). --json: null.\n",
      "gmqctl queue declare orders billing" },
    { "queue", "list", gmq_ctl_cmd_queue_list, 1, 1, "TOPIC", { { NULL, NULL, NULL, 0 } },
      "a topic's queues with their counts",
      HELP_NODE "The queues of /getQueuesByTopic with their figures from /getTopicStat: ready,\n"
      "in flight, delayed, dead, pushed, popped, acked. An unknown topic is an error.\n"
      "--json: [{\"bind_key\",\"queue\",\"ready\",...}, ...] sorted by bind key.\n",
      "gmqctl queue list orders" },
    { "queue", "purge", gmq_ctl_cmd_queue_purge, 2, 2, "TOPIC KEY",
      { { "force", NULL, "purge even while messages are in flight", 0 } },
      "drop every message of a queue (/purgeQueue)",
      HELP_NODE "/purgeQueue: drops the queue's ready and delayed messages; the queue and its\n"
      "dead letters stay. Refused while messages are in flight, unless --force (they\n"
      "go too). --json: {\"purged\":N}.\n",
      "gmqctl queue purge orders billing" },
    { "queue", "delete", gmq_ctl_cmd_queue_delete, 2, 2, "TOPIC KEY",
      { { "force", NULL, "delete even while messages are in flight", 0 } },
      "delete a queue and its dead letters (/deleteQueue)",
      HELP_NODE "/deleteQueue: the queue and its dead-letter queue go, with their messages.\n"
      "Refused while messages are in flight, unless --force. --json: {\"deleted\":N}.\n",
      "gmqctl queue delete orders billing --force" },

    { "push", NULL, gmq_ctl_cmd_push, 1, 2, "TOPIC [BODY|-]",
      { { "route-key", "K", "route key (default: the queue 'default', created on demand)", 0 },
        { "delay", "S", "deliver after S seconds", 0 } },
      "store a message, the body from stdin with - (/push)",
      HELP_NODE "/push: stores BODY (or standard input, byte for byte, when BODY is - or left\n"
      "out) in every queue the route key matches. Prints the message id.\n"
      "--json: {\"msgId\":\"<id>\"}.\n",
      "gmqctl push orders 'invoice 42' --route-key billing\n"
      "printf 'line 1\\nline 2' | gmqctl push orders - --route-key billing --delay 5" },
    { "pop", NULL, gmq_ctl_cmd_pop, 2, 2, "TOPIC KEY",
      { { "timeout", "S", "wait up to S seconds for a message (0..86400; default 0)", 0 } },
      "deliver the next message of a queue (/pop)",
      HELP_NODE "/pop: the next ready message: id, retry count, body (control characters\n"
      "escaped). Unless the topic is auto-ack it is in flight now: ack it within the TTR.\n"
      "An empty queue is exit 1 (\"no message\"). --json: {\"id\",\"body\",\"retry_count\"}.\n",
      "gmqctl pop orders billing --timeout 5" },
    { "ack", NULL, gmq_ctl_cmd_ack, 3, 3, "TOPIC KEY ID", { { NULL, NULL, NULL, 0 } },
      "acknowledge a delivered message (/ack)",
      HELP_NODE "/ack: the message ID, in flight in queue KEY, is finished. An id not in flight\n"
      "is exit 1. --json: null.\n",
      "ID=$(gmqctl --no-headers pop orders billing | cut -d' ' -f1)\n"
      "gmqctl ack orders billing \"$ID\"" },
    { "peek", NULL, gmq_ctl_cmd_peek, 2, 3, "TOPIC KEY [ready|delayed|dead]",
      { { NULL, NULL, NULL, 0 } },
      "show the next message without delivering it (/peek)",
      HELP_NODE "/peek: the message that is next in the ready list (default), the delayed one due\n"
      "first, or the oldest dead letter; nothing changes. Nothing there: exit 1.\n"
      "--json: {\"id\",\"body\",\"retry_count\",\"state\",\"pushed_at\",\"due_at\"}.\n",
      "gmqctl peek orders billing delayed" },
    { "touch", NULL, gmq_ctl_cmd_touch, 3, 3, "TOPIC KEY ID", { { NULL, NULL, NULL, 0 } },
      "give an in-flight message a new TTR (/touch)",
      HELP_NODE "/touch: the in-flight message ID gets a full TTR again from now; prints the new\n"
      "deadline. --json: {\"deadline\":<unix ms>}.\n",
      "gmqctl touch orders billing \"$ID\"" },
    { "release", NULL, gmq_ctl_cmd_release, 3, 3, "TOPIC KEY ID",
      { { "delay", "S", "deliver it again after S seconds (default at once)", 0 } },
      "put an in-flight message back (/release)",
      HELP_NODE "/release: the in-flight message ID goes back to the queue (its retry count up\n"
      "by one), to be delivered again at once or after --delay seconds. --json: null.\n",
      "gmqctl release orders billing \"$ID\" --delay 10" },

    { "dead", "list", gmq_ctl_cmd_dead_list, 2, 2, "TOPIC KEY",
      { { "limit", "N", "at most N dead letters (default 20, at most 1000)", 0 } },
      "the dead letters of a queue, oldest first (/listDead)",
      HELP_NODE "/listDead: id, retry count, pushed at, body (cut at 60 characters; --json has\n"
      "it whole). --json: [{\"id\",\"body\",\"retry_count\",\"pushed_at\"}, ...].\n",
      "gmqctl dead list orders billing --limit 5" },
    { "dead", "kick", gmq_ctl_cmd_dead_kick, 2, 3, "TOPIC KEY [N]", { { NULL, NULL, NULL, 0 } },
      "move the N oldest dead letters back to the queue (/kick)",
      HELP_NODE "/kick: up to N (default 1, at most 100000) dead letters, oldest first, go back\n"
      "to the ready list with retry count 0; prints how many did. --json: {\"kicked\":k}.\n",
      "gmqctl dead kick orders billing 10" },

    { "msg", "show", gmq_ctl_cmd_msg_show, 2, 2, "TOPIC ID", { { NULL, NULL, NULL, 0 } },
      "where a message is and what happened to it (/msg)",
      HELP_NODE "/msg: the message's trace: queue, state, retry count, pushed, due and delivered\n"
      "times, where it is stored. An unknown id is exit 1. --json: the trace object.\n",
      "gmqctl msg show orders \"$ID\"" },

    { "workers", NULL, gmq_ctl_cmd_workers, 0, 0, "", { { NULL, NULL, NULL, 0 } },
      "the node's topic workers (/debug/workers)",
      HELP_NODE "/debug/workers: per topic worker: pid, state (starting, ready, backoff,\n"
      "crashloop, fatal, stopping, stopped, queued), restarts, when it started, why the last one\n"
      "ended. --json: the array /debug/workers answers.\n",
      "gmqctl workers" },
    { "worker", "restart", gmq_ctl_cmd_worker_restart, 1, 1, "TOPIC", { { NULL, NULL, NULL, 0 } },
      "stop a worker; the next request starts one (/exitTopic)",
      HELP_NODE "/exitTopic: the topic's worker finishes its batch, syncs and exits; its data\n"
      "stays. The next request naming the topic starts a fresh worker that recovers it\n"
      "(also how a topic in the fatal or crashloop state comes back). --json: null.\n",
      "gmqctl worker restart orders" },
    { "stats", NULL, gmq_ctl_cmd_stats, 0, 0, "", { { NULL, NULL, NULL, 0 } },
      "node figures: connections, requests, processes (/debug/stats)",
      HELP_NODE "/debug/stats: connections, requests, topics, loop lag, the etcd registration,\n"
      "then CPU, memory and descriptors of the master and each worker.\n"
      "--json: the object /debug/stats answers.\n",
      "gmqctl stats" },
    { "metrics", NULL, gmq_ctl_cmd_metrics, 0, 0, "", { { NULL, NULL, NULL, 0 } },
      "the node's Prometheus metrics, as they are (GET /metrics)",
      HELP_NODE "GET /metrics, printed as received (Prometheus text format; --json changes\n"
      "nothing).\n",
      "gmqctl metrics | grep '^gmq_'" },

    { "help", NULL, gmq_ctl_help_run, 0, 2, "[COMMAND]", { { NULL, NULL, NULL, 0 } },
      "the commands, or one command's help and example",
      "Without COMMAND: every command and flag. With one: what it does, its options and\n"
      "an example (gmqctl help topic, gmqctl help topic config).\n",
      "gmqctl help push" },
    { "completion", NULL, gmq_ctl_help_completion, 1, 1, "bash", { { NULL, NULL, NULL, 0 } },
      "print a bash completion script",
      "Prints a bash completion script for the commands, their verbs and flags.\n",
      "source <(gmqctl completion bash)" },
};

const size_t gmq_ctl_help_ncmds = GMQ_ARRAY_LEN(gmq_ctl_help_cmds);

int
gmq_ctl_help_is_group(const char *group)
{
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++)
        if (strcmp(gmq_ctl_help_cmds[i].group, group) == 0)
            return gmq_ctl_help_cmds[i].verb != NULL;
    return 0;
}

void
gmq_ctl_help_synopsis(FILE *f, const gmq_ctl_cmd_t *cmd)
{
    if (cmd == NULL) {
        fprintf(f, "usage: gmqctl [--server URL | --etcd URL [--node ID]] [--json] [--no-headers]\n"
                   "              [--timeout SEC] [--token TOKEN] [--cacert FILE] [--cert FILE "
                   "[--key FILE]]\n              <command> [args]   (gmqctl help lists the "
                   "commands)\n");
        return;
    }
    fprintf(f, "usage: gmqctl %s%s%s%s%s", cmd->group, cmd->verb ? " " : "",
            cmd->verb ? cmd->verb : "", cmd->args[0] ? " " : "", cmd->args);
    help_opts_line(f, cmd);
    fputc('\n', f);
}

void
gmq_ctl_help_group(FILE *f, const char *group)
{
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++)
        if (strcmp(gmq_ctl_help_cmds[i].group, group) == 0)
            gmq_ctl_help_synopsis(f, &gmq_ctl_help_cmds[i]);
}

void
gmq_ctl_help_usage(FILE *f)
{
    gmq_ctl_help_synopsis(f, NULL);
    fprintf(f, "\ncommands:\n");
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++) {
        const gmq_ctl_cmd_t *e = &gmq_ctl_help_cmds[i];
        char words[80];
        snprintf(words, sizeof(words), "%s%s%s%s%s", e->group, e->verb ? " " : "",
                 e->verb ? e->verb : "", e->args[0] ? " " : "", e->args);
        fprintf(f, "  %-36s %s\n", words, e->summary);
    }
    fprintf(f, "\nflags (before or after the command):\n");
    for (const gmq_ctl_opt_t *g = gmq_ctl_help_globals; g->name; g++) {
        char flag[40];
        if (g->letter)
            snprintf(flag, sizeof(flag), "-%c, --%s%s%s", g->letter, g->name, g->arg ? " " : "",
                     g->arg ? g->arg : "");
        else
            snprintf(flag, sizeof(flag), "    --%s%s%s", g->name, g->arg ? " " : "",
                     g->arg ? g->arg : "");
        fprintf(f, "  %-22s %s\n", flag, g->help);
    }
    fprintf(f, "\noutput: an aligned table (--no-headers drops its header row); --json prints the\n"
               "\"data\" of the node's reply unchanged, or the JSON a command's help names.\n"
               "exit status: 0 ok, 1 failure (the node said no, or it or etcd cannot be reached;\n"
               "a one-line reason on stderr), 2 usage error.\n"
               "gmqctl help COMMAND shows a command's details and an example.\n");
}

void
gmq_ctl_help_command(FILE *f, const char *group, const gmq_ctl_cmd_t *cmd)
{
    int first = 1;
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++) {
        const gmq_ctl_cmd_t *e = &gmq_ctl_help_cmds[i];
        if ((cmd && e != cmd) || (!cmd && strcmp(e->group, group) != 0))
            continue;
        if (!first)
            fputc('\n', f);
        first = 0;
        gmq_ctl_help_synopsis(f, e);
        fprintf(f, "\n%s", e->help);
        for (int k = 0; k < GMQ_CTL_OPTS_MAX && e->opts[k].name; k++) {
            if (k == 0)
                fprintf(f, "\noptions:\n");
            char flag[40];
            snprintf(flag, sizeof(flag), "--%s%s%s", e->opts[k].name, e->opts[k].arg ? " " : "",
                     e->opts[k].arg ? e->opts[k].arg : "");
            fprintf(f, "  %-16s %s\n", flag, e->opts[k].help);
        }
        fprintf(f, "\nexample:\n");
        const char *x = e->example;
        while (*x) {
            const char *nl = strchr(x, '\n');
            size_t l = nl ? (size_t) (nl - x) : strlen(x);
            fprintf(f, "  %.*s\n", (int) l, x);
            x += l + (nl != NULL);
        }
    }
}

int
gmq_ctl_help_run(gmq_ctl_t *c)
{
    if (c->argc == 0) {
        gmq_ctl_help_usage(stdout);
        return GMQ_CTL_OK;
    }
    const char *group = c->argv[0], *verb = c->argc > 1 ? c->argv[1] : NULL;
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++) {
        const gmq_ctl_cmd_t *e = &gmq_ctl_help_cmds[i];
        if (strcmp(e->group, group) != 0)
            continue;
        if (e->verb == NULL && verb == NULL) {
            gmq_ctl_help_command(stdout, group, e);
            return GMQ_CTL_OK;
        }
        if (e->verb && verb == NULL) {
            gmq_ctl_help_command(stdout, group, NULL);
            return GMQ_CTL_OK;
        }
        if (e->verb && strcmp(e->verb, verb) == 0) {
            gmq_ctl_help_command(stdout, group, e);
            return GMQ_CTL_OK;
        }
    }
    return gmq_ctl_usage(c, "help: no command '%s%s%s'", group, verb ? " " : "", verb ? verb : "");
}

int
gmq_ctl_help_completion(gmq_ctl_t *c)
{
    if (strcmp(c->argv[0], "bash") != 0)
        return gmq_ctl_usage(c, "completion: only bash is supported, not '%s'", c->argv[0]);
    printf("# bash completion for gmqctl; load it with: source <(gmqctl completion bash)\n"
           "_gmqctl() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
           "    local w cmd= verb= i n=0 words= flags=\n"
           "    local valued=' ");
    /* flags that take a value: the word after one is not a command word */
    for (const gmq_ctl_opt_t *g = gmq_ctl_help_globals; g->name; g++) {
        if (g->arg && g->letter)
            printf("-%c ", g->letter);
        if (g->arg)
            printf("--%s ", g->name);
    }
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++)
        for (int k = 0; k < GMQ_CTL_OPTS_MAX && gmq_ctl_help_cmds[i].opts[k].name; k++)
            if (gmq_ctl_help_cmds[i].opts[k].arg)
                printf("--%s ", gmq_ctl_help_cmds[i].opts[k].name);
    printf("'\n    local groups=' ");
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++)
        if (gmq_ctl_help_cmds[i].verb && help_first_of_group(i))
            printf("%s ", gmq_ctl_help_cmds[i].group);
    printf("'\n"
           "    case $prev in\n"
           "        --cacert|--cert|--key) COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n"
           "    esac\n"
           "    [[ $valued == *\" $prev \"* ]] && return\n"
           "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
           "        w=${COMP_WORDS[i]}\n"
           "        if [[ $valued == *\" $w \"* ]]; then ((i++)); continue; fi\n"
           "        [[ $w == -?* ]] && continue\n"
           "        if [[ -z $cmd ]]; then cmd=$w\n"
           "        elif [[ -z $verb && $groups == *\" $cmd \"* ]]; then verb=$w\n"
           "        else ((n++)); fi\n"
           "    done\n"
           "    flags='");
    for (const gmq_ctl_opt_t *g = gmq_ctl_help_globals; g->name; g++)
        printf("%s--%s", g == gmq_ctl_help_globals ? "" : " ", g->name);
    printf("'\n    case \"$cmd $verb\" in\n");
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++) {
        const gmq_ctl_cmd_t *e = &gmq_ctl_help_cmds[i];
        if (e->opts[0].name == NULL)
            continue;
        printf("        '%s %s') flags+='", e->group, e->verb ? e->verb : "");
        for (int k = 0; k < GMQ_CTL_OPTS_MAX && e->opts[k].name; k++)
            printf(" --%s", e->opts[k].name);
        printf("';;\n");
    }
    printf("    esac\n"
           "    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\")); return; fi\n"
           "    _gmqctl_verbs() {\n"
           "        case $1 in\n");
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++) {
        if (gmq_ctl_help_cmds[i].verb == NULL || !help_first_of_group(i))
            continue;
        printf("            %s) words='", gmq_ctl_help_cmds[i].group);
        for (size_t j = i; j < gmq_ctl_help_ncmds &&
                           strcmp(gmq_ctl_help_cmds[j].group, gmq_ctl_help_cmds[i].group) == 0; j++)
            printf("%s%s", j > i ? " " : "", gmq_ctl_help_cmds[j].verb);
        printf("';;\n");
    }
    printf("        esac\n"
           "    }\n"
           "    case $cmd in\n"
           "        '') words='");
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++)
        if (help_first_of_group(i))
            printf("%s%s", i ? " " : "", gmq_ctl_help_cmds[i].group);
    printf("';;\n"
           "        help) if ((n == 0)); then words='");
    for (size_t i = 0; i < gmq_ctl_help_ncmds; i++)
        if (help_first_of_group(i))
            printf("%s%s", i ? " " : "", gmq_ctl_help_cmds[i].group);
    printf("'; elif ((n == 1)); then _gmqctl_verbs \"$prev\"; fi;;\n"
           "        peek) ((n == 2)) && words='ready delayed dead';;\n"
           "        completion) ((n == 0)) && words='bash';;\n"
           "        *) [[ -z $verb && $groups == *\" $cmd \"* ]] && _gmqctl_verbs \"$cmd\";;\n"
           "    esac\n"
           "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
           "}\n"
           "complete -F _gmqctl gmqctl\n");
    return GMQ_CTL_OK;
}

/* 1 when row i is the first of its group (one-word commands are groups of one) */
static int
help_first_of_group(size_t i)
{
    return i == 0 || strcmp(gmq_ctl_help_cmds[i - 1].group, gmq_ctl_help_cmds[i].group) != 0;
}

/* " [--auto-ack 0|1] [--mode N]" */
static void
help_opts_line(FILE *f, const gmq_ctl_cmd_t *cmd)
{
    for (int k = 0; k < GMQ_CTL_OPTS_MAX && cmd->opts[k].name; k++)
        fprintf(f, " [--%s%s%s]", cmd->opts[k].name, cmd->opts[k].arg ? " " : "",
                cmd->opts[k].arg ? cmd->opts[k].arg : "");
}

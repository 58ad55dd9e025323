/*
 * etcd_driver.c - runs master/etcd.c alone on a libev loop for integration
 * tests: checks the node id (exit 2 when taken), registers, prints the status
 * JSON as a line on stdout whenever it changes, and revokes on SIGTERM/SIGINT.
 */
#include "common/buf.h"
#include "common/config.h"
#include "common/gmq.h"
#include "common/log.h"
#include "master/etcd.h"

#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct driver_s {
    struct ev_loop *loop;
    gmq_etcd_t     *etcd;
    ev_timer        poll;
    ev_signal       sigterm;
    ev_signal       sigint;
    char           *last;           /* the status line printed last */
    int             stopping;
} driver_t;

static void driver_print(driver_t *d);
static void driver_poll_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void driver_signal_cb(struct ev_loop *loop, ev_signal *w, int revents);
static void driver_stopped(void *arg);

static void
driver_usage(FILE *f)
{
    fprintf(f, "usage: etcd_driver --endpoints LIST [--ttl SEC] [--node-id N] [--weight W]\n"
               "       [--tcp-addr A] [--http-addr A] [--report-tcp-addr A] [--report-http-addr A]\n"
               "       [--ca-file FILE] [--log-level N]\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "endpoints", required_argument, NULL, 'e' },
        { "ttl", required_argument, NULL, 't' },
        { "node-id", required_argument, NULL, 'n' },
        { "weight", required_argument, NULL, 'w' },
        { "tcp-addr", required_argument, NULL, 'T' },
        { "http-addr", required_argument, NULL, 'H' },
        { "report-tcp-addr", required_argument, NULL, 'R' },
        { "report-http-addr", required_argument, NULL, 'P' },
        { "ca-file", required_argument, NULL, 'c' },
        { "log-level", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    gmq_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.node_id = 1;
    cfg.node_weight = 1;
    cfg.tcp_addr = "127.0.0.1:9503";
    cfg.http_addr = "127.0.0.1:9504";
    cfg.report_tcp_addr = "";
    cfg.report_http_addr = "";
    cfg.etcd_endpoints = "";
    cfg.etcd_lease_ttl = 30;
    cfg.etcd_ca_file = "";
    int level = GMQ_LOG_INFO, c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': cfg.etcd_endpoints = optarg; break;
        case 't': cfg.etcd_lease_ttl = atoi(optarg); break;
        case 'n': cfg.node_id = atoi(optarg); break;
        case 'w': cfg.node_weight = atoi(optarg); break;
        case 'T': cfg.tcp_addr = optarg; break;
        case 'H': cfg.http_addr = optarg; break;
        case 'R': cfg.report_tcp_addr = optarg; break;
        case 'P': cfg.report_http_addr = optarg; break;
        case 'c': cfg.etcd_ca_file = optarg; break;
        case 'l': level = atoi(optarg); break;
        case 'h': driver_usage(stdout); return 0;
        default: driver_usage(stderr); return GMQ_EXIT_CONFIG;
        }
    }
    gmq_log_open(level, NULL);
    gmq_log_set_ident("etcd_driver");

    char err[512];
    if (gmq_etcd_check_id(&cfg, err, sizeof(err)) != GMQ_OK) {
        fprintf(stderr, "etcd_driver: %s\n", err);
        return GMQ_EXIT_CONFIG;
    }

    driver_t d;
    memset(&d, 0, sizeof(d));
    d.loop = ev_default_loop(0);
    d.etcd = gmq_etcd_new(d.loop, &cfg);
    if (d.etcd == NULL) {
        fprintf(stderr, "etcd_driver: no usable etcd endpoints\n");
        return GMQ_EXIT_CONFIG;
    }
    ev_timer_init(&d.poll, driver_poll_cb, 0.02, 0.02);
    ev_timer_start(d.loop, &d.poll);
    ev_signal_init(&d.sigterm, driver_signal_cb, SIGTERM);
    ev_signal_init(&d.sigint, driver_signal_cb, SIGINT);
    ev_signal_start(d.loop, &d.sigterm);
    ev_signal_start(d.loop, &d.sigint);

    gmq_etcd_start(d.etcd);
    driver_print(&d);
    ev_run(d.loop, 0);

    driver_print(&d);
    gmq_etcd_free(d.etcd);
    free(d.last);
    ev_loop_destroy(d.loop);
    return 0;
}

static void
driver_print(driver_t *d)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_etcd_status_json(d->etcd, &b);
    gmq_buf_append(&b, "", 1);
    if (d->last == NULL || strcmp(d->last, b.data) != 0) {
        printf("%s\n", b.data);
        fflush(stdout);
        free(d->last);
        d->last = gmq_xstrdup(b.data);
    }
    gmq_buf_free(&b);
}

static void
driver_poll_cb(struct ev_loop *loop GMQ_UNUSED, ev_timer *w, int revents GMQ_UNUSED)
{
    driver_print(container_of(w, driver_t, poll));
}

static void
driver_signal_cb(struct ev_loop *loop GMQ_UNUSED, ev_signal *w, int revents GMQ_UNUSED)
{
    driver_t *d = w->signum == SIGTERM ? container_of(w, driver_t, sigterm)
                                       : container_of(w, driver_t, sigint);
    if (d->stopping)
        return;
    d->stopping = 1;
    gmq_etcd_stop(d->etcd, driver_stopped, d);
}

static void
driver_stopped(void *arg)
{
    driver_t *d = arg;
    driver_print(d);
    ev_timer_stop(d->loop, &d->poll);
    ev_signal_stop(d->loop, &d->sigterm);
    ev_signal_stop(d->loop, &d->sigint);
    ev_break(d->loop, EVBREAK_ALL);
}

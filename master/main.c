/*
 * main.c - gmq-master entry point: configuration, then the master loop.
 * Exit status 0 after a clean stop, 2 on a configuration error.
 */
#include "master.h"
#include "common/proctitle.h"

#include <stdlib.h>

int
main(int argc, char **argv)
{
    gmq_master_t m;
    gmq_proctitle_init(argc, argv);
    int rc = gmq_master_init(&m, argc, argv);
    if (rc == GMQ_CONFIG_HELP || rc == GMQ_CONFIG_VERSION) {
        gmq_master_free(&m);
        return GMQ_EXIT_OK;
    }
    if (rc != GMQ_OK) {
        gmq_master_free(&m);
        return GMQ_EXIT_CONFIG;
    }
    rc = gmq_master_run(&m);
    gmq_master_free(&m);
    return rc;
}

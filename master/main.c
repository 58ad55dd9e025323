/*
 * main.c - gmq-master entry point: a service verb (install, start, ...;
 * service.c), or configuration, then the master loop.
 * Exit status 0 after a clean stop, 2 on a configuration error.
 */
#include "master.h"
#include "service.h"
#include "common/proctitle.h"

#include <stdlib.h>

int
main(int argc, char **argv)
{
    if (argc > 1 && gmq_service_is_verb(argv[1]))
        return gmq_service_main(argc, argv);
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

/*
 * service.h - `gmq-master install|uninstall|start|stop|restart|status
 * [--root DIR]`: the systemd service verbs, handled before any
 * configuration is read.
 */
#ifndef GMQ_SERVICE_H
#define GMQ_SERVICE_H

#include "common/gmq.h"

/* where the verbs install, below the root ("/" or --root DIR) */
#define GMQ_SERVICE_UNIT     "gmq-master.service"
#define GMQ_SERVICE_UNIT_PATH "/etc/systemd/system/gmq-master.service"
#define GMQ_SERVICE_CONF_PATH "/etc/gmq/gmq.conf"
#define GMQ_SERVICE_DATA_DIR  "/var/lib/gmq"
#define GMQ_SERVICE_MANIFEST  "/var/lib/gmq/.install-manifest"
#define GMQ_SERVICE_USER      "gmq"

/* 1 if word is one of the verbs (install, uninstall, start, stop, restart,
 * status), 0 otherwise; NULL is accepted (0) */
int gmq_service_is_verb(const char *word);

/* runs the verb argv[1] with its arguments; returns the exit status:
 * GMQ_EXIT_OK, GMQ_EXIT_ERR (failure, said on stderr) or GMQ_EXIT_CONFIG
 * (usage). With --root DIR nothing is run: the systemctl and adduser
 * commands are printed ("would run: ...") and files go below DIR. */
int gmq_service_main(int argc, char **argv);

#endif

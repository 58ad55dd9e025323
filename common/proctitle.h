/*
 * proctitle.h - rewrite the process title shown by ps (argv area), as nginx
 * and redis do. init moves environ out of the way once, in main().
 */
#ifndef GMQ_PROCTITLE_H
#define GMQ_PROCTITLE_H

#include "gmq.h"

void gmq_proctitle_init(int argc, char **argv);
void gmq_proctitle_set(const char *fmt, ...) GMQ_PRINTF(1, 2);

#endif

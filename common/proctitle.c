/*
 * proctitle.c - owns the argv/environ memory block so the title shown by
 * `ps -eo args` can be replaced. environ and argv strings are copied to the
 * heap first; the original contiguous area then holds the title.
 */
#include "proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char  *proctitle_start;
static size_t proctitle_len;

void
gmq_proctitle_init(int argc, char **argv)
{
    if (argc <= 0 || argv == NULL || argv[0] == NULL)
        return;
    char *start = argv[0];
    char *end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; i < argc; i++)
        if (argv[i] == end)
            end = argv[i] + strlen(argv[i]) + 1;
    int n = 0;
    while (environ[n])
        n++;
    char **env = gmq_xcalloc((size_t) n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        if (environ[i] == end)
            end = environ[i] + strlen(environ[i]) + 1;
        env[i] = gmq_xstrdup(environ[i]);
    }
    environ = env;
    /* callers keep using argv after this: point it at heap copies */
    for (int i = 0; i < argc; i++)
        argv[i] = gmq_xstrdup(argv[i]);
    proctitle_start = start;
    proctitle_len = (size_t) (end - start);
}

void
gmq_proctitle_set(const char *fmt, ...)
{
    char title[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(title, sizeof(title), fmt, ap);
    va_end(ap);
    prctl(PR_SET_NAME, title, 0, 0, 0);   /* comm: first 15 bytes */
    if (proctitle_start == NULL || proctitle_len < 2)
        return;
    size_t n = strlen(title);
    if (n > proctitle_len - 1)
        n = proctitle_len - 1;
    memcpy(proctitle_start, title, n);
    memset(proctitle_start + n, 0, proctitle_len - n);
}

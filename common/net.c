/*
 * net.c - network address helpers: the one "host:port" parser, used by the
 * etcd registration (common/etcdapi.c) and gmq-bench.
 */
#include "net.h"
#include "gmq.h"

#include <string.h>

int
gmq_hostport_split(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
    if (addr == NULL)
        return GMQ_ERR;
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon[1] == '\0')
        return GMQ_ERR;
    const char *h = addr;
    size_t hl = (size_t) (colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    } else if (memchr(h, ':', hl) != NULL) {
        return GMQ_ERR;   /* a bare IPv6 address needs brackets */
    }
    if (memchr(h, '[', hl) != NULL || memchr(h, ']', hl) != NULL)
        return GMQ_ERR;
    size_t pl = strlen(colon + 1);
    if (hl >= hostlen || pl >= portlen)
        return GMQ_ERR;
    memcpy(host, h, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return GMQ_OK;
}

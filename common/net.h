/*
 * net.h - network address helpers shared by the node, the clients and the
 * tools: the one "host:port" parser.
 */
#ifndef GMQ_NET_H
#define GMQ_NET_H

#include <stddef.h>

/*
 * Split addr into host and port (NUL-terminated copies):
 *   "host:port"   -> host, port
 *   "[v6]:port"   -> v6 (brackets removed), port
 *   ":port"       -> "" (empty host: the caller's wildcard or default), port
 * Returns GMQ_OK, or GMQ_ERR (host and port untouched) when addr is NULL,
 * has no ':', has an empty port, is a bare IPv6 address without brackets,
 * has a '[' or ']' anywhere but around the whole host, or when host or
 * port does not fit in hostlen/portlen bytes (NUL included). The port is
 * not checked further (getaddrinfo also takes service names).
 */
int gmq_hostport_split(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);

#endif

/*
 * etcd_impl.h - what the two files of the registration module share:
 * etcd.c (the registration on the loop, libcurl multi) and etcdcheck.c (the
 * blocking check at start that no live node holds this node's id). Not for
 * other modules.
 */
#ifndef GMQ_ETCD_IMPL_H
#define GMQ_ETCD_IMPL_H

#include "etcd.h"

#include <stddef.h>

#define ETCD_CHECK_MS       2000     /* blocking check at start, per endpoint */
#define ETCD_ADDR_MAX       256

/* curl_global_init, once */
void   etcd_curl_init(void);
/* libcurl's write callback: appends to the gmq_buf_t userp (1 MiB at most) */
size_t etcd_write(char *ptr, size_t size, size_t nmemb, void *userp);

#endif

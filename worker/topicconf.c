/*
 * topicconf.c - owns the format of <topic>/topic.conf (versions 1 and 2)
 * and its durable rewrite: temp file + fsync + rename + directory fsync.
 * What the settings mean, and the queues themselves, stay with topic.c.
 */
#include "topicconf.h"
#include "common/log.h"
#include "common/seam.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOPICCONF_FILE    "topic.conf"
#define TOPICCONF_TMP     "topic.conf.tmp"
#define TOPICCONF_VERSION 2      /* 2 added ttr_set/retry_set */

static char *topicconf_path(const char *dir, const char *file);

/* "gmq-topic 2", then "auto_ack N", "mode N", "ttr N", "retry N",
 * "ttr_set 0|1", "retry_set 0|1" and one "queue <bindkey>" line per
 * declared queue. ttr/retry hold the effective values (what version 1
 * readers use); with *_set 0 the node default applies instead. A version 1
 * file (no *_set lines) counts a ttr or retry that differs from the node
 * default as set; it is rewritten as version 2 at once, so this is decided
 * once, against the default of the first open after the upgrade. */
int
gmq_topicconf_load(const char *dir, gmq_topic_conf_t *c, unsigned *set,
                   gmq_topicconf_queue_fn queue, void *ctx, int *old, gmq_error_t *err)
{
    *old = 0;
    char *path = topicconf_path(dir, TOPICCONF_FILE);
    FILE *f = fopen(path, "r");
    free(path);
    if (f == NULL) {
        if (errno == ENOENT)
            return GMQ_AGAIN;
        return gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot read %s/%s: %s", dir,
                             TOPICCONF_FILE, strerror(errno));
    }
    char line[GMQ_NAME_MAX + 64], word[32], arg[GMQ_NAME_MAX + 2];
    int rc = GMQ_OK, version = 1, ttr = -1, retry = -1, ttr_set = 0, retry_set = 0;
    while (rc == GMQ_OK && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%31s %129s", word, arg) != 2)
            continue;
        if (strcmp(word, "gmq-topic") == 0)
            version = atoi(arg);
        else if (strcmp(word, "auto_ack") == 0)
            c->auto_ack = atoi(arg) ? 1 : 0;
        else if (strcmp(word, "mode") == 0)
            c->mode = atoi(arg);
        else if (strcmp(word, "ttr") == 0)
            ttr = atoi(arg);
        else if (strcmp(word, "retry") == 0)
            retry = atoi(arg);
        else if (strcmp(word, "ttr_set") == 0)
            ttr_set = atoi(arg) != 0;
        else if (strcmp(word, "retry_set") == 0)
            retry_set = atoi(arg) != 0;
        else if (strcmp(word, "queue") == 0 && gmq_name_valid(arg, strlen(arg)) &&
                 queue(ctx, arg, err) != GMQ_OK)
            rc = GMQ_ERR;
    }
    fclose(f);
    if (c->mode < GMQ_MODE_EXACT || c->mode > GMQ_MODE_TOPIC)
        c->mode = GMQ_MODE_EXACT;
    if (version < TOPICCONF_VERSION) {
        ttr_set = ttr > 0 && ttr != c->ttr;
        retry_set = retry >= 0 && retry != c->retry;
    }
    if (ttr_set && ttr > 0) {
        c->ttr = ttr;
        *set |= GMQ_TOPICCONF_SET_TTR;
    }
    if (retry_set && retry >= 0) {
        c->retry = retry;
        *set |= GMQ_TOPICCONF_SET_RETRY;
    }
    *old = version < TOPICCONF_VERSION;
    return rc;
}

int
gmq_topicconf_save(const char *dir, const gmq_topic_conf_t *c, unsigned set,
                   const char *const *queues, size_t n, gmq_error_t *err)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_buf_printf(&b, "gmq-topic %d\nauto_ack %d\nmode %d\nttr %d\nretry %d\nttr_set %d\n"
                   "retry_set %d\n", TOPICCONF_VERSION, c->auto_ack, c->mode, c->ttr, c->retry,
                   (set & GMQ_TOPICCONF_SET_TTR) != 0, (set & GMQ_TOPICCONF_SET_RETRY) != 0);
    for (size_t i = 0; i < n; i++)
        gmq_buf_printf(&b, "queue %s\n", queues[i]);

    char *tmp = topicconf_path(dir, TOPICCONF_TMP), *path = topicconf_path(dir, TOPICCONF_FILE);
    int rc = GMQ_ERR, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const char *what = "create";
    if (fd >= 0) {
        /* reserved first, through the seam: a full disk fails here, not half
         * way through the write (and GMQ_FAULT_ENOSPC_FILE reaches it) */
        int res = gmq_seam.fallocate(fd, 0, (off_t) b.len);
        ssize_t w = -1;
        what = "reserve";
        if (res == 0) {
            w = write(fd, b.data, b.len);
            what = "write";
        } else {
            errno = res;
        }
        if (w == (ssize_t) b.len) {
            what = "fsync";
            if (gmq_seam.fsync(fd) == 0) {
                what = "rename";
                if (gmq_seam.rename(tmp, path) == 0)
                    rc = GMQ_OK;
            }
        } else if (w >= 0) {
            errno = ENOSPC;
        }
        int e = errno;
        close(fd);
        errno = e;
    }
    if (rc != GMQ_OK) {
        gmq_error_set(err, GMQ_E_STORAGE, "%s: cannot %s %s: %s",
                      errno == ENOSPC ? "no space left on device" : "storage error", what, tmp,
                      strerror(errno));
        int e = errno;       /* the cause, for the caller: ENOSPC is worth a retry */
        unlink(tmp);
        errno = e;
    } else {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            gmq_seam.fsync(dfd);
            close(dfd);
        }
    }
    free(tmp);
    free(path);
    gmq_buf_free(&b);
    return rc;
}

/* ---- static helpers ---- */

static char *
topicconf_path(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = gmq_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, file);
    return p;
}

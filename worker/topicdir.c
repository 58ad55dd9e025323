/*
 * topicdir.c - a topic's directory and its files (topic_impl.h): paths in
 * it, the lock, loading and saving topic.conf, removing the directories of
 * deleted queues, the data directory's storage incarnation id, and binding
 * the queues to their slots of the counters file (counters.c).
 */
#include "worker/topic_impl.h"
#include "common/log.h"
#include "common/seam.h"
#include "worker/counters.h"
#include "worker/topicconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define TOPIC_LOCK_RETRY_MS 10

char *
topic_path(const gmq_topic_t *t, const char *a, const char *b)
{
    size_t n = strlen(t->dir) + strlen(a) + (b ? strlen(b) : 0) + 3;
    char *p = gmq_xmalloc(n);
    if (b != NULL)
        snprintf(p, n, "%s/%s/%s", t->dir, a, b);
    else
        snprintf(p, n, "%s/%s", t->dir, a);
    return p;
}

/* the directory itself is the lock; a held one is retried for a while */
int
topic_lock(gmq_topic_t *t)
{
    uint64_t until = gmq_mono_ms() + (uint64_t) (t->opts.lock_wait_ms > 0 ? t->opts.lock_wait_ms : 0);
    while (flock(t->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || gmq_mono_ms() >= until)
            return GMQ_ERR;
        struct timespec ts = { 0, TOPIC_LOCK_RETRY_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
    return GMQ_OK;
}

/* topic.conf (topicconf.c); a missing file is written at once, one in
 * an older format is rewritten as the current one */
int
topic_conf_load(gmq_topic_t *t, gmq_error_t *err)
{
    int old, rc = gmq_topicconf_load(t->dir, &t->conf, &t->conf_set, topic_conf_queue, t, &old,
                                     err);
    if (rc == GMQ_AGAIN)
        return topic_conf_save(t, &t->conf, t->conf_set, NULL, err);
    if (rc == GMQ_OK && old) {
        gmq_error_t e2;
        if (topic_conf_save(t, &t->conf, t->conf_set, NULL, &e2) != GMQ_OK)
            gmq_log_warn("topic %s: %s (the file stays in the old format)", t->name, e2.msg);
    }
    return rc;
}

/* a "queue" line of topic.conf: open it, once */
int
topic_conf_queue(void *ctx, const char *bind_key, gmq_error_t *err)
{
    gmq_topic_t *t = ctx;
    if (topic_slot(t, bind_key) == NULL && topic_slot_open(t, bind_key, err) == NULL)
        return GMQ_ERR;
    return GMQ_OK;
}

/* the declared queues and extra (a queue being added, or NULL) */
int
topic_conf_save(gmq_topic_t *t, const gmq_topic_conf_t *c, unsigned set, const char *extra,
                gmq_error_t *err)
{
    const char **names = gmq_xmalloc((t->nslots + 1) * sizeof(*names));
    size_t n = 0;
    for (size_t i = 0; i < t->nslots; i++)
        names[n++] = t->slots[i]->q->bind_key;
    if (extra != NULL)
        names[n++] = extra;
    int rc = gmq_topicconf_save(t->dir, c, set, names, n, err);
    free(names);
    return rc;
}

/* queue directories topic.conf does not list: a delete that crashed after
 * its commit point (topic.conf rewritten) left them */
void
topic_drop_orphans(gmq_topic_t *t, const char *sub)
{
    char *dir = topic_path(t, sub, NULL);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            topic_slot(t, de->d_name) != NULL)
            continue;
        char *path = topic_path(t, sub, de->d_name);
        gmq_log_info("topic %s: removing %s (its queue was deleted)", t->name, path);
        if (topic_rmtree(path) != GMQ_OK)
            gmq_log_warn("topic %s: cannot remove %s: %s", t->name, path, strerror(errno));
        free(path);
    }
    if (d != NULL)
        closedir(d);
    free(dir);
}

/* the data directory's storage id: read, or created once (a link() makes
 * the first writer win when several workers start at the same time) */
int
topic_incarnation(const char *data_dir, uint64_t *id)
{
    size_t n = strlen(data_dir) + sizeof(GMQ_TOPIC_INCARNATION) + 48;
    char *path = gmq_xmalloc(n), *tmp = gmq_xmalloc(n);
    snprintf(path, n, "%s/%s", data_dir, GMQ_TOPIC_INCARNATION);
    snprintf(tmp, n, "%s/%s.%ld.tmp", data_dir, GMQ_TOPIC_INCARNATION, (long) getpid());
    int rc = GMQ_ERR;
    for (int attempt = 0; attempt < 2 && rc != GMQ_OK; attempt++) {
        char buf[32] = "";
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t got = read(fd, buf, sizeof(buf) - 1);
            close(fd);
            char *end = NULL;
            if (got > 0) {
                buf[got] = '\0';
                errno = 0;
                *id = strtoull(buf, &end, 16);
            }
            if (got >= 16 && end == buf + 16 && errno == 0)
                rc = GMQ_OK;
            else
                errno = EINVAL;
            break;
        }
        if (errno != ENOENT)
            break;
        uint64_t v = 0;
        if (getrandom(&v, sizeof(v), 0) != (ssize_t) sizeof(v))
            v = gmq_now_ms() ^ ((uint64_t) getpid() << 32);
        int len = snprintf(buf, sizeof(buf), "%016" PRIx64 "\n", v);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            break;
        int ok = write(fd, buf, (size_t) len) == len && gmq_seam.fsync(fd) == 0;
        close(fd);
        if (ok && link(tmp, path) != 0 && errno != EEXIST)
            ok = 0;
        unlink(tmp);
        if (!ok)
            break;
        int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            gmq_seam.fsync(dfd);
            close(dfd);
        }
    }
    free(path);
    free(tmp);
    return rc;
}

/* after the queues are loaded: give each its slot (by name), clear the
 * slots of queues that are gone, and new slots to the queues without one */
void
topic_ctr_bind_all(gmq_topic_t *t)
{
    uint32_t n = gmq_counters_nslots(t->ctrs);
    for (uint32_t ix = 1; ix <= n; ix++) {
        const char *name = gmq_counters_name(t->ctrs, ix);
        if (name == NULL)
            continue;
        topic_slot_t *sl = topic_slot(t, name);
        if (sl != NULL && sl->ctr_ix == 0) {
            sl->ctr = gmq_counters_queue(t->ctrs, ix);
            sl->ctr_ix = ix;
        } else {
            gmq_counters_release(t->ctrs, ix);
        }
    }
    t->ctr_bound = 1;
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i]->ctr_ix == 0)
            topic_ctr_bind(t, t->slots[i]);
}

/* a free slot of the file for sl; without one its counters stay in memory */
void
topic_ctr_bind(gmq_topic_t *t, topic_slot_t *sl)
{
    if (!t->ctr_bound)
        return;
    int moved;
    uint32_t ix = gmq_counters_claim(t->ctrs, sl->q->bind_key, sl->ctr, &moved);
    if (moved)
        topic_ctr_remap(t);
    if (ix == 0)
        return;
    sl->ctr = gmq_counters_queue(t->ctrs, ix);
    sl->ctr_ix = ix;
}

/* a deleted queue's counters slot is free again */
void
topic_ctr_unbind(gmq_topic_t *t, topic_slot_t *sl)
{
    if (sl->ctr_ix != 0)
        gmq_counters_release(t->ctrs, sl->ctr_ix);
    sl->ctr_ix = 0;
    sl->ctr = &sl->own;
}

/* the file was remapped: point every counter pointer into the new mapping */
void
topic_ctr_remap(gmq_topic_t *t)
{
    t->ctr = gmq_counters_topic(t->ctrs);
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i]->ctr_ix != 0)
            t->slots[i]->ctr = gmq_counters_queue(t->ctrs, t->slots[i]->ctr_ix);
}

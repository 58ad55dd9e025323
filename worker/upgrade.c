/*
 * upgrade.c - owns the one-time conversion of a version 1 queue directory:
 * the old replay rules (every message in memory, by id), the new log
 * written beside it through the queue module, and the directory swap.
 */
#include "upgrade.h"
#include "common/buf.h"
#include "common/list.h"
#include "common/log.h"
#include "common/seam.h"
#include "worker/queue.h"
#include "worker/record.h"
#include "worker/segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UPGRADE_NEW "~v2"    /* '~' is not allowed in a bind key */
#define UPGRADE_OLD "~v1"

#define UPG_READY    0
#define UPG_DELAYED  1
#define UPG_INFLIGHT 2

typedef struct upg_msg_s upg_msg_t;
struct upg_msg_s {
    gmq_list_t  link;       /* the ready, delayed or in-flight list, by state */
    upg_msg_t  *hnext;
    uint64_t    id, pushed_at, due;
    const char *body;
    uint32_t    len, retry;
    int         state;
};

typedef struct {
    upg_msg_t **b;
    size_t      nb, n;
    gmq_list_t  ready, delayed, inflight;
    int         dead;
} upg_t;

static char      *upgrade_path(const char *dir, const char *suffix);
static int        upgrade_exists(const char *path);
static int        upgrade_remove(const char *path);
static void       upgrade_sync_parent(const char *dir);
static int        upgrade_list(const char *dir, uint64_t **nos, size_t *n);
static int        upgrade_cmp_u64(const void *a, const void *b);
static void       upgrade_rec(void *arg, gmq_segment_t *s, const gmq_record_t *r, size_t off);
static upg_msg_t *upgrade_find(upg_t *u, uint64_t id);
static upg_msg_t *upgrade_new(upg_t *u, uint64_t id);
static void       upgrade_free(upg_t *u, upg_msg_t *m);
static void       upgrade_free_all(upg_t *u);
static size_t     upgrade_slot(const upg_t *u, uint64_t id);

int
gmq_upgrade_settle(const char *dir)
{
    char *tmp = upgrade_path(dir, UPGRADE_NEW), *old = upgrade_path(dir, UPGRADE_OLD);
    int rc = GMQ_OK;
    if (upgrade_exists(tmp)) {
        if (upgrade_exists(dir)) {
            gmq_log_info("%s: removing an unfinished conversion", tmp);
            rc = upgrade_remove(tmp);            /* the swap had not begun: done again */
        } else {
            gmq_log_info("%s: finishing an interrupted conversion", dir);
            rc = gmq_seam.rename(tmp, dir) == 0 ? GMQ_OK : GMQ_ERR;  /* it was complete */
            upgrade_sync_parent(dir);
        }
    }
    if (rc == GMQ_OK && upgrade_exists(old)) {
        if (upgrade_exists(dir)) {
            rc = upgrade_remove(old);
        } else {
            rc = gmq_seam.rename(old, dir) == 0 ? GMQ_OK : GMQ_ERR;
            upgrade_sync_parent(dir);
        }
    }
    free(tmp);
    free(old);
    return rc;
}

int
gmq_upgrade_pending(const char *dir)
{
    char *tmp = upgrade_path(dir, UPGRADE_NEW), *old = upgrade_path(dir, UPGRADE_OLD);
    int r = upgrade_exists(tmp) || upgrade_exists(old);
    free(tmp);
    free(old);
    return r;
}

int
gmq_upgrade_needed(const char *dir)
{
    uint64_t *nos;
    size_t n;
    if (upgrade_list(dir, &nos, &n) != GMQ_OK)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n && v == 0; i++) {
        size_t len = strlen(dir) + 32;
        char *p = gmq_xmalloc(len);
        snprintf(p, len, "%s/seg-%016" PRIx64 ".log", dir, nos[i]);
        unsigned char h[16];
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && pread(fd, h, sizeof(h), 0) == (ssize_t) sizeof(h) &&
            gmq_get_u32(h) == GMQ_RECORD_MAGIC)
            v = h[8] == 1 ? 1 : 2;
        if (fd >= 0)
            close(fd);
        free(p);
    }
    free(nos);
    return v == 1;
}

int
gmq_upgrade_queue(const char *dir, const char *bind_key, int dead, gmq_qshared_t *sh,
                  gmq_error_t *err)
{
    uint64_t *nos;
    size_t n;
    if (upgrade_list(dir, &nos, &n) != GMQ_OK)
        return gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot read %s: %s", dir,
                             strerror(errno));
    gmq_log_info("%s: converting %zu segments of the previous storage format", dir, n);
    upg_t u = { .nb = 1024, .dead = dead };
    u.b = gmq_xcalloc(u.nb, sizeof(*u.b));
    gmq_list_init(&u.ready);
    gmq_list_init(&u.delayed);
    gmq_list_init(&u.inflight);
    gmq_segment_t **segs = gmq_xcalloc(n ? n : 1, sizeof(*segs));
    unsigned corrupt = 0;
    int rc = GMQ_ERR;
    char *tmp = upgrade_path(dir, UPGRADE_NEW), *old = upgrade_path(dir, UPGRADE_OLD);
    gmq_queue_t *nq = NULL;
    size_t k;
    for (k = 0; k < n; k++) {
        if ((segs[k] = gmq_segment_open(dir, nos[k], err)) == NULL)
            goto out;
        segs[k]->version = 1;         /* records of the old format only */
        gmq_segment_scan(segs[k], 0, upgrade_rec, &u, &corrupt);
    }
    /* delivered but never finished: ready again, first in line, in delivery order */
    while (!gmq_list_empty(&u.inflight)) {
        upg_msg_t *m = container_of(u.inflight.prev, upg_msg_t, link);
        gmq_list_remove(&m->link);
        m->state = UPG_READY;
        gmq_list_push_head(&u.ready, &m->link);
    }
    /* the new log beside the old one: ready messages in order, then the delayed ones */
    if (upgrade_remove(tmp) != GMQ_OK ||
        (nq = gmq_queue_open(tmp, bind_key, dead, sh, 0, err)) == NULL)
        goto out;
    size_t moved = 0;
    gmq_list_t *lists[] = { &u.ready, &u.delayed };
    for (int l = 0; l < 2; l++)
        for (gmq_list_t *p = lists[l]->next; p != lists[l]; p = p->next, moved++) {
            upg_msg_t *m = container_of(p, upg_msg_t, link);
            if (gmq_queue_put(nq, m->id, m->body, m->len, m->retry, m->pushed_at,
                              m->state == UPG_DELAYED ? m->due : 0, err) != GMQ_OK)
                goto out;
        }
    gmq_queue_close(nq);          /* synced, with its checkpoint */
    nq = NULL;
    /* the swap: after the second rename the new log is the queue */
    if (gmq_seam.rename(dir, old) != 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot rename %s: %s", dir,
                      strerror(errno));
        goto out;
    }
    upgrade_sync_parent(dir);
    if (gmq_seam.rename(tmp, dir) != 0) {
        gmq_error_set(err, GMQ_E_STORAGE, "storage error: cannot rename %s: %s", tmp,
                      strerror(errno));
        goto out;                 /* settled at the next open */
    }
    upgrade_sync_parent(dir);
    for (size_t i = 0; i < k; i++)
        gmq_segment_close(segs[i], 0);
    k = 0;
    if (upgrade_remove(old) != GMQ_OK)
        gmq_log_warn("%s: cannot remove the old log: %s (removed at the next open)", old,
                     strerror(errno));
    gmq_log_info("%s: converted: %zu messages kept (%u corrupt records skipped)", dir, moved,
                 corrupt);
    rc = GMQ_OK;
out:
    if (nq != NULL) {
        gmq_queue_discard(nq);
        upgrade_remove(tmp);
    }
    for (size_t i = 0; i < k; i++)
        gmq_segment_close(segs[i], 0);
    upgrade_free_all(&u);
    free(u.b);
    free(segs);
    free(nos);
    free(tmp);
    free(old);
    return rc;
}

/* ---- static helpers ---- */

static char *
upgrade_path(const char *dir, const char *suffix)
{
    size_t n = strlen(dir) + strlen(suffix) + 1;
    char *p = gmq_xmalloc(n);
    snprintf(p, n, "%s%s", dir, suffix);
    return p;
}

static int
upgrade_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* a queue directory holds files only: remove them, then it */
static int
upgrade_remove(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT ? GMQ_OK : GMQ_ERR;
    struct dirent *de;
    int rc = GMQ_OK;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT)
            rc = GMQ_ERR;
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT)
        rc = GMQ_ERR;
    return rc;
}

static void
upgrade_sync_parent(const char *dir)
{
    char *p = gmq_xstrdup(dir);
    char *slash = strrchr(p, '/');
    if (slash != NULL) {
        *slash = '\0';
        int fd = open(*p ? p : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            gmq_seam.fsync(fd);
            close(fd);
        }
    }
    free(p);
}

static int
upgrade_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static int
upgrade_list(const char *dir, uint64_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? GMQ_OK : GMQ_ERR;
    uint64_t *nos = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t no;
        struct stat st;
        if (!gmq_segment_parse_name(de->d_name, &no) ||
            fstatat(dirfd(d), de->d_name, &st, 0) != 0 || st.st_size < GMQ_RECORD_HDR)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            nos = gmq_xrealloc(nos, cap * sizeof(*nos));
        }
        nos[n++] = no;
    }
    closedir(d);
    if (n > 1)
        qsort(nos, n, sizeof(*nos), upgrade_cmp_u64);
    *out = nos;
    *nout = n;
    return GMQ_OK;
}

/* the replay of the previous format: a message by id, moved between lists */
static void
upgrade_rec(void *arg, gmq_segment_t *s, const gmq_record_t *r, size_t off)
{
    (void) s;
    (void) off;
    upg_t *u = arg;
    if (r->type == GMQ_REC_PURGE) {
        upgrade_free_all(u);
        return;
    }
    upg_msg_t *m = upgrade_find(u, r->id);
    if (r->type == GMQ_REC_MSG) {
        if (m != NULL)             /* a relocated copy (or a re-push after dead/moved) */
            gmq_list_remove(&m->link);
        else
            m = upgrade_new(u, r->id);
        m->pushed_at = r->ts;
        m->due = r->due;
        m->retry = r->retry;
        m->len = r->len;
        m->body = r->body;
        m->state = r->due > 0 && !u->dead ? UPG_DELAYED : UPG_READY;
        gmq_list_push_tail(m->state == UPG_DELAYED ? &u->delayed : &u->ready, &m->link);
        return;
    }
    if (m == NULL)
        return;
    switch (r->type) {
    case GMQ_REC_DELIVER:
        gmq_list_remove(&m->link);
        m->retry = r->retry;
        m->state = UPG_INFLIGHT;
        gmq_list_push_tail(&u->inflight, &m->link);
        break;
    case GMQ_REC_REQUEUE:
        gmq_list_remove(&m->link);
        m->retry = r->retry;
        if (r->due > 0 && !u->dead) {
            m->due = r->due;
            m->state = UPG_DELAYED;
            gmq_list_push_tail(&u->delayed, &m->link);
        } else {
            m->state = UPG_READY;
            if (r->flags & GMQ_REC_F_HEAD)
                gmq_list_push_head(&u->ready, &m->link);
            else
                gmq_list_push_tail(&u->ready, &m->link);
        }
        break;
    case GMQ_REC_DUE:
        if (m->state == UPG_DELAYED) {
            gmq_list_remove(&m->link);
            m->state = UPG_READY;
            gmq_list_push_tail(&u->ready, &m->link);
        }
        break;
    case GMQ_REC_ACK:
    case GMQ_REC_DEAD:
    case GMQ_REC_MOVED:
        upgrade_free(u, m);
        break;
    default:
        break;
    }
}

static upg_msg_t *
upgrade_find(upg_t *u, uint64_t id)
{
    upg_msg_t *m = u->b[upgrade_slot(u, id)];
    while (m != NULL && m->id != id)
        m = m->hnext;
    return m;
}

static upg_msg_t *
upgrade_new(upg_t *u, uint64_t id)
{
    if (u->n >= u->nb) {
        size_t old_n = u->nb;
        upg_msg_t **old = u->b;
        u->nb *= 2;
        u->b = gmq_xcalloc(u->nb, sizeof(*u->b));
        for (size_t i = 0; i < old_n; i++)
            for (upg_msg_t *m = old[i], *next; m != NULL; m = next) {
                next = m->hnext;
                size_t j = upgrade_slot(u, m->id);
                m->hnext = u->b[j];
                u->b[j] = m;
            }
        free(old);
    }
    upg_msg_t *m = gmq_xcalloc(1, sizeof(*m));
    m->id = id;
    gmq_list_init(&m->link);
    size_t i = upgrade_slot(u, id);
    m->hnext = u->b[i];
    u->b[i] = m;
    u->n++;
    return m;
}

static void
upgrade_free(upg_t *u, upg_msg_t *m)
{
    gmq_list_remove(&m->link);
    upg_msg_t **pp = &u->b[upgrade_slot(u, m->id)];
    while (*pp != m)
        pp = &(*pp)->hnext;
    *pp = m->hnext;
    u->n--;
    free(m);
}

static void
upgrade_free_all(upg_t *u)
{
    for (size_t i = 0; i < u->nb; i++)
        while (u->b[i] != NULL)
            upgrade_free(u, u->b[i]);
}

static size_t
upgrade_slot(const upg_t *u, uint64_t id)
{
    uint64_t h = id * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (size_t) (h & (u->nb - 1));
}

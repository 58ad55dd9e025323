/*
 * counters.c - owns a topic's counters file, <topic>/counters: its layout
 * (a header with the topic's totals, then one slot per queue named by its
 * bind key), its mapping, checks, growth and the slots' allocation.
 */
#include "counters.h"
#include "common/config.h"
#include "common/log.h"
#include "common/seam.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define COUNTERS_FILE    "counters"
#define COUNTERS_MAGIC   0x474d5163u   /* "GMQc" in native byte order */
#define COUNTERS_VERSION 1
#define COUNTERS_SLOT    256           /* bytes of the header and of each slot */
#define COUNTERS_FIRST   4096          /* a new file: the header and 15 slots */
#define COUNTERS_MAX     (1u << 30)    /* a larger file is not ours */

typedef struct {
    uint32_t             magic;
    uint32_t             version;
    uint32_t             slot_size;
    uint32_t             nslots;      /* slots after the header (the file may be longer) */
    uint64_t             zero;
    gmq_counters_topic_t c;
    uint8_t              reserved[COUNTERS_SLOT - 24 - sizeof(gmq_counters_topic_t)];
} counters_hdr_t;

typedef struct {
    uint32_t             crc;        /* crc32 of len and name, never 0; 0 = free (all zero) */
    uint16_t             len;
    uint16_t             zero;
    char                 name[GMQ_NAME_MAX + 8];   /* NUL-padded bind key */
    gmq_counters_queue_t c;
    uint8_t              reserved[COUNTERS_SLOT - 144 - sizeof(gmq_counters_queue_t)];
} counters_slot_t;

_Static_assert(sizeof(counters_hdr_t) == COUNTERS_SLOT && offsetof(counters_hdr_t, c) == 24,
               "counters file header layout");
_Static_assert(sizeof(counters_slot_t) == COUNTERS_SLOT && offsetof(counters_slot_t, c) == 144,
               "counters file slot layout");

struct gmq_counters_s {
    char                 *name;     /* the topic's, for the log */
    char                 *dir;      /* the topic's directory */
    gmq_counters_topic_t *ctr;      /* in the file's header, or &own */
    gmq_counters_topic_t  own;
    int                   fd;
    char                 *map;      /* the file, NULL = counters in memory only */
    size_t                size;     /* bytes mapped */
    uint32_t              next;     /* where the search for a free slot starts */
};

static const char      *counters_map(gmq_counters_t *c, int fd, size_t size);
static int              counters_grow(gmq_counters_t *c);
static uint32_t         counters_crc(const char *name, size_t len);
static counters_slot_t *counters_slot(const gmq_counters_t *c, uint32_t i);

/* Nothing here fails the open: without the file the counters are kept in
 * memory only, which is logged. */
gmq_counters_t *
gmq_counters_open(const char *topic, const char *dir)
{
    gmq_counters_t *c = gmq_xcalloc(1, sizeof(*c));
    c->name = gmq_xstrdup(topic);
    c->dir = gmq_xstrdup(dir);
    c->ctr = &c->own;
    size_t n = strlen(dir) + sizeof(COUNTERS_FILE) + 1;
    char *path = gmq_xmalloc(n);
    snprintf(path, n, "%s/%s", dir, COUNTERS_FILE);
    struct stat st;
    int e;
    c->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (c->fd < 0 || fstat(c->fd, &st) != 0) {
        gmq_log_warn("topic %s: cannot open %s (%s): counters are kept in memory only", topic,
                     path, strerror(errno));
        goto fail;
    }
    if (st.st_size > 0) {
        const char *why = counters_map(c, c->fd, (size_t) st.st_size);
        if (why == NULL)
            goto done;
        gmq_log_warn("topic %s: %s %s: counters start from 0", topic, path, why);
        if (gmq_seam.ftruncate(c->fd, 0) != 0) {
            gmq_log_warn("topic %s: cannot truncate %s (%s): counters are kept in memory only",
                         topic, path, strerror(errno));
            goto fail;
        }
    }
    /* reserved before it is mapped: a full disk is an error here, never a SIGBUS */
    if ((e = gmq_seam.fallocate(c->fd, 0, COUNTERS_FIRST)) != 0) {
        gmq_log_warn("topic %s: cannot allocate %s (%s): counters are kept in memory only",
                     topic, path, strerror(e));
        goto fail;
    }
    void *map = mmap(NULL, COUNTERS_FIRST, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
    if (map == MAP_FAILED) {
        gmq_log_warn("topic %s: cannot map %s (%s): counters are kept in memory only", topic,
                     path, strerror(errno));
        goto fail;
    }
    c->map = map;
    c->size = COUNTERS_FIRST;
    counters_hdr_t *h = map;
    h->version = COUNTERS_VERSION;
    h->slot_size = COUNTERS_SLOT;
    h->nslots = COUNTERS_FIRST / COUNTERS_SLOT - 1;
    h->magic = COUNTERS_MAGIC;          /* last: a file without it is started again */
    goto done;

fail:
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
done:
    if (c->map != NULL)
        c->ctr = &((counters_hdr_t *) (void *) c->map)->c;
    free(path);
    return c;
}

void
gmq_counters_close(gmq_counters_t *c)
{
    if (c == NULL)
        return;
    if (c->map != NULL) {
        if (gmq_seam.msync(c->map, c->size, MS_SYNC) != 0)
            gmq_log_warn("topic %s: msync of %s/%s: %s", c->name, c->dir, COUNTERS_FILE,
                         strerror(errno));
        munmap(c->map, c->size);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c->name);
    free(c->dir);
    free(c);
}

gmq_counters_topic_t *
gmq_counters_topic(gmq_counters_t *c)
{
    return c->ctr;
}

uint32_t
gmq_counters_nslots(const gmq_counters_t *c)
{
    return c->map != NULL ? ((const counters_hdr_t *) (const void *) c->map)->nslots : 0;
}

const char *
gmq_counters_name(const gmq_counters_t *c, uint32_t ix)
{
    const counters_slot_t *s = counters_slot(c, ix - 1);
    return s->crc != 0 ? s->name : NULL;
}

gmq_counters_queue_t *
gmq_counters_queue(gmq_counters_t *c, uint32_t ix)
{
    return &counters_slot(c, ix - 1)->c;
}

void
gmq_counters_release(gmq_counters_t *c, uint32_t ix)
{
    memset(counters_slot(c, ix - 1), 0, sizeof(counters_slot_t));
}

uint32_t
gmq_counters_claim(gmq_counters_t *c, const char *bind_key, const gmq_counters_queue_t *init,
                   int *moved)
{
    *moved = 0;
    if (c->map == NULL)
        return 0;
    uint32_t n = ((counters_hdr_t *) (void *) c->map)->nslots, i = c->next % n, k;
    for (k = 0; k < n && counters_slot(c, i)->crc != 0; k++)
        i = (i + 1) % n;
    if (k == n) {
        if (counters_grow(c) != GMQ_OK)
            return 0;
        *moved = 1;
        i = n;
    }
    counters_slot_t *s = counters_slot(c, i);
    size_t len = strlen(bind_key);
    s->c = *init;
    memcpy(s->name, bind_key, len);
    s->len = (uint16_t) len;
    s->crc = counters_crc(bind_key, len);     /* last: the slot is in use once it matches */
    c->next = i + 1;
    return i + 1;
}

/* ---- static helpers ---- */

/* map an existing file of size bytes and check it; NULL, or what is wrong
 * with it (then nothing stays mapped). Slots that are neither free nor
 * valid are cleared. */
static const char *
counters_map(gmq_counters_t *c, int fd, size_t size)
{
    if (size < COUNTERS_FIRST || size > COUNTERS_MAX)
        return "has a bad size";
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return "cannot be mapped";
    const counters_hdr_t *h = map;
    if (h->magic != COUNTERS_MAGIC || h->version != COUNTERS_VERSION ||
        h->slot_size != COUNTERS_SLOT || h->nslots == 0 ||
        ((size_t) h->nslots + 1) * COUNTERS_SLOT > size) {
        munmap(map, size);
        return "has a bad header";
    }
    c->map = map;
    c->size = size;
    unsigned cleared = 0;
    static const counters_slot_t zero;
    for (uint32_t i = 0; i < h->nslots; i++) {
        counters_slot_t *s = counters_slot(c, i);
        if (s->crc == 0 ? memcmp(s, &zero, sizeof(*s)) == 0
                        : s->len > 0 && s->len <= GMQ_NAME_MAX && s->name[s->len] == '\0' &&
                          gmq_name_valid(s->name, s->len) && s->crc == counters_crc(s->name, s->len))
            continue;
        memset(s, 0, sizeof(*s));
        cleared++;
    }
    if (cleared)
        gmq_log_warn("topic %s: %u damaged slots of %s/%s cleared: those queues' counters start "
                     "from 0", c->name, cleared, c->dir, COUNTERS_FILE);
    return NULL;
}

/* twice the slots: reserve the space and remap; the caller then points
 * every counter pointer into the new mapping */
static int
counters_grow(gmq_counters_t *c)
{
    counters_hdr_t *h = (counters_hdr_t *) (void *) c->map;
    size_t size = ((size_t) h->nslots + 1) * COUNTERS_SLOT * 2;
    if (size > COUNTERS_MAX)
        return GMQ_ERR;
    if (size > c->size) {
        int e = gmq_seam.fallocate(c->fd, 0, (off_t) size);
        void *map = e == 0 ? mremap(c->map, c->size, size, MREMAP_MAYMOVE) : MAP_FAILED;
        if (map == MAP_FAILED) {
            gmq_log_warn("topic %s: cannot grow %s/%s (%s): the counters of new queues are kept "
                         "in memory only", c->name, c->dir, COUNTERS_FILE,
                         strerror(e ? e : errno));
            return GMQ_ERR;
        }
        c->map = map;
        c->size = size;
        h = map;
    }
    h->nslots = (uint32_t) (size / COUNTERS_SLOT - 1);
    c->ctr = &h->c;
    return GMQ_OK;
}

static uint32_t
counters_crc(const char *name, size_t len)
{
    unsigned char l[2] = { (unsigned char) (len >> 8), (unsigned char) len };
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, l, 2);
    c = crc32(c, (const Bytef *) name, (uInt) len);
    return (uint32_t) c != 0 ? (uint32_t) c : 1;
}

static counters_slot_t *
counters_slot(const gmq_counters_t *c, uint32_t i)
{
    return (counters_slot_t *) (void *) (c->map + COUNTERS_SLOT * ((size_t) i + 1));
}

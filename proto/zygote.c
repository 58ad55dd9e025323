/*
 * zygote.c - codecs of the master <-> worker zygote messages (zygote.h):
 * fixed-width big-endian integers, u16-prefixed strings, the settings in
 * their own encoding (proto/op.c).
 */
#include "zygote.h"

#include <string.h>

#define ZYGOTE_KIND_SPAWN 1
#define ZYGOTE_KIND_REPLY 2

static int zygote_take(const char **p, const char *end, size_t *n, const char **s, size_t max);

int
gmq_zygote_nfds(uint8_t fds)
{
    return !!(fds & GMQ_ZYGOTE_FD_IPC) + !!(fds & GMQ_ZYGOTE_FD_LOCK) + !!(fds & GMQ_ZYGOTE_FD_LOG);
}

void
gmq_zygote_req_encode(gmq_buf_t *b, const gmq_zygote_req_t *r)
{
    char v[2] = { GMQ_ZYGOTE_VERSION, ZYGOTE_KIND_SPAWN };
    gmq_buf_append(b, v, 2);
    gmq_buf_put_u16(b, r->fds);
    gmq_buf_put_u16(b, (uint16_t) r->topic_len);
    gmq_buf_append(b, r->topic, r->topic_len);
    gmq_buf_put_u16(b, (uint16_t) r->data_path_len);
    gmq_buf_append(b, r->data_path, r->data_path_len);
    gmq_buf_put_u16(b, GMQ_OP_SETTINGS_SIZE);
    gmq_op_settings_encode(b, &r->settings);
}

int
gmq_zygote_req_decode(const char *p, size_t len, gmq_zygote_req_t *r)
{
    const char *end = p + len;
    if (len < 4 || p[0] != GMQ_ZYGOTE_VERSION || p[1] != ZYGOTE_KIND_SPAWN)
        return GMQ_ERR;
    uint16_t fds = gmq_get_u16(p + 2);
    p += 4;
    if (fds > (GMQ_ZYGOTE_FD_IPC | GMQ_ZYGOTE_FD_LOCK | GMQ_ZYGOTE_FD_LOG) ||
        !(fds & GMQ_ZYGOTE_FD_IPC))
        return GMQ_ERR;
    r->fds = (uint8_t) fds;
    const char *set;
    size_t set_len;
    if (zygote_take(&p, end, &r->topic_len, &r->topic, GMQ_NAME_MAX) != GMQ_OK ||
        zygote_take(&p, end, &r->data_path_len, &r->data_path, GMQ_ZYGOTE_PATH_MAX) != GMQ_OK ||
        zygote_take(&p, end, &set_len, &set, GMQ_OP_SETTINGS_SIZE) != GMQ_OK || p != end)
        return GMQ_ERR;
    if (!gmq_name_valid(r->topic, r->topic_len) || r->data_path_len == 0 ||
        memchr(r->data_path, '\0', r->data_path_len) != NULL)
        return GMQ_ERR;
    return gmq_op_settings_decode(set, set_len, &r->settings);
}

void
gmq_zygote_reply_encode(gmq_buf_t *b, const gmq_zygote_reply_t *r)
{
    char k = ZYGOTE_KIND_REPLY;
    gmq_buf_append(b, &k, 1);
    gmq_buf_put_u32(b, (uint32_t) r->pid);
    gmq_buf_put_u32(b, (uint32_t) r->err);
}

int
gmq_zygote_reply_decode(const char *p, size_t len, gmq_zygote_reply_t *r)
{
    if (len != GMQ_ZYGOTE_REPLY_SIZE || p[0] != ZYGOTE_KIND_REPLY)
        return GMQ_ERR;
    r->pid = (int32_t) gmq_get_u32(p + 1);
    r->err = (int32_t) gmq_get_u32(p + 5);
    if (r->pid <= 0 && r->err <= 0)
        return GMQ_ERR;          /* a failure says why */
    return GMQ_OK;
}

/* ---- static helpers ---- */

/* a u16 length, then that many bytes (at most max) */
static int
zygote_take(const char **p, const char *end, size_t *n, const char **s, size_t max)
{
    if (end - *p < 2)
        return GMQ_ERR;
    size_t l = gmq_get_u16(*p);
    if (l > max || (size_t) (end - *p - 2) < l)
        return GMQ_ERR;
    *s = *p + 2;
    *n = l;
    *p += 2 + l;
    return GMQ_OK;
}

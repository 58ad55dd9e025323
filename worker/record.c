/*
 * record.c - owns the byte layout of queue log records (see record.h):
 * encoding with zlib crc32, and decoding that refuses anything torn,
 * corrupt or from another format version.
 */
#include "record.h"
#include "common/buf.h"

#include <string.h>
#include <zlib.h>


size_t
gmq_record_encode(void *dst, const gmq_record_t *r)
{
    unsigned char *p = dst;
    size_t size = gmq_record_size(r->len);

    gmq_put_u32(p, GMQ_RECORD_MAGIC);
    p[8] = GMQ_RECORD_VERSION;
    p[9] = r->type;
    p[10] = (unsigned char) (r->flags >> 8);
    p[11] = (unsigned char) r->flags;
    gmq_put_u32(p + 12, r->len);
    gmq_put_u64(p + 16, r->id);
    gmq_put_u64(p + 24, r->ts);
    gmq_put_u64(p + 32, r->due);
    gmq_put_u32(p + 40, r->retry);
    gmq_put_u32(p + 44, 0);
    if (r->len > 0)
        memcpy(p + GMQ_RECORD_HDR, r->body, r->len);
    if (size > GMQ_RECORD_HDR + r->len)
        memset(p + GMQ_RECORD_HDR + r->len, 0, size - GMQ_RECORD_HDR - r->len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 8, (uInt) (size - 8));
    gmq_put_u32(p + 4, (uint32_t) crc);
    return size;
}

int
gmq_record_decode(const void *src, size_t avail, gmq_record_t *out, size_t *size)
{
    const unsigned char *p = src;

    if (avail < 4)
        return GMQ_AGAIN;
    uint32_t magic = gmq_get_u32(p);
    if (magic == 0)
        return GMQ_AGAIN;
    if (magic != GMQ_RECORD_MAGIC || avail < GMQ_RECORD_HDR)
        return GMQ_ERR;
    if (p[8] != GMQ_RECORD_VERSION || p[9] < GMQ_REC_MSG || p[9] > GMQ_REC_TYPE_MAX)
        return GMQ_ERR;
    uint32_t len = gmq_get_u32(p + 12);
    if (len > GMQ_RECORD_MAX_BODY || gmq_record_size(len) > avail)
        return GMQ_ERR;
    size_t sz = gmq_record_size(len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 8, (uInt) (sz - 8));
    if ((uint32_t) crc != gmq_get_u32(p + 4))
        return GMQ_ERR;

    out->type = p[9];
    out->flags = (uint16_t) ((p[10] << 8) | p[11]);
    out->len = len;
    out->id = gmq_get_u64(p + 16);
    out->ts = gmq_get_u64(p + 24);
    out->due = gmq_get_u64(p + 32);
    out->retry = gmq_get_u32(p + 40);
    out->body = (const char *) p + GMQ_RECORD_HDR;
    *size = sz;
    return GMQ_OK;
}

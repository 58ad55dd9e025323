/*
 * record.c - owns the byte layout of queue log records (see record.h):
 * encoding (version 2) with zlib crc32, and decoding of version 2 (and of
 * version 1 for the conversion) that refuses anything torn or corrupt.
 */
#include "record.h"
#include "common/buf.h"

#include <string.h>
#include <zlib.h>

static int    record_decode(const unsigned char *p, size_t avail, int version, gmq_record_t *out,
                            size_t *size);
static int    record_header(const unsigned char *p, size_t avail, int version, gmq_record_t *out,
                            size_t *size);
static size_t record_size_v(int version, size_t len);

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
    gmq_put_u32(p + 44, r->epoch);
    gmq_put_u64(p + 48, r->seq);
    gmq_put_u64(p + 56, r->pos);
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
    return record_decode(src, avail, GMQ_RECORD_VERSION, out, size);
}

int
gmq_record_decode_v1(const void *src, size_t avail, gmq_record_t *out, size_t *size)
{
    return record_decode(src, avail, 1, out, size);
}

int
gmq_record_peek(const void *src, size_t avail, gmq_record_t *out, size_t *size)
{
    return record_header(src, avail, GMQ_RECORD_VERSION, out, size);
}

/* ---- static helpers ---- */

static int
record_decode(const unsigned char *p, size_t avail, int version, gmq_record_t *out, size_t *size)
{
    if (avail < 4 || gmq_get_u32(p) == 0)
        return GMQ_AGAIN;
    if (record_header(p, avail, version, out, size) != GMQ_OK)
        return GMQ_ERR;
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 8, (uInt) (*size - 8));
    if ((uint32_t) crc != out->crc)
        return GMQ_ERR;
    return GMQ_OK;
}

static int
record_header(const unsigned char *p, size_t avail, int version, gmq_record_t *out, size_t *size)
{
    if (avail < GMQ_RECORD_V1_HDR || gmq_get_u32(p) != GMQ_RECORD_MAGIC)
        return GMQ_ERR;
    int v = p[8];
    if (v != version || p[9] < GMQ_REC_MSG || p[9] > GMQ_REC_TYPE_MAX)
        return GMQ_ERR;
    uint32_t len = gmq_get_u32(p + 12);
    if (len > GMQ_RECORD_MAX_BODY || record_size_v(v, len) > avail)
        return GMQ_ERR;
    out->version = (uint8_t) v;
    out->type = p[9];
    out->flags = (uint16_t) ((p[10] << 8) | p[11]);
    out->len = len;
    out->id = gmq_get_u64(p + 16);
    out->ts = gmq_get_u64(p + 24);
    out->due = gmq_get_u64(p + 32);
    out->retry = gmq_get_u32(p + 40);
    out->crc = gmq_get_u32(p + 4);
    if (v == 1) {
        out->epoch = 0;
        out->seq = 0;
        out->pos = 0;
        out->body = (const char *) p + GMQ_RECORD_V1_HDR;
    } else {
        out->epoch = gmq_get_u32(p + 44);
        out->seq = gmq_get_u64(p + 48);
        out->pos = gmq_get_u64(p + 56);
        out->body = (const char *) p + GMQ_RECORD_HDR;
    }
    *size = record_size_v(v, len);
    return GMQ_OK;
}

static size_t
record_size_v(int version, size_t len)
{
    size_t hdr = version == 1 ? GMQ_RECORD_V1_HDR : GMQ_RECORD_HDR;
    return (hdr + len + GMQ_RECORD_ALIGN - 1) & ~(size_t) (GMQ_RECORD_ALIGN - 1);
}

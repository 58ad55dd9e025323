/*
 * fuzz_record.c - the queue log record codec (worker/record.c). The first
 * byte picks whether the rest is decoded as it is or first given the
 * record magic, version and a correct CRC (so the field checks behind the
 * CRC are reached too). A record that decodes must re-encode to the same
 * size and decode to the same fields, and no shorter view of the bytes
 * may decode to anything else.
 */
#include "fuzz.h"
#include "common/buf.h"
#include "worker/record.h"

#include <zlib.h>

static void record_check(const unsigned char *p, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n = size - 1;
    /* aligned, as records are in a mapping */
    unsigned char *p = malloc(n + 8);
    if (n > 0)
        memcpy(p, data + 1, n);
    if ((data[0] & 1) && n >= GMQ_RECORD_HDR) {
        gmq_put_u32(p, GMQ_RECORD_MAGIC);
        if (data[0] & 2)
            p[8] = GMQ_RECORD_VERSION;
        /* the CRC over the size the header claims, when it fits */
        size_t sz = gmq_record_size(gmq_get_u32(p + 12));
        if (gmq_get_u32(p + 12) <= GMQ_RECORD_MAX_BODY && sz <= n)
            gmq_put_u32(p + 4, (uint32_t) crc32(crc32(0L, Z_NULL, 0), p + 8, (uInt) (sz - 8)));
    }
    record_check(p, n);
    free(p);
    return 0;
}

static void
record_check(const unsigned char *p, size_t n)
{
    gmq_record_t r, back;
    size_t sz, bsz;
    int rc = gmq_record_decode(p, n, &r, &sz);
    if (rc == GMQ_AGAIN) {
        FUZZ_CHECK(n < 4 || gmq_get_u32(p) == 0);
        return;
    }
    if (rc != GMQ_OK)
        return;
    FUZZ_CHECK(sz == gmq_record_size(r.len) && sz <= n && sz % GMQ_RECORD_ALIGN == 0);
    FUZZ_CHECK(r.type >= GMQ_REC_MSG && r.type <= GMQ_REC_TYPE_MAX);
    FUZZ_CHECK((const unsigned char *) r.body == p + GMQ_RECORD_HDR);
    /* any view too short for the record is refused */
    FUZZ_CHECK(gmq_record_decode(p, sz - 1, &back, &bsz) == GMQ_ERR);

    unsigned char *enc = malloc(sz);
    FUZZ_CHECK(gmq_record_encode(enc, &r) == sz);
    /* the fields come back; bytes 44..47 and the padding are not checked by
     * the decoder, so the bytes may differ only there (and in the CRC) */
    FUZZ_CHECK(memcmp(enc, p, 4) == 0 && memcmp(enc + 8, p + 8, 36) == 0);
    FUZZ_CHECK(r.len == 0 || memcmp(enc + GMQ_RECORD_HDR, p + GMQ_RECORD_HDR, r.len) == 0);
    FUZZ_CHECK(gmq_record_decode(enc, sz, &back, &bsz) == GMQ_OK && bsz == sz);
    FUZZ_CHECK(back.type == r.type && back.flags == r.flags && back.len == r.len);
    FUZZ_CHECK(back.id == r.id && back.ts == r.ts && back.due == r.due && back.retry == r.retry);
    /* one flipped bit anywhere in the record is caught */
    size_t bit = (r.id ^ r.ts) % (sz * 8);
    enc[bit / 8] ^= (unsigned char) (1u << (bit % 8));
    FUZZ_CHECK(gmq_record_decode(enc, sz, &back, &bsz) != GMQ_OK);
    free(enc);
}

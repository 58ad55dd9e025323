/*
 * fuzz_record.c - the queue log record codec (worker/record.c). The first
 * byte picks the decoder (bit 2: version 1, the conversion's; else version
 * 2, every log's) and whether the rest is decoded as it is or first given
 * the record magic, that version and a correct CRC over the length the
 * header claims (so the field checks behind the CRC are reached too).
 * A record that decodes must have that version's size and body place, be
 * refused by the other decoder and in any shorter view, peek to the same
 * header, and re-encode (as version 2) to the same fields: a version 2
 * record to the same bytes (the CRC too, unless its padding was not zero).
 * One flipped bit anywhere is caught.
 */
#include "fuzz.h"
#include "common/buf.h"
#include "worker/record.h"

#include <zlib.h>

typedef int (*record_decode_fn)(const void *, size_t, gmq_record_t *, size_t *);

static void record_check(const unsigned char *p, size_t n, int version);
static int  record_same(const gmq_record_t *a, const gmq_record_t *b);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t n = size - 1;
    int version = (data[0] & 4) ? 1 : GMQ_RECORD_VERSION;
    size_t hdr = version == 1 ? GMQ_RECORD_V1_HDR : GMQ_RECORD_HDR;
    /* aligned, as records are in a mapping */
    unsigned char *p = malloc(n + 8);
    if (n > 0)
        memcpy(p, data + 1, n);
    if ((data[0] & 1) && n >= hdr) {
        gmq_put_u32(p, GMQ_RECORD_MAGIC);
        if (data[0] & 2)
            p[8] = (unsigned char) version;
        /* the CRC over the size the header claims, when it fits */
        uint32_t len = gmq_get_u32(p + 12);
        size_t sz = (hdr + (size_t) len + GMQ_RECORD_ALIGN - 1) & ~(size_t) (GMQ_RECORD_ALIGN - 1);
        if (len <= GMQ_RECORD_MAX_BODY && sz <= n)
            gmq_put_u32(p + 4, (uint32_t) crc32(crc32(0L, Z_NULL, 0), p + 8, (uInt) (sz - 8)));
    }
    record_check(p, n, version);
    free(p);
    return 0;
}

static void
record_check(const unsigned char *p, size_t n, int version)
{
    record_decode_fn dec = version == 1 ? gmq_record_decode_v1 : gmq_record_decode;
    record_decode_fn other = version == 1 ? gmq_record_decode : gmq_record_decode_v1;
    size_t hdr = version == 1 ? GMQ_RECORD_V1_HDR : GMQ_RECORD_HDR;
    gmq_record_t r, back;
    size_t sz, bsz;
    int rc = dec(p, n, &r, &sz);
    if (rc == GMQ_AGAIN) {
        FUZZ_CHECK(n < 4 || gmq_get_u32(p) == 0);
        FUZZ_CHECK(other(p, n, &back, &bsz) == GMQ_AGAIN);
        return;
    }
    FUZZ_CHECK(n >= 4 && gmq_get_u32(p) != 0);
    if (rc != GMQ_OK)
        return;
    FUZZ_CHECK(r.version == version && p[8] == version);
    FUZZ_CHECK(sz == ((hdr + r.len + GMQ_RECORD_ALIGN - 1) & ~(size_t) (GMQ_RECORD_ALIGN - 1)));
    FUZZ_CHECK(sz <= n && sz % GMQ_RECORD_ALIGN == 0);
    FUZZ_CHECK(version == 1 || sz == gmq_record_size(r.len));
    FUZZ_CHECK(r.type >= GMQ_REC_MSG && r.type <= GMQ_REC_TYPE_MAX);
    FUZZ_CHECK((const unsigned char *) r.body == p + hdr);
    FUZZ_CHECK(r.crc == gmq_get_u32(p + 4));
    if (version == 1)
        FUZZ_CHECK(r.seq == 0 && r.epoch == 0 && r.pos == 0);
    /* a log holds records of one version: the other decoder refuses it */
    FUZZ_CHECK(other(p, n, &back, &bsz) == GMQ_ERR);
    /* any view too short for the record is refused */
    FUZZ_CHECK(dec(p, sz - 1, &back, &bsz) == GMQ_ERR);
    /* peek (version 2): the same header without the CRC check */
    if (version == GMQ_RECORD_VERSION) {
        FUZZ_CHECK(gmq_record_peek(p, n, &back, &bsz) == GMQ_OK && bsz == sz);
        FUZZ_CHECK(record_same(&back, &r) && back.crc == r.crc && back.body == r.body);
    } else {
        FUZZ_CHECK(gmq_record_peek(p, n, &back, &bsz) == GMQ_ERR);
    }

    size_t esz = gmq_record_size(r.len);
    unsigned char *enc = malloc(esz);
    FUZZ_CHECK(gmq_record_encode(enc, &r) == esz);
    if (version == GMQ_RECORD_VERSION) {
        /* every byte the decoder reads comes back; the padding is written
         * as zeros (the decoder does not look at it but through the CRC),
         * so with zero padding the CRC and so every byte is the same */
        FUZZ_CHECK(memcmp(enc, p, 4) == 0);
        FUZZ_CHECK(memcmp(enc + 8, p + 8, GMQ_RECORD_HDR - 8 + r.len) == 0);
        size_t pad = GMQ_RECORD_HDR + r.len;
        while (pad < sz && p[pad] == 0)
            pad++;
        FUZZ_CHECK(pad < sz || memcmp(enc, p, esz) == 0);
    }
    FUZZ_CHECK(gmq_record_decode(enc, esz, &back, &bsz) == GMQ_OK && bsz == esz);
    FUZZ_CHECK(record_same(&back, &r) && back.version == GMQ_RECORD_VERSION);
    FUZZ_CHECK(r.len == 0 || memcmp(back.body, r.body, r.len) == 0);
    /* one flipped bit anywhere in the record is caught */
    size_t bit = (r.id ^ r.ts ^ r.seq) % (esz * 8);
    enc[bit / 8] ^= (unsigned char) (1u << (bit % 8));
    FUZZ_CHECK(gmq_record_decode(enc, esz, &back, &bsz) != GMQ_OK);
    free(enc);
}

/* the fields a record carries (not its version, crc or body pointer) */
static int
record_same(const gmq_record_t *a, const gmq_record_t *b)
{
    return a->type == b->type && a->flags == b->flags && a->len == b->len && a->id == b->id &&
           a->ts == b->ts && a->due == b->due && a->retry == b->retry && a->epoch == b->epoch &&
           a->seq == b->seq && a->pos == b->pos;
}

/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz/ share: a reader that
 * takes fields off the front of the input (zero once it runs out, so every
 * input is valid), a small PRNG for splits, and a check that aborts with
 * the failed condition (libFuzzer then saves the input as a crash).
 */
#ifndef GMQ_FUZZ_H
#define GMQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                             \
        }                                                                        \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t         n;
} fuzz_in_t;

static inline uint8_t
fuzz_u8(fuzz_in_t *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t
fuzz_u16(fuzz_in_t *in)
{
    uint16_t hi = fuzz_u8(in);
    return (uint16_t) (hi << 8 | fuzz_u8(in));
}

static inline uint32_t
fuzz_u32(fuzz_in_t *in)
{
    uint32_t hi = fuzz_u16(in);
    return hi << 16 | fuzz_u16(in);
}

static inline uint64_t
fuzz_u64(fuzz_in_t *in)
{
    uint64_t hi = fuzz_u32(in);
    return hi << 32 | fuzz_u32(in);
}

/* up to want bytes off the front; *got says how many there were */
static inline const uint8_t *
fuzz_bytes(fuzz_in_t *in, size_t want, size_t *got)
{
    const uint8_t *p = in->p;
    *got = want < in->n ? want : in->n;
    in->p += *got;
    in->n -= *got;
    return p;
}

/* xorshift64*: split points and other choices that must not eat input */
static inline uint64_t
fuzz_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

#endif

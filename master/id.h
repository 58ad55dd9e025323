/*
 * id.h - snowflake message ids: 41 bits of milliseconds since 2017-01-01,
 * 10 bits of node id, 12 bits of sequence; never reused while the process
 * runs, even when the wall clock steps back.
 */
#ifndef GMQ_ID_H
#define GMQ_ID_H

#include "common/gmq.h"

#define GMQ_ID_EPOCH_MS 1483228800000ULL

typedef struct {
    uint64_t last_ms;
    uint32_t seq;
    uint32_t node_id;
} gmq_id_gen_t;

void     gmq_id_init(gmq_id_gen_t *g, int node_id);
uint64_t gmq_id_next(gmq_id_gen_t *g, uint64_t now_ms);

#endif

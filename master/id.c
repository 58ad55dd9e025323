/*
 * id.c - the snowflake id generator (see id.h).
 */
#include "id.h"

void
gmq_id_init(gmq_id_gen_t *g, int node_id)
{
    g->last_ms = 0;
    g->seq = 0;
    g->node_id = (uint32_t) node_id & 0x3ff;
}

uint64_t
gmq_id_next(gmq_id_gen_t *g, uint64_t now_ms)
{
    if (now_ms <= g->last_ms) {
        /* same millisecond, or the clock went back: never reuse an id */
        if (++g->seq > 0xfff) {
            g->seq = 0;
            g->last_ms++;
        }
    } else {
        g->last_ms = now_ms;
        g->seq = 0;
    }
    return ((g->last_ms - GMQ_ID_EPOCH_MS) << 22) | ((uint64_t) g->node_id << 12) | g->seq;
}

/*
 * fuzz_tcpconn.c - the master's TCP protocol on top of the codec
 * (master/tcp.c): commands to operations and their checks (master/ops.c),
 * auth, pub/sub channels (master/chan.c), replies in command order, the
 * close after a fatal protocol error. The input (after a byte of limits and
 * a byte of seed) is what one client sends, in reads of random sizes; the
 * node has no worker. What it writes must be whole reply frames.
 */
#include "fuzz.h"
#include "fuzz_conn.h"
#include "proto/tcp.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    uint8_t sel = fuzz_u8(&in);
    uint64_t seed = fuzz_u8(&in) * 0x9e3779b97f4a7c15ULL + 5;
    fuzz_conn_limits_t lim = {
        .max_header = 16 * 1024,
        .max_body = (sel & 2) ? 16 : 1024 * 1024,
        .max_line = (sel & 1) ? 64 : 4096,
        .max_mpub = (sel & 8) ? 2 : 1000,
        .auth = (sel & 4) != 0,
    };
    gmq_master_t *m = fuzz_conn_master(&lim);
    gmq_buf_t out;
    gmq_buf_init(&out);
    fuzz_conn_run(m, GMQ_PROTO_TCP, (const char *) in.p, in.n, seed, &out);
    size_t off = 0, used;
    uint16_t type;
    const char *d;
    uint32_t dlen;
    while (off < out.len) {
        int rc = gmq_tcp_frame_decode(out.data + off, out.len - off, 64u << 20, &type, &d, &dlen, &used);
        FUZZ_CHECK(rc == GMQ_OK);
        if (type == GMQ_TCP_ERROR)
            FUZZ_CHECK((dlen >= 4 && memcmp(d, "E_", 2) == 0) ||
                       (dlen == 10 && memcmp(d, "no message", 10) == 0));
        off += used;
    }
    gmq_buf_free(&out);
    return 0;
}

/*
 * check_checkpoint.c - a queue's checkpoint file (worker/checkpoint.c):
 * what decodes and what is refused as damage, and what a queue does with a
 * checkpoint that is refused (worker/queue.c scans its log instead).
 * check_queue.c has the workloads that compare a recovery from a
 * checkpoint with a scan of the whole log.
 */
#include "worker/checkpoint.h"
#include "worker/queue.h"
#include "worker/record.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/seam.h"

#include "queue_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
setup(void)
{
    fixture_setup("/tmp/gmq-ckpt-XXXXXX");
}

static void
teardown(void)
{
    fixture_teardown();
}

static gmq_queue_t *
open_q(void)
{
    gmq_error_t err;
    gmq_queue_t *q = gmq_queue_open(qdir, "q", 0, &sh, 1, &err);
    ck_assert_msg(q != NULL, "open %s: %s", qdir, err.msg);
    return q;
}

/* a checkpoint of two segments and two entries, every position aligned */
static gmq_checkpoint_seg_t ex_segs[2];
static gmq_checkpoint_ent_t ex_ents[2];

static gmq_checkpoint_t
example(void)
{
    ex_segs[0] = (gmq_checkpoint_seg_t) { .no = 1, .wpos = 4096, .nready = 0, .min_id = 1,
                                          .max_id = 9 };
    ex_segs[1] = (gmq_checkpoint_seg_t) { .no = 2, .wpos = 256, .nready = 2, .min_id = 10,
                                          .max_id = 11 };
    ex_ents[0] = (gmq_checkpoint_ent_t) { .id = 3, .pos = GMQ_QPOS(1, 72), .key = 7,
                                          .retry = 1, .len = 5, .state = GMQ_QENT_HEAD };
    ex_ents[1] = (gmq_checkpoint_ent_t) { .id = 4, .pos = GMQ_QPOS(1, 144), .key = T0,
                                          .hkey = T0, .len = 2, .state = GMQ_QENT_DELAYED };
    return (gmq_checkpoint_t) { .incarnation = 0x1234, .applied = GMQ_QPOS(2, 256),
                                .check_pos = GMQ_QPOS(2, 192), .check_crc = 77, .epoch = 1,
                                .cursor = GMQ_QPOS(2, 128), .max_seq = 20, .max_id = 11,
                                .segs = ex_segs, .nsegs = 2, .ents = ex_ents, .nents = 2 };
}

static int
decodes(const gmq_checkpoint_t *c)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_checkpoint_encode(c, &b);
    gmq_checkpoint_t d;
    int rc = gmq_checkpoint_decode(b.data, b.len, &d);
    if (rc == GMQ_OK) {
        ck_assert_uint_eq(d.cursor, c->cursor);
        ck_assert_uint_eq(d.nsegs, c->nsegs);
        ck_assert_uint_eq(d.nents, c->nents);
        ck_assert_uint_eq(d.ents[d.nents - 1].pos, c->ents[c->nents - 1].pos);
    }
    gmq_checkpoint_free(&d);
    gmq_buf_free(&b);
    return rc == GMQ_OK;
}

/* A log position that is no record boundary (records are 8-aligned) is
 * never written by gmq: such a checkpoint, with a CRC that fits, is damage
 * and does not decode, whichever position it is (or "none" for the last
 * record, which is fine). Found by fuzz_segment (a cursor 1 past a record
 * start). */
START_TEST(test_positions_on_record_boundaries)
{
    gmq_checkpoint_t c = example();
    ck_assert(decodes(&c));
    c.check_pos = GMQ_QPOS_NONE;
    ck_assert(decodes(&c));
    for (int field = 0; field < 5; field++) {
        for (uint64_t by = 1; by < GMQ_RECORD_ALIGN; by++) {
            c = example();
            uint64_t *p = field == 0 ? &c.applied : field == 1 ? &c.cursor
                        : field == 2 ? &c.check_pos : field == 3 ? &ex_segs[1].wpos
                        : &ex_ents[1].pos;
            *p += by;
            ck_assert_msg(!decodes(&c), "field %d off by %d decodes", field, (int) by);
        }
    }
}
END_TEST

/* Message 1's body holds, 1 byte in, the record of a message 6 that was
 * never pushed (valid bytes inside another record). A checkpoint whose
 * cursor says 1 byte into the segment, given a CRC that fits: it was used,
 * and the read from the cursor looked for the next record 1 past every
 * 8-byte boundary, found 6's bytes and delivered them, a body that is no
 * record of the log. It is not used now: the log is scanned and message 1
 * is delivered, with its body. Found by fuzz_segment (segment-seed1,
 * segment-a7a5468e6fbf). */
START_TEST(test_unaligned_cursor_not_used)
{
    char inner[128], body[160];
    gmq_record_t r = { .type = GMQ_REC_MSG, .id = 6, .len = 3, .body = "six", .epoch = 1,
                       .seq = 9 };
    size_t n = gmq_record_encode(inner, &r);
    body[0] = '-';
    memcpy(body + 1, inner, n);
    gmq_error_t err;
    gmq_queue_t *q = open_q();
    ck_assert_int_eq(gmq_queue_put(q, 1, body, n + 1, 0, T0, 0, &err), GMQ_OK);
    gmq_queue_close(q);

    gmq_checkpoint_t c;
    ck_assert_int_eq(gmq_checkpoint_load(qdir, &c), GMQ_OK);
    ck_assert_uint_eq(c.cursor, GMQ_QPOS(1, 0));
    c.cursor = GMQ_QPOS(1, 1);
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_checkpoint_encode(&c, &b);
    ck_assert_int_eq(gmq_checkpoint_store(qdir, b.data, b.len, 0, &err), GMQ_OK);
    gmq_buf_free(&b);
    gmq_checkpoint_free(&c);

    q = open_q();
    ck_assert_int_eq(q->ck_loaded, 0);
    gmq_qmsg_t m;
    ck_assert_int_eq(gmq_queue_head(q, &m), GMQ_OK);
    ck_assert_uint_eq(m.id, 1);
    ck_assert(m.len == n + 1 && memcmp(m.body, body, n + 1) == 0);
    ck_assert_int_eq(gmq_queue_finish(q, &m, GMQ_REC_ACK, &err), GMQ_OK);
    ck_assert_int_eq(gmq_queue_head(q, &m), GMQ_AGAIN);
    gmq_queue_discard(q);
}
END_TEST

static Suite *
checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_positions_on_record_boundaries);
    tcase_add_test(tc, test_unaligned_cursor_not_used);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(checkpoint_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * check_segment.c - segment files: create with preallocation, append and
 * rescan, torn tail truncated, garbage in the middle skipped and counted,
 * unlink, and a full disk through the seam.
 */
#include "worker/segment.h"
#include "common/log.h"
#include "common/seam.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void
setup(void)
{
    strcpy(dir, "/tmp/gmq-seg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    gmq_log_open(GMQ_LOG_ERROR, NULL);
    gmq_seam_reset();
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        perror("rm");
}

typedef struct {
    int      n;
    uint64_t ids[64];
} seen_t;

static void
collect(void *arg, gmq_segment_t *s, const gmq_record_t *r, size_t off)
{
    (void) s;
    (void) off;
    seen_t *x = arg;
    x->ids[x->n++] = r->id;
}

static void
append_n(gmq_segment_t *s, int n, uint64_t first)
{
    for (int i = 0; i < n; i++) {
        char body[100];
        int len = snprintf(body, sizeof(body), "message %d", i);
        gmq_record_t r = { .type = GMQ_REC_MSG, .len = (uint32_t) len, .id = first + (uint64_t) i,
                           .body = body };
        gmq_segment_append(s, &r);
    }
}

START_TEST(test_create_append_scan)
{
    gmq_error_t err;
    gmq_segment_t *s = gmq_segment_create(dir, 1, 65536, 1, &err);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->size, 65536);
    struct stat st;
    ck_assert_int_eq(stat(s->path, &st), 0);
    ck_assert_int_eq(st.st_size, 65536);
    ck_assert_int_ge(st.st_blocks * 512, 65536);     /* really allocated */
    ck_assert_ptr_nonnull(strstr(s->path, "seg-0000000000000001.log"));
    append_n(s, 10, 100);
    ck_assert(gmq_segment_dirty(s));
    ck_assert_int_eq(gmq_segment_sync(s, &err), GMQ_OK);
    ck_assert(!gmq_segment_dirty(s));
    size_t wpos = s->wpos;
    gmq_segment_close(s, 0);

    s = gmq_segment_open(dir, 1, &err);
    ck_assert_ptr_nonnull(s);
    seen_t x = { 0 };
    unsigned corrupt = 0;
    gmq_segment_scan(s, 0, collect, &x, &corrupt);
    ck_assert_int_eq(x.n, 10);
    ck_assert_uint_eq(x.ids[9], 109);
    ck_assert_uint_eq(corrupt, 0);
    ck_assert_uint_eq(s->wpos, wpos);
    /* a second segment (rollover is the queue's job: next number) */
    gmq_segment_t *s2 = gmq_segment_create(dir, 2, 65536, 0, &err);
    ck_assert_ptr_nonnull(s2);
    ck_assert_ptr_null(gmq_segment_create(dir, 2, 65536, 0, &err));  /* never reuse a file */
    gmq_segment_close(s2, 1);
    ck_assert_int_ne(access(s->path, F_OK), -1);
    char p2[128];
    snprintf(p2, sizeof(p2), "%s/seg-0000000000000002.log", dir);
    ck_assert_int_eq(access(p2, F_OK), -1);
    char p1[128];
    snprintf(p1, sizeof(p1), "%s", s->path);
    gmq_segment_close(s, 1);
    ck_assert_int_eq(access(p1, F_OK), -1);
}
END_TEST

START_TEST(test_torn_tail)
{
    gmq_error_t err;
    gmq_segment_t *s = gmq_segment_create(dir, 1, 65536, 0, &err);
    append_n(s, 5, 1);
    size_t good = s->wpos;
    append_n(s, 1, 6);
    /* tear the last record: its tail bytes never made it */
    memset(s->map + s->wpos - 6, 0, 6);
    s->map[s->wpos - 7] ^= 0x55;
    gmq_segment_close(s, 0);

    s = gmq_segment_open(dir, 1, &err);
    seen_t x = { 0 };
    unsigned corrupt = 0;
    gmq_segment_scan(s, 0, collect, &x, &corrupt);
    ck_assert_int_eq(x.n, 5);
    ck_assert_uint_eq(corrupt, 0);
    ck_assert_uint_eq(s->wpos, good);
    for (size_t i = good; i < good + 64; i++)
        ck_assert_int_eq(s->map[i], 0);       /* truncated: zeroed */
    append_n(s, 1, 7);                        /* appends go where the tear was */
    gmq_segment_close(s, 0);
    s = gmq_segment_open(dir, 1, &err);
    memset(&x, 0, sizeof(x));
    gmq_segment_scan(s, 0, collect, &x, &corrupt);
    ck_assert_int_eq(x.n, 6);
    ck_assert_uint_eq(x.ids[5], 7);
    gmq_segment_close(s, 0);
}
END_TEST

START_TEST(test_corrupt_middle_via_file)
{
    gmq_error_t err;
    gmq_segment_t *s = gmq_segment_create(dir, 1, 65536, 0, &err);
    append_n(s, 10, 1);
    size_t rec = gmq_record_size(strlen("message 0"));
    char path[128];
    snprintf(path, sizeof(path), "%s", s->path);
    gmq_segment_close(s, 0);
    /* garbage over the 4th record, written through the file */
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    char junk[20];
    memset(junk, 0xAB, sizeof(junk));
    ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), (off_t) (3 * rec + 10)), (ssize_t) sizeof(junk));
    close(fd);

    s = gmq_segment_open(dir, 1, &err);
    seen_t x = { 0 };
    unsigned corrupt = 0;
    gmq_segment_scan(s, 0, collect, &x, &corrupt);
    ck_assert_int_eq(x.n, 9);
    ck_assert_uint_eq(corrupt, 1);
    ck_assert_uint_eq(x.ids[2], 3);
    ck_assert_uint_eq(x.ids[3], 5);
    ck_assert_uint_eq(s->wpos, 10 * rec);
    gmq_segment_close(s, 0);
}
END_TEST

START_TEST(test_zeroed_hole_in_middle)
{
    gmq_error_t err;
    gmq_segment_t *s = gmq_segment_create(dir, 1, 1 << 20, 0, &err);
    append_n(s, 10, 1);
    size_t rec = gmq_record_size(strlen("message 0"));
    memset(s->map + 2 * rec, 0, 3 * rec);     /* a page that never reached disk */
    gmq_segment_close(s, 0);
    s = gmq_segment_open(dir, 1, &err);
    seen_t x = { 0 };
    unsigned corrupt = 0;
    gmq_segment_scan(s, 0, collect, &x, &corrupt);
    ck_assert_int_eq(x.n, 7);
    ck_assert_uint_eq(corrupt, 1);
    ck_assert_uint_eq(x.ids[2], 6);
    ck_assert_uint_eq(s->wpos, 10 * rec);
    gmq_segment_close(s, 0);
}
END_TEST

typedef struct {
    int          n;
    gmq_record_t r[4];
} recs_t;

static void
collect_recs(void *arg, gmq_segment_t *s, const gmq_record_t *r, size_t off)
{
    (void) s;
    (void) off;
    recs_t *x = arg;
    if (x->n < (int) GMQ_ARRAY_LEN(x->r))
        x->r[x->n] = *r;
    x->n++;
}

/* every record type with every body length 0..16, written right after a
 * corrupt record (a message or a state record): resync finds it, even when
 * its last words are zero (an empty body, ts/due/retry 0, a zero body) */
START_TEST(test_resync_after_corrupt)
{
    gmq_error_t err;
    static const char zeros[16];
    uint64_t no = 0;
    for (int bad = 0; bad < 2; bad++)
        for (uint8_t type = GMQ_REC_MSG; type <= GMQ_REC_MOVED; type++)
            for (uint32_t len = 0; len <= 16; len++)
                for (int more = 0; more < 2; more++) {
                    gmq_segment_t *s = gmq_segment_create(dir, ++no, 65536, 0, &err);
                    ck_assert_ptr_nonnull(s);
                    gmq_record_t a = bad ? (gmq_record_t) { .type = GMQ_REC_DELIVER, .id = 5,
                                                           .ts = 1, .due = 2 }
                                         : (gmq_record_t) { .type = GMQ_REC_MSG, .id = 5,
                                                           .len = 10, .body = "0123456789" };
                    gmq_record_t b = { .type = type, .len = len, .id = 77, .body = zeros };
                    gmq_record_t c = { .type = GMQ_REC_ACK, .id = 78 };
                    size_t off = gmq_segment_append(s, &a);
                    gmq_segment_append(s, &b);
                    if (more)
                        gmq_segment_append(s, &c);
                    s->map[off + 20] ^= 0x40;            /* inside a's id: bad CRC */
                    gmq_segment_close(s, 0);

                    s = gmq_segment_open(dir, no, &err);
                    ck_assert_ptr_nonnull(s);
                    recs_t x = { 0 };
                    unsigned corrupt = 0;
                    gmq_segment_scan(s, 0, collect_recs, &x, &corrupt);
                    ck_assert_msg(x.n == 1 + more && corrupt == 1,
                                  "bad %d type %u len %u more %d: %d records, %u corrupt", bad,
                                  type, len, more, x.n, corrupt);
                    ck_assert_uint_eq(x.r[0].type, type);
                    ck_assert_uint_eq(x.r[0].len, len);
                    ck_assert_uint_eq(x.r[0].id, 77);
                    if (more)
                        ck_assert_uint_eq(x.r[1].id, 78);
                    ck_assert_uint_eq(s->wpos, off + gmq_record_size(a.len) + gmq_record_size(len) +
                                               (more ? GMQ_RECORD_HDR : 0));
                    gmq_segment_close(s, 1);
                }
}
END_TEST

static int
fail_enospc(int fd, off_t off, off_t len)
{
    (void) fd;
    (void) off;
    (void) len;
    return ENOSPC;
}

START_TEST(test_full_disk)
{
    gmq_error_t err;
    gmq_seam.fallocate = fail_enospc;
    ck_assert_ptr_null(gmq_segment_create(dir, 1, 65536, 0, &err));
    ck_assert_int_eq(err.code, GMQ_E_STORAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "no space left on device"));
    char p[128];
    snprintf(p, sizeof(p), "%s/seg-0000000000000001.log", dir);
    ck_assert_int_eq(access(p, F_OK), -1);     /* nothing left behind */
    gmq_seam_reset();
    gmq_segment_t *s = gmq_segment_create(dir, 1, 65536, 0, &err);
    ck_assert_ptr_nonnull(s);
    gmq_segment_close(s, 1);
}
END_TEST

START_TEST(test_enospc_env_file)
{
    char flag[128];
    snprintf(flag, sizeof(flag), "%s/full", dir);
    setenv("GMQ_FAULT_ENOSPC_FILE", flag, 1);
    gmq_error_t err;
    gmq_segment_t *s = gmq_segment_create(dir, 1, 65536, 0, &err);
    ck_assert_ptr_nonnull(s);                  /* flag file absent: works */
    gmq_segment_close(s, 1);
    FILE *f = fopen(flag, "w");
    fclose(f);
    ck_assert_ptr_null(gmq_segment_create(dir, 2, 65536, 0, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "no space left on device"));
    unlink(flag);
    s = gmq_segment_create(dir, 2, 65536, 0, &err);
    ck_assert_ptr_nonnull(s);
    gmq_segment_close(s, 1);
    unsetenv("GMQ_FAULT_ENOSPC_FILE");
}
END_TEST

START_TEST(test_parse_name)
{
    uint64_t no;
    ck_assert(gmq_segment_parse_name("seg-00000000000000ff.log", &no));
    ck_assert_uint_eq(no, 255);
    ck_assert(!gmq_segment_parse_name("seg-00000000000000ff.tmp", &no));
    ck_assert(!gmq_segment_parse_name("seg-0ff.log", &no));
    ck_assert(!gmq_segment_parse_name("seg-00000000000000FG.log", &no));
}
END_TEST

static Suite *
segment_suite(void)
{
    Suite *s = suite_create("segment");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_create_append_scan);
    tcase_add_test(tc, test_torn_tail);
    tcase_add_test(tc, test_corrupt_middle_via_file);
    tcase_add_test(tc, test_zeroed_hole_in_middle);
    tcase_add_test(tc, test_resync_after_corrupt);
    tcase_add_test(tc, test_full_disk);
    tcase_add_test(tc, test_enospc_env_file);
    tcase_add_test(tc, test_parse_name);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(segment_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

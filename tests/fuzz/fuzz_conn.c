/*
 * fuzz_conn.c - owns the socketless master of the connection fuzz targets
 * (see fuzz_conn.h): its configuration, loop, request and worker tables,
 * and the io table that captures what a connection writes.
 */
#include "fuzz_conn.h"
#include "fuzz.h"
#include "master/conn.h"
#include "master/sup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t conn_cap_read(gmq_conn_t *c, void *buf, size_t n);
static ssize_t conn_cap_write(gmq_conn_t *c, const void *buf, size_t n);
static void    conn_cap_close(gmq_conn_t *c);

static const gmq_conn_io_t conn_cap_io = { conn_cap_read, conn_cap_write, conn_cap_close, NULL };

static gmq_master_t conn_master;
static int          conn_ready;
static char         conn_dir[PATH_MAX];
static char        *conn_no_token, *conn_token;
static gmq_buf_t   *conn_out;       /* where the connection being run writes */
static uint64_t     conn_seed;

static void conn_cleanup(void);

gmq_master_t *
fuzz_conn_master(const fuzz_conn_limits_t *lim)
{
    gmq_master_t *m = &conn_master;
    if (!conn_ready) {
        conn_ready = 1;
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(conn_dir, sizeof(conn_dir), "%s/gmq-fuzz-conn-%d", base ? base : "/tmp",
                 (int) getpid());
        FUZZ_CHECK(gmq_mkdir_p(conn_dir, 0700) == 0);
        atexit(conn_cleanup);
        gmq_log_open(0, "/dev/null");
        memset(m, 0, sizeof(*m));
        m->tcp_fd = m->http_fd = m->sig_fd = m->lock_fd = -1;
        gmq_list_init(&m->conns);
        gmq_list_init(&m->dead_conns);
        gmq_list_init(&m->flushq);
        gmq_list_init(&m->chans);
        char arg0[] = "fuzz", *argv[] = { arg0, NULL };
        char err[256];
        FUZZ_CHECK(gmq_config_load(&m->cfg, 1, argv, NULL, err, sizeof(err)) == GMQ_OK);
        free(m->cfg.data_save_path);
        m->cfg.data_save_path = gmq_xstrdup(conn_dir);    /* empty: no topic exists */
        m->cfg.max_topics = 0;                             /* and none is started */
        conn_no_token = m->cfg.auth_token;
        conn_token = gmq_xstrdup("s3cret-t0ken");
        m->loop = ev_loop_new(EVFLAG_AUTO);
        m->reqs = gmq_reqs_new();
        gmq_id_init(&m->ids, m->cfg.node_id);
        m->started_ms = gmq_now_ms();
        m->sup = gmq_sup_new(m);
    }
    m->cfg.max_header = (long) lim->max_header;
    m->cfg.max_body = (long) lim->max_body;
    m->cfg.max_line = (int) lim->max_line;
    m->cfg.max_mpub = lim->max_mpub;
    m->cfg.auth_token = lim->auth ? conn_token : conn_no_token;
    return m;
}

void
fuzz_conn_run(gmq_master_t *m, gmq_proto_t proto, const char *data, size_t n, uint64_t seed,
              gmq_buf_t *out)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    gmq_conn_t *c = gmq_conn_new(m, fd, proto);
    c->io = &conn_cap_io;
    conn_out = out;
    conn_seed = seed;
    size_t fed = 0;
    while (fed < n && !c->dead) {
        /* one read: what conn.c's read callback does with it */
        uint64_t r = fuzz_rand(&conn_seed);
        size_t chunk = (r & 7) == 0 ? n - fed : 1 + (r >> 8) % 96;
        if (chunk > n - fed)
            chunk = n - fed;
        if (c->closing) {
            fed += chunk;                 /* an error is on its way: input dropped */
        } else {
            gmq_buf_append(&c->in, data + fed, chunk);
            fed += chunk;
            if (proto == GMQ_PROTO_HTTP)
                gmq_http_on_data(c);
            else
                gmq_tcp_on_data(c);
        }
        /* the end of the loop iteration; a closed connection is freed there
         * (it is the only one: gone from both lists = freed) */
        gmq_conn_run_queues(m);
        if (gmq_list_empty(&m->conns) && gmq_list_empty(&m->dead_conns)) {
            c = NULL;
            break;
        }
    }
    if (c != NULL) {
        gmq_conn_close(c);      /* the client hangs up */
        gmq_conn_run_queues(m);
    }
    FUZZ_CHECK(gmq_list_empty(&m->conns) && gmq_list_empty(&m->dead_conns) && m->nconns == 0);
    FUZZ_CHECK(gmq_list_empty(&m->chans) && m->nchans == 0);   /* subscriptions went with it */
    FUZZ_CHECK(gmq_reqs_count(m->reqs) == 0);
    conn_out = NULL;
}

static ssize_t
conn_cap_read(gmq_conn_t *c, void *buf, size_t n)
{
    (void) c; (void) buf; (void) n;
    errno = EAGAIN;
    return -1;
}

/* the socket takes all, or a part (a full send buffer) */
static ssize_t
conn_cap_write(gmq_conn_t *c, const void *buf, size_t n)
{
    (void) c;
    FUZZ_CHECK(n > 0);
    uint64_t r = fuzz_rand(&conn_seed);
    size_t take = (r & 3) == 0 ? 1 + (r >> 8) % n : n;
    if (conn_out != NULL)
        gmq_buf_append(conn_out, buf, take);
    return (ssize_t) take;
}

static void
conn_cap_close(gmq_conn_t *c)
{
    (void) c;
}

static int
conn_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

static void
conn_cleanup(void)
{
    nftw(conn_dir, conn_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * bench_run.c - gmq-bench's run: the connections and their pipeline slots
 * on one libev loop, the workloads as phases (push, pop+ack, drain = push
 * then pop+ack, mixed = producers and consumers at once), the quotas per
 * connection and topic, the stall check, and the latencies per message.
 * The drivers send commands; their answers come back to gmq_bench_done.
 */
#include "client/bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void run_tick(struct ev_loop *loop, ev_timer *w, int revents);
static int  run_loop(gmq_bench_t *b, int (*until)(gmq_bench_t *b));
static int  run_all_ready(gmq_bench_t *b);
static int  run_phases_done(gmq_bench_t *b);
static void run_assign(gmq_bench_t *b, gmq_bench_phase_t *ph, int first, int n);
static void run_phase_init(gmq_bench_phase_t *ph, const char *name, long target);
static int  run_producers(const gmq_bench_opts_t *o);
static void run_fill(gmq_bench_conn_t *c);
static void run_finish(gmq_bench_slot_t *s, int ok, const char *err);
static void run_show_error(gmq_bench_t *b, int op, const char *err);
static int  run_cmp_u64(const void *a, const void *b);

int
gmq_bench_run(gmq_bench_t *b)
{
    const gmq_bench_opts_t *o = b->o;
    b->topic_names = gmq_xcalloc((size_t) o->topics, sizeof(*b->topic_names));
    for (int t = 0; t < o->topics; t++) {
        if (o->topics == 1)
            snprintf(b->topic_names[t], sizeof(b->topic_names[t]), "%s", o->topic);
        else
            snprintf(b->topic_names[t], sizeof(b->topic_names[t]), "%s.%d", o->topic, t);
    }
    b->conns = gmq_xcalloc((size_t) o->conns, sizeof(*b->conns));
    for (int i = 0; i < o->conns; i++) {
        gmq_bench_conn_t *c = &b->conns[i];
        c->b = b;
        c->index = i;
        /* mixed: producers and consumers each spread over the topics */
        c->topic = (i < run_producers(o) ? i : i - run_producers(o)) % o->topics;
        c->slots = gmq_xcalloc((size_t) o->pipeline, sizeof(*c->slots));
        for (int k = o->pipeline; k-- > 0;) {
            c->slots[k].conn = c;
            c->slots[k].next = c->free;
            c->free = &c->slots[k];
        }
        c->body = gmq_xmalloc(o->size + 1);
        memset(c->body, 'x', o->size);
        c->body[o->size] = '\0';
    }
    ev_timer_init(&b->tick, run_tick, 1.0, 1.0);
    b->tick.data = b;
    ev_timer_start(b->loop, &b->tick);
    b->last_rx = gmq_bench_now();

    /* connected and set up before any clock starts */
    for (int i = 0; i < o->conns && !b->fatal; i++)
        if (b->drv->open(&b->conns[i]) != GMQ_OK)
            break;
    int rc = run_loop(b, run_all_ready), all = o->conns, producers = run_producers(o);
    if (rc == GMQ_OK) {
        switch (o->workload) {
        case GMQ_BENCH_PUSH:
            run_assign(b, &b->push, 0, all);
            break;
        case GMQ_BENCH_POPACK:
            run_assign(b, &b->popack, 0, all);
            break;
        case GMQ_BENCH_DRAIN:
            run_assign(b, &b->push, 0, all);
            rc = run_loop(b, run_phases_done);
            if (rc == GMQ_OK)
                run_assign(b, &b->popack, 0, all);
            break;
        case GMQ_BENCH_MIXED:
            /* the first half pushes while the second half pops and acks */
            run_assign(b, &b->push, 0, producers);
            run_assign(b, &b->popack, producers, all - producers);
            break;
        }
    }
    if (rc == GMQ_OK)
        rc = run_loop(b, run_phases_done);
    gmq_bench_phase_t *phs[] = { &b->push, &b->popack };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(phs); i++)
        if (phs[i]->lat != NULL)
            qsort(phs[i]->lat, (size_t) phs[i]->nlat, sizeof(uint64_t), run_cmp_u64);
    return rc;
}

void
gmq_bench_free(gmq_bench_t *b)
{
    b->closing = 1;
    if (b->conns != NULL) {
        for (int i = 0; i < b->o->conns; i++) {
            gmq_bench_conn_t *c = &b->conns[i];
            if (c->drv != NULL)
                b->drv->close(c);
            free(c->slots);
            free(c->body);
        }
    }
    if (ev_is_active(&b->tick))
        ev_timer_stop(b->loop, &b->tick);
    free(b->conns);
    free(b->topic_names);
    free(b->push.lat);
    free(b->popack.lat);
    b->conns = NULL;
    b->topic_names = NULL;
    b->push.lat = b->popack.lat = NULL;
}

void
gmq_bench_ready(gmq_bench_conn_t *c)
{
    if (c->ready)
        return;
    c->ready = 1;
    c->b->nready++;
    c->b->last_rx = gmq_bench_now();
    if (c->b->nready == c->b->o->conns)
        ev_break(c->b->loop, EVBREAK_ONE);
}

void
gmq_bench_fail(gmq_bench_t *b, const char *fmt, ...)
{
    if (b->fatal || b->closing)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->why, sizeof(b->why), fmt, ap);
    va_end(ap);
    b->fatal = 1;
    ev_break(b->loop, EVBREAK_ONE);
}

void
gmq_bench_done(gmq_bench_slot_t *s, int got, const char *err)
{
    gmq_bench_conn_t *c = s->conn;
    gmq_bench_t *b = c->b;
    if (b->closing)
        return;
    b->last_rx = gmq_bench_now();
    switch (s->op) {
    case GMQ_BENCH_OP_PUSH:
        b->pushed += err == NULL;
        run_finish(s, err == NULL, err);
        return;
    case GMQ_BENCH_OP_POP:
        if (err != NULL) {
            run_finish(s, 0, err);
        } else if (got) {
            b->popped++;
            s->op = GMQ_BENCH_OP_ACK;           /* the ack keeps the slot */
            b->drv->ack(c, s);
        } else if (b->o->workload == GMQ_BENCH_MIXED) {
            s->t0 = gmq_bench_now();            /* the producers are behind: wait again */
            b->drv->pop(c, s);
        } else {
            /* the queue ran dry: what is left would wait as long, each */
            char q[2 * GMQ_BENCH_NAME_MAX + 2];
            gmq_bench_qname(c, q, sizeof(q));
            gmq_bench_fail(b, "pop: no message within %d s: queue %s is empty (%ld of %ld popped; "
                           "popack takes what an earlier push left)", GMQ_BENCH_POP_WAIT_S, q,
                           b->popped, b->popack.target);
        }
        return;
    case GMQ_BENCH_OP_ACK:
        b->acked += err == NULL;
        run_finish(s, err == NULL, err);
        return;
    default:
        gmq_bench_fail(b, "connection %d: an answer for no command", c->index);
        return;
    }
}

void
gmq_bench_qname(const gmq_bench_conn_t *c, char *out, size_t n)
{
    snprintf(out, n, "%s_%s", c->b->topic_names[c->topic], c->b->o->queue);
}

uint64_t
gmq_bench_now(void)
{
    return gmq_mono_ns();
}

double
gmq_bench_pct(const gmq_bench_phase_t *ph, double p)
{
    if (ph->nlat == 0)
        return 0;
    /* nearest rank */
    long i = (long) (p * (double) ph->nlat + 0.5) - 1;
    if (i < 0)
        i = 0;
    if (i >= ph->nlat)
        i = ph->nlat - 1;
    return (double) ph->lat[i] / 1000.0;
}

/* ---- static helpers ---- */

/* runs the loop until until(b) holds (GMQ_OK) or the run fails (GMQ_ERR) */
static int
run_loop(gmq_bench_t *b, int (*until)(gmq_bench_t *b))
{
    b->last_rx = gmq_bench_now();
    while (!b->fatal && !until(b))
        ev_run(b->loop, EVRUN_ONCE);
    return b->fatal ? GMQ_ERR : GMQ_OK;
}

/* mixed: how many connections push (the rest pop and ack); else all */
static int
run_producers(const gmq_bench_opts_t *o)
{
    return o->workload == GMQ_BENCH_MIXED ? (o->conns + 1) / 2 : o->conns;
}

static int
run_all_ready(gmq_bench_t *b)
{
    return b->nready == b->o->conns;
}

static int
run_phases_done(gmq_bench_t *b)
{
    return b->push.finished == b->push.target && b->popack.finished == b->popack.target;
}

/* Connections first..first+n-1 work for ph: member i uses topic i % topics,
 * each topic gets its share of the messages, split among its members, so a
 * pop+ack run takes from each topic what a push run with the same options
 * put there. Then the clock starts and the pipelines fill. */
static void
run_assign(gmq_bench_t *b, gmq_bench_phase_t *ph, int first, int n)
{
    const gmq_bench_opts_t *o = b->o;
    long total = o->messages;
    int topics = o->topics;
    run_phase_init(ph, ph == &b->push ? "push" : "popack", total);
    for (int i = 0; i < n; i++) {
        gmq_bench_conn_t *c = &b->conns[first + i];
        int t = i % topics, rank = i / topics;
        long per_topic = total / topics + (t < total % topics);
        long members = n / topics + (t < n % topics);
        c->ph = ph;
        c->quota = per_topic / members + (rank < per_topic % members);
        c->started = 0;
    }
    ph->t0 = gmq_bench_now();
    for (int i = 0; i < n; i++)
        run_fill(&b->conns[first + i]);
}

static void
run_phase_init(gmq_bench_phase_t *ph, const char *name, long target)
{
    free(ph->lat);
    memset(ph, 0, sizeof(*ph));
    ph->name = name;
    ph->target = target;
    ph->lat = gmq_xmalloc((size_t) (target > 0 ? target : 1) * sizeof(uint64_t));
}

/* keep the pipeline full while the quota lasts */
static void
run_fill(gmq_bench_conn_t *c)
{
    gmq_bench_t *b = c->b;
    const gmq_bench_opts_t *o = b->o;
    /* a driver that fails a command at once finishes it from in here: the
     * loop below goes on, rather than a recursion per message */
    if (c->filling)
        return;
    c->filling = 1;
    while (c->free != NULL && c->ph != NULL && c->started < c->quota && !b->fatal) {
        gmq_bench_slot_t *s = c->free;
        c->free = s->next;
        s->next = NULL;
        c->inflight++;
        c->started++;
        s->t0 = gmq_bench_now();
        s->msg = NULL;
        s->id = 0;
        if (c->ph == &b->push) {
            /* a unique body: "<connection>.<n>." then x's (Redis' LREM acks by body) */
            char head[48];
            int k = snprintf(head, sizeof(head), "%d.%ld.", c->index, c->started);
            memcpy(c->body, head, (size_t) k < o->size ? (size_t) k : o->size);
            s->op = GMQ_BENCH_OP_PUSH;
            b->drv->push(c, s, c->body, o->size);
        } else {
            s->op = GMQ_BENCH_OP_POP;
            b->drv->pop(c, s);
        }
    }
    c->filling = 0;
}

/* the slot's message is finished, well or not: its latency, the phase, the next command */
static void
run_finish(gmq_bench_slot_t *s, int ok, const char *err)
{
    gmq_bench_conn_t *c = s->conn;
    gmq_bench_t *b = c->b;
    gmq_bench_phase_t *ph = c->ph;
    uint64_t now = gmq_bench_now();
    if (ph == NULL) {
        gmq_bench_fail(b, "connection %d: an answer outside a phase", c->index);
        return;
    }
    if (!ok)
        run_show_error(b, s->op, err ? err : "failed");
    if (ok && ph->nlat < ph->target)        /* the latency of messages done well */
        ph->lat[ph->nlat++] = now - s->t0;
    ph->ok += ok;
    ph->errors += !ok;
    ph->finished++;
    if (ph->finished == ph->target)
        ph->t1 = now;
    s->op = 0;
    s->next = c->free;
    c->free = s;
    c->inflight--;
    run_fill(c);
}

static void
run_show_error(gmq_bench_t *b, int op, const char *err)
{
    static const char *const names[] = { "", "push", "pop", "ack" };
    if (b->fatal || b->errshown++ >= GMQ_BENCH_MAX_ERRSHOW)
        return;
    fprintf(stderr, "gmq-bench: %s answered: %s\n", names[op], err);
    if (b->errshown == GMQ_BENCH_MAX_ERRSHOW)
        fprintf(stderr, "gmq-bench: (further errors are counted, not shown)\n");
}

/* once a second: a run with commands in flight and no answer for GMQ_BENCH_STALL_S is stalled */
static void
run_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    gmq_bench_t *b = w->data;
    (void) loop;
    (void) revents;
    uint64_t now = gmq_bench_now();
    if (now - b->last_rx < (uint64_t) GMQ_BENCH_STALL_S * 1000000000u)
        return;
    long inflight = 0;
    for (int i = 0; i < b->o->conns; i++)
        inflight += b->conns[i].inflight;
    if (b->nready < b->o->conns)
        gmq_bench_fail(b, "stalled: %d of %d connections set up after %d s", b->nready, b->o->conns,
                       GMQ_BENCH_STALL_S);
    else if (inflight > 0)
        gmq_bench_fail(b, "stalled: no answer for %d s with %ld commands in flight (push %ld of %ld "
                       "done, pop+ack %ld of %ld)", GMQ_BENCH_STALL_S, inflight, b->push.finished,
                       b->push.target, b->popack.finished, b->popack.target);
}

static int
run_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

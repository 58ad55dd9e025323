/*
 * check_topic.c - the storage engine through its API (worker/topic.h) with
 * simulated time: push/pop/ack, TTR and retries, dead letters, delay,
 * reopening after close, routing modes, fan-out, full disk, the directory
 * lock, the queue limit, the regex budget of a push. What is on disk
 * (recovery after damage, disk use, segments, the sync policy, node
 * settings on an open topic, upgrades): check_topicstore.c; the counters
 * file: check_counters.c.
 */

#include "topic_fixture.h"

START_TEST(test_push_pop_ack)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    ck_assert_int_eq(gmq_topic_declare(t, "work", &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_declare(t, "work", &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_DECLARE);
    ck_assert_str_eq(err.msg, "bindKey work has exist.");
    push_ok(t, 1001, "work", "first", 0, T0);
    push_ok(t, 1002, "work", "second", 0, T0);
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_OK);
    ck_assert_int_eq(gmq_topic_push(t, 1001, "work", "dup", 3, 0, T0, &err), GMQ_ERR);
    gmq_msg_t m = pop_ok(t, "work", T0);
    ck_assert_uint_eq(m.id, 1001);
    ck_assert_uint_eq(m.retry, 0);
    ck_assert_uint_eq(m.len, 5);
    ck_assert(memcmp(m.body, "first", 5) == 0);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), T0 + 30000);
    ck_assert_int_eq(gmq_topic_ack(t, "work", 1001, &err), GMQ_OK);
    m = pop_ok(t, "work", T0);
    ck_assert_uint_eq(m.id, 1002);
    ck_assert_int_eq(gmq_topic_ack(t, "work", 1002, &err), GMQ_OK);
    expect_empty(t, "work", T0);
    ck_assert_int_eq(gmq_topic_pop(t, "nope", T0, &m, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_POP);
    ck_assert_int_eq(stat_field(t, "push_num"), 2);
    ck_assert_int_eq(stat_field(t, "acked_num"), 2);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), 0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_ack_errors)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    push_ok(t, 7, "", "x", 0, T0);
    ck_assert_int_eq(gmq_topic_ack(t, "", 7, &err), GMQ_ERR);       /* not delivered yet */
    ck_assert_int_eq(gmq_topic_ack(t, "", 999, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ACK);
    ck_assert_str_eq(err.msg, "msgId:999 is not exist.");
    pop_ok(t, "", T0);
    ck_assert_int_eq(gmq_topic_ack(t, "default", 7, &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_ack(t, "default", 7, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ACK);
    ck_assert_int_eq(gmq_topic_ack(t, "nosuch", 7, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ACK);
    ck_assert_str_eq(err.msg, "bindkey:nosuch is not associated with queue");
    gmq_topic_close(t);
}
END_TEST

/* the original's texts for a bind key without a queue */
START_TEST(test_unknown_bind_key)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    gmq_msg_t m;
    int moved = 0;
    ck_assert_int_eq(gmq_topic_ack(t, "", 1, &err), GMQ_ERR);      /* no default queue yet */
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ACK);
    ck_assert_str_eq(err.msg, "bindkey:default is not associated with queue");
    ck_assert_int_eq(gmq_topic_dead(t, "nosuch", T0, &m, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_DEAD);
    ck_assert_str_eq(err.msg, "bindkey:nosuch is not associated with queue");
    ck_assert_int_eq(gmq_topic_requeue(t, "nosuch", 5, T0, &moved, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_DEAD);
    ck_assert_str_eq(err.msg, "bindkey:nosuch is not associated with queue");
    ck_assert_int_eq(gmq_topic_requeue(t, "nosuch", 0, T0, &moved, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_DEAD);
    ck_assert_int_eq(gmq_topic_release(t, "nosuch", 5, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_DEAD);
    ck_assert_str_eq(err.msg, "bindkey:nosuch is not associated with queue");
    ck_assert_int_eq(gmq_topic_pop(t, "nosuch", T0, &m, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_POP);
    ck_assert_str_eq(err.msg, "bindKey:nosuch can't match queue");
    /* a known queue keeps the message texts */
    ck_assert_int_eq(gmq_topic_declare(t, "q", &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_ack(t, "q", 5, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ACK);
    ck_assert_str_eq(err.msg, "msgId:5 is not exist.");
    ck_assert_int_eq(gmq_topic_release(t, "q", 5, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ACK);
    ck_assert_int_eq(gmq_topic_dead(t, "q", T0, &m, &err), GMQ_AGAIN);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_auto_ack)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    gmq_topic_conf_t c = { .auto_ack = 1, .mode = -1, .ttr = -1, .retry = -1 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_OK);
    push_ok(t, 1, "", "a", 0, T0);
    push_ok(t, 2, "", "b", 0, T0);
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 1);
    ck_assert(memcmp(m.body, "a", 1) == 0);
    ck_assert_int_eq(gmq_topic_ack(t, "", 1, &err), GMQ_ERR);   /* already done */
    ck_assert_uint_eq(gmq_topic_next_deadline(t), 0);          /* no TTR clock */
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 3600000), 0);
    gmq_topic_close(t);
    t = open_topic();
    m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 2);
    expect_empty(t, "", T0);
    gmq_topic_close(t);
}
END_TEST

/* the worker's mode: an auto-ack delivery stays in flight until the master
 * confirms it reached the client (ack), or comes back after its TTR */
START_TEST(test_auto_ack_confirmed_delivery)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    gmq_store_opts_t o = opts;
    o.confirm_delivery = 1;
    gmq_topic_set_opts(t, &o);
    gmq_topic_conf_t c = { .auto_ack = 1, .mode = -1, .ttr = 5, .retry = -1 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_OK);
    push_ok(t, 1, "", "a", 0, T0);
    push_ok(t, 2, "", "b", 0, T0);
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 1);
    ck_assert_int_eq(gmq_topic_ack(t, "", 1, &err), GMQ_OK);      /* confirmed */
    m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 2);                                   /* never confirmed */
    expect_empty(t, "", T0);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 5000), 1);            /* back after its TTR */
    m = pop_ok(t, "", T0 + 5000);
    ck_assert_uint_eq(m.id, 2);
    ck_assert_uint_eq(m.retry, 1);
    ck_assert_int_eq(gmq_topic_release(t, "", 2, &err), GMQ_OK);  /* a lost write: back at once */
    m = pop_ok(t, "", T0 + 5000);
    ck_assert_uint_eq(m.id, 2);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_ttr_retry_dead_requeue)
{
    gmq_topic_t *t = open_topic();          /* retry limit 2, TTR 30 s */
    gmq_error_t err;
    uint64_t now = T0;
    push_ok(t, 42, "", "payload", 0, now);
    for (uint32_t r = 0; r <= 2; r++) {
        gmq_msg_t m = pop_ok(t, "", now);
        ck_assert_uint_eq(m.id, 42);
        ck_assert_uint_eq(m.retry, r);
        ck_assert_int_eq(gmq_topic_tick(t, now + 29999), 0);
        now += 30000;
        ck_assert_uint_eq(gmq_topic_next_deadline(t), now);
        ck_assert_int_eq(gmq_topic_tick(t, now), 1);
        ck_assert_int_eq(gmq_topic_ack(t, "", 42, &err), GMQ_ERR);  /* too late */
    }
    /* the third expiry was past msgRetry=2: dead-lettered */
    expect_empty(t, "", now);
    ck_assert_int_eq(stat_field(t, "dead_num"), 1);
    ck_assert_int_eq(stat_field(t, "timeout_num"), 3);
    ck_assert_int_eq(stat_field(t, "dead_lettered_num"), 1);   /* a counter: dead letters ever */
    gmq_msg_t d;
    ck_assert_int_eq(gmq_topic_dead(t, "", now, &d, &err), GMQ_OK);
    ck_assert_uint_eq(d.id, 42);
    ck_assert_uint_eq(d.retry, 3);
    ck_assert(memcmp(d.body, "payload", 7) == 0);
    ck_assert_int_eq(gmq_topic_dead(t, "", now, &d, &err), GMQ_AGAIN);
    ck_assert_int_eq(gmq_topic_ack(t, "", 42, &err), GMQ_OK);        /* acked in the DLQ */
    ck_assert_int_eq(stat_field(t, "dead_num"), 0);

    /* a second one dies, then goes back with retry 0 */
    push_ok(t, 43, "", "again", 0, now);
    for (int r = 0; r <= 2; r++) {
        pop_ok(t, "", now);
        now += 30000;
        gmq_topic_tick(t, now);
    }
    int moved = 0;
    ck_assert_int_eq(gmq_topic_requeue(t, "", 999, now, &moved, &err), GMQ_ERR);
    ck_assert_int_eq(gmq_topic_requeue(t, "", 43, now, &moved, &err), GMQ_OK);
    ck_assert_int_eq(moved, 1);
    gmq_msg_t m = pop_ok(t, "", now);
    ck_assert_uint_eq(m.id, 43);
    ck_assert_uint_eq(m.retry, 0);
    ck_assert(memcmp(m.body, "again", 5) == 0);
    ck_assert_int_eq(gmq_topic_ack(t, "", 43, &err), GMQ_OK);

    /* requeue all, including one in flight in the DLQ, and survive reopen */
    push_ok(t, 50, "", "x", 0, now);
    push_ok(t, 51, "", "y", 0, now);
    for (int r = 0; r <= 2; r++) {
        pop_ok(t, "", now);
        pop_ok(t, "", now);
        now += 30000;
        gmq_topic_tick(t, now);
    }
    ck_assert_int_eq(stat_field(t, "dead_num"), 2);
    ck_assert_int_eq(stat_field(t, "dead_lettered_num"), 4);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "dead_num"), 2);
    ck_assert_int_eq(stat_field(t, "dead_lettered_num"), 4);
    ck_assert_int_eq(gmq_topic_dead(t, "", now, &d, &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_requeue(t, "", 0, now, &moved, &err), GMQ_OK);
    ck_assert_int_eq(moved, 2);
    ck_assert_int_eq(stat_field(t, "dead_num"), 0);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 2);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "dead_num"), 0);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 2);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_release)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    push_ok(t, 1, "", "a", 0, T0);
    push_ok(t, 2, "", "b", 0, T0);
    pop_ok(t, "", T0);
    ck_assert_int_eq(gmq_topic_release(t, "", 1, &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_release(t, "", 1, &err), GMQ_ERR);
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 1);
    ck_assert_uint_eq(m.retry, 0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_delay)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    ck_assert_int_eq(gmq_topic_push(t, 1, "", "x", 1, opts.max_delay_ms + 1, T0, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_DELAY);
    push_ok(t, 1, "", "later", 5000, T0);
    push_ok(t, 2, "", "sooner", 2000, T0);
    push_ok(t, 3, "", "now", 0, T0);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), T0 + 2000);
    ck_assert_int_eq(stat_field(t, "delay_num"), 2);
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 3);
    gmq_topic_ack(t, "", 3, &err);
    expect_empty(t, "", T0 + 1999);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 1999), 0);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 2000), 1);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), T0 + 5000);
    m = pop_ok(t, "", T0 + 2000);
    ck_assert_uint_eq(m.id, 2);
    gmq_topic_ack(t, "", 2, &err);
    expect_empty(t, "", T0 + 4999);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 5000), 1);
    m = pop_ok(t, "", T0 + 5000);
    ck_assert_uint_eq(m.id, 1);
    ck_assert(memcmp(m.body, "later", 5) == 0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_survive_reopen)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    push_ok(t, 1, "", "acked", 0, T0);
    push_ok(t, 2, "", "inflight", 0, T0);
    push_ok(t, 3, "", "delayed", 60000, T0);
    push_ok(t, 4, "", "ready", 0, T0);
    pop_ok(t, "", T0);
    gmq_topic_ack(t, "", 1, &err);
    /* message 2: expires once (retry 1), then delivered again, never acked */
    pop_ok(t, "", T0);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 30000), 1);
    gmq_msg_t m = pop_ok(t, "", T0 + 30000);
    ck_assert_uint_eq(m.id, 4);
    m = pop_ok(t, "", T0 + 30000);
    ck_assert_uint_eq(m.id, 2);
    ck_assert_uint_eq(m.retry, 1);
    gmq_topic_sync(t, T0 + 30000);
    gmq_topic_close(t);

    t = open_topic();
    ck_assert_int_eq(stat_field(t, "delay_num"), 1);
    ck_assert_int_eq(stat_field(t, "wait_ack_num"), 0);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 2);
    ck_assert_uint_eq(gmq_topic_next_deadline(t), T0 + 60000);
    m = pop_ok(t, "", T0 + 31000);       /* in flight before: ready again */
    ck_assert_uint_eq(m.id, 4);
    ck_assert_uint_eq(m.retry, 0);
    m = pop_ok(t, "", T0 + 31000);
    ck_assert_uint_eq(m.id, 2);
    ck_assert_uint_eq(m.retry, 1);        /* retry count preserved */
    ck_assert(memcmp(m.body, "inflight", 8) == 0);
    expect_empty(t, "", T0 + 31000);
    ck_assert_int_eq(gmq_topic_tick(t, T0 + 60000), 1);
    m = pop_ok(t, "", T0 + 60000);
    ck_assert_uint_eq(m.id, 3);
    ck_assert(memcmp(m.body, "delayed", 7) == 0);
    gmq_buf_t b;
    gmq_buf_init(&b);
    ck_assert_int_eq(gmq_topic_lookup_json(t, 1, &b, &err), GMQ_ERR);   /* acked: gone */
    ck_assert_int_eq(err.code, GMQ_E_NOT_FOUND);
    ck_assert_int_eq(gmq_topic_lookup_json(t, 3, &b, &err), GMQ_OK);
    gmq_buf_append(&b, "", 1);
    ck_assert_ptr_nonnull(strstr(b.data, "\"id\":\"3\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"state\":\"in_flight\""));
    gmq_buf_free(&b);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_routing_modes_fanout)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    const char *keys[] = { "home", "homework", "a.x", "a.y", "b.x" };
    for (size_t i = 0; i < GMQ_ARRAY_LEN(keys); i++)
        ck_assert_int_eq(gmq_topic_declare(t, keys[i], &err), GMQ_OK);
    push_ok(t, 1, "", "to default", 0, T0);              /* default auto-created */
    /* mode 1 */
    push_ok(t, 2, "home", "m1", 0, T0);
    ck_assert_int_eq(gmq_topic_push(t, 3, "hom", "x", 1, 0, T0, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ROUTE);
    ck_assert_str_eq(err.msg, "routeKey:hom is not match with queue, the mode is 1");
    ck_assert_uint_eq(pop_ok(t, "home", T0).id, 2);
    expect_empty(t, "homework", T0);
    /* mode 2: unanchored search, default excluded */
    gmq_topic_conf_t c = { .auto_ack = 1, .mode = 2, .ttr = -1, .retry = -1 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_OK);
    push_ok(t, 4, "home", "m2", 0, T0);
    ck_assert_uint_eq(pop_ok(t, "home", T0).id, 4);
    ck_assert_uint_eq(pop_ok(t, "homework", T0).id, 4);   /* fan-out, same id */
    push_ok(t, 5, "^a\\.", "m2b", 0, T0);
    ck_assert_uint_eq(pop_ok(t, "a.x", T0).id, 5);
    ck_assert_uint_eq(pop_ok(t, "a.y", T0).id, 5);
    expect_empty(t, "b.x", T0);
    push_ok(t, 6, ".", "everything but default", 0, T0);
    ck_assert_uint_eq(pop_ok(t, "", T0).id, 1);
    expect_empty(t, "", T0);
    ck_assert_int_eq(gmq_topic_push(t, 7, "a(", "x", 1, 0, T0, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ROUTE);
    ck_assert_ptr_nonnull(strstr(err.msg, "parenthesis"));
    ck_assert_int_eq(gmq_topic_push(t, 8, "default", "x", 1, 0, T0, &err), GMQ_ERR);
    /* hostile pattern vs a long bind key: quick, no match */
    char longkey[129];
    memset(longkey, 'a', 127);
    longkey[127] = '-';
    longkey[128] = '\0';
    ck_assert_int_eq(gmq_topic_declare(t, longkey, &err), GMQ_OK);
    uint64_t t0 = gmq_mono_ms();
    int rc = gmq_topic_push(t, 9, "(a+)+$", "x", 1, 0, T0, &err);
    ck_assert_uint_lt(gmq_mono_ms() - t0, 2000);
    ck_assert_int_eq(rc, GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ROUTE);
    ck_assert_msg(strstr(err.msg, "limit") != NULL, "%s", err.msg);
    /* mode 3 */
    c = (gmq_topic_conf_t) { .auto_ack = -1, .mode = 3, .ttr = -1, .retry = -1 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_OK);
    while (gmq_topic_pop(t, "a.x", T0, &(gmq_msg_t) { 0 }, &err) == GMQ_OK) {}
    while (gmq_topic_pop(t, "a.y", T0, &(gmq_msg_t) { 0 }, &err) == GMQ_OK) {}
    while (gmq_topic_pop(t, "b.x", T0, &(gmq_msg_t) { 0 }, &err) == GMQ_OK) {}
    push_ok(t, 10, "*.x", "m3", 0, T0);
    ck_assert_uint_eq(pop_ok(t, "a.x", T0).id, 10);
    ck_assert_uint_eq(pop_ok(t, "b.x", T0).id, 10);
    expect_empty(t, "a.y", T0);
    push_ok(t, 11, "#", "all", 0, T0);
    expect_empty(t, "", T0);
    ck_assert_uint_eq(pop_ok(t, "a.y", T0).id, 11);
    ck_assert_uint_eq(pop_ok(t, "a.x", T0).id, 11);
    ck_assert_int_eq(gmq_topic_push(t, 12, "c.*", "x", 1, 0, T0, &err), GMQ_ERR);
    /* lookup lists every queue holding the id */
    c = (gmq_topic_conf_t) { .auto_ack = 0, .mode = -1, .ttr = -1, .retry = -1 };
    gmq_topic_set_config(t, &c, &err);
    push_ok(t, 13, "a.*", "fan", 0, T0);
    gmq_buf_t b;
    gmq_buf_init(&b);
    ck_assert_int_eq(gmq_topic_lookup_json(t, 13, &b, &err), GMQ_OK);
    gmq_buf_append(&b, "", 1);
    ck_assert_ptr_nonnull(strstr(b.data, "\"queues\":["));
    ck_assert_ptr_nonnull(strstr(b.data, "\"queue\":\"a.x\""));
    ck_assert_ptr_nonnull(strstr(b.data, "\"queue\":\"a.y\""));
    gmq_buf_reset(&b);
    gmq_topic_queues_json(t, &b);
    gmq_buf_append(&b, "", 1);
    ck_assert_ptr_nonnull(strstr(b.data, "\"a.x\":\"orders_a.x\""));
    gmq_buf_free(&b);
    /* ack is per queue */
    pop_ok(t, "a.x", T0);
    pop_ok(t, "a.y", T0);
    ck_assert_int_eq(gmq_topic_ack(t, "a.x", 13, &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_ack(t, "a.x", 13, &err), GMQ_ERR);
    ck_assert_int_eq(gmq_topic_ack(t, "a.y", 13, &err), GMQ_OK);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_config_persisted)
{
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    gmq_topic_conf_t c;
    gmq_topic_get_config(t, &c);
    ck_assert_int_eq(c.auto_ack, 0);
    ck_assert_int_eq(c.mode, 1);
    ck_assert_int_eq(c.ttr, 30);
    ck_assert_int_eq(c.retry, 2);
    c = (gmq_topic_conf_t) { .auto_ack = 1, .mode = 3, .ttr = 7, .retry = 9 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_OK);
    c = (gmq_topic_conf_t) { .auto_ack = -1, .mode = 4, .ttr = -1, .retry = -1 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_SET);
    ck_assert_int_eq(gmq_topic_declare(t, "empty", &err), GMQ_OK);
    gmq_topic_close(t);
    t = open_topic();
    gmq_topic_get_config(t, &c);
    ck_assert_int_eq(c.auto_ack, 1);
    ck_assert_int_eq(c.mode, 3);
    ck_assert_int_eq(c.ttr, 7);
    ck_assert_int_eq(c.retry, 9);
    ck_assert_int_eq(gmq_topic_declare(t, "empty", &err), GMQ_ERR);   /* binding kept */
    push_ok(t, 1, "empty", "x", 0, T0);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_lock_and_names)
{
    gmq_error_t err;
    gmq_topic_t *t = open_topic();
    ck_assert_ptr_null(gmq_topic_open("orders", &opts, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "locked"));
    ck_assert_ptr_null(gmq_topic_open("../etc", &opts, &err));
    ck_assert_int_eq(err.code, GMQ_E_INVALID_TOPIC);
    ck_assert_ptr_null(gmq_topic_open("a/b", &opts, &err));
    ck_assert_int_eq(err.code, GMQ_E_INVALID_TOPIC);
    ck_assert_int_eq(gmq_topic_declare(t, "..", &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_BINDKEY);
    ck_assert_int_eq(gmq_topic_declare(t, "x/y", &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_BINDKEY);
    gmq_topic_close(t);
    t = open_topic();                 /* lock released on close */
    gmq_topic_close(t);
    char nested[128];
    snprintf(nested, sizeof(nested), "%s/deeper/data", dir);
    opts.data_dir = nested;
    t = open_topic();                 /* data_dir created with its parents */
    gmq_topic_close(t);
}
END_TEST

static char fault_on;

static int
fault_fallocate(int fd, off_t off, off_t len)
{
    if (fault_on)
        return ENOSPC;
    return posix_fallocate(fd, off, len);
}

/* a held lock is waited for (the previous worker after /exitTopic may still
 * be exiting); past the wait errno says it is still held */
START_TEST(test_lock_wait)
{
    gmq_error_t err;
    gmq_topic_t *t = open_topic();
    errno = 0;
    ck_assert_ptr_null(gmq_topic_open("orders", &opts, &err));
    ck_assert_int_eq(errno, EWOULDBLOCK);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {                   /* holds the lock 150 ms more, then exits */
        usleep(150 * 1000);
        _exit(0);
    }
    gmq_topic_close(t);               /* the child still holds the inherited lock */
    opts.lock_wait_ms = 3000;
    t = open_topic();
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    gmq_topic_close(t);
}
END_TEST

/* a new topic on a full disk: refused with errno ENOSPC (worth a retry) */
START_TEST(test_open_full_disk)
{
    gmq_error_t err;
    gmq_seam.fallocate = fault_fallocate;
    fault_on = 1;
    errno = 0;
    ck_assert_ptr_null(gmq_topic_open("fresh", &opts, &err));
    ck_assert_int_eq(errno, ENOSPC);
    ck_assert_int_eq(err.code, GMQ_E_STORAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "no space"));
    fault_on = 0;
    gmq_topic_t *t = gmq_topic_open("fresh", &opts, &err);
    ck_assert_msg(t != NULL, "open: %s", err.msg);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_full_disk)
{
    opts.segment_size = 64 * 1024;
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    char body[1000];
    memset(body, 'z', sizeof(body));
    gmq_seam.fallocate = fault_fallocate;
    push_ok(t, 1, "", "first", 0, T0);          /* first segment allocated */
    fault_on = 1;
    uint64_t id = 2;
    int rc;
    while ((rc = gmq_topic_push(t, id, "", body, sizeof(body), 0, T0, &err)) == GMQ_OK)
        id++;
    ck_assert_int_eq(err.code, GMQ_E_STORAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "no space left on device"));
    uint64_t stored = id - 1;
    ck_assert_uint_gt(stored, 10);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), (long) stored);
    /* consumers still work: pop and ack fit in the segment's headroom */
    gmq_msg_t m = pop_ok(t, "", T0);
    ck_assert_uint_eq(m.id, 1);
    ck_assert_int_eq(gmq_topic_ack(t, "", 1, &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_sync(t, T0), GMQ_OK);
    fault_on = 0;
    push_ok(t, id, "", "after", 0, T0);
    gmq_topic_close(t);
    t = open_topic();
    ck_assert_int_eq(stat_field(t, "corrupt_records"), 0);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), (long) stored);
    for (uint64_t i = 2; i <= id; i++)
        ck_assert_uint_eq(pop_ok(t, "", T0).id, i);
    gmq_topic_close(t);
    gmq_seam_reset();
}
END_TEST

START_TEST(test_queue_limit)
{
    opts.max_queues = 2;
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    ck_assert_int_eq(gmq_topic_declare(t, "a", &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_declare(t, "b", &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_declare(t, "c", &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_LIMIT);
    ck_assert_str_eq(err.msg, "too many queues: topic orders has 2, max_queues_per_topic is 2");
    /* the on-demand default queue counts too */
    ck_assert_int_eq(gmq_topic_push(t, 1, "", "x", 1, 0, T0, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_LIMIT);
    ck_assert_str_eq(err.msg, "too many queues: topic orders has 2, max_queues_per_topic is 2");
    ck_assert_int_eq(gmq_topic_declare(t, "default", &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_LIMIT);
    gmq_msg_t m;
    ck_assert_int_eq(gmq_topic_pop(t, "", T0, &m, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_POP);
    ck_assert_int_eq(stat_field(t, "queue_num"), 2);
    gmq_topic_close(t);
    opts.max_queues = 3;                         /* room for it: created on the push */
    t = open_topic();
    push_ok(t, 1, "", "x", 0, T0);
    ck_assert_int_eq(stat_field(t, "queue_num"), 3);
    ck_assert_uint_eq(pop_ok(t, "default", T0).id, 1);
    gmq_topic_close(t);
}
END_TEST

START_TEST(test_regex_budget_per_push)
{
    opts.max_queues = 1000;
    gmq_topic_t *t = open_topic();
    gmq_error_t err;
    char bk[32];
    for (int i = 0; i < 200; i++) {
        snprintf(bk, sizeof(bk), "aaaaaaaaaaaaaa-%d", i);   /* ~100,000 steps each */
        ck_assert_int_eq(gmq_topic_declare(t, bk, &err), GMQ_OK);
    }
    gmq_topic_conf_t c = { .auto_ack = -1, .mode = GMQ_MODE_REGEX, .ttr = -1, .retry = -1 };
    ck_assert_int_eq(gmq_topic_set_config(t, &c, &err), GMQ_OK);
    ck_assert_int_eq(gmq_topic_push(t, 1, "(a+)+$", "x", 1, 0, T0, &err), GMQ_ERR);
    ck_assert_int_eq(err.code, GMQ_E_INVALID_ROUTE);
    ck_assert_msg(strstr(err.msg, "budget") != NULL, "%s", err.msg);
    ck_assert_int_eq(stat_field(t, "push_num"), 0);
    ck_assert_int_eq(stat_field(t, "queue_msg_num"), 0);
    push_ok(t, 2, "-1[0-9]$", "ten of them", 0, T0);     /* a plain pattern still routes */
    ck_assert_int_eq(stat_field(t, "push_num"), 10);
    gmq_topic_close(t);
}
END_TEST

static Suite *
topic_suite(void)
{
    Suite *s = suite_create("topic");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_push_pop_ack);
    tcase_add_test(tc, test_ack_errors);
    tcase_add_test(tc, test_unknown_bind_key);
    tcase_add_test(tc, test_auto_ack);
    tcase_add_test(tc, test_auto_ack_confirmed_delivery);
    tcase_add_test(tc, test_ttr_retry_dead_requeue);
    tcase_add_test(tc, test_release);
    tcase_add_test(tc, test_delay);
    tcase_add_test(tc, test_survive_reopen);
    tcase_add_test(tc, test_routing_modes_fanout);
    tcase_add_test(tc, test_config_persisted);
    tcase_add_test(tc, test_lock_and_names);
    tcase_add_test(tc, test_full_disk);
    tcase_add_test(tc, test_lock_wait);
    tcase_add_test(tc, test_open_full_disk);
    tcase_add_test(tc, test_queue_limit);
    tcase_add_test(tc, test_regex_budget_per_push);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(topic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

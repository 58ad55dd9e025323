/*
 * limits.h - fixed protocol limits shared by the master (which validates
 * every request once) and the workers (which size their buffers by them).
 * Configurable limits live in gmq_config_t; these are not configurable.
 */
#ifndef GMQ_LIMITS_H
#define GMQ_LIMITS_H

/* names (topics, bind keys, channels): GMQ_NAME_MAX in common/gmq.h */

#define GMQ_ROUTE_KEY_MAX   1024        /* bytes of a route key (a pattern in mode 2) */
#define GMQ_WAIT_MAX_S      86400       /* longest pop/dead timeout, seconds */
#define GMQ_TTR_MAX_S       86400       /* largest msgTTR, seconds */
#define GMQ_RETRY_MAX       1000        /* largest msgRetry */
#define GMQ_MODE_MAX        3           /* routing modes 1..3 */
#define GMQ_TCP_HEARTBEAT_S 5           /* 105 ping while a TCP pop waits */
/* an mpub is sent to its worker in chunks of at most this many body bytes,
 * one chunk at a time, so its stored items are always a prefix */
#define GMQ_MPUSH_CHUNK_BYTES (4u * 1024 * 1024)
/* queue management: dead letters one list shows, and the JSON bytes after
 * which it stops early; dead letters one kick moves; body bytes a peek or
 * list shows of one message (the rest is cut, "truncated":true) */
#define GMQ_LIST_DEAD_MAX   1000
#define GMQ_LIST_DEAD_BYTES (8u * 1024 * 1024)
#define GMQ_KICK_MAX        100000
#define GMQ_PEEK_BODY_MAX   (64u * 1024 * 1024)
/* /debug/crash (a test hook): longest time the worker keeps running with
 * its socket closed before it exits */
#define GMQ_CRASH_LINGER_MAX_MS 10000

#endif

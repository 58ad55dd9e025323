/*
 * gmq.h - the one header every module includes: return and exit codes,
 * forward typedefs, container_of and attribute macros, version.
 */
#ifndef GMQ_H
#define GMQ_H

#include <stddef.h>
#include <stdint.h>

#define GMQ_VERSION "0.1.0"

/* internal return codes (never sent to clients; see proto/errors.h) */
#define GMQ_OK     0
#define GMQ_ERR   -1
#define GMQ_AGAIN -2

/* process exit codes */
#define GMQ_EXIT_OK     0
#define GMQ_EXIT_ERR    1
#define GMQ_EXIT_CONFIG 2   /* bad configuration or usage */
#define GMQ_EXIT_FATAL  3   /* worker: do not respawn (bad data dir, lock held) */

/* names: topics, bind keys, channels */
#define GMQ_NAME_MAX 128

#define container_of(ptr, type, member) \
    ((type *) ((char *) (ptr) - offsetof(type, member)))

#define GMQ_UNUSED      __attribute__((unused))
#define GMQ_PRINTF(a,b) __attribute__((format(printf, a, b)))
/* 1 where freed objects may be kept for reuse (caches of requests and
 * responses); 0 under AddressSanitizer, so that it still sees every use of
 * a freed one */
#if defined(__SANITIZE_ADDRESS__)
#define GMQ_REUSE_FREED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GMQ_REUSE_FREED 0
#endif
#endif
#ifndef GMQ_REUSE_FREED
#define GMQ_REUSE_FREED 1
#endif
#define GMQ_NORETURN    __attribute__((noreturn))

#define GMQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef struct gmq_config_s gmq_config_t;
typedef struct gmq_buf_s    gmq_buf_t;
typedef struct gmq_master_s gmq_master_t;
typedef struct gmq_worker_s gmq_worker_t;

/* monotonic and wall clocks in milliseconds (common/util.c) */
uint64_t gmq_now_ms(void);
uint64_t gmq_mono_ms(void);
/* monotonic clock in nanoseconds, for latencies */
uint64_t gmq_mono_ns(void);
/* The loop clock of a process whose event loop calls gmq_clock_tick() at
 * the start of each iteration (the master): the clocks above as read then,
 * for what is stamped per request (ids, latencies, activity), where a read
 * per request cost the master 9% of its time. Before the first tick they
 * read the clock. */
void     gmq_clock_tick(void);
uint64_t gmq_loop_mono_ns(void);
uint64_t gmq_loop_mono_ms(void);
uint64_t gmq_loop_now_ms(void);
/* v in decimal at out (GMQ_U64_DEC_MAX bytes, NUL-terminated); its length */
#define GMQ_U64_DEC_MAX 21
size_t   gmq_u64_dec(char *out, uint64_t v);

/* 1 if s[0..len) is a valid topic/bind key/channel name: [A-Za-z0-9_.-]{1,128} */
int gmq_name_valid(const char *s, size_t len);

/* a strict unsigned decimal s[0..len): digits only (no sign, space or
 * NUL), at most max; GMQ_OK with *out, GMQ_ERR otherwise. The one number
 * parser for client input on every port. */
int gmq_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);

/* mkdir -p: create path and its missing parents with mode; 0 or -1 (errno) */
int gmq_mkdir_p(const char *path, unsigned mode);

/* allocation that aborts on out-of-memory (small internal allocations only) */
void *gmq_xmalloc(size_t n);
void *gmq_xcalloc(size_t n, size_t size);
void *gmq_xrealloc(void *p, size_t n);
char *gmq_xstrdup(const char *s);
char *gmq_xstrndup(const char *s, size_t n);

#endif

/*
 * route.h - route key vs bind key matching for the three topic modes. Pure
 * functions plus a small LRU cache of compiled PCRE2 patterns (mode 2),
 * matched with match and depth limits per bind key and a step budget per
 * push, so a hostile pattern cannot stall the worker.
 */
#ifndef GMQ_ROUTE_H
#define GMQ_ROUTE_H

#include "common/gmq.h"
#include "proto/errors.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gmq_route_cache_s gmq_route_cache_t;
typedef struct gmq_route_regex_s gmq_route_regex_t;

#define GMQ_ROUTE_CACHE_SLOTS 32
#define GMQ_ROUTE_MATCH_LIMIT 100000
#define GMQ_ROUTE_DEPTH_LIMIT 1000
/* steps (PCRE2 auto-callouts: one per pattern item tried) that one push may
 * spend matching its pattern against all the bind keys together: a plain
 * pattern takes 5..20 per bind key, a near-limit one ~100000 per key */
#define GMQ_ROUTE_PUSH_BUDGET 2000000

/* mode 1: 1 if equal */
int gmq_route_exact(const char *route_key, const char *bind_key);

/* mode 3: AMQP topic match of pattern against key; words are separated by
 * '.', '*' is exactly one word, '#' zero or more words. 1 match, 0 not. */
int gmq_route_topic_match(const char *pattern, const char *key);

gmq_route_cache_t *gmq_route_cache_new(size_t slots);   /* 0 = default size */
void               gmq_route_cache_free(gmq_route_cache_t *c);   /* NULL ok */

/* mode 2: the compiled pattern, from the cache or compiled now (evicting
 * the least recently used). NULL with err = E_INVALID_ROUTE and PCRE2's
 * message for an invalid pattern. Valid until the next call on the cache. */
gmq_route_regex_t *gmq_route_regex(gmq_route_cache_t *c, const char *pattern, gmq_error_t *err);
/* Unanchored search of re in subject: 1 match, 0 no match. *budget is the
 * number of steps left for this push (start from GMQ_ROUTE_PUSH_BUDGET) and
 * goes down by what the search used. GMQ_ERR with err = E_INVALID_ROUTE
 * naming the limit when the search hit the match, depth or heap limit or
 * used up the budget: the pattern is refused, never taken as no match. */
int gmq_route_regex_search(gmq_route_cache_t *c, gmq_route_regex_t *re, const char *subject,
                           uint64_t *budget, gmq_error_t *err);

#endif

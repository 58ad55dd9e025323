/*
 * route.c - owns route matching: exact, AMQP topic wildcards, and the LRU
 * cache of compiled PCRE2 patterns with the match context that bounds the
 * work of one search (PCRE2's limits) and of one push (a step budget
 * counted by an auto-callout before each pattern item).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "route.h"
#include "common/log.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct gmq_route_regex_s {
    char       *pattern;      /* NULL = free slot */
    pcre2_code *code;
    uint64_t    used;         /* LRU clock value of the last use */
};

struct gmq_route_cache_s {
    gmq_route_regex_t  *slots;
    size_t              n;
    uint64_t            clock;
    pcre2_match_context *mctx;
    pcre2_match_data   *md;
    uint64_t            left;   /* steps left during a search (route_callout) */
};

typedef struct {
    const char *p;
    size_t      len;
} route_word_t;

static size_t route_split(const char *s, route_word_t **out);
static int    route_callout(pcre2_callout_block *b, void *arg);

int
gmq_route_exact(const char *route_key, const char *bind_key)
{
    return strcmp(route_key, bind_key) == 0;
}

int
gmq_route_topic_match(const char *pattern, const char *key)
{
    route_word_t *pw, *kw;
    size_t np = route_split(pattern, &pw);
    size_t nk = route_split(key, &kw);
    unsigned char *dp = gmq_xcalloc(nk + 1, 1), *nd = gmq_xcalloc(nk + 1, 1);

    /* dp[j]: the pattern words so far match the first j key words */
    dp[0] = 1;
    for (size_t i = 0; i < np; i++) {
        int hash = pw[i].len == 1 && pw[i].p[0] == '#';
        int star = pw[i].len == 1 && pw[i].p[0] == '*';
        if (hash) {
            unsigned char any = 0;
            for (size_t j = 0; j <= nk; j++) {
                any |= dp[j];
                nd[j] = any;
            }
        } else {
            nd[0] = 0;
            for (size_t j = 1; j <= nk; j++)
                nd[j] = dp[j - 1] && (star || (pw[i].len == kw[j - 1].len &&
                                               memcmp(pw[i].p, kw[j - 1].p, pw[i].len) == 0));
        }
        unsigned char *tmp = dp;
        dp = nd;
        nd = tmp;
    }
    int r = dp[nk];
    free(dp);
    free(nd);
    free(pw);
    free(kw);
    return r;
}

gmq_route_cache_t *
gmq_route_cache_new(size_t slots)
{
    gmq_route_cache_t *c = gmq_xcalloc(1, sizeof(*c));
    c->n = slots ? slots : GMQ_ROUTE_CACHE_SLOTS;
    c->slots = gmq_xcalloc(c->n, sizeof(*c->slots));
    c->mctx = pcre2_match_context_create(NULL);
    c->md = pcre2_match_data_create(1, NULL);
    if (c->mctx == NULL || c->md == NULL)
        gmq_log_fatal("pcre2: out of memory");
    pcre2_set_match_limit(c->mctx, GMQ_ROUTE_MATCH_LIMIT);
    pcre2_set_depth_limit(c->mctx, GMQ_ROUTE_DEPTH_LIMIT);
    pcre2_set_callout(c->mctx, route_callout, c);
    return c;
}

void
gmq_route_cache_free(gmq_route_cache_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->slots[i].pattern);
        pcre2_code_free(c->slots[i].code);
    }
    free(c->slots);
    pcre2_match_context_free(c->mctx);
    pcre2_match_data_free(c->md);
    free(c);
}

gmq_route_regex_t *
gmq_route_regex(gmq_route_cache_t *c, const char *pattern, gmq_error_t *err)
{
    gmq_route_regex_t *victim = &c->slots[0];
    for (size_t i = 0; i < c->n; i++) {
        gmq_route_regex_t *r = &c->slots[i];
        if (r->pattern != NULL && strcmp(r->pattern, pattern) == 0) {
            r->used = ++c->clock;
            return r;
        }
        if (r->pattern == NULL || (victim->pattern != NULL && r->used < victim->used))
            victim = r;
    }

    int ecode;
    PCRE2_SIZE eoff;
    /* a callout before every item: the steps the push budget counts */
    pcre2_code *code = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED,
                                     PCRE2_AUTO_CALLOUT, &ecode, &eoff, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ecode, msg, sizeof(msg));
        gmq_error_set(err, GMQ_E_INVALID_ROUTE, "routeKey:%s is not a valid pattern: %s at offset %zu",
                      pattern, (const char *) msg, (size_t) eoff);
        return NULL;
    }
    free(victim->pattern);
    pcre2_code_free(victim->code);
    victim->pattern = gmq_xstrdup(pattern);
    victim->code = code;
    victim->used = ++c->clock;
    return victim;
}

int
gmq_route_regex_search(gmq_route_cache_t *c, gmq_route_regex_t *re, const char *subject,
                       uint64_t *budget, gmq_error_t *err)
{
    c->left = *budget;
    int rc = c->left > 0 ? pcre2_match(re->code, (PCRE2_SPTR) subject, strlen(subject), 0, 0,
                                       c->md, c->mctx)
                         : PCRE2_ERROR_CALLOUT;
    *budget = c->left;
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    /* route keys are up to 1 KiB: shortened so the limit's name fits */
    switch (rc) {
    case PCRE2_ERROR_CALLOUT:
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE, "routeKey:%.64s used up the regex "
                             "budget of a push (%d steps over all bind keys) at bindKey %s",
                             re->pattern, GMQ_ROUTE_PUSH_BUDGET, subject);
    case PCRE2_ERROR_MATCHLIMIT:
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE, "routeKey:%.64s hit the regex match "
                             "limit (%d) on bindKey %s", re->pattern, GMQ_ROUTE_MATCH_LIMIT,
                             subject);
    case PCRE2_ERROR_DEPTHLIMIT:
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE, "routeKey:%.64s hit the regex depth "
                             "limit (%d) on bindKey %s", re->pattern, GMQ_ROUTE_DEPTH_LIMIT,
                             subject);
    case PCRE2_ERROR_HEAPLIMIT:
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE, "routeKey:%.64s hit the regex heap "
                             "limit on bindKey %s", re->pattern, subject);
    default: {
        PCRE2_UCHAR msg[96];
        pcre2_get_error_message(rc, msg, sizeof(msg));
        return gmq_error_set(err, GMQ_E_INVALID_ROUTE, "routeKey:%.64s cannot be matched "
                             "against bindKey %s: %s", re->pattern, subject, (const char *) msg);
    }
    }
}

/* before each pattern item: one step of the push's budget; out of steps,
 * the match stops with PCRE2_ERROR_CALLOUT */
static int
route_callout(pcre2_callout_block *b, void *arg)
{
    (void) b;
    gmq_route_cache_t *c = arg;
    if (c->left == 0)
        return PCRE2_ERROR_CALLOUT;
    c->left--;
    return 0;
}

/* split on '.'; "" is one empty word. *out is malloc'd, pointing into s. */
static size_t
route_split(const char *s, route_word_t **out)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == '.';
    route_word_t *w = gmq_xmalloc(n * sizeof(*w));
    size_t i = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '.' || *p == '\0') {
            w[i].p = start;
            w[i].len = (size_t) (p - start);
            i++;
            start = p + 1;
            if (*p == '\0')
                break;
        }
    }
    *out = w;
    return n;
}

/*
 * ctl_json.h - gmqctl's read-only JSON tree (yajl's parser underneath): every
 * node keeps its exact span in the source text, so --json can print what the
 * node sent byte for byte, and strings keep their length (a body may hold NUL).
 */
#ifndef GMQ_CTL_JSON_H
#define GMQ_CTL_JSON_H

#include "common/gmq.h"

typedef enum {
    GMQ_CTL_JSON_NULL,
    GMQ_CTL_JSON_BOOL,
    GMQ_CTL_JSON_NUMBER,
    GMQ_CTL_JSON_STRING,
    GMQ_CTL_JSON_ARRAY,
    GMQ_CTL_JSON_OBJECT,
} gmq_ctl_json_type_t;

typedef struct gmq_ctl_json_s gmq_ctl_json_t;

struct gmq_ctl_json_s {
    gmq_ctl_json_type_t type;
    char   *text;           /* scalars: the string (decoded, NUL-terminated), the number as
                               written, "true"/"false", "" for null; NULL for containers */
    size_t  len;            /* bytes of text */
    size_t  n;              /* containers: items */
    char  **keys;           /* objects: the key of each item (NUL-terminated) */
    gmq_ctl_json_t **items;
    const char *src;        /* the node's exact text in the parsed source: src[0..src_len) */
    size_t  src_len;
};

/* Parse s[0..len) (one JSON value, whitespace around it allowed). The tree points
 * into s for src: s must outlive it. NULL with err filled when it does not parse. */
gmq_ctl_json_t *gmq_ctl_json_parse(const char *s, size_t len, char *err, size_t errlen);
/* NULL ok */
void gmq_ctl_json_free(gmq_ctl_json_t *j);
/* the value of key in object j; NULL when j is NULL, not an object, or has no key */
const gmq_ctl_json_t *gmq_ctl_json_get(const gmq_ctl_json_t *j, const char *key);
/* the text of a scalar member (see text above); NULL when absent or a container */
const char *gmq_ctl_json_str(const gmq_ctl_json_t *j, const char *key);
/* 1 for a true boolean, a number other than 0 or a non-empty string */
int gmq_ctl_json_true(const gmq_ctl_json_t *j);

#endif

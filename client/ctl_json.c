/*
 * ctl_json.c - owns gmqctl's JSON trees: built from yajl's callbacks, each node
 * with its span in the source (found from yajl_get_bytes_consumed, which is just
 * past the current token in every callback) and strings with their length.
 */
#include "client/ctl_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define JSON_DEPTH_MAX 64

typedef struct json_builder_s {
    yajl_handle     h;
    const char     *src;
    size_t          len;
    size_t          last;                   /* source offset just past the last token */
    gmq_ctl_json_t *root;
    gmq_ctl_json_t *stack[JSON_DEPTH_MAX];  /* open containers */
    size_t          depth;
    char           *key;                    /* the key the next object member gets */
    int             too_deep;
} json_builder_t;

static gmq_ctl_json_t *json_value(json_builder_t *b, gmq_ctl_json_type_t type,
                                  const char *text, size_t len);
static int  json_null(void *ctx);
static int  json_bool(void *ctx, int v);
static int  json_number(void *ctx, const char *s, size_t len);
static int  json_string(void *ctx, const unsigned char *s, size_t len);
static int  json_open(json_builder_t *b, gmq_ctl_json_type_t type);
static int  json_start_map(void *ctx);
static int  json_map_key(void *ctx, const unsigned char *s, size_t len);
static int  json_start_array(void *ctx);
static int  json_end(void *ctx);

static const yajl_callbacks json_callbacks = {
    json_null, json_bool, NULL, NULL, json_number, json_string,
    json_start_map, json_map_key, json_end, json_start_array, json_end,
};

gmq_ctl_json_t *
gmq_ctl_json_parse(const char *s, size_t len, char *err, size_t errlen)
{
    json_builder_t b;
    memset(&b, 0, sizeof(b));
    b.src = s;
    b.len = len;
    b.h = yajl_alloc(&json_callbacks, NULL, &b);
    yajl_config(b.h, yajl_dont_validate_strings, 1);
    yajl_status st = yajl_parse(b.h, (const unsigned char *) s, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(b.h);
    if (st != yajl_status_ok || b.root == NULL || b.depth != 0) {
        if (b.too_deep) {
            snprintf(err, errlen, "JSON nested deeper than %d levels", JSON_DEPTH_MAX);
        } else {
            unsigned char *m = yajl_get_error(b.h, 0, (const unsigned char *) s, len);
            snprintf(err, errlen, "%s", m ? (const char *) m : "not JSON");
            size_t ml = strlen(err);
            while (ml && (err[ml - 1] == '\n' || err[ml - 1] == ' '))
                err[--ml] = '\0';
            yajl_free_error(b.h, m);
        }
        yajl_free(b.h);
        free(b.key);
        gmq_ctl_json_free(b.root);
        return NULL;
    }
    yajl_free(b.h);
    free(b.key);
    return b.root;
}

void
gmq_ctl_json_free(gmq_ctl_json_t *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->n; i++) {
        gmq_ctl_json_free(j->items[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->text);
    free(j);
}

const gmq_ctl_json_t *
gmq_ctl_json_get(const gmq_ctl_json_t *j, const char *key)
{
    if (j == NULL || j->type != GMQ_CTL_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->keys[i], key) == 0)
            return j->items[i];
    return NULL;
}

const char *
gmq_ctl_json_str(const gmq_ctl_json_t *j, const char *key)
{
    const gmq_ctl_json_t *v = gmq_ctl_json_get(j, key);
    return v ? v->text : NULL;
}

int
gmq_ctl_json_true(const gmq_ctl_json_t *j)
{
    if (j == NULL)
        return 0;
    switch (j->type) {
    case GMQ_CTL_JSON_BOOL:   return j->text[0] == 't';
    case GMQ_CTL_JSON_NUMBER: return strtod(j->text, NULL) != 0;
    case GMQ_CTL_JSON_STRING: return j->len > 0;
    default:                  return 0;
    }
}

/* a new node at the current position, linked into the open container (or the root) */
static gmq_ctl_json_t *
json_value(json_builder_t *b, gmq_ctl_json_type_t type, const char *text, size_t len)
{
    gmq_ctl_json_t *v = gmq_xcalloc(1, sizeof(*v));
    v->type = type;
    if (type != GMQ_CTL_JSON_ARRAY && type != GMQ_CTL_JSON_OBJECT) {
        v->text = gmq_xmalloc(len + 1);
        memcpy(v->text, text, len);
        v->text[len] = '\0';
        v->len = len;
    }
    /* the value starts after the separators that follow the previous token */
    size_t start = b->last;
    while (start < b->len && b->src[start] != '\0' && strchr(" \t\r\n:,", b->src[start]) != NULL)
        start++;
    size_t end = yajl_get_bytes_consumed(b->h);
    v->src = b->src + start;
    v->src_len = end > start ? end - start : 0;
    b->last = end;

    if (b->depth == 0) {
        if (b->root != NULL) {          /* a second top-level value: yajl refuses it anyway */
            gmq_ctl_json_free(v);
            return NULL;
        }
        b->root = v;
        return v;
    }
    gmq_ctl_json_t *p = b->stack[b->depth - 1];
    if ((p->n & (p->n - 1)) == 0) {     /* 0, 1, 2, 4, ...: grow to the next power of two */
        size_t cap = p->n ? p->n * 2 : 1;
        p->items = gmq_xrealloc(p->items, cap * sizeof(*p->items));
        if (p->type == GMQ_CTL_JSON_OBJECT)
            p->keys = gmq_xrealloc(p->keys, cap * sizeof(*p->keys));
    }
    p->items[p->n] = v;
    if (p->type == GMQ_CTL_JSON_OBJECT) {
        p->keys[p->n] = b->key ? b->key : gmq_xstrdup("");
        b->key = NULL;
    }
    p->n++;
    return v;
}

static int
json_null(void *ctx)
{
    return json_value(ctx, GMQ_CTL_JSON_NULL, "", 0) != NULL;
}

static int
json_bool(void *ctx, int v)
{
    return json_value(ctx, GMQ_CTL_JSON_BOOL, v ? "true" : "false", v ? 4 : 5) != NULL;
}

static int
json_number(void *ctx, const char *s, size_t len)
{
    return json_value(ctx, GMQ_CTL_JSON_NUMBER, s, len) != NULL;
}

static int
json_string(void *ctx, const unsigned char *s, size_t len)
{
    return json_value(ctx, GMQ_CTL_JSON_STRING, (const char *) s, len) != NULL;
}

static int
json_open(json_builder_t *b, gmq_ctl_json_type_t type)
{
    if (b->depth == JSON_DEPTH_MAX) {
        b->too_deep = 1;
        return 0;
    }
    gmq_ctl_json_t *v = json_value(b, type, NULL, 0);
    if (v == NULL)
        return 0;
    v->src_len = 0;                     /* set when it closes */
    b->stack[b->depth++] = v;
    return 1;
}

static int
json_start_map(void *ctx)
{
    return json_open(ctx, GMQ_CTL_JSON_OBJECT);
}

static int
json_start_array(void *ctx)
{
    return json_open(ctx, GMQ_CTL_JSON_ARRAY);
}

static int
json_map_key(void *ctx, const unsigned char *s, size_t len)
{
    json_builder_t *b = ctx;
    free(b->key);
    b->key = gmq_xstrndup((const char *) s, len);
    b->last = yajl_get_bytes_consumed(b->h);
    return 1;
}

static int
json_end(void *ctx)
{
    json_builder_t *b = ctx;
    gmq_ctl_json_t *v = b->stack[--b->depth];
    b->last = yajl_get_bytes_consumed(b->h);
    v->src_len = (size_t) (b->src + b->last - v->src);
    return 1;
}

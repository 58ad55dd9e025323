/*
 * ctl_out.c - owns what gmqctl prints: tables (cells copied in, widths counted
 * in characters, printed once complete), the one-line text of JSON values, and
 * the generic views of an object (FIELD VALUE) and of an array of objects.
 */
#include "client/ctl_out.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OUT_COLS_MAX 32

struct gmq_ctl_table_s {
    size_t ncols;
    char   align[OUT_COLS_MAX];
    char  *head[OUT_COLS_MAX];
    char **cells;           /* row-major, nrows * ncols once complete */
    size_t ncells;
    size_t cap;
};

/* a row of gmq_ctl_out_list and its sort key (first, for out_row_cmp) */
typedef struct out_row_s {
    const char           *key;
    const gmq_ctl_json_t *item;
} out_row_t;

static int    out_row_cmp(const void *a, const void *b);
static size_t out_width(const char *s);
static int    out_is_number(const char *s);
static int    out_is_time_key(const char *key);
static void   out_flatten(gmq_ctl_table_t *t, const char *prefix, const gmq_ctl_json_t *obj);

gmq_ctl_table_t *
gmq_ctl_out_table(const char *const *head, const char *align)
{
    gmq_ctl_table_t *t = gmq_xcalloc(1, sizeof(*t));
    size_t nalign = align ? strlen(align) : 0;
    while (head[t->ncols] && t->ncols < OUT_COLS_MAX) {
        t->head[t->ncols] = gmq_xstrdup(head[t->ncols]);
        t->align[t->ncols] = t->ncols < nalign ? align[t->ncols] : 'a';
        t->ncols++;
    }
    return t;
}

void
gmq_ctl_out_cell(gmq_ctl_table_t *t, const char *s)
{
    if (t->ncells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = gmq_xrealloc(t->cells, t->cap * sizeof(*t->cells));
    }
    t->cells[t->ncells++] = gmq_xstrdup(s && s[0] ? s : "-");
}

void
gmq_ctl_out_cellf(gmq_ctl_table_t *t, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    gmq_ctl_out_cell(t, tmp);
}

void
gmq_ctl_out_cellv(gmq_ctl_table_t *t, const char *key, const gmq_ctl_json_t *v, size_t max)
{
    gmq_buf_t b;
    gmq_buf_init(&b);
    gmq_ctl_out_value(&b, key, v, max);
    gmq_buf_append(&b, "", 1);
    gmq_ctl_out_cell(t, gmq_buf_rptr(&b));
    gmq_buf_free(&b);
}

void
gmq_ctl_out_print(gmq_ctl_table_t *t, const gmq_ctl_t *c)
{
    size_t nrows = t->ncols ? (t->ncells + t->ncols - 1) / t->ncols : 0;
    while (t->ncells < nrows * t->ncols)          /* an unfinished row */
        gmq_ctl_out_cell(t, NULL);
    size_t width[OUT_COLS_MAX];
    int right[OUT_COLS_MAX];
    for (size_t k = 0; k < t->ncols; k++) {
        width[k] = c->no_headers ? 0 : out_width(t->head[k]);
        right[k] = t->align[k] == 'r';
        int numbers = 0, others = 0;      /* cells other than "-" */
        for (size_t r = 0; r < nrows; r++) {
            const char *s = t->cells[r * t->ncols + k];
            size_t w = out_width(s);
            if (w > width[k])
                width[k] = w;
            if (strcmp(s, "-") != 0)
                *(out_is_number(s) ? &numbers : &others) += 1;
        }
        if (t->align[k] == 'a' && numbers > 0 && others == 0)
            right[k] = 1;
    }
    for (size_t r = c->no_headers ? 1 : 0; r <= nrows; r++) {
        for (size_t k = 0; k < t->ncols; k++) {
            const char *s = r == 0 ? t->head[k] : t->cells[(r - 1) * t->ncols + k];
            size_t pad = width[k] - out_width(s);
            int last = k + 1 == t->ncols;
            if (right[k])
                printf("%*s%s", (int) pad, "", s);
            else if (last)
                fputs(s, stdout);
            else
                printf("%s%*s", s, (int) pad, "");
            if (!last)
                fputs("  ", stdout);
        }
        fputc('\n', stdout);
    }
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    for (size_t k = 0; k < t->ncols; k++)
        free(t->head[k]);
    free(t->cells);
    free(t);
}

void
gmq_ctl_out_value(gmq_buf_t *b, const char *key, const gmq_ctl_json_t *v, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    if (v == NULL || v->type == GMQ_CTL_JSON_NULL || (v->text && v->len == 0)) {
        gmq_buf_append_str(b, "-");
        return;
    }
    if (v->type == GMQ_CTL_JSON_ARRAY || v->type == GMQ_CTL_JSON_OBJECT) {
        gmq_buf_append(b, v->src, v->src_len);
        return;
    }
    if (v->type == GMQ_CTL_JSON_NUMBER && key && out_is_time_key(key)) {
        char tm[64];
        gmq_ctl_out_time(tm, sizeof(tm), v->text);
        gmq_buf_append_str(b, tm);
        return;
    }
    size_t chars = 0;
    for (size_t i = 0; i < v->len;) {
        if (max && chars == max) {
            gmq_buf_append_str(b, "...");
            return;
        }
        unsigned char ch = (unsigned char) v->text[i];
        size_t l = ch < 0x80 ? 1 : ch >= 0xc2 && ch <= 0xdf ? 2 : ch >= 0xe0 && ch <= 0xef ? 3
                 : ch >= 0xf0 && ch <= 0xf4 ? 4 : 0;
        for (size_t k = 1; k < l; k++)
            if (i + k >= v->len || ((unsigned char) v->text[i + k] & 0xc0) != 0x80)
                l = 0;
        chars++;
        if (ch == '\n' || ch == '\t' || ch == '\r') {
            gmq_buf_append(b, ch == '\n' ? "\\n" : ch == '\t' ? "\\t" : "\\r", 2);
        } else if (l == 0 || ch < 0x20 || ch == 0x7f) {
            char e[4] = { '\\', 'x', hex[ch >> 4], hex[ch & 15] };
            gmq_buf_append(b, e, 4);
            l = 1;
        } else {
            gmq_buf_append(b, v->text + i, l);
        }
        i += l ? l : 1;
    }
}

void
gmq_ctl_out_time(char *out, size_t n, const char *ms)
{
    char *end;
    unsigned long long x = ms ? strtoull(ms, &end, 10) : 0;
    if (x == 0 || *end != '\0') {
        snprintf(out, n, "-");
        return;
    }
    time_t s = (time_t) (x / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    char day[40];
    strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, n, "%s.%03u", day, (unsigned) (x % 1000));
}

void
gmq_ctl_out_json(const gmq_ctl_json_t *v)
{
    if (v == NULL)
        fputs("null", stdout);
    else
        fwrite(v->src, 1, v->src_len, stdout);
    fputc('\n', stdout);
}

void
gmq_ctl_out_object(const gmq_ctl_t *c, const gmq_ctl_json_t *obj)
{
    static const char *const head[] = { "FIELD", "VALUE", NULL };
    gmq_ctl_table_t *t = gmq_ctl_out_table(head, "ll");
    out_flatten(t, "", obj);
    gmq_ctl_out_print(t, c);
    for (size_t i = 0; obj && obj->type == GMQ_CTL_JSON_OBJECT && i < obj->n; i++) {
        const gmq_ctl_json_t *a = obj->items[i];
        if (a->type == GMQ_CTL_JSON_ARRAY && a->n > 0 && a->items[0]->type == GMQ_CTL_JSON_OBJECT) {
            fputc('\n', stdout);
            gmq_ctl_out_list(c, a, NULL, NULL, NULL);
        }
    }
}

void
gmq_ctl_out_list(const gmq_ctl_t *c, const gmq_ctl_json_t *arr, const char *const *keys,
                 const char *const *head, const char *sort_by)
{
    const char *k[OUT_COLS_MAX + 1];
    char *h[OUT_COLS_MAX + 1];
    size_t nk = 0;
    if (keys) {
        for (; keys[nk] && nk < OUT_COLS_MAX; nk++) {
            k[nk] = keys[nk];
            h[nk] = gmq_xstrdup(head[nk]);
        }
    } else {
        for (size_t r = 0; arr && r < arr->n; r++) {
            const gmq_ctl_json_t *o = arr->items[r];
            for (size_t i = 0; o->type == GMQ_CTL_JSON_OBJECT && i < o->n; i++) {
                size_t j = 0;
                while (j < nk && strcmp(k[j], o->keys[i]) != 0)
                    j++;
                if (j == nk && nk < OUT_COLS_MAX) {
                    k[nk] = o->keys[i];
                    h[nk] = gmq_xstrdup(o->keys[i]);
                    for (char *p = h[nk]; *p; p++)
                        *p = (char) toupper((unsigned char) *p);
                    nk++;
                }
            }
        }
    }
    k[nk] = NULL;
    h[nk] = NULL;
    size_t n = arr && arr->type == GMQ_CTL_JSON_ARRAY ? arr->n : 0;
    out_row_t *rows = gmq_xcalloc(n ? n : 1, sizeof(*rows));
    for (size_t r = 0; r < n; r++) {
        const char *s = sort_by ? gmq_ctl_json_str(arr->items[r], sort_by) : NULL;
        rows[r].key = s ? s : "";
        rows[r].item = arr->items[r];
    }
    if (sort_by)
        qsort(rows, n, sizeof(*rows), out_row_cmp);
    gmq_ctl_table_t *t = gmq_ctl_out_table((const char *const *) h, NULL);
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < nk; j++)
            gmq_ctl_out_cellv(t, k[j], gmq_ctl_json_get(rows[r].item, k[j]), 0);
    gmq_ctl_out_print(t, c);
    for (size_t j = 0; j < nk; j++)
        free(h[j]);
    free(rows);
}

void
gmq_ctl_out_done(const gmq_ctl_t *c, const gmq_ctl_json_t *data, const char *fmt, ...)
{
    if (c->json) {
        gmq_ctl_out_json(data);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

static int
out_row_cmp(const void *a, const void *b)
{
    return strcmp(((const out_row_t *) a)->key, ((const out_row_t *) b)->key);
}

/* characters, not bytes: UTF-8 continuation bytes do not count */
static size_t
out_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char) *s & 0xc0) != 0x80;
    return w;
}

/* -?digits(.digits)? */
static int
out_is_number(const char *s)
{
    if (*s == '-')
        s++;
    if (!isdigit((unsigned char) *s))
        return 0;
    while (isdigit((unsigned char) *s))
        s++;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char) *s))
            return 0;
        while (isdigit((unsigned char) *s))
            s++;
    }
    return *s == '\0';
}

static int
out_is_time_key(const char *key)
{
    size_t l = strlen(key);
    return (l > 3 && strcmp(key + l - 3, "_at") == 0) || strcmp(key, "started_ms") == 0 ||
           strcmp(key, "deadline") == 0;
}

/* FIELD VALUE rows of obj's members, nested objects as prefix.key; arrays of
 * objects are left for gmq_ctl_out_object's tables */
static void
out_flatten(gmq_ctl_table_t *t, const char *prefix, const gmq_ctl_json_t *obj)
{
    if (obj == NULL || obj->type != GMQ_CTL_JSON_OBJECT)
        return;
    for (size_t i = 0; i < obj->n; i++) {
        const gmq_ctl_json_t *v = obj->items[i];
        char key[256];
        snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", obj->keys[i]);
        if (v->type == GMQ_CTL_JSON_OBJECT) {
            out_flatten(t, key, v);
            continue;
        }
        if (v->type == GMQ_CTL_JSON_ARRAY && v->n > 0 && v->items[0]->type == GMQ_CTL_JSON_OBJECT)
            continue;
        gmq_ctl_out_cell(t, key);
        gmq_buf_t b;
        gmq_buf_init(&b);
        if (v->type == GMQ_CTL_JSON_ARRAY) {        /* scalars: a, b, c */
            for (size_t j = 0; j < v->n; j++) {
                if (j)
                    gmq_buf_append_str(&b, ", ");
                gmq_ctl_out_value(&b, obj->keys[i], v->items[j], 0);
            }
        } else {
            gmq_ctl_out_value(&b, obj->keys[i], v, 0);
        }
        gmq_buf_append(&b, "", 1);
        gmq_ctl_out_cell(t, gmq_buf_rptr(&b));
        gmq_buf_free(&b);
    }
}

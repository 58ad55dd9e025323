/*
 * ctl_out.h - gmqctl's output: aligned tables (a header row, then rows padded
 * to column width, numbers right-aligned), one-line cell text for JSON values
 * (bodies escaped, unix ms as local time), and --json printing.
 */
#ifndef GMQ_CTL_OUT_H
#define GMQ_CTL_OUT_H

#include "client/ctl_json.h"
#include "client/gmqctl.h"
#include "common/buf.h"

#include <stdio.h>

typedef struct gmq_ctl_table_s gmq_ctl_table_t;

/* A table with the column headers head (ending with NULL). align has a letter per
 * column: 'l' left, 'r' right, 'a' right when the column's cells are numbers (and
 * "-"), left otherwise; columns past the end of align (NULL too) are 'a'. */
gmq_ctl_table_t *gmq_ctl_out_table(const char *const *head, const char *align);
/* The next cell (copied), left to right; a row ends after the last column. A NULL
 * or empty s shows as "-". */
void gmq_ctl_out_cell(gmq_ctl_table_t *t, const char *s);
void gmq_ctl_out_cellf(gmq_ctl_table_t *t, const char *fmt, ...) GMQ_PRINTF(2, 3);
/* The cell for a JSON value (see gmq_ctl_out_value). */
void gmq_ctl_out_cellv(gmq_ctl_table_t *t, const char *key, const gmq_ctl_json_t *v, size_t max);
/* Print to stdout (the header row unless --no-headers) and free the table. */
void gmq_ctl_out_print(gmq_ctl_table_t *t, const gmq_ctl_t *c);

/* Append a JSON value as one line of text: strings with control characters and
 * invalid UTF-8 escaped (\n, \t, \xNN) and cut after max characters with "..."
 * (0 = no limit); null and "" as "-"; a unix ms time under a key that names one
 * (*_at, started_ms, deadline) as local time; containers as their JSON. */
void gmq_ctl_out_value(gmq_buf_t *b, const char *key, const gmq_ctl_json_t *v, size_t max);
/* unix ms (decimal text) as "YYYY-MM-DD hh:mm:ss.mmm" local time; "-" for 0 or junk */
void gmq_ctl_out_time(char *out, size_t n, const char *ms);
/* --json: v's exact text from the node's reply, and a newline */
void gmq_ctl_out_json(const gmq_ctl_json_t *v);
/* An object as FIELD VALUE rows (nested objects as key.sub), each of its arrays
 * of objects as a table after it. */
void gmq_ctl_out_object(const gmq_ctl_t *c, const gmq_ctl_json_t *obj);
/* An array of objects as a table: the columns keys[i] headed head[i] (both ending
 * with NULL), or every key in first-seen order upper-cased when keys is NULL; the
 * rows in the order of the array, or sorted by the text of member sort_by. */
void gmq_ctl_out_list(const gmq_ctl_t *c, const gmq_ctl_json_t *arr, const char *const *keys,
                      const char *const *head, const char *sort_by);
/* One line of text on stdout, unless --json (then the value of the reply). */
void gmq_ctl_out_done(const gmq_ctl_t *c, const gmq_ctl_json_t *data, const char *fmt, ...)
    GMQ_PRINTF(3, 4);

#endif

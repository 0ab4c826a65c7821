/* table.h — terminal tables: rows of text cells, printed with aligned columns.
 *
 * Add a header and rows of preformatted cells; lk_table_print() measures each column (in UTF-8
 * characters, not bytes), right-aligns columns marked numeric and left-aligns the rest. The
 * same rows go to CSV with lk_table_csv() (RFC 4180 quoting), so a command prints one table
 * and writes the identical data as CSV. Used by compare, sweep, and later eval and load. */
#ifndef LK_TABLE_H
#define LK_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct lk_table {
    size_t n_cols;
    char **head;                  /* [n_cols] */
    bool *numeric;                /* [n_cols] right-aligned */
    char **cells;                 /* [n_rows * n_cols] */
    size_t n_rows, cap_rows;
} lk_table;

/* A table with the given column names; a name starting with '>' is a numeric (right-aligned)
 * column, the '>' not shown. */
void lk_table_init(lk_table *t, size_t n_cols, const char *const *names);
/* Append a row: n_cols printf-formatted cells are given one by one with lk_table_cell. */
void lk_table_row(lk_table *t);
void lk_table_cell(lk_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lk_table_print(const lk_table *t, FILE *f);
void lk_table_csv(const lk_table *t, FILE *f);
void lk_table_free(lk_table *t);

#endif

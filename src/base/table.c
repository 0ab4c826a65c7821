/* table.c — aligned terminal tables and their CSV (see table.h). */
#include "base/table.h"
#include "base/base.h"

#include <stdarg.h>

void lk_table_init(lk_table *t, size_t n_cols, const char *const *names) {
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols;
    t->head = lk_xcalloc(n_cols, sizeof *t->head);
    t->numeric = lk_xcalloc(n_cols, sizeof *t->numeric);
    for (size_t i = 0; i < n_cols; i++) {
        t->numeric[i] = names[i][0] == '>';
        t->head[i] = lk_xstrdup(names[i] + (t->numeric[i] ? 1 : 0));
    }
}

/* Cells filled so far in the last row. */
static size_t filled(const lk_table *t) {
    size_t n = 0;
    if (!t->n_rows) return 0;
    for (size_t c = 0; c < t->n_cols; c++) n += t->cells[(t->n_rows - 1) * t->n_cols + c] != NULL;
    return n;
}

void lk_table_row(lk_table *t) {
    if (t->n_rows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 16;
        t->cells = lk_xrealloc(t->cells, t->cap_rows * t->n_cols * sizeof *t->cells);
    }
    memset(t->cells + t->n_rows * t->n_cols, 0, t->n_cols * sizeof *t->cells);
    t->n_rows++;
}

void lk_table_cell(lk_table *t, const char *fmt, ...) {
    size_t c = filled(t);
    if (!t->n_rows || c == t->n_cols) return; /* a caller's mistake: more cells than columns */
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    t->cells[(t->n_rows - 1) * t->n_cols + c] = s ? s : lk_xstrdup("");
}

static size_t width(const char *s) {
    size_t w = 0;
    for (; s && *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static const char *cell(const lk_table *t, size_t r, size_t c) {
    const char *s = t->cells[r * t->n_cols + c];
    return s ? s : "";
}

void lk_table_print(const lk_table *t, FILE *f) {
    size_t *w = lk_xcalloc(t->n_cols, sizeof *w);
    for (size_t c = 0; c < t->n_cols; c++) {
        w[c] = width(t->head[c]);
        for (size_t r = 0; r < t->n_rows; r++) w[c] = LK_MAX(w[c], width(cell(t, r, c)));
    }
    for (size_t r = 0; r <= t->n_rows + 1; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            if (r == 1) {
                for (size_t i = 0; i < w[c]; i++) fputc('-', f);
            } else {
                const char *s = r == 0 ? t->head[c] : cell(t, r - 2, c);
                size_t pad = w[c] - width(s);
                if (t->numeric[c]) fprintf(f, "%*s%s", (int)pad, "", s);
                else fprintf(f, "%s%*s", s, c + 1 < t->n_cols ? (int)pad : 0, "");
            }
            if (c + 1 < t->n_cols) fputs("  ", f);
        }
        fputc('\n', f);
    }
    free(w);
}

static void csv_field(const char *s, FILE *f) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void lk_table_csv(const lk_table *t, FILE *f) {
    for (size_t r = 0; r <= t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            if (c) fputc(',', f);
            csv_field(r == 0 ? t->head[c] : cell(t, r - 1, c), f);
        }
        fputs("\r\n", f);
    }
}

void lk_table_free(lk_table *t) {
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++) free(t->cells[i]);
    for (size_t c = 0; c < t->n_cols; c++) free(t->head[c]);
    free(t->cells);
    free(t->head);
    free(t->numeric);
    memset(t, 0, sizeof *t);
}

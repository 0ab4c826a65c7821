/* svg.c — the chart renderer behind svg.h.
 *
 * Layout, top to bottom: the chart title; for each panel a header row (panel title, then the
 * legend, wrapping when it does not fit) and the plot area with its y axis at the left; under
 * the last panel the x tick labels (rotated 45° when they do not fit side by side) and the x
 * axis label. Text widths are estimated (0.6 em per character): there is no font metrics here,
 * so margins are generous. The body is drawn first into a scratch buffer so that the <svg>
 * element can carry the final height. Coordinates are written with one decimal by hand, never
 * through printf's %f, so a locale with a decimal comma cannot break the file. */
#include "base/svg.h"

#include <math.h>

enum {
    FONT = 12,
    TITLE_FONT = 16,
    ROW = 18,                   /* a header or legend row */
    PLOT_HEIGHT = 220,
    PAD = 10,
    MAX_LABEL_CHARS = 40,       /* longer x labels are cut with an ellipsis */
    MAX_MARKERS = 200,          /* above this many x positions lines get no point markers */
};

static const char *const palette[] = {
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
};

/* ---- text ---- */

/* Decode one UTF-8 sequence at s; returns its length, or 0 when it is invalid. */
static size_t utf8_valid_len(const unsigned char *s) {
    int n = lk_utf8_len(s[0]);
    if (n == 0) return 0;
    for (int k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    if (n == 2 && s[0] < 0xC2) return 0;                                   /* overlong */
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || s[0] > 0xF4 || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return (size_t)n;
}

/* Append s escaped, at most max_chars characters (0: all), then "…" if it was cut. */
static void escape_n(lk_buf *out, const char *s, size_t max_chars) {
    if (!s) return;
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0;
    while (*p) {
        if (max_chars && chars == max_chars) {
            lk_buf_puts(out, "\xE2\x80\xA6");
            return;
        }
        unsigned char c = *p;
        if (c < 0x20 && c != '\t' && c != '\n') { /* not allowed in XML 1.0: dropped */
            p++;
            continue;
        }
        if (c < 0x80) {
            switch (c) {
            case '&': lk_buf_puts(out, "&amp;"); break;
            case '<': lk_buf_puts(out, "&lt;"); break;
            case '>': lk_buf_puts(out, "&gt;"); break;
            case '"': lk_buf_puts(out, "&quot;"); break;
            case '\'': lk_buf_puts(out, "&apos;"); break;
            default: lk_buf_putc(out, (char)c);
            }
            p++;
        } else {
            size_t n = utf8_valid_len(p);
            if (n) lk_buf_append(out, p, n);
            else lk_buf_puts(out, "\xEF\xBF\xBD");
            p += n ? n : 1;
        }
        chars++;
    }
}

void svg_escape(lk_buf *out, const char *s) { escape_n(out, s, 0); }

/* Characters in s (code points, roughly), at most max_chars + 1 when max_chars is set. */
static size_t text_chars(const char *s, size_t max_chars) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        if ((*p & 0xC0) != 0x80) n++;
    return max_chars && n > max_chars ? max_chars + 1 : n;
}

static double text_width(const char *s, double font, size_t max_chars) {
    return 0.6 * font * (double)text_chars(s, max_chars);
}

/* ---- numbers ---- */

/* A coordinate with one decimal, without printf's locale. */
static void coord(lk_buf *out, double v) {
    if (!isfinite(v)) v = 0;
    long long t = llround(v * 10);
    if (t < 0) {
        lk_buf_putc(out, '-');
        t = -t;
    }
    lk_buf_printf(out, "%lld", t / 10);
    if (t % 10) lk_buf_printf(out, ".%lld", t % 10);
}

/* A tick value with as many decimals as the step needs. */
static void tick_label(char *buf, size_t size, double v, double step) {
    if (fabs(v) < step * 1e-9) v = 0; /* no "-0" or 1e-17 */
    double mag = LK_MAX(fabs(v), step);
    if (mag >= 1e7 || step < 1e-5) {
        snprintf(buf, size, "%.3g", v);
        return;
    }
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, size, "%.*f", decimals, v);
}

size_t svg_nice_ticks(double lo, double hi, int target, double *ticks, double *step) {
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo <= fabs(hi) * 1e-12) {
        double d = lo != 0 ? fabs(lo) * 0.1 : 0.5;
        lo -= d;
        hi += d;
        if (lo == -0.5 && hi == 0.5) lo = 0, hi = 1;
    }
    if (target < 2) target = 2;
    if (target > SVG_MAX_TICKS - 2) target = SVG_MAX_TICKS - 2;
    double raw = (hi - lo) / target;
    double mag = pow(10, floor(log10(raw)));
    double norm = raw / mag, s;
    if (norm <= 1) s = mag;
    else if (norm <= 2) s = 2 * mag;
    else if (norm <= 5) s = 5 * mag;
    else s = 10 * mag;
    double first = floor(lo / s + 1e-9), last = ceil(hi / s - 1e-9);
    size_t n = (size_t)(last - first) + 1;
    while (n > SVG_MAX_TICKS) { /* rounding at the edges: take the next step up */
        s *= 2;
        first = floor(lo / s + 1e-9);
        last = ceil(hi / s - 1e-9);
        n = (size_t)(last - first) + 1;
    }
    if (n < 2) n = 2, last = first + 1;
    for (size_t i = 0; i < n; i++) ticks[i] = (first + (double)i) * s;
    if (step) *step = s;
    return n;
}

/* ---- axes ---- */

typedef struct axis {
    double lo, hi;              /* the value range of the plot area */
    double ticks[SVG_MAX_TICKS], step;
    size_t n_ticks;
} axis;

/* An axis over data [dlo, dhi] (NAN when there is none), with fixed ends where given. */
static void axis_make(axis *a, double dlo, double dhi, double fix_lo, double fix_hi, int target) {
    double lo = isfinite(fix_lo) ? fix_lo : dlo, hi = isfinite(fix_hi) ? fix_hi : dhi;
    if (!isfinite(lo) && !isfinite(hi)) lo = 0, hi = 1;
    else if (!isfinite(lo)) lo = hi < 0 ? 2 * hi : 0;
    else if (!isfinite(hi)) hi = lo > 0 ? 2 * lo : lo + 1;
    size_t n = svg_nice_ticks(lo, hi, target, a->ticks, &a->step);
    a->lo = isfinite(fix_lo) ? fix_lo : a->ticks[0];
    a->hi = isfinite(fix_hi) ? fix_hi : a->ticks[n - 1];
    if (a->hi <= a->lo) { /* a fixed range given backwards or empty */
        a->lo = a->ticks[0];
        a->hi = a->ticks[n - 1];
    }
    a->n_ticks = 0;
    double eps = a->step * 1e-9;
    for (size_t i = 0; i < n; i++)
        if (a->ticks[i] >= a->lo - eps && a->ticks[i] <= a->hi + eps) a->ticks[a->n_ticks++] = a->ticks[i];
}

static double axis_frac(const axis *a, double v) { return (v - a->lo) / (a->hi - a->lo); }

/* The data range of a panel's series (bars: and 0). */
static void panel_range(const svg_panel *p, size_t n_x, double *lo, double *hi) {
    *lo = p->bars ? 0 : NAN;
    *hi = p->bars ? 0 : NAN;
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < n_x && p->series[s].y; i++) {
            double v = p->series[s].y[i];
            if (!isfinite(v)) continue;
            if (!(v >= *lo)) *lo = v;
            if (!(v <= *hi)) *hi = v;
        }
}

/* ---- layout ---- */

typedef struct layout {
    double width, left, right;  /* plot area from left to width - right */
    bool categorical;
    axis x;                     /* numeric x */
    char **labels;              /* [n_x] x labels as shown (categorical) */
    bool rotate;
    size_t stride;              /* label every stride-th category */
} layout;

static double plot_x(const layout *L, const svg_chart *c, size_t i) {
    double w = L->width - L->left - L->right;
    if (L->categorical) return L->left + ((double)i + 0.5) * w / (double)c->n_x;
    return L->left + axis_frac(&L->x, c->x[i]) * w;
}

static void hash_str(uint64_t *h, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) *h = (*h ^ *p) * 0x100000001b3ULL;
    *h = (*h ^ 0xFF) * 0x100000001b3ULL;
}

/* A legend entry: swatch then name. */
static void legend_item(lk_buf *b, double x, double y, size_t s, const char *name, bool bars) {
    const char *col = palette[s % LK_ARRAY_LEN(palette)];
    if (bars) {
        lk_buf_puts(b, "<rect x=\"");
        coord(b, x);
        lk_buf_puts(b, "\" y=\"");
        coord(b, y - 9);
        lk_buf_printf(b, "\" width=\"12\" height=\"10\" fill=\"%s\"/>\n", col);
    } else {
        lk_buf_puts(b, "<line x1=\"");
        coord(b, x);
        lk_buf_puts(b, "\" y1=\"");
        coord(b, y - 4);
        lk_buf_puts(b, "\" x2=\"");
        coord(b, x + 18);
        lk_buf_puts(b, "\" y2=\"");
        coord(b, y - 4);
        lk_buf_printf(b, "\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", col,
                      s >= 16 ? " stroke-dasharray=\"2 2\"" : s >= 8 ? " stroke-dasharray=\"6 3\"" : "");
    }
    lk_buf_puts(b, "<text x=\"");
    coord(b, x + 22);
    lk_buf_puts(b, "\" y=\"");
    coord(b, y);
    lk_buf_puts(b, "\">");
    escape_n(b, name, MAX_LABEL_CHARS);
    lk_buf_puts(b, "</text>\n");
}

static const char *series_name(const svg_series *s, size_t i, char *buf, size_t size) {
    if (s->name && *s->name) return s->name;
    snprintf(buf, size, "series %zu", i + 1);
    return buf;
}

/* The header of a panel (title and legend rows) at y; returns its height. */
static double panel_header(lk_buf *b, const layout *L, const svg_panel *p, double y) {
    double x = L->left, right = L->width - L->right;
    bool any = false;
    if (p->title && *p->title) {
        lk_buf_puts(b, "<text x=\"");
        coord(b, x);
        lk_buf_puts(b, "\" y=\"");
        coord(b, y + 13);
        lk_buf_puts(b, "\" font-weight=\"bold\" font-size=\"13\">");
        escape_n(b, p->title, 0);
        lk_buf_puts(b, "</text>\n");
        x += text_width(p->title, 13, 0) + 20;
        any = true;
    }
    double row_y = y;
    for (size_t s = 0; s < p->n_series; s++) {
        char buf[32];
        const char *name = series_name(&p->series[s], s, buf, sizeof buf);
        double w = 22 + text_width(name, FONT, MAX_LABEL_CHARS) + 14;
        if (x + w > right && x > L->left) {
            row_y += ROW;
            x = L->left;
        }
        legend_item(b, x, row_y + 13, s, name, p->bars);
        x += w;
        any = true;
    }
    return any ? row_y - y + ROW + 4 : 4;
}

/* One panel's plot area at y (height h); x tick labels when last. */
static void panel_plot(lk_buf *b, const layout *L, const svg_chart *c, const svg_panel *p, size_t pi,
                       double y, double h, const axis *ya, uint64_t id) {
    double x0 = L->left, x1 = L->width - L->right, w = x1 - x0;
    /* y gridlines and tick labels */
    for (size_t t = 0; t < ya->n_ticks; t++) {
        double ty = y + h - axis_frac(ya, ya->ticks[t]) * h;
        char lab[64];
        tick_label(lab, sizeof lab, ya->ticks[t], ya->step);
        lk_buf_puts(b, "<line x1=\"");
        coord(b, x0);
        lk_buf_puts(b, "\" y1=\"");
        coord(b, ty);
        lk_buf_puts(b, "\" x2=\"");
        coord(b, x1);
        lk_buf_puts(b, "\" y2=\"");
        coord(b, ty);
        lk_buf_puts(b, "\" stroke=\"#e0e0e0\"/>\n<text x=\"");
        coord(b, x0 - 6);
        lk_buf_puts(b, "\" y=\"");
        coord(b, ty + 4);
        lk_buf_printf(b, "\" text-anchor=\"end\">%s</text>\n", lab);
    }
    /* numeric x gridlines */
    if (!L->categorical)
        for (size_t t = 0; t < L->x.n_ticks; t++) {
            double tx = x0 + axis_frac(&L->x, L->x.ticks[t]) * w;
            lk_buf_puts(b, "<line x1=\"");
            coord(b, tx);
            lk_buf_puts(b, "\" y1=\"");
            coord(b, y);
            lk_buf_puts(b, "\" x2=\"");
            coord(b, tx);
            lk_buf_puts(b, "\" y2=\"");
            coord(b, y + h);
            lk_buf_puts(b, "\" stroke=\"#f0f0f0\"/>\n");
        }
    /* y axis label, rotated, centred on the plot */
    if (p->y_label && *p->y_label) {
        lk_buf_puts(b, "<text transform=\"translate(16,");
        coord(b, y + h / 2);
        lk_buf_puts(b, ") rotate(-90)\" text-anchor=\"middle\">");
        escape_n(b, p->y_label, 0);
        lk_buf_puts(b, "</text>\n");
    }

    /* the data, clipped to the plot area */
    lk_buf_printf(b, "<clipPath id=\"lkclip-%016llx-%zu\"><rect x=\"", (unsigned long long)id, pi);
    coord(b, x0);
    lk_buf_puts(b, "\" y=\"");
    coord(b, y);
    lk_buf_puts(b, "\" width=\"");
    coord(b, w);
    lk_buf_puts(b, "\" height=\"");
    coord(b, h);
    lk_buf_printf(b, "\"/></clipPath>\n<g clip-path=\"url(#lkclip-%016llx-%zu)\">\n", (unsigned long long)id, pi);
    double base = LK_MIN(LK_MAX(0.0, ya->lo), ya->hi);
    double base_y = y + h - axis_frac(ya, base) * h;
    for (size_t s = 0; s < p->n_series; s++) {
        const double *v = p->series[s].y;
        if (!v) continue;
        const char *col = palette[s % LK_ARRAY_LEN(palette)];
        char nbuf[32];
        const char *name = series_name(&p->series[s], s, nbuf, sizeof nbuf);
        if (p->bars) {
            double slot = w / (double)c->n_x, group = 0.8 * slot, bw = group / (double)p->n_series;
            for (size_t i = 0; i < c->n_x; i++) {
                if (!isfinite(v[i])) continue;
                double bx = plot_x(L, c, i) - group / 2 + (double)s * bw;
                double vy = y + h - axis_frac(ya, v[i]) * h;
                vy = LK_MIN(LK_MAX(vy, y - 1), y + h + 1); /* clipped anyway; keep numbers sane */
                lk_buf_puts(b, "<rect x=\"");
                coord(b, bx);
                lk_buf_puts(b, "\" y=\"");
                coord(b, LK_MIN(vy, base_y));
                lk_buf_puts(b, "\" width=\"");
                coord(b, LK_MAX(bw - 1, 0.5));
                lk_buf_puts(b, "\" height=\"");
                coord(b, fabs(base_y - vy));
                lk_buf_printf(b, "\" fill=\"%s\"><title>", col);
                escape_n(b, name, 0);
                lk_buf_puts(b, ", ");
                escape_n(b, L->labels[i], 0);
                lk_buf_printf(b, ": %.6g</title></rect>\n", v[i]);
            }
            continue;
        }
        /* the line, broken at gaps */
        lk_buf_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\"%s d=\"", col,
                      s >= 16 ? " stroke-dasharray=\"2 2\"" : s >= 8 ? " stroke-dasharray=\"6 3\"" : "");
        bool pen = false, any = false;
        for (size_t i = 0; i < c->n_x; i++) {
            bool ok = isfinite(v[i]) && (L->categorical || isfinite(c->x[i]));
            if (!ok) {
                pen = false;
                continue;
            }
            double py = y + h - axis_frac(ya, v[i]) * h;
            py = LK_MIN(LK_MAX(py, y - h), y + 2 * h);
            lk_buf_puts(b, pen ? " L" : any ? " M" : "M");
            coord(b, plot_x(L, c, i));
            lk_buf_putc(b, ',');
            coord(b, py);
            pen = any = true;
        }
        lk_buf_puts(b, "\"/>\n");
        for (size_t i = 0; i < c->n_x; i++) {
            bool ok = isfinite(v[i]) && (L->categorical || isfinite(c->x[i]));
            if (!ok || v[i] < ya->lo || v[i] > ya->hi) continue;
            lk_buf_printf(b, "<circle r=\"%s\" fill=\"%s\" cx=\"", c->n_x > MAX_MARKERS ? "1.5" : "3", col);
            coord(b, plot_x(L, c, i));
            lk_buf_puts(b, "\" cy=\"");
            coord(b, y + h - axis_frac(ya, v[i]) * h);
            lk_buf_puts(b, "\"><title>");
            escape_n(b, name, 0);
            lk_buf_puts(b, ", ");
            if (L->categorical) escape_n(b, L->labels[i], 0);
            else lk_buf_printf(b, "%.6g", c->x[i]);
            lk_buf_printf(b, ": %.6g</title></circle>\n", v[i]);
        }
    }
    lk_buf_puts(b, "</g>\n");

    /* axes */
    lk_buf_puts(b, "<path fill=\"none\" stroke=\"#333\" d=\"M");
    coord(b, x0);
    lk_buf_putc(b, ',');
    coord(b, y);
    lk_buf_puts(b, " V");
    coord(b, y + h);
    lk_buf_puts(b, " H");
    coord(b, x1);
    lk_buf_puts(b, "\"/>\n");
}

/* The x tick marks and labels under the last panel at y; returns their height. */
static double x_ticks(lk_buf *b, const layout *L, const svg_chart *c, double y, double label_h) {
    double x0 = L->left, w = L->width - L->left - L->right;
    if (L->categorical) {
        for (size_t i = 0; i < c->n_x; i += L->stride) {
            double tx = plot_x(L, c, i);
            lk_buf_puts(b, "<line stroke=\"#333\" x1=\"");
            coord(b, tx);
            lk_buf_puts(b, "\" y1=\"");
            coord(b, y);
            lk_buf_puts(b, "\" x2=\"");
            coord(b, tx);
            lk_buf_puts(b, "\" y2=\"");
            coord(b, y + 4);
            lk_buf_puts(b, "\"/>\n");
            if (L->rotate) {
                lk_buf_puts(b, "<text text-anchor=\"end\" transform=\"translate(");
                coord(b, tx + 4);
                lk_buf_putc(b, ',');
                coord(b, y + 10);
                lk_buf_puts(b, ") rotate(-45)\">");
            } else {
                lk_buf_puts(b, "<text text-anchor=\"middle\" x=\"");
                coord(b, tx);
                lk_buf_puts(b, "\" y=\"");
                coord(b, y + 17);
                lk_buf_puts(b, "\">");
            }
            escape_n(b, L->labels[i], MAX_LABEL_CHARS);
            lk_buf_puts(b, "</text>\n");
        }
    } else {
        for (size_t t = 0; t < L->x.n_ticks; t++) {
            double tx = x0 + axis_frac(&L->x, L->x.ticks[t]) * w;
            char lab[64];
            tick_label(lab, sizeof lab, L->x.ticks[t], L->x.step);
            lk_buf_puts(b, "<line stroke=\"#333\" x1=\"");
            coord(b, tx);
            lk_buf_puts(b, "\" y1=\"");
            coord(b, y);
            lk_buf_puts(b, "\" x2=\"");
            coord(b, tx);
            lk_buf_puts(b, "\" y2=\"");
            coord(b, y + 4);
            lk_buf_puts(b, "\"/>\n<text text-anchor=\"middle\" x=\"");
            coord(b, tx);
            lk_buf_puts(b, "\" y=\"");
            coord(b, y + 17);
            lk_buf_printf(b, "\">%s</text>\n", lab);
        }
    }
    return label_h;
}

void svg_render(const svg_chart *c, lk_buf *out) {
    layout L = { .width = c->width > 0 ? LK_MAX(c->width, 240) : 800, .right = 20, .stride = 1 };
    size_t n_x = c->n_x;
    for (size_t p = 0; p < c->n_panels; p++)
        if (c->panels[p].bars) L.categorical = true;
    if (!c->x) L.categorical = true;

    /* x labels as shown */
    L.labels = lk_xcalloc(n_x ? n_x : 1, sizeof *L.labels);
    for (size_t i = 0; i < n_x; i++) {
        if (c->x_labels && c->x_labels[i]) L.labels[i] = lk_xstrdup(c->x_labels[i]);
        else if (c->x) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.6g", c->x[i]);
            L.labels[i] = lk_xstrdup(buf);
        } else {
            char buf[32];
            snprintf(buf, sizeof buf, "%zu", i + 1);
            L.labels[i] = lk_xstrdup(buf);
        }
    }

    /* y axes, and the left margin their labels need */
    axis *ya = lk_xcalloc(c->n_panels ? c->n_panels : 1, sizeof *ya);
    double tick_w = 0;
    bool any_ylabel = false;
    for (size_t p = 0; p < c->n_panels; p++) {
        const svg_panel *P = &c->panels[p];
        double lo, hi;
        panel_range(P, n_x, &lo, &hi);
        int h = P->height > 0 ? P->height : PLOT_HEIGHT;
        axis_make(&ya[p], lo, hi, P->y_min, P->y_max, LK_MAX(2, LK_MIN(10, h / 40)));
        for (size_t t = 0; t < ya[p].n_ticks; t++) {
            char lab[64];
            tick_label(lab, sizeof lab, ya[p].ticks[t], ya[p].step);
            tick_w = LK_MAX(tick_w, text_width(lab, FONT, 0));
        }
        if (P->y_label && *P->y_label) any_ylabel = true;
    }
    L.left = PAD + (any_ylabel ? 20 : 0) + tick_w + 8;
    double plot_w = L.width - L.left - L.right;

    /* x axis: numeric ticks, or how the categories' labels fit */
    double label_h = 22;
    if (!L.categorical) {
        double lo = NAN, hi = NAN;
        for (size_t i = 0; i < n_x; i++)
            if (isfinite(c->x[i])) {
                if (!(c->x[i] >= lo)) lo = c->x[i];
                if (!(c->x[i] <= hi)) hi = c->x[i];
            }
        axis_make(&L.x, lo, hi, NAN, NAN, LK_MAX(2, LK_MIN(10, (int)(plot_w / 80))));
    } else if (n_x > 0) {
        double slot = plot_w / (double)n_x, widest = 0;
        for (size_t i = 0; i < n_x; i++) widest = LK_MAX(widest, text_width(L.labels[i], FONT, MAX_LABEL_CHARS));
        if (widest + 6 > slot) {
            L.rotate = true;
            L.stride = (size_t)ceil(16 / slot);
            if (L.stride < 1) L.stride = 1;
            label_h = widest * 0.71 + 18;
        }
    }

    uint64_t id = 0xcbf29ce484222325ULL;
    hash_str(&id, c->title);
    hash_str(&id, c->x_label);
    for (size_t i = 0; i < n_x; i++) hash_str(&id, L.labels[i]);
    for (size_t p = 0; p < c->n_panels; p++) {
        hash_str(&id, c->panels[p].title);
        for (size_t s = 0; s < c->panels[p].n_series; s++) hash_str(&id, c->panels[p].series[s].name);
    }

    /* the body, top to bottom */
    lk_buf b = {0};
    double y = PAD;
    if (c->title && *c->title) {
        lk_buf_puts(&b, "<text x=\"");
        coord(&b, L.width / 2);
        lk_buf_printf(&b, "\" y=\"%d\" text-anchor=\"middle\" font-size=\"%d\" font-weight=\"bold\">", PAD + TITLE_FONT,
                      TITLE_FONT);
        escape_n(&b, c->title, 0);
        lk_buf_puts(&b, "</text>\n");
        y += TITLE_FONT + 14;
    }
    for (size_t p = 0; p < c->n_panels; p++) {
        const svg_panel *P = &c->panels[p];
        double h = P->height > 0 ? P->height : PLOT_HEIGHT;
        lk_buf_printf(&b, "<g class=\"panel\">\n");
        y += panel_header(&b, &L, P, y);
        panel_plot(&b, &L, c, P, p, y, h, &ya[p], id);
        lk_buf_puts(&b, "</g>\n");
        y += h;
        if (p + 1 < c->n_panels) y += 16;
    }
    if (c->n_panels == 0) {
        /* nothing to plot: an empty frame keeps the document valid and visible */
        lk_buf_puts(&b, "<rect fill=\"none\" stroke=\"#333\" x=\"");
        coord(&b, L.left);
        lk_buf_printf(&b, "\" y=\"%d\" width=\"", (int)y);
        coord(&b, plot_w);
        lk_buf_printf(&b, "\" height=\"%d\"/>\n", PLOT_HEIGHT / 2);
        y += PLOT_HEIGHT / 2;
    }
    y += x_ticks(&b, &L, c, y, label_h);
    if (c->x_label && *c->x_label) {
        lk_buf_puts(&b, "<text text-anchor=\"middle\" x=\"");
        coord(&b, L.left + plot_w / 2);
        lk_buf_puts(&b, "\" y=\"");
        coord(&b, y + 14);
        lk_buf_puts(&b, "\">");
        escape_n(&b, c->x_label, 0);
        lk_buf_puts(&b, "</text>\n");
        y += 20;
    }
    y += PAD;

    lk_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    lk_buf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"%d\">\n",
                  (int)L.width, (int)ceil(y), (int)L.width, (int)ceil(y), FONT);
    if (c->title && *c->title) {
        lk_buf_puts(out, "<title>");
        escape_n(out, c->title, 0);
        lk_buf_puts(out, "</title>\n");
    }
    lk_buf_puts(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    lk_buf_append(out, b.data ? b.data : "", b.len);
    lk_buf_puts(out, "</svg>\n");

    lk_buf_free(&b);
    for (size_t i = 0; i < n_x; i++) free(L.labels[i]);
    free(L.labels);
    free(ya);
}

/* svg.h — small dependency-free charts as standalone SVG 1.1: line charts with point markers
 * and grouped bar charts, in one or more panels stacked vertically over a shared x axis.
 *
 * Made for reports (eval results, load tests, quantization studies): the output is one string
 * that opens in a browser or goes inside an HTML page. Colours are the Okabe-Ito palette (safe
 * for colour-blind readers; series past the eighth reuse it with dashed lines); axes get "nice"
 * ticks (1, 2 or 5 times a power of ten) and gridlines; every point and bar carries a <title>
 * tooltip with its value. Nothing here knows about models or evals. */
#ifndef LK_SVG_H
#define LK_SVG_H

#include "base/base.h"

/* A named row of y values, one per x position (n_x of them); NAN (or any non-finite value) is a
 * gap: no marker or bar, and the line is broken there. */
typedef struct svg_series {
    const char *name;
    const double *y;
} svg_series;

/* One plot area with its own y axis. */
typedef struct svg_panel {
    const char *title;              /* above the plot (may be NULL) */
    const char *y_label;            /* beside the y axis (may be NULL) */
    const svg_series *series;
    size_t n_series;
    bool bars;                      /* grouped bars instead of lines (bars start at 0) */
    double y_min, y_max;            /* NAN: from the data, widened to nice ticks (bars: and to
                                       include 0); values outside a fixed range are clipped */
    int height;                     /* of the plot area in pixels; 0: 220 */
} svg_panel;

/* A chart: panels stacked top to bottom, sharing the x axis drawn under the last one. */
typedef struct svg_chart {
    const char *title;              /* may be NULL */
    const char *x_label;            /* may be NULL */
    const char *const *x_labels;    /* [n_x] categorical x positions, evenly spaced... */
    const double *x;                /* ...or [n_x] numeric ones (x_labels NULL); a chart with a
                                       bar panel is always categorical (numeric x become labels) */
    size_t n_x;
    const svg_panel *panels;
    size_t n_panels;
    int width;                      /* pixels; 0: 800 */
} svg_chart;

/* Append the chart as a complete SVG document (XML declaration, <svg xmlns=...>) to out. Any
 * input draws something: no data gives empty axes on [0, 1], a constant series a range around
 * its value. Text is escaped, control characters dropped and invalid UTF-8 replaced. */
void svg_render(const svg_chart *c, lk_buf *out);

enum { SVG_MAX_TICKS = 32 };

/* "Nice" tick values covering [lo, hi] with about target (2..SVG_MAX_TICKS - 2) intervals:
 * multiples of a step that is 1, 2 or 5 times a power of ten, from the largest multiple <= lo to
 * the smallest >= hi. lo == hi is widened (by 10% of |lo|, or to [0, 1] at 0); lo > hi swapped;
 * non-finite bounds give [0, 1]. Fills ticks[SVG_MAX_TICKS] and *step; returns the count (>= 2). */
size_t svg_nice_ticks(double lo, double hi, int target, double *ticks, double *step);

/* Append s to out escaped for XML text or attribute values (& < > " '), control characters
 * other than tab and newline dropped, invalid UTF-8 bytes replaced by U+FFFD. */
void svg_escape(lk_buf *out, const char *s);

#endif

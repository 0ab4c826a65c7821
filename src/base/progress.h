/* progress.h — a progress bar on stderr for long jobs (quantize, sweeps, eval runs, load tests).
 *
 * Drawn only when stderr is a terminal (or LLMKIT_PROGRESS=1), redrawn at most ten times a
 * second and whenever the per-mille changes, with the elapsed time and an estimate of what is
 * left; a caller's detail text ("12.5M of 134M weights") follows the bar. Nothing is drawn
 * otherwise, so logs and pipes stay clean. */
#ifndef LK_PROGRESS_H
#define LK_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct lk_progress {
    const char *label;           /* printed before the bar ("sweep"); may be NULL */
    uint64_t total;
    bool on;                     /* drawing at all */
    int shown;                   /* per mille last drawn, -1 before the first */
    double t0, t_drawn;
    bool open;                   /* a bar is on the line (needs a newline before other output) */
} lk_progress;

/* Start a bar for total units of work. */
void lk_progress_start(lk_progress *p, const char *label, uint64_t total);
/* done of total are finished; detail (may be NULL) is shown after the bar. */
void lk_progress_update(lk_progress *p, uint64_t done, const char *detail);
/* End the bar's line (if one is drawn); call before printing results, and on errors. */
void lk_progress_end(lk_progress *p);

#endif

/* progress.c — the progress bar of long jobs (see progress.h). */
#include "base/progress.h"
#include "base/base.h"

#include <unistd.h>

void lk_progress_start(lk_progress *p, const char *label, uint64_t total) {
    const char *env = getenv("LLMKIT_PROGRESS");
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->on = env ? strcmp(env, "1") == 0 : isatty(2);
    p->shown = -1;
    p->t0 = lk_now();
}

void lk_progress_update(lk_progress *p, uint64_t done, const char *detail) {
    if (!p->on) return;
    int pm = p->total ? (int)(1000 * (done > p->total ? p->total : done) / p->total) : 1000;
    double now = lk_now();
    if (pm == p->shown || (pm != 1000 && now - p->t_drawn < 0.1 && p->shown >= 0)) return;
    p->shown = pm;
    p->t_drawn = now;
    int width = 30, fill = pm * width / 1000;
    double el = now - p->t0;
    char eta[32] = "";
    if (pm > 0 && pm < 1000) snprintf(eta, sizeof eta, ", ~%.0f s left", el * (1000 - pm) / pm);
    fprintf(stderr, "\r\033[K%s%s[%.*s%*s] %5.1f%%  %s%s%.0f s%s", p->label ? p->label : "", p->label ? " " : "",
            fill, "##############################", width - fill, "", pm / 10.0, detail ? detail : "",
            detail ? "  " : "", el, eta);
    p->open = true;
    if (pm == 1000) lk_progress_end(p);
}

void lk_progress_end(lk_progress *p) {
    if (p->open) fputc('\n', stderr);
    p->open = false;
}

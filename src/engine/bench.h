/* bench.h — timing the engine the way llama-bench does: prompt processing (one batch of
 * n random tokens into an empty cache) and text generation (n tokens one at a time from an
 * empty cache), in tokens per second. */
#ifndef LK_BENCH_H
#define LK_BENCH_H

#include "engine/model.h"

/* Seconds to evaluate n_prompt tokens as batches of n_batch into a fresh cache of n_ctx cells. */
int lk_bench_pp(const lk_llm *m, int n_prompt, int n_batch, double *seconds, lk_error *err);

/* Seconds to evaluate n_gen tokens one at a time into a fresh cache. */
int lk_bench_tg(const lk_llm *m, int n_gen, double *seconds, lk_error *err);

/* Peak resident set size of this process, in bytes. */
size_t lk_peak_rss(void);

#endif

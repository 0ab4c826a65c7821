/* bench.c — prompt-processing and generation timings (see bench.h). Tokens are drawn from the
 * vocabulary with a fixed seed, as llama-bench uses random tokens: speed does not depend on
 * which tokens they are. */
#include "engine/bench.h"
#include "base/base.h"

#include <sys/resource.h>

static void fill_tokens(int32_t *t, int n, int n_vocab) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        t[i] = (int32_t)(s % (uint64_t)n_vocab);
    }
}

int lk_bench_pp(const lk_llm *m, int n_prompt, int n_batch, double *seconds, lk_error *err) {
    if (n_prompt < 1) return lk_errorf(err, LK_EINVAL, "bench: prompt of %d tokens", n_prompt);
    if (n_batch < 1) n_batch = 256;
    lk_kv kv;
    int rc = lk_kv_init(&kv, m, n_prompt, err);
    if (rc) return rc;
    int32_t *t = lk_xmalloc((size_t)n_prompt * sizeof *t);
    float *logits = malloc((size_t)m->hp.n_vocab * sizeof(float));
    fill_tokens(t, n_prompt, m->hp.n_vocab);
    double t0 = lk_now();
    for (int i = 0; i < n_prompt && !rc; i += n_batch)
        rc = lk_llm_eval(m, &kv, t + i, LK_MIN(n_batch, n_prompt - i), i, false, logits, err);
    *seconds = lk_now() - t0;
    free(t);
    free(logits);
    lk_kv_free(&kv);
    return rc;
}

int lk_bench_tg(const lk_llm *m, int n_gen, double *seconds, lk_error *err) {
    if (n_gen < 1) return lk_errorf(err, LK_EINVAL, "bench: %d tokens to generate", n_gen);
    lk_kv kv;
    int rc = lk_kv_init(&kv, m, n_gen, err);
    if (rc) return rc;
    int32_t *t = lk_xmalloc((size_t)n_gen * sizeof *t);
    float *logits = malloc((size_t)m->hp.n_vocab * sizeof(float));
    fill_tokens(t, n_gen, m->hp.n_vocab);
    double t0 = lk_now();
    for (int i = 0; i < n_gen && !rc; i++) rc = lk_llm_eval(m, &kv, t + i, 1, i, false, logits, err);
    *seconds = lk_now() - t0;
    free(t);
    free(logits);
    lk_kv_free(&kv);
    return rc;
}

size_t lk_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;
}

/* perplexity.c — windowed perplexity (see perplexity.h). */
#include "engine/perplexity.h"
#include "base/base.h"

#include <math.h>

/* -log softmax(logits)[target], in double. */
static double nll_of(const float *logits, int n_vocab, int target) {
    float mx = logits[0];
    for (int i = 1; i < n_vocab; i++) if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
    return log(sum) - ((double)logits[target] - mx);
}

int lk_perplexity(const lk_llm *m, const int32_t *tokens, long n, int n_ctx, int n_batch,
                  lk_ppl_progress progress, void *ud, lk_ppl_result *out, lk_error *err) {
    memset(out, 0, sizeof *out);
    if (n_ctx < 8 || n_ctx % 2)
        return lk_errorf(err, LK_EINVAL, "perplexity: context %d must be even and at least 8", n_ctx);
    if (n_ctx > m->hp.n_ctx_train)
        lk_log(LK_LOG_WARN, "perplexity: context %d is longer than the model's training context %d",
               n_ctx, m->hp.n_ctx_train);
    long n_windows = n / n_ctx;
    if (n_windows < 1)
        return lk_errorf(err, LK_EINVAL, "perplexity: the text has %ld tokens, fewer than one window of %d "
                         "(use a longer text or a smaller --ctx)", n, n_ctx);
    if (n_batch <= 0 || n_batch > n_ctx) n_batch = n_ctx;
    int n_vocab = m->hp.n_vocab;
    lk_kv kv;
    int rc = lk_kv_init(&kv, m, n_ctx, err);
    if (rc) return rc;
    float *logits = malloc((size_t)n_batch * (size_t)n_vocab * sizeof(float));
    int32_t *win = malloc((size_t)n_ctx * sizeof *win);
    if (!logits || !win) {
        rc = lk_errorf(err, LK_ENOMEM, "perplexity: out of memory for %d x %d logits", n_batch, n_vocab);
        goto done;
    }
    int32_t bos = tok_bos(m->tok);
    bool add_bos = tok_add_bos(m->tok) && bos >= 0;
    int first = n_ctx / 2;
    double sum = 0, sum2 = 0, t0 = lk_now();
    long cnt = 0;
    for (long w = 0; w < n_windows && !rc; w++) {
        memcpy(win, tokens + w * n_ctx, (size_t)n_ctx * sizeof *win);
        if (add_bos) win[0] = bos;
        lk_kv_clear(&kv);
        for (int i = 0; i < n_ctx && !rc; i += n_batch) {
            int len = LK_MIN(n_batch, n_ctx - i);
            rc = lk_llm_eval(m, &kv, win + i, len, i, true, logits, err);
            /* logits row j predicts token i + j + 1; score positions first .. n_ctx - 2 */
            for (int j = 0; j < len && !rc; j++) {
                int p = i + j;
                if (p < first || p >= n_ctx - 1) continue;
                double v = nll_of(logits + (size_t)j * n_vocab, n_vocab, tokens[w * n_ctx + p + 1]);
                sum += v;
                sum2 += v * v;
                cnt++;
            }
        }
        out->n_windows = (int)(w + 1);
        out->n_scored = cnt;
        out->nll = sum / cnt;
        double var = sum2 / cnt - out->nll * out->nll;
        out->nll_sd = cnt > 1 && var > 0 ? sqrt(var / (cnt - 1)) : 0;
        out->ppl = exp(out->nll);
        out->seconds = lk_now() - t0;
        if (!rc && progress) progress(ud, (int)(w + 1), (int)n_windows, out);
    }
done:
    free(logits);
    free(win);
    lk_kv_free(&kv);
    return rc;
}

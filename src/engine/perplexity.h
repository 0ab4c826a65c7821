/* perplexity.h — perplexity of a model on a token stream, computed as llama.cpp's perplexity
 * tool does, so that the numbers can be compared.
 *
 * The tokens are cut into non-overlapping windows of n_ctx tokens (a tail shorter than a window
 * is dropped). Each window is evaluated from an empty cache, with its first token replaced by
 * BOS when the vocabulary adds one; only the second half of each window is scored, so that every
 * scored token has at least n_ctx/2 tokens of context. The score is the mean negative log
 * likelihood of the next token, in nats; perplexity is exp of it. */
#ifndef LK_PERPLEXITY_H
#define LK_PERPLEXITY_H

#include "engine/model.h"

typedef struct lk_ppl_result {
    int n_windows;       /* windows evaluated */
    long n_scored;       /* tokens scored */
    double nll;          /* mean negative log likelihood (nats per token) */
    double nll_sd;       /* standard error of that mean */
    double ppl;          /* exp(nll) */
    double seconds;
} lk_ppl_result;

/* Called after each window with the running result. */
typedef void (*lk_ppl_progress)(void *ud, int window, int n_windows, const lk_ppl_result *so_far);

/* Score tokens[n] (the whole text, tokenized without BOS) with windows of n_ctx tokens (even,
 * >= 8), n_batch tokens per forward pass. Fails with LK_EINVAL when the text has fewer than one
 * window of tokens. */
int lk_perplexity(const lk_llm *m, const int32_t *tokens, long n, int n_ctx, int n_batch,
                  lk_ppl_progress progress, void *ud, lk_ppl_result *out, lk_error *err);

#endif

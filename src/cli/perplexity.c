/* perplexity.c — `llmkit perplexity`: perplexity and cross-entropy of a model on a text file. */
#include "cli/cli.h"
#include "engine/generate.h"
#include "engine/perplexity.h"

#include <unistd.h>

static void show_progress(void *ud, int w, int n, const lk_ppl_result *r) {
    (void)ud;
    double eta = r->seconds / w * (n - w);
    fprintf(stderr, "\r[%d/%d] ppl %.4f  nll %.4f  %.1f s, ETA %.1f s   ", w, n, r->ppl, r->nll, r->seconds, eta);
    if (w == n) fputc('\n', stderr);
}

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    int n_ctx = 512, n_batch = 0, max_windows = 0;
    bool json = false;
    cli_engine ce;
    lk_opt opts[16] = {
        { "model", 'm', LK_OPT_STR, &model, "FILE", "the GGUF model" },
        { "file", 'f', LK_OPT_STR, &file, "FILE", "the text to score" },
        { "ctx", 'c', LK_OPT_INT, &n_ctx, "N", "window size in tokens (512)" },
        { "batch", 'b', LK_OPT_INT, &n_batch, "N", "tokens per forward pass (default: the window)" },
        { "chunks", 0, LK_OPT_INT, &max_windows, "N", "score at most N windows (0 = all)" },
        { "json", 0, LK_OPT_FLAG, &json, NULL, "print the result as JSON" },
    };
    int n_opts = 6;
    n_opts += cli_engine_opts(&ce, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit perplexity -m MODEL.gguf -f FILE [--ctx 512]",
        "Perplexity of the model on a text, computed as llama.cpp's perplexity tool does: the\n"
        "tokens are cut into non-overlapping windows of --ctx tokens, each window starts with BOS\n"
        "(when the model uses one) and only its second half is scored. Prints the perplexity and\n"
        "the mean cross-entropy in nats per token, with its standard error.",
        "  llmkit perplexity -m model.gguf -f wiki.test.raw --ctx 512\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!model || !file) return cli_usage("perplexity: --model and --file are required");

    lk_error err = {0};
    lk_buf text = {0};
    if (lk_read_file(file, &text, &err)) return cli_fail(&err);
    lk_llm *m;
    lk_pool *pool;
    if ((rc = cli_load_model(&ce, model, &m, &pool, NULL))) {
        lk_buf_free(&text);
        return rc;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    lk_ppl_result r;
    rc = tok_encode(m->tok, text.data, text.len, false, false, &ids, &n, &err);
    if (!rc) {
        long use = (long)n;
        if (max_windows > 0 && (long)max_windows * n_ctx < use) use = (long)max_windows * n_ctx;
        if (!json) fprintf(stderr, "%s: %zu tokens, %ld windows of %d\n", file, n, use / (n_ctx > 0 ? n_ctx : 1), n_ctx);
        rc = lk_perplexity(m, ids, use, n_ctx, n_batch, isatty(2) || !json ? show_progress : NULL, NULL, &r, &err);
    }
    if (!rc) {
        if (json)
            printf("{\"model\": \"%s\", \"ctx\": %d, \"windows\": %d, \"tokens_scored\": %ld, \"ppl\": %.6f, "
                   "\"nll\": %.6f, \"nll_stderr\": %.6f, \"seconds\": %.3f}\n",
                   m->name, n_ctx, r.n_windows, r.n_scored, r.ppl, r.nll, r.nll_sd, r.seconds);
        else
            printf("perplexity: %.4f  cross-entropy: %.4f ± %.4f nats/token  (%ld tokens scored in %d windows, %.1f s)\n",
                   r.ppl, r.nll, r.nll_sd, r.n_scored, r.n_windows, r.seconds);
    }
    free(ids);
    lk_llm_free(m);
    lk_pool_free(pool);
    lk_buf_free(&text);
    return rc ? cli_fail(&err) : 0;
}

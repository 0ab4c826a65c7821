/* bench.c — `llmkit bench`: prompt-processing and generation speed, as llama-bench reports
 * them (mean ± sd of tokens/s over repetitions), with the peak resident memory. */
#include "cli/cli.h"
#include "engine/bench.h"
#include "engine/quant/kernels.h"
#include "engine/quant/quant.h"

#include <math.h>

static void stats(const double *v, int n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0;
}

/* The most common matrix type, to name the model's quantization. */
static const char *main_type(const lk_llm *m) {
    uint64_t bytes[LK_QTYPE_COUNT] = {0};
    for (uint64_t i = 0; i < m->gf->n_tensors; i++)
        if (m->gf->tensors[i].type < LK_QTYPE_COUNT && m->gf->tensors[i].n_dims >= 2)
            bytes[m->gf->tensors[i].type] += m->gf->tensors[i].nbytes;
    int best = 0;
    for (int t = 1; t < LK_QTYPE_COUNT; t++) if (bytes[t] > bytes[best]) best = t;
    return lk_qtype((uint32_t)best)->name;
}

int cmd_bench(int argc, char **argv) {
    const char *model = NULL;
    int n_prompt = 512, n_gen = 128, reps = 5, n_batch = 256;
    bool json = false;
    cli_engine ce;
    lk_opt opts[16] = {
        { "model", 'm', LK_OPT_STR, &model, "FILE", "the GGUF model" },
        { "n-prompt", 'p', LK_OPT_INT, &n_prompt, "N", "prompt tokens (512; 0 = skip)" },
        { "n-gen", 'n', LK_OPT_INT, &n_gen, "N", "generated tokens (128; 0 = skip)" },
        { "batch", 'b', LK_OPT_INT, &n_batch, "N", "prompt tokens per forward pass (256)" },
        { "repetitions", 'r', LK_OPT_INT, &reps, "N", "runs of each test (5), after one warm-up" },
        { "json", 0, LK_OPT_FLAG, &json, NULL, "print JSON instead of a table" },
    };
    int n_opts = 6;
    n_opts += cli_engine_opts(&ce, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit bench -m MODEL.gguf [-p 512] [-n 128] [-t N] [-r 5] [--json]",
        "Measure prompt processing (pp: -p random tokens in batches into an empty cache) and text\n"
        "generation (tg: -n tokens one at a time) in tokens per second, as mean ± standard\n"
        "deviation over -r runs after a warm-up, like llama-bench, and the peak resident memory.",
        "  llmkit bench -m model.gguf -p 512 -n 128 -t 2 -r 5\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!model) return cli_usage("bench: --model is required");
    if (reps < 1 || reps > 1000) return cli_usage("bench: --repetitions %d: expected 1 to 1000", reps);
    if (n_prompt < 0 || n_gen < 0) return cli_usage("bench: -p and -n must be >= 0");
    lk_llm *m;
    lk_pool *pool;
    double load_s;
    if ((rc = cli_load_model(&ce, model, &m, &pool, &load_s))) return rc;
    lk_error err = {0};
    struct { const char *name; int n; double mean, sd; } tests[2] = { { "pp", n_prompt, 0, 0 }, { "tg", n_gen, 0, 0 } };
    double *runs = lk_xmalloc((size_t)reps * sizeof(double));
    for (int k = 0; k < 2 && !rc; k++) {
        if (tests[k].n == 0) continue;
        for (int r = -1; r < reps && !rc; r++) { /* r = -1: warm-up */
            double s = 0;
            rc = k == 0 ? lk_bench_pp(m, tests[k].n, n_batch, &s, &err) : lk_bench_tg(m, tests[k].n, &s, &err);
            if (r >= 0) runs[r] = tests[k].n / s;
        }
        if (!rc) stats(runs, reps, &tests[k].mean, &tests[k].sd);
    }
    free(runs);
    if (rc) {
        lk_llm_free(m);
        lk_pool_free(pool);
        return cli_fail(&err);
    }
    double gib = (double)lk_llm_weight_bytes(m) / (1 << 30);
    double params = (double)lk_llm_n_params(m);
    const char *simd = lk_kernels_active()->name;
    size_t rss = lk_peak_rss();
    if (json) {
        printf("{\"model\": \"%s\", \"type\": \"%s\", \"size_bytes\": %llu, \"params\": %.0f, \"threads\": %d, "
               "\"simd\": \"%s\", \"weights\": \"%s\", \"kv_type\": \"%s\", \"peak_rss_bytes\": %zu, \"load_s\": %.4f, \"tests\": [",
               m->name, main_type(m), (unsigned long long)lk_llm_weight_bytes(m), params, lk_pool_size(pool), simd,
               m->weights_copied ? "copied" : "mapped", ce.kv_type, rss, load_s);
        int first = 1;
        for (int k = 0; k < 2; k++) {
            if (!tests[k].n) continue;
            printf("%s{\"test\": \"%s%d\", \"n\": %d, \"reps\": %d, \"tokens_per_s\": %.3f, \"sd\": %.3f}",
                   first ? "" : ", ", tests[k].name, tests[k].n, tests[k].n, reps, tests[k].mean, tests[k].sd);
            first = 0;
        }
        printf("]}\n");
    } else {
        printf("| model | type | size | params | threads | simd | weights | test | t/s |\n");
        printf("|---|---|---:|---:|---:|---|---|---|---:|\n");
        for (int k = 0; k < 2; k++) {
            if (!tests[k].n) continue;
            printf("| %s | %s | %.2f GiB | %.2f M | %d | %s | %s | %s%d | %.2f ± %.2f |\n", m->name, main_type(m), gib,
                   params / 1e6, lk_pool_size(pool), simd, m->weights_copied ? "copied" : "mapped", tests[k].name,
                   tests[k].n, tests[k].mean, tests[k].sd);
        }
        printf("peak RSS %.1f MiB\n", (double)rss / (1 << 20));
    }
    lk_llm_free(m);
    lk_pool_free(pool);
    return 0;
}

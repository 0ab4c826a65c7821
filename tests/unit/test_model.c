/* test_model.c — the engine's forward pass against the double-precision reference, for every
 * weight type and both architectures; batching, the KV cache, sessions and model loading
 * errors. Models are made on the spot by lk_random_model with a small vocabulary (512 tokens)
 * so that the output projection does not dominate the run time. */
#include "testutil.h"
#include "ref_forward.h"
#include "engine/generate.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/perplexity.h"
#include "engine/quant/kernels.h"

#include <math.h>

typedef struct config {
    const char *arch, *type;
    double tol; /* max |engine - ref| / max |ref| over a logits vector */
} config;

/* Two bounds, because the engine multiplies quantized weights in two ways.
 *
 * Exact mode (lk_llm.f32_activations): activations stay f32 for every weight type, the
 * reference rounds only where the engine does (K/V in the cache type), and what is left is float
 * against double arithmetic, plus the rare K or V element whose f16 rounding goes the other way
 * (one f16 ulp, 2^-11 of it): TOL_FLOAT, a few times the worst seen (9e-5). This pins the whole forward pass, every weight type's
 * decoding included, on every kernel path.
 *
 * Fast mode (the default): activations go through 8-bit blocks (kernels.h), and so do the
 * reference's. But the two compute the values being rounded in float and in double, so now and
 * then an element lands on the other side of a rounding boundary; that element moves by one
 * quantization step, the next layer's inputs differ by more than an ulp, more elements flip,
 * and the difference settles at the size of the activation quantization noise itself (about
 * 1e-2 of the largest logit on these models; llama.cpp and llmkit differ by the same amount).
 * So TOL_Q8 is that noise level with margin; the exactness of each kernel against the scalar
 * one and against a double-precision dot is what test_kernels*.c check. */
#define TOL_FLOAT 3e-4
#define TOL_Q8 5e-2

static config configs[] = {
    { "llama", "f32", TOL_FLOAT }, { "llama", "f16", TOL_FLOAT }, { "llama", "bf16", TOL_FLOAT },
    { "llama", "q8_0", TOL_Q8 }, { "llama", "q4_0", TOL_Q8 }, { "llama", "q4_1", TOL_Q8 },
    { "llama", "q5_0", TOL_Q8 }, { "llama", "q5_1", TOL_Q8 }, { "llama", "q4_k", TOL_Q8 },
    { "llama", "q5_k", TOL_Q8 }, { "llama", "q6_k", TOL_Q8 },
    { "qwen2", "f32", TOL_FLOAT }, { "qwen2", "f16", TOL_FLOAT }, { "qwen2", "bf16", TOL_FLOAT },
    { "qwen2", "q8_0", TOL_Q8 }, { "qwen2", "q4_0", TOL_Q8 }, { "qwen2", "q4_1", TOL_Q8 },
    { "qwen2", "q5_0", TOL_Q8 }, { "qwen2", "q5_1", TOL_Q8 }, { "qwen2", "q4_k", TOL_Q8 },
    { "qwen2", "q5_k", TOL_Q8 }, { "qwen2", "q6_k", TOL_Q8 },
};

static const char *small_vocab(void) {
    static char path[512];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_path(0, "vocab512.gguf"));
        tu_write_small_vocab(path, 512 - 259);
    }
    return path;
}

static lk_llm *load(const char *path) {
    lk_llm *m = NULL;
    lk_error err = {0};
    if (lk_llm_load(path, &m, &err)) fail_msg("load %s: %s", path, err.msg);
    return m;
}

static double rel_err(const float *e, const double *r, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num = fmax(num, fabs((double)e[i] - r[i]));
        den = fmax(den, fabs(r[i]));
    }
    return num / den;
}

static int argmax_f(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

static int argmax_d(const double *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

/* The gap between the best and second-best logit, relative to the largest |logit|. */
static double top2_gap(const double *x, int n) {
    int b = argmax_d(x, n);
    double second = -INFINITY, mx = 0;
    for (int i = 0; i < n; i++) {
        if (i != b && x[i] > second) second = x[i];
        mx = fmax(mx, fabs(x[i]));
    }
    return (x[b] - second) / mx;
}

enum { N_PROMPT = 8, N_GEN = 64, N_POS = N_PROMPT + N_GEN };

/* The reference's greedy run: the 72 tokens fed and the logits after each. */
typedef struct trajectory {
    int32_t tokens[N_POS];
    double *logits; /* [N_POS][nv] */
} trajectory;

static void reference_run(const lk_llm *m, trajectory *tr) {
    static const int32_t prompt[N_PROMPT] = { 1, 300, 301, 302, 77, 400, 5, 499 };
    int nv = m->hp.n_vocab;
    tr->logits = malloc((size_t)N_POS * nv * sizeof(double));
    ref_model *r = ref_new(m);
    for (int i = 0; i < N_POS; i++) {
        tr->tokens[i] = i < N_PROMPT ? prompt[i] : (int32_t)argmax_d(tr->logits + (size_t)(i - 1) * nv, nv);
        ref_step(r, tr->tokens[i], tr->logits + (size_t)i * nv);
    }
    ref_free(r);
}

/* The engine on the reference's tokens, with the kernels of one path: the prompt in one batch,
 * then one token at a time. Every logit vector within tol; every greedy choice the reference's,
 * except where the reference's own best two are closer than the bound allows to tell apart. */
static double engine_run(const lk_llm *m, const trajectory *tr, double tol, const char *label) {
    int nv = m->hp.n_vocab, near_ties = 0;
    lk_kv kv;
    lk_error err = {0};
    assert_int_equal(lk_kv_init(&kv, m, 256, &err), 0);
    float *logits = malloc((size_t)N_PROMPT * nv * sizeof(float));
    double worst = 0;
    if (lk_llm_eval(m, &kv, tr->tokens, N_PROMPT, 0, true, logits, &err)) fail_msg("%s: %s", label, err.msg);
    for (int i = 0; i < N_POS; i++) {
        if (i >= N_PROMPT && lk_llm_eval(m, &kv, &tr->tokens[i], 1, i, false, logits, &err))
            fail_msg("%s: %s", label, err.msg);
        const float *e = i < N_PROMPT ? logits + (size_t)i * nv : logits;
        const double *r = tr->logits + (size_t)i * nv;
        double d = rel_err(e, r, nv);
        worst = fmax(worst, d);
        if (d > tol) fail_msg("%s: position %d: relative error %.3g > %.3g", label, i, d, tol);
        if (i >= N_PROMPT - 1 && argmax_f(e, nv) != argmax_d(r, nv)) {
            if (top2_gap(r, nv) > 2 * tol)
                fail_msg("%s: greedy token after position %d differs: engine %d, reference %d", label, i,
                         argmax_f(e, nv), argmax_d(r, nv));
            near_ties++;
        }
    }
    if (near_ties) print_message("%s: %d near-ties decided the other way\n", label, near_ties);
    free(logits);
    lk_kv_free(&kv);
    return worst;
}

/* Every kernel path this CPU has, against one reference run per mode: exact mode to TOL_FLOAT
 * always, and for quantized weights also fast mode to tol. */
static void check_against_reference(const char *path, const char *label, double tol) {
    lk_llm *m = load(path);
    static const char *names[] = { "scalar", "avx2", "avx512" };
    const lk_kernels *best = lk_kernels_active();
    bool quantized = lk_act_type(m->layers[0].wq->type) != LK_F32;
    for (int mode = 0; mode < (quantized ? 2 : 1); mode++) {
        m->f32_activations = mode == 0;
        trajectory tr;
        reference_run(m, &tr);
        for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++) {
            if (!lk_kernels_get(p)) {
                print_message("%-14s %-6s skipped: this CPU lacks it\n", label, names[p]);
                continue;
            }
            lk_kernels_force(p);
            char l2[96];
            snprintf(l2, sizeof l2, "%s [%s%s]", label, names[p], mode == 0 ? ", exact" : "");
            double worst = engine_run(m, &tr, mode == 0 ? TOL_FLOAT : tol, l2);
            print_message("%-30s max relative logit error %.2e over %d positions\n", l2, worst, N_POS);
        }
        free(tr.logits);
    }
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++)
        if (lk_kernels_get(p) == best) lk_kernels_force(p);
    lk_llm_free(m);
}

/* For each weight type and architecture: logits within the bound, greedy continuation identical. */
static void test_forward_matches_reference(void **state) {
    const config *c = *state;
    char name[64], label[64];
    snprintf(name, sizeof name, "%s-%s.gguf", c->arch, c->type);
    snprintf(label, sizeof label, "%s %s", c->arch, c->type);
    const char *path = tu_path(1, name);
    tu_random_model(path, c->arch, c->type, small_vocab(), 2, 256, 4, 2, 512, false, false);
    check_against_reference(path, label, c->tol);
}

/* Without output.weight the token embedding is the output projection. */
static void test_tied_output_matches_reference(void **state) {
    (void)state;
    const char *path = tu_path(1, "tied.gguf");
    tu_random_model(path, "qwen2", "f32", small_vocab(), 2, 128, 4, 4, 256, true, false);
    lk_llm *m = load(path);
    assert_true(m->tied_output);
    lk_llm_free(m);
    check_against_reference(path, "qwen2 tied", TOL_FLOAT);
}

/* Llama 3.1's rope frequency factors (rope_freqs.weight) are applied. */
static void test_llama3_rope_factors_match_reference(void **state) {
    (void)state;
    const char *path = tu_path(1, "llama3.gguf");
    tu_random_model(path, "llama", "f32", small_vocab(), 2, 128, 2, 1, 256, false, true);
    lk_llm *m = load(path);
    assert_non_null(m->rope_freqs);
    lk_llm_free(m);
    check_against_reference(path, "llama3 rope", TOL_FLOAT);
}

static const char *f32_model(void) {
    static char path[512];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_path(2, "base-f32.gguf"));
        tu_random_model(path, "llama", "f32", small_vocab(), 2, 128, 4, 2, 256, false, false);
    }
    return path;
}

/* A prompt evaluated as one batch gives the logits it gives token by token. */
static void test_batch_equals_sequential(void **state) {
    (void)state;
    lk_llm *m = load(f32_model());
    int nv = m->hp.n_vocab;
    lk_kv a, b;
    lk_error err = {0};
    assert_int_equal(lk_kv_init(&a, m, 64, &err), 0);
    assert_int_equal(lk_kv_init(&b, m, 64, &err), 0);
    int32_t toks[12] = { 1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110 };
    float *all = malloc(12 * (size_t)nv * sizeof(float)), *one = malloc((size_t)nv * sizeof(float));
    assert_int_equal(lk_llm_eval(m, &a, toks, 12, 0, true, all, &err), 0);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(lk_llm_eval(m, &b, toks + i, 1, i, false, one, &err), 0);
        for (int j = 0; j < nv; j++) assert_float_equal(all[(size_t)i * nv + j], one[j], 1e-5);
    }
    free(all);
    free(one);
    lk_kv_free(&a);
    lk_kv_free(&b);
    lk_llm_free(m);
}

/* Removing the tail of a sequence and evaluating other tokens is the same as starting over
 * with the shared prefix. */
static void test_kv_seq_rm_then_reuse_prefix(void **state) {
    (void)state;
    lk_llm *m = load(f32_model());
    int nv = m->hp.n_vocab;
    lk_kv kv;
    lk_error err = {0};
    assert_int_equal(lk_kv_init(&kv, m, 32, &err), 0);
    int32_t first[6] = { 1, 5, 6, 7, 8, 9 }, second[6] = { 1, 5, 6, 200, 201, 202 };
    float *x = malloc((size_t)nv * sizeof(float)), *y = malloc((size_t)nv * sizeof(float));
    assert_int_equal(lk_llm_eval(m, &kv, first, 6, 0, false, x, &err), 0);
    assert_int_equal(lk_kv_seq_len(&kv, 0), 6);
    lk_kv_seq_rm(&kv, 0, 3, -1);
    assert_int_equal(lk_kv_seq_len(&kv, 0), 3);
    assert_int_equal(kv.used, 3);
    assert_int_equal(lk_llm_eval(m, &kv, second + 3, 3, 3, false, x, &err), 0);
    lk_kv_clear(&kv);
    assert_int_equal(lk_llm_eval(m, &kv, second, 6, 0, false, y, &err), 0);
    for (int j = 0; j < nv; j++) assert_float_equal(x[j], y[j], 1e-5);
    free(x);
    free(y);
    lk_kv_free(&kv);
    lk_llm_free(m);
}

/* Two sequences decoded in one batch see only their own cells. */
static void test_two_sequences_in_one_batch(void **state) {
    (void)state;
    lk_llm *m = load(f32_model());
    int nv = m->hp.n_vocab;
    lk_kv kv;
    lk_error err = {0};
    assert_int_equal(lk_kv_init(&kv, m, 64, &err), 0);
    int32_t toks[8] = { 1, 40, 41, 42, 1, 300, 301, 302 };
    int32_t pos[8] = { 0, 1, 2, 3, 0, 1, 2, 3 }, seq[8] = { 0, 0, 0, 0, 1, 1, 1, 1 };
    bool want[8] = { 0, 0, 0, 1, 0, 0, 0, 1 };
    lk_batch b = { .n = 8, .tokens = toks, .pos = pos, .seq = seq, .logits = want };
    float *both = malloc(2 * (size_t)nv * sizeof(float)), *one = malloc((size_t)nv * sizeof(float));
    assert_int_equal(lk_llm_forward(m, &kv, &b, both, &err), 0);
    for (int s = 0; s < 2; s++) {
        lk_kv_clear(&kv);
        assert_int_equal(lk_llm_eval(m, &kv, toks + 4 * s, 4, 0, false, one, &err), 0);
        for (int j = 0; j < nv; j++) assert_float_equal(both[(size_t)s * nv + j], one[j], 1e-5);
    }
    free(both);
    free(one);
    lk_kv_free(&kv);
    lk_llm_free(m);
}

/* A full cache is an error that says so, and nothing is half-written. */
static void test_full_cache_is_an_error(void **state) {
    (void)state;
    lk_llm *m = load(f32_model());
    lk_kv kv;
    lk_error err = {0};
    assert_int_equal(lk_kv_init(&kv, m, 4, &err), 0);
    int32_t toks[6] = { 1, 2, 3, 4, 5, 6 };
    float *l = malloc((size_t)m->hp.n_vocab * sizeof(float));
    assert_int_equal(lk_llm_eval(m, &kv, toks, 6, 0, false, l, &err), LK_ERANGE);
    assert_non_null(strstr(err.msg, "KV cache full"));
    assert_int_equal(kv.used, 0);
    int32_t bad = 100000;
    assert_int_equal(lk_llm_eval(m, &kv, &bad, 1, 0, false, l, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    free(l);
    lk_kv_free(&kv);
    lk_llm_free(m);
}

/* The KV cache in f32 and in q8_0 (the reference rounds K and V the same way). */
static void test_kv_cache_types_match_reference(void **state) {
    (void)state;
    const char *path = tu_path(1, "kvtypes.gguf");
    tu_random_model(path, "llama", "q8_0", small_vocab(), 2, 256, 4, 2, 512, false, false);
    static const uint32_t types[] = { LK_F32, LK_Q8_0 };
    for (int i = 0; i < 2; i++) {
        lk_llm *m = load(path);
        lk_error err = {0};
        assert_int_equal(lk_llm_set_kv_type(m, types[i], &err), 0);
        trajectory tr;
        reference_run(m, &tr);
        double worst = engine_run(m, &tr, TOL_Q8, types[i] == LK_F32 ? "kv f32" : "kv q8_0");
        print_message("kv %-6s max relative logit error %.2e\n", lk_qtype(types[i])->name, worst);
        free(tr.logits);
        lk_llm_free(m);
    }
    lk_llm *m = load(path);
    lk_error err = {0};
    assert_int_equal(lk_llm_set_kv_type(m, LK_Q4_0, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "supported are f32, f16 and q8_0"));
    lk_llm_free(m);
}

/* Threads split rows, tokens and heads, never a sum: any thread count gives the same bits; and
 * weights copied to anonymous memory give the same bits as mapped ones. */
static void test_threads_and_load_modes_give_identical_logits(void **state) {
    (void)state;
    const char *path = tu_path(1, "threads.gguf");
    tu_random_model(path, "qwen2", "q4_k", small_vocab(), 2, 256, 4, 2, 512, false, false);
    int32_t toks[20];
    for (int i = 0; i < 20; i++) toks[i] = (int32_t)(3 + i * 17 % 500);
    float *ref = NULL;
    for (int variant = 0; variant < 4; variant++) {
        lk_llm *m = NULL;
        lk_error err = {0};
        assert_int_equal(lk_llm_load_ex(path, variant == 3 ? LK_LOAD_COPY : LK_LOAD_MMAP, &m, &err), 0);
        assert_int_equal(m->weights_copied, variant == 3);
        lk_pool *pool = variant == 0 ? NULL : lk_pool_new(variant == 2 ? 3 : 2);
        lk_llm_set_pool(m, pool);
        lk_kv kv;
        assert_int_equal(lk_kv_init(&kv, m, 64, &err), 0);
        int nv = m->hp.n_vocab;
        float *l = malloc(21 * (size_t)nv * sizeof(float));
        assert_int_equal(lk_llm_eval(m, &kv, toks, 20, 0, true, l, &err), 0);
        int32_t next = 42;
        assert_int_equal(lk_llm_eval(m, &kv, &next, 1, 20, false, l + 20 * (size_t)nv, &err), 0);
        if (!ref) ref = l;
        else {
            assert_memory_equal(ref, l, 21 * (size_t)nv * sizeof(float));
            free(l);
        }
        lk_kv_free(&kv);
        lk_llm_free(m);
        lk_pool_free(pool);
    }
    free(ref);
}

/* A session reuses the cached prefix of a growing conversation. */
static void test_session_reuses_prefix(void **state) {
    (void)state;
    lk_llm *m = load(f32_model());
    lk_session s;
    lk_error err = {0};
    assert_int_equal(lk_session_init(&s, m, 128, &err), 0);
    lk_gen_params gp = { .max_tokens = 5 };
    lk_sampler_params_default(&gp.sampling);
    gp.sampling.temp = 0;
    int32_t p1[4] = { 1, 300, 301, 302 };
    lk_gen_stats st;
    assert_int_equal(lk_session_generate(&s, p1, 4, &gp, NULL, NULL, &st, &err), 0);
    assert_int_equal(st.n_cached, 0);
    assert_true(st.n_gen <= 5);
    int32_t p2[16];
    memcpy(p2, s.toks, (size_t)s.n_toks * sizeof(int32_t));
    int n2 = s.n_toks;
    p2[n2++] = 310;
    p2[n2++] = 311;
    assert_int_equal(lk_session_generate(&s, p2, n2, &gp, NULL, NULL, &st, &err), 0);
    assert_int_equal(st.n_cached, n2 - 2);
    lk_session_free(&s);
    lk_llm_free(m);
}

/* Perplexity equals exp of the mean NLL over the second half of each window, computed with the
 * reference model. */
static void test_perplexity_matches_reference(void **state) {
    (void)state;
    lk_llm *m = load(f32_model());
    int nv = m->hp.n_vocab, n_ctx = 16;
    int32_t toks[40];
    for (int i = 0; i < 40; i++) toks[i] = (int32_t)(3 + (i * 37) % 500);
    lk_ppl_result res;
    lk_error err = {0};
    assert_int_equal(lk_perplexity(m, toks, 40, n_ctx, 5, NULL, NULL, &res, &err), 0);
    assert_int_equal(res.n_windows, 2);
    double *logit = malloc((size_t)nv * sizeof(double)), sum = 0;
    long cnt = 0;
    for (int w = 0; w < 2; w++) {
        ref_model *r = ref_new(m);
        for (int p = 0; p < n_ctx - 1; p++) {
            int32_t t = p == 0 ? 1 : toks[w * n_ctx + p]; /* BOS first: the vocabulary adds one */
            ref_step(r, t, logit);
            if (p < n_ctx / 2) continue;
            double mx = logit[0], z = 0;
            for (int i = 1; i < nv; i++) mx = fmax(mx, logit[i]);
            for (int i = 0; i < nv; i++) z += exp(logit[i] - mx);
            sum += log(z) - (logit[toks[w * n_ctx + p + 1]] - mx);
            cnt++;
        }
        ref_free(r);
    }
    assert_int_equal(res.n_scored, cnt);
    assert_float_equal(res.nll, sum / cnt, 1e-4);
    assert_float_equal(res.ppl, exp(sum / cnt), 1e-3);
    assert_int_equal(lk_perplexity(m, toks, 10, n_ctx, 0, NULL, NULL, &res, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "fewer than one window"));
    free(logit);
    lk_llm_free(m);
}

/* ---- loading errors ---- */

/* Copy src to dst, leaving out one key or tensor, or changing the architecture string or a
 * tensor's type (its data then reinterpreted; only the loader's checks matter here). */
static void rewrite(const char *src, const char *dst, const char *drop_key, const char *drop_tensor,
                    const char *arch, const char *retype_tensor, uint32_t new_type) {
    lk_error err = {0};
    gguf_file *f = gguf_open(src, &err);
    if (!f) fail_msg("%s", err.msg);
    gguf_writer *w = gguf_writer_new(3);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        if (drop_key && strcmp(f->kv[i].key, drop_key) == 0) continue;
        if (arch && strncmp(f->kv[i].key, "llama.", 6) == 0) {
            char k[256];
            snprintf(k, sizeof k, "%s.%s", arch, f->kv[i].key + 6);
            gguf_kv copy = f->kv[i];
            copy.key = k;
            gguf_set_kv_copy(w, &copy);
            continue;
        }
        gguf_set_kv_copy(w, &f->kv[i]);
    }
    if (arch) gguf_set_str(w, "general.architecture", arch);
    uint8_t *zeros = calloc(1, 1 << 22);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (drop_tensor && strcmp(t->name, drop_tensor) == 0) continue;
        bool retype = retype_tensor && strcmp(t->name, retype_tensor) == 0;
        if (gguf_add_tensor(w, t->name, retype ? new_type : t->type, t->n_dims, t->ne, retype ? zeros : t->data, &err))
            fail_msg("%s", err.msg);
    }
    if (gguf_write(w, dst, &err)) fail_msg("%s", err.msg);
    gguf_writer_free(w);
    free(zeros);
    gguf_close(f);
}

static void expect_load_error(const char *path, int code, const char *part1, const char *part2) {
    lk_llm *m = NULL;
    lk_error err = {0};
    int rc = lk_llm_load(path, &m, &err);
    assert_null(m);
    if (rc != code) fail_msg("expected code %d, got %d: %s", code, rc, err.msg);
    if (!strstr(err.msg, part1) || (part2 && !strstr(err.msg, part2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err.msg, part1, part2 ? part2 : "");
}

static void test_load_unsupported_architecture(void **state) {
    (void)state;
    const char *p = tu_path(3, "gpt2arch.gguf");
    rewrite(f32_model(), p, NULL, NULL, "gpt2", NULL, 0);
    expect_load_error(p, LK_EUNSUPPORTED, "architecture 'gpt2' is not supported", "llama, qwen2");
}

static void test_load_missing_key(void **state) {
    (void)state;
    const char *p = tu_path(3, "nokey.gguf");
    rewrite(f32_model(), p, "llama.embedding_length", NULL, NULL, NULL, 0);
    expect_load_error(p, LK_EFORMAT, "missing required key 'llama.embedding_length'", NULL);
}

static void test_load_missing_tensor(void **state) {
    (void)state;
    const char *p = tu_path(3, "notensor.gguf");
    rewrite(f32_model(), p, NULL, "blk.1.ffn_up.weight", NULL, NULL, 0);
    expect_load_error(p, LK_EFORMAT, "missing tensor 'blk.1.ffn_up.weight'", NULL);
}

static void test_load_unsupported_tensor_type(void **state) {
    (void)state;
    const char *p = tu_path(3, "q2k.gguf");
    rewrite(f32_model(), p, NULL, NULL, NULL, "blk.0.ffn_down.weight", 10 /* q2_K */);
    expect_load_error(p, LK_EUNSUPPORTED, "tensor 'blk.0.ffn_down.weight' has type q2_K", "supported");
}

static void test_load_vocab_only_file_names_missing_key(void **state) {
    (void)state;
    const char *td = tu_testdata();
    if (!td) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/tokenizers/ggml-vocab-qwen2.gguf", td);
    expect_load_error(p, LK_EFORMAT, "missing tensor 'token_embd.weight'", NULL);
}

int main(void) {
    struct CMUnitTest tests[64];
    size_t n = 0;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        struct CMUnitTest t = cmocka_unit_test_prestate(test_forward_matches_reference, &configs[i]);
        static char names[32][48];
        snprintf(names[i], sizeof names[i], "forward_matches_reference_%s_%s", configs[i].arch, configs[i].type);
        t.name = names[i];
        tests[n++] = t;
    }
    const struct CMUnitTest rest[] = {
        cmocka_unit_test(test_tied_output_matches_reference),
        cmocka_unit_test(test_llama3_rope_factors_match_reference),
        cmocka_unit_test(test_batch_equals_sequential),
        cmocka_unit_test(test_kv_seq_rm_then_reuse_prefix),
        cmocka_unit_test(test_two_sequences_in_one_batch),
        cmocka_unit_test(test_full_cache_is_an_error),
        cmocka_unit_test(test_kv_cache_types_match_reference),
        cmocka_unit_test(test_threads_and_load_modes_give_identical_logits),
        cmocka_unit_test(test_session_reuses_prefix),
        cmocka_unit_test(test_perplexity_matches_reference),
        cmocka_unit_test(test_load_unsupported_architecture),
        cmocka_unit_test(test_load_missing_key),
        cmocka_unit_test(test_load_missing_tensor),
        cmocka_unit_test(test_load_unsupported_tensor_type),
        cmocka_unit_test(test_load_vocab_only_file_names_missing_key),
    };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) tests[n++] = rest[i];
    return _cmocka_run_group_tests("model", tests, n, NULL, NULL);
}

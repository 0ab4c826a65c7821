/* test_sampler.c — the sampler chain checked by the distributions it produces, and the
 * streaming stop-string matcher.
 *
 * Distribution tests draw many tokens with a fixed seed and compare the empirical frequencies
 * with the distribution the stage should produce (a chi-square test at the 0.1% level), and
 * check sampler_dist()'s exact probabilities beside them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include "engine/sampler.h"

/* ---- helpers ---- */

/* Defaults with every truncation off and temperature 1: the draw is softmax(logits). */
static void plain_params(lk_sampler_params *p) {
    lk_sampler_params_default(p);
    p->temp = 1.0f;
    p->top_k = 0;
    p->top_p = 1.0f;
    p->min_p = 0.0f;
    p->seed = 1234;
}

static sampler *make(const lk_sampler_params *p, int n_vocab) {
    lk_error err = {0};
    sampler *s = sampler_new(p, n_vocab, &err);
    if (!s) fail_msg("sampler_new: %s", err.msg);
    return s;
}

static void softmax_ref(const float *logits, int n, double temp, double *out) {
    double max = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++)
        if (logits[i] / temp > max) max = logits[i] / temp;
    for (int i = 0; i < n; i++) sum += out[i] = exp(logits[i] / temp - max);
    for (int i = 0; i < n; i++) out[i] /= sum;
}

/* Logits whose softmax is exactly the given probabilities. */
static void logits_from_probs(const double *p, int n, float *logits) {
    for (int i = 0; i < n; i++) logits[i] = p[i] > 0 ? (float)log(p[i]) : -INFINITY;
}

static void draw_counts(sampler *s, const float *logits, int n, int draws, long *counts) {
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (int i = 0; i < draws; i++) {
        int32_t t = sampler_sample(s, logits);
        assert_in_range(t, 0, n - 1);
        counts[t]++;
    }
}

/* Chi-square critical value at the 0.1% level (Wilson-Hilferty approximation). */
static double chi2_critical(int df) {
    double z = 3.09, a = 2.0 / (9.0 * df);
    double c = 1 - a + z * sqrt(a);
    return df * c * c * c;
}

/* Assert that counts (draws in all) fit the expected probabilities: tokens with expected
 * probability 0 never occur, and the rest pass a chi-square test. */
static void assert_fits(const long *counts, const double *expected, int n, int draws) {
    double chi2 = 0;
    int df = -1;
    for (int i = 0; i < n; i++) {
        if (expected[i] == 0) {
            if (counts[i] != 0) fail_msg("token %d drawn %ld times, expected never", i, counts[i]);
            continue;
        }
        double e = expected[i] * draws;
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
        df++;
    }
    if (df < 1) return;
    if (chi2 > chi2_critical(df)) {
        for (int i = 0; i < n; i++)
            print_message("token %d: drawn %ld, expected %.1f\n", i, counts[i], expected[i] * draws);
        fail_msg("chi-square %.2f above %.2f (df %d)", chi2, chi2_critical(df), df);
    }
}

/* The probability sampler_dist() gives token id, or -1 if it is not a candidate. */
static double dist_p(const sampler_cand *c, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++)
        if (c[i].id == id) return c[i].p;
    return -1;
}

static double dist_logit(const sampler_cand *c, size_t n, int32_t id) {
    for (size_t i = 0; i < n; i++)
        if (c[i].id == id) return c[i].logit;
    fail_msg("token %d is not a candidate", (int)id);
    return 0;
}

static double entropy(const double *p, int n) {
    double h = 0;
    for (int i = 0; i < n; i++)
        if (p[i] > 0) h -= p[i] * log(p[i]);
    return h;
}

/* ---- parameters ---- */

/* The defaults are llama.cpp's: temp 0.8, top_k 40, top_p 0.95, min_p 0.05, the rest off. */
static void test_defaults_are_llama_cpp(void **state) {
    (void)state;
    lk_sampler_params p;
    lk_sampler_params_default(&p);
    assert_true(p.temp == 0.8f && p.top_k == 40 && p.top_p == 0.95f && p.min_p == 0.05f);
    assert_true(p.typical_p == 1.0f && p.repeat_penalty == 1.0f);
    assert_true(p.frequency_penalty == 0 && p.presence_penalty == 0 && p.penalty_last_n == 64);
    assert_true(p.mirostat == 0 && p.mirostat_tau == 5.0f && p.mirostat_eta == 0.1f);
    assert_null(p.logit_bias);
}

/* Bad parameters are refused with a message naming the field; sampler_new returns NULL. */
static void test_bad_params_are_named(void **state) {
    (void)state;
    lk_sampler_params p;
    lk_error err = {0};

    plain_params(&p);
    p.temp = NAN;
    assert_int_equal(lk_sampler_params_check(&p, 10, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "temperature"));
    assert_null(sampler_new(&p, 10, &err));

    plain_params(&p);
    p.penalty_last_n = -1;
    assert_int_equal(lk_sampler_params_check(&p, 10, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "penalty_last_n"));

    plain_params(&p);
    p.mirostat = 3;
    assert_int_equal(lk_sampler_params_check(&p, 10, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "mirostat 3"));

    plain_params(&p);
    lk_logit_bias bias[2] = { { 1, 2.0f }, { 10, -1.0f } };
    p.logit_bias = bias;
    p.n_logit_bias = 2;
    assert_int_equal(lk_sampler_params_check(&p, 10, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "logit bias 1: token 10 is outside the vocabulary of 10"));

    plain_params(&p);
    assert_int_equal(lk_sampler_params_check(&p, 0, &err), LK_EINVAL);
    assert_int_equal(lk_sampler_params_check(&p, 10, &err), LK_OK);
}

/* ---- greedy ---- */

/* Temperature <= 0 takes the argmax, and a tie goes to the lowest id. */
static void test_greedy_ties_go_to_lowest_id(void **state) {
    (void)state;
    float logits[] = { 1.0f, 3.0f, 0.5f, 3.0f, 2.0f };
    lk_sampler_params p;
    lk_sampler_params_default(&p);
    p.temp = 0.0f;
    sampler *s = make(&p, 5);
    for (int i = 0; i < 20; i++) assert_int_equal(sampler_sample(s, logits), 1);
    sampler_free(s);

    p.temp = -1.0f;
    s = make(&p, 5);
    assert_int_equal(sampler_sample(s, logits), 1);
    const sampler_cand *c;
    assert_int_equal(sampler_dist(s, logits, &c), 1);
    assert_int_equal(c[0].id, 1);
    assert_true(c[0].p == 1.0f);
    sampler_free(s);
}

/* When every logit is NaN or -inf nothing can be chosen: -1, greedy or not. NaN never wins. */
static void test_no_possible_token_gives_minus_one(void **state) {
    (void)state;
    float logits[] = { -INFINITY, NAN, -INFINITY };
    lk_sampler_params p;
    lk_sampler_params_default(&p);
    sampler *s = make(&p, 3);
    assert_int_equal(sampler_sample(s, logits), -1);
    sampler_free(s);
    p.temp = 0;
    s = make(&p, 3);
    assert_int_equal(sampler_sample(s, logits), -1);
    float some[] = { NAN, -5.0f, NAN };
    assert_int_equal(sampler_sample(s, some), 1);
    sampler_free(s);

    plain_params(&p);
    s = make(&p, 3);
    for (int i = 0; i < 100; i++) assert_int_equal(sampler_sample(s, some), 1);
    sampler_free(s);
}

/* +inf logits (a broken model) and overflowing penalties never produce NaN probabilities: the
 * infinite token simply wins. */
static void test_infinite_logits(void **state) {
    (void)state;
    float logits[] = { 1.0f, INFINITY, 2.0f, 3e38f };
    lk_sampler_params p;
    plain_params(&p);
    p.repeat_penalty = 0.1f; /* boosts 3e38 past FLT_MAX */
    sampler *s = make(&p, 4);
    sampler_accept(s, 3);
    const sampler_cand *c;
    size_t n = sampler_dist(s, logits, &c);
    for (size_t i = 0; i < n; i++) assert_false(isnan(c[i].p));
    for (int i = 0; i < 100; i++) {
        int32_t t = sampler_sample(s, logits);
        assert_true(t == 1 || t == 3);
    }
    sampler_free(s);
}

/* ---- temperature and the plain draw ---- */

/* With temperature 1 and no truncation, frequencies follow softmax(logits). */
static void test_temperature_one_draws_softmax(void **state) {
    (void)state;
    float logits[] = { 1.0f, 2.0f, 0.5f, -1.0f, 3.0f };
    double want[5];
    long counts[5];
    softmax_ref(logits, 5, 1.0, want);
    lk_sampler_params p;
    plain_params(&p);
    sampler *s = make(&p, 5);
    draw_counts(s, logits, 5, 200000, counts);
    assert_fits(counts, want, 5, 200000);
    const sampler_cand *c;
    assert_int_equal(sampler_dist(s, logits, &c), 5);
    for (int i = 0; i < 5; i++) assert_float_equal(dist_p(c, 5, i), want[i], 1e-6);
    assert_int_equal(c[0].id, 4); /* most probable first */
    sampler_free(s);
}

/* Temperature divides the logits: 0.5 sharpens (lower entropy), 2 flattens (higher). */
static void test_temperature_sharpens_and_flattens(void **state) {
    (void)state;
    float logits[] = { 1.0f, 2.0f, 0.5f, -1.0f, 3.0f };
    double temps[] = { 0.5, 1.0, 2.0 }, h[3];
    for (int t = 0; t < 3; t++) {
        double want[5];
        long counts[5];
        softmax_ref(logits, 5, temps[t], want);
        lk_sampler_params p;
        plain_params(&p);
        p.temp = (float)temps[t];
        sampler *s = make(&p, 5);
        draw_counts(s, logits, 5, 100000, counts);
        assert_fits(counts, want, 5, 100000);
        double got[5];
        for (int i = 0; i < 5; i++) got[i] = counts[i] / 100000.0;
        h[t] = entropy(got, 5);
        const sampler_cand *c;
        sampler_dist(s, logits, &c);
        assert_float_equal(dist_logit(c, 5, 0), logits[0] / temps[t], 1e-6);
        sampler_free(s);
    }
    assert_true(h[0] < h[1] && h[1] < h[2]);
}

/* ---- truncation ---- */

/* top_k draws only among the k best, with their probabilities renormalised. */
static void test_top_k_keeps_k_best_renormalised(void **state) {
    (void)state;
    float logits[] = { 0.1f, 2.0f, -1.0f, 1.5f, 0.7f, 3.0f, -0.2f, 1.0f };
    double full[8], want[8] = {0};
    long counts[8];
    softmax_ref(logits, 8, 1.0, full);
    int best[] = { 5, 1, 3 };
    double mass = full[5] + full[1] + full[3];
    for (int i = 0; i < 3; i++) want[best[i]] = full[best[i]] / mass;
    lk_sampler_params p;
    plain_params(&p);
    p.top_k = 3;
    sampler *s = make(&p, 8);
    draw_counts(s, logits, 8, 100000, counts);
    assert_fits(counts, want, 8, 100000);
    const sampler_cand *c;
    assert_int_equal(sampler_dist(s, logits, &c), 3);
    assert_int_equal(c[0].id, 5);
    assert_int_equal(c[1].id, 1);
    assert_int_equal(c[2].id, 3);
    sampler_free(s);
}

/* On a 150k vocabulary top_k = 40 finds exactly the 40 best (it selects, it does not sort). */
static void test_top_k_large_vocabulary(void **state) {
    (void)state;
    enum { N = 150000, K = 40 };
    float *logits = malloc(N * sizeof *logits);
    uint64_t x = 99;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        logits[i] = (float)((x >> 40) % 1000000) / 50000.0f; /* 0..20, ties possible */
    }
    /* the 40th best logit, by counting */
    float lo = 0, hi = 21;
    for (int it = 0; it < 60; it++) {
        float mid = (lo + hi) / 2;
        int above = 0;
        for (int i = 0; i < N; i++) above += logits[i] > mid;
        if (above >= K) lo = mid; else hi = mid;
    }
    lk_sampler_params p;
    plain_params(&p);
    p.top_k = K;
    sampler *s = make(&p, N);
    const sampler_cand *c;
    assert_int_equal(sampler_dist(s, logits, &c), K);
    int above_40th = 0;
    for (int i = 0; i < N; i++) above_40th += logits[i] > hi;
    for (int i = 0; i < K; i++) assert_true(logits[c[i].id] >= lo);
    assert_true(above_40th <= K);
    for (int i = 0; i < 50; i++) {
        int32_t t = sampler_sample(s, logits);
        assert_true(logits[t] >= lo);
    }
    sampler_free(s);
    free(logits);
}

/* top_p keeps the smallest most-probable prefix whose mass reaches p, whatever the id order. */
static void test_top_p_keeps_smallest_prefix(void **state) {
    (void)state;
    double probs[] = { 0.15, 0.05, 0.5, 0.3 }; /* sorted: 2 (0.5), 3 (0.3), 0 (0.15), 1 (0.05) */
    float logits[4];
    long counts[4];
    logits_from_probs(probs, 4, logits);
    lk_sampler_params p;
    plain_params(&p);
    p.top_p = 0.75f;
    sampler *s = make(&p, 4);
    const sampler_cand *c;
    assert_int_equal(sampler_dist(s, logits, &c), 2);
    assert_float_equal(dist_p(c, 2, 2), 0.5 / 0.8, 1e-6);
    double want[] = { 0, 0, 0.5 / 0.8, 0.3 / 0.8 };
    draw_counts(s, logits, 4, 100000, counts);
    assert_fits(counts, want, 4, 100000);
    sampler_free(s);

    p.top_p = 0.85f; /* 0.8 is not enough: the third token is needed */
    s = make(&p, 4);
    assert_int_equal(sampler_dist(s, logits, &c), 3);
    assert_float_equal(dist_p(c, 3, 0), 0.15 / 0.95, 1e-6);
    assert_true(dist_p(c, 3, 1) < 0);
    sampler_free(s);
}

static int cmp_double_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y ? 1 : 0;
}

/* On a large vocabulary (where top_p selects by buckets before sorting) the nucleus is exactly
 * the one a full sort finds, for peaked and flat distributions alike. */
static void test_top_p_large_vocabulary(void **state) {
    (void)state;
    enum { N = 20000 };
    float *logits = malloc(N * sizeof *logits);
    double *probs = malloc(N * sizeof *probs), *sorted = malloc(N * sizeof *sorted);
    double spreads[] = { 0.5, 3.0, 10.0 };
    float top_ps[] = { 0.5f, 0.9f, 0.99f };
    for (int si = 0; si < 3; si++) {
        uint64_t x = 5 + (uint64_t)si;
        for (int i = 0; i < N; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            logits[i] = (float)(spreads[si] * (double)((x >> 33) % 100000) / 100000.0);
        }
        softmax_ref(logits, N, 1.0, probs);
        memcpy(sorted, probs, N * sizeof *probs);
        qsort(sorted, N, sizeof *sorted, cmp_double_desc);
        for (int pi = 0; pi < 3; pi++) {
            size_t want = 0;
            double cum = 0;
            while (want < N && cum < top_ps[pi]) cum += sorted[want++];
            lk_sampler_params p;
            plain_params(&p);
            p.top_p = top_ps[pi];
            sampler *s = make(&p, N);
            const sampler_cand *c;
            size_t n = sampler_dist(s, logits, &c);
            /* float rounding may move the boundary by a token or so */
            if (n + 1 < want || n > want + 1)
                fail_msg("spread %g, top_p %g: kept %zu, full sort keeps %zu", spreads[si],
                         (double)top_ps[pi], n, want);
            double min_kept = 1;
            for (size_t i = 0; i < n; i++)
                if (probs[c[i].id] < min_kept) min_kept = probs[c[i].id];
            assert_true(min_kept >= sorted[n - 1] * (1 - 1e-5)); /* the kept are the best n */
            sampler_free(s);
        }
    }
    free(logits);
    free(probs);
    free(sorted);
}

/* min_p drops the tokens whose probability is below min_p times the largest. */
static void test_min_p_drops_below_fraction_of_max(void **state) {
    (void)state;
    double probs[] = { 0.3, 0.5, 0.05, 0.15 };
    float logits[4];
    long counts[4];
    logits_from_probs(probs, 4, logits);
    lk_sampler_params p;
    plain_params(&p);
    p.min_p = 0.2f; /* threshold 0.1: drops 0.05 */
    sampler *s = make(&p, 4);
    double want[] = { 0.3 / 0.95, 0.5 / 0.95, 0, 0.15 / 0.95 };
    draw_counts(s, logits, 4, 100000, counts);
    assert_fits(counts, want, 4, 100000);
    sampler_free(s);

    p.min_p = 0.35f; /* threshold 0.175: drops 0.15 too */
    s = make(&p, 4);
    const sampler_cand *c;
    assert_int_equal(sampler_dist(s, logits, &c), 2);
    assert_float_equal(dist_p(c, 2, 0), 0.3 / 0.8, 1e-6);
    sampler_free(s);
}

/* typical_p keeps the tokens whose surprise is closest to the entropy until their mass exceeds
 * typical_p, which here leaves out the most probable token. */
static void test_typical_keeps_most_typical(void **state) {
    (void)state;
    /* H = 1.2799 nats; |-ln p - H| = 0.364, 0.076, 0.329, 1.023: order 1, 2, 0, 3 */
    double probs[] = { 0.4, 0.3, 0.2, 0.1 };
    float logits[4];
    long counts[4];
    logits_from_probs(probs, 4, logits);
    lk_sampler_params p;
    plain_params(&p);
    p.typical_p = 0.45f;
    sampler *s = make(&p, 4);
    double want[] = { 0, 0.6, 0.4, 0 };
    draw_counts(s, logits, 4, 100000, counts);
    assert_fits(counts, want, 4, 100000);
    sampler_free(s);

    p.typical_p = 0.85f; /* 0.3 + 0.2 + 0.4 = 0.9 > 0.85: the three most typical */
    s = make(&p, 4);
    const sampler_cand *c;
    assert_int_equal(sampler_dist(s, logits, &c), 3);
    assert_true(dist_p(c, 3, 3) < 0);
    sampler_free(s);
}

/* The stages compose in llama.cpp's order: top_k first, then top_p on the renormalised rest. */
static void test_top_k_then_top_p(void **state) {
    (void)state;
    double probs[] = { 0.4, 0.3, 0.2, 0.1 };
    float logits[4];
    logits_from_probs(probs, 4, logits);
    lk_sampler_params p;
    plain_params(&p);
    p.top_k = 2;     /* 0.4, 0.3 -> renormalised 0.571, 0.429 */
    p.top_p = 0.55f; /* the first alone reaches 0.55 after renormalising (not before) */
    sampler *s = make(&p, 4);
    const sampler_cand *c;
    assert_int_equal(sampler_dist(s, logits, &c), 1);
    assert_int_equal(c[0].id, 0);
    sampler_free(s);
}

/* ---- penalties and bias ---- */

/* repeat_penalty divides a positive logit and multiplies a negative one, once per token. */
static void test_repeat_penalty(void **state) {
    (void)state;
    float logits[] = { 2.0f, -1.0f, 0.5f, 3.0f };
    lk_sampler_params p;
    plain_params(&p);
    p.repeat_penalty = 2.0f;
    sampler *s = make(&p, 4);
    sampler_accept(s, 0);
    sampler_accept(s, 1);
    sampler_accept(s, 0);
    const sampler_cand *c;
    size_t n = sampler_dist(s, logits, &c);
    assert_int_equal(n, 4);
    assert_float_equal(dist_logit(c, n, 0), 1.0, 1e-6);
    assert_float_equal(dist_logit(c, n, 1), -2.0, 1e-6);
    assert_float_equal(dist_logit(c, n, 2), 0.5, 1e-6);
    assert_float_equal(dist_logit(c, n, 3), 3.0, 1e-6);
    sampler_free(s);

    /* greedy sees the penalty too */
    float close[] = { 3.0f, 2.9f };
    p.temp = 0;
    p.repeat_penalty = 1.1f;
    s = make(&p, 2);
    assert_int_equal(sampler_sample(s, close), 0);
    sampler_accept(s, 0);
    assert_int_equal(sampler_sample(s, close), 1);
    sampler_free(s);
}

/* frequency subtracts count * f; presence subtracts p once for any token present. */
static void test_frequency_and_presence_penalties(void **state) {
    (void)state;
    float logits[] = { 2.0f, 1.0f, 0.5f, 3.0f };
    lk_sampler_params p;
    plain_params(&p);
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 1.0f;
    sampler *s = make(&p, 4);
    sampler_accept(s, 0);
    sampler_accept(s, 0);
    sampler_accept(s, 0);
    sampler_accept(s, 2);
    const sampler_cand *c;
    size_t n = sampler_dist(s, logits, &c);
    assert_float_equal(dist_logit(c, n, 0), 2.0 - 3 * 0.5 - 1.0, 1e-6);
    assert_float_equal(dist_logit(c, n, 1), 1.0, 1e-6);
    assert_float_equal(dist_logit(c, n, 2), 0.5 - 0.5 - 1.0, 1e-6);
    assert_float_equal(dist_logit(c, n, 3), 3.0, 1e-6);
    /* and the draw follows the penalised logits */
    float pen[] = { -0.5f, 1.0f, -1.0f, 3.0f };
    double want[4];
    long counts[4];
    softmax_ref(pen, 4, 1.0, want);
    draw_counts(s, logits, 4, 100000, counts);
    assert_fits(counts, want, 4, 100000);
    sampler_free(s);
}

/* Penalties look only at the last penalty_last_n accepted tokens. */
static void test_penalties_use_last_n_only(void **state) {
    (void)state;
    float logits[] = { 1.0f, 1.0f, 1.0f, 1.0f, 1.0f };
    lk_sampler_params p;
    plain_params(&p);
    p.penalty_last_n = 3;
    p.frequency_penalty = 1.0f;
    sampler *s = make(&p, 5);
    int32_t toks[] = { 0, 0, 1, 2, 2 }; /* window: 1, 2, 2 */
    for (int i = 0; i < 5; i++) sampler_accept(s, toks[i]);
    sampler_accept(s, -1);  /* ignored */
    sampler_accept(s, 99);  /* ignored */
    const sampler_cand *c;
    size_t n = sampler_dist(s, logits, &c);
    assert_float_equal(dist_logit(c, n, 0), 1.0, 1e-6);
    assert_float_equal(dist_logit(c, n, 1), 0.0, 1e-6);
    assert_float_equal(dist_logit(c, n, 2), -1.0, 1e-6);
    assert_float_equal(dist_logit(c, n, 3), 1.0, 1e-6);

    /* penalty_last_n = 0 turns the penalties off */
    sampler_free(s);
    p.penalty_last_n = 0;
    s = make(&p, 5);
    sampler_accept(s, 1);
    n = sampler_dist(s, logits, &c);
    assert_float_equal(dist_logit(c, n, 1), 1.0, 1e-6);
    sampler_free(s);
}

/* A logit bias shifts the distribution by exactly the bias; -inf bans a token. */
static void test_logit_bias(void **state) {
    (void)state;
    float logits[] = { 1.0f, 2.0f, 0.5f, 3.0f };
    lk_logit_bias bias[] = { { 3, -INFINITY }, { 2, 1.5f } };
    lk_sampler_params p;
    plain_params(&p);
    p.logit_bias = bias;
    p.n_logit_bias = 2;
    sampler *s = make(&p, 4);
    bias[1].bias = 100.0f; /* the sampler keeps its own copy */
    float shifted[] = { 1.0f, 2.0f, 2.0f, -INFINITY };
    double want[4];
    long counts[4];
    softmax_ref(shifted, 4, 1.0, want);
    draw_counts(s, logits, 4, 100000, counts);
    assert_fits(counts, want, 4, 100000);
    sampler_free(s);

    p.temp = 0; /* greedy: the banned argmax is skipped */
    bias[1].bias = 1.5f;
    s = make(&p, 4);
    assert_int_equal(sampler_sample(s, logits), 1);
    sampler_free(s);
}

/* ---- seeds and state ---- */

static void random_logits(float *l, int n, uint64_t seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        l[i] = (float)((seed >> 33) % 1000) / 200.0f;
    }
}

/* The same seed gives the same tokens; another seed gives others. The logits are not touched. */
static void test_seed_determines_sequence(void **state) {
    (void)state;
    enum { N = 100, T = 200 };
    float logits[N], copy[N];
    random_logits(logits, N, 7);
    memcpy(copy, logits, sizeof logits);
    lk_sampler_params p;
    lk_sampler_params_default(&p);
    p.top_k = 0;
    p.min_p = 0;
    p.seed = 42;
    sampler *a = make(&p, N), *b = make(&p, N);
    p.seed = 43;
    sampler *c = make(&p, N);
    int same_ac = 0;
    for (int i = 0; i < T; i++) {
        int32_t ta = sampler_sample(a, logits), tb = sampler_sample(b, logits);
        int32_t tc = sampler_sample(c, logits);
        assert_int_equal(ta, tb);
        same_ac += ta == tc;
        sampler_accept(a, ta);
        sampler_accept(b, tb);
        sampler_accept(c, tc);
    }
    assert_true(same_ac < T / 2);
    assert_memory_equal(logits, copy, sizeof logits);
    sampler_free(a);
    sampler_free(b);
    sampler_free(c);
}

/* reset replays: the same tokens as a new sampler, and the penalty history is gone. */
static void test_reset_replays(void **state) {
    (void)state;
    enum { N = 50 };
    float logits[N];
    random_logits(logits, N, 3);
    lk_sampler_params p;
    lk_sampler_params_default(&p);
    p.repeat_penalty = 1.3f;
    sampler *s = make(&p, N);
    int32_t first[30];
    for (int i = 0; i < 30; i++) {
        first[i] = sampler_sample(s, logits);
        sampler_accept(s, first[i]);
    }
    sampler_reset(s);
    for (int i = 0; i < 30; i++) {
        int32_t t = sampler_sample(s, logits);
        assert_int_equal(t, first[i]);
        sampler_accept(s, t);
    }
    sampler_free(s);
}

/* ---- mirostat ---- */

static void zipf_logits(float *l, int n, double s) {
    for (int i = 0; i < n; i++) l[i] = (float)(-s * log(i + 1.0));
}

/* Mean observed surprise (bits) over T draws, each measured in the distribution the draw used. */
static double mean_surprise(sampler *s, const float *logits, int T, size_t *min_kept) {
    double total = 0;
    *min_kept = SIZE_MAX;
    for (int t = 0; t < T; t++) {
        const sampler_cand *c;
        size_t n = sampler_dist(s, logits, &c);
        if (n < *min_kept) *min_kept = n;
        int32_t tok = sampler_sample(s, logits);
        double pt = dist_p(c, n, tok);
        if (pt <= 0) fail_msg("draw %d: token %d outside the mirostat candidates", t, (int)tok);
        total += -log2(pt);
    }
    return total / T;
}

/* Mirostat v2 steers the observed surprise to tau: over a long run the mean is tau. */
static void test_mirostat_v2_tracks_tau(void **state) {
    (void)state;
    enum { N = 1000 };
    float logits[N];
    zipf_logits(logits, N, 1.0);
    float taus[] = { 3.0f, 5.0f };
    size_t kept[2];
    for (int i = 0; i < 2; i++) {
        lk_sampler_params p;
        lk_sampler_params_default(&p);
        p.temp = 1.0f;
        p.mirostat = 2;
        p.mirostat_tau = taus[i];
        sampler *s = make(&p, N);
        double m = mean_surprise(s, logits, 3000, &kept[i]);
        if (fabs(m - taus[i]) > 0.15) fail_msg("tau %.1f: mean surprise %.3f", taus[i], m);
        sampler_free(s);
    }
    assert_true(kept[0] < N && kept[0] <= kept[1]);
}

/* Mirostat v1 (top-k from the estimated Zipf exponent) also holds the mean surprise at tau. */
static void test_mirostat_v1_tracks_tau(void **state) {
    (void)state;
    enum { N = 1000 };
    float logits[N];
    zipf_logits(logits, N, 1.1);
    lk_sampler_params p;
    lk_sampler_params_default(&p);
    p.temp = 1.0f;
    p.mirostat = 1;
    p.mirostat_tau = 4.0f;
    sampler *s = make(&p, N);
    size_t kept;
    double m = mean_surprise(s, logits, 3000, &kept);
    if (fabs(m - 4.0) > 0.2) fail_msg("mean surprise %.3f", m);
    assert_true(kept < N);
    sampler_free(s);
}

/* ---- stop strings ---- */

static stop_matcher *matcher(const char *a, const char *b) {
    const char *stops[] = { a, b };
    return stop_matcher_new(stops, b ? 2 : (a ? 1 : 0));
}

/* A stop string split over three pieces is found; the text before it comes out, it does not. */
static void test_stop_split_across_pieces(void **state) {
    (void)state;
    stop_matcher *m = matcher("</end>", NULL);
    lk_buf out = {0};
    assert_false(stop_matcher_feed(m, "Hello </", 8, &out));
    assert_string_equal(out.data, "Hello ");
    assert_false(stop_matcher_feed(m, "en", 2, &out));
    assert_string_equal(out.data, "Hello ");
    assert_true(stop_matcher_feed(m, "d> and more", 11, &out));
    assert_string_equal(out.data, "Hello ");
    assert_int_equal(stop_matcher_which(m), 0);
    assert_true(stop_matcher_feed(m, "x", 1, &out)); /* ignored after the hit */
    stop_matcher_flush(m, &out);
    assert_string_equal(out.data, "Hello ");
    lk_buf_free(&out);
    stop_matcher_free(m);
}

/* A held prefix that then diverges is emitted in full. */
static void test_stop_prefix_then_divergence(void **state) {
    (void)state;
    stop_matcher *m = matcher("</end>", NULL);
    lk_buf out = {0};
    assert_false(stop_matcher_feed(m, "a </e", 5, &out));
    assert_string_equal(out.data, "a ");
    assert_false(stop_matcher_feed(m, "x", 1, &out));
    assert_string_equal(out.data, "a </ex");
    assert_int_equal(stop_matcher_which(m), -1);
    lk_buf_free(&out);
    stop_matcher_free(m);
}

/* Overlapping candidates: "aaab" contains "aab" starting at the second 'a'. */
static void test_stop_overlapping_prefix(void **state) {
    (void)state;
    stop_matcher *m = matcher("aab", NULL);
    lk_buf out = {0};
    for (int i = 0; i < 3; i++) assert_false(stop_matcher_feed(m, "a", 1, &out));
    assert_string_equal(out.data, "a");
    assert_true(stop_matcher_feed(m, "b", 1, &out));
    assert_string_equal(out.data, "a");
    lk_buf_free(&out);
    stop_matcher_free(m);
}

/* With several stop strings the earliest in the text wins. */
static void test_stop_multiple_earliest_wins(void **state) {
    (void)state;
    stop_matcher *m = matcher("World", "lo W");
    lk_buf out = {0};
    assert_true(stop_matcher_feed(m, "Hello World", 11, &out));
    assert_string_equal(out.data, "Hel");
    assert_int_equal(stop_matcher_which(m), 1);
    stop_matcher_reset(m);
    lk_buf_clear(&out);
    assert_true(stop_matcher_feed(m, "Say World", 9, &out));
    assert_string_equal(out.data, "Say ");
    assert_int_equal(stop_matcher_which(m), 0);
    lk_buf_free(&out);
    stop_matcher_free(m);
}

/* A stop string at the very start leaves nothing to emit. */
static void test_stop_at_start(void **state) {
    (void)state;
    stop_matcher *m = matcher("\n\n", NULL);
    lk_buf out = {0};
    assert_true(stop_matcher_feed(m, "\n\nrest", 6, &out));
    assert_int_equal(out.len, 0);
    lk_buf_free(&out);
    stop_matcher_free(m);
}

/* Output never ends inside a UTF-8 character, with or without stop strings. */
static void test_stop_utf8_safe(void **state) {
    (void)state;
    stop_matcher *m = matcher(NULL, NULL);
    lk_buf out = {0};
    assert_false(stop_matcher_feed(m, "caf\xC3", 4, &out));
    assert_string_equal(out.data, "caf");
    assert_false(stop_matcher_feed(m, "\xA9 \xE2", 3, &out));
    assert_string_equal(out.data, "caf\xC3\xA9 ");
    assert_false(stop_matcher_feed(m, "\x82", 1, &out));
    assert_string_equal(out.data, "caf\xC3\xA9 ");
    assert_false(stop_matcher_feed(m, "\xAC!", 2, &out));
    assert_string_equal(out.data, "caf\xC3\xA9 \xE2\x82\xAC!");
    stop_matcher_free(m);

    /* a multi-byte stop string split mid-character */
    m = matcher("\xE2\x86\x92" "END", NULL); /* "→END" */
    lk_buf_clear(&out);
    assert_false(stop_matcher_feed(m, "x \xE2\x86", 4, &out));
    assert_string_equal(out.data, "x ");
    assert_false(stop_matcher_feed(m, "\x92" "EN", 3, &out));
    assert_string_equal(out.data, "x ");
    assert_true(stop_matcher_feed(m, "D", 1, &out));
    assert_string_equal(out.data, "x ");
    stop_matcher_free(m);

    /* "é" shares its lead byte with the stop "è": held, then released whole */
    m = matcher("\xC3\xA8", NULL);
    lk_buf_clear(&out);
    assert_false(stop_matcher_feed(m, "\xC3", 1, &out));
    assert_int_equal(out.len, 0);
    assert_false(stop_matcher_feed(m, "\xA9", 1, &out));
    assert_string_equal(out.data, "\xC3\xA9");
    lk_buf_free(&out);
    stop_matcher_free(m);
}

/* flush emits the held tail at the end of generation; reset starts over. */
static void test_stop_flush_and_reset(void **state) {
    (void)state;
    stop_matcher *m = matcher("</end>", "STOP");
    lk_buf out = {0};
    assert_false(stop_matcher_feed(m, "abc</en", 7, &out));
    assert_string_equal(out.data, "abc");
    stop_matcher_flush(m, &out);
    assert_string_equal(out.data, "abc</en");
    stop_matcher_flush(m, &out);
    assert_string_equal(out.data, "abc</en");
    stop_matcher_reset(m);
    lk_buf_clear(&out);
    assert_false(stop_matcher_feed(m, "ST", 2, &out));
    assert_false(stop_matcher_feed(m, "", 0, &out));
    assert_true(stop_matcher_feed(m, "OP", 2, &out));
    assert_int_equal(out.len, 0);
    lk_buf_free(&out);
    stop_matcher_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_llama_cpp),
        cmocka_unit_test(test_bad_params_are_named),
        cmocka_unit_test(test_greedy_ties_go_to_lowest_id),
        cmocka_unit_test(test_no_possible_token_gives_minus_one),
        cmocka_unit_test(test_infinite_logits),
        cmocka_unit_test(test_temperature_one_draws_softmax),
        cmocka_unit_test(test_temperature_sharpens_and_flattens),
        cmocka_unit_test(test_top_k_keeps_k_best_renormalised),
        cmocka_unit_test(test_top_k_large_vocabulary),
        cmocka_unit_test(test_top_p_keeps_smallest_prefix),
        cmocka_unit_test(test_top_p_large_vocabulary),
        cmocka_unit_test(test_min_p_drops_below_fraction_of_max),
        cmocka_unit_test(test_typical_keeps_most_typical),
        cmocka_unit_test(test_top_k_then_top_p),
        cmocka_unit_test(test_repeat_penalty),
        cmocka_unit_test(test_frequency_and_presence_penalties),
        cmocka_unit_test(test_penalties_use_last_n_only),
        cmocka_unit_test(test_logit_bias),
        cmocka_unit_test(test_seed_determines_sequence),
        cmocka_unit_test(test_reset_replays),
        cmocka_unit_test(test_mirostat_v2_tracks_tau),
        cmocka_unit_test(test_mirostat_v1_tracks_tau),
        cmocka_unit_test(test_stop_split_across_pieces),
        cmocka_unit_test(test_stop_prefix_then_divergence),
        cmocka_unit_test(test_stop_overlapping_prefix),
        cmocka_unit_test(test_stop_multiple_earliest_wins),
        cmocka_unit_test(test_stop_at_start),
        cmocka_unit_test(test_stop_utf8_safe),
        cmocka_unit_test(test_stop_flush_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

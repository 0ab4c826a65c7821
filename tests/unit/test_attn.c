/* test_attn.c — the attention kernels over an f16 KV cache: every path this CPU has computes
 * softmax(scale q·K)·V over a set of cells, for one token and for a block of tokens, as a
 * double-precision computation on the same f16 values does; f32_to_f16 rounds as
 * lk_fp32_to_fp16; and the softmax's exponential is within 2 ulp of expf. */
#include "testutil.h"
#include "engine/quant/kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

enum { N_CELLS = 300 };

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

/* out[hd] = softmax(scale q·K_c)·V_c over cells[0..nc), in double on the f16 values. */
static void ref_head(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, const int *cells,
                     int nc, int hd, float scale, double *out) {
    double *sc = malloc(sizeof(double) * (size_t)nc), mx = -INFINITY, sum = 0;
    for (int j = 0; j < nc; j++) {
        double s = 0;
        for (int i = 0; i < hd; i++) s += (double)lk_fp16_to_fp32(k[(size_t)cells[j] * stride + i]) * q[i];
        sc[j] = s * scale;
        mx = fmax(mx, sc[j]);
    }
    for (int j = 0; j < nc; j++) sum += (sc[j] = exp(sc[j] - mx));
    for (int i = 0; i < hd; i++) out[i] = 0;
    for (int j = 0; j < nc; j++)
        for (int i = 0; i < hd; i++) out[i] += sc[j] / sum * lk_fp16_to_fp32(v[(size_t)cells[j] * stride + i]);
    free(sc);
}

/* attn_f16 for a group of G query heads sharing one KV head, over every other cell (a
 * sequence's cells need not be contiguous), one head slice at an offset inside each cell row,
 * against double precision; for head sizes that take the grouped kernel and one that does not. */
static void check_attention(int hd, int G) {
    uint64_t seed = 7 + (uint64_t)hd * 31 + (uint64_t)G;
    size_t stride = 3 * (size_t)hd + 16, off = (size_t)hd + 8; /* the head's slice */
    uint16_t *k = malloc(sizeof(uint16_t) * N_CELLS * stride), *v = malloc(sizeof(uint16_t) * N_CELLS * stride);
    for (size_t i = 0; i < N_CELLS * stride; i++) {
        k[i] = lk_fp32_to_fp16(frand(&seed));
        v[i] = lk_fp32_to_fp16(frand(&seed));
    }
    float *q = malloc(sizeof(float) * (size_t)G * hd), *out = malloc(sizeof(float) * (size_t)G * hd);
    float *scratch = malloc(sizeof(float) * (size_t)G * N_CELLS);
    double *ref = malloc(sizeof(double) * (size_t)G * hd);
    for (int i = 0; i < G * hd; i++) q[i] = 3 * frand(&seed);
    int cells[N_CELLS], nc = 0;
    for (int c = 0; c < N_CELLS; c += 2) cells[nc++] = c;
    float scale = 1.0f / sqrtf((float)hd);
    for (int g = 0; g < G; g++) ref_head(q + g * hd, k + off, v + off, stride, cells, nc, hd, scale, ref + g * hd);
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++) {
        const lk_kernels *K = lk_kernels_get(p);
        if (!K) {
            print_message("skip: path %d not on this CPU\n", p);
            continue;
        }
        K->attn_f16(q, G, k + off, v + off, stride, cells, nc, hd, scale, scratch, out);
        for (int i = 0; i < G * hd; i++)
            if (fabs(out[i] - ref[i]) > 1e-5)
                fail_msg("%s, hd %d, %d heads: out[%d] = %g, expected %g", K->name, hd, G, i, out[i], ref[i]);
    }
    free(k); free(v); free(q); free(out); free(scratch); free(ref);
}

static void test_attention_matches_double(void **state) {
    (void)state;
    check_attention(64, 1);
    check_attention(64, 4);   /* Llama 3 1B: 4 query heads per KV head, 16 x 16 output registers */
    check_attention(128, 4);  /* two passes over V, two heads each */
    check_attention(64, 3);   /* SmolLM2-135M */
    check_attention(80, 2);   /* 5 blocks of 16 */
    check_attention(72, 5);   /* not a multiple of 16: the one-head loop */
}

/* attn_f16_block for nt tokens of G heads each over a list of n cells (spread over the cache,
 * a head slice inside each row), token t seeing the prefix nc[t] of the list: in a causal
 * prompt block the last token sees the whole list and each one before it one cell less (at
 * least one); otherwise each token sees a random prefix. The rows of q and out have gaps
 * (strides above G * hd), which stay untouched. Every path against double precision. */
static void check_block(int hd, int G, int nt, int n, bool causal) {
    uint64_t seed = 11 + (uint64_t)hd * 131 + (uint64_t)G * 17 + (uint64_t)nt * 7 + (uint64_t)n;
    const size_t rows = 2 * (size_t)n + 1, stride = 2 * (size_t)hd + 16, off = (size_t)hd / 2 + 8;
    const size_t qs = (size_t)G * hd + 24, os = (size_t)G * hd + 40;
    uint16_t *k = malloc(sizeof(uint16_t) * rows * stride), *v = malloc(sizeof(uint16_t) * rows * stride);
    for (size_t i = 0; i < rows * stride; i++) {
        k[i] = lk_fp32_to_fp16(frand(&seed));
        v[i] = lk_fp32_to_fp16(frand(&seed));
    }
    float *q = malloc(sizeof(float) * (size_t)nt * qs), *out = malloc(sizeof(float) * (size_t)nt * os);
    float *scratch = malloc(sizeof(float) * (size_t)G * n);
    double *ref = malloc(sizeof(double) * (size_t)nt * G * hd);
    int *cells = malloc(sizeof(int) * (size_t)n), *nc = malloc(sizeof(int) * (size_t)nt);
    for (size_t i = 0; i < (size_t)nt * qs; i++) q[i] = 3 * frand(&seed);
    for (int j = 0; j < n; j++) cells[j] = 2 * j + (j % 3 == 1); /* not evenly spaced */
    for (int t = 0; t < nt; t++) {
        uint64_t r = seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        nc[t] = causal ? LK_MAX(1, n - (nt - 1 - t)) : 1 + (int)((r >> 33) % (uint64_t)n);
    }
    float scale = 1.0f / sqrtf((float)hd);
    for (int t = 0; t < nt; t++)
        for (int g = 0; g < G; g++)
            ref_head(q + t * qs + (size_t)g * hd, k + off, v + off, stride, cells, nc[t], hd, scale,
                     ref + ((size_t)t * G + g) * hd);
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++) {
        const lk_kernels *K = lk_kernels_get(p);
        if (!K) continue;
        for (size_t i = 0; i < (size_t)nt * os; i++) out[i] = NAN;
        K->attn_f16_block(q, qs, nt, G, k + off, v + off, stride, cells, nc, hd, scale, scratch, out, os);
        for (int t = 0; t < nt; t++)
            for (size_t i = 0; i < os; i++) {
                float o = out[t * os + i];
                if (i >= (size_t)G * hd) {
                    if (!isnan(o)) fail_msg("%s, hd %d, %d heads, %d tokens: wrote %g into the gap of row %d", K->name, hd, G, nt, o, t);
                } else if (!(fabs(o - ref[(size_t)t * G * hd + i]) <= 1e-5)) {
                    fail_msg("%s, hd %d, %d heads, %d tokens, %d cells%s: token %d (sees %d) out[%zu] = %g, expected %g",
                             K->name, hd, G, nt, n, causal ? "" : " (random prefixes)", t, nc[t], i, o,
                             ref[(size_t)t * G * hd + i]);
                }
            }
    }
    free(k); free(v); free(q); free(out); free(scratch); free(ref); free(cells); free(nc);
}

static void test_attention_block_matches_double(void **state) {
    (void)state;
    static const int tokens[] = { 1, 2, 5, 16, 21 }, lists[] = { 1, 7, 23, 25, 47, 150, 300 };
    for (int G = 1; G <= 8; G++)
        for (size_t a = 0; a < sizeof tokens / sizeof *tokens; a++)
            for (size_t b = 0; b < sizeof lists / sizeof *lists; b++) check_block(64, G, tokens[a], lists[b], true);
    check_block(64, 1, 64, 299, true);  /* one head, 64 tokens: all four lane vectors */
    check_block(64, 3, 30, 299, true);  /* 90 queries: lanes in two rounds */
    check_block(64, 8, 16, 150, true);  /* 128 queries */
    check_block(64, 4, 16, 77, false);  /* random prefixes */
    check_block(64, 3, 21, 300, false);
    for (int G = 1; G <= 7; G += 3) {
        check_block(128, G, 16, 299, true);
        check_block(128, G, 3, 23, true);
        check_block(128, G, 9, 1, true);
    }
    check_block(80, 2, 16, 101, true);  /* 5 blocks of 16 */
    check_block(72, 4, 16, 45, true);   /* not a multiple of 16: token by token */
    check_block(256, 2, 8, 45, true);   /* above the block kernel's head size: token by token */
}

/* ulps between two non-negative floats (inf included): their bit patterns are in their order. */
static uint32_t ulps(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x > y ? x - y : y - x;
}

/* exp_f32 of every path is within 2 ulp of expf (subnormal results counted in their ulps) over
 * the float range: every 1021st bit pattern, a dense sweep of [-106, 90] (underflow to
 * overflow), and -inf (0), inf, NaN, zeros and the edges. */
static void test_exp_within_2_ulp_of_expf(void **state) {
    (void)state;
    enum { N = 4096 };
    static float x[N], y[N];
    static const float special[] = { -INFINITY, INFINITY, NAN, 0.0f, -0.0f, FLT_MIN, -FLT_MIN, 1e-45f, 1.0f, -1.0f,
                                     0.34657359f, -0.34657359f, -87.33654f, -88.0f, -88.72283f, -100.0f,
                                     -103.27893f, -103.97208f, -104.0f, -104.5f, -150.0f, -1e30f, -FLT_MAX,
                                     88.7f, 88.72283f, 88.7229f, 88.73f, 89.0f, 1e30f, FLT_MAX };
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++) {
        const lk_kernels *K = lk_kernels_get(p);
        if (!K) continue;
        uint64_t bits = 0;
        int64_t dense = 0, n_dense = 196000;
        for (int round = 0;; round++) {
            int n = 0;
            if (round == 0) {
                for (; n < (int)(sizeof special / sizeof *special); n++) x[n] = special[n];
            } else if (dense < n_dense) {
                for (; n < N && dense < n_dense; n++, dense++) x[n] = -106.0f + (float)dense * 1e-3f;
            } else if (bits < (1ull << 32)) {
                for (; n < N && bits < (1ull << 32); n++, bits += 1021) {
                    uint32_t b = (uint32_t)bits;
                    memcpy(&x[n], &b, 4);
                }
            } else {
                break;
            }
            K->exp_f32(x, y, n - 1); /* the last element alone: the tail of a vector */
            K->exp_f32(x + n - 1, y + n - 1, 1);
            for (int i = 0; i < n; i++) {
                float e = expf(x[i]);
                if (isnan(e) ? !isnan(y[i]) : ulps(y[i], e) > 2)
                    fail_msg("%s: exp(%.9g) = %.9g, expf gives %.9g", K->name, x[i], y[i], e);
            }
        }
    }
}

/* Every path converts f32 to f16 with round-to-nearest-even, like the scalar reference. */
static void test_f32_to_f16_rounds_like_reference(void **state) {
    (void)state;
    uint64_t seed = 3;
    float x[1000];
    uint16_t y[1000];
    for (int i = 0; i < 1000; i++) x[i] = frand(&seed) * (float)(1 << (i % 20)) * 1e-3f;
    x[0] = 65519.0f, x[1] = 1e-8f, x[2] = -0.0f, x[3] = 2049.0f; /* overflow edge, subnormal, sign, tie */
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++) {
        const lk_kernels *K = lk_kernels_get(p);
        if (!K) continue;
        K->f32_to_f16(x, y, 1000);
        for (int i = 0; i < 1000; i++)
            if (y[i] != lk_fp32_to_fp16(x[i])) fail_msg("%s: element %d: %04x, expected %04x", K->name, i, y[i], lk_fp32_to_fp16(x[i]));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_matches_double),
        cmocka_unit_test(test_attention_block_matches_double),
        cmocka_unit_test(test_f32_to_f16_rounds_like_reference),
        cmocka_unit_test(test_exp_within_2_ulp_of_expf),
    };
    return cmocka_run_group_tests_name("attn", tests, NULL, NULL);
}

/* test_kernels_k.c — the K-quant gemm kernels (Q4_K, Q5_K, Q6_K weights, Q8_K activations).
 *
 * The scalar kernel is checked against a double-precision dot of the dequantized weight row
 * (lk_dequantize_row) with the dequantized activations (d * qs): the two must agree to float
 * rounding. Every SIMD path this CPU has is checked against the scalar kernel on the same
 * random data, to a relative 1e-5 of the sum of the magnitudes of the terms. The data are
 * weights quantized from random floats and raw random blocks (any bytes, finite fp16 scales),
 * activations quantized here with ggml's quantize_row_q8_K, over shapes that reach every tile
 * and tail of the kernels, with aligned rows and with strides that put rows at odd addresses.
 * Each path's kernels come from its register function called on a zeroed lk_kernels; one more
 * test checks that the dispatcher's tables (lk_kernels_get) hold these kernels and that its
 * Q8_K quantizer feeds them as ggml's does. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "testutil.h"

#include "base/base.h"
#include "engine/quant/kernels.h"
#include <inttypes.h>
#include <math.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* ---- random data ---------------------------------------------------------------------------- */

/* ---- Q8_K activations, as ggml's quantize_row_q8_K ------------------------------------------ */

/* Quantize n floats (a multiple of 256) to Q8_K blocks at dst, which may sit at any byte:
 * per block, iscale = -127 / (the element of largest magnitude), qs = round(iscale * x) capped
 * at 127, bsums = sums of 16, d = 1 / iscale (0 for an all-zero block). */
static void quantize_act(const float *x, void *dst, int64_t n) {
    for (int64_t i = 0; i < n / LK_QK_K; i++, x += LK_QK_K) {
        lk_block_q8_K b;
        memset(&b, 0, sizeof b);
        float max = 0, amax = 0;
        for (int j = 0; j < LK_QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (amax > 0) {
            const float iscale = -127.0f / max;
            for (int j = 0; j < LK_QK_K; j++) {
                int v = (int)rintf(iscale * x[j]);
                b.qs[j] = (int8_t)(v < 127 ? v : 127);
            }
            for (int j = 0; j < LK_QK_K / 16; j++) {
                int s = 0;
                for (int l = 0; l < 16; l++) s += b.qs[16 * j + l];
                b.bsums[j] = (int16_t)s;
            }
            b.d = 1 / iscale;
        }
        memcpy((char *)dst + i * (int64_t)sizeof b, &b, sizeof b);
    }
}

/* The activation values d * qs of a Q8_K row, in double. */
static void dequantize_act(const void *src, double *dst, int64_t n) {
    for (int64_t i = 0; i < n / LK_QK_K; i++) {
        lk_block_q8_K b;
        memcpy(&b, (const char *)src + i * (int64_t)sizeof b, sizeof b);
        for (int j = 0; j < LK_QK_K; j++) dst[LK_QK_K * i + j] = (double)b.d * b.qs[j];
    }
}

/* ---- the terms of a dot product ----------------------------------------------------------- */

/* For element e of a K-quant block: the magnitudes of the parts of the weight, |d*sc*q| (or
 * |d*sc*(q-32)| for Q6_K) and |dmin*m|, read straight from the layouts in quant.h. */
static double weight_terms(uint32_t type, const uint8_t *blk, int e) {
    if (type == LK_Q6_K) {
        const uint8_t *ql = blk, *qh = blk + 128;
        const int8_t *sc = (const int8_t *)(blk + 192);
        const int h = e / 128, g = (e % 128) / 32, l = e % 32;
        const int low = (ql[64 * h + l + 32 * (g & 1)] >> (4 * (g >> 1))) & 0x0F;
        const int high = (qh[32 * h + l] >> (2 * g)) & 3;
        return fabs((double)tu_half_at(blk + 208) * sc[e / 16] * ((low | high << 4) - 32));
    }
    const uint8_t *s = blk + 4;
    const uint8_t *qs = blk + (type == LK_Q5_K ? 48 : 16);
    const int j = e / 32, l = e % 32, c = e / 64;
    int sc, m;
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4;
        m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
    int q = (qs[32 * c + l] >> (4 * (j % 2))) & 0x0F;
    if (type == LK_Q5_K) q |= ((blk[16 + l] >> j) & 1) << 4;
    return fabs((double)tu_half_at(blk) * sc * q) + fabs((double)tu_half_at(blk + 2) * m);
}

/* Sum over the row of |weight parts| * |activation|: the scale of the rounding errors. */
static double term_magnitude(uint32_t type, const uint8_t *row, const double *a, int64_t n) {
    const size_t bs = lk_qtype(type)->type_size;
    double sum = 0;
    for (int64_t e = 0; e < n; e++)
        sum += weight_terms(type, row + (size_t)(e / LK_QK_K) * bs, (int)(e % LK_QK_K)) *
               fabs(a[e]);
    return sum;
}

/* ---- a gemm problem ------------------------------------------------------------------------- */

typedef struct problem {
    uint32_t type;
    int64_t n;
    int nr, nc;
    size_t w_stride, act_stride, out_stride;
    size_t base;     /* where the rows start in w and act: 0, or 1 (odd addresses) */
    uint8_t *w;      /* nr rows, w_stride bytes apart */
    uint8_t *act;    /* nc Q8_K rows, act_stride bytes apart */
    double *a;       /* the activations dequantized, nc x n */
} problem;

/* Weight row r, activation row c (Q8_K) and its values, of a problem. */
static const uint8_t *weight_row(const problem *p, int r) {
    return p->w + p->base + (size_t)r * p->w_stride;
}

static uint8_t *act_row(const problem *p, int c) {
    return p->act + p->base + (size_t)c * p->act_stride;
}

static double *act_values(const problem *p, int c) { return p->a + (size_t)c * (size_t)p->n; }

/* Fill a weight row: quantized random floats (of a random size), or raw random blocks whose fp16
 * factors are finite. */
static void random_weights(uint32_t type, uint8_t *row, int64_t n, bool raw) {
    if (!raw) {
        float *x = lk_xmalloc((size_t)n * sizeof *x);
        const float size = (float)exp(6 * tu_uniform01() - 3);
        for (int64_t i = 0; i < n; i++) x[i] = size * tu_gaussian();
        lk_quantize_row(type, x, row, n);
        free(x);
        return;
    }
    const size_t bs = lk_qtype(type)->type_size;
    for (size_t i = 0; i < lk_row_size(type, n); i++) row[i] = (uint8_t)tu_rand64();
    for (int64_t b = 0; b < n / LK_QK_K; b++) {
        uint8_t *blk = row + (size_t)b * bs;
        if (type == LK_Q6_K) {
            tu_put_half(blk + 208, tu_random_finite_half());
        } else {
            tu_put_half(blk, tu_random_finite_half());
            tu_put_half(blk + 2, tu_random_finite_half());
        }
    }
}

/* A problem of the given shape; pad adds that many bytes to each stride, and a pad other than 0
 * starts the rows at an odd address. Activation column 3 is all zeros, so its blocks have
 * d = 0. */
static problem make_problem(uint32_t type, int64_t n, int nr, int nc, bool raw, size_t pad) {
    problem p = { .type = type, .n = n, .nr = nr, .nc = nc };
    p.w_stride = lk_row_size(type, n) + pad;
    p.act_stride = (size_t)(n / LK_QK_K) * sizeof(lk_block_q8_K) + pad;
    p.out_stride = (size_t)nr + pad;
    p.base = pad ? 1 : 0;
    p.w = lk_xcalloc((size_t)nr * p.w_stride + 1, 1);
    p.act = lk_xcalloc((size_t)nc * p.act_stride + 1, 1);
    p.a = lk_xmalloc((size_t)nc * (size_t)n * sizeof *p.a);
    for (int r = 0; r < nr; r++) random_weights(type, (uint8_t *)weight_row(&p, r), n, raw);
    float *x = lk_xmalloc((size_t)n * sizeof *x);
    for (int c = 0; c < nc; c++) {
        const float size = (float)exp(4 * tu_uniform01() - 2);
        for (int64_t i = 0; i < n; i++) x[i] = c == 3 ? 0.0f : size * tu_gaussian();
        quantize_act(x, act_row(&p, c), n);
        dequantize_act(act_row(&p, c), act_values(&p, c), n);
    }
    free(x);
    return p;
}

static void free_problem(problem *p) {
    free(p->w);
    free(p->act);
    free(p->a);
}

/* Run a gemm on p; out gets nc * out_stride floats, with a sentinel around the results. */
static float *run_gemm(lk_gemm_fn gemm, const problem *p) {
    const size_t len = (size_t)p->nc * p->out_stride;
    float *out = lk_xmalloc(len * sizeof *out);
    for (size_t i = 0; i < len; i++) out[i] = -12345.0f;
    gemm(p->n, weight_row(p, 0), p->w_stride, p->nr, act_row(p, 0), p->act_stride, p->nc, out,
         p->out_stride);
    return out;
}

/* Entries out[c * out_stride + r] for r >= nr are left as they were. */
static void check_padding_untouched(const problem *p, const float *out) {
    for (int c = 0; c < p->nc; c++)
        for (size_t r = (size_t)p->nr; r < p->out_stride; r++)
            assert_true(out[(size_t)c * p->out_stride + r] == -12345.0f);
}

/* ---- kernel paths -------------------------------------------------------------------------- */

typedef struct path {
    const char *name;
    void (*reg)(lk_kernels *k);
    bool (*has)(void);
} path;

static bool has_any(void) { return true; }

static bool has_avx2(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)); /* clang 14's
                                                      __builtin_cpu_supports lacks "f16c" */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
#else
    return false;
#endif
}

static bool has_avx512(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

static const path path_avx2 = { "avx2", lk_register_k_avx2, has_avx2 };
static const path path_avx512 = { "avx512", lk_register_k_avx512, has_avx512 };
static const path path_scalar = { "scalar", lk_register_k_scalar, has_any };

static lk_gemm_fn gemm_of(const path *pa, uint32_t type) {
    lk_kernels k;
    memset(&k, 0, sizeof k);
    pa->reg(&k);
    return k.gemm[type];
}

/* ---- the checks ---------------------------------------------------------------------------- */

/* n = 2304 is 9 super-blocks: a full chunk of 8 and a part chunk in the SIMD column loops. The
 * column counts reach every way the SIMD paths split columns: groups of 16 (one or two per
 * pass, the last one part-filled), and a rest of 1 to 6 for the row loop. */
static const int64_t shape_n[] = { 256, 2304, 4096 };
static const int shape_nr[] = { 1, 3, 8, 17 };
static const int shape_nc[] = { 1, 2, 3, 5, 6, 16, 17, 23, 35, 40 };

/* On every shape, raw and quantized weights, aligned and odd strides: the path's gemm agrees
 * with the scalar gemm within 1e-5 of the term magnitude, and writes nothing else. */
static void check_path_against_scalar(const path *pa, uint32_t type) {
    if (!pa->has()) {
        print_message("skip: this CPU cannot run the %s kernels\n", pa->name);
        skip();
    }
    lk_gemm_fn gemm = gemm_of(pa, type), ref = gemm_of(&path_scalar, type);
    assert_non_null(gemm);
    int checked = 0;
    for (size_t in = 0; in < LK_ARRAY_LEN(shape_n); in++)
    for (size_t ir = 0; ir < LK_ARRAY_LEN(shape_nr); ir++)
    for (size_t ic = 0; ic < LK_ARRAY_LEN(shape_nc); ic++)
    for (int raw = 0; raw < 2; raw++) {
        const size_t pad = (in + ir + ic + (size_t)raw) % 2 ? 3 + 2 * ir : 0;
        problem p = make_problem(type, shape_n[in], shape_nr[ir], shape_nc[ic], raw, pad);
        float *got = run_gemm(gemm, &p), *want = run_gemm(ref, &p);
        check_padding_untouched(&p, got);
        for (int c = 0; c < p.nc; c++) {
            for (int r = 0; r < p.nr; r++) {
                const double mag = term_magnitude(type, weight_row(&p, r), act_values(&p, c), p.n);
                const double g = got[(size_t)c * p.out_stride + r];
                const double w = want[(size_t)c * p.out_stride + r];
                if (!(fabs(g - w) <= 1e-5 * mag)) {
                    print_error("%s %s n=%" PRId64 " nr=%d nc=%d raw=%d pad=%zu: "
                                "out[%d][%d] = %.9g, scalar %.9g, term magnitude %.9g\n",
                                pa->name, lk_qtype(type)->name, p.n, p.nr, p.nc, raw, pad, c, r,
                                g, w, mag);
                    fail();
                }
                checked++;
            }
        }
        free(got);
        free(want);
        free_problem(&p);
    }
    assert_true(checked > 1000);
}

/* The scalar gemm equals the double dot of the dequantized weights and activations, to float
 * rounding: a few roundings per super-block plus one per super-block of accumulation, each
 * relative to the term magnitude. */
static void check_scalar_against_dequantized(uint32_t type) {
    lk_gemm_fn gemm = gemm_of(&path_scalar, type);
    assert_non_null(gemm);
    for (size_t in = 0; in < LK_ARRAY_LEN(shape_n); in++)
    for (int raw = 0; raw < 2; raw++) {
        problem p = make_problem(type, shape_n[in], 8, 5, raw, raw ? 1 : 0);
        float *got = run_gemm(gemm, &p);
        float *w = lk_xmalloc((size_t)p.n * sizeof *w);
        const double nb = (double)(p.n / LK_QK_K);
        for (int r = 0; r < p.nr; r++) {
            lk_dequantize_row(type, weight_row(&p, r), w, p.n);
            for (int c = 0; c < p.nc; c++) {
                const double *a = act_values(&p, c);
                double dot = 0;
                for (int64_t i = 0; i < p.n; i++) dot += (double)w[i] * a[i];
                const double mag = term_magnitude(type, weight_row(&p, r), a, p.n);
                const double g = got[(size_t)c * p.out_stride + r];
                if (!(fabs(g - dot) <= (nb + 8) * 0x1p-24 * mag)) {
                    print_error("scalar %s n=%" PRId64 " raw=%d: out[%d][%d] = %.9g, dequantized "
                                "dot %.12g, term magnitude %.9g\n", lk_qtype(type)->name, p.n,
                                raw, c, r, g, dot, mag);
                    fail();
                }
                if (c == 3) assert_true(g == 0); /* an all-zero activation row */
            }
        }
        free(w);
        free(got);
        free_problem(&p);
    }
}

static void test_scalar_q4_K_is_the_dequantized_dot(void **state) {
    (void)state;
    check_scalar_against_dequantized(LK_Q4_K);
}

static void test_scalar_q5_K_is_the_dequantized_dot(void **state) {
    (void)state;
    check_scalar_against_dequantized(LK_Q5_K);
}

static void test_scalar_q6_K_is_the_dequantized_dot(void **state) {
    (void)state;
    check_scalar_against_dequantized(LK_Q6_K);
}

static void test_avx2_q4_K_matches_scalar(void **state) {
    (void)state;
    check_path_against_scalar(&path_avx2, LK_Q4_K);
}

static void test_avx2_q5_K_matches_scalar(void **state) {
    (void)state;
    check_path_against_scalar(&path_avx2, LK_Q5_K);
}

static void test_avx2_q6_K_matches_scalar(void **state) {
    (void)state;
    check_path_against_scalar(&path_avx2, LK_Q6_K);
}

static void test_avx512_q4_K_matches_scalar(void **state) {
    (void)state;
    check_path_against_scalar(&path_avx512, LK_Q4_K);
}

static void test_avx512_q5_K_matches_scalar(void **state) {
    (void)state;
    check_path_against_scalar(&path_avx512, LK_Q5_K);
}

static void test_avx512_q6_K_matches_scalar(void **state) {
    (void)state;
    check_path_against_scalar(&path_avx512, LK_Q6_K);
}

/* The dispatcher's table for each path this CPU runs (lk_kernels_get) holds that path's K-quant
 * kernels, and its own Q8_K quantizer gives ggml's blocks: bsums that are the sums of the quants,
 * quants within 1 and d within float rounding of quantize_row_q8_K. Fed with those activations,
 * each table's kernels agree with the scalar kernel. */
static void test_dispatch_tables_hold_these_kernels(void **state) {
    (void)state;
    const struct { enum lk_simd simd; const path *pa; } paths[] = {
        { LK_SIMD_SCALAR, &path_scalar },
        { LK_SIMD_AVX2, &path_avx2 },
        { LK_SIMD_AVX512, &path_avx512 },
    };
    const uint32_t types[] = { LK_Q4_K, LK_Q5_K, LK_Q6_K };
    const int64_t n = 2304;
    float *x = lk_xmalloc((size_t)n * sizeof *x);
    lk_block_q8_K *mine = lk_xmalloc((size_t)(n / LK_QK_K) * sizeof *mine);
    lk_block_q8_K *theirs = lk_xmalloc((size_t)(n / LK_QK_K) * sizeof *theirs);
    int tables = 0;
    for (size_t i = 0; i < LK_ARRAY_LEN(paths); i++) {
        const lk_kernels *k = lk_kernels_get(paths[i].simd);
        if (!k) continue;
        tables++;
        for (size_t t = 0; t < LK_ARRAY_LEN(types); t++)
            assert_ptr_equal(k->gemm[types[t]], gemm_of(paths[i].pa, types[t]));
        assert_non_null(k->act[LK_Q8_K]);
        for (int rep = 0; rep < 20; rep++) {
            for (int64_t e = 0; e < n; e++) x[e] = (float)exp(3 * tu_gaussian()) * tu_gaussian();
            if (rep == 0) memset(x, 0, LK_QK_K * sizeof *x); /* an all-zero block */
            quantize_act(x, mine, n);
            k->act[LK_Q8_K](x, theirs, n);
            for (int64_t b = 0; b < n / LK_QK_K; b++) {
                assert_true(fabsf(theirs[b].d - mine[b].d) <= 1e-6f * fabsf(mine[b].d));
                for (int j = 0; j < LK_QK_K; j++)
                    assert_true(abs(theirs[b].qs[j] - mine[b].qs[j]) <= 1);
                for (int g = 0; g < 16; g++) {
                    int sum = 0;
                    for (int l = 0; l < 16; l++) sum += theirs[b].qs[16 * g + l];
                    assert_int_equal(theirs[b].bsums[g], sum);
                }
            }
        }
        for (size_t t = 0; t < LK_ARRAY_LEN(types); t++) {
            problem p = make_problem(types[t], n, 9, 18, false, 1);
            for (int c = 0; c < p.nc; c++) {
                for (int64_t e = 0; e < n; e++) x[e] = tu_gaussian();
                k->act[LK_Q8_K](x, theirs, n); /* an aligned buffer, then to the odd place */
                memcpy(act_row(&p, c), theirs, (size_t)(n / LK_QK_K) * sizeof *theirs);
                dequantize_act(act_row(&p, c), act_values(&p, c), n);
            }
            float *got = run_gemm(k->gemm[types[t]], &p);
            float *want = run_gemm(gemm_of(&path_scalar, types[t]), &p);
            for (int c = 0; c < p.nc; c++)
                for (int r = 0; r < p.nr; r++) {
                    const double mag =
                        term_magnitude(types[t], weight_row(&p, r), act_values(&p, c), n);
                    assert_true(fabs((double)got[(size_t)c * p.out_stride + r] -
                                     want[(size_t)c * p.out_stride + r]) <= 1e-5 * mag);
                }
            free(got);
            free(want);
            free_problem(&p);
        }
    }
    assert_true(tables >= 1);
    free(x);
    free(mine);
    free(theirs);
}

/* The register functions fill exactly the three K-quant entries. */
static void test_register_fills_only_k_quants(void **state) {
    (void)state;
    const path *paths[] = { &path_scalar, &path_avx2, &path_avx512 };
    for (size_t i = 0; i < LK_ARRAY_LEN(paths); i++) {
        if (!paths[i]->has()) continue;
        lk_kernels k;
        memset(&k, 0, sizeof k);
        paths[i]->reg(&k);
        for (uint32_t t = 0; t < LK_QTYPE_COUNT; t++) {
            const bool k_quant = t == LK_Q4_K || t == LK_Q5_K || t == LK_Q6_K;
            assert_true((k.gemm[t] != NULL) == k_quant);
            assert_null(k.act[t]);
        }
    }
}

int main(void) {
    tu_seed(0x2545F4914F6CDD1Dull);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar_q4_K_is_the_dequantized_dot),
        cmocka_unit_test(test_scalar_q5_K_is_the_dequantized_dot),
        cmocka_unit_test(test_scalar_q6_K_is_the_dequantized_dot),
        cmocka_unit_test(test_avx2_q4_K_matches_scalar),
        cmocka_unit_test(test_avx2_q5_K_matches_scalar),
        cmocka_unit_test(test_avx2_q6_K_matches_scalar),
        cmocka_unit_test(test_avx512_q4_K_matches_scalar),
        cmocka_unit_test(test_avx512_q5_K_matches_scalar),
        cmocka_unit_test(test_avx512_q6_K_matches_scalar),
        cmocka_unit_test(test_register_fills_only_k_quants),
        cmocka_unit_test(test_dispatch_tables_hold_these_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_kernels.c — the compute kernels behind matmul (kernels.h): path selection, activation
 * quantizers and the gemm of the float and legacy weight types.
 *
 * The scalar path is checked against first principles: its quantizers against blocks worked
 * out by hand, its gemm against a double-precision dot of the dequantized weights with the
 * dequantized activations. Every SIMD path the CPU has is then checked against the scalar one
 * on random data: quantizer bytes must be identical, gemm results equal up to float summation
 * order (1e-5 of the sum of the magnitudes of the terms), over shapes that exercise row and
 * column tails, odd block counts, long rows and strides that are not the row size. Paths the
 * CPU lacks are skipped with a message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "testutil.h"

#include "base/base.h"
#include "engine/quant/kernels.h"
#include <math.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* n floats of N(0, 1) times a scale that varies per 32 elements (as real rows do). */
static void random_floats(float *x, int64_t n) {
    float scale = 1.0f;
    for (int64_t i = 0; i < n; i++) {
        if (i % 32 == 0) scale = (float)exp(2.0 * (tu_uniform01() - 0.5));
        x[i] = tu_gaussian() * scale;
    }
}

static const char *path_name(enum lk_simd p) {
    return p == LK_SIMD_SCALAR ? "scalar" : p == LK_SIMD_AVX2 ? "avx2" : "avx512";
}

/* The kernels of path p, or NULL (with a message) when this CPU cannot run it. */
static const lk_kernels *path_or_skip(enum lk_simd p) {
    const lk_kernels *k = lk_kernels_get(p);
    if (!k) print_message("skip: this CPU cannot run the %s path\n", path_name(p));
    return k;
}

/* Weights of type wtype: nr rows of n elements quantized from random floats, one row every
 * w_stride bytes (the gap is filled with junk). */
static uint8_t *random_weights(uint32_t wtype, int64_t n, int nr, size_t w_stride) {
    uint8_t *w = malloc((size_t)nr * w_stride + 1);
    float *x = malloc((size_t)n * sizeof(float));
    for (size_t i = 0; i < (size_t)nr * w_stride + 1; i++) w[i] = (uint8_t)tu_rand64();
    for (int r = 0; r < nr; r++) {
        random_floats(x, n);
        lk_quantize_row(wtype, x, w + (size_t)r * w_stride, n);
    }
    free(x);
    return w;
}

/* Activations for weights of wtype: nc rows of n random floats converted by the scalar
 * quantizer, one row every act_stride bytes. */
static uint8_t *random_acts(uint32_t wtype, int64_t n, int nc, size_t act_stride) {
    const lk_kernels *s = lk_kernels_get(LK_SIMD_SCALAR);
    uint8_t *a = malloc((size_t)nc * act_stride + 4);
    float *x = malloc((size_t)n * sizeof(float));
    memset(a, 0x5A, (size_t)nc * act_stride + 4);
    for (int c = 0; c < nc; c++) {
        random_floats(x, n);
        s->act[lk_act_type(wtype)](x, a + (size_t)c * act_stride, n);
    }
    free(x);
    return a;
}

/* The floats an activation row stands for (d * q per element for the q8 types). */
static void dequantize_act(uint32_t atype, const uint8_t *a, double *out, int64_t n) {
    if (atype == LK_F32) {
        for (int64_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, a + 4 * i, 4);
            out[i] = f;
        }
        return;
    }
    const size_t bytes = lk_qtype(atype)->type_size, skip = atype == LK_Q8_0 ? 2 : 4;
    for (int64_t b = 0; b < n / LK_QK; b++) {
        const uint8_t *blk = a + (size_t)b * bytes;
        for (int j = 0; j < LK_QK; j++) out[b * LK_QK + j] = (double)tu_half_at(blk) * (int8_t)blk[skip + j];
    }
}

static bool has_min(uint32_t wtype) { return wtype == LK_Q4_1 || wtype == LK_Q5_1; }

/* What a weight row stands for, in double: v[n], d_w * q per element (for the _1 types without
 * their minimum), and m[n / 32], the minimum of each block (0 for the other types). */
static void dequantize_weights(uint32_t wtype, const uint8_t *wrow, int64_t n, double *v, double *m) {
    float *w = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!has_min(wtype)) {
        lk_dequantize_row(wtype, wrow, w, n);
        for (int64_t i = 0; i < n; i++) v[i] = w[i];
        for (int64_t b = 0; b < n / LK_QK; b++) m[b] = 0;
    } else {
        const size_t bytes = lk_qtype(wtype)->type_size;
        uint8_t blk[32];
        for (int64_t b = 0; b < n / LK_QK; b++) {
            memcpy(blk, wrow + (size_t)b * bytes, bytes);
            m[b] = tu_half_at(blk + 2);
            blk[2] = blk[3] = 0; /* m = 0: dequantizing gives d * q exactly */
            lk_dequantize_row(wtype, blk, w, LK_QK);
            for (int j = 0; j < LK_QK; j++) v[b * LK_QK + j] = w[j];
        }
    }
    free(w);
}

/* The stored s of each q8_1 block of an activation row (0 for other activation types). */
static void act_sums(uint32_t atype, const uint8_t *arow, int64_t n, double *s) {
    for (int64_t b = 0; b < n / LK_QK; b++)
        s[b] = atype == LK_Q8_1 ? tu_half_at(arow + (size_t)b * sizeof(lk_block_q8_1) + 2) : 0.0;
}

/* One gemm shape: n elements per row, nr weight rows, nc activation rows. Strides are the row
 * sizes plus a little, so that rows do not start where a packed layout would put them. */
typedef struct shape {
    int64_t n;
    int nr, nc;
} shape;

typedef struct problem {
    uint32_t wtype;
    shape sh;
    size_t w_stride, act_stride, out_stride;
    uint8_t *w, *act;
    double *wv, *wm, *av, *as; /* dequantized: nr x n, nr x n/32, nc x n, nc x n/32 */
} problem;

static problem make_problem(uint32_t wtype, shape sh) {
    problem p = { .wtype = wtype, .sh = sh };
    p.w_stride = lk_row_size(wtype, sh.n) + 5;
    p.act_stride = lk_act_row_size(wtype, sh.n) + (lk_act_type(wtype) == LK_F32 ? 12 : 7);
    p.out_stride = (size_t)sh.nr + 3;
    p.w = random_weights(wtype, sh.n, sh.nr, p.w_stride);
    p.act = random_acts(wtype, sh.n, sh.nc, p.act_stride);
    const size_t n = (size_t)sh.n, nb = n / LK_QK + 1;
    p.wv = malloc((size_t)sh.nr * n * sizeof(double) + 8);
    p.wm = malloc((size_t)sh.nr * nb * sizeof(double));
    p.av = malloc((size_t)sh.nc * n * sizeof(double) + 8);
    p.as = malloc((size_t)sh.nc * nb * sizeof(double));
    for (int r = 0; r < sh.nr; r++)
        dequantize_weights(wtype, p.w + (size_t)r * p.w_stride, sh.n, p.wv + (size_t)r * n, p.wm + (size_t)r * nb);
    for (int c = 0; c < sh.nc; c++) {
        dequantize_act(lk_act_type(wtype), p.act + (size_t)c * p.act_stride, p.av + (size_t)c * n, sh.n);
        act_sums(lk_act_type(wtype), p.act + (size_t)c * p.act_stride, sh.n, p.as + (size_t)c * nb);
    }
    return p;
}

/* The exact value of dot(weight row r, activation row c) as the kernels define it, and the sum
 * of the magnitudes of its terms. For the _1 types the kernels add m_w * s_a per block, s_a
 * being the activation block's stored fp16 d * sum(q), so the reference does too. */
static void reference_dot(const problem *p, int r, int c, double *value, double *magnitude) {
    const size_t n = (size_t)p->sh.n, nb = n / LK_QK + 1;
    const double *w = p->wv + (size_t)r * n, *a = p->av + (size_t)c * n;
    const double *m = p->wm + (size_t)r * nb, *s = p->as + (size_t)c * nb;
    double v = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        v += w[i] * a[i];
        mag += fabs(w[i] * a[i]);
    }
    if (has_min(p->wtype)) {
        for (size_t b = 0; b < n / LK_QK; b++) {
            v += m[b] * s[b];
            mag += fabs(m[b] * s[b]);
        }
    }
    *value = v;
    *magnitude = mag;
}

static void free_problem(problem *p) {
    free(p->w);
    free(p->act);
    free(p->wv);
    free(p->wm);
    free(p->av);
    free(p->as);
}

/* Run a gemm into a fresh output filled with NaN; check it wrote exactly its nr x nc cells. */
static float *run_gemm(const lk_kernels *k, const problem *p) {
    const size_t cells = (size_t)p->sh.nc * p->out_stride;
    float *out = malloc(cells * sizeof(float));
    for (size_t i = 0; i < cells; i++) out[i] = NAN;
    k->gemm[p->wtype](p->sh.n, p->w, p->w_stride, p->sh.nr, p->act, p->act_stride, p->sh.nc, out,
                      p->out_stride);
    for (int c = 0; c < p->sh.nc; c++) {
        for (size_t r = 0; r < p->out_stride; r++) {
            const float v = out[(size_t)c * p->out_stride + r];
            if (r < (size_t)p->sh.nr && isnan(v))
                fail_msg("%s gemm %s n=%lld nr=%d nc=%d: out[%d][%zu] not written", k->name,
                         lk_qtype(p->wtype)->name, (long long)p->sh.n, p->sh.nr, p->sh.nc, c, r);
            if (r >= (size_t)p->sh.nr && !isnan(v))
                fail_msg("%s gemm %s n=%lld nr=%d nc=%d: wrote out[%d][%zu] past nr", k->name,
                         lk_qtype(p->wtype)->name, (long long)p->sh.n, p->sh.nr, p->sh.nc, c, r);
        }
    }
    return out;
}

static const uint32_t gemm_types[] = { LK_F32, LK_F16, LK_BF16, LK_Q4_0, LK_Q4_1, LK_Q5_0, LK_Q5_1, LK_Q8_0 };

/* Shapes: the sizes of real rows (256, 4096), odd block counts (3, 65, 257 blocks: tails of
 * pairs and of the kernels' chunks), and for float types lengths that are not a multiple of
 * the vector width; row counts and column counts around the tile sizes. */
static const int64_t quant_lengths[] = { 256, 4096, 96, 2080, 8224 };
static const int64_t float_lengths[] = { 256, 4096, 1, 7, 1040, 4099 };
static const int row_counts[] = { 1, 3, 8, 17, 45 };
static const int col_counts[] = { 1, 2, 5, 16, 7, 21, 33 };

static bool is_float_type(uint32_t t) { return t == LK_F32 || t == LK_F16 || t == LK_BF16; }

/* ---- path selection ------------------------------------------------------------------------ */

/* The scalar path always exists and every path is named for itself. */
static void test_paths_are_named_and_scalar_always_exists(void **state) {
    (void)state;
    const lk_kernels *s = lk_kernels_get(LK_SIMD_SCALAR);
    assert_non_null(s);
    assert_string_equal(s->name, "scalar");
    for (int p = LK_SIMD_AVX2; p <= LK_SIMD_AVX512; p++) {
        const lk_kernels *k = lk_kernels_get((enum lk_simd)p);
        if (k) assert_string_equal(k->name, path_name((enum lk_simd)p));
    }
    assert_null(lk_kernels_get((enum lk_simd)7));
}

/* Every path has a gemm for each float and legacy type and the three q8 quantizers. */
static void test_every_path_has_the_legacy_kernels(void **state) {
    (void)state;
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++) {
        const lk_kernels *k = lk_kernels_get((enum lk_simd)p);
        if (!k) continue;
        for (size_t t = 0; t < LK_ARRAY_LEN(gemm_types); t++)
            if (!k->gemm[gemm_types[t]]) fail_msg("%s: no gemm for %s", k->name, lk_qtype(gemm_types[t])->name);
        assert_non_null(k->act[LK_Q8_0]);
        assert_non_null(k->act[LK_Q8_1]);
        assert_non_null(k->act[LK_Q8_K]);
    }
}

/* lk_kernels_force makes a path active and refuses a path this CPU lacks or that does not exist. */
static void test_force_switches_the_active_path(void **state) {
    (void)state;
    const lk_kernels *before = lk_kernels_active();
    assert_int_equal(lk_kernels_force(LK_SIMD_SCALAR), LK_OK);
    assert_ptr_equal(lk_kernels_active(), lk_kernels_get(LK_SIMD_SCALAR));
    for (int p = LK_SIMD_AVX2; p <= LK_SIMD_AVX512; p++) {
        if (lk_kernels_get((enum lk_simd)p)) {
            assert_int_equal(lk_kernels_force((enum lk_simd)p), LK_OK);
            assert_ptr_equal(lk_kernels_active(), lk_kernels_get((enum lk_simd)p));
        } else {
            assert_int_equal(lk_kernels_force((enum lk_simd)p), LK_EUNSUPPORTED);
        }
    }
    assert_int_equal(lk_kernels_force((enum lk_simd)5), LK_EUNSUPPORTED);
    /* restore */
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++)
        if (lk_kernels_get((enum lk_simd)p) == before) assert_int_equal(lk_kernels_force((enum lk_simd)p), LK_OK);
    assert_ptr_equal(lk_kernels_active(), before);
}

/* The name of the active path in a fresh process (this test program, run again with
 * --print-active-path) started with LLMKIT_SIMD=value (NULL: unset). */
static void active_name_with_env(const char *value, char *name, size_t size) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        if (value) setenv("LLMKIT_SIMD", value, 1);
        else unsetenv("LLMKIT_SIMD");
        execl("/proc/self/exe", "test_kernels", "--print-active-path", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t got;
    while (len + 1 < size && (got = read(fds[0], name + len, size - 1 - len)) > 0) len += (size_t)got;
    close(fds[0]);
    name[len] = '\0';
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Without LLMKIT_SIMD the best path the CPU has is active; with it, the path it names; a name
 * we do not know falls back to the best path. */
static void test_llmkit_simd_chooses_the_active_path(void **state) {
    (void)state;
    const char *best = lk_kernels_get(LK_SIMD_AVX512) ? "avx512" : lk_kernels_get(LK_SIMD_AVX2) ? "avx2" : "scalar";
    char name[32];
    active_name_with_env(NULL, name, sizeof name);
    assert_string_equal(name, best);
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++) {
        active_name_with_env(path_name((enum lk_simd)p), name, sizeof name);
        assert_string_equal(name, lk_kernels_get((enum lk_simd)p) ? path_name((enum lk_simd)p) : best);
    }
    active_name_with_env("sse9", name, sizeof name);
    assert_string_equal(name, best);
}

/* ---- activation types ---------------------------------------------------------------------- */

/* Each weight type is paired with the activation type ggml pairs it with. */
static void test_act_type_pairs_weights_with_ggml_activation_types(void **state) {
    (void)state;
    assert_int_equal(lk_act_type(LK_F32), LK_F32);
    assert_int_equal(lk_act_type(LK_F16), LK_F32);
    assert_int_equal(lk_act_type(LK_BF16), LK_F32);
    assert_int_equal(lk_act_type(LK_Q4_0), LK_Q8_0);
    assert_int_equal(lk_act_type(LK_Q5_0), LK_Q8_0);
    assert_int_equal(lk_act_type(LK_Q8_0), LK_Q8_0);
    assert_int_equal(lk_act_type(LK_Q4_1), LK_Q8_1);
    assert_int_equal(lk_act_type(LK_Q5_1), LK_Q8_1);
    assert_int_equal(lk_act_type(LK_Q4_K), LK_Q8_K);
    assert_int_equal(lk_act_type(LK_Q5_K), LK_Q8_K);
    assert_int_equal(lk_act_type(LK_Q6_K), LK_Q8_K);
}

/* An activation row is whole blocks of its type: 34 bytes per 32 for q8_0, 36 for q8_1, 292 per
 * 256 for q8_K, 4 bytes per element for float weights. */
static void test_act_row_size_is_whole_activation_blocks(void **state) {
    (void)state;
    assert_int_equal(lk_act_row_size(LK_F16, 4099), 4 * 4099);
    assert_int_equal(lk_act_row_size(LK_BF16, 1), 4);
    assert_int_equal(lk_act_row_size(LK_Q4_0, 4096), 128 * 34);
    assert_int_equal(lk_act_row_size(LK_Q8_0, 64), 2 * 34);
    assert_int_equal(lk_act_row_size(LK_Q5_1, 4096), 128 * 36);
    assert_int_equal(lk_act_row_size(LK_Q4_K, 4096), 16 * 292);
    assert_int_equal(lk_act_row_size(LK_Q6_K, 256), 292);
}

/* ---- scalar quantizers on hand-computed blocks --------------------------------------------- */

/* The 32 values of the hand-made legacy block: max |x| = 127, so d = 1 and q = roundf(x). */
static const float hand_x[32] = { 127.0f, -63.5f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 0.49f, 3.0f, -126.6f,
                                  10.2f, -10.7f, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4,
                                  -5, -6, -7, -8 };
/* roundf rounds halves away from zero. */
static const int8_t hand_q[32] = { 127, -64, 1, -1, 2, 3, -3, 0, 3, -127, 10, -11, 0, 0, 0, 0, 1, 2, 3,
                                   4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8 };

/* q8_0: d = max|x| / 127 stored as fp16, q = roundf(x / d), halves away from zero. */
static void test_scalar_q8_0_quantizes_a_hand_computed_block(void **state) {
    (void)state;
    lk_block_q8_0 b;
    lk_kernels_get(LK_SIMD_SCALAR)->act[LK_Q8_0](hand_x, &b, 32);
    assert_int_equal(b.d[0] | b.d[1] << 8, 0x3C00); /* 1.0 */
    assert_memory_equal(b.qs, hand_q, 32);
}

/* q8_1: as q8_0, plus s = d * sum(q) as fp16. */
static void test_scalar_q8_1_quantizes_a_hand_computed_block(void **state) {
    (void)state;
    lk_block_q8_1 b;
    lk_kernels_get(LK_SIMD_SCALAR)->act[LK_Q8_1](hand_x, &b, 32);
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += hand_q[j];
    assert_int_equal(sum, 127 - 64 + 1 - 1 + 2 + 3 - 3 + 3 - 127 + 10 - 11);
    assert_int_equal(b.d[0] | b.d[1] << 8, 0x3C00);
    assert_memory_equal(b.qs, hand_q, 32);
    assert_true(tu_half_at(b.s) == (float)sum);
}

/* q8_K: the element of largest magnitude (the first, on ties) sets iscale = -127 / max; q =
 * nearest_int(iscale * x), halves to even; d = 1 / iscale; bsums are sums of 16. Here max = 127
 * (element 3, before the -127 at element 9), so iscale = -1, d = -1 and q = rint(-x). */
static void test_scalar_q8_K_quantizes_a_hand_computed_block(void **state) {
    (void)state;
    float x[256];
    for (int j = 0; j < 256; j++) x[j] = (float)((j % 7) - 3) * 0.25f; /* -0.75 .. 0.75 */
    x[3] = 127.0f;
    x[9] = -127.0f;
    x[20] = 2.5f;  /* -2.5 -> -2 */
    x[21] = -3.5f; /* 3.5 -> 4 */
    x[22] = 0.5f;  /* -0.5 -> 0 */
    x[23] = 1.5f;  /* -1.5 -> -2 */
    lk_block_q8_K b;
    lk_kernels_get(LK_SIMD_SCALAR)->act[LK_Q8_K](x, &b, 256);
    assert_true(b.d == -1.0f);
    assert_int_equal(b.qs[3], -127);
    assert_int_equal(b.qs[9], 127);
    assert_int_equal(b.qs[20], -2);
    assert_int_equal(b.qs[21], 4);
    assert_int_equal(b.qs[22], 0);
    assert_int_equal(b.qs[23], -2);
    for (int j = 0; j < 256; j++) {
        if (j == 3 || j == 9 || (j >= 20 && j <= 23)) continue;
        /* -(k * 0.25) for k in -3..3: halves (+-0.5) to even (0), +-0.25 and +-0.75 to nearest */
        const int k = (j % 7) - 3;
        const int want = k == 0 ? 0 : k == 1 || k == -1 ? 0 : k == 2 || k == -2 ? 0 : (k == 3 ? -1 : 1);
        if (b.qs[j] != want) fail_msg("q[%d] = %d, want %d", j, b.qs[j], want);
    }
    for (int g = 0; g < 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++) sum += b.qs[16 * g + j];
        assert_int_equal(b.bsums[g], sum);
    }
}

/* An all-zero block quantizes to zeros, with d = 0 (and zero bsums for q8_K). */
static void test_scalar_quantizers_give_zero_blocks_for_zeros(void **state) {
    (void)state;
    float x[256] = { 0 };
    const lk_kernels *s = lk_kernels_get(LK_SIMD_SCALAR);
    lk_block_q8_0 b0;
    lk_block_q8_1 b1;
    lk_block_q8_K bk;
    memset(&b0, 0x77, sizeof b0);
    memset(&b1, 0x77, sizeof b1);
    memset(&bk, 0x77, sizeof bk);
    s->act[LK_Q8_0](x, &b0, 32);
    s->act[LK_Q8_1](x, &b1, 32);
    s->act[LK_Q8_K](x, &bk, 256);
    uint8_t zeros[sizeof bk] = { 0 };
    assert_memory_equal(&b0, zeros, sizeof b0);
    assert_memory_equal(&b1, zeros, sizeof b1);
    assert_memory_equal(&bk, zeros, sizeof bk);
}

/* ---- SIMD quantizers give the scalar bytes ------------------------------------------------- */

/* Rows of random data, rows with exact halves (x * 127 / max lands on k + 0.5), rows with
 * zero blocks and rows whose largest magnitude appears twice with both signs. */
static void fill_quantizer_row(float *x, int64_t n, int kind) {
    random_floats(x, n);
    if (kind == 1) {
        for (int64_t i = 0; i < n; i++) x[i] = (float)((int)(tu_rand64() % 255) - 127) + ((tu_rand64() & 1) ? 0.5f : 0.0f);
        for (int64_t i = 0; i < n; i += 32) x[i + (tu_rand64() % 32)] = (tu_rand64() & 1) ? 127.0f : -127.0f;
    } else if (kind == 2) {
        for (int64_t i = 0; i < n; i += 64) memset(x + i, 0, 32 * sizeof(float));
    } else if (kind == 3) {
        for (int64_t i = 0; i < n; i += 32) {
            x[i + 5] = 9.0f;
            x[i + 17] = -9.0f;
        }
    }
}

static void check_quantizer_bytes(enum lk_simd path, uint32_t atype) {
    const lk_kernels *k = path_or_skip(path);
    if (!k) return;
    const lk_kernels *s = lk_kernels_get(LK_SIMD_SCALAR);
    const int64_t lengths[] = { 256, 4096, 512 * 3 };
    for (size_t li = 0; li < LK_ARRAY_LEN(lengths); li++) {
        const int64_t n = lengths[li];
        const size_t bytes = lk_row_size(atype, n);
        float *x = malloc((size_t)n * sizeof(float));
        uint8_t *want = malloc(bytes), *got = malloc(bytes);
        for (int kind = 0; kind < 4; kind++) {
            for (int rep = 0; rep < 8; rep++) {
                fill_quantizer_row(x, n, kind);
                memset(want, 0x11, bytes);
                memset(got, 0x22, bytes);
                s->act[atype](x, want, n);
                k->act[atype](x, got, n);
                for (size_t i = 0; i < bytes; i++)
                    if (got[i] != want[i])
                        fail_msg("%s %s n=%lld data kind %d: byte %zu is %d, scalar gives %d", k->name,
                                 lk_qtype(atype)->name, (long long)n, kind, i, got[i], want[i]);
            }
        }
        free(x);
        free(want);
        free(got);
    }
}

static void test_avx2_q8_0_quantizer_gives_scalar_bytes(void **state) { (void)state; check_quantizer_bytes(LK_SIMD_AVX2, LK_Q8_0); }
static void test_avx2_q8_1_quantizer_gives_scalar_bytes(void **state) { (void)state; check_quantizer_bytes(LK_SIMD_AVX2, LK_Q8_1); }
static void test_avx2_q8_K_quantizer_gives_scalar_bytes(void **state) { (void)state; check_quantizer_bytes(LK_SIMD_AVX2, LK_Q8_K); }
static void test_avx512_q8_0_quantizer_gives_scalar_bytes(void **state) { (void)state; check_quantizer_bytes(LK_SIMD_AVX512, LK_Q8_0); }
static void test_avx512_q8_1_quantizer_gives_scalar_bytes(void **state) { (void)state; check_quantizer_bytes(LK_SIMD_AVX512, LK_Q8_1); }
static void test_avx512_q8_K_quantizer_gives_scalar_bytes(void **state) { (void)state; check_quantizer_bytes(LK_SIMD_AVX512, LK_Q8_K); }

/* ---- gemm ----------------------------------------------------------------------------------- */

/* The scalar gemm of each type equals the exact dot of the dequantized weights and activations
 * up to float rounding. */
static void check_scalar_gemm_against_double(uint32_t wtype) {
    const lk_kernels *s = lk_kernels_get(LK_SIMD_SCALAR);
    const shape shapes[] = { { 256, 3, 2 }, { 4096, 2, 2 }, { 96, 5, 3 } };
    for (size_t si = 0; si < LK_ARRAY_LEN(shapes); si++) {
        problem p = make_problem(wtype, shapes[si]);
        float *out = run_gemm(s, &p);
        for (int c = 0; c < p.sh.nc; c++) {
            for (int r = 0; r < p.sh.nr; r++) {
                double want, mag;
                reference_dot(&p, r, c, &want, &mag);
                const double got = out[(size_t)c * p.out_stride + r];
                if (fabs(got - want) > 1e-5 * mag + 1e-30)
                    fail_msg("scalar %s n=%lld row %d col %d: %.9g, exact %.9g (terms %.3g)",
                             lk_qtype(wtype)->name, (long long)p.sh.n, r, c, got, want, mag);
            }
        }
        free(out);
        free_problem(&p);
    }
}

static void test_scalar_f32_gemm_is_the_exact_dot(void **state) { (void)state; check_scalar_gemm_against_double(LK_F32); }
static void test_scalar_f16_gemm_is_the_exact_dot(void **state) { (void)state; check_scalar_gemm_against_double(LK_F16); }
static void test_scalar_bf16_gemm_is_the_exact_dot(void **state) { (void)state; check_scalar_gemm_against_double(LK_BF16); }
static void test_scalar_q4_0_gemm_is_the_exact_dot(void **state) { (void)state; check_scalar_gemm_against_double(LK_Q4_0); }
static void test_scalar_q4_1_gemm_is_the_exact_dot(void **state) { (void)state; check_scalar_gemm_against_double(LK_Q4_1); }
static void test_scalar_q5_0_gemm_is_the_exact_dot(void **state) { (void)state; check_scalar_gemm_against_double(LK_Q5_0); }
static void test_scalar_q5_1_gemm_is_the_exact_dot(void **state) { (void)state; check_scalar_gemm_against_double(LK_Q5_1); }
static void test_scalar_q8_0_gemm_is_the_exact_dot(void **state) { (void)state; check_scalar_gemm_against_double(LK_Q8_0); }

/* A SIMD gemm equals the scalar one (and the exact value) up to summation order, for every
 * shape. */
static void check_gemm_against_scalar(enum lk_simd path, uint32_t wtype) {
    const lk_kernels *k = path_or_skip(path);
    if (!k) return;
    const lk_kernels *s = lk_kernels_get(LK_SIMD_SCALAR);
    const int64_t *lengths = is_float_type(wtype) ? float_lengths : quant_lengths;
    const size_t n_lengths = is_float_type(wtype) ? LK_ARRAY_LEN(float_lengths) : LK_ARRAY_LEN(quant_lengths);
    for (size_t li = 0; li < n_lengths; li++) {
        for (size_t ri = 0; ri < LK_ARRAY_LEN(row_counts); ri++) {
            for (size_t ci = 0; ci < LK_ARRAY_LEN(col_counts); ci++) {
                problem p = make_problem(wtype, (shape){ lengths[li], row_counts[ri], col_counts[ci] });
                float *want = run_gemm(s, &p), *got = run_gemm(k, &p);
                for (int c = 0; c < p.sh.nc; c++) {
                    for (int r = 0; r < p.sh.nr; r++) {
                        const size_t i = (size_t)c * p.out_stride + r;
                        double exact, mag;
                        reference_dot(&p, r, c, &exact, &mag);
                        if (!(fabs((double)got[i] - want[i]) <= 1e-5 * mag + 1e-30) ||
                            !(fabs((double)got[i] - exact) <= 1e-5 * mag + 1e-30))
                            fail_msg("%s %s n=%lld nr=%d nc=%d, row %d col %d: %.9g, scalar %.9g, exact %.9g "
                                     "(terms %.3g)", k->name, lk_qtype(wtype)->name, (long long)p.sh.n, p.sh.nr,
                                     p.sh.nc, r, c, got[i], want[i], exact, mag);
                    }
                }
                free(want);
                free(got);
                free_problem(&p);
            }
        }
    }
}

typedef struct path_type {
    enum lk_simd path;
    uint32_t wtype;
} path_type;

static void test_gemm_matches_scalar(void **state) {
    const path_type *pt = *state;
    check_gemm_against_scalar(pt->path, pt->wtype);
}

/* A gemm with no rows or no columns writes nothing; with n = 0 every dot is 0. */
static void test_gemm_of_empty_shapes(void **state) {
    (void)state;
    for (int path = LK_SIMD_SCALAR; path <= LK_SIMD_AVX512; path++) {
        const lk_kernels *k = lk_kernels_get((enum lk_simd)path);
        if (!k) continue;
        for (size_t t = 0; t < LK_ARRAY_LEN(gemm_types); t++) {
            const uint32_t wt = gemm_types[t];
            uint8_t w[64] = { 0 }, a[64] = { 0 };
            float out[8];
            for (int i = 0; i < 8; i++) out[i] = 42.0f;
            k->gemm[wt](32, w, 34, 0, a, 36, 2, out, 4);
            k->gemm[wt](32, w, 34, 2, a, 36, 0, out, 4);
            for (int i = 0; i < 8; i++) assert_true(out[i] == 42.0f);
            k->gemm[wt](0, w, 34, 2, a, 36, 2, out, 4);
            assert_true(out[0] == 0.0f && out[1] == 0.0f && out[4] == 0.0f && out[5] == 0.0f);
            assert_true(out[2] == 42.0f && out[3] == 42.0f);
        }
    }
}

/* Threads calling gemm at once on disjoint outputs get what one thread gets. */
typedef struct job {
    const lk_kernels *k;
    const problem *p;
    int r0, nr;
    float *out;
} job;

static void *run_job(void *arg) {
    const job *j = arg;
    const problem *p = j->p;
    for (int rep = 0; rep < 4; rep++)
        j->k->gemm[p->wtype](p->sh.n, p->w + (size_t)j->r0 * p->w_stride, p->w_stride, j->nr, p->act,
                             p->act_stride, p->sh.nc, j->out + j->r0, p->out_stride);
    return NULL;
}

static void test_gemm_is_thread_safe(void **state) {
    (void)state;
    const lk_kernels *k = lk_kernels_active();
    for (size_t t = 0; t < LK_ARRAY_LEN(gemm_types); t++) {
        problem p = make_problem(gemm_types[t], (shape){ 1024, 64, 18 });
        float *alone = run_gemm(k, &p);
        float *together = calloc((size_t)p.sh.nc * p.out_stride, sizeof(float));
        pthread_t th[4];
        job jobs[4];
        for (int i = 0; i < 4; i++) {
            jobs[i] = (job){ k, &p, 16 * i, 16, together };
            assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
        }
        for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
        for (int c = 0; c < p.sh.nc; c++)
            for (int r = 0; r < p.sh.nr; r++)
                assert_true(together[(size_t)c * p.out_stride + r] == alone[(size_t)c * p.out_stride + r]);
        free(alone);
        free(together);
        free_problem(&p);
    }
}

int main(int argc, char **argv) {
    tu_seed(0x9E3779B97F4A7C15ull);
    if (argc == 2 && strcmp(argv[1], "--print-active-path") == 0) {
        lk_set_log_level(LK_LOG_OFF);
        fputs(lk_kernels_active()->name, stdout);
        return 0;
    }
    static path_type cases[2 * LK_ARRAY_LEN(gemm_types)];
    static char names[2 * LK_ARRAY_LEN(gemm_types)][64];
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_paths_are_named_and_scalar_always_exists),
        cmocka_unit_test(test_every_path_has_the_legacy_kernels),
        cmocka_unit_test(test_force_switches_the_active_path),
        cmocka_unit_test(test_llmkit_simd_chooses_the_active_path),
        cmocka_unit_test(test_act_type_pairs_weights_with_ggml_activation_types),
        cmocka_unit_test(test_act_row_size_is_whole_activation_blocks),
        cmocka_unit_test(test_scalar_q8_0_quantizes_a_hand_computed_block),
        cmocka_unit_test(test_scalar_q8_1_quantizes_a_hand_computed_block),
        cmocka_unit_test(test_scalar_q8_K_quantizes_a_hand_computed_block),
        cmocka_unit_test(test_scalar_quantizers_give_zero_blocks_for_zeros),
        cmocka_unit_test(test_avx2_q8_0_quantizer_gives_scalar_bytes),
        cmocka_unit_test(test_avx2_q8_1_quantizer_gives_scalar_bytes),
        cmocka_unit_test(test_avx2_q8_K_quantizer_gives_scalar_bytes),
        cmocka_unit_test(test_avx512_q8_0_quantizer_gives_scalar_bytes),
        cmocka_unit_test(test_avx512_q8_1_quantizer_gives_scalar_bytes),
        cmocka_unit_test(test_avx512_q8_K_quantizer_gives_scalar_bytes),
        cmocka_unit_test(test_scalar_f32_gemm_is_the_exact_dot),
        cmocka_unit_test(test_scalar_f16_gemm_is_the_exact_dot),
        cmocka_unit_test(test_scalar_bf16_gemm_is_the_exact_dot),
        cmocka_unit_test(test_scalar_q4_0_gemm_is_the_exact_dot),
        cmocka_unit_test(test_scalar_q4_1_gemm_is_the_exact_dot),
        cmocka_unit_test(test_scalar_q5_0_gemm_is_the_exact_dot),
        cmocka_unit_test(test_scalar_q5_1_gemm_is_the_exact_dot),
        cmocka_unit_test(test_scalar_q8_0_gemm_is_the_exact_dot),
        cmocka_unit_test(test_gemm_of_empty_shapes),
        cmocka_unit_test(test_gemm_is_thread_safe),
    };
    enum { N_FIXED = LK_ARRAY_LEN(fixed), N_CASES = LK_ARRAY_LEN(cases) };
    struct CMUnitTest tests[N_FIXED + N_CASES];
    memcpy(tests, fixed, sizeof fixed);
    for (int p = 0; p < 2; p++) {
        for (size_t t = 0; t < LK_ARRAY_LEN(gemm_types); t++) {
            const size_t i = (size_t)p * LK_ARRAY_LEN(gemm_types) + t;
            cases[i] = (path_type){ p == 0 ? LK_SIMD_AVX2 : LK_SIMD_AVX512, gemm_types[t] };
            snprintf(names[i], sizeof names[i], "test_%s_%s_gemm_matches_scalar", path_name(cases[i].path),
                     lk_qtype(gemm_types[t])->name);
            tests[N_FIXED + i] = (struct CMUnitTest){ names[i], test_gemm_matches_scalar, NULL, NULL, &cases[i] };
        }
    }
    return _cmocka_run_group_tests("kernels", tests, N_FIXED + N_CASES, NULL, NULL);
}

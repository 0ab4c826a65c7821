/* test_attn.c — the attention kernels over an f16 KV cache: every path this CPU has computes
 * softmax(scale q·K)·V over a set of cells as a double-precision computation on the same f16
 * values does, and f32_to_f16 rounds as lk_fp32_to_fp16. */
#include "testutil.h"
#include "engine/quant/kernels.h"

#include <math.h>

enum { HD = 80, N_CELLS = 300, STRIDE = 3 * HD + 16 };

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

/* attn_f16 over every other cell (a sequence's cells need not be contiguous), one head slice
 * at an offset inside each cell row, against double precision. */
static void test_attention_matches_double(void **state) {
    (void)state;
    uint64_t seed = 7;
    uint16_t *k = malloc(sizeof(uint16_t) * N_CELLS * STRIDE), *v = malloc(sizeof(uint16_t) * N_CELLS * STRIDE);
    for (int i = 0; i < N_CELLS * STRIDE; i++) {
        k[i] = lk_fp32_to_fp16(frand(&seed));
        v[i] = lk_fp32_to_fp16(frand(&seed));
    }
    float q[HD], out[HD], scratch[N_CELLS];
    for (int i = 0; i < HD; i++) q[i] = 3 * frand(&seed);
    int cells[N_CELLS], nc = 0;
    for (int c = 0; c < N_CELLS; c += 2) cells[nc++] = c;
    const size_t off = HD + 8; /* the head's slice */
    float scale = 1.0f / sqrtf((float)HD);
    double ref[HD] = {0}, sc[N_CELLS], mx = -INFINITY, sum = 0;
    for (int j = 0; j < nc; j++) {
        double s = 0;
        for (int i = 0; i < HD; i++) s += (double)lk_fp16_to_fp32(k[(size_t)cells[j] * STRIDE + off + i]) * q[i];
        sc[j] = s * scale;
        mx = fmax(mx, sc[j]);
    }
    for (int j = 0; j < nc; j++) sum += (sc[j] = exp(sc[j] - mx));
    for (int j = 0; j < nc; j++)
        for (int i = 0; i < HD; i++) ref[i] += sc[j] / sum * lk_fp16_to_fp32(v[(size_t)cells[j] * STRIDE + off + i]);
    for (int p = LK_SIMD_SCALAR; p <= LK_SIMD_AVX512; p++) {
        const lk_kernels *K = lk_kernels_get(p);
        if (!K) {
            print_message("skip: path %d not on this CPU\n", p);
            continue;
        }
        K->attn_f16(q, k + off, v + off, STRIDE, cells, nc, HD, scale, scratch, out);
        for (int i = 0; i < HD; i++)
            if (fabs(out[i] - ref[i]) > 1e-5) fail_msg("%s: out[%d] = %g, expected %g", K->name, i, out[i], ref[i]);
    }
    free(k);
    free(v);
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
        cmocka_unit_test(test_f32_to_f16_rounds_like_reference),
    };
    return cmocka_run_group_tests_name("attn", tests, NULL, NULL);
}

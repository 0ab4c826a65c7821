/* test_attn.c — the attention kernels over an f16 KV cache: every path this CPU has computes
 * softmax(scale q·K)·V over a set of cells as a double-precision computation on the same f16
 * values does, and f32_to_f16 rounds as lk_fp32_to_fp16. */
#include "testutil.h"
#include "engine/quant/kernels.h"

#include <math.h>

enum { N_CELLS = 300 };

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
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
    double *ref = calloc((size_t)G * hd, sizeof(double)), *sc = malloc(sizeof(double) * N_CELLS);
    for (int i = 0; i < G * hd; i++) q[i] = 3 * frand(&seed);
    int cells[N_CELLS], nc = 0;
    for (int c = 0; c < N_CELLS; c += 2) cells[nc++] = c;
    float scale = 1.0f / sqrtf((float)hd);
    for (int g = 0; g < G; g++) {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < nc; j++) {
            double s = 0;
            for (int i = 0; i < hd; i++) s += (double)lk_fp16_to_fp32(k[(size_t)cells[j] * stride + off + i]) * q[g * hd + i];
            sc[j] = s * scale;
            mx = fmax(mx, sc[j]);
        }
        for (int j = 0; j < nc; j++) sum += (sc[j] = exp(sc[j] - mx));
        for (int j = 0; j < nc; j++)
            for (int i = 0; i < hd; i++) ref[g * hd + i] += sc[j] / sum * lk_fp16_to_fp32(v[(size_t)cells[j] * stride + off + i]);
    }
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
    free(k); free(v); free(q); free(out); free(scratch); free(ref); free(sc);
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

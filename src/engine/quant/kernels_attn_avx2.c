/* kernels_attn_avx2.c — attention kernels over an f16 KV cache with F16C + FMA (see kernels.h). */
#include "engine/quant/kernels.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#include <immintrin.h>
#include "base/base.h"

static float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static float dot_f16(const uint16_t *k, const float *q, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 k0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i)));
        __m256 k1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 8)));
        a0 = _mm256_fmadd_ps(k0, _mm256_loadu_ps(q + i), a0);
        a1 = _mm256_fmadd_ps(k1, _mm256_loadu_ps(q + i + 8), a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; i < n; i++) s += lk_fp16_to_fp32(k[i]) * q[i];
    return s;
}

static void axpy_f16(float *y, float a, const uint16_t *v, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, x, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * lk_fp16_to_fp32(v[i]);
}

static void f32_to_f16(const float *x, uint16_t *y, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = lk_fp32_to_fp16(x[i]);
}

#include "engine/quant/kernels_attn_impl.h"

void lk_register_attn_avx2(lk_kernels *k) {
    k->f32_to_f16 = f32_to_f16;
    k->attn_f16 = attn_f16;
    k->attn_f16_block = attn_f16_block; /* token by token, with this path's attn_f16 */
}
#else
void lk_register_attn_avx2(lk_kernels *k) { (void)k; }
#endif

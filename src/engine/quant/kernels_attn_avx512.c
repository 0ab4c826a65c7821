/* kernels_attn_avx512.c — attention kernels over an f16 KV cache with AVX-512 (see kernels.h). */
#include "engine/quant/kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>
#include "base/base.h"

static float dot_f16(const uint16_t *k, const float *q, int n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 k0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k + i)));
        __m512 k1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k + i + 16)));
        a0 = _mm512_fmadd_ps(k0, _mm512_loadu_ps(q + i), a0);
        a1 = _mm512_fmadd_ps(k1, _mm512_loadu_ps(q + i + 16), a1);
    }
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k + i))), _mm512_loadu_ps(q + i), a0);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++) s += lk_fp16_to_fp32(k[i]) * q[i];
    return s;
}

static void axpy_f16(float *y, float a, const uint16_t *v, int n) {
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(v + i)));
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, x, _mm512_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * lk_fp16_to_fp32(v[i]);
}

static void f32_to_f16(const float *x, uint16_t *y, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = lk_fp32_to_fp16(x[i]);
}

#define LK_ATTN_GROUPED
#include "engine/quant/kernels_attn_impl.h"

/* The g heads of a KV group together: each cell's K and V slice is widened from f16 once and
 * used for every head (GQA models share a KV head among 4 to 8 query heads). Scores for all
 * heads first, then a softmax per head, then V accumulated in registers for up to 16 x 16
 * floats of output at a time. Head sizes that are not a multiple of 16 (or above 256) take the
 * one-head loop. */
static void attn_f16(const float *q, int g, const uint16_t *k, const uint16_t *v, size_t stride,
                     const int *cells, int nc, int hd, float scale, float *scratch, float *out) {
    if (hd % 16 || hd > 256) {
        for (int i = 0; i < g; i++)
            attn_head(q + (size_t)i * hd, k, v, stride, cells, nc, hd, scale, scratch, out + (size_t)i * hd);
        return;
    }
    const int nb = hd / 16;
    for (int j = 0; j < nc; j++) {
        const uint16_t *kr = k + (size_t)cells[j] * stride;
        __m512 kf[16];
        for (int b = 0; b < nb; b++) kf[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kr + 16 * b)));
        for (int i = 0; i < g; i++) {
            const float *qi = q + (size_t)i * hd;
            __m512 acc = _mm512_mul_ps(kf[0], _mm512_loadu_ps(qi));
            for (int b = 1; b < nb; b++) acc = _mm512_fmadd_ps(kf[b], _mm512_loadu_ps(qi + 16 * b), acc);
            scratch[(size_t)i * nc + j] = _mm512_reduce_add_ps(acc) * scale;
        }
    }
    for (int i = 0; i < g; i++) { /* softmax per head, normalised in place */
        float *s = scratch + (size_t)i * nc, mx = -INFINITY, sum = 0;
        for (int j = 0; j < nc; j++) mx = s[j] > mx ? s[j] : mx;
        for (int j = 0; j < nc; j++) sum += (s[j] = expf(s[j] - mx));
        float inv = 1.0f / sum;
        for (int j = 0; j < nc; j++) s[j] *= inv;
    }
    const int per = 16 / nb > 0 ? 16 / nb : 1; /* heads whose output fits 16 registers */
    for (int i0 = 0; i0 < g; i0 += per) {
        const int gi = g - i0 < per ? g - i0 : per;
        __m512 acc[16];
        for (int a = 0; a < gi * nb; a++) acc[a] = _mm512_setzero_ps();
        for (int j = 0; j < nc; j++) {
            const uint16_t *vr = v + (size_t)cells[j] * stride;
            __m512 vf[16];
            for (int b = 0; b < nb; b++) vf[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vr + 16 * b)));
            for (int i = 0; i < gi; i++) {
                const __m512 p = _mm512_set1_ps(scratch[(size_t)(i0 + i) * nc + j]);
                for (int b = 0; b < nb; b++) acc[i * nb + b] = _mm512_fmadd_ps(p, vf[b], acc[i * nb + b]);
            }
        }
        for (int i = 0; i < gi; i++)
            for (int b = 0; b < nb; b++) _mm512_storeu_ps(out + (size_t)(i0 + i) * hd + 16 * b, acc[i * nb + b]);
    }
}

void lk_register_attn_avx512(lk_kernels *k) {
    k->f32_to_f16 = f32_to_f16;
    k->attn_f16 = attn_f16;
}
#else
void lk_register_attn_avx512(lk_kernels *k) { (void)k; }
#endif

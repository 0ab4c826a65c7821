/* kernels_attn_impl.h — the attention kernel over an f16 cache, shared by the scalar, AVX2 and
 * AVX-512 files: each defines its own dot_f16 and axpy_f16, then includes this, so that the
 * loop below is compiled with (and inlines) that path's instructions. */
#ifndef LK_KERNELS_ATTN_IMPL_H
#define LK_KERNELS_ATTN_IMPL_H

#include <math.h>
#include <string.h>

/* One head, two passes: the scores and their maximum, then the weighted sum of V. */
static void attn_head(const float *q, const uint16_t *k, const uint16_t *v, size_t stride,
                      const int *cells, int nc, int hd, float scale, float *scratch, float *out) {
    float mx = -INFINITY;
    for (int j = 0; j < nc; j++) {
        float s = dot_f16(k + (size_t)cells[j] * stride, q, hd) * scale;
        scratch[j] = s;
        if (s > mx) mx = s;
    }
    float sum = 0;
    for (int j = 0; j < nc; j++) sum += (scratch[j] = expf(scratch[j] - mx));
    memset(out, 0, (size_t)hd * sizeof(float));
    float inv = 1.0f / sum;
    for (int j = 0; j < nc; j++) axpy_f16(out, scratch[j] * inv, v + (size_t)cells[j] * stride, hd);
}

#ifndef LK_ATTN_GROUPED
/* The g heads one after another (a path with a grouped kernel defines LK_ATTN_GROUPED). */
static void attn_f16(const float *q, int g, const uint16_t *k, const uint16_t *v, size_t stride,
                     const int *cells, int nc, int hd, float scale, float *scratch, float *out) {
    for (int i = 0; i < g; i++)
        attn_head(q + (size_t)i * hd, k, v, stride, cells, nc, hd, scale, scratch, out + (size_t)i * hd);
}

/* A block of tokens one token after another: the reference for attn_f16_block (a path with a
 * block kernel defines LK_ATTN_GROUPED and its own). */
static void attn_f16_block(const float *q, size_t q_stride, int nt, int g, const uint16_t *k,
                           const uint16_t *v, size_t stride, const int *cells, const int *nc, int hd,
                           float scale, float *scratch, float *out, size_t out_stride) {
    for (int t = 0; t < nt; t++)
        attn_f16(q + (size_t)t * q_stride, g, k, v, stride, cells, nc[t], hd, scale, scratch,
                 out + (size_t)t * out_stride);
}
#endif

#endif

/* kernels_attn.c — the scalar attention kernels over an f16 KV cache: q·k, y += a·v, and the
 * conversion of new K/V rows to f16 (see kernels.h). */
#include "engine/quant/kernels.h"

#include <math.h>
#include <string.h>
#include "base/base.h"

static float dot_f16(const uint16_t *k, const float *q, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += lk_fp16_to_fp32(k[i]) * q[i];
    return s;
}

static void axpy_f16(float *y, float a, const uint16_t *v, int n) {
    for (int i = 0; i < n; i++) y[i] += a * lk_fp16_to_fp32(v[i]);
}

static void f32_to_f16(const float *x, uint16_t *y, int n) {
    for (int i = 0; i < n; i++) y[i] = lk_fp32_to_fp16(x[i]);
}

/* Two passes: the scores and their maximum, then the weighted sum of V. */
static void attn_f16(const float *q, const uint16_t *k, const uint16_t *v, size_t stride,
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

void lk_register_attn_scalar(lk_kernels *k) {
    k->dot_f16 = dot_f16;
    k->axpy_f16 = axpy_f16;
    k->f32_to_f16 = f32_to_f16;
    k->attn_f16 = attn_f16;
}

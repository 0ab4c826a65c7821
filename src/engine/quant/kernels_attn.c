/* kernels_attn.c — the scalar attention kernels over an f16 KV cache: q·k, y += a·v, the
 * conversion of new K/V rows to f16, and attention for a block of tokens one token at a time
 * (see kernels.h). */
#include "engine/quant/kernels.h"
#include "base/base.h"

#include <math.h>

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

static void exp_f32(const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] = expf(x[i]);
}

#include "engine/quant/kernels_attn_impl.h"

void lk_register_attn_scalar(lk_kernels *k) {
    k->f32_to_f16 = f32_to_f16;
    k->attn_f16 = attn_f16;
    k->attn_f16_block = attn_f16_block;
    k->exp_f32 = exp_f32;
}

/* quant_ref.h — the scalar reference kernels behind quant.c's dispatch (internal to quant/).
 *
 * Each type has a dequantizer and a quantizer that work on nb whole blocks (for the float types
 * a block is one element). quant_ref.c holds the float types and the 32-element legacy types,
 * quant_k.c the K-quants. The small helpers below are shared by both: reading and writing the
 * little-endian fp16 fields of a block, and rounding to a clamped integer without undefined
 * behaviour on NaN or huge values. */
#ifndef LK_QUANT_REF_H
#define LK_QUANT_REF_H

#include "base/base.h"
#include "engine/quant/quant.h"
#include <math.h>

typedef void quant_dequantize_fn(const void *src, float *dst, int64_t nb);
typedef void quant_quantize_fn(const float *src, void *dst, int64_t nb);

quant_dequantize_fn quant_dequantize_f32, quant_dequantize_f16, quant_dequantize_bf16,
    quant_dequantize_q8_0, quant_dequantize_q4_0, quant_dequantize_q4_1, quant_dequantize_q5_0,
    quant_dequantize_q5_1, quant_dequantize_q4_K, quant_dequantize_q5_K, quant_dequantize_q6_K;

quant_quantize_fn quant_quantize_f32, quant_quantize_f16, quant_quantize_bf16,
    quant_quantize_q8_0, quant_quantize_q4_0, quant_quantize_q4_1, quant_quantize_q5_0,
    quant_quantize_q5_1, quant_quantize_q4_K, quant_quantize_q5_K, quant_quantize_q6_K;

/* The fp16 value stored little-endian at p. */
static inline float quant_half(const uint8_t p[2]) {
    return lk_fp16_to_fp32((uint16_t)(p[0] | p[1] << 8));
}

/* Store f as a little-endian fp16 at p (rounded to nearest even). */
static inline void quant_put_half(uint8_t p[2], float f) {
    uint16_t h = lk_fp32_to_fp16(f);
    p[0] = (uint8_t)(h & 0xFF);
    p[1] = (uint8_t)(h >> 8);
}

/* v rounded to the nearest integer (ties to even, as ggml's nearest_int) and clamped to
 * [lo, hi]; NaN gives lo. */
static inline int quant_round(float v, int lo, int hi) {
    if (!(v >= (float)lo)) return lo;
    if (v >= (float)hi) return hi;
    return (int)rintf(v);
}

#endif

/* quant_ref.c — scalar reference kernels for the float types and the 32-element legacy types.
 *
 * F32, F16 and BF16 are one element per "block". Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 hold 32
 * elements behind one fp16 scale (and, for the _1 types, an fp16 minimum); their layouts are in
 * quant.h. Dequantizing does the same float operations as ggml's dequantize_row_* in the same
 * order, so the floats are bit-for-bit ggml's; quantizing follows ggml's quantize_row_*_ref
 * (the same scale, the same rounding) so the bytes are ggml's too, except that NaN and other
 * out-of-range values are clamped instead of overflowing a cast.
 *
 * An fp16 scale has 11 significant bits and a quant at most 8, so every product q * d here is
 * exact in float; the only rounding is the add of the min in the _1 types. The result is thus
 * the same whether or not the compiler fuses q * d + m into an fma (SIMD kernels may fuse). */
#include "engine/quant/quant_ref.h"
#include <float.h>

/* ---- float types -------------------------------------------------------------------------- */

void quant_dequantize_f32(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void quant_quantize_f32(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void quant_dequantize_f16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = quant_half(p + 2 * i);
}

void quant_quantize_f16(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) quant_put_half(p + 2 * i, src[i]);
}

void quant_dequantize_bf16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = lk_bf16_to_fp32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
}

void quant_quantize_bf16(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = lk_fp32_to_bf16(src[i]);
        p[2 * i] = (uint8_t)(h & 0xFF);
        p[2 * i + 1] = (uint8_t)(h >> 8);
    }
}

/* ---- helpers for the legacy quantizers ---------------------------------------------------- */

/* The element of x[0..31] with the largest magnitude, with its sign (the first one on ties). */
static float signed_absmax(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < LK_QK; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, float *min, float *max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < LK_QK; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

/* t truncated toward zero and clamped to [0, hi], as ggml's MIN(hi, (int8_t)t) is for the
 * t >= 0 it sees; NaN gives 0. */
static int trunc_clamp(float t, int hi) {
    if (!(t > 0.0f)) return 0;
    if (t >= (float)hi) return hi;
    return (int)t;
}

/* roundf (ties away from zero) clamped to [-127, 127]; NaN gives 0. */
static int round_q8(float v) {
    if (!(v == v)) return 0;
    if (v <= -127.0f) return -127;
    if (v >= 127.0f) return 127;
    return (int)roundf(v);
}

/* Pack 32 values of 0..15: element j in the low nibble of qs[j], element j + 16 in the high. */
static void pack_nibbles(uint8_t qs[LK_QK / 2], const uint8_t q[LK_QK]) {
    for (int j = 0; j < LK_QK / 2; j++) qs[j] = (uint8_t)((q[j] & 0x0F) | (q[j + LK_QK / 2] & 0x0F) << 4);
}

/* Bit 4 of each of 32 values, element e's in bit e of a little-endian uint32. */
static void pack_fifth_bits(uint8_t qh[4], const uint8_t q[LK_QK]) {
    uint32_t h = 0;
    for (int e = 0; e < LK_QK; e++) h |= (uint32_t)((q[e] >> 4) & 1) << e;
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(h >> (8 * k));
}

/* The 4-bit part of element e of a legacy block. */
static int nibble(const uint8_t qs[LK_QK / 2], int e) {
    return e < LK_QK / 2 ? qs[e] & 0x0F : qs[e - LK_QK / 2] >> 4;
}

static int fifth_bit(const uint8_t qh[4], int e) {
    return (qh[e / 8] >> (e % 8)) & 1;
}

/* ---- Q8_0: x = q * d, q in -127..127 ------------------------------------------------------ */

void quant_dequantize_q8_0(const void *src, float *dst, int64_t nb) {
    const lk_block_q8_0 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += LK_QK) {
        const float d = quant_half(b->d);
        for (int j = 0; j < LK_QK; j++) dst[j] = (float)b->qs[j] * d;
    }
}

void quant_quantize_q8_0(const float *src, void *dst, int64_t nb) {
    lk_block_q8_0 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += LK_QK) {
        float amax = 0.0f;
        for (int j = 0; j < LK_QK; j++) amax = LK_MAX(amax, fabsf(src[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_put_half(b->d, d);
        for (int j = 0; j < LK_QK; j++) b->qs[j] = (int8_t)round_q8(src[j] * id);
    }
}

/* ---- Q4_0: x = (q - 8) * d, q in 0..15; the largest magnitude maps to q = 0 --------------- */

void quant_dequantize_q4_0(const void *src, float *dst, int64_t nb) {
    const lk_block_q4_0 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += LK_QK) {
        const float d = quant_half(b->d);
        for (int e = 0; e < LK_QK; e++) dst[e] = (float)(nibble(b->qs, e) - 8) * d;
    }
}

void quant_quantize_q4_0(const float *src, void *dst, int64_t nb) {
    lk_block_q4_0 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += LK_QK) {
        const float d = signed_absmax(src) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_put_half(b->d, d);
        uint8_t q[LK_QK];
        for (int e = 0; e < LK_QK; e++) {
            const float t = src[e] * id;
            q[e] = (uint8_t)trunc_clamp(t + 8.5f, 15);
        }
        pack_nibbles(b->qs, q);
    }
}

/* ---- Q4_1: x = q * d + m, q in 0..15 ------------------------------------------------------ */

void quant_dequantize_q4_1(const void *src, float *dst, int64_t nb) {
    const lk_block_q4_1 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += LK_QK) {
        const float d = quant_half(b->d);
        const float m = quant_half(b->m);
        for (int e = 0; e < LK_QK; e++) {
            const float p = (float)nibble(b->qs, e) * d;
            dst[e] = p + m;
        }
    }
}

void quant_quantize_q4_1(const float *src, void *dst, int64_t nb) {
    lk_block_q4_1 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += LK_QK) {
        float min, max;
        min_max(src, &min, &max);
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_put_half(b->d, d);
        quant_put_half(b->m, min);
        uint8_t q[LK_QK];
        for (int e = 0; e < LK_QK; e++) {
            const float t = (src[e] - min) * id;
            q[e] = (uint8_t)trunc_clamp(t + 0.5f, 15);
        }
        pack_nibbles(b->qs, q);
    }
}

/* ---- Q5_0: x = (q - 16) * d, q in 0..31 --------------------------------------------------- */

void quant_dequantize_q5_0(const void *src, float *dst, int64_t nb) {
    const lk_block_q5_0 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += LK_QK) {
        const float d = quant_half(b->d);
        for (int e = 0; e < LK_QK; e++) {
            const int q = nibble(b->qs, e) | fifth_bit(b->qh, e) << 4;
            dst[e] = (float)(q - 16) * d;
        }
    }
}

void quant_quantize_q5_0(const float *src, void *dst, int64_t nb) {
    lk_block_q5_0 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += LK_QK) {
        const float d = signed_absmax(src) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_put_half(b->d, d);
        uint8_t q[LK_QK];
        for (int e = 0; e < LK_QK; e++) {
            const float t = src[e] * id;
            q[e] = (uint8_t)trunc_clamp(t + 16.5f, 31);
        }
        pack_nibbles(b->qs, q);
        pack_fifth_bits(b->qh, q);
    }
}

/* ---- Q5_1: x = q * d + m, q in 0..31 ------------------------------------------------------ */

void quant_dequantize_q5_1(const void *src, float *dst, int64_t nb) {
    const lk_block_q5_1 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += LK_QK) {
        const float d = quant_half(b->d);
        const float m = quant_half(b->m);
        for (int e = 0; e < LK_QK; e++) {
            const int q = nibble(b->qs, e) | fifth_bit(b->qh, e) << 4;
            const float p = (float)q * d;
            dst[e] = p + m;
        }
    }
}

void quant_quantize_q5_1(const float *src, void *dst, int64_t nb) {
    lk_block_q5_1 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += LK_QK) {
        float min, max;
        min_max(src, &min, &max);
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_put_half(b->d, d);
        quant_put_half(b->m, min);
        uint8_t q[LK_QK];
        for (int e = 0; e < LK_QK; e++) {
            const float t = (src[e] - min) * id;
            q[e] = (uint8_t)trunc_clamp(t + 0.5f, 31);
        }
        pack_nibbles(b->qs, q);
        pack_fifth_bits(b->qh, q);
    }
}

/* kernels_scalar.c — the scalar reference kernels: activation quantizers (q8_0, q8_1, q8_K) and
 * the gemm of the float and legacy weight types (kernels.h).
 *
 * The quantizers compute what ggml's quantize_row_q8_0_ref, _q8_1_ref and _q8_K_ref compute,
 * byte for byte, on finite input: q8_0 and q8_1 scale by 127 / max|x| and round half away from
 * zero (roundf); q8_K scales by -127 / (the element of largest magnitude, with its sign) and
 * rounds half to even (ggml's nearest_int). Where ggml's result would be undefined (NaN, or a
 * scale so small its inverse overflows) a product that is NaN gives 0 and the others are clamped
 * to [-127, 127]; q8_K's bsums are zeroed for an all-zero block, which ggml leaves unset.
 * The SIMD quantizers give the same bytes.
 *
 * The gemm kernels are ggml's scalar vec_dot loops: for the quantized types an exact integer
 * sum per block, then sum += (d_w * d_a) * isum in float (plus m_w * s_a for the _1 types,
 * which use the block's stored s = d_a * sum(q_a)); for the float types float products summed
 * in float over runs of 32 elements and the runs in double, as lk_vec_dot does. */
#include "engine/quant/kernels.h"
#include "engine/quant/quant_ref.h"

/* ---- activation quantizers ----------------------------------------------------------------- */

/* roundf(v) clamped to [-127, 127]; NaN gives 0. */
static int round_away(float v) {
    if (!(v == v)) return 0;
    if (v <= -127.0f) return -127;
    if (v >= 127.0f) return 127;
    return (int)roundf(v);
}

/* rintf(v) (half to even) clamped to [-127, 127]; NaN gives 0. */
static int round_even(float v) {
    if (!(v == v)) return 0;
    if (v <= -127.0f) return -127;
    if (v >= 127.0f) return 127;
    return (int)rintf(v);
}

/* The largest |x[j]| of n values; NaN is never the largest. */
static float abs_max(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
    return amax;
}

static void act_q8_0(const float *x, void *dst, int64_t n) {
    lk_block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / LK_QK; i++, y++, x += LK_QK) {
        const float d = abs_max(x, LK_QK) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        quant_put_half(y->d, d);
        for (int j = 0; j < LK_QK; j++) y->qs[j] = (int8_t)round_away(x[j] * id);
    }
}

static void act_q8_1(const float *x, void *dst, int64_t n) {
    lk_block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / LK_QK; i++, y++, x += LK_QK) {
        const float d = abs_max(x, LK_QK) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < LK_QK; j++) {
            y->qs[j] = (int8_t)round_away(x[j] * id);
            sum += y->qs[j];
        }
        quant_put_half(y->d, d);
        quant_put_half(y->s, (float)sum * d);
    }
}

static void act_q8_K(const float *x, void *dst, int64_t n) {
    lk_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / LK_QK_K; i++, y++, x += LK_QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < LK_QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(y, 0, sizeof *y);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < LK_QK_K; j++) y->qs[j] = (int8_t)round_even(iscale * x[j]);
        for (int g = 0; g < LK_QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y->qs[16 * g + j];
            y->bsums[g] = (int16_t)sum;
        }
        y->d = 1.0f / iscale;
    }
}

/* F32 activations are the floats themselves. */
static void act_f32(const float *x, void *dst, int64_t n) {
    memcpy(dst, x, (size_t)n * sizeof(float));
}

/* ---- float weights -------------------------------------------------------------------------- */

static float f16_at(const uint8_t *p, int64_t i) {
    return lk_fp16_to_fp32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
}

static float bf16_at(const uint8_t *p, int64_t i) {
    return lk_bf16_to_fp32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
}

static float f32_at(const uint8_t *p, int64_t i) {
    float f;
    memcpy(&f, p + 4 * i, 4);
    return f;
}

typedef float float_at_fn(const uint8_t *p, int64_t i);

/* Dot of a float-type row with f32 activations: runs of 32 in float, runs summed in double. */
static float dot_float(float_at_fn *at, const uint8_t *w, const float *a, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; i += 32) {
        const int64_t end = LK_MIN(n, i + 32);
        float s = 0;
        for (int64_t k = i; k < end; k++) s += at(w, k) * a[k];
        sum += s;
    }
    return (float)sum;
}

static void gemm_float(float_at_fn *at, int64_t n, const void *w, size_t w_stride, int nr,
                       const void *act, size_t act_stride, int nc, float *out, size_t out_stride) {
    for (int c = 0; c < nc; c++) {
        const float *a = (const float *)((const char *)act + (size_t)c * act_stride);
        for (int r = 0; r < nr; r++)
            out[(size_t)c * out_stride + r] = dot_float(at, (const uint8_t *)w + (size_t)r * w_stride, a, n);
    }
}

static void gemm_f32(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                     size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_float(f32_at, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_f16(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                     size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_float(f16_at, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_bf16(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_float(bf16_at, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

/* ---- legacy weights ------------------------------------------------------------------------ */

/* The 4-bit part of element e of a legacy block. */
static int nibble(const uint8_t qs[LK_QK / 2], int e) {
    return e < LK_QK / 2 ? qs[e] & 0x0F : qs[e - LK_QK / 2] >> 4;
}

static int fifth_bit(const uint8_t qh[4], int e) {
    return (qh[e / 8] >> (e % 8)) & 1;
}

static float dot_q4_0(const void *row, const lk_block_q8_0 *a, int64_t nb) {
    const lk_block_q4_0 *x = row;
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int e = 0; e < LK_QK; e++) isum += (nibble(x[i].qs, e) - 8) * a[i].qs[e];
        sum += (quant_half(x[i].d) * quant_half(a[i].d)) * (float)isum;
    }
    return sum;
}

static float dot_q5_0(const void *row, const lk_block_q8_0 *a, int64_t nb) {
    const lk_block_q5_0 *x = row;
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int e = 0; e < LK_QK; e++)
            isum += ((nibble(x[i].qs, e) | fifth_bit(x[i].qh, e) << 4) - 16) * a[i].qs[e];
        sum += (quant_half(x[i].d) * quant_half(a[i].d)) * (float)isum;
    }
    return sum;
}

static float dot_q8_0(const void *row, const lk_block_q8_0 *a, int64_t nb) {
    const lk_block_q8_0 *x = row;
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int e = 0; e < LK_QK; e++) isum += x[i].qs[e] * a[i].qs[e];
        sum += (quant_half(x[i].d) * quant_half(a[i].d)) * (float)isum;
    }
    return sum;
}

static float dot_q4_1(const void *row, const lk_block_q8_1 *a, int64_t nb) {
    const lk_block_q4_1 *x = row;
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int e = 0; e < LK_QK; e++) isum += nibble(x[i].qs, e) * a[i].qs[e];
        sum += (quant_half(x[i].d) * quant_half(a[i].d)) * (float)isum + quant_half(x[i].m) * quant_half(a[i].s);
    }
    return sum;
}

static float dot_q5_1(const void *row, const lk_block_q8_1 *a, int64_t nb) {
    const lk_block_q5_1 *x = row;
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int e = 0; e < LK_QK; e++)
            isum += (nibble(x[i].qs, e) | fifth_bit(x[i].qh, e) << 4) * a[i].qs[e];
        sum += (quant_half(x[i].d) * quant_half(a[i].d)) * (float)isum + quant_half(x[i].m) * quant_half(a[i].s);
    }
    return sum;
}

typedef float dot_q8_0_fn(const void *row, const lk_block_q8_0 *a, int64_t nb);
typedef float dot_q8_1_fn(const void *row, const lk_block_q8_1 *a, int64_t nb);

static void gemm_with_q8_0(dot_q8_0_fn *dot, int64_t n, const void *w, size_t w_stride, int nr,
                           const void *act, size_t act_stride, int nc, float *out, size_t out_stride) {
    for (int c = 0; c < nc; c++) {
        const lk_block_q8_0 *a = (const lk_block_q8_0 *)((const char *)act + (size_t)c * act_stride);
        for (int r = 0; r < nr; r++)
            out[(size_t)c * out_stride + r] = dot((const char *)w + (size_t)r * w_stride, a, n / LK_QK);
    }
}

static void gemm_with_q8_1(dot_q8_1_fn *dot, int64_t n, const void *w, size_t w_stride, int nr,
                           const void *act, size_t act_stride, int nc, float *out, size_t out_stride) {
    for (int c = 0; c < nc; c++) {
        const lk_block_q8_1 *a = (const lk_block_q8_1 *)((const char *)act + (size_t)c * act_stride);
        for (int r = 0; r < nr; r++)
            out[(size_t)c * out_stride + r] = dot((const char *)w + (size_t)r * w_stride, a, n / LK_QK);
    }
}

static void gemm_q4_0(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_with_q8_0(dot_q4_0, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_q5_0(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_with_q8_0(dot_q5_0, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_q8_0(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_with_q8_0(dot_q8_0, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_q4_1(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_with_q8_1(dot_q4_1, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_q5_1(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_with_q8_1(dot_q5_1, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

void lk_register_scalar(lk_kernels *k) {
    k->act[LK_F32] = act_f32;
    k->act[LK_Q8_0] = act_q8_0;
    k->act[LK_Q8_1] = act_q8_1;
    k->act[LK_Q8_K] = act_q8_K;
    k->gemm[LK_F32] = gemm_f32;
    k->gemm[LK_F16] = gemm_f16;
    k->gemm[LK_BF16] = gemm_bf16;
    k->gemm[LK_Q4_0] = gemm_q4_0;
    k->gemm[LK_Q4_1] = gemm_q4_1;
    k->gemm[LK_Q5_0] = gemm_q5_0;
    k->gemm[LK_Q5_1] = gemm_q5_1;
    k->gemm[LK_Q8_0] = gemm_q8_0;
}

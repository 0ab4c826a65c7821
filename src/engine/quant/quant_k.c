/* quant_k.c — scalar reference kernels for the K-quants Q4_K, Q5_K and Q6_K.
 *
 * A K-quant super-block holds 256 elements in sub-blocks that each have a small integer scale
 * (and, for Q4_K and Q5_K, a min), themselves scaled by fp16 super-block factors; quant.h gives
 * the bit layouts. Dequantizing repeats ggml's float operations in ggml's order, so results are
 * bit-for-bit ggml's: Q4_K/Q5_K form d * sc and dmin * m as floats and then d1 * q - m1; Q6_K
 * forms (d * sc) * (q - 32). Every product is exact in float (an 11-bit fp16 mantissa times
 * integers of at most 6 + 5 bits, or |sc * (q - 32)| <= 4096 for Q6_K), so the one rounding is
 * the subtraction of m1, with or without fma.
 *
 * Quantizing follows the ideas of ggml's reference quantizers, written afresh:
 *  - Q4_K/Q5_K: for each sub-block of 32, try a range of candidate steps, measured from the
 *    best min found so far; for each, round the values to levels and fit scale and min by
 *    weighted least squares (weights |x| plus the sub-block's rms, the min kept <= 0), keeping
 *    the fit with the least weighted squared error (make_qkx2_quants). The scales and mins are then stored as 6-bit multiples of d and dmin,
 *    and every value is rounded again against the scale and min actually stored.
 *  - Q6_K: for each sub-block of 16, try steps around the one that maps the largest magnitude
 *    to -32, keeping the one whose least-squares scale (weights x^2) explains the most of the
 *    data (make_qx_quants); the 16 scales become int8 multiples of d, and values are rounded
 *    again against the stored scale. */
#include "engine/quant/quant_ref.h"

#define SUB_K 32 /* elements in a Q4_K/Q5_K sub-block */
#define SUB_6 16 /* elements in a Q6_K sub-block */

/* ---- packed 6-bit scales and mins of Q4_K and Q5_K ---------------------------------------- */

static void unpack_scale_min(const uint8_t s[12], int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

static void pack_scale_min(uint8_t s[12], const uint8_t sc[8], const uint8_t m[8]) {
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= sc[j];
            s[j + 4] |= m[j];
        } else {
            s[j + 4] = (uint8_t)((sc[j] & 0x0F) | (m[j] & 0x0F) << 4);
            s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            s[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

/* ---- dequantization ----------------------------------------------------------------------- */

/* Sub-block j (32 elements) of a Q4_K or Q5_K block: 4-bit parts from qs, fifth bits (bit j of
 * qh[l]) when qh is not NULL. */
static void dequantize_sub_k(const uint8_t d_half[2], const uint8_t dmin_half[2],
                             const uint8_t scales[12], const uint8_t *qs, const uint8_t *qh,
                             int j, float *dst) {
    int sc, m;
    unpack_scale_min(scales, j, &sc, &m);
    const float d1 = quant_half(d_half) * (float)sc;
    const float m1 = quant_half(dmin_half) * (float)m;
    const uint8_t *q = qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int l = 0; l < SUB_K; l++) {
        int v = (q[l] >> shift) & 0x0F;
        if (qh) v |= ((qh[l] >> j) & 1) << 4;
        const float p = d1 * (float)v;
        dst[l] = p - m1;
    }
}

void quant_dequantize_q4_K(const void *src, float *dst, int64_t nb) {
    const lk_block_q4_K *b = src;
    for (int64_t i = 0; i < nb; i++, b++)
        for (int j = 0; j < LK_QK_K / SUB_K; j++, dst += SUB_K)
            dequantize_sub_k(b->d, b->dmin, b->scales, b->qs, NULL, j, dst);
}

void quant_dequantize_q5_K(const void *src, float *dst, int64_t nb) {
    const lk_block_q5_K *b = src;
    for (int64_t i = 0; i < nb; i++, b++)
        for (int j = 0; j < LK_QK_K / SUB_K; j++, dst += SUB_K)
            dequantize_sub_k(b->d, b->dmin, b->scales, b->qs, b->qh, j, dst);
}

/* The 6-bit quant (0..63) of element e of a Q6_K block. */
static int q6_level(const lk_block_q6_K *b, int e) {
    const int h = e / 128, g = (e % 128) / 32, l = e % 32;
    const int low = (b->ql[64 * h + l + 32 * (g & 1)] >> (4 * (g >> 1))) & 0x0F;
    const int high = (b->qh[32 * h + l] >> (2 * g)) & 3;
    return low | high << 4;
}

static void q6_set_level(lk_block_q6_K *b, int e, int q) {
    const int h = e / 128, g = (e % 128) / 32, l = e % 32;
    b->ql[64 * h + l + 32 * (g & 1)] |= (uint8_t)((q & 0x0F) << (4 * (g >> 1)));
    b->qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * g));
}

void quant_dequantize_q6_K(const void *src, float *dst, int64_t nb) {
    const lk_block_q6_K *b = src;
    for (int64_t i = 0; i < nb; i++, b++) {
        const float d = quant_half(b->d);
        for (int j = 0; j < LK_QK_K / SUB_6; j++) {
            const float ds = d * (float)b->scales[j];
            for (int l = 0; l < SUB_6; l++) {
                const int e = SUB_6 * j + l;
                dst[e] = ds * (float)(q6_level(b, e) - 32);
            }
        }
        dst += LK_QK_K;
    }
}

/* ---- Q4_K / Q5_K quantization ------------------------------------------------------------- */

/* Round x[l] - lo to levels 0..nmax of step 1/iscale. */
static void levels_from(const float *x, int nmax, float iscale, float lo, uint8_t *L) {
    for (int l = 0; l < SUB_K; l++) L[l] = (uint8_t)quant_round(iscale * (x[l] - lo), 0, nmax);
}

/* Weighted squared error of x ~ scale * L + lo. */
static double fit_error(const float *x, const float *w, const uint8_t *L, float scale, float lo) {
    double err = 0;
    for (int l = 0; l < SUB_K; l++) {
        const double diff = (double)scale * L[l] + lo - x[l];
        err += w[l] * diff * diff;
    }
    return err;
}

/* Scale and min (returned as -min >= 0) of one sub-block of 32 for levels 0..nmax. Start from
 * the plain step (max - min) / nmax; then try steps (max - lo) / (nmax + rmin + rdelta * k),
 * k = 0..nstep, where lo is the best min found so far (so the grid follows the fit as it
 * improves): round to levels, refit scale and min by weighted least squares (min <= 0), and
 * keep the fit if its weighted squared error is the least yet. */
static float search_scale_min(const float *x, const float *w, int nmax, float rmin, float rdelta,
                              int nstep, float *the_min) {
    float lo = x[0], hi = x[0];
    double sum_w = 0, sum_x = 0;
    for (int l = 0; l < SUB_K; l++) {
        if (x[l] < lo) lo = x[l];
        if (x[l] > hi) hi = x[l];
        sum_w += w[l];
        sum_x += (double)w[l] * x[l];
    }
    if (lo > 0) lo = 0;
    if (!(hi > lo)) { /* constant (or NaN) sub-block: the min alone represents it */
        *the_min = lo == lo ? -lo : 0.0f;
        return 0.0f;
    }
    uint8_t L[SUB_K];
    float best_scale = (hi - lo) / (float)nmax;
    levels_from(x, nmax, (float)nmax / (hi - lo), lo, L);
    double best_err = fit_error(x, w, L, best_scale, lo);
    for (int k = 0; k <= nstep; k++) {
        levels_from(x, nmax, (rmin + rdelta * (float)k + (float)nmax) / (hi - lo), lo, L);
        double sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int l = 0; l < SUB_K; l++) {
            sum_l += (double)w[l] * L[l];
            sum_l2 += (double)w[l] * L[l] * L[l];
            sum_xl += (double)w[l] * L[l] * x[l];
        }
        const double det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        double scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        double min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (min > 0) { /* the min must not be positive: refit the scale alone */
            min = 0;
            scale = sum_xl / sum_l2;
        }
        const double err = fit_error(x, w, L, (float)scale, (float)min);
        if (err < best_err) {
            best_err = err;
            best_scale = (float)scale;
            lo = (float)min;
        }
    }
    *the_min = -lo;
    return best_scale;
}

/* Quantize one super-block of 256 to levels 0..nmax with 6-bit scales and mins; fills the
 * fp16 factors, the packed scales and the levels L[256]. */
static void quantize_super_k(const float *x, int nmax, float rmin, float rdelta, int nstep,
                             uint8_t d_half[2], uint8_t dmin_half[2], uint8_t scales[12],
                             uint8_t L[LK_QK_K]) {
    float sub_scale[8], sub_min[8], w[SUB_K];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + SUB_K * j;
        float sum_x2 = 0;
        for (int l = 0; l < SUB_K; l++) sum_x2 += xs[l] * xs[l];
        const float rms = sqrtf(sum_x2 / SUB_K);
        for (int l = 0; l < SUB_K; l++) w[l] = rms + fabsf(xs[l]);
        sub_scale[j] = search_scale_min(xs, w, nmax, rmin, rdelta, nstep, &sub_min[j]);
        if (sub_scale[j] > max_scale) max_scale = sub_scale[j];
        if (sub_min[j] > max_min) max_min = sub_min[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)quant_round(inv_scale * sub_scale[j], 0, 63);
        lm[j] = (uint8_t)quant_round(inv_min * sub_min[j], 0, 63);
    }
    pack_scale_min(scales, ls, lm);
    quant_put_half(d_half, max_scale / 63.0f);
    quant_put_half(dmin_half, max_min / 63.0f);

    /* round again against the scale and min as stored */
    const float d = quant_half(d_half), dmin = quant_half(dmin_half);
    for (int j = 0; j < 8; j++) {
        const float d1 = d * (float)ls[j];
        const float m1 = dmin * (float)lm[j];
        for (int l = 0; l < SUB_K; l++) {
            const int e = SUB_K * j + l;
            L[e] = d1 != 0.0f ? (uint8_t)quant_round((x[e] + m1) / d1, 0, nmax) : 0;
        }
    }
}

void quant_quantize_q4_K(const float *src, void *dst, int64_t nb) {
    lk_block_q4_K *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += LK_QK_K) {
        uint8_t L[LK_QK_K];
        quantize_super_k(src, 15, -1.0f, 0.1f, 20, b->d, b->dmin, b->scales, L);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                b->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

void quant_quantize_q5_K(const float *src, void *dst, int64_t nb) {
    lk_block_q5_K *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += LK_QK_K) {
        uint8_t L[LK_QK_K];
        quantize_super_k(src, 31, -0.5f, 0.1f, 15, b->d, b->dmin, b->scales, L);
        memset(b->qh, 0, sizeof b->qh);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                b->qs[32 * c + l] = (uint8_t)((L[64 * c + l] & 0x0F) | (L[64 * c + 32 + l] & 0x0F) << 4);
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 32; l++)
                b->qh[l] |= (uint8_t)(((L[32 * j + l] >> 4) & 1) << j);
    }
}

/* ---- Q6_K quantization -------------------------------------------------------------------- */

/* Scale of one sub-block of 16 for levels -32..31: steps that map the largest magnitude near
 * -32 ((32 + k / 10) for k = -9..9), each with its least-squares scale under weights x^2; the
 * one explaining the most (largest sumlx^2 / suml2) wins. 0 for an all-zero sub-block. */
static float search_scale_q6(const float *x) {
    float amax = 0, max = 0;
    for (int l = 0; l < SUB_6; l++) {
        if (fabsf(x[l]) > amax) {
            amax = fabsf(x[l]);
            max = x[l];
        }
    }
    if (!(amax >= 1e-15f)) return 0.0f;
    float best_scale = 0;
    double best = 0;
    for (int k = -9; k <= 9; k++) {
        const float iscale = -(32.0f + 0.1f * (float)k) / max;
        double sumlx = 0, suml2 = 0;
        for (int l = 0; l < SUB_6; l++) {
            const int q = quant_round(iscale * x[l], -32, 31);
            const double w = (double)x[l] * x[l];
            sumlx += w * x[l] * q;
            suml2 += w * q * q;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            best = sumlx * sumlx / suml2;
            best_scale = (float)(sumlx / suml2);
        }
    }
    return best_scale;
}

void quant_quantize_q6_K(const float *src, void *dst, int64_t nb) {
    lk_block_q6_K *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += LK_QK_K) {
        memset(b, 0, sizeof *b);
        float sub_scale[LK_QK_K / SUB_6];
        float max_scale = 0, max_abs = 0;
        for (int j = 0; j < LK_QK_K / SUB_6; j++) {
            sub_scale[j] = search_scale_q6(src + SUB_6 * j);
            if (fabsf(sub_scale[j]) > max_abs) {
                max_abs = fabsf(sub_scale[j]);
                max_scale = sub_scale[j];
            }
        }
        if (!(max_abs >= 1e-15f)) continue; /* all zero: d = 0, every level 0 */
        const float iscale = -128.0f / max_scale;
        quant_put_half(b->d, 1.0f / iscale);
        for (int j = 0; j < LK_QK_K / SUB_6; j++)
            b->scales[j] = (int8_t)quant_round(iscale * sub_scale[j], -128, 127);

        /* round again against the scale as stored */
        const float d = quant_half(b->d);
        for (int j = 0; j < LK_QK_K / SUB_6; j++) {
            const float ds = d * (float)b->scales[j];
            for (int l = 0; l < SUB_6; l++) {
                const int e = SUB_6 * j + l;
                const int q = ds != 0.0f ? quant_round(src[e] / ds, -32, 31) : 0;
                q6_set_level(b, e, q + 32);
            }
        }
    }
}

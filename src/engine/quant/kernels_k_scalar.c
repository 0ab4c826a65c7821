/* kernels_k_scalar.c — the scalar reference gemm for the K-quant weights Q4_K, Q5_K and Q6_K
 * against Q8_K activations.
 *
 * This is the kernel the SIMD paths are tested against, so it is written for clarity: for each
 * weight row and activation row, each super-block of 256 is worked in integers (the sum of
 * q * a over each sub-block, times the sub-block's integer scale), and only the super-block
 * total is turned into a float, times the fp16 factor of the weights and the float d of the
 * activations. The mins of Q4_K/Q5_K (x = d*sc*q - dmin*m) and the -32 offset of Q6_K are
 * applied through the activation block's bsums (sums of 16 activations), as ggml does:
 *
 *     sum_l (d*sc*q_l - dmin*m) * a_l = d * sc * sum_l q_l a_l - dmin * m * sum_l a_l.
 *
 * The integer sums are exact (|sum| < 2^31 for every block), so the only roundings are the few
 * float operations per super-block and the float accumulation over super-blocks.
 * Activation blocks are read with memcpy: a row may start at any byte (see lk_gemm_fn). */
#include "engine/quant/kernels.h"
#include "engine/quant/quant_ref.h"

/* Activation block i of a row. */
static const char *act_block(const void *act, int64_t i) {
    return (const char *)act + i * (int64_t)sizeof(lk_block_q8_K);
}

/* The float d of an activation block. */
static float act_scale(const char *a) {
    float d;
    memcpy(&d, a + offsetof(lk_block_q8_K, d), sizeof d);
    return d;
}

/* The 16 bsums of an activation block. */
static void act_bsums(const char *a, int16_t bsums[16]) {
    memcpy(bsums, a + offsetof(lk_block_q8_K, bsums), 16 * sizeof(int16_t));
}

/* The activation quants of a block (int8, alignment 1, so the pointer is always valid). */
static const int8_t *act_quants(const char *a) {
    return (const int8_t *)(a + offsetof(lk_block_q8_K, qs));
}

/* The 6-bit scales and mins of the 8 sub-blocks of a Q4_K/Q5_K block (layout in quant.h). */
static void unpack_scales(const uint8_t s[12], int sc[8], int m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0x0F) | (s[j] >> 6) << 4;
        m[j + 4] = (s[j + 8] >> 4) | (s[j + 4] >> 6) << 4;
    }
}

/* Dot product of n / 256 Q4_K (qh == NULL) or Q5_K blocks with Q8_K blocks. The Q4_K and Q5_K
 * blocks differ only in where qs sits and in qh, so both go through here. */
static float dot_q45_K(const uint8_t *d_half, const uint8_t *dmin_half, const uint8_t *scales,
                       const uint8_t *qs, const uint8_t *qh, const char *a) {
    int sc[8], m[8];
    int16_t bsums[16];
    unpack_scales(scales, sc, m);
    act_bsums(a, bsums);
    const int8_t *aq = act_quants(a);
    int32_t sum_q = 0, sum_m = 0;
    for (int j = 0; j < 8; j++) {
        const uint8_t *q = qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        int32_t s = 0;
        for (int l = 0; l < 32; l++) {
            int v = (q[l] >> shift) & 0x0F;
            if (qh) v |= ((qh[l] >> j) & 1) << 4;
            s += v * aq[32 * j + l];
        }
        sum_q += sc[j] * s;
        sum_m += m[j] * (bsums[2 * j] + bsums[2 * j + 1]);
    }
    const float da = act_scale(a);
    return quant_half(d_half) * da * (float)sum_q - quant_half(dmin_half) * da * (float)sum_m;
}

static float row_q4_K(const void *w, const void *act, int64_t nb) {
    const lk_block_q4_K *b = w;
    float sum = 0;
    for (int64_t i = 0; i < nb; i++)
        sum += dot_q45_K(b[i].d, b[i].dmin, b[i].scales, b[i].qs, NULL, act_block(act, i));
    return sum;
}

static float row_q5_K(const void *w, const void *act, int64_t nb) {
    const lk_block_q5_K *b = w;
    float sum = 0;
    for (int64_t i = 0; i < nb; i++)
        sum += dot_q45_K(b[i].d, b[i].dmin, b[i].scales, b[i].qs, b[i].qh, act_block(act, i));
    return sum;
}

/* Q6_K: q = (low 4 bits | high 2 bits << 4) in 0..63, x = d * scale * (q - 32); the -32 is
 * applied as -32 * scale * bsum per sub-block of 16. */
static float row_q6_K(const void *w, const void *act, int64_t nb) {
    const lk_block_q6_K *b = w;
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        const char *a = act_block(act, i);
        int16_t bsums[16];
        act_bsums(a, bsums);
        const int8_t *aq = act_quants(a);
        int32_t sum_q = 0, sum_off = 0;
        for (int j = 0; j < 16; j++) { /* sub-block j: elements 16j .. 16j + 15 */
            int32_t s = 0;
            for (int l = 0; l < 16; l++) {
                const int e = 16 * j + l;
                const int h = e / 128, g = (e % 128) / 32, k = e % 32;
                const int low = (b[i].ql[64 * h + k + 32 * (g & 1)] >> (4 * (g >> 1))) & 0x0F;
                const int high = (b[i].qh[32 * h + k] >> (2 * g)) & 3;
                s += (low | high << 4) * aq[e];
            }
            sum_q += b[i].scales[j] * s;
            sum_off += b[i].scales[j] * bsums[j];
        }
        sum += quant_half(b[i].d) * act_scale(a) * (float)(sum_q - 32 * sum_off);
    }
    return sum;
}

typedef float row_fn(const void *w, const void *act, int64_t nb);

static void gemm_rows(row_fn *row, int64_t n, const void *w, size_t w_stride, int nr,
                      const void *act, size_t act_stride, int nc, float *out, size_t out_stride) {
    const int64_t nb = n / LK_QK_K;
    for (int c = 0; c < nc; c++) {
        const char *a = (const char *)act + (size_t)c * act_stride;
        for (int r = 0; r < nr; r++)
            out[(size_t)c * out_stride + r] = row((const char *)w + (size_t)r * w_stride, a, nb);
    }
}

static void gemm_q4_K(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_rows(row_q4_K, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_q5_K(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_rows(row_q5_K, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_q6_K(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_rows(row_q6_K, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

void lk_register_k_scalar(lk_kernels *k) {
    k->gemm[LK_Q4_K] = gemm_q4_K;
    k->gemm[LK_Q5_K] = gemm_q5_K;
    k->gemm[LK_Q6_K] = gemm_q6_K;
}

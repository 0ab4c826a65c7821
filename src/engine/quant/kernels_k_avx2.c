/* kernels_k_avx2.c — AVX2 gemm for the K-quant weights Q4_K, Q5_K and Q6_K against Q8_K
 * activations, for CPUs without AVX-512.
 *
 * As ggml's AVX2 dot products do: vpmaddubsw multiplies unsigned weight levels (0..15, 0..31 or
 * 0..63) by signed activations and adds pairs into int16 (at most 2 * 63 * 127, no saturation),
 * vpmaddwd multiplies those by the int16 sub-block scale and adds pairs into int32, and the
 * super-block's int32 sum is scaled in float. Mins (Q4_K, Q5_K) and the -32 of Q6_K are taken
 * out with the activation bsums, as in the scalar kernel.
 *
 * Each weight super-block is decoded once into levels (8 registers of 32, in element order) and
 * 8 matching scale registers, then used for up to 4 activation columns, so prompt processing
 * reads and decodes each weight row once per 4 columns. The weights are prefetched a little
 * ahead. Results differ from the scalar kernel only by float summation order. */
#include "engine/quant/kernels.h"

#if defined(__x86_64__)
#include "engine/quant/quant_ref.h"
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline)) /* compiled per type, as constants */

#define ACT_D 0                           /* offsets in a Q8_K block */
#define ACT_QS 4
#define ACT_BSUMS (4 + LK_QK_K)
#define ACT_BLOCK ((int64_t)sizeof(lk_block_q8_K))

#define COLS 4         /* activation columns per pass over a weight row */
#define AHEAD 4096     /* bytes of weights prefetched (to L2) ahead */

INLINE uint32_t load_u32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

INLINE uint64_t load_u64(const void *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

INLINE float load_f32(const void *p) {
    float v;
    memcpy(&v, p, 4);
    return v;
}

INLINE __m256i load256(const void *p) {
    return _mm256_loadu_si256((const __m256i *)p);
}

/* The 6-bit scales (bytes of *sc) and mins (bytes of *m) of the 8 sub-blocks of a Q4_K/Q5_K
 * block, from its 12 packed bytes (layout in quant.h). */
INLINE void unpack_scales(const uint8_t *s, uint64_t *sc, uint64_t *m) {
    const uint64_t lo = load_u64(s);
    const uint32_t hi = load_u32(s + 8);
    const uint64_t low6 = lo & 0x3F3F3F3F3F3F3F3Full;                 /* sc0..3, m0..3 */
    const uint64_t top2 = (lo >> 6) & 0x0303030303030303ull;          /* top bits of 4..7 */
    const uint64_t nib = (hi & 0x0F0F0F0Fu) | (uint64_t)((hi >> 4) & 0x0F0F0F0Fu) << 32;
    const uint64_t high6 = nib | top2 << 4;                            /* sc4..7, m4..7 */
    *sc = (low6 & 0xFFFFFFFFull) | high6 << 32;
    *m = (low6 >> 32) | (high6 & 0xFFFFFFFF00000000ull);
}

/* Bit b of each byte of x moved to bit 4, the other bits cleared. The 16-bit shifts carry bits
 * across the two bytes of a word only into bits the mask clears. */
INLINE __m256i bit_to_4(__m256i x, int b) {
    const __m256i moved = b <= 4 ? _mm256_slli_epi16(x, 4 - b) : _mm256_srli_epi16(x, b - 4);
    return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

/* int16 scale k of the 8 in the 128-bit lanes of s, in all 16 lanes. */
INLINE __m256i splat16(__m256i s, int k) {
    return _mm256_shuffle_epi8(s, _mm256_set1_epi16((short)(2 * k | (2 * k + 1) << 8)));
}

/* One super-block of one weight row, decoded. */
typedef struct row_block {
    __m256i lv[8];     /* levels of elements 32k .. 32k + 31 */
    __m256i sc[8];     /* int16 scale of each element pair of lv[k] */
    __m256i mins;      /* int16 factors of the 16 bsums (Q4_K/Q5_K: m_j twice; Q6_K: sc_j) */
    float d, dmin;     /* the sums of lv * a * sc scale by d, those of mins * bsums by -dmin */
} row_block;

INLINE void decode_q45_K(int type, const uint8_t *w, row_block *b) {
    const uint8_t *qs = w + (type == LK_Q5_K ? 48 : 16);
    const __m256i qh = type == LK_Q5_K ? load256(w + 16) : _mm256_setzero_si256();
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    #pragma GCC unroll 16
    for (int c = 0; c < 4; c++) { /* elements 64c .. 64c + 63 */
        const __m256i q = load256(qs + 32 * c);
        __m256i lo = _mm256_and_si256(q, low4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
        if (type == LK_Q5_K) {
            lo = _mm256_or_si256(lo, bit_to_4(qh, 2 * c));
            hi = _mm256_or_si256(hi, bit_to_4(qh, 2 * c + 1));
        }
        b->lv[2 * c] = lo;
        b->lv[2 * c + 1] = hi;
    }
    uint64_t sc, m;
    unpack_scales(w + 4, &sc, &m);
    const __m128i sc8 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)); /* sc0..sc7 */
    const __m256i sc16 = _mm256_broadcastsi128_si256(sc8);
    #pragma GCC unroll 16
    for (int k = 0; k < 8; k++) b->sc[k] = splat16(sc16, k);
    const __m128i m16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m)); /* m0..m7 */
    b->mins = _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
    const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128((int)load_u32(w)));
    b->d = _mm_cvtss_f32(dd);
    b->dmin = _mm_cvtss_f32(_mm_movehdup_ps(dd));
}

/* Q6_K: in each half h of 128, elements 32g + l take the low (g < 2) or high (g >= 2) nibble of
 * ql[64h + l + 32 (g & 1)] and bits 2g, 2g + 1 of qh[32h + l] on top; the level is q - 32, the
 * -32 being applied with 32 * d * sc_j * bsums[j]. */
INLINE void decode_q6_K(const uint8_t *w, row_block *b) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    #pragma GCC unroll 16
    for (int h = 0; h < 2; h++) {
        const __m256i ql0 = load256(w + 64 * h), ql1 = load256(w + 64 * h + 32);
        const __m256i qh = load256(w + 128 + 32 * h);
        const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4);
        const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2);
        const __m256i h2 = _mm256_and_si256(qh, _mm256_set1_epi8(0x30));
        const __m256i h3 = _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8((char)0xC0)), 2);
        b->lv[4 * h] = _mm256_or_si256(_mm256_and_si256(ql0, low4), h0);
        b->lv[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), h1);
        b->lv[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), h2);
        b->lv[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4), h3);
    }
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)(w + 192));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc8); /* sc0..sc15 */
    #pragma GCC unroll 16
    for (int k = 0; k < 8; k++) { /* lv[k] is sub-blocks 2k (lower 16) and 2k + 1 (upper 16) */
        const __m256i lane = k < 4 ? _mm256_permute2x128_si256(sc16, sc16, 0x00)
                                   : _mm256_permute2x128_si256(sc16, sc16, 0x11);
        const __m256i lower = splat16(lane, (2 * k) % 8), upper = splat16(lane, (2 * k + 1) % 8);
        b->sc[k] = _mm256_blend_epi32(lower, upper, 0xF0);
    }
    b->mins = sc16;
    b->d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(w[208] | w[209] << 8)));
    b->dmin = 32 * b->d;
}

INLINE void decode_block(int type, const uint8_t *w, row_block *b) {
    if (type == LK_Q6_K)
        decode_q6_K(w, b);
    else
        decode_q45_K(type, w, b);
}

/* acc += d * da * sum(sc * lv . a) - dmin * da * sum(mins * bsums) for the decoded block b
 * against the activation block ab. */
INLINE void dot_block(const row_block *b, const char *ab, __m256 *acc) {
    const int8_t *aq = (const int8_t *)(ab + ACT_QS);
    __m256i sum = _mm256_setzero_si256();
    #pragma GCC unroll 16
    for (int k = 0; k < 8; k++) {
        const __m256i p = _mm256_maddubs_epi16(b->lv[k], load256(aq + 32 * k));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(p, b->sc[k]));
    }
    const __m256i msum = _mm256_madd_epi16(load256(ab + ACT_BSUMS), b->mins);
    const float da = load_f32(ab + ACT_D);
    *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(b->d * da), *acc);
    *acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(b->dmin * da), *acc);
}

INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* out[c * out_stride] = dot(weight row w, activation row c) for c < cols (1..COLS). */
INLINE void row_dots(int type, int cols, const uint8_t *w, const char *act, size_t act_stride,
                     int64_t nb, float *out, size_t out_stride) {
    const size_t bsize = type == LK_Q6_K ? sizeof(lk_block_q6_K)
                         : type == LK_Q5_K ? sizeof(lk_block_q5_K) : sizeof(lk_block_q4_K);
    __m256 acc[COLS];
    #pragma GCC unroll 16
    for (int c = 0; c < cols; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, w += bsize) {
        for (size_t off = 0; off < bsize; off += 64)
            _mm_prefetch((const char *)w + AHEAD + off, _MM_HINT_T1);
        row_block b;
        decode_block(type, w, &b);
        #pragma GCC unroll 16
        for (int c = 0; c < cols; c++)
            dot_block(&b, act + (size_t)c * act_stride + i * ACT_BLOCK, &acc[c]);
    }
    #pragma GCC unroll 16
    for (int c = 0; c < cols; c++) out[(size_t)c * out_stride] = hsum(acc[c]);
}

INLINE void gemm_k(int type, int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                   size_t act_stride, int nc, float *out, size_t out_stride) {
    const int64_t nb = n / LK_QK_K;
    for (int c = 0; c < nc; c += COLS) {
        const char *a = (const char *)act + (size_t)c * act_stride;
        float *o = out + (size_t)c * out_stride;
        for (int r = 0; r < nr; r++) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * w_stride;
            switch (nc - c < COLS ? nc - c : COLS) {
            case 1: row_dots(type, 1, wr, a, act_stride, nb, o + r, out_stride); break;
            case 2: row_dots(type, 2, wr, a, act_stride, nb, o + r, out_stride); break;
            case 3: row_dots(type, 3, wr, a, act_stride, nb, o + r, out_stride); break;
            default: row_dots(type, 4, wr, a, act_stride, nb, o + r, out_stride); break;
            }
        }
    }
}

static void gemm_q4_K(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_k(LK_Q4_K, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_q5_K(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_k(LK_Q5_K, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

static void gemm_q6_K(int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                      size_t act_stride, int nc, float *out, size_t out_stride) {
    gemm_k(LK_Q6_K, n, w, w_stride, nr, act, act_stride, nc, out, out_stride);
}

void lk_register_k_avx2(lk_kernels *k) {
    k->gemm[LK_Q4_K] = gemm_q4_K;
    k->gemm[LK_Q5_K] = gemm_q5_K;
    k->gemm[LK_Q6_K] = gemm_q6_K;
}

#else

void lk_register_k_avx2(lk_kernels *k) {
    (void)k;
}

#endif

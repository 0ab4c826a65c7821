/* kernels_avx2.c — AVX2 kernels (with FMA and F16C): q8 activation quantizers and the gemm of
 * the float and legacy weight types. Same results as kernels_scalar.c up to float summation
 * order; the quantizers give the same bytes.
 *
 * Quantized weights meet 8-bit activations in vpmaddubsw (unsigned bytes times signed bytes,
 * pairs added into 16 bits) and vpmaddwd (pairs of those into 32 bits), so each 32-bit lane
 * sums four products, as vpdpbusd would. The 4- and 5-bit weights are unsigned as stored;
 * their offset (8 or 16) is taken back exactly from the 16-bit pair sums, as vpmaddubsw of the
 * offset with the activation bytes (once per activation block and tile). Q8_0 weights are
 * signed: the activation takes the sign of the weight and the weight its magnitude (at most
 * 128, so a pair sums to at most 2 * 128 * 127 and never saturates). Per block the integer
 * sum is converted to float and added with weight d_w * d_a; the _1 types add m_w * s_a.
 *
 * The gemm works in tiles of 4 rows x 2 columns (16 registers allow no more): each weight block
 * is decoded once per tile and used for both columns, each activation block once per tile and
 * used for the 4 rows. A group of 4 rows goes past every column before the next group, so its
 * blocks stay in cache. Scales are gathered 8 blocks at a time, just ahead of the blocks that
 * use them, and the rows two groups ahead are prefetched. Float weights are widened to f32 in
 * registers (F16C for f16, a shift for bf16) in the same kind of tiles. Nothing here
 * allocates or writes a global. */
#include "engine/quant/kernels.h"
#include "engine/quant/quant_ref.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

/* ---- small helpers ------------------------------------------------------------------------- */

INLINE uint32_t u32_at(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

INLINE float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void zero_out(int nr, int nc, float *out, size_t out_stride) {
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++) out[(size_t)c * out_stride + r] = 0.0f;
}

/* ---- activation quantizers ----------------------------------------------------------------- */

INLINE __m256 abs8(__m256 x) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
}

/* The largest |x| so far, NaN never winning (vmaxps keeps its second operand when the first is
 * NaN), as the scalar abs_max. */
INLINE __m256 max_abs(__m256 m, __m256 x) {
    return _mm256_max_ps(abs8(x), m);
}

/* v clamped to [-127, 127], NaN to 0 (the clamp turns NaN into -127, the mask into 0). */
INLINE __m256 clamp127(__m256 v, __m256 r) {
    r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    return _mm256_and_ps(r, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
}

/* roundf(v) (halves away from zero) clamped to [-127, 127], NaN to 0, as 32-bit integers. */
INLINE __m256i round_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 up = _mm256_cmp_ps(abs8(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
    return _mm256_cvttps_epi32(clamp127(v, _mm256_add_ps(t, _mm256_and_ps(up, one))));
}

/* rint(v) (halves to even) of v clamped to [-127, 127], NaN to 0, as 32-bit integers. */
INLINE __m256i round_even(__m256 v) {
    const __m256 c = clamp127(v, v);
    return _mm256_cvttps_epi32(_mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* 32 int32 values in -127..127 as 32 bytes, in order. */
INLINE __m256i pack_bytes(__m256i q0, __m256i q1, __m256i q2, __m256i q3) {
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* One q8_0 or q8_1 block: stores d (fp16) and the 32 quants; returns the sum of the quants and
 * sets *d_exact to the unrounded scale. */
INLINE int quantize_32(const float *x, uint8_t d_out[2], int8_t *qs, float *d_exact) {
    __m256 v[4], m = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        m = max_abs(m, v[i]);
    }
    const float d = hmax(m) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    quant_put_half(d_out, d);
    __m256i q[4];
    for (int i = 0; i < 4; i++) q[i] = round_away(_mm256_mul_ps(v[i], _mm256_set1_ps(id)));
    _mm256_storeu_si256((__m256i *)qs, pack_bytes(q[0], q[1], q[2], q[3]));
    *d_exact = d;
    return hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
}

static void act_q8_0(const float *x, void *dst, int64_t n) {
    lk_block_q8_0 *y = dst;
    float d;
    for (int64_t i = 0; i < n / LK_QK; i++) quantize_32(x + i * LK_QK, y[i].d, y[i].qs, &d);
}

static void act_q8_1(const float *x, void *dst, int64_t n) {
    lk_block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / LK_QK; i++) {
        float d;
        const int sum = quantize_32(x + i * LK_QK, y[i].d, y[i].qs, &d);
        quant_put_half(y[i].s, (float)sum * d);
    }
}

static void act_q8_K(const float *x, void *dst, int64_t n) {
    lk_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / LK_QK_K; i++, y++, x += LK_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < LK_QK_K; j += 8) m = max_abs(m, _mm256_loadu_ps(x + j));
        const float amax = hmax(m);
        if (amax == 0.0f) {
            memset(y, 0, sizeof *y);
            continue;
        }
        /* the first element whose magnitude is amax, with its sign */
        float max = 0.0f;
        for (int j = 0; j < LK_QK_K; j += 8) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs8(_mm256_loadu_ps(x + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit) {
                max = x[j + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < LK_QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] = round_even(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), _mm256_set1_ps(iscale)));
            _mm256_storeu_si256((__m256i *)(y->qs + j), pack_bytes(q[0], q[1], q[2], q[3]));
            y->bsums[j / 16] = (int16_t)hsum_i32(_mm256_add_epi32(q[0], q[1]));
            y->bsums[j / 16 + 1] = (int16_t)hsum_i32(_mm256_add_epi32(q[2], q[3]));
        }
        y->d = 1.0f / iscale;
    }
}

/* ---- legacy weights: layout of each type --------------------------------------------------- */

INLINE int block_bytes(int wt) {
    return wt == LK_Q4_0 ? 18 : wt == LK_Q4_1 ? 20 : wt == LK_Q5_0 ? 22 : wt == LK_Q5_1 ? 24 : 34;
}
INLINE int qs_offset(int wt) { return wt == LK_Q4_1 ? 4 : wt == LK_Q5_0 ? 6 : wt == LK_Q5_1 ? 8 : 2; }
INLINE int qh_offset(int wt) { return wt == LK_Q5_1 ? 4 : 2; }
INLINE bool has_min(int wt) { return wt == LK_Q4_1 || wt == LK_Q5_1; }
INLINE bool has_fifth_bit(int wt) { return wt == LK_Q5_0 || wt == LK_Q5_1; }

/* The offset of the unsigned 4- and 5-bit quants of the _0 types (q8_0 is signed). */
INLINE int zero_point(int wt) { return wt == LK_Q4_0 ? 8 : wt == LK_Q5_0 ? 16 : 0; }

INLINE int act_bytes(int wt) { return has_min(wt) ? (int)sizeof(lk_block_q8_1) : (int)sizeof(lk_block_q8_0); }
INLINE int act_qs_offset(int wt) { return has_min(wt) ? 4 : 2; }

/* A weight block's 32 quants as bytes, element e in byte e: unsigned for the 4- and 5-bit
 * types, signed for q8_0. */
INLINE __m256i decode_block(int wt, const uint8_t *blk) {
    if (wt == LK_Q8_0) return _mm256_loadu_si256((const __m256i *)(blk + 2));
    const __m128i x = _mm_loadu_si128((const __m128i *)(blk + qs_offset(wt)));
    __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0F));
    if (has_fifth_bit(wt)) {
        /* byte e gets bit e of qh: spread the 4 bytes of qh over 8 bytes each, test one bit each */
        const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)u32_at(blk + qh_offset(wt))),
                                                  _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202,
                                                                     0x0303030303030303));
        const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201);
        const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
        v = _mm256_or_si256(v, _mm256_and_si256(set, _mm256_set1_epi8(16)));
    }
    return v;
}

/* The fp16 scales of n <= 8 consecutive blocks of bs bytes at p as floats (lanes past n are 0);
 * *m gets the fp16 field right after each scale (the minimum of a _1 weight block, the sum s
 * of a q8_1 block), from the same gather, when want_m. */
INLINE __m256 gather_scales(const uint8_t *p, int bs, int n, bool want_m, __m256 *m) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i idx = _mm256_mullo_epi32(lane, _mm256_set1_epi32(bs));
    const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
    const __m256i h = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(const void *)p, idx, k, 1);
    if (want_m) {
        const __m256i hm = _mm256_srli_epi32(h, 16);
        *m = _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(hm, hm), 0x08)));
    }
    const __m256i hd = _mm256_and_si256(h, _mm256_set1_epi32(0xFFFF));
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(hd, hd), 0x08)));
}

/* ---- legacy weights: tiles of rows x columns ----------------------------------------------- */

/* Rows r0..r0+R-1 (w at row r0, chunk start) times C columns (act at column c0). Blocks go in
 * groups of 8: the group's weight and activation scales are gathered and multiplied, then each
 * block is decoded once and multiplied with every column. */
INLINE void tile(int wt, int R, int C, const uint8_t *w, size_t ws, int nb, const uint8_t *act, size_t as,
                 float *out, size_t os) {
    const int bs = block_bytes(wt), ab = act_bytes(wt), qo = act_qs_offset(wt), zp = zero_point(wt);
    _Alignas(32) float ds[4][2][8];   /* d_w * d_a of the group's blocks */
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4][2], mt[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int c = 0; c < C; c++) acc[r][c] = mt[r][c] = _mm256_setzero_ps();
    for (int g = 0; g < nb; g += 8) {
        const int ng = LK_MIN(8, nb - g);
        __m256 da[2], sa[2];
#pragma GCC unroll 2
        for (int c = 0; c < C; c++) da[c] = gather_scales(act + c * as + (size_t)g * ab, ab, ng, has_min(wt), &sa[c]);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256 mw;
            const __m256 dw = gather_scales(w + r * ws + (size_t)g * bs, bs, ng, has_min(wt), &mw);
#pragma GCC unroll 2
            for (int c = 0; c < C; c++) {
                _mm256_store_ps(ds[r][c], _mm256_mul_ps(dw, da[c]));
                if (has_min(wt)) mt[r][c] = _mm256_fmadd_ps(mw, sa[c], mt[r][c]);
            }
        }
        for (int i = 0; i < ng; i++) {
            const int b = g + i;
            __m256i q[4];
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                const uint8_t *row = w + r * ws;
                q[r] = decode_block(wt, row + (size_t)b * bs);
                _mm_prefetch((const char *)(row + 2 * R * ws + (size_t)b * bs), _MM_HINT_T0);
            }
#pragma GCC unroll 2
            for (int c = 0; c < C; c++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(act + c * as + (size_t)b * ab + qo));
                /* zero_point * (a[2k] + a[2k+1]) per 16-bit pair, taken back before widening */
                const __m256i offset = zp ? _mm256_maddubs_epi16(_mm256_set1_epi8((char)zp), a) : _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    __m256i s;
                    if (wt == LK_Q8_0) s = _mm256_maddubs_epi16(_mm256_abs_epi8(q[r]), _mm256_sign_epi8(a, q[r]));
                    else s = _mm256_maddubs_epi16(q[r], a);
                    if (zp) s = _mm256_sub_epi16(s, offset);
                    s = _mm256_madd_epi16(s, ones);
                    acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_broadcast_ss(&ds[r][c][i]), acc[r][c]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int c = 0; c < C; c++) out[(size_t)c * os + r] = hsum(_mm256_add_ps(acc[r][c], mt[r][c]));
}

/* Rows r0..r0+R-1 against every column, two at a time: the rows' blocks stay in cache while
 * the columns go by. */
INLINE void tile_cols(int wt, int R, const uint8_t *w, size_t ws, int nb, const uint8_t *act, size_t as, int nc,
                      float *out, size_t os) {
    int c = 0;
    for (; c + 2 <= nc; c += 2) tile(wt, R, 2, w, ws, nb, act + (size_t)c * as, as, out + (size_t)c * os, os);
    if (c < nc) tile(wt, R, 1, w, ws, nb, act + (size_t)c * as, as, out + (size_t)c * os, os);
}

INLINE void gemm_legacy(int wt, int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as,
                        int nc, float *out, size_t os) {
    if (nr <= 0 || nc <= 0) return;
    if (n < LK_QK) {
        zero_out(nr, nc, out, os);
        return;
    }
    const int nb = (int)(n / LK_QK);
    const uint8_t *wb = w, *ab = act;
    int r = 0;
    for (; r + 4 <= nr; r += 4) tile_cols(wt, 4, wb + r * ws, ws, nb, ab, as, nc, out + r, os);
    for (; r < nr; r++) tile_cols(wt, 1, wb + r * ws, ws, nb, ab, as, nc, out + r, os);
}

static void gemm_q4_0(int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as, int nc,
                      float *out, size_t os) {
    gemm_legacy(LK_Q4_0, n, w, ws, nr, act, as, nc, out, os);
}

static void gemm_q4_1(int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as, int nc,
                      float *out, size_t os) {
    gemm_legacy(LK_Q4_1, n, w, ws, nr, act, as, nc, out, os);
}

static void gemm_q5_0(int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as, int nc,
                      float *out, size_t os) {
    gemm_legacy(LK_Q5_0, n, w, ws, nr, act, as, nc, out, os);
}

static void gemm_q5_1(int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as, int nc,
                      float *out, size_t os) {
    gemm_legacy(LK_Q5_1, n, w, ws, nr, act, as, nc, out, os);
}

static void gemm_q8_0(int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as, int nc,
                      float *out, size_t os) {
    gemm_legacy(LK_Q8_0, n, w, ws, nr, act, as, nc, out, os);
}

/* ---- float weights ------------------------------------------------------------------------- */

INLINE int elem_bytes(int wt) { return wt == LK_F32 ? 4 : 2; }

/* 8 weights at p widened to f32. */
INLINE __m256 wload(int wt, const uint8_t *p) {
    if (wt == LK_F32) return _mm256_loadu_ps((const float *)(const void *)p);
    const __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (wt == LK_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE float wscalar(int wt, const uint8_t *p) {
    if (wt == LK_F32) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p, 2);
    return wt == LK_F16 ? _cvtsh_ss(h) : lk_bf16_to_fp32(h);
}

/* Rows r0..r0+R-1 times C columns, whole rows: one FMA per row, column and 8 elements; the
 * last n % 8 elements one at a time. */
INLINE void ftile(int wt, int R, int C, int64_t n, const uint8_t *w, size_t ws, const uint8_t *act, size_t as,
                  float *out, size_t os) {
    const int eb = elem_bytes(wt);
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 x[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) x[r] = wload(wt, w + r * ws + k * eb);
#pragma GCC unroll 2
        for (int c = 0; c < C; c++) {
            const __m256 a = _mm256_loadu_ps((const float *)(const void *)(act + c * as + k * 4));
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][c] = _mm256_fmadd_ps(x[r], a, acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 2
        for (int c = 0; c < C; c++) {
            float v = hsum(acc[r][c]);
            for (int64_t i = k; i < n; i++) {
                float a;
                memcpy(&a, act + c * as + i * 4, 4);
                v += wscalar(wt, w + r * ws + i * eb) * a;
            }
            out[(size_t)c * os + r] = v;
        }
}

/* Rows r0..r0+R-1 against every column, two at a time. */
INLINE void ftile_cols(int wt, int R, int64_t n, const uint8_t *w, size_t ws, const uint8_t *act, size_t as,
                       int nc, float *out, size_t os) {
    int c = 0;
    for (; c + 2 <= nc; c += 2) ftile(wt, R, 2, n, w, ws, act + (size_t)c * as, as, out + (size_t)c * os, os);
    if (c < nc) ftile(wt, R, 1, n, w, ws, act + (size_t)c * as, as, out + (size_t)c * os, os);
}

INLINE void gemm_floats(int wt, int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as,
                        int nc, float *out, size_t os) {
    if (nr <= 0 || nc <= 0) return;
    if (n <= 0) {
        zero_out(nr, nc, out, os);
        return;
    }
    const uint8_t *wb = w, *ab = act;
    int r = 0;
    for (; r + 4 <= nr; r += 4) ftile_cols(wt, 4, n, wb + r * ws, ws, ab, as, nc, out + r, os);
    for (; r < nr; r++) ftile_cols(wt, 1, n, wb + r * ws, ws, ab, as, nc, out + r, os);
}

static void gemm_f32(int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as, int nc,
                     float *out, size_t os) {
    gemm_floats(LK_F32, n, w, ws, nr, act, as, nc, out, os);
}

static void gemm_f16(int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as, int nc,
                     float *out, size_t os) {
    gemm_floats(LK_F16, n, w, ws, nr, act, as, nc, out, os);
}

static void gemm_bf16(int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as, int nc,
                      float *out, size_t os) {
    gemm_floats(LK_BF16, n, w, ws, nr, act, as, nc, out, os);
}

void lk_register_avx2(lk_kernels *k) {
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

#else
void lk_register_avx2(lk_kernels *k) {
    (void)k;
}
#endif

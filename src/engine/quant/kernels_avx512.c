/* kernels_avx512.c — AVX-512 kernels (F, BW, VL, DQ, VNNI): q8 activation quantizers and the
 * gemm of the float and legacy weight types. Same results as kernels_scalar.c up to float
 * summation order; the quantizers give the same bytes.
 *
 * Quantized weights meet 8-bit activations in vpdpbusd, which multiplies unsigned bytes by
 * signed bytes and adds groups of four into 32-bit lanes. The weights are made unsigned
 * (q4_0: the nibble, q5_0: the 5-bit value, q8_0: q + 128; the _1 types are unsigned already)
 * and the offset is taken back exactly in the integer sum: each integer accumulator starts at
 * -offset * sum(activation quants), computed once per activation block. Per block the integer
 * sum is converted to float and added with weight d_w * d_a; the _1 types add m_w * s_a.
 * Weight scales are fetched 16 blocks at a time with one gather.
 *
 * Two loop shapes:
 * - few columns (generation, nc < 6): "dot" tiles of 4 rows x up to 3 columns. Two weight
 *   blocks are decoded into one register (64 bytes) and used for every column of the tile;
 *   the rows two tiles ahead are prefetched, since generation streams the weights once.
 * - many columns (prompt processing): "outer" tiles of 4 rows x 16 columns. The activations
 *   of 16 columns are packed so that one register holds 4 bytes of each column; each 4 bytes
 *   of a weight row are broadcast against it, so one vpdpbusd does 16 columns x 4 elements and
 *   its lanes are whole dot products. The block decode and the per-block float work are shared
 *   by the 16 columns.
 * Float weights (f32, f16, bf16) go in dot tiles of 4 rows x up to 4 columns, rows outermost:
 * 16 weights are widened to f32 in a register (F16C, or a shift for bf16) and used for every
 * column of the tile, the 4 rows stay in cache while the columns go by.
 *
 * Long rows are cut into chunks (the packed activations live on the stack, at most about
 * 60 KiB in all); each chunk's partial sums are added into out. Nothing here allocates or
 * writes a global, so any number of threads may run gemm at once on disjoint outputs. */
#include "engine/quant/kernels.h"
#include "engine/quant/quant_ref.h"

#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

enum {
    KD = 128,  /* blocks per chunk in the dot shape */
    KC = 64,   /* blocks per chunk in the outer shape */
    OUTER_MIN_Q = 6,  /* leftover columns from which a partly filled outer tile beats dot tiles */
};

/* ---- small helpers ------------------------------------------------------------------------- */

INLINE float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

INLINE uint16_t u16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

INLINE uint32_t u32_at(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* out = v on a row's first chunk, out += v on later ones. */
INLINE void put(float *out, float v, bool first) {
    *out = first ? v : *out + v;
}

static void zero_out(int nr, int nc, float *out, size_t out_stride) {
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++) out[(size_t)c * out_stride + r] = 0.0f;
}

/* ---- activation quantizers ----------------------------------------------------------------- */

/* The largest |x| over 16-lane vectors, NaN never winning (vmaxps keeps its second operand
 * when the first is NaN), as the scalar abs_max. */
INLINE __m512 max_abs(__m512 m, __m512 x) {
    return _mm512_max_ps(_mm512_abs_ps(x), m);
}

/* roundf(v) (halves away from zero) clamped to [-127, 127], NaN to 0, as 32-bit integers. */
INLINE __m512i round_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    __m512 r = _mm512_mask_add_ps(t, up, t, one);
    r = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    const __mmask16 ordered = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    return _mm512_maskz_cvttps_epi32(ordered, r);
}

/* rint(v) (halves to even) of v clamped to [-127, 127], NaN to 0, as 32-bit integers. */
INLINE __m512i round_even(__m512 v) {
    const __m512 c = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    const __mmask16 ordered = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    return _mm512_maskz_cvt_roundps_epi32(ordered, c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* One q8_0 or q8_1 block: stores d (fp16) and the 32 quants; returns the sum of the quants
 * and sets *d to the unrounded scale. */
INLINE int quantize_32(const float *x, uint8_t d_out[2], int8_t *qs, float *d_exact) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(max_abs(max_abs(_mm512_setzero_ps(), v0), v1));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    quant_put_half(d_out, d);
    const __m512i q0 = round_away(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
    const __m512i q1 = round_away(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtepi32_epi8(q1));
    *d_exact = d;
    return _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
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
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < LK_QK_K; j += 16) m = max_abs(m, _mm512_loadu_ps(x + j));
        const float amax = _mm512_reduce_max_ps(m);
        if (amax == 0.0f) {
            memset(y, 0, sizeof *y);
            continue;
        }
        /* the first element whose magnitude is amax, with its sign */
        float max = 0.0f;
        for (int j = 0; j < LK_QK_K; j += 16) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = x[j + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < LK_QK_K; j += 16) {
            const __m512i q = round_even(_mm512_mul_ps(_mm512_loadu_ps(x + j), _mm512_set1_ps(iscale)));
            _mm_storeu_si128((__m128i *)(y->qs + j), _mm512_cvtepi32_epi8(q));
            y->bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        y->d = 1.0f / iscale;
    }
}

/* ---- legacy weights: layout of each type --------------------------------------------------- */

/* Bytes of a weight block, and where its quants, fifth bits and minimum are. */
INLINE int block_bytes(int wt) {
    return wt == LK_Q4_0 ? 18 : wt == LK_Q4_1 ? 20 : wt == LK_Q5_0 ? 22 : wt == LK_Q5_1 ? 24 : 34;
}
INLINE int qs_offset(int wt) { return wt == LK_Q4_1 ? 4 : wt == LK_Q5_0 ? 6 : wt == LK_Q5_1 ? 8 : 2; }
INLINE int qh_offset(int wt) { return wt == LK_Q5_1 ? 4 : 2; }
INLINE bool has_min(int wt) { return wt == LK_Q4_1 || wt == LK_Q5_1; }
INLINE bool has_fifth_bit(int wt) { return wt == LK_Q5_0 || wt == LK_Q5_1; }

/* What is added to a weight quant to make it an unsigned byte. */
INLINE int zero_point(int wt) { return wt == LK_Q4_0 ? 8 : wt == LK_Q5_0 ? 16 : wt == LK_Q8_0 ? 128 : 0; }

/* The activation block (q8_0 or q8_1): its size and where its quants start. */
INLINE int act_bytes(int wt) { return has_min(wt) ? (int)sizeof(lk_block_q8_1) : (int)sizeof(lk_block_q8_0); }
INLINE int act_qs_offset(int wt) { return has_min(wt) ? 4 : 2; }

/* Two weight blocks as 64 unsigned bytes: block a's elements 0..31, then block b's. */
INLINE __m512i decode_pair(int wt, const uint8_t *a, const uint8_t *b) {
    if (wt == LK_Q8_0) {
        const __m256i qa = _mm256_loadu_si256((const __m256i *)(a + 2));
        const __m256i qb = _mm256_loadu_si256((const __m256i *)(b + 2));
        return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(qa), qb, 1), _mm512_set1_epi8((char)0x80));
    }
    const int qo = qs_offset(wt);
    /* 128-bit lanes: a's 16 bytes twice, b's 16 bytes twice; the second copy of each is shifted
     * right by 4 so that its high nibbles (elements 16..31) come down */
    const int64_t four = 0x0004000400040004;
    const __m512i shift = _mm512_setr_epi64(0, 0, four, four, 0, 0, four, four);
    __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(a + qo)));
    v = _mm512_mask_broadcast_i32x4(v, 0xFF00, _mm_loadu_si128((const __m128i *)(b + qo)));
    v = _mm512_and_si512(_mm512_srlv_epi16(v, shift), _mm512_set1_epi8(0x0F));
    if (has_fifth_bit(wt)) {
        const uint64_t bits = (uint64_t)u32_at(b + qh_offset(wt)) << 32 | u32_at(a + qh_offset(wt));
        v = _mm512_mask_add_epi8(v, _cvtu64_mask64(bits), v, _mm512_set1_epi8(16));
    }
    return v;
}

/* 16 fp16 values at h as floats. */
INLINE __m512 halves16(const uint16_t *h) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
}

/* The scales of n <= 16 consecutive blocks at p as floats (lanes past n are 0); for the _1 types
 * *m gets their minima, the fp16 field right after the scale, from the same gather. */
INLINE __m512 gather_scales(int wt, const uint8_t *p, int n, __m512 *m) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(block_bytes(wt)));
    const __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    const __m512i h = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, idx, p, 1);
    if (has_min(wt)) *m = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(h, 16)));
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h));
}

/* Lanes 0..7 d[0], lanes 8..15 d[1]: the scales of a block pair. */
INLINE __m512 pair_scale(const float *d) {
    return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d[0]), _mm512_set1_ps(d[1]));
}

/* ---- legacy weights, few columns: dot tiles ------------------------------------------------ */

/* One activation column of a chunk: its quants, the offset correction of each 4-quant lane
 * (-zero_point * their sum), its scales and (q8_1) sums, padded with a zero block. */
typedef struct dot_act {
    _Alignas(64) int8_t qs[KD + 2][32];
    int32_t corr[KD + 2][8];
    float d[KD + 16];
    float s[KD + 16];
} dot_act;

INLINE void pack_dot(int wt, const uint8_t *a, int nb, dot_act *A) {
    const int ab = act_bytes(wt), qo = act_qs_offset(wt), zp = zero_point(wt);
    const __m256i k = _mm256_set1_epi8((char)zp);
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = a + (size_t)b * ab;
        const __m256i q = _mm256_loadu_si256((const __m256i *)(blk + qo));
        _mm256_store_si256((__m256i *)A->qs[b], q);
        if (zp) {
            const __m256i sum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), k, q);
            _mm256_store_si256((__m256i *)A->corr[b], _mm256_sub_epi32(_mm256_setzero_si256(), sum));
        }
        A->d[b] = half_at(blk);
        if (has_min(wt)) A->s[b] = half_at(blk + 2);
    }
    memset(A->qs[nb], 0, sizeof A->qs[nb]);
    memset(A->corr[nb], 0, sizeof A->corr[nb]);
    for (int b = nb; b < ((nb + 15) & ~15); b++) A->d[b] = A->s[b] = 0.0f;
}

/* Rows r0..r0+R-1 (w points at row r0, chunk start) times the C packed columns of A. The
 * blocks go in groups of 16: the group's weight scales are gathered (with the minima of the _1
 * types, which sit right after them) and multiplied by the activation scales, then its pairs
 * are decoded and multiplied. */
INLINE void dot_tile(int wt, int R, int C, const uint8_t *w, size_t ws, int nb, const dot_act *A,
                     float *out, size_t os, bool first) {
    const int bs = block_bytes(wt);
    _Alignas(64) float ds[4][3][16];   /* d_w * d_a of the group's blocks */
    _Alignas(64) float mt[4][3][16];   /* running m_w * s_a, per lane */
    __m512 acc[4][3];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int c = 0; c < C; c++) {
            acc[r][c] = _mm512_setzero_ps();
            if (has_min(wt)) _mm512_store_ps(mt[r][c], _mm512_setzero_ps());
        }
    for (int g = 0; g < nb; g += 16) {
        const int ng = LK_MIN(16, nb - g);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m512 mw;
            const __m512 dw = gather_scales(wt, w + r * ws + (size_t)g * bs, ng, &mw);
#pragma GCC unroll 3
            for (int c = 0; c < C; c++) _mm512_store_ps(ds[r][c], _mm512_mul_ps(dw, _mm512_loadu_ps(A[c].d + g)));
            if (has_min(wt)) {
#pragma GCC unroll 3
                for (int c = 0; c < C; c++)
                    _mm512_store_ps(mt[r][c], _mm512_fmadd_ps(mw, _mm512_loadu_ps(A[c].s + g), _mm512_load_ps(mt[r][c])));
            }
        }
        for (int p = 0; p < ng; p += 2) {
            const int b = g + p, b1 = p + 1 < ng ? b + 1 : b;
            __m512i q[4];
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                const uint8_t *row = w + r * ws;
                q[r] = decode_pair(wt, row + (size_t)b * bs, row + (size_t)b1 * bs);
                _mm_prefetch((const char *)(row + 2 * R * ws + (size_t)b * bs), _MM_HINT_T0);
            }
#pragma GCC unroll 3
            for (int c = 0; c < C; c++) {
                const __m512i a = _mm512_load_si512(A[c].qs[b]);
                const __m512i corr = zero_point(wt) ? _mm512_load_si512(A[c].corr[b]) : _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    const __m512i isum = _mm512_dpbusd_epi32(corr, q[r], a);
                    acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), pair_scale(ds[r][c] + p), acc[r][c]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int c = 0; c < C; c++) {
            __m512 v = acc[r][c];
            if (has_min(wt)) v = _mm512_add_ps(v, _mm512_load_ps(mt[r][c]));
            put(out + (size_t)c * os + r, _mm512_reduce_add_ps(v), first);
        }
}

/* All rows against C packed columns: groups of 4 rows, then single rows. */
INLINE void dot_rows(int wt, int C, const uint8_t *w, size_t ws, int nr, int nb, const dot_act *A,
                     float *out, size_t os, bool first) {
    int r = 0;
    for (; r + 4 <= nr; r += 4) dot_tile(wt, 4, C, w + r * ws, ws, nb, A, out + r, os, first);
    for (; r < nr; r++) dot_tile(wt, 1, C, w + r * ws, ws, nb, A, out + r, os, first);
}

/* Columns c0.. c0+nc-1 of a gemm in dot tiles of up to 3 columns. */
INLINE void gemm_dot(int wt, int64_t n, const uint8_t *w, size_t ws, int nr, const uint8_t *act,
                     size_t as, int nc, float *out, size_t os) {
    const int nbt = (int)(n / LK_QK), bs = block_bytes(wt), ab = act_bytes(wt);
    dot_act A[3];
    for (int b0 = 0; b0 < nbt; b0 += KD) {
        const int nb = LK_MIN(KD, nbt - b0);
        for (int c0 = 0; c0 < nc;) {
            const int C = nc - c0 == 4 ? 2 : LK_MIN(3, nc - c0);
            for (int c = 0; c < C; c++) pack_dot(wt, act + (size_t)(c0 + c) * as + (size_t)b0 * ab, nb, &A[c]);
            const uint8_t *wc = w + (size_t)b0 * bs;
            float *oc = out + (size_t)c0 * os;
            if (C == 1) dot_rows(wt, 1, wc, ws, nr, nb, A, oc, os, b0 == 0);
            else if (C == 2) dot_rows(wt, 2, wc, ws, nr, nb, A, oc, os, b0 == 0);
            else dot_rows(wt, 3, wc, ws, nr, nb, A, oc, os, b0 == 0);
            c0 += C;
        }
    }
}

/* ---- legacy weights, many columns: outer tiles --------------------------------------------- */

/* 16 activation columns of a chunk, transposed: q[b][j][c] holds quants 4j..4j+3 of block b of
 * column c; corr, d and s are per block and column. Missing columns are zeros. */
typedef struct outer_act {
    _Alignas(64) int32_t q[KC][8][16];
    int32_t corr[KC][16];
    float d[KC][16];
    float s[KC][16];
} outer_act;

/* out[j] lane i = in[i][j] for an 8 x 8 dword matrix in each 256-bit half. */
INLINE void transpose_8x8_halves(__m512i v[8]) {
    __m512i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int i = 0; i < 4; i++) {
        v[i] = _mm512_permutex2var_epi64(u[i], lo, u[4 + i]);
        v[4 + i] = _mm512_permutex2var_epi64(u[i], hi, u[4 + i]);
    }
}

INLINE void pack_outer(int wt, const uint8_t *act, size_t as, int ncols, int nb, outer_act *P) {
    const int ab = act_bytes(wt), qo = act_qs_offset(wt), zp = zero_point(wt);
    uint16_t hd[KC][16], hs[KC][16];
    for (int b = 0; b < nb; b++) {
        for (int c = 0; c < 16; c++) {
            const uint8_t *blk = act + (size_t)c * as + (size_t)b * ab;
            hd[b][c] = c < ncols ? u16_at(blk) : 0;
            hs[b][c] = c < ncols && has_min(wt) ? u16_at(blk + 2) : 0;
        }
    }
    for (int b = 0; b < nb; b++) {
        __m256i x[16];
        for (int c = 0; c < 16; c++)
            x[c] = c < ncols ? _mm256_loadu_si256((const __m256i *)(act + (size_t)c * as + (size_t)b * ab + qo))
                             : _mm256_setzero_si256();
        __m512i v[8];
        for (int i = 0; i < 8; i++) v[i] = _mm512_inserti64x4(_mm512_castsi256_si512(x[i]), x[i + 8], 1);
        transpose_8x8_halves(v);
        __m512i sum = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            _mm512_store_si512(P->q[b][j], v[j]);
            if (zp) sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8((char)zp), v[j]);
        }
        _mm512_store_si512(P->corr[b], _mm512_sub_epi32(_mm512_setzero_si512(), sum));
    }
    for (int b = 0; b < nb; b++) {
        _mm512_store_ps(P->d[b], halves16(hd[b]));
        _mm512_store_ps(P->s[b], halves16(hs[b]));
    }
}

/* Rows r0..r0+R-1 (w at row r0, chunk start) times the 16 packed columns of P. The rows' blocks
 * are first decoded to unsigned bytes (wq) and their scales gathered (dw, mw); the loop over
 * blocks then broadcasts each 4 bytes of a row against the 16 columns. */
INLINE void outer_tile(int wt, int R, const uint8_t *w, size_t ws, int nb, const outer_act *P,
                       int ncols, float *out, size_t os, bool first) {
    const int bs = block_bytes(wt);
    _Alignas(64) uint8_t wq[4][KC + 2][32];
    _Alignas(64) float dw[4][KC], mw[4][KC];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const uint8_t *row = w + r * ws;
        for (int b = 0; b < nb; b += 2) {
            const int b1 = b + 1 < nb ? b + 1 : b;
            _mm512_store_si512(wq[r][b], decode_pair(wt, row + (size_t)b * bs, row + (size_t)b1 * bs));
        }
        for (int b = 0; b < nb; b += 16) {
            __m512 m;
            _mm512_store_ps(dw[r] + b, gather_scales(wt, row + (size_t)b * bs, LK_MIN(16, nb - b), &m));
            if (has_min(wt)) _mm512_store_ps(mw[r] + b, m);
        }
    }
    __m512 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i z[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) z[j] = _mm512_load_si512(P->q[b][j]);
        const __m512i corr = _mm512_load_si512(P->corr[b]);
        const __m512 da = _mm512_load_ps(P->d[b]);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            _mm_prefetch((const char *)(w + (R + r) * ws + (size_t)b * bs), _MM_HINT_T0);
            /* two chains of 4 dependent vpdpbusd rather than one of 8 */
            __m512i i0 = corr, i1 = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int j = 0; j < 8; j += 2) {
                i0 = _mm512_dpbusd_epi32(i0, _mm512_set1_epi32((int)u32_at(wq[r][b] + 4 * j)), z[j]);
                i1 = _mm512_dpbusd_epi32(i1, _mm512_set1_epi32((int)u32_at(wq[r][b] + 4 * j + 4)), z[j + 1]);
            }
            const __m512 scale = _mm512_mul_ps(da, _mm512_set1_ps(dw[r][b]));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(i0, i1)), scale, acc[r]);
            if (has_min(wt)) acc[r] = _mm512_fmadd_ps(_mm512_load_ps(P->s[b]), _mm512_set1_ps(mw[r][b]), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        float v[16];
        _mm512_storeu_ps(v, acc[r]);
        for (int c = 0; c < ncols; c++) put(out + (size_t)c * os + r, v[c], first);
    }
}

/* Columns c0..c0+ncols-1 (ncols <= 16) of a gemm in outer tiles. */
INLINE void gemm_outer(int wt, int64_t n, const uint8_t *w, size_t ws, int nr, const uint8_t *act,
                       size_t as, int ncols, float *out, size_t os) {
    const int nbt = (int)(n / LK_QK), bs = block_bytes(wt), ab = act_bytes(wt);
    outer_act P;
    for (int b0 = 0; b0 < nbt; b0 += KC) {
        const int nb = LK_MIN(KC, nbt - b0);
        pack_outer(wt, act + (size_t)b0 * ab, as, ncols, nb, &P);
        const uint8_t *wc = w + (size_t)b0 * bs;
        const bool first = b0 == 0;
        int r = 0;
        for (; r + 4 <= nr; r += 4) outer_tile(wt, 4, wc + r * ws, ws, nb, &P, ncols, out + r, os, first);
        for (; r < nr; r++) outer_tile(wt, 1, wc + r * ws, ws, nb, &P, ncols, out + r, os, first);
    }
}

INLINE void gemm_legacy(int wt, int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as,
                        int nc, float *out, size_t os) {
    if (nr <= 0 || nc <= 0) return;
    if (n < LK_QK) {
        zero_out(nr, nc, out, os);
        return;
    }
    const uint8_t *wb = w, *ab = act;
    int c0 = 0;
    for (; nc - c0 >= 16; c0 += 16)
        gemm_outer(wt, n, wb, ws, nr, ab + (size_t)c0 * as, as, 16, out + (size_t)c0 * os, os);
    if (nc - c0 >= OUTER_MIN_Q) {
        gemm_outer(wt, n, wb, ws, nr, ab + (size_t)c0 * as, as, nc - c0, out + (size_t)c0 * os, os);
        c0 = nc;
    }
    if (c0 < nc) gemm_dot(wt, n, wb, ws, nr, ab + (size_t)c0 * as, as, nc - c0, out + (size_t)c0 * os, os);
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

/* 16 weights at p widened to f32; the masked form reads only the lanes in m (others 0). */
INLINE __m512 wload(int wt, const uint8_t *p) {
    if (wt == LK_F32) return _mm512_loadu_ps(p);
    const __m256i h = _mm256_loadu_si256((const __m256i *)p);
    if (wt == LK_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE __m512 wload_mask(int wt, const uint8_t *p, __mmask16 m) {
    if (wt == LK_F32) return _mm512_maskz_loadu_ps(m, p);
    const __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if (wt == LK_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Rows r0..r0+R-1 times C columns, whole rows, one FMA per row, column and 16 elements. */
INLINE void fdot_tile(int wt, int R, int C, int64_t n, const uint8_t *w, size_t ws, const uint8_t *act,
                      size_t as, float *out, size_t os) {
    const int eb = elem_bytes(wt);
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512 x[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) x[r] = wload(wt, w + r * ws + k * eb);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const __m512 a = _mm512_loadu_ps(act + c * as + k * 4);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][c] = _mm512_fmadd_ps(x[r], a, acc[r][c]);
        }
    }
    if (k < n) {
        const __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
        __m512 x[4];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) x[r] = wload_mask(wt, w + r * ws + k * eb, m);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const __m512 a = _mm512_maskz_loadu_ps(m, act + c * as + k * 4);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) acc[r][c] = _mm512_fmadd_ps(x[r], a, acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) out[(size_t)c * os + r] = _mm512_reduce_add_ps(acc[r][c]);
}

/* Rows r0..r0+R-1 against every column, up to 4 at a time. */
INLINE void fdot_cols(int wt, int R, int64_t n, const uint8_t *w, size_t ws, const uint8_t *act, size_t as,
                      int nc, float *out, size_t os) {
    int c = 0;
    for (; c + 4 <= nc; c += 4) fdot_tile(wt, R, 4, n, w, ws, act + (size_t)c * as, as, out + (size_t)c * os, os);
    if (nc - c == 3) fdot_tile(wt, R, 3, n, w, ws, act + (size_t)c * as, as, out + (size_t)c * os, os);
    else if (nc - c == 2) fdot_tile(wt, R, 2, n, w, ws, act + (size_t)c * as, as, out + (size_t)c * os, os);
    else if (nc - c == 1) fdot_tile(wt, R, 1, n, w, ws, act + (size_t)c * as, as, out + (size_t)c * os, os);
}

INLINE void gemm_fdot(int wt, int64_t n, const uint8_t *w, size_t ws, int nr, const uint8_t *act,
                      size_t as, int nc, float *out, size_t os) {
    int r = 0;
    for (; r + 4 <= nr; r += 4) fdot_cols(wt, 4, n, w + r * ws, ws, act, as, nc, out + r, os);
    for (; r < nr; r++) fdot_cols(wt, 1, n, w + r * ws, ws, act, as, nc, out + r, os);
}

/* Many columns (prompt processing): outer products. A block of 32 rows x FKB elements of the
 * weights is widened to f32 and transposed once into pk[k][32] (two 16-row panels), then used
 * for every column: per k, two panel loads and one broadcast FMA per column and panel, with no
 * horizontal sums. Accumulators live in registers for a C-column tile over the K block, and in
 * out between blocks. */
enum { FKB = 256, FPR = 32 };

/* pk[k][FPR] = rows r0.. (R of them, the rest zero) of w at columns k0..k0+kb, as f32. */
INLINE void fpack(int wt, const uint8_t *w, size_t ws, int R, int64_t k0, int kb, float *pk) {
    const int eb = elem_bytes(wt);
    float tmp[16] __attribute__((aligned(64)));
    if (R < FPR) memset(pk, 0, (size_t)kb * FPR * sizeof(float));
    for (int r = 0; r < R; r++) {
        const uint8_t *row = w + (size_t)r * ws + (size_t)k0 * eb;
        int k = 0;
        for (; k + 16 <= kb; k += 16) {
            _mm512_store_ps(tmp, wload(wt, row + (size_t)k * eb));
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++) pk[(size_t)(k + i) * FPR + r] = tmp[i];
        }
        if (k < kb) {
            _mm512_store_ps(tmp, wload_mask(wt, row + (size_t)k * eb, (__mmask16)((1u << (kb - k)) - 1)));
            for (int i = 0; i < kb - k; i++) pk[(size_t)(k + i) * FPR + r] = tmp[i];
        }
    }
}

/* out[c][r] (+)= sum_k pk[k][r] * act[c][k0 + k] for C columns and the rows of the masks. */
INLINE void fouter(int C, const float *pk, int kb, const uint8_t *act, size_t as, int64_t k0, float *out, size_t os,
                   bool first, __mmask16 m0, __mmask16 m1) {
    __m512 acc0[12], acc1[12];
    const float *a[12];
#pragma GCC unroll 12
    for (int c = 0; c < C; c++) {
        a[c] = (const float *)(act + (size_t)c * as) + k0;
        acc0[c] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, out + (size_t)c * os);
        acc1[c] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, out + (size_t)c * os + 16);
    }
    for (int k = 0; k < kb; k++) {
        const __m512 w0 = _mm512_load_ps(pk + (size_t)k * FPR), w1 = _mm512_load_ps(pk + (size_t)k * FPR + 16);
#pragma GCC unroll 12
        for (int c = 0; c < C; c++) {
            const __m512 x = _mm512_set1_ps(a[c][k]);
            acc0[c] = _mm512_fmadd_ps(w0, x, acc0[c]);
            acc1[c] = _mm512_fmadd_ps(w1, x, acc1[c]);
        }
    }
#pragma GCC unroll 12
    for (int c = 0; c < C; c++) {
        _mm512_mask_storeu_ps(out + (size_t)c * os, m0, acc0[c]);
        _mm512_mask_storeu_ps(out + (size_t)c * os + 16, m1, acc1[c]);
    }
}

INLINE void gemm_fouter(int wt, int64_t n, const uint8_t *w, size_t ws, int nr, const uint8_t *act, size_t as,
                        int nc, float *out, size_t os) {
    float pk[FKB * FPR] __attribute__((aligned(64)));
    for (int r0 = 0; r0 < nr; r0 += FPR) {
        const int R = LK_MIN(FPR, nr - r0);
        const __mmask16 m0 = R >= 16 ? 0xFFFF : (__mmask16)((1u << R) - 1);
        const __mmask16 m1 = R >= 32 ? 0xFFFF : R <= 16 ? 0 : (__mmask16)((1u << (R - 16)) - 1);
        for (int64_t k0 = 0; k0 < n; k0 += FKB) {
            const int kb = (int)LK_MIN((int64_t)FKB, n - k0);
            fpack(wt, w + (size_t)r0 * ws, ws, R, k0, kb, pk);
            const bool first = k0 == 0;
            float *o = out + r0;
            int c = 0;
            for (; c + 12 <= nc; c += 12) fouter(12, pk, kb, act + (size_t)c * as, as, k0, o + (size_t)c * os, os, first, m0, m1);
            for (; c + 4 <= nc; c += 4) fouter(4, pk, kb, act + (size_t)c * as, as, k0, o + (size_t)c * os, os, first, m0, m1);
            for (; c < nc; c++) fouter(1, pk, kb, act + (size_t)c * as, as, k0, o + (size_t)c * os, os, first, m0, m1);
        }
    }
}

INLINE void gemm_floats(int wt, int64_t n, const void *w, size_t ws, int nr, const void *act, size_t as,
                        int nc, float *out, size_t os) {
    if (nr <= 0 || nc <= 0) return;
    if (n <= 0) {
        zero_out(nr, nc, out, os);
        return;
    }
    if (nc >= 16) gemm_fouter(wt, n, w, ws, nr, act, as, nc, out, os);
    else gemm_fdot(wt, n, w, ws, nr, act, as, nc, out, os);
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

void lk_register_avx512(lk_kernels *k) {
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
void lk_register_avx512(lk_kernels *k) {
    (void)k;
}
#endif

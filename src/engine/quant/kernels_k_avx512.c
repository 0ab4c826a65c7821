/* kernels_k_avx512.c — AVX-512 (with VNNI) gemm for the K-quant weights Q4_K, Q5_K and Q6_K
 * against Q8_K activations.
 *
 * The products are VNNI vpdpbusd: 4 unsigned weight levels (0..15, 0..31 or 0..63) times 4
 * signed activations summed into an int32 lane. Mins (Q4_K, Q5_K) and the -32 of Q6_K are taken
 * out with the activation bsums, as in the scalar kernel. Two loops share the work:
 *
 *  - Rows (generation and up to 6 columns; memory-bound): a weight super-block is decoded into
 *    4 registers of 64 levels and multiplied with 64 contiguous activations of each column. The
 *    int32 lanes (4 products each, < 2^15) are packed to int16 and multiplied by the sub-block
 *    scales with vpdpwssd; one float multiply-add per super-block and column. Weights are
 *    prefetched a few KiB ahead, which the hardware prefetcher alone does not keep up with.
 *
 *  - Columns (prompt processing, 7 or more columns; compute-bound): 16 activation columns are
 *    transposed into a stack buffer so that one register holds 4 bytes of each column; a tile
 *    of 4 weight rows is decoded once into levels and float scales, and each 4 levels, broadcast
 *    from memory, feed one vpdpbusd for 16 columns at once. Each sub-block's integer sum is
 *    scaled in float; two chains per row hide the vpdpbusd latency. A decoded tile serves two
 *    groups of 16 columns, and the buffers hold a chunk of 8 super-blocks, so the stack use is
 *    bounded (about 90 KiB) for any n and nothing is allocated.
 *
 * Results differ from the scalar kernel only by float summation order. The helpers are forced
 * inline (INLINE) so that each kernel is compiled for its weight type and tile size with those
 * as constants; "#pragma GCC unroll" on the loops over a tile's rows and columns keeps their
 * accumulators in registers. */
#include "engine/quant/kernels.h"

#if defined(__x86_64__)
#include "engine/quant/quant_ref.h"
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

#define ACT_D 0                           /* offsets in a Q8_K block */
#define ACT_QS 4
#define ACT_BSUMS (4 + LK_QK_K)
#define ACT_BLOCK ((int64_t)sizeof(lk_block_q8_K))

#define COLS 16        /* activation columns per column tile (lanes of a register) */
#define GROUPS 2       /* column tiles that share each decoded weight tile */
#define TILE_ROWS 4    /* weight rows per column tile */
#define CHUNK 8        /* super-blocks per transposed activation chunk */
#define MIN_COLS 7     /* fewer columns than this go through the row loop */
#define AHEAD 4096     /* bytes of weights the row loop prefetches (to L2) ahead */
#define ROW_COLS 6     /* activation columns the row loop takes per decoded weight block */

/* ---- small loads ---------------------------------------------------------------------------- */

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

INLINE float half_to_float(const uint8_t *p) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128((int)(p[0] | p[1] << 8))));
}

/* 32 bytes at p in both halves of a register. */
INLINE __m512i load_twice(const uint8_t *p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
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

/* ---- decoding 64 levels into a register ---------------------------------------------------- */

/* Levels of elements 64c .. 64c + 63 of a Q4_K/Q5_K block, in order: the low nibbles of the 32
 * bytes at qs in the lower half, the high nibbles in the upper half. */
INLINE __m512i nibbles(const uint8_t *qs) {
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    return _mm512_and_si512(_mm512_srlv_epi16(load_twice(qs), shift), _mm512_set1_epi8(0x0F));
}

/* Add the fifth bits of chunk c of a Q5_K block: bit 2c (lower half) or 2c + 1 (upper half) of
 * the 32 qh bytes (both halves of qh2), moved to bit 4 by a rotation of each 32-bit lane. */
INLINE __m512i fifth_bits(__m512i levels, __m512i qh2, int c) {
    const int lo = (4 - 2 * c) & 31, hi = (3 - 2 * c) & 31;
    const __m512i rot = _mm512_inserti64x4(_mm512_set1_epi32(lo), _mm256_set1_epi32(hi), 1);
    const __m512i fifth = _mm512_rolv_epi32(qh2, rot);
    return _mm512_ternarylogic_epi32(levels, fifth, _mm512_set1_epi8(0x10), 0xF8); /* a | b & c */
}

/* Levels of elements 128h + 64k .. + 63 (k = 0, 1) of a Q6_K block: low nibbles (k = 0) or high
 * nibbles (k = 1) of the 64 bytes of ql, with bits 4k, 4k + 1 (lower half) or 4k + 2, 4k + 3 (upper
 * half) of the 32 qh bytes (both halves of qh2) on top. */
INLINE __m512i q6_levels(__m512i ql, __m512i qh2, int k) {
    const __m512i low = k ? _mm512_and_si512(_mm512_srli_epi16(ql, 4), _mm512_set1_epi8(0x0F))
                          : _mm512_and_si512(ql, _mm512_set1_epi8(0x0F));
    const int lo = k ? 0 : 4, hi = k ? 30 : 2;
    const __m512i rot = _mm512_inserti64x4(_mm512_set1_epi32(lo), _mm256_set1_epi32(hi), 1);
    const __m512i high = _mm512_rolv_epi32(qh2, rot);
    return _mm512_ternarylogic_epi32(low, high, _mm512_set1_epi8(0x30), 0xF8); /* a | b & c */
}

/* ---- rows: a weight row against up to 6 activation rows ------------------------------------ */

/* Ask for the cache lines of a block at p. The row loop streams weights from memory, and a
 * prefetch a little ahead keeps more lines in flight than the hardware prefetcher alone does.
 * Near the end of a row it reaches into the next row (or past the matrix: prefetches never
 * fault). */
INLINE void prefetch_block(const uint8_t *p, size_t size) {
    for (size_t off = 0; off < size; off += 64) _mm_prefetch((const char *)p + off, _MM_HINT_T1);
}

/* The int32 sums sc_j * (levels . activations) of a super-block whose 256 levels are in lv[4]
 * (64 each, in order) against the activations at aq. Each vpdpbusd lane sums 4 products of
 * magnitude < 2^13, so packing to int16 is exact; the packed lanes of 128-bit lane L are
 * [4 of p0, 4 of p1] and sc01 / sc23 hold the matching scales. */
INLINE __m512i scaled_sums(const __m512i lv[4], const int8_t *aq, __m512i sc01, __m512i sc23) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i p0 = _mm512_dpbusd_epi32(zero, lv[0], _mm512_loadu_si512(aq));
    const __m512i p1 = _mm512_dpbusd_epi32(zero, lv[1], _mm512_loadu_si512(aq + 64));
    const __m512i p2 = _mm512_dpbusd_epi32(zero, lv[2], _mm512_loadu_si512(aq + 128));
    const __m512i p3 = _mm512_dpbusd_epi32(zero, lv[3], _mm512_loadu_si512(aq + 192));
    const __m512i t = _mm512_dpwssd_epi32(zero, _mm512_packs_epi32(p0, p1), sc01);
    return _mm512_dpwssd_epi32(t, _mm512_packs_epi32(p2, p3), sc23);
}

/* Index vectors for vpermw. For Q4_K/Q5_K (8 sub-blocks of 32, 64 elements per register: lanes
 * 0-7 of p_c are sub-block 2c, lanes 8-15 sub-block 2c + 1), packed lane L < 2 of
 * packs(p0, p1) holds sub-blocks [0 | 2], L >= 2 holds [1 | 3]. For Q6_K (16 sub-blocks of 16:
 * 128-bit lane L of p_k is sub-block 4k + L), packed lane L holds [L | 4 + L]. */
INLINE __m512i perm_index(int type, int second) {
    int16_t idx[32];
    for (int p = 0; p < 32; p++) {
        const int lane = p / 8, upper = (p % 8) >= 4;
        if (type == LK_Q6_K)
            idx[p] = (int16_t)(8 * second + lane + 4 * upper);
        else
            idx[p] = (int16_t)(4 * second + (lane >= 2) + 2 * upper);
    }
    return _mm512_loadu_si512(idx);
}

/* One super-block of one weight row, decoded into registers for the row loop. */
typedef struct row_block {
    __m512i lv[4];          /* the 256 levels, 64 per register, in element order */
    __m512i sc01, sc23;     /* int16 sub-block scales matching packs(p0, p1) and packs(p2, p3) */
    __m256i mins;           /* Q4_K/Q5_K: int16 m_j, each twice (pairs with bsums) */
    __m128 d;               /* fp32 d, dmin (Q6_K: d, 0) */
} row_block;

INLINE void decode_row_block(int type, const uint8_t *w, row_block *b) {
    const __m512i idx01 = perm_index(type, 0), idx23 = perm_index(type, 1);
    if (type == LK_Q6_K) {
        #pragma GCC unroll 16
        for (int h = 0; h < 2; h++) {
            const __m512i ql = _mm512_loadu_si512(w + 64 * h);
            const __m512i qh2 = load_twice(w + 128 + 32 * h);
            b->lv[2 * h] = q6_levels(ql, qh2, 0);
            b->lv[2 * h + 1] = q6_levels(ql, qh2, 1);
        }
        const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 192)));
        b->sc01 = _mm512_permutexvar_epi16(idx01, _mm512_castsi256_si512(sc));
        b->sc23 = _mm512_permutexvar_epi16(idx23, _mm512_castsi256_si512(sc));
        b->mins = sc; /* the -32 of Q6_K pairs the bsums with the scales themselves */
        b->d = _mm_cvtph_ps(_mm_cvtsi32_si128(w[208] | w[209] << 8));
        return;
    }
    const size_t qs_off = type == LK_Q5_K ? 48 : 16;
    if (type == LK_Q5_K) {
        const __m512i qh2 = load_twice(w + 16);
        #pragma GCC unroll 16
        for (int c = 0; c < 4; c++) b->lv[c] = fifth_bits(nibbles(w + qs_off + 32 * c), qh2, c);
    } else {
        #pragma GCC unroll 16
        for (int c = 0; c < 4; c++) b->lv[c] = nibbles(w + qs_off + 32 * c);
    }
    uint64_t sc, m;
    unpack_scales(w + 4, &sc, &m);
    const __m256i sm = _mm256_cvtepu8_epi16(_mm_set_epi64x((long long)m, (long long)sc));
    const __m256i idx_m = _mm256_set_epi16(15, 15, 14, 14, 13, 13, 12, 12,
                                           11, 11, 10, 10, 9, 9, 8, 8); /* m_j twice */
    b->sc01 = _mm512_permutexvar_epi16(idx01, _mm512_castsi256_si512(sm));
    b->sc23 = _mm512_permutexvar_epi16(idx23, _mm512_castsi256_si512(sm));
    b->mins = _mm256_permutexvar_epi16(idx_m, sm);
    b->d = _mm_cvtph_ps(_mm_cvtsi32_si128((int)load_u32(w)));
}

/* acc += d * da * (sum of sc_j * q . a over the sub-blocks, less the -32 of Q6_K) and, for
 * Q4_K/Q5_K, acc_m += dmin * da * (sum of m_j * bsums) for the decoded block b against the
 * activation block ab. */
INLINE void dot_row_block(int type, const row_block *b, const char *ab, __m512 *acc,
                          __m256 *acc_m) {
    __m512i sums = scaled_sums(b->lv, (const int8_t *)(ab + ACT_QS), b->sc01, b->sc23);
    const __m256i bsums = _mm256_loadu_si256((const __m256i *)(ab + ACT_BSUMS));
    const __m256i msum = _mm256_madd_epi16(bsums, b->mins);
    const __m128 dd = _mm_mul_ps(b->d, _mm_set1_ps(load_f32(ab + ACT_D)));
    if (type == LK_Q6_K) {
        sums = _mm512_sub_epi32(sums, _mm512_zextsi256_si512(_mm256_slli_epi32(msum, 5)));
    } else {
        const __m256 dmin = _mm256_broadcastss_ps(_mm_movehdup_ps(dd));
        *acc_m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), dmin, *acc_m);
    }
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), _mm512_broadcastss_ps(dd), *acc);
}

/* out[c * out_stride] = dot(the weight row w, activation row c) for c < cols (1..ROW_COLS):
 * each weight block is decoded once for all the columns. */
INLINE void row_dots(int type, int cols, const uint8_t *w, const char *act, size_t act_stride,
                     int64_t nb, float *out, size_t out_stride) {
    const size_t bsize = type == LK_Q6_K ? sizeof(lk_block_q6_K)
                         : type == LK_Q5_K ? sizeof(lk_block_q5_K) : sizeof(lk_block_q4_K);
    __m512 acc[ROW_COLS];
    __m256 acc_m[ROW_COLS];
    #pragma GCC unroll 16
    for (int c = 0; c < cols; c++) {
        acc[c] = _mm512_setzero_ps();
        acc_m[c] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < nb; i++, w += bsize) {
        prefetch_block(w + AHEAD, bsize);
        row_block b;
        decode_row_block(type, w, &b);
        #pragma GCC unroll 16
        for (int c = 0; c < cols; c++)
            dot_row_block(type, &b, act + (size_t)c * act_stride + i * ACT_BLOCK, &acc[c],
                          &acc_m[c]);
    }
    #pragma GCC unroll 16
    for (int c = 0; c < cols; c++) {
        float v = _mm512_reduce_add_ps(acc[c]);
        if (type != LK_Q6_K) v -= _mm512_reduce_add_ps(_mm512_zextps256_ps512(acc_m[c]));
        out[(size_t)c * out_stride] = v;
    }
}

/* Columns c0 .. c1 - 1 against every weight row, up to ROW_COLS columns per pass over a row. */
INLINE void gemm_rows(int type, int64_t nb, const char *w, size_t w_stride, int nr, const char *act,
                      size_t act_stride, int c0, int c1, float *out, size_t out_stride) {
    for (int c = c0; c < c1; c += ROW_COLS) {
        const char *a = act + (size_t)c * act_stride;
        float *o = out + (size_t)c * out_stride;
        for (int r = 0; r < nr; r++) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * w_stride;
            switch (c1 - c < ROW_COLS ? c1 - c : ROW_COLS) {
            case 1: row_dots(type, 1, wr, a, act_stride, nb, o + r, out_stride); break;
            case 2: row_dots(type, 2, wr, a, act_stride, nb, o + r, out_stride); break;
            case 3: row_dots(type, 3, wr, a, act_stride, nb, o + r, out_stride); break;
            case 4: row_dots(type, 4, wr, a, act_stride, nb, o + r, out_stride); break;
            case 5: row_dots(type, 5, wr, a, act_stride, nb, o + r, out_stride); break;
            default: row_dots(type, 6, wr, a, act_stride, nb, o + r, out_stride); break;
            }
        }
    }
}

/* ---- columns: a tile of weight rows against 16 transposed activation columns --------------- */

/* One super-block of 16 activation columns, transposed: lane c of each vector is column c. */
typedef struct act_cols {
    int32_t qs[64][COLS];    /* bytes 4p .. 4p + 3 of the quants */
    int32_t bs[8][COLS];     /* int16 pairs bsums[2k], bsums[2k + 1] */
    int32_t bs32[4][COLS];   /* int16 pairs of sums of 32: bsums[4k] + bsums[4k + 1], ... */
    float d[COLS];
} act_cols;

/* One super-block of one weight row, decoded for the column loop. */
typedef struct weight_block {
    _Alignas(64) uint8_t q[LK_QK_K]; /* levels, in element order */
    float scale[16];         /* d * (sc_j - sc_{j+2}), sc_j = 0 past the last sub-block */
    int32_t minpair[8];      /* int16 pairs times bs32 (Q4_K/Q5_K: mins) or bs (Q6_K: 32 sc) */
    float dmin;              /* factor of the min sums: dmin (Q4_K/Q5_K) or d (Q6_K) */
} weight_block;

/* Transpose 16 dwords of each of 16 sources (at src[i] + off) into dst[16][16]. */
static void transpose16(const char *const src[COLS], size_t off, int32_t (*dst)[COLS]) {
    __m512i r[16], a[16], b[16];
    #pragma GCC unroll 16
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(src[i] + off);
    #pragma GCC unroll 16
    for (int k = 0; k < 8; k++) {
        a[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
        a[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
    }
    #pragma GCC unroll 16
    for (int k = 0; k < 4; k++) { /* b[4k + m], 128-bit lane j: rows 4k..4k+3 at dword 4j + m */
        b[4 * k] = _mm512_unpacklo_epi64(a[4 * k], a[4 * k + 2]);
        b[4 * k + 1] = _mm512_unpackhi_epi64(a[4 * k], a[4 * k + 2]);
        b[4 * k + 2] = _mm512_unpacklo_epi64(a[4 * k + 1], a[4 * k + 3]);
        b[4 * k + 3] = _mm512_unpackhi_epi64(a[4 * k + 1], a[4 * k + 3]);
    }
    #pragma GCC unroll 16
    for (int m = 0; m < 4; m++) {
        const __m512i c0 = _mm512_shuffle_i32x4(b[m], b[4 + m], 0x88);
        const __m512i c1 = _mm512_shuffle_i32x4(b[m], b[4 + m], 0xDD);
        const __m512i d0 = _mm512_shuffle_i32x4(b[8 + m], b[12 + m], 0x88);
        const __m512i d1 = _mm512_shuffle_i32x4(b[8 + m], b[12 + m], 0xDD);
        _mm512_store_si512(dst[m], _mm512_shuffle_i32x4(c0, d0, 0x88));
        _mm512_store_si512(dst[4 + m], _mm512_shuffle_i32x4(c1, d1, 0x88));
        _mm512_store_si512(dst[8 + m], _mm512_shuffle_i32x4(c0, d0, 0xDD));
        _mm512_store_si512(dst[12 + m], _mm512_shuffle_i32x4(c1, d1, 0xDD));
    }
}

static const char zero_block[sizeof(lk_block_q8_K)]; /* the activations of a missing column */

/* Transpose super-blocks i0 .. i0 + n - 1 of ncols activation rows (the rest of the 16 lanes get
 * zeros) into buf. */
static void transpose_act(const char *act, size_t act_stride, int ncols, int64_t i0, int n,
                          act_cols *buf) {
    for (int i = 0; i < n; i++) {
        const char *src[COLS];
        for (int c = 0; c < COLS; c++)
            src[c] = c < ncols ? act + (size_t)c * act_stride + (i0 + i) * ACT_BLOCK : zero_block;
        act_cols *b = &buf[i];
        for (int t = 0; t < 4; t++) transpose16(src, ACT_QS + 64 * t, &b->qs[16 * t]);
        for (int c = 0; c < COLS; c++) {
            b->d[c] = load_f32(src[c] + ACT_D);
            for (int k = 0; k < 8; k++) b->bs[k][c] = (int32_t)load_u32(src[c] + ACT_BSUMS + 4 * k);
        }
        const __m512i ones = _mm512_set1_epi16(1), low = _mm512_set1_epi32(0xFFFF);
        for (int k = 0; k < 4; k++) {
            const __m512i s0 = _mm512_madd_epi16(_mm512_load_si512(b->bs[2 * k]), ones);
            const __m512i s1 = _mm512_madd_epi16(_mm512_load_si512(b->bs[2 * k + 1]), ones);
            _mm512_store_si512(b->bs32[k], _mm512_or_si512(_mm512_and_si512(s0, low),
                                                          _mm512_slli_epi32(s1, 16)));
        }
    }
}

/* Decode super-block w of a Q4_K (type) or Q5_K row. */
INLINE void decode_q45_K(int type, const uint8_t *w, weight_block *wb) {
    const size_t qs_off = type == LK_Q5_K ? 48 : 16;
    const __m512i qh2 = type == LK_Q5_K ? load_twice(w + 16) : _mm512_setzero_si512();
    #pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        __m512i lv = nibbles(w + qs_off + 32 * c);
        if (type == LK_Q5_K) lv = fifth_bits(lv, qh2, c);
        _mm512_store_si512(wb->q + 64 * c, lv);
    }
    uint64_t sc, m;
    unpack_scales(w + 4, &sc, &m);
    const float d = half_to_float(w);
    const __m256i sc32 = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc));
    const __m256i next2 = _mm256_alignr_epi32(_mm256_setzero_si256(), sc32, 2); /* sc_{j+2} */
    const __m256i diff = _mm256_sub_epi32(sc32, next2);
    _mm256_store_ps(wb->scale, _mm256_mul_ps(_mm256_cvtepi32_ps(diff), _mm256_set1_ps(d)));
    _mm_store_si128((__m128i *)wb->minpair, _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m)));
    wb->dmin = half_to_float(w + 2);
}

/* Decode super-block w of a Q6_K row. */
INLINE void decode_q6_K(const uint8_t *w, weight_block *wb) {
    #pragma GCC unroll 16
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512(w + 64 * h);
        const __m512i qh2 = load_twice(w + 128 + 32 * h);
        _mm512_store_si512(wb->q + 128 * h, q6_levels(ql, qh2, 0));
        _mm512_store_si512(wb->q + 128 * h + 64, q6_levels(ql, qh2, 1));
    }
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)(w + 192));
    const float d = half_to_float(w + 208);
    const __m512i sc32 = _mm512_cvtepi8_epi32(sc8);
    const __m512i next2 = _mm512_alignr_epi32(_mm512_setzero_si512(), sc32, 2); /* sc_{j+2} */
    const __m512i diff = _mm512_sub_epi32(sc32, next2);
    _mm512_store_ps(wb->scale, _mm512_mul_ps(_mm512_cvtepi32_ps(diff), _mm512_set1_ps(d)));
    _mm256_store_si256((__m256i *)wb->minpair, _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc8), 5));
    wb->dmin = d;
}

/* acc[r] (lane c) += row r . column c over one super-block, for rows = 1..TILE_ROWS decoded
 * weight blocks wb[0], wb[CHUNK], ... and the transposed activations a. Sub-blocks are `sub`
 * dwords (8 for Q4_K/Q5_K, 4 for Q6_K); the integer sum of each is scaled in float. */
INLINE void tile_block(int rows, int type, const weight_block *wb, const act_cols *a,
                       __m512 acc[TILE_ROWS]) {
    const int sub = type == LK_Q6_K ? 4 : 8, nsub = LK_QK_K / 4 / sub;
    const int npair = type == LK_Q6_K ? 8 : 4;
    /* Two chains per row, over the even and the odd sub-blocks, so that 2 * rows independent
     * vpdpbusd chains hide its latency. A chain is not reset between its sub-blocks: after
     * sub-block j it holds the running sum v_j, and sum_j sc_j (v_j - v_{j-2}) is taken as
     * sum_j v_j (sc_j - sc_{j+2}), the differences precomputed (scale[]). */
    __m512 t[TILE_ROWS];
    __m512i s0[TILE_ROWS], s1[TILE_ROWS];
    #pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
        s0[r] = _mm512_setzero_si512();
        s1[r] = _mm512_setzero_si512();
    }
    #pragma GCC unroll 16
    for (int j = 0; j < nsub; j += 2) {
        #pragma GCC unroll 16
        for (int p = j * sub; p < (j + 1) * sub; p++) {
            const __m512i x0 = _mm512_load_si512(a->qs[p]);
            const __m512i x1 = _mm512_load_si512(a->qs[p + sub]);
            #pragma GCC unroll 16
            for (int r = 0; r < rows; r++) {
                const uint8_t *q = wb[r * CHUNK].q;
                const __m512i w0 = _mm512_set1_epi32((int)load_u32(q + 4 * p));
                const __m512i w1 = _mm512_set1_epi32((int)load_u32(q + 4 * (p + sub)));
                s0[r] = _mm512_dpbusd_epi32(s0[r], w0, x0);
                s1[r] = _mm512_dpbusd_epi32(s1[r], w1, x1);
            }
        }
        #pragma GCC unroll 16
        for (int r = 0; r < rows; r++) {
            const __m512 f0 = _mm512_cvtepi32_ps(s0[r]), f1 = _mm512_cvtepi32_ps(s1[r]);
            const __m512 sc0 = _mm512_set1_ps(wb[r * CHUNK].scale[j]);
            const __m512 sc1 = _mm512_set1_ps(wb[r * CHUNK].scale[j + 1]);
            t[r] = j == 0 ? _mm512_mul_ps(f0, sc0) : _mm512_fmadd_ps(f0, sc0, t[r]);
            t[r] = _mm512_fmadd_ps(f1, sc1, t[r]);
        }
    }
    const __m512 da = _mm512_load_ps(a->d);
    #pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
        __m512i m = _mm512_setzero_si512();
        #pragma GCC unroll 16
        for (int k = 0; k < npair; k++) {
            const __m512i bs = _mm512_load_si512(type == LK_Q6_K ? a->bs[k] : a->bs32[k]);
            m = _mm512_dpwssd_epi32(m, bs, _mm512_set1_epi32(wb[r * CHUNK].minpair[k]));
        }
        t[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), _mm512_set1_ps(wb[r * CHUNK].dmin), t[r]);
        acc[r] = _mm512_fmadd_ps(t[r], da, acc[r]);
    }
}

/* Decode super-blocks i0 .. i0 + n - 1 of rows r0 .. r0 + rows - 1 into wb[r * CHUNK + i]. Kept
 * out of line so that the column loop reads the levels back from memory as broadcasts (a load
 * each) instead of extracting them from registers (two shuffles each). */
static __attribute__((noinline)) void decode_tile(int type, const char *w, size_t w_stride, int r0,
                                                  int rows, int64_t i0, int n, weight_block *wb) {
    const size_t bsize = type == LK_Q6_K ? sizeof(lk_block_q6_K)
                         : type == LK_Q5_K ? sizeof(lk_block_q5_K) : sizeof(lk_block_q4_K);
    for (int r = 0; r < rows; r++) {
        const uint8_t *blk = (const uint8_t *)w + (size_t)(r0 + r) * w_stride + (size_t)i0 * bsize;
        for (int i = 0; i < n; i++, blk += bsize) {
            if (type == LK_Q6_K)
                decode_q6_K(blk, &wb[r * CHUNK + i]);
            else if (type == LK_Q5_K)
                decode_q45_K(LK_Q5_K, blk, &wb[r * CHUNK + i]);
            else
                decode_q45_K(LK_Q4_K, blk, &wb[r * CHUNK + i]);
        }
    }
}

/* Rows r0 .. r0 + rows - 1, decoded in wb, over the n super-blocks of the chunk in a, added to
 * (or, when first, stored in) out for ncols columns. */
INLINE void tile_rows(int rows, int type, const weight_block *wb, int r0, int n, const act_cols *a,
                      int ncols, bool first, float *out, size_t out_stride) {
    __m512 acc[TILE_ROWS];
    #pragma GCC unroll 16
    for (int r = 0; r < rows; r++) acc[r] = _mm512_setzero_ps();
    for (int i = 0; i < n; i++) tile_block(rows, type, &wb[i], &a[i], acc);
    _Alignas(64) float res[TILE_ROWS][COLS];
    #pragma GCC unroll 16
    for (int r = 0; r < rows; r++) _mm512_store_ps(res[r], acc[r]);
    for (int c = 0; c < ncols; c++) {
        float *o = out + (size_t)c * out_stride + r0;
        for (int r = 0; r < rows; r++) o[r] = first ? res[r][c] : o[r] + res[r][c];
    }
}

/* Columns c0 .. c0 + ncols - 1 (ncols <= GROUPS * 16) against every weight row: each tile of
 * weight rows is decoded once and used for every group of 16 columns. */
INLINE void gemm_cols(int type, int64_t nb, const char *w, size_t w_stride, int nr, const char *act,
                      size_t act_stride, int c0, int ncols, float *out, size_t out_stride) {
    _Alignas(64) act_cols buf[GROUPS][CHUNK];
    _Alignas(64) weight_block wb[TILE_ROWS * CHUNK];
    const int groups = (ncols + COLS - 1) / COLS;
    act += (size_t)c0 * act_stride;
    out += (size_t)c0 * out_stride;
    for (int64_t i0 = 0; i0 < nb; i0 += CHUNK) {
        const int n = (int)(nb - i0 < CHUNK ? nb - i0 : CHUNK);
        const bool first = i0 == 0;
        for (int g = 0; g < groups; g++)
            transpose_act(act + (size_t)(COLS * g) * act_stride, act_stride,
                          LK_MIN(COLS, ncols - COLS * g), i0, n, buf[g]);
        int r = 0;
        for (; r + TILE_ROWS <= nr; r += TILE_ROWS) {
            decode_tile(type, w, w_stride, r, TILE_ROWS, i0, n, wb);
            for (int g = 0; g < groups; g++)
                tile_rows(TILE_ROWS, type, wb, r, n, buf[g], LK_MIN(COLS, ncols - COLS * g), first,
                          out + (size_t)(COLS * g) * out_stride, out_stride);
        }
        for (; r < nr; r++) {
            decode_tile(type, w, w_stride, r, 1, i0, n, wb);
            for (int g = 0; g < groups; g++)
                tile_rows(1, type, wb, r, n, buf[g], LK_MIN(COLS, ncols - COLS * g), first,
                          out + (size_t)(COLS * g) * out_stride, out_stride);
        }
    }
}

/* ---- entry points ---------------------------------------------------------------------------- */

/* Columns go through the column loop GROUPS * 16 at a time (a part of a group is zero-padded),
 * down to a rest of fewer than MIN_COLS, which goes through the row loop (as does everything
 * when n is 0, so that the outputs are still written, as zeros). */
INLINE void gemm_k(int type, int64_t n, const void *w, size_t w_stride, int nr, const void *act,
                   size_t act_stride, int nc, float *out, size_t out_stride) {
    const int64_t nb = n / LK_QK_K;
    int c = 0;
    while (nb > 0 && nc - c >= MIN_COLS) {
        int k = LK_MIN(nc - c, GROUPS * COLS);
        if (k % COLS != 0 && k % COLS < MIN_COLS) k -= k % COLS; /* a small rest: to the rows */
        gemm_cols(type, nb, w, w_stride, nr, act, act_stride, c, k, out, out_stride);
        c += k;
    }
    if (c < nc) gemm_rows(type, nb, w, w_stride, nr, act, act_stride, c, nc, out, out_stride);
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

void lk_register_k_avx512(lk_kernels *k) {
    k->gemm[LK_Q4_K] = gemm_q4_K;
    k->gemm[LK_Q5_K] = gemm_q5_K;
    k->gemm[LK_Q6_K] = gemm_q6_K;
}

#else

void lk_register_k_avx512(lk_kernels *k) {
    (void)k;
}

#endif

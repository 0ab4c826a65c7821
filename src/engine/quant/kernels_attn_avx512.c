/* kernels_attn_avx512.c — attention kernels over an f16 KV cache with AVX-512 (see kernels.h):
 * one token's group of heads (generation), and a block of tokens (prompt processing), whose
 * scores are computed with the queries across the lanes, so that nothing is summed across
 * lanes and each K and V row is widened once for all the block's queries. */
#include "engine/quant/kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>
#include "base/base.h"

#define INLINE static inline __attribute__((always_inline))

/* e^x for 16 floats, as Cephes' expf: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts),
 * e^r by a degree-6 polynomial, times 2^n with scalef, which rounds once into the subnormals
 * and overflows to inf. x is clamped to [-104, 89] first (e^-104 rounds to 0, e^89 to inf),
 * so -inf gives 0; the clamp keeps a NaN (min/max return their second operand then). */
INLINE __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
}

static void exp_f32(const float *x, float *y, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static float dot_f16(const uint16_t *k, const float *q, int n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 k0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k + i)));
        __m512 k1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k + i + 16)));
        a0 = _mm512_fmadd_ps(k0, _mm512_loadu_ps(q + i), a0);
        a1 = _mm512_fmadd_ps(k1, _mm512_loadu_ps(q + i + 16), a1);
    }
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(k + i))), _mm512_loadu_ps(q + i), a0);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++) s += lk_fp16_to_fp32(k[i]) * q[i];
    return s;
}

static void axpy_f16(float *y, float a, const uint16_t *v, int n) {
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(v + i)));
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, x, _mm512_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * lk_fp16_to_fp32(v[i]);
}

static void f32_to_f16(const float *x, uint16_t *y, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = lk_fp32_to_fp16(x[i]);
}

/* The lane sums of 16 vectors, as one vector: lane c holds the sum of v[c]'s 16 lanes. A tree of
 * in-lane unpacks and 128-bit lane shuffles: 45 instructions instead of 16 reductions. */
static inline __m512 hsum16(const __m512 *v) {
    __m512 t[8], u[4], w[2];
    for (int i = 0; i < 8; i++) /* per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] */
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) /* per 128-bit lane: the lane's sums of v[4i .. 4i+3] */
        u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], 0x44), _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], 0xEE));
    for (int i = 0; i < 2; i++) /* pairs of 128-bit lanes added */
        w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xDD));
}

/* The 16 partial sums of one head's q . k, for a K row widened into kf[nb]. */
static inline __m512 head_part(const __m512 *kf, const float *qi, int nb) {
    __m512 acc = _mm512_mul_ps(kf[0], _mm512_loadu_ps(qi));
    for (int b = 1; b < nb; b++) acc = _mm512_fmadd_ps(kf[b], _mm512_loadu_ps(qi + 16 * b), acc);
    return acc;
}

#define LK_ATTN_GROUPED
#include "engine/quant/kernels_attn_impl.h"

/* The g heads of a KV group together: each cell's K and V slice is widened from f16 once and
 * used for every head (GQA models share a KV head among 4 to 8 query heads). Scores for all
 * heads first, then a softmax per head, then V accumulated in registers for up to 16 x 16
 * floats of output at a time. Head sizes that are not a multiple of 16 (or above 256) take the
 * one-head loop. */
static void attn_f16(const float *q, int g, const uint16_t *k, const uint16_t *v, size_t stride,
                     const int *cells, int nc, int hd, float scale, float *scratch, float *out) {
    if (hd % 16 || hd > 256) {
        for (int i = 0; i < g; i++)
            attn_head(q + (size_t)i * hd, k, v, stride, cells, nc, hd, scale, scratch, out + (size_t)i * hd);
        return;
    }
    const int nb = hd / 16;
    int j0 = 0; /* the scores */
    if (g <= 16) { /* 16 cells at a time: their per-head partial sums reduced together */
        __m512 part[16 * 16]; /* [head][cell] */
        const __m512 vscale = _mm512_set1_ps(scale);
        for (; j0 + 16 <= nc; j0 += 16) {
            for (int c = 0; c < 16; c++) {
                const uint16_t *kr = k + (size_t)cells[j0 + c] * stride;
                __m512 kf[16];
                for (int b = 0; b < nb; b++) kf[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kr + 16 * b)));
                for (int i = 0; i < g; i++) part[i * 16 + c] = head_part(kf, q + (size_t)i * hd, nb);
            }
            for (int i = 0; i < g; i++)
                _mm512_storeu_ps(scratch + (size_t)i * nc + j0, _mm512_mul_ps(hsum16(part + i * 16), vscale));
        }
    }
    for (int j = j0; j < nc; j++) {
        const uint16_t *kr = k + (size_t)cells[j] * stride;
        __m512 kf[16];
        for (int b = 0; b < nb; b++) kf[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kr + 16 * b)));
        for (int i = 0; i < g; i++)
            scratch[(size_t)i * nc + j] = _mm512_reduce_add_ps(head_part(kf, q + (size_t)i * hd, nb)) * scale;
    }
    for (int i = 0; i < g; i++) { /* softmax per head, normalised in place */
        float *s = scratch + (size_t)i * nc, mx = -INFINITY, sum = 0;
        for (int j = 0; j < nc; j++) mx = s[j] > mx ? s[j] : mx;
        for (int j = 0; j < nc; j++) s[j] -= mx;
        exp_f32(s, s, nc);
        for (int j = 0; j < nc; j++) sum += s[j];
        float inv = 1.0f / sum;
        for (int j = 0; j < nc; j++) s[j] *= inv;
    }
    const int per = 16 / nb > 0 ? 16 / nb : 1; /* heads whose output fits 16 registers */
    for (int i0 = 0; i0 < g; i0 += per) {
        const int gi = g - i0 < per ? g - i0 : per;
        __m512 acc[16];
        for (int a = 0; a < gi * nb; a++) acc[a] = _mm512_setzero_ps();
        for (int j = 0; j < nc; j++) {
            const uint16_t *vr = v + (size_t)cells[j] * stride;
            __m512 vf[16];
            for (int b = 0; b < nb; b++) vf[b] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vr + 16 * b)));
            for (int i = 0; i < gi; i++) {
                const __m512 p = _mm512_set1_ps(scratch[(size_t)(i0 + i) * nc + j]);
                for (int b = 0; b < nb; b++) acc[i * nb + b] = _mm512_fmadd_ps(p, vf[b], acc[i * nb + b]);
            }
        }
        for (int i = 0; i < gi; i++)
            for (int b = 0; b < nb; b++) _mm512_storeu_ps(out + (size_t)(i0 + i) * hd + 16 * b, acc[i * nb + b]);
    }
}

/* ---- a block of tokens --------------------------------------------------------------------
 *
 * The block's queries (nt tokens x g heads, up to BL = 64 at a time) lie across the lanes of up
 * to 4 vectors: they are transposed once into qt[d][BL], and the output is summed transposed in
 * ot[d][BL]. The cells go BC at a time: their K rows are widened to f32 (kv[c][hd]) and each
 * score vector s[c] = scale * sum_d K_c[d] * qt[d] takes one broadcast FMA per element; the
 * softmax is online (per lane a running maximum and sum; what was summed is rescaled when the
 * maximum grows), every step of it lane by lane; then the V rows are widened into the same
 * buffer and ot[d] += sum_c V_c[d] * p[c]. A token's limit nc[t] masks its lanes to -inf. */
enum { BL = 64, BC = 24, BHD = 128 };

/* s[c][BL] = scale * kf[c] · qt for C cells (c0 + c in the block's list) and V lane vectors; -inf
 * in the lanes of tokens that do not see the cell. */
INLINE void block_scores(int C, int V, const float *kf, int hd, const float *qt, float scale, int c0,
                         const __m512i *ncl, float *s) {
    __m512 acc[24][4];
#pragma GCC unroll 24
    for (int c = 0; c < C; c++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) acc[c][v] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m512 qv[4];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) qv[v] = _mm512_load_ps(qt + (size_t)d * BL + 16 * v);
#pragma GCC unroll 24
        for (int c = 0; c < C; c++) {
            const __m512 kc = _mm512_set1_ps(kf[(size_t)c * hd + d]);
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) acc[c][v] = _mm512_fmadd_ps(kc, qv[v], acc[c][v]);
        }
    }
    const __m512 vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 24
    for (int c = 0; c < C; c++) {
        const __m512i cc = _mm512_set1_epi32(c0 + c);
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            const __mmask16 sees = _mm512_cmpgt_epi32_mask(ncl[v], cc);
            _mm512_store_ps(s + (size_t)c * BL + 16 * v, _mm512_mask_mul_ps(ninf, sees, acc[c][v], vs));
        }
    }
}

/* The online softmax over BC rows of scores, lane by lane: the new maximum mx, the factor alpha
 * for what was summed before, s[c] = e^(s[c] - mx) in place, and the running sums. A lane
 * that has seen no cell yet keeps mx = -inf (and subtracts 0, so that its e^-inf stay 0). */
INLINE void block_softmax(int V, float *s, __m512 *mx, __m512 *sum, __m512 *alpha) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 4
    for (int v = 0; v < V; v++) {
        __m512 bm = ninf;
        for (int c = 0; c < BC; c++) bm = _mm512_max_ps(bm, _mm512_load_ps(s + (size_t)c * BL + 16 * v));
        const __m512 mn = _mm512_max_ps(mx[v], bm);
        const __m512 ms = _mm512_mask_mov_ps(mn, _mm512_cmp_ps_mask(mn, ninf, _CMP_EQ_OQ), _mm512_setzero_ps());
        alpha[v] = exp16(_mm512_sub_ps(mx[v], ms));
        __m512 bs = _mm512_setzero_ps();
        for (int c = 0; c < BC; c++) {
            float *sc = s + (size_t)c * BL + 16 * v;
            const __m512 p = exp16(_mm512_sub_ps(_mm512_load_ps(sc), ms));
            _mm512_store_ps(sc, p);
            bs = _mm512_add_ps(bs, p);
        }
        sum[v] = _mm512_fmadd_ps(sum[v], alpha[v], bs);
        mx[v] = mn;
    }
}

/* ot[d][BL] = ot[d] * alpha + sum_{c < nc} vf[c][d] * p[c] for D rows d of ot and V lane vectors
 * (vf and ot start at the first of the D rows). */
INLINE void block_values(int D, int V, const float *vf, int hd, int nc, const float *p, const __m512 *alpha,
                         float *ot) {
    __m512 acc[16][4];
#pragma GCC unroll 16
    for (int d = 0; d < D; d++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) acc[d][v] = _mm512_mul_ps(_mm512_load_ps(ot + (size_t)d * BL + 16 * v), alpha[v]);
    for (int c = 0; c < nc; c++) {
        __m512 pv[4];
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) pv[v] = _mm512_load_ps(p + (size_t)c * BL + 16 * v);
#pragma GCC unroll 16
        for (int d = 0; d < D; d++) {
            const __m512 vc = _mm512_set1_ps(vf[(size_t)c * hd + d]);
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) acc[d][v] = _mm512_fmadd_ps(vc, pv[v], acc[d][v]);
        }
    }
#pragma GCC unroll 16
    for (int d = 0; d < D; d++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) _mm512_store_ps(ot + (size_t)d * BL + 16 * v, acc[d][v]);
}

/* rows[j][hd] = the f16 rows of cells list[0..n) widened to f32; rows n..BC zero. */
static void widen_rows(const uint16_t *base, size_t stride, const int *list, int n, int hd, float *rows) {
    for (int j = 0; j < n; j++) {
        const uint16_t *r = base + (size_t)list[j] * stride;
        for (int b = 0; b < hd; b += 16)
            _mm512_store_ps(rows + (size_t)j * hd + b, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + b))));
    }
    if (n < BC) memset(rows + (size_t)n * hd, 0, (size_t)(BC - n) * hd * sizeof(float));
}

/* The cells 0..cmax of the block's list for V lane vectors of queries (qt, ncl): ot gets the
 * unnormalised output, sums the softmax denominators. Tiles of C cells x V vectors for the
 * scores and D rows x V vectors for the output keep 16 to 24 accumulators in registers. */
INLINE void block_run(int V, const float *qt, const __m512i *ncl, int cmax, const uint16_t *k, const uint16_t *v,
                      size_t stride, const int *cells, int hd, float scale, float *kv, float *s, float *ot,
                      float *sums) {
    const int C = V == 4 ? 6 : V == 3 ? 8 : V == 2 ? 12 : 24;
    const int D = V == 4 ? 4 : V >= 2 ? 8 : 16;
    __m512 mx[4], sum[4], alpha[4];
    for (int i = 0; i < V; i++) mx[i] = _mm512_set1_ps(-INFINITY), sum[i] = _mm512_setzero_ps();
    for (int c0 = 0; c0 < cmax; c0 += BC) {
        const int cb = LK_MIN(BC, cmax - c0);
        widen_rows(k, stride, cells + c0, cb, hd, kv);
        for (int c = 0; c < BC; c += C) {
            if (c < cb) {
                block_scores(C, V, kv + (size_t)c * hd, hd, qt, scale, c0 + c, ncl, s + (size_t)c * BL);
            } else { /* past the list: seen by no one */
                for (int j = c; j < c + C; j++)
                    for (int i = 0; i < V; i++) _mm512_store_ps(s + (size_t)j * BL + 16 * i, _mm512_set1_ps(-INFINITY));
            }
        }
        block_softmax(V, s, mx, sum, alpha);
        widen_rows(v, stride, cells + c0, cb, hd, kv);
        for (int d0 = 0; d0 < hd; d0 += D) block_values(D, V, kv + d0, hd, cb, s, alpha, ot + (size_t)d0 * BL);
    }
    for (int i = 0; i < V; i++) _mm512_store_ps(sums + 16 * i, sum[i]);
}

static void attn_f16_block(const float *q, size_t q_stride, int nt, int g, const uint16_t *k,
                           const uint16_t *v, size_t stride, const int *cells, const int *nc, int hd,
                           float scale, float *scratch, float *out, size_t out_stride) {
    if (nt * g < 8 || hd % 16 || hd > BHD) { /* too few queries for the lanes, or a head size it does not take */
        for (int t = 0; t < nt; t++)
            attn_f16(q + (size_t)t * q_stride, g, k, v, stride, cells, nc[t], hd, scale, scratch,
                     out + (size_t)t * out_stride);
        return;
    }
    float qt[BHD * BL] __attribute__((aligned(64))), ot[BHD * BL] __attribute__((aligned(64)));
    float kv[BC * BHD] __attribute__((aligned(64))), s[BC * BL] __attribute__((aligned(64)));
    float sums[BL] __attribute__((aligned(64)));
    int32_t ncl[BL] __attribute__((aligned(64)));
    const int nq = nt * g;
    for (int l0 = 0; l0 < nq; l0 += BL) { /* lane l is query l0 + l: token (l0 + l) / g, head (l0 + l) % g */
        const int nl = LK_MIN(BL, nq - l0), V = (nl + 15) / 16;
        int cmax = 0;
        for (int l = 0; l < 16 * V; l++) {
            if (l < nl) {
                const int t = (l0 + l) / g, i = (l0 + l) % g;
                const float *qr = q + (size_t)t * q_stride + (size_t)i * hd;
                for (int d = 0; d < hd; d++) qt[(size_t)d * BL + l] = qr[d];
                ncl[l] = nc[t];
                cmax = LK_MAX(cmax, nc[t]);
            } else {
                for (int d = 0; d < hd; d++) qt[(size_t)d * BL + l] = 0;
                ncl[l] = 0;
            }
        }
        for (int d = 0; d < hd; d++) memset(ot + (size_t)d * BL, 0, (size_t)V * 16 * sizeof(float));
        __m512i nclv[4];
        for (int i = 0; i < V; i++) nclv[i] = _mm512_load_si512(ncl + 16 * i);
        switch (V) {
        case 1: block_run(1, qt, nclv, cmax, k, v, stride, cells, hd, scale, kv, s, ot, sums); break;
        case 2: block_run(2, qt, nclv, cmax, k, v, stride, cells, hd, scale, kv, s, ot, sums); break;
        case 3: block_run(3, qt, nclv, cmax, k, v, stride, cells, hd, scale, kv, s, ot, sums); break;
        default: block_run(4, qt, nclv, cmax, k, v, stride, cells, hd, scale, kv, s, ot, sums); break;
        }
        for (int l = 0; l < nl; l++) {
            const int t = (l0 + l) / g, i = (l0 + l) % g;
            float *o = out + (size_t)t * out_stride + (size_t)i * hd;
            const float inv = sums[l] > 0 ? 1.0f / sums[l] : 0.0f;
            for (int d = 0; d < hd; d++) o[d] = ot[(size_t)d * BL + l] * inv;
        }
    }
}

void lk_register_attn_avx512(lk_kernels *k) {
    k->f32_to_f16 = f32_to_f16;
    k->attn_f16 = attn_f16;
    k->attn_f16_block = attn_f16_block;
    k->exp_f32 = exp_f32;
}
#else
void lk_register_attn_avx512(lk_kernels *k) { (void)k; }
#endif

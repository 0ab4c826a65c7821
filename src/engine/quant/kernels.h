/* kernels.h — the compute kernels behind matmul: activation quantization and blocked dot
 * products, one set per instruction-set path (scalar, AVX2, AVX-512), chosen once at start-up.
 *
 * A matmul multiplies weight rows (in the file's type) by activation rows. For quantized
 * weights the activations are first converted to an 8-bit block type, as ggml does, so that the
 * inner loop is integer multiply-adds:
 *
 *     weights            activations (lk_act_type)
 *     q4_0 q5_0 q8_0     q8_0   (ggml's block_q8_0: fp16 d, 32 x int8)
 *     q4_1 q5_1          q8_1   (ggml's block_q8_1: fp16 d, fp16 s = d * sum(qs), 32 x int8)
 *     q4_K q5_K q6_K     q8_K   (ggml's block_q8_K: float d, 256 x int8, 16 x int16 sums of 16)
 *     f32 f16 bf16       f32    (no conversion: the weights are widened to f32 in registers)
 *
 * Every kernel has a scalar reference (kernels_scalar.c); the SIMD paths must give the same
 * result up to float summation order, and tests/unit/test_kernels.c checks each path against
 * the scalar one on random data. The files *_avx2.c and *_avx512.c are compiled with the
 * matching -m flags (see the Makefile) and only called when cpuid says the CPU has them. */
#ifndef LK_KERNELS_H
#define LK_KERNELS_H

#include "engine/quant/quant.h"

/* Activation block types, as ggml lays them out. */
typedef struct lk_block_q8_1 {
    uint8_t d[2];        /* fp16 scale */
    uint8_t s[2];        /* fp16 d * sum(qs) */
    int8_t qs[LK_QK];
} lk_block_q8_1;
_Static_assert(sizeof(lk_block_q8_1) == 36, "q8_1 block size");

typedef struct lk_block_q8_K {
    float d;
    int8_t qs[LK_QK_K];
    int16_t bsums[LK_QK_K / 16]; /* sums of each group of 16 qs */
} lk_block_q8_K;
_Static_assert(sizeof(lk_block_q8_K) == 292, "q8_K block size");

/* out[c * out_stride + r] = dot(weight row r, activation row c) for r < nr, c < nc.
 * Weight row r starts at (const char *)w + r * w_stride; activation row c at
 * (const char *)act + c * act_stride (bytes); both hold n elements (a whole number of blocks).
 * out_stride is in floats. */
typedef void (*lk_gemm_fn)(int64_t n, const void *w, size_t w_stride, int nr,
                           const void *act, size_t act_stride, int nc,
                           float *out, size_t out_stride);

/* Convert n floats (a whole number of blocks) to an activation block type. */
typedef void (*lk_act_fn)(const float *x, void *dst, int64_t n);

typedef struct lk_kernels {
    const char *name;                  /* "scalar", "avx2", "avx512" */
    lk_gemm_fn gemm[LK_QTYPE_COUNT];   /* by weight type; NULL where the engine has none */
    lk_act_fn act[LK_QTYPE_COUNT];     /* by activation type (q8_0, q8_1, q8_K) */
    /* the f16 KV cache (kernels_attn*.c) */
    void (*f32_to_f16)(const float *x, uint16_t *y, int n);         /* round to nearest even */
    /* For each of g query heads that share one KV head (GQA): out[i][hd] = softmax(scale *
     * q[i] · K_c) · V_c over the cells c = cells[0..nc), q and out holding the g heads one after
     * another; K_c at k + c * stride, V_c at v + c * stride (f16 elements); scratch holds
     * g * nc floats. */
    void (*attn_f16)(const float *q, int g, const uint16_t *k, const uint16_t *v, size_t stride,
                     const int *cells, int nc, int hd, float scale, float *scratch, float *out);
    /* attn_f16 for nt tokens at once (a block of a prompt): token t's g heads are at
     * q + t * q_stride and out + t * out_stride (floats), and it sees the cells cells[0..nc[t]),
     * a prefix of the list. Each K and V row is widened once for every token and head; scratch
     * holds g * max(nc) floats (for the shapes that go token by token). */
    void (*attn_f16_block)(const float *q, size_t q_stride, int nt, int g, const uint16_t *k,
                           const uint16_t *v, size_t stride, const int *cells, const int *nc, int hd,
                           float scale, float *scratch, float *out, size_t out_stride);
    /* y[i] = e^x[i], the softmax's exponential: expf on the scalar path; the AVX-512 one is
     * within 1 ulp of glibc's expf on all 2^32 inputs (0 for -inf, inf past 88.72, NaN kept). */
    void (*exp_f32)(const float *x, float *y, int n);
} lk_kernels;

enum lk_simd { LK_SIMD_SCALAR = 0, LK_SIMD_AVX2 = 1, LK_SIMD_AVX512 = 2 };

/* The kernels in use: the best path the CPU has, chosen once (thread-safe), unless the
 * environment variable LLMKIT_SIMD=scalar|avx2|avx512 asks for another (a path the CPU lacks
 * falls back to the best it has, with a warning). */
const lk_kernels *lk_kernels_active(void);

/* The kernels of one path, or NULL when this CPU cannot run it. For tests and benchmarks. */
const lk_kernels *lk_kernels_get(enum lk_simd path);

/* Make a path the active one (tests, `--simd`); LK_EUNSUPPORTED when the CPU lacks it. */
int lk_kernels_force(enum lk_simd path);

/* The activation type for weights of wtype (LK_F32 for float weights). */
uint32_t lk_act_type(uint32_t wtype);

/* Bytes of an activation row of n elements for weights of wtype. */
size_t lk_act_row_size(uint32_t wtype, int64_t n);

/* ---- how the tables are built ----
 * The table of a path starts as the scalar table, then the path's files fill in the entries they
 * have. Each file registers its kernels with one function:
 *   kernels_scalar.c    lk_register_scalar     float and legacy types, q8_0/q8_1/q8_K activations
 *   kernels_k_scalar.c  lk_register_k_scalar   q4_K q5_K q6_K
 *   kernels_avx2.c      lk_register_avx2       kernels_k_avx2.c    lk_register_k_avx2
 *   kernels_avx512.c    lk_register_avx512     kernels_k_avx512.c  lk_register_k_avx512 */
void lk_register_scalar(lk_kernels *k);
void lk_register_k_scalar(lk_kernels *k);
void lk_register_avx2(lk_kernels *k);
void lk_register_k_avx2(lk_kernels *k);
void lk_register_avx512(lk_kernels *k);
void lk_register_k_avx512(lk_kernels *k);
void lk_register_attn_scalar(lk_kernels *k);  /* kernels_attn.c */
void lk_register_attn_avx2(lk_kernels *k);    /* kernels_attn_avx2.c */
void lk_register_attn_avx512(lk_kernels *k);  /* kernels_attn_avx512.c */

#endif

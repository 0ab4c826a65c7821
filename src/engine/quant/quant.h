/* quant.h — weight types: block layouts, (de)quantization and dot products.
 *
 * Weights stay in the type they have in the GGUF file; a row of a weight matrix is a run of
 * blocks, and every kernel here works on whole rows. Type numbers and block layouts are exactly
 * ggml's (ggml-common.h), so dequantizing a block gives bit-for-bit the floats ggml gives.
 * Each type has a scalar reference here; SIMD paths (a later issue) sit beside them and are
 * tested against them. */
#ifndef LK_QUANT_H
#define LK_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* ggml type numbers (the values stored in GGUF tensor infos). */
enum lk_qtype {
    LK_F32 = 0, LK_F16 = 1, LK_Q4_0 = 2, LK_Q4_1 = 3, LK_Q5_0 = 6, LK_Q5_1 = 7, LK_Q8_0 = 8,
    LK_Q8_1 = 9, LK_Q2_K = 10, LK_Q3_K = 11, LK_Q4_K = 12, LK_Q5_K = 13, LK_Q6_K = 14,
    LK_Q8_K = 15, LK_IQ2_XXS = 16, LK_IQ2_XS = 17, LK_IQ3_XXS = 18, LK_IQ1_S = 19,
    LK_IQ4_NL = 20, LK_IQ3_S = 21, LK_IQ2_S = 22, LK_IQ4_XS = 23, LK_I8 = 24, LK_I16 = 25,
    LK_I32 = 26, LK_I64 = 27, LK_F64 = 28, LK_IQ1_M = 29, LK_BF16 = 30, LK_TQ1_0 = 34,
    LK_TQ2_0 = 35, LK_MXFP4 = 39, LK_NVFP4 = 40, LK_Q1_0 = 41, LK_Q2_0 = 42,
    LK_QTYPE_COUNT = 64
};

/* Block layouts, byte for byte as ggml lays them out. Every field is a byte array, so a block
 * has alignment 1 and may sit at any address (a GGUF file may set general.alignment to 1); the
 * fp16 fields ("fp16" below) are little-endian IEEE halves, read with lk_fp16_to_fp32. A row of
 * n elements is n / block_size blocks back to back.
 *
 * The legacy types hold 32 elements; element j (0..15) is in the low nibble of qs[j] and element
 * j + 16 in its high nibble. A 5-bit type keeps the fifth bit of element e in bit e of qh, read as
 * a little-endian uint32. */
#define LK_QK 32    /* elements in a legacy block */
#define LK_QK_K 256 /* elements in a K-quant super-block */

typedef struct lk_block_q8_0 {
    uint8_t d[2];        /* fp16 scale */
    int8_t qs[LK_QK];    /* x = qs * d */
} lk_block_q8_0;

typedef struct lk_block_q4_0 {
    uint8_t d[2];          /* fp16 scale */
    uint8_t qs[LK_QK / 2]; /* x = (nibble - 8) * d */
} lk_block_q4_0;

typedef struct lk_block_q4_1 {
    uint8_t d[2];          /* fp16 scale */
    uint8_t m[2];          /* fp16 minimum */
    uint8_t qs[LK_QK / 2]; /* x = nibble * d + m */
} lk_block_q4_1;

typedef struct lk_block_q5_0 {
    uint8_t d[2];          /* fp16 scale */
    uint8_t qh[4];         /* fifth bits */
    uint8_t qs[LK_QK / 2]; /* x = ((qh bit << 4 | nibble) - 16) * d */
} lk_block_q5_0;

typedef struct lk_block_q5_1 {
    uint8_t d[2];          /* fp16 scale */
    uint8_t m[2];          /* fp16 minimum */
    uint8_t qh[4];         /* fifth bits */
    uint8_t qs[LK_QK / 2]; /* x = (qh bit << 4 | nibble) * d + m */
} lk_block_q5_1;

/* Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales sc[j] and mins m[j] packed in 12 bytes:
 * for j < 4, sc[j] = scales[j] & 63 and m[j] = scales[j + 4] & 63; for j >= 4, the low four bits
 * are the low and high nibbles of scales[j + 4] and the top two are the top two bits of
 * scales[j - 4] (sc) and scales[j] (m). x = (d * sc) * q - (dmin * m), each product a float.
 * Elements 64c .. 64c + 31 are the low nibbles of qs[32c .. 32c + 31], elements 64c + 32 ..
 * 64c + 63 their high nibbles; Q5_K adds bit 2c (first half) or 2c + 1 (second half) of
 * qh[l] as the fifth bit of element 64c + l or 64c + 32 + l. */
typedef struct lk_block_q4_K {
    uint8_t d[2];              /* fp16 scale of the 6-bit scales */
    uint8_t dmin[2];           /* fp16 scale of the 6-bit mins */
    uint8_t scales[12];        /* packed 6-bit scales and mins */
    uint8_t qs[LK_QK_K / 2];   /* 4-bit quants */
} lk_block_q4_K;

typedef struct lk_block_q5_K {
    uint8_t d[2];              /* fp16 scale of the 6-bit scales */
    uint8_t dmin[2];           /* fp16 scale of the 6-bit mins */
    uint8_t scales[12];        /* packed 6-bit scales and mins */
    uint8_t qh[LK_QK_K / 8];   /* fifth bits */
    uint8_t qs[LK_QK_K / 2];   /* low 4 bits */
} lk_block_q5_K;

/* Q6_K: 16 sub-blocks of 16 with int8 scales; x = (d * scales[e / 16]) * (q - 32). In each half
 * h of 128 elements, element 128h + 32g + l (g = 0..3, l = 0..31) has its low four bits in
 * ql[64h + l + 32 (g & 1)] (low nibble for g < 2, high for g >= 2) and its top two bits in
 * bits 2g, 2g + 1 of qh[32h + l]. */
typedef struct lk_block_q6_K {
    uint8_t ql[LK_QK_K / 2];       /* low 4 bits */
    uint8_t qh[LK_QK_K / 4];       /* high 2 bits */
    int8_t scales[LK_QK_K / 16];   /* 8-bit scales */
    uint8_t d[2];                  /* fp16 super-block scale */
} lk_block_q6_K;

_Static_assert(sizeof(lk_block_q8_0) == 34, "q8_0 block is 34 bytes");
_Static_assert(sizeof(lk_block_q4_0) == 18, "q4_0 block is 18 bytes");
_Static_assert(sizeof(lk_block_q4_1) == 20, "q4_1 block is 20 bytes");
_Static_assert(sizeof(lk_block_q5_0) == 22, "q5_0 block is 22 bytes");
_Static_assert(sizeof(lk_block_q5_1) == 24, "q5_1 block is 24 bytes");
_Static_assert(sizeof(lk_block_q4_K) == 144, "q4_K block is 144 bytes");
_Static_assert(sizeof(lk_block_q5_K) == 176, "q5_K block is 176 bytes");
_Static_assert(sizeof(lk_block_q6_K) == 210, "q6_K block is 210 bytes");

typedef struct lk_qtype_info {
    const char *name;      /* "q4_K", as ggml names it; NULL for unused numbers */
    int block_size;        /* elements per block */
    size_t type_size;      /* bytes per block */
    bool engine;           /* the engine can compute with it (dequantize + dot) */
} lk_qtype_info;

/* Traits of a type number; for a number ggml does not define, name is NULL. Layout is known
 * for every ggml type so that files with other types can still be read and listed. */
const lk_qtype_info *lk_qtype(uint32_t type);

/* Parse a type name as in ggml ("f32", "q4_K", "Q4_K" and "q4_k" all accepted). -1 if unknown. */
int lk_qtype_from_name(const char *name);

/* Bytes in a row of n elements (n must be a multiple of the block size; a trailing partial
 * block is not counted). 0 for a type number ggml does not define. */
size_t lk_row_size(uint32_t type, int64_t n);

/* Dequantize n elements (a multiple of the block size) to floats, bit for bit as ggml does.
 * Engine types only: for any other type, and for a trailing partial block, the floats are 0. */
void lk_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* Quantize n floats to type (an engine type). The reference quantizers: for the K-quants they
 * search scales and mins per sub-block as ggml's reference does, to keep error low. Q8_0, Q4_0,
 * Q4_1, Q5_0 and Q5_1 give the same bytes as ggml's quantize_row_*_ref; F16 and BF16 round to
 * nearest even. NaN inputs give some block, never undefined behaviour. For a type that is not
 * an engine type, and for a trailing partial block, nothing is written. */
void lk_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* Scalar dot product of a weight row (n elements of type) with float activations x[n]: the
 * reference the SIMD kernels are tested against. Each block is dequantized exactly as
 * lk_dequantize_row does, its products are summed in float, and the block sums are added up
 * in double (float types go 32 elements at a time). 0 for a type that is not an engine type. */
float lk_vec_dot(uint32_t type, const void *row, const float *x, int64_t n);

#endif

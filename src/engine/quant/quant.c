/* quant.c — the table of ggml weight types and the row functions that dispatch on it.
 *
 * Every type number ggml defines has a name, a block size and a block byte size here, so a
 * GGUF file can be read and listed whatever its types; the engine types also have kernels
 * (quant_ref.c, quant_k.c). Row functions split a row into whole blocks and hand them to the
 * kernel of the type; they trust their sizes (callers validate) but never read or write past
 * n elements and never abort. */
#include "engine/quant/quant_ref.h"
#include <ctype.h>

static const lk_qtype_info types[LK_QTYPE_COUNT] = {
    [LK_F32] = { "f32", 1, 4, true },
    [LK_F16] = { "f16", 1, 2, true },
    [LK_Q4_0] = { "q4_0", 32, 18, true },
    [LK_Q4_1] = { "q4_1", 32, 20, true },
    [LK_Q5_0] = { "q5_0", 32, 22, true },
    [LK_Q5_1] = { "q5_1", 32, 24, true },
    [LK_Q8_0] = { "q8_0", 32, 34, true },
    [LK_Q8_1] = { "q8_1", 32, 36, false },
    [LK_Q2_K] = { "q2_K", 256, 84, false },
    [LK_Q3_K] = { "q3_K", 256, 110, false },
    [LK_Q4_K] = { "q4_K", 256, 144, true },
    [LK_Q5_K] = { "q5_K", 256, 176, true },
    [LK_Q6_K] = { "q6_K", 256, 210, true },
    [LK_Q8_K] = { "q8_K", 256, 292, false },
    [LK_IQ2_XXS] = { "iq2_xxs", 256, 66, false },
    [LK_IQ2_XS] = { "iq2_xs", 256, 74, false },
    [LK_IQ3_XXS] = { "iq3_xxs", 256, 98, false },
    [LK_IQ1_S] = { "iq1_s", 256, 50, false },
    [LK_IQ4_NL] = { "iq4_nl", 32, 18, false },
    [LK_IQ3_S] = { "iq3_s", 256, 110, false },
    [LK_IQ2_S] = { "iq2_s", 256, 82, false },
    [LK_IQ4_XS] = { "iq4_xs", 256, 136, false },
    [LK_I8] = { "i8", 1, 1, false },
    [LK_I16] = { "i16", 1, 2, false },
    [LK_I32] = { "i32", 1, 4, false },
    [LK_I64] = { "i64", 1, 8, false },
    [LK_F64] = { "f64", 1, 8, false },
    [LK_IQ1_M] = { "iq1_m", 256, 56, false },
    [LK_BF16] = { "bf16", 1, 2, true },
    [LK_TQ1_0] = { "tq1_0", 256, 54, false },
    [LK_TQ2_0] = { "tq2_0", 256, 66, false },
    [LK_MXFP4] = { "mxfp4", 32, 17, false },
    [LK_NVFP4] = { "nvfp4", 64, 36, false },
    [LK_Q1_0] = { "q1_0", 128, 18, false },
    [LK_Q2_0] = { "q2_0", 64, 18, false },
};

/* The kernels of the engine types; NULL for every other number. */
static const struct kernel {
    quant_dequantize_fn *dequantize;
    quant_quantize_fn *quantize;
} kernels[LK_QTYPE_COUNT] = {
    [LK_F32] = { quant_dequantize_f32, quant_quantize_f32 },
    [LK_F16] = { quant_dequantize_f16, quant_quantize_f16 },
    [LK_BF16] = { quant_dequantize_bf16, quant_quantize_bf16 },
    [LK_Q8_0] = { quant_dequantize_q8_0, quant_quantize_q8_0 },
    [LK_Q4_0] = { quant_dequantize_q4_0, quant_quantize_q4_0 },
    [LK_Q4_1] = { quant_dequantize_q4_1, quant_quantize_q4_1 },
    [LK_Q5_0] = { quant_dequantize_q5_0, quant_quantize_q5_0 },
    [LK_Q5_1] = { quant_dequantize_q5_1, quant_quantize_q5_1 },
    [LK_Q4_K] = { quant_dequantize_q4_K, quant_quantize_q4_K },
    [LK_Q5_K] = { quant_dequantize_q5_K, quant_quantize_q5_K },
    [LK_Q6_K] = { quant_dequantize_q6_K, quant_quantize_q6_K },
};

static const lk_qtype_info undefined_type = { NULL, 0, 0, false };

const lk_qtype_info *lk_qtype(uint32_t type) {
    if (type >= LK_QTYPE_COUNT || !types[type].name) return &undefined_type;
    return &types[type];
}

static bool same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

int lk_qtype_from_name(const char *name) {
    if (!name) return -1;
    for (int t = 0; t < LK_QTYPE_COUNT; t++)
        if (types[t].name && same_name(types[t].name, name)) return t;
    return -1;
}

size_t lk_row_size(uint32_t type, int64_t n) {
    const lk_qtype_info *info = lk_qtype(type);
    if (!info->name || n <= 0) return 0;
    return (size_t)(n / info->block_size) * info->type_size;
}

/* The kernel of an engine type, or NULL. */
static const struct kernel *kernel_of(uint32_t type) {
    if (type >= LK_QTYPE_COUNT || !kernels[type].dequantize) return NULL;
    return &kernels[type];
}

void lk_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    if (n <= 0) return;
    const struct kernel *k = kernel_of(type);
    int64_t done = 0;
    if (k) {
        const int64_t nb = n / types[type].block_size;
        k->dequantize(src, dst, nb);
        done = nb * types[type].block_size;
    }
    for (int64_t i = done; i < n; i++) dst[i] = 0.0f;
}

void lk_quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    const struct kernel *k = kernel_of(type);
    if (!k || n <= 0) return;
    k->quantize(src, dst, n / types[type].block_size);
}

/* Elements dequantized at a time by lk_vec_dot: one block, or 32 elements of a float type. */
static int dot_step(uint32_t type) {
    const int bs = types[type].block_size;
    return bs == 1 ? 32 : bs;
}

float lk_vec_dot(uint32_t type, const void *row, const float *x, int64_t n) {
    const struct kernel *k = kernel_of(type);
    if (!k || n <= 0) return 0.0f;
    const int step = dot_step(type);
    const int bs = types[type].block_size;
    const size_t step_bytes = (size_t)(step / bs) * types[type].type_size;
    const uint8_t *p = row;
    float w[LK_QK_K];
    double sum = 0;
    int64_t i = 0;
    for (; i + step <= n; i += step, p += step_bytes) {
        k->dequantize(p, w, step / bs);
        float s = 0;
        for (int j = 0; j < step; j++) s += w[j] * x[i + j];
        sum += s;
    }
    if (bs == 1 && i < n) { /* a float type's last, shorter run */
        const int rest = (int)(n - i);
        k->dequantize(p, w, rest);
        float s = 0;
        for (int j = 0; j < rest; j++) s += w[j] * x[i + j];
        sum += s;
    }
    return (float)sum;
}

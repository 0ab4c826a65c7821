/* test_quant.c — the weight types: type table, half floats, (de)quantization and dot products.
 *
 * Dequantization is checked against small decoders written here straight from ggml's bit
 * layouts (one element at a time, reading bit fields at absolute byte offsets, with no use of
 * the block structs) on many random blocks, and against hand-built blocks whose values are
 * worked out in the comments. Quantization is checked by round-trip error on N(0,1) data, by
 * exactness on data the format can represent, and by what it does with zeros and NaN. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "testutil.h"

#include "base/base.h"
#include "engine/quant/quant.h"
#include <math.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* n bits starting at bit `bit` of buf, least significant bit of each byte first. */
static unsigned bits_at(const uint8_t *buf, int bit, int n) {
    unsigned v = 0;
    for (int k = 0; k < n; k++) v |= (unsigned)((buf[(bit + k) / 8] >> ((bit + k) % 8)) & 1) << k;
    return v;
}

static float float_of_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Assert got[i] == want[i] for all i (0 == -0), naming the first index that differs. */
static void assert_floats(const float *got, const float *want, int n) {
    for (int i = 0; i < n; i++) {
        if (got[i] != want[i]) fail_msg("element %d: got %.9g, want %.9g", i, got[i], want[i]);
    }
}

/* ---- the type table ----------------------------------------------------------------------- */

/* Block sizes and bytes per block of every ggml type, from ggml-common.h's structs. */
static const struct {
    uint32_t type;
    const char *name;
    int block_size;
    size_t type_size;
} ggml_types[] = {
    { 0, "f32", 1, 4 },          { 1, "f16", 1, 2 },
    { 2, "q4_0", 32, 2 + 16 },   { 3, "q4_1", 32, 4 + 16 },
    { 6, "q5_0", 32, 2 + 4 + 16 }, { 7, "q5_1", 32, 4 + 4 + 16 },
    { 8, "q8_0", 32, 2 + 32 },   { 9, "q8_1", 32, 4 + 32 },
    { 10, "q2_K", 256, 16 + 64 + 4 },        { 11, "q3_K", 256, 32 + 64 + 12 + 2 },
    { 12, "q4_K", 256, 4 + 12 + 128 },       { 13, "q5_K", 256, 4 + 12 + 32 + 128 },
    { 14, "q6_K", 256, 128 + 64 + 16 + 2 },  { 15, "q8_K", 256, 4 + 256 + 32 },
    { 16, "iq2_xxs", 256, 2 + 64 },          { 17, "iq2_xs", 256, 2 + 64 + 8 },
    { 18, "iq3_xxs", 256, 2 + 96 },          { 19, "iq1_s", 256, 2 + 32 + 16 },
    { 20, "iq4_nl", 32, 2 + 16 },            { 21, "iq3_s", 256, 2 + 64 + 8 + 32 + 4 },
    { 22, "iq2_s", 256, 2 + 64 + 16 },       { 23, "iq4_xs", 256, 2 + 2 + 4 + 128 },
    { 24, "i8", 1, 1 },  { 25, "i16", 1, 2 }, { 26, "i32", 1, 4 }, { 27, "i64", 1, 8 },
    { 28, "f64", 1, 8 }, { 29, "iq1_m", 256, 32 + 16 + 8 }, { 30, "bf16", 1, 2 },
    { 34, "tq1_0", 256, 48 + 4 + 2 },        { 35, "tq2_0", 256, 64 + 2 },
    { 39, "mxfp4", 32, 1 + 16 },             { 40, "nvfp4", 64, 4 + 32 },
    { 41, "q1_0", 128, 2 + 16 },             { 42, "q2_0", 64, 2 + 16 },
};

static const uint32_t engine_types[] = {
    LK_F32, LK_F16, LK_BF16, LK_Q8_0, LK_Q4_0, LK_Q4_1, LK_Q5_0, LK_Q5_1, LK_Q4_K, LK_Q5_K, LK_Q6_K,
};

static bool is_engine_type(uint32_t t) {
    for (size_t i = 0; i < LK_ARRAY_LEN(engine_types); i++)
        if (engine_types[i] == t) return true;
    return false;
}

/* Every ggml type number has ggml's name, block size and block bytes. */
static void test_qtype_knows_every_ggml_type(void **state) {
    (void)state;
    for (size_t i = 0; i < LK_ARRAY_LEN(ggml_types); i++) {
        const lk_qtype_info *qi = lk_qtype(ggml_types[i].type);
        assert_non_null(qi->name);
        assert_string_equal(qi->name, ggml_types[i].name);
        assert_int_equal(qi->block_size, ggml_types[i].block_size);
        assert_int_equal(qi->type_size, ggml_types[i].type_size);
    }
}

/* Numbers ggml retired or never used have no name (and a table entry, never NULL). */
static void test_qtype_unused_numbers_have_no_name(void **state) {
    (void)state;
    const uint32_t unused[] = { 4, 5, 31, 32, 33, 36, 37, 38, 43, 63, 64, 1000, UINT32_MAX };
    for (size_t i = 0; i < LK_ARRAY_LEN(unused); i++) {
        const lk_qtype_info *qi = lk_qtype(unused[i]);
        assert_non_null(qi);
        assert_null(qi->name);
        assert_false(qi->engine);
    }
}

/* Exactly the eleven engine types are marked as computable. */
static void test_qtype_engine_flag_marks_the_engine_types(void **state) {
    (void)state;
    for (uint32_t t = 0; t < LK_QTYPE_COUNT; t++) {
        if (is_engine_type(t)) assert_true(lk_qtype(t)->engine);
        else assert_false(lk_qtype(t)->engine);
    }
}

/* Names are matched without regard to case. */
static void test_qtype_from_name_ignores_case(void **state) {
    (void)state;
    assert_int_equal(lk_qtype_from_name("q4_K"), LK_Q4_K);
    assert_int_equal(lk_qtype_from_name("Q4_K"), LK_Q4_K);
    assert_int_equal(lk_qtype_from_name("q4_k"), LK_Q4_K);
    assert_int_equal(lk_qtype_from_name("f16"), LK_F16);
    assert_int_equal(lk_qtype_from_name("F32"), LK_F32);
    assert_int_equal(lk_qtype_from_name("bf16"), LK_BF16);
    assert_int_equal(lk_qtype_from_name("BF16"), LK_BF16);
    assert_int_equal(lk_qtype_from_name("IQ2_XXS"), LK_IQ2_XXS);
}

/* Every name in the table parses back to its number. */
static void test_qtype_from_name_inverts_every_name(void **state) {
    (void)state;
    for (uint32_t t = 0; t < LK_QTYPE_COUNT; t++) {
        if (lk_qtype(t)->name) assert_int_equal(lk_qtype_from_name(lk_qtype(t)->name), (int)t);
    }
}

/* Unknown names, prefixes, file-type names and NULL give -1. */
static void test_qtype_from_name_rejects_unknown_names(void **state) {
    (void)state;
    const char *bad[] = { "", "q4", "q4_K_M", "f32 ", " f32", "q4_0x", "float", "q4_2" };
    for (size_t i = 0; i < LK_ARRAY_LEN(bad); i++) assert_int_equal(lk_qtype_from_name(bad[i]), -1);
    assert_int_equal(lk_qtype_from_name(NULL), -1);
}

/* A row is n / block_size blocks; unknown types and empty rows take no bytes. */
static void test_row_size_counts_whole_blocks(void **state) {
    (void)state;
    assert_int_equal(lk_row_size(LK_F32, 10), 40);
    assert_int_equal(lk_row_size(LK_BF16, 7), 14);
    assert_int_equal(lk_row_size(LK_Q8_0, 64), 68);
    assert_int_equal(lk_row_size(LK_Q4_K, 4096), 16 * 144);
    assert_int_equal(lk_row_size(LK_Q6_K, 256), 210);
    assert_int_equal(lk_row_size(LK_IQ2_XXS, 512), 132);
    assert_int_equal(lk_row_size(LK_Q4_0, 48), 18); /* a partial block is not counted */
    assert_int_equal(lk_row_size(LK_Q4_0, 0), 0);
    assert_int_equal(lk_row_size(LK_Q4_0, -32), 0);
    assert_int_equal(lk_row_size(4, 32), 0);
    assert_int_equal(lk_row_size(99, 32), 0);
}

/* ---- half floats -------------------------------------------------------------------------- */

/* half -> float -> half gives back every one of the 63488 non-NaN halves. */
static void test_fp16_round_trip_is_identity(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue; /* NaN */
        assert_int_equal(lk_fp32_to_fp16(lk_fp16_to_fp32((uint16_t)h)), h);
    }
}

/* Every NaN half is a NaN float and goes back to a NaN half of the same sign. */
static void test_fp16_nan_stays_nan(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7C00) != 0x7C00 || !(h & 0x3FF)) continue;
        float f = lk_fp16_to_fp32((uint16_t)h);
        assert_true(f != f);
        uint16_t back = lk_fp32_to_fp16(f);
        assert_int_equal(back & 0x7C00, 0x7C00);
        assert_true(back & 0x3FF);
        assert_int_equal(back & 0x8000, h & 0x8000);
    }
}

/* Some halves decode to the values their bits say. */
static void test_fp16_decodes_known_values(void **state) {
    (void)state;
    assert_true(lk_fp16_to_fp32(0x3C00) == 1.0f);
    assert_true(lk_fp16_to_fp32(0xC000) == -2.0f);
    assert_true(lk_fp16_to_fp32(0x7BFF) == 65504.0f);
    assert_true(lk_fp16_to_fp32(0x0400) == ldexpf(1, -14));   /* smallest normal */
    assert_true(lk_fp16_to_fp32(0x0001) == ldexpf(1, -24));   /* smallest subnormal */
    assert_true(lk_fp16_to_fp32(0x03FF) == ldexpf(1023, -24)); /* largest subnormal */
    assert_true(isinf(lk_fp16_to_fp32(0xFC00)) && lk_fp16_to_fp32(0xFC00) < 0);
}

/* float -> half rounds to nearest, ties to the even neighbour. */
static void test_fp16_rounds_ties_to_even(void **state) {
    (void)state;
    /* near 1 the half step is 2^-10 */
    assert_int_equal(lk_fp32_to_fp16(1.0f + ldexpf(1, -11)), 0x3C00);     /* tie: 1.0 is even */
    assert_int_equal(lk_fp32_to_fp16(1.0f + ldexpf(3, -11)), 0x3C02);     /* tie: to ...02 */
    assert_int_equal(lk_fp32_to_fp16(1.0f + ldexpf(1, -11) + ldexpf(1, -20)), 0x3C01); /* above */
    assert_int_equal(lk_fp32_to_fp16(-(1.0f + ldexpf(3, -11))), 0xBC02);
    /* subnormals: the step is 2^-24 */
    assert_int_equal(lk_fp32_to_fp16(ldexpf(1, -25)), 0x0000);           /* tie: 0 is even */
    assert_int_equal(lk_fp32_to_fp16(ldexpf(3, -25)), 0x0002);           /* tie: 2 is even */
    assert_int_equal(lk_fp32_to_fp16(ldexpf(1, -25) * 1.0001f), 0x0001); /* above the tie */
    /* the top: 65504 is the largest half, 65520 the tie with the next (infinite) step */
    assert_int_equal(lk_fp32_to_fp16(65519.0f), 0x7BFF);
    assert_int_equal(lk_fp32_to_fp16(65520.0f), 0x7C00);
    assert_int_equal(lk_fp32_to_fp16(1e10f), 0x7C00);
    assert_int_equal(lk_fp32_to_fp16(-INFINITY), 0xFC00);
}

/* bf16 -> float -> bf16 gives back every non-NaN bf16. */
static void test_bf16_round_trip_is_identity(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) continue;
        assert_int_equal(lk_fp32_to_bf16(lk_bf16_to_fp32((uint16_t)h)), h);
    }
}

/* float -> bf16 rounds to nearest, ties to even; NaN stays NaN. */
static void test_bf16_rounds_ties_to_even(void **state) {
    (void)state;
    /* near 1 the bf16 step is 2^-7 */
    assert_int_equal(lk_fp32_to_bf16(1.0f + ldexpf(1, -8)), 0x3F80);
    assert_int_equal(lk_fp32_to_bf16(1.0f + ldexpf(3, -8)), 0x3F82);
    assert_int_equal(lk_fp32_to_bf16(1.0f + ldexpf(1, -8) + ldexpf(1, -20)), 0x3F81);
    assert_int_equal(lk_fp32_to_bf16(float_of_bits(0x7F7FFFFF)), 0x7F80); /* FLT_MAX rounds up */
    uint16_t nan = lk_fp32_to_bf16(float_of_bits(0x7F800001)); /* a NaN whose payload is low */
    assert_int_equal(nan & 0x7F80, 0x7F80);
    assert_true(nan & 0x7F);
}

/* ---- independent decoders, one element at a time, from the bit layouts -------------------- */

/* Q8_0: fp16 d at byte 0; element e is the int8 at byte 2 + e; x = q * d. */
static float layout_q8_0(const uint8_t *b, int e) {
    return (float)(int8_t)b[2 + e] * tu_half_at(b);
}

/* Q4_0: fp16 d at 0; quants from byte 2: element e < 16 in the low nibble of byte 2 + e,
 * element e >= 16 in the high nibble of byte 2 + e - 16; x = (q - 8) * d. */
static float layout_q4_0(const uint8_t *b, int e) {
    int q = (int)bits_at(b, 8 * (2 + e % 16) + 4 * (e / 16), 4);
    return (float)(q - 8) * tu_half_at(b);
}

/* Q4_1: fp16 d at 0, fp16 m at 2; nibbles from byte 4 as in Q4_0; x = q * d + m. */
static float layout_q4_1(const uint8_t *b, int e) {
    int q = (int)bits_at(b, 8 * (4 + e % 16) + 4 * (e / 16), 4);
    float qd = (float)q * tu_half_at(b);
    return qd + tu_half_at(b + 2);
}

/* Q5_0: fp16 d at 0; 32 fifth bits at bytes 2..5 (element e's is bit e); nibbles from byte 6;
 * x = (q - 16) * d. */
static float layout_q5_0(const uint8_t *b, int e) {
    int q = (int)(bits_at(b, 8 * (6 + e % 16) + 4 * (e / 16), 4) | bits_at(b, 16 + e, 1) << 4);
    return (float)(q - 16) * tu_half_at(b);
}

/* Q5_1: fp16 d at 0, fp16 m at 2; fifth bits at bytes 4..7; nibbles from byte 8; x = q*d + m. */
static float layout_q5_1(const uint8_t *b, int e) {
    int q = (int)(bits_at(b, 8 * (8 + e % 16) + 4 * (e / 16), 4) | bits_at(b, 32 + e, 1) << 4);
    float qd = (float)q * tu_half_at(b);
    return qd + tu_half_at(b + 2);
}

/* Q4_K and Q5_K share the first 16 bytes: fp16 d at 0, fp16 dmin at 2, and 12 bytes of 6-bit
 * scales and mins at 4..15. For sub-block j < 4 the scale is bits 0..5 of byte 4 + j and the
 * min bits 0..5 of byte 8 + j; for j >= 4 the scale is the low nibble of byte 8 + j with bits
 * 6..7 of byte j as its top two bits, and the min the high nibble of byte 8 + j with bits
 * 6..7 of byte 4 + j on top. */
static void layout_k_scale_min(const uint8_t *b, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = (int)bits_at(b, 8 * (4 + j), 6);
        *m = (int)bits_at(b, 8 * (8 + j), 6);
    } else {
        *sc = (int)(bits_at(b, 8 * (8 + j), 4) | bits_at(b, 8 * j + 6, 2) << 4);
        *m = (int)(bits_at(b, 8 * (8 + j) + 4, 4) | bits_at(b, 8 * (4 + j) + 6, 2) << 4);
    }
}

/* x = (d * sc) * q - (dmin * m), each product rounded to float. */
static float layout_k_value(const uint8_t *b, int j, int q) {
    int sc, m;
    layout_k_scale_min(b, j, &sc, &m);
    float d1 = tu_half_at(b) * (float)sc;
    float m1 = tu_half_at(b + 2) * (float)m;
    float qd = d1 * (float)q;
    return qd - m1;
}

/* Q4_K: 128 bytes of nibbles from byte 16; element e is in byte 16 + 32 (e / 64) + e % 32,
 * low nibble when (e / 32) is even. */
static float layout_q4_K(const uint8_t *b, int e) {
    int q = (int)bits_at(b, 8 * (16 + 32 * (e / 64) + e % 32) + 4 * ((e / 32) % 2), 4);
    return layout_k_value(b, e / 32, q);
}

/* Q5_K: 32 bytes of fifth bits from byte 16 (element e's is bit e / 32 of byte 16 + e % 32),
 * then nibbles from byte 48 laid out as in Q4_K. */
static float layout_q5_K(const uint8_t *b, int e) {
    int q = (int)bits_at(b, 8 * (48 + 32 * (e / 64) + e % 32) + 4 * ((e / 32) % 2), 4);
    q |= (int)bits_at(b, 8 * (16 + e % 32) + e / 32, 1) << 4;
    return layout_k_value(b, e / 32, q);
}

/* Q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 int8 scales at 192, fp16 d at
 * 208. With e = 128 h + 32 g + l: the low nibble is in byte 64 h + 32 (g % 2) + l (high half of
 * the byte when g >= 2), the top two bits are bits 2g, 2g + 1 of byte 128 + 32 h + l, and the
 * scale is the int8 at 192 + e / 16. x = (d * scale) * (q - 32). */
static float layout_q6_K(const uint8_t *b, int e) {
    int h = e / 128, g = (e % 128) / 32, l = e % 32;
    int q = (int)bits_at(b, 8 * (64 * h + 32 * (g % 2) + l) + 4 * (g / 2), 4);
    q |= (int)bits_at(b, 8 * (128 + 32 * h + l) + 2 * g, 2) << 4;
    float ds = tu_half_at(b + 208) * (float)(int8_t)b[192 + e / 16];
    return ds * (float)(q - 32);
}

typedef float layout_fn(const uint8_t *block, int e);

/* Dequantize many random blocks (the fp16 fields at bytes half_a and, unless -1, half_b made
 * finite) with the library and with the layout decoder, and require identical bits. */
static void check_against_layout(uint32_t type, layout_fn *decode, int half_a, int half_b) {
    enum { N_BLOCKS = 600 };
    const lk_qtype_info *qi = lk_qtype(type);
    const int64_t n = (int64_t)N_BLOCKS * qi->block_size;
    uint8_t *row = malloc(lk_row_size(type, n));
    float *got = malloc((size_t)n * sizeof *got), *want = malloc((size_t)n * sizeof *want);
    assert_non_null(row);
    assert_non_null(got);
    assert_non_null(want);
    for (size_t i = 0; i < lk_row_size(type, n); i++) row[i] = (uint8_t)tu_rand64();
    for (int b = 0; b < N_BLOCKS; b++) {
        uint8_t *block = row + (size_t)b * qi->type_size;
        tu_put_half(block + half_a, tu_random_finite_half());
        if (half_b >= 0) tu_put_half(block + half_b, tu_random_finite_half());
        for (int e = 0; e < qi->block_size; e++) want[b * qi->block_size + e] = decode(block, e);
    }
    lk_dequantize_row(type, row, got, n);
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof(float)))
            fail_msg("%s element %lld: got %.9g, want %.9g", qi->name, (long long)i, got[i], want[i]);
    }
    free(row);
    free(got);
    free(want);
}

/* Each type's dequantizer gives, bit for bit, the floats its layout defines. */
static void test_q8_0_dequantize_follows_layout(void **state) {
    (void)state;
    check_against_layout(LK_Q8_0, layout_q8_0, 0, -1);
}
static void test_q4_0_dequantize_follows_layout(void **state) {
    (void)state;
    check_against_layout(LK_Q4_0, layout_q4_0, 0, -1);
}
static void test_q4_1_dequantize_follows_layout(void **state) {
    (void)state;
    check_against_layout(LK_Q4_1, layout_q4_1, 0, 2);
}
static void test_q5_0_dequantize_follows_layout(void **state) {
    (void)state;
    check_against_layout(LK_Q5_0, layout_q5_0, 0, -1);
}
static void test_q5_1_dequantize_follows_layout(void **state) {
    (void)state;
    check_against_layout(LK_Q5_1, layout_q5_1, 0, 2);
}
static void test_q4_K_dequantize_follows_layout(void **state) {
    (void)state;
    check_against_layout(LK_Q4_K, layout_q4_K, 0, 2);
}
static void test_q5_K_dequantize_follows_layout(void **state) {
    (void)state;
    check_against_layout(LK_Q5_K, layout_q5_K, 0, 2);
}
static void test_q6_K_dequantize_follows_layout(void **state) {
    (void)state;
    check_against_layout(LK_Q6_K, layout_q6_K, 208, -1);
}

/* The float types decode their elements as the half/bfloat conversions say. */
static void test_float_types_dequantize_elementwise(void **state) {
    (void)state;
    uint8_t h[8];
    tu_put_half(h, 0x3C00);     /* 1.0 in f16 */
    tu_put_half(h + 2, 0xC500); /* -5.0 in f16 */
    tu_put_half(h + 4, 0x3F80); /* 1.0 in bf16 */
    tu_put_half(h + 6, 0xC0A0); /* -5.0 in bf16 */
    float got[2];
    lk_dequantize_row(LK_F16, h, got, 2);
    assert_floats(got, (const float[]){ 1.0f, -5.0f }, 2);
    lk_dequantize_row(LK_BF16, h + 4, got, 2);
    assert_floats(got, (const float[]){ 1.0f, -5.0f }, 2);
    const float f[2] = { 0.1f, -3e38f };
    lk_dequantize_row(LK_F32, f, got, 2);
    assert_floats(got, f, 2);
}

/* ---- hand-built blocks -------------------------------------------------------------------- */

/* Q8_0 with d = 0.5 (0x3800): q = 127, -128, 1, ..., -3 give 63.5, -64, 0.5, ..., -1.5. */
static void test_q8_0_golden_block(void **state) {
    (void)state;
    lk_block_q8_0 b = { { 0x00, 0x38 }, { 0 } };
    b.qs[0] = 127;
    b.qs[1] = -128;
    b.qs[2] = 1;
    b.qs[31] = -3;
    float want[32] = { 63.5f, -64.0f, 0.5f }, got[32];
    want[31] = -1.5f;
    lk_dequantize_row(LK_Q8_0, &b, got, 32);
    assert_floats(got, want, 32);
}

/* Q4_0 with d = 2 (0x4000); every nibble 8 (value 0) except: qs[0] = 0xF0 gives element 0
 * nibble 0 -> (0 - 8) * 2 = -16 and element 16 nibble 15 -> 14; qs[15] = 0x98 gives element 15
 * nibble 8 -> 0 and element 31 nibble 9 -> 2. */
static void test_q4_0_golden_block(void **state) {
    (void)state;
    lk_block_q4_0 b = { { 0x00, 0x40 }, { 0 } };
    memset(b.qs, 0x88, sizeof b.qs);
    b.qs[0] = 0xF0;
    b.qs[15] = 0x98;
    float want[32] = { 0 }, got[32];
    want[0] = -16.0f;
    want[16] = 14.0f;
    want[31] = 2.0f;
    lk_dequantize_row(LK_Q4_0, &b, got, 32);
    assert_floats(got, want, 32);
}

/* Q4_1 with d = 0.5 (0x3800), m = -1 (0xBC00); nibbles 2 (2 * 0.5 - 1 = 0) except qs[0] = 0x3A:
 * element 0 is 10 * 0.5 - 1 = 4, element 16 is 3 * 0.5 - 1 = 0.5. */
static void test_q4_1_golden_block(void **state) {
    (void)state;
    lk_block_q4_1 b = { { 0x00, 0x38 }, { 0x00, 0xBC }, { 0 } };
    memset(b.qs, 0x22, sizeof b.qs);
    b.qs[0] = 0x3A;
    float want[32] = { 0 }, got[32];
    want[0] = 4.0f;
    want[16] = 0.5f;
    lk_dequantize_row(LK_Q4_1, &b, got, 32);
    assert_floats(got, want, 32);
}

/* Q5_0 with d = 0.25 (0x3400); qh has bits 0 and 31 set; all nibbles 0 (so (0 - 16) * 0.25 = -4)
 * except qs[0] = 0x0F: element 0 = (15 | 16) - 16 = 15 -> 3.75, and qs[15] = 0xA0: element 31 =
 * (10 | 16) - 16 = 10 -> 2.5 (element 15 keeps nibble 0 and no fifth bit: -4). */
static void test_q5_0_golden_block(void **state) {
    (void)state;
    lk_block_q5_0 b = { { 0x00, 0x34 }, { 0x01, 0x00, 0x00, 0x80 }, { 0 } };
    b.qs[0] = 0x0F;
    b.qs[15] = 0xA0;
    float want[32], got[32];
    for (int e = 0; e < 32; e++) want[e] = -4.0f;
    want[0] = 3.75f;
    want[31] = 2.5f;
    lk_dequantize_row(LK_Q5_0, &b, got, 32);
    assert_floats(got, want, 32);
}

/* Q5_1 with d = 1 (0x3C00), m = -16 (0xCC00); qh has bit 16 set; nibbles 0 (value -16) except
 * qs[0] = 0x5C: element 0 = 12 - 16 = -4 and element 16 = (5 | 16) - 16 = 5. */
static void test_q5_1_golden_block(void **state) {
    (void)state;
    lk_block_q5_1 b = { { 0x00, 0x3C }, { 0x00, 0xCC }, { 0x00, 0x00, 0x01, 0x00 }, { 0 } };
    b.qs[0] = 0x5C;
    float want[32], got[32];
    for (int e = 0; e < 32; e++) want[e] = -16.0f;
    want[0] = -4.0f;
    want[16] = 5.0f;
    lk_dequantize_row(LK_Q5_1, &b, got, 32);
    assert_floats(got, want, 32);
}

/* Q4_K with d = 1 (0x3C00), dmin = 0.5 (0x3800).
 * Sub-block 0: scales[0] = 2, scales[4] = 4 -> d1 = 2, m1 = 0.5 * 4 = 2. Its elements are the
 *   low nibbles of qs[0..31]; qs[0] = 0x07 makes element 0 = 2 * 7 - 2 = 12, the rest 2*0 - 2 = -2.
 * Sub-block 5: scale 37 = 0b100101 -> low 5 in scales[9] bits 0..3, top 2 in scales[1] bits
 *   6..7 (0x80); min 19 = 0b010011 -> low 3 in scales[9] bits 4..7 (scales[9] = 0x35), top 1 in
 *   scales[5] bits 6..7 (0x40). d1 = 37, m1 = 0.5 * 19 = 9.5. Its elements (160..191) are the
 *   high nibbles of qs[64..95]; qs[64] = 0x30 makes element 160 = 37 * 3 - 9.5 = 101.5, the rest
 *   -9.5. Every other sub-block has scale and min 0, so its elements are 0. */
static void test_q4_K_golden_block(void **state) {
    (void)state;
    lk_block_q4_K b;
    memset(&b, 0, sizeof b);
    tu_put_half(b.d, 0x3C00);
    tu_put_half(b.dmin, 0x3800);
    b.scales[0] = 2;
    b.scales[4] = 4;
    b.scales[9] = 0x35;
    b.scales[1] = 0x80;
    b.scales[5] = 0x40;
    b.qs[0] = 0x07;
    b.qs[64] = 0x30;
    float want[256] = { 0 }, got[256];
    for (int e = 0; e < 32; e++) want[e] = -2.0f;
    want[0] = 12.0f;
    for (int e = 160; e < 192; e++) want[e] = -9.5f;
    want[160] = 101.5f;
    lk_dequantize_row(LK_Q4_K, &b, got, 256);
    assert_floats(got, want, 256);
}

/* Q5_K with d = 0.5 (0x3800), dmin = 1 (0x3C00).
 * Sub-block 3: scales[3] = 10, scales[7] = 6 -> d1 = 5, m1 = 6. Its elements (96..127) are the
 *   high nibbles of qs[32..63] with fifth bit 3 of qh[0..31]: qs[32] = 0x90 and qh[0] bit 3 make
 *   element 96 = 9 | 16 = 25 -> 5 * 25 - 6 = 119; qh[1] bit 3 alone makes element 97 = 16 -> 74;
 *   the rest are 0 -> -6.
 * Sub-block 7: scales[11] = 0x21 -> scale 1, min 2 (top bits from scales[3] and scales[7] are
 *   0); d1 = 0.5, m1 = 2. Its elements (224..255) are the high nibbles of qs[96..127] with fifth
 *   bit 7: qs[127] = 0xF0 and qh[31] = 0x80 make element 255 = 31 -> 0.5 * 31 - 2 = 13.5; the rest
 *   -2. Every other sub-block has scale and min 0. */
static void test_q5_K_golden_block(void **state) {
    (void)state;
    lk_block_q5_K b;
    memset(&b, 0, sizeof b);
    tu_put_half(b.d, 0x3800);
    tu_put_half(b.dmin, 0x3C00);
    b.scales[3] = 10;
    b.scales[7] = 6;
    b.scales[11] = 0x21;
    b.qs[32] = 0x90;
    b.qh[0] = 0x08;
    b.qh[1] = 0x08;
    b.qs[127] = 0xF0;
    b.qh[31] = 0x80;
    float want[256] = { 0 }, got[256];
    for (int e = 96; e < 128; e++) want[e] = -6.0f;
    want[96] = 119.0f;
    want[97] = 74.0f;
    for (int e = 224; e < 256; e++) want[e] = -2.0f;
    want[255] = 13.5f;
    lk_dequantize_row(LK_Q5_K, &b, got, 256);
    assert_floats(got, want, 256);
}

/* Q6_K with d = 0.25 (0x3400); a level of 0 means q - 32 = -32.
 * Sub-block 0 (scale 4, step 1): ql[0] = 0x05 and qh[0] bits 0..1 = 2 make element 0 = 5 | 32
 *   = 37 -> 5; the rest -32.
 * Sub-block 2 (scale 1, step 0.25): element 35 (h 0, g 1, l 3) has its nibble in the low half of
 *   ql[32 + 3] (0x0A) and its top bits in qh[3] bits 2..3 (0x04): 10 | 16 = 26 -> -6 -> -1.5;
 *   the rest -32 * 0.25 = -8.
 * Sub-block 4 (scale 3, step 0.75): element 71 (h 0, g 2, l 7) has its nibble in the high half
 *   of ql[7] (0x20) and its top bits in qh[7] bits 4..5 (0x10): 2 | 16 = 18 -> -14 -> -10.5; the
 *   rest -24.
 * Sub-block 9 (scale 8, step 2): element 150 (h 1, g 0, l 22): ql[64 + 22] = 0x01 and qh[32 +
 *   22] = 0x03 give 1 | 48 = 49 -> 17 -> 34; the rest -64.
 * Sub-block 15 (scale -2, step -0.5): element 255 (h 1, g 3, l 31): high half of ql[64 + 32 +
 *   31] (0xF0) and qh[32 + 31] bits 6..7 (0xC0) give 63 -> 31 -> -15.5; the rest 16.
 * Every other sub-block has scale 0. */
static void test_q6_K_golden_block(void **state) {
    (void)state;
    lk_block_q6_K b;
    memset(&b, 0, sizeof b);
    tu_put_half(b.d, 0x3400);
    b.scales[0] = 4;
    b.scales[2] = 1;
    b.scales[4] = 3;
    b.scales[9] = 8;
    b.scales[15] = -2;
    b.ql[0] = 0x05;
    b.qh[0] = 0x02;
    b.ql[35] = 0x0A;
    b.qh[3] = 0x04;
    b.ql[7] = 0x20;
    b.qh[7] = 0x10;
    b.ql[86] = 0x01;
    b.qh[54] = 0x03;
    b.ql[127] = 0xF0;
    b.qh[63] = 0xC0;
    float want[256] = { 0 }, got[256];
    for (int e = 0; e < 16; e++) want[e] = -32.0f;
    want[0] = 5.0f;
    for (int e = 32; e < 48; e++) want[e] = -8.0f;
    want[35] = -1.5f;
    for (int e = 64; e < 80; e++) want[e] = -24.0f;
    want[71] = -10.5f;
    for (int e = 144; e < 160; e++) want[e] = -64.0f;
    want[150] = 34.0f;
    for (int e = 240; e < 256; e++) want[e] = 16.0f;
    want[255] = -15.5f;
    lk_dequantize_row(LK_Q6_K, &b, got, 256);
    assert_floats(got, want, 256);
}

/* ---- quantization ------------------------------------------------------------------------- */

/* Quantize x[n] to type and back; the RMS error. */
static double round_trip_rmse(uint32_t type, const float *x, int64_t n) {
    void *q = malloc(lk_row_size(type, n));
    float *y = malloc((size_t)n * sizeof *y);
    assert_non_null(q);
    assert_non_null(y);
    lk_quantize_row(type, x, q, n);
    lk_dequantize_row(type, q, y, n);
    double se = 0;
    for (int64_t i = 0; i < n; i++) se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
    free(q);
    free(y);
    return sqrt(se / (double)n);
}

/* On N(0, 1) data every type's round trip stays within its error bound (a little above what
 * the quantizers give, which matches ggml's reference quantizers). */
static void test_quantize_round_trip_error_within_bounds(void **state) {
    (void)state;
    static const struct { uint32_t type; double bound; } cases[] = {
        { LK_F32, 0.0 },      { LK_F16, 0.00025 },  { LK_BF16, 0.0020 },
        { LK_Q8_0, 0.0056 },  { LK_Q4_0, 0.0890 },  { LK_Q4_1, 0.0810 },
        { LK_Q5_0, 0.0440 },  { LK_Q5_1, 0.0390 },  { LK_Q4_K, 0.0740 },
        { LK_Q5_K, 0.0375 },  { LK_Q6_K, 0.0185 },
    };
    enum { N = 256 * 64 };
    float *x = malloc(N * sizeof *x);
    assert_non_null(x);
    tu_seed(0x2545F4914F6CDD1Dull); /* the same data whatever ran before */
    for (int i = 0; i < N; i++) x[i] = tu_gaussian();
    for (size_t c = 0; c < LK_ARRAY_LEN(cases); c++) {
        double rmse = round_trip_rmse(cases[c].type, x, N);
        if (rmse > cases[c].bound)
            fail_msg("%s: rmse %.6f above %.6f", lk_qtype(cases[c].type)->name, rmse, cases[c].bound);
    }
    free(x);
}

/* Values k * d with |k| <= 127 and one |k| = 127 come back exactly from Q8_0. */
static void test_q8_0_quantizes_multiples_of_its_step_exactly(void **state) {
    (void)state;
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = 0.25f * (float)((int)(tu_rand64() % 255) - 127);
    x[5] = 0.25f * 127;
    x[40] = -0.25f * 127;
    assert_true(round_trip_rmse(LK_Q8_0, x, 64) == 0.0);
}

/* Q4_0 maps the largest magnitude to -8 d, so data (k - 8) d containing -8 d is exact; with
 * the largest magnitude positive, d comes out negative and the data is still exact. */
static void test_q4_0_quantizes_multiples_of_its_step_exactly(void **state) {
    (void)state;
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = 0.5f * (float)((int)(tu_rand64() % 16) - 8);
    x[3] = -4.0f;
    assert_true(round_trip_rmse(LK_Q4_0, x, 32) == 0.0);
    for (int i = 0; i < 32; i++) x[i] = -0.5f * (float)((int)(tu_rand64() % 16) - 8);
    x[3] = 4.0f;
    assert_true(round_trip_rmse(LK_Q4_0, x, 32) == 0.0);
}

/* Q5_0 likewise with k in -16..15 and -16 d present. */
static void test_q5_0_quantizes_multiples_of_its_step_exactly(void **state) {
    (void)state;
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = 0.125f * (float)((int)(tu_rand64() % 32) - 16);
    x[20] = -2.0f;
    assert_true(round_trip_rmse(LK_Q5_0, x, 32) == 0.0);
}

/* Q4_1 stores min and (max - min) / 15: data m + k d with k = 0 and 15 present is exact. */
static void test_q4_1_quantizes_a_uniform_grid_exactly(void **state) {
    (void)state;
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = 1.0f + 0.25f * (float)(tu_rand64() % 16);
    x[0] = 1.0f;
    x[31] = 1.0f + 0.25f * 15;
    assert_true(round_trip_rmse(LK_Q4_1, x, 32) == 0.0);
}

/* Q5_1 likewise with k = 0..31. */
static void test_q5_1_quantizes_a_uniform_grid_exactly(void **state) {
    (void)state;
    float x[32];
    for (int i = 0; i < 32; i++) x[i] = -2.0f + 0.125f * (float)(tu_rand64() % 32);
    x[7] = -2.0f;
    x[8] = -2.0f + 0.125f * 31;
    assert_true(round_trip_rmse(LK_Q5_1, x, 32) == 0.0);
}

/* Q8_0 and Q4_0 give the bytes ggml's reference quantizers give for a block worked by hand. */
static void test_legacy_quantizers_give_ggml_bytes(void **state) {
    (void)state;
    float x[32] = { 0 };
    x[0] = 127.0f; /* amax: d = 127 / 127 = 1 (fp16 0x3C00), id = 1 */
    x[1] = -50.0f;
    x[2] = 2.5f;   /* roundf rounds halves away from zero: 3, and -0.5 to -1 */
    x[3] = -0.5f;
    x[4] = 1.49f;
    lk_block_q8_0 q8;
    lk_quantize_row(LK_Q8_0, x, &q8, 32);
    assert_int_equal(q8.d[0] | q8.d[1] << 8, 0x3C00);
    assert_int_equal(q8.qs[0], 127);
    assert_int_equal(q8.qs[1], -50);
    assert_int_equal(q8.qs[2], 3);
    assert_int_equal(q8.qs[3], -1);
    assert_int_equal(q8.qs[4], 1);
    assert_int_equal(q8.qs[5], 0);

    /* Q4_0: max magnitude 4 (positive) -> d = 4 / -8 = -0.5 (0xB800), id = -2; a value v becomes
     * trunc(v * -2 + 8.5) clamped to 15: 4 -> 0, -1 -> 10, 0 -> 8, 0.3 -> trunc(7.9) = 7. */
    float y[32] = { 0 };
    y[0] = 4.0f;
    y[1] = -1.0f;
    y[17] = 0.3f;
    lk_block_q4_0 q4;
    lk_quantize_row(LK_Q4_0, y, &q4, 32);
    assert_int_equal(q4.d[0] | q4.d[1] << 8, 0xB800);
    assert_int_equal(q4.qs[0], 0x80);  /* element 0 -> 0, element 16 (0) -> 8 */
    assert_int_equal(q4.qs[1], 0x7A);  /* element 1 -> 10, element 17 (0.3) -> 7 */
    assert_int_equal(q4.qs[2], 0x88);
}

/* An all-zero row quantizes to a row that dequantizes to zeros, for every type. */
static void test_quantize_zero_row_gives_zeros(void **state) {
    (void)state;
    enum { N = 512 };
    float x[N] = { 0 }, y[N];
    static uint8_t q[N * 4];
    for (size_t t = 0; t < LK_ARRAY_LEN(engine_types); t++) {
        memset(q, 0xAB, sizeof q);
        lk_quantize_row(engine_types[t], x, q, N);
        for (int i = 0; i < N; i++) y[i] = 1.0f;
        lk_dequantize_row(engine_types[t], q, y, N);
        for (int i = 0; i < N; i++)
            if (y[i] != 0.0f) fail_msg("%s element %d: %g", lk_qtype(engine_types[t])->name, i, y[i]);
    }
}

/* NaN and infinity in one block leave the other blocks of the row exactly as they would be. */
static void test_quantize_nonfinite_block_leaves_others_alone(void **state) {
    (void)state;
    enum { N = 512 };
    float x[N];
    static uint8_t with_nan[N * 4], clean[N * 4];
    for (int i = 0; i < N; i++) x[i] = tu_gaussian();
    for (size_t t = 0; t < LK_ARRAY_LEN(engine_types); t++) {
        const uint32_t type = engine_types[t];
        const int bs = lk_qtype(type)->block_size;
        const int first = bs == 1 ? 1 : bs; /* elements of the first block */
        float bad[N];
        memcpy(bad, x, sizeof bad);
        bad[0] = NAN;
        if (first > 1) bad[first - 1] = INFINITY;
        lk_quantize_row(type, bad, with_nan, N);
        lk_quantize_row(type, x, clean, N);
        size_t skip = lk_row_size(type, first);
        assert_memory_equal(with_nan + skip, clean + skip, lk_row_size(type, N) - skip);
    }
}

/* Bits of a trailing partial block are neither read nor written; its floats are 0. */
static void test_partial_block_is_ignored(void **state) {
    (void)state;
    lk_block_q8_0 b = { { 0x00, 0x3C }, { 0 } };
    for (int j = 0; j < 32; j++) b.qs[j] = (int8_t)j;
    float y[40];
    for (int i = 0; i < 40; i++) y[i] = -1.0f;
    lk_dequantize_row(LK_Q8_0, &b, y, 40);
    for (int i = 0; i < 32; i++) assert_true(y[i] == (float)i);
    for (int i = 32; i < 40; i++) assert_true(y[i] == 0.0f);

    uint8_t out[sizeof b + 4];
    memset(out, 0xEE, sizeof out);
    float x[40] = { 1.0f };
    lk_quantize_row(LK_Q8_0, x, out, 40);
    for (size_t i = sizeof b; i < sizeof out; i++) assert_int_equal(out[i], 0xEE);
}

/* Types the engine cannot compute with: dequantize gives zeros, quantize writes nothing and
 * the dot product is 0. */
static void test_non_engine_types_are_inert(void **state) {
    (void)state;
    uint8_t block[256];
    memset(block, 0x5A, sizeof block);
    float y[256], x[256];
    for (int i = 0; i < 256; i++) {
        y[i] = 7.0f;
        x[i] = 1.0f;
    }
    lk_dequantize_row(LK_Q2_K, block, y, 256);
    for (int i = 0; i < 256; i++) assert_true(y[i] == 0.0f);
    lk_quantize_row(LK_IQ4_XS, x, block, 256);
    for (size_t i = 0; i < sizeof block; i++) assert_int_equal(block[i], 0x5A);
    assert_true(lk_vec_dot(LK_Q8_K, block, x, 256) == 0.0f);
    assert_true(lk_vec_dot(99, block, x, 256) == 0.0f);
}

/* ---- dot products ------------------------------------------------------------------------- */

/* For every engine type, lk_vec_dot(row, x) is dot(dequantize(row), x) in double to within
 * 1e-6 of sum |w_i x_i| (float sums per block of at most 256 products). */
static void test_vec_dot_matches_double_dot_of_dequantized_row(void **state) {
    (void)state;
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x), *w = malloc(N * sizeof *w), *a = malloc(N * sizeof *a);
    uint8_t *row = malloc(N * 4);
    assert_non_null(x);
    assert_non_null(w);
    assert_non_null(a);
    assert_non_null(row);
    for (size_t t = 0; t < LK_ARRAY_LEN(engine_types); t++) {
        const uint32_t type = engine_types[t];
        for (int trial = 0; trial < 4; trial++) {
            const int64_t n = trial == 3 ? 256 : N - 256 * trial;
            for (int64_t i = 0; i < n; i++) {
                a[i] = tu_gaussian() * 3.0f + (trial == 1 ? 1.0f : 0.0f);
                x[i] = tu_gaussian();
            }
            lk_quantize_row(type, a, row, n);
            lk_dequantize_row(type, row, w, n);
            double ref = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) {
                ref += (double)w[i] * x[i];
                mag += fabs((double)w[i] * x[i]);
            }
            double got = lk_vec_dot(type, row, x, n);
            if (fabs(got - ref) > 1e-6 * mag)
                fail_msg("%s n=%lld: dot %.9g, reference %.9g (scale %g)", lk_qtype(type)->name,
                         (long long)n, got, ref, mag);
        }
    }
    free(x);
    free(w);
    free(a);
    free(row);
}

/* A float row's dot product covers every element, also when n is not a multiple of 32. */
static void test_vec_dot_float_types_cover_odd_lengths(void **state) {
    (void)state;
    float w[45], x[45];
    uint8_t h[90];
    double want = 0;
    for (int i = 0; i < 45; i++) {
        w[i] = (float)(i % 7) - 3.0f;
        x[i] = (float)(i % 5) * 0.5f;
        want += (double)w[i] * x[i];
    }
    assert_true(lk_vec_dot(LK_F32, w, x, 45) == (float)want);
    lk_quantize_row(LK_F16, w, h, 45);
    assert_true(lk_vec_dot(LK_F16, h, x, 45) == (float)want);
    lk_quantize_row(LK_BF16, w, h, 45);
    assert_true(lk_vec_dot(LK_BF16, h, x, 45) == (float)want);
}

int main(void) {
    tu_seed(0x9E3779B97F4A7C15ull);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qtype_knows_every_ggml_type),
        cmocka_unit_test(test_qtype_unused_numbers_have_no_name),
        cmocka_unit_test(test_qtype_engine_flag_marks_the_engine_types),
        cmocka_unit_test(test_qtype_from_name_ignores_case),
        cmocka_unit_test(test_qtype_from_name_inverts_every_name),
        cmocka_unit_test(test_qtype_from_name_rejects_unknown_names),
        cmocka_unit_test(test_row_size_counts_whole_blocks),
        cmocka_unit_test(test_fp16_round_trip_is_identity),
        cmocka_unit_test(test_fp16_nan_stays_nan),
        cmocka_unit_test(test_fp16_decodes_known_values),
        cmocka_unit_test(test_fp16_rounds_ties_to_even),
        cmocka_unit_test(test_bf16_round_trip_is_identity),
        cmocka_unit_test(test_bf16_rounds_ties_to_even),
        cmocka_unit_test(test_q8_0_dequantize_follows_layout),
        cmocka_unit_test(test_q4_0_dequantize_follows_layout),
        cmocka_unit_test(test_q4_1_dequantize_follows_layout),
        cmocka_unit_test(test_q5_0_dequantize_follows_layout),
        cmocka_unit_test(test_q5_1_dequantize_follows_layout),
        cmocka_unit_test(test_q4_K_dequantize_follows_layout),
        cmocka_unit_test(test_q5_K_dequantize_follows_layout),
        cmocka_unit_test(test_q6_K_dequantize_follows_layout),
        cmocka_unit_test(test_float_types_dequantize_elementwise),
        cmocka_unit_test(test_q8_0_golden_block),
        cmocka_unit_test(test_q4_0_golden_block),
        cmocka_unit_test(test_q4_1_golden_block),
        cmocka_unit_test(test_q5_0_golden_block),
        cmocka_unit_test(test_q5_1_golden_block),
        cmocka_unit_test(test_q4_K_golden_block),
        cmocka_unit_test(test_q5_K_golden_block),
        cmocka_unit_test(test_q6_K_golden_block),
        cmocka_unit_test(test_quantize_round_trip_error_within_bounds),
        cmocka_unit_test(test_q8_0_quantizes_multiples_of_its_step_exactly),
        cmocka_unit_test(test_q4_0_quantizes_multiples_of_its_step_exactly),
        cmocka_unit_test(test_q5_0_quantizes_multiples_of_its_step_exactly),
        cmocka_unit_test(test_q4_1_quantizes_a_uniform_grid_exactly),
        cmocka_unit_test(test_q5_1_quantizes_a_uniform_grid_exactly),
        cmocka_unit_test(test_legacy_quantizers_give_ggml_bytes),
        cmocka_unit_test(test_quantize_zero_row_gives_zeros),
        cmocka_unit_test(test_quantize_nonfinite_block_leaves_others_alone),
        cmocka_unit_test(test_partial_block_is_ignored),
        cmocka_unit_test(test_non_engine_types_are_inert),
        cmocka_unit_test(test_vec_dot_matches_double_dot_of_dequantized_row),
        cmocka_unit_test(test_vec_dot_float_types_cover_odd_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_quantize.c — `llmkit quantize` in the library: the type each tensor gets for each target
 * (llama.cpp's rules: the output and token embedding, the "use more bits" layers of the _M
 * mixes, the fallbacks for rows that are not a multiple of 256), the round trip through a real
 * file that the engine loads, byte-identical output for any thread count, and the errors. The
 * rules are checked on tensor lists made on the spot (names and shapes, no data); the files are
 * small random models. */
#include "testutil.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/quant/quant.h"
#include "engine/quantize.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- tensor lists for the type rules ------------------------------------------------------ */

typedef struct shape {
    int n_layer, dim, n_ff, kv_dim, n_vocab;
    bool tied;
    uint32_t type; /* of the matrices */
} shape;

typedef struct tlist {
    gguf_tensor t[1024];
    uint32_t types[1024];
    size_t n;
    lk_quant_model m;
} tlist;

static void add(tlist *l, const char *name, int64_t ne0, int64_t ne1, uint32_t type) {
    assert_true(l->n < LK_ARRAY_LEN(l->t));
    gguf_tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->n_dims = ne1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    t->type = type;
}

/* The tensors of a llama model of the given shape, in the order lk_random_model writes them. */
static tlist *llama_tensors(const shape *s) {
    tlist *l = calloc(1, sizeof *l);
    assert_non_null(l);
    snprintf(l->m.arch, sizeof l->m.arch, "llama");
    l->m.n_layer = s->n_layer;
    l->m.n_head = 8;
    l->m.n_head_kv = 2;
    uint32_t ty = s->type ? s->type : LK_F16;
    add(l, "token_embd.weight", s->dim, s->n_vocab, ty);
    add(l, "output_norm.weight", s->dim, 0, LK_F32);
    if (!s->tied) add(l, "output.weight", s->dim, s->n_vocab, ty);
    for (int i = 0; i < s->n_layer; i++) {
        char name[64];
#define T(x) (snprintf(name, sizeof name, "blk.%d.%s", i, x), name)
        add(l, T("attn_norm.weight"), s->dim, 0, LK_F32);
        add(l, T("attn_q.weight"), s->dim, s->dim, ty);
        add(l, T("attn_k.weight"), s->dim, s->kv_dim, ty);
        add(l, T("attn_v.weight"), s->dim, s->kv_dim, ty);
        add(l, T("attn_output.weight"), s->dim, s->dim, ty);
        add(l, T("ffn_norm.weight"), s->dim, 0, LK_F32);
        add(l, T("ffn_gate.weight"), s->dim, s->n_ff, ty);
        add(l, T("ffn_up.weight"), s->dim, s->n_ff, ty);
        add(l, T("ffn_down.weight"), s->n_ff, s->dim, ty);
#undef T
    }
    return l;
}

static void tlist_free(tlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->t[i].name);
    free(l);
}

static int choose(tlist *l, int ftype, lk_error *err) {
    return lk_quant_choose_types(&l->m, l->t, l->n, ftype, l->types, err);
}

static void choose_ok(tlist *l, int ftype) {
    lk_error err = {0};
    if (choose(l, ftype, &err)) fail_msg("%s: %s", lk_ftype_name(ftype), err.msg);
}

/* The type chosen for a tensor by name. */
static uint32_t type_of(const tlist *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->t[i].name, name) == 0) return l->types[i];
    fail_msg("no tensor %s", name);
    return 0;
}

static uint32_t layer_type(const tlist *l, int layer, const char *what) {
    char name[64];
    snprintf(name, sizeof name, "blk.%d.%s", layer, what);
    return type_of(l, name);
}

static void assert_type(uint32_t got, uint32_t want, const char *what) {
    if (got != want) fail_msg("%s: %s, expected %s", what, lk_qtype(got)->name, lk_qtype(want)->name);
}

/* llama.cpp's use_more_bits for 16 layers: the first and last 16/8 = 2, and 4, 7, 10, 13. */
static bool more_bits_16(int i) {
    return i == 0 || i == 1 || i == 4 || i == 7 || i == 10 || i == 13 || i == 14 || i == 15;
}

static const shape shape_1b = { 16, 512, 1024, 256, 1000, false, LK_F16 };

/* ---- targets ------------------------------------------------------------------------------ */

/* Target names parse in any case, map to llama.cpp's file type numbers, and unknown names fail. */
static void test_target_names_parse_to_llama_cpp_numbers(void **state) {
    (void)state;
    assert_int_equal(lk_ftype_from_name("Q4_K_M"), 15);
    assert_int_equal(lk_ftype_from_name("q4_k_m"), 15);
    assert_int_equal(lk_ftype_from_name("Q4_K_S"), 14);
    assert_int_equal(lk_ftype_from_name("Q5_K_M"), 17);
    assert_int_equal(lk_ftype_from_name("Q5_K_S"), 16);
    assert_int_equal(lk_ftype_from_name("Q6_K"), 18);
    assert_int_equal(lk_ftype_from_name("q8_0"), 7);
    assert_int_equal(lk_ftype_from_name("Q4_0"), 2);
    assert_int_equal(lk_ftype_from_name("Q4_1"), 3);
    assert_int_equal(lk_ftype_from_name("Q5_0"), 8);
    assert_int_equal(lk_ftype_from_name("Q5_1"), 9);
    assert_int_equal(lk_ftype_from_name("f16"), 1);
    assert_int_equal(lk_ftype_from_name("BF16"), 32);
    assert_int_equal(lk_ftype_from_name("F32"), 0);
    assert_int_equal(lk_ftype_from_name("Q3_K_M"), -1);
    assert_int_equal(lk_ftype_from_name("Q4_K"), -1);
    assert_int_equal(lk_ftype_from_name(""), -1);
    assert_string_equal(lk_ftype_name(15), "Q4_K_M");
    assert_null(lk_ftype_name(12));
    assert_non_null(strstr(lk_ftype_names(), "Q4_K_M"));
}

/* ---- the type rules ----------------------------------------------------------------------- */

/* Q4_K_M: attn_v and ffn_down get Q6_K in the use-more-bits layers, Q4_K elsewhere; the output
 * gets Q6_K; the untied token embedding keeps the default Q4_K; vectors stay F32. */
static void test_q4_k_m_gives_q6_k_to_attn_v_and_ffn_down_in_more_bits_layers(void **state) {
    (void)state;
    tlist *l = llama_tensors(&shape_1b);
    choose_ok(l, LK_FTYPE_Q4_K_M);
    assert_type(type_of(l, "output.weight"), LK_Q6_K, "output");
    assert_type(type_of(l, "token_embd.weight"), LK_Q4_K, "token_embd");
    assert_type(type_of(l, "output_norm.weight"), LK_F32, "output_norm");
    for (int i = 0; i < 16; i++) {
        uint32_t want = more_bits_16(i) ? LK_Q6_K : LK_Q4_K;
        assert_type(layer_type(l, i, "attn_v.weight"), want, "attn_v");
        assert_type(layer_type(l, i, "ffn_down.weight"), want, "ffn_down");
        assert_type(layer_type(l, i, "attn_q.weight"), LK_Q4_K, "attn_q");
        assert_type(layer_type(l, i, "attn_k.weight"), LK_Q4_K, "attn_k");
        assert_type(layer_type(l, i, "attn_output.weight"), LK_Q4_K, "attn_output");
        assert_type(layer_type(l, i, "ffn_gate.weight"), LK_Q4_K, "ffn_gate");
        assert_type(layer_type(l, i, "ffn_up.weight"), LK_Q4_K, "ffn_up");
        assert_type(layer_type(l, i, "attn_norm.weight"), LK_F32, "attn_norm");
    }
    tlist_free(l);
}

/* Q5_K_M: the same layers get Q6_K, the rest Q5_K. */
static void test_q5_k_m_gives_q6_k_in_the_same_layers(void **state) {
    (void)state;
    tlist *l = llama_tensors(&shape_1b);
    choose_ok(l, LK_FTYPE_Q5_K_M);
    assert_type(type_of(l, "output.weight"), LK_Q6_K, "output");
    assert_type(type_of(l, "token_embd.weight"), LK_Q5_K, "token_embd");
    for (int i = 0; i < 16; i++) {
        uint32_t want = more_bits_16(i) ? LK_Q6_K : LK_Q5_K;
        assert_type(layer_type(l, i, "attn_v.weight"), want, "attn_v");
        assert_type(layer_type(l, i, "ffn_down.weight"), want, "ffn_down");
        assert_type(layer_type(l, i, "ffn_up.weight"), LK_Q5_K, "ffn_up");
    }
    tlist_free(l);
}

/* Q4_K_S: attn_v of the first 4 layers and ffn_down of the first eighth get Q5_K. */
static void test_q4_k_s_gives_q5_k_to_the_first_layers(void **state) {
    (void)state;
    tlist *l = llama_tensors(&shape_1b);
    choose_ok(l, LK_FTYPE_Q4_K_S);
    assert_type(type_of(l, "output.weight"), LK_Q6_K, "output");
    for (int i = 0; i < 16; i++) {
        assert_type(layer_type(l, i, "attn_v.weight"), i < 4 ? LK_Q5_K : LK_Q4_K, "attn_v");
        assert_type(layer_type(l, i, "ffn_down.weight"), i < 2 ? LK_Q5_K : LK_Q4_K, "ffn_down");
        assert_type(layer_type(l, i, "attn_q.weight"), LK_Q4_K, "attn_q");
    }
    tlist_free(l);
}

/* Q5_K_S and Q6_K: one type throughout, Q6_K for the output. */
static void test_q5_k_s_and_q6_k_are_uniform_but_the_output(void **state) {
    (void)state;
    tlist *l = llama_tensors(&shape_1b);
    choose_ok(l, LK_FTYPE_Q5_K_S);
    assert_type(type_of(l, "output.weight"), LK_Q6_K, "Q5_K_S output");
    for (int i = 0; i < 16; i++) {
        assert_type(layer_type(l, i, "attn_v.weight"), LK_Q5_K, "Q5_K_S attn_v");
        assert_type(layer_type(l, i, "ffn_down.weight"), LK_Q5_K, "Q5_K_S ffn_down");
    }
    choose_ok(l, LK_FTYPE_Q6_K);
    for (size_t i = 0; i < l->n; i++)
        assert_type(l->types[i], l->t[i].n_dims == 1 ? LK_F32 : LK_Q6_K, l->t[i].name);
    tlist_free(l);
}

/* The legacy targets quantize every matrix to their type but the output, which gets Q6_K (Q8_0
 * keeps Q8_0). */
static void test_legacy_targets_give_the_output_q6_k(void **state) {
    (void)state;
    static const struct { int ftype; uint32_t type, output; } cases[] = {
        { LK_FTYPE_Q4_0, LK_Q4_0, LK_Q6_K }, { LK_FTYPE_Q4_1, LK_Q4_1, LK_Q6_K },
        { LK_FTYPE_Q5_0, LK_Q5_0, LK_Q6_K }, { LK_FTYPE_Q5_1, LK_Q5_1, LK_Q6_K },
        { LK_FTYPE_Q8_0, LK_Q8_0, LK_Q8_0 },
    };
    tlist *l = llama_tensors(&shape_1b);
    for (size_t c = 0; c < LK_ARRAY_LEN(cases); c++) {
        choose_ok(l, cases[c].ftype);
        for (size_t i = 0; i < l->n; i++) {
            uint32_t want = l->t[i].n_dims == 1 ? LK_F32
                            : strcmp(l->t[i].name, "output.weight") == 0 ? cases[c].output : cases[c].type;
            assert_type(l->types[i], want, l->t[i].name);
        }
    }
    tlist_free(l);
}

/* Without output.weight the token embedding is the output, and gets the output's type. */
static void test_tied_token_embedding_gets_the_output_type(void **state) {
    (void)state;
    shape s = shape_1b;
    s.tied = true;
    tlist *l = llama_tensors(&s);
    choose_ok(l, LK_FTYPE_Q4_K_M);
    assert_type(type_of(l, "token_embd.weight"), LK_Q6_K, "tied token_embd, Q4_K_M");
    choose_ok(l, LK_FTYPE_Q4_0);
    assert_type(type_of(l, "token_embd.weight"), LK_Q6_K, "tied token_embd, Q4_0");
    choose_ok(l, LK_FTYPE_Q8_0);
    assert_type(type_of(l, "token_embd.weight"), LK_Q8_0, "tied token_embd, Q8_0");
    tlist_free(l);
}

/* Rows of 576 (SmolLM2): K-quants fall back to Q5_0 (Q4_K), Q5_1 (Q5_K), Q8_0 (Q6_K); the output
 * gets Q8_0; ffn_down, with rows of 1536 = 6 * 256, keeps its K-quant. */
static void test_rows_not_a_multiple_of_256_fall_back(void **state) {
    (void)state;
    shape s = { 30, 576, 1536, 192, 1000, false, LK_F16 };
    tlist *l = llama_tensors(&s);
    choose_ok(l, LK_FTYPE_Q4_K_M);
    assert_type(type_of(l, "output.weight"), LK_Q8_0, "output");
    assert_type(type_of(l, "token_embd.weight"), LK_Q5_0, "token_embd");
    assert_type(layer_type(l, 4, "attn_q.weight"), LK_Q5_0, "attn_q");
    assert_type(layer_type(l, 0, "attn_v.weight"), LK_Q8_0, "attn_v in a more-bits layer (Q6_K)");
    assert_type(layer_type(l, 4, "attn_v.weight"), LK_Q5_0, "attn_v elsewhere");
    assert_type(layer_type(l, 0, "ffn_down.weight"), LK_Q6_K, "ffn_down in a more-bits layer");
    assert_type(layer_type(l, 4, "ffn_down.weight"), LK_Q4_K, "ffn_down elsewhere");
    choose_ok(l, LK_FTYPE_Q5_K_S);
    assert_type(layer_type(l, 4, "attn_q.weight"), LK_Q5_1, "Q5_K_S attn_q");
    assert_type(layer_type(l, 4, "ffn_down.weight"), LK_Q5_K, "Q5_K_S ffn_down");
    choose_ok(l, LK_FTYPE_Q6_K);
    assert_type(layer_type(l, 4, "attn_q.weight"), LK_Q8_0, "Q6_K attn_q");
    choose_ok(l, LK_FTYPE_Q4_0);
    assert_type(type_of(l, "output.weight"), LK_Q8_0, "Q4_0 output (Q6_K does not fit)");
    assert_type(layer_type(l, 4, "attn_q.weight"), LK_Q4_0, "Q4_0 attn_q");
    tlist_free(l);
}

/* With 30 layers (SmolLM2) the more-bits layers are 0..2, 26..29 and 5, 8, ..., 23. */
static void test_more_bits_layers_of_a_30_layer_model(void **state) {
    (void)state;
    shape s = { 30, 512, 1024, 256, 1000, false, LK_F16 };
    tlist *l = llama_tensors(&s);
    choose_ok(l, LK_FTYPE_Q4_K_M);
    for (int i = 0; i < 30; i++) {
        bool more = i < 3 || i >= 26 || (i - 3) % 3 == 2;
        assert_type(layer_type(l, i, "ffn_down.weight"), more ? LK_Q6_K : LK_Q4_K, "ffn_down");
        assert_type(layer_type(l, i, "attn_v.weight"), more ? LK_Q6_K : LK_Q4_K, "attn_v");
    }
    tlist_free(l);
}

/* Rows that fit no quantized block: a K-quant falls back to F16, a legacy type is an error that
 * names the tensor; so is an output whose rows fit not even Q8_0 (llama.cpp refuses both). */
static void test_rows_not_a_multiple_of_32(void **state) {
    (void)state;
    tlist *l = llama_tensors(&shape_1b);
    gguf_tensor *odd = NULL;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->t[i].name, "blk.1.attn_q.weight") == 0) odd = &l->t[i];
    odd->ne[0] = 48;
    choose_ok(l, LK_FTYPE_Q4_K_M);
    assert_type(layer_type(l, 1, "attn_q.weight"), LK_F16, "rows of 48, Q4_K_M");
    assert_type(layer_type(l, 0, "attn_q.weight"), LK_Q4_K, "rows of 512, Q4_K_M");
    lk_error err = {0};
    assert_int_equal(choose(l, LK_FTYPE_Q4_0, &err), LK_EUNSUPPORTED);
    if (!strstr(err.msg, "tensor 'blk.1.attn_q.weight': rows of 48 elements")) fail_msg("message: %s", err.msg);
    tlist_free(l);

    shape s = { 2, 48, 96, 48, 100, false, LK_F32 };
    l = llama_tensors(&s);
    assert_int_equal(choose(l, LK_FTYPE_Q4_K_M, &err), LK_EUNSUPPORTED);
    if (!strstr(err.msg, "tensor 'output.weight'")) fail_msg("message: %s", err.msg);
    tlist_free(l);
}

/* F16, BF16 and F32 targets convert every matrix and leave vectors alone. */
static void test_float_targets_convert_matrices_only(void **state) {
    (void)state;
    shape s = { 2, 64, 128, 32, 100, false, LK_F32 };
    tlist *l = llama_tensors(&s);
    static const struct { int ftype; uint32_t type; } cases[] = {
        { LK_FTYPE_F16, LK_F16 }, { LK_FTYPE_BF16, LK_BF16 }, { LK_FTYPE_ALL_F32, LK_F32 },
    };
    for (size_t c = 0; c < LK_ARRAY_LEN(cases); c++) {
        choose_ok(l, cases[c].ftype);
        for (size_t i = 0; i < l->n; i++)
            assert_type(l->types[i], l->t[i].n_dims == 1 ? LK_F32 : cases[c].type, l->t[i].name);
    }
    tlist_free(l);
}

/* A 70B-shaped llama (80 layers, grouped-query attention) gives attn_v Q5_K where the mix says
 * Q4_K; with as many KV heads as heads (65B) it does not. */
static void test_70b_gives_attn_v_q5_k(void **state) {
    (void)state;
    shape s = { 80, 256, 256, 256, 100, false, LK_F16 };
    tlist *l = llama_tensors(&s);
    l->m.n_head = 64;
    l->m.n_head_kv = 8;
    choose_ok(l, LK_FTYPE_Q4_K_M);
    assert_type(layer_type(l, 0, "attn_v.weight"), LK_Q6_K, "70B attn_v, more-bits layer");
    assert_type(layer_type(l, 11, "attn_v.weight"), LK_Q5_K, "70B attn_v, other layer");
    assert_type(layer_type(l, 11, "attn_q.weight"), LK_Q4_K, "70B attn_q");
    l->m.n_head_kv = 64;
    choose_ok(l, LK_FTYPE_Q4_K_M);
    assert_type(layer_type(l, 11, "attn_v.weight"), LK_Q4_K, "65B attn_v");
    tlist_free(l);
}

/* The rules count layers in llama.cpp's order (layer number, then name), so the order of the
 * tensors in the file does not matter. */
static void test_choice_does_not_depend_on_file_order(void **state) {
    (void)state;
    tlist *a = llama_tensors(&shape_1b), *b = llama_tensors(&shape_1b);
    for (size_t i = 0; i < b->n / 2; i++) { /* reverse b */
        gguf_tensor t = b->t[i];
        b->t[i] = b->t[b->n - 1 - i];
        b->t[b->n - 1 - i] = t;
    }
    choose_ok(a, LK_FTYPE_Q4_K_M);
    choose_ok(b, LK_FTYPE_Q4_K_M);
    for (size_t i = 0; i < a->n; i++) assert_type(type_of(b, a->t[i].name), a->types[i], a->t[i].name);
    tlist_free(a);
    tlist_free(b);
}

/* A quantized tensor in the input is refused, naming the tensor and its type; so is an unknown
 * target. */
static void test_quantized_input_and_unknown_target_are_refused(void **state) {
    (void)state;
    tlist *l = llama_tensors(&shape_1b);
    l->t[5].type = LK_Q8_0;
    lk_error err = {0};
    assert_int_equal(choose(l, LK_FTYPE_Q4_K_M, &err), LK_EUNSUPPORTED);
    char want[128];
    snprintf(want, sizeof want, "tensor '%s' is q8_0", l->t[5].name);
    if (!strstr(err.msg, want)) fail_msg("message: %s", err.msg);
    l->t[5].type = LK_F16;
    assert_int_equal(choose(l, 12 /* Q3_K_M */, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "Q4_K_M"));
    tlist_free(l);
}

/* ---- files -------------------------------------------------------------------------------- */

static const char *small_vocab(void) {
    static char path[512];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_path(0, "vocab.gguf"));
        tu_write_small_vocab(path, 512 - 259);
    }
    return path;
}

/* A random llama model with rows of 256 (so K-quants apply) in the given type, made once. */
static const char *source_model(const char *type) {
    static struct { char type[8], path[512]; } made[8];
    size_t i = 0;
    for (; i < LK_ARRAY_LEN(made) && made[i].type[0]; i++)
        if (strcmp(made[i].type, type) == 0) return made[i].path;
    assert_true(i < LK_ARRAY_LEN(made));
    char name[64];
    snprintf(name, sizeof name, "src-%s.gguf", type);
    snprintf(made[i].path, sizeof made[i].path, "%s", tu_path(1, name));
    tu_random_model(made[i].path, "llama", type, small_vocab(), 2, 256, 4, 2, 512, false, false);
    snprintf(made[i].type, sizeof made[i].type, "%s", type);
    return made[i].path;
}

static void quantize_ok(const char *in, const char *out, int ftype, int threads, lk_quantize_stats *s) {
    lk_quantize_params p = { .ftype = ftype, .n_threads = threads };
    lk_error err = {0};
    if (lk_quantize_file(in, out, &p, s, &err)) fail_msg("quantize %s to %s: %s", in, lk_ftype_name(ftype), err.msg);
}

/* RMS of a - b over RMS of b. */
static double rel_rmse(const float *a, const float *b, int64_t n) {
    double se = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) {
        se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        ss += (double)b[i] * b[i];
    }
    return ss > 0 ? sqrt(se / ss) : sqrt(se);
}

/* The round-trip bound of each type on Gaussian data, relative to the data's RMS (test_quant.c's
 * bounds with some room for smaller samples). */
static double type_bound(uint32_t type) {
    switch (type) {
    case LK_F32: return 0;
    case LK_F16: return 0.0004;
    case LK_BF16: return 0.003;
    case LK_Q8_0: return 0.008;
    case LK_Q4_0: return 0.11;
    case LK_Q4_1: return 0.10;
    case LK_Q5_0: return 0.055;
    case LK_Q5_1: return 0.05;
    case LK_Q4_K: return 0.09;
    case LK_Q5_K: return 0.047;
    case LK_Q6_K: return 0.024;
    default: fail_msg("no bound for type %u", type); return 0;
    }
}

/* Every tensor of out dequantizes to within its type's bound of the same tensor of in. */
static void check_round_trip(const char *in, const char *out, const char *label) {
    lk_error err = {0};
    gguf_file *a = gguf_open(in, &err), *b = gguf_open(out, &err);
    if (!a || !b) fail_msg("%s: %s", label, err.msg);
    assert_int_equal(a->n_tensors, b->n_tensors);
    for (uint64_t i = 0; i < a->n_tensors; i++) {
        const gguf_tensor *ta = &a->tensors[i], *tb = gguf_find_tensor(b, ta->name);
        assert_non_null(tb);
        int64_t n = ta->ne[0] * ta->ne[1] * ta->ne[2] * ta->ne[3];
        float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
        assert_non_null(x);
        assert_non_null(y);
        int64_t rows = n / ta->ne[0];
        for (int64_t r = 0; r < rows; r++) {
            lk_dequantize_row(ta->type, (const uint8_t *)ta->data + r * lk_row_size(ta->type, ta->ne[0]),
                              x + r * ta->ne[0], ta->ne[0]);
            lk_dequantize_row(tb->type, (const uint8_t *)tb->data + r * lk_row_size(tb->type, tb->ne[0]),
                              y + r * ta->ne[0], ta->ne[0]);
        }
        double e = rel_rmse(y, x, n), bound = type_bound(tb->type);
        if (e > bound)
            fail_msg("%s: %s as %s: relative rmse %.5f above %.5f", label, ta->name, lk_qtype(tb->type)->name, e, bound);
        free(x);
        free(y);
    }
    gguf_close(a);
    gguf_close(b);
}

/* Every target, from F32: the file loads in the engine, has the chosen types and the target's
 * file type, and each tensor comes back within its type's error bound. */
static void test_quantized_model_loads_and_round_trips(void **state) {
    (void)state;
    static const int ftypes[] = {
        LK_FTYPE_Q8_0, LK_FTYPE_Q4_0, LK_FTYPE_Q4_1, LK_FTYPE_Q5_0, LK_FTYPE_Q5_1, LK_FTYPE_Q4_K_M,
        LK_FTYPE_Q4_K_S, LK_FTYPE_Q5_K_M, LK_FTYPE_Q5_K_S, LK_FTYPE_Q6_K, LK_FTYPE_F16, LK_FTYPE_BF16,
        LK_FTYPE_ALL_F32,
    };
    const char *in = source_model("f32");
    const char *out = tu_path(2, "q.gguf");
    for (size_t c = 0; c < LK_ARRAY_LEN(ftypes); c++) {
        const char *label = lk_ftype_name(ftypes[c]);
        lk_quantize_stats s;
        quantize_ok(in, out, ftypes[c], 2, &s);
        lk_llm *m = NULL;
        lk_error err = {0};
        if (lk_llm_load(out, &m, &err)) fail_msg("%s: load: %s", label, err.msg);
        uint64_t ft = 99, qv = 0;
        assert_int_equal(gguf_get_u64(m->gf, "general.file_type", true, &ft, &err), 0);
        assert_int_equal(ft, (uint64_t)ftypes[c]);
        assert_int_equal(gguf_get_u64(m->gf, "general.quantization_version", true, &qv, &err), 0);
        assert_int_equal(qv, 2);
        assert_non_null(gguf_find(m->gf, "tokenizer.ggml.tokens"));
        /* the types are the ones the rules choose */
        lk_quant_model qm;
        uint32_t *types = calloc(m->gf->n_tensors, sizeof *types);
        gguf_file *src = gguf_open(in, &err);
        assert_non_null(types);
        assert_non_null(src);
        assert_int_equal(lk_quant_model_from_gguf(src, &qm, &err), 0);
        assert_int_equal(lk_quant_choose_types(&qm, src->tensors, src->n_tensors, ftypes[c], types, &err), 0);
        uint64_t bytes = 0;
        for (uint64_t i = 0; i < src->n_tensors; i++) {
            const gguf_tensor *t = gguf_find_tensor(m->gf, src->tensors[i].name);
            assert_non_null(t);
            assert_type(t->type, types[i], src->tensors[i].name);
            bytes += t->nbytes;
        }
        assert_int_equal(s.bytes_out, bytes);
        assert_int_equal(s.n_tensors, src->n_tensors);
        gguf_close(src);
        free(types);
        lk_llm_free(m);
        check_round_trip(in, out, label);
    }
}

/* F16 and BF16 sources quantize as well as F32 ones. */
static void test_half_sources_round_trip(void **state) {
    (void)state;
    const char *out = tu_path(2, "h.gguf");
    const char *srcs[] = { source_model("f16"), source_model("bf16") };
    for (size_t i = 0; i < 2; i++) {
        quantize_ok(srcs[i], out, LK_FTYPE_Q4_K_M, 1, NULL);
        check_round_trip(srcs[i], out, srcs[i]);
        quantize_ok(srcs[i], out, LK_FTYPE_ALL_F32, 1, NULL);
        check_round_trip(srcs[i], out, srcs[i]); /* widening is exact: bound 0 */
    }
}

static bool same_bytes(const char *a, const char *b) {
    lk_buf x = {0}, y = {0};
    lk_error err = {0};
    if (lk_read_file(a, &x, &err) || lk_read_file(b, &y, &err)) fail_msg("%s", err.msg);
    bool same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    lk_buf_free(&x);
    lk_buf_free(&y);
    return same;
}

/* One, two and three threads write the same bytes. */
static void test_output_does_not_depend_on_thread_count(void **state) {
    (void)state;
    const char *in = source_model("f32");
    const char *a = tu_path(3, "t1.gguf"), *b = tu_path(4, "t2.gguf"), *c = tu_path(5, "t3.gguf");
    static const int ftypes[] = { LK_FTYPE_Q4_K_M, LK_FTYPE_Q8_0 };
    for (size_t i = 0; i < LK_ARRAY_LEN(ftypes); i++) {
        quantize_ok(in, a, ftypes[i], 1, NULL);
        quantize_ok(in, b, ftypes[i], 2, NULL);
        quantize_ok(in, c, ftypes[i], 3, NULL);
        assert_true(same_bytes(a, b));
        assert_true(same_bytes(a, c));
    }
}

typedef struct progress_log {
    uint64_t last, total;
    int calls;
    bool backwards;
} progress_log;

static void on_progress(void *ud, uint64_t done, uint64_t total) {
    progress_log *p = ud;
    if (done < p->last) p->backwards = true;
    p->last = done;
    p->total = total;
    p->calls++;
}

/* Progress counts the elements converted, never goes back, and ends at the total: every
 * element of the matrices. */
static void test_progress_reaches_the_total(void **state) {
    (void)state;
    const char *in = source_model("f32");
    progress_log log = {0};
    lk_quantize_params p = { .ftype = LK_FTYPE_Q8_0, .n_threads = 2, .progress = on_progress, .progress_ud = &log };
    lk_error err = {0};
    assert_int_equal(lk_quantize_file(in, tu_path(2, "p.gguf"), &p, NULL, &err), 0);
    assert_false(log.backwards);
    assert_true(log.calls >= 2);
    assert_int_equal(log.last, log.total);
    /* vocab 512 x dim 256 twice (embedding, output) + 2 layers of 4 * 256^2/... matrices */
    uint64_t want = 2ull * 512 * 256 + 2ull * (256 * 256 * 2 + 256 * 128 * 2 + 3ull * 256 * 512);
    assert_int_equal(log.total, want);
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* An already quantized model is refused, naming a tensor and its type; nothing is written. */
static void test_quantized_model_is_refused(void **state) {
    (void)state;
    const char *in = source_model("q8_0");
    const char *out = tu_path(2, "never.gguf");
    lk_quantize_params p = { .ftype = LK_FTYPE_Q4_K_M };
    lk_error err = {0};
    assert_int_equal(lk_quantize_file(in, out, &p, NULL, &err), LK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "tensor 'token_embd.weight' is q8_0"));
    assert_non_null(strstr(err.msg, in));
    assert_false(exists(out));
}

/* An unknown target is LK_EINVAL before the input is read. */
static void test_unknown_target_is_refused(void **state) {
    (void)state;
    lk_quantize_params p = { .ftype = 10 /* Q2_K */ };
    lk_error err = {0};
    assert_int_equal(lk_quantize_file(source_model("f32"), tu_path(2, "never.gguf"), &p, NULL, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "targets: "));
    assert_false(exists(tu_path(2, "never.gguf")));
}

/* An output that cannot be written fails with the path, leaving no file or temporary. */
static void test_unwritable_output_leaves_nothing(void **state) {
    (void)state;
    char out[600], tmp[610];
    snprintf(out, sizeof out, "%s/no-such-dir/out.gguf", tu_tmpdir());
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    lk_quantize_params p = { .ftype = LK_FTYPE_Q8_0 };
    lk_error err = {0};
    assert_int_equal(lk_quantize_file(source_model("f32"), out, &p, NULL, &err), LK_EIO);
    assert_non_null(strstr(err.msg, "no-such-dir"));
    assert_false(exists(out));
    assert_false(exists(tmp));
}

/* A NaN in a matrix is reported with its tensor, row and column; nothing is written. */
static void test_non_finite_weight_is_reported(void **state) {
    (void)state;
    const char *in = tu_path(6, "nan.gguf"), *out = tu_path(2, "never.gguf");
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_u32(w, "llama.block_count", 1);
    float data[64 * 3];
    for (int i = 0; i < 64 * 3; i++) data[i] = 0.01f * (float)(i % 7);
    data[64 * 2 + 5] = NAN;
    int64_t ne[2] = { 64, 3 };
    lk_error err = {0};
    assert_int_equal(gguf_add_tensor(w, "blk.0.attn_q.weight", LK_F32, 2, ne, data, &err), 0);
    assert_int_equal(gguf_write(w, in, &err), 0);
    gguf_writer_free(w);
    for (int threads = 1; threads <= 2; threads++) {
        lk_quantize_params p = { .ftype = LK_FTYPE_Q8_0, .n_threads = threads };
        assert_int_equal(lk_quantize_file(in, out, &p, NULL, &err), LK_EFORMAT);
        if (!strstr(err.msg, "tensor 'blk.0.attn_q.weight': row 2, column 5")) fail_msg("message: %s", err.msg);
        assert_false(exists(out));
    }
}

/* The model description comes from the metadata; a file without block_count is refused. */
static void test_model_description_needs_block_count(void **state) {
    (void)state;
    lk_error err = {0};
    gguf_file *f = gguf_open(source_model("f32"), &err);
    assert_non_null(f);
    lk_quant_model m;
    assert_int_equal(lk_quant_model_from_gguf(f, &m, &err), 0);
    assert_string_equal(m.arch, "llama");
    assert_int_equal(m.n_layer, 2);
    assert_int_equal(m.n_head, 4);
    assert_int_equal(m.n_head_kv, 2);
    assert_int_equal(m.n_expert, 0);
    gguf_close(f);
    f = gguf_open(small_vocab(), &err);
    assert_non_null(f);
    assert_int_not_equal(lk_quant_model_from_gguf(f, &m, &err), 0);
    assert_non_null(strstr(err.msg, "llama.block_count"));
    gguf_close(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_names_parse_to_llama_cpp_numbers),
        cmocka_unit_test(test_q4_k_m_gives_q6_k_to_attn_v_and_ffn_down_in_more_bits_layers),
        cmocka_unit_test(test_q5_k_m_gives_q6_k_in_the_same_layers),
        cmocka_unit_test(test_q4_k_s_gives_q5_k_to_the_first_layers),
        cmocka_unit_test(test_q5_k_s_and_q6_k_are_uniform_but_the_output),
        cmocka_unit_test(test_legacy_targets_give_the_output_q6_k),
        cmocka_unit_test(test_tied_token_embedding_gets_the_output_type),
        cmocka_unit_test(test_rows_not_a_multiple_of_256_fall_back),
        cmocka_unit_test(test_more_bits_layers_of_a_30_layer_model),
        cmocka_unit_test(test_rows_not_a_multiple_of_32),
        cmocka_unit_test(test_float_targets_convert_matrices_only),
        cmocka_unit_test(test_70b_gives_attn_v_q5_k),
        cmocka_unit_test(test_choice_does_not_depend_on_file_order),
        cmocka_unit_test(test_quantized_input_and_unknown_target_are_refused),
        cmocka_unit_test(test_quantized_model_loads_and_round_trips),
        cmocka_unit_test(test_half_sources_round_trip),
        cmocka_unit_test(test_output_does_not_depend_on_thread_count),
        cmocka_unit_test(test_progress_reaches_the_total),
        cmocka_unit_test(test_quantized_model_is_refused),
        cmocka_unit_test(test_unknown_target_is_refused),
        cmocka_unit_test(test_unwritable_output_leaves_nothing),
        cmocka_unit_test(test_non_finite_weight_is_reported),
        cmocka_unit_test(test_model_description_needs_block_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

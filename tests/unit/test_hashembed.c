/* test_hashembed.c — builtin:hash, the lexical embedder: vectors are unit length and
 * reproducible, texts that share words and word pieces come out closer than texts that do not,
 * and a small retrieval task finds the right document. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include "base/base.h"
#include "models/hashembed.h"

enum { DIM = HASHEMBED_DEFAULT_DIM };

/* ---- helpers ---- */

static void embed(const char *text, float *v) { hashembed(text, strlen(text), v, DIM); }

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double norm(const float *a, size_t n) { return sqrt(dot(a, a, n)); }

/* Cosine of the embeddings of two texts (the vectors are unit length, so their dot product). */
static double cosine(const char *x, const char *y) {
    float a[DIM], b[DIM];
    embed(x, a);
    embed(y, b);
    return dot(a, b, DIM);
}

/* ---- tests ---- */

/* Every non-empty text embeds to a unit vector. */
static void test_unit_norm(void **state) {
    (void)state;
    const char *texts[] = { "a", "hello world", "The quick brown fox jumps over the lazy dog.",
                            "Ünïcödé ΕΛΛΗΝΙΚΆ кириллица 日本語のテキスト", "42", "x y x y x y x y" };
    for (size_t i = 0; i < LK_ARRAY_LEN(texts); i++) {
        float v[DIM];
        embed(texts[i], v);
        assert_float_equal(norm(v, DIM), 1.0, 1e-5);
    }
}

/* The same text gives bit-identical vectors every time, and a small one matches values fixed
 * when this was written (no pointer or address hashing, fixed seeds). */
static void test_deterministic(void **state) {
    (void)state;
    float a[DIM], b[DIM];
    embed("Determinism matters for caches and tests.", a);
    embed("Determinism matters for caches and tests.", b);
    assert_memory_equal(a, b, sizeof a);
    /* "cat": the word (1.0) and the 3 + 2 + 1 n-grams of "<cat>" (0.8 / sqrt 6 each), normalised
     * by sqrt(1 + 0.64) — values fixed on the first run, the same with gcc and clang */
    static const float want[16] = { -0.255031f, 0, 0, -0.255031f, 0, 0, -0.255031f, 0,
                                    -0.255031f, -0.255031f, 0, -0.255031f, 0.780869f, 0, 0, 0 };
    float v[16];
    hashembed("cat", 3, v, 16);
    for (int i = 0; i < 16; i++) assert_float_equal(v[i], want[i], 1e-6);
    assert_float_equal(v[12], 1 / sqrt(1.64), 1e-6);
}

/* Identical texts have cosine 1. */
static void test_identical_texts_cosine_one(void **state) {
    (void)state;
    assert_float_equal(cosine("large language models", "large language models"), 1.0, 1e-5);
}

/* Case and punctuation do not matter: "Hello, World!" is "hello world". */
static void test_case_and_punctuation_insensitive(void **state) {
    (void)state;
    assert_true(cosine("Hello, World!", "hello world") > 0.99);
    assert_true(cosine("  RUN -- the (tests)...", "run the tests") > 0.99);
    assert_true(cosine("ÉCOLE Straße ΑΘΉΝΑ МОСКВА", "école straße αθήνα москва") > 0.99);
}

/* A text is closer to one sharing words with it than to an unrelated one. */
static void test_shared_words_score_higher(void **state) {
    (void)state;
    const char *triples[][3] = {
        { "the cat sat on the mat", "a cat sat on a rug", "stock prices fell sharply today" },
        { "python list comprehension", "list comprehension in python examples", "baking bread at home" },
        { "weather forecast for tomorrow", "tomorrow's weather forecast", "gpu memory bandwidth" },
        { "quantum computing qubits", "qubits in quantum computers", "the history of jazz music" },
        { "красная площадь москва", "москва красная", "paris eiffel tower" },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(triples); i++) {
        double near = cosine(triples[i][0], triples[i][1]), far = cosine(triples[i][0], triples[i][2]);
        if (!(near > far + 0.2)) fail_msg("\"%s\": %.3f to \"%s\", %.3f to \"%s\"", triples[i][0], near,
                                          triples[i][1], far, triples[i][2]);
    }
}

/* Words sharing a stem are closer than unrelated words (character n-grams). */
static void test_morphological_neighbours(void **state) {
    (void)state;
    const char *pairs[][3] = {
        { "running", "runner", "banana" },
        { "embedding", "embeddings", "kitchen" },
        { "compute", "computation", "zebra" },
        { "national", "international", "pepper" },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(pairs); i++) {
        double near = cosine(pairs[i][0], pairs[i][1]), far = cosine(pairs[i][0], pairs[i][2]);
        if (!(near > 0.1 && near > far + 0.1))
            fail_msg("%s: %.3f to %s, %.3f to %s", pairs[i][0], near, pairs[i][1], far, pairs[i][2]);
    }
}

/* A text without a word (empty, spaces, punctuation, emoji) is the zero vector. */
static void test_empty_text_is_zero(void **state) {
    (void)state;
    const char *texts[] = { "", "   \n\t", "?!... --- ***", "\xF0\x9F\x98\x80 \xE2\x80\x94" };
    for (size_t i = 0; i < LK_ARRAY_LEN(texts); i++) {
        float v[DIM];
        for (size_t k = 0; k < DIM; k++) v[k] = 1.0f;
        embed(texts[i], v);
        for (size_t k = 0; k < DIM; k++) assert_true(v[k] == 0.0f);
    }
}

/* Every dimension from 1 to 2048 gives a unit vector (dimension 1: +1 or -1). */
static void test_any_dimension(void **state) {
    (void)state;
    float *v = lk_xmalloc(2048 * sizeof *v);
    const char *text = "dimension check with several words and word pieces";
    for (size_t dim = 1; dim <= 2048; dim += dim < 16 ? 1 : 97) {
        hashembed(text, strlen(text), v, dim);
        assert_float_equal(norm(v, dim), 1.0, 1e-5);
    }
    hashembed(text, strlen(text), v, 2048);
    assert_float_equal(norm(v, 2048), 1.0, 1e-5);
    free(v);
}

/* Malformed UTF-8 and very long words are handled: the result is still a unit vector, and a
 * word longer than 64 code points counts by its first 64. */
static void test_malformed_and_long_input(void **state) {
    (void)state;
    float v[DIM];
    const char bad[] = "ok \xC3 \xE2\x82 \xFF\xFE \xC0\xAF \xED\xA0\x80 fine";
    hashembed(bad, sizeof bad - 1, v, DIM);
    assert_float_equal(norm(v, DIM), 1.0, 1e-5);
    assert_true(cosine(bad, "ok fine") > 0.99);
    char long_word[201];
    memset(long_word, 'a', 200);
    long_word[200] = 0;
    assert_float_equal(cosine(long_word, long_word + 136), 1.0, 1e-5); /* 200 and 64 a's */
}

/* Ten short documents on distinct topics; a query sharing a keyword with one of them finds it
 * at rank 1. */
static void test_retrieval(void **state) {
    (void)state;
    static const char *docs[] = {
        "The espresso machine needs descaling every month to keep the coffee tasting fresh.",
        "Our football team won the championship after a dramatic penalty shootout.",
        "Photosynthesis converts sunlight, water and carbon dioxide into glucose in plants.",
        "The stock market rallied as interest rates were cut by the central bank.",
        "Rust's borrow checker prevents data races at compile time.",
        "The volcano erupted, sending ash clouds across the island's airports.",
        "A sourdough starter is flour and water fermented by wild yeast.",
        "The telescope captured images of a distant galaxy cluster.",
        "Vaccines train the immune system to recognise a pathogen.",
        "The violin concerto was performed with a full symphony orchestra.",
    };
    static const struct { const char *q; int doc; } queries[] = {
        { "how often should I descale my espresso maker", 0 },
        { "who won the football championship", 1 },
        { "what does photosynthesis produce", 2 },
        { "why did interest rates change", 3 },
        { "what is the borrow checker", 4 },
        { "volcano ash and flights", 5 },
        { "how to feed a sourdough starter", 6 },
        { "telescope galaxy pictures", 7 },
        { "how do vaccines work", 8 },
        { "famous violin concertos", 9 },
    };
    enum { N = LK_ARRAY_LEN(docs) };
    float dv[N][DIM], qv[DIM];
    for (int d = 0; d < N; d++) embed(docs[d], dv[d]);
    for (size_t i = 0; i < LK_ARRAY_LEN(queries); i++) {
        embed(queries[i].q, qv);
        int best = -1;
        double best_s = -2;
        for (int d = 0; d < N; d++) {
            double s = dot(qv, dv[d], DIM);
            if (s > best_s) best_s = s, best = d;
        }
        if (best != queries[i].doc)
            fail_msg("\"%s\" found document %d (%.3f), expected %d (%.3f)", queries[i].q, best, best_s,
                     queries[i].doc, dot(qv, dv[queries[i].doc], DIM));
    }
}

/* Japanese and Chinese text without spaces still matches by character: a text shares more with
 * one using the same characters. */
static void test_cjk_characters_are_words(void **state) {
    (void)state;
    assert_true(cosine("東京は日本の首都です", "日本の首都") > cosine("東京は日本の首都です", "猫が好きです") + 0.2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_norm),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_identical_texts_cosine_one),
        cmocka_unit_test(test_case_and_punctuation_insensitive),
        cmocka_unit_test(test_shared_words_score_higher),
        cmocka_unit_test(test_morphological_neighbours),
        cmocka_unit_test(test_empty_text_is_zero),
        cmocka_unit_test(test_any_dimension),
        cmocka_unit_test(test_malformed_and_long_input),
        cmocka_unit_test(test_retrieval),
        cmocka_unit_test(test_cjk_characters_are_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

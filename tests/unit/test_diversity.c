/* test_diversity.c — the diversity metrics of `llmkit sweep`, each checked on cases small
 * enough to work out by hand: identical samples, disjoint samples, a pair of sentences with
 * every metric computed on paper, BLEU's clipping, smoothing and brevity penalty, and the edge
 * cases (one sample, no samples, empty samples). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include "base/base.h"
#include "eval/diversity.h"

static const char *const pair[] = { "The cat sat on the mat.", "the cat is on the mat" };

/* ---- identical and disjoint samples ---- */

/* Three copies of one sentence: distinct-1 is its unique words over all words, self-BLEU and
 * Jaccard are 1. */
static void test_identical_samples(void **state) {
    (void)state;
    const char *s = "the quick brown fox jumps over the lazy dog";
    const char *texts[] = { s, s, s };
    diversity d;
    diversity_compute(texts, 3, &d);
    assert_int_equal(d.n_samples, 3);
    assert_float_equal(d.mean_words, 9, 1e-12);
    assert_float_equal(d.distinct1, 8.0 / 27, 1e-12);
    assert_float_equal(d.distinct2, 8.0 / 24, 1e-12);
    assert_float_equal(d.self_bleu, 1.0, 1e-12);
    assert_float_equal(d.jaccard, 1.0, 1e-12);
}

/* Samples with no word in common: self-BLEU and Jaccard 0, every n-gram distinct. */
static void test_disjoint_samples(void **state) {
    (void)state;
    const char *texts[] = { "alpha beta gamma delta", "one two three four", "red green blue yellow" };
    diversity d;
    diversity_compute(texts, 3, &d);
    assert_float_equal(d.self_bleu, 0.0, 1e-12);
    assert_float_equal(d.jaccard, 0.0, 1e-12);
    assert_float_equal(d.distinct1, 1.0, 1e-12);
    assert_float_equal(d.distinct2, 1.0, 1e-12);
    assert_float_equal(d.entropy, log2(12), 1e-12);
}

/* ---- every metric by hand ---- */

/* "The cat sat on the mat." and "the cat is on the mat": 12 words, 6 unique (the cat sat on mat
 * is) → distinct-1 = 0.5; 10 bigrams, 7 unique → distinct-2 = 0.7. */
static void test_distinct_by_hand(void **state) {
    (void)state;
    diversity d;
    diversity_compute(pair, 2, &d);
    assert_float_equal(d.mean_words, 6, 1e-12);
    assert_float_equal(d.distinct1, 0.5, 1e-12);
    assert_float_equal(d.distinct2, 0.7, 1e-12);
}

/* Word sets {the cat sat on mat} and {the cat is on mat}: 4 shared of 6 → Jaccard 2/3. */
static void test_jaccard_by_hand(void **state) {
    (void)state;
    diversity d;
    diversity_compute(pair, 2, &d);
    assert_float_equal(d.jaccard, 2.0 / 3, 1e-12);
    const char *three[] = { "a b", "a c", "d" }; /* pairs: 1/3, 0, 0 */
    diversity_compute(three, 3, &d);
    assert_float_equal(d.jaccard, 1.0 / 9, 1e-12);
}

/* Unigram counts the 4, cat 2, on 2, mat 2, sat 1, is 1 of 12:
 * H = 1/3 log2 3 + 3 · 1/6 log2 6 + 2 · 1/12 log2 12 ≈ 2.4183 bits. */
static void test_entropy_by_hand(void **state) {
    (void)state;
    diversity d;
    diversity_compute(pair, 2, &d);
    double want = log2(3) / 3 + 3 * log2(6) / 6 + 2 * log2(12) / 12;
    assert_float_equal(d.entropy, want, 1e-12);
    assert_float_equal(d.entropy, 2.418296, 1e-6);
}

/* k words used equally often have entropy log2 k. */
static void test_entropy_uniform(void **state) {
    (void)state;
    const char *texts[] = { "a b c d e f g h", "h g f e d c b a" };
    diversity d;
    diversity_compute(texts, 2, &d);
    assert_float_equal(d.entropy, 3.0, 1e-12);
    const char *three[] = { "x y z x y z" };
    diversity_compute(three, 1, &d);
    assert_float_equal(d.entropy, log2(3), 1e-12);
}

/* BLEU of "the cat sat on the mat" against "the cat is on the mat": precisions 5/6, 3/5, 1/4
 * and 0/3 → 0.1/3 (smoothing), equal lengths so no brevity penalty:
 * (5/6 · 3/5 · 1/4 · 1/30)^(1/4) = (1/240)^(1/4) ≈ 0.25407. The pair's self-BLEU is the same
 * (the reverse direction has the same counts). */
static void test_bleu_by_hand(void **state) {
    (void)state;
    const char *ref = pair[1];
    assert_float_equal(diversity_bleu(pair[0], &ref, 1), pow(1.0 / 240, 0.25), 1e-12);
    assert_float_equal(diversity_bleu(pair[0], &ref, 1), 0.254066, 1e-6);
    diversity d;
    diversity_compute(pair, 2, &d);
    assert_float_equal(d.self_bleu, pow(1.0 / 240, 0.25), 1e-12);
}

/* A candidate shorter than its reference pays the brevity penalty: "the cat" against a 6-word
 * reference has precisions 1, 1, 0.1, 0.1 (no trigrams or 4-grams: 0.1 / 1) and
 * BP = exp(1 - 6/2): e^-2 · 0.1^(1/2) ≈ 0.042797. */
static void test_bleu_brevity_penalty(void **state) {
    (void)state;
    const char *ref = "the cat sat on the mat";
    assert_float_equal(diversity_bleu("the cat", &ref, 1), exp(-2) * sqrt(0.1), 1e-12);
}

/* Counts are clipped by the largest count in any one reference, and the closest reference
 * length sets the penalty: "the the the the" against "the cat" and "the the dog" has
 * precisions 2/4, 1/3, 0.1/2, 0.1/1; the closest length 3 < 4, so no penalty:
 * (1/2 · 1/3 · 1/20 · 1/10)^(1/4) = (1/1200)^(1/4). */
static void test_bleu_clipping_multiple_references(void **state) {
    (void)state;
    const char *refs[] = { "the cat", "the the dog" };
    assert_float_equal(diversity_bleu("the the the the", refs, 2), pow(1.0 / 1200, 0.25), 1e-12);
}

/* No unigram in common, an empty candidate or no references: BLEU 0. */
static void test_bleu_zero_cases(void **state) {
    (void)state;
    const char *ref = "completely different words";
    assert_true(diversity_bleu("nothing shared here", &ref, 1) == 0);
    assert_true(diversity_bleu("", &ref, 1) == 0);
    assert_true(diversity_bleu("words", NULL, 0) == 0);
}

/* ---- words and edge cases ---- */

/* Words are lower-cased ASCII letters and digits plus any byte >= 0x80; the rest separates. */
static void test_word_splitting(void **state) {
    (void)state;
    const char *texts[] = { "Hello, HELLO hello! x2 x-2 café—café" };
    diversity d;
    diversity_compute(texts, 1, &d);
    /* hello hello hello x2 x 2 café—café (the em dash is bytes >= 0x80: part of the word) */
    assert_float_equal(d.mean_words, 7, 1e-12);
    assert_float_equal(d.distinct1, 5.0 / 7, 1e-12);
}

/* One sample: nothing to compare it with, so self-BLEU and Jaccard are 0; the rest is
 * computed. */
static void test_single_sample(void **state) {
    (void)state;
    const char *texts[] = { "one two two" };
    diversity d;
    diversity_compute(texts, 1, &d);
    assert_int_equal(d.n_samples, 1);
    assert_float_equal(d.self_bleu, 0, 0);
    assert_float_equal(d.jaccard, 0, 0);
    assert_float_equal(d.distinct1, 2.0 / 3, 1e-12);
    assert_float_equal(d.distinct2, 1.0, 1e-12);
    assert_float_equal(d.mean_words, 3, 1e-12);
}

/* No samples: every metric 0. */
static void test_no_samples(void **state) {
    (void)state;
    diversity d;
    memset(&d, 0xFF, sizeof d);
    diversity_compute(NULL, 0, &d);
    assert_int_equal(d.n_samples, 0);
    assert_true(d.mean_words == 0 && d.distinct1 == 0 && d.distinct2 == 0 && d.self_bleu == 0 &&
                d.jaccard == 0 && d.entropy == 0);
}

/* Samples without words (empty, NULL, punctuation): two empty word sets count as identical for
 * Jaccard; an empty and a non-empty one as disjoint; there are no n-grams, so distinct-n and
 * entropy are 0. */
static void test_empty_samples(void **state) {
    (void)state;
    const char *texts[] = { "", NULL, "?!" };
    diversity d;
    diversity_compute(texts, 3, &d);
    assert_float_equal(d.jaccard, 1.0, 1e-12);
    assert_float_equal(d.self_bleu, 0, 0);
    assert_float_equal(d.distinct1, 0, 0);
    assert_float_equal(d.entropy, 0, 0);
    assert_float_equal(d.mean_words, 0, 0);
    const char *mixed[] = { "", "word" };
    diversity_compute(mixed, 2, &d);
    assert_float_equal(d.jaccard, 0, 0);
}

/* Many longer samples (hash tables growing) give the same results as the metrics' definitions
 * checked on a structure known in advance: sample i is "w0 .. w49" with word i replaced by
 * "x", so every pair shares 48 of 50 words (sets of 50 with 2 different: 48/52). */
static void test_many_samples(void **state) {
    (void)state;
    enum { N = 40, W = 50 };
    char *texts[N];
    for (int i = 0; i < N; i++) {
        lk_buf b = {0};
        for (int k = 0; k < W; k++) lk_buf_printf(&b, k == i ? "x%d " : "w%d ", k);
        texts[i] = b.data;
    }
    diversity d;
    diversity_compute((const char *const *)texts, N, &d);
    assert_float_equal(d.jaccard, 48.0 / 52, 1e-12);
    assert_float_equal(d.distinct1, (double)(W + N) / (N * W), 1e-12);
    assert_true(d.self_bleu > 0.9 && d.self_bleu < 1);
    for (int i = 0; i < N; i++) free(texts[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_samples),
        cmocka_unit_test(test_disjoint_samples),
        cmocka_unit_test(test_distinct_by_hand),
        cmocka_unit_test(test_jaccard_by_hand),
        cmocka_unit_test(test_entropy_by_hand),
        cmocka_unit_test(test_entropy_uniform),
        cmocka_unit_test(test_bleu_by_hand),
        cmocka_unit_test(test_bleu_brevity_penalty),
        cmocka_unit_test(test_bleu_clipping_multiple_references),
        cmocka_unit_test(test_bleu_zero_cases),
        cmocka_unit_test(test_word_splitting),
        cmocka_unit_test(test_single_sample),
        cmocka_unit_test(test_no_samples),
        cmocka_unit_test(test_empty_samples),
        cmocka_unit_test(test_many_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

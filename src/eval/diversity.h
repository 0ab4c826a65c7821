/* diversity.h — how varied a set of samples is, for `llmkit sweep` (many completions of one
 * prompt under each setting).
 *
 * Words are lower-cased runs of ASCII letters and digits and of bytes >= 0x80 (so any UTF-8
 * non-ASCII character counts as a word character); everything else separates words. */
#ifndef LK_DIVERSITY_H
#define LK_DIVERSITY_H

#include <stddef.h>

typedef struct diversity {
    size_t n_samples;
    double mean_words;      /* words per sample */
    double distinct1;       /* unique unigrams / unigrams, over all samples (0 when none) */
    double distinct2;       /* unique bigrams / bigrams; bigrams do not cross samples (0 when none) */
    double self_bleu;       /* mean over samples of BLEU-4 against all the other samples as
                               references (0 with fewer than 2 samples); see diversity_bleu */
    double jaccard;         /* mean over pairs of samples of |A ∩ B| / |A ∪ B| of their word sets;
                               two samples without words count as 1 (identical), one empty and
                               one not as 0; 0 with fewer than 2 samples */
    double entropy;         /* Shannon entropy in bits of the unigram distribution over all
                               samples (0 when there are no words) */
} diversity;

/* Compute every metric over texts[n] (a NULL text is empty). Higher distinct-n and entropy and
 * lower self-BLEU and Jaccard mean more diverse samples. Memory is proportional to the total
 * text; the samples are the caller's (model outputs), and running out of memory aborts like
 * lk_xmalloc. */
void diversity_compute(const char *const *texts, size_t n, diversity *out);

/* Sentence BLEU-4 of cand against refs[n_refs], as diversity_compute scores each sample (and as
 * NLTK's sentence_bleu with SmoothingFunction().method1 does): uniform weights; n-gram counts
 * clipped by the largest count in any one reference; a precision with no match becomes
 * 0.1 / max(1, n-grams of that order in the candidate) (Chen & Cherry's method 1, epsilon 0.1);
 * brevity penalty exp(1 - r / c) when the candidate length c is at most r, the reference length
 * closest to c (the shorter on a tie). 0 when the candidate has no words or no unigram matches.
 * A candidate shorter than four words can therefore never score 1. */
double diversity_bleu(const char *cand, const char *const *refs, size_t n_refs);

#endif

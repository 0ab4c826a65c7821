/* sampler.h — choosing the next token from logits, and spotting stop strings in a stream.
 *
 * A sampler is a fixed chain, in llama.cpp's default order:
 *
 *     penalties -> logit bias -> top_k -> typical -> top_p -> min_p -> temperature -> draw
 *
 * With mirostat on (1 or 2), the middle of the chain is replaced:
 *
 *     penalties -> logit bias -> temperature -> mirostat (v1 or v2) -> draw
 *
 * and temperature <= 0 means greedy: the argmax after penalties and bias, ties going to the
 * lowest token id. Draws come from the sampler's own PRNG (xoshiro256** seeded through
 * splitmix64), so the same seed, logits and accepted tokens give the same tokens on every
 * machine. Each step is O(n_vocab): top_k selects with a bounded heap instead of sorting the
 * vocabulary; only top_p or typical without top_k sort the candidates.
 *
 * Generation length is the caller's loop: sample, accept, decode the token, feed its text to a
 * stop_matcher, and stop on end-of-generation tokens, a stop string or max_tokens. */
#ifndef LK_SAMPLER_H
#define LK_SAMPLER_H

#include "llmkit.h"
#include "base/base.h"

/* One entry of a logit bias list: bias is added to the token's logit. -INFINITY bans it. */
typedef struct lk_logit_bias {
    int32_t token;
    float bias;
} lk_logit_bias;

/* Sampling settings. Fill with lk_sampler_params_default() and change what you need; the
 * defaults are llama.cpp's. A setting at its "off" value skips that stage of the chain. */
typedef struct lk_sampler_params {
    uint64_t seed;            /* PRNG seed (default 0); same seed, same draws */
    float temp;               /* temperature (0.8); <= 0 means greedy */
    int32_t top_k;            /* keep the k most likely (40); <= 0 is off */
    float top_p;              /* nucleus: smallest prefix with mass >= top_p (0.95); >= 1 is off */
    float min_p;              /* drop p < min_p * p_max (0.05); <= 0 is off */
    float typical_p;          /* locally typical sampling (1.0, off); >= 1 is off */
    float repeat_penalty;     /* divide positive / multiply negative logits (1.0, off) */
    float frequency_penalty;  /* subtract count * frequency_penalty (0, off) */
    float presence_penalty;   /* subtract presence_penalty once if present (0, off) */
    int32_t penalty_last_n;   /* penalties look at the last N accepted tokens (64); 0 is off */
    int mirostat;             /* 0 off, 1 mirostat, 2 mirostat v2 */
    float mirostat_tau;       /* target surprise in bits (5.0) */
    float mirostat_eta;       /* learning rate (0.1) */
    const lk_logit_bias *logit_bias; /* n_logit_bias entries, copied by sampler_new */
    size_t n_logit_bias;
} lk_sampler_params;

/* Fill *p with the defaults listed in lk_sampler_params. */
void lk_sampler_params_default(lk_sampler_params *p);

/* Check params against a vocabulary of n_vocab tokens. Returns 0, or LK_EINVAL with a
 * message naming the field and its bad value (a NaN, a negative penalty window, a logit bias
 * token outside the vocabulary, ...). */
int lk_sampler_params_check(const lk_sampler_params *p, int n_vocab, lk_error *err);

typedef struct sampler sampler;

/* A candidate token as the chain leaves it: the logit after penalties, bias and temperature,
 * and its probability in the distribution the draw would use. */
typedef struct sampler_cand {
    int32_t id;
    float logit;
    float p;
} sampler_cand;

/* A new sampler for a vocabulary of n_vocab tokens. Returns NULL and fills *err when the
 * params fail lk_sampler_params_check() or memory runs out. */
sampler *sampler_new(const lk_sampler_params *p, int n_vocab, lk_error *err);
void sampler_free(sampler *s);

/* Choose the next token from logits[n_vocab] (which are read, never written). With mirostat,
 * this also moves mu toward the target surprise. Returns the token id, or -1 when no token can
 * be chosen (every logit is NaN or -inf, e.g. all banned by logit bias). */
int32_t sampler_sample(sampler *s, const float *logits);

/* Run the chain on logits without drawing and without changing any state. Sets *out to the
 * candidates that survive, most probable first (ties by lower id), and returns how many (0 if
 * none). The array belongs to the sampler and is valid until its next call. For logprobs, and
 * for tests that check the distribution exactly. */
size_t sampler_dist(sampler *s, const float *logits, const sampler_cand **out);

/* Record a token as generated (or as part of the prompt, if the penalties should see the
 * prompt). Only the last penalty_last_n are kept. Ids outside the vocabulary are ignored. */
void sampler_accept(sampler *s, int32_t tok);

/* Forget the accepted tokens, reset mirostat's mu to 2 * tau and reseed the PRNG with the
 * original seed, so that the sampler replays as if new. */
void sampler_reset(sampler *s);

/* Streaming stop strings.
 *
 * A stop_matcher takes the generated text piece by piece (pieces may split stop strings and
 * UTF-8 characters anywhere) and appends to an output buffer only what is safe to show now: it
 * holds back a tail that could still become a stop string, and an incomplete UTF-8 character.
 * When a stop string appears, the text before it is emitted, the stop string and anything
 * after it are dropped, and the matcher reports the hit. At the end of generation,
 * stop_matcher_flush() emits whatever was held back. */
typedef struct stop_matcher stop_matcher;

/* A matcher for n stop strings (copied; empty strings are ignored). Never NULL. */
stop_matcher *stop_matcher_new(const char *const *stops, size_t n);
void stop_matcher_free(stop_matcher *m);

/* Feed len bytes of generated text; append what is safe to emit to *out. Returns true when a
 * stop string has been hit (now or earlier); after a hit, input is ignored. */
bool stop_matcher_feed(stop_matcher *m, const char *piece, size_t len, lk_buf *out);

/* End of generation: append the held-back text to *out (nothing after a hit). */
void stop_matcher_flush(stop_matcher *m, lk_buf *out);

/* The index of the stop string that was hit, or -1. */
int stop_matcher_which(const stop_matcher *m);

/* Forget held text and any hit, for a new generation with the same stop strings. */
void stop_matcher_reset(stop_matcher *m);

#endif

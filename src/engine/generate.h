/* generate.h — a conversation with a local model: prompt in, streamed text out.
 *
 * A session owns a KV cache for one sequence and remembers the tokens in it. Each call to
 * lk_session_generate takes the full prompt (the whole rendered chat, say), keeps the longest
 * prefix already in the cache, evaluates the rest in chunks, then samples until an
 * end-of-generation token, a stop string or max_tokens, streaming UTF-8-complete text through a
 * callback. This is what `llmkit run` and `llmkit chat` use. */
#ifndef LK_GENERATE_H
#define LK_GENERATE_H

#include "engine/model.h"
#include "engine/sampler.h"

typedef struct lk_gen_params {
    lk_sampler_params sampling;
    int max_tokens;               /* < 0: until the context is full */
    const char *const *stops;     /* stop strings */
    size_t n_stops;
    int n_batch;                  /* prompt tokens per forward pass (default 256 when 0) */
    /* If set: called for each generated token (end-of-generation tokens included) with the
     * logits it was sampled from, before its text is streamed (for logprobs). */
    void (*on_sample)(int32_t tok, const float *logits, int n_vocab, void *ud);
    void *sample_ud;
    const volatile int *cancel;   /* if set and nonzero: stop (finish "cancelled"), checked per token
                                     and per prompt chunk */
} lk_gen_params;

typedef struct lk_gen_stats {
    int n_prompt;                 /* prompt tokens */
    int n_cached;                 /* of which already in the cache */
    int n_gen;                    /* generated tokens */
    double prompt_s;              /* time to evaluate the uncached prompt tokens */
    double ttft_s;                /* start to the first generated token */
    double gen_s;                 /* first generated token to the last */
    const char *finish;           /* "stop" (EOG token or stop string), "length", "cancelled" */
} lk_gen_stats;

/* Called with each piece of text as it is ready; return false to cancel. */
typedef bool (*lk_text_cb)(const char *text, size_t len, void *ud);

typedef struct lk_session {
    const lk_llm *m;
    lk_kv kv;
    int32_t *toks;                /* tokens whose K/V are in the cache, in order */
    int n_toks;
    int n_ctx;
} lk_session;

/* A session with a cache of n_ctx tokens (clamped to the model's training context when <= 0). */
int lk_session_init(lk_session *s, const lk_llm *m, int n_ctx, lk_error *err);
void lk_session_free(lk_session *s);

/* Generate a continuation of prompt[n_prompt]. The generated tokens stay in the cache, so the
 * next prompt that extends this conversation reuses them. */
int lk_session_generate(lk_session *s, const int32_t *prompt, int n_prompt, const lk_gen_params *gp,
                        lk_text_cb cb, void *ud, lk_gen_stats *st, lk_error *err);

/* ---- prompts ---- */

#include "engine/chat.h"

/* Tokenize a plain prompt: BOS as the vocabulary says (unless no_bos), special tokens in the
 * text matched only when parse_special. *ids is malloc'd. */
int lk_prompt_tokens(const lk_llm *m, const char *text, bool no_bos, bool parse_special,
                     int32_t **ids, int *n, lk_error *err);

/* Pick the chat template: the family named by override (NULL: none), else the one detected
 * from the model's tokenizer.chat_template. Returns the template id, or -1 with an error that
 * lists the known names. */
int lk_llm_chat_template(const lk_llm *m, const char *override, lk_error *err);

/* Render messages with template tmpl (from lk_llm_chat_template) and tokenize the result,
 * special tokens matched (the template's markers are special tokens); BOS is put first when the
 * vocabulary adds one and the rendered text does not already start with it. */
int lk_chat_tokens(const lk_llm *m, int tmpl, const lk_chat_msg *msgs, size_t n, bool add_generation_prompt,
                   int32_t **ids, int *n_ids, lk_error *err);

#endif

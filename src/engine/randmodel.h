/* randmodel.h — deterministic random models for tests and benchmarks (`llmkit gguf random`).
 *
 * The file is a real GGUF of the llama or qwen2 architecture, with the vocabulary (and chat
 * template) copied from a vocabulary GGUF, weights drawn from N(0, 0.02) with a seeded
 * generator and norms set to 1, and the matrices quantized to the chosen type. The same
 * parameters give the same bytes. */
#ifndef LK_RANDMODEL_H
#define LK_RANDMODEL_H

#include "llmkit.h"

typedef struct lk_random_params {
    const char *arch;          /* "llama" or "qwen2" */
    int n_layer, dim, n_head, n_head_kv, n_ff, n_ctx;
    int head_dim;              /* 0: dim / n_head */
    const char *vocab_path;    /* a GGUF with tokenizer.* metadata */
    uint32_t type;             /* weight type for matrices (a ggml type number) */
    uint64_t seed;
    float rope_base;           /* 0: 10000 for llama, 1e6 for qwen2 */
    bool tied;                 /* no output.weight: reuse the token embedding */
    bool llama3_rope;          /* add rope_freqs.weight as Llama 3.1 does (factor 8, 8192 context) */
    const char *chat_template; /* a template family name; NULL: the vocabulary's, else a default */
    const char *out_path;
    /* progress: called after each tensor with (done, total) */
    void (*progress)(void *ud, int done, int total);
    void *progress_ud;
} lk_random_params;

/* Write the model to p->out_path (atomically). Errors name the parameter or file at fault. */
int lk_random_model(const lk_random_params *p, lk_error *err);

#endif

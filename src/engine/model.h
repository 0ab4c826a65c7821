/* model.h — a local transformer loaded from GGUF, its KV cache and the forward pass.
 *
 * The model keeps the GGUF map and points at the weights in their file types; matmuls dispatch
 * on the weight type (quant/quant.h). Architectures: llama (Llama 2/3.x, Mistral, TinyLlama,
 * SmolLM2) and qwen2. Every shape comes from metadata.
 *
 * The forward pass takes a batch of tokens, each with its position and sequence id, in the
 * manner of a server that decodes many sequences at once: K and V of every token are written to
 * a cell of the KV cache, and each token attends to the cells of its own sequence at positions
 * up to its own. One sequence (id 0) is all the CLI uses today. */
#ifndef LK_MODEL_H
#define LK_MODEL_H

#include "llmkit.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "base/pool.h"

enum lk_arch { LK_ARCH_LLAMA = 0, LK_ARCH_QWEN2 = 1 };

typedef struct lk_hparams {
    enum lk_arch arch;
    int n_vocab;
    int n_ctx_train;    /* context length the model was trained with */
    int dim;            /* embedding length */
    int n_layer;
    int n_head, n_head_kv;
    int head_dim;       /* key/value head size (attention.key_length, else dim / n_head) */
    int n_ff;
    int n_rot;          /* rope dimension count (<= head_dim) */
    float norm_eps;
    float rope_base;
    float rope_freq_scale; /* 1 / linear scaling factor; 1 when not scaled */
    bool rope_neox;     /* NeoX-style rotation (pairs i, i + n_rot/2) instead of adjacent pairs */
} lk_hparams;

/* Matrices stay in the map in their file type; vectors (norms, biases) are converted to floats
 * once at load. A matrix of shape [in, out] (ne[0] = in) holds `out` rows of `in` elements. */
typedef struct lk_layer {
    const float *attn_norm, *ffn_norm;   /* [dim] */
    const float *bq, *bk, *bv;           /* qwen2: [n_head * head_dim], [n_head_kv * head_dim] x2 */
    const gguf_tensor *wq, *wk, *wv, *wo;
    const gguf_tensor *w_gate, *w_up, *w_down;
} lk_layer;

typedef struct lk_llm {
    gguf_file *gf;
    char *name;         /* general.name or the file name */
    lk_hparams hp;
    const gguf_tensor *tok_embd, *output;  /* output is tok_embd when tied */
    const float *output_norm;              /* [dim] */
    const float *rope_freqs;               /* [n_rot / 2] frequency divisors (Llama 3.1+), or NULL */
    bool tied_output;   /* output.weight absent: the token embedding is reused */
    lk_layer *layers;
    float *vec_f32;     /* storage for the vectors above */
    tokenizer *tok;
    char *chat_template; /* tokenizer.chat_template or NULL */
    /* run-time settings (lk_llm_set_*) */
    lk_pool *pool;      /* threads for the forward pass; NULL: the caller's thread only */
    uint32_t kv_type;   /* type of new KV caches: LK_F16 (default), LK_F32 or LK_Q8_0 */
    bool f32_activations; /* multiply quantized weights with f32 activations (the scalar
                           * lk_vec_dot) instead of 8-bit activation blocks: slow; for tests that
                           * check the forward pass against a float reference to 1e-4 */
    bool weights_copied; /* weights were copied to anonymous (huge-page) memory at load */
    void *weights_mem;  /* that memory */
    size_t weights_mem_size;
} lk_llm;

/* How lk_llm_load_ex places the weights. */
enum lk_load_mode {
    LK_LOAD_AUTO = 0,   /* copy when the weights fit comfortably in available memory, else map */
    LK_LOAD_MMAP = 1,   /* use the file mapping as it is */
    LK_LOAD_COPY = 2,   /* copy into anonymous memory with transparent huge pages */
};

/* Load a model from a GGUF file: architecture, hyperparameters, tensors (checked for presence,
 * shape and an engine-supported type), and the tokenizer. Errors name the file and the key or
 * tensor at fault. */
int lk_llm_load(const char *path, lk_llm **out, lk_error *err);
/* The same, choosing where the weights live (lk_llm_load uses LK_LOAD_AUTO). Copying them into
 * anonymous memory lets the kernel back them with 2 MiB pages, which cuts TLB misses when every
 * token streams all weights; a mapping shares the page cache and suits models larger than
 * memory. */
int lk_llm_load_ex(const char *path, enum lk_load_mode mode, lk_llm **out, lk_error *err);

/* Use these threads for the forward pass (not owned; NULL for the caller's thread only). */
void lk_llm_set_pool(lk_llm *m, lk_pool *pool);
/* The type of KV caches made from now on (lk_kv_init): LK_F16, LK_F32 or LK_Q8_0 (head size a
 * multiple of 32). LK_EINVAL otherwise. */
int lk_llm_set_kv_type(lk_llm *m, uint32_t type, lk_error *err);

/* The same from a GGUF already open; the model takes ownership of gf (closed on failure too).
 * The fuzzer uses this with gguf_open_memory. */
int lk_llm_from_gguf(gguf_file *gf, lk_llm **out, lk_error *err);
void lk_llm_free(lk_llm *m);

/* Parameter count (all tensor elements) and the bytes of weights. */
uint64_t lk_llm_n_params(const lk_llm *m);
uint64_t lk_llm_weight_bytes(const lk_llm *m);

const char *lk_arch_name(enum lk_arch a);

/* ---- KV cache: cells holding K and V for one position of one or more sequences ---- */

#define LK_MAX_SEQ 64

typedef struct lk_kv {
    int n_cells, n_layer, kv_dim;
    uint32_t type;       /* LK_F32, LK_F16 or LK_Q8_0 */
    size_t row_bytes;    /* bytes of one cell's K (or V) in one layer */
    uint8_t *k, *v;      /* [n_layer][n_cells][row_bytes] */
    int32_t *pos;        /* per cell: position, or -1 when free */
    uint64_t *seqs;      /* per cell: bit s set when sequence s uses it (a shared prefix has several) */
    int used;            /* cells in use */
    int hint;            /* where to start looking for a free cell */
    void *scratch;       /* the forward pass's per-batch buffers, kept between calls and grown to
                            the largest batch, so that a decode step allocates nothing */
    size_t scratch_size;
} lk_kv;

/* A cache of n_cells cells for model m, of type m->kv_type. */
int lk_kv_init(lk_kv *kv, const lk_llm *m, int n_cells, lk_error *err);
void lk_kv_free(lk_kv *kv);
/* Drop every cell. */
void lk_kv_clear(lk_kv *kv);
/* Remove positions [p0, p1) of sequence seq (p1 < 0: to the end); cells no sequence uses are freed. */
void lk_kv_seq_rm(lk_kv *kv, int seq, int p0, int p1);
/* Make sequence dst share the cells of sequence src at positions [p0, p1) (p1 < 0: to the end):
 * dst's bit is added to them, no K/V is copied (a prefix computed once, attended to by both). */
void lk_kv_seq_cp(lk_kv *kv, int src, int dst, int p0, int p1);
/* Number of positions sequence seq holds (its highest position + 1, or 0). */
int lk_kv_seq_len(const lk_kv *kv, int seq);
/* Bytes of K and V per token for a cache of the given type. */
size_t lk_kv_bytes_per_token(const lk_hparams *hp, uint32_t type);

/* ---- forward ---- */

typedef struct lk_batch {
    int n;
    const int32_t *tokens;   /* [n] */
    const int32_t *pos;      /* [n] position of each token in its sequence */
    const int32_t *seq;      /* [n] sequence id (0..LK_MAX_SEQ-1), NULL: all 0 */
    const bool *logits;      /* [n] which tokens want logits; NULL: only the last */
    float *hidden;           /* if set: [n_wanted, dim] receives the final-normed hidden state of
                                the tokens that want logits (for embeddings) */
} lk_batch;

/* Run the batch through the model, writing K/V to free cells of kv. out_logits receives
 * [n_wanted, n_vocab] floats, in batch order of the tokens that want logits (NULL: the output
 * projection is skipped, for callers that only want b->hidden). Fails with
 * LK_ERANGE when the cache has no free cell, LK_EINVAL for a token id outside the vocabulary. */
int lk_llm_forward(const lk_llm *m, lk_kv *kv, const lk_batch *b, float *out_logits, lk_error *err);

/* Convenience: tokens [n] at positions pos0.. of sequence 0; logits of the last token, or of
 * all tokens when all_logits (out_logits then holds n * n_vocab floats). */
int lk_llm_eval(const lk_llm *m, lk_kv *kv, const int32_t *tokens, int n, int pos0, bool all_logits,
                float *out_logits, lk_error *err);

#endif

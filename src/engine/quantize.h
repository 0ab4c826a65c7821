/* quantize.h — converting a F32/F16/BF16 GGUF model to a quantized one (`llmkit quantize`).
 *
 * A target is a "file type" as llama.cpp names and numbers them (LLAMA_FTYPE_*): one weight type
 * for most matrices (Q4_0, Q8_0, ...) or, for the K-quant mixes (Q4_K_M, Q5_K_S, ...), a default
 * type with some tensors given more bits by their role and layer. The type of each tensor is
 * chosen by the rules of llama.cpp's llama_tensor_get_type (src/llama-quant.cpp), so that a file
 * quantized here has the same tensor types as one quantized by llama-quantize from the same input:
 * vectors (norms, biases) and 1-D tensors stay as they are; the output matrix (or the token
 * embedding when it is tied to the output) gets Q6_K, or Q8_0 when its rows are not a multiple of
 * the block size; attn_v and ffn_down get Q6_K in the "use more bits" layers of Q4_K_M and Q5_K_M;
 * a K-quant type falls back to Q5_0/Q5_1/Q8_0 for rows that are not a multiple of 256.
 *
 * The output keeps every metadata key of the input (split keys excepted), sets general.file_type
 * to the target's number and general.quantization_version to 2, and is written atomically. Rows
 * are quantized in parallel; each row is quantized on its own, so the bytes do not depend on the
 * number of threads. Memory: the input stays mapped and the converted tensors are held until the
 * file is written; tensors whose type does not change point into the map. */
#ifndef LK_QUANTIZE_H
#define LK_QUANTIZE_H

#include "llmkit.h"
#include "engine/gguf.h"
#include "engine/quant/quant.h"

/* Targets, numbered as llama.cpp's LLAMA_FTYPE_* (the value of general.file_type). */
enum lk_ftype {
    LK_FTYPE_ALL_F32 = 0,
    LK_FTYPE_F16 = 1,
    LK_FTYPE_Q4_0 = 2,
    LK_FTYPE_Q4_1 = 3,
    LK_FTYPE_Q8_0 = 7,
    LK_FTYPE_Q5_0 = 8,
    LK_FTYPE_Q5_1 = 9,
    LK_FTYPE_Q4_K_S = 14,
    LK_FTYPE_Q4_K_M = 15,
    LK_FTYPE_Q5_K_S = 16,
    LK_FTYPE_Q5_K_M = 17,
    LK_FTYPE_Q6_K = 18,
    LK_FTYPE_BF16 = 32,
};

/* The target named NAME, case-insensitively ("Q4_K_M", "q8_0", "f16", "F32"), or -1. */
int lk_ftype_from_name(const char *name);

/* The name of a target ("Q4_K_M"), or NULL for a number that is not one. */
const char *lk_ftype_name(int ftype);

/* Every target name, space-separated, for messages. */
const char *lk_ftype_names(void);

/* What the type rules need to know of the model beyond its tensor names and shapes. */
typedef struct lk_quant_model {
    char arch[64];      /* general.architecture */
    int n_layer;        /* block_count */
    int n_head, n_head_kv;
    int n_expert;       /* expert_count, 0 when absent */
} lk_quant_model;

/* The model description from a GGUF's metadata. Errors name the file and key. */
int lk_quant_model_from_gguf(const gguf_file *f, lk_quant_model *out, lk_error *err);

/* The output type of each of n tensors (types[i] for tensors[i]; only name, n_dims, ne and type
 * are read) when quantizing to ftype. Fails, naming the tensor, when a tensor is not F32, F16 or
 * BF16, or when its rows fit no type that the target allows; LK_EINVAL for an unknown ftype. */
int lk_quant_choose_types(const lk_quant_model *m, const gguf_tensor *tensors, size_t n, int ftype,
                          uint32_t *types, lk_error *err);

typedef struct lk_quantize_params {
    int ftype;
    int n_threads;  /* 0: the number of online CPUs */
    /* called from the calling thread as rows are done: elements converted so far, of total */
    void (*progress)(void *ud, uint64_t done, uint64_t total);
    void *progress_ud;
} lk_quantize_params;

/* What a quantization produced. */
typedef struct lk_quantize_stats {
    uint64_t n_tensors;
    uint64_t n_elements;            /* all tensors */
    uint64_t bytes_in, bytes_out;   /* tensor data, without padding */
    uint64_t n_of_type[LK_QTYPE_COUNT];     /* output tensors per type */
    uint64_t bytes_of_type[LK_QTYPE_COUNT]; /* output bytes per type */
    int n_threads;                  /* threads used */
} lk_quantize_stats;

/* Quantize the model at in_path to out_path, written atomically: out_path is replaced only by a
 * complete file, and on failure nothing new is left (no out_path.tmp either). stats may be NULL.
 * Errors name the file, and the tensor at fault. */
int lk_quantize_file(const char *in_path, const char *out_path, const lk_quantize_params *p,
                     lk_quantize_stats *stats, lk_error *err);

#endif

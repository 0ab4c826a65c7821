/* ref_forward.h — a plain double-precision forward pass, written for the tests.
 *
 * It shares nothing with the engine's forward pass but the weights: every matrix is dequantized
 * (by lk_dequantize_row, whose exactness test_quant checks against an independent decoder) into
 * doubles, and the transformer is computed in double with straightforward loops and its own
 * growing K/V arrays. Where the engine rounds on purpose, the reference rounds the same way:
 * a matmul's input goes through the activation blocks of the weights' type (kernels.h) and K/V
 * rows through the model's KV cache type. The engine's logits are compared against it. */
#ifndef LK_REF_FORWARD_H
#define LK_REF_FORWARD_H

#include "engine/model.h"

typedef struct ref_model ref_model;

ref_model *ref_new(const lk_llm *m);
void ref_free(ref_model *r);

/* Feed one token at the next position; logits[n_vocab] receives the next-token logits. */
void ref_step(ref_model *r, int32_t token, double *logits);

#endif

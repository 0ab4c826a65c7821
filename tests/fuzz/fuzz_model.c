/* fuzz_model.c — libFuzzer target for model loading: arbitrary bytes as a GGUF image go through
 * lk_llm_from_gguf (hyperparameters, tensor shapes and types, the tokenizer from metadata).
 * A model that loads is run on a few tokens with a small KV cache, so that every shape the
 * loader accepted is one the forward pass can compute with. A failure must say why. */
#include "engine/gguf.h"
#include "engine/model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lk_error err = {0};
    gguf_file *gf = gguf_open_memory(data, size, "fuzz.gguf", &err);
    if (!gf) return 0;
    lk_llm *m = NULL;
    if (lk_llm_from_gguf(gf, &m, &err)) {
        if (!err.msg[0]) abort(); /* every failure explains itself */
        return 0;
    }
    /* keep the work bounded: only small models are run */
    if ((uint64_t)m->hp.n_layer * (uint64_t)m->hp.dim * (uint64_t)m->hp.n_ff < (1u << 22) &&
        (uint64_t)m->hp.n_vocab * (uint64_t)m->hp.dim < (1u << 22)) {
        lk_kv kv;
        if (lk_kv_init(&kv, m, 8, &err) == 0) {
            float *logits = malloc((size_t)m->hp.n_vocab * 3 * sizeof(float));
            int32_t toks[3] = { 0, m->hp.n_vocab - 1, m->hp.n_vocab / 2 };
            if (logits && lk_llm_eval(m, &kv, toks, 3, 0, true, logits, &err) != 0) abort();
            free(logits);
            lk_kv_free(&kv);
        }
    }
    lk_llm_free(m);
    return 0;
}

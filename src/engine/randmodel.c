/* randmodel.c — writing a deterministic random llama/qwen2 GGUF (see randmodel.h). */
#include "engine/randmodel.h"
#include "base/base.h"
#include "engine/chat.h"
#include "engine/gguf.h"
#include "engine/quant/quant.h"

#include <math.h>

typedef struct rng { uint64_t s; } rng;

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* N(0, 1) by Box-Muller from two uniform draws in (0, 1]. */
static double normal(rng *r) {
    double u1 = ((double)(splitmix64(&r->s) >> 11) + 1.0) / 9007199254740992.0;
    double u2 = (double)(splitmix64(&r->s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* The type a matrix of rows of ne0 elements gets: K-quants need rows of 256, the others of 32;
 * like llama.cpp's quantizer, fall back to the nearest legacy type, then to f16. */
static uint32_t type_for_row(uint32_t type, int64_t ne0) {
    if (ne0 % lk_qtype(type)->block_size == 0) return type;
    switch (type) {
    case LK_Q4_K: type = LK_Q5_0; break;
    case LK_Q5_K: type = LK_Q5_1; break;
    case LK_Q6_K: type = LK_Q8_0; break;
    default: type = LK_F16; break;
    }
    return ne0 % lk_qtype(type)->block_size == 0 ? type : LK_F32;
}

typedef struct builder {
    gguf_writer *w;
    const lk_random_params *p;
    void **blobs;
    int n_blobs, cap_blobs;
    int done, total;
    lk_error *err;
} builder;

static void *keep(builder *b, size_t n) {
    if (b->n_blobs == b->cap_blobs) {
        b->cap_blobs = b->cap_blobs ? 2 * b->cap_blobs : 64;
        b->blobs = lk_xrealloc(b->blobs, (size_t)b->cap_blobs * sizeof *b->blobs);
    }
    void *p = malloc(n ? n : 1);
    if (p) b->blobs[b->n_blobs++] = p;
    return p;
}

static int tick(builder *b) {
    b->done++;
    if (b->p->progress) b->p->progress(b->p->progress_ud, b->done, b->total);
    return LK_OK;
}

/* A matrix [ne0, ne1] of N(0, 0.02) values in the model's type. Each tensor has its own stream
 * seeded from (seed, name), so a tensor's values do not depend on the others. */
static int add_matrix(builder *b, const char *name, int64_t ne0, int64_t ne1) {
    uint32_t type = type_for_row(b->p->type, ne0);
    size_t rs = lk_row_size(type, ne0);
    uint8_t *data = keep(b, rs * (size_t)ne1);
    float *row = malloc((size_t)ne0 * sizeof(float));
    if (!data || !row) {
        free(row);
        return lk_errorf(b->err, LK_ENOMEM, "out of memory for tensor '%s'", name);
    }
    rng r = { b->p->seed };
    for (const char *c = name; *c; c++) r.s = r.s * 31 + (unsigned char)*c;
    splitmix64(&r.s);
    for (int64_t i = 0; i < ne1; i++) {
        for (int64_t j = 0; j < ne0; j++) row[j] = (float)(0.02 * normal(&r));
        lk_quantize_row(type, row, data + (size_t)i * rs, ne0);
    }
    free(row);
    int64_t ne[2] = { ne0, ne1 };
    int rc = gguf_add_tensor(b->w, name, type, 2, ne, data, b->err);
    return rc ? rc : tick(b);
}

/* A vector of f32: all `fill`, or N(0, 0.02) when fill is NAN. */
static int add_vector(builder *b, const char *name, int64_t n, float fill, const float *values) {
    float *data = keep(b, (size_t)n * sizeof(float));
    if (!data) return lk_errorf(b->err, LK_ENOMEM, "out of memory for tensor '%s'", name);
    rng r = { b->p->seed ^ 0x5851F42D4C957F2Dull };
    for (const char *c = name; *c; c++) r.s = r.s * 31 + (unsigned char)*c;
    for (int64_t i = 0; i < n; i++)
        data[i] = values ? values[i] : isnan(fill) ? (float)(0.02 * normal(&r)) : fill;
    int64_t ne[1] = { n };
    int rc = gguf_add_tensor(b->w, name, LK_F32, 1, ne, data, b->err);
    return rc ? rc : tick(b);
}

/* Llama 3.1's frequency factors: long wavelengths are slowed by `factor`, short ones kept, and
 * the band between blended (as Meta's reference computes them at conversion). */
static void llama3_factors(float *ff, int n_rot, float base) {
    const double factor = 8.0, low = 1.0, high = 4.0, old_ctx = 8192.0;
    double low_wl = old_ctx / low, high_wl = old_ctx / high;
    for (int i = 0; i < n_rot / 2; i++) {
        double freq = 1.0 / pow(base, 2.0 * i / n_rot), wl = 2 * M_PI / freq;
        if (wl < high_wl) ff[i] = 1.0f;
        else if (wl > low_wl) ff[i] = (float)factor;
        else {
            double smooth = (old_ctx / wl - low) / (high - low);
            ff[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
}

static int check_params(const lk_random_params *p, lk_error *err) {
    if (strcmp(p->arch, "llama") != 0 && strcmp(p->arch, "qwen2") != 0)
        return lk_errorf(err, LK_EINVAL, "--arch '%s': supported are llama and qwen2", p->arch);
    struct { const char *name; int v, max; } dims[] = {
        { "--layers", p->n_layer, 1024 }, { "--dim", p->dim, 65536 }, { "--heads", p->n_head, 4096 },
        { "--kv-heads", p->n_head_kv, 4096 }, { "--ffn", p->n_ff, 1 << 20 }, { "--ctx", p->n_ctx, 1 << 24 },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(dims); i++)
        if (dims[i].v < 1 || dims[i].v > dims[i].max)
            return lk_errorf(err, LK_EINVAL, "%s %d: expected 1 to %d", dims[i].name, dims[i].v, dims[i].max);
    if (p->head_dim == 0 && p->dim % p->n_head)
        return lk_errorf(err, LK_EINVAL, "--dim %d is not a multiple of --heads %d", p->dim, p->n_head);
    if (p->n_head % p->n_head_kv)
        return lk_errorf(err, LK_EINVAL, "--heads %d is not a multiple of --kv-heads %d", p->n_head, p->n_head_kv);
    int hd = p->head_dim ? p->head_dim : p->dim / p->n_head;
    if (hd % 2 || hd > 4096) return lk_errorf(err, LK_EINVAL, "head size %d must be even and at most 4096", hd);
    const lk_qtype_info *qi = lk_qtype(p->type);
    if (!qi->name || !qi->engine || p->type == LK_Q8_1)
        return lk_errorf(err, LK_EINVAL, "--type: type %u is not one the engine computes with", p->type);
    return LK_OK;
}

int lk_random_model(const lk_random_params *p, lk_error *err) {
    int rc = check_params(p, err);
    if (rc) return rc;
    gguf_file *vocab = gguf_open(p->vocab_path, err);
    if (!vocab) return err ? err->code : LK_EIO;
    const gguf_value *tokens;
    if ((rc = gguf_get_arr(vocab, "tokenizer.ggml.tokens", GGUF_STRING, true, &tokens, err))) {
        gguf_close(vocab);
        return rc;
    }
    int n_vocab = (int)tokens->arr.n;
    bool qwen = strcmp(p->arch, "qwen2") == 0;
    int hd = p->head_dim ? p->head_dim : p->dim / p->n_head;
    float base = p->rope_base > 0 ? p->rope_base : qwen ? 1e6f : 10000.0f;

    builder b = { .w = gguf_writer_new(3), .p = p, .err = err };
    gguf_writer *w = b.w;
    char key[128], name[96];
    gguf_set_str(w, "general.architecture", p->arch);
    snprintf(name, sizeof name, "llmkit random %s %dL %dd", p->arch, p->n_layer, p->dim);
    gguf_set_str(w, "general.name", name);
#define K(s) (snprintf(key, sizeof key, "%s.%s", p->arch, s), key)
    gguf_set_u32(w, K("context_length"), (uint32_t)p->n_ctx);
    gguf_set_u32(w, K("embedding_length"), (uint32_t)p->dim);
    gguf_set_u32(w, K("block_count"), (uint32_t)p->n_layer);
    gguf_set_u32(w, K("feed_forward_length"), (uint32_t)p->n_ff);
    gguf_set_u32(w, K("attention.head_count"), (uint32_t)p->n_head);
    gguf_set_u32(w, K("attention.head_count_kv"), (uint32_t)p->n_head_kv);
    if (p->head_dim) {
        gguf_set_u32(w, K("attention.key_length"), (uint32_t)hd);
        gguf_set_u32(w, K("attention.value_length"), (uint32_t)hd);
    }
    gguf_set_f32(w, K("attention.layer_norm_rms_epsilon"), qwen ? 1e-6f : 1e-5f);
    gguf_set_f32(w, K("rope.freq_base"), base);
    gguf_set_u32(w, K("rope.dimension_count"), (uint32_t)hd);
    gguf_set_u32(w, K("vocab_size"), (uint32_t)n_vocab);
#undef K
    gguf_set_u32(w, "general.file_type", p->type); /* informational */
    for (uint64_t i = 0; i < vocab->n_kv; i++)
        if (strncmp(vocab->kv[i].key, "tokenizer.", 10) == 0) gguf_set_kv_copy(w, &vocab->kv[i]);
    if (p->chat_template) {
        int id = chat_template_from_name(p->chat_template);
        if (id < 0) {
            rc = lk_errorf(err, LK_EINVAL, "--chat-template '%s' is unknown (known: %s)", p->chat_template,
                           chat_template_known_names());
            goto done;
        }
        gguf_set_str(w, "tokenizer.chat_template", chat_template_source(id));
    } else if (!gguf_find(vocab, "tokenizer.chat_template")) {
        /* a family whose special tokens the vocabulary has: ChatML for Qwen, else Llama 2's [INST] */
        const char *fam = qwen || gguf_find(vocab, "tokenizer.ggml.merges") ? "chatml" : "llama2";
        gguf_set_str(w, "tokenizer.chat_template", chat_template_source(chat_template_from_name(fam)));
    }

    b.total = 2 + (p->tied ? 0 : 1) + (p->llama3_rope ? 1 : 0) + p->n_layer * (qwen ? 12 : 9);
    int q_dim = p->n_head * hd, kv_dim = p->n_head_kv * hd;
    if ((rc = add_matrix(&b, "token_embd.weight", p->dim, n_vocab))) goto done;
    if ((rc = add_vector(&b, "output_norm.weight", p->dim, 1.0f, NULL))) goto done;
    if (!p->tied && (rc = add_matrix(&b, "output.weight", p->dim, n_vocab))) goto done;
    if (p->llama3_rope) {
        float ff[2048];
        llama3_factors(ff, hd, base);
        if ((rc = add_vector(&b, "rope_freqs.weight", hd / 2, 0, ff))) goto done;
    }
    for (int l = 0; l < p->n_layer && !rc; l++) {
#define T(s) (snprintf(name, sizeof name, "blk.%d.%s", l, s), name)
        if ((rc = add_vector(&b, T("attn_norm.weight"), p->dim, 1.0f, NULL)) ||
            (rc = add_matrix(&b, T("attn_q.weight"), p->dim, q_dim)) ||
            (rc = add_matrix(&b, T("attn_k.weight"), p->dim, kv_dim)) ||
            (rc = add_matrix(&b, T("attn_v.weight"), p->dim, kv_dim)) ||
            (rc = add_matrix(&b, T("attn_output.weight"), q_dim, p->dim)) ||
            (qwen && (rc = add_vector(&b, T("attn_q.bias"), q_dim, NAN, NULL))) ||
            (qwen && (rc = add_vector(&b, T("attn_k.bias"), kv_dim, NAN, NULL))) ||
            (qwen && (rc = add_vector(&b, T("attn_v.bias"), kv_dim, NAN, NULL))) ||
            (rc = add_vector(&b, T("ffn_norm.weight"), p->dim, 1.0f, NULL)) ||
            (rc = add_matrix(&b, T("ffn_gate.weight"), p->dim, p->n_ff)) ||
            (rc = add_matrix(&b, T("ffn_up.weight"), p->dim, p->n_ff)) ||
            (rc = add_matrix(&b, T("ffn_down.weight"), p->n_ff, p->dim)))
            break;
#undef T
    }
    if (!rc) rc = gguf_write(w, p->out_path, err);
done:
    for (int i = 0; i < b.n_blobs; i++) free(b.blobs[i]);
    free(b.blobs);
    gguf_writer_free(w);
    gguf_close(vocab);
    return rc;
}

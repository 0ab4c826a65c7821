/* model.c — loading a llama/qwen2 model from GGUF and running its forward pass.
 *
 * lk_llm_load reads the hyperparameters from "<arch>.*" metadata, finds every tensor and checks
 * its shape and type, converts the small vectors (norms, biases) to floats and leaves the
 * matrices in the map. lk_llm_forward is the transformer, one layer function after another over
 * a batch of tokens, reading top to bottom like the paper:
 *
 *   x = embed(tokens)                                    x: [n, dim]
 *   for each layer:
 *     x += wo · attention(rope(wq · norm(x)), rope(wk · norm(x)), wv · norm(x))
 *     x += w_down · (silu(w_gate · norm(x)) * (w_up · norm(x)))
 *   logits = output · norm(x)                            logits: [n_wanted, n_vocab]
 *
 * The KV cache (lk_kv) is a pool of cells; each token of the batch takes a free cell, and
 * attention runs over the cells of the token's sequence whose position is not after its own. */
#include "engine/model.h"
#include "base/base.h"
#include "engine/quant/kernels.h"
#include "engine/quant/quant.h"

#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include <inttypes.h>
#include <math.h>

static const char *arch_names[] = { "llama", "qwen2" };

const char *lk_arch_name(enum lk_arch a) {
    return (unsigned)a < LK_ARRAY_LEN(arch_names) ? arch_names[a] : "unknown";
}

/* ---- loading ---- */

typedef struct loader {
    lk_llm *m;
    const char *path;
    const char *arch;
    lk_error *err;
    size_t vec_used, vec_cap;
} loader;

static int hp_u(loader *L, const char *suffix, bool required, uint64_t def, uint64_t max, int *out) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    uint64_t v = def;
    int rc = gguf_get_u64(L->m->gf, key, required, &v, L->err);
    if (rc) return rc;
    if (v == 0 || v > max)
        return lk_errorf(L->err, LK_EFORMAT, "%s: key '%s' is %" PRIu64 ", expected 1 to %" PRIu64,
                         L->path, key, v, max);
    *out = (int)v;
    return LK_OK;
}

static int hp_f(loader *L, const char *suffix, bool required, double def, float *out) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    double v = def;
    int rc = gguf_get_f64(L->m->gf, key, required, &v, L->err);
    if (rc) return rc;
    if (!isfinite(v) || v <= 0)
        return lk_errorf(L->err, LK_EFORMAT, "%s: key '%s' is %g, expected a positive number", L->path, key, v);
    *out = (float)v;
    return LK_OK;
}

static int load_hparams(loader *L) {
    lk_hparams *hp = &L->m->hp;
    int rc;
    if ((rc = hp_u(L, "context_length", true, 0, 1 << 24, &hp->n_ctx_train)) ||
        (rc = hp_u(L, "embedding_length", true, 0, 1 << 16, &hp->dim)) ||
        (rc = hp_u(L, "block_count", true, 0, 1024, &hp->n_layer)) ||
        (rc = hp_u(L, "feed_forward_length", true, 0, 1 << 20, &hp->n_ff)) ||
        (rc = hp_u(L, "attention.head_count", true, 0, 4096, &hp->n_head)) ||
        (rc = hp_u(L, "attention.head_count_kv", false, (uint64_t)hp->n_head, 4096, &hp->n_head_kv)) ||
        (rc = hp_f(L, "attention.layer_norm_rms_epsilon", true, 0, &hp->norm_eps)) ||
        (rc = hp_f(L, "rope.freq_base", false, 10000.0, &hp->rope_base)))
        return rc;
    if (hp->dim % hp->n_head)
        return lk_errorf(L->err, LK_EFORMAT, "%s: embedding_length %d is not a multiple of head_count %d",
                         L->path, hp->dim, hp->n_head);
    if ((rc = hp_u(L, "attention.key_length", false, (uint64_t)(hp->dim / hp->n_head), 4096, &hp->head_dim)))
        return rc;
    int vlen = hp->head_dim;
    if ((rc = hp_u(L, "attention.value_length", false, (uint64_t)hp->head_dim, 4096, &vlen))) return rc;
    if (vlen != hp->head_dim)
        return lk_errorf(L->err, LK_EUNSUPPORTED, "%s: %s.attention.value_length %d differs from key_length %d",
                         L->path, L->arch, vlen, hp->head_dim);
    if (hp->n_head % hp->n_head_kv)
        return lk_errorf(L->err, LK_EFORMAT, "%s: head_count %d is not a multiple of head_count_kv %d",
                         L->path, hp->n_head, hp->n_head_kv);
    if ((rc = hp_u(L, "rope.dimension_count", false, (uint64_t)hp->head_dim, 4096, &hp->n_rot))) return rc;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return lk_errorf(L->err, LK_EFORMAT, "%s: %s.rope.dimension_count %d must be even and at most the "
                         "head size %d", L->path, L->arch, hp->n_rot, hp->head_dim);
    hp->rope_freq_scale = 1.0f;
    char key[256], *type = NULL;
    snprintf(key, sizeof key, "%s.rope.scaling.type", L->arch);
    if ((rc = gguf_get_str(L->m->gf, key, false, &type, L->err))) return rc;
    if (type && strcmp(type, "none") != 0 && strcmp(type, "linear") != 0) {
        rc = lk_errorf(L->err, LK_EUNSUPPORTED, "%s: %s is '%s'; supported rope scaling: none, linear "
                       "(and Llama 3 frequency factors in rope_freqs.weight)", L->path, key, type);
        free(type);
        return rc;
    }
    bool linear = type && strcmp(type, "linear") == 0;
    free(type);
    float factor = 1.0f;
    if (linear && (rc = hp_f(L, "rope.scaling.factor", false, 1.0, &factor))) return rc;
    if (!linear && (rc = hp_f(L, "rope.scale_linear", false, 1.0, &factor))) return rc; /* older files */
    hp->rope_freq_scale = 1.0f / factor;
    hp->rope_neox = hp->arch == LK_ARCH_QWEN2;
    return LK_OK;
}

/* Find a tensor and check its shape (ne0 x ne1; ne1 = 0 for a vector). */
static int find_tensor(loader *L, const char *name, int64_t ne0, int64_t ne1, bool required,
                       const gguf_tensor **out) {
    const gguf_tensor *t = gguf_find_tensor(L->m->gf, name);
    *out = t;
    if (!t) {
        if (required) return lk_errorf(L->err, LK_EFORMAT, "%s: missing tensor '%s'", L->path, name);
        return LK_OK;
    }
    int want_dims = ne1 ? 2 : 1;
    bool ok = t->ne[0] == ne0 && t->ne[2] == 1 && t->ne[3] == 1 && (ne1 ? t->ne[1] == ne1 : t->ne[1] == 1);
    if (!ok)
        return lk_errorf(L->err, LK_EFORMAT, "%s: tensor '%s' has shape [%" PRId64 ", %" PRId64 ", %" PRId64
                         ", %" PRId64 "], expected [%" PRId64 ", %" PRId64 "] (%d-D)", L->path, name,
                         t->ne[0], t->ne[1], t->ne[2], t->ne[3], ne0, ne1 ? ne1 : 1, want_dims);
    const lk_qtype_info *qi = lk_qtype(t->type);
    if (!qi->engine)
        return lk_errorf(L->err, LK_EUNSUPPORTED, "%s: tensor '%s' has type %s, which the engine does not "
                         "support (supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K)",
                         L->path, name, qi->name ? qi->name : "?");
    return LK_OK;
}

/* A vector tensor converted to floats in the model's vector storage. */
static int load_vec(loader *L, const char *name, int64_t n, bool required, const float **out) {
    const gguf_tensor *t;
    *out = NULL;
    int rc = find_tensor(L, name, n, 0, required, &t);
    if (rc || !t) return rc;
    if (L->vec_used + (size_t)n > L->vec_cap)
        return lk_errorf(L->err, LK_EFORMAT, "%s: internal: vector storage exhausted at '%s'", L->path, name);
    float *dst = L->m->vec_f32 + L->vec_used;
    lk_dequantize_row(t->type, t->data, dst, n);
    L->vec_used += (size_t)n;
    *out = dst;
    return LK_OK;
}

static int load_tensors(loader *L) {
    lk_llm *m = L->m;
    lk_hparams *hp = &m->hp;
    int dim = hp->dim, q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    int rc;
    const gguf_tensor *emb = gguf_find_tensor(m->gf, "token_embd.weight");
    if (!emb) return lk_errorf(L->err, LK_EFORMAT, "%s: missing tensor 'token_embd.weight'", L->path);
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return lk_errorf(L->err, LK_EFORMAT, "%s: tensor 'token_embd.weight' has %" PRId64 " rows", L->path, emb->ne[1]);
    hp->n_vocab = (int)emb->ne[1];
    if ((rc = find_tensor(L, "token_embd.weight", dim, hp->n_vocab, true, &m->tok_embd))) return rc;
    if ((rc = find_tensor(L, "output.weight", dim, hp->n_vocab, false, &m->output))) return rc;
    m->tied_output = m->output == NULL;
    if (m->tied_output) m->output = m->tok_embd;

    /* vector storage: norms, biases, rope factors */
    L->vec_cap = (size_t)dim + (size_t)hp->n_rot / 2 +
                 (size_t)hp->n_layer * (2 * (size_t)dim + (size_t)q_dim + 2 * (size_t)kv_dim);
    m->vec_f32 = malloc(L->vec_cap * sizeof(float));
    if (!m->vec_f32) return lk_errorf(L->err, LK_ENOMEM, "%s: out of memory", L->path);
    if ((rc = load_vec(L, "output_norm.weight", dim, true, &m->output_norm))) return rc;
    if ((rc = load_vec(L, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs))) return rc;

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return lk_errorf(L->err, LK_ENOMEM, "%s: out of memory", L->path);
    bool biases = hp->arch == LK_ARCH_QWEN2;
    for (int l = 0; l < hp->n_layer; l++) {
        lk_layer *ly = &m->layers[l];
        char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        if ((rc = load_vec(L, NAME("attn_norm.weight"), dim, true, &ly->attn_norm)) ||
            (rc = find_tensor(L, NAME("attn_q.weight"), dim, q_dim, true, &ly->wq)) ||
            (rc = find_tensor(L, NAME("attn_k.weight"), dim, kv_dim, true, &ly->wk)) ||
            (rc = find_tensor(L, NAME("attn_v.weight"), dim, kv_dim, true, &ly->wv)) ||
            (rc = find_tensor(L, NAME("attn_output.weight"), q_dim, dim, true, &ly->wo)) ||
            (rc = load_vec(L, NAME("attn_q.bias"), q_dim, biases, &ly->bq)) ||
            (rc = load_vec(L, NAME("attn_k.bias"), kv_dim, biases, &ly->bk)) ||
            (rc = load_vec(L, NAME("attn_v.bias"), kv_dim, biases, &ly->bv)) ||
            (rc = load_vec(L, NAME("ffn_norm.weight"), dim, true, &ly->ffn_norm)) ||
            (rc = find_tensor(L, NAME("ffn_gate.weight"), dim, hp->n_ff, true, &ly->w_gate)) ||
            (rc = find_tensor(L, NAME("ffn_up.weight"), dim, hp->n_ff, true, &ly->w_up)) ||
            (rc = find_tensor(L, NAME("ffn_down.weight"), hp->n_ff, dim, true, &ly->w_down)))
            return rc;
#undef NAME
    }
    return LK_OK;
}

int lk_llm_load(const char *path, lk_llm **out, lk_error *err) {
    *out = NULL;
    gguf_file *gf = gguf_open(path, err);
    if (!gf) return err && err->code ? err->code : LK_EFORMAT;
    return lk_llm_from_gguf(gf, out, err);
}

int lk_llm_from_gguf(gguf_file *gf, lk_llm **out, lk_error *err) {
    *out = NULL;
    lk_llm *m = lk_xcalloc(1, sizeof *m);
    m->gf = gf;
    m->kv_type = LK_F16;
    const char *path = gf->path;
    loader L = { .m = m, .path = path, .err = err };
    char *arch = NULL;
    int rc;
    if ((rc = gguf_get_str(m->gf, "general.architecture", true, &arch, err))) goto fail;
    L.arch = arch;
    if (strcmp(arch, "llama") == 0) m->hp.arch = LK_ARCH_LLAMA;
    else if (strcmp(arch, "qwen2") == 0) m->hp.arch = LK_ARCH_QWEN2;
    else {
        rc = lk_errorf(err, LK_EUNSUPPORTED, "%s: architecture '%s' is not supported (supported: llama, qwen2)",
                       path, arch);
        goto fail;
    }
    if ((rc = load_hparams(&L)) || (rc = load_tensors(&L))) goto fail;
    if ((rc = tok_load(m->gf, &m->tok, err))) goto fail; /* its message starts with the path */
    gguf_release_strings(m->gf, "tokenizer.ggml.tokens"); /* the tokenizer has its own copy now */
    gguf_release_strings(m->gf, "tokenizer.ggml.merges");
    if (tok_n_vocab(m->tok) > m->hp.n_vocab) {
        rc = lk_errorf(err, LK_EFORMAT, "%s: the tokenizer has %d tokens but token_embd.weight only %d rows",
                       path, tok_n_vocab(m->tok), m->hp.n_vocab);
        goto fail;
    }
    if ((rc = gguf_get_str(m->gf, "tokenizer.chat_template", false, &m->chat_template, err))) goto fail;
    if ((rc = gguf_get_str(m->gf, "general.name", false, &m->name, err))) goto fail;
    if (!m->name) {
        const char *base = strrchr(path, '/');
        m->name = lk_xstrdup(base ? base + 1 : path);
    }
    free(arch);
    *out = m;
    return LK_OK;
fail:
    free(arch);
    lk_llm_free(m);
    return rc ? rc : LK_EFORMAT;
}

void lk_llm_free(lk_llm *m) {
    if (!m) return;
    if (m->weights_mem) munmap(m->weights_mem, m->weights_mem_size);
    tok_free(m->tok);
    free(m->layers);
    free(m->vec_f32);
    free(m->chat_template);
    free(m->name);
    gguf_close(m->gf);
    free(m);
}

uint64_t lk_llm_n_params(const lk_llm *m) {
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->gf->n_tensors; i++) {
        const gguf_tensor *t = &m->gf->tensors[i];
        n += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    return n;
}

uint64_t lk_llm_weight_bytes(const lk_llm *m) {
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->gf->n_tensors; i++) n += m->gf->tensors[i].nbytes;
    return n;
}

/* ---- run-time settings ---- */

void lk_llm_set_pool(lk_llm *m, lk_pool *pool) { m->pool = pool; }

int lk_llm_set_kv_type(lk_llm *m, uint32_t type, lk_error *err) {
    if (type != LK_F32 && type != LK_F16 && type != LK_Q8_0)
        return lk_errorf(err, LK_EINVAL, "KV cache type %s: supported are f32, f16 and q8_0",
                         lk_qtype(type)->name ? lk_qtype(type)->name : "?");
    if (type == LK_Q8_0 && m->hp.head_dim % LK_QK)
        return lk_errorf(err, LK_EINVAL, "KV cache type q8_0 needs a head size that is a multiple of 32 "
                         "(this model's is %d)", m->hp.head_dim);
    m->kv_type = type;
    return LK_OK;
}

/* Copy the tensor data into anonymous memory advised for transparent huge pages, point the
 * tensors at the copy, and drop the file pages from this process. */
static int copy_weights(lk_llm *m, lk_error *err) {
    gguf_file *gf = m->gf;
    size_t size = gf->size - gf->data_offset, huge = 2u << 20;
    size_t len = (size + huge - 1) / huge * huge;
    void *mem = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return lk_errorf(err, LK_ENOMEM, "%s: cannot allocate %zu MiB for the weights", gf->path, len >> 20);
    /* align to 2 MiB, and give back the slack on both sides */
    uint8_t *base = (uint8_t *)(((uintptr_t)mem + huge - 1) & ~(uintptr_t)(huge - 1));
    if (base > (uint8_t *)mem) munmap(mem, (size_t)(base - (uint8_t *)mem));
    size_t after = (size_t)((uint8_t *)mem + len + huge - (base + len));
    if (after) munmap(base + len, after);
    madvise(base, len, MADV_HUGEPAGE);
    /* copy in slices, dropping each slice of the file mapping once copied, so that the peak
     * resident size is the copy plus one slice, not twice the weights */
    const uint8_t *src = gf->map + gf->data_offset;
    const size_t slice = 32u << 20;
    for (size_t off = 0; off < size; off += slice) {
        size_t n = LK_MIN(slice, size - off);
        memcpy(base + off, src + off, n);
        if (gf->mapped) {
            uintptr_t a = ((uintptr_t)(src + off) + 4095) & ~(uintptr_t)4095, b = ((uintptr_t)(src + off + n)) & ~(uintptr_t)4095;
            if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
        }
    }
    for (uint64_t i = 0; i < gf->n_tensors; i++)
        gf->tensors[i].data = base + ((const uint8_t *)gf->tensors[i].data - src);
    m->weights_mem = base;
    m->weights_mem_size = len;
    m->weights_copied = true;
    return LK_OK;
}

/* Copy when the weights take less than half of the memory available now. */
static bool copy_pays(const lk_llm *m) {
    long pages = sysconf(_SC_AVPHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psize <= 0) return false;
    return (double)(m->gf->size - m->gf->data_offset) < 0.5 * (double)pages * (double)psize;
}

int lk_llm_load_ex(const char *path, enum lk_load_mode mode, lk_llm **out, lk_error *err) {
    int rc = lk_llm_load(path, out, err);
    if (rc || mode == LK_LOAD_MMAP) return rc;
    if (mode == LK_LOAD_COPY || copy_pays(*out)) {
        rc = copy_weights(*out, err);
        if (rc) {
            lk_llm_free(*out);
            *out = NULL;
        }
    }
    return rc;
}

/* ---- KV cache ---- */

static size_t kv_row_bytes(const lk_hparams *hp, uint32_t type) {
    return lk_row_size(type, (int64_t)hp->n_head_kv * hp->head_dim);
}

size_t lk_kv_bytes_per_token(const lk_hparams *hp, uint32_t type) {
    return 2 * (size_t)hp->n_layer * kv_row_bytes(hp, type);
}

int lk_kv_init(lk_kv *kv, const lk_llm *m, int n_cells, lk_error *err) {
    memset(kv, 0, sizeof *kv);
    if (n_cells < 1) return lk_errorf(err, LK_EINVAL, "KV cache needs at least one cell, got %d", n_cells);
    kv->n_cells = n_cells;
    kv->n_layer = m->hp.n_layer;
    kv->kv_dim = m->hp.n_head_kv * m->hp.head_dim;
    kv->type = m->kv_type;
    kv->row_bytes = kv_row_bytes(&m->hp, kv->type);
    size_t n = (size_t)kv->n_layer * (size_t)n_cells * kv->row_bytes;
    kv->k = malloc(n);
    kv->v = malloc(n);
    kv->pos = malloc((size_t)n_cells * sizeof *kv->pos);
    kv->seqs = malloc((size_t)n_cells * sizeof *kv->seqs);
    if (!kv->k || !kv->v || !kv->pos || !kv->seqs) {
        lk_kv_free(kv);
        return lk_errorf(err, LK_ENOMEM, "out of memory for a KV cache of %d cells (%zu MiB)", n_cells,
                         2 * n >> 20);
    }
    lk_kv_clear(kv);
    return LK_OK;
}

void lk_kv_free(lk_kv *kv) {
    free(kv->scratch);
    free(kv->k);
    free(kv->v);
    free(kv->pos);
    free(kv->seqs);
    memset(kv, 0, sizeof *kv);
}

void lk_kv_clear(lk_kv *kv) {
    for (int c = 0; c < kv->n_cells; c++) {
        kv->pos[c] = -1;
        kv->seqs[c] = 0;
    }
    kv->used = 0;
    kv->hint = 0;
}

void lk_kv_seq_rm(lk_kv *kv, int seq, int p0, int p1) {
    if (seq < 0 || seq >= LK_MAX_SEQ) return;
    uint64_t bit = 1ull << seq;
    for (int c = 0; c < kv->n_cells; c++) {
        if (!(kv->seqs[c] & bit) || kv->pos[c] < p0 || (p1 >= 0 && kv->pos[c] >= p1)) continue;
        kv->seqs[c] &= ~bit;
        if (!kv->seqs[c]) {
            kv->pos[c] = -1;
            kv->used--;
            if (c < kv->hint) kv->hint = c;
        }
    }
}

void lk_kv_seq_cp(lk_kv *kv, int src, int dst, int p0, int p1) {
    if (src < 0 || src >= LK_MAX_SEQ || dst < 0 || dst >= LK_MAX_SEQ || src == dst) return;
    uint64_t sbit = 1ull << src, dbit = 1ull << dst;
    for (int c = 0; c < kv->n_cells; c++)
        if ((kv->seqs[c] & sbit) && kv->pos[c] >= p0 && (p1 < 0 || kv->pos[c] < p1)) kv->seqs[c] |= dbit;
}

int lk_kv_seq_len(const lk_kv *kv, int seq) {
    if (seq < 0 || seq >= LK_MAX_SEQ) return 0;
    uint64_t bit = 1ull << seq;
    int n = 0;
    for (int c = 0; c < kv->n_cells; c++)
        if ((kv->seqs[c] & bit) && kv->pos[c] + 1 > n) n = kv->pos[c] + 1;
    return n;
}

/* Take a free cell for (seq, pos); -1 when the cache is full. */
static int kv_take(lk_kv *kv, int seq, int pos) {
    for (int i = 0; i < kv->n_cells; i++) {
        int c = (kv->hint + i) % kv->n_cells;
        if (kv->pos[c] >= 0) continue;
        kv->pos[c] = pos;
        kv->seqs[c] = 1ull << seq;
        kv->used++;
        kv->hint = c + 1;
        return c;
    }
    return -1;
}

/* ---- the forward pass ----
 *
 * Every thread of the pool runs forward_worker over the whole network; each step splits its
 * work among the threads (rows of a matmul, tokens, token x head pairs), and a barrier
 * separates steps. A matmul step first converts its input to the activation type of its
 * weights (kernels.h), then hands out chunks of weight rows from an atomic counter, so that a
 * thread whose CPU was paused for a while simply takes fewer chunks. */

enum { ACT_F32, ACT_Q8_0, ACT_Q8_1, ACT_Q8_K, ACT_KINDS };

typedef struct fwd {
    const lk_llm *m;
    lk_kv *kv;
    const lk_batch *b;
    const lk_kernels *K;
    int n;                      /* tokens in the batch */
    int n_out;                  /* of which want logits */
    const int *cell_of;         /* [n] the cell each token's K/V goes to */
    const int *cells;           /* [n][max_cells] the cells each token attends to */
    const int *n_cells;         /* [n] */
    int max_cells;
    float *x, *xb, *q, *k, *v, *att, *hg, *hu;
    float *scores;              /* [nth][group * max_cells] attention scratch */
    float *rope;                /* [n][n_rot] cos, sin of each token's position */
    uint8_t *aq[ACT_KINDS];     /* the input of the current matmul step, per activation type */
    _Atomic int *counters;      /* one chunk counter per matmul step, then one per layer's attention */
    int *runs;                  /* [n_runs + 1] first token of each attention run (f16 cache) */
    int n_runs;
    float *out_logits;
} fwd;

/* A matmul of one step: out[n, rows] = in[n, in_dim] · W^T (all of a step share `in`). */
typedef struct mm {
    const gguf_tensor *w;
    float *out;
} mm;

static int act_kind(uint32_t act_type) {
    switch (act_type) {
    case LK_Q8_0: return ACT_Q8_0;
    case LK_Q8_1: return ACT_Q8_1;
    case LK_Q8_K: return ACT_Q8_K;
    default: return ACT_F32;
    }
}

/* [first, end) of `total` items for thread ith of nth, in whole units of `unit`. */
static void split(int64_t total, int64_t unit, int ith, int nth, int64_t *first, int64_t *end) {
    int64_t units = (total + unit - 1) / unit, per = (units + nth - 1) / nth;
    *first = LK_MIN(total, (int64_t)ith * per * unit);
    *end = LK_MIN(total, (int64_t)(ith + 1) * per * unit);
}

/* One step of matmuls sharing the input in[n, in_dim]: convert the input to each activation
 * type the weights need, then share out chunks of rows of all the step's matrices. */
static void matmul_step(fwd *F, int ith, int nth, int *step, const float *in, int in_dim, int n,
                        const mm *ops, int n_ops) {
    /* 1. convert the input once per activation type the step's weights need */
    bool done[ACT_KINDS] = { false };
    bool exact = F->m->f32_activations;
    for (int o = 0; o < n_ops && !exact; o++) {
        uint32_t at = lk_act_type(ops[o].w->type);
        int kind = act_kind(at);
        if (kind == ACT_F32 || done[kind]) continue;
        done[kind] = true;
        int bs = lk_qtype(at)->block_size;
        int64_t first, end;
        split((int64_t)n * in_dim, bs, ith, nth, &first, &end);
        if (end > first)
            F->K->act[at](in + first, F->aq[kind] + (size_t)(first / bs) * lk_qtype(at)->type_size, end - first);
    }
    lk_pool_barrier(F->m->pool);
    /* 2. chunks of rows from a shared counter; chunks are numbered across the step's matrices */
    _Atomic int *counter = &F->counters[(*step)++];
    int rows_total = 0;
    for (int o = 0; o < n_ops; o++) rows_total += (int)ops[o].w->ne[1];
    /* about 8 chunks per thread, so that a thread that was paused takes fewer; with many tokens,
     * at least 64 rows, since the kernels repack the activations once per call */
    int chunk = rows_total / (nth * 8), min_chunk = n >= 6 ? 64 : 16;
    chunk = chunk < min_chunk ? min_chunk : chunk > 256 ? 256 : (chunk + 15) / 16 * 16;
    const int col_tile = 64;
    for (;;) {
        int c = atomic_fetch_add_explicit(counter, 1, memory_order_relaxed), o = 0;
        while (o < n_ops) {
            int chunks = ((int)ops[o].w->ne[1] + chunk - 1) / chunk;
            if (c < chunks) break;
            c -= chunks;
            o++;
        }
        if (o == n_ops) break;
        const gguf_tensor *w = ops[o].w;
        int rows = (int)w->ne[1], r0 = c * chunk, nr = LK_MIN(chunk, rows - r0);
        uint32_t at = lk_act_type(w->type);
        size_t wrs = lk_row_size(w->type, in_dim);
        if (exact && at != LK_F32) {
            for (int r = r0; r < r0 + nr; r++)
                for (int t = 0; t < n; t++)
                    ops[o].out[(size_t)t * rows + r] = lk_vec_dot(w->type, (const uint8_t *)w->data + (size_t)r * wrs,
                                                                 in + (size_t)t * in_dim, in_dim);
            continue;
        }
        const uint8_t *act = at == LK_F32 ? (const uint8_t *)in : F->aq[act_kind(at)];
        size_t ars = lk_act_row_size(w->type, in_dim);
        /* float weights: the kernel widens a block of rows once and uses it for every column */
        int tile = at == LK_F32 ? n : col_tile;
        for (int c0 = 0; c0 < n; c0 += tile)
            F->K->gemm[w->type](in_dim, (const uint8_t *)w->data + (size_t)r0 * wrs, wrs, nr,
                                act + (size_t)c0 * ars, ars, LK_MIN(tile, n - c0),
                                ops[o].out + (size_t)c0 * rows + r0, (size_t)rows);
    }
    lk_pool_barrier(F->m->pool);
}

/* out[t] = x[t] / rms(x[t]) * w, for the tokens of this thread */
static void rmsnorm_rows(float *out, const float *x, const float *w, int n, int d, float eps, int ith, int nth) {
    for (int t = ith; t < n; t += nth) {
        const float *xt = x + (size_t)t * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)(xt[i] * xt[i]);
        float scale = 1.0f / sqrtf((float)(ss / d) + eps);
        float *ot = out + (size_t)t * d;
        for (int i = 0; i < d; i++) ot[i] = xt[i] * scale * w[i];
    }
}

/* The rotation of position pos: cs[2i], cs[2i+1] = cos, sin of pos * base^(-2i/n_rot), scaled
 * by freq_scale and divided by the Llama 3 frequency factors. Computed once per token and
 * forward pass, shared by q and k of every layer. */
static void rope_angles(float *cs, int pos, const lk_llm *m) {
    const lk_hparams *hp = &m->hp;
    float theta_scale = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
    float theta = (float)pos;
    for (int i = 0; i < hp->n_rot / 2; i++) {
        float ff = m->rope_freqs ? m->rope_freqs[i] : 1.0f;
        float th = hp->rope_freq_scale * (theta / ff);
        cs[2 * i] = cosf(th);
        cs[2 * i + 1] = sinf(th);
        theta *= theta_scale;
    }
}

/* Rotate pairs of each head of row x (n_heads x head_dim) by the angles cs: adjacent pairs
 * (x[2i], x[2i+1]) for llama GGUFs (whose q/k rows were permuted at conversion), NeoX pairs
 * (x[i], x[i + n_rot/2]) for qwen2. */
static void rope_row(float *x, const float *cs, int n_heads, const lk_hparams *hp) {
    int hd = hp->head_dim, half = hp->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * hd;
        for (int i = 0; i < half; i++) {
            int a = hp->rope_neox ? i : 2 * i, b = hp->rope_neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
            v[b] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
        }
    }
}

/* Write row x (kv_dim floats) into a cache row of the cache's type. */
static void kv_store(const fwd *F, uint8_t *dst, const float *x) {
    const lk_kv *kv = F->kv;
    if (kv->type == LK_F16) F->K->f32_to_f16(x, (uint16_t *)dst, kv->kv_dim);
    else if (kv->type == LK_F32) memcpy(dst, x, (size_t)kv->kv_dim * sizeof(float));
    else lk_quantize_row(kv->type, x, dst, kv->kv_dim);
}

/* q · k for one head; k is head h's slice of a cache row (f32 or q8_0: an f16 cache goes to the
 * attn_f16 kernel). */
static float kv_dot(const fwd *F, const uint8_t *row, int h, const float *q, int hd) {
    switch (F->kv->type) {
    case LK_F32: {
        const float *k = (const float *)row + (size_t)h * hd;
        float s = 0;
        for (int i = 0; i < hd; i++) s += k[i] * q[i];
        return s;
    }
    default: { /* q8_0: hd is a multiple of 32 */
        const lk_block_q8_0 *b = (const lk_block_q8_0 *)row + (size_t)h * hd / LK_QK;
        float s = 0;
        for (int j = 0; j < hd / LK_QK; j++) {
            float bs = 0;
            for (int i = 0; i < LK_QK; i++) bs += (float)b[j].qs[i] * q[j * LK_QK + i];
            s += lk_fp16_to_fp32((uint16_t)(b[j].d[0] | b[j].d[1] << 8)) * bs;
        }
        return s;
    }
    }
}

/* y += a * v for one head's slice of a cache row (f32 or q8_0). */
static void kv_axpy(const fwd *F, float *y, float a, const uint8_t *row, int h, int hd) {
    switch (F->kv->type) {
    case LK_F32: {
        const float *v = (const float *)row + (size_t)h * hd;
        for (int i = 0; i < hd; i++) y[i] += a * v[i];
        break;
    }
    default: {
        const lk_block_q8_0 *b = (const lk_block_q8_0 *)row + (size_t)h * hd / LK_QK;
        for (int j = 0; j < hd / LK_QK; j++) {
            float d = a * lk_fp16_to_fp32((uint16_t)(b[j].d[0] | b[j].d[1] << 8));
            for (int i = 0; i < LK_QK; i++) y[j * LK_QK + i] += d * (float)b[j].qs[i];
        }
    }
    }
}

/* Whether token b sees the cells token a sees and then more: a's list is a prefix of b's (the
 * tokens of one sequence's prompt, in order). */
static bool cells_extend(const fwd *F, int a, int b) {
    int na = F->n_cells[a];
    return na <= F->n_cells[b] &&
           !memcmp(F->cells + (size_t)a * F->max_cells, F->cells + (size_t)b * F->max_cells, (size_t)na * sizeof(int));
}

/* Split the batch into runs for attention: consecutive tokens whose cell lists each extend the
 * one before (a sequence's prompt, in order), at most the block kernel's 64 query lanes / group
 * long; a decode batch of several sequences is a run per token. The runs depend on the batch
 * alone, never on the thread count, so neither do the results. Fills F->runs, F->n_runs. */
static void attention_runs(fwd *F) {
    int bt = LK_MAX(1, 64 / (F->m->hp.n_head / F->m->hp.n_head_kv));
    F->n_runs = 0;
    for (int t0 = 0, t1; t0 < F->n; t0 = t1) {
        for (t1 = t0 + 1; t1 < F->n && t1 - t0 < bt && cells_extend(F, t1 - 1, t1); t1++) {}
        F->runs[F->n_runs++] = t0;
    }
    F->runs[F->n_runs] = F->n;
}

/* att[t, h] = softmax(q[t, h] · K^T / sqrt(hd)) · V over the cells token t sees. An f16 cache
 * goes to the kernel, in blocks of consecutive tokens whose cell lists each extend the one
 * before (attn_f16_block: K and V rows widened once for all of them; a block of a batch of
 * several sequences splits into runs, down to single tokens). Other cache types take one pass
 * with a running maximum (the weights of earlier cells are rescaled when the maximum grows). */
static void attention(fwd *F, int layer, int ith, int nth) {
    const lk_hparams *hp = &F->m->hp;
    const lk_kv *kv = F->kv;
    int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    float scale = 1.0f / sqrtf((float)hd);
    const uint8_t *K = kv->k + (size_t)layer * kv->n_cells * kv->row_bytes;
    const uint8_t *V = kv->v + (size_t)layer * kv->n_cells * kv->row_bytes;
    float *scratch = F->scores + (size_t)ith * F->max_cells * group;
    if (kv->type == LK_F16) { /* one item per run of tokens (attention_runs) and KV head, from a counter */
        int items = F->n_runs * hp->n_head_kv;
        size_t row = (size_t)hp->n_head * hd; /* floats of a token's q and att */
        _Atomic int *counter = &F->counters[4 * hp->n_layer + 1 + layer];
        for (int it; (it = atomic_fetch_add_explicit(counter, 1, memory_order_relaxed)) < items;) {
            int r = it / hp->n_head_kv, kvh = it % hp->n_head_kv, t0 = F->runs[r], t1 = F->runs[r + 1];
            size_t h0 = (size_t)t0 * hp->n_head + (size_t)kvh * group;
            F->K->attn_f16_block(F->q + h0 * hd, row, t1 - t0, group, (const uint16_t *)K + (size_t)kvh * hd,
                                 (const uint16_t *)V + (size_t)kvh * hd, kv->row_bytes / 2,
                                 F->cells + (size_t)(t1 - 1) * F->max_cells, F->n_cells + t0, hd, scale,
                                 scratch, F->att + h0 * hd, row);
        }
        return;
    }
    int items = F->n * hp->n_head;
    for (int it = ith; it < items; it += nth) {
        int t = it / hp->n_head, h = it % hp->n_head, kvh = h / group;
        const int *tc = F->cells + (size_t)t * F->max_cells;
        int nc = F->n_cells[t];
        const float *qh = F->q + ((size_t)t * hp->n_head + h) * hd;
        float *oh = F->att + ((size_t)t * hp->n_head + h) * hd;
        float mx = -INFINITY, sum = 0;
        memset(oh, 0, (size_t)hd * sizeof(float));
        for (int j = 0; j < nc; j++) {
            float s = kv_dot(F, K + (size_t)tc[j] * kv->row_bytes, kvh, qh, hd) * scale;
            if (s > mx) { /* rescale what has been summed so far */
                float r = expf(mx - s);
                sum *= r;
                for (int i = 0; i < hd; i++) oh[i] *= r;
                mx = s;
            }
            float p = expf(s - mx);
            sum += p;
            kv_axpy(F, oh, p, V + (size_t)tc[j] * kv->row_bytes, kvh, hd);
        }
        float inv = 1.0f / sum;
        for (int i = 0; i < hd; i++) oh[i] *= inv;
    }
}

static void forward_worker(void *ctx, int ith, int nth) {
    fwd *F = ctx;
    const lk_llm *m = F->m;
    const lk_hparams *hp = &m->hp;
    lk_pool *pool = m->pool;
    int n = F->n, dim = hp->dim, q_dim = hp->n_head * hp->head_dim, kv_dim = F->kv->kv_dim, n_ff = hp->n_ff;
    int step = 0;

    /* x = embed(tokens) */
    size_t emb_rs = lk_row_size(m->tok_embd->type, dim);
    for (int t = ith; t < n; t += nth) {
        lk_dequantize_row(m->tok_embd->type, (const uint8_t *)m->tok_embd->data + (size_t)F->b->tokens[t] * emb_rs,
                          F->x + (size_t)t * dim, dim);
        rope_angles(F->rope + (size_t)t * hp->n_rot, F->b->pos[t], m);
    }
    lk_pool_barrier(pool);

    for (int l = 0; l < hp->n_layer; l++) {
        const lk_layer *L = &m->layers[l];
        /* attention block */
        rmsnorm_rows(F->xb, F->x, L->attn_norm, n, dim, hp->norm_eps, ith, nth);   /* xb: [n, dim] */
        lk_pool_barrier(pool);
        mm qkv[3] = { { L->wq, F->q }, { L->wk, F->k }, { L->wv, F->v } };       /* q: [n, q_dim], k, v: [n, kv_dim] */
        matmul_step(F, ith, nth, &step, F->xb, dim, n, qkv, 3);
        for (int t = ith; t < n; t += nth) {                                     /* bias, rope, into the cache */
            float *qt = F->q + (size_t)t * q_dim, *kt = F->k + (size_t)t * kv_dim, *vt = F->v + (size_t)t * kv_dim;
            for (int i = 0; L->bq && i < q_dim; i++) qt[i] += L->bq[i];
            for (int i = 0; L->bk && i < kv_dim; i++) kt[i] += L->bk[i];
            for (int i = 0; L->bv && i < kv_dim; i++) vt[i] += L->bv[i];
            rope_row(qt, F->rope + (size_t)t * hp->n_rot, hp->n_head, hp);
            rope_row(kt, F->rope + (size_t)t * hp->n_rot, hp->n_head_kv, hp);
            size_t at = ((size_t)l * F->kv->n_cells + (size_t)F->cell_of[t]) * F->kv->row_bytes;
            kv_store(F, F->kv->k + at, kt);
            kv_store(F, F->kv->v + at, vt);
        }
        lk_pool_barrier(pool);
        attention(F, l, ith, nth);                                               /* att: [n, q_dim] */
        lk_pool_barrier(pool);
        mm o[1] = { { L->wo, F->xb } };
        matmul_step(F, ith, nth, &step, F->att, q_dim, n, o, 1);                    /* xb: [n, dim] */
        for (int t = ith; t < n; t += nth) {                                     /* x += xb; xb = norm(x) */
            float *xt = F->x + (size_t)t * dim, *bt = F->xb + (size_t)t * dim;
            for (int i = 0; i < dim; i++) xt[i] += bt[i];
        }
        rmsnorm_rows(F->xb, F->x, L->ffn_norm, n, dim, hp->norm_eps, ith, nth);
        lk_pool_barrier(pool);
        /* feed-forward block */
        mm gu[2] = { { L->w_gate, F->hg }, { L->w_up, F->hu } };                /* hg, hu: [n, n_ff] */
        matmul_step(F, ith, nth, &step, F->xb, dim, n, gu, 2);
        int64_t first, end;
        split((int64_t)n * n_ff, 64, ith, nth, &first, &end);
        for (int64_t i = first; i < end; i++) {                                  /* hg = silu(hg) * hu */
            float g = F->hg[i];
            F->hg[i] = g / (1.0f + expf(-g)) * F->hu[i];
        }
        lk_pool_barrier(pool);
        mm d[1] = { { L->w_down, F->xb } };
        matmul_step(F, ith, nth, &step, F->hg, n_ff, n, d, 1);                      /* xb: [n, dim] */
        for (int t = ith; t < n; t += nth) {
            float *xt = F->x + (size_t)t * dim, *bt = F->xb + (size_t)t * dim;
            for (int i = 0; i < dim; i++) xt[i] += bt[i];
        }
        lk_pool_barrier(pool);
    }

    /* logits for the tokens that want them: gather, norm, project */
    if (ith == 0) {
        int o = 0;
        for (int t = 0; t < n; t++) {
            bool want = F->b->logits ? F->b->logits[t] : t == n - 1;
            if (!want) continue;
            memmove(F->x + (size_t)o * dim, F->x + (size_t)t * dim, (size_t)dim * sizeof(float));
            o++;
        }
    }
    lk_pool_barrier(pool);
    if (F->n_out == 0) return;
    rmsnorm_rows(F->xb, F->x, m->output_norm, F->n_out, dim, hp->norm_eps, ith, nth);
    lk_pool_barrier(pool);
    if (F->b->hidden && ith == 0)                                               /* hidden: [n_out, dim] */
        memcpy(F->b->hidden, F->xb, (size_t)F->n_out * dim * sizeof(float));
    if (!F->out_logits) return;
    mm out[1] = { { m->output, F->out_logits } };                               /* logits: [n_out, n_vocab] */
    matmul_step(F, ith, nth, &step, F->xb, dim, F->n_out, out, 1);
}

/* The cells of one sequence, sorted by position. */
typedef struct seq_cells {
    int *cells;
    int n;
} seq_cells;

typedef struct pos_cell {
    int32_t pos;
    int cell;
} pos_cell;

static int by_pos(const void *a, const void *b) {
    int32_t pa = ((const pos_cell *)a)->pos, pb = ((const pos_cell *)b)->pos;
    return (pa > pb) - (pa < pb);
}

static void collect_seq_cells(const lk_kv *kv, int s, seq_cells *out) {
    uint64_t bit = 1ull << s;
    out->cells = lk_xmalloc((size_t)LK_MAX(kv->used, 1) * sizeof(int));
    out->n = 0;
    bool sorted = true;
    for (int c = 0; c < kv->n_cells; c++) {
        if (!(kv->seqs[c] & bit) || kv->pos[c] < 0) continue;
        if (out->n && kv->pos[out->cells[out->n - 1]] > kv->pos[c]) sorted = false;
        out->cells[out->n++] = c;
    }
    if (!sorted) { /* cells out of position order (a reused prefix, holes): sort them */
        pos_cell *pc = lk_xmalloc((size_t)out->n * sizeof *pc);
        for (int i = 0; i < out->n; i++) pc[i] = (pos_cell){ kv->pos[out->cells[i]], out->cells[i] };
        qsort(pc, (size_t)out->n, sizeof *pc, by_pos);
        for (int i = 0; i < out->n; i++) out->cells[i] = pc[i].cell;
        free(pc);
    }
}

int lk_llm_forward(const lk_llm *m, lk_kv *kv, const lk_batch *b, float *out_logits, lk_error *err) {
    const lk_hparams *hp = &m->hp;
    int n = b->n, dim = hp->dim, q_dim = hp->n_head * hp->head_dim, kv_dim = kv->kv_dim;
    if (n < 1) return lk_errorf(err, LK_EINVAL, "empty batch");
    int n_out = 0;
    for (int t = 0; t < n; t++) {
        if (b->tokens[t] < 0 || b->tokens[t] >= hp->n_vocab)
            return lk_errorf(err, LK_EINVAL, "token %d at batch index %d is outside the vocabulary (%d)",
                             b->tokens[t], t, hp->n_vocab);
        int s = b->seq ? b->seq[t] : 0;
        if (s < 0 || s >= LK_MAX_SEQ || b->pos[t] < 0)
            return lk_errorf(err, LK_EINVAL, "batch index %d: bad sequence %d or position %d", t, s, b->pos[t]);
        n_out += (b->logits ? b->logits[t] : t == n - 1) ? 1 : 0;
    }
    if (kv->n_cells - kv->used < n)
        return lk_errorf(err, LK_ERANGE, "KV cache full: %d tokens need cells, %d of %d free (raise the context size)",
                         n, kv->n_cells - kv->used, kv->n_cells);

    fwd F = { .m = m, .kv = kv, .b = b, .K = lk_kernels_active(), .n = n, .n_out = n_out, .out_logits = out_logits };
    /* each token takes a cell; then list, per token, the cells it may attend to */
    int *cell_of = lk_xmalloc((size_t)n * sizeof(int));
    for (int t = 0; t < n; t++) cell_of[t] = kv_take(kv, b->seq ? b->seq[t] : 0, b->pos[t]);
    int max_cells = kv->used;
    int *cells = malloc((size_t)n * (size_t)max_cells * sizeof(int));
    int *n_cells = lk_xmalloc((size_t)n * sizeof(int));
    size_t sz_x = (size_t)n * dim, sz_q = (size_t)n * q_dim, sz_kv = (size_t)n * kv_dim, sz_ff = (size_t)n * hp->n_ff;
    size_t max_in = (size_t)LK_MAX(LK_MAX(dim, q_dim), hp->n_ff);
    static const uint32_t act_types[ACT_KINDS] = { LK_F32, LK_Q8_0, LK_Q8_1, LK_Q8_K };
    bool needed[ACT_KINDS] = { false }; /* only the activation types the model's weights use */
    needed[act_kind(lk_act_type(m->output->type))] = true;
    for (int l = 0; l < hp->n_layer; l++) {
        const lk_layer *L = &m->layers[l];
        const gguf_tensor *ws[7] = { L->wq, L->wk, L->wv, L->wo, L->w_gate, L->w_up, L->w_down };
        for (int i = 0; i < 7; i++) needed[act_kind(lk_act_type(ws[i]->type))] = true;
    }
    /* the per-batch buffers, carved from the cache's scratch block (64-byte aligned pieces) */
    size_t sizes[10 + ACT_KINDS] = {
        sz_x * sizeof(float), sz_x * sizeof(float), sz_q * sizeof(float), sz_q * sizeof(float),
        sz_kv * sizeof(float), sz_kv * sizeof(float), sz_ff * sizeof(float), sz_ff * sizeof(float),
        (size_t)n * (size_t)hp->n_rot * sizeof(float),
        (size_t)lk_pool_size(m->pool) * (size_t)max_cells * (size_t)(hp->n_head / hp->n_head_kv) * sizeof(float),
    };
    for (int a = 1; a < ACT_KINDS; a++) {
        if (!needed[a] || m->f32_activations) continue;
        const lk_qtype_info *qi = lk_qtype(act_types[a]);
        sizes[10 + a] = (size_t)n * ((max_in + (size_t)qi->block_size - 1) / (size_t)qi->block_size * qi->type_size);
    }
    size_t total = 0;
    for (size_t i = 0; i < LK_ARRAY_LEN(sizes); i++) total += (sizes[i] + 63) / 64 * 64;
    if (kv->scratch_size < total) {
        free(kv->scratch);
        kv->scratch = aligned_alloc(64, total);
        kv->scratch_size = kv->scratch ? total : 0;
    }
    bool ok = cells && kv->scratch;
    if (ok) {
        float **fl[10] = { &F.x, &F.xb, &F.q, &F.att, &F.k, &F.v, &F.hg, &F.hu, &F.rope, &F.scores };
        uint8_t *p = kv->scratch;
        for (size_t i = 0; i < LK_ARRAY_LEN(sizes); i++) {
            if (i < 10) *fl[i] = (float *)p;
            else if (sizes[i]) F.aq[i - 10] = p;
            p += (sizes[i] + 63) / 64 * 64;
        }
    }
    int n_steps = 4 * hp->n_layer + 1 + hp->n_layer; /* matmul steps, then attention per layer */
    F.counters = calloc((size_t)n_steps, sizeof *F.counters);
    F.runs = malloc(((size_t)n + 1) * sizeof *F.runs);
    ok = ok && F.runs;
    ok = ok && F.counters;
    int rc = LK_OK;
    if (!ok) {
        rc = lk_errorf(err, LK_ENOMEM, "out of memory for a batch of %d tokens", n);
        for (int t = 0; t < n; t++) { /* give the cells back */
            kv->pos[cell_of[t]] = -1;
            kv->seqs[cell_of[t]] = 0;
            kv->used--;
        }
        goto done;
    }
    /* each token attends to its sequence's cells up to its position, in position order (so that a
     * token's result does not depend on where its cells happen to lie in the cache): one scan of
     * the cache per sequence in the batch, then a prefix of that sequence's sorted list per token */
    seq_cells sc[LK_MAX_SEQ] = { { NULL, 0 } };
    for (int t = 0; t < n; t++) {
        int s = b->seq ? b->seq[t] : 0;
        if (!sc[s].cells) collect_seq_cells(kv, s, &sc[s]);
        int lo = 0, hi = sc[s].n; /* entries with pos <= b->pos[t] */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (kv->pos[sc[s].cells[mid]] <= b->pos[t]) lo = mid + 1;
            else hi = mid;
        }
        memcpy(cells + (size_t)t * max_cells, sc[s].cells, (size_t)lo * sizeof(int));
        n_cells[t] = lo;
    }
    for (int s = 0; s < LK_MAX_SEQ; s++) free(sc[s].cells);
    F.cell_of = cell_of;
    F.cells = cells;
    F.n_cells = n_cells;
    F.max_cells = max_cells;
    if (kv->type == LK_F16) attention_runs(&F);
    lk_pool_run(m->pool, forward_worker, &F);
done:
    free(cell_of); free(cells); free(n_cells); free(F.runs);
    free((void *)F.counters);
    return rc;
}

int lk_llm_eval(const lk_llm *m, lk_kv *kv, const int32_t *tokens, int n, int pos0, bool all_logits,
                float *out_logits, lk_error *err) {
    int32_t *pos = lk_xmalloc((size_t)n * sizeof *pos);
    bool *want = lk_xmalloc((size_t)n * sizeof *want);
    for (int i = 0; i < n; i++) {
        pos[i] = pos0 + i;
        want[i] = all_logits || i == n - 1;
    }
    lk_batch b = { .n = n, .tokens = tokens, .pos = pos, .seq = NULL, .logits = want };
    int rc = lk_llm_forward(m, kv, &b, out_logits, err);
    free(pos);
    free(want);
    return rc;
}

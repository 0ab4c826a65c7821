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
#include "engine/quant/quant.h"

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

/* ---- KV cache ---- */

size_t lk_kv_bytes_per_token(const lk_hparams *hp) {
    return 2 * sizeof(float) * (size_t)hp->n_layer * (size_t)hp->n_head_kv * (size_t)hp->head_dim;
}

int lk_kv_init(lk_kv *kv, const lk_llm *m, int n_cells, lk_error *err) {
    memset(kv, 0, sizeof *kv);
    if (n_cells < 1) return lk_errorf(err, LK_EINVAL, "KV cache needs at least one cell, got %d", n_cells);
    kv->n_cells = n_cells;
    kv->n_layer = m->hp.n_layer;
    kv->kv_dim = m->hp.n_head_kv * m->hp.head_dim;
    size_t n = (size_t)kv->n_layer * (size_t)n_cells * (size_t)kv->kv_dim;
    kv->k = malloc(n * sizeof(float));
    kv->v = malloc(n * sizeof(float));
    kv->pos = malloc((size_t)n_cells * sizeof *kv->pos);
    kv->seqs = malloc((size_t)n_cells * sizeof *kv->seqs);
    if (!kv->k || !kv->v || !kv->pos || !kv->seqs) {
        lk_kv_free(kv);
        return lk_errorf(err, LK_ENOMEM, "out of memory for a KV cache of %d cells (%zu MiB)", n_cells,
                         2 * n * sizeof(float) >> 20);
    }
    lk_kv_clear(kv);
    return LK_OK;
}

void lk_kv_free(lk_kv *kv) {
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

int lk_kv_seq_len(const lk_kv *kv, int seq) {
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

/* ---- the layer functions ---- */

/* out[n, d] = x[n, d] / rms(x) * w[d] */
static void rmsnorm(float *out, const float *x, const float *w, int n, int d, float eps) {
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)(xt[i] * xt[i]);
        float scale = 1.0f / sqrtf((float)(ss / d) + eps);
        float *ot = out + (size_t)t * d;
        for (int i = 0; i < d; i++) ot[i] = xt[i] * scale * w[i];
    }
}

/* out[n, rows] = x[n, in] · W^T, W: [in, rows] in its file type. Each weight row is read once. */
static void matmul(float *out, const float *x, const gguf_tensor *w, int n) {
    int in = (int)w->ne[0], rows = (int)w->ne[1];
    size_t rs = lk_row_size(w->type, in);
    const uint8_t *base = w->data;
    for (int r = 0; r < rows; r++) {
        const void *row = base + (size_t)r * rs;
        for (int t = 0; t < n; t++)
            out[(size_t)t * rows + r] = lk_vec_dot(w->type, row, x + (size_t)t * in, in);
    }
}

static void add_bias(float *x, const float *b, int n, int d) {
    if (!b) return;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < d; i++) x[(size_t)t * d + i] += b[i];
}

/* Rotate pairs of each head of x[n, n_heads * head_dim] by angle pos * base^(-2i/n_rot), scaled
 * by freq_scale and divided by the Llama 3 frequency factors when present. Adjacent pairs
 * (x[2i], x[2i+1]) for llama GGUFs (whose q/k rows were permuted at conversion), NeoX pairs
 * (x[i], x[i + n_rot/2]) for qwen2. */
static void rope(float *x, const int32_t *pos, int n, int n_heads, const lk_llm *m) {
    const lk_hparams *hp = &m->hp;
    int hd = hp->head_dim, half = hp->n_rot / 2;
    float theta_scale = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
    float cs[4096]; /* cos, sin per pair; n_rot <= 4096 is checked at load */
    for (int t = 0; t < n; t++) {
        float theta = (float)pos[t];
        for (int i = 0; i < half; i++) {
            float ff = m->rope_freqs ? m->rope_freqs[i] : 1.0f;
            float th = hp->rope_freq_scale * (theta / ff);
            cs[2 * i] = cosf(th);
            cs[2 * i + 1] = sinf(th);
            theta *= theta_scale;
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * hd;
            for (int i = 0; i < half; i++) {
                int a = hp->rope_neox ? i : 2 * i, b = hp->rope_neox ? i + half : 2 * i + 1;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
                v[b] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
            }
        }
    }
}

/* For token t: out[t, head h] = softmax(q·K^T / sqrt(hd)) · V over its visible cells. */
static void attention(float *out, const float *q, const lk_kv *kv, int layer, const int *cells,
                      const int *n_cells, int max_cells, int n, const lk_hparams *hp, float *scores) {
    int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv, kv_dim = kv->kv_dim;
    float scale = 1.0f / sqrtf((float)hd);
    const float *K = kv->k + (size_t)layer * kv->n_cells * kv_dim;
    const float *V = kv->v + (size_t)layer * kv->n_cells * kv_dim;
    for (int t = 0; t < n; t++) {
        const int *tc = cells + (size_t)t * max_cells;
        int nc = n_cells[t];
        for (int h = 0; h < hp->n_head; h++) {
            const float *qh = q + ((size_t)t * hp->n_head + h) * hd;
            int kvh = h / group;
            float mx = -INFINITY;
            for (int j = 0; j < nc; j++) {
                const float *kh = K + (size_t)tc[j] * kv_dim + (size_t)kvh * hd;
                float s = 0;
                for (int i = 0; i < hd; i++) s += qh[i] * kh[i];
                scores[j] = s * scale;
                if (scores[j] > mx) mx = scores[j];
            }
            double sum = 0;
            for (int j = 0; j < nc; j++) {
                scores[j] = expf(scores[j] - mx);
                sum += scores[j];
            }
            float inv = (float)(1.0 / sum);
            float *oh = out + ((size_t)t * hp->n_head + h) * hd;
            memset(oh, 0, (size_t)hd * sizeof(float));
            for (int j = 0; j < nc; j++) {
                const float *vh = V + (size_t)tc[j] * kv_dim + (size_t)kvh * hd;
                float p = scores[j] * inv;
                for (int i = 0; i < hd; i++) oh[i] += p * vh[i];
            }
        }
    }
}

static void swiglu(float *g, const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void add(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

int lk_llm_forward(const lk_llm *m, lk_kv *kv, const lk_batch *b, float *out_logits, lk_error *err) {
    const lk_hparams *hp = &m->hp;
    int n = b->n, dim = hp->dim, q_dim = hp->n_head * hp->head_dim, kv_dim = kv->kv_dim;
    if (n < 1) return lk_errorf(err, LK_EINVAL, "empty batch");
    for (int t = 0; t < n; t++) {
        if (b->tokens[t] < 0 || b->tokens[t] >= hp->n_vocab)
            return lk_errorf(err, LK_EINVAL, "token %d at batch index %d is outside the vocabulary (%d)",
                             b->tokens[t], t, hp->n_vocab);
        int s = b->seq ? b->seq[t] : 0;
        if (s < 0 || s >= LK_MAX_SEQ || b->pos[t] < 0)
            return lk_errorf(err, LK_EINVAL, "batch index %d: bad sequence %d or position %d", t, s, b->pos[t]);
    }
    if (kv->n_cells - kv->used < n)
        return lk_errorf(err, LK_ERANGE, "KV cache full: %d tokens need cells, %d of %d free (raise the context size)",
                         n, kv->n_cells - kv->used, kv->n_cells);

    /* each token takes a cell; then list, per token, the cells it may attend to */
    int *cell_of = lk_xmalloc((size_t)n * sizeof(int));
    for (int t = 0; t < n; t++) cell_of[t] = kv_take(kv, b->seq ? b->seq[t] : 0, b->pos[t]);
    int max_cells = kv->used;
    int *cells = malloc((size_t)n * (size_t)max_cells * sizeof(int));
    int *n_cells = lk_xmalloc((size_t)n * sizeof(int));
    size_t sz_x = (size_t)n * dim, sz_q = (size_t)n * q_dim, sz_kv = (size_t)n * kv_dim, sz_ff = (size_t)n * hp->n_ff;
    float *x = malloc(sz_x * sizeof(float)), *xb = malloc(sz_x * sizeof(float));
    float *q = malloc(sz_q * sizeof(float)), *att = malloc(sz_q * sizeof(float));
    float *k = malloc(sz_kv * sizeof(float)), *v = malloc(sz_kv * sizeof(float));
    float *hg = malloc(sz_ff * sizeof(float)), *hu = malloc(sz_ff * sizeof(float));
    float *scores = malloc((size_t)max_cells * sizeof(float));
    int rc = LK_OK;
    if (!cells || !x || !xb || !q || !att || !k || !v || !hg || !hu || !scores) {
        rc = lk_errorf(err, LK_ENOMEM, "out of memory for a batch of %d tokens", n);
        for (int t = 0; t < n; t++) { /* give the cells back */
            kv->pos[cell_of[t]] = -1;
            kv->seqs[cell_of[t]] = 0;
            kv->used--;
        }
        goto done;
    }
    for (int t = 0; t < n; t++) {
        uint64_t bit = 1ull << (b->seq ? b->seq[t] : 0);
        int cnt = 0;
        for (int c = 0; c < kv->n_cells; c++)
            if ((kv->seqs[c] & bit) && kv->pos[c] <= b->pos[t]) cells[(size_t)t * max_cells + cnt++] = c;
        n_cells[t] = cnt;
    }

    /* x = embed(tokens) */
    size_t emb_rs = lk_row_size(m->tok_embd->type, dim);
    for (int t = 0; t < n; t++)
        lk_dequantize_row(m->tok_embd->type, (const uint8_t *)m->tok_embd->data + (size_t)b->tokens[t] * emb_rs,
                          x + (size_t)t * dim, dim);

    for (int l = 0; l < hp->n_layer; l++) {
        const lk_layer *L = &m->layers[l];
        /* attention block */
        rmsnorm(xb, x, L->attn_norm, n, dim, hp->norm_eps);    /* xb: [n, dim] */
        matmul(q, xb, L->wq, n);                               /* q:  [n, n_head * hd] */
        matmul(k, xb, L->wk, n);                               /* k:  [n, n_head_kv * hd] */
        matmul(v, xb, L->wv, n);                               /* v:  [n, n_head_kv * hd] */
        add_bias(q, L->bq, n, q_dim);
        add_bias(k, L->bk, n, kv_dim);
        add_bias(v, L->bv, n, kv_dim);
        rope(q, b->pos, n, hp->n_head, m);
        rope(k, b->pos, n, hp->n_head_kv, m);
        for (int t = 0; t < n; t++) {                          /* store k, v in the token's cell */
            size_t at = ((size_t)l * kv->n_cells + (size_t)cell_of[t]) * kv_dim;
            memcpy(kv->k + at, k + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
            memcpy(kv->v + at, v + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
        }
        attention(att, q, kv, l, cells, n_cells, max_cells, n, hp, scores); /* att: [n, n_head * hd] */
        matmul(xb, att, L->wo, n);                             /* xb: [n, dim] */
        add(x, xb, sz_x);
        /* feed-forward block */
        rmsnorm(xb, x, L->ffn_norm, n, dim, hp->norm_eps);
        matmul(hg, xb, L->w_gate, n);                          /* hg: [n, n_ff] */
        matmul(hu, xb, L->w_up, n);                            /* hu: [n, n_ff] */
        swiglu(hg, hu, sz_ff);
        matmul(xb, hg, L->w_down, n);                          /* xb: [n, dim] */
        add(x, xb, sz_x);
    }

    /* logits for the tokens that want them: gather, norm, project */
    int n_out = 0;
    for (int t = 0; t < n; t++) {
        bool want = b->logits ? b->logits[t] : t == n - 1;
        if (!want) continue;
        memmove(x + (size_t)n_out * dim, x + (size_t)t * dim, (size_t)dim * sizeof(float));
        n_out++;
    }
    if (n_out) {
        rmsnorm(xb, x, m->output_norm, n_out, dim, hp->norm_eps);
        matmul(out_logits, xb, m->output, n_out);              /* logits: [n_out, n_vocab] */
    }
done:
    free(cell_of); free(cells); free(n_cells);
    free(x); free(xb); free(q); free(att); free(k); free(v); free(hg); free(hu); free(scores);
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

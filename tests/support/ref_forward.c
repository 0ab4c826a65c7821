/* ref_forward.c — the double-precision reference transformer (see ref_forward.h). */
#include "ref_forward.h"
#include "engine/quant/kernels.h"
#include "engine/quant/quant.h"
#include "base/base.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A weight matrix as doubles, and the type it had in the file: the engine converts its input
 * to that type's activation blocks (kernels.h), and so does the reference, with the scalar
 * reference quantizer, so that both multiply the same numbers. */
typedef struct rmat {
    double *w;
    uint32_t type;
} rmat;

typedef struct ref_layer {
    double *attn_norm, *ffn_norm, *bq, *bk, *bv;
    rmat wq, wk, wv, wo, wg, wu, wd;
    double *kcache, *vcache; /* [n_ctx][kv_dim] */
} ref_layer;

struct ref_model {
    int n_vocab, dim, n_layer, n_head, n_kv, hd, n_ff, n_rot, n_ctx, pos;
    uint32_t kv_type;
    bool f32_activations; /* the engine's lk_llm.f32_activations: no activation blocks */
    double eps, base, freq_scale;
    bool neox;
    double *emb, *out_norm, *ff;
    rmat out;
    ref_layer *L;
};

/* A whole tensor as doubles, row-major [rows][cols]. */
static double *mat(const gguf_tensor *t) {
    if (!t) return NULL;
    int64_t cols = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
    size_t rs = lk_row_size(t->type, cols);
    float *tmp = malloc((size_t)cols * sizeof(float));
    double *d = malloc((size_t)(rows * cols) * sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        lk_dequantize_row(t->type, (const uint8_t *)t->data + (size_t)r * rs, tmp, cols);
        for (int64_t c = 0; c < cols; c++) d[r * cols + c] = tmp[c];
    }
    free(tmp);
    return d;
}

static double *tensor(const lk_llm *m, const char *name) {
    return mat(gguf_find_tensor(m->gf, name));
}

static double *layer_tensor(const lk_llm *m, int l, const char *name) {
    char n[128];
    snprintf(n, sizeof n, "blk.%d.%s", l, name);
    return tensor(m, n);
}

static rmat layer_matrix(const lk_llm *m, int l, const char *name) {
    char n[128];
    snprintf(n, sizeof n, "blk.%d.%s", l, name);
    const gguf_tensor *t = gguf_find_tensor(m->gf, n);
    return (rmat){ mat(t), t->type };
}

ref_model *ref_new(const lk_llm *m) {
    ref_model *r = calloc(1, sizeof *r);
    const lk_hparams *hp = &m->hp;
    r->n_vocab = hp->n_vocab;
    r->dim = hp->dim;
    r->n_layer = hp->n_layer;
    r->n_head = hp->n_head;
    r->n_kv = hp->n_head_kv;
    r->hd = hp->head_dim;
    r->n_ff = hp->n_ff;
    r->n_rot = hp->n_rot;
    r->n_ctx = 1024;
    r->kv_type = m->kv_type;
    r->f32_activations = m->f32_activations;
    r->eps = hp->norm_eps;
    r->base = hp->rope_base;
    r->freq_scale = hp->rope_freq_scale;
    r->neox = hp->arch == LK_ARCH_QWEN2;
    r->emb = tensor(m, "token_embd.weight");
    r->out = (rmat){ mat(m->output), m->output->type };
    r->out_norm = tensor(m, "output_norm.weight");
    r->ff = tensor(m, "rope_freqs.weight");
    r->L = calloc((size_t)r->n_layer, sizeof *r->L);
    for (int l = 0; l < r->n_layer; l++) {
        ref_layer *L = &r->L[l];
        L->attn_norm = layer_tensor(m, l, "attn_norm.weight");
        L->ffn_norm = layer_tensor(m, l, "ffn_norm.weight");
        L->wq = layer_matrix(m, l, "attn_q.weight");
        L->wk = layer_matrix(m, l, "attn_k.weight");
        L->wv = layer_matrix(m, l, "attn_v.weight");
        L->wo = layer_matrix(m, l, "attn_output.weight");
        L->bq = layer_tensor(m, l, "attn_q.bias");
        L->bk = layer_tensor(m, l, "attn_k.bias");
        L->bv = layer_tensor(m, l, "attn_v.bias");
        L->wg = layer_matrix(m, l, "ffn_gate.weight");
        L->wu = layer_matrix(m, l, "ffn_up.weight");
        L->wd = layer_matrix(m, l, "ffn_down.weight");
        L->kcache = calloc((size_t)r->n_ctx * r->n_kv * r->hd, sizeof(double));
        L->vcache = calloc((size_t)r->n_ctx * r->n_kv * r->hd, sizeof(double));
    }
    return r;
}

void ref_free(ref_model *r) {
    if (!r) return;
    for (int l = 0; l < r->n_layer; l++) {
        ref_layer *L = &r->L[l];
        double *all[] = { L->attn_norm, L->ffn_norm, L->wq.w, L->wk.w, L->wv.w, L->wo.w, L->bq, L->bk, L->bv,
                          L->wg.w, L->wu.w, L->wd.w, L->kcache, L->vcache };
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    }
    free(r->L);
    free(r->emb);
    free(r->out.w);
    free(r->out_norm);
    free(r->ff);
    free(r);
}

/* x as the engine's matmul sees it for weights of wtype: rounded to float, then, for quantized
 * weights, through the 8-bit activation blocks (q8_0, q8_1 or q8_K) and back. */
static void as_activations(double *xa, const double *x, int n, uint32_t wtype, bool f32) {
    float *f = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) f[i] = (float)x[i];
    uint32_t at = f32 ? LK_F32 : lk_act_type(wtype);
    if (at == LK_F32) {
        for (int i = 0; i < n; i++) xa[i] = f[i];
        free(f);
        return;
    }
    void *q = malloc(lk_row_size(at, n));
    lk_kernels_get(LK_SIMD_SCALAR)->act[at](f, q, n);
    for (int b = 0; b < n / lk_qtype(at)->block_size; b++) {
        if (at == LK_Q8_K) {
            const lk_block_q8_K *k = (const lk_block_q8_K *)q + b;
            for (int i = 0; i < LK_QK_K; i++) xa[b * LK_QK_K + i] = (double)k->d * k->qs[i];
        } else { /* q8_0 and q8_1: fp16 d first, 32 int8 last */
            const uint8_t *blk = (const uint8_t *)q + (size_t)b * lk_qtype(at)->type_size;
            const int8_t *qs = (const int8_t *)(blk + lk_qtype(at)->type_size - LK_QK);
            double d = lk_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8));
            for (int i = 0; i < LK_QK; i++) xa[b * LK_QK + i] = d * qs[i];
        }
    }
    free(q);
    free(f);
}

/* y[rows] = W[rows][cols] x[cols] (+ b), with x as the engine's kernels take it */
static void mv(const ref_model *r, double *y, rmat W, const double *x, const double *b, int rows, int cols) {
    double *xa = malloc((size_t)cols * sizeof(double));
    as_activations(xa, x, cols, W.type, r->f32_activations);
    for (int i = 0; i < rows; i++) {
        double s = b ? b[i] : 0;
        for (int j = 0; j < cols; j++) s += W.w[(size_t)i * cols + j] * xa[j];
        y[i] = s;
    }
    free(xa);
}

static void norm(double *y, const double *x, const double *w, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * s * w[i];
}

/* Rotate each head of v (n_heads x hd) for position pos. */
static void rotate(const ref_model *r, double *v, int n_heads, int pos) {
    int half = r->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        double *x = v + (size_t)h * r->hd;
        for (int i = 0; i < half; i++) {
            double freq = pow(r->base, -2.0 * i / r->n_rot);
            if (r->ff) freq /= r->ff[i];
            double ang = pos * freq * r->freq_scale;
            int a = r->neox ? i : 2 * i, b = r->neox ? i + half : 2 * i + 1;
            double x0 = x[a], x1 = x[b];
            x[a] = x0 * cos(ang) - x1 * sin(ang);
            x[b] = x0 * sin(ang) + x1 * cos(ang);
        }
    }
}

/* A K or V row as the engine's cache holds it: rounded to the cache type (f32, f16, q8_0). */
static void as_cached(const ref_model *r, double *x, int n) {
    float *f = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) f[i] = (float)x[i];
    if (r->kv_type != LK_F32) {
        void *q = malloc(lk_row_size(r->kv_type, n));
        lk_quantize_row(r->kv_type, f, q, n);
        lk_dequantize_row(r->kv_type, q, f, n);
        free(q);
    }
    for (int i = 0; i < n; i++) x[i] = f[i];
    free(f);
}

void ref_step(ref_model *r, int32_t token, double *logits) {
    int dim = r->dim, qd = r->n_head * r->hd, kvd = r->n_kv * r->hd, p = r->pos++;
    double *x = malloc((size_t)dim * sizeof(double)), *h = malloc((size_t)dim * sizeof(double));
    double *q = malloc((size_t)qd * sizeof(double)), *o = malloc((size_t)qd * sizeof(double));
    double *g = malloc((size_t)r->n_ff * sizeof(double)), *u = malloc((size_t)r->n_ff * sizeof(double));
    double *att = malloc((size_t)(p + 1) * sizeof(double)), *t = malloc((size_t)dim * sizeof(double));
    memcpy(x, r->emb + (size_t)token * dim, (size_t)dim * sizeof(double));
    for (int l = 0; l < r->n_layer; l++) {
        ref_layer *L = &r->L[l];
        double *k = L->kcache + (size_t)p * kvd, *v = L->vcache + (size_t)p * kvd;
        norm(h, x, L->attn_norm, dim, r->eps);
        mv(r, q, L->wq, h, L->bq, qd, dim);
        mv(r, k, L->wk, h, L->bk, kvd, dim);
        mv(r, v, L->wv, h, L->bv, kvd, dim);
        rotate(r, q, r->n_head, p);
        rotate(r, k, r->n_kv, p);
        as_cached(r, k, kvd);
        as_cached(r, v, kvd);
        for (int hh = 0; hh < r->n_head; hh++) {
            int kh = hh / (r->n_head / r->n_kv);
            double mx = -1e300, sum = 0;
            for (int j = 0; j <= p; j++) {
                double s = 0;
                for (int i = 0; i < r->hd; i++) s += q[hh * r->hd + i] * L->kcache[(size_t)j * kvd + kh * r->hd + i];
                att[j] = s / sqrt((double)r->hd);
                if (att[j] > mx) mx = att[j];
            }
            for (int j = 0; j <= p; j++) sum += (att[j] = exp(att[j] - mx));
            for (int i = 0; i < r->hd; i++) {
                double s = 0;
                for (int j = 0; j <= p; j++) s += att[j] / sum * L->vcache[(size_t)j * kvd + kh * r->hd + i];
                o[hh * r->hd + i] = s;
            }
        }
        mv(r, t, L->wo, o, NULL, dim, qd);
        for (int i = 0; i < dim; i++) x[i] += t[i];
        norm(h, x, L->ffn_norm, dim, r->eps);
        mv(r, g, L->wg, h, NULL, r->n_ff, dim);
        mv(r, u, L->wu, h, NULL, r->n_ff, dim);
        for (int i = 0; i < r->n_ff; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        mv(r, t, L->wd, g, NULL, dim, r->n_ff);
        for (int i = 0; i < dim; i++) x[i] += t[i];
    }
    norm(h, x, r->out_norm, dim, r->eps);
    mv(r, logits, r->out, h, NULL, r->n_vocab, dim);
    free(x); free(h); free(q); free(o); free(g); free(u); free(att); free(t);
}

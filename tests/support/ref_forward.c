/* ref_forward.c — the double-precision reference transformer (see ref_forward.h). */
#include "ref_forward.h"
#include "engine/quant/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_layer {
    double *attn_norm, *ffn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *wg, *wu, *wd;
    double *kcache, *vcache; /* [n_ctx][kv_dim] */
} ref_layer;

struct ref_model {
    int n_vocab, dim, n_layer, n_head, n_kv, hd, n_ff, n_rot, n_ctx, pos;
    double eps, base, freq_scale;
    bool neox;
    double *emb, *out, *out_norm, *ff;
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
    r->eps = hp->norm_eps;
    r->base = hp->rope_base;
    r->freq_scale = hp->rope_freq_scale;
    r->neox = hp->arch == LK_ARCH_QWEN2;
    r->emb = tensor(m, "token_embd.weight");
    r->out = tensor(m, "output.weight");
    if (!r->out) r->out = tensor(m, "token_embd.weight");
    r->out_norm = tensor(m, "output_norm.weight");
    r->ff = tensor(m, "rope_freqs.weight");
    r->L = calloc((size_t)r->n_layer, sizeof *r->L);
    for (int l = 0; l < r->n_layer; l++) {
        ref_layer *L = &r->L[l];
        L->attn_norm = layer_tensor(m, l, "attn_norm.weight");
        L->ffn_norm = layer_tensor(m, l, "ffn_norm.weight");
        L->wq = layer_tensor(m, l, "attn_q.weight");
        L->wk = layer_tensor(m, l, "attn_k.weight");
        L->wv = layer_tensor(m, l, "attn_v.weight");
        L->wo = layer_tensor(m, l, "attn_output.weight");
        L->bq = layer_tensor(m, l, "attn_q.bias");
        L->bk = layer_tensor(m, l, "attn_k.bias");
        L->bv = layer_tensor(m, l, "attn_v.bias");
        L->wg = layer_tensor(m, l, "ffn_gate.weight");
        L->wu = layer_tensor(m, l, "ffn_up.weight");
        L->wd = layer_tensor(m, l, "ffn_down.weight");
        L->kcache = calloc((size_t)r->n_ctx * r->n_kv * r->hd, sizeof(double));
        L->vcache = calloc((size_t)r->n_ctx * r->n_kv * r->hd, sizeof(double));
    }
    return r;
}

void ref_free(ref_model *r) {
    if (!r) return;
    for (int l = 0; l < r->n_layer; l++) {
        ref_layer *L = &r->L[l];
        double *all[] = { L->attn_norm, L->ffn_norm, L->wq, L->wk, L->wv, L->wo, L->bq, L->bk, L->bv,
                          L->wg, L->wu, L->wd, L->kcache, L->vcache };
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    }
    free(r->L);
    free(r->emb);
    free(r->out);
    free(r->out_norm);
    free(r->ff);
    free(r);
}

/* y[rows] = W[rows][cols] x[cols] (+ b) */
static void mv(double *y, const double *W, const double *x, const double *b, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        double s = b ? b[i] : 0;
        for (int j = 0; j < cols; j++) s += W[(size_t)i * cols + j] * x[j];
        y[i] = s;
    }
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
        mv(q, L->wq, h, L->bq, qd, dim);
        mv(k, L->wk, h, L->bk, kvd, dim);
        mv(v, L->wv, h, L->bv, kvd, dim);
        rotate(r, q, r->n_head, p);
        rotate(r, k, r->n_kv, p);
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
        mv(t, L->wo, o, NULL, dim, qd);
        for (int i = 0; i < dim; i++) x[i] += t[i];
        norm(h, x, L->ffn_norm, dim, r->eps);
        mv(g, L->wg, h, NULL, r->n_ff, dim);
        mv(u, L->wu, h, NULL, r->n_ff, dim);
        for (int i = 0; i < r->n_ff; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        mv(t, L->wd, g, NULL, dim, r->n_ff);
        for (int i = 0; i < dim; i++) x[i] += t[i];
    }
    norm(h, x, r->out_norm, dim, r->eps);
    mv(logits, r->out, h, NULL, r->n_vocab, dim);
    free(x); free(h); free(q); free(o); free(g); free(u); free(att); free(t);
}

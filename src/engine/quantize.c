/* quantize.c — quantizing a GGUF model: the per-tensor type choice and the parallel conversion.
 *
 * The type rules are llama.cpp's (llama_tensor_get_type in src/llama-quant.cpp) restated for the
 * targets we offer. llama.cpp visits tensors sorted by layer number and then by name, and counts
 * attn_v and ffn_down tensors as it goes; its "layer" for those rules is that count, so we sort
 * the same way before choosing.
 *
 * Conversion: every row to convert is in a list of work units (a few rows of one tensor); worker
 * threads take units in order with an atomic counter, widen each row to floats and quantize it
 * into the output buffer of its tensor. The calling thread works too and reports progress between
 * its units. A row's bytes depend on nothing but the row, so any thread count gives one file. */
#include "engine/quantize.h"
#include "base/base.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* ---- targets ------------------------------------------------------------------------------ */

static const struct target {
    int ftype;
    const char *name;
    uint32_t type; /* the default type of its matrices */
} targets[] = {
    { LK_FTYPE_Q8_0, "Q8_0", LK_Q8_0 },       { LK_FTYPE_Q4_0, "Q4_0", LK_Q4_0 },
    { LK_FTYPE_Q4_1, "Q4_1", LK_Q4_1 },       { LK_FTYPE_Q5_0, "Q5_0", LK_Q5_0 },
    { LK_FTYPE_Q5_1, "Q5_1", LK_Q5_1 },       { LK_FTYPE_Q4_K_M, "Q4_K_M", LK_Q4_K },
    { LK_FTYPE_Q4_K_S, "Q4_K_S", LK_Q4_K },   { LK_FTYPE_Q5_K_M, "Q5_K_M", LK_Q5_K },
    { LK_FTYPE_Q5_K_S, "Q5_K_S", LK_Q5_K },   { LK_FTYPE_Q6_K, "Q6_K", LK_Q6_K },
    { LK_FTYPE_F16, "F16", LK_F16 },          { LK_FTYPE_BF16, "BF16", LK_BF16 },
    { LK_FTYPE_ALL_F32, "F32", LK_F32 },
};

static const struct target *target_of(int ftype) {
    for (size_t i = 0; i < LK_ARRAY_LEN(targets); i++)
        if (targets[i].ftype == ftype) return &targets[i];
    return NULL;
}

int lk_ftype_from_name(const char *name) {
    if (!name) return -1;
    for (size_t i = 0; i < LK_ARRAY_LEN(targets); i++)
        if (strcasecmp(targets[i].name, name) == 0) return targets[i].ftype;
    return -1;
}

const char *lk_ftype_name(int ftype) {
    const struct target *t = target_of(ftype);
    return t ? t->name : NULL;
}

const char *lk_ftype_names(void) {
    return "Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K_M Q4_K_S Q5_K_M Q5_K_S Q6_K F16 BF16 F32";
}

/* ---- the model ---------------------------------------------------------------------------- */

/* An unsigned metadata value, or def when the key is absent or not a scalar integer (some
 * architectures store per-layer arrays where llama has one number). */
static uint64_t meta_u64(const gguf_file *f, const char *arch, const char *suffix, uint64_t def) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint64_t v = def;
    lk_error ignored = {0};
    if (gguf_get_u64(f, key, false, &v, &ignored)) return def;
    return v;
}

int lk_quant_model_from_gguf(const gguf_file *f, lk_quant_model *out, lk_error *err) {
    memset(out, 0, sizeof *out);
    char *arch = NULL;
    int rc = gguf_get_str(f, "general.architecture", true, &arch, err); /* errors name the file */
    if (rc) return rc;
    snprintf(out->arch, sizeof out->arch, "%s", arch);
    char key[160];
    snprintf(key, sizeof key, "%s.block_count", arch);
    uint64_t n_layer = 0;
    rc = gguf_get_u64(f, key, true, &n_layer, err);
    if (!rc && (n_layer < 1 || n_layer > 4096))
        rc = lk_errorf(err, LK_EFORMAT, "%s: %s is %" PRIu64 ", expected 1 to 4096", f->path, key, n_layer);
    if (!rc) {
        out->n_layer = (int)n_layer;
        out->n_head = (int)LK_MIN(meta_u64(f, arch, "attention.head_count", 0), 1u << 20);
        out->n_head_kv = (int)LK_MIN(meta_u64(f, arch, "attention.head_count_kv", (uint64_t)out->n_head), 1u << 20);
        out->n_expert = (int)LK_MIN(meta_u64(f, arch, "expert_count", 0), 1u << 20);
    }
    free(arch);
    return rc;
}

/* ---- tensor roles and the type rules ------------------------------------------------------ */

enum role {
    ROLE_OTHER, ROLE_TOKEN_EMBD, ROLE_OUTPUT, ROLE_ATTN_Q, ROLE_ATTN_K, ROLE_ATTN_V, ROLE_ATTN_QKV,
    ROLE_ATTN_KV_B, ROLE_ATTN_OUTPUT, ROLE_FFN_UP, ROLE_FFN_GATE, ROLE_FFN_DOWN,
};

/* The role of a tensor from its name, matched in llama.cpp's order (the first match wins). */
static enum role role_of(const char *name) {
    if (strcmp(name, "output.weight") == 0) return ROLE_OUTPUT;
    if (strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0)
        return ROLE_TOKEN_EMBD;
    static const struct { const char *part; enum role role; } parts[] = {
        { "attn_qkv.weight", ROLE_ATTN_QKV }, { "attn_kv_b.weight", ROLE_ATTN_KV_B },
        { "attn_v.weight", ROLE_ATTN_V },     { "attn_k.weight", ROLE_ATTN_K },
        { "attn_q.weight", ROLE_ATTN_Q },     { "attn_output.weight", ROLE_ATTN_OUTPUT },
        { "ffn_up", ROLE_FFN_UP },            { "ffn_gate", ROLE_FFN_GATE },
        { "ffn_down", ROLE_FFN_DOWN },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(parts); i++)
        if (strstr(name, parts[i].part)) return parts[i].role;
    return ROLE_OTHER;
}

/* Value projections (alone or fused) are the most sensitive to quantization. */
static bool role_is_attn_v(enum role r) {
    return r == ROLE_ATTN_V || r == ROLE_ATTN_QKV || r == ROLE_ATTN_KV_B;
}

/* Dimensions as ggml counts them: up to the last one above 1. */
static int effective_dims(const gguf_tensor *t) {
    int n = 1;
    for (int d = 1; d < GGUF_MAX_DIMS && d < (int)t->n_dims; d++)
        if (t->ne[d] > 1) n = d + 1;
    return n;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Whether a tensor is converted at all: matrices named *weight, except norms, routers, position
 * and token-type embeddings and the small special matrices llama.cpp also leaves alone. */
static bool converts(const gguf_tensor *t) {
    if (effective_dims(t) < 2 || !ends_with(t->name, "weight")) return false;
    if (strcmp(t->name, "position_embd.weight") == 0 || strcmp(t->name, "token_types.weight") == 0) return false;
    static const char *const kept[] = {
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
        "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
        "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
        "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
        "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
        "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.",
        "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(kept); i++)
        if (strstr(t->name, kept[i])) return false;
    return true;
}

/* The layer in a name "blk.N....", or -1. */
static int layer_of(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    long v = 0;
    bool any = false;
    for (; *p >= '0' && *p <= '9' && v < 1000000; p++, any = true) v = v * 10 + (*p - '0');
    return any ? (int)v : -1;
}

/* The layers that get more bits in the _M mixes: the first and last eighth, and every third
 * one in between. */
static bool use_more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool is_quantized(uint32_t type) {
    return lk_qtype(type)->block_size > 1;
}

/* What the choice of one tensor needs besides the tensor. */
typedef struct chooser {
    const lk_quant_model *m;
    int ftype;
    bool tied;          /* no output.weight: the token embedding is the output */
    bool falcon, is_70b;
    int n_attn_v, i_attn_v;
    int i_ffn_down, i_ffn_gate, i_ffn_up;
} chooser;

/* The layer a per-layer rule uses: llama.cpp's running count of the role, or with experts the
 * layer in the name. */
static int rule_layer(const chooser *c, const gguf_tensor *t, int counter, int *layer, lk_error *err) {
    if (c->m->n_expert <= 1) {
        *layer = counter;
        return LK_OK;
    }
    *layer = layer_of(t->name);
    if (*layer < 0 || *layer >= c->m->n_layer)
        return lk_errorf(err, LK_EFORMAT, "tensor '%s': no layer in 0..%d in its name", t->name, c->m->n_layer - 1);
    return LK_OK;
}

/* The mix rules: the type for a converted tensor of the given role, before the shape fallback. */
static int mix_type(chooser *c, const gguf_tensor *t, enum role role, uint32_t type, uint32_t *out,
                    lk_error *err) {
    const int f = c->ftype, n_layer = c->m->n_layer, n_expert = c->m->n_expert;
    int layer;
    if (role == ROLE_OUTPUT || (c->tied && role == ROLE_TOKEN_EMBD)) {
        if (c->falcon || t->ne[0] % lk_qtype(type)->block_size) type = LK_Q8_0;
        else if (type != LK_Q8_0) type = LK_Q6_K;
    } else if (role == ROLE_TOKEN_EMBD) {
        /* the default type */
    } else if (role_is_attn_v(role)) {
        if ((f == LK_FTYPE_Q4_K_M || f == LK_FTYPE_Q5_K_M) && use_more_bits(c->i_attn_v, c->n_attn_v)) type = LK_Q6_K;
        else if (f == LK_FTYPE_Q4_K_S && c->i_attn_v < 4) type = LK_Q5_K;
        if (c->is_70b && type == LK_Q4_K) type = LK_Q5_K; /* 8 heads share V: more bits cost little */
        if (n_expert == 8) type = LK_Q8_0;
        c->i_attn_v++;
    } else if (role == ROLE_ATTN_K) {
        if (n_expert == 8) type = LK_Q8_0;
    } else if (role == ROLE_FFN_DOWN) {
        int rc = rule_layer(c, t, c->i_ffn_down, &layer, err);
        if (rc) return rc;
        if (f == LK_FTYPE_Q4_K_M) {
            if (c->falcon) type = layer < n_layer / 16 ? LK_Q6_K : use_more_bits(layer, n_layer) ? LK_Q5_K : LK_Q4_K;
            else if (use_more_bits(layer, n_layer)) type = LK_Q6_K;
        } else if (f == LK_FTYPE_Q5_K_M && use_more_bits(layer, n_layer)) {
            type = LK_Q6_K;
        } else if (f == LK_FTYPE_Q4_K_S && !c->falcon && layer < n_layer / 8) {
            type = LK_Q5_K;
        }
        c->i_ffn_down++;
    } else if (role == ROLE_ATTN_OUTPUT) {
        if (!c->falcon && n_expert == 8 && (f == LK_FTYPE_Q4_K_S || f == LK_FTYPE_Q4_K_M)) type = LK_Q5_K;
    } else if (role == ROLE_FFN_GATE || role == ROLE_FFN_UP) {
        int *counter = role == ROLE_FFN_GATE ? &c->i_ffn_gate : &c->i_ffn_up;
        int rc = rule_layer(c, t, *counter, &layer, err); /* no rule for our targets; names checked */
        if (rc) return rc;
        (*counter)++;
    }
    *out = type;
    return LK_OK;
}

/* A type whose blocks the rows do not fill falls back as llama.cpp's does: K-quants to the legacy
 * type of about the same size, then to F16; the legacy types have no fallback. */
static int shape_fallback(const gguf_tensor *t, uint32_t type, uint32_t *out, lk_error *err) {
    const int64_t ncols = t->ne[0];
    if (ncols % lk_qtype(type)->block_size == 0) {
        *out = type;
        return LK_OK;
    }
    uint32_t fb;
    switch (type) {
    case LK_Q4_K: fb = LK_Q5_0; break;
    case LK_Q5_K: fb = LK_Q5_1; break;
    case LK_Q6_K: fb = LK_Q8_0; break;
    default:
        return lk_errorf(err, LK_EUNSUPPORTED, "tensor '%s': rows of %" PRId64 " elements are not a multiple "
                         "of the %s block size %d", t->name, ncols, lk_qtype(type)->name,
                         lk_qtype(type)->block_size);
    }
    *out = ncols % lk_qtype(fb)->block_size ? LK_F16 : fb;
    return LK_OK;
}

static int choose_one(chooser *c, const gguf_tensor *t, uint32_t *out, lk_error *err) {
    *out = t->type;
    if (!converts(t)) return LK_OK;
    uint32_t type = target_of(c->ftype)->type;
    if (!is_quantized(type)) { /* F16, BF16, F32: no mix, no fallback */
        *out = type;
        return LK_OK;
    }
    int rc = mix_type(c, t, role_of(t->name), type, &type, err);
    if (!rc) rc = shape_fallback(t, type, out, err);
    return rc;
}

/* llama.cpp's tensor order: by layer number (tensors outside layers first), then by name. */
typedef struct order_key {
    int layer;
    const char *name;
    size_t index;
} order_key;

static int by_layer_then_name(const void *a, const void *b) {
    const order_key *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

static bool is_input_type(uint32_t type) {
    return type == LK_F32 || type == LK_F16 || type == LK_BF16;
}

int lk_quant_choose_types(const lk_quant_model *m, const gguf_tensor *tensors, size_t n, int ftype,
                          uint32_t *types, lk_error *err) {
    if (!target_of(ftype))
        return lk_errorf(err, LK_EINVAL, "unknown quantization target %d (targets: %s)", ftype, lk_ftype_names());
    for (size_t i = 0; i < n; i++)
        if (!is_input_type(tensors[i].type)) {
            const char *tn = lk_qtype(tensors[i].type)->name;
            return lk_errorf(err, LK_EUNSUPPORTED, "tensor '%s' is %s: only F32, F16 and BF16 models can be "
                             "quantized (requantizing loses quality; start from the original weights)",
                             tensors[i].name, tn ? tn : "of an unknown type");
        }
    chooser c = { .m = m, .ftype = ftype, .tied = true, .falcon = strcmp(m->arch, "falcon") == 0 };
    bool llama = strcmp(m->arch, "llama") == 0, qwen2 = strcmp(m->arch, "qwen2") == 0;
    c.is_70b = m->n_layer == 80 && ((llama && m->n_expert != 8 && m->n_head != m->n_head_kv) || qwen2);
    for (size_t i = 0; i < n; i++) {
        enum role r = role_of(tensors[i].name);
        if (role_is_attn_v(r)) c.n_attn_v++;
        if (r == ROLE_OUTPUT) c.tied = false;
    }
    order_key *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return lk_errorf(err, LK_ENOMEM, "out of memory for %zu tensors", n);
    for (size_t i = 0; i < n; i++) keys[i] = (order_key){ layer_of(tensors[i].name), tensors[i].name, i };
    qsort(keys, n, sizeof *keys, by_layer_then_name);
    int rc = LK_OK;
    for (size_t k = 0; k < n && !rc; k++) rc = choose_one(&c, &tensors[keys[k].index], &types[keys[k].index], err);
    free(keys);
    return rc;
}

/* ---- conversion --------------------------------------------------------------------------- */

/* A few rows of one tensor. */
typedef struct unit {
    size_t tensor;
    int64_t row0, nrows;
} unit;

/* One conversion job shared by the workers. */
typedef struct job {
    const gguf_file *f;
    const uint32_t *types;
    uint8_t **out;           /* per tensor: its output buffer, NULL when copied as is */
    const unit *units;
    size_t n_units;
    int64_t max_cols;
    atomic_size_t next;      /* the next unit to take */
    atomic_uint_fast64_t done; /* elements converted */
    atomic_bool stop;
    pthread_mutex_t lock;    /* guards the error below */
    size_t err_unit;         /* the earliest failing unit, n_units when none */
    lk_error err;
    const lk_quantize_params *p;
    uint64_t total;
} job;

/* Record unit u's error; the earliest unit's is kept, so the message does not depend on timing
 * (units are taken in order, so every earlier unit is run to its end). */
static void job_fail(job *j, size_t u, const lk_error *e) {
    pthread_mutex_lock(&j->lock);
    if (u < j->err_unit) {
        j->err_unit = u;
        j->err = *e;
    }
    pthread_mutex_unlock(&j->lock);
    atomic_store(&j->stop, true);
}

/* Convert the rows of unit u: widen each to floats, check them, quantize. */
static void run_unit(job *j, size_t u, float *buf) {
    const unit *un = &j->units[u];
    const gguf_tensor *t = &j->f->tensors[un->tensor];
    const uint32_t to = j->types[un->tensor];
    const int64_t ncols = t->ne[0];
    const size_t in_row = lk_row_size(t->type, ncols), out_row = lk_row_size(to, ncols);
    const uint8_t *src = (const uint8_t *)t->data + (size_t)un->row0 * in_row;
    uint8_t *dst = j->out[un->tensor] + (size_t)un->row0 * out_row;
    for (int64_t r = 0; r < un->nrows; r++, src += in_row, dst += out_row) {
        lk_dequantize_row(t->type, src, buf, ncols);
        for (int64_t c = 0; c < ncols; c++)
            if (!isfinite(buf[c])) {
                lk_error e;
                lk_errorf(&e, LK_EFORMAT, "tensor '%s': row %" PRId64 ", column %" PRId64 " is %g, not a finite "
                          "number", t->name, un->row0 + r, c, (double)buf[c]);
                job_fail(j, u, &e);
                return;
            }
        lk_quantize_row(to, buf, dst, ncols);
    }
    atomic_fetch_add(&j->done, (uint_fast64_t)(un->nrows * ncols));
}

/* Take units until none are left (or another worker failed). The caller's thread reports. */
static void work(job *j, float *buf, bool reports) {
    uint64_t shown = UINT64_MAX;
    while (!atomic_load(&j->stop)) {
        size_t u = atomic_fetch_add(&j->next, 1);
        if (u >= j->n_units) break;
        run_unit(j, u, buf);
        if (reports && j->p->progress) {
            uint64_t d = atomic_load(&j->done);
            if (d != shown) j->p->progress(j->p->progress_ud, d, j->total);
            shown = d;
        }
    }
}

typedef struct worker {
    job *j;
    float *buf;
    pthread_t th;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    work(w->j, w->buf, false);
    return NULL;
}

static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

/* Run the job on n_threads threads (the caller's included); returns the threads used. */
static int run_job(job *j, int n_threads, lk_error *err) {
    if ((size_t)n_threads > j->n_units) n_threads = j->n_units ? (int)j->n_units : 1;
    worker *ws = calloc((size_t)n_threads, sizeof *ws);
    if (!ws) {
        lk_errorf(err, LK_ENOMEM, "out of memory for %d threads", n_threads);
        return -1;
    }
    int started = 0, used = -1;
    for (int i = 0; i < n_threads; i++) {
        ws[i].j = j;
        ws[i].buf = malloc((size_t)(j->max_cols ? j->max_cols : 1) * sizeof(float));
        if (!ws[i].buf) {
            lk_errorf(err, LK_ENOMEM, "out of memory for a row of %" PRId64 " floats", j->max_cols);
            goto done;
        }
    }
    /* a thread that cannot be started leaves its share to the others */
    for (int i = 1; i < n_threads; i++)
        if (pthread_create(&ws[started + 1].th, NULL, worker_main, &ws[started + 1]) == 0) started++;
    work(j, ws[0].buf, true);
    for (int i = 1; i <= started; i++) pthread_join(ws[i].th, NULL);
    used = started + 1;
done:
    for (int i = 0; i < n_threads; i++) free(ws[i].buf);
    free(ws);
    return used;
}

/* Work units of about 64K elements (whole rows) over the tensors that change type. */
static int make_units(const gguf_file *f, const uint32_t *types, unit **out, size_t *n_out, uint64_t *total,
                      int64_t *max_cols, lk_error *err) {
    size_t n = 0, cap = 0;
    unit *us = NULL;
    *total = 0;
    *max_cols = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (types[i] == t->type) continue;
        int64_t ncols = t->ne[0], nrows = t->ne[1] * t->ne[2] * t->ne[3];
        if (ncols <= 0 || nrows <= 0) continue; /* an empty tensor: nothing to convert */
        int64_t step = ncols >= 65536 ? 1 : (65536 + ncols - 1) / ncols;
        *max_cols = LK_MAX(*max_cols, ncols);
        *total += (uint64_t)(ncols * nrows);
        for (int64_t r = 0; r < nrows; r += step) {
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                unit *g = realloc(us, cap * sizeof *us);
                if (!g) {
                    free(us);
                    return lk_errorf(err, LK_ENOMEM, "out of memory planning the conversion of '%s'", t->name);
                }
                us = g;
            }
            us[n++] = (unit){ i, r, LK_MIN(step, nrows - r) };
        }
    }
    *out = us;
    *n_out = n;
    return LK_OK;
}

/* The output buffers of the tensors that change type. */
static int alloc_outputs(const gguf_file *f, const uint32_t *types, uint8_t **out, lk_error *err) {
    for (size_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (types[i] == t->type) continue;
        size_t bytes = lk_row_size(types[i], t->ne[0]) * (size_t)(t->ne[1] * t->ne[2] * t->ne[3]);
        out[i] = malloc(bytes ? bytes : 1);
        if (!out[i])
            return lk_errorf(err, LK_ENOMEM, "out of memory for the %zu bytes of tensor '%s' as %s", bytes, t->name,
                             lk_qtype(types[i])->name);
    }
    return LK_OK;
}

/* The output file's metadata: the input's, without split keys, with the target recorded. */
static void copy_metadata(gguf_writer *w, const gguf_file *f, int ftype) {
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const char *k = f->kv[i].key;
        if (strcmp(k, "split.no") == 0 || strcmp(k, "split.count") == 0 || strcmp(k, "split.tensors.count") == 0)
            continue;
        gguf_set_kv_copy(w, &f->kv[i]);
    }
    gguf_set_u32(w, "general.quantization_version", 2);
    gguf_set_u32(w, "general.file_type", (uint32_t)ftype);
}

static void count_stats(const gguf_file *f, const uint32_t *types, lk_quantize_stats *s) {
    for (size_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        uint64_t nel = (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        uint64_t bytes = lk_row_size(types[i], t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
        s->n_tensors++;
        s->n_elements += nel;
        s->bytes_in += t->nbytes;
        s->bytes_out += bytes;
        s->n_of_type[types[i]]++;
        s->bytes_of_type[types[i]] += bytes;
    }
}

/* Convert every tensor whose type changes into out[i] (allocated here), on the threads p asks
 * for; *used is the number of threads that ran. Errors name the tensor. */
static int convert_tensors(const gguf_file *f, const uint32_t *types, uint8_t **out, const lk_quantize_params *p,
                           int *used, lk_error *err) {
    job j = { .f = f, .types = types, .out = out, .p = p };
    unit *units = NULL;
    int rc = make_units(f, types, &units, &j.n_units, &j.total, &j.max_cols, err);
    if (!rc) rc = alloc_outputs(f, types, out, err);
    if (rc) {
        free(units);
        return rc;
    }
    j.units = units;
    j.err_unit = j.n_units;
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.stop, false);
    pthread_mutex_init(&j.lock, NULL);
    *used = run_job(&j, p->n_threads > 0 ? p->n_threads : default_threads(), err);
    pthread_mutex_destroy(&j.lock);
    free(units);
    if (*used < 0) return err ? err->code : LK_ENOMEM;
    if (j.err_unit < j.n_units) {
        if (err) *err = j.err;
        return j.err.code;
    }
    if (p->progress) p->progress(p->progress_ud, j.total, j.total);
    return LK_OK;
}

/* Write the output: the input's metadata and tensors in its order, converted ones from out[]. */
static int write_output(const gguf_file *f, const uint32_t *types, uint8_t *const *out, int ftype,
                        const char *path, lk_error *err) {
    gguf_writer *w = gguf_writer_new(3);
    copy_metadata(w, f, ftype);
    int rc = LK_OK;
    for (size_t i = 0; i < f->n_tensors && !rc; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const void *data = out[i] ? (const void *)out[i] : t->data;
        rc = gguf_add_tensor(w, t->name, types[i], t->n_dims, t->ne, data, err);
    }
    if (!rc) rc = gguf_write(w, path, err);
    gguf_writer_free(w);
    return rc;
}

int lk_quantize_file(const char *in_path, const char *out_path, const lk_quantize_params *p,
                     lk_quantize_stats *stats, lk_error *err) {
    if (!target_of(p->ftype))
        return lk_errorf(err, LK_EINVAL, "unknown quantization target %d (targets: %s)", p->ftype, lk_ftype_names());
    gguf_file *f = gguf_open(in_path, err);
    if (!f) return err ? err->code : LK_EIO;
    size_t n = f->n_tensors ? f->n_tensors : 1;
    uint32_t *types = calloc(n, sizeof *types);
    uint8_t **out = calloc(n, sizeof *out);
    lk_quant_model m;
    int used = 0, rc;
    if (!types || !out)
        rc = lk_errorf(err, LK_ENOMEM, "%s: out of memory for %" PRIu64 " tensors", in_path, f->n_tensors);
    else if (!(rc = lk_quant_model_from_gguf(f, &m, err))) {
        rc = lk_quant_choose_types(&m, f->tensors, f->n_tensors, p->ftype, types, err);
        if (!rc) rc = convert_tensors(f, types, out, p, &used, err);
        if (rc) lk_error_prefix(err, "%s", in_path); /* these errors name the tensor, not the file */
    }
    if (!rc) rc = write_output(f, types, out, p->ftype, out_path, err);
    if (!rc && stats) {
        memset(stats, 0, sizeof *stats);
        count_stats(f, types, stats);
        stats->n_threads = used;
    }
    if (out)
        for (size_t i = 0; i < f->n_tensors; i++) free(out[i]);
    free(out);
    free(types);
    gguf_close(f);
    return rc;
}

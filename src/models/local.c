/* local.c — the lk_model backend for local GGUF models: the engine behind the common interface.
 *
 * A local model owns the loaded weights, a thread pool and a scheduler (engine/sched.c) that
 * owns the KV cache: each chat request renders its messages with the model's chat template and
 * becomes a job; concurrent calls from any number of threads are decoded together, one forward
 * pass per step for all of them (continuous batching). A prompt continues from the longest
 * prefix the scheduler has cached or is running, so a growing conversation or a shared system
 * prompt is not evaluated twice (reported as cached tokens). Embeddings are the mean of the
 * final-normed hidden states of the text's tokens, L2-normalised by model.c, until a dedicated
 * embedding architecture lands; their forward passes run between two scheduler steps, on a KV
 * cache of their own. */
#include "models/model_impl.h"
#include "engine/generate.h"
#include "engine/sched.h"
#include "engine/quant/quant.h"
#include "engine/tokenizer.h"
#include "base/pool.h"

#include <math.h>
#include <time.h>

typedef struct local_model {
    lk_llm *llm;
    lk_pool *pool;
    lk_sched *sched;
    int n_ctx;                    /* tokens per sequence */
    int tmpl;                     /* chat template id, -1 when the model has none */
    lk_error tmpl_err;            /* why there is none */
    uint64_t calls;               /* atomic: for response ids */
} local_model;

static void local_free(lk_model *m) {
    local_model *L = m->impl;
    if (!L) return;
    lk_sched_free(L->sched); /* before the model and the pool it runs on */
    lk_llm_free(L->llm);
    lk_pool_free(L->pool);
    free(L);
    m->impl = NULL;
}

static void local_stats(lk_model *m, lk_model_stats *out) {
    local_model *L = m->impl;
    if (!L || !L->sched) return;
    lk_sched_stats st;
    lk_sched_get_stats(L->sched, &st);
    out->steps = st.steps;
    out->tokens_prefilled = st.tokens_prefilled;
    out->tokens_decoded = st.tokens_decoded;
    out->prefix_lookups = st.prefix_lookups;
    out->prefix_hits = st.prefix_hits;
    out->tokens_reused = st.tokens_reused;
    out->running = st.running;
    out->waiting = st.waiting;
    out->kv_used = st.kv_used;
    out->kv_total = st.kv_total;
}

/* ---- chat ---- */

typedef struct local_call {
    lk_model *m;
    const lk_request *req;
    lk_response *out;
    lk_token_cb on_token;
    void *ud;
    const tokenizer *tok;
    int n_top;                    /* logprobs alternatives wanted */
} local_call;

static bool on_text(const char *text, size_t len, void *ud) {
    local_call *c = ud;
    if (c->req->cancel && __atomic_load_n(c->req->cancel, __ATOMIC_RELAXED)) return false;
    resp_first_token(c->m, c->out);
    return resp_text(c->out, text, len, c->on_token, c->ud);
}

static char *token_text(const tokenizer *t, int32_t id) {
    lk_buf b = {0};
    tok_decode(t, &id, 1, 0, &b);
    char *s = lk_xstrndup(b.data ? b.data : "", b.len);
    lk_buf_free(&b);
    return s;
}

/* Log-probabilities of the model's distribution (softmax of the raw logits, before sampling
 * settings), as the OpenAI API reports them. End-of-generation tokens are not reported. Runs on
 * the scheduler thread while the caller waits. */
static void on_sample(int32_t tok, const float *logits, int n_vocab, void *ud) {
    local_call *c = ud;
    if (tok_is_eog(c->tok, tok)) return;
    float max = -INFINITY;
    for (int i = 0; i < n_vocab; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max);
    float lse = max + (float)log(sum);
    lk_response *out = c->out;
    out->logprobs = lk_xrealloc(out->logprobs, (out->n_logprobs + 1) * sizeof *out->logprobs);
    lk_logprob *lp = &out->logprobs[out->n_logprobs++];
    lp->token = token_text(c->tok, tok);
    lp->logprob = logits[tok] - lse;
    lp->n_top = 0;
    lp->top = c->n_top ? lk_xcalloc((size_t)c->n_top, sizeof *lp->top) : NULL;
    int32_t best[21];
    int nb = 0;
    for (int i = 0; i < n_vocab; i++) { /* insertion into a short sorted list: n_top <= 20 */
        if (nb == c->n_top && (nb == 0 || logits[i] <= logits[best[nb - 1]])) continue;
        int j = nb < c->n_top ? nb++ : nb - 1;
        while (j > 0 && logits[best[j - 1]] < logits[i]) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = i;
    }
    for (int k = 0; k < nb; k++) lp->top[k] = (lk_top_logprob){ token_text(c->tok, best[k]), logits[best[k]] - lse };
    lp->n_top = (size_t)nb;
}

static int sampling_from_request(const lk_model *m, const lk_request *r, lk_sampler_params *p, lk_response *out,
                                 lk_error *err) {
    lk_sampler_params_default(p);
    if (req_set_f(r->temperature)) p->temp = r->temperature;
    if (req_set_f(r->top_p)) p->top_p = r->top_p;
    if (req_set_i(r->top_k)) p->top_k = r->top_k;
    if (req_set_f(r->min_p)) p->min_p = r->min_p;
    if (req_set_f(r->typical_p)) p->typical_p = r->typical_p;
    if (req_set_f(r->repeat_penalty)) p->repeat_penalty = r->repeat_penalty;
    if (req_set_f(r->frequency_penalty)) p->frequency_penalty = r->frequency_penalty;
    if (req_set_f(r->presence_penalty)) p->presence_penalty = r->presence_penalty;
    if (req_set_i(r->penalty_last_n)) p->penalty_last_n = r->penalty_last_n;
    if (req_set_i(r->mirostat)) p->mirostat = r->mirostat;
    if (req_set_f(r->mirostat_tau)) p->mirostat_tau = r->mirostat_tau;
    if (req_set_f(r->mirostat_eta)) p->mirostat_eta = r->mirostat_eta;
    if (r->has_seed) {
        p->seed = r->seed;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        p->seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec;
    }
    p->logit_bias = (const lk_logit_bias *)r->logit_bias; /* same layout: token, bias */
    p->n_logit_bias = r->n_logit_bias;
    int rc = lk_sampler_params_check(p, ((local_model *)m->impl)->llm->hp.n_vocab, err);
    if (rc) lk_error_prefix(err, "%s", m->spec);
    (void)out;
    return rc;
}

_Static_assert(sizeof(lk_bias) == sizeof(lk_logit_bias), "lk_bias and lk_logit_bias share a layout");

static int local_chat(lk_model *m, const lk_request *req, lk_token_cb on_token, void *ud, lk_response *out,
                      lk_error *err) {
    local_model *L = m->impl;
    int rc = 0;
    if (req->n_tools && (rc = resp_unsupported(m, req, out, err, "tools"))) return rc;
    if (req->tool_choice && (rc = resp_unsupported(m, req, out, err, "tool_choice"))) return rc;
    if (req->response_format && (rc = resp_unsupported(m, req, out, err, "response_format"))) return rc;
    for (size_t i = 0; i < req->n_messages; i++)
        if (req->messages[i].n_tool_calls && (rc = resp_unsupported(m, req, out, err, "messages[].tool_calls")))
            return rc;
    lk_gen_params gp = { .max_tokens = req->max_tokens > 0 ? req->max_tokens : 256,
                         .stops = req->stop, .n_stops = req->n_stop, .cancel = req->cancel };
    if ((rc = sampling_from_request(m, req, &gp.sampling, out, err))) return rc;

    int32_t *ids = NULL;
    int n_ids = 0;
    if (req->prompt) {
        rc = lk_prompt_tokens(L->llm, req->prompt, req->no_bos, req->parse_special, &ids, &n_ids, err);
    } else if (L->tmpl < 0) {
        rc = lk_errorf(err, LK_EUNSUPPORTED, "%s: cannot chat: %s (send a plain prompt instead)", m->spec,
                       L->tmpl_err.msg);
    } else {
        lk_chat_msg *msgs = lk_xmalloc(req->n_messages * sizeof *msgs);
        for (size_t i = 0; i < req->n_messages; i++)
            msgs[i] = (lk_chat_msg){ req->messages[i].role, req->messages[i].content ? req->messages[i].content : "" };
        rc = lk_chat_tokens(L->llm, L->tmpl, msgs, req->n_messages, true, &ids, &n_ids, err);
        free(msgs);
    }
    local_call c = { m, req, out, on_token, ud, L->llm->tok, req->logprobs > 0 ? req->logprobs - 1 : 0 };
    if (req->logprobs > 0) {
        gp.on_sample = on_sample;
        gp.sample_ud = &c;
    }
    lk_gen_stats st = {0};
    if (!rc) {
        /* no_cache: evaluate the whole prompt, reuse nothing and leave nothing behind */
        lk_sched_job job = { .prompt = ids, .n_prompt = n_ids, .gp = gp, .no_cache = req->no_cache,
                             .on_text = on_text, .ud = &c };
        rc = lk_sched_run(L->sched, &job, &st, err);
    }
    if (rc) lk_error_prefix(err, "%s", m->spec);
    char id[48];
    snprintf(id, sizeof id, "local-%llu", (unsigned long long)__atomic_add_fetch(&L->calls, 1, __ATOMIC_RELAXED));
    free(ids);

    out->usage.prompt_tokens = st.n_prompt;
    out->usage.cached_tokens = st.n_cached;
    out->usage.completion_tokens = st.n_gen;
    resp_set(&out->id, id);
    resp_set(&out->finish_reason, rc ? "error" : st.finish ? st.finish : "stop");
    return rc;
}

/* ---- embeddings ---- */

/* One text's forward passes, run on the scheduler thread between steps (lk_sched_exclusive) on a
 * KV cache of its own, so that the sequences being decoded are not disturbed. */
typedef struct embed_job {
    const lk_llm *llm;
    const int32_t *ids;
    int n_ids;
    float *hidden;                /* [n_ids, dim] */
    lk_error *err;
} embed_job;

static int embed_forward(void *ud) {
    embed_job *e = ud;
    lk_kv kv;
    int rc = lk_kv_init(&kv, e->llm, e->n_ids, e->err);
    if (rc) return rc;
    int dim = e->llm->hp.dim;
    bool *want = lk_xmalloc((size_t)e->n_ids * sizeof *want);
    int32_t *pos = lk_xmalloc((size_t)e->n_ids * sizeof *pos);
    for (int t = 0; t < e->n_ids; t++) {
        want[t] = true;
        pos[t] = t;
    }
    for (int t0 = 0; !rc && t0 < e->n_ids; t0 += 256) { /* chunks of 256, all positions kept */
        int len = LK_MIN(256, e->n_ids - t0);
        lk_batch b = { .n = len, .tokens = e->ids + t0, .pos = pos + t0, .logits = want + t0,
                       .hidden = e->hidden + (size_t)t0 * dim };
        rc = lk_llm_forward(e->llm, &kv, &b, NULL, e->err);
    }
    free(want);
    free(pos);
    lk_kv_free(&kv);
    return rc;
}

static int local_embed(lk_model *m, const char *const *texts, size_t n, lk_embeddings *out, lk_error *err) {
    local_model *L = m->impl;
    const lk_llm *llm = L->llm;
    int dim = llm->hp.dim, cap = L->n_ctx;
    out->dim = (size_t)dim;
    out->n = n;
    out->data = lk_xcalloc(n ? n : 1, (size_t)dim * sizeof(float));
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        int32_t *ids = NULL;
        int n_ids = 0;
        rc = lk_prompt_tokens(llm, texts[i], false, false, &ids, &n_ids, err);
        if (!rc && n_ids > cap)
            rc = lk_errorf(err, LK_ERANGE, "%s: text %zu has %d tokens, more than the context of %d", m->spec, i,
                           n_ids, cap);
        if (!rc && n_ids == 0) {
            free(ids);
            continue;
        }
        float *hidden = rc ? NULL : lk_xmalloc((size_t)n_ids * (size_t)dim * sizeof(float));
        if (!rc) {
            embed_job e = { llm, ids, n_ids, hidden, err };
            rc = lk_sched_exclusive(L->sched, embed_forward, &e);
            if (rc == LK_ECANCELLED) rc = lk_errorf(err, rc, "the model is being closed");
        }
        if (!rc) {
            float *v = out->data + i * (size_t)dim;
            for (int t = 0; t < n_ids; t++)
                for (int j = 0; j < dim; j++) v[j] += hidden[(size_t)t * dim + j];
            for (int j = 0; j < dim; j++) v[j] /= (float)n_ids;
            out->usage.prompt_tokens += n_ids;
        }
        free(hidden);
        free(ids);
    }
    if (rc) lk_error_prefix(err, "%s", m->spec);
    return rc;
}

static const model_ops local_ops = { .chat = local_chat, .embed = local_embed, .free = local_free,
                                     .stats = local_stats };

int local_open(lk_model *m, const char *path, const lk_model_opts *o, lk_error *err) {
    enum lk_load_mode mode = LK_LOAD_AUTO;
    if (o->load && strcmp(o->load, "auto") != 0) {
        if (strcmp(o->load, "mmap") == 0) mode = LK_LOAD_MMAP;
        else if (strcmp(o->load, "copy") == 0) mode = LK_LOAD_COPY;
        else return lk_errorf(err, LK_EINVAL, "load mode '%s': expected auto, mmap or copy", o->load);
    }
    int kv = o->kv_type ? lk_qtype_from_name(o->kv_type) : LK_F16;
    if (kv != LK_F16 && kv != LK_F32 && kv != LK_Q8_0)
        return lk_errorf(err, LK_EINVAL, "KV cache type '%s': expected f16, f32 or q8_0", o->kv_type);
    if (o->threads < 0 || o->threads > 1024)
        return lk_errorf(err, LK_EINVAL, "threads %d: expected 1 to 1024", o->threads);
    if (o->slots < 0 || o->slots > LK_MAX_SEQ)
        return lk_errorf(err, LK_EINVAL, "slots %d: expected 1 to %d", o->slots, LK_MAX_SEQ);
    if (o->queue < 0) return lk_errorf(err, LK_EINVAL, "queue %d: expected 0 or more", o->queue);
    if (o->n_ctx < 0) return lk_errorf(err, LK_EINVAL, "context %d: expected 0 or more tokens", o->n_ctx);
    local_model *L = lk_xcalloc(1, sizeof *L);
    m->impl = L;
    m->ops = &local_ops;
    int rc = lk_llm_load_ex(path, mode, &L->llm, err);
    if (!rc) rc = lk_llm_set_kv_type(L->llm, (uint32_t)kv, err);
    if (!rc) {
        L->pool = lk_pool_new(o->threads);
        if (!L->pool) rc = lk_errorf(err, LK_ENOMEM, "cannot start %d threads", o->threads);
    }
    if (!rc) {
        lk_llm_set_pool(L->llm, L->pool);
        int n_ctx = o->n_ctx > 0 ? LK_MIN(o->n_ctx, L->llm->hp.n_ctx_train) : LK_MIN(L->llm->hp.n_ctx_train, 4096);
        lk_sched_opts so = { .n_slots = o->slots, .n_ctx_seq = n_ctx, .n_queue = o->queue };
        rc = lk_sched_new(L->llm, &so, &L->sched, err);
        L->n_ctx = n_ctx;
    }
    if (!rc) L->tmpl = lk_llm_chat_template(L->llm, o->chat_template, &L->tmpl_err);
    if (!rc && L->tmpl < 0 && o->chat_template) rc = lk_errorf(err, L->tmpl_err.code, "%s", L->tmpl_err.msg);
    return rc;
}

/* generate.c — prompt evaluation with prefix reuse, the sampling loop and text streaming. */
#include "engine/generate.h"
#include "base/base.h"

int lk_session_init(lk_session *s, const lk_llm *m, int n_ctx, lk_error *err) {
    memset(s, 0, sizeof *s);
    if (n_ctx <= 0 || n_ctx > m->hp.n_ctx_train) n_ctx = m->hp.n_ctx_train;
    s->m = m;
    s->n_ctx = n_ctx;
    s->toks = malloc((size_t)n_ctx * sizeof *s->toks);
    if (!s->toks) return lk_errorf(err, LK_ENOMEM, "out of memory for a context of %d tokens", n_ctx);
    int rc = lk_kv_init(&s->kv, m, n_ctx, err);
    if (rc) {
        free(s->toks);
        s->toks = NULL;
    }
    return rc;
}

void lk_session_free(lk_session *s) {
    lk_kv_free(&s->kv);
    free(s->toks);
    memset(s, 0, sizeof *s);
}

/* Bring the cache to hold exactly prompt[0..n-1] except its last token, evaluated; return the
 * logits of the last prompt token in logits. Reuses the common prefix with what is cached. */
static bool cancelled_now(const volatile int *cancel) {
    return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED);
}

static int eval_prompt(lk_session *s, const int32_t *prompt, int n, int n_batch, float *logits,
                       const volatile int *cancel, lk_gen_stats *st, lk_error *err) {
    int keep = 0;
    while (keep < s->n_toks && keep < n - 1 && s->toks[keep] == prompt[keep]) keep++;
    lk_kv_seq_rm(&s->kv, 0, keep, -1);
    s->n_toks = keep;
    st->n_cached = keep;
    double t0 = lk_now();
    for (int i = keep; i < n; i += n_batch) {
        if (cancelled_now(cancel)) return LK_ECANCELLED;
        int len = LK_MIN(n_batch, n - i);
        int rc = lk_llm_eval(s->m, &s->kv, prompt + i, len, i, false, logits, err);
        if (rc) return rc;
        memcpy(s->toks + i, prompt + i, (size_t)len * sizeof *prompt);
        s->n_toks = i + len;
    }
    st->prompt_s = lk_now() - t0;
    return LK_OK;
}

int lk_session_generate(lk_session *s, const int32_t *prompt, int n_prompt, const lk_gen_params *gp,
                        lk_text_cb cb, void *ud, lk_gen_stats *st, lk_error *err) {
    memset(st, 0, sizeof *st);
    st->n_prompt = n_prompt;
    st->finish = "stop";
    if (n_prompt < 1) return lk_errorf(err, LK_EINVAL, "empty prompt: nothing to continue");
    if (n_prompt >= s->n_ctx)
        return lk_errorf(err, LK_ERANGE, "prompt of %d tokens does not fit the context of %d tokens",
                         n_prompt, s->n_ctx);
    const lk_llm *m = s->m;
    int n_vocab = m->hp.n_vocab;
    float *logits = malloc((size_t)n_vocab * sizeof(float));
    if (!logits) return lk_errorf(err, LK_ENOMEM, "out of memory for logits");
    sampler *smp = sampler_new(&gp->sampling, n_vocab, err);
    if (!smp) {
        free(logits);
        return err ? err->code : LK_EINVAL;
    }
    stop_matcher *stops = stop_matcher_new(gp->stops, gp->n_stops);
    tok_stream ts;
    tok_stream_init(&ts, 0);
    lk_buf piece = {0}, out = {0};
    double t_start = lk_now();
    int rc = eval_prompt(s, prompt, n_prompt, gp->n_batch > 0 ? gp->n_batch : 256, logits, gp->cancel, st, err);
    bool cancelled = rc == LK_ECANCELLED, hit = false;
    if (cancelled) rc = 0;
    for (int i = 0; i < n_prompt && !rc; i++) sampler_accept(smp, prompt[i]);
    double t_first = 0;
    while (!rc && !cancelled) {
        if (cancelled_now(gp->cancel)) {
            cancelled = true;
            break;
        }
        if (gp->max_tokens >= 0 && st->n_gen >= gp->max_tokens) {
            st->finish = "length";
            break;
        }
        int32_t tok = sampler_sample(smp, logits);
        if (tok < 0) {
            rc = lk_errorf(err, LK_EINVAL, "no token can be sampled (every logit is banned or NaN)");
            break;
        }
        if (st->n_gen == 0) {
            t_first = lk_now();
            st->ttft_s = t_first - t_start;
        }
        if (gp->on_sample) gp->on_sample(tok, logits, n_vocab, gp->sample_ud);
        if (tok_is_eog(m->tok, tok)) break;
        st->n_gen++;
        sampler_accept(smp, tok);
        lk_buf_clear(&piece);
        tok_stream_push(&ts, m->tok, tok, &piece);
        lk_buf_clear(&out);
        hit = stop_matcher_feed(stops, piece.data ? piece.data : "", piece.len, &out);
        if (out.len && cb && !cb(out.data, out.len, ud)) {
            cancelled = true;
            break;
        }
        if (hit) break;
        if (s->n_toks >= s->n_ctx) {
            st->finish = "length";
            break;
        }
        rc = lk_llm_eval(m, &s->kv, &tok, 1, s->n_toks, false, logits, err);
        if (!rc) s->toks[s->n_toks++] = tok;
    }
    if (!rc && !cancelled && !hit) {
        lk_buf_clear(&piece);
        tok_stream_flush(&ts, &piece);
        lk_buf_clear(&out);
        stop_matcher_feed(stops, piece.data ? piece.data : "", piece.len, &out);
        stop_matcher_flush(stops, &out);
        if (out.len && cb) cb(out.data, out.len, ud);
    }
    if (cancelled) st->finish = "cancelled";
    if (st->n_gen) st->gen_s = lk_now() - t_first;
    lk_buf_free(&piece);
    lk_buf_free(&out);
    stop_matcher_free(stops);
    sampler_free(smp);
    free(logits);
    return rc;
}

/* ---- prompts ---- */

int lk_prompt_tokens(const lk_llm *m, const char *text, bool no_bos, bool parse_special,
                     int32_t **ids, int *n, lk_error *err) {
    size_t cnt = 0;
    int rc = tok_encode(m->tok, text, strlen(text), false, parse_special, ids, &cnt, err);
    if (rc) return rc;
    int32_t bos = tok_bos(m->tok);
    if (!no_bos && tok_add_bos(m->tok) && bos >= 0 && (cnt == 0 || (*ids)[0] != bos)) {
        *ids = lk_xrealloc(*ids, (cnt + 1) * sizeof **ids);
        memmove(*ids + 1, *ids, cnt * sizeof **ids);
        (*ids)[0] = bos;
        cnt++;
    }
    *n = (int)cnt;
    return LK_OK;
}

int lk_llm_chat_template(const lk_llm *m, const char *override, lk_error *err) {
    int id;
    if (chat_template_resolve(override, m->chat_template, &id, err)) {
        if (!override) lk_error_prefix(err, "%s", m->name);
        return -1;
    }
    return id;
}

int lk_chat_tokens(const lk_llm *m, int tmpl, const lk_chat_msg *msgs, size_t n, bool add_generation_prompt,
                   int32_t **ids, int *n_ids, lk_error *err) {
    lk_buf text = {0};
    int32_t bos = tok_bos(m->tok), eos = tok_eos(m->tok);
    const char *bos_text = bos >= 0 ? tok_text(m->tok, bos, NULL) : "";
    const char *eos_text = eos >= 0 ? tok_text(m->tok, eos, NULL) : "";
    int rc = chat_render(tmpl, msgs, n, add_generation_prompt, bos_text, eos_text, &text, err);
    if (!rc) rc = lk_prompt_tokens(m, text.data ? text.data : "", false, true, ids, n_ids, err);
    lk_buf_free(&text);
    return rc;
}

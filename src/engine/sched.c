/* sched.c — continuous batching for one local model.
 *
 * Callers put jobs in a FIFO queue and sleep; one scheduler thread owns the model's KV cache and
 * runs steps. A step admits waiting jobs into free slots (each gets a sequence id, sharing the
 * cells of the longest cached or running prefix of its prompt), then builds one batch: the
 * pending token of every decoding sequence, then prompt chunks of the sequences still in
 * prefill (FIFO, at most prefill_chunk each, n_batch in all), runs lk_llm_forward once, and
 * samples the next token of every sequence whose logits came back. A job ends on an
 * end-of-generation token, a stop string, max_tokens, a full context, its cancel flag or its
 * callback; its caller is woken, and its sequence becomes a prefix-cache entry (or is freed).
 *
 * Sequences, by id (LK_MAX_SEQ of them): free, active (owned by a running job) or cached (an
 * ended job's tokens and cells, kept for prefix reuse). Cached entries are evicted
 * least-recently-used when a step needs cells, when the cells only they hold exceed the
 * cache budget, or when a job needs their id.
 *
 * Locking: s->mu guards the queue, the exclusive list, the done flags and the published stats.
 * The sequence table, the running list and the KV cache belong to the scheduler thread alone,
 * which runs forward passes and callbacks without holding the lock. */
#include "engine/sched.h"
#include "base/base.h"

#include <pthread.h>

enum { SEQ_FREE = 0, SEQ_ACTIVE = 1, SEQ_CACHED = 2 };

typedef struct seq_ent {
    int state;
    int32_t *toks;          /* tokens whose K/V the sequence holds, at positions 0..n-1 */
    int n;
    uint64_t last_use;      /* LRU clock of cached entries */
} seq_ent;

typedef struct sjob {
    /* copied at submission; read by the scheduler thread */
    int32_t *prompt;
    int n_prompt;
    lk_gen_params gp;
    bool no_cache;
    lk_text_cb on_text;
    void *ud;
    sampler *smp;
    stop_matcher *stops;
    tok_stream ts;
    double t_submit;
    struct sjob *next;      /* queue link */
    /* the scheduler thread's */
    int seq;                /* sequence id, -1 until admitted */
    bool decoding;          /* prompt evaluated; next_tok waits to be evaluated */
    int32_t next_tok;
    int chunk;              /* prompt tokens in this step's batch */
    int logit_row;          /* row of this step's logits, -1 when none */
    double t_prefill, t_first;
    /* the result */
    lk_gen_stats st;
    int rc;
    lk_error err;
    bool done;              /* under s->mu */
} sjob;

typedef struct excl {
    int (*fn)(void *ud);
    void *ud;
    int result;
    bool done;
    struct excl *next;
} excl;

struct lk_sched {
    lk_llm *m;
    lk_sched_opts o;
    int n_vocab;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* the scheduler waits here for jobs and exclusives */
    pthread_cond_t done_cv;  /* callers wait here for their job or exclusive */
    /* under mu */
    sjob *q_head, *q_tail;
    int n_waiting;
    excl *x_head, *x_tail;
    bool stop;
    int n_callers;           /* threads inside lk_sched_run / lk_sched_exclusive */
    lk_sched_stats pub;      /* what lk_sched_get_stats reads */
    /* the scheduler thread's */
    lk_kv kv;
    seq_ent seqs[LK_MAX_SEQ];
    sjob **run;              /* running jobs in admission order */
    int n_run;
    int32_t *b_tok, *b_pos, *b_seq;
    bool *b_logits;
    float *logits;           /* [n_slots, n_vocab] */
    lk_buf piece, out;
    uint64_t clock;
    lk_sched_stats st;       /* counters, published to pub after each step */
};

static bool cancel_set(const sjob *j) {
    return j->gp.cancel && __atomic_load_n(j->gp.cancel, __ATOMIC_RELAXED);
}

/* ---- the sequence table and the prefix cache ---- */

static uint64_t active_mask(const lk_sched *s) {
    uint64_t m = 0;
    for (int i = 0; i < LK_MAX_SEQ; i++)
        if (s->seqs[i].state == SEQ_ACTIVE) m |= 1ull << i;
    return m;
}

static void seq_drop(lk_sched *s, int id) {
    lk_kv_seq_rm(&s->kv, id, 0, -1);
    s->seqs[id].state = SEQ_FREE;
    s->seqs[id].n = 0;
}

/* The least recently used cached entry other than keep, or -1. */
static int lru_cached(const lk_sched *s, int keep) {
    int best = -1;
    for (int i = 0; i < LK_MAX_SEQ; i++)
        if (i != keep && s->seqs[i].state == SEQ_CACHED &&
            (best < 0 || s->seqs[i].last_use < s->seqs[best].last_use))
            best = i;
    return best;
}

/* Cells that no running sequence uses: what the prefix cache costs. */
static int cache_only_cells(const lk_sched *s) {
    uint64_t act = active_mask(s);
    int n = 0;
    for (int c = 0; c < s->kv.n_cells; c++)
        if (s->kv.seqs[c] && !(s->kv.seqs[c] & act)) n++;
    return n;
}

/* Evict cached entries until the cache holds at most cache_cells cells of its own. */
static void enforce_budget(lk_sched *s) {
    while (cache_only_cells(s) > s->o.cache_cells) {
        int v = lru_cached(s, -1);
        if (v < 0) break;
        seq_drop(s, v);
    }
}

/* Evict cached entries until need cells are free; whether they are. */
static bool ensure_free(lk_sched *s, int need) {
    while (s->kv.n_cells - s->kv.used < need) {
        int v = lru_cached(s, -1);
        if (v < 0) return false;
        seq_drop(s, v);
    }
    return true;
}

static int free_cells(const lk_sched *s) { return s->kv.n_cells - s->kv.used; }

/* A running sequence ended normally: keep it as a cache entry (dropping entries it makes
 * redundant: those whose tokens are a prefix of its own), or free it. */
static void seq_release(lk_sched *s, int id, bool keep) {
    seq_ent *e = &s->seqs[id];
    if (!keep || e->n == 0) {
        seq_drop(s, id);
        return;
    }
    e->state = SEQ_CACHED;
    e->last_use = ++s->clock;
    for (int i = 0; i < LK_MAX_SEQ; i++) {
        seq_ent *o = &s->seqs[i];
        if (i == id || o->state != SEQ_CACHED || o->n > e->n) continue;
        if (memcmp(o->toks, e->toks, (size_t)o->n * sizeof *o->toks) == 0) seq_drop(s, i);
    }
    enforce_budget(s);
}

/* ---- ending a job ---- */

static void run_remove(lk_sched *s, sjob *j) {
    for (int i = 0; i < s->n_run; i++) {
        if (s->run[i] != j) continue;
        memmove(s->run + i, s->run + i + 1, (size_t)(s->n_run - i - 1) * sizeof *s->run);
        s->n_run--;
        return;
    }
}

static void publish(lk_sched *s);

/* Wake j's caller; j must not be touched afterwards (it lives on the caller's stack). The stats
 * are published first, so that the caller sees its own job's effect on them. */
static void job_done(lk_sched *s, sjob *j) {
    pthread_mutex_lock(&s->mu);
    publish(s);
    j->done = true;
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
}

enum end_kind { END_STOP, END_HIT, END_LENGTH, END_CANCEL, END_ERROR };

/* End a running (or just admitted) job: flush its held-back text when it ended by itself, keep
 * or free its sequence, wake its caller. */
static void job_end(lk_sched *s, sjob *j, enum end_kind how) {
    if (how == END_STOP || how == END_LENGTH) {
        lk_buf_clear(&s->piece);
        tok_stream_flush(&j->ts, &s->piece);
        lk_buf_clear(&s->out);
        stop_matcher_feed(j->stops, s->piece.data ? s->piece.data : "", s->piece.len, &s->out);
        stop_matcher_flush(j->stops, &s->out);
        if (s->out.len && j->on_text) j->on_text(s->out.data, s->out.len, j->ud);
    }
    j->st.finish = how == END_LENGTH ? "length" : how == END_CANCEL ? "cancelled" : "stop";
    if (j->st.n_gen) j->st.gen_s = lk_now() - j->t_first;
    run_remove(s, j);
    if (j->seq >= 0) {
        bool keep = (how == END_STOP || how == END_HIT || how == END_LENGTH) && !j->no_cache && s->o.cache_cells >= 0;
        seq_release(s, j->seq, keep);
    }
    job_done(s, j);
}

static void job_fail(lk_sched *s, sjob *j, const lk_error *err) {
    j->rc = err->code ? err->code : LK_EINVAL;
    j->err = *err;
    job_end(s, j, END_ERROR);
}

/* ---- admission: a sequence id and the longest shared prefix ---- */

static int common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int n = 0, lim = LK_MIN(na, nb);
    while (n < lim && a[n] == b[n]) n++;
    return n;
}

static void admit(lk_sched *s, sjob *j) {
    j->t_prefill = lk_now();
    j->seq = -1;
    if (cancel_set(j)) {
        job_end(s, j, END_CANCEL);
        return;
    }
    /* the sequence (running or cached) sharing the longest prefix; the last prompt token is
     * always evaluated, for its logits */
    int src = -1, keep = 0;
    if (!j->no_cache && s->o.cache_cells >= 0) {
        s->st.prefix_lookups++;
        for (int i = 0; i < LK_MAX_SEQ; i++) {
            const seq_ent *e = &s->seqs[i];
            if (e->state == SEQ_FREE) continue;
            int l = LK_MIN(common_prefix(e->toks, e->n, j->prompt, j->n_prompt), j->n_prompt - 1);
            bool whole = e->state == SEQ_CACHED && l == e->n; /* could be taken over as it is */
            bool src_whole = src >= 0 && s->seqs[src].state == SEQ_CACHED && keep == s->seqs[src].n;
            if (l > keep || (l == keep && l > 0 && whole && !src_whole)) {
                src = i;
                keep = l;
            }
        }
        if (keep == 0) src = -1;
    }
    /* its sequence id: a cached entry that is all prefix is taken over; else a free id, or the
     * least recently used cached entry's */
    int id = -1;
    if (src >= 0 && s->seqs[src].state == SEQ_CACHED && s->seqs[src].n == keep) id = src;
    for (int i = 0; id < 0 && i < LK_MAX_SEQ; i++)
        if (s->seqs[i].state == SEQ_FREE) id = i;
    if (id < 0) {
        int v = lru_cached(s, src);
        if (v >= 0) {
            seq_drop(s, v);
            id = v;
        } else {
            id = src; /* only the source is left: take it over, dropping its tail */
        }
    }
    seq_ent *e = &s->seqs[id];
    if (id == src) {
        lk_kv_seq_rm(&s->kv, id, keep, -1);
    } else {
        if (e->state != SEQ_FREE) seq_drop(s, id);
        if (src >= 0) {
            lk_kv_seq_cp(&s->kv, src, id, 0, keep);
            if (s->seqs[src].state == SEQ_CACHED) s->seqs[src].last_use = ++s->clock;
        }
    }
    memcpy(e->toks, j->prompt, (size_t)keep * sizeof *e->toks);
    e->n = keep;
    e->state = SEQ_ACTIVE;
    if (keep) {
        s->st.prefix_hits++;
        s->st.tokens_reused += (uint64_t)keep;
    }
    j->seq = id;
    j->st.n_cached = keep;
    for (int i = 0; i < j->n_prompt; i++) sampler_accept(j->smp, j->prompt[i]);
    s->run[s->n_run++] = j;
}

/* ---- sampling one sequence's next token ---- */

static void sample_next(lk_sched *s, sjob *j, const float *logits) {
    if (cancel_set(j)) {
        job_end(s, j, END_CANCEL);
        return;
    }
    if (j->gp.max_tokens >= 0 && j->st.n_gen >= j->gp.max_tokens) {
        job_end(s, j, END_LENGTH);
        return;
    }
    int32_t tok = sampler_sample(j->smp, logits);
    if (tok < 0) {
        lk_error err = {0};
        lk_errorf(&err, LK_EINVAL, "no token can be sampled (every logit is banned or NaN)");
        job_fail(s, j, &err);
        return;
    }
    if (j->st.n_gen == 0) {
        j->t_first = lk_now();
        j->st.ttft_s = j->t_first - j->t_submit;
    }
    const tokenizer *tk = s->m->tok;
    if (j->gp.on_sample) j->gp.on_sample(tok, logits, s->n_vocab, j->gp.sample_ud);
    if (tok_is_eog(tk, tok)) {
        job_end(s, j, END_STOP);
        return;
    }
    j->st.n_gen++;
    s->st.tokens_decoded++;
    sampler_accept(j->smp, tok);
    lk_buf_clear(&s->piece);
    tok_stream_push(&j->ts, tk, tok, &s->piece);
    lk_buf_clear(&s->out);
    bool hit = stop_matcher_feed(j->stops, s->piece.data ? s->piece.data : "", s->piece.len, &s->out);
    if (s->out.len && j->on_text && !j->on_text(s->out.data, s->out.len, j->ud)) {
        job_end(s, j, END_CANCEL);
        return;
    }
    if (hit) {
        job_end(s, j, END_HIT);
        return;
    }
    /* the last token allowed is not evaluated: no logits are wanted after it */
    if ((j->gp.max_tokens >= 0 && j->st.n_gen >= j->gp.max_tokens) || s->seqs[j->seq].n >= s->o.n_ctx_seq) {
        job_end(s, j, END_LENGTH);
        return;
    }
    j->next_tok = tok;
}

/* ---- one step ---- */

static void step(lk_sched *s) {
    /* cancelled jobs end now, freeing their cells before the batch takes new ones */
    for (int i = 0; i < s->n_run;) {
        sjob *j = s->run[i];
        if (cancel_set(j)) job_end(s, j, END_CANCEL);
        else i++;
    }
    int n = 0, n_out = 0;
    /* the pending token of every decoding sequence */
    for (int i = 0; i < s->n_run;) {
        sjob *j = s->run[i];
        j->chunk = 0;
        j->logit_row = -1;
        if (!j->decoding) {
            i++;
            continue;
        }
        if (!ensure_free(s, n + 1)) { /* every cell belongs to running sequences */
            job_end(s, j, END_LENGTH);
            continue;
        }
        seq_ent *e = &s->seqs[j->seq];
        s->b_tok[n] = j->next_tok;
        s->b_pos[n] = e->n;
        s->b_seq[n] = j->seq;
        s->b_logits[n] = true;
        j->logit_row = n_out++;
        n++;
        i++;
    }
    /* prompt chunks, first come first served */
    for (int i = 0; i < s->n_run && n < s->o.n_batch; i++) {
        sjob *j = s->run[i];
        if (j->decoding) continue;
        seq_ent *e = &s->seqs[j->seq];
        int len = LK_MIN(LK_MIN(s->o.prefill_chunk, j->n_prompt - e->n), s->o.n_batch - n);
        if (!ensure_free(s, n + len)) len = LK_MIN(len, free_cells(s) - n);
        if (len <= 0) continue;
        for (int t = 0; t < len; t++) {
            s->b_tok[n + t] = j->prompt[e->n + t];
            s->b_pos[n + t] = e->n + t;
            s->b_seq[n + t] = j->seq;
            s->b_logits[n + t] = false;
        }
        if (e->n + len == j->n_prompt) {
            s->b_logits[n + len - 1] = true;
            j->logit_row = n_out++;
        }
        j->chunk = len;
        n += len;
    }
    if (n == 0) {
        /* running sequences hold every cell and none can move: fail the youngest */
        if (s->n_run > 0) {
            sjob *j = s->run[s->n_run - 1];
            lk_error err = {0};
            lk_errorf(&err, LK_ERANGE, "KV cache full: %d cells are all taken by %d running sequences "
                      "(raise the cell count or lower the slots)", s->kv.n_cells, s->n_run);
            job_fail(s, j, &err);
        }
        return;
    }
    lk_batch b = { .n = n, .tokens = s->b_tok, .pos = s->b_pos, .seq = s->b_seq, .logits = s->b_logits };
    lk_error err = {0};
    int rc = lk_llm_forward(s->m, &s->kv, &b, s->logits, &err);
    s->st.steps++;
    if (rc) { /* the whole batch failed: so do its jobs */
        for (int i = 0; i < s->n_run;) {
            sjob *j = s->run[i];
            if (j->decoding || j->chunk) job_fail(s, j, &err);
            else i++;
        }
        return;
    }
    /* record what was evaluated, then sample; jobs may end (and leave the list) as we go */
    sjob **batch_jobs = lk_xmalloc((size_t)(s->n_run ? s->n_run : 1) * sizeof *batch_jobs);
    int nb = 0;
    for (int i = 0; i < s->n_run; i++) {
        sjob *j = s->run[i];
        seq_ent *e = &s->seqs[j->seq];
        if (j->decoding) {
            e->toks[e->n++] = j->next_tok;
        } else if (j->chunk) {
            memcpy(e->toks + e->n, j->prompt + e->n, (size_t)j->chunk * sizeof *e->toks);
            e->n += j->chunk;
            s->st.tokens_prefilled += (uint64_t)j->chunk;
            if (e->n == j->n_prompt) {
                j->decoding = true;
                j->st.prompt_s = lk_now() - j->t_prefill;
            }
        }
        if (j->logit_row >= 0) batch_jobs[nb++] = j;
    }
    for (int i = 0; i < nb; i++)
        sample_next(s, batch_jobs[i], s->logits + (size_t)batch_jobs[i]->logit_row * s->n_vocab);
    free(batch_jobs);
}

/* ---- the scheduler thread ---- */

static void publish(lk_sched *s) { /* under mu */
    s->pub = s->st;
    s->pub.running = s->n_run;
    s->pub.waiting = s->n_waiting;
    s->pub.kv_used = s->kv.used;
    s->pub.kv_total = s->kv.n_cells;
}

/* Under mu: waiting jobs whose cancel flag is set end without a slot. */
static void drop_cancelled_waiting(lk_sched *s) {
    sjob **pp = &s->q_head, *last = NULL;
    while (*pp) {
        sjob *j = *pp;
        if (cancel_set(j)) {
            *pp = j->next;
            s->n_waiting--;
            j->st.finish = "cancelled";
            j->done = true;
            pthread_cond_broadcast(&s->done_cv);
        } else {
            last = j;
            pp = &j->next;
        }
    }
    s->q_tail = last;
}

static void *sched_main(void *arg) {
    lk_sched *s = arg;
    sjob **adm = lk_xmalloc((size_t)s->o.n_slots * sizeof *adm);
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        if (s->x_head) { /* exclusive use of the model, between steps */
            excl *x = s->x_head;
            s->x_head = x->next;
            if (!s->x_head) s->x_tail = NULL;
            pthread_mutex_unlock(&s->mu);
            int r = x->fn(x->ud);
            pthread_mutex_lock(&s->mu);
            x->result = r;
            x->done = true;
            pthread_cond_broadcast(&s->done_cv);
            continue;
        }
        drop_cancelled_waiting(s);
        int n_adm = 0;
        while (s->q_head && s->n_run + n_adm < s->o.n_slots) {
            sjob *j = s->q_head;
            s->q_head = j->next;
            if (!s->q_head) s->q_tail = NULL;
            s->n_waiting--;
            adm[n_adm++] = j;
        }
        if (s->n_run == 0 && n_adm == 0) {
            publish(s);
            pthread_cond_wait(&s->work_cv, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < n_adm; i++) admit(s, adm[i]);
        if (s->n_run) step(s);
        pthread_mutex_lock(&s->mu);
        publish(s);
    }
    /* stopping: running jobs end "cancelled", waiting jobs and exclusives never run */
    while (s->q_head) {
        sjob *j = s->q_head;
        s->q_head = j->next;
        j->st.finish = "cancelled";
        j->done = true;
    }
    s->q_tail = NULL;
    s->n_waiting = 0;
    for (excl *x = s->x_head; x; x = x->next) {
        x->result = LK_ECANCELLED;
        x->done = true;
    }
    s->x_head = s->x_tail = NULL;
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    while (s->n_run) job_end(s, s->run[0], END_CANCEL);
    pthread_mutex_lock(&s->mu);
    publish(s);
    pthread_mutex_unlock(&s->mu);
    free(adm);
    return NULL;
}

/* ---- the public functions ---- */

int lk_sched_new(lk_llm *m, const lk_sched_opts *o, lk_sched **out, lk_error *err) {
    *out = NULL;
    lk_sched_opts d = o ? *o : (lk_sched_opts){0};
    if (d.n_slots < 0 || d.n_slots > LK_MAX_SEQ)
        return lk_errorf(err, LK_EINVAL, "slots %d: expected 1 to %d (0: 8)", d.n_slots, LK_MAX_SEQ);
    if (d.n_ctx_seq < 0 || d.n_cells < 0 || d.n_batch < 0 || d.prefill_chunk < 0 || d.n_queue < 0 ||
        d.cache_cells < -1)
        return lk_errorf(err, LK_EINVAL, "scheduler options: negative size (context %d, cells %d, batch %d, "
                         "prefill chunk %d, queue %d, cache cells %d)", d.n_ctx_seq, d.n_cells, d.n_batch,
                         d.prefill_chunk, d.n_queue, d.cache_cells);
    if (!d.n_slots) d.n_slots = 8;
    if (!d.n_ctx_seq || d.n_ctx_seq > m->hp.n_ctx_train) d.n_ctx_seq = LK_MIN(m->hp.n_ctx_train, 4096);
    int64_t max_cells = (int64_t)d.n_slots * m->hp.n_ctx_train;
    if (!d.n_cells) d.n_cells = d.n_slots * d.n_ctx_seq;
    if (d.n_cells > max_cells) d.n_cells = (int)LK_MIN(max_cells, INT32_MAX);
    if (d.n_ctx_seq > d.n_cells) d.n_ctx_seq = d.n_cells;
    if (!d.n_batch) d.n_batch = 512;
    if (d.n_batch < d.n_slots) d.n_batch = d.n_slots; /* every decoding sequence fits one step */
    if (!d.prefill_chunk) d.prefill_chunk = 256;
    if (!d.n_queue) d.n_queue = 64;
    if (!d.cache_cells) d.cache_cells = d.n_cells / 2;

    lk_sched *s = lk_xcalloc(1, sizeof *s);
    s->m = m;
    s->o = d;
    s->n_vocab = m->hp.n_vocab;
    int rc = lk_kv_init(&s->kv, m, d.n_cells, err);
    if (rc) {
        free(s);
        return rc;
    }
    for (int i = 0; i < LK_MAX_SEQ; i++) s->seqs[i].toks = lk_xmalloc((size_t)d.n_ctx_seq * sizeof(int32_t));
    s->run = lk_xmalloc((size_t)d.n_slots * sizeof *s->run);
    s->b_tok = lk_xmalloc((size_t)d.n_batch * sizeof *s->b_tok);
    s->b_pos = lk_xmalloc((size_t)d.n_batch * sizeof *s->b_pos);
    s->b_seq = lk_xmalloc((size_t)d.n_batch * sizeof *s->b_seq);
    s->b_logits = lk_xmalloc((size_t)d.n_batch * sizeof *s->b_logits);
    s->logits = malloc((size_t)d.n_slots * (size_t)s->n_vocab * sizeof(float));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    publish(s);
    if (!s->logits) {
        lk_sched_free(s);
        return lk_errorf(err, LK_ENOMEM, "out of memory for the logits of %d slots", d.n_slots);
    }
    if (pthread_create(&s->thread, NULL, sched_main, s)) {
        lk_sched_free(s);
        return lk_errorf(err, LK_ENOMEM, "cannot start the scheduler thread");
    }
    s->started = true;
    *out = s;
    return LK_OK;
}

int lk_sched_run(lk_sched *s, const lk_sched_job *job, lk_gen_stats *st, lk_error *err) {
    memset(st, 0, sizeof *st);
    st->n_prompt = job->n_prompt;
    st->finish = "stop";
    if (job->n_prompt < 1) return lk_errorf(err, LK_EINVAL, "empty prompt: nothing to continue");
    if (job->n_prompt >= s->o.n_ctx_seq)
        return lk_errorf(err, LK_ERANGE, "prompt of %d tokens does not fit a sequence's context of %d tokens",
                         job->n_prompt, s->o.n_ctx_seq);
    for (int i = 0; i < job->n_prompt; i++)
        if (job->prompt[i] < 0 || job->prompt[i] >= s->n_vocab)
            return lk_errorf(err, LK_EINVAL, "prompt token %d at index %d is outside the vocabulary (%d)",
                             job->prompt[i], i, s->n_vocab);
    sjob j = { .n_prompt = job->n_prompt, .gp = job->gp, .no_cache = job->no_cache, .on_text = job->on_text,
               .ud = job->ud, .seq = -1, .logit_row = -1, .t_submit = lk_now() };
    j.smp = sampler_new(&job->gp.sampling, s->n_vocab, err);
    if (!j.smp) return err && err->code ? err->code : LK_EINVAL;
    j.gp.stops = NULL; /* copied into the matcher */
    j.gp.n_stops = 0;
    j.gp.sampling.logit_bias = NULL; /* copied into the sampler */
    j.gp.sampling.n_logit_bias = 0;
    j.stops = stop_matcher_new(job->gp.stops, job->gp.n_stops);
    tok_stream_init(&j.ts, 0);
    j.prompt = lk_xmalloc((size_t)job->n_prompt * sizeof *j.prompt);
    memcpy(j.prompt, job->prompt, (size_t)job->n_prompt * sizeof *j.prompt);
    j.st.n_prompt = job->n_prompt;

    int rc = LK_OK;
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        rc = lk_errorf(err, LK_ECANCELLED, "the scheduler is shutting down");
    } else if (s->n_waiting >= s->o.n_queue) {
        rc = lk_errorf(err, LK_ERANGE, "queue full (%d waiting)", s->n_waiting);
    } else {
        if (s->q_tail) s->q_tail->next = &j;
        else s->q_head = &j;
        s->q_tail = &j;
        s->n_waiting++;
        s->n_callers++;
        s->pub.waiting = s->n_waiting;
        pthread_cond_signal(&s->work_cv);
        while (!j.done) pthread_cond_wait(&s->done_cv, &s->mu);
        if (--s->n_callers == 0 && s->stop) pthread_cond_broadcast(&s->done_cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (!rc) {
        *st = j.st;
        rc = j.rc;
        if (rc && err) *err = j.err;
    }
    sampler_free(j.smp);
    stop_matcher_free(j.stops);
    free(j.prompt);
    return rc;
}

int lk_sched_exclusive(lk_sched *s, int (*fn)(void *ud), void *ud) {
    if (s->started && pthread_equal(pthread_self(), s->thread)) return fn(ud); /* from a callback */
    excl x = { .fn = fn, .ud = ud };
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return LK_ECANCELLED;
    }
    if (s->x_tail) s->x_tail->next = &x;
    else s->x_head = &x;
    s->x_tail = &x;
    s->n_callers++;
    pthread_cond_signal(&s->work_cv);
    while (!x.done) pthread_cond_wait(&s->done_cv, &s->mu);
    if (--s->n_callers == 0 && s->stop) pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    return x.result;
}

void lk_sched_get_stats(lk_sched *s, lk_sched_stats *out) {
    pthread_mutex_lock(&s->mu);
    *out = s->pub;
    pthread_mutex_unlock(&s->mu);
}

void lk_sched_free(lk_sched *s) {
    if (!s) return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->work_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_mutex_lock(&s->mu); /* callers still waking up must leave the mutex first */
        while (s->n_callers > 0) pthread_cond_wait(&s->done_cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    lk_kv_free(&s->kv);
    for (int i = 0; i < LK_MAX_SEQ; i++) free(s->seqs[i].toks);
    free(s->run);
    free(s->b_tok);
    free(s->b_pos);
    free(s->b_seq);
    free(s->b_logits);
    free(s->logits);
    lk_buf_free(&s->piece);
    lk_buf_free(&s->out);
    free(s);
}

/* sched.h — continuous batching for one local model.
 *
 * A scheduler owns a thread, the model's KV cache and a set of slots (sequences). Callers hand it
 * jobs (a prompt's tokens, sampling settings, a text callback) and block until their job ends;
 * meanwhile the scheduler thread runs steps: each step one forward pass holding the next token of
 * every running sequence and, while the batch has room, a chunk of a waiting prompt (prefill), so
 * that new requests join between steps and long prompts do not stall running streams. Every
 * sequence has its own sampler, stop strings and limits; a job whose cancel flag is set, or whose
 * callback returns false, ends at the next step and frees its cells at once.
 *
 * Prefix caching: the KV cells of a prompt prefix already computed — by a running sequence, or
 * kept after a sequence ended — are shared with a new sequence instead of evaluated again (cells
 * carry a set of sequences). Ended sequences stay in the cache, evicted least-recently-used when
 * cells are needed or the cache exceeds its budget. What was reused is reported in the job's
 * lk_gen_stats.n_cached. */
#ifndef LK_SCHED_H
#define LK_SCHED_H

#include "engine/generate.h"

typedef struct lk_sched lk_sched;

typedef struct lk_sched_opts {
    int n_slots;          /* sequences decoded at once (0: 8, at most LK_MAX_SEQ); cached entries
                             use the sequence ids the slots leave (LK_MAX_SEQ in all) */
    int n_ctx_seq;        /* tokens one sequence may hold (0: the model's context, at most 4096) */
    int n_cells;          /* KV cells in all, shared by the slots and the prefix cache
                             (0: n_slots * n_ctx_seq, at most what the model's context allows x slots) */
    int n_batch;          /* tokens per forward pass at most (0: 512; at least n_slots) */
    int prefill_chunk;    /* prompt tokens of one sequence per step at most (0: 256) */
    int n_queue;          /* jobs that may wait for a slot; one more fails with LK_ERANGE (0: 64) */
    int cache_cells;      /* cells that ended sequences may keep for prefix reuse (0: n_cells / 2;
                             -1: no prefix cache) */
} lk_sched_opts;

/* A job. Everything is copied at submission (prompt, stop strings, logit bias). */
typedef struct lk_sched_job {
    const int32_t *prompt;
    int n_prompt;
    lk_gen_params gp;     /* sampling, max_tokens (< 0: until the sequence's context is full),
                             stops, on_sample (called on the scheduler thread), cancel (also
                             honoured while the job waits in the queue); gp.n_batch is not used
                             (the scheduler's prefill_chunk is) */
    bool no_cache;        /* neither reuse a cached prefix nor keep this one */
    lk_text_cb on_text;   /* UTF-8-complete text as it is generated, on the scheduler thread;
                             return false to cancel */
    void *ud;
} lk_sched_job;

/* Start a scheduler for model m (which must have its thread pool attached; the scheduler's
 * thread is then the only one that runs forward passes on it). */
int lk_sched_new(lk_llm *m, const lk_sched_opts *o, lk_sched **out, lk_error *err);

/* Run job to its end, batched with every other job, and fill *st (finish "stop", "length" or
 * "cancelled"). Blocks the calling thread; any number of threads may call it at once. Fails with
 * LK_ERANGE when the queue is full ("queue full (N waiting)") or the prompt does not fit a
 * sequence (n_prompt >= n_ctx_seq), LK_EINVAL for an empty prompt, a token outside the
 * vocabulary or bad sampling settings. When the cells run out (only possible with n_cells below
 * n_slots * n_ctx_seq) and no cached entry is left to evict, a decoding job ends "length" and a
 * job stuck in prefill fails with LK_ERANGE. */
int lk_sched_run(lk_sched *s, const lk_sched_job *job, lk_gen_stats *st, lk_error *err);

/* Run fn(ud) on the scheduler thread between two steps, with exclusive use of the model (for
 * embeddings, which need forward passes of their own, on a KV cache of their own). Blocks until
 * it has run; returns its result (LK_ECANCELLED when the scheduler is being freed). Called from a
 * job's callback (on the scheduler thread), it runs fn at once. */
int lk_sched_exclusive(lk_sched *s, int (*fn)(void *ud), void *ud);

typedef struct lk_sched_stats {
    uint64_t steps;             /* forward passes */
    uint64_t tokens_prefilled;  /* prompt tokens evaluated */
    uint64_t tokens_decoded;    /* tokens generated (end-of-generation tokens not counted) */
    uint64_t prefix_lookups;    /* jobs that looked for a shared prefix (not no_cache) */
    uint64_t prefix_hits;       /* ... and found one */
    uint64_t tokens_reused;     /* prompt tokens shared instead of evaluated */
    int running, waiting;       /* jobs in slots / in the queue */
    int kv_used, kv_total;      /* cells in use (running sequences and the prefix cache) / in all */
} lk_sched_stats;

/* A snapshot, as of the last step or job end (a caller whose job has returned sees its effect). */
void lk_sched_get_stats(lk_sched *s, lk_sched_stats *out);

/* Stop the thread (jobs still running end "cancelled") and free everything. */
void lk_sched_free(lk_sched *s);

#endif

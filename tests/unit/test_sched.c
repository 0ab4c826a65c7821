/* test_sched.c — continuous batching: a job through the scheduler gives what a session gives,
 * jobs batched together give what each gives alone in far fewer forward passes, prefixes are
 * shared through the KV cells' sequence sets, and admission, cancellation, eviction and
 * exclusive use behave as sched.h says. Models are small random ones made on the spot.
 *
 * Jobs are made to run together deterministically with lk_sched_exclusive: a gate function
 * holds the scheduler thread until the jobs are queued, so the next step admits them all. */
#include "testutil.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/sched.h"
#include "base/pool.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

/* A small random model: q8_0 weights (slot 1, the default) or f16 (slot 2), made once. */
static const char *model_path(const char *type) {
    static char vocab[512], paths[3][512];
    int slot = strcmp(type, "f16") == 0 ? 2 : 1;
    if (!vocab[0]) {
        snprintf(vocab, sizeof vocab, "%s", tu_path(0, "vocab512.gguf"));
        tu_write_small_vocab(vocab, 512 - 259);
    }
    if (!paths[slot][0]) {
        char name[32];
        snprintf(name, sizeof name, "sched-%s.gguf", type);
        snprintf(paths[slot], sizeof paths[slot], "%s", tu_path(slot, name));
        tu_random_model(paths[slot], "llama", type, vocab, 2, 64, 4, 2, 128, false, false);
    }
    return paths[slot];
}

static lk_llm *load_type(const char *type) {
    lk_llm *m = NULL;
    lk_error err = {0};
    if (lk_llm_load(model_path(type), &m, &err)) fail_msg("load: %s", err.msg);
    return m;
}

static lk_llm *load(void) { return load_type("q8_0"); }

static lk_sched *sched_new(lk_llm *m, lk_sched_opts o) {
    lk_sched *s = NULL;
    lk_error err = {0};
    if (lk_sched_new(m, &o, &s, &err)) fail_msg("sched: %s", err.msg);
    return s;
}

static const lk_logit_bias no_eos[1] = { { 2, -INFINITY } }; /* </s>: jobs run to max_tokens */

static lk_gen_params greedy(int max_tokens) {
    lk_gen_params gp = { .max_tokens = max_tokens };
    lk_sampler_params_default(&gp.sampling);
    gp.sampling.temp = 0;
    gp.sampling.logit_bias = no_eos;
    gp.sampling.n_logit_bias = 1;
    return gp;
}

static lk_gen_params sampled(int max_tokens, uint64_t seed) {
    lk_gen_params gp = greedy(max_tokens);
    gp.sampling.temp = 1.0f;
    gp.sampling.seed = seed;
    return gp;
}

/* A prompt of n tokens: first, then a seeded pseudo-random walk over the vocabulary's pieces. */
static void make_prompt(int32_t *p, int n, int32_t first, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    p[0] = first;
    for (int i = 1; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = 3 + (int32_t)(x % 500);
    }
}

/* What a job produced. */
typedef struct result {
    lk_buf text;
    int32_t toks[600];
    int n_toks;
    int text_calls;
    int cancel_after;             /* > 0: return false at this text call */
    volatile int *flag_after_ptr; /* set *ptr at text call flag_after */
    int flag_after;
    int sleep_us;                 /* > 0: sleep this long in each text call (a slow client) */
    pthread_t thread;             /* the thread on_text ran on */
    lk_gen_stats st;
    int rc;
    lk_error err;
} result;

static void on_sample(int32_t tok, const float *logits, int n_vocab, void *ud) {
    (void)logits;
    (void)n_vocab;
    result *r = ud;
    if (r->n_toks < 600) r->toks[r->n_toks++] = tok;
}

static bool on_text(const char *s, size_t n, void *ud) {
    result *r = ud;
    lk_buf_append(&r->text, s, n);
    r->thread = pthread_self();
    r->text_calls++;
    if (r->sleep_us) usleep((useconds_t)r->sleep_us);
    if (r->flag_after_ptr && r->text_calls == r->flag_after) __atomic_store_n(r->flag_after_ptr, 1, __ATOMIC_RELAXED);
    return !(r->cancel_after > 0 && r->text_calls >= r->cancel_after);
}

static const char *text_of(const result *r) { return r->text.data ? r->text.data : ""; }

static void result_free(result *r) { lk_buf_free(&r->text); }

static int run_job(lk_sched *s, const int32_t *prompt, int n, lk_gen_params gp, bool no_cache, result *r) {
    gp.on_sample = on_sample;
    gp.sample_ud = r;
    lk_sched_job job = { .prompt = prompt, .n_prompt = n, .gp = gp, .no_cache = no_cache, .on_text = on_text, .ud = r };
    r->rc = lk_sched_run(s, &job, &r->st, &r->err);
    return r->rc;
}

static void run_session(const lk_llm *m, const int32_t *prompt, int n, lk_gen_params gp, result *r) {
    lk_session ses;
    lk_error err = {0};
    assert_int_equal(lk_session_init(&ses, m, 512, &err), 0);
    gp.on_sample = on_sample;
    gp.sample_ud = r;
    r->rc = lk_session_generate(&ses, prompt, n, &gp, on_text, r, &r->st, &r->err);
    lk_session_free(&ses);
}

static void assert_same_output(const result *a, const result *b) {
    assert_int_equal(a->n_toks, b->n_toks);
    assert_memory_equal(a->toks, b->toks, (size_t)a->n_toks * sizeof(int32_t));
    assert_string_equal(text_of(a), text_of(b));
}

/* ---- a gate: hold the scheduler thread until the queue holds n jobs ---- */

typedef struct gate {
    lk_sched *s;
    int want_waiting;             /* open when this many jobs wait */
    volatile int release;         /* or when set (want_waiting 0) */
    volatile int entered;
    lk_sched_stats at_entry, at_exit;
} gate;

static int gate_fn(void *ud) {
    gate *g = ud;
    lk_sched_get_stats(g->s, &g->at_entry);
    __atomic_store_n(&g->entered, 1, __ATOMIC_RELEASE);
    for (;;) {
        lk_sched_stats st;
        lk_sched_get_stats(g->s, &st);
        if (g->want_waiting ? st.waiting >= g->want_waiting : __atomic_load_n(&g->release, __ATOMIC_ACQUIRE)) break;
        usleep(200);
    }
    lk_sched_get_stats(g->s, &g->at_exit);
    return 42;
}

static void *gate_thread(void *arg) {
    gate *g = arg;
    lk_sched_exclusive(g->s, gate_fn, g);
    return NULL;
}

static void gate_start(gate *g, pthread_t *t) {
    assert_int_equal(pthread_create(t, NULL, gate_thread, g), 0);
    while (!__atomic_load_n(&g->entered, __ATOMIC_ACQUIRE)) usleep(100);
}

typedef struct job_arg {
    lk_sched *s;
    const int32_t *prompt;
    int n;
    lk_gen_params gp;
    bool no_cache;
    result *r;
} job_arg;

static void *job_thread(void *arg) {
    job_arg *a = arg;
    run_job(a->s, a->prompt, a->n, a->gp, a->no_cache, a->r);
    return NULL;
}

/* ---- tests ---- */

/* A job alone gives exactly the tokens and text of lk_session_generate, greedy and sampled. */
static void test_alone_matches_session(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){0});
    int32_t prompt[40];
    make_prompt(prompt, 40, 1, 7);
    lk_gen_params gps[2] = { greedy(48), sampled(48, 1234) };
    for (int i = 0; i < 2; i++) {
        result a = {0}, b = {0};
        run_session(m, prompt, 40, gps[i], &a);
        assert_int_equal(run_job(s, prompt, 40, gps[i], true, &b), 0);
        assert_int_equal(a.rc, 0);
        assert_same_output(&a, &b);
        assert_int_equal(b.st.n_gen, 48);
        assert_int_equal(b.st.n_prompt, 40);
        assert_string_equal(b.st.finish, "length");
        assert_true(b.st.ttft_s > 0);
        result_free(&a);
        result_free(&b);
    }
    lk_sched_free(s);
    lk_llm_free(m);
}

/* Eight jobs submitted together, half greedy and half sampled, each give the text they give
 * alone, in about as many steps as the longest of them (not the sum); with 8-bit activation
 * blocks (q8_0 weights) and with f16 weights. */
static void concurrent_jobs_match_alone(const char *type) {
    enum { N = 8, GEN = 40 };
    lk_llm *m = load_type(type);
    lk_pool *pool = lk_pool_new(2); /* the scheduler thread drives the pool */
    assert_non_null(pool);
    lk_llm_set_pool(m, pool);
    lk_sched *s = sched_new(m, (lk_sched_opts){ .n_slots = N });
    int32_t prompts[N][30];
    lk_gen_params gps[N];
    result alone[N], together[N];
    memset(alone, 0, sizeof alone);
    memset(together, 0, sizeof together);
    for (int i = 0; i < N; i++) {
        make_prompt(prompts[i], 10 + 2 * i, 1, 100 + (uint64_t)i);
        gps[i] = i % 2 ? sampled(GEN, 50 + (uint64_t)i) : greedy(GEN);
        run_session(m, prompts[i], 10 + 2 * i, gps[i], &alone[i]);
        assert_int_equal(alone[i].rc, 0);
    }
    lk_sched_stats before, after;
    lk_sched_get_stats(s, &before);
    gate g = { .s = s, .want_waiting = N };
    pthread_t gt, t[N];
    gate_start(&g, &gt);
    job_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (job_arg){ s, prompts[i], 10 + 2 * i, gps[i], false, &together[i] };
        assert_int_equal(pthread_create(&t[i], NULL, job_thread, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    pthread_join(gt, NULL);
    lk_sched_get_stats(s, &after);
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(together[i].rc, 0);
        assert_same_output(&alone[i], &together[i]);
        sum += (uint64_t)together[i].st.n_gen + 1;
    }
    uint64_t steps = after.steps - before.steps;
    assert_true(steps <= GEN + 2);  /* one prefill step, then one per token for all eight */
    assert_true(steps * 4 < sum);
    assert_int_equal(after.tokens_decoded - before.tokens_decoded, N * GEN);
    assert_int_equal(after.running, 0);
    assert_int_equal(after.waiting, 0);
    for (int i = 0; i < N; i++) {
        result_free(&alone[i]);
        result_free(&together[i]);
    }
    lk_sched_free(s);
    lk_llm_free(m);
    lk_pool_free(pool);
}

static void test_concurrent_jobs_match_alone(void **state) {
    (void)state;
    concurrent_jobs_match_alone("q8_0");
    concurrent_jobs_match_alone("f16");
}

/* A second job sharing a long prefix with an ended one evaluates only the rest (n_cached is
 * the prefix), and gives the greedy text it gives without the cache. */
static void test_prefix_cache_reuse(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){0});
    int32_t a[120], b[120];
    make_prompt(a, 120, 1, 5);
    memcpy(b, a, sizeof a);
    make_prompt(b + 100, 20, 77, 6); /* same first 100 tokens, another tail */
    result ra = {0}, rb = {0}, cold = {0};
    assert_int_equal(run_job(s, a, 120, greedy(16), false, &ra), 0);
    assert_int_equal(ra.st.n_cached, 0);
    lk_sched_stats st;
    lk_sched_get_stats(s, &st);
    assert_true(st.kv_used >= 120); /* kept for reuse */
    assert_int_equal(run_job(s, b, 120, greedy(16), false, &rb), 0);
    assert_true(rb.st.n_cached >= 100);
    assert_true(rb.st.n_cached < 120);
    assert_int_equal(run_job(s, b, 120, greedy(16), true, &cold), 0);
    assert_int_equal(cold.st.n_cached, 0);
    assert_same_output(&rb, &cold);
    /* the same prompt again: everything but its last token is shared */
    result again = {0};
    assert_int_equal(run_job(s, b, 120, greedy(16), false, &again), 0);
    assert_int_equal(again.st.n_cached, 119);
    assert_same_output(&rb, &again);
    lk_sched_get_stats(s, &st);
    assert_true(st.prefix_hits >= 2);
    assert_true(st.tokens_reused >= 219);
    result_free(&ra);
    result_free(&rb);
    result_free(&cold);
    result_free(&again);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* A job admitted while another with the same prefix is running shares that one's cells. */
static void test_prefix_shared_with_running_sequence(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){0});
    int32_t a[80], b[80];
    make_prompt(a, 80, 1, 11);
    memcpy(b, a, sizeof a);
    b[79] = 400;
    result cold = {0};
    assert_int_equal(run_job(s, b, 80, greedy(8), true, &cold), 0);
    /* a runs long; b arrives once a is decoding */
    volatile int a_running = 0;
    result ra = { .flag_after_ptr = &a_running, .flag_after = 1, .sleep_us = 1000 }, rb = {0};
    job_arg ja = { s, a, 80, greedy(200), false, &ra };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, job_thread, &ja), 0);
    while (!__atomic_load_n(&a_running, __ATOMIC_RELAXED)) usleep(100);
    assert_int_equal(run_job(s, b, 80, greedy(8), false, &rb), 0);
    pthread_join(t, NULL);
    assert_int_equal(rb.st.n_cached, 79);
    assert_same_output(&cold, &rb);
    result_free(&cold);
    result_free(&ra);
    result_free(&rb);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* A job whose cancel flag is set, or whose callback returns false, ends at the next step and its
 * cells are freed at once (nothing is kept for reuse); a job that ends by itself keeps them. */
static void test_cancel_frees_cells(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){0});
    int32_t p[30];
    make_prompt(p, 30, 1, 3);
    lk_sched_stats st;

    volatile int flag = 0;
    result r = { .flag_after_ptr = &flag, .flag_after = 3 };
    lk_gen_params gp = greedy(200);
    gp.cancel = &flag;
    assert_int_equal(run_job(s, p, 30, gp, false, &r), 0);
    assert_string_equal(r.st.finish, "cancelled");
    assert_int_equal(r.text_calls, 3);
    assert_true(r.st.n_gen >= 3 && r.st.n_gen < 200);
    lk_sched_get_stats(s, &st);
    assert_int_equal(st.kv_used, 0);
    assert_int_equal(st.running, 0);

    result c = { .cancel_after = 2 };
    assert_int_equal(run_job(s, p, 30, greedy(200), false, &c), 0);
    assert_string_equal(c.st.finish, "cancelled");
    assert_int_equal(c.text_calls, 2);
    lk_sched_get_stats(s, &st);
    assert_int_equal(st.kv_used, 0);

    /* a flag set before the job starts: no token at all */
    volatile int set = 1;
    result d = {0};
    gp.cancel = &set;
    assert_int_equal(run_job(s, p, 30, gp, false, &d), 0);
    assert_string_equal(d.st.finish, "cancelled");
    assert_int_equal(d.st.n_gen, 0);
    assert_int_equal(d.text_calls, 0);

    result e = {0};
    assert_int_equal(run_job(s, p, 30, greedy(5), false, &e), 0);
    lk_sched_get_stats(s, &st);
    assert_int_equal(st.kv_used, 30 + 4); /* prompt and generated tokens, kept for reuse */
    result_free(&r);
    result_free(&c);
    result_free(&d);
    result_free(&e);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* no_cache jobs neither reuse a cached prefix nor leave one. */
static void test_no_cache(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){0});
    int32_t p[30];
    make_prompt(p, 30, 1, 4);
    result a = {0}, b = {0};
    assert_int_equal(run_job(s, p, 30, greedy(5), false, &a), 0);
    assert_int_equal(run_job(s, p, 30, greedy(5), true, &b), 0);
    assert_int_equal(b.st.n_cached, 0);
    lk_sched_stats st;
    lk_sched_get_stats(s, &st);
    assert_int_equal(st.kv_used, 34); /* only a's entry */
    assert_same_output(&a, &b);
    result_free(&a);
    result_free(&b);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* One job more than the queue holds fails at once with LK_ERANGE saying so. */
static void test_queue_full(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){ .n_slots = 1, .n_queue = 1 });
    int32_t p[10];
    make_prompt(p, 10, 1, 9);
    gate g = { .s = s };
    pthread_t gt, t;
    gate_start(&g, &gt); /* the scheduler is busy: nothing is admitted */
    result a = {0}, b = {0};
    job_arg ja = { s, p, 10, greedy(4), false, &a };
    assert_int_equal(pthread_create(&t, NULL, job_thread, &ja), 0);
    lk_sched_stats st;
    do {
        usleep(100);
        lk_sched_get_stats(s, &st);
    } while (st.waiting < 1);
    assert_int_equal(run_job(s, p, 10, greedy(4), false, &b), LK_ERANGE);
    assert_non_null(strstr(b.err.msg, "queue full (1 waiting)"));
    __atomic_store_n(&g.release, 1, __ATOMIC_RELEASE);
    pthread_join(gt, NULL);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.st.n_gen, 4);
    result_free(&a);
    result_free(&b);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* A prompt that does not fit a sequence's context is LK_ERANGE; empty prompts, tokens outside
 * the vocabulary and bad sampling settings are LK_EINVAL. */
static void test_bad_jobs(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){ .n_ctx_seq = 64 });
    int32_t p[64];
    make_prompt(p, 64, 1, 2);
    result r = {0};
    assert_int_equal(run_job(s, p, 64, greedy(4), false, &r), LK_ERANGE);
    assert_non_null(strstr(r.err.msg, "64 tokens"));
    assert_int_equal(run_job(s, p, 0, greedy(4), false, &r), LK_EINVAL);
    p[3] = 100000;
    assert_int_equal(run_job(s, p, 10, greedy(4), false, &r), LK_EINVAL);
    assert_non_null(strstr(r.err.msg, "index 3"));
    p[3] = 5;
    lk_gen_params gp = greedy(4);
    gp.sampling.top_p = NAN;
    assert_int_equal(run_job(s, p, 10, gp, false, &r), LK_EINVAL);
    /* a job that fills its context ends "length" */
    result full = {0};
    assert_int_equal(run_job(s, p, 60, greedy(-1), false, &full), 0);
    assert_string_equal(full.st.finish, "length");
    assert_int_equal(full.st.n_gen, 64 - 60 + 1); /* the last one sampled is never evaluated */
    result_free(&r);
    result_free(&full);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* Under a small cache budget the least recently used entry is evicted first, and the cells the
 * cache keeps stay within the budget. */
static void test_lru_eviction(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){ .n_slots = 2, .n_ctx_seq = 128, .n_cells = 256, .cache_cells = 100 });
    int32_t p[3][40];
    for (int i = 0; i < 3; i++) make_prompt(p[i], 40, 10 + i, 20 + (uint64_t)i); /* distinct first tokens */
    result r[6];
    memset(r, 0, sizeof r);
    lk_sched_stats st;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run_job(s, p[i], 40, greedy(8), false, &r[i]), 0); /* 47 cells each */
        lk_sched_get_stats(s, &st);
        assert_true(st.kv_used <= 100);
    }
    assert_int_equal(st.kv_used, 94); /* p1 and p2; p0 was evicted */
    assert_int_equal(run_job(s, p[2], 40, greedy(8), false, &r[3]), 0);
    assert_int_equal(r[3].st.n_cached, 39);
    assert_int_equal(run_job(s, p[1], 40, greedy(8), false, &r[4]), 0);
    assert_int_equal(r[4].st.n_cached, 39);
    assert_int_equal(run_job(s, p[0], 40, greedy(8), false, &r[5]), 0);
    assert_int_equal(r[5].st.n_cached, 0);
    assert_same_output(&r[0], &r[5]);
    for (int i = 0; i < 6; i++) result_free(&r[i]);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* Stop strings and max_tokens are per job, also when the jobs run in one batch. */
static void test_stops_and_limits_per_job(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){0});
    int32_t pa[20], pb[20];
    make_prompt(pa, 20, 1, 31);
    make_prompt(pb, 20, 1, 32);
    result alone = {0};
    assert_int_equal(run_job(s, pb, 20, greedy(40), true, &alone), 0);
    const char *t = text_of(&alone);
    size_t len = strlen(t), at = len / 2;
    assert_true(len >= 12);
    while (at + 3 < len && !(isalpha((unsigned char)t[at]) && isalpha((unsigned char)t[at + 1]) &&
                             isalpha((unsigned char)t[at + 2])))
        at++;
    assert_true(at + 3 < len);
    char stop[4] = { t[at], t[at + 1], t[at + 2], 0 };
    size_t cut = (size_t)(strstr(t, stop) - t);

    gate g = { .s = s, .want_waiting = 2 };
    pthread_t gt, ta, tb;
    gate_start(&g, &gt);
    result ra = {0}, rb = {0};
    lk_gen_params gb = greedy(40);
    const char *stops[1] = { stop };
    gb.stops = stops;
    gb.n_stops = 1;
    job_arg ja = { s, pa, 20, greedy(5), true, &ra }, jb = { s, pb, 20, gb, true, &rb };
    assert_int_equal(pthread_create(&ta, NULL, job_thread, &ja), 0);
    assert_int_equal(pthread_create(&tb, NULL, job_thread, &jb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_join(gt, NULL);
    assert_int_equal(ra.st.n_gen, 5);
    assert_string_equal(ra.st.finish, "length");
    assert_string_equal(rb.st.finish, "stop");
    assert_int_equal(rb.text.len, cut);
    assert_memory_equal(text_of(&rb), t, cut);
    assert_true(rb.st.n_gen < 40);
    result_free(&alone);
    result_free(&ra);
    result_free(&rb);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* exclusive() runs on the scheduler thread between two steps (no step runs meanwhile), may run
 * forward passes of its own, and leaves running jobs' output unchanged. */
typedef struct excl_probe {
    lk_sched *s;
    lk_llm *m;
    pthread_t thread;
    uint64_t steps_before, steps_after;
    int forward_rc;
} excl_probe;

static int probe_fn(void *ud) {
    excl_probe *p = ud;
    p->thread = pthread_self();
    lk_sched_stats st;
    lk_sched_get_stats(p->s, &st);
    p->steps_before = st.steps;
    lk_kv kv;
    lk_error err = {0};
    p->forward_rc = lk_kv_init(&kv, p->m, 16, &err);
    if (p->forward_rc) return -1;
    int32_t toks[4] = { 1, 50, 60, 70 };
    float *logits = malloc((size_t)p->m->hp.n_vocab * sizeof(float));
    p->forward_rc = lk_llm_eval(p->m, &kv, toks, 4, 0, false, logits, &err);
    free(logits);
    lk_kv_free(&kv);
    usleep(20000);
    lk_sched_get_stats(p->s, &st);
    p->steps_after = st.steps;
    return 7;
}

static void test_exclusive_between_steps(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){0});
    int32_t p[20];
    make_prompt(p, 20, 1, 40);
    result alone = {0};
    assert_int_equal(run_job(s, p, 20, greedy(300), true, &alone), 0);
    volatile int running = 0;
    result r = { .flag_after_ptr = &running, .flag_after = 1, .sleep_us = 200 };
    job_arg ja = { s, p, 20, greedy(300), true, &r };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, job_thread, &ja), 0);
    while (!__atomic_load_n(&running, __ATOMIC_RELAXED)) usleep(50);
    excl_probe pr = { .s = s, .m = m };
    assert_int_equal(lk_sched_exclusive(s, probe_fn, &pr), 7);
    pthread_join(t, NULL);
    assert_int_equal(pr.forward_rc, 0);
    assert_int_equal(pr.steps_before, pr.steps_after);
    assert_true(pthread_equal(pr.thread, r.thread));
    assert_true(!pthread_equal(pr.thread, pthread_self()));
    assert_same_output(&alone, &r);
    /* with no job running it runs at once, too */
    assert_int_equal(lk_sched_exclusive(s, probe_fn, &pr), 7);
    result_free(&alone);
    result_free(&r);
    lk_sched_free(s);
    lk_llm_free(m);
}

/* A prompt longer than the prefill chunk is evaluated in several steps while a running job keeps
 * decoding; both give their alone output. */
static void test_chunked_prefill_interleaves(void **state) {
    (void)state;
    lk_llm *m = load();
    lk_sched *s = sched_new(m, (lk_sched_opts){ .prefill_chunk = 32, .n_batch = 48 });
    int32_t a[16], b[200];
    make_prompt(a, 16, 1, 60);
    make_prompt(b, 200, 1, 61);
    result alone_a = {0}, alone_b = {0};
    assert_int_equal(run_job(s, a, 16, greedy(60), true, &alone_a), 0);
    assert_int_equal(run_job(s, b, 200, greedy(10), true, &alone_b), 0);
    gate g = { .s = s, .want_waiting = 2 };
    pthread_t gt, ta, tb;
    gate_start(&g, &gt);
    result ra = {0}, rb = {0};
    job_arg ja = { s, a, 16, greedy(60), true, &ra }, jb = { s, b, 200, greedy(10), true, &rb };
    assert_int_equal(pthread_create(&ta, NULL, job_thread, &ja), 0);
    usleep(2000); /* a first in the queue */
    assert_int_equal(pthread_create(&tb, NULL, job_thread, &jb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_join(gt, NULL);
    assert_same_output(&alone_a, &ra);
    assert_same_output(&alone_b, &rb);
    assert_true(rb.st.ttft_s > 0);
    result_free(&alone_a);
    result_free(&alone_b);
    result_free(&ra);
    result_free(&rb);
    lk_sched_free(s);
    lk_llm_free(m);
}

int main(void) {
    tu_seed(12345);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone_matches_session),
        cmocka_unit_test(test_concurrent_jobs_match_alone),
        cmocka_unit_test(test_prefix_cache_reuse),
        cmocka_unit_test(test_prefix_shared_with_running_sequence),
        cmocka_unit_test(test_cancel_frees_cells),
        cmocka_unit_test(test_no_cache),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_bad_jobs),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_stops_and_limits_per_job),
        cmocka_unit_test(test_exclusive_between_steps),
        cmocka_unit_test(test_chunked_prefill_interleaves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

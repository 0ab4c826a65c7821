/* sampler.c — the sampler chain and the streaming stop-string matcher.
 *
 * Each step copies the logits into a candidate array (id order), applies the penalties and the
 * logit bias by id, then narrows the candidates stage by stage. Stages that need order get it
 * as cheaply as they can: top_k keeps the k best with a min-heap in place (O(n log k)), min_p
 * and mirostat v2 are plain filters, and only top_p or typical without a smaller top_k sort.
 * The last stage turns the survivors' logits into probabilities and draws one.
 *
 * The penalty window is a ring of the last penalty_last_n accepted tokens with a count per
 * token kept up to date on accept, so a step touches only the tokens in the window. */
#include "sampler.h"
#include <float.h>
#include <math.h>

/* A candidate while the chain works on it; key is scratch for typical sampling's order. */
typedef struct cand {
    int32_t id;
    float logit;
    float p;
    float key;
} cand;

struct sampler {
    lk_sampler_params params;
    lk_logit_bias *bias;       /* params.n_logit_bias entries, our copy */
    int n_vocab;
    cand *cands;               /* [n_vocab] working candidates */
    sampler_cand *dist;        /* [n_vocab] sampler_dist's output, allocated on first use */
    int32_t *ring;             /* [penalty_last_n] last accepted tokens */
    int32_t ring_len, ring_head;
    int32_t *counts;           /* [n_vocab] occurrences of each token in the ring */
    uint8_t *seen;             /* [n_vocab] scratch: penalty already applied this step */
    uint64_t rng[4];           /* xoshiro256** state */
    float mu;                  /* mirostat's running surprise bound */
};

void lk_sampler_params_default(lk_sampler_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 0;
    p->temp = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->typical_p = 1.0f;
    p->repeat_penalty = 1.0f;
    p->frequency_penalty = 0.0f;
    p->presence_penalty = 0.0f;
    p->penalty_last_n = 64;
    p->mirostat = 0;
    p->mirostat_tau = 5.0f;
    p->mirostat_eta = 0.1f;
}

int lk_sampler_params_check(const lk_sampler_params *p, int n_vocab, lk_error *err) {
    if (!p) return lk_errorf(err, LK_EINVAL, "sampler: no parameters");
    if (n_vocab <= 0) return lk_errorf(err, LK_EINVAL, "sampler: vocabulary size %d", n_vocab);
    struct { const char *name; float v; } fs[] = {
        { "temperature", p->temp }, { "top_p", p->top_p }, { "min_p", p->min_p },
        { "typical_p", p->typical_p }, { "repeat_penalty", p->repeat_penalty },
        { "frequency_penalty", p->frequency_penalty }, { "presence_penalty", p->presence_penalty },
        { "mirostat_tau", p->mirostat_tau }, { "mirostat_eta", p->mirostat_eta },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(fs); i++)
        if (!isfinite(fs[i].v))
            return lk_errorf(err, LK_EINVAL, "sampler: %s is %g, not a finite number",
                             fs[i].name, (double)fs[i].v);
    if (p->repeat_penalty <= 0)
        return lk_errorf(err, LK_EINVAL, "sampler: repeat_penalty %g must be > 0 (1 is off)",
                         (double)p->repeat_penalty);
    if (p->penalty_last_n < 0)
        return lk_errorf(err, LK_EINVAL, "sampler: penalty_last_n %d must be >= 0 (0 is off)",
                         (int)p->penalty_last_n);
    if (p->mirostat < 0 || p->mirostat > 2)
        return lk_errorf(err, LK_EINVAL, "sampler: mirostat %d must be 0, 1 or 2", p->mirostat);
    if (p->mirostat && (p->mirostat_tau <= 0 || p->mirostat_eta < 0))
        return lk_errorf(err, LK_EINVAL, "sampler: mirostat needs tau > 0 and eta >= 0 "
                         "(got tau %g, eta %g)", (double)p->mirostat_tau, (double)p->mirostat_eta);
    if (p->n_logit_bias && !p->logit_bias)
        return lk_errorf(err, LK_EINVAL, "sampler: %zu logit biases but no list", p->n_logit_bias);
    for (size_t i = 0; i < p->n_logit_bias; i++) {
        const lk_logit_bias *b = &p->logit_bias[i];
        if (b->token < 0 || b->token >= n_vocab)
            return lk_errorf(err, LK_EINVAL, "sampler: logit bias %zu: token %d is outside the "
                             "vocabulary of %d tokens", i, (int)b->token, n_vocab);
        if (isnan(b->bias) || b->bias == INFINITY)
            return lk_errorf(err, LK_EINVAL, "sampler: logit bias %zu (token %d): bias %g must be "
                             "finite or -inf", i, (int)b->token, (double)b->bias);
    }
    return LK_OK;
}

/* ---- PRNG: xoshiro256**, seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static void rng_seed(uint64_t s[4], uint64_t seed) {
    for (int i = 0; i < 4; i++) s[i] = splitmix64(&seed);
}

static uint64_t rng_next(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

/* ---- life cycle ---- */

sampler *sampler_new(const lk_sampler_params *p, int n_vocab, lk_error *err) {
    if (lk_sampler_params_check(p, n_vocab, err)) return NULL;
    sampler *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->params = *p;
    s->n_vocab = n_vocab;
    s->cands = malloc((size_t)n_vocab * sizeof *s->cands);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->seen = calloc((size_t)n_vocab, 1);
    if (!s->cands || !s->counts || !s->seen) goto oom;
    if (p->penalty_last_n > 0) {
        s->ring = malloc((size_t)p->penalty_last_n * sizeof *s->ring);
        if (!s->ring) goto oom;
    }
    if (p->n_logit_bias) {
        s->bias = malloc(p->n_logit_bias * sizeof *s->bias);
        if (!s->bias) goto oom;
        memcpy(s->bias, p->logit_bias, p->n_logit_bias * sizeof *s->bias);
    }
    s->params.logit_bias = s->bias;
    sampler_reset(s);
    return s;
oom:
    sampler_free(s);
    lk_errorf(err, LK_ENOMEM, "sampler: out of memory for a vocabulary of %d tokens", n_vocab);
    return NULL;
}

void sampler_free(sampler *s) {
    if (!s) return;
    free(s->cands);
    free(s->dist);
    free(s->ring);
    free(s->counts);
    free(s->seen);
    free(s->bias);
    free(s);
}

void sampler_reset(sampler *s) {
    if (!s) return;
    for (int32_t i = 0; i < s->ring_len; i++) s->counts[s->ring[i]] = 0;
    s->ring_len = 0;
    s->ring_head = 0;
    s->mu = 2.0f * s->params.mirostat_tau;
    rng_seed(s->rng, s->params.seed);
}

void sampler_accept(sampler *s, int32_t tok) {
    if (!s || tok < 0 || tok >= s->n_vocab || s->params.penalty_last_n <= 0) return;
    int32_t cap = s->params.penalty_last_n;
    if (s->ring_len == cap) {
        s->counts[s->ring[s->ring_head]]--;
    } else {
        s->ring_len++;
    }
    s->ring[s->ring_head] = tok;
    s->ring_head = (s->ring_head + 1) % cap;
    s->counts[tok]++;
}

/* ---- ordering helpers ---- */

/* a ranks before b: higher logit, then lower id. A total order, so results are deterministic. */
static bool better(const cand *a, const cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_logit_desc(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static int cmp_key_asc(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return cmp_logit_desc(pa, pb);
}

static void swap_cand(cand *a, cand *b) {
    cand t = *a;
    *a = *b;
    *b = t;
}

/* Restore the min-heap (worst candidate at the root) below node i of h[0..n). */
static void sift_down(cand *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && better(&h[worst], &h[l])) worst = l;
        if (r < n && better(&h[worst], &h[r])) worst = r;
        if (worst == i) return;
        swap_cand(&h[i], &h[worst]);
        i = worst;
    }
}

/* Move the k best of c[0..n) to c[0..k), sorted best first; the rest stay behind them in no
 * order. O(n log k), no allocation. */
static void keep_top(cand *c, size_t n, size_t k) {
    if (k >= n) {
        qsort(c, n, sizeof *c, cmp_logit_desc);
        return;
    }
    for (size_t i = k / 2; i-- > 0;) sift_down(c, k, i);
    for (size_t i = k; i < n; i++) {
        if (better(&c[i], &c[0])) {
            swap_cand(&c[i], &c[0]);
            sift_down(c, k, 0);
        }
    }
    qsort(c, k, sizeof *c, cmp_logit_desc);
}

/* Set p of c[0..n) to the softmax of the logits; returns the max logit. */
static float softmax(cand *c, size_t n) {
    float max = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit > max) max = c[i].logit;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        c[i].p = expf(c[i].logit - max);
        sum += c[i].p;
    }
    for (size_t i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
    return max;
}

/* ---- the stages ---- */

/* Keep a logit finite at the top (a penalty below 1 or a bias can overflow it), so that the
 * softmax never computes inf - inf. */
static float clamp_logit(float l) { return l > FLT_MAX ? FLT_MAX : l; }

static void apply_penalties(sampler *s) {
    const lk_sampler_params *p = &s->params;
    if (s->ring_len == 0) return;
    if (p->repeat_penalty == 1.0f && p->frequency_penalty == 0.0f && p->presence_penalty == 0.0f)
        return;
    /* candidates are still in id order, so cands[tok] is tok's entry */
    for (int32_t i = 0; i < s->ring_len; i++) {
        int32_t tok = s->ring[i];
        if (s->seen[tok]) continue;
        s->seen[tok] = 1;
        float *l = &s->cands[tok].logit;
        if (*l > 0) *l /= p->repeat_penalty;
        else *l *= p->repeat_penalty;
        *l -= (float)s->counts[tok] * p->frequency_penalty + p->presence_penalty;
        *l = clamp_logit(*l);
    }
    for (int32_t i = 0; i < s->ring_len; i++) s->seen[s->ring[i]] = 0;
}

static void apply_bias(sampler *s) {
    for (size_t i = 0; i < s->params.n_logit_bias; i++) {
        float *l = &s->cands[s->bias[i].token].logit;
        *l = clamp_logit(*l + s->bias[i].bias);
    }
}

/* Drop candidates with logit -inf (banned, or NaN from the model). Keeps order. */
static size_t drop_impossible(cand *c, size_t n) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit > -INFINITY) c[m++] = c[i];
    return m;
}

/* Keep the most typical candidates (surprise closest to the entropy) whose mass first exceeds
 * typical_p. Leaves them ordered by typicality, not by logit. */
static size_t keep_typical(cand *c, size_t n, float typical_p) {
    softmax(c, n);
    double entropy = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].p > 0) entropy -= c[i].p * log(c[i].p);
    for (size_t i = 0; i < n; i++)
        c[i].key = c[i].p > 0 ? (float)fabs(-log(c[i].p) - entropy) : INFINITY;
    qsort(c, n, sizeof *c, cmp_key_asc);
    double cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += c[i].p;
        if (cum > typical_p) return i + 1;
    }
    return n;
}

/* Keep the smallest most-probable prefix whose mass is >= top_p. Unless c is already sorted,
 * the candidates are first put into buckets by how far their logit is below the max; the
 * buckets' mass, added from the top, says which buckets hold the prefix, and only their
 * candidates are moved to the front and sorted (the whole vocabulary only when the
 * distribution is so flat that the prefix is most of it). */
static size_t keep_top_p(cand *c, size_t n, float top_p, bool sorted) {
    enum { N_BUCKETS = 256 };
    const float bucket_width = 32.0f / N_BUCKETS; /* nats; the last bucket takes the rest */
    float max = softmax(c, n);
    size_t m = n;
    if (!sorted) {
        double mass[N_BUCKETS] = {0};
        for (size_t i = 0; i < n; i++) {
            float q = (max - c[i].logit) / bucket_width;
            size_t b = q >= N_BUCKETS - 1 ? N_BUCKETS - 1 : (size_t)q;
            c[i].key = (float)b;
            mass[b] += c[i].p;
        }
        double cum = 0;
        size_t cut = N_BUCKETS - 1;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cum += mass[b];
            if (cum >= top_p) {
                cut = b;
                break;
            }
        }
        m = 0;
        for (size_t i = 0; i < n; i++)
            if (c[i].key <= (float)cut) swap_cand(&c[m++], &c[i]);
        qsort(c, m, sizeof *c, cmp_logit_desc);
    }
    double cum = 0;
    for (size_t i = 0; i < m; i++) {
        cum += c[i].p;
        if (cum >= top_p) return i + 1;
    }
    return m;
}

/* Keep candidates with p >= min_p * p_max, i.e. logit >= max + log(min_p). Keeps order. */
static size_t keep_min_p(cand *c, size_t n, float min_p) {
    float max = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit > max) max = c[i].logit;
    float threshold = min_p >= 1.0f ? max : max + logf(min_p);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit >= threshold) c[m++] = c[i];
    return m;
}

static void temperature(cand *c, size_t n, float temp) {
    for (size_t i = 0; i < n; i++) c[i].logit = clamp_logit(c[i].logit / temp);
}

/* Mirostat (v1): estimate the Zipf exponent s_hat from the top m = 100 candidates, derive the
 * k whose expected surprise is mu, and keep the top k. */
static size_t mirostat_v1(sampler *s, cand *c, size_t n) {
    size_t m = LK_MIN(n, (size_t)100);
    softmax(c, n);
    keep_top(c, n, m);
    double sum_ti_bi = 0, sum_ti_sq = 0;
    for (size_t i = 0; i + 1 < m; i++) {
        if (c[i + 1].p <= 0) break;
        double t_i = log((double)(i + 2) / (double)(i + 1));
        double b_i = log((double)c[i].p / (double)c[i + 1].p);
        sum_ti_bi += t_i * b_i;
        sum_ti_sq += t_i * t_i;
    }
    double k = (double)n;
    if (sum_ti_sq > 0 && sum_ti_bi > 0) {
        double s_hat = sum_ti_bi / sum_ti_sq;
        double eps = s_hat - 1;
        double denom = 1 - pow((double)s->n_vocab, -eps);
        double ratio = fabs(denom) < 1e-12 ? 1 / log((double)s->n_vocab) : eps / denom;
        k = pow(ratio * pow(2.0, s->mu), 1 / s_hat);
    }
    if (!(k >= 1)) k = 1; /* also catches NaN */
    size_t keep = k >= (double)n ? n : (size_t)k;
    if (keep > m) keep_top(c, n, keep);
    return keep;
}

/* Mirostat v2: keep the candidates whose surprise -log2(p) is at most mu, i.e. p >= 2^-mu
 * (and at least the best). */
static size_t mirostat_v2(sampler *s, cand *c, size_t n) {
    softmax(c, n);
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (better(&c[i], &c[best])) best = i;
    swap_cand(&c[0], &c[best]);
    float threshold = exp2f(-s->mu);
    size_t m = 1;
    for (size_t i = 1; i < n; i++)
        if (c[i].p >= threshold) c[m++] = c[i];
    return m;
}

/* Run the chain on logits; leave the survivors in s->cands[0..n) with p set, and return n. */
static size_t run_chain(sampler *s, const float *logits) {
    const lk_sampler_params *p = &s->params;
    cand *c = s->cands;
    size_t n = (size_t)s->n_vocab;
    for (size_t i = 0; i < n; i++) {
        float l = logits[i];
        c[i].id = (int32_t)i;
        c[i].logit = isnan(l) ? -INFINITY : clamp_logit(l);
    }
    apply_penalties(s);
    apply_bias(s);

    if (p->temp <= 0) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (c[i].logit > c[best].logit) best = i;
        if (c[best].logit == -INFINITY) return 0;
        c[0] = c[best];
        c[0].p = 1;
        return 1;
    }

    n = drop_impossible(c, n);
    if (n == 0) return 0;

    if (p->mirostat == 0) {
        bool sorted = false;
        if (p->top_k > 0 && (size_t)p->top_k < n) {
            keep_top(c, n, (size_t)p->top_k);
            n = (size_t)p->top_k;
            sorted = true;
        }
        if (p->typical_p < 1.0f) {
            n = keep_typical(c, n, p->typical_p);
            sorted = false;
        }
        if (p->top_p < 1.0f) n = keep_top_p(c, n, p->top_p, sorted);
        if (p->min_p > 0.0f) n = keep_min_p(c, n, p->min_p);
        temperature(c, n, p->temp);
        softmax(c, n);
    } else {
        temperature(c, n, p->temp);
        n = p->mirostat == 1 ? mirostat_v1(s, c, n) : mirostat_v2(s, c, n);
        softmax(c, n);
    }
    return n;
}

/* Draw an index from c[0..n) by its probabilities. */
static size_t draw(sampler *s, const cand *c, size_t n) {
    double u = rng_uniform(s->rng), cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += c[i].p;
        if (u < cum) return i;
    }
    /* rounding left u above the total: take the last candidate with any mass */
    for (size_t i = n; i-- > 0;)
        if (c[i].p > 0) return i;
    return 0;
}

int32_t sampler_sample(sampler *s, const float *logits) {
    if (!s || !logits) return -1;
    size_t n = run_chain(s, logits);
    if (n == 0) return -1;
    if (s->params.temp <= 0) return s->cands[0].id;
    size_t i = draw(s, s->cands, n);
    if (s->params.mirostat) {
        float surprise = -log2f(s->cands[i].p);
        s->mu -= s->params.mirostat_eta * (surprise - s->params.mirostat_tau);
    }
    return s->cands[i].id;
}

size_t sampler_dist(sampler *s, const float *logits, const sampler_cand **out) {
    *out = NULL;
    if (!s || !logits) return 0;
    if (!s->dist) {
        s->dist = malloc((size_t)s->n_vocab * sizeof *s->dist);
        if (!s->dist) return 0;
    }
    size_t n = run_chain(s, logits);
    cand *c = s->cands;
    for (size_t i = 0; i < n; i++) c[i].key = -c[i].p; /* most probable first, then lower id */
    qsort(c, n, sizeof *c, cmp_key_asc);
    for (size_t i = 0; i < n; i++) {
        s->dist[i].id = c[i].id;
        s->dist[i].logit = c[i].logit;
        s->dist[i].p = c[i].p;
    }
    *out = s->dist;
    return n;
}

/* ---- stop strings ---- */

struct stop_matcher {
    char **stops;
    size_t *lens;
    size_t n;
    lk_buf held;     /* text not yet emitted */
    int hit;         /* index of the stop string found, or -1 */
};

stop_matcher *stop_matcher_new(const char *const *stops, size_t n) {
    stop_matcher *m = lk_xcalloc(1, sizeof *m);
    m->stops = lk_xcalloc(n ? n : 1, sizeof *m->stops);
    m->lens = lk_xcalloc(n ? n : 1, sizeof *m->lens);
    for (size_t i = 0; i < n; i++) {
        if (!stops[i] || !stops[i][0]) continue;
        m->stops[m->n] = lk_xstrdup(stops[i]);
        m->lens[m->n] = strlen(stops[i]);
        m->n++;
    }
    m->hit = -1;
    return m;
}

void stop_matcher_free(stop_matcher *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) free(m->stops[i]);
    free(m->stops);
    free(m->lens);
    lk_buf_free(&m->held);
    free(m);
}

void stop_matcher_reset(stop_matcher *m) {
    lk_buf_clear(&m->held);
    m->hit = -1;
}

int stop_matcher_which(const stop_matcher *m) { return m->hit; }

/* The first occurrence of a stop string in s[0..len): its offset, with *which set; or len. */
static size_t find_stop(const stop_matcher *m, const char *s, size_t len, int *which) {
    size_t best = len;
    for (size_t i = 0; i < m->n; i++) {
        size_t sl = m->lens[i];
        for (size_t at = 0; at + sl <= len && at < best; at++) {
            if (memcmp(s + at, m->stops[i], sl) == 0) {
                best = at;
                *which = (int)i;
                break;
            }
        }
    }
    return best;
}

/* The length of the longest tail of s[0..len) that is a proper prefix of some stop string. */
static size_t partial_tail(const stop_matcher *m, const char *s, size_t len) {
    size_t hold = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t k = LK_MIN(m->lens[i] - 1, len);
        for (; k > hold; k--) {
            if (memcmp(s + len - k, m->stops[i], k) == 0) {
                hold = k;
                break;
            }
        }
    }
    return hold;
}

/* Move cut back so that s[0..cut) does not end inside a UTF-8 character. */
static size_t utf8_boundary(const char *s, size_t cut) {
    for (size_t back = 1; back <= 4 && back <= cut; back++) {
        unsigned char c = (unsigned char)s[cut - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: keep looking for the lead */
        int need = lk_utf8_len(c);
        return need > (int)back ? cut - back : cut;
    }
    return cut; /* only continuation bytes: invalid text, pass it through */
}

bool stop_matcher_feed(stop_matcher *m, const char *piece, size_t len, lk_buf *out) {
    if (m->hit >= 0) return true;
    if (len) lk_buf_append(&m->held, piece, len);
    const char *s = m->held.data;
    size_t n = m->held.len;
    if (n == 0) return false;
    int which = -1;
    size_t at = find_stop(m, s, n, &which);
    if (which >= 0) {
        lk_buf_append(out, s, at);
        lk_buf_clear(&m->held);
        m->hit = which;
        return true;
    }
    size_t cut = utf8_boundary(s, n - partial_tail(m, s, n));
    lk_buf_append(out, s, cut);
    memmove(m->held.data, s + cut, n - cut);
    m->held.len = n - cut;
    m->held.data[m->held.len] = 0;
    return false;
}

void stop_matcher_flush(stop_matcher *m, lk_buf *out) {
    if (m->hit < 0) lk_buf_append(out, m->held.data, m->held.len);
    lk_buf_clear(&m->held);
}

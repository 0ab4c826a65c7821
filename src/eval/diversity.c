/* diversity.c — distinct-n, self-BLEU, Jaccard and entropy of a set of samples.
 *
 * Texts are split into words, and each distinct word gets a small integer id (a string table);
 * from then on everything works on id sequences. N-grams (up to 4 words) are counted in
 * open-addressing hash tables: one per sample for BLEU's clipped counts and one per order over
 * all samples for distinct-n. Self-BLEU scores every sample against all the others, which is
 * O(samples² · words): fine for the tens to hundreds of samples of a sweep. */
#include "eval/diversity.h"
#include "base/base.h"

#include <math.h>

enum { MAX_ORDER = 4 };

/* ---- n-gram tables ---- */

typedef struct gram {
    uint32_t w[MAX_ORDER];      /* word ids; unused ones 0 */
    uint32_t n;                 /* order; 0 marks an empty slot */
    uint32_t count;
} gram;

typedef struct gram_table {
    gram *slots;
    size_t cap, used;           /* cap is a power of two, at most half full */
} gram_table;

static uint64_t gram_hash(const uint32_t *w, uint32_t n) {
    uint64_t h = n;
    for (uint32_t i = 0; i < n; i++) h = lk_mix64(h * 0x9E3779B97F4A7C15ULL + w[i] + 1);
    return h;
}

/* The slot holding w[n], or the empty slot where it would go. */
static gram *gt_slot(const gram_table *t, const uint32_t *w, uint32_t n) {
    size_t mask = t->cap - 1;
    for (size_t i = gram_hash(w, n) & mask;; i = (i + 1) & mask) {
        gram *g = &t->slots[i];
        if (g->n == 0) return g;
        if (g->n == n && memcmp(g->w, w, n * sizeof *w) == 0) return g;
    }
}

static void gt_grow(gram_table *t) {
    gram_table bigger = { lk_xcalloc(t->cap ? t->cap * 2 : 64, sizeof(gram)), t->cap ? t->cap * 2 : 64, t->used };
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].n) *gt_slot(&bigger, t->slots[i].w, t->slots[i].n) = t->slots[i];
    free(t->slots);
    *t = bigger;
}

static void gt_add(gram_table *t, const uint32_t *w, uint32_t n) {
    if (2 * (t->used + 1) > t->cap) gt_grow(t);
    gram *g = gt_slot(t, w, n);
    if (g->n == 0) {
        memset(g->w, 0, sizeof g->w);
        memcpy(g->w, w, n * sizeof *w);
        g->n = n;
        t->used++;
    }
    g->count++;
}

static uint32_t gt_count(const gram_table *t, const uint32_t *w, uint32_t n) {
    if (t->cap == 0) return 0;
    return gt_slot(t, w, n)->count;
}

/* ---- words ---- */

typedef struct word_entry {
    const char *s;              /* NULL: empty slot */
    size_t len;
    uint32_t id;
} word_entry;

/* The samples as word-id sequences, with what the metrics need. */
typedef struct corpus {
    size_t n;
    char **lower;               /* [n] lower-cased copies the word table points into */
    uint32_t **ids;             /* [n][len[i]] */
    size_t *len;
    gram_table *grams;          /* [n] every n-gram of order 1..4 of each sample */
    word_entry *words;          /* the string table */
    size_t words_cap, n_words;
} corpus;

static bool is_word_byte(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static uint64_t bytes_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return lk_mix64(h);
}

static word_entry *word_slot(word_entry *tab, size_t cap, const char *s, size_t len) {
    for (size_t i = bytes_hash(s, len) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (!tab[i].s || (tab[i].len == len && memcmp(tab[i].s, s, len) == 0)) return &tab[i];
    }
}

static uint32_t intern(corpus *c, const char *s, size_t len) {
    if (2 * (c->n_words + 1) > c->words_cap) {
        size_t cap = c->words_cap ? c->words_cap * 2 : 256;
        word_entry *tab = lk_xcalloc(cap, sizeof *tab);
        for (size_t i = 0; i < c->words_cap; i++)
            if (c->words[i].s) *word_slot(tab, cap, c->words[i].s, c->words[i].len) = c->words[i];
        free(c->words);
        c->words = tab;
        c->words_cap = cap;
    }
    word_entry *e = word_slot(c->words, c->words_cap, s, len);
    if (!e->s) *e = (word_entry){ s, len, (uint32_t)c->n_words++ };
    return e->id;
}

static void corpus_init(corpus *c, const char *const *texts, size_t n) {
    memset(c, 0, sizeof *c);
    c->n = n;
    c->lower = lk_xcalloc(n ? n : 1, sizeof *c->lower);
    c->ids = lk_xcalloc(n ? n : 1, sizeof *c->ids);
    c->len = lk_xcalloc(n ? n : 1, sizeof *c->len);
    c->grams = lk_xcalloc(n ? n : 1, sizeof *c->grams);
    for (size_t i = 0; i < n; i++) {
        char *s = c->lower[i] = lk_xstrdup(texts[i] ? texts[i] : "");
        size_t slen = strlen(s), cap = slen / 2 + 1; /* at most one word per two bytes */
        c->ids[i] = lk_xmalloc(cap * sizeof(uint32_t));
        for (size_t k = 0; k < slen;) {
            if (!is_word_byte((unsigned char)s[k])) {
                k++;
                continue;
            }
            size_t start = k;
            for (; k < slen && is_word_byte((unsigned char)s[k]); k++)
                if (s[k] >= 'A' && s[k] <= 'Z') s[k] = (char)(s[k] + 32);
            c->ids[i][c->len[i]++] = intern(c, s + start, k - start);
        }
        for (uint32_t order = 1; order <= MAX_ORDER; order++)
            for (size_t k = 0; k + order <= c->len[i]; k++) gt_add(&c->grams[i], c->ids[i] + k, order);
    }
}

static void corpus_free(corpus *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->lower[i]);
        free(c->ids[i]);
        free(c->grams[i].slots);
    }
    free(c->lower);
    free(c->ids);
    free(c->len);
    free(c->grams);
    free(c->words);
}

/* ---- metrics ---- */

/* BLEU-4 of sample cand against the samples refs[n_refs] (see diversity_bleu in the header). */
static double bleu(const corpus *c, size_t cand, const size_t *refs, size_t n_refs) {
    size_t len = c->len[cand];
    if (len == 0 || n_refs == 0) return 0;
    double matches[MAX_ORDER + 1] = {0}, totals[MAX_ORDER + 1] = {0};
    const gram_table *t = &c->grams[cand];
    for (size_t s = 0; s < t->cap; s++) {
        const gram *g = &t->slots[s];
        if (g->n == 0) continue;
        uint32_t max_ref = 0;
        for (size_t r = 0; r < n_refs && max_ref < g->count; r++) {
            uint32_t k = gt_count(&c->grams[refs[r]], g->w, g->n);
            if (k > max_ref) max_ref = k;
        }
        matches[g->n] += LK_MIN(g->count, max_ref);
    }
    if (matches[1] == 0) return 0;
    double log_sum = 0;
    for (size_t order = 1; order <= MAX_ORDER; order++) {
        totals[order] = len >= order ? (double)(len - order + 1) : 0;
        double denom = LK_MAX(1.0, totals[order]);
        double p = matches[order] > 0 ? matches[order] / denom : 0.1 / denom;
        log_sum += 0.25 * log(p);
    }
    size_t closest = c->len[refs[0]];
    for (size_t r = 1; r < n_refs; r++) {
        size_t rl = c->len[refs[r]];
        size_t d = rl > len ? rl - len : len - rl, dc = closest > len ? closest - len : len - closest;
        if (d < dc || (d == dc && rl < closest)) closest = rl;
    }
    double bp = len > closest ? 1.0 : exp(1.0 - (double)closest / (double)len);
    return bp * exp(log_sum);
}

/* Unique / total n-grams of one order over all samples. */
static double distinct(const corpus *c, uint32_t order) {
    gram_table all = {0};
    double total = 0;
    for (size_t i = 0; i < c->n; i++)
        for (size_t k = 0; k + order <= c->len[i]; k++) {
            gt_add(&all, c->ids[i] + k, order);
            total++;
        }
    double unique = (double)all.used;
    free(all.slots);
    return total > 0 ? unique / total : 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted distinct word ids of each sample, for Jaccard; set_len[i] gets each count. */
static uint32_t **word_sets(const corpus *c, size_t *set_len) {
    uint32_t **sets = lk_xcalloc(c->n, sizeof *sets);
    for (size_t i = 0; i < c->n; i++) {
        sets[i] = lk_xmalloc((c->len[i] ? c->len[i] : 1) * sizeof(uint32_t));
        memcpy(sets[i], c->ids[i], c->len[i] * sizeof(uint32_t));
        qsort(sets[i], c->len[i], sizeof(uint32_t), cmp_u32);
        size_t m = 0;
        for (size_t k = 0; k < c->len[i]; k++)
            if (m == 0 || sets[i][m - 1] != sets[i][k]) sets[i][m++] = sets[i][k];
        set_len[i] = m;
    }
    return sets;
}

static double mean_jaccard(const corpus *c) {
    if (c->n < 2) return 0;
    size_t *set_len = lk_xcalloc(c->n, sizeof *set_len);
    uint32_t **sets = word_sets(c, set_len);
    double sum = 0, pairs = 0;
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = i + 1; j < c->n; j++) {
            size_t a = 0, b = 0, both = 0;
            while (a < set_len[i] && b < set_len[j]) {
                if (sets[i][a] == sets[j][b]) both++, a++, b++;
                else if (sets[i][a] < sets[j][b]) a++;
                else b++;
            }
            size_t uni = set_len[i] + set_len[j] - both;
            sum += uni == 0 ? 1.0 : (double)both / (double)uni;
            pairs++;
        }
    for (size_t i = 0; i < c->n; i++) free(sets[i]);
    free(sets);
    free(set_len);
    return sum / pairs;
}

static double unigram_entropy(const corpus *c) {
    double *count = lk_xcalloc(c->n_words ? c->n_words : 1, sizeof *count), total = 0;
    for (size_t i = 0; i < c->n; i++)
        for (size_t k = 0; k < c->len[i]; k++) count[c->ids[i][k]]++, total++;
    double h = 0;
    for (size_t w = 0; w < c->n_words; w++)
        if (count[w] > 0) h -= count[w] / total * log2(count[w] / total);
    free(count);
    return h;
}

void diversity_compute(const char *const *texts, size_t n, diversity *out) {
    memset(out, 0, sizeof *out);
    out->n_samples = n;
    if (n == 0) return;
    corpus c;
    corpus_init(&c, texts, n);

    double words = 0;
    for (size_t i = 0; i < n; i++) words += (double)c.len[i];
    out->mean_words = words / (double)n;
    out->distinct1 = distinct(&c, 1);
    out->distinct2 = distinct(&c, 2);
    out->entropy = unigram_entropy(&c);
    out->jaccard = mean_jaccard(&c);
    if (n >= 2) {
        size_t *refs = lk_xmalloc((n - 1) * sizeof *refs);
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            size_t m = 0;
            for (size_t j = 0; j < n; j++)
                if (j != i) refs[m++] = j;
            sum += bleu(&c, i, refs, m);
        }
        out->self_bleu = sum / (double)n;
        free(refs);
    }
    corpus_free(&c);
}

double diversity_bleu(const char *cand, const char *const *refs, size_t n_refs) {
    const char **texts = lk_xmalloc((n_refs + 1) * sizeof *texts);
    size_t *idx = lk_xmalloc((n_refs ? n_refs : 1) * sizeof *idx);
    texts[0] = cand;
    for (size_t r = 0; r < n_refs; r++) texts[r + 1] = refs[r], idx[r] = r + 1;
    corpus c;
    corpus_init(&c, texts, n_refs + 1);
    double b = bleu(&c, 0, idx, n_refs);
    corpus_free(&c);
    free(texts);
    free(idx);
    return b;
}

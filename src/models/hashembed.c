/* hashembed.c — builtin:hash: feature hashing of words, word bigrams and character n-grams.
 *
 * The text is decoded from UTF-8 into lower-cased code points and split into words: maximal runs
 * of ASCII letters and digits and of other code points that are not punctuation, symbols or
 * spaces; each CJK ideograph or kana is a word of its own (those scripts do not separate words).
 * Every word gives three kinds of feature:
 *   the word itself                              weight 1.0
 *   the word and the next one (a bigram)         weight 0.5
 *   each character n-gram (n = 3..5) of <word>   weight 0.8 / sqrt(number of n-grams of the word)
 * so a word's n-grams together weigh 0.8 in L2 terms whatever its length, below the word itself.
 * Common English function words ("the", "to", "how") and their features weigh a fifth of that.
 * (A word longer than 64 code points is cut to its first 64: memory stays bounded.)
 * Each feature is a 64-bit hash (FNV-1a over its code points with a per-family seed, then the
 * murmur3 finalizer) that picks a bucket (h % dim) and a sign (the top bit). Equal features are
 * gathered first so that a feature seen tf times counts 1 + ln tf times its weight (sublinear
 * term frequency); then the vector is L2-normalised. Everything is fixed-seed arithmetic on code
 * point values, so a text embeds the same on every machine. */
#include "models/hashembed.h"
#include "base/base.h"

#include <math.h>

enum { FAMILY_WORD = 1, FAMILY_BIGRAM = 2, FAMILY_NGRAM = 3 };

#define WEIGHT_WORD 1.0
#define WEIGHT_BIGRAM 0.5
#define WEIGHT_NGRAMS 0.8

/* ---- characters ---- */

/* Decode one code point at s[*i] (advancing *i); a malformed sequence is one byte of U+FFFD. */
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
    unsigned char c = s[*i];
    int n = lk_utf8_len(c);
    if (n == 0 || *i + (size_t)n > len) {
        (*i)++;
        return 0xFFFD;
    }
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1Fu : n == 3 ? c & 0x0Fu : c & 0x07u;
    for (int k = 1; k < n; k++) {
        unsigned char d = s[*i + (size_t)k];
        if ((d & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (d & 0x3Fu);
    }
    static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    *i += (size_t)n;
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD; /* overlong, surrogate */
    return cp;
}

/* Code points that separate words beyond ASCII: Latin-1 punctuation and symbols, general
 * punctuation, currency, letterlike and math symbols, arrows, box drawing and dingbats, CJK
 * punctuation, fullwidth ASCII punctuation, specials and the emoji planes. */
static bool is_separator(uint32_t c) {
    if (c < 0x80) return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    if (c <= 0xBF) return c != 0xAA && c != 0xB5 && c != 0xBA; /* ª µ º are letters */
    if (c == 0xD7 || c == 0xF7) return true;                  /* × ÷ */
    if (c == 0x37E || c == 0x387) return true;                /* Greek question mark, ano teleia */
    if (c >= 0x55A && c <= 0x55F) return true;                /* Armenian punctuation */
    if (c == 0x589 || c == 0x5BE || c == 0x5C0 || c == 0x5C3 || c == 0x5C6) return true;
    if (c == 0x60C || c == 0x61B || c == 0x61F || c == 0x6D4) return true; /* Arabic , ; ? . */
    if (c == 0x964 || c == 0x965) return true;                /* danda */
    if (c == 0x1680 || c == 0x180E) return true;              /* spaces */
    if (c >= 0x2000 && c <= 0x2BFF) return true;              /* punctuation .. arrows, dingbats */
    if (c >= 0x2E00 && c <= 0x2E7F) return true;              /* supplemental punctuation */
    if (c >= 0x3000 && c <= 0x303F) return true;              /* CJK symbols and punctuation */
    if (c >= 0xFE00 && c <= 0xFE0F) return true;              /* variation selectors */
    if (c >= 0xFE10 && c <= 0xFE6F) return true;              /* vertical, compatibility, small forms */
    if (c == 0xFEFF) return true;                             /* BOM */
    if (c >= 0xFF00 && c <= 0xFF0F) return true;              /* fullwidth ASCII punctuation */
    if ((c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65))
        return true;
    if (c >= 0xFFF0 && c <= 0xFFFF) return true;              /* specials, U+FFFD */
    if (c >= 0x1F000 && c <= 0x1FAFF) return true;            /* emoji, pictographs */
    if (c >= 0xE0000) return true;                            /* tags, variation selectors */
    return false;
}

/* Scripts without spaces between words: each character is a word. */
static bool is_single_char_word(uint32_t c) {
    return (c >= 0x3040 && c <= 0x30FF) ||   /* hiragana, katakana */
           (c >= 0x3400 && c <= 0x4DBF) ||   /* CJK extension A */
           (c >= 0x4E00 && c <= 0x9FFF) ||   /* CJK unified ideographs */
           (c >= 0xF900 && c <= 0xFAFF) ||   /* CJK compatibility ideographs */
           (c >= 0x20000 && c <= 0x3FFFF);   /* CJK extensions B.. */
}

/* Lower case for ASCII, Latin-1, Latin Extended-A, basic Greek and basic Cyrillic. */
static uint32_t to_lower(uint32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x130) return 'i'; /* İ */
    if (c >= 0x100 && c <= 0x137) return c | 1;
    if (c >= 0x139 && c <= 0x148) return c & 1 ? c + 1 : c;
    if (c >= 0x14A && c <= 0x177) return c | 1;
    if (c == 0x178) return 0xFF; /* Ÿ */
    if (c >= 0x179 && c <= 0x17E) return c & 1 ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c == 0x3C2) return 0x3C3; /* final sigma */
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    return c;
}

/* ---- hashing ---- */

static uint64_t fnv_start(int family) { return 0xcbf29ce484222325ULL ^ ((uint64_t)family * 0x9E3779B97F4A7C15ULL); }

static uint64_t fnv_add(uint64_t h, const uint32_t *cp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        for (int b = 0; b < 4; b++) { /* the code point's bytes, little-endian, on every machine */
            h ^= (c >> (8 * b)) & 0xFF;
            h *= 0x100000001b3ULL;
        }
    }
    return h;
}

/* ---- features ---- */

typedef struct feature {
    uint64_t h;
    double w;                   /* the weight of one occurrence */
} feature;

/* The features of a text, gathered before weighting. Should the list fail to grow (a huge text
 * and no memory), what it holds goes straight into the vector and so does everything after:
 * the vector is still right but for plain instead of sublinear term frequency. */
typedef struct features {
    feature *f;
    size_t n, cap;
    bool direct;
    float *out;
    size_t dim;
} features;

static void add_to_vector(float *v, size_t dim, uint64_t h, double w) {
    v[h % dim] += (float)((h >> 63) ? -w : w);
}

static void feature_add(features *fs, uint64_t h, double w) {
    if (!fs->direct && fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 1024;
        feature *f = cap > SIZE_MAX / sizeof *f ? NULL : realloc(fs->f, cap * sizeof *f);
        if (f) {
            fs->f = f;
            fs->cap = cap;
        } else {
            for (size_t i = 0; i < fs->n; i++) add_to_vector(fs->out, fs->dim, fs->f[i].h, fs->f[i].w);
            fs->n = 0;
            fs->direct = true;
        }
    }
    if (fs->direct) add_to_vector(fs->out, fs->dim, h, w);
    else fs->f[fs->n++] = (feature){ h, w };
}

/* Common English function words: they and their pieces weigh STOP_FACTOR as much as other words
 * (there are no document frequencies to learn this from, and without it "how to ..." matches
 * every text with "to" in it about as well as the one sharing its subject). */
#define STOP_FACTOR 0.2
static const char *const stop_words[] = {
    "a", "about", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do",
    "does", "for", "from", "had", "has", "have", "he", "her", "here", "his", "how", "i", "if", "in", "into",
    "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "should", "so", "than",
    "that", "the", "their", "then", "there", "these", "they", "this", "those", "to", "was", "we", "were",
    "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
};

static bool is_stop_word(const uint32_t *w, size_t n) {
    if (n > 6) return false;
    char a[8];
    for (size_t i = 0; i < n; i++) {
        if (w[i] >= 0x80) return false;
        a[i] = (char)w[i];
    }
    a[n] = 0;
    for (size_t i = 0; i < LK_ARRAY_LEN(stop_words); i++)
        if (strcmp(a, stop_words[i]) == 0) return true;
    return false;
}

/* Words longer than this many code points are cut (their features come from the first part). */
enum { MAX_WORD = 64 };

typedef struct word_state {
    uint32_t cp[MAX_WORD + 2];  /* '<', the word, '>' */
    size_t len;                 /* code points of the word so far */
    uint64_t prev;              /* hash of the previous word */
    double prev_factor;         /* its weight factor (STOP_FACTOR for a stop word, else 1) */
    bool has_prev;
} word_state;

/* Emit the features of the word in ws (if any) and start a new one. */
static void word_end(word_state *ws, features *fs) {
    size_t n = ws->len;
    if (n == 0) return;
    const uint32_t *word = ws->cp + 1;
    double factor = is_stop_word(word, n) ? STOP_FACTOR : 1.0;
    uint64_t hw = lk_mix64(fnv_add(fnv_start(FAMILY_WORD), word, n));
    feature_add(fs, hw, factor * WEIGHT_WORD);
    if (ws->has_prev)
        feature_add(fs, lk_mix64((ws->prev ^ fnv_start(FAMILY_BIGRAM)) * 0x9E3779B97F4A7C15ULL + hw),
                    LK_MIN(factor, ws->prev_factor) * WEIGHT_BIGRAM);
    ws->prev = hw;
    ws->prev_factor = factor;
    ws->has_prev = true;

    ws->cp[0] = '<';
    ws->cp[n + 1] = '>';
    size_t padded = n + 2, count = 0;
    for (size_t g = 3; g <= 5; g++) count += padded >= g ? padded - g + 1 : 0;
    double w = factor * WEIGHT_NGRAMS / sqrt((double)count);
    for (size_t g = 3; g <= 5; g++)
        for (size_t i = 0; i + g <= padded; i++)
            feature_add(fs, lk_mix64(fnv_add(fnv_start(FAMILY_NGRAM), ws->cp + i, g)), w);
    ws->len = 0;
}

static int cmp_feature(const void *a, const void *b) {
    const feature *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return x->w < y->w ? -1 : x->w > y->w; /* a total order: the same sums on every libc */
}

void hashembed(const char *text, size_t len, float *out, size_t dim) {
    if (dim == 0) return;
    memset(out, 0, dim * sizeof *out);
    features fs = { .out = out, .dim = dim };
    word_state ws = {0};
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        uint32_t c = to_lower(utf8_next(s, len, &i));
        if (is_single_char_word(c)) {
            word_end(&ws, &fs);
            ws.cp[1] = c;
            ws.len = 1;
            word_end(&ws, &fs);
        } else if (is_separator(c)) {
            word_end(&ws, &fs);
        } else if (ws.len < MAX_WORD) {
            ws.cp[1 + ws.len++] = c;
        }
    }
    word_end(&ws, &fs);

    /* equal features together: tf occurrences weigh (1 + ln tf) x their mean weight */
    if (fs.n) qsort(fs.f, fs.n, sizeof *fs.f, cmp_feature);
    for (size_t a = 0, b; a < fs.n; a = b) {
        double sum = 0;
        for (b = a; b < fs.n && fs.f[b].h == fs.f[a].h; b++) sum += fs.f[b].w;
        double tf = (double)(b - a);
        add_to_vector(out, dim, fs.f[a].h, (1 + log(tf)) * sum / tf);
    }
    free(fs.f);

    double norm = 0;
    for (size_t k = 0; k < dim; k++) norm += (double)out[k] * out[k];
    if (norm == 0) return;
    float scale = (float)(1 / sqrt(norm));
    for (size_t k = 0; k < dim; k++) out[k] *= scale;
}

/* tok_bpe.c — byte-level BPE (tokenizer.ggml.model "gpt2"): GPT-2, Llama 3, Qwen2, ...
 *
 * The text is cut into words by the pre-tokenizer (pretok.c). Each byte of a word becomes a
 * symbol whose token is the vocabulary string of the byte's printable stand-in character (GPT-2's
 * bytes_to_unicode: '!'..'~', '¡'..'¬', '®'..'ÿ' stand for themselves, the 68 other bytes for
 * U+0100 onwards, so a space is 'Ġ'). Then, like Hugging Face's BPE, the adjacent pair with the
 * lowest merge rank is merged, again and again, leftmost first among equal ranks, until no
 * adjacent pair has a merge. Merges are looked up by pair of token ids in a hash map built from
 * tokenizer.ggml.merges ("left right" strings, rank = position), so merging never touches
 * strings. A priority queue holds candidate pairs; a candidate whose symbols changed since it
 * was queued is recognised by their ids and skipped. */
#include "engine/tok_internal.h"

/* ---- the byte <-> character mapping ---- */

static bool printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

uint32_t bpe_byte_to_cp(unsigned char b) {
    if (printable(b))
        return b;
    if (b <= 0x20)                /* 0x00..0x20 -> U+0100..U+0120 */
        return 0x100 + b;
    if (b <= 0xA0)                /* 0x7F..0xA0 -> U+0121..U+0142 */
        return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 33 + 34;       /* 0xAD -> U+0143 */
}

int bpe_cp_to_byte(uint32_t cp) {
    if (cp < 0x100)
        return printable(cp) ? (int)cp : -1;
    if (cp <= 0x120)
        return (int)(cp - 0x100);
    if (cp <= 0x142)
        return (int)(cp - 0x100 - 33 + 0x7F);
    if (cp == 0x143)
        return 0xAD;
    return -1;
}

/* Write the UTF-8 of code point cp (< 0x800 here) to p; returns its length. */
static size_t put_cp(char *p, uint32_t cp) {
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    p[0] = (char)(0xC0 | (cp >> 6));
    p[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

void bpe_init_bytes(tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char s[2];
        size_t n = put_cp(s, bpe_byte_to_cp((unsigned char)b));
        t->byte_id[b] = tok_lookup(t, s, n);
    }
}

/* ---- the merge map ---- */

static size_t merge_hash(uint64_t key) {
    key ^= key >> 29;
    key *= 0x9E3779B97F4A7C15ull;
    key ^= key >> 32;
    return (size_t)key;
}

static tok_merge *merge_find(const tokenizer *t, int32_t left, int32_t right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t i = merge_hash(key) & t->merges_mask;; i = (i + 1) & t->merges_mask) {
        tok_merge *m = &t->merges[i];
        if (m->key == key || m->key == TOK_MERGE_EMPTY)
            return m;
    }
}

int bpe_load_merges(tokenizer *t, const gguf_value *merges, lk_error *err) {
    uint64_t n = merges->arr.n;
    if (n > INT32_MAX)
        return lk_errorf(err, LK_EFORMAT, "tokenizer.ggml.merges: %" PRIu64 " merges, more than "
                         "a vocabulary can use", n);
    size_t cap = 16;
    while (cap < n + n / 2) /* at most 2/3 full */
        cap *= 2;
    t->merges = malloc(cap * sizeof *t->merges);
    if (!t->merges)
        return lk_errorf(err, LK_ENOMEM, "tokenizer.ggml.merges: out of memory for %" PRIu64
                         " merges", n);
    for (size_t i = 0; i < cap; i++)
        t->merges[i].key = TOK_MERGE_EMPTY;
    t->merges_mask = cap - 1;

    char *joined = NULL;
    size_t joined_cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        const gguf_str *s = &merges->arr.strs[i];
        /* "left right": the first space after the first byte separates them. */
        const char *sp = s->len > 1 ? memchr(s->ptr + 1, ' ', s->len - 1) : NULL;
        if (!sp) {
            free(joined);
            return lk_errorf(err, LK_EFORMAT, "tokenizer.ggml.merges[%" PRIu64 "]: '%.*s' is not "
                             "a pair 'left right'", i, (int)LK_MIN(s->len, 64), s->ptr);
        }
        size_t llen = (size_t)(sp - s->ptr), rlen = s->len - llen - 1;
        if (llen + rlen > joined_cap) {
            joined_cap = llen + rlen + 64;
            char *p = realloc(joined, joined_cap);
            if (!p) {
                free(joined);
                return lk_errorf(err, LK_ENOMEM, "tokenizer.ggml.merges: out of memory");
            }
            joined = p;
        }
        int32_t left = tok_lookup(t, s->ptr, llen);
        int32_t right = tok_lookup(t, sp + 1, rlen);
        memcpy(joined, s->ptr, llen);
        memcpy(joined + llen, sp + 1, rlen);
        int32_t result = tok_lookup(t, joined, llen + rlen);
        /* A merge of strings that are not tokens can never apply: skip it, as BPE would. */
        if (left < 0 || right < 0 || result < 0)
            continue;
        tok_merge *m = merge_find(t, left, right);
        if (m->key == TOK_MERGE_EMPTY) { /* a repeated pair keeps its first (best) rank */
            m->key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
            m->rank = (int32_t)i;
            m->result = result;
        }
    }
    free(joined);
    return 0;
}

/* ---- merging one word ---- */

typedef struct bpe_sym {
    int32_t id;          /* -1: a byte with no token */
    int32_t prev, next;  /* neighbours in the word; -1 at the ends */
} bpe_sym;

/* The ids of a pair, as the stamp that tells a stale candidate. */
static uint64_t pack_ids(int32_t a, int32_t b) {
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

/* Queue the pair (left, right) if the vocabulary merges it. */
static bool try_pair(const tokenizer *t, tok_work *w, int32_t left, int32_t right) {
    if (left < 0 || right < 0)
        return true;
    const bpe_sym *sym = w->sym;
    if (sym[left].id < 0 || sym[right].id < 0)
        return true;
    const tok_merge *m = merge_find(t, sym[left].id, sym[right].id);
    if (m->key == TOK_MERGE_EMPTY)
        return true;
    tok_cand c = { -(float)m->rank, left, right, m->result, pack_ids(sym[left].id, sym[right].id) };
    return tok_heap_push(w, &c);
}

static bool emit(const tokenizer *t, tok_work *w, int32_t id) {
    if (id < 0)
        id = t->unk; /* a byte the vocabulary cannot spell; dropped when there is no unk either */
    return id < 0 || tok_push(w, id);
}

/* The whole word as one token, when the pre-tokenizer says so (ignore_merges). */
static int32_t whole_word(const tokenizer *t, tok_work *w, const unsigned char *s, size_t n) {
    if (n > SIZE_MAX / 2 || !tok_reserve((void **)&w->buf, &w->cap_buf, 2 * n, 1, w))
        return -2;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += put_cp(w->buf + len, bpe_byte_to_cp(s[i]));
    int32_t id = tok_lookup(t, w->buf, len);
    if (id >= 0 && t->tokens[id].type != TOK_NORMAL && t->tokens[id].type != TOK_UNDEFINED)
        id = -1;
    return id;
}

static int encode_word(const tokenizer *t, tok_work *w, const unsigned char *s, size_t n) {
    if (n == 1)
        return emit(t, w, t->byte_id[s[0]]) ? 0 : LK_ENOMEM;
    if (t->pre.ignore_merges) {
        int32_t id = whole_word(t, w, s, n);
        if (id == -2)
            return LK_ENOMEM;
        if (id >= 0)
            return tok_push(w, id) ? 0 : LK_ENOMEM;
    }
    if (n > INT32_MAX)
        return lk_errorf(w->err, LK_ERANGE, "tokenizer: a %zu-byte word is too long to merge", n);
    if (!tok_reserve(&w->sym, &w->cap_sym, n, sizeof(bpe_sym), w))
        return LK_ENOMEM;
    bpe_sym *sym = w->sym;
    for (size_t i = 0; i < n; i++) {
        sym[i].id = t->byte_id[s[i]];
        sym[i].prev = (int32_t)i - 1;
        sym[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    w->n_heap = 0;
    for (size_t i = 1; i < n; i++)
        if (!try_pair(t, w, (int32_t)i - 1, (int32_t)i))
            return LK_ENOMEM;
    while (w->n_heap > 0) {
        tok_cand c = tok_heap_pop(w);
        sym = w->sym;
        bpe_sym *l = &sym[c.left], *r = &sym[c.right];
        if (pack_ids(l->id, r->id) != c.stamp || l->next != c.right)
            continue; /* stale: one side merged since */
        l->id = c.result;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = c.left;
        r->id = -2; /* merged away */
        r->prev = r->next = -1;
        if (!try_pair(t, w, l->prev, c.left) || !try_pair(t, w, c.left, l->next))
            return LK_ENOMEM;
    }
    sym = w->sym;
    for (int32_t i = 0; i >= 0; i = sym[i].next)
        if (!emit(t, w, sym[i].id))
            return LK_ENOMEM;
    return 0;
}

int bpe_encode(const tokenizer *t, tok_work *w, const char *text, size_t len) {
    int rc = pretok_split(&t->pre, w, text, len);
    if (rc)
        return rc;
    /* encode_word reuses w->buf and the heap but not the spans, so walking them is safe. */
    for (size_t i = 0; i < w->n_spans; i++) {
        rc = encode_word(t, w, (const unsigned char *)text + w->spans[i].off, w->spans[i].len);
        if (rc)
            return rc;
    }
    return 0;
}

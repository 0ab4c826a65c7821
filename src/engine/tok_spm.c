/* tok_spm.c — SentencePiece BPE (tokenizer.ggml.model "llama"): Llama 2, Mistral, Phi-3, ...
 *
 * Spaces become U+2581 ("▁"), and one is put in front of the text (add_space_prefix). The text
 * is split into UTF-8 characters; then, as SentencePiece's BPE model does, the adjacent pair
 * whose concatenation is the vocabulary piece with the highest score is merged, leftmost first
 * among equal scores, until no adjacent pair forms a piece. Only normal, user-defined, unused
 * and untyped tokens can be formed this way (never control, unknown or byte tokens, so no text
 * can spell "<s>"). A character left over that is no token becomes its UTF-8 bytes as <0xXX>
 * tokens (byte fallback), or the unknown token when the vocabulary has no byte tokens. */
#include "engine/tok_internal.h"

#include <stdio.h>

#define SPACE_MARK "\xE2\x96\x81" /* U+2581, SentencePiece's visible space */

static bool mergeable(const tokenizer *t, int32_t id);

/* Does the piece have a ▁ that is not preceded by another ▁ (and is not at its start)? */
static bool space_inside(const char *s, size_t n) {
    for (size_t i = 1; i + 3 <= n; i++)
        if (memcmp(s + i, SPACE_MARK, 3) == 0 && (i < 3 || memcmp(s + i - 3, SPACE_MARK, 3) != 0))
            return true;
    return false;
}

void spm_init(tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        t->byte_id[b] = tok_lookup(t, s, 6);
    }
    t->spm_words = true;
    for (int32_t id = 0; id < t->n_vocab && t->spm_words; id++) {
        const tok_token *tk = &t->tokens[id];
        if (mergeable(t, id) && space_inside(t->texts + tk->text_off, tk->text_len))
            t->spm_words = false;
    }
}

typedef struct spm_sym {
    uint32_t start, len;  /* bytes of the escaped text; len 0 once merged away */
    int32_t prev, next;
    int32_t id;           /* the piece formed by merging; -1 for a single character */
} spm_sym;


/* Can merging form this token? */
static bool mergeable(const tokenizer *t, int32_t id) {
    if (id < 0)
        return false;
    int type = t->tokens[id].type;
    return type == TOK_NORMAL || type == TOK_USER_DEFINED || type == TOK_UNUSED ||
           type == TOK_UNDEFINED;
}

static bool try_pair(const tokenizer *t, tok_work *w, int32_t left, int32_t right) {
    if (left < 0 || right < 0)
        return true;
    const spm_sym *sym = w->sym;
    uint32_t len = sym[left].len + sym[right].len;
    int32_t id = tok_lookup(t, w->buf + sym[left].start, len);
    if (!mergeable(t, id))
        return true;
    tok_cand c = { t->tokens[id].score, left, right, id, len };
    return tok_heap_push(w, &c);
}

/* The length of the character at p: a whole valid UTF-8 sequence, else one byte. */
static uint32_t char_len(const unsigned char *p, size_t n) {
    size_t l = (size_t)lk_utf8_len(p[0]);
    if (l <= 1 || l > n)
        return 1;
    for (size_t i = 1; i < l; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 1;
    return (uint32_t)l;
}

/* Output a symbol: its piece, else its bytes as byte tokens, else the unknown token. */
static bool emit(const tokenizer *t, tok_work *w, const spm_sym *s) {
    int32_t id = s->id >= 0 ? s->id : tok_lookup(t, w->buf + s->start, s->len);
    if (mergeable(t, id))
        return tok_push(w, id);
    const unsigned char *p = (const unsigned char *)w->buf + s->start;
    bool all_bytes = true;
    for (uint32_t i = 0; i < s->len; i++)
        all_bytes = all_bytes && t->byte_id[p[i]] >= 0;
    if (all_bytes) {
        for (uint32_t i = 0; i < s->len; i++)
            if (!tok_push(w, t->byte_id[p[i]]))
                return false;
        return true;
    }
    return t->unk < 0 || tok_push(w, t->unk);
}

/* Merge the characters of w->buf[from..to) and output the tokens. */
static int merge_segment(const tokenizer *t, tok_work *w, size_t from, size_t to) {
    if (!tok_reserve(&w->sym, &w->cap_sym, to - from, sizeof(spm_sym), w))
        return LK_ENOMEM;
    spm_sym *sym = w->sym;
    int32_t n_sym = 0;
    for (size_t off = from; off < to;) {
        uint32_t l = char_len((const unsigned char *)w->buf + off, to - off);
        sym[n_sym] = (spm_sym){ (uint32_t)off, l, n_sym - 1, -1, -1 };
        if (n_sym > 0)
            sym[n_sym - 1].next = n_sym;
        n_sym++;
        off += l;
    }

    w->n_heap = 0;
    for (int32_t i = 1; i < n_sym; i++)
        if (!try_pair(t, w, i - 1, i))
            return LK_ENOMEM;
    while (w->n_heap > 0) {
        tok_cand c = tok_heap_pop(w);
        sym = w->sym;
        spm_sym *l = &sym[c.left], *r = &sym[c.right];
        if (l->len == 0 || r->len == 0 || l->next != c.right || l->len + r->len != c.stamp)
            continue; /* stale: one side changed since it was queued */
        l->len += r->len;
        l->id = c.result;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = c.left;
        r->len = 0;
        if (!try_pair(t, w, l->prev, c.left) || !try_pair(t, w, c.left, l->next))
            return LK_ENOMEM;
    }
    sym = w->sym;
    for (int32_t i = 0; i >= 0; i = sym[i].next)
        if (!emit(t, w, &sym[i]))
            return LK_ENOMEM;
    return 0;
}

static bool is_space_mark(const char *p) {
    return memcmp(p, SPACE_MARK, 3) == 0;
}

int spm_encode(const tokenizer *t, tok_work *w, const char *text, size_t len, bool space_prefix) {
    /* Escape: ' ' -> U+2581 (3 bytes), with one in front when asked. */
    if (len > (UINT32_MAX - 3) / 3)
        return lk_errorf(w->err, LK_ERANGE, "tokenizer: a %zu-byte text is too long for "
                         "SentencePiece (split it)", len);
    if (!tok_reserve((void **)&w->buf, &w->cap_buf, 3 * len + 3, 1, w))
        return LK_ENOMEM;
    size_t n = 0;
    if (space_prefix) {
        memcpy(w->buf, SPACE_MARK, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(w->buf + n, SPACE_MARK, 3);
            n += 3;
        } else {
            w->buf[n++] = text[i];
        }
    }
    if (!t->spm_words)
        return merge_segment(t, w, 0, n);
    /* No piece has a ▁ after another character, so no merge crosses the start of a ▁ run that
     * follows another character: merge word by word, with a small queue each time. */
    size_t from = 0;
    for (size_t i = 3; i + 3 <= n; i++) {
        if (is_space_mark(w->buf + i) && !is_space_mark(w->buf + i - 3)) {
            int rc = merge_segment(t, w, from, i);
            if (rc)
                return rc;
            from = i;
            i += 2;
        }
    }
    return from < n ? merge_segment(t, w, from, n) : 0;
}

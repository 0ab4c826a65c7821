/* tok_internal.h — the tokenizer's insides, shared by tokenizer.c, tok_spm.c, tok_bpe.c and
 * pretok.c and by nothing else (everyone else uses tokenizer.h).
 *
 * A loaded tokenizer is a table of tokens (vocabulary string, decoded piece, score, type), a hash
 * map from vocabulary string to id, for BPE a hash map from a pair of ids to its merge rank and
 * result, the special tokens indexed by first byte for matching in text, and the compiled
 * pre-tokenizer. Each encode call gets its own tok_work (growable scratch arrays), so encoding
 * never writes to the tokenizer. */
#ifndef LK_TOK_INTERNAL_H
#define LK_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <inttypes.h>

#include "engine/tokenizer.h"

#define PRETOK_MAX_REGEX 8

/* A pre-tokenizer: regexes applied in sequence, each splitting every piece that the previous
 * ones produced into matches and the gaps between them. */
typedef struct pretok {
    const char *name;           /* the canonical name from the table in pretok.c */
    int n_re;
    pcre2_code *re[PRETOK_MAX_REGEX];
    bool ignore_merges;         /* a piece that is a whole token is not merged (Llama 3) */
    bool add_bos;               /* the default for tokenizer.ggml.add_bos_token */
} pretok;

typedef struct tok_token {
    uint32_t text_off, text_len;   /* the vocabulary string, in tokenizer.texts */
    uint32_t piece_off, piece_len; /* the decoded bytes, in tokenizer.pieces */
    float score;
    uint8_t type;                  /* enum tok_type */
    bool eog;
} tok_token;

/* One entry of the merge map: the pair (left, right) of token ids merges into result. */
typedef struct tok_merge {
    uint64_t key;                  /* (uint64_t)left << 32 | right; TOK_MERGE_EMPTY when free */
    int32_t rank;
    int32_t result;
} tok_merge;

#define TOK_MERGE_EMPTY UINT64_MAX

struct tokenizer {
    enum tok_model model;
    int32_t n_vocab;
    tok_token *tokens;
    char *texts;                   /* every vocabulary string, NUL-terminated, back to back */
    char *pieces;                  /* every decoded piece, back to back */

    int32_t *map;                  /* open addressing: vocabulary string -> id; -1 free */
    size_t map_mask;

    tok_merge *merges;             /* BPE: open addressing over pairs of ids */
    size_t merges_mask;

    int32_t byte_id[256];          /* BPE: the token of byte b's mapped character;
                                      SPM: the <0xXX> token; -1 when absent */

    /* Special tokens for matching in text: ids sorted by first byte, longer texts first;
     * all[] has control, unknown and user-defined tokens, user[] only the user-defined. */
    int32_t *special_all, *special_user;
    uint32_t all_start[257], user_start[257];

    pretok pre;                    /* BPE only */
    int32_t bos, eos, eot, eom, unk, pad, sep;
    bool add_bos, add_eos, add_space_prefix;
    bool spm_words;                /* SPM: no piece has a ▁ after another character, so text
                                      can be merged word by word (same result, much faster) */
};

/* A range of bytes of the text being encoded. */
typedef struct tok_span {
    size_t off, len;
} tok_span;

/* A merge candidate: symbols left and right (adjacent when queued) would merge into token
 * result. Higher priority merges first, ties to the leftmost pair: SentencePiece queues the
 * merged piece's score, BPE minus the merge rank. stamp is what the caller needs to recognise
 * a candidate made stale by a merge since it was queued (SPM: the merged length; BPE: the two
 * ids, packed). */
typedef struct tok_cand {
    float priority;
    int32_t left, right;
    int32_t result;
    uint64_t stamp;
} tok_cand;

/* Scratch for one encode call. Allocation failures set oom, and the caller reports LK_ENOMEM. */
typedef struct tok_work {
    int32_t *ids;
    size_t n_ids, cap_ids;
    tok_span *spans, *spans2;      /* pre-tokenizer pieces, two buffers swapped per regex */
    size_t n_spans, cap_spans, n_spans2, cap_spans2;
    void *sym;                     /* merge symbols (tok_spm.c / tok_bpe.c decide the layout) */
    size_t cap_sym;
    tok_cand *heap;                /* merge candidates, a binary heap (tok_heap_*) */
    size_t n_heap, cap_heap;
    char *buf;                     /* text scratch (escaped SPM text, byte-level encoded word) */
    size_t cap_buf;
    pcre2_match_data *md;
    bool oom;
    lk_error *err;
} tok_work;

/* tokenizer.c */
/* Queue a merge candidate; false (with w->err set) when out of memory. */
bool tok_heap_push(tok_work *w, const tok_cand *c);
/* Take the best candidate (w->n_heap must be > 0). */
tok_cand tok_heap_pop(tok_work *w);
/* The id of the token whose vocabulary string is TEXT[0..LEN), or -1. */
int32_t tok_lookup(const tokenizer *t, const char *text, size_t len);
/* Append an id to w->ids; false (with w->err set) when out of memory. */
bool tok_push(tok_work *w, int32_t id);
/* Grow *p to hold at least NEED elements of ELEM bytes; false (with w->err set, w->oom) when
 * out of memory. */
bool tok_reserve(void **p, size_t *cap, size_t need, size_t elem, tok_work *w);
void tok_work_free(tok_work *w);

/* pretok.c */
/* Find NAME in the table of pre-tokenizers and compile its regexes. LK_EUNSUPPORTED listing
 * the known names when it is not there. */
int pretok_init(pretok *p, const char *name, lk_error *err);
void pretok_free(pretok *p);
/* Split TEXT[0..LEN) into w->spans (offsets relative to TEXT). 0 or an LK_ code (w->err set). */
int pretok_split(const pretok *p, tok_work *w, const char *text, size_t len);

/* tok_spm.c */
/* Append the SentencePiece tokens of TEXT (spaces not yet escaped) to w->ids; a space is put in
 * front first when space_prefix. */
int spm_encode(const tokenizer *t, tok_work *w, const char *text, size_t len, bool space_prefix);
/* Fill t->byte_id with the <0xXX> tokens and decide t->spm_words. */
void spm_init(tokenizer *t);

/* tok_bpe.c */
int bpe_load_merges(tokenizer *t, const gguf_value *merges, lk_error *err);
void bpe_init_bytes(tokenizer *t);
/* Append the byte-level BPE tokens of TEXT (pre-tokenized here) to w->ids. */
int bpe_encode(const tokenizer *t, tok_work *w, const char *text, size_t len);
/* GPT-2's byte <-> printable character mapping. */
uint32_t bpe_byte_to_cp(unsigned char b);
int bpe_cp_to_byte(uint32_t cp); /* -1 for a code point that no byte maps to */

#endif

/* tokenizer.c — loading a vocabulary from GGUF metadata; encoding around special tokens;
 * decoding, whole and streamed.
 *
 * Loading copies the token strings into one block, decodes every token's piece once (so
 * decoding is a table lookup), builds the string -> id hash map and the index of special tokens,
 * and hands the algorithm-specific parts to tok_spm.c and tok_bpe.c. Every key is checked for
 * its type and every id against the vocabulary; errors name the key.
 *
 * Encoding scans the text for special tokens (leftmost, longest first, as Hugging Face matches
 * added tokens) and gives the text between them to the vocabulary's algorithm. The streaming
 * decoder is a small UTF-8 validator that holds back an incomplete character. */
#include "engine/tok_internal.h"

#include <inttypes.h>

/* ---- the merge queue (both merge algorithms) ---- */

static bool cand_before(const tok_cand *a, const tok_cand *b) {
    return a->priority > b->priority || (a->priority == b->priority && a->left < b->left);
}

bool tok_heap_push(tok_work *w, const tok_cand *c) {
    if (!tok_reserve((void **)&w->heap, &w->cap_heap, w->n_heap + 1, sizeof(tok_cand), w))
        return false;
    tok_cand *h = w->heap;
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_before(c, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = *c;
    return true;
}

tok_cand tok_heap_pop(tok_work *w) {
    tok_cand *h = w->heap;
    tok_cand top = h[0], last = h[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cand_before(&h[c + 1], &h[c]))
            c++;
        if (!cand_before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (n > 0)
        h[i] = last;
    return top;
}

/* ---- the string -> id map ---- */

static size_t str_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return (size_t)(h ^ (h >> 32));
}

static bool text_is(const tokenizer *t, int32_t id, const char *s, size_t n) {
    const tok_token *tk = &t->tokens[id];
    return tk->text_len == n && memcmp(t->texts + tk->text_off, s, n) == 0;
}

int32_t tok_lookup(const tokenizer *t, const char *text, size_t len) {
    for (size_t i = str_hash(text, len) & t->map_mask;; i = (i + 1) & t->map_mask) {
        int32_t id = t->map[i];
        if (id < 0 || text_is(t, id, text, len))
            return id;
    }
}

/* Insert every token; a string that repeats keeps its lowest id. */
static int build_map(tokenizer *t, lk_error *err) {
    size_t cap = 16;
    while (cap < 2 * (size_t)t->n_vocab)
        cap *= 2;
    t->map = malloc(cap * sizeof *t->map);
    if (!t->map)
        return lk_errorf(err, LK_ENOMEM, "tokenizer: out of memory for the token map");
    memset(t->map, 0xFF, cap * sizeof *t->map);
    t->map_mask = cap - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = t->texts + t->tokens[id].text_off;
        size_t n = t->tokens[id].text_len;
        size_t i = str_hash(s, n) & t->map_mask;
        while (t->map[i] >= 0 && !text_is(t, t->map[i], s, n))
            i = (i + 1) & t->map_mask;
        if (t->map[i] < 0)
            t->map[i] = id;
    }
    return 0;
}

/* ---- scratch ---- */

bool tok_reserve(void **p, size_t *cap, size_t need, size_t elem, tok_work *w) {
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            n = need;
        else
            n *= 2;
    }
    void *q = n <= SIZE_MAX / elem ? realloc(*p, n * elem) : NULL;
    if (!q) {
        if (!w->oom)
            lk_errorf(w->err, LK_ENOMEM, "tokenizer: out of memory (%zu items of %zu bytes)", n, elem);
        w->oom = true;
        return false;
    }
    *p = q;
    *cap = n;
    return true;
}

bool tok_push(tok_work *w, int32_t id) {
    if (!tok_reserve((void **)&w->ids, &w->cap_ids, w->n_ids + 1, sizeof(int32_t), w))
        return false;
    w->ids[w->n_ids++] = id;
    return true;
}

void tok_work_free(tok_work *w) {
    free(w->ids);
    free(w->spans);
    free(w->spans2);
    free(w->sym);
    free(w->heap);
    free(w->buf);
    pcre2_match_data_free(w->md);
    memset(w, 0, sizeof *w);
}

/* ---- loading ---- */

/* Find KEY as an array of n >= n_min elements whose type passes ok(); NULL in *out when absent
 * and not required. */
static int get_array(const gguf_file *gf, const char *key, bool required, bool (*ok)(enum gguf_type),
                     const char *want, uint64_t n_min, const gguf_value **out, lk_error *err) {
    *out = NULL;
    const gguf_kv *kv = gguf_find(gf, key);
    if (!kv) {
        if (required)
            return lk_errorf(err, LK_EFORMAT, "%s: missing key (an array of %s)", key, want);
        return 0;
    }
    if (kv->val.type != GGUF_ARRAY)
        return lk_errorf(err, LK_EFORMAT, "%s: expected an array of %s, found %s", key, want,
                         gguf_type_name(kv->val.type));
    if (!ok(kv->val.arr.elem_type))
        return lk_errorf(err, LK_EFORMAT, "%s: expected an array of %s, found an array of %s",
                         key, want, gguf_type_name(kv->val.arr.elem_type));
    if (kv->val.arr.n < n_min)
        return lk_errorf(err, LK_EFORMAT, "%s: %" PRIu64 " entries for %" PRIu64 " tokens", key,
                         kv->val.arr.n, n_min);
    *out = &kv->val;
    return 0;
}

static bool is_string(enum gguf_type t) {
    return t == GGUF_STRING;
}

static bool is_number(enum gguf_type t) {
    return t < GGUF_TYPE_COUNT && t != GGUF_STRING && t != GGUF_ARRAY && t != GGUF_BOOL;
}

static bool is_integer(enum gguf_type t) {
    return is_number(t) && t != GGUF_FLOAT32 && t != GGUF_FLOAT64;
}

/* Read an optional token id. A negative value means "none". An id outside the vocabulary is an
 * error when strict, else ignored (the id keeps its default). */
static int get_id(const gguf_file *gf, const tokenizer *t, const char *key, bool strict,
                  int32_t *id, lk_error *err) {
    int64_t v;
    const gguf_kv *kv = gguf_find(gf, key);
    if (!kv)
        return 0;
    if (kv->val.type == GGUF_UINT64 || kv->val.type == GGUF_UINT32 ||
        kv->val.type == GGUF_UINT16 || kv->val.type == GGUF_UINT8) {
        uint64_t u;
        int rc = gguf_get_u64(gf, key, true, &u, err);
        if (rc)
            return rc;
        v = u > INT64_MAX ? INT64_MAX : (int64_t)u;
    } else {
        int rc = gguf_get_i64(gf, key, true, &v, err);
        if (rc)
            return rc;
    }
    if (v < 0) {
        *id = -1;
    } else if (v >= t->n_vocab) {
        if (strict)
            return lk_errorf(err, LK_EFORMAT, "%s: token id %" PRId64 " is outside the vocabulary "
                             "of %" PRId32 " tokens", key, v, t->n_vocab);
    } else {
        *id = (int32_t)v;
    }
    return 0;
}

/* Names of tokenizer.ggml.model values we do not handle, for the error message. */
static const char *model_desc(const char *model) {
    static const char *const names[][2] = {
        { "bert", "WordPiece" }, { "t5", "Unigram" }, { "rwkv", "RWKV" },
        { "plamo2", "PLaMo-2" }, { "no_vocab", "no vocabulary" }, { "none", "no vocabulary" },
        { "gemma4", "SentencePiece-style BPE" },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(names); i++)
        if (strcmp(model, names[i][0]) == 0)
            return names[i][1];
    return "unknown";
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode token id's piece into p; returns its length (never more than its text's). */
static size_t decode_piece(const tokenizer *t, int32_t id, char *p) {
    const tok_token *tk = &t->tokens[id];
    const char *s = t->texts + tk->text_off;
    size_t n = tk->text_len;
    int type = tk->type;
    if (type == TOK_BYTE && n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
        int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
        if (hi >= 0 && lo >= 0) {
            p[0] = (char)(hi << 4 | lo);
            return 1;
        }
    }
    if (type == TOK_CONTROL || type == TOK_USER_DEFINED || type == TOK_UNKNOWN) {
        memcpy(p, s, n);
        return n;
    }
    size_t out = 0;
    if (t->model == TOK_MODEL_SPM) { /* U+2581 -> ' ' */
        for (size_t i = 0; i < n; i++) {
            if (i + 2 < n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                p[out++] = ' ';
                i += 2;
            } else {
                p[out++] = s[i];
            }
        }
        return out;
    }
    /* Byte-level: each character stands for a byte; one that stands for none is kept as is. */
    for (size_t i = 0; i < n;) {
        const unsigned char *u = (const unsigned char *)s + i;
        uint32_t cp = 0;
        size_t l = 1;
        if (u[0] < 0x80) {
            cp = u[0];
        } else if ((u[0] & 0xE0) == 0xC0 && i + 1 < n && (u[1] & 0xC0) == 0x80) {
            cp = (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F);
            l = 2;
        } else {
            cp = UINT32_MAX; /* longer or invalid: not a mapped byte */
            l = (size_t)lk_utf8_len(u[0]);
            if (l == 0 || i + l > n)
                l = 1;
        }
        int b = cp == UINT32_MAX ? -1 : bpe_cp_to_byte(cp);
        if (b >= 0) {
            p[out++] = (char)b;
        } else {
            memcpy(p + out, s + i, l);
            out += l;
        }
        i += l;
    }
    return out;
}

static int build_pieces(tokenizer *t, size_t total, lk_error *err) {
    t->pieces = malloc(total ? total : 1);
    if (!t->pieces)
        return lk_errorf(err, LK_ENOMEM, "tokenizer: out of memory for the decoded pieces");
    size_t off = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t n = decode_piece(t, id, t->pieces + off);
        t->tokens[id].piece_off = (uint32_t)off;
        t->tokens[id].piece_len = (uint32_t)n;
        off += n;
    }
    return 0;
}

/* An entry of the special-token index while it is sorted: first byte, then longer texts
 * first, then lower ids. */
typedef struct index_key {
    unsigned char first;
    uint32_t len;
    int32_t id;
} index_key;

static int by_first_byte_longest(const void *a, const void *b) {
    const index_key *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static bool in_index(const tok_token *tk, bool user_only) {
    bool take = tk->type == TOK_USER_DEFINED ||
                (!user_only && (tk->type == TOK_CONTROL || tk->type == TOK_UNKNOWN));
    return take && tk->text_len > 0;
}

/* Collect the ids of special tokens (user-defined only, or also control and unknown) sorted for
 * matching, with start[b] the first entry whose text begins with byte b. */
static int build_index(tokenizer *t, bool user_only, int32_t **ids_out, uint32_t *start,
                       lk_error *err) {
    size_t n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        n += in_index(&t->tokens[id], user_only);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    index_key *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!ids || !keys) {
        free(ids);
        free(keys);
        return lk_errorf(err, LK_ENOMEM, "tokenizer: out of memory for the special tokens");
    }
    size_t k = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const tok_token *tk = &t->tokens[id];
        if (in_index(tk, user_only))
            keys[k++] = (index_key){ (unsigned char)t->texts[tk->text_off], tk->text_len, id };
    }
    qsort(keys, n, sizeof *keys, by_first_byte_longest);
    size_t j = 0;
    for (int b = 0; b <= 256; b++) {
        while (j < n && keys[j].first < b)
            j++;
        start[b] = (uint32_t)j;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = keys[i].id;
    free(keys);
    *ids_out = ids;
    return 0;
}

/* Texts that end a turn, in the order used to pick the eot token when the file names none. */
static const char *const eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "<|EOT|>", "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>",
};

static int32_t find_str(const tokenizer *t, const char *s) {
    return tok_lookup(t, s, strlen(s));
}

static void mark_eog(tokenizer *t) {
    if (t->eot < 0)
        for (size_t i = 0; i < LK_ARRAY_LEN(eot_texts) && t->eot < 0; i++)
            t->eot = find_str(t, eot_texts[i]);
    if (t->eom < 0)
        t->eom = find_str(t, "<|eom_id|>");
    for (size_t i = 0; i < LK_ARRAY_LEN(eot_texts); i++) {
        int32_t id = find_str(t, eot_texts[i]);
        if (id >= 0)
            t->tokens[id].eog = true;
    }
    if (t->eom >= 0)
        t->tokens[t->eom].eog = true;
    if (t->eot >= 0)
        t->tokens[t->eot].eog = true;
    if (t->eos >= 0)
        t->tokens[t->eos].eog = true;
}

/* Copy the vocabulary strings, types and scores. */
static int read_tokens(tokenizer *t, const gguf_file *gf, size_t *total_out, lk_error *err) {
    const gguf_value *toks, *scores, *types;
    int rc = get_array(gf, "tokenizer.ggml.tokens", true, is_string, "string", 0, &toks, err);
    if (rc)
        return rc;
    if (toks->arr.n == 0)
        return lk_errorf(err, LK_EFORMAT, "tokenizer.ggml.tokens: the vocabulary is empty");
    if (toks->arr.n > INT32_MAX / 2)
        return lk_errorf(err, LK_EFORMAT, "tokenizer.ggml.tokens: %" PRIu64 " tokens, more than "
                         "token ids can number", toks->arr.n);
    uint64_t n = toks->arr.n;
    rc = get_array(gf, "tokenizer.ggml.scores", false, is_number, "float32", n, &scores, err);
    if (rc)
        return rc;
    rc = get_array(gf, "tokenizer.ggml.token_type", false, is_integer, "int32", n, &types, err);
    if (rc)
        return rc;

    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++)
        total += toks->arr.strs[i].len + 1;
    if (total > UINT32_MAX)
        return lk_errorf(err, LK_EFORMAT, "tokenizer.ggml.tokens: %" PRIu64 " bytes of token "
                         "strings, more than supported", total);
    t->n_vocab = (int32_t)n;
    t->tokens = calloc(n, sizeof *t->tokens);
    t->texts = malloc(total);
    if (!t->tokens || !t->texts)
        return lk_errorf(err, LK_ENOMEM, "tokenizer: out of memory for %" PRIu64 " tokens", n);
    size_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        const gguf_str *s = &toks->arr.strs[i];
        tok_token *tk = &t->tokens[i];
        memcpy(t->texts + off, s->ptr, s->len);
        t->texts[off + s->len] = 0;
        tk->text_off = (uint32_t)off;
        tk->text_len = (uint32_t)s->len;
        off += s->len + 1;
        tk->score = scores ? (float)gguf_arr_f64(scores, i) : 0.0f;
        int64_t type = types ? gguf_arr_i64(types, i) : TOK_NORMAL;
        tk->type = type >= 0 && type <= TOK_BYTE ? (uint8_t)type : TOK_UNDEFINED;
    }
    *total_out = (size_t)total;
    return 0;
}

static int load(tokenizer *t, const gguf_file *gf, lk_error *err) {
    char *model = NULL, *pre = NULL;
    int rc = gguf_get_str(gf, "tokenizer.ggml.model", true, &model, err);
    if (rc)
        return rc;
    if (strcmp(model, "llama") == 0) {
        t->model = TOK_MODEL_SPM;
    } else if (strcmp(model, "gpt2") == 0) {
        t->model = TOK_MODEL_BPE;
    } else {
        rc = lk_errorf(err, LK_EUNSUPPORTED, "tokenizer.ggml.model: '%s' (%s) is not supported; "
                       "supported: 'llama' (SentencePiece BPE), 'gpt2' (byte-level BPE)", model,
                       model_desc(model));
        free(model);
        return rc;
    }
    free(model);
    rc = gguf_get_str(gf, "tokenizer.ggml.pre", false, &pre, err);
    if (rc)
        return rc;

    size_t total = 0;
    rc = read_tokens(t, gf, &total, err);
    if (rc == 0)
        rc = build_map(t, err);
    if (rc) {
        free(pre);
        return rc;
    }

    t->bos = t->eos = t->eot = t->eom = t->unk = t->pad = t->sep = -1;
    if (t->model == TOK_MODEL_SPM) {
        /* SentencePiece's defaults, where the vocabulary is big enough to have them. */
        t->unk = t->n_vocab > 0 ? 0 : -1;
        t->bos = t->n_vocab > 1 ? 1 : -1;
        t->eos = t->n_vocab > 2 ? 2 : -1;
        t->add_bos = true;
        t->add_space_prefix = true;
        spm_init(t);
    } else {
        rc = pretok_init(&t->pre, pre ? pre : "default", err);
        if (rc == 0) {
            const gguf_value *merges;
            rc = get_array(gf, "tokenizer.ggml.merges", false, is_string, "string", 0, &merges, err);
            if (rc == 0 && !merges)
                rc = lk_errorf(err, LK_EFORMAT, "tokenizer.ggml.merges: missing key (a 'gpt2' "
                               "vocabulary needs its merges)");
            if (rc == 0)
                rc = bpe_load_merges(t, merges, err);
        }
        t->add_bos = t->pre.add_bos;
        bpe_init_bytes(t);
    }
    free(pre);
    if (rc)
        return rc;

    static const struct { const char *key; bool strict; size_t field; } ids[] = {
        { "tokenizer.ggml.bos_token_id", true, offsetof(tokenizer, bos) },
        { "tokenizer.ggml.eos_token_id", true, offsetof(tokenizer, eos) },
        { "tokenizer.ggml.eot_token_id", true, offsetof(tokenizer, eot) },
        { "tokenizer.ggml.eom_token_id", true, offsetof(tokenizer, eom) },
        { "tokenizer.ggml.unknown_token_id", true, offsetof(tokenizer, unk) },
        { "tokenizer.ggml.padding_token_id", false, offsetof(tokenizer, pad) },
        { "tokenizer.ggml.seperator_token_id", false, offsetof(tokenizer, sep) },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(ids); i++) {
        rc = get_id(gf, t, ids[i].key, ids[i].strict, (int32_t *)((char *)t + ids[i].field), err);
        if (rc)
            return rc;
    }
    if ((rc = gguf_get_bool(gf, "tokenizer.ggml.add_bos_token", false, &t->add_bos, err)) ||
        (rc = gguf_get_bool(gf, "tokenizer.ggml.add_eos_token", false, &t->add_eos, err)))
        return rc;
    if (t->model == TOK_MODEL_SPM &&
        (rc = gguf_get_bool(gf, "tokenizer.ggml.add_space_prefix", false, &t->add_space_prefix, err)))
        return rc;
    if (t->add_bos && t->bos < 0)
        return lk_errorf(err, LK_EFORMAT, "tokenizer.ggml.add_bos_token: BOS is to be added but "
                         "the vocabulary has no BOS token (tokenizer.ggml.bos_token_id)");
    if (t->add_eos && t->eos < 0)
        return lk_errorf(err, LK_EFORMAT, "tokenizer.ggml.add_eos_token: EOS is to be added but "
                         "the vocabulary has no EOS token (tokenizer.ggml.eos_token_id)");
    mark_eog(t);

    if ((rc = build_pieces(t, total, err)) ||
        (rc = build_index(t, false, &t->special_all, t->all_start, err)) ||
        (rc = build_index(t, true, &t->special_user, t->user_start, err)))
        return rc;
    return 0;
}

int tok_load(const gguf_file *gf, tokenizer **out, lk_error *err) {
    *out = NULL;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return lk_errorf(err, LK_ENOMEM, "tokenizer: out of memory");
    int rc = load(t, gf, err);
    if (rc) {
        tok_free(t);
        /* Say which file, unless the message (from a gguf_get_* call) does already. */
        if (err && gf->path && strncmp(err->msg, gf->path, strlen(gf->path)) != 0)
            lk_error_prefix(err, "%s", gf->path);
        return rc;
    }
    *out = t;
    return 0;
}

void tok_free(tokenizer *t) {
    if (!t)
        return;
    pretok_free(&t->pre);
    free(t->tokens);
    free(t->texts);
    free(t->pieces);
    free(t->map);
    free(t->merges);
    free(t->special_all);
    free(t->special_user);
    free(t);
}

/* ---- encoding ---- */

/* The longest special token (of the index ids/start) whose text starts at s, or -1. */
static int32_t match_special(const tokenizer *t, const int32_t *ids, const uint32_t *start,
                             const char *s, size_t n, size_t *len) {
    unsigned char c = (unsigned char)s[0];
    for (uint32_t k = start[c]; k < start[c + 1]; k++) {
        const tok_token *tk = &t->tokens[ids[k]];
        if (tk->text_len <= n && memcmp(t->texts + tk->text_off, s, tk->text_len) == 0) {
            *len = tk->text_len;
            return ids[k];
        }
    }
    return -1;
}

/* Encode text between special tokens. For SentencePiece every such stretch gets the space
 * prefix: it follows either the start or a special token (as llama.cpp and Hugging Face's
 * legacy Llama tokenizer have it). */
static int encode_text(const tokenizer *t, tok_work *w, const char *s, size_t n) {
    if (n == 0)
        return 0;
    if (t->model == TOK_MODEL_SPM)
        return spm_encode(t, w, s, n, t->add_space_prefix);
    return bpe_encode(t, w, s, n);
}

int tok_encode(const tokenizer *t, const char *text, size_t len, bool add_special,
               bool parse_special, int32_t **ids, size_t *n_ids, lk_error *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!text && len > 0)
        return lk_errorf(err, LK_EINVAL, "tok_encode: text is NULL but its length is %zu", len);
    if (!text)
        text = "";
    tok_work w = { .err = err };
    int rc = 0;
    if (!tok_reserve((void **)&w.ids, &w.cap_ids, len / 4 + 8, sizeof(int32_t), &w)) {
        rc = LK_ENOMEM;
        goto done;
    }
    if (add_special && t->add_bos && !tok_push(&w, t->bos)) {
        rc = LK_ENOMEM;
        goto done;
    }
    const int32_t *sp = parse_special ? t->special_all : t->special_user;
    const uint32_t *start = parse_special ? t->all_start : t->user_start;
    size_t from = 0; /* start of the text not yet encoded */
    for (size_t pos = 0; pos < len;) {
        size_t mlen = 0;
        int32_t id = match_special(t, sp, start, text + pos, len - pos, &mlen);
        if (id < 0) {
            pos++;
            continue;
        }
        if ((rc = encode_text(t, &w, text + from, pos - from)))
            goto done;
        if (!tok_push(&w, id)) {
            rc = LK_ENOMEM;
            goto done;
        }
        pos += mlen;
        from = pos;
    }
    if ((rc = encode_text(t, &w, text + from, len - from)))
        goto done;
    if (add_special && t->add_eos && !tok_push(&w, t->eos))
        rc = LK_ENOMEM;
done:
    if (rc == 0) {
        *ids = w.ids;
        *n_ids = w.n_ids;
        w.ids = NULL;
    }
    tok_work_free(&w);
    return rc;
}

/* ---- decoding ---- */

static bool valid_id(const tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab;
}

const char *tok_piece(const tokenizer *t, int32_t id, size_t *len) {
    if (!valid_id(t, id)) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = t->tokens[id].piece_len;
    return t->pieces + t->tokens[id].piece_off;
}

const char *tok_text(const tokenizer *t, int32_t id, size_t *len) {
    if (!valid_id(t, id)) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = t->tokens[id].text_len;
    return t->texts + t->tokens[id].text_off;
}

/* The bytes token id renders as under flags; *strip is cleared once a piece produced text. */
static const char *render(const tokenizer *t, int32_t id, unsigned flags, bool *strip, size_t *len) {
    *len = 0;
    if (!valid_id(t, id))
        return "";
    int type = t->tokens[id].type;
    bool special = type == TOK_CONTROL || type == TOK_UNKNOWN || type == TOK_UNUSED;
    if (special && !(flags & TOK_DECODE_SPECIAL))
        return "";
    const char *p = tok_piece(t, id, len);
    if (*len > 0 && *strip) {
        *strip = false;
        if (p[0] == ' ' && !special) {
            p++;
            (*len)--;
        }
    }
    return p;
}

void tok_decode(const tokenizer *t, const int32_t *ids, size_t n, unsigned flags, lk_buf *out) {
    bool strip = (flags & TOK_DECODE_STRIP_SPACE) && t->add_space_prefix;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = render(t, ids[i], flags, &strip, &len);
        if (len)
            lk_buf_append(out, p, len);
    }
    if (!out->data) /* an empty result is still a string */
        lk_buf_append(out, "", 0);
}

/* ---- streaming ---- */

void tok_stream_init(tok_stream *s, unsigned flags) {
    memset(s, 0, sizeof *s);
    s->flags = flags;
}

/* The number of bytes in the UTF-8 sequence that starts with lead byte c; 0 if c cannot start one. */
static int seq_len(unsigned char c) {
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* Can c follow the pending bytes (pend[0..n), n >= 1) in a valid sequence? */
static bool continues(const unsigned char *pend, int n, unsigned char c) {
    if (n == 1) {
        switch (pend[0]) {
        case 0xE0: return c >= 0xA0 && c <= 0xBF; /* no overlong forms */
        case 0xED: return c >= 0x80 && c <= 0x9F; /* no surrogates */
        case 0xF0: return c >= 0x90 && c <= 0xBF;
        case 0xF4: return c >= 0x80 && c <= 0x8F; /* nothing above U+10FFFF */
        default: break;
        }
    }
    return c >= 0x80 && c <= 0xBF;
}

static void put_replacement(lk_buf *out) {
    lk_buf_append(out, "\xEF\xBF\xBD", 3);
}

static void feed(tok_stream *s, const unsigned char *p, size_t n, lk_buf *out) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (s->n_pend == 0) {
            /* Copy a run of ASCII at once. */
            size_t j = i;
            while (j < n && p[j] < 0x80)
                j++;
            if (j > i) {
                lk_buf_append(out, p + i, j - i);
                i = j;
                continue;
            }
            if (seq_len(c) == 0)
                put_replacement(out);
            else
                s->pend[s->n_pend++] = c;
            i++;
            continue;
        }
        if (!continues(s->pend, s->n_pend, c)) {
            put_replacement(out); /* the pending bytes can never complete; c starts afresh */
            s->n_pend = 0;
            continue;
        }
        s->pend[s->n_pend++] = c;
        i++;
        if (s->n_pend == seq_len(s->pend[0])) {
            lk_buf_append(out, s->pend, s->n_pend);
            s->n_pend = 0;
        }
    }
}

size_t tok_stream_push(tok_stream *s, const tokenizer *t, int32_t id, lk_buf *out) {
    size_t before = out->len, len;
    bool strip = (s->flags & TOK_DECODE_STRIP_SPACE) && t->add_space_prefix && !s->started;
    const char *p = render(t, id, s->flags, &strip, &len);
    if (!strip) /* a piece produced text (perhaps only the space that was dropped) */
        s->started = true;
    feed(s, (const unsigned char *)p, len, out);
    return out->len - before;
}

size_t tok_stream_flush(tok_stream *s, lk_buf *out) {
    size_t before = out->len;
    if (s->n_pend > 0)
        put_replacement(out);
    s->n_pend = 0;
    return out->len - before;
}

/* ---- facts ---- */

int32_t tok_find(const tokenizer *t, const char *text, size_t len) {
    return tok_lookup(t, text, len);
}

int32_t tok_n_vocab(const tokenizer *t) { return t->n_vocab; }
enum tok_model tok_model(const tokenizer *t) { return t->model; }
const char *tok_pre(const tokenizer *t) { return t->model == TOK_MODEL_BPE ? t->pre.name : "default"; }
int32_t tok_bos(const tokenizer *t) { return t->bos; }
int32_t tok_eos(const tokenizer *t) { return t->eos; }
int32_t tok_eot(const tokenizer *t) { return t->eot; }
int32_t tok_eom(const tokenizer *t) { return t->eom; }
int32_t tok_unk(const tokenizer *t) { return t->unk; }
int32_t tok_pad(const tokenizer *t) { return t->pad; }
bool tok_add_bos(const tokenizer *t) { return t->add_bos; }
bool tok_add_eos(const tokenizer *t) { return t->add_eos; }
bool tok_add_space_prefix(const tokenizer *t) { return t->add_space_prefix; }

int tok_type(const tokenizer *t, int32_t id) {
    return valid_id(t, id) ? t->tokens[id].type : TOK_UNDEFINED;
}

float tok_score(const tokenizer *t, int32_t id) {
    return valid_id(t, id) ? t->tokens[id].score : 0.0f;
}

bool tok_is_control(const tokenizer *t, int32_t id) {
    return valid_id(t, id) && t->tokens[id].type == TOK_CONTROL;
}

bool tok_is_eog(const tokenizer *t, int32_t id) {
    return valid_id(t, id) && t->tokens[id].eog;
}

/* pretok.c — pre-tokenizers for byte-level BPE: the regexes that cut text into words.
 *
 * A byte-level BPE vocabulary never merges across the pieces its pre-tokenizer cuts, so the cut
 * decides the tokens as much as the merges do. tokenizer.ggml.pre names the pre-tokenizer; the
 * table below gives, for each name, the regexes of the model's Hugging Face tokenizer.json,
 * applied in sequence: each regex splits every piece the previous ones made into its matches and
 * the gaps between them ("Isolated" splitting), seeing only that piece (so lookaheads and $ stop
 * at the piece's end). A single regex is the common case (GPT-2, Llama 3, Qwen2); DeepSeek and
 * Falcon chain several, as llama.cpp does for them.
 *
 * Matching is PCRE2 in UTF mode with Unicode properties (\p{L}, \s, ...), JIT-compiled where the
 * library can. Invalid UTF-8 never matches (PCRE2_MATCH_INVALID_UTF), so such bytes end up in
 * gap pieces of their own and still reach the byte-level encoder. */
#include "engine/tok_internal.h"

/* Regexes, as in the models' tokenizer.json files. */

/* GPT-2: contractions, letters, numbers, other symbols, each with an optional leading space;
 * whitespace runs keep their last space for the next word. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* Llama 3 (tiktoken cl100k-style): case-insensitive contractions, numbers of up to 3 digits,
 * newlines kept together. */
#define RE_LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Qwen2: Llama 3's with single digits. */
#define RE_QWEN2 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* GPT-4o / Llama 4 (o200k): words split at case changes. */
#define RE_GPT4O "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?" \
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?" \
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* CJK ideographs (and, as the DeepSeek files have it, U+0800..U+4E00) and Hangul. */
#define RE_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

/* DeepSeek LLM: the Latin, Greek, Cyrillic, ... letters it keeps together. */
#define RE_DEEPSEEK_LLM_LETTERS "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}" \
    "\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}" \
    "\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}" \
    "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}" \
    "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}" \
    "\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}" \
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}" \
    "\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}" \
    "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}" \
    "\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}" \
    "\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}" \
    "\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}" \
    "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}" \
    "\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}" \
    "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}" \
    "\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}" \
    "\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}" \
    "\\x{1E900}-\\x{1E943}]+"

/* DeepSeek LLM: ASCII, full-width and CJK punctuation runs. */
#define RE_DEEPSEEK_LLM_PUNCT "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}" \
    "\\x{3000}-\\x{3002}]+"

typedef struct pretok_def {
    const char *names[12];          /* tokenizer.ggml.pre values that select it; NULL ends */
    const char *re[PRETOK_MAX_REGEX]; /* applied in order; NULL ends */
    bool ignore_merges;
    bool add_bos;
} pretok_def;

static const pretok_def defs[] = {
    /* What llama.cpp uses for a "gpt2" vocabulary without (or with a "default") pre-tokenizer. */
    { { "default", NULL },
      { "[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL }, false, false },
    { { "gpt2", "gpt-2", "mpt", "olmo", "phi-2", "jais", NULL },
      { RE_GPT2, NULL }, false, false },
    { { "llama-bpe", "llama3", "llama-v3", "falcon3", NULL },
      { RE_LLAMA3, NULL }, true, true },
    { { "smaug-bpe", "dbrx", NULL },
      { RE_LLAMA3, NULL }, false, false },
    { { "qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", NULL },
      { RE_QWEN2, NULL }, false, false },
    { { "starcoder", "refact", "smollm", "command-r", "codeshell", "exaone", NULL },
      { "\\p{N}", RE_GPT2, NULL }, false, false },
    { { "deepseek-coder", NULL },
      { "[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}", NULL }, false, false },
    { { "deepseek-llm", NULL },
      { "[\\r\\n]", RE_DEEPSEEK_LLM_LETTERS, RE_DEEPSEEK_LLM_PUNCT, "\\s+$", RE_DEEPSEEK_CJK,
        "\\p{N}+", NULL }, false, false },
    { { "falcon", NULL },
      { "[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]", NULL }, false, false },
    { { "gpt-4o", "llama4", NULL },
      { RE_GPT4O, NULL }, false, false },
};

static const pretok_def *find_def(const char *name) {
    for (size_t i = 0; i < LK_ARRAY_LEN(defs); i++)
        for (int j = 0; defs[i].names[j]; j++)
            if (strcmp(defs[i].names[j], name) == 0)
                return &defs[i];
    return NULL;
}

static void known_names(lk_buf *b) {
    for (size_t i = 0; i < LK_ARRAY_LEN(defs); i++)
        for (int j = 0; defs[i].names[j]; j++)
            lk_buf_printf(b, "%s%s", b->len ? ", " : "", defs[i].names[j]);
}

int pretok_init(pretok *p, const char *name, lk_error *err) {
    memset(p, 0, sizeof *p);
    const pretok_def *d = find_def(name);
    if (!d) {
        lk_buf names = {0};
        known_names(&names);
        int rc = lk_errorf(err, LK_EUNSUPPORTED, "tokenizer.ggml.pre: unknown pre-tokenizer '%s' "
                           "(known: %s)", name, names.data);
        lk_buf_free(&names);
        return rc;
    }
    p->name = d->names[0];
    p->ignore_merges = d->ignore_merges;
    p->add_bos = d->add_bos;
    for (int i = 0; i < PRETOK_MAX_REGEX && d->re[i]; i++) {
        int code;
        PCRE2_SIZE at;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)d->re[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF |
                                       PCRE2_DOLLAR_ENDONLY, &code, &at, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof msg);
            pretok_free(p);
            /* A bug in the table above, not in the file; say where. */
            return lk_errorf(err, LK_EUNSUPPORTED, "pre-tokenizer '%s': regex %d does not compile "
                             "at offset %zu: %s", name, i, (size_t)at, (const char *)msg);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* where JIT is unavailable, matching interprets */
        p->re[p->n_re++] = re;
    }
    return 0;
}

void pretok_free(pretok *p) {
    for (int i = 0; i < p->n_re; i++)
        pcre2_code_free(p->re[i]);
    p->n_re = 0;
}

static bool add_span(tok_work *w, size_t off, size_t len) {
    if (!tok_reserve((void **)&w->spans2, &w->cap_spans2, w->n_spans2 + 1, sizeof(tok_span), w))
        return false;
    w->spans2[w->n_spans2].off = off;
    w->spans2[w->n_spans2].len = len;
    w->n_spans2++;
    return true;
}

/* The length of the UTF-8 character (or invalid byte) at p, at most n. */
static size_t char_len(const unsigned char *p, size_t n) {
    size_t l = (size_t)lk_utf8_len(p[0]);
    if (l == 0)
        l = 1;
    return l < n ? l : n;
}

/* Split one piece TEXT[off..off+len) by RE into matches and gaps, appended to w->spans2. */
static int split_piece(const pcre2_code *re, tok_work *w, const char *text, size_t off, size_t len) {
    const unsigned char *s = (const unsigned char *)text + off;
    size_t pos = 0, gap = 0; /* gap: start of the text not yet covered by a span */
    while (pos < len) {
        int rc = pcre2_match(re, s, len, pos, 0, w->md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* a very long run: retry interpreted */
            rc = pcre2_match(re, s, len, pos, PCRE2_NO_JIT, w->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return lk_errorf(w->err, LK_ERANGE, "pre-tokenizer: regex failed at byte %zu: %s",
                             off + pos, (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) { /* an empty match splits nothing; look again one character on */
            pos = ms + char_len(s + ms, len - ms);
            continue;
        }
        if (ms > gap && !add_span(w, off + gap, ms - gap))
            return LK_ENOMEM;
        if (!add_span(w, off + ms, me - ms))
            return LK_ENOMEM;
        gap = pos = me;
    }
    if (gap < len && !add_span(w, off + gap, len - gap))
        return LK_ENOMEM;
    return 0;
}

int pretok_split(const pretok *p, tok_work *w, const char *text, size_t len) {
    w->n_spans = 0;
    if (len == 0)
        return 0;
    if (!tok_reserve((void **)&w->spans, &w->cap_spans, 1, sizeof(tok_span), w))
        return LK_ENOMEM;
    w->spans[0].off = 0;
    w->spans[0].len = len;
    w->n_spans = 1;
    if (!w->md) {
        w->md = pcre2_match_data_create(1, NULL);
        if (!w->md) {
            w->oom = true;
            return LK_ENOMEM;
        }
    }
    for (int r = 0; r < p->n_re; r++) {
        w->n_spans2 = 0;
        for (size_t i = 0; i < w->n_spans; i++) {
            int rc = split_piece(p->re[r], w, text, w->spans[i].off, w->spans[i].len);
            if (rc)
                return rc;
        }
        tok_span *tmp = w->spans;
        size_t tmp_cap = w->cap_spans;
        w->spans = w->spans2;
        w->cap_spans = w->cap_spans2;
        w->n_spans = w->n_spans2;
        w->spans2 = tmp;
        w->cap_spans2 = tmp_cap;
    }
    return 0;
}

/* test_tokenizer.c — the tokenizer against llama.cpp's reference vocabularies, and its behaviour
 * on small vocabularies built in memory.
 *
 * The reference cases live in ../shared/testdata/tokenizers/ (relative to the project root):
 * X.gguf with X.gguf.inp (inputs separated by "\n__ggml_vocab_test__\n") and X.gguf.out (the
 * Hugging Face ids, one line per input, no BOS/EOS, special tokens not parsed). Every id must
 * match. When the folder is absent these tests skip, unless CI=true, where they fail. The other
 * tests build their vocabularies with the GGUF writer and need no files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/tokenizer.h"

#define TESTDATA "../shared/testdata/tokenizers"

/* ---- helpers ---- */

static bool testdata_present(void) {
    struct stat st;
    if (stat(TESTDATA, &st) == 0 && S_ISDIR(st.st_mode))
        return true;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        fail_msg("%s is missing (CI=true: the reference vocabularies are required)", TESTDATA);
    print_message("%s not found (run from the project root, beside ../shared): skipped\n",
                  TESTDATA);
    return false;
}

/* Load a reference vocabulary; NULL (and the test is skipped) when the test data is absent. */
static tokenizer *load_ref(const char *name) {
    if (!testdata_present())
        return NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", TESTDATA, name);
    lk_error err = {0};
    gguf_file *gf = gguf_open(path, &err);
    if (!gf)
        fail_msg("%s: %s", path, err.msg);
    tokenizer *t = NULL;
    if (tok_load(gf, &t, &err) != 0)
        fail_msg("%s: %s", path, err.msg);
    gguf_close(gf);
    return t;
}

static void encode(const tokenizer *t, const char *s, bool add_special, bool parse_special,
                   int32_t **ids, size_t *n) {
    lk_error err = {0};
    int rc = tok_encode(t, s, strlen(s), add_special, parse_special, ids, n, &err);
    if (rc != 0)
        fail_msg("encode '%s': %s", s, err.msg);
}

static void format_ids(char *buf, size_t cap, const int32_t *ids, size_t n) {
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && off + 16 < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%d", i ? " " : "", ids[i]);
    if (off + 16 >= cap)
        snprintf(buf + off, cap - off, " ...");
}

/* Assert that encoding S gives exactly the N ids in WANT. */
static void expect_ids(const tokenizer *t, const char *s, bool add_special, bool parse_special,
                       const int32_t *want, size_t n_want) {
    int32_t *ids;
    size_t n;
    encode(t, s, add_special, parse_special, &ids, &n);
    if (n != n_want || (n > 0 && memcmp(ids, want, n * sizeof *ids) != 0)) {
        char got[512], exp[512];
        format_ids(got, sizeof got, ids, n);
        format_ids(exp, sizeof exp, want, n_want);
        free(ids);
        fail_msg("'%s': expected [%s], got [%s]", s, exp, got);
    }
    free(ids);
}

static char *decode_all(const tokenizer *t, const int32_t *ids, size_t n, unsigned flags) {
    lk_buf b = {0};
    tok_decode(t, ids, n, flags, &b);
    return b.data;
}

/* ---- the reference vocabularies ---- */

/* Split the .inp text into cases the way llama.cpp's test-tokenizer-0 does: by the separator
 * line; the text after the last separator (empty in these files) is not a case. */
static size_t split_inputs(char *s, size_t len, char **cases, size_t *lens, size_t max) {
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t n = 0, pos = 0, seplen = sizeof sep - 1;
    while (pos < len && n < max) {
        char *next = NULL;
        for (size_t i = pos; i + seplen <= len; i++)
            if (memcmp(s + i, sep, seplen) == 0) {
                next = s + i;
                break;
            }
        cases[n] = s + pos;
        if (!next) {
            lens[n++] = len - pos;
            break;
        }
        lens[n++] = (size_t)(next - (s + pos));
        pos = (size_t)(next - s) + seplen;
    }
    return n;
}

/* Parse one .out line of space-separated ids. */
static size_t parse_ids(const char *line, int32_t *ids, size_t max) {
    size_t n = 0;
    const char *p = line;
    while (*p && *p != '\n' && n < max) {
        while (*p == ' ' || *p == '\r' || *p == '\t')
            p++;
        if (!*p || *p == '\n')
            break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            fail_msg("bad id in '%.40s'", line);
        ids[n++] = (int32_t)v;
        p = end;
    }
    return n;
}

static void escape(char *out, size_t cap, const char *s, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
        else if (c == '\t') { out[o++] = '\\'; out[o++] = 't'; }
        else out[o++] = (char)c;
    }
    out[o] = 0;
}

#define MAX_CASES 256
#define MAX_IDS 4096

/* Every case of vocabulary NAME gives exactly the reference ids; the first mismatch is reported
 * with the vocabulary, the case index, its text, the expected and the actual ids. */
static void test_reference(void **state) {
    const char *name = *state;
    tokenizer *t = load_ref(name);
    if (!t)
        skip();
    char path[512];
    lk_buf inp = {0}, out = {0};
    lk_error err = {0};
    snprintf(path, sizeof path, "%s/%s.gguf.inp", TESTDATA, name);
    if (lk_read_file(path, &inp, &err))
        fail_msg("%s", err.msg);
    snprintf(path, sizeof path, "%s/%s.gguf.out", TESTDATA, name);
    if (lk_read_file(path, &out, &err))
        fail_msg("%s", err.msg);

    static char *cases[MAX_CASES];
    static size_t lens[MAX_CASES];
    size_t n_cases = split_inputs(inp.data, inp.len, cases, lens, MAX_CASES);
    static int32_t want[MAX_IDS];
    const char *line = out.data;
    size_t passed = 0;
    for (size_t i = 0; i < n_cases; i++) {
        if (!*line)
            fail_msg("%s: %s.out has fewer lines than the %zu inputs", name, name, n_cases);
        size_t n_want = parse_ids(line, want, MAX_IDS);
        line = strchr(line, '\n');
        line = line ? line + 1 : "";
        int32_t *ids;
        size_t n;
        if (tok_encode(t, cases[i], lens[i], false, false, &ids, &n, &err) != 0)
            fail_msg("%s: case %zu: %s", name, i, err.msg);
        if (n != n_want || memcmp(ids, want, n * sizeof *ids) != 0) {
            char text[256], got[1024], exp[1024];
            escape(text, sizeof text, cases[i], lens[i]);
            format_ids(got, sizeof got, ids, n);
            format_ids(exp, sizeof exp, want, n_want);
            free(ids);
            fail_msg("%s: case %zu of %zu '%s': expected [%s], got [%s] (the first mismatch)",
                     name, i, n_cases, text, exp, got);
        }
        free(ids);
        passed++;
    }
    if (*line)
        fail_msg("%s: %s.out has more lines than the %zu inputs", name, name, n_cases);
    print_message("%s: %zu/%zu cases match\n", name, passed, n_cases);
    lk_buf_free(&inp);
    lk_buf_free(&out);
    tok_free(t);
}

/* WordPiece ("bert") vocabularies are refused with LK_EUNSUPPORTED naming the model. */
static void test_bert_unsupported(void **state) {
    (void)state;
    if (!testdata_present())
        skip();
    lk_error err = {0};
    gguf_file *gf = gguf_open(TESTDATA "/ggml-vocab-bert-bge.gguf", &err);
    assert_non_null(gf);
    tokenizer *t = (tokenizer *)1;
    assert_int_equal(tok_load(gf, &t, &err), LK_EUNSUPPORTED);
    assert_null(t);
    assert_non_null(strstr(err.msg, "'bert'"));
    assert_non_null(strstr(err.msg, "tokenizer.ggml.model"));
    gguf_close(gf);
}

static const char *const round_trip_texts[] = {
    "Hello, world! How's it going?",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\n\n\nand more",
    "Ünïcödé: naïve café, Straße, Æsir",
    "日本語のテキストと中文和한국어",
    "emoji 🦙🚀 😶\u200d🌫\uFE0F and ZWJ",
    "code: for (int i = 0; i < n; i++) { x += a[i] * 3.14159; }",
    "numbers 1234567890 3.3 3..3 1e-9",
    "\xF0\x9F\x98\x81\xE2\x80\x8B zero width",
    "",
};

/* For byte-level BPE vocabularies, decoding what encoding gave returns the text byte for byte. */
static void test_bpe_round_trip(void **state) {
    (void)state;
    static const char *const vocabs[] = {
        "ggml-vocab-llama-bpe", "ggml-vocab-qwen2", "ggml-vocab-gpt-2", "ggml-vocab-falcon",
        "ggml-vocab-deepseek-llm", "ggml-vocab-starcoder", "ggml-vocab-mpt",
    };
    if (!testdata_present())
        skip();
    for (size_t v = 0; v < LK_ARRAY_LEN(vocabs); v++) {
        tokenizer *t = load_ref(vocabs[v]);
        for (size_t i = 0; i < LK_ARRAY_LEN(round_trip_texts); i++) {
            const char *s = round_trip_texts[i];
            int32_t *ids;
            size_t n;
            encode(t, s, false, false, &ids, &n);
            char *back = decode_all(t, ids, n, 0);
            if (strcmp(back, s) != 0)
                fail_msg("%s: '%s' came back as '%s'", vocabs[v], s, back);
            free(back);
            free(ids);
        }
        tok_free(t);
    }
}

/* SentencePiece: decoding with TOK_DECODE_STRIP_SPACE undoes the space prefix, so the text
 * comes back (a hidden BOS produces nothing). */
static void test_spm_round_trip(void **state) {
    (void)state;
    tokenizer *t = load_ref("ggml-vocab-llama-spm");
    if (!t)
        skip();
    for (size_t i = 0; i < LK_ARRAY_LEN(round_trip_texts); i++) {
        const char *s = round_trip_texts[i];
        int32_t *ids;
        size_t n;
        encode(t, s, true, false, &ids, &n);
        assert_true(n >= 1);
        assert_int_equal(ids[0], tok_bos(t));
        char *back = decode_all(t, ids, n, TOK_DECODE_STRIP_SPACE);
        if (strcmp(back, s) != 0)
            fail_msg("'%s' came back as '%s'", s, back);
        free(back);
        free(ids);
    }
    tok_free(t);
}

/* Llama 3: control tokens are text unless parse_special; BOS comes from add_bos_token. */
static void test_llama3_special(void **state) {
    (void)state;
    tokenizer *t = load_ref("ggml-vocab-llama-bpe");
    if (!t)
        skip();
    const char *s = "<|start_header_id|>user<|end_header_id|>";
    int32_t want_parsed[] = { 128000, 128006, 882, 128007 };
    expect_ids(t, s, true, true, want_parsed, 4);
    int32_t *ids;
    size_t n;
    encode(t, s, false, false, &ids, &n);
    for (size_t i = 0; i < n; i++)
        assert_true(ids[i] < 128000);
    char *back = decode_all(t, ids, n, 0);
    assert_string_equal(back, s);
    free(back);
    free(ids);
    assert_true(tok_is_eog(t, tok_find(t, "<|eot_id|>", 10)));
    assert_true(tok_is_eog(t, 128001));
    assert_int_equal(tok_eot(t), 128009);
    assert_false(tok_is_eog(t, 128006));
    assert_true(tok_is_control(t, 128006));
    tok_free(t);
}

/* Qwen2: user-defined tokens ("<think>") are matched even when special parsing is off, as
 * Hugging Face matches added tokens; control tokens ("<|im_start|>") only when it is on. */
static void test_user_defined_always_matched(void **state) {
    (void)state;
    tokenizer *t = load_ref("ggml-vocab-qwen2");
    if (!t)
        skip();
    int32_t think = tok_find(t, "<think>", 7), im_start = tok_find(t, "<|im_start|>", 12);
    assert_int_equal(tok_type(t, think), TOK_USER_DEFINED);
    assert_int_equal(tok_type(t, im_start), TOK_CONTROL);
    int32_t *ids;
    size_t n;
    encode(t, "<|im_start|><think>", false, false, &ids, &n);
    assert_int_equal(ids[n - 1], think);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_not_equal(ids[i], im_start);
    free(ids);
    int32_t want[] = { im_start, think };
    expect_ids(t, "<|im_start|><think>", false, true, want, 2);
    assert_false(tok_add_bos(t));
    tok_free(t);
}

/* Many threads encoding with one tokenizer get the same ids as one thread. */
typedef struct job {
    const tokenizer *t;
    const char *text;
    int32_t *ids;
    size_t n;
    int rc;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    lk_error err;
    for (int k = 0; k < 20 && j->rc == 0; k++) {
        free(j->ids);
        j->rc = tok_encode(j->t, j->text, strlen(j->text), true, true, &j->ids, &j->n, &err);
    }
    return NULL;
}

static void test_concurrent_encode(void **state) {
    (void)state;
    tokenizer *t = load_ref("ggml-vocab-llama-bpe");
    if (!t)
        skip();
    job jobs[4] = {0};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].t = t;
        jobs[i].text = round_trip_texts[i % 2 == 0 ? 3 : 5];
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].rc, 0);
        assert_int_equal(jobs[i].n, jobs[i % 2].n);
        assert_memory_equal(jobs[i].ids, jobs[i % 2].ids, jobs[i].n * sizeof(int32_t));
    }
    for (int i = 0; i < 4; i++)
        free(jobs[i].ids);
    tok_free(t);
}

/* ---- small vocabularies built in memory ---- */

/* What to leave out of or change in a small vocabulary, to test the errors. */
typedef struct vopts {
    const char *model;            /* default "llama" / "gpt2" per builder */
    const char *pre;              /* gpt2: default "gpt2" */
    bool no_model, no_tokens, no_merges, tokens_as_ints, short_scores, bad_merge;
    int64_t bos;                  /* -2: default */
    bool add_eos, add_bos_false, no_bos;
    bool o_space;                 /* spm: add the piece "o▁" (score 0), which spans words */
} vopts;

typedef struct mem_vocab {
    uint8_t *image;
    gguf_file *gf;
} mem_vocab;

static gguf_file *finish(gguf_writer *w, mem_vocab *mv) {
    lk_error err = {0};
    size_t size;
    assert_int_equal(gguf_write_memory(w, &mv->image, &size, &err), 0);
    gguf_writer_free(w);
    mv->gf = gguf_open_memory(mv->image, size, "mem.gguf", &err);
    if (!mv->gf)
        fail_msg("%s", err.msg);
    return mv->gf;
}

static void mem_free(mem_vocab *mv) {
    gguf_close(mv->gf);
    free(mv->image);
}

/* A SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then pieces with scores and a
 * user-defined "<tool>" and a control "<|end|>". */
enum { SPM_BYTES = 3, SPM_PIECES = 3 + 256 };
static const char *const spm_pieces[] = {
    "\xE2\x96\x81", "h", "i", "e", "l", "o", "\xE2\x96\x81h", "hi", "\xE2\x96\x81hi", "el",
    "ll", "ell", "hell", "hello", "\xE2\x96\x81hello", "<tool>", "<|end|>", "\xC3\xA9",
};
/* "▁hello" forms through ll, ell, hell, hello; "▁h" and "el" score too low to get in first. */
static const float spm_scores[] = {
    -1, -2, -2, -2, -2, -2, -8, -2, -2.5f, -9, -3, -4, -5, -6, -7, 0, 0, -2,
};

static tokenizer *spm_vocab(const vopts *o, mem_vocab *mv, int expect_rc, lk_error *err) {
    size_t n_pieces = LK_ARRAY_LEN(spm_pieces), n = SPM_PIECES + n_pieces + o->o_space;
    const char **toks = calloc(n, sizeof *toks);
    char (*bytes)[8] = calloc(256, 8);
    float *scores = calloc(n, sizeof *scores);
    int32_t *types = calloc(n, sizeof *types);
    toks[0] = "<unk>", types[0] = TOK_UNKNOWN;
    toks[1] = "<s>", types[1] = TOK_CONTROL;
    toks[2] = "</s>", types[2] = TOK_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], 8, "<0x%02X>", b);
        toks[SPM_BYTES + b] = bytes[b];
        types[SPM_BYTES + b] = TOK_BYTE;
    }
    for (size_t i = 0; i < n_pieces; i++) {
        toks[SPM_PIECES + i] = spm_pieces[i];
        scores[SPM_PIECES + i] = spm_scores[i];
        types[SPM_PIECES + i] = TOK_NORMAL;
    }
    if (o->o_space) {
        toks[n - 1] = "o\xE2\x96\x81";
        types[n - 1] = TOK_NORMAL;
    }
    types[SPM_PIECES + 15] = TOK_USER_DEFINED;
    types[SPM_PIECES + 16] = TOK_CONTROL;

    gguf_writer *w = gguf_writer_new(3);
    if (!o->no_model)
        gguf_set_str(w, "tokenizer.ggml.model", o->model ? o->model : "llama");
    if (o->tokens_as_ints)
        gguf_set_arr(w, "tokenizer.ggml.tokens", GGUF_INT32, types, n);
    else if (!o->no_tokens)
        gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, n);
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, o->short_scores ? n - 1 : n);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, n);
    if (o->bos != -2)
        gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)o->bos);
    if (o->add_eos)
        gguf_set_bool(w, "tokenizer.ggml.add_eos_token", true);
    if (o->add_bos_false)
        gguf_set_bool(w, "tokenizer.ggml.add_bos_token", false);
    free(toks);
    free(bytes);
    free(scores);
    free(types);
    gguf_file *gf = finish(w, mv);
    tokenizer *t = NULL;
    lk_error local;
    if (!err)
        err = &local;
    int rc = tok_load(gf, &t, err);
    if (rc != expect_rc)
        fail_msg("tok_load returned %d (%s), expected %d", rc, err->msg, expect_rc);
    return t;
}

/* A byte-level BPE vocabulary: the 256 byte characters in byte order, then merged tokens, a
 * control "<|end|>" and a user-defined "<u>". */
static const char *const bpe_merges[] = {
    "h i", "Ġ hi", "l l", "e ll", "h ell", "hell o", "Ġ hello", "Ġ w",
};
static const char *const bpe_extra[] = {
    "hi", "Ġhi", "ll", "ell", "hell", "hello", "Ġhello", "Ġw", "<|end|>", "<u>",
};

static size_t put_utf8(char *p, uint32_t cp) {
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    p[0] = (char)(0xC0 | (cp >> 6));
    p[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* GPT-2's bytes_to_unicode, written out independently of tok_bpe.c. */
static uint32_t byte_char(int b) {
    int n = 0;
    for (int c = 0; c < 256; c++) {
        bool keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE);
        if (c == b)
            return keep ? (uint32_t)c : 256u + (uint32_t)n;
        if (!keep)
            n++;
    }
    return 0;
}

static tokenizer *bpe_vocab(const vopts *o, mem_vocab *mv, int expect_rc, lk_error *err) {
    size_t n_extra = LK_ARRAY_LEN(bpe_extra), n = 256 + n_extra;
    const char **toks = calloc(n, sizeof *toks);
    char (*bytes)[4] = calloc(256, 4);
    int32_t *types = calloc(n, sizeof *types);
    for (int b = 0; b < 256; b++) {
        bytes[b][put_utf8(bytes[b], byte_char(b))] = 0;
        toks[b] = bytes[b];
        types[b] = TOK_NORMAL;
    }
    for (size_t i = 0; i < n_extra; i++) {
        toks[256 + i] = bpe_extra[i];
        types[256 + i] = TOK_NORMAL;
    }
    types[256 + 8] = TOK_CONTROL;
    types[256 + 9] = TOK_USER_DEFINED;
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_str(w, "tokenizer.ggml.model", o->model ? o->model : "gpt2");
    gguf_set_str(w, "tokenizer.ggml.pre", o->pre ? o->pre : "gpt2");
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, n);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, n);
    if (o->bad_merge) {
        const char *bad[] = { "h i", "hello" };
        gguf_set_arr_str(w, "tokenizer.ggml.merges", bad, 2);
    } else if (!o->no_merges) {
        gguf_set_arr_str(w, "tokenizer.ggml.merges", bpe_merges, LK_ARRAY_LEN(bpe_merges));
    }
    if (!o->no_bos)
        gguf_set_u32(w, "tokenizer.ggml.bos_token_id", o->bos == -2 ? 256 + 8 : (uint32_t)o->bos);
    gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 256 + 8);
    if (o->add_eos)
        gguf_set_bool(w, "tokenizer.ggml.add_eos_token", true);
    free(toks);
    free(bytes);
    free(types);
    gguf_file *gf = finish(w, mv);
    tokenizer *t = NULL;
    lk_error local;
    if (!err)
        err = &local;
    int rc = tok_load(gf, &t, err);
    if (rc != expect_rc)
        fail_msg("tok_load returned %d (%s), expected %d", rc, err->msg, expect_rc);
    return t;
}

static const vopts defaults = { .bos = -2 };

static int32_t spm_id(const char *piece) {
    for (size_t i = 0; i < LK_ARRAY_LEN(spm_pieces); i++)
        if (strcmp(spm_pieces[i], piece) == 0)
            return (int32_t)(SPM_PIECES + i);
    fail_msg("no piece '%s'", piece);
    return -1;
}

/* SentencePiece merges by score: "▁hello" beats the pieces it contains; spaces become ▁, one in
 * front; characters that are no piece fall back to byte tokens. */
static void test_spm_merging(void **state) {
    (void)state;
    mem_vocab mv;
    tokenizer *t = spm_vocab(&defaults, &mv, 0, NULL);
    int32_t want1[] = { spm_id("\xE2\x96\x81hello"), spm_id("\xE2\x96\x81hi") };
    expect_ids(t, "hello hi", false, false, want1, 2);
    int32_t want2[] = { 1, spm_id("\xE2\x96\x81hi"), SPM_BYTES + 'x', SPM_BYTES + 0xE2,
                        SPM_BYTES + 0x82, SPM_BYTES + 0xAC };
    expect_ids(t, "hix\xE2\x82\xAC", true, false, want2, 6);
    int32_t want3[] = { spm_id("\xE2\x96\x81"), spm_id("\xE2\x96\x81hi") };
    expect_ids(t, " hi", false, false, want3, 2);
    assert_int_equal(tok_model(t), TOK_MODEL_SPM);
    assert_true(tok_add_space_prefix(t));
    size_t len;
    const char *p = tok_piece(t, spm_id("\xE2\x96\x81hello"), &len);
    assert_int_equal(len, 6);
    assert_memory_equal(p, " hello", 6);
    p = tok_piece(t, SPM_BYTES + 0x0A, &len);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], '\n');
    assert_string_equal(tok_text(t, SPM_BYTES + 0x0A, NULL), "<0x0A>");
    tok_free(t);
    mem_free(&mv);
}

/* A piece that spans a word boundary ("o▁") takes part in merging like any other. */
static void test_spm_piece_across_words(void **state) {
    (void)state;
    mem_vocab mv;
    vopts o = defaults;
    o.o_space = true;
    tokenizer *t = spm_vocab(&o, &mv, 0, NULL);
    int32_t o_space = tok_find(t, "o\xE2\x96\x81", 4);
    assert_true(o_space > 0);
    int32_t want[] = { spm_id("\xE2\x96\x81"), spm_id("hell"), o_space, spm_id("hi") };
    expect_ids(t, "hello hi", false, false, want, 4);
    tok_free(t);
    mem_free(&mv);
}

/* Control tokens are matched in text only with parse_special; user-defined ones always; text
 * after a special token gets the space prefix again. */
static void test_spm_special_parsing(void **state) {
    (void)state;
    mem_vocab mv;
    tokenizer *t = spm_vocab(&defaults, &mv, 0, NULL);
    int32_t end = spm_id("<|end|>"), tool = spm_id("<tool>");
    int32_t want_on[] = { spm_id("\xE2\x96\x81hi"), end, spm_id("\xE2\x96\x81hi"), tool };
    expect_ids(t, "hi<|end|>hi<tool>", false, true, want_on, 4);
    int32_t *ids;
    size_t n;
    encode(t, "hi<|end|>hi<tool>", false, false, &ids, &n);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(ids[i], end);
    assert_int_equal(ids[n - 1], tool);
    free(ids);
    /* Text cannot form a control token by merging: "<s>" stays bytes. */
    int32_t want_s[] = { spm_id("\xE2\x96\x81"), SPM_BYTES + '<', SPM_BYTES + 's', SPM_BYTES + '>' };
    expect_ids(t, "<s>", false, false, want_s, 4);
    int32_t want_bos[] = { 1 };
    expect_ids(t, "<s>", false, true, want_bos, 1);
    tok_free(t);
    mem_free(&mv);
}

/* BOS and EOS are added only with add_special, and as the vocabulary's flags say. */
static void test_bos_eos_flags(void **state) {
    (void)state;
    mem_vocab mv;
    vopts o = defaults;
    o.add_eos = true;
    tokenizer *t = spm_vocab(&o, &mv, 0, NULL);
    assert_true(tok_add_bos(t));
    assert_true(tok_add_eos(t));
    int32_t hi = spm_id("\xE2\x96\x81hi");
    int32_t with[] = { 1, hi, 2 }, without[] = { hi }, empty[] = { 1, 2 };
    expect_ids(t, "hi", true, false, with, 3);
    expect_ids(t, "hi", false, false, without, 1);
    expect_ids(t, "", true, false, empty, 2);
    expect_ids(t, "", false, false, empty, 0);
    assert_true(tok_is_eog(t, 2));
    tok_free(t);
    mem_free(&mv);

    o = defaults;
    o.add_bos_false = true;
    t = spm_vocab(&o, &mv, 0, NULL);
    expect_ids(t, "hi", true, false, without, 1);
    tok_free(t);
    mem_free(&mv);

    /* gpt2 vocabularies add no BOS unless the pre-tokenizer (Llama 3) or the file says so. */
    t = bpe_vocab(&defaults, &mv, 0, NULL);
    assert_false(tok_add_bos(t));
    int32_t bpe_hi[] = { 256 + 0 };
    expect_ids(t, "hi", true, false, bpe_hi, 1);
    tok_free(t);
    mem_free(&mv);
}

/* Byte-level BPE merges by rank; spaces are part of the next word; control and user-defined
 * tokens behave as in SentencePiece; pieces decode to bytes. */
static void test_bpe_merging(void **state) {
    (void)state;
    mem_vocab mv;
    tokenizer *t = bpe_vocab(&defaults, &mv, 0, NULL);
    /* tokens 0..255 are the bytes, so 'o' is token 'o' */
    int32_t want[] = { 256 + 5, 256 + 6, 256 + 1, 256 + 7, 'o', 'r', 'l', 'd' };
    expect_ids(t, "hello hello hi world", false, false, want, 8);
    int32_t want_sp[] = { 256 + 0, 256 + 8, 256 + 9 };
    expect_ids(t, "hi<|end|><u>", false, true, want_sp, 3);
    int32_t *ids;
    size_t n;
    encode(t, "hi<|end|><u>", false, false, &ids, &n);
    assert_int_equal(ids[n - 1], 256 + 9);
    assert_true(n > 3);
    char *back = decode_all(t, ids, n, 0);
    assert_string_equal(back, "hi<|end|><u>");
    free(back);
    free(ids);
    size_t len;
    const char *p = tok_piece(t, 256 + 6, &len); /* "Ġhello" */
    assert_int_equal(len, 6);
    assert_memory_equal(p, " hello", 6);
    assert_int_equal(tok_find(t, "\xC4\x80", 2), 0); /* U+0100 stands for byte 0x00 */
    p = tok_piece(t, 0, &len);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], 0);
    assert_string_equal(tok_pre(t), "gpt2");
    tok_free(t);
    mem_free(&mv);
}

/* Decoding hides control tokens unless TOK_DECODE_SPECIAL; user-defined ones always show. */
static void test_decode_flags(void **state) {
    (void)state;
    mem_vocab mv;
    tokenizer *t = spm_vocab(&defaults, &mv, 0, NULL);
    int32_t ids[] = { 1, spm_id("\xE2\x96\x81hi"), spm_id("<tool>"), spm_id("<|end|>"), 999999 };
    char *s = decode_all(t, ids, 5, 0);
    assert_string_equal(s, " hi<tool>");
    free(s);
    s = decode_all(t, ids, 5, TOK_DECODE_STRIP_SPACE);
    assert_string_equal(s, "hi<tool>");
    free(s);
    s = decode_all(t, ids, 5, TOK_DECODE_SPECIAL | TOK_DECODE_STRIP_SPACE);
    assert_string_equal(s, "<s> hi<tool><|end|>");
    free(s);
    /* Only one space goes, even when the first piece is nothing but that space. */
    int32_t spaced[] = { spm_id("\xE2\x96\x81"), spm_id("\xE2\x96\x81hi") };
    s = decode_all(t, spaced, 2, TOK_DECODE_STRIP_SPACE);
    assert_string_equal(s, " hi");
    lk_buf out = {0};
    tok_stream st;
    tok_stream_init(&st, TOK_DECODE_STRIP_SPACE);
    for (int i = 0; i < 2; i++)
        tok_stream_push(&st, t, spaced[i], &out);
    assert_string_equal(out.data, s);
    lk_buf_free(&out);
    free(s);
    tok_free(t);
    mem_free(&mv);
}

/* The stream never emits part of a character: a character split over byte tokens comes out
 * whole when its last byte arrives; bytes that cannot form one become U+FFFD; flush ends an
 * incomplete one with U+FFFD. */
static void test_stream_utf8(void **state) {
    (void)state;
    mem_vocab mv;
    tokenizer *t = spm_vocab(&defaults, &mv, 0, NULL);
    lk_buf out = {0};
    tok_stream s;
    tok_stream_init(&s, TOK_DECODE_STRIP_SPACE);
    assert_int_equal(tok_stream_push(&s, t, 1, &out), 0);                   /* BOS: nothing */
    assert_int_equal(tok_stream_push(&s, t, spm_id("\xE2\x96\x81hi"), &out), 2); /* "hi" */
    assert_int_equal(tok_stream_push(&s, t, SPM_BYTES + 0xF0, &out), 0);   /* 🦙: F0 9F A6 99 */
    assert_int_equal(tok_stream_push(&s, t, SPM_BYTES + 0x9F, &out), 0);
    assert_int_equal(tok_stream_push(&s, t, SPM_BYTES + 0xA6, &out), 0);
    assert_int_equal(tok_stream_push(&s, t, SPM_BYTES + 0x99, &out), 4);
    assert_string_equal(out.data, "hi\xF0\x9F\xA6\x99");
    /* An é piece after a lone lead byte: the lead byte is U+FFFD, é itself comes through. */
    assert_int_equal(tok_stream_push(&s, t, SPM_BYTES + 0xE2, &out), 0);
    assert_int_equal(tok_stream_push(&s, t, spm_id("\xC3\xA9"), &out), 5);
    /* A stray continuation byte is U+FFFD at once. */
    assert_int_equal(tok_stream_push(&s, t, SPM_BYTES + 0x80, &out), 3);
    /* An incomplete character at the end: flush gives U+FFFD. */
    assert_int_equal(tok_stream_push(&s, t, SPM_BYTES + 0xE2, &out), 0);
    assert_int_equal(tok_stream_push(&s, t, SPM_BYTES + 0x82, &out), 0);
    assert_int_equal(tok_stream_flush(&s, &out), 3);
    assert_int_equal(tok_stream_flush(&s, &out), 0);
    assert_string_equal(out.data, "hi\xF0\x9F\xA6\x99\xEF\xBF\xBD\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD");
    /* Surrogates and overlong forms never pass: ED A0 80 and C0 AF. */
    lk_buf_clear(&out);
    tok_stream_init(&s, 0);
    int32_t bad[] = { 0xED, 0xA0, 0x80, 0xC0, 0xAF };
    for (int i = 0; i < 5; i++)
        tok_stream_push(&s, t, SPM_BYTES + bad[i], &out);
    tok_stream_flush(&s, &out);
    for (size_t i = 0; i < out.len; i += 3)
        assert_memory_equal(out.data + i, "\xEF\xBF\xBD", 3);
    lk_buf_free(&out);
    tok_free(t);
    mem_free(&mv);
}

/* With a real byte-level vocabulary, streaming the tokens of any text gives back the text, each
 * push emitting only whole characters. */
static void test_stream_bpe_split_chars(void **state) {
    (void)state;
    tokenizer *t = load_ref("ggml-vocab-llama-bpe");
    if (!t)
        skip();
    const char *s = "\xE1\x9E\x80\xE1\x9E\xB6\xE1\x9E\x93\xE1\x9F\x8B 🦙 😶\u200d🌫\uFE0F";
    int32_t *ids;
    size_t n;
    encode(t, s, false, false, &ids, &n);
    lk_buf out = {0};
    tok_stream st;
    tok_stream_init(&st, 0);
    bool some_push_held_back = false;
    for (size_t i = 0; i < n; i++) {
        size_t piece_len;
        tok_piece(t, ids[i], &piece_len);
        size_t got = tok_stream_push(&st, t, ids[i], &out);
        some_push_held_back = some_push_held_back || got != piece_len;
        /* what has come out so far is whole characters */
        for (size_t k = 0; k < out.len;) {
            int l = lk_utf8_len((unsigned char)out.data[k]);
            assert_true(l > 0 && k + (size_t)l <= out.len);
            k += (size_t)l;
        }
    }
    assert_true(some_push_held_back); /* the test did split characters over tokens */
    assert_int_equal(tok_stream_flush(&st, &out), 0);
    assert_string_equal(out.data, s);
    lk_buf_free(&out);
    free(ids);
    tok_free(t);
}

/* ---- errors for bad vocabularies ---- */

static void expect_load_error(tokenizer *(*build)(const vopts *, mem_vocab *, int, lk_error *),
                              vopts o, int code, const char *needle1, const char *needle2) {
    mem_vocab mv;
    lk_error err = {0};
    tokenizer *t = build(&o, &mv, code, &err);
    assert_null(t);
    if (strncmp(err.msg, "mem.gguf: ", 10) != 0 || strstr(err.msg + 10, "mem.gguf"))
        fail_msg("error '%s' does not name the file once, first", err.msg);
    if (!strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2)))
        fail_msg("error '%s' does not mention '%s'%s%s", err.msg, needle1,
                 needle2 ? " and " : "", needle2 ? needle2 : "");
    if (getenv("TOK_TEST_VERBOSE"))
        print_message("%s\n", err.msg);
    mem_free(&mv);
}

static void test_error_missing_model(void **state) {
    (void)state;
    vopts o = defaults;
    o.no_model = true;
    expect_load_error(spm_vocab, o, LK_EFORMAT, "tokenizer.ggml.model", NULL);
}

static void test_error_unsupported_model(void **state) {
    (void)state;
    vopts o = defaults;
    o.model = "bert";
    expect_load_error(spm_vocab, o, LK_EUNSUPPORTED, "'bert'", "WordPiece");
}

static void test_error_missing_tokens(void **state) {
    (void)state;
    vopts o = defaults;
    o.no_tokens = true;
    expect_load_error(spm_vocab, o, LK_EFORMAT, "tokenizer.ggml.tokens", "missing");
}

static void test_error_tokens_wrong_type(void **state) {
    (void)state;
    vopts o = defaults;
    o.tokens_as_ints = true;
    expect_load_error(spm_vocab, o, LK_EFORMAT, "tokenizer.ggml.tokens", "int32");
}

static void test_error_short_scores(void **state) {
    (void)state;
    vopts o = defaults;
    o.short_scores = true;
    expect_load_error(spm_vocab, o, LK_EFORMAT, "tokenizer.ggml.scores", "entries");
}

static void test_error_bos_out_of_range(void **state) {
    (void)state;
    vopts o = defaults;
    o.bos = 100000;
    expect_load_error(spm_vocab, o, LK_EFORMAT, "tokenizer.ggml.bos_token_id", "100000");
}

static void test_error_merges_missing(void **state) {
    (void)state;
    vopts o = defaults;
    o.no_merges = true;
    expect_load_error(bpe_vocab, o, LK_EFORMAT, "tokenizer.ggml.merges", "missing");
}

static void test_error_bad_merge(void **state) {
    (void)state;
    vopts o = defaults;
    o.bad_merge = true;
    expect_load_error(bpe_vocab, o, LK_EFORMAT, "tokenizer.ggml.merges[1]", "'hello'");
}

static void test_error_unknown_pre(void **state) {
    (void)state;
    vopts o = defaults;
    o.pre = "no-such-pre";
    expect_load_error(bpe_vocab, o, LK_EUNSUPPORTED, "'no-such-pre'", "llama-bpe");
}

static void test_error_add_bos_without_bos(void **state) {
    (void)state;
    vopts o = defaults;
    o.pre = "llama-bpe"; /* adds BOS by default */
    o.no_bos = true;
    expect_load_error(bpe_vocab, o, LK_EFORMAT, "tokenizer.ggml.add_bos_token", "BOS");
}

/* Bad arguments are errors, not crashes. */
static void test_encode_null_text(void **state) {
    (void)state;
    mem_vocab mv;
    tokenizer *t = spm_vocab(&defaults, &mv, 0, NULL);
    int32_t *ids;
    size_t n;
    lk_error err = {0};
    assert_int_equal(tok_encode(t, NULL, 3, false, false, &ids, &n, &err), LK_EINVAL);
    assert_int_equal(tok_encode(t, NULL, 0, false, false, &ids, &n, &err), 0);
    assert_non_null(ids);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(tok_type(t, -5), TOK_UNDEFINED);
    assert_string_equal(tok_text(t, 1 << 30, NULL), "");
    assert_int_equal(tok_find(t, "nope", 4), -1);
    tok_free(t);
    mem_free(&mv);
}

int main(void) {
    static const char *const vocabs[] = {
        "ggml-vocab-llama-spm", "ggml-vocab-phi-3", "ggml-vocab-llama-bpe", "ggml-vocab-qwen2",
        "ggml-vocab-gpt-2", "ggml-vocab-deepseek-coder", "ggml-vocab-deepseek-llm",
        "ggml-vocab-falcon", "ggml-vocab-starcoder", "ggml-vocab-refact", "ggml-vocab-mpt",
    };
    struct CMUnitTest tests[64];
    size_t n = 0;
    for (size_t i = 0; i < LK_ARRAY_LEN(vocabs); i++) {
        struct CMUnitTest c = cmocka_unit_test_prestate(test_reference, (void *)vocabs[i]);
        c.name = vocabs[i];
        tests[n++] = c;
    }
    const struct CMUnitTest rest[] = {
        cmocka_unit_test(test_bert_unsupported),
        cmocka_unit_test(test_bpe_round_trip),
        cmocka_unit_test(test_spm_round_trip),
        cmocka_unit_test(test_llama3_special),
        cmocka_unit_test(test_user_defined_always_matched),
        cmocka_unit_test(test_concurrent_encode),
        cmocka_unit_test(test_spm_merging),
        cmocka_unit_test(test_spm_piece_across_words),
        cmocka_unit_test(test_spm_special_parsing),
        cmocka_unit_test(test_bos_eos_flags),
        cmocka_unit_test(test_bpe_merging),
        cmocka_unit_test(test_decode_flags),
        cmocka_unit_test(test_stream_utf8),
        cmocka_unit_test(test_stream_bpe_split_chars),
        cmocka_unit_test(test_error_missing_model),
        cmocka_unit_test(test_error_unsupported_model),
        cmocka_unit_test(test_error_missing_tokens),
        cmocka_unit_test(test_error_tokens_wrong_type),
        cmocka_unit_test(test_error_short_scores),
        cmocka_unit_test(test_error_bos_out_of_range),
        cmocka_unit_test(test_error_merges_missing),
        cmocka_unit_test(test_error_bad_merge),
        cmocka_unit_test(test_error_unknown_pre),
        cmocka_unit_test(test_error_add_bos_without_bos),
        cmocka_unit_test(test_encode_null_text),
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(rest); i++)
        tests[n++] = rest[i];
    return _cmocka_run_group_tests("tokenizer", tests, n, NULL, NULL);
}

/* fuzz_tokenizer.c — libFuzzer target: encode and decode arbitrary bytes with a real vocabulary.
 *
 * The vocabulary is loaded once, from $LK_FUZZ_VOCAB or else
 * ../shared/testdata/tokenizers/ggml-vocab-llama-bpe.gguf (run from the project root). Each
 * input is encoded with and without special-token parsing, and the invariants are checked:
 *   - encoding succeeds (or reports LK_ERANGE, a regex limit) and every id is in the vocabulary;
 *   - byte-level BPE where every byte has a normal token: decoding gives back the input exactly
 *     (control tokens rendered when they were parsed);
 *   - SentencePiece, for valid UTF-8 without U+2581 that encoded to normal and byte tokens only:
 *     decoding with TOK_DECODE_STRIP_SPACE gives back the input;
 *   - the streaming decoder emits valid UTF-8 only, and exactly the plain decoding whenever that
 *     is valid UTF-8.
 * The input read as little-endian int32 ids (any values) is decoded and streamed as well. */
#include <stdio.h>

#include "engine/tokenizer.h"

static tokenizer *tok;
static bool bpe_exact; /* BPE, and every byte's character is a normal token */

/* GPT-2's bytes_to_unicode: the character that stands for byte b. */
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

static void load_once(void) {
    const char *path = getenv("LK_FUZZ_VOCAB");
    if (!path)
        path = "../shared/testdata/tokenizers/ggml-vocab-llama-bpe.gguf";
    lk_error err = {0};
    gguf_file *gf = gguf_open(path, &err);
    if (!gf || tok_load(gf, &tok, &err) != 0) {
        fprintf(stderr, "fuzz_tokenizer: cannot load the vocabulary: %s\n", err.msg);
        abort();
    }
    gguf_close(gf);
    bpe_exact = tok_model(tok) == TOK_MODEL_BPE;
    for (int b = 0; b < 256 && bpe_exact; b++) {
        uint32_t cp = byte_char(b);
        char s[2];
        size_t n = 1;
        if (cp < 0x80) {
            s[0] = (char)cp;
        } else {
            s[0] = (char)(0xC0 | (cp >> 6));
            s[1] = (char)(0x80 | (cp & 0x3F));
            n = 2;
        }
        bpe_exact = tok_type(tok, tok_find(tok, s, n)) == TOK_NORMAL;
    }
}

/* Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF. */
static bool valid_utf8(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if (i + len > n || p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k < len; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF)
                return false;
        i += len;
    }
    return true;
}

static bool has_space_mark(const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 3 <= n; i++)
        if (p[i] == 0xE2 && p[i + 1] == 0x96 && p[i + 2] == 0x81)
            return true;
    return false;
}

/* Stream IDS and check the output against the plain decoding PLAIN. */
static void check_stream(const int32_t *ids, size_t n, unsigned flags, const lk_buf *plain) {
    lk_buf out = {0};
    tok_stream s;
    tok_stream_init(&s, flags);
    for (size_t i = 0; i < n; i++)
        tok_stream_push(&s, tok, ids[i], &out);
    tok_stream_flush(&s, &out);
    if (!valid_utf8((const unsigned char *)out.data, out.len))
        abort();
    if (valid_utf8((const unsigned char *)plain->data, plain->len) &&
        (out.len != plain->len || (out.len > 0 && memcmp(out.data, plain->data, out.len) != 0)))
        abort();
    lk_buf_free(&out);
}

static void check_encode(const uint8_t *data, size_t size, bool parse_special) {
    int32_t *ids;
    size_t n;
    lk_error err = {0};
    bool add_special = parse_special;
    int rc = tok_encode(tok, (const char *)data, size, add_special, parse_special, &ids, &n, &err);
    if (rc == LK_ERANGE)
        return;
    if (rc != 0)
        abort();
    bool plain_types = true;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok_n_vocab(tok))
            abort();
        int type = tok_type(tok, ids[i]);
        plain_types = plain_types && (type == TOK_NORMAL || type == TOK_BYTE);
    }
    /* Leave out the BOS/EOS that add_special put there; they are not in the text. */
    size_t first = add_special && tok_add_bos(tok) ? 1 : 0;
    size_t last = add_special && tok_add_eos(tok) ? n - 1 : n;
    if (first > last)
        abort();
    unsigned flags = parse_special ? TOK_DECODE_SPECIAL : 0;
    lk_buf plain = {0};
    if (tok_model(tok) == TOK_MODEL_BPE) {
        tok_decode(tok, ids + first, last - first, flags, &plain);
        if (bpe_exact && (plain.len != size || (size > 0 && memcmp(plain.data, data, size) != 0)))
            abort();
    } else {
        flags |= TOK_DECODE_STRIP_SPACE;
        tok_decode(tok, ids + first, last - first, flags, &plain);
        if (!parse_special && plain_types && valid_utf8(data, size) && !has_space_mark(data, size) &&
            (plain.len != size || (size > 0 && memcmp(plain.data, data, size) != 0)))
            abort();
    }
    check_stream(ids + first, last - first, flags, &plain);
    lk_buf_free(&plain);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok)
        load_once();
    check_encode(data, size, false);
    check_encode(data, size, true);

    /* The bytes as ids, in range or not. */
    size_t n = size / 4;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return 0;
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)((uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 |
                           (uint32_t)data[4 * i + 2] << 16 | (uint32_t)data[4 * i + 3] << 24);
    lk_buf plain = {0};
    tok_decode(tok, ids, n, TOK_DECODE_SPECIAL, &plain);
    check_stream(ids, n, TOK_DECODE_SPECIAL, &plain);
    lk_buf_free(&plain);
    free(ids);
    return 0;
}

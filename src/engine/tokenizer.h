/* tokenizer.h — text to token ids and back, for the vocabularies stored in GGUF files.
 *
 * Two kinds of vocabulary are handled, chosen by tokenizer.ggml.model:
 *   "llama"  SentencePiece BPE: spaces become U+2581, pieces merge by score, characters that are
 *            not tokens fall back to <0xXX> byte tokens (or the unknown token).
 *   "gpt2"   byte-level BPE: the text is split by the pre-tokenizer regexes named by
 *            tokenizer.ggml.pre, each piece's bytes map to printable characters, and pairs
 *            merge in the order of tokenizer.ggml.merges.
 * Control, user-defined and unknown tokens ("special" tokens) are matched in the text first:
 * user-defined ones always (as Hugging Face tokenizers match added tokens), control and unknown
 * ones only when the caller asks for it (parse_special), so that user text cannot forge them.
 *
 * A tokenizer is immutable once loaded: any number of threads may encode and decode with one
 * tokenizer at the same time. It copies what it needs, so the gguf_file may be closed after
 * tok_load. The files: tokenizer.c (loading, special tokens, decoding, streaming), tok_spm.c,
 * tok_bpe.c (the two merge algorithms) and pretok.c (the pre-tokenizer regexes, PCRE2). */
#ifndef LK_TOKENIZER_H
#define LK_TOKENIZER_H

#include "llmkit.h"
#include "engine/gguf.h"
#include "base/base.h"

typedef struct tokenizer tokenizer;

/* Token types, numbered as in tokenizer.ggml.token_type. A type outside 0..6 in a file is read
 * as TOK_UNDEFINED. */
enum tok_type {
    TOK_UNDEFINED = 0,
    TOK_NORMAL = 1,
    TOK_UNKNOWN = 2,      /* the unknown token, e.g. "<unk>" */
    TOK_CONTROL = 3,      /* e.g. "<s>", "<|eot_id|>": only parsed from text when asked */
    TOK_USER_DEFINED = 4, /* added tokens: always matched in text, decoded as their text */
    TOK_UNUSED = 5,
    TOK_BYTE = 6,         /* "<0xXX>", one byte */
};

/* The algorithm a vocabulary uses. */
enum tok_model {
    TOK_MODEL_SPM = 0, /* tokenizer.ggml.model "llama" */
    TOK_MODEL_BPE = 1, /* tokenizer.ggml.model "gpt2" */
};

/* Load the vocabulary described by GF's tokenizer.ggml.* metadata:
 *   model (required), pre (BPE: the pre-tokenizer, "default" when absent), tokens (required),
 *   scores, token_type, merges (required for "gpt2"), bos/eos/unknown/eot/eom/padding/
 *   seperator_token_id, add_bos_token, add_eos_token, add_space_prefix (SPM only).
 * Defaults follow llama.cpp: SentencePiece adds BOS and a leading space, has BOS 1, EOS 2 and
 * UNK 0; BPE adds BOS only for the Llama 3 family of pre-tokenizers; the file's keys override.
 * When eot is not given it is found by text ("<|eot_id|>", "<|im_end|>", ...); eom likewise.
 * Errors (*out left NULL): LK_EFORMAT naming the key when a key is missing or has the wrong type,
 * when an array is shorter than tokenizer.ggml.tokens, when a merge is not "A B", when bos, eos,
 * unk, eot or eom is outside the vocabulary (padding and separator ids out of range are ignored),
 * or when add_bos_token/add_eos_token is set without a BOS/EOS token; LK_EUNSUPPORTED naming the
 * model for a model other than "llama" and "gpt2" (e.g. "bert") or listing the known
 * pre-tokenizers for an unknown tokenizer.ggml.pre; LK_ENOMEM. */
int tok_load(const gguf_file *gf, tokenizer **out, lk_error *err);

/* Free a tokenizer (NULL is fine). */
void tok_free(tokenizer *t);

/* Encode LEN bytes of TEXT (any bytes; NUL is an ordinary byte; TEXT may be NULL when LEN is 0).
 * add_special: put BOS first and EOS last as the vocabulary's add_bos/add_eos flags say.
 * parse_special: match control and unknown tokens' texts in TEXT (user-defined tokens are
 * matched either way). On success *ids is a malloc'd array (never NULL; free it) of *n_ids ids.
 * Errors: LK_EINVAL for a NULL TEXT with LEN > 0, LK_ERANGE when a pre-tokenizer regex hits
 * PCRE2's match limit (the message names the byte offset), LK_ENOMEM. */
int tok_encode(const tokenizer *t, const char *text, size_t len, bool add_special,
               bool parse_special, int32_t **ids, size_t *n_ids, lk_error *err);

/* The bytes a token stands for: byte-level decoded for BPE, U+2581 turned into spaces for
 * SentencePiece, the byte of a <0xXX> token, the text of control, user-defined and unknown
 * tokens. The result is not NUL-terminated in general (a piece may hold a NUL byte) and may be
 * an incomplete UTF-8 sequence. An id outside the vocabulary gives "" and *len 0. LEN may be NULL. */
const char *tok_piece(const tokenizer *t, int32_t id, size_t *len);

/* The token's string as stored in the vocabulary (e.g. "ĠHello", "▁Hello", "<0x0A>"),
 * NUL-terminated; "" for an id outside the vocabulary. LEN may be NULL. */
const char *tok_text(const tokenizer *t, int32_t id, size_t *len);

/* The id of the token whose vocabulary string is exactly TEXT[0..LEN), or -1. */
int32_t tok_find(const tokenizer *t, const char *text, size_t len);

/* Vocabulary facts. Ids are -1 where the vocabulary has no such token. */
int32_t tok_n_vocab(const tokenizer *t);
enum tok_model tok_model(const tokenizer *t);
const char *tok_pre(const tokenizer *t);        /* the pre-tokenizer in use, by its canonical
                                                   name ("gpt2" for "gpt-2"; "default" for SPM) */
int32_t tok_bos(const tokenizer *t);
int32_t tok_eos(const tokenizer *t);
int32_t tok_eot(const tokenizer *t);
int32_t tok_eom(const tokenizer *t);
int32_t tok_unk(const tokenizer *t);
int32_t tok_pad(const tokenizer *t);
bool tok_add_bos(const tokenizer *t);           /* does tok_encode(add_special) put BOS first */
bool tok_add_eos(const tokenizer *t);           /* ... and EOS last */
bool tok_add_space_prefix(const tokenizer *t);  /* SPM: a space is put before the text */

/* The token's type (enum tok_type); TOK_UNDEFINED for an id outside the vocabulary. */
int tok_type(const tokenizer *t, int32_t id);
/* The token's score (SentencePiece merge priority); 0 when the file has none. */
float tok_score(const tokenizer *t, int32_t id);
/* True for a control token. */
bool tok_is_control(const tokenizer *t, int32_t id);
/* True for a token that ends generation: eos, eot, eom and tokens whose text marks an end of
 * turn ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
 * "<|end_of_text|>", "<EOT>", "<|EOT|>", "<｜end▁of▁sentence｜>"). */
bool tok_is_eog(const tokenizer *t, int32_t id);

/* Flags for tok_decode and tok_stream_init. */
enum {
    /* Render control, unknown and unused tokens as their text; by default they produce nothing.
     * (User-defined tokens always produce their text.) */
    TOK_DECODE_SPECIAL = 1,
    /* For a vocabulary that puts a space before the text (tok_add_space_prefix), drop one
     * leading space from the first piece that produces text, so that decoding what tok_encode
     * gave returns the original text. Use it for a whole sequence, not for generated text that
     * follows a prompt. */
    TOK_DECODE_STRIP_SPACE = 2,
};

/* Append to OUT the bytes of the N tokens in IDS, rendered as FLAGS say: the exact
 * concatenation of the pieces, which need not be valid UTF-8 (use tok_stream for that).
 * Ids outside the vocabulary produce nothing. */
void tok_decode(const tokenizer *t, const int32_t *ids, size_t n, unsigned flags, lk_buf *out);

/* A streaming detokenizer for generated tokens. Pieces may end in the middle of a UTF-8
 * character (byte tokens, byte-level BPE); the stream holds such a tail back until the
 * character completes, so what it emits is always valid UTF-8: a byte sequence that can never
 * become valid is emitted as U+FFFD, one per maximal invalid subsequence. The stream is plain
 * data that owns no memory: declare one, tok_stream_init it, push ids, flush at the end. */
typedef struct tok_stream {
    unsigned flags;             /* TOK_DECODE_* */
    bool started;               /* some token produced text already (for STRIP_SPACE) */
    uint8_t n_pend;             /* bytes held back: the start of an incomplete character */
    unsigned char pend[4];
} tok_stream;

void tok_stream_init(tok_stream *s, unsigned flags);

/* Add token ID; append to OUT the complete characters it finishes. Returns the number of bytes
 * appended (0 when the token only started a character, or renders as nothing). */
size_t tok_stream_push(tok_stream *s, const tokenizer *t, int32_t id, lk_buf *out);

/* End of stream: append U+FFFD for an incomplete character still held back, if any, and reset
 * the held bytes. Returns the number of bytes appended. */
size_t tok_stream_flush(tok_stream *s, lk_buf *out);

#endif

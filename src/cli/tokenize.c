/* tokenize.c — `llmkit tokenize`: the ids and pieces of a text, from any GGUF with a vocabulary
 * (vocabulary-only files included: no weights are needed). */
#include "cli/cli.h"
#include "engine/tokenizer.h"

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_valid(const unsigned char *s, size_t n) {
    int len = lk_utf8_len(s[0]);
    if (len < 2 || (size_t)len > n) return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    uint32_t cp = len == 2 ? s[0] & 0x1Fu : len == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
    for (int i = 1; i < len; i++) cp = cp << 6 | (s[i] & 0x3Fu);
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return (size_t)len;
}

/* Print bytes as a JSON string body (also readable in the plain listing). A byte that is not
 * part of valid UTF-8 (a piece may be half a character) is written as the text \xNN (an
 * escaped backslash in JSON), so that the output stays valid JSON and UTF-8. */
static void put_escaped(FILE *f, const char *s, size_t n, bool json) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t len = utf8_valid(u + i, n - i);
            if (len) {
                fwrite(u + i, 1, len, f);
                i += len - 1;
            } else {
                fprintf(f, json ? "\\\\x%02x" : "\\x%02x", c);
            }
        } else if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    bool json = false, no_bos = false, special = false, ids_only = false;
    lk_opt opts[] = {
        { "model", 'm', LK_OPT_STR, &model, "FILE", "a GGUF model or vocabulary file" },
        { "file", 'f', LK_OPT_STR, &file, "FILE", "tokenize the contents of a file instead of TEXT" },
        { "json", 0, LK_OPT_FLAG, &json, NULL, "print a JSON array of {id, piece}" },
        { "ids", 0, LK_OPT_FLAG, &ids_only, NULL, "print only the ids, space-separated" },
        { "no-bos", 0, LK_OPT_FLAG, &no_bos, NULL, "do not add BOS/EOS even if the vocabulary does" },
        { "special", 0, LK_OPT_FLAG, &special, NULL, "match special tokens written in the text" },
        { NULL, 0, 0, NULL, NULL, NULL },
    };
    lk_cmd_help help = {
        "llmkit tokenize -m MODEL.gguf (TEXT | -f FILE) [--json] [--no-bos] [--special]",
        "Tokenize a text with the model's tokenizer and print each token's id and piece.\n"
        "BOS (and EOS) are added as the vocabulary says unless --no-bos. Special tokens such as\n"
        "<|im_start|> written in the text are plain text unless --special.",
        "  llmkit tokenize -m model.gguf 'Hello world'\n"
        "  llmkit tokenize -m model.gguf --json --special '<|im_start|>user'\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 1, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!model) return cli_usage("tokenize: --model is required (see llmkit tokenize --help)");
    if ((n_pos == 1) == (file != NULL)) return cli_usage("tokenize: give exactly one of TEXT or -f FILE");

    lk_error err = {0};
    lk_buf text = {0};
    if (file && lk_read_file(file, &text, &err)) return cli_fail(&err);
    if (!file) lk_buf_puts(&text, pos[0]);
    gguf_file *gf = gguf_open(model, &err);
    tokenizer *t = NULL;
    if (gf) tok_load(gf, &t, &err);
    int32_t *ids = NULL;
    size_t n = 0;
    rc = !gf || !t;
    if (!rc) rc = tok_encode(t, text.data, text.len, !no_bos, special, &ids, &n, &err);
    if (rc) {
        tok_free(t);
        gguf_close(gf);
        lk_buf_free(&text);
        return cli_fail(&err);
    }
    if (json) putchar('[');
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = tok_piece(t, ids[i], &len);
        if (tok_type(t, ids[i]) == TOK_CONTROL) p = tok_text(t, ids[i], &len);
        if (ids_only) {
            printf(i ? " %d" : "%d", ids[i]);
        } else if (json) {
            printf("%s{\"id\": %d, \"piece\": \"", i ? ", " : "", ids[i]);
            put_escaped(stdout, p, len, true);
            printf("\"}");
        } else {
            printf("%6d -> '", ids[i]);
            put_escaped(stdout, p, len, false);
            printf("'\n");
        }
    }
    if (json) printf("]\n");
    else if (ids_only) printf("\n");
    else fprintf(stderr, "%zu tokens\n", n);
    free(ids);
    tok_free(t);
    gguf_close(gf);
    lk_buf_free(&text);
    return 0;
}

/* embed.c — `llmkit embed`: embeddings of texts from any model that makes them (OpenAI or a
 * compatible server, a local GGUF model, or builtin:hash), as JSON lines or a table of cosine
 * similarities. */
#include "cli/cli.h"
#include "base/table.h"

int cmd_embed(int argc, char **argv) {
    const char *spec = "builtin:hash", *file = NULL;
    bool cosine = false, quiet = false;
    cli_model cm;
    lk_opt opts[24] = {
        { "model", 'm', LK_OPT_STR, &spec, "SPEC", "the embedding model (default builtin:hash)" },
        { "file", 'f', LK_OPT_STR, &file, "FILE", "embed each line of FILE" },
        { "cosine", 0, LK_OPT_FLAG, &cosine, NULL, "print the cosine similarity of every pair instead of vectors" },
        { "quiet", 'q', LK_OPT_FLAG, &quiet, NULL, "do not print usage and cost" },
    };
    int n_opts = 4;
    n_opts += cli_model_opts(&cm, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit embed [-m SPEC] (TEXT ... | -f FILE) [--cosine]",
        "Embed texts and print one JSON object per line: {\"text\", \"embedding\"}. Vectors are\n"
        "L2-normalised, so the dot product is the cosine similarity. builtin:hash (the default)\n"
        "needs no model: it hashes words and character n-grams, so it sees shared words, not\n"
        "meaning. Local GGUF models give the mean of their last hidden states.",
        "  llmkit embed 'the cat sat' 'a cat was sitting' 'stock prices fell' --cosine\n"
        "  llmkit embed -m openai:text-embedding-3-small -f sentences.txt > vectors.jsonl\n",
    };
    const char *pos[256];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 256, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!n_pos == !file) return cli_usage("embed: give texts as arguments or -f FILE (one of them)");
    lk_error err = {0};
    lk_buf fbuf = {0};
    const char **texts = NULL;
    size_t n = 0;
    if (file) {
        if (lk_read_file(file, &fbuf, &err)) return cli_fail(&err);
        char *p = fbuf.data ? fbuf.data : "";
        while (*p) {
            char *nl = strchr(p, '\n');
            if (nl) *nl = 0;
            size_t l = strlen(p);
            if (l && p[l - 1] == '\r') p[l - 1] = 0;
            if (*p) {
                texts = lk_xrealloc(texts, (n + 1) * sizeof *texts);
                texts[n++] = p;
            }
            if (!nl) break;
            p = nl + 1;
        }
    } else {
        texts = lk_xmalloc((size_t)n_pos * sizeof *texts);
        for (int i = 0; i < n_pos; i++) texts[n++] = pos[i];
    }
    lk_model *m;
    if ((rc = cli_open_model(&cm, spec, &m))) {
        free(texts);
        lk_buf_free(&fbuf);
        return rc;
    }
    lk_embeddings e;
    rc = lk_model_embed(m, texts, n, &e, &err);
    if (!rc && cosine) {
        const char **cols = lk_xmalloc((n + 1) * sizeof *cols);
        char (*names)[24] = lk_xmalloc((n + 1) * sizeof *names);
        cols[0] = "text";
        for (size_t j = 0; j < n; j++) {
            snprintf(names[j], sizeof names[j], ">%zu", j + 1);
            cols[j + 1] = names[j];
        }
        lk_table t;
        lk_table_init(&t, n + 1, cols);
        for (size_t i = 0; i < n; i++) {
            lk_table_row(&t);
            size_t cut = 0, chars = 0; /* the first 40 characters, cut between characters */
            while (texts[i][cut] && chars < 40) {
                cut += (size_t)LK_MAX(1, lk_utf8_len((unsigned char)texts[i][cut]));
                chars++;
            }
            cut = strnlen(texts[i], cut);
            lk_table_cell(&t, "%zu %.*s", i + 1, (int)cut, texts[i]);
            for (size_t j = 0; j < n; j++) {
                double dot = 0;
                for (size_t k = 0; k < e.dim; k++) dot += (double)e.data[i * e.dim + k] * e.data[j * e.dim + k];
                lk_table_cell(&t, "%.3f", dot);
            }
        }
        lk_table_print(&t, stdout);
        lk_table_free(&t);
        free(cols);
        free(names);
    } else if (!rc) {
        lk_buf b = {0};
        for (size_t i = 0; i < n; i++) {
            lk_buf_clear(&b);
            lk_buf_puts(&b, "{\"text\":");
            lk_buf_json_str(&b, texts[i]);
            lk_buf_puts(&b, ",\"embedding\":[");
            for (size_t k = 0; k < e.dim; k++) lk_buf_printf(&b, k ? ",%.7g" : "%.7g", (double)e.data[i * e.dim + k]);
            lk_buf_puts(&b, "]}\n");
            fwrite(b.data, 1, b.len, stdout);
        }
        lk_buf_free(&b);
    }
    if (!rc && !quiet) {
        fprintf(stderr, "llmkit: %s | %zu texts, dim %zu | %lld tokens", lk_model_spec(m), e.n, e.dim,
                (long long)e.usage.prompt_tokens);
        if (e.cost_known) fprintf(stderr, " | $%.6f", e.cost_usd);
        fprintf(stderr, "\n");
    }
    lk_embeddings_free(&e);
    lk_model_free(m);
    free(texts);
    lk_buf_free(&fbuf);
    return rc ? cli_fail(&err) : 0;
}

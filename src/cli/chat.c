/* chat.c — `llmkit chat`: an interactive conversation with any model.
 *
 * Each turn sends the whole history; a local model renders it with its chat template and keeps
 * the KV cache of what it has already seen, so only the new turn is evaluated (an API model's
 * provider may cache the prefix too). Lines starting with / are commands: /reset forgets the
 * history, /exit (or end of input) quits. */
#include "cli/cli.h"

#include <unistd.h>

static bool print_text(const char *text, size_t len, void *ud) {
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

typedef struct history {
    lk_message *msgs;
    size_t n, cap;
} history;

static void push(history *h, const char *role, const char *content) {
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->msgs = lk_xrealloc(h->msgs, h->cap * sizeof *h->msgs);
    }
    h->msgs[h->n++] = (lk_message){ .role = role, .content = lk_xstrdup(content) };
}

static void truncate_to(history *h, size_t n) {
    while (h->n > n) free((char *)h->msgs[--h->n].content);
}

int cmd_chat(int argc, char **argv) {
    const char *spec = NULL, *system = NULL;
    int n_predict = 0;
    cli_sampling cs;
    cli_model cm;
    lk_opt opts[40] = {
        { "model", 'm', LK_OPT_STR, &spec, "SPEC", "a .gguf file or an API model (see llmkit run --help)" },
        { "system", 0, LK_OPT_STR, &system, "TEXT", "a system message that opens the conversation" },
        { "n-predict", 'n', LK_OPT_INT, &n_predict, "N", "tokens per answer at most (0 = the model's default)" },
    };
    int n_opts = 3;
    n_opts += cli_sampling_opts(&cs, opts + n_opts);
    n_opts += cli_model_opts(&cm, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit chat -m SPEC [--system TEXT] [options]",
        "Chat with a model. Type a message and press Enter; the answer streams back.\n"
        "/reset starts over, /exit or Ctrl-D quits. A local model renders the conversation with\n"
        "its chat template (or --chat-template NAME) and does not evaluate earlier turns again.",
        "  llmkit chat -m model.gguf --system 'You are terse.'\n"
        "  llmkit chat -m anthropic:claude-haiku-4-5\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!spec) return cli_usage("chat: --model is required (see llmkit chat --help)");
    if (n_predict < 0) return cli_usage("chat: -n %d: expected 0 or more", n_predict);

    lk_error err = {0};
    lk_model *m;
    if ((rc = cli_open_model(&cm, spec, &m))) return rc;
    lk_request req;
    lk_request_init(&req);
    if (cli_sampling_request(&cs, strcmp(lk_model_backend(m), "local") == 0, &req)) {
        lk_model_free(m);
        return 2;
    }
    req.max_tokens = n_predict;
    req.stream = true;
    req.timeout_s = cm.timeout;
    bool tty = isatty(0);
    if (tty) {
        fprintf(stderr, "llmkit chat: %s", lk_model_spec(m));
        if (req.has_seed) fprintf(stderr, ", seed %llu", (unsigned long long)req.seed);
        fprintf(stderr, ". /reset, /exit.\n");
    }
    history h = {0};
    if (system) push(&h, "system", system);
    size_t n_base = h.n;
    char *line = NULL;
    size_t cap = 0;
    rc = 0;
    for (;;) {
        if (tty) fputs("> ", stdout), fflush(stdout);
        ssize_t len = getline(&line, &cap, stdin);
        if (len < 0) break;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0) break;
        if (strcmp(line, "/reset") == 0) {
            truncate_to(&h, n_base);
            fprintf(stderr, "(history cleared)\n");
            continue;
        }
        push(&h, "user", line);
        req.messages = h.msgs;
        req.n_messages = h.n;
        lk_response res;
        rc = lk_model_chat(m, &req, print_text, NULL, &res, &err);
        cli_print_warnings(&res);
        if (rc) {
            if (res.text_len) printf("\n");
            cli_fail(&err);
            truncate_to(&h, h.n - 1); /* forget the turn that failed, keep chatting */
            if (err.code == LK_ERANGE) fprintf(stderr, "(context full: /reset to start over)\n");
            lk_response_free(&res);
            rc = 1;
            continue;
        }
        rc = 0;
        push(&h, "assistant", res.text);
        printf("\n");
        if (tty)
            fprintf(stderr, "(%lld tokens, %.1f tok/s)\n", (long long)res.usage.completion_tokens,
                    res.timings.tokens_per_s);
        lk_response_free(&res);
    }
    free(line);
    truncate_to(&h, 0);
    free(h.msgs);
    lk_model_free(m);
    return rc;
}

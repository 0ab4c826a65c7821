/* chat.c — `llmkit chat`: an interactive conversation, rendered by the model's chat template.
 *
 * Each turn renders the whole history with the template; the session keeps the KV cache of
 * what it has already seen, so only the new turn is evaluated. Lines starting with / are
 * commands: /reset forgets the history, /exit (or end of input) quits. */
#include "cli/cli.h"
#include "engine/generate.h"

#include <unistd.h>

static bool print_text(const char *text, size_t len, void *ud) {
    lk_buf_append(ud, text, len);
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

typedef struct history {
    lk_chat_msg *msgs;
    char **owned;
    size_t n, cap;
} history;

static void push(history *h, const char *role, const char *content) {
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->msgs = lk_xrealloc(h->msgs, h->cap * sizeof *h->msgs);
        h->owned = lk_xrealloc(h->owned, h->cap * sizeof *h->owned);
    }
    h->owned[h->n] = lk_xstrdup(content);
    h->msgs[h->n] = (lk_chat_msg){ role, h->owned[h->n] };
    h->n++;
}

static void truncate_to(history *h, size_t n) {
    while (h->n > n) free(h->owned[--h->n]);
}

int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *system = NULL, *tmpl_name = NULL;
    int n_predict = -1, n_ctx = 0;
    cli_sampling cs;
    cli_engine ce;
    lk_opt opts[40] = {
        { "model", 'm', LK_OPT_STR, &model, "FILE", "the GGUF model" },
        { "system", 0, LK_OPT_STR, &system, "TEXT", "a system message that opens the conversation" },
        { "chat-template", 0, LK_OPT_STR, &tmpl_name, "NAME", "use this template family instead of the model's" },
        { "n-predict", 'n', LK_OPT_INT, &n_predict, "N", "tokens per answer at most (-1 = until the model stops)" },
        { "ctx", 'c', LK_OPT_INT, &n_ctx, "N", "context size in tokens (default: the model's, at most 4096)" },
    };
    int n_opts = 5;
    n_opts += cli_sampling_opts(&cs, opts + n_opts);
    n_opts += cli_engine_opts(&ce, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit chat -m MODEL.gguf [--system TEXT] [options]",
        "Chat with a local model. Type a message and press Enter; the answer streams back.\n"
        "/reset starts over, /exit or Ctrl-D quits. The conversation is rendered with the model's\n"
        "chat template (or --chat-template NAME) and earlier turns are not evaluated again.",
        "  llmkit chat -m model.gguf --system 'You are terse.'\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!model) return cli_usage("chat: --model is required (see llmkit chat --help)");
    lk_gen_params gp = { .max_tokens = n_predict };
    if (cli_sampling_params(&cs, &gp.sampling)) return 2;

    lk_error err = {0};
    lk_llm *m;
    lk_pool *pool;
    if ((rc = cli_load_model(&ce, model, &m, &pool, NULL))) return rc;
    int tmpl = lk_llm_chat_template(m, tmpl_name, &err);
    if (tmpl < 0) {
        lk_llm_free(m);
        lk_pool_free(pool);
        return cli_fail(&err);
    }
    if (n_ctx <= 0) n_ctx = LK_MIN(m->hp.n_ctx_train, 4096);
    lk_session s;
    if (lk_session_init(&s, m, n_ctx, &err)) {
        lk_llm_free(m);
        lk_pool_free(pool);
        return cli_fail(&err);
    }
    bool tty = isatty(0);
    if (tty)
        fprintf(stderr, "llmkit chat: %s, template %s, seed %llu. /reset, /exit.\n", m->name,
                chat_template_name(tmpl), cs.seed);
    history h = {0};
    if (system) push(&h, "system", system);
    size_t n_base = h.n;
    char *line = NULL;
    size_t cap = 0;
    lk_buf answer = {0};
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
        int32_t *ids = NULL;
        int n_ids = 0;
        lk_gen_stats st;
        lk_buf_clear(&answer);
        rc = lk_chat_tokens(m, tmpl, h.msgs, h.n, true, &ids, &n_ids, &err);
        if (!rc) rc = lk_session_generate(&s, ids, n_ids, &gp, print_text, &answer, &st, &err);
        free(ids);
        if (rc) {
            cli_fail(&err);
            truncate_to(&h, h.n - 1); /* forget the turn that failed, keep chatting */
            if (err.code == LK_ERANGE) fprintf(stderr, "(context full: /reset to start over)\n");
            rc = 1;
            continue;
        }
        rc = 0;
        push(&h, "assistant", answer.data ? answer.data : "");
        printf("\n");
        if (tty) fprintf(stderr, "(%d tokens, %.1f tok/s)\n", st.n_gen, st.gen_s > 0 ? st.n_gen / st.gen_s : 0.0);
    }
    free(line);
    lk_buf_free(&answer);
    truncate_to(&h, 0);
    free(h.msgs);
    free(h.owned);
    lk_session_free(&s);
    lk_llm_free(m);
    lk_pool_free(pool);
    return rc;
}

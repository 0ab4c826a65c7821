/* run.c — `llmkit run`: generate text from a prompt, streamed to stdout, timings to stderr. */
#include "cli/cli.h"
#include "engine/generate.h"

static bool print_text(const char *text, size_t len, void *ud) {
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

int cmd_run(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL, *system = NULL, *tmpl_name = NULL;
    int n_predict = 256, n_ctx = 0;
    bool chat = false, no_bos = false, special = false, quiet = false;
    lk_opt_list stops = {0};
    cli_sampling cs;
    cli_engine ce;
    lk_opt opts[40] = {
        { "model", 'm', LK_OPT_STR, &model, "FILE", "the GGUF model" },
        { "prompt", 'p', LK_OPT_STR, &prompt, "TEXT", "the prompt" },
        { "file", 'f', LK_OPT_STR, &file, "FILE", "read the prompt from a file" },
        { "n-predict", 'n', LK_OPT_INT, &n_predict, "N", "tokens to generate at most (256; -1 = until the context is full)" },
        { "ctx", 'c', LK_OPT_INT, &n_ctx, "N", "context size in tokens (default: the model's, at most 4096)" },
        { "chat", 0, LK_OPT_FLAG, &chat, NULL, "wrap the prompt as a user message in the model's chat template" },
        { "system", 0, LK_OPT_STR, &system, "TEXT", "with --chat: a system message" },
        { "chat-template", 0, LK_OPT_STR, &tmpl_name, "NAME", "with --chat: use this template family" },
        { "stop", 0, LK_OPT_LIST, &stops, "TEXT", "stop when this text is generated (repeatable)" },
        { "no-bos", 0, LK_OPT_FLAG, &no_bos, NULL, "do not put the BOS token first" },
        { "special", 0, LK_OPT_FLAG, &special, NULL, "match special tokens (e.g. <|im_start|>) in the prompt" },
        { "quiet", 'q', LK_OPT_FLAG, &quiet, NULL, "do not print timings" },
    };
    int n_opts = 12;
    n_opts += cli_sampling_opts(&cs, opts + n_opts);
    n_opts += cli_engine_opts(&ce, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit run -m MODEL.gguf (-p TEXT | -f FILE) [options]",
        "Generate a continuation of the prompt with a local GGUF model. The generated text (not\n"
        "the prompt) streams to stdout; load time, prompt and generation speed go to stderr.\n"
        "--temp 0 is greedy decoding; the same --seed gives the same text.",
        "  llmkit run -m model.gguf -p 'Once upon a time' -n 64 --temp 0\n"
        "  llmkit run -m model.gguf --chat -p 'Name three colours.' --seed 42\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!model) return cli_usage("run: --model is required (see llmkit run --help)");
    if (!prompt == !file) return cli_usage("run: give the prompt with exactly one of -p TEXT or -f FILE");
    if (system && !chat) return cli_usage("run: --system needs --chat");
    lk_gen_params gp = { .max_tokens = n_predict, .stops = stops.items, .n_stops = (size_t)stops.n };
    if (cli_sampling_params(&cs, &gp.sampling)) return 2;

    lk_error err = {0};
    lk_buf fbuf = {0};
    if (file) {
        if (lk_read_file(file, &fbuf, &err)) return cli_fail(&err);
        prompt = fbuf.data;
    }
    lk_llm *m;
    lk_pool *pool;
    double load_s = 0;
    if ((rc = cli_load_model(&ce, model, &m, &pool, &load_s))) {
        lk_buf_free(&fbuf);
        return rc;
    }
    if (n_ctx <= 0) n_ctx = LK_MIN(m->hp.n_ctx_train, 4096);

    int32_t *ids = NULL;
    int n_ids = 0;
    if (chat) {
        int tmpl = lk_llm_chat_template(m, tmpl_name, &err);
        lk_chat_msg msgs[2];
        size_t n_msgs = 0;
        if (system) msgs[n_msgs++] = (lk_chat_msg){ "system", system };
        msgs[n_msgs++] = (lk_chat_msg){ "user", prompt };
        rc = tmpl < 0 ? err.code : lk_chat_tokens(m, tmpl, msgs, n_msgs, true, &ids, &n_ids, &err);
    } else {
        rc = lk_prompt_tokens(m, prompt, no_bos, special, &ids, &n_ids, &err);
    }
    lk_session s;
    lk_gen_stats st;
    if (!rc) rc = lk_session_init(&s, m, n_ctx, &err);
    if (!rc) {
        rc = lk_session_generate(&s, ids, n_ids, &gp, print_text, NULL, &st, &err);
        lk_session_free(&s);
    }
    if (!rc) {
        printf("\n");
        if (!quiet) {
            int n_eval = st.n_prompt - st.n_cached;
            fprintf(stderr, "\nllmkit: load %.1f ms | prompt %d tokens, %.1f tok/s | first token %.1f ms | "
                    "generated %d tokens, %.1f tok/s | seed %llu | finish: %s\n",
                    load_s * 1e3, st.n_prompt, st.prompt_s > 0 ? n_eval / st.prompt_s : 0.0, st.ttft_s * 1e3,
                    st.n_gen, st.gen_s > 0 ? st.n_gen / st.gen_s : 0.0, cs.seed, st.finish);
        }
    }
    free(ids);
    lk_llm_free(m);
    lk_pool_free(pool);
    lk_buf_free(&fbuf);
    return rc ? cli_fail(&err) : 0;
}

/* run.c — `llmkit run`: one request to any model (a local GGUF file or an API), the answer
 * streamed to stdout, timings, usage and cost to stderr (or everything as JSON with --json). */
#include "cli/cli.h"

static bool print_text(const char *text, size_t len, void *ud) {
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

int cmd_run(int argc, char **argv) {
    const char *spec = NULL, *prompt = NULL, *file = NULL, *system = NULL;
    int n_predict = -1;
    bool raw = false, no_bos = false, special = false, quiet = false, json = false, no_stream = false;
    bool strict = false;
    lk_opt_list stops = {0};
    cli_sampling cs;
    cli_model cm;
    lk_opt opts[48] = {
        { "model", 'm', LK_OPT_STR, &spec, "SPEC", "a .gguf file, openai:MODEL, anthropic:MODEL, ollama:MODEL, "
          "http(s)://HOST/v1#MODEL" },
        { "prompt", 'p', LK_OPT_STR, &prompt, "TEXT", "the prompt (sent as a user message)" },
        { "file", 'f', LK_OPT_STR, &file, "FILE", "read the prompt from a file" },
        { "system", 0, LK_OPT_STR, &system, "TEXT", "a system message before the prompt" },
        { "n-predict", 'n', LK_OPT_INT, &n_predict, "N", "tokens to generate at most (local default 256; API "
          "models: the provider's default)" },
        { "raw", 0, LK_OPT_FLAG, &raw, NULL, "continue the prompt as plain text, no chat template (local models "
          "and OpenAI-compatible /v1/completions)" },
        { "stop", 0, LK_OPT_LIST, &stops, "TEXT", "stop when this text is generated (repeatable)" },
        { "no-bos", 0, LK_OPT_FLAG, &no_bos, NULL, "with --raw, local: do not put the BOS token first" },
        { "special", 0, LK_OPT_FLAG, &special, NULL, "with --raw, local: match special tokens in the prompt" },
        { "no-stream", 0, LK_OPT_FLAG, &no_stream, NULL, "API: ask for the whole answer at once" },
        { "strict", 0, LK_OPT_FLAG, &strict, NULL, "fail when the model cannot honour a setting (default: warn)" },
        { "json", 0, LK_OPT_FLAG, &json, NULL, "print the whole response as JSON instead of streaming text" },
        { "quiet", 'q', LK_OPT_FLAG, &quiet, NULL, "do not print timings" },
    };
    int n_opts = 13;
    n_opts += cli_sampling_opts(&cs, opts + n_opts);
    n_opts += cli_model_opts(&cm, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit run -m SPEC (-p TEXT | -f FILE) [options]",
        "Send a prompt to a model and stream the answer to stdout; load time, speed, tokens and\n"
        "cost go to stderr. The same command works for every kind of model: a local GGUF file\n"
        "(the prompt is rendered with the model's chat template; --raw continues plain text), or\n"
        "an API model (keys from OPENAI_API_KEY / ANTHROPIC_API_KEY or --key-file; see\n"
        "docs/models.md). Sampling options not given are left to the model: --temp 0 is greedy,\n"
        "and for a local model the same --seed gives the same text.",
        "  llmkit run -m model.gguf -p 'Name three colours.' --seed 42\n"
        "  llmkit run -m model.gguf --raw -p 'Once upon a time' -n 64 --temp 0\n"
        "  llmkit run -m openai:gpt-4o-mini -p 'Name three colours.' --temp 0\n"
        "  llmkit run -m http://localhost:8080/v1#qwen2.5 --system 'Be brief.' -p 'Why is the sky blue?'\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!spec) return cli_usage("run: --model is required (see llmkit run --help)");
    if (!prompt == !file) return cli_usage("run: give the prompt with exactly one of -p TEXT or -f FILE");
    if (system && raw) return cli_usage("run: --system needs a chat, not --raw");
    if ((no_bos || special) && !raw) return cli_usage("run: --no-bos and --special need --raw");
    if (n_predict < -1) return cli_usage("run: -n %d: expected 0 or more", n_predict);

    lk_error err = {0};
    lk_buf fbuf = {0};
    if (file) {
        if (lk_read_file(file, &fbuf, &err)) return cli_fail(&err);
        prompt = fbuf.data ? fbuf.data : "";
    }
    lk_model *m;
    double t0 = lk_now();
    if ((rc = cli_open_model(&cm, spec, &m))) {
        lk_buf_free(&fbuf);
        return rc;
    }
    double load_s = lk_now() - t0;
    bool local = strcmp(lk_model_backend(m), "local") == 0;

    lk_request req;
    lk_request_init(&req);
    lk_message msgs[2];
    size_t n_msgs = 0;
    if (raw) {
        req.prompt = prompt;
        req.no_bos = no_bos;
        req.parse_special = special;
    } else {
        if (system) msgs[n_msgs++] = (lk_message){ .role = "system", .content = system };
        msgs[n_msgs++] = (lk_message){ .role = "user", .content = prompt };
        req.messages = msgs;
        req.n_messages = n_msgs;
    }
    req.max_tokens = n_predict > 0 ? n_predict : local && n_predict < 0 ? 256 : 0;
    req.stop = stops.items;
    req.n_stop = (size_t)stops.n;
    req.stream = !no_stream;
    req.strict = strict;
    req.timeout_s = cm.timeout;
    if (cli_sampling_request(&cs, local, &req)) {
        lk_model_free(m);
        lk_buf_free(&fbuf);
        return 2;
    }
    lk_response res;
    rc = lk_model_chat(m, &req, json ? NULL : print_text, NULL, &res, &err);
    if (json) {
        char *j = lk_response_json(&res);
        printf("%s\n", j);
        free(j);
    } else if (res.text_len || !rc) {
        printf("\n");
    }
    fflush(stdout);
    cli_print_warnings(&res);
    if (!quiet && !rc) {
        const lk_usage *u = &res.usage;
        fprintf(stderr, "\nllmkit: %s | ", lk_model_spec(m));
        if (local) fprintf(stderr, "load %.1f ms | ", load_s * 1e3);
        fprintf(stderr, "prompt %lld tokens (%lld cached) | first token %.1f ms | generated %lld tokens, %.1f tok/s | "
                "total %.1f ms", (long long)u->prompt_tokens, (long long)u->cached_tokens, res.timings.ttft_s * 1e3,
                (long long)u->completion_tokens, res.timings.tokens_per_s, res.timings.total_s * 1e3);
        if (res.cost_known) fprintf(stderr, " | $%.6f", res.cost_usd);
        if (req.has_seed) fprintf(stderr, " | seed %llu", (unsigned long long)req.seed);
        fprintf(stderr, " | finish: %s\n", res.finish_reason);
    }
    lk_response_free(&res);
    lk_model_free(m);
    lk_buf_free(&fbuf);
    return rc ? cli_fail(&err) : 0;
}

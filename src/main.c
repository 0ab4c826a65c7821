/* main.c — the llmkit tool: a table of subcommands, git style.
 *
 * `llmkit CMD ...` runs cmd_CMD from src/cli/CMD.c; `llmkit --help` lists the commands and
 * `llmkit CMD --help` explains one. */
#include "cli/cli.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    { "run",        cmd_run,        "send a prompt to any model (local GGUF or API) and stream the answer" },
    { "serve",      cmd_serve,      "serve models over the OpenAI and Anthropic APIs (HTTP, SSE, /metrics)" },
    { "chat",       cmd_chat,       "chat interactively with any model" },
    { "compare",    cmd_compare,    "the same prompt on several models: latency, speed, tokens, cost" },
    { "sweep",      cmd_sweep,      "a grid of decoding settings: diversity, length and speed of samples" },
    { "embed",      cmd_embed,      "embeddings of texts (API, local GGUF or builtin:hash)" },
    { "tokenize",   cmd_tokenize,   "show the token ids and pieces of a text" },
    { "perplexity", cmd_perplexity, "perplexity of a model on a text file" },
    { "info",       cmd_info,       "describe a GGUF model: architecture, size, types, tokenizer" },
    { "gguf",       cmd_gguf,       "GGUF tools: random (make a test model), dump (list metadata)" },
    { "bench",      cmd_bench,      "measure prompt processing and generation speed" },
    { "quantize",   cmd_quantize,   "convert an F32/F16/BF16 model to Q8_0, Q4_K_M, ... as llama.cpp does" },
    { "load",       cmd_load,       "load-test an OpenAI- or Anthropic-compatible server: throughput, latency percentiles" },
};

static void usage(FILE *f) {
    fprintf(f, "usage: llmkit [--version] [--help] COMMAND [ARGS]\n\n"
               "llmkit: the AI engineer's workbench. Commands:\n\n");
    for (size_t i = 0; i < LK_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'llmkit COMMAND --help' explains a command. Verbose logs: LLMKIT_LOG=debug|info.\n");
}

int main(int argc, char **argv) {
    const char *lvl = getenv("LLMKIT_LOG");
    if (lvl) {
        if (strcmp(lvl, "debug") == 0) lk_set_log_level(LK_LOG_DEBUG);
        else if (strcmp(lvl, "info") == 0) lk_set_log_level(LK_LOG_INFO);
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (strcmp(cmd, "help") == 0 && argc > 2) {
            char *args[] = { argv[2], "--help", NULL };
            for (size_t i = 0; i < LK_ARRAY_LEN(commands); i++)
                if (strcmp(commands[i].name, argv[2]) == 0) return commands[i].fn(2, args);
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("llmkit %s\n", lk_version());
        return 0;
    }
    for (size_t i = 0; i < LK_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, cmd) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "llmkit: '%s' is not a command. See 'llmkit --help'.\n", cmd);
    return 2;
}

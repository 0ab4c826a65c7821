/* cli.h — the subcommands of the llmkit tool, and the few helpers they share.
 *
 * Each subcommand is cmd_<name>(argc, argv) in src/cli/<name>.c: it parses options with
 * lk_opt_parse, calls the library, prints, and returns the exit status (0 ok, 1 failure, 2 usage
 * error). The work happens in the library. */
#ifndef LK_CLI_H
#define LK_CLI_H

#include "llmkit.h"
#include "base/base.h"
#include "base/opt.h"
#include "engine/model.h"
#include "engine/sampler.h"

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_gguf(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_load(int argc, char **argv);

/* Print "llmkit: <message>" for err and return 1. */
int cli_fail(const lk_error *err);

/* Print "llmkit: <usage problem>" and return 2. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sampling options shared by the commands that generate (run, chat, compare, sweep). Every
 * option starts unset, so that a model gets only what the user asked for: an API model its
 * provider's defaults, a local model the engine's (llama.cpp's). */
typedef struct cli_sampling {
    float temp, top_p, min_p, typical_p, repeat_penalty, frequency_penalty, presence_penalty;
    float mirostat_tau, mirostat_eta;
    int top_k, penalty_last_n, mirostat;
    unsigned long long seed;   /* CLI_SEED_UNSET until --seed */
    lk_opt_list bias_args;     /* --logit-bias ID=BIAS, repeatable */
    lk_bias bias[32];
} cli_sampling;

/* The option entries written to out (room for CLI_SAMPLING_N); returns how many. */
#define CLI_SAMPLING_N 14
#define CLI_SEED_UNSET (~0ull)
int cli_sampling_opts(cli_sampling *s, lk_opt *out);
/* Copy the options that were given into r. For a local model a seed not given is drawn from the
 * clock and written back to s->seed so that the caller can print it. Returns 0, or 2 after
 * printing a usage error (a malformed --logit-bias). */
int cli_sampling_request(cli_sampling *s, bool local, lk_request *r);

/* Options for opening any model: engine settings for local models (threads, KV cache type,
 * where the weights live, context, chat template) and API settings (key file, base URL,
 * pricing file, timeouts). */
typedef struct cli_model {
    int threads;               /* -t: 0 = number of cores */
    const char *kv_type;       /* --kv-type f16|f32|q8_0 */
    const char *load;          /* --load auto|mmap|copy */
    int n_ctx;                 /* --ctx */
    const char *chat_template; /* --chat-template */
    const char *key_file;      /* --key-file */
    const char *base_url;      /* --base-url */
    const char *pricing;       /* --pricing */
    float timeout;             /* --timeout seconds (0: the default) */
    int retries;               /* --retries (attempts after the first; INT_MIN: default) */
} cli_model;
#define CLI_MODEL_N 10
int cli_model_opts(cli_model *o, lk_opt *out);
/* Open spec with the options. Prints the error and returns 1 (2 for a bad option value). */
int cli_open_model(const cli_model *o, const char *spec, lk_model **m);
/* The lk_model_opts the options describe. */
void cli_model_lk_opts(const cli_model *o, lk_model_opts *lo);

/* Engine options for the commands that work on a local GGUF file only (bench, perplexity). */
typedef struct cli_engine {
    int threads;               /* -t: 0 = number of cores */
    const char *kv_type;       /* --kv-type f16|f32|q8_0 */
    const char *load;          /* --load auto|mmap|copy */
} cli_engine;
#define CLI_ENGINE_N 3
int cli_engine_opts(cli_engine *e, lk_opt *out);

/* Load the model as the options say, with a thread pool of the chosen size attached (*pool;
 * free it after the model). Prints the error and returns 1 on failure, 2 on a bad option. */
int cli_load_model(cli_engine *e, const char *path, lk_llm **m, lk_pool **pool, double *load_s);

/* Print each warning of a response as "llmkit: warning: ..." on stderr. */
void cli_print_warnings(const lk_response *r);

/* Split a comma-separated list of numbers ("0,0.7,1.2") into out[max]; returns the count, or -1
 * after printing a usage error naming the option. */
int cli_number_list(const char *opt, const char *list, double *out, int max);

#endif

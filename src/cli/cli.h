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

/* Print "llmkit: <message>" for err and return 1. */
int cli_fail(const lk_error *err);

/* Print "llmkit: <usage problem>" and return 2. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sampling options shared by run and chat. */
typedef struct cli_sampling {
    float temp, top_p, min_p, typical_p, repeat_penalty, frequency_penalty, presence_penalty;
    float mirostat_tau, mirostat_eta;
    int top_k, penalty_last_n, mirostat;
    unsigned long long seed;   /* CLI_SEED_UNSET until --seed */
    lk_opt_list bias_args;     /* --logit-bias ID=BIAS, repeatable */
    lk_logit_bias bias[32];
} cli_sampling;

/* Defaults (llama.cpp's) in *s, and the option entries for them written to out (room for
 * CLI_SAMPLING_N entries); returns how many were written. */
#define CLI_SAMPLING_N 14
#define CLI_SEED_UNSET (~0ull)
int cli_sampling_opts(cli_sampling *s, lk_opt *out);
/* The sampler parameters the options describe; a seed not given is drawn from the clock and
 * written back to s->seed so that the caller can print it. Returns 0, or 2 after printing a
 * usage error (a malformed --logit-bias). */
int cli_sampling_params(cli_sampling *s, lk_sampler_params *p);

/* Engine options shared by the commands that run a local model: threads, KV cache type, and
 * where the weights live. */
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

#endif

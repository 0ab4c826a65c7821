/* common.c — helpers shared by the subcommands: error printing and the sampling options. */
#include "cli/cli.h"
#include "engine/model.h"
#include "engine/quant/quant.h"

#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <time.h>

int cli_fail(const lk_error *err) {
    fprintf(stderr, "llmkit: %s\n", err->msg[0] ? err->msg : lk_code_name(err->code));
    return 1;
}

int cli_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("llmkit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

int cli_sampling_opts(cli_sampling *s, lk_opt *out) {
    memset(s, 0, sizeof *s);
    s->temp = s->top_p = s->min_p = s->typical_p = NAN;
    s->repeat_penalty = s->frequency_penalty = s->presence_penalty = NAN;
    s->mirostat_tau = s->mirostat_eta = NAN;
    s->top_k = s->penalty_last_n = s->mirostat = -1;
    s->seed = CLI_SEED_UNSET;
    const lk_opt opts[CLI_SAMPLING_N] = {
        { "temp", 0, LK_OPT_FLOAT, &s->temp, "T", "temperature (local default 0.8; 0 = greedy)" },
        { "top-k", 0, LK_OPT_INT, &s->top_k, "K", "keep the K most likely tokens (local 40; 0 = off)" },
        { "top-p", 0, LK_OPT_FLOAT, &s->top_p, "P", "nucleus sampling mass (local 0.95; 1 = off)" },
        { "min-p", 0, LK_OPT_FLOAT, &s->min_p, "P", "drop tokens below P x the best (local 0.05; 0 = off)" },
        { "typical-p", 0, LK_OPT_FLOAT, &s->typical_p, "P", "locally typical sampling (1 = off)" },
        { "repeat-penalty", 0, LK_OPT_FLOAT, &s->repeat_penalty, "X", "penalise repeated tokens (1 = off)" },
        { "frequency-penalty", 0, LK_OPT_FLOAT, &s->frequency_penalty, "X", "subtract X per occurrence (0 = off)" },
        { "presence-penalty", 0, LK_OPT_FLOAT, &s->presence_penalty, "X", "subtract X if present (0 = off)" },
        { "repeat-last-n", 0, LK_OPT_INT, &s->penalty_last_n, "N", "penalties look at the last N tokens (local 64)" },
        { "mirostat", 0, LK_OPT_INT, &s->mirostat, "1|2", "mirostat sampling version (0 = off)" },
        { "mirostat-tau", 0, LK_OPT_FLOAT, &s->mirostat_tau, "TAU", "mirostat target surprise (5.0)" },
        { "mirostat-eta", 0, LK_OPT_FLOAT, &s->mirostat_eta, "ETA", "mirostat learning rate (0.1)" },
        { "logit-bias", 0, LK_OPT_LIST, &s->bias_args, "ID=BIAS", "add BIAS to token ID's logit; -inf bans it (repeatable)" },
        { "seed", 's', LK_OPT_U64, &s->seed, "S", "random seed (local default: from the clock, printed)" },
    };
    memcpy(out, opts, sizeof opts);
    return CLI_SAMPLING_N;
}

int cli_sampling_request(cli_sampling *s, bool local, lk_request *r) {
    r->temperature = s->temp;
    r->top_p = s->top_p;
    r->top_k = s->top_k;
    r->min_p = s->min_p;
    r->typical_p = s->typical_p;
    r->repeat_penalty = s->repeat_penalty;
    r->frequency_penalty = s->frequency_penalty;
    r->presence_penalty = s->presence_penalty;
    r->penalty_last_n = s->penalty_last_n;
    r->mirostat = s->mirostat;
    r->mirostat_tau = s->mirostat_tau;
    r->mirostat_eta = s->mirostat_eta;
    if (s->seed == CLI_SEED_UNSET && local) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s->seed = ((unsigned long long)ts.tv_sec * 1000003ull) ^ (unsigned long long)ts.tv_nsec;
    }
    r->has_seed = s->seed != CLI_SEED_UNSET;
    r->seed = s->seed;
    for (int i = 0; i < s->bias_args.n; i++) {
        const char *a = s->bias_args.items[i], *eq = strchr(a, '=');
        long long id;
        double bias;
        char num[32];
        size_t len = eq ? (size_t)(eq - a) : 0;
        if (!eq || len == 0 || len >= sizeof num) return cli_usage("--logit-bias '%s': expected ID=BIAS", a);
        memcpy(num, a, len);
        num[len] = 0;
        if (lk_parse_i64(num, &id) || id < 0 || id > INT32_MAX)
            return cli_usage("--logit-bias '%s': '%s' is not a token id", a, num);
        if (strcmp(eq + 1, "-inf") == 0) bias = -INFINITY;
        else if (lk_parse_f64(eq + 1, &bias) || !isfinite(bias))
            return cli_usage("--logit-bias '%s': '%s' is not a number (or -inf)", a, eq + 1);
        s->bias[i] = (lk_bias){ (int32_t)id, (float)bias };
    }
    r->logit_bias = s->bias;
    r->n_logit_bias = (size_t)s->bias_args.n;
    return 0;
}

int cli_model_opts(cli_model *o, lk_opt *out) {
    memset(o, 0, sizeof *o);
    o->kv_type = "f16";
    o->load = "auto";
    o->retries = INT_MIN; /* unset */
    const lk_opt opts[CLI_MODEL_N] = {
        { "threads", 't', LK_OPT_INT, &o->threads, "N", "local: threads (default: the number of cores)" },
        { "kv-type", 0, LK_OPT_STR, &o->kv_type, "f16|f32|q8_0", "local: KV cache type (f16)" },
        { "load", 0, LK_OPT_STR, &o->load, "auto|mmap|copy", "local: map the weights, or copy them to huge pages (auto)" },
        { "ctx", 'c', LK_OPT_INT, &o->n_ctx, "N", "local: context size in tokens (default: the model's, at most 4096)" },
        { "chat-template", 0, LK_OPT_STR, &o->chat_template, "NAME", "local: use this chat template family" },
        { "key-file", 0, LK_OPT_STR, &o->key_file, "FILE", "API: read the API key from FILE (default: the environment)" },
        { "base-url", 0, LK_OPT_STR, &o->base_url, "URL", "API: send requests to URL instead of the provider's" },
        { "pricing", 0, LK_OPT_STR, &o->pricing, "FILE", "a pricing table instead of the built-in one" },
        { "timeout", 0, LK_OPT_FLOAT, &o->timeout, "S", "API: give up on a request after S seconds (600)" },
        { "retries", 0, LK_OPT_INT, &o->retries, "N", "API: retry failed requests up to N times (3)" },
    };
    memcpy(out, opts, sizeof opts);
    return CLI_MODEL_N;
}

void cli_model_lk_opts(const cli_model *o, lk_model_opts *lo) {
    memset(lo, 0, sizeof *lo);
    lo->api_key_file = o->key_file;
    lo->base_url = o->base_url;
    lo->pricing_file = o->pricing;
    lo->max_attempts = o->retries != INT_MIN ? o->retries + 1 : 0;
    lo->threads = o->threads;
    lo->kv_type = o->kv_type;
    lo->load = o->load;
    lo->n_ctx = o->n_ctx;
    lo->chat_template = o->chat_template;
}

int cli_open_model(const cli_model *o, const char *spec, lk_model **m) {
    *m = NULL;
    if (strcmp(o->load, "auto") != 0 && strcmp(o->load, "mmap") != 0 && strcmp(o->load, "copy") != 0)
        return cli_usage("--load '%s': expected auto, mmap or copy", o->load);
    int kv = lk_qtype_from_name(o->kv_type);
    if (kv != LK_F16 && kv != LK_F32 && kv != LK_Q8_0)
        return cli_usage("--kv-type '%s': expected f16, f32 or q8_0", o->kv_type);
    if (o->threads < 0 || o->threads > 1024) return cli_usage("--threads %d: expected 1 to 1024", o->threads);
    if (o->n_ctx < 0) return cli_usage("--ctx %d: expected a positive size", o->n_ctx);
    if (!(o->timeout >= 0)) return cli_usage("--timeout: expected seconds >= 0");
    if (o->retries != INT_MIN && (o->retries > 20 || o->retries < 0))
        return cli_usage("--retries %d: expected 0 to 20", o->retries);
    lk_model_opts lo;
    cli_model_lk_opts(o, &lo);
    lk_error err = {0};
    *m = lk_model_open_ex(spec, &lo, &err);
    return *m ? 0 : cli_fail(&err);
}

void cli_print_warnings(const lk_response *r) {
    for (size_t i = 0; i < r->n_warnings; i++) fprintf(stderr, "llmkit: warning: %s\n", r->warnings[i]);
}

int cli_number_list(const char *opt, const char *list, double *out, int max) {
    int n = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        char num[64];
        if (len == 0 || len >= sizeof num) {
            cli_usage("--%s '%s': expected numbers separated by commas", opt, list);
            return -1;
        }
        memcpy(num, p, len);
        num[len] = 0;
        if (n == max) {
            cli_usage("--%s '%s': at most %d values", opt, list, max);
            return -1;
        }
        if (lk_parse_f64(num, &out[n]) || !isfinite(out[n])) {
            cli_usage("--%s: '%s' is not a number", opt, num);
            return -1;
        }
        n++;
        p += len;
        if (*p == ',') p++;
    }
    if (n == 0) cli_usage("--%s: expected at least one value", opt);
    return n ? n : -1;
}

int cli_engine_opts(cli_engine *e, lk_opt *out) {
    memset(e, 0, sizeof *e);
    e->kv_type = "f16";
    e->load = "auto";
    const lk_opt opts[CLI_ENGINE_N] = {
        { "threads", 't', LK_OPT_INT, &e->threads, "N", "threads (default: the number of cores)" },
        { "kv-type", 0, LK_OPT_STR, &e->kv_type, "f16|f32|q8_0", "KV cache type (f16)" },
        { "load", 0, LK_OPT_STR, &e->load, "auto|mmap|copy", "map the weights, or copy them to huge pages (auto)" },
    };
    memcpy(out, opts, sizeof opts);
    return CLI_ENGINE_N;
}

int cli_load_model(cli_engine *e, const char *path, lk_llm **m, lk_pool **pool, double *load_s) {
    *m = NULL;
    *pool = NULL;
    enum lk_load_mode mode;
    if (strcmp(e->load, "auto") == 0) mode = LK_LOAD_AUTO;
    else if (strcmp(e->load, "mmap") == 0) mode = LK_LOAD_MMAP;
    else if (strcmp(e->load, "copy") == 0) mode = LK_LOAD_COPY;
    else return cli_usage("--load '%s': expected auto, mmap or copy", e->load);
    int kv = lk_qtype_from_name(e->kv_type);
    if (kv != LK_F16 && kv != LK_F32 && kv != LK_Q8_0)
        return cli_usage("--kv-type '%s': expected f16, f32 or q8_0", e->kv_type);
    if (e->threads < 0 || e->threads > 1024) return cli_usage("--threads %d: expected 1 to 1024", e->threads);
    lk_error err = {0};
    double t0 = lk_now();
    if (lk_llm_load_ex(path, mode, m, &err)) return cli_fail(&err);
    if (load_s) *load_s = lk_now() - t0;
    if (lk_llm_set_kv_type(*m, (uint32_t)kv, &err)) {
        lk_llm_free(*m);
        *m = NULL;
        return cli_fail(&err);
    }
    *pool = lk_pool_new(e->threads);
    if (!*pool) {
        lk_llm_free(*m);
        *m = NULL;
        lk_errorf(&err, LK_ENOMEM, "cannot start %d threads", e->threads);
        return cli_fail(&err);
    }
    lk_llm_set_pool(*m, *pool);
    return 0;
}

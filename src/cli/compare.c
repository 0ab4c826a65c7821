/* compare.c — `llmkit compare`: the same prompt on several models, side by side.
 *
 * Each model (a local GGUF file or any API model) is opened once and asked the prompt --runs
 * times; the table gives per model the median latency, median time to first token, tokens,
 * median generation speed and cost per run: the "API vs local" comparison. --json gives every
 * run, --csv the table. A model that fails is reported in its row; the others still run. */
#include "cli/cli.h"
#include "base/table.h"

#include <math.h>

typedef struct run_result {
    double latency_s, ttft_s, tokens_per_s, cost_usd;
    long long prompt_tokens, cached_tokens, completion_tokens;
    char *finish, *text, *error;
    bool cost_known;
} run_result;

typedef struct model_result {
    const char *spec;
    const char *backend;
    double load_s;
    char *open_error;
    run_result *runs;
    int n_runs, n_ok;
} model_result;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the successful runs' field at byte offset off. */
static double median(const model_result *r, size_t off) {
    double v[256];
    int n = 0;
    for (int i = 0; i < r->n_runs && n < 256; i++)
        if (!r->runs[i].error) v[n++] = *(const double *)((const char *)&r->runs[i] + off);
    if (!n) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double mean_ll(const model_result *r, size_t off) {
    double s = 0;
    int n = 0;
    for (int i = 0; i < r->n_runs; i++)
        if (!r->runs[i].error) s += (double)*(const long long *)((const char *)&r->runs[i] + off), n++;
    return n ? s / n : NAN;
}

static void run_model(model_result *mr, const cli_model *cm, cli_sampling *cs, lk_request *req, int runs, bool quiet) {
    lk_error err = {0};
    lk_model_opts lo;
    cli_model_lk_opts(cm, &lo);
    double t0 = lk_now();
    lk_model *m = lk_model_open_ex(mr->spec, &lo, &err);
    mr->load_s = lk_now() - t0;
    if (!m) {
        mr->open_error = lk_xstrdup(err.msg);
        mr->backend = "?";
        if (!quiet) fprintf(stderr, "llmkit: %s\n", err.msg);
        return;
    }
    mr->backend = lk_model_backend(m);
    lk_request r = *req;
    bool local = strcmp(mr->backend, "local") == 0;
    unsigned long long seed = cs->seed;
    cli_sampling_request(cs, local, &r); /* validated once before; a local model gets a seed */
    cs->seed = seed;                     /* ... that the next model, maybe an API one, does not */
    mr->runs = lk_xcalloc((size_t)runs, sizeof *mr->runs);
    for (int i = 0; i < runs; i++) {
        lk_response res;
        int rc = lk_model_chat(m, &r, NULL, NULL, &res, &err);
        run_result *o = &mr->runs[mr->n_runs++];
        o->latency_s = res.timings.total_s;
        o->ttft_s = res.timings.ttft_s;
        o->tokens_per_s = res.timings.tokens_per_s;
        o->cost_usd = res.cost_usd;
        o->cost_known = res.cost_known;
        o->prompt_tokens = res.usage.prompt_tokens;
        o->cached_tokens = res.usage.cached_tokens;
        o->completion_tokens = res.usage.completion_tokens;
        o->finish = lk_xstrdup(res.finish_reason);
        o->text = lk_xstrdup(res.text);
        if (rc) {
            o->error = lk_xstrdup(err.msg);
            if (!quiet) fprintf(stderr, "llmkit: %s\n", err.msg);
        } else {
            mr->n_ok++;
        }
        if (i == 0 && !quiet) cli_print_warnings(&res);
        lk_response_free(&res);
    }
    lk_model_free(m);
}

static void print_json(const model_result *mrs, int n, const char *prompt, int runs) {
    lk_buf b = {0};
    lk_buf_puts(&b, "{\"prompt\":");
    lk_buf_json_str(&b, prompt);
    lk_buf_printf(&b, ",\"runs\":%d,\"models\":[", runs);
    for (int i = 0; i < n; i++) {
        const model_result *r = &mrs[i];
        if (i) lk_buf_putc(&b, ',');
        lk_buf_puts(&b, "{\"spec\":");
        lk_buf_json_str(&b, r->spec);
        lk_buf_puts(&b, ",\"backend\":");
        lk_buf_json_str(&b, r->backend);
        lk_buf_printf(&b, ",\"open_s\":%.6f,\"error\":", r->load_s);
        if (r->open_error) lk_buf_json_str(&b, r->open_error);
        else lk_buf_puts(&b, "null");
        lk_buf_puts(&b, ",\"runs\":[");
        for (int k = 0; k < r->n_runs; k++) {
            const run_result *o = &r->runs[k];
            if (k) lk_buf_putc(&b, ',');
            lk_buf_printf(&b, "{\"latency_s\":%.6f,\"ttft_s\":%.6f,\"tokens_per_s\":%.3f,\"prompt_tokens\":%lld,"
                          "\"cached_tokens\":%lld,\"completion_tokens\":%lld,\"cost_usd\":",
                          o->latency_s, o->ttft_s, o->tokens_per_s, o->prompt_tokens, o->cached_tokens,
                          o->completion_tokens);
            if (o->cost_known) lk_buf_printf(&b, "%.8f", o->cost_usd);
            else lk_buf_puts(&b, "null");
            lk_buf_puts(&b, ",\"finish_reason\":");
            lk_buf_json_str(&b, o->finish);
            lk_buf_puts(&b, ",\"text\":");
            lk_buf_json_str(&b, o->text);
            lk_buf_puts(&b, ",\"error\":");
            if (o->error) lk_buf_json_str(&b, o->error);
            else lk_buf_puts(&b, "null");
            lk_buf_putc(&b, '}');
        }
        lk_buf_puts(&b, "]}");
    }
    lk_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    lk_buf_free(&b);
}

int cmd_compare(int argc, char **argv) {
    const char *prompt = NULL, *file = NULL, *system = NULL;
    int runs = 3, n_predict = 128;
    bool json = false, csv = false, no_stream = false, quiet = false, show = false, warm = false;
    lk_opt_list specs = {0};
    cli_sampling cs;
    cli_model cm;
    lk_opt opts[48] = {
        { "model", 'm', LK_OPT_LIST, &specs, "SPEC", "a model to compare (repeat for each)" },
        { "prompt", 'p', LK_OPT_STR, &prompt, "TEXT", "the prompt (a user message)" },
        { "file", 'f', LK_OPT_STR, &file, "FILE", "read the prompt from a file" },
        { "system", 0, LK_OPT_STR, &system, "TEXT", "a system message before the prompt" },
        { "runs", 'r', LK_OPT_INT, &runs, "N", "requests per model (3)" },
        { "n-predict", 'n', LK_OPT_INT, &n_predict, "N", "tokens to generate at most (128)" },
        { "no-stream", 0, LK_OPT_FLAG, &no_stream, NULL, "API: ask for whole answers (time to first token is then "
          "the whole latency)" },
        { "warm", 0, LK_OPT_FLAG, &warm, NULL, "local: let runs after the first reuse the cached prompt (default: "
          "every run evaluates the whole prompt, as a fresh request would)" },
        { "show", 0, LK_OPT_FLAG, &show, NULL, "print each model's first answer after the table" },
        { "json", 0, LK_OPT_FLAG, &json, NULL, "print every run as JSON" },
        { "csv", 0, LK_OPT_FLAG, &csv, NULL, "print the table as CSV" },
        { "quiet", 'q', LK_OPT_FLAG, &quiet, NULL, "no progress or warnings on stderr" },
    };
    int n_opts = 12;
    n_opts += cli_sampling_opts(&cs, opts + n_opts);
    n_opts += cli_model_opts(&cm, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit compare -m SPEC -m SPEC ... (-p TEXT | -f FILE) [--runs N] [--json | --csv]",
        "Send the same prompt to several models and compare latency, time to first token,\n"
        "tokens, generation speed and cost. Local GGUF files and API models mix freely (the\n"
        "\"API vs local\" comparison). Medians over --runs requests; a model that fails gets an\n"
        "error in its row and the exit status is 1.",
        "  llmkit compare -m model-q8_0.gguf -m model-q4_k_m.gguf -m openai:gpt-4o-mini -p 'Summarise RAG.'\n"
        "  llmkit compare -m a.gguf -m http://localhost:8000/v1#qwen -p 'Hi' --runs 5 --csv > cmp.csv\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (specs.n == 0) return cli_usage("compare: give at least one -m SPEC (see llmkit compare --help)");
    if (!prompt == !file) return cli_usage("compare: give the prompt with exactly one of -p TEXT or -f FILE");
    if (runs < 1 || runs > 256) return cli_usage("compare: --runs %d: expected 1 to 256", runs);
    if (n_predict < 0) return cli_usage("compare: -n %d: expected 0 or more", n_predict);
    if (json && csv) return cli_usage("compare: give one of --json and --csv");
    lk_request probe;
    lk_request_init(&probe);
    unsigned long long seed_given = cs.seed;
    if (cli_sampling_request(&cs, false, &probe)) return 2;
    cs.seed = seed_given;

    lk_error err = {0};
    lk_buf fbuf = {0};
    if (file) {
        if (lk_read_file(file, &fbuf, &err)) return cli_fail(&err);
        prompt = fbuf.data ? fbuf.data : "";
    }
    lk_message msgs[2];
    size_t n_msgs = 0;
    if (system) msgs[n_msgs++] = (lk_message){ .role = "system", .content = system };
    msgs[n_msgs++] = (lk_message){ .role = "user", .content = prompt };
    lk_request req;
    lk_request_init(&req);
    req.messages = msgs;
    req.n_messages = n_msgs;
    req.max_tokens = n_predict;
    req.stream = !no_stream;
    req.no_cache = !warm;
    req.timeout_s = cm.timeout;

    model_result *mrs = lk_xcalloc((size_t)specs.n, sizeof *mrs);
    bool failed = false;
    for (int i = 0; i < specs.n; i++) {
        mrs[i].spec = specs.items[i];
        if (!quiet) fprintf(stderr, "compare: %s (%d of %d)\n", specs.items[i], i + 1, specs.n);
        run_model(&mrs[i], &cm, &cs, &req, runs, quiet);
        failed |= mrs[i].open_error || mrs[i].n_ok < mrs[i].n_runs;
    }

    if (json) {
        print_json(mrs, specs.n, prompt, runs);
    } else {
        static const char *cols[] = { "model", "backend", ">ok", ">latency ms", ">ttft ms", ">prompt tok",
                                      ">cached tok", ">output tok", ">tok/s", ">cost/run USD" };
        lk_table t;
        lk_table_init(&t, LK_ARRAY_LEN(cols), cols);
        for (int i = 0; i < specs.n; i++) {
            const model_result *r = &mrs[i];
            lk_table_row(&t);
            lk_table_cell(&t, "%s", r->spec);
            lk_table_cell(&t, "%s", r->backend);
            lk_table_cell(&t, "%d/%d", r->n_ok, r->open_error ? runs : r->n_runs);
            if (!r->n_ok) {
                for (int k = 0; k < 7; k++) lk_table_cell(&t, "-");
                continue;
            }
            lk_table_cell(&t, "%.1f", median(r, offsetof(run_result, latency_s)) * 1e3);
            lk_table_cell(&t, "%.1f", median(r, offsetof(run_result, ttft_s)) * 1e3);
            lk_table_cell(&t, "%.0f", mean_ll(r, offsetof(run_result, prompt_tokens)));
            lk_table_cell(&t, "%.0f", mean_ll(r, offsetof(run_result, cached_tokens)));
            lk_table_cell(&t, "%.1f", mean_ll(r, offsetof(run_result, completion_tokens)));
            lk_table_cell(&t, "%.1f", median(r, offsetof(run_result, tokens_per_s)));
            double cost = 0;
            bool known = true;
            for (int k = 0; k < r->n_runs; k++) {
                if (r->runs[k].error) continue;
                cost += r->runs[k].cost_usd;
                known &= r->runs[k].cost_known;
            }
            if (known) lk_table_cell(&t, "%.6f", cost / r->n_ok);
            else lk_table_cell(&t, "unknown");
        }
        if (csv) lk_table_csv(&t, stdout);
        else lk_table_print(&t, stdout);
        lk_table_free(&t);
        if (show && !csv)
            for (int i = 0; i < specs.n; i++)
                if (mrs[i].n_runs && !mrs[i].runs[0].error)
                    printf("\n== %s\n%s\n", mrs[i].spec, mrs[i].runs[0].text);
    }
    for (int i = 0; i < specs.n; i++) {
        for (int k = 0; k < mrs[i].n_runs; k++) {
            free(mrs[i].runs[k].finish);
            free(mrs[i].runs[k].text);
            free(mrs[i].runs[k].error);
        }
        free(mrs[i].runs);
        free(mrs[i].open_error);
    }
    free(mrs);
    lk_buf_free(&fbuf);
    return failed ? 1 : 0;
}

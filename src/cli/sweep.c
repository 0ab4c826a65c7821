/* sweep.c — `llmkit sweep`: a grid of decoding settings, N samples each, and what they do.
 *
 * Every combination of the given --temp, --top-p, --top-k, --min-p and --mirostat values is
 * run on every prompt --samples times. Per sample we keep its text, length, time to first
 * token and speed; per setting, the diversity of the samples of each prompt (distinct-1,
 * distinct-2, self-BLEU, pairwise Jaccard, token entropy: eval/diversity.h), averaged over the
 * prompts. Results: a terminal table, and with --out DIR the samples as JSONL, the settings as
 * CSV and an SVG chart of diversity and length against the settings. For a local model sample
 * k uses seed S + k (S from --seed, default 1), so a sweep is reproducible. */
#include "cli/cli.h"
#include "base/progress.h"
#include "base/svg.h"
#include "base/table.h"
#include "eval/diversity.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

enum { P_TEMP, P_TOP_P, P_TOP_K, P_MIN_P, P_MIROSTAT, N_PARAMS };
static const char *const param_names[N_PARAMS] = { "temp", "top_p", "top_k", "min_p", "mirostat" };
enum { MAX_VALUES = 16, MAX_SETTINGS = 1024 };

typedef struct setting {
    double v[N_PARAMS];
    bool set[N_PARAMS];
    char label[96];
    diversity div;                /* averaged over prompts */
    double mean_tokens, mean_ttft_s, mean_tps;
    int n_ok, n_err;
} setting;

typedef struct sample {
    int setting, prompt, index;
    char *text, *finish, *error;
    long long tokens;
    double ttft_s, tokens_per_s, latency_s;
    uint64_t seed;
    bool has_seed;
} sample;

/* Prompts from a file: a .jsonl file holds objects with a "prompt" string; any other file one
 * prompt per line (blank lines and lines starting with '#' skipped). */
static int read_prompts(const char *path, char ***out, int *n, lk_error *err) {
    lk_buf b = {0};
    if (lk_read_file(path, &b, err)) return err->code;
    size_t len = strlen(path);
    bool jsonl = len > 6 && strcmp(path + len - 6, ".jsonl") == 0;
    char *p = b.data ? b.data : "";
    int line = 0, rc = 0;
    *out = NULL;
    *n = 0;
    while (*p && !rc) {
        line++;
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char *s = lk_xstrndup(p, l);
        p = nl ? nl + 1 : p + l;
        if (l && s[l - 1] == '\r') s[--l] = 0;
        bool blank = strspn(s, " \t") == l;
        char *text = NULL;
        if (blank || (!jsonl && s[0] == '#')) {
            free(s);
            continue;
        }
        if (jsonl) {
            json_error_t je;
            json_t *o = json_loads(s, 0, &je);
            json_t *pr = o ? json_object_get(o, "prompt") : NULL;
            if (!o) rc = lk_errorf(err, LK_EFORMAT, "%s:%d:%d: %s", path, line, je.column, je.text);
            else if (!json_is_string(pr))
                rc = lk_errorf(err, LK_EFORMAT, "%s:%d: field \"prompt\" is missing or not a string", path, line);
            else text = lk_xstrdup(json_string_value(pr));
            json_decref(o);
            free(s);
        } else {
            text = s;
        }
        if (text) {
            *out = lk_xrealloc(*out, (size_t)(*n + 1) * sizeof **out);
            (*out)[(*n)++] = text;
        }
    }
    lk_buf_free(&b);
    if (!rc && *n == 0) rc = lk_errorf(err, LK_EINVAL, "%s: no prompts in the file", path);
    return rc;
}

static void setting_label(setting *s) {
    size_t o = 0;
    for (int p = 0; p < N_PARAMS; p++) {
        if (!s->set[p]) continue;
        o += (size_t)snprintf(s->label + o, sizeof s->label - o, "%s%s=%g", o ? " " : "", param_names[p], s->v[p]);
        if (o >= sizeof s->label) break;
    }
    if (!o) snprintf(s->label, sizeof s->label, "defaults");
}

static void apply(const setting *s, lk_request *r) {
    if (s->set[P_TEMP]) r->temperature = (float)s->v[P_TEMP];
    if (s->set[P_TOP_P]) r->top_p = (float)s->v[P_TOP_P];
    if (s->set[P_TOP_K]) r->top_k = (int)s->v[P_TOP_K];
    if (s->set[P_MIN_P]) r->min_p = (float)s->v[P_MIN_P];
    if (s->set[P_MIROSTAT]) r->mirostat = (int)s->v[P_MIROSTAT];
}

static void samples_jsonl(const sample *smp, int n, const setting *st, char **prompts, lk_buf *b) {
    for (int i = 0; i < n; i++) {
        const sample *s = &smp[i];
        const setting *g = &st[s->setting];
        lk_buf_puts(b, "{\"setting\":");
        lk_buf_json_str(b, g->label);
        for (int p = 0; p < N_PARAMS; p++)
            if (g->set[p]) lk_buf_printf(b, ",\"%s\":%g", param_names[p], g->v[p]);
        lk_buf_printf(b, ",\"prompt_index\":%d,\"prompt\":", s->prompt);
        lk_buf_json_str(b, prompts[s->prompt]);
        lk_buf_printf(b, ",\"sample\":%d,\"seed\":", s->index);
        if (s->has_seed) lk_buf_printf(b, "%llu", (unsigned long long)s->seed);
        else lk_buf_puts(b, "null");
        lk_buf_puts(b, ",\"text\":");
        lk_buf_json_str(b, s->text);
        lk_buf_printf(b, ",\"completion_tokens\":%lld,\"ttft_s\":%.6f,\"tokens_per_s\":%.3f,\"latency_s\":%.6f,"
                      "\"finish_reason\":", s->tokens, s->ttft_s, s->tokens_per_s, s->latency_s);
        lk_buf_json_str(b, s->finish);
        lk_buf_puts(b, ",\"error\":");
        lk_buf_json_str(b, s->error);
        lk_buf_puts(b, "}\n");
    }
}

static void fill_table(lk_table *t, const setting *st, int n) {
    static const char *cols[] = { "setting", ">ok", ">tokens", ">distinct-1", ">distinct-2", ">self-BLEU",
                                  ">jaccard", ">entropy", ">ttft ms", ">tok/s" };
    lk_table_init(t, LK_ARRAY_LEN(cols), cols);
    for (int i = 0; i < n; i++) {
        const setting *s = &st[i];
        lk_table_row(t);
        lk_table_cell(t, "%s", s->label);
        lk_table_cell(t, "%d/%d", s->n_ok, s->n_ok + s->n_err);
        const double v[] = { s->mean_tokens, s->div.distinct1, s->div.distinct2, s->div.self_bleu, s->div.jaccard,
                             s->div.entropy, s->mean_ttft_s * 1e3, s->mean_tps };
        const char *fmt[] = { "%.1f", "%.3f", "%.3f", "%.3f", "%.3f", "%.2f", "%.1f", "%.1f" };
        for (size_t k = 0; k < LK_ARRAY_LEN(v); k++) {
            if (s->n_ok && isfinite(v[k])) lk_table_cell(t, fmt[k], v[k]);
            else lk_table_cell(t, "-");
        }
    }
}

static void chart(const setting *st, int n, const char *spec, lk_buf *out) {
    const char **labels = lk_xmalloc((size_t)n * sizeof *labels);
    double *y = lk_xmalloc((size_t)n * 6 * sizeof *y);
    for (int i = 0; i < n; i++) {
        labels[i] = st[i].label;
        y[0 * n + i] = st[i].div.distinct1;
        y[1 * n + i] = st[i].div.distinct2;
        y[2 * n + i] = st[i].div.self_bleu;
        y[3 * n + i] = st[i].div.jaccard;
        y[4 * n + i] = st[i].div.entropy;
        y[5 * n + i] = st[i].mean_tokens;
    }
    svg_series div[4] = { { "distinct-1", y }, { "distinct-2", y + n }, { "self-BLEU", y + 2 * n },
                          { "Jaccard", y + 3 * n } };
    svg_series ent[1] = { { "token entropy", y + 4 * n } };
    svg_series len[1] = { { "mean length", y + 5 * n } };
    svg_panel panels[3] = {
        { .title = "Diversity", .y_label = "distinct up, self-BLEU down = diverse", .series = div, .n_series = 4, .y_min = 0, .y_max = 1 },
        { .title = "Token entropy", .y_label = "bits", .series = ent, .n_series = 1, .y_min = NAN, .y_max = NAN },
        { .title = "Length", .y_label = "tokens", .series = len, .n_series = 1, .bars = true, .y_min = 0, .y_max = NAN },
    };
    char title[512];
    snprintf(title, sizeof title, "llmkit sweep: %s", spec);
    svg_chart c = { .title = title, .x_label = "decoding setting", .x_labels = labels, .n_x = (size_t)n,
                    .panels = panels, .n_panels = 3, .width = 900 };
    svg_render(&c, out);
    free(labels);
    free(y);
}

int cmd_sweep(int argc, char **argv) {
    const char *spec = NULL, *prompt = NULL, *pfile = NULL, *system = NULL, *out_dir = NULL;
    const char *lists[N_PARAMS] = { NULL };
    int n_samples = 5, n_predict = 64;
    unsigned long long seed = CLI_SEED_UNSET;
    bool no_stream = false, quiet = false;
    cli_model cm;
    lk_opt opts[40] = {
        { "model", 'm', LK_OPT_STR, &spec, "SPEC", "the model (a .gguf file or an API model)" },
        { "prompt", 'p', LK_OPT_STR, &prompt, "TEXT", "the prompt" },
        { "prompts", 0, LK_OPT_STR, &pfile, "FILE", "prompts, one per line (or a .jsonl of {\"prompt\": ...})" },
        { "system", 0, LK_OPT_STR, &system, "TEXT", "a system message before each prompt" },
        { "temp", 0, LK_OPT_STR, &lists[P_TEMP], "LIST", "temperatures, e.g. 0,0.7,1.2" },
        { "top-p", 0, LK_OPT_STR, &lists[P_TOP_P], "LIST", "top-p values" },
        { "top-k", 0, LK_OPT_STR, &lists[P_TOP_K], "LIST", "top-k values" },
        { "min-p", 0, LK_OPT_STR, &lists[P_MIN_P], "LIST", "min-p values" },
        { "mirostat", 0, LK_OPT_STR, &lists[P_MIROSTAT], "LIST", "mirostat versions (0,1,2)" },
        { "samples", 0, LK_OPT_INT, &n_samples, "N", "samples per setting and prompt (5)" },
        { "n-predict", 'n', LK_OPT_INT, &n_predict, "N", "tokens per sample at most (64)" },
        { "seed", 's', LK_OPT_U64, &seed, "S", "sample k uses seed S + k (local default S = 1; API models get a seed "
          "only when given)" },
        { "out", 'o', LK_OPT_STR, &out_dir, "DIR", "write samples.jsonl, settings.csv and sweep.svg here" },
        { "no-stream", 0, LK_OPT_FLAG, &no_stream, NULL, "API: ask for whole answers" },
        { "quiet", 'q', LK_OPT_FLAG, &quiet, NULL, "no progress bar or warnings" },
    };
    int n_opts = 15;
    n_opts += cli_model_opts(&cm, opts + n_opts);
    opts[n_opts].name = NULL;
    lk_cmd_help help = {
        "llmkit sweep -m SPEC (-p TEXT | --prompts FILE) [--temp LIST] [--top-p LIST] [--top-k LIST]\n"
        "             [--min-p LIST] [--mirostat LIST] [--samples N] [--out DIR]",
        "Run every combination of the given decoding settings, --samples times per prompt, and\n"
        "measure the diversity of the samples (distinct-1/2, self-BLEU, pairwise Jaccard, token\n"
        "entropy), their length, time to first token and speed. A setting not given is left at\n"
        "the model's default. With --out: samples.jsonl (every sample), settings.csv (the table)\n"
        "and sweep.svg (diversity and length against the settings).",
        "  llmkit sweep -m model.gguf -p 'Write a tagline for a bakery.' --temp 0,0.7,1.2 --top-p 0.9,1 --out sweep/\n"
        "  llmkit sweep -m openai:gpt-4o-mini --prompts prompts.txt --temp 0.2,1 --samples 3\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!spec) return cli_usage("sweep: --model is required (see llmkit sweep --help)");
    if (!prompt == !pfile) return cli_usage("sweep: give exactly one of -p TEXT or --prompts FILE");
    if (n_samples < 1 || n_samples > 1000) return cli_usage("sweep: --samples %d: expected 1 to 1000", n_samples);
    if (n_predict < 0) return cli_usage("sweep: -n %d: expected 0 or more", n_predict);

    /* the grid */
    double vals[N_PARAMS][MAX_VALUES];
    int n_vals[N_PARAMS];
    long n_settings = 1;
    for (int p = 0; p < N_PARAMS; p++) {
        n_vals[p] = 0;
        if (!lists[p]) continue;
        char opt[16];
        snprintf(opt, sizeof opt, "%s", p == P_TOP_P ? "top-p" : p == P_TOP_K ? "top-k" : p == P_MIN_P ? "min-p"
                 : param_names[p]);
        if ((n_vals[p] = cli_number_list(opt, lists[p], vals[p], MAX_VALUES)) < 0) return 2;
        for (int i = 0; i < n_vals[p]; i++) {
            double v = vals[p][i];
            bool ok = p == P_TEMP ? v >= 0 : p == P_TOP_P || p == P_MIN_P ? v >= 0 && v <= 1
                    : p == P_TOP_K ? v >= 0 && v == floor(v) : v == 0 || v == 1 || v == 2;
            if (!ok) return cli_usage("sweep: --%s: %g is out of range", opt, v);
        }
        n_settings *= n_vals[p];
    }
    if (n_settings > MAX_SETTINGS) return cli_usage("sweep: %ld settings; at most %d", n_settings, MAX_SETTINGS);
    setting *st = lk_xcalloc((size_t)n_settings, sizeof *st);
    for (long i = 0; i < n_settings; i++) {
        long r = i;
        for (int p = N_PARAMS - 1; p >= 0; p--) {
            if (!n_vals[p]) continue;
            st[i].set[p] = true;
            st[i].v[p] = vals[p][r % n_vals[p]];
            r /= n_vals[p];
        }
        setting_label(&st[i]);
    }

    lk_error err = {0};
    char **prompts = NULL;
    int n_prompts = 0;
    if (pfile) {
        if (read_prompts(pfile, &prompts, &n_prompts, &err)) {
            free(st);
            return cli_fail(&err);
        }
    } else {
        prompts = lk_xmalloc(sizeof *prompts);
        prompts[0] = lk_xstrdup(prompt);
        n_prompts = 1;
    }
    if (out_dir && mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        lk_errorf(&err, LK_EIO, "%s: %s", out_dir, strerror(errno));
        rc = cli_fail(&err);
    }
    lk_model *m = NULL;
    if (!rc) rc = cli_open_model(&cm, spec, &m);
    if (rc) {
        for (int i = 0; i < n_prompts; i++) free(prompts[i]);
        free(prompts);
        free(st);
        return rc;
    }
    bool local = strcmp(lk_model_backend(m), "local") == 0;
    if (seed == CLI_SEED_UNSET && local) seed = 1;

    long total = n_settings * n_prompts * n_samples;
    sample *smp = lk_xcalloc((size_t)total, sizeof *smp);
    lk_progress bar;
    lk_progress_start(&bar, "sweep", (uint64_t)total);
    if (quiet) bar.on = false;
    long done = 0;
    bool warned = false;
    const char **texts = lk_xmalloc((size_t)n_samples * sizeof *texts);
    for (long si = 0; si < n_settings; si++) {
        setting *s = &st[si];
        double sum_tok = 0, sum_ttft = 0, sum_tps = 0;
        diversity acc = {0};
        int n_div = 0, n_lex = 0; /* prompts with 2+ samples (pairwise metrics), with 1+ (the rest) */
        for (int pi = 0; pi < n_prompts; pi++) {
            int n_texts = 0;
            for (int k = 0; k < n_samples; k++) {
                lk_message msgs[2];
                size_t n_msgs = 0;
                if (system) msgs[n_msgs++] = (lk_message){ .role = "system", .content = system };
                msgs[n_msgs++] = (lk_message){ .role = "user", .content = prompts[pi] };
                lk_request req;
                lk_request_init(&req);
                req.messages = msgs;
                req.n_messages = n_msgs;
                req.max_tokens = n_predict;
                req.stream = !no_stream;
                req.timeout_s = cm.timeout;
                apply(s, &req);
                if (seed != CLI_SEED_UNSET) {
                    req.has_seed = true;
                    req.seed = seed + (unsigned long long)k;
                }
                lk_response res;
                int crc = lk_model_chat(m, &req, NULL, NULL, &res, &err);
                sample *o = &smp[done];
                *o = (sample){ .setting = (int)si, .prompt = pi, .index = k, .text = lk_xstrdup(res.text),
                               .finish = lk_xstrdup(res.finish_reason), .tokens = res.usage.completion_tokens,
                               .ttft_s = res.timings.ttft_s, .tokens_per_s = res.timings.tokens_per_s,
                               .latency_s = res.timings.total_s, .seed = req.seed, .has_seed = req.has_seed };
                if (!warned && res.n_warnings && !quiet) {
                    lk_progress_end(&bar);
                    cli_print_warnings(&res);
                    warned = true;
                }
                if (crc) {
                    o->error = lk_xstrdup(err.msg);
                    s->n_err++;
                    if (!quiet) {
                        lk_progress_end(&bar);
                        fprintf(stderr, "llmkit: %s\n", err.msg);
                    }
                } else {
                    s->n_ok++;
                    texts[n_texts++] = o->text;
                    sum_tok += (double)o->tokens;
                    sum_ttft += o->ttft_s;
                    sum_tps += o->tokens_per_s;
                }
                lk_response_free(&res);
                done++;
                char detail[160];
                snprintf(detail, sizeof detail, "%ld/%ld  %s", done, total, s->label);
                lk_progress_update(&bar, (uint64_t)done, detail);
            }
            if (n_texts == 0) continue; /* every sample failed: nothing to measure */
            diversity d;
            diversity_compute(texts, (size_t)n_texts, &d);
            acc.distinct1 += d.distinct1;
            acc.distinct2 += d.distinct2;
            acc.entropy += d.entropy;
            acc.mean_words += d.mean_words;
            n_lex++;
            if (n_texts >= 2) {
                acc.self_bleu += d.self_bleu;
                acc.jaccard += d.jaccard;
                n_div++;
            }
        }
        s->div.distinct1 = n_lex ? acc.distinct1 / n_lex : NAN;
        s->div.distinct2 = n_lex ? acc.distinct2 / n_lex : NAN;
        s->div.entropy = n_lex ? acc.entropy / n_lex : NAN;
        s->div.mean_words = n_lex ? acc.mean_words / n_lex : NAN;
        s->div.self_bleu = n_div ? acc.self_bleu / n_div : NAN; /* pairwise: needs two samples */
        s->div.jaccard = n_div ? acc.jaccard / n_div : NAN;
        s->div.n_samples = (size_t)s->n_ok;
        if (s->n_ok) {
            s->mean_tokens = sum_tok / s->n_ok;
            s->mean_ttft_s = sum_ttft / s->n_ok;
            s->mean_tps = sum_tps / s->n_ok;
        }
    }
    lk_progress_end(&bar);
    free(texts);

    lk_table t;
    fill_table(&t, st, (int)n_settings);
    printf("%s: %ld settings x %d prompt%s x %d samples\n", spec, n_settings, n_prompts, n_prompts == 1 ? "" : "s",
           n_samples);
    lk_table_print(&t, stdout);
    int failed = 0;
    for (long i = 0; i < n_settings; i++) failed += st[i].n_err;
    if (out_dir) {
        lk_buf b = {0};
        samples_jsonl(smp, (int)total, st, prompts, &b);
        rc = lk_write_file_atomic(out_dir, "samples.jsonl", b.data, b.len, &err);
        lk_buf_clear(&b);
        if (!rc) {
            char *csv = NULL;
            size_t csv_len = 0;
            FILE *mf = open_memstream(&csv, &csv_len);
            lk_table_csv(&t, mf);
            fclose(mf);
            lk_buf_append(&b, csv, csv_len);
            free(csv);
            rc = lk_write_file_atomic(out_dir, "settings.csv", b.data, b.len, &err);
            lk_buf_clear(&b);
        }
        if (!rc) {
            chart(st, (int)n_settings, spec, &b);
            rc = lk_write_file_atomic(out_dir, "sweep.svg", b.data, b.len, &err);
        }
        lk_buf_free(&b);
        if (!rc) printf("wrote %s/samples.jsonl, settings.csv, sweep.svg\n", out_dir);
    }
    lk_table_free(&t);
    for (long i = 0; i < total; i++) {
        free(smp[i].text);
        free(smp[i].finish);
        free(smp[i].error);
    }
    free(smp);
    for (int i = 0; i < n_prompts; i++) free(prompts[i]);
    free(prompts);
    free(st);
    lk_model_free(m);
    if (rc) return cli_fail(&err);
    if (failed) fprintf(stderr, "llmkit: %d of %ld samples failed\n", failed, total);
    return failed ? 1 : 0;
}

/* load.c — `llmkit load`: load-test an OpenAI-compatible or Anthropic-format server.
 *
 * Parses the options, reads the key and the prompts, checks that the server accepts
 * connections, runs the optional warm-up and then each point of the sweep (closed-loop
 * concurrency values or open-loop request rates) through src/load/load.h with a progress bar
 * per point, and prints one table row per point. With --out DIR: results.json (every point and
 * every request), points.csv (every statistic of every point) and two SVG charts,
 * throughput.svg and latency.svg, against concurrency or rate; each file is written to a
 * temporary name and renamed. --json prints results.json to stdout instead of the table. */
#include "cli/cli.h"
#include "base/progress.h"
#include "base/svg.h"
#include "base/table.h"
#include "load/load.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_POINTS = 32 };

/* The API key: the first line of key_file, else LLMKIT_API_KEY, else the provider's variable.
 * NULL (no key sent) when there is none. */
static int read_key(const char *key_file, load_api api, char **key, lk_error *err) {
    *key = NULL;
    if (key_file) {
        lk_buf b = {0};
        if (lk_read_file(key_file, &b, err)) return lk_error_prefix(err, "API key file");
        char *p = b.data ? b.data : "";
        while (isspace((unsigned char)*p)) p++;
        size_t n = strcspn(p, "\r\n");
        while (n && isspace((unsigned char)p[n - 1])) n--;
        if (n) *key = lk_xstrndup(p, n);
        memset(b.data, 0, b.len);
        lk_buf_free(&b);
        if (!n) return lk_errorf(err, LK_EINVAL, "API key file %s is empty", key_file);
        return 0;
    }
    const char *v = getenv("LLMKIT_API_KEY");
    if (!v || !*v) v = getenv(api != LOAD_ANTHROPIC ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY");
    if (v && *v) *key = lk_xstrdup(v);
    return 0;
}

typedef struct bar_state {
    lk_progress bar;
} bar_state;

static void on_progress(const load_progress *p, void *ud) {
    bar_state *b = ud;
    char detail[160];
    snprintf(detail, sizeof detail, "%zu done, %zu failed, %zu in flight", p->done, p->failed, p->in_flight);
    uint64_t done = p->total ? p->done : (uint64_t)(1000 * LK_MIN(p->elapsed_s, p->duration_s));
    lk_progress_update(&b->bar, done, detail);
}

static void cell_ms(lk_table *t, double s) {
    if (isfinite(s)) lk_table_cell(t, "%.1f", s * 1e3);
    else lk_table_cell(t, "-");
}

static void point_label(const load_point *p, char *buf, size_t cap) {
    if (p->mode == LOAD_CLOSED) snprintf(buf, cap, "%g", p->value);
    else snprintf(buf, cap, "%g/s", p->value);
}

static void fill_table(lk_table *t, const load_point *pts, size_t n, bool slo, load_mode mode) {
    const char *cols[] = { mode == LOAD_CLOSED ? "concurrency" : "rate", ">ok", ">failed", ">req/s", ">out tok/s",
                           ">goodput/s", ">ttft p50 ms", ">ttft p95", ">tpot p50 ms", ">tpot p95", ">itl p95 ms",
                           ">e2e p50 s", ">e2e p95" };
    size_t nc = LK_ARRAY_LEN(cols);
    const char *use[LK_ARRAY_LEN(cols)];
    size_t k = 0;
    for (size_t i = 0; i < nc; i++)
        if (slo || i != 5) use[k++] = cols[i];
    lk_table_init(t, k, use);
    for (size_t i = 0; i < n; i++) {
        const load_point *p = &pts[i];
        char label[32];
        point_label(p, label, sizeof label);
        lk_table_row(t);
        lk_table_cell(t, "%s", label);
        lk_table_cell(t, "%zu/%zu", p->completed, p->n_reqs);
        lk_table_cell(t, "%zu", p->failed);
        lk_table_cell(t, "%.2f", p->req_per_s);
        lk_table_cell(t, "%.1f", p->out_tok_per_s);
        if (slo) lk_table_cell(t, "%.2f", p->goodput_per_s);
        cell_ms(t, p->ttft.p50);
        cell_ms(t, p->ttft.p95);
        cell_ms(t, p->tpot.p50);
        cell_ms(t, p->tpot.p95);
        cell_ms(t, p->itl.p95);
        if (isfinite(p->e2e.p50)) lk_table_cell(t, "%.2f", p->e2e.p50);
        else lk_table_cell(t, "-");
        if (isfinite(p->e2e.p95)) lk_table_cell(t, "%.2f", p->e2e.p95);
        else lk_table_cell(t, "-");
    }
}

/* points.csv: every statistic of every point, times in seconds. */
static void csv_table(lk_table *t, const load_point *pts, size_t n) {
    static const char *const metrics[4] = { "ttft", "tpot", "itl", "e2e" };
    static const char *const stats[5] = { "mean", "p50", "p90", "p95", "p99" };
    const char *base[] = { "mode", "value", "requests", "completed", "failed", "dropped", "wall_s", "output_tokens",
                           "request_throughput", "output_throughput", "good", "goodput" };
    enum { NB = LK_ARRAY_LEN(base) };
    char names[20][16];
    const char *cols[NB + 20];
    memcpy(cols, base, sizeof base);
    for (int m = 0; m < 4; m++)
        for (int s = 0; s < 5; s++) {
            snprintf(names[m * 5 + s], sizeof names[0], "%s_%s_s", metrics[m], stats[s]);
            cols[NB + m * 5 + s] = names[m * 5 + s];
        }
    lk_table_init(t, NB + 20, cols);
    for (size_t i = 0; i < n; i++) {
        const load_point *p = &pts[i];
        lk_table_row(t);
        lk_table_cell(t, "%s", load_mode_name(p->mode));
        lk_table_cell(t, "%g", p->value);
        lk_table_cell(t, "%zu", p->n_reqs);
        lk_table_cell(t, "%zu", p->completed);
        lk_table_cell(t, "%zu", p->failed);
        lk_table_cell(t, "%zu", p->dropped);
        lk_table_cell(t, "%.6f", p->wall_s);
        lk_table_cell(t, "%lld", p->output_tokens);
        lk_table_cell(t, "%.6f", p->req_per_s);
        lk_table_cell(t, "%.6f", p->out_tok_per_s);
        lk_table_cell(t, "%zu", p->good);
        lk_table_cell(t, "%.6f", p->goodput_per_s);
        const load_stats *st[4] = { &p->ttft, &p->tpot, &p->itl, &p->e2e };
        for (int m = 0; m < 4; m++) {
            const double v[5] = { st[m]->mean, st[m]->p50, st[m]->p90, st[m]->p95, st[m]->p99 };
            for (int s = 0; s < 5; s++) {
                if (isfinite(v[s])) lk_table_cell(t, "%.6f", v[s]);
                else lk_table_cell(t, "%s", "");
            }
        }
    }
}

/* throughput.svg and latency.svg against the swept value. */
static void charts(const load_point *pts, size_t n, const char *model, lk_buf *thr, lk_buf *lat) {
    double x[MAX_POINTS], y[7][MAX_POINTS];
    for (size_t i = 0; i < n; i++) {
        const load_point *p = &pts[i];
        x[i] = p->value;
        y[0][i] = p->out_tok_per_s;
        y[1][i] = p->req_per_s;
        y[2][i] = p->goodput_per_s;
        y[3][i] = p->ttft.p95 * 1e3;
        y[4][i] = p->tpot.p95 * 1e3;
        y[5][i] = p->itl.p95 * 1e3;
        y[6][i] = p->e2e.p95;
    }
    bool closed = n && pts[0].mode == LOAD_CLOSED;
    const char *xl = closed ? "concurrency (requests in flight)" : "offered load (requests per second)";
    char title[512];
    svg_series s_tok[1] = { { "output tokens/s", y[0] } };
    svg_series s_req[2] = { { "requests/s", y[1] }, { "goodput (requests/s meeting the SLOs)", y[2] } };
    svg_panel tp[2] = {
        { .title = "Output token throughput", .y_label = "tokens/s", .series = s_tok, .n_series = 1, .y_min = 0, .y_max = NAN },
        { .title = "Request throughput", .y_label = "requests/s", .series = s_req, .n_series = 2, .y_min = 0, .y_max = NAN },
    };
    snprintf(title, sizeof title, "llmkit load: %s throughput", model);
    svg_chart c1 = { .title = title, .x_label = xl, .x = x, .n_x = n, .panels = tp, .n_panels = 2, .width = 800 };
    svg_render(&c1, thr);
    svg_series s_ms[3] = { { "ttft p95", y[3] }, { "tpot p95", y[4] }, { "itl p95", y[5] } };
    svg_series s_e2e[1] = { { "e2e p95", y[6] } };
    svg_panel lp[2] = {
        { .title = "p95 time to first token, per output token, between tokens", .y_label = "ms", .series = s_ms,
          .n_series = 3, .y_min = 0, .y_max = NAN },
        { .title = "p95 end-to-end latency", .y_label = "s", .series = s_e2e, .n_series = 1, .y_min = 0, .y_max = NAN },
    };
    snprintf(title, sizeof title, "llmkit load: %s p95 latency", model);
    svg_chart c2 = { .title = title, .x_label = xl, .x = x, .n_x = n, .panels = lp, .n_panels = 2, .width = 800 };
    svg_render(&c2, lat);
}

static int write_outputs(const char *dir, const load_config *c, const load_point *pts, size_t n, lk_error *err) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return lk_errorf(err, LK_EIO, "%s: %s", dir, strerror(errno));
    lk_buf b = {0}, lat = {0};
    load_json(c, pts, n, &b);
    int rc = lk_write_file_atomic(dir, "results.json", b.data, b.len, err);
    if (!rc) {
        lk_table t;
        csv_table(&t, pts, n);
        char *csv = NULL;
        size_t csv_len = 0;
        FILE *mf = open_memstream(&csv, &csv_len);
        lk_table_csv(&t, mf);
        fclose(mf);
        lk_table_free(&t);
        rc = lk_write_file_atomic(dir, "points.csv", csv, csv_len, err);
        free(csv);
    }
    if (!rc) {
        lk_buf_clear(&b);
        charts(pts, n, c->model, &b, &lat);
        rc = lk_write_file_atomic(dir, "throughput.svg", b.data, b.len, err);
        if (!rc) rc = lk_write_file_atomic(dir, "latency.svg", lat.data, lat.len, err);
    }
    lk_buf_free(&b);
    lk_buf_free(&lat);
    return rc;
}

int cmd_load(int argc, char **argv) {
    const char *url = NULL, *model = NULL, *api_name = "openai", *conc = NULL, *rates = NULL, *pfile = NULL;
    const char *slo_spec = NULL, *out_dir = NULL, *key_file = NULL;
    bool poisson = false, json = false, quiet = false, ignore_eos = false;
    int n_requests = 0, prompt_tokens = 128, max_tokens = 128, warmup = 0, max_in_flight = 256;
    float duration = 0, timeout = 600;
    unsigned long long seed = 1;
    lk_opt opts[] = {
        { "url", 'u', LK_OPT_STR, &url, "URL", "the server's API base, e.g. http://127.0.0.1:8080/v1" },
        { "model", 'm', LK_OPT_STR, &model, "NAME", "the model name to send" },
        { "api", 0, LK_OPT_STR, &api_name, "openai|completions|anthropic", "wire format: /chat/completions, the legacy "
          "/completions (no chat template or output parsing on the server) or /messages (openai)" },
        { "concurrency", 'c', LK_OPT_STR, &conc, "LIST", "closed loop: requests in flight, e.g. 1,2,4,8,16 (default 1)" },
        { "rate", 'r', LK_OPT_STR, &rates, "LIST", "open loop: requests per second, e.g. 0.5,1,2,4" },
        { "poisson", 0, LK_OPT_FLAG, &poisson, NULL, "open loop: Poisson arrivals instead of even spacing" },
        { "requests", 'n', LK_OPT_INT, &n_requests, "N", "requests per point (default: the larger of 32 and "
          "4 x concurrency, or 10 s of the rate)" },
        { "duration", 'd', LK_OPT_FLOAT, &duration, "S", "start requests for S seconds per point instead" },
        { "prompt-tokens", 0, LK_OPT_INT, &prompt_tokens, "N", "synthetic prompts of about N tokens (128)" },
        { "max-tokens", 0, LK_OPT_INT, &max_tokens, "N", "max_tokens of every request (128)" },
        { "prompts", 'p', LK_OPT_STR, &pfile, "FILE", "prompts from a JSONL file of {\"prompt\": ...} or "
          "{\"messages\": [...]} objects" },
        { "ignore-eos", 0, LK_OPT_FLAG, &ignore_eos, NULL, "send \"ignore_eos\": true (vLLM, llama.cpp) so that every "
          "answer runs to max_tokens" },
        { "slo", 0, LK_OPT_STR, &slo_spec, "LIST", "service-level objectives for goodput, e.g. ttft=500ms,tpot=100ms "
          "(ttft, tpot, itl, e2e)" },
        { "warmup", 0, LK_OPT_INT, &warmup, "N", "send N requests first, one at a time, not counted (0)" },
        { "max-in-flight", 0, LK_OPT_INT, &max_in_flight, "N", "open loop: at most N requests in flight; arrivals "
          "over it are dropped and count as failures (256)" },
        { "seed", 's', LK_OPT_U64, &seed, "S", "seed of the synthetic prompts and Poisson arrivals (1)" },
        { "timeout", 0, LK_OPT_FLOAT, &timeout, "S", "give up on a request after S seconds (600)" },
        { "key-file", 0, LK_OPT_STR, &key_file, "FILE", "read the API key from FILE (default: LLMKIT_API_KEY, then "
          "OPENAI_API_KEY or ANTHROPIC_API_KEY; none sent if unset)" },
        { "out", 'o', LK_OPT_STR, &out_dir, "DIR", "write results.json, points.csv, throughput.svg and latency.svg" },
        { "json", 0, LK_OPT_FLAG, &json, NULL, "print results.json to stdout instead of the table" },
        { "quiet", 'q', LK_OPT_FLAG, &quiet, NULL, "no progress bars" },
        { NULL, 0, 0, NULL, NULL, NULL },
    };
    lk_cmd_help help = {
        "llmkit load --url URL --model NAME [--api openai|anthropic] (--concurrency LIST | --rate LIST [--poisson])\n"
        "            [--requests N | --duration S] [--prompt-tokens N --max-tokens N | --prompts FILE]\n"
        "            [--slo ttft=500ms,tpot=100ms] [--seed S] [--out DIR] [--json]",
        "Load-test an OpenAI-compatible server (llmkit serve, llama.cpp's server, vLLM, ...) or an\n"
        "Anthropic-format one. Each point of the sweep is closed loop (--concurrency: that many\n"
        "requests in flight, a new one as soon as one ends) or open loop (--rate: requests start\n"
        "at their scheduled times whether or not earlier ones have ended). Every response is\n"
        "streamed; per point: completed and failed requests, request and output-token throughput,\n"
        "goodput under the SLOs, and mean/p50/p90/p95/p99 of time to first token (ttft), time per\n"
        "output token after the first (tpot), inter-token latency (itl) and end-to-end latency.\n"
        "See docs/load.md for the definitions.",
        "  llmkit load --url http://127.0.0.1:8080/v1 --model local --concurrency 1,2,4,8,16 --requests 64\n"
        "  llmkit load --url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-7B-Instruct --rate 1,2,4 --poisson \\\n"
        "      --duration 60 --slo ttft=500ms,tpot=50ms --out load-results/\n",
    };
    const char *pos[1];
    int n_pos;
    int rc = lk_opt_parse(argc, argv, opts, &help, pos, 0, &n_pos);
    if (rc) return rc == LK_OPT_HELP ? 0 : 2;
    if (!url) return cli_usage("load: --url is required (see llmkit load --help)");
    if (!model) return cli_usage("load: --model is required (the name the server knows the model by)");
    load_api api;
    if (strcmp(api_name, "openai") == 0) api = LOAD_OPENAI;
    else if (strcmp(api_name, "anthropic") == 0) api = LOAD_ANTHROPIC;
    else if (strcmp(api_name, "completions") == 0) api = LOAD_COMPLETIONS;
    else return cli_usage("load: --api '%s': expected openai, completions or anthropic", api_name);
    if (conc && rates) return cli_usage("load: give one of --concurrency and --rate");
    if (poisson && !rates) return cli_usage("load: --poisson goes with --rate");
    if (n_requests && duration) return cli_usage("load: give one of --requests and --duration");
    if (n_requests < 0 || n_requests > 10000000) return cli_usage("load: --requests %d: expected 1 or more", n_requests);
    if (!(duration >= 0) || duration > 86400 * 7) return cli_usage("load: --duration: expected seconds above 0");
    if (max_tokens < 1) return cli_usage("load: --max-tokens %d: expected 1 or more", max_tokens);
    if (prompt_tokens < 1 || prompt_tokens > 1000000) return cli_usage("load: --prompt-tokens %d: expected 1 or more", prompt_tokens);
    if (warmup < 0) return cli_usage("load: --warmup %d: expected 0 or more", warmup);
    if (max_in_flight < 1 || max_in_flight > 65536) return cli_usage("load: --max-in-flight %d: expected 1 to 65536", max_in_flight);
    if (!(timeout > 0)) return cli_usage("load: --timeout: expected seconds above 0");

    double values[MAX_POINTS];
    int n_points = cli_number_list(rates ? "rate" : "concurrency", rates ? rates : conc ? conc : "1", values, MAX_POINTS);
    if (n_points < 0) return 2;
    load_mode mode = rates ? (poisson ? LOAD_POISSON : LOAD_RATE) : LOAD_CLOSED;
    for (int i = 0; i < n_points; i++) {
        double v = values[i];
        if (mode == LOAD_CLOSED && !(v >= 1 && v <= 4096 && v == floor(v)))
            return cli_usage("load: --concurrency: %g is not a whole number from 1 to 4096", v);
        if (mode != LOAD_CLOSED && !(v > 0 && v <= 1e6))
            return cli_usage("load: --rate: %g is not a rate above 0 (requests per second)", v);
    }
    lk_error err = {0};
    load_slo slo = {0};
    if (slo_spec && load_parse_slo(slo_spec, &slo, &err)) return cli_usage("load: %s", err.msg);

    /* a socket per request in flight: raise the open-file limit as far as allowed */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    load_prompts prompts;
    if (pfile) {
        if (load_prompts_file(&prompts, pfile, &err)) return cli_fail(&err);
    } else {
        load_prompts_synthetic(&prompts, prompt_tokens, 64, seed);
    }
    char *key = NULL;
    if (read_key(key_file, api, &key, &err)) {
        load_prompts_free(&prompts);
        return cli_fail(&err);
    }
    load_config cfg = { .url = url, .model = model, .api = api, .api_key = key, .prompts = &prompts,
                        .max_tokens = max_tokens, .ignore_eos = ignore_eos, .n_requests = n_requests,
                        .duration_s = duration, .max_in_flight = max_in_flight, .seed = seed, .timeout_s = timeout,
                        .slo = slo };
    load_point *pts = lk_xcalloc((size_t)n_points, sizeof *pts);
    int n_done = 0;
    rc = load_check_server(&cfg, &err);
    if (!rc && warmup) {
        if (!quiet) fprintf(stderr, "load: %d warm-up request%s\n", warmup, warmup == 1 ? "" : "s");
        rc = load_warmup(&cfg, warmup, &err);
    }
    if (!json && !rc) {
        printf("load: %s, model %s (%s): ", url, model, api_name);
        if (duration) printf("%g s", duration);
        else if (n_requests) printf("%d requests", n_requests);
        else printf("%s", mode == LOAD_CLOSED ? "max(32, 4 x concurrency) requests" : "max(32, 10 s x rate) requests");
        if (pfile) printf(" per point, %zu prompts from %s, max_tokens %d\n", prompts.n, pfile, max_tokens);
        else printf(" per point, prompts of ~%d tokens, max_tokens %d\n", prompt_tokens, max_tokens);
        fflush(stdout);
    }
    for (int i = 0; i < n_points && !rc; i++) {
        load_config pc = cfg;
        if (!n_requests && !duration) {
            double want = mode == LOAD_CLOSED ? 4 * values[i] : 10 * values[i];
            pc.n_requests = (int)LK_MIN(LK_MAX(32.0, ceil(want)), 100000.0);
        }
        bar_state bs;
        char label[64];
        if (mode == LOAD_CLOSED) snprintf(label, sizeof label, "concurrency %g", values[i]);
        else snprintf(label, sizeof label, "rate %g/s", values[i]);
        lk_progress_start(&bs.bar, label, pc.n_requests ? (uint64_t)pc.n_requests : (uint64_t)(1000 * duration));
        if (quiet) bs.bar.on = false;
        pc.progress = on_progress;
        pc.progress_ud = &bs;
        rc = load_run_point(&pc, mode, values[i], &pts[i], &err);
        lk_progress_end(&bs.bar);
        if (!rc) n_done++;
    }
    if (rc) {
        if (key) memset(key, 0, strlen(key));
        free(key);
        for (int i = 0; i < n_done; i++) load_point_free(&pts[i]);
        free(pts);
        load_prompts_free(&prompts);
        return cli_fail(&err);
    }

    size_t completed = 0, failed = 0;
    const char *first_error = NULL;
    for (int i = 0; i < n_points; i++) {
        completed += pts[i].completed;
        failed += pts[i].failed;
        for (size_t k = 0; k < pts[i].n_reqs && !first_error; k++) first_error = pts[i].reqs[k].error;
    }
    if (json) {
        lk_buf b = {0};
        load_json(&cfg, pts, (size_t)n_points, &b);
        fwrite(b.data, 1, b.len, stdout);
        lk_buf_free(&b);
    } else {
        lk_table t;
        fill_table(&t, pts, (size_t)n_points, slo_spec != NULL, mode);
        lk_table_print(&t, stdout);
        lk_table_free(&t);
    }
    if (failed && first_error && !quiet) fprintf(stderr, "llmkit: %zu request%s failed; the first: %s\n", failed,
                                                 failed == 1 ? "" : "s", first_error);
    if (out_dir) {
        rc = write_outputs(out_dir, &cfg, pts, (size_t)n_points, &err);
        if (rc) rc = cli_fail(&err);
        else if (!quiet && !json) printf("wrote %s/results.json, points.csv, throughput.svg, latency.svg\n", out_dir);
    }
    if (!rc && completed == 0) {
        fprintf(stderr, "llmkit: load: no request succeeded\n");
        rc = 1;
    }
    if (key) memset(key, 0, strlen(key));
    free(key);
    for (int i = 0; i < n_points; i++) load_point_free(&pts[i]);
    free(pts);
    load_prompts_free(&prompts);
    return rc;
}

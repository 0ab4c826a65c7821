/* load.h — an LLM load tester: many streamed chat requests against one server, measured the
 * way serving benchmarks measure them.
 *
 * A run is a list of points. A point is either closed-loop (C requests in flight at all times:
 * a new one starts as soon as one ends) or open-loop (requests start at scheduled times, fixed
 * spacing or Poisson arrivals at a rate, whether or not earlier ones have finished, up to a cap
 * on requests in flight; an arrival over the cap is dropped and counted as a failure). A point
 * ends after a number of requests or after a duration (requests started by then finish and
 * count). Every request streams (OpenAI chat completions with stream_options.include_usage, or
 * Anthropic messages with stream: true), all of them from ONE thread through libcurl's multi
 * interface; the SSE stream is parsed with models/sse.h and each content delta is timestamped
 * as it arrives. Definitions of every metric are in docs/load.md; in short, per request:
 *   ttft  = first content delta - request sent
 *   e2e   = last byte - request sent
 *   tpot  = (e2e - ttft) / (output tokens - 1)          (undefined with one output token)
 *   itl   = the gaps between consecutive content deltas
 * and per point: completed and failed requests, throughput over the point's wall time, goodput
 * (successful requests that meet every SLO, per second) and mean/p50/p90/p95/p99 of each of
 * ttft, tpot, itl and e2e over the successful requests. Percentiles interpolate linearly
 * between closest ranks (load_percentile). Nothing here prints; the API key never appears in
 * an error message or in load_json's output. */
#ifndef LK_LOAD_H
#define LK_LOAD_H

#include "llmkit.h"
#include "base/base.h"

/* LOAD_OPENAI: /chat/completions; LOAD_COMPLETIONS: the legacy /completions with the messages'
 * text joined into one prompt (no chat template or output parser on the server's side);
 * LOAD_ANTHROPIC: /messages. */
typedef enum load_api { LOAD_OPENAI, LOAD_ANTHROPIC, LOAD_COMPLETIONS } load_api;

typedef enum load_mode {
    LOAD_CLOSED,                  /* value: concurrency */
    LOAD_RATE,                    /* value: requests per second, evenly spaced */
    LOAD_POISSON,                 /* value: requests per second, exponential gaps (seeded) */
} load_mode;

/* Service-level objectives; 0 means "not set". A request meets them when it succeeded and each
 * set one holds: ttft <= ttft_s, tpot <= tpot_s (a request with one output token has no tpot
 * and meets it), its largest inter-token gap <= itl_s, e2e <= e2e_s. */
typedef struct load_slo {
    double ttft_s, tpot_s, itl_s, e2e_s;
} load_slo;

/* Parse "ttft=500ms,tpot=100ms": metrics ttft, tpot, itl, e2e (or e2el); values with the unit
 * us, ms or s (a bare number is milliseconds, as vLLM's benchmark takes them), > 0. Returns 0,
 * or LK_EINVAL with a message naming the bad item. */
int load_parse_slo(const char *spec, load_slo *out, lk_error *err);

/* Prompts: each the JSON text of a "messages" array, sent as is. */
typedef struct load_prompts {
    char **messages;
    size_t n;
    long long *approx_tokens;     /* [n] words in the prompt's text, a rough token count */
} load_prompts;

/* n synthetic prompts of about n_tokens tokens each: common short English words (most are one
 * token in every BPE vocabulary), drawn from a seeded generator, so that prompts differ from one
 * another (no shared prefix for a cache to reuse) and are the same for the same seed. */
void load_prompts_synthetic(load_prompts *out, int n_tokens, size_t n, uint64_t seed);
/* A JSONL file: one object per non-blank line with a "prompt" string (sent as one user message)
 * or a "messages" array (sent as it is). Errors name the file and line ("FILE:3: ..."); a file
 * with no prompt is an error too. */
int load_prompts_file(load_prompts *out, const char *path, lk_error *err);
void load_prompts_free(load_prompts *p);

typedef struct load_progress {
    size_t done, failed;          /* requests finished (failed included), failed */
    size_t total;                 /* requests in the point (0 with a duration) */
    double elapsed_s, duration_s; /* duration_s: 0 with a request count */
    size_t in_flight;
} load_progress;
typedef void (*load_progress_cb)(const load_progress *p, void *ud);

typedef struct load_config {
    const char *url;              /* the API base, ".../v1": POST url/chat/completions or url/messages */
    const char *model;
    load_api api;
    const char *api_key;          /* NULL: no key sent (Authorization: Bearer / x-api-key) */
    const load_prompts *prompts;  /* request i of a point uses prompt i mod n */
    int max_tokens;               /* > 0 */
    bool ignore_eos;              /* send "ignore_eos": true (vLLM, llama.cpp) */
    int n_requests;               /* per point; or, when 0, ... */
    double duration_s;            /* ... start requests for this long */
    int max_in_flight;            /* open loop: the cap (0: 256) */
    uint64_t seed;                /* Poisson arrivals */
    double timeout_s;             /* one request, whole (0: 600) */
    double connect_timeout_s;     /* 0: 10 */
    load_slo slo;
    load_progress_cb progress;    /* called at most ~10 times a second and at the end; may be NULL */
    void *progress_ud;
} load_config;

/* One request. Times are seconds from the start of its point. */
typedef struct load_request {
    int index;                    /* order of scheduling within the point */
    int prompt;                   /* index into the prompts */
    double t_sched;               /* when it was due (closed loop: when it was started) */
    double t_start;               /* when it was handed to libcurl; -1 if dropped */
    double t_end;                 /* when it ended (or was dropped) */
    bool ok;
    long status;                  /* HTTP status, 0 when none came */
    char *error;                  /* why it failed (NULL when ok) */
    long long output_tokens;      /* from the usage the server reported, else the delta count */
    long long prompt_tokens;      /* from the usage (-1 when not reported) */
    bool usage_reported;
    size_t n_deltas;              /* content deltas received */
    double *delta_t;              /* [n_deltas] arrival times of the content deltas */
    double ttft_s, tpot_s, e2e_s, max_itl_s;   /* NAN where undefined */
    bool meets_slo;
} load_request;

/* Summary statistics of one metric over a point's successful requests. */
typedef struct load_stats {
    size_t n;
    double mean, p50, p90, p95, p99;   /* NAN when n == 0 */
} load_stats;

typedef struct load_point {
    load_mode mode;
    double value;                 /* concurrency, or requests per second */
    load_request *reqs;
    size_t n_reqs;
    size_t completed, failed, dropped;  /* dropped (over the in-flight cap) are among failed */
    size_t max_in_flight;         /* the most requests in flight at once, as observed */
    double wall_s;                /* first request sent to last one ended */
    long long output_tokens;      /* of the completed requests */
    double req_per_s, out_tok_per_s, goodput_per_s;
    size_t good;                  /* completed requests meeting every SLO */
    load_stats ttft, tpot, itl, e2e;
} load_point;

/* Check that the server behind c->url accepts connections (a TCP, or TLS, connect only).
 * Returns 0, or LK_EIO "URL: cannot connect: <why>". */
int load_check_server(const load_config *c, lk_error *err);

/* Send n requests one after another, not measured (warm-up). Returns 0 when at least one
 * succeeded, else LK_EREMOTE / LK_EIO with the first failure's message. */
int load_warmup(const load_config *c, int n, lk_error *err);

/* Run one point. Returns 0 with *out filled (failed requests are results, not errors), or an
 * error when the point could not run at all (bad arguments, libcurl could not start).
 * Free *out with load_point_free. */
int load_run_point(const load_config *c, load_mode mode, double value, load_point *out, lk_error *err);
void load_point_free(load_point *p);

/* Compute each request's derived metrics (ttft, tpot, e2e, largest gap, SLO) and the point's
 * totals and statistics from the request records and wall_s. load_run_point calls it; exposed
 * for tests and for recomputing with other SLOs. */
void load_point_summarize(load_point *p, const load_slo *slo);

/* The p-th percentile (0..100) of sorted[0..n): linear interpolation between closest ranks,
 * h = (n - 1) p / 100, x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]) (NumPy's default,
 * Hyndman & Fan type 7). NAN when n == 0. */
double load_percentile(const double *sorted, size_t n, double p);

/* Statistics of v[0..n) (sorted in place). */
void load_stats_of(double *v, size_t n, load_stats *out);

/* The first n arrival times (seconds from the start) of an open-loop point at rate per second:
 * LOAD_RATE gives i / rate; LOAD_POISSON the first at 0, then exponential gaps of mean 1 / rate
 * from a generator seeded with seed (the same times for the same seed). */
void load_arrivals(load_mode mode, double rate, uint64_t seed, size_t n, double *out);

/* The results as one JSON document: the configuration (never the key), and per point its
 * summary and every request. */
void load_json(const load_config *c, const load_point *pts, size_t n_pts, lk_buf *out);

const char *load_mode_name(load_mode m);   /* "concurrency", "rate", "poisson" */

#endif

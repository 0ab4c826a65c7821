/* test_load.c — the load tester of src/load/load.h against the loopback server of fakeapi.h:
 * closed and open loops keep their promises (in flight, schedule, drops), the metrics come out
 * of streams whose timing the test controls, failures are counted and kept out of the latency
 * statistics, goodput follows the SLOs, the Anthropic format works, and the API key never
 * appears in any output. Timing assertions are loose (a busy 2-core machine): they check order
 * and counts, and durations only to within generous bounds. */
#include "testutil.h"
#include "fakeapi.h"
#include "load/load.h"

#include <jansson.h>
#include <math.h>

/* ---- helpers ---- */

static load_prompts prompts;

static int setup(void **state) {
    load_prompts_synthetic(&prompts, 6, 8, 7);
    return 0;
}

static int teardown(void **state) {
    load_prompts_free(&prompts);
    return 0;
}

static load_config config_for(fake_server *s, char *url, size_t cap) {
    snprintf(url, cap, "%s/v1", fake_base(s));
    load_config c = { .url = url, .model = "echo", .api = LOAD_OPENAI, .prompts = &prompts, .max_tokens = 4,
                      .n_requests = 4, .seed = 1, .timeout_s = 20 };
    return c;
}

/* An OpenAI chat chunk event with this delta content, padded with spaces to exactly len bytes
 * (len 0: no padding). */
static void content_event(lk_buf *b, const char *text, size_t len) {
    size_t at = b->len;
    lk_buf_puts(b, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
    lk_buf_puts(b, text);
    lk_buf_puts(b, "\"},\"finish_reason\":null}]}");
    while (len && b->len - at < len - 2) lk_buf_putc(b, ' ');
    lk_buf_puts(b, "\n\n");
}

static void tail_events(lk_buf *b, int usage_tokens) {
    lk_buf_puts(b, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n");
    if (usage_tokens >= 0)
        lk_buf_printf(b, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":%d}}\n\n",
                      usage_tokens);
    lk_buf_puts(b, "data: [DONE]\n\n");
}

/* A complete quick stream of n deltas, with usage. */
static void push_stream(fake_server *s, int n, double first_byte_delay_s) {
    lk_buf b = {0};
    for (int i = 0; i < n; i++) content_event(&b, " w", 0);
    tail_events(&b, n);
    fake_reply r = { .content_type = "text/event-stream", .body = b.data, .chunked = true,
                     .first_byte_delay_s = first_byte_delay_s };
    fake_push(s, &r);
    lk_buf_free(&b);
}

static bool contains(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

/* ---- statistics ---- */

/* Percentiles interpolate linearly between closest ranks, as NumPy's default does. */
static void test_percentile_linear_interpolation(void **state) {
    const double a[4] = { 1, 2, 3, 4 };
    assert_float_equal(load_percentile(a, 4, 50), 2.5, 1e-12);
    assert_float_equal(load_percentile(a, 4, 90), 3.7, 1e-12);   /* h = 2.7 */
    assert_float_equal(load_percentile(a, 4, 0), 1, 0);
    assert_float_equal(load_percentile(a, 4, 100), 4, 0);
    const double b[5] = { 15, 20, 35, 40, 50 };
    assert_float_equal(load_percentile(b, 5, 40), 29, 1e-12);    /* numpy.percentile(b, 40) */
    assert_float_equal(load_percentile(b, 5, 95), 48, 1e-12);    /* h = 3.8: 40 + 0.8 * 10 */
    assert_float_equal(load_percentile(b, 5, 99), 49.6, 1e-12);
    const double one[1] = { 7 };
    assert_float_equal(load_percentile(one, 1, 99), 7, 0);
    assert_true(isnan(load_percentile(a, 0, 50)));
}

/* load_stats_of sorts its input and gives the mean and the five percentiles. */
static void test_stats_of_unsorted(void **state) {
    double v[10];
    for (int i = 0; i < 10; i++) v[i] = (double)((i * 7) % 10) + 1; /* 1..10 shuffled */
    load_stats s;
    load_stats_of(v, 10, &s);
    assert_int_equal(s.n, 10);
    assert_float_equal(s.mean, 5.5, 1e-12);
    assert_float_equal(s.p50, 5.5, 1e-12);
    assert_float_equal(s.p90, 9.1, 1e-12);
    assert_float_equal(s.p95, 9.55, 1e-12);
    assert_float_equal(s.p99, 9.91, 1e-12);
    load_stats_of(v, 0, &s);
    assert_int_equal(s.n, 0);
    assert_true(isnan(s.mean) && isnan(s.p99));
}

/* SLO lists: units us, ms, s, bare milliseconds; a bad item is named in the message. */
static void test_slo_parse(void **state) {
    load_slo s;
    lk_error err = {0};
    assert_int_equal(load_parse_slo("ttft=500ms,tpot=100ms", &s, &err), 0);
    assert_float_equal(s.ttft_s, 0.5, 1e-12);
    assert_float_equal(s.tpot_s, 0.1, 1e-12);
    assert_true(s.itl_s == 0 && s.e2e_s == 0);
    assert_int_equal(load_parse_slo("e2e=2s,itl=250,ttft=1500us", &s, &err), 0);
    assert_float_equal(s.e2e_s, 2, 1e-12);
    assert_float_equal(s.itl_s, 0.25, 1e-12);
    assert_float_equal(s.ttft_s, 0.0015, 1e-12);
    assert_int_equal(load_parse_slo("e2el=3s", &s, &err), 0);
    assert_float_equal(s.e2e_s, 3, 1e-12);

    assert_int_equal(load_parse_slo("ttft=500ms,tpot=fast", &s, &err), LK_EINVAL);
    assert_true(contains(err.msg, "tpot=fast"));
    assert_int_equal(load_parse_slo("latency=5ms", &s, &err), LK_EINVAL);
    assert_true(contains(err.msg, "unknown metric 'latency'"));
    assert_int_equal(load_parse_slo("ttft", &s, &err), LK_EINVAL);
    assert_true(contains(err.msg, "'ttft'"));
    assert_int_equal(load_parse_slo("ttft=-5ms", &s, &err), LK_EINVAL);
    assert_int_equal(load_parse_slo("ttft=0", &s, &err), LK_EINVAL);
    assert_int_equal(load_parse_slo("ttft=5ms,,tpot=1ms", &s, &err), LK_EINVAL);
}

/* A request record with deltas at the given times (seconds from the point's start). */
static void make_req(load_request *r, bool ok, double t_start, double t_end, const double *deltas, size_t n,
                     long long usage_tokens) {
    memset(r, 0, sizeof *r);
    r->ok = ok;
    r->t_start = t_start;
    r->t_end = t_end;
    r->prompt_tokens = -1;
    r->delta_t = lk_xmalloc((n + 1) * sizeof *r->delta_t);
    memcpy(r->delta_t, deltas, n * sizeof *deltas);
    r->n_deltas = n;
    r->output_tokens = usage_tokens >= 0 ? usage_tokens : (long long)n;
    r->usage_reported = usage_tokens >= 0;
    if (!ok) r->error = lk_xstrdup("HTTP 500: boom");
}

/* Per request: ttft from the first delta, tpot = (e2e - ttft) / (tokens - 1), itl between deltas;
 * per point: throughput over the wall time, goodput counts requests meeting every SLO, and
 * failed requests stay out of every statistic. */
static void test_summarize_metrics_and_goodput(void **state) {
    load_point p = { .mode = LOAD_CLOSED, .value = 2, .wall_s = 2.0 };
    p.n_reqs = 4;
    p.reqs = lk_xcalloc(4, sizeof *p.reqs);
    const double d0[3] = { 0.2, 0.3, 0.5 };          /* ttft 0.2, gaps .1 .2 */
    const double d1[5] = { 0.6, 0.65, 0.7, 0.75, 0.8 }; /* ttft 0.5 from 0.1, gaps .05 */
    const double d2[1] = { 1.2 };                       /* one token: no tpot, no itl */
    const double d3[2] = { 0.1, 9.0 };                  /* failed: ignored */
    make_req(&p.reqs[0], true, 0.0, 0.5, d0, 3, -1);    /* tokens counted from deltas: 3 */
    make_req(&p.reqs[1], true, 0.1, 0.9, d1, 5, 9);     /* the server said 9 tokens */
    make_req(&p.reqs[2], true, 1.0, 1.3, d2, 1, 1);
    make_req(&p.reqs[3], false, 0.0, 9.5, d3, 2, -1);
    load_slo slo = { .ttft_s = 0.3, .tpot_s = 0.12 };
    load_point_summarize(&p, &slo);

    assert_int_equal(p.completed, 3);
    assert_int_equal(p.failed, 1);
    assert_int_equal(p.output_tokens, 3 + 9 + 1);
    assert_float_equal(p.req_per_s, 1.5, 1e-12);
    assert_float_equal(p.out_tok_per_s, 6.5, 1e-12);

    assert_float_equal(p.reqs[0].ttft_s, 0.2, 1e-12);
    assert_float_equal(p.reqs[0].e2e_s, 0.5, 1e-12);
    assert_float_equal(p.reqs[0].tpot_s, (0.5 - 0.2) / 2, 1e-12);
    assert_float_equal(p.reqs[0].max_itl_s, 0.2, 1e-12);
    assert_float_equal(p.reqs[1].ttft_s, 0.5, 1e-12);
    assert_float_equal(p.reqs[1].tpot_s, (0.8 - 0.5) / 8, 1e-12); /* usage tokens, not deltas */
    assert_true(isnan(p.reqs[2].tpot_s) && isnan(p.reqs[2].max_itl_s));
    assert_true(isnan(p.reqs[3].ttft_s));

    /* request 0: ttft .2 <= .3, tpot .15 > .12: misses; request 1: ttft .5 misses; request 2:
     * ttft .2, no tpot: meets */
    assert_false(p.reqs[0].meets_slo);
    assert_false(p.reqs[1].meets_slo);
    assert_true(p.reqs[2].meets_slo);
    assert_false(p.reqs[3].meets_slo);
    assert_int_equal(p.good, 1);
    assert_float_equal(p.goodput_per_s, 0.5, 1e-12);

    assert_int_equal(p.ttft.n, 3);
    assert_float_equal(p.ttft.p50, 0.2, 1e-12);          /* {0.2, 0.2, 0.5} */
    assert_float_equal(p.ttft.mean, 0.3, 1e-12);
    assert_int_equal(p.tpot.n, 2);
    assert_int_equal(p.itl.n, 2 + 4);                     /* the failed request's gap is not here */
    assert_float_equal(p.itl.p50, 0.05, 1e-9);
    assert_float_equal(p.itl.p99, 0.195, 1e-9);    /* {.05 x4, .1, .2}: h = 4.95 */
    assert_int_equal(p.e2e.n, 3);
    assert_float_equal(p.e2e.p50, 0.5, 1e-12);            /* {0.3, 0.5, 0.8} */

    /* no SLO: every completed request is good */
    load_point_summarize(&p, NULL);
    assert_int_equal(p.good, 3);
    load_point_free(&p);
}

/* ---- arrivals ---- */

/* Fixed spacing is i / rate; Poisson arrivals start at 0, are the same for the same seed,
 * differ for another, and their gaps have mean 1 / rate and a coefficient of variation near 1. */
static void test_arrivals(void **state) {
    double t[5];
    load_arrivals(LOAD_RATE, 4, 1, 5, t);
    for (int i = 0; i < 5; i++) assert_float_equal(t[i], i * 0.25, 1e-12);

    enum { N = 20000 };
    double *a = lk_xmalloc(N * sizeof *a), *b = lk_xmalloc(N * sizeof *b), *c = lk_xmalloc(N * sizeof *c);
    load_arrivals(LOAD_POISSON, 4, 42, N, a);
    load_arrivals(LOAD_POISSON, 4, 42, N, b);
    load_arrivals(LOAD_POISSON, 4, 43, N, c);
    assert_memory_equal(a, b, N * sizeof *a);
    assert_true(memcmp(a, c, N * sizeof *a) != 0);
    assert_float_equal(a[0], 0, 0);
    double sum = 0, sq = 0;
    for (int i = 1; i < N; i++) {
        double g = a[i] - a[i - 1];
        assert_true(g >= 0);
        sum += g;
        sq += g * g;
    }
    double mean = sum / (N - 1), sd = sqrt(sq / (N - 1) - mean * mean);
    assert_true(fabs(mean - 0.25) < 0.25 * 0.05);
    assert_true(fabs(sd / mean - 1) < 0.1);
    free(a);
    free(b);
    free(c);
}

/* ---- prompts ---- */

static const char *write_file(int slot, const char *name, const char *text) {
    const char *path = tu_path(slot, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Synthetic prompts: about N words, reproducible from the seed, different from one another. */
static void test_synthetic_prompts(void **state) {
    load_prompts a, b;
    load_prompts_synthetic(&a, 50, 4, 9);
    load_prompts_synthetic(&b, 50, 4, 9);
    assert_int_equal(a.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(a.messages[i], b.messages[i]);
        assert_int_equal(a.approx_tokens[i], 50);
        assert_true(contains(a.messages[i], "\"role\":\"user\""));
    }
    assert_string_not_equal(a.messages[0], a.messages[1]);
    load_prompts_free(&a);
    load_prompts_free(&b);
}

/* A JSONL file takes "prompt" or "messages" lines; errors name the file and the line. */
static void test_prompts_file(void **state) {
    load_prompts p;
    lk_error err = {0};
    const char *ok = write_file(0, "ok.jsonl", "{\"prompt\": \"one two three\"}\n\n"
                                "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"},"
                                " {\"role\": \"user\", \"content\": \"hi there\"}]}\n");
    assert_int_equal(load_prompts_file(&p, ok, &err), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.messages[0], "[{\"role\":\"user\",\"content\":\"one two three\"}]");
    assert_int_equal(p.approx_tokens[0], 3);
    assert_true(contains(p.messages[1], "be brief"));
    assert_int_equal(p.approx_tokens[1], 4);
    load_prompts_free(&p);

    const char *empty = write_file(1, "empty.jsonl", "");
    assert_int_equal(load_prompts_file(&p, empty, &err), LK_EINVAL);
    assert_true(contains(err.msg, "empty.jsonl: no prompts: the file is empty"));
    const char *blank = write_file(2, "blank.jsonl", "\n  \n\n");
    assert_int_equal(load_prompts_file(&p, blank, &err), LK_EINVAL);
    assert_true(contains(err.msg, "blank.jsonl: no prompts: all 3 lines are blank"));
    const char *bad = write_file(3, "bad.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"\n");
    assert_int_equal(load_prompts_file(&p, bad, &err), LK_EFORMAT);
    assert_true(contains(err.msg, "bad.jsonl:2:"));
    const char *no = write_file(4, "no.jsonl", "{\"prompt\": \"a\"}\n\n{\"text\": \"b\"}\n");
    assert_int_equal(load_prompts_file(&p, no, &err), LK_EFORMAT);
    assert_true(contains(err.msg, "no.jsonl:3: no \"prompt\""));
    const char *e = write_file(5, "e.jsonl", "{\"prompt\": \"\"}\n");
    assert_int_equal(load_prompts_file(&p, e, &err), LK_EFORMAT);
    assert_true(contains(err.msg, "e.jsonl:1: \"prompt\" is empty"));
    const char *m = write_file(6, "m.jsonl", "{\"messages\": [{\"content\": \"x\"}]}\n");
    assert_int_equal(load_prompts_file(&p, m, &err), LK_EFORMAT);
    assert_true(contains(err.msg, "m.jsonl:1: messages[0]"));
    assert_int_equal(load_prompts_file(&p, tu_path(7, "missing.jsonl"), &err), LK_EIO);
    assert_true(contains(err.msg, "missing.jsonl"));
}

/* ---- closed loop ---- */

/* Concurrency 4 and 12 requests: 12 complete, the server sees 12 streamed chat requests, and
 * never more than 4 are in flight (by the library's count and by the requests' own times). */
static void test_closed_loop_concurrency(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_set_handler(s, fake_echo, NULL);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 12;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 4, &p, &err), 0);
    assert_int_equal(p.n_reqs, 12);
    assert_int_equal(p.completed, 12);
    assert_int_equal(p.failed, 0);
    assert_int_equal(fake_count(s), 12);
    assert_int_equal(p.max_in_flight, 4);
    for (size_t i = 0; i < p.n_reqs; i++) {
        int overlap = 0;
        for (size_t k = 0; k < p.n_reqs; k++)
            overlap += p.reqs[k].t_start <= p.reqs[i].t_start && p.reqs[i].t_start < p.reqs[k].t_end;
        assert_true(overlap <= 4);
        /* the echo model answers "echo:" and the prompt's words, cut at max_tokens = 4 */
        assert_true(p.reqs[i].ok);
        assert_true(p.reqs[i].usage_reported);
        assert_int_equal(p.reqs[i].output_tokens, 4);
        assert_int_equal(p.reqs[i].n_deltas, 4);
        assert_true(p.reqs[i].prompt_tokens > 0);
        assert_true(p.reqs[i].ttft_s >= 0 && p.reqs[i].e2e_s >= p.reqs[i].ttft_s);
    }
    const fake_request *r = fake_get(s, 0);
    assert_string_equal(r->path, "/v1/chat/completions");
    assert_true(contains(r->body, "\"stream\":true"));
    assert_true(contains(r->body, "\"include_usage\":true"));
    assert_true(contains(r->body, "\"max_tokens\":4"));
    assert_true(contains(r->body, "\"model\":\"echo\""));
    assert_int_equal(p.ttft.n, 12);
    assert_int_equal(p.itl.n, 12 * 3);
    assert_true(p.req_per_s > 0 && p.out_tok_per_s > 0);
    assert_float_equal(p.out_tok_per_s, 4 * p.req_per_s, 1e-6);
    load_point_free(&p);
    fake_stop(s);
}

/* With a duration, requests start until it is over and those in flight then finish. */
static void test_closed_loop_duration(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_set_handler(s, fake_echo, NULL);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 0;
    c.duration_s = 0.3;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 2, &p, &err), 0);
    assert_true(p.n_reqs >= 2);
    assert_int_equal(p.completed, p.n_reqs);
    assert_true(p.wall_s >= 0.3);
    for (size_t i = 0; i < p.n_reqs; i++) assert_true(p.reqs[i].t_start < 0.3);
    assert_int_equal(fake_count(s), (int)p.n_reqs);
    load_point_free(&p);
    fake_stop(s);
}

/* ---- open loop ---- */

/* A fixed rate sends request i at i / rate: in order, never early, not much late. */
static void test_open_loop_fixed_spacing(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_set_handler(s, fake_echo, NULL);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 5;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_RATE, 10, &p, &err), 0);
    assert_int_equal(p.completed, 5);
    assert_int_equal(fake_count(s), 5);
    for (size_t i = 0; i < 5; i++) {
        const load_request *r = &p.reqs[i];
        assert_float_equal(r->t_sched, i * 0.1, 1e-9);
        assert_true(r->t_start >= r->t_sched - 1e-6);
        assert_true(r->t_start < r->t_sched + 0.25);
        if (i) assert_true(r->t_start > p.reqs[i - 1].t_start);
    }
    assert_true(p.wall_s >= 0.4);
    load_point_free(&p);
    fake_stop(s);
}

/* Open loop sends on schedule whatever the server is doing: with answers that take 0.3 s and
 * arrivals every 50 ms, all four requests are out before the first answer is back. */
static void test_open_loop_ignores_completions(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    for (int i = 0; i < 4; i++) push_stream(s, 2, 0.3);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 4;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_RATE, 20, &p, &err), 0);
    assert_int_equal(p.completed, 4);
    assert_true(p.reqs[3].t_start < p.reqs[0].t_end);
    assert_int_equal(p.max_in_flight, 4);
    load_point_free(&p);
    fake_stop(s);
}

/* Over the in-flight cap an arrival is dropped, and counts as a failure (not in the stats). */
static void test_open_loop_cap_drops(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    for (int i = 0; i < 2; i++) push_stream(s, 2, 0.4);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 5;
    c.max_in_flight = 2;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_RATE, 50, &p, &err), 0);
    assert_int_equal(p.n_reqs, 5);
    assert_int_equal(p.completed, 2);
    assert_int_equal(p.failed, 3);
    assert_int_equal(p.dropped, 3);
    assert_int_equal(p.max_in_flight, 2);
    assert_int_equal(fake_count(s), 2);
    for (size_t i = 2; i < 5; i++) {
        assert_false(p.reqs[i].ok);
        assert_true(contains(p.reqs[i].error, "dropped"));
    }
    assert_int_equal(p.ttft.n, 2);
    load_point_free(&p);
    fake_stop(s);
}

/* Poisson arrivals in a run follow load_arrivals for the seed. */
static void test_open_loop_poisson_schedule(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_set_handler(s, fake_echo, NULL);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 6;
    c.seed = 5;
    double want[6];
    load_arrivals(LOAD_POISSON, 40, 5, 6, want);
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_POISSON, 40, &p, &err), 0);
    assert_int_equal(p.completed, 6);
    for (int i = 0; i < 6; i++) {
        assert_float_equal(p.reqs[i].t_sched, want[i], 1e-12);
        assert_true(p.reqs[i].t_start >= want[i] - 1e-6);
    }
    load_point_free(&p);
    fake_stop(s);
}

/* ---- streams with known timing ---- */

/* Deltas 0.1 s apart after a 0.2 s first byte: ttft >= 0.2, every itl and the tpot near 0.1 (the
 * usage's 5 tokens over 4 gaps), e2e near ttft + 0.4. */
static void test_tpot_itl_from_timed_stream(void **state) {
    enum { L = 256 };
    lk_buf b = {0};
    for (int i = 0; i < 4; i++) content_event(&b, " tok", L);
    assert_int_equal(b.len, 4 * L);
    content_event(&b, " end", 0);
    tail_events(&b, 5);
    assert_true(b.len - 4 * L <= L); /* the last piece: the fifth delta and the end together */
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_reply r = { .content_type = "text/event-stream", .body = b.data, .chunked = true, .split = L,
                     .piece_delay_s = 0.1, .first_byte_delay_s = 0.2 };
    fake_push(s, &r);
    lk_buf_free(&b);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 1;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 1, &p, &err), 0);
    assert_int_equal(p.completed, 1);
    const load_request *q = &p.reqs[0];
    assert_int_equal(q->n_deltas, 5);
    assert_int_equal(q->output_tokens, 5);
    assert_true(q->usage_reported);
    assert_int_equal(q->prompt_tokens, 9);
    assert_true(q->ttft_s >= 0.19 && q->ttft_s < 1.5);
    for (size_t k = 1; k < 5; k++) {
        double g = q->delta_t[k] - q->delta_t[k - 1];
        assert_true(g >= 0.08 && g < 0.6);
    }
    assert_true(q->tpot_s >= 0.08 && q->tpot_s < 0.6);
    assert_true(q->e2e_s >= q->ttft_s + 0.35);
    assert_int_equal(p.itl.n, 4);
    assert_true(p.itl.p50 >= 0.08 && p.itl.p50 < 0.6);
    assert_float_equal(p.tpot.mean, q->tpot_s, 1e-12);
    load_point_free(&p);
    fake_stop(s);
}

/* A server that reports no usage: the output tokens are the content deltas. */
static void test_tokens_counted_without_usage(void **state) {
    lk_buf b = {0};
    for (int i = 0; i < 3; i++) content_event(&b, " a", 0);
    tail_events(&b, -1);
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_reply r = { .content_type = "text/event-stream", .body = b.data, .chunked = true };
    fake_push(s, &r);
    lk_buf_free(&b);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 1;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 1, &p, &err), 0);
    assert_int_equal(p.completed, 1);
    assert_false(p.reqs[0].usage_reported);
    assert_int_equal(p.reqs[0].output_tokens, 3);
    assert_int_equal(p.reqs[0].prompt_tokens, -1);
    load_point_free(&p);
    fake_stop(s);
}

/* ---- failures ---- */

/* A 500, a stream cut mid-way, a 200 that is not an event stream and a stream with an error
 * event are failures with their reasons; only the two good requests are in the statistics. */
static void test_failures_counted_not_measured(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_reply e500 = { .status = 500, .body = "{\"error\":{\"message\":\"the GPU caught fire\",\"type\":\"server_error\"}}" };
    fake_push(s, &e500);
    lk_buf b = {0};
    for (int i = 0; i < 6; i++) content_event(&b, " x", 0);
    tail_events(&b, 6);
    fake_reply cut = { .content_type = "text/event-stream", .body = b.data, .chunked = true, .cut_after = 150 };
    fake_push(s, &cut);
    lk_buf_free(&b);
    fake_reply json = { .body = "{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}" };
    fake_push(s, &json);
    fake_reply ev = { .content_type = "text/event-stream", .chunked = true,
                      .body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
                              "data: {\"error\":{\"message\":\"out of memory\"}}\n\n" };
    fake_push(s, &ev);
    push_stream(s, 3, 0);
    push_stream(s, 3, 0);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 6;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 1, &p, &err), 0);
    assert_int_equal(p.completed, 2);
    assert_int_equal(p.failed, 4);
    assert_int_equal(p.dropped, 0);
    assert_false(p.reqs[0].ok);
    assert_int_equal(p.reqs[0].status, 500);
    assert_true(contains(p.reqs[0].error, "HTTP 500: the GPU caught fire"));
    assert_false(p.reqs[1].ok);
    assert_int_equal(p.reqs[1].status, 200);
    assert_true(contains(p.reqs[1].error, "cut off"));
    assert_false(p.reqs[2].ok);
    assert_true(contains(p.reqs[2].error, "not an event stream"));
    assert_false(p.reqs[3].ok);
    assert_true(contains(p.reqs[3].error, "out of memory"));
    assert_true(p.reqs[4].ok && p.reqs[5].ok);
    assert_int_equal(p.ttft.n, 2);
    assert_int_equal(p.e2e.n, 2);
    assert_int_equal(p.tpot.n, 2);
    assert_int_equal(p.itl.n, 4);
    assert_int_equal(p.output_tokens, 6);
    load_point_free(&p);
    fake_stop(s);
}

/* A server that refuses connections is reported by load_check_server; requests sent anyway are
 * failures that name the URL, not a crash. */
static void test_connection_refused(void **state) {
    load_config c = { .url = "http://127.0.0.1:1/v1", .model = "m", .prompts = &prompts, .max_tokens = 4,
                      .n_requests = 2, .connect_timeout_s = 5 };
    lk_error err = {0};
    assert_int_equal(load_check_server(&c, &err), LK_EIO);
    assert_true(contains(err.msg, "http://127.0.0.1:1/v1: cannot connect"));
    load_point p;
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 2, &p, &err), 0);
    assert_int_equal(p.failed, 2);
    assert_int_equal(p.reqs[0].status, 0);
    assert_true(contains(p.reqs[0].error, "http://127.0.0.1:1/v1/chat/completions"));
    load_point_free(&p);
    assert_int_equal(load_warmup(&c, 1, &err), LK_EIO);
    assert_true(contains(err.msg, "warm-up"));
    c.url = "ftp://127.0.0.1/v1";
    assert_int_equal(load_check_server(&c, &err), LK_EINVAL);
}

/* ---- Anthropic ---- */

/* --api anthropic: POST /v1/messages with x-api-key and anthropic-version, the system message
 * moved to "system", text deltas timed, output tokens from message_delta's usage. */
static void test_anthropic_mode(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_echo_opts eo = { .key = "sk-ant-right-key", .split = 5 };
    fake_set_handler(s, fake_echo, &eo);
    load_prompts pr;
    lk_error err = {0};
    const char *f = write_file(0, "anth.jsonl", "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"},"
                               " {\"role\": \"user\", \"content\": \"alpha beta gamma delta\"}]}\n");
    assert_int_equal(load_prompts_file(&pr, f, &err), 0);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.api = LOAD_ANTHROPIC;
    c.api_key = "sk-ant-right-key";
    c.prompts = &pr;
    c.max_tokens = 16;
    c.n_requests = 3;
    load_point p;
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 2, &p, &err), 0);
    assert_int_equal(p.completed, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(p.reqs[i].usage_reported);
        assert_int_equal(p.reqs[i].output_tokens, 5); /* "echo:" and four words */
        assert_int_equal(p.reqs[i].n_deltas, 5);
        assert_true(p.reqs[i].prompt_tokens > 0);
    }
    assert_int_equal(fake_count(s), 3);
    const fake_request *r = fake_get(s, 0);
    assert_string_equal(r->path, "/v1/messages");
    char buf[128];
    assert_string_equal(fake_header(s, 0, "x-api-key", buf, sizeof buf), "sk-ant-right-key");
    assert_string_equal(fake_header(s, 0, "anthropic-version", buf, sizeof buf), "2023-06-01");
    assert_null(fake_header(s, 0, "authorization", buf, sizeof buf));
    assert_true(contains(r->body, "\"system\":\"be brief\""));
    assert_false(contains(r->body, "\"role\":\"system\""));
    assert_true(contains(r->body, "\"stream\":true"));
    load_point_free(&p);
    load_prompts_free(&pr);
    fake_stop(s);
}

/* ---- the key ---- */

/* The key goes in the Authorization header and nowhere else: not in request errors (even when
 * a server quotes a wrong key back), not in the JSON results. */
static void test_key_never_in_output(void **state) {
    static const char key[] = "sk-live-SECRET-0123456789";
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_echo_opts eo = { .key = "sk-some-other-key" };
    fake_set_handler(s, fake_echo, &eo);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.model = "leaky"; /* the echo server then quotes the wrong key whole in its 401 */
    c.api_key = key;
    c.n_requests = 2;
    load_point p;
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 1, &p, &err), 0);
    assert_int_equal(p.failed, 2);
    char buf[128];
    assert_string_equal(fake_header(s, 0, "authorization", buf, sizeof buf), "Bearer sk-live-SECRET-0123456789");
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(p.reqs[i].status, 401);
        assert_true(contains(p.reqs[i].error, "HTTP 401"));
        assert_true(contains(p.reqs[i].error, "[redacted]"));
        assert_false(contains(p.reqs[i].error, key));
    }
    lk_buf j = {0};
    load_json(&c, &p, 1, &j);
    assert_false(contains(j.data, key));
    assert_false(contains(j.data, "SECRET"));
    lk_buf_free(&j);
    load_point_free(&p);

    c.api = LOAD_ANTHROPIC;
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 1, &p, &err), 0);
    assert_int_equal(p.failed, 2);
    assert_false(contains(p.reqs[0].error, key));
    assert_int_equal(load_warmup(&c, 1, &err), LK_EREMOTE);
    assert_false(contains(err.msg, key));
    load_point_free(&p);
    fake_stop(s);
}

/* The JSON document parses and has every point and every request. */
static void test_json_shape(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_set_handler(s, fake_echo, NULL);
    char url[128];
    load_config c = config_for(s, url, sizeof url);
    c.n_requests = 3;
    c.slo.ttft_s = 10;
    load_point pts[2];
    lk_error err = {0};
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 1, &pts[0], &err), 0);
    assert_int_equal(load_run_point(&c, LOAD_CLOSED, 2, &pts[1], &err), 0);
    lk_buf j = {0};
    load_json(&c, pts, 2, &j);
    json_error_t je;
    json_t *o = json_loads(j.data, 0, &je);
    assert_non_null(o);
    json_t *ps = json_object_get(o, "points");
    assert_int_equal(json_array_size(ps), 2);
    json_t *p1 = json_array_get(ps, 1);
    assert_int_equal(json_integer_value(json_object_get(p1, "completed")), 3);
    assert_int_equal(json_integer_value(json_object_get(p1, "good")), 3);
    assert_int_equal(json_array_size(json_object_get(p1, "requests_detail")), 3);
    assert_true(json_is_real(json_object_get(json_object_get(p1, "ttft_s"), "p95")));
    assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(p1, "requests_detail"), 0), "itl_s")), 3);
    json_decref(o);
    lk_buf_free(&j);
    load_point_free(&pts[0]);
    load_point_free(&pts[1]);
    fake_stop(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_linear_interpolation),
        cmocka_unit_test(test_stats_of_unsorted),
        cmocka_unit_test(test_slo_parse),
        cmocka_unit_test(test_summarize_metrics_and_goodput),
        cmocka_unit_test(test_arrivals),
        cmocka_unit_test(test_synthetic_prompts),
        cmocka_unit_test(test_prompts_file),
        cmocka_unit_test(test_closed_loop_concurrency),
        cmocka_unit_test(test_closed_loop_duration),
        cmocka_unit_test(test_open_loop_fixed_spacing),
        cmocka_unit_test(test_open_loop_ignores_completions),
        cmocka_unit_test(test_open_loop_cap_drops),
        cmocka_unit_test(test_open_loop_poisson_schedule),
        cmocka_unit_test(test_tpot_itl_from_timed_stream),
        cmocka_unit_test(test_tokens_counted_without_usage),
        cmocka_unit_test(test_failures_counted_not_measured),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_anthropic_mode),
        cmocka_unit_test(test_key_never_in_output),
        cmocka_unit_test(test_json_shape),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* metrics.c — /metrics in the Prometheus text format (version 0.0.4).
 *
 * The server counts requests by endpoint and status and keeps histograms of time to first
 * token, time per output token and end-to-end latency of generations; tokens are counted per
 * model; running and waiting requests, KV cache use and the prefix cache's hit rate come from
 * each model's lk_model_stats_get (a model that does not report running requests shows the
 * server's own count of its calls in flight). */
#include "server/srv.h"

static const double ttft_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
static const double tpot_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
static const double e2e_bounds[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600 };

static void hist_init(srv_hist *h, const double *bounds, int n) {
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n = n;
}

static void hist_add(srv_hist *h, double v) {
    int i = 0;
    while (i < h->n && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void srv_metrics_init(srv_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    hist_init(&m->ttft, ttft_bounds, (int)LK_ARRAY_LEN(ttft_bounds));
    hist_init(&m->tpot, tpot_bounds, (int)LK_ARRAY_LEN(tpot_bounds));
    hist_init(&m->e2e, e2e_bounds, (int)LK_ARRAY_LEN(e2e_bounds));
}

void srv_metrics_free(srv_metrics *m) {
    pthread_mutex_destroy(&m->mu);
}

void srv_metrics_request(srv_metrics *m, int ep, int status) {
    if (ep < 0 || ep >= SRV_EP_N || status < 100 || status >= 600) return;
    __atomic_add_fetch(&m->requests[ep][status], 1, __ATOMIC_RELAXED);
}

void srv_metrics_generation(srv_metrics *m, double ttft, double tpot, double e2e) {
    pthread_mutex_lock(&m->mu);
    if (ttft >= 0) hist_add(&m->ttft, ttft);
    if (tpot >= 0) hist_add(&m->tpot, tpot);
    hist_add(&m->e2e, e2e);
    pthread_mutex_unlock(&m->mu);
}

/* A label value: backslash, double quote and newline escaped. */
static void label(lk_buf *b, const char *v) {
    for (; *v; v++) {
        if (*v == '\\') lk_buf_puts(b, "\\\\");
        else if (*v == '"') lk_buf_puts(b, "\\\"");
        else if (*v == '\n') lk_buf_puts(b, "\\n");
        else lk_buf_putc(b, *v);
    }
}

static void head(lk_buf *b, const char *name, const char *type, const char *help) {
    lk_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist_text(lk_buf *b, const char *name, const char *help, const srv_hist *h) {
    head(b, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < h->n; i++) {
        cum += h->counts[i];
        lk_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->n];
    lk_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    lk_buf_printf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

/* One gauge or counter line per model. */
static void per_model(lk_buf *b, srv_server *s, const lk_model_stats *st, const char *name, const char *type,
                      const char *help, int which) {
    head(b, name, type, help);
    for (size_t i = 0; i < s->n_models; i++) {
        const srv_model *m = &s->models[i];
        const lk_model_stats *t = &st[i];
        lk_buf_printf(b, "%s{model=\"", name);
        label(b, m->name);
        lk_buf_puts(b, "\"} ");
        switch (which) {
        case 0: lk_buf_printf(b, "%llu", (unsigned long long)__atomic_load_n(&m->prompt_tokens, __ATOMIC_RELAXED)); break;
        case 1: lk_buf_printf(b, "%llu", (unsigned long long)__atomic_load_n(&m->cached_tokens, __ATOMIC_RELAXED)); break;
        case 2: lk_buf_printf(b, "%llu", (unsigned long long)__atomic_load_n(&m->generated_tokens, __ATOMIC_RELAXED)); break;
        case 3: { /* running: the model's count when it keeps one, else the server's */
            int in = __atomic_load_n(&m->in_flight, __ATOMIC_RELAXED);
            lk_buf_printf(b, "%d", t->kv_total > 0 ? t->running : in);
            break;
        }
        case 4: lk_buf_printf(b, "%d", t->waiting); break;
        case 5: lk_buf_printf(b, "%d", t->kv_used); break;
        case 6: lk_buf_printf(b, "%d", t->kv_total); break;
        case 7: lk_buf_printf(b, "%.6g", t->kv_total > 0 ? (double)t->kv_used / t->kv_total : 0.0); break;
        case 8: lk_buf_printf(b, "%llu", (unsigned long long)t->prefix_lookups); break;
        case 9: lk_buf_printf(b, "%llu", (unsigned long long)t->prefix_hits); break;
        case 10: lk_buf_printf(b, "%.6g", t->prefix_lookups ? (double)t->prefix_hits / t->prefix_lookups : 0.0); break;
        case 11: lk_buf_printf(b, "%llu", (unsigned long long)t->steps); break;
        case 12: lk_buf_printf(b, "%llu", (unsigned long long)t->requests); break;
        }
        lk_buf_putc(b, '\n');
    }
}

void srv_metrics_text(srv_server *s, lk_buf *out) {
    srv_metrics *m = &s->metrics;
    head(out, "llmkit_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
    for (int ep = 0; ep < SRV_EP_N; ep++)
        for (int st = 100; st < 600; st++) {
            uint64_t n = __atomic_load_n(&m->requests[ep][st], __ATOMIC_RELAXED);
            if (n)
                lk_buf_printf(out, "llmkit_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n", srv_endpoint_name(ep),
                              st, (unsigned long long)n);
        }
    head(out, "llmkit_http_requests_in_flight", "gauge", "HTTP requests being answered now.");
    lk_buf_printf(out, "llmkit_http_requests_in_flight %d\n", srv_in_flight(s));

    lk_model_stats *st = lk_xcalloc(s->n_models ? s->n_models : 1, sizeof *st);
    for (size_t i = 0; i < s->n_models; i++) lk_model_stats_get(s->models[i].m, &st[i]);
    per_model(out, s, st, "llmkit_prompt_tokens_total", "counter", "Prompt tokens of finished requests, cached ones included.", 0);
    per_model(out, s, st, "llmkit_cached_prompt_tokens_total", "counter", "Prompt tokens read from the prefix cache.", 1);
    per_model(out, s, st, "llmkit_generation_tokens_total", "counter", "Tokens generated.", 2);
    per_model(out, s, st, "llmkit_requests_running", "gauge", "Requests being decoded now.", 3);
    per_model(out, s, st, "llmkit_requests_waiting", "gauge", "Requests waiting for a slot.", 4);
    per_model(out, s, st, "llmkit_kv_cache_used_cells", "gauge", "KV cache cells in use (sequences and prefix cache).", 5);
    per_model(out, s, st, "llmkit_kv_cache_cells", "gauge", "KV cache cells in all.", 6);
    per_model(out, s, st, "llmkit_kv_cache_usage_ratio", "gauge", "KV cache cells in use over cells in all (0 when unknown).", 7);
    per_model(out, s, st, "llmkit_prefix_cache_lookups_total", "counter", "Requests that looked for a cached prompt prefix.", 8);
    per_model(out, s, st, "llmkit_prefix_cache_hits_total", "counter", "Requests that found a cached prompt prefix.", 9);
    per_model(out, s, st, "llmkit_prefix_cache_hit_rate", "gauge", "Prefix cache hits over lookups (0 before any lookup).", 10);
    per_model(out, s, st, "llmkit_model_steps_total", "counter", "Forward passes of the model (batched).", 11);
    per_model(out, s, st, "llmkit_model_calls_total", "counter", "Calls the model finished.", 12);
    free(st);

    pthread_mutex_lock(&m->mu);
    srv_hist ttft = m->ttft, tpot = m->tpot, e2e = m->e2e;
    pthread_mutex_unlock(&m->mu);
    hist_text(out, "llmkit_time_to_first_token_seconds", "Time from request to the first token.", &ttft);
    hist_text(out, "llmkit_time_per_output_token_seconds", "Time per generated token after the first.", &tpot);
    hist_text(out, "llmkit_e2e_request_latency_seconds", "Time from request to the last token.", &e2e);
}

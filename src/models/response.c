/* response.c — requests and responses of lk_model: defaults, freeing, and the helpers backends
 * use to build a response (text deltas, tool calls, warnings, unsupported settings). */
#include "models/model_impl.h"

#include <math.h>
#include <stdarg.h>
#include "base/json.h"

void lk_request_init(lk_request *r) {
    memset(r, 0, sizeof *r);
    r->temperature = NAN;
    r->top_p = NAN;
    r->top_k = -1;
    r->min_p = NAN;
    r->typical_p = NAN;
    r->repeat_penalty = NAN;
    r->frequency_penalty = NAN;
    r->presence_penalty = NAN;
    r->penalty_last_n = -1;
    r->mirostat = -1;
    r->mirostat_tau = NAN;
    r->mirostat_eta = NAN;
}

void lk_response_free(lk_response *r) {
    if (!r) return;
    free(r->text);
    for (size_t i = 0; i < r->n_tool_calls; i++) {
        free((char *)r->tool_calls[i].id);
        free((char *)r->tool_calls[i].name);
        free((char *)r->tool_calls[i].arguments);
    }
    free(r->tool_calls);
    free(r->finish_reason);
    free(r->model);
    free(r->id);
    for (size_t i = 0; i < r->n_logprobs; i++) {
        free(r->logprobs[i].token);
        for (size_t j = 0; j < r->logprobs[i].n_top; j++) free(r->logprobs[i].top[j].token);
        free(r->logprobs[i].top);
    }
    free(r->logprobs);
    for (size_t i = 0; i < r->n_warnings; i++) free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof *r);
}

void lk_embeddings_free(lk_embeddings *e) {
    if (!e) return;
    free(e->data);
    memset(e, 0, sizeof *e);
}

bool resp_text(lk_response *out, const char *s, size_t n, lk_token_cb on_token, void *ud) {
    if (n == 0) return true;
    out->text = lk_xrealloc(out->text, out->text_len + n + 1);
    memcpy(out->text + out->text_len, s, n);
    out->text_len += n;
    out->text[out->text_len] = 0;
    return on_token ? on_token(s, n, ud) : true;
}

void resp_first_token(lk_model *m, lk_response *out) {
    (void)m;
    if (out->timings.ttft_s <= 0) out->timings.ttft_s = lk_now() - out->timings.total_s;
}

void resp_warn(lk_response *out, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < out->n_warnings; i++)
        if (strcmp(out->warnings[i], msg) == 0) return;
    out->warnings = lk_xrealloc(out->warnings, (out->n_warnings + 1) * sizeof *out->warnings);
    out->warnings[out->n_warnings++] = lk_xstrdup(msg);
}

void resp_tool_call(lk_response *out, const char *id, const char *name, const char *arguments) {
    out->tool_calls = lk_xrealloc(out->tool_calls, (out->n_tool_calls + 1) * sizeof *out->tool_calls);
    out->tool_calls[out->n_tool_calls++] = (lk_tool_call){
        lk_xstrdup(id ? id : ""), lk_xstrdup(name ? name : ""), lk_xstrdup(arguments ? arguments : "{}") };
}

void resp_set(char **field, const char *s) {
    free(*field);
    *field = s ? lk_xstrdup(s) : NULL;
}

int resp_unsupported(const lk_model *m, const lk_request *req, lk_response *out, lk_error *err,
                     const char *setting) {
    if (req->strict)
        return lk_errorf(err, LK_EUNSUPPORTED, "%s: the %s backend cannot honour %s", m->spec, m->backend,
                         setting);
    resp_warn(out, "%s: ignored (the %s backend cannot honour it)", setting, m->backend);
    return 0;
}

void redact_secret(char *s, size_t cap, const char *secret) {
    static const char mark[] = "[redacted]";
    size_t n = secret ? strlen(secret) : 0;
    if (n < 4 || !s) return;
    char *from = s, *p;
    while ((p = strstr(from, secret)) != NULL) {
        size_t len = strlen(s);
        if (len - n + sizeof mark - 1 < cap) {
            memmove(p + sizeof mark - 1, p + n, len - (size_t)(p - s) - n + 1);
            memcpy(p, mark, sizeof mark - 1);
            from = p + sizeof mark - 1;
        } else {
            memset(p, '*', n);
            from = p + n;
        }
    }
}

/* ---- JSON ---- */

static json_t *str_or_null(const char *s) {
    return lk_json_str(s, s ? strlen(s) : 0, false);
}

char *lk_response_json(const lk_response *r) {
    json_t *o = json_object();
    json_object_set_new(o, "text", lk_json_str(r->text ? r->text : "", r->text ? r->text_len : 0, false));
    json_t *calls = json_array();
    for (size_t i = 0; i < r->n_tool_calls; i++)
        json_array_append_new(calls, json_pack("{s:o, s:o, s:o}", "id", str_or_null(r->tool_calls[i].id),
                                               "name", str_or_null(r->tool_calls[i].name),
                                               "arguments", str_or_null(r->tool_calls[i].arguments)));
    json_object_set_new(o, "tool_calls", calls);
    json_object_set_new(o, "finish_reason", str_or_null(r->finish_reason));
    json_object_set_new(o, "model", str_or_null(r->model));
    json_object_set_new(o, "id", str_or_null(r->id));
    json_object_set_new(o, "usage", json_pack("{s:I, s:I, s:I, s:I}", "prompt_tokens", (json_int_t)r->usage.prompt_tokens,
                                              "cached_tokens", (json_int_t)r->usage.cached_tokens,
                                              "cache_write_tokens", (json_int_t)r->usage.cache_write_tokens,
                                              "completion_tokens", (json_int_t)r->usage.completion_tokens));
    json_object_set_new(o, "timings", json_pack("{s:f, s:f, s:f}", "ttft_s", r->timings.ttft_s,
                                                "total_s", r->timings.total_s, "tokens_per_s", r->timings.tokens_per_s));
    json_object_set_new(o, "cost_usd", r->cost_known ? json_real(r->cost_usd) : json_null());
    if (r->n_logprobs) {
        json_t *lps = json_array();
        for (size_t i = 0; i < r->n_logprobs; i++) {
            const lk_logprob *lp = &r->logprobs[i];
            json_t *top = json_array();
            for (size_t j = 0; j < lp->n_top; j++)
                json_array_append_new(top, json_pack("{s:o, s:f, s:o}", "token", str_or_null(lp->top[j].token),
                                                     "logprob", (double)lp->top[j].logprob, "bytes",
                                                     lk_json_bytes(lp->top[j].token)));
            json_array_append_new(lps, json_pack("{s:o, s:f, s:o, s:o}", "token", str_or_null(lp->token),
                                                 "logprob", (double)lp->logprob, "bytes", lk_json_bytes(lp->token),
                                                 "top_logprobs", top));
        }
        json_object_set_new(o, "logprobs", lps);
    }
    json_t *w = json_array();
    for (size_t i = 0; i < r->n_warnings; i++) json_array_append_new(w, json_string(r->warnings[i]));
    json_object_set_new(o, "warnings", w);
    json_object_set_new(o, "http_status", json_integer(r->http_status));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

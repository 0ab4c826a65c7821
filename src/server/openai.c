/* openai.c — the OpenAI routes: POST /v1/chat/completions, /v1/completions, /v1/embeddings and
 * GET /v1/models.
 *
 * Each request is checked field by field before the model sees it: a field of the wrong type
 * or range, one we do not know, or one we cannot honour is a 400 whose error names it (param).
 * Sampling extensions that llama.cpp and vLLM accept (top_k, min_p, typical_p, repeat_penalty,
 * mirostat...) are taken too. The request runs with lk_request.strict, so a setting the model's
 * backend cannot honour (tools on a local model, say) also comes back as a 400. Responses and
 * chat.completion.chunk / text_completion streams follow OpenAI's documented shapes. */
#include "server/srv.h"
#include "base/json.h"

#include <math.h>
#include <time.h>

typedef struct oa_state {
    json_t *body;                 /* the request (strings of req point into it) */
    srv_strs keep;                /* what else req points to */
    bool chat;
    bool include_usage;
    bool logprobs;
    char id[64];
    long long created;
    const char *model;            /* the name the client asked for */
} oa_state;

static void oa_free(void *p) {
    oa_state *st = p;
    json_decref(st->body);
    srv_strs_free(&st->keep);
    free(st);
}

static bool in_list(const char *k, const char *const *list) {
    for (; *list; list++)
        if (strcmp(k, *list) == 0) return true;
    return false;
}

/* Fields no model can be asked for through this server: 400 naming them. */
static int check_fields(json_t *body, const char *const *known, srv_err *e) {
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (!in_list(k, known))
            return srv_errf(e, 400, k, "Unrecognized request argument supplied: %s", k);
    }
    return 0;
}

static srv_model *find_model(srv_conn *c, json_t *body, srv_err *e) {
    const char *name = NULL;
    if (srv_get_str(body, "model", &name, e)) return NULL;
    if (!name) {
        srv_errf(e, 400, "model", "model: field required");
        return NULL;
    }
    srv_model *m = srv_find_model(c->s, name);
    if (!m) {
        srv_errf(e, 404, "model", "The model `%s` does not exist or you do not have access to it.", name);
        e->code = "model_not_found";
    }
    return m;
}

/* Sampling settings shared by chat and completions, with the llama.cpp / vLLM extensions. */
static int sampling(json_t *b, lk_request *r, oa_state *st, srv_err *e) {
    long long i;
    if (srv_get_num(b, "temperature", 0, 2, &r->temperature, e) || srv_get_num(b, "top_p", 0, 1, &r->top_p, e) ||
        srv_get_num(b, "frequency_penalty", -2, 2, &r->frequency_penalty, e) ||
        srv_get_num(b, "presence_penalty", -2, 2, &r->presence_penalty, e) ||
        srv_get_num(b, "min_p", 0, 1, &r->min_p, e) || srv_get_num(b, "typical_p", 0, 1, &r->typical_p, e) ||
        srv_get_num(b, "repeat_penalty", 0, 10, &r->repeat_penalty, e) ||
        srv_get_num(b, "mirostat_tau", 0, 100, &r->mirostat_tau, e) ||
        srv_get_num(b, "mirostat_eta", 0, 1, &r->mirostat_eta, e))
        return -1;
    i = -1;
    if (srv_get_int(b, "top_k", 0, 1 << 20, &i, e)) return -1;
    r->top_k = (int)i;
    i = -1;
    if (srv_get_int(b, "repeat_last_n", 0, 1 << 20, &i, e)) return -1;
    r->penalty_last_n = (int)i;
    i = -1;
    if (srv_get_int(b, "mirostat", 0, 2, &i, e)) return -1;
    r->mirostat = (int)i;
    json_t *seed = json_object_get(b, "seed");
    if (seed && !json_is_null(seed)) {
        if (!json_is_integer(seed)) return srv_errf(e, 400, "seed", "seed: expected an integer, got %s", srv_json_type(seed));
        r->has_seed = true;
        r->seed = (uint64_t)json_integer_value(seed);
    }
    long long n = 1;
    if (srv_get_int(b, "n", 1, 128, &n, e)) return -1;
    if (n != 1) return srv_errf(e, 400, "n", "n: %lld choices asked for; this server returns exactly 1", n);
    json_t *stop = json_object_get(b, "stop");
    if (stop && !json_is_null(stop)) {
        size_t ns = json_is_string(stop) ? 1 : json_is_array(stop) ? json_array_size(stop) : 0;
        if (!json_is_string(stop) && !json_is_array(stop))
            return srv_errf(e, 400, "stop", "stop: expected a string or an array of strings, got %s", srv_json_type(stop));
        if (ns > 4) return srv_errf(e, 400, "stop", "stop: %zu sequences; at most 4 are allowed", ns);
        const char **v = lk_xcalloc(ns ? ns : 1, sizeof *v);
        srv_keep(&st->keep, (char *)v);
        for (size_t k = 0; k < ns; k++) {
            json_t *s = json_is_string(stop) ? stop : json_array_get(stop, k);
            if (!json_is_string(s)) return srv_errf(e, 400, "stop", "stop[%zu]: expected a string, got %s", k, srv_json_type(s));
            if (!json_string_length(s)) return srv_errf(e, 400, "stop", "stop[%zu]: empty", k);
            v[k] = json_string_value(s);
        }
        r->stop = v;
        r->n_stop = ns;
    }
    json_t *lb = json_object_get(b, "logit_bias");
    if (lb && !json_is_null(lb)) {
        if (!json_is_object(lb))
            return srv_errf(e, 400, "logit_bias", "logit_bias: expected an object of token ids to biases, got %s",
                            srv_json_type(lb));
        lk_bias *bias = lk_xcalloc(json_object_size(lb) + 1, sizeof *bias);
        srv_keep(&st->keep, (char *)bias);
        const char *k;
        json_t *v;
        size_t nb = 0;
        json_object_foreach(lb, k, v) {
            long long id;
            if (lk_parse_i64(k, &id) || id < 0 || id > INT32_MAX)
                return srv_errf(e, 400, "logit_bias", "logit_bias: '%s' is not a token id", k);
            if (!json_is_number(v) || json_number_value(v) < -100 || json_number_value(v) > 100)
                return srv_errf(e, 400, "logit_bias", "logit_bias[%s]: expected a number from -100 to 100", k);
            bias[nb++] = (lk_bias){ (int32_t)id, (float)json_number_value(v) };
        }
        r->logit_bias = bias;
        r->n_logit_bias = nb;
    }
    return 0;
}

/* max_tokens (or max_completion_tokens): 1 to the server's limit. */
static int max_tokens(srv_conn *c, json_t *b, const char *field, int dflt, lk_request *r, srv_err *e) {
    json_t *v = json_object_get(b, field);
    r->max_tokens = dflt;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return srv_errf(e, 400, field, "%s: expected an integer, got %s", field, srv_json_type(v));
    long long n = json_integer_value(v);
    if (n < 1 || n > c->s->o.max_tokens)
        return srv_errf(e, 400, field, "%s: %lld is out of range; expected 1 to %d (the server's limit)", field, n,
                        c->s->o.max_tokens);
    r->max_tokens = (int)n;
    return 0;
}

static int stream_opts(json_t *b, bool *stream, oa_state *st, srv_err *e) {
    if (srv_get_bool(b, "stream", stream, e)) return -1;
    json_t *so = json_object_get(b, "stream_options");
    if (!so || json_is_null(so)) return 0;
    if (!*stream) return srv_errf(e, 400, "stream_options", "stream_options: only allowed with stream: true");
    if (!json_is_object(so)) return srv_errf(e, 400, "stream_options", "stream_options: expected an object");
    const char *k;
    json_t *v;
    json_object_foreach(so, k, v) {
        if (strcmp(k, "include_usage") != 0)
            return srv_errf(e, 400, "stream_options", "stream_options.%s: not supported (only include_usage)", k);
    }
    return srv_get_bool(so, "include_usage", &st->include_usage, e);
}

static json_t *usage_json(const lk_usage *u) {
    return json_pack("{s:I,s:I,s:I,s:{s:I},s:{s:I}}", "prompt_tokens", (json_int_t)u->prompt_tokens, "completion_tokens",
                     (json_int_t)u->completion_tokens, "total_tokens", (json_int_t)(u->prompt_tokens + u->completion_tokens),
                     "prompt_tokens_details", "cached_tokens", (json_int_t)u->cached_tokens,
                     "completion_tokens_details", "reasoning_tokens", (json_int_t)0);
}

static const char *finish_reason(const lk_response *r) {
    const char *f = r->finish_reason ? r->finish_reason : "stop";
    if (!strcmp(f, "length") || !strcmp(f, "tool_calls") || !strcmp(f, "content_filter")) return f;
    return "stop";
}

/* Chat logprobs: {"content": [{token, logprob, bytes, top_logprobs}], "refusal": null}. */
static json_t *chat_logprobs(const lk_response *r) {
    json_t *content = json_array();
    for (size_t i = 0; i < r->n_logprobs; i++) {
        const lk_logprob *lp = &r->logprobs[i];
        json_t *top = json_array();
        for (size_t k = 0; k < lp->n_top; k++)
            json_array_append_new(top, json_pack("{s:o,s:f,s:o}", "token", srv_jcstr(lp->top[k].token), "logprob",
                                                 (double)lp->top[k].logprob, "bytes", lk_json_bytes(lp->top[k].token)));
        json_array_append_new(content, json_pack("{s:o,s:f,s:o,s:o}", "token", srv_jcstr(lp->token), "logprob",
                                                 (double)lp->logprob, "bytes", lk_json_bytes(lp->token), "top_logprobs", top));
    }
    return json_pack("{s:o,s:n}", "content", content, "refusal");
}

/* Legacy completions logprobs: tokens, token_logprobs, top_logprobs, text_offset. */
static json_t *completion_logprobs(const lk_response *r) {
    json_t *toks = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    size_t off = 0;
    for (size_t i = 0; i < r->n_logprobs; i++) {
        const lk_logprob *lp = &r->logprobs[i];
        json_array_append_new(toks, srv_jcstr(lp->token));
        json_array_append_new(lps, json_real(lp->logprob));
        json_t *top = json_object();
        for (size_t k = 0; k < lp->n_top; k++) json_object_set_new(top, lp->top[k].token, json_real(lp->top[k].logprob));
        json_array_append_new(tops, top);
        json_array_append_new(offs, json_integer((json_int_t)off));
        off += strlen(lp->token);
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "tokens", toks, "token_logprobs", lps, "top_logprobs", tops, "text_offset", offs);
}

static json_t *tool_calls_json(const lk_response *r, bool indexed) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_tool_calls; i++) {
        const lk_tool_call *t = &r->tool_calls[i];
        json_t *tc = json_pack("{s:o,s:s,s:{s:o,s:o}}", "id", srv_jcstr(t->id ? t->id : ""), "type", "function",
                               "function", "name", srv_jcstr(t->name), "arguments", srv_jcstr(t->arguments ? t->arguments : "{}"));
        if (indexed) json_object_set_new(tc, "index", json_integer((json_int_t)i));
        json_array_append_new(a, tc);
    }
    return a;
}

/* ---- chat completions ---- */

static int chat_messages(json_t *arr, lk_request *r, oa_state *st, srv_err *e) {
    if (!arr) return srv_errf(e, 400, "messages", "messages: field required");
    if (!json_is_array(arr)) return srv_errf(e, 400, "messages", "messages: expected an array, got %s", srv_json_type(arr));
    size_t n = json_array_size(arr);
    if (n == 0) return srv_errf(e, 400, "messages", "messages: must hold at least one message");
    lk_message *msgs = lk_xcalloc(n, sizeof *msgs);
    srv_keep(&st->keep, (char *)msgs);
    static const char *const keys[] = { "role", "content", "tool_calls", "tool_call_id", "refusal", NULL };
    char p[96];
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(arr, i);
        lk_message *out = &msgs[i];
        snprintf(p, sizeof p, "messages[%zu]", i);
        if (!json_is_object(m)) return srv_errf(e, 400, p, "%s: expected an object, got %s", p, srv_json_type(m));
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) {
            if (!in_list(k, keys) && !(json_is_null(v)))
                return srv_errf(e, 400, p, "%s.%s: not supported by this server", p, k);
        }
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role)) return srv_errf(e, 400, p, "%s.role: expected a string", p);
        const char *rs = json_string_value(role);
        if (!strcmp(rs, "developer") || !strcmp(rs, "system")) out->role = "system";
        else if (!strcmp(rs, "user") || !strcmp(rs, "assistant") || !strcmp(rs, "tool")) out->role = rs;
        else return srv_errf(e, 400, p, "%s.role: '%s' is not one of system, developer, user, assistant, tool", p, rs);
        json_t *content = json_object_get(m, "content");
        if (json_is_string(content)) {
            out->content = json_string_value(content);
        } else if (json_is_array(content)) {
            lk_buf b = {0};
            size_t j;
            json_t *part;
            json_array_foreach(content, j, part) {
                json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
                const char *ts = json_is_string(type) ? json_string_value(type) : "";
                if (!json_is_object(part) || strcmp(ts, "text") != 0 || !json_is_string(text)) {
                    lk_buf_free(&b);
                    if (json_is_object(part) && json_is_string(type) && strcmp(ts, "text") != 0)
                        return srv_errf(e, 400, p, "%s.content[%zu].type: '%s' parts are not supported by this server "
                                        "(text only)", p, j, ts);
                    return srv_errf(e, 400, p, "%s.content[%zu]: expected {\"type\": \"text\", \"text\": ...}", p, j);
                }
                if (b.len) lk_buf_putc(&b, '\n');
                lk_buf_append(&b, json_string_value(text), json_string_length(text));
            }
            out->content = srv_keep(&st->keep, b.data ? b.data : lk_xstrdup(""));
        } else if (content && !json_is_null(content)) {
            return srv_errf(e, 400, p, "%s.content: expected a string or an array of parts, got %s", p, srv_json_type(content));
        }
        json_t *calls = json_object_get(m, "tool_calls");
        if (calls && !json_is_null(calls)) {
            if (strcmp(out->role, "assistant") != 0) return srv_errf(e, 400, p, "%s.tool_calls: only assistant messages have them", p);
            if (!json_is_array(calls)) return srv_errf(e, 400, p, "%s.tool_calls: expected an array", p);
            size_t nc = json_array_size(calls);
            lk_tool_call *tc = lk_xcalloc(nc ? nc : 1, sizeof *tc);
            srv_keep(&st->keep, (char *)tc);
            for (size_t j = 0; j < nc; j++) {
                json_t *c = json_array_get(calls, j), *fn = json_object_get(c, "function");
                json_t *id = json_object_get(c, "id"), *name = json_object_get(fn, "name"), *args = json_object_get(fn, "arguments");
                if (!json_is_object(c) || !json_is_string(id) || !json_is_string(name) || (args && !json_is_string(args)))
                    return srv_errf(e, 400, p, "%s.tool_calls[%zu]: expected {\"id\", \"type\": \"function\", \"function\": "
                                    "{\"name\", \"arguments\"}}", p, j);
                tc[j] = (lk_tool_call){ json_string_value(id), json_string_value(name), args ? json_string_value(args) : "{}" };
            }
            out->tool_calls = tc;
            out->n_tool_calls = nc;
        }
        if (!out->content && !(out->n_tool_calls && !strcmp(out->role, "assistant")))
            return srv_errf(e, 400, p, "%s.content: required for a %s message", p, rs);
        json_t *tcid = json_object_get(m, "tool_call_id");
        if (!strcmp(out->role, "tool")) {
            if (!json_is_string(tcid)) return srv_errf(e, 400, p, "%s.tool_call_id: required for a tool message", p);
            out->tool_call_id = json_string_value(tcid);
        } else if (tcid && !json_is_null(tcid)) {
            return srv_errf(e, 400, p, "%s.tool_call_id: only tool messages have one", p);
        }
    }
    r->messages = msgs;
    r->n_messages = n;
    return 0;
}

static int chat_tools(json_t *b, lk_request *r, oa_state *st, srv_err *e) {
    json_t *tools = json_object_get(b, "tools");
    if (tools && !json_is_null(tools)) {
        if (!json_is_array(tools)) return srv_errf(e, 400, "tools", "tools: expected an array, got %s", srv_json_type(tools));
        size_t n = json_array_size(tools);
        lk_tool *t = lk_xcalloc(n ? n : 1, sizeof *t);
        srv_keep(&st->keep, (char *)t);
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(tools, i), *fn = json_object_get(x, "function"), *type = json_object_get(x, "type");
            char p[32];
            snprintf(p, sizeof p, "tools[%zu]", i);
            if (!json_is_object(x) || !json_is_string(type) || strcmp(json_string_value(type), "function") != 0 ||
                !json_is_object(fn) || !json_is_string(json_object_get(fn, "name")))
                return srv_errf(e, 400, p, "%s: expected {\"type\": \"function\", \"function\": {\"name\", ...}}", p);
            bool strict = false;
            if (srv_get_bool(fn, "strict", &strict, e)) return -1;
            if (strict) return srv_errf(e, 400, p, "%s.function.strict: strict schemas are not supported by this server", p);
            json_t *desc = json_object_get(fn, "description"), *params = json_object_get(fn, "parameters");
            if (desc && !json_is_null(desc) && !json_is_string(desc))
                return srv_errf(e, 400, p, "%s.function.description: expected a string", p);
            if (params && !json_is_null(params) && !json_is_object(params))
                return srv_errf(e, 400, p, "%s.function.parameters: expected a JSON Schema object", p);
            t[i].name = json_string_value(json_object_get(fn, "name"));
            t[i].description = json_is_string(desc) ? json_string_value(desc) : NULL;
            t[i].parameters = json_is_object(params) ? srv_keep(&st->keep, srv_dump(params)) : NULL;
        }
        r->tools = t;
        r->n_tools = n;
    }
    json_t *tc = json_object_get(b, "tool_choice");
    if (tc && !json_is_null(tc)) {
        if (json_is_string(tc)) {
            const char *s = json_string_value(tc);
            if (strcmp(s, "auto") && strcmp(s, "none") && strcmp(s, "required"))
                return srv_errf(e, 400, "tool_choice", "tool_choice: '%s' is not auto, none, required or a function", s);
            r->tool_choice = s;
        } else {
            json_t *name = json_object_get(json_object_get(tc, "function"), "name");
            if (!json_is_string(name))
                return srv_errf(e, 400, "tool_choice", "tool_choice: expected a string or {\"type\": \"function\", "
                                "\"function\": {\"name\"}}");
            r->tool_choice = json_string_value(name);
        }
    }
    bool parallel = true;
    if (srv_get_bool(b, "parallel_tool_calls", &parallel, e)) return -1;
    if (!parallel) return srv_errf(e, 400, "parallel_tool_calls", "parallel_tool_calls: false is not supported by this server");
    json_t *rf = json_object_get(b, "response_format");
    if (rf && !json_is_null(rf)) {
        json_t *type = json_object_get(rf, "type");
        const char *ts = json_is_string(type) ? json_string_value(type) : "";
        if (!json_is_object(rf) || !*ts)
            return srv_errf(e, 400, "response_format", "response_format: expected {\"type\": \"text\" | \"json_object\" | "
                            "\"json_schema\", ...}");
        if (!strcmp(ts, "json_object")) {
            r->response_format = "{\"type\":\"object\"}";
        } else if (!strcmp(ts, "json_schema")) {
            json_t *schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
            if (!json_is_object(schema))
                return srv_errf(e, 400, "response_format", "response_format.json_schema.schema: expected an object");
            r->response_format = srv_keep(&st->keep, srv_dump(schema));
        } else if (strcmp(ts, "text") != 0) {
            return srv_errf(e, 400, "response_format", "response_format.type: '%s' is not text, json_object or json_schema", ts);
        }
    }
    return 0;
}

static json_t *chat_chunk(srv_call *c, json_t *delta, const char *finish, json_t *logprobs) {
    oa_state *st = c->state;
    json_t *ch = json_pack("{s:s,s:s,s:I,s:s,s:n,s:[{s:i,s:o,s:o,s:o}]}", "id", st->id, "object", "chat.completion.chunk",
                           "created", (json_int_t)st->created, "model", st->model, "system_fingerprint", "choices",
                           "index", 0, "delta", delta, "logprobs", logprobs ? logprobs : json_null(), "finish_reason",
                           finish ? json_string(finish) : json_null());
    if (st->include_usage) json_object_set_new(ch, "usage", json_null());
    return ch;
}

static void chat_delta(srv_call *c, const char *text, size_t len) {
    srv_sse(c, NULL, chat_chunk(c, json_pack("{s:o}", "content", srv_jstr(text, len)), NULL, NULL));
}

/* A stream's end: an error event, or tool calls, the finish chunk, usage and [DONE]. */
static void stream_end(srv_call *c) {
    oa_state *st = c->state;
    if (c->rc || c->timed_out) {
        srv_err e;
        srv_call_error(c, &e);
        srv_sse(c, NULL, json_pack("{s:{s:o,s:s,s:o,s:o}}", "error", "message", srv_jcstr(e.msg), "type",
                                   e.status == 429 ? "rate_limit_error" : e.status < 500 ? "invalid_request_error" : "server_error",
                                   "param", e.param[0] ? srv_jcstr(e.param) : json_null(), "code",
                                   e.code ? json_string(e.code) : json_null()));
        return;
    }
    const lk_response *r = &c->res;
    if (st->chat) {
        if (r->n_tool_calls) srv_sse(c, NULL, chat_chunk(c, json_pack("{s:o}", "tool_calls", tool_calls_json(r, true)), NULL, NULL));
        srv_sse(c, NULL, chat_chunk(c, json_object(), finish_reason(r), st->logprobs ? chat_logprobs(r) : NULL));
    } else {
        json_t *ch = json_pack("{s:s,s:s,s:I,s:s,s:[{s:s,s:i,s:o,s:s}]}", "id", st->id, "object", "text_completion",
                               "created", (json_int_t)st->created, "model", st->model, "choices", "text", "", "index", 0,
                               "logprobs", st->logprobs ? completion_logprobs(r) : json_null(),
                               "finish_reason", finish_reason(r));
        if (st->include_usage) json_object_set_new(ch, "usage", json_null());
        srv_sse(c, NULL, ch);
    }
    if (st->include_usage) {
        json_t *u = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", st->id, "object",
                              st->chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)st->created,
                              "model", st->model, "choices", "usage", usage_json(&r->usage));
        if (st->chat) json_object_set_new(u, "system_fingerprint", json_null());
        srv_sse(c, NULL, u);
    }
    lk_buf_puts(&c->out, "data: [DONE]\n\n");
}

static const srv_stream_ops chat_stream = { chat_delta, stream_end };

static json_t *chat_done(srv_call *c) {
    oa_state *st = c->state;
    const lk_response *r = &c->res;
    json_t *msg = json_pack("{s:s,s:o,s:n}", "role", "assistant", "content",
                            r->text_len || !r->n_tool_calls ? srv_jstr(r->text, r->text_len) : json_null(), "refusal");
    if (r->n_tool_calls) json_object_set_new(msg, "tool_calls", tool_calls_json(r, false));
    return json_pack("{s:s,s:s,s:I,s:s,s:n,s:[{s:i,s:o,s:o,s:s}],s:o}", "id", st->id, "object", "chat.completion",
                     "created", (json_int_t)st->created, "model", st->model, "system_fingerprint", "choices", "index", 0,
                     "message", msg, "logprobs", st->logprobs ? chat_logprobs(r) : json_null(), "finish_reason",
                     finish_reason(r), "usage", usage_json(&r->usage));
}

static oa_state *new_state(srv_conn *c, json_t *body, srv_model *m, bool chat) {
    oa_state *st = lk_xcalloc(1, sizeof *st);
    st->body = json_incref(body);
    st->chat = chat;
    st->created = (long long)time(NULL);
    st->model = m->name;
    srv_new_id(c->s, chat ? "chatcmpl-" : "cmpl-", st->id, sizeof st->id);
    return st;
}

static const char *const sampling_fields[] = {
    "temperature", "top_p", "frequency_penalty", "presence_penalty", "seed", "n", "stop", "logit_bias", "top_k", "min_p",
    "typical_p", "repeat_penalty", "repeat_last_n", "mirostat", "mirostat_tau", "mirostat_eta", NULL };

static int check_known(json_t *body, const char *const *own, srv_err *e) {
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (!in_list(k, own) && !in_list(k, sampling_fields))
            return srv_errf(e, 400, k, "Unrecognized request argument supplied: %s", k);
    }
    return 0;
}

/* user is an end-user id for abuse monitoring; store: false is what this server does anyway. */
static int check_user_store(json_t *b, srv_err *e) {
    const char *user = NULL;
    bool store = false;
    if (srv_get_str(b, "user", &user, e) || srv_get_bool(b, "store", &store, e)) return -1;
    if (store) return srv_errf(e, 400, "store", "store: true is not supported (this server stores nothing)");
    return 0;
}

enum MHD_Result srv_openai_chat(srv_conn *c, json_t *body) {
    static const char *const own[] = { "model", "messages", "max_tokens", "max_completion_tokens", "stream",
                                       "stream_options", "logprobs", "top_logprobs", "tools", "tool_choice",
                                       "parallel_tool_calls", "response_format", "user", "store", NULL };
    srv_err e;
    srv_model *m = NULL;
    if (check_known(body, own, &e) || !(m = find_model(c, body, &e))) return srv_reply_error(c, SRV_OPENAI, &e);
    oa_state *st = new_state(c, body, m, true);
    srv_call *call = srv_call_new(c, m, SRV_OPENAI);
    call->state = st;
    call->free_state = oa_free;
    call->ops = &chat_stream;
    lk_request *r = &call->req;
    bool lp = false;
    long long top = 0;
    const char *mt = json_object_get(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if (json_object_get(body, "max_completion_tokens") && json_object_get(body, "max_tokens"))
        srv_errf(&e, 400, "max_tokens", "max_tokens and max_completion_tokens: give one, not both");
    else if (!chat_messages(json_object_get(body, "messages"), r, st, &e) && !max_tokens(c, body, mt, 0, r, &e) &&
             !sampling(body, r, st, &e) && !stream_opts(body, &call->stream, st, &e) && !chat_tools(body, r, st, &e) &&
             !check_user_store(body, &e) && !srv_get_bool(body, "logprobs", &lp, &e) &&
             !srv_get_int(body, "top_logprobs", 0, 20, &top, &e)) {
        if (top && !lp) {
            srv_errf(&e, 400, "top_logprobs", "top_logprobs: requires logprobs: true");
        } else {
            st->logprobs = lp;
            r->logprobs = lp ? (int)top + 1 : 0;
            r->stream = call->stream;
            if (call->stream)
                srv_sse(call, NULL, chat_chunk(call, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL, NULL));
            return srv_call_answer(call, chat_done);
        }
    }
    /* not started: free it through the same path, without a worker */
    srv_call_free_unstarted(call);
    return srv_reply_error(c, SRV_OPENAI, &e);
}

/* ---- legacy completions ---- */

static json_t *completion_done(srv_call *c) {
    oa_state *st = c->state;
    const lk_response *r = &c->res;
    return json_pack("{s:s,s:s,s:I,s:s,s:[{s:o,s:i,s:o,s:s}],s:o}", "id", st->id, "object", "text_completion", "created",
                     (json_int_t)st->created, "model", st->model, "choices", "text", srv_jstr(r->text, r->text_len),
                     "index", 0, "logprobs", st->logprobs ? completion_logprobs(r) : json_null(), "finish_reason",
                     finish_reason(r), "usage", usage_json(&r->usage));
}

static void completion_delta(srv_call *c, const char *text, size_t len) {
    oa_state *st = c->state;
    json_t *ch = json_pack("{s:s,s:s,s:I,s:s,s:[{s:o,s:i,s:n,s:n}]}", "id", st->id, "object", "text_completion", "created",
                           (json_int_t)st->created, "model", st->model, "choices", "text", srv_jstr(text, len), "index", 0,
                           "logprobs", "finish_reason");
    if (st->include_usage) json_object_set_new(ch, "usage", json_null());
    srv_sse(c, NULL, ch);
}

static const srv_stream_ops completion_stream = { completion_delta, stream_end };

enum MHD_Result srv_openai_completions(srv_conn *c, json_t *body) {
    static const char *const own[] = { "model", "prompt", "max_tokens", "stream", "stream_options", "logprobs", "echo",
                                       "best_of", "suffix", "user", NULL };
    srv_err e;
    srv_model *m = NULL;
    if (check_known(body, own, &e) || !(m = find_model(c, body, &e))) return srv_reply_error(c, SRV_OPENAI, &e);
    oa_state *st = new_state(c, body, m, false);
    srv_call *call = srv_call_new(c, m, SRV_OPENAI);
    call->state = st;
    call->free_state = oa_free;
    call->ops = &completion_stream;
    lk_request *r = &call->req;
    json_t *prompt = json_object_get(body, "prompt");
    if (json_is_array(prompt) && json_array_size(prompt) == 1 && json_is_string(json_array_get(prompt, 0)))
        prompt = json_array_get(prompt, 0);
    long long lp = -1, best_of = 1;
    bool echo = false;
    const char *suffix = NULL, *user = NULL;
    if (!prompt) srv_errf(&e, 400, "prompt", "prompt: field required");
    else if (!json_is_string(prompt))
        srv_errf(&e, 400, "prompt", json_is_array(prompt) ? "prompt: one prompt (a string) per request is supported, not "
                 "a list of them or of token ids" : "prompt: expected a string, got %s", srv_json_type(prompt));
    else if (!max_tokens(c, body, "max_tokens", 16, r, &e) && !sampling(body, r, st, &e) &&
             !stream_opts(body, &call->stream, st, &e) && !srv_get_int(body, "logprobs", 0, 5, &lp, &e) &&
             !srv_get_bool(body, "echo", &echo, &e) && !srv_get_int(body, "best_of", 1, 20, &best_of, &e) &&
             !srv_get_str(body, "suffix", &suffix, &e) && !srv_get_str(body, "user", &user, &e)) {
        if (echo) srv_errf(&e, 400, "echo", "echo: true is not supported by this server");
        else if (best_of != 1) srv_errf(&e, 400, "best_of", "best_of: only 1 is supported by this server");
        else if (suffix && *suffix) srv_errf(&e, 400, "suffix", "suffix: not supported by this server");
        else {
            r->prompt = json_string_value(prompt);
            st->logprobs = lp >= 0;
            r->logprobs = lp >= 0 ? (int)lp + 1 : 0;
            r->stream = call->stream;
            return srv_call_answer(call, completion_done);
        }
    }
    srv_call_free_unstarted(call);
    return srv_reply_error(c, SRV_OPENAI, &e);
}

/* ---- embeddings ---- */

static void base64(const unsigned char *p, size_t n, lk_buf *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        lk_buf_putc(out, tab[v >> 18 & 63]);
        lk_buf_putc(out, tab[v >> 12 & 63]);
        lk_buf_putc(out, i + 1 < n ? tab[v >> 6 & 63] : '=');
        lk_buf_putc(out, i + 2 < n ? tab[v & 63] : '=');
    }
}

enum MHD_Result srv_openai_embeddings(srv_conn *c, json_t *body) {
    static const char *const own[] = { "model", "input", "encoding_format", "dimensions", "user", NULL };
    srv_err e;
    srv_model *m = NULL;
    if (check_fields(body, own, &e) || !(m = find_model(c, body, &e))) return srv_reply_error(c, SRV_OPENAI, &e);
    json_t *input = json_object_get(body, "input");
    const char *fmt = "float", *user = NULL;
    long long dims = 0;
    if (srv_get_str(body, "encoding_format", &fmt, &e) || srv_get_int(body, "dimensions", 1, 1 << 20, &dims, &e) ||
        srv_get_str(body, "user", &user, &e))
        return srv_reply_error(c, SRV_OPENAI, &e);
    if (strcmp(fmt, "float") && strcmp(fmt, "base64")) {
        srv_errf(&e, 400, "encoding_format", "encoding_format: '%s' is not float or base64", fmt);
        return srv_reply_error(c, SRV_OPENAI, &e);
    }
    if (!input || (!json_is_string(input) && !json_is_array(input))) {
        srv_errf(&e, 400, "input", input ? "input: expected a string or an array of strings, got %s" : "input: field required",
                 input ? srv_json_type(input) : "");
        return srv_reply_error(c, SRV_OPENAI, &e);
    }
    size_t n = json_is_string(input) ? 1 : json_array_size(input);
    if (n == 0 || n > 2048) {
        srv_errf(&e, 400, "input", "input: %zu texts; expected 1 to 2048", n);
        return srv_reply_error(c, SRV_OPENAI, &e);
    }
    const char **texts = lk_xcalloc(n, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_is_string(input) ? input : json_array_get(input, i);
        if (!json_is_string(t) || json_string_length(t) == 0) {
            free(texts);
            srv_errf(&e, 400, "input", json_is_string(t) ? "input[%zu]: empty text" : "input[%zu]: expected a string "
                     "(token id arrays are not supported)", i);
            return srv_reply_error(c, SRV_OPENAI, &e);
        }
        texts[i] = json_string_value(t);
    }
    lk_embeddings emb;
    lk_error err = {0};
    int rc = lk_model_embed(m->m, texts, n, &emb, &err);
    free(texts);
    if (rc) {
        const char *msg = err.msg;
        size_t sl = strlen(lk_model_spec(m->m));
        if (!strncmp(msg, lk_model_spec(m->m), sl) && msg[sl] == ':') msg += sl + 2;
        srv_errf(&e, rc == LK_EUNSUPPORTED || rc == LK_EINVAL || rc == LK_ERANGE ? 400 : rc == LK_EREMOTE ? 502 : 500,
                 rc == LK_EUNSUPPORTED ? "model" : NULL, "%s", msg);
        return srv_reply_error(c, SRV_OPENAI, &e);
    }
    if (dims && (size_t)dims != emb.dim) {
        srv_errf(&e, 400, "dimensions", "dimensions: %lld asked for; model %s makes %zu-dimensional embeddings", dims,
                 m->name, emb.dim);
        lk_embeddings_free(&emb);
        return srv_reply_error(c, SRV_OPENAI, &e);
    }
    json_t *data = json_array();
    for (size_t i = 0; i < emb.n; i++) {
        const float *v = emb.data + i * emb.dim;
        json_t *vec;
        if (!strcmp(fmt, "base64")) { /* little-endian float32 bytes, as OpenAI sends them */
            lk_buf b = {0};
            base64((const unsigned char *)v, emb.dim * sizeof(float), &b);
            vec = json_string(b.data ? b.data : "");
            lk_buf_free(&b);
        } else {
            vec = json_array();
            for (size_t j = 0; j < emb.dim; j++) json_array_append_new(vec, json_real(v[j]));
        }
        json_array_append_new(data, json_pack("{s:s,s:I,s:o}", "object", "embedding", "index", (json_int_t)i, "embedding", vec));
    }
    long long pt = emb.usage.prompt_tokens;
    __atomic_add_fetch(&m->prompt_tokens, (uint64_t)LK_MAX(pt, 0), __ATOMIC_RELAXED);
    lk_embeddings_free(&emb);
    return srv_reply_json(c, 200, json_pack("{s:s,s:o,s:s,s:{s:I,s:I}}", "object", "list", "data", data, "model", m->name,
                                            "usage", "prompt_tokens", (json_int_t)pt, "total_tokens", (json_int_t)pt));
}

/* ---- models ---- */

/* One entry that both SDKs read: OpenAI's {id, object, created, owned_by} and Anthropic's
 * {type, id, display_name, created_at}. */
static json_t *model_json(const srv_model *m) {
    char when[32];
    time_t t = (time_t)m->created;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:o,s:s,s:I,s:s,s:s,s:o,s:s}", "id", srv_jcstr(m->name), "object", "model", "created",
                     (json_int_t)m->created, "owned_by", "llmkit", "type", "model", "display_name", srv_jcstr(m->name),
                     "created_at", when);
}

enum MHD_Result srv_models_list(srv_conn *c, const char *id) {
    srv_server *s = c->s;
    if (id) {
        srv_model *m = srv_find_model(s, id);
        srv_err e;
        if (!m) {
            srv_errf(&e, 404, "model", "The model `%s` does not exist or you do not have access to it.", id);
            e.code = "model_not_found";
            return srv_reply_error(c, SRV_OPENAI, &e);
        }
        return srv_reply_json(c, 200, model_json(m));
    }
    json_t *data = json_array();
    for (size_t i = 0; i < s->n_models; i++) json_array_append_new(data, model_json(&s->models[i]));
    return srv_reply_json(c, 200, json_pack("{s:s,s:o,s:b,s:o,s:o}", "object", "list", "data", data, "has_more", 0,
                                            "first_id", s->n_models ? srv_jcstr(s->models[0].name) : json_null(), "last_id",
                                            s->n_models ? srv_jcstr(s->models[s->n_models - 1].name) : json_null()));
}

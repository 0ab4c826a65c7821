/* openai.c — the lk_model backend for the OpenAI API and every OpenAI-compatible server
 * (vLLM, llama.cpp's server, Ollama, llmkit serve).
 *
 * Chat requests go to {base}/chat/completions, plain prompts to the legacy {base}/completions,
 * texts to embed to {base}/embeddings. The request side maps lk_request onto the documented
 * fields; settings OpenAI has no field for are reported (resp_unsupported) for kind "openai"
 * and sent as the extension fields llama.cpp's server and vLLM accept for kind "compat". The
 * response side (openai_parser) reads chat.completion / text_completion bodies and their
 * streamed chunks; the stream bookkeeping (SSE, deltas, tool-call fragments, cut detection)
 * is api_common.c's. */
#include "models/api_common.h"

#include <math.h>

typedef struct openai_model {
    api_conf c;
    bool openai;                  /* kind "openai" (not a compatible server) */
} openai_model;

/* ---- the request ---- */

static int add_messages(lk_model *m, const lk_request *req, json_t *body) {
    json_t *msgs = json_array();
    for (size_t i = 0; i < req->n_messages; i++) {
        const lk_message *msg = &req->messages[i];
        json_t *o = json_object();
        json_object_set_new(o, "role", json_string(msg->role));
        if (strcmp(msg->role, "tool") == 0 && msg->tool_call_id)
            json_object_set_new(o, "tool_call_id", json_string(msg->tool_call_id));
        if (msg->n_tool_calls > 0) {
            json_object_set_new(o, "content", msg->content && *msg->content ? json_string(msg->content) : json_null());
            json_t *calls = json_array();
            for (size_t k = 0; k < msg->n_tool_calls; k++) {
                const lk_tool_call *tc = &msg->tool_calls[k];
                json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", tc->id, "type", "function",
                                                       "function", "name", tc->name, "arguments",
                                                       tc->arguments && *tc->arguments ? tc->arguments : "{}"));
            }
            json_object_set_new(o, "tool_calls", calls);
        } else {
            json_object_set_new(o, "content", json_string(msg->content ? msg->content : ""));
        }
        json_array_append_new(msgs, o);
    }
    json_object_set_new(body, "messages", msgs);
    return 0;
}

/* Whether OpenAI's strict structured outputs accept the schema: every object schema lists all
 * its properties in "required" and has "additionalProperties": false (recursively, through
 * properties, items, anyOf/allOf/oneOf and $defs). A schema that does not qualify is sent with
 * strict false (followed best-effort) and a warning, instead of a 400 from the API. */
static bool strict_ok(const json_t *sch, int depth) {
    if (!json_is_object(sch) || depth > 64) return json_is_object(sch) || json_is_boolean(sch);
    const json_t *props = json_object_get(sch, "properties");
    if (props) {
        const json_t *req = json_object_get(sch, "required"), *ap = json_object_get(sch, "additionalProperties");
        if (!json_is_object(props) || !json_is_false(ap) || !json_is_array(req)) return false;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)props, key, v) {
            bool listed = false;
            size_t i;
            const json_t *r;
            json_array_foreach(req, i, r) listed |= json_is_string(r) && strcmp(json_string_value(r), key) == 0;
            if (!listed || !strict_ok(v, depth + 1)) return false;
        }
    } else if (json_is_string(json_object_get(sch, "type")) &&
               strcmp(json_string_value(json_object_get(sch, "type")), "object") == 0 &&
               !json_is_false(json_object_get(sch, "additionalProperties"))) {
        return false;
    }
    if (json_object_get(sch, "items") && !strict_ok(json_object_get(sch, "items"), depth + 1)) return false;
    static const char *const lists[] = { "anyOf", "allOf", "oneOf" };
    for (size_t l = 0; l < LK_ARRAY_LEN(lists); l++) {
        size_t i;
        const json_t *v;
        json_array_foreach(json_object_get(sch, lists[l]), i, v) if (!strict_ok(v, depth + 1)) return false;
    }
    static const char *const defs[] = { "$defs", "definitions" };
    for (size_t d = 0; d < LK_ARRAY_LEN(defs); d++) {
        const char *key;
        const json_t *v;
        json_object_foreach(json_object_get(sch, defs[d]), key, v) if (!strict_ok(v, depth + 1)) return false;
    }
    return true;
}

static int add_tools(lk_model *m, const lk_request *req, json_t *body, lk_response *out, lk_error *err) {
    char why[256];
    if (req->n_tools > 0) {
        json_t *tools = json_array();
        json_object_set_new(body, "tools", tools);
        for (size_t i = 0; i < req->n_tools; i++) {
            const lk_tool *t = &req->tools[i];
            json_t *fn = json_pack("{s:s}", "name", t->name);
            if (t->description) json_object_set_new(fn, "description", json_string(t->description));
            if (t->parameters) {
                json_t *schema = api_json_object(t->parameters, why, sizeof why);
                if (!schema) {
                    json_decref(fn);
                    return lk_errorf(err, LK_EINVAL, "%s: tool '%s': parameters: %s", m->spec, t->name, why);
                }
                json_object_set_new(fn, "parameters", schema);
            }
            json_array_append_new(tools, json_pack("{s:s, s:o}", "type", "function", "function", fn));
        }
    }
    const char *tc = req->tool_choice;
    if (tc) {
        if (strcmp(tc, "auto") == 0 || strcmp(tc, "none") == 0 || strcmp(tc, "required") == 0) {
            json_object_set_new(body, "tool_choice", json_string(tc));
        } else {
            bool known = false;
            for (size_t i = 0; i < req->n_tools; i++) known |= strcmp(req->tools[i].name, tc) == 0;
            if (!known)
                return lk_errorf(err, LK_EINVAL, "%s: tool_choice names '%s', which is not one of the request's tools",
                                 m->spec, tc);
            json_object_set_new(body, "tool_choice",
                                json_pack("{s:s, s:{s:s}}", "type", "function", "function", "name", tc));
        }
    }
    if (req->response_format) {
        json_t *schema = api_json_object(req->response_format, why, sizeof why);
        if (!schema) return lk_errorf(err, LK_EINVAL, "%s: response_format: %s", m->spec, why);
        bool strict = strict_ok(schema, 0);
        if (!strict)
            resp_warn(out, "response_format: the schema does not meet OpenAI's strict mode (every object needs "
                      "\"additionalProperties\": false and all its properties required); sent with strict false, "
                      "so the answer follows it best-effort");
        json_object_set_new(body, "response_format",
                            json_pack("{s:s, s:{s:s, s:o, s:b}}", "type", "json_schema", "json_schema", "name",
                                      "response", "schema", schema, "strict", strict));
    }
    return 0;
}

/* Sampling and output settings, shared by chat and legacy completions. */
static int add_settings(lk_model *m, const openai_model *om, const lk_request *req, json_t *b,
                        lk_response *out, lk_error *err, bool legacy) {
    int rc = 0;
    if (req_set_f(req->temperature)) json_object_set_new(b, "temperature", api_json_float(req->temperature));
    if (req_set_f(req->top_p)) json_object_set_new(b, "top_p", api_json_float(req->top_p));
    if (req->has_seed) json_object_set_new(b, "seed", json_integer((json_int_t)req->seed));
    if (req->max_tokens > 0)
        json_object_set_new(b, om->openai && !legacy ? "max_completion_tokens" : "max_tokens",
                            json_integer(req->max_tokens));
    if (req_set_f(req->frequency_penalty))
        json_object_set_new(b, "frequency_penalty", api_json_float(req->frequency_penalty));
    if (req_set_f(req->presence_penalty))
        json_object_set_new(b, "presence_penalty", api_json_float(req->presence_penalty));

    if (req->n_stop > 0) {
        size_t n = req->n_stop;
        if (om->openai && n > 4) {
            if ((rc = resp_unsupported(m, req, out, err, "more than 4 stop strings (the first 4 are sent)")))
                return rc;
            n = 4;
        }
        json_t *stop = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(stop, json_string(req->stop[i]));
        json_object_set_new(b, "stop", stop);
    }

    if (req->n_logit_bias > 0) {
        json_t *bias = json_object();
        for (size_t i = 0; i < req->n_logit_bias; i++) {
            float v = req->logit_bias[i].bias;
            if (v != v) {
                json_decref(bias);
                return lk_errorf(err, LK_EINVAL, "%s: logit_bias[%zu] (token %d) is NaN", m->spec, i,
                                 req->logit_bias[i].token);
            }
            v = v < -100 ? -100 : v > 100 ? 100 : v;
            char key[16];
            snprintf(key, sizeof key, "%d", (int)req->logit_bias[i].token);
            json_object_set_new(bias, key, api_json_float(v));
        }
        json_object_set_new(b, "logit_bias", bias);
    }

    if (req->logprobs > 0) {
        if (legacy) {
            json_object_set_new(b, "logprobs", json_integer(req->logprobs - 1));
        } else {
            json_object_set_new(b, "logprobs", json_true());
            json_object_set_new(b, "top_logprobs", json_integer(req->logprobs - 1));
        }
    }

    /* llama.cpp / vLLM sampling extensions */
    struct { const char *name; bool set; json_t *value; } ext[] = {
        { "top_k", req_set_i(req->top_k), json_integer(req->top_k) },
        { "min_p", req_set_f(req->min_p), api_json_float(req->min_p) },
        { "typical_p", req_set_f(req->typical_p), api_json_float(req->typical_p) },
        { "repeat_penalty", req_set_f(req->repeat_penalty), api_json_float(req->repeat_penalty) },
        { "mirostat", om->openai ? req->mirostat > 0 : req_set_i(req->mirostat), json_integer(req->mirostat) },
        { "mirostat_tau", req_set_f(req->mirostat_tau), api_json_float(req->mirostat_tau) },
        { "mirostat_eta", req_set_f(req->mirostat_eta), api_json_float(req->mirostat_eta) },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(ext); i++) {
        if (ext[i].set && !rc) {
            if (om->openai) rc = resp_unsupported(m, req, out, err, ext[i].name);
            else json_object_set(b, ext[i].name, ext[i].value);
        }
        json_decref(ext[i].value);
    }
    return rc;
}

/* The request body (chat, or legacy completion when req->prompt is set). */
static int build_body(lk_model *m, const openai_model *om, const lk_request *req, lk_response *out,
                      json_t **bodyp, lk_error *err) {
    bool legacy = req->prompt != NULL;
    json_t *b = json_pack("{s:s}", "model", om->c.model);
    int rc = 0;
    if (legacy) {
        json_object_set_new(b, "prompt", json_string(req->prompt));
        if (req->no_bos) rc = resp_unsupported(m, req, out, err, "no_bos");
        if (!rc && req->parse_special) rc = resp_unsupported(m, req, out, err, "parse_special");
        if (!rc && req->n_tools) rc = resp_unsupported(m, req, out, err, "tools (with a plain prompt)");
        if (!rc && req->tool_choice) rc = resp_unsupported(m, req, out, err, "tool_choice (with a plain prompt)");
        if (!rc && req->response_format)
            rc = resp_unsupported(m, req, out, err, "response_format (with a plain prompt)");
    } else {
        rc = add_messages(m, req, b);
        if (!rc) rc = add_tools(m, req, b, out, err);
    }
    if (!rc) rc = add_settings(m, om, req, b, out, err, legacy);
    if (!rc && req->stream) {
        json_object_set_new(b, "stream", json_true());
        json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
    }
    if (rc) {
        json_decref(b);
        return rc;
    }
    *bodyp = b;
    return 0;
}

/* Headers: the key (when there is one), content type, accept. Returns the count; *auth holds
 * the Authorization line, to be wiped and freed by the caller. */
static size_t make_headers(const openai_model *om, bool stream, const char *hdr[3], char **auth) {
    size_t n = 0;
    *auth = NULL;
    if (om->c.api_key) {
        lk_buf a = {0};
        lk_buf_printf(&a, "Authorization: Bearer %s", om->c.api_key);
        hdr[n++] = *auth = a.data;
    }
    hdr[n++] = "Content-Type: application/json";
    hdr[n++] = stream ? "Accept: text/event-stream" : "Accept: application/json";
    return n;
}

static void wipe(char *s) {
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

static int openai_chat(lk_model *m, const lk_request *req, lk_token_cb on_token, void *ud, lk_response *out,
                       lk_error *err) {
    openai_model *om = m->impl;
    json_t *body = NULL;
    int rc = build_body(m, om, req, out, &body, err);
    if (rc) {
        resp_set(&out->finish_reason, "error");
        return rc;
    }
    char *text = api_json_dump(body);
    json_decref(body);
    lk_buf url = {0};
    lk_buf_printf(&url, "%s/%s", om->c.base_url, req->prompt ? "completions" : "chat/completions");
    const char *hdr[3];
    char *auth;
    size_t nh = make_headers(om, req->stream, hdr, &auth);

    api_parse p;
    api_parse_init(&p, m, out, on_token, ud, err, om->c.api_key);
    openai_parser(&p, req->prompt != NULL);
    rc = api_post(&om->c, req, url.data, hdr, nh, text, req->stream, &p);
    api_parse_free(&p);
    wipe(auth);
    free(text);
    lk_buf_free(&url);
    return rc;
}

/* ---- embeddings ---- */

enum { EMBED_BATCH = 256 };

/* Place one batch's vectors (texts [start, start + n)) into out by their "index". */
static int take_embeddings(lk_model *m, json_t *j, size_t start, size_t n, lk_embeddings *out, bool *seen,
                           lk_error *err) {
    json_t *data = json_object_get(j, "data");
    if (!json_is_array(data))
        return lk_errorf(err, LK_EFORMAT, "%s: embeddings answer has no \"data\" array", m->spec);
    size_t k;
    json_t *item;
    memset(seen, 0, n * sizeof *seen);
    json_array_foreach(data, k, item) {
        json_t *idx = json_object_get(item, "index"), *vec = json_object_get(item, "embedding");
        json_int_t ix = json_is_integer(idx) ? json_integer_value(idx) : (json_int_t)k;
        if (ix < 0 || (size_t)ix >= n || seen[ix])
            return lk_errorf(err, LK_EFORMAT, "%s: embeddings data[%zu] has index %" JSON_INTEGER_FORMAT
                             "; expected a distinct index below %zu", m->spec, k, ix, n);
        if (!json_is_array(vec) || json_array_size(vec) == 0)
            return lk_errorf(err, LK_EFORMAT, "%s: embeddings data[%zu] has no \"embedding\" array of numbers",
                             m->spec, k);
        size_t dim = json_array_size(vec);
        if (!out->data) {
            if (dim > ((size_t)1 << 20) || start + n > SIZE_MAX / dim / sizeof(float))
                return lk_errorf(err, LK_EFORMAT, "%s: embeddings have an absurd dimension %zu", m->spec, dim);
            out->dim = dim;
            out->data = calloc(out->n * dim, sizeof(float));
            if (!out->data) return lk_errorf(err, LK_ENOMEM, "%s: no memory for %zu embeddings", m->spec, out->n);
        } else if (dim != out->dim) {
            return lk_errorf(err, LK_EFORMAT, "%s: embedding %zu has %zu dimensions; earlier ones have %zu", m->spec,
                             start + (size_t)ix, dim, out->dim);
        }
        float *v = out->data + (start + (size_t)ix) * out->dim;
        for (size_t d = 0; d < dim; d++) {
            json_t *x = json_array_get(vec, d);
            if (!json_is_number(x))
                return lk_errorf(err, LK_EFORMAT, "%s: embedding %zu, component %zu is not a number", m->spec,
                                 start + (size_t)ix, d);
            v[d] = (float)json_number_value(x);
        }
        seen[ix] = true;
    }
    for (size_t i = 0; i < n; i++)
        if (!seen[i]) return lk_errorf(err, LK_EFORMAT, "%s: no embedding came back for text %zu", m->spec, start + i);
    out->usage.prompt_tokens += api_jint(json_object_get(j, "usage"), "prompt_tokens");
    return 0;
}

static int openai_embed(lk_model *m, const char *const *texts, size_t n, lk_embeddings *out, lk_error *err) {
    openai_model *om = m->impl;
    lk_buf url = {0};
    lk_buf_printf(&url, "%s/embeddings", om->c.base_url);
    const char *hdr[3];
    char *auth;
    size_t nh = make_headers(om, false, hdr, &auth);
    bool seen[EMBED_BATCH];
    out->n = n;
    int rc = 0;
    for (size_t start = 0; start < n && !rc; start += EMBED_BATCH) {
        size_t bn = LK_MIN((size_t)EMBED_BATCH, n - start);
        json_t *input = json_array();
        for (size_t i = 0; i < bn; i++) json_array_append_new(input, json_string(texts[start + i]));
        json_t *body = json_pack("{s:s, s:o, s:s}", "model", om->c.model, "input", input, "encoding_format", "float");
        char *text = api_json_dump(body);
        json_decref(body);
        json_t *j = NULL;
        rc = api_post_json(&om->c, m, url.data, hdr, nh, text, &j, err);
        if (!rc) rc = take_embeddings(m, j, start, bn, out, seen, err);
        json_decref(j);
        free(text);
    }
    if (!rc && n > 0 && !out->data) rc = lk_errorf(err, LK_EFORMAT, "%s: no embeddings came back", m->spec);
    wipe(auth);
    lk_buf_free(&url);
    return rc;
}

/* ---- the response ---- */

static void add_usage(lk_response *out, const json_t *u) {
    if (!json_is_object(u)) return;
    out->usage.prompt_tokens = api_jint(u, "prompt_tokens");
    out->usage.completion_tokens = api_jint(u, "completion_tokens");
    out->usage.cached_tokens = api_jint(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
}

static void add_logprob(lk_response *out, const char *token, double lp, lk_top_logprob *top, size_t n_top) {
    out->logprobs = lk_xrealloc(out->logprobs, (out->n_logprobs + 1) * sizeof *out->logprobs);
    out->logprobs[out->n_logprobs++] = (lk_logprob){ lk_xstrdup(token ? token : ""), (float)lp, top, n_top };
}

/* Chat: {"content": [{"token","logprob","top_logprobs":[{"token","logprob"}]}]}. Legacy:
 * {"tokens":[...], "token_logprobs":[...], "top_logprobs":[{"tok": lp, ...}]}. */
static void add_logprobs(lk_response *out, const json_t *lp) {
    size_t i, k;
    json_t *item, *t;
    json_array_foreach(json_object_get(lp, "content"), i, item) {
        json_t *tops = json_object_get(item, "top_logprobs");
        size_t n_top = json_is_array(tops) ? json_array_size(tops) : 0;
        lk_top_logprob *top = n_top ? lk_xcalloc(n_top, sizeof *top) : NULL;
        json_array_foreach(tops, k, t) {
            top[k].token = lk_xstrdup(api_jstr(t, "token") ? api_jstr(t, "token") : "");
            top[k].logprob = (float)json_number_value(json_object_get(t, "logprob"));
        }
        add_logprob(out, api_jstr(item, "token"), json_number_value(json_object_get(item, "logprob")), top, n_top);
    }
    json_t *tokens = json_object_get(lp, "tokens"), *lps = json_object_get(lp, "token_logprobs");
    json_t *tops = json_object_get(lp, "top_logprobs");
    json_array_foreach(tokens, i, t) {
        json_t *alts = json_array_get(tops, i);
        size_t n_top = json_is_object(alts) ? json_object_size(alts) : 0, j = 0;
        lk_top_logprob *top = n_top ? lk_xcalloc(n_top, sizeof *top) : NULL;
        const char *key;
        json_t *v;
        json_object_foreach(alts, key, v) {
            top[j].token = lk_xstrdup(key);
            top[j++].logprob = (float)json_number_value(v);
        }
        add_logprob(out, json_string_value(t), json_number_value(json_array_get(lps, i)), top, n_top);
    }
}

/* An "error" member where an answer was expected: LK_EREMOTE. */
static int body_error(api_parse *p, const json_t *j, const char *where) {
    json_t *e = json_object_get(j, "error");
    if (!e || json_is_null(e)) return 0;
    char tbuf[128], cbuf[128];
    if (json_is_string(e)) return api_remote_error(p, where, json_string_value(e), NULL, NULL);
    return api_remote_error(p, where, api_jstr(e, "message"), api_jtext(e, "type", tbuf, sizeof tbuf),
                            api_jtext(e, "code", cbuf, sizeof cbuf));
}

static void set_ids(api_parse *p, const json_t *j) {
    if (api_jstr(j, "id")) resp_set(&p->out->id, api_jstr(j, "id"));
    if (api_jstr(j, "model")) resp_set(&p->out->model, api_jstr(j, "model"));
}

/* Tool-call fragments (or, whole, a message's tool calls): merged by index. */
static void take_tool_calls(api_parse *p, const json_t *calls, const json_t *function_call) {
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
        json_t *ix = json_object_get(c, "index"), *fn = json_object_get(c, "function");
        api_tool_acc *t = api_tool(p, json_is_integer(ix) ? (long)json_integer_value(ix) : (long)i);
        if (!t->id && api_jstr(c, "id")) t->id = lk_xstrdup(api_jstr(c, "id"));
        if (!t->name && api_jstr(fn, "name")) t->name = lk_xstrdup(api_jstr(fn, "name"));
        if (api_jstr(fn, "arguments")) lk_buf_puts(&t->args, api_jstr(fn, "arguments"));
    }
    if (json_is_object(function_call)) { /* the deprecated single function call */
        api_tool_acc *t = api_tool(p, -1);
        if (!t->name && api_jstr(function_call, "name")) t->name = lk_xstrdup(api_jstr(function_call, "name"));
        if (api_jstr(function_call, "arguments")) lk_buf_puts(&t->args, api_jstr(function_call, "arguments"));
    }
}

/* The choice with index 0 (servers may send several with "n"). */
static json_t *first_choice(const json_t *j) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "choices"), i, c) {
        json_t *ix = json_object_get(c, "index");
        if (!ix || (json_is_integer(ix) && json_integer_value(ix) == 0)) return c;
    }
    return NULL;
}

static int openai_body(api_parse *p, const char *body, size_t len) {
    int rc;
    json_t *j = api_load_object(p, body, len, "the answer", &rc);
    if (!j) return rc;
    if ((rc = body_error(p, j, "error in the answer"))) goto done;
    set_ids(p, j);
    add_usage(p->out, json_object_get(j, "usage"));
    json_t *c = first_choice(j);
    if (!c) {
        rc = lk_errorf(p->err, LK_EFORMAT, "%s: the answer has no choices", p->m->spec);
        goto done;
    }
    json_t *msg = json_object_get(c, "message");
    const char *text = p->legacy ? api_jstr(c, "text") : api_jstr(msg, "content");
    if (!text) text = api_jstr(msg, "refusal");
    take_tool_calls(p, json_object_get(msg, "tool_calls"), json_object_get(msg, "function_call"));
    add_logprobs(p->out, json_object_get(c, "logprobs"));
    api_finish_reason(p, api_jstr(c, "finish_reason"));
    if (text) api_text(p, text, strlen(text));
    else resp_first_token(p->m, p->out);
done:
    json_decref(j);
    return rc;
}

static int openai_event(api_parse *p, const char *type, const char *data, size_t len) {
    while (len > 0 && api_is_space(data[len - 1])) len--;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        p->done = true;
        return 0;
    }
    char what[64];
    snprintf(what, sizeof what, "the stream event before byte %llu", (unsigned long long)p->bytes);
    int rc;
    json_t *j = api_load_object(p, data, len, what, &rc);
    if (!j) return rc;
    if ((rc = body_error(p, j, "error in the stream"))) goto done;
    set_ids(p, j);
    add_usage(p->out, json_object_get(j, "usage"));
    json_t *c = first_choice(j);
    if (!c) goto done;
    json_t *delta = json_object_get(c, "delta");
    const char *text = p->legacy ? api_jstr(c, "text") : api_jstr(delta, "content");
    if (!text) text = api_jstr(delta, "refusal");
    take_tool_calls(p, json_object_get(delta, "tool_calls"), json_object_get(delta, "function_call"));
    add_logprobs(p->out, json_object_get(c, "logprobs"));
    if (text && !api_text(p, text, strlen(text))) goto done;
    api_finish_reason(p, api_jstr(c, "finish_reason"));
done:
    json_decref(j);
    return rc;
}

void openai_parser(api_parse *p, bool legacy) {
    p->legacy = legacy;
    p->on_body = openai_body;
    p->on_event = openai_event;
}

/* ---- the backend ---- */

static const model_ops openai_ops = { .chat = openai_chat, .embed = openai_embed, .free = api_model_free };

int openai_open(lk_model *m, const api_config *cfg, lk_error *err) {
    if (!cfg->base_url || !*cfg->base_url)
        return lk_errorf(err, LK_EINVAL, "%s: no base URL", m->spec ? m->spec : "openai");
    openai_model *om = lk_xcalloc(1, sizeof *om);
    api_conf_copy(&om->c, cfg);
    om->openai = strcmp(om->c.kind, "openai") == 0;
    m->impl = om;
    m->ops = &openai_ops;
    return 0;
}

/* anthropic.c — the lk_model backend for Anthropic's Messages API (POST {base}/messages).
 *
 * The request side turns an lk_request into the Messages shape: system messages become the
 * top-level "system" string, tool calls become tool_use blocks, tool answers become tool_result
 * blocks in a user turn, and consecutive turns of one role are merged (the API wants user and
 * assistant to alternate). Settings the API has no field for are reported through
 * resp_unsupported(). The response side (anthropic_parser) reads a message object or the
 * documented event stream (message_start ... message_stop); the stream bookkeeping is
 * api_common.c's. No embeddings: Anthropic has no embeddings endpoint. */
#include "models/api_common.h"

typedef struct anthropic_model {
    api_conf c;
} anthropic_model;

/* ---- the request ---- */

/* The message to add blocks of role to: the last one when it has that role, else a new one. */
static json_t *turn(json_t *msgs, const char *role) {
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    if (last && strcmp(api_jstr(last, "role"), role) == 0) return json_object_get(last, "content");
    json_t *content = json_array();
    json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", role, "content", content));
    return content;
}

static int add_messages(lk_model *m, const lk_request *req, json_t *body, lk_error *err) {
    json_t *msgs = json_array();
    lk_buf system = {0};
    char why[256];
    int rc = 0;
    for (size_t i = 0; i < req->n_messages && !rc; i++) {
        const lk_message *msg = &req->messages[i];
        const char *text = msg->content ? msg->content : "";
        if (strcmp(msg->role, "system") == 0) {
            if (system.len && *text) lk_buf_puts(&system, "\n\n");
            lk_buf_puts(&system, text);
        } else if (strcmp(msg->role, "user") == 0) {
            json_array_append_new(turn(msgs, "user"), json_pack("{s:s, s:s}", "type", "text", "text", text));
        } else if (strcmp(msg->role, "assistant") == 0) {
            json_t *content = turn(msgs, "assistant");
            if (*text || msg->n_tool_calls == 0)
                json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", text));
            for (size_t k = 0; k < msg->n_tool_calls; k++) {
                const lk_tool_call *tc = &msg->tool_calls[k];
                const char *args = tc->arguments && *tc->arguments ? tc->arguments : "{}";
                json_t *input = api_json_object(args, why, sizeof why);
                if (!input) {
                    rc = lk_errorf(err, LK_EINVAL, "%s: messages[%zu].tool_calls[%zu] ('%s'): arguments: %s", m->spec,
                                   i, k, tc->name, why);
                    break;
                }
                json_array_append_new(content, json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id", tc->id,
                                                         "name", tc->name, "input", input));
            }
        } else if (strcmp(msg->role, "tool") == 0) {
            json_array_append_new(turn(msgs, "user"),
                                  json_pack("{s:s, s:s, s:s}", "type", "tool_result", "tool_use_id",
                                            msg->tool_call_id ? msg->tool_call_id : "", "content", text));
        } else {
            rc = lk_errorf(err, LK_EINVAL, "%s: messages[%zu] has role '%s'; expected system, user, assistant or tool",
                           m->spec, i, msg->role);
        }
    }
    if (rc) {
        json_decref(msgs);
        lk_buf_free(&system);
        return rc;
    }
    /* a turn that is a single text block is sent as a plain string, as the documentation does */
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg) {
        json_t *content = json_object_get(msg, "content"), *b0 = json_array_get(content, 0);
        if (json_array_size(content) == 1 && strcmp(api_jstr(b0, "type"), "text") == 0)
            json_object_set_new(msg, "content", json_string(api_jstr(b0, "text")));
    }
    if (system.len) json_object_set_new(body, "system", json_string(system.data));
    json_object_set_new(body, "messages", msgs);
    lk_buf_free(&system);
    return 0;
}

static int add_tools(lk_model *m, const lk_request *req, json_t *body, lk_error *err) {
    char why[256];
    if (req->n_tools > 0) {
        json_t *tools = json_array();
        json_object_set_new(body, "tools", tools);
        for (size_t i = 0; i < req->n_tools; i++) {
            const lk_tool *t = &req->tools[i];
            json_t *schema = t->parameters ? api_json_object(t->parameters, why, sizeof why)
                                           : json_pack("{s:s, s:{}}", "type", "object", "properties");
            if (!schema) return lk_errorf(err, LK_EINVAL, "%s: tool '%s': parameters: %s", m->spec, t->name, why);
            json_t *o = json_pack("{s:s}", "name", t->name);
            if (t->description) json_object_set_new(o, "description", json_string(t->description));
            json_object_set_new(o, "input_schema", schema);
            json_array_append_new(tools, o);
        }
    }
    const char *tc = req->tool_choice;
    if (tc) {
        json_t *choice;
        if (strcmp(tc, "auto") == 0) {
            choice = json_pack("{s:s}", "type", "auto");
        } else if (strcmp(tc, "required") == 0) {
            choice = json_pack("{s:s}", "type", "any");
        } else if (strcmp(tc, "none") == 0) {
            choice = json_pack("{s:s}", "type", "none");
        } else {
            bool known = false;
            for (size_t i = 0; i < req->n_tools; i++) known |= strcmp(req->tools[i].name, tc) == 0;
            if (!known)
                return lk_errorf(err, LK_EINVAL, "%s: tool_choice names '%s', which is not one of the request's tools",
                                 m->spec, tc);
            choice = json_pack("{s:s, s:s}", "type", "tool", "name", tc);
        }
        json_object_set_new(body, "tool_choice", choice);
    }
    return 0;
}

/* Settings the Messages API has no field for. */
static int check_unsupported(lk_model *m, const lk_request *req, lk_response *out, lk_error *err) {
    struct { const char *name; bool set; } unsupported[] = {
        { "prompt (plain completion; sent as a user message)", req->prompt != NULL },
        { "no_bos", req->no_bos },
        { "parse_special", req->parse_special },
        { "seed", req->has_seed },
        { "min_p", req_set_f(req->min_p) },
        { "typical_p", req_set_f(req->typical_p) },
        { "repeat_penalty", req_set_f(req->repeat_penalty) },
        { "frequency_penalty", req_set_f(req->frequency_penalty) },
        { "presence_penalty", req_set_f(req->presence_penalty) },
        { "mirostat", req->mirostat > 0 },
        { "mirostat_tau", req_set_f(req->mirostat_tau) },
        { "mirostat_eta", req_set_f(req->mirostat_eta) },
        { "logit_bias", req->n_logit_bias > 0 },
        { "logprobs", req->logprobs > 0 },
        { "response_format", req->response_format != NULL },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(unsupported); i++) {
        int rc = unsupported[i].set ? resp_unsupported(m, req, out, err, unsupported[i].name) : 0;
        if (rc) return rc;
    }
    return 0;
}

static int build_body(lk_model *m, const anthropic_model *am, const lk_request *req, lk_response *out,
                      json_t **bodyp, lk_error *err) {
    int rc = check_unsupported(m, req, out, err);
    if (rc) return rc;
    json_t *b = json_pack("{s:s, s:i}", "model", am->c.model, "max_tokens", req->max_tokens > 0 ? req->max_tokens : 4096);
    if (req->prompt) {
        lk_message one = { .role = "user", .content = req->prompt };
        lk_request r1 = *req;
        r1.messages = &one;
        r1.n_messages = 1;
        rc = add_messages(m, &r1, b, err);
    } else {
        rc = add_messages(m, req, b, err);
    }
    if (!rc) rc = add_tools(m, req, b, err);
    if (rc) {
        json_decref(b);
        return rc;
    }
    if (req_set_f(req->temperature)) json_object_set_new(b, "temperature", api_json_float(req->temperature));
    if (req_set_f(req->top_p)) json_object_set_new(b, "top_p", api_json_float(req->top_p));
    if (req_set_i(req->top_k)) json_object_set_new(b, "top_k", json_integer(req->top_k));
    if (req->n_stop > 0) {
        json_t *stop = json_array();
        for (size_t i = 0; i < req->n_stop; i++) json_array_append_new(stop, json_string(req->stop[i]));
        json_object_set_new(b, "stop_sequences", stop);
    }
    if (req->stream) json_object_set_new(b, "stream", json_true());
    *bodyp = b;
    return 0;
}

static int anthropic_chat(lk_model *m, const lk_request *req, lk_token_cb on_token, void *ud, lk_response *out,
                          lk_error *err) {
    anthropic_model *am = m->impl;
    json_t *body = NULL;
    int rc = build_body(m, am, req, out, &body, err);
    if (rc) {
        resp_set(&out->finish_reason, "error");
        return rc;
    }
    char *text = api_json_dump(body);
    json_decref(body);
    lk_buf url = {0}, key = {0};
    lk_buf_printf(&url, "%s/messages", am->c.base_url);
    const char *hdr[4];
    size_t nh = 0;
    if (am->c.api_key) {
        lk_buf_printf(&key, "x-api-key: %s", am->c.api_key);
        hdr[nh++] = key.data;
    }
    hdr[nh++] = "anthropic-version: 2023-06-01";
    hdr[nh++] = "content-type: application/json";
    hdr[nh++] = req->stream ? "accept: text/event-stream" : "accept: application/json";

    api_parse p;
    api_parse_init(&p, m, out, on_token, ud, err, am->c.api_key);
    anthropic_parser(&p);
    rc = api_post(&am->c, req, url.data, hdr, nh, text, req->stream, &p);
    api_parse_free(&p);
    if (key.data) memset(key.data, 0, key.len);
    lk_buf_free(&key);
    lk_buf_free(&url);
    free(text);
    return rc;
}

/* ---- the response ---- */

/* usage: {input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens};
 * a message_delta may carry only some of them. prompt_tokens counts all three inputs. */
static void take_usage(lk_response *out, const json_t *u) {
    if (!json_is_object(u)) return;
    lk_usage *us = &out->usage;
    json_t *in = json_object_get(u, "input_tokens"), *rd = json_object_get(u, "cache_read_input_tokens");
    json_t *wr = json_object_get(u, "cache_creation_input_tokens");
    if (json_is_integer(in) || json_is_integer(rd) || json_is_integer(wr)) {
        int64_t input = us->prompt_tokens - us->cached_tokens - us->cache_write_tokens;
        if (json_is_integer(in)) input = json_integer_value(in);
        if (json_is_integer(rd)) us->cached_tokens = json_integer_value(rd);
        if (json_is_integer(wr)) us->cache_write_tokens = json_integer_value(wr);
        us->prompt_tokens = input + us->cached_tokens + us->cache_write_tokens;
    }
    if (json_is_integer(json_object_get(u, "output_tokens"))) us->completion_tokens = api_jint(u, "output_tokens");
}

static void set_ids(api_parse *p, const json_t *msg) {
    if (api_jstr(msg, "id")) resp_set(&p->out->id, api_jstr(msg, "id"));
    if (api_jstr(msg, "model")) resp_set(&p->out->model, api_jstr(msg, "model"));
}

/* {"type":"error","error":{"type","message"}} */
static int error_object(api_parse *p, const json_t *j, const char *where) {
    json_t *e = json_object_get(j, "error");
    if (!e && !(api_jstr(j, "type") && strcmp(api_jstr(j, "type"), "error") == 0)) return 0;
    if (json_is_string(e)) return api_remote_error(p, where, json_string_value(e), NULL, NULL);
    return api_remote_error(p, where, api_jstr(e, "message"), api_jstr(e, "type"), NULL);
}

static int anthropic_body(api_parse *p, const char *body, size_t len) {
    int rc;
    json_t *j = api_load_object(p, body, len, "the answer", &rc);
    if (!j) return rc;
    if ((rc = error_object(p, j, "error in the answer"))) goto done;
    set_ids(p, j);
    take_usage(p->out, json_object_get(j, "usage"));
    lk_buf text = {0};
    size_t i;
    json_t *block;
    json_array_foreach(json_object_get(j, "content"), i, block) {
        const char *type = api_jstr(block, "type");
        if (!type) continue;
        if (strcmp(type, "text") == 0 && api_jstr(block, "text")) {
            lk_buf_puts(&text, api_jstr(block, "text"));
        } else if (strcmp(type, "tool_use") == 0) {
            api_tool_acc *t = api_tool(p, (long)i);
            if (api_jstr(block, "id")) t->id = lk_xstrdup(api_jstr(block, "id"));
            if (api_jstr(block, "name")) t->name = lk_xstrdup(api_jstr(block, "name"));
            json_t *input = json_object_get(block, "input");
            char *args = input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            if (args) lk_buf_puts(&t->args, args);
            free(args);
        }
    }
    api_finish_reason(p, api_jstr(j, "stop_reason"));
    if (text.len) api_text(p, text.data, text.len);
    else resp_first_token(p->m, p->out);
    lk_buf_free(&text);
done:
    json_decref(j);
    return rc;
}

static int anthropic_event(api_parse *p, const char *evtype, const char *data, size_t len) {
    char what[80];
    snprintf(what, sizeof what, "the '%.32s' event before byte %llu", evtype, (unsigned long long)p->bytes);
    int rc;
    json_t *j = api_load_object(p, data, len, what, &rc);
    if (!j) return rc;
    const char *type = api_jstr(j, "type") ? api_jstr(j, "type") : evtype;
    long index = (long)api_jint(j, "index");
    if (strcmp(type, "error") == 0) {
        rc = error_object(p, j, "error in the stream");
        if (!rc) rc = api_remote_error(p, "error in the stream", NULL, NULL, NULL);
    } else if (strcmp(type, "message_start") == 0) {
        json_t *msg = json_object_get(j, "message");
        set_ids(p, msg);
        take_usage(p->out, json_object_get(msg, "usage"));
    } else if (strcmp(type, "content_block_start") == 0) {
        json_t *block = json_object_get(j, "content_block");
        const char *btype = api_jstr(block, "type");
        if (btype && strcmp(btype, "tool_use") == 0) {
            api_tool_acc *t = api_tool(p, index);
            if (!t->id && api_jstr(block, "id")) t->id = lk_xstrdup(api_jstr(block, "id"));
            if (!t->name && api_jstr(block, "name")) t->name = lk_xstrdup(api_jstr(block, "name"));
        } else if (btype && strcmp(btype, "text") == 0 && api_jstr(block, "text")) {
            api_text(p, api_jstr(block, "text"), strlen(api_jstr(block, "text")));
        }
    } else if (strcmp(type, "content_block_delta") == 0) {
        json_t *delta = json_object_get(j, "delta");
        const char *dtype = api_jstr(delta, "type");
        if (dtype && strcmp(dtype, "text_delta") == 0 && api_jstr(delta, "text")) {
            api_text(p, api_jstr(delta, "text"), strlen(api_jstr(delta, "text")));
        } else if (dtype && strcmp(dtype, "input_json_delta") == 0) {
            api_tool_acc *t = api_tool(p, index);
            if (api_jstr(delta, "partial_json")) lk_buf_puts(&t->args, api_jstr(delta, "partial_json"));
        } /* thinking_delta, signature_delta, citations_delta: not part of the answer's text */
    } else if (strcmp(type, "message_delta") == 0) {
        api_finish_reason(p, api_jstr(json_object_get(j, "delta"), "stop_reason"));
        take_usage(p->out, json_object_get(j, "usage"));
    } else if (strcmp(type, "message_stop") == 0) {
        p->done = true;
    } /* ping, content_block_stop and event types added later: nothing to do */
    json_decref(j);
    return rc;
}

void anthropic_parser(api_parse *p) {
    p->legacy = false;
    p->need_marker = true;
    p->on_body = anthropic_body;
    p->on_event = anthropic_event;
}

/* ---- the backend ---- */

static const model_ops anthropic_ops = { .chat = anthropic_chat, .free = api_model_free };

int anthropic_open(lk_model *m, const api_config *cfg, lk_error *err) {
    anthropic_model *am = lk_xcalloc(1, sizeof *am);
    api_conf_copy(&am->c, cfg);
    if (!*am->c.base_url) {
        free(am->c.base_url);
        am->c.base_url = lk_xstrdup("https://api.anthropic.com/v1");
    }
    m->impl = am;
    m->ops = &anthropic_ops;
    return 0;
}

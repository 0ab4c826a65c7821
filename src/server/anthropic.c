/* anthropic.c — the Anthropic route: POST /v1/messages.
 *
 * The request is checked as Anthropic's API checks it (max_tokens required, messages an array
 * of user / assistant turns, content a string or blocks, system a string or text blocks) and
 * turned into an lk_request: tool_use blocks become assistant tool calls, tool_result blocks
 * become tool messages. The answer is a message object, or the documented event sequence:
 * message_start, content_block_start, ping, content_block_delta..., content_block_stop (then a
 * tool_use block per tool call), message_delta (stop reason and usage), message_stop. */
#include "server/srv.h"

typedef struct an_state {
    json_t *body;
    srv_strs keep;
    char id[64];
    const char *model;
} an_state;

static void an_free(void *p) {
    an_state *st = p;
    json_decref(st->body);
    srv_strs_free(&st->keep);
    free(st);
}

static const char *stop_reason(const lk_response *r) {
    const char *f = r->finish_reason ? r->finish_reason : "stop";
    if (!strcmp(f, "length")) return "max_tokens";
    if (!strcmp(f, "tool_calls")) return "tool_use";
    if (!strcmp(f, "content_filter")) return "refusal";
    return "end_turn";
}

/* Anthropic's input_tokens excludes the tokens read from or written to the cache. */
static json_t *usage_json(const lk_usage *u) {
    long long in = u->prompt_tokens - u->cached_tokens - u->cache_write_tokens;
    return json_pack("{s:I,s:I,s:I,s:I}", "input_tokens", (json_int_t)(in > 0 ? in : 0), "output_tokens",
                     (json_int_t)u->completion_tokens, "cache_creation_input_tokens", (json_int_t)u->cache_write_tokens,
                     "cache_read_input_tokens", (json_int_t)u->cached_tokens);
}

static json_t *tool_input(const char *args) {
    json_t *j = args ? json_loads(args, JSON_DECODE_ANY, NULL) : NULL;
    if (j && json_is_object(j)) return j;
    json_decref(j);
    return json_object();
}

/* Text of a string or of an array of text blocks (joined by newlines); NULL after filling e. */
static char *text_of(json_t *v, const char *path, srv_err *e) {
    if (json_is_string(v)) return lk_xstrdup(json_string_value(v));
    if (!json_is_array(v)) {
        srv_errf(e, 400, NULL, "%s: Input should be a valid string or a list of text blocks, got %s", path, srv_json_type(v));
        return NULL;
    }
    lk_buf b = {0};
    size_t i;
    json_t *blk;
    json_array_foreach(v, i, blk) {
        json_t *type = json_object_get(blk, "type"), *text = json_object_get(blk, "text");
        if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0 || !json_is_string(text)) {
            srv_errf(e, 400, NULL, "%s.%zu: expected a text block {\"type\": \"text\", \"text\": ...}%s%s%s", path, i,
                     json_is_string(type) ? " ('" : "", json_is_string(type) ? json_string_value(type) : "",
                     json_is_string(type) ? "' blocks are not supported here)" : "");
            lk_buf_free(&b);
            return NULL;
        }
        if (b.len) lk_buf_putc(&b, '\n');
        lk_buf_append(&b, json_string_value(text), json_string_length(text));
    }
    return b.data ? b.data : lk_xstrdup("");
}

typedef struct msg_list {
    lk_message *v;
    size_t n, cap;
} msg_list;

static lk_message *push(msg_list *l) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = lk_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    memset(&l->v[l->n], 0, sizeof *l->v);
    return &l->v[l->n++];
}

static int convert_messages(json_t *body, lk_request *r, an_state *st, srv_err *e) {
    msg_list l = {0};
    json_t *system = json_object_get(body, "system");
    if (system && !json_is_null(system)) {
        char *t = text_of(system, "system", e);
        if (!t) return -1;
        lk_message *m = push(&l);
        m->role = "system";
        m->content = srv_keep(&st->keep, t);
    }
    json_t *msgs = json_object_get(body, "messages");
    int rc = 0;
    if (!msgs) rc = srv_errf(e, 400, NULL, "messages: Field required");
    else if (!json_is_array(msgs)) rc = srv_errf(e, 400, NULL, "messages: Input should be a valid list, got %s", srv_json_type(msgs));
    else if (json_array_size(msgs) == 0) rc = srv_errf(e, 400, NULL, "messages: at least one message is required");
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg) {
        if (rc) break;
        char p[64];
        snprintf(p, sizeof p, "messages.%zu", i);
        json_t *role = json_object_get(msg, "role"), *content = json_object_get(msg, "content");
        const char *k;
        json_t *v;
        if (!json_is_object(msg)) {
            rc = srv_errf(e, 400, NULL, "%s: Input should be an object, got %s", p, srv_json_type(msg));
            break;
        }
        json_object_foreach(msg, k, v) {
            if (strcmp(k, "role") && strcmp(k, "content")) {
                rc = srv_errf(e, 400, NULL, "%s.%s: Extra inputs are not permitted", p, k);
                break;
            }
        }
        if (rc) break;
        const char *rs = json_is_string(role) ? json_string_value(role) : "";
        if (strcmp(rs, "user") && strcmp(rs, "assistant")) {
            rc = srv_errf(e, 400, NULL, "%s.role: Input should be 'user' or 'assistant'", p);
            break;
        }
        if (!content) {
            rc = srv_errf(e, 400, NULL, "%s.content: Field required", p);
            break;
        }
        if (json_is_string(content)) {
            lk_message *m = push(&l);
            m->role = rs;
            m->content = json_string_value(content);
            continue;
        }
        if (!json_is_array(content)) {
            rc = srv_errf(e, 400, NULL, "%s.content: Input should be a valid string or list of blocks, got %s", p,
                          srv_json_type(content));
            break;
        }
        lk_buf text = {0};
        lk_tool_call *calls = NULL;
        size_t n_calls = 0, j;
        json_t *blk;
        json_array_foreach(content, j, blk) {
            json_t *type = json_object_get(blk, "type");
            const char *ts = json_is_string(type) ? json_string_value(type) : "";
            if (!strcmp(ts, "text") && json_is_string(json_object_get(blk, "text"))) {
                if (text.len) lk_buf_putc(&text, '\n');
                lk_buf_puts(&text, json_string_value(json_object_get(blk, "text")));
            } else if (!strcmp(ts, "tool_use") && !strcmp(rs, "assistant")) {
                json_t *id = json_object_get(blk, "id"), *name = json_object_get(blk, "name"), *input = json_object_get(blk, "input");
                if (!json_is_string(id) || !json_is_string(name) || !json_is_object(input)) {
                    rc = srv_errf(e, 400, NULL, "%s.content.%zu: a tool_use block needs id, name and input (an object)", p, j);
                    break;
                }
                calls = lk_xrealloc(calls, (n_calls + 1) * sizeof *calls);
                calls[n_calls++] = (lk_tool_call){ json_string_value(id), json_string_value(name),
                                                   srv_keep(&st->keep, srv_dump(input)) };
            } else if (!strcmp(ts, "tool_result") && !strcmp(rs, "user")) {
                json_t *id = json_object_get(blk, "tool_use_id"), *c = json_object_get(blk, "content");
                bool is_error = false;
                if (!json_is_string(id)) {
                    rc = srv_errf(e, 400, NULL, "%s.content.%zu.tool_use_id: Field required", p, j);
                    break;
                }
                if (srv_get_bool(blk, "is_error", &is_error, e)) {
                    rc = -1;
                    break;
                }
                char cp[160];
                snprintf(cp, sizeof cp, "%s.content.%zu.content", p, j);
                char *t = c && !json_is_null(c) ? text_of(c, cp, e) : lk_xstrdup("");
                if (!t) {
                    rc = -1;
                    break;
                }
                if (is_error) { /* the model should know the tool failed */
                    lk_buf eb = {0};
                    lk_buf_printf(&eb, "Error: %s", t);
                    free(t);
                    t = eb.data;
                }
                lk_message *m = push(&l);
                m->role = "tool";
                m->tool_call_id = json_string_value(id);
                m->content = srv_keep(&st->keep, t);
            } else {
                rc = srv_errf(e, 400, NULL, "%s.content.%zu.type: '%s' blocks are not supported by this server in %s "
                              "messages", p, j, ts, rs);
                break;
            }
        }
        if (calls) srv_keep(&st->keep, (char *)calls);
        if (!rc && (text.len || n_calls || json_array_size(content) == 0)) {
            lk_message *m = push(&l);
            m->role = rs;
            m->content = srv_keep(&st->keep, text.data ? text.data : lk_xstrdup(""));
            m->tool_calls = calls;
            m->n_tool_calls = n_calls;
        } else {
            lk_buf_free(&text);
        }
    }
    srv_keep(&st->keep, (char *)l.v);
    r->messages = l.v;
    r->n_messages = l.n;
    return rc;
}

static int convert_tools(json_t *body, lk_request *r, an_state *st, srv_err *e) {
    json_t *tools = json_object_get(body, "tools");
    if (tools && !json_is_null(tools)) {
        if (!json_is_array(tools)) return srv_errf(e, 400, NULL, "tools: Input should be a valid list");
        size_t n = json_array_size(tools), i;
        lk_tool *t = lk_xcalloc(n ? n : 1, sizeof *t);
        srv_keep(&st->keep, (char *)t);
        json_t *x;
        json_array_foreach(tools, i, x) {
            json_t *type = json_object_get(x, "type"), *name = json_object_get(x, "name"), *schema = json_object_get(x, "input_schema");
            json_t *desc = json_object_get(x, "description");
            if (type && !json_is_null(type) && !(json_is_string(type) && !strcmp(json_string_value(type), "custom")))
                return srv_errf(e, 400, NULL, "tools.%zu.type: '%s' tools are not supported by this server (custom only)",
                                i, json_is_string(type) ? json_string_value(type) : "?");
            if (!json_is_string(name)) return srv_errf(e, 400, NULL, "tools.%zu.name: Field required", i);
            if (!json_is_object(schema)) return srv_errf(e, 400, NULL, "tools.%zu.input_schema: Field required (an object)", i);
            if (desc && !json_is_string(desc)) return srv_errf(e, 400, NULL, "tools.%zu.description: Input should be a string", i);
            t[i] = (lk_tool){ json_string_value(name), desc ? json_string_value(desc) : NULL, srv_keep(&st->keep, srv_dump(schema)) };
        }
        r->tools = t;
        r->n_tools = n;
    }
    json_t *tc = json_object_get(body, "tool_choice");
    if (tc && !json_is_null(tc)) {
        json_t *type = json_object_get(tc, "type");
        const char *ts = json_is_string(type) ? json_string_value(type) : "";
        bool no_parallel = false;
        if (srv_get_bool(tc, "disable_parallel_tool_use", &no_parallel, e)) return -1;
        if (no_parallel)
            return srv_errf(e, 400, NULL, "tool_choice.disable_parallel_tool_use: not supported by this server");
        if (!strcmp(ts, "auto")) r->tool_choice = "auto";
        else if (!strcmp(ts, "any")) r->tool_choice = "required";
        else if (!strcmp(ts, "none")) r->tool_choice = "none";
        else if (!strcmp(ts, "tool") && json_is_string(json_object_get(tc, "name"))) r->tool_choice = json_string_value(json_object_get(tc, "name"));
        else return srv_errf(e, 400, NULL, "tool_choice: expected {\"type\": \"auto\" | \"any\" | \"none\"} or {\"type\": "
                             "\"tool\", \"name\": ...}");
    }
    return 0;
}

static json_t *message_json(srv_call *c) {
    an_state *st = c->state;
    const lk_response *r = &c->res;
    json_t *content = json_array();
    if (r->text_len || !r->n_tool_calls)
        json_array_append_new(content, json_pack("{s:s,s:o}", "type", "text", "text", srv_jstr(r->text, r->text_len)));
    for (size_t i = 0; i < r->n_tool_calls; i++)
        json_array_append_new(content, json_pack("{s:s,s:o,s:o,s:o}", "type", "tool_use", "id", srv_jcstr(r->tool_calls[i].id),
                                                 "name", srv_jcstr(r->tool_calls[i].name), "input",
                                                 tool_input(r->tool_calls[i].arguments)));
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:n,s:o}", "id", st->id, "type", "message", "role", "assistant", "model",
                     st->model, "content", content, "stop_reason", stop_reason(r), "stop_sequence", "usage",
                     usage_json(&r->usage));
}

static void an_delta(srv_call *c, const char *text, size_t len) {
    srv_sse(c, "content_block_delta", json_pack("{s:s,s:i,s:{s:s,s:o}}", "type", "content_block_delta", "index", 0, "delta",
                                                "type", "text_delta", "text", srv_jstr(text, len)));
}

static void an_end(srv_call *c) {
    if (c->rc || c->timed_out) {
        srv_err e;
        srv_call_error(c, &e);
        const char *type = e.status == 429 ? "rate_limit_error" : e.status == 504 ? "timeout_error"
                         : e.status < 500 ? "invalid_request_error" : "api_error";
        srv_sse(c, "error", json_pack("{s:s,s:{s:s,s:o}}", "type", "error", "error", "type", type, "message", srv_jcstr(e.msg)));
        return;
    }
    const lk_response *r = &c->res;
    srv_sse(c, "content_block_stop", json_pack("{s:s,s:i}", "type", "content_block_stop", "index", 0));
    for (size_t i = 0; i < r->n_tool_calls; i++) {
        int idx = (int)i + 1;
        const lk_tool_call *t = &r->tool_calls[i];
        srv_sse(c, "content_block_start", json_pack("{s:s,s:i,s:{s:s,s:o,s:o,s:{}}}", "type", "content_block_start", "index",
                                                    idx, "content_block", "type", "tool_use", "id", srv_jcstr(t->id), "name",
                                                    srv_jcstr(t->name), "input"));
        json_t *in = tool_input(t->arguments);
        char *args = srv_dump(in);
        json_decref(in);
        srv_sse(c, "content_block_delta", json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_delta", "index", idx,
                                                    "delta", "type", "input_json_delta", "partial_json", args));
        free(args);
        srv_sse(c, "content_block_stop", json_pack("{s:s,s:i}", "type", "content_block_stop", "index", idx));
    }
    srv_sse(c, "message_delta", json_pack("{s:s,s:{s:s,s:n},s:o}", "type", "message_delta", "delta", "stop_reason",
                                          stop_reason(r), "stop_sequence", "usage", usage_json(&r->usage)));
    srv_sse(c, "message_stop", json_pack("{s:s}", "type", "message_stop"));
}

static const srv_stream_ops an_stream = { an_delta, an_end };

static int check(srv_conn *c, json_t *body, lk_request *r, bool *stream, srv_err *e) {
    static const char *const known[] = { "model", "max_tokens", "messages", "system", "stop_sequences", "stream",
                                         "temperature", "top_p", "top_k", "tools", "tool_choice", "metadata", "thinking", NULL };
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i]; i++) ok |= !strcmp(k, known[i]);
        if (!ok) return srv_errf(e, 400, NULL, "%s: Extra inputs are not permitted", k);
    }
    json_t *mt = json_object_get(body, "max_tokens");
    if (!mt) return srv_errf(e, 400, NULL, "max_tokens: Field required");
    if (!json_is_integer(mt)) return srv_errf(e, 400, NULL, "max_tokens: Input should be a valid integer, got %s", srv_json_type(mt));
    long long n = json_integer_value(mt);
    if (n < 1 || n > c->s->o.max_tokens)
        return srv_errf(e, 400, NULL, "max_tokens: %lld is out of range; expected 1 to %d (the server's limit)", n,
                        c->s->o.max_tokens);
    r->max_tokens = (int)n;
    long long top_k = -1;
    if (srv_get_num(body, "temperature", 0, 1, &r->temperature, e) || srv_get_num(body, "top_p", 0, 1, &r->top_p, e) ||
        srv_get_int(body, "top_k", 0, 1 << 20, &top_k, e) || srv_get_bool(body, "stream", stream, e))
        return -1;
    r->top_k = (int)top_k;
    json_t *stops = json_object_get(body, "stop_sequences");
    if (stops && !json_is_null(stops)) {
        if (!json_is_array(stops)) return srv_errf(e, 400, NULL, "stop_sequences: Input should be a valid list");
        r->n_stop = json_array_size(stops);
        for (size_t i = 0; i < r->n_stop; i++)
            if (!json_is_string(json_array_get(stops, i)) || !json_string_length(json_array_get(stops, i)))
                return srv_errf(e, 400, NULL, "stop_sequences.%zu: expected a non-empty string", i);
    }
    json_t *md = json_object_get(body, "metadata");
    if (md && !json_is_null(md)) {
        if (!json_is_object(md)) return srv_errf(e, 400, NULL, "metadata: Input should be an object");
        json_object_foreach(md, k, v) {
            if (strcmp(k, "user_id")) return srv_errf(e, 400, NULL, "metadata.%s: Extra inputs are not permitted", k);
        }
    }
    json_t *th = json_object_get(body, "thinking");
    if (th && !json_is_null(th)) {
        json_t *type = json_object_get(th, "type");
        if (!json_is_string(type) || strcmp(json_string_value(type), "disabled"))
            return srv_errf(e, 400, NULL, "thinking: extended thinking is not supported by this server");
    }
    return 0;
}

enum MHD_Result srv_anthropic_messages(srv_conn *c, json_t *body) {
    srv_err e;
    const char *name = NULL;
    if (srv_get_str(body, "model", &name, &e)) return srv_reply_error(c, SRV_ANTHROPIC, &e);
    if (!name) {
        srv_errf(&e, 400, NULL, "model: Field required");
        return srv_reply_error(c, SRV_ANTHROPIC, &e);
    }
    srv_model *m = srv_find_model(c->s, name);
    if (!m) {
        srv_errf(&e, 404, NULL, "model: %s", name);
        return srv_reply_error(c, SRV_ANTHROPIC, &e);
    }
    an_state *st = lk_xcalloc(1, sizeof *st);
    st->body = json_incref(body);
    st->model = m->name;
    srv_new_id(c->s, "msg_", st->id, sizeof st->id);
    srv_call *call = srv_call_new(c, m, SRV_ANTHROPIC);
    call->state = st;
    call->free_state = an_free;
    call->ops = &an_stream;
    lk_request *r = &call->req;
    if (check(c, body, r, &call->stream, &e) || convert_messages(body, r, st, &e) || convert_tools(body, r, st, &e)) {
        srv_call_free_unstarted(call);
        return srv_reply_error(c, SRV_ANTHROPIC, &e);
    }
    if (r->n_stop) {
        const char **v = lk_xcalloc(r->n_stop, sizeof *v);
        for (size_t i = 0; i < r->n_stop; i++) v[i] = json_string_value(json_array_get(json_object_get(body, "stop_sequences"), i));
        srv_keep(&st->keep, (char *)v);
        r->stop = v;
    }
    r->stream = call->stream;
    if (call->stream) {
        srv_sse(call, "message_start", json_pack("{s:s,s:{s:s,s:s,s:s,s:[],s:s,s:n,s:n,s:{s:i,s:i,s:i,s:i}}}", "type",
                                                 "message_start", "message", "id", st->id, "type", "message", "role",
                                                 "assistant", "content", "model", st->model, "stop_reason", "stop_sequence",
                                                 "usage", "input_tokens", 0, "output_tokens", 0,
                                                 "cache_creation_input_tokens", 0, "cache_read_input_tokens", 0));
        srv_sse(call, "content_block_start", json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_start", "index", 0,
                                                       "content_block", "type", "text", "text", ""));
        srv_sse(call, "ping", json_pack("{s:s}", "type", "ping"));
    }
    return srv_call_answer(call, message_json);
}

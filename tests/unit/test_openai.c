/* test_openai.c — the OpenAI backend (and OpenAI-compatible servers) against the loopback
 * fake API: the request JSON it sends, the responses it reads (the echo model, and the
 * documented example bodies and streams replayed byte for byte, split anywhere), retries,
 * provider errors, cut streams, timeouts, cancellation, unsupported settings, key redaction,
 * embeddings and time to first token. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llmkit.h"
#include "base/base.h"
#include "fakeapi.h"

#define KEY "sk-test-0123456789abcdefghij1234"

/* ---- fixture: a fake server per test, answering with the echo model ---- */

typedef struct fx {
    fake_server *s;
    char base[128];               /* fake base + "/v1" */
    fake_echo_opts eo;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    f->s = fake_start();
    if (!f->s) return -1;
    snprintf(f->base, sizeof f->base, "%s/v1", fake_base(f->s));
    fake_set_handler(f->s, fake_echo, &f->eo);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    fake_stop(f->s);
    free(f);
    return 0;
}

static lk_model *open_opts(fx *f, const char *spec, const lk_model_opts *o) {
    lk_model_opts opts = o ? *o : (lk_model_opts){0};
    opts.base_url = f->base;
    lk_error err = {0};
    lk_model *m = lk_model_open_ex(spec, &opts, &err);
    if (!m) fail_msg("open %s: %s", spec, err.msg);
    return m;
}

static lk_model *open_openai(fx *f) { return open_opts(f, "openai:gpt-4o-mini", NULL); }

static lk_model *open_compat(fx *f) {
    char spec[160];
    snprintf(spec, sizeof spec, "%s#echo", f->base);
    return open_opts(f, spec, NULL);
}

/* The i-th request's body, parsed. */
static json_t *body_of(fx *f, int i) {
    assert_true(i < fake_count(f->s));
    const fake_request *r = fake_get(f->s, i);
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    assert_non_null(j);
    return j;
}

/* Text pieces the callback saw. */
typedef struct pieces {
    lk_buf all;
    int n;
    int cancel_after;             /* > 0: return false at this piece */
} pieces;

static bool collect(const char *text, size_t len, void *ud) {
    pieces *p = ud;
    lk_buf_append(&p->all, text, len);
    p->n++;
    return !(p->cancel_after > 0 && p->n >= p->cancel_after);
}

static const lk_message hello[] = { { .role = "user", .content = "hello there world" } };

static void req_hello(lk_request *r) {
    lk_request_init(r);
    r->messages = hello;
    r->n_messages = 1;
}

/* Queue a scripted reply. */
static void push(fx *f, int status, const char *ctype, const char *body, size_t split, bool random_split) {
    fake_reply r = { .status = status, .content_type = ctype, .body = body, .split = split,
                     .random_split = random_split };
    fake_push(f->s, &r);
}

/* ---- the request ---- */

/* A chat request carries every set field under its documented name; floats are sent as
 * written (0.7, not 0.699999988); max tokens is max_completion_tokens for OpenAI. */
static void test_request_fields(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_tool_call calls[] = { { "call_1", "get_weather", "{\"city\":\"Paris\"}" } };
    lk_message msgs[] = {
        { .role = "system", .content = "be brief" },
        { .role = "user", .content = "weather?" },
        { .role = "assistant", .tool_calls = calls, .n_tool_calls = 1 },
        { .role = "tool", .content = "sunny", .tool_call_id = "call_1" },
        { .role = "user", .content = "thanks" },
    };
    const char *stops[] = { "END", "\n\n" };
    lk_bias bias[] = { { 50256, -INFINITY }, { 7, 250 }, { 9, 1.5f } };
    lk_tool tools[] = { { "get_weather", "Weather for a city",
                          "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}" } };
    lk_request r;
    lk_request_init(&r);
    r.messages = msgs;
    r.n_messages = 5;
    r.temperature = 0.7f;
    r.top_p = 0.9f;
    r.has_seed = true;
    r.seed = 42;
    r.max_tokens = 64;
    r.stop = stops;
    r.n_stop = 2;
    r.frequency_penalty = 0.5f;
    r.presence_penalty = -0.25f;
    r.logit_bias = bias;
    r.n_logit_bias = 3;
    r.logprobs = 3;
    r.tools = tools;
    r.n_tools = 1;
    r.tool_choice = "get_weather";
    r.response_format = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
                        "\"required\":[\"a\"],\"additionalProperties\":false}";
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), 0);
    assert_int_equal(out.n_warnings, 0);
    lk_response_free(&out);

    const fake_request *fr = fake_get(f->s, 0);
    assert_string_equal(fr->method, "POST");
    assert_string_equal(fr->path, "/v1/chat/completions");
    char h[256];
    assert_string_equal(fake_header(f->s, 0, "authorization", h, sizeof h), "Bearer " KEY);
    assert_string_equal(fake_header(f->s, 0, "content-type", h, sizeof h), "application/json");
    json_t *b = body_of(f, 0);
    json_t *want = json_loads(
        "{\"model\":\"gpt-4o-mini\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"user\",\"content\":\"weather?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"},"
        "{\"role\":\"user\",\"content\":\"thanks\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather for a city\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}],"
        "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},"
        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"response\","
        "\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"],"
        "\"additionalProperties\":false},\"strict\":true}},"
        "\"temperature\":0.7,\"top_p\":0.9,\"seed\":42,\"max_completion_tokens\":64,"
        "\"frequency_penalty\":0.5,\"presence_penalty\":-0.25,\"stop\":[\"END\",\"\\n\\n\"],"
        "\"logit_bias\":{\"50256\":-100.0,\"7\":100.0,\"9\":1.5},\"logprobs\":true,\"top_logprobs\":2}",
        0, NULL);
    assert_non_null(want);
    if (!json_equal(b, want)) {
        char *got = json_dumps(b, JSON_SORT_KEYS);
        fail_msg("request body differs: %s", got);
    }
    json_decref(want);
    json_decref(b);
    lk_model_free(m);
}

/* A schema OpenAI's strict mode would refuse (an object without "additionalProperties": false,
 * a property not required) is sent with strict false and a warning, not as a request that fails. */
static void test_response_format_not_strict(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    const char *schemas[] = {
        "{\"type\":\"object\"}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}},"
        "\"required\":[\"a\"],\"additionalProperties\":false}",
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
        "\"properties\":{\"x\":{\"type\":\"number\"}},\"required\":[\"x\"]}}},\"required\":[\"a\"],"
        "\"additionalProperties\":false}",
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(schemas); i++) {
        lk_request r;
        req_hello(&r);
        r.response_format = schemas[i];
        lk_response out;
        lk_error err = {0};
        assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), 0);
        assert_int_equal(out.n_warnings, 1);
        assert_non_null(strstr(out.warnings[0], "strict"));
        lk_response_free(&out);
        json_t *b = body_of(f, fake_count(f->s) - 1);
        json_t *js = json_object_get(json_object_get(b, "response_format"), "json_schema");
        assert_true(json_is_false(json_object_get(js, "strict")));
        json_decref(b);
    }
    lk_model_free(m);
}

/* A compatible server gets max_tokens and the llama.cpp/vLLM sampling extensions, and no
 * Authorization header when there is no key. */
static void test_compat_extensions(void **state) {
    fx *f = *state;
    unsetenv("LLMKIT_API_KEY");
    lk_model *m = open_compat(f);
    lk_request r;
    req_hello(&r);
    r.max_tokens = 5;
    r.top_k = 40;
    r.min_p = 0.05f;
    r.typical_p = 0.9f;
    r.repeat_penalty = 1.1f;
    r.mirostat = 2;
    r.mirostat_tau = 5;
    r.mirostat_eta = 0.1f;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), 0);
    assert_int_equal(out.n_warnings, 0);
    lk_response_free(&out);
    json_t *b = body_of(f, 0);
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 5);
    assert_null(json_object_get(b, "max_completion_tokens"));
    assert_int_equal(json_integer_value(json_object_get(b, "top_k")), 40);
    assert_true(json_real_value(json_object_get(b, "min_p")) == 0.05);
    assert_true(json_real_value(json_object_get(b, "typical_p")) == 0.9);
    assert_true(json_real_value(json_object_get(b, "repeat_penalty")) == 1.1);
    assert_int_equal(json_integer_value(json_object_get(b, "mirostat")), 2);
    assert_true(json_real_value(json_object_get(b, "mirostat_tau")) == 5);
    assert_true(json_real_value(json_object_get(b, "mirostat_eta")) == 0.1);
    json_decref(b);
    char h[256];
    assert_null(fake_header(f->s, 0, "authorization", h, sizeof h));
    lk_model_free(m);
}

/* tool_choice "auto", "none" and "required" are sent as strings. */
static void test_tool_choice_strings(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_tool tools[] = { { "t", NULL, NULL } };
    const char *choices[] = { "auto", "none", "required" };
    for (int i = 0; i < 3; i++) {
        lk_request r;
        req_hello(&r);
        r.tools = tools;
        r.n_tools = 1;
        r.tool_choice = choices[i];
        lk_response out;
        lk_error err = {0};
        assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), 0);
        lk_response_free(&out);
        json_t *b = body_of(f, i);
        assert_string_equal(json_string_value(json_object_get(b, "tool_choice")), choices[i]);
        /* a tool without parameters is sent without them */
        json_t *fn = json_object_get(json_array_get(json_object_get(b, "tools"), 0), "function");
        assert_string_equal(json_string_value(json_object_get(fn, "name")), "t");
        assert_null(json_object_get(fn, "parameters"));
        json_decref(b);
    }
    lk_model_free(m);
}

/* A tool whose parameters are not JSON fails with LK_EINVAL naming the tool; nothing is sent. */
static void test_bad_tool_schema(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_tool tools[] = { { "lookup", NULL, "{\"type\": object}" } };
    lk_request r;
    req_hello(&r);
    r.tools = tools;
    r.n_tools = 1;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "'lookup'"));
    assert_string_equal(out.finish_reason, "error");
    assert_int_equal(fake_count(f->s), 0);
    lk_response_free(&out);
    lk_model_free(m);
}

/* A streaming request asks for usage in the stream and accepts text/event-stream. */
static void test_stream_request(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), 0);
    lk_response_free(&out);
    json_t *b = body_of(f, 0);
    assert_true(json_is_true(json_object_get(b, "stream")));
    assert_true(json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage")));
    json_decref(b);
    char h[128];
    assert_string_equal(fake_header(f->s, 0, "accept", h, sizeof h), "text/event-stream");
    lk_model_free(m);
}

/* Settings OpenAI has no field for are warnings, not fields; with strict the call fails
 * naming the setting. */
static void test_unsupported_settings(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_request r;
    req_hello(&r);
    r.top_k = 40;
    r.min_p = 0.1f;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), 0);
    assert_int_equal(out.n_warnings, 2);
    assert_non_null(strstr(out.warnings[0], "top_k"));
    assert_non_null(strstr(out.warnings[1], "min_p"));
    lk_response_free(&out);
    json_t *b = body_of(f, 0);
    assert_null(json_object_get(b, "top_k"));
    json_decref(b);

    r.strict = true;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "top_k"));
    assert_int_equal(fake_count(f->s), 1);
    lk_response_free(&out);
    lk_model_free(m);
}

/* OpenAI takes at most 4 stop strings: more is reported and the first 4 are sent. */
static void test_more_than_four_stops(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    const char *stops[] = { "a", "b", "c", "d", "e" };
    lk_request r;
    req_hello(&r);
    r.stop = stops;
    r.n_stop = 5;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), 0);
    assert_int_equal(out.n_warnings, 1);
    assert_non_null(strstr(out.warnings[0], "stop"));
    lk_response_free(&out);
    json_t *b = body_of(f, 0);
    assert_int_equal(json_array_size(json_object_get(b, "stop")), 4);
    json_decref(b);
    lk_model_free(m);
}

/* ---- responses from the echo model ---- */

static void chat_ok(lk_model *m, const lk_request *r, pieces *p, lk_response *out) {
    lk_error err = {0};
    int rc = lk_model_chat(m, r, p ? collect : NULL, p, out, &err);
    if (rc) fail_msg("chat: %s", err.msg);
}

static void assert_same_response(const lk_response *a, const lk_response *b) {
    assert_string_equal(a->text, b->text);
    assert_int_equal(a->text_len, b->text_len);
    assert_string_equal(a->finish_reason, b->finish_reason);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->model, b->model);
    assert_int_equal(a->usage.prompt_tokens, b->usage.prompt_tokens);
    assert_int_equal(a->usage.completion_tokens, b->usage.completion_tokens);
    assert_int_equal(a->usage.cached_tokens, b->usage.cached_tokens);
    assert_int_equal(a->n_tool_calls, b->n_tool_calls);
    for (size_t i = 0; i < a->n_tool_calls; i++) {
        assert_string_equal(a->tool_calls[i].id, b->tool_calls[i].id);
        assert_string_equal(a->tool_calls[i].name, b->tool_calls[i].name);
        assert_string_equal(a->tool_calls[i].arguments, b->tool_calls[i].arguments);
    }
    assert_int_equal(a->n_logprobs, b->n_logprobs);
    for (size_t i = 0; i < a->n_logprobs; i++) {
        assert_string_equal(a->logprobs[i].token, b->logprobs[i].token);
        assert_true(a->logprobs[i].logprob == b->logprobs[i].logprob);
        assert_int_equal(a->logprobs[i].n_top, b->logprobs[i].n_top);
    }
}

/* Streaming and non-streaming give the same response; non-streaming calls on_token once
 * with the whole text, streaming once per token. */
static void test_stream_matches_plain(void **state) {
    fx *f = *state;
    f->eo.split = 5;
    lk_model *m = open_openai(f);
    lk_request r;
    req_hello(&r);
    r.logprobs = 2;
    lk_response a, b;
    pieces pa = {0}, pb = {0};
    chat_ok(m, &r, &pa, &a);
    r.stream = true;
    chat_ok(m, &r, &pb, &b);
    assert_string_equal(a.text, "echo: hello there world");
    assert_string_equal(a.finish_reason, "stop");
    assert_string_equal(a.id, "chatcmpl-echo1");
    assert_int_equal(a.usage.completion_tokens, 4);
    assert_int_equal(a.n_logprobs, 4);
    assert_same_response(&a, &b);
    assert_int_equal(pa.n, 1);
    assert_int_equal(pb.n, 4);
    assert_string_equal(pb.all.data, a.text);
    assert_int_equal(a.http_status, 200);
    lk_buf_free(&pa.all);
    lk_buf_free(&pb.all);
    lk_response_free(&a);
    lk_response_free(&b);
    lk_model_free(m);
}

/* A tool call, streamed with its arguments in fragments, equals the non-streamed one. */
static void test_tool_call_both_ways(void **state) {
    fx *f = *state;
    f->eo.split = 3;
    lk_model *m = open_openai(f);
    lk_message msgs[] = { { .role = "user", .content = "please call:get_weather now" } };
    lk_tool tools[] = { { "get_weather", NULL, "{\"type\":\"object\"}" } };
    lk_request r;
    lk_request_init(&r);
    r.messages = msgs;
    r.n_messages = 1;
    r.tools = tools;
    r.n_tools = 1;
    lk_response a, b;
    chat_ok(m, &r, NULL, &a);
    r.stream = true;
    chat_ok(m, &r, NULL, &b);
    assert_int_equal(a.n_tool_calls, 1);
    assert_string_equal(a.tool_calls[0].name, "get_weather");
    assert_string_equal(a.tool_calls[0].id, "call_echo1");
    assert_string_equal(a.tool_calls[0].arguments, "{\"q\":\"please call:get_weather now\"}");
    assert_string_equal(a.finish_reason, "tool_calls");
    assert_string_equal(a.text, "");
    assert_same_response(&a, &b);
    lk_response_free(&a);
    lk_response_free(&b);
    lk_model_free(m);
}

/* Log-probabilities of each token with n - 1 alternatives. */
static void test_logprobs(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_request r;
    req_hello(&r);
    r.logprobs = 3;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_int_equal(out.n_logprobs, 4);
    assert_string_equal(out.logprobs[1].token, " hello");
    assert_true(out.logprobs[1].logprob == -0.25f);
    assert_int_equal(out.logprobs[1].n_top, 2);
    assert_string_equal(out.logprobs[1].top[1].token, " alt1");
    assert_true(out.logprobs[1].top[1].logprob == -1.25f);
    lk_response_free(&out);
    lk_model_free(m);
}

/* max_tokens cuts the answer with finish "length"; a stop string ends it with "stop". */
static void test_length_and_stop(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_request r;
    req_hello(&r);
    r.max_tokens = 2;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "echo: hello");
    assert_string_equal(out.finish_reason, "length");
    lk_response_free(&out);
    const char *stops[] = { "there" };
    req_hello(&r);
    r.stop = stops;
    r.n_stop = 1;
    r.stream = true;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "echo: hello ");
    assert_string_equal(out.finish_reason, "stop");
    lk_response_free(&out);
    lk_model_free(m);
}

/* A plain prompt goes to /completions (max_tokens, not max_completion_tokens), streamed or not. */
static void test_legacy_completion(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_request r;
    lk_request_init(&r);
    r.prompt = "once upon a time";
    r.max_tokens = 3;
    lk_response a, b;
    chat_ok(m, &r, NULL, &a);
    assert_string_equal(fake_get(f->s, 0)->path, "/v1/completions");
    json_t *body = body_of(f, 0);
    assert_string_equal(json_string_value(json_object_get(body, "prompt")), "once upon a time");
    assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 3);
    assert_null(json_object_get(body, "messages"));
    json_decref(body);
    r.stream = true;
    chat_ok(m, &r, NULL, &b);
    assert_string_equal(a.text, "echo: once upon");
    assert_string_equal(a.finish_reason, "length");
    assert_same_response(&a, &b);
    lk_response_free(&a);
    lk_response_free(&b);
    /* no_bos is a local-engine setting */
    r.no_bos = true;
    r.stream = false;
    chat_ok(m, &r, NULL, &a);
    assert_int_equal(a.n_warnings, 1);
    assert_non_null(strstr(a.warnings[0], "no_bos"));
    lk_response_free(&a);
    lk_model_free(m);
}

/* ---- documented examples, replayed ---- */

/* From the API reference (Chat Completions, "The chat completion object"), with the prompt
 * caching guide's cached_tokens. */
static const char doc_body[] =
    "{\n"
    "  \"id\": \"chatcmpl-123\",\n"
    "  \"object\": \"chat.completion\",\n"
    "  \"created\": 1677652288,\n"
    "  \"model\": \"gpt-4o-mini\",\n"
    "  \"system_fingerprint\": \"fp_44709d6fcb\",\n"
    "  \"choices\": [{\n"
    "    \"index\": 0,\n"
    "    \"message\": {\n"
    "      \"role\": \"assistant\",\n"
    "      \"content\": \"\\n\\nHello there, how may I assist you today?\"\n"
    "    },\n"
    "    \"logprobs\": null,\n"
    "    \"finish_reason\": \"stop\"\n"
    "  }],\n"
    "  \"service_tier\": \"default\",\n"
    "  \"usage\": {\n"
    "    \"prompt_tokens\": 2006,\n"
    "    \"completion_tokens\": 12,\n"
    "    \"total_tokens\": 2018,\n"
    "    \"prompt_tokens_details\": {\n"
    "      \"cached_tokens\": 1920\n"
    "    },\n"
    "    \"completion_tokens_details\": {\n"
    "      \"reasoning_tokens\": 0,\n"
    "      \"accepted_prediction_tokens\": 0,\n"
    "      \"rejected_prediction_tokens\": 0\n"
    "    }\n"
    "  }\n"
    "}\n";

/* The documented chat.completion object, including cached_tokens. */
static void test_doc_body(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    push(f, 200, NULL, doc_body, 1, false);
    lk_request r;
    req_hello(&r);
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "\n\nHello there, how may I assist you today?");
    assert_int_equal(out.text_len, strlen(out.text));
    assert_string_equal(out.finish_reason, "stop");
    assert_string_equal(out.id, "chatcmpl-123");
    assert_string_equal(out.model, "gpt-4o-mini");
    assert_int_equal(out.usage.prompt_tokens, 2006);
    assert_int_equal(out.usage.cached_tokens, 1920);
    assert_int_equal(out.usage.completion_tokens, 12);
    lk_response_free(&out);
    lk_model_free(m);
}

/* The streaming example of the API reference (with include_usage's final chunk). */
static const char doc_stream[] =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\", "
    "\"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\", "
    "\"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},"
    "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\", "
    "\"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,\"delta\":{\"content\":\" world, caf\\u00e9 \\ud83d\\ude00\"},"
    "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\", "
    "\"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
    "\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":\"gpt-4o-mini\", "
    "\"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3,"
    "\"total_tokens\":12,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";

static void check_doc_stream(fx *f, size_t split, bool random) {
    lk_model *m = open_openai(f);
    push(f, 200, "text/event-stream", doc_stream, split, random);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    pieces p = {0};
    chat_ok(m, &r, &p, &out);
    assert_string_equal(out.text, "Hello world, caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_int_equal(p.n, 2);
    assert_string_equal(out.finish_reason, "stop");
    assert_string_equal(out.id, "chatcmpl-123");
    assert_int_equal(out.usage.prompt_tokens, 9);
    assert_int_equal(out.usage.completion_tokens, 3);
    lk_buf_free(&p.all);
    lk_response_free(&out);
    lk_model_free(m);
}

/* The documented stream arrives one byte at a time. */
static void test_doc_stream_bytewise(void **state) { check_doc_stream(*state, 1, false); }

/* The documented stream arrives in random pieces. */
static void test_doc_stream_random(void **state) {
    for (int i = 0; i < 4; i++) check_doc_stream(*state, 13, true);
}

/* From the function calling guide: a streamed tool call whose id and name come in the first
 * fragment and whose arguments come in pieces (later fragments carry null id and name). */
static const char doc_tool_stream[] =
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\": 0, \"id\": \"call_DdmO9pD3xa9XTPNJ32zg2hcA\", "
    "\"function\": {\"arguments\": \"\", \"name\": \"get_weather\"}, \"type\": \"function\"}]},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\": 0, \"id\": null, \"function\": {\"arguments\": \"{\\\"\", \"name\": null}, \"type\": null}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\": 0, \"id\": null, \"function\": {\"arguments\": \"location\", \"name\": null}, \"type\": null}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\": 0, \"id\": null, \"function\": {\"arguments\": \"\\\":\\\"\", \"name\": null}, \"type\": null}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\": 0, \"id\": null, \"function\": {\"arguments\": \"Paris, France\", \"name\": null}, \"type\": null}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\": 1, \"id\": \"call_2\", \"function\": {\"arguments\": \"{}\", \"name\": \"get_time\"}, \"type\": \"function\"}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\": 0, \"id\": null, \"function\": {\"arguments\": \"\\\"}\", \"name\": null}, \"type\": null}]},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: [DONE]\n\n";

/* Interleaved tool-call fragments are merged by index: id and name from the first, arguments
 * concatenated. */
static void test_doc_tool_stream(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    push(f, 200, "text/event-stream", doc_tool_stream, 7, true);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_int_equal(out.n_tool_calls, 2);
    assert_string_equal(out.tool_calls[0].id, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
    assert_string_equal(out.tool_calls[0].name, "get_weather");
    assert_string_equal(out.tool_calls[0].arguments, "{\"location\":\"Paris, France\"}");
    assert_string_equal(out.tool_calls[1].name, "get_time");
    assert_string_equal(out.tool_calls[1].arguments, "{}");
    assert_string_equal(out.finish_reason, "tool_calls");
    assert_string_equal(out.text, "");
    assert_true(out.timings.ttft_s > 0);
    lk_response_free(&out);
    lk_model_free(m);
}

/* The documented logprobs shape (chat): token, logprob, top_logprobs. */
static void test_doc_logprobs(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    push(f, 200, NULL,
         "{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion\",\"created\":1702685778,\"model\":\"gpt-4o-mini\","
         "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello! How can I assist you today?\"},"
         "\"logprobs\":{\"content\":[{\"token\":\"Hello\",\"logprob\":-0.31725305,\"bytes\":[72,101,108,108,111],"
         "\"top_logprobs\":[{\"token\":\"Hello\",\"logprob\":-0.31725305,\"bytes\":[72,101,108,108,111]},"
         "{\"token\":\"Hi\",\"logprob\":-1.3190403,\"bytes\":[72,105]}]},"
         "{\"token\":\"!\",\"logprob\":-0.02380986,\"bytes\":[33],\"top_logprobs\":[{\"token\":\"!\",\"logprob\":-0.02380986,"
         "\"bytes\":[33]},{\"token\":\" there\",\"logprob\":-3.787621,\"bytes\":[32,116,104,101,114,101]}]}]},"
         "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":9,\"total_tokens\":18}}",
         0, false);
    lk_request r;
    req_hello(&r);
    r.logprobs = 3;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_int_equal(out.n_logprobs, 2);
    assert_string_equal(out.logprobs[0].token, "Hello");
    assert_true(fabsf(out.logprobs[0].logprob + 0.31725305f) < 1e-6f);
    assert_int_equal(out.logprobs[1].n_top, 2);
    assert_string_equal(out.logprobs[1].top[1].token, " there");
    lk_response_free(&out);
    lk_model_free(m);
}

/* A server that ignores "stream": true and answers with one JSON object is still understood. */
static void test_json_answer_to_stream_request(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    push(f, 200, NULL, doc_body, 0, false);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "\n\nHello there, how may I assist you today?");
    assert_string_equal(out.finish_reason, "stop");
    lk_response_free(&out);
    lk_model_free(m);
}

/* ---- errors and the network ---- */

/* 429 with Retry-After is retried, and the second answer is used. */
static void test_retry_after_429(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    fake_reply busy = { .status = 429, .headers = "Retry-After: 0\r\n",
                        .body = "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"param\":null,"
                                "\"code\":\"rate_limit_exceeded\"}}" };
    fake_push(f->s, &busy);
    lk_request r;
    req_hello(&r);
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_int_equal(fake_count(f->s), 2);
    assert_string_equal(out.text, "echo: hello there world");
    assert_int_equal(out.http_status, 200);
    lk_response_free(&out);
    lk_model_free(m);
}

/* A 500 is retried. */
static void test_retry_500(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    push(f, 500, NULL, "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}", 0, false);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_int_equal(fake_count(f->s), 2);
    assert_string_equal(out.text, "echo: hello there world");
    lk_response_free(&out);
    lk_model_free(m);
}

/* The documented error body becomes LK_EREMOTE with status, message, type and code. */
static void test_error_body(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    push(f, 404, NULL,
         "{\n  \"error\": {\n    \"message\": \"The model `gpt-5-turbo` does not exist or you do not have access to it.\",\n"
         "    \"type\": \"invalid_request_error\",\n    \"param\": null,\n    \"code\": \"model_not_found\"\n  }\n}\n",
         0, false);
    lk_request r;
    req_hello(&r);
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_string_equal(err.msg, "openai:gpt-4o-mini: HTTP 404: The model `gpt-5-turbo` does not exist or you do not "
                                 "have access to it. (invalid_request_error/model_not_found)");
    assert_int_equal(out.http_status, 404);
    assert_string_equal(out.finish_reason, "error");
    lk_response_free(&out);
    lk_model_free(m);
}

/* A body that is not the documented error shape is quoted (its first 200 bytes). */
static void test_error_body_not_json(void **state) {
    fx *f = *state;
    lk_model *m = open_opts(f, "openai:gpt-4o-mini", &(lk_model_opts){ .max_attempts = 1 });
    char html[600];
    snprintf(html, sizeof html, "<html><body>%0500d</body></html>", 0);
    push(f, 502, "text/html", html, 0, false);
    lk_request r;
    req_hello(&r);
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_non_null(strstr(err.msg, "HTTP 502: <html><body>000"));
    assert_true(strlen(err.msg) < 260);
    assert_int_equal(out.http_status, 502);
    lk_response_free(&out);
    lk_model_free(m);
}

/* A stream cut mid-event is LK_EIO saying so; the partial text is kept, finish "error". */
static void test_stream_cut(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    const char *cut_at = strstr(doc_stream, "\"finish_reason\":\"stop\"");
    fake_reply rp = { .content_type = "text/event-stream", .body = doc_stream, .chunked = true,
                      .cut_after = (size_t)(cut_at - doc_stream) };
    fake_push(f->s, &rp);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EIO);
    assert_non_null(strstr(err.msg, "cut off after"));
    assert_string_equal(out.text, "Hello world, caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(out.finish_reason, "error");
    assert_int_equal(fake_count(f->s), 1); /* no retry once text has arrived */
    lk_response_free(&out);
    lk_model_free(m);
}

/* A stream that ends cleanly but without [DONE] or a finish reason was cut off too. */
static void test_stream_without_end(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    const char *end = strstr(doc_stream, "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
                                         "\"model\":\"gpt-4o-mini\", \"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,\"delta\":{},");
    assert_non_null(end);
    fake_reply rp = { .content_type = "text/event-stream", .body = doc_stream, .body_len = (size_t)(end - doc_stream) };
    fake_push(f->s, &rp);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EIO);
    assert_non_null(strstr(err.msg, "stream cut off after"));
    assert_string_equal(out.finish_reason, "error");
    assert_true(out.text_len > 0);
    lk_response_free(&out);
    lk_model_free(m);
}

/* An error object in the stream is LK_EREMOTE with its message; the text before it is kept. */
static void test_stream_error_chunk(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    push(f, 200, "text/event-stream",
         "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
         "\"delta\":{\"content\":\"partial\"},\"finish_reason\":null}]}\n\n"
         "data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\","
         "\"param\":null,\"code\":null}}\n\n",
         0, false);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_non_null(strstr(err.msg, "The server had an error while processing your request. (server_error)"));
    assert_string_equal(out.text, "partial");
    assert_string_equal(out.finish_reason, "error");
    lk_response_free(&out);
    lk_model_free(m);
}

/* No byte within the read timeout is an error (not a hang). */
static void test_slow_first_byte_times_out(void **state) {
    fx *f = *state;
    lk_model *m = open_opts(f, "openai:gpt-4o-mini", &(lk_model_opts){ .max_attempts = 1, .read_timeout_s = 0.3 });
    fake_reply rp = { .body = doc_body, .first_byte_delay_s = 2.0 };
    fake_push(f->s, &rp);
    lk_request r;
    req_hello(&r);
    lk_response out;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EIO);
    assert_true(lk_now() - t0 < 1.8);
    assert_non_null(strstr(err.msg, "openai:gpt-4o-mini"));
    assert_string_equal(out.finish_reason, "error");
    lk_response_free(&out);
    lk_model_free(m);
}

/* A callback returning false stops the stream: finish "cancelled", return 0. */
static void test_cancel_from_callback(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    pieces p = { .cancel_after = 2 };
    chat_ok(m, &r, &p, &out);
    assert_string_equal(out.finish_reason, "cancelled");
    assert_string_equal(out.text, "echo: hello");
    assert_int_equal(p.n, 2);
    lk_buf_free(&p.all);
    lk_response_free(&out);
    lk_model_free(m);
}

/* The key is sent, a wrong one gets OpenAI's 401 (which masks it); a server echoing the whole
 * key still never gets it into the error message. */
static void test_key_never_in_errors(void **state) {
    fx *f = *state;
    f->eo.key = "sk-the-right-key-000000000000";
    lk_request r;
    req_hello(&r);
    lk_response out;
    lk_error err = {0};
    lk_model *m = open_openai(f);
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_non_null(strstr(err.msg, "HTTP 401: Incorrect API key provided: sk-te"));
    assert_non_null(strstr(err.msg, "(invalid_request_error/invalid_api_key)"));
    assert_null(strstr(err.msg, KEY));
    assert_int_equal(out.http_status, 401);
    lk_response_free(&out);
    lk_model_free(m);

    m = open_opts(f, "openai:leaky", NULL);
    r.stream = true;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_null(strstr(err.msg, KEY));
    assert_non_null(strstr(err.msg, "Incorrect API key provided: [redacted]"));
    const fake_request *fr = fake_get(f->s, 1);
    assert_non_null(strstr(fr->headers, KEY)); /* it was sent, in the header only */
    assert_null(strstr(fr->body, KEY));
    lk_response_free(&out);
    lk_model_free(m);
}

/* With the right key the echo answers. */
static void test_key_accepted(void **state) {
    fx *f = *state;
    f->eo.key = KEY;
    lk_model *m = open_openai(f);
    lk_request r;
    req_hello(&r);
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "echo: hello there world");
    lk_response_free(&out);
    lk_model_free(m);
}

/* ---- embeddings ---- */

/* Vectors come back in the order of the texts (the server lists them reversed, by index),
 * with usage. */
static void test_embeddings_by_index(void **state) {
    fx *f = *state;
    lk_model *m = open_compat(f);
    const char *texts[] = { "alpha", "beta gamma", "delta" };
    lk_embeddings all, one;
    lk_error err = {0};
    assert_int_equal(lk_model_embed(m, texts, 3, &all, &err), 0);
    assert_int_equal(all.n, 3);
    assert_int_equal(all.dim, 8);
    assert_int_equal(all.usage.prompt_tokens, 4);
    json_t *b = body_of(f, 0);
    assert_string_equal(fake_get(f->s, 0)->path, "/v1/embeddings");
    assert_string_equal(json_string_value(json_object_get(b, "encoding_format")), "float");
    assert_int_equal(json_array_size(json_object_get(b, "input")), 3);
    json_decref(b);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lk_model_embed(m, &texts[i], 1, &one, &err), 0);
        assert_memory_equal(one.data, all.data + i * 8, 8 * sizeof(float));
        lk_embeddings_free(&one);
    }
    lk_embeddings_free(&all);
    lk_model_free(m);
}

/* More than 256 texts go in batches of at most 256; usage is summed. */
static void test_embeddings_batches(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    const char *texts[300];
    char bufs[300][24];
    for (int i = 0; i < 300; i++) {
        snprintf(bufs[i], sizeof bufs[i], "text %d", i);
        texts[i] = bufs[i];
    }
    lk_embeddings e, one;
    lk_error err = {0};
    assert_int_equal(lk_model_embed(m, texts, 300, &e, &err), 0);
    assert_int_equal(fake_count(f->s), 2);
    json_t *b0 = body_of(f, 0), *b1 = body_of(f, 1);
    assert_int_equal(json_array_size(json_object_get(b0, "input")), 256);
    assert_int_equal(json_array_size(json_object_get(b1, "input")), 44);
    json_decref(b0);
    json_decref(b1);
    assert_int_equal(e.n, 300);
    assert_int_equal(e.usage.prompt_tokens, 600);
    assert_int_equal(lk_model_embed(m, &texts[280], 1, &one, &err), 0);
    assert_memory_equal(one.data, e.data + 280 * 8, 8 * sizeof(float));
    lk_embeddings_free(&one);
    lk_embeddings_free(&e);
    lk_model_free(m);
}

/* Vectors of different lengths in one answer are a format error. */
static void test_embeddings_dim_mismatch(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    push(f, 200, NULL,
         "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":[0.0023064255,-0.009327292,0.1],\"index\":0},"
         "{\"object\":\"embedding\",\"embedding\":[0.5,0.25],\"index\":1}],\"model\":\"text-embedding-3-small\","
         "\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}",
         0, false);
    const char *texts[] = { "a", "b" };
    lk_embeddings e;
    lk_error err = {0};
    assert_int_equal(lk_model_embed(m, texts, 2, &e, &err), LK_EFORMAT);
    assert_non_null(strstr(err.msg, "dimensions"));
    lk_model_free(m);
}

/* ---- timing ---- */

/* ttft is measured at the first content delta, not at the first byte: a stream whose first
 * content comes after a delay has ttft >= that delay. */
static void test_ttft_at_first_delta(void **state) {
    fx *f = *state;
    lk_model *m = open_openai(f);
    fake_reply rp = { .content_type = "text/event-stream", .body = doc_stream, .first_byte_delay_s = 0.3 };
    fake_push(f->s, &rp);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_true(out.timings.ttft_s >= 0.3);
    assert_true(out.timings.ttft_s <= out.timings.total_s);
    lk_response_free(&out);
    lk_model_free(m);
}

int main(void) {
    setenv("OPENAI_API_KEY", KEY, 1);
    unsetenv("OPENAI_BASE_URL");
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_request_fields),
        T(test_response_format_not_strict),
        T(test_compat_extensions),
        T(test_tool_choice_strings),
        T(test_bad_tool_schema),
        T(test_stream_request),
        T(test_unsupported_settings),
        T(test_more_than_four_stops),
        T(test_stream_matches_plain),
        T(test_tool_call_both_ways),
        T(test_logprobs),
        T(test_length_and_stop),
        T(test_legacy_completion),
        T(test_doc_body),
        T(test_doc_stream_bytewise),
        T(test_doc_stream_random),
        T(test_doc_tool_stream),
        T(test_doc_logprobs),
        T(test_json_answer_to_stream_request),
        T(test_retry_after_429),
        T(test_retry_500),
        T(test_error_body),
        T(test_error_body_not_json),
        T(test_stream_cut),
        T(test_stream_without_end),
        T(test_stream_error_chunk),
        T(test_slow_first_byte_times_out),
        T(test_cancel_from_callback),
        T(test_key_never_in_errors),
        T(test_key_accepted),
        T(test_embeddings_by_index),
        T(test_embeddings_batches),
        T(test_embeddings_dim_mismatch),
        T(test_ttft_at_first_delta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

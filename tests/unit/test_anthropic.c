/* test_anthropic.c — the Anthropic Messages backend against the loopback fake API: the request
 * it sends (system, merged turns, tool_use / tool_result blocks, headers), the documented
 * message objects and event streams replayed split anywhere, the echo model streamed and not,
 * stop reasons, cache usage, provider errors (bodies and the stream's error event), cut
 * streams, retries, cancellation, unsupported settings and key redaction. */
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

#include "llmkit.h"
#include "base/base.h"
#include "fakeapi.h"

#define KEY "sk-ant-test-0123456789abcdefghij"

typedef struct fx {
    fake_server *s;
    char base[128];
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

static lk_model *open_as(fx *f, const char *spec) {
    lk_model_opts opts = { .base_url = f->base };
    lk_error err = {0};
    lk_model *m = lk_model_open_ex(spec, &opts, &err);
    if (!m) fail_msg("open %s: %s", spec, err.msg);
    return m;
}

static lk_model *open_claude(fx *f) { return open_as(f, "anthropic:claude-sonnet-4-5"); }

static json_t *body_of(fx *f, int i) {
    assert_true(i < fake_count(f->s));
    const fake_request *r = fake_get(f->s, i);
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    assert_non_null(j);
    return j;
}

static void assert_json(json_t *got, const char *want_text) {
    json_t *want = json_loads(want_text, 0, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("got %s", g);
    }
    json_decref(want);
}

typedef struct pieces {
    lk_buf all;
    int n;
    int cancel_after;
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

static void push(fx *f, int status, const char *ctype, const char *body, size_t split, bool random_split) {
    fake_reply r = { .status = status, .content_type = ctype, .body = body, .split = split,
                     .random_split = random_split };
    fake_push(f->s, &r);
}

static void chat_ok(lk_model *m, const lk_request *r, pieces *p, lk_response *out) {
    lk_error err = {0};
    int rc = lk_model_chat(m, r, p ? collect : NULL, p, out, &err);
    if (rc) fail_msg("chat: %s", err.msg);
}

/* ---- the request ---- */

/* System messages join into the top-level "system"; tool calls become tool_use blocks with
 * parsed input; consecutive tool answers merge into one user turn of tool_result blocks (with
 * the user message that follows); headers carry the key and the API version. */
static void test_request_shape(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    lk_tool_call calls[] = { { "toolu_1", "get_weather", "{\"city\":\"Paris\"}" },
                             { "toolu_2", "get_time", "" } };
    lk_message msgs[] = {
        { .role = "system", .content = "be brief" },
        { .role = "system", .content = "be kind" },
        { .role = "user", .content = "weather and time?" },
        { .role = "assistant", .content = "Checking.", .tool_calls = calls, .n_tool_calls = 2 },
        { .role = "tool", .content = "sunny", .tool_call_id = "toolu_1" },
        { .role = "tool", .content = "noon", .tool_call_id = "toolu_2" },
        { .role = "user", .content = "thanks" },
    };
    lk_tool tools[] = { { "get_weather", "Weather for a city", "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}" },
                        { "get_time", NULL, NULL } };
    const char *stops[] = { "END" };
    lk_request r;
    lk_request_init(&r);
    r.messages = msgs;
    r.n_messages = 7;
    r.tools = tools;
    r.n_tools = 2;
    r.tool_choice = "required";
    r.temperature = 0.7f;
    r.top_p = 0.9f;
    r.top_k = 40;
    r.stop = stops;
    r.n_stop = 1;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_int_equal(out.n_warnings, 0);
    lk_response_free(&out);

    assert_string_equal(fake_get(f->s, 0)->path, "/v1/messages");
    char h[256];
    assert_string_equal(fake_header(f->s, 0, "x-api-key", h, sizeof h), KEY);
    assert_string_equal(fake_header(f->s, 0, "anthropic-version", h, sizeof h), "2023-06-01");
    assert_string_equal(fake_header(f->s, 0, "content-type", h, sizeof h), "application/json");
    assert_null(fake_header(f->s, 0, "authorization", h, sizeof h));
    json_t *b = body_of(f, 0);
    assert_json(b,
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"system\":\"be brief\\n\\nbe kind\","
        "\"messages\":["
        "{\"role\":\"user\",\"content\":\"weather and time?\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Checking.\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_time\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"sunny\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":\"noon\"},"
        "{\"type\":\"text\",\"text\":\"thanks\"}]}],"
        "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather for a city\",\"input_schema\":{\"type\":\"object\","
        "\"properties\":{\"city\":{\"type\":\"string\"}}}},"
        "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],"
        "\"tool_choice\":{\"type\":\"any\"},"
        "\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,\"stop_sequences\":[\"END\"]}");
    json_decref(b);
    lk_model_free(m);
}

/* Consecutive user messages merge into one turn; max_tokens is sent as given. */
static void test_same_role_merged(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    lk_message msgs[] = { { .role = "user", .content = "one" }, { .role = "user", .content = "two" } };
    lk_request r;
    lk_request_init(&r);
    r.messages = msgs;
    r.n_messages = 2;
    r.max_tokens = 100;
    r.stream = true;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    lk_response_free(&out);
    json_t *b = body_of(f, 0);
    assert_json(json_object_get(b, "messages"),
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"one\"},{\"type\":\"text\",\"text\":\"two\"}]}]");
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 100);
    assert_true(json_is_true(json_object_get(b, "stream")));
    assert_null(json_object_get(b, "system"));
    json_decref(b);
    lk_model_free(m);
}

/* tool_choice: auto, none and a tool's name. */
static void test_tool_choice_shapes(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    lk_tool tools[] = { { "lookup", NULL, NULL } };
    const char *choices[] = { "auto", "none", "lookup" };
    const char *want[] = { "{\"type\":\"auto\"}", "{\"type\":\"none\"}", "{\"type\":\"tool\",\"name\":\"lookup\"}" };
    for (int i = 0; i < 3; i++) {
        lk_request r;
        req_hello(&r);
        r.tools = tools;
        r.n_tools = 1;
        r.tool_choice = choices[i];
        lk_response out;
        chat_ok(m, &r, NULL, &out);
        lk_response_free(&out);
        json_t *b = body_of(f, i);
        assert_json(json_object_get(b, "tool_choice"), want[i]);
        json_decref(b);
    }
    lk_model_free(m);
}

/* Settings the Messages API lacks are warnings (not sent); strict fails naming the setting. */
static void test_unsupported_settings(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    lk_request r;
    req_hello(&r);
    r.has_seed = true;
    r.seed = 1;
    r.frequency_penalty = 0.5f;
    r.logprobs = 2;
    r.response_format = "{\"type\":\"object\"}";
    lk_bias bias[] = { { 1, 1 } };
    r.logit_bias = bias;
    r.n_logit_bias = 1;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_int_equal(out.n_warnings, 5);
    const char *names[] = { "seed", "frequency_penalty", "logit_bias", "logprobs", "response_format" };
    for (int i = 0; i < 5; i++) assert_non_null(strstr(out.warnings[i], names[i]));
    lk_response_free(&out);
    json_t *b = body_of(f, 0);
    assert_null(json_object_get(b, "seed"));
    json_decref(b);

    r.strict = true;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "seed"));
    assert_int_equal(fake_count(f->s), 1);
    lk_response_free(&out);
    lk_model_free(m);
}

/* A plain prompt is reported and sent as a user message. */
static void test_prompt_as_user_message(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    lk_request r;
    lk_request_init(&r);
    r.prompt = "once upon";
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "echo: once upon");
    assert_int_equal(out.n_warnings, 1);
    assert_non_null(strstr(out.warnings[0], "prompt"));
    lk_response_free(&out);
    lk_model_free(m);
}

/* Tool arguments that are not a JSON object cannot become tool_use input: LK_EINVAL. */
static void test_bad_tool_arguments(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    lk_tool_call calls[] = { { "toolu_1", "get_weather", "not json" } };
    lk_message msgs[] = { { .role = "user", .content = "hi" },
                          { .role = "assistant", .tool_calls = calls, .n_tool_calls = 1 } };
    lk_request r;
    lk_request_init(&r);
    r.messages = msgs;
    r.n_messages = 2;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "get_weather"));
    assert_int_equal(fake_count(f->s), 0);
    lk_response_free(&out);
    lk_model_free(m);
}

/* ---- responses from the echo model ---- */

static void assert_same_response(const lk_response *a, const lk_response *b) {
    assert_string_equal(a->text, b->text);
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
}

/* Streaming and non-streaming give the same response. */
static void test_stream_matches_plain(void **state) {
    fx *f = *state;
    f->eo.split = 6;
    lk_model *m = open_claude(f);
    lk_request r;
    req_hello(&r);
    lk_response a, b;
    pieces pa = {0}, pb = {0};
    chat_ok(m, &r, &pa, &a);
    r.stream = true;
    chat_ok(m, &r, &pb, &b);
    assert_string_equal(a.text, "echo: hello there world");
    assert_string_equal(a.finish_reason, "stop");
    assert_string_equal(a.id, "msg_echo1");
    assert_string_equal(a.model, "claude-sonnet-4-5");
    assert_int_equal(a.usage.completion_tokens, 4);
    assert_same_response(&a, &b);
    assert_int_equal(pa.n, 1);
    assert_int_equal(pb.n, 4);
    lk_buf_free(&pa.all);
    lk_buf_free(&pb.all);
    lk_response_free(&a);
    lk_response_free(&b);
    lk_model_free(m);
}

/* A tool call after a text block, streamed as input_json_delta fragments, equals the
 * non-streamed one. */
static void test_tool_call_both_ways(void **state) {
    fx *f = *state;
    f->eo.split = 4;
    lk_model *m = open_claude(f);
    lk_message msgs[] = { { .role = "user", .content = "please call:get_weather now" } };
    lk_tool tools[] = { { "get_weather", NULL, NULL } };
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
    assert_string_equal(a.text, "echo: calling get_weather");
    assert_int_equal(a.n_tool_calls, 1);
    assert_string_equal(a.tool_calls[0].id, "toolu_echo1");
    assert_string_equal(a.tool_calls[0].arguments, "{\"q\":\"please call:get_weather now\"}");
    assert_string_equal(a.finish_reason, "tool_calls");
    assert_same_response(&a, &b);
    lk_response_free(&a);
    lk_response_free(&b);
    lk_model_free(m);
}

/* max_tokens gives "length" and a stop sequence "stop". */
static void test_stop_reasons(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    lk_request r;
    req_hello(&r);
    r.max_tokens = 2;
    r.stream = true;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "echo: hello");
    assert_string_equal(out.finish_reason, "length");
    lk_response_free(&out);
    const char *stops[] = { "world" };
    req_hello(&r);
    r.stop = stops;
    r.n_stop = 1;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "echo: hello there ");
    assert_string_equal(out.finish_reason, "stop");
    lk_response_free(&out);
    lk_model_free(m);
}

/* ---- documented examples ---- */

/* The Messages API reference's example response, with prompt caching's usage fields. */
static void test_doc_body_with_cache_usage(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    push(f, 200, NULL,
         "{\n  \"content\": [\n    {\n      \"text\": \"Hi! My name is Claude.\",\n      \"type\": \"text\"\n    }\n  ],\n"
         "  \"id\": \"msg_013Zva2CMHLNnXjNJJKqJ2EF\",\n  \"model\": \"claude-3-7-sonnet-20250219\",\n  \"role\": \"assistant\",\n"
         "  \"stop_reason\": \"end_turn\",\n  \"stop_sequence\": null,\n  \"type\": \"message\",\n  \"usage\": {\n"
         "    \"input_tokens\": 21,\n    \"cache_creation_input_tokens\": 188086,\n    \"cache_read_input_tokens\": 1000,\n"
         "    \"output_tokens\": 393\n  }\n}\n",
         1, false);
    lk_request r;
    req_hello(&r);
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "Hi! My name is Claude.");
    assert_string_equal(out.id, "msg_013Zva2CMHLNnXjNJJKqJ2EF");
    assert_string_equal(out.model, "claude-3-7-sonnet-20250219");
    assert_string_equal(out.finish_reason, "stop");
    assert_int_equal(out.usage.prompt_tokens, 21 + 188086 + 1000);
    assert_int_equal(out.usage.cached_tokens, 1000);
    assert_int_equal(out.usage.cache_write_tokens, 188086);
    assert_int_equal(out.usage.completion_tokens, 393);
    lk_response_free(&out);
    lk_model_free(m);
}

/* The tool use guide's example response: a text block and a tool_use block. */
static void test_doc_tool_use_body(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    push(f, 200, NULL,
         "{\"id\":\"msg_01Aq9w938a90dw8q\",\"model\":\"claude-3-7-sonnet-20250219\",\"stop_reason\":\"tool_use\","
         "\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"<thinking>I need to use the get_weather, and "
         "the user wants SF, which is likely San Francisco, CA.</thinking>\"},{\"type\":\"tool_use\",\"id\":"
         "\"toolu_01A09q90qw90lq917835lq9\",\"name\":\"get_weather\",\"input\":{\"location\":\"San Francisco, CA\","
         "\"unit\":\"celsius\"}}]}",
         0, false);
    lk_request r;
    req_hello(&r);
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_non_null(strstr(out.text, "San Francisco"));
    assert_int_equal(out.n_tool_calls, 1);
    assert_string_equal(out.tool_calls[0].id, "toolu_01A09q90qw90lq917835lq9");
    assert_string_equal(out.tool_calls[0].name, "get_weather");
    assert_string_equal(out.tool_calls[0].arguments, "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}");
    assert_string_equal(out.finish_reason, "tool_calls");
    lk_response_free(&out);
    lk_model_free(m);
}

/* The streaming guide's basic example. */
static const char doc_stream[] =
    "event: message_start\n"
    "data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", \"type\": \"message\", "
    "\"role\": \"assistant\", \"content\": [], \"model\": \"claude-opus-4-20250514\", \"stop_reason\": null, \"stop_sequence\": null, "
    "\"usage\": {\"input_tokens\": 25, \"output_tokens\": 1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"Hello\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"!\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\": \"content_block_stop\", \"index\": 0}\n\n"
    "event: message_delta\n"
    "data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\": \"message_stop\"}\n\n";

static void check_doc_stream(fx *f, size_t split, bool random) {
    lk_model *m = open_claude(f);
    push(f, 200, "text/event-stream", doc_stream, split, random);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    pieces p = {0};
    chat_ok(m, &r, &p, &out);
    assert_string_equal(out.text, "Hello!");
    assert_int_equal(p.n, 2);
    assert_string_equal(out.finish_reason, "stop");
    assert_string_equal(out.id, "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
    assert_string_equal(out.model, "claude-opus-4-20250514");
    assert_int_equal(out.usage.prompt_tokens, 25);
    assert_int_equal(out.usage.completion_tokens, 15);
    lk_buf_free(&p.all);
    lk_response_free(&out);
    lk_model_free(m);
}

/* The documented stream, one byte at a time. */
static void test_doc_stream_bytewise(void **state) { check_doc_stream(*state, 1, false); }

/* The documented stream, in random pieces. */
static void test_doc_stream_random(void **state) {
    for (int i = 0; i < 4; i++) check_doc_stream(*state, 17, true);
}

/* The streaming guide's tool use example: a text block, then a tool_use block whose input
 * arrives as partial JSON. */
static const char doc_tool_stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-opus-4-20250514\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],"
    "\"stop_reason\":null}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", let's check.\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
    "\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" Francisc\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"o,\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" CA\\\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\", \"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"unit\\\": \\\"fah\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"renheit\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

/* The tool_use block's partial JSON is concatenated into the call's arguments. */
static void test_doc_tool_stream(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    push(f, 200, "text/event-stream", doc_tool_stream, 9, true);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.text, "Okay, let's check.");
    assert_int_equal(out.n_tool_calls, 1);
    assert_string_equal(out.tool_calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_string_equal(out.tool_calls[0].name, "get_weather");
    assert_string_equal(out.tool_calls[0].arguments, "{\"location\": \"San Francisco, CA\", \"unit\": \"fahrenheit\"}");
    assert_string_equal(out.finish_reason, "tool_calls");
    assert_int_equal(out.usage.prompt_tokens, 472);
    assert_int_equal(out.usage.completion_tokens, 89);
    lk_response_free(&out);
    lk_model_free(m);
}

/* A refusal stop reason is "content_filter". */
static void test_refusal_is_content_filter(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    push(f, 200, NULL,
         "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],"
         "\"stop_reason\":\"refusal\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":0}}",
         0, false);
    lk_request r;
    req_hello(&r);
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_string_equal(out.finish_reason, "content_filter");
    assert_string_equal(out.text, "");
    lk_response_free(&out);
    lk_model_free(m);
}

/* ---- errors ---- */

/* The documented error body becomes LK_EREMOTE "<spec>: HTTP <status>: <message> (<type>)". */
static void test_error_body(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    push(f, 404, NULL,
         "{\n  \"type\": \"error\",\n  \"error\": {\n    \"type\": \"not_found_error\",\n"
         "    \"message\": \"The requested resource could not be found.\"\n  }\n}\n",
         0, false);
    lk_request r;
    req_hello(&r);
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_string_equal(err.msg, "anthropic:claude-sonnet-4-5: HTTP 404: The requested resource could not be found. "
                                 "(not_found_error)");
    assert_int_equal(out.http_status, 404);
    lk_response_free(&out);
    lk_model_free(m);
}

/* 529 overloaded_error is retried; when the attempts run out its message is reported. */
static void test_overloaded_retried_then_reported(void **state) {
    fx *f = *state;
    lk_model_opts opts = { .base_url = f->base, .max_attempts = 2 };
    lk_error err = {0};
    lk_model *m = lk_model_open_ex("anthropic:claude-sonnet-4-5", &opts, &err);
    assert_non_null(m);
    const char *body = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    fake_reply rp = { .status = 529, .headers = "Retry-After: 0\r\n", .body = body };
    fake_push(f->s, &rp);
    fake_push(f->s, &rp);
    lk_request r;
    req_hello(&r);
    lk_response out;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_int_equal(fake_count(f->s), 2);
    assert_non_null(strstr(err.msg, "HTTP 529: Overloaded (overloaded_error)"));
    lk_response_free(&out);
    lk_model_free(m);
}

/* 429 then success: the second answer is used. */
static void test_retry_429(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    fake_reply rp = { .status = 429, .headers = "Retry-After: 0\r\n",
                      .body = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Rate limited\"}}" };
    fake_push(f->s, &rp);
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

/* The stream's error event is LK_EREMOTE with its type and message; earlier text is kept. */
static void test_stream_error_event(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    const char *stop = strstr(doc_stream, "event: content_block_stop");
    lk_buf b = {0};
    lk_buf_append(&b, doc_stream, (size_t)(stop - doc_stream));
    lk_buf_puts(&b, "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n");
    push(f, 200, "text/event-stream", b.data, 0, false);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_non_null(strstr(err.msg, "Overloaded (overloaded_error)"));
    assert_string_equal(out.text, "Hello!");
    assert_string_equal(out.finish_reason, "error");
    lk_buf_free(&b);
    lk_response_free(&out);
    lk_model_free(m);
}

/* A stream that stops before message_stop (even after message_delta) was cut off. */
static void test_stream_without_message_stop(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    const char *end = strstr(doc_stream, "event: message_stop");
    fake_reply rp = { .content_type = "text/event-stream", .body = doc_stream, .body_len = (size_t)(end - doc_stream) };
    fake_push(f->s, &rp);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EIO);
    assert_non_null(strstr(err.msg, "stream cut off after"));
    assert_string_equal(out.text, "Hello!");
    assert_string_equal(out.finish_reason, "error");
    lk_response_free(&out);
    lk_model_free(m);
}

/* A connection cut mid-event is LK_EIO with the partial text. */
static void test_stream_cut_mid_event(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    const char *at = strstr(doc_stream, "\"text\": \"!\"");
    fake_reply rp = { .content_type = "text/event-stream", .body = doc_stream, .chunked = true,
                      .cut_after = (size_t)(at - doc_stream) };
    fake_push(f->s, &rp);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EIO);
    assert_non_null(strstr(err.msg, "cut off"));
    assert_string_equal(out.text, "Hello");
    assert_string_equal(out.finish_reason, "error");
    lk_response_free(&out);
    lk_model_free(m);
}

/* A callback returning false ends the call: "cancelled", return 0. */
static void test_cancel_from_callback(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    pieces p = { .cancel_after = 1 };
    chat_ok(m, &r, &p, &out);
    assert_string_equal(out.finish_reason, "cancelled");
    assert_string_equal(out.text, "echo:");
    lk_buf_free(&p.all);
    lk_response_free(&out);
    lk_model_free(m);
}

/* A wrong key gets Anthropic's authentication_error; even a server that echoes the key whole
 * never gets it into the message. */
static void test_key_never_in_errors(void **state) {
    fx *f = *state;
    f->eo.key = "sk-ant-the-right-one-000000";
    lk_model *m = open_claude(f);
    lk_request r;
    req_hello(&r);
    lk_response out;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_non_null(strstr(err.msg, "HTTP 401: invalid x-api-key (authentication_error)"));
    lk_response_free(&out);
    lk_model_free(m);
    m = open_as(f, "anthropic:leaky");
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &out, &err), LK_EREMOTE);
    assert_null(strstr(err.msg, KEY));
    assert_non_null(strstr(err.msg, "[redacted]"));
    lk_response_free(&out);
    lk_model_free(m);
}

/* Anthropic has no embeddings. */
static void test_no_embeddings(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    const char *texts[] = { "a" };
    lk_embeddings e;
    lk_error err = {0};
    assert_int_equal(lk_model_embed(m, texts, 1, &e, &err), LK_EUNSUPPORTED);
    lk_model_free(m);
}

/* ttft is taken at the first text delta, after the delayed first byte. */
static void test_ttft_at_first_delta(void **state) {
    fx *f = *state;
    lk_model *m = open_claude(f);
    fake_reply rp = { .content_type = "text/event-stream", .body = doc_stream, .first_byte_delay_s = 0.25 };
    fake_push(f->s, &rp);
    lk_request r;
    req_hello(&r);
    r.stream = true;
    lk_response out;
    chat_ok(m, &r, NULL, &out);
    assert_true(out.timings.ttft_s >= 0.25);
    assert_true(out.timings.ttft_s <= out.timings.total_s);
    lk_response_free(&out);
    lk_model_free(m);
}

int main(void) {
    setenv("ANTHROPIC_API_KEY", KEY, 1);
    unsetenv("ANTHROPIC_BASE_URL");
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_request_shape),
        T(test_same_role_merged),
        T(test_tool_choice_shapes),
        T(test_unsupported_settings),
        T(test_prompt_as_user_message),
        T(test_bad_tool_arguments),
        T(test_stream_matches_plain),
        T(test_tool_call_both_ways),
        T(test_stop_reasons),
        T(test_doc_body_with_cache_usage),
        T(test_doc_tool_use_body),
        T(test_doc_stream_bytewise),
        T(test_doc_stream_random),
        T(test_doc_tool_stream),
        T(test_refusal_is_content_filter),
        T(test_error_body),
        T(test_overloaded_retried_then_reported),
        T(test_retry_429),
        T(test_stream_error_event),
        T(test_stream_without_message_stop),
        T(test_stream_cut_mid_event),
        T(test_cancel_from_callback),
        T(test_key_never_in_errors),
        T(test_no_embeddings),
        T(test_ttft_at_first_delta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

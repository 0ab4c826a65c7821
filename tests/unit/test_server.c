/* test_server.c — llmkit serve's HTTP server, in-process on a free port, driven with libcurl.
 *
 * Three models are served: "tiny", a small random local GGUF model; "echo", an OpenAI-compatible
 * model proxied to the loopback echo server (tests/support/fakeapi.h); and "stub", a backend
 * defined here whose behaviour the prompt picks (a full queue, a slow stream that counts its
 * cancellations). Every endpoint is checked streaming and not, every error with its documented
 * status and shape, and the server's behaviour under disconnects, 64 concurrent streams, API
 * keys, body limits, timeouts and a graceful stop. */
#include "testutil.h"
#include "fakeapi.h"
#include "server/server.h"
#include "models/model_impl.h"
#include "models/sse.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

/* ---- the stub backend ---- */

static int stub_cancelled, stub_running;

static const char *last_user(const lk_request *req) {
    if (req->prompt) return req->prompt;
    for (size_t i = req->n_messages; i-- > 0;)
        if (!strcmp(req->messages[i].role, "user")) return req->messages[i].content;
    return "";
}

/* "queue": fails as a full scheduler queue does. "slow N": N pieces "tick " 10 ms apart. Else
 * "a" "b". */
static int stub_chat(lk_model *m, const lk_request *req, lk_token_cb cb, void *ud, lk_response *out, lk_error *err) {
    const char *msg = last_user(req);
    if (!strcmp(msg, "queue")) return lk_errorf(err, LK_ERANGE, "%s: queue full (64 requests waiting)", m->spec);
    int n = 2;
    if (!strncmp(msg, "slow ", 5)) n = atoi(msg + 5);
    __atomic_add_fetch(&stub_running, 1, __ATOMIC_SEQ_CST);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (i) usleep(10000);
        if (req->cancel && __atomic_load_n(req->cancel, __ATOMIC_RELAXED)) {
            __atomic_add_fetch(&stub_cancelled, 1, __ATOMIC_SEQ_CST);
            rc = LK_ECANCELLED;
            break;
        }
        resp_first_token(m, out);
        const char *t = n == 2 ? (i ? "b" : "a") : "tick ";
        if (!resp_text(out, t, strlen(t), cb, ud)) {
            __atomic_add_fetch(&stub_cancelled, 1, __ATOMIC_SEQ_CST);
            rc = LK_ECANCELLED;
            break;
        }
        out->usage.completion_tokens++;
    }
    out->usage.prompt_tokens = 3;
    if (!rc) resp_set(&out->finish_reason, "stop");
    __atomic_sub_fetch(&stub_running, 1, __ATOMIC_SEQ_CST);
    return rc;
}

static const model_ops stub_ops = { .chat = stub_chat };

static lk_model *stub_open(void) {
    lk_model *m = lk_xcalloc(1, sizeof *m);
    m->ops = &stub_ops;
    m->spec = lk_xstrdup("stub:test");
    m->backend = "stub";
    m->name = lk_xstrdup("stub");
    return m;
}

/* ---- fixtures ---- */

static fake_server *F;
static lk_model *M_local, *M_echo, *M_stub;
static srv_server *S;
static char BASE[64];

static srv_server *start_server(const srv_opts *o, char *base) {
    srv_server *s = srv_new(o);
    lk_error err = {0};
    assert_int_equal(srv_add_model(s, "tiny", M_local, &err), 0);
    assert_int_equal(srv_add_model(s, "echo", M_echo, &err), 0);
    assert_int_equal(srv_add_model(s, "stub", M_stub, &err), 0);
    if (srv_start(s, &err)) fail_msg("start: %s", err.msg);
    assert_true(srv_port(s) > 0);
    sprintf(base, "http://127.0.0.1:%d", srv_port(s));
    return s;
}

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char vocab[512], path[512];
    snprintf(vocab, sizeof vocab, "%s", tu_path(0, "vocab512.gguf"));
    tu_write_small_vocab(vocab, 512 - 259);
    snprintf(path, sizeof path, "%s", tu_path(1, "tiny.gguf"));
    tu_random_model(path, "llama", "q8_0", vocab, 2, 64, 4, 2, 128, false, false);
    lk_error err = {0};
    lk_model_opts o = { .threads = 1, .n_ctx = 512 };
    M_local = lk_model_open_ex(path, &o, &err);
    if (!M_local) fail_msg("open: %s", err.msg);
    F = fake_start();
    assert_non_null(F);
    fake_set_handler(F, fake_echo, NULL);
    char spec[128];
    snprintf(spec, sizeof spec, "%s/v1#echo", fake_base(F));
    M_echo = lk_model_open(spec, &err);
    if (!M_echo) fail_msg("open: %s", err.msg);
    M_stub = stub_open();
    srv_opts so = { .port = 0 };
    S = start_server(&so, BASE);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    srv_free(S);
    lk_model_free(M_local);
    lk_model_free(M_echo);
    lk_model_free(M_stub);
    fake_stop(F);
    curl_global_cleanup();
    return 0;
}

/* ---- HTTP ---- */

typedef struct reply {
    long status;
    lk_buf body, headers;
    size_t stop_after;            /* > 0: hang up once this many body bytes arrived */
} reply;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
    reply *r = ud;
    lk_buf_append(&r->body, p, sz * n);
    if (r->stop_after && r->body.len >= r->stop_after) return 0;
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
    lk_buf_append(&((reply *)ud)->headers, p, sz * n);
    return sz * n;
}

static CURL *request(const char *base, const char *method, const char *path, const char *body, const char *h1,
                     const char *h2, reply *r, struct curl_slist **hs) {
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    *hs = curl_slist_append(NULL, "Content-Type: application/json");
    *hs = curl_slist_append(*hs, "Expect:");
    if (h1) *hs = curl_slist_append(*hs, h1);
    if (h2) *hs = curl_slist_append(*hs, h2);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

static reply http_at(const char *base, const char *method, const char *path, const char *body, const char *h1, const char *h2) {
    reply r = {0};
    struct curl_slist *hs;
    CURL *c = request(base, method, path, body, h1, h2, &r, &hs);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) r.status = -1;
    else curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    if (!r.body.data) lk_buf_puts(&r.body, "");
    if (!r.headers.data) lk_buf_puts(&r.headers, "");
    return r;
}

static reply post(const char *path, const char *body) {
    return http_at(BASE, "POST", path, body, NULL, NULL);
}

static void reply_free(reply *r) {
    lk_buf_free(&r->body);
    lk_buf_free(&r->headers);
}

static json_t *parse(const reply *r) {
    json_error_t je;
    json_t *j = json_loads(r->body.data, 0, &je);
    if (!j) fail_msg("not JSON (%s): %.300s", je.text, r->body.data);
    return j;
}

/* ---- SSE ---- */

typedef struct events {
    char *type[4096];
    json_t *data[4096];           /* NULL for [DONE] */
    int n;
    bool done;
} events;

static int on_event(const sse_event *ev, void *ud, lk_error *err) {
    (void)err;
    events *e = ud;
    if (e->n == 4096) return 0;
    if (!strcmp(ev->data, "[DONE]")) {
        e->done = true;
        e->type[e->n] = lk_xstrdup(ev->type);
        e->data[e->n++] = NULL;
        return 0;
    }
    json_t *j = json_loads(ev->data, 0, NULL);
    if (!j) fail_msg("SSE data is not JSON: %s", ev->data);
    e->type[e->n] = lk_xstrdup(ev->type);
    e->data[e->n++] = j;
    return 0;
}

static void parse_sse(const reply *r, events *e) {
    memset(e, 0, sizeof *e);
    sse_parser p;
    sse_init(&p);
    lk_error err = {0};
    assert_int_equal(sse_feed(&p, r->body.data, r->body.len, on_event, e, &err), 0);
    assert_false(sse_finish(&p)); /* ends with a complete event */
    sse_free(&p);
}

static void events_free(events *e) {
    for (int i = 0; i < e->n; i++) {
        free(e->type[i]);
        json_decref(e->data[i]);
    }
}

static const char *jstr(json_t *j, const char *path) {
    /* "a.b.0.c": objects by key, arrays by index */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(k)) : json_object_get(j, k);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static json_t *jget(json_t *j, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(k)) : json_object_get(j, k);
    return j;
}

static long long jint(json_t *j, const char *path) {
    json_t *v = jget(j, path);
    if (!json_is_integer(v)) fail_msg("%s is not an integer", path);
    return json_integer_value(v);
}

/* An OpenAI error: the status, and {"error": {"message", "type", "param", "code"}} all present. */
static json_t *expect_openai_error(reply *r, long status, const char *type) {
    if (r->status != status) fail_msg("status %ld, expected %ld: %s", r->status, status, r->body.data);
    json_t *j = parse(r);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(e), 4);
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_string_equal(json_string_value(json_object_get(e, "type")), type);
    assert_non_null(json_object_get(e, "param"));
    assert_non_null(json_object_get(e, "code"));
    return j;
}

/* An Anthropic error: {"type": "error", "error": {"type", "message"}}. */
static json_t *expect_anthropic_error(reply *r, long status, const char *type) {
    if (r->status != status) fail_msg("status %ld, expected %ld: %s", r->status, status, r->body.data);
    json_t *j = parse(r);
    assert_string_equal(jstr(j, "type"), "error");
    assert_string_equal(jstr(j, "error.type"), type);
    assert_non_null(jstr(j, "error.message"));
    assert_int_equal(json_object_size(json_object_get(j, "error")), 2);
    return j;
}

#define CHAT_TINY "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello there\"}], " \
                  "\"max_tokens\": 8, \"temperature\": 0, \"seed\": 3"

/* ---- endpoints ---- */

static void test_health_and_models(void **state) {
    (void)state;
    reply r = http_at(BASE, "GET", "/health", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    assert_string_equal(jstr(j, "status"), "ok");
    json_decref(j);
    reply_free(&r);
    r = http_at(BASE, "GET", "/v1/models", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    j = parse(&r);
    assert_string_equal(jstr(j, "object"), "list");
    assert_string_equal(jstr(j, "data.0.id"), "tiny");
    assert_string_equal(jstr(j, "data.0.object"), "model");
    assert_string_equal(jstr(j, "data.1.id"), "echo");
    assert_string_equal(jstr(j, "data.2.type"), "model"); /* Anthropic's shape too */
    json_decref(j);
    reply_free(&r);
    r = http_at(BASE, "GET", "/v1/models/echo", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    r = http_at(BASE, "GET", "/v1/models/nope", NULL, NULL, NULL);
    j = expect_openai_error(&r, 404, "invalid_request_error");
    assert_string_equal(jstr(j, "error.code"), "model_not_found");
    json_decref(j);
    reply_free(&r);
}

/* Streamed and whole answers at temperature 0 with a seed have the same text; the stream is
 * chat.completion.chunk events: a role chunk, content chunks, a finish chunk, a usage chunk
 * (choices empty), then [DONE]. */
static void test_chat_local_both_ways(void **state) {
    (void)state;
    reply r = post("/v1/chat/completions", CHAT_TINY "}");
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    assert_string_equal(jstr(j, "object"), "chat.completion");
    assert_string_equal(jstr(j, "model"), "tiny");
    assert_string_equal(jstr(j, "choices.0.message.role"), "assistant");
    const char *text = jstr(j, "choices.0.message.content");
    assert_non_null(text);
    assert_string_equal(jstr(j, "choices.0.finish_reason"), "length");
    assert_int_equal(jint(j, "usage.completion_tokens"), 8);
    assert_int_equal(jint(j, "usage.total_tokens"), jint(j, "usage.prompt_tokens") + 8);
    assert_true(json_is_integer(jget(j, "usage.prompt_tokens_details.cached_tokens")));

    reply s = post("/v1/chat/completions", CHAT_TINY ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
    assert_int_equal(s.status, 200);
    assert_non_null(strstr(s.headers.data, "text/event-stream"));
    events e;
    parse_sse(&s, &e);
    assert_true(e.done);
    assert_null(e.data[e.n - 1]);
    assert_true(e.n >= 4);
    lk_buf streamed = {0};
    lk_buf_puts(&streamed, "");
    const char *id = jstr(e.data[0], "id");
    assert_string_equal(jstr(e.data[0], "choices.0.delta.role"), "assistant");
    int finishes = 0;
    for (int i = 0; i < e.n - 2; i++) {
        assert_string_equal(jstr(e.data[i], "object"), "chat.completion.chunk");
        assert_string_equal(jstr(e.data[i], "id"), id);
        assert_true(json_is_null(jget(e.data[i], "usage")));
        const char *c = jstr(e.data[i], "choices.0.delta.content");
        if (c) lk_buf_puts(&streamed, c);
        if (jstr(e.data[i], "choices.0.finish_reason")) finishes++;
    }
    assert_int_equal(finishes, 1);
    assert_string_equal(jstr(e.data[e.n - 3], "choices.0.finish_reason"), "length");
    json_t *u = e.data[e.n - 2];
    assert_int_equal(json_array_size(json_object_get(u, "choices")), 0);
    assert_int_equal(jint(u, "usage.completion_tokens"), 8);
    assert_true(json_is_integer(jget(u, "usage.prompt_tokens_details.cached_tokens")));
    assert_string_equal(streamed.data, text);
    lk_buf_free(&streamed);
    events_free(&e);
    reply_free(&s);
    json_decref(j);
    reply_free(&r);
}

static void test_chat_logprobs(void **state) {
    (void)state;
    reply r = post("/v1/chat/completions", CHAT_TINY ", \"logprobs\": true, \"top_logprobs\": 2}");
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    json_t *content = jget(j, "choices.0.logprobs.content");
    assert_int_equal(json_array_size(content), 8);
    assert_non_null(jstr(content, "0.token"));
    assert_true(json_is_array(jget(content, "0.bytes")));
    assert_int_equal(json_array_size(jget(content, "0.top_logprobs")), 2);
    json_decref(j);
    reply_free(&r);
}

/* A remote model is proxied: its text, and its tool calls in both streaming and whole form. */
static void test_chat_remote_and_tools(void **state) {
    (void)state;
    reply r = post("/v1/chat/completions", "{\"model\": \"echo\", \"messages\": [{\"role\": \"user\", \"content\": "
                                           "\"hello world\"}], \"temperature\": 0}");
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    assert_string_equal(jstr(j, "choices.0.message.content"), "echo: hello world");
    assert_string_equal(jstr(j, "choices.0.finish_reason"), "stop");
    json_decref(j);
    reply_free(&r);
    const char *tools = "{\"model\": \"echo\", \"messages\": [{\"role\": \"user\", \"content\": \"please call:lookup\"}], "
                        "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"lookup\", \"parameters\": "
                        "{\"type\": \"object\"}}}]";
    char body[512];
    snprintf(body, sizeof body, "%s}", tools);
    r = post("/v1/chat/completions", body);
    assert_int_equal(r.status, 200);
    j = parse(&r);
    assert_string_equal(jstr(j, "choices.0.finish_reason"), "tool_calls");
    assert_string_equal(jstr(j, "choices.0.message.tool_calls.0.type"), "function");
    assert_string_equal(jstr(j, "choices.0.message.tool_calls.0.function.name"), "lookup");
    assert_non_null(strstr(jstr(j, "choices.0.message.tool_calls.0.function.arguments"), "call:lookup"));
    assert_true(json_is_null(jget(j, "choices.0.message.content")));
    json_decref(j);
    reply_free(&r);
    snprintf(body, sizeof body, "%s, \"stream\": true}", tools);
    r = post("/v1/chat/completions", body);
    events e;
    parse_sse(&r, &e);
    assert_true(e.done);
    bool saw_call = false;
    for (int i = 0; i < e.n - 1; i++)
        if (jstr(e.data[i], "choices.0.delta.tool_calls.0.function.name")) {
            saw_call = true;
            assert_int_equal(jint(e.data[i], "choices.0.delta.tool_calls.0.index"), 0);
        }
    assert_true(saw_call);
    assert_string_equal(jstr(e.data[e.n - 2], "choices.0.finish_reason"), "tool_calls");
    events_free(&e);
    reply_free(&r);
}

static void test_completions(void **state) {
    (void)state;
    reply r = post("/v1/completions", "{\"model\": \"tiny\", \"prompt\": \"Once upon a time\", \"temperature\": 0}");
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    assert_string_equal(jstr(j, "object"), "text_completion");
    assert_non_null(jstr(j, "choices.0.text"));
    assert_int_equal(jint(j, "usage.completion_tokens"), 16); /* OpenAI's default max_tokens */
    const char *text = jstr(j, "choices.0.text");
    reply s = post("/v1/completions", "{\"model\": \"tiny\", \"prompt\": \"Once upon a time\", \"temperature\": 0, "
                                      "\"stream\": true, \"stream_options\": {\"include_usage\": true}}");
    events e;
    parse_sse(&s, &e);
    assert_true(e.done);
    lk_buf t = {0};
    lk_buf_puts(&t, "");
    for (int i = 0; i < e.n - 2; i++) {
        assert_string_equal(jstr(e.data[i], "object"), "text_completion");
        lk_buf_puts(&t, jstr(e.data[i], "choices.0.text"));
    }
    assert_string_equal(t.data, text);
    assert_string_equal(jstr(e.data[e.n - 3], "choices.0.finish_reason"), "length");
    assert_int_equal(jint(e.data[e.n - 2], "usage.completion_tokens"), 16);
    lk_buf_free(&t);
    events_free(&e);
    reply_free(&s);
    json_decref(j);
    reply_free(&r);
}

static void test_embeddings(void **state) {
    (void)state;
    reply r = post("/v1/embeddings", "{\"model\": \"tiny\", \"input\": [\"the cat\", \"a dog\"]}");
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    assert_string_equal(jstr(j, "object"), "list");
    assert_int_equal(json_array_size(jget(j, "data")), 2);
    assert_int_equal(jint(j, "data.1.index"), 1);
    size_t dim = json_array_size(jget(j, "data.0.embedding"));
    assert_int_equal(dim, 64);
    assert_true(jint(j, "usage.prompt_tokens") > 0);
    json_decref(j);
    reply_free(&r);
    r = post("/v1/embeddings", "{\"model\": \"tiny\", \"input\": \"the cat\", \"encoding_format\": \"base64\"}");
    assert_int_equal(r.status, 200);
    j = parse(&r);
    assert_int_equal(strlen(jstr(j, "data.0.embedding")), (64 * 4 + 2) / 3 * 4);
    json_decref(j);
    reply_free(&r);
    r = post("/v1/embeddings", "{\"model\": \"echo\", \"input\": \"hello\"}");
    assert_int_equal(r.status, 200);
    j = parse(&r);
    assert_int_equal(json_array_size(jget(j, "data.0.embedding")), 8);
    json_decref(j);
    reply_free(&r);
    r = post("/v1/embeddings", "{\"model\": \"tiny\", \"input\": \"x\", \"dimensions\": 3}");
    json_decref(expect_openai_error(&r, 400, "invalid_request_error"));
    reply_free(&r);
}

/* Anthropic Messages: the message object, and the exact event sequence. */
static void test_anthropic_messages(void **state) {
    (void)state;
    const char *req = "{\"model\": \"tiny\", \"max_tokens\": 6, \"temperature\": 0, \"system\": [{\"type\": \"text\", "
                      "\"text\": \"Be brief.\"}], \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", "
                      "\"text\": \"Hi\"}]}]";
    char body[512];
    snprintf(body, sizeof body, "%s}", req);
    reply r = post("/v1/messages", body);
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    assert_string_equal(jstr(j, "type"), "message");
    assert_string_equal(jstr(j, "role"), "assistant");
    assert_string_equal(jstr(j, "content.0.type"), "text");
    assert_string_equal(jstr(j, "stop_reason"), "max_tokens");
    assert_true(json_is_null(jget(j, "stop_sequence")));
    assert_int_equal(jint(j, "usage.output_tokens"), 6);
    assert_true(json_is_integer(jget(j, "usage.cache_read_input_tokens")));
    assert_true(json_is_integer(jget(j, "usage.input_tokens")));
    const char *text = jstr(j, "content.0.text");

    snprintf(body, sizeof body, "%s, \"stream\": true}", req);
    reply s = post("/v1/messages", body);
    assert_int_equal(s.status, 200);
    events e;
    parse_sse(&s, &e);
    assert_false(e.done);
    const char *expect[] = { "message_start", "content_block_start", "ping" };
    for (int i = 0; i < 3; i++) assert_string_equal(e.type[i], expect[i]);
    lk_buf t = {0};
    lk_buf_puts(&t, "");
    int i = 3;
    for (; i < e.n && !strcmp(e.type[i], "content_block_delta"); i++) {
        assert_string_equal(jstr(e.data[i], "delta.type"), "text_delta");
        lk_buf_puts(&t, jstr(e.data[i], "delta.text"));
    }
    assert_int_equal(e.n, i + 3);
    assert_string_equal(e.type[i], "content_block_stop");
    assert_string_equal(e.type[i + 1], "message_delta");
    assert_string_equal(e.type[i + 2], "message_stop");
    for (int k = 0; k < e.n; k++) assert_string_equal(jstr(e.data[k], "type"), e.type[k]);
    assert_string_equal(jstr(e.data[0], "message.role"), "assistant");
    assert_string_equal(jstr(e.data[i + 1], "delta.stop_reason"), "max_tokens");
    assert_int_equal(jint(e.data[i + 1], "usage.output_tokens"), 6);
    assert_true(json_is_integer(jget(e.data[i + 1], "usage.cache_read_input_tokens")));
    assert_string_equal(t.data, text);
    lk_buf_free(&t);
    events_free(&e);
    reply_free(&s);
    json_decref(j);
    reply_free(&r);
}

static void test_anthropic_tools(void **state) {
    (void)state;
    const char *body = "{\"model\": \"echo\", \"max_tokens\": 100, \"messages\": [{\"role\": \"user\", \"content\": "
                       "\"please call:lookup\"}], \"tools\": [{\"name\": \"lookup\", \"input_schema\": {\"type\": \"object\"}}]";
    char b[512];
    snprintf(b, sizeof b, "%s}", body);
    reply r = post("/v1/messages", b);
    assert_int_equal(r.status, 200);
    json_t *j = parse(&r);
    assert_string_equal(jstr(j, "stop_reason"), "tool_use");
    json_t *content = jget(j, "content");
    json_t *last = json_array_get(content, json_array_size(content) - 1);
    assert_string_equal(jstr(last, "type"), "tool_use");
    assert_string_equal(jstr(last, "name"), "lookup");
    assert_true(json_is_object(jget(last, "input")));
    json_decref(j);
    reply_free(&r);
    snprintf(b, sizeof b, "%s, \"stream\": true}", body);
    r = post("/v1/messages", b);
    events e;
    parse_sse(&r, &e);
    bool tool_block = false, json_delta = false;
    for (int i = 0; i < e.n; i++) {
        if (!strcmp(e.type[i], "content_block_start") && jstr(e.data[i], "content_block.type") &&
            !strcmp(jstr(e.data[i], "content_block.type"), "tool_use"))
            tool_block = true;
        if (jstr(e.data[i], "delta.type") && !strcmp(jstr(e.data[i], "delta.type"), "input_json_delta")) json_delta = true;
    }
    assert_true(tool_block && json_delta);
    assert_string_equal(e.type[e.n - 1], "message_stop");
    events_free(&e);
    reply_free(&r);
    /* a tool result goes back as a tool message */
    r = post("/v1/messages", "{\"model\": \"echo\", \"max_tokens\": 50, \"messages\": [{\"role\": \"user\", \"content\": "
                             "\"call:lookup\"}, {\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\", \"id\": "
                             "\"t1\", \"name\": \"lookup\", \"input\": {\"q\": 1}}]}, {\"role\": \"user\", \"content\": "
                             "[{\"type\": \"tool_result\", \"tool_use_id\": \"t1\", \"content\": \"sunny\"}]}]}");
    assert_int_equal(r.status, 200);
    j = parse(&r);
    assert_non_null(strstr(jstr(j, "content.0.text"), "sunny"));
    json_decref(j);
    reply_free(&r);
}

/* ---- errors ---- */

static void openai_400(const char *path, const char *body, const char *param, const char *in_msg) {
    reply r = post(path, body);
    json_t *j = expect_openai_error(&r, 400, "invalid_request_error");
    if (param) {
        if (!jstr(j, "error.param") || strcmp(jstr(j, "error.param"), param))
            fail_msg("param %s, expected %s: %s", jstr(j, "error.param"), param, r.body.data);
    }
    if (in_msg && !strstr(jstr(j, "error.message"), in_msg)) fail_msg("'%s' not in %s", in_msg, r.body.data);
    json_decref(j);
    reply_free(&r);
}

static void test_openai_errors(void **state) {
    (void)state;
    const char *chat = "/v1/chat/completions";
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [", NULL, "not valid JSON");
    openai_400(chat, "", NULL, "empty");
    openai_400(chat, "[1, 2]", NULL, "JSON object");
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": \"hi\"}", "messages", "array");
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": []}", "messages", NULL);
    openai_400(chat, "{\"model\": 5, \"messages\": []}", "model", "string");
    openai_400(chat, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "model", "required");
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", "messages[0]", "robot");
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
               "messages[0]", "image_url");
    const char *bad_max[] = { "-1", "0", "100000" };
    for (int i = 0; i < 3; i++) {
        char b[256];
        snprintf(b, sizeof b, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], "
                 "\"max_tokens\": %s}", bad_max[i]);
        openai_400(chat, b, "max_tokens", "4096");
    }
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": \"9\"}",
               "max_tokens", "integer");
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": 3}",
               "temperature", "range");
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 2}", "n", NULL);
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"frobnicate\": 1}",
               "frobnicate", "Unrecognized");
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream_options\": "
               "{\"include_usage\": true}}", "stream_options", NULL);
    /* what the local model cannot honour: 400 naming the field, never dropped */
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": [{\"type\": "
               "\"function\", \"function\": {\"name\": \"f\"}}]}", "tools", "tools");
    openai_400(chat, "{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"response_format\": "
               "{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\", \"schema\": {\"type\": \"object\"}}}}",
               "response_format", NULL);
    openai_400("/v1/completions", "{\"model\": \"tiny\", \"prompt\": [\"a\", \"b\"]}", "prompt", NULL);
    openai_400("/v1/completions", "{\"model\": \"tiny\", \"prompt\": \"a\", \"echo\": true}", "echo", NULL);
    openai_400("/v1/embeddings", "{\"model\": \"tiny\", \"input\": [1, 2]}", "input", NULL);
    openai_400("/v1/embeddings", "{\"model\": \"tiny\"}", "input", NULL);

    reply r = post(chat, "{\"model\": \"gpt-9\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}");
    json_t *j = expect_openai_error(&r, 404, "invalid_request_error");
    assert_string_equal(jstr(j, "error.code"), "model_not_found");
    assert_string_equal(jstr(j, "error.param"), "model");
    json_decref(j);
    reply_free(&r);
    r = http_at(BASE, "GET", chat, NULL, NULL, NULL);
    json_decref(expect_openai_error(&r, 405, "invalid_request_error"));
    reply_free(&r);
    r = http_at(BASE, "GET", "/v2/nothing", NULL, NULL, NULL);
    json_decref(expect_openai_error(&r, 404, "invalid_request_error"));
    reply_free(&r);
}

static void anthropic_400(const char *body, const char *in_msg) {
    reply r = post("/v1/messages", body);
    json_t *j = expect_anthropic_error(&r, 400, "invalid_request_error");
    if (in_msg && !strstr(jstr(j, "error.message"), in_msg)) fail_msg("'%s' not in %s", in_msg, r.body.data);
    json_decref(j);
    reply_free(&r);
}

static void test_anthropic_errors(void **state) {
    (void)state;
    anthropic_400("{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "max_tokens");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": -1, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "4096");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": 0, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "max_tokens");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": 5, \"messages\": {\"role\": \"user\"}}", "messages");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": 5, \"messages\": [{\"role\": \"system\", \"content\": \"x\"}]}", "role");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": 7}]}", "content");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": "
                  "\"image\", \"source\": {}}]}]}", "image");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": 5, \"system\": 3, \"messages\": [{\"role\": \"user\", \"content\": "
                  "\"x\"}]}", "system");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": 5, \"temperature\": 1.5, \"messages\": [{\"role\": \"user\", "
                  "\"content\": \"x\"}]}", "temperature");
    anthropic_400("{\"model\": \"tiny\", \"max_tokens\": 5, \"extra\": 1, \"messages\": [{\"role\": \"user\", \"content\": "
                  "\"x\"}]}", "extra");
    anthropic_400("{not json", "JSON");
    reply r = post("/v1/messages", "{\"model\": \"claude-9\", \"max_tokens\": 5, \"messages\": [{\"role\": \"user\", "
                                   "\"content\": \"x\"}]}");
    json_decref(expect_anthropic_error(&r, 404, "not_found_error"));
    reply_free(&r);
}

/* A full queue (LK_ERANGE "queue full" from the model) is a 429 with Retry-After. */
static void test_queue_full_is_429(void **state) {
    (void)state;
    reply r = post("/v1/chat/completions", "{\"model\": \"stub\", \"messages\": [{\"role\": \"user\", \"content\": \"queue\"}]}");
    json_t *j = expect_openai_error(&r, 429, "rate_limit_error");
    assert_non_null(strcasestr(r.headers.data, "Retry-After: "));
    json_decref(j);
    reply_free(&r);
    r = post("/v1/messages", "{\"model\": \"stub\", \"max_tokens\": 5, \"stream\": true, \"messages\": [{\"role\": \"user\", "
                             "\"content\": \"queue\"}]}");
    json_decref(expect_anthropic_error(&r, 429, "rate_limit_error"));
    assert_non_null(strcasestr(r.headers.data, "Retry-After: "));
    reply_free(&r);
}

static bool wait_for(int *counter, int value, double seconds) {
    for (double t = lk_now() + seconds; lk_now() < t; usleep(5000))
        if (__atomic_load_n(counter, __ATOMIC_SEQ_CST) >= value) return true;
    return false;
}

/* A client that hangs up mid-stream cancels its generation at once; the server keeps serving,
 * and the local model's slot is free for the next request. */
static void test_disconnect_mid_stream(void **state) {
    (void)state;
    int before = __atomic_load_n(&stub_cancelled, __ATOMIC_SEQ_CST);
    reply r = {0};
    r.stop_after = 200;
    struct curl_slist *hs;
    CURL *c = request(BASE, "POST", "/v1/chat/completions", "{\"model\": \"stub\", \"stream\": true, \"messages\": "
                      "[{\"role\": \"user\", \"content\": \"slow 3000\"}]}", NULL, NULL, &r, &hs);
    double t0 = lk_now();
    assert_int_equal(curl_easy_perform(c), CURLE_WRITE_ERROR);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    assert_true(wait_for(&stub_cancelled, before + 1, 5));
    assert_true(lk_now() - t0 < 5); /* far less than the 30 s the stream would take */
    assert_int_equal(__atomic_load_n(&stub_running, __ATOMIC_SEQ_CST), 0);
    reply_free(&r);

    /* the same on the local model, then a request that needs the model */
    memset(&r, 0, sizeof r);
    r.stop_after = 1;
    c = request(BASE, "POST", "/v1/completions", "{\"model\": \"tiny\", \"stream\": true, \"prompt\": \"Once\", "
                "\"max_tokens\": 4000}", NULL, NULL, &r, &hs);
    curl_easy_perform(c);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    reply_free(&r);
    t0 = lk_now();
    reply ok = post("/v1/chat/completions", CHAT_TINY "}");
    assert_int_equal(ok.status, 200);
    assert_true(lk_now() - t0 < 10);
    reply_free(&ok);
    for (double t = lk_now() + 5; srv_in_flight(S) > 0 && lk_now() < t;) usleep(5000);
    assert_int_equal(srv_in_flight(S), 0);
}

/* 64 streams at once all complete. */
static void test_64_concurrent_streams(void **state) {
    (void)state;
    enum { N = 64 };
    CURLM *multi = curl_multi_init();
    CURL *h[N];
    reply r[N];
    struct curl_slist *hs[N];
    for (int i = 0; i < N; i++) {
        memset(&r[i], 0, sizeof r[i]);
        char body[256];
        snprintf(body, sizeof body, "{\"model\": \"%s\", \"stream\": true, \"max_tokens\": 6, \"messages\": [{\"role\": "
                 "\"user\", \"content\": \"stream %d\"}]}", i % 4 == 3 ? "echo" : "tiny", i);
        h[i] = request(BASE, "POST", "/v1/chat/completions", body, NULL, NULL, &r[i], &hs[i]);
        curl_easy_setopt(h[i], CURLOPT_COPYPOSTFIELDS, body);
        curl_multi_add_handle(multi, h[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running) curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    int done = 0;
    for (int i = 0; i < N; i++) {
        long status = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &status);
        if (status == 200 && r[i].body.len > 14 && !strcmp(r[i].body.data + r[i].body.len - 14, "data: [DONE]\n\n")) done++;
        else fprintf(stderr, "stream %d: status %ld: %.200s\n", i, status, r[i].body.data ? r[i].body.data : "");
        curl_multi_remove_handle(multi, h[i]);
        curl_easy_cleanup(h[i]);
        curl_slist_free_all(hs[i]);
        reply_free(&r[i]);
    }
    curl_multi_cleanup(multi);
    assert_int_equal(done, N);
    reply h2 = http_at(BASE, "GET", "/health", NULL, NULL, NULL);
    assert_int_equal(h2.status, 200);
    reply_free(&h2);
}

/* A prompt prefix already computed is reported as cached tokens, in both APIs. */
static void test_repeated_prefix_is_cached(void **state) {
    (void)state;
    const char *chat = "{\"model\": \"tiny\", \"max_tokens\": 2, \"messages\": [{\"role\": \"system\", \"content\": \"You are "
                       "a helpful assistant who answers every question about the weather in one short sentence.\"}, "
                       "{\"role\": \"user\", \"content\": \"%s\"}]}";
    char b[512];
    snprintf(b, sizeof b, chat, "Is it raining?");
    reply r = post("/v1/chat/completions", b);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    snprintf(b, sizeof b, chat, "Is it snowing?");
    r = post("/v1/chat/completions", b);
    json_t *j = parse(&r);
    long long cached = jint(j, "usage.prompt_tokens_details.cached_tokens");
    if (cached < 10) fail_msg("cached_tokens %lld: %s", cached, r.body.data);
    json_decref(j);
    reply_free(&r);
    const char *msg = "{\"model\": \"tiny\", \"max_tokens\": 2, \"system\": \"You are a helpful assistant who answers every "
                      "question about the weather in one short sentence.\", \"messages\": [{\"role\": \"user\", "
                      "\"content\": \"Is it foggy?\"}]}";
    r = post("/v1/messages", msg);
    reply_free(&r);
    r = post("/v1/messages", msg);
    j = parse(&r);
    assert_true(jint(j, "usage.cache_read_input_tokens") >= 10);
    json_decref(j);
    reply_free(&r);
}

static long long metric(const char *text, const char *line_start) {
    const char *p = strstr(text, line_start);
    if (!p) fail_msg("no metric %s in:\n%s", line_start, text);
    return atoll(p + strlen(line_start));
}

static void test_metrics(void **state) {
    (void)state;
    reply r = post("/v1/chat/completions", CHAT_TINY "}");
    reply_free(&r);
    r = post("/v1/chat/completions", "{bad");
    reply_free(&r);
    r = http_at(BASE, "GET", "/metrics", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers.data, "text/plain; version=0.0.4"));
    const char *t = r.body.data;
    assert_true(metric(t, "llmkit_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} ") >= 1);
    assert_true(metric(t, "llmkit_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"} ") >= 1);
    assert_true(metric(t, "llmkit_prompt_tokens_total{model=\"tiny\"} ") > 0);
    assert_true(metric(t, "llmkit_generation_tokens_total{model=\"tiny\"} ") >= 8);
    metric(t, "llmkit_cached_prompt_tokens_total{model=\"tiny\"} ");
    metric(t, "llmkit_requests_running{model=\"tiny\"} ");
    metric(t, "llmkit_requests_waiting{model=\"tiny\"} ");
    metric(t, "llmkit_kv_cache_usage_ratio{model=\"tiny\"} ");
    metric(t, "llmkit_prefix_cache_hit_rate{model=\"tiny\"} ");
    assert_true(metric(t, "llmkit_time_to_first_token_seconds_count ") >= 1);
    assert_true(metric(t, "llmkit_time_per_output_token_seconds_count ") >= 1);
    assert_true(metric(t, "llmkit_e2e_request_latency_seconds_bucket{le=\"+Inf\"} ") >= 1);
    assert_non_null(strstr(t, "# TYPE llmkit_e2e_request_latency_seconds histogram\n"));
    reply_free(&r);
}

/* With keys, a missing or wrong key gets 401 and nothing else, in each API's shape. */
static void test_api_keys(void **state) {
    (void)state;
    const char *keys[] = { "k-one", "k-two" };
    srv_opts o = { .api_keys = keys, .n_api_keys = 2 };
    char base[64];
    srv_server *s = start_server(&o, base);
    const char *chat = "{\"model\": \"stub\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}";
    reply r = http_at(base, "POST", "/v1/chat/completions", chat, NULL, NULL);
    json_decref(expect_openai_error(&r, 401, "invalid_request_error"));
    reply_free(&r);
    r = http_at(base, "POST", "/v1/chat/completions", "{\"model\": \"nope\"}", "Authorization: Bearer k-three", NULL);
    json_t *j = expect_openai_error(&r, 401, "invalid_request_error"); /* not 404: nothing else is said */
    assert_string_equal(jstr(j, "error.code"), "invalid_api_key");
    assert_null(strstr(r.body.data, "nope"));
    json_decref(j);
    reply_free(&r);
    r = http_at(base, "POST", "/v1/chat/completions", chat, "Authorization: Bearer k-two", NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    r = http_at(base, "GET", "/v1/models", NULL, NULL, NULL);
    assert_int_equal(r.status, 401);
    reply_free(&r);
    r = http_at(base, "GET", "/metrics", NULL, "x-api-key: k-one", NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    const char *msg = "{\"model\": \"stub\", \"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}";
    r = http_at(base, "POST", "/v1/messages", msg, "x-api-key: wrong", NULL);
    json_decref(expect_anthropic_error(&r, 401, "authentication_error"));
    reply_free(&r);
    r = http_at(base, "POST", "/v1/messages", msg, "x-api-key: k-one", NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    r = http_at(base, "GET", "/health", NULL, NULL, NULL); /* for load balancers */
    assert_int_equal(r.status, 200);
    reply_free(&r);
    srv_free(s);
}

/* A body over the limit is 413, with or without Content-Length, and the server goes on. */
static void test_body_too_large(void **state) {
    (void)state;
    srv_opts o = { .max_body = 1000 };
    char base[64];
    srv_server *s = start_server(&o, base);
    char big[3000];
    snprintf(big, sizeof big, "{\"model\": \"stub\", \"messages\": [{\"role\": \"user\", \"content\": \"%2000d\"}]}", 1);
    reply r = http_at(base, "POST", "/v1/chat/completions", big, NULL, NULL);
    json_decref(expect_openai_error(&r, 413, "invalid_request_error"));
    reply_free(&r);
    r = http_at(base, "POST", "/v1/messages", big, "Transfer-Encoding: chunked", NULL);
    json_decref(expect_anthropic_error(&r, 413, "request_too_large"));
    reply_free(&r);
    r = http_at(base, "POST", "/v1/chat/completions", "{\"model\": \"stub\", \"messages\": [{\"role\": \"user\", "
                "\"content\": \"x\"}]}", NULL, NULL);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    srv_free(s);
}

/* A generation longer than the request timeout is cut: 504 when nothing was sent yet. */
static void test_request_timeout(void **state) {
    (void)state;
    srv_opts o = { .request_timeout_s = 0.3 };
    char base[64];
    srv_server *s = start_server(&o, base);
    double t0 = lk_now();
    reply r = http_at(base, "POST", "/v1/chat/completions", "{\"model\": \"stub\", \"messages\": [{\"role\": \"user\", "
                      "\"content\": \"slow 1000\"}]}", NULL, NULL);
    json_t *j = expect_openai_error(&r, 504, "server_error");
    assert_true(lk_now() - t0 < 5);
    json_decref(j);
    reply_free(&r);
    srv_free(s);
}

typedef struct bg {
    const char *base;
    const char *body;
    reply r;
} bg;

static void *bg_post(void *p) {
    bg *b = p;
    b->r = http_at(b->base, "POST", "/v1/chat/completions", b->body, NULL, NULL);
    return NULL;
}

/* Stop: running requests finish (up to the deadline), new connections are refused. */
static void test_graceful_stop(void **state) {
    (void)state;
    srv_opts o = {0};
    char base[64];
    srv_server *s = start_server(&o, base);
    bg b = { .base = base, .body = "{\"model\": \"stub\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"slow 30\"}]}" };
    pthread_t th;
    pthread_create(&th, NULL, bg_post, &b);
    int before = __atomic_load_n(&stub_running, __ATOMIC_SEQ_CST);
    (void)before;
    while (srv_in_flight(s) == 0) usleep(2000);
    usleep(50000);
    assert_int_equal(srv_stop(s, 10), 0); /* none had to be cancelled */
    pthread_join(th, NULL);
    assert_int_equal(b.r.status, 200);
    assert_non_null(strstr(b.r.body.data, "data: [DONE]"));
    reply_free(&b.r);
    reply r = http_at(base, "GET", "/health", NULL, NULL, NULL);
    assert_int_equal(r.status, -1); /* nobody listens */
    reply_free(&r);
    srv_free(s);

    /* past the deadline, what still runs is cancelled */
    s = start_server(&o, base);
    int cancelled = __atomic_load_n(&stub_cancelled, __ATOMIC_SEQ_CST);
    b.body = "{\"model\": \"stub\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"slow 3000\"}]}";
    pthread_create(&th, NULL, bg_post, &b);
    while (srv_in_flight(s) == 0) usleep(2000);
    usleep(50000);
    assert_int_equal(srv_stop(s, 0.1), 1);
    pthread_join(th, NULL);
    assert_true(__atomic_load_n(&stub_cancelled, __ATOMIC_SEQ_CST) > cancelled);
    reply_free(&b.r);
    srv_free(s);
}

static void test_load_keys(void **state) {
    (void)state;
    const char *path = tu_path(2, "keys.txt");
    FILE *f = fopen(path, "w");
    fputs("# keys\n\n  alpha  \nbeta\r\n", f);
    fclose(f);
    char **keys;
    size_t n;
    lk_error err = {0};
    assert_int_equal(srv_load_keys(path, &keys, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(keys[0], "alpha");
    assert_string_equal(keys[1], "beta");
    srv_keys_free(keys, n);
    f = fopen(path, "w");
    fputs("# nothing\n", f);
    fclose(f);
    assert_int_equal(srv_load_keys(path, &keys, &n, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "no keys"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_models),
        cmocka_unit_test(test_chat_local_both_ways),
        cmocka_unit_test(test_chat_logprobs),
        cmocka_unit_test(test_chat_remote_and_tools),
        cmocka_unit_test(test_completions),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_anthropic_messages),
        cmocka_unit_test(test_anthropic_tools),
        cmocka_unit_test(test_openai_errors),
        cmocka_unit_test(test_anthropic_errors),
        cmocka_unit_test(test_queue_full_is_429),
        cmocka_unit_test(test_disconnect_mid_stream),
        cmocka_unit_test(test_64_concurrent_streams),
        cmocka_unit_test(test_repeated_prefix_is_cached),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_api_keys),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_request_timeout),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_load_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

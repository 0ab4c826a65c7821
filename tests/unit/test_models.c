/* test_models.c — lk_model as a whole: spec strings, keys, the local GGUF backend through the
 * common interface, embeddings (local and builtin:hash), and the response's JSON form.
 *
 * The HTTP backends have their own tests (test_openai.c, test_anthropic.c) against a loopback
 * server; here one test runs the same request on a local model and on the loopback echo model
 * and checks both fill the same lk_response fields. */
#include "testutil.h"
#include "fakeapi.h"
#include "models/model_impl.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

static const char *model_path(void) {
    static char path[512];
    if (!path[0]) {
        char vocab[512];
        snprintf(vocab, sizeof vocab, "%s", tu_path(0, "vocab512.gguf"));
        tu_write_small_vocab(vocab, 512 - 259);
        snprintf(path, sizeof path, "%s", tu_path(1, "tiny.gguf"));
        tu_random_model(path, "llama", "q8_0", vocab, 2, 64, 4, 2, 128, false, false);
    }
    return path;
}

static lk_model *open_local(void) {
    lk_error err = {0};
    lk_model_opts o = { .threads = 1 };
    lk_model *m = lk_model_open_ex(model_path(), &o, &err);
    if (!m) fail_msg("open: %s", err.msg);
    return m;
}

static lk_request user_request(const lk_message *msg) {
    lk_request r;
    lk_request_init(&r);
    r.messages = msg;
    r.n_messages = 1;
    r.max_tokens = 12;
    r.temperature = 0;
    return r;
}

typedef struct collected {
    lk_buf text;
    int calls;
    int cancel_after;             /* > 0: return false at this call */
} collected;

static bool collect(const char *s, size_t n, void *ud) {
    collected *c = ud;
    lk_buf_append(&c->text, s, n);
    c->calls++;
    return !(c->cancel_after > 0 && c->calls >= c->cancel_after);
}

/* ---- specs ---- */

/* An unknown backend prefix is an error that names it and lists the spec forms. */
static void test_spec_unknown_backend(void **state) {
    lk_error err = {0};
    assert_null(lk_model_open("gemini:pro", &err));
    assert_int_equal(err.code, LK_EINVAL);
    assert_non_null(strstr(err.msg, "unknown backend 'gemini'"));
    assert_non_null(strstr(err.msg, "openai:MODEL"));
}

/* A path that does not exist is reported as such. */
static void test_spec_missing_file(void **state) {
    lk_error err = {0};
    assert_null(lk_model_open("/nonexistent/model.gguf", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/model.gguf"));
}

/* An OpenAI-compatible URL needs '#MODEL'. */
static void test_spec_url_needs_model(void **state) {
    lk_error err = {0};
    assert_null(lk_model_open("http://127.0.0.1:9/v1", &err));
    assert_non_null(strstr(err.msg, "#MODEL"));
    assert_null(lk_model_open("http://127.0.0.1:9/v1#", &err));
}

/* openai: without a key says which variable to set; nothing is sent. */
static void test_spec_openai_needs_key(void **state) {
    char *saved = getenv("OPENAI_API_KEY") ? strdup(getenv("OPENAI_API_KEY")) : NULL;
    unsetenv("OPENAI_API_KEY");
    lk_error err = {0};
    assert_null(lk_model_open("openai:gpt-4o-mini", &err));
    assert_non_null(strstr(err.msg, "OPENAI_API_KEY"));
    if (saved) setenv("OPENAI_API_KEY", saved, 1);
    free(saved);
}

/* A key file is read (first line, trimmed); an empty one is an error naming the file, and the
 * key itself never shows up in the model's spec or name. */
static void test_spec_key_file(void **state) {
    const char *kf = tu_path(2, "key.txt");
    FILE *f = fopen(kf, "w");
    fputs("  sk-test-SECRET-123456  \nsecond line\n", f);
    fclose(f);
    lk_error err = {0};
    lk_model_opts o = { .api_key_file = kf };
    lk_model *m = lk_model_open_ex("openai:gpt-4o-mini", &o, &err);
    assert_non_null(m);
    assert_string_equal(lk_model_backend(m), "openai");
    assert_string_equal(lk_model_name(m), "gpt-4o-mini");
    assert_null(strstr(lk_model_spec(m), "SECRET"));
    lk_model_free(m);
    f = fopen(kf, "w");
    fputs("\n\n", f);
    fclose(f);
    assert_null(lk_model_open_ex("anthropic:claude-haiku-4-5", &o, &err));
    assert_non_null(strstr(err.msg, "is empty"));
    assert_non_null(strstr(err.msg, kf));
}

/* ollama: goes to OLLAMA_HOST's /v1, with the default port when none is given. */
static void test_spec_ollama(void **state) {
    lk_error err = {0};
    setenv("OLLAMA_HOST", "127.0.0.1", 1);
    lk_model *m = lk_model_open("ollama:llama3.2", &err);
    assert_non_null(m);
    assert_string_equal(lk_model_backend(m), "ollama");
    assert_string_equal(lk_model_name(m), "llama3.2");
    lk_model_free(m);
    unsetenv("OLLAMA_HOST");
}

/* builtin:hash takes an optional dimension; a bad one is an error. */
static void test_spec_builtin(void **state) {
    lk_error err = {0};
    assert_null(lk_model_open("builtin:hash:0", &err));
    assert_non_null(strstr(err.msg, "builtin:hash:DIM"));
    assert_null(lk_model_open("builtin:nope", &err));
    lk_model *m = lk_model_open("builtin:hash:32", &err);
    assert_non_null(m);
    lk_request r;
    lk_message msg = { .role = "user", .content = "hi" };
    r = user_request(&msg);
    lk_response res;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), LK_EUNSUPPORTED);
    lk_response_free(&res);
    lk_model_free(m);
}

/* Credentials written into a server URL (user:password@, a query string) stay out of the spec
 * that messages, tables and files show; the URL without them is still the one used. */
static void test_spec_hides_url_credentials(void **state) {
    lk_error err = {0};
    lk_model *m = lk_model_open("http://user:sk-SECRETPW@127.0.0.1:9/v1?api-key=sk-Q#m", &err);
    assert_non_null(m);
    assert_string_equal(lk_model_spec(m), "http://***@127.0.0.1:9/v1?***#m");
    lk_model_free(m);
    assert_null(lk_model_open("http://u:sk-SECRETPW@/v1#m", &err));
    assert_null(strstr(err.msg, "SECRETPW"));
}

/* A base URL must have a scheme and a host: an error naming it, never a crash. */
static void test_spec_bad_urls(void **state) {
    lk_error err = {0};
    assert_null(lk_model_open("http://#m", &err));
    assert_non_null(strstr(err.msg, "has no host"));
    lk_model_opts o = { .base_url = "localhost:8000/v1" };
    assert_null(lk_model_open_ex("http://127.0.0.1:1/v1#m", &o, &err));
    assert_non_null(strstr(err.msg, "must start with http:// or https://"));
}

/* A key with a control character (a CR from a .env file, or an attempt to add a header) is
 * refused before anything is sent; surrounding whitespace is trimmed. */
static void test_spec_key_control_characters(void **state) {
    lk_error err = {0};
    setenv("LLMKIT_API_KEY", "sk-abc\r\nX-Injected: yes", 1);
    assert_null(lk_model_open("http://127.0.0.1:9/v1#m", &err));
    assert_non_null(strstr(err.msg, "control character"));
    assert_null(strstr(err.msg, "Injected"));
    setenv("LLMKIT_API_KEY", "  sk-abc\r\n", 1);
    lk_model *m = lk_model_open("http://127.0.0.1:9/v1#m", &err);
    assert_non_null(m);
    lk_model_free(m);
    unsetenv("LLMKIT_API_KEY");
}

/* OLLAMA_HOST as a bracketed IPv6 address without a port gets Ollama's port. */
static void test_spec_ollama_ipv6(void **state) {
    lk_error err = {0};
    setenv("OLLAMA_HOST", "[::1]", 1);
    lk_model_opts o = { .max_attempts = 1, .connect_timeout_s = 2 };
    lk_model *m = lk_model_open_ex("ollama:x", &o, &err);
    assert_non_null(m);
    lk_message msg = { .role = "user", .content = "hi" };
    lk_request r = user_request(&msg);
    lk_response res;
    assert_int_not_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), 0); /* nothing listens there */
    assert_non_null(strstr(err.msg, "[::1]:11434"));
    lk_response_free(&res);
    lk_model_free(m);
    unsetenv("OLLAMA_HOST");
}

/* ---- requests ---- */

/* Text that is not UTF-8 is refused with the field and the offset, before anything is sent. */
static void test_request_not_utf8(void **state) {
    lk_model *m = open_local();
    lk_error err = {0};
    lk_response res;
    lk_message msgs[2] = { { .role = "system", .content = "ok" }, { .role = "user", .content = "caf\xe9 au lait" } };
    lk_request r = user_request(msgs);
    r.n_messages = 2;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "messages[1].content is not valid UTF-8 (byte 0xe9 at offset 3)"));
    lk_response_free(&res);
    lk_model_free(m);
}

/* A request with a bad role, no content or both prompt and messages is refused with the field. */
static void test_request_validation(void **state) {
    lk_model *m = open_local();
    lk_error err = {0};
    lk_response res;
    lk_message bad = { .role = "robot", .content = "x" };
    lk_request r = user_request(&bad);
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "messages[0].role is 'robot'"));
    lk_response_free(&res);
    lk_message empty = { .role = "user" };
    r = user_request(&empty);
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "has no content"));
    lk_response_free(&res);
    lk_message ok = { .role = "user", .content = "x" };
    r = user_request(&ok);
    r.prompt = "also";
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), LK_EINVAL);
    assert_non_null(strstr(err.msg, "both messages and a prompt"));
    lk_response_free(&res);
    lk_model_free(m);
}

/* ---- the local backend ---- */

/* A chat fills every field: text equal to the streamed deltas, usage, timings, cost 0, finish. */
static void test_local_chat_response(void **state) {
    lk_model *m = open_local();
    lk_message msg = { .role = "user", .content = "Hello there" };
    lk_request r = user_request(&msg);
    lk_response res;
    lk_error err = {0};
    collected c = {0};
    assert_int_equal(lk_model_chat(m, &r, collect, &c, &res, &err), 0);
    assert_int_equal(c.text.len, res.text_len);
    assert_memory_equal(c.text.data ? c.text.data : "", res.text, res.text_len);
    assert_true(res.usage.prompt_tokens > 3);
    assert_true(res.usage.completion_tokens >= 1 && res.usage.completion_tokens <= 12);
    assert_true(strcmp(res.finish_reason, "length") == 0 || strcmp(res.finish_reason, "stop") == 0);
    if (res.usage.completion_tokens == 12) assert_string_equal(res.finish_reason, "length");
    assert_true(res.timings.total_s > 0);
    assert_true(res.timings.ttft_s > 0 && res.timings.ttft_s <= res.timings.total_s);
    assert_true(res.cost_known);
    assert_true(res.cost_usd == 0);
    assert_string_equal(res.model, "tiny");
    assert_int_equal(res.http_status, 0);
    lk_response_free(&res);
    lk_buf_free(&c.text);
    lk_model_free(m);
}

/* The same greedy request twice gives the same text; the second reuses the cached prompt. */
static void test_local_prefix_reuse(void **state) {
    lk_model *m = open_local();
    lk_message msg = { .role = "user", .content = "Tell me a story about a cat" };
    lk_request r = user_request(&msg);
    lk_response a, b;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &a, &err), 0);
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &b, &err), 0);
    assert_string_equal(a.text, b.text);
    assert_int_equal(a.usage.cached_tokens, 0);
    assert_int_equal(b.usage.cached_tokens, b.usage.prompt_tokens - 1);
    lk_response_free(&a);
    lk_response_free(&b);
    lk_model_free(m);
}

/* The same seed gives the same sample; another seed (very likely) another one. */
static void test_local_seed(void **state) {
    lk_model *m = open_local();
    lk_message msg = { .role = "user", .content = "Write" };
    lk_request r = user_request(&msg);
    r.temperature = 1.5f;
    r.max_tokens = 24;
    r.has_seed = true;
    r.seed = 7;
    lk_response a, b, c;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &a, &err), 0);
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &b, &err), 0);
    r.seed = 8;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &c, &err), 0);
    assert_string_equal(a.text, b.text);
    assert_true(strcmp(a.text, c.text) != 0);
    lk_response_free(&a);
    lk_response_free(&b);
    lk_response_free(&c);
    lk_model_free(m);
}

/* Returning false from the callback stops generation with finish "cancelled". */
static void test_local_cancel(void **state) {
    lk_model *m = open_local();
    lk_message msg = { .role = "user", .content = "Go on" };
    lk_request r = user_request(&msg);
    r.max_tokens = 64;
    r.logit_bias = (const lk_bias[]){ { 2, -INFINITY } }; /* no EOS: it cannot stop by itself */
    r.n_logit_bias = 1;
    collected c = { .cancel_after = 2 };
    lk_response res;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, collect, &c, &res, &err), 0);
    assert_int_equal(c.calls, 2);
    assert_string_equal(res.finish_reason, "cancelled");
    lk_response_free(&res);
    lk_buf_free(&c.text);
    lk_model_free(m);
}

/* Tools and response_format cannot be honoured locally yet: a warning each, or with strict an
 * LK_EUNSUPPORTED error naming the setting. */
static void test_local_unsupported(void **state) {
    lk_model *m = open_local();
    lk_message msg = { .role = "user", .content = "x" };
    lk_tool tool = { "get_weather", "weather", "{\"type\":\"object\"}" };
    lk_request r = user_request(&msg);
    r.tools = &tool;
    r.n_tools = 1;
    r.response_format = "{\"type\":\"object\"}";
    r.max_tokens = 2;
    lk_response res;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), 0);
    assert_int_equal(res.n_warnings, 2);
    assert_non_null(strstr(res.warnings[0], "tools"));
    assert_non_null(strstr(res.warnings[1], "response_format"));
    lk_response_free(&res);
    r.strict = true;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), LK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "tools"));
    assert_string_equal(res.finish_reason, "error");
    lk_response_free(&res);
    lk_model_free(m);
}

/* logprobs: one entry per generated token, each <= 0, with n - 1 alternatives sorted down, the
 * chosen token among them under greedy decoding. */
static void test_local_logprobs(void **state) {
    lk_model *m = open_local();
    lk_message msg = { .role = "user", .content = "abc" };
    lk_request r = user_request(&msg);
    r.logprobs = 4;
    lk_response res;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), 0);
    assert_int_equal((long long)res.n_logprobs, (long long)res.usage.completion_tokens);
    for (size_t i = 0; i < res.n_logprobs; i++) {
        const lk_logprob *lp = &res.logprobs[i];
        assert_true(lp->logprob <= 0);
        assert_int_equal(lp->n_top, 3);
        for (size_t k = 1; k < lp->n_top; k++) assert_true(lp->top[k - 1].logprob >= lp->top[k].logprob);
        assert_true(fabsf(lp->top[0].logprob - lp->logprob) < 1e-6f); /* greedy: the best one */
    }
    lk_response_free(&res);
    lk_model_free(m);
}

/* A plain prompt (no chat template) continues the text; the same as the engine's raw mode. */
static void test_local_raw_prompt(void **state) {
    lk_model *m = open_local();
    lk_request r;
    lk_request_init(&r);
    r.prompt = "Once upon a time";
    r.max_tokens = 5;
    r.temperature = 0;
    lk_response res;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), 0);
    assert_true(res.usage.prompt_tokens >= 4);
    lk_response_free(&res);
    lk_model_free(m);
}

/* Local embeddings: one unit vector of the model's width per text; the same text gives the same
 * vector whatever comes with it; an empty list is fine. */
static void test_local_embeddings(void **state) {
    lk_model *m = open_local();
    const char *texts[] = { "the cat sat on the mat", "stock markets fell", "the cat sat on the mat" };
    lk_embeddings e;
    lk_error err = {0};
    assert_int_equal(lk_model_embed(m, texts, 3, &e, &err), 0);
    assert_int_equal(e.n, 3);
    assert_int_equal(e.dim, 64);
    for (size_t i = 0; i < 3; i++) {
        double ss = 0;
        for (size_t j = 0; j < e.dim; j++) ss += (double)e.data[i * e.dim + j] * e.data[i * e.dim + j];
        assert_true(fabs(ss - 1) < 1e-4);
    }
    for (size_t j = 0; j < e.dim; j++) assert_true(fabsf(e.data[j] - e.data[2 * e.dim + j]) < 1e-5f);
    assert_true(e.usage.prompt_tokens > 6);
    lk_embeddings_free(&e);
    /* a chat after embeddings still works (the cache was reset) */
    lk_message msg = { .role = "user", .content = "hi" };
    lk_request r = user_request(&msg);
    lk_response res;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), 0);
    lk_response_free(&res);
    lk_model_free(m);
}

/* builtin:hash through lk_model: unit vectors of the default dimension, similar texts closer. */
static void test_builtin_hash_embeddings(void **state) {
    lk_error err = {0};
    lk_model *m = lk_model_open("builtin:hash", &err);
    assert_non_null(m);
    const char *texts[] = { "retrieval augmented generation with citations", "generation augmented by retrieval",
                            "the recipe needs two eggs" };
    lk_embeddings e;
    assert_int_equal(lk_model_embed(m, texts, 3, &e, &err), 0);
    assert_int_equal(e.dim, 384);
    double s01 = 0, s02 = 0;
    for (size_t j = 0; j < e.dim; j++) {
        s01 += (double)e.data[j] * e.data[e.dim + j];
        s02 += (double)e.data[j] * e.data[2 * e.dim + j];
    }
    assert_true(s01 > s02 + 0.2);
    assert_true(e.cost_known && e.cost_usd == 0);
    lk_embeddings_free(&e);
    lk_model_free(m);
}

/* The cancel flag, set from anywhere (here: the callback, which keeps returning true), stops a
 * local model and a streaming API model alike: 0, finish "cancelled", the text so far kept. */
typedef struct flagger {
    volatile int flag;
    int calls;
} flagger;

static bool set_flag(const char *s, size_t n, void *ud) {
    flagger *f = ud;
    if (++f->calls == 1) __atomic_store_n(&f->flag, 1, __ATOMIC_RELAXED);
    return true;
}

static void test_cancel_flag(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    static const char sse[] =
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":"
        "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"one\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":"
        "[{\"index\":0,\"delta\":{\"content\":\" two\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":"
        "[{\"index\":0,\"delta\":{\"content\":\" three\"},\"finish_reason\":\"stop\"}]}\n\n"
        "data: [DONE]\n\n";
    fake_reply r = { .content_type = "text/event-stream", .body = sse, .split = 170, .piece_delay_s = 0.3 };
    fake_push(s, &r);
    char spec[256];
    snprintf(spec, sizeof spec, "%s/v1#m", fake_base(s));
    lk_error err = {0};
    lk_model *remote = lk_model_open(spec, &err);
    assert_non_null(remote);
    lk_model *local = open_local();
    lk_model *models[2] = { remote, local };
    for (int i = 0; i < 2; i++) {
        flagger f = {0};
        lk_message msg = { .role = "user", .content = "count" };
        lk_request q = user_request(&msg);
        q.stream = true;
        q.max_tokens = 64;
        q.logit_bias = (const lk_bias[]){ { 2, -INFINITY } };
        q.n_logit_bias = i == 1;
        q.cancel = &f.flag;
        lk_response res;
        double t0 = lk_now();
        assert_int_equal(lk_model_chat(models[i], &q, set_flag, &f, &res, &err), 0);
        assert_string_equal(res.finish_reason, "cancelled");
        assert_true(res.text_len > 0);
        if (i == 0) {
            assert_string_equal(res.text, "one");
            assert_true(lk_now() - t0 < 0.5); /* did not wait for the rest of the stream */
        } else {
            assert_int_equal(f.calls, 1);
        }
        lk_response_free(&res);
    }
    lk_model_free(remote);
    lk_model_free(local);
    fake_stop(s);
}

/* A cancel flag already set stops a local model before its prompt is evaluated. */
static void test_local_cancel_before_prefill(void **state) {
    lk_model *m = open_local();
    volatile int flag = 1;
    lk_message msg = { .role = "user", .content = "a long prompt that will not be evaluated" };
    lk_request r = user_request(&msg);
    r.cancel = &flag;
    lk_response res;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), 0);
    assert_string_equal(res.finish_reason, "cancelled");
    assert_int_equal(res.text_len, 0);
    assert_int_equal(res.usage.completion_tokens, 0);
    lk_response_free(&res);
    lk_model_free(m);
}

/* no_cache makes a local model evaluate the whole prompt again (cold timings). */
static void test_local_no_cache(void **state) {
    lk_model *m = open_local();
    lk_message msg = { .role = "user", .content = "the same prompt twice" };
    lk_request r = user_request(&msg);
    r.max_tokens = 2;
    r.no_cache = true;
    lk_response a, b;
    lk_error err = {0};
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &a, &err), 0);
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &b, &err), 0);
    assert_int_equal(b.usage.cached_tokens, 0);
    assert_string_equal(a.text, b.text);
    lk_response_free(&a);
    lk_response_free(&b);
    lk_model_free(m);
}

/* Without streaming the answer arrives at once: tokens per second is completion tokens over
 * the whole time, not over the microseconds after the first token. */
static void test_tokens_per_second_without_stream(void **state) {
    fake_server *s = fake_start();
    fake_set_handler(s, fake_echo, NULL);
    char spec[256];
    snprintf(spec, sizeof spec, "%s/v1#echo", fake_base(s));
    lk_error err = {0};
    lk_model *m = lk_model_open(spec, &err);
    lk_message msg = { .role = "user", .content = "one two three four five six" };
    lk_request r = user_request(&msg);
    r.stream = false;
    lk_response res;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), 0);
    assert_true(res.usage.completion_tokens > 1);
    double want = (double)res.usage.completion_tokens / res.timings.total_s;
    assert_true(fabs(res.timings.tokens_per_s - want) <= 1e-9 * want);
    lk_response_free(&res);
    lk_model_free(m);
    fake_stop(s);
}

/* A provider's error message long enough to be cut to the size of an lk_error still has no
 * piece of the key in it: redaction happens before the cut. */
static void test_long_error_redacted_before_cut(void **state) {
    fake_server *s = fake_start();
    const char *key = "sk-test-ABCDEFGHIJKLMNOPQRSTUV0123456789";
    lk_buf body = {0};
    lk_buf_puts(&body, "{\"error\":{\"message\":\"");
    for (int i = 0; i < 1000; i++) lk_buf_putc(&body, 'x');
    lk_buf_printf(&body, "%s and again %s\",\"type\":\"invalid_request_error\"}}", key, key);
    fake_reply rep = { .status = 401, .body = body.data };
    fake_push(s, &rep);
    setenv("LLMKIT_API_KEY", key, 1);
    char spec[256];
    snprintf(spec, sizeof spec, "%s/v1#m", fake_base(s));
    lk_error err = {0};
    lk_model *m = lk_model_open(spec, &err);
    lk_message msg = { .role = "user", .content = "hi" };
    lk_request r = user_request(&msg);
    lk_response res;
    assert_int_equal(lk_model_chat(m, &r, NULL, NULL, &res, &err), LK_EREMOTE);
    assert_null(strstr(err.msg, "sk-test-A"));
    assert_null(strstr(err.msg, "ABCDEFGH"));
    lk_response_free(&res);
    lk_model_free(m);
    unsetenv("LLMKIT_API_KEY");
    lk_buf_free(&body);
    fake_stop(s);
}

/* ---- JSON and shape parity ---- */

/* A logprob token that is part of a UTF-8 character is kept in the JSON (as U+FFFD), with its
 * exact bytes. */
static void test_response_json_partial_utf8(void **state) {
    lk_response r = {0};
    r.logprobs = calloc(1, sizeof *r.logprobs);
    r.n_logprobs = 1;
    r.logprobs[0].token = strdup("\xe2\x82");
    r.logprobs[0].logprob = -0.5f;
    char *s = lk_response_json(&r);
    json_t *o = json_loads(s, 0, NULL);
    assert_non_null(o);
    json_t *lp = json_array_get(json_object_get(o, "logprobs"), 0);
    assert_non_null(lp);
    assert_string_equal(json_string_value(json_object_get(lp, "token")), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(lp, "bytes"), 0)), 0xe2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(lp, "bytes"), 1)), 0x82);
    json_decref(o);
    free(s);
    lk_response_free(&r);
}

/* lk_response_json is valid JSON with every field, even for odd text. */
static void test_response_json(void **state) {
    lk_response r = {0};
    resp_text(&r, "a \"quoted\"\n\ttext \xc3\xa9", 19, NULL, NULL);
    resp_tool_call(&r, "call_1", "f", "{\"x\":1}");
    resp_set(&r.finish_reason, "tool_calls");
    resp_warn(&r, "top_k: ignored");
    r.usage.prompt_tokens = 10;
    r.cost_known = true;
    r.cost_usd = 0.5;
    char *s = lk_response_json(&r);
    json_error_t je;
    json_t *o = json_loads(s, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "text")), r.text);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o, "tool_calls"), 0), "name")),
                        "f");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "usage"), "prompt_tokens")), 10);
    assert_true(json_real_value(json_object_get(o, "cost_usd")) == 0.5);
    assert_int_equal(json_array_size(json_object_get(o, "warnings")), 1);
    json_decref(o);
    free(s);
    lk_response_free(&r);
}

/* The API key is removed from messages, however often it appears. */
static void test_redact_secret(void **state) {
    char msg[256] = "Incorrect API key provided: sk-abcdef123456. Key sk-abcdef123456 again";
    redact_secret(msg, sizeof msg, "sk-abcdef123456");
    assert_string_equal(msg, "Incorrect API key provided: [redacted]. Key [redacted] again");
    /* a key that is part of the marker does not make it loop */
    char odd[64] = "the key dact here";
    redact_secret(odd, sizeof odd, "dact");
    assert_string_equal(odd, "the key [redacted] here");
    /* no room for the marker: stars instead */
    char tight[9] = "k=sk-123";
    redact_secret(tight, sizeof tight, "sk-123");
    assert_string_equal(tight, "k=******");
}

/* A local model and an OpenAI-compatible server answer the same request with the same fields
 * filled: text, finish reason, model, id, usage and timings. */
static void test_same_shape_local_and_remote(void **state) {
    fake_server *s = fake_start();
    assert_non_null(s);
    fake_set_handler(s, fake_echo, NULL);
    char spec[256];
    snprintf(spec, sizeof spec, "%s/v1#echo-1", fake_base(s));
    lk_error err = {0};
    lk_model *remote = lk_model_open(spec, &err);
    assert_non_null(remote);
    lk_model *local = open_local();
    lk_model *models[2] = { local, remote };
    for (int stream = 0; stream < 2; stream++) {
        for (int i = 0; i < 2; i++) {
            lk_message msg = { .role = "user", .content = "one two three four" };
            lk_request r = user_request(&msg);
            r.stream = stream;
            r.max_tokens = 3;
            lk_response res;
            collected c = {0};
            assert_int_equal(lk_model_chat(models[i], &r, collect, &c, &res, &err), 0);
            assert_true(res.text_len > 0);
            assert_int_equal(c.text.len, res.text_len);
            assert_non_null(res.finish_reason);
            assert_non_null(res.model);
            assert_non_null(res.id);
            assert_true(res.usage.prompt_tokens > 0);
            assert_true(res.usage.completion_tokens > 0);
            assert_true(res.timings.ttft_s > 0 && res.timings.total_s >= res.timings.ttft_s);
            lk_response_free(&res);
            lk_buf_free(&c.text);
        }
    }
    lk_model_free(local);
    lk_model_free(remote);
    fake_stop(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_unknown_backend),
        cmocka_unit_test(test_spec_missing_file),
        cmocka_unit_test(test_spec_url_needs_model),
        cmocka_unit_test(test_spec_openai_needs_key),
        cmocka_unit_test(test_spec_key_file),
        cmocka_unit_test(test_spec_ollama),
        cmocka_unit_test(test_spec_builtin),
        cmocka_unit_test(test_spec_hides_url_credentials),
        cmocka_unit_test(test_spec_bad_urls),
        cmocka_unit_test(test_spec_key_control_characters),
        cmocka_unit_test(test_spec_ollama_ipv6),
        cmocka_unit_test(test_request_not_utf8),
        cmocka_unit_test(test_request_validation),
        cmocka_unit_test(test_local_chat_response),
        cmocka_unit_test(test_local_prefix_reuse),
        cmocka_unit_test(test_local_seed),
        cmocka_unit_test(test_local_cancel),
        cmocka_unit_test(test_local_unsupported),
        cmocka_unit_test(test_local_logprobs),
        cmocka_unit_test(test_local_raw_prompt),
        cmocka_unit_test(test_local_embeddings),
        cmocka_unit_test(test_builtin_hash_embeddings),
        cmocka_unit_test(test_cancel_flag),
        cmocka_unit_test(test_local_cancel_before_prefill),
        cmocka_unit_test(test_local_no_cache),
        cmocka_unit_test(test_tokens_per_second_without_stream),
        cmocka_unit_test(test_long_error_redacted_before_cut),
        cmocka_unit_test(test_response_json_partial_utf8),
        cmocka_unit_test(test_response_json),
        cmocka_unit_test(test_redact_secret),
        cmocka_unit_test(test_same_shape_local_and_remote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

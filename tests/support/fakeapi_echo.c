/* fakeapi_echo.c — the echo model of fakeapi.h: a handler that answers like the OpenAI and
 * Anthropic APIs, byte for byte in their documented shapes, so that the API backends (and the
 * CLI through fakeapi_main.c) can be tested on loopback.
 *
 * The answer is "echo:" and the words of the last user (or tool) message, one word per token
 * (" word"); temperature > 0 draws the words at random (seeded by "seed" when given, else
 * differently on each call); max_tokens cuts the token list; the earliest stop string ends the
 * text. A last user message containing "call:NAME" calls tool NAME with {"q": "<message>"}
 * (unless tool_choice is "none"), the arguments streamed in several fragments. Embeddings are
 * 8 deterministic numbers per text, listed in reverse order (their "index" says where each
 * goes). With a key set, a wrong or missing key gets the provider's 401 body (OpenAI's quotes
 * the key masked, as OpenAI does); when the request's model is "leaky" the 401 quotes the
 * whole key given, to prove that clients redact it. Validation errors use each provider's
 * 400 shape. */
#include "fakeapi.h"

#include <ctype.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum { CREATED = 1700000000, EMBED_DIM = 8 };

/* ---- small helpers ---- */

/* Value of header name in the raw "Name: value\r\n" lines, copied to buf; NULL if absent. */
static const char *header(const fake_request *req, const char *name, char *buf, size_t cap) {
    size_t n = strlen(name);
    for (const char *l = req->headers; l && *l;) {
        const char *eol = strstr(l, "\r\n");
        size_t len = eol ? (size_t)(eol - l) : strlen(l);
        if (len > n && strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ' || *v == '\t') v++;
            size_t vl = len - (size_t)(v - l);
            if (vl >= cap) vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = 0;
            return buf;
        }
        l += len + (eol ? 2 : 0);
    }
    return NULL;
}

static bool reply_json(fake_reply *out, char **to_free, int status, json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(j);
    out->status = status;
    out->content_type = "application/json";
    out->body = *to_free = s;
    out->body_len = strlen(s);
    return true;
}

static bool openai_error(fake_reply *out, char **to_free, int status, const char *msg, const char *param,
                         const char *code) {
    return reply_json(out, to_free, status,
                      json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", msg, "type", "invalid_request_error",
                                "param", param ? json_string(param) : json_null(),
                                "code", code ? json_string(code) : json_null()));
}

static bool anthropic_error(fake_reply *out, char **to_free, int status, const char *type, const char *msg) {
    return reply_json(out, to_free, status,
                      json_pack("{s:s, s:{s:s, s:s}, s:s}", "type", "error", "error", "type", type, "message", msg,
                                "request_id", "req_echo"));
}

/* An SSE body under construction. */
typedef struct sse_out {
    FILE *f;
    char *data;
    size_t len;
} sse_out;

static void sse_event(sse_out *o, const char *event, json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(j);
    if (event) fprintf(o->f, "event: %s\n", event);
    fprintf(o->f, "data: %s\n\n", s);
    free(s);
}

static bool reply_sse(fake_reply *out, char **to_free, sse_out *o) {
    fclose(o->f);
    out->status = 200;
    out->content_type = "text/event-stream";
    out->chunked = true;
    out->body = *to_free = o->data;
    out->body_len = o->len;
    return true;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- the echo model ---- */

typedef struct answer {
    char *tok[512];               /* token texts: "echo:", " word", ... */
    size_t n;
    const char *finish;           /* "stop", "length", "tool_calls" */
    const char *stop_seq;         /* the stop string that ended it, if one did */
    char tool[64];                /* tool to call ("" none) */
    char *args;                   /* its arguments (JSON text) */
    int prompt_tokens;
} answer;

static int count_words(const char *s) {
    int n = 0;
    for (bool in = false; s && *s; s++) {
        bool w = !isspace((unsigned char)*s);
        if (w && !in) n++;
        in = w;
    }
    return n;
}

/* Text of a content value: a string, or the text of an array of parts/blocks (tool_result
 * blocks included, whose content is a string or blocks again). */
static void content_text(const json_t *c, FILE *f, bool *tool_result) {
    if (json_is_string(c)) {
        fputs(json_string_value(c), f);
        return;
    }
    size_t i;
    json_t *b;
    json_array_foreach(c, i, b) {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (i) fputc(' ', f);
        if (type && strcmp(type, "tool_result") == 0) {
            if (tool_result) *tool_result = true;
            content_text(json_object_get(b, "content"), f, NULL);
        } else if (json_is_string(json_object_get(b, "text"))) {
            fputs(json_string_value(json_object_get(b, "text")), f);
        }
    }
}

static char *text_of(const json_t *c, bool *tool_result) {
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    content_text(c, f, tool_result);
    fclose(f);
    return s;
}

static void free_answer(answer *a) {
    for (size_t i = 0; i < a->n; i++) free(a->tok[i]);
    free(a->args);
}

/* The answer to the request body b whose last user/tool message text is msg. */
static void make_answer(const json_t *b, const char *msg, bool may_call, bool anthropic, answer *a) {
    memset(a, 0, sizeof *a);
    const char *call = may_call ? strstr(msg, "call:") : NULL;
    json_t *tc = json_object_get(b, "tool_choice");
    const char *tcs = json_is_string(tc) ? json_string_value(tc) : json_string_value(json_object_get(tc, "type"));
    if (call && !(tcs && strcmp(tcs, "none") == 0)) {
        size_t k = 0;
        for (const char *p = call + 5; (isalnum((unsigned char)*p) || *p == '_' || *p == '-') && k < sizeof a->tool - 1; p++)
            a->tool[k++] = *p;
        a->tool[k] = 0;
    }
    if (a->tool[0]) {
        json_t *args = json_pack("{s:s}", "q", msg);
        a->args = json_dumps(args, JSON_COMPACT);
        json_decref(args);
        a->finish = "tool_calls";
        if (!anthropic) return;
        /* Anthropic answers with a sentence before the tool_use block */
        a->tok[a->n++] = strdup("echo:");
        a->tok[a->n++] = strdup(" calling");
        char w[80];
        snprintf(w, sizeof w, " %s", a->tool);
        a->tok[a->n++] = strdup(w);
        return;
    }

    /* the words, drawn at random when the temperature is above 0 */
    char *words[256];
    size_t nw = 0;
    char *copy = strdup(msg), *save = NULL;
    for (char *w = strtok_r(copy, " \t\r\n", &save); w && nw < 256; w = strtok_r(NULL, " \t\r\n", &save))
        words[nw++] = w;
    double temp = json_number_value(json_object_get(b, "temperature"));
    static atomic_uint_fast64_t calls;
    json_t *seed = json_object_get(b, "seed");
    uint64_t rng = json_is_integer(seed) ? (uint64_t)json_integer_value(seed) * 2654435761u + 1
                                         : (uint64_t)time(NULL) ^ (atomic_fetch_add(&calls, 1) + 1) * 0x9E3779B97F4A7C15u;
    if (!rng) rng = 1;
    a->tok[a->n++] = strdup("echo:");
    for (size_t i = 0; i < nw; i++) {
        const char *w = temp > 0 ? words[xorshift(&rng) % nw] : words[i];
        char *t = malloc(strlen(w) + 2);
        sprintf(t, " %s", w);
        a->tok[a->n++] = t;
    }
    free(copy);
    a->finish = "stop";

    json_t *mt = json_object_get(b, "max_completion_tokens");
    if (!json_is_integer(mt)) mt = json_object_get(b, "max_tokens");
    if (json_is_integer(mt) && json_integer_value(mt) >= 0 && (size_t)json_integer_value(mt) < a->n) {
        while (a->n > (size_t)json_integer_value(mt)) free(a->tok[--a->n]);
        a->finish = "length";
    }

    /* the earliest stop string ends the text */
    json_t *stop = json_object_get(b, anthropic ? "stop_sequences" : "stop");
    json_t *stops = json_is_string(stop) ? json_pack("[O]", stop) : json_incref(stop);
    char full[8192] = "";
    for (size_t i = 0; i < a->n; i++) strncat(full, a->tok[i], sizeof full - strlen(full) - 1);
    size_t cut = strlen(full);
    size_t i;
    json_t *s;
    json_array_foreach(stops, i, s) {
        const char *ss = json_string_value(s), *at = ss && *ss ? strstr(full, ss) : NULL;
        if (at && (size_t)(at - full) < cut) {
            cut = (size_t)(at - full);
            a->stop_seq = ss;   /* lives in b */
        }
    }
    json_decref(stops);
    if (a->stop_seq) {
        size_t pos = 0, k = 0;
        while (k < a->n && pos + strlen(a->tok[k]) <= cut) pos += strlen(a->tok[k++]);
        if (k < a->n && cut > pos) a->tok[k++][cut - pos] = 0;
        while (a->n > k) free(a->tok[--a->n]);
        a->finish = "stop";
    }
}

static char *joined(const answer *a) {
    size_t len = 0;
    for (size_t i = 0; i < a->n; i++) len += strlen(a->tok[i]);
    char *s = malloc(len + 1);
    s[0] = 0;
    for (size_t i = 0, at = 0; i < a->n; i++) {
        strcpy(s + at, a->tok[i]);
        at += strlen(a->tok[i]);
    }
    return s;
}

/* The tool arguments in several fragments (every 7 bytes). */
static size_t fragments(const char *args, char frag[][8], size_t max) {
    size_t n = 0, len = strlen(args);
    for (size_t at = 0; at < len && n < max; at += 7, n++) snprintf(frag[n], 8, "%.7s", args + at);
    return n;
}

/* ---- OpenAI ---- */

static json_t *openai_usage(int prompt, int completion) {
    return json_pack("{s:i, s:i, s:i, s:{s:i, s:i}, s:{s:i, s:i, s:i, s:i}}", "prompt_tokens", prompt,
                     "completion_tokens", completion, "total_tokens", prompt + completion, "prompt_tokens_details",
                     "cached_tokens", 0, "audio_tokens", 0, "completion_tokens_details", "reasoning_tokens", 0,
                     "audio_tokens", 0, "accepted_prediction_tokens", 0, "rejected_prediction_tokens", 0);
}

/* logprobs.content entry of token i: logprob -(i+1)/8, alternatives n_top. */
static json_t *logprob_entry(const char *tok, size_t i, int n_top) {
    json_t *bytes = json_array(), *top = json_array();
    for (const char *p = tok; *p; p++) json_array_append_new(bytes, json_integer((unsigned char)*p));
    double lp = -(double)(i + 1) / 8;
    for (int k = 0; k < n_top; k++) {
        char alt[32];
        if (k == 0) snprintf(alt, sizeof alt, "%s", tok);
        else snprintf(alt, sizeof alt, " alt%d", k);
        json_array_append_new(top, json_pack("{s:s, s:f, s:[]}", "token", alt, "logprob", lp - k, "bytes"));
    }
    return json_pack("{s:s, s:f, s:o, s:o}", "token", tok, "logprob", lp, "bytes", bytes, "top_logprobs", top);
}

static int openai_prompt_tokens(const json_t *msgs) {
    int n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        char *t = text_of(json_object_get(m, "content"), NULL);
        n += count_words(t) + 3;
        free(t);
    }
    return n;
}

static bool openai_chat(const json_t *b, fake_reply *out, char **to_free) {
    json_t *msgs = json_object_get(b, "messages");
    if (!msgs) return openai_error(out, to_free, 400, "Missing required parameter: 'messages'.", "messages",
                                   "missing_required_parameter");
    if (!json_is_array(msgs))
        return openai_error(out, to_free, 400, "Invalid type for 'messages': expected an array, but got another type "
                            "instead.", "messages", "invalid_type");
    if (!json_is_string(json_object_get(b, "model")))
        return openai_error(out, to_free, 400, "you must provide a model parameter", NULL, NULL);
    const char *model = json_string_value(json_object_get(b, "model"));

    /* the last user or tool message */
    const char *role = "";
    json_t *last = NULL, *m;
    size_t i;
    json_array_foreach(msgs, i, m) {
        const char *r = json_string_value(json_object_get(m, "role"));
        if (r && (strcmp(r, "user") == 0 || strcmp(r, "tool") == 0)) {
            last = m;
            role = r;
        }
    }
    char *msg = text_of(json_object_get(last, "content"), NULL);
    if (!msg) msg = strdup("");
    answer a;
    make_answer(b, msg, strcmp(role, "user") == 0, false, &a);
    free(msg);
    a.prompt_tokens = openai_prompt_tokens(msgs);
    int completion = a.tool[0] ? 12 : (int)a.n;
    bool want_lp = json_is_true(json_object_get(b, "logprobs"));
    int n_top = (int)json_integer_value(json_object_get(b, "top_logprobs"));
    bool stream = json_is_true(json_object_get(b, "stream"));
    bool usage = json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage"));
    const char *id = "chatcmpl-echo1";

    if (!stream) {
        json_t *message = json_pack("{s:s, s:n, s:n, s:[]}", "role", "assistant", "content", "refusal", "annotations");
        if (!a.tool[0]) {
            char *t = joined(&a);
            json_object_set_new(message, "content", json_string(t));
            free(t);
        } else {
            json_object_set_new(message, "tool_calls",
                                json_pack("[{s:s, s:s, s:{s:s, s:s}}]", "id", "call_echo1", "type", "function",
                                          "function", "name", a.tool, "arguments", a.args));
        }
        json_t *lp = json_null();
        if (want_lp) {
            json_t *content = json_array();
            for (size_t k = 0; k < a.n; k++) json_array_append_new(content, logprob_entry(a.tok[k], k, n_top));
            lp = json_pack("{s:o, s:n}", "content", content, "refusal");
        }
        json_t *r = json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:o, s:o, s:s}], s:o, s:s, s:s}", "id", id, "object",
                              "chat.completion", "created", CREATED, "model", model, "choices", "index", 0, "message",
                              message, "logprobs", lp, "finish_reason", a.finish, "usage",
                              openai_usage(a.prompt_tokens, completion), "service_tier", "default",
                              "system_fingerprint", "fp_echo");
        free_answer(&a);
        return reply_json(out, to_free, 200, r);
    }

    sse_out o = {0};
    o.f = open_memstream(&o.data, &o.len);
#define CHUNK(delta, lp, finish)                                                                                  \
    do {                                                                                                      \
        json_t *c_ = json_pack("{s:s, s:s, s:i, s:s, s:s, s:[{s:i, s:o, s:o, s:o}]}", "id", id, "object",     \
                               "chat.completion.chunk", "created", CREATED, "model", model, "system_fingerprint", \
                               "fp_echo", "choices", "index", 0, "delta", delta, "logprobs", lp, "finish_reason", \
                               finish);                                                                       \
        if (usage) json_object_set_new(c_, "usage", json_null());                                               \
        sse_event(&o, NULL, c_);                                                                              \
    } while (0)
    CHUNK(json_pack("{s:s, s:s, s:n}", "role", "assistant", "content", "", "refusal"), json_null(), json_null());
    if (a.tool[0]) {
        CHUNK(json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls", "index", 0, "id", "call_echo1", "type",
                        "function", "function", "name", a.tool, "arguments", ""),
              json_null(), json_null());
        char frag[256][8];
        size_t nf = fragments(a.args, frag, 256);
        for (size_t k = 0; k < nf; k++)
            CHUNK(json_pack("{s:[{s:i, s:{s:s}}]}", "tool_calls", "index", 0, "function", "arguments", frag[k]),
                  json_null(), json_null());
    }
    for (size_t k = 0; k < a.n; k++) {
        json_t *lp = want_lp ? json_pack("{s:[o], s:n}", "content", logprob_entry(a.tok[k], k, n_top), "refusal")
                             : json_null();
        CHUNK(json_pack("{s:s}", "content", a.tok[k]), lp, json_null());
    }
    CHUNK(json_object(), json_null(), json_string(a.finish));
#undef CHUNK
    if (usage)
        sse_event(&o, NULL,
                  json_pack("{s:s, s:s, s:i, s:s, s:s, s:[], s:o}", "id", id, "object", "chat.completion.chunk",
                            "created", CREATED, "model", model, "system_fingerprint", "fp_echo", "choices", "usage",
                            openai_usage(a.prompt_tokens, completion)));
    fputs("data: [DONE]\n\n", o.f);
    free_answer(&a);
    return reply_sse(out, to_free, &o);
}

static bool openai_completions(const json_t *b, fake_reply *out, char **to_free) {
    json_t *prompt = json_object_get(b, "prompt");
    if (json_is_array(prompt)) prompt = json_array_get(prompt, 0);
    if (!json_is_string(prompt))
        return openai_error(out, to_free, 400, "Missing required parameter: 'prompt'.", "prompt",
                            "missing_required_parameter");
    const char *model = json_string_value(json_object_get(b, "model"));
    if (!model) return openai_error(out, to_free, 400, "you must provide a model parameter", NULL, NULL);
    answer a;
    make_answer(b, json_string_value(prompt), false, false, &a);
    int ptok = count_words(json_string_value(prompt));
    json_t *lpn = json_object_get(b, "logprobs");
    json_t *lp = json_null();
    if (json_is_integer(lpn)) {
        json_t *toks = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
        size_t at = 0;
        for (size_t k = 0; k < a.n; k++) {
            json_array_append_new(toks, json_string(a.tok[k]));
            json_array_append_new(lps, json_real(-(double)(k + 1) / 8));
            json_t *alt = json_object();
            if (json_integer_value(lpn) > 0) json_object_set_new(alt, a.tok[k], json_real(-(double)(k + 1) / 8));
            json_array_append_new(tops, alt);
            json_array_append_new(offs, json_integer((json_int_t)at));
            at += strlen(a.tok[k]);
        }
        lp = json_pack("{s:o, s:o, s:o, s:o}", "tokens", toks, "token_logprobs", lps, "top_logprobs", tops,
                       "text_offset", offs);
    }
    json_t *usage = json_pack("{s:i, s:i, s:i}", "prompt_tokens", ptok, "completion_tokens", (int)a.n, "total_tokens",
                              ptok + (int)a.n);
    if (!json_is_true(json_object_get(b, "stream"))) {
        char *t = joined(&a);
        json_t *r = json_pack("{s:s, s:s, s:i, s:s, s:[{s:s, s:i, s:o, s:s}], s:o, s:s}", "id", "cmpl-echo1", "object",
                              "text_completion", "created", CREATED, "model", model, "choices", "text", t, "index", 0,
                              "logprobs", lp, "finish_reason", a.finish, "usage", usage, "system_fingerprint",
                              "fp_echo");
        free(t);
        free_answer(&a);
        return reply_json(out, to_free, 200, r);
    }
    json_decref(lp);
    sse_out o = {0};
    o.f = open_memstream(&o.data, &o.len);
    for (size_t k = 0; k <= a.n; k++)
        sse_event(&o, NULL, json_pack("{s:s, s:s, s:i, s:s, s:[{s:s, s:i, s:n, s:o}]}", "id", "cmpl-echo1", "object",
                                      "text_completion", "created", CREATED, "model", model, "choices", "text",
                                      k < a.n ? a.tok[k] : "", "index", 0, "logprobs", "finish_reason",
                                      k < a.n ? json_null() : json_string(a.finish)));
    if (json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage")))
        sse_event(&o, NULL, json_pack("{s:s, s:s, s:i, s:s, s:[], s:O}", "id", "cmpl-echo1", "object", "text_completion",
                                      "created", CREATED, "model", model, "choices", "usage", usage));
    json_decref(usage);
    fputs("data: [DONE]\n\n", o.f);
    free_answer(&a);
    return reply_sse(out, to_free, &o);
}

static bool openai_embeddings(const json_t *b, fake_reply *out, char **to_free) {
    json_t *input = json_object_get(b, "input");
    json_t *texts = json_is_string(input) ? json_pack("[O]", input) : json_incref(input);
    if (!json_is_array(texts) || json_array_size(texts) == 0 || json_array_size(texts) > 2048) {
        json_decref(texts);
        return openai_error(out, to_free, 400, "'input' : input must be a string or an array of 1 to 2048 strings",
                            "input", "invalid_value");
    }
    json_t *data = json_array();
    int words = 0;
    for (size_t i = json_array_size(texts); i-- > 0;) { /* reverse order: clients must use "index" */
        const char *t = json_string_value(json_array_get(texts, i));
        uint64_t h = 1469598103934665603u;
        for (const char *p = t ? t : ""; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211u;
        json_t *vec = json_array();
        for (int d = 0; d < EMBED_DIM; d++) json_array_append_new(vec, json_real((double)((h >> (d * 8)) & 0xff) / 256 - 0.5));
        json_array_append_new(data, json_pack("{s:s, s:i, s:o}", "object", "embedding", "index", (int)i, "embedding", vec));
        words += count_words(t);
    }
    json_decref(texts);
    const char *model = json_string_value(json_object_get(b, "model"));
    return reply_json(out, to_free, 200,
                      json_pack("{s:s, s:o, s:s, s:{s:i, s:i}}", "object", "list", "data", data, "model",
                                model ? model : "echo", "usage", "prompt_tokens", words, "total_tokens", words));
}

/* ---- Anthropic ---- */

static json_t *anthropic_usage(int in, int outn) {
    return json_pack("{s:i, s:i, s:i, s:i}", "input_tokens", in, "cache_creation_input_tokens", 0,
                     "cache_read_input_tokens", 0, "output_tokens", outn);
}

static bool anthropic_messages(const fake_request *req, const json_t *b, fake_reply *out, char **to_free) {
    char buf[64];
    if (!header(req, "anthropic-version", buf, sizeof buf))
        return anthropic_error(out, to_free, 400, "invalid_request_error", "anthropic-version: header is required");
    json_t *msgs = json_object_get(b, "messages");
    if (!msgs) return anthropic_error(out, to_free, 400, "invalid_request_error", "messages: Field required");
    if (!json_is_array(msgs))
        return anthropic_error(out, to_free, 400, "invalid_request_error", "messages: Input should be a valid list");
    if (!json_is_integer(json_object_get(b, "max_tokens")))
        return anthropic_error(out, to_free, 400, "invalid_request_error", "max_tokens: Field required");
    const char *model = json_string_value(json_object_get(b, "model"));
    if (!model) return anthropic_error(out, to_free, 400, "invalid_request_error", "model: Field required");

    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1), *m;
    bool tool_result = false;
    char *msg = text_of(json_object_get(last, "content"), &tool_result);
    if (!msg) msg = strdup("");
    answer a;
    make_answer(b, msg, !tool_result, true, &a);
    free(msg);
    size_t i;
    int ptok = 0;
    json_array_foreach(msgs, i, m) {
        char *t = text_of(json_object_get(m, "content"), NULL);
        ptok += count_words(t) + 3;
        free(t);
    }
    ptok += count_words(json_string_value(json_object_get(b, "system")));
    const char *stop_reason = a.tool[0] ? "tool_use" : strcmp(a.finish, "length") == 0 ? "max_tokens"
                            : a.stop_seq ? "stop_sequence" : "end_turn";
    int completion = (int)a.n + (a.tool[0] ? 12 : 0);
    json_t *q = a.tool[0] ? json_loads(a.args, 0, NULL) : NULL;
    const char *id = "msg_echo1";

    if (!json_is_true(json_object_get(b, "stream"))) {
        json_t *content = json_array();
        char *t = joined(&a);
        if (a.n) json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", t));
        free(t);
        if (a.tool[0])
            json_array_append_new(content, json_pack("{s:s, s:s, s:s, s:O}", "type", "tool_use", "id", "toolu_echo1",
                                                     "name", a.tool, "input", q));
        json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "id", id, "type", "message", "role",
                              "assistant", "model", model, "content", content, "stop_reason", stop_reason,
                              "stop_sequence", a.stop_seq ? json_string(a.stop_seq) : json_null(), "usage",
                              anthropic_usage(ptok, completion));
        json_decref(q);
        free_answer(&a);
        return reply_json(out, to_free, 200, r);
    }

    sse_out o = {0};
    o.f = open_memstream(&o.data, &o.len);
    sse_event(&o, "message_start",
              json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:o}}", "type", "message_start", "message", "id",
                        id, "type", "message", "role", "assistant", "model", model, "content", "stop_reason",
                        "stop_sequence", "usage", anthropic_usage(ptok, 1)));
    int index = 0;
    if (a.n || !a.tool[0]) {
        sse_event(&o, "content_block_start", json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start",
                                                       "index", index, "content_block", "type", "text", "text", ""));
        sse_event(&o, "ping", json_pack("{s:s}", "type", "ping"));
        for (size_t k = 0; k < a.n; k++)
            sse_event(&o, "content_block_delta",
                      json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_delta", "index", index, "delta",
                                "type", "text_delta", "text", a.tok[k]));
        sse_event(&o, "content_block_stop", json_pack("{s:s, s:i}", "type", "content_block_stop", "index", index));
        index++;
    }
    if (a.tool[0]) {
        sse_event(&o, "content_block_start",
                  json_pack("{s:s, s:i, s:{s:s, s:s, s:s, s:{}}}", "type", "content_block_start", "index", index,
                            "content_block", "type", "tool_use", "id", "toolu_echo1", "name", a.tool, "input"));
        char frag[256][8];
        size_t nf = fragments(a.args, frag, 256);
        sse_event(&o, "content_block_delta", json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_delta", "index",
                                                       index, "delta", "type", "input_json_delta", "partial_json", ""));
        for (size_t k = 0; k < nf; k++)
            sse_event(&o, "content_block_delta",
                      json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_delta", "index", index, "delta",
                                "type", "input_json_delta", "partial_json", frag[k]));
        sse_event(&o, "content_block_stop", json_pack("{s:s, s:i}", "type", "content_block_stop", "index", index));
    }
    sse_event(&o, "message_delta",
              json_pack("{s:s, s:{s:s, s:o}, s:{s:i}}", "type", "message_delta", "delta", "stop_reason", stop_reason,
                        "stop_sequence", a.stop_seq ? json_string(a.stop_seq) : json_null(), "usage", "output_tokens",
                        completion));
    sse_event(&o, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    json_decref(q);
    free_answer(&a);
    return reply_sse(out, to_free, &o);
}

/* ---- auth and dispatch ---- */

/* OpenAI's 401 quotes the key masked: the first 5 and last 4 characters. */
static bool openai_auth(const fake_request *req, const fake_echo_opts *o, bool leaky, fake_reply *out, char **to_free) {
    char buf[512];
    const char *h = header(req, "authorization", buf, sizeof buf);
    if (h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, o->key) == 0) return false;
    if (!h)
        return openai_error(out, to_free, 401, "You didn't provide an API key. You need to provide your API key in an "
                            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the "
                            "password field (with blank username) if you're accessing the API from your browser and "
                            "are prompted for a username and password. You can obtain an API key from "
                            "https://platform.openai.com/account/api-keys.", NULL, NULL);
    const char *given = strncmp(h, "Bearer ", 7) == 0 ? h + 7 : h;
    char shown[512], msg[1024];
    size_t n = strlen(given);
    if (leaky) {
        snprintf(shown, sizeof shown, "%s", given);
    } else {
        for (size_t i = 0; i < n && i < sizeof shown - 1; i++)
            shown[i] = n > 9 && (i < 5 || i >= n - 4) ? given[i] : '*';
        shown[n < sizeof shown - 1 ? n : sizeof shown - 1] = 0;
    }
    snprintf(msg, sizeof msg, "Incorrect API key provided: %s. You can find your API key at "
             "https://platform.openai.com/account/api-keys.", shown);
    return openai_error(out, to_free, 401, msg, NULL, "invalid_api_key");
}

static bool anthropic_auth(const fake_request *req, const fake_echo_opts *o, bool leaky, fake_reply *out,
                           char **to_free) {
    char buf[512], msg[700];
    const char *h = header(req, "x-api-key", buf, sizeof buf);
    if (h && strcmp(h, o->key) == 0) return false;
    if (!h) return anthropic_error(out, to_free, 401, "authentication_error", "x-api-key header is required");
    snprintf(msg, sizeof msg, leaky ? "invalid x-api-key: %s" : "invalid x-api-key", h);
    return anthropic_error(out, to_free, 401, "authentication_error", msg);
}

bool fake_echo(const fake_request *req, fake_reply *out, char **to_free, void *ud) {
    const fake_echo_opts *o = ud;
    const char *path = req->path;
    bool anthropic = strncmp(path, "/v1/messages", 12) == 0;
    bool models = strcmp(req->method, "GET") == 0 && strncmp(path, "/v1/models", 10) == 0;
    bool post = strcmp(req->method, "POST") == 0;
    const char *ops[] = { "/v1/chat/completions", "/v1/completions", "/v1/embeddings" };
    int op = -1;
    for (int i = 0; i < 3; i++)
        if (post && strcmp(path, ops[i]) == 0) op = i;
    if (!models && op < 0 && !(anthropic && post)) return false;

    json_t *b = NULL;
    if (post) {
        json_error_t je;
        b = json_loadb(req->body ? req->body : "", req->body_len, 0, &je);
        if (!json_is_object(b)) {
            json_decref(b);
            if (anthropic) return anthropic_error(out, to_free, 400, "invalid_request_error", "There was an error parsing "
                                                  "the body of your request. The body must be valid JSON.");
            return openai_error(out, to_free, 400, "We could not parse the JSON body of your request. (HINT: This likely "
                                "means you aren't using your HTTP library correctly.)", NULL, NULL);
        }
    }
    const char *model = json_string_value(json_object_get(b, "model"));
    bool leaky = model && strcmp(model, "leaky") == 0;
    bool done = false, ok = true;
    if (o && o->key) {
        done = anthropic ? anthropic_auth(req, o, leaky, out, to_free) : openai_auth(req, o, leaky, out, to_free);
    }
    if (!done) {
        if (models)
            ok = reply_json(out, to_free, 200,
                            json_pack("{s:s, s:[{s:s, s:s, s:i, s:s}]}", "object", "list", "data", "id", "echo", "object",
                                      "model", "created", CREATED, "owned_by", "llmkit"));
        else if (anthropic) ok = anthropic_messages(req, b, out, to_free);
        else if (op == 0) ok = openai_chat(b, out, to_free);
        else if (op == 1) ok = openai_completions(b, out, to_free);
        else ok = openai_embeddings(b, out, to_free);
    }
    json_decref(b);
    if (o && o->split > 0) {
        out->split = (size_t)o->split;
        out->random_split = true;
    }
    return ok;
}

/* fuzz_api.h — the driver shared by fuzz_openai.c and fuzz_anthropic.c: one input goes through
 * an API backend's parser (api.h) as a whole response body, and as an event stream split into
 * pieces whose lengths the input's own bytes choose, then one byte at a time, then cancelled by
 * the callback part-way. Invariants: no crash or leak; text_len == strlen(text); tool call
 * strings are non-NULL; the finish reason is one of lk_response's; a failure has a message that
 * never holds the key; and splitting the stream differently changes nothing but byte offsets
 * in messages. */
#ifndef LK_FUZZ_API_H
#define LK_FUZZ_API_H

#include "models/api.h"

#include <stdint.h>

#define FUZZ_SECRET "sk-Q"

typedef void (*fuzz_setup_fn)(api_parse *p, int variant);

static void fuzz_check(const lk_response *out, int rc, const lk_error *err) {
    static const char *const finishes[] = { "stop", "length", "tool_calls", "content_filter", "cancelled", "error" };
    if (out->text ? strlen(out->text) != out->text_len : out->text_len != 0) __builtin_trap();
    for (size_t i = 0; i < out->n_tool_calls; i++)
        if (!out->tool_calls[i].id || !out->tool_calls[i].name || !out->tool_calls[i].arguments) __builtin_trap();
    for (size_t i = 0; i < out->n_logprobs; i++)
        if (!out->logprobs[i].token) __builtin_trap();
    if (out->finish_reason) {
        bool known = false;
        for (size_t i = 0; i < LK_ARRAY_LEN(finishes); i++) known |= strcmp(out->finish_reason, finishes[i]) == 0;
        if (!known) __builtin_trap();
    }
    if (rc && (!err->msg[0] || strstr(err->msg, FUZZ_SECRET))) __builtin_trap();
    if (rc && (!out->finish_reason || strcmp(out->finish_reason, "error") != 0)) __builtin_trap();
}

typedef struct fuzz_cb {
    int n, cancel_at;
    size_t bytes;
} fuzz_cb;

static bool fuzz_on_token(const char *text, size_t len, void *ud) {
    fuzz_cb *c = ud;
    c->n++;
    c->bytes += len;
    return !(c->cancel_at > 0 && c->n >= c->cancel_at);
}

/* Feed data as a stream in pieces: piece_len 0 lets each piece's first byte choose its length. */
static int fuzz_stream(lk_model *m, fuzz_setup_fn setup, int variant, const uint8_t *data, size_t size, size_t piece_len,
                       int cancel_at, lk_response *out, lk_error *err) {
    memset(out, 0, sizeof *out);
    fuzz_cb cb = { 0, cancel_at, 0 };
    api_parse p;
    api_parse_init(&p, m, out, fuzz_on_token, &cb, err, FUZZ_SECRET);
    setup(&p, variant);
    int rc = 0;
    for (size_t at = 0; at < size && rc == 0;) {
        size_t n = piece_len ? piece_len : 1 + data[at] % 23u;
        if (n > size - at) n = size - at;
        rc = api_feed(&p, (const char *)data + at, n);
        at += n;
    }
    rc = api_end(&p);
    api_parse_free(&p);
    if (out->text_len != cb.bytes) __builtin_trap(); /* every byte of text went through on_token */
    return rc;
}

static void fuzz_api(const uint8_t *data, size_t size, fuzz_setup_fn setup, int n_variants) {
    static char spec[] = "fuzz:api", name[] = "fuzz";
    lk_model m = { .spec = spec, .backend = "fuzz", .name = name };
    for (int v = 0; v < n_variants; v++) {
        /* a whole body */
        lk_response out = { .timings.total_s = lk_now() }; /* the start, as lk_model_chat sets it */
        lk_error err = {0};
        api_parse p;
        api_parse_init(&p, &m, &out, NULL, NULL, &err, FUZZ_SECRET);
        setup(&p, v);
        int rc = api_body(&p, (const char *)data, size);
        api_parse_free(&p);
        fuzz_check(&out, rc, &err);
        lk_response_free(&out);

        /* a stream, split two ways: the results agree */
        lk_response a, b;
        lk_error ea = {0}, eb = {0};
        int ra = fuzz_stream(&m, setup, v, data, size, 0, 0, &a, &ea);
        int rb = fuzz_stream(&m, setup, v, data, size, 1, 0, &b, &eb);
        fuzz_check(&a, ra, &ea);
        fuzz_check(&b, rb, &eb);
        if (ra != rb || a.text_len != b.text_len || (a.text_len && memcmp(a.text, b.text, a.text_len)) ||
            a.n_tool_calls != b.n_tool_calls || !a.finish_reason != !b.finish_reason ||
            (a.finish_reason && strcmp(a.finish_reason, b.finish_reason)))
            __builtin_trap();
        for (size_t i = 0; i < a.n_tool_calls; i++)
            if (strcmp(a.tool_calls[i].arguments, b.tool_calls[i].arguments)) __builtin_trap();
        lk_response_free(&a);
        lk_response_free(&b);

        /* cancelled by the callback after a few pieces */
        int rc2 = fuzz_stream(&m, setup, v, data, size, 0, 1 + (int)(size % 3), &a, &ea);
        fuzz_check(&a, rc2, &ea);
        lk_response_free(&a);
    }
}

#endif

/* fuzz_sse.c — libFuzzer target for the event-stream parser (src/models/sse.c).
 *
 * The input is an event stream, parsed three ways: whole, a byte at a time, and in pieces whose
 * lengths come from the input itself (piece k is 1 + input[k] % 32 bytes long). The line limit
 * is small and also taken from the input, so that the over-long paths are reached. Every
 * dispatched event must be a C string of its data_len, and the three parses must agree exactly:
 * the same events (compared by a hash of type, id and data), the same return code and message,
 * and the same sse_finish() answer. */
#include "models/sse.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct digest {
    uint64_t hash;
    size_t events;
} digest;

static void mix(digest *d, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) d->hash = (d->hash ^ b[i]) * 0x100000001B3ull; /* FNV-1a */
    d->hash = (d->hash ^ 0xFF) * 0x100000001B3ull; /* a separator no byte sequence can fake */
}

static int on_event(const sse_event *ev, void *ud, lk_error *err) {
    digest *d = ud;
    if (ev->data_len != strlen(ev->data)) __builtin_trap();
    if (ev->type[0] == 0) __builtin_trap(); /* "message" unless an event field named one */
    mix(d, ev->type, strlen(ev->type));
    mix(d, ev->id, strlen(ev->id));
    mix(d, ev->data, ev->data_len);
    d->events++;
    return LK_OK;
}

typedef struct outcome {
    digest d;
    int rc;
    char msg[sizeof(((lk_error *)0)->msg)];
    bool pending;
    long retry_ms;
} outcome;

/* mode 0: whole; 1: a byte at a time; 2: piece lengths from the input. */
static void parse(const uint8_t *data, size_t size, size_t max_event, int mode, outcome *o) {
    memset(o, 0, sizeof *o);
    o->d.hash = 0xCBF29CE484222325ull;
    sse_parser p;
    sse_init(&p);
    p.max_event = max_event;
    lk_error err = {0};
    const char *text = (const char *)data;
    size_t at = 0, k = 0;
    while (at < size && o->rc == LK_OK) {
        size_t n = size - at;
        if (mode == 1) n = 1;
        if (mode == 2) {
            size_t want = 1 + (size_t)(data[k % size] % 32);
            k++;
            if (want < n) n = want;
        }
        o->rc = sse_feed(&p, text + at, n, on_event, &o->d, &err);
        at += n;
    }
    if (size == 0) o->rc = sse_feed(&p, "", 0, on_event, &o->d, &err);
    if (o->rc != LK_OK) memcpy(o->msg, err.msg, sizeof o->msg);
    o->retry_ms = p.retry_ms;
    o->pending = o->rc == LK_OK ? sse_finish(&p) : false;
    sse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a limit between 16 and 16336 bytes, from the last byte: small enough to be reached */
    size_t max_event = size ? 16 + (size_t)data[size - 1] * 64 : 16;
    outcome whole, bytes, pieces;
    parse(data, size, max_event, 0, &whole);
    parse(data, size, max_event, 1, &bytes);
    parse(data, size, max_event, 2, &pieces);
    const outcome *other[2] = { &bytes, &pieces };
    for (int i = 0; i < 2; i++) {
        const outcome *o = other[i];
        if (o->d.hash != whole.d.hash || o->d.events != whole.d.events) __builtin_trap();
        if (o->rc != whole.rc || strcmp(o->msg, whole.msg) != 0) __builtin_trap();
        if (o->pending != whole.pending || o->retry_ms != whole.retry_ms) __builtin_trap();
    }
    if (whole.rc != LK_OK && (whole.rc != LK_EFORMAT || !strstr(whole.msg, "offset"))) __builtin_trap();
    return 0;
}

/* test_sse.c — the event-stream parser of sse.h held to the WHATWG rules: fields, comments,
 * line ends, BOM, dispatch; real OpenAI and Anthropic streams split at every byte; limits.
 *
 * Events are collected as "type|id|data" records so that a whole stream's events compare as one
 * string. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "models/sse.h"

/* ---- helpers ---- */

static uint64_t rng_state = 20240611;

static uint64_t next_rand(void) { /* xorshift64: the same splittings on every run */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Every event as "type|id|data\x1e". */
static int collect(const sse_event *ev, void *ud, lk_error *err) {
    lk_buf *out = ud;
    assert_int_equal(ev->data_len, strlen(ev->data));
    lk_buf_printf(out, "%s|%s|%s\x1e", ev->type, ev->id, ev->data);
    return LK_OK;
}

/* Parse text fed in pieces that end at the offsets in cuts (ascending), into out. */
static int parse_cut(const char *text, size_t len, const size_t *cuts, size_t n_cuts, lk_buf *out,
                     bool *pending) {
    sse_parser p;
    sse_init(&p);
    lk_error err = {0};
    size_t at = 0;
    int rc = LK_OK;
    for (size_t i = 0; i <= n_cuts && rc == LK_OK; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        rc = sse_feed(&p, text + at, end - at, collect, out, &err);
        at = end;
    }
    bool pend = sse_finish(&p);
    if (pending) *pending = pend;
    sse_free(&p);
    return rc;
}

/* The events of text fed whole, as one string (owned by the caller). */
static char *events_of(const char *text) {
    lk_buf out = {0};
    assert_int_equal(parse_cut(text, strlen(text), NULL, 0, &out, NULL), LK_OK);
    lk_buf_putc(&out, 0);
    return out.data;
}

static void assert_events(const char *text, const char *want) {
    char *got = events_of(text);
    assert_string_equal(got, want);
    free(got);
}

/* text gives the same events fed whole, byte by byte, split in two at every offset, and in
 * 200 random splittings. */
static void assert_split_invariant(const char *text, const char *want) {
    size_t len = strlen(text);
    assert_events(text, want);

    lk_buf got = {0};
    size_t *cuts = malloc(len * sizeof *cuts);
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    assert_int_equal(parse_cut(text, len, cuts, len, &got, NULL), LK_OK);
    lk_buf_putc(&got, 0);
    assert_string_equal(got.data, want);

    for (size_t at = 0; at <= len; at++) {
        lk_buf_clear(&got);
        assert_int_equal(parse_cut(text, len, &at, 1, &got, NULL), LK_OK);
        lk_buf_putc(&got, 0);
        if (strcmp(got.data, want) != 0) fail_msg("split at %zu: got\n%s\nwant\n%s", at, got.data, want);
    }

    for (int trial = 0; trial < 200; trial++) {
        size_t n = 0;
        for (size_t at = 0; at < len;) {
            at += 1 + next_rand() % 24;
            if (at < len) cuts[n++] = at;
        }
        lk_buf_clear(&got);
        assert_int_equal(parse_cut(text, len, cuts, n, &got, NULL), LK_OK);
        lk_buf_putc(&got, 0);
        assert_string_equal(got.data, want);
    }
    free(cuts);
    lk_buf_free(&got);
}

/* text with every "\n" replaced by eol. */
static char *with_eol(const char *text, const char *eol) {
    lk_buf b = {0};
    for (const char *p = text; *p; p++) {
        if (*p == '\n') lk_buf_puts(&b, eol);
        else lk_buf_putc(&b, *p);
    }
    return b.data;
}

/* OpenAI Chat Completions streaming, as in its API reference. */
static const char openai_stream[] =
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\", \"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\", \"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\", \"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,"
    "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n"
    "\n"
    "data: [DONE]\n"
    "\n";

static const char openai_events[] =
    "message||{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\", \"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\x1e"
    "message||{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\", \"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\x1e"
    "message||{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,"
    "\"model\":\"gpt-4o-mini\", \"system_fingerprint\": \"fp_44709d6fcb\", \"choices\":[{\"index\":0,"
    "\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\x1e"
    "message||[DONE]\x1e";

/* Anthropic Messages streaming, as in its documentation (ping included). */
static const char anthropic_stream[] =
    "event: message_start\n"
    "data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", "
    "\"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": \"claude-3-5-sonnet-20241022\", "
    "\"stop_reason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": 25, \"output_tokens\": 1}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"Hello\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"!\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\": \"content_block_stop\", \"index\": 0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\":null}, "
    "\"usage\": {\"output_tokens\": 15}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\": \"message_stop\"}\n"
    "\n";

static const char anthropic_events[] =
    "message_start||{\"type\": \"message_start\", \"message\": {\"id\": \"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", "
    "\"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": \"claude-3-5-sonnet-20241022\", "
    "\"stop_reason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": 25, \"output_tokens\": 1}}}\x1e"
    "content_block_start||{\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\x1e"
    "ping||{\"type\": \"ping\"}\x1e"
    "content_block_delta||{\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"Hello\"}}\x1e"
    "content_block_delta||{\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"!\"}}\x1e"
    "content_block_stop||{\"type\": \"content_block_stop\", \"index\": 0}\x1e"
    "message_delta||{\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\":null}, "
    "\"usage\": {\"output_tokens\": 15}}\x1e"
    "message_stop||{\"type\": \"message_stop\"}\x1e";

/* ---- fields ---- */

/* Data lines of one event are joined with '\n'. */
static void test_multiline_data_joined(void **state) {
    (void)state;
    assert_events("data: a\ndata: b\ndata:c\n\n", "message||a\nb\nc\x1e");
}

/* One space after the colon is dropped, no more; "data" with no space works. */
static void test_one_leading_space_dropped(void **state) {
    (void)state;
    assert_events("data:x\n\ndata: x\n\ndata:  x\n\n", "message||x\x1emessage||x\x1emessage|| x\x1e");
}

/* An empty data line still makes an event, with empty data; and contributes an empty line. */
static void test_empty_data_line(void **state) {
    (void)state;
    assert_events("data:\n\n", "message||\x1e");
    assert_events("data\n\n", "message||\x1e");
    assert_events("data\ndata\n\n", "message||\n\x1e");
    assert_events("data: a\ndata:\n\n", "message||a\n\x1e");
}

/* A field name without a colon is the whole line, with an empty value. */
static void test_field_without_colon(void **state) {
    (void)state;
    assert_events("event\ndata: x\n\n", "message||x\x1e");
    assert_events("data\n\n", "message||\x1e");
    assert_events("datax\n\n", ""); /* an unknown field */
}

/* Lines starting with ':' are comments; unknown fields are ignored. */
static void test_comments_and_unknown_fields_ignored(void **state) {
    (void)state;
    assert_events(": keep-alive\n\n:\ndata: x\n: mid\nfoo: bar\n\n", "message||x\x1e");
    assert_events(": OPENROUTER PROCESSING\n\n", "");
}

/* "event" sets the type of one event only; the default is "message". */
static void test_event_type_applies_once(void **state) {
    (void)state;
    assert_events("event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n",
                  "add||1\x1emessage||2\x1emessage||3\x1e");
}

/* "id" persists across events until changed; an id with NUL is ignored. */
static void test_id_persists(void **state) {
    (void)state;
    assert_events("id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", "message|7|a\x1emessage|7|b\x1emessage||c\x1e");
    lk_buf out = {0};
    static const char nul_id[] = "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n";
    assert_int_equal(parse_cut(nul_id, sizeof nul_id - 1, NULL, 0, &out, NULL), LK_OK);
    assert_string_equal(out.data, "message|1|a\x1emessage|1|b\x1e");
    lk_buf_free(&out);
}

/* "retry" with digits only sets retry_ms; anything else is ignored. */
static void test_retry_field(void **state) {
    (void)state;
    sse_parser p;
    sse_init(&p);
    lk_error err = {0};
    assert_true(p.retry_ms == -1);
    assert_int_equal(sse_feed(&p, "retry: 3000\n", 12, collect, NULL, &err), LK_OK);
    assert_true(p.retry_ms == 3000);
    assert_int_equal(sse_feed(&p, "retry: 1.5\nretry: x\nretry:\n", 27, collect, NULL, &err), LK_OK);
    assert_true(p.retry_ms == 3000);
    sse_free(&p);
}

/* An event without data is not dispatched, not even its type. */
static void test_event_without_data_not_dispatched(void **state) {
    (void)state;
    assert_events("event: ping\n\n", "");
    assert_events("event: ping\nid: 3\n\ndata: x\n\n", "message|3|x\x1e");
}

/* A NUL byte in data becomes U+FFFD, so data is a C string of data_len bytes. */
static void test_nul_in_data_replaced(void **state) {
    (void)state;
    lk_buf out = {0};
    static const char text[] = "data: a\0b\n\n";
    assert_int_equal(parse_cut(text, sizeof text - 1, NULL, 0, &out, NULL), LK_OK);
    assert_string_equal(out.data, "message||a\xEF\xBF\xBD" "b\x1e");
    lk_buf_free(&out);
}

/* ---- line ends and BOM ---- */

/* LF, CRLF and CR all end lines, mixed in one stream. */
static void test_line_endings(void **state) {
    (void)state;
    assert_events("data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\n\n", "message||a\x1emessage||b\x1emessage||c\x1emessage||d\x1e");
    assert_events("data: a\r\ndata: b\rdata: c\n\r", "message||a\nb\nc\x1e");
}

/* A CRLF split across two feeds is one line end, not two (which would dispatch early). */
static void test_crlf_split_across_feeds(void **state) {
    (void)state;
    static const char text[] = "data: a\r\ndata: b\r\n\r\n";
    for (size_t at = 0; at <= strlen(text); at++) {
        lk_buf out = {0};
        assert_int_equal(parse_cut(text, strlen(text), &at, 1, &out, NULL), LK_OK);
        assert_string_equal(out.data, "message||a\nb\x1e");
        lk_buf_free(&out);
    }
}

/* A leading UTF-8 BOM is skipped, even split across feeds; a second one is not. */
static void test_bom_skipped_once(void **state) {
    (void)state;
    assert_split_invariant("\xEF\xBB\xBF" "data: x\n\n", "message||x\x1e");
    assert_events("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\n", ""); /* the second BOM is a field name */
    assert_events("\xEF\xBB" "data: x\n\ndata: y\n\n", "message||y\x1e");
}

/* ---- real streams ---- */

/* OpenAI's stream gives the same events however it is split, with LF, CRLF or CR line ends. */
static void test_openai_stream_any_split(void **state) {
    (void)state;
    const char *eols[] = { "\n", "\r\n", "\r" };
    for (size_t i = 0; i < LK_ARRAY_LEN(eols); i++) {
        char *text = with_eol(openai_stream, eols[i]);
        assert_split_invariant(text, openai_events);
        free(text);
    }
}

/* Anthropic's stream gives the same events however it is split, with LF, CRLF or CR line ends. */
static void test_anthropic_stream_any_split(void **state) {
    (void)state;
    const char *eols[] = { "\n", "\r\n", "\r" };
    for (size_t i = 0; i < LK_ARRAY_LEN(eols); i++) {
        char *text = with_eol(anthropic_stream, eols[i]);
        assert_split_invariant(text, anthropic_events);
        free(text);
    }
}

/* ---- limits, errors, end of stream ---- */

/* A line longer than max_event is LK_EFORMAT naming the offset where the limit was passed,
 * whether it arrives whole or a byte at a time. */
static void test_overlong_line_is_format_error(void **state) {
    (void)state;
    char text[200];
    snprintf(text, sizeof text, "data: ok\n\ndata: %0100d\n\n", 0); /* the long line starts at 10 */
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        sse_parser p;
        sse_init(&p);
        p.max_event = 64;
        lk_error err = {0};
        lk_buf out = {0};
        int rc = LK_OK;
        if (bytewise)
            for (size_t i = 0; i < strlen(text) && rc == LK_OK; i++) rc = sse_feed(&p, text + i, 1, collect, &out, &err);
        else
            rc = sse_feed(&p, text, strlen(text), collect, &out, &err);
        assert_int_equal(rc, LK_EFORMAT);
        assert_string_equal(err.msg, "event stream: line longer than 64 bytes at offset 74");
        assert_string_equal(out.data, "message||ok\x1e");
        lk_buf_free(&out);
        sse_free(&p);
    }
}

/* Many short data lines adding up to more than max_event are LK_EFORMAT too. */
static void test_overlong_event_is_format_error(void **state) {
    (void)state;
    sse_parser p;
    sse_init(&p);
    p.max_event = 64;
    lk_error err = {0};
    lk_buf text = {0};
    for (int i = 0; i < 20; i++) lk_buf_puts(&text, "data: 0123456789\n");
    assert_int_equal(sse_feed(&p, text.data, text.len, collect, NULL, &err), LK_EFORMAT);
    assert_non_null(strstr(err.msg, "event data longer than 64 bytes at offset"));
    lk_buf_free(&text);
    sse_free(&p);
}

static int refuse_second(const sse_event *ev, void *ud, lk_error *err) {
    int *n = ud;
    if (++*n == 2) return lk_errorf(err, LK_EINVAL, "stop at %s", ev->data);
    return LK_OK;
}

/* A callback's error stops parsing and is returned as it is. */
static void test_callback_error_stops(void **state) {
    (void)state;
    sse_parser p;
    sse_init(&p);
    lk_error err = {0};
    int n = 0;
    const char *text = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_int_equal(sse_feed(&p, text, strlen(text), refuse_second, &n, &err), LK_EINVAL);
    assert_int_equal(n, 2);
    assert_string_equal(err.msg, "stop at 2");
    sse_free(&p);
}

/* At the end of the stream an event missing its blank line is not dispatched, and
 * sse_finish() says that something was pending; a clean end says nothing was. */
static void test_finish_reports_incomplete_event(void **state) {
    (void)state;
    const struct { const char *text; bool pending; } cases[] = {
        { "data: a\n\n", false },
        { "data: a\n", true },
        { "data: a", true },
        { "data: a\n\ndata: b", true },
        { "event: x\n", true },
        { ": comment\n", false },
        { "data: a\r\n\r\n", false },
        { "data: a\r\n\r", false },
        { "", false },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(cases); i++) {
        lk_buf out = {0};
        bool pending;
        assert_int_equal(parse_cut(cases[i].text, strlen(cases[i].text), NULL, 0, &out, &pending), LK_OK);
        if (pending != cases[i].pending) fail_msg("\"%s\": pending %d", cases[i].text, pending);
        bool complete = strncmp(cases[i].text, "data: a\n\n", 9) == 0 || strncmp(cases[i].text, "data: a\r\n\r", 10) == 0;
        assert_string_equal(out.data ? out.data : "", complete ? "message||a\x1e" : "");
        lk_buf_free(&out);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiline_data_joined),
        cmocka_unit_test(test_one_leading_space_dropped),
        cmocka_unit_test(test_empty_data_line),
        cmocka_unit_test(test_field_without_colon),
        cmocka_unit_test(test_comments_and_unknown_fields_ignored),
        cmocka_unit_test(test_event_type_applies_once),
        cmocka_unit_test(test_id_persists),
        cmocka_unit_test(test_retry_field),
        cmocka_unit_test(test_event_without_data_not_dispatched),
        cmocka_unit_test(test_nul_in_data_replaced),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_crlf_split_across_feeds),
        cmocka_unit_test(test_bom_skipped_once),
        cmocka_unit_test(test_openai_stream_any_split),
        cmocka_unit_test(test_anthropic_stream_any_split),
        cmocka_unit_test(test_overlong_line_is_format_error),
        cmocka_unit_test(test_overlong_event_is_format_error),
        cmocka_unit_test(test_callback_error_stops),
        cmocka_unit_test(test_finish_reports_incomplete_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

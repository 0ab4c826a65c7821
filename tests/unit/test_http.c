/* test_http.c — http_do() against the loopback server of fakeapi.h: bodies collected and
 * streamed, the retry policy (which statuses and errors are retried, backoff, Retry-After,
 * attempts), timeouts, cuts, cancellation, and that secrets never reach an error message.
 *
 * Every test starts its own server and scripts its replies with fake_push(); backoff is kept in
 * the tens of milliseconds so the whole file runs in a few seconds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "models/http.h"
#include "fakeapi.h"

/* ---- helpers ---- */

/* What the data callback saw, and when it should stop. */
typedef struct sink {
    lk_buf data;
    int calls;
    int refuse_at_call;            /* > 0: return false on this call */
    volatile int *cancel_at_first; /* set to 1 on the first call */
} sink;

static bool on_data(const char *data, size_t len, void *ud) {
    sink *k = ud;
    k->calls++;
    lk_buf_append(&k->data, data, len);
    if (k->cancel_at_first) *k->cancel_at_first = 1;
    return k->refuse_at_call == 0 || k->calls < k->refuse_at_call;
}

/* Options for tests: quick backoff, generous timeouts. */
static http_opts quick_opts(void) {
    http_opts o = {
        .connect_timeout_s = 2,
        .read_timeout_s = 5,
        .deadline_s = 20,
        .max_attempts = 4,
        .backoff_base_s = 0.01,
        .backoff_max_s = 2,
    };
    return o;
}

static fake_server *start(void) {
    fake_server *s = fake_start();
    if (!s) fail_msg("fake_start: no loopback socket");
    return s;
}

static const char *url_of(fake_server *s, const char *path) {
    static char url[256];
    snprintf(url, sizeof url, "%s%s", fake_base(s), path);
    return url;
}

static const char *const json_headers[] = { "Content-Type: application/json" };

static int post(const char *url, const http_opts *o, http_data_cb cb, void *ud, http_response *r,
                lk_error *err) {
    http_request req = { "POST", url, json_headers, 1, "{\"q\":1}", 7 };
    return http_do(&req, o, cb, ud, r, err);
}

/* A port on 127.0.0.1 where nothing listens. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail_msg("cannot bind a loopback socket");
    close(fd);
    return ntohs(a.sin_port);
}

/* A thread that sets *flag after delay seconds. */
typedef struct canceller {
    volatile int *flag;
    double delay;
    pthread_t thread;
} canceller;

static void *cancel_later(void *arg) {
    canceller *c = arg;
    struct timespec ts = { 0, (long)(c->delay * 1e9) };
    nanosleep(&ts, NULL);
    __atomic_store_n(c->flag, 1, __ATOMIC_RELAXED);
    return NULL;
}

static const char stream_body[] =
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\" there, how are you today?\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

/* ---- bodies ---- */

/* The request reaches the server as sent: method, path, headers and body. */
static void test_request_arrives_as_sent(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = "{}" });
    const char *hdrs[] = { "Content-Type: application/json", "X-Test: yes" };
    http_request req = { "POST", url_of(s, "/v1/chat/completions?x=1"), hdrs, 2, "{\"a\":\"b\"}", 9 };
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    assert_int_equal(http_do(&req, &o, NULL, NULL, &r, &err), LK_OK);
    assert_int_equal(fake_count(s), 1);
    const fake_request *got = fake_get(s, 0);
    assert_string_equal(got->method, "POST");
    assert_string_equal(got->path, "/v1/chat/completions?x=1");
    assert_int_equal(got->body_len, 9);
    assert_string_equal(got->body, "{\"a\":\"b\"}");
    char v[64];
    assert_non_null(fake_header(s, 0, "x-test", v, sizeof v));
    assert_string_equal(v, "yes");
    assert_null(fake_header(s, 0, "Expect", v, sizeof v));
    http_response_free(&r);
    fake_stop(s);
}

/* A chunked request body reaches the server whole. */
static void test_chunked_request_body_arrives(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = "{}" });
    const char *hdrs[] = { "Transfer-Encoding: chunked" };
    http_request req = { "POST", url_of(s, "/v1/x"), hdrs, 1, "{\"chunked\":true}", 16 };
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    assert_int_equal(http_do(&req, &o, NULL, NULL, &r, &err), LK_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(fake_get(s, 0)->body, "{\"chunked\":true}");
    assert_int_equal(fake_get(s, 0)->body_len, 16);
    http_response_free(&r);
    fake_stop(s);
}

/* A GET carries no body. */
static void test_get_has_no_body(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = "{\"data\":[]}" });
    http_request req = { "GET", url_of(s, "/v1/models"), NULL, 0, NULL, 0 };
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    assert_int_equal(http_do(&req, &o, NULL, NULL, &r, &err), LK_OK);
    assert_string_equal(fake_get(s, 0)->method, "GET");
    assert_int_equal(fake_get(s, 0)->body_len, 0);
    assert_string_equal(r.body.data, "{\"data\":[]}");
    http_response_free(&r);
    fake_stop(s);
}

/* Without a data callback the 2xx body is collected, with its Content-Type. */
static void test_collects_body_and_content_type(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = "{\"ok\":true}", .content_type = "application/json; charset=utf-8",
                                .split = 3 });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 1);
    assert_false(r.streamed);
    assert_string_equal(r.body.data, "{\"ok\":true}");
    assert_string_equal(r.content_type, "application/json; charset=utf-8");
    assert_true(r.retry_after_s == -1);
    http_response_free(&r);
    fake_stop(s);
}

/* A body written one byte at a time reaches the callback whole and in order. */
static void test_stream_one_byte_pieces_arrive_in_order(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = stream_body, .content_type = "text/event-stream", .split = 1 });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    sink k = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, on_data, &k, &r, &err), LK_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.streamed);
    assert_int_equal(r.body.len, 0);
    assert_string_equal(r.content_type, "text/event-stream");
    assert_int_equal(k.data.len, strlen(stream_body));
    assert_memory_equal(k.data.data, stream_body, k.data.len);
    assert_true(k.calls > 1);
    lk_buf_free(&k.data);
    http_response_free(&r);
    fake_stop(s);
}

/* A chunked body written in random pieces reaches the callback whole and in order. */
static void test_stream_random_chunked_pieces_arrive_in_order(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = stream_body, .content_type = "text/event-stream", .split = 9,
                                .random_split = true, .chunked = true });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    sink k = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, on_data, &k, &r, &err), LK_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(k.data.len, strlen(stream_body));
    assert_memory_equal(k.data.data, stream_body, k.data.len);
    lk_buf_free(&k.data);
    http_response_free(&r);
    fake_stop(s);
}

/* ---- retries ---- */

/* 429 with Retry-After: 1 is retried after about a second, and the second answer is returned. */
static void test_429_retry_after_waits_then_succeeds(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .status = 429, .headers = "Retry-After: 1\r\n", .body = "{\"error\":{}}" });
    fake_push(s, &(fake_reply){ .body = "{\"ok\":1}" });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    double took = lk_now() - t0;
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 2);
    assert_true(r.retry_after_s == 1);
    assert_string_equal(r.body.data, "{\"ok\":1}");
    if (took < 0.95 || took > 1.8) fail_msg("took %.3f s, expected about 1 s", took);
    http_response_free(&r);
    fake_stop(s);
}

/* OpenAI's retry-after-ms is honoured, to the millisecond. */
static void test_retry_after_ms_honoured(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .status = 429, .headers = "retry-after-ms: 200\r\nRetry-After: 1\r\n", .body = "{}" });
    fake_push(s, &(fake_reply){ .body = "{}" });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    double took = lk_now() - t0;
    assert_int_equal(r.attempts, 2);
    assert_true(r.retry_after_s == 0.2);
    if (took < 0.2 || took > 0.8) fail_msg("took %.3f s, expected about 0.2 s", took);
    http_response_free(&r);
    fake_stop(s);
}

/* A 500 is retried and the following 200 returned. */
static void test_500_then_200_succeeds(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .status = 500, .body = "{\"error\":\"boom\"}" });
    fake_push(s, &(fake_reply){ .body = "{\"ok\":2}" });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(fake_count(s), 2);
    assert_string_equal(r.body.data, "{\"ok\":2}");
    http_response_free(&r);
    fake_stop(s);
}

/* When every attempt gets 503 the last 503 is returned with its body, after max_attempts. */
static void test_503_exhausts_attempts_and_returns_status(void **state) {
    (void)state;
    fake_server *s = start();
    for (int i = 0; i < 3; i++)
        fake_push(s, &(fake_reply){ .status = 503, .body = "{\"error\":\"overloaded\"}" });
    http_opts o = quick_opts();
    o.max_attempts = 2;
    http_response r;
    lk_error err = {0};
    sink k = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, on_data, &k, &r, &err), LK_OK);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(fake_count(s), 2);
    assert_string_equal(r.body.data, "{\"error\":\"overloaded\"}");
    assert_int_equal(k.calls, 0);
    lk_buf_free(&k.data);
    http_response_free(&r);
    fake_stop(s);
}

/* A 400 is the caller's problem: returned at once, not retried. */
static void test_400_not_retried(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .status = 400, .body = "{\"error\":{\"message\":\"bad\"}}" });
    fake_push(s, &(fake_reply){ .body = "{}" });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    assert_int_equal(r.status, 400);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(fake_count(s), 1);
    http_response_free(&r);
    fake_stop(s);
}

/* A non-2xx body goes to out->body, never to the data callback, so the caller can read the
 * provider's error. */
static void test_error_body_collected_not_streamed(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .status = 401, .body = "{\"error\":{\"message\":\"bad key\"}}", .split = 4 });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    sink k = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, on_data, &k, &r, &err), LK_OK);
    assert_int_equal(r.status, 401);
    assert_false(r.streamed);
    assert_int_equal(k.calls, 0);
    assert_string_equal(r.body.data, "{\"error\":{\"message\":\"bad key\"}}");
    lk_buf_free(&k.data);
    http_response_free(&r);
    fake_stop(s);
}

/* A server asking (Retry-After) for longer than backoff_max_s gets no retry: its 429 is returned. */
static void test_retry_after_above_cap_not_retried(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .status = 429, .headers = "Retry-After: 10\r\n", .body = "{\"e\":1}" });
    fake_push(s, &(fake_reply){ .body = "{}" });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    assert_true(lk_now() - t0 < 1.0);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.attempts, 1);
    assert_true(r.retry_after_s == 10);
    assert_string_equal(r.body.data, "{\"e\":1}");
    http_response_free(&r);
    fake_stop(s);
}

/* Backoff without Retry-After stays within base * 2^k per retry (full jitter never exceeds it). */
static void test_backoff_bounded_by_exponential_caps(void **state) {
    (void)state;
    fake_server *s = start();
    for (int i = 0; i < 3; i++) fake_push(s, &(fake_reply){ .status = 502, .body = "{}" });
    fake_push(s, &(fake_reply){ .body = "{}" });
    http_opts o = quick_opts();
    o.backoff_base_s = 0.05; /* waits of at most 0.05 + 0.1 + 0.2 s */
    http_response r;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    double took = lk_now() - t0;
    assert_int_equal(r.attempts, 4);
    assert_int_equal(r.status, 200);
    if (took > 0.35 + 0.4) fail_msg("took %.3f s, more than the backoff caps allow", took);
    http_response_free(&r);
    fake_stop(s);
}

/* ---- network errors ---- */

/* A refused connection is retried max_attempts times, then LK_EIO naming the URL. */
static void test_connection_refused_after_attempts(void **state) {
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", closed_port());
    http_opts o = quick_opts();
    o.max_attempts = 3;
    http_response r;
    lk_error err = {0};
    assert_int_equal(post(url, &o, NULL, NULL, &r, &err), LK_EIO);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.status, 0);
    char want[200];
    snprintf(want, sizeof want, "POST %s: connection refused (after 3 attempts)", url);
    assert_string_equal(err.msg, want);
    http_response_free(&r);
}

/* A server that accepts but sends nothing for read_timeout_s is a timeout error. */
static void test_slow_first_byte_is_read_timeout(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = "{}", .first_byte_delay_s = 2 });
    http_opts o = quick_opts();
    o.read_timeout_s = 0.3;
    o.max_attempts = 1;
    http_response r;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_EIO);
    double took = lk_now() - t0;
    assert_non_null(strstr(err.msg, "read timeout"));
    assert_non_null(strstr(err.msg, url_of(s, "/v1/x")));
    if (took < 0.3 || took > 1.0) fail_msg("took %.3f s, expected about 0.3 s", took);
    http_response_free(&r);
    fake_stop(s);
}

/* A read timeout before anything was passed on is retried like any network error. (The server
 * answers one connection at a time, so the retry is accepted once the first delay is over.) */
static void test_read_timeout_before_data_is_retried(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = "{}", .first_byte_delay_s = 0.3 });
    fake_push(s, &(fake_reply){ .body = "{\"second\":1}" });
    http_opts o = quick_opts();
    o.read_timeout_s = 0.25;
    http_response r;
    lk_error err = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.body.data, "{\"second\":1}");
    http_response_free(&r);
    fake_stop(s);
}

/* The deadline bounds the whole call, whatever the read timeout. */
static void test_deadline_bounds_the_call(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = "{}", .first_byte_delay_s = 3 });
    http_opts o = quick_opts();
    o.deadline_s = 0.4;
    http_response r;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_EIO);
    assert_true(lk_now() - t0 < 1.0);
    assert_non_null(strstr(err.msg, "deadline"));
    http_response_free(&r);
    fake_stop(s);
}

/* A streamed 2xx body cut mid-way is an error; the bytes before the cut were delivered, and
 * it is not retried (with Content-Length and with chunked encoding). */
static void test_stream_cut_is_error_without_retry(void **state) {
    (void)state;
    for (int chunked = 0; chunked <= 1; chunked++) {
        fake_server *s = start();
        fake_push(s, &(fake_reply){ .body = stream_body, .split = 5, .cut_after = 42, .chunked = chunked,
                                    .piece_delay_s = 0.002 });
        fake_push(s, &(fake_reply){ .body = stream_body });
        http_opts o = quick_opts();
        http_response r;
        lk_error err = {0};
        sink k = {0};
        assert_int_equal(post(url_of(s, "/v1/x"), &o, on_data, &k, &r, &err), LK_EIO);
        assert_int_equal(r.attempts, 1);
        assert_int_equal(fake_count(s), 1);
        assert_true(r.streamed);
        assert_int_equal(k.data.len, 42);
        assert_memory_equal(k.data.data, stream_body, 42);
        assert_non_null(strstr(err.msg, "not retried"));
        lk_buf_free(&k.data);
        http_response_free(&r);
        fake_stop(s);
    }
}

/* A stream that stalls after its first bytes times out and is not retried. */
static void test_stream_stall_is_read_timeout_without_retry(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = stream_body, .split = 20, .piece_delay_s = 0.6 });
    fake_push(s, &(fake_reply){ .body = stream_body });
    http_opts o = quick_opts();
    o.read_timeout_s = 0.2;
    http_response r;
    lk_error err = {0};
    sink k = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, on_data, &k, &r, &err), LK_EIO);
    assert_non_null(strstr(err.msg, "read timeout"));
    assert_int_equal(r.attempts, 1);
    assert_int_equal(k.data.len, 20);
    lk_buf_free(&k.data);
    http_response_free(&r);
    fake_stop(s);
}

/* A cut while collecting (nothing passed on yet) is retried. */
static void test_collected_cut_is_retried(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = stream_body, .cut_after = 10 });
    fake_push(s, &(fake_reply){ .body = stream_body });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_OK);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.body.data, stream_body);
    http_response_free(&r);
    fake_stop(s);
}

/* ---- cancellation ---- */

/* A data callback returning false stops the transfer: LK_ECANCELLED, no more calls. */
static void test_data_callback_false_cancels(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = stream_body, .split = 10, .piece_delay_s = 0.01 });
    http_opts o = quick_opts();
    http_response r;
    lk_error err = {0};
    sink k = { .refuse_at_call = 1 };
    assert_int_equal(post(url_of(s, "/v1/x"), &o, on_data, &k, &r, &err), LK_ECANCELLED);
    assert_non_null(strstr(err.msg, "cancelled"));
    assert_int_equal(k.calls, 1);
    assert_int_equal(r.attempts, 1);
    lk_buf_free(&k.data);
    http_response_free(&r);
    fake_stop(s);
}

/* The cancel flag set from the data callback stops the transfer before the next delivery. */
static void test_cancel_flag_from_callback_stops(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = stream_body, .split = 10, .piece_delay_s = 0.01 });
    volatile int cancel = 0;
    http_opts o = quick_opts();
    o.cancel = &cancel;
    http_response r;
    lk_error err = {0};
    sink k = { .cancel_at_first = &cancel };
    assert_int_equal(post(url_of(s, "/v1/x"), &o, on_data, &k, &r, &err), LK_ECANCELLED);
    assert_non_null(strstr(err.msg, "cancelled"));
    assert_int_equal(k.calls, 1);
    lk_buf_free(&k.data);
    http_response_free(&r);
    fake_stop(s);
}

/* The cancel flag set from another thread is noticed while waiting for a slow first byte. */
static void test_cancel_flag_from_thread_while_waiting(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .body = "{}", .first_byte_delay_s = 3 });
    volatile int cancel = 0;
    canceller c = { &cancel, 0.2, 0 };
    pthread_create(&c.thread, NULL, cancel_later, &c);
    http_opts o = quick_opts();
    o.cancel = &cancel;
    http_response r;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_ECANCELLED);
    double took = lk_now() - t0;
    pthread_join(c.thread, NULL);
    assert_non_null(strstr(err.msg, "cancelled"));
    if (took > 0.5) fail_msg("cancel noticed after %.3f s", took);
    http_response_free(&r);
    fake_stop(s);
}

/* The cancel flag is noticed during the wait before a retry. */
static void test_cancel_flag_during_backoff(void **state) {
    (void)state;
    fake_server *s = start();
    fake_push(s, &(fake_reply){ .status = 429, .headers = "Retry-After: 2\r\n", .body = "{}" });
    volatile int cancel = 0;
    canceller c = { &cancel, 0.2, 0 };
    pthread_create(&c.thread, NULL, cancel_later, &c);
    http_opts o = quick_opts();
    o.cancel = &cancel;
    o.backoff_max_s = 5;
    http_response r;
    lk_error err = {0};
    double t0 = lk_now();
    assert_int_equal(post(url_of(s, "/v1/x"), &o, NULL, NULL, &r, &err), LK_ECANCELLED);
    double took = lk_now() - t0;
    pthread_join(c.thread, NULL);
    assert_non_null(strstr(err.msg, "cancelled"));
    assert_int_equal(fake_count(s), 1);
    if (took > 0.6) fail_msg("cancel noticed after %.3f s", took);
    http_response_free(&r);
    fake_stop(s);
}

/* ---- secrets ---- */

/* Header values, URL userinfo and the query never appear in an error message. */
static void test_secrets_not_in_error_messages(void **state) {
    (void)state;
    char url[200];
    int port = closed_port();
    snprintf(url, sizeof url, "http://user:pw-SECRET1@127.0.0.1:%d/v1/messages?key=SECRET2", port);
    const char *hdrs[] = { "Authorization: Bearer sk-SECRET3", "x-api-key: SECRET4" };
    http_request req = { "POST", url, hdrs, 2, "{}", 2 };
    http_opts o = quick_opts();
    o.max_attempts = 2;
    http_response r;
    lk_error err = {0};
    assert_int_equal(http_do(&req, &o, NULL, NULL, &r, &err), LK_EIO);
    assert_null(strstr(err.msg, "SECRET"));
    char want[100];
    snprintf(want, sizeof want, "POST http://127.0.0.1:%d/v1/messages: ", port);
    assert_non_null(strstr(err.msg, want));
    http_response_free(&r);

    fake_server *s = start(); /* and in a timeout message */
    fake_push(s, &(fake_reply){ .body = "{}", .first_byte_delay_s = 1 });
    req.url = url_of(s, "/v1/x");
    o.read_timeout_s = 0.2;
    o.max_attempts = 1;
    assert_int_equal(http_do(&req, &o, NULL, NULL, &r, &err), LK_EIO);
    assert_null(strstr(err.msg, "SECRET"));
    char v[64];
    assert_string_equal(fake_header(s, 0, "authorization", v, sizeof v), "Bearer sk-SECRET3");
    http_response_free(&r);
    fake_stop(s);
}

/* ---- pure functions ---- */

/* Retry-After as delay-seconds: digits only. */
static void test_parse_retry_after_seconds(void **state) {
    (void)state;
    assert_true(http_parse_retry_after("0", 0) == 0);
    assert_true(http_parse_retry_after("1", 0) == 1);
    assert_true(http_parse_retry_after(" 120 ", 0) == 120);
    assert_true(http_parse_retry_after("1.5", 0) == -1);
    assert_true(http_parse_retry_after("-1", 0) == -1);
    assert_true(http_parse_retry_after("+3", 0) == -1);
    assert_true(http_parse_retry_after("", 0) == -1);
    assert_true(http_parse_retry_after(NULL, 0) == -1);
}

/* Retry-After as an HTTP date, relative to now (784111777 is Sun, 06 Nov 1994 08:49:37 GMT);
 * a date in the past means now. */
static void test_parse_retry_after_http_date(void **state) {
    (void)state;
    const double now = 784111777;
    assert_true(http_parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now) == 10);
    assert_true(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 0);
    assert_true(http_parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now) == 0);
    assert_true(http_parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now) == 86400);
    assert_true(http_parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", 0) == 0);
    assert_true(http_parse_retry_after("Thu, 29 Feb 2024 12:00:00 GMT", 1709208000 - 5) == 5);
    /* the obsolete forms a recipient must accept */
    assert_true(http_parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now) == 10);
    assert_true(http_parse_retry_after("Sun Nov  6 08:49:47 1994", now) == 10);
}

/* Anything else is -1. */
static void test_parse_retry_after_garbage(void **state) {
    (void)state;
    const char *bad[] = {
        "soon", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 PST",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Wed, 29 Feb 2023 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT x", "1 2", "Sun",
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(bad); i++)
        if (http_parse_retry_after(bad[i], 784111777) != -1) fail_msg("\"%s\" was accepted", bad[i]);
}

/* 408, 409, 429 and 5xx are retried; nothing else. */
static void test_status_retryable(void **state) {
    (void)state;
    const long yes[] = { 408, 409, 429, 500, 502, 503, 504, 529, 599 };
    const long no[] = { 200, 201, 301, 400, 401, 403, 404, 413, 422, 600 };
    for (size_t i = 0; i < LK_ARRAY_LEN(yes); i++) assert_true(http_status_retryable(yes[i]));
    for (size_t i = 0; i < LK_ARRAY_LEN(no); i++) assert_false(http_status_retryable(no[i]));
}

int main(void) {
    /* a proxy from the environment must not stand between us and 127.0.0.1 */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_arrives_as_sent),
        cmocka_unit_test(test_chunked_request_body_arrives),
        cmocka_unit_test(test_get_has_no_body),
        cmocka_unit_test(test_collects_body_and_content_type),
        cmocka_unit_test(test_stream_one_byte_pieces_arrive_in_order),
        cmocka_unit_test(test_stream_random_chunked_pieces_arrive_in_order),
        cmocka_unit_test(test_429_retry_after_waits_then_succeeds),
        cmocka_unit_test(test_retry_after_ms_honoured),
        cmocka_unit_test(test_500_then_200_succeeds),
        cmocka_unit_test(test_503_exhausts_attempts_and_returns_status),
        cmocka_unit_test(test_400_not_retried),
        cmocka_unit_test(test_error_body_collected_not_streamed),
        cmocka_unit_test(test_retry_after_above_cap_not_retried),
        cmocka_unit_test(test_backoff_bounded_by_exponential_caps),
        cmocka_unit_test(test_connection_refused_after_attempts),
        cmocka_unit_test(test_slow_first_byte_is_read_timeout),
        cmocka_unit_test(test_read_timeout_before_data_is_retried),
        cmocka_unit_test(test_deadline_bounds_the_call),
        cmocka_unit_test(test_stream_cut_is_error_without_retry),
        cmocka_unit_test(test_stream_stall_is_read_timeout_without_retry),
        cmocka_unit_test(test_collected_cut_is_retried),
        cmocka_unit_test(test_data_callback_false_cancels),
        cmocka_unit_test(test_cancel_flag_from_callback_stops),
        cmocka_unit_test(test_cancel_flag_from_thread_while_waiting),
        cmocka_unit_test(test_cancel_flag_during_backoff),
        cmocka_unit_test(test_secrets_not_in_error_messages),
        cmocka_unit_test(test_parse_retry_after_seconds),
        cmocka_unit_test(test_parse_retry_after_http_date),
        cmocka_unit_test(test_parse_retry_after_garbage),
        cmocka_unit_test(test_status_retryable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

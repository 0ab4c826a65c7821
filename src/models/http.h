/* http.h — HTTP requests for the API backends, on libcurl.
 *
 * One call, http_do(), sends a request and either collects the body or streams it through a
 * callback, with the retry policy API clients need: connect and read (no-byte) timeouts, an
 * overall deadline, and retries with exponential backoff and full jitter on 408, 409, 429, 5xx
 * and network errors, honouring Retry-After (seconds or an HTTP date) up to a cap on attempts.
 * A retry happens only while nothing has been passed to the data callback: once a 2xx body has
 * started streaming, a cut is an error for the caller (who keeps what arrived). Cancellation
 * through a flag the caller may set from another thread, or by returning false from the data
 * callback. Header values (API keys) are never logged or put in error messages. */
#ifndef LK_HTTP_H
#define LK_HTTP_H

#include "llmkit.h"
#include "base/base.h"

typedef struct http_opts {
    double connect_timeout_s;      /* 0: 10 s */
    double read_timeout_s;         /* no byte received for this long: error (0: 120 s) */
    double deadline_s;             /* whole call, retries and waits included (0: 600 s) */
    int max_attempts;              /* attempts in all, the first included (0: 4; 1: no retry) */
    double backoff_base_s;         /* first retry waits up to this (0: 0.5 s), doubling each time */
    double backoff_max_s;          /* cap on one wait, Retry-After included (0: 30 s); a server
                                      asking for longer gets no retry: its status is returned */
    const volatile int *cancel;    /* nonzero: stop at once (LK_ECANCELLED), may be NULL */
} http_opts;

typedef struct http_request {
    const char *method;            /* "GET" or "POST" */
    const char *url;
    const char *const *headers;    /* "Name: value" lines */
    size_t n_headers;
    const char *body;              /* may be NULL */
    size_t body_len;
} http_request;

typedef struct http_response {
    long status;                   /* final HTTP status; 0 when no response came */
    lk_buf body;                   /* the body, unless it was streamed to the callback (a non-2xx
                                      body is always collected here) */
    int attempts;                  /* attempts made */
    double retry_after_s;          /* the last Retry-After seen, -1 if none */
    char content_type[128];        /* Content-Type of the final response ("" if none) */
    bool streamed;                 /* bytes were passed to the data callback */
} http_response;

/* Receives body bytes of a 2xx response as they arrive; return false to cancel. */
typedef bool (*http_data_cb)(const char *data, size_t len, void *ud);

/* Send req. With on_data NULL the 2xx body is collected in out->body; otherwise 2xx bytes go to
 * on_data as they arrive. Returns 0 when a response with any status arrived (check
 * out->status: non-2xx after the retries are used up, or not retryable, is the caller's to turn
 * into an error with the provider's message), or LK_EIO for a network error or a timeout,
 * LK_ECANCELLED for a cancel (flag or callback), with a message naming the URL (without userinfo
 * or query; never its headers) and what happened. Free out with http_response_free() either
 * way. */
int http_do(const http_request *req, const http_opts *opts, http_data_cb on_data, void *ud,
            http_response *out, lk_error *err);
void http_response_free(http_response *r);

/* Whether a status is retried: 408, 409, 429 and 5xx. */
bool http_status_retryable(long status);

/* Parse a Retry-After value (delta seconds, or an HTTP date relative to now_unix: IMF-fixdate,
 * or the obsolete RFC 850 and asctime forms; a date in the past gives 0). Returns seconds
 * (>= 0), or -1 when it is neither. (http_do also honours OpenAI's "retry-after-ms".) */
double http_parse_retry_after(const char *value, double now_unix);

#endif

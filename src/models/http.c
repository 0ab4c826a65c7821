/* http.c — http_do() of http.h: one HTTP request with the retry policy API clients need.
 *
 * Each call makes one libcurl easy handle (and a multi handle to drive it) and keeps them for
 * its attempts, so that a retry may reuse the connection. The transfer is driven here, waking at
 * least every 50 ms, so that the read timeout (no byte either way for read_timeout_s, counted
 * from the moment the connection is up, a slow first byte included), the overall deadline and
 * the caller's cancel flag are noticed at once, not at libcurl's once-a-second progress pace.
 * Between attempts the wait is full-jitter exponential backoff, or what Retry-After asks for,
 * slept in short steps that watch the cancel flag. Messages name the method and the URL without
 * userinfo or query (where keys sometimes travel), never a header. */
#include "models/http.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

enum { POLL_MS = 50 };
#define ERROR_BODY_MAX ((size_t)1 << 20) /* bytes of a non-2xx body kept for the caller */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

bool http_status_retryable(long status) {
    return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

/* ---- Retry-After ---- */

static const char *const month_names[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const day_names[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* Exactly n digits at *p, advancing it; -1 if not. */
static int take_digits(const char **p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

static bool take_lit(const char **p, const char *lit) {
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0) return false;
    *p += n;
    return true;
}

static int take_month(const char **p) {
    for (int i = 0; i < 12; i++)
        if (take_lit(p, month_names[i])) return i + 1;
    return -1;
}

/* "HH:MM:SS" into seconds of the day, or -1. */
static int take_time(const char **p) {
    int h = take_digits(p, 2);
    if (h < 0 || h > 23 || !take_lit(p, ":")) return -1;
    int mi = take_digits(p, 2);
    if (mi < 0 || mi > 59 || !take_lit(p, ":")) return -1;
    int s = take_digits(p, 2);
    if (s < 0 || s > 60) return -1; /* 60: a leap second */
    return h * 3600 + mi * 60 + s;
}

static bool valid_day(int y, int m, int d) {
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

/* An HTTP-date (RFC 9110 5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", or the obsolete
 * RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994" forms that
 * recipients must also accept. Returns Unix seconds, or -1. */
static double parse_http_date(const char *s) {
    const char *p = s;
    int y, m, d, secs;
    int wd = -1;
    for (int i = 0; i < 7 && wd < 0; i++)
        if (strncmp(p, day_names[i], 3) == 0) wd = i;
    if (wd < 0) return -1;
    p += 3;
    if (take_lit(&p, ", ")) { /* IMF-fixdate */
        if ((d = take_digits(&p, 2)) < 0 || !take_lit(&p, " ") || (m = take_month(&p)) < 0 ||
            !take_lit(&p, " ") || (y = take_digits(&p, 4)) < 0 || !take_lit(&p, " ") ||
            (secs = take_time(&p)) < 0 || !take_lit(&p, " GMT"))
            return -1;
    } else if (take_lit(&p, " ")) { /* asctime: day of month padded with a space */
        if ((m = take_month(&p)) < 0 || !take_lit(&p, " ")) return -1;
        bool one_digit = take_lit(&p, " ");
        d = take_digits(&p, one_digit ? 1 : 2);
        if (d < 0 || !take_lit(&p, " ") || (secs = take_time(&p)) < 0 || !take_lit(&p, " ") ||
            (y = take_digits(&p, 4)) < 0)
            return -1;
    } else { /* RFC 850: the full day name, two-digit year */
        static const char *const rest[7] = { "day", "sday", "nesday", "rsday", "day", "urday", "day" };
        if (!take_lit(&p, rest[wd]) || !take_lit(&p, ", ") || (d = take_digits(&p, 2)) < 0 ||
            !take_lit(&p, "-") || (m = take_month(&p)) < 0 || !take_lit(&p, "-") ||
            (y = take_digits(&p, 2)) < 0 || !take_lit(&p, " ") || (secs = take_time(&p)) < 0 ||
            !take_lit(&p, " GMT"))
            return -1;
        y += y < 70 ? 2000 : 1900; /* RFC 9110: a year more than 50 years ahead is in the past */
    }
    if (*p != 0 || !valid_day(y, m, d)) return -1;
    return (double)days_from_civil(y, (unsigned)m, (unsigned)d) * 86400.0 + secs;
}

double http_parse_retry_after(const char *value, double now_unix) {
    if (!value) return -1;
    while (*value == ' ' || *value == '\t') value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t')) n--;
    if (n == 0 || n > 64) return -1;
    char v[65];
    memcpy(v, value, n);
    v[n] = 0;

    if (isdigit((unsigned char)v[0])) { /* delay-seconds = 1*DIGIT */
        double secs = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)v[i])) return -1;
            secs = secs * 10 + (v[i] - '0');
        }
        return secs;
    }
    double when = parse_http_date(v);
    if (when < 0) return -1;
    return when > now_unix ? when - now_unix : 0;
}

/* ---- one transfer ---- */

enum stop_reason { STOP_NONE, STOP_CANCEL, STOP_READ_TIMEOUT, STOP_DEADLINE };

typedef struct xfer {
    CURL *easy;
    http_response *out;
    http_data_cb on_data;
    void *ud;
    const volatile int *cancel;
    long status;                   /* of this attempt, known once the body starts */
    bool connected;                /* the connection is up: the read timeout runs */
    bool cancelled;                /* on_data returned false, or the flag was seen */
    double last_activity;          /* lk_now() of the last byte either way */
    curl_off_t uploaded;
    uint64_t body_bytes;           /* body bytes of this attempt */
    double retry_after;            /* this attempt's Retry-After (seconds), -1 if none */
    char content_type[128];
} xfer;

/* The caller's flag, read atomically (it is set from another thread; a setter that also uses
 * __atomic_store_n keeps race detectors quiet). */
static bool cancel_set(const volatile int *cancel) {
    return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0;
}

#if LIBCURL_VERSION_NUM >= 0x075000 /* CURLOPT_PREREQFUNCTION: 7.80.0 */
static int on_connected(void *ud, char *ip, char *local_ip, int port, int local_port) {
    xfer *x = ud;
    x->connected = true;
    x->last_activity = lk_now();
    return CURL_PREREQFUNC_OK;
}
#endif

/* Trimmed value of header line if its name is name (case-insensitive), copied to out. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0) return false;
    const char *v = line + nl + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t n = LK_MIN((size_t)(end - v), cap - 1);
    memcpy(out, v, n);
    out[n] = 0;
    return true;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
    xfer *x = ud;
    size_t len = size * nitems;
    x->last_activity = lk_now();
    x->connected = true;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) { /* a new response (after a 1xx, say) */
        x->content_type[0] = 0;
        x->retry_after = -1;
        return len;
    }
    char v[128];
    if (header_value(buf, len, "content-type", v, sizeof v)) {
        snprintf(x->content_type, sizeof x->content_type, "%s", v);
    } else if (header_value(buf, len, "retry-after-ms", v, sizeof v)) { /* OpenAI's, finer */
        double ms;
        if (lk_parse_f64(v, &ms) == 0 && ms >= 0) x->retry_after = ms / 1000.0;
    } else if (header_value(buf, len, "retry-after", v, sizeof v)) {
        double s = http_parse_retry_after(v, (double)time(NULL));
        if (s >= 0 && x->retry_after < 0) x->retry_after = s;
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud) {
    xfer *x = ud;
    size_t len = size * nmemb;
    x->last_activity = lk_now();
    if (cancel_set(x->cancel)) {
        x->cancelled = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    x->body_bytes += len;
    if (x->status == 0) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    bool ok = x->status >= 200 && x->status <= 299;
    if (ok && x->on_data) {
        x->out->streamed = true;
        if (!x->on_data(buf, len, x->ud)) {
            x->cancelled = true;
            return 0;
        }
    } else if (ok) {
        lk_buf_append(&x->out->body, buf, len);
    } else if (x->out->body.len < ERROR_BODY_MAX) {
        lk_buf_append(&x->out->body, buf, LK_MIN(len, ERROR_BODY_MAX - x->out->body.len));
    }
    return len;
}

typedef struct handle {
    CURL *easy;
    CURLM *multi;
    xfer *x;
} handle;

/* Run one attempt to its end or until it must stop; returns why it stopped early (STOP_NONE
 * when libcurl finished it) and libcurl's result in *res. */
static int run_attempt(handle *hd, const http_opts *o, double deadline, CURLcode *res) {
    xfer *x = hd->x;
    *res = CURLE_OK;
    int stop = STOP_NONE;
    if (curl_multi_add_handle(hd->multi, hd->easy) != CURLM_OK) {
        *res = CURLE_FAILED_INIT;
        return STOP_NONE;
    }
    for (;;) {
        int running = 0;
        if (curl_multi_perform(hd->multi, &running) != CURLM_OK) {
            *res = CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            int left;
            CURLMsg *msg;
            while ((msg = curl_multi_info_read(hd->multi, &left)))
                if (msg->msg == CURLMSG_DONE) *res = msg->data.result;
            if (x->cancelled) stop = STOP_CANCEL;
            break;
        }
        double now = lk_now();
        if (x->cancelled || cancel_set(o->cancel)) {
            stop = STOP_CANCEL;
            break;
        }
        if (now >= deadline) {
            stop = STOP_DEADLINE;
            break;
        }
        curl_off_t up = 0;
        if (curl_easy_getinfo(hd->easy, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up != x->uploaded) {
            x->uploaded = up;
            x->last_activity = now;
        }
        if (x->connected && now - x->last_activity >= o->read_timeout_s) {
            stop = STOP_READ_TIMEOUT;
            break;
        }
        int wait_ms = POLL_MS;
        if ((deadline - now) * 1000 < wait_ms) wait_ms = (int)((deadline - now) * 1000) + 1;
        curl_multi_poll(hd->multi, NULL, 0, wait_ms, NULL);
    }
    curl_multi_remove_handle(hd->multi, hd->easy);
    return stop;
}

/* ---- the call ---- */

/* Network errors worth another attempt: the connection failed, broke or went quiet. */
static bool curl_retryable(CURLcode res) {
    switch (res) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* What went wrong with one attempt, in words. */
static void describe(char *buf, size_t cap, CURLcode res, CURL *easy, const char *errbuf,
                     const xfer *x, const http_opts *o) {
    long os_errno = 0;
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(res);
    switch (res) {
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED) snprintf(buf, cap, "connection refused");
        else snprintf(buf, cap, "cannot connect: %s", detail);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (!x->connected) snprintf(buf, cap, "connect timeout: no connection within %g s", o->connect_timeout_s);
        else snprintf(buf, cap, "timed out: %s", detail);
        break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        if (os_errno == ECONNRESET) snprintf(buf, cap, "connection reset by peer");
        else snprintf(buf, cap, "%s", detail);
        break;
    case CURLE_PARTIAL_FILE:
        snprintf(buf, cap, "connection closed mid-body (%s)", detail);
        break;
    case CURLE_GOT_NOTHING:
        snprintf(buf, cap, "connection closed without a response");
        break;
    default:
        snprintf(buf, cap, "%s", detail);
        break;
    }
}

/* url without userinfo, query or fragment, for messages and logs. */
static void url_for_messages(const char *url, char *out, size_t cap) {
    const char *scheme_end = strstr(url, "://");
    const char *auth = scheme_end ? scheme_end + 3 : url;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + auth_len; p++)
        if (*p == '@') at = p;
    size_t rest_len = strcspn(auth, "?#");
    if (at) snprintf(out, cap, "%.*s%.*s", (int)(auth - url), url, (int)(auth + rest_len - at - 1), at + 1);
    else snprintf(out, cap, "%.*s", (int)(auth + rest_len - url), url);
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Full jitter: uniform in [0, min(max, base * 2^(retry-1))]. */
static double backoff(const http_opts *o, int retry, uint64_t *rng) {
    double cap = o->backoff_base_s * ldexp(1.0, LK_MIN(retry - 1, 60));
    if (cap > o->backoff_max_s) cap = o->backoff_max_s;
    return cap * (double)(splitmix64(rng) >> 11) * 0x1.0p-53;
}

/* Sleep secs in short steps; false if cancelled meanwhile. */
static bool sleep_watching(double secs, const volatile int *cancel) {
    double until = lk_now() + secs;
    for (;;) {
        if (cancel_set(cancel)) return false;
        double left = until - lk_now();
        if (left <= 0) return true;
        if (left > 0.02) left = 0.02;
        struct timespec ts = { 0, (long)(left * 1e9) };
        nanosleep(&ts, NULL);
    }
}

static const char *plural(int n) { return n == 1 ? "" : "s"; }

static void set_defaults(http_opts *o, const http_opts *given) {
    if (given) *o = *given;
    else memset(o, 0, sizeof *o);
    if (o->connect_timeout_s <= 0) o->connect_timeout_s = 10;
    if (o->read_timeout_s <= 0) o->read_timeout_s = 120;
    if (o->deadline_s <= 0) o->deadline_s = 600;
    if (o->max_attempts <= 0) o->max_attempts = 4;
    if (o->backoff_base_s <= 0) o->backoff_base_s = 0.5;
    if (o->backoff_max_s <= 0) o->backoff_max_s = 30;
}

static int setup(CURL *h, const http_request *req, struct curl_slist **hdrs, xfer *x,
                 char *errbuf, const char *method, const char *shown, lk_error *err) {
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *n = curl_slist_append(*hdrs, req->headers[i]);
        if (!n) return lk_errorf(err, LK_ENOMEM, "%s %s: out of memory for headers", method, shown);
        *hdrs = n;
    }
    struct curl_slist *n = curl_slist_append(*hdrs, "Expect:"); /* no 100-continue wait */
    if (!n) return lk_errorf(err, LK_ENOMEM, "%s %s: out of memory for headers", method, shown);
    *hdrs = n;

    CURLcode c = CURLE_OK;
#define SET(opt, val) if (c == CURLE_OK) c = curl_easy_setopt(h, opt, val)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_HTTPHEADER, *hdrs);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_USERAGENT, "llmkit/" LK_VERSION);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
#if LIBCURL_VERSION_NUM >= 0x075000
    SET(CURLOPT_PREREQFUNCTION, on_connected);
    SET(CURLOPT_PREREQDATA, x);
#endif
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (strcmp(method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0) SET(CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "POST") == 0 || req->body) {
            SET(CURLOPT_POST, 1L);
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
            SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
#undef SET
    if (c != CURLE_OK)
        return lk_errorf(err, LK_EIO, "%s %s: %s", method, shown, curl_easy_strerror(c));
    return LK_OK;
}

int http_do(const http_request *req, const http_opts *given, http_data_cb on_data, void *ud,
            http_response *out, lk_error *err) {
    memset(out, 0, sizeof *out);
    out->retry_after_s = -1;
    if (!req || !req->url || !req->method)
        return lk_errorf(err, LK_EINVAL, "http: a request needs a method and a URL");
    const char *method = req->method;
    char shown[512];
    url_for_messages(req->url, shown, sizeof shown);

    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return lk_errorf(err, LK_EIO, "%s %s: libcurl: %s", method, shown, curl_easy_strerror(curl_init_rc));

    http_opts o;
    set_defaults(&o, given);
    double deadline = lk_now() + o.deadline_s;
    static atomic_uint_fast64_t calls;
    uint64_t rng = (uint64_t)(lk_now() * 1e9) ^ ((uint64_t)atomic_fetch_add(&calls, 1) << 40) ^
                   (uint64_t)(uintptr_t)out;

    xfer x = { .out = out, .on_data = on_data, .ud = ud, .cancel = o.cancel };
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *hdrs = NULL;
    handle hd = { curl_easy_init(), curl_multi_init(), &x };
    int rc = LK_OK;
    x.easy = hd.easy;
    if (!hd.easy || !hd.multi) {
        rc = lk_errorf(err, LK_ENOMEM, "%s %s: cannot make a libcurl handle", method, shown);
        goto done;
    }
    if ((rc = setup(hd.easy, req, &hdrs, &x, errbuf, method, shown, err)) != LK_OK) goto done;

    for (int attempt = 1;; attempt++) {
        if (cancel_set(o.cancel)) {
            rc = lk_errorf(err, LK_ECANCELLED, "%s %s: cancelled", method, shown);
            break;
        }
        out->attempts = attempt;
        out->status = 0;
        out->content_type[0] = 0;
        lk_buf_clear(&out->body);
        x.status = 0;
        x.connected = LIBCURL_VERSION_NUM < 0x075000; /* without the hook: from the start */
        x.cancelled = false;
        x.last_activity = lk_now();
        x.uploaded = 0;
        x.body_bytes = 0;
        x.retry_after = -1;
        x.content_type[0] = 0;
        errbuf[0] = 0;

        double left = deadline - lk_now();
        long left_ms = left > 0 ? (long)(left * 1000) + 1 : 1;
        curl_easy_setopt(hd.easy, CURLOPT_CONNECTTIMEOUT_MS, LK_MIN((long)(o.connect_timeout_s * 1000) + 1, left_ms));
        curl_easy_setopt(hd.easy, CURLOPT_TIMEOUT_MS, left_ms + 1000); /* a backstop; see run_attempt */

        CURLcode res;
        int stop = run_attempt(&hd, &o, deadline, &res);
        curl_easy_getinfo(hd.easy, CURLINFO_RESPONSE_CODE, &out->status);
        snprintf(out->content_type, sizeof out->content_type, "%s", x.content_type);
        if (x.retry_after >= 0) out->retry_after_s = x.retry_after;

        if (stop == STOP_CANCEL) {
            rc = lk_errorf(err, LK_ECANCELLED, "%s %s: cancelled", method, shown);
            break;
        }
        if (stop == STOP_DEADLINE) {
            rc = lk_errorf(err, LK_EIO, "%s %s: deadline of %g s passed (after %d attempt%s)",
                           method, shown, o.deadline_s, attempt, plural(attempt));
            break;
        }

        char reason[CURL_ERROR_SIZE + 64];
        double wait;
        if (stop == STOP_READ_TIMEOUT || res != CURLE_OK) {
            if (stop == STOP_READ_TIMEOUT)
                snprintf(reason, sizeof reason, "read timeout: no data for %g s", o.read_timeout_s);
            else
                describe(reason, sizeof reason, res, hd.easy, errbuf, &x, &o);
            if (out->streamed) {
                rc = lk_errorf(err, LK_EIO, "%s %s: %s, after %" PRIu64 " bytes of the response "
                               "body had been passed on (not retried)", method, shown, reason, x.body_bytes);
                break;
            }
            if ((stop != STOP_READ_TIMEOUT && !curl_retryable(res)) || attempt >= o.max_attempts) {
                rc = lk_errorf(err, LK_EIO, "%s %s: %s (after %d attempt%s)", method, shown, reason,
                               attempt, plural(attempt));
                break;
            }
            wait = backoff(&o, attempt, &rng);
            if (lk_now() + wait >= deadline) {
                rc = lk_errorf(err, LK_EIO, "%s %s: %s (after %d attempt%s; the deadline of %g s "
                               "leaves no time for another)", method, shown, reason, attempt,
                               plural(attempt), o.deadline_s);
                break;
            }
            out->status = 0;
        } else {
            long st = out->status;
            if ((st >= 200 && st <= 299) || !http_status_retryable(st) || attempt >= o.max_attempts)
                break;
            if (x.retry_after >= 0) {
                wait = x.retry_after;
                if (wait > o.backoff_max_s || lk_now() + wait >= deadline) {
                    lk_log(LK_LOG_INFO, "%s %s: status %ld asks to retry after %g s, more than "
                           "allowed; not retried", method, shown, st, wait);
                    break;
                }
            } else {
                wait = backoff(&o, attempt, &rng);
                if (lk_now() + wait >= deadline) break;
            }
            snprintf(reason, sizeof reason, "status %ld", st);
        }
        lk_log(LK_LOG_INFO, "%s %s: %s; retry %d of %d in %.2f s", method, shown, reason, attempt,
               o.max_attempts - 1, wait);
        if (!sleep_watching(wait, o.cancel)) {
            rc = lk_errorf(err, LK_ECANCELLED, "%s %s: cancelled", method, shown);
            break;
        }
    }

done:
    curl_slist_free_all(hdrs);
    if (hd.multi) curl_multi_cleanup(hd.multi);
    if (hd.easy) curl_easy_cleanup(hd.easy);
    return rc;
}

void http_response_free(http_response *r) {
    if (!r) return;
    lk_buf_free(&r->body);
}

/* server.c — the server object: models by name, the listening socket, libmicrohttpd's thread
 * per connection, routing, API keys, body and connection limits, generations in worker threads,
 * and the graceful stop.
 *
 * A request's life: on_request() sees the headers first (keys, Content-Length, stopping), then
 * the body piece by piece (at most max_body), then routes the whole JSON to openai.c or
 * anthropic.c. A chat is an srv_call: its lk_model_chat runs in a worker thread while the
 * connection's thread waits for the first text (or the end, or the client hanging up). Errors
 * before any text are ordinary HTTP errors; after that, a stream's bytes flow from the worker
 * through the call's buffer to MHD's content reader, which also watches the socket so that a
 * client that leaves cancels its generation at once (lk_request.cancel). */
#include "server/srv.h"
#include "base/json.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_SLICE_S 0.05         /* how often a waiting thread looks at the client's socket */

const char *srv_endpoint_name(int ep) {
    static const char *const names[SRV_EP_N] = { "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                                                 "/v1/models", "/v1/messages", "/health", "/metrics", "other" };
    return ep >= 0 && ep < SRV_EP_N ? names[ep] : "other";
}

/* ---- JSON helpers ---- */

json_t *srv_jstr(const char *s, size_t n) {
    return lk_json_str(s, n, true);
}

json_t *srv_jcstr(const char *s) {
    return srv_jstr(s, s ? strlen(s) : 0);
}

char *srv_dump(const json_t *j) {
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

const char *srv_json_type(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int srv_errf(srv_err *e, int status, const char *param, const char *fmt, ...) {
    memset(e, 0, sizeof *e);
    e->status = status;
    if (param) snprintf(e->param, sizeof e->param, "%s", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int srv_get_bool(json_t *o, const char *field, bool *out, srv_err *e) {
    json_t *v = json_object_get(o, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return srv_errf(e, 400, field, "%s: expected a boolean, got %s", field, srv_json_type(v));
    *out = json_is_true(v);
    return 0;
}

int srv_get_num(json_t *o, const char *field, double lo, double hi, float *out, srv_err *e) {
    json_t *v = json_object_get(o, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return srv_errf(e, 400, field, "%s: expected a number, got %s", field, srv_json_type(v));
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return srv_errf(e, 400, field, "%s: %g is out of range; expected %g to %g", field, x, lo, hi);
    *out = (float)x;
    return 0;
}

int srv_get_int(json_t *o, const char *field, long long lo, long long hi, long long *out, srv_err *e) {
    json_t *v = json_object_get(o, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return srv_errf(e, 400, field, "%s: expected an integer, got %s", field, srv_json_type(v));
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return srv_errf(e, 400, field, "%s: %lld is out of range; expected %lld to %lld", field, x, lo, hi);
    *out = x;
    return 0;
}

int srv_get_str(json_t *o, const char *field, const char **out, srv_err *e) {
    json_t *v = json_object_get(o, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return srv_errf(e, 400, field, "%s: expected a string, got %s", field, srv_json_type(v));
    *out = json_string_value(v);
    return 0;
}

const char *srv_keep(srv_strs *k, char *s) {
    k->v = lk_xrealloc(k->v, (k->n + 1) * sizeof *k->v);
    k->v[k->n++] = s;
    return s;
}

void srv_strs_free(srv_strs *k) {
    for (size_t i = 0; i < k->n; i++) free(k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}

/* ---- replies ---- */

static enum MHD_Result send_reply(srv_conn *c, int status, const char *ctype, const char *text, size_t len,
                                  int retry_after) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    if (__atomic_load_n(&c->s->stopping, __ATOMIC_RELAXED)) MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result rc = MHD_queue_response(c->mc, (unsigned)status, r);
    MHD_destroy_response(r);
    c->status = status;
    c->answered = true;
    return rc;
}

enum MHD_Result srv_reply_text(srv_conn *c, int status, const char *ctype, const char *text, size_t len) {
    return send_reply(c, status, ctype, text, len, 0);
}

enum MHD_Result srv_reply_json(srv_conn *c, int status, json_t *body) {
    char *t = srv_dump(body);
    json_decref(body);
    lk_buf b = {0};
    lk_buf_puts(&b, t ? t : "{}");
    lk_buf_putc(&b, '\n');
    free(t);
    enum MHD_Result rc = send_reply(c, status, "application/json", b.data, b.len, 0);
    lk_buf_free(&b);
    return rc;
}

static const char *openai_type(int status) {
    switch (status) {
    case 429: return "rate_limit_error";
    case 500: case 502: case 503: case 504: return "server_error";
    default: return "invalid_request_error";
    }
}

static const char *anthropic_type(int status) {
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    case 504: return "timeout_error";
    case 500: case 502: return "api_error";
    default: return "invalid_request_error";
    }
}

/* The error object of either API (also sent as a stream's error event). */
static json_t *error_json(int api, const srv_err *e) {
    if (api == SRV_ANTHROPIC)
        return json_pack("{s:s,s:{s:s,s:o}}", "type", "error", "error", "type",
                         e->type ? e->type : anthropic_type(e->status), "message", srv_jcstr(e->msg));
    return json_pack("{s:{s:o,s:s,s:o,s:o}}", "error", "message", srv_jcstr(e->msg), "type",
                     e->type ? e->type : openai_type(e->status), "param",
                     e->param[0] ? srv_jcstr(e->param) : json_null(), "code", e->code ? json_string(e->code) : json_null());
}

enum MHD_Result srv_reply_error(srv_conn *c, int api, const srv_err *e) {
    json_t *j = error_json(api, e);
    char *t = srv_dump(j);
    json_decref(j);
    lk_buf b = {0};
    lk_buf_puts(&b, t);
    lk_buf_putc(&b, '\n');
    enum MHD_Result rc = send_reply(c, e->status, "application/json", b.data, b.len, e->retry_after);
    free(t);
    lk_buf_free(&b);
    return rc;
}

/* ---- models and ids ---- */

srv_model *srv_find_model(srv_server *s, const char *name) {
    for (size_t i = 0; name && i < s->n_models; i++)
        if (strcmp(s->models[i].name, name) == 0) return &s->models[i];
    return NULL;
}

void srv_new_id(srv_server *s, const char *prefix, char *out, size_t cap) {
    uint64_t n = __atomic_add_fetch(&s->next_id, 1, __ATOMIC_RELAXED);
    uint64_t a = lk_mix64(s->id_salt ^ n), b = lk_mix64(a ^ 0x9e3779b97f4a7c15ULL);
    snprintf(out, cap, "%s%016llx%08llx", prefix, (unsigned long long)a, (unsigned long long)(b >> 32));
}

/* ---- generations ---- */

static void call_unlink(srv_call *c) {
    srv_server *s = c->s;
    pthread_mutex_lock(&s->mu);
    if (c->prev) c->prev->next = c->next;
    else if (s->calls == c) s->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&s->mu);
}

srv_call *srv_call_new(srv_conn *conn, srv_model *model, int api) {
    srv_call *c = lk_xcalloc(1, sizeof *c);
    c->s = conn->s;
    c->model = model;
    c->conn = conn;
    c->api = api;
    lk_request_init(&c->req);
    c->req.cancel = &c->cancel;
    c->req.strict = true;     /* a setting the model cannot honour is a 400, never dropped */
    c->req.timeout_s = conn->s->o.request_timeout_s;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci ? ci->connect_fd : -1;
    return c;
}

static bool on_token(const char *text, size_t len, void *ud) {
    srv_call *c = ud;
    pthread_mutex_lock(&c->mu);
    if (!c->first) {
        c->first = true;
        c->t_first = lk_now();
    }
    if (c->stream && len) c->ops->delta(c, text, len);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return !__atomic_load_n(&c->cancel, __ATOMIC_RELAXED);
}

static void *call_worker(void *arg) {
    srv_call *c = arg;
    int rc = lk_model_chat(c->model->m, &c->req, on_token, c, &c->res, &c->err);
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->done = true;
    if (c->stream) c->ops->end(c);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Whether the client has closed its end (or the socket broke). Pipelined bytes waiting to be
 * read are not a hang-up. */
static bool client_gone(int fd) {
    if (fd < 0) return false;
    struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP)) return true;
    if (p.revents & POLLIN) {
        char b;
        ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    return false;
}

/* Wait on the call's condition for a slice, then look at the client and the clock. Called with
 * c->mu held. */
static void call_wait_slice(srv_call *c) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)(WAIT_SLICE_S * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    if (c->done) return;
    if (!c->client_gone && client_gone(c->fd)) {
        c->client_gone = true;
        __atomic_store_n(&c->cancel, 1, __ATOMIC_RELAXED);
    }
    if (!c->timed_out && lk_now() > c->deadline) {
        c->timed_out = true;
        __atomic_store_n(&c->cancel, 1, __ATOMIC_RELAXED);
    }
}

/* Join the worker, count what the call did, free it. */
static void call_finish(srv_call *c) {
    __atomic_store_n(&c->cancel, 1, __ATOMIC_RELAXED); /* a no-op unless the client left */
    if (c->th_started) pthread_join(c->th, NULL);
    call_unlink(c);
    srv_model *m = c->model;
    __atomic_sub_fetch(&m->in_flight, 1, __ATOMIC_RELAXED);
    const lk_usage *u = &c->res.usage;
    __atomic_add_fetch(&m->prompt_tokens, (uint64_t)LK_MAX(u->prompt_tokens, 0), __ATOMIC_RELAXED);
    __atomic_add_fetch(&m->cached_tokens, (uint64_t)LK_MAX(u->cached_tokens, 0), __ATOMIC_RELAXED);
    __atomic_add_fetch(&m->generated_tokens, (uint64_t)LK_MAX(u->completion_tokens, 0), __ATOMIC_RELAXED);
    if (c->done && !c->rc) {
        double e2e = c->res.timings.total_s > 0 ? c->res.timings.total_s : lk_now() - c->t0;
        double ttft = c->first ? c->t_first - c->t0 : -1;
        double tpot = c->first && u->completion_tokens > 1 ? (e2e - ttft) / (double)(u->completion_tokens - 1) : -1;
        srv_metrics_generation(&c->s->metrics, ttft, tpot, e2e);
    }
    lk_response_free(&c->res);
    lk_buf_free(&c->out);
    if (c->free_state) c->free_state(c->state);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

void srv_call_free_unstarted(srv_call *c) {
    lk_buf_free(&c->out);
    if (c->free_state) c->free_state(c->state);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

void srv_sse(srv_call *c, const char *event, json_t *data) {
    char *t = srv_dump(data);
    json_decref(data);
    if (event) lk_buf_printf(&c->out, "event: %s\n", event);
    lk_buf_printf(&c->out, "data: %s\n\n", t ? t : "{}");
    free(t);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    srv_call *c = cls;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (c->out.len > c->out_off) {
            size_t n = LK_MIN(max, c->out.len - c->out_off);
            memcpy(buf, c->out.data + c->out_off, n);
            c->out_off += n;
            if (c->out_off == c->out.len) {
                lk_buf_clear(&c->out);
                c->out_off = 0;
            }
            pthread_mutex_unlock(&c->mu);
            return (ssize_t)n;
        }
        if (c->done) {
            pthread_mutex_unlock(&c->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (c->client_gone) {
            pthread_mutex_unlock(&c->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        call_wait_slice(c);
    }
}

static void stream_free(void *cls) {
    call_finish(cls);
}

void srv_call_error(const srv_call *c, srv_err *e) {
    const char *msg = c->err.msg[0] ? c->err.msg : lk_code_name(c->rc);
    const char *spec = lk_model_spec(c->model->m);
    size_t sl = strlen(spec);
    if (strncmp(msg, spec, sl) == 0 && msg[sl] == ':' && msg[sl + 1] == ' ') msg += sl + 2; /* no file paths */
    if (c->timed_out) {
        srv_errf(e, 504, NULL, "the request did not finish within the server's timeout of %g s",
                 c->s->o.request_timeout_s);
        e->code = "timeout";
        return;
    }
    switch (c->rc) {
    case LK_EINVAL:
        srv_errf(e, 400, NULL, "%s", msg);
        break;
    case LK_EUNSUPPORTED: {
        srv_errf(e, 400, NULL, "%s", msg);
        const char *h = strstr(msg, "cannot honour ");
        if (h) snprintf(e->param, sizeof e->param, "%s", h + 14);
        e->code = "unsupported_parameter";
        break;
    }
    case LK_ERANGE:
        if (strstr(msg, "queue full")) {
            srv_errf(e, 429, NULL, "the server is busy (%s); retry later", msg);
            e->code = "rate_limit_exceeded";
            e->retry_after = 1;
        } else {
            srv_errf(e, 400, "messages", "%s", msg);
            e->code = "context_length_exceeded";
        }
        break;
    case LK_EREMOTE:
        if (c->res.http_status == 429) {
            srv_errf(e, 429, NULL, "the upstream model is rate limited: %s", msg);
            e->code = "rate_limit_exceeded";
            e->retry_after = 1;
        } else {
            srv_errf(e, 502, NULL, "the upstream model failed: %s", msg);
        }
        break;
    case LK_EIO:
        srv_errf(e, strcmp(lk_model_backend(c->model->m), "local") == 0 ? 500 : 502, NULL, "%s", msg);
        break;
    default:
        srv_errf(e, 500, NULL, "%s", msg);
    }
}

enum MHD_Result srv_call_answer(srv_call *c, json_t *(*done)(srv_call *c)) {
    srv_server *s = c->s;
    srv_conn *conn = c->conn;
    c->t0 = lk_now();
    c->deadline = c->t0 + s->o.request_timeout_s;
    __atomic_add_fetch(&c->model->in_flight, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->mu);
    c->next = s->calls;
    if (s->calls) s->calls->prev = c;
    s->calls = c;
    pthread_mutex_unlock(&s->mu);
    if (pthread_create(&c->th, NULL, call_worker, c) != 0) {
        srv_err e;
        srv_errf(&e, 503, NULL, "the server cannot start a thread for this request");
        call_finish(c);
        return srv_reply_error(conn, c->api, &e);
    }
    c->th_started = true;
    pthread_mutex_lock(&c->mu);
    while (!c->done && !(c->stream && c->first && !c->timed_out) && !c->client_gone) call_wait_slice(c);
    bool gone = c->client_gone, finished = c->done;
    pthread_mutex_unlock(&c->mu);
    if (gone) { /* nobody to answer: stop the model and close */
        call_finish(c);
        conn->status = 499;
        return MHD_NO;
    }
    if (finished && (c->rc || c->timed_out || !c->stream)) {
        pthread_join(c->th, NULL);
        c->th_started = false;
        enum MHD_Result r;
        if (c->rc || c->timed_out) {
            srv_err e;
            srv_call_error(c, &e);
            r = srv_reply_error(conn, c->api, &e);
        } else {
            r = srv_reply_json(conn, 200, done(c));
        }
        call_finish(c);
        return r;
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, c, stream_free);
    if (!r) {
        call_finish(c);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    enum MHD_Result rc = MHD_queue_response(conn->mc, 200, r);
    MHD_destroy_response(r); /* the call is freed by stream_free when MHD is done with it */
    conn->status = 200;
    conn->answered = true;
    return rc;
}

/* ---- routing ---- */

static int route(const char *url) {
    static const struct { const char *path; int ep; } routes[] = {
        { "/v1/chat/completions", SRV_EP_CHAT }, { "/v1/completions", SRV_EP_COMPLETIONS },
        { "/v1/embeddings", SRV_EP_EMBEDDINGS }, { "/v1/models", SRV_EP_MODELS }, { "/v1/messages", SRV_EP_MESSAGES },
        { "/health", SRV_EP_HEALTH }, { "/metrics", SRV_EP_METRICS },
    };
    for (size_t i = 0; i < LK_ARRAY_LEN(routes); i++) {
        size_t n = strlen(routes[i].path);
        if (strncmp(url, routes[i].path, n) == 0 && (url[n] == 0 || (url[n] == '/' && routes[i].ep == SRV_EP_MODELS)))
            return routes[i].ep;
    }
    return SRV_EP_OTHER;
}

static bool key_equal(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = na != nb;
    for (size_t i = 0; i < na; i++) d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return d == 0 && nb;
}

/* 0 when the request may pass; else the error to send. */
static int check_key(srv_conn *c, srv_err *e) {
    srv_server *s = c->s;
    if (!s->n_keys || c->ep == SRV_EP_HEALTH) return 0;
    const char *auth = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Authorization");
    const char *xkey = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "x-api-key");
    const char *given = NULL;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) given = auth + 7;
    else if (xkey) given = xkey;
    if (given)
        for (size_t i = 0; i < s->n_keys; i++)
            if (key_equal(given, s->keys[i])) return 0;
    srv_errf(e, 401, NULL, "%s", !given ? (c->api == SRV_ANTHROPIC ? "x-api-key header is required"
                                           : "You didn't provide an API key: send it as \"Authorization: Bearer KEY\"")
                                        : (c->api == SRV_ANTHROPIC ? "invalid x-api-key" : "Incorrect API key provided."));
    e->code = given ? "invalid_api_key" : NULL;
    return -1;
}

static enum MHD_Result health(srv_conn *c) {
    srv_server *s = c->s;
    bool stopping = __atomic_load_n(&s->stopping, __ATOMIC_RELAXED);
    json_t *names = json_array();
    for (size_t i = 0; i < s->n_models; i++) json_array_append_new(names, srv_jcstr(s->models[i].name));
    return srv_reply_json(c, stopping ? 503 : 200, json_pack("{s:s,s:o}", "status", stopping ? "stopping" : "ok",
                                                              "models", names));
}

static enum MHD_Result dispatch(srv_conn *c, const char *url, const char *method) {
    srv_err e;
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    bool wants_get = c->ep == SRV_EP_MODELS || c->ep == SRV_EP_HEALTH || c->ep == SRV_EP_METRICS;
    if (c->ep == SRV_EP_OTHER) {
        srv_errf(&e, 404, NULL, "Invalid URL (%s %s): no such endpoint", method, url);
        return srv_reply_error(c, c->api, &e);
    }
    if (wants_get ? !get : !post) {
        srv_errf(&e, 405, NULL, "%s %s: method not allowed; use %s", method, url, wants_get ? "GET" : "POST");
        return srv_reply_error(c, c->api, &e);
    }
    if (c->ep == SRV_EP_HEALTH) return health(c);
    if (c->ep == SRV_EP_METRICS) {
        lk_buf b = {0};
        srv_metrics_text(c->s, &b);
        enum MHD_Result r = srv_reply_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
        lk_buf_free(&b);
        return r;
    }
    if (c->ep == SRV_EP_MODELS) return srv_models_list(c, url[strlen("/v1/models")] == '/' ? url + 11 : NULL);
    if (c->body.len == 0) {
        srv_errf(&e, 400, NULL, "the request body is empty; expected a JSON object");
        return srv_reply_error(c, c->api, &e);
    }
    json_error_t je;
    json_t *body = json_loadb(c->body.data, c->body.len, 0, &je);
    if (!body) {
        srv_errf(&e, 400, NULL, "the request body is not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        e.code = "invalid_json";
        return srv_reply_error(c, c->api, &e);
    }
    if (!json_is_object(body)) {
        srv_errf(&e, 400, NULL, "the request body must be a JSON object, not %s", srv_json_type(body));
        json_decref(body);
        return srv_reply_error(c, c->api, &e);
    }
    enum MHD_Result r;
    switch (c->ep) {
    case SRV_EP_CHAT: r = srv_openai_chat(c, body); break;
    case SRV_EP_COMPLETIONS: r = srv_openai_completions(c, body); break;
    case SRV_EP_EMBEDDINGS: r = srv_openai_embeddings(c, body); break;
    default: r = srv_anthropic_messages(c, body); break;
    }
    json_decref(body);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    srv_server *s = cls;
    srv_conn *c = *con_cls;
    srv_err e;
    if (!c) { /* the headers have arrived */
        c = lk_xcalloc(1, sizeof *c);
        c->s = s;
        c->mc = mc;
        c->ep = route(url);
        c->api = c->ep == SRV_EP_MESSAGES ? SRV_ANTHROPIC : SRV_OPENAI;
        *con_cls = c;
        __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
        if (__atomic_load_n(&s->stopping, __ATOMIC_RELAXED)) {
            srv_errf(&e, 503, NULL, "the server is shutting down");
            return srv_reply_error(c, c->api, &e);
        }
        if (check_key(c, &e)) return srv_reply_error(c, c->api, &e);
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
        long long len;
        if (cl && !lk_parse_i64(cl, &len) && len > (long long)s->o.max_body) {
            srv_errf(&e, 413, NULL, "the request body is %lld bytes, more than the server's limit of %zu bytes", len,
                     s->o.max_body);
            e.code = "request_too_large";
            return srv_reply_error(c, c->api, &e);
        }
        return MHD_YES;
    }
    if (c->answered) { /* an early answer (401, 413, 503): the rest of the body is not read */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!c->too_big && c->body.len + *upload_size > s->o.max_body) {
            c->too_big = true;
            lk_buf_free(&c->body);
        }
        if (!c->too_big) lk_buf_append(&c->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (c->too_big) {
        srv_errf(&e, 413, NULL, "the request body is more than the server's limit of %zu bytes", s->o.max_body);
        e.code = "request_too_large";
        return srv_reply_error(c, c->api, &e);
    }
    return dispatch(c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)mc;
    srv_server *s = cls;
    srv_conn *c = *con_cls;
    if (!c) return;
    int status = c->status ? c->status : 499;
    if (status == 200 && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) status = 499; /* the client left mid-stream */
    srv_metrics_request(&s->metrics, c->ep, status);
    lk_buf_free(&c->body);
    free(c);
    *con_cls = NULL;
    __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    if (lk_log_level() > LK_LOG_DEBUG) return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    lk_log(LK_LOG_DEBUG, "serve: %s", line);
}

/* ---- the server object ---- */

srv_server *srv_new(const srv_opts *o) {
    srv_server *s = lk_xcalloc(1, sizeof *s);
    static const srv_opts none = {0};
    s->o = o ? *o : none;
    s->o.host = lk_xstrdup(s->o.host ? s->o.host : "127.0.0.1");
    if (s->o.max_connections <= 0) s->o.max_connections = 256;
    if (s->o.max_body == 0) s->o.max_body = 4u << 20;
    if (s->o.max_tokens <= 0) s->o.max_tokens = 4096;
    if (!(s->o.request_timeout_s > 0)) s->o.request_timeout_s = 600;
    if (!(s->o.idle_timeout_s > 0)) s->o.idle_timeout_s = 120;
    s->n_keys = s->o.n_api_keys;
    s->keys = s->n_keys ? lk_xcalloc(s->n_keys, sizeof *s->keys) : NULL;
    for (size_t i = 0; i < s->n_keys; i++) s->keys[i] = lk_xstrdup(s->o.api_keys[i]);
    s->o.api_keys = NULL;
    s->listen_fd = -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->id_salt = lk_mix64(((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)s);
    pthread_mutex_init(&s->mu, NULL);
    srv_metrics_init(&s->metrics);
    return s;
}

int srv_add_model(srv_server *s, const char *name, lk_model *m, lk_error *err) {
    if (!name || !*name) return lk_errorf(err, LK_EINVAL, "a served model needs a name");
    if (srv_find_model(s, name)) return lk_errorf(err, LK_EINVAL, "two models are named '%s'", name);
    if (s->d) return lk_errorf(err, LK_EINVAL, "models are added before the server starts");
    s->models = lk_xrealloc(s->models, (s->n_models + 1) * sizeof *s->models);
    srv_model *sm = &s->models[s->n_models++];
    memset(sm, 0, sizeof *sm);
    sm->name = lk_xstrdup(name);
    sm->m = m;
    sm->created = (long long)time(NULL);
    return 0;
}

static int bind_socket(srv_server *s, lk_error *err) {
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
    char port[16];
    snprintf(port, sizeof port, "%d", s->o.port);
    int g = getaddrinfo(s->o.host, port, &hints, &res);
    if (g) return lk_errorf(err, LK_EIO, "cannot listen on %s:%d: %s", s->o.host, s->o.port, gai_strerror(g));
    int fd = -1, why = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            why = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            why = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) return lk_errorf(err, LK_EIO, "cannot listen on %s:%d: %s", s->o.host, s->o.port, strerror(why));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    s->listen_fd = fd;
    return 0;
}

int srv_start(srv_server *s, lk_error *err) {
    if (s->d) return lk_errorf(err, LK_EINVAL, "the server is already running");
    int rc = bind_socket(s, err);
    if (rc) return rc;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(s->o.idle_timeout_s + 0.5),
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_END);
    if (!s->d) {
        close(s->listen_fd);
        s->listen_fd = -1;
        s->port = 0;
        return lk_errorf(err, LK_EIO, "cannot start the HTTP server on %s:%d", s->o.host, s->o.port);
    }
    return 0;
}

int srv_port(const srv_server *s) {
    return s->port;
}

int srv_in_flight(srv_server *s) {
    return __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED);
}

static int calls_running(srv_server *s) {
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (srv_call *c = s->calls; c; c = c->next) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int srv_stop(srv_server *s, double deadline_s) {
    if (!s->d) return 0;
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELAXED);
    MHD_socket lfd = MHD_quiesce_daemon(s->d); /* no new connections */
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    s->listen_fd = -1;
    double end = lk_now() + (deadline_s > 0 ? deadline_s : 0);
    while (calls_running(s) > 0 && lk_now() < end) usleep(10000);
    int cancelled = 0;
    pthread_mutex_lock(&s->mu);
    for (srv_call *c = s->calls; c; c = c->next) {
        __atomic_store_n(&c->cancel, 1, __ATOMIC_RELAXED);
        cancelled++;
    }
    pthread_mutex_unlock(&s->mu);
    /* the cancelled ones end at their model's next step; give their streams a moment to close */
    for (double t = lk_now() + 5; (calls_running(s) > 0 || srv_in_flight(s) > 0) && lk_now() < t;) usleep(10000);
    MHD_stop_daemon(s->d);
    s->d = NULL;
    return cancelled;
}

void srv_free(srv_server *s) {
    if (!s) return;
    if (s->d) srv_stop(s, 0);
    if (s->listen_fd >= 0) close(s->listen_fd);
    for (size_t i = 0; i < s->n_models; i++) free(s->models[i].name);
    free(s->models);
    srv_keys_free(s->keys, s->n_keys);
    free((char *)s->o.host);
    srv_metrics_free(&s->metrics);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int srv_load_keys(const char *path, char ***keys, size_t *n, lk_error *err) {
    *keys = NULL;
    *n = 0;
    lk_buf b = {0};
    if (lk_read_file(path, &b, err)) return lk_error_prefix(err, "API keys");
    char *p = b.data ? b.data : "";
    while (*p) {
        size_t len = strcspn(p, "\r\n");
        char *line = p;
        p += len;
        while (*p == '\r' || *p == '\n') p++;
        while (len && (*line == ' ' || *line == '\t')) line++, len--;
        while (len && (line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
        if (!len || line[0] == '#') continue;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
                srv_keys_free(*keys, *n);
                *keys = NULL;
                *n = 0;
                lk_buf_free(&b);
                return lk_errorf(err, LK_EINVAL, "API keys file %s: a key contains a control character", path);
            }
        *keys = lk_xrealloc(*keys, (*n + 1) * sizeof **keys);
        (*keys)[(*n)++] = lk_xstrndup(line, len);
    }
    lk_buf_free(&b);
    if (!*n) return lk_errorf(err, LK_EINVAL, "API keys file %s has no keys", path);
    return 0;
}

void srv_keys_free(char **keys, size_t n) {
    for (size_t i = 0; i < n; i++) {
        memset(keys[i], 0, strlen(keys[i]));
        free(keys[i]);
    }
    free(keys);
}

/* api_common.c — the machinery openai.c and anthropic.c share: configuration copies, jansson
 * helpers, the POST-and-parse exchange over http.c, provider error messages, and the stream
 * bookkeeping of api.h (SSE framing, text and tool-call deltas, cancellation, cut detection).
 * The providers only say what their JSON means. */
#include "models/api_common.h"
#include "models/http.h"

#include <inttypes.h>
#include <math.h>

/* ---- configuration ---- */

void api_conf_copy(api_conf *dst, const api_config *src) {
    dst->kind = lk_xstrdup(src->kind ? src->kind : "compat");
    dst->model = lk_xstrdup(src->model ? src->model : "");
    dst->base_url = lk_xstrdup(src->base_url ? src->base_url : "");
    size_t n = strlen(dst->base_url);
    while (n > 0 && dst->base_url[n - 1] == '/') dst->base_url[--n] = 0;
    dst->api_key = src->api_key && *src->api_key ? lk_xstrdup(src->api_key) : NULL;
    dst->max_attempts = src->max_attempts;
    dst->connect_timeout_s = src->connect_timeout_s;
    dst->read_timeout_s = src->read_timeout_s;
}

void api_conf_free(api_conf *c) {
    free(c->kind);
    free(c->model);
    free(c->base_url);
    if (c->api_key) {
        memset(c->api_key, 0, strlen(c->api_key));
        free(c->api_key);
    }
    memset(c, 0, sizeof *c);
}

void api_model_free(lk_model *m) {
    api_conf *c = m->impl; /* the first member of openai_model and anthropic_model */
    if (!c) return;
    api_conf_free(c);
    free(c);
    m->impl = NULL;
}

/* ---- JSON helpers ---- */

json_t *api_json_float(float f) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) return json_real(strtod(buf, NULL));
    }
    return json_real((double)f);
}

char *api_json_dump(const json_t *j) {
    /* 15 digits: every float sent was made exact by api_json_float */
    return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
}

json_t *api_json_object(const char *text, char *why, size_t why_cap) {
    json_error_t je;
    json_t *j = json_loads(text ? text : "", JSON_DECODE_ANY, &je);
    if (!j) {
        snprintf(why, why_cap, "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(why, why_cap, "expected a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *api_jstr(const json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

int64_t api_jint(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d >= -9e18 && d <= 9e18 ? (int64_t)d : 0;
    }
    return 0;
}

const char *api_jtext(const json_t *o, const char *key, char *buf, size_t cap) {
    json_t *v = json_object_get(o, key);
    buf[0] = 0;
    if (json_is_string(v)) snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return buf;
}

/* ---- errors ---- */

/* "<spec>: <where>: <message> (<type>/<code>)" with the key redacted. */
static int remote_error(lk_error *err, const char *spec, const char *where, const char *message,
                        const char *type, const char *code, const char *secret) {
    bool t = type && *type, c = code && *code;
    /* redact before cutting to the size of an lk_error, so that no piece of the key survives */
    lk_buf b = {0};
    lk_buf_printf(&b, "%s: %s: %s", spec, where, message && *message ? message : "(no message)");
    if (t && c) lk_buf_printf(&b, " (%s/%s)", type, code);
    else if (t || c) lk_buf_printf(&b, " (%s)", t ? type : code);
    lk_buf_reserve(&b, 256);
    redact_secret(b.data, b.cap, secret);
    lk_errorf(err, LK_EREMOTE, "%s", b.data);
    lk_buf_free(&b);
    return LK_EREMOTE;
}

int api_http_error(const lk_model *m, long status, const char *body, size_t len, const char *secret,
                   lk_error *err) {
    char where[32], tbuf[128], cbuf[128];
    snprintf(where, sizeof where, "HTTP %ld", status);
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    int rc;
    if (json_is_object(e) && api_jstr(e, "message")) {
        rc = remote_error(err, m->spec, where, api_jstr(e, "message"), api_jtext(e, "type", tbuf, sizeof tbuf),
                          api_jtext(e, "code", cbuf, sizeof cbuf), secret);
    } else if (json_is_string(e)) {
        rc = remote_error(err, m->spec, where, json_string_value(e), NULL, NULL, secret);
    } else if (api_jstr(j, "message")) {
        rc = remote_error(err, m->spec, where, api_jstr(j, "message"), api_jtext(j, "type", tbuf, sizeof tbuf),
                          api_jtext(j, "code", cbuf, sizeof cbuf), secret);
    } else {
        /* not a known shape: the start of the body, key removed before cutting it short */
        lk_buf raw = {0};
        lk_buf_append(&raw, body ? body : "", body ? len : 0);
        size_t cap = raw.len * 2 + 16;
        lk_buf_reserve(&raw, cap);
        redact_secret(raw.data, raw.cap, secret);
        raw.len = strlen(raw.data);
        size_t n = LK_MIN(raw.len, 200);
        while (n > 0 && n < raw.len && lk_utf8_len((unsigned char)raw.data[n]) == 0) n--;
        raw.data[n] = 0;
        for (char *s = raw.data; *s; s++)
            if ((unsigned char)*s < 0x20) *s = ' ';
        rc = remote_error(err, m->spec, where, n ? raw.data : "(empty body)", NULL, NULL, secret);
        lk_buf_free(&raw);
    }
    json_decref(j);
    return rc;
}

int api_remote_error(api_parse *p, const char *where, const char *message, const char *type,
                     const char *code) {
    return remote_error(p->err, p->m->spec, where, message, type, code, p->secret);
}

/* ---- parsing ---- */

void api_parse_init(api_parse *p, lk_model *m, lk_response *out, lk_token_cb on_token, void *ud,
                    lk_error *err, const char *secret) {
    memset(p, 0, sizeof *p);
    p->m = m;
    p->out = out;
    p->on_token = on_token;
    p->ud = ud;
    p->err = err;
    p->secret = secret;
    sse_init(&p->sse);
}

static void free_tools(api_parse *p) {
    for (size_t i = 0; i < p->n_tools; i++) {
        free(p->tools[i].id);
        free(p->tools[i].name);
        lk_buf_free(&p->tools[i].args);
    }
    free(p->tools);
    p->tools = NULL;
    p->n_tools = 0;
}

void api_parse_free(api_parse *p) {
    sse_free(&p->sse);
    lk_buf_free(&p->json);
    free_tools(p);
}

bool api_text(api_parse *p, const char *s, size_t n) {
    if (n == 0) return true;
    resp_first_token(p->m, p->out);
    if (!resp_text(p->out, s, n, p->on_token, p->ud)) p->cancelled = true;
    return !p->cancelled;
}

api_tool_acc *api_tool(api_parse *p, long index) {
    for (size_t i = 0; i < p->n_tools; i++)
        if (p->tools[i].index == index) return &p->tools[i];
    resp_first_token(p->m, p->out);
    p->tools = lk_xrealloc(p->tools, (p->n_tools + 1) * sizeof *p->tools);
    api_tool_acc *t = &p->tools[p->n_tools++];
    memset(t, 0, sizeof *t);
    t->index = index;
    return t;
}

void api_flush_tools(api_parse *p) {
    for (size_t i = 0; i < p->n_tools; i++) {
        api_tool_acc *t = &p->tools[i];
        resp_tool_call(p->out, t->id, t->name, t->args.len ? t->args.data : "{}");
    }
    free_tools(p);
}

void api_finish_reason(api_parse *p, const char *reason) {
    static const struct { const char *from, *to; } map[] = {
        { "stop", "stop" }, { "end_turn", "stop" }, { "stop_sequence", "stop" },
        { "length", "length" }, { "max_tokens", "length" },
        { "tool_calls", "tool_calls" }, { "function_call", "tool_calls" }, { "tool_use", "tool_calls" },
        { "content_filter", "content_filter" }, { "refusal", "content_filter" },
    };
    if (!reason) return;
    p->finished = true;
    for (size_t i = 0; i < LK_ARRAY_LEN(map); i++)
        if (strcmp(reason, map[i].from) == 0) {
            resp_set(&p->out->finish_reason, map[i].to);
            return;
        }
    resp_warn(p->out, "unknown finish reason '%.64s' taken as 'stop'", reason);
    resp_set(&p->out->finish_reason, "stop");
}

int api_body(api_parse *p, const char *body, size_t len) {
    int rc = p->on_body(p, body ? body : "", body ? len : 0);
    api_flush_tools(p);
    if (rc) {
        resp_set(&p->out->finish_reason, "error");
        if (p->err) redact_secret(p->err->msg, sizeof p->err->msg, p->secret); /* a JSON error may quote the body */
        return rc;
    }
    if (p->cancelled) resp_set(&p->out->finish_reason, "cancelled");
    return 0;
}

static int on_sse(const sse_event *ev, void *ud, lk_error *err) {
    api_parse *p = ud;
    int rc = p->on_event(p, ev->type, ev->data, ev->data_len);
    if (rc) return p->rc = rc;
    return p->cancelled ? LK_ECANCELLED : 0;
}

int api_feed(api_parse *p, const char *data, size_t len) {
    if (p->rc) return p->rc;
    if (p->cancelled) return LK_ECANCELLED;
    if (p->mode == 0) {
        /* a server that ignored "stream": true answers with one JSON object */
        size_t i = 0;
        while (i < len && api_is_space(data[i])) i++;
        if (i < len) p->mode = data[i] == '{' ? 2 : 1;
    }
    p->bytes += len;
    if (p->mode == 2) {
        lk_buf_append(&p->json, data, len);
        return 0;
    }
    /* SSE (or only whitespace so far, which SSE reads as blank lines) */
    int rc = sse_feed(&p->sse, data, len, on_sse, p, p->err);
    if (rc == LK_ECANCELLED && p->cancelled) return LK_ECANCELLED;
    if (rc && !p->rc) p->rc = rc;
    return p->rc;
}

int api_end(api_parse *p) {
    if (p->mode == 2 && !p->rc && !p->cancelled) return api_body(p, p->json.data, p->json.len);
    api_flush_tools(p);
    if (p->rc) {
        resp_set(&p->out->finish_reason, "error");
        if (p->err) redact_secret(p->err->msg, sizeof p->err->msg, p->secret);
        return p->rc;
    }
    if (p->cancelled) {
        resp_set(&p->out->finish_reason, "cancelled");
        return 0;
    }
    if (!p->done && (p->need_marker || !p->finished)) {
        resp_set(&p->out->finish_reason, "error");
        return lk_errorf(p->err, LK_EIO, "%s: stream cut off after %" PRIu64 " bytes (no end-of-stream marker)",
                         p->m->spec, p->bytes);
    }
    return 0;
}

/* ---- the exchange ---- */

static bool feed_cb(const char *data, size_t len, void *ud) {
    return api_feed(ud, data, len) == 0;
}

static http_opts make_opts(const api_conf *c, const lk_request *req) {
    return (http_opts){ .connect_timeout_s = c->connect_timeout_s, .read_timeout_s = c->read_timeout_s,
                        .deadline_s = req ? req->timeout_s : 0, .max_attempts = c->max_attempts,
                        .cancel = req ? req->cancel : NULL };
}

int api_post(const api_conf *c, const lk_request *req, const char *url, const char *const *headers,
             size_t n_headers, const char *body, bool stream, api_parse *p) {
    http_request hr = { "POST", url, headers, n_headers, body, strlen(body) };
    http_opts ho = make_opts(c, req);
    http_response r = {0};
    lk_error herr = {0};   /* kept apart: a parser error stops the transfer and must survive it */
    int rc = http_do(&hr, &ho, stream ? feed_cb : NULL, p, &r, &herr);
    p->out->http_status = (int)r.status;
    bool ok_status = r.status >= 200 && r.status < 300;
    if (rc == 0 && !ok_status) {
        rc = api_http_error(p->m, r.status, r.body.data, r.body.len, c->api_key, p->err);
        resp_set(&p->out->finish_reason, "error");
    } else if (rc == 0 && !stream) {
        rc = api_body(p, r.body.data, r.body.len);
    } else if (rc == 0 || (stream && (p->cancelled || p->rc))) {
        rc = api_end(p);    /* the stream ended, or our parser stopped it */
    } else {
        api_flush_tools(p);
        if (p->err) *p->err = herr;
        if (rc == LK_ECANCELLED) {
            resp_set(&p->out->finish_reason, "cancelled");
        } else {
            resp_set(&p->out->finish_reason, "error");
            if (p->bytes > 0)
                lk_error_prefix(p->err, "%s: stream cut off after %" PRIu64 " bytes", p->m->spec, p->bytes);
            else
                lk_error_prefix(p->err, "%s", p->m->spec);
        }
    }
    if (rc && p->err) redact_secret(p->err->msg, sizeof p->err->msg, c->api_key);
    http_response_free(&r);
    return rc;
}

int api_post_json(const api_conf *c, const lk_model *m, const char *url, const char *const *headers,
                  size_t n_headers, const char *body, json_t **out, lk_error *err) {
    http_request hr = { "POST", url, headers, n_headers, body, strlen(body) };
    http_opts ho = make_opts(c, NULL);
    http_response r = {0};
    *out = NULL;
    int rc = http_do(&hr, &ho, NULL, NULL, &r, err);
    if (rc) {
        lk_error_prefix(err, "%s", m->spec);
    } else if (r.status < 200 || r.status >= 300) {
        rc = api_http_error(m, r.status, r.body.data, r.body.len, c->api_key, err);
    } else {
        json_error_t je;
        *out = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &je);
        if (!*out)
            rc = lk_errorf(err, LK_EFORMAT, "%s: %s: the answer is not JSON (line %d, column %d: %s)", m->spec,
                           url, je.line, je.column, je.text);
    }
    if (rc && err) redact_secret(err->msg, sizeof err->msg, c->api_key);
    http_response_free(&r);
    return rc;
}

json_t *api_load_object(api_parse *p, const char *s, size_t len, const char *what, int *rc) {
    json_error_t je;
    json_t *j = json_loadb(s, len, 0, &je);
    *rc = 0;
    if (!j)
        *rc = lk_errorf(p->err, LK_EFORMAT, "%s: %s is not JSON (line %d, column %d: %s)", p->m->spec, what, je.line,
                        je.column, je.text);
    else if (!json_is_object(j))
        *rc = lk_errorf(p->err, LK_EFORMAT, "%s: %s is not a JSON object", p->m->spec, what);
    if (*rc) {
        json_decref(j);
        return NULL;
    }
    return j;
}


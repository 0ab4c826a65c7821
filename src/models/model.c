/* model.c — lk_model: open a model from its spec string and run requests through its backend.
 *
 * The spec says which backend serves it (see include/llmkit.h); this file resolves the base
 * URL and the API key from lk_model_opts and the environment, looks up the price, and wraps
 * every call: it checks the request, starts the clock, lets the backend fill the response, then
 * computes the timings, tokens per second and cost the same way for every backend. The API key
 * lives in the backend's header list and nowhere else: not in the spec, the name, or errors. */
#include "models/model_impl.h"
#include "models/hashembed.h"

#include <math.h>
#include <sys/stat.h>

/* ---- specs ---- */

static bool has_prefix(const char *s, const char *p) {
    return strncmp(s, p, strlen(p)) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A base URL without trailing slashes, in a new string. */
static char *trim_url(const char *url) {
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/' && !(n >= 2 && url[n - 2] == ':') && !(n >= 3 && url[n - 3] == ':')) n--;
    return lk_xstrndup(url, n);
}

/* The API key: the first line of key_file (whitespace trimmed), else the environment variable
 * env (NULL: none). *key is malloc'd, or NULL when there is none. */
static int read_key(const char *spec, const char *key_file, const char *env, char **key, lk_error *err) {
    *key = NULL;
    if (key_file) {
        lk_buf b = {0};
        if (lk_read_file(key_file, &b, err)) return lk_error_prefix(err, "%s: API key file", spec);
        const char *p = b.data ? b.data : "";
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        size_t n = strcspn(p, "\r\n");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n == 0) {
            lk_buf_free(&b);
            return lk_errorf(err, LK_EINVAL, "%s: API key file %s is empty", spec, key_file);
        }
        *key = lk_xstrndup(p, n);
        lk_buf_free(&b);
        return 0;
    }
    const char *v = env ? getenv(env) : NULL;
    if (!v) return 0;
    while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n')) n--;
    if (n) *key = lk_xstrndup(v, n);
    return 0;
}

/* A key goes into an HTTP header: a control character would end the header (or add one). */
static int check_key(const char *spec, const char *key, const char *from, lk_error *err) {
    for (const unsigned char *p = (const unsigned char *)key; key && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return lk_errorf(err, LK_EINVAL, "%s: the API key from %s contains a control character", spec, from);
    return 0;
}

/* OLLAMA_HOST may be "host", "host:port" or a URL; the API is at <that>/v1. */
static char *ollama_base(void) {
    const char *h = getenv("OLLAMA_HOST");
    lk_buf b = {0};
    if (!h || !*h) h = "http://localhost:11434";
    if (!has_prefix(h, "http://") && !has_prefix(h, "https://")) lk_buf_puts(&b, "http://");
    char *t = trim_url(h);
    lk_buf_puts(&b, t);
    free(t);
    const char *sep = strstr(b.data, "://");
    const char *host = sep ? sep + 3 : b.data + b.len;
    const char *port = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':'); /* [::1] is IPv6 */
    if (!port && !strchr(host, '/')) lk_buf_puts(&b, ":11434");
    lk_buf_puts(&b, "/v1");
    return b.data;
}

static char *display_spec(const char *spec);

/* A base URL must be http(s)://HOST...; returns 0 or LK_EINVAL naming it (without credentials). */
static int check_url(const char *spec, const char *what, const char *url, lk_error *err) {
    const char *rest = strncmp(url, "http://", 7) == 0 ? url + 7 : strncmp(url, "https://", 8) == 0 ? url + 8 : NULL;
    if (rest) { /* the host: what follows user:password@, up to the path */
        size_t alen = strcspn(rest, "/?#");
        const char *at = memchr(rest, '@', alen);
        const char *host = at ? at + 1 : rest;
        if (host < rest + alen && *host != ':') return 0;
    }
    char *shown = display_spec(url);
    lk_errorf(err, LK_EINVAL, "%s: %s '%s' %s", spec, what, shown,
              rest ? "has no host" : "must start with http:// or https://");
    free(shown);
    return LK_EINVAL;
}

static const char *spec_help =
    "expected a .gguf file, openai:MODEL, anthropic:MODEL, ollama:MODEL, http(s)://HOST[:PORT]/v1#MODEL "
    "or builtin:hash";

/* The spec as it may be shown: for a URL, user:password@ and the query string become "***", so
 * that credentials put there reach no message, table or file (the request still uses them). */
static char *display_spec(const char *spec) {
    if (!has_prefix(spec, "http://") && !has_prefix(spec, "https://")) return lk_xstrdup(spec);
    const char *auth = strstr(spec, "://") + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', alen);
    lk_buf b = {0};
    lk_buf_append(&b, spec, (size_t)(auth - spec));
    if (at) {
        lk_buf_puts(&b, "***@");
        lk_buf_append(&b, at + 1, (size_t)(auth + alen - at - 1));
    } else {
        lk_buf_append(&b, auth, alen);
    }
    const char *p = auth + alen;
    while (*p) {
        if (*p == '?') {
            lk_buf_puts(&b, "?***");
            p += strcspn(p, "#");
        } else {
            lk_buf_putc(&b, *p++);
        }
    }
    return b.data;
}

static int open_api(lk_model *m, const char *raw, const lk_model_opts *o, lk_error *err) {
    const char *spec = m->spec; /* for messages: without credentials */
    api_config cfg = { .max_attempts = o->max_attempts, .connect_timeout_s = o->connect_timeout_s,
                       .read_timeout_s = o->read_timeout_s };
    char *base = NULL, *key = NULL, *model = NULL;
    const char *pricing_backend;
    int rc = 0;
    if (has_prefix(raw, "openai:")) {
        cfg.kind = m->backend = pricing_backend = "openai";
        model = lk_xstrdup(raw + 7);
        const char *b = o->base_url ? o->base_url : getenv("OPENAI_BASE_URL");
        base = trim_url(b && *b ? b : "https://api.openai.com/v1");
        rc = read_key(spec, o->api_key_file, "OPENAI_API_KEY", &key, err);
        if (!rc && !key)
            rc = lk_errorf(err, LK_EINVAL, "%s: no API key: set OPENAI_API_KEY or give a key file", spec);
    } else if (has_prefix(raw, "anthropic:")) {
        cfg.kind = m->backend = pricing_backend = "anthropic";
        model = lk_xstrdup(raw + 10);
        const char *b = o->base_url ? o->base_url : getenv("ANTHROPIC_BASE_URL");
        char *t = trim_url(b && *b ? b : "https://api.anthropic.com");
        /* the SDKs' convention is a base without /v1; accept both */
        if (ends_with(t, "/v1")) {
            base = t;
        } else {
            lk_buf u = {0};
            lk_buf_printf(&u, "%s/v1", t);
            base = u.data;
            free(t);
        }
        rc = read_key(spec, o->api_key_file, "ANTHROPIC_API_KEY", &key, err);
        if (!rc && !key)
            rc = lk_errorf(err, LK_EINVAL, "%s: no API key: set ANTHROPIC_API_KEY or give a key file", spec);
    } else if (has_prefix(raw, "ollama:")) {
        cfg.kind = "compat";
        m->backend = pricing_backend = "ollama";
        model = lk_xstrdup(raw + 7);
        base = o->base_url ? trim_url(o->base_url) : ollama_base();
        rc = read_key(spec, o->api_key_file, NULL, &key, err);
    } else { /* http(s)://HOST[:PORT]/PATH#MODEL */
        cfg.kind = "compat";
        m->backend = pricing_backend = "compat";
        const char *hash = strchr(raw, '#');
        if (!hash || !hash[1])
            return lk_errorf(err, LK_EINVAL, "'%s': an OpenAI-compatible server is given as "
                             "http(s)://HOST[:PORT]/v1#MODEL (the model name after '#' is missing)", spec);
        model = lk_xstrdup(hash + 1);
        char *b = lk_xstrndup(raw, (size_t)(hash - raw));
        base = trim_url(o->base_url ? o->base_url : b);
        free(b);
        rc = read_key(spec, o->api_key_file, "LLMKIT_API_KEY", &key, err);
    }
    if (!rc && !*model) rc = lk_errorf(err, LK_EINVAL, "'%s': the model name is empty", spec);
    if (!rc) rc = check_url(spec, o->base_url ? "the base URL" : "the server URL", base, err);
    if (!rc) rc = check_key(spec, key, o->api_key_file ? o->api_key_file : "the environment", err);
    if (!rc) {
        m->name = lk_xstrdup(model);
        cfg.model = model;
        cfg.base_url = base;
        cfg.api_key = key;
        rc = pricing_lookup(o->pricing_file, pricing_backend, model, &m->price, err);
    }
    if (!rc) rc = strcmp(cfg.kind, "anthropic") == 0 ? anthropic_open(m, &cfg, err) : openai_open(m, &cfg, err);
    if (key) {
        memset(key, 0, strlen(key));
        free(key);
    }
    free(base);
    free(model);
    return rc;
}

/* ---- builtin:hash ---- */

typedef struct hash_model {
    size_t dim;
} hash_model;

static int hash_embed(lk_model *m, const char *const *texts, size_t n, lk_embeddings *out, lk_error *err) {
    hash_model *h = m->impl;
    out->dim = h->dim;
    out->n = n;
    out->data = lk_xcalloc(n ? n : 1, h->dim * sizeof(float));
    for (size_t i = 0; i < n; i++) hashembed(texts[i], strlen(texts[i]), out->data + i * h->dim, h->dim);
    return 0;
}

static void hash_free(lk_model *m) {
    free(m->impl);
}

static const model_ops hash_ops = { .embed = hash_embed, .free = hash_free };

int hashembed_open(lk_model *m, const char *rest, lk_error *err) {
    long long dim = HASHEMBED_DEFAULT_DIM;
    if (strcmp(rest, "hash") != 0) {
        if (!has_prefix(rest, "hash:") || lk_parse_i64(rest + 5, &dim) || dim < 1 || dim > 65536)
            return lk_errorf(err, LK_EINVAL, "'%s': the builtin embedder is builtin:hash or builtin:hash:DIM "
                             "(DIM from 1 to 65536)", m->spec);
    }
    hash_model *h = lk_xmalloc(sizeof *h);
    h->dim = (size_t)dim;
    m->impl = h;
    m->ops = &hash_ops;
    m->backend = "builtin";
    m->name = lk_xstrdup(rest);
    m->price = (lk_price){ .known = true };
    return 0;
}

/* ---- open ---- */

lk_model *lk_model_open(const char *spec, lk_error *err) {
    return lk_model_open_ex(spec, NULL, err);
}

lk_model *lk_model_open_ex(const char *spec, const lk_model_opts *opts, lk_error *err) {
    static const lk_model_opts none = {0};
    const lk_model_opts *o = opts ? opts : &none;
    if (!spec || !*spec) {
        lk_errorf(err, LK_EINVAL, "empty model spec: %s", spec_help);
        return NULL;
    }
    lk_model *m = lk_xcalloc(1, sizeof *m);
    m->spec = display_spec(spec);
    int rc;
    struct stat sb;
    if (has_prefix(spec, "openai:") || has_prefix(spec, "anthropic:") || has_prefix(spec, "ollama:") ||
        has_prefix(spec, "http://") || has_prefix(spec, "https://")) {
        rc = open_api(m, spec, o, err);
    } else if (has_prefix(spec, "builtin:")) {
        rc = hashembed_open(m, spec + 8, err);
    } else if (ends_with(spec, ".gguf") || stat(spec, &sb) == 0) {
        m->backend = "local";
        const char *slash = strrchr(spec, '/');
        const char *base = slash ? slash + 1 : spec;
        size_t n = strlen(base);
        if (ends_with(base, ".gguf")) n -= 5;
        m->name = lk_xstrndup(base, n);
        rc = pricing_lookup(o->pricing_file, "local", m->name, &m->price, err);
        if (!rc && !m->price.known) m->price = (lk_price){ .known = true }; /* local: free unless priced */
        if (!rc) rc = local_open(m, spec, o, err);
    } else {
        const char *colon = strchr(spec, ':');
        if (colon && colon - spec < 16 && !strchr(spec, '/'))
            rc = lk_errorf(err, LK_EINVAL, "'%s': unknown backend '%.*s': %s", spec, (int)(colon - spec), spec,
                           spec_help);
        else
            rc = lk_errorf(err, LK_EINVAL, "'%s': no such file, and not a model spec: %s", spec, spec_help);
    }
    if (rc) {
        if (m->ops && m->ops->free) m->ops->free(m);
        free(m->spec);
        free(m->name);
        free(m);
        return NULL;
    }
    return m;
}

void lk_model_free(lk_model *m) {
    if (!m) return;
    if (m->ops && m->ops->free) m->ops->free(m);
    free(m->spec);
    free(m->name);
    free(m);
}

void lk_model_stats_get(lk_model *m, lk_model_stats *out) {
    memset(out, 0, sizeof *out);
    if (m->ops && m->ops->stats) m->ops->stats(m, out);
    out->requests = __atomic_load_n(&m->requests, __ATOMIC_RELAXED);
}

const char *lk_model_spec(const lk_model *m) { return m->spec; }
const char *lk_model_backend(const lk_model *m) { return m->backend; }
const char *lk_model_name(const lk_model *m) { return m->name; }

/* ---- calls ---- */

static const char *const roles[] = { "system", "user", "assistant", "tool" };

/* Text sent to a model must be UTF-8 (JSON requires it; a tokenizer would mangle it). */
static int check_utf8(const lk_model *m, const char *field, size_t i, const char *s, lk_error *err) {
    size_t bad;
    if (!s || lk_utf8_check(s, strlen(s), &bad)) return 0;
    char name[64];
    snprintf(name, sizeof name, field, i);
    return lk_errorf(err, LK_EINVAL, "%s: %s is not valid UTF-8 (byte 0x%02x at offset %zu)", m->spec, name,
                     (unsigned char)s[bad], bad);
}

static int check_request(const lk_model *m, const lk_request *r, lk_error *err) {
    if (!r->prompt && r->n_messages == 0)
        return lk_errorf(err, LK_EINVAL, "%s: the request has no messages and no prompt", m->spec);
    if (r->prompt && r->n_messages)
        return lk_errorf(err, LK_EINVAL, "%s: the request has both messages and a prompt; give one", m->spec);
    for (size_t i = 0; i < r->n_messages; i++) {
        const lk_message *msg = &r->messages[i];
        bool known = false;
        for (size_t k = 0; k < LK_ARRAY_LEN(roles) && msg->role; k++) known |= strcmp(msg->role, roles[k]) == 0;
        if (!known)
            return lk_errorf(err, LK_EINVAL, "%s: messages[%zu].role is '%s'; expected system, user, assistant "
                             "or tool", m->spec, i, msg->role ? msg->role : "(null)");
        if (!msg->content && !(strcmp(msg->role, "assistant") == 0 && msg->n_tool_calls))
            return lk_errorf(err, LK_EINVAL, "%s: messages[%zu] (%s) has no content", m->spec, i, msg->role);
        if (strcmp(msg->role, "tool") == 0 && !msg->tool_call_id)
            return lk_errorf(err, LK_EINVAL, "%s: messages[%zu] is a tool result without tool_call_id", m->spec, i);
        for (size_t k = 0; k < msg->n_tool_calls; k++)
            if (!msg->tool_calls[k].name || !msg->tool_calls[k].id)
                return lk_errorf(err, LK_EINVAL, "%s: messages[%zu].tool_calls[%zu] needs an id and a name",
                                 m->spec, i, k);
    }
    for (size_t i = 0; i < r->n_tools; i++)
        if (!r->tools[i].name || !*r->tools[i].name)
            return lk_errorf(err, LK_EINVAL, "%s: tools[%zu] has no name", m->spec, i);
    int rc = check_utf8(m, "prompt", 0, r->prompt, err);
    for (size_t i = 0; i < r->n_messages && !rc; i++) {
        rc = check_utf8(m, "messages[%zu].content", i, r->messages[i].content, err);
        for (size_t k = 0; k < r->messages[i].n_tool_calls && !rc; k++)
            rc = check_utf8(m, "messages[].tool_calls[].arguments", k, r->messages[i].tool_calls[k].arguments, err);
    }
    for (size_t i = 0; i < r->n_stop && !rc; i++) rc = check_utf8(m, "stop[%zu]", i, r->stop[i], err);
    for (size_t i = 0; i < r->n_tools && !rc; i++) {
        rc = check_utf8(m, "tools[%zu].description", i, r->tools[i].description, err);
        if (!rc) rc = check_utf8(m, "tools[%zu].parameters", i, r->tools[i].parameters, err);
    }
    if (!rc) rc = check_utf8(m, "response_format", 0, r->response_format, err);
    if (rc) return rc;
    if (r->max_tokens < 0)
        return lk_errorf(err, LK_EINVAL, "%s: max_tokens is %d; expected 0 (default) or more", m->spec, r->max_tokens);
    if (r->logprobs < 0 || r->logprobs > 21)
        return lk_errorf(err, LK_EINVAL, "%s: logprobs is %d; expected 0 to 21", m->spec, r->logprobs);
    return 0;
}

int lk_model_chat(lk_model *m, const lk_request *req, lk_token_cb on_token, void *ud, lk_response *out,
                  lk_error *err) {
    memset(out, 0, sizeof *out);
    if (!m->ops->chat) {
        resp_set(&out->finish_reason, "error");
        return lk_errorf(err, LK_EUNSUPPORTED, "%s: this model only makes embeddings", m->spec);
    }
    int rc = check_request(m, req, err);
    if (!rc && req_set_i(req->penalty_last_n) && strcmp(m->backend, "local") != 0)
        rc = resp_unsupported(m, req, out, err, "penalty_last_n");
    if (rc) {
        resp_set(&out->finish_reason, "error");
        return rc;
    }
    double t0 = lk_now();
    out->timings.total_s = t0; /* the start, for resp_first_token, until the call returns */
    rc = m->ops->chat(m, req, on_token, ud, out, err);
    if (rc == LK_ECANCELLED) {
        rc = 0; /* the caller's wish, not a failure */
        resp_set(&out->finish_reason, "cancelled");
    }
    lk_timings *t = &out->timings;
    t->total_s = lk_now() - t0;
    if (t->ttft_s <= 0 && out->text_len > 0) t->ttft_s = t->total_s;
    double gen_s = t->total_s - t->ttft_s;
    bool streamed = req->stream || strcmp(m->backend, "local") == 0;
    if (streamed) /* decode speed: the tokens after the first, over the time after the first */
        t->tokens_per_s = out->usage.completion_tokens > 1 && gen_s > 0
            ? (double)(out->usage.completion_tokens - 1) / gen_s : 0;
    else /* the whole answer arrived at once: all tokens over the whole time */
        t->tokens_per_s = t->total_s > 0 ? (double)out->usage.completion_tokens / t->total_s : 0;
    out->cost_known = m->price.known;
    out->cost_usd = m->price.known ? pricing_cost(&m->price, &out->usage) : 0;
    __atomic_add_fetch(&m->requests, 1, __ATOMIC_RELAXED);
    if (!out->text) out->text = lk_xstrdup("");
    if (!out->finish_reason) resp_set(&out->finish_reason, rc ? "error" : "stop");
    if (!out->model) resp_set(&out->model, m->name);
    return rc;
}

int lk_model_embed(lk_model *m, const char *const *texts, size_t n, lk_embeddings *out, lk_error *err) {
    memset(out, 0, sizeof *out);
    if (!m->ops->embed)
        return lk_errorf(err, LK_EUNSUPPORTED, "%s: the %s backend has no embeddings", m->spec, m->backend);
    for (size_t i = 0; i < n; i++)
        if (!texts[i]) return lk_errorf(err, LK_EINVAL, "%s: text %zu to embed is NULL", m->spec, i);
    int rc = m->ops->embed(m, texts, n, out, err);
    if (rc) {
        lk_embeddings_free(out);
        return rc;
    }
    for (size_t i = 0; i < out->n; i++) {
        float *v = out->data + i * out->dim;
        double ss = 0;
        for (size_t j = 0; j < out->dim; j++) ss += (double)v[j] * v[j];
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (size_t j = 0; j < out->dim; j++) v[j] *= inv;
        }
    }
    out->cost_known = m->price.known;
    out->cost_usd = m->price.known ? pricing_cost(&m->price, &out->usage) : 0;
    return 0;
}

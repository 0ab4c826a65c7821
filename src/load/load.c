/* load.c — the load tester of load.h: prompts, request bodies, one libcurl multi loop per point,
 * stream parsing with timestamps, and the statistics.
 *
 * A point runs in the calling thread. Each request is one easy handle added to one multi
 * handle; the loop starts requests (closed loop: whenever fewer than C are in flight; open
 * loop: at their arrival times, sleeping in curl_multi_poll until the next one is due), lets
 * libcurl move bytes, and finishes the transfers libcurl reports done. Body bytes of a 2xx event
 * stream go through sse.h as they arrive, stamped with the time of the read that brought them,
 * so that deltas that arrive in one read share a timestamp (as in every client-side benchmark).
 * A failure is a record (status, message), never an abort of the point. */
#include "load/load.h"
#include "models/sse.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <time.h>

enum {
    ERROR_BODY_MAX = 64 * 1024,   /* bytes of a non-2xx or non-SSE body kept for the message */
    DEFAULT_CAP = 256,            /* open-loop in-flight cap */
    MAX_CONCURRENCY = 4096,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

const char *load_mode_name(load_mode m) {
    return m == LOAD_CLOSED ? "concurrency" : m == LOAD_RATE ? "rate" : "poisson";
}

/* ---- random numbers (splitmix64: one 64-bit state, good enough for arrivals and words) ---- */

static uint64_t rand_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so that -log(u) is finite. */
static double rand_unit(uint64_t *s) { return (double)((rand_next(s) >> 11) + 1) * 0x1.0p-53; }

/* ---- SLOs ---- */

int load_parse_slo(const char *spec, load_slo *out, lk_error *err) {
    memset(out, 0, sizeof *out);
    const char *p = spec ? spec : "";
    if (!*p) return lk_errorf(err, LK_EINVAL, "--slo: empty; expected e.g. ttft=500ms,tpot=100ms");
    while (*p) {
        size_t len = strcspn(p, ",");
        char item[128];
        if (len == 0 || len >= sizeof item)
            return lk_errorf(err, LK_EINVAL, "--slo '%s': expected METRIC=VALUE items separated by commas", spec);
        memcpy(item, p, len);
        item[len] = 0;
        p += len + (p[len] == ',');
        char *eq = strchr(item, '=');
        if (!eq) return lk_errorf(err, LK_EINVAL, "--slo: '%s': expected METRIC=VALUE (e.g. ttft=500ms)", item);
        *eq = 0;
        const char *name = item, *val = eq + 1;
        double *dst = strcmp(name, "ttft") == 0 ? &out->ttft_s
                    : strcmp(name, "tpot") == 0 ? &out->tpot_s
                    : strcmp(name, "itl") == 0 ? &out->itl_s
                    : strcmp(name, "e2e") == 0 || strcmp(name, "e2el") == 0 ? &out->e2e_s : NULL;
        if (!dst)
            return lk_errorf(err, LK_EINVAL, "--slo: '%s=%s': unknown metric '%s' (expected ttft, tpot, itl or e2e)",
                             name, val, name);
        char num[64];
        size_t vl = strlen(val), nl = vl;
        double scale = 1e-3; /* bare numbers are milliseconds */
        if (vl > 2 && strcmp(val + vl - 2, "ms") == 0) nl = vl - 2;
        else if (vl > 2 && strcmp(val + vl - 2, "us") == 0) nl = vl - 2, scale = 1e-6;
        else if (vl > 1 && val[vl - 1] == 's') nl = vl - 1, scale = 1;
        double v;
        if (nl == 0 || nl >= sizeof num || (memcpy(num, val, nl), num[nl] = 0, lk_parse_f64(num, &v)) ||
            !isfinite(v) || v <= 0)
            return lk_errorf(err, LK_EINVAL, "--slo: '%s=%s': expected a positive time such as 500ms or 2s", name, val);
        *dst = v * scale;
    }
    return 0;
}

/* ---- prompts ---- */

/* Short, common words: almost every one is a single token (with its leading space) in the
 * Llama, Qwen, GPT and Mistral vocabularies. */
static const char *const words[] = {
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as",
    "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by", "word", "but",
    "not", "what", "all", "were", "we", "when", "your", "can", "said", "there", "use", "an", "each",
    "which", "she", "do", "how", "their", "if", "will", "up", "other", "about", "out", "many", "then",
    "them", "these", "so", "some", "her", "would", "make", "like", "him", "into", "time", "has", "look",
    "two", "more", "write", "go", "see", "number", "no", "way", "could", "people", "my", "than",
    "first", "water", "been", "call", "who", "oil", "its", "now", "find", "long", "down", "day", "did",
    "get", "come", "made", "may", "part", "over", "new", "sound", "take", "only", "little", "work",
    "know", "place", "year", "live", "me", "back", "give", "most", "very", "after", "thing", "our",
    "just", "name", "good", "man", "think", "say", "great", "where", "help", "through", "much",
    "before", "line", "right", "too", "mean", "old", "any", "same", "tell", "boy", "follow", "came",
    "want", "show", "also", "around", "form", "three", "small", "set", "put", "end", "does", "another",
    "well", "large", "must", "big", "even", "such", "because", "turn", "here", "why", "ask", "went",
    "men", "read", "need", "land", "different", "home", "us", "move", "try", "kind", "hand", "picture",
    "again", "change", "off", "play", "spell", "air", "away", "animal", "house", "point", "page",
    "letter", "mother", "answer", "found", "study", "still", "learn", "should", "world", "high",
};

static void prompts_add(load_prompts *p, char *messages, long long approx) {
    p->messages = lk_xrealloc(p->messages, (p->n + 1) * sizeof *p->messages);
    p->approx_tokens = lk_xrealloc(p->approx_tokens, (p->n + 1) * sizeof *p->approx_tokens);
    p->messages[p->n] = messages;
    p->approx_tokens[p->n] = approx;
    p->n++;
}

void load_prompts_synthetic(load_prompts *out, int n_tokens, size_t n, uint64_t seed) {
    memset(out, 0, sizeof *out);
    uint64_t s = seed ^ 0x6C6F6164ull; /* "load" */
    for (size_t k = 0; k < n; k++) {
        lk_buf text = {0}, msg = {0};
        for (int i = 0; i < n_tokens; i++) {
            if (i) lk_buf_putc(&text, ' ');
            lk_buf_puts(&text, words[rand_next(&s) % LK_ARRAY_LEN(words)]);
        }
        lk_buf_puts(&msg, "[{\"role\":\"user\",\"content\":");
        lk_buf_json_str(&msg, text.data ? text.data : "");
        lk_buf_puts(&msg, "}]");
        prompts_add(out, msg.data, n_tokens);
        lk_buf_free(&text);
    }
}

static long long count_words(const char *s) {
    long long n = 0;
    for (bool in = false; s && *s; s++) {
        bool w = !isspace((unsigned char)*s);
        if (w && !in) n++;
        in = w;
    }
    return n;
}

/* Words in a message content: a string, or an array of {"type":"text","text":...} parts. */
static long long content_words(const json_t *c) {
    if (json_is_string(c)) return count_words(json_string_value(c));
    long long n = 0;
    size_t i;
    json_t *part;
    if (json_is_array(c))
        json_array_foreach(c, i, part) n += count_words(json_string_value(json_object_get(part, "text")));
    return n;
}

/* One line of a prompts file: fills *messages (JSON text) or returns an error naming the line. */
static int prompt_line(const char *path, int line, const char *s, char **messages, long long *approx,
                       lk_error *err) {
    json_error_t je;
    json_t *o = json_loads(s, 0, &je);
    int rc = 0;
    if (!o) return lk_errorf(err, LK_EFORMAT, "%s:%d:%d: %s", path, line, je.column, je.text);
    json_t *pr = json_object_get(o, "prompt"), *ms = json_object_get(o, "messages");
    if (!json_is_object(o)) {
        rc = lk_errorf(err, LK_EFORMAT, "%s:%d: expected an object with \"prompt\" or \"messages\"", path, line);
    } else if (pr) {
        if (!json_is_string(pr)) rc = lk_errorf(err, LK_EFORMAT, "%s:%d: \"prompt\" is not a string", path, line);
        else if (!json_string_length(pr)) rc = lk_errorf(err, LK_EFORMAT, "%s:%d: \"prompt\" is empty", path, line);
        else {
            json_t *arr = json_pack("[{s:s, s:O}]", "role", "user", "content", pr);
            *messages = json_dumps(arr, JSON_COMPACT);
            *approx = count_words(json_string_value(pr));
            json_decref(arr);
        }
    } else if (ms) {
        size_t i;
        json_t *m;
        if (!json_is_array(ms) || json_array_size(ms) == 0)
            rc = lk_errorf(err, LK_EFORMAT, "%s:%d: \"messages\" is not a non-empty array", path, line);
        *approx = 0;
        json_array_foreach(ms, i, m) {
            if (rc) break;
            if (!json_is_object(m) || !json_is_string(json_object_get(m, "role")))
                rc = lk_errorf(err, LK_EFORMAT, "%s:%d: messages[%zu] is not an object with a \"role\" string", path,
                               line, i);
            else *approx += content_words(json_object_get(m, "content"));
        }
        if (!rc) *messages = json_dumps(ms, JSON_COMPACT);
    } else {
        rc = lk_errorf(err, LK_EFORMAT, "%s:%d: no \"prompt\" string or \"messages\" array", path, line);
    }
    json_decref(o);
    if (!rc && !*messages) rc = lk_errorf(err, LK_ENOMEM, "%s:%d: out of memory", path, line);
    return rc;
}

int load_prompts_file(load_prompts *out, const char *path, lk_error *err) {
    memset(out, 0, sizeof *out);
    lk_buf b = {0};
    if (lk_read_file(path, &b, err)) return err->code;
    char *p = b.data ? b.data : "";
    int line = 0, rc = 0;
    while (*p && !rc) {
        line++;
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char *s = lk_xstrndup(p, l);
        p = nl ? nl + 1 : p + l;
        if (strspn(s, " \t\r") == strlen(s)) {
            free(s);
            continue;
        }
        char *messages = NULL;
        long long approx = 0;
        rc = prompt_line(path, line, s, &messages, &approx, err);
        free(s);
        if (!rc) prompts_add(out, messages, approx);
    }
    lk_buf_free(&b);
    if (!rc && out->n == 0)
        rc = line ? lk_errorf(err, LK_EINVAL, "%s: no prompts: all %d line%s blank", path, line, line == 1 ? " is" : "s are")
                  : lk_errorf(err, LK_EINVAL, "%s: no prompts: the file is empty", path);
    if (rc) load_prompts_free(out);
    return rc;
}

void load_prompts_free(load_prompts *p) {
    for (size_t i = 0; i < p->n; i++) free(p->messages[i]);
    free(p->messages);
    free(p->approx_tokens);
    memset(p, 0, sizeof *p);
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double load_percentile(const double *sorted, size_t n, double p) {
    if (n == 0) return NAN;
    if (p <= 0) return sorted[0];
    if (p >= 100) return sorted[n - 1];
    double h = (double)(n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return sorted[n - 1];
    return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

void load_stats_of(double *v, size_t n, load_stats *out) {
    out->n = n;
    if (n == 0) {
        out->mean = out->p50 = out->p90 = out->p95 = out->p99 = NAN;
        return;
    }
    qsort(v, n, sizeof *v, cmp_double);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    out->mean = s / (double)n;
    out->p50 = load_percentile(v, n, 50);
    out->p90 = load_percentile(v, n, 90);
    out->p95 = load_percentile(v, n, 95);
    out->p99 = load_percentile(v, n, 99);
}

void load_point_summarize(load_point *p, const load_slo *slo) {
    load_slo none = {0};
    if (!slo) slo = &none;
    size_t n_itl = 0;
    for (size_t i = 0; i < p->n_reqs; i++) n_itl += p->reqs[i].ok && p->reqs[i].n_deltas > 1 ? p->reqs[i].n_deltas - 1 : 0;
    double *ttft = lk_xmalloc((p->n_reqs + 1) * sizeof *ttft), *tpot = lk_xmalloc((p->n_reqs + 1) * sizeof *tpot);
    double *e2e = lk_xmalloc((p->n_reqs + 1) * sizeof *e2e), *itl = lk_xmalloc((n_itl + 1) * sizeof *itl);
    size_t n_ttft = 0, n_tpot = 0, n_e2e = 0;
    n_itl = 0;
    p->completed = p->failed = p->dropped = p->good = 0;
    p->output_tokens = 0;
    for (size_t i = 0; i < p->n_reqs; i++) {
        load_request *r = &p->reqs[i];
        r->ttft_s = r->tpot_s = r->e2e_s = r->max_itl_s = NAN;
        r->meets_slo = false;
        if (!r->ok) {
            p->failed++;
            p->dropped += r->t_start < 0;
            continue;
        }
        p->completed++;
        p->output_tokens += r->output_tokens;
        r->e2e_s = r->t_end - r->t_start;
        if (r->n_deltas) r->ttft_s = r->delta_t[0] - r->t_start;
        if (r->output_tokens > 1 && r->n_deltas) r->tpot_s = (r->e2e_s - r->ttft_s) / (double)(r->output_tokens - 1);
        for (size_t k = 1; k < r->n_deltas; k++) {
            double g = r->delta_t[k] - r->delta_t[k - 1];
            itl[n_itl++] = g;
            if (!(g <= r->max_itl_s)) r->max_itl_s = g; /* NAN at first */
        }
        e2e[n_e2e++] = r->e2e_s;
        if (isfinite(r->ttft_s)) ttft[n_ttft++] = r->ttft_s;
        if (isfinite(r->tpot_s)) tpot[n_tpot++] = r->tpot_s;
        r->meets_slo = (!slo->ttft_s || r->ttft_s <= slo->ttft_s) &&
                       (!slo->tpot_s || !isfinite(r->tpot_s) || r->tpot_s <= slo->tpot_s) &&
                       (!slo->itl_s || !isfinite(r->max_itl_s) || r->max_itl_s <= slo->itl_s) &&
                       (!slo->e2e_s || r->e2e_s <= slo->e2e_s);
        p->good += r->meets_slo;
    }
    load_stats_of(ttft, n_ttft, &p->ttft);
    load_stats_of(tpot, n_tpot, &p->tpot);
    load_stats_of(itl, n_itl, &p->itl);
    load_stats_of(e2e, n_e2e, &p->e2e);
    free(ttft);
    free(tpot);
    free(e2e);
    free(itl);
    double w = p->wall_s > 0 ? p->wall_s : NAN;
    p->req_per_s = p->n_reqs ? (double)p->completed / w : 0;
    p->out_tok_per_s = p->n_reqs ? (double)p->output_tokens / w : 0;
    p->goodput_per_s = p->n_reqs ? (double)p->good / w : 0;
    if (!isfinite(p->req_per_s)) p->req_per_s = p->out_tok_per_s = p->goodput_per_s = 0;
}

/* ---- arrivals ---- */

typedef struct arrivals {
    load_mode mode;
    double rate, t;
    uint64_t rng;
    size_t i;
} arrivals;

static void arrivals_init(arrivals *a, load_mode mode, double rate, uint64_t seed) {
    *a = (arrivals){ .mode = mode, .rate = rate, .rng = seed };
}

/* The next arrival time. */
static double arrivals_next(arrivals *a) {
    double t;
    if (a->mode == LOAD_POISSON) {
        if (a->i > 0) a->t += -log(rand_unit(&a->rng)) / a->rate;
        t = a->t;
    } else {
        t = (double)a->i / a->rate;
    }
    a->i++;
    return t;
}

void load_arrivals(load_mode mode, double rate, uint64_t seed, size_t n, double *out) {
    arrivals a;
    arrivals_init(&a, mode, rate, seed);
    for (size_t i = 0; i < n; i++) out[i] = arrivals_next(&a);
}

/* ---- request bodies ---- */

/* The body for one prompt. Anthropic takes system messages as a top-level "system". */
static char *make_body(const load_config *c, const char *messages) {
    lk_buf b = {0};
    lk_buf_puts(&b, "{\"model\":");
    lk_buf_json_str(&b, c->model);
    lk_buf_printf(&b, ",\"max_tokens\":%d,\"stream\":true", c->max_tokens);
    if (c->ignore_eos) lk_buf_puts(&b, ",\"ignore_eos\":true");
    if (c->api == LOAD_OPENAI) {
        lk_buf_puts(&b, ",\"stream_options\":{\"include_usage\":true},\"messages\":");
        lk_buf_puts(&b, messages);
    } else if (c->api == LOAD_COMPLETIONS) { /* the messages' text, joined */
        json_t *ms = json_loads(messages, 0, NULL);
        lk_buf text = {0};
        size_t i;
        json_t *m;
        json_array_foreach(ms, i, m) {
            const char *t = json_string_value(json_object_get(m, "content"));
            if (!t) continue;
            if (text.len) lk_buf_puts(&text, "\n\n");
            lk_buf_puts(&text, t);
        }
        lk_buf_puts(&b, ",\"stream_options\":{\"include_usage\":true},\"prompt\":");
        lk_buf_json_str(&b, text.data ? text.data : "");
        lk_buf_free(&text);
        json_decref(ms);
    } else {
        json_t *ms = json_loads(messages, 0, NULL), *rest = json_array();
        lk_buf sys = {0};
        size_t i;
        json_t *m;
        json_array_foreach(ms, i, m) {
            const char *role = json_string_value(json_object_get(m, "role"));
            const char *text = json_string_value(json_object_get(m, "content"));
            if (role && strcmp(role, "system") == 0 && text) {
                if (sys.len) lk_buf_puts(&sys, "\n\n");
                lk_buf_puts(&sys, text);
            } else {
                json_array_append(rest, m);
            }
        }
        if (sys.len) {
            lk_buf_puts(&b, ",\"system\":");
            lk_buf_json_str(&b, sys.data);
        }
        char *t = json_dumps(rest, JSON_COMPACT);
        lk_buf_puts(&b, ",\"messages\":");
        lk_buf_puts(&b, t ? t : "[]");
        free(t);
        lk_buf_free(&sys);
        json_decref(rest);
        json_decref(ms);
    }
    lk_buf_putc(&b, '}');
    return b.data;
}

/* The URL for messages: without userinfo and query (where credentials sometimes travel). */
static void url_for_messages(const char *url, char *out, size_t cap) {
    const char *s = strstr(url, "://");
    const char *host = s ? s + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    size_t pre = (size_t)(host - url);
    const char *rest = at ? at + 1 : host;
    size_t rl = strcspn(rest, "?#");
    snprintf(out, cap, "%.*s%.*s", (int)pre, url, (int)rl, rest);
}

/* A copy of msg with every occurrence of key replaced by "[redacted]". */
static char *redact(const char *msg, const char *key) {
    if (!key || !*key || !strstr(msg, key)) return lk_xstrdup(msg);
    lk_buf b = {0};
    size_t kl = strlen(key);
    for (const char *p = msg, *q; *p; p = q + kl) {
        q = strstr(p, key);
        if (!q) {
            lk_buf_puts(&b, p);
            break;
        }
        lk_buf_append(&b, p, (size_t)(q - p));
        lk_buf_puts(&b, "[redacted]");
    }
    return b.data ? b.data : lk_xstrdup("");
}

/* ---- one point ---- */

typedef struct run run;

typedef struct xfer {
    run *run;
    CURL *h;
    size_t ri;                    /* index of the request record */
    sse_parser sse;
    bool checked, sse_ok;         /* status and content type looked at; a 2xx event stream */
    long status;
    char content_type[96];
    lk_buf body;                  /* a non-SSE or non-2xx body (bounded) */
    uint64_t bytes;
    double now;                   /* time of the read being parsed */
    bool done, finished;          /* the end marker; a finish/stop reason */
    char *fail;                   /* an error found in the stream */
    size_t cap_deltas;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

struct run {
    const load_config *c;
    load_point *p;
    CURLM *multi;
    struct curl_slist *headers;
    char url[4096];
    char shown_url[4096];         /* for messages */
    char **bodies;                /* one per prompt */
    double t0;
    size_t cap_reqs;
};

static load_request *req_of(xfer *x) { return &x->run->p->reqs[x->ri]; }

static void set_fail(xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_fail(xfer *x, const char *fmt, ...) {
    if (x->fail) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    x->fail = lk_xstrdup(buf);
}

static void add_delta(xfer *x) {
    load_request *r = req_of(x);
    if (r->n_deltas == x->cap_deltas) {
        x->cap_deltas = x->cap_deltas ? 2 * x->cap_deltas : 64;
        r->delta_t = lk_xrealloc(r->delta_t, x->cap_deltas * sizeof *r->delta_t);
    }
    r->delta_t[r->n_deltas++] = x->now;
}

static bool nonempty_str(const json_t *j) { return json_is_string(j) && json_string_length(j) > 0; }

/* The message of an error object: {"message": ...} or a string. */
static const char *error_message(const json_t *e) {
    if (json_is_string(e)) return json_string_value(e);
    const char *m = json_string_value(json_object_get(e, "message"));
    return m ? m : "(no message)";
}

static int on_event(const sse_event *ev, void *ud, lk_error *err) {
    xfer *x = ud;
    load_request *r = req_of(x);
    const char *d = ev->data;
    size_t n = ev->data_len;
    while (n && isspace((unsigned char)d[n - 1])) n--;
    while (n && isspace((unsigned char)*d)) d++, n--;
    if (x->run->c->api != LOAD_ANTHROPIC && n == 6 && memcmp(d, "[DONE]", 6) == 0) {
        x->done = true;
        return 0;
    }
    if (n == 0) return 0;
    json_error_t je;
    json_t *o = json_loadb(d, n, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        set_fail(x, "a stream event at byte %llu is not a JSON object: %s", (unsigned long long)x->sse.offset, je.text);
        return lk_errorf(err, LK_EFORMAT, "bad event");
    }
    int rc = 0;
    if (x->run->c->api != LOAD_ANTHROPIC) {
        json_t *e = json_object_get(o, "error");
        if (e && !json_is_null(e)) {
            set_fail(x, "error event in the stream: %s", error_message(e));
            rc = lk_errorf(err, LK_EREMOTE, "error event");
        }
        json_t *ch = json_array_get(json_object_get(o, "choices"), 0);
        json_t *delta = json_object_get(ch, "delta");
        if (nonempty_str(json_object_get(delta, "content")) || nonempty_str(json_object_get(delta, "reasoning_content")) ||
            nonempty_str(json_object_get(delta, "reasoning")) || nonempty_str(json_object_get(ch, "text")))
            add_delta(x);
        if (json_is_string(json_object_get(ch, "finish_reason"))) x->finished = true;
        json_t *u = json_object_get(o, "usage");
        if (json_is_object(u)) {
            json_t *ct = json_object_get(u, "completion_tokens"), *pt = json_object_get(u, "prompt_tokens");
            if (json_is_integer(ct)) r->output_tokens = json_integer_value(ct), r->usage_reported = true;
            if (json_is_integer(pt)) r->prompt_tokens = json_integer_value(pt);
        }
    } else {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type) type = ev->type;
        if (strcmp(type, "error") == 0) {
            set_fail(x, "error event in the stream: %s", error_message(json_object_get(o, "error")));
            rc = lk_errorf(err, LK_EREMOTE, "error event");
        } else if (strcmp(type, "message_start") == 0) {
            json_t *u = json_object_get(json_object_get(o, "message"), "usage");
            json_t *it = json_object_get(u, "input_tokens");
            if (json_is_integer(it)) r->prompt_tokens = json_integer_value(it);
        } else if (strcmp(type, "content_block_delta") == 0) {
            json_t *delta = json_object_get(o, "delta");
            if (nonempty_str(json_object_get(delta, "text")) || nonempty_str(json_object_get(delta, "thinking")))
                add_delta(x);
        } else if (strcmp(type, "message_delta") == 0) {
            json_t *ot = json_object_get(json_object_get(o, "usage"), "output_tokens");
            if (json_is_integer(ot)) r->output_tokens = json_integer_value(ot), r->usage_reported = true;
            if (json_is_string(json_object_get(json_object_get(o, "delta"), "stop_reason"))) x->finished = true;
        } else if (strcmp(type, "message_stop") == 0) {
            x->done = true;
        }
    }
    json_decref(o);
    return rc;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud) {
    xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->checked) {
        x->checked = true;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
        char *ct = NULL;
        curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(x->content_type, sizeof x->content_type, "%s", ct ? ct : "");
        x->sse_ok = x->status >= 200 && x->status < 300 && strncasecmp(x->content_type, "text/event-stream", 17) == 0;
    }
    x->bytes += n;
    if (!x->sse_ok) {
        if (x->body.len < ERROR_BODY_MAX) lk_buf_append(&x->body, data, LK_MIN(n, ERROR_BODY_MAX - x->body.len));
        return n;
    }
    x->now = lk_now() - x->run->t0;
    lk_error e = {0};
    if (sse_feed(&x->sse, data, n, on_event, x, &e)) {
        if (!x->fail) set_fail(x, "%s", e.msg);
        return 0; /* stop the transfer */
    }
    return n;
}

/* The message in a non-2xx body: error.message, error (a string), message or detail; else the
 * body's start. */
static void body_message(const lk_buf *body, char *out, size_t cap) {
    json_t *o = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    const char *m = NULL;
    if (json_is_object(o)) {
        json_t *e = json_object_get(o, "error");
        if (e) m = error_message(e);
        if (!m) m = json_string_value(json_object_get(o, "message"));
        if (!m) m = json_string_value(json_object_get(o, "detail"));
    }
    if (m) {
        snprintf(out, cap, "%s", m);
    } else {
        size_t k = 0;
        for (size_t i = 0; i < body->len && i < 200 && k + 1 < cap; i++)
            out[k++] = isprint((unsigned char)body->data[i]) ? body->data[i] : ' ';
        out[k] = 0;
        if (!k) snprintf(out, cap, "(empty body)");
    }
    json_decref(o);
}

static void start_request(run *R, double t_sched, size_t *in_flight);

static void grow_reqs(run *R) {
    load_point *p = R->p;
    if (p->n_reqs == R->cap_reqs) {
        R->cap_reqs = R->cap_reqs ? 2 * R->cap_reqs : 64;
        p->reqs = lk_xrealloc(p->reqs, R->cap_reqs * sizeof *p->reqs);
    }
    load_request *r = &p->reqs[p->n_reqs];
    memset(r, 0, sizeof *r);
    r->index = (int)p->n_reqs;
    r->prompt = (int)(p->n_reqs % R->c->prompts->n);
    r->prompt_tokens = -1;
    r->ttft_s = r->tpot_s = r->e2e_s = r->max_itl_s = NAN;
    p->n_reqs++;
}

static void drop_request(run *R, double t_sched, size_t in_flight) {
    grow_reqs(R);
    load_request *r = &R->p->reqs[R->p->n_reqs - 1];
    r->t_sched = t_sched;
    r->t_start = -1;
    r->t_end = lk_now() - R->t0;
    char buf[160];
    snprintf(buf, sizeof buf, "dropped: %zu requests already in flight (the in-flight cap)", in_flight);
    r->error = lk_xstrdup(buf);
}

static void start_request(run *R, double t_sched, size_t *in_flight) {
    grow_reqs(R);
    size_t ri = R->p->n_reqs - 1;
    load_request *r = &R->p->reqs[ri];
    r->t_sched = t_sched;
    xfer *x = lk_xcalloc(1, sizeof *x);
    x->run = R;
    x->ri = ri;
    sse_init(&x->sse);
    x->h = curl_easy_init();
    if (!x->h) {
        r->t_start = r->t_end = lk_now() - R->t0;
        r->error = lk_xstrdup("libcurl could not make a handle");
        sse_free(&x->sse);
        free(x);
        return;
    }
    const load_config *c = R->c;
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, R->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, R->headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, R->bodies[r->prompt]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(R->bodies[r->prompt]));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "llmkit-load/" LK_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)((c->connect_timeout_s > 0 ? c->connect_timeout_s : 10) * 1000));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)((c->timeout_s > 0 ? c->timeout_s : 600) * 1000));
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    r->t_start = lk_now() - R->t0;
    if (curl_multi_add_handle(R->multi, h) != CURLM_OK) {
        r->t_end = r->t_start;
        r->error = lk_xstrdup("libcurl could not start the request");
        curl_easy_cleanup(h);
        sse_free(&x->sse);
        free(x);
        return;
    }
    (*in_flight)++;
}

/* A transfer ended with result rc: fill its record, free it. */
static void finish_request(run *R, xfer *x, CURLcode rc) {
    load_request *r = req_of(x);
    r->t_end = lk_now() - R->t0;
    if (!x->checked) { /* no body byte came */
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
        char *ct = NULL;
        curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(x->content_type, sizeof x->content_type, "%s", ct ? ct : "");
    }
    r->status = x->status;
    char msg[1400];
    msg[0] = 0;
    if (x->fail) {
        snprintf(msg, sizeof msg, "%s", x->fail);
    } else if (rc != CURLE_OK) {
        const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
        if (r->n_deltas)
            snprintf(msg, sizeof msg, "%.600s: stream cut off after %zu content deltas: %.600s", R->shown_url, r->n_deltas, why);
        else snprintf(msg, sizeof msg, "%.600s: %.600s", R->shown_url, why);
    } else if (x->status < 200 || x->status >= 300) {
        char m[1024];
        body_message(&x->body, m, sizeof m);
        snprintf(msg, sizeof msg, "HTTP %ld: %s", x->status, m);
    } else if (!x->sse_ok) {
        snprintf(msg, sizeof msg, "the answer is not an event stream (Content-Type: %s)",
                 x->content_type[0] ? x->content_type : "none");
    } else if (sse_finish(&x->sse) || !(x->done || x->finished)) {
        snprintf(msg, sizeof msg, "stream cut off after %llu bytes: no %s", (unsigned long long)x->bytes,
                 R->c->api != LOAD_ANTHROPIC ? "finish_reason or [DONE]" : "message_stop");
    } else if (r->n_deltas == 0) {
        snprintf(msg, sizeof msg, "no content in the answer");
    }
    if (msg[0]) {
        r->ok = false;
        r->error = redact(msg, R->c->api_key);
    } else {
        r->ok = true;
        if (!r->usage_reported) r->output_tokens = (long long)r->n_deltas;
    }
    curl_multi_remove_handle(R->multi, x->h);
    curl_easy_cleanup(x->h);
    sse_free(&x->sse);
    lk_buf_free(&x->body);
    free(x->fail);
    free(x);
}

static void report(run *R, size_t total, size_t in_flight, bool force, double *last) {
    const load_config *c = R->c;
    if (!c->progress) return;
    double now = lk_now() - R->t0;
    if (!force && now - *last < 0.1) return;
    *last = now;
    load_progress pr = { .total = total, .elapsed_s = now, .duration_s = c->n_requests ? 0 : c->duration_s,
                         .in_flight = in_flight };
    for (size_t i = 0; i < R->p->n_reqs; i++) {
        const load_request *r = &R->p->reqs[i];
        bool ended = r->ok || r->error;
        pr.done += ended;
        pr.failed += ended && !r->ok;
    }
    c->progress(&pr, c->progress_ud);
}

static void free_run(run *R) {
    if (R->multi) curl_multi_cleanup(R->multi);
    for (struct curl_slist *s = R->headers; s; s = s->next) memset(s->data, 0, strlen(s->data));
    curl_slist_free_all(R->headers);
    for (size_t i = 0; R->bodies && i < R->c->prompts->n; i++) free(R->bodies[i]);
    free(R->bodies);
}

static int check_config(const load_config *c, lk_error *err) {
    if (!c->url || !*c->url) return lk_errorf(err, LK_EINVAL, "load: no URL");
    if (!c->model || !*c->model) return lk_errorf(err, LK_EINVAL, "load: no model name");
    if (!c->prompts || !c->prompts->n) return lk_errorf(err, LK_EINVAL, "load: no prompts");
    if (c->max_tokens <= 0) return lk_errorf(err, LK_EINVAL, "load: max_tokens %d: expected 1 or more", c->max_tokens);
    if (c->n_requests < 0 || (c->n_requests == 0 && !(c->duration_s > 0)))
        return lk_errorf(err, LK_EINVAL, "load: give a number of requests or a duration per point");
    if (c->api_key)
        for (const unsigned char *k = (const unsigned char *)c->api_key; *k; k++)
            if (*k < 0x20 || *k == 0x7f) return lk_errorf(err, LK_EINVAL, "load: the API key contains a control character");
    if (strlen(c->url) > 4000) return lk_errorf(err, LK_EINVAL, "load: the URL is too long");
    return 0;
}

int load_run_point(const load_config *c, load_mode mode, double value, load_point *out, lk_error *err) {
    memset(out, 0, sizeof *out);
    out->mode = mode;
    out->value = value;
    int rc = check_config(c, err);
    if (rc) return rc;
    if (mode == LOAD_CLOSED && !(value >= 1 && value <= MAX_CONCURRENCY && value == floor(value)))
        return lk_errorf(err, LK_EINVAL, "load: concurrency %g: expected a whole number from 1 to %d", value, MAX_CONCURRENCY);
    if (mode != LOAD_CLOSED && !(value > 0 && value <= 1e6))
        return lk_errorf(err, LK_EINVAL, "load: rate %g: expected requests per second above 0", value);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return lk_errorf(err, LK_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));

    run R = { .c = c, .p = out };
    size_t ul = strlen(c->url);
    while (ul && c->url[ul - 1] == '/') ul--;
    const char *path = c->api == LOAD_OPENAI ? "/chat/completions" : c->api == LOAD_COMPLETIONS ? "/completions"
                                                                                             : "/messages";
    snprintf(R.url, sizeof R.url, "%.*s%s", (int)ul, c->url, path);
    url_for_messages(R.url, R.shown_url, sizeof R.shown_url);
    R.headers = curl_slist_append(NULL, "Content-Type: application/json");
    R.headers = curl_slist_append(R.headers, "Accept: text/event-stream");
    R.headers = curl_slist_append(R.headers, "Expect:");
    if (c->api == LOAD_ANTHROPIC) R.headers = curl_slist_append(R.headers, "anthropic-version: 2023-06-01");
    if (c->api_key && *c->api_key) {
        lk_buf h = {0};
        lk_buf_printf(&h, c->api != LOAD_ANTHROPIC ? "Authorization: Bearer %s" : "x-api-key: %s", c->api_key);
        R.headers = curl_slist_append(R.headers, h.data);
        memset(h.data, 0, h.len);
        lk_buf_free(&h);
    }
    R.bodies = lk_xcalloc(c->prompts->n, sizeof *R.bodies);
    for (size_t i = 0; i < c->prompts->n; i++) R.bodies[i] = make_body(c, c->prompts->messages[i]);
    R.multi = curl_multi_init();
    if (!R.multi || !R.headers) {
        free_run(&R);
        return lk_errorf(err, LK_EIO, "libcurl could not start");
    }

    size_t cap = mode == LOAD_CLOSED ? (size_t)value : (size_t)(c->max_in_flight > 0 ? c->max_in_flight : DEFAULT_CAP);
    size_t total = c->n_requests > 0 ? (size_t)c->n_requests : 0;
    size_t issued = 0, in_flight = 0;
    arrivals arr;
    arrivals_init(&arr, mode, value, c->seed);
    double next_at = mode == LOAD_CLOSED ? 0 : arrivals_next(&arr);
    double last_report = -1;
    R.t0 = lk_now();
    for (;;) {
        double now = lk_now() - R.t0;
        /* start what is due */
        if (mode == LOAD_CLOSED) {
            while (in_flight < cap && (total ? issued < total : now < c->duration_s)) {
                start_request(&R, now, &in_flight);
                issued++;
            }
        } else {
            while (next_at <= now && (total ? issued < total : next_at < c->duration_s)) {
                if (in_flight < cap) start_request(&R, next_at, &in_flight);
                else drop_request(&R, next_at, in_flight);
                issued++;
                next_at = arrivals_next(&arr);
            }
        }
        if (in_flight > out->max_in_flight) out->max_in_flight = in_flight;
        bool more = total ? issued < total : (mode == LOAD_CLOSED ? now < c->duration_s : next_at < c->duration_s);
        if (!in_flight && !more) break;

        int running = 0;
        curl_multi_perform(R.multi, &running);
        bool ended = false;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(R.multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            xfer *x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode res = m->data.result;
            finish_request(&R, x, res);
            in_flight--;
            ended = true;
        }
        report(&R, total, in_flight, false, &last_report);
        if (ended) continue;
        /* sleep until a socket is ready, the next arrival is due, or 100 ms (progress, duration) */
        double wait = 0.1;
        now = lk_now() - R.t0;
        if (mode != LOAD_CLOSED && more) wait = LK_MIN(wait, LK_MAX(next_at - now, 0));
        if (mode == LOAD_CLOSED && !total && more) wait = LK_MIN(wait, LK_MAX(c->duration_s - now, 0));
        if (!in_flight) { /* nothing to watch: just wait for the next arrival */
            if (wait > 0) {
                struct timespec ts = { (time_t)wait, (long)((wait - floor(wait)) * 1e9) };
                nanosleep(&ts, NULL);
            }
            continue;
        }
        int ms = (int)ceil(wait * 1000);
        curl_multi_poll(R.multi, NULL, 0, ms, NULL);
    }
    out->wall_s = lk_now() - R.t0;
    report(&R, total, 0, true, &last_report);
    free_run(&R);
    load_point_summarize(out, &c->slo);
    return 0;
}

void load_point_free(load_point *p) {
    for (size_t i = 0; i < p->n_reqs; i++) {
        free(p->reqs[i].error);
        free(p->reqs[i].delta_t);
    }
    free(p->reqs);
    memset(p, 0, sizeof *p);
}

int load_check_server(const load_config *c, lk_error *err) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return lk_errorf(err, LK_EIO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    if (!c->url || strlen(c->url) > 4000) return lk_errorf(err, LK_EINVAL, "load: no URL, or a URL too long");
    char shown[4096];
    url_for_messages(c->url, shown, sizeof shown);
    if (!strstr(c->url, "://") || (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0))
        return lk_errorf(err, LK_EINVAL, "%s: expected an http:// or https:// URL such as http://127.0.0.1:8080/v1", shown);
    CURL *h = curl_easy_init();
    if (!h) return lk_errorf(err, LK_EIO, "libcurl could not make a handle");
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)((c->connect_timeout_s > 0 ? c->connect_timeout_s : 10) * 1000));
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return lk_errorf(err, LK_EIO, "%s: cannot connect: %s", shown, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return 0;
}

int load_warmup(const load_config *c, int n, lk_error *err) {
    if (n <= 0) return 0;
    load_config w = *c;
    w.n_requests = n;
    w.duration_s = 0;
    w.progress = NULL;
    load_point p;
    int rc = load_run_point(&w, LOAD_CLOSED, 1, &p, err);
    if (rc) return rc;
    if (!p.completed) {
        const char *why = p.n_reqs && p.reqs[0].error ? p.reqs[0].error : "no request completed";
        long status = p.n_reqs ? p.reqs[0].status : 0;
        if (status >= 200 && status < 300) /* the server works; this answer failed: count such in the points */
            lk_log(LK_LOG_WARN, "load: warm-up: %s (going on: the server answers)", why);
        else
            rc = lk_errorf(err, status ? LK_EREMOTE : LK_EIO, "warm-up: %s", why);
    }
    load_point_free(&p);
    return rc;
}

/* ---- JSON ---- */

static void num(lk_buf *b, double v) {
    if (isfinite(v)) lk_buf_printf(b, "%.6f", v);
    else lk_buf_puts(b, "null");
}

static void stats_json(lk_buf *b, const char *name, const load_stats *s) {
    lk_buf_printf(b, ",\"%s\":{\"n\":%zu,\"mean\":", name, s->n);
    num(b, s->mean);
    lk_buf_puts(b, ",\"p50\":");
    num(b, s->p50);
    lk_buf_puts(b, ",\"p90\":");
    num(b, s->p90);
    lk_buf_puts(b, ",\"p95\":");
    num(b, s->p95);
    lk_buf_puts(b, ",\"p99\":");
    num(b, s->p99);
    lk_buf_putc(b, '}');
}

void load_json(const load_config *c, const load_point *pts, size_t n_pts, lk_buf *b) {
    char shown[4096];
    url_for_messages(c->url ? c->url : "", shown, sizeof shown);
    lk_buf_puts(b, "{\"url\":");
    lk_buf_json_str(b, shown);
    lk_buf_puts(b, ",\"model\":");
    lk_buf_json_str(b, c->model);
    lk_buf_printf(b, ",\"api\":\"%s\",\"max_tokens\":%d,\"requests_per_point\":",
                  c->api == LOAD_OPENAI ? "openai" : c->api == LOAD_COMPLETIONS ? "completions" : "anthropic",
                  c->max_tokens);
    if (c->n_requests > 0) lk_buf_printf(b, "%d", c->n_requests);
    else lk_buf_puts(b, "null");
    lk_buf_puts(b, ",\"duration_s\":");
    num(b, c->n_requests || !(c->duration_s > 0) ? NAN : c->duration_s);
    lk_buf_printf(b, ",\"seed\":%llu,\"prompts\":%zu,\"ignore_eos\":%s,\"slo\":{", (unsigned long long)c->seed,
                  c->prompts ? c->prompts->n : 0, c->ignore_eos ? "true" : "false");
    const double slo[4] = { c->slo.ttft_s, c->slo.tpot_s, c->slo.itl_s, c->slo.e2e_s };
    const char *slo_names[4] = { "ttft_s", "tpot_s", "itl_s", "e2e_s" };
    bool first = true;
    for (int i = 0; i < 4; i++) {
        if (!slo[i]) continue;
        lk_buf_printf(b, "%s\"%s\":", first ? "" : ",", slo_names[i]);
        num(b, slo[i]);
        first = false;
    }
    lk_buf_puts(b, "},\"points\":[");
    for (size_t k = 0; k < n_pts; k++) {
        const load_point *p = &pts[k];
        if (k) lk_buf_putc(b, ',');
        lk_buf_printf(b, "{\"mode\":\"%s\",\"value\":%g,\"requests\":%zu,\"completed\":%zu,\"failed\":%zu,\"dropped\":%zu,"
                      "\"max_in_flight\":%zu,\"wall_s\":", load_mode_name(p->mode), p->value, p->n_reqs, p->completed,
                      p->failed, p->dropped, p->max_in_flight);
        num(b, p->wall_s);
        lk_buf_printf(b, ",\"output_tokens\":%lld,\"request_throughput\":", p->output_tokens);
        num(b, p->req_per_s);
        lk_buf_puts(b, ",\"output_throughput\":");
        num(b, p->out_tok_per_s);
        lk_buf_printf(b, ",\"good\":%zu,\"goodput\":", p->good);
        num(b, p->goodput_per_s);
        stats_json(b, "ttft_s", &p->ttft);
        stats_json(b, "tpot_s", &p->tpot);
        stats_json(b, "itl_s", &p->itl);
        stats_json(b, "e2e_s", &p->e2e);
        lk_buf_puts(b, ",\"requests_detail\":[");
        for (size_t i = 0; i < p->n_reqs; i++) {
            const load_request *r = &p->reqs[i];
            if (i) lk_buf_putc(b, ',');
            lk_buf_printf(b, "{\"index\":%d,\"prompt\":%d,\"t_sched\":", r->index, r->prompt);
            num(b, r->t_sched);
            lk_buf_puts(b, ",\"t_start\":");
            num(b, r->t_start >= 0 ? r->t_start : NAN);
            lk_buf_puts(b, ",\"t_end\":");
            num(b, r->t_end);
            lk_buf_printf(b, ",\"ok\":%s,\"status\":%ld,\"error\":", r->ok ? "true" : "false", r->status);
            lk_buf_json_str(b, r->error); /* already redacted */
            lk_buf_printf(b, ",\"output_tokens\":%lld,\"prompt_tokens\":", r->output_tokens);
            if (r->prompt_tokens >= 0) lk_buf_printf(b, "%lld", r->prompt_tokens);
            else lk_buf_puts(b, "null");
            lk_buf_printf(b, ",\"usage_reported\":%s,\"deltas\":%zu,\"ttft_s\":", r->usage_reported ? "true" : "false",
                          r->n_deltas);
            num(b, r->ttft_s);
            lk_buf_puts(b, ",\"tpot_s\":");
            num(b, r->tpot_s);
            lk_buf_puts(b, ",\"e2e_s\":");
            num(b, r->e2e_s);
            lk_buf_printf(b, ",\"meets_slo\":%s,\"itl_s\":[", r->meets_slo ? "true" : "false");
            for (size_t d = 1; r->ok && d < r->n_deltas; d++) {
                if (d > 1) lk_buf_putc(b, ',');
                num(b, r->delta_t[d] - r->delta_t[d - 1]);
            }
            lk_buf_puts(b, "]}");
        }
        lk_buf_puts(b, "]}");
    }
    lk_buf_puts(b, "]}\n");
}

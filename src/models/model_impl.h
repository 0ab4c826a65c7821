/* model_impl.h — what the backends of lk_model share (not public).
 *
 * An lk_model is a table of operations and the backend's own state. model.c parses the spec,
 * finds the key and the price, and calls the backend's open function; lk_model_chat() and
 * lk_model_embed() check the request, time the call, fill usage-based cost and pass through
 * to the backend. Backends: local.c (GGUF engine), openai.c (OpenAI and every
 * OpenAI-compatible server), anthropic.c (Messages API), hashembed.c (builtin:hash). */
#ifndef LK_MODEL_IMPL_H
#define LK_MODEL_IMPL_H

#include "llmkit.h"
#include "base/base.h"
#include "models/pricing.h"

typedef struct model_ops {
    /* Run the request. The backend fills out->text (via resp_* helpers), tool calls, finish
     * reason, usage, logprobs and http_status, and calls on_token for each text delta; it calls
     * resp_first_token() at the first content delta so that ttft is measured there. model.c
     * sets timings.total_s, tokens_per_s and cost after it returns. NULL: chat unsupported. */
    int (*chat)(lk_model *m, const lk_request *req, lk_token_cb on_token, void *ud, lk_response *out,
                lk_error *err);
    /* Fill out->data/n/dim/usage (vectors need not be normalised: model.c normalises).
     * NULL: embeddings unsupported. */
    int (*embed)(lk_model *m, const char *const *texts, size_t n, lk_embeddings *out, lk_error *err);
    void (*free)(lk_model *m);
    /* Fill what the backend knows (NULL: nothing beyond model.c's request count). */
    void (*stats)(lk_model *m, lk_model_stats *out);
} model_ops;

struct lk_model {
    const model_ops *ops;
    char *spec;
    const char *backend;          /* "local", "openai", "anthropic", "compat", "builtin" */
    char *name;                   /* model id for APIs, file name for local */
    lk_price price;               /* from the pricing table (known == false: none) */
    void *impl;                   /* the backend's state */
    uint64_t requests;            /* calls finished (atomic) */
};

/* Settings common to the HTTP backends, resolved by model.c from the spec, the environment
 * and lk_model_opts. The key is a secret: it goes into a header and nowhere else. */
typedef struct api_config {
    const char *kind;             /* "openai", "anthropic", "compat" */
    const char *model;            /* the model id sent to the server */
    const char *base_url;         /* without a trailing slash, e.g. https://api.openai.com/v1 */
    const char *api_key;          /* may be NULL (compat servers without auth) */
    int max_attempts;
    double connect_timeout_s, read_timeout_s;
} api_config;

/* Backend constructors: fill m->ops and m->impl (copying what they keep from cfg). */
int openai_open(lk_model *m, const api_config *cfg, lk_error *err);     /* openai and compat */
int anthropic_open(lk_model *m, const api_config *cfg, lk_error *err);
int local_open(lk_model *m, const char *path, const lk_model_opts *opts, lk_error *err);
int hashembed_open(lk_model *m, const char *spec_rest, lk_error *err);  /* "hash" or "hash:DIM" */

/* ---- helpers for building a response ---- */

/* Append text to out->text (keeping it NUL-terminated) and pass it to on_token. Returns false
 * when the callback asked to cancel. */
bool resp_text(lk_response *out, const char *s, size_t n, lk_token_cb on_token, void *ud);
/* Record the first content delta's time (only the first call counts). During a call,
 * out->timings.total_s holds the call's start time (lk_now()), set by model.c; it becomes the
 * duration when the call returns. (The start is per call, not per model: calls may overlap.) */
void resp_first_token(lk_model *m, lk_response *out);
/* Add a warning ("printf" style). */
void resp_warn(lk_response *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add a tool call (strings copied). */
void resp_tool_call(lk_response *out, const char *id, const char *name, const char *arguments);
/* Set a string field (finish_reason, model, id), replacing any earlier value. */
void resp_set(char **field, const char *s);

/* A setting req has that this backend cannot honour: a warning in out, or with req->strict an
 * LK_EUNSUPPORTED error naming the setting and the backend. Returns 0 or the error code. */
int resp_unsupported(const lk_model *m, const lk_request *req, lk_response *out, lk_error *err,
                     const char *setting);

/* Whether a float / int request setting is set (not NAN / -1). */
static inline bool req_set_f(float v) { return v == v; }
static inline bool req_set_i(int v) { return v >= 0; }

/* Remove every occurrence of secret from s in place (replaced with "[redacted]" when room
 * allows, else '*'). Used on provider error messages before they reach an lk_error. */
void redact_secret(char *s, size_t cap, const char *secret);

#endif

/* llmkit.h — the public C API of libllmkit.
 *
 * libllmkit is the library behind the `llmkit` tool: a local GGUF inference engine now, and the
 * lk_model interface over local and API models as it lands (see docs/architecture.md). Every
 * public name starts with lk_. Functions that can fail return 0 on success or an LK_E* code, and
 * fill an lk_error whose message says what was wrong and where (file, offset, key, line). Library
 * code never prints, exits or aborts on bad input. */
#ifndef LLMKIT_H
#define LLMKIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LK_VERSION "0.1.0"

/* Error codes. 0 is success; every failure has one of these and a message. */
enum lk_code {
    LK_OK = 0,
    LK_EIO = 1,          /* a file or socket could not be read or written */
    LK_EFORMAT = 2,      /* input is malformed (GGUF, JSON, ...) */
    LK_EUNSUPPORTED = 3, /* well-formed, but a type/architecture/feature we do not handle */
    LK_EINVAL = 4,       /* a bad argument from the caller */
    LK_ENOMEM = 5,       /* out of memory */
    LK_ERANGE = 6,       /* a value or size outside what is allowed (context full, ...) */
    LK_EREMOTE = 7,      /* a remote API answered with an error (its status and message are in
                            the error's text) */
    LK_ECANCELLED = 8,   /* the caller cancelled */
};

/* An error: a code and a message that names what and where. */
typedef struct lk_error {
    int code;
    char msg[1024];
} lk_error;

/* Fill *err (if not NULL) with code and a printf-style message; returns code, so that
 * `return lk_errorf(err, LK_EFORMAT, "...")` reads naturally. */
int lk_errorf(lk_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing error's message with "what: " (for adding a file name on the way up). */
int lk_error_prefix(lk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short name for an error code ("format error", ...). */
const char *lk_code_name(int code);

/* The library version string, LK_VERSION. */
const char *lk_version(void);

/* Log levels. Library code logs through lk_log(), which writes to stderr at or above the level
 * set here (LK_LOG_WARN by default); this and read-only tables are the only global state. */
enum lk_log_level { LK_LOG_DEBUG = 0, LK_LOG_INFO = 1, LK_LOG_WARN = 2, LK_LOG_ERROR = 3, LK_LOG_OFF = 4 };
void lk_set_log_level(int level);
int lk_log_level(void);

/* ======================================================================================
 * Models: one interface for local GGUF models and API models.
 *
 * Everything that turns a request into text is an lk_model, opened from a spec string:
 *   "path/to/model.gguf"             the local engine
 *   "openai:MODEL"                   the OpenAI API (OPENAI_API_KEY, OPENAI_BASE_URL)
 *   "anthropic:MODEL"                the Anthropic Messages API (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL)
 *   "ollama:MODEL"                   Ollama's OpenAI-compatible API (OLLAMA_HOST, default
 *                                    http://localhost:11434)
 *   "http(s)://HOST[:PORT]/v1#MODEL" any OpenAI-compatible server (vLLM, llama.cpp, llmkit serve)
 *   "builtin:hash"                   a weight-free lexical embedder (embeddings only)
 * Requests, responses and streaming are the same for all of them; see docs/models.md.
 * ====================================================================================== */

typedef struct lk_model lk_model;

/* A tool call: the id the model gave it, the function name and its arguments as JSON text.
 * In a request the strings are the caller's; in an lk_response they are owned by it. */
typedef struct lk_tool_call {
    const char *id;
    const char *name;
    const char *arguments;
} lk_tool_call;

/* One message of a conversation. role is "system", "user", "assistant" or "tool". An assistant
 * message may carry tool calls (content may then be NULL); a tool message answers the call
 * named by tool_call_id with content. */
typedef struct lk_message {
    const char *role;
    const char *content;
    const lk_tool_call *tool_calls;
    size_t n_tool_calls;
    const char *tool_call_id;
} lk_message;

/* A function the model may call: parameters is a JSON Schema (JSON text). */
typedef struct lk_tool {
    const char *name;
    const char *description;
    const char *parameters;
} lk_tool;

/* A logit bias entry: a token id of the model's vocabulary and a bias (-INFINITY bans it). */
typedef struct lk_bias {
    int32_t token;
    float bias;
} lk_bias;

/* A request. Fill with lk_request_init() (every setting unset) and set what you need; a
 * sampling setting left unset uses the backend's default. A setting the backend cannot honour
 * is reported in lk_response.warnings (or, with strict, fails the call with LK_EUNSUPPORTED
 * naming it); it is never silently dropped. */
typedef struct lk_request {
    const lk_message *messages;     /* the conversation; or NULL with prompt set */
    size_t n_messages;
    const char *prompt;             /* plain text completion instead of chat (local and
                                       OpenAI-compatible /v1/completions only) */
    bool no_bos, parse_special;     /* with prompt, local only: BOS handling, special tokens */

    float temperature;              /* NAN: unset */
    float top_p;                    /* NAN: unset */
    int top_k;                      /* -1: unset */
    float min_p;                    /* NAN: unset */
    float typical_p;                /* NAN: unset */
    float repeat_penalty;           /* NAN: unset */
    float frequency_penalty;        /* NAN: unset */
    float presence_penalty;         /* NAN: unset */
    int penalty_last_n;             /* -1: unset; tokens the penalties look back over (local) */
    int mirostat;                   /* -1: unset; 0 off, 1, 2 */
    float mirostat_tau, mirostat_eta; /* NAN: unset */
    bool has_seed;
    uint64_t seed;
    int max_tokens;                 /* 0: the backend's default (local: 256; Anthropic requires
                                       one, 4096 is sent) */
    const char *const *stop;        /* stop strings */
    size_t n_stop;
    const lk_bias *logit_bias;
    size_t n_logit_bias;

    const lk_tool *tools;
    size_t n_tools;
    const char *tool_choice;        /* NULL (auto), "auto", "none", "required", or a tool name */
    const char *response_format;    /* a JSON Schema (JSON text) the answer must follow; NULL: text */
    int logprobs;                   /* 0: none; n > 0: log-probabilities of the chosen tokens and
                                       the top n - 1 alternatives (top_logprobs = n - 1) */

    bool no_cache;                  /* local: evaluate the whole prompt, reusing no KV cache of an
                                       earlier request (cold timings, as compare measures) */
    bool stream;                    /* stream from the backend (the callback is called either way) */
    double timeout_s;               /* whole request, retries included; 0: 600 s */
    bool strict;                    /* unsupported settings fail instead of warning */
    const volatile int *cancel;     /* when set and *cancel becomes nonzero, the call stops
                                       (finish reason "cancelled") */
} lk_request;

/* Every setting unset, everything else zero. */
void lk_request_init(lk_request *r);

/* Tokens of a call. prompt_tokens counts every input token, cached ones included. */
typedef struct lk_usage {
    int64_t prompt_tokens;
    int64_t cached_tokens;          /* read from a prompt cache (OpenAI cached_tokens,
                                       Anthropic cache_read_input_tokens, local prefix reuse) */
    int64_t cache_write_tokens;     /* written to a prompt cache (Anthropic cache_creation_input_tokens) */
    int64_t completion_tokens;
} lk_usage;

/* Wall-clock timings of a call, as the caller saw them. */
typedef struct lk_timings {
    double ttft_s;                  /* request start to the first content delta */
    double total_s;                 /* request start to the end */
    double tokens_per_s;            /* completion tokens / (total_s - ttft_s); 0 when unknown */
} lk_timings;

/* The log-probability of a token, with alternatives when asked for. */
typedef struct lk_top_logprob {
    char *token;
    float logprob;
} lk_top_logprob;
typedef struct lk_logprob {
    char *token;
    float logprob;
    lk_top_logprob *top;
    size_t n_top;
} lk_logprob;

/* A response. Every pointer is owned by it; free with lk_response_free(). */
typedef struct lk_response {
    char *text;                     /* the answer ("" when the model only called tools) */
    size_t text_len;
    lk_tool_call *tool_calls;
    size_t n_tool_calls;
    char *finish_reason;            /* "stop", "length", "tool_calls", "content_filter",
                                       "cancelled" or "error" (partial text kept) */
    char *model;                    /* the model that answered, as the backend names it */
    char *id;                       /* the backend's response id, if any */
    lk_usage usage;
    lk_timings timings;
    double cost_usd;                /* from the pricing table; 0 when unknown (see cost_known) */
    bool cost_known;
    lk_logprob *logprobs;
    size_t n_logprobs;
    char **warnings;                /* settings the backend could not honour, and similar */
    size_t n_warnings;
    int http_status;                /* the final HTTP status for API models, 0 for local ones */
} lk_response;

void lk_response_free(lk_response *r);

/* The response as one line of JSON (text, tool_calls, finish_reason, model, id, usage,
 * timings, cost_usd, logprobs, warnings, http_status); malloc'd, the caller frees it. */
char *lk_response_json(const lk_response *r);

/* Called with each piece of text as it arrives (before the call returns); return false to
 * cancel. May be NULL. */
typedef bool (*lk_token_cb)(const char *text, size_t len, void *ud);

/* Options for opening a model; zero means the default everywhere. */
typedef struct lk_model_opts {
    const char *api_key_file;       /* read the API key from this file (first line) instead of
                                       the environment */
    const char *base_url;           /* override the backend's base URL */
    const char *pricing_file;       /* a pricing JSON file instead of the built-in table */
    int max_attempts;               /* HTTP attempts per request, retries included (0: 4) */
    double connect_timeout_s;       /* 0: 10 s */
    double read_timeout_s;          /* no byte for this long is an error (0: 120 s) */
    /* local models */
    int threads;                    /* 0: the number of cores */
    const char *kv_type;            /* "f16" (NULL), "f32", "q8_0" */
    const char *load;               /* "auto" (NULL), "mmap", "copy" */
    int n_ctx;                      /* tokens per sequence; 0: the model's training context, at most 4096 */
    const char *chat_template;      /* a template family name instead of the detected one */
    int slots;                      /* sequences decoded together by continuous batching (0: 8) */
    int queue;                      /* requests that may wait for a slot before a call fails with
                                       LK_ERANGE "queue full" (0: 64) */
} lk_model_opts;

/* Open a model from a spec string (see above). Returns NULL and fills *err when the spec is
 * malformed, the file cannot be loaded or a key is missing. Nothing is sent over the network. */
lk_model *lk_model_open(const char *spec, lk_error *err);
lk_model *lk_model_open_ex(const char *spec, const lk_model_opts *opts, lk_error *err);

/* The spec the model was opened with, its backend ("local", "openai", "anthropic", "compat",
 * "builtin") and its name (the model id for API models, the file name for local ones). */
const char *lk_model_spec(const lk_model *m);
const char *lk_model_backend(const lk_model *m);
const char *lk_model_name(const lk_model *m);

/* Run a chat (or, with req->prompt, a completion) request. on_token gets each text delta as
 * it arrives, from every backend, streaming or not. Fills *out (call lk_response_free even
 * when this fails: a stream cut off mid-way keeps its partial text with finish reason
 * "error"). A cancel (the callback returned false, or req->cancel was set) is not an error:
 * 0 with finish reason "cancelled" and the text so far. Returns 0 or an error code; provider
 * errors (LK_EREMOTE) carry the provider's message and the HTTP status. */
int lk_model_chat(lk_model *m, const lk_request *req, lk_token_cb on_token, void *ud, lk_response *out,
                  lk_error *err);

/* Embeddings: n vectors of dim floats each, L2-normalised, in the order of the texts. */
typedef struct lk_embeddings {
    float *data;                    /* [n][dim] */
    size_t n, dim;
    lk_usage usage;
    double cost_usd;
    bool cost_known;
} lk_embeddings;

int lk_model_embed(lk_model *m, const char *const *texts, size_t n, lk_embeddings *out, lk_error *err);
void lk_embeddings_free(lk_embeddings *e);

/* What a model has been doing, for /metrics and tests. API models fill only what a client can
 * know (requests); a local model's scheduler fills the rest. */
typedef struct lk_model_stats {
    uint64_t requests;              /* calls finished */
    uint64_t steps;                 /* forward passes (batched: far fewer than tokens) */
    uint64_t tokens_prefilled;      /* prompt tokens evaluated */
    uint64_t tokens_decoded;        /* tokens generated */
    uint64_t prefix_lookups;        /* requests that looked for a cached prefix */
    uint64_t prefix_hits;           /* ... and found one */
    uint64_t tokens_reused;         /* prompt tokens taken from the cache instead of evaluated */
    int running;                    /* sequences being decoded now */
    int waiting;                    /* requests waiting for a slot */
    int kv_used, kv_total;          /* KV cache cells in use (sequences and prefix cache) and in all */
} lk_model_stats;

void lk_model_stats_get(lk_model *m, lk_model_stats *out);

void lk_model_free(lk_model *m);

#ifdef __cplusplus
}
#endif
#endif

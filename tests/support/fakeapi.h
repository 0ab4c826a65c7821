/* fakeapi.h — a loopback HTTP/1.1 server for tests of the API backends.
 *
 * fake_start() binds 127.0.0.1 on a free port and serves from a thread, one connection at a
 * time. Every request is recorded (method, path, headers, body) for the test to inspect. Each
 * request is answered by the next scripted reply, if one is queued (fake_push), else by the
 * handler (fake_set_handler; fake_echo, the echo model of fakeapi_echo.c, speaks the OpenAI and
 * Anthropic formats), else with 404. Scripted replies can do what real servers and networks
 * do to clients: a slow first byte, a body dribbled out in pieces split at arbitrary bytes, a
 * connection cut mid-body, 429 with Retry-After. */
#ifndef LK_FAKEAPI_H
#define LK_FAKEAPI_H

#include <stdbool.h>
#include <stddef.h>

/* A received request. Strings are NUL-terminated and owned by the server. */
typedef struct fake_request {
    char method[16];
    char path[512];               /* with the query string */
    char *headers;                /* the raw header lines, "Name: value\r\n" each */
    char *body;
    size_t body_len;
} fake_request;

/* A reply to send. In fake_push() the strings are copied. */
typedef struct fake_reply {
    int status;                   /* 200 when 0 */
    const char *content_type;     /* "application/json" when NULL */
    const char *headers;          /* extra header lines, each ending in "\r\n" (e.g. Retry-After) */
    const char *body;
    size_t body_len;              /* strlen(body) when 0 */
    bool chunked;                 /* Transfer-Encoding: chunked instead of Content-Length */
    size_t split;                 /* > 0: write the body in pieces of at most this many bytes */
    bool random_split;            /* pieces of random length 1..split (seeded, reproducible) */
    double first_byte_delay_s;    /* wait this long before the status line */
    double piece_delay_s;         /* wait this long between pieces */
    size_t cut_after;             /* > 0: close the connection after this many body bytes */
} fake_reply;

/* A handler fills *out for req; body may point to memory it allocates and sets *to_free to
 * (freed after sending). Returns false to answer 404. */
typedef bool (*fake_handler)(const fake_request *req, fake_reply *out, char **to_free, void *ud);

typedef struct fake_server fake_server;

fake_server *fake_start(void);                 /* NULL if no socket could be bound */
void fake_stop(fake_server *s);                /* close, join the thread, free everything */
int fake_port(const fake_server *s);
/* "http://127.0.0.1:PORT" (owned by s). */
const char *fake_base(const fake_server *s);

void fake_push(fake_server *s, const fake_reply *r);
void fake_set_handler(fake_server *s, fake_handler h, void *ud);

/* Requests received so far, and the i-th (valid until fake_stop; i < fake_count). */
int fake_count(fake_server *s);
const fake_request *fake_get(fake_server *s, int i);
/* The value of header name (case-insensitive) in request i, copied to buf; NULL if absent. */
const char *fake_header(fake_server *s, int i, const char *name, char *buf, size_t cap);

/* ---- fakeapi_echo.c: the echo model ----
 *
 * Answers, exactly in the documented wire formats (JSON, or SSE when "stream": true):
 *   POST /v1/chat/completions   OpenAI Chat Completions (stream_options.include_usage honoured)
 *   POST /v1/completions        OpenAI legacy completions
 *   POST /v1/embeddings         OpenAI embeddings (deterministic vectors, dim 8)
 *   GET  /v1/models             the model list
 *   POST /v1/messages           Anthropic Messages (message_start ... message_stop, ping)
 * The answer is "echo: " and the last user message's words, one word per token; with a
 * temperature above 0 the words are drawn (seeded by "seed" when given) from that message, so
 * that samples differ; max_tokens cuts it ("length" / "max_tokens"); a stop string ends it. A
 * user message containing "call:NAME" makes it call tool NAME with {"q": "<the message>"}. With a key
 * set (fake_echo_opts.key) a missing or wrong Authorization / x-api-key gets each provider's 401
 * body, which, like OpenAI's, quotes part of the key it was given. */
typedef struct fake_echo_opts {
    const char *key;              /* NULL: no auth */
    int split;                    /* > 0: stream bodies in pieces of random length 1..split */
} fake_echo_opts;
bool fake_echo(const fake_request *req, fake_reply *out, char **to_free, void *ud /* fake_echo_opts* or NULL */);

#endif

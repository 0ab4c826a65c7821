/* server.h — `llmkit serve`: an OpenAI- and Anthropic-compatible HTTP server over lk_model.
 *
 * A server holds models by name (any lk_model: local GGUF files, API models proxied through
 * their backend), listens on host:port with libmicrohttpd (a thread per connection, up to a
 * cap) and answers /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models (OpenAI),
 * /v1/messages (Anthropic), /health and /metrics (Prometheus). Requests are validated field by
 * field; whatever a model cannot honour is a 400 naming the field. Streams are SSE fed by a
 * worker thread per generation; a client that goes away cancels its generation at once.
 * See docs/serve.md. */
#ifndef LK_SERVER_H
#define LK_SERVER_H

#include "llmkit.h"

typedef struct srv_opts {
    const char *host;             /* address to listen on (NULL: "127.0.0.1") */
    int port;                     /* 0: any free port (srv_port() says which) */
    int max_connections;          /* connections at once (0: 256); more are closed at accept */
    size_t max_body;              /* request body bytes (0: 4 MiB); more is 413 */
    int max_tokens;               /* largest max_tokens a request may ask for (0: 4096) */
    double request_timeout_s;     /* a generation running longer is cut (0: 600 s) */
    double idle_timeout_s;        /* an idle connection is closed after this (0: 120 s) */
    const char *const *api_keys;  /* accepted keys (Authorization: Bearer or x-api-key); none: open */
    size_t n_api_keys;
} srv_opts;

typedef struct srv_server srv_server;

/* A server with these options (copied; the keys too). Nothing listens until srv_start. */
srv_server *srv_new(const srv_opts *o);

/* Serve model m under name (the "model" field of requests). The server borrows m: free it after
 * srv_free. Fails with LK_EINVAL for an empty or duplicate name. */
int srv_add_model(srv_server *s, const char *name, lk_model *m, lk_error *err);

/* Bind host:port and start answering. LK_EIO when the address cannot be bound. */
int srv_start(srv_server *s, lk_error *err);

/* The port bound (the chosen one when opts.port was 0); 0 before srv_start. */
int srv_port(const srv_server *s);

/* Graceful stop: stop accepting connections, answer 503 to new requests on open ones, let
 * running requests finish for up to deadline_s seconds, then cancel what is left, and close.
 * Returns how many requests had to be cancelled. srv_free stops a server still running. */
int srv_stop(srv_server *s, double deadline_s);

/* Requests being answered now (for tests and the stop message). */
int srv_in_flight(srv_server *s);

void srv_free(srv_server *s);

/* Read API keys from a file, one per line (blank lines and lines starting with '#' skipped).
 * *keys is a malloc'd array of malloc'd strings; free with srv_keys_free. */
int srv_load_keys(const char *path, char ***keys, size_t *n, lk_error *err);
void srv_keys_free(char **keys, size_t n);

#endif

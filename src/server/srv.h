/* srv.h — what the files of the server share (not public): the server object, a request in
 * progress, a generation running in a worker thread, error replies, JSON and metrics helpers.
 *
 * server.c owns the HTTP side (libmicrohttpd, routing, keys, limits, workers, stop);
 * openai.c and anthropic.c turn their API's requests into lk_requests and responses into
 * their API's JSON and SSE; metrics.c counts and prints /metrics. */
#ifndef LK_SRV_H
#define LK_SRV_H

#include "server/server.h"
#include "base/base.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

/* Endpoints, for routing and for the metrics' endpoint label. */
enum srv_endpoint {
    SRV_EP_CHAT, SRV_EP_COMPLETIONS, SRV_EP_EMBEDDINGS, SRV_EP_MODELS, SRV_EP_MESSAGES,
    SRV_EP_HEALTH, SRV_EP_METRICS, SRV_EP_OTHER, SRV_EP_N
};
const char *srv_endpoint_name(int ep);

/* Which API's error shape a reply takes. */
enum srv_api { SRV_OPENAI, SRV_ANTHROPIC };

/* ---- metrics ---- */

#define SRV_HIST_MAX 24
typedef struct srv_hist {
    const double *bounds;         /* upper bounds, ascending */
    int n;
    uint64_t counts[SRV_HIST_MAX + 1]; /* per bucket (not cumulative); the last is +Inf */
    double sum;
    uint64_t count;
} srv_hist;

typedef struct srv_metrics {
    pthread_mutex_t mu;
    uint64_t requests[SRV_EP_N][600];  /* by endpoint and HTTP status */
    srv_hist ttft, tpot, e2e;
} srv_metrics;

void srv_metrics_init(srv_metrics *m);
void srv_metrics_free(srv_metrics *m);
void srv_metrics_request(srv_metrics *m, int ep, int status);
/* A finished generation: time to first token (< 0: none), time per output token (< 0: none),
 * end to end. */
void srv_metrics_generation(srv_metrics *m, double ttft, double tpot, double e2e);

/* ---- the server ---- */

typedef struct srv_model {
    char *name;
    lk_model *m;
    long long created;            /* unix time it was added, for /v1/models */
    /* counters (atomic) */
    uint64_t prompt_tokens, cached_tokens, generated_tokens;
    int in_flight;
} srv_model;

typedef struct srv_call srv_call;

struct srv_server {
    srv_opts o;
    char **keys;
    size_t n_keys;
    srv_model *models;
    size_t n_models;
    struct MHD_Daemon *d;
    int listen_fd;
    int port;
    int stopping;                 /* atomic */
    int in_flight;                /* requests being answered (atomic) */
    pthread_mutex_t mu;           /* guards calls and ids */
    srv_call *calls;              /* generations running, for stop */
    uint64_t next_id;
    uint64_t id_salt;
    srv_metrics metrics;
};

/* One HTTP request, from its headers to its completion. */
typedef struct srv_conn {
    srv_server *s;
    struct MHD_Connection *mc;
    int ep;
    int api;
    int status;                   /* the status sent (for metrics) */
    lk_buf body;
    bool too_big;
    bool answered;
    bool counted;
} srv_conn;

/* An error reply: HTTP status, the API's error type and code, the field it is about. */
typedef struct srv_err {
    int status;
    const char *type;             /* NULL: the default for the status and API */
    const char *code;             /* OpenAI "code" (NULL: null) */
    char param[128];              /* OpenAI "param" ("" : null) */
    char msg[1100];
    int retry_after;              /* > 0: a Retry-After header */
} srv_err;

int srv_errf(srv_err *e, int status, const char *param, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Send an error in the API's shape; returns MHD's result. */
enum MHD_Result srv_reply_error(srv_conn *c, int api, const srv_err *e);
/* Send JSON (taken: it is decref'd) with a status. */
enum MHD_Result srv_reply_json(srv_conn *c, int status, json_t *body);
enum MHD_Result srv_reply_text(srv_conn *c, int status, const char *content_type, const char *text, size_t len);

/* The model served under name, or NULL. */
srv_model *srv_find_model(srv_server *s, const char *name);
/* A fresh id: prefix and 24 hex digits. */
void srv_new_id(srv_server *s, const char *prefix, char *out, size_t cap);

/* ---- a generation ---- */

/* How an API writes its stream; called with the call's lock held. */
typedef struct srv_stream_ops {
    void (*delta)(srv_call *c, const char *text, size_t len);
    void (*end)(srv_call *c);     /* after the model returned: the closing events (or an error) */
} srv_stream_ops;

struct srv_call {
    srv_server *s;
    srv_model *model;
    srv_conn *conn;
    int api;
    lk_request req;
    int cancel;                   /* req.cancel points here (atomic) */
    bool stream;
    const srv_stream_ops *ops;
    void *state;                  /* the API's: request JSON, converted messages, ids */
    void (*free_state)(void *state);

    pthread_t th;
    bool th_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lk_buf out;                   /* SSE bytes not yet sent */
    size_t out_off;
    bool first, done;
    bool timed_out, client_gone;
    int fd;                       /* the client's socket, watched for a hang-up */
    double t0, t_first, deadline;
    int rc;
    lk_error err;
    lk_response res;
    srv_call *next, *prev;
};

/* A call for model on this connection; the API fills req, stream, ops and state. */
srv_call *srv_call_new(srv_conn *conn, srv_model *model, int api);
/* Run the call in its worker thread and answer: when it fails before any text, with the
 * API's error; when it is not streamed, with done(c) (the API's JSON for c->res); when streamed,
 * with an SSE response fed as text arrives. Takes ownership of c. */
enum MHD_Result srv_call_answer(srv_call *c, json_t *(*done)(srv_call *c));
/* Free a call that was never answered (its request failed validation). */
void srv_call_free_unstarted(srv_call *c);
/* The error for a failed call (status by code: 400 for bad settings and unsupported fields,
 * 429 for a full queue, 502 for remote errors, 504 for a timeout, 500 otherwise). */
void srv_call_error(const srv_call *c, srv_err *e);
/* Append one SSE event to c->out (event NULL: data only). */
void srv_sse(srv_call *c, const char *event, json_t *data);

/* ---- JSON helpers ---- */

/* A JSON string of s[0..n) (invalid UTF-8 replaced by U+FFFD; NULL s: null). */
json_t *srv_jstr(const char *s, size_t n);
json_t *srv_jcstr(const char *s);
/* Compact text of j (malloc'd). */
char *srv_dump(const json_t *j);
const char *srv_json_type(const json_t *j);

/* A field of a JSON object checked: absent (or null) leaves *out alone and returns 0; the
 * wrong type or range fills e (400, naming field) and returns -1. */
int srv_get_bool(json_t *o, const char *field, bool *out, srv_err *e);
int srv_get_num(json_t *o, const char *field, double lo, double hi, float *out, srv_err *e);
int srv_get_int(json_t *o, const char *field, long long lo, long long hi, long long *out, srv_err *e);
int srv_get_str(json_t *o, const char *field, const char **out, srv_err *e);

/* The strings a request points to, kept until the call ends. */
typedef struct srv_strs {
    char **v;
    size_t n;
} srv_strs;
const char *srv_keep(srv_strs *k, char *s);   /* takes s */
void srv_strs_free(srv_strs *k);

/* ---- the APIs ---- */

enum MHD_Result srv_openai_chat(srv_conn *c, json_t *body);
enum MHD_Result srv_openai_completions(srv_conn *c, json_t *body);
enum MHD_Result srv_openai_embeddings(srv_conn *c, json_t *body);
enum MHD_Result srv_models_list(srv_conn *c, const char *id);
enum MHD_Result srv_anthropic_messages(srv_conn *c, json_t *body);
/* The /metrics page. */
void srv_metrics_text(srv_server *s, lk_buf *out);

#endif

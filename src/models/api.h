/* api.h — the response side of the API backends (openai.c, anthropic.c), exposed for the
 * fuzz targets and tests.
 *
 * An api_parse turns what a provider sends back into an lk_response: either a whole JSON body
 * (api_body) or an event stream fed in pieces split anywhere (api_feed, then api_end). The
 * bookkeeping every stream needs lives here, shared by both providers: SSE framing, text
 * deltas through resp_text (and on_token), the first-delta time, tool calls assembled from
 * fragments, cancellation from the callback, and telling a stream that ended properly from
 * one that was cut off. The provider supplies two functions: one for a whole body and one for
 * a single SSE event. */
#ifndef LK_API_H
#define LK_API_H

#include "models/model_impl.h"
#include "models/sse.h"

/* A tool call being assembled from stream fragments. */
typedef struct api_tool_acc {
    long index;                   /* the provider's index (OpenAI tool index, Anthropic block) */
    char *id, *name;
    lk_buf args;                  /* argument JSON text, fragments appended */
} api_tool_acc;

typedef struct api_parse api_parse;
/* Handle one SSE event (type, data). Return 0, or an error code with p->err filled. */
typedef int (*api_event_fn)(api_parse *p, const char *type, const char *data, size_t len);
/* Handle a whole JSON body. Same return convention. */
typedef int (*api_body_fn)(api_parse *p, const char *body, size_t len);

struct api_parse {
    lk_model *m;                  /* spec for messages */
    lk_response *out;
    lk_token_cb on_token;
    void *ud;
    lk_error *err;
    const char *secret;           /* the API key, redacted from every message (may be NULL) */
    api_event_fn on_event;
    api_body_fn on_body;
    bool legacy;                  /* OpenAI: the /completions shapes instead of chat */

    sse_parser sse;
    uint64_t bytes;               /* stream bytes received */
    int mode;                     /* 0: nothing yet, 1: SSE, 2: a JSON body where a stream was asked for */
    lk_buf json;                  /* that JSON body */
    bool done;                    /* the stream's end marker arrived ([DONE], message_stop) */
    bool finished;                /* a finish reason arrived */
    bool need_marker;             /* only the end marker proves a complete stream (Anthropic) */
    bool cancelled;               /* on_token returned false */
    int rc;                       /* the first error; once set (or cancelled) input is ignored */
    api_tool_acc *tools;
    size_t n_tools;
};

/* Start parsing into out (which the caller zeroed). secret may be NULL. Set on_event / on_body
 * with openai_parser() or anthropic_parser() before feeding. */
void api_parse_init(api_parse *p, lk_model *m, lk_response *out, lk_token_cb on_token, void *ud,
                    lk_error *err, const char *secret);
void api_parse_free(api_parse *p);
void openai_parser(api_parse *p, bool legacy);
void anthropic_parser(api_parse *p);

/* A whole non-streaming body: fills text (on_token called once), tool calls, finish reason,
 * usage, logprobs, id and model. Returns 0 (also when cancelled: see p->cancelled) or an error. */
int api_body(api_parse *p, const char *body, size_t len);

/* Stream bytes as they arrive. Returns 0 to go on; nonzero (an error code, or LK_ECANCELLED
 * when the callback cancelled) means stop reading. */
int api_feed(api_parse *p, const char *data, size_t len);

/* The stream ended. Adds the assembled tool calls; returns 0 when it ended properly or was
 * cancelled, p->rc when an event failed, or LK_EIO "stream cut off after N bytes" when the
 * end marker never came. Sets the finish reason "cancelled" / "error" accordingly. */
int api_end(api_parse *p);

/* ---- used by the providers' parsers ---- */

/* JSON whitespace (NUL is not). */
static inline bool api_is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Text delta: the first non-empty one sets ttft; false when the callback cancelled. */
bool api_text(api_parse *p, const char *s, size_t n);
/* The tool call with this index, created (and ttft set) at its first fragment. */
api_tool_acc *api_tool(api_parse *p, long index);
/* Move assembled tool calls into out (empty arguments become "{}"). */
void api_flush_tools(api_parse *p);
/* Set the finish reason from a provider's word: stop, end_turn, stop_sequence -> "stop";
 * length, max_tokens -> "length"; tool_calls, function_call, tool_use -> "tool_calls";
 * content_filter, refusal -> "content_filter"; anything else -> "stop" with a warning. */
void api_finish_reason(api_parse *p, const char *reason);
/* An error the provider reported (HTTP body or stream event): LK_EREMOTE
 * "<spec>: <where>: <message> (<type>/<code>)", the key redacted. */
int api_remote_error(api_parse *p, const char *where, const char *message, const char *type,
                     const char *code);

#endif

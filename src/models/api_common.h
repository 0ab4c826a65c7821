/* api_common.h — what openai.c and anthropic.c share on the request side: their copy of the
 * configuration, small jansson helpers, one POST-and-parse exchange over http.c, and turning a
 * provider's error body into an LK_EREMOTE message (the API key always redacted). */
#ifndef LK_API_COMMON_H
#define LK_API_COMMON_H

#include <jansson.h>

#include "models/api.h"

/* The backend's own copy of api_config (strings owned). */
typedef struct api_conf {
    char *kind, *model, *base_url, *api_key;
    int max_attempts;
    double connect_timeout_s, read_timeout_s;
} api_conf;

void api_conf_copy(api_conf *dst, const api_config *src);
void api_conf_free(api_conf *c);      /* wipes the key before freeing it */
/* model_ops.free of the HTTP backends, whose state starts with its api_conf. */
void api_model_free(lk_model *m);

/* A float request setting as the shortest decimal that reads back as the same float, so that
 * 0.7f is sent as 0.7, not 0.699999988. */
json_t *api_json_float(float f);
/* Compact JSON text of j (malloc'd). */
char *api_json_dump(const json_t *j);
/* Parse JSON text that must be an object (a schema, tool arguments). NULL with *why filled
 * when it is not JSON or not an object. */
json_t *api_json_object(const char *text, char *why, size_t why_cap);
/* Parse an answer (what names it in errors: "the answer", "a stream event") that must be a JSON
 * object. NULL with *rc = LK_EFORMAT and p->err naming the line and column otherwise. */
json_t *api_load_object(api_parse *p, const char *s, size_t len, const char *what, int *rc);
/* A string member, or NULL. */
const char *api_jstr(const json_t *o, const char *key);
/* An integer member, or 0 when absent or not an integer. */
int64_t api_jint(const json_t *o, const char *key);
/* A string or integer member as text in buf ("" when absent or null). */
const char *api_jtext(const json_t *o, const char *key, char *buf, size_t cap);

/* POST body to url and parse the answer into p: streaming (stream true) through api_feed and
 * api_end, else as a whole body through api_body. Sets p->out->http_status; a non-2xx answer
 * is an LK_EREMOTE error with the provider's message. Timeouts and attempts come from c, the
 * deadline and the cancel flag from req. On failure the finish reason is "error" (or
 * "cancelled" for the cancel flag, which returns LK_ECANCELLED); a callback that cancels gives
 * "cancelled" and 0. */
int api_post(const api_conf *c, const lk_request *req, const char *url, const char *const *headers,
             size_t n_headers, const char *body, bool stream, api_parse *p);

/* A POST whose 2xx JSON body is returned parsed in *out (embeddings); same errors as above. */
int api_post_json(const api_conf *c, const lk_model *m, const char *url, const char *const *headers,
                  size_t n_headers, const char *body, json_t **out, lk_error *err);

/* The error for a non-2xx answer: "<spec>: HTTP <status>: <message> (<type>/<code>)" from
 * {"error":{"message","type","code"}} (OpenAI, Anthropic), {"error":"..."} or a top-level
 * "message" (vLLM); otherwise the body's first 200 bytes. Returns LK_EREMOTE. */
int api_http_error(const lk_model *m, long status, const char *body, size_t len, const char *secret,
                   lk_error *err);

#endif

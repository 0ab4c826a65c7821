/* pricing.c — per-million-token prices from a JSON table, and what a call costs.
 *
 * The table (data/pricing.json, embedded by pricing_data.c; or a file) is parsed and checked in
 * full on every lookup: every price must be a non-negative number, so that a broken user file
 * fails at once with the field named, not later when a model happens to need the bad entry.
 * Parsing the built-in table takes some tens of microseconds, once per call at most; nothing is
 * cached (no global state).
 *
 * Lookup of backend:model: the exact key, else the longest key "backend:K" such that the model
 * id is K followed by a snapshot suffix, '-' and a digit or "-latest" ("gpt-4o-mini-2024-07-18"
 * → "openai:gpt-4o-mini", never "openai:gpt-4o"; "claude-3-5-haiku-latest" →
 * "anthropic:claude-3-5-haiku"; "o3-deep-research" has no price unless listed). */
#include "models/pricing.h"
#include "base/base.h"

#include <jansson.h>
#include <math.h>

extern const char pricing_builtin_json[];
extern const size_t pricing_builtin_json_size;

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "a number";
    }
}

/* Read one price field of entry key into *out. A missing field leaves *out alone and sets
 * *present to false (when present is not NULL; otherwise it is required). */
static int price_field(json_t *entry, const char *name, const char *key, const char *field, double *out,
                       bool *present, lk_error *err) {
    json_t *v = json_object_get(entry, field);
    if (!v) {
        if (present) {
            *present = false;
            return LK_OK;
        }
        return lk_errorf(err, LK_EFORMAT, "%s: models.%s.%s: missing (a price per million tokens is required)",
                         name, key, field);
    }
    if (!json_is_number(v))
        return lk_errorf(err, LK_EFORMAT, "%s: models.%s.%s: expected a non-negative number, got %s", name, key,
                         field, json_kind(v));
    double d = json_number_value(v);
    if (!(d >= 0) || !isfinite(d))
        return lk_errorf(err, LK_EFORMAT, "%s: models.%s.%s: expected a non-negative number, got %g", name, key,
                         field, d);
    *out = d;
    if (present) *present = true;
    return LK_OK;
}

/* Check one entry and read its prices (defaults applied) into *p. */
static int read_entry(json_t *entry, const char *name, const char *key, lk_price *p, lk_error *err) {
    if (!json_is_object(entry))
        return lk_errorf(err, LK_EFORMAT, "%s: models.%s: expected an object of prices", name, key);
    lk_price q = { .known = true };
    bool has_cached, has_write;
    int rc;
    if ((rc = price_field(entry, name, key, "input", &q.input, NULL, err)) ||
        (rc = price_field(entry, name, key, "output", &q.output, NULL, err)) ||
        (rc = price_field(entry, name, key, "cached_input", &q.cached_input, &has_cached, err)) ||
        (rc = price_field(entry, name, key, "cache_write", &q.cache_write, &has_write, err)))
        return rc;
    if (!has_cached) q.cached_input = q.input;
    if (!has_write) q.cache_write = q.input;
    *p = q;
    return LK_OK;
}

/* Is model the name k (a key without its "backend:") with a snapshot suffix: '-' and a digit
 * (a date or version: "-2024-07-18", "-20241022", "-0125") or "-latest"? A different model
 * that merely starts with k ("gpt-4o-mini" for "gpt-4o", "o3-deep-research" for "o3") is not. */
static bool prefix_matches(const char *model, const char *k) {
    size_t n = strlen(k);
    if (n == 0 || strncmp(model, k, n) != 0) return false;
    if (model[n] == 0) return true;
    return model[n] == '-' && ((model[n + 1] >= '0' && model[n + 1] <= '9') || strcmp(model + n + 1, "latest") == 0);
}

int pricing_lookup_text(const char *json, size_t len, const char *name, const char *backend,
                        const char *model, lk_price *price, lk_error *err) {
    *price = (lk_price){0};
    if (!name) name = "pricing table";
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) return lk_errorf(err, LK_EFORMAT, "%s:%d:%d: %s", name, je.line, je.column, je.text);

    int rc = LK_OK;
    json_t *models = json_is_object(root) ? json_object_get(root, "models") : NULL;
    if (!json_is_object(root)) {
        rc = lk_errorf(err, LK_EFORMAT, "%s: expected a JSON object with a \"models\" object", name);
        goto done;
    }
    if (!json_is_object(models)) {
        rc = lk_errorf(err, LK_EFORMAT, "%s: models: %s", name,
                       models ? "expected an object keyed by \"backend:model\"" : "missing \"models\" object");
        goto done;
    }

    size_t blen = backend ? strlen(backend) : 0;
    size_t best_len = 0;
    bool exact = false;
    const char *key;
    json_t *entry;
    json_object_foreach(models, key, entry) {
        lk_price p;
        if ((rc = read_entry(entry, name, key, &p, err))) goto done;
        if (!backend || !model || exact) continue;
        if (strncmp(key, backend, blen) != 0 || key[blen] != ':') continue;
        const char *k = key + blen + 1;
        if (strcmp(k, model) == 0) {
            *price = p;
            exact = true;
        } else if (prefix_matches(model, k) && strlen(k) > best_len) {
            *price = p;
            best_len = strlen(k);
        }
    }
done:
    if (rc) *price = (lk_price){0};
    json_decref(root);
    return rc;
}

int pricing_lookup(const char *path, const char *backend, const char *model, lk_price *price, lk_error *err) {
    *price = (lk_price){0};
    if (!path) {
        const char *env = getenv("LLMKIT_PRICING");
        if (env && *env) path = env;
    }
    if (!path)
        return pricing_lookup_text(pricing_builtin_json, pricing_builtin_json_size, "built-in pricing table",
                                   backend, model, price, err);
    lk_buf text = {0};
    int rc = lk_read_file(path, &text, err);
    if (rc == LK_OK) rc = pricing_lookup_text(text.data, text.len, path, backend, model, price, err);
    lk_buf_free(&text);
    return rc;
}

double pricing_cost(const lk_price *price, const lk_usage *u) {
    if (!price || !price->known || !u) return 0;
    double prompt = u->prompt_tokens > 0 ? (double)u->prompt_tokens : 0;
    double cached = u->cached_tokens > 0 ? (double)u->cached_tokens : 0;
    double written = u->cache_write_tokens > 0 ? (double)u->cache_write_tokens : 0;
    double completion = u->completion_tokens > 0 ? (double)u->completion_tokens : 0;
    double uncached = prompt - cached - written;
    if (uncached < 0) uncached = 0; /* inconsistent counts: never a negative charge */
    return (uncached * price->input + cached * price->cached_input + written * price->cache_write +
            completion * price->output) / 1e6;
}

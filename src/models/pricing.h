/* pricing.h — what a call costs, from a table of per-million-token prices.
 *
 * The table is data/pricing.json, built into the binary; a file given in lk_model_opts or
 * LLMKIT_PRICING replaces it. Entries are keyed by "backend:model" ("openai:gpt-4o-mini",
 * "anthropic:claude-sonnet-4-5", "local:NAME"); a dated snapshot ("gpt-4o-mini-2024-07-18",
 * "claude-3-5-haiku-20241022") takes the price of the longest key it starts with. */
#ifndef LK_PRICING_H
#define LK_PRICING_H

#include "llmkit.h"

typedef struct lk_price {
    bool known;
    double input;                 /* USD per million uncached input tokens */
    double output;                /* USD per million output tokens */
    double cached_input;          /* per million tokens read from a prompt cache */
    double cache_write;           /* per million tokens written to a prompt cache */
} lk_price;

/* Look up backend:model in the table: the file at path, else the file named by LLMKIT_PRICING
 * (when set and not empty), else the built-in one. A missing entry is not an error: *price gets
 * known = false. A missing cached_input or cache_write price is the input price. The whole table
 * is checked: malformed JSON is LK_EFORMAT "FILE:LINE:COL: message", a price that is not a
 * non-negative number or a missing "models" object is LK_EFORMAT naming the file and the field
 * ("models.openai:gpt-4o.input"); an unreadable file is LK_EIO. On error *price is unknown. */
int pricing_lookup(const char *path, const char *backend, const char *model, lk_price *price, lk_error *err);

/* Cost in USD of usage at price: uncached input (prompt - cached - cache_write) at input,
 * cached at cached_input, cache writes at cache_write, completion at output. 0 when the price is
 * unknown; negative counts count as 0, and the uncached input never goes below 0. */
double pricing_cost(const lk_price *price, const lk_usage *u);

/* The same from JSON text[len] (for tests and the fuzz target); name is the file name for errors.
 * With backend or model NULL the table is only checked. */
int pricing_lookup_text(const char *json, size_t len, const char *name, const char *backend,
                        const char *model, lk_price *price, lk_error *err);

#endif

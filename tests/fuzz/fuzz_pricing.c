/* fuzz_pricing.c — libFuzzer target for pricing tables.
 *
 * The input is a pricing table's JSON text, looked up with a few backend:model pairs (exact
 * keys, dated snapshots, unknown ids). Whatever the text, a lookup either fails with a message
 * and an unknown price, or succeeds; a known price is finite and non-negative everywhere, and
 * its cost for a fixed usage is non-negative and not NaN (absurd prices may overflow to inf). */
#include "models/pricing.h"
#include "base/base.h"
#include <math.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const lookups[][2] = {
    { "openai", "gpt-4o" },
    { "openai", "gpt-4o-mini-2024-07-18" },
    { "anthropic", "claude-3-5-haiku-latest" },
    { "anthropic", "" },
    { "x", "m" },
    { "", "" },
};

static bool price_ok(double d) { return isfinite(d) && d >= 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (size_t i = 0; i < LK_ARRAY_LEN(lookups); i++) {
        lk_price p;
        lk_error err = {0};
        int rc = pricing_lookup_text((const char *)data, size, "fuzz.json", lookups[i][0], lookups[i][1], &p, &err);
        if (rc != LK_OK) {
            if (rc != LK_EFORMAT || err.msg[0] == 0 || p.known) __builtin_trap();
            continue;
        }
        if (!p.known) {
            if (p.input != 0 || p.output != 0) __builtin_trap();
            continue;
        }
        if (!price_ok(p.input) || !price_ok(p.output) || !price_ok(p.cached_input) || !price_ok(p.cache_write))
            __builtin_trap();
        lk_usage u = { .prompt_tokens = 1000, .cached_tokens = 300, .cache_write_tokens = 200, .completion_tokens = 50 };
        if (!(pricing_cost(&p, &u) >= 0)) __builtin_trap();
    }
    return 0;
}

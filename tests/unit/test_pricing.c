/* test_pricing.c — the pricing table: the built-in data, how model ids find their entry, what a
 * call costs, replacing the table with a file or LLMKIT_PRICING, and the error messages for a
 * broken table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>
#include "base/base.h"
#include "models/pricing.h"

/* ---- helpers ---- */

static lk_price lookup(const char *backend, const char *model) {
    lk_price p;
    lk_error err = {0};
    int rc = pricing_lookup(NULL, backend, model, &p, &err);
    if (rc != LK_OK) fail_msg("pricing_lookup(%s, %s): %s", backend, model, err.msg);
    return p;
}

static lk_price lookup_text(const char *json, const char *backend, const char *model) {
    lk_price p;
    lk_error err = {0};
    int rc = pricing_lookup_text(json, strlen(json), "t.json", backend, model, &p, &err);
    if (rc != LK_OK) fail_msg("pricing_lookup_text: %s", err.msg);
    return p;
}

/* Parse json as t.json; expect LK_EFORMAT with a message containing want. */
static void expect_error(const char *json, const char *want) {
    lk_price p = { .known = true };
    lk_error err = {0};
    assert_int_equal(pricing_lookup_text(json, strlen(json), "t.json", "openai", "gpt-4o", &p, &err), LK_EFORMAT);
    assert_int_equal(err.code, LK_EFORMAT);
    if (!strstr(err.msg, want)) fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
    assert_false(p.known);
}

/* A temporary file holding text; the caller unlinks it. */
static char *temp_file(const char *text) {
    char *path = lk_xstrdup("/tmp/lk_pricing_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static const char *const openai_models[] = {
    "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini",
    "o1", "o3", "o3-mini", "o4-mini", "gpt-4-turbo", "gpt-3.5-turbo", "text-embedding-3-small",
    "text-embedding-3-large", "text-embedding-ada-002",
};
static const char *const anthropic_models[] = {
    "claude-opus-4-5", "claude-opus-4-1", "claude-opus-4", "claude-sonnet-4-5", "claude-sonnet-4",
    "claude-3-7-sonnet", "claude-haiku-4-5", "claude-3-5-haiku", "claude-3-5-sonnet", "claude-3-opus",
    "claude-3-haiku",
};

/* ---- the built-in table ---- */

/* The built-in table parses and checks cleanly. */
static void test_builtin_table_parses(void **state) {
    (void)state;
    lk_price p;
    lk_error err = {0};
    assert_int_equal(pricing_lookup(NULL, NULL, NULL, &p, &err), LK_OK);
    assert_false(p.known);
}

/* Every listed OpenAI model has an entry of its own with positive input prices; chat models
 * have an output price, embedding models none. */
static void test_builtin_has_openai_models(void **state) {
    (void)state;
    for (size_t i = 0; i < LK_ARRAY_LEN(openai_models); i++) {
        lk_price p = lookup("openai", openai_models[i]);
        if (!p.known) fail_msg("openai:%s missing", openai_models[i]);
        assert_true(p.input > 0);
        assert_true(p.cached_input > 0 && p.cached_input <= p.input);
        if (strncmp(openai_models[i], "text-embedding", 14) == 0) assert_true(p.output == 0);
        else assert_true(p.output > p.input);
    }
}

/* Every listed Anthropic model has an entry with cache reads at 0.1x and 5-minute cache writes
 * at 1.25x the input price (to the cent: Haiku 3 is listed at $0.30 and $0.03 for $0.25). */
static void test_builtin_has_anthropic_models(void **state) {
    (void)state;
    for (size_t i = 0; i < LK_ARRAY_LEN(anthropic_models); i++) {
        lk_price p = lookup("anthropic", anthropic_models[i]);
        if (!p.known) fail_msg("anthropic:%s missing", anthropic_models[i]);
        assert_true(p.input > 0 && p.output > p.input);
        assert_float_equal(p.cache_write, 1.25 * p.input, 0.013);
        assert_float_equal(p.cached_input, 0.1 * p.input, 0.006);
    }
}

/* A few prices as published: gpt-4o-mini $0.15 / $0.075 cached / $0.60, claude-sonnet-4-5
 * $3 / $0.30 / $3.75 / $15. */
static void test_builtin_known_prices(void **state) {
    (void)state;
    lk_price p = lookup("openai", "gpt-4o-mini");
    assert_float_equal(p.input, 0.15, 1e-12);
    assert_float_equal(p.cached_input, 0.075, 1e-12);
    assert_float_equal(p.output, 0.60, 1e-12);
    assert_float_equal(p.cache_write, 0.15, 1e-12); /* none listed: the input price */
    p = lookup("anthropic", "claude-sonnet-4-5");
    assert_float_equal(p.input, 3.0, 1e-12);
    assert_float_equal(p.cached_input, 0.30, 1e-12);
    assert_float_equal(p.cache_write, 3.75, 1e-12);
    assert_float_equal(p.output, 15.0, 1e-12);
}

/* ---- lookup ---- */

/* A dated snapshot takes the longest key it starts with: gpt-4o-mini, not gpt-4o. */
static void test_prefix_longest_wins(void **state) {
    (void)state;
    lk_price mini = lookup("openai", "gpt-4o-mini-2024-07-18");
    assert_true(mini.known);
    assert_float_equal(mini.input, 0.15, 1e-12);
    lk_price big = lookup("openai", "gpt-4o-2024-08-06");
    assert_true(big.known);
    assert_float_equal(big.input, 2.50, 1e-12);
    lk_price opus41 = lookup("anthropic", "claude-opus-4-1-20250805");
    assert_float_equal(opus41.input, 15.0, 1e-12);
    lk_price opus45 = lookup("anthropic", "claude-opus-4-5-20251101");
    assert_float_equal(opus45.input, 5.0, 1e-12);
}

/* A key matches only at a '-' boundary: "gpt-4o" is not a prefix entry for "gpt-4omni", and
 * "o1" not for "o10". */
static void test_prefix_needs_dash_boundary(void **state) {
    (void)state;
    const char *json = "{\"models\": {\"openai:gpt-4o\": {\"input\": 1, \"output\": 2}, "
                       "\"openai:o1\": {\"input\": 3, \"output\": 4}}}";
    assert_false(lookup_text(json, "openai", "gpt-4omni").known);
    assert_false(lookup_text(json, "openai", "o10").known);
    assert_true(lookup_text(json, "openai", "o1-2024-12-17").known);
    assert_false(lookup_text(json, "openai", "gpt-4").known);
    /* another model that merely starts with a key is not priced as it: only snapshot suffixes */
    assert_false(lookup_text(json, "openai", "gpt-4o-mini").known);
    assert_false(lookup_text(json, "openai", "o1-pro").known);
    assert_true(lookup_text(json, "openai", "gpt-4o-latest").known);
}

/* Dated Anthropic ids and their -latest aliases find the family entry. */
static void test_anthropic_dated_and_latest(void **state) {
    (void)state;
    lk_price p = lookup("anthropic", "claude-3-5-haiku-20241022");
    assert_true(p.known);
    assert_float_equal(p.input, 0.80, 1e-12);
    p = lookup("anthropic", "claude-3-5-haiku-latest");
    assert_true(p.known);
    assert_float_equal(p.output, 4.0, 1e-12);
    p = lookup("anthropic", "claude-3-7-sonnet-latest");
    assert_float_equal(p.input, 3.0, 1e-12);
    p = lookup("anthropic", "claude-3-haiku-20240307");
    assert_float_equal(p.input, 0.25, 1e-12);
}

/* The backend is part of the key: an OpenAI model asked for under another backend is unknown. */
static void test_backend_is_part_of_key(void **state) {
    (void)state;
    assert_false(lookup("anthropic", "gpt-4o").known);
    assert_false(lookup("ollama", "gpt-4o").known);
    assert_false(lookup("open", "ai:gpt-4o").known);
}

/* An unknown model is not an error: rc 0, known false, every price 0. */
static void test_unknown_model(void **state) {
    (void)state;
    lk_price p = { .known = true, .input = 9 };
    lk_error err = {0};
    assert_int_equal(pricing_lookup(NULL, "openai", "no-such-model", &p, &err), LK_OK);
    assert_false(p.known);
    assert_true(p.input == 0 && p.output == 0);
    assert_false(lookup("local", "tinyllama.gguf").known);
}

/* ---- cost ---- */

/* gpt-4o-mini: 1,000,000 uncached + 200,000 cached + 50,000 output tokens
 * = 0.8M * 0.15 + 0.2M * 0.075 + 0.05M * 0.60 = 0.12 + 0.015 + 0.03 = $0.165. */
static void test_cost_with_cached_tokens(void **state) {
    (void)state;
    lk_price p = lookup("openai", "gpt-4o-mini");
    lk_usage u = { .prompt_tokens = 1000000, .cached_tokens = 200000, .completion_tokens = 50000 };
    assert_float_equal(pricing_cost(&p, &u), 0.165, 1e-12);
}

/* claude-sonnet-4-5: 10,000 prompt tokens of which 6,000 read from and 3,000 written to the
 * cache, 2,000 output = 1,000 * 3 + 6,000 * 0.30 + 3,000 * 3.75 + 2,000 * 15 per million
 * = (3000 + 1800 + 11250 + 30000) / 1e6 = $0.04605. */
static void test_cost_with_cache_writes(void **state) {
    (void)state;
    lk_price p = lookup("anthropic", "claude-sonnet-4-5");
    lk_usage u = { .prompt_tokens = 10000, .cached_tokens = 6000, .cache_write_tokens = 3000,
                   .completion_tokens = 2000 };
    assert_float_equal(pricing_cost(&p, &u), 0.04605, 1e-12);
}

/* Entries without cache prices charge cached and written tokens at the input price. */
static void test_cost_cache_defaults_to_input(void **state) {
    (void)state;
    lk_price p = lookup_text("{\"models\": {\"x:m\": {\"input\": 2, \"output\": 8}}}", "x", "m");
    assert_float_equal(p.cached_input, 2.0, 0);
    assert_float_equal(p.cache_write, 2.0, 0);
    lk_usage u = { .prompt_tokens = 500000, .cached_tokens = 250000, .cache_write_tokens = 100000,
                   .completion_tokens = 125000 };
    assert_float_equal(pricing_cost(&p, &u), 0.5 * 2 + 0.125 * 8, 1e-12); /* $2 */
}

/* An unknown price costs 0; inconsistent counts never give a negative charge. */
static void test_cost_unknown_and_inconsistent(void **state) {
    (void)state;
    lk_price unknown = {0};
    lk_usage u = { .prompt_tokens = 1000, .completion_tokens = 1000 };
    assert_true(pricing_cost(&unknown, &u) == 0);
    lk_price p = lookup_text("{\"models\": {\"x:m\": {\"input\": 1, \"output\": 1, \"cached_input\": 0.5}}}",
                             "x", "m");
    lk_usage bad = { .prompt_tokens = 100, .cached_tokens = 1000000, .completion_tokens = -5 };
    assert_float_equal(pricing_cost(&p, &bad), 0.5, 1e-12); /* only the 1M cached tokens */
}

/* ---- replacing the table ---- */

/* A file given by path replaces the built-in table entirely: a model only the built-in table
 * has is unknown. */
static void test_user_file_overrides(void **state) {
    (void)state;
    char *path = temp_file("{\"models\": {\"openai:gpt-4o\": {\"input\": 7, \"output\": 9}}}");
    lk_price p;
    lk_error err = {0};
    assert_int_equal(pricing_lookup(path, "openai", "gpt-4o-2024-08-06", &p, &err), LK_OK);
    assert_true(p.known);
    assert_float_equal(p.input, 7, 0);
    assert_float_equal(p.output, 9, 0);
    assert_int_equal(pricing_lookup(path, "openai", "gpt-4.1", &p, &err), LK_OK);
    assert_false(p.known);
    unlink(path);
    free(path);
}

/* LLMKIT_PRICING names the table when no path is given; a path given wins over it. */
static void test_env_pricing(void **state) {
    (void)state;
    char *env_path = temp_file("{\"models\": {\"openai:gpt-4o\": {\"input\": 1.5, \"output\": 2.5}}}");
    char *arg_path = temp_file("{\"models\": {\"openai:gpt-4o\": {\"input\": 4, \"output\": 5}}}");
    setenv("LLMKIT_PRICING", env_path, 1);
    lk_price p;
    lk_error err = {0};
    assert_int_equal(pricing_lookup(NULL, "openai", "gpt-4o", &p, &err), LK_OK);
    assert_float_equal(p.input, 1.5, 0);
    assert_int_equal(pricing_lookup(arg_path, "openai", "gpt-4o", &p, &err), LK_OK);
    assert_float_equal(p.input, 4, 0);
    setenv("LLMKIT_PRICING", "", 1); /* empty: the built-in table */
    assert_int_equal(pricing_lookup(NULL, "openai", "gpt-4o", &p, &err), LK_OK);
    assert_float_equal(p.input, 2.5, 0);
    unsetenv("LLMKIT_PRICING");
    unlink(env_path);
    unlink(arg_path);
    free(env_path);
    free(arg_path);
}

/* A missing file is LK_EIO naming it. */
static void test_missing_file(void **state) {
    (void)state;
    lk_price p;
    lk_error err = {0};
    assert_int_equal(pricing_lookup("/nonexistent/pricing.json", "openai", "gpt-4o", &p, &err), LK_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/pricing.json"));
    assert_false(p.known);
}

/* ---- errors ---- */

/* Malformed JSON is reported as FILE:LINE:COL with jansson's message. */
static void test_error_bad_json_line_col(void **state) {
    (void)state;
    expect_error("{\n  \"models\": {\n    \"openai:gpt-4o\": {\"input\": 1,, \"output\": 2}\n  }\n}",
                 "t.json:3:34: ");
    lk_price p;
    lk_error err = {0};
    char *path = temp_file("{\"models\": [");
    assert_int_equal(pricing_lookup(path, "openai", "gpt-4o", &p, &err), LK_EFORMAT);
    char want[64];
    snprintf(want, sizeof want, "%s:1:", path);
    if (strncmp(err.msg, want, strlen(want)) != 0) fail_msg("\"%s\" does not start with \"%s\"", err.msg, want);
    unlink(path);
    free(path);
}

/* A duplicated key is malformed (one of the two prices would be silently lost). */
static void test_error_duplicate_key(void **state) {
    (void)state;
    expect_error("{\"models\": {\"a:b\": {\"input\": 1, \"output\": 1}, \"a:b\": {\"input\": 2, \"output\": 2}}}",
                 "duplicate object key");
}

/* A negative price is named by its field path. */
static void test_error_negative_price(void **state) {
    (void)state;
    expect_error("{\"models\": {\"openai:gpt-4o\": {\"input\": -1, \"output\": 2}}}",
                 "t.json: models.openai:gpt-4o.input: expected a non-negative number, got -1");
}

/* A price given as a string is named by its field path and type. */
static void test_error_string_price(void **state) {
    (void)state;
    expect_error("{\"models\": {\"openai:gpt-4o\": {\"input\": 1, \"output\": \"2.00\"}}}",
                 "t.json: models.openai:gpt-4o.output: expected a non-negative number, got a string");
    expect_error("{\"models\": {\"x:y\": {\"input\": 1, \"output\": 1, \"cache_write\": null}}}",
                 "models.x:y.cache_write: expected a non-negative number, got null");
}

/* A bad entry anywhere fails the lookup, even of another model. */
static void test_error_in_other_entry(void **state) {
    (void)state;
    expect_error("{\"models\": {\"openai:gpt-4o\": {\"input\": 1, \"output\": 2}, "
                 "\"anthropic:x\": {\"input\": 1, \"output\": 1, \"cached_input\": -0.5}}}",
                 "models.anthropic:x.cached_input");
}

/* Input and output prices are required; an entry must be an object. */
static void test_error_missing_required_price(void **state) {
    (void)state;
    expect_error("{\"models\": {\"openai:gpt-4o\": {\"input\": 1}}}", "t.json: models.openai:gpt-4o.output: missing");
    expect_error("{\"models\": {\"openai:gpt-4o\": 3}}", "t.json: models.openai:gpt-4o: expected an object");
}

/* A table without a "models" object says so. */
static void test_error_missing_models(void **state) {
    (void)state;
    expect_error("{\"as_of\": \"2025-11\"}", "t.json: models: missing \"models\" object");
    expect_error("{\"models\": []}", "t.json: models: expected an object");
    expect_error("[1, 2]", "t.json: expected a JSON object");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_table_parses),
        cmocka_unit_test(test_builtin_has_openai_models),
        cmocka_unit_test(test_builtin_has_anthropic_models),
        cmocka_unit_test(test_builtin_known_prices),
        cmocka_unit_test(test_prefix_longest_wins),
        cmocka_unit_test(test_prefix_needs_dash_boundary),
        cmocka_unit_test(test_anthropic_dated_and_latest),
        cmocka_unit_test(test_backend_is_part_of_key),
        cmocka_unit_test(test_unknown_model),
        cmocka_unit_test(test_cost_with_cached_tokens),
        cmocka_unit_test(test_cost_with_cache_writes),
        cmocka_unit_test(test_cost_cache_defaults_to_input),
        cmocka_unit_test(test_cost_unknown_and_inconsistent),
        cmocka_unit_test(test_user_file_overrides),
        cmocka_unit_test(test_env_pricing),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_error_bad_json_line_col),
        cmocka_unit_test(test_error_duplicate_key),
        cmocka_unit_test(test_error_negative_price),
        cmocka_unit_test(test_error_string_price),
        cmocka_unit_test(test_error_in_other_entry),
        cmocka_unit_test(test_error_missing_required_price),
        cmocka_unit_test(test_error_missing_models),
    };
    unsetenv("LLMKIT_PRICING");
    return cmocka_run_group_tests(tests, NULL, NULL);
}

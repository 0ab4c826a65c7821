/* testutil.c — see testutil.h. */
#include "testutil.h"
#include "engine/gguf.h"
#include "engine/quant/quant.h"
#include "engine/randmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tu_testdata(void) {
    static char path[4096];
    const char *env = getenv("LK_TESTDATA");
    snprintf(path, sizeof path, "%s", env && *env ? env : "../shared/testdata");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/README.md", path);
    if (access(probe, R_OK) == 0) return path;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) fail_msg("test data folder %s is missing (required under CI)", path);
    print_message("skip: test data folder %s is absent\n", path);
    skip();
    return NULL;
}

static char tmpdir[256];

static void cleanup(void) {
    if (!tmpdir[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
}

const char *tu_tmpdir(void) {
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/llmkit-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) fail_msg("mkdtemp failed");
        atexit(cleanup);
    }
    return tmpdir;
}

const char *tu_path(int slot, const char *name) {
    static char paths[8][512];
    snprintf(paths[slot & 7], sizeof paths[0], "%s/%s", tu_tmpdir(), name);
    return paths[slot & 7];
}

void tu_write_small_vocab(const char *path, int n_extra) {
    int n = 3 + 256 + n_extra;
    char **toks = calloc((size_t)n, sizeof *toks);
    float *scores = calloc((size_t)n, sizeof *scores);
    int32_t *types = calloc((size_t)n, sizeof *types);
    const char *fixed[3] = { "<unk>", "<s>", "</s>" };
    for (int i = 0; i < 3; i++) {
        toks[i] = strdup(fixed[i]);
        types[i] = i == 0 ? 2 : 3;
    }
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        toks[3 + b] = strdup(s);
        types[3 + b] = 6;
    }
    for (int i = 0; i < n_extra; i++) { /* distinct pieces: "▁a", "▁b", ..., "ab", ... */
        char s[32];
        if (i < 26) snprintf(s, sizeof s, "\xe2\x96\x81%c", 'a' + i);
        else snprintf(s, sizeof s, "%c%c%d", 'a' + i % 26, 'a' + (i / 26) % 26, i);
        toks[259 + i] = strdup(s);
        types[259 + i] = 1;
        scores[259 + i] = -(float)i;
    }
    gguf_writer *w = gguf_writer_new(3);
    gguf_set_str(w, "general.architecture", "llama");
    gguf_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, (uint64_t)n);
    gguf_set_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, scores, (uint64_t)n);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, types, (uint64_t)n);
    gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    lk_error err = {0};
    int rc = gguf_write(w, path, &err);
    gguf_writer_free(w);
    for (int i = 0; i < n; i++) free(toks[i]);
    free(toks);
    free(scores);
    free(types);
    if (rc) fail_msg("writing %s: %s", path, err.msg);
}

void tu_random_model(const char *path, const char *arch, const char *type, const char *vocab,
                     int layers, int dim, int heads, int kv_heads, int ffn, bool tied, bool llama3_rope) {
    int t = lk_qtype_from_name(type);
    if (t < 0) fail_msg("unknown type %s", type);
    lk_random_params p = {
        .arch = arch, .n_layer = layers, .dim = dim, .n_head = heads, .n_head_kv = kv_heads, .n_ff = ffn,
        .n_ctx = 512, .vocab_path = vocab, .type = (uint32_t)t, .seed = 1234, .tied = tied,
        .llama3_rope = llama3_rope, .out_path = path,
    };
    lk_error err = {0};
    if (lk_random_model(&p, &err)) fail_msg("gguf random %s: %s", path, err.msg);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

void tu_seed(uint64_t seed) { rng_state = seed ? seed : 0x9E3779B97F4A7C15ull; }

uint64_t tu_rand64(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

double tu_uniform01(void) { return ((double)(tu_rand64() >> 11) + 0.5) / 9007199254740992.0; }

float tu_gaussian(void) {
    return (float)(sqrt(-2.0 * log(tu_uniform01())) * cos(6.283185307179586 * tu_uniform01()));
}

uint16_t tu_random_finite_half(void) {
    for (;;) {
        uint16_t h = (uint16_t)tu_rand64();
        if (((h >> 10) & 0x1F) != 0x1F) return h;
    }
}

void tu_put_half(uint8_t *p, uint16_t h) {
    p[0] = (uint8_t)(h & 0xFF);
    p[1] = (uint8_t)(h >> 8);
}

float tu_half_at(const uint8_t *p) { return lk_fp16_to_fp32((uint16_t)(p[0] | p[1] << 8)); }

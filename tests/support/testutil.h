/* testutil.h — helpers shared by the unit tests: where the shared test data is, temporary
 * directories, small vocabularies and random models made on the spot. */
#ifndef LK_TESTUTIL_H
#define LK_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "llmkit.h"
#include "base/base.h"

/* The shared test data folder (../shared/testdata from the project root, or $LK_TESTDATA), or
 * NULL when absent. Under CI (CI=true) its absence fails the calling test; elsewhere the test is
 * skipped with a message. Use: const char *td = tu_testdata(); if (!td) return; */
const char *tu_testdata(void);

/* A fresh temporary directory for this process (removed at exit). */
const char *tu_tmpdir(void);

/* A path inside tu_tmpdir(): a static buffer per call slot (0..7). */
const char *tu_path(int slot, const char *name);

/* Write a small SentencePiece vocabulary GGUF: <unk> <s> </s>, the 256 byte tokens, then
 * n_extra pieces; add_bos true. */
void tu_write_small_vocab(const char *path, int n_extra);

/* Write a random model with lk_random_model; fails the test on error. */
void tu_random_model(const char *path, const char *arch, const char *type, const char *vocab,
                     int layers, int dim, int heads, int kv_heads, int ffn, bool tied, bool llama3_rope);

/* Random test data: a seeded xorshift64 stream (tu_seed sets it; each test program seeds it
 * once, so its data are the same on every run). */
void tu_seed(uint64_t seed);
uint64_t tu_rand64(void);
double tu_uniform01(void);          /* in (0, 1) */
float tu_gaussian(void);            /* N(0, 1) */
uint16_t tu_random_finite_half(void); /* any finite fp16 bit pattern, subnormals included */
/* Little-endian fp16 fields inside block bytes. */
void tu_put_half(uint8_t *p, uint16_t h);
float tu_half_at(const uint8_t *p);

#endif

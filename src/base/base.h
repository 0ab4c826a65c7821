/* base.h — small shared pieces: growable buffers, files, time, logging, half floats.
 *
 * Everything here is needed by two or more folders of src/. Nothing here knows about models,
 * HTTP or storage. */
#ifndef LK_BASE_H
#define LK_BASE_H

#include "llmkit.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#define LK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LK_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Allocation that never returns NULL: on failure it prints and aborts. Used only for small,
 * bounded allocations (never sized by outside input; those use malloc and report LK_ENOMEM). */
void *lk_xmalloc(size_t n);
void *lk_xcalloc(size_t n, size_t size);
void *lk_xrealloc(void *p, size_t n);
char *lk_xstrdup(const char *s);
char *lk_xstrndup(const char *s, size_t n);

/* A growable byte buffer, always NUL-terminated after len bytes. */
typedef struct lk_buf {
    char *data;
    size_t len, cap;
} lk_buf;
void lk_buf_reserve(lk_buf *b, size_t extra);
void lk_buf_append(lk_buf *b, const void *p, size_t n);
void lk_buf_puts(lk_buf *b, const char *s);
void lk_buf_putc(lk_buf *b, char c);
void lk_buf_printf(lk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lk_buf_clear(lk_buf *b);
/* UTF-8: the length of the valid sequence at p (avail bytes there), or 0 when it is not one
 * (overlong forms, surrogates and code points beyond U+10FFFF are not); whether s[0..n) is
 * valid, with the offset of the first bad byte; and s with each bad byte replaced by U+FFFD. */
size_t lk_utf8_valid_len(const unsigned char *p, size_t avail);
bool lk_utf8_check(const char *s, size_t n, size_t *bad_offset);
void lk_utf8_sanitize(const char *s, size_t n, lk_buf *out);

/* Append s as a JSON string literal, quotes included; NULL becomes null. Invalid UTF-8 bytes
 * become U+FFFD, so the output is always valid JSON. */
void lk_buf_json_str(lk_buf *b, const char *s);
void lk_buf_free(lk_buf *b);

/* Read a whole file into a buffer (NUL-terminated). */
int lk_read_file(const char *path, lk_buf *out, lk_error *err);
/* Write data[len] to dir/name (dir NULL: name is the path) through a temporary file in the same
 * folder and a rename, so that the file is either the old one or the whole new one, never a
 * partial write. */
int lk_write_file_atomic(const char *dir, const char *name, const void *data, size_t len, lk_error *err);

/* Monotonic time in seconds. */
double lk_now(void);

/* Log a line to stderr if level >= lk_log_level(). */
void lk_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse an unsigned/signed/float number that must span the whole string. 0 on success. */
int lk_parse_i64(const char *s, long long *out);
int lk_parse_f64(const char *s, double *out);

/* UTF-8: length of the sequence that starts with byte c (1..4), or 0 for a continuation or
 * invalid lead byte. */
static inline int lk_utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) return 2;
    if ((c & 0xF0) == 0xE0) return 3;
    if ((c & 0xF8) == 0xF0) return 4;
    return 0;
}

/* A 64-bit finaliser (MurmurHash3's fmix64): every input bit affects every output bit. For
 * hashing features and n-grams deterministically across machines. */
static inline uint64_t lk_mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Half-precision conversions (IEEE binary16 and bfloat16), exact and round-to-nearest-even. */
static inline float lk_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; mant <<= 1; } while ((mant & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t lk_fp32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7FFFFFFFu;
    if (absx >= 0x7F800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7C00 | (absx > 0x7F800000u ? 0x200 : 0));
    if (absx >= 0x477FF000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7C00);
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign; /* < 2^-25 rounds to 0 */
        uint32_t e = absx >> 23, m = (absx & 0x7FFFFF) | 0x800000;
        uint32_t shift = 126 - e; /* value in units of 2^-24 is m >> (126 - e) */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((absx - 0x38000000u) >> 13); /* rebias exponent 127 -> 15 */
    uint32_t rem = absx & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

static inline float lk_bf16_to_fp32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t lk_fp32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7FFF + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

#endif

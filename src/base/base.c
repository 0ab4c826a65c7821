/* base.c — errors, logging, buffers, files and time: the small pieces every folder uses. */
#define _POSIX_C_SOURCE 200809L
#include "base.h"
#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

static int g_log_level = LK_LOG_WARN;

void lk_set_log_level(int level) { g_log_level = level; }
int lk_log_level(void) { return g_log_level; }
const char *lk_version(void) { return LK_VERSION; }

const char *lk_code_name(int code) {
    switch (code) {
    case LK_OK: return "ok";
    case LK_EIO: return "i/o error";
    case LK_EFORMAT: return "format error";
    case LK_EUNSUPPORTED: return "unsupported";
    case LK_EINVAL: return "invalid argument";
    case LK_ENOMEM: return "out of memory";
    case LK_ERANGE: return "out of range";
    case LK_EREMOTE: return "remote error";
    case LK_ECANCELLED: return "cancelled";
    default: return "error";
    }
}

int lk_errorf(lk_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int lk_error_prefix(lk_error *err, const char *fmt, ...) {
    if (!err) return LK_OK;
    char pre[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    int n = snprintf(err->msg, sizeof err->msg, "%s: ", pre);
    if (n > 0 && (size_t)n < sizeof err->msg) { /* append the old message, truncated to fit */
        size_t room = sizeof err->msg - (size_t)n - 1, len = strnlen(old, sizeof old - 1);
        if (len > room) len = room;
        memcpy(err->msg + n, old, len);
        err->msg[(size_t)n + len] = 0;
    }
    return err->code;
}

void lk_log(int level, const char *fmt, ...) {
    if (level < g_log_level) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("llmkit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void oom(size_t n) {
    fprintf(stderr, "llmkit: out of memory allocating %zu bytes\n", n);
    abort();
}

void *lk_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *lk_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *lk_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *lk_xstrdup(const char *s) { return lk_xstrndup(s, strlen(s)); }

char *lk_xstrndup(const char *s, size_t n) {
    char *p = lk_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void lk_buf_reserve(lk_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = lk_xrealloc(b->data, cap);
    b->cap = cap;
}

void lk_buf_append(lk_buf *b, const void *p, size_t n) {
    lk_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void lk_buf_puts(lk_buf *b, const char *s) { lk_buf_append(b, s, strlen(s)); }
void lk_buf_putc(lk_buf *b, char c) { lk_buf_append(b, &c, 1); }

void lk_buf_printf(lk_buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        lk_buf_append(b, tmp, (size_t)n);
        return;
    }
    lk_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lk_buf_clear(lk_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void lk_buf_free(lk_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int lk_read_file(const char *path, lk_buf *out, lk_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return lk_errorf(err, LK_EIO, "%s: %s", path, strerror(errno));
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) lk_buf_append(out, tmp, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return lk_errorf(err, LK_EIO, "%s: read error", path);
    if (!out->data) lk_buf_append(out, "", 0);
    return LK_OK;
}

double lk_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int lk_parse_i64(const char *s, long long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int lk_parse_f64(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

size_t lk_utf8_valid_len(const unsigned char *p, size_t avail) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    size_t n = (size_t)lk_utf8_len(c);
    if (n < 2 || n > avail) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if ((n == 2 && c < 0xC2) || (n == 3 && c == 0xE0 && p[1] < 0xA0) || (n == 3 && c == 0xED && p[1] >= 0xA0) ||
        (n == 4 && c == 0xF0 && p[1] < 0x90) || (n == 4 && (c > 0xF4 || (c == 0xF4 && p[1] >= 0x90))))
        return 0; /* overlong, surrogate or beyond U+10FFFF */
    return n;
}

bool lk_utf8_check(const char *s, size_t n, size_t *bad_offset) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = lk_utf8_valid_len(p + i, n - i);
        if (!l) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        i += l;
    }
    return true;
}

void lk_utf8_sanitize(const char *s, size_t n, lk_buf *out) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = lk_utf8_valid_len(p + i, n - i);
        if (l) {
            lk_buf_append(out, p + i, l);
            i += l;
        } else {
            lk_buf_puts(out, "\xEF\xBF\xBD");
            i++;
        }
    }
}

void lk_buf_json_str(lk_buf *b, const char *s) {
    if (!s) {
        lk_buf_puts(b, "null");
        return;
    }
    lk_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            lk_buf_putc(b, '\\');
            lk_buf_putc(b, (char)c);
            i++;
        } else if (c < 0x20) {
            const char *esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (esc) lk_buf_puts(b, esc);
            else lk_buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t l = lk_utf8_valid_len(p + i, n - i);
            if (l) lk_buf_append(b, p + i, l);
            else lk_buf_puts(b, "\xEF\xBF\xBD");
            i += l ? l : 1;
        }
    }
    lk_buf_putc(b, '"');
}

int lk_write_file_atomic(const char *dir, const char *name, const void *data, size_t len, lk_error *err) {
    char path[4096], tmp[4200];
    if (dir) snprintf(path, sizeof path, "%s/%s", dir, name);
    else snprintf(path, sizeof path, "%s", name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return lk_errorf(err, LK_EIO, "%s: %s", tmp, strerror(errno));
    bool ok = fwrite(data ? data : "", 1, len, f) == len;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return lk_errorf(err, LK_EIO, "%s: %s", path, strerror(e));
    }
    return 0;
}

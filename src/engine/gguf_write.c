/* gguf_write.c — the GGUF writer: metadata and tensors in memory, written atomically.
 *
 * Each key/value is kept already encoded (type tag and value, little-endian), so that copying a
 * value from a file being read is a memcpy and writing is a concatenation. Tensor data is held by
 * pointer until gguf_write(), which lays out tensor infos with aligned offsets, writes to
 * PATH.tmp and renames it over PATH only when every byte is on disk. */
#define _POSIX_C_SOURCE 200809L
#include "engine/gguf.h"
#include "base/base.h"
#include "engine/quant/quant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

typedef struct wkv {
    char *key;
    lk_buf val; /* encoded: u32 type, then the value */
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type, n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    const void *data;
    uint64_t nbytes, offset;
} wtensor;

struct gguf_writer {
    uint32_t version;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

gguf_writer *gguf_writer_new(uint32_t version) {
    gguf_writer *w = lk_xcalloc(1, sizeof *w);
    w->version = version ? version : 3;
    return w;
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        lk_buf_free(&w->kv[i].val);
    }
    free(w->kv);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->t);
    free(w);
}

static void put_le(lk_buf *b, uint64_t v, size_t n) {
    uint8_t tmp[8];
    for (size_t i = 0; i < n; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    lk_buf_append(b, tmp, n);
}

static void put_str(lk_buf *b, const char *s, size_t len) {
    put_le(b, len, 8);
    lk_buf_append(b, s, len);
}

/* The value buffer for key, emptied: an existing key keeps its place and is replaced. */
static lk_buf *slot(gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            lk_buf_clear(&w->kv[i].val);
            return &w->kv[i].val;
        }
    if (w->n_kv == w->cap_kv) {
        w->cap_kv = w->cap_kv ? w->cap_kv * 2 : 16;
        w->kv = lk_xrealloc(w->kv, w->cap_kv * sizeof *w->kv);
    }
    wkv *kv = &w->kv[w->n_kv++];
    kv->key = lk_xstrdup(key);
    memset(&kv->val, 0, sizeof kv->val);
    return &kv->val;
}

static void set_scalar(gguf_writer *w, const char *key, enum gguf_type t, uint64_t raw) {
    lk_buf *b = slot(w, key);
    put_le(b, (uint64_t)t, 4);
    put_le(b, raw, gguf_type_size(t));
}

void gguf_set_u32(gguf_writer *w, const char *key, uint32_t v) { set_scalar(w, key, GGUF_UINT32, v); }
void gguf_set_i32(gguf_writer *w, const char *key, int32_t v) { set_scalar(w, key, GGUF_INT32, (uint32_t)v); }
void gguf_set_u64(gguf_writer *w, const char *key, uint64_t v) { set_scalar(w, key, GGUF_UINT64, v); }
void gguf_set_bool(gguf_writer *w, const char *key, bool v) { set_scalar(w, key, GGUF_BOOL, v ? 1 : 0); }

void gguf_set_f32(gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    set_scalar(w, key, GGUF_FLOAT32, u);
}

void gguf_set_str(gguf_writer *w, const char *key, const char *v) {
    lk_buf *b = slot(w, key);
    put_le(b, GGUF_STRING, 4);
    put_str(b, v, strlen(v));
}

void gguf_set_arr(gguf_writer *w, const char *key, enum gguf_type elem_type, const void *data, uint64_t n) {
    lk_buf *b = slot(w, key);
    put_le(b, GGUF_ARRAY, 4);
    put_le(b, (uint64_t)elem_type, 4);
    put_le(b, n, 8);
    size_t esize = gguf_type_size(elem_type);
    const uint8_t *p = data;
    for (uint64_t i = 0; i < n; i++) { /* re-encode little-endian whatever the host */
        uint64_t v = 0;
        memcpy(&v, p + i * esize, esize);
        put_le(b, v, esize);
    }
}

void gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    lk_buf *b = slot(w, key);
    put_le(b, GGUF_ARRAY, 4);
    put_le(b, GGUF_STRING, 4);
    put_le(b, n, 8);
    for (uint64_t i = 0; i < n; i++) put_str(b, strs[i], strlen(strs[i]));
}

void gguf_set_kv_copy(gguf_writer *w, const gguf_kv *kv) {
    lk_buf *b = slot(w, kv->key);
    lk_buf_append(b, kv->raw, kv->raw_len);
}

int gguf_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                    const int64_t *ne, const void *data, lk_error *err) {
    const lk_qtype_info *qi = lk_qtype(type);
    if (!qi->name) return lk_errorf(err, LK_EINVAL, "tensor '%s': unknown type %u", name, type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return lk_errorf(err, LK_EINVAL, "tensor '%s': %u dimensions", name, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] < 0 || ne[d] > INT64_MAX / 2)
            return lk_errorf(err, LK_EINVAL, "tensor '%s': dimension %u is %" PRId64, name, d, ne[d]);
    if (ne[0] % qi->block_size)
        return lk_errorf(err, LK_EINVAL, "tensor '%s': %" PRId64 " columns is not a multiple of the "
                         "%s block size %d", name, ne[0], qi->name, qi->block_size);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return lk_errorf(err, LK_EINVAL, "tensor '%s' added twice", name);
    if (w->n_t == w->cap_t) {
        w->cap_t = w->cap_t ? w->cap_t * 2 : 16;
        w->t = lk_xrealloc(w->t, w->cap_t * sizeof *w->t);
    }
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = lk_xstrdup(name);
    t->type = type;
    t->n_dims = n_dims;
    uint64_t rows = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = d < (int)n_dims ? ne[d] : 1;
        if (d > 0) rows *= (uint64_t)t->ne[d];
    }
    t->nbytes = rows * lk_row_size(type, t->ne[0]);
    t->data = data;
    return LK_OK;
}

/* The alignment general.alignment asks for (32 when unset); 0 when it is set but is not a
 * uint32 power of two, which the reader would reject. */
static uint32_t writer_alignment(const gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0) continue;
        const uint8_t *b = (const uint8_t *)w->kv[i].val.data;
        if (w->kv[i].val.len != 8) return 0;
        uint32_t t = 0, v = 0;
        for (int k = 0; k < 4; k++) {
            t |= (uint32_t)b[k] << (8 * k);
            v |= (uint32_t)b[4 + k] << (8 * k);
        }
        return t == GGUF_UINT32 && v && !(v & (v - 1)) ? v : 0;
    }
    return 32;
}

/* Encode the header, metadata and tensor infos (padded to the alignment) into b, and assign
 * tensor offsets. Tensor data follows, each padded to the alignment. */
static void encode_head(gguf_writer *w, lk_buf *b, uint32_t align) {
    lk_buf_append(b, "GGUF", 4);
    put_le(b, w->version, 4);
    put_le(b, w->n_t, 8);
    put_le(b, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(b, w->kv[i].key, strlen(w->kv[i].key));
        lk_buf_append(b, w->kv[i].val.data, w->kv[i].val.len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        put_str(b, t->name, strlen(t->name));
        put_le(b, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++) put_le(b, (uint64_t)t->ne[d], 8);
        put_le(b, t->type, 4);
        t->offset = off;
        put_le(b, off, 8);
        off += (t->nbytes + align - 1) / align * align;
    }
    static const char zeros[64];
    size_t pad = (align - b->len % align) % align;
    while (pad) {
        size_t k = LK_MIN(pad, sizeof zeros);
        lk_buf_append(b, zeros, k);
        pad -= k;
    }
}

int gguf_write_memory(gguf_writer *w, uint8_t **out, size_t *out_size, lk_error *err) {
    uint32_t align = writer_alignment(w);
    if (!align) return lk_errorf(err, LK_EINVAL, "general.alignment must be a uint32 power of two");
    lk_buf b = {0};
    encode_head(w, &b, align);
    static const char zeros[64];
    for (size_t i = 0; i < w->n_t; i++) {
        lk_buf_append(&b, w->t[i].data, w->t[i].nbytes);
        size_t pad = (align - w->t[i].nbytes % align) % align;
        while (pad) {
            size_t k = LK_MIN(pad, sizeof zeros);
            lk_buf_append(&b, zeros, k);
            pad -= k;
        }
    }
    *out = (uint8_t *)b.data;
    *out_size = b.len;
    return LK_OK;
}

int gguf_write(gguf_writer *w, const char *path, lk_error *err) {
    uint32_t align = writer_alignment(w);
    if (!align) return lk_errorf(err, LK_EINVAL, "%s: general.alignment must be a uint32 power of two", path);
    size_t plen = strlen(path);
    char *tmp = lk_xmalloc(plen + 5);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int rc = lk_errorf(err, LK_EIO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    lk_buf head = {0};
    encode_head(w, &head, align);
    bool ok = fwrite(head.data, 1, head.len, f) == head.len;
    lk_buf_free(&head);
    static const char zeros[64];
    for (size_t i = 0; ok && i < w->n_t; i++) {
        ok = fwrite(w->t[i].data, 1, w->t[i].nbytes, f) == w->t[i].nbytes;
        size_t pad = (align - w->t[i].nbytes % align) % align;
        while (ok && pad) {
            size_t k = LK_MIN(pad, sizeof zeros);
            ok = fwrite(zeros, 1, k, f) == k;
            pad -= k;
        }
    }
    int saved = errno;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) ok = false, saved = errno;
    if (fclose(f) != 0 && ok) ok = false, saved = errno;
    if (ok && rename(tmp, path) != 0) ok = false, saved = errno;
    int rc = LK_OK;
    if (!ok) {
        rc = lk_errorf(err, LK_EIO, "%s: write failed: %s", path, strerror(saved));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

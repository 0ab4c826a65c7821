/* gguf.c — the GGUF reader: map the file, validate everything, index metadata and tensors.
 *
 * Parsing is a cursor over the map that checks each read against the end first; every error
 * names the file, what was wrong and the byte offset where it was found. Counts and lengths
 * from the file are never trusted to size an allocation before they are checked against the
 * bytes that remain (an array of n strings needs at least 8n bytes, a tensor info at least 24).
 * The writer lives in gguf_write.c. */
#define _POSIX_C_SOURCE 200809L
#include "engine/gguf.h"
#include "base/base.h"
#include "engine/quant/quant.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_DEPTH 8           /* nested array depth */
#define GGUF_MAX_KEY_LEN 65535     /* keys are short identifiers */
#define GGUF_MAX_NAME_LEN 4096     /* tensor names, generous */

typedef struct cursor {
    const uint8_t *p;
    size_t size, off;
    const char *name;
    lk_error *err;
    int failed;
} cursor;

static const char *type_names[GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array",
    "uint64", "int64", "float64",
};

const char *gguf_type_name(enum gguf_type t) {
    return (unsigned)t < GGUF_TYPE_COUNT ? type_names[t] : "unknown";
}

size_t gguf_type_size(enum gguf_type t) {
    switch (t) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static int fail(cursor *c, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cursor *c, size_t off, const char *fmt, ...) {
    if (c->failed) return -1;
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    lk_errorf(c->err, LK_EFORMAT, "%s: %s at offset %zu", c->name, what, off);
    c->failed = 1;
    return -1;
}

static size_t remaining(const cursor *c) { return c->size - c->off; }

static int need(cursor *c, size_t n, const char *what) {
    if (remaining(c) < n)
        return fail(c, c->off, "file truncated: %s needs %zu bytes, %zu left", what, n, remaining(c));
    return 0;
}

static uint64_t rd_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int read_u32(cursor *c, uint32_t *out, const char *what) {
    if (need(c, 4, what)) return -1;
    *out = (uint32_t)rd_le(c->p + c->off, 4);
    c->off += 4;
    return 0;
}

static int read_u64(cursor *c, uint64_t *out, const char *what) {
    if (need(c, 8, what)) return -1;
    *out = rd_le(c->p + c->off, 8);
    c->off += 8;
    return 0;
}

static int read_str(cursor *c, gguf_str *s, const char *what) {
    size_t at = c->off;
    uint64_t len;
    if (read_u64(c, &len, what)) return -1;
    if (len > remaining(c))
        return fail(c, at, "%s length %" PRIu64 " runs past the end of the file (%zu bytes left)",
                    what, len, remaining(c));
    s->ptr = (const char *)c->p + c->off;
    s->len = len;
    c->off += (size_t)len;
    return 0;
}

static void free_value(gguf_value *v) {
    if (v->type != GGUF_ARRAY) return;
    free(v->arr.strs);
    if (v->arr.items) {
        for (uint64_t i = 0; i < v->arr.n; i++) free_value(&v->arr.items[i]);
        free(v->arr.items);
    }
}

static int read_value(cursor *c, enum gguf_type t, gguf_value *v, int depth, const char *key);

static int read_array(cursor *c, gguf_value *v, int depth, const char *key) {
    size_t at = c->off;
    uint32_t et;
    uint64_t n;
    if (read_u32(c, &et, "array element type") || read_u64(c, &n, "array length")) return -1;
    if (et >= GGUF_TYPE_COUNT)
        return fail(c, at, "key '%s': unknown array element type %u", key, et);
    if (depth >= GGUF_MAX_DEPTH)
        return fail(c, at, "key '%s': arrays nested deeper than %d", key, GGUF_MAX_DEPTH);
    v->arr.elem_type = (enum gguf_type)et;
    v->arr.n = 0;
    size_t esize = gguf_type_size((enum gguf_type)et);
    if (esize) {
        if (n > remaining(c) / esize)
            return fail(c, at, "key '%s': array of %" PRIu64 " %s values needs more than the %zu "
                        "bytes left", key, n, gguf_type_name((enum gguf_type)et), remaining(c));
        if (et == GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (c->p[c->off + i] > 1)
                    return fail(c, c->off + (size_t)i, "key '%s': bool value %u is not 0 or 1", key,
                                (unsigned)c->p[c->off + i]);
        v->arr.n = n;
        v->arr.data = c->p + c->off;
        c->off += (size_t)n * esize;
        return 0;
    }
    /* strings need at least 8 bytes each, arrays at least 12: bound n before allocating */
    size_t min = et == GGUF_STRING ? 8 : 12;
    if (n > remaining(c) / min)
        return fail(c, at, "key '%s': array of %" PRIu64 " %ss cannot fit in the %zu bytes left",
                    key, n, gguf_type_name((enum gguf_type)et), remaining(c));
    if (et == GGUF_STRING) {
        v->arr.strs = malloc((size_t)(n ? n : 1) * sizeof(gguf_str));
        if (!v->arr.strs) return fail(c, at, "out of memory for %" PRIu64 " strings", n);
        for (uint64_t i = 0; i < n; i++) {
            if (read_str(c, &v->arr.strs[i], "string in array")) return -1;
            v->arr.n = i + 1;
        }
        v->arr.n = n;
        return 0;
    }
    v->arr.items = calloc((size_t)(n ? n : 1), sizeof(gguf_value));
    if (!v->arr.items) return fail(c, at, "out of memory for %" PRIu64 " arrays", n);
    for (uint64_t i = 0; i < n; i++) {
        v->arr.n = i + 1; /* so that free_value frees what was read */
        if (read_value(c, GGUF_ARRAY, &v->arr.items[i], depth + 1, key)) return -1;
    }
    return 0;
}

static int read_value(cursor *c, enum gguf_type t, gguf_value *v, int depth, const char *key) {
    v->type = t;
    size_t size = gguf_type_size(t);
    if (size) {
        if (need(c, size, "value")) return -1;
        uint64_t raw = rd_le(c->p + c->off, size);
        c->off += size;
        switch (t) {
        case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64: v->u = raw; break;
        case GGUF_INT8: v->i = (int8_t)raw; break;
        case GGUF_INT16: v->i = (int16_t)raw; break;
        case GGUF_INT32: v->i = (int32_t)raw; break;
        case GGUF_INT64: v->i = (int64_t)raw; break;
        case GGUF_BOOL:
            if (raw > 1) return fail(c, c->off - 1, "key '%s': bool value %u is not 0 or 1", key, (unsigned)raw);
            v->b = raw != 0;
            break;
        case GGUF_FLOAT32: { uint32_t u = (uint32_t)raw; float f; memcpy(&f, &u, 4); v->f = f; break; }
        case GGUF_FLOAT64: { double d; memcpy(&d, &raw, 8); v->f = d; break; }
        default: break;
        }
        return 0;
    }
    if (t == GGUF_STRING) return read_str(c, &v->s, "string value");
    return read_array(c, v, depth, key);
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        free(f->kv[i].key);
        free_value(&f->kv[i].val);
    }
    free(f->kv);
    for (uint64_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    if (f->mapped) munmap((void *)f->map, f->size);
    free(f->path);
    free(f);
}

void gguf_release_strings(gguf_file *f, const char *key) {
    gguf_kv *kv = (gguf_kv *)gguf_find(f, key);
    if (!kv || kv->val.type != GGUF_ARRAY || kv->val.arr.elem_type != GGUF_STRING) return;
    free(kv->val.arr.strs);
    kv->val.arr.strs = NULL;
    kv->val.arr.n = 0;
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, key) == 0) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

static int by_offset(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* A name and the offset of the entry it names, for finding duplicates. */
typedef struct named {
    const char *name;
    size_t offset;
} named;

static int cmp_named(const void *a, const void *b) {
    const named *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r) return r;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Report the first name that appears twice in items[n] (sorted here) at its second occurrence. */
static int check_unique(cursor *c, named *items, uint64_t n, const char *what) {
    if (n < 2) return 0;
    qsort(items, (size_t)n, sizeof *items, cmp_named);
    for (uint64_t i = 1; i < n; i++)
        if (strcmp(items[i - 1].name, items[i].name) == 0)
            return fail(c, items[i].offset, "duplicate %s '%s' (first at offset %zu)", what,
                        items[i].name, items[i - 1].offset);
    return 0;
}

static int parse_kvs(cursor *c, gguf_file *f, uint64_t n_kv) {
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        kv->offset = c->off;
        gguf_str key;
        if (read_str(c, &key, "metadata key")) return -1;
        if (key.len == 0 || key.len > GGUF_MAX_KEY_LEN)
            return fail(c, kv->offset, "metadata key %" PRIu64 " has bad length %" PRIu64, i, key.len);
        if (memchr(key.ptr, 0, (size_t)key.len))
            return fail(c, kv->offset, "metadata key %" PRIu64 " contains a NUL byte", i);
        kv->key = lk_xstrndup(key.ptr, (size_t)key.len);
        f->n_kv = i + 1; /* own what has been read so far, for cleanup on error */
        size_t at = c->off;
        uint32_t t;
        if (read_u32(c, &t, "value type")) return -1;
        if (t >= GGUF_TYPE_COUNT) return fail(c, at, "key '%s': unknown value type %u", kv->key, t);
        if (read_value(c, (enum gguf_type)t, &kv->val, 0, kv->key)) return -1;
        kv->raw = c->p + at;
        kv->raw_len = c->off - at;
    }
    named *keys = malloc((size_t)(f->n_kv ? f->n_kv : 1) * sizeof *keys);
    if (!keys) return fail(c, c->off, "out of memory");
    for (uint64_t i = 0; i < f->n_kv; i++) keys[i] = (named){ f->kv[i].key, f->kv[i].offset };
    int rc = check_unique(c, keys, f->n_kv, "metadata key");
    free(keys);
    return rc;
}

static int parse_tensor_infos(cursor *c, gguf_file *f, uint64_t n_tensors) {
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        t->info_offset = c->off;
        gguf_str name;
        if (read_str(c, &name, "tensor name")) return -1;
        if (name.len == 0 || name.len > GGUF_MAX_NAME_LEN || memchr(name.ptr, 0, (size_t)name.len))
            return fail(c, t->info_offset, "tensor %" PRIu64 " has a bad name (length %" PRIu64 ")", i, name.len);
        t->name = lk_xstrndup(name.ptr, (size_t)name.len);
        f->n_tensors = i + 1;
        size_t at = c->off;
        if (read_u32(c, &t->n_dims, "tensor dimension count")) return -1;
        if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
            return fail(c, at, "tensor '%s': %u dimensions (1 to %d allowed)", t->name, t->n_dims, GGUF_MAX_DIMS);
        for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t ne;
            at = c->off;
            if (read_u64(c, &ne, "tensor dimension")) return -1;
            if (ne > (uint64_t)INT64_MAX / 2)
                return fail(c, at, "tensor '%s': dimension %u is %" PRIu64 ", absurdly large", t->name, d, ne);
            t->ne[d] = (int64_t)ne;
        }
        at = c->off;
        if (read_u32(c, &t->type, "tensor type")) return -1;
        const lk_qtype_info *qi = lk_qtype(t->type);
        if (!qi->name) return fail(c, at, "tensor '%s': unknown tensor type %u", t->name, t->type);
        if (t->ne[0] % qi->block_size)
            return fail(c, at, "tensor '%s': row of %" PRId64 " elements is not a whole number of "
                        "%s blocks (%d)", t->name, t->ne[0], qi->name, qi->block_size);
        /* nbytes = rows * row_size, each step checked for overflow */
        uint64_t nb = (uint64_t)(t->ne[0] / qi->block_size);
        if (nb && qi->type_size > UINT64_MAX / nb) goto too_big;
        nb *= qi->type_size;
        for (int d = 1; d < GGUF_MAX_DIMS; d++) {
            uint64_t ne = (uint64_t)t->ne[d];
            if (ne && nb > UINT64_MAX / ne) goto too_big;
            nb *= ne;
        }
        t->nbytes = nb;
        at = c->off;
        if (read_u64(c, &t->offset, "tensor data offset")) return -1;
        continue;
    too_big:
        return fail(c, t->info_offset, "tensor '%s': size overflows", t->name);
    }
    named *names = malloc((size_t)(f->n_tensors ? f->n_tensors : 1) * sizeof *names);
    if (!names) return fail(c, c->off, "out of memory");
    for (uint64_t i = 0; i < f->n_tensors; i++) names[i] = (named){ f->tensors[i].name, f->tensors[i].info_offset };
    int rc = check_unique(c, names, f->n_tensors, "tensor name");
    free(names);
    return rc;
}

/* Tensor data must lie inside the data section, aligned, and no two tensors may overlap. */
static int check_tensor_data(cursor *c, gguf_file *f) {
    size_t data_size = f->size - f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment)
            return fail(c, t->info_offset, "tensor '%s': data offset %" PRIu64 " is not a multiple "
                        "of the alignment %u", t->name, t->offset, f->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return fail(c, t->info_offset, "tensor '%s': data [%" PRIu64 ", +%" PRIu64 ") of the data "
                        "section lies outside the file (data section starts at %zu and has %zu bytes)",
                        t->name, t->offset, t->nbytes, f->data_offset, data_size);
        t->data = f->map + f->data_offset + t->offset;
    }
    if (f->n_tensors < 2) return 0;
    gguf_tensor **order = malloc((size_t)f->n_tensors * sizeof *order);
    if (!order) return fail(c, c->off, "out of memory");
    for (uint64_t i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, by_offset);
    /* in offset order, each non-empty tensor must start at or after the furthest end so far
     * (not just the previous tensor's end: an empty tensor may sit between two that overlap) */
    int rc = 0;
    const gguf_tensor *a = NULL; /* the non-empty tensor whose data ends furthest so far */
    for (uint64_t i = 0; i < f->n_tensors && !rc; i++) {
        const gguf_tensor *b = order[i];
        if (!b->nbytes) continue;
        if (a && a->offset + a->nbytes > b->offset)
            rc = fail(c, b->info_offset, "tensor '%s' data overlaps tensor '%s'", b->name, a->name);
        if (!a || b->offset + b->nbytes > a->offset + a->nbytes) a = b;
    }
    free(order);
    return rc;
}

static gguf_file *parse(gguf_file *f, lk_error *err) {
    cursor c = { .p = f->map, .size = f->size, .off = 0, .name = f->path, .err = err };
    if (f->size < 4 || memcmp(f->map, "GGUF", 4) != 0) {
        if (f->size < 4) fail(&c, 0, "file truncated: %zu bytes, too short for the GGUF magic", f->size);
        else fail(&c, 0, "bad magic: not a GGUF file (starts with %02x %02x %02x %02x)",
                  f->map[0], f->map[1], f->map[2], f->map[3]);
        goto bad;
    }
    c.off = 4;
    if (read_u32(&c, &f->version, "version")) goto bad;
    if (f->version != 2 && f->version != 3) {
        lk_errorf(err, LK_EUNSUPPORTED, "%s: unsupported GGUF version %u at offset 4 (2 and 3 are "
                  "supported)", f->path, f->version);
        goto bad;
    }
    uint64_t n_tensors, n_kv;
    if (read_u64(&c, &n_tensors, "tensor count") || read_u64(&c, &n_kv, "metadata count")) goto bad;
    /* a kv needs >= 8+1+4+1 bytes, a tensor info >= 8+1+4+8+4+8 */
    if (n_kv > remaining(&c) / 14) {
        fail(&c, 16, "header claims %" PRIu64 " metadata entries, more than the %zu bytes left can hold",
             n_kv, remaining(&c));
        goto bad;
    }
    if (n_tensors > remaining(&c) / 33) {
        fail(&c, 8, "header claims %" PRIu64 " tensors, more than the %zu bytes left can hold",
             n_tensors, remaining(&c));
        goto bad;
    }
    f->kv = calloc((size_t)(n_kv ? n_kv : 1), sizeof *f->kv);
    f->tensors = calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *f->tensors);
    if (!f->kv || !f->tensors) {
        lk_errorf(err, LK_ENOMEM, "%s: out of memory for the index", f->path);
        goto bad;
    }
    /* n_kv and n_tensors count the entries owned so far, so cleanup on error frees just those */
    if (parse_kvs(&c, f, n_kv)) goto bad;
    f->alignment = 32;
    const gguf_kv *al = gguf_find(f, "general.alignment");
    if (al) {
        if (al->val.type != GGUF_UINT32 || al->val.u == 0 || (al->val.u & (al->val.u - 1))) {
            fail(&c, al->offset, "general.alignment must be a uint32 power of two");
            goto bad;
        }
        f->alignment = (uint32_t)al->val.u;
    }
    if (parse_tensor_infos(&c, f, n_tensors)) goto bad;
    size_t pad = (f->alignment - c.off % f->alignment) % f->alignment;
    f->data_offset = c.off + pad;
    if (f->data_offset > f->size) {
        if (f->n_tensors) {
            fail(&c, c.off, "file truncated before the tensor data section");
            goto bad;
        }
        f->data_offset = f->size;
    }
    if (check_tensor_data(&c, f)) goto bad;
    return f;
bad:
    gguf_close(f);
    return NULL;
}

gguf_file *gguf_open_memory(const void *data, size_t size, const char *name, lk_error *err) {
    gguf_file *f = lk_xcalloc(1, sizeof *f);
    f->path = lk_xstrdup(name ? name : "<memory>");
    f->map = data;
    f->size = size;
    f->mapped = false;
    return parse(f, err);
}

gguf_file *gguf_open(const char *path, lk_error *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        lk_errorf(err, LK_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        lk_errorf(err, LK_EIO, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    gguf_file *f = lk_xcalloc(1, sizeof *f);
    f->path = lk_xstrdup(path);
    f->size = (size_t)st.st_size;
    if (f->size > 0) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            lk_errorf(err, LK_EIO, "%s: mmap of %zu bytes failed: %s", path, f->size, strerror(errno));
            close(fd);
            free(f->path);
            free(f);
            return NULL;
        }
        f->map = m;
        f->mapped = true;
    } else {
        f->map = (const uint8_t *)"";
    }
    close(fd);
    return parse(f, err);
}

/* ---- typed getters ---- */

static bool is_int_type(enum gguf_type t) {
    return t == GGUF_UINT8 || t == GGUF_INT8 || t == GGUF_UINT16 || t == GGUF_INT16 ||
           t == GGUF_UINT32 || t == GGUF_INT32 || t == GGUF_UINT64 || t == GGUF_INT64;
}

static bool is_unsigned_type(enum gguf_type t) {
    return t == GGUF_UINT8 || t == GGUF_UINT16 || t == GGUF_UINT32 || t == GGUF_UINT64;
}

static const gguf_kv *lookup(const gguf_file *f, const char *key, bool required, int *rc, lk_error *err) {
    const gguf_kv *kv = gguf_find(f, key);
    *rc = LK_OK;
    if (!kv && required) *rc = lk_errorf(err, LK_EFORMAT, "%s: missing required key '%s'", f->path, key);
    return kv;
}

static int wrong_type(const gguf_file *f, const gguf_kv *kv, const char *want, lk_error *err) {
    return lk_errorf(err, LK_EFORMAT, "%s: key '%s' at offset %zu has type %s, expected %s",
                     f->path, kv->key, kv->offset, gguf_type_name(kv->val.type), want);
}

int gguf_get_u64(const gguf_file *f, const char *key, bool required, uint64_t *out, lk_error *err) {
    int rc;
    const gguf_kv *kv = lookup(f, key, required, &rc, err);
    if (!kv) return rc;
    if (!is_int_type(kv->val.type)) return wrong_type(f, kv, "an integer", err);
    if (!is_unsigned_type(kv->val.type) && kv->val.i < 0)
        return lk_errorf(err, LK_EFORMAT, "%s: key '%s' at offset %zu is %" PRId64 ", expected >= 0",
                         f->path, key, kv->offset, kv->val.i);
    *out = is_unsigned_type(kv->val.type) ? kv->val.u : (uint64_t)kv->val.i;
    return LK_OK;
}

int gguf_get_i64(const gguf_file *f, const char *key, bool required, int64_t *out, lk_error *err) {
    int rc;
    const gguf_kv *kv = lookup(f, key, required, &rc, err);
    if (!kv) return rc;
    if (!is_int_type(kv->val.type)) return wrong_type(f, kv, "an integer", err);
    if (is_unsigned_type(kv->val.type) && kv->val.u > (uint64_t)INT64_MAX)
        return lk_errorf(err, LK_EFORMAT, "%s: key '%s' at offset %zu is too large", f->path, key, kv->offset);
    *out = is_unsigned_type(kv->val.type) ? (int64_t)kv->val.u : kv->val.i;
    return LK_OK;
}

int gguf_get_f64(const gguf_file *f, const char *key, bool required, double *out, lk_error *err) {
    int rc;
    const gguf_kv *kv = lookup(f, key, required, &rc, err);
    if (!kv) return rc;
    if (kv->val.type == GGUF_FLOAT32 || kv->val.type == GGUF_FLOAT64) *out = kv->val.f;
    else if (is_unsigned_type(kv->val.type)) *out = (double)kv->val.u;
    else if (is_int_type(kv->val.type)) *out = (double)kv->val.i;
    else return wrong_type(f, kv, "a number", err);
    return LK_OK;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool required, bool *out, lk_error *err) {
    int rc;
    const gguf_kv *kv = lookup(f, key, required, &rc, err);
    if (!kv) return rc;
    if (kv->val.type != GGUF_BOOL) return wrong_type(f, kv, "bool", err);
    *out = kv->val.b;
    return LK_OK;
}

int gguf_get_str(const gguf_file *f, const char *key, bool required, char **out, lk_error *err) {
    int rc;
    const gguf_kv *kv = lookup(f, key, required, &rc, err);
    if (!kv) return rc;
    if (kv->val.type != GGUF_STRING) return wrong_type(f, kv, "string", err);
    *out = lk_xstrndup(kv->val.s.ptr, (size_t)kv->val.s.len);
    return LK_OK;
}

int gguf_get_arr(const gguf_file *f, const char *key, enum gguf_type elem_type, bool required,
                 const gguf_value **out, lk_error *err) {
    int rc;
    const gguf_kv *kv = lookup(f, key, required, &rc, err);
    if (!kv) return rc;
    if (kv->val.type != GGUF_ARRAY || kv->val.arr.elem_type != elem_type) {
        char want[64];
        snprintf(want, sizeof want, "array of %s", gguf_type_name(elem_type));
        if (kv->val.type == GGUF_ARRAY)
            return lk_errorf(err, LK_EFORMAT, "%s: key '%s' at offset %zu is an array of %s, expected %s",
                             f->path, key, kv->offset, gguf_type_name(kv->val.arr.elem_type), want);
        return wrong_type(f, kv, want, err);
    }
    *out = &kv->val;
    return LK_OK;
}

double gguf_arr_f64(const gguf_value *a, uint64_t i) {
    const uint8_t *p = a->arr.data + i * gguf_type_size(a->arr.elem_type);
    switch (a->arr.elem_type) {
    case GGUF_FLOAT32: { uint32_t u = (uint32_t)rd_le(p, 4); float f; memcpy(&f, &u, 4); return f; }
    case GGUF_FLOAT64: { uint64_t u = rd_le(p, 8); double d; memcpy(&d, &u, 8); return d; }
    default: return (double)gguf_arr_i64(a, i);
    }
}

int64_t gguf_arr_i64(const gguf_value *a, uint64_t i) {
    size_t sz = gguf_type_size(a->arr.elem_type);
    const uint8_t *p = a->arr.data + i * sz;
    uint64_t raw = rd_le(p, sz);
    switch (a->arr.elem_type) {
    case GGUF_INT8: return (int8_t)raw;
    case GGUF_INT16: return (int16_t)raw;
    case GGUF_INT32: return (int32_t)raw;
    case GGUF_INT64: return (int64_t)raw;
    case GGUF_FLOAT32: case GGUF_FLOAT64: { /* saturate, NaN as 0: a plain cast would be undefined */
        double d = gguf_arr_f64(a, i);
        if (d != d) return 0;
        if (d >= 9223372036854775808.0) return INT64_MAX;
        if (d < -9223372036854775808.0) return INT64_MIN;
        return (int64_t)d;
    }
    default: return (int64_t)raw;
    }
}

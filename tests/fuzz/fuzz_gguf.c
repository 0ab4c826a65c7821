/* fuzz_gguf.c — libFuzzer target for the GGUF reader and writer.
 *
 * Any input either opens or fails with a non-empty message that names an offset. When it opens,
 * every value is walked (each string, each array element, nested arrays to the bottom) and every
 * tensor's first and last data byte is read, each pointer first checked to lie inside the input;
 * the typed getters are called on every key and must succeed exactly when the key's type allows.
 * Then the file is copied through the writer (key/values verbatim, tensors from the input): the
 * copy must open with the same keys, values, tensor infos and data, and copying the copy must give
 * the same bytes again. A broken property aborts, so libFuzzer reports it as a crash. */
#include "base/base.h"
#include "engine/gguf.h"
#include "engine/quant/quant.h"

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_gguf: check failed at line %d: %s\n", __LINE__, #cond);    \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* The writer pads the header and every tensor to the alignment: skip the copy when that alone
 * would make it large (general.alignment may be up to 2^31). */
#define MAX_COPY_PADDING ((uint64_t)1 << 22)

static volatile uint8_t sink;

/* Read the first and last of n bytes at p, after checking they lie in [lo, hi). */
static void touch(const void *p, uint64_t n, const uint8_t *lo, const uint8_t *hi) {
    if (!n) return;
    const uint8_t *b = p;
    CHECK(b >= lo && b < hi && n <= (uint64_t)(hi - b));
    sink ^= b[0];
    sink ^= b[n - 1];
}

static void walk_value(const gguf_value *v, const uint8_t *lo, const uint8_t *hi, int depth) {
    CHECK(depth < 8);
    CHECK((unsigned)v->type < GGUF_TYPE_COUNT);
    if (v->type == GGUF_STRING) {
        touch(v->s.ptr, v->s.len, lo, hi);
        return;
    }
    if (v->type != GGUF_ARRAY) return;
    enum gguf_type et = v->arr.elem_type;
    CHECK((unsigned)et < GGUF_TYPE_COUNT);
    if (et == GGUF_STRING) {
        for (uint64_t i = 0; i < v->arr.n; i++) touch(v->arr.strs[i].ptr, v->arr.strs[i].len, lo, hi);
    } else if (et == GGUF_ARRAY) {
        for (uint64_t i = 0; i < v->arr.n; i++) {
            CHECK(v->arr.items[i].type == GGUF_ARRAY);
            walk_value(&v->arr.items[i], lo, hi, depth + 1);
        }
    } else {
        size_t esize = gguf_type_size(et);
        CHECK(esize > 0);
        touch(v->arr.data, v->arr.n * esize, lo, hi);
        for (uint64_t i = 0; i < v->arr.n; i++) {
            if (et == GGUF_BOOL) CHECK(v->arr.data[i] <= 1);
            double d = gguf_arr_f64(v, i);
            int64_t k = gguf_arr_i64(v, i);
            sink ^= (uint8_t)(d == d) ^ (uint8_t)k;
        }
    }
}

static bool is_int(enum gguf_type t) {
    return t == GGUF_UINT8 || t == GGUF_INT8 || t == GGUF_UINT16 || t == GGUF_INT16 ||
           t == GGUF_UINT32 || t == GGUF_INT32 || t == GGUF_UINT64 || t == GGUF_INT64;
}

static bool is_unsigned(enum gguf_type t) {
    return t == GGUF_UINT8 || t == GGUF_UINT16 || t == GGUF_UINT32 || t == GGUF_UINT64;
}

/* Each getter succeeds on kv exactly when its type allows, with the value the index holds. */
static void check_getters(const gguf_file *f, const gguf_kv *kv) {
    const gguf_value *v = &kv->val;
    lk_error err = {0};
    uint64_t u = 0;
    int rc = gguf_get_u64(f, kv->key, true, &u, &err);
    bool ok = is_int(v->type) && (is_unsigned(v->type) || v->i >= 0);
    CHECK((rc == LK_OK) == ok);
    if (ok) CHECK(u == (is_unsigned(v->type) ? v->u : (uint64_t)v->i));
    else CHECK(err.code == LK_EFORMAT && err.msg[0]);

    int64_t i = 0;
    rc = gguf_get_i64(f, kv->key, true, &i, &err);
    ok = is_int(v->type) && !(is_unsigned(v->type) && v->u > (uint64_t)INT64_MAX);
    CHECK((rc == LK_OK) == ok);
    if (ok) CHECK(i == (is_unsigned(v->type) ? (int64_t)v->u : v->i));

    double d = 0;
    rc = gguf_get_f64(f, kv->key, true, &d, &err);
    CHECK((rc == LK_OK) == (is_int(v->type) || v->type == GGUF_FLOAT32 || v->type == GGUF_FLOAT64));

    bool b = false;
    rc = gguf_get_bool(f, kv->key, true, &b, &err);
    CHECK((rc == LK_OK) == (v->type == GGUF_BOOL));
    if (rc == LK_OK) CHECK(b == v->b);

    char *s = NULL;
    rc = gguf_get_str(f, kv->key, true, &s, &err);
    CHECK((rc == LK_OK) == (v->type == GGUF_STRING));
    if (rc == LK_OK) {
        CHECK(s && memcmp(s, v->s.ptr, (size_t)v->s.len) == 0 && s[v->s.len] == 0);
        free(s);
    }

    const gguf_value *a = NULL;
    enum gguf_type et = v->type == GGUF_ARRAY ? v->arr.elem_type : GGUF_UINT8;
    rc = gguf_get_arr(f, kv->key, et, true, &a, &err);
    CHECK((rc == LK_OK) == (v->type == GGUF_ARRAY));
    if (rc == LK_OK) CHECK(a == v);
    rc = gguf_get_arr(f, kv->key, (enum gguf_type)((et + 1) % GGUF_TYPE_COUNT), true, &a, &err);
    CHECK(rc == LK_EFORMAT && err.msg[0]);
}

static void check_file(const gguf_file *f, const uint8_t *data, size_t size) {
    const uint8_t *end = data + size;
    CHECK(f->version == 2 || f->version == 3);
    CHECK(f->alignment && (f->alignment & (f->alignment - 1)) == 0);
    CHECK(f->data_offset <= size);
    /* aligned, except that a file with no tensors may end before its padding */
    CHECK(f->data_offset % f->alignment == 0 || (f->n_tensors == 0 && f->data_offset == size));
    for (uint64_t k = 0; k < f->n_kv; k++) {
        const gguf_kv *kv = &f->kv[k];
        CHECK(kv->key[0] && kv->offset < size);
        CHECK(gguf_find(f, kv->key) == kv);
        CHECK(kv->raw_len >= 5);
        touch(kv->raw, kv->raw_len, data, end);
        CHECK(kv->raw[0] == (uint8_t)kv->val.type);
        walk_value(&kv->val, data, end, 0);
        check_getters(f, kv);
    }
    lk_error err = {0};
    CHECK(gguf_get_u64(f, "", true, &(uint64_t){0}, &err) == LK_EFORMAT); /* keys are never empty */
    for (uint64_t k = 0; k < f->n_tensors; k++) {
        const gguf_tensor *t = &f->tensors[k];
        CHECK(gguf_find_tensor(f, t->name) == t);
        CHECK(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS);
        const lk_qtype_info *qi = lk_qtype(t->type);
        CHECK(qi->name != NULL);
        uint64_t nbytes = (uint64_t)(t->ne[0] / qi->block_size) * qi->type_size;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) {
            CHECK(t->ne[d] >= 0);
            if (d >= (int)t->n_dims) CHECK(t->ne[d] == 1);
            if (d > 0) nbytes *= (uint64_t)t->ne[d]; /* cannot overflow: it was checked */
        }
        CHECK(t->ne[0] % qi->block_size == 0 && nbytes == t->nbytes);
        CHECK(t->offset % f->alignment == 0);
        CHECK((const uint8_t *)t->data == data + f->data_offset + t->offset);
        touch(t->data, t->nbytes, data, end);
        for (uint64_t j = 0; j < k; j++) { /* no two tensors share a byte */
            const gguf_tensor *o = &f->tensors[j];
            if (t->nbytes && o->nbytes)
                CHECK(t->offset >= o->offset + o->nbytes || o->offset >= t->offset + t->nbytes);
        }
    }
}

/* f copied through the writer, as a malloc'd image. */
static uint8_t *copy_through_writer(const gguf_file *f, size_t *out_size) {
    gguf_writer *w = gguf_writer_new(f->version);
    for (uint64_t k = 0; k < f->n_kv; k++) gguf_set_kv_copy(w, &f->kv[k]);
    lk_error err = {0};
    for (uint64_t k = 0; k < f->n_tensors; k++) {
        const gguf_tensor *t = &f->tensors[k];
        int rc = gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, &err);
        if (rc) fprintf(stderr, "fuzz_gguf: gguf_add_tensor: %s\n", err.msg);
        CHECK(rc == LK_OK);
    }
    uint8_t *out = NULL;
    CHECK(gguf_write_memory(w, &out, out_size, &err) == LK_OK && out);
    gguf_writer_free(w);
    return out;
}

/* The copy g holds what f holds. */
static void check_same(const gguf_file *f, const gguf_file *g) {
    CHECK(g->version == f->version && g->alignment == f->alignment);
    CHECK(g->n_kv == f->n_kv && g->n_tensors == f->n_tensors);
    for (uint64_t k = 0; k < f->n_kv; k++) {
        const gguf_kv *a = &f->kv[k], *b = &g->kv[k];
        CHECK(strcmp(a->key, b->key) == 0);
        CHECK(a->raw_len == b->raw_len && memcmp(a->raw, b->raw, a->raw_len) == 0);
    }
    for (uint64_t k = 0; k < f->n_tensors; k++) {
        const gguf_tensor *a = &f->tensors[k], *b = &g->tensors[k];
        CHECK(strcmp(a->name, b->name) == 0 && a->type == b->type && a->n_dims == b->n_dims);
        CHECK(memcmp(a->ne, b->ne, sizeof a->ne) == 0 && a->nbytes == b->nbytes);
        CHECK(a->nbytes == 0 || memcmp(a->data, b->data, (size_t)a->nbytes) == 0);
    }
}

static void roundtrip(const gguf_file *f) {
    if ((uint64_t)f->alignment * (f->n_tensors + 1) > MAX_COPY_PADDING) return;
    size_t size;
    uint8_t *img = copy_through_writer(f, &size);
    lk_error err = {0};
    gguf_file *g = gguf_open_memory(img, size, "copy", &err);
    if (!g) fprintf(stderr, "fuzz_gguf: the writer's copy does not open: %s\n", err.msg);
    CHECK(g != NULL);
    check_same(f, g);
    size_t again_size;
    uint8_t *again = copy_through_writer(g, &again_size);
    CHECK(again_size == size && memcmp(again, img, size) == 0);
    free(again);
    gguf_close(g);
    free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lk_error err = {0};
    gguf_file *f = gguf_open_memory(data, size, "fuzz", &err);
    if (!f) {
        CHECK(err.code != LK_OK && err.msg[0]);
        if (err.code != LK_ENOMEM) CHECK(strstr(err.msg, "offset") != NULL);
        return 0;
    }
    CHECK(f->map == data && f->size == size);
    check_file(f, data, size);
    roundtrip(f);
    gguf_close(f);
    return 0;
}
